//! Photo upload bench (#5): a device uploads 200 processed evidence photos over a link
//! throttled to 50 KB/s each way with 300 ms latency each way (a local TCP proxy, written
//! here), while another thread of the same device keeps syncing documents through the same
//! link. Prints a Markdown table: photo throughput, total time, and document sync latency
//! (p50 / p99) while the photos upload against the idle link.
//!
//! `cargo bench -p firegrid-server --bench photo_upload` (full: 200 photos, about 15 minutes:
//! 200 × ~143 KB at 50 KB/s); `FIREGRID_BENCH_QUICK=1` (or `-- --quick`) uploads 12.
//! The server runs in process (`serve::spawn_local`: the real router, its default rate
//! limits, SQLite and the blob directory) on 127.0.0.1; only the proxy sits between.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "bench binary: fail loudly"
)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use firegrid_core::Store;
use firegrid_core::access::Role;
use firegrid_core::hazard::{NewHazard, Severity};
use firegrid_core::photo::{PhotoLimits, process};
use firegrid_core::sync::http::{HttpClient, RetryPolicy};
use firegrid_server::{admin, serve};
use image::{Rgb, RgbImage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PW: &str = "zhenru-bench-password";
/// Bytes per second, each direction.
const RATE: f64 = 50_000.0;
/// One-way delay, each direction.
const LATENCY: Duration = Duration::from_millis(300);
/// The pause between two document syncs of the syncing thread.
const SYNC_EVERY: Duration = Duration::from_secs(2);
/// Document syncs measured on the idle link.
const IDLE_SYNCS: usize = 10;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// One direction of the link: bytes leave one after another at [`RATE`] (shared by every
/// connection, as on one phone's radio) and arrive [`LATENCY`] later.
#[derive(Debug)]
struct Direction {
    free_at: Mutex<Instant>,
}

impl Direction {
    /// When `n` bytes queued now have left.
    fn send(&self, n: usize) -> Instant {
        let mut free = self.free_at.lock().unwrap();
        let start = (*free).max(Instant::now());
        *free = start + Duration::from_secs_f64(n as f64 / RATE);
        *free
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    link: Arc<Direction>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((at, bytes)) = rx.recv().await {
            tokio::time::sleep_until(at.into()).await;
            if to.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    });
    // Small pieces, so connections share the link fairly (like TCP segments).
    let mut buf = vec![0u8; 2048];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let left = link.send(n);
        // Serialization: the sender waits for its bytes to leave before reading more.
        tokio::time::sleep_until(left.into()).await;
        if tx.send((left + LATENCY, buf[..n].to_vec())).is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}

/// Starts the throttling proxy in front of `upstream` (`host:port`); returns its base URL.
fn throttled_proxy(upstream: String) -> String {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", std_listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::from_std(std_listener).unwrap();
            let up = Arc::new(Direction {
                free_at: Mutex::new(Instant::now()),
            });
            let down = Arc::new(Direction {
                free_at: Mutex::new(Instant::now()),
            });
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let upstream = upstream.clone();
                let (up, down) = (up.clone(), down.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pipe(cr, sw, up), pipe(sr, cw, down));
                });
            }
        });
    });
    base
}

/// A photo-like picture (smooth gradients, shapes and sensor noise), distinct per seed.
fn picture(seed: u64) -> Vec<u8> {
    let (w, h) = (2000, 1500);
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let (cx, cy) = ((next() % w as u64) as f32, (next() % h as u64) as f32);
    let tint = [
        (next() % 80) as f32,
        (next() % 80) as f32,
        (next() % 80) as f32,
    ];
    let img = RgbImage::from_fn(w, h, |x, y| {
        let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
        let base = 120.0 + 80.0 * (d / 180.0).sin();
        let noise = (next() % 12) as f32 - 6.0;
        let px = |t: f32| (base * 0.6 + t + y as f32 * 0.04 + noise).clamp(0.0, 255.0) as u8;
        Rgb([px(tint[0]), px(tint[1]), px(tint[2])])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(&img)
        .unwrap();
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var("FIREGRID_BENCH_QUICK").is_ok_and(|v| v == "1");
    let n: usize = if quick { 12 } else { 200 };
    let dir = tempfile::tempdir().unwrap();
    let district = firegrid_core::district::load_dir(&fixtures().join("district")).unwrap();
    let user = district
        .users
        .iter()
        .find(|u| u.role == Role::GridPatroller)
        .unwrap()
        .clone();
    let shops: Vec<String> = district
        .premises
        .iter()
        .filter(|p| p.grid == user.scope.id)
        .map(|p| p.id.clone())
        .collect();
    let data = admin::open(&dir.path().join("server")).unwrap();
    admin::seed_documents(&data, &fixtures()).unwrap();
    data.accounts.set_password(&user.id, PW, 0).unwrap();
    let direct = serve::spawn_local(data).unwrap();
    let proxied = throttled_proxy(direct.trim_start_matches("http://").to_string());

    let store = Store::open(dir.path().join("phone.db")).unwrap();
    store.import_fixtures(&fixtures()).unwrap();
    store.set_current_user(&user.id).unwrap();
    // The first sync (the whole grid) is not what is measured: it goes over the direct link.
    let fast = HttpClient::new(&direct).unwrap();
    let token = fast
        .login(&user.id, PW, store.device_id())
        .unwrap()
        .session
        .access_token;
    store.sync_http(&fast, &token, &mut |_| {}).unwrap();

    // The photos: camera-like JPEGs through the device pipeline, four per hazard.
    let prep = Instant::now();
    let mut bytes_total = 0u64;
    let mut refs = Vec::new();
    for i in 0..n {
        let p = process(&picture(i as u64 + 1), &PhotoLimits::default(), false).unwrap();
        bytes_total += p.image.len() as u64;
        store.photos().unwrap().put_processed(&p).unwrap();
        refs.push(p.photo_ref());
    }
    let severities = [
        Severity::MajorCandidate,
        Severity::Serious,
        Severity::General,
    ];
    for (k, chunk) in refs.chunks(4).enumerate() {
        store
            .report_hazard(NewHazard {
                premises: shops[k % shops.len()].clone(),
                description: "疏散通道堆放杂物".into(),
                severity: severities[k % 3],
                photos: chunk.to_vec(),
                location: None,
            })
            .unwrap();
    }
    store.sync_http(&fast, &token, &mut |_| {}).unwrap();
    let prep_s = prep.elapsed().as_secs_f64();

    let slow = HttpClient::new(&proxied).unwrap();
    // A small edit, then a document sync through the throttled link: the latency measured.
    let doc_sync = |k: usize| -> f64 {
        store
            .report_hazard(NewHazard {
                premises: shops[k % shops.len()].clone(),
                description: format!("灭火器压力不足 {k}"),
                severity: Severity::General,
                photos: Vec::new(),
                location: None,
            })
            .unwrap();
        let t = Instant::now();
        store.sync_http(&slow, &token, &mut |_| {}).unwrap();
        t.elapsed().as_secs_f64() * 1000.0
    };
    let mut idle: Vec<f64> = (0..IDLE_SYNCS).map(doc_sync).collect();

    let done = AtomicBool::new(false);
    let during: Mutex<Vec<f64>> = Mutex::new(Vec::new());
    let started = Instant::now();
    let report = std::thread::scope(|s| {
        let syncer = s.spawn(|| {
            let mut k = 1_000;
            while !done.load(Ordering::SeqCst) {
                let ms = doc_sync(k);
                during.lock().unwrap().push(ms);
                k += 1;
                std::thread::sleep(SYNC_EVERY);
            }
        });
        let report = store
            .sync_photos_http(&slow, &token, RetryPolicy::default(), &mut |_| {})
            .unwrap();
        done.store(true, Ordering::SeqCst);
        syncer.join().unwrap();
        report
    });
    let total_s = started.elapsed().as_secs_f64();
    assert_eq!(report.uploaded as usize, n, "{report:?}");
    assert!(store.photo_upload_queue().unwrap().queued.is_empty());

    idle.sort_by(f64::total_cmp);
    let mut during = during.into_inner().unwrap();
    during.sort_by(f64::total_cmp);
    println!("## Firegrid photo upload bench\n");
    println!(
        "Machine: nproc = {}; release build; link: {:.0} KB/s each way, {} ms latency each way (TCP proxy on 127.0.0.1, shared by all connections); server in process (SQLite, blob directory); photos prepared in {prep_s:.1} s (not counted).\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        RATE / 1000.0,
        LATENCY.as_millis()
    );
    println!(
        "| photos | bytes | total time | photo throughput | document syncs during upload | doc sync p50 / p99 during upload | doc sync p50 / p99 idle |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {n} | {:.1} MB (mean {:.0} KB) | {total_s:.0} s | {:.1} KB/s ({:.2} photos/s) | {} | {:.0} / {:.0} ms | {:.0} / {:.0} ms |",
        bytes_total as f64 / 1e6,
        bytes_total as f64 / n as f64 / 1e3,
        bytes_total as f64 / total_s / 1e3,
        n as f64 / total_s,
        during.len(),
        percentile(&during, 0.5),
        percentile(&during, 0.99),
        percentile(&idle, 0.5),
        percentile(&idle, 0.99),
    );
}

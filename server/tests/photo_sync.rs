//! The device's attachment sync end to end (`firegrid_core::sync::blobs` against the real
//! server on 127.0.0.1): the upload queue in severity order, resumes after connections killed
//! mid-chunk at random points (a cutting TCP proxy in front of the server, at least 100 cuts
//! over the run), a device store reopened mid-queue, refused photos kept and retried, document
//! sync while photos upload, and downloads on demand with the thumbnail first and damaged
//! downloads refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on any error"
)]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Rng, fixtures, serve};
use firegrid_core::access::{Role, User};
use firegrid_core::hazard::{NewHazard, Severity};
use firegrid_core::inspection::AnswerResult;
use firegrid_core::store::{PhotoRefusalReason, PhotoSource};
use firegrid_core::sync::blobs::{
    BlobTransport, ChunkReply, Download, HttpBlobs, PhotoProgress, RemoteBlob,
};
use firegrid_core::sync::http::{HttpClient, RetryPolicy};
use firegrid_core::vocab::PhotoRef;
use firegrid_core::{Error, Store};
use firegrid_server::admin;
use firegrid_server::blobs::BlobStore;
use firegrid_server::http::{AppState, app};

const PW: &str = "zhenru-photo-sync-password";

/// No waiting between retries (the proxy cuts, it does not rate-limit).
fn eager(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        base: Duration::ZERO,
        max: Duration::ZERO,
    }
}

/// The server with its real router and stores, seeded with the sample street's fixtures.
struct Server {
    base: String,
    dir: PathBuf,
    blobs: Arc<BlobStore>,
    district: firegrid_core::district::District,
    client: HttpClient,
}

fn start_server() -> Server {
    let district = firegrid_core::district::load_dir(&fixtures().join("district")).unwrap();
    let dir = tempfile::tempdir().unwrap().keep();
    let data = admin::open(&dir.join("server")).unwrap();
    admin::seed_documents(&data, &fixtures()).unwrap();
    for u in &district.users {
        data.accounts.set_password(&u.id, PW, 0).unwrap();
    }
    let blobs = data.blobs.clone().unwrap();
    let mut state = AppState::new(data.storage.clone(), data.accounts.clone());
    state.blobs = Some(blobs.clone());
    // Hundreds of chunks and retries in a few seconds: lift the per-minute budget.
    state.blob_requests = firegrid_server::http::RateLimiter::per_minute(u32::MAX);
    state.requests = firegrid_server::http::RateLimiter::per_minute(u32::MAX);
    let base = serve(app(Arc::new(state)));
    let client = HttpClient::new(&base).unwrap();
    Server {
        base,
        dir,
        blobs,
        district,
        client,
    }
}

impl Server {
    fn user(&self, role: Role, nth: usize) -> User {
        self.district
            .users
            .iter()
            .filter(|u| u.role == role)
            .nth(nth)
            .unwrap()
            .clone()
    }

    /// A phone of `user`: its own store, signed in, logged in. Returns the store and token.
    fn phone(&self, user: &User, name: &str) -> (Store, String) {
        common::phone(&self.client, &self.dir.join(name), &user.id, PW)
    }

    fn shop(&self, user: &User, nth: usize) -> String {
        self.district
            .premises
            .iter()
            .filter(|p| p.grid == user.scope.id)
            .nth(nth)
            .unwrap()
            .id
            .clone()
    }
}

fn reference(sha256: &str) -> PhotoRef {
    PhotoRef {
        sha256: sha256.to_string(),
        captured_at_ms: None,
        location: None,
    }
}

fn report(store: &Store, premises: &str, severity: Severity, photos: &[impl AsRef<str>]) -> String {
    store
        .report_hazard(NewHazard {
            premises: premises.to_string(),
            description: "消防通道堆物".into(),
            severity,
            photos: photos.iter().map(|s| reference(s.as_ref())).collect(),
            location: None,
        })
        .unwrap()
        .id
}

fn sync_docs(s: &Server, store: &Store, token: &str) {
    store.sync_http(&s.client, token, &mut |_| {}).unwrap();
    assert_eq!(store.unsynced_count().unwrap(), 0);
}

/// Counts the calls of a transport and what HEAD found.
struct Recording<'a> {
    inner: &'a dyn BlobTransport,
    heads: Mutex<Vec<(String, RemoteBlob)>>,
    puts: AtomicU64,
    /// Fails every PUT after this many with a network error (a phone losing its link).
    fail_after_puts: Option<u64>,
    /// Called on each PUT (before it is sent).
    on_put: Option<&'a (dyn Fn() + Sync)>,
    /// Damages the downloaded thumbnails (`Some(true)`) or photos (`Some(false)`).
    damage: Option<bool>,
}

impl<'a> Recording<'a> {
    fn new(inner: &'a dyn BlobTransport) -> Self {
        Recording {
            inner,
            heads: Mutex::new(Vec::new()),
            puts: AtomicU64::new(0),
            fail_after_puts: None,
            on_put: None,
            damage: None,
        }
    }
    fn resumed_from_partial(&self) -> usize {
        self.heads
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, h)| matches!(h, RemoteBlob::Partial(o) if *o > 0))
            .count()
    }
    fn first_heads(&self) -> Vec<String> {
        let mut seen = Vec::new();
        for (sha, _) in self.heads.lock().unwrap().iter() {
            if !seen.contains(sha) {
                seen.push(sha.clone());
            }
        }
        seen
    }
}

impl BlobTransport for Recording<'_> {
    fn head(&self, sha: &str, doc: &str) -> firegrid_core::Result<RemoteBlob> {
        let h = self.inner.head(sha, doc)?;
        self.heads.lock().unwrap().push((sha.to_string(), h));
        Ok(h)
    }
    fn put(
        &self,
        sha: &str,
        doc: &str,
        offset: u64,
        total: u64,
        chunk: &[u8],
    ) -> firegrid_core::Result<ChunkReply> {
        let n = self.puts.fetch_add(1, Ordering::SeqCst);
        if self.fail_after_puts.is_some_and(|max| n >= max) {
            return Err(Error::Network("the phone lost its link".into()));
        }
        if let Some(f) = self.on_put {
            f();
        }
        self.inner.put(sha, doc, offset, total, chunk)
    }
    fn get(
        &self,
        sha: &str,
        doc: &str,
        thumbnail: bool,
    ) -> firegrid_core::Result<Option<Download>> {
        let mut d = self.inner.get(sha, doc, thumbnail)?;
        if self.damage == Some(thumbnail)
            && let Some(d) = d.as_mut()
        {
            let mid = d.bytes.len() / 2;
            d.bytes[mid] ^= 0x55;
        }
        Ok(d)
    }
}

/// A TCP proxy in front of the server that kills every connection after a random number of
/// bytes from the client (0.1–1.6 MiB: usually in the middle of a 1 MiB chunk), so uploads
/// break at random points of their chunks. Counts the cuts.
struct CuttingProxy {
    base: String,
    cuts: Arc<AtomicU64>,
}

fn cutting_proxy(upstream: &str, seed: u64) -> CuttingProxy {
    let upstream = upstream.trim_start_matches("http://").to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cuts = Arc::new(AtomicU64::new(0));
    let counter = cuts.clone();
    std::thread::spawn(move || {
        let mut rng = Rng(seed);
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let budget = 100_000 + rng.below(1_580_000);
            let counter = counter.clone();
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            // Server → client: copied until either side closes.
            std::thread::spawn(move || {
                let (mut from, mut to) = (s2, c2);
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = from.read(&mut buf) {
                    if n == 0 || to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = to.shutdown(Shutdown::Both);
            });
            // Client → server: cut after `budget` bytes.
            std::thread::spawn(move || {
                let (mut from, mut to) = (client, server);
                let mut buf = vec![0u8; 64 * 1024];
                let mut left = budget;
                loop {
                    let n = match from.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if n as u64 >= left {
                        let _ = to.write_all(&buf[..left as usize]);
                        counter.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    left -= n as u64;
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = to.shutdown(Shutdown::Both);
                let _ = from.shutdown(Shutdown::Both);
            });
        }
    });
    CuttingProxy { base, cuts }
}

#[test]
fn photos_upload_most_severe_hazard_first_then_inspections() {
    let s = start_server();
    let a = s.user(Role::GridPatroller, 0);
    let (store, token) = s.phone(&a, "order.db");
    let photos = store.photos().unwrap();
    let mut rng = Rng(0x0DE5_0001);
    let mut put = |n: usize| photos.put(&rng.bytes(n)).unwrap();
    let (general, major, serious, inspection) =
        (put(40_000), put(50_000), put(60_000), put(30_000));
    // Reported in an order unlike the severity order.
    report(&store, &s.shop(&a, 0), Severity::General, &[&general]);
    report(&store, &s.shop(&a, 1), Severity::MajorCandidate, &[&major]);
    report(&store, &s.shop(&a, 2), Severity::Serious, &[&serious]);
    let shop = s.shop(&a, 3);
    let i = store.start_inspection(&shop, None).unwrap();
    let item = store
        .current_checklist_for(&shop)
        .unwrap()
        .items
        .first()
        .unwrap()
        .id
        .clone();
    store
        .answer(&i.id, &item, AnswerResult::Fail, Some("灭火器过期".into()))
        .unwrap();
    store
        .attach_photo(&i.id, &item, reference(&inspection))
        .unwrap();
    // A photo of another device: referenced, not held, never uploaded from here.
    let elsewhere = firegrid_core::photo::sha256_hex(b"taken on another phone");
    report(&store, &s.shop(&a, 4), Severity::Serious, &[elsewhere]);
    sync_docs(&s, &store, &token);

    let queue = store.photo_upload_queue().unwrap();
    let order: Vec<&str> = queue.queued.iter().map(|q| q.sha256.as_str()).collect();
    assert_eq!(order, [&major, &serious, &general, &inspection]);
    assert_eq!(
        queue.queued[0].source,
        PhotoSource::Hazard(Severity::MajorCandidate)
    );
    assert_eq!(queue.queued[3].source, PhotoSource::Inspection);
    assert_eq!(queue.not_held, 1);

    let http = HttpBlobs {
        client: &s.client,
        access_token: &token,
    };
    let rec = Recording::new(&http);
    let mut seen: Vec<PhotoProgress> = Vec::new();
    let r = store
        .sync_photos(&rec, eager(3), &mut |_| {}, &mut |p| seen.push(p))
        .unwrap();
    assert_eq!(rec.first_heads(), order, "uploaded in the queue's order");
    assert_eq!(r.uploaded, 4);
    assert_eq!(r.not_held, 1);
    assert!(r.refused.is_empty());
    let last = seen.last().unwrap();
    assert_eq!((last.photos_done, last.photos_total), (4, 4));
    assert_eq!(last.bytes_done, last.bytes_total);
    assert_eq!(last.bytes_total, 180_000);
    assert!(seen.windows(2).all(|w| w[0].bytes_done <= w[1].bytes_done));
    assert!(store.photo_upload_queue().unwrap().queued.is_empty());
    for sha in [&major, &serious, &general, &inspection] {
        assert_eq!(
            s.blobs.read(sha).unwrap().unwrap(),
            photos.get(sha).unwrap(),
            "the server holds the very bytes"
        );
    }
    // Nothing left: a second run only looks.
    let again = store
        .sync_photos(&rec, eager(3), &mut |_| {}, &mut |_| {})
        .unwrap();
    assert_eq!((again.uploaded, again.already_on_server), (0, 0));
}

#[test]
fn uploads_cut_mid_chunk_at_random_points_resume_to_identical_bytes() {
    let s = start_server();
    let a = s.user(Role::GridPatroller, 1);
    let (store, token) = s.phone(&a, "cuts.db");
    let proxy = cutting_proxy(&s.base, 0xC075_0005);
    let via_proxy = HttpClient::new(&proxy.base).unwrap();
    let http = HttpBlobs {
        client: &via_proxy,
        access_token: &token,
    };
    let rec = Recording::new(&http);
    let photos = store.photos().unwrap();
    let mut rng = Rng(0x5EED_C075);
    let mut uploaded = Vec::new();
    let mut round = 0;
    // Rounds of photos until at least 100 connections were cut mid-upload.
    while proxy.cuts.load(Ordering::SeqCst) < 100 {
        round += 1;
        assert!(round <= 20, "the proxy cuts too rarely");
        let shas: Vec<String> = (0..6)
            .map(|_| {
                let n = 900_000 + rng.below(1_900_000) as usize;
                photos.put(&rng.bytes(n)).unwrap()
            })
            .collect();
        report(&store, &s.shop(&a, round % 3), Severity::Serious, &shas);
        sync_docs(&s, &store, &token);
        let r = store
            .sync_photos(&rec, eager(40), &mut |_| {}, &mut |_| {})
            .unwrap();
        assert!(r.refused.is_empty(), "{:?}", r.refused);
        assert_eq!(r.uploaded + r.already_on_server, 6);
        uploaded.extend(shas);
    }
    let cuts = proxy.cuts.load(Ordering::SeqCst);
    let resumed = rec.resumed_from_partial();
    eprintln!(
        "{} photos, {cuts} connections cut, {resumed} uploads resumed from a partial offset",
        uploaded.len()
    );
    assert!(cuts >= 100);
    assert!(
        resumed >= 20,
        "only {resumed} resumes from a partial upload"
    );
    for sha in &uploaded {
        assert_eq!(
            s.blobs.read(sha).unwrap().unwrap(),
            photos.get(sha).unwrap()
        );
        assert!(store.is_photo_uploaded(sha).unwrap());
    }
    assert!(store.photo_upload_queue().unwrap().queued.is_empty());
    assert_eq!(
        s.blobs.usage(&a.id).unwrap().reserved,
        0,
        "no upload left open"
    );
}

#[test]
fn a_store_reopened_mid_queue_finishes_the_queue_without_sending_photos_twice() {
    let s = start_server();
    let a = s.user(Role::GridPatroller, 2);
    let path = s.dir.join("restart.db");
    let mut rng = Rng(0x0EE5_7A27);
    let shas: Vec<String> = {
        let (store, token) = s.phone(&a, "restart.db");
        let photos = store.photos().unwrap();
        let shas: Vec<String> = (0..5)
            .map(|_| photos.put(&rng.bytes(1_500_000)).unwrap())
            .collect();
        report(&store, &s.shop(&a, 0), Severity::General, &shas);
        sync_docs(&s, &store, &token);
        let http = HttpBlobs {
            client: &s.client,
            access_token: &token,
        };
        let mut rec = Recording::new(&http);
        // Two photos of two chunks, then the first chunk of the third; then the link is gone
        // and the app is killed.
        rec.fail_after_puts = Some(5);
        let err = store
            .sync_photos(&rec, eager(2), &mut |_| {}, &mut |_| {})
            .unwrap_err();
        assert!(matches!(err, Error::Network(_)), "{err}");
        assert_eq!(store.photo_upload_queue().unwrap().queued.len(), 3);
        shas
    };
    // The app starts again: the queue comes from the records and the uploaded table.
    let store = Store::open(&path).unwrap();
    let queue = store.photo_upload_queue().unwrap();
    assert_eq!(
        queue.queued.iter().map(|q| &q.sha256).collect::<Vec<_>>(),
        shas[2..].iter().collect::<Vec<_>>()
    );
    let token = s
        .client
        .login(&a.id, PW, store.device_id())
        .unwrap()
        .session
        .access_token;
    let http = HttpBlobs {
        client: &s.client,
        access_token: &token,
    };
    let rec = Recording::new(&http);
    let r = store
        .sync_photos(&rec, eager(2), &mut |_| {}, &mut |_| {})
        .unwrap();
    assert_eq!(r.uploaded, 3);
    assert_eq!(
        rec.heads.lock().unwrap()[0].1,
        RemoteBlob::Partial(1024 * 1024),
        "the third photo resumes after its first chunk"
    );
    assert_eq!(
        rec.puts.load(Ordering::SeqCst),
        1 + 2 + 2,
        "nothing sent twice"
    );
    for sha in &shas {
        assert_eq!(
            s.blobs.read(sha).unwrap().unwrap(),
            store.photo_bytes(sha).unwrap()
        );
    }
}

#[test]
fn refused_photos_are_reported_kept_and_retried() {
    let s = start_server();
    let a = s.user(Role::GridPatroller, 3);
    let (store, token) = s.phone(&a, "refused.db");
    let photos = store.photos().unwrap();
    let mut rng = Rng(0x4EF0_5ED0);
    let big = photos.put(&rng.bytes(300_000)).unwrap();
    let small = photos.put(&rng.bytes(20_000)).unwrap();
    report(&store, &s.shop(&a, 0), Severity::MajorCandidate, &[&big]);
    report(&store, &s.shop(&a, 1), Severity::General, &[&small]);
    sync_docs(&s, &store, &token);
    // A hazard not synced yet: its photo's upload is refused with 404.
    let late = photos.put(&rng.bytes(10_000)).unwrap();
    report(&store, &s.shop(&a, 2), Severity::Serious, &[&late]);

    // The quota is full: the most severe photo is refused with 507 and the run stops there.
    s.blobs.set_quota(100_000);
    let http = HttpBlobs {
        client: &s.client,
        access_token: &token,
    };
    let r = store.sync_photos_http(&s.client, &token, eager(2), &mut |_| {});
    let r = r.unwrap();
    assert_eq!(r.uploaded, 0);
    assert_eq!(r.refused.len(), 1);
    assert_eq!(r.refused[0].sha256, big);
    assert_eq!(r.refused[0].reason, PhotoRefusalReason::QuotaExceeded);
    assert_eq!(r.refused[0].status, 507);
    assert_eq!(r.not_attempted, 2);
    assert!(!PhotoRefusalReason::QuotaExceeded.label().zh.is_empty());
    let queued = store.photo_upload_queue().unwrap().queued;
    assert_eq!(queued.len(), 3, "nothing dropped");

    // The quota raised: the next run uploads what fits the rules; the unsynced hazard's photo
    // is refused (404) and kept.
    s.blobs.set_quota(10 * 1024 * 1024);
    let r = store
        .sync_photos(&http, eager(2), &mut |_| {}, &mut |_| {})
        .unwrap();
    assert_eq!(r.uploaded, 2);
    assert_eq!(r.refused.len(), 1);
    assert_eq!(r.refused[0].sha256, late);
    assert_eq!(r.refused[0].reason, PhotoRefusalReason::NotOnServer);
    let refusals = store.photo_refusals().unwrap();
    assert_eq!(refusals.len(), 1, "the quota refusal is gone once uploaded");
    assert_eq!(refusals[0].sha256, late);
    assert_eq!(refusals[0].attempts, 1);
    let again = store
        .sync_photos(&http, eager(2), &mut |_| {}, &mut |_| {})
        .unwrap();
    assert_eq!(again.refused.len(), 1);
    assert_eq!(store.photo_refusals().unwrap()[0].attempts, 2);

    // After the document sync, the retry succeeds.
    sync_docs(&s, &store, &token);
    let r = store
        .sync_photos(&http, eager(2), &mut |_| {}, &mut |_| {})
        .unwrap();
    assert_eq!(r.uploaded, 1);
    assert!(store.photo_refusals().unwrap().is_empty());
    assert!(store.photo_upload_queue().unwrap().queued.is_empty());
}

#[test]
fn document_sync_runs_while_photos_upload() {
    let s = start_server();
    let a = s.user(Role::GridPatroller, 4);
    let (store, token) = s.phone(&a, "concurrent.db");
    let photos = store.photos().unwrap();
    let mut rng = Rng(0xC0C0_0001);
    let shas: Vec<String> = (0..3)
        .map(|_| photos.put(&rng.bytes(1_200_000)).unwrap())
        .collect();
    report(&store, &s.shop(&a, 0), Severity::Serious, &shas);
    sync_docs(&s, &store, &token);
    let http = HttpBlobs {
        client: &s.client,
        access_token: &token,
    };
    let doc_syncs = AtomicU64::new(0);
    let shop = s.shop(&a, 1);
    // On every chunk, while the photo sync holds its lock: a new hazard is reported and
    // synced (the document sync is not blocked), and a second photo sync is refused.
    let during = || {
        let h = report(&store, &shop, Severity::General, &[] as &[&str]);
        store.sync_http(&s.client, &token, &mut |_| {}).unwrap();
        assert!(store.is_synced(&h).unwrap());
        doc_syncs.fetch_add(1, Ordering::SeqCst);
        let second = store.sync_photos(&http, eager(1), &mut |_| {}, &mut |_| {});
        assert!(matches!(second, Err(Error::AlreadySyncing)));
    };
    let mut rec = Recording::new(&http);
    rec.on_put = Some(&during);
    let r = store
        .sync_photos(&rec, eager(2), &mut |_| {}, &mut |_| {})
        .unwrap();
    assert_eq!(r.uploaded, 3);
    assert_eq!(
        doc_syncs.load(Ordering::SeqCst),
        6,
        "a document sync per chunk"
    );
    // And from another thread, at the same time, for real.
    let more: Vec<String> = (0..4)
        .map(|_| photos.put(&rng.bytes(900_000)).unwrap())
        .collect();
    report(&store, &s.shop(&a, 2), Severity::Serious, &more);
    sync_docs(&s, &store, &token);
    std::thread::scope(|scope| {
        let uploader = scope.spawn(|| {
            store
                .sync_photos_http(&s.client, &token, eager(2), &mut |_| {})
                .unwrap()
        });
        let mut synced = 0;
        while !uploader.is_finished() || synced == 0 {
            report(&store, &shop, Severity::General, &[] as &[&str]);
            store.sync_http(&s.client, &token, &mut |_| {}).unwrap();
            synced += 1;
        }
        assert_eq!(uploader.join().unwrap().uploaded, 4);
    });
}

#[test]
fn another_device_fetches_a_photo_thumbnail_first_and_refuses_damaged_downloads() {
    let s = start_server();
    let a = s.user(Role::GridPatroller, 5);
    let (phone, token) = s.phone(&a, "camera.db");
    let camera = std::fs::read(fixtures().join("photos/exif-orientation-6-gps.jpg")).unwrap();
    let screenshot = std::fs::read(fixtures().join("photos/transparent.png")).unwrap();
    let first = phone.add_photo(&camera, true).unwrap();
    assert!(first.location.is_some(), "kept when allowed");
    let second = phone.add_photo(&screenshot, false).unwrap();
    assert_eq!(phone.add_photo(&camera, false).unwrap().location, None);
    assert!(matches!(
        phone.add_photo(b"not a photo at all", false),
        Err(Error::Invalid { field: "photo", .. })
    ));
    report(
        &phone,
        &s.shop(&a, 0),
        Severity::Serious,
        &[first.sha256.clone(), second.sha256.clone()],
    );
    sync_docs(&s, &phone, &token);
    phone
        .sync_photos_http(&s.client, &token, eager(2), &mut |_| {})
        .unwrap();

    // The street office's tablet has the hazard after its sync, not the photos.
    let officer = s.user(Role::StreetOffice, 0);
    let (tablet, t_token) = s.phone(&officer, "tablet.db");
    tablet.sync_http(&s.client, &t_token, &mut |_| {}).unwrap();
    assert!(matches!(
        tablet.photo_bytes(&first.sha256),
        Err(Error::NotFound { kind: "photo", .. })
    ));
    assert!(matches!(
        tablet.photo_thumbnail(&first.sha256),
        Err(Error::NotFound { .. })
    ));
    let http = HttpBlobs {
        client: &s.client,
        access_token: &t_token,
    };

    // Damaged downloads are refused and nothing of them is kept (a thumbnail verified before
    // a damaged photo is kept: it is whole).
    for thumbnail in [true, false] {
        let mut bad = Recording::new(&http);
        bad.damage = Some(thumbnail);
        let err = tablet
            .fetch_photo(&bad, &second.sha256, true, &mut |_| {})
            .unwrap_err();
        assert!(
            matches!(&err, Error::CorruptRecord { id, .. } if *id == second.sha256),
            "{err}"
        );
        let photos = tablet.photos().unwrap();
        assert!(!photos.has(&second.sha256).unwrap());
        assert_eq!(photos.has_thumbnail(&second.sha256).unwrap(), !thumbnail);
    }
    assert!(!tablet.is_photo_uploaded(&second.sha256).unwrap());

    // Thumbnail first: it arrives before the photo, and is the server's thumbnail of it.
    let mut thumbs = Vec::new();
    let f = tablet
        .fetch_photo(&http, &first.sha256, true, &mut |t| {
            thumbs.push(t.to_vec());
            // The photo is not there yet when the thumbnail is shown.
            assert!(!tablet.photos().unwrap().has(&first.sha256).unwrap());
        })
        .unwrap();
    assert!(f.thumbnail_fetched && f.photo_fetched && !f.already_held);
    assert_eq!(thumbs.len(), 1);
    assert_eq!(tablet.photo_thumbnail(&first.sha256).unwrap(), thumbs[0]);
    assert_eq!(
        thumbs[0],
        s.blobs.thumbnail(&first.sha256).unwrap().unwrap(),
        "the server's cached thumbnail"
    );
    assert_eq!(
        tablet.photo_bytes(&first.sha256).unwrap(),
        phone.photo_bytes(&first.sha256).unwrap()
    );
    let again = tablet
        .fetch_photo(&http, &first.sha256, true, &mut |_| {})
        .unwrap();
    assert!(again.already_held && !again.photo_fetched);

    // Without the thumbnail first: only the photo, its thumbnail made on the device.
    let f = tablet
        .fetch_photo(&http, &second.sha256, false, &mut |_| {
            panic!("no thumbnail asked")
        })
        .unwrap();
    assert!(!f.thumbnail_fetched && f.photo_fetched);
    assert!(!tablet.photo_thumbnail(&second.sha256).unwrap().is_empty());
    // The tablet never uploads what it fetched.
    assert!(tablet.photo_upload_queue().unwrap().queued.is_empty());

    // A hash no record references is not asked for.
    let stray = firegrid_core::photo::sha256_hex(b"stray");
    assert!(matches!(
        tablet.fetch_photo(&http, &stray, true, &mut |_| {}),
        Err(Error::NotFound { kind: "photo", .. })
    ));
}

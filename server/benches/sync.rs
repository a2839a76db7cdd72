//! Sync bench: N inspection-like records (about 20 fields and 15 answers each) go from one
//! device through the server (HTTP on 127.0.0.1, embedded SQLite) to a fresh device, then 100
//! offline edits on 100 records come back in one round trip, and the first device pulls them;
//! N = 1,000 and 10,000. The same workload through automerge-repo (bench/automerge-repo, Node)
//! runs at N = 1,000 in the same run when Node and its packages are installed, each phase timed
//! alike on both sides (see bench/README.md). Prints a Markdown table.
//!
//! `cargo bench -p firegrid-server --bench sync` (add `-- --quick` for N = 100 only,
//! `-- --sizes 1000 --no-peer` for chosen sizes without automerge-repo, `-- --sizes 1000 --pairs 3`
//! for three pairs of runs of both sides, ratios taken within each pair). To profile the server,
//! set `FIREGRID_BENCH_SERVER_WRAP` to the command to run it under, e.g. `valgrind
//! --tool=callgrind --callgrind-out-file=/tmp/server.cg` (stopped with SIGTERM at the end, so
//! the profile is written; its peak RSS is then the profiler's).
//! The fresh device runs in a child process (this binary re-executed) and the server is the
//! `firegrid-server` binary, so each one's peak RSS is its own.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "bench binary: fail loudly"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use firegrid_core::Store;
use firegrid_core::access::Role;
use firegrid_core::inspection::AnswerResult;
use firegrid_core::premises::Category;
use firegrid_core::sync::http::HttpClient;
use firegrid_server::admin;

const PW: &str = "zhenru-bench-password";
const CHILD_ENV: &str = "FIREGRID_SYNC_BENCH_CHILD";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The server binary in its own process (so its peak RSS is its own), on a seeded data
/// folder; returns the process and its base URL.
fn start_server(dir: &Path, user: &str) -> (std::process::Child, String) {
    {
        let data = admin::open(dir).unwrap();
        admin::seed_documents(&data, &fixtures()).unwrap();
        data.accounts.set_password(user, PW, 0).unwrap();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A profiler may run the server: `FIREGRID_BENCH_SERVER_WRAP="valgrind --tool=callgrind"`.
    let wrap = server_wrap();
    let mut cmd = match wrap.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(env!("CARGO_BIN_EXE_firegrid-server"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_firegrid-server")),
    };
    let child = cmd
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let limit = if wrap.is_empty() { 30 } else { 600 };
        assert!(
            started.elapsed().as_secs() < limit,
            "the server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (child, format!("http://127.0.0.1:{port}"))
}

/// The command the server runs under (`FIREGRID_BENCH_SERVER_WRAP`, split at spaces), if any.
fn server_wrap() -> Vec<String> {
    std::env::var("FIREGRID_BENCH_SERVER_WRAP")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Peak RSS of a running process, in kB.
fn peak_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn phone(path: &Path, user: &str) -> Store {
    let store = Store::open(path).unwrap();
    store.import_fixtures(&fixtures()).unwrap();
    store.set_current_user(user).unwrap();
    store
}

/// The child: a fresh device that pulls everything, then edits 100 records and pushes them.
/// Prints `fresh_ms edits_ms records acknowledged vmhwm_kb made_ms`.
fn child(url: &str, user: &str, db: &Path) {
    let store = phone(db, user);
    let client = HttpClient::new(url).unwrap();
    let token = client
        .login(user, PW, store.device_id())
        .unwrap()
        .session
        .access_token;
    let t = Instant::now();
    let report = store.sync_http(&client, &token, &mut |_| {}).unwrap();
    let fresh = t.elapsed();
    eprintln!(
        "fresh device: {} rounds, {} changes",
        report.rounds, report.received_changes
    );
    // 100 offline edits on 100 records: change one answer of each.
    let mut all = Vec::new();
    loop {
        let page = store
            .inspection_history(&firegrid_core::inspection::HistoryFilter {
                limit: Some(5000),
                offset: Some(all.len() as u32),
                ..Default::default()
            })
            .unwrap();
        if page.is_empty() {
            break;
        }
        all.extend(page);
    }
    let step = (all.len() / 100).max(1);
    let t = Instant::now();
    for s in all.iter().step_by(step).take(100) {
        let insp = store.inspection(&s.id).unwrap();
        store
            .answer(
                &s.id,
                &insp.items[0],
                AnswerResult::Fail,
                Some("复查发现".into()),
            )
            .unwrap();
    }
    let made = t.elapsed();
    let t = Instant::now();
    let back = store.sync_http(&client, &token, &mut |_| {}).unwrap();
    let edits = t.elapsed();
    assert_eq!(back.rounds, 1, "the 100 edits go in one round trip");
    println!(
        "{} {} {} {} {} {}",
        fresh.as_secs_f64() * 1e3,
        edits.as_secs_f64() * 1e3,
        all.len(),
        back.acknowledged,
        kb("VmHWM:"),
        made.as_secs_f64() * 1e3
    );
}

#[derive(Clone)]
struct Row {
    n: usize,
    create_s: f64,
    push_ms: f64,
    fresh_ms: f64,
    edits_ms: f64,
    /// Device A's pull of B's edits (one sync after B's round trip).
    pull_edits_ms: f64,
    /// The 100 `answer` calls on B that make the edits (durable transactions, before the sync).
    make_edits_ms: f64,
    device_rss_mb: f64,
    server_rss_mb: f64,
}

/// Writes the page cache's dirty data back to disk (`sync`) before a side runs, so what the
/// other side left in the cache (automerge-repo's storage does not fsync) is not written back
/// during this side's timed phases, slowing its fsyncs.
fn settle() {
    let _ = Command::new("sync").status();
}

fn run(n: usize) -> Row {
    settle();
    let district = firegrid_core::district::load_dir(&fixtures().join("district")).unwrap();
    let office = district
        .users
        .iter()
        .find(|u| u.role == Role::StreetOffice)
        .unwrap();
    let shops: Vec<_> = district
        .premises
        .iter()
        .filter(|p| p.category() == Category::StreetShop)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = start_server(&dir.path().join("server"), &office.id);
    let a = phone(&dir.path().join("a.db"), &office.id);
    let t = Instant::now();
    for i in 0..n {
        let insp = a
            .start_inspection(&shops[i % shops.len()].id, None)
            .unwrap();
        for item in insp.items.iter().take(15) {
            a.answer(&insp.id, item, AnswerResult::Pass, None).unwrap();
        }
        if i % 1000 == 999 {
            eprintln!("created {}/{n}", i + 1);
        }
    }
    let create_s = t.elapsed().as_secs_f64();
    let client = HttpClient::new(&url).unwrap();
    let token = client
        .login(&office.id, PW, a.device_id())
        .unwrap()
        .session
        .access_token;
    let t = Instant::now();
    let pushed = a.sync_http(&client, &token, &mut |_| {}).unwrap();
    let push_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(pushed.acknowledged as usize, n);

    let out = Command::new(std::env::current_exe().unwrap())
        .env(
            CHILD_ENV,
            format!("{url}|{}|{}", office.id, dir.path().join("b.db").display()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let v: Vec<f64> = line
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(v[2] as usize, n, "the fresh device got every record");
    assert_eq!(v[3] as usize, 100);
    // The edits reach device A.
    let t = Instant::now();
    let back = a.sync_http(&client, &token, &mut |_| {}).unwrap();
    let pull_edits_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(back.touched, 100);
    assert_eq!(back.rounds, 1, "A pulls the 100 edits in one round trip");
    let server_rss_mb = peak_kb(server.id()) as f64 / 1024.0;
    if server_wrap().is_empty() {
        let _ = server.kill();
    } else {
        // SIGTERM: the server shuts down cleanly, so a profiler around it writes its output.
        let _ = Command::new("kill").arg(server.id().to_string()).status();
    }
    let _ = server.wait();
    Row {
        n,
        create_s,
        push_ms,
        fresh_ms: v[0],
        edits_ms: v[1],
        pull_edits_ms,
        make_edits_ms: v[5],
        device_rss_mb: v[4] / 1024.0,
        server_rss_mb,
    }
}

/// The sync phases of one pair of runs at N = 1,000: name, automerge-repo's time, ours (ms).
fn phases(p: &serde_json::Value, o: &Row) -> [(&'static str, f64, f64); 5] {
    let theirs = |key: &str| p[key].as_f64().unwrap_or(f64::NAN);
    [
        ("push to server", theirs("push_ms"), o.push_ms),
        ("fresh device", theirs("fresh_device_ms"), o.fresh_ms),
        (
            "100 edits to the server",
            theirs("edits_to_server_ms"),
            o.edits_ms,
        ),
        (
            "100 edits to device A",
            theirs("edits_to_device_ms"),
            o.edits_ms + o.pull_edits_ms,
        ),
        (
            "A → server → B → server → A",
            theirs("push_ms") + theirs("fresh_device_ms") + theirs("edits_to_device_ms"),
            o.push_ms + o.fresh_ms + o.edits_ms + o.pull_edits_ms,
        ),
    ]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The comparison with automerge-repo: each phase's median time on each side, and the median
/// (and, over several pairs, the lowest and highest) of the ratios taken within each pair.
fn print_comparison(pairs: &[(Row, serde_json::Value)]) {
    let (o, p) = &pairs[0];
    println!(
        "\nautomerge-repo at N = 1,000 ({}), {} pair(s) of runs:\n",
        p["version"].as_str().unwrap_or("?"),
        pairs.len()
    );
    println!(
        "Each phase runs from the moment the data exists on the sender to the moment the receiver holds it on disk; making the records and the edits is not in it, on either side (its own rows). Times are medians over the pairs; a ratio is taken within each pair (both sides run minutes apart at most), and its median shown.\n"
    );
    println!(
        "| phase | automerge-repo | Firegrid | ratio | ratio lowest–highest |\n|---|---:|---:|---:|---:|"
    );
    let all: Vec<[(&str, f64, f64); 5]> = pairs.iter().map(|(o, p)| phases(p, o)).collect();
    for (i, (name, _, _)) in all[0].iter().enumerate() {
        let theirs = median(all.iter().map(|ph| ph[i].1).collect());
        let ours = median(all.iter().map(|ph| ph[i].2).collect());
        let ratios: Vec<f64> = all.iter().map(|ph| ph[i].1 / ph[i].2).collect();
        let (lo, hi) = ratios
            .iter()
            .fold((f64::INFINITY, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        println!(
            "| {name} | {theirs:.0} ms | {ours:.1} ms | {:.1}× | {lo:.1}–{hi:.1}× |",
            median(ratios)
        );
    }
    let theirs = |key: &str| p[key].as_f64().unwrap_or(f64::NAN);
    println!(
        "| making the {} records (not sync: in memory / through the durable API), first pair | {:.0} ms | {:.0} ms | | |",
        o.n,
        theirs("create_ms"),
        o.create_s * 1e3
    );
    println!(
        "| making the 100 edits (in memory / 100 durable `answer` calls), first pair | {:.0} ms | {:.0} ms | | |",
        theirs("edits_made_ms"),
        o.make_edits_ms
    );
    println!(
        "| device peak RSS, first pair | {} MB | {:.1} MB | | |",
        p["device_peak_rss_mb"], o.device_rss_mb
    );
    println!(
        "| server peak RSS, first pair | {} MB | {:.1} MB | | |",
        p["server_peak_rss_mb"], o.server_rss_mb
    );
    if pairs.len() > 1 {
        println!(
            "\n| pair | push | fresh device | edits → server | edits → device A | whole workload |\n|---:|---:|---:|---:|---:|---:|"
        );
        for (k, ph) in all.iter().enumerate() {
            let r: Vec<String> = ph
                .iter()
                .map(|(_, t, f)| format!("{:.1}×", t / f))
                .collect();
            println!("| {} | {} |", k + 1, r.join(" | "));
        }
    }
}

fn automerge_repo(n: usize) -> Option<serde_json::Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/automerge-repo");
    if !dir.join("node_modules").is_dir() {
        let ok = Command::new("npm")
            .args(["ci", "--silent", "--prefix"])
            .arg(&dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!(
                "automerge-repo peer skipped: `npm ci --prefix bench/automerge-repo` failed or npm is missing"
            );
            return None;
        }
    }
    settle();
    let out = Command::new("node")
        .arg(dir.join("run.mjs"))
        .args(["--n", &n.to_string(), "--timeout-s", "300"])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "automerge-repo peer failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    serde_json::from_slice(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()?
            .as_bytes(),
    )
    .ok()
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let mut parts = spec.splitn(3, '|');
        let (url, user, db) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        child(url, user, Path::new(db));
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var("FIREGRID_BENCH_QUICK").is_ok_and(|v| v == "1");
    // `--sizes 1000,10000` picks the sizes; `--no-peer` skips automerge-repo (profiling runs).
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = match args.iter().position(|a| a == "--sizes") {
        Some(i) => args
            .get(i + 1)
            .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
            .unwrap_or_default(),
        None if quick => vec![100],
        None => vec![1_000, 10_000],
    };
    let no_peer = quick || args.iter().any(|a| a == "--no-peer");
    // `--pairs K`: K runs of both sides at N = 1,000, ratios taken per pair (median shown).
    let pairs_wanted: usize = args
        .iter()
        .position(|a| a == "--pairs")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1)
        .max(1);
    let started = Instant::now();
    let rows: Vec<Row> = sizes.iter().map(|&n| run(n)).collect();
    let peer = if no_peer { None } else { automerge_repo(1_000) };

    println!("## Firegrid sync bench\n");
    println!(
        "Machine: nproc = {}; release build; server and devices on 127.0.0.1 (HTTP), SQLite with synchronous = FULL on every side.\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!(
        "| N | create on device A (API) | A → server | server → fresh device B | B's 100 edits → server (1 round trip) | A pulls the 100 edits | device B peak RSS | server peak RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.1} s | {:.0} ms | {:.0} ms | {:.1} ms | {:.1} ms | {:.1} MB | {:.1} MB |",
            r.n,
            r.create_s,
            r.push_ms,
            r.fresh_ms,
            r.edits_ms,
            r.pull_edits_ms,
            r.device_rss_mb,
            r.server_rss_mb
        );
    }
    if let (Some(first), Some(o)) = (&peer, rows.iter().find(|r| r.n == 1_000)) {
        // Pairs after the first alternate which side runs first, so a machine that speeds up
        // or slows down during the run weighs on both sides alike.
        let mut pairs = vec![(o.clone(), first.clone())];
        for k in 1..pairs_wanted {
            let pair = if k % 2 == 1 {
                let p = automerge_repo(1_000);
                (run(1_000), p)
            } else {
                let o = run(1_000);
                (o, automerge_repo(1_000))
            };
            match pair {
                (o, Some(p)) => pairs.push((o, p)),
                (_, None) => eprintln!("automerge-repo failed in pair {}; left out", k + 1),
            }
        }
        print_comparison(&pairs);
    } else if !quick {
        println!("\nautomerge-repo peer not run (see stderr).");
    }
    if let Some(r) = rows.iter().find(|r| r.n == 10_000) {
        println!(
            "\nGoals: 10,000 records to a fresh device < 5 s: {} ({:.2} s); device RSS < 100 MB: {} ({:.1} MB); 100 edits in one round trip < 100 ms: {} ({:.1} ms).",
            if r.fresh_ms < 5_000.0 {
                "met"
            } else {
                "NOT met"
            },
            r.fresh_ms / 1e3,
            if r.device_rss_mb < 100.0 {
                "met"
            } else {
                "NOT met"
            },
            r.device_rss_mb,
            if r.edits_ms < 100.0 { "met" } else { "NOT met" },
            r.edits_ms
        );
    }
    println!(
        "\ntotal bench time: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

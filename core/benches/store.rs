//! The store bench: recording an inspection, reopening a full store, listing a grid's premises.
//!
//! Run with `cargo bench -p firegrid-core --bench store`; add `-- --quick` (or set
//! `FIREGRID_BENCH_QUICK=1`) for a smoke test in seconds. No benchmarking framework: every
//! duration is wall-clock (`Instant`) on this machine, percentiles come from sorting the samples,
//! and the result is printed as a Markdown table on stdout (progress goes to stderr). See
//! `bench/README.md` for what each row measures and the goals.
//!
//! The reopen is measured in a fresh process: the bench re-executes itself with
//! `FIREGRID_BENCH_REOPEN=<db path>`, and that child only opens the store, lists the first page
//! of the signed-in user's premises, prints its timings and RSS, and exits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use firegrid_core::Store;
use firegrid_core::access::{Role, Scope, ScopeKind, User};
use firegrid_core::checklist::{self, Checklist};
use firegrid_core::district::{self, District};
use firegrid_core::inspection::AnswerResult;
use firegrid_core::premises::{PremisesFilter, PremisesKind};
use firegrid_core::standard::{self, Standard};
use firegrid_core::vocab::PhotoRef;

/// Set in the child process: the store file to reopen.
const REOPEN_ENV: &str = "FIREGRID_BENCH_REOPEN";
/// `1` shrinks every N for a smoke test (same as the `--quick` argument).
const QUICK_ENV: &str = "FIREGRID_BENCH_QUICK";
/// The line the child prints for the parent to parse.
const CHILD_TAG: &str = "firegrid-bench-reopen";

/// How much work each bench does.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    /// Inspections recorded (and timed) in the record bench.
    record_inspections: usize,
    /// Finished inspections in the store that is reopened and listed.
    reopen_inspections: usize,
    /// Fresh processes that reopen the store.
    reopen_runs: usize,
    /// `list_premises` calls timed in the list bench.
    list_calls: usize,
}

const FULL: Sizes = Sizes {
    record_inspections: 300,
    reopen_inspections: 10_000,
    reopen_runs: 5,
    list_calls: 1_000,
};

const QUICK: Sizes = Sizes {
    record_inspections: 20,
    reopen_inspections: 200,
    reopen_runs: 5,
    list_calls: 50,
};

/// Every `FAIL_EVERY`-th item of a recorded inspection is answered `fail` (the rest `pass`).
const FAIL_EVERY: usize = 5;

fn main() {
    if let Some(path) = std::env::var_os(REOPEN_ENV) {
        reopen_child(Path::new(&path));
        return;
    }
    // Cargo passes `--bench` (and maybe a filter) to a harness-less bench: ignore what we don't know.
    let quick = std::env::args().skip(1).any(|a| a == "--quick")
        || std::env::var(QUICK_ENV).is_ok_and(|v| v == "1");
    let sizes = if quick { QUICK } else { FULL };
    let started = Instant::now();

    let fx = Fixtures::load();
    let mut rows = Vec::new();
    record_bench(&fx, sizes, &mut rows);
    let big = big_store_benches(&fx, sizes, &mut rows);

    print_report(quick, sizes, &rows, &big, started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// Fixtures and seeding

/// The project's fixtures (standards, checklists, the sample district).
#[derive(Debug)]
struct Fixtures {
    standards: Vec<Standard>,
    checklists: Vec<Checklist>,
    district: District,
}

impl Fixtures {
    fn load() -> Fixtures {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let standards =
            standard::load_dir(&root.join("standards")).expect("fixtures: standards load");
        let checklists = checklist::load_dir(&root.join("checklists"), &standards)
            .expect("fixtures: checklists load");
        let district =
            district::load_dir(&root.join("district")).expect("fixtures: district loads");
        Fixtures {
            standards,
            checklists,
            district,
        }
    }

    /// The first street-office user with a street-wide scope: may inspect every premises.
    fn street_office(&self) -> &User {
        self.district
            .users
            .iter()
            .find(|u| u.role == Role::StreetOffice && u.scope.kind == ScopeKind::Street)
            .expect("the sample district has a street-office user with a street scope")
    }

    fn checklist(&self, id: &str, version: u32) -> &Checklist {
        self.checklists
            .iter()
            .find(|c| c.id == id && c.version == version)
            .expect("an inspection's checklist is among the fixtures")
    }
}

/// A new store at `path` with standards, checklists and the district imported, and the
/// street-office user signed in.
fn seeded_store(fx: &Fixtures, path: &Path) -> Store {
    let t = Instant::now();
    let store = Store::open(path).expect("open a new store");
    store
        .import_standards(&fx.standards)
        .expect("import standards");
    store
        .import_checklists(&fx.checklists)
        .expect("import checklists");
    store
        .import_district(&fx.district)
        .expect("import district");
    store
        .set_current_user(&fx.street_office().id)
        .expect("sign in the street office");
    eprintln!(
        "seeded {} ({} premises) in {:.1} s",
        path.display(),
        fx.district.premises.len(),
        t.elapsed().as_secs_f64()
    );
    store
}

/// A well-formed, distinct photo reference.
fn photo(n: u64) -> PhotoRef {
    PhotoRef {
        sha256: format!("{n:064x}"),
        captured_at_ms: Some(1_764_400_000_000),
        location: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics and the table

/// Percentiles of a set of samples (nearest rank on the sorted samples).
#[derive(Debug, Clone, Copy)]
struct Stats {
    n: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    fn of(samples: &[Duration]) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let at = |p: usize| sorted[(p * sorted.len()).div_ceil(100).max(1) - 1];
        Stats {
            n: sorted.len(),
            p50: at(50),
            p99: at(99),
            max: sorted[sorted.len() - 1],
        }
    }
}

/// What a row is compared against.
#[derive(Debug, Clone, Copy)]
enum Goal {
    P50Below(Duration),
    /// With a note on what the goal applies to.
    P99Below(Duration, &'static str),
    /// No goal of its own; the text says why.
    Info(&'static str),
}

#[derive(Debug)]
struct Row {
    bench: String,
    stats: Stats,
    goal: Goal,
}

impl Row {
    fn new(bench: impl Into<String>, samples: &[Duration], goal: Goal) -> Row {
        Row {
            bench: bench.into(),
            stats: Stats::of(samples),
            goal,
        }
    }

    fn goal_text(&self) -> String {
        match self.goal {
            Goal::P50Below(d) => format!("p50 < {}", fmt_goal(d)),
            Goal::P99Below(d, note) => format!("p99 < {} ({note})", fmt_goal(d)),
            Goal::Info(text) => text.to_string(),
        }
    }

    fn met(&self) -> &'static str {
        let ok = match self.goal {
            Goal::P50Below(d) => self.stats.p50 < d,
            Goal::P99Below(d, _) => self.stats.p99 < d,
            Goal::Info(_) => return "—",
        };
        if ok { "yes" } else { "**no**" }
    }
}

fn fmt_ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn fmt_goal(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_secs_f64() * 1e3)
    }
}

fn fmt_mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Thousands separators for counts in the table.
fn fmt_count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 1. Record an inspection

/// Records `record_inspections` street-shop inspections on a freshly seeded store, timing each
/// write call (one durable transaction each) and each whole inspection.
fn record_bench(fx: &Fixtures, sizes: Sizes, rows: &mut Vec<Row>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = seeded_store(fx, &dir.path().join("firegrid.db"));
    let shops: Vec<_> = fx
        .district
        .premises
        .iter()
        .filter(|p| p.kind == PremisesKind::StreetShop)
        .collect();
    assert!(!shops.is_empty(), "the sample district has street shops");

    let n = sizes.record_inspections;
    let mut start_t = Vec::with_capacity(n);
    let mut answer_t = Vec::with_capacity(n * 25);
    let mut photo_t = Vec::with_capacity(n * 5);
    let mut finish_t = Vec::with_capacity(n);
    let mut whole_t = Vec::with_capacity(n);
    let mut hazards = 0usize;
    let mut photo_n = 0u64;
    let note = "后门通道堆放纸箱".to_string();
    let progress = Instant::now();

    for i in 0..n {
        let shop = shops[i % shops.len()];
        let whole = Instant::now();

        let t = Instant::now();
        let insp = store
            .start_inspection(&shop.id, None)
            .expect("start_inspection");
        start_t.push(t.elapsed());
        let list = fx.checklist(&insp.checklist, insp.checklist_version);

        for (k, item_id) in insp.items.iter().enumerate() {
            let fail = k % FAIL_EVERY == FAIL_EVERY / 2;
            let (result, note) = if fail {
                (AnswerResult::Fail, Some(note.clone()))
            } else {
                (AnswerResult::Pass, None)
            };
            let t = Instant::now();
            store
                .answer(&insp.id, item_id, result, note)
                .expect("answer");
            answer_t.push(t.elapsed());
            if fail
                && list
                    .item(item_id)
                    .is_some_and(|it| it.photo_required_on_fail)
            {
                photo_n += 1;
                let t = Instant::now();
                store
                    .attach_photo(&insp.id, item_id, photo(photo_n))
                    .expect("attach_photo");
                photo_t.push(t.elapsed());
            }
        }

        let t = Instant::now();
        let report = store
            .finish_inspection(&insp.id, None)
            .expect("finish_inspection");
        finish_t.push(t.elapsed());
        whole_t.push(whole.elapsed());
        hazards += report.hazards.len();

        if (i + 1) % 100 == 0 {
            eprintln!(
                "record: {}/{n} inspections in {:.1} s",
                i + 1,
                progress.elapsed().as_secs_f64()
            );
        }
    }

    let per = |count: usize| count as f64 / n as f64;
    let answers = per(answer_t.len());
    let photos = per(photo_t.len());
    let ten_ms = Goal::P99Below(Duration::from_millis(10), "per write");
    rows.push(Row::new(
        "record: one `answer` call (1 durable txn)",
        &answer_t,
        Goal::P99Below(Duration::from_millis(10), "**the record goal**, per write"),
    ));
    rows.push(Row::new(
        "record: one `start_inspection` call (1 txn)",
        &start_t,
        ten_ms,
    ));
    if !photo_t.is_empty() {
        rows.push(Row::new(
            "record: one `attach_photo` call (1 txn)",
            &photo_t,
            ten_ms,
        ));
    }
    rows.push(Row::new(
        format!(
            "record: one `finish_inspection` call (1 txn, {:.0} hazard drafts)",
            per(hazards)
        ),
        &finish_t,
        ten_ms,
    ));
    rows.push(Row::new(
        format!(
            "record: whole street-shop inspection (start + {answers:.0} answers + {photos:.0} photos + finish = {:.0} txns)",
            answers + photos + 2.0
        ),
        &whole_t,
        Goal::Info("none (the goal is per write)"),
    ));
}

// ---------------------------------------------------------------------------------------------
// 2. and 3. The full store: reopen (fresh process) and list a grid

/// What the reopen bench found besides its durations.
#[derive(Debug, Default)]
struct BigStore {
    built_on_tmpfs: bool,
    inspections: usize,
    premises: usize,
    build: Duration,
    db_bytes: u64,
    wal_bytes: u64,
    peak_rss_kb: Option<u64>,
    rss_kb: Option<u64>,
    first_page_rows: usize,
    listed_rows: usize,
}

fn big_store_benches(fx: &Fixtures, sizes: Sizes, rows: &mut Vec<Row>) -> BigStore {
    // The store is built where fsync costs nothing (tmpfs, when there is one) because the build
    // is only setup, then copied to the disk temp dir, where it is reopened and listed.
    let (build_dir, on_tmpfs) = build_dir();
    let build_path = build_dir.path().join("firegrid.db");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("firegrid.db");
    let mut big = BigStore {
        built_on_tmpfs: on_tmpfs,
        inspections: sizes.reopen_inspections,
        premises: fx.district.premises.len(),
        ..BigStore::default()
    };

    // Build: finished inspections spread round-robin over every premises, each as lean as the
    // API allows (start, the required items answered `pass`, finish).
    let t = Instant::now();
    {
        let store = seeded_store(fx, &build_path);
        let mut required: HashMap<(String, u32), Vec<String>> = HashMap::new();
        let n = sizes.reopen_inspections;
        let report_every = (n / 20).max(1);
        for i in 0..n {
            let premises = &fx.district.premises[i % fx.district.premises.len()];
            let insp = store
                .start_inspection(&premises.id, None)
                .expect("start_inspection");
            let key = (insp.checklist.clone(), insp.checklist_version);
            let req = required.entry(key).or_insert_with(|| {
                let list = fx.checklist(&insp.checklist, insp.checklist_version);
                list.items
                    .iter()
                    .filter(|it| it.required)
                    .map(|it| it.id.clone())
                    .collect()
            });
            for item_id in insp.items.iter().filter(|id| req.contains(id)) {
                store
                    .answer(&insp.id, item_id, AnswerResult::Pass, None)
                    .expect("answer");
            }
            store
                .finish_inspection(&insp.id, None)
                .expect("finish_inspection");
            if (i + 1) % report_every == 0 {
                let secs = t.elapsed().as_secs_f64();
                let eta = secs / (i + 1) as f64 * (n - i - 1) as f64;
                eprintln!(
                    "build: {}/{n} finished inspections in {secs:.0} s (about {eta:.0} s left)",
                    i + 1
                );
            }
        }
        // Dropping the store closes both connections; the last close checkpoints the WAL.
    }
    big.build = t.elapsed();
    assert!(
        !wal_path(&build_path).exists(),
        "closing the store checkpoints and removes the WAL"
    );
    std::fs::copy(&build_path, &path).expect("copy the built store to the disk temp dir");
    drop(build_dir);
    big.db_bytes = std::fs::metadata(&path).expect("db file").len();
    big.wal_bytes = std::fs::metadata(wal_path(&path)).map_or(0, |m| m.len());

    // Reopen, each time in a fresh process.
    let exe = std::env::current_exe().expect("current_exe");
    let mut open_t = Vec::new();
    let mut first_t = Vec::new();
    for run in 0..sizes.reopen_runs {
        let out = Command::new(&exe)
            .env(REOPEN_ENV, &path)
            .env_remove(QUICK_ENV)
            .stdin(Stdio::null())
            .output()
            .expect("run the reopen child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "reopen child failed ({}): {stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let child = ChildReport::parse(&stdout).expect("the reopen child's report line");
        eprintln!(
            "reopen {}/{}: open {} , open + first list {}, VmHWM {:?} kB",
            run + 1,
            sizes.reopen_runs,
            fmt_ms(child.open),
            fmt_ms(child.open_and_list),
            child.vm_hwm_kb
        );
        open_t.push(child.open);
        first_t.push(child.open_and_list);
        big.first_page_rows = child.rows;
        big.peak_rss_kb = max_opt(big.peak_rss_kb, child.vm_hwm_kb);
        big.rss_kb = max_opt(big.rss_kb, child.vm_rss_kb);
    }
    let what = format!(
        "{} premises, {} inspections",
        fmt_count(big.premises),
        fmt_count(big.inspections)
    );
    let one_s = Goal::P50Below(Duration::from_secs(1));
    rows.push(Row::new(
        format!("reopen ({what}), fresh process: `Store::open`"),
        &open_t,
        one_s,
    ));
    rows.push(Row::new(
        format!(
            "reopen ({what}), fresh process: `Store::open` + current user + first `list_premises` page ({} rows)",
            big.first_page_rows
        ),
        &first_t,
        one_s,
    ));

    // List the premises of one grid, grids taken round-robin.
    let store = Store::open(&path).expect("reopen for the list bench");
    let scopes: Vec<Scope> = fx
        .district
        .grids
        .iter()
        .map(|g| Scope::new(ScopeKind::Grid, g.id.clone()))
        .collect();
    assert!(!scopes.is_empty(), "the sample district has grids");
    let filter = PremisesFilter::default();
    let mut list_t = Vec::with_capacity(sizes.list_calls);
    for i in 0..sizes.list_calls {
        let scope = &scopes[i % scopes.len()];
        let t = Instant::now();
        let listed = store.list_premises(scope, &filter).expect("list_premises");
        list_t.push(t.elapsed());
        big.listed_rows += listed.len();
    }
    rows.push(Row::new(
        format!(
            "list premises of one grid (`Scope::Grid`, {} grids round-robin, avg {:.1} rows)",
            scopes.len(),
            big.listed_rows as f64 / sizes.list_calls as f64
        ),
        &list_t,
        Goal::P50Below(Duration::from_millis(5)),
    ));
    big
}

/// A temp dir on tmpfs (`/dev/shm`) if there is one, else the ordinary temp dir; and which.
fn build_dir() -> (tempfile::TempDir, bool) {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new()
            .prefix("firegrid-bench")
            .tempdir_in(shm)
    {
        return (dir, true);
    }
    (tempfile::tempdir().expect("temp dir"), false)
}

fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

fn max_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// What the reopen child measured.
#[derive(Debug)]
struct ChildReport {
    open: Duration,
    open_and_list: Duration,
    rows: usize,
    vm_hwm_kb: Option<u64>,
    vm_rss_kb: Option<u64>,
}

impl ChildReport {
    fn parse(stdout: &str) -> Option<ChildReport> {
        let line = stdout.lines().find(|l| l.starts_with(CHILD_TAG))?;
        let mut fields = HashMap::new();
        for kv in line.split_whitespace().skip(1) {
            let (k, v) = kv.split_once('=')?;
            fields.insert(k, v);
        }
        let num = |k: &str| fields.get(k).and_then(|v| v.parse::<u64>().ok());
        Some(ChildReport {
            open: Duration::from_nanos(num("open_ns")?),
            open_and_list: Duration::from_nanos(num("open_list_ns")?),
            rows: usize::try_from(num("rows")?).ok()?,
            vm_hwm_kb: num("vm_hwm_kb"),
            vm_rss_kb: num("vm_rss_kb"),
        })
    }
}

/// The child: open the store, read the signed-in user, list the first page of their premises,
/// print the timings and this process's RSS, exit. Nothing else is loaded before the open.
fn reopen_child(path: &Path) {
    let t = Instant::now();
    let store = Store::open(path).expect("child: open the store");
    let open = t.elapsed();
    let user = store
        .current_user()
        .expect("child: current user")
        .expect("child: a user is signed in");
    let page = store
        .list_premises(&user.scope, &PremisesFilter::default())
        .expect("child: list_premises");
    let open_and_list = t.elapsed();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or_else(|| "na".to_string(), |v| v.to_string())
    };
    println!(
        "{CHILD_TAG} open_ns={} open_list_ns={} rows={} vm_hwm_kb={} vm_rss_kb={}",
        open.as_nanos(),
        open_and_list.as_nanos(),
        page.len(),
        kb("VmHWM:"),
        kb("VmRSS:")
    );
}

// ---------------------------------------------------------------------------------------------
// Report

fn nproc() -> String {
    Command::new("nproc")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .or_else(|| {
            std::thread::available_parallelism()
                .ok()
                .map(|n| n.to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

fn print_report(quick: bool, sizes: Sizes, rows: &[Row], big: &BigStore, total: Duration) {
    println!();
    println!(
        "## Firegrid store bench{}",
        if quick {
            " (QUICK MODE: small N, not the goal sizes)"
        } else {
            ""
        }
    );
    println!();
    println!(
        "Machine: nproc = {}; {} build; store files in {} (synchronous = FULL, WAL).",
        nproc(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        std::env::temp_dir().display()
    );
    println!(
        "Durations are wall-clock (`std::time::Instant`) on this machine; percentiles are nearest-rank over the sorted samples."
    );
    println!();
    println!("| bench | n | p50 | p99 | max | goal | met? |");
    println!("|---|---:|---:|---:|---:|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.bench,
            fmt_count(r.stats.n),
            fmt_ms(r.stats.p50),
            fmt_ms(r.stats.p99),
            fmt_ms(r.stats.max),
            r.goal_text(),
            r.met()
        );
    }
    println!();
    let rss = |kb: Option<u64>| {
        kb.map_or_else(
            || "n/a (no /proc/self/status)".to_string(),
            |kb| fmt_mib(kb * 1024),
        )
    };
    println!(
        "- reopen peak RSS (VmHWM, max of {} fresh processes): {}",
        sizes.reopen_runs,
        rss(big.peak_rss_kb)
    );
    println!(
        "- reopen RSS after open + first list (VmRSS, max of {}): {}",
        sizes.reopen_runs,
        rss(big.rss_kb)
    );
    println!(
        "- database file ({} premises, {} finished inspections): {} ({} bytes){}",
        fmt_count(big.premises),
        fmt_count(big.inspections),
        fmt_mib(big.db_bytes),
        big.db_bytes,
        if big.wal_bytes > 0 {
            format!(", plus a {} WAL file", fmt_mib(big.wal_bytes))
        } else {
            ", no WAL file left after close".to_string()
        }
    );
    println!(
        "- building that store through the API took {:.1} s ({}; then copied to the disk temp dir for the reopen and list rows)",
        big.build.as_secs_f64(),
        if big.built_on_tmpfs {
            "built on tmpfs /dev/shm, where fsync is free"
        } else {
            "built in the disk temp dir"
        }
    );
    println!(
        "- the 10 ms record goal is compared against the p99 of one write call (every call is one durable transaction); the whole inspection is shown for information"
    );
    println!(
        "- the reopen runs right after the build, so the file is in the OS page cache (a warm reopen, not a cold boot)"
    );
    println!("- total bench time: {:.1} s", total.as_secs_f64());
}

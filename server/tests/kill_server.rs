//! The server process killed with SIGKILL at random instants while devices sync, on the SQLite
//! store and on PostgreSQL (when `FIREGRID_TEST_POSTGRES_URL` is set; SKIPPED otherwise): after
//! every restart, every change a device had been told was stored is on the server, and in the
//! end all devices converge with the server. The background compaction runs all along, so
//! kills also land in the middle of compactions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on any error"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use automerge::AutoCommit;
use firegrid_core::access::Role;
use firegrid_core::inspection::AnswerResult;
use firegrid_core::premises::Category;
use firegrid_core::store::RecordKind;
use firegrid_core::sync::http::HttpClient;
use firegrid_core::{Error, Store};
use firegrid_server::admin;

const PW: &str = "zhenru-kill-password";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the server binary with `store_args` (`--data-dir DIR` or `--db URL`).
fn start(store_args: &[String], port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_firegrid-server"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(store_args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

/// Hashes of every change in a document.
fn change_hashes(bytes: &[u8]) -> BTreeSet<String> {
    let mut doc = AutoCommit::load(bytes).unwrap();
    doc.get_changes(&[])
        .iter()
        .map(|c| c.hash().to_string())
        .collect()
}

/// Change hashes of every inspection and hazard the device knows the server acknowledged.
fn acknowledged(store: &Store) -> Vec<(String, BTreeSet<String>)> {
    store
        .export_records()
        .unwrap()
        .into_iter()
        .filter(|(_, k, _)| matches!(k, RecordKind::Inspection | RecordKind::Hazard))
        .filter(|(id, _, _)| store.is_synced(id).unwrap())
        .map(|(id, _, bytes)| (id, change_hashes(&bytes)))
        .collect()
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn sigkill_during_syncs_loses_no_acknowledged_change_on_sqlite() {
    let server_dir = tempfile::tempdir().unwrap();
    let data = admin::open(server_dir.path()).unwrap();
    let args = vec![
        "--data-dir".to_string(),
        server_dir.path().display().to_string(),
    ];
    kills_lose_nothing(data, &args);
}

#[test]
fn sigkill_during_syncs_loses_no_acknowledged_change_on_postgres() {
    let Some(schema) = firegrid_server::pg::TestSchema::create("sigkill_on_postgres") else {
        return;
    };
    let data = admin::open_postgres(&schema.url()).unwrap();
    kills_lose_nothing(data, &["--db".to_string(), schema.url()]);
}

/// Seeds `data` (then closes it), and runs the kill rounds against the server binary started
/// with `store_args` on the same store.
fn kills_lose_nothing(data: admin::DataDir, store_args: &[String]) {
    let rounds: u32 = std::env::var("FIREGRID_SERVER_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
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
        .take(50)
        .collect();
    admin::seed_documents(&data, &fixtures()).unwrap();
    data.accounts.set_password(&office.id, PW, 0).unwrap();
    drop(data);
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let client = HttpClient::new(&url).unwrap();
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let devices: Vec<Store> = dirs
        .iter()
        .map(|d| {
            let s = Store::open(d.path().join("phone.db")).unwrap();
            s.import_fixtures(&fixtures()).unwrap();
            s.set_current_user(&office.id).unwrap();
            s
        })
        .collect();
    let mut server = start(store_args, port);
    let tokens: Vec<String> = devices
        .iter()
        .map(|d| {
            client
                .login(&office.id, PW, d.device_id())
                .unwrap()
                .session
                .access_token
        })
        .collect();
    let mut rng = Rng(7);
    let mut interrupted = 0;
    let mut checked = 0;

    for round in 0..rounds {
        // Each device records a little, then syncs while the server is killed at a random instant.
        for d in &devices {
            let insp = d
                .start_inspection(&shops[rng.below(shops.len() as u64) as usize].id, None)
                .unwrap();
            for item in insp.items.iter().take(1 + rng.below(5) as usize) {
                d.answer(&insp.id, item, AnswerResult::Pass, None).unwrap();
            }
        }
        // Even rounds: kill at a random instant early in the syncs (most are cut off).
        // Odd rounds: let the syncs finish, then kill (their acknowledgements must survive).
        let cut = round % 2 == 0;
        let delay = Duration::from_millis(rng.below(15));
        std::thread::scope(|s| {
            let handles: Vec<_> = devices
                .iter()
                .zip(&tokens)
                .map(|(d, t)| s.spawn(|| d.sync_http(&client, t, &mut |_| {})))
                .collect();
            let mut results = Vec::new();
            if cut {
                std::thread::sleep(delay);
                server.kill().unwrap();
                server.wait().unwrap();
                results.extend(handles.into_iter().map(|h| h.join().unwrap()));
            } else {
                results.extend(handles.into_iter().map(|h| h.join().unwrap()));
                server.kill().unwrap();
                server.wait().unwrap();
            }
            for r in results {
                match r {
                    Ok(_) => {}
                    Err(Error::Network(_)) => interrupted += 1,
                    Err(e) => panic!("round {round}: unexpected error {e}"),
                }
            }
        });
        // Restart and check: everything acknowledged is on the server.
        server = start(store_args, port);
        for (d, t) in devices.iter().zip(&tokens) {
            for (id, hashes) in acknowledged(d) {
                let have = fetch(&url, t, &id);
                assert!(
                    hashes.is_subset(&have),
                    "round {round}: acknowledged changes of {id} lost"
                );
                checked += 1;
            }
        }
    }
    // Everyone converges after the storm.
    for _ in 0..2 {
        for (d, t) in devices.iter().zip(&tokens) {
            d.sync_http(&client, t, &mut |_| {}).unwrap();
        }
    }
    let a: std::collections::BTreeMap<_, _> = acknowledged(&devices[0]).into_iter().collect();
    let b: std::collections::BTreeMap<_, _> = acknowledged(&devices[1]).into_iter().collect();
    let differ: Vec<_> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    assert!(
        differ.is_empty(),
        "{} of {}/{} records differ between the devices, e.g. {:?}: a has {:?}, b has {:?}, unsynced a {} b {}",
        differ.len(),
        a.len(),
        b.len(),
        differ.first(),
        differ.first().and_then(|k| a.get(k)).map(|s| s.len()),
        differ.first().and_then(|k| b.get(k)).map(|s| s.len()),
        devices[0].unsynced_count().unwrap(),
        devices[1].unsynced_count().unwrap(),
    );
    assert_eq!(devices[0].unsynced_count().unwrap(), 0);
    server.kill().unwrap();
    server.wait().unwrap();
    eprintln!(
        "{rounds} kills, {interrupted} syncs cut off, {checked} acknowledged records checked"
    );
    assert!(interrupted > 0, "some kills must land during a sync");
    assert!(checked > 0, "some syncs must complete between kills");
}

fn fetch(url: &str, token: &str, id: &str) -> BTreeSet<String> {
    let resp = reqwest::blocking::Client::new()
        .get(format!("{url}/v1/docs/{id}"))
        .bearer_auth(token)
        .send()
        .unwrap();
    assert!(resp.status().is_success(), "{id}: {}", resp.status());
    change_hashes(&resp.bytes().unwrap())
}

/// The server killed again and again while its background compaction works through a store
/// where no document has a snapshot yet: every document stays whole (the same bytes as before),
/// and the compaction still finishes across the restarts.
#[test]
fn sigkill_during_compaction_loses_nothing() {
    use firegrid_server::sync::SyncStorage;
    use firegrid_server::sync::sqlite::SqliteStorage;
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let storage = SqliteStorage::open(&dir.path().join("sync.db")).unwrap();
        let store = Store::open(dir.path().join("seed-device.db")).unwrap();
        store.import_fixtures(&fixtures()).unwrap();
        let mut records = store.export_records().unwrap();
        records.sort_by_key(|(_, k, _)| *k != RecordKind::Premises);
        // Committed without snapshots (as a server before protocol 3 stored them), so the
        // compaction has every document to do.
        use firegrid_server::sync::{CommitOutcome, DocScope, DocWrite, parent_of, scope_of};
        for batch in records.chunks(256) {
            let writes: Vec<DocWrite> = batch
                .iter()
                .map(|(id, kind, bytes)| {
                    let mut doc = automerge::AutoCommit::load(bytes).unwrap();
                    DocWrite {
                        doc: id.clone(),
                        kind: *kind,
                        scope: scope_of(&storage, *kind, &doc)
                            .unwrap()
                            .unwrap_or(DocScope::Street),
                        parent: parent_of(*kind, &doc),
                        base: 0,
                        changes: doc
                            .get_changes(&[])
                            .iter()
                            .map(|c| (c.hash(), c.raw_bytes().to_vec()))
                            .collect(),
                        snapshot: None,
                        record: None,
                    }
                })
                .collect();
            assert_eq!(
                storage.commit("seed", &writes).unwrap(),
                CommitOutcome::Committed
            );
        }
        assert!(storage.dirty_docs(usize::MAX).unwrap().len() > 2000);
        storage.documents().unwrap()
    };
    let args = vec!["--data-dir".to_string(), dir.path().display().to_string()];
    let port = free_port();
    let mut rng = Rng(11);
    let mut kills = 0;
    let dirty = |dir: &Path| {
        SqliteStorage::open(&dir.join("sync.db"))
            .unwrap()
            .dirty_docs(usize::MAX)
            .unwrap()
            .len()
    };
    let mut left = dirty(dir.path());
    while left > 0 && kills < 200 {
        let mut server = start(&args, port);
        std::thread::sleep(Duration::from_millis(rng.below(60)));
        server.kill().unwrap();
        server.wait().unwrap();
        kills += 1;
        left = dirty(dir.path());
    }
    eprintln!("{kills} kills during compaction; {left} documents left behind");
    assert!(
        kills >= 3,
        "the compaction must be interrupted several times"
    );
    let storage = SqliteStorage::open(&dir.path().join("sync.db")).unwrap();
    assert_eq!(storage.documents().unwrap(), before, "every document whole");
    assert_eq!(left, 0, "the compaction finished across the restarts");
}

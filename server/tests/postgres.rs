//! The server on PostgreSQL: several instances on one database. The late-commit race on the
//! pull cursor, concurrent writers on two instances, compaction by two instances at once, and
//! two HTTP servers sharing one database with phones on each.
//!
//! Every test needs `FIREGRID_TEST_POSTGRES_URL` (`.ci/run` sets it to the local server); without
//! it each test prints SKIPPED and passes. Each test works in a fresh schema, dropped at the end.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on any error"
)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use automerge::AutoCommit;
use automerge::transaction::Transactable;
use firegrid_core::access::Role;
use firegrid_core::inspection::AnswerResult;
use firegrid_core::premises::Category;
use firegrid_core::store::RecordKind;
use firegrid_core::sync::http::HttpClient;
use firegrid_core::{Error, Store};
use firegrid_server::admin;
use firegrid_server::pg::{PgPool, TestSchema};
use firegrid_server::sync::compact::compact_all;
use firegrid_server::sync::memory::MemoryStorage;
use firegrid_server::sync::postgres::PgStorage;
use firegrid_server::sync::{CommitOutcome, DocScope, DocWrite, OwnChanges, SyncStorage};

/// One server instance: its own connection pool on the shared schema.
fn instance(schema: &TestSchema) -> PgStorage {
    PgStorage::open(Arc::new(PgPool::with_config(schema.config(), 4).unwrap())).unwrap()
}

/// A new change on `doc` setting `n`, as a write on `storage`'s current version.
fn edit(storage: &dyn SyncStorage, doc: &mut AutoCommit, id: &str, n: i64) -> DocWrite {
    let before = doc.get_heads();
    doc.put(automerge::ROOT, "n", n).unwrap();
    doc.put(automerge::ROOT, "pad", "x".repeat(100 + n as usize))
        .unwrap();
    doc.commit();
    DocWrite {
        snapshot: None,
        record: None,
        doc: id.to_string(),
        kind: RecordKind::Hazard,
        scope: DocScope::Street,
        parent: None,
        base: storage.load_doc(id).unwrap().map_or(0, |d| d.version),
        changes: doc
            .get_changes(&before)
            .into_iter()
            .map(|c| (c.hash(), c.raw_bytes().to_vec()))
            .collect(),
    }
}

/// Commits a new change on `doc`, checking again on the new version when another writer got
/// in first (what the engine does).
fn commit_edit(storage: &dyn SyncStorage, doc: &mut AutoCommit, id: &str, n: i64) {
    let mut write = edit(storage, doc, id, n);
    while let CommitOutcome::Stale(_) = storage.commit("dev", &[write.clone()]).unwrap() {
        write.base = storage.load_doc(id).unwrap().map_or(0, |d| d.version);
    }
}

/// Follows the log from `cursor` like a device: every change pulled, counted once.
fn pull_all(storage: &dyn SyncStorage, cursor: &mut u64, seen: &mut Vec<Vec<u8>>) {
    loop {
        let page = storage
            .pull(
                *cursor,
                1 << 20,
                &|_| true,
                &OwnChanges::default(),
                &HashSet::new(),
            )
            .unwrap();
        for d in page.docs {
            seen.extend(d.changes);
        }
        *cursor = page.cursor;
        if !page.more {
            return;
        }
    }
}

#[test]
fn a_change_that_commits_late_is_not_skipped_by_a_pull_cursor() {
    let Some(schema) = TestSchema::create("a_change_that_commits_late_is_not_skipped") else {
        return;
    };
    let (slow, fast, reader) = (instance(&schema), instance(&schema), instance(&schema));
    let (mut a, mut b) = (AutoCommit::new(), AutoCommit::new());
    // The slow instance takes the next position, then waits 1.5 s before COMMIT; meanwhile the
    // fast one commits and a device pulls. With positions from a SEQUENCE the fast change
    // (N + 2) would be visible first and the cursor would pass N + 1 for good.
    slow.set_commit_pause(Some(Duration::from_millis(1500)));
    let slow_write = edit(&slow, &mut a, "hz.slow", 1);
    let fast_write = edit(&fast, &mut b, "hz.fast", 1);
    let (mut cursor, mut seen) = (0, Vec::new());
    let started = Instant::now();
    let (slow_done, fast_done) = std::thread::scope(|s| {
        let slow_thread = s.spawn(|| {
            slow.commit("dev-a", &[slow_write]).unwrap();
            started.elapsed()
        });
        std::thread::sleep(Duration::from_millis(300));
        let fast_thread = s.spawn(|| {
            fast.commit("dev-b", &[fast_write]).unwrap();
            started.elapsed()
        });
        // A device polls all along.
        while !fast_thread.is_finished() || !slow_thread.is_finished() {
            pull_all(&reader, &mut cursor, &mut seen);
            std::thread::sleep(Duration::from_millis(20));
        }
        (slow_thread.join().unwrap(), fast_thread.join().unwrap())
    });
    pull_all(&reader, &mut cursor, &mut seen);
    assert!(
        fast_done >= slow_done,
        "the later writer waited for the earlier one ({fast_done:?} vs {slow_done:?})"
    );
    assert_eq!(seen.len(), 2, "the device got both changes");
    assert_eq!(cursor, 2);
}

#[test]
fn concurrent_writers_on_two_instances_lose_nothing_and_readers_skip_nothing() {
    let Some(schema) = TestSchema::create("concurrent_writers_on_two_instances") else {
        return;
    };
    let instances = [instance(&schema), instance(&schema)];
    let reader = instance(&schema);
    let (writers, each) = (6usize, 12i64);
    let done = AtomicBool::new(false);
    let seen = std::thread::scope(|s| {
        let follow = s.spawn(|| {
            let (mut cursor, mut seen) = (0, Vec::new());
            loop {
                let last_round = done.load(Ordering::SeqCst);
                pull_all(&reader, &mut cursor, &mut seen);
                if last_round {
                    return seen;
                }
            }
        });
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let storage = &instances[w % 2];
                s.spawn(move || {
                    // Half the writers share one document, the others have their own.
                    let id = if w % 2 == 0 {
                        "hz.shared".to_string()
                    } else {
                        format!("hz.own{w}")
                    };
                    let mut doc = AutoCommit::new();
                    for n in 0..each {
                        commit_edit(storage, &mut doc, &id, n);
                        if n % 5 == 0 {
                            compact_all(storage).unwrap();
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        follow.join().unwrap()
    });
    let total = writers * each as usize;
    assert_eq!(seen.len(), total, "the follower saw every change once");
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        total,
        "no duplicates"
    );
    assert_eq!(instances[0].max_seq().unwrap(), total as u64);
    let shared = instances[1].load_doc("hz.shared").unwrap().unwrap();
    let mut doc = shared.to_automerge("hz.shared").unwrap();
    assert_eq!(
        doc.get_changes(&[]).len(),
        (writers / 2) * each as usize,
        "no update lost on the shared document"
    );
    assert_eq!(doc.get_heads().len(), writers / 2);
    // Compaction by two instances at once ends in the same documents.
    let before = instances[0].documents().unwrap();
    std::thread::scope(|s| {
        for i in &instances {
            s.spawn(move || compact_all(i).unwrap());
        }
    });
    assert!(instances[0].dirty_docs(10).unwrap().is_empty());
    assert_eq!(instances[1].documents().unwrap(), before);
}

#[test]
fn the_postgres_store_pages_and_refuses_stale_writes_like_the_memory_store() {
    let Some(schema) = TestSchema::create("the_postgres_store_pages_like_memory") else {
        return;
    };
    let pg = instance(&schema);
    let memory = MemoryStorage::new();
    let area = |c: &str, g: Option<&str>| DocScope::Area {
        community: c.to_string(),
        grid: g.map(str::to_string),
    };
    let scopes = [
        DocScope::Street,
        area("c1", None),
        area("c1", Some("g1")),
        area("c1", Some("g2")),
        area("c2", Some("g3")),
    ];
    let mut docs: Vec<AutoCommit> = (0..scopes.len()).map(|_| AutoCommit::new()).collect();
    for round in 0..10i64 {
        let mut writes = Vec::new();
        for (i, scope) in scopes.iter().enumerate() {
            if (round + i as i64) % 3 == 0 {
                let mut w = edit(&pg, &mut docs[i], &format!("hz.{i}"), round);
                w.scope = scope.clone();
                writes.push(w);
            }
        }
        assert_eq!(pg.commit("dev", &writes).unwrap(), CommitOutcome::Committed);
        assert_eq!(
            memory.commit("dev", &writes).unwrap(),
            CommitOutcome::Committed
        );
        // The same writes again: stale now, nothing written.
        if let Some(w) = writes.iter().find(|w| !w.changes.is_empty()) {
            let outcome = pg.commit("dev", std::slice::from_ref(w)).unwrap();
            assert_eq!(outcome, CommitOutcome::Stale(w.doc.clone()));
        }
        if round % 4 == 3 {
            // Pulls send whole documents as their snapshots: compact both alike.
            compact_all(&pg).unwrap();
            compact_all(&memory).unwrap();
        }
    }
    assert_eq!(pg.max_seq().unwrap(), memory.max_seq().unwrap());
    // Documents read in a batch are the documents read one by one: missing ids and an id
    // named twice included, with their tails.
    let ids = ["hz.0", "hz.none", "hz.3", "hz.0", "hz.4", "hz.1"];
    let batch = pg.load_docs(&ids).unwrap();
    let one_by_one: Vec<_> = ids.iter().map(|id| pg.load_doc(id).unwrap()).collect();
    assert_eq!(format!("{batch:?}"), format!("{one_by_one:?}"));
    assert_eq!(
        format!("{batch:?}"),
        format!("{:?}", memory.load_docs(&ids).unwrap())
    );
    assert!(batch[1].is_none() && batch.iter().filter(|d| d.is_some()).count() == 5);
    assert!(batch.iter().flatten().any(|d| !d.tail.is_empty()));
    type Filter = Box<dyn Fn(&DocScope) -> bool>;
    let filters: Vec<Filter> = vec![
        Box::new(|_| true),
        Box::new(|_| false),
        Box::new(|s| matches!(s, DocScope::Area { community, .. } if community == "c1")),
        Box::new(|s| matches!(s, DocScope::Area { grid: Some(g), .. } if g == "g3")),
        Box::new(|s| *s == DocScope::Street),
    ];
    let max = memory.max_seq().unwrap();
    // A device holding every other document at its current heads (PostgreSQL leaves those out
    // by the digest stored with the snapshot, the memory store by reading the snapshot).
    let held: HashSet<[u8; 16]> = memory
        .documents()
        .iter()
        .step_by(2)
        .map(|(id, bytes)| {
            let heads = AutoCommit::load(bytes).unwrap().get_heads();
            firegrid_core::sync::protocol::held_digest(id, &heads)
        })
        .collect();
    let none = OwnChanges::default();
    assert!(
        pg.pull(0, 1 << 20, &|_| true, &none, &held)
            .unwrap()
            .docs
            .len()
            < pg.pull(0, 1 << 20, &|_| true, &none, &HashSet::new())
                .unwrap()
                .docs
                .len(),
        "some documents are left out as held"
    );
    for held in [HashSet::new(), held] {
        for visible in &filters {
            for max_bytes in [0, 300, 1000, 1 << 20] {
                for cursor in 0..=max + 1 {
                    let page = |s: &dyn SyncStorage| {
                        s.pull(cursor, max_bytes, visible, &none, &held).unwrap()
                    };
                    let (a, b) = (page(&memory), page(&pg));
                    assert_eq!((a.cursor, a.more), (b.cursor, b.more));
                    assert_eq!(format!("{:?}", a.docs), format!("{:?}", b.docs));
                    assert_eq!(a.records, b.records);
                }
            }
        }
    }
    let mut expected = memory.documents();
    expected.sort();
    assert_eq!(pg.documents().unwrap(), expected);
    // A second instance opening the same database migrates nothing and shares the epoch.
    let again = instance(&schema);
    assert_eq!(again.epoch().unwrap(), pg.epoch().unwrap());
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

const PW: &str = "zhenru-pg-password";

/// Heads of every inspection and hazard a phone holds.
fn field_records(store: &Store) -> BTreeMap<String, Vec<String>> {
    store
        .export_records()
        .unwrap()
        .into_iter()
        .filter(|(_, k, _)| matches!(k, RecordKind::Inspection | RecordKind::Hazard))
        .map(|(id, _, bytes)| {
            let mut doc = AutoCommit::load(&bytes).unwrap();
            let mut heads: Vec<String> = doc.get_heads().iter().map(|h| h.to_string()).collect();
            heads.sort();
            (id, heads)
        })
        .collect()
}

#[test]
fn two_http_servers_on_one_database_serve_the_same_street() {
    let Some(schema) = TestSchema::create("two_http_servers_on_one_database") else {
        return;
    };
    let district = firegrid_core::district::load_dir(&fixtures().join("district")).unwrap();
    let office: Vec<_> = district
        .users
        .iter()
        .filter(|u| u.role == Role::StreetOffice)
        .take(2)
        .collect();
    let data_a =
        admin::open_pool(Arc::new(PgPool::with_config(schema.config(), 4).unwrap())).unwrap();
    let data_b =
        admin::open_pool(Arc::new(PgPool::with_config(schema.config(), 4).unwrap())).unwrap();
    assert!(admin::seed_documents(&data_a, &fixtures()).unwrap() > 1000);
    assert_eq!(
        admin::seed_documents(&data_b, &fixtures()).unwrap(),
        0,
        "the second instance sees the street already seeded"
    );
    for u in &office {
        data_a.accounts.set_password(&u.id, PW, 0).unwrap();
    }
    let urls = [
        firegrid_server::serve::spawn_local(data_a.clone()).unwrap(),
        firegrid_server::serve::spawn_local(data_b.clone()).unwrap(),
    ];
    let clients: Vec<HttpClient> = urls.iter().map(|u| HttpClient::new(u).unwrap()).collect();

    // Four phones, two on each instance; each inspects its own shops offline.
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let shops: Vec<_> = district
        .premises
        .iter()
        .filter(|p| p.category() == Category::StreetShop)
        .take(8)
        .collect();
    let mut phones = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let store = Store::open(dir.path().join("phone.db")).unwrap();
        store.import_fixtures(&fixtures()).unwrap();
        let user = office[i % 2];
        store.set_current_user(&user.id).unwrap();
        // Log in on one instance; the token works on the other as well.
        let login = clients[i % 2]
            .login(&user.id, PW, store.device_id())
            .unwrap();
        let token = login.session.access_token;
        for shop in &shops[i * 2..i * 2 + 2] {
            let insp = store.start_inspection(&shop.id, None).unwrap();
            for item in &insp.items {
                store
                    .answer(&insp.id, item, AnswerResult::Pass, None)
                    .unwrap();
            }
            store.finish_inspection(&insp.id, None).unwrap();
        }
        phones.push((store, token));
    }
    // Everyone syncs twice, alternating instances.
    for round in 0..2 {
        for (i, (store, token)) in phones.iter().enumerate() {
            let client = &clients[(i + round) % 2];
            store.sync_http(client, token, &mut |_| {}).unwrap();
        }
    }
    let expected = field_records(&phones[0].0);
    assert_eq!(expected.len(), 8, "every phone's inspections");
    for (store, _) in &phones {
        assert_eq!(field_records(store), expected);
        assert_eq!(store.unsynced_count().unwrap(), 0);
    }
    // A device revoked through one instance is refused by the other at its next request.
    data_a
        .accounts
        .revoke_device(phones[1].0.device_id(), firegrid_core::vocab::now_ms())
        .unwrap();
    let refused = phones[1]
        .0
        .sync_http(&clients[1], &phones[1].1, &mut |_| {});
    assert!(
        matches!(
            refused,
            Err(Error::Unauthorized(_) | Error::Server { status: 403, .. })
        ),
        "{refused:?}"
    );
    // What the instances serve comes from the one database.
    compact_all(data_b.storage.as_ref()).unwrap();
    assert!(data_a.storage.dirty_docs(10).unwrap().is_empty());
}

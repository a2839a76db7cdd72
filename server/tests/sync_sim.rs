//! The sync protocol between real device stores (SQLite files) and the sans-I/O server engine
//! over an in-memory network: no sockets. Faults are injected in the network (requests and
//! responses lost after the server committed), in the server (history restored from a backup)
//! and on devices (store restored from a backup); every device must converge with nothing lost.
//!
//! Every scenario and the property test run against the server stores: `MemoryStorage` (the
//! reference), `SqliteStorage` (the embedded server database) and `PgStorage` (PostgreSQL, when
//! `FIREGRID_TEST_POSTGRES_URL` names a database; otherwise those tests say SKIPPED), each
//! started from the same seeded state, so the device template serves them all.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on any error"
)]

mod common;

use common::Device;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use automerge::AutoCommit;
use firegrid_core::access::{Role, User};
use firegrid_core::district::District;
use firegrid_core::hazard::{NewHazard, Severity};
use firegrid_core::inspection::AnswerResult;
use firegrid_core::premises::{Category, Premises};
use firegrid_core::store::RecordKind;
use firegrid_core::sync::SyncReport;
use firegrid_core::sync::protocol::{RefusalReason, SyncRequest};
use firegrid_core::{Error, Store};
use firegrid_server::pg::{PgPool, TestSchema};
use firegrid_server::sync::memory::MemoryStorage;
use firegrid_server::sync::postgres::PgStorage;
use firegrid_server::sync::sqlite::SqliteStorage;
use firegrid_server::sync::{
    CommitOutcome, DocWrite, Principal, SyncStorage, handle, parent_of, scope_of,
};
use proptest::prelude::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

struct Template {
    _dir: tempfile::TempDir,
    db: PathBuf,
    district: District,
    server: MemoryStorage,
    /// The fixture records in the order they were seeded.
    records: Vec<(String, RecordKind, Vec<u8>)>,
    /// The SQLite server database in the same seeded state as `server`.
    server_db: PathBuf,
}

/// A server seeded from the fixtures (in memory, and as an SQLite server file with the same log
/// and epoch), and a device store file with the same fixtures that has synced with it once (so
/// devices start with the cursor at the seed's end) and has no device id yet (each copy makes
/// its own).
fn template() -> &'static Template {
    static T: OnceLock<Template> = OnceLock::new();
    T.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("template.db");
        let store = Store::open(&db).unwrap();
        store.import_fixtures(&fixtures()).unwrap();
        let mut records = store.export_records().unwrap();
        // Premises first: inspections and hazards take their scope from them.
        records.sort_by_key(|(_, k, _)| *k != RecordKind::Premises);
        let server = MemoryStorage::new();
        for (id, kind, bytes) in &records {
            server.seed_document(id, *kind, bytes).unwrap();
        }
        let server_db = dir.path().join("server-template.db");
        seed_sqlite(&server_db, &records, &server);
        let district = firegrid_core::district::load_dir(&fixtures().join("district")).unwrap();
        let office = district
            .users
            .iter()
            .find(|u| u.role == Role::StreetOffice)
            .unwrap()
            .clone();
        let who = Principal {
            user: office,
            device_id: store.device_id().to_string(),
        };
        let mut transport =
            |bytes: Vec<u8>| handle(&server, &who, &SyncRequest::decode(&bytes)?)?.encode();
        let first = store.sync_via(&mut transport, &mut |_| {}).unwrap();
        assert_eq!(
            first.sent_changes, 0,
            "imported fixtures count as acknowledged"
        );
        drop(store);
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "DELETE FROM meta WHERE key = 'device_id'; PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .unwrap();
        drop(c);
        Template {
            _dir: dir,
            db,
            district,
            server,
            records,
            server_db,
        }
    })
}

/// Seeds an SQLite server file with `records` in the same order as `memory` was seeded, so the
/// log holds the same changes at the same positions, then gives it `memory`'s epoch: a device
/// that synced with one is in step with the other. Leaves one self-contained file (no WAL).
fn seed_sqlite(path: &Path, records: &[(String, RecordKind, Vec<u8>)], memory: &MemoryStorage) {
    let started = std::time::Instant::now();
    let storage = SqliteStorage::open(path).unwrap();
    for (id, kind, bytes) in records {
        storage.seed_document(id, *kind, bytes).unwrap();
    }
    drop(storage);
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'epoch'",
        [memory.epoch().unwrap()],
    )
    .unwrap();
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    drop(c);
    let storage = SqliteStorage::open(path).unwrap();
    assert_eq!(storage.epoch().unwrap(), memory.epoch().unwrap());
    assert_eq!(storage.max_seq().unwrap(), memory.max_seq().unwrap());
    assert_eq!(storage.log_len().unwrap(), memory.log_len());
    let mut expected = memory.documents();
    expected.sort();
    assert_eq!(storage.documents().unwrap(), expected);
    drop(storage);
    let wal = path.with_extension("db-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the template is one file: copies take everything"
    );
    eprintln!(
        "seeded the SQLite server template: {} records, {} changes, {:.1?}",
        records.len(),
        memory.log_len(),
        started.elapsed()
    );
}

/// What the tests need of a server store beyond [`SyncStorage`]: the test-only helpers both
/// stores offer, with errors turned into test failures.
trait Server {
    /// The store as the engine sees it.
    fn storage(&self) -> &dyn SyncStorage;
    /// Every document's id and saved bytes.
    fn documents(&self) -> Vec<(String, Vec<u8>)>;
    /// Number of changes in the log.
    fn log_len(&self) -> usize;
    /// Replaces the history as a restore from an older backup would.
    fn restore_to(&self, keep: usize);
}

impl Server for MemoryStorage {
    fn storage(&self) -> &dyn SyncStorage {
        self
    }
    fn documents(&self) -> Vec<(String, Vec<u8>)> {
        MemoryStorage::documents(self)
    }
    fn log_len(&self) -> usize {
        MemoryStorage::log_len(self)
    }
    fn restore_to(&self, keep: usize) {
        MemoryStorage::restore_to(self, keep).unwrap();
    }
}

/// An SQLite server in its own directory (the storage is dropped before the directory).
struct SqliteServer {
    storage: SqliteStorage,
    dir: tempfile::TempDir,
}

impl SqliteServer {
    /// Closes the database and opens it again (a server restart).
    fn reopen(self) -> SqliteServer {
        let SqliteServer { storage, dir } = self;
        let path = storage.path().to_path_buf();
        drop(storage);
        SqliteServer {
            storage: SqliteStorage::open(&path).unwrap(),
            dir,
        }
    }
}

impl Server for SqliteServer {
    fn storage(&self) -> &dyn SyncStorage {
        &self.storage
    }
    fn documents(&self) -> Vec<(String, Vec<u8>)> {
        self.storage.documents().unwrap()
    }
    fn log_len(&self) -> usize {
        self.storage.log_len().unwrap()
    }
    fn restore_to(&self, keep: usize) {
        self.storage.restore_to(keep).unwrap();
    }
}

/// A PostgreSQL server in a schema of its own (dropped with it).
struct PgServer {
    storage: PgStorage,
    _schema: TestSchema,
}

impl Server for PgServer {
    fn storage(&self) -> &dyn SyncStorage {
        &self.storage
    }
    fn documents(&self) -> Vec<(String, Vec<u8>)> {
        self.storage.documents().unwrap()
    }
    fn log_len(&self) -> usize {
        self.storage.log_len().unwrap()
    }
    fn restore_to(&self, _keep: usize) {
        unreachable!("the restore scenario runs on memory and SQLite only")
    }
}

/// A PostgreSQL server in the seeded state, or `None` (the test says SKIPPED) without a
/// database: the template's records in one commit, in the same order as the memory server's
/// (so the same log positions), and the memory server's epoch.
fn pg_server(test: &str) -> Option<PgServer> {
    let schema = TestSchema::create(test)?;
    let pool = std::sync::Arc::new(PgPool::with_config(schema.config(), 4).unwrap());
    let storage = PgStorage::open(pool.clone()).unwrap();
    let t = template();
    let writes: Vec<DocWrite> = t
        .records
        .iter()
        .map(|(id, kind, bytes)| {
            let mut doc = AutoCommit::load(bytes).unwrap();
            let scope = scope_of(&t.server, *kind, &doc).unwrap().unwrap();
            DocWrite {
                // Each fixture document is one saved document: its snapshot, as seeding keeps.
                snapshot: Some(bytes.clone()),
                record: firegrid_core::hydrate::Record::read_encoded(*kind, &doc),
                doc: id.clone(),
                kind: *kind,
                scope,
                parent: parent_of(*kind, &doc),
                base: 0,
                changes: doc
                    .get_changes(&[])
                    .into_iter()
                    .map(|c| (c.hash(), c.raw_bytes().to_vec()))
                    .collect(),
            }
        })
        .collect();
    assert_eq!(
        storage.commit("seed", &writes).unwrap(),
        CommitOutcome::Committed
    );
    pool.get()
        .unwrap()
        .execute(
            "UPDATE sync_meta SET value = $1 WHERE key = 'epoch'",
            &[&t.server.epoch().unwrap()],
        )
        .unwrap();
    assert_eq!(storage.max_seq().unwrap(), t.server.max_seq().unwrap());
    Some(PgServer {
        storage,
        _schema: schema,
    })
}

/// An in-memory server in the seeded state (the same epoch every time).
fn memory_server() -> MemoryStorage {
    template().server.fork()
}

/// An SQLite server in the seeded state: a copy of the template file (much faster than seeding).
fn sqlite_server() -> SqliteServer {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    std::fs::copy(&template().server_db, &path).unwrap();
    SqliteServer {
        storage: SqliteStorage::open(&path).unwrap(),
        dir,
    }
}

/// Runs a scenario `fn(&dyn Server)` as tests `<scenario>::memory`, `<scenario>::sqlite` and
/// (unless marked `memory_and_sqlite_only`) `<scenario>::postgres`.
macro_rules! on_every_store {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[test]
            fn memory() {
                super::$scenario(&super::memory_server());
            }
            #[test]
            fn sqlite() {
                super::$scenario(&super::sqlite_server());
            }
            #[test]
            fn postgres() {
                if let Some(server) = super::pg_server(concat!(stringify!($scenario), "::postgres")) {
                    super::$scenario(&server);
                }
            }
        }
    )*};
    (memory_and_sqlite_only: $($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[test]
            fn memory() {
                super::$scenario(&super::memory_server());
            }
            #[test]
            fn sqlite() {
                super::$scenario(&super::sqlite_server());
            }
        }
    )*};
}

on_every_store!(
    a_premises_moved_to_another_grid_takes_its_records_to_that_grid_s_devices,
    a_patrollers_inspection_reaches_the_office_and_not_another_grid,
    writes_outside_scope_and_changes_of_another_device_are_refused,
    lost_responses_are_retried_without_duplicates,
    a_device_restored_from_backup_gets_its_lost_writes_back,
    new_records_go_whole_and_what_a_device_holds_is_not_sent_back,
);
// Restoring a PostgreSQL database from a backup is PostgreSQL's own tooling; the server's
// side of it (a new epoch, devices resending) is the same code as on SQLite.
on_every_store!(
    memory_and_sqlite_only: a_server_restored_from_backup_gets_everything_back_from_the_devices,
);

fn device(user: &User) -> Device {
    common::device_from(&template().db, user)
}

fn user(role: Role) -> &'static User {
    template()
        .district
        .users
        .iter()
        .find(|u| u.role == role)
        .unwrap()
}

/// A transport to `server` as `who`; `fail` decides per round whether the response is lost
/// after the server handled (and committed) the request.
fn sync(
    dev: &Device,
    server: &dyn Server,
    fail: &mut dyn FnMut() -> bool,
) -> Result<SyncReport, Error> {
    let who = dev.who.clone();
    let mut transport = |bytes: Vec<u8>| -> Result<Vec<u8>, Error> {
        let req = SyncRequest::decode(&bytes)?;
        let resp = handle(server.storage(), &who, &req)?;
        let out = resp.encode()?;
        if fail() {
            return Err(Error::Sync("connection reset".into()));
        }
        Ok(out)
    };
    dev.store.sync_via(&mut transport, &mut |_| {})
}

fn sync_ok(dev: &Device, server: &dyn Server) -> SyncReport {
    sync(dev, server, &mut || false).unwrap()
}

fn heads(bytes: &[u8]) -> Vec<String> {
    let mut doc = AutoCommit::load(bytes).unwrap();
    let mut h: Vec<String> = doc.get_heads().iter().map(|h| h.to_string()).collect();
    h.sort();
    h
}

/// Heads of every inspection and hazard a device holds.
fn field_records(store: &Store) -> BTreeMap<String, Vec<String>> {
    store
        .export_records()
        .unwrap()
        .into_iter()
        .filter(|(_, k, _)| matches!(k, RecordKind::Inspection | RecordKind::Hazard))
        .map(|(id, _, bytes)| (id, heads(&bytes)))
        .collect()
}

fn server_records(server: &dyn Server) -> BTreeMap<String, Vec<String>> {
    server
        .documents()
        .into_iter()
        .filter(|(id, _)| id.starts_with("insp.") || id.starts_with("hz."))
        .map(|(id, bytes)| (id, heads(&bytes)))
        .collect()
}

fn shop_in(grid: &str) -> &'static Premises {
    template()
        .district
        .premises
        .iter()
        .find(|p| p.grid == grid && p.category() == Category::StreetShop)
        .unwrap()
}

fn inspect(store: &Store, premises: &str, fail_first: bool) -> String {
    let insp = store.start_inspection(premises, None).unwrap();
    let checklist = store
        .checklist(&insp.checklist, insp.checklist_version)
        .unwrap();
    for (n, item) in insp.items.iter().enumerate() {
        let fail = fail_first && n == 0;
        store
            .answer(
                &insp.id,
                item,
                if fail {
                    AnswerResult::Fail
                } else {
                    AnswerResult::Pass
                },
                None,
            )
            .unwrap();
        if fail && checklist.item(item).unwrap().photo_required_on_fail {
            store
                .attach_photo(
                    &insp.id,
                    item,
                    firegrid_core::vocab::PhotoRef {
                        sha256: "ab".repeat(32),
                        captured_at_ms: None,
                        location: None,
                    },
                )
                .unwrap();
        }
    }
    store.finish_inspection(&insp.id, None).unwrap();
    insp.id
}

fn patroller_of(grid: &str) -> &'static User {
    template()
        .district
        .users
        .iter()
        .find(|u| u.role == Role::GridPatroller && u.scope.id == grid)
        .unwrap()
}

/// The office moves a premises to another grid after its inspection and hazard were synced:
/// the new grid's patroller, whose cursor passed those changes long ago, gets the premises and
/// its records whole at the next incremental sync; the old grid's patroller gets nothing new.
fn a_premises_moved_to_another_grid_takes_its_records_to_that_grid_s_devices(server: &dyn Server) {
    let (from, to) = ("grid.01.1", "grid.04.1");
    let shop = shop_in(from);
    let office = device(user(Role::StreetOffice));
    let old_grid = device(patroller_of(from));
    let new_grid = device(patroller_of(to));
    let insp = inspect(&office.store, &shop.id, true);
    sync_ok(&office, server);
    sync_ok(&old_grid, server);
    sync_ok(&new_grid, server);
    assert!(old_grid.store.inspection(&insp).is_ok());
    assert!(
        new_grid.store.inspection(&insp).is_err(),
        "not in its grid yet"
    );
    let hazards = office.store.list_hazards(&shop.id).unwrap();
    assert_eq!(hazards.len(), 1);

    // The office moves the premises (an edit of its record, pushed like any other).
    let grid = template()
        .district
        .grids
        .iter()
        .find(|g| g.id == to)
        .unwrap();
    let stored = server.storage().load_doc(&shop.id).unwrap().unwrap();
    let mut doc = stored.to_automerge(&shop.id).unwrap();
    let mut actor = uuid::Uuid::parse_str(&office.who.device_id)
        .unwrap()
        .as_bytes()[..8]
        .to_vec();
    actor.extend_from_slice(&[9; 8]);
    doc.set_actor(automerge::ActorId::from(actor));
    let before = doc.get_heads();
    let mut moved: Premises = autosurgeon::hydrate(&doc).unwrap();
    moved.grid = grid.id.clone();
    moved.community = grid.community.clone();
    autosurgeon::reconcile(&mut doc, &moved).unwrap();
    doc.commit();
    let push = firegrid_core::sync::protocol::DocChanges {
        doc: shop.id.clone(),
        kind: RecordKind::Premises.as_str().to_string(),
        changes: doc
            .get_changes(&before)
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect(),
    };
    let req = SyncRequest {
        epoch: Some(server.storage().epoch().unwrap()),
        cursor: server.storage().max_seq().unwrap(),
        pushes: vec![push],
        max_pull_bytes: 1 << 20,
        held: vec![],
        record_format: firegrid_core::hydrate::RECORD_FORMAT,
    };
    let resp = handle(server.storage(), &office.who, &req).unwrap();
    assert_eq!(
        resp.acks[0].outcome,
        firegrid_core::sync::protocol::PushOutcome::Stored {
            missing_deps: false
        }
    );

    // The new grid's patroller: everything, whole, at an incremental sync.
    let r = sync_ok(&new_grid, server);
    assert!(r.touched >= 3, "premises, inspection and hazard: {r:?}");
    assert_eq!(new_grid.store.premises(&shop.id).unwrap().grid, to);
    let got = new_grid.store.inspection(&insp).unwrap();
    assert_eq!(got, office.store.inspection(&insp).unwrap());
    assert_eq!(new_grid.store.list_hazards(&shop.id).unwrap().len(), 1);
    new_grid.store.verify().unwrap();
    // Later edits of the records reach the new grid, not the old one.
    office
        .store
        .report_hazard(NewHazard {
            premises: shop.id.clone(),
            severity: Severity::General,
            description: "疏散通道堆放杂物".into(),
            location: None,
            photos: vec![],
        })
        .unwrap();
    sync_ok(&office, server);
    sync_ok(&new_grid, server);
    let before_old = field_records(&old_grid.store);
    sync_ok(&old_grid, server);
    assert_eq!(
        field_records(&old_grid.store),
        before_old,
        "the old grid gets nothing new"
    );
    assert_eq!(new_grid.store.list_hazards(&shop.id).unwrap().len(), 2);
}

fn a_patrollers_inspection_reaches_the_office_and_not_another_grid(server: &dyn Server) {
    let patroller = template()
        .district
        .users
        .iter()
        .find(|u| u.role == Role::GridPatroller)
        .unwrap();
    let other_patroller = template()
        .district
        .users
        .iter()
        .find(|u| u.role == Role::GridPatroller && u.scope.id != patroller.scope.id)
        .unwrap();
    let a = device(patroller);
    let office = device(user(Role::StreetOffice));
    let other = device(other_patroller);

    let shop = shop_in(&patroller.scope.id);
    let insp = inspect(&a.store, &shop.id, true);
    assert_eq!(
        a.store.unsynced_count().unwrap(),
        2,
        "the inspection and its hazard wait to be sent"
    );

    let report = sync_ok(&a, server);
    assert_eq!(
        report.rounds, 1,
        "one round trip when there is little to do"
    );
    assert_eq!(report.acknowledged, 2);
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(a.store.unsynced_count().unwrap(), 0);

    let r = sync_ok(&office, server);
    assert_eq!(r.touched, 2);
    let seen = office.store.inspection(&insp).unwrap();
    assert_eq!(seen.hazards.len(), 1);
    let hz = office.store.hazard(&seen.hazards[0]).unwrap();
    assert_eq!(hz.premises, shop.id);
    assert_eq!(office.store.list_hazards(&shop.id).unwrap().len(), 1);

    sync_ok(&other, server);
    assert!(
        matches!(other.store.inspection(&insp), Err(Error::NotFound { .. })),
        "another grid sees nothing"
    );

    // Nothing to do: one round trip, nothing sent or received.
    let idle = sync_ok(&a, server);
    assert_eq!((idle.rounds, idle.sent_changes, idle.touched), (1, 0, 0));
    assert_eq!(field_records(&a.store), field_records(&office.store));
}

fn writes_outside_scope_and_changes_of_another_device_are_refused(server: &dyn Server) {
    let patroller = user(Role::GridPatroller);
    // A device whose local user is the office, but whose server identity is a patroller:
    // the server must refuse what the patroller may not write.
    let mut rogue = device(user(Role::StreetOffice));
    let far_shop = template()
        .district
        .premises
        .iter()
        .find(|p| p.grid != patroller.scope.id && p.category() == Category::StreetShop)
        .unwrap();
    inspect(&rogue.store, &far_shop.id, false);
    rogue.who.user = patroller.clone();
    let r = sync_ok(&rogue, server);
    assert_eq!(r.refused.len(), 1);
    assert_eq!(r.refused[0].1, RefusalReason::Forbidden);
    assert!(
        server_records(server).is_empty(),
        "nothing of a refused push is stored"
    );
    // Refused pushes are not retried until the record changes.
    let again = sync_ok(&rogue, server);
    assert_eq!(again.sent_changes, 0);

    // Changes whose actor is not the sending device's.
    let mut thief = device(user(Role::StreetOffice));
    inspect(&thief.store, &far_shop.id, false);
    thief.who.device_id = uuid::Uuid::new_v4().simple().to_string();
    let r = sync_ok(&thief, server);
    assert!(
        r.refused
            .iter()
            .all(|(_, why)| *why == RefusalReason::ForeignActor),
        "{:?}",
        r.refused
    );
    assert!(!r.refused.is_empty());

    // A department may not write inspections at all.
    let mut dept = device(user(Role::StreetOffice));
    inspect(&dept.store, &far_shop.id, false);
    dept.who.user = user(Role::Department).clone();
    assert!(
        sync_ok(&dept, server)
            .refused
            .iter()
            .all(|(_, why)| *why == RefusalReason::Forbidden)
    );
    assert!(server_records(server).is_empty());
}

/// Takes a closed device file back to "never pulled" (a new phone, or one that lost its cursor).
fn forget_cursor(path: &Path) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute("UPDATE meta SET value = '0' WHERE key = 'sync_cursor'", [])
        .unwrap();
}

/// Protocol 3: a record the server has never acknowledged is pushed as the saved document the
/// device stores, and the server keeps it as the record's snapshot at once; a device catching
/// up names what it holds, and the documents it holds at the same heads are not sent to it (a
/// new phone's fixtures, a device's own records coming back), everything else is.
fn new_records_go_whole_and_what_a_device_holds_is_not_sent_back(server: &dyn Server) {
    use firegrid_core::sync::protocol::{SyncResponse, is_document_chunk};
    let a = device(user(Role::StreetOffice));
    let shops: Vec<_> = template()
        .district
        .premises
        .iter()
        .filter(|p| p.category() == Category::StreetShop)
        .take(3)
        .collect();
    let mut ids: Vec<String> = shops
        .iter()
        .map(|s| inspect(&a.store, &s.id, true))
        .collect();
    // One still open, to be edited later.
    let open = a.store.start_inspection(&shops[0].id, None).unwrap();
    a.store
        .answer(&open.id, &open.items[0], AnswerResult::Pass, None)
        .unwrap();
    ids.insert(0, open.id.clone());
    let (req, _) = a.store.sync_request(1 << 20).unwrap();
    assert!(!req.pushes.is_empty());
    for p in &req.pushes {
        assert!(
            matches!(p.changes.as_slice(), [doc] if is_document_chunk(doc)),
            "{} goes as one saved document",
            p.doc
        );
    }
    assert!(req.held.is_empty(), "a device that caught up names nothing");

    // Every round's pulled documents, by id, and how many came with their record.
    let pulled_by = |dev: &Device| {
        let who = dev.who.clone();
        let mut pulled: Vec<String> = Vec::new();
        let mut shipped = 0;
        let mut transport = |bytes: Vec<u8>| -> Result<Vec<u8>, Error> {
            let req = SyncRequest::decode(&bytes)?;
            let resp = handle(server.storage(), &who, &req)?;
            pulled.extend(resp.pulled.iter().map(|d| d.doc.clone()));
            shipped += resp.records.iter().flatten().count();
            let out = resp.encode()?;
            SyncResponse::decode(&out)?;
            Ok(out)
        };
        let report = dev.store.sync_via(&mut transport, &mut |_| {}).unwrap();
        (report, pulled, shipped)
    };
    let (report, pulled, _) = pulled_by(&a);
    assert_eq!(report.refused, vec![]);
    assert_eq!(report.acknowledged as usize, req.pushes.len());
    assert!(
        pulled.is_empty(),
        "A holds the fixtures and its own records at the server's heads: {pulled:?}"
    );
    for id in &ids {
        let stored = server.storage().load_doc(id).unwrap().unwrap();
        assert!(
            !stored.snapshot.is_empty() && stored.tail.is_empty(),
            "{id} is stored with its snapshot at once"
        );
    }
    assert_eq!(field_records(&a.store), server_records(server));

    // A new phone with the fixtures (no cursor yet): only the records it lacks come.
    let b = device(user(Role::StreetOffice));
    drop(b.store);
    forget_cursor(&b.path);
    let b = Device {
        store: Store::open(&b.path).unwrap(),
        ..b
    };
    let (req, _) = b.store.sync_request(1 << 20).unwrap();
    assert!(
        req.held.len() > 2000,
        "a device without a cursor names what it holds"
    );
    let (_, pulled, shipped) = pulled_by(&b);
    // Inspections and hazards, each its snapshot alone: each came with its record (protocol
    // 4), taken without loading the document; verify below reads every document against it.
    assert_eq!(shipped, pulled.len(), "{pulled:?}");
    let expected: std::collections::BTreeSet<String> = server_records(server).into_keys().collect();
    let got: std::collections::BTreeSet<String> = pulled.iter().cloned().collect();
    assert_eq!(got, expected, "only the field records, each once");
    assert_eq!(pulled.len(), expected.len());
    assert_eq!(field_records(&b.store), server_records(server));
    b.store.verify().unwrap();

    // An edit after that reaches the other device as a change (it is caught up: it names
    // nothing), and a device that lost its cursor names documents at older heads: those come.
    let c_dir = tempfile::tempdir().unwrap();
    let c_path = c_dir.path().join("c.db");
    drop(b.store);
    std::fs::copy(&b.path, &c_path).unwrap();
    let b = Device {
        store: Store::open(&b.path).unwrap(),
        ..b
    };
    a.store
        .answer(&open.id, &open.items[1], AnswerResult::Fail, None)
        .unwrap();
    sync_ok(&a, server);
    let (report, pulled, _) = pulled_by(&b);
    assert_eq!((report.touched, pulled), (1, vec![ids[0].clone()]));
    assert_eq!(field_records(&b.store), server_records(server));
    // C: B's database from before that edit, with its cursor lost.
    forget_cursor(&c_path);
    let c = Device {
        _dir: c_dir,
        store: Store::open(&c_path).unwrap(),
        path: c_path,
        who: b.who,
    };
    let (_, pulled, _) = pulled_by(&c);
    assert!(pulled.contains(&ids[0]), "held at older heads: sent");
    assert!(
        !pulled.contains(&ids[1]),
        "held at the same heads: not sent"
    );
    assert_eq!(field_records(&c.store), server_records(server));
}

fn lost_responses_are_retried_without_duplicates(server: &dyn Server) {
    let a = device(user(Role::StreetOffice));
    let shops: Vec<_> = template()
        .district
        .premises
        .iter()
        .filter(|p| p.category() == Category::StreetShop)
        .take(5)
        .collect();
    for s in &shops {
        inspect(&a.store, &s.id, true);
    }
    // The server commits, the response is lost: nothing is marked sent.
    let err = sync(&a, server, &mut || true).unwrap_err();
    assert!(matches!(err, Error::Sync(_)));
    assert_eq!(a.store.unsynced_count().unwrap(), 10);
    let log_after_first = server.log_len();
    // The retry sends the same changes again; the server stores nothing twice.
    let r = sync_ok(&a, server);
    assert_eq!(r.acknowledged, 10);
    assert_eq!(server.log_len(), log_after_first);
    assert_eq!(a.store.unsynced_count().unwrap(), 0);
    assert_eq!(field_records(&a.store), server_records(server));
}

fn a_server_restored_from_backup_gets_everything_back_from_the_devices(server: &dyn Server) {
    let seeded = server.log_len();
    let a = device(user(Role::StreetOffice));
    let b = device(user(Role::StreetOffice));
    let shops: Vec<_> = template()
        .district
        .premises
        .iter()
        .filter(|p| p.category() == Category::StreetShop)
        .take(4)
        .collect();
    // A patroller, who may write none of the reference records every phone holds.
    let p = device(user(Role::GridPatroller));
    inspect(&a.store, &shops[0].id, true);
    sync_ok(&a, server);
    inspect(&b.store, &shops[1].id, true);
    sync_ok(&b, server);
    sync_ok(&a, server);
    sync_ok(&p, server);
    // The server loses everything after its seed.
    server.restore_to(seeded);
    assert!(server_records(server).is_empty());
    let r = sync_ok(&a, server);
    assert!(r.rounds >= 2, "a reset, then a full resend");
    sync_ok(&b, server);
    sync_ok(&a, server);
    assert_eq!(server_records(server).len(), 4);
    assert_eq!(field_records(&a.store), server_records(server));
    assert_eq!(field_records(&b.store), server_records(server));
    // The patroller resends what it holds too: records the server holds already are
    // acknowledged whoever may write them, so nothing stays "not yet sent" (a sign-out would
    // otherwise refuse to wipe the phone).
    let r = sync_ok(&p, server);
    assert_eq!(
        r.refused,
        vec![],
        "nothing new was pushed: nothing to refuse"
    );
    assert_eq!(p.store.unsynced_count().unwrap(), 0);
}

fn a_device_restored_from_backup_gets_its_lost_writes_back(server: &dyn Server) {
    let a = device(user(Role::StreetOffice));
    let shop = shop_in(&template().district.grids[0].id);
    let backup = a._dir.path().join("backup.db");
    std::fs::copy(&a.path, &backup).unwrap();
    let insp = inspect(&a.store, &shop.id, true);
    sync_ok(&a, server);
    // The phone is restored from the backup made before the inspection.
    let Device {
        _dir,
        path,
        store,
        who,
    } = a;
    drop(store);
    let _ = std::fs::remove_file(path.with_extension("db-wal"));
    std::fs::copy(&backup, &path).unwrap();
    let store = Store::open(&path).unwrap();
    assert!(
        store.inspection(&insp).is_err(),
        "the restore lost the inspection locally"
    );
    let restored = Device {
        _dir,
        path,
        store,
        who,
    };
    sync_ok(&restored, server);
    assert_eq!(
        restored.store.inspection(&insp).unwrap().hazards.len(),
        1,
        "it comes back from the server"
    );
    assert_eq!(field_records(&restored.store), server_records(server));
}

/// One step of the random workload.
#[derive(Debug, Clone)]
enum Op {
    /// Device starts an inspection of the n-th shop.
    Start(usize, usize),
    /// Device answers item k of the m-th in-progress inspection it knows (maybe another's).
    Answer(usize, usize, usize, bool),
    /// Device finishes the m-th in-progress inspection it knows, answering what is left.
    Finish(usize, usize),
    /// Device reports a hazard at the n-th shop.
    Report(usize, usize),
    /// Device syncs; the fault: 0 none, 1 response lost, 2 request delivered twice.
    Sync(usize, u8),
}

fn op(devices: usize) -> impl Strategy<Value = Op> {
    let d = 0..devices;
    prop_oneof![
        2 => (d.clone(), 0..40usize).prop_map(|(d, n)| Op::Start(d, n)),
        6 => (d.clone(), 0..4usize, 0..30usize, any::<bool>()).prop_map(|(d, m, k, f)| Op::Answer(d, m, k, f)),
        1 => (d.clone(), 0..4usize).prop_map(|(d, m)| Op::Finish(d, m)),
        1 => (d.clone(), 0..40usize).prop_map(|(d, n)| Op::Report(d, n)),
        4 => (d, 0..3u8).prop_map(|(d, f)| Op::Sync(d, f)),
    ]
}

fn in_progress(store: &Store) -> Vec<String> {
    store
        .inspection_history(&firegrid_core::inspection::HistoryFilter {
            status: Some(firegrid_core::inspection::InspectionStatus::InProgress),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect()
}

fn shops() -> &'static [&'static Premises] {
    static S: OnceLock<Vec<&'static Premises>> = OnceLock::new();
    S.get_or_init(|| {
        template()
            .district
            .premises
            .iter()
            .filter(|p| p.category() == Category::StreetShop)
            .take(40)
            .collect()
    })
}

fn run(dev: &Device, server: &dyn Server, op: &Op) {
    let s = &dev.store;
    match *op {
        Op::Start(_, n) => {
            s.start_inspection(&shops()[n].id, None).unwrap();
        }
        Op::Answer(_, m, k, fail) => {
            let list = in_progress(s);
            if let Some(id) = list.get(m % list.len().max(1)) {
                let insp = s.inspection(id).unwrap();
                let item = &insp.items[k % insp.items.len()];
                let r = if fail {
                    AnswerResult::Fail
                } else {
                    AnswerResult::Pass
                };
                // Another device may have finished it meanwhile (after a sync): refused, fine.
                match s.answer(id, item, r, Some(format!("{k}"))) {
                    Ok(()) | Err(Error::InspectionFinished(_)) => {}
                    Err(e) => panic!("{e}"),
                }
            }
        }
        Op::Finish(_, m) => {
            let list = in_progress(s);
            if let Some(id) = list.get(m % list.len().max(1)) {
                let insp = s.inspection(id).unwrap();
                for item in &insp.items {
                    if insp.answers.get(item).and_then(|a| a.result).is_none() {
                        s.answer(id, item, AnswerResult::Pass, None).unwrap();
                    }
                    if insp.answers.get(item).and_then(|a| a.result) == Some(AnswerResult::Fail) {
                        let photo = firegrid_core::vocab::PhotoRef {
                            sha256: "cd".repeat(32),
                            captured_at_ms: None,
                            location: None,
                        };
                        s.attach_photo(id, item, photo).unwrap();
                    }
                }
                s.finish_inspection(id, None).unwrap();
            }
        }
        Op::Report(_, n) => {
            s.report_hazard(NewHazard {
                premises: shops()[n].id.clone(),
                description: format!("随机隐患 {n}"),
                severity: Severity::General,
                photos: vec![],
                location: None,
            })
            .unwrap();
        }
        Op::Sync(_, fault) => {
            let who = dev.who.clone();
            let mut transport = |bytes: Vec<u8>| -> Result<Vec<u8>, Error> {
                let req = SyncRequest::decode(&bytes)?;
                let mut resp = handle(server.storage(), &who, &req)?;
                if fault == 2 {
                    // Delivered twice: the second answer counts.
                    resp = handle(server.storage(), &who, &req)?;
                }
                if fault == 1 {
                    return Err(Error::Sync("response lost".into()));
                }
                resp.encode()
            };
            match s.sync_via(&mut transport, &mut |_| {}) {
                Ok(_) => {}
                Err(Error::Sync(_)) if fault == 1 => {}
                Err(e) => panic!("sync failed: {e}"),
            }
        }
    }
}

/// Cases of the property test on the in-memory server (CI runs the default).
fn seeds() -> u32 {
    std::env::var("FIREGRID_SYNC_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500)
}

/// Cases of the property test on the SQLite server: fewer, as every commit waits for an fsync;
/// the memory run covers the engine, this one the store.
fn sqlite_seeds() -> u32 {
    std::env::var("FIREGRID_SYNC_SEEDS_SQLITE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
}

/// 3–5 devices edit offline (also the same inspections, after syncing), sync in random orders
/// with lost responses and duplicated requests; after a final round everyone holds the same
/// documents with the same heads as the server.
fn offline_edits_converge(server: &dyn Server, n: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let devices: Vec<Device> = (0..n).map(|_| device(user(Role::StreetOffice))).collect();
    for o in ops {
        let d = match *o {
            Op::Start(d, ..)
            | Op::Answer(d, ..)
            | Op::Finish(d, ..)
            | Op::Report(d, ..)
            | Op::Sync(d, ..) => d % n,
        };
        run(&devices[d], server, o);
    }
    for _ in 0..2 {
        for dev in &devices {
            sync_ok(dev, server);
        }
    }
    let expected = server_records(server);
    for dev in &devices {
        prop_assert_eq!(&field_records(&dev.store), &expected);
        prop_assert_eq!(dev.store.unsynced_count().unwrap(), 0);
    }
    // Every document whole and its rows in step (one device: verifying reads all 2,000).
    devices[0].store.verify().unwrap();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: seeds(), max_shrink_iters: 200, ..ProptestConfig::default() })]

    /// [`offline_edits_converge`] on the in-memory server.
    #[test]
    fn random_offline_edits_converge(n in 3usize..=5, ops in prop::collection::vec(op(5), 1..40)) {
        offline_edits_converge(&memory_server(), n, &ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: sqlite_seeds(), max_shrink_iters: 200, ..ProptestConfig::default() })]

    /// [`offline_edits_converge`] on the SQLite server.
    #[test]
    fn random_offline_edits_converge_on_sqlite(n in 3usize..=5, ops in prop::collection::vec(op(5), 1..40)) {
        offline_edits_converge(&sqlite_server(), n, &ops)?;
    }
}

/// Cases of the property test on the PostgreSQL server.
fn pg_seeds() -> u32 {
    std::env::var("FIREGRID_SYNC_SEEDS_PG")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50)
}

/// [`offline_edits_converge`] on the PostgreSQL server (skipped without a database).
#[test]
fn random_offline_edits_converge_on_postgres() {
    if std::env::var(firegrid_server::pg::TEST_URL_VAR).is_err() {
        let _ = pg_server("random_offline_edits_converge_on_postgres"); // says SKIPPED
        return;
    }
    let config = ProptestConfig {
        cases: pg_seeds(),
        max_shrink_iters: 50,
        ..ProptestConfig::default()
    };
    let strategy = (3usize..=5, prop::collection::vec(op(5), 1..40));
    proptest::test_runner::TestRunner::new(config)
        .run(&strategy, |(n, ops)| {
            let server = pg_server("random_offline_edits_converge_on_postgres").unwrap();
            offline_edits_converge(&server, n, &ops)
        })
        .unwrap();
}

#[test]
fn the_sqlite_server_keeps_every_acknowledged_change_and_its_epoch_when_reopened() {
    let server = sqlite_server();
    let a = device(user(Role::StreetOffice));
    let shops: Vec<_> = shops().iter().take(3).collect();
    inspect(&a.store, &shops[0].id, true);
    inspect(&a.store, &shops[1].id, false);
    assert_eq!(sync_ok(&a, &server).acknowledged, 3);
    assert_eq!(a.store.unsynced_count().unwrap(), 0);
    let epoch = server.storage.epoch().unwrap();
    let log_len = server.log_len();
    let documents = server.documents();

    // A crash right after the acknowledgement: the files as they are, never closed.
    let crashed = server.dir.path().join("crashed.db");
    std::fs::copy(server.storage.path(), &crashed).unwrap();
    let wal = |p: &Path| p.with_extension("db-wal");
    std::fs::copy(wal(server.storage.path()), wal(&crashed)).unwrap();
    let after_crash = SqliteStorage::open(&crashed).unwrap();
    assert_eq!(after_crash.epoch().unwrap(), epoch);
    assert_eq!(after_crash.log_len().unwrap(), log_len);
    assert_eq!(after_crash.documents().unwrap(), documents);
    drop(after_crash);

    // A clean restart.
    let server = server.reopen();
    assert_eq!(server.storage.epoch().unwrap(), epoch, "the same history");
    assert_eq!(server.log_len(), log_len);
    assert_eq!(server.documents(), documents);
    assert_eq!(field_records(&a.store), server_records(&server));
    // Devices carry on without a reset: the writer has nothing to do, the office gets it all.
    let idle = sync_ok(&a, &server);
    assert_eq!((idle.rounds, idle.sent_changes, idle.touched), (1, 0, 0));
    let office = device(user(Role::StreetOffice));
    let r = sync_ok(&office, &server);
    assert_eq!((r.rounds, r.touched), (1, 3));
    assert_eq!(field_records(&office.store), server_records(&server));
    // And keeps committing after the restart.
    inspect(&office.store, &shops[2].id, false);
    assert_eq!(sync_ok(&office, &server).acknowledged, 1);
    sync_ok(&a, &server);
    assert_eq!(field_records(&a.store), field_records(&office.store));
}

#[test]
fn a_corrupt_foreign_or_newer_server_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, "not a database, just text ".repeat(400)).unwrap();
    assert!(
        matches!(
            SqliteStorage::open(&garbage),
            Err(Error::NotADatabase { .. })
        ),
        "a file that is not SQLite"
    );

    let device_store = dir.path().join("device.db");
    std::fs::copy(&template().db, &device_store).unwrap();
    match SqliteStorage::open(&device_store) {
        Err(Error::ForeignDatabase { application_id, .. }) => {
            assert_eq!(application_id, firegrid_core::store::APPLICATION_ID);
        }
        other => panic!("a device store opened as a server database: {other:?}"),
    }

    let other_app = dir.path().join("other.db");
    rusqlite::Connection::open(&other_app)
        .unwrap()
        .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    assert!(matches!(
        SqliteStorage::open(&other_app),
        Err(Error::ForeignDatabase {
            application_id: 0,
            ..
        })
    ));

    let newer = dir.path().join("newer.db");
    std::fs::copy(&template().server_db, &newer).unwrap();
    let future = firegrid_server::sync::sqlite::LATEST_VERSION + 1;
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", future)
        .unwrap();
    let before = std::fs::read(&newer).unwrap();
    match SqliteStorage::open(&newer) {
        Err(Error::DatabaseTooNew { found, supported }) => {
            assert_eq!((found, supported), (future, future - 1));
        }
        other => panic!("a newer server database was opened: {other:?}"),
    }
    assert_eq!(
        std::fs::read(&newer).unwrap(),
        before,
        "refused before writing"
    );

    // None of these was turned into a server database.
    for refused in [&device_store, &other_app] {
        let c = rusqlite::Connection::open(refused).unwrap();
        let id: i64 = c
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .unwrap();
        assert_ne!(id, firegrid_server::sync::sqlite::APPLICATION_ID);
    }
}

/// Protocol 4's records, stored with snapshots, travel alike from every store (see
/// `common::records_travel_with_snapshots`); PostgreSQL when `FIREGRID_TEST_POSTGRES_URL` is set.
#[test]
fn records_travel_with_snapshots_alike_in_every_store() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryStorage::new();
    let sqlite = SqliteStorage::open(&dir.path().join("server.db")).unwrap();
    let expected = format!("{:?}", common::records_travel_with_snapshots(&memory));
    assert_eq!(
        format!("{:?}", common::records_travel_with_snapshots(&sqlite)),
        expected
    );
    let Some(schema) = TestSchema::create("records_travel_with_snapshots") else {
        return;
    };
    let pg = PgStorage::open(std::sync::Arc::new(
        PgPool::with_config(schema.config(), 2).unwrap(),
    ))
    .unwrap();
    assert_eq!(
        format!("{:?}", common::records_travel_with_snapshots(&pg)),
        expected
    );
}

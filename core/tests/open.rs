//! Opening store files: new, reopened, migrated from the first schema, and refused with a typed
//! error when the file is not a database, belongs to another application, is newer than this
//! code, or is corrupt. Nothing panics.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

mod common;

use std::path::Path;

use common::*;
use firegrid_core::access::Role;
use firegrid_core::inspection::AnswerResult;
use firegrid_core::store::{APPLICATION_ID, LATEST_VERSION};
use firegrid_core::{Error, Store};

/// The schema-1 database kept as a fixture (see `tests/data/README.md`).
const V1_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/store-v1.db");

fn schema_sql(path: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema ORDER BY type, name")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_new_store_reopens_with_its_data_and_device_id() {
    let dir = tempfile::tempdir().unwrap();
    let (device, insp_id, item) = {
        let store = seeded_store(dir.path());
        let office = user_with_role(Role::StreetOffice);
        store.set_current_user(&office.id).unwrap();
        let p = &loaded().district.premises[0];
        let insp = store.start_inspection(&p.id, None).unwrap();
        store
            .answer(
                &insp.id,
                &insp.items[0],
                AnswerResult::Fail,
                Some("note".into()),
            )
            .unwrap();
        (
            store.device_id().to_string(),
            insp.id,
            insp.items[0].clone(),
        )
    };
    let store = Store::open(dir.path().join("firegrid.db")).unwrap();
    assert_eq!(store.device_id(), device);
    assert!(
        store.current_user().unwrap().is_some(),
        "the signed-in user survives a restart"
    );
    let insp = store.inspection(&insp_id).unwrap();
    assert_eq!(insp.answers[&item].result, Some(AnswerResult::Fail));
    // Re-importing the same fixtures changes nothing.
    let f = loaded();
    let r = store.import_district(&f.district).unwrap();
    assert_eq!((r.created, r.updated), (0, 0));
    assert_eq!(
        store.verify().unwrap().records,
        r.unchanged + 3 + 1 + 1 /* checklists, standard, inspection */
    );
}

#[test]
fn fixture_documents_are_identical_on_every_device() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    drop(seeded_store(a.path()));
    drop(seeded_store(b.path()));
    let rows = |p: &Path| -> Vec<(String, Vec<u8>)> {
        let conn = rusqlite::Connection::open(p.join("firegrid.db")).unwrap();
        let mut stmt = conn
            .prepare("SELECT id, doc FROM record ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let (ra, rb) = (rows(a.path()), rows(b.path()));
    assert!(ra.len() > 1500);
    assert!(
        ra == rb,
        "two imports of the same fixtures must give byte-identical documents"
    );
}

#[test]
fn the_schema_1_fixture_opens_and_migrates_to_the_same_schema_as_a_fresh_store() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.db");
    std::fs::copy(V1_FIXTURE, &old).unwrap();
    let store = Store::open(&old).unwrap();
    let report = store.verify().unwrap();
    assert!(report.records > 0);
    let user = store
        .current_user()
        .unwrap()
        .expect("the fixture has a signed-in user");
    assert_eq!(user.role, Role::GridPatroller);
    let history = store
        .inspection_history(&firegrid_core::inspection::HistoryFilter::default())
        .unwrap();
    assert_eq!(
        history.len(),
        1,
        "the fixture holds one finished inspection"
    );
    let insp = store.inspection(&history[0].id).unwrap();
    assert_eq!(insp.hazards.len(), 1);
    store.hazard(&insp.hazards[0]).unwrap();
    // Schema 2 adds the sync state: the field records recorded at schema 1 wait to be sent,
    // the imported reference data counts as already on the server.
    assert_eq!(store.unsynced_count().unwrap(), 2);
    drop(store);

    let fresh = dir.path().join("fresh.db");
    drop(Store::open(&fresh).unwrap());
    assert_eq!(
        schema_sql(&old),
        schema_sql(&fresh),
        "migrated schema equals fresh schema"
    );
    let version: i64 = rusqlite::Connection::open(&old)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, LATEST_VERSION);
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    std::fs::write(&path, "这不是数据库 — this is not a database\n".repeat(300)).unwrap();
    match Store::open(&path) {
        Err(Error::NotADatabase { path: p }) => assert_eq!(p, path),
        other => panic!("expected NotADatabase, got {other:?}"),
    }
    // The file is left as it was.
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("这不是数据库")
    );
}

#[test]
fn another_applications_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE contacts(name TEXT); INSERT INTO contacts VALUES ('x');")
            .unwrap();
    }
    assert!(matches!(
        Store::open(&path),
        Err(Error::ForeignDatabase {
            application_id: 0,
            ..
        })
    ));
    let c = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "no Firegrid table was added");
}

#[test]
fn a_database_from_a_newer_firegrid_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("firegrid.db");
    drop(Store::open(&path).unwrap());
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", LATEST_VERSION + 7)
            .unwrap();
    }
    match Store::open(&path) {
        Err(e @ Error::DatabaseTooNew { .. }) => {
            assert!(e.to_string().contains("update the app"), "{e}");
        }
        other => panic!("expected DatabaseTooNew, got {other:?}"),
    }
    let c = rusqlite::Connection::open(&path).unwrap();
    let app: i64 = c
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app, APPLICATION_ID);
}

#[test]
fn a_missing_folder_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/folder/firegrid.db");
    assert!(matches!(Store::open(&path), Err(Error::Open { .. })));
}

#[test]
fn a_corrupt_document_is_reported_not_panicked() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path());
    let victim = loaded().district.premises[3].id.clone();
    drop(store);
    {
        let c = rusqlite::Connection::open(dir.path().join("firegrid.db")).unwrap();
        c.execute(
            "UPDATE record SET doc = x'00112233445566778899' WHERE id = ?1",
            [&victim],
        )
        .unwrap();
    }
    let store = Store::open(dir.path().join("firegrid.db")).unwrap();
    match store.premises(&victim) {
        Err(Error::CorruptRecord { id, .. }) => assert_eq!(id, victim),
        other => panic!("expected CorruptRecord, got {other:?}"),
    }
    assert!(matches!(store.verify(), Err(Error::CorruptRecord { .. })));
    // Other records are still readable.
    store.premises(&loaded().district.premises[4].id).unwrap();
}

#[test]
fn a_damaged_file_gives_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    drop(seeded_store(dir.path()));
    let path = dir.path().join("firegrid.db");
    let mut bytes = std::fs::read(&path).unwrap();
    // Overwrite a stretch in the middle of the file (table and index pages) with garbage.
    let mid = bytes.len() / 2;
    for (i, b) in bytes[mid..mid + 64 * 1024].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31);
    }
    std::fs::write(&path, &bytes).unwrap();
    let _ = std::fs::remove_file(dir.path().join("firegrid.db-wal"));
    match Store::open(&path) {
        Err(_) => {}
        Ok(store) => {
            assert!(store.verify().is_err(), "damage must be detected");
            let _ = store.list_premises(
                &firegrid_core::access::Scope::new(
                    firegrid_core::access::ScopeKind::Street,
                    "street.zhenru",
                ),
                &Default::default(),
            );
        }
    }
}

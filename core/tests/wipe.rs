//! Sign-out wipe (`Store::wipe`): refused while changes wait for the server, complete when it
//! runs (every record and row, the signed-in user, the sync state, the photo folder), a store a
//! new user can sign in to, and crash-safe: SIGKILL at random instants during a wipe leaves
//! either the whole store or an empty one, never something in between that looks whole.
//!
//! The kill test's child is this same binary re-executed with `FIREGRID_WIPE_CHILD_DB` set,
//! running only `wipe_child` (a no-op in a normal run).
#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use firegrid_core::access::Role;
use firegrid_core::inspection::AnswerResult;
use firegrid_core::premises::Category;
use firegrid_core::{Error, Store};

const CHILD_ENV: &str = "FIREGRID_WIPE_CHILD_DB";

/// Fills the store's photo folder with `n` files (two levels, like a content-addressed store).
fn fill_photos(store: &Store, n: usize) {
    let dir = store.photo_dir();
    for i in 0..n {
        let sub = dir.join(format!("{:02x}", i % 16));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("{i:064x}.jpg")), [i as u8; 64]).unwrap();
    }
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

/// A patroller's inspection in progress: one record the server has not seen.
fn unsynced_inspection(store: &Store) -> String {
    let patroller = user_with_role(Role::GridPatroller);
    store.set_current_user(&patroller.id).unwrap();
    let shop = store
        .list_premises(&patroller.scope, &Default::default())
        .unwrap()
        .into_iter()
        .find(|p| p.category == Category::StreetShop)
        .unwrap();
    let insp = store.start_inspection(&shop.id, None).unwrap();
    store
        .answer(&insp.id, &insp.items[0], AnswerResult::Pass, None)
        .unwrap();
    insp.id
}

#[test]
fn a_wipe_with_unsynced_changes_is_refused_and_removes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path());
    let insp = unsynced_inspection(&store);
    fill_photos(&store, 5);
    let before = store.export_records().unwrap().len();

    match store.wipe(false) {
        Err(Error::UnsyncedChanges { records, photos }) => assert_eq!((records, photos), (1, 0)),
        other => panic!("expected UnsyncedChanges, got {other:?}"),
    }
    assert_eq!(store.export_records().unwrap().len(), before);
    assert!(store.inspection(&insp).is_ok());
    assert!(store.current_user().unwrap().is_some(), "still signed in");
    assert_eq!(count_files(&store.photo_dir()), 5, "photos kept");
    store.verify().unwrap();
}

#[test]
fn a_wipe_is_refused_while_photos_wait_for_the_photo_sync() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path());
    let insp = unsynced_inspection(&store);
    let camera = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/photos/exif-orientation-6-gps.jpg"),
    )
    .unwrap();
    let photo = store.add_photo(&camera, false).unwrap();
    let item = store.inspection(&insp).unwrap().items[0].clone();
    store.attach_photo(&insp, &item, photo.clone()).unwrap();

    // The record and its photo both wait: the refusal counts each.
    match store.wipe(false) {
        Err(Error::UnsyncedChanges { records, photos }) => assert_eq!((records, photos), (1, 1)),
        other => panic!("expected UnsyncedChanges, got {other:?}"),
    }
    assert!(
        !store.photo_bytes(&photo.sha256).unwrap().is_empty(),
        "photo kept"
    );

    // Once the server holds the photo, only the record keeps the wipe back.
    store.mark_photo_uploaded(&photo.sha256).unwrap();
    match store.wipe(false) {
        Err(Error::UnsyncedChanges { records, photos }) => assert_eq!((records, photos), (1, 0)),
        other => panic!("expected UnsyncedChanges, got {other:?}"),
    }
    assert!(store.photo_bytes(&photo.sha256).is_ok(), "nothing removed");
}

#[test]
fn a_forced_wipe_leaves_an_empty_store_a_new_user_signs_in_to() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path());
    let device = store.device_id().to_string();
    let insp = unsynced_inspection(&store);
    fill_photos(&store, 40);
    let before = store.export_records().unwrap().len() as u64;

    let report = store.wipe(true).unwrap();
    assert_eq!(report.records, before);
    assert_eq!(report.unsynced_dropped, 1);
    assert_eq!(report.photos, 40);
    assert!(store.export_records().unwrap().is_empty());
    assert!(store.current_user().unwrap().is_none(), "signed out");
    assert_eq!(store.unsynced_count().unwrap(), 0);
    assert!(matches!(
        store.inspection(&insp),
        Err(Error::NotFound { .. })
    ));
    assert!(store.departments().unwrap().is_empty());
    assert!(!store.photo_dir().exists(), "photo folder removed");
    assert_eq!(store.device_id(), device, "the phone stays the same device");
    store.verify().unwrap();
    // Every table is empty, meta holds only the device id, and the old rows are not in the file.
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("firegrid.db")).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(tables.len() > 10, "{tables:?}");
    // The unsynced inspection's changes were in the push outbox too.
    assert!(tables.iter().any(|t| t == "push_outbox"), "{tables:?}");
    for t in &tables {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap();
        let expected = i64::from(t == "meta");
        assert_eq!(n, expected, "table {t}");
    }
    drop(conn);
    let bytes = std::fs::read(dir.path().join("firegrid.db")).unwrap();
    let name = &loaded().district.premises[0].name;
    assert!(
        !bytes.windows(name.len()).any(|w| w == name.as_bytes()),
        "a premises name is still in the file's pages"
    );

    // A new user: the store reopens, the reference data comes back, and they work in it.
    let store = Store::open(dir.path().join("firegrid.db")).unwrap();
    assert_eq!(store.device_id(), device);
    store.import_fixtures(&fixtures()).unwrap();
    let office = user_with_role(Role::StreetOffice);
    store.set_current_user(&office.id).unwrap();
    assert!(
        !store
            .list_premises(&office.scope, &Default::default())
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.wipe(false).unwrap().unsynced_dropped,
        0,
        "nothing unsynced: no force needed"
    );
}

#[test]
fn a_wipe_killed_after_its_commit_is_finished_by_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("firegrid.db");
    let store = seeded_store(dir.path());
    store.wipe(false).unwrap();
    fill_photos(&store, 12);
    let photos = store.photo_dir();
    drop(store);
    // The state a kill between the commit and the folder's removal leaves: the marker is set.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('wipe_photos', '1')",
        [],
    )
    .unwrap();
    drop(conn);

    let store = Store::open(&db).unwrap();
    assert!(!photos.exists(), "the open finished the wipe");
    store.verify().unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let keys: Vec<String> = conn
        .prepare("SELECT key FROM meta ORDER BY key")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys, ["device_id"]);
}

#[test]
fn departments_are_listed_from_the_records_on_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path());
    let mut expected = loaded().district.departments.clone();
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert!(!expected.is_empty());
    assert_eq!(store.departments().unwrap(), expected);
}

/// Entry point of the child process (a no-op unless the parent set `FIREGRID_WIPE_CHILD_DB`):
/// opens the store, says so, and wipes it (forced).
#[test]
fn wipe_child() {
    let Ok(db) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Store::open(&db).expect("child opens the store");
    println!("open");
    store.wipe(true).expect("wipe");
    println!("wiped");
}

#[test]
fn sigkill_during_a_wipe_leaves_the_whole_store_or_an_empty_one() {
    let rounds: u64 = std::env::var("FIREGRID_KILL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    const PHOTOS: usize = 1_500;
    let template = tempfile::tempdir().unwrap();
    let store = seeded_store(template.path());
    unsynced_inspection(&store);
    let whole = store.export_records().unwrap().len();
    drop(store);
    let template_db = std::fs::read(template.path().join("firegrid.db")).unwrap();

    let exe = std::env::current_exe().unwrap();
    // Copies the template into a new folder with its photos, starts a child that wipes it, and
    // kills the child `kill_after` after it said the store was open (None: let it finish).
    // Returns the folder, the database, the photo folder and the time from open to wiped.
    let run = |kill_after: Option<Duration>| {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("firegrid.db");
        std::fs::write(&db, &template_db).unwrap();
        let photo_dir = {
            let store = Store::open(&db).unwrap();
            fill_photos(&store, PHOTOS);
            store.photo_dir()
        };
        let mut child = Command::new(&exe)
            .args(["--exact", "wipe_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &db)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // libtest prints "test wipe_child ... " before the child's own output.
        while !lines
            .next()
            .expect("child said nothing")
            .unwrap()
            .ends_with("open")
        {}
        let t = Instant::now();
        let took = match kill_after {
            Some(delay) => {
                while t.elapsed() < delay {
                    std::hint::spin_loop();
                }
                child.kill().unwrap();
                t.elapsed()
            }
            None => {
                while !lines
                    .next()
                    .expect("child ended early")
                    .unwrap()
                    .ends_with("wiped")
                {}
                t.elapsed()
            }
        };
        child.wait().unwrap();
        (dir, db, photo_dir, took)
    };
    // How long a whole wipe takes here, so the kills spread over it and a little beyond.
    let (_, _, _, whole_wipe) = run(None);
    let span = whole_wipe.as_micros() as u64 * 3 / 2 + 1;
    let mut rng = 0x5EED_u64;
    let (mut kept, mut emptied, mut mid_photos) = (0, 0, 0);
    for round in 0..rounds {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let (_dir, db, photo_dir, _) = run(Some(Duration::from_micros(rng % span)));
        let left_before_open = count_files(&photo_dir);

        let store =
            Store::open(&db).unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        store.verify().unwrap();
        let records = store.export_records().unwrap().len();
        if records == whole {
            kept += 1;
            assert!(store.current_user().unwrap().is_some(), "round {round}");
            assert_eq!(store.unsynced_count().unwrap(), 1, "round {round}");
            assert_eq!(
                count_files(&photo_dir),
                PHOTOS,
                "round {round}: photos of a whole store"
            );
        } else {
            emptied += 1;
            assert_eq!(records, 0, "round {round}: a half-wiped store");
            assert!(store.current_user().unwrap().is_none(), "round {round}");
            assert!(
                !photo_dir.exists(),
                "round {round}: photos left after the open"
            );
            if left_before_open > 0 && left_before_open < PHOTOS {
                mid_photos += 1;
            }
        }
    }
    eprintln!(
        "a wipe takes {whole_wipe:?}; {rounds} kills: {kept} before the commit (whole), \
         {emptied} after (empty), {mid_photos} in the middle of removing photos"
    );
}

//! Applying a received page on the device: valid documents become records with their rows,
//! and every kind of bad document is quarantined (kept aside, never dropped, never applied)
//! without disturbing the others — on the one-thread path and on the parallel one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on any error"
)]

use std::path::Path;

use automerge::AutoCommit;
use automerge::transaction::Transactable;
use firegrid_core::Store;
use firegrid_core::store::{PendingPush, RecordKind};
use firegrid_core::sync::protocol::{DocChanges, SyncResponse};

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Every change of a saved document, as a pulled page entry.
fn entry(id: &str, kind: &str, bytes: &[u8]) -> DocChanges {
    let mut doc = AutoCommit::load(bytes).unwrap();
    DocChanges {
        doc: id.to_string(),
        kind: kind.to_string(),
        changes: doc
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect(),
    }
}

fn page(pulled: Vec<DocChanges>) -> SyncResponse {
    SyncResponse {
        epoch: "e1".into(),
        reset: false,
        acks: vec![],
        pulled,
        cursor: 10,
        more: false,
    }
}

fn quarantined(path: &Path) -> Vec<(String, String)> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut stmt = c
        .prepare("SELECT doc_id, problem FROM sync_quarantine ORDER BY doc_id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn bad_documents_are_quarantined_and_good_ones_applied_on_both_paths() {
    let source_dir = tempfile::tempdir().unwrap();
    let source = Store::open(source_dir.path().join("a.db")).unwrap();
    source.import_fixtures(&fixtures()).unwrap();
    let premises: Vec<_> = source
        .export_records()
        .unwrap()
        .into_iter()
        .filter(|(_, k, _)| *k == RecordKind::Premises)
        .collect();
    // Not a record of its kind: a document with one unrelated field.
    let mut junk = AutoCommit::new();
    junk.put(automerge::ROOT, "x", 1).unwrap();
    junk.commit();
    let junk = junk.save();

    for good in [3usize, 40] {
        // 3 good documents: one thread; 40: the parallel path.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.db");
        let store = Store::open(&path).unwrap();
        let mut pulled: Vec<DocChanges> = premises[..good]
            .iter()
            .map(|(id, _, bytes)| entry(id, "premises", bytes))
            .collect();
        let (held_id, _, held_bytes) = &premises[good];
        pulled.insert(1, entry("hz.junk", "hazard", &junk));
        pulled.insert(
            2,
            DocChanges {
                doc: "hz.notachange".into(),
                kind: "hazard".into(),
                changes: vec![b"not an automerge change".to_vec()],
            },
        );
        pulled.push(entry("x.unknown", "spaceship", &junk));
        pulled.push(entry("BAD ID!", "hazard", &junk));
        let r = store
            .apply_sync_response(&PendingPush::default(), &page(pulled))
            .unwrap();
        assert_eq!((r.touched, r.quarantined), (good as u64, 4), "{good} good");
        // A record already held as one kind, received as another.
        store
            .apply_sync_response(
                &PendingPush::default(),
                &page(vec![entry(held_id, "premises", held_bytes)]),
            )
            .unwrap();
        let r = store
            .apply_sync_response(
                &PendingPush::default(),
                &page(vec![entry(held_id, "hazard", held_bytes)]),
            )
            .unwrap();
        assert_eq!((r.touched, r.quarantined), (0, 1));
        let q = quarantined(&path);
        assert_eq!(q.len(), 5, "{q:?}");
        assert!(q.iter().any(|(id, p)| id == held_id && p.contains("kind")));
        assert!(q.iter().any(|(id, _)| id == "hz.junk"));
        assert!(
            q.iter()
                .any(|(id, p)| id == "hz.notachange" && p.contains("change"))
        );
        // The good ones are records with their rows; nothing of the bad ones was applied.
        for (id, _, _) in &premises[..good] {
            assert_eq!(&store.premises(id).unwrap().id, id);
        }
        assert!(store.hazard("hz.junk").is_err());
        store.verify().unwrap();
    }
}

#[test]
fn a_document_sent_whole_is_loaded_merged_or_quarantined() {
    let source_dir = tempfile::tempdir().unwrap();
    let source = Store::open(source_dir.path().join("a.db")).unwrap();
    source.import_fixtures(&fixtures()).unwrap();
    let premises: Vec<_> = source
        .export_records()
        .unwrap()
        .into_iter()
        .filter(|(_, k, _)| *k == RecordKind::Premises)
        .take(20)
        .collect();
    let whole = |id: &str, bytes: &[u8]| DocChanges {
        doc: id.to_string(),
        kind: "premises".into(),
        changes: vec![bytes.to_vec()],
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let store = Store::open(&path).unwrap();
    // New records sent as saved documents (20: the parallel path).
    let pulled: Vec<_> = premises.iter().map(|(id, _, b)| whole(id, b)).collect();
    let r = store
        .apply_sync_response(&PendingPush::default(), &page(pulled.clone()))
        .unwrap();
    assert_eq!((r.touched, r.quarantined), (20, 0));
    for (id, _, bytes) in &premises {
        let mut theirs = AutoCommit::load(bytes).unwrap();
        let mine = store.export_records().unwrap();
        let (_, _, held) = mine.iter().find(|(i, _, _)| i == id).unwrap();
        assert_eq!(
            AutoCommit::load(held).unwrap().get_heads(),
            theirs.get_heads()
        );
        // Stored as received: a new record sent as one saved document is not saved again.
        assert_eq!(held, bytes);
    }
    // The same documents again: loaded, merged, nothing new.
    let r = store
        .apply_sync_response(&PendingPush::default(), &page(pulled))
        .unwrap();
    assert_eq!((r.touched, r.quarantined), (0, 0));
    // A document chunk that does not load is quarantined.
    let mut broken = premises[0].2.clone();
    let n = broken.len();
    broken[n / 2..].fill(0xff);
    let r = store
        .apply_sync_response(
            &PendingPush::default(),
            &page(vec![whole("pr.broken", &broken)]),
        )
        .unwrap();
    assert_eq!((r.touched, r.quarantined), (0, 1));
    assert_eq!(quarantined(&path).len(), 1);
    store.verify().unwrap();
}

/// Sync settles received changes from a record's stored heads alone, so `verify` checks that
/// they are the document's.
#[test]
fn verify_reports_stored_heads_that_differ_from_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let store = Store::open(&path).unwrap();
    store.import_fixtures(&fixtures()).unwrap();
    store.verify().unwrap();
    drop(store);
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute(
        "UPDATE record SET heads = 'ab' WHERE rowid = (SELECT min(rowid) FROM record)",
        [],
    )
    .unwrap();
    drop(c);
    let store = Store::open(&path).unwrap();
    match store.verify() {
        Err(firegrid_core::Error::CorruptRecord { problem, .. }) => {
            assert!(problem.contains("heads"), "{problem}");
        }
        other => panic!("expected a corrupt record, got {other:?}"),
    }
}

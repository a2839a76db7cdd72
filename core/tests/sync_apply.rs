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

/// The first `n` premises documents of the fixtures, as a store exports them.
fn fixture_premises(n: usize) -> Vec<(String, RecordKind, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let source = Store::open(dir.path().join("a.db")).unwrap();
    source.import_fixtures(&fixtures()).unwrap();
    source
        .export_records()
        .unwrap()
        .into_iter()
        .filter(|(_, k, _)| *k == RecordKind::Premises)
        .take(n)
        .collect()
}

/// A premises sent whole, as one saved document.
fn whole(id: &str, bytes: &[u8]) -> DocChanges {
    DocChanges {
        doc: id.to_string(),
        kind: "premises".into(),
        changes: vec![bytes.to_vec()],
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
        records: vec![],
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
    let premises = fixture_premises(41);
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
    let premises = fixture_premises(20);
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

/// Protocol 4: a new record sent as one saved document with its record read by the server is
/// stored as those bytes with rows from that record (the document is not read: a record that
/// disagrees shows in the rows, and `verify` reports it); anything doubtful (a record that
/// does not decode, a document whose checksum fails, a record the device holds already, a
/// record list that does not match the page) is read from the document as before.
#[test]
fn a_record_shipped_with_a_new_document_is_taken_without_reading_it() {
    use firegrid_core::hydrate::Record;
    let premises = fixture_premises(24);
    let shipped = |bytes: &[u8]| {
        Record::read_encoded(RecordKind::Premises, &AutoCommit::load(bytes).unwrap()).unwrap()
    };
    // The same record with another name: what a server that lied would send.
    let renamed = |bytes: &[u8]| {
        let Some(Record::Premises(mut p)) = Record::decode(RecordKind::Premises, &shipped(bytes))
        else {
            panic!("a premises");
        };
        p.name = "改名 renamed".into();
        Record::Premises(p).encode().unwrap()
    };
    let open = || {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("b.db")).unwrap();
        (dir, store)
    };
    // The name in the query rows (what lists and searches show), not in the document.
    let row_name = |dir: &tempfile::TempDir, id: &str| -> Option<String> {
        let c = rusqlite::Connection::open(dir.path().join("b.db")).unwrap();
        c.query_row("SELECT name FROM premises WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .ok()
    };
    let doc_name = |bytes: &[u8]| Some(read_premises(bytes).name);

    // 20 taken (the parallel path), against the same page read the usual way.
    let pulled: Vec<_> = premises[..20]
        .iter()
        .map(|(id, _, b)| whole(id, b))
        .collect();
    let (d1, taken) = open();
    let mut with_records = page(pulled.clone());
    with_records.records = premises[..20]
        .iter()
        .map(|(_, _, b)| Some(shipped(b)))
        .collect();
    let r = taken
        .apply_sync_response(&PendingPush::default(), &with_records)
        .unwrap();
    assert_eq!((r.touched, r.quarantined), (20, 0));
    let (d2, read) = open();
    read.apply_sync_response(&PendingPush::default(), &page(pulled))
        .unwrap();
    assert_eq!(
        taken.export_records().unwrap(),
        read.export_records().unwrap()
    );
    for (id, _, bytes) in &premises[..20] {
        assert_eq!(taken.premises(id).unwrap(), read.premises(id).unwrap());
        assert_eq!(row_name(&d1, id), row_name(&d2, id));
        assert_eq!(row_name(&d1, id), doc_name(bytes));
        assert!(taken.is_synced(id).unwrap());
    }
    taken.verify().unwrap();

    // The rows come from the shipped record (the document was not read) ...
    let (d3, lied_to) = open();
    let (id, _, bytes) = &premises[20];
    let mut lie = page(vec![whole(id, bytes)]);
    lie.records = vec![Some(renamed(bytes))];
    lied_to
        .apply_sync_response(&PendingPush::default(), &lie)
        .unwrap();
    assert_eq!(row_name(&d3, id).as_deref(), Some("改名 renamed"));
    // ... and verify, which reads every document, finds the disagreement.
    assert!(lied_to.verify().is_err());

    // Doubtful cases are read from the document.
    let (d4, careful) = open();
    let (a, _, a_bytes) = &premises[20];
    let (b, _, b_bytes) = &premises[21];
    let (c, _, c_bytes) = &premises[22];
    let mut other_format = shipped(a_bytes);
    other_format[0] = other_format[0].wrapping_add(1);
    let mut damaged = c_bytes.clone();
    let n = damaged.len();
    damaged[n - 1] ^= 0x01; // the checksum fails; loading it fails too: quarantined
    let mut doubtful = page(vec![
        whole(a, a_bytes),
        whole(b, b_bytes),
        whole(c, &damaged),
    ]);
    doubtful.records = vec![
        Some(other_format),
        Some(b"not a record".to_vec()),
        Some(renamed(c_bytes)),
    ];
    let r = careful
        .apply_sync_response(&PendingPush::default(), &doubtful)
        .unwrap();
    assert_eq!((r.touched, r.quarantined), (2, 1));
    assert_eq!(row_name(&d4, a), doc_name(a_bytes));
    assert_eq!(row_name(&d4, b), doc_name(b_bytes));
    assert!(careful.premises(c).is_err() && row_name(&d4, c).is_none());
    // Held already: the record is not taken (merged as usual, nothing new).
    let mut again = page(vec![whole(a, a_bytes)]);
    again.records = vec![Some(renamed(a_bytes))];
    careful
        .apply_sync_response(&PendingPush::default(), &again)
        .unwrap();
    assert_eq!(row_name(&d4, a), doc_name(a_bytes));
    // A record list that does not match the page is ignored.
    let (d, _, d_bytes) = &premises[23];
    let mut mismatched = page(vec![whole(d, d_bytes)]);
    mismatched.records = vec![Some(renamed(d_bytes)), None];
    careful
        .apply_sync_response(&PendingPush::default(), &mismatched)
        .unwrap();
    assert_eq!(row_name(&d4, d), doc_name(d_bytes));
    careful.verify().unwrap();
}

fn read_premises(bytes: &[u8]) -> firegrid_core::premises::Premises {
    autosurgeon::hydrate(&AutoCommit::load(bytes).unwrap()).unwrap()
}

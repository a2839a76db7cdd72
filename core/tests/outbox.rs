//! The push outbox (`push_outbox`, schema 5): a record's push is read from the raw local changes
//! kept beside its document instead of loading the document, and it must be what loading the
//! document and asking for the changes after `synced_heads` gives (the slow path, which stays
//! for records without a usable outbox). Every scenario here checks each request against that
//! slow path computed from the store file itself, on real SQLite; the server's answers are
//! written by hand (the in-memory server drives the same scenarios in
//! `server/tests/outbox.rs`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on any error"
)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use automerge::{AutoCommit, Change, ChangeHash};
use firegrid_core::Store;
use firegrid_core::access::Role;
use firegrid_core::inspection::AnswerResult;
use firegrid_core::store::PendingPush;
use firegrid_core::sync::protocol::{
    DocChanges, PushAck, PushOutcome, RefusalReason, SyncRequest, SyncResponse,
};

const PULL: u32 = 1024 * 1024;

struct Phone {
    _dir: tempfile::TempDir,
    path: PathBuf,
    store: Store,
}

fn phone() -> Phone {
    let dir = tempfile::tempdir().unwrap();
    let store = common::seeded_store(dir.path());
    let path = dir.path().join("firegrid.db");
    store
        .set_current_user(&common::user_with_role(Role::StreetOffice).id)
        .unwrap();
    Phone {
        _dir: dir,
        path,
        store,
    }
}

/// The changes a pushed chunk carries: a change, or every change of a saved document (a record
/// the server never acknowledged goes whole, protocol 3).
fn chunk_changes(raw: &[u8]) -> Vec<Change> {
    if firegrid_core::sync::protocol::is_document_chunk(raw) {
        AutoCommit::load(raw).unwrap().get_changes(&[])
    } else {
        vec![Change::try_from(raw).unwrap()]
    }
}

fn hashes(changes: &[Vec<u8>]) -> Vec<ChangeHash> {
    changes
        .iter()
        .flat_map(|raw| chunk_changes(raw))
        .map(|c| c.hash())
        .collect()
}

/// What today's slow path pushes for `id`: its stored document's changes after its stored
/// `synced_heads`, read from the file (another connection, so what is committed).
fn slow_push(path: &Path, id: &str) -> Vec<ChangeHash> {
    let c = rusqlite::Connection::open(path).unwrap();
    let (doc, synced): (Vec<u8>, String) = c
        .query_row(
            "SELECT doc, synced_heads FROM record WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let have: Vec<ChangeHash> = synced
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| h.parse().unwrap())
        .collect();
    AutoCommit::load(&doc)
        .unwrap()
        .get_changes(&have)
        .iter()
        .map(Change::hash)
        .collect()
}

fn outbox_rows(path: &Path, id: &str) -> usize {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row(
        "SELECT count(*) FROM push_outbox WHERE doc_id = ?1",
        [id],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as usize
}

/// The request's push of `id`, checked: the same changes as the slow path minus `pulled`
/// (changes received from the server, which it holds), each once, in causal order.
fn push_of(phone: &Phone, req: &SyncRequest, id: &str, pulled: &[ChangeHash]) -> Vec<ChangeHash> {
    let push = req
        .pushes
        .iter()
        .find(|p| p.doc == id)
        .map(|p| p.changes.clone())
        .unwrap_or_default();
    let got = hashes(&push);
    let unique: BTreeSet<_> = got.iter().copied().collect();
    assert_eq!(unique.len(), got.len(), "a change pushed twice");
    let want: BTreeSet<_> = slow_push(&phone.path, id)
        .into_iter()
        .filter(|h| !pulled.contains(h))
        .collect();
    assert_eq!(
        unique, want,
        "the push of {id} differs from the slow path's"
    );
    // Causal order: a pushed change depends only on earlier pushed ones or on changes the
    // server holds already.
    let mut seen = BTreeSet::new();
    for c in push.iter().flat_map(|raw| chunk_changes(raw)) {
        for dep in c.deps() {
            assert!(
                seen.contains(dep) || !unique.contains(dep),
                "out of causal order"
            );
        }
        seen.insert(c.hash());
    }
    got
}

fn respond(req: &SyncRequest, outcome: PushOutcome) -> SyncResponse {
    SyncResponse {
        epoch: "e1".into(),
        reset: false,
        acks: req
            .pushes
            .iter()
            .map(|p| PushAck {
                doc: p.doc.clone(),
                outcome: outcome.clone(),
            })
            .collect(),
        pulled: vec![],
        cursor: req.cursor,
        more: false,
        records: vec![],
    }
}

const STORED: PushOutcome = PushOutcome::Stored {
    missing_deps: false,
};

/// Pushes and acknowledges everything (as a server storing it all).
fn sync_all(phone: &Phone) {
    loop {
        let (req, pending) = phone.store.sync_request(PULL).unwrap();
        if req.pushes.is_empty() {
            return;
        }
        phone
            .store
            .apply_sync_response(&pending, &respond(&req, STORED))
            .unwrap();
    }
}

/// An inspection the server has acknowledged, and its first items.
fn acknowledged_inspection(phone: &Phone) -> (String, Vec<String>) {
    let premises = &common::loaded().district.premises[0];
    let insp = phone.store.start_inspection(&premises.id, None).unwrap();
    let (req, pending) = phone.store.sync_request(PULL).unwrap();
    // Never acknowledged (synced_heads ''): that push is not the outbox's.
    assert_eq!(pending.from_outbox, 0);
    push_of(phone, &req, &insp.id, &[]);
    phone
        .store
        .apply_sync_response(&pending, &respond(&req, STORED))
        .unwrap();
    assert_eq!(
        outbox_rows(&phone.path, &insp.id),
        0,
        "acknowledged rows go"
    );
    (insp.id, insp.items)
}

fn answer(phone: &Phone, id: &str, item: &str, note: &str) {
    phone
        .store
        .answer(id, item, AnswerResult::Fail, Some(note.into()))
        .unwrap();
}

#[test]
fn several_offline_edits_are_pushed_from_the_outbox() {
    let p = phone();
    let (id, items) = acknowledged_inspection(&p);
    for (n, item) in items.iter().take(4).enumerate() {
        answer(&p, &id, item, &format!("edit {n}"));
    }
    answer(&p, &id, &items[0], "edited again");
    assert_eq!(outbox_rows(&p.path, &id), 5);
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    assert_eq!(pending.from_outbox, 1);
    assert_eq!(pending.changes, 5);
    let pushed = push_of(&p, &req, &id, &[]);
    assert_eq!(pushed, slow_push(&p.path, &id), "the same order too");
    p.store
        .apply_sync_response(&pending, &respond(&req, STORED))
        .unwrap();
    assert_eq!(outbox_rows(&p.path, &id), 0);
    assert!(p.store.is_synced(&id).unwrap());
    let (req, _) = p.store.sync_request(PULL).unwrap();
    assert!(req.pushes.is_empty());
}

#[test]
fn edits_made_while_a_request_is_out_are_pushed_next_round_once() {
    let p = phone();
    let (id, items) = acknowledged_inspection(&p);
    answer(&p, &id, &items[0], "before the request");
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    let first = push_of(&p, &req, &id, &[]);
    assert_eq!(first.len(), 1);
    // While the request travels.
    answer(&p, &id, &items[1], "during the round");
    answer(&p, &id, &items[2], "during the round");
    p.store
        .apply_sync_response(&pending, &respond(&req, STORED))
        .unwrap();
    assert_eq!(
        outbox_rows(&p.path, &id),
        2,
        "only the acknowledged rows go"
    );
    assert!(!p.store.is_synced(&id).unwrap());
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    assert_eq!(pending.from_outbox, 1);
    let second = push_of(&p, &req, &id, &[]);
    assert_eq!(second.len(), 2);
    assert!(second.iter().all(|h| !first.contains(h)), "nothing twice");
    p.store
        .apply_sync_response(&pending, &respond(&req, STORED))
        .unwrap();
    assert!(p.store.is_synced(&id).unwrap());
    assert_eq!(outbox_rows(&p.path, &id), 0);
}

#[test]
fn a_refused_push_is_sent_again_whole_with_the_next_edit() {
    let p = phone();
    let (id, items) = acknowledged_inspection(&p);
    answer(&p, &id, &items[0], "refused");
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    let refused = push_of(&p, &req, &id, &[]);
    p.store
        .apply_sync_response(
            &pending,
            &respond(
                &req,
                PushOutcome::Refused {
                    reason: RefusalReason::Forbidden,
                },
            ),
        )
        .unwrap();
    assert_eq!(outbox_rows(&p.path, &id), 1, "a refusal keeps the rows");
    let (req, _) = p.store.sync_request(PULL).unwrap();
    assert!(req.pushes.is_empty(), "not resent until it changes");
    answer(&p, &id, &items[1], "next edit");
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    assert_eq!(pending.from_outbox, 1);
    let again = push_of(&p, &req, &id, &[]);
    assert_eq!(again.len(), 2);
    assert!(again.contains(&refused[0]));
    p.store
        .apply_sync_response(&pending, &respond(&req, STORED))
        .unwrap();
    assert!(p.store.is_synced(&id).unwrap());
    assert_eq!(outbox_rows(&p.path, &id), 0);
}

#[test]
fn missing_dependencies_fall_back_to_the_whole_history_then_the_outbox_resumes() {
    let p = phone();
    let (id, items) = acknowledged_inspection(&p);
    answer(&p, &id, &items[0], "one");
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    push_of(&p, &req, &id, &[]);
    p.store
        .apply_sync_response(
            &pending,
            &respond(&req, PushOutcome::Stored { missing_deps: true }),
        )
        .unwrap();
    assert_eq!(outbox_rows(&p.path, &id), 0);
    answer(&p, &id, &items[1], "two");
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    assert_eq!(pending.from_outbox, 0, "synced_heads '': the slow path");
    let all = push_of(&p, &req, &id, &[]);
    assert_eq!(all.len(), 3, "the whole history");
    p.store
        .apply_sync_response(&pending, &respond(&req, STORED))
        .unwrap();
    assert_eq!(outbox_rows(&p.path, &id), 0);
    answer(&p, &id, &items[2], "three");
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    assert_eq!(pending.from_outbox, 1);
    assert_eq!(push_of(&p, &req, &id, &[]).len(), 1);
}

#[test]
fn a_reset_empties_the_outbox_and_everything_is_resent() {
    let p = phone();
    let (id, items) = acknowledged_inspection(&p);
    answer(&p, &id, &items[0], "one");
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    let mut reset = respond(&req, STORED);
    reset.reset = true;
    reset.acks.clear();
    reset.epoch = "e2".into();
    p.store.apply_sync_response(&pending, &reset).unwrap();
    let c = rusqlite::Connection::open(&p.path).unwrap();
    let rows: i64 = c
        .query_row("SELECT count(*) FROM push_outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    assert_eq!(pending.from_outbox, 0);
    assert_eq!(push_of(&p, &req, &id, &[]).len(), 2);
    sync_all(&p);
    assert_eq!(p.store.unsynced_count().unwrap(), 0);
    answer(&p, &id, &items[1], "after the reset");
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    assert_eq!(pending.from_outbox, 1);
    assert_eq!(push_of(&p, &req, &id, &[]).len(), 1);
}

#[test]
fn local_edits_merged_with_pulled_changes_push_only_the_local_ones() {
    let a = phone();
    let (id, items) = acknowledged_inspection(&a);
    // Another device holds the acknowledged inspection (pulled whole) and edits it.
    let b = phone();
    b.store
        .apply_sync_response(
            &PendingPush::default(),
            &SyncResponse {
                epoch: "e1".into(),
                reset: false,
                acks: vec![],
                pulled: vec![DocChanges {
                    doc: id.clone(),
                    kind: "inspection".into(),
                    changes: vec![a.store.document_bytes(&id).unwrap()],
                }],
                cursor: 1,
                more: false,
                records: vec![],
            },
        )
        .unwrap();
    let base = AutoCommit::load(&b.store.document_bytes(&id).unwrap())
        .unwrap()
        .get_heads();
    answer(&b, &id, &items[3], "from the other device");
    answer(&b, &id, &items[4], "from the other device");
    let theirs: Vec<Vec<u8>> = AutoCommit::load(&b.store.document_bytes(&id).unwrap())
        .unwrap()
        .get_changes(&base)
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let pulled = hashes(&theirs);
    // A edits offline, receives B's changes (from the server), edits again.
    answer(&a, &id, &items[0], "mine before the pull");
    a.store
        .apply_sync_response(
            &PendingPush::default(),
            &SyncResponse {
                epoch: "e1".into(),
                reset: false,
                acks: vec![],
                pulled: vec![DocChanges {
                    doc: id.clone(),
                    kind: "inspection".into(),
                    changes: theirs,
                }],
                cursor: 2,
                more: false,
                records: vec![],
            },
        )
        .unwrap();
    assert_eq!(outbox_rows(&a.path, &id), 1, "pulled changes stay out");
    answer(&a, &id, &items[1], "mine after the pull");
    let (req, pending) = a.store.sync_request(PULL).unwrap();
    assert_eq!(pending.from_outbox, 1);
    let pushed = push_of(&a, &req, &id, &pulled);
    assert_eq!(pushed.len(), 2);
    // The second local change depends on a pulled one: the server holds it.
    let slow = slow_push(&a.path, &id);
    assert_eq!(
        slow.len(),
        4,
        "the slow path would resend the pulled changes"
    );
    a.store
        .apply_sync_response(&pending, &respond(&req, STORED))
        .unwrap();
    assert!(a.store.is_synced(&id).unwrap());
    let insp = a.store.inspection(&id).unwrap();
    assert_eq!(insp.answers.len(), 4);
}

#[test]
fn records_changed_before_the_outbox_existed_take_the_slow_path_until_acknowledged() {
    let p = phone();
    let (id, items) = acknowledged_inspection(&p);
    answer(&p, &id, &items[0], "at schema 4");
    answer(&p, &id, &items[1], "at schema 4");
    drop(p.store);
    // What a schema-4 store migrated to schema 5 holds: unsynced local changes, no outbox.
    let c = rusqlite::Connection::open(&p.path).unwrap();
    c.execute_batch("UPDATE record SET outbox_from = NULL; DELETE FROM push_outbox;")
        .unwrap();
    drop(c);
    let p = Phone {
        store: Store::open(&p.path).unwrap(),
        ..p
    };
    answer(&p, &id, &items[2], "at schema 5");
    assert_eq!(outbox_rows(&p.path, &id), 1);
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    assert_eq!(pending.from_outbox, 0, "the outbox lacks the older changes");
    assert_eq!(push_of(&p, &req, &id, &[]).len(), 3, "nothing lost");
    p.store
        .apply_sync_response(&pending, &respond(&req, STORED))
        .unwrap();
    assert_eq!(outbox_rows(&p.path, &id), 0, "unusable rows go at the ack");
    answer(&p, &id, &items[3], "next");
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    assert_eq!(pending.from_outbox, 1);
    assert_eq!(push_of(&p, &req, &id, &[]).len(), 1);
}

#[test]
fn the_schema_1_fixture_pushes_its_unsynced_records_after_migrating() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/store-v1.db"),
        &path,
    )
    .unwrap();
    let store = Store::open(&path).unwrap();
    let (req, pending) = store.sync_request(PULL).unwrap();
    assert_eq!(req.pushes.len(), 2);
    assert_eq!(pending.from_outbox, 0);
    let p = Phone {
        _dir: dir,
        path,
        store,
    };
    for push in &req.pushes {
        push_of(&p, &req, &push.doc, &[]);
    }
    sync_all(&p);
    assert_eq!(p.store.unsynced_count().unwrap(), 0);
}

#[test]
fn a_store_closed_between_request_and_acknowledgement_finishes_at_the_next_sync() {
    let p = phone();
    let (id, items) = acknowledged_inspection(&p);
    answer(&p, &id, &items[0], "one");
    answer(&p, &id, &items[1], "two");
    let (req, _lost) = p.store.sync_request(PULL).unwrap();
    let sent = push_of(&p, &req, &id, &[]);
    // The app is killed with the request out (the server may or may not have stored it).
    drop(p.store);
    let p = Phone {
        store: Store::open(&p.path).unwrap(),
        ..p
    };
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    assert_eq!(pending.from_outbox, 1);
    assert_eq!(push_of(&p, &req, &id, &[]), sent, "the same push again");
    answer(&p, &id, &items[2], "three, while it travels");
    p.store
        .apply_sync_response(&pending, &respond(&req, STORED))
        .unwrap();
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    assert_eq!(push_of(&p, &req, &id, &[]).len(), 1);
    p.store
        .apply_sync_response(&pending, &respond(&req, STORED))
        .unwrap();
    assert!(p.store.is_synced(&id).unwrap());
    assert_eq!(outbox_rows(&p.path, &id), 0);
}

#[test]
fn imported_fixtures_and_pulled_records_leave_the_outbox_empty() {
    let p = phone();
    let c = rusqlite::Connection::open(&p.path).unwrap();
    let rows: i64 = c
        .query_row("SELECT count(*) FROM push_outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);
    assert_eq!(p.store.unsynced_count().unwrap(), 0);
}

#[test]
fn a_schema_4_store_with_unsynced_edits_migrates_and_pushes_them_all() {
    let p = phone();
    let (id, items) = acknowledged_inspection(&p);
    answer(&p, &id, &items[0], "at schema 4");
    answer(&p, &id, &items[1], "at schema 4");
    let expected = slow_push(&p.path, &id);
    assert_eq!(expected.len(), 2);
    drop(p.store);
    // Back to schema 4 as a phone that never ran schema 5 holds it: no outbox, no basis.
    let c = rusqlite::Connection::open(&p.path).unwrap();
    c.execute_batch(
        "DROP TABLE push_outbox; ALTER TABLE record DROP COLUMN outbox_from;
         PRAGMA user_version = 4;",
    )
    .unwrap();
    drop(c);
    let p = Phone {
        store: Store::open(&p.path).unwrap(),
        ..p
    };
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    assert_eq!(pending.from_outbox, 0);
    assert_eq!(
        push_of(&p, &req, &id, &[]),
        expected,
        "nothing lost on upgrade"
    );
    p.store
        .apply_sync_response(&pending, &respond(&req, STORED))
        .unwrap();
    assert!(p.store.is_synced(&id).unwrap());
    answer(&p, &id, &items[2], "at schema 5");
    let (req, pending) = p.store.sync_request(PULL).unwrap();
    assert_eq!(pending.from_outbox, 1);
    assert_eq!(push_of(&p, &req, &id, &[]).len(), 1);
}

//! The device's push outbox against the sans-I/O server engine (in-memory store): pushes read
//! from the outbox instead of the documents, with edits on two phones of one user merged both
//! ways, edits made while a round is out, a store closed mid-round, and a server restored from a
//! backup. Every device must converge with the server, and no change may be lost or sent twice
//! in rounds whose answer arrived.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on any error"
)]

mod common;

use common::{Device, template};
use std::collections::{BTreeMap, BTreeSet};

use automerge::{AutoCommit, Change, ChangeHash};
use firegrid_core::access::{Role, User};
use firegrid_core::inspection::AnswerResult;
use firegrid_core::premises::Category;
use firegrid_core::store::{PendingPush, RecordKind};
use firegrid_core::sync::protocol::SyncRequest;
use firegrid_core::{Error, Store};
use firegrid_server::sync::memory::MemoryStorage;
use firegrid_server::sync::{Principal, handle};

impl Device {
    /// Closes the store and opens it again (the app killed and restarted).
    fn reopen(self) -> Device {
        let Device {
            _dir, path, store, ..
        } = self;
        drop(store);
        let store = Store::open(&path).unwrap();
        let who = Principal {
            user: store.current_user().unwrap().unwrap(),
            device_id: store.device_id().to_string(),
        };
        Device {
            _dir,
            path,
            store,
            who,
        }
    }
}

fn device(user: &User) -> Device {
    common::device_from(&template().db, user)
}

/// A grid patroller of the sample and a street shop in the grid.
fn patroller_and_shop() -> (&'static User, String) {
    let t = template();
    let user = t
        .district
        .users
        .iter()
        .find(|u| u.role == Role::GridPatroller)
        .unwrap();
    let shop = t
        .district
        .premises
        .iter()
        .find(|p| p.grid == user.scope.id && p.category() == Category::StreetShop)
        .unwrap();
    (user, shop.id.clone())
}

/// Every change hash the server received in rounds whose answer reached the device.
type Sent = Vec<ChangeHash>;

/// A whole sync; `during` runs once, on the device, after the first request reached the
/// server and before its answer is applied (edits made while the round is out); `lose` loses
/// the first answer (after the server committed).
fn sync(
    dev: &Device,
    server: &MemoryStorage,
    sent: &mut Sent,
    during: &mut dyn FnMut(),
    lose: bool,
) -> Result<(), Error> {
    let who = dev.who.clone();
    let mut first = true;
    let mut transport = |bytes: Vec<u8>| -> Result<Vec<u8>, Error> {
        let req = SyncRequest::decode(&bytes)?;
        let resp = handle(server, &who, &req)?;
        let was_first = std::mem::replace(&mut first, false);
        if was_first {
            during();
            if lose {
                return Err(Error::Sync("connection reset".into()));
            }
        }
        for p in &req.pushes {
            for raw in &p.changes {
                // A change, or a saved document (a record new to the server, protocol 3).
                if firegrid_core::sync::protocol::is_document_chunk(raw) {
                    let mut doc = automerge::AutoCommit::load(raw).unwrap();
                    sent.extend(doc.get_changes(&[]).iter().map(|c| c.hash()));
                } else {
                    sent.push(Change::try_from(raw.as_slice()).unwrap().hash());
                }
            }
        }
        resp.encode()
    };
    dev.store.sync_via(&mut transport, &mut |_| {}).map(|_| ())
}

fn sync_ok(dev: &Device, server: &MemoryStorage, sent: &mut Sent) {
    sync(dev, server, sent, &mut || {}, false).unwrap();
}

/// Pulls without pushing (a device that received the other phone's changes before its own
/// went out).
fn pull_only(dev: &Device, server: &MemoryStorage) {
    let (mut req, _) = dev.store.sync_request(3 * 1024 * 1024).unwrap();
    req.pushes.clear();
    let resp = handle(server, &dev.who, &req).unwrap();
    dev.store
        .apply_sync_response(&PendingPush::default(), &resp)
        .unwrap();
}

fn heads(bytes: &[u8]) -> Vec<String> {
    let mut doc = AutoCommit::load(bytes).unwrap();
    let mut h: Vec<String> = doc.get_heads().iter().map(|h| h.to_string()).collect();
    h.sort();
    h
}

fn field_records(store: &Store) -> BTreeMap<String, Vec<String>> {
    store
        .export_records()
        .unwrap()
        .into_iter()
        .filter(|(_, k, _)| matches!(k, RecordKind::Inspection | RecordKind::Hazard))
        .map(|(id, _, bytes)| (id, heads(&bytes)))
        .collect()
}

fn server_records(server: &MemoryStorage) -> BTreeMap<String, Vec<String>> {
    server
        .documents()
        .into_iter()
        .filter(|(id, _)| id.starts_with("insp.") || id.starts_with("hz."))
        .map(|(id, bytes)| (id, heads(&bytes)))
        .collect()
}

/// Every device holds the field records the server holds, each acknowledged, and an empty
/// outbox.
fn converged(server: &MemoryStorage, devices: &[&Device]) {
    let on_server = server_records(server);
    assert!(!on_server.is_empty());
    for d in devices {
        let mine = field_records(&d.store);
        assert_eq!(mine, on_server);
        // Field records only: after a reset a patroller's phone resends the reference data
        // too, and the records outside its scope are refused (they stay unsynced).
        for id in mine.keys() {
            assert!(d.store.is_synced(id).unwrap(), "{id} is not acknowledged");
        }
        let rows: i64 = rusqlite::Connection::open(&d.path)
            .unwrap()
            .query_row("SELECT count(*) FROM push_outbox", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0, "the outbox is emptied by the acknowledgements");
        d.store.verify().unwrap();
    }
}

fn no_change_twice(sent: &Sent) {
    let unique: BTreeSet<_> = sent.iter().collect();
    assert_eq!(unique.len(), sent.len(), "a change was sent twice");
}

fn answer(dev: &Device, id: &str, item: &str, note: &str) {
    dev.store
        .answer(id, item, AnswerResult::Fail, Some(note.into()))
        .unwrap();
}

/// How the next request would push `id`: from the outbox or not.
fn from_outbox(dev: &Device) -> u64 {
    dev.store
        .sync_request(3 * 1024 * 1024)
        .unwrap()
        .1
        .from_outbox
}

#[test]
fn two_phones_editing_one_inspection_offline_converge_pushing_from_the_outbox() {
    let server = template().server.fork();
    let (user, shop) = patroller_and_shop();
    let a = device(user);
    let b = device(user);
    let (mut sent_a, mut sent_b) = (Sent::new(), Sent::new());
    let insp = a.store.start_inspection(&shop, None).unwrap();
    let items = insp.items.clone();
    answer(&a, &insp.id, &items[0], "a0");
    sync_ok(&a, &server, &mut sent_a);
    sync_ok(&b, &server, &mut sent_b);
    assert_eq!(b.store.inspection(&insp.id).unwrap().answers.len(), 1);

    // Both edit offline; B syncs first.
    answer(&a, &insp.id, &items[1], "a1");
    answer(&a, &insp.id, &items[2], "a2");
    answer(&b, &insp.id, &items[3], "b3");
    answer(&b, &insp.id, &items[0], "b0");
    assert_eq!(from_outbox(&b), 1);
    sync_ok(&b, &server, &mut sent_b);
    // A receives B's changes before its own went out, then edits again on top of them.
    pull_only(&a, &server);
    answer(&a, &insp.id, &items[4], "a4");
    assert_eq!(from_outbox(&a), 1);
    sync_ok(&a, &server, &mut sent_a);
    sync_ok(&b, &server, &mut sent_b);
    converged(&server, &[&a, &b]);
    no_change_twice(&sent_a);
    no_change_twice(&sent_b);
    assert_eq!(
        sent_a.len(),
        5,
        "A sent its own five changes and none of B's"
    );
    assert_eq!(
        a.store.inspection(&insp.id).unwrap(),
        b.store.inspection(&insp.id).unwrap()
    );
}

#[test]
fn edits_during_a_round_a_lost_answer_and_a_restart_lose_nothing() {
    let server = template().server.fork();
    let (user, shop) = patroller_and_shop();
    let a = device(user);
    let mut sent = Sent::new();
    let insp = a.store.start_inspection(&shop, None).unwrap();
    let items = insp.items.clone();
    sync_ok(&a, &server, &mut sent);
    answer(&a, &insp.id, &items[0], "before");
    // Edits while the request is out: pushed in the next round of the same sync.
    sync(
        &a,
        &server,
        &mut sent,
        &mut || answer(&a, &insp.id, &items[1], "during"),
        false,
    )
    .unwrap();
    converged(&server, &[&a]);
    no_change_twice(&sent);
    // The server stores the push, the answer is lost, an edit is made meanwhile, and the app
    // is killed before the next sync.
    answer(&a, &insp.id, &items[2], "lost answer");
    let err = sync(
        &a,
        &server,
        &mut Sent::new(),
        &mut || answer(&a, &insp.id, &items[3], "during the lost round"),
        true,
    );
    assert!(err.is_err());
    let a = a.reopen();
    assert_eq!(from_outbox(&a), 1);
    sync_ok(&a, &server, &mut sent);
    converged(&server, &[&a]);
    assert_eq!(a.store.inspection(&insp.id).unwrap().answers.len(), 4);
}

#[test]
fn a_server_restored_from_a_backup_gets_everything_back_then_the_outbox_resumes() {
    let server = template().server.fork();
    let (user, shop) = patroller_and_shop();
    let a = device(user);
    let mut sent = Sent::new();
    let keep = server.log_len();
    let insp = a.store.start_inspection(&shop, None).unwrap();
    let items = insp.items.clone();
    answer(&a, &insp.id, &items[0], "one");
    sync_ok(&a, &server, &mut sent);
    answer(&a, &insp.id, &items[1], "two, in the outbox");
    assert_eq!(from_outbox(&a), 1);
    // The server loses everything since the seed (new epoch): the device resends it all.
    server.restore_to(keep).unwrap();
    sync_ok(&a, &server, &mut Sent::new());
    converged(&server, &[&a]);
    answer(&a, &insp.id, &items[2], "three");
    assert_eq!(from_outbox(&a), 1);
    sync_ok(&a, &server, &mut sent);
    converged(&server, &[&a]);
    assert_eq!(a.store.inspection(&insp.id).unwrap().answers.len(), 3);
}

//! Records as automerge documents in the `record` table: load, hydrate, create, update, save.
//! Every write goes through here so that the document and its query rows (written by `index`)
//! land in the same transaction, and so that every local change also lands in the push outbox
//! (`push_outbox`, read by `sync_state` to push without loading documents) in that same
//! transaction. A document lives in memory only for one call.

use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit, ChangeHash, ReadDoc};
use autosurgeon::{Hydrate, Reconcile};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::hydrate::FromDoc;
use crate::vocab::{now_ms, string_enum};
use crate::{Error, Result};

string_enum! {
    /// The kinds of record, each one automerge document per record.
    pub enum RecordKind {
        /// The street itself.
        Street = "street",
        /// A community (neighbourhood committee).
        Community = "community",
        /// A grid.
        Grid = "grid",
        /// A micro fire station.
        MicroStation = "micro_station",
        /// A member department.
        Department = "department",
        /// A user.
        User = "user",
        /// A key resident.
        KeyResident = "key_resident",
        /// A premises.
        Premises = "premises",
        /// A checklist version (immutable).
        Checklist = "checklist",
        /// A GB 35181 version (immutable).
        Standard = "standard",
        /// An inspection.
        Inspection = "inspection",
        /// A hazard.
        Hazard = "hazard",
    }
}

/// The actor of documents created from fixtures: every device and the server that import the
/// same fixture produce byte-identical documents (same actor, time 0), so their changes have
/// the same hashes and merge as one.
pub(crate) fn fixture_actor() -> ActorId {
    ActorId::from(*b"firegrid-fixture")
}

/// This session's actor: the device id's first 8 bytes (so the server can tie a change to a
/// device) and 8 random bytes, new at every open. A fresh actor per session means a device
/// restored from a backup, or one whose last writes were rolled back, never reuses a
/// sequence number it already sent.
pub(super) fn session_actor(device_id: &str) -> Result<ActorId> {
    let dev = uuid::Uuid::parse_str(device_id)
        .map_err(|_| Error::Integrity(format!("device id {device_id:?} is not a UUID")))?;
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&dev.as_bytes()[..8]);
    bytes[8..].copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
    Ok(ActorId::from(bytes))
}

/// Who writes and when: the actor and the message of the change.
pub(crate) struct Author<'a> {
    pub(crate) actor: &'a ActorId,
    /// Device clock in ms; 0 for fixture documents.
    pub(crate) time_ms: i64,
}

impl<'a> Author<'a> {
    pub(crate) fn device(actor: &'a ActorId) -> Self {
        Author {
            actor,
            time_ms: now_ms(),
        }
    }
}

/// Loads the document of a record, checking its kind.
pub(crate) fn load(tx: &Transaction<'_>, kind: RecordKind, id: &str) -> Result<AutoCommit> {
    let row: Option<(String, Vec<u8>)> = tx
        .query_row("SELECT kind, doc FROM record WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    match row {
        Some((k, bytes)) if k == kind.as_str() => {
            AutoCommit::load(&bytes).map_err(|e| Error::corrupt(id, e))
        }
        _ => Err(Error::not_found(kind.as_str(), id)),
    }
}

/// Hydrates a loaded document into its type (the direct reader of [`crate::hydrate`], which
/// gives what autosurgeon's `Hydrate` gives, faster).
pub(crate) fn hydrate<T: FromDoc>(id: &str, doc: &AutoCommit) -> Result<T> {
    crate::hydrate::hydrate_record(id, doc)
}

/// Loads and hydrates a record.
pub(crate) fn get<T: FromDoc>(tx: &Transaction<'_>, kind: RecordKind, id: &str) -> Result<T> {
    let doc = load(tx, kind, id)?;
    hydrate(id, &doc)
}

/// Whether a record with this id exists (of any kind).
pub(crate) fn exists(tx: &Transaction<'_>, id: &str) -> Result<bool> {
    Ok(tx
        .query_row("SELECT 1 FROM record WHERE id = ?1", [id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Hex change hashes, sorted and comma-separated.
pub(crate) fn heads_text(doc: &mut AutoCommit) -> String {
    let mut heads: Vec<String> = doc.get_heads().iter().map(|h| h.to_string()).collect();
    heads.sort();
    heads.join(",")
}

/// Writes a local write's document to the `record` table (insert or replace), and its new
/// changes to the push outbox in the same transaction (see [`append_to_outbox`]). Every local
/// write comes through here; changes received from the server go through [`save_bytes`].
pub(crate) fn save(
    tx: &Transaction<'_>,
    kind: RecordKind,
    id: &str,
    doc: &mut AutoCommit,
) -> Result<()> {
    // The stored row before this write ('' and no outbox rows for a new record).
    let (old_heads, synced, has_outbox) = tx
        .prepare_cached(
            "SELECT heads, synced_heads, EXISTS (SELECT 1 FROM push_outbox WHERE doc_id = ?1)
               FROM record WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })
        .optional()?
        .unwrap_or_default();
    let heads = heads_text(doc);
    if upsert(tx, kind, id, &doc.save(), &heads, false)? == 0 {
        return Ok(()); // a record of another kind holds the id: nothing was written
    }
    if synced.is_empty() && !has_outbox {
        // The server holds nothing of it: its next push is the whole stored document
        // (protocol 3), so no outbox is kept. Once acknowledged, its next write starts one
        // (changes made while the push was out are sent by the slow path until then).
        return Ok(());
    }
    append_to_outbox(tx, id, doc, &old_heads, has_outbox)
}

/// Appends the changes `doc` has beyond `old_heads` (the stored heads before this write) to
/// the record's outbox, in causal order. The outbox keeps this invariant: when a record's
/// `outbox_from` is `B`, every local change of it that is not an ancestor of `B` is among its
/// rows (changes it received from the server may be missing: the server holds them). So when a
/// record has no rows yet, its basis becomes `old_heads` (everything it holds is an ancestor of
/// them); otherwise the basis stays and the new changes join the rows after it. If `doc` does
/// not hold `old_heads` (it was not loaded from the stored row), the new changes cannot be told
/// apart: the outbox of the record is dropped and its next push loads the document.
fn append_to_outbox(
    tx: &Transaction<'_>,
    id: &str,
    doc: &mut AutoCommit,
    old_heads: &str,
    has_outbox: bool,
) -> Result<()> {
    let old = parse_heads(id, old_heads)?;
    if !doc.get_missing_deps(&old).is_empty() {
        tx.prepare_cached("DELETE FROM push_outbox WHERE doc_id = ?1")?
            .execute([id])?;
        tx.prepare_cached("UPDATE record SET outbox_from = NULL WHERE id = ?1")?
            .execute([id])?;
        return Ok(());
    }
    if !has_outbox {
        tx.prepare_cached("UPDATE record SET outbox_from = ?2 WHERE id = ?1")?
            .execute(params![id, old_heads])?;
    }
    let mut insert =
        tx.prepare_cached("INSERT INTO push_outbox(doc_id, change) VALUES (?1, ?2)")?;
    for change in doc.get_changes(&old) {
        insert.execute(params![id, change.raw_bytes()])?;
    }
    Ok(())
}

/// Parses `heads` text (see [`heads_text`]); `id` names the record in the error.
pub(crate) fn parse_heads(id: &str, text: &str) -> Result<Vec<ChangeHash>> {
    text.split(',')
        .filter(|h| !h.is_empty())
        .map(|h| {
            h.parse()
                .map_err(|_| Error::corrupt(id, "bad change hash in heads"))
        })
        .collect()
}

/// Writes a document to the `record` table (insert or replace) without touching the outbox;
/// `synced`: the server holds every change of it, so its `synced_heads` become its heads in the
/// same statement (imported fixture documents, which the server seeds byte-identical).
pub(crate) fn save_as(
    tx: &Transaction<'_>,
    kind: RecordKind,
    id: &str,
    doc: &mut AutoCommit,
    synced: bool,
) -> Result<()> {
    let heads = heads_text(doc);
    save_bytes(tx, kind, id, &doc.save(), &heads, synced)
}

/// [`save_as`] with the document already saved (`bytes`, `heads`): the expensive part can be
/// done away from the transaction. For changes received from the server (merged into a
/// record): they never enter the outbox, the server holds them.
pub(crate) fn save_bytes(
    tx: &Transaction<'_>,
    kind: RecordKind,
    id: &str,
    bytes: &[u8],
    heads: &str,
    synced: bool,
) -> Result<()> {
    upsert(tx, kind, id, bytes, heads, synced).map(|_| ())
}

/// The `record` row's insert or update; returns the rows written (0 when a record of another
/// kind holds the id).
fn upsert(
    tx: &Transaction<'_>,
    kind: RecordKind,
    id: &str,
    bytes: &[u8],
    heads: &str,
    synced: bool,
) -> Result<usize> {
    Ok(tx
        .prepare_cached(
            "INSERT INTO record(id, kind, doc, heads, updated_ms, synced_heads)
         VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?6 THEN ?4 ELSE '' END)
         ON CONFLICT(id) DO UPDATE SET doc = excluded.doc, heads = excluded.heads,
                                       updated_ms = excluded.updated_ms,
                                       synced_heads = CASE WHEN ?6 THEN excluded.heads
                                                           ELSE record.synced_heads END
         WHERE record.kind = excluded.kind",
        )?
        .execute(params![id, kind.as_str(), bytes, heads, now_ms(), synced])?)
}

/// Creates a new record's document from a value. Fails if the id is taken.
pub(crate) fn create<T: Reconcile>(
    tx: &Transaction<'_>,
    kind: RecordKind,
    id: &str,
    value: &T,
    author: &Author<'_>,
    message: &str,
) -> Result<()> {
    let mut doc = new_document(tx, id, value, author, message)?;
    save(tx, kind, id, &mut doc)
}

/// [`create`] for a document the server already holds byte-identical (a fixture imported with
/// the fixture actor, which the server seeds from the same files): stored as acknowledged,
/// nothing to push, nothing in the outbox.
pub(crate) fn create_acknowledged<T: Reconcile>(
    tx: &Transaction<'_>,
    kind: RecordKind,
    id: &str,
    value: &T,
    author: &Author<'_>,
    message: &str,
) -> Result<()> {
    let mut doc = new_document(tx, id, value, author, message)?;
    save_as(tx, kind, id, &mut doc, true)
}

/// A new document holding `value` in one change. Fails if the id is taken.
fn new_document<T: Reconcile>(
    tx: &Transaction<'_>,
    id: &str,
    value: &T,
    author: &Author<'_>,
    message: &str,
) -> Result<AutoCommit> {
    if exists(tx, id)? {
        return Err(Error::invalid("id", format!("{id} already exists")));
    }
    let mut doc = AutoCommit::new().with_actor(author.actor.clone());
    autosurgeon::reconcile(&mut doc, value).map_err(|e| Error::corrupt(id, e))?;
    doc.commit_with(
        CommitOptions::default()
            .with_message(message)
            .with_time(author.time_ms),
    );
    Ok(doc)
}

/// Reconciles a new value into an existing document. Returns whether anything changed
/// (nothing is written when the value is already there).
pub(crate) fn put<T: Reconcile>(
    tx: &Transaction<'_>,
    kind: RecordKind,
    id: &str,
    mut doc: AutoCommit,
    value: &T,
    author: &Author<'_>,
    message: &str,
) -> Result<bool> {
    doc.set_actor(author.actor.clone());
    autosurgeon::reconcile(&mut doc, value).map_err(|e| Error::corrupt(id, e))?;
    let changed = doc
        .commit_with(
            CommitOptions::default()
                .with_message(message)
                .with_time(author.time_ms),
        )
        .is_some();
    if changed {
        save(tx, kind, id, &mut doc)?;
    }
    Ok(changed)
}

/// Loads a record and replaces one entry of a map at its root (e.g. one answer in
/// `answers`), hydrating and reconciling only that entry: an edit of one answer costs the same
/// whatever the size of the inspection. `edit` gets the document (to read other fields) and the
/// current entry, and returns the new entry. Returns the old and the new entry.
pub(crate) fn update_entry<T>(
    tx: &Transaction<'_>,
    kind: RecordKind,
    id: &str,
    author: &Author<'_>,
    message: &str,
    (map, key): (&str, &str),
    edit: impl FnOnce(&AutoCommit, Option<T>) -> Result<T>,
) -> Result<(Option<T>, T)>
where
    T: Reconcile + Hydrate + Clone,
{
    let mut doc = load(tx, kind, id)?;
    let obj = match doc.get(automerge::ROOT, map) {
        Ok(Some((automerge::Value::Object(automerge::ObjType::Map), obj))) => obj,
        _ => return Err(Error::corrupt(id, format!("{map} is not a map"))),
    };
    let present = doc
        .get(&obj, key)
        .map_err(|e| Error::corrupt(id, e))?
        .is_some();
    let old: Option<T> = if present {
        Some(autosurgeon::hydrate_prop(&doc, &obj, key).map_err(|e| Error::corrupt(id, e))?)
    } else {
        None
    };
    let new = edit(&doc, old.clone())?;
    doc.set_actor(author.actor.clone());
    autosurgeon::reconcile_prop(&mut doc, &obj, key, &new).map_err(|e| Error::corrupt(id, e))?;
    let changed = doc
        .commit_with(
            CommitOptions::default()
                .with_message(message)
                .with_time(author.time_ms),
        )
        .is_some();
    if changed {
        save(tx, kind, id, &mut doc)?;
    }
    Ok((old, new))
}

/// Hydrates one field at the root of a loaded document.
pub(crate) fn field<T: Hydrate>(doc: &AutoCommit, id: &str, name: &str) -> Result<T> {
    autosurgeon::hydrate_prop(doc, automerge::ROOT, name).map_err(|e| Error::corrupt(id, e))
}

/// One change in a record's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeInfo {
    /// Change hash (hex).
    pub hash: String,
    /// Actor (hex); its first 16 hex digits identify the device.
    pub actor: String,
    /// Time the writing device gave (ms; 0 for fixture documents; display only).
    pub time_ms: i64,
    /// What the change did, e.g. `answer res.fire_lane_blocked`.
    pub message: String,
}

/// The changes of a record in causal order.
pub(crate) fn history(tx: &Transaction<'_>, kind: RecordKind, id: &str) -> Result<Vec<ChangeInfo>> {
    let mut doc = load(tx, kind, id)?;
    let _ = doc.get_heads();
    Ok(doc
        .get_changes(&[])
        .iter()
        .map(|c| ChangeInfo {
            hash: c.hash().to_string(),
            actor: c.actor_id().to_hex_string(),
            time_ms: c.timestamp(),
            message: c.message().unwrap_or_default().to_string(),
        })
        .collect())
}

//! Records as automerge documents in the `record` table: load, hydrate, create, update, save.
//! Every write goes through here so that the document and its query rows (written by `index`)
//! land in the same transaction. A document lives in memory only for one call.

use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit, ReadDoc};
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

/// Writes a document to the `record` table (insert or replace).
pub(crate) fn save(
    tx: &Transaction<'_>,
    kind: RecordKind,
    id: &str,
    doc: &mut AutoCommit,
) -> Result<()> {
    save_as(tx, kind, id, doc, false)
}

/// Writes a document to the `record` table (insert or replace); `synced`: the server holds
/// every change of it (received from the server onto an acknowledged record), so its
/// `synced_heads` become its heads in the same statement.
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
/// done away from the transaction.
pub(crate) fn save_bytes(
    tx: &Transaction<'_>,
    kind: RecordKind,
    id: &str,
    bytes: &[u8],
    heads: &str,
    synced: bool,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO record(id, kind, doc, heads, updated_ms, synced_heads)
         VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?6 THEN ?4 ELSE '' END)
         ON CONFLICT(id) DO UPDATE SET doc = excluded.doc, heads = excluded.heads,
                                       updated_ms = excluded.updated_ms,
                                       synced_heads = CASE WHEN ?6 THEN excluded.heads
                                                           ELSE record.synced_heads END
         WHERE record.kind = excluded.kind",
    )?
    .execute(params![id, kind.as_str(), bytes, heads, now_ms(), synced])?;
    Ok(())
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
    save(tx, kind, id, &mut doc)
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

//! The device's side of a sync round, on the store: build a request from what the server has
//! not acknowledged, and apply the server's response in one transaction (acknowledgements,
//! received changes, cursor), so a crash at any point leaves the state of before or of after.
//!
//! A record's push comes from its outbox (`push_outbox`, the raw local changes `record::save`
//! appends in the transaction of each local write) when the outbox starts at the record's
//! `synced_heads`; otherwise (no basis: changes from before schema 5, a reset, missing
//! dependencies, nothing acknowledged yet) its document is loaded and asked for the changes
//! after them. Acknowledgements delete the rows they cover and move the basis to the
//! acknowledged heads.

use std::collections::{BTreeMap, HashMap, HashSet};

use automerge::{AutoCommit, Change, ChangeHash};
use rusqlite::{OptionalExtension, Transaction, params};

use super::Store;
use super::index::{Hydrated, hydrate_record, write_rows};
use super::record::{self, RecordKind};
use crate::sync::protocol::{
    DocChanges, ENVELOPE_RESERVE, MAX_HELD, MAX_MESSAGE_BYTES, PushOutcome, RefusalReason,
    SyncRequest, SyncResponse, document_checksum_ok, document_heads, held_digest,
    is_document_chunk,
};
use crate::vocab::now_ms;
use crate::{Error, Result};

/// What a request pushed, to be matched with the response's acknowledgements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingPush {
    /// Per pushed document: its id and the heads it had when the request was built.
    pub docs: Vec<(String, String)>,
    /// Automerge chunks pushed (a change, or a whole saved document).
    pub changes: u64,
    /// Per pushed document that had outbox rows: the highest outbox `seq` of it the request
    /// read (in the same snapshot as its heads). Its acknowledgement covers those rows, and
    /// only those: rows written after the request are still to be pushed.
    pub outbox_upto: BTreeMap<String, i64>,
    /// Documents whose changes were read from the outbox (no document loaded).
    pub from_outbox: u64,
}

/// What one applied response did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Documents whose push was stored.
    pub acknowledged: u64,
    /// Documents refused, with the reason.
    pub refused: Vec<(String, RefusalReason)>,
    /// Changes received.
    pub received_changes: u64,
    /// Documents created or changed by received changes.
    pub touched: u64,
    /// Received documents kept aside because they are not valid records.
    pub quarantined: u64,
    /// The server has more for us.
    pub more: bool,
    /// The server's history was replaced: everything will be resent and repulled.
    pub reset: bool,
}

/// The [`held_digest`] of every record this device holds, at most [`MAX_HELD`].
fn held_digests(tx: &Transaction<'_>) -> Result<Vec<[u8; 16]>> {
    let mut stmt = tx.prepare_cached("SELECT id, heads FROM record WHERE heads <> '' LIMIT ?1")?;
    let mut rows = stmt.query([MAX_HELD as i64])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let id = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        let heads = row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
        if let Ok(heads) = record::parse_heads(id, heads) {
            out.push(held_digest(id, &heads));
        }
    }
    Ok(out)
}

fn meta(tx: &Transaction<'_>, key: &str) -> Result<Option<String>> {
    Ok(tx
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

fn set_meta(tx: &Transaction<'_>, key: &str, value: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// A record's saved document.
fn stored_document(tx: &Transaction<'_>, id: &str) -> Result<Vec<u8>> {
    Ok(tx
        .prepare_cached("SELECT doc FROM record WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?)
}

/// A record's outbox: its local changes after its `outbox_from`, in the order they were made.
fn outbox_changes(tx: &Transaction<'_>, id: &str) -> Result<Vec<Vec<u8>>> {
    let mut stmt =
        tx.prepare_cached("SELECT change FROM push_outbox WHERE doc_id = ?1 ORDER BY seq")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

impl Store {
    /// Builds the next request: the changes of every record the server has not acknowledged
    /// (except pushes it refused, until the record changes again), up to the message limit, and
    /// the pull cursor. Reads only. A record's changes come from its outbox when the outbox
    /// starts at its `synced_heads` (no document loaded); otherwise from its document.
    pub fn sync_request(&self, max_pull_bytes: u32) -> Result<(SyncRequest, PendingPush)> {
        self.read(|tx| {
            let epoch = meta(tx, "sync_epoch")?;
            let cursor = meta(tx, "sync_cursor")?
                .and_then(|c| c.parse().ok())
                .unwrap_or(0u64);
            let mut stmt = tx.prepare_cached(
                "SELECT r.id, r.kind, r.heads, r.synced_heads, r.outbox_from,
                        (SELECT max(o.seq) FROM push_outbox o WHERE o.doc_id = r.id)
                   FROM record r
                  WHERE r.heads <> r.synced_heads
                    AND NOT EXISTS (SELECT 1 FROM sync_refusal f WHERE f.doc_id = r.id AND f.heads = r.heads)
                  ORDER BY CASE r.kind WHEN 'hazard' THEN 0 WHEN 'inspection' THEN 1 ELSE 2 END, r.updated_ms",
            )?;
            let mut rows = stmt.query([])?;
            // While catching up, name what this device holds (see `SyncRequest::held`).
            let catching_up = cursor == 0 || meta(tx, "sync_more")?.as_deref() == Some("1");
            let held = if catching_up { held_digests(tx)? } else { Vec::new() };
            let budget = MAX_MESSAGE_BYTES - ENVELOPE_RESERVE - held.len() * 16;
            let mut size = 0usize;
            let mut pushes = Vec::new();
            let mut pending = PendingPush::default();
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                let kind: String = row.get(1)?;
                let heads: String = row.get(2)?;
                let synced: String = row.get(3)?;
                let outbox_from: Option<String> = row.get(4)?;
                let outbox_upto: Option<i64> = row.get(5)?;
                // The outbox holds exactly the local changes after `synced_heads` when its
                // basis is them (see `record::append_to_outbox`); the changes the record
                // received from the server after them are not in it, and need not be sent.
                let from_outbox = outbox_upto.is_some()
                    && !synced.is_empty()
                    && outbox_from.as_deref() == Some(synced.as_str());
                let changes: Vec<Vec<u8>> = if synced.is_empty() {
                    // The server has none of it: the saved document is its whole history,
                    // sent as stored (no load, and smaller than its changes).
                    let bytes = stored_document(tx, &id)?;
                    if is_document_chunk(&bytes) {
                        vec![bytes]
                    } else {
                        let mut doc =
                            AutoCommit::load(&bytes).map_err(|e| Error::corrupt(&id, e))?;
                        doc.get_changes(&[]).into_iter().map(|c| c.raw_bytes().to_vec()).collect()
                    }
                } else if from_outbox {
                    outbox_changes(tx, &id)?
                } else {
                    let bytes = stored_document(tx, &id)?;
                    let mut doc = AutoCommit::load(&bytes).map_err(|e| Error::corrupt(&id, e))?;
                    let have = record::parse_heads(&id, &synced)?;
                    doc.get_changes(&have)
                        .into_iter()
                        .map(|c| c.raw_bytes().to_vec())
                        .collect()
                };
                let push = DocChanges { doc: id.clone(), kind, changes };
                let push_size = push.approx_size();
                if !pushes.is_empty() && size + push_size > budget {
                    break; // the rest goes in the next round
                }
                size += push_size;
                pending.changes += push.changes.len() as u64;
                pending.from_outbox += u64::from(from_outbox);
                if let Some(upto) = outbox_upto {
                    pending.outbox_upto.insert(id.clone(), upto);
                }
                pending.docs.push((id, heads));
                pushes.push(push);
            }
            let max_pull = max_pull_bytes.min((budget.saturating_sub(size)) as u32).max(64 * 1024);
            Ok((
                SyncRequest {
                    epoch,
                    cursor,
                    pushes,
                    max_pull_bytes: max_pull,
                    held,
                    record_format: crate::hydrate::RECORD_FORMAT,
                },
                pending,
            ))
        })
    }

    /// Applies a response in one transaction: acknowledged pushes become synced, refusals are
    /// remembered, received changes are merged into their documents (and query rows), and the
    /// cursor moves. Nothing is marked synced unless the server acknowledged it.
    pub fn apply_sync_response(
        &self,
        pending: &PendingPush,
        resp: &SyncResponse,
    ) -> Result<RoundReport> {
        self.write(|tx| {
            let mut report = RoundReport { more: resp.more, reset: resp.reset, ..Default::default() };
            if resp.reset {
                // Everything is resent from the documents: the outbox starts again from
                // the next local change.
                tx.execute("UPDATE record SET synced_heads = '', outbox_from = NULL", [])?;
                tx.execute("DELETE FROM push_outbox", [])?;
                tx.execute("DELETE FROM sync_refusal", [])?;
                set_meta(tx, "sync_cursor", "0")?;
                set_meta(tx, "sync_epoch", &resp.epoch)?;
                return Ok(report);
            }
            let pushed: HashMap<&str, &str> =
                pending.docs.iter().map(|(d, h)| (d.as_str(), h.as_str())).collect();
            for ack in &resp.acks {
                let Some(heads) = pushed.get(ack.doc.as_str()) else {
                    continue; // not ours to acknowledge: ignore
                };
                match &ack.outcome {
                    PushOutcome::Stored { missing_deps: false } => {
                        // The rows the request read are on the server; the ones written since
                        // start exactly at the acknowledged heads.
                        tx.prepare_cached(
                            "UPDATE record SET synced_heads = ?2, outbox_from = ?2 WHERE id = ?1",
                        )?
                        .execute(params![ack.doc, heads])?;
                        if let Some(upto) = pending.outbox_upto.get(&ack.doc) {
                            tx.prepare_cached(
                                "DELETE FROM push_outbox WHERE doc_id = ?1 AND seq <= ?2",
                            )?
                            .execute(params![ack.doc, upto])?;
                        }
                        tx.prepare_cached("DELETE FROM sync_refusal WHERE doc_id = ?1")?
                            .execute([&ack.doc])?;
                        report.acknowledged += 1;
                    }
                    PushOutcome::Stored { missing_deps: true } => {
                        // The server lost history this depends on: send everything next round.
                        tx.execute(
                            "UPDATE record SET synced_heads = '', outbox_from = NULL WHERE id = ?1",
                            [&ack.doc],
                        )?;
                        tx.execute("DELETE FROM push_outbox WHERE doc_id = ?1", [&ack.doc])?;
                        report.more = true;
                    }
                    PushOutcome::Refused { reason } => {
                        tx.execute(
                            "INSERT INTO sync_refusal(doc_id, heads, reason, at_ms) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT(doc_id) DO UPDATE SET heads = excluded.heads,
                                 reason = excluded.reason, at_ms = excluded.at_ms",
                            params![ack.doc, heads, format!("{reason:?}"), now_ms()],
                        )?;
                        report.refused.push((ack.doc.clone(), *reason));
                    }
                }
            }
            report.received_changes +=
                resp.pulled.iter().map(|p| p.changes.len() as u64).sum::<u64>();
            for applied in apply_pulled_all(tx, &resp.pulled, &resp.records)? {
                match applied {
                    Applied::Changed => report.touched += 1,
                    Applied::Unchanged => {}
                    Applied::Quarantined => report.quarantined += 1,
                }
            }
            set_meta(tx, "sync_cursor", &resp.cursor.to_string())?;
            set_meta(tx, "sync_epoch", &resp.epoch)?;
            set_meta(tx, "sync_more", if resp.more { "1" } else { "0" })?;
            Ok(report)
        })
    }

    /// Whether the server has acknowledged every change of this record.
    pub fn is_synced(&self, id: &str) -> Result<bool> {
        crate::vocab::validate_id("id", id)?;
        self.read(|tx| {
            tx.query_row(
                "SELECT heads = synced_heads FROM record WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| Error::not_found("record", id))
        })
    }

    /// Records with changes the server has not acknowledged (for the app's "not yet sent").
    pub fn unsynced_count(&self) -> Result<u64> {
        self.read(|tx| {
            Ok(tx.query_row(
                "SELECT count(*) FROM record WHERE heads <> synced_heads",
                [],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Applied {
    Changed,
    Unchanged,
    Quarantined,
}

fn quarantine(tx: &Transaction<'_>, pulled: &DocChanges, problem: &str) -> Result<Applied> {
    let blob: Vec<u8> = pulled.changes.concat();
    tx.execute(
        "INSERT INTO sync_quarantine(doc_id, kind, changes, problem, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![pulled.doc, pulled.kind, blob, problem, now_ms()],
    )?;
    Ok(Applied::Quarantined)
}

/// Whether every received change is already in the record whose sorted heads are `heads`,
/// decided from the hashes alone (no document loaded): a change that no other received change
/// depends on must be one of the record's heads, and every other one is an ancestor of such a
/// change, so of those heads too. A document holds its whole history, so each ancestor of its
/// heads is in it. `false` means "not known": the caller merges as usual. A fresh device pulls
/// every document the server holds, including the fixture documents it imported itself; this
/// lets it skip loading, merging and comparing each of them.
fn already_present(changes: &[Change], heads: &str) -> bool {
    let Ok(heads) = heads
        .split(',')
        .filter(|h| !h.is_empty())
        .map(str::parse::<ChangeHash>)
        .collect::<std::result::Result<Vec<_>, _>>()
    else {
        return false;
    };
    if heads.is_empty() || changes.is_empty() {
        return false;
    }
    let depended_on: HashSet<ChangeHash> = changes
        .iter()
        .flat_map(|c| c.deps().iter().copied())
        .collect();
    changes.iter().all(|c| {
        let hash = c.hash();
        depended_on.contains(&hash) || heads.contains(&hash)
    })
}

/// Whether every received chunk is already in the record whose sorted heads are `heads`,
/// from hashes alone: each saved document names its heads in its header, and a document
/// holds every ancestor of its heads, so one whose heads the record holds adds nothing (if
/// its content did not match its header it would be corrupt, and skipping it loses nothing);
/// the changes are decided by [`already_present`]. A fresh device is sent every document
/// whole, the fixture documents it imported itself included: this skips loading them.
fn chunks_present(changes: &[Change], chunks: &[Chunk<'_>], heads: &str) -> bool {
    let mut held: Option<Vec<ChangeHash>> = None;
    let mut documents = 0;
    for chunk in chunks {
        if let Chunk::Document(raw) = chunk {
            let held = match &held {
                Some(h) => h,
                None => match record::parse_heads("", heads) {
                    Ok(h) if !h.is_empty() => held.insert(h),
                    _ => return false,
                },
            };
            match document_heads(raw) {
                Some(named) if named.iter().all(|h| held.contains(h)) => documents += 1,
                _ => return false,
            }
        }
    }
    if changes.is_empty() {
        return documents > 0;
    }
    already_present(changes, heads)
}

/// What reading the store decided for one received document (in the transaction).
enum Plan<'a> {
    /// Settled already: quarantined, or nothing new.
    Done(Applied),
    /// To merge (away from the transaction, maybe on another thread).
    Merge(Merge<'a>),
}

/// One received automerge chunk: a change, or a saved document (a whole document the server
/// sends instead of its changes, see the protocol).
enum Chunk<'a> {
    /// The change at this index of [`Merge::changes`].
    Change(usize),
    Document(&'a [u8]),
}

/// A received document to merge into its record.
struct Merge<'a> {
    pulled: &'a DocChanges,
    kind: RecordKind,
    changes: Vec<Change>,
    chunks: Vec<Chunk<'a>>,
    /// The stored document, if the record exists.
    stored: Option<Vec<u8>>,
    old_heads: String,
    was_synced: bool,
    /// The record the server read from the document, encoded (see
    /// [`SyncResponse::records`]).
    shipped: Option<&'a [u8]>,
}

/// A merge's result, to be written in the transaction.
enum Merged {
    Unchanged,
    Quarantine(String),
    Save {
        bytes: Vec<u8>,
        heads: String,
        record: Box<Hydrated>,
    },
}

/// Received documents merged on one thread before the work is spread over the cores.
const PARALLEL_FROM: usize = 16;

/// Merges every received document of a page into its record (creating it if new) and
/// refreshes its rows, in three steps: read what each record holds (in the transaction), merge
/// and hydrate (pure work, on up to four threads when there are many), write the records and
/// rows in the order received (in the transaction). A document that does not apply or does not
/// make a valid record of its kind is quarantined and nothing of it is written. `records`
/// is empty or one per received document (see [`SyncResponse::records`]).
fn apply_pulled_all(
    tx: &Transaction<'_>,
    pulled: &[DocChanges],
    records: &[Option<Vec<u8>>],
) -> Result<Vec<Applied>> {
    let mut plans = Vec::with_capacity(pulled.len());
    for (i, p) in pulled.iter().enumerate() {
        let record = if records.len() == pulled.len() {
            records[i].as_deref()
        } else {
            None
        };
        plans.push(plan(tx, p, record)?);
    }
    let merges: Vec<&Merge<'_>> = plans
        .iter()
        .filter_map(|p| match p {
            Plan::Merge(m) => Some(m),
            Plan::Done(_) => None,
        })
        .collect();
    let mut merged = merge_all(&merges)?.into_iter();
    let mut out = Vec::with_capacity(plans.len());
    for p in &plans {
        out.push(match p {
            Plan::Done(applied) => *applied,
            Plan::Merge(m) => {
                let result = merged
                    .next()
                    .ok_or_else(|| Error::Sync("a merge result is missing".into()))?;
                write_merged(tx, m, result)?
            }
        });
    }
    Ok(out)
}

/// Reads what the record holds and settles what needs no merge.
fn plan<'a>(
    tx: &Transaction<'_>,
    pulled: &'a DocChanges,
    shipped: Option<&'a [u8]>,
) -> Result<Plan<'a>> {
    let Ok(kind) = pulled.kind.parse::<RecordKind>() else {
        return quarantine(tx, pulled, "unknown record kind").map(Plan::Done);
    };
    if crate::vocab::validate_id("doc", &pulled.doc).is_err() {
        return quarantine(tx, pulled, "bad record id").map(Plan::Done);
    }
    // The row without the document: most received documents need only this to be decided.
    let existing: Option<(String, String, String)> = tx
        .prepare_cached("SELECT kind, heads, synced_heads FROM record WHERE id = ?1")?
        .query_row([&pulled.doc], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    if let Some((k, _, _)) = &existing
        && k != kind.as_str()
    {
        return quarantine(tx, pulled, "kind differs from the local record").map(Plan::Done);
    }
    let mut changes = Vec::with_capacity(pulled.changes.len());
    let mut chunks = Vec::with_capacity(pulled.changes.len());
    for raw in &pulled.changes {
        if is_document_chunk(raw) {
            chunks.push(Chunk::Document(raw.as_slice()));
            continue;
        }
        match Change::try_from(raw.as_slice()) {
            Ok(c) => {
                chunks.push(Chunk::Change(changes.len()));
                changes.push(c);
            }
            Err(_) => return quarantine(tx, pulled, "not an automerge change").map(Plan::Done),
        }
    }
    let (stored, old_heads, was_synced) = match existing {
        Some((_, heads, _)) if chunks_present(&changes, &chunks, &heads) => {
            return Ok(Plan::Done(Applied::Unchanged));
        }
        Some((_, heads, synced)) => {
            let bytes: Vec<u8> = tx
                .prepare_cached("SELECT doc FROM record WHERE id = ?1")?
                .query_row([&pulled.doc], |r| r.get(0))?;
            let was_synced = heads == synced;
            (Some(bytes), heads, was_synced)
        }
        None => (None, String::new(), true),
    };
    Ok(Plan::Merge(Merge {
        pulled,
        kind,
        changes,
        chunks,
        stored,
        old_heads,
        was_synced,
        shipped,
    }))
}

/// A record new to the device that came as exactly one saved document with its record read
/// by the server: stored as those bytes, its heads read from the document's header, its rows
/// from the shipped record, without loading the document. Only when the document's checksum
/// holds and the record decodes as its kind; otherwise `None` (the document is read).
fn take_shipped(m: &Merge<'_>) -> Option<Merged> {
    let (None, [Chunk::Document(raw)], Some(shipped)) = (&m.stored, m.chunks.as_slice(), m.shipped)
    else {
        return None;
    };
    if !document_checksum_ok(raw) {
        return None;
    }
    let record = crate::hydrate::Record::decode(m.kind, shipped)?;
    let mut heads: Vec<String> = document_heads(raw)?.iter().map(|h| h.to_string()).collect();
    if heads.is_empty() {
        return None;
    }
    heads.sort();
    Some(Merged::Save {
        bytes: raw.to_vec(),
        heads: heads.join(","),
        record: Box::new(record),
    })
}

/// Merges one document and hydrates its record; touches no database.
fn merge(m: &Merge<'_>) -> Result<Merged> {
    if let Some(taken) = take_shipped(m) {
        return Ok(taken);
    }
    let mut chunks = m.chunks.iter().peekable();
    let mut doc = match (&m.stored, chunks.peek()) {
        (Some(bytes), _) => {
            AutoCommit::load(bytes).map_err(|e| Error::corrupt(&m.pulled.doc, e))?
        }
        // A new record sent whole: loading the saved document is the fast way in.
        (None, Some(Chunk::Document(raw))) => match AutoCommit::load(raw) {
            Ok(doc) => {
                chunks.next();
                doc
            }
            Err(e) => return Ok(Merged::Quarantine(format!("document does not load: {e}"))),
        },
        (None, _) => AutoCommit::new(),
    };
    let mut pending = Vec::new();
    for chunk in chunks {
        match chunk {
            Chunk::Change(i) => pending.push(m.changes[*i].clone()),
            Chunk::Document(raw) => {
                if let Err(e) = doc
                    .apply_changes(std::mem::take(&mut pending))
                    .and_then(|()| doc.load_incremental(raw).map(|_| ()))
                {
                    return Ok(Merged::Quarantine(format!("changes do not apply: {e}")));
                }
            }
        }
    }
    if let Err(e) = doc.apply_changes(pending) {
        return Ok(Merged::Quarantine(format!("changes do not apply: {e}")));
    }
    let heads = record::heads_text(&mut doc);
    if heads == m.old_heads {
        return Ok(Merged::Unchanged);
    }
    match hydrate_record(m.kind, &m.pulled.doc, &doc) {
        Ok(record) => Ok(Merged::Save {
            // A new record that came as one saved document is stored as those bytes: they
            // loaded into this very document, so saving it again would only repeat them.
            bytes: match (&m.stored, m.chunks.as_slice()) {
                (None, [Chunk::Document(raw)]) => raw.to_vec(),
                _ => doc.save(),
            },
            heads,
            record: Box::new(record),
        }),
        Err(Error::CorruptRecord { problem, .. }) => Ok(Merged::Quarantine(problem)),
        Err(e) => Err(e),
    }
}

/// [`merge`] for every document, in order; on up to four threads when there are many.
fn merge_all(merges: &[&Merge<'_>]) -> Result<Vec<Merged>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    if merges.len() < PARALLEL_FROM || threads < 2 {
        return merges.iter().map(|m| merge(m)).collect();
    }
    let chunk = merges.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = merges
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|m| merge(m)).collect::<Result<Vec<_>>>()))
            .collect();
        let mut all = Vec::with_capacity(merges.len());
        for h in handles {
            let part = h
                .join()
                .map_err(|_| Error::Sync("merging a received document panicked".into()))??;
            all.extend(part);
        }
        Ok(all)
    })
}

/// Writes one merge's result: the record and its rows inside a savepoint (rolled back, and the
/// document quarantined, if the rows cannot be written from it). When everything local was
/// already on the server, and these came from it, the record stays synced (written by the
/// same statement as the document).
fn write_merged(tx: &Transaction<'_>, m: &Merge<'_>, merged: Merged) -> Result<Applied> {
    let (bytes, heads, record) = match merged {
        Merged::Unchanged => return Ok(Applied::Unchanged),
        Merged::Quarantine(problem) => return quarantine(tx, m.pulled, &problem),
        Merged::Save {
            bytes,
            heads,
            record,
        } => (bytes, heads, record),
    };
    tx.prepare_cached("SAVEPOINT pulled")?.execute([])?;
    record::save_bytes(tx, m.kind, &m.pulled.doc, &bytes, &heads, m.was_synced)?;
    match write_rows(tx, &m.pulled.doc, &record) {
        Ok(()) => {
            tx.prepare_cached("RELEASE pulled")?.execute([])?;
        }
        Err(Error::CorruptRecord { problem, .. }) => {
            tx.prepare_cached("ROLLBACK TO pulled")?.execute([])?;
            tx.prepare_cached("RELEASE pulled")?.execute([])?;
            return quarantine(tx, m.pulled, &problem);
        }
        Err(e) => return Err(e),
    }
    Ok(Applied::Changed)
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;

    use super::*;

    fn changes(doc: &mut AutoCommit, after: &[ChangeHash]) -> Vec<Change> {
        doc.get_changes(after)
    }

    #[test]
    fn a_saved_documents_heads_are_read_from_its_header() {
        let mut doc = AutoCommit::new();
        doc.put(automerge::ROOT, "a", 1).unwrap();
        doc.commit();
        let mut other = doc.fork();
        doc.put(automerge::ROOT, "b", "x".repeat(300)).unwrap();
        doc.commit();
        other.put(automerge::ROOT, "c", 3).unwrap();
        other.commit();
        doc.merge(&mut other).unwrap();
        let saved = doc.save();
        let mut named = document_heads(&saved).unwrap();
        let mut heads = doc.get_heads();
        named.sort();
        heads.sort();
        assert_eq!(heads.len(), 2);
        assert_eq!(named, heads);
        // Every truncation and a damaged byte anywhere: an answer or None, never a panic.
        for end in 0..saved.len() {
            let _ = document_heads(&saved[..end]);
        }
        for at in 0..saved.len().min(200) {
            let mut bad = saved.clone();
            bad[at] ^= 0xff;
            let _ = document_heads(&bad);
        }
        // A change chunk is not a document.
        let change = doc.get_changes(&[])[0].raw_bytes().to_vec();
        assert_eq!(document_heads(&change), None);
        // Present when the record holds those heads, not when it lacks one.
        let stored = record::heads_text(&mut doc);
        let chunks = [Chunk::Document(&saved)];
        assert!(chunks_present(&[], &chunks, &stored));
        let mut older = AutoCommit::load(&saved)
            .unwrap()
            .fork_at(&[heads[0]])
            .unwrap();
        let older_heads = record::heads_text(&mut older);
        assert!(!chunks_present(&[], &chunks, &older_heads));
        assert!(!chunks_present(&[], &chunks, ""));
        assert!(!chunks_present(&[], &[], &stored));
    }

    #[test]
    fn already_present_is_decided_from_hashes_and_errs_on_the_side_of_merging() {
        let mut doc = AutoCommit::new();
        doc.put(automerge::ROOT, "a", 1).unwrap();
        doc.commit();
        let first = doc.get_heads();
        doc.put(automerge::ROOT, "b", 2).unwrap();
        doc.commit();
        doc.put(automerge::ROOT, "c", 3).unwrap();
        doc.commit();
        let all = changes(&mut doc, &[]);
        let heads = record::heads_text(&mut doc);
        // The whole history, or any part of it, is present.
        assert!(already_present(&all, &heads));
        assert!(already_present(&all[1..], &heads));
        assert!(already_present(&all[2..], &heads));
        // An older change alone is present too, but it is not a head: not known without the
        // document, so the caller merges (and finds nothing new).
        assert!(!already_present(&all[..1], &heads));
        // A change the record lacks.
        let mut fork = doc.fork();
        fork.put(automerge::ROOT, "d", 4).unwrap();
        fork.commit();
        let newer = changes(&mut fork, &doc.get_heads());
        assert!(!already_present(&newer, &heads));
        let mut with_new = all.clone();
        with_new.extend(newer);
        assert!(!already_present(&with_new, &heads));
        // A concurrent branch: both heads are known.
        let mut other = AutoCommit::new();
        other.apply_changes(all[..1].to_vec()).unwrap();
        other.put(automerge::ROOT, "e", 5).unwrap();
        other.commit();
        let branch = changes(&mut other, &first);
        let mut merged = doc.clone();
        merged.apply_changes(branch.clone()).unwrap();
        let merged_heads = record::heads_text(&mut merged);
        assert!(already_present(&branch, &merged_heads));
        assert!(!already_present(&branch, &heads));
        // Nothing to compare with.
        assert!(!already_present(&all, ""));
        assert!(!already_present(&[], &heads));
        assert!(!already_present(&all, "not-a-hash"));
    }
}

//! The device's side of a sync round, on the store: build a request from what the server has
//! not acknowledged, and apply the server's response in one transaction (acknowledgements,
//! received changes, cursor), so a crash at any point leaves the state of before or of after.

use std::collections::{HashMap, HashSet};

use automerge::{AutoCommit, Change, ChangeHash};
use rusqlite::{OptionalExtension, Transaction, params};

use super::Store;
use super::index::materialize;
use super::record::{self, RecordKind};
use crate::sync::protocol::{
    DocChanges, ENVELOPE_RESERVE, MAX_MESSAGE_BYTES, PushOutcome, RefusalReason, SyncRequest,
    SyncResponse,
};
use crate::vocab::now_ms;
use crate::{Error, Result};

/// What a request pushed, to be matched with the response's acknowledgements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingPush {
    /// Per pushed document: its id and the heads it had when the request was built.
    pub docs: Vec<(String, String)>,
    /// Changes pushed.
    pub changes: u64,
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

fn parse_heads(id: &str, text: &str) -> Result<Vec<ChangeHash>> {
    text.split(',')
        .filter(|h| !h.is_empty())
        .map(|h| {
            h.parse()
                .map_err(|_| Error::corrupt(id, "bad change hash in heads"))
        })
        .collect()
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

impl Store {
    /// Builds the next request: the changes of every record the server has not acknowledged
    /// (except pushes it refused, until the record changes again), up to the message limit, and
    /// the pull cursor. Reads only.
    pub fn sync_request(&self, max_pull_bytes: u32) -> Result<(SyncRequest, PendingPush)> {
        self.read(|tx| {
            let epoch = meta(tx, "sync_epoch")?;
            let cursor = meta(tx, "sync_cursor")?
                .and_then(|c| c.parse().ok())
                .unwrap_or(0u64);
            let mut stmt = tx.prepare_cached(
                "SELECT r.id, r.kind, r.doc, r.heads, r.synced_heads FROM record r
                  WHERE r.heads <> r.synced_heads
                    AND NOT EXISTS (SELECT 1 FROM sync_refusal f WHERE f.doc_id = r.id AND f.heads = r.heads)
                  ORDER BY CASE r.kind WHEN 'hazard' THEN 0 WHEN 'inspection' THEN 1 ELSE 2 END, r.updated_ms",
            )?;
            let mut rows = stmt.query([])?;
            let budget = MAX_MESSAGE_BYTES - ENVELOPE_RESERVE;
            let mut size = 0usize;
            let mut pushes = Vec::new();
            let mut pending = PendingPush::default();
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                let kind: String = row.get(1)?;
                let bytes: Vec<u8> = row.get(2)?;
                let heads: String = row.get(3)?;
                let synced: String = row.get(4)?;
                let mut doc = AutoCommit::load(&bytes).map_err(|e| Error::corrupt(&id, e))?;
                let have = parse_heads(&id, &synced)?;
                let changes: Vec<Vec<u8>> = doc
                    .get_changes(&have)
                    .into_iter()
                    .map(|c| c.raw_bytes().to_vec())
                    .collect();
                let push = DocChanges { doc: id.clone(), kind, changes };
                let push_size = push.approx_size();
                if !pushes.is_empty() && size + push_size > budget {
                    break; // the rest goes in the next round
                }
                size += push_size;
                pending.changes += push.changes.len() as u64;
                pending.docs.push((id, heads));
                pushes.push(push);
            }
            let max_pull = max_pull_bytes.min((budget.saturating_sub(size)) as u32).max(64 * 1024);
            Ok((
                SyncRequest { epoch, cursor, pushes, max_pull_bytes: max_pull },
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
                tx.execute("UPDATE record SET synced_heads = ''", [])?;
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
                        tx.execute(
                            "UPDATE record SET synced_heads = ?2 WHERE id = ?1",
                            params![ack.doc, heads],
                        )?;
                        tx.execute("DELETE FROM sync_refusal WHERE doc_id = ?1", [&ack.doc])?;
                        report.acknowledged += 1;
                    }
                    PushOutcome::Stored { missing_deps: true } => {
                        // The server lost history this depends on: send everything next round.
                        tx.execute("UPDATE record SET synced_heads = '' WHERE id = ?1", [&ack.doc])?;
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
            for pulled in &resp.pulled {
                report.received_changes += pulled.changes.len() as u64;
                match apply_pulled(tx, pulled)? {
                    Applied::Changed => report.touched += 1,
                    Applied::Unchanged => {}
                    Applied::Quarantined => report.quarantined += 1,
                }
            }
            set_meta(tx, "sync_cursor", &resp.cursor.to_string())?;
            set_meta(tx, "sync_epoch", &resp.epoch)?;
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

/// Merges received changes into a record (creating it if new), then refreshes its rows.
fn apply_pulled(tx: &Transaction<'_>, pulled: &DocChanges) -> Result<Applied> {
    let Ok(kind) = pulled.kind.parse::<RecordKind>() else {
        return quarantine(tx, pulled, "unknown record kind");
    };
    if crate::vocab::validate_id("doc", &pulled.doc).is_err() {
        return quarantine(tx, pulled, "bad record id");
    }
    // The row without the document: most received documents need only this to be decided.
    let existing: Option<(String, String, String)> = tx
        .prepare_cached("SELECT kind, heads, synced_heads FROM record WHERE id = ?1")?
        .query_row([&pulled.doc], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    if let Some((k, _, _)) = &existing
        && k != kind.as_str()
    {
        return quarantine(tx, pulled, "kind differs from the local record");
    }
    let mut changes = Vec::with_capacity(pulled.changes.len());
    for raw in &pulled.changes {
        match Change::try_from(raw.as_slice()) {
            Ok(c) => changes.push(c),
            Err(_) => return quarantine(tx, pulled, "not an automerge change"),
        }
    }
    let (mut doc, old_heads, was_synced) = match existing {
        Some((_, heads, _)) if already_present(&changes, &heads) => {
            return Ok(Applied::Unchanged);
        }
        Some((_, heads, synced)) => {
            let bytes: Vec<u8> = tx
                .prepare_cached("SELECT doc FROM record WHERE id = ?1")?
                .query_row([&pulled.doc], |r| r.get(0))?;
            let doc = AutoCommit::load(&bytes).map_err(|e| Error::corrupt(&pulled.doc, e))?;
            let was_synced = heads == synced;
            (doc, heads, was_synced)
        }
        None => (AutoCommit::new(), String::new(), true),
    };
    if let Err(e) = doc.apply_changes(changes) {
        return quarantine(tx, pulled, &format!("changes do not apply: {e}"));
    }
    let new_heads = record::heads_text(&mut doc);
    if new_heads == old_heads {
        return Ok(Applied::Unchanged);
    }
    // Keep the merged document only if it makes a valid record of its kind: save and index
    // inside a savepoint, and roll back to it if the document does not hydrate. When
    // everything local was already on the server, and these came from it, the record stays
    // synced (written by the same statement as the document).
    tx.prepare_cached("SAVEPOINT pulled")?.execute([])?;
    record::save_as(tx, kind, &pulled.doc, &mut doc, was_synced)?;
    match materialize(tx, kind, &pulled.doc, &doc) {
        Ok(()) => {
            tx.prepare_cached("RELEASE pulled")?.execute([])?;
        }
        Err(Error::CorruptRecord { problem, .. }) => {
            tx.prepare_cached("ROLLBACK TO pulled")?.execute([])?;
            tx.prepare_cached("RELEASE pulled")?.execute([])?;
            return quarantine(tx, pulled, &problem);
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

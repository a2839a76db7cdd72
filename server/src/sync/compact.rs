//! Background compaction of the server's documents.
//!
//! A commit only appends changes to the log (the truth, append-only, never rewritten) and
//! moves the document's version; it does not rewrite the document's snapshot. Loading a
//! document reads its snapshot plus the changes logged after it (the tail). This module folds
//! tails into new snapshots in the background, so loads stay fast and commits stay cheap.
//!
//! Kill-safety: a snapshot is a cache of the log. Building one happens outside any write
//! transaction; storing it is one short transaction that replaces a snapshot only if it is
//! still the one the new snapshot was built from. A process killed at any instant leaves
//! either the old snapshot with its longer tail or the new one with a shorter tail — the same
//! document either way — and the next run picks up where this one stopped. Several server
//! instances compacting at once only duplicate work.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use firegrid_core::Result;
use firegrid_core::hydrate::Record;

use super::{Snapshot, SyncStorage};

/// Documents compacted per transaction.
pub const BATCH: usize = 64;

/// Compacts up to `limit` documents whose snapshot is behind; returns how many new snapshots
/// were stored. A document that cannot be loaded is reported and left as it is (its log stays
/// intact and is still served).
pub fn compact(storage: &dyn SyncStorage, limit: usize) -> Result<usize> {
    let ids = storage.dirty_docs(limit)?;
    let mut snapshots = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(stored) = storage.load_doc(&id)? else {
            continue;
        };
        if stored.tail.is_empty() || stored.snapshot_seq >= stored.version {
            continue;
        }
        match stored.to_automerge(&id) {
            Ok(mut doc) => snapshots.push(Snapshot {
                doc: id,
                bytes: doc.save(),
                record: Record::read_encoded(stored.kind, &doc),
                upto: stored.version,
                base: stored.snapshot_seq,
            }),
            Err(e) => tracing::error!(doc = %id, error = %e, "cannot compact a document"),
        }
    }
    if snapshots.is_empty() {
        return Ok(0);
    }
    storage.save_snapshots(&snapshots)
}

/// Compacts everything that is behind now (seeding, tests, the `compact` admin command).
pub fn compact_all(storage: &dyn SyncStorage) -> Result<usize> {
    let mut total = 0;
    loop {
        let n = compact(storage, BATCH)?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}

/// A background thread compacting whenever documents fall behind; stops when dropped.
#[derive(Debug)]
pub struct Compactor {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Compactor {
    /// Starts compacting `storage`, looking for work every `idle` when there is none.
    pub fn spawn(storage: Arc<dyn SyncStorage>, idle: Duration) -> Compactor {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("firegrid-compactor".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    match compact(storage.as_ref(), BATCH) {
                        Ok(n) if n > 0 => {}
                        Ok(_) => sleep_unless_stopped(&flag, idle),
                        Err(e) => {
                            tracing::warn!(error = %e, "compaction failed; retrying later");
                            sleep_unless_stopped(&flag, idle * 10);
                        }
                    }
                }
            })
            .ok();
        Compactor { stop, thread }
    }
}

fn sleep_unless_stopped(stop: &AtomicBool, total: Duration) {
    let step = Duration::from_millis(50);
    let mut slept = Duration::ZERO;
    while slept < total && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step);
        slept += step;
    }
}

impl Drop for Compactor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

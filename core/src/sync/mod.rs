//! Sync: the wire protocol and the device's side of it, sans I/O. A sync is a loop of rounds:
//! build a request from what the server has not acknowledged ([`crate::Store::sync_request`]),
//! hand its bytes to a transport, apply the response in one transaction
//! ([`crate::Store::apply_sync_response`]), until nothing is left to push or pull. The
//! transport (HTTP with reqwest, or an in-memory server in tests) only moves bytes.

pub mod blobs;
pub mod http;
pub mod protocol;

use crate::store::{PendingPush, RoundReport};
use crate::sync::protocol::{RefusalReason, SyncResponse};
use crate::{Error, Result, Store};

/// Most rounds in one sync (a 10,000-record first sync needs a few dozen pages).
pub const MAX_ROUNDS: u32 = 1_000;
/// Bytes of changes asked for per response.
pub const PULL_PAGE_BYTES: u32 = 3 * 1024 * 1024;

/// Progress of a running sync, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncProgress {
    /// Rounds done.
    pub rounds: u32,
    /// Automerge chunks sent so far (a change, or a whole saved document).
    pub sent_changes: u64,
    /// Automerge chunks received so far (a change, or a whole saved document).
    pub received_changes: u64,
    /// Records still waiting to be sent (after this round).
    pub unsynced: u64,
    /// The server said it has more to send.
    pub more: bool,
}

/// The outcome of a whole sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Round trips made.
    pub rounds: u32,
    /// Automerge chunks sent (a change, or a whole saved document).
    pub sent_changes: u64,
    /// Documents whose changes the server acknowledged.
    pub acknowledged: u64,
    /// Automerge chunks received (a change, or a whole saved document).
    pub received_changes: u64,
    /// Documents created or changed by received changes.
    pub touched: u64,
    /// Documents the server refused, with the reason.
    pub refused: Vec<(String, RefusalReason)>,
    /// Received documents kept aside as invalid.
    pub quarantined: u64,
}

impl SyncReport {
    fn add(&mut self, pending: &PendingPush, round: RoundReport) {
        self.rounds += 1;
        self.sent_changes += pending.changes;
        self.acknowledged += round.acknowledged;
        self.received_changes += round.received_changes;
        self.touched += round.touched;
        self.refused.extend(round.refused);
        self.quarantined += round.quarantined;
    }
}

impl Store {
    /// Runs a whole sync over `transport` (request bytes in, response bytes out). One round trip
    /// when there is little to do; pages when there is a lot. A second concurrent call fails
    /// with [`Error::AlreadySyncing`]. Every round is applied in one transaction, so a sync cut
    /// off at any point leaves the store consistent and the next sync finishes the work.
    pub fn sync_via(
        &self,
        transport: &mut dyn FnMut(Vec<u8>) -> Result<Vec<u8>>,
        progress: &mut dyn FnMut(SyncProgress),
    ) -> Result<SyncReport> {
        let _guard = self.sync_guard()?;
        let mut report = SyncReport::default();
        let mut more = true;
        loop {
            let (request, pending) = self.sync_request(PULL_PAGE_BYTES)?;
            if report.rounds > 0 && request.pushes.is_empty() && !more {
                return Ok(report);
            }
            if report.rounds >= MAX_ROUNDS {
                return Err(Error::Sync(format!("no end after {MAX_ROUNDS} rounds")));
            }
            let response = SyncResponse::decode(&transport(request.encode()?)?)?;
            if response.acks.len() != request.pushes.len() && !response.reset {
                return Err(Error::Sync(
                    "the server acknowledged a different number of documents".into(),
                ));
            }
            let round = self.apply_sync_response(&pending, &response)?;
            more = round.more || round.reset;
            report.add(&pending, round);
            progress(SyncProgress {
                rounds: report.rounds,
                sent_changes: report.sent_changes,
                received_changes: report.received_changes,
                unsynced: self.unsynced_count()?,
                more,
            });
        }
    }
}

//! Sync as the app drives it: a client of one server (log in, refresh), the progress callback,
//! and the reports. The sync call itself lives on [`crate::FiregridStore`]. Every call here is
//! blocking network I/O: run it off the main thread.

use std::sync::Arc;

use firegrid_core::sync as domain;
use firegrid_core::sync::http::{self, HttpClient};
use firegrid_core::sync::protocol::RefusalReason as DomainRefusalReason;

use crate::access::User;
use crate::error::Result;
use crate::vocab::mirror_enum;

/// A client of one Firegrid server (HTTPS; plain HTTP only for a local server). Holds a
/// connection pool: make one per server and share it. Safe from any thread.
#[derive(Debug, uniffi::Object)]
pub struct SyncClient {
    pub(crate) inner: HttpClient,
}

#[uniffi::export]
impl SyncClient {
    /// A client for `server_url`, e.g. `https://firegrid.example.org`. Fails with `Invalid`
    /// (field `server_url`) for anything but an http(s) URL.
    #[uniffi::constructor]
    pub fn new(server_url: String) -> Result<Arc<SyncClient>> {
        Ok(Arc::new(SyncClient {
            inner: HttpClient::new(&server_url)?,
        }))
    }

    /// Exchanges a refresh token for a new session; the old refresh token stops working.
    /// Blocking.
    pub fn refresh(&self, refresh_token: String) -> Result<Session> {
        Ok(self.inner.refresh(&refresh_token)?.into())
    }

    /// Ends the login on the server: the access and refresh tokens stop working. Blocking. Call
    /// it at sign-out (before `sign_out_and_wipe`); offline, forget the tokens anyway: they
    /// expire, and an admin can revoke the device.
    pub fn logout(&self, access_token: String) -> Result<()> {
        Ok(self.inner.logout(&access_token)?)
    }
}

/// A logged-in session: the tokens and their expiry (server clock, ms).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Session {
    /// User id.
    pub user_id: String,
    /// Device id.
    pub device_id: String,
    /// Bearer token for sync.
    pub access_token: String,
    /// When the access token expires.
    pub access_expires_ms: i64,
    /// Token for a new pair (keep it secret, in the Keystore / Keychain).
    pub refresh_token: String,
    /// When the refresh token expires.
    pub refresh_expires_ms: i64,
}

impl From<http::Session> for Session {
    fn from(s: http::Session) -> Self {
        Session {
            user_id: s.user_id,
            device_id: s.device_id,
            access_token: s.access_token,
            access_expires_ms: s.access_expires_ms,
            refresh_token: s.refresh_token,
            refresh_expires_ms: s.refresh_expires_ms,
        }
    }
}

/// A login's answer: the session and the user as the server knows them.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Login {
    /// Tokens.
    pub session: Session,
    /// The user.
    pub user: User,
}

impl From<http::Login> for Login {
    fn from(l: http::Login) -> Self {
        Login {
            session: l.session.into(),
            user: l.user.into(),
        }
    }
}

/// Progress of a running sync, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgress {
    /// Rounds done.
    pub rounds: u32,
    /// Changes sent so far.
    pub sent_changes: u64,
    /// Changes received so far.
    pub received_changes: u64,
    /// Records still waiting to be sent.
    pub unsynced: u64,
    /// The server has more to send.
    pub more: bool,
}

impl From<domain::SyncProgress> for SyncProgress {
    fn from(p: domain::SyncProgress) -> Self {
        SyncProgress {
            rounds: p.rounds,
            sent_changes: p.sent_changes,
            received_changes: p.received_changes,
            unsynced: p.unsynced,
            more: p.more,
        }
    }
}

/// Receives the progress of a sync, called on the thread that runs the sync, after every
/// round. Keep it short (post to the UI thread); it must not call the store's sync again.
#[uniffi::export(callback_interface)]
pub trait SyncProgressListener: Send + Sync {
    /// One round is done.
    fn on_progress(&self, progress: SyncProgress);
}

mirror_enum! {
    /// Why the server refused a record's changes.
    RefusalReason = DomainRefusalReason {
        /// The user may not write this record.
        Forbidden,
        /// A change's author is not this device.
        ForeignActor,
        /// The changes or the record they make are invalid.
        Invalid,
        /// Too many changes or bytes for one record in one request.
        TooLarge,
    }
}

/// A record the server refused.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Refusal {
    /// Record id.
    pub record_id: String,
    /// Why.
    pub reason: RefusalReason,
}

/// The outcome of a whole sync.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Round trips made.
    pub rounds: u32,
    /// Changes sent.
    pub sent_changes: u64,
    /// Records whose changes the server acknowledged.
    pub acknowledged: u64,
    /// Changes received.
    pub received_changes: u64,
    /// Records created or changed by received changes.
    pub touched: u64,
    /// Records the server refused, with the reason.
    pub refused: Vec<Refusal>,
    /// Received records kept aside as invalid.
    pub quarantined: u64,
}

impl From<domain::SyncReport> for SyncReport {
    fn from(r: domain::SyncReport) -> Self {
        SyncReport {
            rounds: r.rounds,
            sent_changes: r.sent_changes,
            acknowledged: r.acknowledged,
            received_changes: r.received_changes,
            touched: r.touched,
            refused: r
                .refused
                .into_iter()
                .map(|(record_id, reason)| Refusal {
                    record_id,
                    reason: reason.into(),
                })
                .collect(),
            quarantined: r.quarantined,
        }
    }
}

//! The core's error type: one variant per failure an app or an operator must tell apart.
//!
//! Messages name ids, files and item ids, never personal data (names, phone numbers,
//! addresses, notes): errors end up in logs and bug reports.

use std::path::PathBuf;

/// Result of every fallible core operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A fixture file (checklist, standard, district) could not be read or is invalid.
    #[error("{file}: {item}: {problem}")]
    Fixture {
        /// The file that failed.
        file: PathBuf,
        /// Where in the file: an item id, a JSON position, or `file` for the whole file.
        item: String,
        /// What is wrong, in plain words.
        problem: String,
    },

    /// The store file could not be opened (missing folder, no permission, locked).
    #[error("cannot open the store at {path}: {source}")]
    Open {
        /// The database path.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file exists but is not an SQLite database (or is corrupt beyond opening).
    #[error("{path} is not a Firegrid store: the file is not a database or is corrupt")]
    NotADatabase {
        /// The database path.
        path: PathBuf,
    },
    /// The file is an SQLite database of another application.
    #[error("{path} belongs to another application (application_id {application_id:#x})")]
    ForeignDatabase {
        /// The database path.
        path: PathBuf,
        /// The application id found in the file header.
        application_id: i64,
    },
    /// The database was written by a newer version of Firegrid.
    #[error(
        "the store was written by a newer Firegrid (schema {found}); this version reads up to schema {supported}: update the app"
    )]
    DatabaseTooNew {
        /// The schema version found in the file.
        found: i64,
        /// The newest schema this code knows.
        supported: i64,
    },
    /// A numbered migration failed; the database stays at the previous version.
    #[error("migration to schema {version} failed: {source}")]
    Migration {
        /// The version that was being applied.
        version: i64,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// `PRAGMA integrity_check` reported a problem.
    #[error("the store failed its integrity check: {0}")]
    Integrity(String),
    /// The server could not be reached, or the connection broke (retry later).
    #[error("network error: {0}")]
    Network(String),
    /// The server did not accept the credentials or the token (sign in again).
    #[error("not signed in: {0}")]
    Unauthorized(String),
    /// The server asks to wait before the next request.
    #[error("the server is busy; retry in {retry_after_s} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after_s: u64,
    },
    /// The server answered with an error.
    #[error("server error {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// A sync is already running on this store; try again when it ends.
    #[error("a sync is already running")]
    AlreadySyncing,
    /// The sync protocol went wrong (a response that does not fit the request, no progress).
    #[error("sync failed: {0}")]
    Sync(String),
    /// A wipe was asked for while work made on this device has not reached the server:
    /// nothing was removed. Sync (documents, then photos) first, or wipe with `force` to give
    /// that work up.
    #[error(
        "{records} records have changes and {photos} photos have bytes the server has not \
         acknowledged; sync before wiping"
    )]
    UnsyncedChanges {
        /// Records with unacknowledged changes.
        records: u64,
        /// Photos this device holds that its records reference and the server has not
        /// confirmed holding whole (the photo sync's queue).
        photos: u64,
    },
    /// The device's storage (or the store's size limit) is full: nothing of the failed write
    /// was kept, everything saved before is intact. Free space and retry.
    #[error("storage is full: the last change was not saved; free some space and try again")]
    StorageFull,
    /// Any other SQLite failure (disk full, I/O error, busy beyond the timeout).
    #[error("storage error: {0}")]
    Storage(#[from] rusqlite::Error),
    /// A server-side database other than SQLite (PostgreSQL) failed or could not be reached;
    /// nothing of the failed request was committed. Retry later.
    #[error("database unavailable: {0}")]
    Backend(String),
    /// A stored automerge document could not be loaded or does not have the expected shape.
    #[error("record {id} is corrupt: {problem}")]
    CorruptRecord {
        /// The record id.
        id: String,
        /// What failed.
        problem: String,
    },

    /// No record with this id (of this kind) exists in the store.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// The kind of record looked for.
        kind: &'static str,
        /// The id given.
        id: String,
    },
    /// An input value is malformed (empty id, bad hash, coordinates out of range, …).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field or argument.
        field: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// The operation needs a signed-in user and there is none on this device.
    #[error("no user is signed in on this device")]
    NoCurrentUser,
    /// The current user may not do this (outside their scope, or their role may not).
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// No checklist applies to the premises (none imported for its kind).
    #[error("no checklist is imported for premises kind {kind}")]
    NoChecklist {
        /// The premises kind.
        kind: String,
    },
    /// A checklist version with this id and number exists with different content.
    #[error(
        "checklist {id} v{version} is already imported with different content; publish a new version instead"
    )]
    ChecklistVersionConflict {
        /// The checklist id.
        id: String,
        /// The version number.
        version: u32,
    },
    /// An answer or photo names an item that is not part of the inspection's checklist.
    #[error("item {item_id} is not part of inspection {inspection_id}")]
    UnknownItem {
        /// The inspection.
        inspection_id: String,
        /// The item id given.
        item_id: String,
    },
    /// The inspection is finished and can no longer be edited.
    #[error("inspection {0} is finished and can no longer be edited")]
    InspectionFinished(String),
    /// The inspection cannot be finished yet.
    #[error(
        "inspection {inspection_id} cannot be finished: {} required item(s) unanswered, {} failed item(s) without the required photo",
        unanswered.len(),
        missing_photos.len()
    )]
    IncompleteInspection {
        /// The inspection.
        inspection_id: String,
        /// Required items without an answer.
        unanswered: Vec<String>,
        /// Failed items that need a photo and have none.
        missing_photos: Vec<String>,
    },
    /// A step of a hazard's closed loop cannot be taken in the case's current state (or lacks
    /// its evidence): nothing was recorded.
    #[error("hazard {hazard_id}: cannot record {action} while the case is {status}: {reason}")]
    HazardTransition {
        /// The hazard.
        hazard_id: String,
        /// The step asked for (an event kind, e.g. `verified`).
        action: String,
        /// The case's status.
        status: String,
        /// Why not (a `FlagReason`, e.g. `wrong_state`, `missing_evidence`, `duplicate`).
        reason: String,
    },
    /// The photo is an image in a format the core cannot decode (HEIC/HEIF, AVIF, WebP, …).
    /// The app should convert it to JPEG with the platform's codec (or capture JPEG) and retry.
    #[error("unsupported format: {format}")]
    UnsupportedFormat {
        /// The format recognised, e.g. `HEIC`.
        format: &'static str,
    },
    /// A file outside the database (a stored photo) could not be read or written. The message
    /// names the action, never the path (paths can carry personal data).
    #[error("file error while {action}: {source}")]
    Io {
        /// What was being done, e.g. `writing a photo`.
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Shorthand constructor.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// Shorthand constructor.
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            kind,
            id: id.into(),
        }
    }

    /// Shorthand constructor.
    pub fn corrupt(id: impl Into<String>, problem: impl ToString) -> Self {
        Error::CorruptRecord {
            id: id.into(),
            problem: problem.to_string(),
        }
    }

    pub(crate) fn fixture(
        file: impl Into<PathBuf>,
        item: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        Error::Fixture {
            file: file.into(),
            item: item.into(),
            problem: problem.into(),
        }
    }
}

//! The one error type of the surface: the failures an app can act on, each with the fields it
//! needs to act, converted once from `firegrid_core::Error`. Kotlin sees `FiregridException`
//! (a sealed class, one subclass per variant), Swift `FiregridError` (an enum), Python
//! `FiregridError.<Variant>`.
//!
//! Messages carry ids and reasons only, never personal data (conventions, rule 7): the core's
//! messages already follow that rule. Free-text fields are named `detail`, not `message`,
//! because Kotlin exceptions already have a `message` property (uniffi builds it from the
//! fields).

use firegrid_core::Error as CoreError;

/// Everything a Firegrid call can fail with.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum FiregridError {
    /// The call needs a signed-in user and nobody is signed in on this device: show sign-in.
    #[error("no user is signed in on this device")]
    NotSignedIn,
    /// The server refused the credentials or the token (expired, revoked, wrong password):
    /// refresh the token, or sign in again.
    #[error("unauthorized: {detail}")]
    Unauthorized {
        /// The server's reason.
        detail: String,
    },
    /// The signed-in user may not do this (role, or outside their area): explain, do not retry.
    #[error("forbidden: {detail}")]
    Forbidden {
        /// Why.
        detail: String,
    },
    /// No record of this kind with this id on the device.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// The kind of record: `premises`, `inspection`, `hazard`, `checklist`, `user`, ….
        kind: String,
        /// The id given.
        id: String,
    },
    /// An argument is malformed (empty id, note too long, bad photo hash, position out of
    /// range, unknown item, bad fixture file): show it next to the field.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The argument or field, e.g. `premises_id`, `note`, `photo.sha256`, `item_id`.
        field: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The inspection is finished and can no longer be edited.
    #[error("inspection {inspection_id} is finished")]
    InspectionFinished {
        /// The inspection.
        inspection_id: String,
    },
    /// The inspection cannot be finished yet: take the user to these items.
    #[error(
        "inspection {inspection_id} is incomplete: {} unanswered, {} without photo",
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
    /// A step of a hazard's closed loop cannot be taken now; nothing was recorded.
    #[error("hazard {hazard_id}: cannot {action} while {status}: {reason}")]
    HazardTransition {
        /// The hazard.
        hazard_id: String,
        /// The step asked for (an event kind, e.g. `verified`).
        action: String,
        /// The case's status.
        status: String,
        /// Why not: `wrong_state`, `missing_evidence`, `duplicate`, ….
        reason: String,
    },
    /// The device's storage (or the store's size cap) is full: nothing of the failed change
    /// was kept; free space and retry.
    #[error("storage is full")]
    StorageFull,
    /// A sign-out wipe was refused because changes have not reached the server; nothing was
    /// removed. Sync first, or ask the user whether to give them up (wipe with `force`).
    #[error("{records} records and {photos} photos have not reached the server")]
    UnsyncedChanges {
        /// Records with unacknowledged changes.
        records: u64,
        /// Photos still waiting for the photo sync (their bytes are not on the server).
        photos: u64,
    },
    /// A sync is already running on this store: wait for it.
    #[error("a sync is already running")]
    AlreadySyncing,
    /// The server could not be reached or the connection broke: retry later (offline).
    #[error("network: {detail}")]
    Network {
        /// What failed.
        detail: String,
    },
    /// The server asks to wait before the next request.
    #[error("server busy; retry in {retry_after_s} s")]
    ServerBusy {
        /// Seconds to wait.
        retry_after_s: u64,
    },
    /// The server answered with an error (5xx: retry later; other: report it).
    #[error("server error {status}: {detail}")]
    Server {
        /// HTTP status (0: the answer did not fit the protocol).
        status: u16,
        /// The server's message.
        detail: String,
    },
    /// The store file was written by a newer Firegrid: update the app.
    #[error("the store needs a newer app (schema {found}, this app reads up to {supported})")]
    StoreTooNew {
        /// Schema version in the file.
        found: i64,
        /// Newest schema this app reads.
        supported: i64,
    },
    /// The store file or a record in it is damaged (not a database, another app's database,
    /// failed integrity check, a record that does not load): offer to sync what is left and
    /// reinstall; report it.
    #[error("corrupt: {detail}")]
    Corrupt {
        /// What is damaged (ids only).
        detail: String,
    },
    /// The store could not be opened, migrated, read or written for another reason (missing
    /// folder, no permission, I/O error): report it.
    #[error("storage: {detail}")]
    Storage {
        /// What failed.
        detail: String,
    },
    /// A bug or an unexpected state: report it. (A panic inside Rust does not come as this: it
    /// arrives as uniffi's own internal exception, see `ffi/README.md`.)
    #[error("internal: {detail}")]
    Internal {
        /// What failed.
        detail: String,
    },
}

impl From<CoreError> for FiregridError {
    fn from(e: CoreError) -> Self {
        use FiregridError as F;
        match e {
            CoreError::NoCurrentUser => F::NotSignedIn,
            CoreError::Unauthorized(detail) => F::Unauthorized { detail },
            CoreError::Forbidden(detail) => F::Forbidden { detail },
            CoreError::NotFound { kind, id } => F::NotFound {
                kind: kind.to_string(),
                id,
            },
            CoreError::NoChecklist { kind } => F::NotFound {
                kind: "checklist".into(),
                id: kind,
            },
            CoreError::Invalid { field, reason } => F::Invalid {
                field: field.to_string(),
                reason,
            },
            CoreError::UnknownItem { item_id, .. } => F::Invalid {
                field: "item_id".into(),
                reason: format!("item {item_id} is not part of this inspection"),
            },
            e @ (CoreError::Fixture { .. } | CoreError::ChecklistVersionConflict { .. }) => {
                F::Invalid {
                    field: "fixtures".into(),
                    reason: e.to_string(),
                }
            }
            CoreError::UnsupportedFormat { format } => F::Invalid {
                field: "photo".into(),
                reason: format!("unsupported format {format}: convert it to JPEG"),
            },
            CoreError::InspectionFinished(inspection_id) => F::InspectionFinished { inspection_id },
            CoreError::IncompleteInspection {
                inspection_id,
                unanswered,
                missing_photos,
            } => F::IncompleteInspection {
                inspection_id,
                unanswered,
                missing_photos,
            },
            CoreError::HazardTransition {
                hazard_id,
                action,
                status,
                reason,
            } => F::HazardTransition {
                hazard_id,
                action,
                status,
                reason,
            },
            CoreError::StorageFull => F::StorageFull,
            CoreError::UnsyncedChanges { records, photos } => {
                F::UnsyncedChanges { records, photos }
            }
            CoreError::AlreadySyncing => F::AlreadySyncing,
            CoreError::Network(detail) => F::Network { detail },
            CoreError::RateLimited { retry_after_s } => F::ServerBusy { retry_after_s },
            CoreError::Server { status, message } => F::Server {
                status,
                detail: message,
            },
            CoreError::Sync(detail) => F::Server { status: 0, detail },
            CoreError::DatabaseTooNew { found, supported } => F::StoreTooNew { found, supported },
            e @ (CoreError::NotADatabase { .. }
            | CoreError::ForeignDatabase { .. }
            | CoreError::Integrity(_)
            | CoreError::CorruptRecord { .. }) => F::Corrupt {
                detail: e.to_string(),
            },
            e @ (CoreError::Open { .. }
            | CoreError::Migration { .. }
            | CoreError::Storage(_)
            | CoreError::Backend(_)
            | CoreError::Io { .. }) => F::Storage {
                detail: e.to_string(),
            },
            // The core's error is non_exhaustive: a variant added there lands here until it
            // gets its own mapping.
            other => F::Internal {
                detail: other.to_string(),
            },
        }
    }
}

/// Result of every fallible call of the surface.
pub type Result<T, E = FiregridError> = std::result::Result<T, E>;

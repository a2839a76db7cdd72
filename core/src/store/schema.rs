//! Numbered migrations (`migrations/NNN_*.sql`), tracked in `PRAGMA user_version`, and the
//! identity checks that refuse a foreign or newer database before anything is written.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::Result;
use crate::sqlite::FileKind;

/// `PRAGMA application_id` of a Firegrid store: "FGRD".
pub const APPLICATION_ID: i64 = 0x4647_5244;

/// Migrations in order; the schema version after applying `MIGRATIONS[i]` is `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/001_initial.sql"),
    include_str!("../../migrations/002_sync_state.sql"),
    include_str!("../../migrations/003_hazard_lifecycle.sql"),
    include_str!("../../migrations/004_photo_sync.sql"),
    include_str!("../../migrations/005_push_outbox.sql"),
];

/// The schema version this code writes.
pub const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// What a device store file is.
pub(super) const FILE: FileKind = FileKind {
    application_id: APPLICATION_ID,
    migrations: MIGRATIONS,
    journal_size_limit: 8 * 1024 * 1024,
};

/// Applies every migration the file lacks.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    crate::sqlite::migrate_to(conn, &FILE, LATEST_VERSION)
}

/// The device id stored in `meta`, created on first open.
pub(super) fn device_id(conn: &mut Connection) -> Result<String> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let existing: Option<String> = tx
        .query_row("SELECT value FROM meta WHERE key = 'device_id'", [], |r| {
            r.get(0)
        })
        .optional()?;
    let id = match existing {
        Some(id) => id,
        None => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            tx.execute(
                "INSERT INTO meta(key, value) VALUES ('device_id', ?1)",
                [&id],
            )?;
            id
        }
    };
    tx.commit()?;
    Ok(id)
}

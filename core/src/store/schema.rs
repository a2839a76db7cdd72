//! Numbered migrations (`migrations/NNN_*.sql`), tracked in `PRAGMA user_version`, and the
//! identity checks that refuse a foreign or newer database before anything is written.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::{Error, Result};

/// `PRAGMA application_id` of a Firegrid store: "FGRD".
pub const APPLICATION_ID: i64 = 0x4647_5244;

/// Migrations in order; the schema version after applying `MIGRATIONS[i]` is `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/001_initial.sql"),
    include_str!("../../migrations/002_sync_state.sql"),
];

/// The schema version this code writes.
pub const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// Refuses a file that is not SQLite, belongs to another application, or is newer than this
/// code, before any pragma changes it.
pub(super) fn check_identity(conn: &Connection, path: &Path) -> Result<()> {
    let map = |e| super::classify_open_error(path, e);
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(map)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(map)?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(map)?;
    if app_id == 0 && version == 0 && tables == 0 {
        return Ok(()); // a new, empty file
    }
    if app_id != APPLICATION_ID {
        return Err(Error::ForeignDatabase {
            path: path.to_path_buf(),
            application_id: app_id,
        });
    }
    if version > LATEST_VERSION {
        return Err(Error::DatabaseTooNew {
            found: version,
            supported: LATEST_VERSION,
        });
    }
    Ok(())
}

/// Applies every migration the file lacks, each in its own transaction together with the
/// `user_version` bump, so a kill mid-migration leaves the previous version intact.
pub(super) fn migrate(conn: &mut Connection, _path: &Path) -> Result<()> {
    migrate_to(conn, LATEST_VERSION)
}

/// Migrates up to `target` (tests use this to build old-version databases).
pub(crate) fn migrate_to(conn: &mut Connection, target: i64) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version <= current || version > target {
            continue;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| Error::Migration { version, source })?;
        // Re-check inside the write lock: another process may have migrated meanwhile.
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now >= version {
            continue;
        }
        tx.execute_batch(sql)
            .map_err(|source| Error::Migration { version, source })?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(|source| Error::Migration { version, source })?;
        tx.pragma_update(None, "user_version", version)
            .map_err(|source| Error::Migration { version, source })?;
        tx.commit()
            .map_err(|source| Error::Migration { version, source })?;
    }
    Ok(())
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

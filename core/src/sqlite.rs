//! SQLite file handling shared by the device store and the server's embedded store: the
//! identity checks that refuse a foreign, newer or non-database file before anything is
//! written, the numbered migrations, and the pragmas (each with its reason).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};

use crate::{Error, Result};

/// What a kind of database file is.
#[derive(Debug, Clone, Copy)]
pub struct FileKind {
    /// `PRAGMA application_id` of such files.
    pub application_id: i64,
    /// Migrations in order; after `migrations[i]` the schema version is `i + 1`.
    pub migrations: &'static [&'static str],
    /// Largest WAL file kept after a checkpoint, in bytes.
    pub journal_size_limit: i64,
}

impl FileKind {
    /// The schema version this code writes.
    pub fn latest(&self) -> i64 {
        self.migrations.len() as i64
    }
}

/// Tells a file that is not a database (or is corrupt beyond opening) from other open failures.
pub fn classify_open_error(path: &Path, e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Error::NotADatabase {
            path: path.to_path_buf(),
        },
        _ => Error::Open {
            path: path.to_path_buf(),
            source: e,
        },
    }
}

/// Refuses a file that is not SQLite, belongs to another application, or is newer than this
/// code, before any pragma changes it. A new, empty file passes.
pub fn check_identity(conn: &Connection, path: &Path, kind: &FileKind) -> Result<()> {
    let map = |e| classify_open_error(path, e);
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
        return Ok(());
    }
    if app_id != kind.application_id {
        return Err(Error::ForeignDatabase {
            path: path.to_path_buf(),
            application_id: app_id,
        });
    }
    if version > kind.latest() {
        return Err(Error::DatabaseTooNew {
            found: version,
            supported: kind.latest(),
        });
    }
    Ok(())
}

/// Sets every pragma of a connection, each for a stated reason.
pub fn configure(conn: &Connection, path: &Path, kind: &FileKind, writer: bool) -> Result<()> {
    let map = |e| classify_open_error(path, e);
    // Wait up to 5 s for another connection's lock instead of failing at once with SQLITE_BUSY.
    conn.busy_timeout(Duration::from_secs(5)).map_err(map)?;
    // Schema objects may not call application-defined functions: the file may come from a backup.
    conn.pragma_update(None, "trusted_schema", "OFF")
        .map_err(map)?;
    // Enforce the REFERENCES clauses.
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(map)?;
    // Sorts and temporary indices stay in memory: no stray temp files.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(map)?;
    if writer {
        // WAL: readers never block the writer; a crash leaves either the old or the new state.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(map)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Integrity(format!(
                "journal_mode is {mode}, WAL could not be set"
            )));
        }
        // FULL: a commit that returned survives power loss, not only a crash of the process
        // (a saved answer on the phone; an acknowledged push on the server).
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(map)?;
        // Keep the WAL file from growing without bound after a large import or burst.
        conn.pragma_update(None, "journal_size_limit", kind.journal_size_limit)
            .map_err(map)?;
    } else {
        // Reader connections never write.
        conn.pragma_update(None, "query_only", "ON").map_err(map)?;
    }
    Ok(())
}

/// Applies every migration the file lacks up to `target`, each in its own transaction together
/// with the `user_version` bump, so a kill mid-migration leaves the previous version intact.
pub fn migrate_to(conn: &mut Connection, kind: &FileKind, target: i64) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in kind.migrations.iter().enumerate() {
        let version = i as i64 + 1;
        if version <= current || version > target {
            continue;
        }
        let step = |e| Error::Migration { version, source: e };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(step)?;
        // Re-check inside the write lock: another process may have migrated meanwhile.
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now >= version {
            continue;
        }
        tx.execute_batch(sql).map_err(step)?;
        tx.pragma_update(None, "application_id", kind.application_id)
            .map_err(step)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(step)?;
        tx.commit().map_err(step)?;
    }
    Ok(())
}

/// Runs `f` in one IMMEDIATE transaction (the write lock is taken at BEGIN); commits on `Ok`
/// and returns only after COMMIT; rolls back on `Err`, keeping nothing of a failed write. A full
/// disk becomes [`Error::StorageFull`].
pub fn immediate<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Transaction<'_>) -> Result<T>,
) -> Result<T> {
    let result = (|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    })();
    result.map_err(|e| match e {
        Error::Storage(e) if e.sqlite_error_code() == Some(ErrorCode::DiskFull) => {
            Error::StorageFull
        }
        other => other,
    })
}

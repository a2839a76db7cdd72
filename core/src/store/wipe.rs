//! Sign-out wipe: removes everything a user's work left on the device (every record and query
//! row, the sync cursor, the signed-in user, refusals and quarantined records, the photo
//! folder) so that a phone handed to someone else holds nothing of the previous user, and a new
//! user can sign in and sync into it as into a fresh store.
//!
//! What stays: the schema and the device id (the phone is the same device for the server, which
//! hands a device over to its new user at login).
//!
//! Crash safety: every row goes in one SQLite transaction, which also writes a `wipe_photos`
//! marker; the photo folder is removed after that commit and the marker cleared after the
//! folder is gone. A kill before the commit leaves the store whole (nothing removed); a kill
//! after it leaves an empty store whose marker makes the next [`Store::open`] finish removing
//! the photos. No state in between looks like a whole store. Deleted pages are overwritten
//! (`secure_delete`) and the WAL is truncated after the commit, so the old rows do not linger
//! in the file's free pages.
//!
//! It refuses ([`Error::UnsyncedChanges`], nothing removed) while records have changes the
//! server has not acknowledged or photos wait in the photo sync's queue (their bytes are not on
//! the server: a wipe right after a document sync would otherwise delete the only copy of the
//! evidence), unless forced; and it takes the sync lock and the photo-sync lock, so it never
//! runs in the middle of a sync or a photo upload ([`Error::AlreadySyncing`]).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction};

use super::{Store, lock};
use crate::{Error, Result};

/// The `meta` key that says the rows are gone and the photo folder still has to go.
const MARKER: &str = "wipe_photos";

/// What a wipe removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WipeReport {
    /// Records removed (documents; their query rows went with them).
    pub records: u64,
    /// Records removed whose changes had not reached the server (non-zero only when forced).
    pub unsynced_dropped: u64,
    /// Photo files removed from the photo folder.
    pub photos: u64,
}

impl Store {
    /// Wipes the device's data for sign-out (see the module doc). Refuses with
    /// [`Error::UnsyncedChanges`] while changes wait for the server, unless `force` (the user
    /// chose to give them up, e.g. a phone that can no longer reach the server); refuses with
    /// [`Error::AlreadySyncing`] while a sync runs. After it returns the store is empty, nobody
    /// is signed in, and the next sync starts from the beginning.
    pub fn wipe(&self, force: bool) -> Result<WipeReport> {
        let _sync = self.sync_guard()?;
        let _photo_sync = self.photo_guard()?;
        // The photo queue is read before the transaction: a photo can only join it through a
        // record write, and such a write leaves that record unsynced, which the transaction
        // checks under the writer lock.
        let unsent_photos = if force {
            0
        } else {
            self.photo_upload_queue()?.queued.len() as u64
        };
        let mut conn = lock(&self.writer);
        // Overwrite what is deleted, so the previous user's rows do not stay in free pages.
        conn.pragma_update(None, "secure_delete", "ON")?;
        let removed =
            crate::sqlite::immediate(&mut conn, |tx| delete_everything(tx, force, unsent_photos));
        conn.pragma_update(None, "secure_delete", "OFF")?;
        let (records, unsynced_dropped) = removed?;
        // The old pages also sit in the WAL until a checkpoint: copy them back (zeroed) and
        // truncate it. Best effort: a reader holding a snapshot can keep part of the WAL alive,
        // and the next checkpoint takes care of it.
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        let photos = finish(&conn, &self.photo_dir())?;
        Ok(WipeReport {
            records,
            unsynced_dropped,
            photos,
        })
    }
}

/// Every table's rows, in one transaction; returns the records removed and how many of them
/// were unsynced.
fn delete_everything(tx: &Transaction<'_>, force: bool, photos: u64) -> Result<(u64, u64)> {
    let unsynced: i64 = tx.query_row(
        "SELECT count(*) FROM record WHERE heads <> synced_heads",
        [],
        |r| r.get(0),
    )?;
    let unsynced = unsynced.max(0) as u64;
    if (unsynced > 0 || photos > 0) && !force {
        return Err(Error::UnsyncedChanges {
            records: unsynced,
            photos,
        });
    }
    let records: i64 = tx.query_row("SELECT count(*) FROM record", [], |r| r.get(0))?;
    // Every table the migrations made, so a table added later is wiped too. References are
    // checked at commit, when every table is empty.
    tx.pragma_update(None, "defer_foreign_keys", "ON")?;
    let tables: Vec<String> = tx
        .prepare(
            "SELECT name FROM sqlite_schema
              WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> 'meta'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for table in &tables {
        tx.execute(
            &format!("DELETE FROM \"{}\"", table.replace('"', "\"\"")),
            [],
        )?;
    }
    tx.execute("DELETE FROM meta WHERE key <> 'device_id'", [])?;
    tx.execute("INSERT INTO meta(key, value) VALUES (?1, '1')", [MARKER])?;
    Ok((records.max(0) as u64, unsynced))
}

/// Removes the photo folder if a committed wipe left the marker, then clears the marker.
/// Called at the end of a wipe and when a store is opened (a kill between the two steps).
/// Returns the photo files removed.
pub(super) fn finish(conn: &Connection, photo_dir: &Path) -> Result<u64> {
    let pending: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [MARKER], |r| {
            r.get(0)
        })
        .optional()?;
    if pending.is_none() {
        return Ok(0);
    }
    let photos = remove_tree(photo_dir)?;
    if let Some(parent) = photo_dir.parent() {
        // The folder's removal must be durable before the marker goes.
        sync_dir(parent)?;
    }
    conn.execute("DELETE FROM meta WHERE key = ?1", [MARKER])?;
    Ok(photos)
}

fn io(action: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { action, source }
}

/// Removes a folder and everything in it (missing: nothing to do); returns the files removed.
fn remove_tree(dir: &Path) -> Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io("listing the photo folder")(e)),
    };
    let mut files = 0;
    for entry in entries {
        let entry = entry.map_err(io("listing the photo folder"))?;
        let path = entry.path();
        if entry
            .file_type()
            .map_err(io("listing the photo folder"))?
            .is_dir()
        {
            files += remove_tree(&path)?;
        } else {
            std::fs::remove_file(&path).map_err(io("removing a photo"))?;
            files += 1;
        }
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(files),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(files),
        Err(e) => Err(io("removing the photo folder")(e)),
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io("syncing the store's folder"))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<()> {
    Ok(())
}

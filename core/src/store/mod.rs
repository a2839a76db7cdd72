//! The on-device store: one SQLite file holding every record as an automerge document plus the
//! query columns materialised from it, both written in one transaction.
//!
//! Owns the connections (one writer, one reader, reached only through `read` and `write`), the
//! pragmas, the migrations, the device identity and the signed-in user, and wipes it all for
//! sign-out (`wipe.rs`). The operations on each
//! kind of record live in the submodules. It must not keep documents loaded beyond one call,
//! and it does no network I/O.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use automerge::ActorId;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::sqlite::{check_identity, classify_open_error, configure};

use crate::access::User;
use crate::{Error, Result};

mod hazards;
mod import;
mod index;
mod inspections;
mod org;
mod photos;
mod premises;
mod record;
mod schema;
mod sync_state;
mod wipe;

pub use import::ImportReport;
pub use photos::{PhotoQueue, PhotoRefusal, PhotoRefusalReason, PhotoSource, QueuedPhoto};
pub use record::{ChangeInfo, RecordKind};
pub use schema::{APPLICATION_ID, LATEST_VERSION};
pub use sync_state::{PendingPush, RoundReport};
pub use wipe::WipeReport;

/// The Firegrid store on a device. Safe to share between threads (`Send + Sync`): calls
/// serialise on the writer connection; reads use their own connection and never wait for writes.
pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    device_id: String,
    actor: ActorId,
    /// Held for the whole of a sync: one at a time per store.
    sync_lock: Mutex<()>,
    /// Held for the whole of a photo sync (`sync::blobs`), apart from `sync_lock`.
    photo_lock: Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock leaves no half-done transaction (it rolls back on drop),
    // so the connection is still usable.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Store {
    /// Opens the store at `path`, creating it if the file does not exist, and migrates it to
    /// the current schema. Refuses a file that is not a database, belongs to another
    /// application, or was written by a newer Firegrid.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let mut writer =
            Connection::open_with_flags(&path, flags).map_err(|e| classify_open_error(&path, e))?;
        check_identity(&writer, &path, &schema::FILE)?;
        configure(&writer, &path, &schema::FILE, true)?;
        schema::migrate(&mut writer)?;
        // Every write statement is prepared once per connection (`prepare_cached`): a sync
        // round writes thousands of records through a few dozen distinct statements.
        writer.set_prepared_statement_cache_capacity(64);
        let device_id = schema::device_id(&mut writer)?;
        // A wipe killed after its commit left the photo folder: finish removing it.
        wipe::finish(&writer, &photo_dir_of(&path))?;

        let reader = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(|e| classify_open_error(&path, e))?;
        configure(&reader, &path, &schema::FILE, false)?;

        let actor = record::session_actor(&device_id)?;
        Ok(Store {
            path,
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            device_id,
            actor,
            sync_lock: Mutex::new(()),
            photo_lock: Mutex::new(()),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder for this store's photos (`photo::BlobStore`, content-addressed): beside the
    /// database file, named after it with `.photos` appended. Photos never live inside the
    /// database, so a store and its photos are two paths an app keeps together (and a wipe
    /// removes together).
    pub fn photo_dir(&self) -> PathBuf {
        photo_dir_of(&self.path)
    }

    /// Takes the sync lock, or fails with `AlreadySyncing` if a sync is running.
    pub(crate) fn sync_guard(&self) -> Result<MutexGuard<'_, ()>> {
        match self.sync_lock.try_lock() {
            Ok(g) => Ok(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => Err(Error::AlreadySyncing),
        }
    }

    /// This device's id (random, made when the store was created).
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// Runs `f` in one IMMEDIATE transaction on the writer connection; commits on `Ok`,
    /// rolls back on `Err` (nothing of a failed write is kept).
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        crate::sqlite::immediate(&mut lock(&self.writer), f)
    }

    /// Caps the size of the store file (`None`: no cap beyond the disk). A write that would
    /// grow the file past the cap fails with [`Error::StorageFull`] and keeps nothing, exactly
    /// like a full disk. Lets an app keep room for photos, and lets tests prove full-disk safety.
    pub fn set_max_size_bytes(&self, max: Option<u64>) -> Result<u64> {
        let conn = lock(&self.writer);
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let page_size = page_size.max(1) as u64;
        let pages = match max {
            Some(bytes) => (bytes / page_size).clamp(1, 0xFFFF_FFFE),
            None => 0xFFFF_FFFE,
        };
        let set: i64 = conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
            r.get(0)
        })?;
        Ok(set.max(0) as u64 * page_size)
    }

    /// The current size of the store file in bytes (pages in use; the WAL is not counted).
    pub fn size_bytes(&self) -> Result<u64> {
        let conn = lock(&self.writer);
        let bytes: i64 = conn.query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get(0),
        )?;
        Ok(bytes.max(0) as u64)
    }

    /// Runs `f` in a read transaction (a consistent snapshot) on the reader connection.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = lock(&self.reader);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let out = f(&tx)?;
        tx.finish()?;
        Ok(out)
    }

    /// Runs `PRAGMA integrity_check` and checks every record's document loads and matches its
    /// query rows. `Ok` means the file and every record are whole.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.read(|tx| {
            let result: String = tx.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            if result != "ok" {
                return Err(Error::Integrity(result));
            }
            index::verify_all(tx)
        })
    }

    /// Rebuilds every query table from the documents (after a migration that adds columns, or
    /// to repair). One transaction.
    pub fn reindex(&self) -> Result<u64> {
        self.write(index::reindex_all)
    }

    /// Every record's id, kind and document bytes (export, support, seeding a server).
    pub fn export_records(&self) -> Result<Vec<(String, RecordKind, Vec<u8>)>> {
        self.read(|tx| {
            let mut stmt = tx.prepare("SELECT id, kind, doc FROM record ORDER BY rowid")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, kind, doc) = row?;
                let kind = kind
                    .parse()
                    .map_err(|_| Error::corrupt(&id, "unknown record kind"))?;
                out.push((id, kind, doc));
            }
            Ok(out)
        })
    }

    /// A record's document bytes (`Automerge::save()`), for export and support.
    pub fn document_bytes(&self, id: &str) -> Result<Vec<u8>> {
        crate::vocab::validate_id("id", id)?;
        self.read(|tx| {
            use rusqlite::OptionalExtension;
            tx.query_row("SELECT doc FROM record WHERE id = ?1", [id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| Error::not_found("record", id))
        })
    }

    /// Signs a user in on this device (the user must be among the imported ones).
    pub fn set_current_user(&self, user_id: &str) -> Result<User> {
        crate::vocab::validate_id("user_id", user_id)?;
        self.write(|tx| {
            let user: User = record::get(tx, RecordKind::User, user_id)?;
            tx.execute(
                "INSERT INTO meta(key, value) VALUES ('current_user', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [user_id],
            )?;
            Ok(user)
        })
    }

    /// Signs the current user out (local data stays).
    pub fn clear_current_user(&self) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM meta WHERE key = 'current_user'", [])?;
            Ok(())
        })
    }

    /// The signed-in user, if any.
    pub fn current_user(&self) -> Result<Option<User>> {
        self.read(current_user)
    }
}

/// The photo folder of the store file at `path` (see [`Store::photo_dir`]).
fn photo_dir_of(path: &Path) -> PathBuf {
    let mut dir = path.to_path_buf().into_os_string();
    dir.push(".photos");
    PathBuf::from(dir)
}

/// Result of [`Store::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyReport {
    /// Records checked (document loaded and compared with its query rows).
    pub records: u64,
}

pub(crate) fn current_user(tx: &Transaction<'_>) -> Result<Option<User>> {
    use rusqlite::OptionalExtension;
    let id: Option<String> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'current_user'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match id {
        None => Ok(None),
        Some(id) => Ok(Some(record::get(tx, RecordKind::User, &id)?)),
    }
}

pub(crate) fn require_user(tx: &Transaction<'_>) -> Result<User> {
    current_user(tx)?.ok_or(Error::NoCurrentUser)
}

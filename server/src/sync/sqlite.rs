//! The embedded-SQLite [`SyncStorage`]: the server's change log and document snapshots in one
//! SQLite file (schema in `server/migrations/`, tracked in `PRAGMA user_version`).
//!
//! Owns that file: its connections (one writer behind a lock, a few readers), the pragmas, the
//! migrations, the identity check (its own `application_id`, "FGSV", so neither a device store
//! nor any other database is ever mistaken for it) and the epoch. It stores what the engine
//! ([`super::handle`]) accepted and pages the log out to pulls. It must not authorize, validate
//! records or work out scopes (the engine does), must never update or reorder a committed log
//! row (only a restore replaces the history, with a new epoch), and does no network I/O.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};
use std::thread::JoinHandle;
use std::time::Duration;

use automerge::ChangeHash;
use firegrid_core::sqlite::{FileKind, check_identity, classify_open_error, configure, migrate_to};
use firegrid_core::store::RecordKind;
use firegrid_core::{Error, Result};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};

use super::{
    CommitOutcome, DocScope, DocWrite, OwnChanges, PageBuilder, PullPage, Snapshot, StoredDoc,
    SyncStorage, seed_document, snapshot_digest,
};

/// `PRAGMA application_id` of a Firegrid server database: "FGSV" (a device store is "FGRD").
pub const APPLICATION_ID: i64 = 0x4647_5356;

/// Migrations in order; the schema version after applying `MIGRATIONS[i]` is `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/001_sync_log.sql"),
    include_str!("../../migrations/002_compaction.sql"),
    include_str!("../../migrations/003_scope_moves.sql"),
    include_str!("../../migrations/004_created_seq.sql"),
    include_str!("../../migrations/005_blobs.sql"),
    include_str!("../../migrations/006_records.sql"),
];

/// What a server sync database file is.
const FILE: FileKind = FileKind {
    application_id: APPLICATION_ID,
    migrations: MIGRATIONS,
    // Larger than the device's: seeds and bursts of pushes are bigger.
    journal_size_limit: 64 * 1024 * 1024,
};

/// The schema version this code writes.
pub const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// Reader connections: the lookups and pulls of concurrent requests run side by side and never
/// wait for a commit (WAL); a few are enough, SQLite reads are short.
const READERS: usize = 4;

/// WAL pages after which the writer checkpoints on its own, in the committing request: only
/// when the background checkpointer ([`Checkpointer`]) has fallen this far behind (SQLite's
/// default, 1,000 pages, would make every few commits of a busy server pay for a checkpoint).
const WRITER_CHECKPOINT_PAGES: i64 = 16_000;

/// How long the checkpointer lets writes gather before it copies them into the database file.
const CHECKPOINT_DELAY: Duration = Duration::from_millis(200);

/// The log and documents, joined with the scope filter a pull evaluates in SQL. `?1` is the
/// cursor; `?2` whether street-wide documents are visible; `?3` the JSON array of communities
/// whose community-wide documents are visible; `?4` the JSON array of visible
/// `[community, grid]` pairs; `?5` whether every row of a document created after the cursor is
/// returned (not only its first); `?6`–`?7` the request's own run of positions, whose change
/// rows are not returned ([`OwnChanges::run`]; `1, 0` when there is none). Invisible rows are
/// never returned, so their bytes are never read. A row with empty `bytes` is a move marker.
/// The last column is the document's held digest while its snapshot is its whole history.
const PULL_SQL: &str = "
    SELECT l.seq, l.doc_id, l.hash, d.kind, l.bytes, d.created_seq,
           CASE WHEN d.snapshot_seq >= d.version THEN d.digest END
    FROM change_log AS l JOIN doc AS d ON d.id = l.doc_id
    WHERE l.seq > ?1
      AND CASE
            WHEN d.is_street = 1 THEN ?2
            WHEN d.grid IS NULL THEN d.community IN (SELECT value FROM json_each(?3))
            ELSE (d.community, d.grid) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?4))
          END
      AND (?5 OR d.created_seq <= ?1 OR l.seq = d.created_seq OR length(l.bytes) = 0)
      AND (l.seq NOT BETWEEN ?6 AND ?7 OR length(l.bytes) = 0)
    ORDER BY l.seq";

/// Server storage in one SQLite file. Safe to share between request threads (`Send + Sync`):
/// commits serialise on the writer connection; reads use their own connections.
pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    /// Which reader to wait for when all are busy (round robin).
    next_reader: AtomicUsize,
    /// Copies committed WAL pages into the database file off the requests' path.
    checkpointer: Checkpointer,
}

/// State shared with the checkpointer thread: whether something was committed since its last
/// checkpoint, and whether it should stop.
#[derive(Debug, Default)]
struct CheckpointState {
    dirty: bool,
    stop: bool,
}

/// A background thread that checkpoints the WAL (PASSIVE: it never blocks a reader or the
/// writer) shortly after commits, on its own connection, so a sync request does not pay for
/// copying earlier requests' pages. Stops and joins when dropped. A checkpoint is SQLite's
/// own crash-safe step: a kill at any instant leaves the committed data in the WAL or the file.
#[derive(Debug)]
struct Checkpointer {
    state: Arc<(Mutex<CheckpointState>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    fn spawn(conn: Connection) -> Checkpointer {
        let state = Arc::new((Mutex::new(CheckpointState::default()), Condvar::new()));
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("firegrid-checkpoint".into())
            .spawn(move || {
                let (lock_, wake) = &*shared;
                loop {
                    {
                        let mut st = lock(lock_);
                        while !st.dirty && !st.stop {
                            st = wake.wait(st).unwrap_or_else(|p| p.into_inner());
                        }
                        if st.stop {
                            return;
                        }
                    }
                    // Let a burst of commits gather, then copy them in one checkpoint.
                    let st = lock(lock_);
                    let (mut st, _) = wake
                        .wait_timeout_while(st, CHECKPOINT_DELAY, |st| !st.stop)
                        .unwrap_or_else(|p| p.into_inner());
                    if st.stop {
                        return;
                    }
                    st.dirty = false;
                    drop(st);
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "a background checkpoint failed");
                    }
                }
            })
            .ok();
        Checkpointer { state, thread }
    }

    /// Something was committed: checkpoint soon.
    fn committed(&self) {
        let (lock_, wake) = &*self.state;
        lock(lock_).dirty = true;
        wake.notify_one();
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (lock_, wake) = &*self.state;
        lock(lock_).stop = true;
        wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A fresh random epoch.
fn new_epoch() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Creates the epoch on first open (kept across every later open).
fn ensure_epoch(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT INTO meta(key, value) VALUES ('epoch', ?1) ON CONFLICT(key) DO NOTHING",
        [new_epoch()],
    )?;
    tx.commit()?;
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves no half-done transaction (it rolls back on drop),
    // so the connection is still usable; the checkpointer's flags are always consistent.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The scopes a pull may return, as parameters `?2`–`?4` of [`PULL_SQL`]: `visible` is asked
/// once per distinct scope in the store (a few hundred at most), not once per change.
fn visible_scopes(
    tx: &Transaction<'_>,
    visible: &dyn Fn(&DocScope) -> bool,
) -> Result<(bool, String, String)> {
    let mut street = false;
    let mut communities: Vec<String> = Vec::new();
    let mut grids: Vec<[String; 2]> = Vec::new();
    let mut stmt = tx.prepare_cached("SELECT DISTINCT community, grid, is_street FROM doc")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let scope = DocScope::from_columns(row.get(0)?, row.get(1)?, row.get(2)?)?;
        if !visible(&scope) {
            continue;
        }
        match scope {
            DocScope::Street => street = true,
            DocScope::Area {
                community,
                grid: None,
            } => communities.push(community),
            DocScope::Area {
                community,
                grid: Some(grid),
            } => grids.push([community, grid]),
        }
    }
    let json = |e: serde_json::Error| Error::Integrity(format!("scope filter: {e}"));
    Ok((
        street,
        serde_json::to_string(&communities).map_err(json)?,
        serde_json::to_string(&grids).map_err(json)?,
    ))
}

/// A document as stored: its row and the changes logged after its snapshot.
fn read_doc(tx: &Transaction<'_>, id: &str) -> Result<Option<StoredDoc>> {
    type Row = (
        String,
        Vec<u8>,
        i64,
        i64,
        Option<String>,
        Option<String>,
        bool,
        Option<String>,
        Option<Vec<u8>>,
    );
    let row: Option<Row> = tx
        .prepare_cached(
            "SELECT kind, bytes, snapshot_seq, version, community, grid, is_street, parent, record
             FROM doc WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })
        .optional()?;
    let Some((kind, snapshot, snapshot_seq, version, community, grid, is_street, parent, record)) =
        row
    else {
        return Ok(None);
    };
    // Nothing was logged after the snapshot: no tail to read.
    let tail = if snapshot_seq >= version && !snapshot.is_empty() {
        Vec::new()
    } else {
        tx.prepare_cached(
            "SELECT bytes FROM change_log
             WHERE doc_id = ?1 AND seq > ?2 AND length(bytes) > 0 ORDER BY seq",
        )?
        .query_map(params![id, snapshot_seq], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<Vec<u8>>>>()?
    };
    let kind = kind
        .parse()
        .map_err(|_| Error::corrupt(id, "unknown record kind"))?;
    Ok(Some(StoredDoc {
        kind,
        snapshot,
        snapshot_seq: u64::try_from(snapshot_seq).unwrap_or(0),
        record,
        tail,
        version: u64::try_from(version).unwrap_or(0),
        scope: DocScope::from_columns(community, grid, is_street)?,
        parent,
    }))
}

/// Gives `doc` and the documents whose parent it is the scope `scope`, each with a move
/// marker at the next log position (see [`SyncStorage`]).
fn move_scope(
    tx: &Transaction<'_>,
    doc: &str,
    scope: &DocScope,
    device_id: &str,
    received_ms: i64,
) -> Result<()> {
    let mut ids = vec![doc.to_string()];
    {
        let mut children = tx.prepare_cached("SELECT id FROM doc WHERE parent = ?1 ORDER BY id")?;
        let rows = children.query_map([doc], |r| r.get::<_, String>(0))?;
        for id in rows {
            ids.push(id?);
        }
    }
    let (community, grid, is_street) = scope.columns();
    let mut marker = tx.prepare_cached(
        "INSERT INTO change_log(doc_id, hash, device_id, received_ms, bytes)
         VALUES (?1, ?2, ?3, ?4, x'')",
    )?;
    let mut rescope = tx.prepare_cached(
        "UPDATE doc SET community = ?2, grid = ?3, is_street = ?4, version = ?5 WHERE id = ?1",
    )?;
    for id in ids {
        let mut hash = [0u8; 32];
        getrandom::fill(&mut hash).map_err(|e| Error::Integrity(format!("no randomness: {e}")))?;
        marker.execute(params![id, hash.as_slice(), device_id, received_ms])?;
        let seq = tx.last_insert_rowid();
        rescope.execute(params![id, community, grid, is_street, seq])?;
    }
    Ok(())
}

impl SqliteStorage {
    /// Opens the server database at `path`, creating it (with a new epoch) if the file does not
    /// exist, and migrates it to the current schema. Refuses a file that is not a database
    /// ([`Error::NotADatabase`]), belongs to another application or is a device store
    /// ([`Error::ForeignDatabase`]), or was written by a newer server
    /// ([`Error::DatabaseTooNew`]), before writing anything to it.
    pub fn open(path: &Path) -> Result<SqliteStorage> {
        let path = path.to_path_buf();
        let mut writer = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(|e| classify_open_error(&path, e))?;
        check_identity(&writer, &path, &FILE)?;
        configure(&writer, &path, &FILE, true)?;
        writer.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
        migrate_to(&mut writer, &FILE, LATEST_VERSION)?;
        ensure_epoch(&mut writer)?;
        // Another connection to the file, once it exists and is migrated.
        let another = |writes: bool| -> Result<Connection> {
            let conn = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(|e| classify_open_error(&path, e))?;
            configure(&conn, &path, &FILE, writes)?;
            Ok(conn)
        };
        // The checkpointer's connection is configured as a writer's (no `query_only`).
        let checkpoints = another(true)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(Mutex::new(another(false)?));
        }
        let storage = SqliteStorage {
            path,
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            checkpointer: Checkpointer::spawn(checkpoints),
        };
        storage.backfill_parents()?;
        Ok(storage)
    }

    /// Fills `doc.parent` of inspections and hazards stored before schema 3 (once: later
    /// commits always set it).
    fn backfill_parents(&self) -> Result<()> {
        let ids: Vec<(String, String)> = self.read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT id, kind FROM doc WHERE parent IS NULL AND kind IN ('inspection', 'hazard')",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })?;
        for (id, kind) in ids {
            let (Some(stored), Ok(kind)) = (self.load_doc(&id)?, kind.parse::<RecordKind>()) else {
                continue;
            };
            if let Some(parent) = super::parent_of(kind, &stored.to_automerge(&id)?) {
                self.write(|tx| {
                    tx.execute(
                        "UPDATE doc SET parent = ?2 WHERE id = ?1",
                        params![id, parent],
                    )?;
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    /// The file this storage lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one IMMEDIATE transaction on the writer connection (the write lock is taken
    /// at BEGIN); commits on `Ok` and returns only after COMMIT (durable, `synchronous=FULL`);
    /// rolls back on `Err` (nothing of a failed write is kept).
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let out = firegrid_core::sqlite::immediate(&mut lock(&self.writer), f);
        if out.is_ok() {
            self.checkpointer.committed();
        }
        out
    }

    /// Runs `f` in a read transaction (one consistent snapshot) on an idle reader connection,
    /// or waits for one in turn when all are busy.
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.reader();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let out = f(&tx)?;
        tx.finish()?;
        Ok(out)
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        for m in &self.readers {
            match m.try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % READERS;
        lock(&self.readers[i])
    }

    /// Stores a whole document as it is (seeding from fixtures), bypassing authorization.
    pub fn seed_document(&self, id: &str, kind: RecordKind, bytes: &[u8]) -> Result<()> {
        seed_document(self, id, kind, bytes)
    }

    /// Every stored document's id and saved bytes, by id (tests compare replicas with it).
    pub fn documents(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let ids: Vec<String> = self.read(|tx| {
            let mut stmt = tx.prepare("SELECT id FROM doc ORDER BY id")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(stored) = self.load_doc(&id)? {
                let bytes = stored.to_automerge(&id)?.save();
                out.push((id, bytes));
            }
        }
        Ok(out)
    }

    /// Number of changes in the log.
    pub fn log_len(&self) -> Result<usize> {
        self.read(|tx| {
            let n: i64 = tx.query_row("SELECT count(*) FROM change_log", [], |r| r.get(0))?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    /// Replaces the history, as a restore from an older backup would: keeps only the first
    /// `keep` changes of the log, drops the documents with no change left (the others keep
    /// their kind and scope and lose their snapshot: compaction rebuilds it from the log), and
    /// takes a new epoch so every device resets and resends. One transaction. Later changes
    /// reuse the positions after the kept ones, which is safe only because the epoch changed.
    pub fn restore_to(&self, keep: usize) -> Result<()> {
        self.write(|tx| {
            let last_kept: i64 = match keep.checked_sub(1) {
                None => 0,
                Some(offset) => tx
                    .query_row(
                        "SELECT seq FROM change_log ORDER BY seq LIMIT 1 OFFSET ?1",
                        [i64::try_from(offset).unwrap_or(i64::MAX)],
                        |r| r.get(0),
                    )
                    .optional()?
                    .unwrap_or(i64::MAX),
            };
            tx.execute("DELETE FROM change_log WHERE seq > ?1", [last_kept])?;
            tx.execute(
                "DELETE FROM doc WHERE id NOT IN (SELECT doc_id FROM change_log)",
                [],
            )?;
            tx.execute(
                "UPDATE doc SET bytes = x'', snapshot_seq = 0, record = NULL, digest = NULL,
                     version = (SELECT max(seq) FROM change_log WHERE doc_id = doc.id),
                     created_seq = (SELECT min(seq) FROM change_log WHERE doc_id = doc.id)",
                [],
            )?;
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'epoch'",
                [new_epoch()],
            )?;
            Ok(())
        })
    }
}

impl SyncStorage for SqliteStorage {
    fn epoch(&self) -> Result<String> {
        self.read(|tx| {
            tx.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| Error::Integrity("the server database has no epoch".into()))
        })
    }

    fn max_seq(&self) -> Result<u64> {
        self.read(|tx| {
            let seq: i64 =
                tx.query_row("SELECT coalesce(max(seq), 0) FROM change_log", [], |r| {
                    r.get(0)
                })?;
            Ok(u64::try_from(seq).unwrap_or(0))
        })
    }

    /// The document row and its tail, read from one snapshot of the database.
    fn load_doc(&self, id: &str) -> Result<Option<StoredDoc>> {
        self.read(|tx| read_doc(tx, id))
    }

    /// One read transaction for the batch (one snapshot of the database, and one WAL lock
    /// taken instead of one per document).
    fn load_docs(&self, ids: &[&str]) -> Result<Vec<Option<StoredDoc>>> {
        self.read(|tx| ids.iter().map(|id| read_doc(tx, id)).collect())
    }

    fn premises_scope(&self, id: &str) -> Result<Option<DocScope>> {
        let row: Option<(Option<String>, Option<String>, bool)> = self.read(|tx| {
            Ok(tx
                .prepare_cached(
                    "SELECT community, grid, is_street FROM doc WHERE id = ?1 AND kind = ?2",
                )?
                .query_row([id, RecordKind::Premises.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?)
        })?;
        row.map(|(community, grid, is_street)| DocScope::from_columns(community, grid, is_street))
            .transpose()
    }

    fn station_communities(&self, station: &str) -> Result<Vec<String>> {
        match self.load_doc(station)? {
            Some(stored) if stored.kind == RecordKind::MicroStation => {
                let doc = stored.to_automerge(station)?;
                Ok(
                    autosurgeon::hydrate_prop(&doc, automerge::ROOT, "communities")
                        .unwrap_or_default(),
                )
            }
            _ => Ok(Vec::new()),
        }
    }

    fn list_docs(&self, kind: RecordKind) -> Result<Vec<(String, DocScope)>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT id, community, grid, is_street FROM doc WHERE kind = ?1 ORDER BY id",
            )?;
            let mut rows = stmt.query([kind.as_str()])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let scope = DocScope::from_columns(row.get(1)?, row.get(2)?, row.get(3)?)?;
                out.push((row.get(0)?, scope));
            }
            Ok(out)
        })
    }

    /// One IMMEDIATE transaction for all writes. First every write's `base` is compared with
    /// its document's version (any difference: nothing is written, [`CommitOutcome::Stale`]);
    /// then each change is appended unless its hash is already stored, and the document row
    /// gets its new version and scope. No automerge work happens here: a new document's
    /// snapshot comes with its write (when it covers every logged change); later ones are
    /// rebuilt by the background compaction ([`super::compact`]).
    ///
    /// Log positions: `seq` is an INTEGER PRIMARY KEY, so SQLite gives each row max(seq) + 1
    /// while this transaction holds the database's single write lock (taken at BEGIN
    /// IMMEDIATE). Transactions therefore get positions in commit order, and a reader that sees
    /// position N + 1 also sees N: a pull cursor never skips a change that commits late.
    fn commit(&self, device_id: &str, writes: &[DocWrite]) -> Result<CommitOutcome> {
        Ok(self.commit_run(device_id, writes)?.0)
    }

    /// The run: the positions of the first and last change rows appended. Every position in
    /// between was written by this transaction (the write lock is held from BEGIN, and each
    /// row gets max(seq) + 1), its own changes and its move markers.
    fn commit_run(
        &self,
        device_id: &str,
        writes: &[DocWrite],
    ) -> Result<(CommitOutcome, Option<(u64, u64)>)> {
        if writes.is_empty() {
            // nothing to store: no transaction, no fsync
            return Ok((CommitOutcome::Committed, None));
        }
        // The server's clock: the trusted receive time (D9).
        let received_ms = firegrid_core::vocab::now_ms();
        self.write(|tx| {
            let mut current = tx.prepare_cached(
                "SELECT version, community, grid, is_street FROM doc WHERE id = ?1",
            )?;
            let mut before = Vec::with_capacity(writes.len());
            for w in writes {
                let row: Option<(i64, Option<String>, Option<String>, bool)> = current
                    .query_row([&w.doc], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .optional()?;
                let version = row.as_ref().map_or(0, |r| u64::try_from(r.0).unwrap_or(0));
                if version != w.base {
                    return Ok((CommitOutcome::Stale(w.doc.clone()), None));
                }
                before.push(
                    row.map(|(_, community, grid, is_street)| {
                        DocScope::from_columns(community, grid, is_street)
                    })
                    .transpose()?,
                );
            }
            let mut append = tx.prepare_cached(
                "INSERT INTO change_log(doc_id, hash, device_id, received_ms, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(hash) DO NOTHING",
            )?;
            let mut save = tx.prepare_cached(
                "INSERT INTO doc(id, kind, bytes, community, grid, is_street, version, snapshot_seq,
                                 parent, created_seq, record, digest)
                 VALUES (?1, ?2, ?9, ?3, ?4, ?5, ?6, ?10, ?7, ?8, ?11, ?12)
                 ON CONFLICT(id) DO UPDATE SET community = excluded.community,
                     grid = excluded.grid, is_street = excluded.is_street,
                     version = max(version, excluded.version), parent = excluded.parent",
            )?;
            let mut run: Option<(i64, i64)> = None;
            for (w, before) in writes.iter().zip(before) {
                let (mut first, mut last, mut logged) = (None, None, 0);
                for (hash, bytes) in &w.changes {
                    let appended = append.execute(params![
                        w.doc,
                        hash.as_ref(),
                        device_id,
                        received_ms,
                        bytes
                    ])?;
                    if appended == 1 {
                        let seq = tx.last_insert_rowid();
                        last = Some(seq);
                        first = first.or(last);
                        run = Some(run.map_or((seq, seq), |(lo, _)| (lo, seq)));
                        logged += 1;
                    }
                }
                // A new document's snapshot, when it holds exactly what was logged for it.
                let snapshot = w
                    .snapshot
                    .as_deref()
                    .filter(|_| w.base == 0 && logged == w.changes.len());
                if last.is_none() && w.base == 0 {
                    continue; // a new document with nothing new to store: no row for it
                }
                let (community, grid, is_street) = w.scope.columns();
                save.execute(params![
                    w.doc,
                    w.kind.as_str(),
                    community,
                    grid,
                    is_street,
                    last.unwrap_or(0),
                    w.parent,
                    first.unwrap_or(0),
                    snapshot.unwrap_or_default(),
                    if snapshot.is_some() {
                        last.unwrap_or(0)
                    } else {
                        0
                    },
                    w.record.as_deref().filter(|_| snapshot.is_some()),
                    snapshot.and_then(|s| snapshot_digest(&w.doc, s))
                ])?;
                if before.is_some_and(|old| old != w.scope) {
                    move_scope(tx, &w.doc, &w.scope, device_id, received_ms)?;
                }
            }
            let run =
                run.and_then(|(lo, hi)| Some((u64::try_from(lo).ok()?, u64::try_from(hi).ok()?)));
            Ok((CommitOutcome::Committed, run))
        })
    }

    fn dirty_docs(&self, limit: usize) -> Result<Vec<String>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT id FROM doc WHERE snapshot_seq < version ORDER BY id LIMIT ?1",
            )?;
            let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
    }

    fn save_snapshots(&self, snapshots: &[Snapshot]) -> Result<usize> {
        if snapshots.is_empty() {
            return Ok(0);
        }
        self.write(|tx| {
            let mut save = tx.prepare_cached(
                "UPDATE doc SET bytes = ?2, snapshot_seq = ?3, record = ?5, digest = ?6
                 WHERE id = ?1 AND snapshot_seq = ?4 AND version >= ?3",
            )?;
            let mut saved = 0;
            for s in snapshots {
                let upto = i64::try_from(s.upto).unwrap_or(i64::MAX);
                let base = i64::try_from(s.base).unwrap_or(i64::MAX);
                let digest = snapshot_digest(&s.doc, &s.bytes);
                saved += save.execute(params![s.doc, s.bytes, upto, base, s.record, digest])?;
            }
            Ok(saved)
        })
    }

    /// The same page as [`super::memory::MemoryStorage`]'s pull, read from one snapshot and
    /// streamed row by row. Invisible documents are filtered out in SQL; when the page fills up,
    /// the cursor stops just before the first change left out (every position before it was
    /// read or filtered out), otherwise it moves to the end of the log.
    fn pull(
        &self,
        cursor: u64,
        max_bytes: usize,
        visible: &dyn Fn(&DocScope) -> bool,
        exclude: &OwnChanges,
        held: &HashSet<[u8; 16]>,
    ) -> Result<PullPage> {
        let after = i64::try_from(cursor).unwrap_or(i64::MAX);
        self.read(|tx| {
            let (street, communities, grids) = visible_scopes(tx, visible)?;
            let last: i64 =
                tx.query_row("SELECT coalesce(max(seq), 0) FROM change_log", [], |r| {
                    r.get(0)
                })?;
            let mut page = PageBuilder::new(cursor, max_bytes, held);
            let mut stmt = tx.prepare_cached(PULL_SQL)?;
            // A document created after the cursor is sent whole at its first row: its later
            // rows add nothing, so they are not read at all (`?5` false) — unless some rows are
            // excluded (the request's own pushes), when its first row may be left out and a
            // later one must then send it whole.
            let every_row = !exclude.hashes.is_empty();
            // The request's own run of change rows is passed over in SQL, unread (an empty
            // range when there is none).
            let (lo, hi) = exclude
                .run
                .and_then(|(lo, hi)| Some((i64::try_from(lo).ok()?, i64::try_from(hi).ok()?)))
                .unwrap_or((1, 0));
            let mut rows = stmt.query(params![
                after,
                street,
                communities,
                grids,
                every_row,
                lo,
                hi
            ])?;
            while let Some(row) = rows.next()? {
                let seq = u64::try_from(row.get::<_, i64>(0)?)
                    .map_err(|_| Error::Integrity("a log position is negative".into()))?;
                let doc = row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
                let hash = row.get_ref(2)?.as_blob().map_err(rusqlite::Error::from)?;
                if page.has_whole(doc)
                    || (!exclude.hashes.is_empty()
                        && ChangeHash::try_from(hash).is_ok_and(|h| exclude.hashes.contains(&h)))
                {
                    page.skip(seq);
                    continue;
                }
                let bytes = row.get_ref(4)?.as_blob().map_err(rusqlite::Error::from)?;
                // A move marker (the device may just have gained the document), or a document
                // created after the cursor (the device has none of it): the whole document,
                // as its snapshot and the changes after it.
                let whole = bytes.is_empty() || row.get::<_, i64>(5)? > after;
                // Held by the device at the snapshot's heads: left out without reading it.
                let digest = row
                    .get_ref(6)?
                    .as_blob_or_null()
                    .map_err(rusqlite::Error::from)?;
                if whole && page.held_whole(seq, doc, digest) {
                    continue;
                }
                let chunks = if whole {
                    read_doc(tx, doc)?
                        .map(StoredDoc::into_whole)
                        .unwrap_or_default()
                } else {
                    (vec![bytes.to_vec()], None)
                };
                let kind = row.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?;
                if !page.add(seq, doc, kind, chunks, whole) {
                    break;
                }
            }
            Ok(page.finish(u64::try_from(last).unwrap_or(0)))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

    use super::*;
    use crate::sync::memory::MemoryStorage;
    use automerge::AutoCommit;

    /// A document whose every change sets `n`; returns the changes after `from` as a write.
    fn edit(doc: &mut AutoCommit, id: &str, scope: DocScope, n: i64) -> DocWrite {
        use automerge::transaction::Transactable;
        let before = doc.get_heads();
        doc.put(automerge::ROOT, "n", n).unwrap();
        doc.put(automerge::ROOT, "pad", "x".repeat(200 + n as usize))
            .unwrap();
        doc.commit();
        let changes = doc
            .get_changes(&before)
            .into_iter()
            .map(|c| (c.hash(), c.raw_bytes().to_vec()))
            .collect();
        DocWrite {
            snapshot: None,
            record: None,
            doc: id.to_string(),
            kind: RecordKind::Hazard,
            scope,
            parent: None,
            base: 0,
            changes,
        }
    }

    /// Commits `writes` on their documents' current versions (again if one moved meanwhile).
    fn store(storage: &dyn SyncStorage, writes: &[DocWrite]) {
        loop {
            let writes: Vec<DocWrite> = writes
                .iter()
                .map(|w| DocWrite {
                    base: storage.load_doc(&w.doc).unwrap().map_or(0, |d| d.version),
                    ..w.clone()
                })
                .collect();
            if storage.commit("dev", &writes).unwrap() == CommitOutcome::Committed {
                return;
            }
        }
    }

    fn open() -> (tempfile::TempDir, SqliteStorage) {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(&dir.path().join("server.db")).unwrap();
        (dir, storage)
    }

    /// The run a commit reports holds exactly its own change rows (and its move markers, which
    /// the pull still reads), so leaving it out unread gives the page the hashes alone give;
    /// what another commit writes after it is pulled.
    #[test]
    fn a_commits_own_run_is_left_out_of_its_pull_like_its_hashes() {
        let (_dir, storage) = open();
        let area = |g: &str| DocScope::Area {
            community: "c1".into(),
            grid: Some(g.into()),
        };
        let (mut x, mut y, mut z) = (AutoCommit::new(), AutoCommit::new(), AutoCommit::new());
        store(&storage, &[edit(&mut x, "hz.x", area("g1"), 1)]);
        store(&storage, &[edit(&mut z, "hz.z", area("g1"), 2)]);
        let cursor = storage.max_seq().unwrap();
        // One request: x moves to g2 (a change, then its move marker), a new y, a change to z.
        let writes: Vec<DocWrite> = [
            (edit(&mut x, "hz.x", area("g2"), 3), 1),
            (edit(&mut y, "hz.y", area("g1"), 4), 0),
            (edit(&mut z, "hz.z", area("g1"), 5), 2),
        ]
        .into_iter()
        .map(|(w, base)| DocWrite { base, ..w })
        .collect();
        let (outcome, run) = storage.commit_run("dev", &writes).unwrap();
        assert_eq!(outcome, CommitOutcome::Committed);
        let hashes: HashSet<ChangeHash> = writes
            .iter()
            .flat_map(|w| w.changes.iter().map(|(h, _)| *h))
            .collect();
        let (lo, hi) = run.unwrap();
        assert_eq!(
            (lo, hi),
            (cursor + 1, cursor + 4),
            "three changes and x's marker"
        );
        // Another device writes to y and z after the commit, before the pull.
        let later = [
            edit(&mut y, "hz.y", area("g1"), 6),
            edit(&mut z, "hz.z", area("g1"), 7),
        ]
        .map(|mut w| {
            w.base = storage.load_doc(&w.doc).unwrap().unwrap().version;
            w
        });
        assert_eq!(
            storage.commit("other", &later).unwrap(),
            CommitOutcome::Committed
        );
        let by_hashes = OwnChanges {
            hashes: hashes.clone(),
            run: None,
        };
        let by_run = OwnChanges {
            hashes,
            run: Some((lo, hi)),
        };
        let all = |_: &DocScope| true;
        for max_bytes in [0, 300, 1000, 1 << 20] {
            for from in [0, cursor, hi] {
                let a = storage
                    .pull(from, max_bytes, &all, &by_hashes, &HashSet::new())
                    .unwrap();
                let b = storage
                    .pull(from, max_bytes, &all, &by_run, &HashSet::new())
                    .unwrap();
                assert_eq!((a.cursor, a.more), (b.cursor, b.more));
                assert_eq!(format!("{:?}", a.docs), format!("{:?}", b.docs));
            }
        }
        let page = storage
            .pull(cursor, 1 << 20, &all, &by_run, &HashSet::new())
            .unwrap();
        let pulled: Vec<&str> = page.docs.iter().map(|d| d.doc.as_str()).collect();
        assert_eq!(
            pulled,
            ["hz.x", "hz.y", "hz.z"],
            "x's marker, and the later writes to y (whole: new since the cursor) and z"
        );
        let z_changes = &page.docs[2].changes;
        assert_eq!(z_changes.len(), 1, "only the other device's change to z");
        assert_eq!(z_changes[0], later[1].changes[0].1);
    }

    #[test]
    fn a_change_pushed_twice_is_stored_once() {
        let (_dir, storage) = open();
        let mut doc = AutoCommit::new();
        let write = edit(&mut doc, "hz.a", DocScope::Street, 1);
        store(&storage, std::slice::from_ref(&write));
        let after_first = (storage.log_len().unwrap(), storage.max_seq().unwrap());
        let snapshot = storage.documents().unwrap();
        // Again alone, then twice within one commit (a retry racing the original).
        store(&storage, std::slice::from_ref(&write));
        store(&storage, &[write.clone(), write]);
        assert_eq!(after_first, (1, 1));
        assert_eq!(storage.log_len().unwrap(), 1);
        assert_eq!(storage.max_seq().unwrap(), 1);
        let stored = storage.load_doc("hz.a").unwrap().unwrap();
        assert_eq!(stored.kind, RecordKind::Hazard);
        assert_eq!(stored.version, 1);
        assert_eq!(
            storage.documents().unwrap(),
            snapshot,
            "the document is unchanged"
        );
        let mut loaded = stored.to_automerge("hz.a").unwrap();
        assert_eq!(loaded.get_heads(), doc.get_heads());
    }

    #[test]
    fn pull_pages_exactly_like_the_memory_store() {
        let (_dir, sqlite) = open();
        let memory = MemoryStorage::new();
        let area = |c: &str, g: Option<&str>| DocScope::Area {
            community: c.to_string(),
            grid: g.map(str::to_string),
        };
        let scopes = [
            DocScope::Street,
            area("c1", None),
            area("c1", Some("g1")),
            area("c1", Some("g2")),
            area("c2", Some("g3")),
        ];
        let mut docs: Vec<AutoCommit> = (0..scopes.len()).map(|_| AutoCommit::new()).collect();
        let mut hashes = Vec::new();
        // Interleaved commits, sometimes several documents at once; one document moves scope.
        for round in 0..12i64 {
            let mut writes = Vec::new();
            for (i, scope) in scopes.iter().enumerate() {
                if (round + i as i64) % 3 == 0 {
                    let scope = if i == 3 && round > 6 {
                        area("c2", Some("g3"))
                    } else {
                        scope.clone()
                    };
                    let w = edit(&mut docs[i], &format!("hz.{i}"), scope, round);
                    hashes.extend(w.changes.iter().map(|(h, _)| *h));
                    writes.push(w);
                }
            }
            store(&sqlite, &writes);
            store(&memory, &writes);
            if round % 5 == 4 {
                // Pulls send whole documents as their snapshots: compact both alike.
                crate::sync::compact::compact_all(&sqlite).unwrap();
                crate::sync::compact::compact_all(&memory).unwrap();
            }
        }
        assert_eq!(sqlite.max_seq().unwrap(), memory.max_seq().unwrap());
        // Documents read in a batch are the documents read one by one: missing ids and an id
        // named twice included, with their tails.
        let ids = ["hz.0", "hz.none", "hz.3", "hz.0", "hz.4", "hz.1"];
        let batch = sqlite.load_docs(&ids).unwrap();
        let one_by_one: Vec<_> = ids.iter().map(|id| sqlite.load_doc(id).unwrap()).collect();
        assert_eq!(format!("{batch:?}"), format!("{one_by_one:?}"));
        assert_eq!(
            format!("{batch:?}"),
            format!("{:?}", memory.load_docs(&ids).unwrap())
        );
        assert!(batch[1].is_none() && batch.iter().filter(|d| d.is_some()).count() == 5);
        assert!(batch.iter().flatten().any(|d| !d.tail.is_empty()));
        type Filter = Box<dyn Fn(&DocScope) -> bool>;
        let filters: Vec<Filter> = vec![
            Box::new(|_| true),
            Box::new(|_| false),
            Box::new(|s| matches!(s, DocScope::Area { community, .. } if community == "c1")),
            Box::new(|s| matches!(s, DocScope::Area { grid: Some(g), .. } if g == "g3")),
            Box::new(|s| *s == DocScope::Street),
        ];
        let excludes = [
            OwnChanges::default(),
            OwnChanges {
                hashes: hashes.iter().step_by(3).copied().collect(),
                run: None,
            },
        ];
        let max = memory.max_seq().unwrap();
        // A device holding every other document by id (hz.0, hz.2, hz.4) at its current heads;
        // hz.0 has no change after the last compaction, so it is left out as held.
        let held: HashSet<[u8; 16]> = memory
            .documents()
            .iter()
            .step_by(2)
            .map(|(id, bytes)| {
                let heads = AutoCommit::load(bytes).unwrap().get_heads();
                firegrid_core::sync::protocol::held_digest(id, &heads)
            })
            .collect();
        let all = |held| {
            sqlite
                .pull(0, 1 << 20, &|_| true, &OwnChanges::default(), held)
                .unwrap()
        };
        assert!(
            all(&held).docs.len() < all(&HashSet::new()).docs.len(),
            "some documents are left out as held"
        );
        let helds = [HashSet::new(), held];
        for visible in &filters {
            for exclude in &excludes {
                for held in &helds {
                    for max_bytes in [0, 300, 1000, 5000, 1 << 20] {
                        for cursor in 0..=max + 1 {
                            let a = memory
                                .pull(cursor, max_bytes, visible, exclude, held)
                                .unwrap();
                            let b = sqlite
                                .pull(cursor, max_bytes, visible, exclude, held)
                                .unwrap();
                            assert_eq!((a.cursor, a.more), (b.cursor, b.more));
                            assert_eq!(format!("{:?}", a.docs), format!("{:?}", b.docs));
                            assert_eq!(a.records, b.records);
                        }
                    }
                }
            }
        }
        let mut documents = sqlite.documents().unwrap();
        let mut expected = memory.documents();
        documents.sort();
        expected.sort();
        assert_eq!(documents, expected);
    }

    #[test]
    fn restore_keeps_the_first_changes_and_takes_a_new_epoch() {
        let (_dir, storage) = open();
        let memory = MemoryStorage::new();
        let mut a = AutoCommit::new();
        let mut b = AutoCommit::new();
        for n in 0..3 {
            let writes = [
                edit(&mut a, "hz.a", DocScope::Street, n),
                edit(&mut b, "hz.b", DocScope::Street, n),
            ];
            store(&storage, &writes);
            store(&memory, &writes);
        }
        let epoch = storage.epoch().unwrap();
        storage.restore_to(3).unwrap();
        memory.restore_to(3).unwrap();
        assert_ne!(storage.epoch().unwrap(), epoch);
        assert_eq!(storage.log_len().unwrap(), 3);
        assert_eq!(storage.max_seq().unwrap(), 3);
        let mut expected = memory.documents();
        expected.sort();
        assert_eq!(storage.documents().unwrap(), expected);
        storage.restore_to(0).unwrap();
        assert!(storage.documents().unwrap().is_empty());
        assert_eq!(storage.max_seq().unwrap(), 0);
    }

    #[test]
    fn concurrent_commits_lose_no_update_and_readers_skip_no_position() {
        use std::sync::atomic::AtomicBool;
        let (_dir, storage) = open();
        let (writers, each) = (4, 15);
        let done = AtomicBool::new(false);
        let pulled = std::thread::scope(|s| {
            let reader = s.spawn(|| {
                // Every change received, by hash: a page may send the document whole (its
                // snapshot holds several changes), and a later page may repeat some.
                let (mut cursor, mut changes) = (0, HashSet::new());
                loop {
                    let last_round = done.load(Ordering::SeqCst);
                    let page = storage
                        .pull(
                            cursor,
                            1 << 20,
                            &|_| true,
                            &OwnChanges::default(),
                            &HashSet::new(),
                        )
                        .unwrap();
                    for raw in page.docs.iter().flat_map(|d| &d.changes) {
                        if firegrid_core::sync::protocol::is_document_chunk(raw) {
                            let mut whole = AutoCommit::load(raw).unwrap();
                            changes.extend(whole.get_changes(&[]).iter().map(|c| c.hash()));
                        } else {
                            changes.insert(automerge::Change::try_from(&raw[..]).unwrap().hash());
                        }
                    }
                    cursor = page.cursor;
                    if last_round && !page.more {
                        return changes.len();
                    }
                }
            });
            let handles: Vec<_> = (0..writers)
                .map(|_| {
                    s.spawn(|| {
                        // Each writer edits the same document with its own actor.
                        let mut doc = AutoCommit::new();
                        for n in 0..each {
                            let w = edit(&mut doc, "hz.shared", DocScope::Street, n);
                            store(&storage, &[w]);
                            if n % 4 == 0 {
                                crate::sync::compact::compact(&storage, 8).unwrap();
                            }
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            done.store(true, Ordering::SeqCst);
            reader.join().unwrap()
        });
        let total = (writers * each) as usize;
        assert_eq!(
            pulled, total,
            "a reader following the cursor saw every change"
        );
        assert_eq!(storage.max_seq().unwrap(), total as u64);
        let stored = storage.load_doc("hz.shared").unwrap().unwrap();
        let mut doc = stored.to_automerge("hz.shared").unwrap();
        assert_eq!(doc.get_changes(&[]).len(), total, "no update lost");
        assert_eq!(doc.get_heads().len(), writers as usize);
    }

    #[test]
    fn a_stale_commit_writes_nothing() {
        let (_dir, storage) = open();
        let mut doc = AutoCommit::new();
        store(&storage, &[edit(&mut doc, "hz.a", DocScope::Street, 1)]);
        let before = (storage.max_seq().unwrap(), storage.documents().unwrap());
        // Checked against version 0, but the document is at 1 now.
        let stale = edit(&mut doc, "hz.a", DocScope::Street, 2);
        let mut other = AutoCommit::new();
        let fresh = edit(&mut other, "hz.b", DocScope::Street, 1);
        let outcome = storage.commit("dev", &[fresh, stale]).unwrap();
        assert_eq!(outcome, CommitOutcome::Stale("hz.a".into()));
        assert_eq!(
            (storage.max_seq().unwrap(), storage.documents().unwrap()),
            before,
            "all or nothing: hz.b was not stored either"
        );
    }

    #[test]
    fn compaction_folds_the_tail_and_never_replaces_a_newer_snapshot() {
        let (_dir, storage) = open();
        let mut doc = AutoCommit::new();
        for n in 0..5 {
            store(&storage, &[edit(&mut doc, "hz.a", DocScope::Street, n)]);
        }
        let whole = storage.documents().unwrap();
        let stored = storage.load_doc("hz.a").unwrap().unwrap();
        assert_eq!((stored.snapshot_seq, stored.tail.len()), (0, 5));
        assert_eq!(storage.dirty_docs(10).unwrap(), vec!["hz.a".to_string()]);
        // A snapshot built from an older state than the stored one is ignored.
        let old = Snapshot {
            doc: "hz.a".into(),
            bytes: AutoCommit::new().save(),
            record: None,
            upto: 1,
            base: 3,
        };
        assert_eq!(storage.save_snapshots(&[old]).unwrap(), 0);
        assert_eq!(crate::sync::compact::compact_all(&storage).unwrap(), 1);
        let stored = storage.load_doc("hz.a").unwrap().unwrap();
        assert_eq!((stored.snapshot_seq, stored.tail.len()), (5, 0));
        assert!(storage.dirty_docs(10).unwrap().is_empty());
        assert_eq!(storage.documents().unwrap(), whole);
        store(&storage, &[edit(&mut doc, "hz.a", DocScope::Street, 9)]);
        let stored = storage.load_doc("hz.a").unwrap().unwrap();
        assert_eq!(
            (stored.snapshot_seq, stored.tail.len(), stored.version),
            (5, 1, 6)
        );
        let mut loaded = stored.to_automerge("hz.a").unwrap();
        assert_eq!(loaded.get_heads(), doc.get_heads());
    }

    /// Commits are copied into the database file by the background checkpointer, not by the
    /// committing request: the main file alone (read `immutable`, which ignores the WAL)
    /// soon holds a document committed far below the writer's own checkpoint threshold.
    #[test]
    fn commits_reach_the_database_file_in_the_background() {
        let (dir, storage) = open();
        let in_file = || -> i64 {
            let uri = format!(
                "file:{}?immutable=1",
                dir.path().join("server.db").display()
            );
            let c = Connection::open_with_flags(
                uri,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
            )
            .unwrap();
            c.query_row("SELECT count(*) FROM doc", [], |r| r.get(0))
                .unwrap_or(0)
        };
        let mut doc = AutoCommit::new();
        store(&storage, &[edit(&mut doc, "hz.a", DocScope::Street, 1)]);
        let started = std::time::Instant::now();
        while in_file() == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nothing was checkpointed"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Still readable through the storage, and the thread stops with it.
        assert!(storage.load_doc("hz.a").unwrap().is_some());
        drop(storage);
    }
}

//! Blob metadata in the server database: the `blob` table (completed blobs: size, uploader,
//! time) and `blob_upload` (uploads in progress and the total each reserves), in the sync
//! SQLite file (schema 5, its own connection) or the PostgreSQL database (sync schema 3). It
//! must not touch bytes or decide who may do what.

use std::path::Path;
use std::sync::{Arc, Mutex};

use firegrid_core::{Error, Result};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::pg::{PgPool, backend};

/// One user's use of blob storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of completed blobs they uploaded first.
    pub completed: u64,
    /// Totals reserved by their uploads in progress.
    pub reserved: u64,
    /// Their uploads in progress.
    pub uploads: u64,
}

/// Whether an upload could be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    /// Reserved (the upload row exists now).
    Reserved,
    /// It would take the user over the byte quota.
    OverQuota(Usage),
    /// The user has too many uploads in progress.
    TooManyUploads,
}

/// Where the rows are.
#[derive(Debug)]
pub(crate) enum Meta {
    /// A connection of its own to the server's SQLite file (WAL: it reads beside the sync
    /// store; writes wait for the sync writer's lock with the busy timeout).
    Sqlite(Mutex<Connection>),
    /// The instances' shared PostgreSQL database.
    Postgres(Arc<PgPool>),
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Meta {
    /// A connection to the sync database at `path` (already migrated by the sync store).
    pub(crate) fn sqlite(path: &Path) -> Result<Meta> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Wait for the sync store's writer instead of failing at once.
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // A completed blob's row survives power loss once the upload is acknowledged.
        conn.pragma_update(None, "synchronous", "FULL")?;
        let has_table: Option<String> = conn
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'blob'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if has_table.is_none() {
            return Err(Error::Integrity(
                "the server database has no blob table (schema older than 5)".into(),
            ));
        }
        Ok(Meta::Sqlite(Mutex::new(conn)))
    }

    fn with_sqlite<T>(
        conn: &Mutex<Connection>,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        firegrid_core::sqlite::immediate(&mut conn, f)
    }

    /// Size and uploader of the completed blob `sha`, if recorded.
    pub(crate) fn blob(&self, sha: &str) -> Result<Option<(u64, String)>> {
        match self {
            Meta::Sqlite(c) => Self::with_sqlite(c, |tx| {
                Ok(tx
                    .query_row(
                        "SELECT size, uploader FROM blob WHERE sha256 = ?1",
                        [sha],
                        |r| Ok((u(r.get(0)?), r.get(1)?)),
                    )
                    .optional()?)
            }),
            Meta::Postgres(pool) => {
                let mut conn = pool.get().map_err(backend)?;
                let row = conn
                    .query_opt("SELECT size, uploader FROM blob WHERE sha256 = $1", &[&sha])
                    .map_err(backend)?;
                Ok(row.map(|r| (u(r.get(0)), r.get(1))))
            }
        }
    }

    /// The total reserved by `user`'s upload of `sha`, if one is in progress.
    pub(crate) fn upload(&self, sha: &str, user: &str) -> Result<Option<u64>> {
        match self {
            Meta::Sqlite(c) => Self::with_sqlite(c, |tx| {
                Ok(tx
                    .query_row(
                        "SELECT total FROM blob_upload WHERE sha256 = ?1 AND uploader = ?2",
                        [sha, user],
                        |r| r.get::<_, i64>(0),
                    )
                    .optional()?
                    .map(u))
            }),
            Meta::Postgres(pool) => {
                let mut conn = pool.get().map_err(backend)?;
                let row = conn
                    .query_opt(
                        "SELECT total FROM blob_upload WHERE sha256 = $1 AND uploader = $2",
                        &[&sha, &user],
                    )
                    .map_err(backend)?;
                Ok(row.map(|r| u(r.get(0))))
            }
        }
    }

    /// `user`'s usage now.
    pub(crate) fn usage(&self, user: &str) -> Result<Usage> {
        match self {
            Meta::Sqlite(c) => Self::with_sqlite(c, |tx| sqlite_usage(tx, user)),
            Meta::Postgres(pool) => {
                let mut conn = pool.get().map_err(backend)?;
                let mut tx = conn.transaction().map_err(backend)?;
                let usage = pg_usage(&mut tx, user)?;
                tx.commit().map_err(backend)?;
                Ok(usage)
            }
        }
    }

    /// Records `user`'s upload of `sha` reserving `total` bytes, unless that would exceed
    /// `quota` bytes or `max_uploads` uploads in progress. Checked and written in one
    /// transaction (on PostgreSQL under a per-user advisory lock).
    pub(crate) fn reserve(
        &self,
        sha: &str,
        user: &str,
        total: u64,
        quota: u64,
        max_uploads: u64,
        now_ms: i64,
    ) -> Result<Reserve> {
        let decide = |usage: Usage| {
            if usage.uploads >= max_uploads {
                Some(Reserve::TooManyUploads)
            } else if usage.completed + usage.reserved + total > quota {
                Some(Reserve::OverQuota(usage))
            } else {
                None
            }
        };
        match self {
            Meta::Sqlite(c) => Self::with_sqlite(c, |tx| {
                let usage = sqlite_usage(tx, user)?;
                if let Some(refused) = decide(usage) {
                    return Ok(refused);
                }
                tx.execute(
                    "INSERT OR REPLACE INTO blob_upload(sha256, uploader, total, started_ms)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![sha, user, i(total), now_ms],
                )?;
                Ok(Reserve::Reserved)
            }),
            Meta::Postgres(pool) => {
                let mut conn = pool.get().map_err(backend)?;
                let mut tx = conn.transaction().map_err(backend)?;
                tx.execute("SELECT pg_advisory_xact_lock(4648, hashtext($1))", &[&user])
                    .map_err(backend)?;
                let usage = pg_usage(&mut tx, user)?;
                if let Some(refused) = decide(usage) {
                    return Ok(refused);
                }
                tx.execute(
                    "INSERT INTO blob_upload(sha256, uploader, total, started_ms)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (sha256, uploader) DO UPDATE
                     SET total = excluded.total, started_ms = excluded.started_ms",
                    &[&sha, &user, &i(total), &now_ms],
                )
                .map_err(backend)?;
                tx.commit().map_err(backend)?;
                Ok(Reserve::Reserved)
            }
        }
    }

    /// Uploads in progress started before `cutoff_ms` (at most `limit`), as (blob, uploader):
    /// the candidates for expiry (an upload started later cannot have been idle that long).
    pub(crate) fn uploads_started_before(
        &self,
        cutoff_ms: i64,
        limit: u32,
    ) -> Result<Vec<(String, String)>> {
        match self {
            Meta::Sqlite(c) => Self::with_sqlite(c, |tx| {
                let mut stmt = tx.prepare(
                    "SELECT sha256, uploader FROM blob_upload WHERE started_ms < ?1
                     ORDER BY started_ms LIMIT ?2",
                )?;
                let rows =
                    stmt.query_map(params![cutoff_ms, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            }),
            Meta::Postgres(pool) => {
                let mut conn = pool.get().map_err(backend)?;
                let rows = conn
                    .query(
                        "SELECT sha256, uploader FROM blob_upload WHERE started_ms < $1
                         ORDER BY started_ms LIMIT $2",
                        &[&cutoff_ms, &i64::from(limit)],
                    )
                    .map_err(backend)?;
                Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
            }
        }
    }

    /// Forgets `user`'s upload of `sha`.
    pub(crate) fn drop_upload(&self, sha: &str, user: &str) -> Result<()> {
        match self {
            Meta::Sqlite(c) => Self::with_sqlite(c, |tx| {
                tx.execute(
                    "DELETE FROM blob_upload WHERE sha256 = ?1 AND uploader = ?2",
                    [sha, user],
                )?;
                Ok(())
            }),
            Meta::Postgres(pool) => {
                let mut conn = pool.get().map_err(backend)?;
                conn.execute(
                    "DELETE FROM blob_upload WHERE sha256 = $1 AND uploader = $2",
                    &[&sha, &user],
                )
                .map_err(backend)?;
                Ok(())
            }
        }
    }

    /// Records the completed blob `sha` (the first uploader keeps it) and forgets `user`'s
    /// upload of it, in one transaction.
    pub(crate) fn complete(&self, sha: &str, size: u64, user: &str, now_ms: i64) -> Result<()> {
        match self {
            Meta::Sqlite(c) => Self::with_sqlite(c, |tx| {
                tx.execute(
                    "INSERT OR IGNORE INTO blob(sha256, size, uploader, created_ms)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![sha, i(size), user, now_ms],
                )?;
                tx.execute(
                    "DELETE FROM blob_upload WHERE sha256 = ?1 AND uploader = ?2",
                    [sha, user],
                )?;
                Ok(())
            }),
            Meta::Postgres(pool) => {
                let mut conn = pool.get().map_err(backend)?;
                let mut tx = conn.transaction().map_err(backend)?;
                tx.execute(
                    "INSERT INTO blob(sha256, size, uploader, created_ms) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (sha256) DO NOTHING",
                    &[&sha, &i(size), &user, &now_ms],
                )
                .map_err(backend)?;
                tx.execute(
                    "DELETE FROM blob_upload WHERE sha256 = $1 AND uploader = $2",
                    &[&sha, &user],
                )
                .map_err(backend)?;
                tx.commit().map_err(backend)
            }
        }
    }
}

fn sqlite_usage(tx: &rusqlite::Transaction<'_>, user: &str) -> Result<Usage> {
    let completed: i64 = tx.query_row(
        "SELECT coalesce(sum(size), 0) FROM blob WHERE uploader = ?1",
        [user],
        |r| r.get(0),
    )?;
    let (reserved, uploads): (i64, i64) = tx.query_row(
        "SELECT coalesce(sum(total), 0), count(*) FROM blob_upload WHERE uploader = ?1",
        [user],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(Usage {
        completed: u(completed),
        reserved: u(reserved),
        uploads: u(uploads),
    })
}

fn pg_usage(tx: &mut postgres::Transaction<'_>, user: &str) -> Result<Usage> {
    let completed: i64 = tx
        .query_one(
            "SELECT coalesce(sum(size), 0)::BIGINT FROM blob WHERE uploader = $1",
            &[&user],
        )
        .map_err(backend)?
        .get(0);
    let row = tx
        .query_one(
            "SELECT coalesce(sum(total), 0)::BIGINT, count(*) FROM blob_upload WHERE uploader = $1",
            &[&user],
        )
        .map_err(backend)?;
    Ok(Usage {
        completed: u(completed),
        reserved: u(row.get::<_, i64>(0)),
        uploads: u(row.get::<_, i64>(1)),
    })
}

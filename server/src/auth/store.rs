//! Storage of the accounts, on SQLite (one file, one connection behind a mutex) or on PostgreSQL
//! (a connection pool per server instance; every instance shares the database). Statements are
//! written in PostgreSQL's `$n` form and, where the two backends can share them, run unchanged on
//! both (SQLite reads them as `?n`); the `PG_` ones add the locking PostgreSQL needs. Nothing here
//! decides who may log in, refresh or make a request: that is `auth/mod.rs`, written once for
//! both backends. No password is ever handed to this module, only its argon2id hash; tokens
//! arrive as their SHA-256.
//!
//! Atomicity: an operation of several statements runs in one transaction (IMMEDIATE on SQLite,
//! so another process on the same file, such as an admin command, waits instead of
//! interleaving; SQLite has one writer at a time). On PostgreSQL, races between requests and
//! between instances are settled by the statements themselves, not by a read followed by a
//! write: a refresh token is spent by `UPDATE … WHERE hash = $1 AND revoked_ms IS NULL`, which
//! changes the row for exactly one caller, and a new device is registered with
//! `INSERT … ON CONFLICT DO NOTHING` followed by a read of whichever row won. The operations on
//! one login are serialised by an advisory lock, and rows are locked in one order (see the
//! `PG_` statements).

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use postgres::GenericClient;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{AuthError, Result};
use crate::pg::PgPool;

const ACCOUNT: &str = "SELECT password_hash, disabled FROM account WHERE user_id = $1";

const UPSERT_PASSWORD: &str = "INSERT INTO account(user_id, password_hash, created_ms)
     VALUES ($1, $2, $3)
     ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash";

const SET_DISABLED: &str = "UPDATE account SET disabled = $2 WHERE user_id = $1";

const INSERT_DEVICE: &str = "INSERT INTO device(id, user_id, registered_ms) VALUES ($1, $2, $3)
     ON CONFLICT (id) DO NOTHING";

const DEVICE: &str = "SELECT user_id, revoked_ms IS NOT NULL FROM device WHERE id = $1";

const SET_DEVICE_OWNER: &str =
    "UPDATE device SET user_id = $2 WHERE id = $1 AND revoked_ms IS NULL";

const REVOKE_OTHER_USERS_TOKENS: &str = "UPDATE token SET revoked_ms = $3
     WHERE device_id = $1 AND user_id <> $2 AND revoked_ms IS NULL";

const REVOKE_DEVICE: &str =
    "UPDATE device SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL";

const REVOKE_DEVICE_TOKENS: &str =
    "UPDATE token SET revoked_ms = $2 WHERE device_id = $1 AND revoked_ms IS NULL";

/// A token with the state of its account and device, in one round trip (every request asks).
const TOKEN: &str = "SELECT t.kind, t.family, t.user_id, t.device_id, t.expires_ms,
            t.revoked_ms IS NOT NULL, a.disabled, d.user_id, d.revoked_ms IS NOT NULL
       FROM token t
       LEFT JOIN account a ON a.user_id = t.user_id
       LEFT JOIN device d ON d.id = t.device_id
      WHERE t.hash = $1";

const INSERT_PAIR: &str =
    "INSERT INTO token(hash, kind, family, user_id, device_id, issued_ms, expires_ms)
     VALUES ($1, 'access', $3, $4, $5, $6, $7), ($2, 'refresh', $3, $4, $5, $6, $8)";

/// Spends a refresh token: changes the row only for the first caller.
const SPEND_TOKEN: &str = "UPDATE token SET revoked_ms = $2 WHERE hash = $1 AND revoked_ms IS NULL";

const REVOKE_FAMILY: &str =
    "UPDATE token SET revoked_ms = $2 WHERE family = $1 AND revoked_ms IS NULL";

const LOGOUT: &str = "UPDATE token SET revoked_ms = $2
     WHERE revoked_ms IS NULL AND family = (SELECT family FROM token WHERE hash = $1)";

// PostgreSQL only. Several transactions may change one login's tokens at once there, so:
//
// - the operations on one login (rotation, sign-out, revocation on reuse) first take a
//   transaction-scoped advisory lock on the family and then run their statements, which
//   therefore see what the previous holder committed: a sign-out racing a rotation either
//   precedes it (the rotation finds its token revoked) or revokes the pair it added. A single
//   `UPDATE … WHERE family = $1` would not: its snapshot predates the rows a concurrent
//   rotation inserts, and the new pair would outlive the sign-out.
// - statements that lock several token rows lock them in `hash` order (an `UPDATE` alone
//   locks in scan order, which differs between the family and the device indexes): two
//   transactions then never wait for each other in a cycle (a deadlock, which PostgreSQL
//   breaks by failing one of them).

/// The advisory lock of one login. 17985 (0x4641, "FA") is the class of these locks; the
/// single-key `4647` of `crate::pg::migrate` lives in a separate key space.
const PG_LOCK_FAMILY: &str = "SELECT pg_advisory_xact_lock(17985, hashtext($1))";

const PG_LOCK_FAMILY_TOKENS: &str = "SELECT hash FROM token
     WHERE family = $1 AND revoked_ms IS NULL ORDER BY hash FOR UPDATE";

const PG_FAMILY_OF: &str = "SELECT family FROM token WHERE hash = $1";

const PG_REVOKE_FAMILY: &str = "UPDATE token SET revoked_ms = $2
     WHERE revoked_ms IS NULL AND hash IN (SELECT hash FROM token
         WHERE family = $1 AND revoked_ms IS NULL ORDER BY hash FOR UPDATE)";

const PG_REVOKE_DEVICE_TOKENS: &str = "UPDATE token SET revoked_ms = $2
     WHERE revoked_ms IS NULL AND hash IN (SELECT hash FROM token
         WHERE device_id = $1 AND revoked_ms IS NULL ORDER BY hash FOR UPDATE)";

const PG_REVOKE_OTHER_USERS_TOKENS: &str = "UPDATE token SET revoked_ms = $3
     WHERE revoked_ms IS NULL AND hash IN (SELECT hash FROM token
         WHERE device_id = $1 AND user_id <> $2 AND revoked_ms IS NULL
         ORDER BY hash FOR UPDATE)";

/// Where the accounts live.
#[derive(Debug)]
pub(super) enum Backend {
    /// One file; the mutex serialises this process's statements.
    Sqlite(Mutex<Connection>),
    /// One database shared by every server instance.
    Postgres(Arc<PgPool>),
}

/// An account as stored.
pub(super) struct AccountRow {
    /// argon2id PHC string.
    pub(super) password_hash: String,
    pub(super) disabled: bool,
}

/// A device as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DeviceRow {
    /// Who the device is registered to.
    pub(super) user_id: String,
    pub(super) revoked: bool,
}

/// A token as stored, with its account and device as they are now.
#[derive(Debug)]
pub(super) struct TokenRow {
    /// `access` or `refresh`.
    pub(super) kind: String,
    pub(super) family: String,
    pub(super) user_id: String,
    pub(super) device_id: String,
    pub(super) expires_ms: i64,
    pub(super) revoked: bool,
    /// The account's `disabled` flag; `None` when the account does not exist.
    pub(super) account_disabled: Option<bool>,
    /// `None` when the device does not exist.
    pub(super) device: Option<DeviceRow>,
}

/// An access and a refresh token of one login (`family`), as stored: hashes only.
#[derive(Debug)]
pub(super) struct NewPair {
    pub(super) family: String,
    pub(super) user_id: String,
    pub(super) device_id: String,
    pub(super) issued_ms: i64,
    pub(super) access_hash: Vec<u8>,
    pub(super) access_expires_ms: i64,
    pub(super) refresh_hash: Vec<u8>,
    pub(super) refresh_expires_ms: i64,
}

/// SQLite reads PostgreSQL's `$n` as a named parameter numbered by first appearance, not by
/// `n`; `?n` is bound by `n`, like `$n` on PostgreSQL.
fn lite(sql: &str) -> String {
    sql.replace('$', "?")
}

/// A panic while the connection was held leaves no open transaction (a rusqlite transaction
/// rolls back when dropped), so a poisoned mutex still guards a usable connection.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|p| p.into_inner())
}

fn device_row_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRow> {
    Ok(DeviceRow {
        user_id: r.get(0)?,
        revoked: r.get(1)?,
    })
}

fn device_row_pg(r: &postgres::Row) -> Result<DeviceRow> {
    Ok(DeviceRow {
        user_id: r.try_get(0)?,
        revoked: r.try_get(1)?,
    })
}

fn token_row_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    let device_owner: Option<String> = r.get(7)?;
    let device_revoked: bool = r.get(8)?;
    Ok(TokenRow {
        kind: r.get(0)?,
        family: r.get(1)?,
        user_id: r.get(2)?,
        device_id: r.get(3)?,
        expires_ms: r.get(4)?,
        revoked: r.get(5)?,
        account_disabled: r.get(6)?,
        device: device_owner.map(|user_id| DeviceRow {
            user_id,
            revoked: device_revoked,
        }),
    })
}

fn token_row_pg(r: &postgres::Row) -> Result<TokenRow> {
    let device_owner: Option<String> = r.try_get(7)?;
    let device_revoked: bool = r.try_get(8)?;
    Ok(TokenRow {
        kind: r.try_get(0)?,
        family: r.try_get(1)?,
        user_id: r.try_get(2)?,
        device_id: r.try_get(3)?,
        expires_ms: r.try_get(4)?,
        revoked: r.try_get(5)?,
        account_disabled: r.try_get(6)?,
        device: device_owner.map(|user_id| DeviceRow {
            user_id,
            revoked: device_revoked,
        }),
    })
}

fn insert_pair_sqlite(conn: &Connection, p: &NewPair) -> Result<()> {
    conn.prepare_cached(&lite(INSERT_PAIR))?.execute(params![
        p.access_hash,
        p.refresh_hash,
        p.family,
        p.user_id,
        p.device_id,
        p.issued_ms,
        p.access_expires_ms,
        p.refresh_expires_ms
    ])?;
    Ok(())
}

fn insert_pair_pg(client: &mut impl GenericClient, p: &NewPair) -> Result<()> {
    client.execute(
        INSERT_PAIR,
        &[
            &p.access_hash,
            &p.refresh_hash,
            &p.family,
            &p.user_id,
            &p.device_id,
            &p.issued_ms,
            &p.access_expires_ms,
            &p.refresh_expires_ms,
        ],
    )?;
    Ok(())
}

impl Backend {
    /// Opens (creating and migrating if needed) the SQLite file at `path`.
    pub(super) fn open_sqlite(path: &Path) -> Result<Backend> {
        let conn = Connection::open(path)?;
        // WAL and FULL: a token or a revocation that was confirmed survives a crash.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // The admin commands may write while the server runs: wait for them, do not fail.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == 0 {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; {} PRAGMA user_version = 1; COMMIT;",
                include_str!("001_accounts.sql")
            ))?;
        } else if version > 1 {
            return Err(AuthError::Storage(format!(
                "accounts database schema {version} is newer than this server"
            )));
        }
        Ok(Backend::Sqlite(Mutex::new(conn)))
    }

    /// Uses `pool`, first bringing the accounts tables to the latest version (a no-op when
    /// another instance already did).
    pub(super) fn open_postgres(pool: Arc<PgPool>) -> Result<Backend> {
        {
            let mut client = pool.get()?;
            crate::pg::migrate(
                &mut client,
                "accounts",
                &[include_str!("001_accounts.pg.sql")],
            )
            .map_err(AuthError::Storage)?;
        }
        Ok(Backend::Postgres(pool))
    }

    pub(super) fn account(&self, user_id: &str) -> Result<Option<AccountRow>> {
        match self {
            Backend::Sqlite(conn) => {
                let conn = lock(conn);
                let mut stmt = conn.prepare_cached(&lite(ACCOUNT))?;
                Ok(stmt
                    .query_row([user_id], |r| {
                        Ok(AccountRow {
                            password_hash: r.get(0)?,
                            disabled: r.get(1)?,
                        })
                    })
                    .optional()?)
            }
            Backend::Postgres(pool) => {
                let mut client = pool.get()?;
                client
                    .query_opt(ACCOUNT, &[&user_id])?
                    .map(|r| -> Result<AccountRow> {
                        Ok(AccountRow {
                            password_hash: r.try_get(0)?,
                            disabled: r.try_get(1)?,
                        })
                    })
                    .transpose()
            }
        }
    }

    /// Creates the account with this password hash, or replaces the hash of an existing one.
    pub(super) fn upsert_password(&self, user_id: &str, hash: &str, now_ms: i64) -> Result<()> {
        match self {
            Backend::Sqlite(conn) => {
                lock(conn)
                    .prepare_cached(&lite(UPSERT_PASSWORD))?
                    .execute(params![user_id, hash, now_ms])?;
            }
            Backend::Postgres(pool) => {
                pool.get()?
                    .execute(UPSERT_PASSWORD, &[&user_id, &hash, &now_ms])?;
            }
        }
        Ok(())
    }

    /// Whether the account exists.
    pub(super) fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<bool> {
        let n = match self {
            Backend::Sqlite(conn) => lock(conn)
                .prepare_cached(&lite(SET_DISABLED))?
                .execute(params![user_id, disabled])? as u64,
            Backend::Postgres(pool) => pool.get()?.execute(SET_DISABLED, &[&user_id, &disabled])?,
        };
        Ok(n > 0)
    }

    /// Registers the device to `user_id` unless it is already known, then returns it as it
    /// is now (registered by this call, or earlier, possibly to someone else, possibly revoked).
    pub(super) fn register_device(
        &self,
        device_id: &str,
        user_id: &str,
        now_ms: i64,
    ) -> Result<DeviceRow> {
        let row = match self {
            Backend::Sqlite(conn) => {
                let conn = lock(conn);
                conn.prepare_cached(&lite(INSERT_DEVICE))?
                    .execute(params![device_id, user_id, now_ms])?;
                let mut stmt = conn.prepare_cached(&lite(DEVICE))?;
                stmt.query_row([device_id], device_row_sqlite).optional()?
            }
            Backend::Postgres(pool) => {
                let mut client = pool.get()?;
                // Waits for a concurrent insert of the same id to commit, then does nothing:
                // the read below sees the winner's row.
                client.execute(INSERT_DEVICE, &[&device_id, &user_id, &now_ms])?;
                client
                    .query_opt(DEVICE, &[&device_id])?
                    .map(|r| device_row_pg(&r))
                    .transpose()?
            }
        };
        // Devices are never deleted.
        row.ok_or_else(|| AuthError::Storage(format!("device {device_id} missing after insert")))
    }

    /// Hands the device over to `user_id`, ending every other user's sessions on it, in one
    /// transaction. `false` when the device is revoked (then nothing changes).
    pub(super) fn hand_over_device(
        &self,
        device_id: &str,
        user_id: &str,
        now_ms: i64,
    ) -> Result<bool> {
        match self {
            Backend::Sqlite(conn) => {
                let mut conn = lock(conn);
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let moved = tx
                    .prepare_cached(&lite(SET_DEVICE_OWNER))?
                    .execute(params![device_id, user_id])?
                    > 0;
                if moved {
                    tx.prepare_cached(&lite(REVOKE_OTHER_USERS_TOKENS))?
                        .execute(params![device_id, user_id, now_ms])?;
                }
                tx.commit()?;
                Ok(moved)
            }
            Backend::Postgres(pool) => {
                let mut client = pool.get()?;
                let mut tx = client.transaction()?;
                // The device row is locked first, as in `revoke_device`: one lock order.
                let moved = tx.execute(SET_DEVICE_OWNER, &[&device_id, &user_id])? > 0;
                if moved {
                    tx.execute(
                        PG_REVOKE_OTHER_USERS_TOKENS,
                        &[&device_id, &user_id, &now_ms],
                    )?;
                }
                tx.commit()?;
                Ok(moved)
            }
        }
    }

    /// Revokes the device and every live token on it, in one transaction. Whether the device
    /// was live until now.
    pub(super) fn revoke_device(&self, device_id: &str, now_ms: i64) -> Result<bool> {
        let n = match self {
            Backend::Sqlite(conn) => {
                let mut conn = lock(conn);
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let n = tx
                    .prepare_cached(&lite(REVOKE_DEVICE))?
                    .execute(params![device_id, now_ms])?;
                tx.prepare_cached(&lite(REVOKE_DEVICE_TOKENS))?
                    .execute(params![device_id, now_ms])?;
                tx.commit()?;
                n as u64
            }
            Backend::Postgres(pool) => {
                let mut client = pool.get()?;
                let mut tx = client.transaction()?;
                let n = tx.execute(REVOKE_DEVICE, &[&device_id, &now_ms])?;
                tx.execute(PG_REVOKE_DEVICE_TOKENS, &[&device_id, &now_ms])?;
                tx.commit()?;
                n
            }
        };
        Ok(n > 0)
    }

    /// The token with this SHA-256, with its account and device as they are now.
    pub(super) fn token(&self, hash: &[u8]) -> Result<Option<TokenRow>> {
        match self {
            Backend::Sqlite(conn) => {
                let conn = lock(conn);
                let mut stmt = conn.prepare_cached(&lite(TOKEN))?;
                Ok(stmt.query_row([hash], token_row_sqlite).optional()?)
            }
            Backend::Postgres(pool) => pool
                .get()?
                .query_opt(TOKEN, &[&hash])?
                .map(|r| token_row_pg(&r))
                .transpose(),
        }
    }

    /// Stores the pair of a new login.
    pub(super) fn insert_pair(&self, pair: &NewPair) -> Result<()> {
        match self {
            Backend::Sqlite(conn) => insert_pair_sqlite(&lock(conn), pair),
            Backend::Postgres(pool) => insert_pair_pg(&mut *pool.get()?, pair),
        }
    }

    /// Spends the refresh token `spent` and, in the same transaction, revokes what is left of
    /// its login and stores the next pair. `false`, with nothing changed, when `spent` was
    /// already spent or revoked, even by a concurrent call that has just committed.
    pub(super) fn rotate(&self, spent: &[u8], next: &NewPair) -> Result<bool> {
        let now_ms = next.issued_ms;
        match self {
            Backend::Sqlite(conn) => {
                let mut conn = lock(conn);
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                if tx
                    .prepare_cached(&lite(SPEND_TOKEN))?
                    .execute(params![spent, now_ms])?
                    == 0
                {
                    return Ok(false);
                }
                tx.prepare_cached(&lite(REVOKE_FAMILY))?
                    .execute(params![next.family, now_ms])?;
                insert_pair_sqlite(&tx, next)?;
                tx.commit()?;
            }
            Backend::Postgres(pool) => {
                let mut client = pool.get()?;
                let mut tx = client.transaction()?;
                // Of two concurrent calls, the second waits here for the first to commit, then
                // finds the token spent and changes nothing.
                tx.execute(PG_LOCK_FAMILY, &[&next.family])?;
                tx.execute(PG_LOCK_FAMILY_TOKENS, &[&next.family])?;
                if tx.execute(SPEND_TOKEN, &[&spent, &now_ms])? == 0 {
                    return Ok(false);
                }
                tx.execute(REVOKE_FAMILY, &[&next.family, &now_ms])?;
                insert_pair_pg(&mut tx, next)?;
                tx.commit()?;
            }
        }
        Ok(true)
    }

    /// Revokes every live token of a login.
    pub(super) fn revoke_family(&self, family: &str, now_ms: i64) -> Result<()> {
        match self {
            Backend::Sqlite(conn) => {
                lock(conn)
                    .prepare_cached(&lite(REVOKE_FAMILY))?
                    .execute(params![family, now_ms])?;
            }
            Backend::Postgres(pool) => {
                let mut client = pool.get()?;
                let mut tx = client.transaction()?;
                tx.execute(PG_LOCK_FAMILY, &[&family])?;
                tx.execute(PG_REVOKE_FAMILY, &[&family, &now_ms])?;
                tx.commit()?;
            }
        }
        Ok(())
    }

    /// Deletes the tokens that expired before `now_ms` (they can no longer be used in any
    /// way); returns how many.
    pub(super) fn purge_expired(&self, now_ms: i64) -> Result<u64> {
        const PURGE: &str = "DELETE FROM token WHERE expires_ms < $1";
        Ok(match self {
            Backend::Sqlite(conn) => lock(conn)
                .prepare_cached(&lite(PURGE))?
                .execute(params![now_ms])? as u64,
            Backend::Postgres(pool) => pool.get()?.execute(PURGE, &[&now_ms])?,
        })
    }

    /// Revokes every live token of the login the token with this SHA-256 belongs to.
    pub(super) fn logout(&self, hash: &[u8], now_ms: i64) -> Result<()> {
        match self {
            Backend::Sqlite(conn) => {
                lock(conn)
                    .prepare_cached(&lite(LOGOUT))?
                    .execute(params![hash, now_ms])?;
            }
            Backend::Postgres(pool) => {
                let mut client = pool.get()?;
                let mut tx = client.transaction()?;
                let Some(row) = tx.query_opt(PG_FAMILY_OF, &[&hash])? else {
                    return Ok(());
                };
                let family: String = row.try_get(0)?;
                tx.execute(PG_LOCK_FAMILY, &[&family])?;
                tx.execute(PG_REVOKE_FAMILY, &[&family, &now_ms])?;
                tx.commit()?;
            }
        }
        Ok(())
    }
}

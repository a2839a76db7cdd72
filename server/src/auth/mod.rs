//! Authentication of the sync server: accounts (argon2id password hashes), devices, and opaque
//! bearer tokens (256 random bits, stored only as their SHA-256, expiring and revocable).
//!
//! A login gives a short access token (12 h) and a refresh token (30 days: it covers a long
//! offline stretch). Refreshing rotates both; presenting an already-used refresh token revokes
//! the whole login (a stolen token is then useless). `user disable` and `device revoke` take
//! effect at the next request, because every request checks the account and the device.
//! Nothing here knows roles or scopes: those come from the user's record at each request.

use std::path::Path;
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

/// Access token lifetime.
pub const ACCESS_TTL_MS: i64 = 12 * 3600 * 1000;
/// Refresh token lifetime (a field worker may stay offline for weeks).
pub const REFRESH_TTL_MS: i64 = 30 * 24 * 3600 * 1000;
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Why authentication failed. The HTTP layer maps these to 401/403/429 with a JSON body and
/// never says which of user or password was wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// Unknown user or wrong password.
    #[error("unknown user or wrong password")]
    BadCredentials,
    /// The account is disabled.
    #[error("the account is disabled")]
    Disabled,
    /// This device was revoked (lost or stolen).
    #[error("this device has been revoked")]
    DeviceRevoked,
    /// The token is unknown, revoked, of the wrong kind or malformed.
    #[error("invalid token")]
    InvalidToken,
    /// The token has expired.
    #[error("the token has expired")]
    Expired,
    /// Bad input (device id, password too short, …).
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// Storage failure.
    #[error("storage error: {0}")]
    Storage(String),
}

impl From<rusqlite::Error> for AuthError {
    fn from(e: rusqlite::Error) -> Self {
        AuthError::Storage(e.to_string())
    }
}

type Result<T> = std::result::Result<T, AuthError>;

/// What a login or a refresh gives the device (the wire type the client reads).
pub use firegrid_core::sync::http::Session;

/// Who a valid access token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The user.
    pub user_id: String,
    /// The device.
    pub device_id: String,
}

/// The accounts database.
#[derive(Debug)]
pub struct Accounts {
    conn: Mutex<Connection>,
    /// A real hash to verify against when the user is unknown, so both cases cost the same.
    dummy_hash: String,
}

fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Storage(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn hash_password(password: &str) -> Result<String> {
    let mut salt_bytes = [0u8; 16];
    getrandom::fill(&mut salt_bytes)
        .map_err(|e| AuthError::Storage(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| AuthError::Invalid("salt"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AuthError::Invalid("password"))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

impl Accounts {
    /// Opens (creating if needed) the accounts database at `path`.
    pub fn open(path: &Path) -> Result<Accounts> {
        let conn = Connection::open(path)?;
        // WAL and FULL: a token or a revocation that was confirmed survives a crash.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
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
        Ok(Accounts {
            conn: Mutex::new(conn),
            dummy_hash: hash_password("firegrid-dummy-password")?,
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets (or replaces) a user's password; creates the account if needed.
    pub fn set_password(&self, user_id: &str, password: &str, now_ms: i64) -> Result<()> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AuthError::Invalid("password: at least 10 characters"));
        }
        let hash = hash_password(password)?;
        self.conn().execute(
            "INSERT INTO account(user_id, password_hash, created_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT(user_id) DO UPDATE SET password_hash = excluded.password_hash",
            params![user_id, hash, now_ms],
        )?;
        Ok(())
    }

    /// Whether the user has an account (a password).
    pub fn has_account(&self, user_id: &str) -> Result<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM account WHERE user_id = ?1",
                [user_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Disables (or re-enables) an account; a disabled account's tokens stop working at once.
    pub fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE account SET disabled = ?2 WHERE user_id = ?1",
            params![user_id, disabled],
        )?;
        Ok(n > 0)
    }

    /// Revokes a device (lost or stolen): its tokens stop working at once, and it cannot log in.
    pub fn revoke_device(&self, device_id: &str, now_ms: i64) -> Result<bool> {
        let conn = self.conn();
        let n = conn.execute(
            "UPDATE device SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL",
            params![device_id, now_ms],
        )?;
        conn.execute(
            "UPDATE token SET revoked_ms = ?2 WHERE device_id = ?1 AND revoked_ms IS NULL",
            params![device_id, now_ms],
        )?;
        Ok(n > 0)
    }

    /// Checks the password and issues a session for this device (registering it to the user).
    pub fn login(
        &self,
        user_id: &str,
        password: &str,
        device_id: &str,
        now_ms: i64,
    ) -> Result<Session> {
        if uuid::Uuid::parse_str(device_id).is_err() {
            return Err(AuthError::Invalid("device_id"));
        }
        let account: Option<(String, bool)> = self
            .conn()
            .query_row(
                "SELECT password_hash, disabled FROM account WHERE user_id = ?1",
                [user_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        // Verify outside the lock (argon2 takes tens of milliseconds by design).
        let (ok, disabled) = match &account {
            Some((hash, disabled)) => (verify_password(password, hash), *disabled),
            None => {
                let _ = verify_password(password, &self.dummy_hash);
                (false, false)
            }
        };
        if !ok {
            return Err(AuthError::BadCredentials);
        }
        if disabled {
            return Err(AuthError::Disabled);
        }
        let conn = self.conn();
        let device: Option<(String, Option<i64>)> = conn
            .query_row(
                "SELECT user_id, revoked_ms FROM device WHERE id = ?1",
                [device_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match device {
            Some((_, Some(_))) => return Err(AuthError::DeviceRevoked),
            Some((owner, None)) if owner != user_id => {
                // A shared phone changes hands: the previous user's sessions on it end.
                conn.execute(
                    "UPDATE token SET revoked_ms = ?2 WHERE device_id = ?1 AND revoked_ms IS NULL",
                    params![device_id, now_ms],
                )?;
                conn.execute(
                    "UPDATE device SET user_id = ?2 WHERE id = ?1",
                    params![device_id, user_id],
                )?;
            }
            Some(_) => {}
            None => {
                conn.execute(
                    "INSERT INTO device(id, user_id, registered_ms) VALUES (?1, ?2, ?3)",
                    params![device_id, user_id, now_ms],
                )?;
            }
        }
        let family = random_token()?;
        issue(&conn, user_id, device_id, &family, now_ms)
    }

    /// Exchanges a refresh token for a new pair. A refresh token works once: presenting a used
    /// one revokes the whole login.
    pub fn refresh(&self, refresh_token: &str, now_ms: i64) -> Result<Session> {
        let conn = self.conn();
        let row: Option<(String, String, String, String, i64, Option<i64>)> = conn
            .query_row(
                "SELECT kind, family, user_id, device_id, expires_ms, revoked_ms FROM token WHERE hash = ?1",
                [token_hash(refresh_token)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()?;
        let Some((kind, family, user_id, device_id, expires, revoked)) = row else {
            return Err(AuthError::InvalidToken);
        };
        if kind != "refresh" {
            return Err(AuthError::InvalidToken);
        }
        if revoked.is_some() {
            conn.execute(
                "UPDATE token SET revoked_ms = ?2 WHERE family = ?1 AND revoked_ms IS NULL",
                params![family, now_ms],
            )?;
            return Err(AuthError::InvalidToken);
        }
        if expires <= now_ms {
            return Err(AuthError::Expired);
        }
        check_account_and_device(&conn, &user_id, &device_id)?;
        conn.execute(
            "UPDATE token SET revoked_ms = ?2 WHERE family = ?1 AND revoked_ms IS NULL",
            params![family, now_ms],
        )?;
        issue(&conn, &user_id, &device_id, &family, now_ms)
    }

    /// Checks an access token, the account and the device, now.
    pub fn authenticate(&self, access_token: &str, now_ms: i64) -> Result<Authenticated> {
        if access_token.len() != 64 {
            return Err(AuthError::InvalidToken);
        }
        let conn = self.conn();
        let row: Option<(String, String, String, i64, Option<i64>)> = conn
            .query_row(
                "SELECT kind, user_id, device_id, expires_ms, revoked_ms FROM token WHERE hash = ?1",
                [token_hash(access_token)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((kind, user_id, device_id, expires, revoked)) = row else {
            return Err(AuthError::InvalidToken);
        };
        if kind != "access" || revoked.is_some() {
            return Err(AuthError::InvalidToken);
        }
        if expires <= now_ms {
            return Err(AuthError::Expired);
        }
        check_account_and_device(&conn, &user_id, &device_id)?;
        Ok(Authenticated { user_id, device_id })
    }

    /// Ends the login an access token belongs to (sign-out).
    pub fn logout(&self, access_token: &str, now_ms: i64) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "UPDATE token SET revoked_ms = ?2 WHERE revoked_ms IS NULL AND family =
               (SELECT family FROM token WHERE hash = ?1)",
            params![token_hash(access_token), now_ms],
        )?;
        Ok(())
    }
}

fn check_account_and_device(conn: &Connection, user_id: &str, device_id: &str) -> Result<()> {
    let disabled: Option<bool> = conn
        .query_row(
            "SELECT disabled FROM account WHERE user_id = ?1",
            [user_id],
            |r| r.get(0),
        )
        .optional()?;
    match disabled {
        None => return Err(AuthError::InvalidToken),
        Some(true) => return Err(AuthError::Disabled),
        Some(false) => {}
    }
    let device: Option<(String, Option<i64>)> = conn
        .query_row(
            "SELECT user_id, revoked_ms FROM device WHERE id = ?1",
            [device_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match device {
        Some((owner, None)) if owner == user_id => Ok(()),
        Some((_, Some(_))) => Err(AuthError::DeviceRevoked),
        _ => Err(AuthError::InvalidToken),
    }
}

fn issue(
    conn: &Connection,
    user_id: &str,
    device_id: &str,
    family: &str,
    now_ms: i64,
) -> Result<Session> {
    let access = random_token()?;
    let refresh = random_token()?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO token(hash, kind, family, user_id, device_id, issued_ms, expires_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    stmt.execute(params![
        token_hash(&access),
        "access",
        family,
        user_id,
        device_id,
        now_ms,
        now_ms + ACCESS_TTL_MS
    ])?;
    stmt.execute(params![
        token_hash(&refresh),
        "refresh",
        family,
        user_id,
        device_id,
        now_ms,
        now_ms + REFRESH_TTL_MS
    ])?;
    Ok(Session {
        user_id: user_id.to_string(),
        device_id: device_id.to_string(),
        access_token: access,
        access_expires_ms: now_ms + ACCESS_TTL_MS,
        refresh_token: refresh,
        refresh_expires_ms: now_ms + REFRESH_TTL_MS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = "0f8e2a4c6b1d4e3f9a7b5c3d1e2f4a6b";
    const PW: &str = "correct horse battery";

    fn accounts() -> (tempfile::TempDir, Accounts) {
        let dir = tempfile::tempdir().unwrap();
        let a = Accounts::open(&dir.path().join("accounts.db")).unwrap();
        a.set_password("u.gp001", PW, 0).unwrap();
        (dir, a)
    }

    #[test]
    fn login_refresh_and_authenticate() {
        let (_d, a) = accounts();
        assert_eq!(
            a.login("u.gp001", "wrong password!", DEV, 0),
            Err(AuthError::BadCredentials)
        );
        assert_eq!(
            a.login("u.nobody", PW, DEV, 0),
            Err(AuthError::BadCredentials)
        );
        let s = a.login("u.gp001", PW, DEV, 1_000).unwrap();
        assert_eq!(s.access_token.len(), 64, "256 random bits");
        assert_eq!(
            a.authenticate(&s.access_token, 2_000).unwrap().user_id,
            "u.gp001"
        );
        assert_eq!(
            a.authenticate(&s.refresh_token, 2_000),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(
            a.authenticate(&s.access_token, 1_000 + ACCESS_TTL_MS),
            Err(AuthError::Expired)
        );
        // Refresh after the access token expired, weeks later.
        let later = 1_000 + 20 * 24 * 3600 * 1000;
        let s2 = a.refresh(&s.refresh_token, later).unwrap();
        assert_eq!(
            a.authenticate(&s2.access_token, later).unwrap().device_id,
            DEV
        );
        // A used refresh token presented again revokes the whole login.
        assert_eq!(
            a.refresh(&s.refresh_token, later),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(
            a.authenticate(&s2.access_token, later),
            Err(AuthError::InvalidToken)
        );
    }

    #[test]
    fn disable_revoke_and_logout_take_effect_at_once() {
        let (_d, a) = accounts();
        let s = a.login("u.gp001", PW, DEV, 0).unwrap();
        a.set_disabled("u.gp001", true).unwrap();
        assert_eq!(a.authenticate(&s.access_token, 1), Err(AuthError::Disabled));
        assert_eq!(a.login("u.gp001", PW, DEV, 1), Err(AuthError::Disabled));
        a.set_disabled("u.gp001", false).unwrap();
        assert!(a.authenticate(&s.access_token, 1).is_ok());
        assert!(a.revoke_device(DEV, 2).unwrap());
        assert_eq!(
            a.authenticate(&s.access_token, 3),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(
            a.login("u.gp001", PW, DEV, 3),
            Err(AuthError::DeviceRevoked)
        );
        let other = "1f8e2a4c6b1d4e3f9a7b5c3d1e2f4a6b";
        let s = a.login("u.gp001", PW, other, 4).unwrap();
        a.logout(&s.access_token, 5).unwrap();
        assert_eq!(
            a.authenticate(&s.access_token, 6),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(a.refresh(&s.refresh_token, 6), Err(AuthError::InvalidToken));
    }

    #[test]
    fn secrets_are_not_stored_in_clear_and_bad_input_is_refused() {
        let (dir, a) = accounts();
        let s = a.login("u.gp001", PW, DEV, 0).unwrap();
        drop(a);
        let raw = std::fs::read(dir.path().join("accounts.db")).unwrap();
        let wal = std::fs::read(dir.path().join("accounts.db-wal")).unwrap_or_default();
        for hay in [&raw, &wal] {
            let text = String::from_utf8_lossy(hay);
            assert!(!text.contains(PW));
            assert!(!text.contains(&s.access_token));
            assert!(!text.contains(&s.refresh_token));
        }
        let a = Accounts::open(&dir.path().join("accounts.db")).unwrap();
        assert_eq!(
            a.set_password("u.x", "short", 0),
            Err(AuthError::Invalid("password: at least 10 characters"))
        );
        assert_eq!(
            a.login("u.gp001", PW, "not-a-uuid", 0),
            Err(AuthError::Invalid("device_id"))
        );
        assert_eq!(a.authenticate("", 0), Err(AuthError::InvalidToken));
        assert_eq!(
            a.authenticate(&"z".repeat(64), 0),
            Err(AuthError::InvalidToken)
        );
        // A second user logging in on the same phone ends the first one's session there.
        a.set_password("u.gp002", PW, 0).unwrap();
        let first = a.login("u.gp001", PW, DEV, 1).unwrap();
        let second = a.login("u.gp002", PW, DEV, 2).unwrap();
        assert_eq!(
            a.authenticate(&first.access_token, 3),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(
            a.authenticate(&second.access_token, 3).unwrap().user_id,
            "u.gp002"
        );
    }
}

//! Authentication of the sync server: accounts (argon2id password hashes), devices, and opaque
//! bearer tokens (256 random bits, stored only as their SHA-256, expiring and revocable).
//!
//! A login gives a short access token (12 h) and a refresh token (30 days: it covers a long
//! offline stretch). Refreshing rotates both; presenting an already-used refresh token revokes
//! the whole login (a stolen token is then useless). `user disable` and `device revoke` take
//! effect at the next request, because every request checks the account and the device.
//! Nothing here knows roles or scopes: those come from the user's record at each request.
//!
//! Two backends, one policy: [`Accounts::open`] keeps the accounts in a SQLite file (one server),
//! [`Accounts::open_postgres`] in PostgreSQL, shared by any number of stateless server instances
//! (a token issued by one works on all; a disable or a revocation done anywhere is seen by every
//! instance at its next request, since nothing is cached). This file decides (dummy hash for
//! unknown users, device hand-over on a shared phone, reuse detection, expiry, disabled and
//! revoked checks); `store` only reads and writes, with the same statements on both backends
//! except for the locking PostgreSQL needs.
//!
//! Atomicity on PostgreSQL, where many connections of many instances run at once: spending a
//! refresh token is one `UPDATE … WHERE hash = $1 AND revoked_ms IS NULL`, so of two concurrent
//! refreshes with the same token exactly one changes the row and gets a session; the other is
//! treated as reuse and revokes the login. That update, the revocation of the rest of the login
//! and the new pair commit together, under a transaction-scoped advisory lock on the login that
//! sign-out and reuse revocation take too (so neither can miss a pair a concurrent refresh
//! adds). A new device is registered with `INSERT … ON CONFLICT DO NOTHING` and read back, so
//! concurrent first logins agree on one row; handing a device over (new owner, previous user's
//! tokens revoked) and revoking a device (device and its tokens) are single transactions.
//! Token rows are locked in one order (by hash) so these transactions cannot deadlock.
//! Password verification runs outside any lock or transaction.

mod store;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

use crate::pg::PgPool;
use store::{Backend, NewPair, TokenRow};

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

impl From<postgres::Error> for AuthError {
    fn from(e: postgres::Error) -> Self {
        AuthError::Storage(crate::pg::describe(&e))
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
    backend: Backend,
    /// A real hash to verify against when the user is unknown, so both cases cost the same.
    dummy_hash: String,
}

const ACCESS: &str = "access";
const REFRESH: &str = "refresh";

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

/// A new pair of tokens for a login (`family`): the session the device gets, and what is stored.
fn new_pair(
    user_id: &str,
    device_id: &str,
    family: &str,
    now_ms: i64,
) -> Result<(Session, NewPair)> {
    let access = random_token()?;
    let refresh = random_token()?;
    let access_expires_ms = now_ms.saturating_add(ACCESS_TTL_MS);
    let refresh_expires_ms = now_ms.saturating_add(REFRESH_TTL_MS);
    let stored = NewPair {
        family: family.to_string(),
        user_id: user_id.to_string(),
        device_id: device_id.to_string(),
        issued_ms: now_ms,
        access_hash: token_hash(&access),
        access_expires_ms,
        refresh_hash: token_hash(&refresh),
        refresh_expires_ms,
    };
    let session = Session {
        user_id: user_id.to_string(),
        device_id: device_id.to_string(),
        access_token: access,
        access_expires_ms,
        refresh_token: refresh,
        refresh_expires_ms,
    };
    Ok((session, stored))
}

/// A token is honoured only while its account exists and is enabled, and its device is still
/// registered to the same user and not revoked.
fn check_account_and_device(token: &TokenRow) -> Result<()> {
    match token.account_disabled {
        None => return Err(AuthError::InvalidToken),
        Some(true) => return Err(AuthError::Disabled),
        Some(false) => {}
    }
    match &token.device {
        Some(device) if device.revoked => Err(AuthError::DeviceRevoked),
        Some(device) if device.user_id == token.user_id => Ok(()),
        _ => Err(AuthError::InvalidToken),
    }
}

impl Accounts {
    /// Opens (creating if needed) the accounts database at `path`.
    pub fn open(path: &Path) -> Result<Accounts> {
        Accounts::with_backend(Backend::open_sqlite(path)?)
    }

    /// Uses the PostgreSQL database behind `pool`, creating or migrating the accounts tables
    /// first (a no-op when they are current). Several instances may share the database.
    pub fn open_postgres(pool: Arc<PgPool>) -> Result<Accounts> {
        Accounts::with_backend(Backend::open_postgres(pool)?)
    }

    fn with_backend(backend: Backend) -> Result<Accounts> {
        Ok(Accounts {
            backend,
            dummy_hash: hash_password("firegrid-dummy-password")?,
        })
    }

    /// Sets (or replaces) a user's password; creates the account if needed.
    pub fn set_password(&self, user_id: &str, password: &str, now_ms: i64) -> Result<()> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AuthError::Invalid("password: at least 10 characters"));
        }
        let hash = hash_password(password)?;
        self.backend.upsert_password(user_id, &hash, now_ms)
    }

    /// Whether the user has an account (a password).
    pub fn has_account(&self, user_id: &str) -> Result<bool> {
        Ok(self.backend.account(user_id)?.is_some())
    }

    /// Disables (or re-enables) an account; a disabled account's tokens stop working at once.
    pub fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<bool> {
        self.backend.set_disabled(user_id, disabled)
    }

    /// Revokes a device (lost or stolen): its tokens stop working at once, and it cannot log in.
    pub fn revoke_device(&self, device_id: &str, now_ms: i64) -> Result<bool> {
        self.backend.revoke_device(device_id, now_ms)
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
        let account = self.backend.account(user_id)?;
        // Verified with no lock or transaction held (argon2 takes tens of milliseconds by
        // design); an unknown user costs the same as a wrong password.
        let (ok, disabled) = match &account {
            Some(account) => (
                verify_password(password, &account.password_hash),
                account.disabled,
            ),
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
        let device = self.backend.register_device(device_id, user_id, now_ms)?;
        if device.revoked {
            return Err(AuthError::DeviceRevoked);
        }
        // A shared phone changes hands: the previous user's sessions on it end. `false` means
        // the device was revoked in the meantime.
        if device.user_id != user_id
            && !self.backend.hand_over_device(device_id, user_id, now_ms)?
        {
            return Err(AuthError::DeviceRevoked);
        }
        let (session, stored) = new_pair(user_id, device_id, &random_token()?, now_ms)?;
        self.backend.insert_pair(&stored)?;
        Ok(session)
    }

    /// Exchanges a refresh token for a new pair. A refresh token works once: presenting a used
    /// one revokes the whole login.
    pub fn refresh(&self, refresh_token: &str, now_ms: i64) -> Result<Session> {
        let hash = token_hash(refresh_token);
        let Some(token) = self.backend.token(&hash)? else {
            return Err(AuthError::InvalidToken);
        };
        if token.kind != REFRESH {
            return Err(AuthError::InvalidToken);
        }
        if token.revoked {
            // Used before (or revoked): whoever presents it now, the login is compromised.
            self.backend.revoke_family(&token.family, now_ms)?;
            return Err(AuthError::InvalidToken);
        }
        if token.expires_ms <= now_ms {
            return Err(AuthError::Expired);
        }
        check_account_and_device(&token)?;
        let (session, next) = new_pair(&token.user_id, &token.device_id, &token.family, now_ms)?;
        if !self.backend.rotate(&hash, &next)? {
            // Spent by a concurrent request between the read and now: the same token was
            // presented twice, which is reuse.
            self.backend.revoke_family(&token.family, now_ms)?;
            return Err(AuthError::InvalidToken);
        }
        Ok(session)
    }

    /// Checks an access token, the account and the device, now.
    pub fn authenticate(&self, access_token: &str, now_ms: i64) -> Result<Authenticated> {
        if access_token.len() != 64 {
            return Err(AuthError::InvalidToken);
        }
        let Some(token) = self.backend.token(&token_hash(access_token))? else {
            return Err(AuthError::InvalidToken);
        };
        if token.kind != ACCESS || token.revoked {
            return Err(AuthError::InvalidToken);
        }
        if token.expires_ms <= now_ms {
            return Err(AuthError::Expired);
        }
        check_account_and_device(&token)?;
        Ok(Authenticated {
            user_id: token.user_id,
            device_id: token.device_id,
        })
    }

    /// Ends the login an access token belongs to (sign-out).
    pub fn logout(&self, access_token: &str, now_ms: i64) -> Result<()> {
        self.backend.logout(&token_hash(access_token), now_ms)
    }

    /// Deletes expired tokens (the server does it hourly, so the table does not only grow).
    pub fn purge_expired(&self, now_ms: i64) -> Result<u64> {
        self.backend.purge_expired(now_ms)
    }
}

//! The HTTP transport of sync (reqwest, rustls): log in, refresh, and one sync round trip per
//! call, with timeouts and errors an app can act on. Retrying is [`sync_with_retry`]'s job:
//! exponential backoff with jitter, honouring the server's Retry-After, never a retry storm.
//! Tokens are handed in by the app (it keeps them in the Keystore / Keychain), never stored here.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{SyncProgress, SyncReport};
use crate::access::User;
use crate::{Error, Result, Store};

/// A logged-in session as the server gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// User id.
    pub user_id: String,
    /// Device id.
    pub device_id: String,
    /// Bearer token for requests.
    pub access_token: String,
    /// Expiry (server clock, ms).
    pub access_expires_ms: i64,
    /// Token for a new pair.
    pub refresh_token: String,
    /// Expiry (server clock, ms).
    pub refresh_expires_ms: i64,
}

/// A login's answer: the session and the user as the server knows them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Login {
    /// Tokens.
    #[serde(flatten)]
    pub session: Session,
    /// The user.
    pub user: User,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    message: String,
}

/// A client of one server.
#[derive(Debug, Clone)]
pub struct HttpClient {
    pub(super) client: reqwest::blocking::Client,
    pub(super) base: String,
}

pub(super) fn network(e: reqwest::Error) -> Error {
    Error::Network(e.to_string())
}

impl HttpClient {
    /// A client for `base_url` (e.g. `https://firegrid.example.org`), with a 10 s connect and a
    /// 120 s request timeout (a stalled connection is given up, not waited on forever).
    pub fn new(base_url: &str) -> Result<HttpClient> {
        let base = base_url.trim_end_matches('/').to_string();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(Error::invalid(
                "server_url",
                "must start with https:// (or http:// for a local server)",
            ));
        }
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(network)?;
        Ok(HttpClient { client, base })
    }

    pub(super) fn check(resp: reqwest::blocking::Response) -> Result<reqwest::blocking::Response> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let message = resp
            .json::<ErrorBody>()
            .map(|b| b.message)
            .unwrap_or_else(|_| status.to_string());
        Err(match status.as_u16() {
            401 => Error::Unauthorized(message),
            403 => Error::Forbidden(message),
            429 => Error::RateLimited {
                retry_after_s: retry_after.unwrap_or(30),
            },
            s => Error::Server { status: s, message },
        })
    }

    /// Logs a user in on this device.
    pub fn login(&self, user_id: &str, password: &str, device_id: &str) -> Result<Login> {
        let body =
            serde_json::json!({ "user_id": user_id, "password": password, "device_id": device_id });
        let resp = self
            .client
            .post(format!("{}/v1/login", self.base))
            .json(&body)
            .send()
            .map_err(network)?;
        Self::check(resp)?.json().map_err(network)
    }

    /// Exchanges a refresh token for a new session (the old refresh token stops working).
    pub fn refresh(&self, refresh_token: &str) -> Result<Session> {
        let body = serde_json::json!({ "refresh_token": refresh_token });
        let resp = self
            .client
            .post(format!("{}/v1/refresh", self.base))
            .json(&body)
            .send()
            .map_err(network)?;
        Self::check(resp)?.json().map_err(network)
    }

    /// Ends the login the access token belongs to (both its tokens stop working).
    pub fn logout(&self, access_token: &str) -> Result<()> {
        let resp = self
            .client
            .post(format!("{}/v1/logout", self.base))
            .bearer_auth(access_token)
            .send()
            .map_err(network)?;
        Self::check(resp)?;
        Ok(())
    }

    /// One sync round trip: request bytes in, response bytes out.
    pub fn round_trip(&self, access_token: &str, request: Vec<u8>) -> Result<Vec<u8>> {
        let resp = self
            .client
            .post(format!("{}/v1/sync", self.base))
            .bearer_auth(access_token)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(request)
            .send()
            .map_err(network)?;
        Ok(Self::check(resp)?.bytes().map_err(network)?.to_vec())
    }
}

impl Store {
    /// Syncs with a server over HTTP (one round trip when little has changed). Blocking: call it
    /// off the UI thread. `progress` is called after every round.
    pub fn sync_http(
        &self,
        client: &HttpClient,
        access_token: &str,
        progress: &mut dyn FnMut(SyncProgress),
    ) -> Result<SyncReport> {
        self.sync_via(&mut |body| client.round_trip(access_token, body), progress)
    }
}

/// How [`sync_with_retry`] waits between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// First wait.
    pub base: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_secs(2),
            max: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `n` (1-based) after `error`: the server's Retry-After when it
    /// gave one, else exponential backoff with full jitter (`jitter` in 0..1).
    pub fn delay(&self, n: u32, error: &Error, jitter: f64) -> Duration {
        if let Error::RateLimited { retry_after_s } = error {
            return Duration::from_secs(*retry_after_s).min(self.max);
        }
        let exp = self.base.saturating_mul(1u32 << n.min(16)).min(self.max);
        exp.mul_f64(jitter.clamp(0.0, 1.0)).max(self.base / 2)
    }
}

/// Whether an error is worth retrying (the network or a busy server), as opposed to one that
/// needs the user (signed out, forbidden, invalid data).
pub fn is_transient(e: &Error) -> bool {
    matches!(e, Error::Network(_) | Error::RateLimited { .. })
        || matches!(e, Error::Server { status, .. } if *status >= 500)
}

/// Runs `sync` until it succeeds, a non-transient error occurs, or the attempts run out,
/// sleeping with `sleep` between attempts.
pub fn sync_with_retry<T>(
    policy: RetryPolicy,
    mut sync: impl FnMut() -> Result<T>,
    mut sleep: impl FnMut(Duration),
) -> Result<T> {
    let mut attempt = 1;
    loop {
        match sync() {
            Ok(v) => return Ok(v),
            Err(e) if is_transient(&e) && attempt < policy.attempts.max(1) => {
                let jitter = f64::from(uuid::Uuid::new_v4().as_bytes()[0]) / 255.0;
                sleep(policy.delay(attempt, &e, jitter));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_honour_retry_after_and_stop_on_user_errors() {
        let policy = RetryPolicy {
            attempts: 4,
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        let mut sleeps = Vec::new();
        let mut calls = 0;
        let r: Result<()> = sync_with_retry(
            policy,
            || {
                calls += 1;
                Err(if calls == 2 {
                    Error::RateLimited { retry_after_s: 17 }
                } else {
                    Error::Network("down".into())
                })
            },
            |d| sleeps.push(d),
        );
        assert!(matches!(r, Err(Error::Network(_))));
        assert_eq!(calls, 4);
        assert_eq!(sleeps.len(), 3);
        assert_eq!(
            sleeps[1],
            Duration::from_secs(17),
            "the server's Retry-After is honoured"
        );
        assert!(sleeps.iter().all(|d| *d <= Duration::from_secs(60)));

        let mut calls = 0;
        let r: Result<()> = sync_with_retry(
            policy,
            || {
                calls += 1;
                Err(Error::Unauthorized("x".into()))
            },
            |_| {},
        );
        assert!(matches!(r, Err(Error::Unauthorized(_))));
        assert_eq!(calls, 1, "no retry for what needs the user");
        assert!(HttpClient::new("ftp://x").is_err());
    }
}

//! A fixed-window rate limiter per key (token, device or user id), in memory. Several server
//! instances each keep their own windows, so the effective limit is per instance: documented in
//! ARCHITECTURE.md.
//!
//! Budgets are kept apart by purpose: document sync and reads (`REQUESTS_PER_MINUTE`), logins,
//! and blob requests ([`BLOB_REQUESTS_PER_MINUTE`]): an upload of a few hundred photos in
//! 1 MiB chunks must not spend the budget a device needs to sync its documents meanwhile.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Blob requests (`HEAD`/`PUT`/`GET /v1/blobs`) per device per minute, counted apart from
/// sync's: 20 a second, a photo every 0.1 s on a fast link (a `HEAD` and one chunk each), while
/// still bounding what one device can make the server hash and write.
pub const BLOB_REQUESTS_PER_MINUTE: u32 = 1200;

/// Allows `limit` events per key per window.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// `limit` events per minute per key.
    pub fn per_minute(limit: u32) -> RateLimiter {
        RateLimiter {
            limit,
            window: Duration::from_secs(60),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event; `Err(seconds)` to wait when over the limit.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = map.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            let left = self.window.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_per_key() {
        let r = RateLimiter::per_minute(2);
        assert!(r.check("a").is_ok());
        assert!(r.check("a").is_ok());
        let wait = r.check("a").unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(r.check("b").is_ok());
    }
}

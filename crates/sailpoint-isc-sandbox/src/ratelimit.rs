//! ISC's gateway rate limit: a fixed window per client id and API version.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::config::{ApiVersion, RateLimit};

#[derive(Debug)]
struct Window {
    started: Instant,
    count: u32,
}

/// Counts requests per `(client id, API version)` in fixed windows.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: Option<RateLimit>,
    windows: Mutex<HashMap<(String, ApiVersion), Window>>,
}

impl RateLimiter {
    pub(crate) fn new(limit: Option<RateLimit>) -> Self {
        Self {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request. `Err(secs)` means it is over the limit and the window resets in `secs` seconds (at least 1).
    pub(crate) fn check(&self, client_id: &str, version: ApiVersion) -> Result<(), u64> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let window = windows
            .entry((client_id.to_owned(), version))
            .or_insert(Window {
                started: now,
                count: 0,
            });
        if now.duration_since(window.started) >= limit.window {
            window.started = now;
            window.count = 0;
        }
        if window.count >= limit.max_requests {
            let remaining = limit
                .window
                .saturating_sub(now.duration_since(window.started));
            let secs = remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0);
            return Err(secs.max(1));
        }
        window.count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn limits_per_client_and_version() {
        let rl = RateLimiter::new(Some(RateLimit {
            max_requests: 2,
            window: Duration::from_secs(10),
        }));
        assert!(rl.check("a", ApiVersion::Beta).is_ok());
        assert!(rl.check("a", ApiVersion::Beta).is_ok());
        let retry = rl.check("a", ApiVersion::Beta).unwrap_err();
        assert!((1..=10).contains(&retry), "retry after {retry}");
        assert!(rl.check("a", ApiVersion::V2025).is_ok());
        assert!(rl.check("b", ApiVersion::Beta).is_ok());
    }

    #[test]
    fn window_resets() {
        let rl = RateLimiter::new(Some(RateLimit {
            max_requests: 1,
            window: Duration::from_millis(20),
        }));
        assert!(rl.check("a", ApiVersion::Beta).is_ok());
        assert_eq!(rl.check("a", ApiVersion::Beta), Err(1));
        std::thread::sleep(Duration::from_millis(30));
        assert!(rl.check("a", ApiVersion::Beta).is_ok());
    }

    #[test]
    fn disabled_never_limits() {
        let rl = RateLimiter::new(None);
        for _ in 0..1000 {
            assert!(rl.check("a", ApiVersion::Beta).is_ok());
        }
    }
}

//! ISC's gateway rate limit, read strictly: a sliding window per client id and API version.
//!
//! "100 requests per 10 seconds" is enforced so that no 10-second span, wherever it starts,
//! holds more than 100 served requests. A fixed window would let a client send 100 requests at
//! the end of one window and 100 more at the start of the next; a sliding window refuses the
//! second burst. Refused requests are not counted (they were not served), so a client that waits
//! for `Retry-After` gets through.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use sailpoint_isc_api::ApiVersion;

use crate::config::RateLimit;

/// Remembers when each `(client id, API version)` was served, for the last window.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: Option<RateLimit>,
    served: Mutex<HashMap<(String, ApiVersion), VecDeque<Instant>>>,
}

impl RateLimiter {
    pub(crate) fn new(limit: Option<RateLimit>) -> Self {
        Self {
            limit,
            served: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request now. `Err(secs)` means it is over the limit and may be retried in
    /// `secs` seconds (rounded up, at least 1).
    pub(crate) fn check(&self, client_id: &str, version: ApiVersion) -> Result<(), u64> {
        self.check_at(client_id, version, Instant::now())
    }

    /// [`check`](Self::check) at a given instant (instants must not go backwards per key).
    pub(crate) fn check_at(
        &self,
        client_id: &str,
        version: ApiVersion,
        now: Instant,
    ) -> Result<(), u64> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let mut served = self.served.lock().unwrap_or_else(|e| e.into_inner());
        let log = served.entry((client_id.to_owned(), version)).or_default();
        // A request served at `t` stops counting once `now - t >= window`.
        while log
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= limit.window)
        {
            log.pop_front();
        }
        let max = usize::try_from(limit.max_requests).unwrap_or(usize::MAX);
        if log.len() >= max {
            // The oldest counted request leaves the window at `oldest + window`.
            let oldest = *log.front().expect("max_requests is at least 1");
            let remaining = (oldest + limit.window).saturating_duration_since(now);
            let secs = remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0);
            return Err(secs.max(1));
        }
        log.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn versions() -> (ApiVersion, ApiVersion) {
        let mut all = ApiVersion::all();
        (all.next().unwrap(), all.next().unwrap())
    }

    #[test]
    fn limits_per_client_and_version() {
        let (a_version, b_version) = versions();
        let rl = RateLimiter::new(Some(RateLimit {
            max_requests: 2,
            window: Duration::from_secs(10),
        }));
        assert!(rl.check("a", a_version).is_ok());
        assert!(rl.check("a", a_version).is_ok());
        let retry = rl.check("a", a_version).unwrap_err();
        assert!((1..=10).contains(&retry), "retry after {retry}");
        assert!(rl.check("a", b_version).is_ok());
        assert!(rl.check("b", a_version).is_ok());
    }

    #[test]
    fn a_burst_across_a_window_edge_is_refused() {
        let (v, _) = versions();
        let window = Duration::from_secs(10);
        let rl = RateLimiter::new(Some(RateLimit {
            max_requests: 100,
            window,
        }));
        let t0 = Instant::now();
        // 100 requests just before a fixed window's edge (9.9 s after the first request)...
        assert!(rl.check_at("a", v, t0).is_ok());
        let late = t0 + Duration::from_millis(9_900);
        for _ in 0..99 {
            assert!(rl.check_at("a", v, late).is_ok());
        }
        // ...then a burst just after it. A fixed window would have reset at t0 + 10 s and
        // allowed 100 more; the sliding window frees only the one request from t0.
        let after_edge = t0 + Duration::from_millis(10_100);
        assert!(rl.check_at("a", v, after_edge).is_ok());
        let retry = rl.check_at("a", v, after_edge).unwrap_err();
        // The 99 requests from 9.9 s leave the window at 19.9 s: 9.8 s from now, rounded up.
        assert_eq!(retry, 10);
        assert!(
            rl.check_at("a", v, t0 + Duration::from_millis(19_899))
                .is_err()
        );
        assert!(
            rl.check_at("a", v, t0 + Duration::from_millis(19_900))
                .is_ok()
        );
    }

    #[test]
    fn no_window_ever_holds_more_than_the_limit() {
        let (v, _) = versions();
        let window = Duration::from_millis(1_000);
        let rl = RateLimiter::new(Some(RateLimit {
            max_requests: 5,
            window,
        }));
        let t0 = Instant::now();
        // One attempt every 37 ms for 5 s; record what was served.
        let mut served = Vec::new();
        for i in 0..135u64 {
            let t = t0 + Duration::from_millis(37 * i);
            if rl.check_at("a", v, t).is_ok() {
                served.push(t);
            }
        }
        assert!(served.len() >= 20, "served {}", served.len());
        for (i, &start) in served.iter().enumerate() {
            let in_window = served[i..]
                .iter()
                .take_while(|&&t| t.duration_since(start) < window)
                .count();
            assert!(in_window <= 5, "{in_window} requests in one window");
        }
    }

    #[test]
    fn refused_requests_do_not_count() {
        let (v, _) = versions();
        let rl = RateLimiter::new(Some(RateLimit {
            max_requests: 1,
            window: Duration::from_millis(20),
        }));
        let t0 = Instant::now();
        assert!(rl.check_at("a", v, t0).is_ok());
        for ms in 1..20 {
            assert_eq!(rl.check_at("a", v, t0 + Duration::from_millis(ms)), Err(1));
        }
        assert!(rl.check_at("a", v, t0 + Duration::from_millis(20)).is_ok());
    }

    #[test]
    fn disabled_never_limits() {
        let (v, _) = versions();
        let rl = RateLimiter::new(None);
        for _ in 0..1000 {
            assert!(rl.check("a", v).is_ok());
        }
    }
}

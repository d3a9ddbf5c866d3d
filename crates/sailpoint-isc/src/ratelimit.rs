//! The client-side rate limiter: ISC allows 100 requests per 10 seconds per client id and API
//! version, and this keeps every client below that before the server has to say 429.
//!
//! It is a **sliding-window log**: it remembers when each of the last `max_requests` requests
//! was sent, per API version, and lets a request go only if fewer than `max_requests` went out in
//! the window before it. So no window anywhere on the time line holds more than the limit, while
//! an idle client may still send a whole burst at once. A token bucket (what `governor` and most
//! limiters implement) cannot give both: with a burst of `b` and a refill rate of `r`, a window
//! of length `W` can hold `b + r·W` requests, so keeping every 10 s window at 100 means either no
//! burst (`b = 1`, `r = 10/s`: the first 100 requests of a nightly batch take 10 s instead of
//! none) or half the throughput (`b = 50`, `r = 5/s`). ISC does not document its algorithm, so
//! the strict reading wins, and this small log is the one piece of hand-written plumbing for it.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use tokio::time::Instant;

/// A request budget: at most `max_requests` in any window of `per` (plain data).
///
/// ```
/// use std::time::Duration;
/// use sailpoint_isc::RateLimit;
///
/// assert_eq!(RateLimit::ISC, RateLimit::new(100, Duration::from_secs(10)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RateLimit {
    /// Requests allowed in any window.
    pub max_requests: u32,
    /// The window's length.
    pub per: Duration,
}

impl RateLimit {
    /// ISC's documented limit: 100 requests per 10 s per client id and API version.
    pub const ISC: RateLimit = RateLimit {
        max_requests: 100,
        per: Duration::from_secs(10),
    };

    /// `max_requests` per `per` (at least one request per window).
    pub const fn new(max_requests: u32, per: Duration) -> Self {
        RateLimit {
            max_requests: if max_requests == 0 { 1 } else { max_requests },
            per,
        }
    }

    /// The window actually kept: `per` plus a margin of 1 % (at least 50 ms), so requests that
    /// leave exactly `per` apart cannot arrive closer together than that after uneven latency.
    /// Saturates: a `per` near [`Duration::MAX`] means a window that never ends.
    fn guarded_window(self) -> Duration {
        self.per
            .saturating_add((self.per / 100).max(Duration::from_millis(50)))
    }

    /// Requests allowed per window, at least one (the field is public, so it may hold zero).
    fn allowed(self) -> usize {
        usize::try_from(self.max_requests.max(1)).unwrap_or(usize::MAX)
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::ISC
    }
}

/// A client-side rate limiter: one sliding window per API version. Cheap to clone; clones share
/// the windows. Every clone of a [`Client`](crate::Client) shares its limiter, and clients built
/// for the same tenant and client id share one by default
/// ([`ClientBuilder::rate_limit`](crate::ClientBuilder::rate_limit)); pass one explicitly with
/// [`ClientBuilder::rate_limiter`](crate::ClientBuilder::rate_limiter).
///
/// ```
/// use std::time::Duration;
/// use sailpoint_isc::{RateLimit, RateLimiter};
///
/// # async fn demo() {
/// let limiter = RateLimiter::new(RateLimit::new(2, Duration::from_millis(200)));
/// limiter.acquire("v1").await;
/// limiter.acquire("v1").await;
/// assert!(!limiter.try_acquire("v1"), "a third request must wait for the window");
/// assert!(limiter.try_acquire("v2026"), "other versions have their own window");
/// # }
/// ```
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<LimiterInner>,
}

struct LimiterInner {
    limit: RateLimit,
    /// Send times per family (an API version: a handful, so a short list beats hashing the
    /// name on every request).
    windows: Mutex<Vec<(String, VecDeque<Instant>)>>,
    waits: AtomicU64,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limit", &self.inner.limit)
            .field("waits", &self.waits())
            .finish()
    }
}

/// Limiters shared by clients of the same tenant and client id (weakly held: a limiter lives as
/// long as a client uses it).
fn registry() -> &'static Mutex<HashMap<String, Weak<LimiterInner>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Weak<LimiterInner>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

impl RateLimiter {
    /// A limiter of its own.
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            inner: Arc::new(LimiterInner {
                limit,
                windows: Mutex::new(Vec::new()),
                waits: AtomicU64::new(0),
            }),
        }
    }

    /// The process-wide limiter for `key` (the SDK uses the tenant URL and the client id) with
    /// this limit, created on first use.
    pub(crate) fn shared(key: &str, limit: RateLimit) -> Self {
        let key = format!("{key}|{}|{}", limit.max_requests, limit.per.as_nanos());
        let mut registry = registry().lock().unwrap_or_else(|e| e.into_inner());
        registry.retain(|_, weak| weak.strong_count() > 0);
        if let Some(inner) = registry.get(&key).and_then(Weak::upgrade) {
            return RateLimiter { inner };
        }
        let limiter = RateLimiter::new(limit);
        registry.insert(key, Arc::downgrade(&limiter.inner));
        limiter
    }

    /// The limit kept.
    pub fn limit(&self) -> RateLimit {
        self.inner.limit
    }

    /// How many requests had to wait for the window so far.
    pub fn waits(&self) -> u64 {
        self.inner.waits.load(Ordering::Relaxed)
    }

    /// True if both handles share one set of windows.
    pub fn same_as(&self, other: &RateLimiter) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Takes a slot for one request of `family` (an API version name) now, or says when the
    /// next slot frees up (`None`: not within any time an `Instant` can hold, as with a window of
    /// [`Duration::MAX`]).
    fn take(&self, family: &str, now: Instant) -> Result<(), Option<Instant>> {
        let window = self.inner.limit.guarded_window();
        let max = self.inner.limit.allowed();
        let mut windows = self.inner.windows.lock().unwrap_or_else(|e| e.into_inner());
        let index = match windows.iter().position(|(name, _)| name == family) {
            Some(index) => index,
            None => {
                windows.push((family.to_owned(), VecDeque::new()));
                windows.len() - 1
            }
        };
        let sent = &mut windows[index].1;
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            sent.pop_front();
        }
        if sent.len() < max {
            sent.push_back(now);
            Ok(())
        } else {
            Err(sent[sent.len() - max].checked_add(window))
        }
    }

    /// Waits until a request of `family` may go, and counts it.
    pub async fn acquire(&self, family: &str) {
        let mut waited = false;
        loop {
            match self.take(family, Instant::now()) {
                Ok(()) => return,
                Err(free_at) => {
                    if !waited {
                        waited = true;
                        self.inner.waits.fetch_add(1, Ordering::Relaxed);
                        let wait = free_at.map_or(Duration::MAX, |at| {
                            at.saturating_duration_since(Instant::now())
                        });
                        tracing::debug!(
                            api_version = family,
                            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                            "client-side rate limit: waiting for the window"
                        );
                    }
                    match free_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        // Practically forever; the timer saturates, then the window is checked
                        // again.
                        None => tokio::time::sleep(Duration::MAX).await,
                    }
                }
            }
        }
    }

    /// Counts a request of `family` if one may go now; false (and nothing counted) otherwise.
    pub fn try_acquire(&self, family: &str) -> bool {
        self.take(family, Instant::now()).is_ok()
    }

    /// How many requests of `family` could go right now.
    pub fn available(&self, family: &str) -> u32 {
        let window = self.inner.limit.guarded_window();
        let now = Instant::now();
        let windows = self.inner.windows.lock().unwrap_or_else(|e| e.into_inner());
        let used = windows
            .iter()
            .find(|(name, _)| name == family)
            .map_or(0, |(_, sent)| {
                sent.iter()
                    .filter(|t| now.duration_since(**t) < window)
                    .count()
            });
        let allowed = self.inner.limit.allowed();
        u32::try_from(allowed.saturating_sub(used)).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every window of `per` over the send times holds at most `max` requests, and a burst of
    /// `max` from idle goes at once.
    #[tokio::test(start_paused = true)]
    async fn no_sliding_window_exceeds_the_limit_and_bursts_are_allowed() {
        let limit = RateLimit::new(10, Duration::from_secs(1));
        let limiter = RateLimiter::new(limit);
        let start = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..35 {
            limiter.acquire("v1").await;
            sent.push(Instant::now());
        }
        // The first ten at once (a burst from idle).
        assert!(sent[..10].iter().all(|t| *t == start));
        for (i, t) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .take_while(|u| u.duration_since(*t) < limit.per)
                .count();
            assert!(in_window <= 10, "{in_window} requests within 1 s from #{i}");
        }
        // 35 requests need three more windows (plus margins), not more.
        let took = sent[34].duration_since(start);
        assert!(
            took >= Duration::from_secs(3) && took < Duration::from_millis(3300),
            "{took:?}"
        );
        // One wait per window: the 11th, 21st and 31st request.
        assert_eq!(limiter.waits(), 3);
    }

    /// What a token bucket with a burst of 10 refilling at 10/s would allow: 10 at once, then one
    /// every 100 ms, so 19 within the first second. The log refuses the 11th.
    #[tokio::test(start_paused = true)]
    async fn a_burst_then_steady_traffic_stays_within_one_window() {
        let limiter = RateLimiter::new(RateLimit::new(10, Duration::from_secs(1)));
        for _ in 0..10 {
            assert!(limiter.try_acquire("beta"));
        }
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(!limiter.try_acquire("beta"));
        assert_eq!(limiter.available("beta"), 0);
        tokio::time::advance(Duration::from_millis(560)).await;
        assert_eq!(limiter.available("beta"), 10);
    }

    #[test]
    fn clients_of_one_tenant_and_client_id_share_a_limiter() {
        let a = RateLimiter::shared("https://acme|id-1", RateLimit::ISC);
        let b = RateLimiter::shared("https://acme|id-1", RateLimit::ISC);
        let c = RateLimiter::shared("https://acme|id-2", RateLimit::ISC);
        assert!(a.same_as(&b));
        assert!(!a.same_as(&c));
        drop((a, b));
        let d = RateLimiter::shared("https://acme|id-1", RateLimit::ISC);
        assert!(!d.same_as(&c));
    }
}

//! Retry policy as plain data, a pure failure classification, and `Retry-After` parsing.
//!
//! Three separate pieces decide what happens after a failed attempt:
//!
//! 1. `FailureKind`: *what* went wrong, derived from the HTTP status or the transport error.
//! 2. `decide`: a pure function of the operation's kind and the failure. Starting an aggregation
//!    is *not* idempotent, so it is only retried when the request provably did not start one
//!    (429, or a failure before the request was sent).
//! 3. [`RetryConfig`]: *when* to retry: number of attempts, full-jitter exponential backoff and
//!    the cap on server-requested waits (`Retry-After`). The total deadline is a timeout, in
//!    [`TimeoutConfig`](crate::TimeoutConfig).
//!
//! Only `RetryConfig` is public: the classification is the SDK's promise (documented on
//! [`RetryConfig`]), not an extension point.

use std::time::{Duration, SystemTime};

/// How failed requests are retried. Plain data: build it with [`RetryConfig::standard`] or
/// [`RetryConfig::disabled`] and adjust with the `with_*` methods or the public fields.
///
/// What is retried, by what went wrong:
///
/// | failure | reads (status, task status, sources, tokens) | starting an aggregation |
/// |---|---|---|
/// | 429 | retry | retry |
/// | not sent (connect, DNS, TLS) | retry | retry |
/// | 401 | refresh the token, resend once | refresh the token, resend once |
/// | 500, 502, 503, 504 | retry | outcome unknown (looked up in task status, never resent) |
/// | other 5xx | give up | outcome unknown |
/// | timeout or connection lost after sending | retry | outcome unknown |
/// | other 4xx, undecodable body | give up | give up |
///
/// ```
/// use std::time::Duration;
/// use sailpoint_isc::RetryConfig;
///
/// let retry = RetryConfig::standard()
///     .with_max_attempts(6)
///     .with_backoff(Duration::from_millis(200), Duration::from_secs(5))
///     .with_max_retry_after(Duration::from_secs(30));
/// assert_eq!(retry.max_attempts, 6);
/// assert_eq!(RetryConfig::disabled().max_attempts, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Attempts in total, the first one included. `1` disables retries.
    pub max_attempts: u32,
    /// The backoff ceiling of the first retry; it doubles per retry up to `max_backoff`. The actual
    /// wait is drawn uniformly from zero to that ceiling ("full jitter").
    pub initial_backoff: Duration,
    /// The largest backoff ceiling.
    pub max_backoff: Duration,
    /// The longest wait honoured from a `Retry-After` header; longer values are capped to this.
    pub max_retry_after: Duration,
}

impl RetryConfig {
    /// The defaults: 4 attempts, backoff from 1 s doubling to at most 20 s, `Retry-After` honoured up
    /// to 60 s.
    pub fn standard() -> Self {
        RetryConfig {
            max_attempts: 4,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
        }
    }

    /// No retries: every request is sent once. (A 401 still triggers one token refresh and resend,
    /// which is authentication, not retrying.)
    pub fn disabled() -> Self {
        RetryConfig {
            max_attempts: 1,
            ..Self::standard()
        }
    }

    /// Sets the number of attempts in total, the first one included (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first backoff ceiling and the largest one.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Sets the cap on waits requested by `Retry-After`.
    pub fn with_max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self
    }

    /// The backoff ceiling before retry number `retry` (1 for the first retry):
    /// `min(max_backoff, initial_backoff * 2^(retry-1))`.
    pub(crate) fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1).min(30));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// A full-jitter backoff before retry number `retry`: uniform in `[0, backoff_ceiling(retry)]`.
    pub(crate) fn jittered_backoff(&self, retry: u32) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        // The fraction is below 1, so only float rounding near `Duration::MAX` could overflow.
        Duration::try_from_secs_f64(ceiling.as_secs_f64() * fastrand::f64())
            .map_or(ceiling, |wait| wait.min(ceiling))
    }

    /// The wait before retry number `retry`: the server's `Retry-After` (capped at
    /// `max_retry_after`) when there is one, otherwise [`jittered_backoff`](Self::jittered_backoff).
    pub(crate) fn wait_before_retry(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(server_wait) => server_wait.min(self.max_retry_after),
            None => self.jittered_backoff(retry),
        }
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self::standard()
    }
}

/// What kind of request an attempt belongs to, which decides what is safe to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum OperationKind {
    /// A read without side effects (status poll, token request): retried on 429, 500/502/503/504,
    /// timeouts and connection errors.
    Read,
    /// `POST .../load-accounts`: starts an aggregation, so it is retried only when the request
    /// provably did not start one.
    StartAggregation,
}

/// What went wrong with one attempt, reduced to what matters for the retry decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub(crate) enum FailureKind {
    /// HTTP 429 Too Many Requests.
    RateLimited,
    /// HTTP 401: the token was missing, expired or revoked.
    Unauthorized,
    /// HTTP 5xx, with the status code.
    Server(u16),
    /// Any other HTTP 4xx (or unexpected non-success status), with the status code.
    Client(u16),
    /// The request never reached the server: connection refused, DNS or TLS failure, connect timeout.
    NotSent,
    /// The request was sent (at least partly) but no response arrived in time.
    TimedOut,
    /// The connection broke after the request was sent, or the response body could not be read.
    ConnectionLost,
    /// A response arrived but its body could not be decoded.
    Undecodable,
}

impl FailureKind {
    /// Classifies an HTTP error status.
    pub(crate) fn from_status(status: u16) -> Self {
        match status {
            429 => FailureKind::RateLimited,
            401 => FailureKind::Unauthorized,
            500..=599 => FailureKind::Server(status),
            other => FailureKind::Client(other),
        }
    }

    /// Classifies a transport error. Connect-phase failures (`is_connect()`: refused, DNS, TLS,
    /// connect timeout) are [`NotSent`](FailureKind::NotSent); they are checked before timeouts.
    pub(crate) fn from_transport(error: &reqwest::Error) -> Self {
        if error.is_connect() {
            FailureKind::NotSent
        } else if error.is_timeout() {
            FailureKind::TimedOut
        } else if error.is_builder() {
            FailureKind::NotSent
        } else {
            FailureKind::ConnectionLost
        }
    }
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum RetryDecision {
    /// Safe and useful to try again (after the configured wait).
    Retry,
    /// Refresh the access token and resend once (a 401).
    RefreshCredentials,
    /// Give up: the failure is permanent or retrying would not help.
    DoNotRetry,
    /// Give up, and tell the caller the request may have taken effect (an aggregation may have
    /// started). Only for [`OperationKind::StartAggregation`].
    OutcomeUnknown,
}

/// Decides, as a pure function, whether an attempt that failed with `failure` may be retried.
///
/// | failure | `Read` | `StartAggregation` |
/// |---|---|---|
/// | 429 | retry | retry |
/// | not sent (connect, DNS, TLS) | retry | retry |
/// | 401 | refresh token, resend once | refresh token, resend once |
/// | 500, 502, 503, 504 | retry | outcome unknown |
/// | other 5xx | give up | outcome unknown |
/// | timeout / connection lost after sending | retry | outcome unknown |
/// | other 4xx, undecodable body | give up | give up |
pub(crate) fn decide(operation: OperationKind, failure: FailureKind) -> RetryDecision {
    use FailureKind as F;
    use OperationKind as Op;
    match (operation, failure) {
        (_, F::RateLimited | F::NotSent) => RetryDecision::Retry,
        (_, F::Unauthorized) => RetryDecision::RefreshCredentials,
        (_, F::Client(_) | F::Undecodable) => RetryDecision::DoNotRetry,
        (Op::Read, F::Server(500 | 502 | 503 | 504)) => RetryDecision::Retry,
        (Op::Read, F::Server(_)) => RetryDecision::DoNotRetry,
        (Op::Read, F::TimedOut | F::ConnectionLost) => RetryDecision::Retry,
        (Op::StartAggregation, F::Server(_) | F::TimedOut | F::ConnectionLost) => {
            RetryDecision::OutcomeUnknown
        }
    }
}

/// Parses a `Retry-After` value: delay-seconds (`"120"`) or an HTTP-date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`, also the obsolete RFC 850 and asctime forms, parsed by
/// `httpdate`), relative to `now`. A date in the past yields zero; garbage yields `None`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    if let Ok(seconds) = value.parse::<f64>() {
        // Not standard, but some gateways send fractional seconds.
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(1e9)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Counts retries of one operation and enforces `max_attempts`. (Whether a wait fits the
/// deadline is the deadline clock's question, `crate::deadline::DeadlineClock::allows`.)
#[derive(Debug)]
pub(crate) struct RetryBudget<'a> {
    config: &'a RetryConfig,
    retries: u32,
}

impl<'a> RetryBudget<'a> {
    pub(crate) fn new(config: &'a RetryConfig) -> Self {
        RetryBudget { config, retries: 0 }
    }

    /// The wait before the next retry, or `None` when the attempts are used up.
    pub(crate) fn next_wait(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        if self.retries.saturating_add(1) >= self.config.max_attempts {
            return None;
        }
        let wait = self
            .config
            .wait_before_retry(self.retries.saturating_add(1), retry_after);
        self.retries += 1;
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::DeadlineClock;
    use std::time::UNIX_EPOCH;

    #[test]
    fn status_classification() {
        assert_eq!(FailureKind::from_status(429), FailureKind::RateLimited);
        assert_eq!(FailureKind::from_status(401), FailureKind::Unauthorized);
        assert_eq!(FailureKind::from_status(502), FailureKind::Server(502));
        assert_eq!(FailureKind::from_status(404), FailureKind::Client(404));
    }

    #[test]
    fn decision_table() {
        use FailureKind as F;
        use OperationKind::*;
        use RetryDecision::*;
        let cases = [
            (Read, F::RateLimited, Retry),
            (StartAggregation, F::RateLimited, Retry),
            (Read, F::NotSent, Retry),
            (StartAggregation, F::NotSent, Retry),
            (Read, F::Unauthorized, RefreshCredentials),
            (StartAggregation, F::Unauthorized, RefreshCredentials),
            (Read, F::Server(500), Retry),
            (Read, F::Server(502), Retry),
            (Read, F::Server(503), Retry),
            (Read, F::Server(504), Retry),
            (Read, F::Server(501), DoNotRetry),
            (StartAggregation, F::Server(500), OutcomeUnknown),
            (StartAggregation, F::Server(503), OutcomeUnknown),
            (StartAggregation, F::Server(501), OutcomeUnknown),
            (Read, F::TimedOut, Retry),
            (Read, F::ConnectionLost, Retry),
            (StartAggregation, F::TimedOut, OutcomeUnknown),
            (StartAggregation, F::ConnectionLost, OutcomeUnknown),
            (Read, F::Client(400), DoNotRetry),
            (StartAggregation, F::Client(404), DoNotRetry),
            (Read, F::Undecodable, DoNotRetry),
            (StartAggregation, F::Undecodable, DoNotRetry),
        ];
        for (op, failure, expected) in cases {
            assert_eq!(decide(op, failure), expected, "{op:?} {failure:?}");
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_470);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:00 2015", now),
            Some(Duration::from_secs(10))
        );
        // In the past: retry now.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("tomorrow", now), None);
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let c =
            RetryConfig::standard().with_backoff(Duration::from_secs(1), Duration::from_secs(5));
        assert_eq!(c.backoff_ceiling(1), Duration::from_secs(1));
        assert_eq!(c.backoff_ceiling(2), Duration::from_secs(2));
        assert_eq!(c.backoff_ceiling(3), Duration::from_secs(4));
        assert_eq!(c.backoff_ceiling(4), Duration::from_secs(5));
        assert_eq!(c.backoff_ceiling(400), Duration::from_secs(5));
        for retry in 1..10 {
            assert!(c.jittered_backoff(retry) <= c.backoff_ceiling(retry));
        }
        assert_eq!(
            c.wait_before_retry(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(60)
        );
        assert_eq!(
            c.wait_before_retry(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn budget_counts_attempts_and_deadline() {
        let c = RetryConfig::standard()
            .with_max_attempts(3)
            .with_backoff(Duration::ZERO, Duration::ZERO);
        let mut b = RetryBudget::new(&c);
        assert!(b.next_wait(None).is_some());
        assert!(b.next_wait(None).is_some());
        assert!(b.next_wait(None).is_none());

        // A wait past the deadline is not taken (the executor and the token fetch ask both).
        let c = RetryConfig::standard();
        let mut b = RetryBudget::new(&c);
        let clock = DeadlineClock::new(Some(Duration::from_secs(1)), None);
        assert!(
            b.next_wait(Some(Duration::from_secs(5)))
                .filter(|w| clock.allows(*w))
                .is_none()
        );

        let disabled = RetryConfig::disabled();
        let mut b = RetryBudget::new(&disabled);
        assert!(b.next_wait(None).is_none());
    }

    /// A server wait of `u64::MAX` seconds, honoured up to `Duration::MAX`: past any deadline,
    /// not an overflow.
    #[test]
    fn budget_saturates_on_the_longest_waits() {
        let c = RetryConfig::standard()
            .with_max_retry_after(Duration::MAX)
            .with_backoff(Duration::MAX, Duration::MAX);
        for retry_after in [
            Some(Duration::from_secs(u64::MAX)),
            Some(Duration::MAX),
            None,
        ] {
            let mut b = RetryBudget::new(&c);
            let clock = DeadlineClock::new(Some(Duration::from_secs(3600)), None);
            assert_eq!(
                b.next_wait(retry_after).filter(|w| clock.allows(*w)),
                None,
                "{retry_after:?}"
            );
        }
        for retry in [1, 2, 64, u32::MAX] {
            assert!(c.jittered_backoff(retry) <= Duration::MAX);
            assert_eq!(c.backoff_ceiling(retry), Duration::MAX);
        }
    }
}

//! No public configuration value makes the SDK panic: durations up to `Duration::MAX` mean
//! "practically forever", multipliers that are not finite numbers count as 1.0, and the arithmetic
//! on them saturates. Each property also checks an invariant where the type has one.
//!
//! Sleeps run on a paused clock (the runtime jumps to the next timer when idle), so schedules of
//! years take no real time. The HTTP server is a mock on its own thread; the clients talk to it
//! without timers of their own while a request is in flight, so the paused clock only moves while
//! the SDK sleeps.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use httpmock::prelude::*;
use proptest::prelude::*;
use sailpoint_isc::{
    Client, ClientBuilder, Error, OutcomeResolution, PollSchedule, RateLimit, RateLimiter,
    RetryConfig, TimeoutConfig,
};
use serde_json::json;
use tokio::time::Instant;

/// Where `tokio` puts a sleep too long for its clock: 30 years from now.
const TOKIO_FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);
/// The aggregation whose status is always `STARTED`.
const RUNNING_TASK: &str = "ef38f94347e94562b5bb8424a56397d8";

/// One mock server for the whole file (each test uses its own paths).
fn server() -> &'static MockServer {
    static SERVER: OnceLock<MockServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let server = MockServer::start();
        server.mock(|when, then| {
            when.method(GET).path_includes(RUNNING_TASK);
            then.status(200).json_body(json!({"status": "STARTED"}));
        });
        server
    })
}

/// Runs `future` to completion on a fresh single-threaded runtime with a paused clock.
fn paused<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime")
        .block_on(future)
}

/// A builder for the mock server with a fixed token, no retries, no client-side rate limit, no
/// total deadline and an HTTP client without timers, so a request in flight never lets the paused
/// clock move.
fn quiet_builder() -> ClientBuilder {
    let http = reqwest::Client::builder()
        .pool_idle_timeout(None)
        .pool_max_idle_per_host(0)
        .build()
        .expect("http client");
    Client::builder()
        .base_url(server().base_url())
        .access_token("tok-no-panics")
        .http_client(http)
        .retry(RetryConfig::disabled())
        .timeouts(TimeoutConfig::standard().with_total_deadline(None))
        .outcome_resolution(OutcomeResolution::disabled())
        .no_rate_limit()
}

/// Any duration: zero, `Duration::MAX`, short ones, long ones and anything in between.
fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        Just(Duration::new(u64::MAX, 0)),
        (0u64..=10_000_000_000).prop_map(Duration::from_nanos),
        (0u64..=86_400 * 366 * 100).prop_map(Duration::from_secs),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
    ]
}

/// Any multiplier, the special values included.
fn any_multiplier() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(-1.0),
        Just(0.0),
        Just(1.0),
        0.0f64..100.0,
        any::<f64>(),
    ]
}

/// A schedule with every public field arbitrary, set either directly or through the builders.
fn any_schedule() -> impl Strategy<Value = PollSchedule> {
    (
        any_duration(),
        any_multiplier(),
        any_duration(),
        any_duration(),
        any::<bool>(),
        any_duration(),
        any::<bool>(),
    )
        .prop_map(
            |(initial, multiplier, max, min, predict, max_wait, by_fields)| {
                if by_fields {
                    let mut s = PollSchedule::standard();
                    s.initial_delay = initial;
                    s.multiplier = multiplier;
                    s.max_delay = max;
                    s.min_delay = min;
                    s.predict_completion = predict;
                    s.max_wait = max_wait;
                    s
                } else {
                    PollSchedule::fixed(initial)
                        .with_multiplier(multiplier)
                        .with_delay_bounds(min, max)
                        .with_prediction(predict)
                        .with_max_wait(max_wait)
                }
            },
        )
}

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        // The SDK under test is deterministic; no need to persist failures to files.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(64))]

    /// Any schedule polls without panicking, and every delay after the first poll lies between
    /// `min_delay` and `max(max_delay, min_delay)` (sleeps longer than the clock can represent
    /// end at tokio's far future instead, and the timer rounds up to the millisecond).
    #[test]
    fn any_poll_schedule_keeps_its_delays_within_bounds(schedule in any_schedule()) {
        let client = quiet_builder().poll_schedule(schedule.clone()).build().expect("client");
        let polled = paused(async {
            let stream = client
                .wait_for_aggregation(RUNNING_TASK)
                .max_wait(Duration::MAX)
                .into_stream();
            futures_util::pin_mut!(stream);
            let mut at = Vec::new();
            while let Some(item) = stream.next().await {
                let progress = item.expect("a STARTED status");
                at.push(Instant::now());
                if progress.polls == 5 {
                    break;
                }
            }
            at
        });
        prop_assert_eq!(polled.len(), 5);
        let floor = schedule.min_delay.min(TOKIO_FAR_FUTURE);
        let ceiling = schedule
            .max_delay
            .max(schedule.min_delay)
            .saturating_add(Duration::from_millis(1));
        for pair in polled.windows(2) {
            let interval = pair[1] - pair[0];
            prop_assert!(interval >= floor, "{interval:?} < {floor:?} for {schedule:?}");
            prop_assert!(interval <= ceiling, "{interval:?} > {ceiling:?} for {schedule:?}");
        }
    }

    /// Any maximum wait computes a deadline without panicking: none passes before the first
    /// poll, a zero wait ends after it with `WaitTimeout`, and a long one (an hour or more) keeps
    /// waiting.
    #[test]
    fn any_max_wait_is_a_deadline_or_none(max_wait in any_duration(), through_schedule in any::<bool>()) {
        let mut schedule = PollSchedule::fixed(Duration::ZERO);
        if through_schedule {
            schedule = schedule.with_max_wait(max_wait);
        }
        let client = quiet_builder().poll_schedule(schedule).build().expect("client");
        let items = paused(async {
            let mut waiter = client.wait_for_aggregation(RUNNING_TASK);
            if !through_schedule {
                waiter = waiter.max_wait(max_wait);
            }
            waiter.into_stream().take(3).collect::<Vec<_>>().await
        });
        prop_assert!(!items.is_empty());
        prop_assert!(items[0].is_ok(), "{:?}", items[0]);
        if max_wait.is_zero() {
            prop_assert_eq!(items.len(), 2);
            prop_assert!(matches!(items[1], Err(Error::WaitTimeout { .. })), "{:?}", items[1]);
        }
        if max_wait >= Duration::from_secs(3600) {
            prop_assert_eq!(items.len(), 3);
            prop_assert!(items.iter().all(Result::is_ok), "{items:?}");
        }
    }

    /// Any retry configuration (fields or builders), any `Retry-After` and any total deadline:
    /// a status request the server keeps refusing with 429 ends in an error, after at most
    /// `max_attempts` attempts (at least one).
    #[test]
    fn any_retry_config_ends_within_its_attempts(
        retry in any_retry_config(),
        retry_after in any_retry_after(),
        total in proptest::option::of(any_duration()),
    ) {
        refused_429(server(), &retry, &retry_after, total, false)?;
    }

    /// The same for the token request, whose retries also weigh each wait against the total
    /// deadline: on the real clock (the deadline is kept short), since a paused one would end a
    /// request in flight at the deadline before any retry is considered.
    #[test]
    fn any_retry_config_ends_token_requests_by_the_deadline(
        retry in any_retry_config(),
        retry_after in any_retry_after(),
        total_ms in 0u64..=50,
    ) {
        refused_429(
            token_server(),
            &retry,
            &retry_after,
            Some(Duration::from_millis(total_ms)),
            true,
        )?;
    }
}

/// Any retry configuration, by fields or builders; at most 4 attempts, so a case stays short.
fn any_retry_config() -> impl Strategy<Value = RetryConfig> {
    (
        0u32..=4,
        any_duration(),
        any_duration(),
        any_duration(),
        any::<bool>(),
    )
        .prop_map(|(attempts, initial, max, cap, by_fields)| {
            if by_fields {
                let mut r = RetryConfig::standard();
                r.max_attempts = attempts;
                r.initial_backoff = initial;
                r.max_backoff = max;
                r.max_retry_after = cap;
                r
            } else {
                RetryConfig::disabled()
                    .with_max_attempts(attempts)
                    .with_backoff(initial, max)
                    .with_max_retry_after(cap)
            }
        })
}

/// `Retry-After` values: none, huge, fractional, dates past and far ahead, and garbage.
fn any_retry_after() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("18446744073709551615".to_owned()),
        Just("99999999999999999999999".to_owned()),
        Just("1e300".to_owned()),
        Just("0.5".to_owned()),
        Just("Wed, 21 Oct 2015 07:28:00 GMT".to_owned()),
        Just("Fri, 31 Dec 9999 23:59:59 GMT".to_owned()),
        any::<u64>().prop_map(|n| n.to_string()),
        "[0-9a-zA-Z ,:.-]{0,30}",
    ]
}

/// A second mock server, for the token request (its path is fixed, so cases take turns).
fn token_server() -> &'static MockServer {
    static SERVER: OnceLock<MockServer> = OnceLock::new();
    SERVER.get_or_init(MockServer::start)
}

/// Sends one status request (after a token request, with `via_token`) to `server`, which
/// answers 429 with `retry_after`, and checks that it fails after at most `max_attempts`
/// attempts. The status request runs on the paused clock, the token request on the real one.
fn refused_429(
    server: &MockServer,
    retry: &RetryConfig,
    retry_after: &str,
    total: Option<Duration>,
    via_token: bool,
) -> Result<(), TestCaseError> {
    static CASE: AtomicU64 = AtomicU64::new(0);
    let task = format!("retry{:026x}", CASE.fetch_add(1, Ordering::Relaxed));
    let mut mock = server.mock(|when, then| {
        if via_token {
            when.method(POST).path("/oauth/token");
        } else {
            when.method(GET).path_includes(task.as_str());
        }
        let then = then
            .status(429)
            .json_body(json!({"detailCode": "429 Too Many Requests"}));
        if !retry_after.is_empty() {
            then.header("Retry-After", retry_after);
        }
    });
    let mut builder = quiet_builder().base_url(server.base_url());
    if via_token {
        builder = builder.client_credentials("client-no-panics", "secret-no-panics");
    }
    let client = builder
        .retry(retry.clone())
        .timeouts(TimeoutConfig::standard().with_total_deadline(total))
        .build()
        .expect("client");
    prop_assert_eq!(client.retry_config(), retry);
    let request = client.aggregation_status(task.as_str()).send();
    let result = if via_token {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(request)
    } else {
        paused(request)
    };
    mock.delete();
    let error = result.expect_err("429 every time");
    prop_assert!(
        error.attempts() <= retry.max_attempts.max(1),
        "{} attempts with {retry:?}: {error}",
        error.attempts()
    );
    Ok(())
}

/// What a step of the rate-limit simulation does.
#[derive(Debug, Clone)]
enum Step {
    /// Lets this much time pass.
    Advance(Duration),
    /// `try_acquire` this many times in a row.
    Try(u16),
    /// `acquire`, giving up after this long.
    Acquire(Duration),
}

fn any_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u64..=20_000).prop_map(|ms| Step::Advance(Duration::from_millis(ms))),
        (0u64..=86_400).prop_map(|s| Step::Advance(Duration::from_secs(s))),
        (1u16..=300).prop_map(Step::Try),
        (0u64..=30_000).prop_map(|ms| Step::Acquire(Duration::from_millis(ms))),
    ]
}

proptest! {
    #![proptest_config(cases(256))]

    /// Any limit, built with `new` or by setting the public fields (zero requests included):
    /// in a short simulated sequence no window of `per` ever holds more than the limit (at least
    /// one), `available` never exceeds it, and a request goes exactly when `available` says so.
    #[test]
    fn a_rate_limiter_never_admits_more_than_its_limit(
        max_requests in prop_oneof![Just(0u32), Just(1u32), 1u32..=20, Just(u32::MAX), any::<u32>()],
        per in any_duration(),
        by_fields in any::<bool>(),
        steps in proptest::collection::vec(any_step(), 1..40),
    ) {
        let limit = if by_fields {
            let mut limit = RateLimit::ISC;
            limit.max_requests = max_requests;
            limit.per = per;
            limit
        } else {
            let limit = RateLimit::new(max_requests, per);
            assert_eq!(limit.max_requests, max_requests.max(1));
            limit
        };
        let allowed = u64::from(limit.max_requests.max(1));
        let admitted = paused(async {
            let limiter = RateLimiter::new(limit);
            assert_eq!(limiter.limit(), limit);
            assert!(limiter.clone().same_as(&limiter));
            let mut admitted: Vec<Instant> = Vec::new();
            let mut waits = 0;
            for step in &steps {
                match step {
                    Step::Advance(d) => tokio::time::advance(*d).await,
                    Step::Try(n) => {
                        for _ in 0..*n {
                            let available = limiter.available("v1");
                            assert!(u64::from(available) <= allowed, "{available} > {allowed}");
                            let went = limiter.try_acquire("v1");
                            assert_eq!(went, available > 0, "available {available}");
                            if went {
                                admitted.push(Instant::now());
                            }
                        }
                    }
                    Step::Acquire(patience) => {
                        if tokio::time::timeout(*patience, limiter.acquire("v1")).await.is_ok() {
                            admitted.push(Instant::now());
                        }
                    }
                }
                assert!(limiter.waits() >= waits);
                waits = limiter.waits();
            }
            // Other API versions keep their own window.
            assert!(limiter.try_acquire("v2026"));
            admitted
        });
        for (i, start) in admitted.iter().enumerate() {
            let in_window = admitted[i..]
                .iter()
                .take_while(|t| t.duration_since(*start) < limit.per)
                .count() as u64;
            prop_assert!(
                in_window <= allowed,
                "{in_window} requests within {:?} from #{i} with {limit:?}",
                limit.per
            );
        }
    }
}

proptest! {
    // Building a client loads the TLS roots, which takes a while: fewer cases.
    #![proptest_config(cases(32))]

    /// Any timeouts, outcome resolution, token margin, schedule, retry and rate limit: the
    /// client builds, and keeps what it was given.
    #[test]
    fn a_client_builds_with_any_configuration(
        connect in any_duration(),
        read in any_duration(),
        total in proptest::option::of(any_duration()),
        grace in any_duration(),
        poll in any_duration(),
        skew in any_duration(),
        snapshot in any::<bool>(),
        margin in any_duration(),
        schedule in any_schedule(),
        max_requests in any::<u32>(),
        per in any_duration(),
        by_fields in any::<bool>(),
    ) {
        let (timeouts, resolution) = if by_fields {
            let mut t = TimeoutConfig::standard();
            t.connect = connect;
            t.read = read;
            t.total = total;
            let mut r = OutcomeResolution::standard();
            r.grace_period = grace;
            r.poll_interval = poll;
            r.clock_skew = skew;
            r.snapshot = snapshot;
            (t, r)
        } else {
            (
                TimeoutConfig::standard()
                    .with_connect_timeout(connect)
                    .with_read_timeout(read)
                    .with_total_deadline(total),
                OutcomeResolution::disabled()
                    .with_grace_period(grace)
                    .with_poll_interval(poll)
                    .with_clock_skew(skew)
                    .with_snapshot(snapshot),
            )
        };
        let client = Client::builder()
            .access_token("tok-no-panics")
            .base_url("http://127.0.0.1:1")
            .timeouts(timeouts)
            .outcome_resolution(resolution)
            .token_refresh_margin(margin)
            .poll_schedule(schedule.clone())
            .rate_limit(RateLimit::new(max_requests, per))
            .build();
        let client = match client {
            Ok(client) => client,
            Err(e) => return Err(TestCaseError::fail(format!("build failed: {e}"))),
        };
        // NaN multipliers make the schedule unequal to itself; compare the rest.
        let kept = client.poll_schedule();
        prop_assert_eq!(kept.max_wait, schedule.max_wait);
        prop_assert_eq!(kept.multiplier.to_bits(), schedule.multiplier.to_bits());
        let limiter = client.rate_limiter().expect("a rate limiter");
        prop_assert_eq!(limiter.limit(), RateLimit::new(max_requests, per));
        let _ = format!("{client:?}");
    }
}

//! Area 1: connection-level faults on the status read and the aggregation start.
//!
//! Each scenario scripts the wire server's answers to the operation under test (then answers
//! normally), and asserts the outcome (success after retry, or exactly which typed error), how
//! many requests the server saw, that no import was processed twice, and how long it took
//! against the operation's deadline.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sailpoint_isc::{ApiVersion, Client, Error, OutcomeResolution, RetryConfig, TimeoutConfig};

use crate::hygiene;
use crate::report::{Area, Seen, ensure, secs};
use crate::wire::{Behaviour, Route, WireServer};

/// The operation a scenario exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// GET status (a read: retried on connection faults).
    Status,
    /// POST import (starts an aggregation: never resent once it may have been processed).
    Import,
}

impl Op {
    fn route(self) -> Route {
        match self {
            Op::Status => Route::Status,
            Op::Import => Route::Import,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Op::Status => "GET status",
            Op::Import => "POST import",
        }
    }
}

/// Timing of the client under test.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Read timeout of each attempt.
    pub read_timeout: Duration,
    /// After an upload's last byte, the wait for the answer.
    pub response_timeout: Duration,
    /// The retry policy.
    pub retry: RetryConfig,
    /// The total deadline of one operation.
    pub deadline: Option<Duration>,
}

impl Timing {
    /// 4 attempts, 20–100 ms backoff, Retry-After honoured up to 5 s, 6 s deadline, 500 ms read
    /// timeout.
    pub fn standard() -> Timing {
        Timing {
            read_timeout: Duration::from_millis(500),
            response_timeout: Duration::from_millis(500),
            retry: RetryConfig::standard()
                .with_max_attempts(4)
                .with_backoff(Duration::from_millis(20), Duration::from_millis(100))
                .with_max_retry_after(Duration::from_secs(5)),
            deadline: Some(Duration::from_secs(6)),
        }
    }

    fn deadline(&self) -> Duration {
        self.deadline.unwrap_or(Duration::MAX)
    }
}

/// What a scenario must end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Success (after however many retries the request count says).
    Success,
    /// This [`Error`] variant, by name.
    Error(&'static str),
}

/// One scenario.
pub struct Case {
    name: String,
    op: Op,
    script: Vec<Behaviour>,
    always: Option<Behaviour>,
    timing: Timing,
    expect: Expect,
    /// API requests (token requests excluded) the server must see, exactly.
    requests: usize,
    /// The least time the call must take (a honoured wait).
    min_elapsed: Duration,
}

impl Case {
    /// The fault answers the first request, then the server behaves.
    fn once(op: Op, what: &str, fault: Behaviour, expect: Expect, requests: usize) -> Case {
        Case {
            name: format!("{}: {what}", op.label()),
            op,
            script: vec![fault],
            always: None,
            timing: Timing::standard(),
            expect,
            requests,
            min_elapsed: Duration::ZERO,
        }
    }

    /// The fault answers every request.
    fn always(op: Op, what: &str, fault: Behaviour, expect: Expect, requests: usize) -> Case {
        Case {
            script: vec![],
            always: Some(fault),
            ..Case::once(op, what, Behaviour::Normal, expect, requests)
        }
    }
}

/// The variant name of an error, for comparisons and reports.
pub fn variant(error: &Error) -> &'static str {
    match error {
        Error::RateLimited { .. } => "RateLimited",
        Error::Unauthorized { .. } => "Unauthorized",
        Error::Forbidden { .. } => "Forbidden",
        Error::NotFound { .. } => "NotFound",
        Error::BadRequest { .. } => "BadRequest",
        Error::ExperimentalHeaderMissing { .. } => "ExperimentalHeaderMissing",
        Error::UnexpectedStatus { .. } => "UnexpectedStatus",
        Error::Server { .. } => "Server",
        Error::OutcomeUnknown { .. } => "OutcomeUnknown",
        Error::Transport { .. } => "Transport",
        Error::Timeout { .. } => "Timeout",
        Error::DeadlineExceeded { .. } => "DeadlineExceeded",
        Error::UndecodableBody { .. } => "UndecodableBody",
        Error::InvalidInput { .. } => "InvalidInput",
        Error::InvalidFile { .. } => "InvalidFile",
        Error::Configuration { .. } => "Configuration",
        Error::AggregationFailed { .. } => "AggregationFailed",
        Error::AggregationExpired { .. } => "AggregationExpired",
        Error::WaitTimeout { .. } => "WaitTimeout",
        _ => "other",
    }
}

/// Every scenario of the area.
fn cases() -> Vec<Case> {
    use Behaviour as B;
    use Expect::{Error as E, Success};
    let mut cases = Vec::new();
    for op in [Op::Status, Op::Import] {
        let read = op == Op::Status;
        // A read recovers from a connection fault with one retry; the start must not be resent
        // once its request may have been processed.
        let lost = |read: bool| {
            if read {
                (Success, 2)
            } else {
                (E("OutcomeUnknown"), 1)
            }
        };
        let (e, n) = lost(read);
        cases.push(Case::once(
            op,
            "reset before any response",
            B::ResetBeforeResponse,
            e,
            n,
        ));
        cases.push(Case::once(
            op,
            "reset after the status line",
            B::ResetAfterStatusLine,
            e,
            n,
        ));
        // A complete but cut JSON body is not a transport blip: reported, not retried. On the
        // import it is a 202 ISC accepted: the start happened once, its id is unknown (resolved
        // through task status, which these scenarios leave off).
        cases.push(Case::once(
            op,
            "truncated JSON body",
            B::TruncatedJson,
            E(if op == Op::Import {
                "OutcomeUnknown"
            } else {
                "UndecodableBody"
            }),
            1,
        ));
        cases.push(Case::once(
            op,
            "Content-Length longer than the body",
            B::ContentLengthTooLong,
            e,
            n,
        ));
        let mut hang = Case::once(
            op,
            "headers never finish (read or response timeout 500 ms)",
            B::HeadersNeverFinish,
            e,
            n,
        );
        hang.min_elapsed = Duration::from_millis(450);
        cases.push(hang);
        cases.push(Case::once(op, "gateway HTML 502 page", B::Html502, e, n));
        // 429 proves nothing was processed: both operations retry and succeed.
        cases.push(Case::once(
            op,
            "429 Retry-After: 0",
            B::RateLimited(Some("0".into())),
            Success,
            2,
        ));
        let mut huge = Case::once(
            op,
            "429 Retry-After: 86400 (capped at max_retry_after 300 ms)",
            B::RateLimited(Some("86400".into())),
            Success,
            2,
        );
        huge.timing.retry = huge
            .timing
            .retry
            .clone()
            .with_max_retry_after(Duration::from_millis(300));
        huge.min_elapsed = Duration::from_millis(290);
        cases.push(huge);
        cases.push(Case::once(
            op,
            "429 Retry-After: HTTP-date in the past",
            B::RateLimitedUntil(-3600),
            Success,
            2,
        ));
        let mut future = Case::once(
            op,
            "429 Retry-After: HTTP-date 3 s ahead",
            B::RateLimitedUntil(3),
            Success,
            2,
        );
        future.min_elapsed = Duration::from_millis(1900);
        cases.push(future);
        cases.push(Case::once(
            op,
            "429 Retry-After: garbage (backoff instead)",
            B::RateLimited(Some("soon-ish, maybe".into())),
            Success,
            2,
        ));
        cases.push(Case::once(
            op,
            "429 without Retry-After",
            B::RateLimited(None),
            Success,
            2,
        ));
    }

    // Persistent faults: the retry budget and the total deadline end the operation.
    let mut c = Case::always(
        Op::Status,
        "502 every time (max_attempts 3)",
        B::Html502,
        E("Server"),
        3,
    );
    c.timing.retry = c.timing.retry.clone().with_max_attempts(3);
    cases.push(c);

    // Attempt 1 times out at 1 s, attempt 2 is cut by the 1.5 s deadline while in flight.
    let mut c = Case::always(
        Op::Status,
        "headers never finish, deadline 1.5 s cuts the 2nd attempt",
        B::HeadersNeverFinish,
        E("DeadlineExceeded"),
        2,
    );
    c.min_elapsed = Duration::from_millis(1450);
    c.timing.read_timeout = Duration::from_secs(1);
    c.timing.retry = c
        .timing
        .retry
        .clone()
        .with_max_attempts(10)
        .with_backoff(Duration::ZERO, Duration::ZERO);
    c.timing.deadline = Some(Duration::from_millis(1500));
    cases.push(c);

    // After an upload's last byte, the answer has its own limit: the response timeout (1 s), not
    // the deadline (300 ms, which bounds waiting); then the outcome is unknown.
    let mut c = Case::always(
        Op::Import,
        "headers never finish after the upload, response timeout 1 s (deadline 300 ms)",
        B::HeadersNeverFinish,
        E("OutcomeUnknown"),
        1,
    );
    c.min_elapsed = Duration::from_millis(950);
    c.timing.read_timeout = Duration::from_secs(5);
    c.timing.response_timeout = Duration::from_secs(1);
    c.timing.deadline = Some(Duration::from_millis(300));
    cases.push(c);

    // A wait the deadline cannot afford is not started: the server's wait is reported instead.
    for op in [Op::Status, Op::Import] {
        let mut c = Case::always(
            op,
            "429 Retry-After 86400 every time, deadline 1 s",
            B::RateLimited(Some("86400".into())),
            E("RateLimited"),
            1,
        );
        c.timing.deadline = Some(Duration::from_secs(1));
        cases.push(c);
    }
    cases
}

/// A client for the wire server with the suite's credentials.
pub fn client(server: &WireServer, timing: &Timing) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .client_credentials(hygiene::CLIENT_ID, hygiene::client_secret())
        .api_version(ApiVersion::V2025)
        .retry(timing.retry.clone())
        // These scenarios prove the start on its own (exactly one request); the lookup after an
        // ambiguous start has its own area, `exactly once`.
        .outcome_resolution(OutcomeResolution::disabled())
        // Exact request counts and timings; the limiter has its own tests.
        .no_rate_limit()
        .timeouts(
            TimeoutConfig::standard()
                .with_connect_timeout(Duration::from_secs(1))
                .with_read_timeout(timing.read_timeout)
                .with_response_timeout(timing.response_timeout)
                .with_total_deadline(timing.deadline),
        )
        .build()
        .expect("client builds")
}

/// A small CSV shared by the import scenarios.
pub fn small_csv() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("isc-fault-suite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("small.csv");
    if !path.exists() {
        std::fs::write(&path, "id,name\n1,Ada\n2,Grace\n").unwrap();
    }
    path
}

async fn run_case(case: Case) -> Result<(Seen, String), String> {
    let server = WireServer::start().await;
    server.script(case.op.route(), case.script.clone());
    if let Some(always) = case.always.clone() {
        server.always(case.op.route(), always);
    }
    let client = client(&server, &case.timing);
    let started = Instant::now();
    let result = match case.op {
        Op::Status => client
            .aggregation_status("2c91808477a6b0c60177a81146b8110b")
            .send()
            .await
            .map(|s| s.state_name().to_owned()),
        Op::Import => client
            .start_aggregation("2c9180835d2e5168015d32f890ca1581")
            .file(small_csv())
            .send()
            .await
            .map(|s| format!("task {}", s.task_id)),
    };
    let elapsed = started.elapsed();
    hygiene::note_tokens(server.issued_tokens());
    let api_requests = server.api_requests();
    let processed = server.processed_imports();
    let seen = Seen {
        requests: server.seen().len(),
        duplicates: processed.saturating_sub(1),
    };
    let outcome = match &result {
        Ok(_) => Expect::Success,
        Err(e) => {
            hygiene::note_error(e);
            Expect::Error(variant(e))
        }
    };
    ensure(outcome == case.expect, || {
        format!(
            "expected {:?}, got {:?}: {:?}",
            case.expect, outcome, result
        )
    })?;
    ensure(api_requests == case.requests, || {
        format!(
            "server saw {api_requests} requests, expected exactly {}",
            case.requests
        )
    })?;
    let deadline = case.timing.deadline();
    // The SDK enforces the deadline itself; the slack is scheduling noise only (generous, so a
    // loaded machine cannot make it flake; every scenario's wrong behaviour — a hang, a day's
    // Retry-After — is far beyond it).
    ensure(elapsed <= deadline + Duration::from_secs(2), || {
        format!(
            "took {} against a deadline of {}",
            secs(elapsed),
            secs(deadline)
        )
    })?;
    ensure(elapsed >= case.min_elapsed, || {
        format!(
            "took {}, less than the {} it had to wait",
            secs(elapsed),
            secs(case.min_elapsed)
        )
    })?;
    if case.op == Op::Import {
        // Every attempt carried the whole multipart body (a fresh file stream each time).
        let sizes: Vec<usize> = server
            .seen()
            .iter()
            .filter(|s| s.route == Route::Import)
            .map(|s| s.body_len)
            .collect();
        ensure(sizes.iter().all(|&n| n == sizes[0] && n > 20), || {
            format!("import bodies differ or are empty: {sizes:?}")
        })?;
    }
    if let Err(e) = &result {
        ensure(e.attempts() as usize == case.requests, || {
            format!(
                "error says {} attempts, server saw {}",
                e.attempts(),
                case.requests
            )
        })?;
    }
    let detail = match &result {
        Ok(v) => format!("success ({v})"),
        Err(e) => variant(e).to_owned(),
    };
    Ok((
        seen,
        format!(
            "{detail}; {api_requests} API request(s), {processed} processed; {} of {}",
            secs(elapsed),
            secs(deadline)
        ),
    ))
}

/// Runs the area.
pub async fn run() -> Area {
    let mut area = Area::new("faults");
    for case in cases() {
        let name = case.name.clone();
        area.run(name, run_case(case)).await;
    }
    area
}

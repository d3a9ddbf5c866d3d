//! The executor: the one path every API request takes.
//!
//! An operation is named by its cross-version name (`getAccountAggregationStatus`); the method,
//! path, base path and experimental header come from the generated table of the chosen
//! [`ApiVersion`], so no code here knows any version. Per attempt: a token (cached, or fetched
//! within the total deadline), a request rebuilt from scratch (uploads re-opened), the response
//! classified by [`decide`], retries with `Retry-After` or backoff, one token refresh on 401,
//! and the success body decoded once, from its bytes, into the crate's lenient model.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use sailpoint_isc_api::Operation;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use sailpoint_isc_api::ApiVersion;

use crate::auth::Authenticator;
use crate::body_progress::{self, BodyProgress, Limits, UploadLimit};
use crate::config::{BaseUrl, TimeoutConfig};
use crate::deadline::DeadlineClock;
use crate::error::{Error, ErrorContext, REQUEST_ID_HEADER};
use crate::failure::Failure;
use crate::http_client::HttpClient;
use crate::ratelimit::RateLimiter;
use crate::retry::{OperationKind, RetryBudget, RetryConfig, RetryDecision, decide};

/// Header SailPoint requires on experimental operations.
const EXPERIMENTAL_HEADER: HeaderName = HeaderName::from_static("x-sailpoint-experimental");
/// Header SailPoint sets on deprecated operations.
const DEPRECATED_HEADER: HeaderName = HeaderName::from_static("x-deprecated");
/// Header carrying the total of a list when `count=true`.
const TOTAL_COUNT_HEADER: HeaderName = HeaderName::from_static("x-total-count");

/// What the executor needs to know about one call.
pub(crate) struct Call<'a> {
    /// The API version the call goes to.
    pub(crate) version: ApiVersion,
    /// The operation's cross-version name (`importAccounts`).
    pub(crate) operation: &'static str,
    /// Which failures are safe to retry.
    pub(crate) kind: OperationKind,
    /// Values for the path's placeholders, in order.
    pub(crate) path_args: &'a [&'a str],
    /// Query parameters.
    pub(crate) query: &'a [(&'static str, String)],
    /// Set for the non-idempotent start, to word the outcome-unknown error.
    pub(crate) source_id: Option<&'a str>,
    /// An outer bound shared with other calls (a start's checks and request, a lookup's grace
    /// period), on top of the total deadline.
    pub(crate) bound: Option<Instant>,
    /// The caller's cancellation: waits and reads end at once ([`Error::Cancelled`]); a form
    /// still sending is cut, one sent whole waits `settle` for its answer.
    pub(crate) cancel: Option<&'a CancellationToken>,
}

impl<'a> Call<'a> {
    /// A plain read: no query, no outer bound, no cancellation, retried like any read.
    pub(crate) fn read(
        version: ApiVersion,
        operation: &'static str,
        path_args: &'a [&'a str],
    ) -> Self {
        Call {
            version,
            operation,
            kind: OperationKind::Read,
            path_args,
            query: &[],
            source_id: None,
            bound: None,
            cancel: None,
        }
    }
}

/// A decoded success response.
#[derive(Debug)]
pub(crate) struct Decoded<T> {
    /// The body, decoded leniently.
    pub(crate) value: T,
    /// `X-Total-Count`, when the server sent it.
    pub(crate) total_count: Option<u64>,
    /// The body as received (for an error that must show it).
    pub(crate) body: bytes::Bytes,
}

/// Longest success body read; larger ones are refused as undecodable (ISC's largest answer
/// here, a page of 250 tasks, is far below it).
const MAX_SUCCESS_BODY: usize = 16 * 1024 * 1024;

/// Sends requests for a client; cheap to clone (clones share the connection pool, the token
/// cache and the deprecation log).
#[derive(Clone)]
pub(crate) struct Executor {
    inner: Arc<ExecutorInner>,
}

struct ExecutorInner {
    base_url: BaseUrl,
    http: HttpClient,
    auth: Authenticator,
    retry: RetryConfig,
    user_agent: HeaderValue,
    limiter: Option<RateLimiter>,
    timeouts: TimeoutConfig,
    /// (version, operation) pairs already warned about as deprecated.
    deprecations: Mutex<HashSet<(&'static str, &'static str)>>,
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("base_url", &self.inner.base_url.as_str())
            .field("auth", &self.inner.auth)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl Executor {
    pub(crate) fn new(
        base_url: BaseUrl,
        http: HttpClient,
        auth: Authenticator,
        retry: RetryConfig,
        user_agent: HeaderValue,
        limiter: Option<RateLimiter>,
        timeouts: TimeoutConfig,
    ) -> Self {
        Executor {
            inner: Arc::new(ExecutorInner {
                base_url,
                http,
                auth,
                retry,
                user_agent,
                limiter,
                timeouts,
                deprecations: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// The tenant base URL.
    pub(crate) fn base_url(&self) -> &str {
        self.inner.base_url.as_str()
    }

    /// The retry configuration.
    pub(crate) fn retry(&self) -> &RetryConfig {
        &self.inner.retry
    }

    /// The timeouts.
    pub(crate) fn timeouts(&self) -> &TimeoutConfig {
        &self.inner.timeouts
    }

    /// The client-side rate limiter, if any.
    pub(crate) fn limiter(&self) -> Option<&RateLimiter> {
        self.inner.limiter.as_ref()
    }

    /// The authenticator, for `Debug` output.
    pub(crate) fn auth(&self) -> &Authenticator {
        &self.inner.auth
    }

    /// Sends a call without a body and decodes its success body as `T`.
    ///
    /// (This, [`call_with_form`](Self::call_with_form) and `execute` hand back the future
    /// below them rather than awaiting it in an `async fn` of their own: each such layer moves
    /// the whole request future once more on every call.)
    pub(crate) fn call<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> impl Future<Output = Result<Decoded<T>, Error>> {
        self.send(call, Transfer::Read, |_| async { Ok(None) })
    }

    /// Sends a call whose multipart body `form` builds afresh for every attempt, reporting the
    /// streamed file's progress to the [`BodyProgress`] it is given. `streamed` says whether the
    /// form carries a file (bounded by its progress) or only small fields (bounded like a read).
    pub(crate) fn call_with_form<T, B, BFut>(
        &self,
        call: Call<'_>,
        streamed: bool,
        form: B,
    ) -> impl Future<Output = Result<Decoded<T>, Error>>
    where
        T: DeserializeOwned,
        B: Fn(&BodyProgress) -> BFut,
        BFut: Future<Output = Result<Option<reqwest::multipart::Form>, Failure>>,
    {
        let transfer = if streamed {
            Transfer::Upload
        } else {
            Transfer::Form
        };
        self.send(call, transfer, form)
    }

    async fn send<T, B, BFut>(
        &self,
        call: Call<'_>,
        transfer: Transfer,
        form: B,
    ) -> Result<Decoded<T>, Error>
    where
        T: DeserializeOwned,
        B: Fn(&BodyProgress) -> BFut,
        BFut: Future<Output = Result<Option<reqwest::multipart::Form>, Failure>>,
    {
        let operation =
            call.version
                .operation(call.operation)
                .ok_or_else(|| Error::InvalidInput {
                    message: format!(
                        "API version {} has no operation {} (its spec does not list it)",
                        call.version, call.operation
                    ),
                })?;
        let method = reqwest::Method::from_bytes(operation.method.as_bytes()).map_err(|_| {
            Error::Configuration {
                message: format!(
                    "operation {} has method {:?}",
                    call.operation, operation.method
                ),
            }
        })?;
        let path = operation.expand_path(call.path_args);
        // Moved into the first attempt's request; a retry joins it again (a copy kept for
        // retries would cost every call an allocation).
        let mut url = Some(self.inner.base_url.join(call.version.base_path(), &path));
        let (version, query) = (call.version, call.query);
        let http = &self.inner.http.client;
        let timeouts = &self.inner.timeouts;
        let limits = Limits {
            stall: timeouts.stall,
            // A form without a file is as good as sent once it goes: its answer is bounded like a read.
            response: match transfer {
                Transfer::Upload => timeouts.response,
                _ => timeouts.read,
            },
            cancel: call.cancel,
            settle: timeouts.settle,
        };
        // What the spec says the operation answers (text for the schema headers), then JSON.
        // (Whether it answers JSON is asked once per call: the answer costs an allocation.)
        let answers_json = operation.answers_json();
        let accept = if answers_json {
            None
        } else {
            sailpoint_isc_api::accept_value(operation)
        }
        .unwrap_or(HeaderValue::from_static("application/json"));
        self.execute(&call, transfer, |authorization, timeout| {
            let url = url
                .take()
                .unwrap_or_else(|| self.inner.base_url.join(version.base_path(), &path));
            let mut request = http
                .request(method.clone(), url)
                .header(ACCEPT, accept.clone())
                .header(AUTHORIZATION, authorization);
            if !self.inner.http.sends_user_agent {
                request = request.header(USER_AGENT, self.inner.user_agent.clone());
            }
            if let Some(timeout) = timeout {
                request = request.timeout(timeout);
            }
            // A read has no body, so neither progress nor form.
            let progress = (transfer != Transfer::Read).then(BodyProgress::new);
            let form = progress.as_ref().map(&form);
            async move {
                let mut request = request;
                if operation.experimental {
                    request = request.header(EXPERIMENTAL_HEADER, HeaderValue::from_static("true"));
                }
                if !query.is_empty() {
                    request = request.query(query);
                }
                if let Some(form) = form
                    && let Some(form) = form.await?
                {
                    request = request.multipart(form);
                }
                // Pinned here, once: awaited or watched through a reference, never moved.
                // (One async block from request to bytes: every async fn between them would hold
                // the response once more and move it on each call.)
                let exchange = pin!(async {
                    let response = request.send().await.map_err(Failure::Transport)?;
                    let head = self.read_head(version, operation, &response);
                    if !head.status.is_success() {
                        // Cold path: boxed, so the hot future stays small.
                        return Err(Box::pin(Failure::from_response(response)).await);
                    }
                    let body = if response
                        .content_length()
                        .is_some_and(|len| len <= MAX_SUCCESS_BODY as u64)
                    {
                        Ok(response.bytes().await.map_err(Failure::Transport)?)
                    } else {
                        // Length unknown or too large (rare): boxed like the failure path.
                        Box::pin(read_capped_body(response)).await?
                    };
                    decode_success(head, answers_json, body)
                });
                let Some(progress) = progress else {
                    return exchange.await;
                };
                // A form: bounded by its progress, and a cut before its last byte proves
                // nothing was started.
                match body_progress::watch(exchange, &progress, limits).await {
                    // (A connect error stays what it is: nothing was sent at all.)
                    Ok(Err(Failure::Transport(error)))
                        if !progress.is_complete() && !error.is_connect() =>
                    {
                        Err(Failure::BodyCut {
                            sent: progress.sent(),
                            total: progress.total().unwrap_or_default(),
                            reason: format!("the connection failed: {error}"),
                            source: Some(error),
                        })
                    }
                    Ok(result) => result,
                    Err(UploadLimit::Stalled { sent, total }) => Err(Failure::BodyCut {
                        sent,
                        total,
                        reason: format!("no byte was taken for {:?} (stall timeout)", limits.stall),
                        source: None,
                    }),
                    Err(UploadLimit::NoAnswer { cancelled }) => Err(Failure::NoAnswer {
                        waited: if cancelled {
                            limits.settle
                        } else {
                            limits.response
                        },
                        cancelled,
                    }),
                    Err(UploadLimit::Cancelled { sent, total }) => {
                        tracing::info!(
                            operation = operation.name,
                            sent,
                            total,
                            "cancelled before the upload's last byte: nothing was started"
                        );
                        Err(Failure::Local(Error::Cancelled {
                            context: Box::new(ErrorContext::new(operation.name, Some(version))),
                        }))
                    }
                }
            }
        })
        .await
    }

    /// What the executor reads from an answer's head: its status, `X-Total-Count` and request
    /// id; logs a deprecation once.
    fn read_head(
        &self,
        version: ApiVersion,
        operation: &'static Operation,
        response: &reqwest::Response,
    ) -> AnswerHead {
        // The three headers read here, in one pass over the few an answer carries rather than
        // a hashed lookup each (the first value of a name counts, as with `get`).
        let (mut deprecated, mut total_count, mut request_id) = (None, None, None);
        for (name, value) in response.headers() {
            if *name == DEPRECATED_HEADER {
                deprecated.get_or_insert(value);
            } else if *name == TOTAL_COUNT_HEADER {
                total_count.get_or_insert(value);
            } else if *name == REQUEST_ID_HEADER {
                request_id.get_or_insert(value);
            }
        }
        if deprecated.is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true")) {
            self.warn_deprecated(version, operation);
        }
        AnswerHead {
            status: response.status(),
            total_count: total_count
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
            // Only the request id is needed if decoding fails; copying one value is cheaper
            // than the whole map on every success.
            request_id: request_id.cloned(),
        }
    }

    /// Logs, once per client, version and operation, that ISC marked the operation deprecated.
    fn warn_deprecated(&self, version: ApiVersion, operation: &'static Operation) {
        let first = self
            .inner
            .deprecations
            .lock()
            .map(|mut seen| seen.insert((version.name(), operation.name)))
            .unwrap_or(false);
        if first {
            tracing::warn!(
                api_version = %version,
                operation = operation.name,
                "ISC marks this operation deprecated (X-Deprecated: true); it keeps working for \
                 two years after the announcement; plan a move to a newer API version"
            );
        }
    }

    /// Runs one operation: token, request, classification, retries, the 401 refresh, and logs.
    /// `attempt_fn` sends one attempt with an `Authorization` value and, when given, a
    /// per-request timeout that replaces the client's own bound.
    fn execute<T, F, Fut>(
        &self,
        call: &Call<'_>,
        transfer: Transfer,
        mut attempt_fn: F,
    ) -> impl Future<Output = Result<T, Error>>
    where
        F: FnMut(HeaderValue, Option<Duration>) -> Fut,
        Fut: Future<Output = Result<(T, StatusCode), Failure>>,
    {
        let span = tracing::info_span!(
            "isc_request",
            operation = call.operation,
            api_version = %call.version
        );
        async move {
            let inner = &self.inner;
            let mut budget = RetryBudget::new(&inner.retry);
            let mut clock = DeadlineClock::new(inner.timeouts.total, call.bound);
            let mut attempt = 0u32;
            let mut refreshed = false;
            let mut last_status = None;
            loop {
                attempt += 1;
                // Nothing of this attempt has been sent until the request itself goes out: a
                // deadline passing before that is plain `DeadlineExceeded`, whatever the
                // operation (every earlier attempt provably started nothing, or the loop would
                // have ended).
                if call.cancel.is_some_and(CancellationToken::is_cancelled) {
                    return Err(cancelled(call, attempt - 1));
                }
                let token = match inner.auth.cached_token() {
                    Some(token) => token,
                    // Cold path (once per token lifetime): boxed, so the hot future stays small.
                    None => match unless_cancelled(
                        call.cancel,
                        pin!(within(clock.remaining(), Box::pin(inner.auth.token()))),
                    )
                    .await
                    {
                        None => return Err(cancelled(call, attempt - 1)),
                        Some(Some(token)) => token?,
                        Some(None) => {
                            return Err(self.not_sent_by_deadline(call, &clock, attempt - 1, last_status));
                        }
                    },
                };
                // The client-side rate limit: every attempt counts (token requests do not). A
                // free slot is taken at once (no timer, no await); only a full window is waited
                // for, under the deadline and the cancellation. Cancelled by now, no slot is
                // taken, as the wait would not have begun.
                if inner.limiter.is_some() && call.cancel.is_some_and(CancellationToken::is_cancelled)
                {
                    return Err(cancelled(call, attempt - 1));
                }
                if let Some(limiter) = &inner.limiter
                    && !limiter.try_acquire(call.version.name())
                {
                    match unless_cancelled(
                        call.cancel,
                        pin!(within(
                            clock.remaining(),
                            pin!(limiter.acquire(call.version.name()))
                        )),
                    )
                    .await
                    {
                        None => return Err(cancelled(call, attempt - 1)),
                        Some(None) => {
                            return Err(self.not_sent_by_deadline(call, &clock, attempt - 1, last_status));
                        }
                        Some(Some(())) => {}
                    }
                }
                let remaining = clock.remaining();
                if remaining.is_some_and(|left| left.is_zero()) {
                    return Err(self.not_sent_by_deadline(call, &clock, attempt - 1, last_status));
                }
                let started = Instant::now();
                let authorization = token.authorization()?;
                // A read through the SDK's own client is bounded by one timer: the client's read
                // timeout, or what is left of the deadline when that is shorter. An upload by its
                // progress (stall, answer), never by the deadline. Anything else (a form without
                // a file, a caller's client, whose settings stay as they are) by the deadline
                // around the attempt.
                let outcome = match (transfer, inner.http.read_timeout) {
                    (Transfer::Upload, _) => {
                        let outcome = pin!(attempt_fn(authorization, inner.http.unbounded())).await;
                        clock.exclude(started.elapsed());
                        Some(outcome)
                    }
                    (Transfer::Read, Some(read)) => {
                        let (timeout, is_deadline) = match remaining {
                            Some(left) if left <= read => (Some(left), true),
                            _ => (None, false),
                        };
                        // A read has no effect: a cancellation simply ends it.
                        let request = pin!(attempt_fn(authorization, timeout));
                        match unless_cancelled(call.cancel, request).await
                        {
                            None => return Err(cancelled(call, attempt)),
                            Some(Err(Failure::Transport(e))) if is_deadline && e.is_timeout() => None,
                            Some(other) => Some(other),
                        }
                    }
                    (Transfer::Form, _) => {
                        within(remaining, pin!(attempt_fn(authorization, inner.http.unbounded())))
                            .await
                    }
                    (Transfer::Read, None) => within(remaining, pin!(attempt_fn(authorization, None))).await,
                };
                let Some(outcome) = outcome else {
                    // The request may be on the wire: for a start, its outcome is unknown.
                    tracing::debug!(
                        operation = call.operation,
                        attempt,
                        elapsed_ms = clock.elapsed().as_millis() as u64,
                        "total deadline passed with the request in flight"
                    );
                    return Err(self.deadline_in_flight(call, &clock, attempt, last_status));
                };
                let mut failure = match outcome {
                    Ok((value, status)) => {
                        tracing::debug!(
                            operation = call.operation,
                            attempt,
                            status = status.as_u16(),
                            duration_ms = started.elapsed().as_millis() as u64,
                            "request succeeded"
                        );
                        return Ok(value);
                    }
                    Err(failure) => failure,
                };
                let kind = failure.kind();
                let decision = decide(call.kind, kind);
                last_status = failure.status().or(last_status);
                tracing::debug!(
                    operation = call.operation,
                    attempt,
                    status = failure.status().map(|s| s.as_u16()),
                    failure = ?kind,
                    decision = ?decision,
                    duration_ms = started.elapsed().as_millis() as u64,
                    "request failed"
                );
                match decision {
                    RetryDecision::RefreshCredentials if !refreshed && inner.auth.can_refresh() => {
                        refreshed = true;
                        inner.auth.invalidate(&token).await;
                        tracing::info!(
                            operation = call.operation,
                            attempt,
                            "access token rejected (401); refreshing it and resending once"
                        );
                        continue;
                    }
                    RetryDecision::Retry => {
                        if let Some(wait) = budget
                            .next_wait(failure.retry_after())
                            .filter(|wait| clock.allows(*wait))
                        {
                            if let Failure::BodyCut { sent, total, reason, .. } = &failure {
                                tracing::warn!(
                                    operation = call.operation,
                                    attempt,
                                    sent,
                                    total,
                                    wait_ms = wait.as_millis() as u64,
                                    "the upload was cut before its last byte ({reason}); ISC cannot \
                                     have started anything from it: resending it from the file"
                                );
                            } else {
                                tracing::warn!(
                                    operation = call.operation,
                                    attempt,
                                    status = failure.status().map(|s| s.as_u16()),
                                    failure = ?kind,
                                    wait_ms = wait.as_millis() as u64,
                                    "retrying"
                                );
                            }
                            // (The sleep is boxed: retries are the cold path.)
                            if unless_cancelled(call.cancel, Box::pin(tokio::time::sleep(wait)))
                                .await
                                .is_none()
                            {
                                return Err(cancelled(call, attempt));
                            }
                            continue;
                        }
                    }
                    _ => {}
                }
                tracing::debug!(
                    operation = call.operation,
                    attempts = attempt,
                    elapsed_ms = clock.elapsed().as_millis() as u64,
                    "giving up"
                );
                let context = ErrorContext::new(call.operation, Some(call.version));
                // A gateway that echoes request headers must not put the token in the error:
                // scrub the raw body (before a snippet can cut the token in two), then the
                // decoded messages (where JSON escapes have been undone).
                failure.redact(token.expose());
                let mut error = failure.into_error(context, attempt, decision, call.source_id);
                error.redact(token.expose());
                return Err(error);
            }
        }
        .instrument(span)
    }

    /// The error for an operation whose deadline passed before its next request was sent, after
    /// `attempts` attempts that all provably started nothing: [`Error::DeadlineExceeded`].
    fn not_sent_by_deadline(
        &self,
        call: &Call<'_>,
        clock: &DeadlineClock,
        attempts: u32,
        last_status: Option<StatusCode>,
    ) -> Error {
        tracing::debug!(
            operation = call.operation,
            attempts,
            "the deadline passed before the next request was sent"
        );
        Error::DeadlineExceeded {
            deadline: clock.limit(),
            context: call_context(call, attempts, last_status),
        }
    }

    /// The error for an operation cut by its deadline with a request in flight: for a start,
    /// [`Error::OutcomeUnknown`] (the request may have been received).
    fn deadline_in_flight(
        &self,
        call: &Call<'_>,
        clock: &DeadlineClock,
        attempts: u32,
        last_status: Option<StatusCode>,
    ) -> Error {
        let deadline = clock.limit();
        let context = call_context(call, attempts, last_status);
        match call.source_id {
            Some(source_id) if call.kind == OperationKind::StartAggregation => {
                Error::OutcomeUnknown {
                    source_id: source_id.to_owned(),
                    reason: format!(
                        "the deadline of {deadline:?} passed while the request was in flight"
                    ),
                    context,
                    source: None,
                    lookup: None,
                }
            }
            _ => Error::DeadlineExceeded { deadline, context },
        }
    }
}

/// How a call's request travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transfer {
    /// No body; bounded by the read timeout and the deadline.
    Read,
    /// A form of small fields (a direct-connect start); bounded like a read.
    Form,
    /// A form with a file streamed from disk; bounded by its progress.
    Upload,
}

/// A text success body as `T` (a `String`): UTF-8, or a JSON string if the server answered one.
fn decode_text<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    use serde::de::IntoDeserializer;
    if let Ok(value) = serde_json::from_slice::<T>(body)
        && body.trim_ascii_start().first() == Some(&b'"')
    {
        return Ok(value);
    }
    let text = std::str::from_utf8(body).map_err(|e| format!("is not UTF-8 text: {e}"))?;
    T::deserialize(IntoDeserializer::<serde::de::value::Error>::into_deserializer(text))
        .map_err(|e| format!("is not the expected text: {e}"))
}

/// Reads a success body whose length is unknown or too large, at most [`MAX_SUCCESS_BODY`]
/// bytes: `Err` with its start when larger.
async fn read_capped_body(
    response: reqwest::Response,
) -> Result<Result<bytes::Bytes, bytes::Bytes>, Failure> {
    use futures_util::StreamExt;
    let mut stream = response.bytes_stream();
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(Failure::Transport)?;
        if body.len() + chunk.len() > MAX_SUCCESS_BODY {
            body.truncate(4096);
            return Ok(Err(body.freeze()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Ok(body.freeze()))
}

/// What [`Executor::read_head`] keeps of a response's head.
struct AnswerHead {
    status: StatusCode,
    total_count: Option<u64>,
    request_id: Option<HeaderValue>,
}

/// Decodes a success body (`Err`: its start, when it was too large) into the crate's lenient
/// model: JSON, or one string for a text answer; anything else is [`Failure::Undecodable`].
// (Returns what the attempt's future returns, a `Failure` by value like every attempt: boxing it
// here alone would add an allocation to the cold path and save nothing on the hot one.)
#[allow(clippy::result_large_err)]
fn decode_success<T: DeserializeOwned>(
    head: AnswerHead,
    answers_json: bool,
    body: Result<bytes::Bytes, bytes::Bytes>,
) -> Result<(Decoded<T>, StatusCode), Failure> {
    let AnswerHead {
        status,
        total_count,
        request_id,
    } = head;
    let decoded = match body {
        Ok(body) if answers_json => serde_json::from_slice::<T>(&body)
            .map(|value| (value, body.clone()))
            .map_err(|error| (body, format!("is not the expected JSON: {error}"))),
        // A text answer (`text/csv`) is read as one string.
        Ok(body) => decode_text::<T>(&body)
            .map(|value| (value, body.clone()))
            .map_err(|error| (body, error)),
        Err(start) => Err((
            start,
            format!("is larger than {} MiB", MAX_SUCCESS_BODY >> 20),
        )),
    };
    match decoded {
        Ok((value, body)) => Ok((
            Decoded {
                value,
                total_count,
                body,
            },
            status,
        )),
        Err((body, error)) => Err(Failure::Undecodable {
            status: Some(status),
            headers: request_id.map(|id| {
                let mut headers = HeaderMap::with_capacity(1);
                headers.insert(HeaderName::from_static("slpt-request-id"), id);
                headers
            }),
            body: Some(body),
            reason: format!("the {} response {error}", status.as_u16()),
        }),
    }
}

/// The error for a call cancelled before its request could take effect.
fn cancelled(call: &Call<'_>, attempts: u32) -> Error {
    Error::Cancelled {
        context: call_context(call, attempts, None),
    }
}

/// The context of an error the executor makes itself (no response to take it from): the call,
/// the attempts made and the last status seen.
fn call_context(
    call: &Call<'_>,
    attempts: u32,
    last_status: Option<StatusCode>,
) -> Box<ErrorContext> {
    let mut context = ErrorContext::new(call.operation, Some(call.version));
    context.attempts = attempts;
    context.status = last_status;
    Box::new(context)
}

/// Runs `future` to completion, or until `cancel` fires (`None` then).
///
/// This and [`within`] take the future pinned by the caller (`Unpin`: a `Pin<&mut _>` or a
/// `Pin<Box<_>>`): an `async fn` keeps a future passed by value twice in its own state (as
/// the argument and as the local it polls), and moves it each time it is wrapped, so an
/// attempt's future nested in two of them was held four times over.
async fn unless_cancelled<F: Future + Unpin>(
    cancel: Option<&CancellationToken>,
    future: F,
) -> Option<F::Output> {
    match cancel {
        None => Some(future.await),
        Some(token) => token.run_until_cancelled(future).await,
    }
}

/// Runs `future` to completion, or until `limit` passes (`None`: no limit). See
/// [`unless_cancelled`] for why `F: Unpin`.
async fn within<F: Future + Unpin>(limit: Option<Duration>, future: F) -> Option<F::Output> {
    match limit {
        None => Some(future.await),
        Some(limit) => tokio::time::timeout(limit, future).await.ok(),
    }
}

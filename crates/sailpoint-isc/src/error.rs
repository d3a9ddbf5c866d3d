//! The crate's one error type, [`Error`], and the response details it carries ([`ErrorContext`]).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::config::ApiVersion;
use crate::kind::AggregationKind;
use crate::preflight::{CheckReport, Severity};
use crate::retry::{FailureKind, RetryDecision};
use crate::status::AggregationStatus;

/// The response header ISC uses to identify a request; quote it to SailPoint support.
pub const REQUEST_ID_HEADER: &str = "SLPT-Request-ID";

/// The message ISC returns (as `{"error": ..}`, HTTP 400) when an experimental endpoint is called
/// without `X-SailPoint-Experimental: true`.
pub const EXPERIMENTAL_HEADER_MISSING_MESSAGE: &str = "Experimental Header is missing or invalid.";

/// Longest body excerpt kept in an [`ErrorContext`].
const SNIPPET_CHARS: usize = 300;

/// Everything that can go wrong, as one type to match on.
///
/// HTTP-related variants carry an [`ErrorContext`] with the status, ISC's `trackingId`, the
/// `SLPT-Request-ID` header, the decoded error messages, a body snippet and the number of attempts.
///
/// ```no_run
/// use sailpoint_isc::{Client, Error};
///
/// # async fn demo(client: Client) {
/// match client.aggregation_status("2c91808477a6b0c60177a81146b8110b").send().await {
///     Ok(status) => println!("{status}"),
///     Err(Error::RateLimited { retry_after, context }) => {
///         eprintln!("still rate limited after {} attempts (Retry-After {retry_after:?})", context.attempts)
///     }
///     Err(Error::NotFound { context }) => eprintln!("unknown aggregation: {context}"),
///     Err(other) => eprintln!("{other}"),
/// }
/// # }
/// ```
///
/// `Error` is `Clone` (transport errors are shared behind an [`Arc`]), so one failure can be
/// handed to many waiters, as the token cache does when a refresh fails.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// HTTP 429 after all retries. `retry_after` is the server's last `Retry-After`, if any.
    #[error("rate limited by ISC: {context}")]
    RateLimited {
        /// The last `Retry-After` the server sent.
        retry_after: Option<Duration>,
        /// Response details.
        context: Box<ErrorContext>,
    },

    /// HTTP 401: the credentials were rejected, or the token was still rejected after one refresh.
    #[error("unauthorized: {context}")]
    Unauthorized {
        /// Response details.
        context: Box<ErrorContext>,
    },

    /// HTTP 403: the identity lacks the right user level or scope (e.g. `idn:sources:manage`).
    #[error("forbidden: {context}")]
    Forbidden {
        /// Response details.
        context: Box<ErrorContext>,
    },

    /// HTTP 404 (other than on the aggregation status, see [`Error::AggregationExpired`]).
    #[error("not found: {context}")]
    NotFound {
        /// Response details.
        context: Box<ErrorContext>,
    },

    /// HTTP 400: ISC rejected the request; `context.body` holds its messages.
    #[error("bad request: {context}")]
    BadRequest {
        /// Response details.
        context: Box<ErrorContext>,
    },

    /// HTTP 400 `{"error":"Experimental Header is missing or invalid."}`: the endpoint needs
    /// `X-SailPoint-Experimental: true` and it was not sent.
    #[error("the endpoint requires the X-SailPoint-Experimental header: {context}")]
    ExperimentalHeaderMissing {
        /// Response details.
        context: Box<ErrorContext>,
    },

    /// Another unexpected HTTP status (e.g. 409, 422).
    #[error("unexpected response: {context}")]
    UnexpectedStatus {
        /// Response details.
        context: Box<ErrorContext>,
    },

    /// HTTP 5xx on a read, after all retries.
    #[error("ISC server error: {context}")]
    Server {
        /// Response details.
        context: Box<ErrorContext>,
    },

    /// Starting the aggregation failed in a way that does not prove it did not start (a 5xx, a
    /// timeout or a connection lost after the request was sent), and looking the aggregation up
    /// in task status did not settle it (see [`OutcomeResolution`](crate::OutcomeResolution)):
    /// no task, several candidate tasks, or the lookup failed. The start is never resent
    /// automatically. `lookup` says what the lookup saw; check the source's recent tasks
    /// (`Client::task_statuses`, or the ISC UI) before trying again.
    #[error(
        "the aggregation on source {source_id} may or may not have started ({reason}){}; \
         check the source's recent tasks before retrying: {context}",
        lookup.as_ref().map(|l| format!("; {l}")).unwrap_or_default()
    )]
    OutcomeUnknown {
        /// The source the aggregation was started on.
        source_id: String,
        /// What went wrong, in words.
        reason: String,
        /// Response details (status and body when a response arrived).
        context: Box<ErrorContext>,
        /// The transport error, when no response arrived.
        #[source]
        source: Option<Arc<reqwest::Error>>,
        /// What the task-status lookup saw, when one was made.
        lookup: Option<Box<OutcomeLookup>>,
    },

    /// No source has exactly this name. `similar` lists what ISC matched otherwise (e.g. the
    /// same name in another case).
    #[error(
        "no source is named {name:?}{}",
        candidates_text(similar, "; similar: ")
    )]
    SourceNotFound {
        /// The name looked up.
        name: String,
        /// Sources ISC matched that do not have exactly this name.
        similar: Vec<SourceCandidate>,
    },

    /// Several sources have exactly this name: choose one by id.
    #[error("{} sources are named {name:?}{}", candidates.len(), candidates_text(candidates, ": "))]
    AmbiguousSourceName {
        /// The name looked up.
        name: String,
        /// The sources with that name.
        candidates: Vec<SourceCandidate>,
    },

    /// The connection failed (refused, DNS, TLS, reset), after all retries.
    #[error("transport error: {context}: {source}")]
    Transport {
        /// Request details.
        context: Box<ErrorContext>,
        /// The underlying error.
        #[source]
        source: Arc<reqwest::Error>,
    },

    /// An HTTP request timed out, after all retries.
    #[error("request timed out: {context}: {source}")]
    Timeout {
        /// Request details.
        context: Box<ErrorContext>,
        /// The underlying error.
        #[source]
        source: Arc<reqwest::Error>,
    },

    /// The operation's deadline ([`TimeoutConfig::total`](crate::TimeoutConfig)) passed: before
    /// a request was sent (waiting for `Retry-After`, the rate limiter or a token: nothing was
    /// started), or with a read in flight. Never returned for an aggregation start whose request
    /// may have been received: that is [`Error::OutcomeUnknown`].
    #[error("the operation's deadline of {deadline:?} passed: {context}")]
    DeadlineExceeded {
        /// The configured total deadline.
        deadline: Duration,
        /// Request details (attempts made so far; the status of the last response, if any).
        context: Box<ErrorContext>,
    },

    /// ISC answered the start (HTTP 202) with a task that had already ended unsuccessfully:
    /// it refused to start, typically because an aggregation is already running on the source
    /// ("This aggregation failed because the currently running aggregation must complete before
    /// the next one can start."). Nothing runs for this request. Wait for the running one, or
    /// start with [`if_idle`](crate::StartAggregation::if_idle) to get it instead.
    #[error(
        "ISC refused to start an aggregation on source {source_id}: its task {task_id} ended \
         {completion_status} at once{}",
        if messages.is_empty() { String::new() } else { format!(": {}", messages.join("; ")) }
    )]
    StartRefused {
        /// The source.
        source_id: String,
        /// The refused task's id.
        task_id: String,
        /// The task's `completionStatus` (`ERROR`).
        completion_status: String,
        /// ISC's messages.
        messages: Vec<String>,
        /// The whole answer.
        started: Box<crate::status::StartedAggregation>,
    },

    /// Stopped by the caller's cancellation (a stop signal) before the request could have
    /// taken effect: for a start, before its body was sent whole, or while waiting to send it.
    /// Nothing was started.
    #[error("cancelled before the request took effect; nothing was started: {context}")]
    Cancelled {
        /// Request details (attempts made).
        context: Box<ErrorContext>,
    },

    /// An upload was cut before its last byte reached the connection, after all retries: it
    /// stalled (no byte taken for the stall timeout) or the link broke mid-body. ISC cannot
    /// accept a multipart body it did not completely receive, so no aggregation started from it.
    #[error(
        "the upload was cut after {sent} of {total} bytes ({reason}); ISC did not receive the \
         whole file, so no aggregation started from it: {context}"
    )]
    UploadInterrupted {
        /// Bytes of the file handed to the connection before the cut.
        sent: u64,
        /// The file's length.
        total: u64,
        /// What cut it, in words.
        reason: String,
        /// Request details (attempts made).
        context: Box<ErrorContext>,
        /// The transport error, when the link broke.
        #[source]
        source: Option<Arc<reqwest::Error>>,
    },

    /// A response body could not be decoded (a proxy's HTML page, malformed JSON).
    /// `context.body_snippet` holds the start of the body.
    #[error("undecodable response body ({reason}): {context}")]
    UndecodableBody {
        /// Why decoding failed.
        reason: String,
        /// Response details, with `body_snippet`.
        context: Box<ErrorContext>,
    },

    /// An argument was rejected before any request was sent (e.g. an empty source id).
    #[error("invalid input: {message}")]
    InvalidInput {
        /// What is wrong.
        message: String,
    },

    /// The accounts file was rejected before any request was sent.
    #[error("cannot upload {}: {problem}", path.display())]
    InvalidFile {
        /// The file given.
        path: PathBuf,
        /// What is wrong with it.
        problem: FileProblem,
    },

    /// The file does not fit the source's schema (a pre-flight check found a problem, see
    /// [`CheckReport`]); nothing was uploaded.
    #[error(
        "{} does not fit the {kind} schema of source {source_id}: {}",
        path.display(),
        check_summary(report)
    )]
    FileCheckFailed {
        /// The source.
        source_id: String,
        /// The file checked.
        path: PathBuf,
        /// What it was checked as.
        kind: AggregationKind,
        /// Every finding, with its line.
        report: Box<CheckReport>,
    },

    /// The client configuration is missing or invalid (base URL, credentials, HTTP client).
    #[error("configuration error: {message}")]
    Configuration {
        /// What is wrong.
        message: String,
    },

    /// The aggregation ended `CANCELLED` or `TERMINATED`.
    #[error("aggregation {task_id} ended {}", status.state_name())]
    AggregationFailed {
        /// The aggregation (task) id.
        task_id: String,
        /// The final status.
        status: Box<AggregationStatus>,
    },

    /// The status endpoint answered 404 or `NOT_FOUND`: the id is unknown, or its status expired
    /// (ISC keeps it only about an hour after completion).
    #[error("aggregation {task_id} is unknown or its status has expired: {context}")]
    AggregationExpired {
        /// The aggregation (task) id.
        task_id: String,
        /// Response details.
        context: Box<ErrorContext>,
    },

    /// Waiting for the aggregation exceeded the maximum wait.
    #[error(
        "gave up waiting for aggregation {task_id} after {waited:?}; last state: {}",
        last_status.as_ref().map(|s| s.state_name()).unwrap_or("none seen")
    )]
    WaitTimeout {
        /// The aggregation (task) id.
        task_id: String,
        /// How long the waiter waited.
        waited: Duration,
        /// The last status seen, if any poll succeeded.
        last_status: Option<Box<AggregationStatus>>,
    },
}

impl Error {
    /// Response details, for the variants that have them.
    pub fn context(&self) -> Option<&ErrorContext> {
        match self {
            Error::RateLimited { context, .. }
            | Error::Unauthorized { context }
            | Error::Forbidden { context }
            | Error::NotFound { context }
            | Error::BadRequest { context }
            | Error::ExperimentalHeaderMissing { context }
            | Error::UnexpectedStatus { context }
            | Error::Server { context }
            | Error::OutcomeUnknown { context, .. }
            | Error::Transport { context, .. }
            | Error::Timeout { context, .. }
            | Error::DeadlineExceeded { context, .. }
            | Error::UploadInterrupted { context, .. }
            | Error::Cancelled { context }
            | Error::UndecodableBody { context, .. }
            | Error::AggregationExpired { context, .. } => Some(context),
            _ => None,
        }
    }

    /// The HTTP status of the last response, when one arrived.
    pub fn status(&self) -> Option<StatusCode> {
        self.context().and_then(|c| c.status)
    }

    /// How many HTTP attempts were made (0 when none was, e.g. for invalid input).
    pub fn attempts(&self) -> u32 {
        self.context().map_or(0, |c| c.attempts)
    }

    /// ISC's `trackingId` from the error body, when present.
    pub fn tracking_id(&self) -> Option<&str> {
        self.context().and_then(|c| c.tracking_id())
    }

    /// The `SLPT-Request-ID` response header, when present.
    pub fn request_id(&self) -> Option<&str> {
        self.context().and_then(|c| c.request_id.as_deref())
    }

    /// True for [`Error::OutcomeUnknown`]: the aggregation may have started.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, Error::OutcomeUnknown { .. })
    }

    /// Replaces every occurrence of `secret` in the response details this error shows (body
    /// snippet, messages, codes) with `[REDACTED]`, for servers that echo a request back.
    pub(crate) fn redact(&mut self, secret: &str) {
        if secret.trim().is_empty() {
            return;
        }
        let context = match self {
            Error::RateLimited { context, .. }
            | Error::Unauthorized { context }
            | Error::Forbidden { context }
            | Error::NotFound { context }
            | Error::BadRequest { context }
            | Error::ExperimentalHeaderMissing { context }
            | Error::UnexpectedStatus { context }
            | Error::Server { context }
            | Error::OutcomeUnknown { context, .. }
            | Error::Transport { context, .. }
            | Error::Timeout { context, .. }
            | Error::DeadlineExceeded { context, .. }
            | Error::UploadInterrupted { context, .. }
            | Error::Cancelled { context }
            | Error::UndecodableBody { context, .. }
            | Error::AggregationExpired { context, .. } => context,
            _ => return,
        };
        let scrub = |text: &mut String| {
            if text.contains(secret) {
                *text = text.replace(secret, "[REDACTED]");
            }
        };
        if let Some(snippet) = &mut context.body_snippet {
            scrub(snippet);
        }
        if let Some(body) = &mut context.body {
            for text in [&mut body.detail_code, &mut body.tracking_id]
                .into_iter()
                .flatten()
            {
                scrub(text);
            }
            for message in body.messages.iter_mut().chain(body.causes.iter_mut()) {
                scrub(&mut message.text);
            }
        }
        if let Some(id) = &mut context.request_id {
            scrub(id);
        }
    }
}

impl From<sailpoint_isc_api::UnknownApiVersion> for Error {
    /// A version name that is not one of [`ApiVersion::all`](crate::ApiVersion::all) is a
    /// configuration error.
    fn from(error: sailpoint_isc_api::UnknownApiVersion) -> Self {
        Error::Configuration {
            message: error.to_string(),
        }
    }
}

/// A source found by a name lookup: its id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceCandidate {
    /// The source id.
    pub id: String,
    /// The source name.
    pub name: String,
}

/// `N problem(s), first: line L: …`.
fn check_summary(report: &CheckReport) -> String {
    let problems = report.total_problems();
    let first = report
        .findings
        .iter()
        .find(|f| f.severity == Severity::Problem)
        .map(|f| format!(" (first: {f})"))
        .unwrap_or_default();
    format!(
        "{problems} problem{}{first}",
        if problems == 1 { "" } else { "s" }
    )
}

fn candidates_text(candidates: &[SourceCandidate], prefix: &str) -> String {
    if candidates.is_empty() {
        return String::new();
    }
    let list: Vec<String> = candidates
        .iter()
        .map(|c| format!("{} ({:?})", c.id, c.name))
        .collect();
    format!("{prefix}{}", list.join(", "))
}

/// What the task-status lookup after an ambiguous start saw
/// (carried by [`Error::OutcomeUnknown`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OutcomeLookup {
    /// Task-status list requests made.
    pub polls: u32,
    /// How long the lookup went on.
    pub waited: Duration,
    /// Aggregation tasks on the source created since the attempt began (minus the clock-skew
    /// allowance). More than one means the lookup could not tell which is ours.
    pub candidates: Vec<crate::task_status::TaskStatus>,
    /// The lookup's last error, when it failed.
    pub error: Option<Box<Error>>,
}

impl fmt::Display for OutcomeLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task-status lookup: {} poll(s) over {:?}, ",
            self.polls, self.waited
        )?;
        match (&self.error, self.candidates.len()) {
            (Some(error), _) => write!(f, "failed: {error}"),
            (None, 0) => f.write_str("no aggregation task listed"),
            (None, n) => {
                let ids: Vec<&str> = self
                    .candidates
                    .iter()
                    .map(|t| t.id.as_deref().unwrap_or("?"))
                    .collect();
                write!(
                    f,
                    "{n} candidate tasks, cannot tell which: {}",
                    ids.join(", ")
                )
            }
        }
    }
}

/// Why an accounts file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileProblem {
    /// The path does not exist.
    NotFound,
    /// The path is a directory or another non-regular file.
    NotAFile,
    /// The file is empty (0 bytes).
    Empty,
    /// The file could not be opened or read.
    Unreadable(String),
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileProblem::NotFound => f.write_str("the file does not exist"),
            FileProblem::NotAFile => f.write_str("it is not a regular file"),
            FileProblem::Empty => f.write_str("the file is empty (0 bytes)"),
            FileProblem::Unreadable(why) => write!(f, "the file cannot be read: {why}"),
        }
    }
}

/// Details of the request and response behind an [`Error`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ErrorContext {
    /// The operation, as ISC's operationId (`importAccounts`, `getAccountAggregationStatus`) or
    /// `oauthToken`.
    pub operation: &'static str,
    /// The API version called, when the operation is versioned.
    pub api_version: Option<ApiVersion>,
    /// The HTTP status, when a response arrived.
    pub status: Option<StatusCode>,
    /// The `SLPT-Request-ID` response header.
    pub request_id: Option<String>,
    /// How many attempts were made, the failing one included.
    pub attempts: u32,
    /// The decoded error body, when it was JSON.
    pub body: Option<ErrorBody>,
    /// The start of the body when it could not be decoded (e.g. a proxy's HTML page).
    pub body_snippet: Option<String>,
}

impl ErrorContext {
    pub(crate) fn new(operation: &'static str, api_version: Option<ApiVersion>) -> Self {
        ErrorContext {
            operation,
            api_version,
            ..Default::default()
        }
    }

    /// ISC's `trackingId`, from the error body.
    pub fn tracking_id(&self) -> Option<&str> {
        self.body.as_ref().and_then(|b| b.tracking_id.as_deref())
    }

    /// The error messages from the body (`messages[].text`, `causes[].text`, `error`, `message`).
    pub fn messages(&self) -> Vec<&str> {
        self.body.as_ref().map_or_else(Vec::new, |b| {
            b.messages
                .iter()
                .chain(&b.causes)
                .map(|m| m.text.as_str())
                .collect()
        })
    }
}

impl fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.operation)?;
        if let Some(version) = self.api_version {
            write!(f, " ({version})")?;
        }
        if let Some(status) = self.status {
            write!(f, " HTTP {}", status.as_u16())?;
        }
        let messages = self.messages();
        if !messages.is_empty() {
            write!(f, ": {}", messages.join("; "))?;
        } else if let Some(code) = self.body.as_ref().and_then(|b| b.detail_code.as_deref()) {
            write!(f, ": {code}")?;
        } else if let Some(snippet) = &self.body_snippet {
            write!(f, ": body starts {snippet:?}")?;
        }
        write!(f, " [attempts={}", self.attempts)?;
        if let Some(id) = self.tracking_id() {
            write!(f, ", trackingId={id}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, ", {REQUEST_ID_HEADER}={id}")?;
        }
        f.write_str("]")
    }
}

/// An ISC error body, decoded leniently from `ErrorResponseDto`
/// (`{detailCode, trackingId, messages[], causes[]}`) or the `{error}` / `{message}` shapes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorBody {
    /// `detailCode`, e.g. `400.1 Bad Request Content`.
    pub detail_code: Option<String>,
    /// `trackingId`.
    pub tracking_id: Option<String>,
    /// `messages[]`, plus the text of `error` / `message` / `error_description` fields.
    pub messages: Vec<ErrorMessage>,
    /// `causes[]`.
    pub causes: Vec<ErrorMessage>,
}

/// One localized error message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorMessage {
    /// `locale`, e.g. `en-US`.
    pub locale: Option<String>,
    /// `localeOrigin`, e.g. `DEFAULT` or `REQUEST`.
    pub locale_origin: Option<String>,
    /// `text`.
    pub text: String,
}

impl ErrorBody {
    /// Decodes a body leniently; `None` when it is not a JSON object with any known field.
    pub fn parse(body: &[u8]) -> Option<ErrorBody> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let object = value.as_object()?;
        let text = |v: &Value| -> Option<String> {
            match v {
                Value::Null => None,
                Value::String(s) => Some(s.trim().to_owned()),
                other => Some(other.to_string()),
            }
        };
        let list = |v: Option<&Value>| -> Vec<ErrorMessage> {
            let Some(Value::Array(items)) = v else {
                return Vec::new();
            };
            items
                .iter()
                .filter_map(|item| match item {
                    Value::Object(m) => Some(ErrorMessage {
                        locale: m.get("locale").and_then(text),
                        locale_origin: m.get("localeOrigin").and_then(text),
                        text: m.get("text").and_then(text)?,
                    }),
                    Value::String(s) => Some(ErrorMessage {
                        text: s.clone(),
                        ..Default::default()
                    }),
                    _ => None,
                })
                .collect()
        };
        let mut body = ErrorBody {
            detail_code: object.get("detailCode").and_then(text),
            tracking_id: object.get("trackingId").and_then(text),
            messages: list(object.get("messages")),
            causes: list(object.get("causes")),
        };
        for key in ["error", "message", "error_description"] {
            if let Some(t) = object.get(key).and_then(text)
                && !t.is_empty()
            {
                body.messages.push(ErrorMessage {
                    text: t,
                    ..Default::default()
                });
            }
        }
        let empty = body.detail_code.is_none()
            && body.tracking_id.is_none()
            && body.messages.is_empty()
            && body.causes.is_empty();
        (!empty).then_some(body)
    }

    /// True when this is ISC's "Experimental Header is missing or invalid." answer.
    pub fn is_experimental_header_missing(&self) -> bool {
        self.messages
            .iter()
            .any(|m| m.text.to_ascii_lowercase().contains("experimental header"))
    }
}

/// The start of a body as text, whitespace collapsed, at most a few hundred characters.
pub(crate) fn body_snippet(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return None;
    }
    let mut snippet: String = collapsed.chars().take(SNIPPET_CHARS).collect();
    if collapsed.chars().count() > SNIPPET_CHARS {
        snippet.push('…');
    }
    Some(snippet)
}

/// One failed attempt, before it becomes an [`Error`].
#[derive(Debug)]
pub(crate) enum Failure {
    /// A non-success HTTP response (body read, capped).
    Response {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
    /// No response: connect/DNS/TLS error, timeout, connection lost.
    Transport(reqwest::Error),
    /// A response whose body could not be decoded.
    Undecodable {
        status: Option<StatusCode>,
        headers: Option<HeaderMap>,
        /// `None` when the body must not be shown (e.g. a token response).
        body: Option<Bytes>,
        reason: String,
    },
    /// A local error that ends the operation as is (e.g. the file vanished between attempts).
    Local(Error),
    /// An upload cut before its last byte was handed to the connection (stalled, or the link
    /// broke): ISC cannot have accepted the incomplete body, so nothing started.
    BodyCut {
        sent: u64,
        total: u64,
        reason: String,
        source: Option<reqwest::Error>,
    },
    /// An upload sent to its last byte, then no answer within the response timeout (or the
    /// settle time, once cancelled).
    NoAnswer { waited: Duration, cancelled: bool },
}

/// Longest error body read from the wire.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Reads at most `MAX_ERROR_BODY` bytes of a byte stream; read errors end the body early.
pub(crate) async fn read_capped<S, E>(mut stream: S) -> Bytes
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
{
    use futures_util::StreamExt;
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { break };
        let room = MAX_ERROR_BODY - buf.len();
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buf.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    Bytes::from(buf)
}

impl Failure {
    /// A failure from a non-success response, with its body read (capped).
    pub(crate) async fn from_response(response: reqwest::Response) -> Failure {
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_capped(response.bytes_stream()).await;
        Failure::Response {
            status,
            headers,
            body,
        }
    }

    /// Replaces `secret` in the body with `[REDACTED]` before any snippet or message is taken
    /// from it (a server may echo the request back).
    pub(crate) fn redact(&mut self, secret: &str) {
        let body = match self {
            Failure::Response { body, .. } => body,
            Failure::Undecodable {
                body: Some(body), ..
            } => body,
            _ => return,
        };
        let needle = secret.as_bytes();
        if needle.is_empty() || !body.windows(needle.len()).any(|w| w == needle) {
            return;
        }
        let mut out = Vec::with_capacity(body.len());
        let mut rest: &[u8] = body;
        while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(b"[REDACTED]");
            rest = &rest[at + needle.len()..];
        }
        out.extend_from_slice(rest);
        *body = Bytes::from(out);
    }

    /// What went wrong, for [`crate::retry::decide`].
    pub(crate) fn kind(&self) -> FailureKind {
        match self {
            Failure::Response { status, .. } => FailureKind::from_status(status.as_u16()),
            Failure::Transport(e) => FailureKind::from_transport(e),
            // The request never arrived whole: as good as not sent.
            Failure::BodyCut { .. } => FailureKind::NotSent,
            Failure::NoAnswer { .. } => FailureKind::TimedOut,
            Failure::Undecodable { .. } | Failure::Local(_) => FailureKind::Undecodable,
        }
    }

    /// The response's `Retry-After`, parsed.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        let headers = match self {
            Failure::Response { headers, .. } => headers,
            Failure::Undecodable {
                headers: Some(h), ..
            } => h,
            _ => return None,
        };
        let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
        crate::retry::parse_retry_after(value, std::time::SystemTime::now())
    }

    /// The HTTP status, when a response arrived.
    pub(crate) fn status(&self) -> Option<StatusCode> {
        match self {
            Failure::Response { status, .. } => Some(*status),
            Failure::Undecodable { status, .. } => *status,
            _ => None,
        }
    }

    /// Turns the final failure into the caller's error.
    pub(crate) fn into_error(
        self,
        mut context: ErrorContext,
        attempts: u32,
        decision: RetryDecision,
        source_id: Option<&str>,
    ) -> Error {
        context.attempts = attempts;
        let retry_after = self.retry_after();
        let (status, transport) = match self {
            Failure::Local(error) => return error,
            Failure::BodyCut {
                sent,
                total,
                reason,
                source,
            } => {
                return Error::UploadInterrupted {
                    sent,
                    total,
                    reason,
                    context: Box::new(context),
                    source: source.map(Arc::new),
                };
            }
            Failure::NoAnswer { waited, cancelled } => {
                let context = Box::new(context);
                return match source_id {
                    Some(source_id) if decision == RetryDecision::OutcomeUnknown => {
                        Error::OutcomeUnknown {
                            source_id: source_id.to_owned(),
                            reason: if cancelled {
                                format!(
                                    "stopped after the request's last byte was sent; no answer \
                                     within {waited:?}"
                                )
                            } else {
                                format!(
                                    "no answer within {waited:?} after the upload's last byte \
                                     (response timeout)"
                                )
                            },
                            context,
                            source: None,
                            lookup: None,
                        }
                    }
                    _ => Error::DeadlineExceeded {
                        deadline: waited,
                        context,
                    },
                };
            }
            Failure::Transport(e) => (None, Some(Arc::new(e))),
            Failure::Response {
                status,
                headers,
                body,
            } => {
                context.status = Some(status);
                context.request_id = request_id(&headers);
                context.body = ErrorBody::parse(&body);
                if context.body.is_none() {
                    context.body_snippet = body_snippet(&body);
                }
                (Some(status), None)
            }
            Failure::Undecodable {
                status,
                headers,
                body,
                reason,
            } => {
                context.status = status;
                context.request_id = headers.as_ref().and_then(request_id);
                context.body_snippet = body.as_deref().and_then(body_snippet);
                if decision == RetryDecision::OutcomeUnknown
                    && let Some(source_id) = source_id
                {
                    return Error::OutcomeUnknown {
                        source_id: source_id.to_owned(),
                        reason,
                        context: Box::new(context),
                        source: None,
                        lookup: None,
                    };
                }
                return Error::UndecodableBody {
                    reason,
                    context: Box::new(context),
                };
            }
        };
        let context = Box::new(context);
        if decision == RetryDecision::OutcomeUnknown
            && let Some(source_id) = source_id
        {
            let reason = match (&status, &transport) {
                (Some(s), _) => format!("the server answered HTTP {}", s.as_u16()),
                (None, Some(e)) if e.is_timeout() => {
                    "the request timed out after it was sent".to_owned()
                }
                _ => "the connection was lost after the request was sent".to_owned(),
            };
            return Error::OutcomeUnknown {
                source_id: source_id.to_owned(),
                reason,
                context,
                source: transport,
                lookup: None,
            };
        }
        if let Some(source) = transport {
            return if source.is_timeout() && !source.is_connect() {
                Error::Timeout { context, source }
            } else {
                Error::Transport { context, source }
            };
        }
        let status = status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match status.as_u16() {
            429 => Error::RateLimited {
                retry_after,
                context,
            },
            401 => Error::Unauthorized { context },
            403 => Error::Forbidden { context },
            404 => Error::NotFound { context },
            400 if context
                .body
                .as_ref()
                .is_some_and(ErrorBody::is_experimental_header_missing) =>
            {
                Error::ExperimentalHeaderMissing { context }
            }
            400 => Error::BadRequest { context },
            // A proxy's HTML page on 502 is a server error too; its snippet is in the context.
            500..=599 => Error::Server { context },
            _ => Error::UnexpectedStatus { context },
        }
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_error_response_dto() {
        let body = br#"{"detailCode":"400.1 Bad Request Content","trackingId":"abc123",
            "messages":[{"locale":"en-US","localeOrigin":"DEFAULT","text":"bad csv"}],
            "causes":[{"locale":null,"localeOrigin":null,"text":"row 3"}]}"#;
        let parsed = ErrorBody::parse(body).unwrap();
        assert_eq!(parsed.tracking_id.as_deref(), Some("abc123"));
        assert_eq!(parsed.messages[0].text, "bad csv");
        assert_eq!(parsed.messages[0].locale.as_deref(), Some("en-US"));
        assert_eq!(parsed.causes[0].text, "row 3");
    }

    #[test]
    fn parses_error_and_message_shapes() {
        let e =
            ErrorBody::parse(br#"{"error":"Experimental Header is missing or invalid."}"#).unwrap();
        assert!(e.is_experimental_header_missing());
        let m = ErrorBody::parse(br#"{"message":" Rate Limit Exceeded "}"#).unwrap();
        assert_eq!(m.messages[0].text, "Rate Limit Exceeded");
        let j = ErrorBody::parse(br#"{"error":{"code":7}}"#).unwrap();
        assert_eq!(j.messages[0].text, r#"{"code":7}"#);
        assert!(ErrorBody::parse(b"<html>bad gateway</html>").is_none());
        assert!(ErrorBody::parse(b"{}").is_none());
        assert!(ErrorBody::parse(b"[1,2]").is_none());
    }

    #[test]
    fn snippet_is_short_and_collapsed() {
        let html = format!("<html>\n  <body>{}</body></html>", "x".repeat(1000));
        let s = body_snippet(html.as_bytes()).unwrap();
        assert!(s.starts_with("<html> <body>xxx"));
        assert!(s.chars().count() <= SNIPPET_CHARS + 1);
        assert!(body_snippet(b"  \n").is_none());
    }

    #[test]
    fn error_mapping_by_status() {
        let response = |status: u16, body: &'static str| Failure::Response {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::from_static(body.as_bytes()),
        };
        let ctx = || ErrorContext::new("getAccountAggregationStatus", Some(ApiVersion::V2025));
        let e = response(
            400,
            r#"{"error":"Experimental Header is missing or invalid."}"#,
        )
        .into_error(ctx(), 1, RetryDecision::DoNotRetry, None);
        assert!(matches!(e, Error::ExperimentalHeaderMissing { .. }), "{e}");
        let e = response(403, "{}").into_error(ctx(), 1, RetryDecision::DoNotRetry, None);
        assert!(matches!(e, Error::Forbidden { .. }));
        let e = response(502, "<html>Bad Gateway</html>").into_error(
            ctx(),
            4,
            RetryDecision::Retry,
            None,
        );
        match &e {
            Error::Server { context } => {
                assert_eq!(context.attempts, 4);
                assert!(
                    context
                        .body_snippet
                        .as_deref()
                        .unwrap()
                        .contains("Bad Gateway")
                );
            }
            other => panic!("{other:?}"),
        }
        let e =
            response(500, "{}").into_error(ctx(), 1, RetryDecision::OutcomeUnknown, Some("src1"));
        assert!(e.is_outcome_unknown());
        assert!(e.to_string().contains("recent tasks"), "{e}");
    }
}

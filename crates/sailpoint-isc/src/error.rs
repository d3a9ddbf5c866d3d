//! The crate's one error type, [`Error`]: what went wrong, with the response details it carries
//! ([`ErrorContext`], defined in `error_context` and re-exported here).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;

use crate::checker::{CheckReport, Severity};
pub use crate::error_context::{
    EXPERIMENTAL_HEADER_MISSING_MESSAGE, ErrorBody, ErrorContext, ErrorMessage, REQUEST_ID_HEADER,
};
use crate::kind::AggregationKind;
use crate::status::AggregationStatus;

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

/// The one list of the variants that carry an [`ErrorContext`]: `with_context!(error, |context|
/// expr, otherwise)` evaluates `expr` with the variant's context bound (by reference or by
/// mutable reference, as `error` is), and `otherwise` for the other variants.
macro_rules! with_context {
    ($error:expr, |$context:ident| $found:expr, $otherwise:expr) => {
        match $error {
            Error::RateLimited { $context, .. }
            | Error::Unauthorized { $context }
            | Error::Forbidden { $context }
            | Error::NotFound { $context }
            | Error::BadRequest { $context }
            | Error::ExperimentalHeaderMissing { $context }
            | Error::UnexpectedStatus { $context }
            | Error::Server { $context }
            | Error::OutcomeUnknown { $context, .. }
            | Error::Transport { $context, .. }
            | Error::Timeout { $context, .. }
            | Error::DeadlineExceeded { $context, .. }
            | Error::UploadInterrupted { $context, .. }
            | Error::Cancelled { $context }
            | Error::UndecodableBody { $context, .. }
            | Error::AggregationExpired { $context, .. } => $found,
            _ => $otherwise,
        }
    };
}

impl Error {
    /// Response details, for the variants that have them.
    pub fn context(&self) -> Option<&ErrorContext> {
        with_context!(self, |context| Some(&**context), None)
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
        let Some(context) = with_context!(self, |context| Some(&mut **context), None) else {
            return;
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

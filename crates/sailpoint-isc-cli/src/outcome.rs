//! Exit codes, and the one place that maps the SDK's errors to them.

use sailpoint_isc::{AggregationState, Error};

/// The process exit codes (documented in `--help` and the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The aggregation completed, or the request succeeded when not waiting.
    Done = 0,
    /// The aggregation ended `CANCELLED` or `TERMINATED`.
    Unsuccessful = 1,
    /// Usage, configuration or input error; nothing was sent.
    Usage = 2,
    /// An API error after retries (including an unknown or expired aggregation id).
    Api = 3,
    /// Waiting timed out.
    Timeout = 4,
    /// The upload may or may not have started an aggregation.
    OutcomeUnknown = 5,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The exit code for a status read once (`status` without `--watch`): a running or completed
/// aggregation is a successful read; one that ended unsuccessfully is 1; `NOT_FOUND` is an API error.
pub fn exit_for_state(state: Option<&AggregationState>) -> Exit {
    match state {
        Some(state) if state.is_failure() => Exit::Unsuccessful,
        Some(AggregationState::NotFound) => Exit::Api,
        _ => Exit::Done,
    }
}

/// How an error is reported: its exit code, a short machine-readable kind, and a hint for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub exit: Exit,
    pub kind: &'static str,
    pub hint: Option<String>,
}

/// Maps an SDK error to its exit code, kind and hint. Every error the CLI reports goes through here.
pub fn classify(error: &Error) -> Classified {
    let (exit, kind, hint): (Exit, &'static str, Option<String>) = match error {
        Error::Configuration { .. } => (
            Exit::Usage,
            "configuration",
            Some("to try the command without a tenant, add --sandbox (a simulated one)".to_owned()),
        ),
        Error::InvalidInput { .. } => (Exit::Usage, "invalid_input", None),
        Error::InvalidFile { .. } => (
            Exit::Usage,
            "invalid_file",
            Some("nothing was sent to ISC".to_owned()),
        ),
        Error::AggregationFailed { .. } => (Exit::Unsuccessful, "aggregation_failed", None),
        Error::WaitTimeout { task_id, .. } => (
            Exit::Timeout,
            "timeout",
            Some(format!(
                "the aggregation may still be running; check it later with \
                 `isc-aggregate status {task_id} --watch`"
            )),
        ),
        Error::OutcomeUnknown { source_id, .. } => (
            Exit::OutcomeUnknown,
            "outcome_unknown",
            Some(format!(
                "the request may have started an aggregation on source {source_id}, and task \
                 status did not show it (yet); it was not retried to avoid starting a second \
                 one. Check `isc-aggregate tasks --source-id {source_id}` before running the \
                 import again, or use `import --if-idle`"
            )),
        ),
        Error::SourceNotFound { .. } => (
            Exit::Usage,
            "source_not_found",
            Some("nothing was uploaded; check the name (it must match exactly)".to_owned()),
        ),
        Error::AmbiguousSourceName { .. } => (
            Exit::Usage,
            "ambiguous_source_name",
            Some("nothing was uploaded; give the source's id instead".to_owned()),
        ),
        Error::AggregationExpired { .. } => (
            Exit::Api,
            "aggregation_not_found",
            Some(
                "ISC does not know this aggregation id, or no longer keeps its status \
                 (about an hour after it ended)"
                    .to_owned(),
            ),
        ),
        Error::Unauthorized { .. } => (
            Exit::Api,
            "unauthorized",
            Some("check the client id and secret".to_owned()),
        ),
        Error::Forbidden { .. } => (
            Exit::Api,
            "forbidden",
            Some(
                "the client lacks the permission for this call (e.g. the idn:sources:manage scope)"
                    .to_owned(),
            ),
        ),
        Error::RateLimited { .. } => (Exit::Api, "rate_limited", None),
        Error::NotFound { .. } => (
            Exit::Api,
            "not_found",
            Some("check the source id".to_owned()),
        ),
        Error::BadRequest { .. } => (Exit::Api, "bad_request", None),
        Error::ExperimentalHeaderMissing { .. } => (Exit::Api, "experimental_header_missing", None),
        Error::Server { .. } => (Exit::Api, "server_error", None),
        Error::Transport { .. } => (Exit::Api, "transport", None),
        Error::Timeout { .. } => (Exit::Api, "request_timeout", None),
        Error::DeadlineExceeded { .. } => (
            Exit::Api,
            "deadline_exceeded",
            Some("ISC did not answer within the retry deadline; try again later".to_owned()),
        ),
        Error::UndecodableBody { .. } => (Exit::Api, "undecodable_response", None),
        _ => (Exit::Api, "api_error", None),
    };
    Classified { exit, kind, hint }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn local_errors_are_usage_errors() {
        let e = Error::Configuration {
            message: "x".into(),
        };
        assert_eq!(classify(&e).exit, Exit::Usage);
        let e = Error::InvalidInput {
            message: "x".into(),
        };
        assert_eq!(classify(&e).exit.code(), 2);
    }

    #[test]
    fn waiting_outcomes() {
        let e = Error::WaitTimeout {
            task_id: "abc".into(),
            waited: Duration::from_secs(1),
            last_status: None,
        };
        let c = classify(&e);
        assert_eq!(c.exit.code(), 4);
        assert!(c.hint.unwrap().contains("isc-aggregate status abc --watch"));
        let e = Error::AggregationFailed {
            task_id: "abc".into(),
            status: Box::default(),
        };
        assert_eq!(classify(&e).exit.code(), 1);
    }
}

//! Exit codes, and the one place that maps the SDK's errors to them.

use sailpoint_isc::{AggregationState, Error};

/// The process exit codes (documented in `--help` and the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The aggregation completed, or the request succeeded when not waiting.
    Done,
    /// The aggregation ended `CANCELLED` or `TERMINATED`, or ISC refused the start.
    Unsuccessful,
    /// Usage, configuration or input error; nothing was sent.
    Usage,
    /// An API error after retries (including an unknown or expired aggregation id).
    Api,
    /// Waiting timed out.
    Timeout,
    /// The upload may or may not have started an aggregation.
    OutcomeUnknown,
    /// Stopped by a signal: 130 (SIGINT) or 143 (SIGTERM).
    Stopped(u8),
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Done => 0,
            Exit::Unsuccessful => 1,
            Exit::Usage => 2,
            Exit::Api => 3,
            Exit::Timeout => 4,
            Exit::OutcomeUnknown => 5,
            Exit::Stopped(code) => code,
        }
    }

    /// How much a batch item's code weighs when the batch's code is chosen: outcome unknown
    /// first (someone must check before running it again), then API errors, input errors found
    /// at run time, timeouts, and aggregations that ended unsuccessfully. Not the numeric order:
    /// 3 outranks 4.
    fn batch_rank(self) -> u8 {
        match self {
            Exit::Stopped(_) => 6,
            Exit::OutcomeUnknown => 5,
            Exit::Api => 4,
            Exit::Timeout => 3,
            Exit::Unsuccessful => 2,
            // Never an item's code (see `classify_batch_item`); ranked last to be safe.
            Exit::Usage => 1,
            Exit::Done => 0,
        }
    }
}

/// How one item of a batch ended, for its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemExit {
    Completed,
    /// Not started (the batch's maximum wait passed first): does not raise the code by itself.
    Skipped,
    Failed(Exit),
}

/// A batch item's error, classified as [`classify`] does, except that a source name that does
/// not resolve (no match, or several) is an API error (3) there: the manifest was checked before
/// any request, and names are only known to ISC.
pub fn classify_batch_item(error: &Error) -> Classified {
    let mut classified = classify(error);
    // The manifest was checked before anything was sent, so an item that still fails on its
    // input (a name that matches no source, or several; a name resolving to a source another
    // item has; a file changed after the check) is a failure of that item against ISC: 3.
    if classified.exit == Exit::Usage {
        classified.exit = Exit::Api;
    }
    classified
}

/// The exit code of a batch: 0 when every item completed, otherwise the item code that comes
/// first in the order 5, 3, 4, 1.
pub fn batch_exit(items: impl IntoIterator<Item = ItemExit>) -> Exit {
    let mut worst = Exit::Done;
    let mut all_completed = true;
    for item in items {
        match item {
            ItemExit::Completed => {}
            ItemExit::Skipped => all_completed = false,
            ItemExit::Failed(exit) => {
                all_completed = false;
                if exit.batch_rank() > worst.batch_rank() {
                    worst = exit;
                }
            }
        }
    }
    if worst == Exit::Done && !all_completed {
        // Only skipped items: not started because the time ran out (the SDK skips items only
        // then, and an item in flight at that moment times out or fails, so this is defensive).
        return Exit::Timeout;
    }
    worst
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
        Error::FileCheckFailed {
            source_id,
            path,
            kind,
            ..
        } => (
            Exit::Usage,
            "file_check_failed",
            Some(format!(
                "nothing of it was uploaded; check the file alone with `isc-aggregate check \
                 {source_id} --file {}{}`",
                path.display(),
                if *kind == sailpoint_isc::AggregationKind::Entitlements {
                    " --entitlements"
                } else {
                    ""
                }
            )),
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
            Some(
                "the request deadline passed before ISC answered (waiting for the rate limit, \
                 Retry-After, a token, or a read); an aggregation start was not sent. Try again \
                 later or raise --request-deadline"
                    .to_owned(),
            ),
        ),
        Error::UploadInterrupted { .. } => (
            Exit::Api,
            "upload_interrupted",
            Some(
                "ISC did not receive the whole file, so no aggregation started; run the import \
                 again (a slow link may need a longer --stall-timeout)"
                    .to_owned(),
            ),
        ),
        Error::StartRefused { source_id, .. } => (
            Exit::Unsuccessful,
            "start_refused",
            Some(format!(
                "an aggregation is probably still running on source {source_id}: wait for it \
                 (`isc-aggregate tasks --source-id {source_id} --running`) or use \
                 `import --if-idle`, which follows the running one instead"
            )),
        ),
        Error::UndecodableBody { .. } => (Exit::Api, "undecodable_response", None),
        Error::Cancelled { .. } => (
            Exit::Api,
            "cancelled",
            Some("stopped before the request took effect: nothing was started".to_owned()),
        ),
        _ => (Exit::Api, "api_error", None),
    };
    Classified { exit, kind, hint }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn batch_exit_is_by_precedence_not_by_number() {
        use ItemExit::{Completed, Failed, Skipped};
        assert_eq!(batch_exit([]), Exit::Done);
        assert_eq!(batch_exit([Completed, Completed]), Exit::Done);
        assert_eq!(
            batch_exit([Failed(Exit::Unsuccessful), Failed(Exit::OutcomeUnknown)]),
            Exit::OutcomeUnknown
        );
        assert_eq!(
            batch_exit([Failed(Exit::Timeout), Failed(Exit::Api), Completed]),
            Exit::Api
        );
        assert_eq!(
            batch_exit([Failed(Exit::Timeout), Failed(Exit::Unsuccessful)]),
            Exit::Timeout
        );
        assert_eq!(
            batch_exit([Failed(Exit::Unsuccessful), Failed(Exit::Timeout)]),
            Exit::Timeout
        );
        assert_eq!(
            batch_exit([Skipped, Failed(Exit::Unsuccessful)]),
            Exit::Unsuccessful
        );
        assert_eq!(batch_exit([Skipped, Completed]), Exit::Timeout);
    }

    #[test]
    fn unresolvable_names_are_api_errors_in_a_batch() {
        let e = Error::SourceNotFound {
            name: "HR".into(),
            similar: Vec::new(),
        };
        assert_eq!(classify(&e).exit, Exit::Usage);
        let c = classify_batch_item(&e);
        assert_eq!(c.exit, Exit::Api);
        assert_eq!(c.kind, "source_not_found");
        // Any input failure of an item after the manifest check is 3 too.
        let e = Error::InvalidInput {
            message: "x".into(),
        };
        assert_eq!(classify_batch_item(&e).exit, Exit::Api);
    }

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

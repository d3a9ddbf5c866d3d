//! How one batch item ended, in the words of the output: its outcome name, exit code, error,
//! messages and counts.

use sailpoint_isc::batch::ItemOutcome;
use sailpoint_isc::{AggregationStatus, Error};
use serde_json::Value;

use crate::outcome::{Classified, Exit, ItemExit, classify_batch_item};
use crate::record::Verdict;
use crate::report::error_json;

/// How one item ended, in the words of the output.
pub(crate) struct Summary<'a> {
    /// `completed`, `skipped`, `started` (still running when the batch was stopped), or the
    /// error's kind (`aggregation_failed`, `outcome_unknown`, …).
    pub(crate) outcome: &'static str,
    /// The item's exit code; `None` for an item that did not end (skipped, or still running).
    pub(crate) exit: Option<Exit>,
    pub(crate) error: Option<&'a Error>,
    pub(crate) classified: Option<Classified>,
    pub(crate) skip_reason: Option<&'a str>,
    /// The aggregation still running when the batch was stopped.
    pub(crate) running: Option<&'a str>,
    /// ISC's messages about the ending (a failed task's errors, a refused start's reasons).
    pub(crate) messages: Vec<&'a str>,
}

impl<'a> Summary<'a> {
    pub(crate) fn of(outcome: &'a ItemOutcome) -> Self {
        let summary = Summary {
            outcome: "completed",
            exit: None,
            error: None,
            classified: None,
            skip_reason: None,
            running: None,
            messages: outcome.task_messages(),
        };
        match outcome {
            ItemOutcome::Completed(_) => Summary {
                exit: Some(Exit::Done),
                ..summary
            },
            ItemOutcome::Failed(error) => {
                let classified = classify_batch_item(error);
                Summary {
                    outcome: classified.kind,
                    exit: Some(classified.exit),
                    error: Some(error),
                    classified: Some(classified),
                    ..summary
                }
            }
            ItemOutcome::Skipped { reason } => Summary {
                outcome: "skipped",
                skip_reason: Some(reason),
                ..summary
            },
            ItemOutcome::Stopped { task_id, .. } => Summary {
                outcome: "started",
                running: Some(task_id),
                ..summary
            },
            // `ItemOutcome` is non-exhaustive: anything new is not a completion.
            _ => Summary {
                outcome: "unknown",
                exit: Some(Exit::Api),
                ..summary
            },
        }
    }

    /// How the item counts in a test report.
    pub(crate) fn verdict(&self) -> Verdict {
        match self.exit {
            Some(Exit::Done) => Verdict::Passed,
            Some(_) => match self.outcome {
                "aggregation_failed" | "start_refused" | "file_check_failed" => Verdict::Failure,
                _ => Verdict::Error,
            },
            // Still running when the batch was stopped: not known to have completed.
            None if self.running.is_some() => Verdict::Error,
            None => Verdict::Skipped,
        }
    }

    /// The file check's findings, when it failed (every one kept, then how many more).
    pub(crate) fn findings(&self) -> Vec<String> {
        let Some(Error::FileCheckFailed { report, .. }) = self.error else {
            return Vec::new();
        };
        let mut findings: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
        if report.omitted > 0 {
            findings.push(format!("… and {} more findings", report.omitted));
        }
        findings
    }

    /// What happened, on one line, for the reports.
    pub(crate) fn detail(&self, status: Option<&AggregationStatus>) -> String {
        if let Some(id) = self.running {
            return format!(
                "still running when the batch was stopped: aggregation {id} {}",
                follow_hint(id)
            );
        }
        match (self.error, self.skip_reason) {
            (Some(error), _) => error.to_string(),
            (None, Some(reason)) => reason.to_owned(),
            (None, None) => match status {
                Some(status) => format!("completed: {status}"),
                None => "completed".to_owned(),
            },
        }
    }

    pub(crate) fn item_exit(&self) -> ItemExit {
        match self.exit {
            Some(Exit::Done) => ItemExit::Completed,
            Some(exit) => ItemExit::Failed(exit),
            None => ItemExit::Skipped,
        }
    }

    /// An item that ended unsuccessfully (any code but 0).
    pub(crate) fn is_failure(&self) -> bool {
        self.exit.is_some_and(|exit| exit != Exit::Done)
    }

    pub(crate) fn error_json(&self) -> Option<Value> {
        match (self.error, &self.classified) {
            (Some(error), Some(classified)) => Some(error_json(error, classified)),
            _ => None,
        }
    }

    /// ISC's messages for a line of text (a refused start's are in its error already).
    pub(crate) fn messages_suffix(&self) -> String {
        if self.messages.is_empty() || matches!(self.error, Some(Error::StartRefused { .. })) {
            return String::new();
        }
        format!("; ISC says: {}", self.messages.join("; "))
    }

    /// The text of a finished line.
    pub(crate) fn text(&self, status: Option<&AggregationStatus>) -> String {
        if let Some(id) = self.running {
            return format!("started: aggregation {id} {}", follow_hint(id));
        }
        match (self.error, self.skip_reason) {
            (Some(error), _) => format!(
                "{} (exit {}): {error}{}",
                self.outcome,
                self.code(),
                self.messages_suffix()
            ),
            (None, Some(reason)) => format!("skipped: {reason}"),
            (None, None) => match status {
                Some(status) => format!("completed: {status}"),
                None => "completed".to_owned(),
            },
        }
    }

    /// The RESULT column: the final state, or what went wrong, with the item's code.
    pub(crate) fn result_column(&self, status: Option<&AggregationStatus>) -> String {
        match self.exit {
            None if self.running.is_some() => "started (still running)".to_owned(),
            None => "skipped".to_owned(),
            Some(Exit::Done) => status.map_or("COMPLETED", |s| s.state_name()).to_owned(),
            Some(exit) => {
                let what = match (self.outcome, status) {
                    ("aggregation_failed", Some(status)) => status.state_name().to_owned(),
                    (kind, _) => kind.to_owned(),
                };
                format!("{what} (exit {})", exit.code())
            }
        }
    }

    pub(crate) fn code(&self) -> u8 {
        self.exit.map_or(0, Exit::code)
    }
}

/// The status an outcome carries: the final one of a completed or failed aggregation, the last
/// one seen of one that timed out.
pub(crate) fn final_status(outcome: &ItemOutcome) -> Option<&AggregationStatus> {
    match outcome {
        ItemOutcome::Completed(status) => Some(status),
        ItemOutcome::Failed(Error::AggregationFailed { status, .. }) => Some(status),
        ItemOutcome::Failed(Error::WaitTimeout { last_status, .. })
        | ItemOutcome::Stopped { last_status, .. } => last_status.as_deref(),
        _ => None,
    }
}

/// The counts of a status: processed of total accounts, or the counts the task returned (an
/// entitlement aggregation's `total`, `groupsCreated`, …).
pub(crate) fn counts_text(status: &AggregationStatus) -> Option<String> {
    match (status.processed_accounts, status.total_accounts) {
        (done, Some(total)) => Some(format!("{} of {total}", done.unwrap_or(0))),
        (Some(done), None) => Some(done.to_string()),
        (None, None) if !status.counts.is_empty() => Some(
            status
                .counts
                .iter()
                .map(|c| format!("{} {}", c.name, c.value))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (None, None) => None,
    }
}

/// What to say about an aggregation the batch stopped waiting for.
pub(crate) fn follow_hint(id: &str) -> String {
    format!(
        "still runs: it was started once and ISC goes on with it; follow it with \
         `isc-aggregate status {id} --watch`"
    )
}

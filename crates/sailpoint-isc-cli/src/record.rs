//! A batch's results as plain data, what the report files (`--junit`, `--summary-markdown`) are
//! rendered from.

use std::time::Duration;

use sailpoint_isc::AggregationKind;

/// How an item counts in a test report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Completed.
    Passed,
    /// Ran and failed: ended unsuccessfully, ISC refused the start, the file check failed.
    Failure,
    /// Could not tell or could not run: API errors, outcome unknown, timeouts, stopped while
    /// running.
    Error,
    /// Not started.
    Skipped,
}

/// One item's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRecord {
    /// The item's index in the batch (0-based).
    pub item: usize,
    /// Its manifest line, if it came from a manifest.
    pub line: Option<usize>,
    /// The source as given: its name or its id.
    pub source: String,
    /// The source id, when known.
    pub source_id: Option<String>,
    pub kind: AggregationKind,
    /// The file as given, `None` for a direct-connect source.
    pub file: Option<String>,
    pub verdict: Verdict,
    /// `completed`, `skipped`, `started`, or the error kind (`aggregation_failed`, …).
    pub outcome: String,
    /// The item's exit code, when it ended.
    pub exit_code: Option<u8>,
    pub aggregation_id: Option<String>,
    /// The start, in words (`aggregation 123 started on source abc …`).
    pub started: Option<String>,
    /// The last state seen.
    pub state: Option<String>,
    /// The counts of the last status (`300 of 300`, `total 12, groupsCreated 3`).
    pub counts: Option<String>,
    /// What happened, on one line (the error, the skip reason, the final status).
    pub detail: String,
    pub hint: Option<String>,
    /// ISC's messages about the ending.
    pub messages: Vec<String>,
    /// The file check's findings, when it failed.
    pub findings: Vec<String>,
    /// From the item's start to its end (zero when it never started).
    pub time: Duration,
}

/// A batch's results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchRecord {
    /// What the items came from (`manifest batch.toml`, `folder exports`).
    pub input: String,
    pub items: Vec<ItemRecord>,
    pub elapsed: Duration,
    pub exit_code: u8,
    /// The signal that stopped the batch (`SIGTERM`).
    pub signal: Option<&'static str>,
    /// Entries of the folder that were not aggregated, and why.
    pub unmatched: Vec<(String, String)>,
    /// The input was refused (nothing sent): its problems.
    pub refused: Vec<String>,
}

impl BatchRecord {
    /// How many items have this verdict.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.items.iter().filter(|i| i.verdict == verdict).count()
    }
}

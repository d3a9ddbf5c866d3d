//! What the command prints: the result on stdout (human text or NDJSON), progress and messages on
//! stderr (a progress bar on a terminal, otherwise one line per status change).

use std::fmt::Display;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sailpoint_isc::preflight::{CheckReport, FileSchema, Finding, Severity};
use sailpoint_isc::{
    AggregationKind, AggregationProgress, AggregationStatus, Error, StartOrigin,
    StartedAggregation, TaskStatus,
};
use serde_json::{Value, json};

use crate::logging::ActiveBar;
use crate::outcome::{Classified, Exit, classify};
use crate::signals::Signal;

/// Spinner frames; the last one is shown when the bar finishes.
pub(crate) const TICKS_OK: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", "✔"];
pub(crate) const TICKS_FAILED: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", "✖"];

/// Set once stdout turned out closed (its reader, e.g. `head`, went away): nothing more is written
/// to it, and the command carries on to its normal exit.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to stdout through `write` (under one lock, then flushed) unless stdout was found
/// closed before. A closed stdout (`BrokenPipe`) is remembered, so the rest of the output is
/// dropped quietly; other write errors are ignored. Never panics, unlike `println!`.
pub(crate) fn out_with(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = io::stdout().lock();
    let written = write(&mut stdout).and_then(|()| stdout.flush());
    if let Err(e) = written
        && e.kind() == io::ErrorKind::BrokenPipe
    {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Writes one line to stdout, like `println!` but quiet once stdout is closed (see
/// [`out_with`]).
pub(crate) fn out_line(line: impl Display) {
    out_with(|w| writeln!(w, "{line}"));
}

/// The one NDJSON emitter: one JSON object per line on stdout (`--json`).
pub(crate) fn emit(value: Value) {
    out_line(value);
}

/// Writes one line to stderr; a closed stderr is ignored (unlike `eprintln!`, which panics).
pub(crate) fn err_line(line: impl Display) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Everything known about the aggregation being reported on.
#[derive(Debug, Default)]
pub struct Subject {
    pub aggregation_id: Option<String>,
    pub source_id: Option<String>,
    pub last_status: Option<AggregationStatus>,
}

/// Prints events and results in the chosen format.
pub struct Reporter {
    json: bool,
    progress_bar: bool,
    active_bar: ActiveBar,
    bar: Option<ProgressBar>,
    started: Instant,
    /// True with `--sandbox`: the tenant stops with this process.
    pub sandbox: bool,
    pub subject: Subject,
}

impl Reporter {
    /// A reporter; the progress bar is used when stderr is a terminal.
    pub fn new(json: bool, active_bar: ActiveBar) -> Self {
        Reporter {
            json,
            progress_bar: io::stderr().is_terminal(),
            active_bar,
            bar: None,
            started: Instant::now(),
            sandbox: false,
            subject: Subject::default(),
        }
    }

    /// With `--json`: NDJSON on stdout.
    pub fn json(&self) -> bool {
        self.json
    }

    /// True when stderr is a terminal (progress bars are drawn).
    pub fn progress_bar(&self) -> bool {
        self.progress_bar
    }

    /// The handle the log writer uses to print around progress bars.
    pub fn active_bar(&self) -> ActiveBar {
        self.active_bar.clone()
    }

    /// A message for humans on stderr (never on stdout).
    pub fn note(&self, message: impl AsRef<str>) {
        let message = message.as_ref();
        match &self.bar {
            Some(bar) => bar.suspend(|| err_line(message)),
            None => err_line(message),
        }
    }

    /// ISC accepted the import.
    pub fn accepted(
        &mut self,
        started: &StartedAggregation,
        file: Option<&Path>,
        disable_optimization: bool,
        waiting: bool,
    ) {
        self.subject.aggregation_id = Some(started.task_id.clone());
        self.subject.source_id = Some(started.source_id.clone());
        if self.json {
            emit(json!({
                "type": "accepted",
                "aggregationId": started.task_id,
                "sourceId": started.source_id,
                "apiVersion": started.api_version.to_string(),
                "kind": started.kind.as_str(),
                "origin": started.origin.as_str(),
                "file": file.map(|f| f.display().to_string()),
                "disableOptimization": disable_optimization,
            }));
        }
        let what = match (started.origin, file) {
            (StartOrigin::AlreadyRunning, _) => {
                "an aggregation is already running on the source; nothing was uploaded".to_owned()
            }
            (StartOrigin::Recovered, _) => "the start's response was lost, but task status shows \
                 ISC started it (once)"
                .to_owned(),
            (_, Some(f)) => format!("upload of {} ({}) accepted", f.display(), started.kind),
            (_, None) => "aggregation request accepted".to_owned(),
        };
        self.note(format!(
            "{what}: aggregation {} on source {}",
            started.task_id, started.source_id
        ));
        if !waiting && !self.json {
            if self.sandbox {
                self.note(
                    "the simulated tenant stops when this command exits; use --wait to follow \
                     the aggregation",
                );
            } else {
                self.note(format!(
                    "follow it with: isc-aggregate status {} --watch",
                    started.task_id
                ));
            }
        }
    }

    /// Waiting begins.
    pub fn start_waiting(&mut self, aggregation_id: &str) {
        self.started = Instant::now();
        self.subject.aggregation_id = Some(aggregation_id.to_owned());
        if self.progress_bar {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(spinner_style(TICKS_OK));
            bar.set_prefix("waiting");
            bar.set_message(format!("for aggregation {aggregation_id}"));
            bar.enable_steady_tick(Duration::from_millis(100));
            self.active_bar.set(Some(bar.clone()));
            self.bar = Some(bar);
        } else if !self.json {
            self.note(format!("waiting for aggregation {aggregation_id}"));
        }
    }

    /// One polled status.
    pub fn progress(&mut self, progress: &AggregationProgress) {
        let status = &progress.status;
        self.subject.last_status = Some(status.clone());
        if let Some(bar) = &self.bar {
            update_bar(bar, status);
        }
        if !progress.changed {
            return;
        }
        if self.json {
            emit(json!({
                "type": "status",
                "aggregationId": self.subject.aggregation_id,
                "poll": progress.polls,
                "elapsedMs": duration_ms(progress.elapsed),
                "status": status_json(status),
            }));
        } else if self.bar.is_none() {
            self.note(format!(
                "[{:>6.1}s] {status}",
                progress.elapsed.as_secs_f64()
            ));
        }
    }

    /// Waiting is over; the bar keeps its last frame with a final mark.
    pub fn stop_waiting(&mut self, ok: bool) {
        if let Some(bar) = self.bar.take() {
            let ticks = if ok { TICKS_OK } else { TICKS_FAILED };
            let counted = self.subject.last_status.as_ref().is_some_and(counted);
            bar.set_style(if counted {
                bar_style(ticks)
            } else {
                spinner_style(ticks)
            });
            bar.finish();
            // The bar's last frame stays; end its line so what follows starts on a new one.
            if !bar.is_hidden() {
                err_line("");
            }
            self.active_bar.set(None);
        }
    }

    /// The task list of `tasks`: a line per task (or an NDJSON object per task), then the result.
    pub fn tasks(&self, tasks: &[TaskStatus]) -> Exit {
        if self.json {
            for task in tasks {
                emit(json!({"type": "task", "task": task}));
            }
            emit(json!({
                "type": "result",
                "outcome": "listed",
                "exitCode": Exit::Done.code(),
                "sourceId": self.subject.source_id,
                "count": tasks.len(),
            }));
        } else if tasks.is_empty() {
            self.note("no matching aggregation tasks (ISC keeps task status for 90 days)");
        } else {
            out_with(|out| {
                writeln!(
                    out,
                    "{:<34} {:<26} {:<10} {:<34} PROGRESS",
                    "ID", "CREATED", "STATUS", "SOURCE"
                )?;
                for task in tasks {
                    writeln!(
                        out,
                        "{:<34} {:<26} {:<10} {:<34} {}",
                        task.id.as_deref().unwrap_or("-"),
                        task.created
                            .map(|c| c.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                            .unwrap_or_else(|| "-".to_owned()),
                        task.completion_status
                            .as_ref()
                            .map_or("RUNNING", |s| s.as_str()),
                        task.source_id().unwrap_or("-"),
                        task.progress.as_deref().unwrap_or(""),
                    )?;
                }
                Ok(())
            });
        }
        Exit::Done
    }

    /// The final result of a run that did not fail with an error.
    pub fn result(&self, exit: Exit, outcome: &str) -> Exit {
        let status = self.subject.last_status.as_ref();
        if self.json {
            emit(self.result_json(exit, outcome, None));
        } else if let Some(status) = status {
            self.print_summary(status);
        } else if let Some(id) = &self.subject.aggregation_id {
            // Accepted, not waited for: the id alone, for scripts.
            out_line(id);
        }
        exit
    }

    /// The result of `check`: each finding (`FILE:line N: problem: …`) and a summary on
    /// stdout, or NDJSON `finding` objects and the result; exit 0 when clean, 2 otherwise.
    pub fn check_report(
        &self,
        path: &Path,
        kind: AggregationKind,
        schema: &FileSchema,
        report: &CheckReport,
    ) -> Exit {
        let exit = if report.is_clean() {
            Exit::Done
        } else {
            Exit::Usage
        };
        let outcome = if report.is_clean() {
            "clean"
        } else {
            "problems"
        };
        if self.json {
            for finding in &report.findings {
                emit(finding_json(finding));
            }
            emit(json!({
                "type": "result",
                "outcome": outcome,
                "exitCode": exit.code(),
                "sourceId": self.subject.source_id,
                "file": path.display().to_string(),
                "kind": kind.as_str(),
                "columns": schema.columns,
                "identityAttribute": schema.identity_attribute,
                "lines": report.lines,
                "rows": report.rows,
                "bytes": report.bytes,
                "problems": report.total_problems(),
                "warnings": report.warnings(),
                "omitted": report.omitted,
            }));
            return exit;
        }
        let summary = format!(
            "{}: {} rows checked against the {kind} schema of source {} ({}); {} problem(s), \
             {} warning(s){}",
            path.display(),
            report.rows,
            self.subject.source_id.as_deref().unwrap_or("?"),
            schema.columns.join(","),
            report.total_problems(),
            report.warnings(),
            if report.omitted > 0 {
                format!(
                    ", {} more finding(s) of the same kinds not listed",
                    report.omitted
                )
            } else {
                String::new()
            }
        );
        out_with(|out| {
            for finding in &report.findings {
                writeln!(out, "{}:{finding}", path.display())?;
            }
            writeln!(out, "{summary}")
        });
        if !report.is_clean() {
            self.note("the file does not fit the source's schema; do not upload it as it is");
        }
        exit
    }

    /// The final result of a failed run: stderr message, summary or JSON result.
    pub fn failure(&mut self, error: &Error) -> Exit {
        let classified = classify(error);
        if let Error::AggregationFailed { status, .. } = error {
            self.subject.last_status = Some((**status).clone());
        }
        self.note(format!("error: {error}"));
        // A file that failed its check: every finding, with its line.
        if let Error::FileCheckFailed { path, report, .. } = error
            && !self.json
        {
            for finding in &report.findings {
                self.note(format!("{}:{finding}", path.display()));
            }
        }
        if let Some(hint) = &classified.hint {
            self.note(format!("hint: {hint}"));
        }
        if self.json {
            emit(self.result_json(
                classified.exit,
                classified.kind,
                Some(error_json(error, &classified)),
            ));
        } else if let Some(status) = &self.subject.last_status
            && matches!(classified.exit, Exit::Unsuccessful | Exit::Timeout)
        {
            self.print_summary(status);
        }
        classified.exit
    }

    /// A local failure that is not an SDK error (e.g. the sandbox could not start).
    pub fn local_failure(&self, exit: Exit, kind: &'static str, message: &str) -> Exit {
        self.note(format!("error: {message}"));
        if self.json {
            let error = json!({ "kind": kind, "message": message });
            emit(self.result_json(exit, kind, Some(error)));
        }
        exit
    }

    fn result_json(&self, exit: Exit, outcome: &str, error: Option<Value>) -> Value {
        json!({
            "type": "result",
            "outcome": outcome,
            "exitCode": exit.code(),
            "aggregationId": self.subject.aggregation_id,
            "sourceId": self.subject.source_id,
            "status": self.subject.last_status.as_ref().map(status_json),
            "messages": self.subject.last_status.as_ref().map(|s| s.task_messages()),
            "elapsedMs": duration_ms(self.started.elapsed()),
            "error": error,
        })
    }

    /// The command was stopped by a signal: what is known (the aggregation that started, if
    /// any, and how to follow it), then the signal's exit code.
    pub fn stopped(&self, signal: Signal, what: &str) -> Exit {
        let exit = Exit::Stopped(signal.exit_code());
        let id = self.subject.aggregation_id.as_deref();
        self.note(format!("stopped by {}: {what}", signal.name()));
        if let Some(id) = id {
            self.note(format!(
                "aggregation {id} was started; follow it with: isc-aggregate status {id} --watch"
            ));
        }
        if self.json {
            let mut result = self.result_json(exit, "stopped", None);
            result["signal"] = json!(signal.name());
            result["detail"] = json!(what);
            emit(result);
        } else if let Some(id) = id {
            out_line(id);
        }
        exit
    }

    fn print_summary(&self, status: &AggregationStatus) {
        let mut lines = Vec::new();
        let id = self.subject.aggregation_id.as_deref().unwrap_or("?");
        lines.push(format!("aggregation {id}: {}", status.state_name()));
        if let Some(source) = &self.subject.source_id {
            lines.push(format!("  source       {source}"));
        }
        if let Some(start) = status.start {
            lines.push(format!(
                "  started      {}",
                start.format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
        let pair = |label: &str, done: Option<u64>, total: Option<u64>, verb: &str| {
            total.map(|total| format!("  {label:<12} {} of {total} {verb}", done.unwrap_or(0)))
        };
        lines.extend(pair(
            "accounts",
            status.processed_accounts,
            status.total_accounts,
            "processed",
        ));
        lines.extend(pair(
            "identities",
            status.processed_identities,
            status.total_identities,
            "refreshed",
        ));
        lines.extend(pair(
            "deletions",
            status.deleted_accounts,
            status.total_accounts_marked_for_deletion,
            "done",
        ));
        if status.total_accounts.is_none() && status.task.is_none() && !status.is_terminal() {
            lines.push("  accounts     not counted yet".to_owned());
        }
        // What the task returned (an entitlement aggregation's counts).
        for count in &status.counts {
            lines.push(format!("  {:<12} {}", count.name, count.value));
        }
        // Why it ended as it did: the task's messages (errors of a failure, warnings).
        for message in status.task_messages() {
            lines.push(format!("  message      {message}"));
        }
        out_with(|out| lines.iter().try_for_each(|line| writeln!(out, "{line}")));
    }
}

pub(crate) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn status_json(status: &AggregationStatus) -> Value {
    serde_json::to_value(status).unwrap_or(Value::Null)
}

/// One finding of a file check, as JSON.
pub(crate) fn finding_json(finding: &Finding) -> Value {
    json!({
        "type": "finding",
        "line": finding.line,
        "severity": finding.severity.as_str(),
        "issue": finding.issue.code(),
        "message": finding.issue.to_string(),
    })
}

pub(crate) fn error_json(error: &Error, classified: &Classified) -> Value {
    // ISC's own words for an unsuccessful ending or a refused start.
    let messages: Vec<String> = match error {
        Error::AggregationFailed { status, .. } => status
            .task_messages()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        Error::StartRefused { messages, .. } => messages.clone(),
        _ => Vec::new(),
    };
    let findings: Vec<Value> = match error {
        Error::FileCheckFailed { report, .. } => report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Problem)
            .map(finding_json)
            .collect(),
        _ => Vec::new(),
    };
    json!({
        "kind": classified.kind,
        "message": error.to_string(),
        "messages": messages,
        "findings": findings,
        "httpStatus": error.status().map(|s| s.as_u16()),
        "trackingId": error.tracking_id(),
        "requestId": error.request_id(),
        "attempts": error.attempts(),
        "hint": classified.hint,
    })
}

pub(crate) fn spinner_style(ticks: &[&str]) -> ProgressStyle {
    ProgressStyle::with_template("{spinner:.green} {prefix:.bold} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .tick_strings(ticks)
}

fn bar_style(ticks: &[&str]) -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner:.green} {prefix:.bold} [{wide_bar:.cyan/blue}] {pos}/{len} accounts{msg} ({elapsed})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .tick_strings(ticks)
    .progress_chars("=> ")
}

/// True when ISC reports a non-zero account total to draw a bar for.
fn counted(status: &AggregationStatus) -> bool {
    status.total_accounts.is_some_and(|t| t > 0)
}

pub(crate) fn update_bar(bar: &ProgressBar, status: &AggregationStatus) {
    let mut extra = String::new();
    if let (Some(done), Some(total)) = (status.processed_identities, status.total_identities) {
        extra.push_str(&format!(", identities {done}/{total}"));
    }
    if let Some(total) = status.total_accounts_marked_for_deletion.filter(|t| *t > 0) {
        let done = status.deleted_accounts.unwrap_or(0);
        extra.push_str(&format!(", deletions {done}/{total}"));
    }
    if counted(status) {
        let total = status.total_accounts.unwrap_or(0);
        if bar.length() != Some(total) {
            bar.set_style(bar_style(TICKS_OK));
            bar.set_length(total);
        }
        bar.set_position(status.processed_accounts.unwrap_or(0).min(total));
        bar.set_message(extra);
    } else {
        let message = match status.total_accounts {
            Some(0) => format!("no new or changed accounts{extra}"),
            _ => "collecting accounts".to_owned(),
        };
        bar.set_message(message);
    }
    bar.set_prefix(status.state_name().to_owned());
}

//! `batch`: the aggregations of a manifest (or of a folder's CSV files, `--dir`), run through
//! the SDK's batch API (`Client::aggregate_batch`), reported per event and per item, and, on
//! request, as a JUnit XML report and a Markdown summary (`--junit`, `--summary-markdown`).
//!
//! Output: on a terminal, one progress bar per running aggregation and a total bar (one
//! `MultiProgress`, which log lines print around); otherwise one plain line per change on stderr.
//! With `--json`, stdout carries only NDJSON: one event object per `BatchEvent`, one result
//! object per item, one summary object.
//!
//! A stop signal (SIGINT, SIGTERM) stops the batch through the SDK's `cancel_on`: nothing more
//! starts, starts in flight settle, running aggregations are no longer waited for (they go on
//! in ISC); then the usual results and summary, and the signal's exit code (130, 143).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sailpoint_isc::batch::{BatchEvent, BatchItem, BatchReport, ItemOutcome};
use sailpoint_isc::{AggregationKind, AggregationStatus, Client, Error, StartedAggregation};
use serde_json::{Value, json};

use crate::cli::BatchArgs;
use crate::dir::{self, EntitlementRule};
use crate::logging::ActiveBar;
use crate::manifest::{self, Manifest, Problem, SourceRef, Unmatched};
use crate::outcome::{Classified, Exit, ItemExit, batch_exit, classify_batch_item};
use crate::record::{BatchRecord, ItemRecord, Verdict};
use crate::report::{
    TICKS_FAILED, TICKS_OK, duration_ms, emit, error_json, out_with, spinner_style, status_json,
    update_bar,
};
use crate::report_files::ReportFiles;
use crate::signals::Signal;

/// How the batch runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub max_concurrency: usize,
    pub timeout: Duration,
    /// `--outcome-grace`, when given: overrides the client's grace period.
    pub outcome_grace: Option<Duration>,
    /// Time between completion checks; `None`: the SDK's default (5 s).
    pub poll_interval: Option<Duration>,
    /// The stop request (SIGINT/SIGTERM): stop starting, settle, report, exit 130/143.
    pub stop: crate::signals::Stop,
    /// `--junit`, `--summary-markdown`.
    pub reports: ReportFiles,
}

/// The report files a batch's arguments ask for.
pub fn report_files(args: &BatchArgs) -> ReportFiles {
    ReportFiles {
        junit: args.junit.clone(),
        markdown: args.summary_markdown.clone(),
    }
}

/// Reads and checks the batch's input before any request: the report paths, then the manifest
/// or the folder (`--dir`) and their files; `--check` is applied to every item with a file. A
/// refusal is printed (and written to the report files) here, and is exit 2.
pub async fn prepare(args: &BatchArgs, json: bool) -> Result<Manifest, Exit> {
    let reports = report_files(args);
    let mut unusable = reports.problems();
    // Checked here: clap's `requires` is not enforced next to the required input group.
    if args.dir.is_none() {
        for (given, flag) in [
            (args.recursive, "--recursive"),
            (
                args.entitlements_pattern.is_some(),
                "--entitlements-pattern",
            ),
        ] {
            if given {
                unusable.push(format!("{flag} applies to --dir DIR, not to a manifest"));
            }
        }
    }
    if !unusable.is_empty() {
        return Err(refuse_usage(&unusable, json));
    }
    let mut manifest = match (&args.manifest, &args.dir) {
        (Some(path), _) => match manifest::load(path).await {
            Ok(manifest) => manifest,
            Err(problems) => return Err(refuse(path, &problems, json, &reports)),
        },
        (None, Some(folder)) => {
            let rule = args
                .entitlements_pattern
                .clone()
                .map_or(EntitlementRule::Words, EntitlementRule::Pattern);
            match dir::load(folder, args.recursive, &rule).await {
                Ok(manifest) => {
                    list_unmatched(&manifest.unmatched, json);
                    manifest
                }
                Err((problems, unmatched)) => {
                    list_unmatched(&unmatched, json);
                    return Err(refuse_dir(folder, &problems, &unmatched, json, &reports));
                }
            }
        }
        // clap requires one of them.
        (None, None) => {
            return Err(refuse_usage(
                &["give a manifest or --dir DIR".to_owned()],
                json,
            ));
        }
    };
    if args.check {
        manifest.check_every_file();
    }
    if args.disable_optimization {
        manifest.disable_optimization_everywhere();
    }
    Ok(manifest)
}

/// Entries of the folder that are not aggregated: a note on stderr, and with `--json` an
/// `unmatched` object each. They do not fail the batch.
fn list_unmatched(unmatched: &[Unmatched], json: bool) {
    if unmatched.is_empty() {
        return;
    }
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "note: {} entr{} of the folder not aggregated:",
        unmatched.len(),
        if unmatched.len() == 1 { "y" } else { "ies" }
    );
    for entry in unmatched {
        let _ = writeln!(err, "  {}: {}", entry.path.display(), entry.reason);
    }
    drop(err);
    if json {
        for entry in unmatched {
            emit(json!({
                "type": "unmatched",
                "path": entry.path.display().to_string(),
                "reason": entry.reason,
            }));
        }
    }
}

/// Arguments that cannot work (a report path whose folder is missing): exit 2, nothing sent.
fn refuse_usage(problems: &[String], json: bool) -> Exit {
    let exit = Exit::Usage;
    for problem in problems {
        err_line(format!("error: {problem}; nothing was sent"));
    }
    if json {
        emit(json!({
            "type": "summary",
            "outcome": "invalid_input",
            "exitCode": exit.code(),
            "items": 0,
            "problems": problems.iter().map(|p| json!({"message": p})).collect::<Vec<_>>(),
        }));
    }
    exit
}

/// A refused folder: every problem on stderr (and, with `--json`, in one summary object);
/// the report files say so too. Exit 2; nothing was sent.
fn refuse_dir(
    folder: &Path,
    problems: &[dir::Problem],
    unmatched: &[Unmatched],
    json: bool,
    reports: &ReportFiles,
) -> Exit {
    let exit = Exit::Usage;
    let mut err = io::stderr().lock();
    let count = problems.len();
    let _ = writeln!(
        err,
        "error: the folder {} has {count} problem{}; nothing was sent:",
        folder.display(),
        if count == 1 { "" } else { "s" }
    );
    for problem in problems {
        let _ = writeln!(err, "  {problem}");
    }
    drop(err);
    if json {
        emit(json!({
            "type": "summary",
            "outcome": "invalid_input",
            "exitCode": exit.code(),
            "dir": folder.display().to_string(),
            "items": 0,
            "problems": problems
                .iter()
                .map(|p| json!({"path": p.path.display().to_string(), "message": p.message}))
                .collect::<Vec<_>>(),
        }));
    }
    reports.write(&BatchRecord {
        input: format!("folder {}", folder.display()),
        exit_code: exit.code(),
        unmatched: unmatched_pairs(unmatched),
        refused: problems.iter().map(ToString::to_string).collect(),
        ..BatchRecord::default()
    });
    exit
}

fn unmatched_pairs(unmatched: &[Unmatched]) -> Vec<(String, String)> {
    unmatched
        .iter()
        .map(|u| (u.path.display().to_string(), u.reason.clone()))
        .collect()
}

/// Where the output goes.
#[derive(Debug, Clone)]
pub struct Output {
    pub json: bool,
    /// Progress bars on stderr (a terminal).
    pub bars: bool,
    pub active_bar: ActiveBar,
}

/// A refused manifest: every problem on stderr (and, with `--json`, in one summary object on
/// stdout); the report files say so too. Exit 2; nothing was sent.
fn refuse(path: &Path, problems: &[Problem], json: bool, reports: &ReportFiles) -> Exit {
    let exit = Exit::Usage;
    let mut err = io::stderr().lock();
    let count = problems.len();
    let _ = writeln!(
        err,
        "error: the manifest {} has {count} problem{}; nothing was sent:",
        path.display(),
        if count == 1 { "" } else { "s" }
    );
    for problem in problems {
        let _ = match problem.line {
            Some(line) => writeln!(err, "  {}:{line}: {}", path.display(), problem.message),
            None => writeln!(err, "  {}: {}", path.display(), problem.message),
        };
    }
    if json {
        emit(json!({
            "type": "summary",
            "outcome": "invalid_manifest",
            "exitCode": exit.code(),
            "manifest": path.display().to_string(),
            "items": 0,
            "problems": problems
                .iter()
                .map(|p| json!({"line": p.line, "message": p.message}))
                .collect::<Vec<_>>(),
        }));
    }
    reports.write(&BatchRecord {
        input: format!("manifest {}", path.display()),
        exit_code: exit.code(),
        refused: problems
            .iter()
            .map(|p| match p.line {
                Some(line) => format!("{}:{line}: {}", path.display(), p.message),
                None => format!("{}: {}", path.display(), p.message),
            })
            .collect(),
        ..BatchRecord::default()
    });
    exit
}

/// Runs the manifest's aggregations and reports them; returns the batch's exit code.
pub async fn run(client: &Client, manifest: Manifest, options: Options, output: Output) -> Exit {
    let items: Vec<BatchItem> = manifest
        .items
        .iter()
        .map(|item| {
            let mut batch_item = match &item.source {
                SourceRef::Id(id) => BatchItem::source_id(id),
                SourceRef::Name(name) => BatchItem::source_name(name),
            };
            if let Some(file) = &item.file {
                batch_item = batch_item.file(file.checked.path());
            }
            batch_item
                .kind(item.kind)
                .disable_optimization(item.disable_optimization)
                .check_first(item.check)
        })
        .collect();
    let views: Vec<ItemView> = manifest
        .items
        .iter()
        .map(|item| {
            let (source_id, source_name) = match &item.source {
                SourceRef::Id(id) => (Some(id.clone()), None),
                SourceRef::Name(name) => (None, Some(name.clone())),
            };
            ItemView {
                line: item.line,
                label: source_name
                    .clone()
                    .or_else(|| source_id.clone())
                    .unwrap_or_default(),
                source_id,
                source_name,
                kind: item.kind,
                check: item.check,
                file: item.file.as_ref().map(|f| f.given.clone()),
                disable_optimization: item.disable_optimization,
                started: None,
                started_at: None,
                last: None,
            }
        })
        .collect();
    let mut view = View::new(views, &output);
    view.input = manifest.input.clone();
    view.unmatched = unmatched_pairs(&manifest.unmatched);
    let view = Arc::new(Mutex::new(view));

    // A stop signal stops the batch cleanly: nothing more starts, starts in flight settle, and
    // the report comes back with every item.
    let mut batch = client
        .aggregate_batch(items)
        .max_concurrency(options.max_concurrency)
        .max_wait(options.timeout)
        .cancel_on(options.stop.token());
    if let Some(grace) = options.outcome_grace {
        batch =
            batch.outcome_resolution(client.outcome_resolution().clone().with_grace_period(grace));
    }
    if let Some(interval) = options.poll_interval {
        batch = batch.poll_interval(interval);
    }
    let sink = view.clone();
    let report = batch
        .on_event(move |event| {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .event(event);
        })
        .run()
        .await;

    let mut view = view.lock().unwrap_or_else(PoisonError::into_inner);
    view.finish_bars();
    output.active_bar.set_multi(None);
    let (exit, record) = view.report(&report, options.stop.signal());
    options.reports.write(&record);
    exit
}

/// One line on stderr; a closed stderr is ignored (unlike `eprintln!`, which panics).
fn err_line(line: impl Display) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// What is known about one item, for its lines and objects.
#[derive(Debug)]
struct ItemView {
    /// Its manifest line; `None` for a file of a folder.
    line: Option<usize>,
    /// The name or id as the manifest gives it (the id for a file of a folder).
    label: String,
    source_id: Option<String>,
    source_name: Option<String>,
    kind: AggregationKind,
    check: bool,
    file: Option<String>,
    disable_optimization: bool,
    started: Option<StartedAggregation>,
    /// When its start was reported (since the batch began).
    started_at: Option<Duration>,
    last: Option<AggregationStatus>,
}

impl ItemView {
    fn aggregation_id(&self) -> Option<&str> {
        self.started.as_ref().map(|s| s.task_id.as_str())
    }

    /// `line 7 (HR Feed)`, `line 9 (HR Feed, entitlements)`; for a file of a folder, its path
    /// and kind.
    fn title(&self) -> String {
        match self.line {
            Some(line) if self.kind == AggregationKind::Accounts => {
                format!("line {line} ({})", self.label)
            }
            Some(line) => format!("line {line} ({}, {})", self.label, self.kind),
            None => format!(
                "{} ({})",
                self.file.as_deref().unwrap_or(&self.label),
                self.kind
            ),
        }
    }

    /// The first column of the table: the manifest line, or the file of a folder.
    fn place(&self) -> String {
        match self.line {
            Some(line) => line.to_string(),
            None => self.file.clone().unwrap_or_else(|| "-".to_owned()),
        }
    }
}

/// The progress bars of a batch on a terminal.
struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    running: HashMap<usize, ProgressBar>,
    failed: u64,
}

struct View {
    json: bool,
    /// One plain line per change on stderr (not a terminal, no `--json`).
    plain: bool,
    began: Instant,
    items: Vec<ItemView>,
    bars: Option<Bars>,
    /// What the items come from, and a folder's entries not aggregated (for the reports).
    input: String,
    unmatched: Vec<(String, String)>,
}

impl View {
    fn new(items: Vec<ItemView>, output: &Output) -> Self {
        let bars = output.bars.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let total = multi.add(ProgressBar::new(items.len() as u64));
            total.set_style(total_style(TICKS_OK));
            total.set_prefix("batch");
            total.enable_steady_tick(Duration::from_millis(100));
            output.active_bar.set_multi(Some(multi.clone()));
            Bars {
                multi,
                total,
                running: HashMap::new(),
                failed: 0,
            }
        });
        View {
            json: output.json,
            plain: !output.json && !output.bars,
            began: Instant::now(),
            items,
            bars,
            input: String::new(),
            unmatched: Vec::new(),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        duration_ms(self.began.elapsed())
    }

    /// A line for humans on stderr, above the bars if any.
    fn line(&self, text: String) {
        let stamped = format!("[{:>6.1}s] {text}", self.began.elapsed().as_secs_f64());
        match &self.bars {
            Some(bars) => {
                let _ = bars.multi.println(stamped);
            }
            None => err_line(stamped),
        }
    }

    fn event(&mut self, event: &BatchEvent) {
        match event {
            BatchEvent::SourceResolved {
                item,
                name,
                source_id,
            } => self.resolved(*item, name, source_id),
            BatchEvent::Started { item, started } => self.started(*item, started),
            BatchEvent::Progress { item, status } => self.progress(*item, status),
            BatchEvent::Finished { item, outcome } => self.finished(*item, outcome),
            _ => {}
        }
    }

    fn resolved(&mut self, i: usize, name: &str, source_id: &str) {
        let Some(item) = self.items.get_mut(i) else {
            return;
        };
        item.source_id = Some(source_id.to_owned());
        let line = item.line;
        if self.json {
            emit(json!({
                "type": "resolved",
                "item": i,
                "line": line,
                "sourceName": name,
                "sourceId": source_id,
                "elapsedMs": self.elapsed_ms(),
            }));
        }
        if self.plain {
            let place = line.map_or_else(|| format!("item {}", i + 1), |l| format!("line {l}"));
            self.line(format!("{place}: source {name:?} is {source_id}"));
        }
    }

    fn started(&mut self, i: usize, started: &StartedAggregation) {
        let now = self.began.elapsed();
        let Some(item) = self.items.get_mut(i) else {
            return;
        };
        item.source_id = Some(started.source_id.clone());
        item.started = Some(started.clone());
        item.started_at = Some(now);
        let item = &self.items[i];
        if self.json {
            emit(json!({
                "type": "started",
                "item": i,
                "line": item.line,
                "sourceId": started.source_id,
                "sourceName": item.source_name,
                "kind": item.kind,
                "aggregationId": started.task_id,
                "origin": started.origin.as_str(),
                "apiVersion": started.api_version.to_string(),
                "file": item.file,
                "disableOptimization": item.disable_optimization,
                "elapsedMs": self.elapsed_ms(),
            }));
        }
        let how = match started.origin.as_str() {
            "recovered" => "started (its answer was lost; found in task status)",
            "already_running" => "already running",
            _ => "started",
        };
        let text = format!("{}: aggregation {} {how}", item.title(), started.task_id);
        if self.plain {
            self.line(text);
        } else if let Some(bars) = &mut self.bars {
            let bar = bars
                .multi
                .insert_before(&bars.total, ProgressBar::no_length());
            bar.set_style(spinner_style(TICKS_OK));
            bar.set_prefix(item.label.clone());
            bar.set_message(format!("aggregation {}", started.task_id));
            bar.enable_steady_tick(Duration::from_millis(100));
            bars.running.insert(i, bar);
        }
    }

    fn progress(&mut self, i: usize, status: &AggregationStatus) {
        let Some(item) = self.items.get_mut(i) else {
            return;
        };
        item.last = Some(status.clone());
        let item = &self.items[i];
        if self.json {
            emit(json!({
                "type": "progress",
                "item": i,
                "line": item.line,
                "sourceId": item.source_id,
                "kind": item.kind,
                "aggregationId": item.aggregation_id(),
                "state": status.state_name(),
                "processedAccounts": status.processed_accounts,
                "totalAccounts": status.total_accounts,
                "status": status_json(status),
                "elapsedMs": self.elapsed_ms(),
            }));
        }
        if self.plain {
            self.line(format!("{}: {status}", item.title()));
        } else if let Some(bar) = self.bars.as_ref().and_then(|b| b.running.get(&i)) {
            update_bar(bar, status);
            bar.set_prefix(format!("{} {}", item.label, status.state_name()));
        }
    }

    fn finished(&mut self, i: usize, outcome: &ItemOutcome) {
        if let Some(status) = final_status(outcome)
            && let Some(item) = self.items.get_mut(i)
        {
            item.last = Some(status.clone());
        }
        let Some(item) = self.items.get(i) else {
            return;
        };
        let summary = Summary::of(outcome);
        if self.json {
            let status = item.last.as_ref();
            emit(json!({
                "type": "finished",
                "item": i,
                "line": item.line,
                "sourceId": item.source_id,
                "kind": item.kind,
                "aggregationId": item.aggregation_id(),
                "outcome": summary.outcome,
                "exitCode": summary.exit.map(Exit::code),
                "state": status.map(AggregationStatus::state_name),
                "processedAccounts": status.and_then(|s| s.processed_accounts),
                "totalAccounts": status.and_then(|s| s.total_accounts),
                "messages": summary.messages,
                "elapsedMs": self.elapsed_ms(),
            }));
        }
        let text = format!("{}: {}", item.title(), summary.text(item.last.as_ref()));
        let ok = outcome.is_completed();
        if self.plain {
            self.line(text);
        } else if let Some(bars) = &mut self.bars {
            if let Some(bar) = bars.running.remove(&i) {
                bar.finish_and_clear();
                bars.multi.remove(&bar);
            }
            let mark = if ok { "✔" } else { "✖" };
            let _ = bars.multi.println(format!("{mark} {text}"));
            if !ok {
                bars.failed += 1;
                bars.total.set_style(total_style(TICKS_FAILED));
                bars.total
                    .set_message(format!(", {} not completed", bars.failed));
            }
            bars.total.inc(1);
        }
    }

    fn finish_bars(&mut self) {
        if let Some(bars) = self.bars.take() {
            for (_, bar) in bars.running {
                bar.finish_and_clear();
            }
            bars.total.finish();
            if !bars.total.is_hidden() {
                err_line("");
            }
        }
    }

    /// The per-item results and the summary; the batch's exit code, or the signal's when a
    /// stop signal ended the batch, and the batch as a record for the report files.
    fn report(&self, report: &BatchReport, signal: Option<Signal>) -> (Exit, BatchRecord) {
        let mut exits = Vec::with_capacity(report.items.len());
        let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
        outcomes.insert("completed", 0);
        let mut rows = Vec::new();
        let mut failures = Vec::new();
        let mut records = Vec::with_capacity(report.items.len());
        for result in &report.items {
            let summary = Summary::of(&result.outcome);
            *outcomes.entry(summary.outcome).or_default() += 1;
            exits.push(summary.item_exit());
            let Some(item) = self.items.get(result.item) else {
                continue;
            };
            let started = result.started.as_ref().or(item.started.as_ref());
            let source_id = result.source_id.as_ref().or(item.source_id.as_ref());
            let status = final_status(&result.outcome).or(item.last.as_ref());
            let aggregation_id = started.map(|s| s.task_id.as_str()).or(summary.running);
            let findings = summary.findings();
            if summary.is_failure() {
                failures.push(json!({
                    "item": result.item,
                    "line": item.line,
                    "sourceId": source_id,
                    "kind": item.kind,
                    "file": item.file,
                    "aggregationId": aggregation_id,
                    "outcome": summary.outcome,
                    "exitCode": summary.exit.map(Exit::code),
                    "messages": summary.messages,
                    "findings": findings,
                }));
            }
            if self.json {
                emit(json!({
                    "type": "result",
                    "item": result.item,
                    "line": item.line,
                    "sourceId": source_id,
                    "sourceName": item.source_name,
                    "kind": item.kind,
                    "file": item.file,
                    "disableOptimization": item.disable_optimization,
                    "check": item.check,
                    "aggregationId": aggregation_id,
                    "origin": started.map(|s| s.origin.as_str()),
                    "outcome": summary.outcome,
                    "exitCode": summary.exit.map(Exit::code),
                    "state": status.map(AggregationStatus::state_name),
                    "status": status.map(status_json),
                    "messages": summary.messages,
                    "findings": findings,
                    "error": summary.error_json(),
                    "skipReason": summary.skip_reason,
                    "hint": summary.running.map(follow_hint),
                    "elapsedMs": duration_ms(result.elapsed),
                }));
            } else {
                if let (Some(error), Some(classified)) = (summary.error, &summary.classified) {
                    err_line(format!(
                        "error: {}: {error}{}",
                        item.title(),
                        summary.messages_suffix()
                    ));
                    for finding in &findings {
                        err_line(format!("  {finding}"));
                    }
                    if let Some(hint) = &classified.hint {
                        err_line(format!("hint: {hint}"));
                    }
                }
                if let Some(id) = summary.running {
                    err_line(format!(
                        "note: {}: aggregation {id} {}",
                        item.title(),
                        follow_hint(id)
                    ));
                }
                rows.push([
                    item.place(),
                    item.label.clone(),
                    item.kind.to_string(),
                    aggregation_id.map_or_else(|| "-".to_owned(), str::to_owned),
                    summary.result_column(status),
                    status
                        .and_then(counts_text)
                        .unwrap_or_else(|| "-".to_owned()),
                ]);
            }
            let hint = match (&summary.classified, summary.running) {
                (_, Some(id)) => Some(follow_hint(id)),
                (Some(classified), None) => classified.hint.clone(),
                (None, None) => None,
            };
            records.push(ItemRecord {
                item: result.item,
                line: item.line,
                source: item.label.clone(),
                source_id: source_id.cloned(),
                kind: item.kind,
                file: item.file.clone(),
                verdict: summary.verdict(),
                outcome: summary.outcome.to_owned(),
                exit_code: summary.exit.map(Exit::code),
                aggregation_id: aggregation_id.map(str::to_owned),
                started: started.map(started_text),
                state: status.map(|s| s.state_name().to_owned()),
                counts: status.and_then(counts_text),
                detail: summary.detail(status),
                hint,
                messages: summary.messages.iter().map(|m| (*m).to_owned()).collect(),
                findings,
                time: match item.started_at {
                    Some(at) => result.elapsed.saturating_sub(at),
                    None => Duration::ZERO,
                },
            });
        }
        let exit = match signal {
            Some(signal) => signal_exit(signal),
            None => batch_exit(exits),
        };
        let completed = report.completed();
        let total = report.items.len();
        if self.json {
            emit(json!({
                "type": "summary",
                "items": total,
                "completed": completed,
                "outcomes": outcomes,
                "failures": failures,
                "exitCode": exit.code(),
                "signal": signal.map(Signal::name),
                "elapsedMs": duration_ms(report.elapsed),
                "taskListRequests": report.task_list_requests,
                "statusRequests": report.status_requests,
            }));
        } else {
            let others: Vec<String> = outcomes
                .iter()
                .filter(|(kind, n)| **kind != "completed" && **n > 0)
                .map(|(kind, n)| format!("{n} {}", kind.replace('_', " ")))
                .collect();
            let others = if others.is_empty() {
                String::new()
            } else {
                format!("; {}", others.join(", "))
            };
            let stopped = signal
                .map(|s| format!("stopped by {}: ", s.name()))
                .unwrap_or_default();
            let line = format!(
                "batch: {stopped}{completed} of {total} completed{others} in {:.1}s; exit {}",
                report.elapsed.as_secs_f64(),
                exit.code()
            );
            let first = if self.items.iter().all(|i| i.line.is_some()) {
                "LINE"
            } else {
                "FILE"
            };
            out_with(|out| {
                write_table(
                    out,
                    [first, "SOURCE", "KIND", "AGGREGATION", "RESULT", "COUNTS"],
                    &rows,
                )?;
                writeln!(out, "{line}")
            });
        }
        let record = BatchRecord {
            input: self.input.clone(),
            items: records,
            elapsed: report.elapsed,
            exit_code: exit.code(),
            signal: signal.map(Signal::name),
            unmatched: self.unmatched.clone(),
            refused: Vec::new(),
        };
        (exit, record)
    }
}

/// A start in words, for the JUnit report's `<system-out>`.
fn started_text(started: &StartedAggregation) -> String {
    let how = match started.origin.as_str() {
        "recovered" => "started (its answer was lost; found in task status)",
        "already_running" => "was already running",
        _ => "started",
    };
    format!(
        "{} aggregation {} {how} on source {} (API {})",
        started.kind, started.task_id, started.source_id, started.api_version
    )
}

/// The exit code of a batch stopped by `signal`: the signal's (130, 143), whatever the items.
fn signal_exit(signal: Signal) -> Exit {
    Exit::Stopped(signal.exit_code())
}

/// What to say about an aggregation the batch stopped waiting for.
fn follow_hint(id: &str) -> String {
    format!(
        "still runs: it was started once and ISC goes on with it; follow it with \
         `isc-aggregate status {id} --watch`"
    )
}

/// How one item ended, in the words of the output.
struct Summary<'a> {
    /// `completed`, `skipped`, `started` (still running when the batch was stopped), or the
    /// error's kind (`aggregation_failed`, `outcome_unknown`, …).
    outcome: &'static str,
    /// The item's exit code; `None` for an item that did not end (skipped, or still running).
    exit: Option<Exit>,
    error: Option<&'a Error>,
    classified: Option<Classified>,
    skip_reason: Option<&'a str>,
    /// The aggregation still running when the batch was stopped.
    running: Option<&'a str>,
    /// ISC's messages about the ending (a failed task's errors, a refused start's reasons).
    messages: Vec<&'a str>,
}

impl<'a> Summary<'a> {
    fn of(outcome: &'a ItemOutcome) -> Self {
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
                let classified = classify_item(error);
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
    fn verdict(&self) -> Verdict {
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
    fn findings(&self) -> Vec<String> {
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
    fn detail(&self, status: Option<&AggregationStatus>) -> String {
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

    fn item_exit(&self) -> ItemExit {
        match self.exit {
            Some(Exit::Done) => ItemExit::Completed,
            Some(exit) => ItemExit::Failed(exit),
            None => ItemExit::Skipped,
        }
    }

    /// An item that ended unsuccessfully (any code but 0).
    fn is_failure(&self) -> bool {
        self.exit.is_some_and(|exit| exit != Exit::Done)
    }

    fn error_json(&self) -> Option<Value> {
        match (self.error, &self.classified) {
            (Some(error), Some(classified)) => Some(error_json(error, classified)),
            _ => None,
        }
    }

    /// ISC's messages for a line of text (a refused start's are in its error already).
    fn messages_suffix(&self) -> String {
        if self.messages.is_empty() || matches!(self.error, Some(Error::StartRefused { .. })) {
            return String::new();
        }
        format!("; ISC says: {}", self.messages.join("; "))
    }

    /// The text of a finished line.
    fn text(&self, status: Option<&AggregationStatus>) -> String {
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
    fn result_column(&self, status: Option<&AggregationStatus>) -> String {
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

    fn code(&self) -> u8 {
        self.exit.map_or(0, Exit::code)
    }
}

/// The status an outcome carries: the final one of a completed or failed aggregation, the last
/// one seen of one that timed out.
fn final_status(outcome: &ItemOutcome) -> Option<&AggregationStatus> {
    match outcome {
        ItemOutcome::Completed(status) => Some(status),
        ItemOutcome::Failed(Error::AggregationFailed { status, .. }) => Some(status),
        ItemOutcome::Failed(Error::WaitTimeout { last_status, .. })
        | ItemOutcome::Stopped { last_status, .. } => last_status.as_deref(),
        _ => None,
    }
}

/// A batch item's error, classified as `import` would (see [`classify_batch_item`]); a file
/// check that failed (3: the item's input failed at run time; nothing of it was sent) says how
/// to check that file alone.
fn classify_item(error: &Error) -> Classified {
    let mut classified = classify_batch_item(error);
    if let Error::FileCheckFailed {
        source_id,
        path,
        kind,
        ..
    } = error
    {
        let entitlements = if *kind == AggregationKind::Entitlements {
            " --entitlements"
        } else {
            ""
        };
        classified.kind = "file_check_failed";
        classified.hint = Some(format!(
            "nothing of this item was sent; check the file alone with `isc-aggregate check \
             {source_id} --file {}{entitlements}`",
            path.display()
        ));
    }
    classified
}

/// The counts of a status: processed of total accounts, or the counts the task returned (an
/// entitlement aggregation's `total`, `groupsCreated`, …).
fn counts_text(status: &AggregationStatus) -> Option<String> {
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

fn write_table<const N: usize>(
    out: &mut dyn Write,
    header: [&str; N],
    rows: &[[String; N]],
) -> io::Result<()> {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: [&str; N]| -> io::Result<()> {
        let mut text = String::new();
        for (k, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if k + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, header)?;
    for row in rows {
        line(out, row.each_ref().map(String::as_str))?;
    }
    Ok(())
}

fn total_style(ticks: &[&str]) -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner:.green} {prefix:.bold} [{wide_bar:.cyan/blue}] {pos}/{len} done{msg} ({elapsed})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .tick_strings(ticks)
    .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_line_up() {
        let mut out = Vec::new();
        write_table(
            &mut out,
            ["A", "BB", "C", "D", "E"],
            &[["1".into(), "x".into(), "yyy".into(), "z".into(), "".into()]],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "A  BB  C    D  E\n1  x   yyy  z\n"
        );
    }

    #[test]
    fn skipped_items_have_no_code() {
        let skipped = ItemOutcome::Skipped {
            reason: "late".into(),
        };
        let summary = Summary::of(&skipped);
        assert_eq!(summary.item_exit(), ItemExit::Skipped);
        assert_eq!(summary.result_column(None), "skipped");
        let failed = ItemOutcome::Failed(Error::SourceNotFound {
            name: "X".into(),
            similar: Vec::new(),
        });
        let summary = Summary::of(&failed);
        assert_eq!(summary.item_exit(), ItemExit::Failed(Exit::Api));
        assert_eq!(summary.result_column(None), "source_not_found (exit 3)");
    }

    #[test]
    fn an_aggregation_still_running_after_a_stop_is_started_with_how_to_follow_it() {
        let stopped = ItemOutcome::Stopped {
            task_id: "agg-1".into(),
            last_status: None,
        };
        let summary = Summary::of(&stopped);
        assert_eq!(summary.outcome, "started");
        assert_eq!(summary.exit, None);
        assert!(!summary.is_failure());
        assert_eq!(summary.result_column(None), "started (still running)");
        let text = summary.text(None);
        assert!(
            text.contains("isc-aggregate status agg-1 --watch"),
            "{text}"
        );
        assert_eq!(signal_exit(Signal::Terminate).code(), 143);
        assert_eq!(signal_exit(Signal::Interrupt).code(), 130);
    }
}

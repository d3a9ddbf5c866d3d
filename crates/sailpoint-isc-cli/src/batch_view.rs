//! What a batch shows while it runs and when it ends: on a terminal, one progress bar per running
//! aggregation and a total bar (one `MultiProgress`, which log lines print around), otherwise one
//! plain line per change on stderr; with `--json`, only NDJSON on stdout (an event object per
//! `BatchEvent`, a result per item, one summary); the final table; and the record the report
//! files are rendered from.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sailpoint_isc::batch::{BatchEvent, BatchReport, ItemOutcome};
use sailpoint_isc::{AggregationKind, AggregationStatus, StartedAggregation};
use serde_json::json;

use crate::batch_outcome::{Summary, counts_text, final_status, follow_hint};
use crate::logging::ActiveBar;
use crate::outcome::{Exit, batch_exit};
use crate::record::{BatchRecord, ItemRecord};
use crate::report::{
    TICKS_FAILED, TICKS_OK, duration_ms, emit, err_line, out_with, spinner_style, status_json,
    update_bar,
};
use crate::signals::Signal;

/// Where the output goes.
#[derive(Debug, Clone)]
pub struct Output {
    pub json: bool,
    /// Progress bars on stderr (a terminal).
    pub bars: bool,
    pub active_bar: ActiveBar,
}

/// What is known about one item, for its lines and objects.
#[derive(Debug)]
pub(crate) struct ItemView {
    /// Its manifest line; `None` for a file of a folder.
    pub(crate) line: Option<usize>,
    /// The name or id as the manifest gives it (the id for a file of a folder).
    pub(crate) label: String,
    pub(crate) source_id: Option<String>,
    pub(crate) source_name: Option<String>,
    pub(crate) kind: AggregationKind,
    pub(crate) check: bool,
    pub(crate) file: Option<String>,
    pub(crate) disable_optimization: bool,
    pub(crate) started: Option<StartedAggregation>,
    /// When its start was reported (since the batch began).
    pub(crate) started_at: Option<Duration>,
    pub(crate) last: Option<AggregationStatus>,
}

impl ItemView {
    pub(crate) fn aggregation_id(&self) -> Option<&str> {
        self.started.as_ref().map(|s| s.task_id.as_str())
    }

    /// `line 7 (HR Feed)`, `line 9 (HR Feed, entitlements)`; for a file of a folder, its path
    /// and kind.
    pub(crate) fn title(&self) -> String {
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
    pub(crate) fn place(&self) -> String {
        match self.line {
            Some(line) => line.to_string(),
            None => self.file.clone().unwrap_or_else(|| "-".to_owned()),
        }
    }
}

/// The progress bars of a batch on a terminal.
pub(crate) struct Bars {
    pub(crate) multi: MultiProgress,
    pub(crate) total: ProgressBar,
    pub(crate) running: HashMap<usize, ProgressBar>,
    pub(crate) failed: u64,
}

pub(crate) struct View {
    pub(crate) json: bool,
    /// One plain line per change on stderr (not a terminal, no `--json`).
    pub(crate) plain: bool,
    pub(crate) began: Instant,
    pub(crate) items: Vec<ItemView>,
    pub(crate) bars: Option<Bars>,
    /// What the items come from, and a folder's entries not aggregated (for the reports).
    pub(crate) input: String,
    pub(crate) unmatched: Vec<(String, String)>,
}

impl View {
    pub(crate) fn new(items: Vec<ItemView>, output: &Output) -> Self {
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

    pub(crate) fn elapsed_ms(&self) -> u64 {
        duration_ms(self.began.elapsed())
    }

    /// A line for humans on stderr, above the bars if any.
    pub(crate) fn line(&self, text: String) {
        let stamped = format!("[{:>6.1}s] {text}", self.began.elapsed().as_secs_f64());
        match &self.bars {
            Some(bars) => {
                let _ = bars.multi.println(stamped);
            }
            None => err_line(stamped),
        }
    }

    pub(crate) fn event(&mut self, event: &BatchEvent) {
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

    pub(crate) fn resolved(&mut self, i: usize, name: &str, source_id: &str) {
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

    pub(crate) fn started(&mut self, i: usize, started: &StartedAggregation) {
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

    pub(crate) fn progress(&mut self, i: usize, status: &AggregationStatus) {
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

    pub(crate) fn finished(&mut self, i: usize, outcome: &ItemOutcome) {
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

    pub(crate) fn finish_bars(&mut self) {
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
    pub(crate) fn report(
        &self,
        report: &BatchReport,
        signal: Option<Signal>,
    ) -> (Exit, BatchRecord) {
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
pub(crate) fn started_text(started: &StartedAggregation) -> String {
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
pub(crate) fn signal_exit(signal: Signal) -> Exit {
    Exit::Stopped(signal.exit_code())
}

pub(crate) fn total_style(ticks: &[&str]) -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner:.green} {prefix:.bold} [{wide_bar:.cyan/blue}] {pos}/{len} done{msg} ({elapsed})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .tick_strings(ticks)
    .progress_chars("=> ")
}

pub(crate) fn write_table<const N: usize>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::ItemExit;
    use sailpoint_isc::Error;

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

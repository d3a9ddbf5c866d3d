//! `batch`: the aggregations of a manifest (or of a folder's CSV files, `--dir`), prepared
//! (checked before anything is sent) and run through the SDK's batch API
//! (`Client::aggregate_batch`), with the report files written at the end (`--junit`,
//! `--summary-markdown`). What it shows is `batch_view`'s; how an item ended, `batch_outcome`'s.
//!
//! A stop signal (SIGINT, SIGTERM) stops the batch through the SDK's `cancel_on`: nothing more
//! starts, starts in flight settle, running aggregations are no longer waited for (they go on
//! in ISC); then the usual results and summary, and the signal's exit code (130, 143).

use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sailpoint_isc::Client;
use sailpoint_isc::batch::BatchItem;
use serde_json::json;

pub use crate::batch_view::Output;
use crate::batch_view::{ItemView, View};
use crate::cli::BatchArgs;
use crate::dir::{self, EntitlementRule};
use crate::manifest::{self, Manifest, Problem, SourceRef, Unmatched};
use crate::outcome::Exit;
use crate::record::BatchRecord;
use crate::report::emit;
use crate::report::err_line;
use crate::report_files::ReportFiles;

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

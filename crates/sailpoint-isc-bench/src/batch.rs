//! Figure 5: aggregating many sources at once under ISC's rate limit (100 requests in any 10 s per
//! client id and API version), on a sandbox that enforces it.
//!
//! Two variants, interleaved, each on a fresh sandbox with the same sources and files:
//!
//! * **SDK batch**: `client.aggregate_batch(items).max_concurrency(n).poll_interval(5 s).run()`
//!   with the client-side limiter set to the sandbox's limit;
//! * **naive loop** (what a user writes without the batch API): one client without a limiter, one
//!   spawned task per source doing `start_aggregation(..).send()` then
//!   `wait_for_aggregation(&started).send()` with the default poll schedule, all at once. The
//!   sandbox answers its excess requests with 429 and the SDK's retries wait for `Retry-After`.
//!
//! The sandbox's time is scaled like the waiting figure: the aggregation phases, the poll
//! interval and schedule, the retry configuration's durations *and the rate-limit window* are all
//! divided by the same factor, so the ratios between them are those of a real tenant.
//!
//! Completion instants come from the sandbox itself: a thread watches `Sandbox::aggregations()`
//! every millisecond once the first aggregation can have ended, and takes the midpoint between
//! the last poll that saw an aggregation running and the first that saw it `COMPLETED`.
//!
//! `BENCH_BATCH_TIMELINE=<dir>` writes every run's request timeline there as CSV.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use sailpoint_isc::batch::{BatchEvent, BatchItem, ItemOutcome};
use sailpoint_isc::{PollSchedule, RateLimit, RetryConfig};
use sailpoint_isc_sandbox::{AggregationStatus as SandboxStatus, Operation, Sandbox};
use serde_json::{Value, json};

use crate::server::{CLIENT_ID, CLIENT_SECRET};
use crate::util::{median, min_max, rotated, summary};
use crate::waiting::{COLLECT, PROCESS, scaled, spread};

/// When set to a directory, each run's requests (operation, status, arrival time) are written
/// there as `batch-<variant>-rep<n>.csv`, to see where the time goes.
const TIMELINE_ENV: &str = "BENCH_BATCH_TIMELINE";
/// ISC's limit, per client id and API version (the window is scaled).
const RATE_REQUESTS: u32 = 100;
const RATE_WINDOW: Duration = Duration::from_secs(10);
/// The batch's completion-check interval (its default), scaled.
const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// The batch's and the waiter's maximum wait (both default to 1 h), scaled.
const MAX_WAIT: Duration = Duration::from_secs(3600);
/// Rows of source `i`'s file: a few thousand, different per source.
fn rows(i: usize) -> u64 {
    2_000 + (i as u64 * 613) % 3_000
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Params {
    /// Sources aggregated per run.
    pub sources: usize,
    /// Time (aggregation phases, schedules, retry durations, the rate-limit window) is divided
    /// by this.
    pub scale: f64,
    /// Repetitions (each runs both variants, order rotating).
    pub reps: usize,
    /// `max_concurrency` of the SDK batch.
    pub concurrency: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    SdkBatch,
    NaiveLoop,
}

impl Variant {
    const ALL: [Variant; 2] = [Variant::SdkBatch, Variant::NaiveLoop];

    fn key(self) -> &'static str {
        match self {
            Variant::SdkBatch => "sdk_batch",
            Variant::NaiveLoop => "naive_loop",
        }
    }

    fn label(self, concurrency: usize) -> String {
        match self {
            Variant::SdkBatch => format!(
                "SDK `aggregate_batch` (max_concurrency {concurrency}, client-side limiter)"
            ),
            Variant::NaiveLoop => {
                "naive loop: spawn start + `wait_for_aggregation` per source, no limiter".to_owned()
            }
        }
    }
}

/// The scaled time constants of one section run.
#[derive(Debug, Clone, Copy)]
struct Scaled {
    scale: f64,
    window: Duration,
    poll_interval: Duration,
    max_wait: Duration,
}

impl Scaled {
    fn new(scale: f64) -> Self {
        Scaled {
            scale,
            window: RATE_WINDOW.div_f64(scale),
            poll_interval: POLL_INTERVAL.div_f64(scale),
            max_wait: MAX_WAIT.div_f64(scale),
        }
    }

    /// The SDK's default retry configuration with its backoff and `Retry-After` cap scaled.
    fn retry(self) -> RetryConfig {
        let d = RetryConfig::standard();
        RetryConfig::standard()
            .with_backoff(
                d.initial_backoff.div_f64(self.scale),
                d.max_backoff.div_f64(self.scale),
            )
            .with_max_retry_after(d.max_retry_after.div_f64(self.scale))
    }

    fn schedule(self) -> PollSchedule {
        scaled(PollSchedule::standard(), self.scale).with_max_wait(self.max_wait)
    }

    /// The least time `n` requests can span under the limit: request `k + 100` goes at least one
    /// window after request `k`, so the `n`-th at least `ceil(n / 100) - 1` windows after the
    /// first.
    fn rate_bound(self, n: usize) -> Duration {
        let windows = n.div_ceil(RATE_REQUESTS as usize).saturating_sub(1);
        self.window * windows as u32
    }
}

/// One source: its id and file.
#[derive(Debug, Clone)]
struct Source {
    id: String,
    file: PathBuf,
    rows: u64,
}

/// The figures of one run of one variant.
#[derive(Debug, Clone)]
struct Run {
    wall: Duration,
    /// This run's aggregation length (scaled): no variant can end sooner.
    length: Duration,
    /// Requests the sandbox served (any answer but 429), token requests excluded.
    served: usize,
    /// 429 answers.
    rejected: usize,
    /// Requests received (429s included) by operation, token requests excluded.
    received: HashMap<&'static str, usize>,
    /// From the start of the run to the last served import request's arrival.
    last_start: Duration,
    /// From the start of the run to the last served request's arrival.
    last_request: Duration,
    /// Per completed item whose completion instant the watcher saw: completion → `Finished`.
    delays: Vec<Duration>,
    completed: usize,
    /// Sources aggregated exactly once, and more than once.
    once: usize,
    more_than_once: usize,
    /// The first few failures.
    failures: Vec<String>,
    failed: usize,
    /// Requests that waited for the client-side limiter (SDK batch only).
    limiter_waits: Option<u64>,
    /// The batch's own counts: task-status lists, status reads (SDK batch only).
    batch_counts: Option<(u64, u64)>,
}

impl Run {
    fn status_and_task_calls(&self) -> usize {
        ["get_status", "get_task_status", "get_task_status_list"]
            .iter()
            .map(|k| self.received.get(k).copied().unwrap_or(0))
            .sum()
    }
}

/// How one source ended: its task id, when its item finished, and its total account count (or
/// why it failed).
type End = (Option<String>, Option<Instant>, Result<Option<u64>, String>);

/// Removes the temporary directory of the generated files when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the benchmark; returns the JSON section and the table lines.
pub fn run(params: &Params) -> Result<(Value, Vec<String>)> {
    ensure!(params.scale >= 1.0, "the batch scale must be at least 1");
    ensure!(params.sources > 0, "the batch needs at least one source");
    let tmp = TempDir(
        std::env::temp_dir().join(format!("sailpoint-isc-bench-batch-{}", std::process::id())),
    );
    let sources = write_sources(&tmp.0, params.sources)?;
    let times = Scaled::new(params.scale);
    let collect = COLLECT.div_f64(params.scale);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(), Vec::new()];
    let mut lengths = Vec::new();
    runtime.block_on(async {
        for rep in 0..params.reps {
            // The same spread of lengths as the waiting figure: the 5 s poll interval is not
            // phase-locked with a length that is a multiple of it.
            let process = (PROCESS + spread(rep, params.reps)).div_f64(params.scale);
            lengths.push((collect + process).as_secs_f64() * params.scale);
            for i in rotated(&[0usize, 1], rep) {
                let variant = Variant::ALL[i];
                eprintln!("bench: batch rep {rep}: {}...", variant.key());
                let run = one_run(variant, rep, params, times, &sources, collect, process)
                    .await
                    .with_context(|| format!("{} batch, rep {rep}", variant.key()))?;
                eprintln!(
                    "bench: batch rep {rep}: {} {:.2} s, {} served, {} × 429, {}/{} completed",
                    variant.key(),
                    run.wall.as_secs_f64(),
                    run.served,
                    run.rejected,
                    run.completed,
                    sources.len()
                );
                runs[i].push(run);
            }
        }
        anyhow::Ok(())
    })?;
    drop(runtime);
    drop(tmp);
    Ok(report(params, times, &runs, &lengths, &sources))
}

async fn one_run(
    variant: Variant,
    rep: usize,
    params: &Params,
    times: Scaled,
    sources: &[Source],
    collect: Duration,
    process: Duration,
) -> Result<Run> {
    let sandbox = Arc::new(
        Sandbox::builder()
            .client(CLIENT_ID, CLIENT_SECRET)
            .rate_limit(RATE_REQUESTS, times.window)
            .collect_duration(collect)
            .process_duration(process)
            .start()
            .await?,
    );
    let builder = sailpoint_isc::Client::builder()
        .base_url(sandbox.base_url())
        .client_credentials(CLIENT_ID, CLIENT_SECRET)
        .retry(times.retry())
        .poll_schedule(times.schedule());
    let client = match variant {
        Variant::SdkBatch => builder.rate_limit(RateLimit::new(RATE_REQUESTS, times.window)),
        Variant::NaiveLoop => builder.no_rate_limit(),
    }
    .build()?;

    let began = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_completions(
        sandbox.clone(),
        began + (collect + process).saturating_sub(Duration::from_millis(20)),
        sources.len(),
        stop.clone(),
    );

    // (task id, finished at, outcome) per source.
    let mut ends: Vec<End> = vec![(None, None, Err("not run".to_owned())); sources.len()];
    let mut limiter_waits = None;
    let mut batch_counts = None;
    let wall = match variant {
        Variant::SdkBatch => {
            let finished: Arc<Mutex<Vec<Option<Instant>>>> =
                Arc::new(Mutex::new(vec![None; sources.len()]));
            let on_finish = finished.clone();
            let items = sources
                .iter()
                .map(|s| BatchItem::source_id(&s.id).file(&s.file));
            let report = client
                .aggregate_batch(items)
                .max_concurrency(params.concurrency)
                .poll_interval(times.poll_interval)
                .max_wait(times.max_wait)
                .on_event(move |event| {
                    if let BatchEvent::Finished { item, .. } = event {
                        let now = Instant::now();
                        if let Some(slot) = on_finish
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_mut(*item)
                        {
                            *slot = Some(now);
                        }
                    }
                })
                .run()
                .await;
            let wall = began.elapsed();
            let finished = finished.lock().unwrap_or_else(|e| e.into_inner()).clone();
            for item in &report.items {
                let outcome = match &item.outcome {
                    ItemOutcome::Completed(status) => Ok(status.total_accounts),
                    ItemOutcome::Failed(error) => Err(error.to_string()),
                    ItemOutcome::Skipped { reason } => Err(format!("skipped: {reason}")),
                    other => Err(format!("{other:?}")),
                };
                ends[item.item] = (
                    item.started.as_ref().map(|s| s.task_id.clone()),
                    finished[item.item],
                    outcome,
                );
            }
            limiter_waits = client.rate_limiter().map(|l| l.waits());
            batch_counts = Some((report.task_list_requests, report.status_requests));
            wall
        }
        Variant::NaiveLoop => {
            let schedule = times.schedule();
            let mut tasks = tokio::task::JoinSet::new();
            for (i, source) in sources.iter().enumerate() {
                let (client, source, schedule) = (client.clone(), source.clone(), schedule.clone());
                tasks.spawn(async move {
                    let started = match client
                        .start_aggregation(&source.id)
                        .file(&source.file)
                        .send()
                        .await
                    {
                        Ok(started) => started,
                        Err(e) => return (i, None, Instant::now(), Err(format!("start: {e}"))),
                    };
                    let status = client
                        .wait_for_aggregation(&started)
                        .schedule(schedule)
                        .send()
                        .await;
                    let now = Instant::now();
                    let outcome = status
                        .map(|s| s.total_accounts)
                        .map_err(|e| format!("wait: {e}"));
                    (i, Some(started.task_id), now, outcome)
                });
            }
            let mut last = began;
            while let Some(joined) = tasks.join_next().await {
                let (i, task_id, at, outcome) = joined.context("a naive-loop task panicked")?;
                last = last.max(at);
                ends[i] = (task_id, Some(at), outcome);
            }
            last.duration_since(began)
        }
    };
    stop.store(true, Ordering::Relaxed);
    let completions = tokio::task::spawn_blocking(move || watcher.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the completion watcher panicked"))?;

    // Outcomes, counts, exactly-once.
    let mut delays = Vec::new();
    let mut completed = 0;
    let mut failures = Vec::new();
    let mut failed = 0;
    for (source, (task_id, at, outcome)) in sources.iter().zip(&ends) {
        match outcome {
            Ok(total) => {
                if let Some(total) = total {
                    ensure!(
                        *total == source.rows,
                        "{}: the sandbox counted {total} accounts, expected {}",
                        source.id,
                        source.rows
                    );
                }
                completed += 1;
                if let (Some(id), Some(at)) = (task_id, at)
                    && let Some(done) = completions.get(id)
                {
                    delays.push(at.saturating_duration_since(*done));
                }
            }
            Err(message) => {
                failed += 1;
                if failures.len() < 3 {
                    failures.push(format!("{}: {message}", source.id));
                }
            }
        }
    }
    let mut once = 0;
    let mut more_than_once = 0;
    for source in sources {
        match sandbox.aggregations_started(&source.id) {
            1 => once += 1,
            0 => {}
            _ => more_than_once += 1,
        }
    }
    // Never twice, whatever the variant: a retried start must not start a second aggregation.
    ensure!(
        more_than_once == 0,
        "{more_than_once} sources were aggregated more than once"
    );
    if variant == Variant::SdkBatch {
        ensure!(
            completed == sources.len() && once == sources.len(),
            "the SDK batch completed {completed} of {} items ({once} sources aggregated once); first failures: {failures:?}",
            sources.len()
        );
    }

    let mut received: HashMap<&'static str, usize> = HashMap::new();
    let (mut served, mut rejected) = (0, 0);
    let (mut last_start, mut last_request) = (Duration::ZERO, Duration::ZERO);
    if let Some(path) = std::env::var_os(TIMELINE_ENV) {
        // Diagnostics: every request the sandbox saw, with its arrival time since the start.
        let mut text = String::from("operation,status,received_s\n");
        for r in sandbox.requests() {
            let status = r.status.map_or("dropped".to_owned(), |s| s.to_string());
            let at = r.received.saturating_duration_since(began).as_secs_f64();
            text.push_str(&format!("{},{status},{at:.4}\n", r.operation.as_str()));
        }
        let path = PathBuf::from(path).join(format!("batch-{}-rep{rep}.csv", variant.key()));
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    for record in sandbox.requests() {
        if record.operation == Operation::Token {
            continue;
        }
        *received.entry(record.operation.as_str()).or_default() += 1;
        if record.status == Some(429) {
            rejected += 1;
            continue;
        }
        served += 1;
        let at = record.received.saturating_duration_since(began);
        last_request = last_request.max(at);
        if record.operation == Operation::ImportAccounts {
            last_start = last_start.max(at);
        }
    }
    if let Ok(sandbox) = Arc::try_unwrap(sandbox) {
        sandbox.shutdown().await;
    }
    Ok(Run {
        wall,
        length: collect + process,
        served,
        rejected,
        received,
        last_start,
        last_request,
        delays,
        completed,
        once,
        more_than_once,
        failures,
        failed,
        limiter_waits,
        batch_counts,
    })
}

/// Watches the sandbox from `wake` on and returns, per aggregation id, when it turned
/// `COMPLETED` (the midpoint between the last poll that saw it running and the first that saw it
/// completed). Stops when `expected` aggregations completed or `stop` is set.
fn watch_completions(
    sandbox: Arc<Sandbox>,
    wake: Instant,
    expected: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<HashMap<String, Instant>> {
    std::thread::spawn(move || {
        let mut done: HashMap<String, Instant> = HashMap::new();
        let mut running: HashMap<String, Instant> = HashMap::new();
        while Instant::now() < wake {
            if stop.load(Ordering::Relaxed) {
                return done;
            }
            std::thread::sleep(
                wake.saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(50)),
            );
        }
        while done.len() < expected && !stop.load(Ordering::Relaxed) {
            let list = sandbox.aggregations();
            let now = Instant::now();
            for a in list {
                if a.status == SandboxStatus::Completed {
                    if !done.contains_key(&a.id)
                        && let Some(seen) = running.remove(&a.id)
                    {
                        done.insert(a.id, seen + (now - seen) / 2);
                    }
                } else if !a.status.is_terminal() {
                    running.insert(a.id, now);
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        done
    })
}

fn write_sources(dir: &Path, n: usize) -> Result<Vec<Source>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    (0..n)
        .map(|i| {
            let id = format!("bench-batch-{i:03}");
            let file = dir.join(format!("{id}.csv"));
            let rows = rows(i);
            let mut text = String::from("id,displayName,email,department\n");
            for r in 0..rows {
                text.push_str(&format!(
                    "{i:03}-{r:06},User {r} of {i},user{r}.{i}@example.com,Dept {}\n",
                    r % 17
                ));
            }
            std::fs::write(&file, text)
                .with_context(|| format!("cannot write {}", file.display()))?;
            Ok(Source { id, file, rows })
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(
    params: &Params,
    times: Scaled,
    runs: &[Vec<Run>],
    lengths_unscaled: &[f64],
    sources: &[Source],
) -> (Value, Vec<String>) {
    let n = sources.len() as f64;
    let window_s = times.window.as_secs_f64();
    let aggregation_s = (COLLECT + PROCESS).div_f64(params.scale).as_secs_f64();
    let per = |i: usize, f: &dyn Fn(&Run) -> f64| runs[i].iter().map(f).collect::<Vec<_>>();
    let wall = |i: usize| per(i, &|r| r.wall.as_secs_f64());
    let bound = |i: usize| per(i, &|r| times.rate_bound(r.served).as_secs_f64());
    let ratio = |i: usize| {
        per(i, &|r| {
            let b = times.rate_bound(r.served).as_secs_f64();
            if b > 0.0 {
                r.wall.as_secs_f64() / b
            } else {
                f64::NAN
            }
        })
    };
    // No variant can end before one aggregation has run, whatever its requests.
    let floor_ratio = |i: usize| {
        per(i, &|r| {
            let b = times.rate_bound(r.served).max(r.length).as_secs_f64();
            r.wall.as_secs_f64() / b
        })
    };
    let calls = |i: usize| per(i, &|r| r.status_and_task_calls() as f64 / n);
    let delay_median = |i: usize| {
        per(i, &|r| {
            median(&r.delays.iter().map(|d| ms(*d)).collect::<Vec<_>>())
        })
    };
    let delay_max = |i: usize| {
        per(i, &|r| {
            r.delays.iter().map(|d| ms(*d)).fold(f64::NAN, f64::max)
        })
    };

    let mut variants = serde_json::Map::new();
    for (i, v) in Variant::ALL.iter().enumerate() {
        let rs = &runs[i];
        let field = |f: &dyn Fn(&Run) -> f64| summary(&per(i, f));
        let mut received: HashMap<&str, Vec<f64>> = HashMap::new();
        for r in rs {
            for op in [
                "import_accounts",
                "get_status",
                "get_task_status",
                "get_task_status_list",
            ] {
                received
                    .entry(op)
                    .or_default()
                    .push(r.received.get(op).copied().unwrap_or(0) as f64);
            }
        }
        let received: serde_json::Map<String, Value> = received
            .into_iter()
            .map(|(k, v)| (k.to_owned(), summary(&v)))
            .collect();
        variants.insert(
            v.key().to_owned(),
            json!({
                "label": v.label(params.concurrency),
                "wall_s": summary(&wall(i)),
                "wall_unscaled_s": median(&wall(i)) * params.scale,
                "requests_served": field(&|r| r.served as f64),
                "rate_limit_bound_s": summary(&bound(i)),
                "wall_over_bound": summary(&ratio(i)),
                "wall_over_max_of_bound_and_aggregation": summary(&floor_ratio(i)),
                "responses_429": field(&|r| r.rejected as f64),
                "requests_received_by_operation": received,
                "status_and_task_status_calls_per_aggregation": summary(&calls(i)),
                "detection_delay_median_ms": summary(&delay_median(i)),
                "detection_delay_max_ms": summary(&delay_max(i)),
                "detection_delays_measured": field(&|r| r.delays.len() as f64),
                "last_start_s": field(&|r| r.last_start.as_secs_f64()),
                "last_request_s": field(&|r| r.last_request.as_secs_f64()),
                "wall_minus_aggregation_length_s": field(&|r| r.wall.as_secs_f64() - r.length.as_secs_f64()),
                "completed": field(&|r| r.completed as f64),
                "failed": field(&|r| r.failed as f64),
                "sources_aggregated_exactly_once": field(&|r| r.once as f64),
                "sources_aggregated_more_than_once": field(&|r| r.more_than_once as f64),
                "first_failures": rs.iter().flat_map(|r| r.failures.clone()).take(5).collect::<Vec<_>>(),
                "client_limiter_waits": rs.iter().map(|r| r.limiter_waits).collect::<Vec<_>>(),
                "batch_report_task_list_and_status_requests": rs.iter().map(|r| r.batch_counts).collect::<Vec<_>>(),
            }),
        );
    }
    let (rows_min, rows_max) = min_max(&sources.iter().map(|s| s.rows as f64).collect::<Vec<_>>());
    let json = json!({
        "sources": sources.len(),
        "rows_per_source": { "min": rows_min, "max": rows_max },
        "scale_factor": params.scale,
        "repetitions": params.reps,
        "max_concurrency": params.concurrency,
        "rate_limit": { "requests": RATE_REQUESTS, "window_unscaled_s": RATE_WINDOW.as_secs_f64(), "window_scaled_s": window_s, "kind": "sliding window per client id and API version, enforced by the sandbox; the SDK batch's client-side limiter is set to the same" },
        "aggregation_unscaled_s": { "started": COLLECT.as_secs_f64(), "accounts_collected": PROCESS.as_secs_f64(), "total": (COLLECT + PROCESS).as_secs_f64() },
        "aggregation_lengths_unscaled_s": lengths_unscaled,
        "aggregation_scaled_s": aggregation_s,
        "poll_interval_scaled_s": times.poll_interval.as_secs_f64(),
        "naive_poll_schedule_scaled": format!("{:?}", times.schedule()),
        "retry_scaled": format!("{:?}", times.retry()),
        "rate_limit_bound": "n = requests the sandbox served (any answer but 429), token requests excluded, all of one API version; request k+100 goes at least one window after request k, so n requests span at least (ceil(n / 100) - 1) windows",
        "detection_delay": "from the instant the sandbox turns an aggregation COMPLETED (watched every 1 ms through Sandbox::aggregations()) to the item's BatchEvent::Finished (SDK batch) or to wait_for_aggregation returning (naive loop)",
        "status_and_task_status_calls": "getAccountAggregationStatus + getTaskStatus + getTaskStatusList requests received (429s included; the task-status lists include the one snapshot per start of the default OutcomeResolution), per source",
        "variants": variants,
    });

    let mut lines = vec![
        format!(
            "### Batch ({} sources of {}–{} rows, sandbox rate limit {} per {:.0} s; time scaled 1/{}: aggregations {:.2} s, window {:.3} s, poll interval {:.3} s; {} interleaved reps, median)",
            sources.len(),
            rows_min,
            rows_max,
            RATE_REQUESTS,
            RATE_WINDOW.as_secs_f64(),
            params.scale,
            aggregation_s,
            window_s,
            times.poll_interval.as_secs_f64(),
            params.reps
        ),
        String::new(),
        "| variant | wall (s) | same, unscaled (s) | requests served | rate-limit bound (s) | wall / bound | wall / max(bound, one aggregation) | 429s | status + task-status calls / aggregation | last start (s) | detection delay median / max (ms) | completed, each source once |".to_owned(),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|".to_owned(),
    ];
    for (i, v) in Variant::ALL.iter().enumerate() {
        let rs = &runs[i];
        let min_completed = rs.iter().map(|r| r.completed).min().unwrap_or(0);
        let min_once = rs.iter().map(|r| r.once).min().unwrap_or(0);
        let ratio = median(&ratio(i));
        lines.push(format!(
            "| {} | {:.2} | {:.0} | {} | {:.2} | {} | {:.2} | {} | {:.1} | {:.2} | {:.0} / {:.0} | {} |",
            v.label(params.concurrency),
            median(&wall(i)),
            median(&wall(i)) * params.scale,
            median(&per(i, &|r| r.served as f64)),
            median(&bound(i)),
            if ratio.is_finite() {
                format!("{ratio:.2}")
            } else {
                "n/a".to_owned()
            },
            median(&floor_ratio(i)),
            median(&per(i, &|r| r.rejected as f64)),
            median(&calls(i)),
            median(&per(i, &|r| r.last_start.as_secs_f64())),
            median(&delay_median(i)),
            median(&delay_max(i)),
            if min_completed == sources.len() && min_once == sources.len() {
                format!("{} / {}, yes", min_completed, sources.len())
            } else {
                format!(
                    "{} / {} (worst rep), {} once",
                    min_completed,
                    sources.len(),
                    min_once
                )
            },
        ));
    }
    lines.push(String::new());
    lines.push(format!(
        "Rate-limit bound: n served requests (429s and token requests excluded) need at least (ceil(n / {RATE_REQUESTS}) − 1) windows of {window_s:.3} s. One aggregation alone lasts {aggregation_s:.2} s, a floor for any variant. Last start: arrival of the last served import. Detection delay: sandbox's COMPLETED instant → item finished. Target 0 × 429 for the SDK batch: {}.",
        if runs[0].iter().all(|r| r.rejected == 0) { "met" } else { "MISSED" }
    ));
    (json, lines)
}

/// `--batch-concurrency 0` means "as many as there are sources".
pub fn concurrency(requested: usize, sources: usize) -> usize {
    if requested == 0 { sources } else { requested }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_bound_counts_whole_windows() {
        let t = Scaled::new(1.0);
        assert_eq!(t.rate_bound(0), Duration::ZERO);
        assert_eq!(t.rate_bound(100), Duration::ZERO);
        assert_eq!(t.rate_bound(101), Duration::from_secs(10));
        assert_eq!(t.rate_bound(200), Duration::from_secs(10));
        assert_eq!(t.rate_bound(450), Duration::from_secs(40));
        assert_eq!(Scaled::new(10.0).rate_bound(250), Duration::from_secs(2));
    }

    #[test]
    fn files_have_a_few_thousand_rows() {
        assert!((0..100).all(|i| (2_000..5_000).contains(&rows(i))));
    }
}

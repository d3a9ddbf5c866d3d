//! Figure 3: waiting for an aggregation on the sandbox. The ergonomic crate's default poll schedule
//! vs fixed 5 s polling, both run by the same waiter, with the aggregation and both schedules
//! scaled down in time by the same factor.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use sailpoint_isc::{AggregationState, PollSchedule};
use sailpoint_isc_sandbox::{AggregationStatus as SandboxStatus, Operation, Sandbox};
use serde_json::{Value, json};

use crate::server::{CLIENT_ID, CLIENT_SECRET};
use crate::util::{median, rotated, summary, verdict};

/// The simulated aggregation at full scale: `STARTED` for 20 s, then `ACCOUNTS_COLLECTED` with
/// linear progress for 100 s, then `COMPLETED` (120 s in all).
pub(crate) const COLLECT: Duration = Duration::from_secs(20);
pub(crate) const PROCESS: Duration = Duration::from_secs(100);
/// The baseline: poll every 5 s.
pub(crate) const FIXED_INTERVAL: Duration = Duration::from_secs(5);

/// How much repetition `rep` of `reps` lengthens (or, negative, shortens) the aggregation:
/// evenly spread over one fixed interval, -2.5 s to +2.5 s, so the median is 120 s.
///
/// 120 s is a multiple of 5 s: with one fixed length, fixed polling would be phase-locked with
/// the aggregation and see COMPLETED a few milliseconds after it happens, every time. Real
/// aggregations last any length, so over a spread of lengths fixed polling shows its true
/// average delay (half an interval).
pub(crate) fn spread(rep: usize, reps: usize) -> SignedDuration {
    let fraction = (rep as f64 + 0.5) / reps as f64 - 0.5;
    SignedDuration(FIXED_INTERVAL.as_secs_f64() * fraction)
}

/// Seconds that may be negative, added to a [`Duration`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedDuration(f64);

impl std::ops::Add<SignedDuration> for Duration {
    type Output = Duration;
    fn add(self, rhs: SignedDuration) -> Duration {
        Duration::from_secs_f64((self.as_secs_f64() + rhs.0).max(0.0))
    }
}
/// Rows of the CSV each aggregation loads.
const ROWS: u64 = 2_000;

/// What to run.
#[derive(Debug, Clone)]
pub struct Params {
    /// Time is divided by this (20 → the 120 s aggregation takes 6 s).
    pub scale: f64,
    pub reps: usize,
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy)]
enum Schedule {
    Adaptive,
    Fixed,
}

impl Schedule {
    fn key(self) -> &'static str {
        match self {
            Schedule::Adaptive => "default_adaptive",
            Schedule::Fixed => "fixed_5s",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Schedule::Adaptive => "sailpoint-isc default (PollSchedule::standard)",
            Schedule::Fixed => "fixed 5 s (PollSchedule::fixed)",
        }
    }

    fn schedule(self, scale: f64) -> PollSchedule {
        let base = match self {
            Schedule::Adaptive => PollSchedule::standard(),
            Schedule::Fixed => PollSchedule::fixed(FIXED_INTERVAL),
        };
        scaled(base, scale)
    }
}

/// Every duration of the schedule divided by `scale` (the multiplier is unitless).
pub(crate) fn scaled(s: PollSchedule, scale: f64) -> PollSchedule {
    let (initial, min, max, wait) = (s.initial_delay, s.min_delay, s.max_delay, s.max_wait);
    s.with_initial_delay(initial.div_f64(scale))
        .with_delay_bounds(min.div_f64(scale), max.div_f64(scale))
        .with_max_wait(wait.div_f64(scale))
}

struct Run {
    calls: f64,
    delay: Duration,
}

/// Runs the benchmark; returns the JSON section and the table lines.
pub fn run(params: &Params) -> Result<(Value, Vec<String>)> {
    ensure!(params.scale >= 1.0, "the wait scale must be at least 1");
    let csv = write_small_csv(&params.dir)?;
    let collect = COLLECT.div_f64(params.scale);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let schedules = [Schedule::Adaptive, Schedule::Fixed];
    let runs: Vec<Vec<Run>> = runtime.block_on(async {
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(), Vec::new()];
        for rep in 0..params.reps {
            // One sandbox per repetition, with this repetition's aggregation length.
            let process = (PROCESS + spread(rep, params.reps)).div_f64(params.scale);
            let sandbox = Arc::new(
                Sandbox::builder()
                    .client(CLIENT_ID, CLIENT_SECRET)
                    .no_rate_limit()
                    .collect_duration(collect)
                    .process_duration(process)
                    .start()
                    .await?,
            );
            let client = sailpoint_isc::Client::builder()
                .base_url(sandbox.base_url())
                .client_credentials(CLIENT_ID, CLIENT_SECRET)
                .build()?;
            for i in rotated(&[0usize, 1], rep) {
                let run = one_run(
                    &sandbox,
                    &client,
                    &csv,
                    schedules[i].schedule(params.scale),
                    format!("bench-wait-{rep}-{}", schedules[i].key()),
                    collect + process,
                )
                .await
                .with_context(|| format!("{} wait, rep {rep}", schedules[i].key()))?;
                runs[i].push(run);
            }
        }
        anyhow::Ok(runs)
    })?;
    drop(runtime);

    let calls = |i: usize| runs[i].iter().map(|r| r.calls).collect::<Vec<_>>();
    let delays_ms = |i: usize| {
        runs[i]
            .iter()
            .map(|r| r.delay.as_secs_f64() * 1000.0)
            .collect::<Vec<_>>()
    };
    let unscaled_s = |i: usize| median(&delays_ms(i)) * params.scale / 1000.0;
    let fewer_calls = median(&calls(0)) < median(&calls(1));
    let no_later = median(&delays_ms(0)) <= median(&delays_ms(1));

    let mut schedules_json = serde_json::Map::new();
    for (i, s) in schedules.iter().enumerate() {
        schedules_json.insert(
            s.key().to_owned(),
            json!({
                "label": s.label(),
                "schedule_scaled": format!("{:?}", s.schedule(params.scale)),
                "status_calls": summary(&calls(i)),
                "detection_delay_ms": summary(&delays_ms(i)),
                "detection_delay_unscaled_s": unscaled_s(i),
            }),
        );
    }
    let json = json!({
        "aggregation_unscaled_s": { "started": COLLECT.as_secs_f64(), "accounts_collected": PROCESS.as_secs_f64(), "total": (COLLECT + PROCESS).as_secs_f64() },
        "aggregation_lengths_unscaled_s": (0..params.reps).map(|r| ((COLLECT + PROCESS) + spread(r, params.reps)).as_secs_f64()).collect::<Vec<_>>(),
        "length_spread": "repetition r of n lasts 120 s + 5 s x ((r + 0.5) / n - 0.5), so fixed 5 s polling is not phase-locked with a length that is a multiple of its interval",
        "scale_factor": params.scale,
        "aggregation_scaled_s": (COLLECT + PROCESS).div_f64(params.scale).as_secs_f64(),
        "rows": ROWS,
        "repetitions": params.reps,
        "detection_delay": "time from the sandbox's COMPLETED instant to the waiter returning",
        "status_calls": "GET status requests the sandbox received during the wait",
        "schedules": schedules_json,
        "targets": { "fewer_calls_than_fixed_5s": fewer_calls, "delay_no_worse_than_fixed_5s": no_later },
    });

    let mut lines = vec![
        format!(
            "### Waiting (sandbox aggregation of {:.0} s: {:.0} s STARTED + {:.0} s ACCOUNTS_COLLECTED, time scaled 1/{} → {:.2} s; lengths spread ±2.5 s over {} interleaved reps, median)",
            (COLLECT + PROCESS).as_secs_f64(),
            COLLECT.as_secs_f64(),
            PROCESS.as_secs_f64(),
            params.scale,
            (COLLECT + PROCESS).div_f64(params.scale).as_secs_f64(),
            params.reps
        ),
        String::new(),
        "| schedule (scaled by the same factor) | status calls | detection delay, scaled (ms) | same, unscaled (s) |".to_owned(),
        "|---|---:|---:|---:|".to_owned(),
    ];
    for (i, s) in schedules.iter().enumerate() {
        lines.push(format!(
            "| {} | {} | {:.1} | {:.2} |",
            s.label(),
            median(&calls(i)),
            median(&delays_ms(i)),
            unscaled_s(i)
        ));
    }
    lines.push(String::new());
    lines.push(format!(
        "Target fewer calls than fixed 5 s: {}; detection delay no worse: {}.",
        verdict(fewer_calls),
        verdict(no_later)
    ));
    Ok((json, lines))
}

async fn one_run(
    sandbox: &Arc<Sandbox>,
    client: &sailpoint_isc::Client,
    csv: &Path,
    poll: PollSchedule,
    source_id: String,
    total: Duration,
) -> Result<Run> {
    let sent = Instant::now();
    let started = client.start_aggregation(source_id).file(csv).send().await?;
    let calls_before = sandbox.request_count(Operation::GetStatus);

    // Ask the sandbox itself when the aggregation turns COMPLETED: sleep until just before it
    // is due, then check every 100 µs.
    let watcher = {
        let sandbox = sandbox.clone();
        let id = started.task_id.clone();
        let wake = sent + total.saturating_sub(Duration::from_millis(20));
        std::thread::spawn(move || -> Option<Instant> {
            std::thread::sleep(wake.saturating_duration_since(Instant::now()));
            let give_up = Instant::now() + total + Duration::from_secs(60);
            let mut previous = Instant::now();
            while Instant::now() < give_up {
                let completed = sandbox
                    .aggregations()
                    .iter()
                    .any(|a| a.id == id && a.status == SandboxStatus::Completed);
                let now = Instant::now();
                if completed {
                    // It turned COMPLETED between the previous check and this one.
                    return Some(previous + (now - previous) / 2);
                }
                previous = now;
                std::thread::sleep(Duration::from_micros(100));
            }
            None
        })
    };

    let status = client
        .wait_for_aggregation(&started)
        .schedule(poll)
        .send()
        .await?;
    let returned = Instant::now();
    ensure!(
        status.state == Some(AggregationState::Completed),
        "the wait ended with {status}"
    );
    ensure!(
        status.total_accounts == Some(ROWS),
        "the sandbox counted {:?} accounts, expected {ROWS}",
        status.total_accounts
    );
    let calls = sandbox.request_count(Operation::GetStatus) - calls_before;
    let completed = tokio::task::spawn_blocking(move || watcher.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the completion watcher panicked"))?
        .context("the sandbox never reported COMPLETED")?;
    Ok(Run {
        calls: calls as f64,
        delay: returned.saturating_duration_since(completed),
    })
}

fn write_small_csv(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("wait-accounts.csv");
    let mut text = String::from("id,displayName,email\n");
    for i in 0..ROWS {
        text.push_str(&format!("{i:06},User {i},user{i}@example.com\n"));
    }
    std::fs::write(&path, text)?;
    Ok(path)
}

//! Batch aggregation: many sources on one client, started with a concurrency cap (each start
//! exactly once, with outcome resolution), waited for together, with per-item events and results.
//!
//! Completion is detected with task-status lists (`id in (…)`, up to 50 aggregations a request)
//! instead of one status loop per aggregation; per-aggregation status reads (for progress and the
//! final counts) are made only while the rate limiter has budget to spare, so a large batch runs
//! near ISC's limit without a single 429.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::aggregation::{StartAggregation, fetch_status};
use crate::config::{ApiVersion, OutcomeResolution};
use crate::error::Error;
use crate::executor::Executor;
use crate::sources::find_source_by_name;
use crate::status::{AggregationStatus, StartedAggregation};
use crate::task_status::TaskStatus;
use crate::tasks::{ListTaskStatuses, TaskFilter, newest_aggregation_tasks};

/// Aggregations checked per task-status list request.
const IDS_PER_LIST: usize = 50;
/// Share of the rate budget kept free for starts and completion checks when reading progress
/// and final counts.
const PROGRESS_RESERVE_PERCENT: u32 = 25;

/// Which source an item aggregates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceSpec {
    /// By id.
    Id(String),
    /// By exact name, looked up before anything starts.
    Name(String),
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::Id(id) => f.write_str(id),
            SourceSpec::Name(name) => write!(f, "{name:?}"),
        }
    }
}

/// One aggregation of a batch: a source, an optional CSV (for delimited-file sources) and
/// options.
///
/// ```
/// use sailpoint_isc::batch::BatchItem;
///
/// let hr = BatchItem::source_name("HR Feed").file("exports/hr.csv");
/// let ad = BatchItem::source_id("2c9180835d2e5168015d32f890ca1581").disable_optimization(true);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchItem {
    /// The source.
    pub source: SourceSpec,
    /// The CSV to upload, if any.
    pub file: Option<PathBuf>,
    /// Re-process every account (`disableOptimization`).
    pub disable_optimization: bool,
}

impl BatchItem {
    /// An item for the source with this id.
    pub fn source_id(id: impl Into<String>) -> Self {
        Self::new(SourceSpec::Id(id.into()))
    }

    /// An item for the source with this exact name.
    pub fn source_name(name: impl Into<String>) -> Self {
        Self::new(SourceSpec::Name(name.into()))
    }

    fn new(source: SourceSpec) -> Self {
        BatchItem {
            source,
            file: None,
            disable_optimization: false,
        }
    }

    /// Uploads this CSV.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Sets `disableOptimization`.
    pub fn disable_optimization(mut self, disable: bool) -> Self {
        self.disable_optimization = disable;
        self
    }
}

/// How one item of a batch ended.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ItemOutcome {
    /// The aggregation completed (task status `SUCCESS` or `WARNING`).
    Completed(Box<AggregationStatus>),
    /// The item failed: its source could not be resolved, its start failed (including
    /// [`Error::OutcomeUnknown`]), it ended unsuccessfully ([`Error::AggregationFailed`]) or the
    /// batch's maximum wait passed ([`Error::WaitTimeout`]).
    Failed(Error),
    /// Not started: the batch stopped after another item's failure, or ran out of time first.
    Skipped {
        /// Why.
        reason: String,
    },
}

impl ItemOutcome {
    /// True for [`ItemOutcome::Completed`].
    pub fn is_completed(&self) -> bool {
        matches!(self, ItemOutcome::Completed(_))
    }
}

/// Something that happened to one item, in order, for progress reporting.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BatchEvent {
    /// A source name was resolved to its id.
    SourceResolved {
        /// The item's index.
        item: usize,
        /// The name.
        name: String,
        /// Its id.
        source_id: String,
    },
    /// The aggregation started (or was recovered, or was already running).
    Started {
        /// The item's index.
        item: usize,
        /// What the start returned.
        started: Box<StartedAggregation>,
    },
    /// A status read showed new progress.
    Progress {
        /// The item's index.
        item: usize,
        /// The status read.
        status: Box<AggregationStatus>,
    },
    /// The item ended.
    Finished {
        /// The item's index.
        item: usize,
        /// How.
        outcome: ItemOutcome,
    },
}

/// The result of one item.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ItemReport {
    /// The item's index in the batch.
    pub item: usize,
    /// The source id (after name resolution), when known.
    pub source_id: Option<String>,
    /// The started aggregation, when it started.
    pub started: Option<StartedAggregation>,
    /// How it ended.
    pub outcome: ItemOutcome,
    /// From the start of the batch to the item's end.
    pub elapsed: Duration,
}

/// The result of a batch: one report per item, in item order, and what it cost.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BatchReport {
    /// One per item, in the order given.
    pub items: Vec<ItemReport>,
    /// How long the batch took.
    pub elapsed: Duration,
    /// Task-status list requests made to detect completion.
    pub task_list_requests: u64,
    /// Aggregation-status reads made for progress and final counts.
    pub status_requests: u64,
}

impl BatchReport {
    /// True when every item completed.
    pub fn all_completed(&self) -> bool {
        self.items.iter().all(|i| i.outcome.is_completed())
    }

    /// How many items completed.
    pub fn completed(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.outcome.is_completed())
            .count()
    }
}

type EventCallback = Box<dyn FnMut(&BatchEvent) + Send + 'static>;

/// Aggregates many sources. Created by [`Client::aggregate_batch`](crate::Client::aggregate_batch).
///
/// ```no_run
/// use std::time::Duration;
/// use sailpoint_isc::batch::{BatchEvent, BatchItem};
///
/// # async fn demo(client: sailpoint_isc::Client) -> Result<(), sailpoint_isc::Error> {
/// let report = client
///     .aggregate_batch([
///         BatchItem::source_name("HR Feed").file("exports/hr.csv"),
///         BatchItem::source_id("2c9180835d2e5168015d32f890ca1581"),
///     ])
///     .max_concurrency(8)
///     .max_wait(Duration::from_secs(2 * 3600))
///     .on_event(|event| {
///         if let BatchEvent::Finished { item, outcome } = event {
///             eprintln!("item {item}: {outcome:?}");
///         }
///     })
///     .run()
///     .await;
/// println!("{} of {} completed", report.completed(), report.items.len());
/// # Ok(()) }
/// ```
#[must_use = "nothing is sent until `.run()` is awaited"]
pub struct AggregateBatch {
    executor: Executor,
    version: ApiVersion,
    resolution: OutcomeResolution,
    items: Vec<BatchItem>,
    max_concurrency: usize,
    stop_on_failure: bool,
    max_wait: Duration,
    poll_interval: Duration,
    on_event: Option<EventCallback>,
}

impl fmt::Debug for AggregateBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AggregateBatch")
            .field("version", &self.version)
            .field("items", &self.items.len())
            .field("max_concurrency", &self.max_concurrency)
            .field("stop_on_failure", &self.stop_on_failure)
            .field("max_wait", &self.max_wait)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

/// An aggregation of the batch that is running.
struct Running {
    item: usize,
    task_id: String,
    last: Option<AggregationStatus>,
    /// When its status was last read for progress.
    read_at: Option<Instant>,
}

/// Mutable state of one run.
struct Run {
    reports: Vec<Option<ItemReport>>,
    source_ids: Vec<Option<String>>,
    started: Vec<Option<StartedAggregation>>,
    on_event: Option<EventCallback>,
    began: Instant,
    failed: bool,
}

impl Run {
    fn emit(&mut self, event: BatchEvent) {
        if let Some(callback) = self.on_event.as_mut() {
            callback(&event);
        }
    }

    fn finish(&mut self, item: usize, outcome: ItemOutcome) {
        if !outcome.is_completed() && !matches!(outcome, ItemOutcome::Skipped { .. }) {
            self.failed = true;
        }
        self.emit(BatchEvent::Finished {
            item,
            outcome: outcome.clone(),
        });
        self.reports[item] = Some(ItemReport {
            item,
            source_id: self.source_ids[item].clone(),
            started: self.started[item].clone(),
            outcome,
            elapsed: self.began.elapsed(),
        });
    }
}

impl AggregateBatch {
    pub(crate) fn new(
        executor: Executor,
        version: ApiVersion,
        resolution: OutcomeResolution,
        items: Vec<BatchItem>,
    ) -> Self {
        AggregateBatch {
            executor,
            version,
            resolution,
            items,
            max_concurrency: 100,
            stop_on_failure: false,
            max_wait: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(5),
            on_event: None,
        }
    }

    /// How many aggregations run at once (default 100: ISC queues aggregations itself, and the rate limit, not this cap, paces the starts; at least 1).
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n.max(1);
        self
    }

    /// Stops starting new items after the first failure (default: a failure never stops the
    /// others). Running aggregations are still waited for; unstarted items are skipped.
    pub fn stop_on_failure(mut self, stop: bool) -> Self {
        self.stop_on_failure = stop;
        self
    }

    /// Gives up on what is still running after this long (default 1 h).
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Time between completion checks (default 5 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Uses this API version instead of the client's default.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.version = version;
        self
    }

    /// What an ambiguous start does (default: the client's).
    pub fn outcome_resolution(mut self, resolution: OutcomeResolution) -> Self {
        self.resolution = resolution;
        self
    }

    /// Called with every event, in order.
    pub fn on_event(mut self, callback: impl FnMut(&BatchEvent) + Send + 'static) -> Self {
        self.on_event = Some(Box::new(callback));
        self
    }

    /// Runs the batch to the end. Never fails as a whole: each item has its own outcome.
    pub async fn run(self) -> BatchReport {
        let AggregateBatch {
            executor,
            version,
            resolution,
            items,
            max_concurrency,
            stop_on_failure,
            max_wait,
            poll_interval,
            on_event,
        } = self;
        let n = items.len();
        let mut run = Run {
            reports: vec![None; n],
            source_ids: vec![None; n],
            started: vec![None; n],
            on_event,
            began: Instant::now(),
            failed: false,
        };
        let deadline = run.began + max_wait;
        let counters = Arc::new(Counters::default());

        // 1. Sources: names looked up once each, duplicates refused.
        let mut names: HashMap<String, Result<String, Error>> = HashMap::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut pending = VecDeque::new();
        for (i, item) in items.iter().enumerate() {
            let source_id = match &item.source {
                SourceSpec::Id(id) => Ok(id.clone()),
                SourceSpec::Name(name) => {
                    if !names.contains_key(name) {
                        let found = find_source_by_name(&executor, name, version)
                            .await
                            .and_then(|s| {
                                s.id.ok_or_else(|| Error::InvalidInput {
                                    message: format!("source {name:?} has no id"),
                                })
                            });
                        names.insert(name.clone(), found);
                    }
                    let found = names[name].clone();
                    if let Ok(id) = &found {
                        run.emit(BatchEvent::SourceResolved {
                            item: i,
                            name: name.clone(),
                            source_id: id.clone(),
                        });
                    }
                    found
                }
            };
            match source_id {
                Err(error) => run.finish(i, ItemOutcome::Failed(error)),
                Ok(id) => {
                    run.source_ids[i] = Some(id.clone());
                    if let Some(first) = seen.get(&id) {
                        run.finish(
                            i,
                            ItemOutcome::Failed(Error::InvalidInput {
                                message: format!(
                                    "source {id} is already item {first} of this batch; one \
                                     aggregation per source at a time"
                                ),
                            }),
                        );
                    } else {
                        seen.insert(id, i);
                        pending.push_back(i);
                    }
                }
            }
        }

        // 2. One snapshot of the sources' newest aggregation tasks for outcome resolution (a
        //    task-status list per 50 sources instead of one request per start).
        let snapshots = if !resolution.grace_period.is_zero() && resolution.snapshot {
            let sources: Vec<String> = pending
                .iter()
                .filter_map(|&i| run.source_ids[i].clone())
                .collect();
            // A failed list leaves each start to take its own snapshot.
            newest_aggregation_tasks(&executor, version, &sources, None, None)
                .await
                .inspect_err(|error| {
                    tracing::debug!(error = %error, "batch: no task snapshot; each start takes its own")
                })
                .ok()
        } else {
            None
        };

        // 3. Start under the cap; detect completion with task-status lists.
        let mut starting: JoinSet<(usize, Result<StartedAggregation, Error>)> = JoinSet::new();
        let mut running: Vec<Running> = Vec::new();
        let mut next_poll = Instant::now() + poll_interval;
        let mut progress_cursor = 0usize;
        loop {
            let stopped = stop_on_failure && run.failed;
            while !stopped && running.len() + starting.len() < max_concurrency {
                let Some(i) = pending.pop_front() else { break };
                let item = &items[i];
                let mut start = StartAggregation::new(
                    executor.clone(),
                    run.source_ids[i].clone().unwrap_or_default(),
                    version,
                    resolution.clone(),
                )
                .disable_optimization(item.disable_optimization);
                if let Some(file) = &item.file {
                    start = start.file(file);
                }
                if let (Some(snapshots), Some(source)) = (&snapshots, &run.source_ids[i]) {
                    start = start.with_snapshot(snapshots.get(source).cloned());
                }
                starting.spawn(async move { (i, start.send().await) });
            }
            if stopped {
                while let Some(i) = pending.pop_front() {
                    run.finish(
                        i,
                        ItemOutcome::Skipped {
                            reason: "not started: the batch stops after a failure".to_owned(),
                        },
                    );
                }
            }
            if running.is_empty() && starting.is_empty() {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                for r in running.drain(..) {
                    let outcome = ItemOutcome::Failed(Error::WaitTimeout {
                        task_id: r.task_id,
                        waited: max_wait,
                        last_status: r.last.map(Box::new),
                    });
                    run.finish(r.item, outcome);
                }
                // Starts in flight are let finish (never abandoned mid-upload), then reported.
                while let Some(joined) = starting.join_next().await {
                    if let Ok((i, result)) = joined {
                        let outcome = match result {
                            Ok(started) => {
                                let task_id = started.task_id.clone();
                                run.started[i] = Some(started.clone());
                                run.emit(BatchEvent::Started {
                                    item: i,
                                    started: Box::new(started),
                                });
                                ItemOutcome::Failed(Error::WaitTimeout {
                                    task_id,
                                    waited: max_wait,
                                    last_status: None,
                                })
                            }
                            Err(error) => ItemOutcome::Failed(error),
                        };
                        run.finish(i, outcome);
                    }
                }
                while let Some(i) = pending.pop_front() {
                    run.finish(
                        i,
                        ItemOutcome::Skipped {
                            reason: "not started: the batch's maximum wait passed".to_owned(),
                        },
                    );
                }
                break;
            }
            let wake = next_poll.min(deadline);
            if !starting.is_empty() {
                if let Ok(Some(joined)) = tokio::time::timeout_at(wake, starting.join_next()).await
                {
                    if let Ok((i, result)) = joined {
                        match result {
                            Ok(started) => {
                                run.started[i] = Some(started.clone());
                                running.push(Running {
                                    item: i,
                                    task_id: started.task_id.clone(),
                                    last: None,
                                    read_at: None,
                                });
                                run.emit(BatchEvent::Started {
                                    item: i,
                                    started: Box::new(started),
                                });
                            }
                            Err(error) => run.finish(i, ItemOutcome::Failed(error)),
                        }
                    }
                    continue;
                }
            } else {
                tokio::time::sleep_until(wake).await;
            }
            if Instant::now() < next_poll || running.is_empty() {
                continue;
            }
            // While starts are still going out they have the rate budget: no progress reads,
            // and completion checks only when a slot is needed for the next start.
            let starts_waiting = !starting.is_empty();
            let slot_needed =
                !pending.is_empty() && running.len() + starting.len() >= max_concurrency;
            if starts_waiting && !slot_needed {
                next_poll = Instant::now() + poll_interval;
                continue;
            }
            let round = Round {
                executor: &executor,
                version,
                counters: &counters,
                deadline,
            };
            let progress_every = (!starts_waiting).then_some(poll_interval * 2);
            poll_round(
                &round,
                &mut running,
                &mut run,
                &mut progress_cursor,
                progress_every,
            )
            .await;
            next_poll = Instant::now() + poll_interval;
        }

        BatchReport {
            items: run
                .reports
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    r.unwrap_or_else(|| ItemReport {
                        item: i,
                        source_id: None,
                        started: None,
                        outcome: ItemOutcome::Skipped {
                            reason: "not started".to_owned(),
                        },
                        elapsed: Duration::ZERO,
                    })
                })
                .collect(),
            elapsed: run.began.elapsed(),
            task_list_requests: counters.lists.load(Ordering::Relaxed),
            status_requests: counters.statuses.load(Ordering::Relaxed),
        }
    }
}

#[derive(Default)]
struct Counters {
    lists: AtomicU64,
    statuses: AtomicU64,
}

/// What every request of a poll round needs.
struct Round<'a> {
    executor: &'a Executor,
    version: ApiVersion,
    counters: &'a Counters,
    /// The batch's deadline: every request of a round ends there, rate-limit wait included.
    deadline: Instant,
}

/// One round: which running aggregations finished (task-status lists), then progress reads for
/// as many others as the rate budget allows.
async fn poll_round(
    round: &Round<'_>,
    running: &mut Vec<Running>,
    run: &mut Run,
    cursor: &mut usize,
    progress_every: Option<Duration>,
) {
    let Round {
        executor,
        version,
        counters,
        deadline,
    } = *round;
    let mut finished: HashMap<String, TaskStatus> = HashMap::new();
    let ids: Vec<String> = running.iter().map(|r| r.task_id.clone()).collect();
    for chunk in ids.chunks(IDS_PER_LIST) {
        counters.lists.fetch_add(1, Ordering::Relaxed);
        // Every request of a round ends at the batch's deadline, rate-limit wait included.
        let list = ListTaskStatuses::new(executor.clone(), version)
            .filter(TaskFilter::new().ids(chunk))
            .page_size(chunk.len() as u32);
        let Ok(page) = tokio::time::timeout_at(deadline, list.page(0)).await else {
            return;
        };
        match page {
            Ok(page) => {
                for task in page.items {
                    if !task.is_running()
                        && let Some(id) = task.id.clone()
                    {
                        finished.insert(id, task);
                    }
                }
            }
            Err(error) => {
                tracing::debug!(error = %error, "batch: task-status list failed; trying again next round");
            }
        }
    }
    let mut still = Vec::with_capacity(running.len());
    for r in running.drain(..) {
        match finished.remove(&r.task_id) {
            Some(task) => {
                let outcome = final_outcome(executor, version, &r, task, counters, deadline).await;
                run.finish(r.item, outcome);
            }
            None => still.push(r),
        }
    }
    *running = still;

    // Progress, within the budget left after keeping a reserve, at most once per aggregation
    // every `progress_every`.
    let Some(progress_every) = progress_every else {
        return;
    };
    let budget = spare_budget(executor, version).unwrap_or(running.len());
    let mut reads = 0;
    let mut visited = 0;
    let mut done: HashSet<usize> = HashSet::new();
    while reads < budget && visited < running.len() {
        let at = (*cursor + visited) % running.len();
        visited += 1;
        let r = &mut running[at];
        if r.read_at.is_some_and(|t| t.elapsed() < progress_every) {
            continue;
        }
        reads += 1;
        r.read_at = Some(Instant::now());
        counters.statuses.fetch_add(1, Ordering::Relaxed);
        let Ok(Ok(status)) =
            tokio::time::timeout_at(deadline, fetch_status(executor, &r.task_id, version)).await
        else {
            continue;
        };
        if r.last.as_ref() != Some(&status) {
            r.last = Some(status.clone());
            let item = r.item;
            run.emit(BatchEvent::Progress {
                item,
                status: Box::new(status.clone()),
            });
        }
        if status.is_terminal() {
            done.insert(at);
        }
    }
    if !running.is_empty() {
        *cursor = (*cursor + visited) % running.len();
    }
    // A status read that shows the end settles the item without waiting for the next list.
    let mut index = 0;
    running.retain(|r| {
        let keep = !done.contains(&index);
        index += 1;
        if !keep {
            let status = r.last.clone().unwrap_or_default();
            let outcome = if status.state.as_ref().is_some_and(|s| s.is_failure()) {
                ItemOutcome::Failed(Error::AggregationFailed {
                    task_id: r.task_id.clone(),
                    status: Box::new(status),
                })
            } else {
                ItemOutcome::Completed(Box::new(status))
            };
            run.finish(r.item, outcome);
        }
        keep
    });
}

/// Requests the rate budget allows beyond the reserve kept for starts and completion checks;
/// `None` without a limiter.
fn spare_budget(executor: &Executor, version: ApiVersion) -> Option<usize> {
    executor.limiter().map(|limiter| {
        let reserve = (limiter.limit().max_requests * PROGRESS_RESERVE_PERCENT).div_ceil(100);
        limiter.available(version.name()).saturating_sub(reserve) as usize
    })
}

/// The outcome of an aggregation whose task ended: with the final state and counts from one
/// status read when the budget allows (CANCELLED and TERMINATED look alike in task status),
/// otherwise from the task alone.
async fn final_outcome(
    executor: &Executor,
    version: ApiVersion,
    r: &Running,
    task: TaskStatus,
    counters: &Counters,
    deadline: Instant,
) -> ItemOutcome {
    let success = task
        .completion_status
        .as_ref()
        .is_some_and(|s| s.is_success());
    // Like progress, the final counts are read only with budget to spare: near the limit,
    // detecting the other completions comes first.
    let affordable = spare_budget(executor, version).is_none_or(|spare| spare > 0);
    let read = if affordable {
        counters.statuses.fetch_add(1, Ordering::Relaxed);
        tokio::time::timeout_at(deadline, fetch_status(executor, &r.task_id, version))
            .await
            .ok()
            .and_then(Result::ok)
    } else {
        None
    };
    // The status read counts only if it agrees with the task on success or failure.
    let mut status = match read {
        Some(status)
            if status.is_terminal()
                && status.state.as_ref().is_some_and(|s| s.is_failure()) != success =>
        {
            status
        }
        _ => AggregationStatus::from_task(task.clone()),
    };
    if status.task.is_none() {
        status.task = Some(Box::new(task));
    }
    if success {
        ItemOutcome::Completed(Box::new(status))
    } else {
        ItemOutcome::Failed(Error::AggregationFailed {
            task_id: r.task_id.clone(),
            status: Box::new(status),
        })
    }
}

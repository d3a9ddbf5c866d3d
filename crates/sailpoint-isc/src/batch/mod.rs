//! Batch aggregation: many sources on one client, started with a concurrency cap (each start
//! exactly once, with outcome resolution), waited for together, with per-item events and results.
//!
//! Completion is detected with task-status lists (`id in (…)`, up to 50 aggregations a request)
//! instead of one status loop per aggregation; per-aggregation status reads (for progress and the
//! final counts) are made only while the rate limiter has budget to spare, so a large batch runs
//! near ISC's limit without a single 429.
//!
//! The batch's maximum wait bounds every request it makes (name lookups, snapshots, completion
//! checks, status reads) and nothing starts after it. A stop
//! ([`AggregateBatch::cancel_on`]) ends the batch promptly without losing track of anything
//! sent.

mod driver;
mod scheduler;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use sailpoint_isc_api::ApiVersion;

use crate::config::OutcomeResolution;
use crate::error::Error;
use crate::executor::Executor;
use crate::kind::AggregationKind;
use crate::status::{AggregationStatus, StartedAggregation};

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

/// One aggregation of a batch: a source, what it loads, an optional CSV (for delimited-file
/// sources) and options. Items of one source run one after the other, in their order.
///
/// ```
/// use sailpoint_isc::AggregationKind;
/// use sailpoint_isc::batch::BatchItem;
///
/// let hr = BatchItem::source_name("HR Feed").file("exports/hr.csv").check_first(true);
/// let hr_groups = BatchItem::source_name("HR Feed")
///     .kind(AggregationKind::Entitlements)
///     .file("exports/hr-groups.csv");
/// let ad = BatchItem::source_id("2c9180835d2e5168015d32f890ca1581").disable_optimization(true);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchItem {
    /// The source.
    pub source: SourceSpec,
    /// What it loads (default accounts).
    pub kind: AggregationKind,
    /// The CSV to upload, if any.
    pub file: Option<PathBuf>,
    /// Re-process every account (`disableOptimization`; accounts only).
    pub disable_optimization: bool,
    /// Check the file against the source's schema first; a problem fails the item and nothing
    /// is sent ([`StartAggregation::check_first`](crate::StartAggregation::check_first)).
    pub check: bool,
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
            kind: AggregationKind::Accounts,
            file: None,
            disable_optimization: false,
            check: false,
        }
    }

    /// Loads this kind.
    pub fn kind(mut self, kind: AggregationKind) -> Self {
        self.kind = kind;
        self
    }

    /// Checks the file against the source's schema before sending it.
    pub fn check_first(mut self, check: bool) -> Self {
        self.check = check;
        self
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
    /// [`Error::OutcomeUnknown`], and [`Error::StartRefused`] when ISC refused it because an
    /// aggregation was already running on the source), it ended unsuccessfully
    /// ([`Error::AggregationFailed`]) or the batch's maximum wait passed ([`Error::WaitTimeout`]).
    Failed(Error),
    /// Not started: the batch stopped after another item's failure, ran out of time first, or
    /// was stopped ([`AggregateBatch::cancel_on`]).
    Skipped {
        /// Why.
        reason: String,
    },
    /// The batch was stopped ([`AggregateBatch::cancel_on`]) while this item's aggregation ran,
    /// or its start settled as started after the stop: it started once, and ISC goes on with
    /// it. [`ItemReport::started`] has it; follow it by its id
    /// ([`Client::wait_for_aggregation`](crate::Client::wait_for_aggregation)).
    Stopped {
        /// The aggregation (task) id.
        task_id: String,
        /// The last status seen, if any.
        last_status: Option<Box<AggregationStatus>>,
    },
}

impl ItemOutcome {
    /// True for [`ItemOutcome::Completed`].
    pub fn is_completed(&self) -> bool {
        matches!(self, ItemOutcome::Completed(_))
    }

    /// ISC's messages about how the item ended, when it sent any: the task's errors of an
    /// aggregation that failed (or warnings of one that completed with `WARNING`), the messages
    /// of a refused start ([`Error::StartRefused`]).
    ///
    /// ```
    /// use sailpoint_isc::batch::ItemOutcome;
    ///
    /// let skipped = ItemOutcome::Skipped { reason: "not started".into() };
    /// assert!(skipped.task_messages().is_empty());
    /// ```
    pub fn task_messages(&self) -> Vec<&str> {
        match self {
            ItemOutcome::Completed(status) => status.task_messages(),
            ItemOutcome::Failed(Error::AggregationFailed { status, .. }) => status.task_messages(),
            ItemOutcome::Failed(Error::StartRefused { messages, .. }) => {
                messages.iter().map(String::as_str).collect()
            }
            ItemOutcome::Failed(Error::WaitTimeout {
                last_status: Some(status),
                ..
            })
            | ItemOutcome::Stopped {
                last_status: Some(status),
                ..
            } => status.task_messages(),
            _ => Vec::new(),
        }
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
    cancel: Option<CancellationToken>,
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
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
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
            cancel: None,
        }
    }

    /// How many aggregations run at once (default 100: ISC queues aggregations itself, and the
    /// rate limit, not this cap, paces the starts; at least 1).
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

    /// Bounds the whole batch (default 1 h): every request it makes (name lookups, snapshots,
    /// completion checks, status reads, rate-limit waits included) ends by then, and nothing
    /// starts after it: items not started are [`ItemOutcome::Skipped`]. What still runs then
    /// ends as [`Error::WaitTimeout`]. A start already in flight is let finish (never abandoned
    /// mid-upload; its own deadlines bound it) and reported.
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

    /// Stops the batch cleanly when `token` is cancelled (a stop signal), and
    /// [`run`](Self::run) returns its report promptly:
    ///
    /// - nothing more starts: pending items are [`ItemOutcome::Skipped`] ("not started: the
    ///   batch was stopped");
    /// - starts in flight get the token ([`StartAggregation::cancel_on`]) and settle: one
    ///   cancelled before its upload's last byte started nothing (skipped); one sent whole waits
    ///   for ISC's answer ([`TimeoutConfig::settle`]) and is started
    ///   ([`ItemOutcome::Stopped`]) or [`Error::OutcomeUnknown`];
    /// - running aggregations are no longer waited for: [`ItemOutcome::Stopped`], with
    ///   [`ItemReport::started`] kept. ISC goes on with them; follow them by their ids.
    ///
    /// ```no_run
    /// use sailpoint_isc::CancellationToken;
    /// use sailpoint_isc::batch::{BatchItem, ItemOutcome};
    ///
    /// # async fn demo(client: sailpoint_isc::Client) {
    /// let stop = CancellationToken::new();
    /// let on_signal = stop.clone(); // a signal handler calls `on_signal.cancel()`
    /// let report = client
    ///     .aggregate_batch([BatchItem::source_id("2c9180835d2e5168015d32f890ca1581")])
    ///     .cancel_on(stop)
    ///     .run()
    ///     .await;
    /// for item in &report.items {
    ///     if let ItemOutcome::Stopped { task_id, .. } = &item.outcome {
    ///         println!("item {} still runs in ISC as aggregation {task_id}", item.item);
    ///     }
    /// }
    /// # drop(on_signal);
    /// # }
    /// ```
    ///
    /// [`StartAggregation::cancel_on`]: crate::StartAggregation::cancel_on
    /// [`TimeoutConfig::settle`]: crate::TimeoutConfig::settle
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Runs the batch to the end. Never fails as a whole: each item has its own outcome, and
    /// every item gets exactly one [`BatchEvent::Finished`].
    ///
    /// **Cancel safety.** Dropping this future aborts the starts in flight: an upload that had
    /// not sent its last byte provably started nothing, but one dropped after it may have
    /// started an aggregation nobody hears of, and the report of everything already started is
    /// lost. To stop a batch, prefer [`cancel_on`](Self::cancel_on): it settles what is in
    /// flight and returns the report.
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
            cancel,
        } = self;
        let backend = driver::Isc::new(executor, version, resolution);
        let plan = driver::Plan {
            max_concurrency,
            stop_on_failure,
            max_wait,
            poll_interval,
        };
        driver::drive(&backend, items, plan, on_event, cancel).await
    }
}

/// `run()`'s future can be spawned (it is `Send`): checked when the crate builds.
#[allow(dead_code)]
fn run_is_send(batch: AggregateBatch) -> impl std::future::Future<Output = BatchReport> + Send {
    batch.run()
}

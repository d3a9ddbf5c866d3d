//! The batch's driver: performs what the [`Scheduler`] decides (name lookups, snapshots, starts,
//! completion checks, progress reads) through a [`Backend`], each request bounded by the batch's
//! deadline and its stop, and reports every item and event.

use std::any::Any;
use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::task::{Id, JoinError, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::scheduler::{AfterStart, Ended, Halt, Scheduler};
use super::{
    BatchEvent, BatchItem, BatchReport, EventCallback, ItemOutcome, ItemReport, SourceSpec,
};
use sailpoint_isc_api::ApiVersion;

use crate::aggregation::StartAggregation;
use crate::aggregation_status::fetch_status;
use crate::config::OutcomeResolution;
use crate::error::{Error, ErrorContext};
use crate::executor::Executor;
use crate::kind::AggregationKind;
use crate::sources::find_source_by_name;
use crate::status::{AggregationState, AggregationStatus, StartedAggregation};
use crate::task_status::TaskStatus;
use crate::tasks::{ListTaskStatuses, TASK_LIST_OPERATION, TaskFilter, newest_aggregation_tasks};

/// Aggregations checked per task-status list request, and sources per snapshot list.
const IDS_PER_LIST: usize = 50;
/// Share of the rate budget kept free for starts and completion checks when reading progress
/// and final counts.
const PROGRESS_RESERVE_PERCENT: u32 = 25;

/// How the batch runs.
pub(super) struct Plan {
    pub(super) max_concurrency: usize,
    pub(super) stop_on_failure: bool,
    pub(super) max_wait: Duration,
    pub(super) poll_interval: Duration,
}

/// What the driver asks of ISC. One implementation talks to the tenant; the tests' stands in
/// for it under paused time.
pub(super) trait Backend: Send + Sync {
    /// The API version (for the errors the driver makes up).
    fn version(&self) -> ApiVersion;

    /// The id of the one source named `name`.
    fn resolve<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<String, Error>>;

    /// Whether starts are given a snapshot of their source's newest aggregation task.
    fn takes_snapshots(&self) -> bool;

    /// The newest aggregation task of `kind` on each of `sources` (a list per 50 sources).
    fn snapshot<'a>(
        &'a self,
        kind: AggregationKind,
        sources: &'a [String],
        bound: Option<Instant>,
        cancel: Option<&'a CancellationToken>,
    ) -> BoxFuture<'a, Result<HashMap<String, TaskStatus>, Error>>;

    /// Starts `item` on `source_id` (spawned: owns everything it needs).
    fn start(
        &self,
        item: &BatchItem,
        source_id: String,
        newest: Option<Option<TaskStatus>>,
        bound: Option<Instant>,
        cancel: Option<CancellationToken>,
    ) -> BoxFuture<'static, Result<StartedAggregation, Error>>;

    /// The task statuses of `ids` (at most 50), one request.
    fn list<'a>(
        &'a self,
        ids: &'a [String],
        bound: Option<Instant>,
        cancel: Option<&'a CancellationToken>,
    ) -> BoxFuture<'a, Result<Vec<TaskStatus>, Error>>;

    /// One aggregation's status.
    fn status<'a>(
        &'a self,
        task_id: &'a str,
        kind: AggregationKind,
    ) -> BoxFuture<'a, Result<AggregationStatus, Error>>;

    /// Requests the rate budget allows beyond the reserve kept for starts and completion
    /// checks; `None` without a limiter.
    fn spare_budget(&self) -> Option<usize>;
}

/// The tenant, through the client's executor.
pub(super) struct Isc {
    executor: Executor,
    version: ApiVersion,
    resolution: OutcomeResolution,
}

impl Isc {
    pub(super) fn new(
        executor: Executor,
        version: ApiVersion,
        resolution: OutcomeResolution,
    ) -> Self {
        Isc {
            executor,
            version,
            resolution,
        }
    }
}

impl Backend for Isc {
    fn version(&self) -> ApiVersion {
        self.version
    }

    fn resolve<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<String, Error>> {
        async move {
            find_source_by_name(&self.executor, name, self.version)
                .await
                .and_then(|s| {
                    s.id.ok_or_else(|| Error::InvalidInput {
                        message: format!("source {name:?} has no id"),
                    })
                })
        }
        .boxed()
    }

    fn takes_snapshots(&self) -> bool {
        !self.resolution.grace_period.is_zero()
            && self.resolution.snapshot
            && self.version.operation(TASK_LIST_OPERATION).is_some()
    }

    fn snapshot<'a>(
        &'a self,
        kind: AggregationKind,
        sources: &'a [String],
        bound: Option<Instant>,
        cancel: Option<&'a CancellationToken>,
    ) -> BoxFuture<'a, Result<HashMap<String, TaskStatus>, Error>> {
        newest_aggregation_tasks(&self.executor, self.version, kind, sources, bound, cancel).boxed()
    }

    fn start(
        &self,
        item: &BatchItem,
        source_id: String,
        newest: Option<Option<TaskStatus>>,
        bound: Option<Instant>,
        cancel: Option<CancellationToken>,
    ) -> BoxFuture<'static, Result<StartedAggregation, Error>> {
        let mut start = StartAggregation::new(
            self.executor.clone(),
            source_id,
            self.version,
            self.resolution.clone(),
        )
        .kind(item.kind)
        .disable_optimization(item.disable_optimization)
        // Nothing is sent after the batch's maximum wait.
        .bounded(bound);
        if let Some(file) = &item.file {
            start = start.file(file);
        }
        if item.check {
            start = start.check_first();
        }
        if let Some(newest) = newest {
            start = start.with_snapshot(newest);
        }
        if let Some(token) = cancel {
            start = start.cancel_on(token);
        }
        start.send().boxed()
    }

    fn list<'a>(
        &'a self,
        ids: &'a [String],
        bound: Option<Instant>,
        cancel: Option<&'a CancellationToken>,
    ) -> BoxFuture<'a, Result<Vec<TaskStatus>, Error>> {
        async move {
            ListTaskStatuses::new(self.executor.clone(), self.version)
                .filter(TaskFilter::new().ids(ids))
                .page_size(ids.len() as u32)
                .bounded(bound)
                .cancel_on(cancel.cloned())
                .page(0)
                .await
                .map(|page| page.items)
        }
        .boxed()
    }

    fn status<'a>(
        &'a self,
        task_id: &'a str,
        kind: AggregationKind,
    ) -> BoxFuture<'a, Result<AggregationStatus, Error>> {
        fetch_status(&self.executor, task_id, self.version, kind).boxed()
    }

    fn spare_budget(&self) -> Option<usize> {
        self.executor.limiter().map(|limiter| {
            let reserve = (u64::from(limiter.limit().max_requests)
                * u64::from(PROGRESS_RESERVE_PERCENT))
            .div_ceil(100);
            let reserve = u32::try_from(reserve).unwrap_or(u32::MAX);
            limiter
                .available(self.version.name())
                .saturating_sub(reserve) as usize
        })
    }
}

/// Runs the batch: names, then starts under the cap (a snapshot of each chunk's sources just
/// before it), completion checks and progress reads, until every item has its outcome.
pub(super) async fn drive<B: Backend>(
    backend: &B,
    items: Vec<BatchItem>,
    plan: Plan,
    on_event: Option<EventCallback>,
    cancel: Option<CancellationToken>,
) -> BatchReport {
    let began = Instant::now();
    // Beyond the clock's range: no limit.
    let deadline = began.checked_add(plan.max_wait);
    let n = items.len();
    let mut driver = Driver {
        backend,
        sched: Scheduler::new(
            n,
            plan.max_concurrency,
            plan.stop_on_failure,
            deadline,
            plan.poll_interval,
            began,
        ),
        run: Run {
            reports: vec![None; n],
            source_ids: vec![None; n],
            kinds: items.iter().map(|item| item.kind).collect(),
            started: vec![None; n],
            last: vec![None; n],
            on_event: std::sync::Mutex::new(on_event),
            began,
            lists: 0,
            statuses: 0,
        },
        deadline,
        cancel,
        max_wait: plan.max_wait,
    };
    driver.resolve_sources(&items).await;

    // The item of each start in flight, by its task's id, so that even a start that panicked
    // is reported for its item.
    let mut starting: JoinSet<Result<StartedAggregation, Error>> = JoinSet::new();
    let mut start_items: HashMap<Id, usize> = HashMap::new();
    loop {
        driver.observe_halts();
        let chunk = driver.sched.next_starts(Instant::now(), IDS_PER_LIST);
        if !chunk.is_empty() {
            driver
                .start_chunk(&items, &chunk, &mut starting, &mut start_items)
                .await;
            continue;
        }
        if driver.sched.is_finished() && starting.is_empty() {
            break;
        }
        if let Some(poll) = driver.sched.poll_due(Instant::now()) {
            driver.poll_round(poll.progress).await;
            driver.sched.polled(Instant::now());
            continue;
        }
        let wake = driver.sched.wake_at();
        let stop = driver.cancel.clone().filter(|_| !driver.sched.is_stopped());
        // Wait for a stop, a start's return, or the next check or the deadline, in that order.
        let mut stopping = pin!(cancelled(stop.as_ref()));
        let mut timer = pin!(sleep_until(wake));
        let woke = poll_fn(|cx| {
            if stopping.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            if !starting.is_empty()
                && let Poll::Ready(Some(joined)) = starting.poll_join_next_with_id(cx)
            {
                return Poll::Ready(Some(joined));
            }
            timer.as_mut().poll(cx).map(|()| None)
        })
        .await;
        if let Some(joined) = woke {
            let version = driver.backend.version();
            if let Some((i, result)) = joined_start(
                joined,
                &mut start_items,
                &driver.run.source_ids,
                &driver.run.kinds,
                version,
            ) {
                driver.start_returned(i, result);
            }
        }
    }
    driver.report()
}

/// Resolves when `token` is cancelled; never without one.
async fn cancelled(token: Option<&CancellationToken>) {
    match token {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

/// Resolves at `at`; never without it.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// `future`'s output, unless the deadline passes or the stop comes first (`None`; the future is
/// dropped, which only reads may be).
async fn within<F: Future>(
    deadline: Option<Instant>,
    cancel: Option<&CancellationToken>,
    future: F,
) -> Option<F::Output> {
    let bounded = async move {
        match deadline {
            Some(at) => tokio::time::timeout_at(at, future).await.ok(),
            None => Some(future.await),
        }
    };
    let mut stopping = pin!(cancelled(cancel));
    let mut bounded = pin!(bounded);
    poll_fn(|cx| {
        if stopping.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        bounded.as_mut().poll(cx)
    })
    .await
}

/// The item of a joined start and what it returned. A start task that panicked (or was aborted)
/// is an outcome unknown for its source: it may have sent its upload.
fn joined_start(
    joined: Result<(Id, Result<StartedAggregation, Error>), JoinError>,
    items: &mut HashMap<Id, usize>,
    source_ids: &[Option<String>],
    kinds: &[AggregationKind],
    version: ApiVersion,
) -> Option<(usize, Result<StartedAggregation, Error>)> {
    match joined {
        Ok((id, result)) => items.remove(&id).map(|i| (i, result)),
        Err(error) => {
            let i = items.remove(&error.id())?;
            let what = if error.is_panic() {
                format!(
                    "the start task panicked ({})",
                    panic_message(error.into_panic())
                )
            } else {
                "the start task was aborted".to_owned()
            };
            let source_id = source_ids.get(i).cloned().flatten().unwrap_or_default();
            tracing::error!(
                source_id = %source_id,
                reason = %what,
                "batch: a start ended without an answer; it may have sent its upload"
            );
            Some((
                i,
                Err(Error::OutcomeUnknown {
                    source_id,
                    reason: format!("{what}; it may have sent the upload"),
                    context: Box::new(ErrorContext::new(
                        kinds.get(i).copied().unwrap_or_default().import_operation(),
                        Some(version),
                    )),
                    source: None,
                    lookup: None,
                }),
            ))
        }
    }
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "no message".to_owned(), |text| (*text).to_owned()),
    }
}

/// What is reported: one report per item, and the events on the way.
struct Run {
    reports: Vec<Option<ItemReport>>,
    source_ids: Vec<Option<String>>,
    /// What each item loads.
    kinds: Vec<AggregationKind>,
    started: Vec<Option<StartedAggregation>>,
    /// The last status read of each item, for progress and timeouts.
    last: Vec<Option<AggregationStatus>>,
    /// Behind a mutex (never contended: only `&mut self` reaches it) so the run's future stays
    /// `Send` while the driver is borrowed across awaits.
    on_event: std::sync::Mutex<Option<EventCallback>>,
    began: Instant,
    lists: u64,
    statuses: u64,
}

impl Run {
    fn emit(&mut self, event: BatchEvent) {
        let on_event = self.on_event.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(callback) = on_event.as_mut() {
            callback(&event);
        }
    }

    /// Item `i` ended (once).
    fn finish(&mut self, i: usize, outcome: ItemOutcome) {
        if self.reports[i].is_some() {
            return;
        }
        self.emit(BatchEvent::Finished {
            item: i,
            outcome: outcome.clone(),
        });
        self.reports[i] = Some(ItemReport {
            item: i,
            source_id: self.source_ids[i].clone(),
            started: self.started[i].clone(),
            outcome,
            elapsed: self.began.elapsed(),
        });
    }

    fn skip(&mut self, i: usize, halt: Halt) {
        self.finish(
            i,
            ItemOutcome::Skipped {
                reason: halt.skip_reason().to_owned(),
            },
        );
    }
}

struct Driver<'a, B> {
    backend: &'a B,
    sched: Scheduler,
    run: Run,
    deadline: Option<Instant>,
    cancel: Option<CancellationToken>,
    max_wait: Duration,
}

impl<B: Backend> Driver<'_, B> {
    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled)
    }

    /// True once the batch is stopped or past its deadline.
    fn halted_now(&self) -> bool {
        self.cancelled() || self.sched.past_deadline(Instant::now())
    }

    /// `future` bounded by the batch's deadline and its stop.
    async fn within<F: Future>(&self, future: F) -> Option<F::Output> {
        within(self.deadline, self.cancel.as_ref(), future).await
    }

    /// Applies a stop, the deadline and the failure rule, reporting what they end.
    fn observe_halts(&mut self) {
        if self.cancelled()
            && let Some(ended) = self.sched.cancel()
        {
            self.report_ended(ended, Halt::Stopped);
        }
        if let Some(ended) = self.sched.deadline_passed(Instant::now()) {
            self.report_ended(ended, Halt::Deadline);
        }
        for i in self.sched.skip_after_failure() {
            self.run.skip(i, Halt::Failure);
        }
    }

    fn report_ended(&mut self, ended: Ended, halt: Halt) {
        for (i, task_id) in ended.running {
            let outcome = self.no_longer_waited(i, task_id, halt);
            self.run.finish(i, outcome);
        }
        for i in ended.skipped {
            self.run.skip(i, halt);
        }
    }

    /// The outcome of a started item the batch no longer waits for: timed out at the deadline,
    /// still running after a stop.
    fn no_longer_waited(&mut self, i: usize, task_id: String, halt: Halt) -> ItemOutcome {
        let last_status = self.run.last[i].take().map(Box::new);
        match halt {
            Halt::Deadline => ItemOutcome::Failed(Error::WaitTimeout {
                task_id,
                waited: self.max_wait,
                last_status,
            }),
            Halt::Stopped | Halt::Failure => ItemOutcome::Stopped {
                task_id,
                last_status,
            },
        }
    }

    /// Source names looked up once each (each lookup bounded by the deadline and the stop);
    /// items of one source are told to the scheduler, which runs them one after the other.
    /// Cut by the deadline or a stop, the rest stays pending, to be skipped.
    async fn resolve_sources(&mut self, items: &[BatchItem]) {
        let mut names: HashMap<&str, Result<String, Error>> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let found = match &item.source {
                SourceSpec::Id(id) => Ok(id.clone()),
                SourceSpec::Name(name) => {
                    if !names.contains_key(name.as_str()) {
                        let Some(found) = self.within(self.backend.resolve(name)).await else {
                            return;
                        };
                        names.insert(name, found);
                    }
                    let found = names[name.as_str()].clone();
                    if let Ok(id) = &found {
                        self.run.emit(BatchEvent::SourceResolved {
                            item: i,
                            name: name.clone(),
                            source_id: id.clone(),
                        });
                    }
                    found
                }
            };
            match found {
                Err(error) => {
                    self.sched.fail_unstarted(i);
                    self.run.finish(i, ItemOutcome::Failed(error));
                }
                Ok(id) => {
                    self.sched.set_source(i, &id);
                    self.run.source_ids[i] = Some(id);
                }
            }
        }
    }

    /// Starts `chunk` (at most 50 items): a snapshot of its sources' newest aggregation tasks
    /// taken just before (what the lookup after an ambiguous start must not take for the new
    /// one), then a spawned start per item, each only if the batch is neither stopped nor past
    /// its deadline; the rest is given back to the scheduler.
    async fn start_chunk(
        &mut self,
        items: &[BatchItem],
        chunk: &[usize],
        starting: &mut JoinSet<Result<StartedAggregation, Error>>,
        start_items: &mut HashMap<Id, usize>,
    ) {
        let sources: Vec<String> = chunk
            .iter()
            .map(|&i| self.run.source_ids[i].clone().unwrap_or_default())
            .collect();
        // One snapshot list per kind among the chunk's items (their tasks have different types).
        let mut newest: HashMap<AggregationKind, HashMap<String, TaskStatus>> = HashMap::new();
        if self.backend.takes_snapshots() {
            for kind in AggregationKind::ALL {
                let of_kind: Vec<String> = chunk
                    .iter()
                    .zip(&sources)
                    .filter(|&(&i, _)| self.run.kinds[i] == kind)
                    .map(|(_, source)| source.clone())
                    .collect();
                if of_kind.is_empty() {
                    continue;
                }
                let snapshot =
                    self.backend
                        .snapshot(kind, &of_kind, self.deadline, self.cancel.as_ref());
                match self.within(snapshot).await {
                    Some(Ok(found)) => {
                        newest.insert(kind, found);
                    }
                    // Each start then takes its own.
                    Some(Err(error)) if !self.halted_now() => {
                        tracing::warn!(
                            error = %error,
                            kind = %kind,
                            sources = of_kind.len(),
                            "batch: no task snapshot before the starts; each start takes its own"
                        );
                    }
                    Some(Err(_)) | None => {}
                }
            }
        }
        for (k, &i) in chunk.iter().enumerate() {
            // Nothing starts after the deadline or a stop.
            if self.halted_now() {
                self.sched.withdraw(&chunk[k..]);
                return;
            }
            let snapshot = newest
                .get(&self.run.kinds[i])
                .map(|n| n.get(&sources[k]).cloned());
            let start = self.backend.start(
                &items[i],
                sources[k].clone(),
                snapshot,
                self.deadline,
                self.cancel.clone(),
            );
            let handle = starting.spawn(start);
            start_items.insert(handle.id(), i);
        }
    }

    /// Item `i`'s start returned.
    fn start_returned(&mut self, i: usize, result: Result<StartedAggregation, Error>) {
        match result {
            Ok(started) => {
                let task_id = started.task_id.clone();
                self.run.started[i] = Some(started.clone());
                self.run.emit(BatchEvent::Started {
                    item: i,
                    started: Box::new(started),
                });
                if let AfterStart::Halted(halt) =
                    self.sched.started(i, task_id.clone(), Instant::now())
                {
                    let outcome = self.no_longer_waited(i, task_id, halt);
                    self.run.finish(i, outcome);
                }
            }
            // Stopped before its upload's last byte: nothing started.
            Err(Error::Cancelled { .. }) if self.cancelled() => {
                self.sched.not_started(i);
                self.run.skip(i, Halt::Stopped);
            }
            Err(error) => {
                self.sched.start_failed(i);
                self.run.finish(i, ItemOutcome::Failed(error));
            }
        }
    }

    /// One round: which running aggregations ended (task-status lists of at most 50 ids), then,
    /// with `progress`, status reads for as many others as the rate budget allows. Every request
    /// ends at the deadline or the stop (then the round ends too).
    async fn poll_round(&mut self, progress: bool) {
        let running = self.sched.running();
        let mut ended: HashMap<String, TaskStatus> = HashMap::new();
        for chunk in running.chunks(IDS_PER_LIST) {
            let ids: Vec<String> = chunk.iter().map(|(_, id)| id.clone()).collect();
            self.run.lists += 1;
            let list = self.backend.list(&ids, self.deadline, self.cancel.as_ref());
            match self.within(list).await {
                None => return,
                Some(Ok(tasks)) => {
                    for task in tasks {
                        if !task.is_running()
                            && let Some(id) = task.id.clone()
                        {
                            ended.insert(id, task);
                        }
                    }
                }
                Some(Err(_)) if self.halted_now() => return,
                Some(Err(error)) => {
                    tracing::warn!(
                        error = %error,
                        aggregations = ids.len(),
                        "batch: a completion check (task-status list) failed; trying again next round"
                    );
                }
            }
        }
        for (i, task_id) in running {
            if let Some(task) = ended.remove(&task_id) {
                let outcome = self.final_outcome(&task_id, self.run.kinds[i], task).await;
                self.sched.finished(i, outcome.is_completed());
                self.run.finish(i, outcome);
            }
        }
        if !progress {
            return;
        }
        // Progress, within the budget left after keeping a reserve.
        let budget = self.backend.spare_budget().unwrap_or(usize::MAX);
        for (i, task_id) in self.sched.progress_reads(Instant::now(), budget) {
            self.run.statuses += 1;
            let read = self.backend.status(&task_id, self.run.kinds[i]);
            let Some(read) = self.within(read).await else {
                return;
            };
            let Ok(status) = read else {
                continue;
            };
            if self.run.last[i].as_ref() != Some(&status) {
                self.run.last[i] = Some(status.clone());
                self.run.emit(BatchEvent::Progress {
                    item: i,
                    status: Box::new(status.clone()),
                });
            }
            // A read that shows the completion settles the item without waiting for the next
            // list; a failure waits for the list, whose task carries ISC's messages.
            if status.state == Some(AggregationState::Completed) {
                self.sched.finished(i, true);
                self.run.finish(i, ItemOutcome::Completed(Box::new(status)));
            }
        }
    }

    /// The outcome of an aggregation whose task ended: with the final state and counts from one
    /// status read when the budget allows (CANCELLED and TERMINATED look alike in task status),
    /// otherwise from the task alone; with the task, and so its messages, either way.
    async fn final_outcome(
        &mut self,
        task_id: &str,
        kind: AggregationKind,
        task: TaskStatus,
    ) -> ItemOutcome {
        let success = task
            .completion_status
            .as_ref()
            .is_some_and(|s| s.is_success());
        // Like progress, the final counts are read only with budget to spare: near the limit,
        // detecting the other completions comes first. A kind without a status endpoint has
        // them in the task already.
        let affordable = self.backend.spare_budget().is_none_or(|spare| spare > 0)
            && kind.profile().status_operation.is_some();
        let read = if affordable {
            self.run.statuses += 1;
            self.within(self.backend.status(task_id, kind))
                .await
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
            _ => AggregationStatus::from_task_of(task.clone(), kind),
        };
        if status.task.is_none() {
            status.task = Some(Box::new(task));
        }
        if success {
            ItemOutcome::Completed(Box::new(status))
        } else {
            ItemOutcome::Failed(Error::AggregationFailed {
                task_id: task_id.to_owned(),
                status: Box::new(status),
            })
        }
    }

    fn report(self) -> BatchReport {
        let Run {
            reports,
            source_ids,
            began,
            lists,
            statuses,
            ..
        } = self.run;
        BatchReport {
            items: reports
                .into_iter()
                .zip(source_ids)
                .enumerate()
                .map(|(i, (report, source_id))| {
                    report.unwrap_or_else(|| ItemReport {
                        item: i,
                        source_id,
                        started: None,
                        outcome: ItemOutcome::Skipped {
                            reason: "not started".to_owned(),
                        },
                        elapsed: began.elapsed(),
                    })
                })
                .collect(),
            elapsed: began.elapsed(),
            task_list_requests: lists,
            status_requests: statuses,
        }
    }
}

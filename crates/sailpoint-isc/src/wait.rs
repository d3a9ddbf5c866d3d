//! Waiting for an aggregation: polls on the adaptive [`PollSchedule`] (see `poll`), progress by
//! callback or `Stream`, typed outcomes. Compared with polling every 5 s the schedule makes fewer
//! calls on a typical multi-minute aggregation while noticing its completion sooner.

use std::fmt;
use std::time::{Duration, Instant};

use futures_util::Stream;

use crate::aggregation_status::fetch_status;
use sailpoint_isc_api::ApiVersion;

use crate::error::Error;
use crate::executor::Executor;
use crate::kind::AggregationKind;
pub use crate::poll::PollSchedule;
use crate::poll::{PollPlanner, deadline_after};
use crate::status::{AggregationState, AggregationStatus};

/// One observed status while waiting, passed to the progress callback and yielded by the stream.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AggregationProgress {
    /// The status returned by this poll.
    pub status: AggregationStatus,
    /// How many polls have been made, this one included.
    pub polls: u32,
    /// Time since waiting began.
    pub elapsed: Duration,
    /// True when the state or a counter differs from the previous poll (always true for the first).
    pub changed: bool,
}

/// Progress callback type.
type ProgressCallback = Box<dyn FnMut(&AggregationProgress) + Send + 'static>;

/// Waits for an aggregation to finish. Created by [`Client::wait_for_aggregation`](crate::Client::wait_for_aggregation).
///
/// Ends with `Ok(final status)` on `COMPLETED`; [`Error::AggregationFailed`] on `CANCELLED` or
/// `TERMINATED`; [`Error::AggregationExpired`] when neither the status (404 or `NOT_FOUND`) nor
/// task status knows the id any more; [`Error::WaitTimeout`] after
/// the maximum wait; or the error of a status request that still failed after its retries.
/// `RETRIED` and unknown states keep it waiting.
///
/// ```no_run
/// use std::time::Duration;
/// use sailpoint_isc::Client;
///
/// # async fn demo(client: Client, task_id: String) -> Result<(), sailpoint_isc::Error> {
/// let status = client
///     .wait_for_aggregation(&task_id)
///     .max_wait(Duration::from_secs(30 * 60))
///     .on_progress(|p| eprintln!("[{:?}] {}", p.elapsed, p.status))
///     .send()
///     .await?;
/// println!("done: {status}");
/// # Ok(()) }
/// ```
#[must_use = "a waiter does nothing until `.send()` is awaited or `.into_stream()` is polled"]
pub struct WaitForAggregation {
    executor: Executor,
    task_id: String,
    api_version: ApiVersion,
    kind: AggregationKind,
    schedule: PollSchedule,
    on_progress: Option<ProgressCallback>,
}

impl fmt::Debug for WaitForAggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForAggregation")
            .field("task_id", &self.task_id)
            .field("api_version", &self.api_version)
            .field("kind", &self.kind)
            .field("schedule", &self.schedule)
            .field("on_progress", &self.on_progress.is_some())
            .finish()
    }
}

impl WaitForAggregation {
    pub(crate) fn new(
        executor: Executor,
        task_id: String,
        api_version: ApiVersion,
        kind: AggregationKind,
        schedule: PollSchedule,
    ) -> Self {
        WaitForAggregation {
            executor,
            task_id,
            api_version,
            kind,
            schedule,
            on_progress: None,
        }
    }

    /// Polls this API version instead of the one chosen when the waiter was created (the
    /// version that started the aggregation, or the client's default for a bare id).
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = version;
        self
    }

    /// Waits for an aggregation of this kind (set already when the waiter was made from a
    /// [`StartedAggregation`](crate::StartedAggregation) or an
    /// [`AggregationRef`](crate::AggregationRef)). Entitlement aggregations have no status
    /// endpoint: they are followed through their task status.
    pub fn kind(mut self, kind: AggregationKind) -> Self {
        self.kind = kind;
        self
    }

    /// Replaces the poll schedule (including its maximum wait).
    pub fn schedule(mut self, schedule: PollSchedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Sets the maximum wait, keeping the rest of the schedule.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.schedule.max_wait = max_wait;
        self
    }

    /// Calls `callback` with every status polled, in order (used by [`send`](Self::send)).
    pub fn on_progress(
        mut self,
        callback: impl FnMut(&AggregationProgress) + Send + 'static,
    ) -> Self {
        self.on_progress = Some(Box::new(callback));
        self
    }

    /// Waits until the aggregation ends; see the type's documentation for the outcomes.
    pub async fn send(mut self) -> Result<AggregationStatus, Error> {
        use futures_util::StreamExt;
        let mut callback = self.on_progress.take();
        let task_id = self.task_id.clone();
        let stream = self.into_stream();
        futures_util::pin_mut!(stream);
        let mut last = None;
        while let Some(item) = stream.next().await {
            let progress = item?;
            if let Some(cb) = callback.as_mut() {
                cb(&progress);
            }
            last = Some(progress.status);
        }
        // The stream only ends without an error after COMPLETED.
        last.ok_or(Error::WaitTimeout {
            task_id,
            waited: Duration::ZERO,
            last_status: None,
        })
    }

    /// The statuses as a stream: one `Ok` item per poll (including the final status), then the
    /// stream ends after `COMPLETED`, or yields one `Err` (failure, expiry, timeout, request error)
    /// and ends. The progress callback is not called by the stream.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// use sailpoint_isc::Client;
    ///
    /// # async fn demo(client: Client) -> Result<(), sailpoint_isc::Error> {
    /// let updates = client.wait_for_aggregation("2c9180835d2e5168015d32f890ca1581").into_stream();
    /// futures_util::pin_mut!(updates);
    /// while let Some(update) = updates.next().await {
    ///     let update = update?;
    ///     println!("poll {}: {}", update.polls, update.status);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn into_stream(self) -> impl Stream<Item = Result<AggregationProgress, Error>> + Send {
        let planner = PollPlanner::new(self.schedule.clone());
        let state = WaitState {
            next_delay: planner.first_delay(),
            planner,
            executor: self.executor,
            task_id: self.task_id,
            api_version: self.api_version,
            kind: self.kind,
            max_wait: self.schedule.max_wait,
            started: None,
            last: None,
            polls: 0,
            pending_error: None,
            done: false,
        };
        futures_util::stream::unfold(state, |mut st| async move {
            let item = st.step().await?;
            Some((item, st))
        })
    }
}

struct WaitState {
    executor: Executor,
    task_id: String,
    api_version: ApiVersion,
    kind: AggregationKind,
    planner: PollPlanner,
    next_delay: Duration,
    max_wait: Duration,
    started: Option<Instant>,
    last: Option<AggregationStatus>,
    polls: u32,
    pending_error: Option<Error>,
    done: bool,
}

impl WaitState {
    /// Sleeps, polls once and returns the next stream item; `None` when the stream is over.
    async fn step(&mut self) -> Option<Result<AggregationProgress, Error>> {
        if self.done {
            return None;
        }
        if let Some(error) = self.pending_error.take() {
            self.done = true;
            return Some(Err(error));
        }
        let started = *self.started.get_or_insert_with(Instant::now);
        let deadline = deadline_after(started, self.max_wait);
        let now = Instant::now();
        if self.polls > 0 && deadline.is_some_and(|d| now >= d) {
            self.done = true;
            return Some(Err(self.timeout(started)));
        }
        let wait = match deadline {
            Some(d) => self.next_delay.min(d.saturating_duration_since(now)),
            None => self.next_delay,
        };
        tokio::time::sleep(wait).await;
        self.polls += 1;
        let result = fetch_status(&self.executor, &self.task_id, self.api_version, self.kind).await;
        let status = match result {
            Ok(status) => status,
            Err(error) => {
                self.done = true;
                tracing::debug!(task_id = %self.task_id, polls = self.polls, error = %error, "stopped waiting");
                return Some(Err(error));
            }
        };
        let elapsed = started.elapsed();
        let (changed, next_delay) = self.planner.observe(elapsed, &status);
        self.next_delay = next_delay;
        tracing::debug!(
            task_id = %self.task_id,
            poll = self.polls,
            state = status.state_name(),
            processed_accounts = status.processed_accounts,
            total_accounts = status.total_accounts,
            processed_identities = status.processed_identities,
            total_identities = status.total_identities,
            elapsed_ms = elapsed.as_millis() as u64,
            next_poll_ms = next_delay.as_millis() as u64,
            "aggregation status"
        );
        self.last = Some(status.clone());
        match &status.state {
            Some(AggregationState::Completed) => self.done = true,
            Some(AggregationState::Cancelled | AggregationState::Terminated) => {
                self.pending_error = Some(Error::AggregationFailed {
                    task_id: self.task_id.clone(),
                    status: Box::new(status.clone()),
                });
            }
            _ if deadline.is_some_and(|d| Instant::now() >= d) => {
                self.pending_error = Some(self.timeout(started));
            }
            _ => {}
        }
        Some(Ok(AggregationProgress {
            status,
            polls: self.polls,
            elapsed,
            changed,
        }))
    }

    fn timeout(&self, started: Instant) -> Error {
        Error::WaitTimeout {
            task_id: self.task_id.clone(),
            waited: started.elapsed(),
            last_status: self.last.clone().map(Box::new),
        }
    }
}

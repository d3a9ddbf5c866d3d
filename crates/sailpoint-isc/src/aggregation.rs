//! Aggregation operations: start one (`importAccounts`, `importEntitlements`) and read its
//! status (`getAccountAggregationStatus`, or task status for a kind without a status
//! endpoint), for any API version and either [`AggregationKind`].

use std::path::PathBuf;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;

use sailpoint_isc_api::ApiVersion;

use crate::config::OutcomeResolution;
use crate::deadline::{bound_after, earliest};
use crate::error::{Error, ErrorContext, OutcomeLookup};
use crate::error_context::body_snippet;
use crate::executor::{Call, Executor};
use crate::failure::Failure;
use crate::ids::check_id as validate_id;
use crate::kind::AggregationKind;
use crate::retry::OperationKind;
use crate::status::{
    AggregationState, AggregationStatus, AggregationTask, StartAnswer, StartOrigin,
    StartedAggregation,
};
use crate::task_status::{CompletionStatus, TaskStatus};
use crate::tasks::{
    ListTaskStatuses, TASK_LIST_OPERATION, TASK_STATUS_OPERATION, TaskFilter, TaskOrder,
    fetch_task_status, newest_aggregation_tasks,
};
use crate::upload::AccountsFile;

/// An aggregation to read or wait for: its id, its kind, and the API version that started it if
/// known.
///
/// Built from a [`StartedAggregation`] (which keeps its version and kind) or from an id (an
/// account aggregation on the client's default version unless the call chooses otherwise).
///
/// ```
/// use sailpoint_isc::{AggregationKind, AggregationRef, ApiVersion};
///
/// let by_id = AggregationRef::from("2c91808477a6b0c60177a81146b8110b");
/// assert_eq!(by_id.api_version, None);
/// assert_eq!(by_id.kind, AggregationKind::Accounts);
/// let pinned = by_id
///     .with_api_version(ApiVersion::V2026)
///     .with_kind(AggregationKind::Entitlements);
/// assert_eq!(pinned.api_version, Some(ApiVersion::V2026));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AggregationRef {
    /// The aggregation (task) id.
    pub task_id: String,
    /// The version to use; `None`: the client's default.
    pub api_version: Option<ApiVersion>,
    /// What it loads: read through the account aggregation status endpoint, or (entitlements)
    /// through its task status.
    pub kind: AggregationKind,
}

impl AggregationRef {
    /// Uses this API version for the aggregation.
    pub fn with_api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = Some(version);
        self
    }

    /// Reads it as an aggregation of this kind.
    pub fn with_kind(mut self, kind: AggregationKind) -> Self {
        self.kind = kind;
        self
    }
}

impl From<&str> for AggregationRef {
    fn from(task_id: &str) -> Self {
        AggregationRef {
            task_id: task_id.to_owned(),
            api_version: None,
            kind: AggregationKind::Accounts,
        }
    }
}

impl From<String> for AggregationRef {
    fn from(task_id: String) -> Self {
        AggregationRef {
            task_id,
            api_version: None,
            kind: AggregationKind::Accounts,
        }
    }
}

impl From<&String> for AggregationRef {
    fn from(task_id: &String) -> Self {
        AggregationRef::from(task_id.as_str())
    }
}

impl From<&StartedAggregation> for AggregationRef {
    fn from(started: &StartedAggregation) -> Self {
        AggregationRef {
            task_id: started.task_id.clone(),
            api_version: Some(started.api_version),
            kind: started.kind,
        }
    }
}

impl From<StartedAggregation> for AggregationRef {
    fn from(started: StartedAggregation) -> Self {
        AggregationRef {
            task_id: started.task_id,
            api_version: Some(started.api_version),
            kind: started.kind,
        }
    }
}

/// One status read with retries. A 404, or a 200 whose state is `NOT_FOUND` (the same fact in
/// another form: the status endpoint forgets an aggregation about an hour after it ends), falls
/// back to the aggregation's task status, kept 90 days; only when both forget the id is it
/// [`Error::AggregationExpired`]. A kind without a status endpoint (entitlements) is read from
/// its task status directly. A bad id is [`Error::InvalidInput`].
pub(crate) async fn fetch_status(
    executor: &Executor,
    task_id: &str,
    version: ApiVersion,
    kind: AggregationKind,
) -> Result<AggregationStatus, Error> {
    validate_id("aggregation id", task_id)?;
    let expired = |context| Error::AggregationExpired {
        task_id: task_id.to_owned(),
        context,
    };
    let Some(status_operation) = kind.profile().status_operation else {
        return match fetch_task_status(executor, task_id, version).await {
            Ok(task) => Ok(AggregationStatus::from_task_of(task, kind)),
            Err(Error::NotFound { context }) => Err(expired(context)),
            Err(other) => Err(other),
        };
    };
    let call = Call {
        version,
        operation: status_operation,
        kind: OperationKind::Read,
        path_args: &[task_id],
        query: &[],
        source_id: None,
        bound: None,
        cancel: None,
    };
    let context = match executor.call::<AggregationStatus>(call).await {
        Ok(decoded) if decoded.value.state == Some(AggregationState::NotFound) => {
            let mut context = ErrorContext::new(status_operation, Some(version));
            context.status = Some(StatusCode::OK);
            context.attempts = 1;
            context.body_snippet = body_snippet(&decoded.body);
            Box::new(context)
        }
        Ok(decoded) => return Ok(decoded.value),
        Err(Error::NotFound { context }) => context,
        Err(other) => return Err(other),
    };
    if version.operation(TASK_STATUS_OPERATION).is_none() {
        return Err(expired(context));
    }
    match fetch_task_status(executor, task_id, version).await {
        Ok(task) => {
            tracing::debug!(
                task_id,
                completion_status = ?task.completion_status,
                "the status endpoint no longer knows the aggregation; answered from task status"
            );
            Ok(AggregationStatus::from_task_of(task, kind))
        }
        Err(Error::NotFound { .. }) => Err(expired(context)),
        Err(other) => Err(other),
    }
}

/// The newest aggregation of `kind` still running on `source_id`, if any.
async fn running_aggregation(
    executor: &Executor,
    source_id: &str,
    version: ApiVersion,
    kind: AggregationKind,
    bound: Option<Instant>,
    cancel: Option<&CancellationToken>,
) -> Result<Option<TaskStatus>, Error> {
    let page = ListTaskStatuses::new(executor.clone(), version)
        .filter(
            TaskFilter::new()
                .task_type(kind.task_type())
                .source_id(source_id)
                .running(),
        )
        .order(TaskOrder::CreatedDescending)
        .page_size(1)
        .bounded(bound)
        .cancel_on(cancel.cloned())
        .page(0)
        .await?;
    Ok(page
        .items
        .into_iter()
        .find(|t| t.is_running() && t.id.as_deref().is_some_and(|id| !id.trim().is_empty())))
}

/// The newest aggregation task of `kind` on `source_id` before a start: tasks the lookup after an
/// ambiguous start must not take for the new one. `None` when there is none or it cannot be read.
async fn newest_aggregation(
    executor: &Executor,
    source_id: &str,
    version: ApiVersion,
    kind: AggregationKind,
    bound: Option<Instant>,
    cancel: Option<&CancellationToken>,
) -> Option<TaskStatus> {
    match newest_aggregation_tasks(
        executor,
        version,
        kind,
        &[source_id.to_owned()],
        bound,
        cancel,
    )
    .await
    {
        Ok(mut newest) => newest.remove(source_id),
        Err(error) => {
            tracing::warn!(source_id, error = %error, "no task snapshot before the start; the lookup will rely on times only");
            None
        }
    }
}

/// Errors after which looking again cannot help (permissions, a bad request).
fn lookup_is_hopeless(error: &Error) -> bool {
    matches!(
        error,
        Error::Unauthorized { .. }
            | Error::Forbidden { .. }
            | Error::BadRequest { .. }
            | Error::NotFound { .. }
            | Error::ExperimentalHeaderMissing { .. }
            | Error::InvalidInput { .. }
            | Error::Configuration { .. }
    )
}

/// After an ambiguous start: the one aggregation task of `kind` on the source created since
/// `began` (less the clock-skew allowance), polled for the grace period; otherwise what was seen.
#[allow(clippy::too_many_arguments)]
async fn resolve_outcome(
    executor: &Executor,
    source_id: &str,
    version: ApiVersion,
    kind: AggregationKind,
    began: DateTime<Utc>,
    before: Option<&TaskStatus>,
    resolution: &OutcomeResolution,
    outer_bound: Option<Instant>,
) -> Result<TaskStatus, OutcomeLookup> {
    let looking_since = Instant::now();
    // Each lookup call, its retries and waits included, ends with the grace period (or the
    // caller's bound, when that comes first).
    let grace_ends = earliest(bound_after(Some(resolution.grace_period)), outer_bound);
    let not_before = chrono::Duration::from_std(resolution.clock_skew)
        .ok()
        .and_then(|skew| began.checked_sub_signed(skew))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let list = ListTaskStatuses::new(executor.clone(), version)
        .filter(
            TaskFilter::new()
                .task_type(kind.task_type())
                .source_id(source_id),
        )
        .order(TaskOrder::CreatedDescending)
        .page_size(25)
        .bounded(grace_ends);
    let mut polls = 0;
    let mut last_error: Option<Box<Error>> = None;
    loop {
        polls += 1;
        match list.page(0).await {
            Ok(page) => {
                last_error = None;
                let mut candidates: Vec<TaskStatus> = page
                    .items
                    .into_iter()
                    .filter(|t| {
                        t.source_id().is_none_or(|s| s == source_id)
                            && t.created.is_some_and(|c| c >= not_before)
                            && t.completed.is_none_or(|c| c >= not_before)
                            && before.is_none_or(|b| {
                                b.id != t.id
                                    && match (b.created, t.created) {
                                        (Some(b), Some(t)) => t >= b,
                                        _ => true,
                                    }
                            })
                    })
                    .collect();
                match candidates.len() {
                    0 => {}
                    1 => return Ok(candidates.remove(0)),
                    _ => {
                        return Err(OutcomeLookup {
                            polls,
                            waited: looking_since.elapsed(),
                            candidates,
                            error: None,
                        });
                    }
                }
            }
            // The grace period ended during this poll: what was seen before stands.
            Err(Error::DeadlineExceeded { .. }) => break,
            Err(error) => {
                let hopeless = lookup_is_hopeless(&error);
                last_error = Some(Box::new(error));
                if hopeless {
                    break;
                }
            }
        }
        let remaining = resolution
            .grace_period
            .saturating_sub(looking_since.elapsed());
        if remaining.is_zero() {
            break;
        }
        tokio::time::sleep(resolution.poll_interval.min(remaining)).await;
        if looking_since.elapsed() >= resolution.grace_period
            || grace_ends.is_some_and(|end| Instant::now() >= end)
        {
            break;
        }
    }
    Err(OutcomeLookup {
        polls,
        waited: looking_since.elapsed(),
        candidates: Vec::new(),
        error: last_error,
    })
}

/// The started aggregation a task-status entry stands for.
fn from_task(
    task: &TaskStatus,
    source_id: &str,
    version: ApiVersion,
    kind: AggregationKind,
    origin: StartOrigin,
) -> StartedAggregation {
    StartedAggregation {
        task_id: task.id.clone().unwrap_or_default(),
        source_id: source_id.to_owned(),
        api_version: version,
        kind,
        success: None,
        task: AggregationTask::from_task_status(task),
        origin,
    }
}

/// Starts an aggregation of accounts (the default) or entitlements ([`kind`](Self::kind)).
/// Created by [`Client::start_aggregation`](crate::Client::start_aggregation).
///
/// The file (if any) is checked before anything is sent, and streamed from disk per attempt.
/// Only failures that prove no aggregation started (429, connection not established) are retried;
/// otherwise [`Error::OutcomeUnknown`] is returned. Both kinds have the same guarantees: one
/// start at most, a lost answer resolved through the kind's tasks, `if_idle` on the kind's tasks.
///
/// ```no_run
/// use sailpoint_isc::{ApiVersion, Client};
///
/// # async fn demo(client: Client) -> Result<(), sailpoint_isc::Error> {
/// // A direct-connect source: no file, beta API.
/// let started = client
///     .start_aggregation("2c9180835d2e5168015d32f890ca1581")
///     .api_version(ApiVersion::BETA)
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
///
/// An entitlements file, checked against the source's schema before it is sent:
///
/// ```no_run
/// use sailpoint_isc::{AggregationKind, Client};
///
/// # async fn demo(client: Client) -> Result<(), sailpoint_isc::Error> {
/// let started = client
///     .start_aggregation("2c9180835d2e5168015d32f890ca1581")
///     .kind(AggregationKind::Entitlements)
///     .file("groups.csv")
///     .check_first()
///     .send()
///     .await?;
/// let done = client.wait_for_aggregation(&started).send().await?;
/// println!("{done}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "nothing is sent until `.send()` is awaited"]
pub struct StartAggregation {
    executor: Executor,
    source_id: String,
    kind: AggregationKind,
    check_first: bool,
    file: Option<FileInput>,
    disable_optimization: bool,
    api_version: ApiVersion,
    if_idle: bool,
    resolution: OutcomeResolution,
    /// A snapshot taken by the caller (a batch takes one for many sources at once).
    snapshot: Option<Option<TaskStatus>>,
    cancel: Option<CancellationToken>,
    /// An outer bound from the caller (a batch's maximum wait), on top of the request deadline.
    outer_bound: Option<Instant>,
}

#[derive(Debug, Clone)]
enum FileInput {
    Path(PathBuf),
    Checked(AccountsFile),
}

impl StartAggregation {
    pub(crate) fn new(
        executor: Executor,
        source_id: String,
        api_version: ApiVersion,
        resolution: OutcomeResolution,
    ) -> Self {
        StartAggregation {
            executor,
            source_id,
            kind: AggregationKind::Accounts,
            check_first: false,
            file: None,
            disable_optimization: false,
            api_version,
            if_idle: false,
            resolution,
            snapshot: None,
            cancel: None,
            outer_bound: None,
        }
    }

    /// Ends everything this start does — the checks, the waits before sending, the lookup — by
    /// `at` at the latest (a batch's maximum wait): nothing is sent after it.
    pub(crate) fn bounded(mut self, at: Option<Instant>) -> Self {
        self.outer_bound = at;
        self
    }

    /// Stops when `token` is cancelled (a scheduler's stop signal), without losing track of
    /// what was sent: before the upload's last byte has been handed to the connection (or while
    /// waiting to send it) the call ends at once with [`Error::Cancelled`], and nothing was
    /// started; after it, ISC's answer is awaited for [`TimeoutConfig::settle`] (10 s by default)
    /// and the start is returned, or [`Error::OutcomeUnknown`] without a task-status lookup.
    ///
    /// ```no_run
    /// use sailpoint_isc::{CancellationToken, Client, Error};
    ///
    /// # async fn demo(client: Client) {
    /// let stop = CancellationToken::new();
    /// let on_signal = stop.clone(); // cancel it from a signal handler
    /// match client.start_aggregation("2c9180835d2e5168015d32f890ca1581").file("hr.csv")
    ///     .cancel_on(stop).send().await
    /// {
    ///     Ok(started) => println!("started {}", started.task_id),
    ///     Err(Error::Cancelled { .. }) => println!("stopped; nothing was started"),
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// # drop(on_signal);
    /// # }
    /// ```
    ///
    /// [`TimeoutConfig::settle`]: crate::TimeoutConfig::settle
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Loads this kind (default [`AggregationKind::Accounts`]).
    pub fn kind(mut self, kind: AggregationKind) -> Self {
        self.kind = kind;
        self
    }

    /// Checks the file against the source's schema before sending anything
    /// ([`Client::check_file`](crate::Client::check_file)): a file with a problem is
    /// [`Error::FileCheckFailed`] with the report, and nothing is uploaded. Warnings are logged
    /// and do not stop the start.
    pub fn check_first(mut self) -> Self {
        self.check_first = true;
        self
    }

    /// Does not start a second aggregation: if an aggregation of the same kind on the source is
    /// still running (task status, `completionStatus isnull`), [`send`](Self::send) returns it with
    /// [`StartOrigin::AlreadyRunning`] and uploads nothing. The check and the start are two
    /// requests: an aggregation started by someone else between them is not seen.
    pub fn if_idle(mut self) -> Self {
        self.if_idle = true;
        self
    }

    /// Uses a snapshot of the source's newest aggregation task taken by the caller instead of
    /// taking one (`None` inside: the source had none).
    pub(crate) fn with_snapshot(mut self, newest: Option<TaskStatus>) -> Self {
        self.snapshot = Some(newest);
        self
    }

    /// What an ambiguous start does (default: the client's, [`OutcomeResolution::standard`]).
    pub fn outcome_resolution(mut self, resolution: OutcomeResolution) -> Self {
        self.resolution = resolution;
        self
    }

    /// Uploads this CSV file (checked when [`send`](Self::send) is called).
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(FileInput::Path(path.into()));
        self
    }

    /// Uploads an already checked [`AccountsFile`].
    pub fn accounts_file(mut self, file: AccountsFile) -> Self {
        self.file = Some(FileInput::Checked(file));
        self
    }

    /// Re-processes every account even if unchanged (`disableOptimization`, sent as the text
    /// `"true"`/`"false"`; default `false`). Account aggregations only: `true` on an
    /// entitlement aggregation is [`Error::InvalidInput`].
    pub fn disable_optimization(mut self, disable: bool) -> Self {
        self.disable_optimization = disable;
        self
    }

    /// Uses this API version instead of the client's default.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = version;
        self
    }

    /// Validates the input, then sends the request (with retries where safe). After an
    /// ambiguous failure the aggregation is looked up in task status (see
    /// [`OutcomeResolution`]); it is never started twice.
    ///
    /// **Time.** The idle check, the snapshot and the start's waiting (`Retry-After`, backoff,
    /// the rate limiter, a token) share one deadline, [`TimeoutConfig::total`]; the upload itself
    /// is bounded by its progress ([`TimeoutConfig::stall`], [`TimeoutConfig::response`]), never
    /// by its size; the lookup after an ambiguous start by the grace period. So the whole call
    /// ends within `total` + the upload's own time + `grace_period`.
    ///
    /// **Cancel safety.** Dropping the future before its upload's last byte was handed to the
    /// connection aborts the request: ISC cannot accept an incomplete multipart body, so nothing
    /// started. Dropped after that, the start may have been received (as with any lost answer):
    /// look at the source's tasks, or let the CLI's signal handling settle it. A stop that must
    /// know the answer should not drop the future but wait for it.
    ///
    /// [`TimeoutConfig::total`]: crate::TimeoutConfig::total
    /// [`TimeoutConfig::stall`]: crate::TimeoutConfig::stall
    /// [`TimeoutConfig::response`]: crate::TimeoutConfig::response
    pub async fn send(self) -> Result<StartedAggregation, Error> {
        validate_id("source id", &self.source_id)?;
        let profile = self.kind.profile();
        if self.disable_optimization && !profile.takes_disable_optimization {
            return Err(Error::InvalidInput {
                message: format!(
                    "disableOptimization applies to account aggregations, not to {}",
                    self.kind
                ),
            });
        }
        let file = match &self.file {
            None => None,
            Some(FileInput::Checked(file)) => Some(file.clone()),
            Some(FileInput::Path(path)) => Some(AccountsFile::open(path).await?),
        };
        let version = self.api_version;
        // One bound for the checks before the start and the start's own waiting.
        let bound = earliest(
            bound_after(self.executor.timeouts().total),
            self.outer_bound,
        );
        if self.check_first {
            let Some(file) = &file else {
                return Err(Error::InvalidInput {
                    message: "check_first needs a file to check".to_owned(),
                });
            };
            crate::schema::check_before_upload(
                &self.executor,
                &self.source_id,
                file.path(),
                self.kind,
                version,
                bound,
                self.cancel.as_ref(),
            )
            .await?;
        }
        if self.if_idle
            && let Some(task) = running_aggregation(
                &self.executor,
                &self.source_id,
                version,
                self.kind,
                bound,
                self.cancel.as_ref(),
            )
            .await?
        {
            tracing::info!(
                source_id = %self.source_id,
                task_id = task.id.as_deref().unwrap_or_default(),
                "an aggregation is already running on the source; not starting another"
            );
            return Ok(from_task(
                &task,
                &self.source_id,
                version,
                self.kind,
                StartOrigin::AlreadyRunning,
            ));
        }
        let resolving = !self.resolution.grace_period.is_zero()
            && version.operation(TASK_LIST_OPERATION).is_some();
        let before = match (&self.snapshot, resolving && self.resolution.snapshot) {
            (Some(taken), _) => taken.clone(),
            (None, true) => {
                newest_aggregation(
                    &self.executor,
                    &self.source_id,
                    version,
                    self.kind,
                    bound,
                    self.cancel.as_ref(),
                )
                .await
            }
            (None, false) => None,
        };
        let began = Utc::now();
        match self.start(file, bound).await {
            Err(Error::OutcomeUnknown {
                source_id,
                reason,
                context,
                source,
                lookup: None,
            }) if resolving && !self.cancel.as_ref().is_some_and(|c| c.is_cancelled()) => {
                tracing::warn!(
                    source_id = %source_id,
                    reason = %reason,
                    grace_ms = self.resolution.grace_period.as_millis() as u64,
                    "the aggregation start's outcome is unknown; looking for it in task status"
                );
                match resolve_outcome(
                    &self.executor,
                    &source_id,
                    version,
                    self.kind,
                    began,
                    before.as_ref(),
                    &self.resolution,
                    self.outer_bound,
                )
                .await
                {
                    Ok(task) => {
                        tracing::warn!(
                            source_id = %source_id,
                            task_id = task.id.as_deref().unwrap_or_default(),
                            reason = %reason,
                            "recovered the aggregation from task status: ISC started it once, its response was lost"
                        );
                        let started = from_task(
                            &task,
                            &source_id,
                            version,
                            self.kind,
                            StartOrigin::Recovered,
                        );
                        refused_start(started)
                    }
                    Err(lookup) => Err(Error::OutcomeUnknown {
                        source_id,
                        reason,
                        context,
                        source,
                        lookup: Some(Box::new(lookup)),
                    }),
                }
            }
            other => other,
        }
    }

    /// Sends the start itself (with retries where safe).
    async fn start(
        &self,
        file: Option<AccountsFile>,
        bound: Option<Instant>,
    ) -> Result<StartedAggregation, Error> {
        let version = self.api_version;
        let profile = self.kind.profile();
        let import_operation = profile.import_operation;
        // Sent only where the operation takes it.
        let disable = profile
            .takes_disable_optimization
            .then_some(self.disable_optimization);
        if let Some(file) = &file {
            tracing::info!(
                source_id = %self.source_id,
                kind = %self.kind,
                file = %file.path().display(),
                bytes = file.len(),
                disable_optimization = self.disable_optimization,
                "starting aggregation"
            );
        }
        let call = Call {
            version,
            operation: import_operation,
            kind: OperationKind::StartAggregation,
            path_args: &[&self.source_id],
            query: &[],
            source_id: Some(&self.source_id),
            bound,
            cancel: self.cancel.as_ref(),
        };
        let ambiguous = |reason: String, context: Box<ErrorContext>| Error::OutcomeUnknown {
            source_id: self.source_id.clone(),
            reason,
            context,
            source: None,
            lookup: None,
        };
        let decoded = self
            .executor
            .call_with_form::<StartAnswer, _, _>(call, file.is_some(), |progress| {
                let file = file.clone();
                let progress = progress.clone();
                async move {
                    // A fresh file stream per attempt, counted as it is handed over.
                    let mut form = reqwest::multipart::Form::new();
                    if let Some(disable) = disable {
                        form = form.text("disableOptimization", disable.to_string());
                    }
                    if let Some(file) = &file {
                        let part = file.to_part(&progress).await.map_err(Failure::Local)?;
                        form = form.part("file", part);
                    }
                    Ok(Some(form))
                }
            })
            .await;
        let decoded = match decoded {
            Ok(decoded) => decoded,
            // ISC accepted the start (2xx) but its answer cannot be read: it started once, and
            // task status can tell its id.
            Err(Error::UndecodableBody { reason, context })
                if context.operation == import_operation
                    && context.status.is_some_and(|s| s.is_success()) =>
            {
                return Err(ambiguous(
                    format!("ISC accepted the start but its answer could not be read ({reason})"),
                    context,
                ));
            }
            Err(other) => return Err(other),
        };
        let (success, task) = decoded.value.into_parts();
        let Some(task_id) = task.id.clone().filter(|id| !id.trim().is_empty()) else {
            let mut context = ErrorContext::new(import_operation, Some(version));
            context.status = Some(StatusCode::ACCEPTED);
            context.attempts = 1;
            context.body_snippet = body_snippet(&decoded.body);
            return Err(ambiguous(
                "ISC accepted the start but its answer has no task id".to_owned(),
                Box::new(context),
            ));
        };
        tracing::info!(source_id = %self.source_id, task_id = %task_id, kind = %self.kind, api_version = %version, "aggregation started");
        refused_start(StartedAggregation {
            task_id,
            source_id: self.source_id.clone(),
            api_version: version,
            kind: self.kind,
            success,
            task,
            origin: StartOrigin::Started,
        })
    }
}

/// A start whose task has already ended unsuccessfully (ISC answers 202 with an `ERROR` task
/// when an aggregation is already running on the source) is a refusal:
/// [`Error::StartRefused`] with ISC's messages. Anything else passes.
fn refused_start(started: StartedAggregation) -> Result<StartedAggregation, Error> {
    let ended_badly = started
        .task
        .completion_status
        .as_deref()
        .map(CompletionStatus::parse)
        .is_some_and(|status| !status.is_success())
        || started.success == Some(false);
    if !ended_badly {
        return Ok(started);
    }
    let messages: Vec<String> = started
        .task
        .messages
        .iter()
        .filter_map(|m| m.localized_text.clone().or_else(|| m.key.clone()))
        .collect();
    tracing::warn!(
        source_id = %started.source_id,
        task_id = %started.task_id,
        messages = ?messages,
        "ISC refused the start: its task has already ended unsuccessfully"
    );
    Err(Error::StartRefused {
        source_id: started.source_id.clone(),
        task_id: started.task_id.clone(),
        completion_status: started
            .task
            .completion_status
            .clone()
            .unwrap_or_else(|| "success=false".to_owned()),
        messages,
        started: Box::new(started),
    })
}

/// Reads an aggregation's status once. Created by
/// [`Client::aggregation_status`](crate::Client::aggregation_status).
///
/// A 404 (unknown id, or status expired about an hour after completion) is
/// [`Error::AggregationExpired`]; a `NOT_FOUND` state is returned as is.
#[derive(Debug, Clone)]
#[must_use = "nothing is sent until `.send()` is awaited"]
pub struct GetAggregationStatus {
    executor: Executor,
    task_id: String,
    api_version: ApiVersion,
    kind: AggregationKind,
}

impl GetAggregationStatus {
    pub(crate) fn new(
        executor: Executor,
        task_id: String,
        api_version: ApiVersion,
        kind: AggregationKind,
    ) -> Self {
        GetAggregationStatus {
            executor,
            task_id,
            api_version,
            kind,
        }
    }

    /// Reads it as an aggregation of this kind (entitlements: from its task status).
    pub fn kind(mut self, kind: AggregationKind) -> Self {
        self.kind = kind;
        self
    }

    /// Uses this API version instead of the one chosen when the builder was created.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = version;
        self
    }

    /// Sends the request (retried on 429, 5xx, timeouts and connection errors).
    ///
    /// ```no_run
    /// use sailpoint_isc::{AggregationState, ApiVersion};
    ///
    /// # async fn demo(client: sailpoint_isc::Client) -> Result<(), sailpoint_isc::Error> {
    /// let status = client
    ///     .aggregation_status("2c91808477a6b0c60177a81146b8110b")
    ///     .api_version(ApiVersion::BETA)
    ///     .send()
    ///     .await?;
    /// if status.state == Some(AggregationState::Completed) {
    ///     println!("done");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send(self) -> Result<AggregationStatus, Error> {
        fetch_status(&self.executor, &self.task_id, self.api_version, self.kind).await
    }
}

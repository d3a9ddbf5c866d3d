//! Aggregation operations: start one (`importAccounts`) and read its status
//! (`getAccountAggregationStatus`), for any API version.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;

use crate::config::{ApiVersion, OutcomeResolution};
use crate::error::{Error, ErrorContext, Failure, OutcomeLookup};
use crate::executor::{Call, Executor};
use crate::ids::check_id as validate_id;
use crate::retry::OperationKind;
use crate::status::{
    AggregationStatus, AggregationTask, LoadAccountsTask, StartOrigin, StartedAggregation,
};
use crate::task_status::TaskStatus;
use crate::tasks::{
    ACCOUNT_AGGREGATION_TASK_TYPE, ListTaskStatuses, TASK_LIST_OPERATION, TASK_STATUS_OPERATION,
    TaskFilter, TaskOrder, fetch_task_status, newest_aggregation_tasks,
};
use crate::upload::AccountsFile;

/// Cross-version name of the operation that starts an aggregation.
pub(crate) const IMPORT_OPERATION: &str = "importAccounts";
/// Cross-version name of the operation that reads an aggregation's status.
pub(crate) const STATUS_OPERATION: &str = "getAccountAggregationStatus";

/// An aggregation to read or wait for: its id, and the API version that started it if known.
///
/// Built from a [`StartedAggregation`] (which keeps its version) or from an id (which uses the
/// client's default version unless the call chooses one).
///
/// ```
/// use sailpoint_isc::{AggregationRef, ApiVersion};
///
/// let by_id = AggregationRef::from("2c91808477a6b0c60177a81146b8110b");
/// assert_eq!(by_id.api_version, None);
/// let pinned = by_id.with_api_version(ApiVersion::V2026);
/// assert_eq!(pinned.api_version, Some(ApiVersion::V2026));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AggregationRef {
    /// The aggregation (task) id.
    pub task_id: String,
    /// The version to use; `None`: the client's default.
    pub api_version: Option<ApiVersion>,
}

impl AggregationRef {
    /// Uses this API version for the aggregation.
    pub fn with_api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = Some(version);
        self
    }
}

impl From<&str> for AggregationRef {
    fn from(task_id: &str) -> Self {
        AggregationRef {
            task_id: task_id.to_owned(),
            api_version: None,
        }
    }
}

impl From<String> for AggregationRef {
    fn from(task_id: String) -> Self {
        AggregationRef {
            task_id,
            api_version: None,
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
        }
    }
}

impl From<StartedAggregation> for AggregationRef {
    fn from(started: StartedAggregation) -> Self {
        AggregationRef {
            task_id: started.task_id,
            api_version: Some(started.api_version),
        }
    }
}

/// One status read with retries. A 404 (the status endpoint forgets an aggregation about an
/// hour after it ends) falls back to the aggregation's task status, kept 90 days; only when both
/// forget the id is it [`Error::AggregationExpired`]. A bad id is [`Error::InvalidInput`].
pub(crate) async fn fetch_status(
    executor: &Executor,
    task_id: &str,
    version: ApiVersion,
) -> Result<AggregationStatus, Error> {
    validate_id("aggregation id", task_id)?;
    let call = Call {
        version,
        operation: STATUS_OPERATION,
        kind: OperationKind::Read,
        path_args: &[task_id],
        query: &[],
        source_id: None,
    };
    let context = match executor.call::<AggregationStatus>(call).await {
        Ok(decoded) => return Ok(decoded.value),
        Err(Error::NotFound { context }) => context,
        Err(other) => return Err(other),
    };
    let expired = |context| Error::AggregationExpired {
        task_id: task_id.to_owned(),
        context,
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
            Ok(AggregationStatus::from_task(task))
        }
        Err(Error::NotFound { .. }) => Err(expired(context)),
        Err(other) => Err(other),
    }
}

/// The newest account aggregation still running on `source_id`, if any.
async fn running_aggregation(
    executor: &Executor,
    source_id: &str,
    version: ApiVersion,
) -> Result<Option<TaskStatus>, Error> {
    let page = ListTaskStatuses::new(executor.clone(), version)
        .filter(
            TaskFilter::new()
                .task_type(ACCOUNT_AGGREGATION_TASK_TYPE)
                .source_id(source_id)
                .running(),
        )
        .order(TaskOrder::CreatedDescending)
        .page_size(1)
        .page(0)
        .await?;
    Ok(page
        .items
        .into_iter()
        .find(|t| t.is_running() && t.id.as_deref().is_some_and(|id| !id.trim().is_empty())))
}

/// The newest account-aggregation task on `source_id` before a start: tasks the lookup after an
/// ambiguous start must not take for the new one. `None` when there is none or it cannot be read.
async fn newest_aggregation(
    executor: &Executor,
    source_id: &str,
    version: ApiVersion,
) -> Option<TaskStatus> {
    match newest_aggregation_tasks(executor, version, &[source_id.to_owned()]).await {
        Ok(mut newest) => newest.remove(source_id),
        Err(error) => {
            tracing::debug!(source_id, error = %error, "no task snapshot before the start; the lookup will rely on times only");
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

/// After an ambiguous start: the one aggregation task on the source created since `began`
/// (less the clock-skew allowance), polled for the grace period; otherwise what was seen.
async fn resolve_outcome(
    executor: &Executor,
    source_id: &str,
    version: ApiVersion,
    began: DateTime<Utc>,
    before: Option<&TaskStatus>,
    resolution: &OutcomeResolution,
) -> Result<TaskStatus, OutcomeLookup> {
    let looking_since = Instant::now();
    let skew =
        chrono::Duration::from_std(resolution.clock_skew).unwrap_or(chrono::Duration::zero());
    let not_before = began - skew;
    let list = ListTaskStatuses::new(executor.clone(), version)
        .filter(
            TaskFilter::new()
                .task_type(ACCOUNT_AGGREGATION_TASK_TYPE)
                .source_id(source_id),
        )
        .order(TaskOrder::CreatedDescending)
        .page_size(25);
    let mut polls = 0;
    let mut last_error: Option<Box<Error>>;
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
    origin: StartOrigin,
) -> StartedAggregation {
    StartedAggregation {
        task_id: task.id.clone().unwrap_or_default(),
        source_id: source_id.to_owned(),
        api_version: version,
        success: None,
        task: AggregationTask::from_task_status(task),
        origin,
    }
}

/// Starts an aggregation. Created by [`Client::start_aggregation`](crate::Client::start_aggregation).
///
/// The file (if any) is checked before anything is sent, and streamed from disk per attempt.
/// Only failures that prove no aggregation started (429, connection not established) are retried;
/// otherwise [`Error::OutcomeUnknown`] is returned.
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
#[derive(Debug, Clone)]
#[must_use = "nothing is sent until `.send()` is awaited"]
pub struct StartAggregation {
    executor: Executor,
    source_id: String,
    file: Option<FileInput>,
    disable_optimization: bool,
    api_version: ApiVersion,
    if_idle: bool,
    resolution: OutcomeResolution,
    /// A snapshot taken by the caller (a batch takes one for many sources at once).
    snapshot: Option<Option<TaskStatus>>,
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
            file: None,
            disable_optimization: false,
            api_version,
            if_idle: false,
            resolution,
            snapshot: None,
        }
    }

    /// Does not start a second aggregation: if an account aggregation on the source is still
    /// running (task status, `completionStatus isnull`), [`send`](Self::send) returns it with
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
    /// `"true"`/`"false"`; default `false`).
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
    pub async fn send(self) -> Result<StartedAggregation, Error> {
        validate_id("source id", &self.source_id)?;
        let file = match &self.file {
            None => None,
            Some(FileInput::Checked(file)) => Some(file.clone()),
            Some(FileInput::Path(path)) => Some(AccountsFile::open(path).await?),
        };
        let version = self.api_version;
        if self.if_idle
            && let Some(task) =
                running_aggregation(&self.executor, &self.source_id, version).await?
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
                StartOrigin::AlreadyRunning,
            ));
        }
        let resolving = !self.resolution.grace_period.is_zero()
            && version.operation(TASK_LIST_OPERATION).is_some();
        let before = match (&self.snapshot, resolving && self.resolution.snapshot) {
            (Some(taken), _) => taken.clone(),
            (None, true) => newest_aggregation(&self.executor, &self.source_id, version).await,
            (None, false) => None,
        };
        let began = Utc::now();
        match self.start(file).await {
            Err(Error::OutcomeUnknown {
                source_id,
                reason,
                context,
                source,
                lookup: None,
            }) if resolving => {
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
                    began,
                    before.as_ref(),
                    &self.resolution,
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
                        Ok(from_task(
                            &task,
                            &source_id,
                            version,
                            StartOrigin::Recovered,
                        ))
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
    async fn start(&self, file: Option<AccountsFile>) -> Result<StartedAggregation, Error> {
        let version = self.api_version;
        let disable = self.disable_optimization;
        if let Some(file) = &file {
            tracing::info!(
                source_id = %self.source_id,
                file = %file.path().display(),
                bytes = file.len(),
                disable_optimization = disable,
                "starting aggregation"
            );
        }
        let call = Call {
            version,
            operation: IMPORT_OPERATION,
            kind: OperationKind::StartAggregation,
            path_args: &[&self.source_id],
            query: &[],
            source_id: Some(&self.source_id),
        };
        let body = self
            .executor
            .call_with_form::<LoadAccountsTask, _, _>(call, || {
                let file = file.clone();
                async move {
                    // A fresh file stream per attempt.
                    let mut form = reqwest::multipart::Form::new()
                        .text("disableOptimization", disable.to_string());
                    if let Some(file) = &file {
                        form = form.part("file", file.to_part().await.map_err(Failure::Local)?);
                    }
                    Ok(Some(form))
                }
            })
            .await
            .map_err(|error| match error {
                // Only the import's own response: a token response is named differently.
                Error::UndecodableBody { reason, context } if context.operation == IMPORT_OPERATION => Error::UndecodableBody {
                    reason: format!(
                        "ISC accepted the aggregation, but its response could not be read ({reason}); \
                         look up the source's recent tasks for its id"
                    ),
                    context,
                },
                other => other,
            })?
            .value;
        let task = body.task.unwrap_or_default();
        let Some(task_id) = task.id.clone().filter(|id| !id.trim().is_empty()) else {
            let mut context = ErrorContext::new(IMPORT_OPERATION, Some(version));
            context.status = Some(StatusCode::ACCEPTED);
            context.attempts = 1;
            context.body_snippet = serde_json::to_string(&task).ok();
            return Err(Error::UndecodableBody {
                reason: "ISC accepted the aggregation but its response has no task.id to poll"
                    .to_owned(),
                context: Box::new(context),
            });
        };
        tracing::info!(source_id = %self.source_id, task_id = %task_id, api_version = %version, "aggregation started");
        Ok(StartedAggregation {
            task_id,
            source_id: self.source_id.clone(),
            api_version: version,
            success: body.success,
            task,
            origin: StartOrigin::Started,
        })
    }
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
}

impl GetAggregationStatus {
    pub(crate) fn new(executor: Executor, task_id: String, api_version: ApiVersion) -> Self {
        GetAggregationStatus {
            executor,
            task_id,
            api_version,
        }
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
        fetch_status(&self.executor, &self.task_id, self.api_version).await
    }
}

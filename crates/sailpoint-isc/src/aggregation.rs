//! Starting an aggregation (`importAccounts`, `importEntitlements`) for any API version and
//! either [`AggregationKind`]: the checks before it, the upload, and what an ambiguous answer
//! leads to (see `resolution`).

use std::path::PathBuf;

use chrono::Utc;
use reqwest::StatusCode;
use sailpoint_isc_api::ApiVersion;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::OutcomeResolution;
use crate::deadline::{bound_after, earliest};
use crate::error::{Error, ErrorContext};
use crate::error_context::body_snippet;
use crate::executor::{Call, Executor};
use crate::failure::Failure;
use crate::ids::check_id as validate_id;
use crate::kind::AggregationKind;
use crate::resolution::{newest_aggregation, resolve_outcome, running_aggregation};
use crate::retry::OperationKind;
use crate::status::{AggregationTask, StartAnswer, StartOrigin, StartedAggregation};
use crate::task_status::{CompletionStatus, TaskStatus};
use crate::tasks::TASK_LIST_OPERATION;
use crate::upload::AccountsFile;

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

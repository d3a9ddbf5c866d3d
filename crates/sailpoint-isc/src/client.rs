//! The [`Client`] façade: configuration in, operation builders out. Everything below it
//! (executor, operations, waiting) knows nothing of the façade.

use std::fmt;

use sailpoint_isc_api::ApiVersion;

use crate::aggregation::StartAggregation;
use crate::aggregation_status::{AggregationRef, GetAggregationStatus};
use crate::batch::{AggregateBatch, BatchItem};
use crate::config::OutcomeResolution;
use crate::executor::Executor;
use crate::kind::AggregationKind;
use crate::ratelimit::RateLimiter;
use crate::retry::RetryConfig;
use crate::schema::{CheckFile, GetFileSchema};
use crate::sources::FindSourceByName;
use crate::tasks::{GetTaskStatus, ListTaskStatuses};
use crate::wait::{PollSchedule, WaitForAggregation};

/// A SailPoint ISC client for account aggregations. Cheap to clone (clones share the HTTP
/// connection pool and the token cache).
///
/// ```no_run
/// use sailpoint_isc::Client;
///
/// # async fn demo() -> Result<(), sailpoint_isc::Error> {
/// let client = Client::from_env()?;
/// let started = client
///     .start_aggregation("2c9180835d2e5168015d32f890ca1581")
///     .file("accounts.csv")
///     .send()
///     .await?;
/// let status = client.wait_for_aggregation(&started).send().await?; // polls the version that started it
/// println!("{status}");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    executor: Executor,
    api_version: ApiVersion,
    poll_schedule: PollSchedule,
    outcome_resolution: OutcomeResolution,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.executor.base_url())
            .field("api_version", &self.api_version)
            .field("auth", self.executor.auth())
            .field("retry", self.executor.retry())
            .field("poll_schedule", &self.poll_schedule)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client from its parts, checked and built by [`ClientBuilder::build`].
    pub(crate) fn assemble(
        executor: Executor,
        api_version: ApiVersion,
        poll_schedule: PollSchedule,
        outcome_resolution: OutcomeResolution,
    ) -> Self {
        Client {
            executor,
            api_version,
            poll_schedule,
            outcome_resolution,
        }
    }

    /// The tenant base URL, without a trailing slash or version segment.
    pub fn base_url(&self) -> &str {
        self.executor.base_url()
    }

    /// The default API version of this client's calls.
    pub fn api_version(&self) -> ApiVersion {
        self.api_version
    }

    /// The client-side rate limiter, unless it was turned off.
    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.executor.limiter()
    }

    /// The retry configuration.
    pub fn retry_config(&self) -> &RetryConfig {
        self.executor.retry()
    }

    /// What an ambiguous aggregation start does by default (see [`OutcomeResolution`]).
    pub fn outcome_resolution(&self) -> &OutcomeResolution {
        &self.outcome_resolution
    }

    /// The default poll schedule of [`wait_for_aggregation`](Self::wait_for_aggregation).
    pub fn poll_schedule(&self) -> &PollSchedule {
        &self.poll_schedule
    }

    /// Starts an account aggregation on a source (`POST /{version}/sources/{id}/load-accounts`).
    /// Add a CSV with [`StartAggregation::file`] for delimited-file sources; leave it out for
    /// direct-connect sources.
    ///
    /// ```no_run
    /// # async fn demo(client: sailpoint_isc::Client) -> Result<(), sailpoint_isc::Error> {
    /// let started = client
    ///     .start_aggregation("2c9180835d2e5168015d32f890ca1581")
    ///     .file("accounts.csv")
    ///     .disable_optimization(true)
    ///     .send()
    ///     .await?;
    /// println!("poll {}", started.task_id);
    /// # Ok(()) }
    /// ```
    pub fn start_aggregation(&self, source_id: impl Into<String>) -> StartAggregation {
        StartAggregation::new(
            self.executor.clone(),
            source_id.into(),
            self.api_version,
            self.outcome_resolution.clone(),
        )
    }

    /// Checks a CSV file against the source's schema before it is uploaded: reads the expected
    /// header and account id column from ISC, streams the file once and reports every finding
    /// with its line (see [`preflight`](crate::preflight) for what is checked).
    ///
    /// ```no_run
    /// use sailpoint_isc::{AggregationKind, Client};
    ///
    /// # async fn demo(client: Client) -> Result<(), sailpoint_isc::Error> {
    /// let report = client
    ///     .check_file("2c9180835d2e5168015d32f890ca1581", "groups.csv", AggregationKind::Entitlements)
    ///     .send()
    ///     .await?;
    /// println!("{} problems, {} warnings", report.total_problems(), report.warnings());
    /// # Ok(()) }
    /// ```
    pub fn check_file(
        &self,
        source_id: impl Into<String>,
        path: impl Into<std::path::PathBuf>,
        kind: AggregationKind,
    ) -> CheckFile {
        CheckFile::new(
            self.executor.clone(),
            source_id.into(),
            path.into(),
            kind,
            self.api_version,
        )
    }

    /// Reads the source's file schema for `kind`: the expected header (ISC's `text/csv`
    /// schema endpoint), the account id column, the delimiter and whether the source sorts
    /// rows itself.
    ///
    /// ```no_run
    /// # async fn demo(client: sailpoint_isc::Client) -> Result<(), sailpoint_isc::Error> {
    /// use sailpoint_isc::AggregationKind;
    /// let schema = client.file_schema("2c9180835d2e5168015d32f890ca1581", AggregationKind::Accounts).send().await?;
    /// println!("{:?} keyed by {:?}", schema.columns, schema.identity_attribute);
    /// # Ok(()) }
    /// ```
    pub fn file_schema(
        &self,
        source_id: impl Into<String>,
        kind: AggregationKind,
    ) -> GetFileSchema {
        GetFileSchema::new(
            self.executor.clone(),
            source_id.into(),
            kind,
            self.api_version,
        )
    }

    /// Reads an aggregation's status once (`GET /{version}/account-aggregations/{id}/status`).
    ///
    /// ```no_run
    /// # async fn demo(client: sailpoint_isc::Client) -> Result<(), sailpoint_isc::Error> {
    /// let status = client.aggregation_status("2c91808477a6b0c60177a81146b8110b").send().await?;
    /// println!("{} ({:?})", status, status.progress_fraction());
    /// # Ok(()) }
    /// ```
    pub fn aggregation_status(
        &self,
        aggregation: impl Into<AggregationRef>,
    ) -> GetAggregationStatus {
        let aggregation = aggregation.into();
        GetAggregationStatus::new(
            self.executor.clone(),
            aggregation.task_id,
            aggregation.api_version.unwrap_or(self.api_version),
            aggregation.kind,
        )
    }

    /// Waits for an aggregation to end, polling its status on the client's [`PollSchedule`].
    ///
    /// ```no_run
    /// # async fn demo(client: sailpoint_isc::Client) -> Result<(), sailpoint_isc::Error> {
    /// let done = client
    ///     .wait_for_aggregation("2c91808477a6b0c60177a81146b8110b")
    ///     .on_progress(|p| eprintln!("{}", p.status))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn wait_for_aggregation(
        &self,
        aggregation: impl Into<AggregationRef>,
    ) -> WaitForAggregation {
        let aggregation = aggregation.into();
        WaitForAggregation::new(
            self.executor.clone(),
            aggregation.task_id,
            aggregation.api_version.unwrap_or(self.api_version),
            aggregation.kind,
            self.poll_schedule.clone(),
        )
    }

    /// Reads one task status (`GET .../task-status/{id}`); ISC keeps them 90 days. An
    /// aggregation's task has the aggregation's id.
    ///
    /// ```no_run
    /// # async fn demo(client: sailpoint_isc::Client) -> Result<(), sailpoint_isc::Error> {
    /// let task = client.task_status("2c91808477a6b0c60177a81146b8110b").send().await?;
    /// println!("{task}: {:?}", task.message_texts());
    /// # Ok(()) }
    /// ```
    pub fn task_status(&self, task_id: impl Into<String>) -> GetTaskStatus {
        GetTaskStatus::new(self.executor.clone(), task_id.into(), self.api_version)
    }

    /// Lists task statuses (`GET .../task-status`), filtered, sorted by `created` and paged;
    /// see [`ListTaskStatuses`].
    ///
    /// ```no_run
    /// use sailpoint_isc::tasks::{TaskFilter, ACCOUNT_AGGREGATION_TASK_TYPE};
    ///
    /// # async fn demo(client: sailpoint_isc::Client) -> Result<(), sailpoint_isc::Error> {
    /// let recent = client
    ///     .task_statuses()
    ///     .filter(TaskFilter::new().task_type(ACCOUNT_AGGREGATION_TASK_TYPE).source_id("2c91808a"))
    ///     .max_items(10)
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn task_statuses(&self) -> ListTaskStatuses {
        ListTaskStatuses::new(self.executor.clone(), self.api_version)
    }

    /// Finds the one source named exactly `name` (`GET .../sources?filters=name eq "…"`).
    ///
    /// ```no_run
    /// # async fn demo(client: sailpoint_isc::Client) -> Result<(), sailpoint_isc::Error> {
    /// let source = client.find_source_by_name("HR Feed").send().await?;
    /// let started = client
    ///     .start_aggregation(source.id.unwrap_or_default())
    ///     .file("hr.csv")
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn find_source_by_name(&self, name: impl Into<String>) -> FindSourceByName {
        FindSourceByName::new(self.executor.clone(), name.into(), self.api_version)
    }

    /// Aggregates many sources: starts them with a concurrency cap (each exactly once), waits for
    /// all of them with task-status lists, and reports per-item events and results; see
    /// [`AggregateBatch`].
    ///
    /// ```no_run
    /// use sailpoint_isc::batch::BatchItem;
    ///
    /// # async fn demo(client: sailpoint_isc::Client) {
    /// let report = client
    ///     .aggregate_batch(vec![
    ///         BatchItem::source_name("HR Feed").file("hr.csv"),
    ///         BatchItem::source_name("Contractors").file("contractors.csv"),
    ///     ])
    ///     .run()
    ///     .await;
    /// assert_eq!(report.items.len(), 2);
    /// # }
    /// ```
    pub fn aggregate_batch(&self, items: impl IntoIterator<Item = BatchItem>) -> AggregateBatch {
        AggregateBatch::new(
            self.executor.clone(),
            self.api_version,
            self.outcome_resolution.clone(),
            items.into_iter().collect(),
        )
    }
}

//! Reading an aggregation's status, for any API version and either [`AggregationKind`]: the
//! kind's status endpoint (`getAccountAggregationStatus`), falling back to task status once it
//! forgets the id; task status alone for a kind without one (entitlements).

use reqwest::StatusCode;
use sailpoint_isc_api::ApiVersion;

use crate::error::{Error, ErrorContext};
use crate::error_context::body_snippet;
use crate::executor::{Call, Executor};
use crate::ids::check_id as validate_id;
use crate::kind::AggregationKind;
use crate::status::{AggregationState, AggregationStatus, StartedAggregation};
use crate::tasks::{TASK_STATUS_OPERATION, fetch_task_status};

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
pub(crate) fn fetch_status(
    executor: &Executor,
    task_id: &str,
    version: ApiVersion,
    kind: AggregationKind,
) -> impl Future<Output = Result<AggregationStatus, Error>> + Send + 'static {
    GetAggregationStatus::new(executor.clone(), task_id.to_owned(), version, kind).send()
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
        // (The read itself, not a call to a shared helper: each async layer would hold, and
        // move, the whole request future once more.)
        let (executor, task_id, version, kind) = (
            &self.executor,
            self.task_id.as_str(),
            self.api_version,
            self.kind,
        );
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
        let path_args = [task_id];
        let call = Call::read(version, status_operation, &path_args);
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
}

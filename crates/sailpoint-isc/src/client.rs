//! The [`Client`] and its operations: start an aggregation, read its status, wait for it.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue, USER_AGENT};
use sailpoint_isc_api::v2025::{ByteStream, ResponseValue};
use sailpoint_isc_api::{RequestContext, beta, v2025};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::auth::Authenticator;
use crate::config::{self, ApiVersion, BaseUrl, ClientBuilder, Credentials};
use crate::error::{Error, ErrorContext, Failure, read_capped};
use crate::retry::{OperationKind, RetryBudget, RetryConfig, RetryDecision, decide};
use crate::status::{AggregationStatus, FromGenerated, LoadAccountsTask, StartedAggregation};
use crate::upload::AccountsFile;
use crate::wait::{PollSchedule, WaitForAggregation};

/// ISC's operationId for starting an aggregation.
pub(crate) const IMPORT_OPERATION: &str = "importAccounts";
/// ISC's operationId for reading an aggregation's status.
pub(crate) const STATUS_OPERATION: &str = "getAccountAggregationStatus";

/// Most redirects followed (same origin only) by the client the SDK builds.
const MAX_REDIRECTS: usize = 5;

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
/// let status = client.wait_for_aggregation(&started.task_id).send().await?;
/// println!("{status}");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    base_url: BaseUrl,
    /// `{base}/beta` and `{base}/v2025`, built once.
    versioned_urls: [String; 2],
    http: reqwest::Client,
    auth: Authenticator,
    retry: RetryConfig,
    api_version: ApiVersion,
    poll_schedule: PollSchedule,
    user_agent: HeaderValue,
}

impl ClientInner {
    /// The base URL with the version segment.
    fn versioned_url(&self, version: ApiVersion) -> &str {
        match version {
            ApiVersion::Beta => &self.versioned_urls[0],
            ApiVersion::V2025 => &self.versioned_urls[1],
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url.as_str())
            .field("api_version", &self.inner.api_version)
            .field("auth", &self.inner.auth)
            .field("retry", &self.inner.retry)
            .field("poll_schedule", &self.inner.poll_schedule)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A [`ClientBuilder`] with default settings.
    ///
    /// ```no_run
    /// use sailpoint_isc::Client;
    ///
    /// # fn main() -> Result<(), sailpoint_isc::Error> {
    /// let client = Client::builder()
    ///     .base_url("https://acme.api.identitynow.com")
    ///     .client_credentials("client-id", "client-secret")
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client configured from `SAIL_BASE_URL`, `SAIL_CLIENT_ID` and `SAIL_CLIENT_SECRET`, or
    /// `./config.json` (see [`ClientBuilder::from_env`]).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), sailpoint_isc::Error> {
    /// let client = sailpoint_isc::Client::from_env()?;
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::from_env()?.build()
    }

    pub(crate) fn from_builder(builder: ClientBuilder) -> Result<Client, Error> {
        let raw_url = builder
            .base_url
            .as_deref()
            .ok_or_else(|| Error::Configuration {
                message: format!(
                    "no base URL: call .base_url(..) or set {}",
                    config::ENV_BASE_URL
                ),
            })?;
        let base_url = BaseUrl::parse(raw_url)?;
        let credentials = builder.credentials.ok_or_else(|| Error::Configuration {
            message: "no credentials: call .client_credentials(..) or .access_token(..)".to_owned(),
        })?;
        match &credentials {
            Credentials::ClientCredentials {
                client_id,
                client_secret,
            } => {
                if client_id.trim().is_empty() {
                    return Err(Error::Configuration {
                        message: "the client id is empty".to_owned(),
                    });
                }
                if client_secret.is_blank() {
                    return Err(Error::Configuration {
                        message: "the client secret is empty".to_owned(),
                    });
                }
            }
            Credentials::AccessToken(token) if token.is_blank() => {
                return Err(Error::Configuration {
                    message: "the access token is empty".to_owned(),
                });
            }
            Credentials::AccessToken(_) => {}
        }
        let user_agent = HeaderValue::from_static(config::USER_AGENT);
        let http = match builder.http_client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .user_agent(config::USER_AGENT)
                .connect_timeout(builder.timeouts.connect)
                .read_timeout(builder.timeouts.read)
                .redirect(same_origin_redirects())
                .build()
                .map_err(|e| Error::Configuration {
                    message: format!("cannot build the HTTP client: {e}"),
                })?,
        };
        let auth = Authenticator::new(
            credentials,
            base_url.token_url(),
            http.clone(),
            user_agent.clone(),
            builder.retry.clone(),
            builder.token_refresh_margin,
        );
        Ok(Client {
            inner: Arc::new(ClientInner {
                versioned_urls: [
                    base_url.versioned(ApiVersion::Beta),
                    base_url.versioned(ApiVersion::V2025),
                ],
                base_url,
                http,
                auth,
                retry: builder.retry,
                api_version: builder.api_version,
                poll_schedule: builder.poll_schedule,
                user_agent,
            }),
        })
    }

    /// The tenant base URL, without a trailing slash or version segment.
    pub fn base_url(&self) -> &str {
        self.inner.base_url.as_str()
    }

    /// The default API version of this client's calls.
    pub fn api_version(&self) -> ApiVersion {
        self.inner.api_version
    }

    /// The retry configuration.
    pub fn retry_config(&self) -> &RetryConfig {
        &self.inner.retry
    }

    /// The default poll schedule of [`wait_for_aggregation`](Self::wait_for_aggregation).
    pub fn poll_schedule(&self) -> &PollSchedule {
        &self.inner.poll_schedule
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
        StartAggregation {
            client: self.clone(),
            source_id: source_id.into(),
            file: None,
            disable_optimization: false,
            api_version: self.inner.api_version,
        }
    }

    /// Reads an aggregation's status once (`GET /{version}/account-aggregations/{id}/status`).
    ///
    /// ```no_run
    /// # async fn demo(client: sailpoint_isc::Client) -> Result<(), sailpoint_isc::Error> {
    /// let status = client.aggregation_status("2c91808477a6b0c60177a81146b8110b").send().await?;
    /// println!("{} ({:?})", status, status.progress_fraction());
    /// # Ok(()) }
    /// ```
    pub fn aggregation_status(&self, task_id: impl Into<String>) -> GetAggregationStatus {
        GetAggregationStatus {
            client: self.clone(),
            task_id: task_id.into(),
            api_version: self.inner.api_version,
        }
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
    pub fn wait_for_aggregation(&self, task_id: impl Into<String>) -> WaitForAggregation {
        WaitForAggregation::new(
            self.clone(),
            task_id.into(),
            self.inner.api_version,
            self.inner.poll_schedule.clone(),
        )
    }

    /// One status read with retries; 404 and invalid ids are mapped to typed errors.
    pub(crate) async fn fetch_status(
        &self,
        task_id: &str,
        version: ApiVersion,
    ) -> Result<AggregationStatus, Error> {
        validate_id("aggregation id", task_id)?;
        let spec = OperationSpec {
            name: STATUS_OPERATION,
            kind: OperationKind::Read,
            version,
            source_id: None,
        };
        let inner = self.inner.clone();
        let task_id_owned = task_id.to_owned();
        let result = self
            .execute(spec, move |ctx| {
                let inner = inner.clone();
                let task_id = task_id_owned.clone();
                async move {
                    let base = inner.versioned_url(version);
                    let http = inner.http.clone();
                    match version {
                        ApiVersion::V2025 => {
                            let api = v2025::Client::new_with_client(base, http, ctx);
                            decode_success(
                                api.get_account_aggregation_status(&task_id).await,
                                StatusCode::OK,
                            )
                            .await
                        }
                        ApiVersion::Beta => {
                            let api = beta::Client::new_with_client(base, http, ctx);
                            decode_success(
                                api.get_account_aggregation_status(&task_id).await,
                                StatusCode::OK,
                            )
                            .await
                        }
                    }
                }
            })
            .await;
        match result {
            Err(Error::NotFound { context }) => Err(Error::AggregationExpired {
                task_id: task_id.to_owned(),
                context,
            }),
            other => other,
        }
    }

    /// Runs one operation: token, request, classification, retries, the 401 refresh, and logs.
    async fn execute<T, F, Fut>(
        &self,
        spec: OperationSpec<'_>,
        mut attempt_fn: F,
    ) -> Result<T, Error>
    where
        F: FnMut(RequestContext) -> Fut,
        Fut: Future<Output = Result<(T, StatusCode), Failure>>,
    {
        let span = tracing::info_span!(
            "isc_request",
            operation = spec.name,
            api_version = %spec.version
        );
        async move {
            let inner = &self.inner;
            let mut budget = RetryBudget::new(&inner.retry);
            let mut attempt = 0u32;
            let mut refreshed = false;
            let deadline = inner.retry.total_deadline;
            let mut last_status = None;
            loop {
                attempt += 1;
                let remaining = deadline.map(|d| d.saturating_sub(budget.elapsed()));
                // Nothing has been sent for this attempt yet: a deadline passing here is plain.
                let token = match inner.auth.cached_token() {
                    Some(token) => token,
                    None => match within(remaining, inner.auth.token()).await {
                        Some(token) => token?,
                        None => {
                            return Err(self.deadline_exceeded(&spec, attempt - 1, last_status));
                        }
                    },
                };
                let context = RequestContext::new()
                    .with_header(USER_AGENT, inner.user_agent.clone())
                    .with_header(AUTHORIZATION, token.authorization()?);
                let started = Instant::now();
                let remaining = deadline.map(|d| d.saturating_sub(budget.elapsed()));
                let Some(outcome) = within(remaining, attempt_fn(context)).await else {
                    // The request may be on the wire: for the start, its outcome is unknown.
                    tracing::debug!(
                        operation = spec.name,
                        attempt,
                        elapsed_ms = budget.elapsed().as_millis() as u64,
                        "total deadline passed with the request in flight"
                    );
                    return Err(self.deadline_exceeded(&spec, attempt, last_status));
                };
                let mut failure = match outcome {
                    Ok((value, status)) => {
                        tracing::debug!(
                            operation = spec.name,
                            attempt,
                            status = status.as_u16(),
                            duration_ms = started.elapsed().as_millis() as u64,
                            "request succeeded"
                        );
                        return Ok(value);
                    }
                    Err(failure) => failure,
                };
                let kind = failure.kind();
                let decision = decide(spec.kind, kind);
                last_status = failure.status().or(last_status);
                tracing::debug!(
                    operation = spec.name,
                    attempt,
                    status = failure.status().map(|s| s.as_u16()),
                    failure = ?kind,
                    decision = ?decision,
                    duration_ms = started.elapsed().as_millis() as u64,
                    "request failed"
                );
                match decision {
                    RetryDecision::RefreshCredentials if !refreshed && inner.auth.can_refresh() => {
                        refreshed = true;
                        inner.auth.invalidate(&token).await;
                        tracing::info!(
                            operation = spec.name,
                            attempt,
                            "access token rejected (401); refreshing it and resending once"
                        );
                        continue;
                    }
                    RetryDecision::Retry => {
                        if let Some(wait) = budget.next_wait(failure.retry_after()) {
                            tracing::warn!(
                                operation = spec.name,
                                attempt,
                                status = failure.status().map(|s| s.as_u16()),
                                failure = ?kind,
                                wait_ms = wait.as_millis() as u64,
                                "retrying"
                            );
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                    }
                    _ => {}
                }
                tracing::debug!(
                    operation = spec.name,
                    attempts = attempt,
                    elapsed_ms = budget.elapsed().as_millis() as u64,
                    "giving up"
                );
                let context = ErrorContext::new(spec.name, Some(spec.version));
                // A gateway that echoes request headers must not put the token in the error:
                // scrub the raw body (before a snippet can cut the token in two), then the
                // decoded messages (where JSON escapes have been undone).
                failure.redact(token.expose());
                let mut error = failure.into_error(context, attempt, decision, spec.source_id);
                error.redact(token.expose());
                return Err(error);
            }
        }
        .instrument(span)
        .await
    }

    /// The error for an operation cut by its total deadline after `attempts` attempts. For the
    /// aggregation start with a request sent, that is [`Error::OutcomeUnknown`].
    fn deadline_exceeded(
        &self,
        spec: &OperationSpec<'_>,
        attempts: u32,
        last_status: Option<StatusCode>,
    ) -> Error {
        let deadline = self.inner.retry.total_deadline.unwrap_or_default();
        let mut context = ErrorContext::new(spec.name, Some(spec.version));
        context.attempts = attempts;
        context.status = last_status;
        let context = Box::new(context);
        match spec.source_id {
            Some(source_id) if attempts > 0 && spec.kind == OperationKind::StartAggregation => {
                Error::OutcomeUnknown {
                    source_id: source_id.to_owned(),
                    reason: format!(
                        "the total deadline of {deadline:?} passed while the request was in flight"
                    ),
                    context,
                    source: None,
                }
            }
            _ => Error::DeadlineExceeded { deadline, context },
        }
    }
}

/// Follows redirects only within the origin of the request (scheme, host and port), so neither
/// a token nor the client secret can be carried to another host. A cross-origin redirect is
/// returned as the response it is (an [`Error::UnexpectedStatus`]).
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first();
        let same_origin = first.is_some_and(|first| {
            first.scheme() == attempt.url().scheme()
                && first.host_str() == attempt.url().host_str()
                && first.port_or_known_default() == attempt.url().port_or_known_default()
        });
        if !same_origin {
            tracing::warn!(
                to = %attempt.url().origin().ascii_serialization(),
                "not following a redirect to another origin"
            );
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// Runs `future` to completion, or until `limit` passes (`None`: no limit).
async fn within<F: Future>(limit: Option<Duration>, future: F) -> Option<F::Output> {
    match limit {
        None => Some(future.await),
        Some(limit) => tokio::time::timeout(limit, future).await.ok(),
    }
}

/// What [`Client::execute`] needs to know about an operation.
struct OperationSpec<'a> {
    name: &'static str,
    kind: OperationKind,
    version: ApiVersion,
    /// Set for the non-idempotent start, to word the outcome-unknown error.
    source_id: Option<&'a str>,
}

/// Starts an aggregation. Created by [`Client::start_aggregation`].
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
///     .api_version(ApiVersion::Beta)
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "nothing is sent until `.send()` is awaited"]
pub struct StartAggregation {
    client: Client,
    source_id: String,
    file: Option<FileInput>,
    disable_optimization: bool,
    api_version: ApiVersion,
}

#[derive(Debug, Clone)]
enum FileInput {
    Path(PathBuf),
    Checked(AccountsFile),
}

impl StartAggregation {
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

    /// Validates the input, then sends the request (with retries where safe).
    pub async fn send(self) -> Result<StartedAggregation, Error> {
        validate_id("source id", &self.source_id)?;
        let file = match self.file {
            None => None,
            Some(FileInput::Checked(file)) => Some(file),
            Some(FileInput::Path(path)) => Some(AccountsFile::open(path).await?),
        };
        let version = self.api_version;
        let disable = self.disable_optimization;
        let spec = OperationSpec {
            name: IMPORT_OPERATION,
            kind: OperationKind::StartAggregation,
            version,
            source_id: Some(&self.source_id),
        };
        if let Some(file) = &file {
            tracing::info!(
                source_id = %self.source_id,
                file = %file.path().display(),
                bytes = file.len(),
                disable_optimization = disable,
                "starting aggregation"
            );
        }
        let inner = self.client.inner.clone();
        let source_id = self.source_id.clone();
        let task = self
            .client
            .execute(spec, move |ctx| {
                let inner = inner.clone();
                let source_id = source_id.clone();
                let file = file.clone();
                async move {
                    // A fresh file stream per attempt.
                    let part = match &file {
                        Some(f) => Some(f.to_part().await.map_err(Failure::Local)?),
                        None => None,
                    };
                    let disable_optimization = Some(disable.to_string());
                    let base = inner.versioned_url(version);
                    let http = inner.http.clone();
                    match version {
                        ApiVersion::V2025 => {
                            let api = v2025::Client::new_with_client(base, http, ctx);
                            let form = v2025::multipart::ImportAccountsForm {
                                file: part,
                                disable_optimization,
                            };
                            decode_success::<_, LoadAccountsTask>(
                                api.import_accounts(&source_id, form).await,
                                StatusCode::ACCEPTED,
                            )
                            .await
                        }
                        ApiVersion::Beta => {
                            let api = beta::Client::new_with_client(base, http, ctx);
                            let form = beta::multipart::ImportAccountsForm {
                                file: part,
                                disable_optimization,
                            };
                            decode_success::<_, LoadAccountsTask>(
                                api.import_accounts(&source_id, form).await,
                                StatusCode::ACCEPTED,
                            )
                            .await
                        }
                    }
                }
            })
            .await
            .map_err(|error| match error {
                Error::UndecodableBody { reason, context } if context.operation == IMPORT_OPERATION => {
                    Error::UndecodableBody {
                        reason: format!(
                            "ISC accepted the aggregation, but its response could not be read ({reason}); \
                             look up the source's recent tasks for its id"
                        ),
                        context,
                    }
                }
                other => other,
            })?;
        let body = task;
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
        tracing::info!(source_id = %self.source_id, task_id = %task_id, "aggregation started");
        Ok(StartedAggregation {
            task_id,
            source_id: self.source_id,
            api_version: version,
            success: body.success,
            task,
        })
    }
}

/// Reads an aggregation's status once. Created by [`Client::aggregation_status`].
///
/// A 404 (unknown id, or status expired about an hour after completion) is
/// [`Error::AggregationExpired`]; a `NOT_FOUND` state is returned as is.
#[derive(Debug, Clone)]
#[must_use = "nothing is sent until `.send()` is awaited"]
pub struct GetAggregationStatus {
    client: Client,
    task_id: String,
    api_version: ApiVersion,
}

impl GetAggregationStatus {
    /// Uses this API version instead of the client's default.
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
    ///     .api_version(ApiVersion::Beta)
    ///     .send()
    ///     .await?;
    /// if status.state == Some(AggregationState::Completed) {
    ///     println!("done");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send(self) -> Result<AggregationStatus, Error> {
        self.client
            .fetch_status(&self.task_id, self.api_version)
            .await
    }
}

/// Rejects ids that are empty, contain whitespace, path separators or URL syntax, or are dot
/// segments, before anything is sent.
fn validate_id(what: &str, id: &str) -> Result<(), Error> {
    let problem = if id.trim().is_empty() {
        Some("it is empty")
    } else if id == "." || id == ".." {
        Some("it is a dot segment")
    } else if id
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '\\' | '?' | '#' | '%'))
    {
        Some("it contains whitespace, '/', '\\', '?', '#' or '%'")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::InvalidInput {
            message: format!("invalid {what} {id:?}: {problem}"),
        }),
        None => Ok(()),
    }
}

/// Turns a generated call's result into the lenient model, or a [`Failure`].
///
/// Success bodies are re-read through this crate's lenient types. If the generated (stricter)
/// decoding failed, the raw body of the documented `success` status is decoded leniently before
/// giving up.
async fn decode_success<G, T>(
    result: Result<ResponseValue<G>, v2025::Error<ByteStream>>,
    success: StatusCode,
) -> Result<(T, StatusCode), Failure>
where
    T: DeserializeOwned + FromGenerated<G>,
{
    use v2025::Error as ApiError;
    match result {
        Ok(value) => {
            let status = value.status();
            if let Ok(converted) = T::from_generated(value.into_inner()) {
                return Ok((converted, status));
            }
            Err(Failure::Undecodable {
                status: Some(status),
                headers: None,
                body: None,
                reason: "the response could not be converted to the SDK's model".to_owned(),
            })
        }
        Err(ApiError::InvalidResponsePayload(bytes, error)) => {
            match serde_json::from_slice::<T>(&bytes) {
                // A documented success status whose body the generated types rejected.
                Ok(value) => Ok((value, success)),
                Err(_) => Err(Failure::Undecodable {
                    status: Some(success),
                    headers: None,
                    body: Some(bytes),
                    reason: format!("success response is not the expected JSON: {error}"),
                }),
            }
        }
        Err(ApiError::ErrorResponse(response)) => {
            let status = response.status();
            let headers = response.headers().clone();
            let body = read_capped(response.into_inner().into_inner()).await;
            Err(Failure::Response {
                status,
                headers,
                body,
            })
        }
        Err(ApiError::UnexpectedResponse(response)) => Err(Failure::from_response(response).await),
        Err(
            ApiError::CommunicationError(e)
            | ApiError::ResponseBodyError(e)
            | ApiError::InvalidUpgrade(e),
        ) => Err(Failure::Transport(e)),
        Err(ApiError::InvalidRequest(message) | ApiError::Custom(message)) => {
            Err(Failure::Local(Error::InvalidInput { message }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_validation() {
        for bad in [
            "", "  ", "a/b", "a b", "..", ".", "a?b", "a#b", "a\nb", "%2F",
        ] {
            assert!(
                matches!(
                    validate_id("source id", bad),
                    Err(Error::InvalidInput { .. })
                ),
                "{bad:?}"
            );
        }
        for good in ["2c9180835d2e5168015d32f890ca1581", "abc-123_x.y"] {
            assert!(validate_id("source id", good).is_ok(), "{good}");
        }
    }
}

//! The [`ClientBuilder`]: how a [`Client`] is configured (credentials, API version, retries,
//! timeouts, rate limit, poll schedule, outcome resolution) and built. Loading settings from the
//! environment and `config.json` is `config_file`'s.

use std::time::Duration;

use reqwest::header::HeaderValue;
use sailpoint_isc_api::ApiVersion;

use crate::auth::Authenticator;
use crate::client::Client;
use crate::config::{
    self, BaseUrl, Credentials, DEFAULT_TOKEN_REFRESH_MARGIN, ENV_CLIENT_ID, ENV_CLIENT_SECRET,
    OutcomeResolution, TimeoutConfig,
};
use crate::error::Error;
use crate::executor::Executor;
use crate::http_client::HttpClient;
use crate::poll::PollSchedule;
use crate::ratelimit::{RateLimit, RateLimiter};
use crate::retry::RetryConfig;
use crate::secret::Secret;

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
}

/// Builds a [`Client`]. Start from [`Client::builder`] or [`ClientBuilder::from_env`].
///
/// ```no_run
/// use std::time::Duration;
/// use sailpoint_isc::{ApiVersion, Client, RetryConfig};
///
/// # fn main() -> Result<(), sailpoint_isc::Error> {
/// let client = Client::builder()
///     .base_url("https://acme.api.identitynow.com")
///     .client_credentials("my-client-id", "my-client-secret")
///     .api_version(ApiVersion::V2025)
///     .retry(RetryConfig::standard().with_max_attempts(5))
///     .token_refresh_margin(Duration::from_secs(90))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    pub(crate) base_url: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) access_token: Option<Secret>,
    /// Where [`ClientBuilder::from_env`] looked, for the message about what is still missing.
    pub(crate) looked_in: Option<String>,
    pub(crate) api_version: ApiVersion,
    pub(crate) retry: RetryConfig,
    pub(crate) poll_schedule: PollSchedule,
    pub(crate) http_client: Option<reqwest::Client>,
    pub(crate) timeouts: TimeoutConfig,
    pub(crate) token_refresh_margin: Duration,
    pub(crate) outcome_resolution: OutcomeResolution,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) rate_limiter: Option<RateLimiter>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: None,
            client_id: None,
            client_secret: None,
            access_token: None,
            looked_in: None,
            api_version: ApiVersion::default(),
            retry: RetryConfig::standard(),
            poll_schedule: PollSchedule::standard(),
            http_client: None,
            timeouts: TimeoutConfig::standard(),
            token_refresh_margin: DEFAULT_TOKEN_REFRESH_MARGIN,
            outcome_resolution: OutcomeResolution::standard(),
            rate_limit: Some(RateLimit::ISC),
            rate_limiter: None,
        }
    }
}

impl ClientBuilder {
    /// A builder with no base URL or credentials and default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// The credentials to build with, or what is missing and where it was looked for.
    pub(crate) fn resolve_credentials(&self) -> Result<Credentials, Error> {
        if let Some(token) = &self.access_token {
            return Ok(Credentials::AccessToken(token.clone()));
        }
        match (&self.client_id, &self.client_secret) {
            (Some(client_id), Some(client_secret)) => Ok(Credentials::ClientCredentials {
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
            }),
            (id, secret) => {
                let missing: Vec<&str> = [
                    (ENV_CLIENT_ID, "ClientId", id.is_none()),
                    (ENV_CLIENT_SECRET, "ClientSecret", secret.is_none()),
                ]
                .into_iter()
                .filter(|(_, _, missing)| *missing)
                .map(|(env, _, _)| env)
                .collect();
                Err(Error::Configuration {
                    message: format!(
                        "no credentials: call .client_credentials(..) or .access_token(..){}",
                        self.where_looked(&missing)
                    ),
                })
            }
        }
    }

    /// ", or set X (looked in ...)" for a message about missing settings.
    pub(crate) fn where_looked(&self, variables: &[&str]) -> String {
        match &self.looked_in {
            Some(looked_in) => format!(
                ", or set {} (looked in {looked_in})",
                variables.join(" and ")
            ),
            None => format!(
                ", or start from ClientBuilder::from_env() ({})",
                variables.join(", ")
            ),
        }
    }

    /// The tenant's API base URL, e.g. `https://acme.api.identitynow.com`, without a version segment.
    /// It must be `https`, except for loopback hosts (`localhost`, `127.0.0.1`, `::1`) used in tests.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Authenticate with OAuth2 client credentials (a personal access token's or API client's id and
    /// secret). Tokens are fetched on first use, cached, and refreshed before they expire.
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Self {
        self.access_token = None;
        self.client_id = Some(client_id.into());
        self.client_secret = Some(client_secret.into());
        self
    }

    /// Sets the OAuth2 client id alone (the secret may come from [`from_env`](Self::from_env)
    /// or [`client_secret`](Self::client_secret)).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.access_token = None;
        self.client_id = Some(client_id.into());
        self
    }

    /// Sets the OAuth2 client secret alone.
    pub fn client_secret(mut self, client_secret: impl Into<Secret>) -> Self {
        self.access_token = None;
        self.client_secret = Some(client_secret.into());
        self
    }

    /// Authenticate with a fixed bearer token obtained elsewhere. It is never refreshed, so a 401
    /// surfaces as [`Error::Unauthorized`].
    pub fn access_token(mut self, token: impl Into<Secret>) -> Self {
        self.access_token = Some(token.into());
        self.client_id = None;
        self.client_secret = None;
        self
    }

    /// The API version used by calls that do not choose one themselves (default: the version `openapi/apis.yaml` marks default, [`ApiVersion::V1`]).
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = version;
        self
    }

    /// How failed requests are retried (default [`RetryConfig::standard`]).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// The default poll schedule and maximum wait of
    /// [`Client::wait_for_aggregation`] (default [`PollSchedule::standard`]).
    pub fn poll_schedule(mut self, schedule: PollSchedule) -> Self {
        self.poll_schedule = schedule;
        self
    }

    /// Timeouts of each attempt, for the HTTP client the SDK builds (default
    /// [`TimeoutConfig::standard`]). Ignored with [`http_client`](Self::http_client).
    pub fn timeouts(mut self, timeouts: TimeoutConfig) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Use your own `reqwest::Client` (timeouts, proxy, TLS roots). The SDK still sends its own
    /// `User-Agent` and `Authorization` headers on every request.
    ///
    /// Without one, the SDK builds a client with the [`timeouts`](Self::timeouts) and a redirect
    /// policy that never follows a redirect to another origin (scheme, host or port). If you supply
    /// your own, keep cross-origin redirects off too: `reqwest` drops the `Authorization` header
    /// on them, but would resend the token request's form, client secret included, on a 307/308.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// The client-side rate limit (default [`RateLimit::ISC`], 100 requests per 10 s per API
    /// version). Clients for the same tenant and client id share one limiter, and every clone of
    /// a client shares its own; token requests are not counted. A stricter server still wins: 429
    /// answers are handled as before.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// No client-side rate limit: requests go as fast as they are made, and ISC's 429 answers
    /// (with `Retry-After`) are the only brake.
    pub fn no_rate_limit(mut self) -> Self {
        self.rate_limit = None;
        self.rate_limiter = None;
        self
    }

    /// Uses this limiter (shared with whatever else holds it) instead of the default one.
    pub fn rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.rate_limiter = Some(limiter);
        self
    }

    /// What an ambiguous aggregation start does: look the aggregation up in task status for a
    /// grace period (the default, [`OutcomeResolution::standard`]), or not.
    pub fn outcome_resolution(mut self, resolution: OutcomeResolution) -> Self {
        self.outcome_resolution = resolution;
        self
    }

    /// How long before its expiry a cached token is refreshed (default 60 s). The margin used is at
    /// most half the token's lifetime, so short-lived tokens are still reused.
    pub fn token_refresh_margin(mut self, margin: Duration) -> Self {
        self.token_refresh_margin = margin;
        self
    }

    /// Validates the configuration and builds the client. No request is made here.
    ///
    /// Fails with [`Error::Configuration`] when the base URL or credentials are missing or invalid.
    pub fn build(self) -> Result<Client, Error> {
        let raw_url = self
            .base_url
            .as_deref()
            .ok_or_else(|| Error::Configuration {
                message: format!(
                    "no base URL: call .base_url(..){}",
                    self.where_looked(&[config::ENV_BASE_URL])
                ),
            })?;
        let base_url = BaseUrl::parse(raw_url)?;
        let credentials = self.resolve_credentials()?;
        // ISC counts requests per client id; clients of a fixed token share per tenant.
        let limiter_key = match &credentials {
            Credentials::ClientCredentials { client_id, .. } => {
                format!("{}|client:{client_id}", base_url.as_str())
            }
            Credentials::AccessToken(_) => format!("{}|access-token", base_url.as_str()),
        };
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
        let http = match self.http_client {
            Some(client) => HttpClient::custom(client),
            None => HttpClient::build(&self.timeouts)?,
        };
        let auth = Authenticator::new(
            credentials,
            base_url.token_url(),
            http.clone(),
            user_agent.clone(),
            self.retry.clone(),
            self.timeouts.total,
            self.token_refresh_margin,
        );
        let limiter = match (self.rate_limiter, self.rate_limit) {
            (Some(limiter), _) => Some(limiter),
            (None, Some(limit)) => Some(RateLimiter::shared(&limiter_key, limit)),
            (None, None) => None,
        };
        let executor = Executor::new(
            base_url,
            http,
            auth,
            self.retry,
            user_agent,
            limiter,
            self.timeouts.clone(),
        );
        Ok(Client::assemble(
            executor,
            self.api_version,
            self.poll_schedule,
            self.outcome_resolution,
        ))
    }
}

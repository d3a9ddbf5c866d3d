//! Client configuration: API version, base URL, credentials, and the [`ClientBuilder`].

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use crate::client::Client;
use crate::error::Error;
use crate::ratelimit::{RateLimit, RateLimiter};
use crate::retry::RetryConfig;
use crate::secret::Secret;
use crate::wait::PollSchedule;

/// Environment variable holding the tenant's API base URL (`https://{tenant}.api.identitynow.com`).
pub const ENV_BASE_URL: &str = "SAIL_BASE_URL";
/// Environment variable holding the OAuth2 client id (of a personal access token or API client).
pub const ENV_CLIENT_ID: &str = "SAIL_CLIENT_ID";
/// Environment variable holding the OAuth2 client secret.
pub const ENV_CLIENT_SECRET: &str = "SAIL_CLIENT_SECRET";
/// The configuration file [`ClientBuilder::from_env`] falls back to, relative to the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "config.json";
/// The `User-Agent` sent on every request.
pub const USER_AGENT: &str = concat!("sailpoint-isc-rust/", env!("CARGO_PKG_VERSION"));

/// Default margin before a token's expiry at which it is refreshed.
pub const DEFAULT_TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Timeouts (plain data). They measure progress, not size: an upload is never cut while its
/// body moves, however long it takes.
///
/// | limit | bounds | default |
/// |---|---|---|
/// | `connect` | establishing a connection (TCP and TLS) | 10 s |
/// | `read` | one attempt of a request without a file (status, task status, sources, tokens, a direct-connect start) | 120 s |
/// | `stall` | an upload's body not moving: no byte taken by the connection for this long | 60 s |
/// | `response` | after an upload's last byte, the wait for ISC's answer | 120 s |
/// | `settle` | after a cancellation, an upload that has sent its last byte waits this long for ISC's answer (not sent whole, it is cut at once) | 10 s |
/// | `total` | the whole operation's waiting (`Retry-After`, backoff, the rate limiter, a token fetch) and its requests without a file; not a body that is moving | 3 min |
///
/// `connect` and `read` apply to the HTTP client the SDK builds (your own client from
/// [`ClientBuilder::http_client`] keeps its settings); `stall`, `response` and `total` apply
/// whatever the client. A 200 MB upload over a 1 MB/s link takes about 200 s and completes with
/// the defaults: only a stall of 60 s would cut it, and a cut before the last byte is resent
/// (ISC cannot have started anything from an incomplete body).
///
/// Any duration up to [`Duration::MAX`] is accepted and means "practically forever".
///
/// ```
/// use std::time::Duration;
/// use sailpoint_isc::config::TimeoutConfig;
///
/// let timeouts = TimeoutConfig::standard()
///     .with_stall_timeout(Duration::from_secs(120))
///     .with_total_deadline(Some(Duration::from_secs(600)));
/// assert_eq!(timeouts.connect, Duration::from_secs(10));
/// assert_eq!(timeouts.response, Duration::from_secs(120));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimeoutConfig {
    /// Longest time to establish a connection (TCP and TLS).
    pub connect: Duration,
    /// The longest time one attempt of a request without a file may take (reads, tokens, a
    /// direct-connect start).
    pub read: Duration,
    /// Uploads: the longest time without a byte of the body taken by the connection. A stalled
    /// attempt is cut; having not sent its last byte, it provably started nothing and is resent
    /// within the retry budget.
    pub stall: Duration,
    /// Uploads: after the body's last byte, the longest wait for ISC's answer. Cut then, the start
    /// is ambiguous and is looked up in task status ([`OutcomeResolution`]).
    pub response: Duration,
    /// After a cancellation (a stop signal), how long an upload that has already sent its last
    /// byte waits for ISC's answer before it is reported as outcome unknown. An upload still
    /// sending is cut at once: it provably started nothing.
    pub settle: Duration,
    /// The longest a whole operation may spend waiting (`Retry-After`, backoff, the rate limiter,
    /// a token fetch) and on requests without a file, retries included (`None`: no limit). Time
    /// spent moving an upload's body (and waiting for its answer) does not count: `stall` and
    /// `response` bound that. A deadline that passes before a request is sent is
    /// [`Error::DeadlineExceeded`]; only a request in flight can
    /// make a start's outcome unknown.
    pub total: Option<Duration>,
}

impl TimeoutConfig {
    /// 10 s to connect, 120 s per read attempt, uploads cut after a 60 s stall or 120 s without
    /// an answer after their last byte, 3 minutes of waiting per operation.
    pub fn standard() -> Self {
        TimeoutConfig {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(120),
            stall: Duration::from_secs(60),
            response: Duration::from_secs(120),
            settle: Duration::from_secs(10),
            total: Some(Duration::from_secs(180)),
        }
    }

    /// Sets (or removes, with `None`) the total deadline of one operation.
    pub fn with_total_deadline(mut self, total: Option<Duration>) -> Self {
        self.total = total;
        self
    }

    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect = timeout;
        self
    }

    /// Sets the read timeout (one attempt of a request without a file).
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read = timeout;
        self
    }

    /// Sets the stall timeout of uploads.
    pub fn with_stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall = timeout;
        self
    }

    /// Sets how long a cancelled upload that has sent its last byte waits for ISC's answer.
    pub fn with_settle_timeout(mut self, timeout: Duration) -> Self {
        self.settle = timeout;
        self
    }

    /// Sets how long to wait for ISC's answer after an upload's last byte.
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response = timeout;
        self
    }
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self::standard()
    }
}

/// Which ISC API version a call goes to: `v1` (the default), `beta`, `v2025`, `v2026`, ...
///
/// The versions, their paths and which operations are experimental are generated from
/// `openapi/apis.yaml` and the vendored specs; see [`ApiVersion::all`].
///
/// ```
/// use sailpoint_isc::ApiVersion;
///
/// assert_eq!(ApiVersion::default(), ApiVersion::V1);
/// assert_eq!("v2026".parse::<ApiVersion>().unwrap(), ApiVersion::V2026);
/// assert_eq!(ApiVersion::BETA.to_string(), "beta");
/// assert_eq!(ApiVersion::V2025.base_path(), "/v2025");
/// assert_eq!(ApiVersion::V1.base_path(), "");
/// ```
pub use sailpoint_isc_api::ApiVersion;

/// What the client does after an ambiguous aggregation start (a 5xx after the upload was sent,
/// a dropped connection, the total deadline passing with the request in flight): it looks the
/// aggregation up in task status instead of giving up or resending (plain data).
///
/// Before the start, the client notes the source's newest account-aggregation task (one
/// task-status request, `snapshot`). After an ambiguous start it lists the source's
/// account-aggregation tasks every `poll_interval` for up to `grace_period` (ISC may list a new
/// task a few seconds late), keeping those newer than the noted one and created since the attempt
/// began (less `clock_skew`, for a tenant clock behind ours). Exactly one such task: the start is
/// treated as answered. None, several, or a failed lookup: [`Error::OutcomeUnknown`] with what
/// the lookup saw. The start is never resent.
///
/// Limit: an aggregation someone else starts on the same source between the snapshot and our
/// start, when ours did not start, would be taken for ours (two such tasks are reported as
/// ambiguous, never guessed between). Without the snapshot (`snapshot: false`, or no read
/// permission on task status), an aggregation that started within `clock_skew` before ours could
/// be taken for ours too.
///
/// ```
/// use std::time::Duration;
/// use sailpoint_isc::OutcomeResolution;
///
/// let quick = OutcomeResolution::standard().with_grace_period(Duration::from_secs(10));
/// assert_eq!(quick.poll_interval, Duration::from_secs(2));
/// assert_eq!(OutcomeResolution::disabled().grace_period, Duration::ZERO);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutcomeResolution {
    /// How long to keep looking (zero: do not look). Default 30 s.
    pub grace_period: Duration,
    /// Time between task-status list requests. Default 2 s.
    pub poll_interval: Duration,
    /// How much earlier than the attempt a task's `created` may be. Default 10 s.
    pub clock_skew: Duration,
    /// Whether to note the source's newest aggregation task before starting (one extra
    /// task-status request per start), so an earlier aggregation is never taken for ours.
    /// Default true.
    pub snapshot: bool,
}

impl OutcomeResolution {
    /// 30 s grace period, polled every 2 s, 10 s clock-skew allowance, snapshot on.
    pub fn standard() -> Self {
        OutcomeResolution {
            grace_period: Duration::from_secs(30),
            poll_interval: Duration::from_secs(2),
            clock_skew: Duration::from_secs(10),
            snapshot: true,
        }
    }

    /// No lookup: an ambiguous start is [`Error::OutcomeUnknown`] at once.
    pub fn disabled() -> Self {
        OutcomeResolution {
            grace_period: Duration::ZERO,
            ..Self::standard()
        }
    }

    /// Sets the grace period.
    pub fn with_grace_period(mut self, grace: Duration) -> Self {
        self.grace_period = grace;
        self
    }

    /// Sets the time between polls.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Whether to note the source's newest aggregation task before starting.
    pub fn with_snapshot(mut self, snapshot: bool) -> Self {
        self.snapshot = snapshot;
        self
    }

    /// Sets the clock-skew allowance.
    pub fn with_clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }
}

impl Default for OutcomeResolution {
    fn default() -> Self {
        Self::standard()
    }
}

/// How the client authenticates.
#[derive(Debug, Clone)]
pub(crate) enum Credentials {
    /// OAuth2 client credentials, exchanged at `{base}/oauth/token` and refreshed before expiry.
    ClientCredentials {
        client_id: String,
        client_secret: Secret,
    },
    /// A fixed bearer token, used as is (never refreshed).
    AccessToken(Secret),
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

    /// A builder configured like SailPoint's official SDKs, one setting at a time: each of the
    /// base URL, client id and client secret comes from its `SAIL_BASE_URL` / `SAIL_CLIENT_ID` /
    /// `SAIL_CLIENT_SECRET` variable when set, otherwise from `./config.json`
    /// (`{"BaseURL": .., "ClientId": .., "ClientSecret": ..}`), otherwise stays unset. Anything can
    /// then be overridden before [`build`](Self::build), which names what is still missing and
    /// where it was looked for.
    ///
    /// Fails only when `./config.json` exists but cannot be read or is not a JSON object of
    /// strings (without quoting its values).
    ///
    /// ```no_run
    /// use sailpoint_isc::{ApiVersion, ClientBuilder};
    ///
    /// # fn main() -> Result<(), sailpoint_isc::Error> {
    /// // Credentials from the environment, the tenant URL from the command line.
    /// let client = ClientBuilder::from_env()?
    ///     .base_url("https://acme.api.identitynow.com")
    ///     .api_version(ApiVersion::BETA)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Result<Self, Error> {
        Self::new().with_sources(
            |name| std::env::var(name).ok(),
            Some(Path::new(DEFAULT_CONFIG_FILE)),
        )
    }

    /// A builder configured from a `config.json`-style file (`BaseURL`, `ClientId`,
    /// `ClientSecret`) alone; the file must exist.
    ///
    /// ```no_run
    /// use sailpoint_isc::ClientBuilder;
    ///
    /// # fn main() -> Result<(), sailpoint_isc::Error> {
    /// let client = ClientBuilder::from_config_file("/etc/isc/config.json")?.build()?;
    /// # Ok(()) }
    /// ```
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        if read_config_file(path)?.is_none() {
            return Err(Error::Configuration {
                message: format!("configuration file {} does not exist", path.display()),
            });
        }
        Self::new().with_sources(|_| None, Some(path))
    }

    /// Fills unset settings from `env` (by variable name), then from the file at `config_path`.
    pub(crate) fn with_sources(
        mut self,
        env: impl Fn(&str) -> Option<String>,
        config_path: Option<&Path>,
    ) -> Result<Self, Error> {
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let file = match config_path {
            Some(path) => read_config_file(path)?,
            None => None,
        };
        let file = file.unwrap_or_default();
        let from = |env_value: Option<String>, file_value: Option<String>, what: &str| match (
            env_value, file_value,
        ) {
            (Some(v), _) => {
                tracing::debug!(setting = what, source = "environment", "configuration");
                Some(v)
            }
            (None, Some(v)) => {
                tracing::debug!(
                    setting = what,
                    source = "configuration file",
                    "configuration"
                );
                Some(v)
            }
            (None, None) => None,
        };
        if self.base_url.is_none() {
            self.base_url = from(get(ENV_BASE_URL), file.base_url, "base URL");
        }
        if self.access_token.is_none() {
            if self.client_id.is_none() {
                self.client_id = from(get(ENV_CLIENT_ID), file.client_id, "client id");
            }
            if self.client_secret.is_none() {
                self.client_secret = from(
                    get(ENV_CLIENT_SECRET),
                    file.client_secret.map(|s| s.expose().to_owned()),
                    "client secret",
                )
                .map(Secret::new);
            }
        }
        self.looked_in = Some(match config_path {
            Some(path) => format!("the SAIL_* variables and {}", path.display()),
            None => "the SAIL_* variables".to_owned(),
        });
        Ok(self)
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
        Client::from_builder(self)
    }
}

/// The keys of the official SDKs' `config.json`.
#[derive(Default)]
struct ConfigFile {
    base_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Secret>,
}

/// Reads `config.json`; `Ok(None)` when it does not exist. Values are never echoed in errors.
fn read_config_file(path: &Path) -> Result<Option<ConfigFile>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Configuration {
                message: format!("cannot read configuration file {}: {e}", path.display()),
            });
        }
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::Configuration {
            message: format!(
                "configuration file {} is not valid JSON (line {}, column {})",
                path.display(),
                e.line(),
                e.column()
            ),
        })?;
    let Some(object) = value.as_object() else {
        return Err(Error::Configuration {
            message: format!(
                "configuration file {} must hold a JSON object",
                path.display()
            ),
        });
    };
    let text_of = |key: &str| -> Result<Option<String>, Error> {
        match object.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => {
                let s = s.trim();
                Ok((!s.is_empty()).then(|| s.to_owned()))
            }
            Some(_) => Err(Error::Configuration {
                message: format!(
                    "configuration file {}: {key} must be a string",
                    path.display()
                ),
            }),
        }
    };
    Ok(Some(ConfigFile {
        base_url: text_of("BaseURL")?,
        client_id: text_of("ClientId")?,
        client_secret: text_of("ClientSecret")?.map(Secret::new),
    }))
}

/// `raw` with anything between `://` and the next `@` (user name, password) replaced, so a URL
/// with embedded credentials can be quoted in an error.
fn without_userinfo(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://") else {
        return raw.to_owned();
    };
    let rest = &raw[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}://[REDACTED]@{}", &raw[..scheme_end], &rest[at + 1..]),
        None => raw.to_owned(),
    }
}

/// A validated tenant base URL, kept without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseUrl(String);

impl BaseUrl {
    /// Checks the scheme (https, or http on loopback), rejects credentials, query, fragment and a
    /// trailing API version segment.
    pub(crate) fn parse(raw: &str) -> Result<Self, Error> {
        let shown = without_userinfo(raw);
        let invalid = |why: &str| Error::Configuration {
            message: format!("invalid base URL {shown:?}: {why}"),
        };
        let url = reqwest::Url::parse(raw.trim()).map_err(|e| invalid(&e.to_string()))?;
        let host = url.host_str().ok_or_else(|| invalid("it has no host"))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http" => {
                return Err(invalid(
                    "plain http is only allowed for loopback hosts (localhost, 127.0.0.1, ::1); use https",
                ));
            }
            other => return Err(invalid(&format!("unsupported scheme {other:?}; use https"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("it must not contain user credentials"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("it must not have a query or fragment"));
        }
        let path = url.path().trim_end_matches('/').to_ascii_lowercase();
        let versioned = ApiVersion::all()
            .map(ApiVersion::base_path)
            .find(|segment| !segment.is_empty() && path.ends_with(&segment.to_ascii_lowercase()));
        if let Some(segment) = versioned {
            return Err(invalid(&format!(
                "leave out the API version segment \"{segment}\"; it is added per call (see ApiVersion)"
            )));
        }
        let mut base = url.as_str().trim_end_matches('/').to_owned();
        if base.ends_with(':') {
            base.push('/');
        }
        Ok(BaseUrl(base))
    }

    /// The base URL without a trailing slash.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// `{base}/oauth/token`.
    pub(crate) fn token_url(&self) -> String {
        format!("{}/oauth/token", self.0)
    }
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::PathBuf;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn temp_file(name: &str, contents: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sailpoint-isc-config-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn base_url_errors_never_quote_embedded_credentials() {
        for raw in [
            "https://user:hunter2-pw@acme.api.identitynow.com",
            "http://user:hunter2-pw@example.com/x",
            "ftp://user:hunter2-pw@example.com",
            "https://user:hunter2-pw@",
        ] {
            let err = BaseUrl::parse(raw).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(!text.contains("hunter2-pw"), "{text}");
            assert!(text.contains("[REDACTED]"), "{text}");
        }
        assert_eq!(without_userinfo("https://a.b/c@d"), "https://a.b/c@d");
        assert_eq!(without_userinfo("no scheme"), "no scheme");
    }

    #[test]
    fn base_url_accepts_https_and_loopback_http() {
        assert_eq!(
            BaseUrl::parse("https://acme.api.identitynow.com/")
                .unwrap()
                .as_str(),
            "https://acme.api.identitynow.com"
        );
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9000",
            "http://127.1.2.3",
        ] {
            assert!(BaseUrl::parse(ok).is_ok(), "{ok}");
        }
        let b = BaseUrl::parse("https://acme.api.identitynow.com").unwrap();
        assert_eq!(
            b.token_url(),
            "https://acme.api.identitynow.com/oauth/token"
        );
    }

    #[test]
    fn base_url_rejects_bad_input() {
        for bad in [
            "http://acme.api.identitynow.com",
            "http://10.0.0.1",
            "ftp://acme",
            "not a url",
            "https://user:pw@acme.api.identitynow.com",
            "https://acme.api.identitynow.com/v2025",
            "https://acme.api.identitynow.com/beta/",
            "https://acme.api.identitynow.com?x=1",
        ] {
            let err = BaseUrl::parse(bad).unwrap_err();
            assert!(matches!(err, Error::Configuration { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn env_wins_when_complete() {
        let env = env_of(&[
            (ENV_BASE_URL, "https://a.api.identitynow.com"),
            (ENV_CLIENT_ID, "id"),
            (ENV_CLIENT_SECRET, "sec"),
        ]);
        let b = ClientBuilder::new()
            .with_sources(env, Some(Path::new("/nonexistent/config.json")))
            .unwrap();
        assert_eq!(b.base_url.as_deref(), Some("https://a.api.identitynow.com"));
        assert!(matches!(
            b.resolve_credentials().unwrap(),
            Credentials::ClientCredentials { ref client_id, .. } if client_id == "id"
        ));
    }

    /// Each setting from its variable, else the file; code overrides both.
    #[test]
    fn settings_merge_one_by_one_and_code_overrides() {
        let path = temp_file(
            "config.json",
            r#"{"BaseURL":"https://file.api.identitynow.com","ClientId":"file-id","ClientSecret":"file-secret"}"#,
        );
        let b = ClientBuilder::new()
            .base_url("https://code.api.identitynow.com")
            .with_sources(env_of(&[(ENV_CLIENT_ID, "env-id")]), Some(&path))
            .unwrap();
        assert_eq!(
            b.base_url.as_deref(),
            Some("https://code.api.identitynow.com")
        );
        assert_eq!(b.client_id.as_deref(), Some("env-id"));
        assert_eq!(
            b.client_secret.as_ref().map(|s| s.expose()),
            Some("file-secret")
        );
        let b = b.client_secret("code-secret");
        assert_eq!(
            b.client_secret.as_ref().map(|s| s.expose()),
            Some("code-secret")
        );
        // A fixed token set in code wins over client credentials from anywhere.
        let b = ClientBuilder::new()
            .access_token("tok")
            .with_sources(env_of(&[(ENV_CLIENT_ID, "env-id")]), Some(&path))
            .unwrap();
        assert!(matches!(
            b.resolve_credentials().unwrap(),
            Credentials::AccessToken(_)
        ));
    }

    #[test]
    fn falls_back_to_config_json() {
        let path = temp_file(
            "config.json",
            r#"{"BaseURL":"https://b.api.identitynow.com","ClientId":"cid","ClientSecret":"csecret","NermBaseUrl":"x"}"#,
        );
        let b = ClientBuilder::new()
            .with_sources(env_of(&[(ENV_CLIENT_ID, "partial")]), Some(&path))
            .unwrap();
        assert_eq!(b.base_url.as_deref(), Some("https://b.api.identitynow.com"));
        assert_eq!(b.client_id.as_deref(), Some("partial"));
        let debug = format!("{b:?}");
        assert!(!debug.contains("csecret"), "{debug}");
    }

    #[test]
    fn missing_everything_names_the_variables() {
        let err = ClientBuilder::new()
            .with_sources(env_of(&[]), Some(Path::new("/nonexistent/config.json")))
            .unwrap()
            .build()
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("SAIL_BASE_URL"), "{msg}");
        assert!(msg.contains("/nonexistent/config.json"), "{msg}");
        let err = ClientBuilder::new()
            .base_url("https://a.api.identitynow.com")
            .with_sources(env_of(&[(ENV_CLIENT_ID, "id")]), None)
            .unwrap()
            .build()
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("SAIL_CLIENT_SECRET") && !msg.contains("SAIL_CLIENT_ID"),
            "{msg}"
        );
    }

    #[test]
    fn incomplete_or_invalid_config_file_is_an_error_without_values() {
        let path = temp_file(
            "config.json",
            r#"{"BaseURL":"https://b.api.identitynow.com","ClientSecret":"csecret"}"#,
        );
        let msg = ClientBuilder::from_config_file(&path)
            .unwrap()
            .build()
            .unwrap_err()
            .to_string();
        assert!(msg.contains("SAIL_CLIENT_ID"), "{msg}");
        assert!(!msg.contains("csecret"), "{msg}");

        let path = temp_file("config.json", r#"{"ClientSecret": "csecret", oops"#);
        let msg = ClientBuilder::from_config_file(&path)
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("csecret"), "{msg}");
    }

    #[test]
    fn api_version_parses() {
        assert_eq!("/v2025/".parse::<ApiVersion>().unwrap(), ApiVersion::V2025);
        assert_eq!("BETA".parse::<ApiVersion>().unwrap(), ApiVersion::BETA);
        assert!("v3".parse::<ApiVersion>().is_err());
    }
}

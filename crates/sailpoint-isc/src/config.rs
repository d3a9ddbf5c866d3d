//! Client configuration as plain data: the API version, base URL rules, credentials, timeouts
//! and outcome-resolution settings. The builder that assembles them is `builder`'s.

use std::net::IpAddr;
use std::time::Duration;

use crate::error::Error;
use crate::secret::Secret;

/// Environment variable holding the tenant's API base URL (`https://{tenant}.api.identitynow.com`).
pub const ENV_BASE_URL: &str = "SAIL_BASE_URL";
/// Environment variable holding the OAuth2 client id (of a personal access token or API client).
pub const ENV_CLIENT_ID: &str = "SAIL_CLIENT_ID";
/// Environment variable holding the OAuth2 client secret.
pub const ENV_CLIENT_SECRET: &str = "SAIL_CLIENT_SECRET";
/// The configuration file [`ClientBuilder::from_env`](crate::ClientBuilder::from_env) falls back to, relative to the working directory.
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
/// [`ClientBuilder::http_client`](crate::ClientBuilder::http_client) keeps its settings); `stall`, `response` and `total` apply
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
pub(crate) struct BaseUrl {
    /// The URL as text, without a trailing slash.
    text: String,
    /// The same URL, parsed.
    url: reqwest::Url,
}

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
        Ok(BaseUrl { text: base, url })
    }

    /// The base URL without a trailing slash.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// `{base}/oauth/token`.
    pub(crate) fn token_url(&self) -> String {
        format!("{}/oauth/token", self.text)
    }

    /// The URL of `version_path` then `path` (both percent-encoded, each empty or starting
    /// with `/`) under the base URL's own path: the base is parsed once, only the path per
    /// request (a whole URL's parse, host and all, costs twice as much).
    pub(crate) fn join(&self, version_path: &str, path: &str) -> reqwest::Url {
        let prefix = self.url.path().trim_end_matches('/');
        let mut full = String::with_capacity(prefix.len() + version_path.len() + path.len());
        full.push_str(prefix);
        full.push_str(version_path);
        full.push_str(path);
        let mut url = self.url.clone();
        url.set_path(&full);
        url
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
    fn api_version_parses() {
        assert_eq!("/v2025/".parse::<ApiVersion>().unwrap(), ApiVersion::V2025);
        assert_eq!("BETA".parse::<ApiVersion>().unwrap(), ApiVersion::BETA);
        assert!("v3".parse::<ApiVersion>().is_err());
    }

    /// Joining a path to the parsed base gives the URL that parsing the whole text would give,
    /// with the base's own path (a gateway prefix) kept and escapes left as they are.
    #[test]
    fn join_equals_parsing_the_whole_url() {
        for base in [
            "https://acme.api.identitynow.com",
            "https://acme.api.identitynow.com/",
            "https://gateway.example.com/isc/",
            "https://gateway.example.com:8443/a/b",
            "http://127.0.0.1:9000",
            "http://[::1]:9000/prefix",
        ] {
            let parsed = BaseUrl::parse(base).unwrap();
            for (version, path) in [
                (
                    "/v2025",
                    "/account-aggregations/2c9180835d2e5168015d32f890ca1581/status",
                ),
                ("", "/sources/v1/abc-123_x.y/load-accounts"),
                ("/beta", "/task-status/a%20b%2Fc"),
                ("/v2026", "/sources"),
            ] {
                let whole = format!("{}{version}{path}", parsed.as_str());
                assert_eq!(
                    parsed.join(version, path),
                    reqwest::Url::parse(&whole).unwrap(),
                    "{base} + {version}{path}"
                );
            }
        }
    }
}

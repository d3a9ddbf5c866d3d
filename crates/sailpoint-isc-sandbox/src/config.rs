//! Sandbox settings and the small public value types they use.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// An OAuth client (a personal access token's id and secret) the sandbox accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// The `client_id` sent to `POST /oauth/token`.
    pub client_id: String,
    /// The matching `client_secret`.
    pub client_secret: String,
}

impl ClientCredentials {
    /// Credentials with the given id and secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    /// Fresh random credentials.
    pub fn random() -> Self {
        Self::new(crate::ids::hex32(), crate::ids::token())
    }
}

/// A fixed-window rate limit: at most `max_requests` per `window`, counted per client id and API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed in one window.
    pub max_requests: u32,
    /// The window length.
    pub window: Duration,
}

impl Default for RateLimit {
    /// ISC's documented default: 100 requests per 10 seconds.
    fn default() -> Self {
        Self {
            max_requests: 100,
            window: Duration::from_secs(10),
        }
    }
}

/// The API version segment of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    /// `/beta/...`
    Beta,
    /// `/v2025/...`
    V2025,
}

impl ApiVersion {
    /// The path segment, `"beta"` or `"v2025"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::Beta => "beta",
            ApiVersion::V2025 => "v2025",
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operations the sandbox serves, used for request counting and fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `POST /oauth/token`.
    Token,
    /// `POST /{beta,v2025}/sources/{id}/load-accounts` (`importAccounts`).
    ImportAccounts,
    /// `GET /{beta,v2025}/account-aggregations/{id}/status` (`getAccountAggregationStatus`).
    GetStatus,
}

impl Operation {
    /// A snake_case name for logs: `token`, `import_accounts`, `get_status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Token => "token",
            Operation::ImportAccounts => "import_accounts",
            Operation::GetStatus => "get_status",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the builder configures; fixed once the sandbox starts.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub addr: SocketAddr,
    pub clients: Vec<ClientCredentials>,
    pub token_ttl: Duration,
    pub rate_limit: Option<RateLimit>,
    pub collect_duration: Duration,
    pub process_duration: Duration,
    pub retention: Duration,
    pub direct_connect_accounts: u32,
    pub require_experimental_header: bool,
    pub tenant: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            clients: Vec::new(),
            token_ttl: Duration::from_secs(749),
            rate_limit: Some(RateLimit::default()),
            collect_duration: Duration::from_secs(2),
            process_duration: Duration::from_secs(3),
            retention: Duration::from_secs(3600),
            direct_connect_accounts: 10,
            require_experimental_header: true,
            tenant: "sandbox".to_owned(),
        }
    }
}

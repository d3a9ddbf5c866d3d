//! Sandbox settings and the small public value types they use.

use std::collections::HashSet;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use sailpoint_isc_api::{ApiVersion, Operation as OperationSpec};

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

/// A sliding-window rate limit: no span of `window` holds more than `max_requests` served
/// requests, counted per client id and API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed in any one window.
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

/// The operations the sandbox serves, used for request counting and fault injection.
///
/// Each API operation is served under every API version whose generated table
/// ([`ApiVersion::all`]) lists it, by its cross-version name ([`Operation::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `POST /oauth/token`.
    Token,
    /// `importAccounts` (`POST .../sources/{id}/load-accounts`).
    ImportAccounts,
    /// `getAccountAggregationStatus` (`GET .../account-aggregations/{id}/status`).
    GetStatus,
    /// `getTaskStatus` (`GET .../task-status/{id}`).
    GetTaskStatus,
    /// `getTaskStatusList` (`GET .../task-status`).
    GetTaskStatusList,
    /// `listSources` (`GET .../sources`).
    ListSources,
    /// `importEntitlements` (`POST .../sources/{sourceId}/load-entitlements`).
    ImportEntitlements,
    /// `getAccountsSchema` (`GET .../sources/{id}/schemas/accounts`, beta's
    /// `getSourceAccountsSchema`).
    GetAccountsSchema,
    /// `getEntitlementsSchema` (`GET .../sources/{id}/schemas/entitlements`, beta's
    /// `getSourceEntitlementsSchema`).
    GetEntitlementsSchema,
    /// `getSourceSchemas` (`GET .../sources/{sourceId}/schemas`).
    GetSourceSchemas,
}

impl Operation {
    /// Every operation the sandbox has a handler for, the token endpoint first.
    pub const ALL: &'static [Operation] = &[
        Operation::Token,
        Operation::ImportAccounts,
        Operation::GetStatus,
        Operation::GetTaskStatus,
        Operation::GetTaskStatusList,
        Operation::ListSources,
        Operation::ImportEntitlements,
        Operation::GetAccountsSchema,
        Operation::GetEntitlementsSchema,
        Operation::GetSourceSchemas,
    ];

    /// A snake_case name for logs: `token`, `import_accounts`, `get_status`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Token => "token",
            Operation::ImportAccounts => "import_accounts",
            Operation::GetStatus => "get_status",
            Operation::GetTaskStatus => "get_task_status",
            Operation::GetTaskStatusList => "get_task_status_list",
            Operation::ListSources => "list_sources",
            Operation::ImportEntitlements => "import_entitlements",
            Operation::GetAccountsSchema => "get_accounts_schema",
            Operation::GetEntitlementsSchema => "get_entitlements_schema",
            Operation::GetSourceSchemas => "get_source_schemas",
        }
    }

    /// The cross-version operation name of the generated table (`"importAccounts"`), or `None`
    /// for the token endpoint, which no API version lists.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Operation::Token => None,
            Operation::ImportAccounts => Some("importAccounts"),
            Operation::GetStatus => Some("getAccountAggregationStatus"),
            Operation::GetTaskStatus => Some("getTaskStatus"),
            Operation::GetTaskStatusList => Some("getTaskStatusList"),
            Operation::ListSources => Some("listSources"),
            Operation::ImportEntitlements => Some("importEntitlements"),
            Operation::GetAccountsSchema => Some("getAccountsSchema"),
            Operation::GetEntitlementsSchema => Some("getEntitlementsSchema"),
            Operation::GetSourceSchemas => Some("getSourceSchemas"),
        }
    }

    /// The operation whose handler serves the table's operation called `name`, if the sandbox
    /// has one.
    pub fn from_name(name: &str) -> Option<Operation> {
        Self::ALL.iter().copied().find(|o| o.name() == Some(name))
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the builder configures; fixed once the sandbox starts (the task visibility
/// delays can also be changed at run time, see [`crate::faults`], and so can the link).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub addr: SocketAddr,
    pub clients: Vec<ClientCredentials>,
    pub token_ttl: Duration,
    pub rate_limit: Option<RateLimit>,
    pub collect_duration: Duration,
    pub process_duration: Duration,
    pub retention: Duration,
    pub task_retention: Duration,
    pub direct_connect_accounts: u32,
    pub tenant: String,
    /// Operations served in addition to (or instead of, same version and name) the table's.
    pub extra_operations: Vec<(ApiVersion, OperationSpec)>,
    /// `(version name, operation name)` pairs answered with `X-Deprecated: true`.
    pub deprecated: HashSet<(String, String)>,
    pub task_list_delay: Duration,
    pub task_lookup_delay: Duration,
    /// The link every connection starts with (changeable at run time).
    pub link: crate::link::Link,
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
            task_retention: Duration::from_secs(90 * 24 * 3600),
            direct_connect_accounts: 10,
            tenant: "sandbox".to_owned(),
            extra_operations: Vec::new(),
            deprecated: HashSet::new(),
            task_list_delay: Duration::ZERO,
            task_lookup_delay: Duration::ZERO,
            link: crate::link::Link::unlimited(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_round_trip() {
        for op in Operation::ALL {
            match op.name() {
                Some(name) => assert_eq!(Operation::from_name(name), Some(*op)),
                None => assert_eq!(*op, Operation::Token),
            }
        }
        assert_eq!(Operation::from_name("createSource"), None);
        assert_eq!(
            Operation::from_name("getTaskStatusList"),
            Some(Operation::GetTaskStatusList)
        );
    }
}

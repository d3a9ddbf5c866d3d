//! A simulated SailPoint Identity Security Cloud (ISC) tenant that runs in-process on loopback,
//! for testing account-aggregation and entitlement-load clients without a real tenant.
//!
//! # Routes: every API version, from data
//!
//! `POST /oauth/token` issues client-credentials tokens. The API routes come from the generated
//! table of `sailpoint-isc-api` ([`ApiVersion::all`]): every operation of every version that the
//! sandbox has a handler for is served at the version's `base_path` plus the operation's `path`
//! (`/beta/sources/{sourceId}/load-accounts`, `/v2025/task-status/{id}`,
//! `/sources/v1/{id}/load-accounts` for v1, whose version sits inside its paths), with the
//! spec's method. The handler is chosen by the operation's cross-version name ([`Operation`]):
//!
//! | operation | what the sandbox does |
//! |---|---|
//! | `importAccounts` | starts an aggregation; an optional CSV `file` part is streamed, hashed and diffed row by row, never buffered whole (`multipart/form-data`, or `disableOptimization` form-encoded) |
//! | `getAccountAggregationStatus` | the `STARTED` → `ACCOUNTS_COLLECTED` → `COMPLETED` progress ([`aggregation`]) |
//! | `getTaskStatus` | the aggregation's task, by the same id |
//! | `getTaskStatusList` | the task history, with `filters`, `sorters`, `limit`, `offset`, `count` |
//! | `listSources` | the tenant's sources, with `filters`, `sorters`, `limit`, `offset`, `count` |
//! | `importEntitlements` | starts an entitlement load (a `CLOUD_GROUP_AGGREGATION` task) from a required, non-empty CSV `file` part, streamed like an accounts file |
//! | `getAccountsSchema` | the source's account schema as a `text/csv` header line |
//! | `getEntitlementsSchema` | the header line of the schema `schemaName` (default `group`) |
//! | `getSourceSchemas` | the source's `Schema` objects, with `include-types` (`user`, `group`) and `include-names` |
//!
//! Operations the table lists but the sandbox has no handler for are not served (404); versions
//! and operations appear as soon as the table has them. One tenant state sits behind every
//! version: an aggregation started under one version is read under any other.
//!
//! What differs between versions is read from the table too: an operation marked `experimental`
//! answers 400 (`{"error": "Experimental Header is missing or invalid."}`) without
//! `X-SailPoint-Experimental: true`, and all others accept calls with or without it; the status
//! body keeps only the properties the version's schema lists (`response_properties`: beta's
//! status has four fields, v2025's eight). [`SandboxBuilder::serve_operation`] replaces or adds an
//! operation (to mark one experimental, say), and [`SandboxBuilder::deprecated`] makes an
//! operation answer with `X-Deprecated: true`, as ISC marks deprecated operations.
//!
//! Like ISC, the sandbox answers 401 without a valid token, rate-limits each client id and API
//! version (100 requests in any 10 s, a sliding window; 429 with `Retry-After`; token requests
//! are not counted), puts an `SLPT-Request-ID` header on every response, uses ISC's error bodies
//! (`ErrorResponseDto`, `{error}` for 401, `{message}` for 429), and counts only new, changed and
//! deleted accounts unless `disableOptimization` is `"true"`.
//!
//! # Task status
//!
//! Every aggregation is a task of type `CLOUD_ACCOUNT_AGGREGATION` (the filter value; the body's
//! own `type` is `QUARTZ`, per the published enum) whose id is the aggregation id of the import's
//! 202 body. Its `target` and `attributes.appId` name the source; `created`, `launched`,
//! `modified` and `completed` are RFC 3339; `completionStatus` is `null` while it runs, then
//! `SUCCESS` (completed), `WARNING` (completed with warnings, with a `WARN` message), `TERMINATED`
//! (cancelled), or `ERROR` (terminated, with an `ERROR` message; or refused because another
//! aggregation was running, with ISC's warning); `progress` and `percentComplete` follow the run.
//!
//! `getTaskStatusList` filters on `id eq|in`, `sourceId eq|in`, `completionStatus eq|in|isnull`
//! (case-insensitive values), `type eq|in` and `launcher eq|in`, clauses joined by `and`
//! (`type eq "CLOUD_ACCOUNT_AGGREGATION" and sourceId eq "abc" and completionStatus isnull`,
//! `id in ("a","b")`); sorts by `created` or `-created` (default: oldest first); pages with
//! `limit` (at most 250, the default) and `offset`; `count=true` adds `X-Total-Count`. Anything
//! else in `filters` or `sorters`, or a bad number, is a 400 `ErrorResponseDto`.
//!
//! # Entitlement loads
//!
//! `importEntitlements` answers 202 with a flat body shaped as real responses are (`name`
//! rather than the spec's `uniqueName`, plus `launched: null`, `completed`, `completionStatus`,
//! `progress`, `messages`, `parentName`, `attributes`) and returns labels
//! `TASK_OUT_ACCOUNT_GROUP_AGGREGATION_*`. Its `id` is a task-status id: the load runs through
//! the same phases as an account aggregation (the builder's collect and process durations,
//! [`Sandbox::set_entitlement_load_outcome`], [`Sandbox::force_outcome`]) as a task of type
//! `CLOUD_GROUP_AGGREGATION`; when it completes, its `attributes` hold `applications` (1),
//! `total` (distinct groups in the file, keyed by the group schema's identity attribute),
//! `groupsCreated`, `groupsUpdated` and `groupsDeleted` (compared with the source's last
//! completed load). There is no status endpoint for it. A load and an account aggregation on
//! one source exclude each other: the later one answers 202 with an already ended `ERROR` task
//! carrying ISC's "currently running aggregation must complete" message. Faults apply to
//! [`Operation::ImportEntitlements`] as to imports, and [`Sandbox::entitlement_loads_started`]
//! counts loads like [`Sandbox::aggregations_started`] counts aggregations.
//!
//! # Schemas
//!
//! A source has an account and a group schema ([`SchemaKind`], [`SourceSchema`]), set by
//! [`Sandbox::set_schema`] or learned from the header of its first upload of that kind (the
//! first column identifying rows). An upload whose header names other columns, or the same in
//! another order (compared exactly, case included), is refused once its body has arrived with a
//! 400 `ErrorResponseDto` saying `Column: [<unknown>] is unknown and/or column: [<missing>] is
//! missing`, and nothing starts ([`schema`] has the rules). A UTF-8 byte order mark and CRLF
//! line ends do not count. The header endpoints answer the header line (empty while the source
//! has no such schema); an unknown source is a 404.
//!
//! # Sources
//!
//! A source appears on its first import, named `Source <id>`; [`Sandbox::add_source`] adds a
//! named one (names need not be unique, so clients can meet an ambiguous name).
//! `listSources` filters on `name eq|in|sw|co` (exact, quotes inside escaped with a backslash:
//! `name eq "HR \"Feed\""`) and `id eq|in`, sorts by `id`, `name`, `created`, `modified`, and
//! pages and counts like the task list. Bodies carry the `Source` fields a delimited-file source
//! can fill sensibly.
//!
//! # Retention
//!
//! An aggregation's status answers 404 once it ended more than [`SandboxBuilder::retention`]
//! ago (1 h by default, like ISC); its task stays in the task history until
//! [`SandboxBuilder::task_retention`] has passed since its creation (90 days by default). Both
//! follow the configured durations, so tests can shrink them along with the aggregation phases.
//!
//! # Recording and faults
//!
//! The [`Sandbox`] handle records every upload ([`Sandbox::uploads`],
//! [`Sandbox::entitlement_uploads`]: bytes, SHA-256, rows) and
//! request ([`Sandbox::requests`], [`Sandbox::request_count`]), counts aggregations started per
//! source ([`Sandbox::aggregations_started`]), forces outcomes ([`Sandbox::set_outcome`],
//! [`Sandbox::force_outcome`]) and injects [`faults`]: per operation, a status, a delay or a
//! dropped connection before the request is handled, or a dropped connection or a 5xx *after*
//! it was handled ([`Fault::DropAfterProcessing`], [`Fault::StatusAfterProcessing`]: the import's
//! aggregation exists and runs although the client saw a failure), or a failure in the middle
//! of the request body: [`Fault::CutBody`] reads that many bytes of the body and closes the
//! connection without a response, [`Fault::StopReading`] reads that many and then hangs
//! without reading or answering until the client's own timeout gives up (neither records an
//! upload or starts an aggregation: the body never arrived whole); task-status faults are the
//! same [`Sandbox::inject`] on [`Operation::GetTaskStatus`] / [`Operation::GetTaskStatusList`];
//! and task visibility delays ([`Sandbox::set_task_list_delay`],
//! [`Sandbox::set_task_lookup_delay`]) keep a new task out of the list (or the lookup by id) for
//! a while, as a slow index does.
//!
//! A simulated [`Link`] reproduces slow office links on loopback, time-scaled (small files, low
//! rates): [`SandboxBuilder::link`] and [`Sandbox::set_link`] set a bandwidth per connection and
//! direction (the server reads uploads, and writes responses, at most that many bytes per
//! second, in small even steps, so a client's writes block once the socket buffers fill) and a
//! latency (a one-way delay before the server reads each request's first bytes). The default
//! is unlimited and costs nothing measurable; a change applies to open connections too.
//!
//! Responses are checked against each version's vendored spec (`tests/openapi_conformance.rs`).
//! `cargo run -p sailpoint-isc-sandbox` runs the sandbox standalone.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use sailpoint_isc_sandbox::{ApiVersion, Fault, Operation, Sandbox};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let sandbox = Sandbox::builder()
//!         .collect_duration(Duration::from_millis(20))
//!         .process_duration(Duration::from_millis(20))
//!         .start()
//!         .await?;
//!     println!("tenant at {}", sandbox.base_url());
//!
//!     // The first token request will fail with a 503.
//!     sandbox.inject(Operation::Token, Fault::status_with_retry_after(503, 1), 1);
//!
//!     let http = reqwest::Client::new();
//!     let token_url = format!("{}/oauth/token", sandbox.base_url());
//!     let form = format!(
//!         "grant_type=client_credentials&client_id={}&client_secret={}",
//!         sandbox.client_id(),
//!         sandbox.client_secret()
//!     );
//!     let send = || {
//!         http.post(&token_url)
//!             .header("content-type", "application/x-www-form-urlencoded")
//!             .body(form.clone())
//!             .send()
//!     };
//!     assert_eq!(send().await?.status(), 503);
//!     let token: serde_json::Value = send().await?.json().await?;
//!     let token = token["access_token"].as_str().unwrap().to_owned();
//!
//!     // URLs from the generated table: the version's base path and the operation's path.
//!     let version = ApiVersion::default();
//!     let url = |operation: &str, id: &str| {
//!         let op = version.operation(operation).unwrap();
//!         format!("{}{}{}", sandbox.base_url(), version.base_path(), op.expand_path(&[id]))
//!     };
//!
//!     let csv = "id,name\n1,Alice\n2,Bob\n";
//!     let form = reqwest::multipart::Form::new()
//!         .part("file", reqwest::multipart::Part::text(csv).file_name("accounts.csv"));
//!     let task: serde_json::Value = http
//!         .post(url("importAccounts", "src1"))
//!         .bearer_auth(&token)
//!         .multipart(form)
//!         .send()
//!         .await?
//!         .json()
//!         .await?;
//!     let id = task["task"]["id"].as_str().unwrap();
//!
//!     loop {
//!         let status: serde_json::Value = http
//!             .get(url("getAccountAggregationStatus", id))
//!             .bearer_auth(&token)
//!             .send()
//!             .await?
//!             .json()
//!             .await?;
//!         if status["status"] == "COMPLETED" {
//!             assert_eq!(status["totalAccounts"], 2);
//!             break;
//!         }
//!         tokio::time::sleep(Duration::from_millis(10)).await;
//!     }
//!
//!     assert_eq!(sandbox.request_count(Operation::Token), 2);
//!     assert_eq!(sandbox.uploads()[0].file.as_ref().unwrap().rows, 2);
//!     assert_eq!(sandbox.aggregations_started("src1"), 1);
//!     sandbox.shutdown().await;
//!     Ok(())
//! }
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod aggregation;
mod auth;
mod collection;
mod config;
mod csv;
mod error;
pub mod faults;
mod ids;
mod link;
mod ratelimit;
mod recording;
mod registry;
mod responses;
mod routes;
pub mod schema;
mod server;
mod sources;
mod state;
mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use aggregation::{AggregationInfo, AggregationStatus, EntitlementLoadInfo, Outcome};
pub use config::{ClientCredentials, Operation, RateLimit};
pub use error::Error;
pub use faults::Fault;
pub use link::Link;
pub use recording::{RequestRecord, Upload, UploadedFile};
/// An ISC API version: the generated table of `sailpoint-isc-api` ([`ApiVersion::all`]).
pub use sailpoint_isc_api::ApiVersion;
/// One operation of a version's generated table (path, method, experimental flag, success
/// status, response properties), as [`SandboxBuilder::serve_operation`] takes it.
pub use sailpoint_isc_api::Operation as OperationSpec;
pub use schema::{SchemaKind, SourceSchema};
pub use sources::SourceInfo;

use config::Config;
use state::Shared;

/// Configures a [`Sandbox`] before starting it; get one from [`Sandbox::builder`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct SandboxBuilder {
    config: Config,
}

impl SandboxBuilder {
    /// Listens on this address (default `127.0.0.1:0`, an ephemeral port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.config.addr = addr;
        self
    }

    /// Listens on this port of the configured address (0 picks a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.config.addr.set_port(port);
        self
    }

    /// Accepts this client; may be called several times. Without any, one random client is made.
    pub fn client(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.config
            .clients
            .push(ClientCredentials::new(client_id, client_secret));
        self
    }

    /// Token lifetime (default 749 s); `expires_in` reports it in whole seconds.
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.config.token_ttl = ttl;
        self
    }

    /// Requests allowed per client id and API version in any window of this length (default
    /// 100 per 10 s, enforced as a sliding window).
    pub fn rate_limit(mut self, max_requests: u32, window: Duration) -> Self {
        self.config.rate_limit = Some(RateLimit {
            max_requests,
            window,
        });
        self
    }

    /// Turns rate limiting off.
    pub fn no_rate_limit(mut self) -> Self {
        self.config.rate_limit = None;
        self
    }

    /// How long an aggregation stays `STARTED` (default 2 s).
    pub fn collect_duration(mut self, d: Duration) -> Self {
        self.config.collect_duration = d;
        self
    }

    /// How long an aggregation stays `ACCOUNTS_COLLECTED` (default 3 s).
    pub fn process_duration(mut self, d: Duration) -> Self {
        self.config.process_duration = d;
        self
    }

    /// How long after it ends an aggregation's status stays readable (default 1 h); then 404.
    pub fn retention(mut self, d: Duration) -> Self {
        self.config.retention = d;
        self
    }

    /// How long after its creation an aggregation's task stays in the task history (default 90
    /// days); then `getTaskStatus` answers 404 and `getTaskStatusList` omits it.
    pub fn task_retention(mut self, d: Duration) -> Self {
        self.config.task_retention = d;
        self
    }

    /// How long after its creation a task is missing from `getTaskStatusList` (default zero):
    /// a task index that is slow to show new tasks. Also settable later with
    /// [`Sandbox::set_task_list_delay`].
    pub fn task_list_delay(mut self, d: Duration) -> Self {
        self.config.task_list_delay = d;
        self
    }

    /// How long after its creation `getTaskStatus` answers 404 for a task (default zero). Also
    /// settable later with [`Sandbox::set_task_lookup_delay`].
    pub fn task_lookup_delay(mut self, d: Duration) -> Self {
        self.config.task_lookup_delay = d;
        self
    }

    /// Answers every request of `operation` (its cross-version name, e.g.
    /// `"getAccountAggregationStatus"`) under `version` with the header `X-Deprecated: true`, as
    /// ISC marks deprecated operations; may be called several times.
    pub fn deprecated(mut self, version: ApiVersion, operation: &str) -> Self {
        self.config
            .deprecated
            .insert((version.name().to_owned(), operation.to_owned()));
        self
    }

    /// Serves `operation` under `version` as given, instead of the table's operation of the same
    /// name in that version (or in addition, if the table has none). The operation's `name`
    /// picks the handler; operations the sandbox has no handler for are ignored.
    ///
    /// For tests of rules the current table does not exercise, e.g. an operation marked
    /// experimental:
    ///
    /// ```
    /// use sailpoint_isc_sandbox::{ApiVersion, Sandbox};
    ///
    /// let version = ApiVersion::default();
    /// let mut op = *version.operation("getAccountAggregationStatus").unwrap();
    /// op.experimental = true; // now needs `X-SailPoint-Experimental: true`
    /// let builder = Sandbox::builder().serve_operation(version, op);
    /// ```
    pub fn serve_operation(mut self, version: ApiVersion, operation: OperationSpec) -> Self {
        self.config.extra_operations.push((version, operation));
        self
    }

    /// Accounts a direct-connect aggregation (an import without a file) finds (default 10).
    pub fn direct_connect_accounts(mut self, n: u32) -> Self {
        self.config.direct_connect_accounts = n;
        self
    }

    /// The tenant name reported as `org` in token responses (default `sandbox`).
    pub fn tenant(mut self, name: impl Into<String>) -> Self {
        self.config.tenant = name.into();
        self
    }

    /// Serves every connection over this simulated [`Link`] (bandwidth, latency); default
    /// [`Link::unlimited`]. Changeable later with [`Sandbox::set_link`].
    pub fn link(mut self, link: Link) -> Self {
        self.config.link = link;
        self
    }

    /// Binds the socket and spawns the server on the current tokio runtime.
    pub async fn start(mut self) -> Result<Sandbox, Error> {
        if self.config.clients.is_empty() {
            self.config.clients.push(ClientCredentials::random());
        }
        if self.config.clients.iter().any(|c| c.client_id.is_empty()) {
            return Err(Error::Config("client ids must not be empty".into()));
        }
        if self
            .config
            .rate_limit
            .is_some_and(|r| r.window.is_zero() || r.max_requests == 0)
        {
            return Err(Error::Config(
                "a rate limit needs a non-zero window and request count".into(),
            ));
        }
        let requested = self.config.addr;
        let listener = tokio::net::TcpListener::bind(requested)
            .await
            .map_err(|source| Error::Bind {
                addr: requested,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: requested,
            source,
        })?;
        let (link, link_rx) = watch::channel(self.config.link);
        let shared = Arc::new(Shared::new(self.config));
        let router = routes::router(shared.clone());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, router, shutdown_rx, link_rx));
        tracing::info!(%addr, "ISC sandbox listening");
        Ok(Sandbox {
            shared,
            addr,
            shutdown,
            link,
            task: Some(task),
        })
    }
}

/// A running simulated tenant. Dropping it (or [`shutdown`](Sandbox::shutdown)) stops the server.
#[derive(Debug)]
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    link: watch::Sender<Link>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Starts a sandbox with default settings.
    pub async fn start() -> Result<Sandbox, Error> {
        Self::builder().start().await
    }

    /// A builder for custom settings.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// The base URL without a version segment, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first configured client's id.
    pub fn client_id(&self) -> &str {
        &self.shared.config.clients[0].client_id
    }

    /// The first configured client's secret.
    pub fn client_secret(&self) -> &str {
        &self.shared.config.clients[0].client_secret
    }

    /// All configured clients.
    pub fn clients(&self) -> &[ClientCredentials] {
        &self.shared.config.clients
    }

    /// Every accepted accounts import request (`importAccounts`) so far, in order (entitlement
    /// loads: [`entitlement_uploads`](Self::entitlement_uploads)).
    pub fn uploads(&self) -> Vec<Upload> {
        self.shared.recorder.uploads()
    }

    /// Every request to a known operation that has been answered (or dropped), in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.recorder.requests()
    }

    /// How many requests of `operation` have arrived (all versions, whatever the outcome).
    pub fn request_count(&self, operation: Operation) -> usize {
        self.shared.recorder.request_count(operation)
    }

    /// Makes the next `times` requests of `operation` fail with `fault` (queued after earlier injections).
    pub fn inject(&self, operation: Operation, fault: Fault, times: usize) {
        self.shared.faults.push(operation, fault, times);
    }

    /// Removes all pending faults.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// How many injected faults of `operation` are still pending.
    pub fn pending_faults(&self, operation: Operation) -> usize {
        self.shared.faults.pending(operation)
    }

    /// How many aggregations were started on `source_id` so far: accepted imports, including
    /// those whose response was then lost to [`Fault::DropAfterProcessing`] or replaced by
    /// [`Fault::StatusAfterProcessing`], but not imports refused because another aggregation
    /// was running. Never forgets (unlike [`aggregations`](Self::aggregations)).
    pub fn aggregations_started(&self, source_id: &str) -> usize {
        self.shared.recorder.aggregations_started(source_id)
    }

    /// Whether the sandbox serves `operation` under `version` (the table lists it, or it was
    /// added with [`SandboxBuilder::serve_operation`]). The token endpoint is always served.
    pub fn serves(&self, version: ApiVersion, operation: Operation) -> bool {
        operation == Operation::Token
            || routes::api_routes(&self.shared.config)
                .iter()
                .any(|r| r.version == version && r.operation == operation)
    }

    /// Adds a source named `name` and returns its new id. Names need not be unique: adding two
    /// sources with the same name lets a client meet the ambiguity of a lookup by name.
    pub fn add_source(&self, name: &str) -> String {
        self.shared.sources.add(name)
    }

    /// Every source, in creation order: those added with [`add_source`](Self::add_source) and
    /// those created by their first import (named `Source <id>`).
    pub fn sources(&self) -> Vec<SourceInfo> {
        self.shared.sources.all()
    }

    /// From now on, tasks are missing from `getTaskStatusList` until `delay` after their
    /// creation (zero turns it off).
    pub fn set_task_list_delay(&self, delay: Duration) {
        self.shared.task_delays.set_list(delay);
    }

    /// From now on, `getTaskStatus` answers 404 for a task until `delay` after its creation
    /// (zero turns it off).
    pub fn set_task_lookup_delay(&self, delay: Duration) {
        self.shared.task_delays.set_lookup(delay);
    }

    /// Sets how the next account aggregation started on `source_id` ends (entitlement loads:
    /// [`set_entitlement_load_outcome`](Self::set_entitlement_load_outcome)).
    pub fn set_outcome(&self, source_id: &str, outcome: Outcome) {
        self.shared
            .aggregations
            .set_next_outcome(source_id, aggregation::Kind::Accounts, outcome);
    }

    /// Sets how the next entitlement load started on `source_id` ends: its task ends `SUCCESS`,
    /// `WARNING`, `TERMINATED` or `ERROR` as an account aggregation's does, or never
    /// ([`Outcome::Stalled`]).
    pub fn set_entitlement_load_outcome(&self, source_id: &str, outcome: Outcome) {
        self.shared.aggregations.set_next_outcome(
            source_id,
            aggregation::Kind::Entitlements,
            outcome,
        );
    }

    /// Ends a running aggregation or entitlement load now with `outcome` ([`Outcome::Stalled`]
    /// keeps it running forever). Returns false if the id is unknown or it already ended.
    pub fn force_outcome(&self, aggregation_id: &str, outcome: Outcome) -> bool {
        self.shared.aggregations.force(aggregation_id, outcome)
    }

    /// All account aggregations whose status is still retained, oldest first (entitlement
    /// loads: [`entitlement_loads`](Self::entitlement_loads)).
    pub fn aggregations(&self) -> Vec<AggregationInfo> {
        self.shared.aggregations.list()
    }

    /// All entitlement loads whose task is still in the task history, oldest first.
    pub fn entitlement_loads(&self) -> Vec<EntitlementLoadInfo> {
        self.shared.aggregations.entitlement_loads()
    }

    /// Every accepted entitlement load request (`importEntitlements`) so far, in order.
    pub fn entitlement_uploads(&self) -> Vec<Upload> {
        self.shared.recorder.entitlement_uploads()
    }

    /// How many entitlement loads were started on `source_id` so far, counted like
    /// [`aggregations_started`](Self::aggregations_started): accepted loads, including those
    /// whose response was then lost or replaced by a fault after processing, but not loads
    /// refused because another task was running on the source, nor files refused with a 400.
    pub fn entitlement_loads_started(&self, source_id: &str) -> usize {
        self.shared.recorder.entitlement_loads_started(source_id)
    }

    /// Sets (or replaces) the `kind` schema of `source_id`, creating the source (named
    /// `Source <id>`) if it does not exist. From now on uploads of that kind to the source must
    /// have exactly these columns, in this order, and rows are keyed by its identity attribute;
    /// the schema endpoints serve it.
    ///
    /// # Panics
    ///
    /// If the schema has no column, a repeated column, or names an identity, display,
    /// multi-valued or entitlement attribute that is not one of its columns.
    pub fn set_schema(&self, source_id: &str, kind: SchemaKind, schema: SourceSchema) {
        if let Some(problem) = schema.problem() {
            panic!(
                "invalid {} schema for source {source_id}: {problem}",
                kind.name()
            );
        }
        self.shared.sources.set_schema(source_id, kind, schema);
    }

    /// The `kind` schema of `source_id`: set with [`set_schema`](Self::set_schema), or learned
    /// from the header of the source's first upload of that kind.
    pub fn schema(&self, source_id: &str, kind: SchemaKind) -> Option<SourceSchema> {
        self.shared.sources.schema(source_id, kind)
    }

    /// Every access token issued so far, oldest first (for tests that check tokens never leak
    /// into logs or errors).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.tokens.issued()
    }

    /// From now on, serves connections over `link`: new connections, and open ones (a client's
    /// pooled keep-alive connections included) from their next read or write on; a wait
    /// already under way on a connection (for bandwidth or latency) ends first.
    pub fn set_link(&self, link: Link) {
        self.link.send_replace(link);
    }

    /// The current [`Link`].
    pub fn link(&self) -> Link {
        *self.link.borrow()
    }

    /// Makes every token issued so far expired.
    pub fn expire_tokens(&self) {
        self.shared.tokens.expire_all();
    }

    /// Stops accepting connections, closes open ones and waits for the server task to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

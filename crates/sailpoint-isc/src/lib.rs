//! Ergonomic client for SailPoint Identity Security Cloud (ISC) account and entitlement
//! aggregation.
//!
//! The whole flow in one place: configure from the environment (overriding what you need), look a
//! source up by name, start an aggregation with a CSV unless one is already running, wait for it
//! with progress, and branch on the outcome:
//!
//! ```no_run
//! use std::time::Duration;
//! use sailpoint_isc::{ApiVersion, ClientBuilder, Error, StartOrigin};
//!
//! # async fn run() -> Result<(), Error> {
//! // SAIL_BASE_URL, SAIL_CLIENT_ID, SAIL_CLIENT_SECRET or ./config.json; code overrides any part.
//! let client = ClientBuilder::from_env()?.api_version(ApiVersion::V1).build()?;
//!
//! let source = client.find_source_by_name("HR Feed").send().await?;
//! let started = client
//!     .start_aggregation(source.id.unwrap_or_default())
//!     .file("exports/hr.csv")
//!     .if_idle() // an aggregation already running on the source is returned, not doubled
//!     .send()
//!     .await?;
//! if started.origin == StartOrigin::Recovered {
//!     eprintln!("the answer was lost, but task status shows ISC started it (once)");
//! }
//!
//! let outcome = client
//!     .wait_for_aggregation(&started) // the same API version that started it
//!     .max_wait(Duration::from_secs(30 * 60))
//!     .on_progress(|p| eprintln!("{}", p.status))
//!     .send()
//!     .await;
//!
//! match outcome {
//!     Ok(status) => println!("completed: {status}"),
//!     Err(Error::AggregationFailed { status, .. }) => {
//!         eprintln!("failed: {status}: {:?}", status.task_messages())
//!     }
//!     Err(Error::OutcomeUnknown { .. }) => eprintln!("check the source's tasks by hand"),
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```
//!
//! What it takes care of:
//!
//! - **Configuration** ([`config`]): `SAIL_*` variables or `config.json` like the official SDKs,
//!   each setting overridable in code; an https-only base URL (loopback excepted); the API
//!   version (`v1` by default; `beta`, `v2025`, `v2026`, generated from the vendored specs) per
//!   client or per call; [`TimeoutConfig`] (limits that measure progress, not size: an upload
//!   is cut only when it stalls, the deadline bounds waiting); your own `reqwest::Client` if you
//!   want.
//! - **Authentication** ([`ClientBuilder::client_credentials`]): OAuth2 client credentials with
//!   one cached token shared by all calls, refreshed before expiry and once on a 401. Secrets are
//!   [`Secret`]s and never printed or logged.
//! - **Retries**: plain-data [`RetryConfig`]; a classification that never repeats an aggregation
//!   start unless it provably did not happen; `Retry-After` (seconds or HTTP-date, capped) and
//!   full-jitter backoff. After an ambiguous start the aggregation is looked up in task status
//!   ([`OutcomeResolution`]); only if that cannot settle it is the result
//!   [`Error::OutcomeUnknown`].
//! - **Rate limit** ([`ratelimit`]): a sliding window per API version at ISC's 100 requests per
//!   10 s, shared by clones and by clients of one client id.
//! - **Uploads** ([`upload`]): the CSV is checked before any request and streamed from disk with
//!   a `Content-Length`, re-opened for each attempt. The bytes handed to the connection are
//!   counted: an attempt cut before its last byte provably started nothing and is resent.
//! - **Stopping** ([`CancellationToken`]): [`StartAggregation::cancel_on`] cuts an upload that has
//!   not sent its last byte and settles one that has, so a scheduler's signal never loses track
//!   of what was started.
//! - **Models** ([`status`], [`task_status`], [`sources`]): one lenient type per resource for
//!   every version, decoded once from the response bytes, with open enums.
//! - **Waiting** ([`wait`]) and **batches** ([`batch`]): an adaptive [`PollSchedule`], progress
//!   by callback or `Stream`; many sources under a concurrency cap, completion found with
//!   task-status lists.
//! - **Errors** ([`error`]): one [`Error`] to match on, each HTTP failure with an
//!   [`ErrorContext`] (status, `trackingId`, `SLPT-Request-ID`, messages, attempts).
//!
//! Every attempt is logged with `tracing` (operation, attempt, status, wait, duration). The
//! crate's `examples/` run as they are against a simulated tenant: `cargo run -p sailpoint-isc
//! --example upload_and_wait`.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod aggregation;
mod aggregation_status;
mod auth;
pub mod batch;
mod body_progress;
mod builder;
mod checker;
mod client;
pub mod config;
mod config_file;
mod deadline;
pub mod error;
mod error_context;
mod executor;
mod failure;
mod http_client;
mod ids;
mod kind;
mod lenient;
mod poll;
pub mod preflight;
pub mod ratelimit;
mod resolution;
mod retry;
mod schema;
mod secret;
pub mod sources;
pub mod status;
pub mod task_status;
pub mod tasks;
pub mod upload;
pub mod wait;

pub use aggregation::StartAggregation;
pub use aggregation_status::{AggregationRef, GetAggregationStatus};
pub use builder::ClientBuilder;
pub use client::Client;
pub use config::{ApiVersion, OutcomeResolution, TimeoutConfig};
pub use error::{
    Error, ErrorBody, ErrorContext, ErrorMessage, FileProblem, OutcomeLookup, SourceCandidate,
};
pub use ids::check_id;
pub use kind::{AggregationKind, UnknownKind};
pub use ratelimit::{RateLimit, RateLimiter};
pub use retry::RetryConfig;
pub use schema::{CheckFile, GetFileSchema};
pub use secret::Secret;
pub use sources::Source;
pub use status::{
    AggregationState, AggregationStatus, AggregationTask, StartOrigin, StartedAggregation,
    TaskCount, TaskMessage, TaskReturn,
};
pub use task_status::{CompletionStatus, LocalizedText, TaskStatus, TaskStatusMessage, TaskTarget};
pub use tasks::{TaskFilter, TaskOrder};
pub use upload::AccountsFile;
pub use wait::{AggregationProgress, PollSchedule, WaitForAggregation};

/// A cancellation handle (from `tokio-util`) for [`StartAggregation::cancel_on`] and
/// [`batch::AggregateBatch::cancel_on`]: cancel it from a signal handler to stop cleanly.
pub use tokio_util::sync::CancellationToken;

/// The generated low-level client this crate builds on, for operations it does not wrap.
pub use sailpoint_isc_api as api;

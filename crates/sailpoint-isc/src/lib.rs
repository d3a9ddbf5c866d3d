//! Ergonomic client for SailPoint Identity Security Cloud (ISC) account aggregation.
//!
//! Build a client from the environment, start an aggregation on a source with a CSV file, wait
//! for it with progress, and read the outcome:
//!
//! ```no_run
//! use std::time::Duration;
//! use sailpoint_isc::{Client, Error};
//!
//! # async fn run() -> Result<(), Error> {
//! // SAIL_BASE_URL, SAIL_CLIENT_ID, SAIL_CLIENT_SECRET, or ./config.json
//! let client = Client::from_env()?;
//!
//! let started = client
//!     .start_aggregation("2c9180835d2e5168015d32f890ca1581")
//!     .file("accounts.csv")
//!     .send()
//!     .await?;
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
//!     Err(Error::AggregationFailed { status, .. }) => eprintln!("failed: {status}"),
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```
//!
//! What it takes care of:
//!
//! - **Configuration** ([`config`]): `SAIL_*` variables or `config.json` like the official SDKs,
//!   an https-only base URL (loopback excepted), the API version (`v1` by default; `beta`,
//!   `v2025`, `v2026`, generated from `openapi/apis.yaml`) per client or per call, your own
//!   `reqwest::Client` if you want, and a `sailpoint-isc-rust/<version>` User-Agent.
//! - **Authentication** ([`auth`](crate::ClientBuilder::client_credentials)): OAuth2 client
//!   credentials with one cached token shared by all calls, refreshed before expiry and once on a
//!   401. Secrets are [`Secret`]s and never printed or logged.
//! - **Retries**: plain-data [`RetryConfig`]; a pure classification that never repeats
//!   an aggregation start unless it provably did not happen ([`Error::OutcomeUnknown`] otherwise);
//!   `Retry-After` (seconds or HTTP-date, capped) and full-jitter backoff.
//! - **Uploads** ([`upload`]): the CSV is checked before any request and streamed from disk with
//!   a `Content-Length`, re-opened for each attempt.
//! - **Status** ([`status`]): one lenient model per resource for every version, decoded once
//!   from the response bytes, with an open [`AggregationState`].
//! - **Waiting** ([`wait`]): an adaptive [`PollSchedule`], progress by callback or `Stream`, typed
//!   outcomes.
//! - **Errors** ([`error`]): one [`Error`] to match on, each HTTP failure with an
//!   [`ErrorContext`] (status, `trackingId`, `SLPT-Request-ID`, messages, attempts).
//!
//! Every attempt is logged with `tracing` (operation, attempt, status, wait, duration).

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod aggregation;
mod auth;
pub mod batch;
mod client;
pub mod config;
pub mod error;
mod executor;
mod lenient;
pub mod ratelimit;
mod retry;
mod secret;
pub mod sources;
pub mod status;
pub mod task_status;
pub mod tasks;
pub mod upload;
pub mod wait;

pub use aggregation::{AggregationRef, GetAggregationStatus, StartAggregation};
pub use client::Client;
pub use config::{ApiVersion, ClientBuilder, OutcomeResolution, TimeoutConfig};
pub use error::{
    Error, ErrorBody, ErrorContext, ErrorMessage, FileProblem, OutcomeLookup, SourceCandidate,
};
pub use ratelimit::{RateLimit, RateLimiter};
pub use retry::RetryConfig;
pub use secret::Secret;
pub use sources::Source;
pub use status::{
    AggregationState, AggregationStatus, AggregationTask, StartOrigin, StartedAggregation,
    TaskMessage, TaskReturn,
};
pub use task_status::{CompletionStatus, LocalizedText, TaskStatus, TaskStatusMessage, TaskTarget};
pub use tasks::{TaskFilter, TaskOrder};
pub use upload::AccountsFile;
pub use wait::{AggregationProgress, PollSchedule, WaitForAggregation};

/// The generated low-level client this crate builds on, for operations it does not wrap.
pub use sailpoint_isc_api as api;

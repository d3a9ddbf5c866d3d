//! Shared helpers for the integration tests: a client pointed at an httpmock server, fast retry
//! and poll settings, token mocks and temporary CSV files.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use httpmock::Mock;
use httpmock::prelude::*;
use sailpoint_isc::{
    ApiVersion, Client, ClientBuilder, OutcomeResolution, PollSchedule, RetryConfig,
};
use serde_json::json;

pub const CLIENT_ID: &str = "test-client-id";
pub const CLIENT_SECRET: &str = "s3cr3t-client-secret-value";
pub const TOKEN: &str = "tok-AAAA-first-access-token";
pub const TOKEN2: &str = "tok-BBBB-second-access-token";
pub const SOURCE_ID: &str = "2c9180835d2e5168015d32f890ca1581";
pub const TASK_ID: &str = "ef38f94347e94562b5bb8424a56397d8";

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Retries with tiny waits so the suite stays fast.
pub fn fast_retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_backoff(ms(5), ms(20))
        .with_max_retry_after(Duration::from_secs(3))
}

/// Polls every few milliseconds.
pub fn fast_polls() -> PollSchedule {
    PollSchedule::standard()
        .with_initial_delay(ms(10))
        .with_delay_bounds(ms(5), ms(30))
        .with_max_wait(Duration::from_secs(5))
}

/// A builder for `server` with client credentials and fast settings. Outcome resolution is off
/// (so an ambiguous start costs exactly its own requests); its tests turn it on.
pub fn builder(server: &MockServer) -> ClientBuilder {
    Client::builder()
        .base_url(server.base_url())
        .client_credentials(CLIENT_ID, CLIENT_SECRET)
        .retry(fast_retry())
        .poll_schedule(fast_polls())
        .outcome_resolution(OutcomeResolution::disabled())
}

pub fn client(server: &MockServer) -> Client {
    builder(server).build().expect("client")
}

/// A token endpoint answering `token` valid for `expires_in` seconds.
pub async fn token_mock<'a>(server: &'a MockServer, token: &str, expires_in: u64) -> Mock<'a> {
    let body = json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in});
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/oauth/token")
                .header_prefix("content-type", "application/x-www-form-urlencoded")
                .form_urlencoded_tuple("grant_type", "client_credentials")
                .form_urlencoded_tuple("client_id", CLIENT_ID)
                .form_urlencoded_tuple("client_secret", CLIENT_SECRET);
            then.status(200).json_body(body);
        })
        .await
}

/// A mock matching every request, created last so it only sees what nothing else matched.
pub async fn catch_all(server: &MockServer) -> Mock<'_> {
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(599);
        })
        .await
}

/// The version tests use when the version does not matter: the client's default.
pub fn v() -> ApiVersion {
    ApiVersion::default()
}

/// The path of `operation` in `version` with `args`, from the generated operation table.
pub fn op_path(version: ApiVersion, operation: &str, args: &[&str]) -> String {
    let op = version
        .operation(operation)
        .unwrap_or_else(|| panic!("{version} has no {operation}"));
    format!("{}{}", version.base_path(), op.expand_path(args))
}

/// The status path of `TASK_ID` in `version`.
pub fn status_path(version: ApiVersion) -> String {
    op_path(version, "getAccountAggregationStatus", &[TASK_ID])
}

/// The load-accounts path of `SOURCE_ID` in `version`.
pub fn load_accounts_path(version: ApiVersion) -> String {
    op_path(version, "importAccounts", &[SOURCE_ID])
}

/// A `LoadAccountsTask` 202 body.
pub fn task_body() -> serde_json::Value {
    json!({
        "success": true,
        "task": {
            "id": TASK_ID,
            "type": "QUARTZ",
            "name": "Cloud Account Aggregation",
            "description": "Aggregate from the specified application",
            "launcher": "System",
            "created": 1713522033823u64,
            "launched": "2024-04-19T10:20:33.900Z",
            "completed": null,
            "completionStatus": null,
            "parentName": null,
            "messages": [],
            "progress": "Initializing...",
            "attributes": {"appId": "c31386cb18bb403cbb6df4c86294ff82", "optimizedAggregation": "enabled"},
            "returns": [{"displayLabel": "TASK_OUT_ACCOUNT_AGGREGATION_TOTAL", "attributeName": "total"}]
        }
    })
}

/// A file with `contents` in a fresh temporary directory.
pub fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sailpoint-isc-it-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// A loopback port with nothing listening on it.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// Matches the experimental header exactly as `version`'s spec asks for `operation`: present
/// with `true` when experimental, absent otherwise.
pub fn experimental_header_as_specified(
    when: httpmock::When,
    version: ApiVersion,
    operation: &str,
) -> httpmock::When {
    let experimental = version.operation(operation).is_some_and(|o| o.experimental);
    if experimental {
        when.header("x-sailpoint-experimental", "true")
    } else {
        when.header_missing("x-sailpoint-experimental")
    }
}

/// A client for `server` using `version`.
pub fn client_for(server: &MockServer, version: ApiVersion) -> Client {
    builder(server)
        .api_version(version)
        .build()
        .expect("client")
}

/// A `MakeWriter` collecting everything logged.
#[derive(Clone, Default)]
pub struct Captured(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    /// Everything captured so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

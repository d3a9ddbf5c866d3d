//! Helpers shared by the integration tests: a small loopback client for the sandbox.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use sailpoint_isc_sandbox::{ApiVersion, Sandbox};
use serde_json::Value;

/// A generous upper bound for anything the tests wait for.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub fn token_form(id: &str, secret: &str) -> String {
    format!("grant_type=client_credentials&client_id={id}&client_secret={secret}")
}

pub async fn request_token(http: &reqwest::Client, base: &str, id: &str, secret: &str) -> Response {
    http.post(format!("{base}/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(token_form(id, secret))
        .send()
        .await
        .unwrap()
}

impl Client {
    pub async fn new(sandbox: &Sandbox) -> Client {
        let http = http();
        let base = sandbox.base_url();
        let resp = request_token(&http, &base, sandbox.client_id(), sandbox.client_secret()).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap().to_owned();
        Client { http, base, token }
    }

    /// The URL of `operation` in `version` with its path parameters, from the generated table.
    pub fn url(&self, version: ApiVersion, operation: &str, args: &[&str]) -> String {
        let op = version
            .operation(operation)
            .unwrap_or_else(|| panic!("{version} has no {operation}"));
        format!(
            "{}{}{}",
            self.base,
            version.base_path(),
            op.expand_path(args)
        )
    }

    pub fn import_url(&self, version: ApiVersion, source: &str) -> String {
        self.url(version, "importAccounts", &[source])
    }

    pub fn status_url(&self, version: ApiVersion, id: &str) -> String {
        self.url(version, "getAccountAggregationStatus", &[id])
    }

    /// An authenticated GET of `operation`, with the experimental header exactly when the
    /// table says the operation needs it (as the SDK does).
    pub fn get(
        &self,
        version: ApiVersion,
        operation: &str,
        args: &[&str],
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .get(self.url(version, operation, args))
            .bearer_auth(&self.token);
        if version.operation(operation).is_some_and(|o| o.experimental) {
            req = req.header("X-SailPoint-Experimental", "true");
        }
        req
    }

    /// Sends a multipart import with an optional CSV and `disableOptimization`.
    pub async fn try_import(
        &self,
        version: ApiVersion,
        source: &str,
        csv: Option<&str>,
        disable: Option<&str>,
    ) -> reqwest::Result<Response> {
        let mut form = Form::new();
        if let Some(csv) = csv {
            form = form.part(
                "file",
                Part::bytes(csv.as_bytes().to_vec()).file_name("accounts.csv"),
            );
        }
        if let Some(d) = disable {
            form = form.text("disableOptimization", d.to_owned());
        }
        self.http
            .post(self.import_url(version, source))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
    }

    pub async fn import(
        &self,
        version: ApiVersion,
        source: &str,
        csv: Option<&str>,
        disable: Option<&str>,
    ) -> Response {
        self.try_import(version, source, csv, disable)
            .await
            .unwrap()
    }

    /// Imports and returns the 202 body, asserting the status.
    pub async fn import_ok(
        &self,
        version: ApiVersion,
        source: &str,
        csv: Option<&str>,
        disable: Option<&str>,
    ) -> Value {
        let resp = self.import(version, source, csv, disable).await;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body
    }

    /// Sends a multipart entitlement load with an optional CSV `file` part.
    pub async fn try_load_entitlements(
        &self,
        version: ApiVersion,
        source: &str,
        csv: Option<&str>,
    ) -> reqwest::Result<Response> {
        let mut form = Form::new();
        if let Some(csv) = csv {
            form = form.part(
                "file",
                Part::bytes(csv.as_bytes().to_vec()).file_name("entitlements.csv"),
            );
        }
        self.http
            .post(self.url(version, "importEntitlements", &[source]))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
    }

    pub async fn load_entitlements(
        &self,
        version: ApiVersion,
        source: &str,
        csv: Option<&str>,
    ) -> Response {
        self.try_load_entitlements(version, source, csv)
            .await
            .unwrap()
    }

    /// Loads entitlements and returns the 202 body, asserting the status.
    pub async fn load_entitlements_ok(
        &self,
        version: ApiVersion,
        source: &str,
        csv: &str,
    ) -> Value {
        let resp = self.load_entitlements(version, source, Some(csv)).await;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body
    }

    pub async fn try_status(&self, version: ApiVersion, id: &str) -> reqwest::Result<Response> {
        self.get(version, "getAccountAggregationStatus", &[id])
            .send()
            .await
    }

    pub async fn status(&self, version: ApiVersion, id: &str) -> Response {
        self.try_status(version, id).await.unwrap()
    }

    pub async fn status_json(&self, version: ApiVersion, id: &str) -> Value {
        let resp = self.status(version, id).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    /// Polls until the status is `want` (panics after [`PATIENCE`]).
    pub async fn wait_for(&self, version: ApiVersion, id: &str, want: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let s = self.status_json(version, id).await;
            if s["status"] == want {
                return s;
            }
            assert!(Instant::now() < deadline, "still {s} after {PATIENCE:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Two different API versions of the table (the first two).
pub fn two_versions() -> (ApiVersion, ApiVersion) {
    let mut all = ApiVersion::all();
    (
        all.next().unwrap(),
        all.next().expect("at least two API versions"),
    )
}

/// The versions that serve every one of `operations`.
pub fn versions_with(operations: &[&str]) -> Vec<ApiVersion> {
    ApiVersion::all()
        .filter(|v| operations.iter().all(|o| v.operation(o).is_some()))
        .collect()
}

/// The property names the version's `operation` documents for its success body.
pub fn properties(version: ApiVersion, operation: &str) -> Vec<&'static str> {
    let mut props = version
        .operation(operation)
        .unwrap()
        .response_properties
        .to_vec();
    props.sort_unstable();
    props
}

/// The keys of a JSON object, sorted.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort_unstable();
    keys
}

pub fn task_id(task: &Value) -> String {
    task["task"]["id"].as_str().unwrap().to_owned()
}

pub fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

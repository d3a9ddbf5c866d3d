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

    pub fn import_url(&self, version: ApiVersion, source: &str) -> String {
        format!("{}/{version}/sources/{source}/load-accounts", self.base)
    }

    pub fn status_url(&self, version: ApiVersion, id: &str) -> String {
        format!("{}/{version}/account-aggregations/{id}/status", self.base)
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

    pub async fn try_status(&self, version: ApiVersion, id: &str) -> reqwest::Result<Response> {
        let mut req = self
            .http
            .get(self.status_url(version, id))
            .bearer_auth(&self.token);
        if version == ApiVersion::V2025 {
            req = req.header("X-SailPoint-Experimental", "true");
        }
        req.send().await
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

pub fn task_id(task: &Value) -> String {
    task["task"]["id"].as_str().unwrap().to_owned()
}

pub fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

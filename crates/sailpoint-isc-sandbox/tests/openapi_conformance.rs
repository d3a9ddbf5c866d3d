//! The sandbox's responses validate against the vendored OpenAPI documents in `openapi/`.
//!
//! A small checker walks the response schema of each (operation, status) pair and checks types,
//! `date-time` and `int32` formats, enums and nullability. It is stricter than OpenAPI in one way:
//! an object property the schema does not declare is an error unless `additionalProperties` is
//! given, so the sandbox cannot drift into sending fields ISC does not document.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Client, task_id};
use reqwest::{Response, StatusCode};
use sailpoint_isc_sandbox::{ApiVersion, Fault, Operation, Outcome, Sandbox};
use serde_json::{Value, json};

use ApiVersion::{Beta, V2025};

struct Spec {
    doc: Value,
}

impl Spec {
    fn load(version: ApiVersion) -> Spec {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../openapi")
            .join(format!("{version}.yaml"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let doc = serde_yaml::from_str(&text).expect("valid YAML");
        Spec { doc }
    }

    /// Follows `$ref`s within the document.
    fn resolve<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        while let Some(r) = v.get("$ref").and_then(Value::as_str) {
            let pointer = r.strip_prefix('#').expect("local $ref");
            v = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
        }
        v
    }

    fn response_schema(&self, path: &str, method: &str, status: u16) -> &Value {
        let op = &self.doc["paths"][path][method];
        assert!(op.is_object(), "no operation {method} {path}");
        let resp = self.resolve(&op["responses"][status.to_string()]);
        assert!(
            resp.is_object(),
            "{method} {path} declares no {status} response"
        );
        &resp["content"]["application/json"]["schema"]
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if value.is_null() {
            if schema.get("nullable") != Some(&json!(true)) {
                errors.push(format!("{at}: null but not nullable"));
            }
            return;
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array)
            && !values.contains(value)
        {
            errors.push(format!("{at}: {value} is not one of {values:?}"));
        }
        let ty = schema.get("type").and_then(Value::as_str);
        let format = schema.get("format").and_then(Value::as_str);
        match ty {
            None => {}
            Some("string") => match value.as_str() {
                None => errors.push(format!("{at}: expected a string, got {value}")),
                Some(s) if format == Some("date-time") => {
                    if chrono::DateTime::parse_from_rfc3339(s).is_err() {
                        errors.push(format!("{at}: {s:?} is not an RFC 3339 date-time"));
                    }
                }
                Some(_) => {}
            },
            Some("integer") => match value.as_i64() {
                None => errors.push(format!("{at}: expected an integer, got {value}")),
                Some(n) if format == Some("int32") && i32::try_from(n).is_err() => {
                    errors.push(format!("{at}: {n} is out of int32 range"));
                }
                Some(_) => {}
            },
            Some("number") if !value.is_number() => {
                errors.push(format!("{at}: expected a number, got {value}"));
            }
            Some("boolean") if !value.is_boolean() => {
                errors.push(format!("{at}: expected a boolean, got {value}"));
            }
            Some("array") => match value.as_array() {
                None => errors.push(format!("{at}: expected an array, got {value}")),
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check(&schema["items"], item, &format!("{at}[{i}]"), errors);
                    }
                }
            },
            Some("object") => match value.as_object() {
                None => errors.push(format!("{at}: expected an object, got {value}")),
                Some(map) => {
                    for (key, v) in map {
                        let at = format!("{at}.{key}");
                        match (
                            schema["properties"].get(key),
                            schema.get("additionalProperties"),
                        ) {
                            (Some(prop), _) => self.check(prop, v, &at, errors),
                            (None, Some(extra)) if extra.is_object() => {
                                self.check(extra, v, &at, errors);
                            }
                            (None, Some(Value::Bool(true))) => {}
                            _ => errors.push(format!("{at}: property not declared")),
                        }
                    }
                }
            },
            Some(_) => {}
        }
    }

    /// Validates a response body against the spec for `method path` and its status.
    fn validate(&self, path: &str, method: &str, status: u16, body: &Value) -> Vec<String> {
        let schema = self.response_schema(path, method, status);
        assert!(
            schema.is_object(),
            "{method} {path} {status} has no JSON schema"
        );
        let mut errors = Vec::new();
        self.check(schema, body, "$", &mut errors);
        errors
    }
}

const CSV: &str = "id,name\n1,Alice\n2,Bob\n";

fn import_path(version: ApiVersion) -> &'static str {
    match version {
        Beta => "/sources/{sourceId}/load-accounts",
        V2025 => "/sources/{id}/load-accounts",
    }
}

const STATUS_PATH: &str = "/account-aggregations/{id}/status";

/// Collects responses and checks each against the spec at the end.
struct Checker {
    beta: Spec,
    v2025: Spec,
    checked: Vec<(ApiVersion, &'static str, u16)>,
    errors: Vec<String>,
}

impl Checker {
    fn new() -> Self {
        Checker {
            beta: Spec::load(Beta),
            v2025: Spec::load(V2025),
            checked: Vec::new(),
            errors: Vec::new(),
        }
    }

    async fn check(
        &mut self,
        version: ApiVersion,
        path: &'static str,
        method: &str,
        resp: Response,
    ) -> Value {
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        let spec = match version {
            Beta => &self.beta,
            V2025 => &self.v2025,
        };
        for e in spec.validate(path, method, status, &body) {
            self.errors.push(format!(
                "{version} {method} {path} {status}: {e}\n  body: {body}"
            ));
        }
        self.checked.push((version, path, status));
        body
    }
}

#[test]
fn the_checker_rejects_wrong_bodies() {
    let spec = Spec::load(V2025);
    let ok =
        json!({"start": "2021-01-31T14:30:05.104Z", "status": "COMPLETED", "totalAccounts": 1});
    assert!(spec.validate(STATUS_PATH, "get", 200, &ok).is_empty());
    let wrong = [
        json!({"status": "DONE"}),
        json!({"status": null}),
        json!({"start": "yesterday"}),
        json!({"totalAccounts": "1"}),
        json!({"totalAccounts": 4_000_000_000_u64}),
        json!({"extra": 1}),
        json!([]),
    ];
    for body in wrong {
        assert!(
            !spec.validate(STATUS_PATH, "get", 200, &body).is_empty(),
            "accepted {body}"
        );
    }
    let beta = Spec::load(Beta);
    let task = json!({"success": true, "task": {"completionStatus": "Success", "messages": [{"type": "WARN", "error": "no"}]}});
    assert_eq!(
        beta.validate(import_path(Beta), "post", 202, &task).len(),
        2
    );
}

#[tokio::test]
async fn responses_match_the_vendored_specs() {
    let mut c = Checker::new();

    // Aggregations that stay STARTED, plus refusals and errors.
    let slow = Sandbox::builder()
        .collect_duration(Duration::from_secs(3600))
        .rate_limit(40, Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let client = Client::new(&slow).await;
    for version in [Beta, V2025] {
        let source = format!("src-{version}");
        let path = import_path(version);
        let task = c
            .check(
                version,
                path,
                "post",
                client
                    .import(version, &source, Some(CSV), Some("true"))
                    .await,
            )
            .await;
        let id = task_id(&task);
        let refused = c
            .check(
                version,
                path,
                "post",
                client.import(version, &source, None, None).await,
            )
            .await;
        assert_eq!(refused["task"]["completionStatus"], "ERROR");
        c.check(
            version,
            STATUS_PATH,
            "get",
            client.status(version, &id).await,
        )
        .await;
        c.check(
            version,
            STATUS_PATH,
            "get",
            client.status(version, &task_id(&refused)).await,
        )
        .await;
        c.check(
            version,
            STATUS_PATH,
            "get",
            client.status(version, "unknown").await,
        )
        .await;
        let unauthenticated = client
            .http
            .get(client.status_url(version, &id))
            .send()
            .await
            .unwrap();
        c.check(version, STATUS_PATH, "get", unauthenticated).await;
        let unauthenticated = client
            .http
            .post(client.import_url(version, &source))
            .send()
            .await
            .unwrap();
        c.check(version, path, "post", unauthenticated).await;
        let bad = client
            .http
            .post(client.import_url(version, &source))
            .bearer_auth(&client.token)
            .body("{}")
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        c.check(version, path, "post", bad).await;
        slow.inject(Operation::GetStatus, Fault::status(500), 1);
        c.check(
            version,
            STATUS_PATH,
            "get",
            client.status(version, &id).await,
        )
        .await;
        slow.inject(Operation::ImportAccounts, Fault::status(500), 1);
        c.check(
            version,
            path,
            "post",
            client.import(version, "x", None, None).await,
        )
        .await;
    }
    let no_header = client
        .http
        .get(client.status_url(V2025, "x"))
        .bearer_auth(&client.token)
        .send()
        .await
        .unwrap();
    assert_eq!(no_header.status(), StatusCode::BAD_REQUEST);
    c.check(V2025, STATUS_PATH, "get", no_header).await;
    // Spend the rate limit, then check the 429s.
    while client.status(Beta, "x").await.status() != StatusCode::TOO_MANY_REQUESTS {}
    while client.status(V2025, "x").await.status() != StatusCode::TOO_MANY_REQUESTS {}
    c.check(Beta, STATUS_PATH, "get", client.status(Beta, "x").await)
        .await;
    c.check(
        Beta,
        import_path(Beta),
        "post",
        client.import(Beta, "x", None, None).await,
    )
    .await;
    c.check(V2025, STATUS_PATH, "get", client.status(V2025, "x").await)
        .await;
    c.check(
        V2025,
        import_path(V2025),
        "post",
        client.import(V2025, "x", None, None).await,
    )
    .await;

    // Aggregations that stay ACCOUNTS_COLLECTED until forced to an end.
    let collected = Sandbox::builder()
        .collect_duration(Duration::ZERO)
        .process_duration(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let client = Client::new(&collected).await;
    for version in [Beta, V2025] {
        for (i, outcome) in [Outcome::Completed, Outcome::Cancelled, Outcome::Terminated]
            .into_iter()
            .enumerate()
        {
            let task = client
                .import_ok(version, &format!("s{i}"), Some(CSV), None)
                .await;
            let id = task_id(&task);
            let s = c
                .check(
                    version,
                    STATUS_PATH,
                    "get",
                    client.status(version, &id).await,
                )
                .await;
            assert_eq!(s["status"], "ACCOUNTS_COLLECTED");
            assert!(collected.force_outcome(&id, outcome));
            c.check(
                version,
                STATUS_PATH,
                "get",
                client.status(version, &id).await,
            )
            .await;
        }
    }

    assert!(c.errors.is_empty(), "{}", c.errors.join("\n"));
    let mut statuses: Vec<u16> = c.checked.iter().map(|(_, _, s)| *s).collect();
    statuses.sort_unstable();
    statuses.dedup();
    assert_eq!(statuses, [200, 202, 400, 401, 404, 429, 500]);
}

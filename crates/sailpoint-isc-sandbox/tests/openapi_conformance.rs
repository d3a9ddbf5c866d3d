//! The sandbox's responses validate against the vendored OpenAPI documents in `openapi/`.
//!
//! Every API version of the generated table ([`ApiVersion::all`]) is checked against its own
//! vendored document (found through `openapi/apis.yaml` by the version's name), for every
//! operation the table lists and the sandbox serves: success bodies in every state the sandbox
//! produces, and its error bodies (400, 401, 404, 429, 500).
//!
//! A small checker walks the response schema of each (operation, status) pair and checks types,
//! `date-time` and `int32` formats, enums, nullability and required properties. It is stricter
//! than OpenAPI in one way: an object property the schema does not declare is an error unless
//! `additionalProperties` is given, so the sandbox cannot drift into sending fields ISC does not
//! document. One documented exception: the 202 body of `importEntitlements`, whose schema
//! (`LoadEntitlementTask`) lists fewer fields than the service sends; the fields a real response
//! carries (`name`, `launched`, `completed`, `completionStatus`, `progress`, `messages`,
//! `parentName`, `attributes`) are added to the schema before checking ([`REAL_LOAD_TASK_FIELDS`]).
//!
//! `text/csv` answers (the schema headers) are checked for the documented media type and for
//! being one line.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use common::{Client, task_id};
use reqwest::{Response, StatusCode};
use sailpoint_isc_sandbox::{ApiVersion, Fault, Operation, Outcome, Sandbox};
use serde_json::{Value, json};

fn openapi_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi")
}

struct Spec {
    doc: Value,
}

impl Spec {
    /// The vendored document of `version`: the `spec` of its `openapi/apis.yaml` entry.
    fn load(version: ApiVersion) -> Spec {
        let read = |path: PathBuf| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            serde_yaml::from_str::<Value>(&text).expect("valid YAML")
        };
        let apis = read(openapi_dir().join("apis.yaml"));
        let entry = apis["apis"]
            .as_array()
            .expect("apis.yaml lists apis")
            .iter()
            .find(|a| a["name"] == version.name() || a["module"] == version.spec().module)
            .unwrap_or_else(|| panic!("apis.yaml has no entry for {version}"));
        let file = entry["spec"].as_str().expect("an entry names its spec");
        let mut doc = read(openapi_dir().join(file));
        if let Some(props) = doc
            .pointer_mut("/components/schemas/LoadEntitlementTask/properties")
            .and_then(Value::as_object_mut)
        {
            let real: Value = serde_json::from_str(REAL_LOAD_TASK_FIELDS).unwrap();
            for (k, v) in real.as_object().unwrap() {
                props.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
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

    /// The documented response for a status, or `None` if the status is not documented.
    fn response(&self, path: &str, method: &str, status: u16) -> Option<&Value> {
        let op = &self.doc["paths"][path][method];
        assert!(op.is_object(), "no operation {method} {path}");
        let resp = self.resolve(&op["responses"][status.to_string()]);
        resp.is_object().then_some(resp)
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
                    for required in schema
                        .get("required")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !map.contains_key(required) {
                            errors.push(format!("{at}: required property {required} missing"));
                        }
                    }
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

    /// Validates a response body against the spec for `method path` and its status. A status
    /// the spec documents without a body (ISC's task-status 404) accepts any body.
    fn validate(&self, path: &str, method: &str, status: u16, body: &Value) -> Vec<String> {
        let Some(resp) = self.response(path, method, status) else {
            return vec![format!("status {status} is not documented")];
        };
        let schema = &resp["content"]["application/json"]["schema"];
        if resp.get("content").is_none() {
            return Vec::new();
        }
        assert!(
            schema.is_object(),
            "{method} {path} {status} has no JSON schema"
        );
        let mut errors = Vec::new();
        self.check(schema, body, "$", &mut errors);
        errors
    }
}

/// Fields of a real `importEntitlements` 202 body that `LoadEntitlementTask` does not declare
/// (a response published with the community File Upload Utility, 2024): typed as the
/// corresponding fields of the task-status and load-accounts schemas.
const REAL_LOAD_TASK_FIELDS: &str = r#"{
    "name": {"type": "string"},
    "launched": {"type": "string", "format": "date-time", "nullable": true},
    "completed": {"type": "string", "format": "date-time", "nullable": true},
    "completionStatus": {"type": "string", "nullable": true, "enum": ["SUCCESS", "WARNING", "ERROR", "TERMINATED", "TEMPERROR"]},
    "progress": {"type": "string", "nullable": true},
    "parentName": {"type": "string", "nullable": true},
    "messages": {"type": "array", "items": {"type": "object", "properties": {
        "type": {"type": "string", "enum": ["INFO", "WARN", "ERROR"]},
        "error": {"type": "boolean"},
        "warning": {"type": "boolean"},
        "key": {"type": "string"},
        "localizedText": {"type": "string"}
    }}},
    "attributes": {"type": "object", "additionalProperties": true}
}"#;

const CSV: &str = "id,name\n1,Alice\n2,Bob\n";

const GROUPS_CSV: &str = "id,name,description\ng1,Admins,Admin group\ng2,Users,\n";

/// The operations the sandbox serves, by name.
const SERVED: &[&str] = &[
    "importAccounts",
    "getAccountAggregationStatus",
    "getTaskStatus",
    "getTaskStatusList",
    "listSources",
    "importEntitlements",
    "getAccountsSchema",
    "getEntitlementsSchema",
    "getSourceSchemas",
];

/// Collects responses and checks each against its version's spec.
struct Checker {
    specs: Vec<(ApiVersion, Spec)>,
    /// (version, operation name, status) of every response checked.
    checked: BTreeSet<(String, &'static str, u16)>,
    errors: Vec<String>,
}

impl Checker {
    fn new() -> Self {
        Checker {
            specs: ApiVersion::all().map(|v| (v, Spec::load(v))).collect(),
            checked: BTreeSet::new(),
            errors: Vec::new(),
        }
    }

    fn spec(&self, version: ApiVersion) -> &Spec {
        &self.specs.iter().find(|(v, _)| *v == version).unwrap().1
    }

    async fn check(
        &mut self,
        version: ApiVersion,
        operation: &'static str,
        resp: Response,
    ) -> Value {
        let op = version.operation(operation).unwrap();
        let method = op.method.to_ascii_lowercase();
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if content_type.starts_with("text/csv") {
            let text = resp.text().await.unwrap();
            let documented = self
                .spec(version)
                .response(op.path, &method, status)
                .is_some_and(|r| r["content"]["text/csv"].is_object());
            if !documented {
                self.errors.push(format!(
                    "{version} {operation} {status}: text/csv is not documented"
                ));
            }
            if text.contains('\n') {
                self.errors.push(format!(
                    "{version} {operation} {status}: more than a header line: {text:?}"
                ));
            }
            self.checked
                .insert((version.name().to_owned(), operation, status));
            return Value::String(text);
        }
        let body: Value = resp.json().await.unwrap();
        for e in self.spec(version).validate(op.path, &method, status, &body) {
            self.errors.push(format!(
                "{version} {operation} {status}: {e}\n  body: {body}"
            ));
        }
        self.checked
            .insert((version.name().to_owned(), operation, status));
        body
    }
}

#[test]
fn the_checker_rejects_wrong_bodies() {
    for version in ApiVersion::all() {
        let spec = Spec::load(version);
        let status = version.operation("getAccountAggregationStatus").unwrap();
        let ok =
            json!({"start": "2021-01-31T14:30:05.104Z", "status": "COMPLETED", "totalAccounts": 1});
        assert!(
            spec.validate(status.path, "get", 200, &ok).is_empty(),
            "{version}"
        );
        let wrong = [
            json!({"status": "DONE"}),
            json!({"status": null}),
            json!({"start": "yesterday"}),
            json!({"totalAccounts": "1"}),
            json!({"extra": 1}),
            json!([]),
        ];
        for body in wrong {
            assert!(
                !spec.validate(status.path, "get", 200, &body).is_empty(),
                "{version} accepted {body}"
            );
        }
        // A status the operation does not document.
        assert!(!spec.validate(status.path, "get", 418, &ok).is_empty());
        let import = version.operation("importAccounts").unwrap();
        let task = json!({"success": true, "task": {"completionStatus": "Success", "messages": [{"type": "WARN", "error": "no"}]}});
        assert_eq!(
            spec.validate(import.path, "post", 202, &task).len(),
            2,
            "{version}"
        );
    }
    // Required properties.
    let spec = Spec {
        doc: json!({"components": {"schemas": {"T": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}}}),
    };
    let schema = json!({"$ref": "#/components/schemas/T"});
    let mut errors = Vec::new();
    spec.check(&schema, &json!({}), "$", &mut errors);
    assert_eq!(errors, ["$: required property id missing"]);
}

/// An import whose 202 body is checked; returns the aggregation id.
async fn import(c: &mut Checker, client: &Client, version: ApiVersion, source: &str) -> Value {
    c.check(
        version,
        "importAccounts",
        client
            .import(version, source, Some(CSV), Some("true"))
            .await,
    )
    .await
}

#[tokio::test]
async fn responses_match_the_vendored_specs() {
    let mut c = Checker::new();
    let serves = |version: ApiVersion, name: &str| version.operation(name).is_some();

    // Aggregations that stay STARTED, plus refusals and errors.
    let slow = Sandbox::builder()
        .collect_duration(Duration::from_secs(3600))
        .no_rate_limit()
        .start()
        .await
        .unwrap();
    slow.add_source("HR \"Feed\"");
    let client = Client::new(&slow).await;
    for version in ApiVersion::all() {
        let source = format!("src-{version}");
        let id = task_id(&import(&mut c, &client, version, &source).await);
        let refused = import(&mut c, &client, version, &source).await;
        assert_eq!(refused["task"]["completionStatus"], "ERROR");
        let refused = task_id(&refused);

        c.check(
            version,
            "getAccountAggregationStatus",
            client.status(version, &id).await,
        )
        .await;
        c.check(
            version,
            "getAccountAggregationStatus",
            client.status(version, &refused).await,
        )
        .await;
        c.check(
            version,
            "getAccountAggregationStatus",
            client.status(version, "unknown").await,
        )
        .await;
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
        c.check(version, "importAccounts", bad).await;
        slow.inject(Operation::ImportAccounts, Fault::status(500), 1);
        c.check(
            version,
            "importAccounts",
            client.import(version, "x", None, None).await,
        )
        .await;
        slow.inject(
            Operation::ImportAccounts,
            Fault::status_after_processing(500),
            1,
        );
        c.check(
            version,
            "importAccounts",
            client
                .import(version, &format!("after-{version}"), None, None)
                .await,
        )
        .await;

        // Entitlement loads: one refused (an aggregation runs on the source), one accepted, one
        // without a file.
        let refused_load = c
            .check(
                version,
                "importEntitlements",
                client
                    .load_entitlements(version, &source, Some(GROUPS_CSV))
                    .await,
            )
            .await;
        assert_eq!(refused_load["completionStatus"], "ERROR", "{refused_load}");
        let load = c
            .check(
                version,
                "importEntitlements",
                client
                    .load_entitlements(version, &format!("groups-{version}"), Some(GROUPS_CSV))
                    .await,
            )
            .await;
        assert_eq!(load["completionStatus"], Value::Null, "{load}");
        let resp = client.load_entitlements(version, &source, None).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        c.check(version, "importEntitlements", resp).await;
        let load = load["id"].as_str().unwrap().to_owned();
        let refused_load = refused_load["id"].as_str().unwrap().to_owned();

        // Schemas: learned from the uploads above; an unknown source; a bad parameter.
        let groups_source = format!("groups-{version}");
        for (name, src) in [
            ("getAccountsSchema", source.as_str()),
            ("getEntitlementsSchema", groups_source.as_str()),
            ("getEntitlementsSchema", source.as_str()),
            ("getSourceSchemas", source.as_str()),
            ("getSourceSchemas", groups_source.as_str()),
        ] {
            let resp = client.get(version, name, &[src]).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{version} {name} {src}");
            c.check(version, name, resp).await;
        }
        for name in [
            "getAccountsSchema",
            "getEntitlementsSchema",
            "getSourceSchemas",
        ] {
            let resp = client.get(version, name, &["nope"]).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{version} {name}");
            c.check(version, name, resp).await;
        }
        let resp = client
            .get(version, "getSourceSchemas", &[&source])
            .query(&[("include-types", "role")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        c.check(version, "getSourceSchemas", resp).await;
        for name in ["getAccountsSchema", "getEntitlementsSchema"] {
            let bad = format!("{}/%FF", client.url(version, "listSources", &[]));
            let url = client.url(version, name, &["x"]).replace(
                &format!("{}/x", client.url(version, "listSources", &[])),
                &bad,
            );
            let resp = client
                .http
                .get(url)
                .bearer_auth(&client.token)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{version} {name}");
            c.check(version, name, resp).await;
        }

        if serves(version, "getTaskStatus") {
            for task in [&load, &refused_load] {
                c.check(
                    version,
                    "getTaskStatus",
                    client
                        .get(version, "getTaskStatus", &[task])
                        .send()
                        .await
                        .unwrap(),
                )
                .await;
            }
            for task in [&id, &refused] {
                c.check(
                    version,
                    "getTaskStatus",
                    client
                        .get(version, "getTaskStatus", &[task])
                        .send()
                        .await
                        .unwrap(),
                )
                .await;
            }
            c.check(
                version,
                "getTaskStatus",
                client
                    .get(version, "getTaskStatus", &["unknown"])
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
        }
        if serves(version, "getTaskStatusList") {
            let list = client.get(version, "getTaskStatusList", &[]);
            let all = c
                .check(version, "getTaskStatusList", list.send().await.unwrap())
                .await;
            assert!(all.as_array().unwrap().len() >= 2, "{all}");
            let bad = client
                .get(version, "getTaskStatusList", &[])
                .query(&[("filters", "status eq \"x\"")]);
            let resp = bad.send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
            c.check(version, "getTaskStatusList", resp).await;
        }
        if serves(version, "listSources") {
            let list = client
                .get(version, "listSources", &[])
                .query(&[("count", "true")]);
            let sources = c
                .check(version, "listSources", list.send().await.unwrap())
                .await;
            assert!(sources.as_array().unwrap().len() >= 2, "{sources}");
            let bad = client
                .get(version, "listSources", &[])
                .query(&[("limit", "251")]);
            let resp = bad.send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
            c.check(version, "listSources", resp).await;
        }

        // Unauthenticated, and 500 faults, on every operation.
        for &name in SERVED.iter().filter(|n| serves(version, n)) {
            let op = version.operation(name).unwrap();
            let args: Vec<&str> = if op.path.contains('{') {
                vec![&id]
            } else {
                vec![]
            };
            let url = client.url(version, name, &args);
            let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
            let resp = client
                .http
                .request(method.clone(), &url)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
            c.check(version, name, resp).await;
            let operation = Operation::from_name(name).unwrap();
            slow.inject(operation, Fault::status(500), 1);
            let resp = client
                .http
                .request(method, &url)
                .bearer_auth(&client.token)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
            c.check(version, name, resp).await;
        }
    }

    // The missing experimental header's 400, where the spec documents a 400 for the operation.
    for version in ApiVersion::all() {
        let spec = c.spec(version);
        let mut op = *version.operation("getAccountAggregationStatus").unwrap();
        if spec.response(op.path, "get", 400).is_none() {
            continue;
        }
        op.experimental = true;
        let strict = Sandbox::builder()
            .serve_operation(version, op)
            .start()
            .await
            .unwrap();
        let client = Client::new(&strict).await;
        let resp = client
            .http
            .get(client.status_url(version, "x"))
            .bearer_auth(&client.token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        c.check(version, "getAccountAggregationStatus", resp).await;
    }

    // 429s: one request per version and client fits, the next is refused.
    let limited = Sandbox::builder()
        .rate_limit(1, Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let client = Client::new(&limited).await;
    for version in ApiVersion::all() {
        assert_eq!(
            client.status(version, "x").await.status(),
            StatusCode::NOT_FOUND
        );
        for &name in SERVED.iter().filter(|n| serves(version, n)) {
            let op = version.operation(name).unwrap();
            let args: Vec<&str> = if op.path.contains('{') {
                vec!["x"]
            } else {
                vec![]
            };
            let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
            let resp = client
                .http
                .request(method, client.url(version, name, &args))
                .bearer_auth(&client.token)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
            c.check(version, name, resp).await;
        }
    }

    // Aggregations that stay ACCOUNTS_COLLECTED until forced to an end, in every outcome.
    let collected = Sandbox::builder()
        .collect_duration(Duration::ZERO)
        .process_duration(Duration::from_secs(3600))
        .no_rate_limit()
        .start()
        .await
        .unwrap();
    let client = Client::new(&collected).await;
    for version in ApiVersion::all() {
        for (i, outcome) in [
            Outcome::Completed,
            Outcome::CompletedWithWarnings,
            Outcome::Cancelled,
            Outcome::Terminated,
        ]
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
                    "getAccountAggregationStatus",
                    client.status(version, &id).await,
                )
                .await;
            assert_eq!(s["status"], "ACCOUNTS_COLLECTED");
            if serves(version, "getTaskStatus") {
                let t = c
                    .check(
                        version,
                        "getTaskStatus",
                        client
                            .get(version, "getTaskStatus", &[&id])
                            .send()
                            .await
                            .unwrap(),
                    )
                    .await;
                assert_eq!(t["completionStatus"], Value::Null);
            }
            let load = client
                .load_entitlements(version, &format!("g{i}"), Some(GROUPS_CSV))
                .await;
            assert_eq!(load.status(), StatusCode::ACCEPTED);
            let load: Value = load.json().await.unwrap();
            let load = load["id"].as_str().unwrap().to_owned();
            if serves(version, "getTaskStatus") {
                let t = c
                    .check(
                        version,
                        "getTaskStatus",
                        client
                            .get(version, "getTaskStatus", &[&load])
                            .send()
                            .await
                            .unwrap(),
                    )
                    .await;
                assert_eq!(t["completionStatus"], Value::Null);
            }
            assert!(collected.force_outcome(&load, outcome));
            if serves(version, "getTaskStatus") {
                let t = c
                    .check(
                        version,
                        "getTaskStatus",
                        client
                            .get(version, "getTaskStatus", &[&load])
                            .send()
                            .await
                            .unwrap(),
                    )
                    .await;
                assert!(t["completionStatus"].is_string(), "{t}");
            }
            assert!(collected.force_outcome(&id, outcome));
            c.check(
                version,
                "getAccountAggregationStatus",
                client.status(version, &id).await,
            )
            .await;
            if serves(version, "getTaskStatus") {
                let t = c
                    .check(
                        version,
                        "getTaskStatus",
                        client
                            .get(version, "getTaskStatus", &[&id])
                            .send()
                            .await
                            .unwrap(),
                    )
                    .await;
                assert!(t["completionStatus"].is_string(), "{t}");
            }
        }
        if serves(version, "getTaskStatusList") {
            let list = client
                .get(version, "getTaskStatusList", &[])
                .query(&[("count", "true"), ("sorters", "-created")]);
            let all = c
                .check(version, "getTaskStatusList", list.send().await.unwrap())
                .await;
            let statuses: BTreeSet<&str> = all
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|t| t["completionStatus"].as_str())
                .collect();
            assert_eq!(
                statuses,
                BTreeSet::from(["ERROR", "SUCCESS", "TERMINATED", "WARNING"])
            );
        }
    }

    assert!(c.errors.is_empty(), "{}", c.errors.join("\n"));

    // Every operation of every version was checked with its success status, and the sandbox
    // produced every error status the specs document for it.
    for version in ApiVersion::all() {
        for op in version.spec().operations {
            if Operation::from_name(op.name).is_none() {
                continue;
            }
            assert!(
                c.checked
                    .contains(&(version.name().to_owned(), op.name, op.success_status)),
                "{version} {} was never checked with {}",
                op.name,
                op.success_status
            );
        }
    }
    let statuses: BTreeSet<u16> = c.checked.iter().map(|(_, _, s)| *s).collect();
    assert_eq!(
        statuses,
        BTreeSet::from([200, 202, 400, 401, 404, 429, 500])
    );
}

//! Entitlement loads (`importEntitlements`) and source schemas, on every API version.

mod common;

use std::time::{Duration, Instant};

use common::{Client, PATIENCE, task_id};
use reqwest::StatusCode;
use sailpoint_isc_sandbox::{
    ApiVersion, Fault, Operation, Outcome, Sandbox, SchemaKind, SourceSchema,
};
use serde_json::{Value, json};

const ACCOUNTS: &str = "id,name,groups\n1,Alice,g1\n2,Bob,g2\n";
const GROUPS: &str = "id,name,description\ng1,Admins,Admin group\ng2,Users,\ng3,Guests,\n";

const CONCURRENT: &str = "This aggregation failed because the currently running aggregation must complete before the next one can start.";

const NEW_OPERATIONS: &[Operation] = &[
    Operation::ImportEntitlements,
    Operation::GetAccountsSchema,
    Operation::GetEntitlementsSchema,
    Operation::GetSourceSchemas,
];

/// Tasks that run until forced to an end.
async fn held() -> Sandbox {
    Sandbox::builder()
        .collect_duration(Duration::from_secs(3600))
        .no_rate_limit()
        .start()
        .await
        .unwrap()
}

/// Tasks that end right away.
async fn instant() -> Sandbox {
    Sandbox::builder()
        .collect_duration(Duration::ZERO)
        .process_duration(Duration::ZERO)
        .no_rate_limit()
        .start()
        .await
        .unwrap()
}

fn load_id(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

async fn task(client: &Client, version: ApiVersion, id: &str) -> Value {
    let resp = client
        .get(version, "getTaskStatus", &[id])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

async fn group_tasks(client: &Client, version: ApiVersion, source: &str) -> Vec<Value> {
    let filter = format!(r#"type eq "CLOUD_GROUP_AGGREGATION" and sourceId eq "{source}""#);
    let resp = client
        .get(version, "getTaskStatusList", &[])
        .query(&[("filters", filter.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json::<Vec<Value>>().await.unwrap()
}

async fn all_tasks(client: &Client, version: ApiVersion) -> usize {
    let resp = client
        .get(version, "getTaskStatusList", &[])
        .send()
        .await
        .unwrap();
    resp.json::<Vec<Value>>().await.unwrap().len()
}

async fn text(
    client: &Client,
    version: ApiVersion,
    op: &str,
    source: &str,
) -> (StatusCode, String) {
    let resp = client.get(version, op, &[source]).send().await.unwrap();
    let status = resp.status();
    if status == StatusCode::OK {
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/csv"), "{ct}");
    }
    (status, resp.text().await.unwrap())
}

async fn schemas(
    client: &Client,
    version: ApiVersion,
    source: &str,
    query: &[(&str, &str)],
) -> Vec<Value> {
    let resp = client
        .get(version, "getSourceSchemas", &[source])
        .query(query)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn every_version_serves_the_new_operations() {
    let sandbox = instant().await;
    let client = Client::new(&sandbox).await;
    for version in ApiVersion::all() {
        for op in NEW_OPERATIONS {
            assert!(sandbox.serves(version, *op), "{version} {op}");
        }
        let source = format!("s-{version}");
        let body = client.load_entitlements_ok(version, &source, GROUPS).await;
        assert_eq!(body["type"], "QUARTZ");
        assert_eq!(body["name"], "Cloud Group Aggregation");
        assert!(body.get("uniqueName").is_none());
        assert!(body.get("success").is_none(), "flat, no wrapper");
        assert_eq!(body["launched"], Value::Null);
        assert_eq!(body["completionStatus"], Value::Null);
        assert_eq!(body["messages"], json!([]));
        let labels: Vec<(&str, &str)> = body["returns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["displayLabel"].as_str().unwrap(),
                    r["attributeName"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            labels,
            [
                (
                    "TASK_OUT_ACCOUNT_GROUP_AGGREGATION_APPLICATIONS",
                    "applications"
                ),
                ("TASK_OUT_ACCOUNT_GROUP_AGGREGATION_TOTAL", "total"),
                (
                    "TASK_OUT_ACCOUNT_GROUP_AGGREGATION_CREATED",
                    "groupsCreated"
                ),
                (
                    "TASK_OUT_ACCOUNT_GROUP_AGGREGATION_UPDATED",
                    "groupsUpdated"
                ),
                (
                    "TASK_OUT_ACCOUNT_GROUP_AGGREGATION_DELETED",
                    "groupsDeleted"
                ),
            ]
        );
        assert_eq!(
            text(&client, version, "getEntitlementsSchema", &source).await,
            (StatusCode::OK, "id,name,description".to_owned())
        );
        assert_eq!(
            text(&client, version, "getAccountsSchema", &source).await,
            (StatusCode::OK, String::new()),
            "no account schema yet"
        );
        let all = schemas(&client, version, &source, &[]).await;
        assert_eq!(all.len(), 1);
        assert_eq!(all[0]["name"], "group");
    }
    assert_eq!(
        sandbox.entitlement_uploads().len(),
        ApiVersion::all().count()
    );
    assert!(
        sandbox.uploads().is_empty(),
        "accounts uploads are separate"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_entitlement_load_is_a_group_aggregation_task() {
    let sandbox = held().await;
    let client = Client::new(&sandbox).await;
    for version in ApiVersion::all() {
        let source = format!("src-{version}");
        let id = load_id(&client.load_entitlements_ok(version, &source, GROUPS).await);
        assert_eq!(sandbox.entitlement_loads_started(&source), 1);
        assert_eq!(sandbox.aggregations_started(&source), 0);

        // Listed under its type and source, running.
        let listed = group_tasks(&client, version, &source).await;
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0]["id"], id.as_str());
        let t = &listed[0];
        assert_eq!(t["uniqueName"], "Cloud Group Aggregation");
        assert_eq!(t["completionStatus"], Value::Null);
        assert_eq!(t["completed"], Value::Null);
        assert_eq!(t["progress"], "Initializing...");
        assert_eq!(t["percentComplete"], 0);
        assert_eq!(t["target"]["id"], source.as_str());
        assert!(t["attributes"].get("total").is_none());
        let accounts = format!(r#"type eq "CLOUD_ACCOUNT_AGGREGATION" and sourceId eq "{source}""#);
        let resp = client
            .get(version, "getTaskStatusList", &[])
            .query(&[("filters", accounts.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.json::<Vec<Value>>().await.unwrap().len(), 0);
        // No aggregation status for entitlement loads.
        assert_eq!(
            client.status(version, &id).await.status(),
            StatusCode::NOT_FOUND
        );

        // Completed: the counts of `returns` in the attributes.
        assert!(sandbox.force_outcome(&id, Outcome::Completed));
        let t = task(&client, version, &id).await;
        assert_eq!(t["completionStatus"], "SUCCESS");
        assert!(t["completed"].is_string());
        assert_eq!(t["percentComplete"], 100);
        let counts = |t: &Value| -> Vec<Value> {
            [
                "applications",
                "total",
                "groupsCreated",
                "groupsUpdated",
                "groupsDeleted",
            ]
            .iter()
            .map(|k| t["attributes"][k].clone())
            .collect()
        };
        assert_eq!(
            counts(&t),
            [json!(1), json!(3), json!(3), json!(0), json!(0)]
        );

        // The next load is compared with this one: g1 changed, g3 gone, g4 new, g2 same.
        let next = "id,name,description\ng1,Admins,Changed\ng2,Users,\ng4,New,\n";
        let id2 = load_id(&client.load_entitlements_ok(version, &source, next).await);
        assert!(sandbox.force_outcome(&id2, Outcome::Completed));
        let t = task(&client, version, &id2).await;
        assert_eq!(
            counts(&t),
            [json!(1), json!(3), json!(1), json!(1), json!(1)]
        );
        let loads = sandbox.entitlement_loads();
        let info = loads.iter().find(|l| l.id == id2).unwrap();
        assert_eq!(
            (info.total, info.created, info.updated, info.deleted),
            (3, 1, 1, 1)
        );
        assert_eq!(group_tasks(&client, version, &source).await.len(), 2);
    }
    assert!(sandbox.aggregations().is_empty());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn entitlement_loads_run_to_completion_with_the_configured_durations() {
    let sandbox = Sandbox::builder()
        .collect_duration(Duration::from_millis(30))
        .process_duration(Duration::from_millis(30))
        .no_rate_limit()
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;
    let version = ApiVersion::default();
    let id = load_id(&client.load_entitlements_ok(version, "s", GROUPS).await);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let t = task(&client, version, &id).await;
        if let Some(status) = t["completionStatus"].as_str() {
            assert_eq!(status, "SUCCESS", "{t}");
            assert_eq!(t["attributes"]["total"], 3);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running after {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sandbox.set_entitlement_load_outcome("s", Outcome::Terminated);
    let id = load_id(&client.load_entitlements_ok(version, "s", GROUPS).await);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let t = task(&client, version, &id).await;
        if let Some(status) = t["completionStatus"].as_str() {
            assert_eq!(status, "ERROR");
            assert_eq!(t["messages"][0]["type"], "ERROR");
            assert!(t["attributes"].get("total").is_none());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running after {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn loads_and_aggregations_on_one_source_exclude_each_other() {
    let sandbox = held().await;
    let client = Client::new(&sandbox).await;
    let version = ApiVersion::default();

    let agg = task_id(&client.import_ok(version, "s", Some(ACCOUNTS), None).await);
    let refused = client.load_entitlements_ok(version, "s", GROUPS).await;
    assert_eq!(refused["completionStatus"], "ERROR");
    assert_eq!(refused["completed"], refused["created"]);
    assert_eq!(refused["messages"][0]["key"], CONCURRENT);
    let t = task(&client, version, &load_id(&refused)).await;
    assert_eq!(t["completionStatus"], "ERROR");
    assert_eq!(t["messages"][0]["localizedText"]["message"], CONCURRENT);
    assert_eq!(sandbox.entitlement_loads_started("s"), 0);
    assert!(!sandbox.entitlement_uploads()[0].accepted);
    // Another source is free.
    assert_eq!(
        client.load_entitlements_ok(version, "t", GROUPS).await["completionStatus"],
        Value::Null
    );

    assert!(sandbox.force_outcome(&agg, Outcome::Completed));
    let load = load_id(&client.load_entitlements_ok(version, "s", GROUPS).await);
    let blocked = client.import_ok(version, "s", Some(ACCOUNTS), None).await;
    assert_eq!(blocked["task"]["completionStatus"], "ERROR");
    assert_eq!(sandbox.aggregations_started("s"), 1);
    assert!(sandbox.force_outcome(&load, Outcome::Completed));
    let again = client.import_ok(version, "s", Some(ACCOUNTS), None).await;
    assert_eq!(again["task"]["completionStatus"], Value::Null);
    assert_eq!(sandbox.aggregations_started("s"), 2);
    assert_eq!(sandbox.entitlement_loads_started("s"), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_load_needs_a_non_empty_file_part() {
    let sandbox = instant().await;
    let client = Client::new(&sandbox).await;
    for version in ApiVersion::all() {
        let missing = client.load_entitlements(version, "s", None).await;
        assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
        let body: Value = missing.json().await.unwrap();
        assert_eq!(body["detailCode"], "400.1 Bad Request Content");
        assert_eq!(
            body["messages"][0]["text"],
            "Required request part 'file' is not present"
        );
        let empty = client.load_entitlements(version, "s", Some("")).await;
        assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
        let body: Value = empty.json().await.unwrap();
        assert_eq!(body["messages"][0]["text"], "The 'file' part is empty.");
        let form = client
            .http
            .post(client.url(version, "importEntitlements", &["s"]))
            .bearer_auth(&client.token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("file=x")
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), StatusCode::BAD_REQUEST);
    }
    assert!(sandbox.entitlement_uploads().is_empty());
    assert_eq!(sandbox.entitlement_loads_started("s"), 0);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn schemas_set_by_a_test_are_served_as_csv_and_json() {
    let sandbox = instant().await;
    let client = Client::new(&sandbox).await;
    let source = sandbox.add_source("HR");
    sandbox.set_schema(
        &source,
        SchemaKind::Account,
        SourceSchema::new([
            "id",
            "name",
            "givenName",
            "familyName",
            "e-mail",
            "location",
            "manager",
            "groups",
            "startDate",
            "endDate",
        ])
        .display_attribute("name")
        .entitlement_attributes(["groups"]),
    );
    sandbox.set_schema(
        &source,
        SchemaKind::Group,
        SourceSchema::new(["name", "id", "description"])
            .identity_attribute("id")
            .multi_valued(["description"]),
    );
    assert_eq!(
        sandbox
            .schema(&source, SchemaKind::Group)
            .unwrap()
            .identity_attribute,
        "id"
    );
    for version in ApiVersion::all() {
        assert_eq!(
            text(&client, version, "getAccountsSchema", &source).await,
            (
                StatusCode::OK,
                "id,name,givenName,familyName,e-mail,location,manager,groups,startDate,endDate"
                    .to_owned()
            )
        );
        assert_eq!(
            text(&client, version, "getEntitlementsSchema", &source)
                .await
                .1,
            "name,id,description"
        );
        for (name, expected) in [("group", "name,id,description"), ("account", "id,name,")] {
            let resp = client
                .get(version, "getEntitlementsSchema", &[&source])
                .query(&[("schemaName", name)])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert!(resp.text().await.unwrap().starts_with(expected));
        }
        let resp = client
            .get(version, "getEntitlementsSchema", &[&source])
            .query(&[("schemaName", "role")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);

        let all = schemas(&client, version, &source, &[]).await;
        let names: Vec<&str> = all.iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["account", "group"]);
        let account = &all[0];
        assert_eq!(account["identityAttribute"], "id");
        assert_eq!(account["displayAttribute"], "name");
        assert_eq!(account["nativeObjectType"], "account");
        assert_eq!(account["attributes"].as_array().unwrap().len(), 10);
        let groups = &account["attributes"][7];
        assert_eq!(groups["name"], "groups");
        assert_eq!(groups["type"], "STRING");
        assert_eq!(groups["isEntitlement"], true);
        assert_eq!(groups["isGroup"], true);
        assert_eq!(groups["isMulti"], true);
        assert_eq!(groups["schema"]["id"], all[1]["id"]);
        assert_eq!(account["attributes"][0]["isEntitlement"], false);
        let group = &all[1];
        assert_eq!(group["identityAttribute"], "id");
        assert_eq!(group["attributes"][2]["isMulti"], true);

        let only =
            |q: &'static [(&'static str, &'static str)]| schemas(&client, version, &source, q);
        let names = |v: Vec<Value>| -> Vec<String> {
            v.iter()
                .map(|s| s["name"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(names(only(&[("include-types", "group")]).await), ["group"]);
        assert_eq!(names(only(&[("include-types", "user")]).await), ["account"]);
        assert_eq!(names(only(&[("include-names", "group")]).await), ["group"]);
        assert_eq!(
            names(only(&[("include-names", "account, group")]).await),
            ["account", "group"]
        );
        assert!(
            only(&[("include-types", "user"), ("include-names", "group")])
                .await
                .is_empty()
        );
        let bad = client
            .get(version, "getSourceSchemas", &[&source])
            .query(&[("include-types", "role")])
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

        // Unknown sources are 404s in ISC's error shape.
        for op in [
            "getAccountsSchema",
            "getEntitlementsSchema",
            "getSourceSchemas",
        ] {
            let resp = client.get(version, op, &["unknown"]).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{version} {op}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["detailCode"], "404 Not found");
            assert_eq!(
                body["messages"][0]["text"],
                "Source with id 'unknown' was not found."
            );
        }
    }

    // The group schema keys rows by its identity attribute, the second column.
    let version = ApiVersion::default();
    let first = "name,id,description\nAdmins,g1,x\nUsers,g2,y\n";
    let id = load_id(&client.load_entitlements_ok(version, &source, first).await);
    let t = task(&client, version, &id).await;
    assert_eq!(t["attributes"]["groupsCreated"], 2);
    // Renamed groups, same ids: updates, not creations and deletions.
    let renamed = "name,id,description\nAdministrators,g1,x\nEveryone,g2,y\n";
    let id = load_id(&client.load_entitlements_ok(version, &source, renamed).await);
    let t = task(&client, version, &id).await;
    assert_eq!(t["attributes"]["groupsUpdated"], 2);
    assert_eq!(t["attributes"]["groupsCreated"], 0);
    assert_eq!(t["attributes"]["groupsDeleted"], 0);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_first_upload_teaches_the_schema_and_later_headers_must_match() {
    let sandbox = instant().await;
    let client = Client::new(&sandbox).await;
    for version in ApiVersion::all() {
        let source = format!("s-{version}");
        // The first accounts file sets the account schema: BOM and CRLF are not part of it.
        let first = "\u{FEFF}id,name,email\r\n1,Alice,a@x\r\n";
        client.import_ok(version, &source, Some(first), None).await;
        let learned = sandbox.schema(&source, SchemaKind::Account).unwrap();
        assert_eq!(learned.columns, ["id", "name", "email"]);
        assert_eq!(learned.identity_attribute, "id");
        assert_eq!(
            text(&client, version, "getAccountsSchema", &source).await.1,
            "id,name,email"
        );
        // Same header without BOM, LF: fine.
        client
            .import_ok(version, &source, Some("id,name,email\n1,Alice,a@x\n"), None)
            .await;
        let started = sandbox.aggregations_started(&source);
        let uploads = sandbox.uploads().len();
        let tasks = all_tasks(&client, version).await;

        let resp = client
            .import(version, &source, Some("id,Name,mail\n1,Alice,a@x\n"), None)
            .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["detailCode"], "400.1 Bad Request Content");
        assert!(body["trackingId"].is_string());
        assert_eq!(
            body["messages"],
            json!([{
                "locale": "en-US",
                "localeOrigin": "DEFAULT",
                "text": "Column: [Name, mail] is unknown and/or column: [name, email] is missing",
            }])
        );
        let resp = client
            .import(version, &source, Some("id,email,name\n"), None)
            .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body["messages"][0]["text"],
            "Column: [email, name] is unknown and/or column: [name, email] is missing"
        );
        // Nothing started or recorded.
        assert_eq!(sandbox.aggregations_started(&source), started);
        assert_eq!(sandbox.uploads().len(), uploads);
        assert_eq!(all_tasks(&client, version).await, tasks);
        // A direct-connect import (no file) is not checked.
        client.import_ok(version, &source, None, None).await;

        // Entitlement files follow the group schema, learned separately.
        client.load_entitlements_ok(version, &source, GROUPS).await;
        let resp = client
            .load_entitlements(version, &source, Some("id,name\ng1,A\n"))
            .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body["messages"][0]["text"],
            "Column: [] is unknown and/or column: [description] is missing"
        );
        assert_eq!(sandbox.entitlement_loads_started(&source), 1);
        assert_eq!(group_tasks(&client, version, &source).await.len(), 1);
    }
    // A header set by a test wins over any upload.
    sandbox.set_schema(
        "fixed",
        SchemaKind::Account,
        SourceSchema::new(["id", "name"]),
    );
    let resp = client
        .import(
            ApiVersion::default(),
            "fixed",
            Some("id,name,email\n"),
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["messages"][0]["text"],
        "Column: [email] is unknown and/or column: [] is missing"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn faults_apply_to_entitlement_loads_like_imports() {
    let sandbox = held().await;
    let client = Client::new(&sandbox).await;
    // Faults that act after the load was processed: it started exactly once although the
    // client saw no 202.
    let ambiguous = || {
        [
            Fault::DropAfterProcessing,
            Fault::status_after_processing(502),
            Fault::DelayAfterProcessing(Duration::from_secs(3600)),
        ]
    };
    for version in ApiVersion::all() {
        for (i, fault) in ambiguous().into_iter().enumerate() {
            let source = format!("after-{version}-{i}");
            sandbox.inject(Operation::ImportEntitlements, fault.clone(), 1);
            let request = client.try_load_entitlements(version, &source, Some(GROUPS));
            tokio::pin!(request);
            // A held response is given up once the load has started (no timing margin).
            let deadline = Instant::now() + PATIENCE;
            let result = loop {
                tokio::select! {
                    result = &mut request => break Some(result),
                    () = tokio::time::sleep(Duration::from_millis(5)) => {
                        if matches!(fault, Fault::DelayAfterProcessing(_))
                            && sandbox.entitlement_loads_started(&source) == 1
                        {
                            break None;
                        }
                        assert!(Instant::now() < deadline, "{version} {fault:?}: no answer");
                    }
                }
            };
            match (&fault, result) {
                (Fault::DropAfterProcessing, Some(Err(_))) => {}
                (Fault::StatusAfterProcessing { .. }, Some(Ok(resp))) => {
                    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
                }
                (Fault::DelayAfterProcessing(_), None) => {}
                (fault, other) => panic!("{version} {fault:?}: {other:?}"),
            }
            assert_eq!(
                sandbox.entitlement_loads_started(&source),
                1,
                "{version} {fault:?}"
            );
            let listed = group_tasks(&client, version, &source).await;
            assert_eq!(listed.len(), 1, "{version} {fault:?}");
            assert_eq!(listed[0]["completionStatus"], Value::Null);
            // A retry meets the running load, as ISC's refusal.
            let retry = client.load_entitlements_ok(version, &source, GROUPS).await;
            assert_eq!(retry["completionStatus"], "ERROR");
            assert_eq!(sandbox.entitlement_loads_started(&source), 1);
        }

        // Faults before the load was processed: nothing starts.
        let before = [
            Fault::status(503),
            Fault::DropConnection,
            Fault::cut_body(10),
        ];
        for (i, fault) in before.into_iter().enumerate() {
            let source = format!("before-{version}-{i}");
            sandbox.inject(Operation::ImportEntitlements, fault.clone(), 1);
            match client
                .try_load_entitlements(version, &source, Some(GROUPS))
                .await
            {
                Ok(resp) => assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE),
                Err(_) => assert!(!matches!(fault, Fault::Status { .. })),
            }
            assert_eq!(
                sandbox.entitlement_loads_started(&source),
                0,
                "{version} {fault:?}"
            );
            assert!(group_tasks(&client, version, &source).await.is_empty());
        }
    }
    assert_eq!(sandbox.pending_faults(Operation::ImportEntitlements), 0);
    // Faults are per operation: accounts imports are untouched.
    sandbox.inject(Operation::ImportEntitlements, Fault::status(500), 1);
    client
        .import_ok(ApiVersion::default(), "accounts", Some(ACCOUNTS), None)
        .await;
    assert_eq!(sandbox.pending_faults(Operation::ImportEntitlements), 1);
    sandbox.clear_faults();

    // Schema reads take faults too.
    sandbox.add_source("x");
    for op in [
        Operation::GetAccountsSchema,
        Operation::GetEntitlementsSchema,
        Operation::GetSourceSchemas,
    ] {
        sandbox.inject(op, Fault::status(429), 1);
        let name = op.name().unwrap();
        let resp = client
            .get(ApiVersion::default(), name, &["x"])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "{name}");
        assert_eq!(sandbox.request_count(op), 1);
    }
    sandbox.shutdown().await;
}

//! Task status, sources, retention and the faults around them, over loopback HTTP, in every
//! version of the generated table.

mod common;

use std::time::{Duration, Instant};

use common::{Client, PATIENCE, task_id};
use reqwest::StatusCode;
use sailpoint_isc_sandbox::{
    ApiVersion, Fault, Operation, OperationSpec, Outcome, Sandbox, SandboxBuilder,
};
use serde_json::Value;

const CSV: &str = "id,name\n1,Alice\n2,Bob\n3,Carol\n";

/// The task or source operation `name` of `version`, from the generated table.
fn operation(version: ApiVersion, name: &'static str) -> OperationSpec {
    *version
        .operation(name)
        .unwrap_or_else(|| panic!("{version} has no {name}"))
}

fn builder() -> SandboxBuilder {
    Sandbox::builder()
}

fn instant() -> SandboxBuilder {
    builder()
        .collect_duration(Duration::ZERO)
        .process_duration(Duration::ZERO)
}

/// A GET of a task or source operation.
fn get(
    client: &Client,
    version: ApiVersion,
    name: &'static str,
    args: &[&str],
) -> reqwest::RequestBuilder {
    let op = operation(version, name);
    let url = format!(
        "{}{}{}",
        client.base,
        version.base_path(),
        op.expand_path(args)
    );
    client.http.get(url).bearer_auth(&client.token)
}

async fn json_ok(req: reqwest::RequestBuilder) -> (Value, reqwest::header::HeaderMap) {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    (body, headers)
}

async fn task(client: &Client, version: ApiVersion, id: &str) -> Value {
    json_ok(get(client, version, "getTaskStatus", &[id]))
        .await
        .0
}

async fn tasks(client: &Client, version: ApiVersion, query: &[(&str, &str)]) -> Vec<Value> {
    let (body, _) = json_ok(get(client, version, "getTaskStatusList", &[]).query(query)).await;
    body.as_array().unwrap().clone()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_aggregation_is_a_task_with_the_same_id() {
    let sandbox = builder()
        .collect_duration(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;
    for version in ApiVersion::all() {
        assert!(sandbox.serves(version, Operation::GetTaskStatus));
        let source = format!("src-{version}");
        let started = client.import_ok(version, &source, Some(CSV), None).await;
        let id = task_id(&started);
        // Every version reads the same tenant.
        for reader in ApiVersion::all() {
            let t = task(&client, reader, &id).await;
            assert_eq!(t["id"], id.as_str());
            assert_eq!(t["type"], "QUARTZ");
            assert_eq!(t["uniqueName"], "Cloud Account Aggregation");
            assert_eq!(t["launcher"], "System");
            assert_eq!(t["completionStatus"], Value::Null);
            assert_eq!(t["completed"], Value::Null);
            assert_eq!(t["progress"], "Initializing...");
            assert_eq!(t["target"]["id"], source.as_str());
            assert_eq!(t["target"]["name"], format!("Source {source} [source]"));
            assert_eq!(t["attributes"]["appId"], source.as_str());
            assert_eq!(t["created"], started["task"]["created"]);
            let created = t["created"].as_str().unwrap();
            assert!(
                chrono::DateTime::parse_from_rfc3339(created).is_ok(),
                "{created}"
            );
        }
    }
    let resp = get(&client, ApiVersion::default(), "getTaskStatus", &["nope"])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        sandbox.request_count(Operation::GetTaskStatus),
        ApiVersion::all().len().pow(2) + 1
    );
}

#[tokio::test]
async fn completion_status_follows_the_outcome() {
    let sandbox = builder()
        .collect_duration(Duration::ZERO)
        .process_duration(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;
    let version = ApiVersion::default();
    let cases = [
        (Outcome::Completed, "COMPLETED", "SUCCESS", None),
        (
            Outcome::CompletedWithWarnings,
            "COMPLETED",
            "WARNING",
            Some("WARN"),
        ),
        (Outcome::Cancelled, "CANCELLED", "TERMINATED", Some("WARN")),
        (Outcome::Terminated, "TERMINATED", "ERROR", Some("ERROR")),
    ];
    for (i, (outcome, status, completion, message)) in cases.into_iter().enumerate() {
        let id = task_id(
            &client
                .import_ok(version, &format!("s{i}"), Some(CSV), None)
                .await,
        );
        let running = task(&client, version, &id).await;
        assert_eq!(running["completionStatus"], Value::Null);
        assert_eq!(running["progress"], "Processing accounts: 0 of 3");
        assert!(sandbox.force_outcome(&id, outcome));
        assert_eq!(client.status_json(version, &id).await["status"], status);
        let done = task(&client, version, &id).await;
        assert_eq!(done["completionStatus"], completion, "{outcome:?}");
        let messages = done["messages"].as_array().unwrap();
        match message {
            None => assert!(messages.is_empty(), "{done}"),
            Some(kind) => {
                assert_eq!(messages.len(), 1, "{done}");
                assert_eq!(messages[0]["type"], kind);
                assert!(messages[0]["localizedText"]["message"].is_string());
            }
        }
        let completed = done["completed"].as_str().expect("completed is set");
        assert!(completed >= done["created"].as_str().unwrap());
    }
    // A start refused because another aggregation runs is an ERROR task with the warning.
    let running = task_id(&client.import_ok(version, "busy", Some(CSV), None).await);
    let refused = task_id(&client.import_ok(version, "busy", Some(CSV), None).await);
    assert_ne!(running, refused);
    let t = task(&client, version, &refused).await;
    assert_eq!(t["completionStatus"], "ERROR");
    assert_eq!(t["messages"][0]["type"], "WARN");
    assert_eq!(sandbox.aggregations_started("busy"), 1);
}

#[tokio::test]
async fn task_list_filters_sorts_and_pages() {
    let sandbox = builder()
        .collect_duration(Duration::ZERO)
        .process_duration(Duration::from_secs(3600))
        .no_rate_limit()
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;
    let version = ApiVersion::default();
    let mut started = Vec::new();
    for source in ["a", "b", "a", "c"] {
        let id = task_id(&client.import_ok(version, source, Some(CSV), None).await);
        if source == "a" {
            // Let the next aggregation on "a" start.
            assert!(sandbox.force_outcome(&id, Outcome::Completed));
        }
        started.push(id);
    }
    assert!(sandbox.force_outcome(&started[3], Outcome::Terminated));

    for version in ApiVersion::all() {
        assert_eq!(ids(&tasks(&client, version, &[]).await), started);
        let mut newest_first = started.clone();
        newest_first.reverse();
        assert_eq!(
            ids(&tasks(&client, version, &[("sorters", "-created")]).await),
            newest_first
        );
        assert_eq!(
            ids(&tasks(&client, version, &[("sorters", "created")]).await),
            started
        );

        let filtered = |filters: &'static str| {
            let client = &client;
            async move { ids(&tasks(client, version, &[("filters", filters)]).await) }
        };
        assert_eq!(
            filtered(r#"sourceId eq "a""#).await,
            [started[0].clone(), started[2].clone()]
        );
        assert_eq!(
            filtered(r#"type eq "CLOUD_ACCOUNT_AGGREGATION" and sourceId eq "b" and completionStatus isnull"#)
                .await,
            [started[1].as_str()]
        );
        assert_eq!(
            filtered(r#"completionStatus isnull"#).await,
            [started[1].as_str()]
        );
        assert_eq!(
            filtered(r#"completionStatus eq "Success""#).await,
            [started[0].clone(), started[2].clone()]
        );
        assert_eq!(
            filtered(r#"completionStatus in ("ERROR", "SUCCESS") and sourceId in ("c", "b")"#)
                .await,
            [started[3].as_str()]
        );
        assert_eq!(filtered(r#"launcher eq "System""#).await.len(), 4);
        assert!(
            filtered(r#"type in ("CLOUD_GROUP_AGGREGATION")"#)
                .await
                .is_empty()
        );
        let id_in = format!(r#"id in ("{}","{}")"#, started[3], started[1]);
        let resp = get(&client, version, "getTaskStatusList", &[])
            .query(&[("filters", id_in.as_str())])
            .send()
            .await
            .unwrap();
        let found: Vec<Value> = resp.json().await.unwrap();
        assert_eq!(ids(&found), [started[1].clone(), started[3].clone()]);

        // Paging, with the total on request only.
        let (page, headers) = json_ok(get(&client, version, "getTaskStatusList", &[]).query(&[
            ("limit", "2"),
            ("offset", "1"),
            ("count", "true"),
            ("sorters", "-created"),
        ]))
        .await;
        assert_eq!(
            ids(page.as_array().unwrap()),
            [started[2].clone(), started[1].clone()]
        );
        assert_eq!(headers["x-total-count"], "4");
        let (_, headers) =
            json_ok(get(&client, version, "getTaskStatusList", &[]).query(&[("limit", "1")])).await;
        assert!(headers.get("x-total-count").is_none());
        let (page, _) =
            json_ok(get(&client, version, "getTaskStatusList", &[]).query(&[("offset", "9")]))
                .await;
        assert_eq!(page, Value::Array(vec![]));
    }
}

#[tokio::test]
async fn bad_collection_parameters_get_isc_400s() {
    let sandbox = instant().start().await.unwrap();
    let client = Client::new(&sandbox).await;
    let version = ApiVersion::default();
    let bad_tasks = [
        ("filters", r#"status eq "x""#),
        ("filters", r#"id eq "a" or id eq "b""#),
        ("filters", r#"completionStatus sw "S""#),
        ("filters", r#"id eq "unterminated"#),
        ("sorters", "name"),
        ("limit", "251"),
        ("limit", "-1"),
        ("offset", "x"),
        ("count", "maybe"),
    ];
    for (name, value) in bad_tasks {
        let resp = get(&client, version, "getTaskStatusList", &[])
            .query(&[(name, value)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{name}={value}");
        let rid = resp.headers()["slpt-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["detailCode"], "400.1 Bad Request Content");
        assert_eq!(body["trackingId"], rid.as_str());
        assert!(body["messages"][0]["text"].is_string(), "{body}");
    }
    for (name, value) in [
        ("filters", r#"name eq "x" and owner.id eq "y""#),
        ("filters", r#"name eq x"#),
        ("limit", "1000"),
    ] {
        let resp = get(&client, version, "listSources", &[])
            .query(&[(name, value)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{name}={value}");
    }
    assert_eq!(
        sandbox
            .requests()
            .iter()
            .filter(|r| r.status == Some(400))
            .count(),
        12
    );
}

#[tokio::test]
async fn sources_appear_on_import_and_can_share_a_name() {
    let sandbox = instant().no_rate_limit().start().await.unwrap();
    let client = Client::new(&sandbox).await;
    let hr1 = sandbox.add_source("HR \"Feed\"");
    let hr2 = sandbox.add_source("HR \"Feed\"");
    assert_ne!(hr1, hr2);
    let other = sandbox.add_source("Payroll");
    client
        .import_ok(ApiVersion::default(), "imported", Some(CSV), None)
        .await;
    client
        .import_ok(ApiVersion::default(), &hr1, Some(CSV), None)
        .await;
    let sources = sandbox.sources();
    assert_eq!(sources.len(), 4, "{sources:?}");
    assert_eq!(sources[3].id, "imported");
    assert_eq!(sources[3].name, "Source imported");

    for version in ApiVersion::all() {
        let list = |query: Vec<(&'static str, String)>| {
            let client = &client;
            async move {
                json_ok(get(client, version, "listSources", &[]).query(&query))
                    .await
                    .0
                    .as_array()
                    .unwrap()
                    .clone()
            }
        };
        let all = list(vec![]).await;
        assert_eq!(
            ids(&all),
            [
                hr1.clone(),
                hr2.clone(),
                other.clone(),
                "imported".to_owned()
            ]
        );
        assert_eq!(all[0]["name"], "HR \"Feed\"");
        // Names are matched exactly, quotes escaped with a backslash.
        let same_name = list(vec![("filters", r#"name eq "HR \"Feed\"""#.to_owned())]).await;
        assert_eq!(ids(&same_name), [hr1.clone(), hr2.clone()]);
        assert!(
            list(vec![("filters", r#"name eq "hr \"feed\"""#.to_owned())])
                .await
                .is_empty()
        );
        assert!(
            list(vec![("filters", r#"name eq "HR""#.to_owned())])
                .await
                .is_empty()
        );
        let by_id = list(vec![("filters", format!(r#"id eq "{other}""#))]).await;
        assert_eq!(by_id[0]["name"], "Payroll");
        let by_ids = list(vec![(
            "filters",
            format!(r#"id in ("imported", "{hr2}", "unknown")"#),
        )])
        .await;
        assert_eq!(ids(&by_ids), [hr2.clone(), "imported".to_owned()]);
        let (page, headers) = json_ok(get(&client, version, "listSources", &[]).query(&[
            ("limit", "1"),
            ("offset", "2"),
            ("count", "true"),
        ]))
        .await;
        assert_eq!(ids(page.as_array().unwrap()), [other.as_str()]);
        assert_eq!(headers["x-total-count"], "4");
    }
    assert_eq!(sandbox.aggregations_started(&hr1), 1);
    assert_eq!(sandbox.aggregations_started(&hr2), 0);
}

#[tokio::test]
async fn status_expires_after_retention_but_the_task_stays() {
    let sandbox = instant()
        .retention(Duration::from_millis(300))
        .task_retention(Duration::from_millis(1500))
        .no_rate_limit()
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;
    let version = ApiVersion::default();
    let started = Instant::now();
    let id = task_id(&client.import_ok(version, "s", Some(CSV), None).await);
    // Completed at once: the status expires ~300 ms later, the task ~1500 ms after creation.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let resp = client.status(version, &id).await;
        if resp.status() == StatusCode::NOT_FOUND {
            break;
        }
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(Instant::now() < deadline, "status never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(sandbox.aggregations().is_empty());
    if started.elapsed() < Duration::from_millis(1400) {
        assert_eq!(
            task(&client, version, &id).await["completionStatus"],
            "SUCCESS"
        );
        assert_eq!(ids(&tasks(&client, version, &[]).await), [id.as_str()]);
    }
    loop {
        let resp = get(&client, version, "getTaskStatus", &[&id])
            .send()
            .await
            .unwrap();
        if resp.status() == StatusCode::NOT_FOUND {
            break;
        }
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(Instant::now() < deadline, "task never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert!(tasks(&client, version, &[]).await.is_empty());
    assert_eq!(sandbox.aggregations_started("s"), 1);
}

#[tokio::test]
async fn import_failing_after_processing_still_starts_the_aggregation() {
    let sandbox = builder()
        .collect_duration(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;
    let version = ApiVersion::default();
    sandbox.inject(
        Operation::ImportAccounts,
        Fault::status_after_processing(502),
        1,
    );
    let resp = client.import(version, "s", Some(CSV), None).await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body.get("task").is_none(),
        "the task id is not revealed: {body}"
    );

    // The aggregation exists and runs: its task is listed for the source.
    assert_eq!(sandbox.aggregations_started("s"), 1);
    let uploads = sandbox.uploads();
    assert_eq!(uploads.len(), 1);
    let running = tasks(
        &client,
        version,
        &[("filters", r#"sourceId eq "s" and completionStatus isnull"#)],
    )
    .await;
    assert_eq!(ids(&running), [uploads[0].aggregation_id.as_str()]);

    // A dropped connection after processing: the same, one more aggregation on another source.
    sandbox.inject(Operation::ImportAccounts, Fault::DropAfterProcessing, 1);
    assert!(
        client
            .try_import(version, "t", Some(CSV), None)
            .await
            .is_err()
    );
    assert_eq!(sandbox.aggregations_started("t"), 1);
    // A blind retry is refused: the first one still runs.
    let retry = client.import_ok(version, "t", Some(CSV), None).await;
    assert_eq!(retry["task"]["completionStatus"], "ERROR");
    assert_eq!(sandbox.aggregations_started("t"), 1);
    assert_eq!(sandbox.request_count(Operation::ImportAccounts), 3);
    let statuses: Vec<Option<u16>> = sandbox
        .requests()
        .iter()
        .filter(|r| r.operation == Operation::ImportAccounts)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [Some(502), None, Some(202)]);
}

#[tokio::test]
async fn new_tasks_can_be_slow_to_appear() {
    let sandbox = instant()
        .task_list_delay(Duration::from_millis(600))
        .no_rate_limit()
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;
    let version = ApiVersion::default();
    let started = Instant::now();
    let id = task_id(&client.import_ok(version, "s", Some(CSV), None).await);
    // Found by id at once (no lookup delay), missing from the list for the delay.
    assert_eq!(task(&client, version, &id).await["id"], id.as_str());
    let mut polls = 0;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let listed = tasks(&client, version, &[("filters", r#"sourceId eq "s""#)]).await;
        polls += 1;
        if !listed.is_empty() {
            assert_eq!(ids(&listed), [id.as_str()]);
            break;
        }
        assert!(Instant::now() < deadline, "never listed");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert!(polls > 1);

    // The lookup by id can lag too, set at run time.
    sandbox.set_task_list_delay(Duration::ZERO);
    sandbox.set_task_lookup_delay(Duration::from_secs(3600));
    let id = task_id(&client.import_ok(version, "t", Some(CSV), None).await);
    let resp = get(&client, version, "getTaskStatus", &[&id])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        ids(&tasks(&client, version, &[("filters", r#"sourceId eq "t""#)]).await),
        [id.as_str()]
    );
    sandbox.set_task_lookup_delay(Duration::ZERO);
    assert_eq!(task(&client, version, &id).await["id"], id.as_str());
}

#[tokio::test]
async fn task_status_can_fail() {
    let sandbox = instant().start().await.unwrap();
    let client = Client::new(&sandbox).await;
    let version = ApiVersion::default();
    let id = task_id(&client.import_ok(version, "s", Some(CSV), None).await);
    sandbox.inject(Operation::GetTaskStatus, Fault::status(503), 2);
    sandbox.inject(Operation::GetTaskStatusList, Fault::status(500), 1);
    for _ in 0..2 {
        let resp = get(&client, version, "getTaskStatus", &[&id])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let resp = get(&client, version, "getTaskStatusList", &[])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["detailCode"], "500.0 Internal Fault");
    // Then they recover.
    assert_eq!(
        task(&client, version, &id).await["completionStatus"],
        "SUCCESS"
    );
    assert_eq!(tasks(&client, version, &[]).await.len(), 1);
    assert_eq!(sandbox.request_count(Operation::GetTaskStatus), 3);
    assert_eq!(sandbox.request_count(Operation::GetTaskStatusList), 2);
    assert_eq!(sandbox.pending_faults(Operation::GetTaskStatus), 0);
}

//! End-to-end tests of the sandbox over loopback HTTP.

mod common;

use std::time::{Duration, Instant};

use common::{Client, PATIENCE, http, is_hex32, keys, properties, request_token, task_id};
use reqwest::StatusCode;
use sailpoint_isc_sandbox::{
    AggregationStatus, ApiVersion, Fault, Operation, Outcome, RequestRecord, Sandbox,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The table's first API version.
fn first() -> ApiVersion {
    common::two_versions().0
}

/// The table's second API version.
fn second() -> ApiVersion {
    common::two_versions().1
}

/// The version whose status documents the most fields (deletions and identities too).
fn richest() -> ApiVersion {
    ApiVersion::all()
        .max_by_key(|v| properties(*v, "getAccountAggregationStatus").len())
        .unwrap()
}

/// A sandbox whose aggregations complete at once.
async fn instant() -> Sandbox {
    Sandbox::builder()
        .collect_duration(Duration::ZERO)
        .process_duration(Duration::ZERO)
        .start()
        .await
        .unwrap()
}

const CSV: &str =
    "id,name,email\n1,Alice,alice@example.com\n2,Bob,bob@example.com\n3,Carol,carol@example.com\n";

#[tokio::test]
async fn token_is_issued_for_each_configured_client() {
    let sandbox = Sandbox::builder()
        .client("one", "secret-1")
        .client("two", "secret-2")
        .start()
        .await
        .unwrap();
    assert_eq!(sandbox.client_id(), "one");
    assert_eq!(sandbox.clients().len(), 2);
    let http = http();
    let base = sandbox.base_url();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let resp = request_token(&http, &base, "two", "secret-2").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 749);
    let token = body["access_token"].as_str().unwrap();
    assert!(token.len() >= 32);

    // The token works on the API.
    let resp = http
        .get(format!("{base}/beta/account-aggregations/nope/status"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Parameters in the query string work too.
    let resp = http
        .post(format!(
            "{base}/oauth/token?grant_type=client_credentials&client_id=one&client_secret=secret-1"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(sandbox.request_count(Operation::Token), 2);
}

#[tokio::test]
async fn wrong_credentials_and_grant_types_are_refused() {
    let sandbox = Sandbox::start().await.unwrap();
    let http = http();
    let base = sandbox.base_url();

    let resp = request_token(&http, &base, sandbox.client_id(), "wrong").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    let resp = request_token(&http, &base, "unknown", sandbox.client_secret()).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let resp = http
        .post(format!("{base}/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&client_id=a&client_secret=b")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn api_calls_need_a_valid_unexpired_token() {
    let sandbox = instant().await;
    let client = Client::new(&sandbox).await;
    let url = client.status_url(first(), "x");

    let resp = client.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("JWT validation failed")
    );

    let resp = client
        .http
        .get(&url)
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let resp = client.import(first(), "s", Some(CSV), None).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);

    sandbox.expire_tokens();
    let resp = client.import(first(), "s2", Some(CSV), None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "JWT validation failed: JWT is expired"})
    );
    // Refused imports are not recorded.
    assert_eq!(sandbox.uploads().len(), 1);
    assert_eq!(sandbox.request_count(Operation::ImportAccounts), 2);
}

#[tokio::test]
async fn tokens_expire_after_their_ttl() {
    let sandbox = Sandbox::builder()
        .token_ttl(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let resp = client.status(first(), "x").await;
        if resp.status() == StatusCode::UNAUTHORIZED {
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], "JWT validation failed: JWT is expired");
            break;
        }
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert!(Instant::now() < deadline, "token never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_response_has_a_request_id() {
    let sandbox = instant().await;
    let client = Client::new(&sandbox).await;
    let responses = [
        client
            .http
            .get(format!("{}/nowhere", client.base))
            .send()
            .await
            .unwrap(),
        client
            .http
            .get(client.status_url(first(), "x"))
            .send()
            .await
            .unwrap(),
        client.status(first(), "x").await,
        client.import(second(), "s", None, None).await,
    ];
    let mut ids = Vec::new();
    for resp in responses {
        let id = resp
            .headers()
            .get("SLPT-Request-ID")
            .expect("SLPT-Request-ID header")
            .to_str()
            .unwrap()
            .to_owned();
        assert!(is_hex32(&id), "{id}");
        ids.push(id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 4);
}

#[tokio::test]
async fn the_experimental_header_is_required_exactly_where_the_table_says() {
    let sandbox = instant().await;
    let client = Client::new(&sandbox).await;
    let id = task_id(&client.import_ok(second(), "s", Some(CSV), None).await);
    // Every status operation the table does not mark experimental answers without the header
    // (v2025's lost its experimental flag upstream in July 2025).
    for version in ApiVersion::all() {
        let op = version.operation("getAccountAggregationStatus").unwrap();
        let resp = client
            .http
            .get(client.status_url(version, &id))
            .bearer_auth(&client.token)
            .send()
            .await
            .unwrap();
        let expected = if op.experimental {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        assert_eq!(resp.status(), expected, "{version}");
    }

    // An operation marked experimental needs `X-SailPoint-Experimental: true`.
    let version = second();
    let mut op = *version.operation("getAccountAggregationStatus").unwrap();
    op.experimental = true;
    let strict = Sandbox::builder()
        .collect_duration(Duration::ZERO)
        .process_duration(Duration::ZERO)
        .serve_operation(version, op)
        .start()
        .await
        .unwrap();
    let client = Client::new(&strict).await;
    let id = task_id(&client.import_ok(version, "s", Some(CSV), None).await);
    let send = |value: Option<&'static str>| {
        let mut req = client
            .http
            .get(client.status_url(version, &id))
            .bearer_auth(&client.token);
        if let Some(value) = value {
            req = req.header("X-SailPoint-Experimental", value);
        }
        req.send()
    };
    let resp = send(None).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "Experimental Header is missing or invalid."})
    );
    assert_eq!(
        send(Some("false")).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(send(Some("true")).await.unwrap().status(), StatusCode::OK);
    // Only that version's operation changed.
    let resp = client
        .http
        .get(client.status_url(first(), &id))
        .bearer_auth(&client.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let refused = strict
        .requests()
        .iter()
        .filter(|r| r.operation == Operation::GetStatus && r.status == Some(400))
        .count();
    assert_eq!(refused, 2);
}

#[tokio::test]
async fn deprecated_operations_carry_the_deprecation_header() {
    let (deprecated, other) = common::two_versions();
    let sandbox = Sandbox::builder()
        .collect_duration(Duration::ZERO)
        .process_duration(Duration::ZERO)
        .deprecated(deprecated, "getAccountAggregationStatus")
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;
    let task = client.import(deprecated, "s", Some(CSV), None).await;
    assert_eq!(task.status(), StatusCode::ACCEPTED);
    assert!(
        task.headers().get("x-deprecated").is_none(),
        "import is not deprecated"
    );
    let id = task_id(&task.json().await.unwrap());

    let resp = client.status(deprecated, &id).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-deprecated"], "true");
    // Errors of the deprecated operation say so too.
    let resp = client.status(deprecated, "unknown").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.headers()["x-deprecated"], "true");
    // The same operation in another version is not deprecated.
    let resp = client.status(other, &id).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("x-deprecated").is_none());
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let sandbox = Sandbox::builder()
        .rate_limit(3, Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;
    for _ in 0..3 {
        assert_eq!(
            client.status(first(), "x").await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let resp = client.status(first(), "x").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "Retry-After {retry_after}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"message": " Rate Limit Exceeded "}));

    // Imports on the same version share the budget; another version has its own.
    assert_eq!(
        client.import(first(), "s", None, None).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        client.status(second(), "x").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(sandbox.request_count(Operation::GetStatus), 5);
    let limited = sandbox
        .requests()
        .iter()
        .filter(|r| r.status == Some(429))
        .count();
    assert_eq!(limited, 2);
}

#[tokio::test]
async fn lifecycle_goes_started_collected_completed() {
    let sandbox = Sandbox::builder()
        .collect_duration(Duration::from_millis(1500))
        .process_duration(Duration::from_millis(2500))
        .no_rate_limit()
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;
    let rich = richest();
    let task = client.import_ok(rich, "src", Some(CSV), None).await;
    assert_eq!(task["task"]["progress"], "Initializing...");
    assert_eq!(task["task"]["attributes"]["appId"], "src");
    let id = task_id(&task);

    let mut seen: Vec<String> = Vec::new();
    let mut last_processed = 0;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let s = client.status_json(rich, &id).await;
        let status = s["status"].as_str().unwrap().to_owned();
        match status.as_str() {
            "STARTED" => {
                assert_eq!(keys(&s), ["start", "status"], "{s}");
            }
            "ACCOUNTS_COLLECTED" | "COMPLETED" => {
                assert_eq!(
                    keys(&s),
                    properties(rich, "getAccountAggregationStatus"),
                    "{s}"
                );
                assert_eq!(s["totalAccounts"], 3);
                let processed = s["processedAccounts"].as_u64().unwrap();
                assert!(processed >= last_processed);
                last_processed = processed;
                if status == "ACCOUNTS_COLLECTED" {
                    assert!(processed < 3);
                } else {
                    assert_eq!(processed, 3);
                    assert_eq!(s["processedIdentities"], 3);
                }
            }
            other => panic!("unexpected status {other}"),
        }
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "COMPLETED" {
            break;
        }
        assert!(Instant::now() < deadline, "not completed: {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, ["STARTED", "ACCOUNTS_COLLECTED", "COMPLETED"]);

    // Each version reports the same aggregation with the fields its schema lists (beta has
    // fewer than v2025).
    for version in ApiVersion::all() {
        let s = client.status_json(version, &id).await;
        assert_eq!(
            keys(&s),
            properties(version, "getAccountAggregationStatus"),
            "{version}"
        );
        assert_eq!(s["processedAccounts"], 3);
        assert_eq!(s["status"], "COMPLETED");
    }
    assert!(
        ApiVersion::all().any(|v| properties(v, "getAccountAggregationStatus").len()
            < properties(rich, "getAccountAggregationStatus").len()),
        "the versions differ"
    );
}

#[tokio::test]
async fn optimisation_counts_only_new_changed_and_deleted_accounts() {
    let sandbox = instant().await;
    let client = Client::new(&sandbox).await;
    let run = |csv: &'static str, disable: Option<&'static str>| {
        let client = &client;
        async move {
            let task = client.import_ok(first(), "src", Some(csv), disable).await;
            let s = client
                .wait_for(richest(), &task_id(&task), "COMPLETED")
                .await;
            (task, s)
        }
    };

    let (task, s) = run(CSV, None).await;
    assert_eq!(
        task["task"]["attributes"]["optimizedAggregation"],
        "enabled"
    );
    assert_eq!(s["totalAccounts"], 3);

    let (_, s) = run(CSV, None).await;
    assert_eq!(s["totalAccounts"], 0);

    let (task, s) = run(CSV, Some("true")).await;
    assert_eq!(
        task["task"]["attributes"]["optimizedAggregation"],
        "disabled"
    );
    assert_eq!(s["totalAccounts"], 3);

    let (_, s) = run(CSV, Some("false")).await;
    assert_eq!(s["totalAccounts"], 0);

    let changed = "id,name,email\n1,Alice,alice@example.com\n2,Bob,bobby@example.com\n3,Carol,carol@example.com\n";
    let (_, s) = run(changed, None).await;
    assert_eq!(s["totalAccounts"], 1);

    let deleted_and_new = "id,name,email\n1,Alice,alice@example.com\n2,Bob,bobby@example.com\n4,Dan,dan@example.com\n";
    let (_, s) = run(deleted_and_new, None).await;
    assert_eq!(s["totalAccounts"], 2);
    assert_eq!(s["totalAccountsMarkedForDeletion"], 1);
    assert_eq!(s["deletedAccounts"], 1);
    assert_eq!(s["totalIdentities"], 1);

    // Another source has its own history.
    let task = client.import_ok(second(), "other", Some(CSV), None).await;
    let s = client.wait_for(first(), &task_id(&task), "COMPLETED").await;
    assert_eq!(s["totalAccounts"], 3);
    assert_eq!(sandbox.aggregations_started("src"), 6);
    assert_eq!(sandbox.aggregations_started("other"), 1);
    assert_eq!(sandbox.aggregations_started("nowhere"), 0);
}

#[tokio::test]
async fn direct_connect_and_form_encoded_imports() {
    let sandbox = Sandbox::builder()
        .collect_duration(Duration::ZERO)
        .process_duration(Duration::ZERO)
        .direct_connect_accounts(7)
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;

    // No body at all.
    let resp = client
        .http
        .post(client.import_url(second(), "dc"))
        .bearer_auth(&client.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let id = task_id(&resp.json().await.unwrap());
    assert_eq!(
        client.wait_for(second(), &id, "COMPLETED").await["totalAccounts"],
        7
    );

    // A form-encoded body (beta documents it) works the same under every version.
    for version in ApiVersion::all() {
        let resp = client
            .http
            .post(client.import_url(version, "dc"))
            .bearer_auth(&client.token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("disableOptimization=true")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::ACCEPTED, "{version}");
        let task: Value = resp.json().await.unwrap();
        assert_eq!(
            task["task"]["attributes"]["optimizedAggregation"],
            "disabled"
        );
        let s = client.wait_for(version, &task_id(&task), "COMPLETED").await;
        assert_eq!(s["totalAccounts"], 7);
    }

    // Unchanged direct-connect accounts are optimised away.
    let task = client.import_ok(first(), "dc", None, None).await;
    let s = client.wait_for(first(), &task_id(&task), "COMPLETED").await;
    assert_eq!(s["totalAccounts"], 0);

    let versions = ApiVersion::all().len();
    let uploads = sandbox.uploads();
    assert_eq!(uploads.len(), versions + 2);
    assert!(uploads.iter().all(|u| u.file.is_none()));
    assert_eq!(uploads[1].disable_optimization.as_deref(), Some("true"));
    assert_eq!(uploads[versions + 1].disable_optimization, None);
    assert_eq!(sandbox.aggregations_started("dc"), versions + 2);
}

#[tokio::test]
async fn bad_import_bodies_get_400_error_response_dto() {
    let sandbox = instant().await;
    let client = Client::new(&sandbox).await;

    // `disableOptimization` is a string: anything but "true" leaves optimisation on.
    for version in ApiVersion::all() {
        let task = client
            .import_ok(version, &format!("s-{version}"), Some(CSV), Some("yes"))
            .await;
        assert_eq!(
            task["task"]["attributes"]["optimizedAggregation"],
            "enabled"
        );
    }
    let accepted = ApiVersion::all().len();

    // Two file parts.
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::text(CSV))
        .part("file", reqwest::multipart::Part::text(CSV));
    let resp = client
        .http
        .post(client.import_url(first(), "t"))
        .bearer_auth(&client.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let request_id = resp.headers()["slpt-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["detailCode"], "400.1 Bad Request Content");
    assert_eq!(body["trackingId"], request_id.as_str());
    assert_eq!(body["messages"][0]["locale"], "en-US");
    assert_eq!(body["messages"][0]["localeOrigin"], "DEFAULT");
    assert_eq!(
        body["messages"][0]["text"],
        "Only one 'file' part is allowed."
    );

    // JSON is not an accepted body.
    let resp = client
        .http
        .post(client.import_url(first(), "t"))
        .bearer_auth(&client.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sandbox.uploads().len(), accepted);
    assert_eq!(sandbox.aggregations_started("t"), 0);
}

#[tokio::test]
async fn concurrent_start_on_a_source_is_refused_with_a_warning() {
    let sandbox = Sandbox::builder()
        .collect_duration(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;
    let one = client.import_ok(first(), "src", Some(CSV), None).await;
    assert_eq!(one["task"]["messages"], json!([]));
    assert_eq!(one["task"]["completionStatus"], Value::Null);

    let two = client.import_ok(second(), "src", Some(CSV), None).await;
    let text = "This aggregation failed because the currently running aggregation must complete before the next one can start.";
    assert_eq!(
        two["task"]["messages"],
        json!([{"type": "WARN", "error": false, "warning": true, "key": text, "localizedText": text}])
    );
    assert_eq!(two["task"]["completionStatus"], "ERROR");
    assert!(two["task"]["completed"].is_string());
    let second_id = task_id(&two);
    assert_ne!(second_id, task_id(&one));
    assert_eq!(
        client.status_json(first(), &second_id).await["status"],
        "TERMINATED"
    );
    assert_eq!(
        client.status_json(first(), &task_id(&one)).await["status"],
        "STARTED"
    );

    // Other sources are not blocked.
    let other = client.import_ok(first(), "other", Some(CSV), None).await;
    assert_eq!(other["task"]["messages"], json!([]));

    let uploads = sandbox.uploads();
    assert_eq!(
        uploads.iter().map(|u| u.accepted).collect::<Vec<_>>(),
        [true, false, true]
    );
    assert_eq!(uploads[1].aggregation_id, second_id);

    // Once the first one ends, the source is free again.
    assert!(sandbox.force_outcome(&task_id(&one), Outcome::Completed));
    let third = client.import_ok(first(), "src", Some(CSV), None).await;
    assert_eq!(third["task"]["messages"], json!([]));
}

#[tokio::test]
async fn status_is_404_for_unknown_ids_and_after_retention() {
    let sandbox = Sandbox::builder()
        .collect_duration(Duration::ZERO)
        .process_duration(Duration::ZERO)
        .retention(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;

    let resp = client
        .status(second(), "2c91808477a6b0c60177a81146b8110b")
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["detailCode"], "404 Not found");
    assert!(is_hex32(body["trackingId"].as_str().unwrap()));
    assert!(body["messages"][0]["text"].is_string());

    let id = task_id(&client.import_ok(first(), "s", Some(CSV), None).await);
    let deadline = Instant::now() + PATIENCE;
    let mut saw_ok = false;
    loop {
        let resp = client.status(first(), &id).await;
        match resp.status() {
            StatusCode::OK => saw_ok = true,
            StatusCode::NOT_FOUND => break,
            other => panic!("unexpected {other}"),
        }
        assert!(Instant::now() < deadline, "never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The first poll happened well within the 200 ms retention or the lookup was simply fast;
    // either way the aggregation is gone from the handle's view too.
    let _ = saw_ok;
    assert!(sandbox.aggregations().iter().all(|a| a.id != id));
}

#[tokio::test]
async fn forced_outcomes() {
    let sandbox = Sandbox::builder()
        .collect_duration(Duration::from_millis(50))
        .process_duration(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;

    sandbox.set_outcome("a", Outcome::Terminated);
    let id = task_id(&client.import_ok(first(), "a", Some(CSV), None).await);
    let s = client.wait_for(second(), &id, "TERMINATED").await;
    assert!(s.get("totalAccounts").is_none(), "{s}");
    // Only the next aggregation was affected.
    let id = task_id(&client.import_ok(first(), "a", Some(CSV), None).await);
    client.wait_for(second(), &id, "ACCOUNTS_COLLECTED").await;
    assert!(sandbox.force_outcome(&id, Outcome::Cancelled));
    assert_eq!(
        client.status_json(second(), &id).await["status"],
        "CANCELLED"
    );
    assert!(!sandbox.force_outcome(&id, Outcome::Completed));
    assert!(!sandbox.force_outcome("unknown", Outcome::Completed));

    let info = sandbox.aggregations();
    assert_eq!(info.len(), 2);
    assert_eq!(info[0].status, AggregationStatus::Terminated);
    assert_eq!(info[1].status, AggregationStatus::Cancelled);
    assert_eq!(info[1].total_accounts, 3);
}

#[tokio::test]
async fn uploads_record_size_hash_rows_and_parameters() {
    let sandbox = instant().await;
    let client = Client::new(&sandbox).await;
    let mut csv = String::from("id,first,last,email\n");
    for i in 0..20_000 {
        csv.push_str(&format!("{i},First{i},\"Last, {i}\",user{i}@example.com\n"));
    }
    let expected_sha: String = Sha256::digest(csv.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    let task = client
        .import_ok(second(), "big", Some(&csv), Some("true"))
        .await;
    let uploads = sandbox.uploads();
    assert_eq!(uploads.len(), 1);
    let u = &uploads[0];
    assert_eq!(u.source_id, "big");
    assert_eq!(u.api_version, second());
    assert_eq!(u.client_id, sandbox.client_id());
    assert_eq!(u.disable_optimization.as_deref(), Some("true"));
    assert_eq!(u.aggregation_id, task_id(&task));
    assert!(u.accepted);
    let file = u.file.as_ref().unwrap();
    assert_eq!(file.file_name.as_deref(), Some("accounts.csv"));
    assert_eq!(file.bytes, csv.len() as u64);
    assert_eq!(file.sha256, expected_sha);
    assert_eq!(file.rows, 20_000);
    let s = client
        .wait_for(second(), &task_id(&task), "COMPLETED")
        .await;
    assert_eq!(s["totalAccounts"], 20_000);
}

#[tokio::test]
async fn status_fault_answers_with_the_given_status_then_recovers() {
    let sandbox = instant().await;
    let client = Client::new(&sandbox).await;
    sandbox.inject(
        Operation::GetStatus,
        Fault::Status {
            status: 503,
            retry_after: Some(7),
            body: Some(r#"{"custom":true}"#.into()),
        },
        2,
    );
    sandbox.inject(Operation::GetStatus, Fault::status(500), 1);
    assert_eq!(sandbox.pending_faults(Operation::GetStatus), 3);
    for _ in 0..2 {
        let resp = client.status(first(), "x").await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()["retry-after"], "7");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body, json!({"custom": true}));
    }
    let resp = client.status(first(), "x").await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["detailCode"], "500.0 Internal Fault");
    assert_eq!(
        client.status(first(), "x").await.status(),
        StatusCode::NOT_FOUND
    );

    // A 429 fault gets ISC's 429 body by default; faults act before authentication.
    sandbox.inject(
        Operation::ImportAccounts,
        Fault::status_with_retry_after(429, 2),
        1,
    );
    let resp = client
        .http
        .post(client.import_url(first(), "s"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "2");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"message": " Rate Limit Exceeded "}));
    assert!(sandbox.uploads().is_empty());
    assert_eq!(sandbox.pending_faults(Operation::GetStatus), 0);
}

#[tokio::test]
async fn delay_fault_slows_the_response() {
    let sandbox = instant().await;
    let client = Client::new(&sandbox).await;
    sandbox.inject(
        Operation::Token,
        Fault::Delay(Duration::from_millis(400)),
        1,
    );
    let started = Instant::now();
    let resp = request_token(
        &client.http,
        &client.base,
        sandbox.client_id(),
        sandbox.client_secret(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(400));

    // A client timeout shorter than the delay fails.
    sandbox.inject(
        Operation::GetStatus,
        Fault::Delay(Duration::from_secs(5)),
        1,
    );
    let err = client
        .http
        .get(client.status_url(first(), "x"))
        .bearer_auth(&client.token)
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[tokio::test]
async fn drop_connection_fault_closes_without_response_or_effect() {
    let sandbox = instant().await;
    let client = Client::new(&sandbox).await;
    sandbox.inject(Operation::ImportAccounts, Fault::DropConnection, 1);
    let err = client
        .try_import(first(), "s", Some(CSV), None)
        .await
        .unwrap_err();
    assert!(!err.is_status(), "{err}");
    assert!(sandbox.uploads().is_empty());
    assert!(sandbox.aggregations().is_empty());

    sandbox.inject(Operation::GetStatus, Fault::DropConnection, 1);
    assert!(client.try_status(second(), "x").await.is_err());

    sandbox.inject(Operation::Token, Fault::DropConnection, 1);
    let err = client
        .http
        .post(format!("{}/oauth/token", client.base))
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_status(), "{err}");

    // Everything works afterwards.
    let task = client.import_ok(first(), "s", Some(CSV), None).await;
    assert_eq!(
        client.wait_for(first(), &task_id(&task), "COMPLETED").await["totalAccounts"],
        3
    );
    assert_eq!(sandbox.request_count(Operation::ImportAccounts), 2);
    let dropped: Vec<RequestRecord> = sandbox
        .requests()
        .into_iter()
        .filter(|r| r.status.is_none())
        .collect();
    assert_eq!(dropped.len(), 3);
    assert_eq!(dropped[0].operation, Operation::ImportAccounts);
    assert_eq!(dropped[0].api_version, Some(first()));
    assert_eq!(dropped[2].api_version, None);
}

#[tokio::test]
async fn drop_after_processing_records_the_upload_and_starts_the_aggregation() {
    let sandbox = Sandbox::builder()
        .collect_duration(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;
    sandbox.inject(Operation::ImportAccounts, Fault::DropAfterProcessing, 1);
    assert!(
        client
            .try_import(first(), "s", Some(CSV), None)
            .await
            .is_err()
    );

    let uploads = sandbox.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].file.as_ref().unwrap().rows, 3);
    let aggregations = sandbox.aggregations();
    assert_eq!(aggregations.len(), 1);
    assert_eq!(aggregations[0].id, uploads[0].aggregation_id);
    assert_eq!(aggregations[0].status, AggregationStatus::Started);

    // A blind retry collides with the aggregation the lost response started.
    let retry = client.import_ok(first(), "s", Some(CSV), None).await;
    assert_eq!(retry["task"]["completionStatus"], "ERROR");
    assert_eq!(
        client
            .status_json(first(), &uploads[0].aggregation_id)
            .await["status"],
        "STARTED"
    );
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sandbox = Sandbox::start().await.unwrap();
    let base = sandbox.base_url();
    let http = http();
    assert_eq!(
        request_token(&http, &base, sandbox.client_id(), sandbox.client_secret())
            .await
            .status(),
        StatusCode::OK
    );
    sandbox.shutdown().await;
    let result = http
        .post(format!("{base}/oauth/token"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(result.is_err());
}

#[tokio::test]
async fn binding_a_taken_port_fails() {
    let first = Sandbox::start().await.unwrap();
    let err = Sandbox::builder()
        .port(first.addr().port())
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(err, sailpoint_isc_sandbox::Error::Bind { .. }),
        "{err}"
    );
}

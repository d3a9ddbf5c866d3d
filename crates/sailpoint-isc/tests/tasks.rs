//! Task status and sources: filters, paging, lookup by name, the 404 fallback to task status,
//! outcome resolution after an ambiguous start, and `if_idle`. Exact call counts throughout.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use futures_util::StreamExt;
use httpmock::prelude::*;
use sailpoint_isc::tasks::ACCOUNT_AGGREGATION_TASK_TYPE;
use sailpoint_isc::{
    AggregationState, ApiVersion, CompletionStatus, Error, OutcomeResolution, StartOrigin,
    TaskFilter, TaskOrder,
};
use serde_json::{Value, json};

fn list_path(version: ApiVersion) -> String {
    op_path(version, "getTaskStatusList", &[])
}

fn task_path(version: ApiVersion, id: &str) -> String {
    op_path(version, "getTaskStatus", &[id])
}

fn sources_path(version: ApiVersion) -> String {
    op_path(version, "listSources", &[])
}

fn task(id: &str, completion: Value, created: &str) -> Value {
    json!({
        "id": id, "type": "QUARTZ", "uniqueName": "Cloud Account Aggregation",
        "description": "Aggregate from the specified application", "parentName": null,
        "launcher": "System", "target": {"id": SOURCE_ID, "type": "APPLICATION", "name": "HR"},
        "created": created, "modified": created, "launched": created, "completed": null,
        "completionStatus": completion, "messages": [], "returns": [],
        "attributes": {"appId": SOURCE_ID}, "progress": null, "percentComplete": 0
    })
}

fn now() -> String {
    Utc::now().to_rfc3339()
}

/// The snapshot before a start (`limit=1`): no earlier aggregation on the source.
async fn empty_snapshot(server: &MockServer) -> httpmock::Mock<'_> {
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path(list_path(v()))
                .query_param("limit", "1");
            then.status(200).json_body(json!([]));
        })
        .await
}

/// Quick resolution for tests: 600 ms grace, 100 ms polls.
fn quick_resolution() -> OutcomeResolution {
    OutcomeResolution::standard()
        .with_grace_period(Duration::from_millis(600))
        .with_poll_interval(Duration::from_millis(100))
}

#[tokio::test]
async fn list_sends_the_filters_sorter_and_pages_until_the_total() {
    for version in ApiVersion::all() {
        let server = MockServer::start_async().await;
        token_mock(&server, TOKEN, 749).await;
        let filter = r#"type eq "CLOUD_ACCOUNT_AGGREGATION" and sourceId in ("a","b") and completionStatus isnull"#;
        let mut pages = Vec::new();
        for (offset, ids) in [
            (0, vec!["t1", "t2"]),
            (2, vec!["t3", "t4"]),
            (4, vec!["t5"]),
        ] {
            let body: Vec<Value> = ids.iter().map(|id| task(id, Value::Null, &now())).collect();
            pages.push(
                server
                    .mock_async(|when, then| {
                        when.method(GET)
                            .path(list_path(version))
                            .query_param("filters", filter)
                            .query_param("sorters", "created")
                            .query_param("limit", "2")
                            .query_param("count", "true")
                            .query_param("offset", offset.to_string());
                        then.status(200)
                            .header("X-Total-Count", "5")
                            .json_body(json!(body));
                    })
                    .await,
            );
        }
        let any = catch_all(&server).await;
        let ids: Vec<String> = client_for(&server, version)
            .task_statuses()
            .filter(
                TaskFilter::new()
                    .task_type(ACCOUNT_AGGREGATION_TASK_TYPE)
                    .source_ids(["a", "b"])
                    .running(),
            )
            .order(TaskOrder::CreatedAscending)
            .page_size(2)
            .into_stream()
            .map(|t| t.unwrap().id.unwrap())
            .collect()
            .await;
        assert_eq!(ids, ["t1", "t2", "t3", "t4", "t5"], "{version}");
        for page in &pages {
            page.assert_calls_async(1).await;
        }
        any.assert_calls_async(0).await;
    }
}

#[tokio::test]
async fn max_items_stops_paging_and_one_page_reports_the_total() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let page = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(list_path(v()))
                .query_param("limit", "3")
                .query_param("offset", "0")
                .query_param("sorters", "-created")
                .query_param_missing("filters");
            then.status(200)
                .header("X-Total-Count", "40")
                .json_body(json!([
                    task("a", json!("SUCCESS"), &now()),
                    task("b", json!("Success"), &now()),
                    task("c", json!("TEMPERROR"), &now()),
                ]));
        })
        .await;
    let client = client(&server);
    let list = client.task_statuses().max_items(3);
    let first = list.page(0).await.unwrap();
    assert_eq!(first.total_count, Some(40));
    assert_eq!(
        first.items[2].completion_status,
        Some(CompletionStatus::TempError)
    );
    let all = list.send().await.unwrap();
    assert_eq!(all.len(), 3);
    page.assert_calls_async(2).await;
}

#[tokio::test]
async fn one_task_by_id_and_a_404() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let found = server
        .mock_async(|when, then| {
            when.method(GET).path(task_path(v(), TASK_ID));
            then.status(200)
                .json_body(task(TASK_ID, json!("WARNING"), "2026-11-29T10:00:00Z"));
        })
        .await;
    let missing = server
        .mock_async(|when, then| {
            when.method(GET).path(task_path(v(), "nope"));
            then.status(404)
                .json_body(json!({"messages": [{"text": "not found"}]}));
        })
        .await;
    let client = client(&server);
    let t = client.task_status(TASK_ID).send().await.unwrap();
    assert_eq!(t.completion_status, Some(CompletionStatus::Warning));
    assert_eq!(t.source_id(), Some(SOURCE_ID));
    let err = client.task_status("nope").send().await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(matches!(
        client.task_status("a/b").send().await,
        Err(Error::InvalidInput { .. })
    ));
    found.assert_calls_async(1).await;
    missing.assert_calls_async(1).await;
}

#[tokio::test]
async fn source_by_name_zero_one_two_matches_and_quotes() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let source = |id: &str, name: &str| json!({"id": id, "name": name, "connectorName": "Delimited File", "owner": {"type": "IDENTITY", "id": "o1", "name": "Ada"}, "features": ["NO_RANDOM_ACCESS"]});
    let one = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(sources_path(v()))
                .query_param("filters", r#"name eq "HR Feed""#);
            then.status(200)
                .json_body(json!([source("s1", "HR Feed"), source("s9", "hr feed")]));
        })
        .await;
    let none = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(sources_path(v()))
                .query_param("filters", r#"name eq "Nobody""#);
            then.status(200).json_body(json!([]));
        })
        .await;
    let two = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(sources_path(v()))
                .query_param("filters", r#"name eq "Say \"hi\" \\ bye""#);
            then.status(200).json_body(json!([
                source("s2", r#"Say "hi" \ bye"#),
                source("s3", r#"Say "hi" \ bye"#)
            ]));
        })
        .await;
    let client = client(&server);
    let found = client.find_source_by_name("HR Feed").send().await.unwrap();
    assert_eq!(found.id.as_deref(), Some("s1"));
    assert_eq!(found.owner.unwrap().name.as_deref(), Some("Ada"));
    assert_eq!(found.other["features"], json!(["NO_RANDOM_ACCESS"]));
    match client.find_source_by_name("Nobody").send().await {
        Err(Error::SourceNotFound { name, similar }) => {
            assert_eq!(name, "Nobody");
            assert!(similar.is_empty());
        }
        other => panic!("{other:?}"),
    }
    match client.find_source_by_name(r#"Say "hi" \ bye"#).send().await {
        Err(e @ Error::AmbiguousSourceName { .. }) => {
            let text = e.to_string();
            assert!(text.contains("s2") && text.contains("s3"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        client.find_source_by_name("  ").send().await,
        Err(Error::InvalidInput { .. })
    ));
    one.assert_calls_async(1).await;
    none.assert_calls_async(1).await;
    two.assert_calls_async(1).await;
}

/// Status 404, or a 200 whose state is `NOT_FOUND` (one meaning for both) → task status:
/// SUCCESS is completed, ERROR a typed failure with the task's messages, and both unknown is
/// expired.
#[tokio::test]
async fn status_404_or_not_found_falls_back_to_task_status() {
    for (not_found_as, completion, expect) in [
        ("404", "SUCCESS", "completed"),
        ("404", "ERROR", "failed"),
        ("404", "404", "expired"),
        ("200 NOT_FOUND", "SUCCESS", "completed"),
        ("200 NOT_FOUND", "ERROR", "failed"),
        ("200 NOT_FOUND", "404", "expired"),
    ] {
        let server = MockServer::start_async().await;
        token_mock(&server, TOKEN, 749).await;
        let status = server
            .mock_async(|when, then| {
                when.method(GET).path(status_path(v()));
                if not_found_as == "404" {
                    then.status(404)
                        .json_body(json!({"messages": [{"text": "gone"}]}));
                } else {
                    then.status(200).json_body(json!({"status": "NOT_FOUND"}));
                }
            })
            .await;
        let task_mock = server
            .mock_async(|when, then| {
                when.method(GET).path(task_path(v(), TASK_ID));
                if completion == "404" {
                    then.status(404).json_body(json!({"messages": [{"text": "gone"}]}));
                } else {
                    let mut body = task(TASK_ID, json!(completion), "2026-08-01T10:00:00Z");
                    body["completed"] = json!("2026-08-01T10:05:00Z");
                    body["messages"] = json!([{"type": "ERROR", "key": "k",
                        "localizedText": {"locale": "en-US", "message": "VA unreachable"}, "parameters": null}]);
                    then.status(200).json_body(body);
                }
            })
            .await;
        let client = client(&server);
        let read = client.aggregation_status(TASK_ID).send().await;
        let waited = client.wait_for_aggregation(TASK_ID).send().await;
        match expect {
            "completed" => {
                let s = read.unwrap();
                assert_eq!(s.state, Some(AggregationState::Completed));
                assert_eq!(s.task_messages(), ["VA unreachable"]);
                assert_eq!(waited.unwrap().state, Some(AggregationState::Completed));
            }
            "failed" => {
                let read = read.unwrap();
                assert_eq!(read.state, Some(AggregationState::Terminated));
                assert_eq!(read.task_messages(), ["VA unreachable"], "{not_found_as}");
                match waited {
                    Err(Error::AggregationFailed { status, .. }) => {
                        assert_eq!(status.task_messages(), ["VA unreachable"]);
                    }
                    other => panic!("{other:?}"),
                }
            }
            _ => {
                assert!(
                    matches!(read, Err(Error::AggregationExpired { .. })),
                    "{read:?}"
                );
                assert!(
                    matches!(waited, Err(Error::AggregationExpired { .. })),
                    "{waited:?}"
                );
            }
        }
        status.assert_calls_async(2).await;
        task_mock.assert_calls_async(2).await;
    }
}

/// An import answered 500 (after ISC may have started it): the client lists the source's
/// aggregation tasks; the task appears on the third poll and is returned as recovered. Exactly
/// one import request.
#[tokio::test]
async fn ambiguous_start_is_recovered_from_task_status() {
    for version in ApiVersion::all() {
        let server = MockServer::start_async().await;
        token_mock(&server, TOKEN, 749).await;
        let import = server
            .mock_async(|when, then| {
                when.method(POST).path(load_accounts_path(version));
                then.status(500)
                    .json_body(json!({"messages": [{"text": "boom"}]}));
            })
            .await;
        let filter =
            format!(r#"type eq "CLOUD_ACCOUNT_AGGREGATION" and sourceId eq "{SOURCE_ID}""#);
        let empties = server
            .mock_async(|when, then| {
                when.method(GET)
                    .path(list_path(version))
                    .query_param("filters", filter.as_str())
                    .query_param("sorters", "-created");
                then.status(200)
                    .json_body(json!([]))
                    .header("X-Total-Count", "0");
            })
            .await;
        let client = builder(&server)
            .api_version(version)
            .outcome_resolution(quick_resolution())
            .build()
            .unwrap();
        let handle = {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .start_aggregation(SOURCE_ID)
                    .file(temp_file("a.csv", b"id\n1\n"))
                    .send()
                    .await
            })
        };
        // Let the first polls see nothing (ISC lists a new task late), then list the task.
        tokio::time::sleep(Duration::from_millis(250)).await;
        empties.delete_async().await;
        let listed = server
            .mock_async(|when, then| {
                when.method(GET)
                    .path(list_path(version))
                    .query_param("filters", filter.as_str());
                then.status(200).json_body(json!([
                    task("recovered-1", Value::Null, &now()),
                    task("old", json!("SUCCESS"), "2020-01-01T00:00:00Z"),
                ]));
            })
            .await;
        let started = handle
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(started.task_id, "recovered-1");
        assert_eq!(started.origin, StartOrigin::Recovered);
        assert_eq!(started.api_version, version);
        import.assert_calls_async(1).await;
        listed.assert_calls_async(1).await;
    }
}

#[tokio::test]
async fn ambiguous_start_stays_unknown_when_nothing_is_listed_or_the_lookup_fails() {
    for (case, list_status) in [
        ("none listed", 200),
        ("task status down", 503),
        ("forbidden", 403),
    ] {
        let server = MockServer::start_async().await;
        token_mock(&server, TOKEN, 749).await;
        let import = server
            .mock_async(|when, then| {
                when.method(POST).path(load_accounts_path(v()));
                then.status(502).body("<html>bad gateway</html>");
            })
            .await;
        let snapshot = empty_snapshot(&server).await;
        let list = server
            .mock_async(|when, then| {
                when.method(GET)
                    .path(list_path(v()))
                    .query_param("limit", "25");
                if list_status == 200 {
                    then.status(200).json_body(json!([task(
                        "old",
                        json!("SUCCESS"),
                        "2020-01-01T00:00:00Z"
                    )]));
                } else {
                    then.status(list_status)
                        .json_body(json!({"messages": [{"text": "no"}]}));
                }
            })
            .await;
        let err = builder(&server)
            .outcome_resolution(quick_resolution())
            .retry(fast_retry().with_max_attempts(1))
            .build()
            .unwrap()
            .start_aggregation(SOURCE_ID)
            .send()
            .await
            .unwrap_err();
        let Error::OutcomeUnknown {
            lookup: Some(lookup),
            ..
        } = &err
        else {
            panic!("{case}: {err:?}");
        };
        assert!(lookup.candidates.is_empty(), "{case}");
        import.assert_calls_async(1).await;
        let polls = lookup.polls as usize;
        match case {
            "forbidden" => {
                assert_eq!(polls, 1, "a 403 is not worth polling again");
                assert!(matches!(
                    lookup.error.as_deref(),
                    Some(Error::Forbidden { .. })
                ));
            }
            "task status down" => {
                assert!(polls >= 3, "{case}: {polls}");
                assert!(matches!(
                    lookup.error.as_deref(),
                    Some(Error::Server { .. })
                ));
            }
            _ => {
                assert!(polls >= 3, "{case}: {polls}");
                assert!(lookup.error.is_none());
            }
        }
        list.assert_calls_async(polls).await;
        snapshot.assert_calls_async(1).await;
        assert!(err.to_string().contains("task-status lookup"), "{err}");
    }
}

#[tokio::test]
async fn two_candidate_tasks_are_not_guessed_between() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let import = server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(500);
        })
        .await;
    empty_snapshot(&server).await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path(list_path(v()))
                .query_param("limit", "25");
            then.status(200).json_body(json!([
                task("x1", Value::Null, &now()),
                task("x2", Value::Null, &now())
            ]));
        })
        .await;
    let err = builder(&server)
        .outcome_resolution(quick_resolution())
        .build()
        .unwrap()
        .start_aggregation(SOURCE_ID)
        .send()
        .await
        .unwrap_err();
    match err {
        Error::OutcomeUnknown {
            lookup: Some(lookup),
            ..
        } => assert_eq!(lookup.candidates.len(), 2),
        other => panic!("{other:?}"),
    }
    import.assert_calls_async(1).await;
}

/// The snapshot taken before the start keeps an aggregation that ran just before ours (same
/// source, seconds earlier) from being taken for ours; a task newer than it is ours.
#[tokio::test]
async fn an_earlier_aggregation_is_never_taken_for_ours() {
    for (listed_after, expect_recovered) in
        [(vec!["earlier"], false), (vec!["ours", "earlier"], true)]
    {
        let server = MockServer::start_async().await;
        token_mock(&server, TOKEN, 749).await;
        let earlier_created = now();
        let snapshot = server
            .mock_async(|when, then| {
                when.method(GET)
                    .path(list_path(v()))
                    .query_param("limit", "1");
                let mut earlier = task("earlier", json!("SUCCESS"), &earlier_created);
                earlier["completed"] = json!(now());
                then.status(200).json_body(json!([earlier]));
            })
            .await;
        let import = server
            .mock_async(|when, then| {
                when.method(POST).path(load_accounts_path(v()));
                then.status(500);
            })
            .await;
        let lookup = server
            .mock_async(|when, then| {
                when.method(GET)
                    .path(list_path(v()))
                    .query_param("limit", "25");
                let body: Vec<Value> = listed_after
                    .iter()
                    .map(|id| {
                        if *id == "earlier" {
                            let mut t = task(id, json!("SUCCESS"), &earlier_created);
                            t["completed"] = json!(now());
                            t
                        } else {
                            task(id, Value::Null, &now())
                        }
                    })
                    .collect();
                then.status(200).json_body(json!(body));
            })
            .await;
        let result = builder(&server)
            .outcome_resolution(quick_resolution())
            .build()
            .unwrap()
            .start_aggregation(SOURCE_ID)
            .send()
            .await;
        if expect_recovered {
            let started = result.unwrap();
            assert_eq!(started.task_id, "ours");
            assert_eq!(started.origin, StartOrigin::Recovered);
            lookup.assert_calls_async(1).await;
        } else {
            let err = result.unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::OutcomeUnknown {
                        lookup: Some(_),
                        ..
                    }
                ),
                "{err:?}"
            );
            assert!(lookup.calls_async().await >= 3);
        }
        snapshot.assert_calls_async(1).await;
        import.assert_calls_async(1).await;
    }
}

#[tokio::test]
async fn resolution_disabled_makes_no_lookup() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(500);
        })
        .await;
    let list = server
        .mock_async(|when, then| {
            when.method(GET).path(list_path(v()));
            then.status(200).json_body(json!([]));
        })
        .await;
    let err = client(&server)
        .start_aggregation(SOURCE_ID)
        .outcome_resolution(OutcomeResolution::disabled())
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::OutcomeUnknown { lookup: None, .. }),
        "{err:?}"
    );
    list.assert_calls_async(0).await;
}

#[tokio::test]
async fn if_idle_returns_the_running_aggregation_without_uploading() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let filter = format!(
        r#"type eq "CLOUD_ACCOUNT_AGGREGATION" and sourceId eq "{SOURCE_ID}" and completionStatus isnull"#
    );
    let running = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(list_path(v()))
                .query_param("filters", filter.as_str());
            then.status(200)
                .json_body(json!([task("busy-1", Value::Null, &now())]));
        })
        .await;
    let import = server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(202).json_body(task_body());
        })
        .await;
    let client = client(&server);
    let started = client
        .start_aggregation(SOURCE_ID)
        .file(temp_file("a.csv", b"id\n1\n"))
        .if_idle()
        .send()
        .await
        .unwrap();
    assert_eq!(started.task_id, "busy-1");
    assert_eq!(started.origin, StartOrigin::AlreadyRunning);
    running.assert_calls_async(1).await;
    import.assert_calls_async(0).await;

    // Idle: it starts.
    running.delete_async().await;
    let idle = server
        .mock_async(|when, then| {
            when.method(GET).path(list_path(v()));
            then.status(200).json_body(json!([]));
        })
        .await;
    let started = client
        .start_aggregation(SOURCE_ID)
        .if_idle()
        .send()
        .await
        .unwrap();
    assert_eq!(started.origin, StartOrigin::Started);
    idle.assert_calls_async(1).await;
    import.assert_calls_async(1).await;
}

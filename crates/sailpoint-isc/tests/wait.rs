//! Waiting for an aggregation: progress in order by callback and stream, typed outcomes.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use httpmock::prelude::*;
use sailpoint_isc::{AggregationState, ApiVersion, Error, PollSchedule};
use serde_json::{Value, json};

/// Status mocks answering `bodies` in order (each once), the last one for good.
async fn status_sequence<'a>(
    server: &'a MockServer,
    version: ApiVersion,
    bodies: &[Value],
) -> Vec<httpmock::Mock<'a>> {
    let mut mocks = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let last = i + 1 == bodies.len();
        let body = body.clone();
        let path = status_path(version);
        mocks.push(
            server
                .mock_async(|when, then| {
                    when.method(GET).path(path);
                    let then = then.status(200).json_body(body);
                    if !last {
                        then.up_to_n_times(1);
                    }
                })
                .await,
        );
    }
    mocks
}

/// In every version: start, then wait on the started aggregation with a client whose default
/// is another version; the waiter polls the version that started it.
#[tokio::test]
async fn completes_with_progress_callbacks_in_order() {
    for version in ApiVersion::all() {
        completes_with_progress_callbacks_in(version).await;
    }
}

async fn completes_with_progress_callbacks_in(version: ApiVersion) {
    let server = MockServer::start_async().await;
    let token = token_mock(&server, TOKEN, 749).await;
    let import = server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(version));
            then.status(202).json_body(task_body());
        })
        .await;
    let other = ApiVersion::all()
        .find(|o| *o != version)
        .expect("at least two versions");
    let mocks = status_sequence(
        &server,
        version,
        &[
            json!({"status": "STARTED", "start": "2024-04-19T10:20:33.823Z"}),
            json!({"status": "ACCOUNTS_COLLECTED", "totalAccounts": 100, "processedAccounts": 10, "totalIdentities": 50, "processedIdentities": 0}),
            json!({"status": "ACCOUNTS_COLLECTED", "totalAccounts": 100, "processedAccounts": 60, "totalIdentities": 50, "processedIdentities": 20}),
            json!({"status": "COMPLETED", "totalAccounts": 100, "processedAccounts": 100, "totalIdentities": 50, "processedIdentities": 50}),
        ],
    )
    .await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();

    let client = client_for(&server, other);
    let started = client
        .start_aggregation(SOURCE_ID)
        .api_version(version)
        .send()
        .await
        .unwrap();
    let done = client
        .wait_for_aggregation(&started)
        .on_progress(move |p| {
            sink.lock().unwrap().push((
                p.polls,
                p.status.state.clone(),
                p.status.processed_accounts,
                p.changed,
            ))
        })
        .send()
        .await
        .unwrap();

    assert_eq!(done.state, Some(AggregationState::Completed));
    assert_eq!(done.processed_identities, Some(50));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            (1, Some(AggregationState::Started), None, true),
            (2, Some(AggregationState::AccountsCollected), Some(10), true),
            (3, Some(AggregationState::AccountsCollected), Some(60), true),
            (4, Some(AggregationState::Completed), Some(100), true),
        ]
    );
    for mock in &mocks {
        mock.assert_calls_async(1).await;
    }
    import.assert_calls_async(1).await;
    token.assert_calls_async(1).await;
}

#[tokio::test]
async fn stream_yields_every_status_then_ends() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    status_sequence(
        &server,
        ApiVersion::BETA,
        &[
            json!({"status": "STARTED"}),
            json!({"status": "STARTED"}),
            json!({"status": "RETRIED"}),
            json!({"status": "COMPLETED", "totalAccounts": 3, "processedAccounts": 3}),
        ],
    )
    .await;
    let updates = client(&server)
        .wait_for_aggregation(TASK_ID)
        .api_version(ApiVersion::BETA)
        .into_stream();
    let items: Vec<_> = updates.collect().await;
    let states: Vec<_> = items
        .iter()
        .map(|i| i.as_ref().unwrap().status.state_name().to_owned())
        .collect();
    assert_eq!(states, ["STARTED", "STARTED", "RETRIED", "COMPLETED"]);
    let changed: Vec<bool> = items.iter().map(|i| i.as_ref().unwrap().changed).collect();
    assert_eq!(changed, [true, false, true, true]);
}

#[tokio::test]
async fn terminated_is_a_typed_failure_with_the_final_status() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let mocks = status_sequence(
        &server,
        v(),
        &[
            json!({"status": "STARTED"}),
            json!({"status": "TERMINATED", "totalAccounts": 10, "processedAccounts": 3}),
        ],
    )
    .await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let err = client(&server)
        .wait_for_aggregation(TASK_ID)
        .on_progress(move |p| sink.lock().unwrap().push(p.status.state_name().to_owned()))
        .send()
        .await
        .unwrap_err();
    match &err {
        Error::AggregationFailed { task_id, status } => {
            assert_eq!(task_id, TASK_ID);
            assert_eq!(status.state, Some(AggregationState::Terminated));
            assert_eq!(status.processed_accounts, Some(3));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("TERMINATED"), "{err}");
    assert_eq!(*seen.lock().unwrap(), ["STARTED", "TERMINATED"]);
    mocks[1].assert_calls_async(1).await;
}

#[tokio::test]
async fn cancelled_is_a_typed_failure() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    status_sequence(&server, v(), &[json!({"status": "CANCELLED"})]).await;
    let err = client(&server)
        .wait_for_aggregation(TASK_ID)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::AggregationFailed { status, .. } if status.state == Some(AggregationState::Cancelled)),
        "{err:?}"
    );
}

#[tokio::test]
async fn not_found_404_is_expired() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let gone = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(404)
                .json_body(json!({"detailCode": "404 Not found", "messages": []}));
        })
        .await;
    let err = client(&server)
        .wait_for_aggregation(TASK_ID)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::AggregationExpired { task_id, .. } if task_id == TASK_ID),
        "{err:?}"
    );
    gone.assert_calls_async(1).await;
}

#[tokio::test]
async fn not_found_state_is_expired() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let mocks = status_sequence(&server, v(), &[json!({"status": "NOT_FOUND"})]).await;
    let err = client(&server)
        .wait_for_aggregation(TASK_ID)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AggregationExpired { .. }), "{err:?}");
    mocks[0].assert_calls_async(1).await;
}

#[tokio::test]
async fn unknown_states_keep_waiting() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let mocks = status_sequence(
        &server,
        v(),
        &[
            json!({"status": "QUEUED"}),
            json!({"status": null}),
            json!({"status": "COMPLETED"}),
        ],
    )
    .await;
    let done = client(&server)
        .wait_for_aggregation(TASK_ID)
        .send()
        .await
        .unwrap();
    assert!(done.is_terminal());
    for mock in &mocks {
        mock.assert_calls_async(1).await;
    }
}

#[tokio::test]
async fn times_out_with_the_last_status_seen() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let running = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200)
                .json_body(json!({"status": "ACCOUNTS_COLLECTED", "totalAccounts": 10, "processedAccounts": 1}));
        })
        .await;
    let started = Instant::now();
    let err = client(&server)
        .wait_for_aggregation(TASK_ID)
        .schedule(
            PollSchedule::fixed(Duration::from_millis(100))
                .with_max_wait(Duration::from_millis(350)),
        )
        .send()
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    match &err {
        Error::WaitTimeout {
            task_id,
            waited,
            last_status,
        } => {
            assert_eq!(task_id, TASK_ID);
            assert!(*waited >= Duration::from_millis(350), "{waited:?}");
            let last = last_status.as_ref().unwrap();
            assert_eq!(last.state, Some(AggregationState::AccountsCollected));
        }
        other => panic!("{other:?}"),
    }
    // Bounded by the 350 ms maximum wait (the four calls below prove where it stopped); the
    // upper bound only rules out waiting on without one.
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    // Polls at 100, 200, 300 ms and a final one at the 350 ms deadline.
    running.assert_calls_async(4).await;
}

#[tokio::test]
async fn status_errors_end_the_wait_after_their_retries() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let ok_once = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200)
                .json_body(json!({"status": "STARTED"}))
                .up_to_n_times(1);
        })
        .await;
    let failing = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(503);
        })
        .await;
    let err = client(&server)
        .wait_for_aggregation(TASK_ID)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Server { .. }), "{err:?}");
    ok_once.assert_calls_async(1).await;
    failing.assert_calls_async(3).await;
}

#[tokio::test]
async fn transient_errors_during_the_wait_are_retried_transparently() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let started = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200)
                .json_body(json!({"status": "STARTED"}))
                .up_to_n_times(1);
        })
        .await;
    let hiccup = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(429).header("Retry-After", "0").up_to_n_times(1);
        })
        .await;
    let done = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200).json_body(json!({"status": "COMPLETED"}));
        })
        .await;
    client(&server)
        .wait_for_aggregation(TASK_ID)
        .send()
        .await
        .unwrap();
    started.assert_calls_async(1).await;
    hiccup.assert_calls_async(1).await;
    done.assert_calls_async(1).await;
}

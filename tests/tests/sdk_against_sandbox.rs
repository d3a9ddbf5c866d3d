//! The ergonomic client end to end against the simulated tenant: real HTTP on loopback, real
//! multipart parsing, the aggregation lifecycle, and the "never start an aggregation twice" rule
//! proved by what the tenant recorded.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sailpoint_isc::{
    AggregationState, ApiVersion, Client, ClientBuilder, Error, OutcomeResolution, PollSchedule,
    RetryConfig, StartOrigin,
};
use sailpoint_isc_sandbox::{Fault, Operation, Outcome, Sandbox};
use sha2::{Digest, Sha256};

async fn sandbox() -> Sandbox {
    Sandbox::builder()
        .collect_duration(Duration::from_millis(150))
        .process_duration(Duration::from_millis(300))
        .start()
        .await
        .expect("sandbox starts")
}

fn client(sb: &Sandbox, api: ApiVersion) -> Client {
    builder(sb, api).build().expect("client builds")
}

/// Outcome resolution with a short grace period, for tests of ambiguous starts.
fn quick_resolution() -> OutcomeResolution {
    OutcomeResolution::standard()
        .with_grace_period(Duration::from_millis(800))
        .with_poll_interval(Duration::from_millis(100))
}

fn builder(sb: &Sandbox, api: ApiVersion) -> ClientBuilder {
    Client::builder()
        .base_url(sb.base_url())
        .client_credentials(sb.client_id(), sb.client_secret())
        .api_version(api)
        .retry(
            RetryConfig::standard()
                .with_backoff(Duration::from_millis(10), Duration::from_millis(50))
                .with_max_retry_after(Duration::from_millis(1500)),
        )
        .poll_schedule(
            PollSchedule::standard()
                .with_initial_delay(Duration::from_millis(20))
                .with_delay_bounds(Duration::from_millis(10), Duration::from_millis(100))
                .with_max_wait(Duration::from_secs(20)),
        )
}

fn csv_file(name: &str, rows: usize, changed_row: Option<usize>) -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("isc-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("id,userName,email,department\n");
    for i in 0..rows {
        let dept = if Some(i) == changed_row {
            "Moved"
        } else {
            "Engineering"
        };
        csv.push_str(&format!("{i},user{i},user{i}@example.com,{dept}\n"));
    }
    let path = dir.join(name);
    std::fs::write(&path, &csv).unwrap();
    (path, format!("{:x}", Sha256::digest(csv.as_bytes())))
}

#[tokio::test]
async fn upload_wait_and_optimisation_across_versions() {
    for api in ApiVersion::all() {
        let sb = sandbox().await;
        let client = client(&sb, api);
        let (path, sha) = csv_file(&format!("accounts-{api:?}.csv"), 120, None);

        let started = client
            .start_aggregation("source-1")
            .file(&path)
            .send()
            .await
            .expect("accepted");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let done = client
            .wait_for_aggregation(&started)
            .on_progress(move |p| seen2.lock().unwrap().push(p.status.state.clone()))
            .send()
            .await
            .expect("completes");
        assert_eq!(done.state, Some(AggregationState::Completed), "{api:?}");
        assert_eq!(done.total_accounts, Some(120));
        assert_eq!(done.processed_accounts, Some(120));
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.last(), Some(&Some(AggregationState::Completed)));

        // The tenant received exactly the file, once.
        let uploads = sb.uploads();
        assert_eq!(uploads.len(), 1);
        let file = uploads[0].file.as_ref().expect("file part");
        assert_eq!(file.sha256, sha);
        assert_eq!(file.rows, 120);
        assert_eq!(sb.request_count(Operation::ImportAccounts), 1);

        // Same file again: nothing changed, so nothing to process ...
        let again = client
            .start_aggregation("source-1")
            .file(&path)
            .send()
            .await
            .unwrap();
        let done = client.wait_for_aggregation(&again).send().await.unwrap();
        assert_eq!(done.total_accounts, Some(0), "{api:?}");
        // ... unless optimisation is off.
        let forced = client
            .start_aggregation("source-1")
            .file(&path)
            .disable_optimization(true)
            .send()
            .await
            .unwrap();
        let done = client.wait_for_aggregation(&forced).send().await.unwrap();
        assert_eq!(done.total_accounts, Some(120));
        // One changed row counts as one.
        let (changed, _) = csv_file(&format!("changed-{api:?}.csv"), 120, Some(7));
        let one = client
            .start_aggregation("source-1")
            .file(&changed)
            .send()
            .await
            .unwrap();
        let done = client.wait_for_aggregation(&one).send().await.unwrap();
        assert_eq!(done.total_accounts, Some(1));
        // One token for the whole session.
        assert_eq!(sb.request_count(Operation::Token), 1);
    }
}

#[tokio::test]
async fn rate_limited_post_is_resent_once_and_starts_one_aggregation() {
    let sb = sandbox().await;
    sb.inject(
        Operation::ImportAccounts,
        Fault::status_with_retry_after(429, 1),
        1,
    );
    let (path, sha) = csv_file("rate-limited.csv", 10, None);
    let started = client(&sb, ApiVersion::V2025)
        .start_aggregation("source-429")
        .file(&path)
        .send()
        .await
        .expect("accepted after the 429");
    assert_eq!(sb.request_count(Operation::ImportAccounts), 2);
    let uploads = sb.uploads();
    assert_eq!(
        uploads.len(),
        1,
        "only the accepted attempt started an aggregation"
    );
    assert_eq!(
        uploads[0].file.as_ref().unwrap().sha256,
        sha,
        "the file was streamed again in full"
    );
    assert_eq!(uploads[0].aggregation_id, started.task_id);
}

/// A 5xx or a lost connection after sending is never resent. When ISC had not created the
/// aggregation, the outcome stays unknown after the grace period; when it had, the client finds
/// it in task status and returns it as recovered, and waiting on it completes. In every version.
#[tokio::test]
async fn server_error_or_lost_connection_after_sending_is_never_resent() {
    for version in ApiVersion::all() {
        for (fault, created) in [
            (Fault::status(500), false),
            // The whole body received, then the connection dropped unprocessed: ambiguous to
            // the client (it sent its last byte), and nothing started. (A drop before the body
            // is complete is provably not a start and is resent: the fault suite's links area.)
            (Fault::cut_body(u64::MAX), false),
            (Fault::DropAfterProcessing, true),
            (Fault::status_after_processing(503), true),
        ] {
            let sb = sandbox().await;
            sb.inject(Operation::ImportAccounts, fault.clone(), 1);
            let (path, _) = csv_file("maybe-started.csv", 10, None);
            let client = builder(&sb, version)
                .outcome_resolution(quick_resolution())
                .build()
                .unwrap();
            let result = client
                .start_aggregation("source-5xx")
                .file(&path)
                .send()
                .await;
            if created {
                let started = result.unwrap_or_else(|e| panic!("{version} {fault:?}: {e}"));
                assert_eq!(started.origin, StartOrigin::Recovered);
                assert_eq!(started.api_version, version);
                assert_eq!(started.task_id, sb.aggregations()[0].id, "{fault:?}");
                let done = client.wait_for_aggregation(&started).send().await.unwrap();
                assert_eq!(done.state, Some(AggregationState::Completed));
            } else {
                let err = result.expect_err("outcome unknown");
                assert!(
                    matches!(
                        err,
                        Error::OutcomeUnknown {
                            lookup: Some(_),
                            ..
                        }
                    ),
                    "{version} {fault:?}: {err:?}"
                );
            }
            assert_eq!(
                sb.request_count(Operation::ImportAccounts),
                1,
                "{version} {fault:?}: sent once"
            );
            assert_eq!(
                sb.aggregations_started("source-5xx"),
                usize::from(created),
                "{version} {fault:?}"
            );
        }
    }
}

/// The sandbox answers 400 to an operation its vendored spec marks experimental when the header
/// is missing, and accepts the others with or without it; the client sends it exactly when the
/// generated table says so. Every version's start and status therefore succeed.
#[tokio::test]
async fn experimental_header_is_what_each_version_requires() {
    let sb = sandbox().await;
    let (path, _) = csv_file("header.csv", 3, None);
    for version in ApiVersion::all() {
        let client = client(&sb, version);
        // A source per version: ISC refuses a start while one runs on the source.
        let started = client
            .start_aggregation(format!("s-{version}"))
            .file(&path)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        let status = client
            .aggregation_status(&started)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert!(status.state.is_some(), "{version}");
    }
}

#[tokio::test]
async fn terminated_and_expired_aggregations_are_typed_failures() {
    let sb = Sandbox::builder()
        .collect_duration(Duration::from_millis(100))
        .process_duration(Duration::from_millis(100))
        .retention(Duration::from_millis(200))
        .task_retention(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let client = client(&sb, ApiVersion::V2025);
    let (path, _) = csv_file("terminated.csv", 5, None);
    sb.set_outcome("doomed", Outcome::Terminated);
    let started = client
        .start_aggregation("doomed")
        .file(&path)
        .send()
        .await
        .unwrap();
    let err = client
        .wait_for_aggregation(&started)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AggregationFailed { .. }), "{err:?}");

    let ok = client
        .start_aggregation("fine")
        .file(&path)
        .send()
        .await
        .unwrap();
    client.wait_for_aggregation(&ok).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let err = client.wait_for_aggregation(&ok).send().await.unwrap_err();
    assert!(matches!(err, Error::AggregationExpired { .. }), "{err:?}");
}

/// Past the status's retention (about an hour in ISC) the answer comes from task status (kept
/// 90 days): a completed aggregation still reads as completed, a terminated one as a failure
/// with the task's messages.
#[tokio::test]
async fn answers_past_the_status_retention_come_from_task_status() {
    let sb = Sandbox::builder()
        .collect_duration(Duration::from_millis(100))
        .process_duration(Duration::from_millis(100))
        .retention(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    for version in ApiVersion::all() {
        let client = client(&sb, version);
        let (path, _) = csv_file("late.csv", 5, None);
        let ok = client
            .start_aggregation("late-ok")
            .file(&path)
            .send()
            .await
            .unwrap();
        client.wait_for_aggregation(&ok).send().await.unwrap();
        sb.set_outcome("late-bad", Outcome::Terminated);
        let bad = client
            .start_aggregation("late-bad")
            .file(&path)
            .send()
            .await
            .unwrap();
        let _ = client.wait_for_aggregation(&bad).send().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let status = client.aggregation_status(&ok).send().await.unwrap();
        assert_eq!(status.state, Some(AggregationState::Completed), "{version}");
        assert!(
            status.task.is_some(),
            "{version}: answered from task status"
        );
        match client.wait_for_aggregation(&bad).send().await {
            Err(Error::AggregationFailed { status, .. }) => {
                assert!(status.task.is_some(), "{version}");
                assert!(!status.task_messages().is_empty(), "{version}");
            }
            other => panic!("{version}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn empty_file_sends_nothing() {
    let sb = sandbox().await;
    let dir = std::env::temp_dir().join(format!("isc-e2e-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.csv");
    std::fs::write(&empty, b"").unwrap();
    let err = client(&sb, ApiVersion::V2025)
        .start_aggregation("s")
        .file(&empty)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidFile { .. }), "{err:?}");
    assert_eq!(sb.requests().len(), 0);
}

//! Batch aggregation against the sandbox: mixed outcomes reported per item, a failing item
//! never stops the others (unless asked), completion found with task-status lists, every source
//! aggregated exactly once, no 429 with the limiter on.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sailpoint_isc::batch::{BatchEvent, BatchItem, ItemOutcome};
use sailpoint_isc::{ApiVersion, Client, Error, OutcomeResolution, RetryConfig};
use sailpoint_isc_sandbox::{Fault, Operation, Outcome, Sandbox};

async fn tenant() -> Sandbox {
    Sandbox::builder()
        .collect_duration(Duration::from_millis(200))
        .process_duration(Duration::from_millis(300))
        .start()
        .await
        .expect("sandbox starts")
}

fn client(sb: &Sandbox) -> Client {
    Client::builder()
        .base_url(sb.base_url())
        .client_credentials(sb.client_id(), sb.client_secret())
        .retry(
            RetryConfig::standard()
                .with_backoff(Duration::from_millis(10), Duration::from_millis(50)),
        )
        .outcome_resolution(
            OutcomeResolution::standard()
                .with_grace_period(Duration::from_millis(500))
                .with_poll_interval(Duration::from_millis(100)),
        )
        .build()
        .expect("client")
}

fn csv(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("isc-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, "id,name\n1,Ada\n2,Alan\n").unwrap();
    path
}

fn kind(outcome: &ItemOutcome) -> &'static str {
    match outcome {
        ItemOutcome::Completed(_) => "completed",
        ItemOutcome::Failed(Error::OutcomeUnknown { .. }) => "outcome_unknown",
        ItemOutcome::Failed(Error::AggregationFailed { .. }) => "failed",
        ItemOutcome::Failed(Error::InvalidFile { .. }) => "invalid_file",
        ItemOutcome::Failed(Error::SourceNotFound { .. }) => "source_not_found",
        ItemOutcome::Failed(Error::InvalidInput { .. }) => "invalid_input",
        ItemOutcome::Failed(_) => "other_error",
        ItemOutcome::Skipped { .. } => "skipped",
        _ => "unknown",
    }
}

#[tokio::test]
async fn mixed_outcomes_are_reported_per_item_and_never_stop_the_others() {
    let sb = tenant().await;
    let hr = sb.add_source("HR Feed");
    sb.set_outcome("doomed", Outcome::Terminated);
    // The first import of the batch (item 0; one at a time) is answered 500 before ISC created
    // anything: outcome unknown after the lookup, and never resent.
    sb.inject(Operation::ImportAccounts, Fault::status(500), 1);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let report = client(&sb)
        .aggregate_batch([
            BatchItem::source_id("lost-answer").file(csv("a.csv")),
            BatchItem::source_id("fine").file(csv("b.csv")),
            BatchItem::source_id("doomed").file(csv("c.csv")),
            BatchItem::source_id("no-file").file("/nonexistent/accounts.csv"),
            BatchItem::source_name("HR Feed").file(csv("d.csv")),
            BatchItem::source_name("Nobody"),
            BatchItem::source_id("fine"),
            BatchItem::source_id("direct-connect"),
        ])
        .max_concurrency(1)
        .poll_interval(Duration::from_millis(100))
        .max_wait(Duration::from_secs(30))
        .on_event(move |e| sink.lock().unwrap().push(e.clone()))
        .run()
        .await;
    let kinds: Vec<&str> = report.items.iter().map(|i| kind(&i.outcome)).collect();
    assert_eq!(
        kinds,
        [
            "outcome_unknown",
            "completed",
            "failed",
            "invalid_file",
            "completed",
            "source_not_found",
            // The same source again: run after its first item (a direct-connect start).
            "completed",
            "completed"
        ]
    );
    assert_eq!(report.items[4].source_id.as_deref(), Some(hr.as_str()));
    assert_eq!(report.completed(), 4);
    assert!(!report.all_completed());
    // Exactly one aggregation per started source; none for the refused items.
    for (source, expected) in [
        ("lost-answer", 0),
        ("fine", 2),
        ("doomed", 1),
        ("no-file", 0),
        (hr.as_str(), 1),
        ("direct-connect", 1),
    ] {
        assert_eq!(sb.aggregations_started(source), expected, "{source}");
    }
    assert_eq!(sb.request_count(Operation::ImportAccounts), 6);
    // The failure carries the task's messages; every item got exactly one Finished event.
    match &report.items[2].outcome {
        ItemOutcome::Failed(Error::AggregationFailed { status, .. }) => {
            assert_eq!(status.state_name(), "TERMINATED", "{status:?}");
            assert_eq!(
                status.task_messages(),
                ["The aggregation was terminated: the Virtual Appliance stopped responding."],
                "{status:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        report.items[2].outcome.task_messages(),
        ["The aggregation was terminated: the Virtual Appliance stopped responding."]
    );
    let events = events.lock().unwrap();
    for i in 0..8 {
        let finished = events
            .iter()
            .filter(|e| matches!(e, BatchEvent::Finished { item, .. } if *item == i))
            .count();
        assert_eq!(finished, 1, "item {i}");
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e, BatchEvent::SourceResolved { item: 4, .. }))
    );
    assert!(report.task_list_requests > 0);
}

#[tokio::test]
async fn stop_on_failure_skips_what_has_not_started() {
    let sb = tenant().await;
    let report = client(&sb)
        .aggregate_batch([
            BatchItem::source_id("first"),
            BatchItem::source_id("broken").file("/nonexistent/x.csv"),
            BatchItem::source_id("third"),
            BatchItem::source_id("fourth"),
        ])
        .max_concurrency(1)
        .stop_on_failure(true)
        .poll_interval(Duration::from_millis(100))
        .run()
        .await;
    let kinds: Vec<&str> = report.items.iter().map(|i| kind(&i.outcome)).collect();
    assert_eq!(kinds, ["completed", "invalid_file", "skipped", "skipped"]);
    assert_eq!(sb.request_count(Operation::ImportAccounts), 1);
}

/// Twelve sources, four at a time, in every version: all complete, each once, and completion
/// is found with task-status lists (a few per round) rather than a status loop per aggregation.
#[tokio::test]
async fn many_sources_complete_with_few_requests_and_no_429() {
    for version in ApiVersion::all() {
        let sb = tenant().await;
        let items: Vec<BatchItem> = (0..12)
            .map(|i| BatchItem::source_id(format!("src-{i}")).file(csv(&format!("{i}.csv"))))
            .collect();
        let report = client(&sb)
            .aggregate_batch(items)
            .api_version(version)
            .max_concurrency(4)
            .poll_interval(Duration::from_millis(150))
            .run()
            .await;
        assert!(report.all_completed(), "{version}: {report:?}");
        for i in 0..12 {
            assert_eq!(sb.aggregations_started(&format!("src-{i}")), 1, "{version}");
        }
        let refused = sb
            .requests()
            .iter()
            .filter(|r| r.status == Some(429))
            .count();
        assert_eq!(refused, 0, "{version}");
        for item in &report.items {
            match &item.outcome {
                ItemOutcome::Completed(status) => assert!(status.is_terminal(), "{version}"),
                other => panic!("{version}: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn the_maximum_wait_ends_running_items_with_a_timeout() {
    let sb = Sandbox::builder()
        .collect_duration(Duration::from_secs(30))
        .process_duration(Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let report = client(&sb)
        .aggregate_batch([BatchItem::source_id("slow"), BatchItem::source_id("slower")])
        .max_concurrency(1)
        .poll_interval(Duration::from_millis(100))
        .max_wait(Duration::from_millis(700))
        .run()
        .await;
    assert!(matches!(
        report.items[0].outcome,
        ItemOutcome::Failed(Error::WaitTimeout { .. })
    ));
    assert!(matches!(
        report.items[1].outcome,
        ItemOutcome::Skipped { .. }
    ));
    assert_eq!(sb.request_count(Operation::ImportAccounts), 1);
}

/// The maximum wait holds even when the completion checks wait for the client-side rate limit:
/// a limiter that allows one request a minute cannot keep the batch past its deadline.
#[tokio::test]
async fn the_maximum_wait_holds_while_requests_wait_for_the_rate_limit() {
    let sb = tenant().await;
    let client = Client::builder()
        .base_url(sb.base_url())
        .client_credentials(sb.client_id(), sb.client_secret())
        .rate_limit(sailpoint_isc::RateLimit::new(2, Duration::from_secs(60)))
        .outcome_resolution(OutcomeResolution::disabled())
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let report = client
        .aggregate_batch([BatchItem::source_id("a"), BatchItem::source_id("b")])
        .max_concurrency(2)
        .poll_interval(Duration::from_millis(10))
        .max_wait(Duration::from_millis(800))
        .run()
        .await;
    let took = started.elapsed();
    // Bounded by the 800 ms maximum wait, not by the limiter's 60 s window.
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(
        report
            .items
            .iter()
            .all(|i| matches!(i.outcome, ItemOutcome::Failed(Error::WaitTimeout { .. }))),
        "{report:?}"
    );
}

/// ISC refuses a start while another aggregation runs on the source (a 202 whose task has
/// already ended `ERROR`): that item's failure, with ISC's message, never resent; the other
/// items go on.
#[tokio::test]
async fn a_refused_start_is_that_items_failure_with_iscs_message() {
    let sb = tenant().await;
    sb.set_outcome("busy", Outcome::Stalled);
    let client = client(&sb);
    let running = client.start_aggregation("busy").send().await.unwrap();
    let report = client
        .aggregate_batch([BatchItem::source_id("busy"), BatchItem::source_id("free")])
        .max_concurrency(2)
        .poll_interval(Duration::from_millis(100))
        .max_wait(Duration::from_secs(30))
        .run()
        .await;
    let refused = &report.items[0];
    match &refused.outcome {
        ItemOutcome::Failed(Error::StartRefused {
            source_id,
            task_id,
            messages,
            ..
        }) => {
            assert_eq!(source_id, "busy");
            assert_ne!(task_id, &running.task_id);
            assert_eq!(
                messages,
                &[
                    "This aggregation failed because the currently running aggregation must \
                   complete before the next one can start."
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        refused.outcome.task_messages(),
        [
            "This aggregation failed because the currently running aggregation must complete \
          before the next one can start."
        ]
    );
    assert!(refused.started.is_none());
    assert!(report.items[1].outcome.is_completed(), "{report:?}");
    assert_eq!(sb.request_count(Operation::ImportAccounts), 3);
    assert!(sb.force_outcome(&running.task_id, Outcome::Completed));
}

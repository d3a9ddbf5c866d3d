//! A batch stopped mid-way through its cancellation token, against the simulated tenant: the
//! report comes back, nothing starts after the stop, every item has an outcome, and what did
//! start keeps its aggregation id (ISC goes on with it).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sailpoint_isc::batch::{BatchEvent, BatchItem, BatchReport, ItemOutcome};
use sailpoint_isc::{CancellationToken, Client, Error, OutcomeResolution};
use sailpoint_isc_sandbox::{Operation, Outcome, Sandbox};

/// A tenant whose aggregations on `sources` never end by themselves (they stay `STARTED`).
async fn tenant(sources: &[String]) -> Arc<Sandbox> {
    let sb = Sandbox::builder()
        .collect_duration(Duration::from_millis(200))
        .process_duration(Duration::from_millis(300))
        .start()
        .await
        .expect("sandbox starts");
    for source in sources {
        sb.set_outcome(source, Outcome::Stalled);
    }
    Arc::new(sb)
}

fn client(sb: &Sandbox) -> Client {
    Client::builder()
        .base_url(sb.base_url())
        .client_credentials(sb.client_id(), sb.client_secret())
        .outcome_resolution(
            OutcomeResolution::standard()
                .with_grace_period(Duration::from_millis(500))
                .with_poll_interval(Duration::from_millis(100)),
        )
        .build()
        .expect("client")
}

fn csv(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("isc-batch-cancel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, "id,name\n1,Ada\n2,Alan\n3,Grace\n").unwrap();
    path
}

/// Runs `items` on `sb`, cancelling the batch when the first aggregation has started; returns
/// the report and how many aggregations the tenant had at the moment of the stop.
async fn stopped_at_first_start(
    sb: &Arc<Sandbox>,
    items: Vec<BatchItem>,
    max_concurrency: usize,
) -> (BatchReport, usize, usize) {
    let stop = CancellationToken::new();
    let on_start = stop.clone();
    let tenant = sb.clone();
    let at_stop: Arc<Mutex<Option<usize>>> = Arc::default();
    let seen = at_stop.clone();
    let finished = Arc::new(Mutex::new(Vec::new()));
    let finished_sink = finished.clone();
    let report = client(sb)
        .aggregate_batch(items)
        .max_concurrency(max_concurrency)
        .poll_interval(Duration::from_millis(50))
        .cancel_on(stop)
        .on_event(move |event| match event {
            BatchEvent::Started { .. } if !on_start.is_cancelled() => {
                *seen.lock().unwrap() = Some(tenant.aggregations().len());
                on_start.cancel();
            }
            BatchEvent::Finished { item, .. } => finished_sink.lock().unwrap().push(*item),
            _ => {}
        })
        .run()
        .await;
    let at_stop = at_stop.lock().unwrap().expect("an aggregation started");
    // Every item has exactly one outcome, reported once.
    let mut finished = finished.lock().unwrap().clone();
    finished.sort_unstable();
    assert_eq!(
        finished,
        (0..report.items.len()).collect::<Vec<_>>(),
        "{report:?}"
    );
    let imports = sb.request_count(Operation::ImportAccounts);
    (report, at_stop, imports)
}

fn assert_stopped_with_its_id(report: &BatchReport, i: usize, sb: &Sandbox, source: &str) {
    let item = &report.items[i];
    let ItemOutcome::Stopped { task_id, .. } = &item.outcome else {
        panic!("item {i}: {:?}", item.outcome);
    };
    let started = item
        .started
        .as_ref()
        .expect("started ones keep their start");
    assert_eq!(&started.task_id, task_id);
    assert_eq!(item.source_id.as_deref(), Some(source));
    // ISC goes on with it: the tenant has it, still running.
    let aggregation = sb
        .aggregations()
        .into_iter()
        .find(|a| &a.id == task_id)
        .expect("the tenant has the aggregation");
    assert_eq!(aggregation.source_id, source);
    assert_eq!(aggregation.status.as_str(), "STARTED");
}

/// One at a time: the stop comes while the first aggregation runs. It is reported as still
/// running with its id; nothing else ever starts.
#[tokio::test]
async fn a_stop_while_one_runs_returns_the_report_and_starts_nothing_more() {
    let sources: Vec<String> = (0..5).map(|i| format!("one-at-a-time-{i}")).collect();
    let sb = tenant(&sources).await;
    let items = sources
        .iter()
        .map(|s| BatchItem::source_id(s).file(csv(&format!("{s}.csv"))))
        .collect();
    let (report, at_stop, imports) = stopped_at_first_start(&sb, items, 1).await;

    assert_eq!(at_stop, 1);
    assert_eq!(sb.aggregations().len(), 1, "nothing started after the stop");
    assert_eq!(imports, 1);
    assert_stopped_with_its_id(&report, 0, &sb, &sources[0]);
    for (i, source) in sources.iter().enumerate().skip(1) {
        match &report.items[i].outcome {
            ItemOutcome::Skipped { reason } => {
                assert_eq!(reason, "not started: the batch was stopped")
            }
            other => panic!("item {i}: {other:?}"),
        }
        assert!(report.items[i].started.is_none());
        assert_eq!(sb.aggregations_started(source), 0, "{source}");
    }
    assert!(!report.all_completed());
}

/// Three at a time: the stop comes while the other starts may still be in flight. They settle:
/// each is started (and reported with its id), not started, or of unknown outcome; items that
/// had no slot never start. Every aggregation the tenant has is one the report knows about.
#[tokio::test]
async fn a_stop_with_starts_in_flight_settles_them_and_accounts_for_every_aggregation() {
    let sources: Vec<String> = (0..6).map(|i| format!("three-at-a-time-{i}")).collect();
    let sb = tenant(&sources).await;
    let items = sources
        .iter()
        .map(|s| BatchItem::source_id(s).file(csv(&format!("{s}.csv"))))
        .collect();
    let (report, at_stop, imports) = stopped_at_first_start(&sb, items, 3).await;

    assert!((1..=3).contains(&at_stop), "{at_stop}");
    // Only the three starts in flight at the stop were ever sent.
    assert!(imports <= 3, "{imports}");
    let mut known: HashSet<String> = HashSet::new();
    let mut unknown_sources = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        match &report.items[i].outcome {
            ItemOutcome::Stopped { task_id, .. } => {
                assert_stopped_with_its_id(&report, i, &sb, source);
                known.insert(task_id.clone());
            }
            ItemOutcome::Skipped { reason } => {
                assert_eq!(reason, "not started: the batch was stopped");
                assert_eq!(sb.aggregations_started(source), 0, "{source}");
            }
            ItemOutcome::Failed(Error::OutcomeUnknown { source_id, .. }) => {
                assert_eq!(source_id, source);
                unknown_sources.push(source.clone());
            }
            other => panic!("item {i}: {other:?}"),
        }
        if i >= 3 {
            assert!(
                matches!(report.items[i].outcome, ItemOutcome::Skipped { .. }),
                "item {i} had no slot: {:?}",
                report.items[i].outcome
            );
        }
    }
    assert!(!known.is_empty());
    for aggregation in sb.aggregations() {
        assert!(
            known.contains(&aggregation.id) || unknown_sources.contains(&aggregation.source_id),
            "an aggregation the report does not account for: {} on {}",
            aggregation.id,
            aggregation.source_id
        );
    }
}

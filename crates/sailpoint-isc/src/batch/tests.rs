//! The batch driver under paused time, against a scripted stand-in for ISC: the deadline, a
//! stop, a panicking start, snapshots per chunk and lists of at most 50, with no network.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::time::{Instant, sleep};
use tokio_util::sync::CancellationToken;

use super::driver::{Backend, Plan, drive};
use super::{BatchEvent, BatchItem, BatchReport, ItemOutcome};

use sailpoint_isc_api::ApiVersion;

use crate::error::{Error, ErrorContext};
use crate::kind::AggregationKind;
use crate::status::{
    AggregationState, AggregationStatus, AggregationTask, StartOrigin, StartedAggregation,
};
use crate::task_status::{CompletionStatus, LocalizedText, TaskStatus, TaskStatusMessage};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// How the stand-in behaves, per source.
#[derive(Clone, Default)]
struct Script {
    /// How long a start takes (default: no time).
    start_takes: HashMap<String, Duration>,
    /// How long an aggregation runs (default 1 s).
    runs: HashMap<String, Duration>,
    /// Aggregations that end `ERROR`, with this message.
    fails: HashMap<String, String>,
    /// Starts that panic.
    panics: HashSet<String>,
    /// Starts whose upload went whole: a stop does not cut them, they return started.
    sent_whole: HashSet<String>,
    /// Source names and their ids; an unknown name is not found, `"hang"` never answers.
    names: HashMap<String, String>,
    /// Whether starts get a snapshot, how long one takes, and whether it fails.
    snapshots: bool,
    snapshot_takes: Duration,
    snapshot_fails: bool,
    /// The spare rate budget (`None`: no limiter).
    budget: Option<usize>,
}

#[derive(Default)]
struct State {
    /// (time since the test began, what was asked).
    log: Vec<(Duration, Call)>,
    /// Task id → when it ends.
    tasks: HashMap<String, Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Resolve(String),
    Snapshot(AggregationKind, Vec<String>),
    Start {
        source: String,
        kind: AggregationKind,
        snapshot: bool,
    },
    List(usize),
    Status(String),
}

#[derive(Clone)]
struct Fake {
    script: Arc<Script>,
    t0: Instant,
    state: Arc<Mutex<State>>,
}

impl Fake {
    fn new(script: Script) -> Self {
        Fake {
            script: Arc::new(script),
            t0: Instant::now(),
            state: Arc::default(),
        }
    }

    fn record(&self, call: Call) {
        let at = self.t0.elapsed();
        self.state.lock().unwrap().log.push((at, call));
    }

    fn log(&self) -> Vec<(Duration, Call)> {
        self.state.lock().unwrap().log.clone()
    }

    fn starts(&self) -> Vec<(Duration, String)> {
        self.log()
            .into_iter()
            .filter_map(|(at, call)| match call {
                Call::Start { source, .. } => Some((at, source)),
                _ => None,
            })
            .collect()
    }

    fn ends(&self, task_id: &str) -> Option<Instant> {
        self.state.lock().unwrap().tasks.get(task_id).copied()
    }

    fn source_of(task_id: &str) -> &str {
        // `task-<source>`, `task-<source>#2` for its second start, …
        let id = task_id.trim_start_matches("task-");
        id.split('#').next().unwrap_or(id)
    }

    fn task(&self, task_id: &str) -> Option<TaskStatus> {
        let ends = self.ends(task_id)?;
        let source = Self::source_of(task_id);
        let mut task = TaskStatus {
            id: Some(task_id.to_owned()),
            ..Default::default()
        };
        if Instant::now() >= ends {
            match self.script.fails.get(source) {
                Some(message) => {
                    task.completion_status = Some(CompletionStatus::parse("ERROR"));
                    task.messages = vec![TaskStatusMessage {
                        message_type: Some("ERROR".into()),
                        key: Some(message.clone()),
                        localized_text: Some(LocalizedText {
                            locale: Some("en-US".into()),
                            message: Some(message.clone()),
                        }),
                        parameters: Vec::new(),
                    }];
                }
                None => task.completion_status = Some(CompletionStatus::parse("SUCCESS")),
            }
        }
        Some(task)
    }
}

fn context() -> Box<ErrorContext> {
    Box::new(ErrorContext::new("importAccounts", Some(ApiVersion::V1)))
}

impl Backend for Fake {
    fn version(&self) -> ApiVersion {
        ApiVersion::V1
    }

    fn resolve<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<String, Error>> {
        async move {
            self.record(Call::Resolve(name.to_owned()));
            if name == "hang" {
                std::future::pending::<()>().await;
            }
            self.script
                .names
                .get(name)
                .cloned()
                .ok_or_else(|| Error::SourceNotFound {
                    name: name.to_owned(),
                    similar: Vec::new(),
                })
        }
        .boxed()
    }

    fn takes_snapshots(&self) -> bool {
        self.script.snapshots
    }

    fn snapshot<'a>(
        &'a self,
        kind: AggregationKind,
        sources: &'a [String],
        _bound: Option<Instant>,
        _cancel: Option<&'a CancellationToken>,
    ) -> BoxFuture<'a, Result<HashMap<String, TaskStatus>, Error>> {
        async move {
            assert!(sources.len() <= 50, "a snapshot list of {}", sources.len());
            self.record(Call::Snapshot(kind, sources.to_vec()));
            sleep(self.script.snapshot_takes).await;
            if self.script.snapshot_fails {
                return Err(Error::Server { context: context() });
            }
            Ok(HashMap::new())
        }
        .boxed()
    }

    fn start(
        &self,
        item: &BatchItem,
        source_id: String,
        newest: Option<Option<TaskStatus>>,
        _bound: Option<Instant>,
        cancel: Option<CancellationToken>,
    ) -> BoxFuture<'static, Result<StartedAggregation, Error>> {
        // Recorded when the driver spawns it.
        self.record(Call::Start {
            source: source_id.clone(),
            kind: item.kind,
            snapshot: newest.is_some(),
        });
        let kind = item.kind;
        let fake = self.clone();
        async move {
            let script = &fake.script;
            if script.panics.contains(&source_id) {
                panic!("simulated panic in the start of {source_id}");
            }
            let upload = sleep(
                script
                    .start_takes
                    .get(&source_id)
                    .copied()
                    .unwrap_or_default(),
            );
            match cancel.filter(|_| !script.sent_whole.contains(&source_id)) {
                Some(token) => tokio::select! {
                    () = token.cancelled() => return Err(Error::Cancelled { context: context() }),
                    () = upload => {}
                },
                None => upload.await,
            }
            let runs = script.runs.get(&source_id).copied().unwrap_or(secs(1));
            let task_id = {
                let mut state = fake.state.lock().unwrap();
                let mut task_id = format!("task-{source_id}");
                let mut n = 1;
                while state.tasks.contains_key(&task_id) {
                    n += 1;
                    task_id = format!("task-{source_id}#{n}");
                }
                state.tasks.insert(task_id.clone(), Instant::now() + runs);
                task_id
            };
            Ok(StartedAggregation {
                task_id,
                source_id,
                api_version: ApiVersion::V1,
                kind,
                success: Some(true),
                task: AggregationTask::default(),
                origin: StartOrigin::Started,
            })
        }
        .boxed()
    }

    fn list<'a>(
        &'a self,
        ids: &'a [String],
        _bound: Option<Instant>,
        _cancel: Option<&'a CancellationToken>,
    ) -> BoxFuture<'a, Result<Vec<TaskStatus>, Error>> {
        async move {
            assert!(ids.len() <= 50, "a task-status list of {} ids", ids.len());
            self.record(Call::List(ids.len()));
            Ok(ids.iter().filter_map(|id| self.task(id)).collect())
        }
        .boxed()
    }

    fn status<'a>(
        &'a self,
        task_id: &'a str,
        _kind: AggregationKind,
    ) -> BoxFuture<'a, Result<AggregationStatus, Error>> {
        async move {
            self.record(Call::Status(task_id.to_owned()));
            let task = self
                .task(task_id)
                .ok_or_else(|| Error::AggregationExpired {
                    task_id: task_id.to_owned(),
                    context: context(),
                })?;
            let state = match &task.completion_status {
                None => AggregationState::Started,
                Some(s) if s.is_success() => AggregationState::Completed,
                Some(_) => AggregationState::Terminated,
            };
            Ok(AggregationStatus {
                state: Some(state),
                ..Default::default()
            })
        }
        .boxed()
    }

    fn spare_budget(&self) -> Option<usize> {
        self.script.budget
    }
}

fn plan(max_concurrency: usize, max_wait: Duration) -> Plan {
    Plan {
        max_concurrency,
        stop_on_failure: false,
        max_wait,
        poll_interval: secs(1),
    }
}

fn ids(sources: &[&str]) -> Vec<BatchItem> {
    sources.iter().map(|s| BatchItem::source_id(*s)).collect()
}

/// Runs the batch, collecting its events.
async fn run(
    fake: &Fake,
    items: Vec<BatchItem>,
    plan: Plan,
    cancel: Option<CancellationToken>,
) -> (BatchReport, Vec<BatchEvent>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let on_event: super::EventCallback = Box::new(move |e: &BatchEvent| {
        sink.lock().unwrap().push(e.clone());
    });
    let report = drive(fake, items, plan, Some(on_event), cancel).await;
    let events = events.lock().unwrap().clone();
    // Every item ends exactly once, in the report and in the events.
    assert_eq!(report.items.len(), report.items.len());
    for (i, item) in report.items.iter().enumerate() {
        assert_eq!(item.item, i);
        let finished = events
            .iter()
            .filter(|e| matches!(e, BatchEvent::Finished { item, .. } if *item == i))
            .count();
        assert_eq!(finished, 1, "item {i}: {events:?}");
    }
    (report, events)
}

fn skip_reason(outcome: &ItemOutcome) -> &str {
    match outcome {
        ItemOutcome::Skipped { reason } => reason,
        other => panic!("not skipped: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn many_items_start_in_chunks_each_after_its_own_snapshot_and_lists_hold_50_ids() {
    let fake = Fake::new(Script {
        snapshots: true,
        ..Default::default()
    });
    let sources: Vec<String> = (0..120).map(|i| format!("s{i}")).collect();
    let items = sources.iter().map(BatchItem::source_id).collect();
    let (report, _) = run(&fake, items, plan(100, secs(3600)), None).await;
    assert!(report.all_completed(), "{report:?}");

    // Each chunk of starts follows its own snapshot, taken at the same moment, of exactly its
    // sources (at most 50).
    let log = fake.log();
    let mut chunks: Vec<(Duration, Vec<String>, Vec<String>)> = Vec::new();
    for (at, call) in &log {
        match call {
            Call::Snapshot(_, sources) => chunks.push((*at, sources.clone(), Vec::new())),
            Call::Start {
                source, snapshot, ..
            } => {
                assert!(snapshot, "{source} started without the chunk's snapshot");
                let (taken, _, started) = chunks.last_mut().expect("a snapshot first");
                assert_eq!(*taken, *at, "{source}: the snapshot was taken just before");
                started.push(source.clone());
            }
            _ => {}
        }
    }
    let sizes: Vec<usize> = chunks.iter().map(|(_, s, _)| s.len()).collect();
    assert_eq!(sizes, [50, 50, 20]);
    for (_, snapshot, started) in &chunks {
        assert_eq!(snapshot, started);
    }
    // The last chunk waited for slots: its snapshot is not the one taken at the beginning.
    assert!(chunks[2].0 > Duration::ZERO, "{:?}", chunks[2].0);
    // Completion checks: lists of at most 50 ids (asserted by the stand-in), 100 running at
    // first, so two per round.
    let lists: Vec<usize> = log
        .iter()
        .filter_map(|(_, c)| match c {
            Call::List(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(&lists[..2], [50, 50]);
    assert_eq!(report.task_list_requests, lists.len() as u64);
}

#[tokio::test(start_paused = true)]
async fn nothing_starts_after_the_deadline_and_a_start_in_flight_is_let_finish() {
    let fake = Fake::new(Script {
        start_takes: HashMap::from([("s0".into(), secs(1)), ("s1".into(), secs(8))]),
        runs: HashMap::from([("s0".into(), secs(100)), ("s1".into(), secs(100))]),
        ..Default::default()
    });
    let (report, events) = run(
        &fake,
        ids(&["s0", "s1", "s2", "s3"]),
        plan(2, secs(5)),
        None,
    )
    .await;
    // Only the two first ever started, at once; none after the deadline.
    assert_eq!(
        fake.starts(),
        [(Duration::ZERO, "s0".into()), (Duration::ZERO, "s1".into())]
    );
    // s0 ran at the deadline: timed out. s1's start was in flight: let finish (at 8 s), then
    // reported as started and timed out.
    for i in [0, 1] {
        let item = &report.items[i];
        match &item.outcome {
            ItemOutcome::Failed(Error::WaitTimeout {
                task_id, waited, ..
            }) => {
                assert_eq!(task_id, &format!("task-s{i}"));
                assert_eq!(*waited, secs(5));
            }
            other => panic!("item {i}: {other:?}"),
        }
        assert_eq!(item.started.as_ref().unwrap().task_id, format!("task-s{i}"));
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e, BatchEvent::Started { item: 1, .. }))
    );
    assert_eq!(report.items[0].elapsed, secs(5));
    assert_eq!(report.items[1].elapsed, secs(8));
    for i in [2, 3] {
        assert_eq!(
            skip_reason(&report.items[i].outcome),
            "not started: the batch's maximum wait passed"
        );
    }
    assert_eq!(report.elapsed, secs(8));
    // No request after the deadline.
    assert!(
        fake.log().iter().all(|(at, _)| *at < secs(5)),
        "{:?}",
        fake.log()
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_bounds_name_lookups_and_snapshots() {
    // A lookup that never answers.
    let fake = Fake::new(Script::default());
    let items = vec![BatchItem::source_name("hang"), BatchItem::source_id("s1")];
    let (report, _) = run(&fake, items, plan(2, secs(3)), None).await;
    assert_eq!(report.elapsed, secs(3));
    for item in &report.items {
        assert_eq!(
            skip_reason(&item.outcome),
            "not started: the batch's maximum wait passed"
        );
    }
    assert!(fake.starts().is_empty());

    // A snapshot that ends after the deadline: nothing starts.
    let fake = Fake::new(Script {
        snapshots: true,
        snapshot_takes: secs(10),
        ..Default::default()
    });
    let (report, _) = run(&fake, ids(&["a", "b"]), plan(2, secs(3)), None).await;
    assert_eq!(report.elapsed, secs(3));
    assert!(fake.starts().is_empty(), "{:?}", fake.log());
    assert!(
        report
            .items
            .iter()
            .all(|i| matches!(i.outcome, ItemOutcome::Skipped { .. }))
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_snapshot_is_not_fatal() {
    let fake = Fake::new(Script {
        snapshots: true,
        snapshot_fails: true,
        ..Default::default()
    });
    let (report, _) = run(&fake, ids(&["a", "b"]), plan(2, secs(60)), None).await;
    assert!(report.all_completed(), "{report:?}");
    // Each start then takes its own.
    assert!(fake.log().iter().any(|(_, c)| matches!(
        c,
        Call::Start {
            snapshot: false,
            ..
        }
    )));
}

#[tokio::test(start_paused = true)]
async fn a_start_that_panics_is_an_unknown_outcome_for_its_own_item() {
    let fake = Fake::new(Script {
        panics: HashSet::from(["boom".to_owned()]),
        ..Default::default()
    });
    let (report, _) = run(
        &fake,
        ids(&["fine", "boom", "also-fine"]),
        plan(3, secs(60)),
        None,
    )
    .await;
    assert!(report.items[0].outcome.is_completed());
    assert!(report.items[2].outcome.is_completed());
    match &report.items[1].outcome {
        ItemOutcome::Failed(Error::OutcomeUnknown {
            source_id, reason, ..
        }) => {
            assert_eq!(source_id, "boom");
            assert!(reason.contains("the start task panicked"), "{reason}");
            assert!(
                reason.contains("simulated panic in the start of boom"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(report.items[1].started.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_stop_settles_the_starts_in_flight_and_stops_waiting() {
    let fake = Fake::new(Script {
        start_takes: HashMap::from([
            ("run-a".into(), ms(500)),
            ("run-b".into(), ms(500)),
            ("cut".into(), secs(10)),
            ("sent".into(), secs(4)),
        ]),
        runs: HashMap::from([("run-a".into(), secs(100)), ("run-b".into(), secs(100))]),
        sent_whole: HashSet::from(["sent".to_owned()]),
        ..Default::default()
    });
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    tokio::spawn(async move {
        sleep(secs(2)).await;
        stopper.cancel();
    });
    let (report, events) = run(
        &fake,
        ids(&["run-a", "run-b", "cut", "sent", "pending-a", "pending-b"]),
        plan(4, secs(3600)),
        Some(stop),
    )
    .await;
    // Running ones: no longer waited for, still started. The one whose upload went whole:
    // started. The one cut: not started. Pending ones: not started.
    for (i, task) in [(0, "task-run-a"), (1, "task-run-b"), (3, "task-sent")] {
        match &report.items[i].outcome {
            ItemOutcome::Stopped { task_id, .. } => assert_eq!(task_id, task),
            other => panic!("item {i}: {other:?}"),
        }
        assert_eq!(report.items[i].started.as_ref().unwrap().task_id, task);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, BatchEvent::Started { item, .. } if *item == i))
        );
    }
    for i in [2, 4, 5] {
        assert_eq!(
            skip_reason(&report.items[i].outcome),
            "not started: the batch was stopped"
        );
        assert!(report.items[i].started.is_none());
    }
    assert_eq!(report.items[0].elapsed, secs(2));
    assert_eq!(report.items[2].elapsed, secs(2));
    // Back as soon as the last start in flight settled.
    assert_eq!(report.elapsed, secs(4));
    // Nothing was asked after the stop but what was in flight.
    let starts: Vec<String> = fake.starts().into_iter().map(|(_, s)| s).collect();
    assert_eq!(starts, ["run-a", "run-b", "cut", "sent"]);
    assert!(fake.log().iter().all(|(at, _)| *at <= secs(2)));
}

#[tokio::test(start_paused = true)]
async fn a_batch_stopped_before_it_runs_sends_nothing() {
    let fake = Fake::new(Script::default());
    let stop = CancellationToken::new();
    stop.cancel();
    let items = vec![BatchItem::source_name("HR"), BatchItem::source_id("a")];
    let (report, _) = run(&fake, items, plan(2, secs(60)), Some(stop)).await;
    assert!(fake.log().is_empty(), "{:?}", fake.log());
    assert!(
        report
            .items
            .iter()
            .all(|i| skip_reason(&i.outcome) == "not started: the batch was stopped")
    );
    assert_eq!(report.elapsed, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_failure_carries_the_tasks_messages_with_or_without_a_status_read() {
    for budget in [None, Some(0)] {
        let fake = Fake::new(Script {
            fails: HashMap::from([("doomed".into(), "the VA stopped responding".into())]),
            budget,
            ..Default::default()
        });
        let (report, _) = run(&fake, ids(&["doomed", "fine"]), plan(2, secs(60)), None).await;
        assert!(report.items[1].outcome.is_completed());
        let outcome = &report.items[0].outcome;
        assert!(
            matches!(
                outcome,
                ItemOutcome::Failed(Error::AggregationFailed { .. })
            ),
            "{outcome:?}"
        );
        assert_eq!(outcome.task_messages(), ["the VA stopped responding"]);
        // Without budget to spare: no status read at all, the task alone.
        if budget == Some(0) {
            assert_eq!(report.status_requests, 0);
            assert!(!fake.log().iter().any(|(_, c)| matches!(c, Call::Status(_))));
        } else {
            assert!(report.status_requests > 0);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn names_resolve_once_and_failures_stop_nothing() {
    let fake = Fake::new(Script {
        names: HashMap::from([("HR".into(), "hr-id".into())]),
        start_takes: HashMap::from([("bad".into(), ms(10))]),
        ..Default::default()
    });
    let items = vec![
        BatchItem::source_name("HR"),
        BatchItem::source_name("Nobody"),
        BatchItem::source_id("hr-id"),
        BatchItem::source_name("HR"),
        BatchItem::source_id("other"),
    ];
    let (report, events) = run(&fake, items, plan(1, secs(60)), None).await;
    let resolves = fake
        .log()
        .iter()
        .filter(|(_, c)| matches!(c, Call::Resolve(_)))
        .count();
    assert_eq!(resolves, 2, "each name once");
    assert!(report.items[0].outcome.is_completed());
    assert!(matches!(
        report.items[1].outcome,
        ItemOutcome::Failed(Error::SourceNotFound { .. })
    ));
    // The same source again, by id or by name: run after the earlier item, in order.
    for i in [2, 3, 4] {
        assert!(report.items[i].outcome.is_completed(), "item {i}");
    }
    let hr_starts: Vec<String> = report.items[..4]
        .iter()
        .filter_map(|item| item.started.as_ref().map(|s| s.task_id.clone()))
        .collect();
    assert_eq!(hr_starts, ["task-hr-id", "task-hr-id#2", "task-hr-id#3"]);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, BatchEvent::SourceResolved { .. }))
            .count(),
        2
    );
}

#[tokio::test(start_paused = true)]
async fn items_of_one_source_run_one_after_the_other_in_order_others_in_parallel() {
    let fake = Fake::new(Script {
        snapshots: true,
        runs: HashMap::from([("a".into(), secs(3)), ("b".into(), secs(10))]),
        ..Default::default()
    });
    let items = vec![
        BatchItem::source_id("a"),
        BatchItem::source_id("b"),
        BatchItem::source_id("a").kind(AggregationKind::Entitlements),
        BatchItem::source_id("a"),
    ];
    let (report, _) = run(&fake, items, plan(10, secs(3600)), None).await;
    assert!(report.all_completed(), "{report:?}");
    let starts: Vec<(Duration, String, AggregationKind)> = fake
        .log()
        .into_iter()
        .filter_map(|(at, call)| match call {
            Call::Start { source, kind, .. } => Some((at, source, kind)),
            _ => None,
        })
        .collect();
    let order: Vec<(&str, AggregationKind)> =
        starts.iter().map(|(_, s, k)| (s.as_str(), *k)).collect();
    assert_eq!(
        order,
        [
            ("a", AggregationKind::Accounts),
            ("b", AggregationKind::Accounts),
            ("a", AggregationKind::Entitlements),
            ("a", AggregationKind::Accounts),
        ]
    );
    // b beside the first a; each later a only once the one before it had ended (3 s each).
    assert_eq!(starts[0].0, Duration::ZERO);
    assert_eq!(starts[1].0, Duration::ZERO);
    assert!(starts[2].0 >= secs(3), "{:?}", starts[2].0);
    assert!(starts[3].0 >= starts[2].0 + secs(3), "{:?}", starts[3].0);
    // b (10 s) was still running when the second a started: sources run in parallel.
    assert!(starts[2].0 < secs(10));
    // The items' reports keep the manifest's order and their own aggregations.
    let ids: Vec<&str> = report
        .items
        .iter()
        .map(|i| i.started.as_ref().unwrap().task_id.as_str())
        .collect();
    assert_eq!(ids, ["task-a", "task-b", "task-a#2", "task-a#3"]);
}

#[tokio::test(start_paused = true)]
async fn a_chunk_takes_one_snapshot_per_kind_of_its_sources() {
    let fake = Fake::new(Script {
        snapshots: true,
        ..Default::default()
    });
    let items = vec![
        BatchItem::source_id("s0"),
        BatchItem::source_id("s1").kind(AggregationKind::Entitlements),
        BatchItem::source_id("s2"),
    ];
    let (report, _) = run(&fake, items, plan(10, secs(3600)), None).await;
    assert!(report.all_completed(), "{report:?}");
    let snapshots: Vec<(AggregationKind, Vec<String>)> = fake
        .log()
        .into_iter()
        .filter_map(|(_, call)| match call {
            Call::Snapshot(kind, sources) => Some((kind, sources)),
            _ => None,
        })
        .collect();
    assert_eq!(
        snapshots,
        [
            (AggregationKind::Accounts, vec!["s0".into(), "s2".into()]),
            (AggregationKind::Entitlements, vec!["s1".into()]),
        ]
    );
}

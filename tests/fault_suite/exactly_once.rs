//! Area 6: exactly once. Every ambiguous start — ISC created the aggregation, then the client
//! lost the answer (a 502 after processing, the connection dropped after processing, the
//! response timeout passing after the upload's last byte with the answer held back) — of every
//! kind (an account aggregation, `importAccounts`; an entitlement load, `importEntitlements`), in
//! every API version, under every state of task status (healthy, down, listing the new task late
//! but within the grace period, listing it only after the grace period). Always exactly one
//! aggregation of that kind on the tenant, one start request, and nothing of the other kind; the
//! start is resolved (returned as recovered, with the real task id) when task status lists the
//! task within the grace period, and is `Error::OutcomeUnknown` carrying the lookup otherwise.
//!
//! The kind is one dimension of the table: what differs between kinds (the operation whose
//! requests are counted, how the tenant counts what it started and which id it gave) is in
//! [`KindFacts`]; the scenario itself is the same code for both.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sailpoint_isc::{
    AggregationKind, ApiVersion, Client, Error, OutcomeResolution, RetryConfig, StartOrigin,
    TimeoutConfig,
};
use sailpoint_isc_sandbox::{Fault, Operation, Sandbox};
use tokio::sync::Semaphore;

use crate::hygiene;
use crate::report::{Area, Seen, secs};

const SOURCE: &str = "exactly-once-source";
/// Far longer than a lookup request takes even on a loaded 2-core machine (a first run with
/// 1.5 s saw a single task-status list take 2.1 s there), so "within grace" does not hinge on
/// the machine's speed.
const GRACE: Duration = Duration::from_secs(8);
const POLL: Duration = Duration::from_millis(250);
/// The response timeout of the "no answer" fault, and how long the tenant holds the answer back.
const DEADLINE: Duration = Duration::from_millis(1000);
const HELD_BACK: Duration = Duration::from_millis(3000);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ambiguity {
    ServerErrorAfterProcessing,
    DropAfterProcessing,
    DeadlineInFlight,
}

impl Ambiguity {
    const ALL: [Ambiguity; 3] = [
        Ambiguity::ServerErrorAfterProcessing,
        Ambiguity::DropAfterProcessing,
        Ambiguity::DeadlineInFlight,
    ];

    fn label(self) -> &'static str {
        match self {
            Ambiguity::ServerErrorAfterProcessing => "502 after processing",
            Ambiguity::DropAfterProcessing => "drop after processing",
            Ambiguity::DeadlineInFlight => "no answer after the last byte",
        }
    }

    fn fault(self) -> Fault {
        match self {
            Ambiguity::ServerErrorAfterProcessing => Fault::status_after_processing(502),
            Ambiguity::DropAfterProcessing => Fault::DropAfterProcessing,
            Ambiguity::DeadlineInFlight => Fault::DelayAfterProcessing(HELD_BACK),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TaskStatusState {
    Healthy,
    Down,
    ListedLateWithinGrace,
    ListedAfterGrace,
}

impl TaskStatusState {
    const ALL: [TaskStatusState; 4] = [
        TaskStatusState::Healthy,
        TaskStatusState::Down,
        TaskStatusState::ListedLateWithinGrace,
        TaskStatusState::ListedAfterGrace,
    ];

    fn label(self) -> &'static str {
        match self {
            TaskStatusState::Healthy => "task status healthy",
            TaskStatusState::Down => "task status down",
            TaskStatusState::ListedLateWithinGrace => "listed late, within grace",
            TaskStatusState::ListedAfterGrace => "listed after grace",
        }
    }

    /// Whether the lookup can find the task in time.
    fn resolvable(self) -> bool {
        matches!(
            self,
            TaskStatusState::Healthy | TaskStatusState::ListedLateWithinGrace
        )
    }
}

/// What the tenant side of one kind looks like: the operation that starts it, how many the
/// tenant started on a source, and the id of the first it started.
struct KindFacts {
    operation: Operation,
    started: fn(&Sandbox, &str) -> usize,
    first_id: fn(&Sandbox) -> Option<String>,
}

fn facts(kind: AggregationKind) -> KindFacts {
    match kind {
        AggregationKind::Entitlements => KindFacts {
            operation: Operation::ImportEntitlements,
            started: Sandbox::entitlement_loads_started,
            first_id: |sandbox| sandbox.entitlement_loads().first().map(|l| l.id.clone()),
        },
        AggregationKind::Accounts => KindFacts {
            operation: Operation::ImportAccounts,
            started: Sandbox::aggregations_started,
            first_id: |sandbox| sandbox.aggregations().first().map(|a| a.id.clone()),
        },
        other => panic!("the sandbox has no {other} to count"),
    }
}

/// What one scenario ended with, for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Resolved,
    Unknown,
}

async fn scenario(
    kind: AggregationKind,
    version: ApiVersion,
    ambiguity: Ambiguity,
    task_status: TaskStatusState,
) -> Result<(Seen, String, Ended), String> {
    let own = facts(kind);
    let mut builder = Sandbox::builder()
        .client(hygiene::CLIENT_ID, hygiene::client_secret())
        .collect_duration(Duration::from_millis(200))
        .process_duration(Duration::from_millis(200))
        .no_rate_limit();
    builder = match task_status {
        TaskStatusState::ListedLateWithinGrace => builder.task_list_delay(GRACE / 3),
        TaskStatusState::ListedAfterGrace => builder.task_list_delay(GRACE + HELD_BACK + DEADLINE),
        _ => builder,
    };
    let sandbox = builder.start().await.map_err(|e| e.to_string())?;
    if task_status == TaskStatusState::Down {
        sandbox.inject(Operation::GetTaskStatusList, Fault::status(503), 100_000);
        sandbox.inject(Operation::GetTaskStatus, Fault::status(503), 100_000);
    }
    sandbox.inject(own.operation, ambiguity.fault(), 1);
    let retry =
        RetryConfig::standard().with_backoff(Duration::from_millis(10), Duration::from_millis(40));
    let mut timeouts = TimeoutConfig::standard();
    if ambiguity == Ambiguity::DeadlineInFlight {
        timeouts = timeouts.with_response_timeout(DEADLINE);
    }
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .client_credentials(hygiene::CLIENT_ID, hygiene::client_secret())
        .api_version(version)
        .retry(retry)
        .timeouts(timeouts)
        .outcome_resolution(
            OutcomeResolution::standard()
                .with_grace_period(GRACE)
                .with_poll_interval(POLL),
        )
        .build()
        .map_err(|e| e.to_string())?;
    let csv = crate::faults::small_csv();
    let result = client
        .start_aggregation(SOURCE)
        .kind(kind)
        .file(&csv)
        .send()
        .await;
    if let Err(error) = &result {
        hygiene::note_error(error);
    }
    hygiene::note_tokens(sandbox.issued_tokens());

    // Every kind's count, this one's and the others' (which must stay 0).
    let mut started = 0;
    let mut imports = 0;
    let mut elsewhere = Vec::new();
    for other in AggregationKind::ALL {
        let theirs = facts(other);
        let (n, requests) = (
            (theirs.started)(&sandbox, SOURCE),
            sandbox.request_count(theirs.operation),
        );
        if other == kind {
            (started, imports) = (n, requests);
        } else if n != 0 || requests != 0 {
            elsewhere.push(format!("{n} {other} started by {requests} request(s)"));
        }
    }
    let seen = Seen {
        requests: sandbox.requests().len(),
        duplicates: started.saturating_sub(1),
    };
    if started != 1 || imports != 1 || !elsewhere.is_empty() {
        return Err(format!(
            "{started} {kind} started and {imports} {} requests{}; expected exactly 1 each",
            kind.import_operation(),
            if elsewhere.is_empty() {
                String::new()
            } else {
                format!(", and {}", elsewhere.join(", "))
            }
        ));
    }
    let real_id = (own.first_id)(&sandbox).unwrap_or_default();
    match (result, task_status.resolvable()) {
        (Ok(started), true) if started.origin == StartOrigin::Recovered => {
            if started.kind != kind {
                return Err(format!("recovered a start of {} for {kind}", started.kind));
            }
            if started.task_id != real_id {
                return Err(format!(
                    "recovered {} but the tenant started {real_id}",
                    started.task_id
                ));
            }
            Ok((
                seen,
                format!("recovered {}", started.task_id),
                Ended::Resolved,
            ))
        }
        (
            Err(Error::OutcomeUnknown {
                lookup: Some(lookup),
                ..
            }),
            false,
        ) => Ok((
            seen,
            format!(
                "OutcomeUnknown after {} lookup poll(s){}",
                lookup.polls,
                if lookup.error.is_some() {
                    " (lookup failed)"
                } else {
                    ""
                }
            ),
            Ended::Unknown,
        )),
        (Ok(started), _) => Err(format!(
            "returned {:?} {} where {}",
            started.origin,
            started.task_id,
            if task_status.resolvable() {
                "a recovered start was expected"
            } else {
                "OutcomeUnknown was expected"
            }
        )),
        (Err(error), _) => Err(format!(
            "ended with {error} where {}",
            if task_status.resolvable() {
                "a recovered start was expected"
            } else {
                "OutcomeUnknown with the lookup was expected"
            }
        )),
    }
}

/// How many scenarios run at once: one kind's worth. Each runs its own tenant and client, and the
/// lookups race a 1.5 s grace period; more at once on a small CI machine starves them of CPU.
fn concurrency() -> usize {
    Ambiguity::ALL.len() * TaskStatusState::ALL.len() * ApiVersion::all().count()
}

/// Runs the area: the scenarios concurrently (each on its own tenant, [`concurrency`] at a time),
/// reported in order, then a table of outcomes per kind and a count per kind.
pub async fn run() -> Area {
    let mut area = Area::new("exactly once");
    let slots = Arc::new(Semaphore::new(concurrency()));
    let mut handles = Vec::new();
    for kind in AggregationKind::ALL {
        for ambiguity in Ambiguity::ALL {
            for task_status in TaskStatusState::ALL {
                for version in ApiVersion::all() {
                    let slots = slots.clone();
                    // Timed inside its task, from when it got its slot: the scenarios run
                    // together, and are reported after.
                    let handle = tokio::spawn(async move {
                        let _slot = slots.acquire_owned().await.expect("never closed");
                        let began = Instant::now();
                        let outcome = scenario(kind, version, ambiguity, task_status).await;
                        (outcome, began.elapsed())
                    });
                    handles.push((kind, ambiguity, task_status, version, handle));
                }
            }
        }
    }
    type Row = (usize, Ambiguity, TaskStatusState);
    let mut table: BTreeMap<Row, Vec<String>> = BTreeMap::new();
    // Per kind: scenarios, resolved, unknown, failed.
    let mut per_kind: BTreeMap<usize, (AggregationKind, [usize; 4])> = BTreeMap::new();
    let mut slowest = Duration::ZERO;
    for (kind, ambiguity, task_status, version, handle) in handles {
        let name = format!(
            "{version}: {kind} / {} / {}",
            ambiguity.label(),
            task_status.label()
        );
        let order = AggregationKind::ALL
            .iter()
            .position(|k| *k == kind)
            .unwrap_or_default();
        let cell = table.entry((order, ambiguity, task_status)).or_default();
        let outcome =
            handle
                .await
                .map_err(|e| format!("panicked: {e}"))
                .and_then(|(outcome, took)| {
                    slowest = slowest.max(took);
                    outcome.map(|(seen, detail, ended)| {
                        (seen, format!("{detail} in {}", secs(took)), ended)
                    })
                });
        let counts = &mut per_kind.entry(order).or_insert((kind, [0; 4])).1;
        counts[0] += 1;
        cell.push(match &outcome {
            Ok((_, _, Ended::Resolved)) => {
                counts[1] += 1;
                "resolved".to_owned()
            }
            Ok((_, _, Ended::Unknown)) => {
                counts[2] += 1;
                "unknown".to_owned()
            }
            Err(_) => {
                counts[3] += 1;
                "FAIL".to_owned()
            }
        });
        area.run(name, async move {
            outcome.map(|(seen, detail, _)| (seen, detail))
        })
        .await;
    }
    let versions: Vec<&str> = ApiVersion::all().map(|v| v.name()).collect();
    println!(
        "\n  {:<13} {:<30} {:<26} {}   (started on the tenant: exactly 1 of the kind, 0 of the other, in every cell)",
        "kind",
        "ambiguous start",
        "task status",
        versions
            .iter()
            .map(|v| format!("{v:<9}"))
            .collect::<String>()
    );
    for ((order, ambiguity, task_status), cells) in &table {
        println!(
            "  {:<13} {:<30} {:<26} {}",
            AggregationKind::ALL[*order].as_str(),
            ambiguity.label(),
            task_status.label(),
            cells.iter().map(|c| format!("{c:<9}")).collect::<String>()
        );
    }
    for (kind, [scenarios, resolved, unknown, failed]) in per_kind.values() {
        println!(
            "  {:<13} {scenarios} scenarios: {resolved} resolved, {unknown} outcome unknown, {failed} failed",
            kind.as_str()
        );
    }
    println!("  slowest scenario: {}", secs(slowest));
    area
}

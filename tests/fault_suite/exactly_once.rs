//! Area 6: exactly once. Every ambiguous start — ISC created the aggregation, then the client
//! lost the answer (a 502 after processing, the connection dropped after processing, the
//! response timeout passing after the upload's last byte with the answer held back) — in every
//! API version, under every state of
//! task status (healthy, down, listing the new task late but within the grace period, listing it
//! only after the grace period). Always exactly one aggregation on the tenant; the start is
//! resolved (returned as recovered, with the real task id) when task status lists the task within
//! the grace period, and is `Error::OutcomeUnknown` carrying the lookup otherwise.

use std::collections::BTreeMap;
use std::time::Duration;

use sailpoint_isc::{
    ApiVersion, Client, Error, OutcomeResolution, RetryConfig, StartOrigin, TimeoutConfig,
};
use sailpoint_isc_sandbox::{Fault, Operation, Sandbox};

use crate::hygiene;
use crate::report::{Area, Seen};

const SOURCE: &str = "exactly-once-source";
const GRACE: Duration = Duration::from_millis(1500);
const POLL: Duration = Duration::from_millis(100);
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

/// What one scenario ended with, for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Resolved,
    Unknown,
}

async fn scenario(
    version: ApiVersion,
    ambiguity: Ambiguity,
    task_status: TaskStatusState,
) -> Result<(Seen, String, Ended), String> {
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
    sandbox.inject(Operation::ImportAccounts, ambiguity.fault(), 1);
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
    let result = client.start_aggregation(SOURCE).file(&csv).send().await;
    if let Err(error) = &result {
        hygiene::note_error(error);
    }
    hygiene::note_tokens(sandbox.issued_tokens());

    let started = sandbox.aggregations_started(SOURCE);
    let imports = sandbox.request_count(Operation::ImportAccounts);
    let seen = Seen {
        requests: sandbox.requests().len(),
        duplicates: started.saturating_sub(1),
    };
    if started != 1 || imports != 1 {
        return Err(format!(
            "{started} aggregations started and {imports} import requests; expected exactly 1 each"
        ));
    }
    let real_id = sandbox
        .aggregations()
        .first()
        .map(|a| a.id.clone())
        .unwrap_or_default();
    match (result, task_status.resolvable()) {
        (Ok(started), true) if started.origin == StartOrigin::Recovered => {
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

/// Runs the area: every scenario concurrently (each on its own tenant), reported in order, then
/// a table of outcomes.
pub async fn run() -> Area {
    let mut area = Area::new("exactly once");
    let mut handles = Vec::new();
    for ambiguity in Ambiguity::ALL {
        for task_status in TaskStatusState::ALL {
            for version in ApiVersion::all() {
                let handle = tokio::spawn(scenario(version, ambiguity, task_status));
                handles.push((ambiguity, task_status, version, handle));
            }
        }
    }
    let mut table: BTreeMap<(Ambiguity, TaskStatusState), Vec<String>> = BTreeMap::new();
    for (ambiguity, task_status, version, handle) in handles {
        let name = format!("{version}: {} / {}", ambiguity.label(), task_status.label());
        let cell = table.entry((ambiguity, task_status)).or_default();
        let outcome = handle
            .await
            .map_err(|e| format!("panicked: {e}"))
            .and_then(|r| r);
        cell.push(match &outcome {
            Ok((_, _, Ended::Resolved)) => "resolved".to_owned(),
            Ok((_, _, Ended::Unknown)) => "unknown".to_owned(),
            Err(_) => "FAIL".to_owned(),
        });
        area.run(name, async move {
            outcome.map(|(seen, detail, _)| (seen, detail))
        })
        .await;
    }
    let versions: Vec<&str> = ApiVersion::all().map(|v| v.name()).collect();
    println!(
        "\n  {:<28} {:<28} {}   (aggregations started: exactly 1 in every cell)",
        "ambiguous start",
        "task status",
        versions
            .iter()
            .map(|v| format!("{v:<9}"))
            .collect::<String>()
    );
    for ((ambiguity, task_status), cells) in &table {
        println!(
            "  {:<28} {:<28} {}",
            ambiguity.label(),
            task_status.label(),
            cells.iter().map(|c| format!("{c:<9}")).collect::<String>()
        );
    }
    area
}

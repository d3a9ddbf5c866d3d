//! Area: deadlines and signals. A deadline never lies about what was sent: one that passes
//! before a request goes out is `DeadlineExceeded` and no task-status lookup runs; a start ISC
//! accepted without a readable task id is resolved through task status; a start ISC refused
//! inside its 202 says why; a stop (a scheduler's signal) cuts an upload that has not sent its
//! last byte (nothing started) and settles one that has.

use std::time::Duration;

use sailpoint_isc::{
    ApiVersion, CancellationToken, Client, Error, OutcomeResolution, RateLimit, RetryConfig,
    StartOrigin, TimeoutConfig,
};
use sailpoint_isc_sandbox::{Fault, Operation, Sandbox};

use crate::hygiene;
use crate::report::{Area, Seen, ensure};

const CSV: &[u8] = b"id,name\n1,Ada\n2,Grace\n";

fn csv_file(name: &str, contents: &[u8]) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("isc-fault-suite-deadlines-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

async fn sandbox() -> Sandbox {
    let sandbox = Sandbox::builder()
        .no_rate_limit()
        .collect_duration(Duration::from_millis(300))
        .process_duration(Duration::from_millis(300))
        .start()
        .await
        .expect("sandbox starts");
    hygiene::note_secret(sandbox.client_secret());
    sandbox
}

fn builder(sandbox: &Sandbox) -> sailpoint_isc::ClientBuilder {
    Client::builder()
        .base_url(sandbox.base_url())
        .client_credentials(sandbox.client_id(), sandbox.client_secret())
        .api_version(ApiVersion::V1)
        .retry(
            RetryConfig::standard()
                .with_backoff(Duration::from_millis(10), Duration::from_millis(50))
                .with_max_retry_after(Duration::from_millis(50)),
        )
        .outcome_resolution(
            OutcomeResolution::standard()
                .with_grace_period(Duration::from_secs(3))
                .with_poll_interval(Duration::from_millis(100)),
        )
}

fn lists(sandbox: &Sandbox) -> usize {
    sandbox.request_count(Operation::GetTaskStatusList)
}

/// A 429, then the client-side limiter would make the resend wait past the deadline: nothing
/// was started, so it is `DeadlineExceeded`, and no lookup runs.
async fn limiter_past_the_deadline() -> Result<(Seen, String), String> {
    let sandbox = sandbox().await;
    sandbox.inject(
        Operation::ImportAccounts,
        Fault::status_with_retry_after(429, 0),
        1,
    );
    let client = builder(&sandbox)
        .rate_limit(RateLimit::new(1, Duration::from_secs(60)))
        .timeouts(TimeoutConfig::standard().with_total_deadline(Some(Duration::from_millis(500))))
        .outcome_resolution(OutcomeResolution::standard().with_snapshot(false))
        .build()
        .map_err(|e| e.to_string())?;
    let result = client
        .start_aggregation("deadline-src")
        .file(csv_file("limiter.csv", CSV))
        .send()
        .await;
    hygiene::note_tokens(sandbox.issued_tokens());
    let error = result.err().ok_or("the start succeeded")?;
    hygiene::note_error(&error);
    ensure(matches!(error, Error::DeadlineExceeded { .. }), || {
        format!("expected DeadlineExceeded, got {error}")
    })?;
    ensure(error.attempts() == 1, || {
        format!("{} attempts", error.attempts())
    })?;
    ensure(lists(&sandbox) == 0, || {
        format!("{} task-status lookups ran", lists(&sandbox))
    })?;
    ensure(sandbox.aggregations_started("deadline-src") == 0, || {
        "an aggregation started".into()
    })?;
    let requests = sandbox.requests().len();
    sandbox.shutdown().await;
    Ok((
        Seen {
            requests,
            duplicates: 0,
        },
        "DeadlineExceeded after 1 attempt (429), 0 lookups, 0 aggregations".into(),
    ))
}

/// A 401, then the token fetch outlasts the deadline: not started, `DeadlineExceeded`.
async fn token_past_the_deadline() -> Result<(Seen, String), String> {
    let sandbox = sandbox().await;
    let client = builder(&sandbox)
        .timeouts(TimeoutConfig::standard().with_total_deadline(Some(Duration::from_millis(500))))
        .outcome_resolution(OutcomeResolution::standard().with_snapshot(false))
        .build()
        .map_err(|e| e.to_string())?;
    // A first call caches a token; then the import is refused once and the refresh hangs.
    let _ = client.aggregation_status("warm-up").send().await;
    sandbox.inject(Operation::ImportAccounts, Fault::status(401), 1);
    sandbox.inject(Operation::Token, Fault::Delay(Duration::from_secs(5)), 1);
    let result = client
        .start_aggregation("token-src")
        .file(csv_file("token.csv", CSV))
        .send()
        .await;
    hygiene::note_tokens(sandbox.issued_tokens());
    let error = result.err().ok_or("the start succeeded")?;
    hygiene::note_error(&error);
    ensure(matches!(error, Error::DeadlineExceeded { .. }), || {
        format!("expected DeadlineExceeded, got {error}")
    })?;
    ensure(lists(&sandbox) == 0, || "a lookup ran".into())?;
    ensure(sandbox.aggregations_started("token-src") == 0, || {
        "an aggregation started".into()
    })?;
    let requests = sandbox.requests().len();
    sandbox.shutdown().await;
    Ok((
        Seen {
            requests,
            duplicates: 0,
        },
        "DeadlineExceeded while refreshing the token, 0 lookups, 0 aggregations".into(),
    ))
}

/// ISC did the work and answered 202 with `body`: resolved through task status to the one
/// aggregation it started.
async fn accepted_without_id(body: &'static str) -> Result<(Seen, String), String> {
    let sandbox = sandbox().await;
    sandbox.inject(
        Operation::ImportAccounts,
        Fault::StatusAfterProcessing {
            status: 202,
            retry_after: None,
            body: Some(body.to_owned()),
        },
        1,
    );
    let client = builder(&sandbox).build().map_err(|e| e.to_string())?;
    let result = client
        .start_aggregation("accepted-src")
        .file(csv_file("accepted.csv", CSV))
        .send()
        .await;
    hygiene::note_tokens(sandbox.issued_tokens());
    let started = result.map_err(|e| {
        hygiene::note_error(&e);
        format!("not resolved: {e}")
    })?;
    ensure(started.origin == StartOrigin::Recovered, || {
        format!("origin {:?}", started.origin)
    })?;
    let aggregations = sandbox.aggregations();
    ensure(aggregations.len() == 1, || {
        format!("{} aggregations", aggregations.len())
    })?;
    ensure(aggregations[0].id == started.task_id, || {
        "recovered a different task".into()
    })?;
    ensure(
        sandbox.request_count(Operation::ImportAccounts) == 1,
        || "the start was resent".into(),
    )?;
    let requests = sandbox.requests().len();
    sandbox.shutdown().await;
    Ok((
        Seen {
            requests,
            duplicates: aggregations.len().saturating_sub(1),
        },
        format!("recovered {} from task status, 1 import", started.task_id),
    ))
}

/// A second start while the first runs: ISC's 202 carries a task already ended ERROR; the SDK
/// says it was refused, with ISC's message.
async fn refused_inside_the_202() -> Result<(Seen, String), String> {
    let sandbox = sandbox().await;
    let client = builder(&sandbox).build().map_err(|e| e.to_string())?;
    let file = csv_file("refused.csv", CSV);
    let first = client
        .start_aggregation("busy-src")
        .file(&file)
        .send()
        .await
        .map_err(|e| format!("first start: {e}"))?;
    let second = client
        .start_aggregation("busy-src")
        .file(&file)
        .send()
        .await;
    hygiene::note_tokens(sandbox.issued_tokens());
    let error = second
        .err()
        .ok_or("the second start was reported as accepted")?;
    hygiene::note_error(&error);
    let Error::StartRefused {
        messages, task_id, ..
    } = &error
    else {
        return Err(format!("expected StartRefused, got {error}"));
    };
    ensure(
        messages
            .iter()
            .any(|m| m.contains("currently running aggregation must complete")),
        || format!("messages {messages:?}"),
    )?;
    ensure(task_id != &first.task_id, || "same task".into())?;
    let requests = sandbox.requests().len();
    sandbox.shutdown().await;
    Ok((
        Seen {
            requests,
            duplicates: 0,
        },
        format!("StartRefused: {}", messages.join(" ")),
    ))
}

/// A stop while the answer is held back after the last byte: the start is settled (its answer
/// arrives within the settle time) and reported as started.
async fn stop_after_the_last_byte() -> Result<(Seen, String), String> {
    let sandbox = sandbox().await;
    sandbox.inject(
        Operation::ImportAccounts,
        Fault::DelayAfterProcessing(Duration::from_millis(800)),
        1,
    );
    let client = builder(&sandbox).build().map_err(|e| e.to_string())?;
    let stop = CancellationToken::new();
    let start = client
        .start_aggregation("stop-src")
        .file(csv_file("stop.csv", CSV))
        .cancel_on(stop.clone())
        .send();
    let watcher = async {
        // Stop as soon as the tenant has the whole upload (an event, not a timer).
        while sandbox.uploads().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.cancel();
    };
    let (result, ()) = tokio::join!(start, watcher);
    hygiene::note_tokens(sandbox.issued_tokens());
    let started = result.map_err(|e| {
        hygiene::note_error(&e);
        format!("not settled: {e}")
    })?;
    ensure(sandbox.aggregations_started("stop-src") == 1, || {
        "not exactly one aggregation".into()
    })?;
    let requests = sandbox.requests().len();
    sandbox.shutdown().await;
    Ok((
        Seen {
            requests,
            duplicates: 0,
        },
        format!(
            "stopped after the last byte; settled as {}",
            started.task_id
        ),
    ))
}

/// A stop before anything was sent (waiting for a token): `Cancelled`, nothing started.
async fn stop_while_waiting() -> Result<(Seen, String), String> {
    let sandbox = sandbox().await;
    sandbox.inject(Operation::Token, Fault::Delay(Duration::from_secs(30)), 1);
    let client = builder(&sandbox).build().map_err(|e| e.to_string())?;
    let stop = CancellationToken::new();
    let start = client
        .start_aggregation("waiting-src")
        .file(csv_file("waiting.csv", CSV))
        .cancel_on(stop.clone())
        .send();
    let watcher = async {
        while sandbox.request_count(Operation::Token) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.cancel();
    };
    let (result, ()) = tokio::join!(start, watcher);
    let error = result.err().ok_or("the start succeeded")?;
    hygiene::note_error(&error);
    ensure(matches!(error, Error::Cancelled { .. }), || {
        format!("expected Cancelled, got {error}")
    })?;
    ensure(sandbox.aggregations_started("waiting-src") == 0, || {
        "an aggregation started".into()
    })?;
    let requests = sandbox.requests().len();
    sandbox.shutdown().await;
    Ok((
        Seen {
            requests,
            duplicates: 0,
        },
        "stopped while waiting for a token: Cancelled, nothing started".into(),
    ))
}

/// A stop in the middle of a batch (after its first starts, with aggregations running and items
/// not started, a concurrency cap of 2): the report comes back with every item, nothing starts
/// after the stop, and each started item carries its aggregation id.
async fn stop_mid_batch() -> Result<(Seen, String), String> {
    use sailpoint_isc::batch::{BatchEvent, BatchItem, ItemOutcome};
    let sandbox = Sandbox::builder()
        .no_rate_limit()
        .collect_duration(Duration::from_secs(20))
        .process_duration(Duration::from_secs(20))
        .start()
        .await
        .expect("sandbox starts");
    hygiene::note_secret(sandbox.client_secret());
    let client = builder(&sandbox).build().map_err(|e| e.to_string())?;
    let file = csv_file("batch.csv", CSV);
    let items: Vec<BatchItem> = (0..6)
        .map(|i| BatchItem::source_id(format!("batch-src-{i}")).file(&file))
        .collect();
    let stop = CancellationToken::new();
    let on_start = stop.clone();
    let report = client
        .aggregate_batch(items)
        .max_concurrency(2)
        .poll_interval(Duration::from_millis(50))
        .cancel_on(stop.clone())
        .on_event(move |event| {
            // The first start is the moment: stop then.
            if matches!(event, BatchEvent::Started { .. }) {
                on_start.cancel();
            }
        })
        .run()
        .await;
    hygiene::note_tokens(sandbox.issued_tokens());
    ensure(report.items.len() == 6, || {
        format!("{} items", report.items.len())
    })?;
    let started_total: usize = (0..6)
        .map(|i| sandbox.aggregations_started(&format!("batch-src-{i}")))
        .sum();
    // At most the two starts that were in flight at the stop; never a later one.
    ensure((1..=2).contains(&started_total), || {
        format!("{started_total} aggregations started")
    })?;
    let mut stopped = 0;
    let mut skipped = 0;
    for item in &report.items {
        match &item.outcome {
            ItemOutcome::Stopped { task_id, .. } => {
                stopped += 1;
                ensure(
                    item.started.as_ref().is_some_and(|s| &s.task_id == task_id),
                    || format!("item {} lost its aggregation id", item.item),
                )?;
            }
            ItemOutcome::Skipped { .. } => skipped += 1,
            ItemOutcome::Failed(Error::Cancelled { .. }) => skipped += 1,
            other => return Err(format!("item {}: {other:?}", item.item)),
        }
    }
    ensure(stopped == started_total, || {
        format!("{stopped} stopped items for {started_total} aggregations")
    })?;
    let requests = sandbox.requests().len();
    sandbox.shutdown().await;
    Ok((
        Seen {
            requests,
            duplicates: 0,
        },
        format!(
            "stopped after the first start: {stopped} still running (ids kept), {skipped} not started"
        ),
    ))
}

/// Runs the area.
pub async fn run() -> Area {
    let mut area = Area::new("deadlines and signals");
    area.run(
        "429, then the rate limiter would wait past the deadline",
        limiter_past_the_deadline(),
    )
    .await;
    area.run(
        "401, then the token refresh outlasts the deadline",
        token_past_the_deadline(),
    )
    .await;
    area.run(
        "202 without a task id",
        accepted_without_id(r#"{"success": true, "task": {}}"#),
    )
    .await;
    area.run(
        "202 with an unreadable body",
        accepted_without_id("<html>accepted</html>"),
    )
    .await;
    area.run(
        "a start refused inside its 202 (one already running)",
        refused_inside_the_202(),
    )
    .await;
    area.run(
        "a stop after the upload's last byte",
        stop_after_the_last_byte(),
    )
    .await;
    area.run("a stop while waiting to send", stop_while_waiting())
        .await;
    area.run("a stop in the middle of a batch", stop_mid_batch())
        .await;
    area
}

//! The errors a pipeline should branch on, and what to do about each: an outcome that stays
//! unknown, an aggregation that failed, one ISC has forgotten, and rate limiting.
//!
//! ```sh
//! cargo run -p sailpoint-isc --example handle_errors -- [completed|unknown|failed|expired|rate-limited]
//! ```
//!
//! The argument makes the in-process sandbox misbehave that way (it is ignored against a real
//! tenant, where the SOURCE_ID environment variable names the source).

mod common;

use std::time::Duration;

use sailpoint_isc::{Client, Error, OutcomeResolution};
use sailpoint_isc_sandbox::{Fault, Operation, Outcome};

/// What a nightly pipeline does next.
#[derive(Debug)]
enum Next {
    /// Nothing: the data is in ISC.
    Done,
    /// Page a person: the aggregation may have started, and nothing could tell.
    CheckByHand,
    /// Fix the data or the source, then run again.
    FixAndRerun,
    /// The aggregation is too old to have a status or a task: look in ISC's history.
    LookInHistory,
    /// Back off and try again later.
    RetryLater(Option<Duration>),
    /// Something else: report it.
    Report,
}

async fn import_and_wait(client: &Client, source: &str) -> Result<(), Error> {
    let started = client.start_aggregation(source).send().await?;
    client.wait_for_aggregation(&started).send().await?;
    Ok(())
}

impl Next {
    fn describe(&self) -> String {
        match self {
            Next::Done => "done".to_owned(),
            Next::CheckByHand => "check the source's tasks by hand before rerunning".to_owned(),
            Next::FixAndRerun => "fix the data or the source, then rerun".to_owned(),
            Next::LookInHistory => "look in ISC's aggregation history".to_owned(),
            Next::RetryLater(Some(wait)) => format!("retry after {wait:?}"),
            Next::RetryLater(None) => "retry later".to_owned(),
            Next::Report => "report the error".to_owned(),
        }
    }
}

fn next_step(result: &Result<(), Error>) -> Next {
    match result {
        Ok(()) => Next::Done,
        // The start may have happened, and task status did not show it within the grace period.
        // Never simply rerun: that could start a second aggregation.
        Err(Error::OutcomeUnknown { lookup, .. }) => {
            if let Some(lookup) = lookup {
                eprintln!("lookup: {lookup}");
            }
            Next::CheckByHand
        }
        // CANCELLED or TERMINATED; the task's messages say why.
        Err(Error::AggregationFailed { status, .. }) => {
            for message in status.task_messages() {
                eprintln!("  {message}");
            }
            Next::FixAndRerun
        }
        // Neither the status (about an hour) nor task status (90 days) knows the id any more.
        Err(Error::AggregationExpired { .. }) => Next::LookInHistory,
        // 429 after every retry: the server's Retry-After says how long to back off.
        Err(Error::RateLimited { retry_after, .. }) => Next::RetryLater(*retry_after),
        Err(_) => Next::Report,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let case = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "completed".to_owned());
    let source = std::env::var("SOURCE_ID").unwrap_or_else(|_| "nightly-source".to_owned());
    let (client, sandbox) = common::connect(|b| match case.as_str() {
        "expired" => b
            .retention(Duration::from_millis(1))
            .task_retention(Duration::from_millis(1)),
        "rate-limited" => b.rate_limit(1, Duration::from_secs(3600)),
        _ => b,
    })
    .await?;
    let mut client = client;
    if let Some(sandbox) = &sandbox {
        match case.as_str() {
            "unknown" => {
                sandbox.inject(Operation::ImportAccounts, Fault::status(502), 1);
                sandbox.set_task_list_delay(Duration::from_secs(3600));
                client = Client::builder()
                    .base_url(sandbox.base_url())
                    .client_credentials(sandbox.client_id(), sandbox.client_secret())
                    .outcome_resolution(
                        OutcomeResolution::standard().with_grace_period(Duration::from_secs(1)),
                    )
                    .build()?;
            }
            "failed" => sandbox.set_outcome(&source, Outcome::Terminated),
            "rate-limited" => {
                client = Client::builder()
                    .base_url(sandbox.base_url())
                    .client_credentials(sandbox.client_id(), sandbox.client_secret())
                    .no_rate_limit()
                    .retry(sailpoint_isc::RetryConfig::disabled())
                    .build()?;
            }
            _ => {}
        }
    }
    let result = match case.as_str() {
        "expired" => {
            // Read an aggregation long after it ended (the sandbox forgets it at once).
            let started = client.start_aggregation(&source).send().await?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            client.aggregation_status(&started).send().await.map(|_| ())
        }
        "rate-limited" => {
            let _ = client.task_statuses().max_items(1).send().await;
            import_and_wait(&client, &source).await
        }
        _ => import_and_wait(&client, &source).await,
    };
    if let Err(error) = &result {
        eprintln!("error: {error}");
    }
    let next = next_step(&result);
    println!("next step: {next:?}: {}", next.describe());
    Ok(())
}

//! Aggregate several sources at once: a concurrency cap, exactly-once starts, completion
//! detected with task-status lists, and a result per source.
//!
//! ```sh
//! cargo run -p sailpoint-isc --example batch -- [SOURCE_ID=CSV ...]
//! ```
//!
//! Without arguments it aggregates three sources of the in-process sandbox (or, with a tenant
//! configured, asks for them).

mod common;

use std::time::Duration;

use sailpoint_isc::batch::{BatchEvent, BatchItem, ItemOutcome};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (client, sandbox) = common::connect(|b| b).await?;
    let mut items = Vec::new();
    for arg in std::env::args().skip(1) {
        let (source, csv) = arg.split_once('=').ok_or("arguments are SOURCE_ID=CSV")?;
        items.push(BatchItem::source_id(source).file(csv));
    }
    if items.is_empty() {
        if sandbox.is_none() {
            return Err("give the sources as SOURCE_ID=CSV".into());
        }
        for name in ["hr", "contractors", "emea"] {
            items.push(
                BatchItem::source_id(format!("{name}-source"))
                    .file(common::sample_csv(&format!("{name}.csv"), 40)?),
            );
        }
    }

    let report = client
        .aggregate_batch(items)
        .max_concurrency(8)
        .poll_interval(Duration::from_millis(500))
        .on_event(|event| match event {
            BatchEvent::Started { item, started } => {
                eprintln!("item {item}: started {}", started.task_id)
            }
            BatchEvent::Progress { item, status } => eprintln!("item {item}: {status}"),
            BatchEvent::Finished { item, outcome } => {
                eprintln!(
                    "item {item}: finished, completed = {}",
                    outcome.is_completed()
                )
            }
            _ => {}
        })
        .run()
        .await;

    for item in &report.items {
        let source = item.source_id.as_deref().unwrap_or("?");
        match &item.outcome {
            ItemOutcome::Completed(status) => println!("{source}: completed ({status})"),
            ItemOutcome::Failed(error) => println!("{source}: failed: {error}"),
            ItemOutcome::Skipped { reason } => println!("{source}: skipped ({reason})"),
            _ => println!("{source}: other outcome"),
        }
    }
    println!(
        "{} of {} completed in {:.1?} ({} task-status lists, {} status reads)",
        report.completed(),
        report.items.len(),
        report.elapsed,
        report.task_list_requests,
        report.status_requests
    );
    if report.all_completed() {
        Ok(())
    } else {
        Err("not every aggregation completed".into())
    }
}

//! Read an aggregation's status once (and, for an aggregation ISC no longer keeps a status for,
//! its outcome from task status).
//!
//! ```sh
//! cargo run -p sailpoint-isc --example read_status -- [AGGREGATION_ID]
//! ```
//!
//! Without an id (and without a tenant configured), it starts an aggregation on the in-process
//! sandbox first and reads that one.

mod common;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (client, sandbox) = common::connect(|b| b).await?;
    let id = match std::env::args().nth(1) {
        Some(id) => id,
        None if sandbox.is_some() => {
            let started = client.start_aggregation("demo-source").send().await?;
            started.task_id
        }
        None => return Err("give the aggregation id to read".into()),
    };
    let status = client.aggregation_status(&id).send().await?;
    println!("aggregation {id}: {status}");
    if let Some(fraction) = status.progress_fraction() {
        println!("progress: {:.0}%", fraction * 100.0);
    }
    if let Some(task) = &status.task {
        println!("answered from task status: {task}");
    }
    Ok(())
}

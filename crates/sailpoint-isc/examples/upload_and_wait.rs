//! Upload a CSV to a delimited-file source and wait for the aggregation, with a progress
//! callback.
//!
//! ```sh
//! cargo run -p sailpoint-isc --example upload_and_wait -- [SOURCE_ID] [CSV]
//! ```
//!
//! With `SAIL_BASE_URL`, `SAIL_CLIENT_ID` and `SAIL_CLIENT_SECRET` set (or `./config.json`), it
//! talks to that tenant; without them, to a simulated one started in-process.

mod common;

use std::path::PathBuf;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let source_id = args
        .next()
        .unwrap_or_else(|| "2c9180835d2e5168015d32f890ca1581".to_owned());
    let csv = match args.next() {
        Some(path) => PathBuf::from(path),
        None => common::sample_csv("accounts.csv", 25)?,
    };
    let (client, _sandbox) = common::connect(|b| b).await?;

    let started = client
        .start_aggregation(&source_id)
        .file(&csv)
        .send()
        .await?;
    println!(
        "started aggregation {} ({:?})",
        started.task_id, started.origin
    );

    let done = client
        .wait_for_aggregation(&started)
        .max_wait(Duration::from_secs(3600))
        .on_progress(|p| {
            let percent = p
                .status
                .progress_fraction()
                .map(|f| format!(" {:.0}%", f * 100.0))
                .unwrap_or_default();
            eprintln!("[{:>5.1}s] {}{percent}", p.elapsed.as_secs_f64(), p.status);
        })
        .send()
        .await?;
    println!("completed: {done}");
    Ok(())
}

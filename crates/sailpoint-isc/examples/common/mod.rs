//! What every example shares: a client for your tenant, or for a sandbox started in-process.

use std::path::Path;
use std::time::Duration;

use sailpoint_isc::{Client, PollSchedule};
use sailpoint_isc_sandbox::{Sandbox, SandboxBuilder};

/// A client for the tenant configured in `SAIL_BASE_URL` / `SAIL_CLIENT_ID` /
/// `SAIL_CLIENT_SECRET` (or `./config.json`); without any configuration, a client for a simulated
/// tenant started in this process (kept alive by the returned `Sandbox`). `tune` adjusts that
/// sandbox.
pub async fn connect(
    tune: impl FnOnce(SandboxBuilder) -> SandboxBuilder,
) -> Result<(Client, Option<Sandbox>), Box<dyn std::error::Error>> {
    if std::env::var_os("SAIL_BASE_URL").is_some() || Path::new("config.json").exists() {
        return Ok((Client::from_env()?, None));
    }
    let sandbox = tune(
        Sandbox::builder()
            .collect_duration(Duration::from_millis(400))
            .process_duration(Duration::from_millis(800)),
    )
    .start()
    .await?;
    eprintln!(
        "note: no ISC configuration found; using a simulated tenant at {}",
        sandbox.base_url()
    );
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .client_credentials(sandbox.client_id(), sandbox.client_secret())
        .poll_schedule(PollSchedule::fixed(Duration::from_millis(200)))
        .build()?;
    Ok((client, Some(sandbox)))
}

/// A small CSV of accounts in the temporary directory.
#[allow(dead_code)]
pub fn sample_csv(name: &str, rows: usize) -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("sailpoint-isc-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut csv = String::from("id,userName,email\n");
    for i in 0..rows {
        csv.push_str(&format!("{i},user{i},user{i}@example.com\n"));
    }
    let path = dir.join(name);
    std::fs::write(&path, csv)?;
    Ok(path)
}

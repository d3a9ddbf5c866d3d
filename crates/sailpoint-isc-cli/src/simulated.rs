//! `--sandbox`: a simulated tenant started in this process, for demos (the `sandbox` cargo
//! feature, on by default; `cargo install sailpoint-isc-cli --no-default-features` leaves the
//! whole HTTP server out of the binary).

use std::time::Duration;

use sailpoint_isc::ClientBuilder;

use crate::manifest::Manifest;
use crate::report::Reporter;

/// `--sandbox`: how long the simulated aggregation stays `STARTED`, then `ACCOUNTS_COLLECTED`.
#[cfg(feature = "sandbox")]
const COLLECT: Duration = Duration::from_millis(1500);
#[cfg(feature = "sandbox")]
const PROCESS: Duration = Duration::from_millis(3000);

/// `--sandbox check` / `import --check`: the schemas the simulated source is given, those of the
/// bundled examples (`examples/accounts.csv`, `examples/entitlements.csv`).
#[cfg(feature = "sandbox")]
const DEMO_ACCOUNT_COLUMNS: &[&str] = &[
    "id",
    "userName",
    "firstName",
    "lastName",
    "displayName",
    "email",
    "department",
    "title",
    "manager",
    "location",
    "status",
    "startDate",
    "groups",
];
#[cfg(feature = "sandbox")]
const DEMO_GROUP_COLUMNS: &[&str] = &["id", "name", "displayName", "description", "owner"];

/// `--sandbox`: time between a batch's completion checks (the SDK's 5 s is for real tenants).
pub const BATCH_POLL: Duration = Duration::from_millis(250);

/// Keeps the simulated tenant running until dropped.
pub struct Tenant {
    #[cfg(feature = "sandbox")]
    _sandbox: sailpoint_isc_sandbox::Sandbox,
}

/// Starts the simulated tenant and returns a client builder for it; `Err` is the message for a
/// usage error (exit 2).
#[cfg(feature = "sandbox")]
pub async fn start(
    manifest: Option<&Manifest>,
    checked_source: Option<&str>,
    reporter: &Reporter,
) -> Result<(ClientBuilder, Tenant), String> {
    use sailpoint_isc::PollSchedule;
    use sailpoint_isc_sandbox::Sandbox;

    let sandbox = Sandbox::builder()
        .collect_duration(COLLECT)
        .process_duration(PROCESS)
        .start()
        .await
        .map_err(|e| format!("cannot start the sandbox: {e}"))?;
    reporter.note(format!(
        "note: --sandbox: using a simulated ISC tenant at {} in this process; nothing is sent \
         to SailPoint",
        sandbox.base_url()
    ));
    let builder = ClientBuilder::new()
        .base_url(sandbox.base_url())
        .client_credentials(sandbox.client_id(), sandbox.client_secret())
        .poll_schedule(
            PollSchedule::standard()
                .with_initial_delay(Duration::from_millis(250))
                .with_delay_bounds(Duration::from_millis(200), Duration::from_millis(500)),
        );
    if let Some(manifest) = manifest {
        add_sources(&sandbox, manifest, reporter);
    }
    if let Some(source_id) = checked_source {
        add_demo_schemas(&sandbox, source_id, reporter);
    }
    Ok((builder, Tenant { _sandbox: sandbox }))
}

/// Without the `sandbox` feature, `--sandbox` is a usage error that says how to get it.
#[cfg(not(feature = "sandbox"))]
pub async fn start(
    _manifest: Option<&Manifest>,
    _checked_source: Option<&str>,
    _reporter: &Reporter,
) -> Result<(ClientBuilder, Tenant), String> {
    Err(
        "this isc-aggregate was built without the simulated tenant (the `sandbox` feature); \
         reinstall it with default features to use --sandbox"
            .to_owned(),
    )
}

/// `--sandbox batch`: the simulated tenant starts with no named sources, so the manifest's
/// `source_name`s are created in it (and said so).
#[cfg(feature = "sandbox")]
fn add_sources(sandbox: &sailpoint_isc_sandbox::Sandbox, manifest: &Manifest, reporter: &Reporter) {
    use crate::manifest::SourceRef;
    let names: Vec<&str> = manifest
        .items
        .iter()
        .filter_map(|item| match &item.source {
            SourceRef::Name(name) => Some(name.as_str()),
            SourceRef::Id(_) => None,
        })
        .collect();
    for name in &names {
        sandbox.add_source(name);
    }
    if !names.is_empty() {
        reporter.note(format!(
            "note: --sandbox: created the sources named in the manifest ({}) in the simulated \
             tenant",
            names.join(", ")
        ));
    }
}

/// `--sandbox` with a file check: the simulated tenant has no sources, so the one checked is
/// created with the bundled examples' schemas (and said so).
#[cfg(feature = "sandbox")]
fn add_demo_schemas(
    sandbox: &sailpoint_isc_sandbox::Sandbox,
    source_id: &str,
    reporter: &Reporter,
) {
    use sailpoint_isc_sandbox::{SchemaKind, SourceSchema};
    if sailpoint_isc::check_id("source id", source_id).is_err() {
        return;
    }
    for (kind, columns) in [
        (SchemaKind::Account, DEMO_ACCOUNT_COLUMNS),
        (SchemaKind::Group, DEMO_GROUP_COLUMNS),
    ] {
        sandbox.set_schema(
            source_id,
            kind,
            SourceSchema::new(columns.iter().copied()).identity_attribute("id"),
        );
    }
    reporter.note(format!(
        "note: --sandbox: source {source_id} has the schemas of the bundled examples: accounts \
         {}; entitlements {}",
        DEMO_ACCOUNT_COLUMNS.join(","),
        DEMO_GROUP_COLUMNS.join(",")
    ));
}

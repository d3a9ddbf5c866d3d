//! A delimited-file source's nightly load: check its accounts and entitlements files against the
//! source's schema, then load both — accounts first, entitlements after them, each exactly once —
//! and wait for them.
//!
//! ```sh
//! cargo run -p sailpoint-isc --example nightly_load -- [SOURCE_ID ACCOUNTS_CSV ENTITLEMENTS_CSV]
//! ```
//!
//! Without arguments it loads two generated files into a source of the in-process sandbox, whose
//! schemas it sets to fit them.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use sailpoint_isc::AggregationKind;
use sailpoint_isc::batch::{BatchItem, ItemOutcome};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (client, sandbox) = common::connect(|b| b).await?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (source, accounts, groups) = match args.as_slice() {
        [source, accounts, groups] => (
            source.clone(),
            PathBuf::from(accounts),
            PathBuf::from(groups),
        ),
        [] if sandbox.is_some() => sample_files()?,
        _ => return Err("give SOURCE_ID ACCOUNTS_CSV ENTITLEMENTS_CSV".into()),
    };
    if let Some(sandbox) = &sandbox {
        use sailpoint_isc_sandbox::{SchemaKind, SourceSchema};
        sandbox.set_schema(
            &source,
            SchemaKind::Account,
            SourceSchema::new(["id", "userName", "email", "groups"]),
        );
        sandbox.set_schema(
            &source,
            SchemaKind::Group,
            SourceSchema::new(["id", "name", "description"]),
        );
    }

    // 1. Check both files first: a file that does not fit is never sent (a missing row would
    //    delete that account).
    for (kind, file) in [
        (AggregationKind::Accounts, &accounts),
        (AggregationKind::Entitlements, &groups),
    ] {
        let report = client.check_file(&source, file, kind).send().await?;
        for finding in &report.findings {
            eprintln!("{}:{finding}", file.display());
        }
        println!(
            "{}: {} rows, {} problems, {} warnings",
            file.display(),
            report.rows,
            report.total_problems(),
            report.warnings()
        );
        if !report.is_clean() {
            return Err(format!("{} does not fit the {kind} schema", file.display()).into());
        }
    }

    // 2. Load them: items of one source run one after the other, in this order.
    let report = client
        .aggregate_batch([
            BatchItem::source_id(&source).file(&accounts),
            BatchItem::source_id(&source)
                .kind(AggregationKind::Entitlements)
                .file(&groups),
        ])
        .poll_interval(Duration::from_millis(500))
        .run()
        .await;
    for (item, kind) in report.items.iter().zip(["accounts", "entitlements"]) {
        match &item.outcome {
            ItemOutcome::Completed(status) => println!("{kind}: completed ({status})"),
            ItemOutcome::Failed(error) => println!("{kind}: failed: {error}"),
            other => println!("{kind}: {other:?}"),
        }
    }
    println!("{} of {} completed", report.completed(), report.items.len());
    if report.all_completed() {
        Ok(())
    } else {
        Err("not every load completed".into())
    }
}

/// Generated files for the sandbox: accounts sorted by id, one row per group membership.
fn sample_files() -> std::io::Result<(String, PathBuf, PathBuf)> {
    let dir = std::env::temp_dir().join(format!("sailpoint-isc-nightly-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut accounts = String::from("id,userName,email,groups\n");
    for i in 0..20 {
        for group in ["staff", if i % 2 == 0 { "even" } else { "odd" }] {
            accounts.push_str(&format!("u{i:03},user{i},user{i}@example.com,{group}\n"));
        }
    }
    let groups =
        "id,name,description\neven,Even,\"Even, by id\"\nodd,Odd,Odd by id\nstaff,Staff,Everyone\n";
    let (accounts_path, groups_path) = (dir.join("accounts.csv"), dir.join("groups.csv"));
    std::fs::write(&accounts_path, accounts)?;
    std::fs::write(&groups_path, groups)?;
    Ok((
        "2c9180835d2e5168015d32f890ca1581".to_owned(),
        accounts_path,
        groups_path,
    ))
}

//! The examples, run as a user runs them (the built binaries), so they cannot rot: against a
//! sandbox given through `SAIL_*` variables, and in their own in-process mode.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use sailpoint_isc_sandbox::Sandbox;

/// The built example. `cargo test` builds every example before running tests; a binary older
/// than its source means this test was run alone (`--test examples`): build them first.
fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().expect("test binary path");
    let dir = deps
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>")
        .join("examples");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "-p", "sailpoint-isc", "--examples"])
            .status()
            .expect("cargo builds the examples");
        assert!(status.success());
    }
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{name}.rs"));
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    assert!(
        modified(&path) >= modified(&source),
        "{} is older than {}: run `cargo build -p sailpoint-isc --examples` first",
        path.display(),
        source.display()
    );
    path
}

fn run(name: &str, args: &[&str], sandbox: Option<&Sandbox>) -> Output {
    let dir = std::env::temp_dir().join(format!("isc-examples-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(example(name));
    cmd.args(args)
        .current_dir(&dir)
        .env_remove("SAIL_BASE_URL")
        .env_remove("SAIL_CLIENT_ID")
        .env_remove("SAIL_CLIENT_SECRET");
    if let Some(sb) = sandbox {
        cmd.env("SAIL_BASE_URL", sb.base_url())
            .env("SAIL_CLIENT_ID", sb.client_id())
            .env("SAIL_CLIENT_SECRET", sb.client_secret());
    }
    cmd.output().expect("example runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn sandbox() -> Sandbox {
    Sandbox::builder()
        .collect_duration(Duration::from_millis(200))
        .process_duration(Duration::from_millis(300))
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_and_wait_against_a_configured_tenant() {
    let sb = sandbox().await;
    let csv = std::env::temp_dir().join(format!("isc-example-{}.csv", std::process::id()));
    std::fs::write(&csv, "id,name\n1,Ada\n2,Alan\n3,Grace\n").unwrap();
    let out = tokio::task::spawn_blocking(move || {
        run(
            "upload_and_wait",
            &["example-source", csv.to_str().unwrap()],
            Some(&sb),
        )
        .with_sandbox(sb)
    })
    .await
    .unwrap();
    let (output, sb) = out;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("completed: COMPLETED"), "{stdout}");
    assert!(stderr.contains("s] COMPLETED"), "progress shown: {stderr}");
    let uploads = sb.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].source_id, "example-source");
    assert_eq!(uploads[0].file.as_ref().unwrap().rows, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn read_status_against_a_configured_tenant() {
    let sb = sandbox().await;
    let client = sailpoint_isc::Client::builder()
        .base_url(sb.base_url())
        .client_credentials(sb.client_id(), sb.client_secret())
        .build()
        .unwrap();
    let started = client
        .start_aggregation("status-source")
        .send()
        .await
        .unwrap();
    let id = started.task_id.clone();
    let (output, _sb) =
        tokio::task::spawn_blocking(move || run("read_status", &[&id], Some(&sb)).with_sandbox(sb))
            .await
            .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("aggregation {}: ", started.task_id)),
        "{stdout}"
    );
}

#[test]
fn examples_run_on_their_own_sandbox() {
    for (name, expect) in [
        ("upload_and_wait", "completed: COMPLETED"),
        ("read_status", "aggregation "),
        ("batch", "3 of 3 completed"),
        ("nightly_load", "2 of 2 completed"),
    ] {
        let output = run(name, &[], None);
        let (stdout, stderr) = text(&output);
        assert!(output.status.success(), "{name}: {stdout}\n{stderr}");
        assert!(stdout.contains(expect), "{name}: {stdout}");
        assert!(stderr.contains("simulated tenant"), "{name}: {stderr}");
    }
}

#[test]
fn handle_errors_branches_on_every_outcome() {
    for (case, expect) in [
        ("completed", "next step: Done"),
        ("unknown", "next step: CheckByHand"),
        ("failed", "next step: FixAndRerun"),
        ("expired", "next step: LookInHistory"),
        ("rate-limited", "next step: RetryLater"),
    ] {
        let output = run("handle_errors", &[case], None);
        let (stdout, stderr) = text(&output);
        assert!(output.status.success(), "{case}: {stdout}\n{stderr}");
        assert!(stdout.contains(expect), "{case}: {stdout}\n{stderr}");
    }
}

/// Keeps the sandbox alive until the example has finished.
trait WithSandbox: Sized {
    fn with_sandbox(self, sb: Sandbox) -> (Self, Sandbox) {
        (self, sb)
    }
}

impl WithSandbox for Output {}

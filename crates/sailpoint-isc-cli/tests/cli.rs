//! End-to-end tests of the `isc-aggregate` binary against a simulated tenant running in the test
//! process (the binary is a child process talking to it over loopback).

mod support;

use std::path::Path;
use std::time::Duration;

use sailpoint_isc::ApiVersion;
use sailpoint_isc_sandbox::{Fault, Operation, Outcome};
use serde_json::Value;

use support::*;

/// Every version the build was generated with, by `--api` (and the default without it).
#[test]
fn import_and_wait_completes_and_uploads_the_exact_file() {
    import_and_wait_in(None);
    for version in ApiVersion::all() {
        import_and_wait_in(Some(version));
    }
}

fn import_and_wait_in(version: Option<ApiVersion>) {
    let tenant = Tenant::start();
    let csv = example_csv();
    let mut cmd = tenant.cmd();
    if let Some(version) = version {
        cmd.args(["--api", version.name()]);
    }
    let out = run(cmd.args(["import", SOURCE, "--file", &file_arg(&csv), "--wait"])).expect_code(0);

    let uploads = tenant.sandbox.uploads();
    assert_eq!(uploads.len(), 1);
    let file = uploads[0].file.as_ref().expect("a file part");
    let bytes = std::fs::read(&csv).unwrap();
    assert_eq!(file.sha256, sha256_hex(&bytes));
    assert_eq!(file.bytes, bytes.len() as u64);
    assert_eq!(file.rows, 300);
    assert_eq!(file.file_name.as_deref(), Some("accounts.csv"));
    assert_eq!(uploads[0].source_id, SOURCE);
    assert_eq!(uploads[0].api_version, version.unwrap_or_default());

    let id = &uploads[0].aggregation_id;
    assert!(
        out.stdout.contains(&format!("aggregation {id}: COMPLETED")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("300 of 300 processed"),
        "{}",
        out.stdout
    );
    // Not a terminal: one plain progress line per change on stderr, never on stdout.
    assert!(out.stderr.contains("ACCOUNTS_COLLECTED"), "{}", out.stderr);
    assert!(!out.stdout.contains("ACCOUNTS_COLLECTED"), "{}", out.stdout);
}

#[test]
fn unchanged_reimport_processes_nothing_unless_optimization_is_disabled() {
    let tenant = Tenant::start();
    let csv = file_arg(&example_csv());
    let total_accounts = |extra: &[&str]| -> Value {
        let out = run(tenant
            .cmd()
            .args(["--json", "import", SOURCE, "--file", &csv, "--wait"])
            .args(extra))
        .expect_code(0);
        let result = out.result();
        assert_eq!(result["outcome"], "COMPLETED");
        assert_eq!(result["status"]["status"], "COMPLETED");
        result["status"]["totalAccounts"].clone()
    };
    assert_eq!(total_accounts(&[]), 300);
    assert_eq!(total_accounts(&[]), 0, "unchanged file: nothing to process");
    assert_eq!(total_accounts(&["--disable-optimization"]), 300);

    let uploads = tenant.sandbox.uploads();
    assert_eq!(uploads.len(), 3);
    assert_eq!(uploads[1].disable_optimization.as_deref(), Some("false"));
    assert_eq!(uploads[2].disable_optimization.as_deref(), Some("true"));
}

#[test]
fn import_without_wait_prints_the_aggregation_id() {
    let tenant = Tenant::start();
    let out = run(tenant
        .cmd()
        .args(["import", SOURCE, "--file", &file_arg(&example_csv())]))
    .expect_code(0);
    let uploads = tenant.sandbox.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(out.stdout, format!("{}\n", uploads[0].aggregation_id));
    assert!(
        out.stderr.contains("isc-aggregate status"),
        "{}",
        out.stderr
    );
    assert_eq!(tenant.sandbox.request_count(Operation::GetStatus), 0);

    // Then follow it with `status --watch`, and read it once with `status`.
    let id = uploads[0].aggregation_id.clone();
    let watched = run(tenant.cmd().args(["status", &id, "--watch"])).expect_code(0);
    assert!(watched.stdout.contains("COMPLETED"), "{}", watched.stdout);
    let once = run(tenant.cmd().args(["status", &id])).expect_code(0);
    assert!(
        once.stdout
            .contains(&format!("aggregation {id}: COMPLETED")),
        "{}",
        once.stdout
    );
}

#[test]
fn beta_api_and_direct_connect_import() {
    let tenant = Tenant::start();
    run(tenant
        .cmd()
        .args(["--api", "beta", "import", SOURCE, "--wait"]))
    .expect_code(0);
    let uploads = tenant.sandbox.uploads();
    assert_eq!(uploads[0].api_version, ApiVersion::BETA);
    assert!(uploads[0].file.is_none());
}

#[test]
fn exit_1_when_the_aggregation_is_terminated_or_cancelled() {
    for (outcome, state) in [
        (Outcome::Terminated, "TERMINATED"),
        (Outcome::Cancelled, "CANCELLED"),
    ] {
        let tenant = Tenant::start();
        tenant.sandbox.set_outcome(SOURCE, outcome);
        let out = run(tenant.cmd().args([
            "import",
            SOURCE,
            "--file",
            &file_arg(&example_csv()),
            "--wait",
        ]))
        .expect_code(1);
        assert!(
            out.stderr.contains(&format!("ended {state}")),
            "{}",
            out.stderr
        );
        assert!(out.stdout.contains(state), "{}", out.stdout);

        // `status` of that aggregation: read once, it is also exit 1.
        let id = tenant.sandbox.uploads()[0].aggregation_id.clone();
        run(tenant.cmd().args(["status", &id])).expect_code(1);
    }
}

#[test]
fn exit_2_for_empty_or_missing_files_without_any_request() {
    let tenant = Tenant::start();
    let empty = write_temp("empty.csv", b"");
    let out = run(tenant
        .cmd()
        .args(["import", SOURCE, "--file", &file_arg(&empty), "--wait"]))
    .expect_code(2);
    assert!(out.stderr.contains("empty"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);

    let missing = empty.with_file_name("does-not-exist.csv");
    let out = run(tenant
        .cmd()
        .args(["import", SOURCE, "--file", &file_arg(&missing)]))
    .expect_code(2);
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);

    let out = run(tenant
        .cmd()
        .args(["--json", "import", SOURCE, "--file", &file_arg(&missing)]))
    .expect_code(2);
    assert_eq!(out.result()["error"]["kind"], "invalid_file");

    assert_eq!(tenant.total_requests(), 0, "no request may be sent");
    assert!(tenant.sandbox.uploads().is_empty());
}

#[test]
fn exit_2_without_configuration_and_no_sandbox_fallback() {
    let out = run(bare_cmd().args(["import", SOURCE, "--file", &file_arg(&example_csv())]))
        .expect_code(2);
    assert!(out.stderr.contains("SAIL_BASE_URL"), "{}", out.stderr);
    assert!(out.stderr.contains("config.json"), "{}", out.stderr);
    assert!(!out.stderr.contains("sandbox: using"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn exit_2_for_usage_errors() {
    for args in [
        vec!["import", SOURCE, "--wait", "--timeout", "90"],
        vec!["import", SOURCE, "--wait", "--timeout", "5 parsecs"],
        vec!["import", SOURCE, "--timeout", "5m"],
        vec!["--api", "v1999", "status", "abc"],
        vec![
            "--sandbox",
            "--base-url",
            "http://127.0.0.1:1",
            "status",
            "abc",
        ],
        vec!["frobnicate"],
    ] {
        run(bare_cmd().args(&args)).expect_code(2);
    }
}

#[test]
fn exit_3_on_403_with_status_message_and_tracking_id() {
    let tenant = Tenant::start();
    tenant.sandbox.inject(
        Operation::ImportAccounts,
        Fault::Status {
            status: 403,
            retry_after: None,
            body: Some(
                r#"{"detailCode":"403 Forbidden","trackingId":"trk-403-5f1e2d",
                    "messages":[{"locale":"en-US","localeOrigin":"DEFAULT","text":"Insufficient scope."}]}"#
                    .to_owned(),
            ),
        },
        1,
    );
    let out = run(tenant.cmd().args([
        "import",
        SOURCE,
        "--file",
        &file_arg(&example_csv()),
        "--wait",
    ]))
    .expect_code(3);
    assert!(out.stderr.contains("403"), "{}", out.stderr);
    assert!(out.stderr.contains("Insufficient scope."), "{}", out.stderr);
    assert!(out.stderr.contains("trk-403-5f1e2d"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert_eq!(
        tenant.sandbox.request_count(Operation::ImportAccounts),
        1,
        "403 is not retried"
    );
}

#[test]
fn exit_3_on_400_and_on_persistent_server_errors_while_waiting() {
    let tenant = Tenant::start();
    tenant
        .sandbox
        .inject(Operation::ImportAccounts, Fault::status(400), 1);
    let out = run(tenant.cmd().args([
        "--json",
        "import",
        SOURCE,
        "--file",
        &file_arg(&example_csv()),
    ]))
    .expect_code(3);
    let result = out.result();
    assert_eq!(result["exitCode"], 3);
    assert_eq!(result["error"]["httpStatus"], 400);
    assert!(result["error"]["trackingId"].is_string(), "{result}");
    let tracking_id = result["error"]["trackingId"].as_str().unwrap();
    assert!(out.stderr.contains(tracking_id), "{}", out.stderr);

    // Status polls keep failing with 503: retried, then exit 3.
    tenant
        .sandbox
        .inject(Operation::GetStatus, Fault::status(503), 100);
    let out = run(tenant.cmd().args([
        "import",
        SOURCE,
        "--file",
        &file_arg(&example_csv()),
        "--wait",
    ]))
    .expect_code(3);
    assert!(out.stderr.contains("503"), "{}", out.stderr);
    assert!(
        out.stderr.contains("retrying"),
        "retries are shown: {}",
        out.stderr
    );
    assert!(tenant.sandbox.request_count(Operation::GetStatus) > 1);
}

#[test]
fn exit_3_for_an_unknown_or_expired_aggregation() {
    let tenant = Tenant::start();
    let out = run(tenant
        .cmd()
        .args(["status", "2c9180835d2e5168015d32f890ca1581", "--watch"]))
    .expect_code(3);
    assert!(
        out.stderr.contains("unknown or its status has expired"),
        "{}",
        out.stderr
    );

    // Both the status (about an hour in ISC) and the task status (90 days) forgotten.
    let expiring = Tenant::with(|b| {
        b.retention(Duration::from_millis(1))
            .task_retention(Duration::from_millis(1))
    });
    let id = run(expiring
        .cmd()
        .args(["import", SOURCE, "--file", &file_arg(&example_csv())]))
    .expect_code(0)
    .stdout;
    std::thread::sleep(Duration::from_millis(600));
    let out = run(expiring.cmd().args(["status", id.trim()])).expect_code(3);
    assert!(out.stderr.contains("expired"), "{}", out.stderr);
}

#[test]
fn exit_4_when_waiting_times_out() {
    let tenant = Tenant::start();
    tenant.sandbox.set_outcome(SOURCE, Outcome::Stalled);
    let out = run(tenant.cmd().args([
        "import",
        SOURCE,
        "--file",
        &file_arg(&example_csv()),
        "--wait",
        "--timeout",
        "300ms",
    ]))
    .expect_code(4);
    let id = &tenant.sandbox.uploads()[0].aggregation_id;
    assert!(
        out.stderr
            .contains(&format!("isc-aggregate status {id} --watch")),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("STARTED"),
        "last status summary: {}",
        out.stdout
    );
}

/// Faults before ISC created anything: task status never lists an aggregation, so after the
/// grace period the outcome stays unknown (exit 5), and the upload was sent exactly once.
#[test]
fn exit_5_when_the_upload_outcome_is_unknown() {
    // A dropped connection after the whole body was received (and not processed): the client
    // sent its last byte, so the outcome is unknown. (One dropped before the last byte is a
    // provable non-start and is resent: the fault suite's "slow and broken links".)
    for fault in [Fault::status(500), Fault::cut_body(u64::MAX)] {
        let tenant = Tenant::start();
        tenant
            .sandbox
            .inject(Operation::ImportAccounts, fault.clone(), 1);
        let out = run(tenant.cmd().args([
            "import",
            SOURCE,
            "--file",
            &file_arg(&example_csv()),
            "--wait",
            "--outcome-grace",
            "600ms",
        ]))
        .expect_code(5);
        assert!(
            out.stderr.contains("may or may not have started"),
            "{fault:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("task-status lookup"), "{}", out.stderr);
        assert!(out.stderr.contains(SOURCE), "{}", out.stderr);
        assert_eq!(
            tenant.sandbox.request_count(Operation::ImportAccounts),
            1,
            "{fault:?}: the upload must not be retried"
        );
        assert_eq!(tenant.sandbox.aggregations_started(SOURCE), 0, "{fault:?}");
    }
}

/// ISC accepted the upload but the answer was lost (a 502 or a dropped connection after
/// processing): the client finds the aggregation in task status, says so, and waits for it.
/// One upload, one aggregation, exit 0.
#[test]
fn an_ambiguous_start_that_isc_accepted_is_recovered_and_waited_on() {
    for fault in [
        Fault::DropAfterProcessing,
        Fault::status_after_processing(502),
    ] {
        let tenant = Tenant::start();
        tenant
            .sandbox
            .inject(Operation::ImportAccounts, fault.clone(), 1);
        let out = run(tenant.cmd().args([
            "--json",
            "import",
            SOURCE,
            "--file",
            &file_arg(&example_csv()),
            "--wait",
        ]))
        .expect_code(0);
        let lines = out.ndjson();
        assert_eq!(lines[0]["origin"], "recovered", "{fault:?}: {}", out.stdout);
        let id = tenant.sandbox.uploads()[0].aggregation_id.clone();
        assert_eq!(lines[0]["aggregationId"], id.as_str());
        let result = out.result();
        assert_eq!(result["status"]["status"], "COMPLETED", "{}", out.stdout);
        assert_eq!(result["aggregationId"], id.as_str());
        assert!(out.stderr.contains("recovered"), "{}", out.stderr);
        assert_eq!(tenant.sandbox.request_count(Operation::ImportAccounts), 1);
        assert_eq!(tenant.sandbox.aggregations_started(SOURCE), 1, "{fault:?}");
    }
}

#[test]
fn import_by_source_name_and_unknown_or_ambiguous_names() {
    let tenant = Tenant::start();
    let hr = tenant.sandbox.add_source("HR Feed");
    let csv = example_csv();
    let out = run(tenant.cmd().args([
        "import",
        "--source-name",
        "HR Feed",
        "--file",
        &file_arg(&csv),
        "--wait",
    ]))
    .expect_code(0);
    let uploads = tenant.sandbox.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].source_id, hr);
    assert!(out.stdout.contains("COMPLETED"), "{}", out.stdout);

    let out = run(tenant.cmd().args([
        "import",
        "--source-name",
        "Nobody",
        "--file",
        &file_arg(&csv),
    ]))
    .expect_code(2);
    assert!(out.stderr.contains("no source is named"), "{}", out.stderr);

    let a = tenant.sandbox.add_source("Twins");
    let b = tenant.sandbox.add_source("Twins");
    let out = run(tenant.cmd().args([
        "--json",
        "import",
        "--source-name",
        "Twins",
        "--file",
        &file_arg(&csv),
    ]))
    .expect_code(2);
    assert!(
        out.stderr.contains(&a) && out.stderr.contains(&b),
        "{}",
        out.stderr
    );
    assert_eq!(out.result()["error"]["kind"], "ambiguous_source_name");
    assert_eq!(
        tenant.sandbox.uploads().len(),
        1,
        "no upload for a bad name"
    );

    run(tenant
        .cmd()
        .args(["import", SOURCE, "--source-name", "HR Feed"]))
    .expect_code(2);
}

#[test]
fn tasks_lists_recent_aggregations_by_source() {
    let tenant = Tenant::start();
    let hr = tenant.sandbox.add_source("HR Feed");
    for source in [hr.as_str(), SOURCE] {
        run(tenant.cmd().args([
            "import",
            source,
            "--file",
            &file_arg(&example_csv()),
            "--wait",
        ]))
        .expect_code(0);
    }
    let out = run(tenant.cmd().args(["tasks", "--source-name", "HR Feed"])).expect_code(0);
    let hr_id = tenant
        .sandbox
        .uploads()
        .iter()
        .find(|u| u.source_id == hr)
        .unwrap()
        .aggregation_id
        .clone();
    assert!(out.stdout.contains(&hr_id), "{}", out.stdout);
    assert!(out.stdout.contains("SUCCESS"), "{}", out.stdout);
    assert_eq!(
        out.stdout.lines().count(),
        2,
        "header and one task: {}",
        out.stdout
    );

    let out = run(tenant.cmd().args(["--json", "tasks"])).expect_code(0);
    let lines = out.ndjson();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(lines[..2].iter().all(|l| l["type"] == "task"));
    assert_eq!(out.result()["count"], 2);

    let out = run(tenant.cmd().args(["tasks", "--running"])).expect_code(0);
    assert!(out.stderr.contains("no matching"), "{}", out.stderr);
}

#[test]
fn if_idle_waits_for_the_running_aggregation_without_uploading() {
    let tenant = Tenant::with(|b| {
        b.collect_duration(Duration::from_millis(800))
            .process_duration(Duration::from_millis(800))
    });
    let first = run(tenant
        .cmd()
        .args(["import", SOURCE, "--file", &file_arg(&example_csv())]))
    .expect_code(0)
    .stdout;
    let first = first.trim();
    let out = run(tenant.cmd().args([
        "--json",
        "import",
        SOURCE,
        "--file",
        &file_arg(&example_csv()),
        "--if-idle",
        "--wait",
    ]))
    .expect_code(0);
    let lines = out.ndjson();
    assert_eq!(lines[0]["origin"], "already_running", "{}", out.stdout);
    assert_eq!(lines[0]["aggregationId"], first);
    assert_eq!(out.result()["status"]["status"], "COMPLETED");
    assert_eq!(
        tenant.sandbox.uploads().len(),
        1,
        "the second import uploaded nothing"
    );
    assert_eq!(tenant.sandbox.aggregations_started(SOURCE), 1);

    // Idle now: --if-idle starts one.
    let out = run(tenant.cmd().args([
        "--json",
        "import",
        SOURCE,
        "--file",
        &file_arg(&example_csv()),
        "--if-idle",
    ]))
    .expect_code(0);
    assert_eq!(out.ndjson()[0]["origin"], "started");
    assert_eq!(tenant.sandbox.aggregations_started(SOURCE), 2);
}

#[test]
fn json_output_is_ndjson_only() {
    let tenant = Tenant::start();
    let out = run(tenant.cmd().args([
        "--json",
        "import",
        SOURCE,
        "--file",
        &file_arg(&example_csv()),
        "--wait",
    ]))
    .expect_code(0);
    let lines = out.ndjson();
    assert!(lines.len() >= 4, "{}", out.stdout);
    let id = tenant.sandbox.uploads()[0].aggregation_id.clone();
    assert_eq!(lines[0]["type"], "accepted");
    assert_eq!(lines[0]["aggregationId"], id.as_str());
    assert_eq!(lines[0]["sourceId"], SOURCE);
    let statuses: Vec<&Value> = lines[1..lines.len() - 1].iter().collect();
    assert!(
        statuses.iter().all(|l| l["type"] == "status"),
        "{}",
        out.stdout
    );
    assert_eq!(statuses[0]["status"]["status"], "STARTED");
    assert!(
        statuses
            .iter()
            .any(|l| l["status"]["status"] == "ACCOUNTS_COLLECTED")
    );
    let result = out.result();
    assert_eq!(result["exitCode"], 0);
    assert_eq!(result["aggregationId"], id.as_str());
    assert_eq!(result["status"]["processedAccounts"], 300);
    assert!(result["error"].is_null());

    // Errors too: stdout holds only the result object, the message goes to stderr.
    tenant
        .sandbox
        .inject(Operation::ImportAccounts, Fault::status(500), 1);
    let out = run(tenant.cmd().args([
        "--json",
        "import",
        SOURCE,
        "--file",
        &file_arg(&example_csv()),
        "--outcome-grace",
        "0s",
    ]))
    .expect_code(5);
    assert_eq!(out.ndjson().len(), 1, "{}", out.stdout);
    assert_eq!(out.result()["error"]["kind"], "outcome_unknown");
    assert!(out.stderr.contains("error:"), "{}", out.stderr);
}

#[test]
fn verbose_logs_show_requests_and_retries_but_never_secrets() {
    let tenant = Tenant::start();
    tenant.sandbox.inject(
        Operation::GetStatus,
        Fault::status_with_retry_after(503, 1),
        2,
    );
    let out = run(tenant.cmd().args([
        "-vv",
        "import",
        SOURCE,
        "--file",
        &file_arg(&example_csv()),
        "--wait",
    ]))
    .expect_code(0);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("retrying"), "{}", out.stderr);
    assert!(out.stderr.contains("importAccounts"), "{}", out.stderr);
    assert!(!all.contains(CLIENT_SECRET), "the client secret leaked");
    assert!(!has_hex_run(&all, 64), "an access token leaked:\n{all}");
    assert!(tenant.sandbox.request_count(Operation::Token) >= 1);

    // -v: the SDK's debug lines.
    let out = run(tenant
        .cmd()
        .args(["-v", "import", SOURCE, "--file", &file_arg(&example_csv())]))
    .expect_code(0);
    assert!(out.stderr.contains("request succeeded"), "{}", out.stderr);
    assert!(!out.stderr.contains(CLIENT_SECRET));
}

#[test]
fn sandbox_run_verbose_leaks_no_secrets() {
    // The sandbox's generated client secret and tokens are 64 hex digits.
    let out = run(bare_cmd().args([
        "-vv",
        "--sandbox",
        "import",
        "demo-source",
        "--file",
        &file_arg(&example_csv()),
    ]))
    .expect_code(0);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("issued access token"), "{}", out.stderr);
    assert!(!has_hex_run(&all, 64), "a secret or token leaked:\n{all}");
}

#[test]
fn readme_sandbox_command_completes() {
    // The README's command, from the workspace root, with a safety timeout.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cmd = default_timings_cmd();
    let out = run(cmd.current_dir(root).args([
        "--sandbox",
        "import",
        "demo-source",
        "--file",
        "examples/accounts.csv",
        "--wait",
        "--timeout",
        "60s",
    ]))
    .expect_code(0);
    assert!(
        out.stderr.contains("simulated ISC tenant"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("COMPLETED"), "{}", out.stdout);
    assert!(
        out.stdout.contains("300 of 300 processed"),
        "{}",
        out.stdout
    );
}

#[test]
fn help_documents_the_exit_codes() {
    let out = run(bare_cmd().arg("--help")).expect_code(0);
    for needle in [
        "Exit codes:",
        "0  done",
        "1  the aggregation ended unsuccessfully",
        "2  usage, configuration or input error",
        "3  ISC API error",
        "4  timed out waiting",
        "5  outcome unknown",
        "SAIL_CLIENT_SECRET",
    ] {
        assert!(out.stdout.contains(needle), "{needle:?} in\n{}", out.stdout);
    }
}

/// A second import while the first still runs: ISC answers 202 with a task that has already
/// ended `ERROR`. That is a refused start with ISC's message and the `--if-idle` hint (exit 1),
/// with or without `--wait`, in plain text and in JSON.
#[test]
fn a_start_refused_inside_its_202_says_why_and_exits_1() {
    let tenant = Tenant::with(|b| {
        b.collect_duration(Duration::from_secs(30))
            .process_duration(Duration::from_secs(30))
    });
    let csv = example_csv();
    run(tenant
        .cmd()
        .args(["import", SOURCE, "--file", &file_arg(&csv)]))
    .expect_code(0);
    let plain = run(tenant
        .cmd()
        .args(["import", SOURCE, "--file", &file_arg(&csv)]))
    .expect_code(1);
    assert!(
        plain
            .stderr
            .contains("the currently running aggregation must complete"),
        "{}",
        plain.stderr
    );
    assert!(plain.stderr.contains("--if-idle"), "{}", plain.stderr);
    let waited = run(tenant.cmd().args([
        "--json",
        "import",
        SOURCE,
        "--file",
        &file_arg(&csv),
        "--wait",
    ]))
    .expect_code(1);
    let result = waited.result();
    assert_eq!(result["outcome"], "start_refused", "{result}");
    let messages = result["error"]["messages"].as_array().expect("messages");
    assert!(
        messages[0]
            .as_str()
            .unwrap()
            .contains("currently running aggregation"),
        "{result}"
    );
    assert_eq!(tenant.sandbox.aggregations_started(SOURCE), 1);
}

/// `status` of an aggregation whose status ISC no longer keeps, answered from task status: the
/// failed task's messages are shown, in plain text and in JSON.
#[test]
fn status_answered_from_task_status_shows_the_messages() {
    let tenant = Tenant::with(|b| b.retention(Duration::from_millis(1)));
    tenant.sandbox.set_outcome(SOURCE, Outcome::Terminated);
    let csv = example_csv();
    let out = run(tenant.cmd().args([
        "--json",
        "import",
        SOURCE,
        "--file",
        &file_arg(&csv),
        "--wait",
    ]))
    .expect_code(1);
    let id = out.result()["aggregationId"].as_str().unwrap().to_owned();
    // Past the (1 ms) retention, the status endpoint answers 404: task status answers instead.
    let plain = run(tenant.cmd().args(["status", &id])).expect_code(1);
    assert!(plain.stdout.contains("message"), "{}", plain.stdout);
    assert!(
        plain
            .stdout
            .contains("Virtual Appliance stopped responding"),
        "{}",
        plain.stdout
    );
    let json = run(tenant.cmd().args(["--json", "status", &id])).expect_code(1);
    let result = json.result();
    assert!(
        result["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m
                .as_str()
                .unwrap()
                .contains("Virtual Appliance stopped responding"))),
        "{result}"
    );
}

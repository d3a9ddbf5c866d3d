//! End-to-end tests of `isc-aggregate batch` against a simulated tenant in the test process:
//! the manifest is checked before any request, items end independently, the exit code follows
//! the precedence rule, and `--json` prints only NDJSON.

mod support;

use std::path::{Path, PathBuf};

use sailpoint_isc::ApiVersion;
use sailpoint_isc_sandbox::{Fault, Operation, Outcome};
use serde_json::Value;

use support::*;

/// A folder holding `manifest.toml` with `text`, and the CSVs named in `csvs` (each a copy of
/// the 300-account example), so that relative `file`s resolve against it.
fn manifest_in(text: &str, csvs: &[&str]) -> (PathBuf, PathBuf) {
    let dir = empty_dir();
    for name in csvs {
        std::fs::copy(example_csv(), dir.join(name)).expect("copy the example CSV");
    }
    let path = dir.join("manifest.toml");
    std::fs::write(&path, text).expect("write the manifest");
    (dir, path)
}

/// The NDJSON of a batch run, split into events, results and the summary; asserts the order
/// (events, then one result per item in item order, then one summary, nothing else).
struct Lines {
    events: Vec<Value>,
    results: Vec<Value>,
    summary: Value,
}

fn split(out: &Run, items: usize) -> Lines {
    let lines = out.ndjson();
    let (summary, rest) = lines.split_last().expect("a summary line");
    assert_eq!(summary["type"], "summary", "{}", out.stdout);
    let first_result = rest
        .iter()
        .position(|l| l["type"] == "result")
        .expect("result lines");
    let (events, results) = rest.split_at(first_result);
    assert_eq!(results.len(), items, "{}", out.stdout);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["type"], "result", "{}", out.stdout);
        assert_eq!(result["item"], i, "results in item order: {}", out.stdout);
    }
    for event in events {
        let kind = event["type"].as_str().unwrap();
        assert!(
            ["resolved", "started", "progress", "finished"].contains(&kind),
            "unexpected line {event}"
        );
        assert!(event["item"].as_u64().unwrap() < items as u64, "{event}");
    }
    Lines {
        events: events.to_vec(),
        results: results.to_vec(),
        summary: summary.clone(),
    }
}

impl Lines {
    fn events_of(&self, kind: &str, item: usize) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["type"] == kind && e["item"] == item)
            .collect()
    }

    fn column(&self, key: &str) -> Vec<Value> {
        self.results.iter().map(|r| r[key].clone()).collect()
    }
}

fn arg(path: &Path) -> String {
    file_arg(path)
}

/// Completion checks every 100 ms: the suite's 20 ms would spend the client's rate budget (100
/// requests per 10 s) within a second, and then every check waits for it.
const BATCH_POLL: &str = "100ms";

/// The binary for `tenant`, with the batch's test poll interval.
fn batch_cmd(tenant: &Tenant) -> assert_cmd::Command {
    let mut cmd = tenant.cmd();
    cmd.args(["--poll-interval", BATCH_POLL]);
    cmd
}

#[test]
fn a_bad_manifest_is_exit_2_with_every_problem_and_its_line_before_any_request() {
    let tenant = Tenant::start();
    let dir = empty_dir();
    std::fs::write(dir.join("empty.csv"), b"").unwrap();
    std::fs::copy(example_csv(), dir.join("good.csv")).unwrap();
    std::fs::create_dir(dir.join("a-folder")).unwrap();
    let text = r#"# A manifest with a problem of every kind (and one good item).
title = "nightly"
[[aggregation]]
source_id = "fine"
check = false
[[aggregation]]
source_id = "both"
source_name = "Both"
[[aggregation]]
file = "good.csv"
[[aggregation]]
source_id = 42
[[aggregation]]
source_name = ""
[[aggregation]]
source_id = "missing-file"
file = "missing.csv"
[[aggregation]]
source_id = "empty-file"
file = "empty.csv"
[[aggregation]]
source_id = "folder"
file = "a-folder"
[[aggregation]]
source_id = "typo"
disable_optimisation = true
[[aggregation]]
source_id = "flag"
disable_optimization = "yes"
[[aggregation]]
source_id = "fine"
[[aggregation]]
source_name = "HR Feed"
[[aggregation]]
source_name = "HR Feed"
file = ""
[[aggregation]]
source_id = "broken" = 1
"#;
    let manifest = dir.join("manifest.toml");
    std::fs::write(&manifest, text).unwrap();
    let expected: &[(usize, &str)] = &[
        (2, "unknown key `title` at the top level"),
        (6, "both source_id and source_name"),
        (9, "neither source_id nor source_name"),
        (12, "`source_id` must be a string, not an integer"),
        (14, "`source_name` is empty"),
        (17, "file \"missing.csv\""),
        (20, "file \"empty.csv\""),
        (23, "file \"a-folder\""),
        (26, "unknown key `disable_optimisation`"),
        (
            29,
            "`disable_optimization` must be true or false, not a string",
        ),
        (31, "source_id \"fine\" already appears at line 4"),
        (35, "source_name \"HR Feed\" already appears at line 33"),
        (36, "`file` is empty"),
        (38, "not TOML"),
    ];

    let out = run(batch_cmd(&tenant).args(["batch", &arg(&manifest)])).expect_code(2);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let listed: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(listed.len(), expected.len(), "{}", out.stderr);
    for ((line, needle), listed) in expected.iter().zip(&listed) {
        let prefix = format!("  {}:{line}: ", manifest.display());
        assert!(
            listed.starts_with(&prefix) && listed.contains(needle),
            "expected {prefix}…{needle}…, got {listed}\n{}",
            out.stderr
        );
    }
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
    assert!(out.stderr.contains("is empty (0 bytes)"), "{}", out.stderr);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "has {} problems; nothing was sent",
            expected.len()
        )),
        "{}",
        out.stderr
    );

    // --json: the same problems in the one summary object, and nothing else on stdout.
    let out = run(batch_cmd(&tenant).args(["--json", "batch", &arg(&manifest)])).expect_code(2);
    let lines = out.ndjson();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    let summary = &lines[0];
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["outcome"], "invalid_manifest");
    assert_eq!(summary["exitCode"], 2);
    let problems = summary["problems"].as_array().unwrap();
    let lines: Vec<u64> = problems
        .iter()
        .map(|p| p["line"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = expected.iter().map(|(line, _)| *line as u64).collect();
    assert_eq!(lines, want, "{summary}");

    // No configuration at all: still the manifest's problems, not a configuration error.
    let out = run(bare_cmd().args(["batch", &arg(&manifest)])).expect_code(2);
    assert!(out.stderr.contains("nothing was sent"), "{}", out.stderr);
    assert!(!out.stderr.contains("SAIL_BASE_URL"), "{}", out.stderr);

    // No [[aggregation]] at all; a manifest that is not there.
    let (_, nothing) = manifest_in("# nothing yet\n", &[]);
    let out = run(batch_cmd(&tenant).args(["batch", &arg(&nothing)])).expect_code(2);
    assert!(
        out.stderr.contains(":1: no [[aggregation]]"),
        "{}",
        out.stderr
    );
    let out =
        run(batch_cmd(&tenant).args(["batch", &arg(&dir.join("absent.toml"))])).expect_code(2);
    assert!(
        out.stderr.contains("cannot read the manifest"),
        "{}",
        out.stderr
    );

    // Not one request, not even for a token.
    assert_eq!(tenant.sandbox.request_count(Operation::Token), 0);
    assert_eq!(tenant.total_requests(), 0);
    assert!(tenant.sandbox.uploads().is_empty());
}

#[test]
fn several_sources_by_id_and_by_name_complete_with_json_and_without() {
    let tenant = Tenant::start();
    let hr = tenant.sandbox.add_source("HR Feed");
    let (dir, manifest) = manifest_in(
        r#"[[aggregation]]
source_id = "src-a"
file = "a.csv"

[[aggregation]]
source_name = "HR Feed"
file = "exports/hr.csv"
disable_optimization = true

[[aggregation]]
source_id = "src-b"
file = "b.csv"

[[aggregation]]
source_id = "direct-connect"
"#,
        &["a.csv", "b.csv"],
    );
    std::fs::create_dir(dir.join("exports")).unwrap();
    std::fs::copy(example_csv(), dir.join("exports/hr.csv")).unwrap();

    let out = run(tenant
        .cmd()
        .args(["--json", "--api", "beta", "batch", &arg(&manifest)]))
    .expect_code(0);
    let lines = split(&out, 4);
    assert_eq!(lines.column("outcome"), ["completed"; 4].map(Value::from));
    assert_eq!(lines.column("exitCode"), [0; 4].map(Value::from));
    assert_eq!(lines.column("line"), [1, 5, 10, 14].map(Value::from));
    assert_eq!(
        lines.column("sourceId"),
        ["src-a", hr.as_str(), "src-b", "direct-connect"].map(Value::from)
    );
    assert_eq!(lines.results[1]["sourceName"], "HR Feed");
    assert_eq!(lines.results[1]["file"], "exports/hr.csv");
    for result in &lines.results[..3] {
        assert_eq!(result["status"]["processedAccounts"], 300, "{result}");
        assert_eq!(result["state"], "COMPLETED");
        assert!(result["error"].is_null());
    }
    let summary = &lines.summary;
    assert_eq!(summary["exitCode"], 0);
    assert_eq!(summary["items"], 4);
    assert_eq!(summary["completed"], 4);
    assert_eq!(summary["outcomes"], serde_json::json!({"completed": 4}));
    // Events: the name resolved once, each item started and finished exactly once.
    let resolved = lines.events_of("resolved", 1);
    assert_eq!(resolved.len(), 1, "{}", out.stdout);
    assert_eq!(resolved[0]["sourceId"], hr.as_str());
    for i in 0..4 {
        let started = lines.events_of("started", i);
        assert_eq!(started.len(), 1, "item {i}: {}", out.stdout);
        assert_eq!(started[0]["apiVersion"], "beta");
        assert_eq!(
            started[0]["aggregationId"],
            lines.results[i]["aggregationId"]
        );
        assert_eq!(lines.events_of("finished", i).len(), 1, "item {i}");
    }
    assert!(lines.events.iter().any(|e| e["type"] == "progress"));

    // What the tenant saw: each source once, the right file and options, in beta.
    let uploads = tenant.sandbox.uploads();
    assert_eq!(uploads.len(), 4);
    let csv = std::fs::read(example_csv()).unwrap();
    for upload in &uploads {
        assert_eq!(upload.api_version, ApiVersion::BETA);
        let expect_file = upload.source_id != "direct-connect";
        assert_eq!(upload.file.is_some(), expect_file, "{}", upload.source_id);
        if let Some(file) = &upload.file {
            assert_eq!(file.sha256, sha256_hex(&csv));
        }
        let disabled = upload.disable_optimization.as_deref() == Some("true");
        assert_eq!(disabled, upload.source_id == hr, "{}", upload.source_id);
    }
    for source in ["src-a", hr.as_str(), "src-b", "direct-connect"] {
        assert_eq!(tenant.sandbox.aggregations_started(source), 1, "{source}");
    }

    // Without --json (not a terminal): a line per change on stderr, the table on stdout.
    let out = run(batch_cmd(&tenant).args(["batch", &arg(&manifest)])).expect_code(0);
    let table: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(table.len(), 6, "header, 4 rows, summary: {}", out.stdout);
    assert!(table[0].starts_with("LINE"), "{}", out.stdout);
    for (row, source) in table[1..5]
        .iter()
        .zip(["src-a", "HR Feed", "src-b", "direct-connect"])
    {
        assert!(row.contains(source), "{row}");
        assert!(row.contains("COMPLETED"), "{row}");
    }
    assert!(
        table[5].starts_with("batch: 4 of 4 completed") && table[5].ends_with("exit 0"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains(&format!("line 5: source \"HR Feed\" is {hr}")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("line 1 (src-a): aggregation"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("ACCOUNTS_COLLECTED"), "{}", out.stderr);
    assert!(!out.stdout.contains("ACCOUNTS_COLLECTED"), "{}", out.stdout);
    for source in ["src-a", hr.as_str(), "src-b", "direct-connect"] {
        assert_eq!(tenant.sandbox.aggregations_started(source), 2, "{source}");
    }
}

/// One at a time: the first import's answer is a 500 before ISC created anything (outcome
/// unknown after the task-status lookup), one aggregation ends TERMINATED, the rest complete.
/// Exit 5 (outcome unknown outranks ended unsuccessfully); the failures stopped nothing.
#[test]
fn mixed_outcomes_are_reported_per_item_and_outcome_unknown_outranks_unsuccessful() {
    let tenant = Tenant::start();
    let hr = tenant.sandbox.add_source("HR Feed");
    tenant.sandbox.set_outcome("doomed", Outcome::Terminated);
    tenant
        .sandbox
        .inject(Operation::ImportAccounts, Fault::status(500), 1);
    let (_, manifest) = manifest_in(
        r#"[[aggregation]]
source_id = "lost-answer"
file = "a.csv"
[[aggregation]]
source_id = "doomed"
file = "b.csv"
[[aggregation]]
source_id = "fine"
file = "c.csv"
[[aggregation]]
source_name = "HR Feed"
file = "d.csv"
[[aggregation]]
source_id = "direct-connect"
"#,
        &["a.csv", "b.csv", "c.csv", "d.csv"],
    );
    let out = run(batch_cmd(&tenant).args([
        "--json",
        "batch",
        &arg(&manifest),
        "--max-concurrency",
        "1",
        "--outcome-grace",
        "300ms",
    ]))
    .expect_code(5);
    let lines = split(&out, 5);
    assert_eq!(
        lines.column("outcome"),
        [
            "outcome_unknown",
            "aggregation_failed",
            "completed",
            "completed",
            "completed"
        ]
        .map(Value::from)
    );
    assert_eq!(lines.column("exitCode"), [5, 1, 0, 0, 0].map(Value::from));
    assert_eq!(lines.results[1]["state"], "TERMINATED");
    assert_eq!(lines.results[0]["error"]["kind"], "outcome_unknown");
    assert!(lines.results[0]["aggregationId"].is_null());
    assert!(
        lines.results[0]["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("isc-aggregate tasks --source-id lost-answer"),
        "{}",
        lines.results[0]
    );
    assert_eq!(lines.summary["exitCode"], 5);
    assert_eq!(lines.summary["completed"], 3);
    assert_eq!(
        lines.summary["outcomes"],
        serde_json::json!({"completed": 3, "outcome_unknown": 1, "aggregation_failed": 1})
    );
    // The unknown one never started from the tenant's point of view and was not resent; every
    // other source was aggregated exactly once.
    assert_eq!(lines.events_of("started", 0).len(), 0);
    assert_eq!(lines.events_of("finished", 0).len(), 1);
    assert_eq!(lines.events_of("finished", 0)[0]["exitCode"], 5);
    assert_eq!(tenant.sandbox.aggregations_started("lost-answer"), 0);
    for source in ["doomed", "fine", hr.as_str(), "direct-connect"] {
        assert_eq!(tenant.sandbox.aggregations_started(source), 1, "{source}");
    }
    assert_eq!(tenant.sandbox.request_count(Operation::ImportAccounts), 5);
}

/// A source name that resolves to nothing is an API error (3) inside a batch, which outranks an
/// aggregation that ended unsuccessfully (1); the failing items stop nothing: every other source
/// is aggregated exactly once. Plain output: the errors and hints on stderr, the table on stdout.
#[test]
fn failing_items_do_not_stop_the_others_and_an_unknown_name_is_exit_3() {
    let tenant = Tenant::start();
    tenant.sandbox.set_outcome("doomed", Outcome::Terminated);
    let (_, manifest) = manifest_in(
        r#"[[aggregation]]
source_id = "first"
file = "a.csv"
[[aggregation]]
source_name = "Nobody"
file = "b.csv"
[[aggregation]]
source_id = "doomed"
[[aggregation]]
source_id = "last"
file = "c.csv"
"#,
        &["a.csv", "b.csv", "c.csv"],
    );
    let out = run(tenant
        .cmd()
        .args(["batch", &arg(&manifest), "--max-concurrency", "1"]))
    .expect_code(3);
    for source in ["first", "doomed", "last"] {
        assert_eq!(tenant.sandbox.aggregations_started(source), 1, "{source}");
    }
    assert_eq!(tenant.sandbox.request_count(Operation::ImportAccounts), 3);
    assert!(
        out.stderr
            .contains("error: line 4 (Nobody): no source is named"),
        "{}",
        out.stderr
    );
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(rows.len(), 6, "{}", out.stdout);
    assert!(rows[1].contains("COMPLETED"), "{}", rows[1]);
    assert!(rows[2].contains("source_not_found (exit 3)"), "{}", rows[2]);
    assert!(rows[3].contains("TERMINATED (exit 1)"), "{}", rows[3]);
    assert!(rows[4].contains("COMPLETED"), "{}", rows[4]);
    assert!(
        rows[5].starts_with("batch: 2 of 4 completed; 1 aggregation failed, 1 source not found"),
        "{}",
        rows[5]
    );
    assert!(rows[5].ends_with("exit 3"), "{}", rows[5]);
}

/// An API error (3) outranks a timeout (4) although 4 is the larger number; an item the timeout
/// kept from starting is skipped and does not raise the code.
#[test]
fn an_api_error_outranks_a_timeout_and_skipped_items_are_not_started() {
    let tenant = Tenant::start();
    tenant.sandbox.set_outcome("stalled", Outcome::Stalled);
    tenant
        .sandbox
        .inject(Operation::ImportAccounts, Fault::status(403), 1);
    let (_, manifest) = manifest_in(
        r#"[[aggregation]]
source_id = "forbidden"
[[aggregation]]
source_id = "stalled"
[[aggregation]]
source_id = "never-started"
"#,
        &[],
    );
    let out = run(batch_cmd(&tenant).args([
        "--json",
        "batch",
        &arg(&manifest),
        "--max-concurrency",
        "1",
        "--timeout",
        "1500ms",
    ]))
    .expect_code(3);
    let lines = split(&out, 3);
    assert_eq!(
        lines.column("outcome"),
        ["forbidden", "timeout", "skipped"].map(Value::from)
    );
    assert_eq!(
        lines.column("exitCode"),
        [Value::from(3), Value::from(4), Value::Null]
    );
    assert_eq!(lines.results[0]["error"]["httpStatus"], 403);
    assert_eq!(lines.results[1]["state"], "STARTED");
    assert!(lines.results[2]["skipReason"].is_string());
    assert_eq!(lines.summary["exitCode"], 3);
    assert_eq!(tenant.sandbox.aggregations_started("forbidden"), 0);
    assert_eq!(tenant.sandbox.aggregations_started("stalled"), 1);
    assert_eq!(tenant.sandbox.aggregations_started("never-started"), 0);
    assert_eq!(tenant.sandbox.request_count(Operation::ImportAccounts), 2);

    // The same without the 403: the timeout alone is exit 4.
    let tenant = Tenant::start();
    tenant.sandbox.set_outcome("stalled", Outcome::Stalled);
    let out = run(batch_cmd(&tenant).args([
        "batch",
        &arg(&manifest),
        "--max-concurrency",
        "2",
        "--timeout",
        "1500ms",
    ]))
    .expect_code(4);
    assert!(out.stdout.contains("timeout (exit 4)"), "{}", out.stdout);
    assert!(
        out.stderr.contains("isc-aggregate status"),
        "the hint: {}",
        out.stderr
    );
}

#[test]
fn batch_usage_errors_and_help() {
    let (_, manifest) = manifest_in("[[aggregation]]\nsource_id = \"a\"\n", &[]);
    for extra in [
        &["--max-concurrency", "0"][..],
        &["--max-concurrency", "101"],
        &["--timeout", "90"],
        &["--outcome-grace", "soon"],
    ] {
        let out = run(bare_cmd().args(["batch", &arg(&manifest)]).args(extra)).expect_code(2);
        assert!(out.stdout.is_empty());
    }
    run(bare_cmd().arg("batch")).expect_code(2);

    let out = run(bare_cmd().args(["batch", "--help"])).expect_code(0);
    for needle in [
        "[[aggregation]]",
        "source_name",
        "disable_optimization",
        "--max-concurrency",
        "[default: 100]",
        "0  every item completed",
        "5  outcome unknown",
        "3  API error, or input that fails at run time",
        "4  timed out",
        "1  ended unsuccessfully",
        "not the largest number",
        "kind = \"accounts\"",
        "--dir <DIR>",
        "--recursive",
        "--entitlements-pattern <GLOB>",
        "--check",
        "--junit <PATH>",
        "--summary-markdown <PATH>",
        "accounts files before its entitlements files",
    ] {
        assert!(out.stdout.contains(needle), "{needle:?} in\n{}", out.stdout);
    }
    let out = run(bare_cmd().arg("--help")).expect_code(0);
    assert!(out.stdout.contains("batch"), "{}", out.stdout);
    assert!(
        out.stdout.contains("the first of 5, 3, 4, 1"),
        "{}",
        out.stdout
    );
}

/// The README's demo: the shipped example manifest against `--sandbox`, from the workspace root.
#[test]
fn sandbox_batch_of_the_example_manifest_completes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The `--sandbox` poll interval (250 ms), not the suite's.
    let mut cmd = default_timings_cmd();
    let out = run(cmd.current_dir(root).args([
        "--sandbox",
        "--json",
        "batch",
        "crates/sailpoint-isc-cli/examples/batch.toml",
    ]))
    .expect_code(0);
    let lines = split(&out, 3);
    assert_eq!(lines.summary["completed"], 3, "{}", out.stdout);
    assert_eq!(lines.results[0]["sourceName"], "HR Feed");
    assert_eq!(lines.results[0]["status"]["processedAccounts"], 300);
    assert_eq!(lines.results[1]["disableOptimization"], true);
    assert!(lines.results[2]["file"].is_null());
    assert!(
        out.stderr
            .contains("created the sources named in the manifest (HR Feed)"),
        "{}",
        out.stderr
    );
}

const REFUSED_MESSAGE: &str = "This aggregation failed because the currently running aggregation \
                               must complete before the next one can start.";
const TERMINATED_MESSAGE: &str =
    "The aggregation was terminated: the Virtual Appliance stopped responding.";

/// Every unsuccessful ending shows ISC's messages: a start ISC refused (an aggregation already
/// runs on the source; exit 1) and an aggregation that ended TERMINATED, in the `finished` and
/// `result` objects and the summary's `failures`, and on the plain error lines.
#[test]
fn unsuccessful_endings_show_iscs_messages_and_a_refused_start_is_exit_1() {
    let tenant = Tenant::start();
    tenant.sandbox.set_outcome("busy", Outcome::Stalled);
    run(tenant.cmd().args(["import", "busy"])).expect_code(0);
    assert_eq!(tenant.sandbox.aggregations_started("busy"), 1);
    let (_, manifest) = manifest_in(
        r#"[[aggregation]]
source_id = "busy"
[[aggregation]]
source_id = "doomed"
file = "a.csv"
[[aggregation]]
source_id = "fine"
"#,
        &["a.csv"],
    );

    tenant.sandbox.set_outcome("doomed", Outcome::Terminated);
    let out = run(batch_cmd(&tenant).args(["--json", "batch", &arg(&manifest)])).expect_code(1);
    let lines = split(&out, 3);
    assert_eq!(
        lines.column("outcome"),
        ["start_refused", "aggregation_failed", "completed"].map(Value::from)
    );
    assert_eq!(lines.column("exitCode"), [1, 1, 0].map(Value::from));
    let messages = |value: &Value| value["messages"].clone();
    assert_eq!(
        lines.column("messages"),
        [
            serde_json::json!([REFUSED_MESSAGE]),
            serde_json::json!([TERMINATED_MESSAGE]),
            serde_json::json!([])
        ]
    );
    assert_eq!(
        messages(lines.events_of("finished", 0)[0]),
        serde_json::json!([REFUSED_MESSAGE])
    );
    assert_eq!(
        messages(lines.events_of("finished", 1)[0]),
        serde_json::json!([TERMINATED_MESSAGE])
    );
    assert_eq!(lines.results[0]["error"]["kind"], "start_refused");
    assert!(
        lines.results[0]["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--if-idle")
    );
    let failures = lines.summary["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2, "{}", lines.summary);
    assert_eq!(failures[0]["item"], 0);
    assert_eq!(
        failures[0]["messages"],
        serde_json::json!([REFUSED_MESSAGE])
    );
    assert_eq!(failures[1]["item"], 1);
    assert_eq!(failures[1]["outcome"], "aggregation_failed");
    assert_eq!(
        failures[1]["messages"],
        serde_json::json!([TERMINATED_MESSAGE])
    );
    assert_eq!(lines.summary["exitCode"], 1);
    // The refused start was not retried; only the first one runs on the busy source.
    assert_eq!(tenant.sandbox.aggregations_started("busy"), 1);
    let refusals = |tenant: &Tenant| {
        tenant
            .sandbox
            .aggregations()
            .iter()
            .filter(|a| a.source_id == "busy" && a.rejected)
            .count()
    };
    assert_eq!(refusals(&tenant), 1);

    // Plain output: the messages on the error lines.
    tenant.sandbox.set_outcome("doomed", Outcome::Terminated);
    let out = run(batch_cmd(&tenant).args(["batch", &arg(&manifest)])).expect_code(1);
    let refused = out
        .stderr
        .lines()
        .find(|l| l.starts_with("error: line 1 (busy): "))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(refused.contains(REFUSED_MESSAGE), "{refused}");
    let failed = out
        .stderr
        .lines()
        .find(|l| l.starts_with("error: line 3 (doomed): "))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(
        failed.ends_with(&format!("ISC says: {TERMINATED_MESSAGE}")),
        "{failed}"
    );
    assert_eq!(refusals(&tenant), 2);
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert!(rows[1].contains("start_refused (exit 1)"), "{}", rows[1]);
    assert!(rows[2].contains("TERMINATED (exit 1)"), "{}", rows[2]);
}

/// Which of the child's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

struct Stopped {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Stopped {
    fn ndjson(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

/// Runs the binary with `args` in an empty directory (no configuration but `env`), reading its
/// output line by line; when a line satisfies `trigger`, sends it `signal` (`kill -SIGNAL`),
/// then collects the rest until it exits.
fn stop_when(
    args: &[&str],
    env: &[(&str, &str)],
    signal: &str,
    trigger: impl Fn(Stream, &str) -> bool,
) -> Stopped {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_isc-aggregate"))
        .current_dir(empty_dir())
        .env_remove("SAIL_BASE_URL")
        .env_remove("SAIL_CLIENT_ID")
        .env_remove("SAIL_CLIENT_SECRET")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let (lines, received) = std::sync::mpsc::channel();
    let forward = |stream: Stream, reader: Box<dyn Read + Send>| {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                if lines.send((stream, line)).is_err() {
                    break;
                }
            }
        })
    };
    let out = forward(Stream::Stdout, Box::new(child.stdout.take().unwrap()));
    let err = forward(Stream::Stderr, Box::new(child.stderr.take().unwrap()));
    drop(lines);
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let mut sent = false;
    // Until both streams close.
    for (stream, line) in received {
        if !sent && trigger(stream, &line) {
            let killed = std::process::Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status()
                .expect("kill runs");
            assert!(killed.success());
            sent = true;
        }
        let text = match stream {
            Stream::Stdout => &mut stdout,
            Stream::Stderr => &mut stderr,
        };
        text.push_str(&line);
        text.push('\n');
    }
    out.join().unwrap();
    err.join().unwrap();
    let status = child.wait().expect("the binary ends");
    assert!(
        sent,
        "the line to stop at never came\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    Stopped {
        code: status
            .code()
            .unwrap_or_else(|| panic!("ended by a signal, not an exit code: {status:?}\n{stderr}")),
        stdout,
        stderr,
    }
}

fn is_started_event(stream: Stream, line: &str) -> bool {
    stream == Stream::Stdout
        && serde_json::from_str::<Value>(line).is_ok_and(|v| v["type"] == "started")
}

/// The NDJSON of a stopped batch: every item has one `finished` event and one `result`, then
/// the summary carries the signal and its code.
fn check_stopped_ndjson(out: &Stopped, items: usize, signal: &str, code: i32) -> Vec<Value> {
    assert_eq!(out.code, code, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    let lines = out.ndjson();
    let summary = lines.last().expect("a summary");
    assert_eq!(summary["type"], "summary", "{}", out.stdout);
    assert_eq!(summary["items"], items);
    assert_eq!(summary["exitCode"], code);
    assert_eq!(summary["signal"], signal);
    let counted: u64 = summary["outcomes"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(counted, items as u64, "{summary}");
    let results: Vec<Value> = lines
        .iter()
        .filter(|l| l["type"] == "result")
        .cloned()
        .collect();
    assert_eq!(results.len(), items, "{}", out.stdout);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["item"], i);
        let finished = lines
            .iter()
            .filter(|l| l["type"] == "finished" && l["item"] == i)
            .count();
        assert_eq!(finished, 1, "item {i}: {}", out.stdout);
        match result["outcome"].as_str().unwrap() {
            "started" => {
                let id = result["aggregationId"]
                    .as_str()
                    .expect("its aggregation id");
                assert!(
                    result["hint"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("isc-aggregate status {id} --watch")),
                    "{result}"
                );
                assert!(result["exitCode"].is_null());
            }
            "skipped" => {
                assert_eq!(result["skipReason"], "not started: the batch was stopped");
                assert!(result["aggregationId"].is_null());
            }
            "completed" | "outcome_unknown" => {}
            other => panic!("item {i}: {other}: {result}"),
        }
    }
    results
}

/// SIGTERM during a `--sandbox` batch (the demo tenant's aggregations take seconds): the batch
/// stops starting, reports every item (the one running as started, with how to follow it) and
/// the summary, and exits 143.
#[test]
fn sigterm_stops_a_sandbox_batch_with_every_item_reported_and_exit_143() {
    let (_, manifest) = manifest_in(
        r#"[[aggregation]]
source_name = "HR Feed"
file = "a.csv"
[[aggregation]]
source_id = "src-b"
file = "b.csv"
[[aggregation]]
source_id = "src-c"
"#,
        &["a.csv", "b.csv"],
    );
    let out = stop_when(
        &[
            "--sandbox",
            "--json",
            "--poll-interval",
            "100ms",
            "batch",
            &arg(&manifest),
            "--max-concurrency",
            "1",
            "--timeout",
            "60s",
        ],
        &[],
        "TERM",
        is_started_event,
    );
    let results = check_stopped_ndjson(&out, 3, "SIGTERM", 143);
    // The first start was reported as it happened and again in its result.
    let first = out
        .ndjson()
        .into_iter()
        .find(|l| l["type"] == "started")
        .unwrap();
    assert_eq!(results[0]["aggregationId"], first["aggregationId"]);
    assert!(out.stderr.contains("SIGTERM: stopping"), "{}", out.stderr);
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A manifest of `sources` (the first with a CSV) whose aggregations never end by themselves.
fn stalled_manifest(tenant: &Tenant, sources: &[&str]) -> PathBuf {
    let mut text = String::new();
    for (i, source) in sources.iter().enumerate() {
        tenant.sandbox.set_outcome(source, Outcome::Stalled);
        text.push_str(&format!("[[aggregation]]\nsource_id = \"{source}\"\n"));
        if i == 0 {
            text.push_str("file = \"a.csv\"\n");
        }
    }
    manifest_in(&text, &["a.csv"]).1
}

/// SIGINT against a tenant whose aggregations never end by themselves: one at a time, so the
/// stop comes while the first runs. It is reported as started (with its id), the others as not
/// started, and the tenant saw no other start; exit 130. Then SIGTERM with the plain output:
/// the table, a note per running aggregation, and the summary line with the signal; exit 143.
#[test]
fn sigint_and_sigterm_stop_a_batch_that_never_ends_by_itself() {
    let tenant = Tenant::start();
    let base_url = tenant.sandbox.base_url();
    let env = [
        ("SAIL_CLIENT_ID", CLIENT_ID),
        ("SAIL_CLIENT_SECRET", CLIENT_SECRET),
    ];
    let args = |json: bool, manifest: &Path| -> Vec<String> {
        let mut args = vec!["--base-url".to_owned(), base_url.clone()];
        if json {
            args.push("--json".to_owned());
        }
        for arg in [
            "--poll-interval",
            "100ms",
            "--retry-backoff",
            "10ms",
            "batch",
        ] {
            args.push(arg.to_owned());
        }
        args.push(file_arg(manifest));
        for arg in ["--max-concurrency", "1", "--timeout", "60s"] {
            args.push(arg.to_owned());
        }
        args
    };

    let manifest = stalled_manifest(&tenant, &["stuck-0", "stuck-1", "stuck-2"]);
    let json_args = args(true, &manifest);
    let out = stop_when(&strs(&json_args), &env, "INT", is_started_event);
    let results = check_stopped_ndjson(&out, 3, "SIGINT", 130);
    let outcomes: Vec<&str> = results
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["started", "skipped", "skipped"]);
    let id = results[0]["aggregationId"].as_str().unwrap().to_owned();
    assert_eq!(results[0]["origin"], "started");
    let summary = out.ndjson().pop().unwrap();
    assert_eq!(
        summary["outcomes"],
        serde_json::json!({"completed": 0, "started": 1, "skipped": 2})
    );
    assert_eq!(tenant.sandbox.aggregations_started("stuck-0"), 1);
    assert_eq!(tenant.sandbox.aggregations_started("stuck-1"), 0);
    assert_eq!(tenant.sandbox.aggregations_started("stuck-2"), 0);
    let running = tenant
        .sandbox
        .aggregations()
        .into_iter()
        .find(|a| a.id == id)
        .expect("the tenant has it");
    assert_eq!(running.status.as_str(), "STARTED", "ISC goes on with it");

    // The same with the plain output, stopped once stderr says the first one started.
    let manifest = stalled_manifest(&tenant, &["held-0", "held-1", "held-2"]);
    let plain_args = args(false, &manifest);
    let out = stop_when(&strs(&plain_args), &env, "TERM", |stream, line| {
        stream == Stream::Stderr && line.contains("): aggregation ") && line.ends_with(" started")
    });
    assert_eq!(out.code, 143, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(rows.len(), 5, "header, 3 rows, summary: {}", out.stdout);
    assert!(rows[1].contains("started (still running)"), "{}", rows[1]);
    let id = rows[1].split_whitespace().nth(3).unwrap();
    assert!(
        out.stderr.contains(&format!(
            "note: line 1 (held-0): aggregation {id} still runs"
        )) && out
            .stderr
            .contains(&format!("isc-aggregate status {id} --watch")),
        "{}",
        out.stderr
    );
    for row in &rows[2..4] {
        assert!(row.contains("skipped"), "{row}");
    }
    assert!(
        rows[4].starts_with("batch: stopped by SIGTERM: 0 of 3 completed; 2 skipped, 1 started")
            && rows[4].ends_with("exit 143"),
        "{}",
        rows[4]
    );
    assert_eq!(tenant.sandbox.aggregations_started("held-0"), 1);
    assert_eq!(tenant.sandbox.aggregations_started("held-1"), 0);
    assert_eq!(tenant.sandbox.aggregations_started("held-2"), 0);
}

/// Items of one source run one after the other in manifest order (its accounts, then its
/// entitlements), while another source runs at the same time: the first source's aggregation
/// never ends by itself, yet the second source's two items complete, the entitlement load
/// starting only once the accounts ended (the tenant refuses a start while a task runs on the
/// source, and refused none). Then SIGTERM: the reports are written for a stopped batch too.
#[test]
fn one_sources_items_run_in_order_while_another_source_runs() {
    let tenant = Tenant::start();
    tenant.sandbox.set_outcome("held", Outcome::Stalled);
    let (dir, manifest) = manifest_in(
        r#"[[aggregation]]
source_id = "held"
[[aggregation]]
source_id = "hr"
file = "a.csv"
[[aggregation]]
source_id = "hr"
kind = "entitlements"
file = "groups.csv"
"#,
        &["a.csv"],
    );
    std::fs::write(
        dir.join("groups.csv"),
        "id,name,description\ng1,Admins,Admin group\ng2,Users,\n",
    )
    .unwrap();
    let junit = dir.join("junit.xml");
    let markdown = dir.join("summary.md");
    let base_url = tenant.sandbox.base_url();
    let args = [
        "--base-url",
        &base_url,
        "--json",
        "--poll-interval",
        "100ms",
        "--retry-backoff",
        "10ms",
        "batch",
        &arg(&manifest),
        "--timeout",
        "60s",
        "--junit",
        &arg(&junit),
        "--summary-markdown",
        &arg(&markdown),
    ];
    let env = [
        ("SAIL_CLIENT_ID", CLIENT_ID),
        ("SAIL_CLIENT_SECRET", CLIENT_SECRET),
    ];
    // Stopped once the second source's last item has finished.
    let out = stop_when(&args, &env, "TERM", |stream, line| {
        stream == Stream::Stdout
            && serde_json::from_str::<Value>(line)
                .is_ok_and(|v| v["type"] == "finished" && v["item"] == 2)
    });
    let results = check_stopped_ndjson(&out, 3, "SIGTERM", 143);
    let outcomes: Vec<&str> = results
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["started", "completed", "completed"]);
    let kinds: Vec<&str> = results
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["accounts", "accounts", "entitlements"]);
    let lines = out.ndjson();
    let at = |kind: &str, item: usize| {
        lines
            .iter()
            .position(|l| l["type"] == kind && l["item"] == item)
            .unwrap_or_else(|| panic!("no {kind} for item {item}: {}", out.stdout))
    };
    // The held source started first and was still running when hr's items ran, one after the
    // other.
    assert!(at("started", 0) < at("finished", 1));
    assert!(at("finished", 1) < at("started", 2));
    assert_eq!(tenant.sandbox.aggregations_started("held"), 1);
    assert_eq!(tenant.sandbox.aggregations_started("hr"), 1);
    assert_eq!(tenant.sandbox.entitlement_loads_started("hr"), 1);
    assert!(tenant.sandbox.aggregations().iter().all(|a| !a.rejected));
    let loads = tenant.sandbox.entitlement_loads();
    assert_eq!(loads.len(), 1);
    assert!(!loads[0].rejected);
    assert_eq!(loads[0].status.as_str(), "COMPLETED");
    // The tenant saw the accounts import before the entitlement load.
    let requests = tenant.sandbox.requests();
    let imports: Vec<Operation> = requests
        .iter()
        .map(|r| r.operation)
        .filter(|op| {
            matches!(
                op,
                Operation::ImportAccounts | Operation::ImportEntitlements
            )
        })
        .collect();
    assert_eq!(imports.len(), 3);
    assert_eq!(imports[2], Operation::ImportEntitlements);

    // The reports of the stopped batch: the running one is an error, with its id.
    let text = std::fs::read_to_string(&junit).unwrap();
    assert!(
        text.contains("<property name=\"signal\" value=\"SIGTERM\"/>"),
        "{text}"
    );
    assert!(
        text.contains("<property name=\"exitCode\" value=\"143\"/>"),
        "{text}"
    );
    assert!(
        text.contains("tests=\"3\" failures=\"0\" errors=\"1\" skipped=\"0\""),
        "{text}"
    );
    let id = results[0]["aggregationId"].as_str().unwrap();
    assert!(
        text.contains(&format!(
            "<error message=\"still running when the batch was stopped: aggregation {id} "
        )),
        "{text}"
    );
    let md = std::fs::read_to_string(&markdown).unwrap();
    assert!(
        md.contains("**Total: 2 of 3 completed; 1 started; stopped by SIGTERM; exit 143 in "),
        "{md}"
    );
}

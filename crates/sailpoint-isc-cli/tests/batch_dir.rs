//! End-to-end tests of `isc-aggregate batch --dir` (a folder of CSV files named by source id,
//! the File Upload Utility's way), `--check`, and the report files `--junit` (parsed) and
//! `--summary-markdown`, against a simulated tenant in the test process.

mod support;
#[path = "support/xml.rs"]
mod xml;

use std::path::{Path, PathBuf};

use sailpoint_isc_sandbox::{Fault, Operation, Outcome, SchemaKind, SourceSchema};
use serde_json::Value;

use support::*;

const A: &str = "0123456789abcdef0123456789abcdef";
const B: &str = "fedcba9876543210fedcba9876543210";
const C: &str = "c0ffee00c0ffee00c0ffee00c0ffee00";

/// An entitlements file: three groups.
const GROUPS: &str = "id,name,description\ng1,Admins,Admin group\ng2,Users,\ng3,Guests,\n";
/// The example accounts file's header.
const ACCOUNT_COLUMNS: &[&str] = &[
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
const TERMINATED_MESSAGE: &str =
    "The aggregation was terminated: the Virtual Appliance stopped responding.";

fn arg(path: &Path) -> String {
    file_arg(path)
}

/// The binary for `tenant`, polling every 100 ms (the suite's 20 ms spends the rate budget).
fn batch_cmd(tenant: &Tenant) -> assert_cmd::Command {
    let mut cmd = tenant.cmd();
    cmd.args(["--poll-interval", "100ms"]);
    cmd
}

/// Writes `files` (relative path, contents; `None`: a copy of the example accounts CSV) under a
/// new folder.
fn folder(files: &[(&str, Option<&str>)]) -> PathBuf {
    let dir = empty_dir().join("exports");
    for (rel, contents) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        match contents {
            Some(text) => std::fs::write(&path, text).unwrap(),
            None => {
                std::fs::copy(example_csv(), &path).unwrap();
            }
        }
    }
    dir
}

fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

fn position(lines: &[Value], kind: &str, item: usize) -> usize {
    lines
        .iter()
        .position(|l| l["type"] == kind && l["item"] == item)
        .unwrap_or_else(|| panic!("no {kind} for item {item}"))
}

#[test]
fn a_folder_is_aggregated_by_file_name_in_order_with_unmatched_files_listed() {
    let tenant = Tenant::start();
    let a_entitlements = format!("{A}-entitlements.csv");
    let a_accounts = format!("{A}.csv");
    let b_accounts = format!("{B}_HR export.CSV");
    let sub = format!("sub/{C}_groups.csv");
    let dir = folder(&[
        // Path order puts A's entitlements first; A's accounts must still go first.
        (&a_entitlements, Some(GROUPS)),
        (&a_accounts, None),
        (&b_accounts, None),
        ("notes.txt", Some("not a CSV")),
        ("no-id.csv", Some("id\n1\n")),
        (&format!(".{A}-hidden.csv"), Some("id\n1\n")),
        (&format!(".hidden/{C}.csv"), Some("id\n1\n")),
        (&sub, Some(GROUPS)),
    ]);

    let out = run(batch_cmd(&tenant).args(["--json", "batch", "--dir", &arg(&dir)])).expect_code(0);
    let lines = out.ndjson();
    // The unmatched entries come first, in path order; the hidden ones are not mentioned.
    let unmatched: Vec<(String, String)> = of_type(&lines, "unmatched")
        .iter()
        .map(|u| {
            (
                u["path"].as_str().unwrap().to_owned(),
                u["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let shown = |rel: &str| arg(&dir.join(rel));
    assert_eq!(
        unmatched,
        [
            (
                shown("no-id.csv"),
                "the file name does not begin with a source id (32 hex digits)"
            ),
            (shown("notes.txt"), "not a .csv file"),
            (
                shown("sub"),
                "a folder (add --recursive to include its files)"
            ),
        ]
        .map(|(p, r)| (p, r.to_owned()))
    );
    assert!(lines[..3].iter().all(|l| l["type"] == "unmatched"));
    let results = of_type(&lines, "result");
    let column = |key: &str| -> Vec<Value> { results.iter().map(|r| r[key].clone()).collect() };
    assert_eq!(
        column("sourceId"),
        [A, A, B].map(Value::from),
        "{}",
        out.stdout
    );
    assert_eq!(
        column("kind"),
        ["accounts", "entitlements", "accounts"].map(Value::from)
    );
    assert_eq!(
        column("file"),
        [
            shown(&a_accounts),
            shown(&a_entitlements),
            shown(&b_accounts)
        ]
        .map(Value::from)
    );
    assert_eq!(column("line"), [Value::Null, Value::Null, Value::Null]);
    assert_eq!(column("outcome"), ["completed"; 3].map(Value::from));
    assert_eq!(column("check"), [false; 3].map(Value::from));
    // A's entitlements started only after its accounts finished.
    assert!(position(&lines, "finished", 0) < position(&lines, "started", 1));
    assert_eq!(tenant.sandbox.aggregations_started(A), 1);
    assert_eq!(tenant.sandbox.entitlement_loads_started(A), 1);
    assert_eq!(tenant.sandbox.aggregations_started(B), 1);
    assert_eq!(tenant.sandbox.entitlement_loads_started(C), 0);
    assert!(tenant.sandbox.aggregations().iter().all(|a| !a.rejected));
    assert!(
        tenant
            .sandbox
            .entitlement_loads()
            .iter()
            .all(|l| !l.rejected)
    );
    let uploads = tenant.sandbox.entitlement_uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(
        uploads[0].file.as_ref().unwrap().sha256,
        sha256_hex(GROUPS.as_bytes())
    );

    // --recursive: the sub-folder's file too (still not the hidden folder's); plain output.
    let out =
        run(batch_cmd(&tenant).args(["batch", "--dir", &arg(&dir), "--recursive"])).expect_code(0);
    assert!(
        out.stderr
            .contains("note: 2 entries of the folder not aggregated:"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(".hidden"), "{}", out.stderr);
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(rows.len(), 6, "header, 4 rows, summary: {}", out.stdout);
    assert!(rows[0].starts_with("FILE "), "{}", rows[0]);
    for (row, (file, kind)) in rows[1..5].iter().zip([
        (&a_accounts, "accounts"),
        (&a_entitlements, "entitlements"),
        (&b_accounts, "accounts"),
        (&sub, "entitlements"),
    ]) {
        assert!(row.starts_with(&shown(file)), "{row}");
        assert!(row.contains(&format!(" {kind} ")), "{row}");
        assert!(row.contains("COMPLETED"), "{row}");
    }
    assert!(
        rows[5].starts_with("batch: 4 of 4 completed"),
        "{}",
        rows[5]
    );
    assert_eq!(tenant.sandbox.entitlement_loads_started(C), 1);
    assert!(
        tenant
            .sandbox
            .entitlement_loads()
            .iter()
            .all(|l| !l.rejected)
    );
}

#[test]
fn an_entitlements_pattern_replaces_the_default_rule() {
    let tenant = Tenant::start();
    let dir = folder(&[
        (&format!("{A}_ent.csv"), Some(GROUPS)),
        (&format!("{B}-groups.csv"), None),
    ]);
    let out = run(batch_cmd(&tenant).args([
        "--json",
        "batch",
        "--dir",
        &arg(&dir),
        "--entitlements-pattern",
        "*_ENT.csv",
        "--disable-optimization",
    ]))
    .expect_code(0);
    let lines = out.ndjson();
    let kinds: Vec<(&str, &str)> = of_type(&lines, "result")
        .iter()
        .map(|r| (r["sourceId"].as_str().unwrap(), r["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [(A, "entitlements"), (B, "accounts")]);
    assert_eq!(tenant.sandbox.entitlement_loads_started(A), 1);
    assert_eq!(tenant.sandbox.aggregations_started(B), 1);
    // --disable-optimization: the accounts item only.
    let uploads = tenant.sandbox.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].disable_optimization.as_deref(), Some("true"));
    let results = of_type(&lines, "result");
    assert_eq!(results[0]["disableOptimization"], false);
    assert_eq!(results[1]["disableOptimization"], true);
}

#[test]
fn folder_problems_are_exit_2_before_any_request() {
    let tenant = Tenant::start();
    // Nothing that matches.
    let dir = folder(&[("readme.md", Some("x")), (&format!("sub/{A}.csv"), None)]);
    let out = run(batch_cmd(&tenant).args(["batch", "--dir", &arg(&dir)])).expect_code(2);
    assert!(
        out.stderr.contains("no file to aggregate") && out.stderr.contains("add --recursive"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("nothing was sent"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let out = run(batch_cmd(&tenant).args(["--json", "batch", "--dir", &arg(&dir)])).expect_code(2);
    let lines = out.ndjson();
    assert_eq!(of_type(&lines, "unmatched").len(), 2, "{}", out.stdout);
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["outcome"], "invalid_input");
    assert_eq!(summary["exitCode"], 2);
    assert_eq!(summary["dir"], arg(&dir));

    // A matching file that is empty: refused with its path, like a manifest's file.
    let dir = folder(&[(&format!("{A}.csv"), Some("")), (&format!("{B}.csv"), None)]);
    let out = run(batch_cmd(&tenant).args(["batch", "--dir", &arg(&dir)])).expect_code(2);
    let listed = out
        .stderr
        .lines()
        .find(|l| l.starts_with(&format!("  {}: ", arg(&dir.join(format!("{A}.csv"))))))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(listed.contains("is empty"), "{listed}");
    // Missing folder, a file for a folder.
    let out =
        run(batch_cmd(&tenant).args(["batch", "--dir", &arg(&dir.join("absent"))])).expect_code(2);
    assert!(
        out.stderr.contains("cannot read the folder"),
        "{}",
        out.stderr
    );

    // Usage: a manifest and --dir, neither, options that need --dir, a pattern with a folder.
    let manifest = write_temp("m.toml", b"[[aggregation]]\nsource_id = \"a\"\n");
    for args in [
        vec![
            "batch".to_owned(),
            arg(&manifest),
            "--dir".to_owned(),
            arg(&dir),
        ],
        vec!["batch".to_owned()],
        vec!["batch".to_owned(), arg(&manifest), "--recursive".to_owned()],
        vec![
            "batch".to_owned(),
            "--dir".to_owned(),
            arg(&dir),
            "--entitlements-pattern".to_owned(),
            "sub/*.csv".to_owned(),
        ],
        // A report in a folder that does not exist.
        vec![
            "batch".to_owned(),
            arg(&manifest),
            "--junit".to_owned(),
            arg(&dir.join("missing/junit.xml")),
        ],
    ] {
        let out = run(batch_cmd(&tenant).args(&args)).expect_code(2);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
    assert_eq!(tenant.total_requests(), 0);
}

fn schema(tenant: &Tenant, source: &str, kind: SchemaKind, columns: &[&str]) {
    tenant.sandbox.set_schema(
        source,
        kind,
        SourceSchema::new(columns.iter().copied()).identity_attribute(columns[0]),
    );
}

/// `--check` checks every file against its source's schema before sending it: a file that does
/// not fit fails its item (nothing of it is sent), the others go ahead.
#[test]
fn check_fails_a_file_that_does_not_fit_and_sends_nothing_of_it() {
    let tenant = Tenant::start();
    schema(&tenant, A, SchemaKind::Account, ACCOUNT_COLUMNS);
    schema(
        &tenant,
        A,
        SchemaKind::Group,
        &["id", "name", "description"],
    );
    schema(&tenant, B, SchemaKind::Account, &["id", "name", "email"]);
    let dir = folder(&[
        (&format!("{A}.csv"), None),
        (&format!("{A}-groups.csv"), Some(GROUPS)),
        (&format!("{B}.csv"), None),
    ]);
    let out = run(batch_cmd(&tenant).args(["--json", "batch", "--dir", &arg(&dir), "--check"]))
        .expect_code(3);
    let lines = out.ndjson();
    let results = of_type(&lines, "result");
    let outcomes: Vec<&str> = results
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["completed", "completed", "file_check_failed"]);
    assert!(results.iter().all(|r| r["check"] == true));
    let failed = results[2];
    assert_eq!(failed["exitCode"], 3);
    let findings = failed["findings"].as_array().unwrap();
    assert!(!findings.is_empty(), "{failed}");
    assert!(
        findings
            .iter()
            .any(|f| f.as_str().unwrap().starts_with("line 1: problem: ")),
        "{failed}"
    );
    assert!(
        failed["error"]["hint"]
            .as_str()
            .unwrap()
            .contains(&format!("isc-aggregate check {B} --file")),
        "{failed}"
    );
    assert_eq!(tenant.sandbox.aggregations_started(A), 1);
    assert_eq!(tenant.sandbox.entitlement_loads_started(A), 1);
    assert_eq!(tenant.sandbox.aggregations_started(B), 0);
    assert!(tenant.sandbox.request_count(Operation::GetAccountsSchema) >= 2);
    assert!(
        tenant
            .sandbox
            .request_count(Operation::GetEntitlementsSchema)
            >= 1
    );
}

/// A mixed batch with `--junit` and `--summary-markdown`: a completed accounts and entitlements
/// item, an aggregation that ends TERMINATED and a file that fails its check (failures), a 403
/// (error). The JUnit report is parsed; the Markdown is appended to what the file held.
#[test]
fn junit_and_markdown_reports_of_a_mixed_batch() {
    let tenant = Tenant::start();
    tenant.sandbox.set_outcome("doomed", Outcome::Terminated);
    tenant
        .sandbox
        .inject(Operation::ImportAccounts, Fault::status(403), 1);
    schema(&tenant, "checked", SchemaKind::Account, &["id", "name"]);
    let dir = empty_dir();
    std::fs::copy(example_csv(), dir.join("a.csv")).unwrap();
    std::fs::write(dir.join("groups.csv"), GROUPS).unwrap();
    let manifest = dir.join("nightly.toml");
    std::fs::write(
        &manifest,
        r#"[[aggregation]]
source_id = "forbidden"
[[aggregation]]
source_name = "HR | Feed"
file = "a.csv"
[[aggregation]]
source_name = "HR | Feed"
kind = "entitlements"
file = "groups.csv"
[[aggregation]]
source_id = "doomed"
file = "a.csv"
[[aggregation]]
source_id = "checked"
file = "a.csv"
check = true
"#,
    )
    .unwrap();
    let hr = tenant.sandbox.add_source("HR | Feed");
    let reports = dir.join("reports");
    std::fs::create_dir(&reports).unwrap();
    let junit = reports.join("junit.xml");
    let markdown = reports.join("summary.md");
    std::fs::write(&markdown, "previous step\n").unwrap();
    std::fs::write(&junit, "stale").unwrap();

    let out = run(batch_cmd(&tenant).args([
        "batch",
        &arg(&manifest),
        "--max-concurrency",
        "1",
        "--junit",
        &arg(&junit),
        "--summary-markdown",
        &arg(&markdown),
    ]))
    .expect_code(3);
    // The check failure's findings on stderr, under its error line.
    assert!(
        out.stderr.contains("error: line 13 (checked): ")
            && out.stderr.contains("  line 1: problem: "),
        "{}",
        out.stderr
    );
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert!(rows[0].starts_with("LINE"), "{}", out.stdout);
    assert!(
        rows[3].contains(" entitlements ") && rows[3].contains("total 3"),
        "{}",
        rows[3]
    );
    assert!(
        rows[5].contains("file_check_failed (exit 3)"),
        "{}",
        rows[5]
    );

    // JUnit: well-formed, the exact structure.
    let text = std::fs::read_to_string(&junit).unwrap();
    let root = xml::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(root.name, "testsuites");
    let suites: Vec<_> = root.children_named("testsuite").collect();
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    assert_eq!(suite.at("name"), "isc-aggregate batch");
    for (key, value) in [
        ("tests", "5"),
        ("failures", "2"),
        ("errors", "1"),
        ("skipped", "0"),
    ] {
        assert_eq!(suite.at(key), value, "{key}");
        assert_eq!(root.at(key), value, "{key}");
    }
    assert!(suite.at("time").parse::<f64>().unwrap() > 0.0);
    let properties: Vec<(&str, &str)> = suite
        .child("properties")
        .unwrap()
        .children_named("property")
        .map(|p| (p.at("name"), p.at("value")))
        .collect();
    let input = format!("manifest {}", manifest.display());
    assert_eq!(properties, [("input", input.as_str()), ("exitCode", "3")]);
    let cases: Vec<_> = suite.children_named("testcase").collect();
    assert_eq!(cases.len(), 5);
    let names: Vec<(&str, &str)> = cases
        .iter()
        .map(|c| (c.at("classname"), c.at("name")))
        .collect();
    assert_eq!(
        names,
        [
            ("forbidden", "accounts direct"),
            ("HR | Feed", "accounts a.csv"),
            ("HR | Feed", "entitlements groups.csv"),
            ("doomed", "accounts a.csv"),
            ("checked", "accounts a.csv"),
        ]
    );
    for case in &cases {
        case.at("time").parse::<f64>().unwrap();
    }
    // 403: an error, never started.
    let error = cases[0].child("error").expect("an <error>");
    assert_eq!(error.at("type"), "forbidden");
    assert!(
        error.text.contains("outcome: forbidden (exit 3)"),
        "{}",
        error.text
    );
    assert!(cases[0].child("system-out").is_none());
    // Completed: no failure, what started in <system-out>.
    for (case, kind) in [(cases[1], "accounts"), (cases[2], "entitlements")] {
        assert_eq!(case.children.len(), 1, "{case:?}");
        let out = &case.child("system-out").unwrap().text;
        assert!(
            out.starts_with(&format!("{kind} aggregation ")) && out.contains(&hr),
            "{out}"
        );
    }
    // TERMINATED: a failure with ISC's message and the aggregation id.
    let failure = cases[3].child("failure").expect("a <failure>");
    assert_eq!(failure.at("type"), "aggregation_failed");
    assert!(
        failure.at("message").ends_with("ended TERMINATED"),
        "{failure:?}"
    );
    let id = failure
        .text
        .lines()
        .find_map(|l| l.strip_prefix("aggregation: "))
        .expect("the aggregation id");
    assert!(
        cases[3].child("system-out").unwrap().text.contains(id),
        "{cases:?}"
    );
    assert!(
        failure
            .text
            .contains(&format!("ISC says:\n  {TERMINATED_MESSAGE}")),
        "{}",
        failure.text
    );
    assert!(
        failure.text.contains("state: TERMINATED"),
        "{}",
        failure.text
    );
    // The file check: a failure with its findings; nothing was sent.
    let failure = cases[4].child("failure").expect("a <failure>");
    assert_eq!(failure.at("type"), "file_check_failed");
    assert!(
        failure.text.contains("file check:\n  line 1: problem: "),
        "{}",
        failure.text
    );
    assert!(cases[4].child("system-out").is_none());
    assert_eq!(tenant.sandbox.aggregations_started("checked"), 0);
    // No temporary file left next to the report.
    let left: Vec<_> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");

    // Markdown: appended, a row per item, pipes escaped, the totals.
    let md = std::fs::read_to_string(&markdown).unwrap();
    let added = md.strip_prefix("previous step\n").expect("appended");
    let lines: Vec<&str> = added.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "### isc-aggregate batch: 2 of 5 completed (manifest {})",
            manifest.display().to_string().replace('_', "\\_")
        )
    );
    assert_eq!(
        lines[2],
        "| # | Source | Kind | File | Outcome | Aggregation | Counts | Messages |"
    );
    let rows: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("| "))
        .collect();
    assert_eq!(rows.len(), 6, "{added}");
    assert!(
        rows[1].starts_with("| 1 | forbidden | accounts | direct | forbidden (exit 3) |"),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].starts_with("| 2 | HR \\| Feed | accounts | a.csv | completed | "),
        "{}",
        rows[2]
    );
    assert!(rows[2].contains(" | 300 of 300 |"), "{}", rows[2]);
    assert!(
        rows[3].contains("| entitlements | groups.csv | completed |"),
        "{}",
        rows[3]
    );
    assert!(rows[3].contains("total 3"), "{}", rows[3]);
    assert!(
        rows[4].contains("aggregation\\_failed (exit 1)"),
        "{}",
        rows[4]
    );
    assert!(
        rows[4].ends_with(&format!("{TERMINATED_MESSAGE} |")),
        "{}",
        rows[4]
    );
    assert!(
        rows[5].contains("file\\_check\\_failed (exit 3)"),
        "{}",
        rows[5]
    );
    assert!(rows[5].contains("<br>line 1: problem: "), "{}", rows[5]);
    let totals = lines
        .iter()
        .find(|l| l.starts_with("**Total: "))
        .expect("a totals line");
    assert!(
        totals.starts_with(
            "**Total: 2 of 5 completed; 1 forbidden, 1 aggregation failed, 1 file check failed; exit 3 in "
        ),
        "{totals}"
    );
    assert!(added.ends_with("\n\n"), "{added:?}");

    // A refused manifest writes both too: a JUnit error, and the problems in the Markdown.
    std::fs::write(
        &manifest,
        "[[aggregation]]\nsource_id = \"a\"\nkind = \"groups\"\n",
    )
    .unwrap();
    let out = run(batch_cmd(&tenant).args([
        "batch",
        &arg(&manifest),
        "--junit",
        &arg(&junit),
        "--summary-markdown",
        &arg(&markdown),
    ]))
    .expect_code(2);
    assert!(
        out.stderr.contains(":3: `kind` \"groups\" is not a kind"),
        "{}",
        out.stderr
    );
    let root = xml::parse(&std::fs::read_to_string(&junit).unwrap()).unwrap();
    let suite = root.child("testsuite").unwrap();
    assert_eq!(suite.at("tests"), "1");
    assert_eq!(suite.at("errors"), "1");
    let error = suite.child("testcase").unwrap().child("error").unwrap();
    assert_eq!(error.at("type"), "invalid_input");
    assert!(
        error.text.contains(":3: `kind` \"groups\" is not a kind"),
        "{}",
        error.text
    );
    let md = std::fs::read_to_string(&markdown).unwrap();
    assert!(
        md.starts_with("previous step\n### isc-aggregate batch: 2 of 5"),
        "{md}"
    );
    assert!(md.contains("was refused; nothing was sent"), "{md}");
}

//! End-to-end: entitlement loads (`import --entitlements`, `status`/`tasks --entitlements`) and
//! the pre-flight check (`check`, `import --check`) against a simulated tenant in the test
//! process.

mod support;

use sailpoint_isc::ApiVersion;
use sailpoint_isc_sandbox::{Operation, SchemaKind, SourceSchema};
use serde_json::Value;

use support::*;

const GROUPS: &str = "id,name,displayName,description\n\
    admins,Admins,Administrators,Full access\n\
    readers,Readers,Readers,Read only\n\
    writers,Writers,Writers,\"Read, write\"\n";

const ACCOUNTS: &str = "id,name,email\n1,Ada,ada@example.com\n2,Alan,alan@example.com\n";

fn account_schema() -> SourceSchema {
    SourceSchema::new(["id", "name", "email"]).identity_attribute("id")
}

#[test]
fn import_entitlements_and_wait_on_every_version() {
    for version in ApiVersion::all() {
        let tenant = Tenant::start();
        let groups = write_temp("groups.csv", GROUPS.as_bytes());
        let out = run(tenant.cmd().args([
            "--api",
            version.name(),
            "--json",
            "import",
            SOURCE,
            "--entitlements",
            "--file",
            &file_arg(&groups),
            "--wait",
        ]))
        .expect_code(0);
        let lines = out.ndjson();
        let accepted = lines
            .iter()
            .find(|l| l["type"] == "accepted")
            .expect("accepted");
        assert_eq!(accepted["kind"], "entitlements", "{version}");
        let result = out.result();
        assert_eq!(result["outcome"], "COMPLETED", "{version}: {}", out.stdout);
        let counts: Vec<(String, u64)> = result["status"]["counts"]
            .as_array()
            .expect("counts")
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["value"].as_u64().unwrap(),
                )
            })
            .collect();
        assert!(
            counts.contains(&("total".to_owned(), 3)),
            "{version}: {counts:?}"
        );
        assert!(
            counts.contains(&("groupsCreated".to_owned(), 3)),
            "{counts:?}"
        );

        // Exactly one load, of entitlements; no account aggregation, no status endpoint.
        assert_eq!(tenant.sandbox.entitlement_loads_started(SOURCE), 1);
        assert_eq!(
            tenant.sandbox.request_count(Operation::ImportEntitlements),
            1
        );
        assert_eq!(tenant.sandbox.request_count(Operation::ImportAccounts), 0);
        assert_eq!(tenant.sandbox.request_count(Operation::GetStatus), 0);
        let loads = tenant.sandbox.entitlement_loads();
        assert_eq!(loads[0].api_version, version);
        assert_eq!(result["aggregationId"], loads[0].id.as_str());

        // `status --entitlements` reads it from task status; `tasks --entitlements` lists it.
        let status = run(tenant.cmd().args([
            "--api",
            version.name(),
            "status",
            &loads[0].id,
            "--entitlements",
        ]))
        .expect_code(0);
        assert!(
            status.stdout.contains("COMPLETED") && status.stdout.contains("groupsCreated"),
            "{}",
            status.stdout
        );
        let tasks = run(tenant.cmd().args([
            "--api",
            version.name(),
            "tasks",
            "--source-id",
            SOURCE,
            "--entitlements",
        ]))
        .expect_code(0);
        assert!(tasks.stdout.contains(&loads[0].id), "{}", tasks.stdout);
    }
}

#[test]
fn disable_optimization_is_for_accounts_only() {
    let tenant = Tenant::start();
    let groups = write_temp("groups.csv", GROUPS.as_bytes());
    let out = run(tenant.cmd().args([
        "import",
        SOURCE,
        "--entitlements",
        "--disable-optimization",
        "--file",
        &file_arg(&groups),
    ]))
    .expect_code(2);
    assert!(
        out.stderr.contains("--disable-optimization"),
        "{}",
        out.stderr
    );
    assert_eq!(tenant.total_requests(), 0);
}

#[test]
fn check_reports_every_problem_with_its_line_and_exit_2() {
    let tenant = Tenant::start();
    tenant
        .sandbox
        .set_schema(SOURCE, SchemaKind::Account, account_schema());
    // Clean: exit 0, the summary on stdout.
    let good = write_temp("good.csv", ACCOUNTS.as_bytes());
    let out = run(tenant
        .cmd()
        .args(["check", SOURCE, "--file", &file_arg(&good)]))
    .expect_code(0);
    assert!(
        out.stdout.contains("2 rows checked") && out.stdout.contains("0 problem(s)"),
        "{}",
        out.stdout
    );
    // Problems: each with its line, exit 2, nothing uploaded.
    let bad = write_temp(
        "bad.csv",
        b"id,name,email\n2,Alan,alan@example.com\n1,Ada\n,Nobody,n@example.com\n",
    );
    let out = run(tenant
        .cmd()
        .args(["check", SOURCE, "--file", &file_arg(&bad)]))
    .expect_code(2);
    let path = file_arg(&bad);
    for expected in [
        format!("{path}:line 3: problem: 2 columns where the header has 3"),
        format!("{path}:line 4: problem: the account id is empty"),
    ] {
        assert!(out.stdout.contains(&expected), "{expected}\n{}", out.stdout);
    }
    assert!(
        out.stdout.contains("line 3: warning: not sorted"),
        "{}",
        out.stdout
    );
    // The same as NDJSON: a finding object each, then the result.
    let out = run(tenant
        .cmd()
        .args(["--json", "check", SOURCE, "--file", &file_arg(&bad)]))
    .expect_code(2);
    let lines = out.ndjson();
    let issues: Vec<(u64, &str, &str)> = lines
        .iter()
        .filter(|l| l["type"] == "finding")
        .map(|l| {
            (
                l["line"].as_u64().unwrap(),
                l["severity"].as_str().unwrap(),
                l["issue"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        issues.contains(&(3, "problem", "wrong_column_count")),
        "{issues:?}"
    );
    assert!(issues.contains(&(4, "problem", "empty_id")), "{issues:?}");
    let result = out.result();
    assert_eq!(result["outcome"], "problems");
    assert_eq!(result["problems"], 2);
    assert_eq!(
        result["columns"],
        serde_json::json!(["id", "name", "email"])
    );
    assert_eq!(result["identityAttribute"], "id");
    assert_eq!(tenant.sandbox.request_count(Operation::ImportAccounts), 0);
}

#[test]
fn check_by_source_name_and_of_an_entitlements_file() {
    let tenant = Tenant::start();
    let id = tenant.sandbox.add_source("Badge System");
    tenant.sandbox.set_schema(
        &id,
        SchemaKind::Group,
        SourceSchema::new(["id", "name", "displayName", "description"]).identity_attribute("id"),
    );
    let groups = write_temp("groups.csv", GROUPS.as_bytes());
    let out = run(tenant.cmd().args([
        "check",
        "--source-name",
        "Badge System",
        "--entitlements",
        "--file",
        &file_arg(&groups),
    ]))
    .expect_code(0);
    assert!(
        out.stdout
            .contains("3 rows checked against the entitlements schema"),
        "{}",
        out.stdout
    );
    // Columns out of order in an entitlements file.
    let swapped = write_temp(
        "swapped.csv",
        b"name,id,displayName,description\nAdmins,admins,Administrators,x\n",
    );
    let out = run(tenant.cmd().args([
        "check",
        &id,
        "--entitlements",
        "--file",
        &file_arg(&swapped),
    ]))
    .expect_code(2);
    assert!(
        out.stdout.contains("line 1: problem: columns out of order"),
        "{}",
        out.stdout
    );
}

#[test]
fn import_check_sends_nothing_when_the_file_does_not_fit_and_isc_would_refuse_it() {
    let tenant = Tenant::start();
    tenant
        .sandbox
        .set_schema(SOURCE, SchemaKind::Account, account_schema());
    let renamed = write_temp("renamed.csv", b"id,fullName,email\n1,Ada,ada@example.com\n");
    // With --check: exit 2 with the finding, and not one upload.
    let out = run(tenant.cmd().args([
        "import",
        SOURCE,
        "--check",
        "--file",
        &file_arg(&renamed),
        "--wait",
    ]))
    .expect_code(2);
    assert!(out.stderr.contains("fullName"), "{}", out.stderr);
    assert!(out.stderr.contains("line 1: problem"), "{}", out.stderr);
    assert_eq!(tenant.sandbox.request_count(Operation::ImportAccounts), 0);
    // The same as NDJSON: the error carries the findings.
    let out = run(tenant.cmd().args([
        "--json",
        "import",
        SOURCE,
        "--check",
        "--file",
        &file_arg(&renamed),
    ]))
    .expect_code(2);
    let result = out.result();
    assert_eq!(result["error"]["kind"], "file_check_failed");
    let findings = result["error"]["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["issue"] == "unknown_columns"),
        "{findings:?}"
    );
    assert_eq!(tenant.sandbox.request_count(Operation::ImportAccounts), 0);
    // Without it, ISC refuses the upload itself (exit 3, its message): after the upload.
    let out = run(tenant
        .cmd()
        .args(["import", SOURCE, "--file", &file_arg(&renamed)]))
    .expect_code(3);
    assert!(
        out.stderr.contains("is unknown and/or column"),
        "{}",
        out.stderr
    );
    assert_eq!(tenant.sandbox.request_count(Operation::ImportAccounts), 1);
    assert_eq!(tenant.sandbox.aggregations_started(SOURCE), 0);
    // A file that fits goes through with --check, and is waited for.
    let good = write_temp("good.csv", ACCOUNTS.as_bytes());
    let out = run(tenant.cmd().args([
        "--json",
        "import",
        SOURCE,
        "--check",
        "--file",
        &file_arg(&good),
        "--wait",
    ]))
    .expect_code(0);
    let result: Value = out.result();
    assert_eq!(result["outcome"], "COMPLETED");
    assert_eq!(tenant.sandbox.aggregations_started(SOURCE), 1);
}

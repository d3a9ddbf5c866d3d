//! Entitlement loads through the ergonomic client, end to end against the simulated tenant: the
//! same start → wait → status path as accounts (`kind(AggregationKind::Entitlements)`), followed
//! through task status with the task's counts, `if_idle`, refusals and failures; the source's file
//! schema, the pre-flight check (`check_file`, `check_first`) and ISC's own refusal of a header
//! that does not match; and a batch mixing both kinds, the same source more than once.
//!
//! No wall-clock margins: every wait is for a state, with short sandbox durations.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sailpoint_isc::batch::{BatchEvent, BatchItem, ItemOutcome};
use sailpoint_isc::preflight::{Issue, Severity};
use sailpoint_isc::{
    AggregationKind, AggregationRef, AggregationState, AggregationStatus, ApiVersion, Client,
    ClientBuilder, Error, OutcomeResolution, PollSchedule, RetryConfig, StartOrigin,
};
use sailpoint_isc_sandbox::{Operation, Outcome, Sandbox, SchemaKind, SourceSchema};

const GROUPS: &str = "id,name,description\ng1,Admins,Admin group\ng2,Users,\ng3,Guests,\n";
/// Against [`GROUPS`]: g1 changed, g2 the same, g3 gone, g4 new.
const GROUPS_NEXT: &str = "id,name,description\ng1,Admins,Changed\ng2,Users,\ng4,New,\n";
const ACCOUNTS: &str = "id,name,email\n1,Ada,ada@example.com\n2,Alan,alan@example.com\n";

const CONCURRENT: &str = "This aggregation failed because the currently running aggregation must \
                          complete before the next one can start.";

/// A tenant whose tasks run through their phases quickly.
async fn sandbox() -> Sandbox {
    Sandbox::builder()
        .collect_duration(Duration::from_millis(100))
        .process_duration(Duration::from_millis(150))
        .no_rate_limit()
        .start()
        .await
        .expect("sandbox starts")
}

/// A tenant whose tasks run until a test ends them.
async fn held() -> Sandbox {
    Sandbox::builder()
        .collect_duration(Duration::from_secs(3600))
        .no_rate_limit()
        .start()
        .await
        .expect("sandbox starts")
}

fn builder(sb: &Sandbox, api: ApiVersion) -> ClientBuilder {
    Client::builder()
        .base_url(sb.base_url())
        .client_credentials(sb.client_id(), sb.client_secret())
        .api_version(api)
        .retry(
            RetryConfig::standard()
                .with_backoff(Duration::from_millis(10), Duration::from_millis(50))
                .with_max_retry_after(Duration::from_millis(1500)),
        )
        .outcome_resolution(
            OutcomeResolution::standard()
                .with_grace_period(Duration::from_millis(800))
                .with_poll_interval(Duration::from_millis(100)),
        )
        .poll_schedule(
            PollSchedule::standard()
                .with_initial_delay(Duration::from_millis(20))
                .with_delay_bounds(Duration::from_millis(10), Duration::from_millis(100))
                .with_max_wait(Duration::from_secs(20)),
        )
}

fn client(sb: &Sandbox, api: ApiVersion) -> Client {
    builder(sb, api).build().expect("client builds")
}

fn csv(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("isc-entitlements-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// The counts a status carries, by name.
fn counts(status: &AggregationStatus) -> HashMap<&str, u64> {
    status
        .counts
        .iter()
        .map(|c| (c.name.as_str(), c.value))
        .collect()
}

fn import_requests(sb: &Sandbox) -> (usize, usize) {
    (
        sb.request_count(Operation::ImportAccounts),
        sb.request_count(Operation::ImportEntitlements),
    )
}

#[tokio::test]
async fn a_load_starts_waits_and_completes_with_counts_on_every_version() {
    let sb = sandbox().await;
    let first = csv("groups.csv", GROUPS);
    let next = csv("groups-next.csv", GROUPS_NEXT);
    for version in ApiVersion::all() {
        let client = client(&sb, version);
        let source = format!("groups-{version}");

        let started = client
            .start_aggregation(&source)
            .kind(AggregationKind::Entitlements)
            .file(&first)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(started.kind, AggregationKind::Entitlements);
        assert_eq!(started.origin, StartOrigin::Started);
        assert_eq!(started.api_version, version);
        assert_eq!(started.source_id, source);
        assert_eq!(sb.entitlement_loads_started(&source), 1, "{version}");
        assert_eq!(sb.aggregations_started(&source), 0, "{version}");
        let upload = sb.entitlement_uploads().last().cloned().unwrap();
        assert_eq!(upload.aggregation_id, started.task_id);
        assert_eq!(upload.file.as_ref().unwrap().rows, 3);

        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let done = client
            .wait_for_aggregation(&started)
            .on_progress(move |p| sink.lock().unwrap().push(p.status.state.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(done.state, Some(AggregationState::Completed), "{version}");
        assert_eq!(
            seen.lock().unwrap().last(),
            Some(&Some(AggregationState::Completed))
        );
        let task = done.task.as_ref().expect("followed through its task");
        assert_eq!(task.id.as_deref(), Some(started.task_id.as_str()));
        let got = counts(&done);
        assert_eq!(got["applications"], 1, "{version}: {got:?}");
        assert_eq!(got["total"], 3, "{version}: {got:?}");
        assert_eq!(got["groupsCreated"], 3, "{version}: {got:?}");
        assert_eq!(got["groupsUpdated"], 0, "{version}: {got:?}");
        assert_eq!(got["groupsDeleted"], 0, "{version}: {got:?}");
        let created = done
            .counts
            .iter()
            .find(|c| c.name == "groupsCreated")
            .unwrap();
        assert_eq!(
            created.label.as_deref(),
            Some("TASK_OUT_ACCOUNT_GROUP_AGGREGATION_CREATED")
        );

        // The next load is compared with the last completed one.
        let again = client
            .start_aggregation(&source)
            .kind(AggregationKind::Entitlements)
            .file(&next)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        let done = client
            .wait_for_aggregation(&again)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        let got = counts(&done);
        assert_eq!(
            (
                got["total"],
                got["groupsCreated"],
                got["groupsUpdated"],
                got["groupsDeleted"]
            ),
            (3, 1, 1, 1),
            "{version}: {got:?}"
        );

        // Its status, read once by id with the kind, and from the started load (which keeps it).
        let by_id = client
            .aggregation_status(
                AggregationRef::from(again.task_id.as_str())
                    .with_kind(AggregationKind::Entitlements)
                    .with_api_version(version),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(by_id.state, Some(AggregationState::Completed));
        assert_eq!(counts(&by_id), counts(&done), "{version}");
        let from_started = client.aggregation_status(&again).send().await.unwrap();
        assert_eq!(counts(&from_started), counts(&done), "{version}");
        assert_eq!(sb.entitlement_loads_started(&source), 2, "{version}");
    }
    let versions = ApiVersion::all().count();
    assert_eq!(import_requests(&sb), (0, 2 * versions));
    // Entitlement loads have no status endpoint: everything came from task status.
    assert_eq!(sb.request_count(Operation::GetStatus), 0);
    assert!(sb.request_count(Operation::GetTaskStatus) > 0);
    assert!(sb.aggregations().is_empty());
    sb.shutdown().await;
}

#[tokio::test]
async fn a_running_load_is_returned_by_if_idle_and_refuses_another_start() {
    let sb = held().await;
    let groups = csv("idle-groups.csv", GROUPS);
    let accounts = csv("idle-accounts.csv", ACCOUNTS);
    for version in ApiVersion::all() {
        let client = client(&sb, version);
        let source = format!("busy-{version}");
        let running = client
            .start_aggregation(&source)
            .kind(AggregationKind::Entitlements)
            .file(&groups)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        let before = import_requests(&sb);
        let uploads = sb.entitlement_uploads().len();

        // `if_idle` finds it (by its kind's tasks) and sends nothing.
        let idle = client
            .start_aggregation(&source)
            .kind(AggregationKind::Entitlements)
            .file(&groups)
            .if_idle()
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(idle.origin, StartOrigin::AlreadyRunning, "{version}");
        assert_eq!(idle.task_id, running.task_id);
        assert_eq!(idle.kind, AggregationKind::Entitlements);
        assert_eq!(import_requests(&sb), before, "{version}: nothing sent");
        assert_eq!(sb.entitlement_uploads().len(), uploads);

        // Without it, ISC refuses the second load inside its 202.
        let err = client
            .start_aggregation(&source)
            .kind(AggregationKind::Entitlements)
            .file(&groups)
            .send()
            .await
            .unwrap_err();
        match &err {
            Error::StartRefused {
                source_id,
                task_id,
                messages,
                started,
                ..
            } => {
                assert_eq!(source_id, &source);
                assert_ne!(task_id, &running.task_id);
                assert_eq!(messages, &[CONCURRENT], "{version}");
                assert_eq!(started.kind, AggregationKind::Entitlements);
            }
            other => panic!("{version}: {other:?}"),
        }
        // So does an account aggregation: a load and an aggregation exclude each other, and
        // `if_idle` on accounts looks at account aggregations only.
        let err = client
            .start_aggregation(&source)
            .file(&accounts)
            .if_idle()
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::StartRefused { messages, .. } if messages == &[CONCURRENT]),
            "{version}: {err:?}"
        );
        assert_eq!(sb.entitlement_loads_started(&source), 1, "{version}");
        assert_eq!(sb.aggregations_started(&source), 0, "{version}");
        assert_eq!(
            import_requests(&sb),
            (before.0 + 1, before.1 + 1),
            "{version}: each refused start sent once"
        );

        // Its status while it runs, read with the kind.
        let status = client
            .aggregation_status(
                AggregationRef::from(running.task_id.clone())
                    .with_kind(AggregationKind::Entitlements),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(status.state, Some(AggregationState::Started), "{version}");
        assert!(!status.is_terminal());
        assert!(sb.force_outcome(&running.task_id, Outcome::Completed));
        let done = client.wait_for_aggregation(&running).send().await.unwrap();
        assert_eq!(done.state, Some(AggregationState::Completed), "{version}");
        assert_eq!(counts(&done)["total"], 3, "{version}");
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn a_failed_load_is_a_typed_failure_with_the_tasks_messages() {
    let sb = sandbox().await;
    let groups = csv("failed-groups.csv", GROUPS);
    for version in ApiVersion::all() {
        let client = client(&sb, version);
        for (outcome, completion) in [
            (Outcome::Terminated, "ERROR"),
            (Outcome::Cancelled, "TERMINATED"),
        ] {
            let source = format!("doomed-{version}-{completion}");
            sb.set_entitlement_load_outcome(&source, outcome);
            let started = client
                .start_aggregation(&source)
                .kind(AggregationKind::Entitlements)
                .file(&groups)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{version}: {e}"));
            let err = client
                .wait_for_aggregation(&started)
                .send()
                .await
                .unwrap_err();
            match &err {
                Error::AggregationFailed { task_id, status } => {
                    assert_eq!(task_id, &started.task_id);
                    assert_eq!(status.state, Some(AggregationState::Terminated));
                    let task = status.task.as_ref().expect("from its task");
                    assert_eq!(
                        task.completion_status.as_ref().map(|s| s.as_str()),
                        Some(completion),
                        "{version}"
                    );
                    if completion == "ERROR" {
                        assert_eq!(
                            status.task_messages(),
                            [
                                "The aggregation was terminated: the Virtual Appliance stopped responding."
                            ],
                            "{version}"
                        );
                    }
                    assert!(!counts(status).contains_key("total"), "{version}");
                }
                other => panic!("{version} {completion}: {other:?}"),
            }
        }
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn file_schema_returns_the_columns_and_identity_attribute_on_every_version() {
    let sb = sandbox().await;
    let source = sb.add_source("Directory");
    sb.set_schema(
        &source,
        SchemaKind::Group,
        SourceSchema::new(["name", "id", "description"]).identity_attribute("id"),
    );
    sb.set_schema(
        &source,
        SchemaKind::Account,
        SourceSchema::new(["login", "name", "email", "groups"])
            .identity_attribute("login")
            .entitlement_attributes(["groups"]),
    );
    for version in ApiVersion::all() {
        let client = client(&sb, version);
        let groups = client
            .file_schema(&source, AggregationKind::Entitlements)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(groups.columns, ["name", "id", "description"], "{version}");
        assert_eq!(
            groups.identity_attribute.as_deref(),
            Some("id"),
            "{version}"
        );
        assert_eq!(groups.delimiter, b',');
        let accounts = client
            .file_schema(&source, AggregationKind::Accounts)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(
            accounts.columns,
            ["login", "name", "email", "groups"],
            "{version}"
        );
        assert_eq!(
            accounts.identity_attribute.as_deref(),
            Some("login"),
            "{version}"
        );
    }
    assert_eq!(import_requests(&sb), (0, 0));
    sb.shutdown().await;
}

#[tokio::test]
async fn check_file_reports_every_finding_with_its_line() {
    let sb = sandbox().await;
    let source = sb.add_source("Groups");
    sb.set_schema(
        &source,
        SchemaKind::Group,
        SourceSchema::new(["id", "name", "description"]).identity_attribute("id"),
    );
    let client = client(&sb, ApiVersion::default());
    let check = |name: &str, content: &str| {
        client
            .check_file(&source, csv(name, content), AggregationKind::Entitlements)
            .send()
    };

    let good = check("good.csv", GROUPS).await.unwrap();
    assert!(good.is_clean(), "{good:?}");
    assert!(good.findings.is_empty(), "{good:?}");
    assert_eq!((good.lines, good.rows), (4, 3));

    let bad_header = check("bad-header.csv", "id,title,description\ng1,A,x\n")
        .await
        .unwrap();
    assert!(!bad_header.is_clean());
    let issues: Vec<(u64, Severity, &Issue)> = bad_header
        .findings
        .iter()
        .map(|f| (f.line, f.severity, &f.issue))
        .collect();
    assert!(
        issues.contains(&(
            1,
            Severity::Problem,
            &Issue::UnknownColumns(vec!["title".into()])
        )),
        "{issues:?}"
    );
    assert!(
        issues.contains(&(
            1,
            Severity::Problem,
            &Issue::MissingColumns(vec!["name".into()])
        )),
        "{issues:?}"
    );

    let wrong_count = check(
        "wrong-count.csv",
        "id,name,description\ng1,A,x\ng2,B\ng3,C,y,extra\n",
    )
    .await
    .unwrap();
    assert!(!wrong_count.is_clean());
    let found: Vec<(u64, &Issue)> = wrong_count
        .findings
        .iter()
        .map(|f| (f.line, &f.issue))
        .collect();
    assert_eq!(
        found,
        [
            (
                3,
                &Issue::WrongColumnCount {
                    expected: 3,
                    found: 2
                }
            ),
            (
                4,
                &Issue::WrongColumnCount {
                    expected: 3,
                    found: 4
                }
            ),
        ]
    );

    // The tenant's source sorts rows itself (its connector does not say the file is sorted):
    // unsorted rows are a warning, with the line where the order breaks.
    let unsorted = check("unsorted.csv", "id,name,description\ng2,B,\ng1,A,\ng3,C,\n")
        .await
        .unwrap();
    assert!(unsorted.is_clean(), "a warning only: {unsorted:?}");
    assert_eq!(unsorted.warnings(), 1);
    assert_eq!(unsorted.findings[0].line, 3);
    assert_eq!(unsorted.findings[0].severity, Severity::Warning);
    assert_eq!(
        unsorted.findings[0].issue,
        Issue::NotSorted {
            previous: "g2".into(),
            id: "g1".into()
        }
    );
    // Nothing was ever sent.
    assert_eq!(import_requests(&sb), (0, 0));
    sb.shutdown().await;
}

#[tokio::test]
async fn check_first_stops_a_bad_file_before_anything_is_sent() {
    let sb = sandbox().await;
    let source = sb.add_source("Checked");
    sb.set_schema(
        &source,
        SchemaKind::Group,
        SourceSchema::new(["id", "name", "description"]).identity_attribute("id"),
    );
    sb.set_schema(
        &source,
        SchemaKind::Account,
        SourceSchema::new(["id", "name", "email"]),
    );
    let bad = csv("bad-for-both.csv", "id,title\n1,A\n2,B,extra\n");
    for version in ApiVersion::all() {
        let client = client(&sb, version);
        for kind in AggregationKind::ALL {
            let err = client
                .start_aggregation(&source)
                .kind(kind)
                .file(&bad)
                .check_first()
                .send()
                .await
                .unwrap_err();
            match &err {
                Error::FileCheckFailed {
                    source_id,
                    path,
                    kind: checked_as,
                    report,
                } => {
                    assert_eq!(source_id, &source);
                    assert_eq!(path, &bad);
                    assert_eq!(*checked_as, kind);
                    assert!(!report.is_clean());
                    assert!(report.findings.iter().any(|f| f.line == 1), "{report:?}");
                    assert!(
                        report
                            .findings
                            .iter()
                            .any(|f| f.line == 3
                                && matches!(f.issue, Issue::WrongColumnCount { .. })),
                        "{report:?}"
                    );
                }
                other => panic!("{version} {kind}: {other:?}"),
            }
        }
        // A good file passes its check and starts.
        let started = client
            .start_aggregation(&source)
            .kind(AggregationKind::Entitlements)
            .file(csv("good-checked.csv", GROUPS))
            .check_first()
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        client.wait_for_aggregation(&started).send().await.unwrap();
    }
    assert_eq!(sb.request_count(Operation::ImportAccounts), 0);
    assert_eq!(
        sb.request_count(Operation::ImportEntitlements),
        ApiVersion::all().count(),
        "only the good files were sent"
    );
    assert_eq!(sb.aggregations_started(&source), 0);
    sb.shutdown().await;
}

/// A source learns each kind's schema from its first upload; a later upload of that kind with
/// another header is refused by ISC with a 400 carrying its message (nothing starts), and
/// `check_first` catches the same file before anything is sent.
#[tokio::test]
async fn a_learned_schema_refuses_a_mismatching_upload_and_check_first_catches_it() {
    let sb = sandbox().await;
    let cases = [
        (
            AggregationKind::Accounts,
            ACCOUNTS,
            "id,mail,name\n1,ada@example.com,Ada\n",
            "Column: [mail] is unknown and/or column: [email] is missing",
        ),
        (
            AggregationKind::Entitlements,
            GROUPS,
            "id,name\ng1,Admins\n",
            "Column: [] is unknown and/or column: [description] is missing",
        ),
    ];
    for version in ApiVersion::all() {
        let client = client(&sb, version);
        for (kind, first, mismatching, message) in cases {
            let source = format!("learned-{version}-{kind}");
            let first = csv(&format!("first-{kind}.csv"), first);
            let mismatching = csv(&format!("mismatching-{kind}.csv"), mismatching);
            let started = client
                .start_aggregation(&source)
                .kind(kind)
                .file(&first)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{version} {kind}: {e}"));
            client.wait_for_aggregation(&started).send().await.unwrap();
            let (accounts, entitlements) = import_requests(&sb);
            let loads = (
                sb.aggregations_started(&source),
                sb.entitlement_loads_started(&source),
            );

            // Checked first: caught before sending.
            let err = client
                .start_aggregation(&source)
                .kind(kind)
                .file(&mismatching)
                .check_first()
                .send()
                .await
                .unwrap_err();
            assert!(
                matches!(&err, Error::FileCheckFailed { report, .. }
                    if report.findings.iter().any(|f| f.line == 1 && f.severity == Severity::Problem)),
                "{version} {kind}: {err:?}"
            );
            assert_eq!(
                import_requests(&sb),
                (accounts, entitlements),
                "{version} {kind}"
            );

            // Sent unchecked: ISC refuses it with its 400 and nothing starts.
            let err = client
                .start_aggregation(&source)
                .kind(kind)
                .file(&mismatching)
                .send()
                .await
                .unwrap_err();
            match &err {
                Error::BadRequest { context } => {
                    assert_eq!(context.operation, kind.import_operation());
                    assert_eq!(context.status.map(|s| s.as_u16()), Some(400));
                    assert_eq!(context.messages(), [message], "{version} {kind}");
                }
                other => panic!("{version} {kind}: {other:?}"),
            }
            let sent = match kind {
                AggregationKind::Accounts => (accounts + 1, entitlements),
                _ => (accounts, entitlements + 1),
            };
            assert_eq!(import_requests(&sb), sent, "{version} {kind}: sent once");
            assert_eq!(
                (
                    sb.aggregations_started(&source),
                    sb.entitlement_loads_started(&source)
                ),
                loads,
                "{version} {kind}: nothing started"
            );
        }
    }
    sb.shutdown().await;
}

/// A batch mixing kinds, with one source three times and another twice: every item completes,
/// each source's items start in their order, each after the one before it ended (the tenant
/// refuses a start while another task runs on the source), and other sources run alongside.
#[tokio::test]
async fn a_batch_mixing_kinds_runs_each_sources_items_in_order() {
    let sb = sandbox().await;
    // Item 1 checks its file first: against the group schema the source has.
    sb.set_schema(
        "a",
        SchemaKind::Group,
        SourceSchema::new(["id", "name", "description"]),
    );
    let accounts = csv("batch-accounts.csv", ACCOUNTS);
    let groups = csv("batch-groups.csv", GROUPS);
    let groups_next = csv("batch-groups-next.csv", GROUPS_NEXT);
    let items = [
        BatchItem::source_id("a").file(&accounts),
        BatchItem::source_id("a")
            .kind(AggregationKind::Entitlements)
            .file(&groups)
            .check_first(true),
        BatchItem::source_id("b")
            .kind(AggregationKind::Entitlements)
            .file(&groups),
        BatchItem::source_id("a")
            .kind(AggregationKind::Entitlements)
            .file(&groups_next),
        BatchItem::source_id("b").file(&accounts),
    ];
    let expected: Vec<(AggregationKind, String)> = items
        .iter()
        .map(|i| (i.kind, i.source.to_string()))
        .collect();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let report = client(&sb, ApiVersion::default())
        .aggregate_batch(items)
        .max_concurrency(4)
        .poll_interval(Duration::from_millis(50))
        .max_wait(Duration::from_secs(30))
        .on_event(move |e| sink.lock().unwrap().push(e.clone()))
        .run()
        .await;
    assert!(report.all_completed(), "{report:?}");

    // Each item's start has its kind; entitlement items end with their task's counts.
    for (item, (kind, source)) in report.items.iter().zip(&expected) {
        let started = item.started.as_ref().expect("started");
        assert_eq!((started.kind, &started.source_id), (*kind, source));
        assert_eq!(started.origin, StartOrigin::Started);
        if let (ItemOutcome::Completed(status), AggregationKind::Entitlements) =
            (&item.outcome, kind)
        {
            assert_eq!(counts(status)["total"], 3, "{item:?}");
        }
    }
    match &report.items[3].outcome {
        ItemOutcome::Completed(status) => {
            let got = counts(status);
            assert_eq!(
                (
                    got["groupsCreated"],
                    got["groupsUpdated"],
                    got["groupsDeleted"]
                ),
                (1, 1, 1),
                "compared with item 1's load: {got:?}"
            );
        }
        other => panic!("{other:?}"),
    }

    // Exactly once each, nothing refused.
    assert_eq!(sb.aggregations_started("a"), 1);
    assert_eq!(sb.entitlement_loads_started("a"), 2);
    assert_eq!(sb.aggregations_started("b"), 1);
    assert_eq!(sb.entitlement_loads_started("b"), 1);
    assert_eq!(import_requests(&sb), (2, 3));
    assert!(sb.uploads().iter().all(|u| u.accepted));
    assert!(sb.entitlement_uploads().iter().all(|u| u.accepted));

    // The order the tenant received the starts in: its import requests by arrival, each
    // matched with the upload it recorded (per kind, in order).
    let mut per_kind = [
        sb.uploads().into_iter(),
        sb.entitlement_uploads().into_iter(),
    ];
    let mut requests: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| {
            matches!(
                r.operation,
                Operation::ImportAccounts | Operation::ImportEntitlements
            )
        })
        .collect();
    requests.sort_by_key(|r| r.received);
    let arrived: Vec<(AggregationKind, String, String)> = requests
        .iter()
        .map(|r| {
            let (kind, uploads) = match r.operation {
                Operation::ImportAccounts => (AggregationKind::Accounts, &mut per_kind[0]),
                _ => (AggregationKind::Entitlements, &mut per_kind[1]),
            };
            let upload = uploads.next().expect("an upload per import request");
            (kind, upload.source_id, upload.aggregation_id)
        })
        .collect();
    for source in ["a", "b"] {
        let theirs: Vec<(AggregationKind, &str)> = arrived
            .iter()
            .filter(|(_, s, _)| s == source)
            .map(|(kind, _, id)| (*kind, id.as_str()))
            .collect();
        let items: Vec<(AggregationKind, &str)> = report
            .items
            .iter()
            .filter(|i| i.source_id.as_deref() == Some(source))
            .map(|i| {
                let started = i.started.as_ref().unwrap();
                (started.kind, started.task_id.as_str())
            })
            .collect();
        assert_eq!(theirs, items, "source {source}: started in item order");
    }

    // And the client started each after the one before it on the source had finished.
    let events = events.lock().unwrap().clone();
    let at = |wanted: fn(&BatchEvent) -> Option<usize>, item: usize| {
        events
            .iter()
            .position(|e| wanted(e) == Some(item))
            .unwrap_or_else(|| panic!("no event for item {item}"))
    };
    let started = |e: &BatchEvent| match e {
        BatchEvent::Started { item, .. } => Some(*item),
        _ => None,
    };
    let finished = |e: &BatchEvent| match e {
        BatchEvent::Finished { item, .. } => Some(*item),
        _ => None,
    };
    for (before, after) in [(0, 1), (1, 3), (2, 4)] {
        assert!(
            at(finished, before) < at(started, after),
            "item {after} started before item {before} finished: {events:?}"
        );
    }
    sb.shutdown().await;
}

//! Aggregations, their lifecycle and the tasks that report them.
//!
//! An aggregation's status is a pure function of time, computed when asked:
//!
//! * `STARTED` for the collect duration (no counts);
//! * `ACCOUNTS_COLLECTED` for the process duration, with `processedAccounts` growing linearly
//!   from 0 towards `totalAccounts` (always below it);
//! * then `COMPLETED` with `processedAccounts == totalAccounts`.
//!
//! With a forced [`Outcome::Cancelled`] or [`Outcome::Terminated`], the aggregation ends in that
//! status right after the collect phase (counts are absent, as the spec only sets them for
//! `ACCOUNTS_COLLECTED` and `COMPLETED`). [`Outcome::Stalled`] never leaves `STARTED`.
//! [`Outcome::CompletedWithWarnings`] runs like [`Outcome::Completed`]; only its task says
//! `WARNING`.
//!
//! An aggregation refused because another one is running on the same source reads as
//! `TERMINATED` from the moment it was refused.
//!
//! Every aggregation is also a task (`getTaskStatus`, `getTaskStatusList`) with the same id: its
//! `completionStatus` is `null` while it runs, then `SUCCESS` (completed), `WARNING` (completed
//! with warnings), `TERMINATED` (cancelled) or `ERROR` (terminated, or refused because another
//! aggregation was running), with messages saying why.
//!
//! An entitlement load (`importEntitlements`) is a task of the same registry, type
//! `CLOUD_GROUP_AGGREGATION`, with the same phases and outcomes; it has no aggregation status
//! (`getAccountAggregationStatus` answers 404 for it). It and account aggregations exclude each
//! other on a source: whichever starts while another task runs on the source is refused the same
//! way. When it completes, its task's attributes hold the counts of its `returns`: `total` groups
//! in the file, `groupsCreated`, `groupsUpdated` and `groupsDeleted` compared with the source's
//! last completed entitlement load, and `applications` (1).
//!
//! Status lookups answer 404 once an aggregation ended more than the retention period ago (1 h
//! by default); its task stays readable until the task retention (90 days by default) has passed
//! since it was created. Each source remembers the rows of its last completed aggregation: the
//! next aggregation's `totalAccounts` counts only new, changed and deleted rows relative to it,
//! unless optimisation is disabled (then every row counts, plus deletions).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sailpoint_isc_api::ApiVersion;
use serde_json::{Map, Value, json};

use crate::collection::{Compare, Op, Params, Supported, page};
use crate::csv::Snapshot;
use crate::ids::rfc3339;

/// How an aggregation ends; see [`Sandbox::set_outcome`](crate::Sandbox::set_outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The normal lifecycle, ending in `COMPLETED` (task `SUCCESS`).
    Completed,
    /// Ends in `CANCELLED` (as if a user cancelled it) after the collect phase (task
    /// `TERMINATED`).
    Cancelled,
    /// Ends in `TERMINATED` (as if the Virtual Appliance failed) after the collect phase (task
    /// `ERROR`, with an error message).
    Terminated,
    /// Stays `STARTED` forever (until forced otherwise), blocking the source.
    Stalled,
    /// The normal lifecycle, ending in `COMPLETED`, but its task ends `WARNING` with a warning
    /// message (as when some rows were skipped).
    CompletedWithWarnings,
}

/// The `status` values of `AccountAggregationStatus` that the sandbox produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AggregationStatus {
    /// Accounts are still being collected.
    Started,
    /// Accounts collected, processing under way.
    AccountsCollected,
    /// Finished.
    Completed,
    /// Cancelled.
    Cancelled,
    /// Failed.
    Terminated,
}

impl AggregationStatus {
    /// The wire value, e.g. `"ACCOUNTS_COLLECTED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregationStatus::Started => "STARTED",
            AggregationStatus::AccountsCollected => "ACCOUNTS_COLLECTED",
            AggregationStatus::Completed => "COMPLETED",
            AggregationStatus::Cancelled => "CANCELLED",
            AggregationStatus::Terminated => "TERMINATED",
        }
    }

    /// Whether the aggregation has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            AggregationStatus::Completed
                | AggregationStatus::Cancelled
                | AggregationStatus::Terminated
        )
    }
}

/// What a task of the registry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// An account aggregation (`importAccounts`).
    Accounts,
    /// An entitlement load (`importEntitlements`).
    Entitlements,
}

/// A read-only view of one entitlement load (`importEntitlements`), for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntitlementLoadInfo {
    /// The task id (a task-status id).
    pub id: String,
    /// The source it runs on.
    pub source_id: String,
    /// The API version it was started with.
    pub api_version: ApiVersion,
    /// Its phase now, in the account aggregation's terms (`Started` while collecting,
    /// `AccountsCollected` while processing, then how it ended).
    pub status: AggregationStatus,
    /// Distinct groups (rows by identity attribute) in the file: the task's `total`.
    pub total: u32,
    /// Groups new since the last completed load: `groupsCreated`.
    pub created: u32,
    /// Groups whose row changed: `groupsUpdated`.
    pub updated: u32,
    /// Groups of the last completed load missing now: `groupsDeleted`.
    pub deleted: u32,
    /// Whether it was refused because another task was running on the source.
    pub rejected: bool,
}

/// A read-only view of one aggregation, for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AggregationInfo {
    /// The aggregation (task) id.
    pub id: String,
    /// The source it runs on.
    pub source_id: String,
    /// The API version it was started with.
    pub api_version: ApiVersion,
    /// Its status now.
    pub status: AggregationStatus,
    /// `totalAccounts`: new + changed + deleted accounts (or every row plus deletions, unoptimised).
    pub total_accounts: u32,
    /// Accounts in the previous completed snapshot that are missing now.
    pub deleted_accounts: u32,
    /// Whether optimisation was on.
    pub optimized: bool,
    /// Whether it was refused because another aggregation was running on the source.
    pub rejected: bool,
}

/// Returns of an entitlement load's task (`attributeName`, `displayLabel` suffix).
const GROUP_RETURNS: &[(&str, &str)] = &[
    ("applications", "ACCOUNT_GROUP_AGGREGATION_APPLICATIONS"),
    ("total", "ACCOUNT_GROUP_AGGREGATION_TOTAL"),
    ("groupsCreated", "ACCOUNT_GROUP_AGGREGATION_CREATED"),
    ("groupsUpdated", "ACCOUNT_GROUP_AGGREGATION_UPDATED"),
    ("groupsDeleted", "ACCOUNT_GROUP_AGGREGATION_DELETED"),
];

/// The task type filters use for entitlement loads.
pub(crate) const GROUP_TASK_TYPE: &str = "CLOUD_GROUP_AGGREGATION";

/// An entitlement load task's `uniqueName` (`name` of the load's 202 body).
const GROUP_TASK_NAME: &str = "Cloud Group Aggregation";

/// Message text of a refused concurrent aggregation (also its `key`).
pub(crate) const CONCURRENT_MESSAGE: &str = "This aggregation failed because the currently running aggregation must complete before the next one can start.";

/// Message of a terminated aggregation's task.
const TERMINATED_MESSAGE: &str =
    "The aggregation was terminated: the Virtual Appliance stopped responding.";

/// Message of a cancelled aggregation's task.
const CANCELLED_MESSAGE: &str = "The aggregation was cancelled.";

/// Message of an aggregation that completed with warnings.
const WARNING_MESSAGE: &str =
    "The aggregation completed with warnings: some accounts were skipped.";

/// The task type filters use for account aggregations (`type eq "CLOUD_ACCOUNT_AGGREGATION"`);
/// the task body's own `type` is the executor kind, `QUARTZ`.
pub(crate) const TASK_TYPE: &str = "CLOUD_ACCOUNT_AGGREGATION";

/// The task's `launcher`.
const LAUNCHER: &str = "System";

/// The task's `uniqueName` (also `name` of the import's task).
const TASK_NAME: &str = "Cloud Account Aggregation";

/// The task's `description`.
const TASK_DESCRIPTION: &str = "Aggregate from the specified application";

/// The filters `getTaskStatusList` supports.
pub(crate) const TASK_FILTERS: Supported = &[
    ("id", &[Op::Eq, Op::In]),
    ("sourceId", &[Op::Eq, Op::In]),
    ("completionStatus", &[Op::Eq, Op::In, Op::IsNull]),
    ("type", &[Op::Eq, Op::In]),
    ("launcher", &[Op::Eq, Op::In]),
];

/// The sorters `getTaskStatusList` supports.
pub(crate) const TASK_SORTERS: &[&str] = &["created"];

#[derive(Debug, Clone, Copy)]
struct Timing {
    collect: Duration,
    process: Duration,
    retention: Duration,
    task_retention: Duration,
}

/// The registry's timing settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Durations {
    pub collect: Duration,
    pub process: Duration,
    pub retention: Duration,
    pub task_retention: Duration,
}

#[derive(Debug)]
struct Aggregation {
    kind: Kind,
    id: String,
    seq: u64,
    source_id: String,
    source_name: String,
    api_version: ApiVersion,
    created: DateTime<Utc>,
    started_at: Instant,
    timing: Timing,
    total: u32,
    deleted: u32,
    identities: u32,
    /// Entitlement loads: new and changed groups.
    groups_created: u32,
    groups_updated: u32,
    optimized: bool,
    planned: Outcome,
    forced: Option<(Instant, Outcome)>,
    rejected: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Started,
    Collected { fraction: f64 },
    Ended(Outcome),
}

fn completes(outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Completed | Outcome::CompletedWithWarnings)
}

impl Aggregation {
    fn natural_end(&self) -> Option<Instant> {
        let t = self.timing;
        match self.planned {
            _ if self.rejected => Some(self.started_at),
            Outcome::Completed | Outcome::CompletedWithWarnings => {
                Some(self.started_at + t.collect + t.process)
            }
            Outcome::Cancelled | Outcome::Terminated => Some(self.started_at + t.collect),
            Outcome::Stalled => None,
        }
    }

    /// When it ended (or will end), and how.
    fn end(&self) -> Option<(Instant, Outcome)> {
        let natural = self.natural_end().map(|at| {
            let outcome = if self.rejected {
                Outcome::Terminated
            } else {
                self.planned
            };
            (at, outcome)
        });
        match (self.forced, natural) {
            (Some(f), Some(n)) if n.0 <= f.0 => Some(n),
            (Some(f), _) => Some(f),
            (None, n) => n,
        }
    }

    fn phase(&self, now: Instant) -> Phase {
        if let Some((at, outcome)) = self.end()
            && now >= at
        {
            return Phase::Ended(outcome);
        }
        let collected_at = self.started_at + self.timing.collect;
        if now < collected_at || !completes(self.planned) {
            return Phase::Started;
        }
        let elapsed = now.duration_since(collected_at).as_secs_f64();
        let process = self.timing.process.as_secs_f64();
        let fraction = if process > 0.0 {
            (elapsed / process).min(1.0)
        } else {
            1.0
        };
        Phase::Collected { fraction }
    }

    fn status(&self, now: Instant) -> AggregationStatus {
        match self.phase(now) {
            Phase::Started => AggregationStatus::Started,
            Phase::Collected { .. } => AggregationStatus::AccountsCollected,
            Phase::Ended(Outcome::Completed | Outcome::CompletedWithWarnings) => {
                AggregationStatus::Completed
            }
            Phase::Ended(Outcome::Cancelled) => AggregationStatus::Cancelled,
            Phase::Ended(Outcome::Terminated | Outcome::Stalled) => AggregationStatus::Terminated,
        }
    }

    /// Whether its aggregation status has expired (404).
    fn status_expired(&self, now: Instant) -> bool {
        self.end()
            .is_some_and(|(at, _)| now >= at + self.timing.retention)
    }

    /// Whether its task has left the task history.
    fn task_expired(&self, now: Instant) -> bool {
        now >= self.started_at + self.timing.task_retention
    }

    /// The wall-clock time of an instant of its life.
    fn wall(&self, at: Instant) -> DateTime<Utc> {
        let since = at.saturating_duration_since(self.started_at);
        self.created + chrono::Duration::from_std(since).unwrap_or(chrono::Duration::MAX)
    }

    /// The `AccountAggregationStatus` body with every field any version documents; the route
    /// keeps only those its operation lists.
    fn status_json(&self, now: Instant) -> Value {
        let mut body = Map::new();
        body.insert("start".into(), json!(rfc3339(self.created)));
        body.insert("status".into(), json!(self.status(now).as_str()));
        let fraction = match self.phase(now) {
            Phase::Collected { fraction } => Some(fraction),
            Phase::Ended(o) if completes(o) => Some(1.0),
            _ => None,
        };
        if let Some(fraction) = fraction {
            let part = |n: u32| -> u32 {
                if fraction >= 1.0 {
                    n
                } else {
                    ((f64::from(n) * fraction).floor() as u32).min(n.saturating_sub(1))
                }
            };
            body.insert("totalAccounts".into(), json!(self.total));
            body.insert("processedAccounts".into(), json!(part(self.total)));
            body.insert("totalAccountsMarkedForDeletion".into(), json!(self.deleted));
            body.insert("deletedAccounts".into(), json!(part(self.deleted)));
            body.insert("totalIdentities".into(), json!(self.identities));
            body.insert("processedIdentities".into(), json!(part(self.identities)));
        }
        Value::Object(body)
    }

    /// The `LoadAccountsTask` body answered by `importAccounts`.
    fn load_accounts_task_json(&self) -> Value {
        let created = rfc3339(self.created);
        let (completed, completion_status, progress, messages) = if self.rejected {
            (
                json!(created),
                json!("ERROR"),
                Value::Null,
                json!([{
                    "type": "WARN",
                    "error": false,
                    "warning": true,
                    "key": CONCURRENT_MESSAGE,
                    "localizedText": CONCURRENT_MESSAGE,
                }]),
            )
        } else {
            (
                Value::Null,
                Value::Null,
                json!("Initializing..."),
                json!([]),
            )
        };
        let returns: Vec<Value> = RETURNS
            .iter()
            .map(|(name, label)| {
                json!({"displayLabel": format!("TASK_OUT_{label}"), "attributeName": name})
            })
            .collect();
        json!({
            "success": true,
            "task": {
                "id": self.id,
                "type": "QUARTZ",
                "name": TASK_NAME,
                "description": TASK_DESCRIPTION,
                "launcher": LAUNCHER,
                "created": created,
                "launched": created,
                "completed": completed,
                "completionStatus": completion_status,
                "parentName": null,
                "messages": messages,
                "progress": progress,
                "attributes": self.task_attributes(),
                "returns": returns,
            }
        })
    }

    /// The flat `LoadEntitlementTask` body answered by `importEntitlements`, with the fields a
    /// real response carries besides the documented ones (`name` instead of `uniqueName`,
    /// `launched`, `completed`, `completionStatus`, `progress`, `messages`, `parentName`,
    /// `attributes`).
    fn load_entitlements_task_json(&self) -> Value {
        let created = rfc3339(self.created);
        let (completed, completion_status, progress, messages) = if self.rejected {
            (
                json!(created),
                json!("ERROR"),
                Value::Null,
                json!([{
                    "type": "WARN",
                    "error": false,
                    "warning": true,
                    "key": CONCURRENT_MESSAGE,
                    "localizedText": CONCURRENT_MESSAGE,
                }]),
            )
        } else {
            (
                Value::Null,
                Value::Null,
                json!("Initializing..."),
                json!([]),
            )
        };
        let returns: Vec<Value> = GROUP_RETURNS
            .iter()
            .map(|(name, label)| {
                json!({"displayLabel": format!("TASK_OUT_{label}"), "attributeName": name})
            })
            .collect();
        json!({
            "id": self.id,
            "type": "QUARTZ",
            "name": GROUP_TASK_NAME,
            "description": TASK_DESCRIPTION,
            "launcher": LAUNCHER,
            "created": created,
            "launched": null,
            "completed": completed,
            "completionStatus": completion_status,
            "parentName": null,
            "progress": progress,
            "messages": messages,
            "returns": returns,
            "attributes": {"appId": self.source_id},
        })
    }

    fn task_attributes(&self) -> Value {
        json!({
            "appId": self.source_id,
            "optimizedAggregation": if self.optimized { "enabled" } else { "disabled" },
        })
    }

    /// The task-status `attributes`: an entitlement load's counts appear once it completed.
    fn task_status_attributes(&self, phase: Phase) -> Value {
        match self.kind {
            Kind::Accounts => self.task_attributes(),
            Kind::Entitlements => {
                let mut attributes = json!({"appId": self.source_id});
                if let Phase::Ended(outcome) = phase
                    && completes(outcome)
                    && !self.rejected
                {
                    let counts = json!({
                        "applications": 1,
                        "total": self.total,
                        "groupsCreated": self.groups_created,
                        "groupsUpdated": self.groups_updated,
                        "groupsDeleted": self.deleted,
                    });
                    if let (Some(a), Some(c)) = (attributes.as_object_mut(), counts.as_object()) {
                        a.extend(c.clone());
                    }
                }
                attributes
            }
        }
    }

    /// The task's `completionStatus`: `None` while it runs.
    fn completion_status(&self, now: Instant) -> Option<&'static str> {
        match self.phase(now) {
            Phase::Ended(_) if self.rejected => Some("ERROR"),
            Phase::Ended(Outcome::Completed) => Some("SUCCESS"),
            Phase::Ended(Outcome::CompletedWithWarnings) => Some("WARNING"),
            Phase::Ended(Outcome::Cancelled) => Some("TERMINATED"),
            Phase::Ended(Outcome::Terminated | Outcome::Stalled) => Some("ERROR"),
            Phase::Started | Phase::Collected { .. } => None,
        }
    }

    /// The `TaskStatus` body.
    fn task_status_json(&self, now: Instant) -> Value {
        let phase = self.phase(now);
        let created = rfc3339(self.created);
        let message = |kind: &str, text: &str| {
            json!({
                "type": kind,
                "localizedText": {"locale": "en-US", "message": text},
                "key": text,
                "parameters": null,
            })
        };
        let (messages, progress, percent) = match phase {
            Phase::Ended(_) if self.rejected => {
                (vec![message("WARN", CONCURRENT_MESSAGE)], Value::Null, 0)
            }
            Phase::Started => (Vec::new(), json!("Initializing..."), 0),
            Phase::Collected { fraction } => {
                let processed = ((f64::from(self.total) * fraction).floor() as u32)
                    .min(self.total.saturating_sub(1));
                let percent = ((fraction * 100.0).floor() as u32).min(99);
                let what = match self.kind {
                    Kind::Accounts => "accounts",
                    Kind::Entitlements => "groups",
                };
                (
                    Vec::new(),
                    json!(format!("Processing {what}: {processed} of {}", self.total)),
                    percent,
                )
            }
            Phase::Ended(Outcome::Completed) => (Vec::new(), json!("Aggregation completed"), 100),
            Phase::Ended(Outcome::CompletedWithWarnings) => (
                vec![message("WARN", WARNING_MESSAGE)],
                json!("Aggregation completed"),
                100,
            ),
            Phase::Ended(Outcome::Cancelled) => (
                vec![message("WARN", CANCELLED_MESSAGE)],
                json!("Aggregation cancelled"),
                0,
            ),
            Phase::Ended(Outcome::Terminated | Outcome::Stalled) => (
                vec![message("ERROR", TERMINATED_MESSAGE)],
                json!("Aggregation terminated"),
                0,
            ),
        };
        let (completed, modified) = match (phase, self.end()) {
            (Phase::Ended(_), Some((at, _))) => {
                let at = rfc3339(self.wall(at));
                (json!(at), json!(at))
            }
            (Phase::Collected { .. }, _) => (Value::Null, json!(rfc3339(self.wall(now)))),
            _ => (Value::Null, json!(created)),
        };
        let (returns, name) = match self.kind {
            Kind::Accounts => (RETURNS, TASK_NAME),
            Kind::Entitlements => (GROUP_RETURNS, GROUP_TASK_NAME),
        };
        let returns: Vec<Value> = returns
            .iter()
            .map(
                |(name, label)| json!({"name": format!("TASK_OUT_{label}"), "attributeName": name}),
            )
            .collect();
        json!({
            "id": self.id,
            "type": "QUARTZ",
            "uniqueName": name,
            "description": TASK_DESCRIPTION,
            "parentName": null,
            "launcher": LAUNCHER,
            "target": {
                "id": self.source_id,
                "type": "APPLICATION",
                "name": format!("{} [source]", self.source_name),
            },
            "created": created,
            "modified": modified,
            "launched": created,
            "completed": completed,
            "completionStatus": self.completion_status(now),
            "messages": messages,
            "returns": returns,
            "attributes": self.task_status_attributes(phase),
            "progress": progress,
            "percentComplete": percent,
        })
    }

    /// A field of the task as `getTaskStatusList` filters see it.
    fn task_field(&self, field: &str, now: Instant) -> (Option<String>, Compare) {
        match field {
            "id" => (Some(self.id.clone()), Compare::Exact),
            "sourceId" => (Some(self.source_id.clone()), Compare::Exact),
            // The published examples write it both as `Success` and `SUCCESS`.
            "completionStatus" => (
                self.completion_status(now).map(str::to_owned),
                Compare::IgnoreCase,
            ),
            "type" => (
                Some(
                    match self.kind {
                        Kind::Accounts => TASK_TYPE,
                        Kind::Entitlements => GROUP_TASK_TYPE,
                    }
                    .to_owned(),
                ),
                Compare::Exact,
            ),
            "launcher" => (Some(LAUNCHER.to_owned()), Compare::Exact),
            _ => (None, Compare::Exact),
        }
    }

    fn info(&self, now: Instant) -> AggregationInfo {
        AggregationInfo {
            id: self.id.clone(),
            source_id: self.source_id.clone(),
            api_version: self.api_version,
            status: self.status(now),
            total_accounts: self.total,
            deleted_accounts: self.deleted,
            optimized: self.optimized,
            rejected: self.rejected,
        }
    }

    fn entitlement_info(&self, now: Instant) -> EntitlementLoadInfo {
        EntitlementLoadInfo {
            id: self.id.clone(),
            source_id: self.source_id.clone(),
            api_version: self.api_version,
            status: self.status(now),
            total: self.total,
            created: self.groups_created,
            updated: self.groups_updated,
            deleted: self.deleted,
            rejected: self.rejected,
        }
    }
}

/// The task's output labels (`attributeName`, `displayLabel` suffix).
const RETURNS: &[(&str, &str)] = &[
    ("applications", "ACCOUNT_AGGREGATION_APPLICATIONS"),
    ("total", "ACCOUNT_AGGREGATION_TOTAL"),
    ("optimizedAggregation", "ACCOUNT_AGGREGATION_OPTIMIZED"),
    ("ignored", "ACCOUNT_AGGREGATION_IGNORED"),
    ("optimized", "UNCHANGED_ACCOUNTS"),
    ("created", "ACCOUNT_AGGREGATION_CREATED"),
    ("updated", "ACCOUNT_AGGREGATION_UPDATED"),
    ("deleted", "ACCOUNT_AGGREGATION_DELETED"),
    ("managerChanges", "ACCOUNT_AGGREGATION_MANAGER_CHANGES"),
    (
        "detectedRoleChanges",
        "ACCOUNT_AGGREGATION_BUSINESS_ROLE_CHANGES",
    ),
    ("exceptionChanges", "ACCOUNT_AGGREGATION_EXCEPTION_CHANGES"),
    ("policies", "ACCOUNT_AGGREGATION_POLICIES"),
    ("policyViolations", "ACCOUNT_AGGREGATION_POLICY_VIOLATIONS"),
    (
        "policyNotifications",
        "ACCOUNT_AGGREGATION_POLICY_NOTIFICATIONS",
    ),
    ("scoresChanged", "ACCOUNT_AGGREGATION_SCORES_CHANGED"),
    ("snapshotsCreated", "ACCOUNT_AGGREGATION_SNAPSHOTS_CREATED"),
    ("scopesCreated", "ACCOUNT_AGGREGATION_SCOPES_CREATED"),
    ("scopesCorrelated", "ACCOUNT_AGGREGATION_SCOPES_CORRELATED"),
    ("scopesSelected", "ACCOUNT_AGGREGATION_SCOPES_SELECTED"),
    ("scopesDormant", "ACCOUNT_AGGREGATION_SCOPES_DORMANT"),
    (
        "unscopedIdentities",
        "ACCOUNT_AGGREGATION_UNSCOPED_IDENTITIES",
    ),
    (
        "certificationsCreated",
        "ACCOUNT_AGGREGATION_CERTIFICATIONS_CREATED",
    ),
    (
        "certificationsDeleted",
        "ACCOUNT_AGGREGATION_CERTIFICATIONS_DELETED",
    ),
    (
        "applicationsGenerated",
        "ACCOUNT_AGGREGATION_APPLICATIONS_GENERATED",
    ),
    (
        "managedAttributesCreated",
        "ACCOUNT_AGGREGATION_MANAGED_ATTRIBUTES_PROMOTED",
    ),
    (
        "managedAttributesCreatedByApplication",
        "ACCOUNT_AGGREGATION_MANAGED_ATTRIBUTES_PROMOTED_BY_APP",
    ),
    (
        "identityEntitlementsCreated",
        "ACCOUNT_AGGREGATION_IDENTITYENTITLEMENTS_CREATED",
    ),
    ("groupsCreated", "ACCOUNT_AGGREGATION_GROUPS_CREATED"),
];

/// Per-source memory: the last completed rows of each kind, and the running task that may
/// replace them.
#[derive(Debug, Default)]
struct SourceState {
    baseline: Option<Snapshot>,
    group_baseline: Option<Snapshot>,
    current: Option<(String, Kind, Snapshot)>,
}

impl SourceState {
    fn baseline_mut(&mut self, kind: Kind) -> &mut Option<Snapshot> {
        match kind {
            Kind::Accounts => &mut self.baseline,
            Kind::Entitlements => &mut self.group_baseline,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    aggregations: HashMap<String, Aggregation>,
    sources: HashMap<String, SourceState>,
    next_outcome: HashMap<(String, Kind), Outcome>,
    next_seq: u64,
}

impl Inner {
    /// Promotes a source's finished aggregation: its rows become the baseline if it completed.
    fn settle(&mut self, source_id: &str, now: Instant) {
        let Some(src) = self.sources.get_mut(source_id) else {
            return;
        };
        let Some((id, _, _)) = &src.current else {
            return;
        };
        let phase = self.aggregations.get(id).map(|a| a.phase(now));
        match phase {
            Some(Phase::Ended(outcome)) => {
                let (_, kind, snapshot) = src.current.take().expect("checked above");
                if completes(outcome) {
                    *src.baseline_mut(kind) = Some(snapshot);
                }
            }
            Some(_) => {}
            None => src.current = None,
        }
    }

    /// Forgets aggregations whose status and task have both expired.
    fn purge(&mut self, now: Instant) {
        let expired: Vec<(String, String)> = self
            .aggregations
            .values()
            .filter(|a| a.status_expired(now) && a.task_expired(now))
            .map(|a| (a.id.clone(), a.source_id.clone()))
            .collect();
        for (id, source) in expired {
            self.settle(&source, now);
            self.aggregations.remove(&id);
        }
    }
}

/// What an import request asks for.
#[derive(Debug)]
pub(crate) struct StartRequest {
    pub kind: Kind,
    pub source_id: String,
    pub source_name: String,
    pub api_version: ApiVersion,
    pub rows: u64,
    pub snapshot: Snapshot,
    pub disable_optimization: bool,
}

/// The registry of all aggregations.
#[derive(Debug)]
pub(crate) struct Registry {
    timing: Timing,
    inner: Mutex<Inner>,
}

impl Registry {
    pub(crate) fn new(d: Durations) -> Self {
        Self {
            timing: Timing {
                collect: d.collect,
                process: d.process,
                retention: d.retention,
                task_retention: d.task_retention,
            },
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts an aggregation or entitlement load (or refuses it if a task is running on the
    /// source). Returns the task id, whether it was accepted, and the `LoadAccountsTask` (or
    /// `LoadEntitlementTask`) body.
    pub(crate) fn start(&self, req: StartRequest) -> (String, bool, Value) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.purge(now);
        inner.settle(&req.source_id, now);
        let running = inner
            .sources
            .get(&req.source_id)
            .is_some_and(|s| s.current.is_some());
        let optimized = !req.disable_optimization;
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let mut agg = Aggregation {
            kind: req.kind,
            id: crate::ids::hex32(),
            seq,
            source_id: req.source_id.clone(),
            source_name: req.source_name,
            api_version: req.api_version,
            created: Utc::now(),
            started_at: now,
            timing: self.timing,
            total: 0,
            deleted: 0,
            identities: 0,
            groups_created: 0,
            groups_updated: 0,
            optimized,
            planned: Outcome::Completed,
            forced: None,
            rejected: running,
        };
        if running {
            tracing::info!(source_id = %req.source_id, id = %agg.id, "aggregation refused: another one is running");
        } else {
            let src = inner.sources.entry(req.source_id.clone()).or_default();
            let diff = req.snapshot.diff(src.baseline_mut(req.kind).as_ref());
            let clamp = |n: u64| {
                u32::try_from(n)
                    .unwrap_or(i32::MAX as u32)
                    .min(i32::MAX as u32)
            };
            if req.kind == Kind::Entitlements {
                agg.total = clamp(diff.new + diff.changed + diff.unchanged);
                agg.groups_created = clamp(diff.new);
                agg.groups_updated = clamp(diff.changed);
            } else if optimized {
                agg.total = clamp(diff.new + diff.changed + diff.deleted);
                agg.identities = clamp(diff.new + diff.changed);
            } else {
                agg.total = clamp(req.rows + diff.deleted);
                agg.identities = clamp(req.rows);
            }
            agg.deleted = clamp(diff.deleted);
            src.current = Some((agg.id.clone(), req.kind, req.snapshot));
            if let Some(outcome) = inner
                .next_outcome
                .remove(&(req.source_id.clone(), req.kind))
            {
                agg.planned = outcome;
            }
            tracing::info!(source_id = %req.source_id, id = %agg.id, total = agg.total, optimized, "aggregation started");
        }
        let body = match agg.kind {
            Kind::Accounts => agg.load_accounts_task_json(),
            Kind::Entitlements => agg.load_entitlements_task_json(),
        };
        let id = agg.id.clone();
        inner.aggregations.insert(id.clone(), agg);
        (id, !running, body)
    }

    /// The full `AccountAggregationStatus` body, or `None` if unknown or past retention.
    pub(crate) fn status_json(&self, id: &str) -> Option<Value> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.purge(now);
        inner
            .aggregations
            .get(id)
            .filter(|a| a.kind == Kind::Accounts && !a.status_expired(now))
            .map(|a| a.status_json(now))
    }

    /// The `TaskStatus` body of a task, or `None` if unknown, past the task retention, or
    /// created less than `hidden_for` ago.
    pub(crate) fn task_json(&self, id: &str, hidden_for: Duration) -> Option<Value> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.purge(now);
        inner
            .aggregations
            .get(id)
            .filter(|a| !a.task_expired(now) && now >= a.started_at + hidden_for)
            .map(|a| a.task_status_json(now))
    }

    /// The `getTaskStatusList` answer: the page of `TaskStatus` bodies (tasks created less than
    /// `hidden_for` ago are not listed) and the total before paging.
    pub(crate) fn tasks_json(&self, params: &Params, hidden_for: Duration) -> (Vec<Value>, usize) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.purge(now);
        let mut tasks: Vec<&Aggregation> = inner
            .aggregations
            .values()
            .filter(|a| !a.task_expired(now) && now >= a.started_at + hidden_for)
            .filter(|a| params.filter.matches(|field| a.task_field(field, now)))
            .collect();
        tasks.sort_by_key(|a| a.seq);
        // `created` is the only sorter; the creation order is also the default order.
        if params
            .sorters
            .first()
            .is_some_and(|(_, descending)| *descending)
        {
            tasks.reverse();
        }
        let (page, total) = page(tasks, params.paging);
        (
            page.iter().map(|a| a.task_status_json(now)).collect(),
            total,
        )
    }

    /// Sets how the next task of `kind` started on the source ends.
    pub(crate) fn set_next_outcome(&self, source_id: &str, kind: Kind, outcome: Outcome) {
        self.lock()
            .next_outcome
            .insert((source_id.to_owned(), kind), outcome);
    }

    /// Ends a running aggregation now with `outcome` (`Stalled` makes it never end). Returns
    /// false if the id is unknown or the aggregation already ended.
    pub(crate) fn force(&self, id: &str, outcome: Outcome) -> bool {
        let now = Instant::now();
        let mut inner = self.lock();
        let Some(agg) = inner.aggregations.get_mut(id) else {
            return false;
        };
        if matches!(agg.phase(now), Phase::Ended(_)) {
            return false;
        }
        match outcome {
            Outcome::Stalled => {
                agg.planned = Outcome::Stalled;
                agg.forced = None;
            }
            other => agg.forced = Some((now, other)),
        }
        true
    }

    /// Account aggregations whose status is still retained, oldest first.
    pub(crate) fn list(&self) -> Vec<AggregationInfo> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.purge(now);
        let mut list: Vec<&Aggregation> = inner
            .aggregations
            .values()
            .filter(|a| a.kind == Kind::Accounts && !a.status_expired(now))
            .collect();
        list.sort_by_key(|a| a.seq);
        list.into_iter().map(|a| a.info(now)).collect()
    }

    /// Entitlement loads whose task is still in the task history, oldest first.
    pub(crate) fn entitlement_loads(&self) -> Vec<EntitlementLoadInfo> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.purge(now);
        let mut list: Vec<&Aggregation> = inner
            .aggregations
            .values()
            .filter(|a| a.kind == Kind::Entitlements && !a.task_expired(now))
            .collect();
        list.sort_by_key(|a| a.seq);
        list.into_iter().map(|a| a.entitlement_info(now)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(collect: u64, process: u64) -> Registry {
        Registry::new(Durations {
            collect: Duration::from_millis(collect),
            process: Duration::from_millis(process),
            retention: Duration::from_secs(3600),
            task_retention: Duration::from_secs(7200),
        })
    }

    fn req(source: &str, n: u32, disable: bool) -> StartRequest {
        StartRequest {
            kind: Kind::Accounts,
            source_id: source.into(),
            source_name: format!("Source {source}"),
            api_version: ApiVersion::default(),
            rows: u64::from(n),
            snapshot: Snapshot::synthetic(n),
            disable_optimization: disable,
        }
    }

    fn all_tasks() -> Params {
        Params::parse(&[], TASK_FILTERS, TASK_SORTERS).unwrap()
    }

    fn tasks(filters: &str) -> Params {
        Params::parse(
            &[("filters".to_owned(), filters.to_owned())],
            TASK_FILTERS,
            TASK_SORTERS,
        )
        .unwrap()
    }

    #[test]
    fn zero_durations_complete_immediately() {
        let r = registry(0, 0);
        let (id, accepted, task) = r.start(req("s", 5, false));
        assert!(accepted);
        assert_eq!(task["task"]["id"], json!(id));
        let s = r.status_json(&id).unwrap();
        assert_eq!(s["status"], "COMPLETED");
        assert_eq!(s["totalAccounts"], 5);
        assert_eq!(s["processedAccounts"], 5);
        assert_eq!(s["totalIdentities"], 5);
        assert_eq!(s.as_object().unwrap().len(), 8);
        // Same rows again: nothing changed.
        let (id2, _, _) = r.start(req("s", 5, false));
        assert_eq!(r.status_json(&id2).unwrap()["totalAccounts"], 0);
        // Two fewer rows: two deletions.
        let (id3, _, _) = r.start(req("s", 3, false));
        let s3 = r.status_json(&id3).unwrap();
        assert_eq!(s3["totalAccounts"], 2);
        assert_eq!(s3["totalAccountsMarkedForDeletion"], 2);
        assert_eq!(s3["deletedAccounts"], 2);
    }

    #[test]
    fn running_aggregation_blocks_the_source_only() {
        let r = registry(60_000, 0);
        let (id, accepted, _) = r.start(req("s", 5, false));
        assert!(accepted);
        let (id2, accepted2, task) = r.start(req("s", 5, false));
        assert!(!accepted2);
        assert_eq!(task["task"]["completionStatus"], "ERROR");
        assert_eq!(task["task"]["messages"][0]["key"], CONCURRENT_MESSAGE);
        assert_eq!(r.status_json(&id2).unwrap()["status"], "TERMINATED");
        assert_eq!(r.status_json(&id).unwrap()["status"], "STARTED");
        let refused = r.task_json(&id2, Duration::ZERO).unwrap();
        assert_eq!(refused["completionStatus"], "ERROR");
        assert_eq!(refused["messages"][0]["type"], "WARN");
        assert_eq!(
            refused["messages"][0]["localizedText"]["message"],
            CONCURRENT_MESSAGE
        );
        assert!(r.start(req("other", 1, false)).1);
        // Forcing completion frees the source.
        assert!(r.force(&id, Outcome::Completed));
        assert!(!r.force(&id, Outcome::Cancelled));
        assert_eq!(r.status_json(&id).unwrap()["status"], "COMPLETED");
        assert!(r.start(req("s", 5, false)).1);
    }

    #[test]
    fn failed_aggregation_keeps_previous_baseline() {
        let r = registry(0, 0);
        r.start(req("s", 4, false));
        r.set_next_outcome("s", Kind::Accounts, Outcome::Terminated);
        let (id, _, _) = r.start(req("s", 2, false));
        let s = r.status_json(&id).unwrap();
        assert_eq!(s["status"], "TERMINATED");
        assert!(s.get("totalAccounts").is_none());
        // Compared with the 4-row baseline, not the failed 2-row one.
        let (id, _, _) = r.start(req("s", 4, false));
        assert_eq!(r.status_json(&id).unwrap()["totalAccounts"], 0);
        // Unoptimised counts every row.
        let (id, _, task) = r.start(req("s", 4, true));
        assert_eq!(
            task["task"]["attributes"]["optimizedAggregation"],
            "disabled"
        );
        assert_eq!(r.status_json(&id).unwrap()["totalAccounts"], 4);
    }

    #[test]
    fn task_status_follows_the_outcome() {
        let r = registry(0, 0);
        let cases = [
            (Outcome::Completed, "SUCCESS", None, "COMPLETED"),
            (
                Outcome::CompletedWithWarnings,
                "WARNING",
                Some("WARN"),
                "COMPLETED",
            ),
            (Outcome::Cancelled, "TERMINATED", Some("WARN"), "CANCELLED"),
            (Outcome::Terminated, "ERROR", Some("ERROR"), "TERMINATED"),
        ];
        for (i, (outcome, completion, message, status)) in cases.into_iter().enumerate() {
            let source = format!("s{i}");
            r.set_next_outcome(&source, Kind::Accounts, outcome);
            let (id, _, _) = r.start(req(&source, 3, false));
            assert_eq!(r.status_json(&id).unwrap()["status"], status);
            let t = r.task_json(&id, Duration::ZERO).unwrap();
            assert_eq!(t["id"], id.as_str());
            assert_eq!(t["completionStatus"], completion, "{outcome:?}");
            assert_eq!(
                t["messages"]
                    .as_array()
                    .unwrap()
                    .first()
                    .map(|m| &m["type"]),
                message.map(|m| json!(m)).as_ref(),
                "{outcome:?}"
            );
            assert!(t["completed"].is_string());
            assert_eq!(t["target"]["id"], source.as_str());
            assert_eq!(t["target"]["name"], format!("Source {source} [source]"));
            assert_eq!(t["attributes"]["appId"], source.as_str());
        }
        let completed = tasks(r#"completionStatus in ("success", "WARNING")"#);
        assert_eq!(r.tasks_json(&completed, Duration::ZERO).1, 2);
    }

    #[test]
    fn running_tasks_have_no_completion_status() {
        let r = registry(60_000, 0);
        let (id, _, _) = r.start(req("s", 3, false));
        let t = r.task_json(&id, Duration::ZERO).unwrap();
        assert_eq!(t["completionStatus"], Value::Null);
        assert_eq!(t["completed"], Value::Null);
        assert_eq!(t["progress"], "Initializing...");
        assert_eq!(t["percentComplete"], 0);
        assert_eq!(t["created"], t["launched"]);
        let running = tasks(
            r#"type eq "CLOUD_ACCOUNT_AGGREGATION" and sourceId eq "s" and completionStatus isnull"#,
        );
        let (found, total) = r.tasks_json(&running, Duration::ZERO);
        assert_eq!(total, 1);
        assert_eq!(found[0]["id"], id.as_str());
        assert_eq!(
            r.tasks_json(&tasks(r#"type eq "QUARTZ""#), Duration::ZERO)
                .1,
            0
        );
        assert_eq!(
            r.tasks_json(&tasks(r#"sourceId eq "t""#), Duration::ZERO).1,
            0
        );
        // Hidden while younger than the delay.
        assert!(r.task_json(&id, Duration::from_secs(60)).is_none());
        assert_eq!(r.tasks_json(&all_tasks(), Duration::from_secs(60)).1, 0);
    }

    #[test]
    fn tasks_outlive_the_aggregation_status() {
        let r = Registry::new(Durations {
            collect: Duration::ZERO,
            process: Duration::ZERO,
            retention: Duration::ZERO,
            task_retention: Duration::from_secs(3600),
        });
        let (id, _, _) = r.start(req("s", 1, false));
        assert!(r.status_json(&id).is_none());
        assert!(r.list().is_empty());
        assert_eq!(
            r.task_json(&id, Duration::ZERO).unwrap()["completionStatus"],
            "SUCCESS"
        );
        let r = Registry::new(Durations {
            collect: Duration::ZERO,
            process: Duration::ZERO,
            retention: Duration::ZERO,
            task_retention: Duration::ZERO,
        });
        let (id, _, _) = r.start(req("s", 1, false));
        assert!(r.task_json(&id, Duration::ZERO).is_none());
        assert_eq!(r.tasks_json(&all_tasks(), Duration::ZERO).1, 0);
        assert!(r.lock().aggregations.is_empty(), "purged");
    }

    #[test]
    fn task_list_orders_and_pages_by_creation() {
        let r = registry(0, 0);
        let ids: Vec<String> = (0..5)
            .map(|i| r.start(req(&format!("s{i}"), 1, false)).0)
            .collect();
        let listed = |query: &[(&str, &str)]| {
            let query: Vec<(String, String)> = query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let params = Params::parse(&query, TASK_FILTERS, TASK_SORTERS).unwrap();
            let (page, total) = r.tasks_json(&params, Duration::ZERO);
            let page: Vec<String> = page
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned())
                .collect();
            (page, total)
        };
        assert_eq!(listed(&[]), (ids.clone(), 5));
        assert_eq!(listed(&[("sorters", "created")]).0, ids);
        let mut reversed = ids.clone();
        reversed.reverse();
        assert_eq!(listed(&[("sorters", "-created")]).0, reversed);
        assert_eq!(
            listed(&[("sorters", "-created"), ("limit", "2"), ("offset", "1")]),
            (reversed[1..3].to_vec(), 5)
        );
        let filter = format!(r#"id in ("{}", "{}")"#, ids[3], ids[1]);
        assert_eq!(
            listed(&[("filters", &filter)]).0,
            [ids[1].clone(), ids[3].clone()]
        );
    }

    fn entitlements(source: &str, csv: &[u8]) -> StartRequest {
        let mut scanner = crate::csv::CsvScanner::default();
        scanner.feed(csv);
        let (rows, snapshot, _) = scanner.finish_with_header();
        StartRequest {
            kind: Kind::Entitlements,
            rows,
            snapshot,
            ..req(source, 0, false)
        }
    }

    #[test]
    fn entitlement_loads_are_group_aggregation_tasks() {
        let r = registry(0, 0);
        let (id, accepted, body) = r.start(entitlements("s", b"id,name\ng1,A\ng2,B\n"));
        assert!(accepted);
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["name"], GROUP_TASK_NAME);
        assert_eq!(body["returns"].as_array().unwrap().len(), 5);
        assert_eq!(
            body["returns"][4],
            json!({"displayLabel": "TASK_OUT_ACCOUNT_GROUP_AGGREGATION_DELETED", "attributeName": "groupsDeleted"})
        );
        assert!(r.status_json(&id).is_none(), "no aggregation status");
        let t = r.task_json(&id, Duration::ZERO).unwrap();
        assert_eq!(t["uniqueName"], GROUP_TASK_NAME);
        assert_eq!(t["completionStatus"], "SUCCESS");
        assert_eq!(t["attributes"]["total"], 2);
        assert_eq!(t["attributes"]["groupsCreated"], 2);
        // One changed, one removed, one added; compared with the last entitlement load only.
        r.start(req("s", 7, false));
        let (id, _, _) = r.start(entitlements("s", b"id,name\ng1,A2\ng3,C\n"));
        let t = r.task_json(&id, Duration::ZERO).unwrap();
        let counts: Vec<&Value> = [
            "applications",
            "total",
            "groupsCreated",
            "groupsUpdated",
            "groupsDeleted",
        ]
        .iter()
        .map(|k| &t["attributes"][k])
        .collect();
        assert_eq!(
            counts,
            [&json!(1), &json!(2), &json!(1), &json!(1), &json!(1)]
        );
        let groups = tasks(r#"type eq "CLOUD_GROUP_AGGREGATION" and sourceId eq "s""#);
        assert_eq!(r.tasks_json(&groups, Duration::ZERO).1, 2);
        assert_eq!(r.list().len(), 1, "account aggregations only");
        assert_eq!(r.entitlement_loads().len(), 2);
        assert_eq!(r.entitlement_loads()[1].updated, 1);
    }

    #[test]
    fn entitlement_loads_and_aggregations_exclude_each_other() {
        let r = registry(60_000, 0);
        let (running, _, _) = r.start(req("s", 3, false));
        let (id, accepted, body) = r.start(entitlements("s", b"id\ng\n"));
        assert!(!accepted);
        assert_eq!(body["completionStatus"], "ERROR");
        assert_eq!(body["messages"][0]["key"], CONCURRENT_MESSAGE);
        let t = r.task_json(&id, Duration::ZERO).unwrap();
        assert_eq!(t["completionStatus"], "ERROR");
        assert!(t["attributes"].get("total").is_none());
        assert!(r.force(&running, Outcome::Completed));
        r.set_next_outcome("s", Kind::Entitlements, Outcome::Stalled);
        let (load, accepted, _) = r.start(entitlements("s", b"id\ng\n"));
        assert!(accepted);
        assert!(
            !r.start(req("s", 3, false)).1,
            "a running load blocks aggregations"
        );
        assert!(r.force(&load, Outcome::Terminated));
        let t = r.task_json(&load, Duration::ZERO).unwrap();
        assert_eq!(t["completionStatus"], "ERROR");
        assert!(r.start(req("s", 3, false)).1);
    }

    #[test]
    fn returns_list_is_complete() {
        assert_eq!(RETURNS.len(), 28);
        let r = registry(0, 0);
        let (id, _, task) = r.start(req("s", 1, false));
        let returns = task["task"]["returns"].as_array().unwrap();
        assert_eq!(returns.len(), 28);
        assert_eq!(
            returns[1]["displayLabel"],
            "TASK_OUT_ACCOUNT_AGGREGATION_TOTAL"
        );
        assert_eq!(returns[1]["attributeName"], "total");
        let t = r.task_json(&id, Duration::ZERO).unwrap();
        assert_eq!(
            t["returns"][1]["name"],
            "TASK_OUT_ACCOUNT_AGGREGATION_TOTAL"
        );
        assert_eq!(t["returns"][1]["attributeName"], "total");
    }
}

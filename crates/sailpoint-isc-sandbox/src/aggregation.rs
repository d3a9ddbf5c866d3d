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

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sailpoint_isc_api::ApiVersion;
use serde_json::{Map, Value, json};

use crate::collection::{Compare, Op, Supported};
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
pub(crate) const GROUP_TASK_NAME: &str = "Cloud Group Aggregation";

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
pub(crate) struct Timing {
    pub(crate) collect: Duration,
    pub(crate) process: Duration,
    pub(crate) retention: Duration,
    pub(crate) task_retention: Duration,
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
pub(crate) struct Aggregation {
    pub(crate) kind: Kind,
    pub(crate) id: String,
    pub(crate) seq: u64,
    pub(crate) source_id: String,
    pub(crate) source_name: String,
    pub(crate) api_version: ApiVersion,
    pub(crate) created: DateTime<Utc>,
    pub(crate) started_at: Instant,
    pub(crate) timing: Timing,
    pub(crate) total: u32,
    pub(crate) deleted: u32,
    pub(crate) identities: u32,
    /// Entitlement loads: new and changed groups.
    pub(crate) groups_created: u32,
    pub(crate) groups_updated: u32,
    pub(crate) optimized: bool,
    pub(crate) planned: Outcome,
    pub(crate) forced: Option<(Instant, Outcome)>,
    pub(crate) rejected: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Phase {
    Started,
    Collected { fraction: f64 },
    Ended(Outcome),
}

pub(crate) fn completes(outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Completed | Outcome::CompletedWithWarnings)
}

impl Aggregation {
    pub(crate) fn natural_end(&self) -> Option<Instant> {
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
    pub(crate) fn end(&self) -> Option<(Instant, Outcome)> {
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

    pub(crate) fn phase(&self, now: Instant) -> Phase {
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

    pub(crate) fn status(&self, now: Instant) -> AggregationStatus {
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
    pub(crate) fn status_expired(&self, now: Instant) -> bool {
        self.end()
            .is_some_and(|(at, _)| now >= at + self.timing.retention)
    }

    /// Whether its task has left the task history.
    pub(crate) fn task_expired(&self, now: Instant) -> bool {
        now >= self.started_at + self.timing.task_retention
    }

    /// The wall-clock time of an instant of its life.
    pub(crate) fn wall(&self, at: Instant) -> DateTime<Utc> {
        let since = at.saturating_duration_since(self.started_at);
        self.created + chrono::Duration::from_std(since).unwrap_or(chrono::Duration::MAX)
    }

    /// The `AccountAggregationStatus` body with every field any version documents; the route
    /// keeps only those its operation lists.
    pub(crate) fn status_json(&self, now: Instant) -> Value {
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

    /// The `LoadAccountsTask` body answered by `importAccounts`: `{success, task}`.
    pub(crate) fn load_accounts_task_json(&self) -> Value {
        let task = self.started_task_json(
            TASK_NAME,
            RETURNS,
            json!(rfc3339(self.created)),
            self.task_attributes(),
        );
        json!({"success": true, "task": task})
    }

    /// The flat `LoadEntitlementTask` body answered by `importEntitlements`, with the fields a
    /// real response carries besides the documented ones (`name` instead of `uniqueName`,
    /// `launched`, `completed`, `completionStatus`, `progress`, `messages`, `parentName`,
    /// `attributes`).
    pub(crate) fn load_entitlements_task_json(&self) -> Value {
        self.started_task_json(
            GROUP_TASK_NAME,
            GROUP_RETURNS,
            Value::Null,
            json!({"appId": self.source_id}),
        )
    }

    /// The task a start answers with: running, or already ended `ERROR` when it was refused
    /// because another task was running on the source.
    fn started_task_json(
        &self,
        name: &str,
        returns: &[(&str, &str)],
        launched: Value,
        attributes: Value,
    ) -> Value {
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
        let returns: Vec<Value> = returns
            .iter()
            .map(|(name, label)| {
                json!({"displayLabel": format!("TASK_OUT_{label}"), "attributeName": name})
            })
            .collect();
        json!({
            "id": self.id,
            "type": "QUARTZ",
            "name": name,
            "description": TASK_DESCRIPTION,
            "launcher": LAUNCHER,
            "created": created,
            "launched": launched,
            "completed": completed,
            "completionStatus": completion_status,
            "parentName": null,
            "progress": progress,
            "messages": messages,
            "returns": returns,
            "attributes": attributes,
        })
    }

    pub(crate) fn task_attributes(&self) -> Value {
        json!({
            "appId": self.source_id,
            "optimizedAggregation": if self.optimized { "enabled" } else { "disabled" },
        })
    }

    /// The task-status `attributes`: an entitlement load's counts appear once it completed.
    pub(crate) fn task_status_attributes(&self, phase: Phase) -> Value {
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
    pub(crate) fn completion_status(&self, now: Instant) -> Option<&'static str> {
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
    pub(crate) fn task_status_json(&self, now: Instant) -> Value {
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
    pub(crate) fn task_field(&self, field: &str, now: Instant) -> (Option<String>, Compare) {
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

    pub(crate) fn info(&self, now: Instant) -> AggregationInfo {
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

    pub(crate) fn entitlement_info(&self, now: Instant) -> EntitlementLoadInfo {
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
pub(crate) const RETURNS: &[(&str, &str)] = &[
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

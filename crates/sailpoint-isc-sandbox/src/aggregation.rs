//! Aggregations and their lifecycle.
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
//!
//! An aggregation refused because another one is running on the same source reads as
//! `TERMINATED` from the moment it was refused.
//!
//! Status lookups answer 404 once an aggregation ended more than the retention period ago.
//! Each source remembers the rows of its last `COMPLETED` aggregation: the next aggregation's
//! `totalAccounts` counts only new, changed and deleted rows relative to it, unless optimisation
//! is disabled (then every row counts, plus deletions).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::config::ApiVersion;
use crate::csv::Snapshot;
use crate::ids::rfc3339;

/// How an aggregation ends; see [`Sandbox::set_outcome`](crate::Sandbox::set_outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The normal lifecycle, ending in `COMPLETED`.
    Completed,
    /// Ends in `CANCELLED` (as if a user cancelled it) after the collect phase.
    Cancelled,
    /// Ends in `TERMINATED` (as if the Virtual Appliance failed) after the collect phase.
    Terminated,
    /// Stays `STARTED` forever (until forced otherwise), blocking the source.
    Stalled,
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

/// A read-only view of one aggregation, for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Message text of a refused concurrent aggregation (also its `key`).
pub(crate) const CONCURRENT_MESSAGE: &str = "This aggregation failed because the currently running aggregation must complete before the next one can start.";

#[derive(Debug, Clone, Copy)]
struct Timing {
    collect: Duration,
    process: Duration,
    retention: Duration,
}

#[derive(Debug)]
struct Aggregation {
    id: String,
    source_id: String,
    api_version: ApiVersion,
    created: DateTime<Utc>,
    started_at: Instant,
    timing: Timing,
    total: u32,
    deleted: u32,
    identities: u32,
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

impl Aggregation {
    fn natural_end(&self) -> Option<Instant> {
        let t = self.timing;
        match self.planned {
            _ if self.rejected => Some(self.started_at),
            Outcome::Completed => Some(self.started_at + t.collect + t.process),
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
        if now < collected_at || self.planned != Outcome::Completed {
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
            Phase::Ended(Outcome::Completed) => AggregationStatus::Completed,
            Phase::Ended(Outcome::Cancelled) => AggregationStatus::Cancelled,
            Phase::Ended(Outcome::Terminated | Outcome::Stalled) => AggregationStatus::Terminated,
        }
    }

    fn expired(&self, now: Instant) -> bool {
        self.end()
            .is_some_and(|(at, _)| now >= at + self.timing.retention)
    }

    /// The `AccountAggregationStatus` body for `version`.
    fn status_json(&self, now: Instant, version: ApiVersion) -> Value {
        let mut body = Map::new();
        body.insert("start".into(), json!(rfc3339(self.created)));
        body.insert("status".into(), json!(self.status(now).as_str()));
        let fraction = match self.phase(now) {
            Phase::Collected { fraction } => Some(fraction),
            Phase::Ended(Outcome::Completed) => Some(1.0),
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
            if version == ApiVersion::V2025 {
                body.insert("totalAccountsMarkedForDeletion".into(), json!(self.deleted));
                body.insert("deletedAccounts".into(), json!(part(self.deleted)));
                body.insert("totalIdentities".into(), json!(self.identities));
                body.insert("processedIdentities".into(), json!(part(self.identities)));
            }
        }
        Value::Object(body)
    }

    /// The `LoadAccountsTask` body answered by `importAccounts`.
    fn task_json(&self) -> Value {
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
        json!({
            "success": true,
            "task": {
                "id": self.id,
                "type": "QUARTZ",
                "name": "Cloud Account Aggregation",
                "description": "Aggregate from the specified application",
                "launcher": "System",
                "created": created,
                "launched": created,
                "completed": completed,
                "completionStatus": completion_status,
                "parentName": null,
                "messages": messages,
                "progress": progress,
                "attributes": {
                    "appId": self.source_id,
                    "optimizedAggregation": if self.optimized { "enabled" } else { "disabled" },
                },
                "returns": task_returns(),
            }
        })
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
}

/// The task's output labels (`attributeName`, `displayLabel` suffix).
fn task_returns() -> Value {
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
    RETURNS
        .iter()
        .map(|(name, label)| json!({"displayLabel": format!("TASK_OUT_{label}"), "attributeName": name}))
        .collect()
}

/// Per-source memory: the last completed rows, and the aggregation that may replace them.
#[derive(Debug, Default)]
struct SourceState {
    baseline: Option<Snapshot>,
    current: Option<(String, Snapshot)>,
}

#[derive(Debug, Default)]
struct Inner {
    aggregations: HashMap<String, Aggregation>,
    sources: HashMap<String, SourceState>,
    next_outcome: HashMap<String, Outcome>,
}

impl Inner {
    /// Promotes a source's finished aggregation: its rows become the baseline if it completed.
    fn settle(&mut self, source_id: &str, now: Instant) {
        let Some(src) = self.sources.get_mut(source_id) else {
            return;
        };
        let Some((id, _)) = &src.current else {
            return;
        };
        let phase = self.aggregations.get(id).map(|a| a.phase(now));
        match phase {
            Some(Phase::Ended(outcome)) => {
                let (_, snapshot) = src.current.take().expect("checked above");
                if outcome == Outcome::Completed {
                    src.baseline = Some(snapshot);
                }
            }
            Some(_) => {}
            None => src.current = None,
        }
    }

    /// Forgets aggregations whose retention has passed.
    fn purge(&mut self, now: Instant) {
        let expired: Vec<(String, String)> = self
            .aggregations
            .values()
            .filter(|a| a.expired(now))
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
    pub source_id: String,
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
    pub(crate) fn new(collect: Duration, process: Duration, retention: Duration) -> Self {
        Self {
            timing: Timing {
                collect,
                process,
                retention,
            },
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts an aggregation (or refuses it if one is running on the source). Returns the
    /// aggregation id, whether it was accepted, and the `LoadAccountsTask` body.
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
        let mut agg = Aggregation {
            id: crate::ids::hex32(),
            source_id: req.source_id.clone(),
            api_version: req.api_version,
            created: Utc::now(),
            started_at: now,
            timing: self.timing,
            total: 0,
            deleted: 0,
            identities: 0,
            optimized,
            planned: Outcome::Completed,
            forced: None,
            rejected: running,
        };
        if running {
            tracing::info!(source_id = %req.source_id, id = %agg.id, "aggregation refused: another one is running");
        } else {
            let src = inner.sources.entry(req.source_id.clone()).or_default();
            let diff = req.snapshot.diff(src.baseline.as_ref());
            let clamp = |n: u64| {
                u32::try_from(n)
                    .unwrap_or(i32::MAX as u32)
                    .min(i32::MAX as u32)
            };
            if optimized {
                agg.total = clamp(diff.new + diff.changed + diff.deleted);
                agg.identities = clamp(diff.new + diff.changed);
            } else {
                agg.total = clamp(req.rows + diff.deleted);
                agg.identities = clamp(req.rows);
            }
            agg.deleted = clamp(diff.deleted);
            src.current = Some((agg.id.clone(), req.snapshot));
            if let Some(outcome) = inner.next_outcome.remove(&req.source_id) {
                agg.planned = outcome;
            }
            tracing::info!(source_id = %req.source_id, id = %agg.id, total = agg.total, optimized, "aggregation started");
        }
        let body = agg.task_json();
        let id = agg.id.clone();
        inner.aggregations.insert(id.clone(), agg);
        (id, !running, body)
    }

    /// The `AccountAggregationStatus` body, or `None` if unknown or past retention.
    pub(crate) fn status_json(&self, id: &str, version: ApiVersion) -> Option<Value> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.purge(now);
        inner
            .aggregations
            .get(id)
            .map(|a| a.status_json(now, version))
    }

    pub(crate) fn set_next_outcome(&self, source_id: &str, outcome: Outcome) {
        self.lock()
            .next_outcome
            .insert(source_id.to_owned(), outcome);
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

    pub(crate) fn list(&self) -> Vec<AggregationInfo> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.purge(now);
        let mut list: Vec<_> = inner
            .aggregations
            .values()
            .map(|a| (a.started_at, a.info(now)))
            .collect();
        list.sort_by_key(|(t, _)| *t);
        list.into_iter().map(|(_, i)| i).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(collect: u64, process: u64) -> Registry {
        Registry::new(
            Duration::from_millis(collect),
            Duration::from_millis(process),
            Duration::from_secs(3600),
        )
    }

    fn req(source: &str, n: u32, disable: bool) -> StartRequest {
        StartRequest {
            source_id: source.into(),
            api_version: ApiVersion::V2025,
            rows: u64::from(n),
            snapshot: Snapshot::synthetic(n),
            disable_optimization: disable,
        }
    }

    #[test]
    fn zero_durations_complete_immediately() {
        let r = registry(0, 0);
        let (id, accepted, task) = r.start(req("s", 5, false));
        assert!(accepted);
        assert_eq!(task["task"]["id"], json!(id));
        let s = r.status_json(&id, ApiVersion::V2025).unwrap();
        assert_eq!(s["status"], "COMPLETED");
        assert_eq!(s["totalAccounts"], 5);
        assert_eq!(s["processedAccounts"], 5);
        assert_eq!(s["totalIdentities"], 5);
        let beta = r.status_json(&id, ApiVersion::Beta).unwrap();
        assert_eq!(beta.as_object().unwrap().len(), 4);
        // Same rows again: nothing changed.
        let (id2, _, _) = r.start(req("s", 5, false));
        assert_eq!(
            r.status_json(&id2, ApiVersion::Beta).unwrap()["totalAccounts"],
            0
        );
        // Two fewer rows: two deletions.
        let (id3, _, _) = r.start(req("s", 3, false));
        let s3 = r.status_json(&id3, ApiVersion::V2025).unwrap();
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
        assert_eq!(
            r.status_json(&id2, ApiVersion::Beta).unwrap()["status"],
            "TERMINATED"
        );
        assert_eq!(
            r.status_json(&id, ApiVersion::Beta).unwrap()["status"],
            "STARTED"
        );
        assert!(r.start(req("other", 1, false)).1);
        // Forcing completion frees the source.
        assert!(r.force(&id, Outcome::Completed));
        assert!(!r.force(&id, Outcome::Cancelled));
        assert_eq!(
            r.status_json(&id, ApiVersion::Beta).unwrap()["status"],
            "COMPLETED"
        );
        assert!(r.start(req("s", 5, false)).1);
    }

    #[test]
    fn failed_aggregation_keeps_previous_baseline() {
        let r = registry(0, 0);
        r.start(req("s", 4, false));
        r.set_next_outcome("s", Outcome::Terminated);
        let (id, _, _) = r.start(req("s", 2, false));
        let s = r.status_json(&id, ApiVersion::V2025).unwrap();
        assert_eq!(s["status"], "TERMINATED");
        assert!(s.get("totalAccounts").is_none());
        // Compared with the 4-row baseline, not the failed 2-row one.
        let (id, _, _) = r.start(req("s", 4, false));
        assert_eq!(
            r.status_json(&id, ApiVersion::V2025).unwrap()["totalAccounts"],
            0
        );
        // Unoptimised counts every row.
        let (id, _, task) = r.start(req("s", 4, true));
        assert_eq!(
            task["task"]["attributes"]["optimizedAggregation"],
            "disabled"
        );
        assert_eq!(
            r.status_json(&id, ApiVersion::V2025).unwrap()["totalAccounts"],
            4
        );
    }

    #[test]
    fn returns_list_is_complete() {
        let returns = task_returns();
        let returns = returns.as_array().unwrap();
        assert_eq!(returns.len(), 28);
        assert_eq!(
            returns[1]["displayLabel"],
            "TASK_OUT_ACCOUNT_AGGREGATION_TOTAL"
        );
        assert_eq!(returns[1]["attributeName"], "total");
    }
}

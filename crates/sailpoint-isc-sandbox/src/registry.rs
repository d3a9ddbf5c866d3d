//! The registry of a tenant's aggregations and entitlement loads: starting them (one running
//! task per source), their per-source baselines for the optimisation diff, forced outcomes,
//! lookups, task lists and expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use sailpoint_isc_api::ApiVersion;
use serde_json::Value;

use crate::aggregation::*;
use crate::collection::{Params, page};
use crate::csv::Snapshot;

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
    use serde_json::json;

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

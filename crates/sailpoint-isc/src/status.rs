//! The aggregation model shared by every API version: [`AggregationStatus`] with its open
//! [`AggregationState`], and the started task ([`StartedAggregation`], [`AggregationTask`]).
//!
//! Decoding is lenient on purpose: every field is optional, `null` is accepted everywhere, unknown
//! states are kept as [`AggregationState::Unknown`], counters may be numbers or numeric strings, and
//! timestamps may be RFC 3339 strings or epoch numbers (ISC has been seen sending both). One rule
//! reads integer timestamps everywhere: below 10^11 they are epoch seconds, from 10^11 on epoch
//! milliseconds (see [`sailpoint_isc_api::Timestamp`]). Every response is decoded once, from its
//! bytes, into these types; the generated types are not involved.
//!
//! ```
//! use sailpoint_isc::{AggregationState, AggregationStatus};
//!
//! let status: AggregationStatus = serde_json::from_str(
//!     r#"{"start": 1713522033823, "status": "QUEUED", "totalAccounts": null}"#,
//! ).unwrap();
//! assert_eq!(status.state, Some(AggregationState::Unknown("QUEUED".into())));
//! assert!(status.start.is_some());
//! assert_eq!(status.total_accounts, None);
//! ```

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use sailpoint_isc_api::ApiVersion;

use crate::kind::AggregationKind;
use crate::lenient;
pub use crate::task_status::TaskReturn;
use crate::task_status::TaskStatus;

/// The `status` of an account aggregation. Open: values this crate does not know are kept in
/// [`Unknown`](AggregationState::Unknown).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AggregationState {
    /// `STARTED`: iterating over the source's accounts.
    Started,
    /// `ACCOUNTS_COLLECTED`: iteration done; accounts and identities are being processed.
    AccountsCollected,
    /// `COMPLETED`: finished (possibly with errors in individual accounts).
    Completed,
    /// `CANCELLED`: cancelled by a user.
    Cancelled,
    /// `RETRIED`: retried after Virtual Appliance connectivity problems; it goes on.
    Retried,
    /// `TERMINATED`: marked failed after repeated Virtual Appliance connectivity problems.
    Terminated,
    /// `NOT_FOUND`: ISC does not know the id (or no longer keeps its status).
    NotFound,
    /// Any other value, as sent.
    Unknown(String),
}

impl AggregationState {
    /// Parses a status value (case-insensitively); unknown values become `Unknown(value)`.
    pub fn parse(value: &str) -> Self {
        // Compared without case and without building an upper-case copy (every status poll
        // parses one).
        const NAMES: [(&str, AggregationState); 8] = [
            ("STARTED", AggregationState::Started),
            ("ACCOUNTS_COLLECTED", AggregationState::AccountsCollected),
            ("COMPLETED", AggregationState::Completed),
            ("CANCELLED", AggregationState::Cancelled),
            ("CANCELED", AggregationState::Cancelled),
            ("RETRIED", AggregationState::Retried),
            ("TERMINATED", AggregationState::Terminated),
            ("NOT_FOUND", AggregationState::NotFound),
        ];
        let trimmed = value.trim();
        NAMES
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(trimmed))
            .map_or_else(
                || AggregationState::Unknown(value.to_owned()),
                |(_, state)| state,
            )
    }

    /// The wire value (`"ACCOUNTS_COLLECTED"`, or the unknown value as sent).
    pub fn as_str(&self) -> &str {
        match self {
            AggregationState::Started => "STARTED",
            AggregationState::AccountsCollected => "ACCOUNTS_COLLECTED",
            AggregationState::Completed => "COMPLETED",
            AggregationState::Cancelled => "CANCELLED",
            AggregationState::Retried => "RETRIED",
            AggregationState::Terminated => "TERMINATED",
            AggregationState::NotFound => "NOT_FOUND",
            AggregationState::Unknown(value) => value,
        }
    }

    /// True when the aggregation will not change any more: `COMPLETED`, `CANCELLED`, `TERMINATED`
    /// or `NOT_FOUND`.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            AggregationState::Completed
                | AggregationState::Cancelled
                | AggregationState::Terminated
                | AggregationState::NotFound
        )
    }

    /// True for `CANCELLED` and `TERMINATED`.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            AggregationState::Cancelled | AggregationState::Terminated
        )
    }
}

impl fmt::Display for AggregationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AggregationState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AggregationState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Ok(AggregationState::parse(&value))
    }
}

/// The status of an account aggregation (`getAccountAggregationStatus`). One type for every API
/// version; fields a version does not send (beta has no identity counts) stay `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AggregationStatus {
    /// When the aggregation started.
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub start: Option<DateTime<Utc>>,
    /// The state (`status` on the wire).
    #[serde(rename = "status", default, deserialize_with = "state")]
    pub state: Option<AggregationState>,
    /// NEW, CHANGED and DELETED accounts to process (set in `ACCOUNTS_COLLECTED` and `COMPLETED`).
    #[serde(default, deserialize_with = "lenient::count")]
    pub total_accounts: Option<u64>,
    /// Accounts processed so far.
    #[serde(default, deserialize_with = "lenient::count")]
    pub processed_accounts: Option<u64>,
    /// Accounts marked for deletion (v2025).
    #[serde(default, deserialize_with = "lenient::count")]
    pub total_accounts_marked_for_deletion: Option<u64>,
    /// Accounts deleted so far (v2025).
    #[serde(default, deserialize_with = "lenient::count")]
    pub deleted_accounts: Option<u64>,
    /// Identities marked for refresh (v2025).
    #[serde(default, deserialize_with = "lenient::count")]
    pub total_identities: Option<u64>,
    /// Identities refreshed so far (v2025).
    #[serde(default, deserialize_with = "lenient::count")]
    pub processed_identities: Option<u64>,
    /// Set when the status endpoint no longer knew the aggregation (404, about an hour after it
    /// ended) and the answer came from its task status instead (kept 90 days): the task, with
    /// its completion status and messages. `state` is then derived from it.
    #[serde(skip)]
    pub task: Option<Box<crate::task_status::TaskStatus>>,
    /// The counts the task returned (for an entitlement aggregation: `applications`, `total`,
    /// `groupsCreated`, `groupsUpdated`, `groupsDeleted`), when the status came from task status
    /// and the task had them.
    #[serde(default, skip_deserializing, skip_serializing_if = "Vec::is_empty")]
    pub counts: Vec<TaskCount>,
}

/// One value an aggregation's task returned: its attribute, the label ISC gives it and the
/// count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TaskCount {
    /// The attribute name, e.g. `groupsCreated`.
    pub name: String,
    /// ISC's label, e.g. `TASK_OUT_ACCOUNT_GROUP_AGGREGATION_CREATED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The count.
    pub value: u64,
}

impl AggregationStatus {
    /// The state's wire name, or `"UNKNOWN"` when the response had none.
    pub fn state_name(&self) -> &str {
        self.state
            .as_ref()
            .map_or("UNKNOWN", AggregationState::as_str)
    }

    /// True when the state is terminal (see [`AggregationState::is_terminal`]).
    pub fn is_terminal(&self) -> bool {
        self.state
            .as_ref()
            .is_some_and(AggregationState::is_terminal)
    }

    /// Units of work (accounts + identities) done and in total, when ISC reports a non-zero total;
    /// for a status answered from task status, its percent complete out of 100.
    pub fn work(&self) -> Option<(u64, u64)> {
        if self.total_accounts.is_none()
            && self.total_identities.is_none()
            && let Some(percent) = self.task.as_ref().and_then(|t| t.percent_complete)
        {
            return Some((percent.min(100), 100));
        }
        // Saturating: the counts come from the server and may be absurd.
        let total = self
            .total_accounts
            .unwrap_or(0)
            .saturating_add(self.total_identities.unwrap_or(0));
        if total == 0 {
            return None;
        }
        let done = self
            .processed_accounts
            .unwrap_or(0)
            .saturating_add(self.processed_identities.unwrap_or(0));
        Some((done.min(total), total))
    }

    /// The messages of the task the status was answered from (see [`task`](Self::task)):
    /// errors of a failed aggregation, warnings of one that completed with `WARNING`.
    pub fn task_messages(&self) -> Vec<&str> {
        self.task
            .as_ref()
            .map(|t| t.message_texts())
            .unwrap_or_default()
    }

    /// The status an aggregation's task status stands for, when the status endpoint has
    /// forgotten it: `SUCCESS`/`WARNING` are `COMPLETED`, other endings `TERMINATED`, and a task
    /// still running is `STARTED`.
    pub fn from_task(task: crate::task_status::TaskStatus) -> Self {
        Self::from_task_of(task, AggregationKind::Accounts)
    }

    /// [`from_task`](Self::from_task) for a task of `kind`, with the counts the task returned
    /// (the labels it lists, else those published for the kind).
    pub(crate) fn from_task_of(task: TaskStatus, kind: AggregationKind) -> Self {
        let listed: Vec<(Option<String>, String)> = if task.returns.is_empty() {
            kind.profile()
                .returns
                .iter()
                .map(|(label, name)| (Some((*label).to_owned()), (*name).to_owned()))
                .collect()
        } else {
            task.returns
                .iter()
                .filter_map(|r| Some((r.display_label.clone(), r.attribute_name.clone()?)))
                .collect()
        };
        let counts = listed
            .into_iter()
            .filter_map(|(label, name)| {
                let value = crate::lenient::count_value(task.attributes.get(&name)?)?;
                Some(TaskCount { name, label, value })
            })
            .collect();
        let state = match &task.completion_status {
            None => AggregationState::Started,
            Some(s) if s.is_success() => AggregationState::Completed,
            Some(_) => AggregationState::Terminated,
        };
        AggregationStatus {
            start: task.launched.or(task.created),
            state: Some(state),
            task: Some(Box::new(task)),
            counts,
            ..Default::default()
        }
    }

    /// Fraction of the work done, from 0.0 to 1.0, when known.
    pub fn progress_fraction(&self) -> Option<f64> {
        self.work().map(|(done, total)| done as f64 / total as f64)
    }
}

impl fmt::Display for AggregationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.state_name())?;
        let pair = |done: Option<u64>, total: Option<u64>| match (done, total) {
            (None, None) => None,
            (done, total) => Some(format!(
                "{}/{}",
                done.unwrap_or(0),
                total.map_or_else(|| "?".to_owned(), |t| t.to_string())
            )),
        };
        if let Some(accounts) = pair(self.processed_accounts, self.total_accounts) {
            write!(f, ", accounts {accounts}")?;
        }
        if let Some(identities) = pair(self.processed_identities, self.total_identities) {
            write!(f, ", identities {identities}")?;
        }
        if let Some(deleted) = pair(
            self.deleted_accounts,
            self.total_accounts_marked_for_deletion,
        ) {
            write!(f, ", deleted {deleted}")?;
        }
        if self.total_accounts.is_none()
            && !self.is_terminal()
            && let Some(percent) = self.task.as_ref().and_then(|t| t.percent_complete)
        {
            write!(f, ", {percent}%")?;
        }
        for count in &self.counts {
            write!(f, ", {} {}", count.name, count.value)?;
        }
        Ok(())
    }
}

/// The task ISC launched for an aggregation (`LoadAccountsTask.task`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AggregationTask {
    /// The task id; also the id of the aggregation status.
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: Option<String>,
    /// The task kind, e.g. `QUARTZ`.
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub task_type: Option<String>,
    /// The task name, e.g. `Cloud Account Aggregation`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    /// The task's unique name, which the published load-entitlements answer has instead of
    /// `name` (real answers have been seen with `name`).
    #[serde(default, deserialize_with = "lenient::string")]
    pub unique_name: Option<String>,
    /// The task description.
    #[serde(default, deserialize_with = "lenient::string")]
    pub description: Option<String>,
    /// Who launched it.
    #[serde(default, deserialize_with = "lenient::string")]
    pub launcher: Option<String>,
    /// When the task was created.
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub created: Option<DateTime<Utc>>,
    /// When it started.
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub launched: Option<DateTime<Utc>>,
    /// When it finished.
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub completed: Option<DateTime<Utc>>,
    /// `SUCCESS`, `WARNING`, `ERROR`, `TERMINATED`, `TEMP_ERROR` or another value, as sent.
    #[serde(default, deserialize_with = "lenient::string")]
    pub completion_status: Option<String>,
    /// The parent task's name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub parent_name: Option<String>,
    /// Warnings and errors of the task.
    #[serde(default, deserialize_with = "lenient::list")]
    pub messages: Vec<TaskMessage>,
    /// Progress text, e.g. `Initializing...`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub progress: Option<String>,
    /// Extra attributes (`appId`, `optimizedAggregation`, ...), as JSON values.
    #[serde(default, deserialize_with = "lenient::object")]
    pub attributes: Map<String, Value>,
    /// Labels of the task's output values.
    #[serde(default, deserialize_with = "lenient::list")]
    pub returns: Vec<TaskReturn>,
}

/// A message of an [`AggregationTask`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TaskMessage {
    /// `INFO`, `WARN`, `ERROR` or another value.
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub message_type: Option<String>,
    /// Whether it is an error.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub error: Option<bool>,
    /// Whether it is a warning.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub warning: Option<bool>,
    /// The message key.
    #[serde(default, deserialize_with = "lenient::string")]
    pub key: Option<String>,
    /// The localized text.
    #[serde(default, deserialize_with = "lenient::string")]
    pub localized_text: Option<String>,
}

/// A start's 202 body, in either published shape, decoded once: `{success, task}`
/// (load-accounts) or the task itself, flat (load-entitlements).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct StartAnswer {
    #[serde(default, deserialize_with = "lenient::boolean")]
    success: Option<bool>,
    #[serde(default, deserialize_with = "lenient::object_as")]
    task: Option<AggregationTask>,
    #[serde(flatten)]
    flat: AggregationTask,
}

impl StartAnswer {
    /// `success` and the task, from whichever shape the body had.
    pub(crate) fn into_parts(self) -> (Option<bool>, AggregationTask) {
        (self.success, self.task.unwrap_or(self.flat))
    }
}

/// An aggregation ISC accepted (HTTP 202). Poll it with
/// [`Client::wait_for_aggregation`](crate::Client::wait_for_aggregation)`(&started.task_id)`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StartedAggregation {
    /// The id to poll: the task id (`task.id`).
    pub task_id: String,
    /// The source the aggregation runs on.
    pub source_id: String,
    /// The API version that started it.
    pub api_version: ApiVersion,
    /// What it loads.
    pub kind: AggregationKind,
    /// `success` from the response.
    pub success: Option<bool>,
    /// The launched task.
    pub task: AggregationTask,
    /// How this aggregation was obtained: started by this call, recovered after a lost response,
    /// or already running (with [`StartAggregation::if_idle`](crate::StartAggregation::if_idle)).
    pub origin: StartOrigin,
}

/// How [`StartAggregation::send`](crate::StartAggregation::send) obtained a
/// [`StartedAggregation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StartOrigin {
    /// ISC answered the start with 202 and the task.
    Started,
    /// The start's response was lost (5xx, connection dropped, deadline), and the aggregation
    /// was found in task status: ISC did start it, once.
    Recovered,
    /// [`if_idle`](crate::StartAggregation::if_idle) found an aggregation already running on the
    /// source; nothing was uploaded or started.
    AlreadyRunning,
}

impl StartOrigin {
    /// `"started"`, `"recovered"` or `"already_running"`.
    pub fn as_str(self) -> &'static str {
        match self {
            StartOrigin::Started => "started",
            StartOrigin::Recovered => "recovered",
            StartOrigin::AlreadyRunning => "already_running",
        }
    }
}

impl AggregationTask {
    /// The start response's task for an aggregation known from task status.
    pub(crate) fn from_task_status(task: &crate::task_status::TaskStatus) -> Self {
        AggregationTask {
            id: task.id.clone(),
            task_type: task.task_type.clone(),
            name: task.unique_name.clone(),
            unique_name: task.unique_name.clone(),
            description: task.description.clone(),
            launcher: task.launcher.clone(),
            created: task.created,
            launched: task.launched,
            completed: task.completed,
            completion_status: task
                .completion_status
                .as_ref()
                .map(|s| s.as_str().to_owned()),
            parent_name: task.parent_name.clone(),
            messages: task
                .messages
                .iter()
                .map(|m| TaskMessage {
                    message_type: m.message_type.clone(),
                    error: Some(m.is_error()),
                    warning: Some(m.is_warning()),
                    key: m.key.clone(),
                    localized_text: m.text().map(str::to_owned),
                })
                .collect(),
            progress: task.progress.clone(),
            attributes: task.attributes.clone(),
            returns: task.returns.clone(),
        }
    }
}

/// The `status` field: blank or non-string is no state, anything else is parsed.
pub(crate) fn state<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AggregationState>, D::Error> {
    Ok(match lenient::Scalar::deserialize(d)? {
        lenient::Scalar::Str(s) if !s.trim().is_empty() => Some(AggregationState::parse(&s)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_unknown_is_kept() {
        // Every state the spec documents has its own variant.
        for &s in sailpoint_isc_api::v2025::known_values::ACCOUNT_AGGREGATION_STATUS_STATUS {
            let state = AggregationState::parse(s);
            assert!(!matches!(state, AggregationState::Unknown(_)), "{s}");
            assert_eq!(state.as_str(), s);
        }
        assert_eq!(
            AggregationState::parse("QUEUED"),
            AggregationState::Unknown("QUEUED".into())
        );
        assert_eq!(
            AggregationState::parse("completed"),
            AggregationState::Completed
        );
        assert!(AggregationState::Terminated.is_failure());
        assert!(!AggregationState::Retried.is_terminal());
    }

    #[test]
    fn full_v2025_status() {
        let s: AggregationStatus = serde_json::from_str(
            r#"{"start":"2021-01-31T14:30:05.104Z","status":"ACCOUNTS_COLLECTED","totalAccounts":520,
                "processedAccounts":150,"totalAccountsMarkedForDeletion":10,"deletedAccounts":5,
                "totalIdentities":300,"processedIdentities":250}"#,
        )
        .unwrap();
        assert_eq!(s.state, Some(AggregationState::AccountsCollected));
        assert_eq!(s.start.unwrap().timestamp_millis(), 1_612_103_405_104);
        assert_eq!(s.work(), Some((400, 820)));
        assert_eq!(
            s.to_string(),
            "ACCOUNTS_COLLECTED, accounts 150/520, identities 250/300, deleted 5/10"
        );
    }

    /// Found by the fault suite's fuzzer: both used to panic on overflow.
    #[test]
    fn absurd_numbers_do_not_overflow() {
        let s: AggregationStatus = serde_json::from_str(
            r#"{"start":-1.2490979557444412e58,"totalAccounts":18446744073709551615,
                "totalIdentities":5,"processedAccounts":18446744073709551615,"processedIdentities":1}"#,
        )
        .unwrap();
        assert_eq!(s.start, None);
        assert_eq!(s.work(), Some((u64::MAX, u64::MAX)));
        assert_eq!(s.progress_fraction(), Some(1.0));
        assert!(sailpoint_isc_api::Timestamp::from_json(&serde_json::json!(i64::MIN)).is_none());
    }

    #[test]
    fn lenient_values() {
        let s: AggregationStatus = serde_json::from_str(
            r#"{"start":1713522033823,"status":null,"totalAccounts":"12","processedAccounts":-1,
                "totalIdentities":3.0,"extra":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(s.start.unwrap().timestamp_millis(), 1_713_522_033_823);
        assert_eq!(s.state, None);
        assert_eq!(s.total_accounts, Some(12));
        assert_eq!(s.processed_accounts, None);
        assert_eq!(s.total_identities, Some(3));
        assert_eq!(s.state_name(), "UNKNOWN");

        let s: AggregationStatus =
            serde_json::from_str(r#"{"start":"not a date","status":"STARTED"}"#).unwrap();
        assert_eq!(s.start, None);
        let s: AggregationStatus = serde_json::from_str(r#"{"start":"1713522033"}"#).unwrap();
        assert_eq!(s.start.unwrap().timestamp(), 1_713_522_033);
    }

    #[test]
    fn load_accounts_task_with_quirks() {
        let t: StartAnswer = serde_json::from_str(
            r#"{"success":"true","task":{"id":"ef38","type":"QUARTZ","created":1713522033823,
                "launched":"2020-09-07T42:14:00.521Z","completed":null,"completionStatus":null,
                "messages":[],"returns":[{"displayLabel":"TASK_OUT_ACCOUNT_AGGREGATION_TOTAL","attributeName":"total"}],
                "attributes":{"appId":"c313","optimizedAggregation":"enabled","n":5}}}"#,
        )
        .unwrap();
        let (success, task) = t.into_parts();
        assert_eq!(success, Some(true));
        assert_eq!(task.id.as_deref(), Some("ef38"));
        assert!(task.created.is_some());
        assert_eq!(task.launched, None, "hour 42 is not a time");
        assert_eq!(task.returns[0].attribute_name.as_deref(), Some("total"));
        assert_eq!(task.attributes["n"], 5);
    }

    #[test]
    fn load_entitlements_task_is_flat_with_name_or_unique_name() {
        let (success, task) = serde_json::from_str::<StartAnswer>(
            r#"{"id":"ef39","type":"QUARTZ","uniqueName":"Cloud Group Aggregation",
                "created":"2021-01-31T14:11:27.108Z",
                "returns":[{"displayLabel":"TASK_OUT_ACCOUNT_GROUP_AGGREGATION_TOTAL","attributeName":"total"}]}"#,
        )
        .unwrap()
        .into_parts();
        assert_eq!(success, None);
        assert_eq!(task.id.as_deref(), Some("ef39"));
        assert_eq!(task.unique_name.as_deref(), Some("Cloud Group Aggregation"));
        assert_eq!(task.returns[0].attribute_name.as_deref(), Some("total"));
        // What real answers carry: `name`, completion fields, no wrapper.
        let (_, task) = serde_json::from_str::<StartAnswer>(
            r#"{"id":"ef40","name":"Cloud Group Aggregation","completionStatus":null,"messages":[]}"#,
        )
        .unwrap()
        .into_parts();
        assert_eq!(task.id.as_deref(), Some("ef40"));
        assert_eq!(task.name.as_deref(), Some("Cloud Group Aggregation"));
        // A wrapper without a task is no task at all (and no id): never the wrapper's own fields.
        let (_, task) = serde_json::from_str::<StartAnswer>(r#"{"success":true,"task":null}"#)
            .unwrap()
            .into_parts();
        assert_eq!(task.id, None);
    }

    #[test]
    fn entitlement_counts_come_from_the_task_attributes_its_returns_name() {
        let task: TaskStatus = serde_json::from_str(
            r#"{"id":"t1","completionStatus":"SUCCESS","percentComplete":100,
                "returns":[{"name":"TASK_OUT_ACCOUNT_GROUP_AGGREGATION_CREATED","attributeName":"groupsCreated"}],
                "attributes":{"groupsCreated":"12","total":40}}"#,
        )
        .unwrap();
        let status = AggregationStatus::from_task_of(task.clone(), AggregationKind::Entitlements);
        assert_eq!(status.state, Some(AggregationState::Completed));
        assert_eq!(
            status.counts,
            [TaskCount {
                name: "groupsCreated".into(),
                label: Some("TASK_OUT_ACCOUNT_GROUP_AGGREGATION_CREATED".into()),
                value: 12
            }]
        );
        // A task that lists no returns: the kind's published ones, where the task has values.
        let mut bare = task;
        bare.returns.clear();
        let status = AggregationStatus::from_task_of(bare, AggregationKind::Entitlements);
        let names: Vec<&str> = status.counts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["total", "groupsCreated"]);
        assert_eq!(status.to_string(), "COMPLETED, total 40, groupsCreated 12");
    }
}

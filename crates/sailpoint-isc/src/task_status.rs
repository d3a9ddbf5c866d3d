//! The task-status model (`getTaskStatus`, `getTaskStatusList`): one lenient [`TaskStatus`] for
//! every API version, with an open [`CompletionStatus`].
//!
//! ISC's task enums disagree with themselves (`TEMPERROR` here, `TEMP_ERROR` in the start
//! response, `Success` beside `SUCCESS` in examples), and `parentName`, `progress`, `launched`,
//! `completed` and `target` may be null. None of that is a decode failure: values are matched
//! ignoring case and `_`, and anything unknown is kept as sent.
//!
//! ```
//! use sailpoint_isc::{CompletionStatus, TaskStatus};
//!
//! let task: TaskStatus = serde_json::from_str(
//!     r#"{"id": "ef38", "completionStatus": "TEMPERROR", "parentName": null,
//!         "target": {"id": "src1", "type": "APPLICATION", "name": "HR"},
//!         "created": 1713522033823, "messages": [{"type": "ERROR",
//!         "localizedText": {"locale": "en-US", "message": "VA unreachable"}}]}"#,
//! ).unwrap();
//! assert_eq!(task.completion_status, Some(CompletionStatus::TempError));
//! assert!(!task.is_running() && task.is_failure());
//! assert_eq!(task.source_id(), Some("src1"));
//! assert_eq!(task.message_texts(), ["VA unreachable"]);
//! ```

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::lenient;

/// A task's `completionStatus`. Open: unknown values are kept in
/// [`Unknown`](CompletionStatus::Unknown). `None` (null) on a [`TaskStatus`] means still running.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CompletionStatus {
    /// `SUCCESS` (also `Success`).
    Success,
    /// `WARNING`: finished, with warnings in its messages.
    Warning,
    /// `ERROR`.
    Error,
    /// `TERMINATED`.
    Terminated,
    /// `TEMPERROR` / `TEMP_ERROR`: failed for a temporary reason (e.g. a Virtual Appliance).
    TempError,
    /// Any other value, as sent.
    Unknown(String),
}

impl CompletionStatus {
    /// Parses a value ignoring case, `_` and surrounding space; unknown values are kept.
    pub fn parse(value: &str) -> Self {
        let folded: String = value
            .trim()
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        match folded.as_str() {
            "SUCCESS" => CompletionStatus::Success,
            "WARNING" => CompletionStatus::Warning,
            "ERROR" => CompletionStatus::Error,
            "TERMINATED" => CompletionStatus::Terminated,
            "TEMPERROR" => CompletionStatus::TempError,
            _ => CompletionStatus::Unknown(value.to_owned()),
        }
    }

    /// The canonical wire value (`"TEMPERROR"`), or the unknown value as sent.
    pub fn as_str(&self) -> &str {
        match self {
            CompletionStatus::Success => "SUCCESS",
            CompletionStatus::Warning => "WARNING",
            CompletionStatus::Error => "ERROR",
            CompletionStatus::Terminated => "TERMINATED",
            CompletionStatus::TempError => "TEMPERROR",
            CompletionStatus::Unknown(value) => value,
        }
    }

    /// True for `SUCCESS` and `WARNING`: the task did its work.
    pub fn is_success(&self) -> bool {
        matches!(self, CompletionStatus::Success | CompletionStatus::Warning)
    }
}

impl fmt::Display for CompletionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CompletionStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CompletionStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(CompletionStatus::parse(&String::deserialize(deserializer)?))
    }
}

/// What a task works on (`target`): for an aggregation, its source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskTarget {
    /// The target's id (the source id for an aggregation).
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: Option<String>,
    /// `APPLICATION`, `IDENTITY` or another value.
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub target_type: Option<String>,
    /// The target's name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
}

/// A message of a [`TaskStatus`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TaskStatusMessage {
    /// `INFO`, `WARN`, `ERROR` or another value.
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub message_type: Option<String>,
    /// The message key.
    #[serde(default, deserialize_with = "lenient::string")]
    pub key: Option<String>,
    /// The localized text and its locale.
    #[serde(default, deserialize_with = "localized")]
    pub localized_text: Option<LocalizedText>,
    /// Message parameters, as sent.
    #[serde(default, deserialize_with = "lenient::list")]
    pub parameters: Vec<Value>,
}

impl TaskStatusMessage {
    /// The text, if any.
    pub fn text(&self) -> Option<&str> {
        self.localized_text
            .as_ref()
            .and_then(|t| t.message.as_deref())
    }

    /// True for `ERROR` messages.
    pub fn is_error(&self) -> bool {
        self.message_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("ERROR"))
    }

    /// True for `WARN`/`WARNING` messages.
    pub fn is_warning(&self) -> bool {
        self.message_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("WARN") || t.eq_ignore_ascii_case("WARNING"))
    }
}

/// A localized message text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LocalizedText {
    /// The locale, e.g. `en-US`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub locale: Option<String>,
    /// The text.
    #[serde(default, deserialize_with = "lenient::string")]
    pub message: Option<String>,
}

/// The status of an ISC task, from task status (`GET .../task-status/{id}` or the list). An
/// aggregation's task has the aggregation's id; ISC keeps task statuses for 90 days, long after
/// the aggregation status endpoint forgets an aggregation (about an hour after it ends).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TaskStatus {
    /// The task id.
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: Option<String>,
    /// The task kind as sent (`QUARTZ`, `QUEUED_TASK`, ...).
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub task_type: Option<String>,
    /// The task's unique name, e.g. `Cloud Account Aggregation`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub unique_name: Option<String>,
    /// The description.
    #[serde(default, deserialize_with = "lenient::string")]
    pub description: Option<String>,
    /// The parent task's name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub parent_name: Option<String>,
    /// Who launched it.
    #[serde(default, deserialize_with = "lenient::string")]
    pub launcher: Option<String>,
    /// What it works on (the source, for an aggregation).
    #[serde(default, deserialize_with = "lenient::object_as")]
    pub target: Option<TaskTarget>,
    /// When it was created.
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub created: Option<DateTime<Utc>>,
    /// When it last changed.
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub modified: Option<DateTime<Utc>>,
    /// When it started.
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub launched: Option<DateTime<Utc>>,
    /// When it finished.
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub completed: Option<DateTime<Utc>>,
    /// How it ended; `None` while running.
    #[serde(default, deserialize_with = "completion_status")]
    pub completion_status: Option<CompletionStatus>,
    /// Its messages.
    #[serde(default, deserialize_with = "lenient::list")]
    pub messages: Vec<TaskStatusMessage>,
    /// Progress text.
    #[serde(default, deserialize_with = "lenient::string")]
    pub progress: Option<String>,
    /// Percent complete, 0 to 100.
    #[serde(default, deserialize_with = "lenient::count")]
    pub percent_complete: Option<u64>,
    /// Extra attributes (`appId`, `optimizedAggregation`, ...), as JSON values; a finished task
    /// also holds here the values its [`returns`](Self::returns) name.
    #[serde(default, deserialize_with = "lenient::object")]
    pub attributes: Map<String, Value>,
    /// The values the task returns: labels and the attributes that hold them.
    #[serde(default, deserialize_with = "lenient::list")]
    pub returns: Vec<TaskReturn>,
}

/// An output of a task: ISC's label and the attribute that holds the value. Task statuses call
/// the label `name`, start answers `displayLabel`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TaskReturn {
    /// The label, e.g. `TASK_OUT_ACCOUNT_AGGREGATION_TOTAL` (`displayLabel`, or `name`).
    #[serde(default, alias = "name", deserialize_with = "lenient::string")]
    pub display_label: Option<String>,
    /// The attribute name, e.g. `total`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub attribute_name: Option<String>,
}

impl TaskStatus {
    /// True while the task has no completion status.
    pub fn is_running(&self) -> bool {
        self.completion_status.is_none()
    }

    /// True when it ended other than `SUCCESS`/`WARNING`.
    pub fn is_failure(&self) -> bool {
        self.completion_status
            .as_ref()
            .is_some_and(|s| !s.is_success())
    }

    /// The source it works on: `target.id`, else `attributes.appId`.
    pub fn source_id(&self) -> Option<&str> {
        self.target
            .as_ref()
            .and_then(|t| t.id.as_deref())
            .or_else(|| self.attributes.get("appId").and_then(Value::as_str))
    }

    /// The texts of its messages, in order.
    pub fn message_texts(&self) -> Vec<&str> {
        self.messages.iter().filter_map(|m| m.text()).collect()
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {} {}",
            self.id.as_deref().unwrap_or("?"),
            self.completion_status
                .as_ref()
                .map_or("RUNNING", CompletionStatus::as_str)
        )?;
        if let Some(created) = self.created {
            write!(f, " (created {})", created.to_rfc3339())?;
        }
        Ok(())
    }
}

/// `completionStatus`: null or blank is running, anything else is parsed (numbers as text).
fn completion_status<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<CompletionStatus>, D::Error> {
    Ok(match lenient::value(d)? {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(CompletionStatus::parse(&s)),
        other => Some(CompletionStatus::parse(&other.to_string())),
    })
}

/// `localizedText`: an object, or (leniently) a bare string.
fn localized<'de, D: Deserializer<'de>>(d: D) -> Result<Option<LocalizedText>, D::Error> {
    Ok(match lenient::value(d)? {
        v @ Value::Object(_) => serde_json::from_value(v).ok(),
        Value::String(s) => Some(LocalizedText {
            locale: None,
            message: Some(s),
        }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_statuses_fold_case_and_underscores() {
        for (raw, want) in [
            ("SUCCESS", CompletionStatus::Success),
            ("Success", CompletionStatus::Success),
            ("TEMPERROR", CompletionStatus::TempError),
            ("TEMP_ERROR", CompletionStatus::TempError),
            ("warning", CompletionStatus::Warning),
        ] {
            assert_eq!(CompletionStatus::parse(raw), want, "{raw}");
        }
        assert_eq!(
            CompletionStatus::parse("PAUSED"),
            CompletionStatus::Unknown("PAUSED".into())
        );
    }

    #[test]
    fn odd_task_documents_decode() {
        for body in [
            r#"{}"#,
            r#"{"id":5,"completionStatus":null,"target":null,"messages":null,"percentComplete":"40"}"#,
            r#"{"completionStatus":7,"messages":[{"localizedText":null},"x"],"attributes":[]}"#,
            r#"{"target":"src","created":"garbage","launched":1713522033}"#,
        ] {
            let t: TaskStatus =
                serde_json::from_str(body).unwrap_or_else(|e| panic!("{body}: {e}"));
            let _ = t.to_string();
        }
        let t: TaskStatus = serde_json::from_str(
            r#"{"completionStatus":"Success","attributes":{"appId":"a1"},"percentComplete":"40"}"#,
        )
        .unwrap();
        assert!(t.completion_status.as_ref().unwrap().is_success());
        assert_eq!(t.source_id(), Some("a1"));
        assert_eq!(t.percent_complete, Some(40));
    }
}

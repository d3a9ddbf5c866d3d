//! What an aggregation loads — accounts or entitlements — and the facts that differ between the
//! two, as one table: the operations that start and read it, its task-status type, the schema
//! its file follows, the options it takes and the counts its task returns. Everything above reads
//! this table; nothing branches on the kind.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What an aggregation loads.
///
/// A delimited-file source is loaded with two files: its accounts (`load-accounts`) and its
/// entitlements (`load-entitlements`). Both start, resolve, wait and report the same way; this
/// is the only thing a caller chooses.
///
/// ```
/// use sailpoint_isc::AggregationKind;
///
/// let kind: AggregationKind = "entitlements".parse().unwrap();
/// assert_eq!(kind, AggregationKind::Entitlements);
/// assert_eq!(kind.task_type(), "CLOUD_GROUP_AGGREGATION");
/// assert_eq!(AggregationKind::default(), AggregationKind::Accounts);
/// assert!("groups".parse::<AggregationKind>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AggregationKind {
    /// Accounts (`importAccounts`, task type `CLOUD_ACCOUNT_AGGREGATION`).
    #[default]
    Accounts,
    /// Entitlements (`importEntitlements`, task type `CLOUD_GROUP_AGGREGATION`).
    Entitlements,
}

/// The facts of one kind.
#[derive(Debug)]
pub(crate) struct KindProfile {
    /// The name users write (`accounts`, `entitlements`).
    pub(crate) name: &'static str,
    /// Cross-version name of the operation that starts it.
    pub(crate) import_operation: &'static str,
    /// Cross-version name of its status operation; `None`: its progress is its task status.
    pub(crate) status_operation: Option<&'static str>,
    /// The task-status `type` filter value of its tasks.
    pub(crate) task_type: &'static str,
    /// Whether the start takes `disableOptimization`.
    pub(crate) takes_disable_optimization: bool,
    /// Cross-version name of the operation that answers the file's expected header (`text/csv`).
    pub(crate) header_operation: &'static str,
    /// The `include-types` value of its structured schema (`getSourceSchemas`).
    pub(crate) schema_type: &'static str,
    /// That schema's name (`account`, `group`), to pick it when several are answered.
    pub(crate) schema_name: &'static str,
    /// What its task returns, as published (label, attribute), used when a task lists none.
    pub(crate) returns: &'static [(&'static str, &'static str)],
}

/// One row per kind, in the enum's order.
static PROFILES: [KindProfile; 2] = [
    KindProfile {
        name: "accounts",
        import_operation: "importAccounts",
        status_operation: Some("getAccountAggregationStatus"),
        task_type: "CLOUD_ACCOUNT_AGGREGATION",
        takes_disable_optimization: true,
        header_operation: "getAccountsSchema",
        schema_type: "user",
        schema_name: "account",
        returns: &[],
    },
    KindProfile {
        name: "entitlements",
        import_operation: "importEntitlements",
        status_operation: None,
        task_type: "CLOUD_GROUP_AGGREGATION",
        takes_disable_optimization: false,
        header_operation: "getEntitlementsSchema",
        schema_type: "group",
        schema_name: "group",
        returns: &[
            (
                "TASK_OUT_ACCOUNT_GROUP_AGGREGATION_APPLICATIONS",
                "applications",
            ),
            ("TASK_OUT_ACCOUNT_GROUP_AGGREGATION_TOTAL", "total"),
            (
                "TASK_OUT_ACCOUNT_GROUP_AGGREGATION_CREATED",
                "groupsCreated",
            ),
            (
                "TASK_OUT_ACCOUNT_GROUP_AGGREGATION_UPDATED",
                "groupsUpdated",
            ),
            (
                "TASK_OUT_ACCOUNT_GROUP_AGGREGATION_DELETED",
                "groupsDeleted",
            ),
        ],
    },
];

impl AggregationKind {
    /// Every kind.
    pub const ALL: [AggregationKind; 2] =
        [AggregationKind::Accounts, AggregationKind::Entitlements];

    pub(crate) fn profile(self) -> &'static KindProfile {
        &PROFILES[self as usize]
    }

    /// `"accounts"` or `"entitlements"`.
    pub fn as_str(self) -> &'static str {
        self.profile().name
    }

    /// The task-status `type` filter value of this kind's tasks.
    pub fn task_type(self) -> &'static str {
        self.profile().task_type
    }

    /// Cross-version name of the operation that starts this kind (`importAccounts`, …).
    pub fn import_operation(self) -> &'static str {
        self.profile().import_operation
    }
}

impl fmt::Display for AggregationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown aggregation kind {given:?} (expected one of: accounts, entitlements)")]
pub struct UnknownKind {
    /// What was given.
    pub given: String,
}

impl FromStr for AggregationKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AggregationKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownKind {
                given: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_enums_order() {
        for kind in AggregationKind::ALL {
            assert_eq!(kind.as_str().parse::<AggregationKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }

    #[test]
    fn every_operation_it_names_is_generated_for_every_version() {
        for version in sailpoint_isc_api::ApiVersion::all() {
            for kind in AggregationKind::ALL {
                let p = kind.profile();
                let names = [
                    Some(p.import_operation),
                    p.status_operation,
                    Some(p.header_operation),
                ];
                for name in names.into_iter().flatten() {
                    assert!(version.operation(name).is_some(), "{version} has no {name}");
                }
            }
        }
    }
}

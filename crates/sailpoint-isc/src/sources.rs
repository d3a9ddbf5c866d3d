//! Source operations: find a source by its exact name (`listSources` with `name eq`), or by id.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use sailpoint_isc_api::ApiVersion;

use crate::error::{Error, SourceCandidate};
use crate::executor::{Call, Executor};
use crate::lenient::{self, ListOf};
use crate::retry::OperationKind;
use crate::tasks::quote;

/// Cross-version name of the operation that lists sources.
pub(crate) const LIST_SOURCES_OPERATION: &str = "listSources";

/// How many matches one lookup reads (enough to list the candidates of an ambiguous name).
const LOOKUP_LIMIT: u32 = 50;

/// A reference to another object (a source's owner, cluster, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Reference {
    /// Its id.
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: Option<String>,
    /// Its type, e.g. `IDENTITY`.
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub reference_type: Option<String>,
    /// Its name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
}

/// An ISC source, leniently: the fields a pipeline needs are typed, everything else of ISC's
/// large `Source` schema is kept in [`other`](Source::other).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Source {
    /// The source id (what aggregations are started on).
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: Option<String>,
    /// The name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    /// The description.
    #[serde(default, deserialize_with = "lenient::string")]
    pub description: Option<String>,
    /// The connector's name, e.g. `Delimited File`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub connector_name: Option<String>,
    /// The source type.
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub source_type: Option<String>,
    /// The status, e.g. `SOURCE_STATE_HEALTHY`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: Option<String>,
    /// Whether it is authoritative.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub authoritative: Option<bool>,
    /// Whether ISC considers it healthy.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub healthy: Option<bool>,
    /// Its owner.
    #[serde(default, deserialize_with = "lenient::object_as")]
    pub owner: Option<Reference>,
    /// When it was created.
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub created: Option<DateTime<Utc>>,
    /// When it last changed.
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub modified: Option<DateTime<Utc>>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Source {
    fn candidate(&self) -> SourceCandidate {
        SourceCandidate {
            id: self.id.clone().unwrap_or_default(),
            name: self.name.clone().unwrap_or_default(),
        }
    }
}

/// The source with this id, if listed (`listSources` with `id eq`), within `bound` and `cancel`.
pub(crate) async fn source_by_id(
    executor: &Executor,
    source_id: &str,
    version: ApiVersion,
    bound: Option<tokio::time::Instant>,
    cancel: Option<&tokio_util::sync::CancellationToken>,
) -> Result<Option<Source>, Error> {
    let query = [
        ("filters", format!("id eq {}", quote(source_id))),
        ("limit", "1".to_owned()),
    ];
    let found = list_sources(executor, version, &query, bound, cancel).await?;
    Ok(found.into_iter().next())
}

/// One page of `listSources` with `query`, decoded leniently, within `bound` and `cancel`.
async fn list_sources(
    executor: &Executor,
    version: ApiVersion,
    query: &[(&'static str, String)],
    bound: Option<tokio::time::Instant>,
    cancel: Option<&tokio_util::sync::CancellationToken>,
) -> Result<Vec<Source>, Error> {
    let call = Call {
        version,
        operation: LIST_SOURCES_OPERATION,
        kind: OperationKind::Read,
        path_args: &[],
        query,
        source_id: None,
        bound,
        cancel,
    };
    Ok(executor.call::<ListOf<Source>>(call).await?.value.0)
}

/// Finds the one source named exactly `name`.
pub(crate) async fn find_source_by_name(
    executor: &Executor,
    name: &str,
    version: ApiVersion,
) -> Result<Source, Error> {
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        return Err(Error::InvalidInput {
            message: format!("invalid source name {name:?}: it is empty or has control characters"),
        });
    }
    let query = [
        ("filters", format!("name eq {}", quote(name))),
        ("limit", LOOKUP_LIMIT.to_string()),
        ("offset", "0".to_owned()),
    ];
    let found = list_sources(executor, version, &query, None, None).await?;
    // ISC's `eq` may ignore case; the name must match exactly.
    let (mut exact, others): (Vec<Source>, Vec<Source>) = found
        .into_iter()
        .partition(|s| s.name.as_deref() == Some(name));
    match exact.len() {
        1 if exact[0]
            .id
            .as_deref()
            .is_some_and(|id| !id.trim().is_empty()) =>
        {
            Ok(exact.remove(0))
        }
        0 | 1 => Err(Error::SourceNotFound {
            name: name.to_owned(),
            similar: others.iter().map(Source::candidate).collect(),
        }),
        _ => Err(Error::AmbiguousSourceName {
            name: name.to_owned(),
            candidates: exact.iter().map(Source::candidate).collect(),
        }),
    }
}

/// Finds a source by its exact name. Created by
/// [`Client::find_source_by_name`](crate::Client::find_source_by_name).
#[derive(Debug, Clone)]
#[must_use = "nothing is sent until `.send()` is awaited"]
pub struct FindSourceByName {
    executor: Executor,
    name: String,
    version: ApiVersion,
}

impl FindSourceByName {
    pub(crate) fn new(executor: Executor, name: String, version: ApiVersion) -> Self {
        FindSourceByName {
            executor,
            name,
            version,
        }
    }

    /// Uses this API version instead of the client's default.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.version = version;
        self
    }

    /// The one source with this exact name; [`Error::SourceNotFound`] or
    /// [`Error::AmbiguousSourceName`] (with the candidates' ids) otherwise.
    pub async fn send(self) -> Result<Source, Error> {
        find_source_by_name(&self.executor, &self.name, self.version).await
    }
}

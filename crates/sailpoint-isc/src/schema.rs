//! A source's file schema (the expected CSV header, its account id column, its delimiter and
//! whether it sorts rows itself), read from ISC, and the pre-flight check of a file against it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use sailpoint_isc_api::ApiVersion;

use crate::error::Error;
use crate::executor::{Call, Executor};
use crate::ids::check_id as validate_id;
use crate::kind::AggregationKind;
use crate::lenient::{self, ListOf};
use crate::preflight::{CheckReport, FileSchema, Severity, check_path};
use crate::retry::OperationKind;
use crate::sources::source_by_id;

/// Cross-version name of the operation that lists a source's structured schemas.
const SCHEMAS_OPERATION: &str = "getSourceSchemas";

/// One structured schema (`getSourceSchemas`), the fields the check needs.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SourceSchema {
    #[serde(default, deserialize_with = "lenient::string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    identity_attribute: Option<String>,
}

/// Where a read made for a check may run: its bound and cancellation.
#[derive(Clone, Copy)]
struct Within<'a> {
    bound: Option<Instant>,
    cancel: Option<&'a CancellationToken>,
}

/// Reads the file schema of `source_id` for `kind`: the header line (`getAccountsSchema` /
/// `getEntitlementsSchema`, `text/csv`), the account id column (`getSourceSchemas`), and from the
/// source's connector settings (`listSources`, best effort) its delimiter and whether it sorts
/// rows itself (`isSortedByIndexColumn` false or unknown: unsorted rows are a warning).
pub(crate) async fn fetch_file_schema(
    executor: &Executor,
    source_id: &str,
    kind: AggregationKind,
    version: ApiVersion,
    bound: Option<Instant>,
    cancel: Option<&CancellationToken>,
) -> Result<FileSchema, Error> {
    validate_id("source id", source_id)?;
    let within = Within { bound, cancel };
    let (header, identity, settings) = futures_util::future::join3(
        header_line(executor, source_id, kind, version, within),
        identity_attribute(executor, source_id, kind, version, within),
        connector_attributes(executor, source_id, version, within),
    )
    .await;
    let mut schema = FileSchema::from_header_line(header?.lines().next().unwrap_or_default());
    if schema.columns.is_empty() {
        return Err(Error::InvalidInput {
            message: format!(
                "source {source_id} has no {kind} schema columns: there is nothing to check the file against"
            ),
        });
    }
    if let Some(identity) = identity? {
        schema = schema.with_identity_attribute(identity);
    }
    let attributes = match settings {
        Ok(attributes) => attributes,
        Err(error @ (Error::Cancelled { .. } | Error::DeadlineExceeded { .. })) => {
            return Err(error);
        }
        Err(error) => {
            tracing::warn!(source_id, error = %error, "cannot read the source's connector settings; checking with ',' and warnings for unsorted rows");
            Map::new()
        }
    };
    if let Some(delimiter) = attributes
        .get("delimiter")
        .and_then(Value::as_str)
        .and_then(|d| match d.as_bytes() {
            [one] if one.is_ascii() => Some(*one),
            _ => None,
        })
    {
        schema = schema.with_delimiter(delimiter);
    }
    let sorted_by_source = attributes
        .get("isSortedByIndexColumn")
        .and_then(|v| lenient::boolean(v).ok().flatten());
    // The connector sorts unless told the file is sorted already.
    Ok(schema.with_source_sorting(sorted_by_source != Some(true)))
}

async fn header_line(
    executor: &Executor,
    source_id: &str,
    kind: AggregationKind,
    version: ApiVersion,
    within: Within<'_>,
) -> Result<String, Error> {
    let call = Call {
        version,
        operation: kind.profile().header_operation,
        kind: OperationKind::Read,
        path_args: &[source_id],
        query: &[],
        source_id: Some(source_id),
        bound: within.bound,
        cancel: within.cancel,
    };
    Ok(executor.call::<String>(call).await?.value)
}

async fn identity_attribute(
    executor: &Executor,
    source_id: &str,
    kind: AggregationKind,
    version: ApiVersion,
    within: Within<'_>,
) -> Result<Option<String>, Error> {
    let query = [("include-types", kind.profile().schema_type.to_owned())];
    let call = Call {
        version,
        operation: SCHEMAS_OPERATION,
        kind: OperationKind::Read,
        path_args: &[source_id],
        query: &query,
        source_id: Some(source_id),
        bound: within.bound,
        cancel: within.cancel,
    };
    let schemas = executor.call::<ListOf<SourceSchema>>(call).await?.value.0;
    // The kind's schema by name when the answer has several; else the first.
    let wanted = kind.profile().schema_name;
    let chosen = schemas
        .iter()
        .find(|s| s.name.as_deref() == Some(wanted))
        .or(schemas.first());
    Ok(chosen
        .and_then(|s| s.identity_attribute.clone())
        .filter(|a| !a.trim().is_empty()))
}

/// The source's connector attributes (`delimiter`, `isSortedByIndexColumn`, …); empty when the
/// source is not listed or has none.
async fn connector_attributes(
    executor: &Executor,
    source_id: &str,
    version: ApiVersion,
    within: Within<'_>,
) -> Result<Map<String, Value>, Error> {
    let source = source_by_id(executor, source_id, version, within.bound, within.cancel).await?;
    Ok(source
        .and_then(|mut s| s.other.remove("connectorAttributes"))
        .and_then(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_default())
}

/// Checks `path` against the source's schema before an upload: warnings are logged, a problem
/// is [`Error::FileCheckFailed`] (nothing is sent).
pub(crate) async fn check_before_upload(
    executor: &Executor,
    source_id: &str,
    path: &Path,
    kind: AggregationKind,
    version: ApiVersion,
    bound: Option<Instant>,
    cancel: Option<&CancellationToken>,
) -> Result<CheckReport, Error> {
    let schema = fetch_file_schema(executor, source_id, kind, version, bound, cancel).await?;
    let report = check_path(path, schema).await?;
    for finding in report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
    {
        tracing::warn!(source_id, file = %path.display(), "{finding}");
    }
    if report.is_clean() {
        tracing::info!(source_id, file = %path.display(), rows = report.rows, "the file fits the source's schema");
        Ok(report)
    } else {
        Err(Error::FileCheckFailed {
            source_id: source_id.to_owned(),
            path: path.to_path_buf(),
            kind,
            report: Box::new(report),
        })
    }
}

/// Checks a file against a source's schema. Created by
/// [`Client::check_file`](crate::Client::check_file).
///
/// Reads the expected header and account id column from ISC (or takes the
/// [`schema`](Self::schema) given), then streams the file once (constant memory) and reports
/// every finding with its line. A file with problems is a report, not an error: look at
/// [`CheckReport::is_clean`].
///
/// ```no_run
/// use sailpoint_isc::{AggregationKind, Client};
///
/// # async fn demo(client: Client) -> Result<(), sailpoint_isc::Error> {
/// let report = client
///     .check_file("2c9180835d2e5168015d32f890ca1581", "hr.csv", AggregationKind::Accounts)
///     .send()
///     .await?;
/// for finding in &report.findings {
///     eprintln!("{finding}");
/// }
/// if !report.is_clean() {
///     std::process::exit(2);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "nothing is read until `.send()` is awaited"]
pub struct CheckFile {
    executor: Executor,
    source_id: String,
    path: PathBuf,
    kind: AggregationKind,
    api_version: ApiVersion,
    schema: Option<FileSchema>,
}

impl CheckFile {
    pub(crate) fn new(
        executor: Executor,
        source_id: String,
        path: PathBuf,
        kind: AggregationKind,
        api_version: ApiVersion,
    ) -> Self {
        CheckFile {
            executor,
            source_id,
            path,
            kind,
            api_version,
            schema: None,
        }
    }

    /// Uses this API version instead of the client's default.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = version;
        self
    }

    /// Checks against this schema instead of reading the source's from ISC.
    pub fn schema(mut self, schema: FileSchema) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Reads the schema (unless given), then checks the file.
    pub async fn send(self) -> Result<CheckReport, Error> {
        let schema = match self.schema {
            Some(schema) => schema,
            None => {
                fetch_file_schema(
                    &self.executor,
                    &self.source_id,
                    self.kind,
                    self.api_version,
                    None,
                    None,
                )
                .await?
            }
        };
        check_path(&self.path, schema).await
    }
}

/// Reads a source's file schema for one kind. Created by
/// [`Client::file_schema`](crate::Client::file_schema).
///
/// ```no_run
/// use sailpoint_isc::{AggregationKind, Client};
///
/// # async fn demo(client: Client) -> Result<(), sailpoint_isc::Error> {
/// let schema = client
///     .file_schema("2c9180835d2e5168015d32f890ca1581", AggregationKind::Entitlements)
///     .send()
///     .await?;
/// println!("{}", schema.columns.join(","));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "nothing is read until `.send()` is awaited"]
pub struct GetFileSchema {
    executor: Executor,
    source_id: String,
    kind: AggregationKind,
    api_version: ApiVersion,
}

impl GetFileSchema {
    pub(crate) fn new(
        executor: Executor,
        source_id: String,
        kind: AggregationKind,
        api_version: ApiVersion,
    ) -> Self {
        GetFileSchema {
            executor,
            source_id,
            kind,
            api_version,
        }
    }

    /// Uses this API version instead of the client's default.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = version;
        self
    }

    /// Reads the header, the account id column and the connector's settings.
    pub async fn send(self) -> Result<FileSchema, Error> {
        fetch_file_schema(
            &self.executor,
            &self.source_id,
            self.kind,
            self.api_version,
            None,
            None,
        )
        .await
    }
}

//! What the sandbox received: uploads and requests, for tests to assert on.

use std::collections::HashMap;
use std::sync::Mutex;

use sailpoint_isc_api::ApiVersion;

use crate::config::Operation;

/// The `file` part of an import request, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadedFile {
    /// The part's file name, if the client sent one.
    pub file_name: Option<String>,
    /// Number of bytes in the part.
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the part's bytes.
    pub sha256: String,
    /// CSV data rows (records after the header row; blank lines are not counted).
    pub rows: u64,
}

/// One import (`load-accounts`, or `load-entitlements` in
/// [`Sandbox::entitlement_uploads`](crate::Sandbox::entitlement_uploads)) request that the
/// sandbox accepted (answered 202, or would have before an injected
/// [`Fault::DropAfterProcessing`](crate::Fault::DropAfterProcessing),
/// [`Fault::StatusAfterProcessing`](crate::Fault::StatusAfterProcessing) or
/// [`Fault::DelayAfterProcessing`](crate::Fault::DelayAfterProcessing)). Requests refused with a
/// 400 (a bad body, a header that does not match the source's schema) are not uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Upload {
    /// The source id from the path.
    pub source_id: String,
    /// The API version the request used.
    pub api_version: ApiVersion,
    /// The client id of the bearer token.
    pub client_id: String,
    /// The `disableOptimization` value as sent, if any (never for entitlement loads).
    pub disable_optimization: Option<String>,
    /// The file part, if any (none for direct-connect sources).
    pub file: Option<UploadedFile>,
    /// The task id returned (`task.id`, the aggregation id; the flat `id` of an entitlement load).
    pub aggregation_id: String,
    /// False when the aggregation was refused because another task (an aggregation or an
    /// entitlement load) was running on the source.
    pub accepted: bool,
}

/// One request to a known operation, in the order the sandbox finished with it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestRecord {
    /// Which operation.
    pub operation: Operation,
    /// The API version, `None` for the token endpoint.
    pub api_version: Option<ApiVersion>,
    /// The status answered, `None` if the connection was dropped without a response.
    pub status: Option<u16>,
    /// When the request arrived (its headers were read).
    pub received: std::time::Instant,
}

#[derive(Debug, Default)]
struct Inner {
    uploads: Vec<Upload>,
    entitlement_uploads: Vec<Upload>,
    requests: Vec<RequestRecord>,
    counts: HashMap<Operation, usize>,
}

/// Thread-safe log of uploads and requests.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    inner: Mutex<Inner>,
}

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a request when it arrives.
    pub(crate) fn count(&self, op: Operation) {
        *self.lock().counts.entry(op).or_default() += 1;
    }

    /// Logs a request when the sandbox is done with it.
    pub(crate) fn finish(&self, record: RequestRecord) {
        self.lock().requests.push(record);
    }

    pub(crate) fn upload(&self, upload: Upload) {
        self.lock().uploads.push(upload);
    }

    pub(crate) fn uploads(&self) -> Vec<Upload> {
        self.lock().uploads.clone()
    }

    pub(crate) fn entitlement_upload(&self, upload: Upload) {
        self.lock().entitlement_uploads.push(upload);
    }

    pub(crate) fn entitlement_uploads(&self) -> Vec<Upload> {
        self.lock().entitlement_uploads.clone()
    }

    /// Accepted entitlement loads (not refused ones) on `source_id`.
    pub(crate) fn entitlement_loads_started(&self, source_id: &str) -> usize {
        self.lock()
            .entitlement_uploads
            .iter()
            .filter(|u| u.accepted && u.source_id == source_id)
            .count()
    }

    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        self.lock().requests.clone()
    }

    /// Accepted imports (aggregations that ran, not refused ones) on `source_id`.
    pub(crate) fn aggregations_started(&self, source_id: &str) -> usize {
        self.lock()
            .uploads
            .iter()
            .filter(|u| u.accepted && u.source_id == source_id)
            .count()
    }

    pub(crate) fn request_count(&self, op: Operation) -> usize {
        self.lock().counts.get(&op).copied().unwrap_or(0)
    }
}

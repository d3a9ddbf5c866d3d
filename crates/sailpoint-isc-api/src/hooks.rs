//! The one hand-written piece of request handling the generated clients call (from their
//! `ClientHooks::pre`): context headers, the experimental header, `Accept` for answers that
//! are not JSON, and no `api-version`.

use reqwest::header::{ACCEPT, HeaderName, HeaderValue};

use crate::context::RequestContext;
use crate::version::Operation;

/// Header SailPoint requires on experimental operations.
pub const EXPERIMENTAL_HEADER: &str = "x-sailpoint-experimental";

/// Prepares a request built by a generated operation.
///
/// `operation` is its entry in the generated `operations` table, so the experimental header
/// and the accepted media type follow the vendored spec with no hand-kept list.
pub(crate) fn prepare_request(
    context: &RequestContext,
    request: &mut reqwest::Request,
    operation: Option<&Operation>,
) {
    let headers = request.headers_mut();
    // progenitor adds `api-version: <info.version>`; ISC does not use it.
    headers.remove("api-version");
    for (name, value) in context.headers() {
        headers.insert(name.clone(), value.clone());
    }
    let Some(operation) = operation else {
        return;
    };
    if operation.experimental {
        headers.insert(
            HeaderName::from_static(EXPERIMENTAL_HEADER),
            HeaderValue::from_static("true"),
        );
    }
    // progenitor asks for JSON on typed answers and for nothing on raw ones (the `text/csv`
    // schema headers): ask for the documented type, and JSON for the error bodies.
    if !headers.contains_key(ACCEPT)
        && let Some(accept) = accept_value(operation)
    {
        headers.insert(ACCEPT, accept);
    }
}

/// The `Accept` header for an operation whose success body is not JSON: its documented media
/// type, then JSON (for error bodies). `None` for a JSON (or bodiless) answer.
///
/// ```
/// use sailpoint_isc_api::{ApiVersion, accept_value};
///
/// let header = accept_value(ApiVersion::V2025.operation("getAccountsSchema").unwrap());
/// assert_eq!(header.unwrap(), "text/csv, application/json");
/// assert!(accept_value(ApiVersion::V2025.operation("getTaskStatus").unwrap()).is_none());
/// ```
pub fn accept_value(operation: &Operation) -> Option<HeaderValue> {
    let media = operation.success_media_type;
    if media.is_empty() || operation.answers_json() {
        return None;
    }
    HeaderValue::from_str(&format!("{media}, application/json")).ok()
}

//! The one hand-written piece of request handling the generated clients call (from their
//! `ClientHooks::pre`): context headers, the experimental header, and no `api-version`.

use reqwest::header::{HeaderName, HeaderValue};

use crate::RequestContext;

/// Header SailPoint requires on experimental operations.
pub const EXPERIMENTAL_HEADER: &str = "x-sailpoint-experimental";

/// Prepares a request built by a generated operation.
///
/// `experimental` comes from the generated `operations` table, so the header follows the
/// vendored spec with no hand-kept list.
pub(crate) fn prepare_request(
    context: &RequestContext,
    request: &mut reqwest::Request,
    experimental: bool,
) {
    let headers = request.headers_mut();
    // progenitor adds `api-version: <info.version>`; ISC does not use it.
    headers.remove("api-version");
    for (name, value) in context.headers() {
        headers.insert(name.clone(), value.clone());
    }
    if experimental {
        headers.insert(
            HeaderName::from_static(EXPERIMENTAL_HEADER),
            HeaderValue::from_static("true"),
        );
    }
}

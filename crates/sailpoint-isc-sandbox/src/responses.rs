//! The JSON error bodies ISC uses, by status code.
//!
//! * 400, 403, 404, 500 and other codes: `ErrorResponseDto`
//!   (`{detailCode, trackingId, messages: [{locale, localeOrigin, text}]}`);
//! * 401: the inline `{"error": "..."}` object;
//! * 429: the inline `{"message": " Rate Limit Exceeded "}` object, plus a `Retry-After` header.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The id of the current request, also used as the `trackingId` of error bodies.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub String);

/// Name of the header carrying the request id on every response.
pub(crate) const REQUEST_ID_HEADER: &str = "slpt-request-id";

/// Header with the total number of matches of a collection request sent with `count=true`.
pub(crate) const TOTAL_COUNT_HEADER: &str = "x-total-count";

/// Header marking a response of a deprecated operation.
pub(crate) const DEPRECATED_HEADER: &str = "x-deprecated";

/// The body of 429 responses, spaces included.
pub(crate) const RATE_LIMIT_MESSAGE: &str = " Rate Limit Exceeded ";

/// An `ErrorResponseDto` response.
pub(crate) fn error_dto(status: StatusCode, tracking_id: &str, text: &str) -> Response {
    let detail_code = match status.as_u16() {
        400 => "400.1 Bad Request Content".to_owned(),
        403 => "403 Forbidden".to_owned(),
        404 => "404 Not found".to_owned(),
        500 => "500.0 Internal Fault".to_owned(),
        _ => format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error")
        ),
    };
    let body = json!({
        "detailCode": detail_code,
        "trackingId": tracking_id,
        "messages": [{"locale": "en-US", "localeOrigin": "DEFAULT", "text": text}],
    });
    (status, Json(body)).into_response()
}

/// A 401 response with the inline `{error}` body.
pub(crate) fn unauthorized(message: &str) -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({ "error": message }))).into_response()
}

/// A response with the inline `{error}` body and an arbitrary status (ISC uses it for the missing experimental header too).
pub(crate) fn inline_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// A 429 response with `Retry-After` in whole seconds.
pub(crate) fn rate_limited(retry_after_secs: u64) -> Response {
    let mut resp = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({ "message": RATE_LIMIT_MESSAGE })),
    )
        .into_response();
    set_retry_after(&mut resp, retry_after_secs);
    resp
}

/// Sets the `Retry-After` header (seconds form).
pub(crate) fn set_retry_after(resp: &mut Response, secs: u64) {
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
}

/// The default body an injected status fault answers with, matching the code's usual shape.
pub(crate) fn default_for_status(status: StatusCode, tracking_id: &str) -> Response {
    match status.as_u16() {
        401 => unauthorized("JWT validation failed: JWT is expired"),
        429 => (status, Json(json!({ "message": RATE_LIMIT_MESSAGE }))).into_response(),
        _ => error_dto(status, tracking_id, "Injected fault."),
    }
}

/// Keeps only the listed top-level properties of an object, or of each object of an array: how
/// one full body becomes the body of a version whose schema has fewer fields. An empty list
/// keeps everything (a schema without declared properties).
pub(crate) fn project(value: Value, properties: &[&str]) -> Value {
    if properties.is_empty() {
        return value;
    }
    match value {
        Value::Object(mut map) => {
            map.retain(|k, _| properties.contains(&k.as_str()));
            Value::Object(map)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| project(item, properties))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_keeps_listed_properties() {
        let full = json!({"a": 1, "b": {"c": 2}, "d": null});
        assert_eq!(
            project(full.clone(), &["b", "d", "x"]),
            json!({"b": {"c": 2}, "d": null})
        );
        assert_eq!(project(full.clone(), &[]), full);
        assert_eq!(
            project(json!([{"a": 1, "b": 2}, {"b": 3}]), &["b"]),
            json!([{"b": 2}, {"b": 3}])
        );
        assert_eq!(project(json!("s"), &["a"]), json!("s"));
    }
}

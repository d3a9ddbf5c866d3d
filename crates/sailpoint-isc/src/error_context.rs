//! What an [`Error`](crate::Error) says about the request and response behind it: the
//! [`ErrorContext`] (operation, version, status, request id, attempts) and ISC's decoded error
//! body ([`ErrorBody`]), read leniently from any of its shapes.

use std::fmt;

use reqwest::StatusCode;
use sailpoint_isc_api::ApiVersion;
use serde_json::Value;

/// The response header ISC uses to identify a request; quote it to SailPoint support.
pub const REQUEST_ID_HEADER: &str = "SLPT-Request-ID";

/// The message ISC returns (as `{"error": ..}`, HTTP 400) when an experimental endpoint is called
/// without `X-SailPoint-Experimental: true`.
pub const EXPERIMENTAL_HEADER_MISSING_MESSAGE: &str = "Experimental Header is missing or invalid.";

/// Longest body excerpt kept in an [`ErrorContext`].
pub(crate) const SNIPPET_CHARS: usize = 300;

/// Details of the request and response behind an [`Error`](crate::Error).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ErrorContext {
    /// The operation, as ISC's operationId (`importAccounts`, `getAccountAggregationStatus`) or
    /// `oauthToken`.
    pub operation: &'static str,
    /// The API version called, when the operation is versioned.
    pub api_version: Option<ApiVersion>,
    /// The HTTP status, when a response arrived.
    pub status: Option<StatusCode>,
    /// The `SLPT-Request-ID` response header.
    pub request_id: Option<String>,
    /// How many attempts were made, the failing one included.
    pub attempts: u32,
    /// The decoded error body, when it was JSON.
    pub body: Option<ErrorBody>,
    /// The start of the body when it could not be decoded (e.g. a proxy's HTML page).
    pub body_snippet: Option<String>,
}

impl ErrorContext {
    pub(crate) fn new(operation: &'static str, api_version: Option<ApiVersion>) -> Self {
        ErrorContext {
            operation,
            api_version,
            ..Default::default()
        }
    }

    /// ISC's `trackingId`, from the error body.
    pub fn tracking_id(&self) -> Option<&str> {
        self.body.as_ref().and_then(|b| b.tracking_id.as_deref())
    }

    /// The error messages from the body (`messages[].text`, `causes[].text`, `error`, `message`).
    pub fn messages(&self) -> Vec<&str> {
        self.body.as_ref().map_or_else(Vec::new, |b| {
            b.messages
                .iter()
                .chain(&b.causes)
                .map(|m| m.text.as_str())
                .collect()
        })
    }
}

impl fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.operation)?;
        if let Some(version) = self.api_version {
            write!(f, " ({version})")?;
        }
        if let Some(status) = self.status {
            write!(f, " HTTP {}", status.as_u16())?;
        }
        let messages = self.messages();
        if !messages.is_empty() {
            write!(f, ": {}", messages.join("; "))?;
        } else if let Some(code) = self.body.as_ref().and_then(|b| b.detail_code.as_deref()) {
            write!(f, ": {code}")?;
        } else if let Some(snippet) = &self.body_snippet {
            write!(f, ": body starts {snippet:?}")?;
        }
        write!(f, " [attempts={}", self.attempts)?;
        if let Some(id) = self.tracking_id() {
            write!(f, ", trackingId={id}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, ", {REQUEST_ID_HEADER}={id}")?;
        }
        f.write_str("]")
    }
}

/// An ISC error body, decoded leniently from `ErrorResponseDto`
/// (`{detailCode, trackingId, messages[], causes[]}`) or the `{error}` / `{message}` shapes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorBody {
    /// `detailCode`, e.g. `400.1 Bad Request Content`.
    pub detail_code: Option<String>,
    /// `trackingId`.
    pub tracking_id: Option<String>,
    /// `messages[]`, plus the text of `error` / `message` / `error_description` fields.
    pub messages: Vec<ErrorMessage>,
    /// `causes[]`.
    pub causes: Vec<ErrorMessage>,
}

/// One localized error message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorMessage {
    /// `locale`, e.g. `en-US`.
    pub locale: Option<String>,
    /// `localeOrigin`, e.g. `DEFAULT` or `REQUEST`.
    pub locale_origin: Option<String>,
    /// `text`.
    pub text: String,
}

impl ErrorBody {
    /// Decodes a body leniently; `None` when it is not a JSON object with any known field.
    pub fn parse(body: &[u8]) -> Option<ErrorBody> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let object = value.as_object()?;
        let text = |v: &Value| -> Option<String> {
            match v {
                Value::Null => None,
                Value::String(s) => Some(s.trim().to_owned()),
                other => Some(other.to_string()),
            }
        };
        let list = |v: Option<&Value>| -> Vec<ErrorMessage> {
            let Some(Value::Array(items)) = v else {
                return Vec::new();
            };
            items
                .iter()
                .filter_map(|item| match item {
                    Value::Object(m) => Some(ErrorMessage {
                        locale: m.get("locale").and_then(text),
                        locale_origin: m.get("localeOrigin").and_then(text),
                        text: m.get("text").and_then(text)?,
                    }),
                    Value::String(s) => Some(ErrorMessage {
                        text: s.clone(),
                        ..Default::default()
                    }),
                    _ => None,
                })
                .collect()
        };
        let mut body = ErrorBody {
            detail_code: object.get("detailCode").and_then(text),
            tracking_id: object.get("trackingId").and_then(text),
            messages: list(object.get("messages")),
            causes: list(object.get("causes")),
        };
        for key in ["error", "message", "error_description"] {
            if let Some(t) = object.get(key).and_then(text)
                && !t.is_empty()
            {
                body.messages.push(ErrorMessage {
                    text: t,
                    ..Default::default()
                });
            }
        }
        let empty = body.detail_code.is_none()
            && body.tracking_id.is_none()
            && body.messages.is_empty()
            && body.causes.is_empty();
        (!empty).then_some(body)
    }

    /// True when this is ISC's "Experimental Header is missing or invalid." answer.
    pub fn is_experimental_header_missing(&self) -> bool {
        self.messages
            .iter()
            .any(|m| m.text.to_ascii_lowercase().contains("experimental header"))
    }
}

/// The start of a body as text, whitespace collapsed, at most a few hundred characters.
pub(crate) fn body_snippet(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return None;
    }
    let mut snippet: String = collapsed.chars().take(SNIPPET_CHARS).collect();
    if collapsed.chars().count() > SNIPPET_CHARS {
        snippet.push('…');
    }
    Some(snippet)
}

//! One failed HTTP attempt ([`Failure`]) as the executor sees it, before it is classified for
//! retrying and turned into an [`Error`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::error::Error;
use crate::error_context::{ErrorBody, ErrorContext, REQUEST_ID_HEADER, body_snippet};
use crate::retry::{FailureKind, RetryDecision};

/// One failed attempt, before it becomes an [`Error`].
#[derive(Debug)]
pub(crate) enum Failure {
    /// A non-success HTTP response (body read, capped).
    Response {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
    /// No response: connect/DNS/TLS error, timeout, connection lost.
    Transport(reqwest::Error),
    /// A response whose body could not be decoded.
    Undecodable {
        status: Option<StatusCode>,
        headers: Option<HeaderMap>,
        /// `None` when the body must not be shown (e.g. a token response).
        body: Option<Bytes>,
        reason: String,
    },
    /// A local error that ends the operation as is (e.g. the file vanished between attempts).
    Local(Error),
    /// An upload cut before its last byte was handed to the connection (stalled, or the link
    /// broke): ISC cannot have accepted the incomplete body, so nothing started.
    BodyCut {
        sent: u64,
        total: u64,
        reason: String,
        source: Option<reqwest::Error>,
    },
    /// An upload sent to its last byte, then no answer within the response timeout (or the
    /// settle time, once cancelled).
    NoAnswer { waited: Duration, cancelled: bool },
}

/// Longest error body read from the wire.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Reads at most `MAX_ERROR_BODY` bytes of a byte stream; read errors end the body early.
pub(crate) async fn read_capped<S, E>(mut stream: S) -> Bytes
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
{
    use futures_util::StreamExt;
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { break };
        let room = MAX_ERROR_BODY - buf.len();
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buf.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    Bytes::from(buf)
}

impl Failure {
    /// A failure from a non-success response, with its body read (capped).
    pub(crate) async fn from_response(response: reqwest::Response) -> Failure {
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_capped(response.bytes_stream()).await;
        Failure::Response {
            status,
            headers,
            body,
        }
    }

    /// Replaces `secret` in the body with `[REDACTED]` before any snippet or message is taken
    /// from it (a server may echo the request back).
    pub(crate) fn redact(&mut self, secret: &str) {
        let body = match self {
            Failure::Response { body, .. } => body,
            Failure::Undecodable {
                body: Some(body), ..
            } => body,
            _ => return,
        };
        let needle = secret.as_bytes();
        if needle.is_empty() || !body.windows(needle.len()).any(|w| w == needle) {
            return;
        }
        let mut out = Vec::with_capacity(body.len());
        let mut rest: &[u8] = body;
        while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(b"[REDACTED]");
            rest = &rest[at + needle.len()..];
        }
        out.extend_from_slice(rest);
        *body = Bytes::from(out);
    }

    /// What went wrong, for [`crate::retry::decide`].
    pub(crate) fn kind(&self) -> FailureKind {
        match self {
            Failure::Response { status, .. } => FailureKind::from_status(status.as_u16()),
            Failure::Transport(e) => FailureKind::from_transport(e),
            // The request never arrived whole: as good as not sent.
            Failure::BodyCut { .. } => FailureKind::NotSent,
            Failure::NoAnswer { .. } => FailureKind::TimedOut,
            Failure::Undecodable { .. } | Failure::Local(_) => FailureKind::Undecodable,
        }
    }

    /// The response's `Retry-After`, parsed.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        let headers = match self {
            Failure::Response { headers, .. } => headers,
            Failure::Undecodable {
                headers: Some(h), ..
            } => h,
            _ => return None,
        };
        let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
        crate::retry::parse_retry_after(value, std::time::SystemTime::now())
    }

    /// The HTTP status, when a response arrived.
    pub(crate) fn status(&self) -> Option<StatusCode> {
        match self {
            Failure::Response { status, .. } => Some(*status),
            Failure::Undecodable { status, .. } => *status,
            _ => None,
        }
    }

    /// Turns the final failure into the caller's error.
    pub(crate) fn into_error(
        self,
        mut context: ErrorContext,
        attempts: u32,
        decision: RetryDecision,
        source_id: Option<&str>,
    ) -> Error {
        context.attempts = attempts;
        let retry_after = self.retry_after();
        let (status, transport) = match self {
            Failure::Local(error) => return error,
            Failure::BodyCut {
                sent,
                total,
                reason,
                source,
            } => {
                return Error::UploadInterrupted {
                    sent,
                    total,
                    reason,
                    context: Box::new(context),
                    source: source.map(Arc::new),
                };
            }
            Failure::NoAnswer { waited, cancelled } => {
                let context = Box::new(context);
                return match source_id {
                    Some(source_id) if decision == RetryDecision::OutcomeUnknown => {
                        Error::OutcomeUnknown {
                            source_id: source_id.to_owned(),
                            reason: if cancelled {
                                format!(
                                    "stopped after the request's last byte was sent; no answer \
                                     within {waited:?}"
                                )
                            } else {
                                format!(
                                    "no answer within {waited:?} after the upload's last byte \
                                     (response timeout)"
                                )
                            },
                            context,
                            source: None,
                            lookup: None,
                        }
                    }
                    _ => Error::DeadlineExceeded {
                        deadline: waited,
                        context,
                    },
                };
            }
            Failure::Transport(e) => (None, Some(Arc::new(e))),
            Failure::Response {
                status,
                headers,
                body,
            } => {
                context.status = Some(status);
                context.request_id = request_id(&headers);
                context.body = ErrorBody::parse(&body);
                if context.body.is_none() {
                    context.body_snippet = body_snippet(&body);
                }
                (Some(status), None)
            }
            Failure::Undecodable {
                status,
                headers,
                body,
                reason,
            } => {
                context.status = status;
                context.request_id = headers.as_ref().and_then(request_id);
                context.body_snippet = body.as_deref().and_then(body_snippet);
                if decision == RetryDecision::OutcomeUnknown
                    && let Some(source_id) = source_id
                {
                    return Error::OutcomeUnknown {
                        source_id: source_id.to_owned(),
                        reason,
                        context: Box::new(context),
                        source: None,
                        lookup: None,
                    };
                }
                return Error::UndecodableBody {
                    reason,
                    context: Box::new(context),
                };
            }
        };
        let context = Box::new(context);
        if decision == RetryDecision::OutcomeUnknown
            && let Some(source_id) = source_id
        {
            let reason = match (&status, &transport) {
                (Some(s), _) => format!("the server answered HTTP {}", s.as_u16()),
                (None, Some(e)) if e.is_timeout() => {
                    "the request timed out after it was sent".to_owned()
                }
                _ => "the connection was lost after the request was sent".to_owned(),
            };
            return Error::OutcomeUnknown {
                source_id: source_id.to_owned(),
                reason,
                context,
                source: transport,
                lookup: None,
            };
        }
        if let Some(source) = transport {
            return if source.is_timeout() && !source.is_connect() {
                Error::Timeout { context, source }
            } else {
                Error::Transport { context, source }
            };
        }
        let status = status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match status.as_u16() {
            429 => Error::RateLimited {
                retry_after,
                context,
            },
            401 => Error::Unauthorized { context },
            403 => Error::Forbidden { context },
            404 => Error::NotFound { context },
            400 if context
                .body
                .as_ref()
                .is_some_and(ErrorBody::is_experimental_header_missing) =>
            {
                Error::ExperimentalHeaderMissing { context }
            }
            400 => Error::BadRequest { context },
            // A proxy's HTML page on 502 is a server error too; its snippet is in the context.
            500..=599 => Error::Server { context },
            _ => Error::UnexpectedStatus { context },
        }
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::*;
    use crate::error_context::*;
    use sailpoint_isc_api::ApiVersion;

    #[test]
    fn parses_error_response_dto() {
        let body = br#"{"detailCode":"400.1 Bad Request Content","trackingId":"abc123",
            "messages":[{"locale":"en-US","localeOrigin":"DEFAULT","text":"bad csv"}],
            "causes":[{"locale":null,"localeOrigin":null,"text":"row 3"}]}"#;
        let parsed = ErrorBody::parse(body).unwrap();
        assert_eq!(parsed.tracking_id.as_deref(), Some("abc123"));
        assert_eq!(parsed.messages[0].text, "bad csv");
        assert_eq!(parsed.messages[0].locale.as_deref(), Some("en-US"));
        assert_eq!(parsed.causes[0].text, "row 3");
    }

    #[test]
    fn parses_error_and_message_shapes() {
        let e =
            ErrorBody::parse(br#"{"error":"Experimental Header is missing or invalid."}"#).unwrap();
        assert!(e.is_experimental_header_missing());
        let m = ErrorBody::parse(br#"{"message":" Rate Limit Exceeded "}"#).unwrap();
        assert_eq!(m.messages[0].text, "Rate Limit Exceeded");
        let j = ErrorBody::parse(br#"{"error":{"code":7}}"#).unwrap();
        assert_eq!(j.messages[0].text, r#"{"code":7}"#);
        assert!(ErrorBody::parse(b"<html>bad gateway</html>").is_none());
        assert!(ErrorBody::parse(b"{}").is_none());
        assert!(ErrorBody::parse(b"[1,2]").is_none());
    }

    #[test]
    fn snippet_is_short_and_collapsed() {
        let html = format!("<html>\n  <body>{}</body></html>", "x".repeat(1000));
        let s = body_snippet(html.as_bytes()).unwrap();
        assert!(s.starts_with("<html> <body>xxx"));
        assert!(s.chars().count() <= SNIPPET_CHARS + 1);
        assert!(body_snippet(b"  \n").is_none());
    }

    #[test]
    fn error_mapping_by_status() {
        let response = |status: u16, body: &'static str| Failure::Response {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::from_static(body.as_bytes()),
        };
        let ctx = || ErrorContext::new("getAccountAggregationStatus", Some(ApiVersion::V2025));
        let e = response(
            400,
            r#"{"error":"Experimental Header is missing or invalid."}"#,
        )
        .into_error(ctx(), 1, RetryDecision::DoNotRetry, None);
        assert!(matches!(e, Error::ExperimentalHeaderMissing { .. }), "{e}");
        let e = response(403, "{}").into_error(ctx(), 1, RetryDecision::DoNotRetry, None);
        assert!(matches!(e, Error::Forbidden { .. }));
        let e = response(502, "<html>Bad Gateway</html>").into_error(
            ctx(),
            4,
            RetryDecision::Retry,
            None,
        );
        match &e {
            Error::Server { context } => {
                assert_eq!(context.attempts, 4);
                assert!(
                    context
                        .body_snippet
                        .as_deref()
                        .unwrap()
                        .contains("Bad Gateway")
                );
            }
            other => panic!("{other:?}"),
        }
        let e =
            response(500, "{}").into_error(ctx(), 1, RetryDecision::OutcomeUnknown, Some("src1"));
        assert!(e.is_outcome_unknown());
        assert!(e.to_string().contains("recent tasks"), "{e}");
    }
}

//! The HTTP client the SDK sends every request through, and the bounds it carries itself.

use std::time::Duration;

use crate::config::{self, TimeoutConfig};
use crate::error::Error;

/// Most redirects followed (same origin only) by the client the SDK builds.
const MAX_REDIRECTS: usize = 5;

/// The HTTP client of an executor.
///
/// Built by the SDK: one client without a read timeout, for everything. Requests without a file
/// (reads, token requests) get one timer per attempt (`RequestBuilder::timeout`: the read
/// timeout, or what is left of the total deadline when that is shorter); uploads are bounded by
/// their progress (stall and response timeouts, `body_progress`), never by their length:
/// reqwest's client-wide read timeout also runs while a body is being sent, so it would cut any
/// upload longer than itself. (One client, not a twin with that timeout for the small requests:
/// each client the SDK builds loads and parses the system's root certificates.) A caller's own
/// client is used for everything, as configured.
#[derive(Clone)]
pub(crate) struct HttpClient {
    pub(crate) client: reqwest::Client,
    /// The per-attempt bound of a request without a file (`None`: a caller's client).
    pub(crate) read_timeout: Option<Duration>,
    /// Whether the client sends the SDK's User-Agent itself (the SDK's own client), or each
    /// request must carry it (a caller's client).
    pub(crate) sends_user_agent: bool,
}

impl HttpClient {
    /// The caller's client, for everything, with no timeouts added.
    pub(crate) fn custom(client: reqwest::Client) -> Self {
        HttpClient {
            client,
            read_timeout: None,
            sends_user_agent: false,
        }
    }

    /// The SDK's own client (same-origin redirects only, the SDK's User-Agent).
    pub(crate) fn build(timeouts: &TimeoutConfig) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .user_agent(config::USER_AGENT)
            .connect_timeout(practical(timeouts.connect))
            .redirect(same_origin_redirects())
            .build()
            .map_err(|e| Error::Configuration {
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(HttpClient {
            client,
            read_timeout: Some(practical(timeouts.read)),
            sends_user_agent: true,
        })
    }
}

/// Follows redirects only within the origin of the request (scheme, host and port), so neither
/// a token nor the client secret can be carried to another host. A cross-origin redirect is
/// returned as the response it is (an [`Error::UnexpectedStatus`]).
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first();
        let same_origin = first.is_some_and(|first| {
            first.scheme() == attempt.url().scheme()
                && first.host_str() == attempt.url().host_str()
                && first.port_or_known_default() == attempt.url().port_or_known_default()
        });
        if !same_origin {
            tracing::warn!(
                to = %attempt.url().origin().ascii_serialization(),
                "not following a redirect to another origin"
            );
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// A duration the HTTP stack can add to an instant: anything beyond a century (up to
/// `Duration::MAX`, "practically forever") is a century.
fn practical(duration: Duration) -> Duration {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    duration.min(CENTURY)
}

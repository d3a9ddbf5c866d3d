//! The HTTP client the SDK sends every request through, and the bounds it carries itself.

use std::time::Duration;

use crate::config::{self, TimeoutConfig};
use crate::error::Error;

/// Most redirects followed (same origin only) by the client the SDK builds.
const MAX_REDIRECTS: usize = 5;

/// The HTTP client of an executor.
///
/// Built by the SDK: one client for everything, whose requests are each bounded by the read
/// timeout (`ClientBuilder::timeout`: one timer per request, covering its answer and body).
/// A request bounded otherwise lifts it with a per-request timeout ([`Self::unbounded`]):
/// uploads are bounded by their progress (stall and response timeouts, `body_progress`), never
/// by their length, and a read whose deadline is nearer than the read timeout takes the shorter
/// bound. (Set client-wide, the common bound costs nothing per request; set per request, it
/// costs an extensions map on every request, and reqwest's retry layer copies it.) The client
/// does not retry anything itself: the executor is the one place that decides what is resent.
/// (One client, not a twin for the small requests: each client the SDK builds loads and
/// parses the system's root certificates.) A caller's own client is used for everything, as
/// configured.
#[derive(Clone)]
pub(crate) struct HttpClient {
    pub(crate) client: reqwest::Client,
    /// The bound every request of the SDK's own client has unless it lifts it (`None`: a
    /// caller's client, which has no bound of the SDK's).
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

    /// The SDK's own client (the read timeout on every request unless lifted, same-origin
    /// redirects only, no retries of its own, the SDK's User-Agent).
    pub(crate) fn build(timeouts: &TimeoutConfig) -> Result<Self, Error> {
        let read = practical(timeouts.read);
        let client = reqwest::Client::builder()
            .user_agent(config::USER_AGENT)
            .connect_timeout(practical(timeouts.connect))
            .timeout(read)
            .redirect(same_origin_redirects())
            // reqwest would resend on protocol refusals (HTTP/2, which this client does not
            // speak) and keeps a copy of every request in case it does: the executor alone
            // retries, so none is kept.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .build()
            .map_err(|e| Error::Configuration {
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(HttpClient {
            client,
            read_timeout: Some(read),
            sends_user_agent: true,
        })
    }

    /// The per-request timeout that lifts the SDK client's read bound, for a request bounded
    /// otherwise (an upload by its progress, a form by its answer and the deadline); `None` for
    /// a caller's client, which has no bound of the SDK's to lift. (reqwest cannot clear a
    /// client-wide timeout per request, only replace it: a century stands for none, as for the
    /// configured timeouts.)
    pub(crate) fn unbounded(&self) -> Option<Duration> {
        self.read_timeout.map(|_| practical(Duration::MAX))
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

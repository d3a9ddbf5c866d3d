//! Authentication: OAuth2 client credentials with a cached, single-flight refreshed token, or a
//! fixed bearer token.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, HeaderValue, USER_AGENT};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::config::Credentials;
use crate::deadline::DeadlineClock;
use crate::error::{Error, ErrorContext};
use crate::failure::{Failure, read_capped};
use crate::http_client::HttpClient;
use crate::retry::{OperationKind, RetryBudget, RetryConfig, RetryDecision, decide};
use crate::secret::Secret;

/// The operation name used in errors and logs for the token request.
pub(crate) const TOKEN_OPERATION: &str = "oauthToken";

/// Token lifetime assumed when the token response has no `expires_in`.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// A bearer token and the cache generation it came from.
#[derive(Clone)]
pub(crate) struct AccessToken {
    /// Shared: the fast path clones the token on every request.
    value: std::sync::Arc<Secret>,
    generation: u64,
    /// `Bearer <token>`, built once (cloning it is a reference count); `None` when the token
    /// cannot be a header value.
    header: Option<HeaderValue>,
}

impl AccessToken {
    fn new(value: Secret, generation: u64) -> Self {
        let header = HeaderValue::from_str(&format!("Bearer {}", value.expose()))
            .ok()
            .map(|mut h| {
                h.set_sensitive(true);
                h
            });
        AccessToken {
            value: std::sync::Arc::new(value),
            generation,
            header,
        }
    }

    /// The token itself, for redaction.
    pub(crate) fn expose(&self) -> &str {
        self.value.expose()
    }

    /// `Authorization: Bearer ...`, marked sensitive so it is never printed by `reqwest`/`http`.
    pub(crate) fn authorization(&self) -> Result<HeaderValue, Error> {
        self.header.clone().ok_or_else(|| Error::Configuration {
            message: "the access token contains characters not allowed in an HTTP header"
                .to_owned(),
        })
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &self.value)
            .field("generation", &self.generation)
            .finish()
    }
}

#[derive(Clone)]
struct CachedToken {
    token: AccessToken,
    refresh_at: Instant,
}

#[derive(Default)]
struct TokenCache {
    current: Option<CachedToken>,
    generation: u64,
    /// The error of the last fetch, when it failed; handed to the callers that waited for it.
    last_failure: Option<Error>,
}

/// Hands out access tokens. With client credentials, one token is cached and shared; concurrent
/// callers wait for a single refresh (the cache lock is held while fetching). When that refresh
/// fails, every caller that was waiting for it gets the same error instead of trying again one
/// after the other; the next call after that tries afresh.
pub(crate) struct Authenticator {
    source: TokenSource,
    token_url: String,
    /// Each token attempt is bounded by the read timeout of the SDK's own client.
    http: HttpClient,
    user_agent: HeaderValue,
    retry: RetryConfig,
    deadline: Option<Duration>,
    margin: Duration,
    cache: Mutex<TokenCache>,
    /// A copy of `cache.current` readable without waiting for a refresh in progress.
    snapshot: std::sync::RwLock<Option<CachedToken>>,
    /// Completed fetches, successful or not. Read before waiting for the cache lock, it tells a
    /// caller whether a fetch finished while it waited.
    fetches: AtomicU64,
}

/// Where tokens come from.
enum TokenSource {
    /// OAuth2 client credentials, exchanged for cached tokens.
    ClientCredentials {
        client_id: String,
        client_secret: Secret,
    },
    /// A fixed bearer token, used as is.
    Fixed(AccessToken),
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.source {
            TokenSource::ClientCredentials { client_id, .. } => {
                format!(
                    "ClientCredentials {{ client_id: {client_id:?}, client_secret: [REDACTED] }}"
                )
            }
            TokenSource::Fixed(_) => "AccessToken([REDACTED])".to_owned(),
        };
        f.debug_struct("Authenticator")
            .field("credentials", &format_args!("{kind}"))
            .field("token_url", &self.token_url)
            .field("refresh_margin", &self.margin)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    expires_in: Option<Value>,
}

impl Authenticator {
    pub(crate) fn new(
        credentials: Credentials,
        token_url: String,
        http: HttpClient,
        user_agent: HeaderValue,
        retry: RetryConfig,
        deadline: Option<Duration>,
        margin: Duration,
    ) -> Self {
        let source = match credentials {
            Credentials::AccessToken(token) => TokenSource::Fixed(AccessToken::new(token, 0)),
            Credentials::ClientCredentials {
                client_id,
                client_secret,
            } => TokenSource::ClientCredentials {
                client_id,
                client_secret,
            },
        };
        Authenticator {
            source,
            token_url,
            http,
            user_agent,
            retry,
            deadline,
            margin,
            cache: Mutex::new(TokenCache::default()),
            snapshot: std::sync::RwLock::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    /// True when a rejected token can be replaced by fetching a new one.
    pub(crate) fn can_refresh(&self) -> bool {
        matches!(self.source, TokenSource::ClientCredentials { .. })
    }

    /// The cached token when it is valid (or the fixed one), without waiting for anything.
    pub(crate) fn cached_token(&self) -> Option<AccessToken> {
        if let TokenSource::Fixed(token) = &self.source {
            return Some(token.clone());
        }
        self.snapshot()
            .as_ref()
            .filter(|cached| Instant::now() < cached.refresh_at)
            .map(|cached| cached.token.clone())
    }

    /// A valid token: the cached one, or a freshly fetched one when it is missing or due for
    /// refresh. Concurrent callers share one fetch.
    pub(crate) async fn token(&self) -> Result<AccessToken, Error> {
        let (client_id, client_secret) = match &self.source {
            TokenSource::Fixed(token) => return Ok(token.clone()),
            TokenSource::ClientCredentials {
                client_id,
                client_secret,
            } => (client_id, client_secret),
        };
        // Fast path, taken by nearly every call: a valid token, read without waiting.
        if let Some(token) = self.cached_token() {
            return Ok(token);
        }
        let fetches_before = self.fetches.load(Ordering::Acquire);
        let mut cache = self.cache.lock().await;
        if let Some(cached) = &cache.current
            && Instant::now() < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        if self.fetches.load(Ordering::Acquire) != fetches_before
            && let Some(error) = &cache.last_failure
        {
            // A refresh finished while this caller waited, and failed: share its outcome.
            tracing::debug!("the token refresh this call waited for failed; returning its error");
            return Err(error.clone());
        }
        let fetched = self.fetch(client_id, client_secret).await;
        self.fetches.fetch_add(1, Ordering::AcqRel);
        let (value, lifetime) = match fetched {
            Ok(fetched) => {
                cache.last_failure = None;
                fetched
            }
            Err(error) => {
                cache.last_failure = Some(error.clone());
                return Err(error);
            }
        };
        cache.generation += 1;
        let margin = self.margin.min(lifetime / 2);
        let token = AccessToken::new(value, cache.generation);
        cache.current = Some(CachedToken {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime.saturating_sub(margin),
        });
        self.set_snapshot(cache.current.clone());
        tracing::debug!(
            expires_in_s = lifetime.as_secs(),
            refresh_in_s = lifetime.saturating_sub(margin).as_secs(),
            generation = cache.generation,
            "obtained access token"
        );
        Ok(token)
    }

    /// Drops the cached token if it is still the one that was rejected, so the next
    /// [`token`](Self::token) fetches a new one (several concurrent 401s cause one refresh).
    pub(crate) async fn invalidate(&self, rejected: &AccessToken) {
        let mut cache = self.cache.lock().await;
        if cache
            .current
            .as_ref()
            .is_some_and(|c| c.token.generation == rejected.generation)
        {
            tracing::debug!(
                generation = rejected.generation,
                "access token rejected; it will be refreshed"
            );
            cache.current = None;
            self.set_snapshot(None);
        }
    }

    /// The cached token as last published by a holder of the cache lock.
    fn snapshot(&self) -> std::sync::RwLockReadGuard<'_, Option<CachedToken>> {
        self.snapshot.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes the cached token for the fast path; called with the cache lock held.
    fn set_snapshot(&self, current: Option<CachedToken>) {
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = current;
    }

    /// `POST {base}/oauth/token` with the client-credentials grant, retried like a read.
    async fn fetch(
        &self,
        client_id: &str,
        client_secret: &Secret,
    ) -> Result<(Secret, Duration), Error> {
        let mut budget = RetryBudget::new(&self.retry);
        let clock = DeadlineClock::new(self.deadline, None);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let started = Instant::now();
            // Bounded by the read timeout of the SDK's own client (client-wide).
            let request = self
                .http
                .client
                .post(&self.token_url)
                .header(USER_AGENT, self.user_agent.clone())
                .header(ACCEPT, "application/json")
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("client_secret", client_secret.expose()),
                ]);
            let result = request.send().await;
            let mut failure = match result {
                Ok(response) if response.status().is_success() => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let body = read_capped(response.bytes_stream()).await;
                    match parse_token_response(&body) {
                        Ok(token) => {
                            tracing::debug!(
                                operation = TOKEN_OPERATION,
                                attempt,
                                status = status.as_u16(),
                                duration_ms = started.elapsed().as_millis() as u64,
                                "request succeeded"
                            );
                            return Ok(token);
                        }
                        // The body may hold a token: never keep a snippet of it.
                        Err(reason) => Failure::Undecodable {
                            status: Some(status),
                            headers: Some(headers),
                            body: None,
                            reason,
                        },
                    }
                }
                Ok(response) => Failure::from_response(response).await,
                Err(error) => Failure::Transport(error.without_url()),
            };
            let kind = failure.kind();
            let decision = match decide(OperationKind::Read, kind) {
                RetryDecision::RefreshCredentials => RetryDecision::DoNotRetry,
                other => other,
            };
            let wait = (decision == RetryDecision::Retry)
                .then(|| {
                    budget
                        .next_wait(failure.retry_after())
                        .filter(|wait| clock.allows(*wait))
                })
                .flatten();
            tracing::debug!(
                operation = TOKEN_OPERATION,
                attempt,
                status = failure.status().map(|s| s.as_u16()),
                failure = ?kind,
                duration_ms = started.elapsed().as_millis() as u64,
                "request failed"
            );
            match wait {
                Some(wait) => {
                    tracing::warn!(
                        operation = TOKEN_OPERATION,
                        attempt,
                        failure = ?kind,
                        wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                None => {
                    // A server that echoes the form back must not put the secret in the error:
                    // scrubbed from the raw body, then from the decoded messages.
                    failure.redact(client_secret.expose());
                    let context = ErrorContext::new(TOKEN_OPERATION, None);
                    tracing::debug!(
                        operation = TOKEN_OPERATION,
                        attempts = attempt,
                        elapsed_ms = clock.elapsed().as_millis() as u64,
                        "giving up"
                    );
                    let mut error =
                        failure.into_error(context, attempt, RetryDecision::DoNotRetry, None);
                    error.redact(client_secret.expose());
                    return Err(error);
                }
            }
        }
    }
}

fn parse_token_response(body: &[u8]) -> Result<(Secret, Duration), String> {
    let parsed: TokenResponse = serde_json::from_slice(body).map_err(|e| {
        format!(
            "token response is not the expected JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let token = parsed
        .access_token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| "token response has no access_token".to_owned())?;
    let lifetime = match parsed.expires_in {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|secs| secs.is_finite() && *secs > 0.0)
    .map_or(DEFAULT_TOKEN_LIFETIME, |secs| {
        Duration::from_secs_f64(secs.min(1e7))
    });
    Ok((Secret::new(token), lifetime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_response_parsing() {
        let (t, life) = parse_token_response(
            br#"{"access_token":"abc","expires_in":749,"token_type":"bearer"}"#,
        )
        .unwrap();
        assert_eq!(t.expose(), "abc");
        assert_eq!(life, Duration::from_secs(749));
        let (_, life) =
            parse_token_response(br#"{"access_token":"abc","expires_in":"2"}"#).unwrap();
        assert_eq!(life, Duration::from_secs(2));
        let (_, life) = parse_token_response(br#"{"access_token":"abc"}"#).unwrap();
        assert_eq!(life, DEFAULT_TOKEN_LIFETIME);
        let err = parse_token_response(br#"{"access_token":"","x":"secret-ish"}"#).unwrap_err();
        assert!(!err.contains("secret-ish"));
        let err = parse_token_response(br#"{"access_token": "tok-123" oops"#).unwrap_err();
        assert!(!err.contains("tok-123"));
    }

    #[test]
    fn authorization_header_is_sensitive() {
        let t = AccessToken::new(Secret::new("tok"), 1);
        let h = t.authorization().unwrap();
        assert!(h.is_sensitive());
        assert!(!format!("{t:?}").contains("tok\""));
    }
}

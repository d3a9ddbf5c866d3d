//! OAuth client-credentials token issuance and bearer-token checks.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Form, FromRequest, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::config::ClientCredentials;
use crate::responses;
use crate::state::AppState;

/// The client a request was authenticated as, inserted into request extensions.
#[derive(Debug, Clone)]
pub(crate) struct Authenticated {
    pub client_id: String,
}

#[derive(Debug)]
struct IssuedToken {
    client_id: String,
    expires_at: Instant,
}

/// Issued tokens and the clients allowed to ask for them.
#[derive(Debug)]
pub(crate) struct TokenStore {
    clients: Vec<ClientCredentials>,
    ttl: Duration,
    tokens: Mutex<HashMap<String, IssuedToken>>,
    /// Every token ever issued, in order, for tests that look for leaks.
    issued: Mutex<Vec<String>>,
}

/// Why a bearer token was refused; the text goes into the 401 body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    Missing,
    Invalid,
    Expired,
}

impl AuthFailure {
    pub(crate) fn message(self) -> &'static str {
        match self {
            AuthFailure::Missing => "JWT validation failed: JWT is missing",
            AuthFailure::Invalid => "JWT validation failed: JWT is invalid",
            AuthFailure::Expired => "JWT validation failed: JWT is expired",
        }
    }
}

impl TokenStore {
    pub(crate) fn new(clients: Vec<ClientCredentials>, ttl: Duration) -> Self {
        Self {
            clients,
            ttl,
            tokens: Mutex::new(HashMap::new()),
            issued: Mutex::new(Vec::new()),
        }
    }

    /// Issues a token if the credentials match a configured client.
    fn issue(&self, client_id: &str, client_secret: &str) -> Option<String> {
        let known = self
            .clients
            .iter()
            .any(|c| c.client_id == client_id && c.client_secret == client_secret);
        if !known {
            return None;
        }
        let now = Instant::now();
        let token = crate::ids::token();
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        // Forget tokens that expired long ago so the map stays small.
        tokens.retain(|_, t| t.expires_at + Duration::from_secs(3600) > now);
        tokens.insert(
            token.clone(),
            IssuedToken {
                client_id: client_id.to_owned(),
                expires_at: now + self.ttl,
            },
        );
        drop(tokens);
        self.issued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(token.clone());
        Some(token)
    }

    /// Every token issued so far, oldest first.
    pub(crate) fn issued(&self) -> Vec<String> {
        self.issued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Checks the `Authorization: Bearer` header and returns the client id.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Result<String, AuthFailure> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(AuthFailure::Missing)?;
        let (scheme, token) = value.split_once(' ').ok_or(AuthFailure::Invalid)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthFailure::Invalid);
        }
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let issued = tokens.get(token.trim()).ok_or(AuthFailure::Invalid)?;
        if Instant::now() >= issued.expires_at {
            return Err(AuthFailure::Expired);
        }
        Ok(issued.client_id.clone())
    }

    /// Makes every issued token expired from now on.
    pub(crate) fn expire_all(&self) {
        let now = Instant::now();
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        for t in tokens.values_mut() {
            t.expires_at = t.expires_at.min(now);
        }
    }

    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// The parameters of a token request, read from the form body or the query string.
#[derive(Debug, Default, Deserialize)]
struct TokenParams {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl TokenParams {
    fn merge(self, other: TokenParams) -> TokenParams {
        TokenParams {
            grant_type: self.grant_type.or(other.grant_type),
            client_id: self.client_id.or(other.client_id),
            client_secret: self.client_secret.or(other.client_secret),
        }
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// `POST /oauth/token`: the client-credentials grant. Parameters may come as a
/// form-encoded body or in the query string (SailPoint's docs show both).
pub(crate) async fn token(State(state): State<AppState>, req: Request) -> Response {
    let from_query = Query::<TokenParams>::try_from_uri(req.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let from_body = if is_form {
        match Form::<TokenParams>::from_request(req, &()).await {
            Ok(Form(p)) => p,
            Err(e) => {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e.body_text());
            }
        }
    } else {
        TokenParams::default()
    };
    let params = from_body.merge(from_query);

    match params.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("Unsupported grant type: {other}"),
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing grant type",
            );
        }
    }
    let (Some(id), Some(secret)) = (params.client_id, params.client_secret) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Bad client credentials",
        );
    };
    let Some(access_token) = state.tokens.issue(&id, &secret) else {
        tracing::debug!(client_id = %id, "token request with wrong credentials");
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Bad client credentials",
        );
    };
    tracing::debug!(client_id = %id, "issued access token");
    let body = json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": state.tokens.ttl().as_secs(),
        "scope": "sp:scopes:all",
        "tenant_id": state.tenant_id,
        "pod": "sandbox01",
        "strong_auth_supported": false,
        "org": state.config.tenant,
        "claims_supported": false,
        "internal": false,
        "jti": crate::ids::hex32(),
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// The 401 response for a refused token.
pub(crate) fn reject(failure: AuthFailure) -> Response {
    responses::unauthorized(failure.message())
}

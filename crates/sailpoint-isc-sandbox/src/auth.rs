//! The token endpoint (OAuth client credentials) and the 401 for a refused bearer token; the
//! tokens themselves are `tokens`'.

use axum::Json;
use axum::extract::{Form, FromRequest, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::responses;
use crate::state::AppState;
use crate::tokens::AuthFailure;

/// The client a request was authenticated as, inserted into request extensions.
#[derive(Debug, Clone)]
pub(crate) struct Authenticated {
    pub client_id: String,
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

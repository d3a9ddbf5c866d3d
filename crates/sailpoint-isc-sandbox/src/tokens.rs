//! The tenant's OAuth tokens: the clients allowed to ask for one, the tokens issued (with their
//! expiry), and the bearer-token check every request goes through.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};

use crate::config::ClientCredentials;

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
    pub(crate) fn issue(&self, client_id: &str, client_secret: &str) -> Option<String> {
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

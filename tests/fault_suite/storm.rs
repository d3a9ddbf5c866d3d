//! Area 3: token storms. Hundreds of concurrent calls that all need a token at the same moment
//! must cause exactly one token request; when that request fails, every caller gets the same
//! typed error and the next call tries again.

use std::sync::Arc;
use std::time::Duration;

use sailpoint_isc::{Client, Error, RetryConfig};
use tokio::sync::Barrier;

use crate::faults::{Timing, client, variant};
use crate::hygiene;
use crate::report::{Area, Seen, ensure};
use crate::wire::{Behaviour, Route, WireServer};

const CALLERS: usize = 500;
const TASK_ID: &str = "2c91808477a6b0c60177a81146b8110b";

/// Starts `CALLERS` status calls released together by a barrier; returns their results.
async fn storm(client: &Client) -> Vec<Result<String, Error>> {
    let barrier = Arc::new(Barrier::new(CALLERS));
    let mut tasks = Vec::with_capacity(CALLERS);
    for _ in 0..CALLERS {
        let client = client.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            client
                .aggregation_status(TASK_ID)
                .send()
                .await
                .map(|s| s.state_name().to_owned())
        }));
    }
    let mut results = Vec::with_capacity(CALLERS);
    for task in tasks {
        results.push(task.await.expect("caller task"));
    }
    results
}

/// Records the storm's tokens and errors for the secret scan; `Err` unless every call succeeded.
fn all_succeeded(server: &WireServer, results: Vec<Result<String, Error>>) -> Result<(), String> {
    hygiene::note_tokens(server.issued_tokens());
    let failures: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    failures.iter().for_each(|e| hygiene::note_error(e));
    ensure(failures.is_empty(), || {
        // The whole cause chain: a transport failure's reason is at its bottom.
        let mut chain = failures[0].to_string();
        let mut cause = std::error::Error::source(failures[0]);
        while let Some(c) = cause {
            chain.push_str(&format!(": {c}"));
            cause = c.source();
        }
        format!(
            "{} of {CALLERS} calls failed, first: {chain}",
            failures.len()
        )
    })
}

fn timing() -> Timing {
    let mut timing = Timing::standard();
    timing.read_timeout = Duration::from_secs(10);
    timing.retry = RetryConfig::standard()
        .with_max_attempts(2)
        .with_backoff(Duration::from_millis(150), Duration::from_millis(150));
    timing.deadline = Some(Duration::from_secs(30));
    timing
}

/// The cached token reaches its refresh point; 500 calls start at that moment.
async fn storm_at_expiry() -> Result<(Seen, String), String> {
    let server = WireServer::start().await;
    server.check_tokens(true);
    // Tokens live 3 s; the client refreshes 1 s before expiry, at 2 s.
    server.token_ttl(3);
    let client = Client::builder()
        .base_url(server.base_url())
        .client_credentials(hygiene::CLIENT_ID, hygiene::client_secret())
        .retry(timing().retry)
        .token_refresh_margin(Duration::from_secs(1))
        // 500 calls at once on purpose: no client-side limit.
        .no_rate_limit()
        .build()
        .map_err(|e| e.to_string())?;
    client
        .aggregation_status(TASK_ID)
        .send()
        .await
        .map_err(|e| format!("warm-up call: {e}"))?;
    ensure(server.count(Route::Token) == 1, || {
        "warm-up: one token".into()
    })?;
    // The refreshed token lives long, so a slow storm cannot outlive it.
    server.token_ttl(749);
    tokio::time::sleep(Duration::from_millis(2050)).await;
    all_succeeded(&server, storm(&client).await)?;
    let token_requests = server.count(Route::Token);
    ensure(token_requests == 2, || {
        format!(
            "{} token requests during the storm, expected exactly 1",
            token_requests - 1
        )
    })?;
    let tokens = server.issued_tokens();
    let seen = server.seen();
    let storm_requests: Vec<_> = seen
        .iter()
        .filter(|s| s.route == Route::Status)
        .skip(1)
        .collect();
    ensure(storm_requests.len() == CALLERS, || {
        format!(
            "{} status requests, expected exactly {CALLERS}",
            storm_requests.len()
        )
    })?;
    let fresh = format!("Bearer {}", tokens[1]);
    ensure(
        storm_requests
            .iter()
            .all(|s| s.authorization.as_deref() == Some(fresh.as_str())),
        || "a storm request did not carry the refreshed token".into(),
    )?;
    Ok((
        Seen {
            requests: seen.len(),
            duplicates: 0,
        },
        format!(
            "{CALLERS} calls ok, 1 token request, {CALLERS} status requests all with the new token"
        ),
    ))
}

/// The server revokes the token the client still trusts: every call gets a 401, and the refresh
/// they trigger is still one token request.
async fn storm_on_revoked_token() -> Result<(Seen, String), String> {
    let server = WireServer::start().await;
    server.check_tokens(true);
    // The server announces 749 s but honours tokens for 1 s only.
    server.token_ttl(1);
    server.announce_ttl(749);
    // Every caller reconnects at the same instant to resend after its 401: on a loaded 2-core
    // machine a few of those hundreds of new loopback connections can fail, and a read is
    // retried for that (the status-request count below allows resends).
    let mut timing = timing();
    timing.retry = timing.retry.with_max_attempts(4);
    let client = client(&server, &timing);
    client
        .aggregation_status(TASK_ID)
        .send()
        .await
        .map_err(|e| format!("warm-up call: {e}"))?;
    // Only the first token is cut short; the refreshed one lives as announced.
    server.token_ttl(749);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    all_succeeded(&server, storm(&client).await)?;
    let token_requests = server.count(Route::Token) - 1;
    ensure(token_requests == 1, || {
        format!("{token_requests} token requests after the revocation, expected exactly 1")
    })?;
    let status_requests = server.count(Route::Status) - 1;
    ensure((CALLERS..=2 * CALLERS).contains(&status_requests), || {
        format!("{status_requests} status requests")
    })?;
    Ok((
        Seen {
            requests: server.seen().len(),
            duplicates: 0,
        },
        format!(
            "{CALLERS} calls ok, 1 token request; {} got a 401 and were resent once",
            status_requests - CALLERS
        ),
    ))
}

/// The token endpoint fails: every caller gets the same error from one (retried) token request;
/// the next call tries again and succeeds.
async fn storm_token_endpoint_down() -> Result<(Seen, String), String> {
    let server = WireServer::start().await;
    server.always(
        Route::Token,
        Behaviour::Status(503, r#"{"message":"token service unavailable"}"#.into()),
    );
    let timing = timing();
    let client = client(&server, &timing);
    let results = storm(&client).await;
    let errors: Vec<&Error> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    errors.iter().for_each(|e| hygiene::note_error(e));
    ensure(errors.len() == CALLERS, || {
        format!("{} of {CALLERS} calls failed, expected all", errors.len())
    })?;
    let first = errors[0].to_string();
    ensure(variant(errors[0]) == "Server", || {
        format!("expected Server, got {first}")
    })?;
    ensure(errors.iter().all(|e| e.to_string() == first), || {
        "callers got different errors".into()
    })?;
    let token_requests = server.count(Route::Token);
    ensure(token_requests == 2, || {
        format!("{token_requests} token requests, expected exactly 2 (one fetch, retried once)")
    })?;
    ensure(server.count(Route::Status) == 0, || {
        "a status request was sent without a token".into()
    })?;
    // The endpoint recovers; the next call must not reuse the failure.
    server.always(Route::Token, Behaviour::Normal);
    client
        .aggregation_status(TASK_ID)
        .send()
        .await
        .map_err(|e| format!("the call after the outage failed: {e}"))?;
    hygiene::note_tokens(server.issued_tokens());
    ensure(server.count(Route::Token) == 3, || {
        "the next call did not fetch a new token".into()
    })?;
    Ok((
        Seen {
            requests: server.seen().len(),
            duplicates: 0,
        },
        format!(
            "{CALLERS} callers, 1 fetch (2 token requests), same error for all: {}; next call fetched afresh and succeeded",
            variant(errors[0])
        ),
    ))
}

/// Runs the area.
pub async fn run() -> Area {
    let mut area = Area::new("token storm");
    area.run(
        format!("{CALLERS} status calls as the token reaches its refresh point"),
        storm_at_expiry(),
    )
    .await;
    area.run(
        format!("{CALLERS} status calls with a token the server revoked"),
        storm_on_revoked_token(),
    )
    .await;
    area.run(
        format!("{CALLERS} status calls while the token endpoint answers 503"),
        storm_token_endpoint_down(),
    )
    .await;
    area
}

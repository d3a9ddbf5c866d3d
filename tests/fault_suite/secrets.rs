//! Area 5: secret hygiene. Redirects to another host carry neither the token nor the client
//! secret, plain http off loopback is refused, servers that echo requests back do not get secrets
//! into errors, and a final scan of everything the suite captured (TRACE logs, error `Display`
//! and `Debug` texts, `Debug` of the client, panic messages) finds no secret or token.

use std::time::Duration;

use sailpoint_isc::{Client, RetryConfig};

use crate::faults::{Timing, client, variant};
use crate::hygiene;
use crate::report::{Area, Seen, ensure};
use crate::wire::{Behaviour, Route, WireServer};

const TASK_ID: &str = "2c91808477a6b0c60177a81146b8110b";

fn timing() -> Timing {
    let mut timing = Timing::standard();
    timing.retry = RetryConfig::disabled();
    timing
}

/// Another host: 127.0.0.2 is loopback too, but a different host than 127.0.0.1.
async fn other_host() -> WireServer {
    WireServer::start_on("127.0.0.2:0").await
}

fn redirect_target(server: &WireServer, path: &str) -> String {
    format!("{}{path}", server.base_url())
}

/// The SDK's own HTTP client does not follow a redirect to another host at all.
async fn status_redirect_default_client() -> Result<(Seen, String), String> {
    let api = WireServer::start().await;
    let other = other_host().await;
    let path = format!("/v2025/account-aggregations/{TASK_ID}/status");
    api.script(
        Route::Status,
        [Behaviour::Redirect(redirect_target(&other, &path))],
    );
    let result = client(&api, &timing())
        .aggregation_status(TASK_ID)
        .send()
        .await;
    hygiene::note_tokens(api.issued_tokens());
    let err = result
        .err()
        .ok_or("the redirect was followed to a success")?;
    hygiene::note_error(&err);
    ensure(
        variant(&err) == "UnexpectedStatus" && err.status().map(|s| s.as_u16()) == Some(307),
        || format!("expected UnexpectedStatus 307, got {err}"),
    )?;
    ensure(other.seen().is_empty(), || {
        "the other host received a request".into()
    })?;
    Ok((
        Seen {
            requests: api.seen().len() + other.seen().len(),
            duplicates: 0,
        },
        "307 to 127.0.0.2 not followed: UnexpectedStatus, the other host saw nothing".into(),
    ))
}

/// With a caller's `reqwest::Client` that follows redirects, the other host gets no token.
async fn status_redirect_custom_client() -> Result<(Seen, String), String> {
    let api = WireServer::start().await;
    let other = other_host().await;
    let path = format!("/v2025/account-aggregations/{TASK_ID}/status");
    api.script(
        Route::Status,
        [Behaviour::Redirect(redirect_target(&other, &path))],
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let sdk = Client::builder()
        .base_url(api.base_url())
        .client_credentials(hygiene::CLIENT_ID, hygiene::client_secret())
        .retry(RetryConfig::disabled())
        .http_client(http)
        .build()
        .map_err(|e| e.to_string())?;
    let result = sdk.aggregation_status(TASK_ID).send().await;
    hygiene::note_tokens(api.issued_tokens());
    if let Err(e) = &result {
        hygiene::note_error(e);
    }
    let seen = other.seen();
    ensure(seen.len() == 1, || {
        format!("the other host saw {} requests, expected 1", seen.len())
    })?;
    ensure(seen[0].authorization.is_none(), || {
        "the Authorization header reached the other host".into()
    })?;
    let at_api = api.seen();
    ensure(
        at_api
            .iter()
            .any(|s| s.route == Route::Status && s.authorization.is_some()),
        || "the first host did not get the token (the check would prove nothing)".into(),
    )?;
    Ok((
        Seen {
            requests: at_api.len() + seen.len(),
            duplicates: 0,
        },
        format!(
            "followed by reqwest, other host got the request without Authorization ({})",
            if result.is_ok() { "success" } else { "error" }
        ),
    ))
}

/// A 307 on the token endpoint would resend the form, secret included: not with the SDK's client.
async fn token_redirect_default_client() -> Result<(Seen, String), String> {
    let api = WireServer::start().await;
    let other = other_host().await;
    api.script(
        Route::Token,
        [Behaviour::Redirect(redirect_target(&other, "/oauth/token"))],
    );
    let result = client(&api, &timing())
        .aggregation_status(TASK_ID)
        .send()
        .await;
    let err = result
        .err()
        .ok_or("the token redirect was followed to a success")?;
    hygiene::note_error(&err);
    ensure(other.seen().is_empty(), || {
        "the other host received the token request (and the client secret)".into()
    })?;
    ensure(api.count(Route::Status) == 0, || {
        "a status request was sent without a token".into()
    })?;
    Ok((
        Seen {
            requests: api.seen().len(),
            duplicates: 0,
        },
        format!("{}; the other host saw nothing", variant(&err)),
    ))
}

/// Plain http is refused for any host but loopback, before any request.
async fn plain_http_refused() -> Result<(Seen, String), String> {
    for url in [
        "http://acme.api.identitynow.com",
        "http://10.1.2.3:8080",
        "http://[2001:db8::1]",
        "http://127.0.0.1.nip.io",
    ] {
        let result = Client::builder()
            .base_url(url)
            .client_credentials(hygiene::CLIENT_ID, hygiene::client_secret())
            .build();
        let err = result.err().ok_or_else(|| format!("{url} was accepted"))?;
        hygiene::note_error(&err);
        ensure(variant(&err) == "Configuration", || format!("{url}: {err}"))?;
    }
    Ok((
        Seen::default(),
        "4 non-loopback http URLs refused with Configuration errors".into(),
    ))
}

/// A token endpoint that echoes the form (client secret included) into its 400 body.
async fn token_endpoint_echoes_secret() -> Result<(Seen, String), String> {
    let api = WireServer::start().await;
    api.script(Route::Token, [Behaviour::EchoBody400]);
    let result = client(&api, &timing())
        .aggregation_status(TASK_ID)
        .send()
        .await;
    let err = result.err().ok_or("expected an error")?;
    hygiene::note_error(&err);
    ensure(variant(&err) == "BadRequest", || {
        format!("expected BadRequest, got {err}")
    })?;
    let text = format!("{err} {err:?}");
    ensure(!text.contains(&hygiene::client_secret()), || {
        "the echoed secret is in the error".into()
    })?;
    ensure(text.contains("[REDACTED]"), || {
        format!("the echo was not redacted: {text}")
    })?;
    Ok((
        Seen {
            requests: api.seen().len(),
            duplicates: 0,
        },
        "BadRequest, the echoed secret shows as [REDACTED]".into(),
    ))
}

/// A gateway that echoes request headers (the bearer token) into its 502 page.
async fn gateway_echoes_token() -> Result<(Seen, String), String> {
    let api = WireServer::start().await;
    api.always(Route::Status, Behaviour::EchoHead502);
    let result = client(&api, &timing())
        .aggregation_status(TASK_ID)
        .send()
        .await;
    hygiene::note_tokens(api.issued_tokens());
    let err = result.err().ok_or("expected an error")?;
    hygiene::note_error(&err);
    ensure(variant(&err) == "Server", || {
        format!("expected Server, got {err}")
    })?;
    let token = api.issued_tokens().pop().ok_or("no token issued")?;
    let text = format!("{err} {err:?}");
    ensure(!text.contains(&token), || {
        "the echoed token is in the error".into()
    })?;
    ensure(text.contains("[REDACTED]"), || {
        format!("the echo was not redacted: {text}")
    })?;
    Ok((
        Seen {
            requests: api.seen().len(),
            duplicates: 0,
        },
        "Server error, the echoed bearer token shows as [REDACTED]".into(),
    ))
}

/// `Debug` of the builder and client, and a base URL with credentials in it.
async fn debug_renderings() -> Result<(Seen, String), String> {
    let builder = Client::builder()
        .base_url("https://acme.api.identitynow.com")
        .client_credentials(hygiene::CLIENT_ID, hygiene::client_secret());
    hygiene::note_text(format!("{builder:?}"));
    let client = builder.clone().build().map_err(|e| e.to_string())?;
    hygiene::note_text(format!("{client:?}"));
    let token_client = Client::builder()
        .base_url("https://acme.api.identitynow.com")
        .access_token(format!("static-token-{}", hygiene::client_secret()))
        .build()
        .map_err(|e| e.to_string())?;
    hygiene::note_secret(format!("static-token-{}", hygiene::client_secret()));
    hygiene::note_text(format!("{token_client:?}"));
    let password = format!("pw-{}", hygiene::client_secret());
    hygiene::note_secret(password.clone());
    let err = Client::builder()
        .base_url(format!("https://user:{password}@acme.api.identitynow.com"))
        .client_credentials(hygiene::CLIENT_ID, hygiene::client_secret())
        .build()
        .err()
        .ok_or("a base URL with credentials was accepted")?;
    hygiene::note_error(&err);
    Ok((
        Seen::default(),
        "builder, client (both credential kinds) and URL-with-password error rendered".into(),
    ))
}

/// Runs the area's scenarios, then scans everything the suite captured.
pub async fn run(whole_suite: bool) -> Area {
    let mut area = Area::new("secret hygiene");
    area.run(
        "redirect to another host, SDK's HTTP client",
        status_redirect_default_client(),
    )
    .await;
    area.run(
        "redirect to another host, caller's reqwest client",
        status_redirect_custom_client(),
    )
    .await;
    area.run(
        "token endpoint redirects to another host",
        token_redirect_default_client(),
    )
    .await;
    area.run("plain http to a non-loopback host", plain_http_refused())
        .await;
    area.run(
        "token endpoint echoes the client secret",
        token_endpoint_echoes_secret(),
    )
    .await;
    area.run(
        "gateway echoes the Authorization header",
        gateway_echoes_token(),
    )
    .await;
    area.run("Debug renderings", debug_renderings()).await;

    // Let in-flight log writes land, then scan.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let capture = hygiene::capture();
    let needles = &capture.needles;
    let scan = |what: &str, haystacks: &[String]| -> Result<String, String> {
        match hygiene::find_leak(needles, haystacks) {
            None => Ok(format!(
                "{} {what} free of {} secrets and tokens",
                haystacks.len(),
                needles.len()
            )),
            Some((needle, hay)) => Err(format!(
                "a secret or token ({} chars) appears in: {}",
                needle.len(),
                hay.replace(needle, "<LEAKED>")
            )),
        }
    };
    // After the whole suite there must be plenty to scan, or the scan proves nothing.
    let enough = !whole_suite || (capture.tokens > 100 && capture.log_lines.len() > 1000);
    area.check(
        "capture is not empty (the scan could find something)",
        if enough {
            Ok(format!(
                "{} log lines at TRACE, {} tokens issued",
                capture.log_lines.len(),
                capture.tokens
            ))
        } else {
            Err(format!(
                "only {} log lines and {} tokens captured",
                capture.log_lines.len(),
                capture.tokens
            ))
        },
    );
    // The HTTP stack logs through the `log` crate; bridged, its records are scanned too.
    let bridged = capture
        .log_lines
        .iter()
        .filter(|line| {
            // The event's target, after the level and any spans: `…}: reqwest::connect: …`.
            line.split(": ").any(|part| {
                let target = part.rsplit(' ').next().unwrap_or(part);
                target.starts_with("reqwest::") || target.starts_with("rustls::")
            })
        })
        .count();
    area.check(
        "log-crate records (reqwest, rustls) reach the capture",
        if bridged > 0 || !whole_suite {
            Ok(format!("{bridged} bridged lines"))
        } else {
            Err("no reqwest or rustls line was captured: the log bridge is off".to_owned())
        },
    );
    area.check("TRACE log lines", scan("log lines", &capture.log_lines));
    area.check(
        "error Display/Debug and Debug renderings",
        scan("texts", &capture.texts),
    );
    area.check("panic messages", scan("panic messages", &capture.panics));
    area
}

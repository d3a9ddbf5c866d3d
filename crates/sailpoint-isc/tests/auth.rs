//! Authentication: one cached token, refreshed before expiry and once after a 401, shared by
//! concurrent callers; secrets and tokens never printed or logged.

mod common;

use std::time::Duration;

use common::*;
use httpmock::prelude::*;
use sailpoint_isc::{Client, Error, Secret};
use serde_json::json;

async fn status_ok<'a>(server: &'a MockServer, token: &str) -> httpmock::Mock<'a> {
    let bearer = format!("Bearer {token}");
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path(status_path(v()))
                .header("authorization", bearer);
            then.status(200).json_body(json!({"status": "STARTED"}));
        })
        .await
}

#[tokio::test]
async fn token_is_cached_across_calls() {
    let server = MockServer::start_async().await;
    let token = token_mock(&server, TOKEN, 749).await;
    let status = status_ok(&server, TOKEN).await;
    let client = client(&server);
    for _ in 0..3 {
        client.aggregation_status(TASK_ID).send().await.unwrap();
    }
    token.assert_calls_async(1).await;
    status.assert_calls_async(3).await;
}

#[tokio::test]
async fn token_is_refreshed_after_expiry() {
    let server = MockServer::start_async().await;
    // Lives 2 s; the refresh margin (60 s by default) is limited to half the lifetime: 1 s.
    let first = server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth/token");
            then.status(200)
                .json_body(json!({"access_token": TOKEN, "expires_in": 2}))
                .up_to_n_times(1);
        })
        .await;
    let second = token_mock(&server, TOKEN2, 749).await;
    let old = status_ok(&server, TOKEN).await;
    let new = status_ok(&server, TOKEN2).await;
    let client = client(&server);

    client.aggregation_status(TASK_ID).send().await.unwrap();
    client.aggregation_status(TASK_ID).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client.aggregation_status(TASK_ID).send().await.unwrap();

    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
    old.assert_calls_async(2).await;
    new.assert_calls_async(1).await;
}

#[tokio::test]
async fn unauthorized_triggers_one_refresh_and_one_resend() {
    let server = MockServer::start_async().await;
    let first = server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth/token");
            then.status(200)
                .json_body(json!({"access_token": TOKEN, "expires_in": 749}))
                .up_to_n_times(1);
        })
        .await;
    let second = token_mock(&server, TOKEN2, 749).await;
    let revoked = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(status_path(v()))
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(401)
                .json_body(json!({"error": "JWT validation failed: JWT is expired"}));
        })
        .await;
    let fresh = status_ok(&server, TOKEN2).await;

    client(&server)
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap();

    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
    revoked.assert_calls_async(1).await;
    fresh.assert_calls_async(1).await;
}

#[tokio::test]
async fn unauthorized_after_refresh_is_an_error() {
    let server = MockServer::start_async().await;
    let token = token_mock(&server, TOKEN, 749).await;
    let denied = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(401)
                .json_body(json!({"error": "JWT validation failed: JWT is expired"}));
        })
        .await;
    let err = client(&server)
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap_err();
    match &err {
        Error::Unauthorized { context } => {
            assert_eq!(context.attempts, 2);
            assert_eq!(
                context.messages(),
                vec!["JWT validation failed: JWT is expired"]
            );
        }
        other => panic!("{other:?}"),
    }
    token.assert_calls_async(2).await;
    denied.assert_calls_async(2).await;
}

#[tokio::test]
async fn unauthorized_upload_is_resent_once_with_a_new_token() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth/token");
            then.status(200)
                .json_body(json!({"access_token": TOKEN, "expires_in": 749}))
                .up_to_n_times(1);
        })
        .await;
    let second = token_mock(&server, TOKEN2, 749).await;
    let rejected = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(load_accounts_path(v()))
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(401).json_body(json!({"error": "expired"}));
        })
        .await;
    let accepted = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(load_accounts_path(v()))
                .header("authorization", format!("Bearer {TOKEN2}"))
                .body_includes("1,Ada");
            then.status(202).json_body(task_body());
        })
        .await;
    let path = temp_file("accounts.csv", b"id,name\n1,Ada\n");
    client(&server)
        .start_aggregation(SOURCE_ID)
        .file(&path)
        .send()
        .await
        .unwrap();
    second.assert_calls_async(1).await;
    rejected.assert_calls_async(1).await;
    accepted.assert_calls_async(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_calls_share_one_token_request() {
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth/token");
            then.status(200)
                .json_body(json!({"access_token": TOKEN, "expires_in": 749}))
                .delay(Duration::from_millis(200));
        })
        .await;
    let status = status_ok(&server, TOKEN).await;
    let client = client(&server);
    let calls = (0..50).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.aggregation_status(TASK_ID).send().await })
    });
    for result in futures_util::future::join_all(calls).await {
        result.unwrap().unwrap();
    }
    token.assert_calls_async(1).await;
    status.assert_calls_async(50).await;
}

#[tokio::test]
async fn fixed_access_token_is_used_as_is() {
    let server = MockServer::start_async().await;
    let token = token_mock(&server, TOKEN, 749).await;
    let status = status_ok(&server, "my-fixed-token").await;
    let client = Client::builder()
        .base_url(server.base_url())
        .access_token("my-fixed-token")
        .build()
        .unwrap();
    client.aggregation_status(TASK_ID).send().await.unwrap();
    token.assert_calls_async(0).await;
    status.assert_calls_async(1).await;
}

#[tokio::test]
async fn rejected_credentials_are_unauthorized_without_the_secret() {
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth/token");
            then.status(401).json_body(
                json!({"error": "invalid_client", "error_description": "Bad credentials"}),
            );
        })
        .await;
    let any = catch_all(&server).await;
    let err = client(&server)
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap_err();
    match &err {
        Error::Unauthorized { context } => {
            assert_eq!(context.operation, "oauthToken");
            assert_eq!(
                context.messages(),
                vec!["invalid_client", "Bad credentials"]
            );
        }
        other => panic!("{other:?}"),
    }
    token.assert_calls_async(1).await;
    any.assert_calls_async(0).await;
    for text in [format!("{err}"), format!("{err:?}")] {
        assert!(!text.contains(CLIENT_SECRET), "{text}");
    }
}

#[tokio::test]
async fn token_endpoint_outage_is_retried() {
    let server = MockServer::start_async().await;
    let down = server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth/token");
            then.status(503).up_to_n_times(1);
        })
        .await;
    let token = token_mock(&server, TOKEN, 749).await;
    let status = status_ok(&server, TOKEN).await;
    client(&server)
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap();
    down.assert_calls_async(1).await;
    token.assert_calls_async(1).await;
    status.assert_calls_async(1).await;
}

#[tokio::test]
async fn configuration_errors() {
    let no_url = Client::builder().access_token("t").build().unwrap_err();
    assert!(matches!(no_url, Error::Configuration { .. }));
    let no_creds = Client::builder()
        .base_url("https://acme.api.identitynow.com")
        .build()
        .unwrap_err();
    assert!(matches!(no_creds, Error::Configuration { .. }));
    let plain_http = Client::builder()
        .base_url("http://acme.api.identitynow.com")
        .access_token("t")
        .build()
        .unwrap_err();
    assert!(plain_http.to_string().contains("https"), "{plain_http}");
    let blank_secret = Client::builder()
        .base_url("https://acme.api.identitynow.com")
        .client_credentials("id", "   ")
        .build()
        .unwrap_err();
    assert!(matches!(blank_secret, Error::Configuration { .. }));
    let ok = Client::builder()
        .base_url("https://acme.api.identitynow.com/")
        .client_credentials("id", "secret")
        .build()
        .unwrap();
    assert_eq!(ok.base_url(), "https://acme.api.identitynow.com");
}

#[test]
fn secrets_are_absent_from_debug_output() {
    let builder = Client::builder()
        .base_url("https://acme.api.identitynow.com")
        .client_credentials(CLIENT_ID, CLIENT_SECRET);
    let client = builder.clone().build().unwrap();
    let token_client = Client::builder()
        .base_url("https://acme.api.identitynow.com")
        .access_token(TOKEN)
        .build()
        .unwrap();
    for text in [
        format!("{builder:?}"),
        format!("{client:?}"),
        format!("{client:#?}"),
        format!("{token_client:?}"),
        format!("{:?}", Secret::new(CLIENT_SECRET)),
        format!("{}", Secret::new(CLIENT_SECRET)),
    ] {
        assert!(!text.contains(CLIENT_SECRET), "{text}");
        assert!(!text.contains(TOKEN), "{text}");
    }
    assert!(format!("{client:?}").contains(CLIENT_ID));
}

/// A full flow at TRACE (token, 401 refresh, 429 retry, upload, waiting, an error) with every
/// log line captured: neither the client secret nor any token may appear.
#[tokio::test]
async fn secrets_and_tokens_are_absent_from_trace_logs() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace,httpmock=off"))
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth/token");
            then.status(200)
                .json_body(json!({"access_token": TOKEN, "expires_in": 749}))
                .up_to_n_times(1);
        })
        .await;
    token_mock(&server, TOKEN2, 749).await;
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path(load_accounts_path(v()))
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(401).json_body(json!({"error": "expired"}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(429).header("Retry-After", "0").up_to_n_times(1);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(202).json_body(task_body());
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200)
                .json_body(json!({"status": "STARTED"}))
                .up_to_n_times(1);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200).json_body(
                json!({"status": "COMPLETED", "totalAccounts": 1, "processedAccounts": 1}),
            );
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path(op_path(v(), "getAccountAggregationStatus", &["gone"]));
            then.status(404)
                .json_body(json!({"messages": [{"text": "gone"}]}));
        })
        .await;

    let client = client(&server);
    let path = temp_file("accounts.csv", b"id,name\n1,Ada\n");
    let started = client
        .start_aggregation(SOURCE_ID)
        .file(&path)
        .send()
        .await
        .unwrap();
    let done = client
        .wait_for_aggregation(&started.task_id)
        .send()
        .await
        .unwrap();
    assert!(done.is_terminal());
    let err = client.aggregation_status("gone").send().await.unwrap_err();
    tracing::error!(error = %err, debug = ?err, client = ?client, "final");
    drop(_guard);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying"), "attempts are logged:\n{logs}");
    assert!(
        logs.contains("importAccounts"),
        "operations are logged:\n{logs}"
    );
    for secret in [CLIENT_SECRET, TOKEN, TOKEN2] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the logs:\n{logs}"
        );
    }
}

/// A token request through the SDK's own client is bounded like any request without a file: one
/// timer of the read timeout per attempt (the client itself has none, so that uploads are not
/// cut), retried like a read, and the call that needed the token sends nothing.
#[tokio::test]
async fn a_token_endpoint_slower_than_the_read_timeout_is_cut_and_retried() {
    let server = MockServer::start_async().await;
    let slow = server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth/token");
            then.status(200)
                .json_body(json!({"access_token": TOKEN, "expires_in": 749}))
                .delay(Duration::from_secs(5));
        })
        .await;
    let status = status_ok(&server, TOKEN).await;
    let err = builder(&server)
        .timeouts(
            sailpoint_isc::TimeoutConfig::standard().with_read_timeout(Duration::from_millis(150)),
        )
        .build()
        .unwrap()
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap_err();
    match &err {
        Error::Timeout { source, .. } => assert!(source.is_timeout(), "{source:?}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(!format!("{err:?}").contains(CLIENT_SECRET));
    slow.assert_calls_async(3).await;
    status.assert_calls_async(0).await;
}

//! Reading the status: one lenient model for both versions, the experimental header, and the
//! read retry rules (429, 5xx, Retry-After forms and cap).

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::*;
use httpmock::prelude::*;
use sailpoint_isc::{AggregationState, ApiVersion, Client, Error};
use serde_json::json;

/// Every version: the path and base path from its table, the experimental header exactly as its
/// spec says, the token, no `api-version`, and the fields that version documents decoded.
#[tokio::test]
async fn status_is_read_in_every_version() {
    for version in ApiVersion::all() {
        let server = MockServer::start_async().await;
        token_mock(&server, TOKEN, 749).await;
        let status = server
            .mock_async(|when, then| {
                let when =
                    experimental_header_as_specified(when, version, "getAccountAggregationStatus");
                when.method(GET)
                    .path(status_path(version))
                    .header("authorization", format!("Bearer {TOKEN}"))
                    .header_missing("api-version");
                then.status(200).json_body(json!({
                    "status": "ACCOUNTS_COLLECTED", "start": 1713522033,
                    "totalAccounts": 2, "processedAccounts": 1,
                    "totalIdentities": 3, "processedIdentities": 0
                }));
            })
            .await;
        let any = catch_all(&server).await;
        let s = client_for(&server, version)
            .aggregation_status(TASK_ID)
            .send()
            .await
            .unwrap();
        assert_eq!(
            s.state,
            Some(AggregationState::AccountsCollected),
            "{version}"
        );
        // The one integer rule: below 10^11 is epoch seconds.
        assert_eq!(
            s.start.map(|t| t.to_rfc3339()),
            Some("2024-04-19T10:20:33+00:00".to_owned()),
            "{version}"
        );
        assert_eq!(s.work(), Some((1, 5)), "{version}");
        status.assert_calls_async(1).await;
        any.assert_calls_async(0).await;
    }
}

/// The same id read through two versions of one client goes to two paths.
#[tokio::test]
async fn per_call_version_overrides_the_client_default() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let beta = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(ApiVersion::BETA));
            then.status(200).json_body(json!({"status": "COMPLETED"}));
        })
        .await;
    let default = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200).json_body(json!({"status": "STARTED"}));
        })
        .await;
    let client = client(&server);
    let s = client
        .aggregation_status(TASK_ID)
        .api_version(ApiVersion::BETA)
        .send()
        .await
        .unwrap();
    assert_eq!(s.state, Some(AggregationState::Completed));
    let s = client.aggregation_status(TASK_ID).send().await.unwrap();
    assert_eq!(s.state, Some(AggregationState::Started));
    beta.assert_calls_async(1).await;
    default.assert_calls_async(1).await;
}

#[tokio::test]
async fn experimental_header_missing_answer_is_its_own_error() {
    // What ISC answers when the header is missing (e.g. through a proxy that strips it).
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(400)
                .json_body(json!({"error": "Experimental Header is missing or invalid."}));
        })
        .await;
    let err = client(&server)
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ExperimentalHeaderMissing { .. }),
        "{err:?}"
    );
    assert_eq!(err.attempts(), 1);
}

#[tokio::test]
async fn user_agent_is_sent_with_a_user_supplied_client() {
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth/token").header(
                "user-agent",
                format!("sailpoint-isc-rust/{}", env!("CARGO_PKG_VERSION")),
            );
            then.status(200)
                .json_body(json!({"access_token": TOKEN, "expires_in": 749}));
        })
        .await;
    let status = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v())).header(
                "user-agent",
                format!("sailpoint-isc-rust/{}", env!("CARGO_PKG_VERSION")),
            );
            then.status(200).json_body(json!({"status": "STARTED"}));
        })
        .await;
    let http = reqwest::Client::builder()
        .user_agent("someone-else/1.0")
        .build()
        .unwrap();
    builder(&server)
        .http_client(http)
        .build()
        .unwrap()
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap();
    token.assert_calls_async(1).await;
    status.assert_calls_async(1).await;
}

#[tokio::test]
async fn unknown_status_value_is_kept() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200).json_body(json!({"status": "QUEUED"}));
        })
        .await;
    let s = client(&server)
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.state,
        Some(AggregationState::Unknown("QUEUED".to_owned()))
    );
    assert_eq!(s.state_name(), "QUEUED");
}

#[tokio::test]
async fn timestamps_as_epoch_millis_and_rfc3339() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200)
                .json_body(json!({"status": "STARTED", "start": 1713522033823u64}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(ApiVersion::BETA));
            then.status(200)
                .json_body(json!({"status": "STARTED", "start": "2024-04-19T10:20:33.823Z"}));
        })
        .await;
    let client = client(&server);
    let a = client.aggregation_status(TASK_ID).send().await.unwrap();
    let b = client
        .aggregation_status(TASK_ID)
        .api_version(ApiVersion::BETA)
        .send()
        .await
        .unwrap();
    assert_eq!(a.start.unwrap().timestamp_millis(), 1713522033823);
    assert_eq!(a.start, b.start);
}

#[tokio::test]
async fn null_fields_are_accepted() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200).json_body(json!({
                "start": null, "status": "STARTED", "totalAccounts": null, "processedAccounts": null,
                "totalAccountsMarkedForDeletion": null, "deletedAccounts": null,
                "totalIdentities": null, "processedIdentities": null
            }));
        })
        .await;
    let s = client(&server)
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(s.state, Some(AggregationState::Started));
    assert_eq!(s.start, None);
    assert_eq!(s.total_accounts, None);
    assert_eq!(s.work(), None);
}

#[tokio::test]
async fn service_unavailable_twice_then_ok_makes_exactly_three_gets() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let unavailable = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(503).up_to_n_times(2);
        })
        .await;
    let ok = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200).json_body(json!({"status": "ACCOUNTS_COLLECTED", "totalAccounts": 10, "processedAccounts": 4}));
        })
        .await;
    let s = client(&server)
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(s.processed_accounts, Some(4));
    unavailable.assert_calls_async(2).await;
    ok.assert_calls_async(1).await;
}

#[tokio::test]
async fn internal_error_and_rate_limit_on_get_are_retried() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let internal = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(500)
                .json_body(json!({"detailCode": "500.0 Internal Fault", "messages": []}))
                .up_to_n_times(1);
        })
        .await;
    let limited = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(429).header("Retry-After", "0").up_to_n_times(1);
        })
        .await;
    let ok = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200).json_body(json!({"status": "STARTED"}));
        })
        .await;
    client(&server)
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap();
    internal.assert_calls_async(1).await;
    limited.assert_calls_async(1).await;
    ok.assert_calls_async(1).await;
}

#[tokio::test]
async fn http_date_retry_after_is_honoured() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    // Two seconds from now, at whole-second precision: between 1 and 2 seconds of waiting.
    let at = SystemTime::now() + Duration::from_secs(2);
    let date = chrono::DateTime::<chrono::Utc>::from(at)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let limited = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(429)
                .header("Retry-After", date)
                .up_to_n_times(1);
        })
        .await;
    let ok = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200).json_body(json!({"status": "STARTED"}));
        })
        .await;
    let started = Instant::now();
    client(&server)
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    limited.assert_calls_async(1).await;
    ok.assert_calls_async(1).await;
}

#[tokio::test]
async fn retry_after_above_the_cap_is_capped() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let limited = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(429)
                .header("Retry-After", "3600")
                .up_to_n_times(1);
        })
        .await;
    let ok = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200).json_body(json!({"status": "STARTED"}));
        })
        .await;
    let started = Instant::now();
    builder(&server)
        .retry(fast_retry().with_max_retry_after(Duration::from_millis(300)))
        .build()
        .unwrap()
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    limited.assert_calls_async(1).await;
    ok.assert_calls_async(1).await;
}

#[tokio::test]
async fn total_deadline_stops_retries_early() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let limited = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(429).header("Retry-After", "2");
        })
        .await;
    let started = Instant::now();
    let err = builder(&server)
        .timeouts(
            sailpoint_isc::TimeoutConfig::standard()
                .with_total_deadline(Some(Duration::from_secs(1))),
        )
        .build()
        .unwrap()
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap_err();
    // No retry (one call, asserted below) and no wait for the 2 s Retry-After.
    let _ = started;
    match err {
        Error::RateLimited {
            retry_after,
            context,
        } => {
            assert_eq!(retry_after, Some(Duration::from_secs(2)));
            assert_eq!(context.attempts, 1);
        }
        other => panic!("{other:?}"),
    }
    limited.assert_calls_async(1).await;
}

#[tokio::test]
async fn html_502_after_retries_is_a_server_error_with_snippet() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let gateway = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(502)
                .header("content-type", "text/html")
                .header("SLPT-Request-ID", "req-502")
                .body("<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>");
        })
        .await;
    let err = client(&server)
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap_err();
    gateway.assert_calls_async(3).await;
    match &err {
        Error::Server { context } => {
            assert_eq!(context.status.map(|s| s.as_u16()), Some(502));
            assert_eq!(context.attempts, 3);
            assert_eq!(context.request_id.as_deref(), Some("req-502"));
            let snippet = context.body_snippet.as_deref().unwrap();
            assert!(
                snippet.contains("<title>502 Bad Gateway</title>"),
                "{snippet}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("502 Bad Gateway"), "{err}");
}

#[tokio::test]
async fn malformed_200_body_is_undecodable_with_snippet() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let ok = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200).body("<html>maintenance</html>");
        })
        .await;
    let err = client(&server)
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap_err();
    ok.assert_calls_async(1).await;
    match &err {
        Error::UndecodableBody { context, .. } => {
            assert_eq!(
                context.body_snippet.as_deref(),
                Some("<html>maintenance</html>")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn not_found_is_expired_or_unknown() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let missing = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(404).json_body(json!({
                "detailCode": "404 Not found",
                "trackingId": "b21b1f7ce4da4d639f2c62a57171b427",
                "messages": [{"locale": "en-US", "localeOrigin": "DEFAULT", "text": "The server did not find a current representation for the target resource."}]
            }));
        })
        .await;
    let err = client(&server)
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap_err();
    missing.assert_calls_async(1).await;
    match &err {
        Error::AggregationExpired { task_id, context } => {
            assert_eq!(task_id, TASK_ID);
            assert_eq!(
                context.tracking_id(),
                Some("b21b1f7ce4da4d639f2c62a57171b427")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn forbidden_is_not_retried() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let forbidden = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(403)
                .json_body(json!({"detailCode": "403 Forbidden", "messages": [{"text": "no"}]}));
        })
        .await;
    let err = client(&server)
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    forbidden.assert_calls_async(1).await;
}

#[tokio::test]
async fn read_timeouts_on_get_are_retried() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let slow = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200)
                .json_body(json!({"status": "STARTED"}))
                .delay(Duration::from_millis(600))
                .up_to_n_times(1);
        })
        .await;
    let fast = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200).json_body(json!({"status": "COMPLETED"}));
        })
        .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let s = builder(&server)
        .http_client(http)
        .build()
        .unwrap()
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(s.state, Some(AggregationState::Completed));
    slow.assert_calls_async(1).await;
    fast.assert_calls_async(1).await;
}

#[tokio::test]
async fn connection_refused_on_get_is_retried_then_transport_error() {
    let client = Client::builder()
        .base_url(format!("http://127.0.0.1:{}", closed_port()))
        .access_token("fixed-token")
        .retry(fast_retry())
        .build()
        .unwrap();
    let err = client.aggregation_status(TASK_ID).send().await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.attempts(), 3);
}

#[tokio::test]
async fn invalid_task_id_is_refused_before_any_request() {
    let server = MockServer::start_async().await;
    let any = catch_all(&server).await;
    let err = client(&server)
        .aggregation_status("a/b")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    any.assert_calls_async(0).await;
}

#[tokio::test]
async fn persistent_read_timeouts_end_in_a_timeout_error() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let slow = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200)
                .json_body(json!({"status": "STARTED"}))
                .delay(Duration::from_millis(400));
        })
        .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = builder(&server)
        .http_client(http)
        .build()
        .unwrap()
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap_err();
    match &err {
        Error::Timeout { context, source } => {
            assert!(source.is_timeout());
            assert_eq!(context.attempts, 3);
        }
        other => panic!("{other:?}"),
    }
    slow.assert_calls_async(3).await;
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Client>();
    send_sync::<Error>();
    send_sync::<sailpoint_isc::AggregationStatus>();
    let client = Client::builder()
        .base_url("https://acme.api.identitynow.com")
        .access_token("t")
        .build()
        .unwrap();
    send(&client.start_aggregation(SOURCE_ID).file("a.csv").send());
    send(&client.aggregation_status(TASK_ID).send());
    send(&client.wait_for_aggregation(TASK_ID).send());
    send(&client.wait_for_aggregation(TASK_ID).into_stream());
}

/// The SDK's own client bounds a read with its read timeout (one timer per attempt) and retries
/// it; when the total deadline is the shorter bound, the result is `DeadlineExceeded`.
#[tokio::test]
async fn the_sdk_client_bounds_reads_by_the_read_timeout_or_the_deadline() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let slow = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200)
                .json_body(json!({"status": "STARTED"}))
                .delay(Duration::from_millis(700))
                .up_to_n_times(1);
        })
        .await;
    let fast = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200).json_body(json!({"status": "COMPLETED"}));
        })
        .await;
    let timeouts = sailpoint_isc::TimeoutConfig::standard().with_read_timeout(ms(200));
    let s = builder(&server)
        .timeouts(timeouts.clone())
        .build()
        .unwrap()
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(s.state, Some(AggregationState::Completed));
    slow.assert_calls_async(1).await;
    fast.assert_calls_async(1).await;

    fast.delete_async().await;
    let hanging = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200)
                .json_body(json!({"status": "STARTED"}))
                .delay(Duration::from_secs(20));
        })
        .await;
    let started = Instant::now();
    let err = builder(&server)
        .timeouts(
            sailpoint_isc::TimeoutConfig::standard()
                .with_read_timeout(Duration::from_secs(30))
                .with_total_deadline(Some(ms(300))),
        )
        .build()
        .unwrap()
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DeadlineExceeded { .. }), "{err:?}");
    // Cut by the 300 ms deadline, not by the 20 s answer or the 30 s read timeout (a bound far
    // from both, so a loaded machine cannot make it flake).
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    hanging.assert_calls_async(1).await;
}

/// An `X-Deprecated: true` answer is a `tracing` warning once per client and operation, however
/// often the operation is called; another client warns again.
#[tokio::test]
async fn deprecated_operations_are_warned_once_per_client_and_operation() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("sailpoint_isc=warn"))
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let status = server
        .mock_async(|when, then| {
            when.method(GET).path(status_path(v()));
            then.status(200)
                .header("X-Deprecated", "true")
                .json_body(json!({"status": "STARTED"}));
        })
        .await;
    let import = server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(202)
                .header("X-Deprecated", "true")
                .json_body(task_body());
        })
        .await;
    let warnings = |captured: &Captured| {
        captured
            .text()
            .lines()
            .filter(|l| l.contains("WARN") && l.contains("deprecated"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let first = client(&server);
    for _ in 0..3 {
        first.aggregation_status(TASK_ID).send().await.unwrap();
    }
    first.start_aggregation(SOURCE_ID).send().await.unwrap();
    let seen = warnings(&captured);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].contains("getAccountAggregationStatus"), "{seen:?}");
    assert!(seen[1].contains("importAccounts"), "{seen:?}");
    assert!(seen.iter().all(|l| l.contains(v().name())), "{seen:?}");
    client(&server)
        .aggregation_status(TASK_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(warnings(&captured).len(), 3);
    status.assert_calls_async(4).await;
    import.assert_calls_async(1).await;
}

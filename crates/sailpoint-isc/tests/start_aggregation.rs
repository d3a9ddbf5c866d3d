//! Starting an aggregation: streamed multipart upload, input validation before any request, and
//! the non-idempotent retry rules (429 and not-sent only; everything else is "outcome unknown").

mod common;

use std::time::{Duration, Instant};

use common::*;
use httpmock::prelude::*;
use sailpoint_isc::{
    AccountsFile, ApiVersion, Client, Error, FileProblem, OutcomeResolution, RetryConfig,
};
use serde_json::json;

const CSV: &[u8] =
    b"id,name,email\n1,Ada Lovelace,ada@example.com\n2,Alan Turing,alan@example.com\n";

#[tokio::test]
async fn uploads_file_bytes_exactly_with_text_disable_optimization_and_content_length() {
    for version in ApiVersion::all() {
        uploads_file_bytes_exactly_in(version).await;
    }
}

async fn uploads_file_bytes_exactly_in(version: ApiVersion) {
    let server = MockServer::start_async().await;
    let token = token_mock(&server, TOKEN, 749).await;
    let upload = server
        .mock_async(|when, then| {
            let when = experimental_header_as_specified(when, version, "importAccounts");
            when.method(POST)
                .path(load_accounts_path(version))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header(
                    "user-agent",
                    format!("sailpoint-isc-rust/{}", env!("CARGO_PKG_VERSION")),
                )
                .header_prefix("content-type", "multipart/form-data; boundary=")
                .body_includes(
                    "Content-Disposition: form-data; name=\"file\"; filename=\"accounts.csv\"",
                )
                .body_includes("Content-Type: text/csv")
                .body_includes(String::from_utf8(CSV.to_vec()).unwrap())
                .body_includes(
                    "Content-Disposition: form-data; name=\"disableOptimization\"\r\n\r\ntrue\r\n",
                )
                .is_true(|req| {
                    let len = req
                        .headers()
                        .get("content-length")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<usize>().ok());
                    len == Some(req.body_ref().len())
                });
            then.status(202).json_body(task_body());
        })
        .await;
    let path = temp_file("accounts.csv", CSV);

    let started = client_for(&server, version)
        .start_aggregation(SOURCE_ID)
        .file(&path)
        .disable_optimization(true)
        .send()
        .await
        .expect("started");

    assert_eq!(started.task_id, TASK_ID);
    assert_eq!(started.source_id, SOURCE_ID);
    assert_eq!(started.api_version, version);
    assert_eq!(started.success, Some(true));
    assert_eq!(started.task.launcher.as_deref(), Some("System"));
    assert_eq!(
        started.task.created.map(|t| t.timestamp_millis()),
        Some(1713522033823),
        "epoch-ms timestamp"
    );
    assert!(started.task.launched.is_some(), "RFC 3339 timestamp");
    assert_eq!(started.task.completed, None);
    upload.assert_calls_async(1).await;
    token.assert_calls_async(1).await;
}

#[tokio::test]
async fn beta_upload_uses_beta_path_and_sends_false_by_default() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let upload = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(load_accounts_path(ApiVersion::BETA))
                .body_includes("name=\"disableOptimization\"\r\n\r\nfalse\r\n")
                .body_includes(String::from_utf8(CSV.to_vec()).unwrap())
                .header_exists("content-length");
            then.status(202).json_body(task_body());
        })
        .await;
    let file = AccountsFile::open(temp_file("people.csv", CSV))
        .await
        .unwrap()
        .with_file_name("accounts.csv");
    let started = client(&server)
        .start_aggregation(SOURCE_ID)
        .api_version(ApiVersion::BETA)
        .accounts_file(file)
        .send()
        .await
        .unwrap();
    assert_eq!(started.api_version, ApiVersion::BETA);
    upload.assert_calls_async(1).await;
}

#[tokio::test]
async fn direct_connect_source_sends_no_file_part() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let upload = server
        .mock_async(|when, then| {
            when.method(POST)
                .path(load_accounts_path(v()))
                .body_includes("name=\"disableOptimization\"")
                .is_true(|req| !String::from_utf8_lossy(req.body_ref()).contains("name=\"file\""));
            then.status(202).json_body(task_body());
        })
        .await;
    client(&server)
        .start_aggregation(SOURCE_ID)
        .send()
        .await
        .unwrap();
    upload.assert_calls_async(1).await;
}

#[tokio::test]
async fn rate_limited_post_waits_retry_after_then_succeeds_with_exactly_two_posts() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let limited = server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(429)
                .header("Retry-After", "1")
                .json_body(json!({"message": " Rate Limit Exceeded "}))
                .up_to_n_times(1);
        })
        .await;
    let accepted = server
        .mock_async(|when, then| {
            // The retry streams the whole file again.
            when.method(POST)
                .path(load_accounts_path(v()))
                .body_includes(String::from_utf8(CSV.to_vec()).unwrap());
            then.status(202).json_body(task_body());
        })
        .await;
    let path = temp_file("accounts.csv", CSV);

    let started_at = Instant::now();
    let started = client(&server)
        .start_aggregation(SOURCE_ID)
        .file(&path)
        .send()
        .await
        .unwrap();

    assert!(started_at.elapsed() >= Duration::from_secs(1));
    assert_eq!(started.task_id, TASK_ID);
    limited.assert_calls_async(1).await;
    accepted.assert_calls_async(1).await;
}

#[tokio::test]
async fn rate_limited_post_gives_up_after_max_attempts_with_retry_after() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let limited = server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(429)
                .header("Retry-After", "0")
                .header("SLPT-Request-ID", "req-429")
                .json_body(json!({"message": " Rate Limit Exceeded "}));
        })
        .await;
    let err = client(&server)
        .start_aggregation(SOURCE_ID)
        .send()
        .await
        .unwrap_err();
    match &err {
        Error::RateLimited {
            retry_after,
            context,
        } => {
            assert_eq!(*retry_after, Some(Duration::ZERO));
            assert_eq!(context.attempts, 3);
            assert_eq!(context.request_id.as_deref(), Some("req-429"));
            assert_eq!(context.messages(), vec!["Rate Limit Exceeded"]);
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    limited.assert_calls_async(3).await;
}

#[tokio::test]
async fn server_error_on_post_is_not_retried_and_reports_outcome_unknown() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let failing = server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(500)
                .header("SLPT-Request-ID", "req-500")
                .json_body(json!({
                    "detailCode": "500.0 Internal Fault",
                    "trackingId": "b21b1f7ce4da4d639f2c62a57171b427",
                    "messages": [{"locale": "en-US", "localeOrigin": "DEFAULT", "text": "An internal fault occurred."}]
                }));
        })
        .await;
    let path = temp_file("accounts.csv", CSV);

    let err = client(&server)
        .start_aggregation(SOURCE_ID)
        .file(&path)
        .send()
        .await
        .unwrap_err();

    failing.assert_calls_async(1).await;
    assert!(err.is_outcome_unknown(), "{err:?}");
    match &err {
        Error::OutcomeUnknown {
            source_id, context, ..
        } => {
            assert_eq!(source_id, SOURCE_ID);
            assert_eq!(context.status.map(|s| s.as_u16()), Some(500));
            assert_eq!(context.attempts, 1);
            assert_eq!(
                context.tracking_id(),
                Some("b21b1f7ce4da4d639f2c62a57171b427")
            );
            assert_eq!(context.request_id.as_deref(), Some("req-500"));
        }
        other => panic!("{other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("may or may not have started"), "{message}");
    assert!(message.contains("recent tasks"), "{message}");
}

#[tokio::test]
async fn html_502_on_post_is_outcome_unknown_with_snippet() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let failing = server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(502)
                .header("content-type", "text/html")
                .body("<html><body><h1>502 Bad Gateway</h1></body></html>");
        })
        .await;
    let err = client(&server)
        .start_aggregation(SOURCE_ID)
        .send()
        .await
        .unwrap_err();
    failing.assert_calls_async(1).await;
    let context = err.context().unwrap();
    assert!(err.is_outcome_unknown());
    assert!(
        context
            .body_snippet
            .as_deref()
            .unwrap()
            .contains("502 Bad Gateway"),
        "{context:?}"
    );
}

#[tokio::test]
async fn timeout_after_sending_post_is_not_retried() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let slow = server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(202)
                .json_body(task_body())
                .delay(Duration::from_millis(800));
        })
        .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = builder(&server)
        .http_client(http)
        .build()
        .unwrap()
        .start_aggregation(SOURCE_ID)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    slow.assert_calls_async(1).await;
}

#[tokio::test]
async fn connection_lost_after_sending_post_is_outcome_unknown() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncReadExt;

    // A server that reads the request and hangs up without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                break;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 64 * 1024];
            let _ = tokio::time::timeout(Duration::from_millis(200), socket.read(&mut buf)).await;
            drop(socket);
        }
    });
    let client = Client::builder()
        .base_url(format!("http://127.0.0.1:{port}"))
        .access_token("fixed-token")
        .retry(fast_retry())
        .outcome_resolution(OutcomeResolution::disabled())
        .build()
        .unwrap();
    let err = client
        .start_aggregation(SOURCE_ID)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "exactly one request");
    server.abort();
}

#[tokio::test]
async fn connection_refused_on_post_is_retried_then_transport_error() {
    let port = closed_port();
    let client = Client::builder()
        .base_url(format!("http://127.0.0.1:{port}"))
        .access_token("fixed-token")
        .retry(fast_retry())
        .build()
        .unwrap();
    let path = temp_file("accounts.csv", CSV);
    let err = client
        .start_aggregation(SOURCE_ID)
        .file(&path)
        .send()
        .await
        .unwrap_err();
    match &err {
        Error::Transport { context, source } => {
            assert!(source.is_connect(), "{source:?}");
            assert_eq!(context.attempts, 3, "retried up to max attempts");
            assert_eq!(context.status, None);
        }
        other => panic!("expected Transport, got {other:?}"),
    }
}

#[tokio::test]
async fn empty_file_is_refused_before_any_request() {
    let server = MockServer::start_async().await;
    let token = token_mock(&server, TOKEN, 749).await;
    let any = catch_all(&server).await;
    let path = temp_file("empty.csv", b"");
    let err = client(&server)
        .start_aggregation(SOURCE_ID)
        .file(&path)
        .send()
        .await
        .unwrap_err();
    match &err {
        Error::InvalidFile { path: p, problem } => {
            assert_eq!(p, &path);
            assert_eq!(problem, &FileProblem::Empty);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.attempts(), 0);
    token.assert_calls_async(0).await;
    any.assert_calls_async(0).await;
}

#[tokio::test]
async fn missing_file_and_directory_are_refused_before_any_request() {
    let server = MockServer::start_async().await;
    let token = token_mock(&server, TOKEN, 749).await;
    let any = catch_all(&server).await;
    let client = client(&server);
    let dir = temp_file("x.csv", b"a").parent().unwrap().to_path_buf();

    let missing = client
        .start_aggregation(SOURCE_ID)
        .file(dir.join("does-not-exist.csv"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            &missing,
            Error::InvalidFile {
                problem: FileProblem::NotFound,
                ..
            }
        ),
        "{missing:?}"
    );
    assert!(missing.to_string().contains("does-not-exist.csv"));

    let directory = client
        .start_aggregation(SOURCE_ID)
        .file(&dir)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            &directory,
            Error::InvalidFile {
                problem: FileProblem::NotAFile,
                ..
            }
        ),
        "{directory:?}"
    );

    token.assert_calls_async(0).await;
    any.assert_calls_async(0).await;
}

#[cfg(unix)]
#[tokio::test]
async fn unreadable_file_is_refused_before_any_request() {
    use std::os::unix::fs::PermissionsExt;
    let path = temp_file("locked.csv", CSV);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&path).is_ok() {
        // Running as root: permissions do not apply.
        return;
    }
    let server = MockServer::start_async().await;
    let any = catch_all(&server).await;
    let err = client(&server)
        .start_aggregation(SOURCE_ID)
        .file(&path)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidFile {
                problem: FileProblem::Unreadable(_),
                ..
            }
        ),
        "{err:?}"
    );
    any.assert_calls_async(0).await;
}

#[tokio::test]
async fn invalid_source_ids_are_refused_before_any_request() {
    let server = MockServer::start_async().await;
    let any = catch_all(&server).await;
    let client = client(&server);
    for bad in ["", "   ", "abc/def", "../x", "a b"] {
        let err = client.start_aggregation(bad).send().await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { .. }),
            "{bad:?}: {err:?}"
        );
    }
    any.assert_calls_async(0).await;
}

#[tokio::test]
async fn bad_request_carries_isc_messages() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let rejected = server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(400).json_body(json!({
                "detailCode": "400.1 Bad Request Content",
                "trackingId": "e7eab60924f64aa284175b9fa3309599",
                "messages": [{"locale": "en-US", "localeOrigin": "DEFAULT", "text": "The CSV header is missing."}],
                "causes": []
            }));
        })
        .await;
    let err = client(&server)
        .start_aggregation(SOURCE_ID)
        .send()
        .await
        .unwrap_err();
    rejected.assert_calls_async(1).await;
    match &err {
        Error::BadRequest { context } => {
            assert_eq!(context.messages(), vec!["The CSV header is missing."]);
            assert_eq!(
                context.tracking_id(),
                Some("e7eab60924f64aa284175b9fa3309599")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("The CSV header is missing."));
}

#[tokio::test]
async fn malformed_202_body_is_an_ambiguous_start_with_the_bytes_received() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let accepted = server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(202)
                .body("{\"success\": true, \"task\": {\"id\": ");
        })
        .await;
    let err = client(&server)
        .start_aggregation(SOURCE_ID)
        .send()
        .await
        .unwrap_err();
    accepted.assert_calls_async(1).await;
    // ISC accepted it: an aggregation started once, so this is resolved through task status
    // (here: nothing answers the lookup, so it stays unknown), never exit 3.
    match &err {
        Error::OutcomeUnknown {
            context, reason, ..
        } => {
            let snippet = context.body_snippet.as_deref().unwrap();
            assert_eq!(snippet, "{\"success\": true, \"task\": {\"id\":");
            assert_eq!(context.status.map(|s| s.as_u16()), Some(202));
            assert!(reason.contains("accepted the start"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn spec_example_body_with_invalid_hour_still_decodes() {
    // The spec's own examples use hour 42; the lenient model keeps the rest of the task.
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(202).json_body(json!({
                "success": "true",
                "task": {"id": TASK_ID, "created": "2020-09-07T42:14:00.364Z", "completionStatus": "Success"}
            }));
        })
        .await;
    let started = client(&server)
        .start_aggregation(SOURCE_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(started.task_id, TASK_ID);
    assert_eq!(started.task.created, None);
    assert_eq!(started.task.completion_status.as_deref(), Some("Success"));
}

#[tokio::test]
async fn retries_disabled_sends_a_rate_limited_post_once() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let limited = server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(429).header("Retry-After", "0");
        })
        .await;
    let err = builder(&server)
        .retry(RetryConfig::disabled())
        .build()
        .unwrap()
        .start_aggregation(SOURCE_ID)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    limited.assert_calls_async(1).await;
}

/// The task-status list path of `version`.
fn task_list_path(version: ApiVersion) -> String {
    op_path(version, "getTaskStatusList", &[])
}

/// A 429, then a wait for the client-side rate limiter that runs past the deadline: the start
/// was never sent a second time and the first was refused, so it is `DeadlineExceeded` (not
/// "outcome unknown") and no task-status lookup runs. Exactly one import request.
#[tokio::test]
async fn deadline_passing_before_the_resend_is_not_a_possible_start() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let import = server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(429)
                .header("retry-after", "0")
                .json_body(json!({"message": "Rate Limit Exceeded"}));
        })
        .await;
    let lists = server
        .mock_async(|when, then| {
            when.method(GET).path(task_list_path(v()));
            then.status(200).json_body(json!([]));
        })
        .await;
    let client = builder(&server)
        // One request per minute: the resend would wait ~a minute for the limiter.
        .rate_limit(sailpoint_isc::RateLimit::new(1, Duration::from_secs(60)))
        .timeouts(
            sailpoint_isc::TimeoutConfig::standard()
                .with_total_deadline(Some(Duration::from_millis(400))),
        )
        .outcome_resolution(OutcomeResolution::standard().with_snapshot(false))
        .build()
        .unwrap();
    let path = temp_file("accounts.csv", CSV);
    let err = client
        .start_aggregation(SOURCE_ID)
        .file(&path)
        .send()
        .await
        .unwrap_err();
    match &err {
        Error::DeadlineExceeded { context, .. } => {
            assert_eq!(context.attempts, 1, "{err}");
            assert_eq!(context.status.map(|s| s.as_u16()), Some(429));
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    import.assert_calls_async(1).await;
    lists.assert_calls_async(0).await;
}

/// ISC accepted the start (202) but its answer has no task id: an aggregation started once, so
/// task status is asked, and the one new task there is the start (recovered, not exit 3).
#[tokio::test]
async fn accepted_without_a_task_id_is_resolved_through_task_status() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let import = server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(202)
                .json_body(json!({"success": true, "task": {"id": null}}));
        })
        .await;
    let snapshot = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(task_list_path(v()))
                .query_param("limit", "1");
            then.status(200).json_body(json!([]));
        })
        .await;
    let created = chrono::Utc::now().to_rfc3339();
    let lookup = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(task_list_path(v()))
                .query_param("limit", "25");
            then.status(200).json_body(json!([{
                "id": TASK_ID, "type": "QUARTZ", "created": created, "completionStatus": null,
                "target": {"id": SOURCE_ID, "type": "APPLICATION", "name": "HR"},
                "messages": []
            }]));
        })
        .await;
    let started = builder(&server)
        .outcome_resolution(
            OutcomeResolution::standard()
                .with_grace_period(Duration::from_secs(2))
                .with_poll_interval(ms(50)),
        )
        .build()
        .unwrap()
        .start_aggregation(SOURCE_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(started.task_id, TASK_ID);
    assert_eq!(started.origin, sailpoint_isc::StartOrigin::Recovered);
    import.assert_calls_async(1).await;
    snapshot.assert_calls_async(1).await;
    lookup.assert_calls_async(1).await;
}

/// ISC's 202 with a task that has already ended `ERROR` (an aggregation was running on the
/// source) is a refused start, with ISC's message; it is not retried.
#[tokio::test]
async fn a_202_whose_task_already_failed_is_a_refused_start() {
    let server = MockServer::start_async().await;
    token_mock(&server, TOKEN, 749).await;
    let message = "This aggregation failed because the currently running aggregation must \
                   complete before the next one can start.";
    let mut body = task_body();
    body["task"]["completionStatus"] = json!("ERROR");
    body["task"]["completed"] = json!("2024-04-19T10:20:34.000Z");
    body["task"]["messages"] = json!([{
        "type": "WARN", "error": false, "warning": true, "key": message, "localizedText": message
    }]);
    let import = server
        .mock_async(|when, then| {
            when.method(POST).path(load_accounts_path(v()));
            then.status(202).json_body(body);
        })
        .await;
    let err = client(&server)
        .start_aggregation(SOURCE_ID)
        .send()
        .await
        .unwrap_err();
    match &err {
        Error::StartRefused {
            task_id,
            completion_status,
            messages,
            ..
        } => {
            assert_eq!(task_id, TASK_ID);
            assert_eq!(completion_status, "ERROR");
            assert_eq!(messages, &[message.to_owned()]);
            assert!(
                err.to_string().contains("currently running aggregation"),
                "{err}"
            );
        }
        other => panic!("expected StartRefused, got {other:?}"),
    }
    import.assert_calls_async(1).await;
}

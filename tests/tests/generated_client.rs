//! The generated low-level client (`sailpoint-isc-api`) against httpmock: for each of the four
//! operations, the request matches the spec (method, path, headers, body) and the documented
//! success and error responses decode.

use futures_util::TryStreamExt;
use httpmock::prelude::*;
use sailpoint_isc_api::{RequestContext, beta, v2025};

const TASK: &str = include_str!("../fixtures/load_accounts_task.json");
const TASK_EPOCH: &str = include_str!("../fixtures/load_accounts_task_epoch_millis.json");
const STATUS_V2025: &str = include_str!("../fixtures/status_v2025.json");
const STATUS_BETA_UNKNOWN: &str = include_str!("../fixtures/status_beta_unknown_state.json");
const ERR_400: &str = include_str!("../fixtures/error_400.json");
const ERR_400_EXPERIMENTAL: &str = include_str!("../fixtures/error_400_experimental.json");
const ERR_401: &str = include_str!("../fixtures/error_401.json");
const ERR_404: &str = include_str!("../fixtures/error_404.json");
const ERR_429: &str = include_str!("../fixtures/error_429.json");
const ERR_500: &str = include_str!("../fixtures/error_500.json");

const CSV: &str = "id,name,email\n1,Ada Lovelace,ada@example.com\n2,Alan Turing,alan@example.com\n";

fn beta_client(server: &MockServer) -> beta::Client {
    beta::Client::new_with_client(
        &format!("{}/beta", server.base_url()),
        reqwest::Client::new(),
        RequestContext::new(),
    )
}

fn v2025_client(server: &MockServer) -> v2025::Client {
    v2025::Client::new_with_client(
        &format!("{}/v2025", server.base_url()),
        reqwest::Client::new(),
        RequestContext::new(),
    )
}

fn csv_part() -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(CSV.as_bytes())
        .file_name("accounts.csv")
        .mime_str("text/csv")
        .unwrap()
}

async fn body_bytes(err: v2025::Error<v2025::ByteStream>) -> (u16, Vec<u8>) {
    match err {
        v2025::Error::ErrorResponse(rv) => {
            let status = rv.status().as_u16();
            let bytes: Vec<u8> = rv
                .into_inner()
                .into_inner()
                .map_ok(|b| b.to_vec())
                .try_concat()
                .await
                .unwrap();
            (status, bytes)
        }
        other => panic!("expected a documented error response, got {other:?}"),
    }
}

#[tokio::test]
async fn beta_import_accounts_sends_multipart_file_and_text_flag() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/beta/sources/ef38f94347e94562b5bb8424a56397d8/load-accounts")
                .header_prefix("content-type", "multipart/form-data; boundary=")
                .header_exists("content-length")
                .header("accept", "application/json")
                .header_missing("x-sailpoint-experimental")
                .header_missing("api-version")
                .body_includes("name=\"file\"; filename=\"accounts.csv\"")
                .body_includes("Content-Type: text/csv")
                .body_includes(CSV)
                .body_includes("name=\"disableOptimization\"\r\n\r\ntrue\r\n");
            then.status(202)
                .header("content-type", "application/json")
                .body(TASK);
        })
        .await;

    let form = beta::multipart::ImportAccountsForm {
        file: Some(csv_part()),
        disable_optimization: Some("true".into()),
    };
    let task = beta_client(&server)
        .import_accounts("ef38f94347e94562b5bb8424a56397d8", form)
        .await
        .expect("202 decodes")
        .into_inner();
    mock.assert_async().await;

    assert_eq!(task.success, Some(true));
    let inner = task.task.expect("task");
    assert_eq!(
        inner.id.as_deref(),
        Some("ef38f94347e94562b5bb8424a56397d8")
    );
    assert_eq!(inner.completion_status, None);
    assert_eq!(
        inner.created.map(|t| t.to_string()).as_deref(),
        Some("2020-09-07T12:14:00.364Z")
    );
    let attrs = inner.attributes.expect("attributes");
    assert_eq!(
        attrs.app_id.as_deref(),
        Some("c31386cb18bb403cbb6df4c86294ff82")
    );
    // `additionalProperties: {type: object}` in the spec, but ISC sends scalars: kept open.
    assert_eq!(attrs.extra.get("someCounter"), Some(&serde_json::json!(3)));
    assert_eq!(inner.returns.len(), 2);
}

#[tokio::test]
async fn beta_import_accounts_without_file_sends_only_the_flag() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/beta/sources/direct-source/load-accounts")
                .body_includes("name=\"disableOptimization\"\r\n\r\nfalse\r\n")
                .body_excludes("name=\"file\"");
            then.status(202)
                .header("content-type", "application/json")
                .body(TASK);
        })
        .await;
    let form = beta::multipart::ImportAccountsForm {
        file: None,
        disable_optimization: Some("false".into()),
    };
    beta_client(&server)
        .import_accounts("direct-source", form)
        .await
        .expect("202");
    mock.assert_async().await;
}

#[tokio::test]
async fn v2025_import_accounts_decodes_epoch_millis_and_nulls() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v2025/sources/src%2F1/load-accounts")
                .header_missing("x-sailpoint-experimental")
                .body_includes(CSV);
            then.status(202)
                .header("content-type", "application/json")
                .body(TASK_EPOCH);
        })
        .await;
    let form = v2025::multipart::ImportAccountsForm {
        file: Some(csv_part()),
        disable_optimization: None,
    };
    // The path parameter is percent-encoded: a `/` in an id cannot escape the path.
    let task = v2025_client(&server)
        .import_accounts("src/1", form)
        .await
        .expect("202 decodes")
        .into_inner()
        .task
        .expect("task");
    mock.assert_async().await;
    assert_eq!(
        task.created.map(|t| t.to_string()).as_deref(),
        Some("2024-04-19T10:20:33.823Z")
    );
    assert_eq!(task.messages.len(), 1);
    assert_eq!(task.messages[0].error, None);
    assert_eq!(task.messages[0].warning, Some(true));
    assert_eq!(task.messages[0].type_.as_deref(), Some("WARN"));
}

#[tokio::test]
async fn v2025_status_sends_the_experimental_header_and_decodes_all_fields() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v2025/account-aggregations/2c91808477a6b0c60177a81146b8110b/status")
                .header("x-sailpoint-experimental", "true")
                .header("accept", "application/json")
                .header_missing("api-version");
            then.status(200)
                .header("content-type", "application/json")
                .body(STATUS_V2025);
        })
        .await;
    let status = v2025_client(&server)
        .get_account_aggregation_status("2c91808477a6b0c60177a81146b8110b")
        .await
        .expect("200 decodes")
        .into_inner();
    mock.assert_async().await;
    assert_eq!(status.status.as_deref(), Some("ACCOUNTS_COLLECTED"));
    assert_eq!(status.total_accounts, Some(520));
    assert_eq!(status.processed_accounts, Some(150));
    assert_eq!(status.total_accounts_marked_for_deletion, Some(10));
    assert_eq!(status.deleted_accounts, Some(5));
    assert_eq!(status.total_identities, Some(300));
    assert_eq!(status.processed_identities, Some(250));
    assert!(status.start.is_some());
}

#[tokio::test]
async fn beta_status_has_no_experimental_header_and_keeps_unknown_states() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/beta/account-aggregations/agg-1/status")
                .header_missing("x-sailpoint-experimental");
            then.status(200)
                .header("content-type", "application/json")
                .body(STATUS_BETA_UNKNOWN);
        })
        .await;
    let status = beta_client(&server)
        .get_account_aggregation_status("agg-1")
        .await
        .expect("200 decodes")
        .into_inner();
    mock.assert_async().await;
    assert_eq!(status.status.as_deref(), Some("QUEUED"));
    assert_eq!(status.total_accounts, None);
}

#[tokio::test]
async fn context_headers_are_sent_and_redacted_in_debug() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/beta/account-aggregations/a/status")
                .header("authorization", "Bearer s3cr3t-token")
                .header("user-agent", "test-agent/1");
            then.status(200)
                .header("content-type", "application/json")
                .body(STATUS_V2025);
        })
        .await;
    let mut auth = reqwest::header::HeaderValue::from_static("Bearer s3cr3t-token");
    auth.set_sensitive(true);
    let context = RequestContext::new()
        .with_header(reqwest::header::AUTHORIZATION, auth)
        .with_header(
            reqwest::header::USER_AGENT,
            reqwest::header::HeaderValue::from_static("test-agent/1"),
        );
    let debug = format!("{context:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(debug.contains("test-agent/1"), "{debug}");
    let client = beta::Client::new_with_client(
        &format!("{}/beta", server.base_url()),
        reqwest::Client::new(),
        context,
    );
    client.get_account_aggregation_status("a").await.unwrap();
    mock.assert_async().await;
}

/// Serves `body` with `status` for the v2025 status operation and returns the decoded error.
async fn v2025_status_error(
    status: u16,
    body: &str,
) -> v2025::errors::GetAccountAggregationStatusError {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v2025/account-aggregations/x/status");
            then.status(status)
                .header("content-type", "application/json")
                .body(body);
        })
        .await;
    let err = v2025_client(&server)
        .get_account_aggregation_status("x")
        .await
        .expect_err("an error status");
    let (got, bytes) = body_bytes(err).await;
    assert_eq!(got, status);
    v2025::errors::GetAccountAggregationStatusError::decode(status, &bytes)
        .expect("documented status")
        .expect("body decodes")
}

#[tokio::test]
async fn v2025_status_error_bodies_decode_by_status() {
    use v2025::errors::GetAccountAggregationStatusError as E;
    // Quirk: the spec's 400 reuses the 401 body, `{error}`: exactly what ISC sends when the
    // experimental header is missing.
    match v2025_status_error(400, ERR_400_EXPERIMENTAL).await {
        E::Status400(b) => assert_eq!(
            b.error,
            Some(serde_json::json!(
                "Experimental Header is missing or invalid."
            ))
        ),
        other => panic!("{other:?}"),
    }
    match v2025_status_error(401, ERR_401).await {
        E::Status401(b) => assert_eq!(
            b.error,
            Some(serde_json::json!("JWT validation failed: JWT is expired"))
        ),
        other => panic!("{other:?}"),
    }
    match v2025_status_error(404, ERR_404).await {
        E::Status404(dto) => {
            assert_eq!(
                dto.tracking_id.as_deref(),
                Some("b21b1f7ce4da4d639f2c62a57171b427")
            );
            // `locale` and `localeOrigin` are null: accepted.
            assert_eq!(dto.messages[0].locale, None);
        }
        other => panic!("{other:?}"),
    }
    match v2025_status_error(429, ERR_429).await {
        E::Status429(b) => assert_eq!(b.message, Some(serde_json::json!(" Rate Limit Exceeded "))),
        other => panic!("{other:?}"),
    }
    match v2025_status_error(500, ERR_500).await {
        // A `localeOrigin` the spec does not list still decodes.
        E::Status500(dto) => assert_eq!(dto.detail_code.as_deref(), Some("500.0 Internal Fault")),
        other => panic!("{other:?}"),
    }
    match v2025_status_error(403, ERR_400).await {
        E::Status403(dto) => assert_eq!(
            dto.detail_code.as_deref(),
            Some("400.1 Bad Request Content")
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn import_accounts_error_bodies_decode_by_status() {
    use beta::errors::ImportAccountsError as E;
    for (status, body) in [
        (400, ERR_400),
        (401, ERR_401),
        (403, ERR_400),
        (429, ERR_429),
        (500, ERR_500),
    ] {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                when.method(POST).path("/beta/sources/s/load-accounts");
                then.status(status)
                    .header("content-type", "application/json")
                    .header("retry-after", "7")
                    .body(body);
            })
            .await;
        let err = beta_client(&server)
            .import_accounts("s", Default::default())
            .await
            .expect_err("error status");
        mock.assert_async().await;
        let beta::Error::ErrorResponse(rv) = err else {
            panic!("{status}: expected a documented error")
        };
        // Response headers (Retry-After) stay readable on the raw error.
        assert_eq!(rv.headers().get("retry-after").unwrap(), "7");
        let bytes: Vec<u8> = rv
            .into_inner()
            .into_inner()
            .map_ok(|b| b.to_vec())
            .try_concat()
            .await
            .unwrap();
        let decoded = E::decode(status, &bytes)
            .expect("documented")
            .expect("decodes");
        let ok = matches!(
            (status, &decoded),
            (400, E::Status400(_))
                | (401, E::Status401(_))
                | (403, E::Status403(_))
                | (429, E::Status429(_))
                | (500, E::Status500(_))
        );
        assert!(ok, "{status} decoded as {decoded:?}");
    }
    // 404 is not documented for importAccounts.
    assert!(E::decode(404, b"{}").is_none());
}

#[tokio::test]
async fn undocumented_status_and_malformed_body_are_distinct_errors() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v2025/account-aggregations/gw/status");
            then.status(502)
                .header("content-type", "text/html")
                .body("<html><body>Bad Gateway</body></html>");
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v2025/account-aggregations/bad/status");
            then.status(200)
                .header("content-type", "application/json")
                .body("{\"status\": ");
        })
        .await;
    let client = v2025_client(&server);
    match client.get_account_aggregation_status("gw").await {
        Err(v2025::Error::UnexpectedResponse(r)) => assert_eq!(r.status().as_u16(), 502),
        other => panic!("{other:?}"),
    }
    match client.get_account_aggregation_status("bad").await {
        Err(v2025::Error::InvalidResponsePayload(bytes, _)) => {
            assert_eq!(&bytes[..], b"{\"status\": ")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn experimental_operations_come_from_the_spec() {
    assert_eq!(
        v2025::operations::EXPERIMENTAL,
        &["getAccountAggregationStatus"]
    );
    assert!(beta::operations::EXPERIMENTAL.is_empty());
    assert!(v2025::operations::is_experimental(
        "get_account_aggregation_status"
    ));
    assert!(!v2025::operations::is_experimental("import_accounts"));
    let import = v2025::operations::OPERATIONS
        .iter()
        .find(|o| o.operation_id == "importAccounts")
        .unwrap();
    assert_eq!(
        (import.method, import.path),
        ("POST", "/sources/{id}/load-accounts")
    );
}

#[test]
fn known_enum_values_are_kept_as_data() {
    assert!(v2025::known_values::ACCOUNT_AGGREGATION_STATUS_STATUS.contains(&"NOT_FOUND"));
    assert!(!beta::known_values::ACCOUNT_AGGREGATION_STATUS_STATUS.contains(&"NOT_FOUND"));
    assert_eq!(v2025::known_values::LOCALE_ORIGIN, &["DEFAULT", "REQUEST"]);
}

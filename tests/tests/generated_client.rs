//! The generated low-level client (`sailpoint-isc-api`) against httpmock, for every API version
//! of `openapi/apis.yaml`: each request matches the spec (method, path under the version's base
//! path, query, headers, body), the documented success and error responses decode leniently, and
//! the generated operation table agrees with the client.
//!
//! The tests are written once, in `version_tests!`, and instantiated per version module, with the
//! facts that differ between versions (paths, the documented 400 of the status operation) as
//! arguments.

use futures_util::TryStreamExt;
use httpmock::prelude::*;
use sailpoint_isc_api::ApiVersion;
// progenitor's `Error` and `ByteStream`, re-exported by every version module (the same types).
use sailpoint_isc_api::v1::{ByteStream, Error};

const TASK: &str = include_str!("../fixtures/load_accounts_task.json");
const TASK_EPOCH: &str = include_str!("../fixtures/load_accounts_task_epoch_millis.json");
const STATUS: &str = include_str!("../fixtures/status_v2025.json");
const STATUS_UNKNOWN_STATE: &str = include_str!("../fixtures/status_beta_unknown_state.json");
const ERR_400: &str = include_str!("../fixtures/error_400.json");
const ERR_400_EXPERIMENTAL: &str = include_str!("../fixtures/error_400_experimental.json");
const ERR_401: &str = include_str!("../fixtures/error_401.json");
const ERR_404: &str = include_str!("../fixtures/error_404.json");
const ERR_429: &str = include_str!("../fixtures/error_429.json");
const ERR_500: &str = include_str!("../fixtures/error_500.json");

/// A task status as ISC sends it: documented-required fields missing or null, an epoch-millis
/// timestamp, a completion status the spec does not list, message parameters of both shapes
/// and a field the spec does not know.
const TASK_STATUS: &str = r#"{
  "id": "00eebcf881994e419d72e757fd30dc0e",
  "type": "QUARTZ",
  "uniqueName": "Cloud Account Aggregation",
  "parentName": null,
  "launcher": "sweep",
  "target": null,
  "created": "2020-07-11T21:23:15.000Z",
  "modified": 1594502595000,
  "launched": null,
  "completed": null,
  "completionStatus": "TEMP_ERROR",
  "messages": [
    {"type": "WARN", "key": "cloud.task.retry", "localizedText": null, "parameters": ["3", {"source": "hr"}]}
  ],
  "returns": [{"name": "Accounts", "attributeName": "total"}],
  "attributes": {"appId": "2c9180835d2e5168015d32f890ca1581", "identityCount": 0},
  "progress": null,
  "percentComplete": 42,
  "addedLater": {"nested": true}
}"#;

/// Two tasks of a list, the second finished and with a target.
const TASK_STATUS_LIST: &str = r#"[
  {"id": "t-1", "type": "QUARTZ", "completionStatus": null, "created": "2024-04-19T10:20:33.823Z"},
  {"id": "t-2", "type": "QPOC", "completionStatus": "SUCCESS", "completed": 1713522033823,
   "target": {"id": "s-1", "type": "APPLICATION", "name": "HR [source]"}}
]"#;

/// Sources with most fields left out, nulls, an unknown status and unknown fields.
const SOURCES: &str = r#"[
  {"id": "2c9180835d2e5168015d32f890ca1581", "name": "HR \"Employees\"", "type": "DelimitedFile",
   "connector": "delimited-file", "authoritative": false, "healthy": true,
   "status": "SOURCE_STATE_SOMETHING_NEW", "owner": {"type": "IDENTITY", "id": "o-1", "name": "Ada"},
   "created": "2022-02-08T14:50:03.827Z", "modified": 1644331803827, "description": null,
   "features": ["PROVISIONING", "NOT_YET_DOCUMENTED"], "connectorAttributes": {"delimiter": ","},
   "brandNewField": [1, 2, 3]},
  {"id": "s-2", "name": "Directory"}
]"#;

/// An entitlement load's 202: flat (no `{success, task}`), as the spec documents it, plus the
/// fields a real answer carries instead of or beside them (`name`, `completionStatus`, ...) and
/// an epoch-millis `created`.
const ENTITLEMENT_TASK: &str = r#"{
  "id": "ef38f94347e94562b5bb8424a56397d8",
  "type": "QUARTZ",
  "uniqueName": "Cloud Group Aggregation",
  "name": "Cloud Group Aggregation",
  "description": null,
  "launcher": "System",
  "created": 1713522033823,
  "completionStatus": null,
  "messages": [],
  "returns": [
    {"displayLabel": "TASK_OUT_ACCOUNT_GROUP_AGGREGATION_TOTAL", "attributeName": "total"},
    {"displayLabel": "TASK_OUT_ACCOUNT_GROUP_AGGREGATION_CREATED", "attributeName": "groupsCreated"}
  ]
}"#;

/// The schemas of a delimited-file source: an account schema whose attribute has a type the
/// spec does not list, and a group schema with most fields left out.
const SCHEMAS: &str = r#"[
  {"id": "2c9180835d191a86015d28455b4a2329", "name": "account", "nativeObjectType": "User",
   "identityAttribute": "id", "displayAttribute": "name", "hierarchyAttribute": null,
   "includePermissions": false, "configuration": {}, "created": "2022-02-08T14:50:03.827Z",
   "modified": 1644331803827,
   "attributes": [
     {"name": "id", "type": "STRING", "isMulti": false, "isEntitlement": false, "isGroup": false},
     {"name": "groups", "type": "STRING", "isMulti": true, "isEntitlement": true, "isGroup": true,
      "schema": {"type": "CONNECTOR_SCHEMA", "id": "s-g", "name": "group"}},
     {"name": "score", "type": "DECIMAL"}
   ]},
  {"id": "s-g", "name": "group"}
]"#;

const ACCOUNTS_HEADER: &str =
    "id,name,givenName,familyName,e-mail,location,manager,groups,startDate,endDate";
const ENTITLEMENTS_HEADER: &str =
    "id,name,displayName,created,description,modified,entitlements,groups,permissions";

/// The bytes of a raw (`ByteStream`) success body.
async fn raw_body(rv: sailpoint_isc_api::v1::ResponseValue<ByteStream>) -> Vec<u8> {
    rv.into_inner()
        .into_inner()
        .map_ok(|b| b.to_vec())
        .try_concat()
        .await
        .unwrap()
}

const CSV: &str = "id,name,email\n1,Ada Lovelace,ada@example.com\n2,Alan Turing,alan@example.com\n";

fn csv_part() -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(CSV.as_bytes())
        .file_name("accounts.csv")
        .mime_str("text/csv")
        .unwrap()
}

/// The status and raw body of a documented error response.
async fn body_bytes(err: Error<ByteStream>) -> (u16, Vec<u8>) {
    match err {
        Error::ErrorResponse(rv) => {
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

/// The 400 of `getAccountAggregationStatus`: the 401 body (`{error}`, what ISC sends when
/// the experimental header is missing), or not documented at all.
macro_rules! status_400_is_documented_as {
    (error_body, $decoded:expr) => {
        match $decoded {
            Some(E::Status400(b)) => assert_eq!(
                b.error,
                Some(serde_json::json!(
                    "Experimental Header is missing or invalid."
                ))
            ),
            other => panic!("{other:?}"),
        }
    };
    (undocumented, $decoded:expr) => {
        assert!($decoded.is_none(), "400 is not documented here");
    };
}

/// The tests of one API version module. Arguments: the module; the version's constant; the
/// path of `importAccounts` and of `getAccountAggregationStatus` for ids `src-1` and `agg-1`
/// (base path included), written out so the test does not depend on the table it checks; the
/// paths of `getTaskStatus(task-1)`, `getTaskStatusList` and `listSources`; those of
/// `importEntitlements`, `getAccountsSchema`, `getEntitlementsSchema` and `getSourceSchemas` for
/// source `src-1`; and how the status operation documents a 400: `error_body` (the 401 body,
/// `{error}`) or `undocumented`.
macro_rules! version_tests {
    (
        $m:ident, $version:expr,
        import: $import_path:literal,
        status: $status_path:literal,
        task: $task_path:literal,
        tasks: $tasks_path:literal,
        sources: $sources_path:literal,
        entitlements: $entitlements_path:literal,
        accounts_schema: $accounts_schema_path:literal,
        entitlements_schema: $entitlements_schema_path:literal,
        schemas: $schemas_path:literal,
        status_400: $status_400:ident $(,)?
    ) => {
        mod $m {
            use super::*;
            use sailpoint_isc_api::RequestContext;
            use sailpoint_isc_api::$m::{self as api, errors, types};

            fn client(server: &MockServer) -> api::Client {
                api::Client::new_with_client(
                    &format!("{}{}", server.base_url(), api::API.base_path),
                    reqwest::Client::new(),
                    RequestContext::new(),
                )
            }

            fn operation(name: &str) -> &'static sailpoint_isc_api::Operation {
                $version
                    .operation(name)
                    .unwrap_or_else(|| panic!("{} has no {name}", stringify!($m)))
            }

            #[test]
            fn the_operation_table_agrees_with_the_client() {
                assert_eq!(api::API.name, stringify!($m));
                assert_eq!(api::API.module, stringify!($m));
                assert_eq!($version.spec(), &api::API);
                assert_eq!($version.name(), stringify!($m));
                assert!(ApiVersion::all().any(|v| v == $version));
                let full = |name: &str, args: &[&str]| {
                    format!(
                        "{}{}",
                        $version.base_path(),
                        operation(name).expand_path(args)
                    )
                };
                assert_eq!(full("importAccounts", &["src-1"]), $import_path);
                assert_eq!(
                    full("getAccountAggregationStatus", &["agg-1"]),
                    $status_path
                );
                assert_eq!(full("getTaskStatus", &["task-1"]), $task_path);
                assert_eq!(full("getTaskStatusList", &[]), $tasks_path);
                assert_eq!(full("listSources", &[]), $sources_path);
                assert_eq!(full("importEntitlements", &["src-1"]), $entitlements_path);
                assert_eq!(full("getAccountsSchema", &["src-1"]), $accounts_schema_path);
                assert_eq!(
                    full("getEntitlementsSchema", &["src-1"]),
                    $entitlements_schema_path
                );
                assert_eq!(full("getSourceSchemas", &["src-1"]), $schemas_path);
                let expected = [
                    ("importAccounts", "POST", 202, "import_accounts"),
                    ("importEntitlements", "POST", 202, "import_entitlements"),
                    ("getAccountsSchema", "GET", 200, "get_accounts_schema"),
                    (
                        "getEntitlementsSchema",
                        "GET",
                        200,
                        "get_entitlements_schema",
                    ),
                    ("getSourceSchemas", "GET", 200, "get_source_schemas"),
                    (
                        "getAccountAggregationStatus",
                        "GET",
                        200,
                        "get_account_aggregation_status",
                    ),
                    ("getTaskStatus", "GET", 200, "get_task_status"),
                    ("getTaskStatusList", "GET", 200, "get_task_status_list"),
                    ("listSources", "GET", 200, "list_sources"),
                ];
                assert_eq!(api::operations::OPERATIONS.len(), expected.len());
                for (name, method, status, rust_name) in expected {
                    let op = operation(name);
                    assert_eq!(
                        (op.method, op.success_status, op.rust_name),
                        (method, status, rust_name),
                        "{name}"
                    );
                    // The spec's own operationId: the name (plus v1's suffix), or an alias
                    // from apis.yaml (beta's `getSourceAccountsSchema`).
                    assert!(
                        op.operation_id.starts_with(name) || op.operation_id.ends_with(&name[3..]),
                        "{}",
                        op.operation_id
                    );
                    let csv = name.ends_with("sSchema");
                    assert_eq!(
                        op.success_media_type,
                        if csv { "text/csv" } else { "application/json" },
                        "{name}"
                    );
                    assert_eq!(op.answers_json(), !csv, "{name}");
                    assert_eq!(op.response_properties.is_empty(), csv, "{name}");
                    // No operation of ours is experimental at the vendored commit.
                    assert!(!op.experimental, "{name}");
                    assert!(!api::operations::is_experimental(rust_name), "{name}");
                    let mut sorted = op.response_properties.to_vec();
                    sorted.sort_unstable();
                    assert_eq!(op.response_properties, sorted.as_slice(), "{name}");
                }
                assert_eq!(
                    operation("importAccounts").response_properties,
                    &["success", "task"]
                );
                for field in ["processedAccounts", "start", "status", "totalAccounts"] {
                    assert!(
                        operation("getAccountAggregationStatus")
                            .response_properties
                            .contains(&field),
                        "{field}"
                    );
                }
                for field in ["completionStatus", "id", "type"] {
                    assert!(
                        operation("getTaskStatusList")
                            .response_properties
                            .contains(&field),
                        "{field}"
                    );
                }
                // An entitlement load answers a flat task.
                for field in ["created", "id", "returns", "type", "uniqueName"] {
                    assert!(
                        operation("importEntitlements")
                            .response_properties
                            .contains(&field),
                        "{field}"
                    );
                }
                for field in [
                    "attributes",
                    "displayAttribute",
                    "identityAttribute",
                    "name",
                ] {
                    assert!(
                        operation("getSourceSchemas")
                            .response_properties
                            .contains(&field),
                        "{field}"
                    );
                }
                assert!($version.experimental_operations().next().is_none());
            }

            #[tokio::test]
            async fn import_entitlements_sends_the_file_and_decodes_the_flat_task() {
                let server = MockServer::start_async().await;
                let mock = server
                    .mock_async(|when, then| {
                        when.method(POST)
                            .path($entitlements_path)
                            .header_prefix("content-type", "multipart/form-data; boundary=")
                            .header("accept", "application/json")
                            .header_missing("api-version")
                            .body_includes("name=\"file\"; filename=\"accounts.csv\"")
                            .body_includes(CSV);
                        then.status(202)
                            .header("content-type", "application/json")
                            .body(ENTITLEMENT_TASK);
                    })
                    .await;
                let task: types::LoadEntitlementTask = client(&server)
                    .import_entitlements(
                        "src-1",
                        api::multipart::ImportEntitlementsForm {
                            file: Some(csv_part()),
                        },
                    )
                    .await
                    .expect("202 decodes")
                    .into_inner();
                mock.assert_async().await;
                assert_eq!(task.id.as_deref(), Some("ef38f94347e94562b5bb8424a56397d8"));
                assert_eq!(task.unique_name.as_deref(), Some("Cloud Group Aggregation"));
                assert_eq!(task.description, None);
                assert_eq!(
                    task.created.map(|t| t.to_string()).as_deref(),
                    Some("2024-04-19T10:20:33.823Z")
                );
                let names: Vec<_> = task
                    .returns
                    .iter()
                    .filter_map(|r| r.attribute_name.as_deref())
                    .collect();
                assert_eq!(names, ["total", "groupsCreated"]);
            }

            #[tokio::test]
            async fn schema_headers_are_read_as_csv_text() {
                let server = MockServer::start_async().await;
                let accounts = server
                    .mock_async(|when, then| {
                        when.method(GET)
                            .path($accounts_schema_path)
                            .header("accept", "text/csv, application/json")
                            .header_missing("api-version");
                        then.status(200)
                            .header("content-type", "text/csv")
                            .body(ACCOUNTS_HEADER);
                    })
                    .await;
                let entitlements = server
                    .mock_async(|when, then| {
                        when.method(GET)
                            .path($entitlements_schema_path)
                            .query_param("schemaName", "group")
                            .header("accept", "text/csv, application/json");
                        then.status(200)
                            .header("content-type", "text/csv")
                            .body(ENTITLEMENTS_HEADER);
                    })
                    .await;
                let client = client(&server);
                let header = client
                    .get_accounts_schema("src-1")
                    .await
                    .expect("200 is read raw");
                assert_eq!(raw_body(header).await, ACCOUNTS_HEADER.as_bytes());
                let header = client
                    .get_entitlements_schema("src-1", Some("group"))
                    .await
                    .expect("200 is read raw");
                assert_eq!(raw_body(header).await, ENTITLEMENTS_HEADER.as_bytes());
                accounts.assert_async().await;
                entitlements.assert_async().await;
            }

            #[tokio::test]
            async fn schema_header_errors_decode_by_status() {
                use errors::GetAccountsSchemaError as E;
                let server = MockServer::start_async().await;
                server
                    .mock_async(|when, then| {
                        when.method(GET).path($accounts_schema_path);
                        then.status(404)
                            .header("content-type", "application/json")
                            .body(ERR_404);
                    })
                    .await;
                // (A raw success body has no `Debug`, so no `expect_err`.)
                let Err(err) = client(&server).get_accounts_schema("src-1").await else {
                    panic!("a 404 is an error");
                };
                let (status, bytes) = body_bytes(err).await;
                assert_eq!(status, 404);
                match E::decode(status, &bytes) {
                    Some(Ok(E::Status404(dto))) => {
                        assert_eq!(dto.detail_code.as_deref(), Some("404 Not found"))
                    }
                    other => panic!("{other:?}"),
                }
            }

            #[tokio::test]
            async fn get_source_schemas_decodes_leniently() {
                let server = MockServer::start_async().await;
                let mock = server
                    .mock_async(|when, then| {
                        when.method(GET)
                            .path($schemas_path)
                            .query_param("include-names", "account,group")
                            .query_param_missing("include-types")
                            .header("accept", "application/json");
                        then.status(200)
                            .header("content-type", "application/json")
                            .body(SCHEMAS);
                    })
                    .await;
                let schemas: Vec<types::Schema> = client(&server)
                    .get_source_schemas("src-1", Some("account,group"), None)
                    .await
                    .expect("200 decodes")
                    .into_inner()
                    .0;
                mock.assert_async().await;
                assert_eq!(schemas.len(), 2);
                let account = &schemas[0];
                assert_eq!(account.name.as_deref(), Some("account"));
                assert_eq!(account.identity_attribute.as_deref(), Some("id"));
                assert_eq!(account.display_attribute.as_deref(), Some("name"));
                assert_eq!(account.hierarchy_attribute, None);
                let types: Vec<Option<&str>> = account
                    .attributes
                    .iter()
                    .map(|a| a.type_.as_ref().map(|t| t.as_str()))
                    .collect();
                // DECIMAL is not among the documented values: kept as sent.
                assert_eq!(types, [Some("STRING"), Some("STRING"), Some("DECIMAL")]);
                assert!(!api::known_values::ATTRIBUTE_DEFINITION_TYPE.contains(&"DECIMAL"));
                assert_eq!(account.attributes[1].is_group, Some(true));
                assert!(api::known_values::GET_SOURCE_SCHEMAS_INCLUDE_TYPES.contains(&"group"));
                assert_eq!(schemas[1].identity_attribute, None);
                assert!(schemas[1].attributes.is_empty());
            }

            #[tokio::test]
            async fn import_accounts_sends_the_file_and_the_flag_as_multipart() {
                let server = MockServer::start_async().await;
                let mock = server
                    .mock_async(|when, then| {
                        when.method(POST)
                            .path($import_path)
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
                let form = api::multipart::ImportAccountsForm {
                    file: Some(csv_part()),
                    disable_optimization: Some("true".into()),
                };
                let task = client(&server)
                    .import_accounts("src-1", form)
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
                // `additionalProperties: {type: object}` in the spec, but ISC sends scalars.
                assert_eq!(attrs.extra.get("someCounter"), Some(&serde_json::json!(3)));
                assert_eq!(inner.returns.len(), 2);
            }

            #[tokio::test]
            async fn import_accounts_without_a_file_and_with_epoch_millis() {
                let server = MockServer::start_async().await;
                let mock = server
                    .mock_async(|when, then| {
                        when.method(POST)
                            .path($import_path.replace("src-1", "src%2F1"))
                            .body_includes("name=\"disableOptimization\"\r\n\r\nfalse\r\n")
                            .body_excludes("name=\"file\"");
                        then.status(202)
                            .header("content-type", "application/json")
                            .body(TASK_EPOCH);
                    })
                    .await;
                let form = api::multipart::ImportAccountsForm {
                    file: None,
                    disable_optimization: Some("false".into()),
                };
                // The path parameter is percent-encoded: a `/` cannot escape the path.
                let task = client(&server)
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
            async fn import_accounts_error_bodies_decode_by_status() {
                use errors::ImportAccountsError as E;
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
                            when.method(POST).path($import_path);
                            then.status(status)
                                .header("content-type", "application/json")
                                .header("retry-after", "7")
                                .body(body);
                        })
                        .await;
                    let err = client(&server)
                        .import_accounts("src-1", Default::default())
                        .await
                        .expect_err("error status");
                    mock.assert_async().await;
                    let Error::ErrorResponse(rv) = err else {
                        panic!("{status}: expected a documented error")
                    };
                    // Response headers (Retry-After) stay readable on the raw error.
                    assert_eq!(rv.headers().get("retry-after").unwrap(), "7");
                    let (got, bytes) = body_bytes(Error::ErrorResponse(rv)).await;
                    assert_eq!(got, status);
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
                // 404 is not documented for importAccounts in any version.
                assert!(E::decode(404, b"{}").is_none());
            }

            #[tokio::test]
            async fn status_decodes_without_the_experimental_header() {
                let server = MockServer::start_async().await;
                let mock = server
                    .mock_async(|when, then| {
                        when.method(GET)
                            .path($status_path)
                            .header_missing("x-sailpoint-experimental")
                            .header("accept", "application/json")
                            .header_missing("api-version");
                        then.status(200)
                            .header("content-type", "application/json")
                            .body(STATUS);
                    })
                    .await;
                let status: types::AccountAggregationStatus = client(&server)
                    .get_account_aggregation_status("agg-1")
                    .await
                    .expect("200 decodes")
                    .into_inner();
                mock.assert_async().await;
                assert_eq!(status.status.as_deref(), Some("ACCOUNTS_COLLECTED"));
                assert_eq!(status.total_accounts, Some(520));
                assert_eq!(status.processed_accounts, Some(150));
                assert_eq!(
                    status.start.map(|t| t.to_string()).as_deref(),
                    Some("2021-01-31T14:30:05.104Z")
                );
                // Fields this version does not document are ignored, not an error; the ones it
                // documents are listed in the table.
                let documented = operation("getAccountAggregationStatus").response_properties;
                let json: serde_json::Value = serde_json::to_value(&status).unwrap();
                for key in json.as_object().unwrap().keys() {
                    assert!(documented.contains(&key.as_str()), "{key}");
                }
            }

            #[tokio::test]
            async fn status_keeps_unknown_states_and_context_headers() {
                let server = MockServer::start_async().await;
                let mock = server
                    .mock_async(|when, then| {
                        when.method(GET)
                            .path($status_path)
                            .header("authorization", "Bearer s3cr3t-token");
                        then.status(200)
                            .header("content-type", "application/json")
                            .body(STATUS_UNKNOWN_STATE);
                    })
                    .await;
                let mut auth = reqwest::header::HeaderValue::from_static("Bearer s3cr3t-token");
                auth.set_sensitive(true);
                let context =
                    RequestContext::new().with_header(reqwest::header::AUTHORIZATION, auth);
                assert!(!format!("{context:?}").contains("s3cr3t"));
                let client = api::Client::new_with_client(
                    &format!("{}{}", server.base_url(), api::API.base_path),
                    reqwest::Client::new(),
                    context,
                );
                let status = client
                    .get_account_aggregation_status("agg-1")
                    .await
                    .expect("200 decodes")
                    .into_inner();
                mock.assert_async().await;
                assert_eq!(status.status.as_deref(), Some("QUEUED"));
                assert_eq!(status.total_accounts, None);
            }

            /// Serves `body` with `status` for the status operation; returns the decoded error.
            async fn status_error(
                status: u16,
                body: &str,
            ) -> Option<errors::GetAccountAggregationStatusError> {
                let server = MockServer::start_async().await;
                server
                    .mock_async(|when, then| {
                        when.method(GET).path($status_path);
                        then.status(status)
                            .header("content-type", "application/json")
                            .body(body);
                    })
                    .await;
                let err = client(&server)
                    .get_account_aggregation_status("agg-1")
                    .await
                    .expect_err("an error status");
                match err {
                    Error::ErrorResponse(_) => {
                        let (got, bytes) = body_bytes(err).await;
                        assert_eq!(got, status);
                        Some(
                            errors::GetAccountAggregationStatusError::decode(status, &bytes)
                                .expect("documented status")
                                .expect("body decodes"),
                        )
                    }
                    Error::UnexpectedResponse(r) => {
                        assert_eq!(r.status().as_u16(), status);
                        None
                    }
                    other => panic!("{other:?}"),
                }
            }

            #[tokio::test]
            async fn status_error_bodies_decode_by_status() {
                use errors::GetAccountAggregationStatusError as E;
                status_400_is_documented_as!(
                    $status_400,
                    status_error(400, ERR_400_EXPERIMENTAL).await
                );
                match status_error(401, ERR_401).await {
                    Some(E::Status401(b)) => assert_eq!(
                        b.error,
                        Some(serde_json::json!("JWT validation failed: JWT is expired"))
                    ),
                    other => panic!("{other:?}"),
                }
                match status_error(404, ERR_404).await {
                    Some(E::Status404(dto)) => {
                        assert_eq!(
                            dto.tracking_id.as_deref(),
                            Some("b21b1f7ce4da4d639f2c62a57171b427")
                        );
                        // `locale` and `localeOrigin` are null: accepted.
                        assert_eq!(dto.messages[0].locale, None);
                    }
                    other => panic!("{other:?}"),
                }
                match status_error(429, ERR_429).await {
                    Some(E::Status429(b)) => {
                        assert_eq!(b.message, Some(serde_json::json!(" Rate Limit Exceeded ")))
                    }
                    other => panic!("{other:?}"),
                }
                match status_error(500, ERR_500).await {
                    // A `localeOrigin` the spec does not list still decodes.
                    Some(E::Status500(dto)) => {
                        assert_eq!(dto.detail_code.as_deref(), Some("500.0 Internal Fault"))
                    }
                    other => panic!("{other:?}"),
                }
            }

            #[tokio::test]
            async fn undocumented_status_and_malformed_body_are_distinct_errors() {
                let server = MockServer::start_async().await;
                let gateway = $status_path.replace("agg-1", "gw");
                let bad = $status_path.replace("agg-1", "bad");
                server
                    .mock_async(|when, then| {
                        when.method(GET).path(gateway.as_str());
                        then.status(502)
                            .header("content-type", "text/html")
                            .body("<html><body>Bad Gateway</body></html>");
                    })
                    .await;
                server
                    .mock_async(|when, then| {
                        when.method(GET).path(bad.as_str());
                        then.status(200)
                            .header("content-type", "application/json")
                            .body("{\"status\": ");
                    })
                    .await;
                let client = client(&server);
                match client.get_account_aggregation_status("gw").await {
                    Err(Error::UnexpectedResponse(r)) => assert_eq!(r.status().as_u16(), 502),
                    other => panic!("{other:?}"),
                }
                match client.get_account_aggregation_status("bad").await {
                    Err(Error::InvalidResponsePayload(bytes, _)) => {
                        assert_eq!(&bytes[..], b"{\"status\": ")
                    }
                    other => panic!("{other:?}"),
                }
            }

            #[tokio::test]
            async fn get_task_status_decodes_leniently() {
                let server = MockServer::start_async().await;
                let mock = server
                    .mock_async(|when, then| {
                        when.method(GET)
                            .path($task_path)
                            .header_missing("x-sailpoint-experimental");
                        then.status(200)
                            .header("content-type", "application/json")
                            .body(TASK_STATUS);
                    })
                    .await;
                let task: types::TaskStatus = client(&server)
                    .get_task_status("task-1")
                    .await
                    .expect("200 decodes")
                    .into_inner();
                mock.assert_async().await;
                assert_eq!(task.id.as_deref(), Some("00eebcf881994e419d72e757fd30dc0e"));
                // Not in the spec's enum (it says TEMPERROR): kept as sent.
                assert_eq!(task.completion_status.as_deref(), Some("TEMP_ERROR"));
                assert!(api::known_values::TASK_STATUS_COMPLETION_STATUS.contains(&"TEMPERROR"));
                // Documented as required, but missing or null: None.
                assert_eq!(task.description, None);
                assert_eq!(task.parent_name, None);
                assert_eq!(task.progress, None);
                assert_eq!(task.target, None);
                assert_eq!(task.launched, None);
                assert_eq!(
                    task.modified.map(|t| t.to_string()).as_deref(),
                    Some("2020-07-11T21:23:15.000Z")
                );
                assert_eq!(task.messages.len(), 1);
                assert_eq!(task.messages[0].localized_text, None);
                assert_eq!(task.returns[0].attribute_name.as_deref(), Some("total"));
                assert_eq!(
                    task.attributes.get("identityCount"),
                    Some(&serde_json::json!(0))
                );
            }

            #[tokio::test]
            async fn get_task_status_404_without_a_body_decodes() {
                use errors::GetTaskStatusError as E;
                let server = MockServer::start_async().await;
                server
                    .mock_async(|when, then| {
                        when.method(GET).path($task_path);
                        then.status(404);
                    })
                    .await;
                let err = client(&server)
                    .get_task_status("task-1")
                    .await
                    .expect_err("404");
                let (status, bytes) = body_bytes(err).await;
                assert_eq!(status, 404);
                // The spec documents 403 and 404 with a description only.
                assert!(matches!(E::decode(404, &bytes), Some(Ok(E::Status404))));
                assert!(matches!(E::decode(403, b""), Some(Ok(E::Status403))));
                assert!(matches!(
                    E::decode(401, ERR_401.as_bytes()),
                    Some(Ok(E::Status401(_)))
                ));
            }

            #[tokio::test]
            async fn get_task_status_list_sends_paging_and_filters() {
                let server = MockServer::start_async().await;
                let filter = "type eq \"CLOUD_ACCOUNT_AGGREGATION\" and completionStatus isnull";
                let mock = server
                    .mock_async(|when, then| {
                        when.method(GET)
                            .path($tasks_path)
                            .query_param("limit", "2")
                            .query_param("offset", "4")
                            .query_param("count", "true")
                            .query_param("filters", filter)
                            .query_param("sorters", "-created");
                        then.status(200)
                            .header("content-type", "application/json")
                            .header("x-total-count", "6")
                            .body(TASK_STATUS_LIST);
                    })
                    .await;
                let response = client(&server)
                    .get_task_status_list(
                        Some(true),
                        Some(filter),
                        Some(2),
                        Some(4),
                        Some("-created"),
                    )
                    .await
                    .expect("200 decodes");
                mock.assert_async().await;
                assert_eq!(response.headers().get("x-total-count").unwrap(), "6");
                let tasks: Vec<types::TaskStatus> = response.into_inner().0;
                assert_eq!(tasks.len(), 2);
                assert_eq!(tasks[0].completion_status, None);
                assert_eq!(tasks[1].completion_status.as_deref(), Some("SUCCESS"));
                assert_eq!(
                    tasks[1].completed.map(|t| t.to_string()).as_deref(),
                    Some("2024-04-19T10:20:33.823Z")
                );
                let target = tasks[1].target.as_ref().expect("target");
                assert_eq!(target.type_.as_deref(), Some("APPLICATION"));
            }

            #[tokio::test]
            async fn list_sources_by_name_decodes_leniently() {
                let server = MockServer::start_async().await;
                let filter = "name eq \"HR \\\"Employees\\\"\"";
                let mock = server
                    .mock_async(|when, then| {
                        when.method(GET)
                            .path($sources_path)
                            .query_param("filters", filter)
                            .query_param("limit", "2")
                            .query_param_missing("offset");
                        then.status(200)
                            .header("content-type", "application/json")
                            .body(SOURCES);
                    })
                    .await;
                let sources: Vec<types::Source> = client(&server)
                    .list_sources(None, Some(filter), None, None, Some(2), None, None)
                    .await
                    .expect("200 decodes")
                    .into_inner()
                    .0;
                mock.assert_async().await;
                assert_eq!(sources.len(), 2);
                let hr = &sources[0];
                assert_eq!(hr.id.as_deref(), Some("2c9180835d2e5168015d32f890ca1581"));
                assert_eq!(hr.name.as_deref(), Some("HR \"Employees\""));
                assert_eq!(hr.status.as_deref(), Some("SOURCE_STATE_SOMETHING_NEW"));
                assert_eq!(hr.description, None);
                assert_eq!(
                    hr.modified.map(|t| t.to_string()).as_deref(),
                    Some("2022-02-08T14:50:03.827Z")
                );
                let features = hr.features.as_ref().expect("features");
                assert!(features.contains(&"NOT_YET_DOCUMENTED".to_owned()));
                assert_eq!(
                    hr.owner.as_ref().and_then(|o| o.name.as_deref()),
                    Some("Ada")
                );
                assert_eq!(sources[1].name.as_deref(), Some("Directory"));
                assert_eq!(sources[1].owner, None);
            }
        }
    };
}

version_tests!(
    beta, ApiVersion::BETA,
    import: "/beta/sources/src-1/load-accounts",
    status: "/beta/account-aggregations/agg-1/status",
    task: "/beta/task-status/task-1",
    tasks: "/beta/task-status",
    sources: "/beta/sources",
    entitlements: "/beta/sources/src-1/load-entitlements",
    accounts_schema: "/beta/sources/src-1/schemas/accounts",
    entitlements_schema: "/beta/sources/src-1/schemas/entitlements",
    schemas: "/beta/sources/src-1/schemas",
    status_400: undocumented,
);

version_tests!(
    v2025, ApiVersion::V2025,
    import: "/v2025/sources/src-1/load-accounts",
    status: "/v2025/account-aggregations/agg-1/status",
    task: "/v2025/task-status/task-1",
    tasks: "/v2025/task-status",
    sources: "/v2025/sources",
    entitlements: "/v2025/sources/src-1/load-entitlements",
    accounts_schema: "/v2025/sources/src-1/schemas/accounts",
    entitlements_schema: "/v2025/sources/src-1/schemas/entitlements",
    schemas: "/v2025/sources/src-1/schemas",
    status_400: error_body,
);

version_tests!(
    v2026, ApiVersion::V2026,
    import: "/v2026/sources/src-1/load-accounts",
    status: "/v2026/account-aggregations/agg-1/status",
    task: "/v2026/task-status/task-1",
    tasks: "/v2026/task-status",
    sources: "/v2026/sources",
    entitlements: "/v2026/sources/src-1/load-entitlements",
    accounts_schema: "/v2026/sources/src-1/schemas/accounts",
    entitlements_schema: "/v2026/sources/src-1/schemas/entitlements",
    schemas: "/v2026/sources/src-1/schemas",
    status_400: error_body,
);

version_tests!(
    v1, ApiVersion::V1,
    import: "/sources/v1/src-1/load-accounts",
    status: "/account-aggregations/v1/agg-1/status",
    task: "/task-status/v1/task-1",
    tasks: "/task-status/v1",
    sources: "/sources/v1",
    entitlements: "/sources/v1/src-1/load-entitlements",
    accounts_schema: "/sources/v1/src-1/schemas/accounts",
    entitlements_schema: "/sources/v1/src-1/schemas/entitlements",
    schemas: "/sources/v1/src-1/schemas",
    status_400: error_body,
);

#[test]
fn every_generated_version_is_tested_and_v1_is_the_default() {
    let names: Vec<&str> = ApiVersion::all().map(|v| v.name()).collect();
    assert_eq!(names, ["beta", "v2025", "v2026", "v1"]);
    assert_eq!(ApiVersion::default(), ApiVersion::V1);
    assert_eq!(ApiVersion::V1.base_path(), "");
    assert_eq!(ApiVersion::BETA.base_path(), "/beta");
    let defaults: Vec<&str> = sailpoint_isc_api::APIS
        .iter()
        .filter(|a| a.default)
        .map(|a| a.name)
        .collect();
    assert_eq!(defaults, ["v1"]);
}

#[test]
fn known_enum_values_are_kept_as_data() {
    use sailpoint_isc_api::{beta, v1, v2025, v2026};
    assert!(v2025::known_values::ACCOUNT_AGGREGATION_STATUS_STATUS.contains(&"NOT_FOUND"));
    assert!(v2026::known_values::ACCOUNT_AGGREGATION_STATUS_STATUS.contains(&"NOT_FOUND"));
    assert!(v1::known_values::ACCOUNT_AGGREGATION_STATUS_STATUS.contains(&"NOT_FOUND"));
    assert!(!beta::known_values::ACCOUNT_AGGREGATION_STATUS_STATUS.contains(&"NOT_FOUND"));
    // The v1 split files name the schema `localeorigin`; vendoring normalises it to the name
    // every version uses.
    for values in [
        beta::known_values::LOCALE_ORIGIN,
        v2025::known_values::LOCALE_ORIGIN,
        v2026::known_values::LOCALE_ORIGIN,
        v1::known_values::LOCALE_ORIGIN,
    ] {
        assert_eq!(values, &["DEFAULT", "REQUEST"]);
    }
    assert!(v1::known_values::SOURCE_FEATURE_ITEM.contains(&"PROVISIONING"));
}

//! Area 2: decoder fuzzing with proptest.
//!
//! Generated documents shaped like each response (status, import task, error bodies, token) with
//! random types at every field, extra fields, nulls, huge numbers and unknown enum strings; their
//! mutations (truncated, bytes flipped or inserted); and arbitrary bytes. Each input goes to every
//! decoder: the generated types of both API versions, the generated per-status error decoders, the
//! SDK's lenient models and error-body parser, `Retry-After` and timestamp parsing. None may panic,
//! the lenient models must accept any JSON object, and unknown enum values must come out as sent.
//! A second part serves such responses over the wire to the whole client (token, status, import).
//!
//! `FAULT_SUITE_CASES` sets the cases per generator (default 1500); `FAULT_SUITE_SEED` replays a
//! run (the seed is printed).

use std::cell::Cell;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use sailpoint_isc::{
    AggregationState, AggregationStatus, AggregationTask, CompletionStatus, ErrorBody, RetryConfig,
    Source, TaskStatus,
};
use sailpoint_isc_api::v2025;
use serde_json::{Map, Value, json};

use crate::faults::{Timing, client, small_csv};
use crate::hygiene;
use crate::report::{Area, Seen};
use crate::wire::{Behaviour, Route, WireServer};

/// Stands for a number literal `serde_json::Value` cannot hold; replaced when rendering.
const HUGE: &str = "__HUGE_NUMBER__";
const HUGE_LITERALS: &[&str] = &[
    "1e400",
    "-1e400",
    "18446744073709551616",
    "-9223372036854775809",
    "123456789012345678901234567890.123456789",
    "1.7976931348623157e308",
    "-0",
    "4.9e-325",
];
/// The documented states, from the generated code.
const STATES: &[&str] = v2025::known_values::ACCOUNT_AGGREGATION_STATUS_STATUS;

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        any::<String>(),
        "[A-Z_]{0,16}",
        prop::sample::select(STATES).prop_map(str::to_owned),
        "(19|20|99)[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?",
        "-?[0-9]{1,22}",
        " *[a-z]{0,8} *",
    ]
    .boxed()
}

fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (0u32..100_000).prop_map(|n| json!(n)),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        Just(json!(HUGE)),
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ]
    .boxed()
}

/// Any JSON value, up to a few levels deep.
fn any_json() -> BoxedStrategy<Value> {
    leaf()
        .prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[a-zA-Z_]{1,10}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
        .boxed()
}

/// A field: absent, a plausible value, or anything at all.
fn field(
    name: &'static str,
    plausible: BoxedStrategy<Value>,
) -> BoxedStrategy<(&'static str, Option<Value>)> {
    prop_oneof![
        1 => Just(None),
        3 => plausible.prop_map(Some),
        2 => any_json().prop_map(Some),
    ]
    .prop_map(move |v| (name, v))
    .boxed()
}

/// An object with these fields and a few unknown extra ones.
fn object(fields: Vec<BoxedStrategy<(&'static str, Option<Value>)>>) -> BoxedStrategy<Value> {
    (
        fields,
        prop::collection::btree_map("[a-zA-Z_]{1,12}", any_json(), 0..3),
    )
        .prop_map(|(fields, extra)| {
            let mut map: Map<String, Value> = extra.into_iter().collect();
            for (name, value) in fields {
                match value {
                    Some(v) => {
                        map.insert(name.to_owned(), v);
                    }
                    None => {
                        map.remove(name);
                    }
                }
            }
            Value::Object(map)
        })
        .boxed()
}

fn timestamp() -> BoxedStrategy<Value> {
    prop_oneof![text().prop_map(Value::String), number()].boxed()
}

fn status_doc() -> BoxedStrategy<Value> {
    let mut fields = vec![
        field("start", timestamp()),
        field(
            "status",
            prop_oneof![
                prop::sample::select(STATES).prop_map(|s| json!(s)),
                "[A-Z_]{1,16}".prop_map(Value::String),
                "[a-z]{1,10}".prop_map(Value::String),
            ]
            .boxed(),
        ),
    ];
    for name in [
        "totalAccounts",
        "processedAccounts",
        "totalAccountsMarkedForDeletion",
        "deletedAccounts",
        "totalIdentities",
        "processedIdentities",
    ] {
        fields.push(field(name, number()));
    }
    object(fields)
}

fn message_doc() -> BoxedStrategy<Value> {
    object(vec![
        field(
            "type",
            prop_oneof![
                Just(json!("INFO")),
                Just(json!("WARN")),
                Just(json!("ERROR")),
                text().prop_map(Value::String)
            ]
            .boxed(),
        ),
        field("error", any::<bool>().prop_map(Value::Bool).boxed()),
        field(
            "warning",
            prop_oneof![any::<bool>().prop_map(Value::Bool), Just(json!("true"))].boxed(),
        ),
        field("key", text().prop_map(Value::String).boxed()),
        field("localizedText", text().prop_map(Value::String).boxed()),
    ])
}

fn task_doc() -> BoxedStrategy<Value> {
    object(vec![
        field(
            "id",
            prop_oneof![
                "[0-9a-f]{32}".prop_map(Value::String),
                text().prop_map(Value::String)
            ]
            .boxed(),
        ),
        field("type", text().prop_map(Value::String).boxed()),
        field("name", text().prop_map(Value::String).boxed()),
        field("description", text().prop_map(Value::String).boxed()),
        field("launcher", text().prop_map(Value::String).boxed()),
        field("created", timestamp()),
        field("launched", timestamp()),
        field("completed", timestamp()),
        field(
            "completionStatus",
            prop_oneof![
                Just(json!("SUCCESS")),
                Just(json!("TEMP_ERROR")),
                "[A-Z_]{1,12}".prop_map(Value::String)
            ]
            .boxed(),
        ),
        field("parentName", text().prop_map(Value::String).boxed()),
        field(
            "messages",
            prop::collection::vec(message_doc(), 0..3)
                .prop_map(Value::Array)
                .boxed(),
        ),
        field("progress", text().prop_map(Value::String).boxed()),
        field(
            "attributes",
            prop::collection::btree_map("[a-zA-Z]{1,10}", any_json(), 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
                .boxed(),
        ),
        field(
            "returns",
            prop::collection::vec(
                object(vec![
                    field("displayLabel", text().prop_map(Value::String).boxed()),
                    field("attributeName", text().prop_map(Value::String).boxed()),
                ]),
                0..3,
            )
            .prop_map(Value::Array)
            .boxed(),
        ),
    ])
}

fn load_accounts_doc() -> BoxedStrategy<Value> {
    object(vec![
        field(
            "success",
            prop_oneof![
                Just(json!("true")),
                Just(json!("false")),
                any::<bool>().prop_map(Value::Bool)
            ]
            .boxed(),
        ),
        field("task", task_doc()),
    ])
}

fn error_message_doc() -> BoxedStrategy<Value> {
    object(vec![
        field(
            "locale",
            prop_oneof![
                Just(json!("en-US")),
                Just(Value::Null),
                text().prop_map(Value::String)
            ]
            .boxed(),
        ),
        field(
            "localeOrigin",
            prop_oneof![
                Just(json!("DEFAULT")),
                Just(json!("REQUEST")),
                Just(Value::Null),
                "[A-Z]{1,8}".prop_map(Value::String)
            ]
            .boxed(),
        ),
        field("text", text().prop_map(Value::String).boxed()),
    ])
}

fn error_doc() -> BoxedStrategy<Value> {
    object(vec![
        field("detailCode", text().prop_map(Value::String).boxed()),
        field("trackingId", "[0-9a-f]{32}".prop_map(Value::String).boxed()),
        field(
            "messages",
            prop::collection::vec(error_message_doc(), 0..3)
                .prop_map(Value::Array)
                .boxed(),
        ),
        field(
            "causes",
            prop::collection::vec(error_message_doc(), 0..3)
                .prop_map(Value::Array)
                .boxed(),
        ),
        field("error", text().prop_map(Value::String).boxed()),
        field("message", text().prop_map(Value::String).boxed()),
    ])
}

fn token_doc() -> BoxedStrategy<Value> {
    object(vec![
        field(
            "access_token",
            "[A-Za-z0-9._-]{1,40}".prop_map(Value::String).boxed(),
        ),
        field("token_type", Just(json!("bearer")).boxed()),
        field("expires_in", number()),
        field("scope", text().prop_map(Value::String).boxed()),
    ])
}

/// Any of the response shapes.
fn any_doc() -> BoxedStrategy<Value> {
    prop_oneof![
        status_doc(),
        load_accounts_doc(),
        task_doc(),
        error_doc(),
        token_doc(),
        any_json()
    ]
    .boxed()
}

/// Serialises `doc`, replacing the huge-number marker with literals `Value` cannot hold.
fn render(doc: &Value, pick: usize) -> Vec<u8> {
    let text = doc.to_string();
    let marker = format!("\"{HUGE}\"");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    let mut i = pick;
    while let Some(at) = rest.find(&marker) {
        out.push_str(&rest[..at]);
        out.push_str(HUGE_LITERALS[i % HUGE_LITERALS.len()]);
        i += 1;
        rest = &rest[at + marker.len()..];
    }
    out.push_str(rest);
    out.into_bytes()
}

/// A mutation of rendered bytes: truncate, flip or insert.
fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, kind, byte) in edits {
        if bytes.is_empty() {
            bytes.push(byte);
            continue;
        }
        let at = at % bytes.len();
        match kind % 3 {
            0 => bytes.truncate(at),
            1 => bytes[at] ^= byte.max(1),
            _ => bytes.insert(at, byte),
        }
    }
    bytes
}

/// Runs every decoder on `bytes`; checks the invariants that hold for well-formed objects.
fn decode_all(bytes: &[u8], counter: &Cell<u64>) -> Result<(), TestCaseError> {
    let parsed: Option<Value> = serde_json::from_slice(bytes).ok();
    let object = parsed.as_ref().and_then(Value::as_object);

    // The SDK's lenient status model: any object decodes; the state is kept as sent.
    let lenient = serde_json::from_slice::<AggregationStatus>(bytes);
    if let Some(object) = object {
        let status = lenient
            .as_ref()
            .map_err(|e| TestCaseError::fail(format!("lenient status rejected an object: {e}")))?;
        // A blank status counts as none; any other string is kept (unknown ones verbatim).
        if let Some(Value::String(s)) = object.get("status")
            && !s.trim().is_empty()
        {
            prop_assert_eq!(status.state.clone(), Some(AggregationState::parse(s)));
            if let Some(AggregationState::Unknown(kept)) = &status.state {
                prop_assert_eq!(kept, s);
            }
        }
        let _ = status.to_string();
        let _ = status.progress_fraction();
    }
    // The lenient task model, on the object itself and on its `task`.
    let task = serde_json::from_slice::<AggregationTask>(bytes);
    if let Some(object) = object {
        let task =
            task.map_err(|e| TestCaseError::fail(format!("lenient task rejected an object: {e}")))?;
        if let Some(Value::String(s)) = object.get("completionStatus") {
            prop_assert_eq!(task.completion_status.as_deref(), Some(s.as_str()));
        }
        if let Some(inner) = object.get("task") {
            let _ = serde_json::from_value::<AggregationTask>(inner.clone());
        }
    }
    // The lenient task-status and source models: any object decodes; a completion status is
    // kept (folded to a known one or verbatim), never a failure.
    let task_status = serde_json::from_slice::<TaskStatus>(bytes);
    let source = serde_json::from_slice::<Source>(bytes);
    if let Some(object) = object {
        let task_status = task_status.map_err(|e| {
            TestCaseError::fail(format!("lenient task status rejected an object: {e}"))
        })?;
        if let Some(Value::String(s)) = object.get("completionStatus")
            && !s.trim().is_empty()
        {
            prop_assert_eq!(
                task_status.completion_status.clone(),
                Some(CompletionStatus::parse(s))
            );
        }
        let _ = task_status.to_string();
        source
            .map_err(|e| TestCaseError::fail(format!("lenient source rejected an object: {e}")))?;
    }
    // Generated types of every version: may reject, must not panic, keep open enums as sent.
    macro_rules! generated {
        ($($version:ident),*) => {$(
            let status = serde_json::from_slice::<sailpoint_isc_api::$version::types::AccountAggregationStatus>(bytes);
            if let (Some(Value::String(s)), Ok(decoded)) = (object.and_then(|o| o.get("status")), &status) {
                prop_assert_eq!(decoded.status.as_deref(), Some(s.as_str()));
            }
            let task = serde_json::from_slice::<sailpoint_isc_api::$version::types::LoadAccountsTask>(bytes);
            if let (Ok(decoded), Some(Value::String(s))) = (
                &task,
                object.and_then(|o| o.get("task")).and_then(|t| t.get("completionStatus")),
            ) && let Some(task) = &decoded.task
            {
                prop_assert_eq!(task.completion_status.as_deref(), Some(s.as_str()));
            }
            let _ = serde_json::from_slice::<sailpoint_isc_api::$version::types::TaskStatus>(bytes);
            let _ = serde_json::from_slice::<sailpoint_isc_api::$version::types::Source>(bytes);
            let _ = serde_json::from_slice::<sailpoint_isc_api::$version::types::ErrorResponseDto>(bytes);
            // The per-status error decoders, for every documented status and an undocumented one.
            for status in [400u16, 401, 403, 404, 429, 500, 418] {
                let _ = sailpoint_isc_api::$version::errors::GetAccountAggregationStatusError::decode(status, bytes);
                let _ = sailpoint_isc_api::$version::errors::ImportAccountsError::decode(status, bytes);
                let _ = sailpoint_isc_api::$version::errors::GetTaskStatusError::decode(status, bytes);
                let _ = sailpoint_isc_api::$version::errors::GetTaskStatusListError::decode(status, bytes);
                let _ = sailpoint_isc_api::$version::errors::ListSourcesError::decode(status, bytes);
            }
        )*};
    }
    generated!(beta, v2025, v2026, v1);
    let _ = serde_json::from_slice::<sailpoint_isc_api::Timestamp>(bytes);
    // The SDK's error-body parser: the tracking id comes out as sent.
    let body = ErrorBody::parse(bytes);
    if let (Some(Value::String(id)), Some(body)) = (object.and_then(|o| o.get("trackingId")), &body)
        && !id.trim().is_empty()
    {
        prop_assert_eq!(body.tracking_id.as_deref(), Some(id.trim()));
    }
    counter.set(counter.get() + 1);
    Ok(())
}

fn seed() -> [u8; 32] {
    let seed: u64 = std::env::var("FAULT_SUITE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(crate::wire::fastrand_u64);
    println!("  seed {seed} (FAULT_SUITE_SEED={seed} replays this run)");
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes
}

fn runner(cases: u32, seed: &[u8; 32]) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, seed))
}

fn cases_per_generator() -> u32 {
    std::env::var("FAULT_SUITE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500)
}

/// The in-process part: returns (generator, inputs, result) per generator.
fn in_process(seed: [u8; 32]) -> Vec<(String, u64, Result<(), String>)> {
    let cases = cases_per_generator();
    let mut results = Vec::new();
    let generators: Vec<(&str, BoxedStrategy<Value>)> = vec![
        ("status documents", status_doc()),
        ("import task documents", load_accounts_doc()),
        ("error bodies", error_doc()),
        ("token documents", token_doc()),
        ("any JSON", any_json()),
    ];
    for (name, strategy) in generators {
        let count = Cell::new(0u64);
        let outcome = runner(cases, &seed).run(&(strategy, any::<usize>()), |(doc, pick)| {
            decode_all(&render(&doc, pick), &count)
        });
        results.push((
            format!("{name} (random types, nulls, extra fields, huge numbers)"),
            count.get(),
            outcome.map_err(|e| e.to_string()),
        ));
    }
    let count = Cell::new(0u64);
    let mutated = (
        any_doc(),
        any::<usize>(),
        prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
    );
    let outcome = runner(cases, &seed).run(&mutated, |(doc, pick, edits)| {
        decode_all(&mutate(render(&doc, pick), &edits), &count)
    });
    results.push((
        "mutated documents (truncated, flipped, inserted bytes)".into(),
        count.get(),
        outcome.map_err(|e| e.to_string()),
    ));
    let count = Cell::new(0u64);
    let outcome = runner(cases, &seed).run(&prop::collection::vec(any::<u8>(), 0..600), |bytes| {
        decode_all(&bytes, &count)
    });
    results.push((
        "arbitrary bytes".into(),
        count.get(),
        outcome.map_err(|e| e.to_string()),
    ));
    let count = Cell::new(0u64);
    let outcome = runner(cases, &seed).run(
        &prop_oneof![any::<String>(), "[0-9 .:,A-Za-z-]{0,40}"],
        |text| {
            let _ = text.parse::<sailpoint_isc::ApiVersion>();
            let _ = AggregationState::parse(&text);
            count.set(count.get() + 1);
            Ok(())
        },
    );
    results.push((
        "version names and state text".into(),
        count.get(),
        outcome.map_err(|e| e.to_string()),
    ));
    results
}

/// One response served to the whole client.
#[derive(Debug, Clone)]
struct WireCase {
    route: Route,
    status: u16,
    content_type: String,
    /// A `Retry-After` header (parsed by the client on every failure it reports).
    retry_after: Option<String>,
    body: Vec<u8>,
}

fn wire_case() -> BoxedStrategy<WireCase> {
    let status = prop_oneof![
        4 => Just(200u16), 3 => Just(202u16),
        1 => prop::sample::select(vec![201u16, 204, 301, 302, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504]),
        1 => 200u16..600,
    ];
    let content_type = prop_oneof![
        Just("application/json".to_owned()),
        Just("application/json; charset=utf-8".to_owned()),
        Just("text/html".to_owned()),
        Just("application/octet-stream".to_owned()),
    ];
    let body = prop_oneof![
        3 => (any_doc(), any::<usize>()).prop_map(|(d, p)| render(&d, p)),
        1 => prop::collection::vec(any::<u8>(), 0..300),
        1 => (any_doc(), any::<usize>(), prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..3))
            .prop_map(|(d, p, e)| mutate(render(&d, p), &e)),
    ];
    let route = prop::sample::select(vec![Route::Token, Route::Status, Route::Import]);
    let retry_after = prop::option::of(prop_oneof![
        "[0-9]{1,12}",
        "[0-9 .:,A-Za-z-]{0,40}",
        Just("Wed, 21 Oct 2015 07:28:00 GMT".to_owned()),
        Just("Wednesday, 21-Oct-15 07:28:00 GMT".to_owned()),
    ]);
    (route, status, content_type, retry_after, body)
        .prop_map(
            |(route, status, content_type, retry_after, body)| WireCase {
                route,
                status,
                content_type,
                retry_after,
                body,
            },
        )
        .boxed()
}

/// Serves one fuzzed response to the client; returns (requests seen, processed imports, detail).
async fn wire_once(case: WireCase) -> Result<(usize, usize), String> {
    let server = WireServer::start().await;
    server.script(
        case.route,
        [Behaviour::Raw {
            status: case.status,
            headers: std::iter::once(("Content-Type".to_owned(), case.content_type.clone()))
                .chain(
                    case.retry_after
                        .iter()
                        .map(|v| ("Retry-After".to_owned(), v.clone())),
                )
                .collect(),
            body: case.body.clone(),
        }],
    );
    let mut timing = Timing::standard();
    timing.read_timeout = Duration::from_secs(2);
    timing.retry = RetryConfig::disabled();
    timing.deadline = Some(Duration::from_secs(4));
    let client = client(&server, &timing);
    let started = Instant::now();
    let result: Result<String, sailpoint_isc::Error> = match case.route {
        Route::Import => client
            .start_aggregation("2c9180835d2e5168015d32f890ca1581")
            .file(small_csv())
            .send()
            .await
            .map(|s| s.task_id),
        _ => client
            .aggregation_status("2c91808477a6b0c60177a81146b8110b")
            .send()
            .await
            .map(|s| s.state_name().to_owned()),
    };
    let elapsed = started.elapsed();
    hygiene::note_tokens(server.issued_tokens());
    if let Err(e) = &result {
        hygiene::note_error(e);
    }
    if elapsed > Duration::from_millis(4400) {
        return Err(format!("took {elapsed:?} (deadline 4 s) for {case:?}"));
    }
    let processed = server.processed_imports();
    if processed > 1 {
        return Err(format!("{processed} imports processed for {case:?}"));
    }
    // A 200 status response holding a JSON object must decode (the model is lenient), with the
    // state as sent; except a `NOT_FOUND` state, which means what a 404 means (answered from task
    // status, which this server does not know: expired).
    if case.route == Route::Status
        && case.status == 200
        && let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(&case.body)
    {
        let not_found = object
            .get("status")
            .and_then(Value::as_str)
            .is_some_and(|s| AggregationState::parse(s) == AggregationState::NotFound);
        match &result {
            Err(e) if not_found => {
                if !matches!(e, sailpoint_isc::Error::AggregationExpired { .. }) {
                    return Err(format!("NOT_FOUND was not answered as expired: {e}"));
                }
            }
            Ok(state) => {
                if let Some(Value::String(s)) = object.get("status")
                    && !s.trim().is_empty()
                {
                    let expected = AggregationState::parse(s);
                    if state != expected.as_str() {
                        return Err(format!("state {state:?}, sent {s:?}"));
                    }
                }
            }
            Err(e) => return Err(format!("a 200 JSON object was rejected: {e}")),
        }
    }
    Ok((server.seen().len(), processed))
}

/// Runs the area.
pub async fn run() -> Area {
    let mut area = Area::new("decoder fuzzing");
    let seed = seed();
    let started = Instant::now();
    let results = tokio::task::spawn_blocking(move || in_process(seed))
        .await
        .expect("fuzzing task");
    let mut total = 0;
    for (name, count, outcome) in results {
        total += count;
        area.check(
            &format!("{name}: {count} cases through every decoder"),
            outcome.map(|()| "no panic, invariants held".to_owned()),
        );
        // `check` counts one scenario; count the cases instead.
        area.scenarios += count as usize - 1;
    }
    println!(
        "  {total} in-process cases in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Over the wire, through the whole client.
    let wire_cases: u32 = (cases_per_generator() / 5).max(20);
    let mut rng_runner = runner(wire_cases, &seed);
    let strategy = wire_case();
    let started = Instant::now();
    let mut requests = 0;
    let mut failures = Vec::new();
    for _ in 0..wire_cases {
        let case = strategy
            .new_tree(&mut rng_runner)
            .expect("case generated")
            .current();
        match tokio::spawn(wire_once(case)).await {
            Ok(Ok((seen, _))) => requests += seen,
            Ok(Err(why)) => failures.push(why),
            Err(panic) => failures.push(format!("panicked: {panic}")),
        }
    }
    area.scenarios += wire_cases as usize;
    area.requests += requests;
    let line =
        format!("{wire_cases} fuzzed responses served to the client (token, status, import)");
    if failures.is_empty() {
        println!(
            "  ok   {line}: typed result within the deadline, never two imports processed [{requests} req, {:.1} s]",
            started.elapsed().as_secs_f64()
        );
    } else {
        for f in failures.iter().take(5) {
            println!("  FAIL {line}: {f}");
        }
        area.failures.extend(failures);
    }
    let _ = Seen::default();
    area
}

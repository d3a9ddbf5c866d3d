//! Figure 1: per-request overhead of a status call, raw `reqwest` vs the generated client vs the
//! ergonomic client, sequential and concurrent, interleaved repetitions against [`BenchServer`].
//! A second raw row carries the one bound the SDK puts on every read (its read timeout), so the
//! cost of that guarantee is seen apart from the rest.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use sailpoint_isc::{AggregationState, RetryConfig};
use sailpoint_isc_api::{RequestContext, v2025};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::{BenchServer, CLIENT_ID, CLIENT_SECRET, STATIC_TOKEN};
use crate::util::{group, median, rotated, summary, verdict};

/// The aggregation id every call asks about.
const TASK_ID: &str = "2c9180835d2e5168015d32f890ca1581";

/// Calls per variant before measuring (connections, token, caches).
const WARMUP_CALLS: usize = 100;

/// Ergonomic throughput must be at least this fraction of raw.
pub const TARGET_RATIO: f64 = 0.95;

/// What to run.
#[derive(Debug, Clone)]
pub struct Params {
    pub reps: usize,
    pub sequential_calls: usize,
    pub concurrent_calls: usize,
    pub concurrency: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Raw,
    RawBounded,
    Generated,
    Ergonomic,
}

/// The variants, raw first (the ratios' denominator).
const VARIANTS: [Variant; 4] = [
    Variant::Raw,
    Variant::RawBounded,
    Variant::Generated,
    Variant::Ergonomic,
];
/// Indexes into [`VARIANTS`].
const RAW_BOUNDED: usize = 1;
const ERGONOMIC: usize = 3;

impl Variant {
    fn key(self) -> &'static str {
        match self {
            Variant::Raw => "raw_reqwest",
            Variant::RawBounded => "raw_reqwest_read_timeout",
            Variant::Generated => "generated",
            Variant::Ergonomic => "ergonomic",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Variant::Raw => "raw reqwest + serde",
            Variant::RawBounded => "raw reqwest + serde, with the SDK's read timeout",
            Variant::Generated => "generated (sailpoint-isc-api)",
            Variant::Ergonomic => "ergonomic (sailpoint-isc)",
        }
    }
}

/// What the raw baseline decodes: the fields of `AccountAggregationStatus`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct RawStatus {
    start: Option<String>,
    status: Option<String>,
    total_accounts: Option<i64>,
    processed_accounts: Option<i64>,
    total_accounts_marked_for_deletion: Option<i64>,
    deleted_accounts: Option<i64>,
    total_identities: Option<i64>,
    processed_identities: Option<i64>,
}

enum Caller {
    Raw {
        http: reqwest::Client,
        base: String,
        authorization: HeaderValue,
    },
    Generated(v2025::Client),
    Ergonomic(sailpoint_isc::Client),
}

impl Caller {
    fn new(variant: Variant, base_url: &str) -> Result<Caller> {
        let authorization = HeaderValue::from_str(&format!("Bearer {STATIC_TOKEN}"))?;
        Ok(match variant {
            // What a hand-written client does: a default reqwest client, format the URL,
            // set the headers, send, decode with serde.
            Variant::Raw => Caller::Raw {
                http: reqwest::Client::new(),
                base: base_url.to_owned(),
                authorization,
            },
            // The same, with the bound the SDK puts on every read: a client-wide timeout of
            // `TimeoutConfig::standard().read` (one timer per request).
            Variant::RawBounded => Caller::Raw {
                http: reqwest::Client::builder()
                    .timeout(sailpoint_isc::TimeoutConfig::standard().read)
                    .build()?,
                base: base_url.to_owned(),
                authorization,
            },
            // The generated client as its docs show it (its own reqwest client with timeouts),
            // with the bearer token in its request context.
            Variant::Generated => Caller::Generated(v2025::Client::new(
                &format!("{base_url}/v2025"),
                RequestContext::new().with_header(AUTHORIZATION, authorization),
            )),
            // The ergonomic client as users build it: client credentials (token fetched once
            // and cached), default retries on, default reqwest client.
            Variant::Ergonomic => Caller::Ergonomic(
                sailpoint_isc::Client::builder()
                    .base_url(base_url)
                    .client_credentials(CLIENT_ID, CLIENT_SECRET)
                    .api_version(sailpoint_isc::ApiVersion::V2025)
                    // The limiter's bookkeeping is measured, with a limit this run never reaches.
                    .rate_limit(sailpoint_isc::RateLimit::new(
                        u32::MAX,
                        std::time::Duration::from_secs(10),
                    ))
                    .retry(RetryConfig::standard())
                    .build()?,
            ),
        })
    }

    async fn call(&self) -> Result<()> {
        match self {
            Caller::Raw {
                http,
                base,
                authorization,
            } => {
                let response = http
                    .get(format!(
                        "{base}/v2025/account-aggregations/{TASK_ID}/status"
                    ))
                    .header(AUTHORIZATION, authorization.clone())
                    .header(ACCEPT, "application/json")
                    .send()
                    .await?;
                ensure!(
                    response.status().is_success(),
                    "raw call answered {}",
                    response.status()
                );
                let status: RawStatus = response.json().await?;
                ensure!(status.status.as_deref() == Some("COMPLETED"), "bad body");
            }
            Caller::Generated(api) => {
                let status = api
                    .get_account_aggregation_status(TASK_ID)
                    .await
                    .map_err(|e| anyhow::anyhow!("generated call failed: {e}"))?
                    .into_inner();
                ensure!(status.status.as_deref() == Some("COMPLETED"), "bad body");
            }
            Caller::Ergonomic(client) => {
                let status = client.aggregation_status(TASK_ID).send().await?;
                ensure!(
                    status.state == Some(AggregationState::Completed),
                    "bad body"
                );
            }
        }
        Ok(())
    }
}

async fn run_sequential(caller: &Caller, calls: usize) -> Result<Duration> {
    let started = Instant::now();
    for _ in 0..calls {
        caller.call().await?;
    }
    Ok(started.elapsed())
}

async fn run_concurrent(
    caller: &Arc<Caller>,
    calls: usize,
    concurrency: usize,
) -> Result<Duration> {
    let per_task = calls / concurrency;
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let caller = caller.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    caller.call().await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await.context("a concurrent caller panicked")??;
    }
    Ok(started.elapsed())
}

/// One mode's figures: throughput per variant per repetition.
struct ModeResult {
    calls: usize,
    concurrency: usize,
    throughput: Vec<Vec<f64>>,
}

impl ModeResult {
    fn medians(&self) -> Vec<f64> {
        self.throughput.iter().map(|t| median(t)).collect()
    }

    /// Median of the per-repetition ratios to raw (paired, so drift between repetitions cancels).
    fn ratio(&self, variant: usize) -> f64 {
        self.ratio_to(variant, 0)
    }

    /// The same against another variant.
    fn ratio_to(&self, variant: usize, base: usize) -> f64 {
        let ratios: Vec<f64> = self.throughput[variant]
            .iter()
            .zip(&self.throughput[base])
            .map(|(v, raw)| v / raw)
            .collect();
        median(&ratios)
    }

    fn json(&self) -> Value {
        let mut variants = serde_json::Map::new();
        for (i, v) in VARIANTS.iter().enumerate() {
            variants.insert(
                v.key().to_owned(),
                json!({
                    "label": v.label(),
                    "calls_per_second": summary(&self.throughput[i]),
                    "ratio_to_raw": self.ratio(i),
                }),
            );
        }
        json!({
            "calls_per_rep": self.calls,
            "concurrency": self.concurrency,
            "variants": variants,
            "target": format!("ergonomic >= {TARGET_RATIO} x raw"),
            "target_met": self.ratio(ERGONOMIC) >= TARGET_RATIO,
            "ergonomic_to_raw_with_read_timeout": self.ratio_to(ERGONOMIC, RAW_BOUNDED),
        })
    }
}

/// Runs the benchmark; returns the JSON section and the table lines.
pub fn run(params: &Params) -> Result<(Value, Vec<String>)> {
    ensure!(params.concurrency > 0 && params.reps > 0, "nothing to run");
    let server = BenchServer::start()?;
    let base = server.base_url();
    // One client thread and one server thread: on a small machine a multi-threaded client
    // runtime mostly measures work stealing and wake-ups between its workers.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (sequential, concurrent) = runtime.block_on(async {
        let callers: Vec<Arc<Caller>> = VARIANTS
            .iter()
            .map(|&v| Caller::new(v, &base).map(Arc::new))
            .collect::<Result<_>>()?;
        for caller in &callers {
            run_sequential(caller, WARMUP_CALLS).await?;
        }
        let mut sequential = ModeResult {
            calls: params.sequential_calls,
            concurrency: 1,
            throughput: vec![Vec::new(); VARIANTS.len()],
        };
        let concurrent_calls = params.concurrent_calls / params.concurrency * params.concurrency;
        let mut concurrent = ModeResult {
            calls: concurrent_calls,
            concurrency: params.concurrency,
            throughput: vec![Vec::new(); VARIANTS.len()],
        };
        let order: Vec<usize> = (0..VARIANTS.len()).collect();
        for rep in 0..params.reps {
            for i in rotated(&order, rep) {
                let elapsed = run_sequential(&callers[i], sequential.calls).await?;
                sequential.throughput[i].push(sequential.calls as f64 / elapsed.as_secs_f64());
            }
            for i in rotated(&order, rep + 1) {
                let elapsed =
                    run_concurrent(&callers[i], concurrent.calls, params.concurrency).await?;
                concurrent.throughput[i].push(concurrent.calls as f64 / elapsed.as_secs_f64());
            }
        }
        anyhow::Ok((sequential, concurrent))
    })?;
    drop(runtime);

    // Harness check: every call reached the server, with its headers.
    let state = server.state();
    let expected =
        VARIANTS.len() * (WARMUP_CALLS + params.reps * (sequential.calls + concurrent.calls));
    let received = state.status_requests.load(Ordering::Relaxed) as usize;
    let well_formed = state.well_formed_status_requests.load(Ordering::Relaxed) as usize;
    let tokens = state.token_requests.load(Ordering::Relaxed);
    if received != expected || well_formed != expected {
        bail!(
            "the server saw {received} status requests ({well_formed} with Authorization), expected {expected}"
        );
    }

    let json = json!({
        "endpoint": "GET /v2025/account-aggregations/{id}/status (fixed 200 body)",
        "server": "axum on hyper http1, loopback, in-process on its own single-threaded runtime",
        "client_runtime": "tokio current-thread (all three clients alike)",
        "repetitions": params.reps,
        "warmup_calls_per_variant": WARMUP_CALLS,
        "token_requests": tokens,
        "sequential": sequential.json(),
        "concurrent": concurrent.json(),
    });

    let mut lines = vec![
        format!(
            "### Request overhead (status call on loopback; median of {} interleaved reps)",
            params.reps
        ),
        String::new(),
        format!(
            "| client | sequential calls/s | × raw | {} concurrent calls/s | × raw |",
            params.concurrency
        ),
        "|---|---:|---:|---:|---:|".to_owned(),
    ];
    let (seq_med, conc_med) = (sequential.medians(), concurrent.medians());
    for (i, v) in VARIANTS.iter().enumerate() {
        lines.push(format!(
            "| {} | {} | {:.2} | {} | {:.2} |",
            v.label(),
            group(seq_med[i]),
            sequential.ratio(i),
            group(conc_med[i]),
            concurrent.ratio(i),
        ));
    }
    lines.push(String::new());
    lines.push(format!(
        "Calls per rep: {} sequential, {} concurrent. Target ergonomic ≥ {TARGET_RATIO}× raw: sequential {} ({:.2}×), concurrent {} ({:.2}×). Against raw with the SDK's read timeout: {:.2}× sequential, {:.2}× concurrent.",
        sequential.calls,
        concurrent.calls,
        verdict(sequential.ratio(ERGONOMIC) >= TARGET_RATIO),
        sequential.ratio(ERGONOMIC),
        verdict(concurrent.ratio(ERGONOMIC) >= TARGET_RATIO),
        concurrent.ratio(ERGONOMIC),
        sequential.ratio_to(ERGONOMIC, RAW_BOUNDED),
        concurrent.ratio_to(ERGONOMIC, RAW_BOUNDED),
    ));
    Ok((json, lines))
}

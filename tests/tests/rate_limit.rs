//! The client-side rate limiter against the sandbox's sliding-window enforcer: with it, many
//! concurrent callers get no 429 and no window of the limit's length at the tenant holds more
//! than the limit; without it, the tenant answers 429 and the client retries until all succeed.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use sailpoint_isc::{ApiVersion, Client, RateLimit, RetryConfig};
use sailpoint_isc_sandbox::{Operation, Sandbox};

const LIMIT: u32 = 5;
const WINDOW: Duration = Duration::from_millis(1000);
const CALLERS: usize = 20;

async fn tenant() -> Sandbox {
    Sandbox::builder()
        .collect_duration(Duration::from_secs(60))
        .process_duration(Duration::from_secs(60))
        .rate_limit(LIMIT, WINDOW)
        .start()
        .await
        .expect("sandbox starts")
}

fn builder(sb: &Sandbox) -> sailpoint_isc::ClientBuilder {
    Client::builder()
        .base_url(sb.base_url())
        .client_credentials(sb.client_id(), sb.client_secret())
        .api_version(ApiVersion::V2025)
        .retry(
            RetryConfig::standard()
                .with_max_attempts(10)
                .with_backoff(Duration::from_millis(20), Duration::from_millis(200))
                .with_max_retry_after(Duration::from_secs(2)),
        )
}

/// Starts one aggregation (one request, not limited by the tenant's status route budget) and
/// returns its id; the status reads below are what the test counts.
async fn one_aggregation(sb: &Sandbox, client: &Client) -> String {
    let started = client
        .start_aggregation("limited-source")
        .send()
        .await
        .unwrap();
    // Let the window of that start pass so every test window below holds status reads only.
    tokio::time::sleep(WINDOW + Duration::from_millis(100)).await;
    assert_eq!(sb.request_count(Operation::ImportAccounts), 1);
    started.task_id
}

/// The most requests of `operation` the tenant received within any `window`.
fn densest_window(sb: &Sandbox, window: Duration) -> usize {
    let mut times: Vec<Instant> = sb
        .requests()
        .into_iter()
        .filter(|r| r.operation != Operation::Token)
        .map(|r| r.received)
        .collect();
    times.sort();
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| t.duration_since(times[i]) < window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

fn rate_limited(sb: &Sandbox) -> usize {
    sb.requests()
        .iter()
        .filter(|r| r.status == Some(429))
        .count()
}

#[tokio::test]
async fn concurrent_callers_stay_within_the_limit_without_a_single_429() {
    let sb = tenant().await;
    let client = builder(&sb)
        .rate_limit(RateLimit::new(LIMIT, WINDOW))
        .build()
        .unwrap();
    let id = one_aggregation(&sb, &client).await;
    let started = Instant::now();
    let results = join_all((0..CALLERS).map(|_| {
        let client = client.clone();
        let id = id.clone();
        async move { client.aggregation_status(&id).send().await }
    }))
    .await;
    let took = started.elapsed();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(rate_limited(&sb), 0, "no 429 with the limiter on");
    assert_eq!(
        sb.request_count(Operation::GetStatus),
        CALLERS,
        "each read sent once"
    );
    assert!(
        densest_window(&sb, WINDOW) <= LIMIT as usize,
        "a window held {} requests",
        densest_window(&sb, WINDOW)
    );
    // 21 requests (the start, then 20 reads) at 5 per second need at least three more windows.
    assert!(took >= WINDOW * 3, "{took:?}");
    assert!(
        took < WINDOW * 6,
        "{took:?}: the limiter should run near the limit"
    );
    let waits = client.rate_limiter().unwrap().waits();
    assert!(waits >= (CALLERS as u64) - u64::from(LIMIT), "{waits}");
}

#[tokio::test]
async fn without_the_limiter_the_tenant_answers_429_and_the_client_retries() {
    let sb = tenant().await;
    let client = builder(&sb).no_rate_limit().build().unwrap();
    assert!(client.rate_limiter().is_none());
    let id = one_aggregation(&sb, &client).await;
    let results = join_all((0..CALLERS).map(|_| {
        let client = client.clone();
        let id = id.clone();
        async move { client.aggregation_status(&id).send().await }
    }))
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let refused = rate_limited(&sb);
    assert!(refused > 0, "a burst of {CALLERS} must meet 429s");
    assert_eq!(
        sb.request_count(Operation::GetStatus),
        CALLERS + refused,
        "every 429 was retried, nothing else was sent twice"
    );
}

#[tokio::test]
async fn clones_and_clients_of_one_client_id_share_the_limiter() {
    let sb = tenant().await;
    let a = builder(&sb).build().unwrap();
    let b = builder(&sb).build().unwrap();
    let other = Client::builder()
        .base_url(sb.base_url())
        .client_credentials("someone-else", "secret")
        .build()
        .unwrap();
    let la = a.rate_limiter().unwrap();
    assert_eq!(la.limit(), RateLimit::ISC);
    assert!(la.same_as(a.clone().rate_limiter().unwrap()));
    assert!(la.same_as(b.rate_limiter().unwrap()));
    assert!(!la.same_as(other.rate_limiter().unwrap()));
}

//! The simulated link (bandwidth, latency) and the faults in the middle of a request body
//! ([`Fault::CutBody`], [`Fault::StopReading`]), time-scaled: small files and short timeouts.
//!
//! Timings are only checked from below (a loaded machine is slower, never faster), with upper
//! bounds no tighter than the common patience.

mod common;

use std::time::Duration;

use common::{Client, PATIENCE, request_token};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use sailpoint_isc_sandbox::{ApiVersion, Fault, Link, Operation, Sandbox};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

/// A sandbox whose aggregations complete at once, over `link`.
async fn sandbox(link: Link) -> Sandbox {
    Sandbox::builder()
        .collect_duration(Duration::ZERO)
        .process_duration(Duration::ZERO)
        .link(link)
        .start()
        .await
        .unwrap()
}

/// A CSV of about `size` bytes.
fn csv(size: usize) -> String {
    let mut out = String::from("id,name,notes\n");
    let mut i = 0;
    while out.len() < size {
        i += 1;
        out.push_str(&format!("user{i:08},User {i},{}\n", "x".repeat(90)));
    }
    out
}

fn sha256(data: &str) -> String {
    Sha256::digest(data.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An import of `data` as the `file` part.
fn import(client: &Client, source: &str, data: &str) -> reqwest::RequestBuilder {
    let form = Form::new().part(
        "file",
        Part::bytes(data.as_bytes().to_vec()).file_name("accounts.csv"),
    );
    client
        .http
        .post(client.import_url(ApiVersion::default(), source))
        .bearer_auth(&client.token)
        .multipart(form)
}

#[tokio::test]
async fn bandwidth_paces_the_upload_and_keeps_every_byte() {
    const RATE: u64 = 256 * 1024;
    let sandbox = sandbox(Link::unlimited().with_bandwidth(RATE)).await;
    assert_eq!(sandbox.link().bandwidth, Some(RATE));
    let client = Client::new(&sandbox).await;
    let data = csv(512 * 1024);

    let started = Instant::now();
    let resp = import(&client, "slow", &data).send().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);

    // 512 KiB at 256 KiB/s take 2 s; allow for the budget the connection starts with.
    assert!(elapsed >= Duration::from_millis(1500), "took {elapsed:?}");
    assert!(elapsed < PATIENCE, "took {elapsed:?}");
    let uploads = sandbox.uploads();
    let file = uploads[0].file.as_ref().unwrap();
    assert_eq!(file.bytes, data.len() as u64);
    assert_eq!(file.sha256, sha256(&data));
    assert_eq!(sandbox.aggregations_started("slow"), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn latency_delays_each_request_also_on_open_connections() {
    let sandbox = sandbox(Link::unlimited()).await;
    let client = Client::new(&sandbox).await; // a pooled connection, opened without latency

    let latency = Duration::from_millis(300);
    sandbox.set_link(Link::unlimited().with_latency(latency));
    let started = Instant::now();
    for _ in 0..2 {
        let resp = request_token(
            &client.http,
            &client.base,
            sandbox.client_id(),
            sandbox.client_secret(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.bytes().await.unwrap();
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= 2 * latency, "took {elapsed:?}");
    assert!(elapsed < PATIENCE, "took {elapsed:?}");

    sandbox.set_link(Link::default());
    assert!(sandbox.link().is_unlimited());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn cut_body_closes_mid_upload_without_effect() {
    let sandbox = sandbox(Link::unlimited()).await;
    let client = Client::new(&sandbox).await;
    let data = csv(256 * 1024);

    // Cut after a quarter of the body, then with the whole body read: no response either way.
    sandbox.inject(Operation::ImportAccounts, Fault::cut_body(64 * 1024), 1);
    sandbox.inject(Operation::ImportAccounts, Fault::cut_body(u64::MAX), 1);
    for _ in 0..2 {
        let err = import(&client, "s", &data).send().await.unwrap_err();
        assert!(!err.is_status() && !err.is_timeout(), "{err}");
    }
    assert_eq!(sandbox.pending_faults(Operation::ImportAccounts), 0);
    assert_eq!(sandbox.aggregations_started("s"), 0);
    assert!(sandbox.uploads().is_empty());
    assert!(sandbox.aggregations().is_empty());
    let imports: Vec<_> = sandbox
        .requests()
        .into_iter()
        .filter(|r| r.operation == Operation::ImportAccounts)
        .collect();
    assert_eq!(imports.len(), 2);
    assert!(imports.iter().all(|r| r.status.is_none()));

    // The next, unfaulted upload goes through whole.
    let resp = import(&client, "s", &data).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let uploads = sandbox.uploads();
    assert_eq!(uploads.len(), 1);
    let file = uploads[0].file.as_ref().unwrap();
    assert_eq!(file.sha256, sha256(&data));
    assert_eq!(sandbox.aggregations_started("s"), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn stop_reading_hangs_until_the_client_times_out() {
    let sandbox = sandbox(Link::unlimited()).await;
    let client = Client::new(&sandbox).await;
    let data = csv(256 * 1024);

    sandbox.inject(Operation::ImportAccounts, Fault::stop_reading(16 * 1024), 1);
    let started = Instant::now();
    let err = import(&client, "s", &data)
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(sandbox.aggregations_started("s"), 0);
    assert!(sandbox.uploads().is_empty());
    assert_eq!(sandbox.request_count(Operation::ImportAccounts), 1);

    // The held connection does not keep the sandbox from stopping.
    tokio::time::timeout(PATIENCE, sandbox.shutdown())
        .await
        .expect("the sandbox shuts down");
}

//! A large upload is streamed: the sandbox's memory does not grow with the file size.
//!
//! This test is alone in its binary so no other test disturbs the process's peak RSS.

mod common;

use std::time::Duration;

use common::{Client, task_id};
use futures_util::stream;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use sailpoint_isc_sandbox::{ApiVersion, Sandbox};

const ROWS: u64 = 200_000;
const PAD: usize = 320;

/// Row `i` of the generated file (`i == 0` is the header).
fn row(i: u64) -> String {
    if i == 0 {
        return "id,name,notes\n".to_owned();
    }
    format!("user{i:08},User {i},{}\n", "x".repeat(PAD))
}

/// Peak resident set size in KiB, from /proc (Linux only).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak RSS to the current RSS; false if the kernel does not allow it.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[tokio::test]
async fn large_upload_is_streamed_not_buffered() {
    let sandbox = Sandbox::builder()
        .collect_duration(Duration::ZERO)
        .process_duration(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let client = Client::new(&sandbox).await;
    let expected_bytes: u64 = (0..=ROWS).map(|i| row(i).len() as u64).sum();
    assert!(expected_bytes > 64 << 20, "file is {expected_bytes} bytes");

    // Batches of rows, generated lazily as the client sends them.
    let batches = stream::iter((0..=ROWS).step_by(200).map(|start| {
        let chunk: String = (start..(start + 200).min(ROWS + 1)).map(row).collect();
        Ok::<_, std::io::Error>(chunk)
    }));
    let form = Form::new().text("disableOptimization", "false").part(
        "file",
        Part::stream(reqwest::Body::wrap_stream(batches)).file_name("big.csv"),
    );

    let can_measure = reset_peak_rss();
    let before = peak_rss_kib();
    let resp = client
        .http
        .post(client.import_url(ApiVersion::default(), "big"))
        .bearer_auth(&client.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let after = peak_rss_kib();
    let task: serde_json::Value = resp.json().await.unwrap();

    let uploads = sandbox.uploads();
    let file = uploads[0].file.as_ref().unwrap();
    assert_eq!(file.bytes, expected_bytes);
    assert_eq!(file.rows, ROWS);
    let status = client
        .wait_for(ApiVersion::default(), &task_id(&task), "COMPLETED")
        .await;
    assert_eq!(status["totalAccounts"], ROWS);

    if let (true, Some(before), Some(after)) = (can_measure, before, after) {
        let grown_mib = after.saturating_sub(before) / 1024;
        let file_mib = expected_bytes >> 20;
        eprintln!("peak RSS grew by {grown_mib} MiB for a {file_mib} MiB upload");
        assert!(
            grown_mib < 32,
            "peak RSS grew by {grown_mib} MiB during a {file_mib} MiB upload"
        );
    } else {
        eprintln!("peak RSS cannot be measured here; only the counts were checked");
    }
}

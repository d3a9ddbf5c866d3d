//! Area: slow and broken links. The sandbox's link model (bandwidth, a cut after N bytes of a
//! body, a server that stops reading), time-scaled: an upload longer than every timeout
//! completes; a cut mid-body is resent and starts exactly one aggregation; a stalled upload ends
//! with a typed error once it has not moved for the stall timeout, having started nothing; a cut
//! after the last byte is resolved through task status.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use sailpoint_isc::{
    ApiVersion, Client, Error, OutcomeResolution, RetryConfig, StartOrigin, TimeoutConfig,
};
use sailpoint_isc_sandbox::{Fault, Link, Operation, Sandbox};
use sha2::{Digest, Sha256};

use crate::hygiene;
use crate::report::{Area, Seen, ensure};

/// Bytes per second of the slow link.
const BANDWIDTH: u64 = 4 * 1024 * 1024;
/// The file: about four seconds through the slow link, and several times larger than what the
/// operating system buffers on a connection (Linux's default send buffer grows to 4 MiB): bytes
/// handed to the connection can sit there, so a file that fits would count as sent before its
/// bytes have left.
const FILE_BYTES: usize = 16 * 1024 * 1024;
/// The stall, read and whole-request limits of the "longer than every timeout" scenario: well
/// under the upload's length, well over the link's pacing steps (1/20 s).
const SHORT: Duration = Duration::from_millis(1000);
/// Its response limit: under the upload's length too, but above the time the send buffer takes
/// to drain through the link after the last byte was handed over (4 MiB at 4 MiB/s).
const ANSWER: Duration = Duration::from_millis(3000);

/// The file, written and hashed once for every scenario.
fn file() -> (PathBuf, String, u64) {
    static FILE: std::sync::OnceLock<(PathBuf, String, u64)> = std::sync::OnceLock::new();
    FILE.get_or_init(write_file).clone()
}

fn write_file() -> (PathBuf, String, u64) {
    let dir = std::env::temp_dir().join(format!("isc-fault-suite-links-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("accounts.csv");
    let mut body = Vec::with_capacity(FILE_BYTES + 64);
    body.extend_from_slice(b"id,name,email\n");
    let mut row = 0u64;
    while body.len() < FILE_BYTES {
        writeln!(body, "{row},user {row},user{row}@example.com").unwrap();
        row += 1;
    }
    std::fs::write(&path, &body).unwrap();
    let sha = format!("{:x}", Sha256::digest(&body));
    (path, sha, body.len() as u64)
}

async fn sandbox(link: Link) -> Sandbox {
    let sandbox = Sandbox::builder()
        .no_rate_limit()
        .link(link)
        .collect_duration(Duration::from_millis(100))
        .process_duration(Duration::from_millis(100))
        .start()
        .await
        .expect("sandbox starts");
    hygiene::note_secret(sandbox.client_secret());
    sandbox
}

fn client(sandbox: &Sandbox, timeouts: TimeoutConfig) -> Client {
    Client::builder()
        .base_url(sandbox.base_url())
        .client_credentials(sandbox.client_id(), sandbox.client_secret())
        .api_version(ApiVersion::V2025)
        .retry(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_backoff(Duration::from_millis(10), Duration::from_millis(40)),
        )
        .timeouts(timeouts)
        .outcome_resolution(
            OutcomeResolution::standard()
                .with_grace_period(Duration::from_secs(3))
                .with_poll_interval(Duration::from_millis(100)),
        )
        .build()
        .expect("client builds")
}

/// The one upload the sandbox recorded is the file, byte for byte.
fn received_whole(sandbox: &Sandbox, sha: &str, bytes: u64) -> Result<(), String> {
    let uploads = sandbox.uploads();
    ensure(uploads.len() == 1, || {
        format!("{} uploads recorded, expected 1", uploads.len())
    })?;
    let file = uploads[0].file.as_ref().ok_or("no file part")?;
    ensure(file.bytes == bytes && file.sha256 == sha, || {
        format!(
            "received {} bytes, SHA-256 {}",
            file.bytes,
            &file.sha256[..12]
        )
    })
}

/// Three seconds of upload against timeouts of 1.5 s (read, response, whole-request deadline)
/// and a stall timeout of 1.5 s: progress, not size, bounds it.
async fn longer_than_every_timeout() -> Result<(Seen, String), String> {
    let sandbox = sandbox(Link::unlimited().with_bandwidth(BANDWIDTH)).await;
    let (path, sha, bytes) = file();
    let timeouts = TimeoutConfig::standard()
        .with_read_timeout(SHORT)
        .with_response_timeout(ANSWER)
        .with_stall_timeout(SHORT)
        .with_total_deadline(Some(SHORT));
    let began = tokio::time::Instant::now();
    let started = client(&sandbox, timeouts)
        .start_aggregation("slow-link-src")
        .file(&path)
        .send()
        .await;
    let took = began.elapsed();
    hygiene::note_tokens(sandbox.issued_tokens());
    let started = started.map_err(|e| {
        hygiene::note_error(&e);
        format!("the upload failed: {e}")
    })?;
    ensure(started.origin == StartOrigin::Started, || {
        format!("origin {:?}", started.origin)
    })?;
    // The link's pacing makes it long: a lower bound, never an upper one.
    ensure(took >= ANSWER, || format!("took only {took:?}"))?;
    received_whole(&sandbox, &sha, bytes)?;
    ensure(
        sandbox.request_count(Operation::ImportAccounts) == 1,
        || "more than one import request".into(),
    )?;
    let requests = sandbox.requests().len();
    sandbox.shutdown().await;
    Ok((
        Seen {
            requests,
            duplicates: 0,
        },
        format!(
            "{bytes} bytes at {} MiB/s in {:.1} s; stall, read and deadline {:.1} s, answer {:.1} s: completed, 1 import",
            BANDWIDTH >> 20,
            took.as_secs_f64(),
            SHORT.as_secs_f64(),
            ANSWER.as_secs_f64()
        ),
    ))
}

/// The link breaks after `after` bytes of the first attempt's body: resent from the file,
/// exactly one aggregation, the bytes intact.
async fn cut_mid_body(after: u64) -> Result<(Seen, String), String> {
    let sandbox = sandbox(Link::unlimited()).await;
    let (path, sha, bytes) = file();
    sandbox.inject(Operation::ImportAccounts, Fault::cut_body(after), 1);
    let started = client(&sandbox, TimeoutConfig::standard())
        .start_aggregation("cut-src")
        .file(&path)
        .send()
        .await;
    hygiene::note_tokens(sandbox.issued_tokens());
    let started = started.map_err(|e| {
        hygiene::note_error(&e);
        format!("not resent: {e}")
    })?;
    ensure(started.origin == StartOrigin::Started, || {
        format!("origin {:?}", started.origin)
    })?;
    let imports = sandbox.request_count(Operation::ImportAccounts);
    ensure(imports == 2, || {
        format!("{imports} import requests, expected 2")
    })?;
    let aggregations = sandbox.aggregations_started("cut-src");
    ensure(aggregations == 1, || format!("{aggregations} aggregations"))?;
    received_whole(&sandbox, &sha, bytes)?;
    let requests = sandbox.requests().len();
    sandbox.shutdown().await;
    Ok((
        Seen {
            requests,
            duplicates: aggregations.saturating_sub(1),
        },
        format!("cut after {after} bytes, resent: 2 imports, 1 aggregation, bytes intact"),
    ))
}

/// The server stops reading after 64 KiB on every attempt: each attempt is cut once it has not
/// moved for the stall timeout; after the retries, `UploadInterrupted`, nothing started.
async fn stalled() -> Result<(Seen, String), String> {
    let sandbox = sandbox(Link::unlimited()).await;
    let (path, _, bytes) = file();
    sandbox.inject(Operation::ImportAccounts, Fault::stop_reading(64 * 1024), 3);
    let stall = Duration::from_millis(500);
    let began = tokio::time::Instant::now();
    let result = client(
        &sandbox,
        TimeoutConfig::standard().with_stall_timeout(stall),
    )
    .start_aggregation("stalled-src")
    .file(&path)
    .send()
    .await;
    let took = began.elapsed();
    hygiene::note_tokens(sandbox.issued_tokens());
    let error = result.err().ok_or("the upload succeeded")?;
    hygiene::note_error(&error);
    let Error::UploadInterrupted { sent, total, .. } = &error else {
        return Err(format!("expected UploadInterrupted, got {error}"));
    };
    ensure(*total == bytes && *sent < bytes, || {
        format!("sent {sent} of {total}")
    })?;
    ensure(error.attempts() == 3, || {
        format!("{} attempts", error.attempts())
    })?;
    // Three attempts, each cut only after a full stall timeout without progress.
    ensure(took >= stall * 3, || format!("ended after {took:?}"))?;
    ensure(sandbox.aggregations_started("stalled-src") == 0, || {
        "an aggregation started".into()
    })?;
    ensure(
        sandbox.request_count(Operation::GetTaskStatusList) <= 1,
        || "a task-status lookup ran".into(),
    )?;
    let requests = sandbox.requests().len();
    sandbox.shutdown().await;
    Ok((
        Seen {
            requests,
            duplicates: 0,
        },
        format!(
            "3 attempts stalled at {sent} of {total} bytes: UploadInterrupted after {:.1} s, nothing started",
            took.as_secs_f64()
        ),
    ))
}

/// The link drops after the last byte (ISC processed it): resolved through task status.
async fn cut_after_the_last_byte() -> Result<(Seen, String), String> {
    let sandbox = sandbox(Link::unlimited()).await;
    let (path, sha, bytes) = file();
    sandbox.inject(Operation::ImportAccounts, Fault::DropAfterProcessing, 1);
    let started = client(&sandbox, TimeoutConfig::standard())
        .start_aggregation("dropped-src")
        .file(&path)
        .send()
        .await;
    hygiene::note_tokens(sandbox.issued_tokens());
    let started = started.map_err(|e| {
        hygiene::note_error(&e);
        format!("not resolved: {e}")
    })?;
    ensure(started.origin == StartOrigin::Recovered, || {
        format!("origin {:?}", started.origin)
    })?;
    ensure(
        sandbox.request_count(Operation::ImportAccounts) == 1,
        || "resent after the last byte".into(),
    )?;
    received_whole(&sandbox, &sha, bytes)?;
    let aggregations = sandbox.aggregations_started("dropped-src");
    ensure(aggregations == 1, || format!("{aggregations} aggregations"))?;
    let requests = sandbox.requests().len();
    sandbox.shutdown().await;
    Ok((
        Seen {
            requests,
            duplicates: aggregations.saturating_sub(1),
        },
        format!(
            "dropped after the last byte: recovered {}, 1 import",
            started.task_id
        ),
    ))
}

/// Runs the area.
pub async fn run() -> Area {
    let mut area = Area::new("slow and broken links");
    area.run(
        "an upload longer than every timeout completes",
        longer_than_every_timeout(),
    )
    .await;
    area.run("link cut after 64 KiB of the body", cut_mid_body(64 * 1024))
        .await;
    area.run("link cut after 1 byte of the body", cut_mid_body(1))
        .await;
    area.run("server stops reading mid-body", stalled()).await;
    area.run("link drops after the last byte", cut_after_the_last_byte())
        .await;
    area
}

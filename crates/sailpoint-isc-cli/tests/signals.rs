//! Stop signals end-to-end: the binary is a child process, the simulated tenant runs in the test
//! process, and the signal is sent when an event shows the moment has come (a request arrived, a
//! line was printed), never after a sleep.

#![cfg(unix)]

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sailpoint_isc_sandbox::{Link, Operation};
use serde_json::Value;

use support::*;

/// Spawns the configured binary with `args`, stdout and stderr piped.
fn spawn(tenant: &Tenant, args: &[&str]) -> Child {
    // The same configuration as `Tenant::cmd`, as a plain process (its pipes read line by line).
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_isc-aggregate"));
    cmd.current_dir(empty_dir())
        .env_remove("SAIL_BASE_URL")
        .env_remove("RUST_LOG")
        .env("SAIL_CLIENT_ID", CLIENT_ID)
        .env("SAIL_CLIENT_SECRET", CLIENT_SECRET)
        .args(["--base-url", &tenant.sandbox.base_url()])
        .args(["--poll-interval", "20ms", "--retry-backoff", "10ms"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("the binary starts")
}

fn send(child: &Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} failed");
}

/// Waits until `ready` holds (polled), at most a minute (a hang, not a timing assumption).
fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let patience = Instant::now();
    while !ready() {
        assert!(
            patience.elapsed() < Duration::from_secs(60),
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads the rest of the child's output and its exit code.
fn finish(mut child: Child, mut stdout_lines: Vec<String>) -> (i32, Vec<String>, String) {
    let mut rest = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut rest).expect("stdout");
    }
    stdout_lines.extend(rest.lines().map(str::to_owned));
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut stderr).expect("stderr");
    }
    let status = child.wait().expect("the binary ends");
    (status.code().expect("an exit code"), stdout_lines, stderr)
}

fn big_csv() -> std::path::PathBuf {
    // Four times Linux's largest default send buffer, so most of it is still to be sent.
    let mut body = b"id,name\n".to_vec();
    let mut row = 0u64;
    while body.len() < 16 * 1024 * 1024 {
        body.extend_from_slice(format!("{row},user {row}\n").as_bytes());
        row += 1;
    }
    write_temp("big.csv", &body)
}

/// SIGTERM while the upload is still sending its body: the upload is cut, nothing starts, the
/// result says so, exit 143.
#[test]
fn sigterm_during_the_upload_starts_nothing_and_exits_143() {
    let tenant = Tenant::with(|b| b.link(Link::unlimited().with_bandwidth(1024 * 1024)));
    let csv = big_csv();
    let child = spawn(
        &tenant,
        &[
            "--json",
            "import",
            SOURCE,
            "--file",
            &file_arg(&csv),
            "--wait",
        ],
    );
    until("the import request arrives", || {
        tenant.sandbox.request_count(Operation::ImportAccounts) >= 1
    });
    send(&child, "-TERM");
    let (code, stdout, stderr) = finish(child, Vec::new());
    assert_eq!(code, 143, "stdout {stdout:?}\nstderr {stderr}");
    let result: Value = serde_json::from_str(stdout.last().expect("a result")).unwrap();
    assert_eq!(result["type"], "result");
    assert_eq!(result["outcome"], "stopped");
    assert_eq!(result["signal"], "SIGTERM");
    assert_eq!(result["exitCode"], 143);
    assert!(result["aggregationId"].is_null(), "{result}");
    assert!(
        result["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was started"),
        "{result}"
    );
    assert_eq!(tenant.sandbox.aggregations_started(SOURCE), 0);
    assert!(tenant.sandbox.uploads().is_empty());
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// SIGINT while waiting: the aggregation goes on in ISC; its id and how to follow it are
/// printed, exit 130.
#[test]
fn sigint_while_waiting_prints_the_aggregation_and_exits_130() {
    let tenant = Tenant::with(|b| {
        b.collect_duration(Duration::from_secs(30))
            .process_duration(Duration::from_secs(30))
    });
    let csv = example_csv();
    let mut child = spawn(
        &tenant,
        &[
            "--json",
            "import",
            SOURCE,
            "--file",
            &file_arg(&csv),
            "--wait",
        ],
    );
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    // The "accepted" line is the moment: the start is done, waiting has begun.
    for line in lines.by_ref() {
        let line = line.expect("a line");
        let accepted = line.contains(r#""type":"accepted""#);
        seen.push(line);
        if accepted {
            break;
        }
    }
    send(&child, "-INT");
    seen.extend(lines.map(|l| l.expect("a line")));
    let (code, stdout, stderr) = finish(child, seen);
    assert_eq!(code, 130, "stdout {stdout:?}\nstderr {stderr}");
    let accepted: Value = serde_json::from_str(&stdout[0]).unwrap();
    let id = accepted["aggregationId"].as_str().unwrap().to_owned();
    let result: Value = serde_json::from_str(stdout.last().unwrap()).unwrap();
    assert_eq!(result["outcome"], "stopped");
    assert_eq!(result["signal"], "SIGINT");
    assert_eq!(result["aggregationId"], id.as_str());
    assert!(
        stderr.contains(&format!("isc-aggregate status {id} --watch")),
        "{stderr}"
    );
    assert_eq!(tenant.sandbox.aggregations_started(SOURCE), 1);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

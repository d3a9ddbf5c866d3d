//! A closed stdout (`isc-aggregate ... | head -1` after `head` has gone) ends the command quietly:
//! no panic, the output it could not write dropped, and the exit code it would have had anyway.

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// Runs the binary against `tenant` with `args` and its stdout closed before it writes anything;
/// returns the exit code and stderr.
fn run_with_stdout_closed(tenant: &Tenant, args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_isc-aggregate"))
        .current_dir(empty_dir())
        .env_remove("SAIL_BASE_URL")
        .env_remove("RUST_LOG")
        .env("SAIL_CLIENT_ID", CLIENT_ID)
        .env("SAIL_CLIENT_SECRET", CLIENT_SECRET)
        .args(["--base-url", &tenant.sandbox.base_url()])
        .args(["--poll-interval", "20ms", "--retry-backoff", "10ms"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    // The only read end of the pipe: once it is gone, every write to stdout fails (EPIPE).
    drop(child.stdout.take());
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("isc-aggregate {args:?} still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = reader.join().expect("stderr reader");
    let code = status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {status:?}\n{stderr}"));
    (code, stderr)
}

#[test]
fn a_closed_stdout_ends_every_command_quietly_with_its_usual_code() {
    let tenant = Tenant::start();
    let csv = file_arg(&example_csv());
    for args in [
        // A summary of several lines.
        vec!["import", SOURCE, "--file", &csv, "--wait"],
        // NDJSON: accepted, statuses, result.
        vec!["--json", "import", SOURCE, "--file", &csv, "--wait"],
        // The aggregation id alone (last of the imports: it does not wait for the aggregation).
        vec!["import", SOURCE, "--file", &csv],
        // A table of the tasks above.
        vec!["tasks"],
        vec!["--json", "tasks"],
    ] {
        let (code, stderr) = run_with_stdout_closed(&tenant, &args);
        assert!(!stderr.contains("panicked"), "{args:?}\n{stderr}");
        assert_eq!(code, 0, "{args:?}\n{stderr}");
    }
    // Every import went through although nothing of its output could be written.
    assert_eq!(tenant.sandbox.uploads().len(), 3);
}

//! What the end-to-end tests share: a simulated tenant in the test process, the binary configured
//! for it, and its output.
#![allow(dead_code)] // each test binary uses a part

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use sailpoint_isc_sandbox::{Operation, Sandbox, SandboxBuilder};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "cli-test-client";
pub const CLIENT_SECRET: &str = "cli-test-secret-9f8e7d6c5b4a";
pub const SOURCE: &str = "src-cli-test";

/// A sandbox on its own runtime, so tests can run the binary synchronously. The sandbox is dropped
/// (and stops) before its runtime.
pub struct Tenant {
    pub sandbox: Sandbox,
    _runtime: tokio::runtime::Runtime,
}

impl Tenant {
    pub fn start() -> Self {
        Self::with(|b| b)
    }

    pub fn with(configure: impl FnOnce(SandboxBuilder) -> SandboxBuilder) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let builder = Sandbox::builder()
            .client(CLIENT_ID, CLIENT_SECRET)
            .collect_duration(Duration::from_millis(100))
            .process_duration(Duration::from_millis(300))
            .no_rate_limit();
        let sandbox = runtime
            .block_on(configure(builder).start())
            .expect("sandbox starts");
        Tenant {
            sandbox,
            _runtime: runtime,
        }
    }

    /// The binary, configured for this tenant through `--base-url` and `SAIL_CLIENT_*`, with fast
    /// test-only poll and retry timings, in an empty working directory (no `config.json`).
    pub fn cmd(&self) -> Command {
        let mut cmd = bare_cmd();
        cmd.env("SAIL_CLIENT_ID", CLIENT_ID)
            .env("SAIL_CLIENT_SECRET", CLIENT_SECRET)
            .args(["--base-url", &self.sandbox.base_url()]);
        cmd
    }

    pub fn total_requests(&self) -> usize {
        Operation::ALL
            .iter()
            .map(|op| self.sandbox.request_count(*op))
            .sum()
    }
}

/// The binary with no configuration at all, in an empty directory, with fast timings (a fixed
/// 20 ms poll and 10 ms retry backoff, through `--poll-interval` and the hidden
/// `--retry-backoff`; a later `--poll-interval` overrides it).
pub fn bare_cmd() -> Command {
    let mut cmd = default_timings_cmd();
    cmd.args(["--poll-interval", "20ms", "--retry-backoff", "10ms"]);
    cmd
}

/// The binary with no configuration and the shipped timings.
pub fn default_timings_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_isc-aggregate"));
    cmd.current_dir(empty_dir())
        .env_remove("SAIL_BASE_URL")
        .env_remove("SAIL_CLIENT_ID")
        .env_remove("SAIL_CLIENT_SECRET")
        .env_remove("RUST_LOG")
        .timeout(Duration::from_secs(60));
    cmd
}

pub fn empty_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "isc-aggregate-test-{}-{:x}",
        std::process::id(),
        fastrand_u64()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

pub fn example_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/accounts.csv")
}

pub fn file_arg(path: &Path) -> String {
    path.to_str().expect("utf-8 path").to_owned()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let output = cmd.output().expect("binary runs");
    Run {
        code: output.status.code().expect("exit code"),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

impl Run {
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// stdout as NDJSON: every line must be a JSON object with a `type`.
    pub fn ndjson(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                let value: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\n{}", self.stdout));
                assert!(value["type"].is_string(), "no type: {line}");
                value
            })
            .collect()
    }

    pub fn result(&self) -> Value {
        let lines = self.ndjson();
        let last = lines.last().expect("a result line").clone();
        assert_eq!(last["type"], "result", "{}", self.stdout);
        last
    }
}

/// True when `text` holds a run of at least `len` hex digits (the sandbox's tokens and generated
/// secrets are 64 hex digits).
pub fn has_hex_run(text: &str, len: usize) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        if run >= len {
            return true;
        }
    }
    false
}

pub fn write_temp(name: &str, contents: &[u8]) -> PathBuf {
    let path = empty_dir().join(name);
    std::fs::write(&path, contents).expect("write temp file");
    path
}

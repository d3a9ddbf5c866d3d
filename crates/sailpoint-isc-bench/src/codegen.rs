//! Figure 4 (informational): size of the generated code and the clean build time of the
//! ergonomic crate.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// Counts lines of `crates/sailpoint-isc-api/src/generated/*.rs` and, with `clean_build`, times
/// `cargo build -p sailpoint-isc` in an empty target directory under `bench_dir`.
pub fn run(root: &Path, bench_dir: &Path, clean_build: bool) -> Result<(Value, Vec<String>)> {
    let generated = root.join("crates/sailpoint-isc-api/src/generated");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&generated)
        .with_context(|| format!("cannot read {}", generated.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path)?;
            let lines = text.lines().count();
            let code = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("//"))
                .count();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push((name, lines, code));
        }
    }
    files.sort();
    let total: usize = files.iter().map(|f| f.1).sum();
    let total_code: usize = files.iter().map(|f| f.2).sum();

    let build = if clean_build {
        Some(time_clean_build(root, &bench_dir.join("clean-build")))
    } else {
        None
    };

    let mut lines = vec![
        "### Generated code (informational)".to_owned(),
        String::new(),
        "| figure | value |".to_owned(),
        "|---|---:|".to_owned(),
        format!(
            "| lines in `crates/sailpoint-isc-api/src/generated/*.rs` ({} files) | {total} ({total_code} non-blank, non-`//`) |",
            files.len()
        ),
    ];
    let build_json = match &build {
        None => {
            lines.push(
                "| clean `cargo build -p sailpoint-isc` (dev profile) | skipped |".to_owned(),
            );
            json!({"skipped": true})
        }
        Some(Ok(seconds)) => {
            lines.push(format!(
                "| clean `cargo build -p sailpoint-isc` (dev profile, {} jobs) | {seconds:.1} s |",
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            ));
            json!({"skipped": false, "seconds": seconds, "profile": "dev", "command": "cargo build -p sailpoint-isc", "target_dir": "target/bench/clean-build"})
        }
        Some(Err(e)) => {
            lines.push(format!(
                "| clean `cargo build -p sailpoint-isc` | failed: {e} |"
            ));
            json!({"skipped": false, "error": e.to_string()})
        }
    };
    let json = json!({
        "generated_files": files.iter().map(|(name, lines, code)| json!({"file": name, "lines": lines, "code_lines": code})).collect::<Vec<_>>(),
        "generated_lines": total,
        "generated_code_lines": total_code,
        "clean_build": build_json,
    });
    Ok((json, lines))
}

fn time_clean_build(root: &Path, target: &Path) -> Result<f64> {
    if target.exists() {
        std::fs::remove_dir_all(target)
            .with_context(|| format!("cannot empty {}", target.display()))?;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!(
        "bench: clean build of sailpoint-isc into {} (this takes a while)...",
        target.display()
    );
    let started = Instant::now();
    let output = Command::new(cargo)
        .args(["build", "--quiet", "-p", "sailpoint-isc"])
        .env("CARGO_TARGET_DIR", target)
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .context("cannot run cargo")?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        anyhow::bail!(
            "cargo build failed ({}): {}",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        );
    }
    Ok(seconds)
}

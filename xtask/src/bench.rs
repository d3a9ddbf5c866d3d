//! `cargo xtask bench [--smoke] [options]`: runs the `sailpoint-isc-bench` binary.
//!
//! The xtask does not depend on the SDK crates (it must build even when the generated crate does
//! not, since it regenerates it): this only runs
//! `cargo run --release -p sailpoint-isc-bench -- <options>`.
//!
//! `--smoke` uses the dev profile instead, so that CI reuses the dependencies of its test build
//! rather than compiling everything again in release (pass `--release` to override; `--help`
//! does not build in release either). Every other
//! option goes to the bench binary (`cargo xtask bench --help` lists them).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Runs the bench binary with `args` (minus the xtask-only `--release`).
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let quick = args
        .iter()
        .any(|a| matches!(a.as_str(), "--smoke" | "-h" | "--help"));
    let release = !quick || args.iter().any(|a| a == "--release");
    let forwarded: Vec<&String> = args.iter().filter(|a| *a != "--release").collect();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root).arg("run");
    if release {
        command.arg("--release");
    }
    command
        .args(["-p", "sailpoint-isc-bench", "--"])
        .args(forwarded);
    eprintln!(
        "xtask: cargo run{} -p sailpoint-isc-bench -- {}",
        if release { " --release" } else { "" },
        args.iter()
            .filter(|a| *a != "--release")
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    );
    let status = command.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("the bench failed ({status})");
    }
    Ok(())
}

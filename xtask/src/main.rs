//! Workspace tasks: `cargo xtask generate [--check]`, `cargo xtask vendor ...`,
//! `cargo xtask version-check`, `cargo xtask bench`.
#![forbid(unsafe_code)]

mod apis_config;
mod bench;
mod generate;
mod http;
mod vendor;
mod version_check;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  generate [--check] [--quiet] [--root <dir>]
                                 regenerate crates/sailpoint-isc-api from openapi/*.yaml
                                 (--check: fail with a diff if the committed code differs;
                                 --root: another workspace, default this one)
  vendor --api <name> --from <spec> [--from <spec> ...] [--dry-run]
                                 extract the allowlisted operations of a published bundle
                                 (or of one or more split root files, merged) into
                                 openapi/<spec> and print the contract changelog
  version-check [--name v2099] [--like v2026] [--keep]
                                 prove a version is data: in a copy of the workspace, add a
                                 version as a vendored file and an apis.yaml entry, generate,
                                 build isc-aggregate and import with it against the sandbox
  bench [--smoke] [options]      run the benchmarks (release build; --smoke: quick dev-profile
                                 run for CI), write target/bench/report.json (--help: options)";

/// The workspace root (the xtask crate's parent directory).
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("generate") => generate::parse_args(&args[1..]).and_then(|a| {
            let root = a.root.clone().unwrap_or_else(|| root.clone());
            generate::run(&root, &a)
        }),
        Some("vendor") if args[1..].iter().any(|a| a == "-h" || a == "--help") => {
            println!("{}", vendor::USAGE);
            Ok(())
        }
        // `vendor` defaults its root to this workspace and honours `--root <dir>`.
        Some("vendor") => vendor::parse_args(&args[1..]).and_then(vendor::run),
        Some("bench") => bench::run(&root, &args[1..]),
        Some("version-check") if args[1..].iter().any(|a| a == "-h" || a == "--help") => {
            println!("{}", version_check::USAGE);
            Ok(())
        }
        Some("version-check") => {
            version_check::parse_args(&args[1..]).and_then(|a| version_check::run(&root, &a))
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

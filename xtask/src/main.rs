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

use clap::{Parser, Subcommand};

/// Workspace tasks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Regenerate crates/sailpoint-isc-api from openapi/*.yaml
    Generate(generate::GenerateArgs),
    /// Extract the allowlisted operations of published SailPoint documents into openapi/
    Vendor(vendor::VendorArgs),
    /// Prove a new API version is data (vendored file + apis.yaml entry → generate, build, import)
    VersionCheck(version_check::CheckArgs),
    /// Run the benchmarks (release build; `--smoke` for the quick CI run); options are passed to
    /// sailpoint-isc-bench (`cargo xtask bench --help`)
    #[command(disable_help_flag = true)]
    Bench {
        /// Options for sailpoint-isc-bench
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// The workspace root (the xtask crate's parent directory).
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let result = match cli.task {
        Task::Generate(args) => {
            let root = args.root.clone().unwrap_or_else(|| root.clone());
            generate::run(&root, &args)
        }
        Task::Vendor(args) => vendor::run(args),
        Task::VersionCheck(args) => version_check::run(&root, &args),
        Task::Bench { args } => bench::run(&root, &args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod cli_tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_valid() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "xtask", "vendor", "--api", "v1", "--from", "a.yaml", "--from", "b.yaml",
        ])
        .unwrap();
        match cli.task {
            Task::Vendor(v) => assert_eq!(v.from.len(), 2),
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["xtask", "vendor", "--api", "v1"]).is_err());
        let cli = Cli::try_parse_from(["xtask", "bench", "--smoke", "--only", "batch"]).unwrap();
        match cli.task {
            Task::Bench { args } => assert_eq!(args, ["--smoke", "--only", "batch"]),
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["xtask", "generate", "--bogus"]).is_err());
    }
}

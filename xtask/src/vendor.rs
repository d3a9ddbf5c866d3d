//! `cargo xtask vendor --api <name> --from <bundle or root> [--from <root> ...] [--dry-run] [--root <dir>]`
//!
//! Extracts the operations allowlisted for `<name>` in `openapi/apis.yaml` (and everything they
//! reference, nothing else) from a published OpenAPI bundle, or from one or more split root
//! files (SailPoint's per-resource v1 roots), into one self-contained document
//! `openapi/<spec>`, and prints the contract changelog against the previous version of that
//! file. `--dry-run` prints the changelog only. No published prose is copied (see
//! [`extract`]).
//!
//! - [`load`]: reading files, resolving `$ref`s across them;
//! - [`extract`]: the allowlisted closure, references rewritten to `#/components/…`;
//! - [`write`]: canonical key order, YAML text;
//! - [`changelog`]: contract differences between two vendored documents.

mod changelog;
mod extract;
mod load;
mod write;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde_yaml::Value;

use crate::apis_config::{ApiEntry, load_config};

/// Arguments of `cargo xtask vendor`: extract the allowlisted operations of a published bundle
/// (or of one or more split root files, merged) into `openapi/<spec>` and print the contract
/// changelog.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct VendorArgs {
    /// A published single-file bundle, or a split root file whose relative $refs are followed;
    /// repeat it to merge several roots (e.g. v1's sources, account-aggregations and
    /// task-management roots) into one document
    #[arg(long = "from", value_name = "SPEC", required = true)]
    pub from: Vec<PathBuf>,
    /// An entry of openapi/apis.yaml (its spec file, operation allowlist and operationId suffix)
    #[arg(long, value_name = "NAME")]
    pub api: String,
    /// Print the contract changelog, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Workspace root holding openapi/
    #[arg(long, value_name = "DIR", default_value_os_t = default_root())]
    pub root: PathBuf,
}

fn default_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Runs `cargo xtask vendor`: extracts, prints the changelog, writes `openapi/<spec>` unless
/// `dry_run`.
pub fn run(args: VendorArgs) -> Result<()> {
    let started = Instant::now();
    let config = load_config(&args.root)?;
    let entry = config.api(&args.api)?;
    let vendored = vendor_document(&args.from, entry)?;
    for w in &vendored.warnings {
        eprintln!("warning: {w}");
    }

    let out_path = entry.spec_path(&args.root);
    let shown = Path::new("openapi").join(&entry.spec);
    let previous_text = match std::fs::read_to_string(&out_path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", out_path.display())),
    };
    let previous: Option<Value> = previous_text
        .as_deref()
        .map(serde_yaml::from_str)
        .transpose()
        .with_context(|| format!("parsing the previous {}", shown.display()))?;
    let current: Value =
        serde_yaml::from_str(&vendored.text).context("re-reading the vendored document")?;

    match &previous {
        Some(_) => println!("contract changes in {}:", shown.display()),
        None => println!("{} does not exist yet; contract:", shown.display()),
    }
    let lines = changelog::changelog(&entry.name, previous.as_ref(), &current);
    if lines.is_empty() {
        println!("{}: no contract changes", entry.name);
    }
    for line in &lines {
        println!("{line}");
    }

    if args.dry_run {
        println!("dry run: {} not written", shown.display());
    } else if previous_text.as_deref() == Some(vendored.text.as_str()) {
        println!("{} is up to date", shown.display());
    } else {
        std::fs::write(&out_path, &vendored.text)
            .with_context(|| format!("writing {}", out_path.display()))?;
        println!("wrote {}", shown.display());
    }
    eprintln!("vendor {}: {:.2?}", entry.name, started.elapsed());
    Ok(())
}

/// A vendored document: its YAML text, and non-fatal notes.
#[derive(Debug)]
pub struct Vendored {
    /// The document, with its comment header.
    pub text: String,
    /// Non-fatal notes (e.g. identical components merged).
    pub warnings: Vec<String>,
}

/// Extracts `entry`'s allowlisted operations from the documents `from` and renders the
/// document.
pub fn vendor_document(from: &[PathBuf], entry: &ApiEntry) -> Result<Vendored> {
    let shown: Vec<String> = from.iter().map(|p| p.display().to_string()).collect();
    let (mut loader, roots) = load::Loader::open(from)?;
    let extracted = extract::extract(&mut loader, &roots, &entry.operation_ids())
        .with_context(|| format!("vendoring `{}` from {}", entry.name, shown.join(", ")))?;
    let sources: Vec<&str> = roots.iter().map(|r| loader.display(*r)).collect();
    let header = format!(
        "Vendored by `cargo xtask vendor --api {}` from {}.\n\
         Do not edit by hand. Operations: {}.\n\
         Published descriptions and summaries are left out; the facts are as published.",
        entry.name,
        sources.join(", "),
        entry.operation_ids().join(", ")
    );
    let text = write::to_yaml(&extracted.doc, &header)?;
    Ok(Vendored {
        text,
        warnings: extracted.warnings,
    })
}

#[cfg(test)]
mod tests;

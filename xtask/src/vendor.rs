//! `cargo xtask vendor --from <bundle or split root> --api <name> [--dry-run] [--root <dir>]`
//!
//! Extracts the operations allowlisted for `<name>` in `openapi/apis.yaml` (and everything they
//! reference, nothing else) from a published OpenAPI bundle or a split root file into one
//! self-contained document `openapi/<spec>`, and prints the contract changelog against the
//! previous version of that file. `--dry-run` prints the changelog only.
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

use anyhow::{Context, Result, bail};
use serde_yaml::Value;

use crate::apis_config::{ApiEntry, load_config};

pub const USAGE: &str = "\
usage: cargo xtask vendor --from <spec> --api <name> [--dry-run] [--root <dir>]

  --from <spec>  a published single-file bundle, or a split root file whose relative
                 $refs are followed (only what the allowlisted operations need)
  --api <name>   an entry of openapi/apis.yaml (its spec file and operation allowlist)
  --dry-run      print the contract changelog, write nothing
  --root <dir>   workspace root holding openapi/ (default: the xtask crate's parent)";

/// Arguments of `cargo xtask vendor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorArgs {
    /// The published bundle or split root file to read.
    pub from: PathBuf,
    /// Name of the `openapi/apis.yaml` entry.
    pub api: String,
    /// Print the changelog without writing.
    pub dry_run: bool,
    /// Workspace root (holds `openapi/apis.yaml` and the vendored documents).
    pub root: PathBuf,
}

/// Parses the arguments that follow `vendor`.
pub fn parse_args(args: &[String]) -> Result<VendorArgs> {
    let mut from = None;
    let mut api = None;
    let mut dry_run = false;
    let mut root = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String> {
            match inline.clone().or_else(|| it.next().cloned()) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => bail!("{name} needs a value\n\n{USAGE}"),
            }
        };
        match flag {
            "--from" => from = Some(PathBuf::from(value("--from")?)),
            "--api" => api = Some(value("--api")?),
            "--root" => root = Some(PathBuf::from(value("--root")?)),
            "--dry-run" if inline.is_none() => dry_run = true,
            "-h" | "--help" => bail!("{USAGE}"),
            other => bail!("unexpected argument `{other}`\n\n{USAGE}"),
        }
    }
    Ok(VendorArgs {
        from: from.with_context(|| format!("--from is required\n\n{USAGE}"))?,
        api: api.with_context(|| format!("--api is required\n\n{USAGE}"))?,
        dry_run,
        root: root.unwrap_or_else(default_root),
    })
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
    pub text: String,
    pub warnings: Vec<String>,
}

/// Extracts `entry`'s allowlisted operations from `from` and renders the document.
pub fn vendor_document(from: &Path, entry: &ApiEntry) -> Result<Vendored> {
    let (mut loader, root) = load::Loader::open(from)?;
    let extracted = extract::extract(&mut loader, root, &entry.operations)
        .with_context(|| format!("vendoring `{}` from {}", entry.name, from.display()))?;
    let source = from
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let header = format!(
        "Vendored by `cargo xtask vendor --api {}` from {source}.\n\
         Do not edit by hand; operations: {}.",
        entry.name,
        entry.operations.join(", ")
    );
    let text = write::to_yaml(&extracted.doc, &header)?;
    Ok(Vendored {
        text,
        warnings: extracted.warnings,
    })
}

#[cfg(test)]
mod tests;

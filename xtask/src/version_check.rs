//! `cargo xtask version-check [--name <version>] [--like <version>] [--keep]`: proves that an
//! API version is data.
//!
//! In a copy of the workspace (without `target/` and `.git`) it adds a version nobody wrote
//! code for — the vendored spec of `--like` (default `v2026`) under a new name (default
//! `v2099`, servers path rewritten to `/<name>` when the base path comes from the servers), plus
//! one `openapi/apis.yaml` entry — then runs `cargo xtask generate --root <copy>`, builds
//! `isc-aggregate` in the copy and runs
//! `isc-aggregate --sandbox --api <name> import <id> --file examples/accounts.csv --wait`.
//!
//! The build uses this workspace's `target/` (`CARGO_TARGET_DIR`), so dependencies are reused;
//! the workspace crates themselves are built again from the copy (always at the same temporary
//! path, so repeated checks reuse those artifacts too). Cargo would leave the copy's
//! `isc-aggregate` at `target/debug/isc-aggregate`, where this workspace's own (fresh, so never
//! re-linked) build expects its binary: the check runs a copy of the new binary and puts the
//! workspace's back. The generator runs from this workspace (`--root`), never built from the
//! copy, for the same reason.
//!
//! Every step is printed with its duration; the first failing step ends the check with an
//! error naming it, and the copy is kept for inspection.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::apis_config::{self, ApiEntry, CONFIG_PATH};

/// The CSV the check imports, relative to the workspace root.
const ACCOUNTS_CSV: &str = "examples/accounts.csv";
/// The source id the check imports into (the sandbox accepts any id).
const SOURCE_ID: &str = "version-check-source";

/// Arguments of `cargo xtask version-check`: prove a version is data — in a copy of the
/// workspace, add a version as a vendored file and an apis.yaml entry, generate, build
/// isc-aggregate and import with it against the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct CheckArgs {
    /// The version to add (must not exist yet)
    #[arg(long, value_name = "VERSION", default_value = "v2099")]
    pub name: String,
    /// The existing version whose vendored spec it copies
    #[arg(long, value_name = "VERSION", default_value = "v2026")]
    pub like: String,
    /// Keep the temporary copy of the workspace (it is kept anyway on failure)
    #[arg(long)]
    pub keep: bool,
}

/// Runs the check from the workspace at `root`.
pub fn run(root: &Path, args: &CheckArgs) -> Result<()> {
    let started = Instant::now();
    let config = apis_config::load_config(root)?;
    let like = config.api(&args.like)?.clone();
    if config.api(&args.name).is_ok() {
        bail!(
            "`{}` is already in {CONFIG_PATH}; choose a new name with --name",
            args.name
        );
    }
    // A fixed path: the copy's crates keep the same package ids, so repeated checks rebuild
    // them in place instead of adding new artifacts to target/ every time.
    let scratch = std::env::temp_dir().join(format!("xtask-version-check-{}", args.name));
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));

    step(&format!(
        "copy the workspace to {} (without target/ and .git)",
        scratch.display()
    ));
    let t = Instant::now();
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("removing an old {}", scratch.display()))?;
    }
    let copied = copy_workspace(root, &scratch)?;
    done(t, &format!("{copied} files"));

    let result = check_in(root, &scratch, &target_dir, &like, args);
    match &result {
        Ok(()) if !args.keep => {
            std::fs::remove_dir_all(&scratch)
                .with_context(|| format!("removing {}", scratch.display()))?;
        }
        _ => eprintln!("version-check: the copy is kept at {}", scratch.display()),
    }
    result?;
    eprintln!(
        "\nversion-check: passed in {:.1?}: `{}` was added as data (a vendored file and an apis.yaml entry) and `isc-aggregate --api {}` imported and completed against the sandbox",
        started.elapsed(),
        args.name,
        args.name
    );
    Ok(())
}

/// The steps after the copy, in the copy at `scratch`.
fn check_in(
    root: &Path,
    scratch: &Path,
    target_dir: &Path,
    like: &ApiEntry,
    args: &CheckArgs,
) -> Result<()> {
    let name = &args.name;

    step(&format!(
        "add `{name}`: openapi/{} copied to openapi/{name}.yaml, one entry appended to {CONFIG_PATH}",
        like.spec
    ));
    let t = Instant::now();
    let base = add_version(scratch, like, name)?;
    apis_config::load_config(scratch)
        .with_context(|| format!("the extended {CONFIG_PATH} is not valid"))?
        .api(name)?;
    done(t, &base);

    let cargo: OsString = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = target_dir.display().to_string();

    let shown_root = scratch.display().to_string();
    step(&format!("cargo xtask generate --root {shown_root}"));
    let t = Instant::now();
    let mut generate = Command::new(&cargo);
    generate
        .current_dir(root)
        .args(["xtask", "generate", "--quiet", "--root"])
        .arg(scratch)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    run_step("cargo xtask generate", &mut generate)?;
    let module = scratch
        .join(crate::generate::GENERATED_DIR)
        .join(format!("{}.rs", entry_module(scratch, name)?));
    if !module.is_file() {
        bail!(
            "step `cargo xtask generate` did not write {}",
            module.display()
        );
    }
    done(t, &format!("wrote {}", rel(scratch, &module)));

    step(&format!(
        "cargo build -p sailpoint-isc-cli --bin isc-aggregate (in the copy, CARGO_TARGET_DIR={target})"
    ));
    let t = Instant::now();
    let exe = format!("isc-aggregate{}", std::env::consts::EXE_SUFFIX);
    let uplifted = target_dir.join("debug").join(&exe);
    let kept = Uplifted::keep(&[uplifted.clone(), target_dir.join("debug/isc-aggregate.d")])?;
    let built = run_step(
        "cargo build -p sailpoint-isc-cli",
        cargo_command(&cargo, scratch, target_dir)
            .args(["build", "-p", "sailpoint-isc-cli", "--bin", "isc-aggregate"])
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit()),
    );
    let binary = scratch.join("bin").join(&exe);
    let copied = built.and_then(|()| {
        std::fs::create_dir_all(scratch.join("bin"))?;
        std::fs::copy(&uplifted, &binary)
            .with_context(|| format!("copying the new {}", uplifted.display()))?;
        Ok(())
    });
    kept.restore()?;
    copied?;
    done(
        t,
        &format!(
            "{} (copied from {})",
            rel(scratch, &binary),
            uplifted.display()
        ),
    );

    let cli_args = [
        "--sandbox",
        "--api",
        name.as_str(),
        "-v",
        "import",
        SOURCE_ID,
        "--file",
        ACCOUNTS_CSV,
        "--wait",
    ];
    step(&format!("isc-aggregate {}", cli_args.join(" ")));
    let t = Instant::now();
    let output: Output = Command::new(&binary)
        .current_dir(scratch)
        .args(cli_args)
        .env_remove("SAIL_BASE_URL")
        .env_remove("SAIL_CLIENT_ID")
        .env_remove("SAIL_CLIENT_SECRET")
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stdout.lines() {
        eprintln!("  | {line}");
    }
    for line in stderr.lines() {
        eprintln!("  ! {line}");
    }
    if !output.status.success() {
        bail!(
            "step `isc-aggregate {}` failed ({}): the CLI could not import with the generated-only version `{name}` (output above)",
            cli_args.join(" "),
            output.status
        );
    }
    let seen = [format!("/{name}/"), format!("api_version={name}")];
    if !seen
        .iter()
        .any(|s| stdout.contains(s.as_str()) || stderr.contains(s.as_str()))
    {
        eprintln!(
            "  note: the CLI's log does not mention `{}` or `{}`; the exit status says the import completed",
            seen[0], seen[1]
        );
    }
    done(t, "exit status 0: the aggregation completed");
    Ok(())
}

/// Files cargo links into `target/debug/` that a build in the copy replaces: kept aside before
/// the build and put back after it (a build of this workspace that finds its crates fresh does
/// not link them again).
struct Uplifted {
    /// Each file, and where it was kept (`None`: it did not exist).
    files: Vec<(PathBuf, Option<PathBuf>)>,
}

impl Uplifted {
    fn keep(files: &[PathBuf]) -> Result<Uplifted> {
        let mut kept = Vec::with_capacity(files.len());
        for file in files {
            if file.exists() {
                let mut aside = file.clone().into_os_string();
                aside.push(".version-check-kept");
                let aside = PathBuf::from(aside);
                let _ = std::fs::remove_file(&aside);
                std::fs::copy(file, &aside).with_context(|| {
                    format!("keeping {} aside as {}", file.display(), aside.display())
                })?;
                kept.push((file.clone(), Some(aside)));
            } else {
                kept.push((file.clone(), None));
            }
        }
        Ok(Uplifted { files: kept })
    }

    /// Puts the kept files back (or removes what the copy's build created where there was
    /// nothing).
    fn restore(self) -> Result<()> {
        for (file, aside) in self.files {
            match aside {
                Some(aside) => {
                    let _ = std::fs::remove_file(&file);
                    std::fs::rename(&aside, &file).with_context(|| {
                        format!("putting {} back from {}", file.display(), aside.display())
                    })?;
                }
                None => {
                    let _ = std::fs::remove_file(&file);
                }
            }
        }
        Ok(())
    }
}

/// A `cargo` command run in `dir` with the given target directory.
fn cargo_command(cargo: &OsString, dir: &Path, target_dir: &Path) -> Command {
    let mut command = Command::new(cargo);
    command
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir)
        // This process runs under `cargo run`; its package variables are not the copy's.
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_PKG_NAME")
        .env_remove("CARGO_PRIMARY_PACKAGE");
    command
}

/// Runs a step's command; a failure names the step and its exit status.
fn run_step(what: &str, command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("step `{what}`: cannot start the command"))?;
    if !status.success() {
        bail!("step `{what}` failed ({status}); its output is above");
    }
    Ok(())
}

/// The module of the entry named `name` in the copy's configuration.
fn entry_module(root: &Path, name: &str) -> Result<String> {
    Ok(apis_config::load_config(root)?.api(name)?.module.clone())
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn step(what: &str) {
    eprintln!("\nversion-check: {what}");
}

fn done(started: Instant, what: &str) {
    eprintln!("version-check:   ok ({:.1?}): {what}", started.elapsed());
}

/// Copies `root` to `to`, leaving out the top-level `target/` and `.git`. Returns the number
/// of files copied.
pub fn copy_workspace(root: &Path, to: &Path) -> Result<usize> {
    fn copy_dir(from: &Path, to: &Path, top: bool, count: &mut usize) -> Result<()> {
        std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
        let mut entries: Vec<_> = std::fs::read_dir(from)
            .with_context(|| format!("reading {}", from.display()))?
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("reading {}", from.display()))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            if top && (name == "target" || name == ".git") {
                continue;
            }
            let path = entry.path();
            let meta =
                std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
            let dest = to.join(&name);
            if meta.is_dir() {
                copy_dir(&path, &dest, false, count)?;
            } else if meta.is_file() {
                std::fs::copy(&path, &dest)
                    .with_context(|| format!("copying {} to {}", path.display(), dest.display()))?;
                *count += 1;
            }
        }
        Ok(())
    }
    let mut count = 0;
    copy_dir(root, to, true, &mut count)?;
    Ok(count)
}

/// Adds version `name` to the workspace at `root`: `like`'s vendored spec under a new file
/// name (its servers path `/<like>` rewritten to `/<name>` when the base path is derived from
/// the servers and is `/<like>`), and an `apis.yaml` entry with `like`'s operations, aliases
/// and suffix. Returns what it did with the base path.
pub fn add_version(root: &Path, like: &ApiEntry, name: &str) -> Result<String> {
    let module = name.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    let spec_file = format!("{name}.yaml");
    let from = like.spec_path(root);
    let text =
        std::fs::read_to_string(&from).with_context(|| format!("reading {}", from.display()))?;
    let (text, base) = match &like.base_path {
        Some(base) => (
            text,
            format!("base path {base:?}, as configured for {}", like.name),
        ),
        None => match rewrite_server_paths(&text, &like.name, name) {
            Some(rewritten) => (rewritten, format!("servers path rewritten to /{name}")),
            None => (
                text,
                format!(
                    "servers kept: {}'s servers have no /{} path, so the base path is the same",
                    like.name, like.name
                ),
            ),
        },
    };
    let to = root.join("openapi").join(&spec_file);
    std::fs::write(&to, text).with_context(|| format!("writing {}", to.display()))?;

    let config_path = root.join(CONFIG_PATH);
    let mut config = std::fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    if !config.ends_with('\n') {
        config.push('\n');
    }
    config.push_str(&format!(
        "  # Added by `cargo xtask version-check`: {name} is {} under another name.\n  - name: {name}\n    spec: {spec_file}\n    module: {module}\n",
        like.name
    ));
    if !like.operation_suffix.is_empty() {
        config.push_str(&format!(
            "    operation_suffix: {}\n",
            like.operation_suffix
        ));
    }
    if let Some(base) = &like.base_path {
        config.push_str(&format!("    base_path: {base:?}\n"));
    }
    config.push_str("    operations:\n");
    for op in &like.operations {
        match like.aliases.get(op) {
            Some(id) => {
                config.push_str(&format!("      - name: {op}\n        operation_id: {id}\n"))
            }
            None => config.push_str(&format!("      - {op}\n")),
        }
    }
    apis_config::parse_config(&config)
        .with_context(|| format!("the extended {CONFIG_PATH} is not valid"))?;
    std::fs::write(&config_path, config)
        .with_context(|| format!("writing {}", config_path.display()))?;
    Ok(base)
}

/// Rewrites the `/<from>` path of every `url:` line of the document's top-level `servers` to
/// `/<to>`; `None` if no server URL ends in `/<from>`.
fn rewrite_server_paths(text: &str, from: &str, to: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_servers = false;
    let mut rewritten = 0;
    let suffix = format!("/{from}");
    for line in text.lines() {
        if !line.starts_with([' ', '-']) && !line.starts_with('#') {
            in_servers = line.starts_with("servers:");
        }
        let trimmed = line.trim_start_matches([' ', '-']).trim_start();
        if in_servers
            && let Some(url) = trimmed.strip_prefix("url: ")
            && let Some(base) = url.trim_matches(['\'', '"']).strip_suffix(&suffix)
        {
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(&format!("{indent}url: {base}/{to}\n"));
            rewritten += 1;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    (rewritten > 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_arguments() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: CheckArgs,
        }
        let parse = |s: &[&str]| {
            Cli::try_parse_from(std::iter::once("version-check").chain(s.iter().copied()))
                .map(|c| c.args)
        };
        assert_eq!(
            parse(&[]).unwrap(),
            CheckArgs {
                name: "v2099".into(),
                like: "v2026".into(),
                keep: false
            }
        );
        let parsed = parse(&["--name", "v3000", "--like", "v1", "--keep"]).unwrap();
        assert_eq!(
            (parsed.name.as_str(), parsed.like.as_str()),
            ("v3000", "v1")
        );
        assert!(parsed.keep);
        assert!(parse(&["--name"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }

    #[test]
    fn server_paths_are_rewritten_only_in_servers() {
        let text = "openapi: 3.0.1\ninfo:\n  version: v2026\nservers:\n- url: https://{tenant}.api.identitynow.com/v2026\n  variables:\n    tenant:\n      default: x\n- url: https://{apiUrl}/v2026\npaths:\n  /x:\n    get:\n      servers:\n      - url: https://other/v2026\n";
        let out = rewrite_server_paths(text, "v2026", "v2099").unwrap();
        assert!(out.contains("- url: https://{tenant}.api.identitynow.com/v2099\n"));
        assert!(out.contains("- url: https://{apiUrl}/v2099\n"));
        // Only the document's servers, not an operation's.
        assert!(out.contains("      - url: https://other/v2026\n"));
        assert!(out.contains("  version: v2026\n"));
        assert_eq!(
            rewrite_server_paths("servers:\n- url: https://a/b\n", "v2026", "v2099"),
            None
        );
    }

    /// Adding a version to a copy of the workspace's openapi/ gives a valid configuration whose
    /// new entry generates a module with the new base path and the same operations.
    #[test]
    fn an_added_version_generates_like_the_one_it_copies() {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let root =
            std::env::temp_dir().join(format!("xtask-version-check-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        copy_workspace(&workspace.join("openapi"), &root.join("openapi")).unwrap();
        let config = apis_config::load_config(&root).unwrap();
        let base = add_version(&root, config.api("v2026").unwrap(), "v2099").unwrap();
        assert_eq!(base, "servers path rewritten to /v2099");
        let base = add_version(&root, config.api("v1").unwrap(), "v9-x").unwrap();
        assert!(base.starts_with("servers kept"), "{base}");
        let base = add_version(&root, config.api("beta").unwrap(), "beta2").unwrap();
        assert_eq!(base, "servers path rewritten to /beta2");
        let config = apis_config::load_config(&root).unwrap();
        let names: Vec<&str> = config.apis.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            ["beta", "v2025", "v2026", "v1", "v2099", "v9-x", "beta2"]
        );
        // The copy keeps beta's aliases.
        assert_eq!(
            config.api("beta2").unwrap().aliases,
            config.api("beta").unwrap().aliases
        );
        assert_eq!(config.api("v9-x").unwrap().module, "v9_x");
        assert_eq!(config.api("v9-x").unwrap().operation_suffix, "V1");
        assert!(!config.api("v2099").unwrap().default);

        let files = crate::generate::generate_files(&root, &mut |_| {}).unwrap();
        let text = |name: &str| {
            files
                .iter()
                .find(|f| f.path.ends_with(name))
                .map(|f| f.contents.clone())
                .unwrap()
        };
        let v2099 = text("v2099.rs");
        assert!(v2099.contains("    name: \"v2099\",\n    module: \"v2099\",\n    base_path: \"/v2099\",\n    default: false,"));
        assert!(v2099.contains("path: \"/sources/{id}/load-accounts\","));
        let v9 = text("v9_x.rs");
        assert!(
            v9.contains("    base_path: \"\",\n"),
            "derived from v1's servers"
        );
        assert!(v9.contains("operation_id: \"importAccountsV1\","));
        let beta2 = text("beta2.rs");
        assert!(beta2.contains("operation_id: \"getSourceAccountsSchema\","));
        assert!(beta2.contains("pub async fn get_accounts_schema<'a>("));
        let module = text("mod.rs");
        assert!(module.contains("pub const V2099: Self = Self::from_spec(&v2099::API);"));
        assert!(module.contains("pub const V9_X: Self = Self::from_spec(&v9_x::API);"));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn linked_files_are_put_back_after_the_build() {
        let dir = std::env::temp_dir().join(format!("xtask-uplifted-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("isc-aggregate");
        let dep_info = dir.join("isc-aggregate.d");
        let absent = dir.join("other");
        std::fs::write(&bin, "workspace binary").unwrap();
        std::fs::write(&dep_info, "workspace dep-info").unwrap();
        let kept = Uplifted::keep(&[bin.clone(), dep_info.clone(), absent.clone()]).unwrap();
        // What a build in the copy does.
        std::fs::write(&bin, "copy binary").unwrap();
        std::fs::write(&dep_info, "copy dep-info").unwrap();
        std::fs::write(&absent, "copy only").unwrap();
        kept.restore().unwrap();
        assert_eq!(std::fs::read_to_string(&bin).unwrap(), "workspace binary");
        assert_eq!(
            std::fs::read_to_string(&dep_info).unwrap(),
            "workspace dep-info"
        );
        assert!(!absent.exists());
        let mut left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["isc-aggregate", "isc-aggregate.d"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_copy_leaves_out_target_and_git() {
        let from = std::env::temp_dir().join(format!("xtask-copy-from-{}", std::process::id()));
        let to = std::env::temp_dir().join(format!("xtask-copy-to-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&from);
        let _ = std::fs::remove_dir_all(&to);
        for f in [
            "Cargo.toml",
            "target/debug/x",
            ".git/HEAD",
            "crates/a/target/kept.txt",
            ".cargo/config.toml",
        ] {
            let p = from.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, f).unwrap();
        }
        assert_eq!(copy_workspace(&from, &to).unwrap(), 3);
        assert!(to.join("Cargo.toml").is_file());
        assert!(to.join(".cargo/config.toml").is_file());
        assert!(to.join("crates/a/target/kept.txt").is_file());
        assert!(!to.join("target").exists());
        assert!(!to.join(".git").exists());
        std::fs::remove_dir_all(from).unwrap();
        std::fs::remove_dir_all(to).unwrap();
    }
}

//! `cargo xtask generate [--check]`: regenerates `crates/sailpoint-isc-api/src/generated/`
//! from the vendored specs listed in `openapi/apis.yaml`.

pub mod emit;
pub mod normalize;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::apis_config::load_config;

/// Where the generated modules go, relative to the workspace root.
pub const GENERATED_DIR: &str = "crates/sailpoint-isc-api/src/generated";

/// Options of `cargo xtask generate`.
#[derive(Debug, Default)]
pub struct GenerateArgs {
    /// Compare with the committed files instead of writing them.
    pub check: bool,
    /// Print no rewrite log.
    pub quiet: bool,
}

/// Parses the arguments after `generate`.
pub fn parse_args(args: &[String]) -> Result<GenerateArgs> {
    let mut out = GenerateArgs::default();
    for a in args {
        match a.as_str() {
            "--check" => out.check = true,
            "--quiet" | "-q" => out.quiet = true,
            other => bail!("unknown argument to generate: {other} (expected --check, --quiet)"),
        }
    }
    Ok(out)
}

/// One file the generator produces.
pub struct GeneratedFile {
    pub path: PathBuf,
    pub contents: String,
}

/// Produces every generated file from the specs under `root/openapi`, logging rewrites.
pub fn generate_files(root: &Path, log: &mut dyn FnMut(&str)) -> Result<Vec<GeneratedFile>> {
    let config = load_config(root)?;
    let dir = root.join(GENERATED_DIR);
    let mut files = Vec::new();
    let mut modules = Vec::new();
    for api in &config.apis {
        let spec_path = api.spec_path(root);
        let text = std::fs::read_to_string(&spec_path)
            .with_context(|| format!("reading {}", spec_path.display()))?;
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text)
            .with_context(|| format!("parsing {}", spec_path.display()))?;
        let json = normalize::yaml_to_json(yaml)?;
        let title = json
            .pointer("/info/title")
            .and_then(|t| t.as_str())
            .unwrap_or(&api.name)
            .to_string();
        let norm = normalize::normalize(&api.name, json)?;
        for r in &norm.rewrites {
            log(&format!("rewrite {}: {} ({})", r.location, r.what, r.why));
        }
        let source = emit::module_source(&api.name, &api.spec, &norm)?;
        files.push(GeneratedFile {
            path: dir.join(format!("{}.rs", api.module)),
            contents: source,
        });
        modules.push((
            api.module.clone(),
            format!("{title} (`openapi/{}`).", api.spec),
        ));
    }
    files.push(GeneratedFile {
        path: dir.join("mod.rs"),
        contents: emit::mod_source(&modules)?,
    });
    Ok(files)
}

/// Runs `generate`: writes the files, or with `--check` fails with a diff if they differ.
pub fn run(root: &Path, args: &GenerateArgs) -> Result<()> {
    let quiet = args.quiet || args.check;
    let files = generate_files(root, &mut |line| {
        if !quiet {
            eprintln!("{line}");
        }
    })?;
    let dir = root.join(GENERATED_DIR);
    let expected: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
    let stale: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| !expected.contains(&p.as_path()))
                .collect()
        })
        .unwrap_or_default();

    if args.check {
        let mut drift = false;
        for f in &files {
            let current = std::fs::read_to_string(&f.path).unwrap_or_default();
            if current != f.contents {
                drift = true;
                let rel = f
                    .path
                    .strip_prefix(root)
                    .unwrap_or(&f.path)
                    .display()
                    .to_string();
                let diff = similar::TextDiff::from_lines(&current, &f.contents);
                print!(
                    "{}",
                    diff.unified_diff().context_radius(3).header(
                        &format!("a/{rel} (committed)"),
                        &format!("b/{rel} (from the specs)")
                    )
                );
            }
        }
        for p in &stale {
            drift = true;
            println!("stale generated file: {}", p.display());
        }
        if drift {
            return Err(anyhow!(
                "generated code is out of date with openapi/: run `cargo xtask generate` and commit the result"
            ));
        }
        eprintln!("generated code is up to date ({} files)", files.len());
        return Ok(());
    }

    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for f in &files {
        let current = std::fs::read_to_string(&f.path).unwrap_or_default();
        if current != f.contents {
            std::fs::write(&f.path, &f.contents)
                .with_context(|| format!("writing {}", f.path.display()))?;
            eprintln!(
                "wrote {}",
                f.path.strip_prefix(root).unwrap_or(&f.path).display()
            );
        }
    }
    for p in stale {
        std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        eprintln!("removed stale {}", p.display());
    }
    Ok(())
}

//! `cargo xtask generate [--check]`: regenerates `crates/sailpoint-isc-api/src/generated/`
//! from the vendored specs listed in `openapi/apis.yaml`.

pub mod emit;
pub mod normalize;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

use crate::apis_config::load_config;

/// Where the generated modules go, relative to the workspace root.
pub const GENERATED_DIR: &str = "crates/sailpoint-isc-api/src/generated";

/// Options of `cargo xtask generate`: regenerate crates/sailpoint-isc-api from openapi/*.yaml.
#[derive(Debug, Default, clap::Args)]
pub struct GenerateArgs {
    /// Compare with the committed files instead of writing them (fail with a diff)
    #[arg(long)]
    pub check: bool,
    /// Print no rewrite log
    #[arg(long, short)]
    pub quiet: bool,
    /// Workspace root to generate in (default: this workspace)
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

/// One file the generator produces.
pub struct GeneratedFile {
    /// Where it goes.
    pub path: PathBuf,
    /// Its full text.
    pub contents: String,
}

/// The base path of a version: the configured one, or the path of the spec's
/// `servers[0].url` (`https://{tenant}.api.identitynow.com/beta` → `/beta`, no path → `""`).
pub fn base_path(configured: Option<&str>, spec: &serde_json::Value) -> Result<String> {
    if let Some(path) = configured {
        return Ok(path.to_owned());
    }
    let url = spec
        .pointer("/servers/0/url")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| {
            anyhow!(
                "the spec has no servers[0].url to derive the base path from; set `base_path` in {}",
                crate::apis_config::CONFIG_PATH
            )
        })?;
    let after_scheme = match url.split_once("://") {
        Some((_, rest)) => rest,
        None => url,
    };
    let path = match after_scheme.find('/') {
        Some(i) => &after_scheme[i..],
        None => "",
    };
    let path = path
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    crate::apis_config::check_base_path(path).with_context(|| {
        format!(
            "servers[0].url `{url}`: set `base_path` in {}",
            crate::apis_config::CONFIG_PATH
        )
    })?;
    Ok(path.to_owned())
}

/// Produces every generated file from the specs under `root/openapi`, logging rewrites.
pub fn generate_files(root: &Path, log: &mut dyn FnMut(&str)) -> Result<Vec<GeneratedFile>> {
    let config = load_config(root)?;
    let dir = root.join(GENERATED_DIR);
    let mut files = Vec::new();
    let mut base_paths = Vec::with_capacity(config.apis.len());
    for api in &config.apis {
        let spec_path = api.spec_path(root);
        let text = std::fs::read_to_string(&spec_path)
            .with_context(|| format!("reading {}", spec_path.display()))?;
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text)
            .with_context(|| format!("parsing {}", spec_path.display()))?;
        let json = normalize::yaml_to_json(yaml)?;
        let base = base_path(api.base_path.as_deref(), &json)
            .with_context(|| format!("{}: base path", api.name))?;
        let norm = normalize::normalize(&api.name, &api.operation_names(), json)?;
        for r in &norm.rewrites {
            log(&format!("rewrite {}: {} ({})", r.location, r.what, r.why));
        }
        let version = emit::VersionInfo {
            name: &api.name,
            module: &api.module,
            spec_file: &api.spec,
            base_path: &base,
            default: api.default,
        };
        let source = emit::module_source(&version, &norm)?;
        files.push(GeneratedFile {
            path: dir.join(format!("{}.rs", api.module)),
            contents: source,
        });
        base_paths.push(base);
    }
    let versions: Vec<emit::VersionInfo<'_>> = config
        .apis
        .iter()
        .zip(&base_paths)
        .map(|(api, base)| emit::VersionInfo {
            name: &api.name,
            module: &api.module,
            spec_file: &api.spec,
            base_path: base,
            default: api.default,
        })
        .collect();
    files.push(GeneratedFile {
        path: dir.join("mod.rs"),
        contents: emit::mod_source(&versions)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf()
    }

    /// A scratch workspace root holding a copy of `openapi/` and the generated files.
    fn scratch_root(name: &str) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("xtask-generate-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("openapi")).unwrap();
        std::fs::create_dir_all(root.join(GENERATED_DIR)).unwrap();
        for entry in std::fs::read_dir(workspace().join("openapi")).unwrap() {
            let p = entry.unwrap().path();
            std::fs::copy(&p, root.join("openapi").join(p.file_name().unwrap())).unwrap();
        }
        for entry in std::fs::read_dir(workspace().join(GENERATED_DIR)).unwrap() {
            let p = entry.unwrap().path();
            std::fs::copy(&p, root.join(GENERATED_DIR).join(p.file_name().unwrap())).unwrap();
        }
        root
    }

    fn one_op_spec(op: &str) -> String {
        format!(
            "openapi: 3.0.1\ninfo: {{title: T, version: v1}}\npaths:\n  /things/{{id}}:\n{op}\ncomponents:\n  schemas:\n    Thing:\n      type: object\n      properties:\n        name: {{type: string}}\n"
        )
    }

    fn generate_one(spec: &str) -> Result<String> {
        let json = normalize::yaml_to_json(serde_yaml::from_str(spec)?)?;
        let norm = normalize::normalize("test", &normalize::OperationNames::default(), json)?;
        let version = emit::VersionInfo {
            name: "test",
            module: "test",
            spec_file: "test.yaml",
            base_path: "",
            default: true,
        };
        emit::module_source(&version, &norm)
    }

    /// The normalised facts of one workspace version, and its base path.
    fn workspace_facts(name: &str) -> (Vec<normalize::OperationFacts>, String) {
        let config = load_config(&workspace()).unwrap();
        let api = config.api(name).unwrap();
        let text = std::fs::read_to_string(api.spec_path(&workspace())).unwrap();
        let json = normalize::yaml_to_json(serde_yaml::from_str(&text).unwrap()).unwrap();
        let base = base_path(api.base_path.as_deref(), &json).unwrap();
        let norm = normalize::normalize(&api.name, &api.operation_names(), json).unwrap();
        (norm.operations, base)
    }

    #[test]
    fn data_table_of_every_version() {
        let expected_base = [
            ("beta", "/beta", ""),
            ("v2025", "/v2025", ""),
            ("v2026", "/v2026", ""),
            ("v1", "", "V1"),
        ];
        for (name, base, suffix) in expected_base {
            let (ops, got_base) = workspace_facts(name);
            assert_eq!(got_base, base, "{name}");
            let mut names: Vec<&str> = ops.iter().map(|o| o.name.as_str()).collect();
            names.sort_unstable();
            assert_eq!(
                names,
                [
                    "getAccountAggregationStatus",
                    "getAccountsSchema",
                    "getEntitlementsSchema",
                    "getSourceSchemas",
                    "getTaskStatus",
                    "getTaskStatusList",
                    "importAccounts",
                    "importEntitlements",
                    "listSources"
                ],
                "{name}"
            );
            for o in &ops {
                // beta names the schema headers otherwise (apis.yaml aliases them).
                let id = match (name, o.name.as_str()) {
                    ("beta", "getAccountsSchema") => "getSourceAccountsSchema".to_owned(),
                    ("beta", "getEntitlementsSchema") => "getSourceEntitlementsSchema".to_owned(),
                    _ => format!("{}{suffix}", o.name),
                };
                assert_eq!(o.operation_id, id, "{name}");
                // At the vendored commit no operation of ours is experimental.
                assert!(!o.experimental, "{name} {}", o.name);
                let success = o.success.as_ref().unwrap();
                let status = if o.name.starts_with("import") {
                    202
                } else {
                    200
                };
                assert_eq!(success.status, status, "{name} {}", o.name);
                let mut sorted = success.properties.clone();
                sorted.sort();
                assert_eq!(success.properties, sorted, "{name} {}", o.name);
                // The schema headers answer CSV text: no JSON properties.
                let csv = o.name.ends_with("sSchema");
                let media = if csv { "text/csv" } else { "application/json" };
                assert_eq!(success.media_type, media, "{name} {}", o.name);
                assert_eq!(success.properties.is_empty(), csv, "{name} {}", o.name);
            }
            let op = |n: &str| ops.iter().find(|o| o.name == n).unwrap();
            assert_eq!(
                op("importAccounts").success.as_ref().unwrap().properties,
                ["success", "task"]
            );
            // Entitlement loads answer a flat task, not `{success, task}`.
            let flat = &op("importEntitlements")
                .success
                .as_ref()
                .unwrap()
                .properties;
            for field in ["created", "id", "returns", "type"] {
                assert!(flat.iter().any(|p| p == field), "{name}: {flat:?}");
            }
            assert!(!flat.iter().any(|p| p == "task"), "{name}: {flat:?}");
            let schemas = &op("getSourceSchemas").success.as_ref().unwrap().properties;
            for field in ["attributes", "identityAttribute", "name"] {
                assert!(schemas.iter().any(|p| p == field), "{name}: {schemas:?}");
            }
            // A list: the properties of its items.
            let list = &op("getTaskStatusList").success.as_ref().unwrap().properties;
            assert!(
                list.iter().any(|p| p == "completionStatus") && list.iter().any(|p| p == "id"),
                "{name}: {list:?}"
            );
            // getTaskStatus documents 403 and 404 without a body (trap T12).
            let bodyless: Vec<u16> = op("getTaskStatus")
                .errors
                .iter()
                .filter(|e| e.type_name.is_none())
                .map(|e| e.status)
                .collect();
            assert_eq!(bodyless, [403, 404], "{name}");
        }
        let (v1, _) = workspace_facts("v1");
        let import = v1.iter().find(|o| o.name == "importAccounts").unwrap();
        assert_eq!(
            (import.method.as_str(), import.path.as_str()),
            ("POST", "/sources/v1/{id}/load-accounts")
        );
        let (beta, _) = workspace_facts("beta");
        let import = beta.iter().find(|o| o.name == "importAccounts").unwrap();
        assert_eq!(import.path, "/sources/{sourceId}/load-accounts");
        let header = beta.iter().find(|o| o.name == "getAccountsSchema").unwrap();
        assert_eq!(
            (header.method.as_str(), header.path.as_str()),
            ("GET", "/sources/{sourceId}/schemas/accounts")
        );
        let (v2025, _) = workspace_facts("v2025");
        let header = v2025
            .iter()
            .find(|o| o.name == "getEntitlementsSchema")
            .unwrap();
        assert_eq!(header.path, "/sources/{id}/schemas/entitlements");
        let (v2026, _) = workspace_facts("v2026");
        let status = v2026
            .iter()
            .find(|o| o.name == "getAccountAggregationStatus")
            .unwrap();
        assert_eq!(
            status.success.as_ref().unwrap().properties,
            [
                "deletedAccounts",
                "processedAccounts",
                "processedIdentities",
                "start",
                "status",
                "totalAccounts",
                "totalAccountsMarkedForDeletion",
                "totalIdentities"
            ]
        );
    }

    #[test]
    fn emitted_data_table_has_the_runtime_shape() {
        let files = generate_files(&workspace(), &mut |_| {}).unwrap();
        let file = |name: &str| {
            &files
                .iter()
                .find(|f| f.path.ends_with(name))
                .unwrap()
                .contents
        };
        let v1 = file("v1.rs");
        for expected in [
            "pub const OPERATIONS: &[crate::Operation] = &[",
            "        crate::Operation {\n            name: \"importAccounts\",\n            operation_id: \"importAccountsV1\",\n            rust_name: \"import_accounts\",\n            method: \"POST\",\n            path: \"/sources/v1/{id}/load-accounts\",\n            experimental: false,\n            success_status: 202,\n            success_media_type: \"application/json\",\n            response_properties: &[\"success\", \"task\"],\n        },",
            "        crate::Operation {\n            name: \"getAccountsSchema\",\n            operation_id: \"getAccountsSchemaV1\",\n            rust_name: \"get_accounts_schema\",\n            method: \"GET\",\n            path: \"/sources/v1/{id}/schemas/accounts\",\n            experimental: false,\n            success_status: 200,\n            success_media_type: \"text/csv\",\n            response_properties: &[],\n        },",
            "pub fn by_rust_name(rust_name: &str) -> Option<&'static crate::Operation> {",
            "pub fn is_experimental(rust_name: &str) -> bool {",
            "pub const API: crate::ApiSpec = crate::ApiSpec {\n    name: \"v1\",\n    module: \"v1\",\n    base_path: \"\",\n    default: true,\n    operations: operations::OPERATIONS,\n};",
            // Every version's client has the cross-version method names.
            "pub async fn import_accounts<'a>(",
            "pub async fn get_task_status_list<'a>(",
            "pub async fn import_entitlements<'a>(",
            // A CSV answer is read raw.
            ") -> Result<ResponseValue<ByteStream>, Error<ByteStream>> {",
        ] {
            assert!(v1.contains(expected), "v1.rs lacks {expected}");
        }
        assert!(!v1.contains("import_accounts_v1"));
        let beta = file("beta.rs");
        assert!(beta.contains("    base_path: \"/beta\",\n    default: false,"));
        // beta's own operationIds, the cross-version method names.
        for expected in [
            "operation_id: \"getSourceEntitlementsSchema\",",
            "pub async fn get_accounts_schema<'a>(",
            "pub async fn get_entitlements_schema<'a>(",
        ] {
            assert!(beta.contains(expected), "beta.rs lacks {expected}");
        }
        assert!(!beta.contains("get_source_accounts_schema"));
        let module = file("mod.rs");
        assert!(module.starts_with(
            "// @generated by `cargo xtask generate` from openapi/apis.yaml. Do not edit by hand.\n"
        ));
        for expected in [
            "pub const APIS: &[crate::ApiSpec] = &[beta::API, v2025::API, v2026::API, v1::API];",
            "pub const BETA: Self = Self::from_spec(&beta::API);",
            "pub const V2025: Self = Self::from_spec(&v2025::API);",
            "pub const V2026: Self = Self::from_spec(&v2026::API);",
            "pub const V1: Self = Self::from_spec(&v1::API);",
        ] {
            assert!(
                module.contains(expected),
                "mod.rs lacks {expected}\n{module}"
            );
        }
    }

    /// Parses arguments as `cargo xtask` does (clap), for the tests.
    fn parse_args(args: &[String]) -> Result<GenerateArgs, clap::Error> {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: GenerateArgs,
        }
        <Cli as clap::Parser>::try_parse_from(
            std::iter::once("task".to_owned()).chain(args.iter().cloned()),
        )
        .map(|c| c.args)
    }

    #[test]
    fn parses_arguments() {
        let args = |s: &[&str]| s.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
        let parsed = parse_args(&args(&["--check", "-q", "--root", "/w"])).unwrap();
        assert!(parsed.check && parsed.quiet);
        assert_eq!(parsed.root, Some(PathBuf::from("/w")));
        assert_eq!(parse_args(&[]).unwrap().root, None);
        assert!(parse_args(&args(&["--root"])).is_err());
        assert!(parse_args(&args(&["--bogus"])).is_err());
    }

    #[test]
    fn base_paths_come_from_the_first_server_unless_configured() {
        let spec = |url: &str| serde_json::json!({ "servers": [{ "url": url }, { "url": "https://x/other" }] });
        let cases = [
            ("https://{tenant}.api.identitynow.com/beta", "/beta"),
            ("https://{tenant}.api.identitynow.com", ""),
            ("https://{apiUrl}/v2026/", "/v2026"),
            ("/v3", "/v3"),
        ];
        for (url, expected) in cases {
            assert_eq!(base_path(None, &spec(url)).unwrap(), expected, "{url}");
        }
        assert_eq!(base_path(Some("/x"), &spec("https://a/b")).unwrap(), "/x");
        assert_eq!(base_path(Some(""), &serde_json::json!({})).unwrap(), "");
        let err = format!("{:#}", base_path(None, &serde_json::json!({})).unwrap_err());
        assert!(err.contains("set `base_path`"), "{err}");
        let err = format!(
            "{:#}",
            base_path(None, &spec("https://{tenant}.example.test/{version}")).unwrap_err()
        );
        assert!(err.contains("set `base_path`"), "{err}");
    }

    #[test]
    fn generate_is_idempotent() {
        let root = scratch_root("idempotent");
        let quiet = GenerateArgs {
            check: false,
            quiet: true,
            root: None,
        };
        // The committed files are what generate writes: nothing changes, twice.
        let before: Vec<String> = generate_files(&root, &mut |_| {})
            .unwrap()
            .iter()
            .map(|f| std::fs::read_to_string(&f.path).unwrap())
            .collect();
        run(&root, &quiet).unwrap();
        run(&root, &quiet).unwrap();
        let after: Vec<String> = generate_files(&root, &mut |_| {})
            .unwrap()
            .iter()
            .map(|f| std::fs::read_to_string(&f.path).unwrap())
            .collect();
        assert_eq!(before, after);
        // From an empty directory, the same files come out; a stale file is removed.
        std::fs::remove_dir_all(root.join(GENERATED_DIR)).unwrap();
        std::fs::create_dir_all(root.join(GENERATED_DIR)).unwrap();
        std::fs::write(root.join(GENERATED_DIR).join("old.rs"), "// stale").unwrap();
        run(&root, &quiet).unwrap();
        assert!(!root.join(GENERATED_DIR).join("old.rs").exists());
        let again: Vec<String> = generate_files(&root, &mut |_| {})
            .unwrap()
            .iter()
            .map(|f| std::fs::read_to_string(&f.path).unwrap())
            .collect();
        assert_eq!(before, again);
        run(
            &root,
            &GenerateArgs {
                check: true,
                quiet: true,
                root: None,
            },
        )
        .unwrap();
        std::fs::remove_dir_all(root).unwrap();
    }

    /// The multi-root fixture (laid out like SailPoint's v1 roots) vendored and generated in a
    /// scratch workspace: the suffix, the derived base path and the traps of bigger schemas.
    #[test]
    fn several_roots_vendor_then_generate() {
        let root =
            std::env::temp_dir().join(format!("xtask-generate-multi-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("openapi")).unwrap();
        std::fs::write(
            root.join("openapi/apis.yaml"),
            "apis:\n  - name: w1\n    spec: w1.yaml\n    module: w1\n    default: true\n    operation_suffix: V1\n    operations: [listWidgets, loadWidgets, getJob]\n",
        )
        .unwrap();
        let fixtures =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vendor/multi");
        crate::vendor::run(crate::vendor::VendorArgs {
            from: vec![
                fixtures.join("widgets/openapi.yaml"),
                fixtures.join("jobs/openapi.yaml"),
            ],
            api: "w1".into(),
            dry_run: false,
            root: root.clone(),
        })
        .unwrap();
        let mut log = Vec::new();
        let files = generate_files(&root, &mut |l| log.push(l.to_owned())).unwrap();
        let w1 = &files
            .iter()
            .find(|f| f.path.ends_with("w1.rs"))
            .unwrap()
            .contents;
        for expected in [
            "base_path: \"\",",
            "name: \"loadWidgets\",\n            operation_id: \"loadWidgetsV1\",\n            rust_name: \"load_widgets\",\n            method: \"POST\",\n            path: \"/widgets/v1/{id}/load\",",
            "response_properties: &[\n                \"created\",\n                \"description\",\n                \"id\",\n                \"name\",\n                \"owner\",\n                \"summary\",\n            ],",
            "response_properties: &[\"id\", \"state\", \"target\", \"widget\"],",
            "pub async fn list_widgets<'a>(",
            "pub async fn load_widgets<'a>(",
            "pub async fn get_job<'a>(",
            // T12: the content-less 403 and 404 are raw too, and decode as bodiless variants.
            "Status403,",
            "404 => Some(Ok(Self::Status404)),",
            "pub struct LoadWidgetsForm {",
            "pub enum GetJobError {",
        ] {
            assert!(w1.contains(expected), "w1.rs lacks {expected}\n{w1}");
        }
        // T13: the nullable, titled components are plain structs, once.
        for name in ["LocalizedMessage", "Target"] {
            assert_eq!(
                w1.matches(&format!("pub struct {name} ")).count(),
                1,
                "{name}"
            );
            assert!(!w1.contains(&format!("pub struct {name}(")), "{name}");
        }
        for expected in [
            "rewrite w1:getJobV1 (GET /jobs/v1/{id}): operationId getJobV1 renamed to getJob",
            "rewrite w1:components.schemas.LocalizedMessage: nullable: true removed from the object schema",
            "rewrite w1:components.schemas.Target: title \"Target\" removed",
            "rewrite w1:components.schemas.JobStatus: required [\"id\"] dropped",
            "rewrite w1:getJobV1 (GET /jobs/v1/{id}): error responses 401, 403, 404 read as raw bytes",
        ] {
            assert!(
                log.iter().any(|l| l.starts_with(expected)),
                "no log line {expected}\n{}",
                log.join("\n")
            );
        }
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn output_is_identical_on_every_run() {
        let a = generate_files(&workspace(), &mut |_| {}).unwrap();
        let b = generate_files(&workspace(), &mut |_| {}).unwrap();
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.contents, y.contents, "{}", x.path.display());
            assert!(
                x.contents
                    .starts_with("// @generated by `cargo xtask generate`")
            );
        }
    }

    #[test]
    fn committed_code_matches_the_specs() {
        run(
            &workspace(),
            &GenerateArgs {
                check: true,
                quiet: true,
                root: None,
            },
        )
        .unwrap();
    }

    #[test]
    fn check_fails_when_a_schema_property_changes() {
        let root = scratch_root("drift");
        let spec = root.join("openapi/v2025.yaml");
        let text = std::fs::read_to_string(&spec).unwrap();
        assert!(text.contains("processedIdentities:"));
        std::fs::write(
            &spec,
            text.replace("processedIdentities:", "refreshedIdentities:"),
        )
        .unwrap();
        let err = run(
            &root,
            &GenerateArgs {
                check: true,
                quiet: true,
                root: None,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("out of date"), "{err}");
        // The diff names the property: regenerate and compare the module text directly.
        let files = generate_files(&root, &mut |_| {}).unwrap();
        let v2025 = files.iter().find(|f| f.path.ends_with("v2025.rs")).unwrap();
        assert!(v2025.contents.contains("refreshedIdentities"));
        assert!(!v2025.contents.contains("processedIdentities"));
        // Writing mode then brings the scratch copy back in sync.
        run(
            &root,
            &GenerateArgs {
                check: false,
                quiet: true,
                root: None,
            },
        )
        .unwrap();
        run(
            &root,
            &GenerateArgs {
                check: true,
                quiet: true,
                root: None,
            },
        )
        .unwrap();
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn unsupported_media_type_is_an_error_naming_the_operation() {
        let spec = one_op_spec(
            "    patch:\n      operationId: patchThing\n      parameters:\n        - {name: id, in: path, required: true, schema: {type: string}}\n      requestBody:\n        content:\n          application/json-patch+json:\n            schema: {type: array, items: {type: object}}\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Thing'}",
        );
        let err = generate_one(&spec).unwrap_err().to_string();
        assert!(
            err.contains("operation patchThing (PATCH /things/{id})"),
            "{err}"
        );
        assert!(err.contains("json-patch"), "{err}");
    }

    #[test]
    fn a_progenitor_panic_becomes_an_error_naming_the_operation() {
        // A JSON response without a schema hits a `todo!()` inside progenitor.
        let spec = one_op_spec(
            "    get:\n      operationId: getThing\n      parameters:\n        - {name: id, in: path, required: true, schema: {type: string}}\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json: {}",
        );
        let err = generate_one(&spec).unwrap_err().to_string();
        assert!(
            err.contains("operation getThing (GET /things/{id})"),
            "{err}"
        );
        assert!(err.contains("panicked"), "{err}");
    }

    /// A text answer (the CSV schema headers) in every shape a spec may give it: read raw,
    /// its media type in the table, no panic.
    #[test]
    fn text_answers_are_read_raw_with_their_media_type_in_the_table() {
        let shapes = [
            (
                "text/csv",
                "          content:\n            text/csv:\n              example: a,b\n",
            ),
            (
                "text/csv",
                "          content:\n            text/csv:\n              schema: {type: string}\n",
            ),
            (
                "text/csv",
                "          content:\n            text/csv: {example: a}\n            text/plain: {schema: {type: string}}\n",
            ),
            (
                "application/json",
                "          content:\n            text/csv: {example: a}\n            application/json: {schema: {$ref: '#/components/schemas/Thing'}}\n",
            ),
        ];
        for (media, content) in shapes {
            let spec = one_op_spec(&format!(
                "    get:\n      operationId: getThingCsv\n      parameters:\n        - {{name: id, in: path, required: true, schema: {{type: string}}}}\n        - {{name: schemaName, in: query, schema: {{type: string}}}}\n      responses:\n        '200':\n          description: ok\n{content}        '404':\n          description: gone\n          content:\n            application/json: {{schema: {{$ref: '#/components/schemas/Thing'}}}}\n"
            ));
            let code = generate_one(&spec).unwrap_or_else(|e| panic!("{content}: {e:#}"));
            assert!(
                code.contains(&format!("success_media_type: \"{media}\",")),
                "{content}"
            );
            let raw = ") -> Result<ResponseValue<ByteStream>, Error<ByteStream>> {";
            assert_eq!(code.contains(raw), media != "application/json", "{content}");
        }
    }

    #[test]
    fn two_operations_with_one_cross_version_name_are_an_error() {
        let spec = "openapi: 3.0.1\ninfo: {title: T, version: v1}\npaths:\n  /a:\n    get:\n      operationId: getA\n      responses: {'204': {description: ok}}\n  /b:\n    get:\n      operationId: getAV1\n      responses: {'204': {description: ok}}\n";
        let json = normalize::yaml_to_json(serde_yaml::from_str(spec).unwrap()).unwrap();
        let names = normalize::OperationNames {
            suffix: "V1".into(),
            aliases: Default::default(),
        };
        let err = normalize::normalize("t", &names, json)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("both have the cross-version name getA"),
            "{err}"
        );
    }

    #[test]
    fn openapi_3_1_is_refused() {
        let spec = one_op_spec(
            "    get:\n      operationId: getThing\n      responses: {'200': {description: ok}}",
        )
        .replace("3.0.1", "3.1.0");
        let err = generate_one(&spec).unwrap_err().to_string();
        assert!(err.contains("3.1.0"), "{err}");
    }
}

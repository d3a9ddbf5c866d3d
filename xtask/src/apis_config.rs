//! `openapi/apis.yaml`: the API versions this SDK vendors (`cargo xtask vendor`) and generates
//! (`cargo xtask generate`).
//!
//! ```yaml
//! apis:
//!   - name: v2025            # the API version, `--api v2025`
//!     spec: v2025.yaml       # the vendored document, a file name under openapi/
//!     module: v2025          # the module of the generated crate it goes into
//!     operations:            # allowlist of operationIds
//!       - importAccounts
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_yaml::{Mapping, Value};

/// Where the configuration lives, relative to the workspace root.
pub const CONFIG_PATH: &str = "openapi/apis.yaml";

/// The whole of `openapi/apis.yaml`, entries in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApisConfig {
    pub apis: Vec<ApiEntry>,
}

/// One API version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiEntry {
    /// The API version name, e.g. `beta`, `v2025`.
    pub name: String,
    /// File name of the vendored document under `openapi/`, e.g. `v2025.yaml`.
    pub spec: String,
    /// Module (Rust identifier) of the generated crate the client goes into, e.g. `v2025`.
    pub module: String,
    /// Allowlisted operationIds, in file order.
    pub operations: Vec<String>,
}

impl ApisConfig {
    /// The entry named `name`, or an error listing the known names.
    pub fn api(&self, name: &str) -> Result<&ApiEntry> {
        self.apis.iter().find(|a| a.name == name).with_context(|| {
            let known: Vec<&str> = self.apis.iter().map(|a| a.name.as_str()).collect();
            format!(
                "no API named `{name}` in {CONFIG_PATH} (known: {})",
                known.join(", ")
            )
        })
    }
}

impl ApiEntry {
    /// Path of the vendored document: `<root>/openapi/<spec>`.
    pub fn spec_path(&self, root: &Path) -> PathBuf {
        root.join("openapi").join(&self.spec)
    }
}

/// Reads and validates `<root>/openapi/apis.yaml`.
pub fn load_config(root: &Path) -> Result<ApisConfig> {
    let path = root.join(CONFIG_PATH);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    parse_config(&text).with_context(|| format!("in {}", path.display()))
}

/// Parses and validates the text of `apis.yaml`.
pub fn parse_config(text: &str) -> Result<ApisConfig> {
    let doc: Value = serde_yaml::from_str(text).context("not valid YAML")?;
    let top = doc
        .as_mapping()
        .context("expected a mapping with key `apis`")?;
    check_keys(top, &["apis"], "top level")?;
    let list = top
        .get("apis")
        .and_then(Value::as_sequence)
        .context("`apis` must be a list")?;

    let mut apis = Vec::with_capacity(list.len());
    let mut names = BTreeSet::new();
    let mut specs = BTreeSet::new();
    let mut modules = BTreeSet::new();
    for (i, item) in list.iter().enumerate() {
        let entry = parse_entry(item).with_context(|| format!("apis[{i}]"))?;
        if !names.insert(entry.name.clone()) {
            bail!("apis[{i}]: duplicate name `{}`", entry.name);
        }
        if !specs.insert(entry.spec.clone()) {
            bail!("apis[{i}]: spec `{}` is used twice", entry.spec);
        }
        if !modules.insert(entry.module.clone()) {
            bail!("apis[{i}]: module `{}` is used twice", entry.module);
        }
        apis.push(entry);
    }
    Ok(ApisConfig { apis })
}

fn parse_entry(item: &Value) -> Result<ApiEntry> {
    let map = item.as_mapping().context("expected a mapping")?;
    check_keys(map, &["name", "spec", "module", "operations"], "entry")?;
    let name = string_field(map, "name")?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        bail!("name `{name}` must be non-empty and use only ASCII letters, digits, `-`, `_`, `.`");
    }
    let spec = string_field(map, "spec")?;
    let spec_is_plain_yaml_name = !spec.contains(['/', '\\'])
        && !spec.starts_with('.')
        && (spec.ends_with(".yaml") || spec.ends_with(".yml"));
    if !spec_is_plain_yaml_name || spec == "apis.yaml" {
        bail!("spec `{spec}` must be a plain `.yaml` file name under openapi/ (not apis.yaml)");
    }
    let module = string_field(map, "module")?;
    if !is_rust_ident(&module) {
        bail!("module `{module}` is not a Rust identifier");
    }
    let ops = map
        .get("operations")
        .and_then(Value::as_sequence)
        .context("`operations` must be a list of operationIds")?;
    let mut operations = Vec::with_capacity(ops.len());
    for op in ops {
        let op = op
            .as_str()
            .context("`operations` must be a list of strings")?;
        if op.is_empty() {
            bail!("empty operationId in `operations`");
        }
        if operations.iter().any(|o: &String| o == op) {
            bail!("operationId `{op}` listed twice");
        }
        operations.push(op.to_owned());
    }
    if operations.is_empty() {
        bail!("`operations` of `{name}` is empty");
    }
    Ok(ApiEntry {
        name,
        spec,
        module,
        operations,
    })
}

fn string_field(map: &Mapping, key: &str) -> Result<String> {
    match map.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => bail!("`{key}` must be a string"),
        None => bail!("missing `{key}`"),
    }
}

fn check_keys(map: &Mapping, allowed: &[&str], what: &str) -> Result<()> {
    for key in map.keys() {
        match key.as_str() {
            Some(k) if allowed.contains(&k) => {}
            _ => bail!(
                "unknown key {} at {what} (allowed: {})",
                serde_yaml::to_string(key).unwrap_or_default().trim_end(),
                allowed.join(", ")
            ),
        }
    }
    Ok(())
}

fn is_rust_ident(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    s != "_" && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_config_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask has a parent directory");
        let config = load_config(root).expect("openapi/apis.yaml is valid");
        let v2025 = config.api("v2025").expect("v2025 entry");
        assert_eq!(v2025.spec, "v2025.yaml");
        assert_eq!(v2025.module, "v2025");
        assert!(
            v2025
                .operations
                .iter()
                .any(|o| o == "getAccountAggregationStatus")
        );
        assert!(config.api("beta").is_ok());
    }

    #[test]
    fn rejects_bad_entries() {
        let cases = [
            (
                "apis: [{name: a, spec: a.yaml, module: a, operations: []}]",
                "is empty",
            ),
            (
                "apis: [{name: a, spec: ../a.yaml, module: a, operations: [x]}]",
                "plain",
            ),
            (
                "apis: [{name: a, spec: a.yaml, module: 1a, operations: [x]}]",
                "Rust identifier",
            ),
            (
                "apis: [{name: a, spec: a.yaml, module: a, operations: [x], extra: 1}]",
                "unknown key extra",
            ),
            (
                "apis: [{name: a, spec: a.yaml, module: a, operations: [x]}, {name: a, spec: b.yaml, module: b, operations: [x]}]",
                "duplicate name",
            ),
            (
                "apis: [{name: a, module: a, operations: [x]}]",
                "missing `spec`",
            ),
        ];
        for (text, expected) in cases {
            let err = format!("{:#}", parse_config(text).expect_err(text));
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn unknown_api_lists_known_names() {
        let config =
            parse_config("apis: [{name: beta, spec: beta.yaml, module: beta, operations: [x]}]")
                .expect("valid");
        let err = config.api("v9").expect_err("unknown").to_string();
        assert!(err.contains("`v9`") && err.contains("beta"), "{err}");
    }
}

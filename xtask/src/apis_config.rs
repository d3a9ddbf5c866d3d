//! `openapi/apis.yaml`: the API versions this SDK vendors (`cargo xtask vendor`) and generates
//! (`cargo xtask generate`).
//!
//! ```yaml
//! apis:
//!   - name: v1                  # the API version, `--api v1`
//!     spec: v1.yaml             # the vendored document, a file name under openapi/
//!     module: v1                # the module of the generated crate it goes into
//!     default: true             # optional; exactly one entry is the default version
//!     operation_suffix: V1      # optional; the spec's operationId is name + suffix
//!     base_path: ""             # optional; default: the path of the spec's servers[0].url
//!     operations:               # allowlist, by cross-version name
//!       - importAccounts
//!       - name: getAccountsSchema   # a spec whose operationId is not name + suffix
//!         operation_id: getSourceAccountsSchema
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_yaml::{Mapping, Value};

/// Where the configuration lives, relative to the workspace root.
pub const CONFIG_PATH: &str = "openapi/apis.yaml";

/// Keys an operation given as a mapping may have.
const OPERATION_KEYS: &[&str] = &["name", "operation_id"];

/// Keys an entry may have.
const ENTRY_KEYS: &[&str] = &[
    "name",
    "spec",
    "module",
    "default",
    "operation_suffix",
    "base_path",
    "operations",
];

/// The whole of `openapi/apis.yaml`, entries in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApisConfig {
    /// The API versions, in file order.
    pub apis: Vec<ApiEntry>,
}

/// One API version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiEntry {
    /// The API version name, e.g. `beta`, `v2025`, `v1`.
    pub name: String,
    /// File name of the vendored document under `openapi/`, e.g. `v2025.yaml`.
    pub spec: String,
    /// Module (Rust identifier) of the generated crate the client goes into, e.g. `v2025`.
    pub module: String,
    /// Whether this is the default version (exactly one entry is).
    pub default: bool,
    /// Appended to each cross-version operation name to give the spec's operationId
    /// (`V1`: `importAccounts` is `importAccountsV1`); empty for none.
    pub operation_suffix: String,
    /// The base path, when given explicitly; `None`: derived from the spec's `servers[0].url`.
    pub base_path: Option<String>,
    /// Allowlisted operations by cross-version name (without the suffix), in file order.
    pub operations: Vec<String>,
    /// Operations whose spec operationId is not the name plus the suffix (beta's
    /// `getSourceAccountsSchema` for `getAccountsSchema`): cross-version name → operationId.
    pub aliases: BTreeMap<String, String>,
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

    /// The spec's operationId for a cross-version name: its alias, else the name plus the
    /// suffix.
    pub fn operation_id(&self, name: &str) -> String {
        match self.aliases.get(name) {
            Some(id) => id.clone(),
            None => format!("{name}{}", self.operation_suffix),
        }
    }

    /// How the spec's operationIds map back to cross-version names (for the generator).
    pub fn operation_names(&self) -> OperationNames {
        OperationNames {
            suffix: self.operation_suffix.clone(),
            aliases: self
                .aliases
                .iter()
                .map(|(name, id)| (id.clone(), name.clone()))
                .collect(),
        }
    }

    /// The spec operationIds of the allowlist, in file order.
    pub fn operation_ids(&self) -> Vec<String> {
        self.operations
            .iter()
            .map(|o| self.operation_id(o))
            .collect()
    }
}

/// How one version's operationIds map to cross-version names: the aliases of `apis.yaml`,
/// else the operationId without the version's suffix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationNames {
    /// The version's operationId suffix (`V1`), or empty.
    pub suffix: String,
    /// operationId → cross-version name, for the operations `apis.yaml` gives an
    /// `operation_id`.
    pub aliases: BTreeMap<String, String>,
}

impl OperationNames {
    /// The cross-version name of a spec operationId (`getSourceAccountsSchema` →
    /// `getAccountsSchema` by alias, `importAccountsV1` → `importAccounts` by suffix).
    pub fn name_of(&self, operation_id: &str) -> String {
        if let Some(name) = self.aliases.get(operation_id) {
            return name.clone();
        }
        match operation_id.strip_suffix(self.suffix.as_str()) {
            Some(base) if !self.suffix.is_empty() && !base.is_empty() => base.to_owned(),
            _ => operation_id.to_owned(),
        }
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
    if list.is_empty() {
        bail!("`apis` is empty: at least one API version is needed");
    }

    let mut apis: Vec<ApiEntry> = Vec::with_capacity(list.len());
    let mut names = BTreeSet::new();
    let mut specs = BTreeSet::new();
    let mut modules = BTreeSet::new();
    let mut constants = BTreeSet::new();
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
        let constant = constant_name(&entry.name);
        if !constants.insert(constant.clone()) {
            bail!(
                "apis[{i}]: name `{}` gives the constant ApiVersion::{constant}, which another entry already gives",
                entry.name
            );
        }
        if entry.default
            && let Some(other) = apis.iter().find(|a| a.default)
        {
            bail!(
                "apis[{i}]: `{}` and `{}` are both marked `default: true`; exactly one entry may be the default",
                other.name,
                entry.name
            );
        }
        apis.push(entry);
    }
    if !apis.iter().any(|a| a.default) {
        bail!("no entry is marked `default: true`; exactly one entry must be the default version");
    }
    Ok(ApisConfig { apis })
}

/// The `ApiVersion` constant for a version name: upper case, non-alphanumerics as `_`
/// (`v2025` → `V2025`, `beta` → `BETA`); a leading digit gets a `V` prefix.
pub fn constant_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') || out == "_" {
        out.insert(0, 'V');
    }
    out
}

fn parse_entry(item: &Value) -> Result<ApiEntry> {
    let map = item.as_mapping().context("expected a mapping")?;
    check_keys(map, ENTRY_KEYS, "entry")?;
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
    if !is_rust_ident(&module) || module == "mod" {
        bail!("module `{module}` is not a Rust identifier usable as a module name");
    }
    let default = match map.get("default") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => bail!("`default` must be true or false"),
    };
    let operation_suffix = match map.get("operation_suffix") {
        None => String::new(),
        Some(Value::String(s)) => {
            if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                bail!(
                    "operation_suffix `{s}` must be non-empty ASCII letters, digits or `_` (leave the key out for none)"
                );
            }
            s.clone()
        }
        Some(_) => bail!("`operation_suffix` must be a string"),
    };
    let base_path = match map.get("base_path") {
        None => None,
        Some(Value::String(s)) => {
            check_base_path(s)?;
            Some(s.clone())
        }
        Some(_) => bail!("`base_path` must be a string (\"\" for none)"),
    };
    let ops = map
        .get("operations")
        .and_then(Value::as_sequence)
        .context("`operations` must be a list of operation names")?;
    let mut operations = Vec::with_capacity(ops.len());
    let mut aliases = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for op in ops {
        let (op, alias) = match op {
            Value::String(op) => (op.as_str(), None),
            Value::Mapping(m) => {
                check_keys(m, OPERATION_KEYS, "operation")?;
                let name = m
                    .get("name")
                    .and_then(Value::as_str)
                    .context("an operation given as a mapping needs a string `name`")?;
                let id = m
                    .get("operation_id")
                    .and_then(Value::as_str)
                    .with_context(|| {
                        format!("operation `{name}`: a mapping needs a string `operation_id` (list a plain name otherwise)")
                    })?;
                (name, Some(id))
            }
            _ => bail!("`operations` must list names or `{{name, operation_id}}` mappings"),
        };
        check_operation_word(op, "operation name")?;
        if !operation_suffix.is_empty() && op.ends_with(&operation_suffix) {
            bail!(
                "operation `{op}` already ends in the suffix `{operation_suffix}`: list the cross-version name (the suffix is added)"
            );
        }
        if operations.iter().any(|o: &String| o == op) {
            bail!("operation `{op}` listed twice");
        }
        let id = match alias {
            Some(id) => {
                check_operation_word(id, "operation_id")?;
                if id == format!("{op}{operation_suffix}") {
                    bail!(
                        "operation `{op}`: operation_id `{id}` is the name plus the suffix anyway; list the plain name"
                    );
                }
                aliases.insert(op.to_owned(), id.to_owned());
                id.to_owned()
            }
            None => format!("{op}{operation_suffix}"),
        };
        if !ids.insert(id.clone()) {
            bail!("operationId `{id}` is given to two operations");
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
        default,
        operation_suffix,
        base_path,
        operations,
        aliases,
    })
}

/// A name or operationId: non-empty ASCII letters, digits and `_`.
fn check_operation_word(s: &str, what: &str) -> Result<()> {
    if s.is_empty() {
        bail!("empty {what} in `operations`");
    }
    if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("{what} `{s}` must use only ASCII letters, digits and `_`");
    }
    Ok(())
}

/// A base path is `""` or `/segment[/segment...]` without a trailing slash or placeholders.
pub fn check_base_path(s: &str) -> Result<()> {
    if s.is_empty() {
        return Ok(());
    }
    let ok = s.starts_with('/')
        && !s.ends_with('/')
        && !s.contains("//")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-._~".contains(c));
    if !ok {
        bail!(
            "base_path `{s}` must be empty or like `/v2025`: a leading `/`, no trailing `/`, no placeholders"
        );
    }
    Ok(())
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
    s != "_"
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && syn::parse_str::<syn::Ident>(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CROSS_VERSION: &[&str] = &[
        "importAccounts",
        "getAccountAggregationStatus",
        "getTaskStatus",
        "getTaskStatusList",
        "listSources",
        "importEntitlements",
        "getAccountsSchema",
        "getEntitlementsSchema",
        "getSourceSchemas",
    ];

    #[test]
    fn workspace_config_lists_four_versions_with_v1_default() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask has a parent directory");
        let config = load_config(root).expect("openapi/apis.yaml is valid");
        let names: Vec<&str> = config.apis.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["beta", "v2025", "v2026", "v1"]);
        for api in &config.apis {
            assert_eq!(api.operations, CROSS_VERSION, "{}", api.name);
            assert_eq!(api.spec, format!("{}.yaml", api.name));
            assert_eq!(api.module, api.name);
            assert_eq!(api.default, api.name == "v1", "{}", api.name);
        }
        let v1 = config.api("v1").expect("v1 entry");
        assert_eq!(v1.operation_suffix, "V1");
        assert_eq!(v1.operation_id("importAccounts"), "importAccountsV1");
        assert_eq!(v1.operation_id("getAccountsSchema"), "getAccountsSchemaV1");
        assert!(v1.aliases.is_empty());
        let v2025 = config.api("v2025").expect("v2025 entry");
        assert_eq!(v2025.operation_suffix, "");
        assert_eq!(v2025.operation_id("listSources"), "listSources");
        assert_eq!(v2025.operation_id("getAccountsSchema"), "getAccountsSchema");
        // beta names the schema operations differently; apis.yaml says so, as data.
        let beta = config.api("beta").expect("beta entry");
        assert_eq!(
            beta.operation_id("getAccountsSchema"),
            "getSourceAccountsSchema"
        );
        assert_eq!(
            beta.operation_id("getEntitlementsSchema"),
            "getSourceEntitlementsSchema"
        );
        assert_eq!(
            beta.operation_names()
                .name_of("getSourceEntitlementsSchema"),
            "getEntitlementsSchema"
        );
        assert_eq!(beta.aliases.len(), 2);
    }

    #[test]
    fn operations_may_name_their_operation_id() {
        let config = parse_config(
            "apis:\n  - name: v1\n    spec: v1.yaml\n    module: v1\n    default: true\n    operation_suffix: V1\n    operations:\n      - importAccounts\n      - name: getAccountsSchema\n        operation_id: downloadAccountsHeaderV1\n      - {name: listSources, operation_id: listAllSources}\n",
        )
        .expect("valid");
        let v1 = config.api("v1").expect("v1");
        assert_eq!(
            v1.operations,
            ["importAccounts", "getAccountsSchema", "listSources"]
        );
        // An explicit operation_id is used as it is: the suffix is not added to it.
        assert_eq!(
            v1.operation_ids(),
            [
                "importAccountsV1",
                "downloadAccountsHeaderV1",
                "listAllSources"
            ]
        );
        let names = v1.operation_names();
        assert_eq!(
            names.name_of("downloadAccountsHeaderV1"),
            "getAccountsSchema"
        );
        assert_eq!(names.name_of("listAllSources"), "listSources");
        assert_eq!(names.name_of("importAccountsV1"), "importAccounts");
        assert_eq!(names.name_of("somethingElse"), "somethingElse");
        assert_eq!(OperationNames::default().name_of("x"), "x");
    }

    #[test]
    fn parses_suffix_base_path_and_default() {
        let config = parse_config(
            "apis:\n  - {name: v1, spec: v1.yaml, module: v1, default: true, operation_suffix: V1, base_path: '', operations: [importAccounts, getTaskStatus]}\n  - {name: v9, spec: v9.yaml, module: v9, base_path: /v9, operations: [importAccounts]}\n  - {name: x, spec: x.yaml, module: x, default: false, operations: [a]}\n",
        )
        .expect("valid");
        let v1 = config.api("v1").expect("v1");
        assert!(v1.default);
        assert_eq!(v1.operation_suffix, "V1");
        assert_eq!(v1.base_path.as_deref(), Some(""));
        assert_eq!(v1.operation_ids(), ["importAccountsV1", "getTaskStatusV1"]);
        let v9 = config.api("v9").expect("v9");
        assert!(!v9.default);
        assert_eq!(v9.base_path.as_deref(), Some("/v9"));
        assert_eq!(v9.operation_suffix, "");
        assert_eq!(config.api("x").expect("x").base_path, None);
    }

    #[test]
    fn constant_names() {
        assert_eq!(constant_name("beta"), "BETA");
        assert_eq!(constant_name("v2026"), "V2026");
        assert_eq!(constant_name("v1"), "V1");
        assert_eq!(constant_name("v3-preview.2"), "V3_PREVIEW_2");
        assert_eq!(constant_name("2099"), "V2099");
    }

    #[test]
    fn rejects_bad_entries() {
        let ok = "default: true, ";
        let cases = [
            (
                format!("apis: [{{name: a, spec: a.yaml, module: a, {ok}operations: []}}]"),
                "is empty",
            ),
            (
                format!("apis: [{{name: a, spec: ../a.yaml, module: a, {ok}operations: [x]}}]"),
                "plain",
            ),
            (
                format!("apis: [{{name: a, spec: a.yaml, module: 1a, {ok}operations: [x]}}]"),
                "Rust identifier",
            ),
            (
                format!("apis: [{{name: a, spec: a.yaml, module: fn, {ok}operations: [x]}}]"),
                "Rust identifier",
            ),
            (
                format!(
                    "apis: [{{name: a, spec: a.yaml, module: a, {ok}operations: [x], extra: 1}}]"
                ),
                "unknown key extra",
            ),
            (
                format!(
                    "apis: [{{name: a, spec: a.yaml, module: a, {ok}operations: [x], suffix: V1}}]"
                ),
                "unknown key suffix",
            ),
            (
                format!(
                    "apis: [{{name: a, spec: a.yaml, module: a, {ok}operations: [x]}}, {{name: a, spec: b.yaml, module: b, operations: [x]}}]"
                ),
                "duplicate name",
            ),
            (
                format!("apis: [{{name: a, module: a, {ok}operations: [x]}}]"),
                "missing `spec`",
            ),
            (
                "apis: [{name: a, spec: a.yaml, module: a, operations: [x]}]".to_owned(),
                "no entry is marked `default: true`",
            ),
            (
                format!(
                    "apis: [{{name: a, spec: a.yaml, module: a, {ok}operations: [x]}}, {{name: b, spec: b.yaml, module: b, {ok}operations: [x]}}]"
                ),
                "`a` and `b` are both marked `default: true`",
            ),
            (
                "apis: [{name: a, spec: a.yaml, module: a, default: 'yes', operations: [x]}]"
                    .to_owned(),
                "`default` must be true or false",
            ),
            (
                format!(
                    "apis: [{{name: a, spec: a.yaml, module: a, {ok}base_path: v1, operations: [x]}}]"
                ),
                "base_path `v1`",
            ),
            (
                format!(
                    "apis: [{{name: a, spec: a.yaml, module: a, {ok}base_path: /v1/, operations: [x]}}]"
                ),
                "base_path `/v1/`",
            ),
            (
                format!(
                    "apis: [{{name: a, spec: a.yaml, module: a, {ok}operation_suffix: '', operations: [x]}}]"
                ),
                "operation_suffix",
            ),
            (
                format!(
                    "apis: [{{name: a, spec: a.yaml, module: a, {ok}operation_suffix: V1, operations: [importAccountsV1]}}]"
                ),
                "already ends in the suffix `V1`",
            ),
            (
                format!(
                    "apis: [{{name: v-1, spec: a.yaml, module: a, {ok}operations: [x]}}, {{name: v_1, spec: b.yaml, module: b, operations: [x]}}]"
                ),
                "ApiVersion::V_1",
            ),
            ("apis: []".to_owned(), "`apis` is empty"),
            (
                format!(
                    "apis: [{{name: a, spec: a.yaml, module: a, {ok}operations: [{{name: x, id: y}}]}}]"
                ),
                "unknown key id at operation",
            ),
            (
                format!(
                    "apis: [{{name: a, spec: a.yaml, module: a, {ok}operations: [{{name: x}}]}}]"
                ),
                "needs a string `operation_id`",
            ),
            (
                format!(
                    "apis: [{{name: a, spec: a.yaml, module: a, {ok}operations: [{{operation_id: y}}]}}]"
                ),
                "needs a string `name`",
            ),
            (
                format!(
                    "apis: [{{name: a, spec: a.yaml, module: a, {ok}operations: [{{name: x, operation_id: 'y-z'}}]}}]"
                ),
                "operation_id `y-z`",
            ),
            (
                format!(
                    "apis: [{{name: a, spec: a.yaml, module: a, {ok}operation_suffix: V1, operations: [{{name: x, operation_id: xV1}}]}}]"
                ),
                "the name plus the suffix anyway",
            ),
            (
                format!(
                    "apis: [{{name: a, spec: a.yaml, module: a, {ok}operations: [y, {{name: x, operation_id: y}}]}}]"
                ),
                "operationId `y` is given to two operations",
            ),
            (
                format!("apis: [{{name: a, spec: a.yaml, module: a, {ok}operations: [[x]]}}]"),
                "must list names",
            ),
        ];
        for (text, expected) in cases {
            let err = format!("{:#}", parse_config(&text).expect_err(&text));
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn unknown_api_lists_known_names() {
        let config = parse_config(
            "apis: [{name: beta, spec: beta.yaml, module: beta, default: true, operations: [x]}]",
        )
        .expect("valid");
        let err = config.api("v9").expect_err("unknown").to_string();
        assert!(err.contains("`v9`") && err.contains("beta"), "{err}");
    }
}

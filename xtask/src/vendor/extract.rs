//! Extraction of the allowlisted operations and their transitive closure into one
//! self-contained document, from one bundle or from several root documents (the per-resource
//! roots of a split spec, which share files such as `../shared/schemas/*.yaml`).
//!
//! The input is walked with knowledge of the OpenAPI 3.0 object structure (path item →
//! operation → parameters / request body / responses → media types → schemas …), so every
//! `$ref` is interpreted by where it sits, and values such as `example`, `default` and `enum`
//! are copied verbatim. References become internal `#/components/<kind>/<name>` refs:
//!
//! - a root component `#/components/<kind>/<name>` keeps its name (normalised, see below);
//! - a whole external file becomes `<kind>/<file stem>` (kind from where the `$ref` sits), and
//!   a root component that is nothing but a `$ref` to a file of the same stem is that file;
//! - `#/components/<kind>/<name>` inside an external file becomes `<kind>/<name>`;
//! - anything else (a pointer into a path, a property …) and path items are inlined.
//!
//! Component names are normalised: schemas, request bodies, examples, headers, links and
//! callbacks in `PascalCase` (a lower-case file stem such as `accountaggregationstatus` takes
//! its word breaks from the schema's `title` when the title spells the same letters),
//! parameters in `camelCase`, status-code responses as they are. Two different sources that
//! come out with the same name are one component when their vendored content is identical,
//! and an error naming both otherwise.
//!
//! No prose is copied: `description` and `summary` are dropped from every OpenAPI object
//! (responses, which must have a description, get a neutral one naming their status), and
//! OAuth scope descriptions become the scope name. Everything else carries over.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use anyhow::{Context, Result, bail};
use serde_yaml::{Mapping, Value};

use super::load::{FileId, Loader, Loc, Target, escape_segment, key_str, pointer_string};

/// HTTP methods of a path item, in OpenAPI order.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Component sections, in OpenAPI order (the order they are written in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Schemas,
    Responses,
    Parameters,
    Examples,
    RequestBodies,
    Headers,
    SecuritySchemes,
    Links,
    Callbacks,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Schemas,
        Kind::Responses,
        Kind::Parameters,
        Kind::Examples,
        Kind::RequestBodies,
        Kind::Headers,
        Kind::SecuritySchemes,
        Kind::Links,
        Kind::Callbacks,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Kind::Schemas => "schemas",
            Kind::Responses => "responses",
            Kind::Parameters => "parameters",
            Kind::Examples => "examples",
            Kind::RequestBodies => "requestBodies",
            Kind::Headers => "headers",
            Kind::SecuritySchemes => "securitySchemes",
            Kind::Links => "links",
            Kind::Callbacks => "callbacks",
        }
    }

    pub fn from_key(key: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.key() == key)
    }

    fn node(self) -> Node {
        match self {
            Kind::Schemas => Node::Schema,
            Kind::Responses => Node::Response,
            Kind::Parameters => Node::Parameter,
            Kind::Examples => Node::Example,
            Kind::RequestBodies => Node::RequestBody,
            Kind::Headers => Node::Header,
            Kind::SecuritySchemes => Node::SecurityScheme,
            Kind::Links => Node::Link,
            Kind::Callbacks => Node::Callback,
        }
    }
}

/// The OpenAPI object a value is expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    PathItem,
    Operation,
    Parameter,
    RequestBody,
    Responses,
    Response,
    MediaType,
    Encoding,
    Schema,
    Header,
    Example,
    Link,
    Callback,
    SecurityScheme,
}

impl Node {
    /// The component section a `$ref` in this position points into; `None` where `$ref` is
    /// not allowed (it is then copied as an ordinary key).
    fn component(self) -> Option<Kind> {
        match self {
            Node::Parameter => Some(Kind::Parameters),
            Node::RequestBody => Some(Kind::RequestBodies),
            Node::Response => Some(Kind::Responses),
            Node::Schema => Some(Kind::Schemas),
            Node::Header => Some(Kind::Headers),
            Node::Example => Some(Kind::Examples),
            Node::Link => Some(Kind::Links),
            Node::Callback => Some(Kind::Callbacks),
            Node::SecurityScheme => Some(Kind::SecuritySchemes),
            Node::PathItem
            | Node::Operation
            | Node::Responses
            | Node::MediaType
            | Node::Encoding => None,
        }
    }
}

/// How a field of an object is walked.
enum Field {
    Verbatim,
    One(Node),
    MapOf(Node),
    SeqOf(Node),
    /// `additionalProperties`: a schema, or a boolean.
    SchemaOrBool,
    /// `discriminator`: its `mapping` values are schema references.
    Discriminator,
}

fn field(node: Node, key: &str) -> Field {
    use Field::*;
    match (node, key) {
        (Node::Operation, "parameters") | (Node::PathItem, "parameters") => SeqOf(Node::Parameter),
        (Node::Operation, "requestBody") => One(Node::RequestBody),
        (Node::Operation, "responses") => One(Node::Responses),
        (Node::Operation, "callbacks") => MapOf(Node::Callback),
        (Node::Parameter | Node::Header, "schema") => One(Node::Schema),
        (Node::Parameter | Node::Header, "content") => MapOf(Node::MediaType),
        (Node::Parameter | Node::Header | Node::MediaType, "examples") => MapOf(Node::Example),
        (Node::RequestBody | Node::Response, "content") => MapOf(Node::MediaType),
        (Node::Response, "headers") | (Node::Encoding, "headers") => MapOf(Node::Header),
        (Node::Response, "links") => MapOf(Node::Link),
        (Node::MediaType, "schema") => One(Node::Schema),
        (Node::MediaType, "encoding") => MapOf(Node::Encoding),
        (Node::Schema, "properties") => MapOf(Node::Schema),
        (Node::Schema, "items" | "not") => One(Node::Schema),
        (Node::Schema, "allOf" | "oneOf" | "anyOf") => SeqOf(Node::Schema),
        (Node::Schema, "additionalProperties") => SchemaOrBool,
        (Node::Schema, "discriminator") => Discriminator,
        (Node::PathItem, m) if METHODS.contains(&m) => One(Node::Operation),
        (Node::Callback, expression) if !expression.starts_with("x-") => One(Node::PathItem),
        _ => Verbatim,
    }
}

/// The extracted document (not yet in canonical key order) plus non-fatal notes.
#[derive(Debug)]
pub struct Extracted {
    /// The self-contained document.
    pub doc: Value,
    /// Non-fatal notes, e.g. two sources merged into one component.
    pub warnings: Vec<String>,
}

/// Top-level keys every root must agree on (compared after prose is dropped).
const SHARED_TOP_KEYS: &[&str] = &["openapi", "servers", "security"];

/// Extracts the operations whose spec operationIds are `operation_ids` from the root documents
/// `roots` of `loader`. The first root gives `openapi`, `info`, `servers` and `security`; the
/// other roots must agree with it on all but `info`.
pub fn extract(
    loader: &mut Loader,
    roots: &[FileId],
    operation_ids: &[String],
) -> Result<Extracted> {
    let first = *roots.first().context("no root document given")?;
    let mut tops = Vec::with_capacity(roots.len());
    for &root in roots {
        let doc = loader.value(root);
        let top = doc
            .as_mapping()
            .with_context(|| {
                format!(
                    "{} is not an OpenAPI document (not a mapping)",
                    loader.display(root)
                )
            })?
            .clone();
        let version = top
            .get("openapi")
            .and_then(Value::as_str)
            .with_context(|| {
                format!(
                    "{} has no `openapi` version field; not an OpenAPI 3 document",
                    loader.display(root)
                )
            })?;
        if !version.starts_with("3.") {
            bail!(
                "{}: unsupported OpenAPI version {version} (expected 3.x)",
                loader.display(root)
            );
        }
        tops.push((root, top));
    }
    let shared_top = |top: &Mapping, key: &str| -> Option<Value> {
        let mut v = top.get(key)?.clone();
        if key == "servers" {
            strip_servers(&mut v);
        }
        Some(v)
    };
    for (root, top) in &tops[1..] {
        for key in SHARED_TOP_KEYS {
            if shared_top(top, key) != shared_top(&tops[0].1, key) {
                bail!(
                    "the root documents disagree on `{key}`: {} and {} (vendor them separately)",
                    loader.display(first),
                    loader.display(*root)
                );
            }
        }
    }

    let mut ex = Extractor {
        loader,
        roots: roots.to_vec(),
        names: HashMap::new(),
        taken: HashMap::new(),
        queue: VecDeque::new(),
        components: BTreeMap::new(),
        inlining: Vec::new(),
        pending: Vec::new(),
        warnings: Vec::new(),
    };

    let found = ex.find_operations(&tops, operation_ids)?;

    // Paths, sorted; each with only its allowlisted methods. A path may be split over roots.
    let mut by_path = BTreeMap::<&str, Vec<(Loc, BTreeSet<&str>)>>::new();
    for f in &found {
        let entries = by_path.entry(f.path.as_str()).or_default();
        match entries
            .iter_mut()
            .find(|(loc, _)| loc.file == f.entry_loc.file)
        {
            Some((_, methods)) => {
                methods.insert(f.method);
            }
            None => entries.push((f.entry_loc.clone(), BTreeSet::from([f.method]))),
        }
    }
    let mut paths = BTreeMap::<String, Value>::new();
    let mut tags_used = BTreeSet::<String>::new();
    for (path, entries) in &by_path {
        let mut merged = Mapping::new();
        let mut first_file: Option<FileId> = None;
        for (loc, methods) in entries {
            let item = ex
                .loader
                .target_value(&Target {
                    file: loc.file,
                    pointer: loc.pointer.clone(),
                })
                .context("path item vanished")?;
            let walked = ex.path_item(&item, loc, methods)?;
            for method in methods {
                if let Some(tags) = walked
                    .get(*method)
                    .and_then(|op| op.get("tags"))
                    .and_then(Value::as_sequence)
                {
                    tags_used.extend(tags.iter().filter_map(Value::as_str).map(str::to_owned));
                }
            }
            for (k, v) in walked {
                match merged.get(&k) {
                    Some(existing) if *existing != v => bail!(
                        "path {path} is defined differently in {} and {} (`{}`)",
                        ex.loader.display(first_file.unwrap_or(loc.file)),
                        ex.loader.display(loc.file),
                        key_str(&k).unwrap_or_default()
                    ),
                    _ => {
                        merged.insert(k, v);
                    }
                }
            }
            first_file.get_or_insert(loc.file);
        }
        paths.insert((*path).to_owned(), Value::Mapping(merged));
    }

    // All security schemes of every root are kept (they are few, and referenced by name).
    let mut scheme_origin: BTreeMap<String, FileId> = BTreeMap::new();
    for (root, top) in &tops {
        let Some(schemes) = top
            .get("components")
            .and_then(|c| c.get("securitySchemes"))
            .and_then(Value::as_mapping)
        else {
            continue;
        };
        let loc = Loc {
            file: *root,
            pointer: vec!["components".into(), "securitySchemes".into()],
        };
        for (name, scheme) in schemes {
            let name_str = key_str(name).context("security scheme with a non-string name")?;
            let walked = ex.walk(scheme, Node::SecurityScheme, &loc.child(&name_str))?;
            let section = ex.components.entry(Kind::SecuritySchemes).or_default();
            if let Some(existing) = section.get(&name_str) {
                if *existing != walked {
                    let other = scheme_origin.get(&name_str).copied().unwrap_or(*root);
                    bail!(
                        "securitySchemes `{name_str}` differs between {} and {}",
                        ex.loader.display(other),
                        ex.loader.display(*root)
                    );
                }
                continue;
            }
            section.insert(name_str.clone(), walked);
            scheme_origin.insert(name_str, *root);
        }
    }

    ex.drain_queue()?;
    ex.merge_duplicates(&mut paths)?;

    let top = &tops[0].1;
    let mut out = Mapping::new();
    for key in ["openapi", "info", "servers", "security"] {
        if let Some(v) = top.get(key) {
            let mut v = v.clone();
            match key {
                "info" => {
                    if let Some(info) = v.as_mapping_mut() {
                        info.remove("description");
                    }
                }
                "servers" => strip_servers(&mut v),
                _ => {}
            }
            out.insert(key.into(), v);
        }
    }
    let mut kept_tags: Vec<Value> = Vec::new();
    for (_, top) in &tops {
        for tag in top
            .get("tags")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let Some(name) = tag.get("name").and_then(Value::as_str) else {
                continue;
            };
            if !tags_used.contains(name)
                || kept_tags.iter().any(|t| t["name"].as_str() == Some(name))
            {
                continue;
            }
            let mut tag = tag.clone();
            if let Some(map) = tag.as_mapping_mut() {
                map.remove("description");
                strip_external_docs(map);
            }
            kept_tags.push(tag);
        }
    }
    if !kept_tags.is_empty() {
        out.insert("tags".into(), Value::Sequence(kept_tags));
    }
    out.insert(
        "paths".into(),
        Value::Mapping(paths.into_iter().map(|(k, v)| (k.into(), v)).collect()),
    );
    let mut components = Mapping::new();
    for (kind, entries) in std::mem::take(&mut ex.components) {
        components.insert(
            kind.key().into(),
            Value::Mapping(entries.into_iter().map(|(k, v)| (k.into(), v)).collect()),
        );
    }
    if !components.is_empty() {
        out.insert("components".into(), Value::Mapping(components));
    }
    Ok(Extracted {
        doc: Value::Mapping(out),
        warnings: ex.warnings,
    })
}

/// Drops the prose of a `servers` list (server and variable descriptions).
fn strip_servers(servers: &mut Value) {
    for server in servers.as_sequence_mut().into_iter().flatten() {
        let Some(server) = server.as_mapping_mut() else {
            continue;
        };
        server.remove("description");
        if let Some(vars) = server.get_mut("variables").and_then(Value::as_mapping_mut) {
            for (_, var) in vars.iter_mut() {
                if let Some(var) = var.as_mapping_mut() {
                    var.remove("description");
                }
            }
        }
    }
}

fn strip_external_docs(map: &mut Mapping) {
    if let Some(docs) = map.get_mut("externalDocs").and_then(Value::as_mapping_mut) {
        docs.remove("description");
    }
}

/// The neutral description a response gets in place of the published one: its status code
/// and reason phrase (`401 Unauthorized`), or `Response <name>`.
pub fn neutral_response_description(label: &str) -> String {
    match label.parse::<u16>() {
        Ok(code) => match crate::http::reason_phrase(code) {
            Some(reason) => format!("{code} {reason}"),
            None => format!("Status {code}"),
        },
        Err(_) => format!("Response {label}"),
    }
}

/// What, besides its own spelling, a component's name may take its word breaks from.
#[derive(Debug, Default)]
pub struct NameHints {
    /// The schema's `title`.
    pub title: Option<String>,
    /// Lower-case words seen in the component's content and where it is referenced
    /// (`localeOrigin` gives `locale`, `origin`).
    pub words: BTreeSet<String>,
}

/// The normalised name of a component called `raw` in section `kind`.
///
/// - A bundler's de-duplication suffix (`Source-2`) is dropped; the caller falls back to
///   [`normalize_name_keeping_suffix`] when the shorter name is taken.
/// - An all-lower-case name (`accountaggregationstatus`, a v1 file stem) gets its word breaks
///   from the title when the title spells the same letters, otherwise from `hints.words`
///   (the fewest words that spell it), otherwise it is only capitalised.
/// - Schemas, request bodies, examples, headers, links and callbacks are `PascalCase`,
///   parameters `camelCase`; status-code responses and security schemes keep their names.
pub fn normalize_name(kind: Kind, raw: &str, hints: &NameHints) -> String {
    normalize_name_keeping_suffix(kind, strip_bundler_suffix(raw), hints)
}

/// [`normalize_name`] without dropping a `-<digits>` suffix (`Source-2` → `Source2`).
pub fn normalize_name_keeping_suffix(kind: Kind, raw: &str, hints: &NameHints) -> String {
    match kind {
        // Referenced by name from security requirements: never renamed.
        Kind::SecuritySchemes => raw.to_owned(),
        Kind::Responses if is_status_key(raw) => raw.to_owned(),
        Kind::Parameters => {
            let pascal = pascal_name(raw, hints);
            let mut chars = pascal.chars();
            match chars.next() {
                Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
                None => pascal,
            }
        }
        _ => pascal_name(raw, hints),
    }
}

/// `Source-2` → `Source`: the suffix bundlers add to tell same-named schemas apart.
fn strip_bundler_suffix(raw: &str) -> &str {
    match raw.rsplit_once('-') {
        Some((base, n))
            if !base.is_empty()
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && base.chars().any(|c| c.is_ascii_alphabetic()) =>
        {
            base
        }
        _ => raw,
    }
}

/// `200`, `4XX`, `default`: response keys that are status codes (or ranges).
fn is_status_key(s: &str) -> bool {
    s == "default"
        || (s.len() == 3
            && s.starts_with(|c: char| c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_digit() || c == 'X' || c == 'x'))
}

fn pascal_name(raw: &str, hints: &NameHints) -> String {
    let letters = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let words: Vec<String> = match hints.title.as_deref() {
        Some(t) if !letters(raw).is_empty() && letters(t) == letters(raw) => split_words(t),
        _ => raw
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .flat_map(|w| {
                if w.chars().any(|c| c.is_ascii_uppercase()) {
                    vec![w.to_owned()]
                } else {
                    segment(w, &hints.words).unwrap_or_else(|| vec![w.to_owned()])
                }
            })
            .collect(),
    };
    let out: String = words
        .iter()
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect();
    if out.is_empty() { raw.to_owned() } else { out }
}

/// Splits on anything but ASCII letters and digits.
fn split_words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The lower-case words of `s`: split on other characters and at lower→upper case changes
/// (`localeOrigin` → `locale`, `origin`); words of one letter are left out.
pub fn words_of(s: &str, out: &mut BTreeSet<String>) {
    let mut word = String::new();
    let mut prev_lower = false;
    let mut flush = |word: &mut String| {
        if word.len() > 1 {
            out.insert(std::mem::take(word));
        } else {
            word.clear();
        }
    };
    for c in s.chars() {
        if c.is_ascii_alphabetic() {
            if c.is_ascii_uppercase() && prev_lower {
                flush(&mut word);
            }
            word.push(c.to_ascii_lowercase());
            prev_lower = c.is_ascii_lowercase();
        } else {
            flush(&mut word);
            prev_lower = false;
        }
    }
    flush(&mut word);
}

/// Every word of a YAML value: its keys and its string values.
fn words_of_value(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => words_of(s, out),
        Value::Mapping(m) => {
            for (k, v) in m {
                if let Some(k) = k.as_str() {
                    words_of(k, out);
                }
                words_of_value(v, out);
            }
        }
        Value::Sequence(seq) => seq.iter().for_each(|v| words_of_value(v, out)),
        Value::Tagged(t) => words_of_value(&t.value, out),
        _ => {}
    }
}

/// Spells the lower-case `s` with the fewest words of `vocabulary` (digit runs are words of
/// their own); `None` if it cannot, or if it is one word anyway.
fn segment(s: &str, vocabulary: &BTreeSet<String>) -> Option<Vec<String>> {
    let n = s.len();
    if !s.is_ascii() || n == 0 {
        return None;
    }
    // best[j]: (words, start of the last word) for the shortest spelling of s[..j].
    let mut best: Vec<Option<(usize, usize)>> = vec![None; n + 1];
    best[0] = Some((0, 0));
    for j in 1..=n {
        for i in 0..j {
            let Some((count, _)) = best[i] else { continue };
            let word = &s[i..j];
            let is_word = vocabulary.contains(word) || word.bytes().all(|b| b.is_ascii_digit());
            if is_word && best[j].is_none_or(|(c, _)| count + 1 < c) {
                best[j] = Some((count + 1, i));
            }
        }
    }
    let (count, _) = best[n]?;
    if count < 2 {
        return None;
    }
    let mut words = Vec::with_capacity(count);
    let mut j = n;
    while j > 0 {
        let (_, i) = best[j]?;
        words.push(s[i..j].to_owned());
        j = i;
    }
    words.reverse();
    Some(words)
}

struct FoundOperation {
    path: String,
    method: &'static str,
    /// Where the path item's entry is in its root (`#/paths/<path>`).
    entry_loc: Loc,
}

/// A name two different sources came out with: the second is walked under a provisional
/// name, and merged into the first if their vendored content is identical.
struct Pending {
    kind: Kind,
    name: String,
    provisional: String,
    first: Target,
    second: Target,
}

struct Extractor<'l> {
    loader: &'l mut Loader,
    roots: Vec<FileId>,
    /// Component name given to each reference target.
    names: HashMap<Target, (Kind, String)>,
    /// Which target owns each component name.
    taken: HashMap<(Kind, String), Target>,
    /// Components named but not yet walked.
    queue: VecDeque<(Kind, String, Target)>,
    components: BTreeMap<Kind, BTreeMap<String, Value>>,
    /// Targets being inlined right now (cycle guard).
    inlining: Vec<Target>,
    /// Name clashes to settle once everything is walked.
    pending: Vec<Pending>,
    warnings: Vec<String>,
}

impl Extractor<'_> {
    /// Finds each allowlisted operationId among the roots' paths. Path items that are
    /// `$ref`s to files that cannot be read are skipped here (a split root references many
    /// files that are not needed), and listed if an operation is missing.
    fn find_operations(
        &mut self,
        tops: &[(FileId, Mapping)],
        operation_ids: &[String],
    ) -> Result<Vec<FoundOperation>> {
        let mut found: BTreeMap<&str, FoundOperation> = BTreeMap::new();
        let mut unreadable = Vec::new();
        for (root, top) in tops {
            let root_loc = Loc {
                file: *root,
                pointer: vec!["paths".into()],
            };
            let Some(paths) = top.get("paths").and_then(Value::as_mapping) else {
                continue;
            };
            for (path, item) in paths {
                let Some(path) = path.as_str() else { continue };
                let entry_loc = root_loc.child(path);
                let mut loc = entry_loc.clone();
                let mut item = item.clone();
                // Follow path-item `$ref` chains (bounded).
                for _ in 0..16 {
                    let Some(r) = ref_of(&item) else { break };
                    match self.loader.resolve(loc.file, r) {
                        Ok(target) => {
                            item = self.loader.target_value(&target).unwrap_or(Value::Null);
                            loc = Loc::from(&target);
                        }
                        Err(e) => {
                            unreadable.push(format!(
                                "{path} in {} ({r}: {e:#})",
                                self.loader.display(*root)
                            ));
                            item = Value::Null;
                        }
                    }
                }
                for method in METHODS {
                    let Some(id) = item
                        .get(method)
                        .and_then(|op| op.get("operationId"))
                        .and_then(Value::as_str)
                    else {
                        continue;
                    };
                    let Some(wanted) = operation_ids.iter().find(|o| *o == id) else {
                        continue;
                    };
                    let this = FoundOperation {
                        path: path.to_owned(),
                        method,
                        entry_loc: entry_loc.clone(),
                    };
                    if let Some(prev) = found.insert(wanted.as_str(), this) {
                        bail!(
                            "operationId `{id}` appears twice: {} {} ({}) and {} {path} ({})",
                            prev.method.to_uppercase(),
                            prev.path,
                            self.loader.display(prev.entry_loc.file),
                            method.to_uppercase(),
                            self.loader.display(*root)
                        );
                    }
                }
            }
        }
        let missing: Vec<&str> = operation_ids
            .iter()
            .map(String::as_str)
            .filter(|o| !found.contains_key(o))
            .collect();
        if !missing.is_empty() {
            let searched: Vec<&str> = tops.iter().map(|(r, _)| self.loader.display(*r)).collect();
            let mut msg = format!(
                "allowlisted operation(s) not found in {}: {}",
                searched.join(", "),
                missing.join(", ")
            );
            if !unreadable.is_empty() {
                msg.push_str(&format!(
                    "\n{} path item(s) could not be read and were not searched, e.g.:",
                    unreadable.len()
                ));
                for u in unreadable.iter().take(5) {
                    msg.push_str(&format!("\n  {u}"));
                }
            }
            bail!(msg);
        }
        Ok(found.into_values().collect())
    }

    /// Walks a path item, keeping only the given methods and inlining a path-item `$ref`.
    fn path_item(&mut self, v: &Value, loc: &Loc, methods: &BTreeSet<&str>) -> Result<Mapping> {
        let Some(map) = v.as_mapping() else {
            bail!(
                "path item at {} is not a mapping",
                self.loader.describe(loc)
            );
        };
        let mut out = Mapping::new();
        if let Some(r) = ref_of(v) {
            let target = self.resolve(loc, r)?;
            let inner = self.target(&target, loc, r)?;
            self.enter(&target, loc, r)?;
            let walked = self.path_item(&inner, &Loc::from(&target), methods);
            self.inlining.pop();
            out = walked?;
        }
        for (k, val) in map {
            let Some(key) = k.as_str() else { continue };
            if key == "$ref" || key == "summary" || key == "description" {
                continue;
            }
            if METHODS.contains(&key) {
                if methods.contains(key) {
                    let op = self.walk(val, Node::Operation, &loc.child(key))?;
                    out.insert(k.clone(), op);
                }
            } else {
                let walked = self.walk_field(Node::PathItem, key, val, &loc.child(key))?;
                out.insert(k.clone(), walked);
            }
        }
        Ok(out)
    }

    /// Walks `v`, expected to be a `node`, returning it with references rewritten and its
    /// prose dropped.
    fn walk(&mut self, v: &Value, node: Node, loc: &Loc) -> Result<Value> {
        if node == Node::PathItem {
            // Path items in callbacks: every method is kept.
            return self
                .path_item(v, loc, &METHODS.into_iter().collect())
                .map(Value::Mapping);
        }
        if let Some(kind) = node.component()
            && let Some(r) = ref_of(v)
        {
            return self.reference(r, kind, loc);
        }
        let Some(map) = v.as_mapping() else {
            return Ok(v.clone());
        };
        let mut out = Mapping::with_capacity(map.len());
        for (k, val) in map {
            let walked = match (node, key_str(k)) {
                // Response codes are strings in OpenAPI; an unquoted `200` is normalised.
                (Node::Responses, Some(code)) if !code.starts_with("x-") => {
                    let walked = self.walk(val, Node::Response, &loc.child(&code))?;
                    out.insert(Value::String(code), walked);
                    continue;
                }
                (_, Some(key)) => self.walk_field(node, &key, val, &loc.child(&key))?,
                (_, None) => val.clone(),
            };
            out.insert(k.clone(), walked);
        }
        self.strip_prose(node, &mut out, loc);
        Ok(Value::Mapping(out))
    }

    /// Drops the published prose of one OpenAPI object (see the module documentation).
    fn strip_prose(&self, node: Node, out: &mut Mapping, loc: &Loc) {
        match node {
            Node::Operation | Node::PathItem | Node::Example => {
                out.remove("summary");
                out.remove("description");
            }
            Node::Parameter | Node::RequestBody | Node::Schema | Node::Header | Node::Link => {
                out.remove("description");
            }
            Node::Response => {
                let label = match loc.pointer.last() {
                    Some(last) => last.clone(),
                    None => self.loader.stem(loc.file),
                };
                out.insert(
                    "description".into(),
                    neutral_response_description(&label).into(),
                );
            }
            Node::SecurityScheme => {
                out.remove("description");
                for (_, flow) in out
                    .get_mut("flows")
                    .and_then(Value::as_mapping_mut)
                    .into_iter()
                    .flat_map(|flows| flows.iter_mut())
                {
                    if let Some(scopes) = flow.get_mut("scopes").and_then(Value::as_mapping_mut) {
                        for (scope, text) in scopes.iter_mut() {
                            *text = scope.clone();
                        }
                    }
                }
            }
            Node::Responses | Node::MediaType | Node::Encoding | Node::Callback => {}
        }
        strip_external_docs(out);
    }

    fn walk_field(&mut self, node: Node, key: &str, val: &Value, loc: &Loc) -> Result<Value> {
        match field(node, key) {
            Field::Verbatim => Ok(val.clone()),
            Field::One(n) => self.walk(val, n, loc),
            Field::SchemaOrBool if val.is_mapping() => self.walk(val, Node::Schema, loc),
            Field::SchemaOrBool => Ok(val.clone()),
            Field::MapOf(n) => {
                let Some(map) = val.as_mapping() else {
                    return Ok(val.clone());
                };
                let mut out = Mapping::with_capacity(map.len());
                for (k, v) in map {
                    let walked = match key_str(k) {
                        Some(name) if !name.starts_with("x-") || n == Node::Schema => {
                            self.walk(v, n, &loc.child(&name))?
                        }
                        _ => v.clone(),
                    };
                    out.insert(k.clone(), walked);
                }
                Ok(Value::Mapping(out))
            }
            Field::SeqOf(n) => {
                let Some(seq) = val.as_sequence() else {
                    return Ok(val.clone());
                };
                seq.iter()
                    .enumerate()
                    .map(|(i, v)| self.walk(v, n, &loc.index(i)))
                    .collect::<Result<Vec<_>>>()
                    .map(Value::Sequence)
            }
            Field::Discriminator => {
                let mut out = val.clone();
                if let Some(mapping) = out
                    .as_mapping_mut()
                    .and_then(|d| d.get_mut("mapping"))
                    .and_then(Value::as_mapping_mut)
                {
                    for (k, v) in mapping.iter_mut() {
                        // Values are `$ref`s, or bare schema names (left alone).
                        if let Some(r) = v.as_str().filter(|s| s.contains('#') || s.contains('.')) {
                            let label = key_str(k).unwrap_or_default();
                            let rewritten = self.reference(
                                r,
                                Kind::Schemas,
                                &loc.child("mapping").child(&label),
                            )?;
                            if let Some(new) = ref_of(&rewritten) {
                                *v = Value::String(new.to_owned());
                            }
                        }
                    }
                }
                Ok(out)
            }
        }
    }

    /// Rewrites a `$ref` found at `loc` where a `kind` is expected: to a component
    /// reference, or inlined.
    fn reference(&mut self, r: &str, kind: Kind, loc: &Loc) -> Result<Value> {
        let target = self.resolve(loc, r)?;
        if let Some((k, name)) = self.component_for(&target, kind, loc, r)? {
            let mut out = Mapping::new();
            out.insert("$ref".into(), component_ref(k, &name).into());
            return Ok(Value::Mapping(out));
        }
        // Not a component: inline a copy.
        let inner = self.target(&target, loc, r)?;
        self.enter(&target, loc, r)?;
        let walked = self.walk(&inner, kind.node(), &Loc::from(&target));
        self.inlining.pop();
        walked
    }

    /// What a target's name may take its word breaks from: its title (schemas), and the words
    /// of its content and of the place that references it.
    fn hints_for(&self, kind: Kind, target: &Target, referenced_at: &Loc) -> NameHints {
        let value = self.loader.target_value(target);
        let title = value
            .as_ref()
            .filter(|_| kind == Kind::Schemas)
            .and_then(|v| v.get("title"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut words = BTreeSet::new();
        if let Some(v) = &value {
            words_of_value(v, &mut words);
        }
        for segment in &referenced_at.pointer {
            words_of(segment, &mut words);
        }
        NameHints { title, words }
    }

    /// The component a target becomes (`None`: inline it), naming and queueing it on first use.
    fn component_for(
        &mut self,
        target: &Target,
        kind: Kind,
        loc: &Loc,
        r: &str,
    ) -> Result<Option<(Kind, String)>> {
        if let Some(named) = self.names.get(target) {
            return self.check_kind(named.clone(), kind, loc, r).map(Some);
        }
        let (k, raw, canonical) = match target.pointer.as_slice() {
            [c, section, raw] if c == "components" => {
                let Some(k) = Kind::from_key(section) else {
                    bail!(
                        "$ref `{r}` at {} points into unknown section components/{section}",
                        self.loader.describe(loc)
                    );
                };
                let alias = self.same_name_file(target, k, raw, loc);
                (k, raw.clone(), alias.unwrap_or_else(|| target.clone()))
            }
            [] if !self.roots.contains(&target.file) => {
                (kind, self.loader.stem(target.file), target.clone())
            }
            _ => return Ok(None),
        };
        let k = self.check_kind((k, raw.clone()), kind, loc, r)?.0;
        if let Some(named) = self.names.get(&canonical).cloned() {
            let named = self.check_kind(named, kind, loc, r)?;
            self.names.insert(target.clone(), named.clone());
            return Ok(Some(named));
        }
        let hints = self.hints_for(k, &canonical, loc);
        let mut name = normalize_name(k, &raw, &hints);
        let with_suffix = normalize_name_keeping_suffix(k, &raw, &hints);
        if with_suffix != name && self.taken.contains_key(&(k, name.clone())) {
            // The bundler's suffix told two schemas apart, and both are needed: keep it.
            self.warnings.push(format!(
                "{} `{name}` names another source; {} keeps its suffix as `{with_suffix}`",
                k.key(),
                self.loader.describe(&Loc::from(&canonical))
            ));
            name = with_suffix;
        }
        let unique = match self.taken.get(&(k, name.clone())) {
            None => name,
            Some(owner) => {
                // Another source already has this name: walk this one under a provisional
                // name (a space never occurs in a normalised name) and settle it at the end.
                let provisional = format!("{name} ({})", self.pending.len() + 2);
                self.pending.push(Pending {
                    kind: k,
                    name,
                    provisional: provisional.clone(),
                    first: owner.clone(),
                    second: canonical.clone(),
                });
                provisional
            }
        };
        let named = (k, unique.clone());
        self.taken.insert(named.clone(), canonical.clone());
        self.names.insert(canonical.clone(), named.clone());
        self.names.insert(target.clone(), named.clone());
        self.queue.push_back((k, unique, canonical));
        Ok(Some(named))
    }

    /// A root component that is only a `$ref` to a whole external file with the same name as
    /// the component (`Foo: {$ref: ./schemas/Foo.yaml}`) is that file.
    fn same_name_file(
        &mut self,
        target: &Target,
        kind: Kind,
        raw: &str,
        loc: &Loc,
    ) -> Option<Target> {
        let value = self.loader.target_value(target)?;
        let r = ref_of(&value)?;
        if value.as_mapping().map(Mapping::len) != Some(1) {
            return None;
        }
        // An unresolvable `$ref` is reported with its location when the component is walked.
        let file_target = self.loader.resolve(target.file, r).ok()?;
        if !file_target.pointer.is_empty() || file_target.file == target.file {
            return None;
        }
        let stem = self.loader.stem(file_target.file);
        let hints = self.hints_for(kind, &file_target, loc);
        let same =
            stem == raw || normalize_name(kind, &stem, &hints) == normalize_name(kind, raw, &hints);
        same.then_some(file_target)
    }

    fn check_kind(
        &self,
        named: (Kind, String),
        expected: Kind,
        loc: &Loc,
        r: &str,
    ) -> Result<(Kind, String)> {
        if named.0 != expected {
            bail!(
                "$ref `{r}` at {} points to {} `{}` where one of {} is expected",
                self.loader.describe(loc),
                named.0.key(),
                named.1,
                expected.key()
            );
        }
        Ok(named)
    }

    fn resolve(&mut self, loc: &Loc, r: &str) -> Result<Target> {
        match self.loader.resolve(loc.file, r) {
            Ok(t) => Ok(t),
            Err(e) => bail!(
                "unresolvable $ref `{r}` at {}: {e:#}",
                self.loader.describe(loc)
            ),
        }
    }

    fn target(&self, target: &Target, loc: &Loc, r: &str) -> Result<Value> {
        self.loader
            .target_value(target)
            .with_context(|| format!("unresolvable $ref `{r}` at {}", self.loader.describe(loc)))
    }

    fn enter(&mut self, target: &Target, loc: &Loc, r: &str) -> Result<()> {
        if self.inlining.contains(target) || self.inlining.len() > 64 {
            bail!(
                "$ref `{r}` at {} is recursive and cannot be inlined (only references to components or whole files may be recursive)",
                self.loader.describe(loc)
            );
        }
        self.inlining.push(target.clone());
        Ok(())
    }

    /// Walks every queued component (walking may queue more).
    fn drain_queue(&mut self) -> Result<()> {
        while let Some((kind, name, target)) = self.queue.pop_front() {
            let loc = Loc::from(&target);
            let value = self.loader.target_value(&target).with_context(|| {
                format!(
                    "{}#{} vanished",
                    self.loader.display(target.file),
                    pointer_string(&target.pointer)
                )
            })?;
            let walked = self.walk(&value, kind.node(), &loc)?;
            self.components
                .entry(kind)
                .or_default()
                .insert(name, walked);
        }
        Ok(())
    }

    /// Settles name clashes: two sources with the same name and identical vendored content
    /// become one component (references to the second are pointed at the first); different
    /// content is an error naming both sources.
    ///
    /// Every clash is assumed to merge while comparing, so components that reference each
    /// other (or themselves) compare equal when they are equal up to those merges.
    fn merge_duplicates(&mut self, paths: &mut BTreeMap<String, Value>) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let renames: HashMap<String, String> = self
            .pending
            .iter()
            .map(|p| {
                (
                    component_ref(p.kind, &p.provisional),
                    component_ref(p.kind, &p.name),
                )
            })
            .collect();
        for section in self.components.values_mut() {
            for value in section.values_mut() {
                rename_refs(value, &renames);
            }
        }
        for p in &self.pending {
            let section = self.components.get(&p.kind);
            let first = section.and_then(|s| s.get(&p.name));
            let second = section.and_then(|s| s.get(&p.provisional));
            if first != second {
                bail!(
                    "{} `{}` comes from two sources with different content: {} and {} (rename one of them, or make them identical)",
                    p.kind.key(),
                    p.name,
                    self.loader.describe(&Loc::from(&p.first)),
                    self.loader.describe(&Loc::from(&p.second))
                );
            }
            self.warnings.push(format!(
                "{} `{}`: {} and {} are identical; vendored once",
                p.kind.key(),
                p.name,
                self.loader.describe(&Loc::from(&p.first)),
                self.loader.describe(&Loc::from(&p.second))
            ));
        }
        for p in std::mem::take(&mut self.pending) {
            if let Some(section) = self.components.get_mut(&p.kind) {
                section.remove(&p.provisional);
            }
        }
        for value in paths.values_mut() {
            rename_refs(value, &renames);
        }
        Ok(())
    }
}

/// `#/components/<kind>/<name>`.
fn component_ref(kind: Kind, name: &str) -> String {
    format!("#/components/{}/{}", kind.key(), escape_segment(name))
}

/// Replaces every string equal to a key of `renames` (a component reference) by its value.
fn rename_refs(v: &mut Value, renames: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(new) = renames.get(s.as_str()) {
                *s = new.clone();
            }
        }
        Value::Mapping(m) => m.iter_mut().for_each(|(_, v)| rename_refs(v, renames)),
        Value::Sequence(seq) => seq.iter_mut().for_each(|v| rename_refs(v, renames)),
        Value::Tagged(t) => rename_refs(&mut t.value, renames),
        _ => {}
    }
}

/// The `$ref` string of a reference object.
pub fn ref_of(v: &Value) -> Option<&str> {
    v.as_mapping()?.get("$ref")?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(title: Option<&str>, words: &[&str]) -> NameHints {
        NameHints {
            title: title.map(str::to_owned),
            words: words.iter().map(|w| (*w).to_owned()).collect(),
        }
    }

    #[test]
    fn names_are_normalised_per_section() {
        let s = Kind::Schemas;
        let none = NameHints::default();
        assert_eq!(
            normalize_name(
                s,
                "accountaggregationstatus",
                &hints(Some("Account Aggregation Status"), &[])
            ),
            "AccountAggregationStatus"
        );
        // A title with other letters gives no word breaks; the words seen may.
        assert_eq!(
            normalize_name(s, "taskstatus", &hints(Some("Status of a task"), &[])),
            "Taskstatus"
        );
        assert_eq!(
            normalize_name(
                s,
                "localeorigin",
                &hints(None, &["an", "indicator", "locale", "origin", "or", "ig"])
            ),
            "LocaleOrigin"
        );
        assert_eq!(
            normalize_name(s, "ErrorResponseDto", &none),
            "ErrorResponseDto"
        );
        assert_eq!(
            normalize_name(s, "reference-2", &hints(Some("Reference"), &[])),
            "Reference"
        );
        assert_eq!(normalize_name(s, "Source-2", &none), "Source");
        assert_eq!(
            normalize_name_keeping_suffix(s, "Source-2", &none),
            "Source2"
        );
        assert_eq!(
            normalize_name(Kind::Parameters, "limit50", &none),
            "limit50"
        );
        assert_eq!(normalize_name(Kind::Parameters, "Limit", &none), "limit");
        assert_eq!(
            normalize_name(Kind::Parameters, "page-size", &none),
            "pageSize"
        );
        assert_eq!(normalize_name(Kind::Responses, "401", &none), "401");
        assert_eq!(normalize_name(Kind::Responses, "4XX", &none), "4XX");
        assert_eq!(
            normalize_name(Kind::Responses, "not-found", &none),
            "NotFound"
        );
        assert_eq!(
            normalize_name(Kind::SecuritySchemes, "user_auth", &none),
            "user_auth"
        );
    }

    #[test]
    fn segmentation_uses_the_fewest_words() {
        let vocab: BTreeSet<String> = ["source", "sources", "feature", "features", "our", "ce"]
            .iter()
            .map(|w| (*w).to_owned())
            .collect();
        assert_eq!(
            segment("sourcefeature", &vocab),
            Some(vec!["source".to_owned(), "feature".to_owned()])
        );
        assert_eq!(
            segment("limit50", &["limit".to_owned()].into_iter().collect()),
            Some(vec!["limit".to_owned(), "50".to_owned()])
        );
        assert_eq!(segment("source", &vocab), None);
        assert_eq!(segment("sourcexyz", &vocab), None);
        let mut words = BTreeSet::new();
        words_of("localeOrigin: An *indicator* of X-Request", &mut words);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        assert_eq!(
            words,
            ["an", "indicator", "locale", "of", "origin", "request"]
        );
    }

    #[test]
    fn neutral_descriptions() {
        assert_eq!(neutral_response_description("401"), "401 Unauthorized");
        assert_eq!(neutral_response_description("299"), "Status 299");
        assert_eq!(
            neutral_response_description("NotFound"),
            "Response NotFound"
        );
    }
}

//! Extraction of the allowlisted operations and their transitive closure into one
//! self-contained document.
//!
//! The input is walked with knowledge of the OpenAPI 3.0 object structure (path item →
//! operation → parameters / request body / responses → media types → schemas …), so every
//! `$ref` is interpreted by where it sits, and values such as `example`, `default` and `enum`
//! are copied verbatim. References become internal `#/components/<kind>/<name>` refs:
//!
//! - a root component `#/components/<kind>/<name>` keeps its name;
//! - a whole external file becomes `<kind>/<file stem>` (kind from where the `$ref` sits), and
//!   a root component that is nothing but a `$ref` to a file of the same stem is that file;
//! - `#/components/<kind>/<name>` inside an external file becomes `<kind>/<name>`;
//! - anything else (a pointer into a path, a property …) and path items are inlined.

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
    pub doc: Value,
    pub warnings: Vec<String>,
}

/// Extracts the operations named in `operations` from the document `root` of `loader`.
pub fn extract(loader: &mut Loader, root: FileId, operations: &[String]) -> Result<Extracted> {
    let doc = loader.value(root);
    let top = doc
        .as_mapping()
        .context("the input is not an OpenAPI document (not a mapping)")?;
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
        bail!("unsupported OpenAPI version {version} (expected 3.x)");
    }

    let mut ex = Extractor {
        loader,
        root,
        names: HashMap::new(),
        taken: HashMap::new(),
        queue: VecDeque::new(),
        components: BTreeMap::new(),
        inlining: Vec::new(),
        warnings: Vec::new(),
    };

    let found = ex.find_operations(top, operations)?;

    // Paths, sorted; each with only its allowlisted methods.
    let mut paths = BTreeMap::<String, Value>::new();
    let mut tags_used = BTreeSet::<String>::new();
    let mut by_path = BTreeMap::<&str, (Loc, BTreeSet<&str>)>::new();
    for f in &found {
        by_path
            .entry(f.path.as_str())
            .or_insert_with(|| (f.entry_loc.clone(), BTreeSet::new()))
            .1
            .insert(f.method);
    }
    for (path, (loc, methods)) in &by_path {
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
        paths.insert((*path).to_owned(), Value::Mapping(walked));
    }

    // All security schemes are kept.
    if let Some(schemes) = top
        .get("components")
        .and_then(|c| c.get("securitySchemes"))
        .and_then(Value::as_mapping)
    {
        let loc = Loc {
            file: root,
            pointer: vec!["components".into(), "securitySchemes".into()],
        };
        for (name, scheme) in schemes {
            let name_str = key_str(name).context("security scheme with a non-string name")?;
            let walked = ex.walk(scheme, Node::SecurityScheme, &loc.child(&name_str))?;
            ex.components
                .entry(Kind::SecuritySchemes)
                .or_default()
                .insert(name_str, walked);
        }
    }

    ex.drain_queue()?;

    let mut out = Mapping::new();
    for key in ["openapi", "info", "servers", "security"] {
        if let Some(v) = top.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(tags) = top.get("tags").and_then(Value::as_sequence) {
        let kept: Vec<Value> = tags
            .iter()
            .filter(|t| {
                t.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| tags_used.contains(n))
            })
            .cloned()
            .collect();
        if !kept.is_empty() {
            out.insert("tags".into(), Value::Sequence(kept));
        }
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

struct FoundOperation {
    path: String,
    method: &'static str,
    /// Where the path item's entry is in the root (`#/paths/<path>`).
    entry_loc: Loc,
}

struct Extractor<'l> {
    loader: &'l mut Loader,
    root: FileId,
    /// Component name given to each reference target.
    names: HashMap<Target, (Kind, String)>,
    /// Which target owns each component name.
    taken: HashMap<(Kind, String), Target>,
    /// Components named but not yet walked.
    queue: VecDeque<(Kind, String, Target)>,
    components: BTreeMap<Kind, BTreeMap<String, Value>>,
    /// Targets being inlined right now (cycle guard).
    inlining: Vec<Target>,
    warnings: Vec<String>,
}

impl Extractor<'_> {
    /// Finds each allowlisted operationId among the root's paths. Path items that are
    /// `$ref`s to files that cannot be read are skipped here (a split root references many
    /// files that are not needed), and listed if an operation is missing.
    fn find_operations(
        &mut self,
        top: &Mapping,
        operations: &[String],
    ) -> Result<Vec<FoundOperation>> {
        let root_loc = Loc {
            file: self.root,
            pointer: vec!["paths".into()],
        };
        let mut found: BTreeMap<&str, FoundOperation> = BTreeMap::new();
        let mut unreadable = Vec::new();
        if let Some(paths) = top.get("paths").and_then(Value::as_mapping) {
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
                            unreadable.push(format!("{path} ({r}: {e:#})"));
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
                    let Some(wanted) = operations.iter().find(|o| *o == id) else {
                        continue;
                    };
                    let this = FoundOperation {
                        path: path.to_owned(),
                        method,
                        entry_loc: entry_loc.clone(),
                    };
                    if let Some(prev) = found.insert(wanted.as_str(), this) {
                        bail!(
                            "operationId `{id}` appears twice: {} {} and {} {path}",
                            prev.method.to_uppercase(),
                            prev.path,
                            method.to_uppercase()
                        );
                    }
                }
            }
        }
        let missing: Vec<&str> = operations
            .iter()
            .map(String::as_str)
            .filter(|o| !found.contains_key(o))
            .collect();
        if !missing.is_empty() {
            let mut msg = format!(
                "allowlisted operation(s) not found in {}: {}",
                self.loader.display(self.root),
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
            if key == "$ref" {
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

    /// Walks `v`, expected to be a `node`, returning it with references rewritten.
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
        Ok(Value::Mapping(out))
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
            out.insert(
                "$ref".into(),
                format!("#/components/{}/{}", k.key(), escape_segment(&name)).into(),
            );
            return Ok(Value::Mapping(out));
        }
        // Not a component: inline a copy.
        let inner = self.target(&target, loc, r)?;
        self.enter(&target, loc, r)?;
        let walked = self.walk(&inner, kind.node(), &Loc::from(&target));
        self.inlining.pop();
        walked
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
        let (k, name, canonical) = match target.pointer.as_slice() {
            [c, section, name] if c == "components" => {
                let Some(k) = Kind::from_key(section) else {
                    bail!(
                        "$ref `{r}` at {} points into unknown section components/{section}",
                        self.loader.describe(loc)
                    );
                };
                let alias = self.same_name_file(target, name);
                (k, name.clone(), alias.unwrap_or_else(|| target.clone()))
            }
            [] if target.file != self.root => (kind, self.loader.stem(target.file), target.clone()),
            _ => return Ok(None),
        };
        let k = self.check_kind((k, name.clone()), kind, loc, r)?.0;
        if let Some(named) = self.names.get(&canonical).cloned() {
            let named = self.check_kind(named, kind, loc, r)?;
            self.names.insert(target.clone(), named.clone());
            return Ok(Some(named));
        }
        let mut unique = name.clone();
        let mut n = 2;
        while self.taken.contains_key(&(k, unique.clone())) {
            unique = format!("{name}{n}");
            n += 1;
        }
        if unique != name {
            self.warnings.push(format!(
                "{} `{name}` already names another target; {} is named `{unique}`",
                k.key(),
                self.loader.describe(&Loc::from(&canonical))
            ));
        }
        let named = (k, unique.clone());
        self.taken.insert(named.clone(), canonical.clone());
        self.names.insert(canonical.clone(), named.clone());
        self.names.insert(target.clone(), named.clone());
        self.queue.push_back((k, unique, canonical));
        Ok(Some(named))
    }

    /// A root component that is only a `$ref` to a whole external file with the same stem as
    /// the component name (`Foo: {$ref: ./schemas/Foo.yaml}`) is that file.
    fn same_name_file(&mut self, target: &Target, name: &str) -> Option<Target> {
        let value = self.loader.target_value(target)?;
        let r = ref_of(&value)?;
        if value.as_mapping().map(Mapping::len) != Some(1) {
            return None;
        }
        // An unresolvable `$ref` is reported with its location when the component is walked.
        let file_target = self.loader.resolve(target.file, r).ok()?;
        let same = file_target.pointer.is_empty()
            && file_target.file != target.file
            && self.loader.stem(file_target.file) == name;
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
}

/// The `$ref` string of a reference object.
pub fn ref_of(v: &Value) -> Option<&str> {
    v.as_mapping()?.get("$ref")?.as_str()
}

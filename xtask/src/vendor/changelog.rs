//! Contract changelog between the previously vendored document and the new one.
//!
//! Operations are matched by operationId. Parameters, request bodies and responses are
//! compared after following their `$ref`s; schemas are compared structurally down to references
//! to named schemas, and named schemas (`components/schemas`) are compared once each, so a
//! change in a shared schema is reported once, under its name.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

use super::extract::{METHODS, ref_of};
use super::load::{lookup, parse_pointer};

const EXPERIMENTAL_HEADER: &str = "X-SailPoint-Experimental";
const SCHEMA_PREFIX: &str = "#/components/schemas/";

/// One line per contract change between `old` (absent: nothing vendored yet) and `new`, each
/// prefixed with the API name. Empty when there are no changes.
pub fn changelog(api: &str, old: Option<&Value>, new: &Value) -> Vec<String> {
    let empty = Value::Mapping(Default::default());
    let old = Doc(old.unwrap_or(&empty));
    let new = Doc(new);
    let mut lines = Vec::new();

    let old_ops = old.operations();
    let new_ops = new.operations();
    for (id, o) in &old_ops {
        if !new_ops.contains_key(id) {
            lines.push(format!(
                "{api} {id}: operation removed ({} {})",
                o.method.to_uppercase(),
                o.path
            ));
        }
    }
    for (id, n) in &new_ops {
        match old_ops.get(id) {
            None => lines.push(format!(
                "{api} {id}: operation added ({} {})",
                n.method.to_uppercase(),
                n.path
            )),
            Some(o) => {
                for change in operation_changes(old, o, new, n) {
                    lines.push(format!("{api} {id}: {change}"));
                }
            }
        }
    }

    let old_schemas = old.named_schemas();
    let new_schemas = new.named_schemas();
    for name in old_schemas.keys().filter(|n| !new_schemas.contains_key(*n)) {
        lines.push(format!("{api} schema {name}: removed"));
    }
    for (name, n) in &new_schemas {
        match old_schemas.get(name) {
            None => lines.push(format!("{api} schema {name}: added")),
            Some(o) => {
                let mut changes = Vec::new();
                schema_changes(old, o, new, n, String::new(), 0, &mut changes);
                for (path, change) in changes {
                    lines.push(format!("{api} schema {name}{path}: {change}"));
                }
            }
        }
    }
    lines
}

/// A document and `$ref` resolution inside it.
#[derive(Clone, Copy)]
struct Doc<'a>(&'a Value);

struct Operation<'a> {
    method: &'static str,
    path: &'a str,
    op: &'a Value,
    path_parameters: Option<&'a Value>,
}

impl<'a> Doc<'a> {
    /// Follows internal `$ref`s (a bounded number of times); unresolvable ones stay as they are.
    fn deref(self, mut v: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(target) = ref_of(v)
                .and_then(|r| r.strip_prefix('#'))
                .and_then(|p| parse_pointer(p).ok())
                .and_then(|p| lookup(self.0, &p))
            else {
                break;
            };
            v = target;
        }
        v
    }

    /// Operations by operationId (`METHOD path` when it has none).
    fn operations(self) -> BTreeMap<String, Operation<'a>> {
        let mut out = BTreeMap::new();
        let Some(paths) = self.0.get("paths").and_then(Value::as_mapping) else {
            return out;
        };
        for (path, item) in paths {
            let Some(path) = path.as_str() else { continue };
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let id = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{} {path}", method.to_uppercase()));
                out.insert(
                    id,
                    Operation {
                        method,
                        path,
                        op,
                        path_parameters: item.get("parameters"),
                    },
                );
            }
        }
        out
    }

    fn named_schemas(self) -> BTreeMap<String, &'a Value> {
        self.0
            .get("components")
            .and_then(|c| c.get("schemas"))
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Effective parameters of an operation (path-level ones overridden by operation-level
    /// ones), keyed by name, or by `name (in)` where a name is used in two locations.
    fn parameters(self, op: &Operation<'a>) -> BTreeMap<String, &'a Value> {
        let mut by_name_in: BTreeMap<(String, String), &'a Value> = BTreeMap::new();
        for list in [op.path_parameters, op.op.get("parameters")]
            .into_iter()
            .flatten()
        {
            for p in list.as_sequence().into_iter().flatten() {
                let p = self.deref(p);
                let name = str_field(p, "name").to_owned();
                let location = str_field(p, "in").to_owned();
                by_name_in.insert((name, location), p);
            }
        }
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for (name, _) in by_name_in.keys() {
            *count.entry(name).or_default() += 1;
        }
        by_name_in
            .iter()
            .map(|((name, location), p)| {
                let key = if count.get(name.as_str()) == Some(&1) {
                    name.clone()
                } else {
                    format!("{name} ({location})")
                };
                (key, *p)
            })
            .collect()
    }
}

fn operation_changes<'a>(
    old: Doc<'a>,
    o: &Operation<'a>,
    new: Doc<'a>,
    n: &Operation<'a>,
) -> Vec<String> {
    let mut out = Vec::new();
    if (o.method, o.path) != (n.method, n.path) {
        out.push(format!(
            "moved from {} {} to {} {}",
            o.method.to_uppercase(),
            o.path,
            n.method.to_uppercase(),
            n.path
        ));
    }
    match (flag(o.op, "deprecated"), flag(n.op, "deprecated")) {
        (false, true) => out.push("now deprecated".into()),
        (true, false) => out.push("no longer deprecated".into()),
        _ => {}
    }
    // Tags decide how generators group operations.
    let (ot, nt) = (o.op.get("tags"), n.op.get("tags"));
    if ot != nt {
        out.push(format!(
            "tags changed from {} to {}",
            show_list(ot),
            show_list(nt)
        ));
    }
    let (os, ns) = (o.op.get("security"), n.op.get("security"));
    if os != ns {
        out.push(format!(
            "security changed from {} to {}",
            show_security(os),
            show_security(ns)
        ));
    }

    // Parameters.
    let (op_params, np_params) = (old.parameters(o), new.parameters(n));
    for (key, p) in &op_params {
        if !np_params.contains_key(key) {
            let mut line = format!(
                "parameter {} ({}) removed",
                str_field(p, "name"),
                str_field(p, "in")
            );
            if is_experimental_header(p) {
                line.push_str(" — experimental header removed");
            }
            out.push(line);
        }
    }
    for (key, np) in &np_params {
        let name = str_field(np, "name");
        let location = str_field(np, "in");
        let Some(op) = op_params.get(key) else {
            let required = if flag(np, "required") {
                ", required"
            } else {
                ""
            };
            let mut line = format!("parameter {name} ({location}{required}) added");
            if is_experimental_header(np) {
                line.push_str(" — experimental header added");
            }
            out.push(line);
            continue;
        };
        let old_location = str_field(op, "in");
        if old_location != location {
            out.push(format!(
                "parameter {name}: location changed from {old_location} to {location}"
            ));
        }
        match (flag(op, "required"), flag(np, "required")) {
            (false, true) => out.push(format!("parameter {name} ({location}): now required")),
            (true, false) => out.push(format!("parameter {name} ({location}): no longer required")),
            _ => {}
        }
        if let (Some(os), Some(ns)) = (op.get("schema"), np.get("schema")) {
            let mut changes = Vec::new();
            schema_changes(old, os, new, ns, String::new(), 0, &mut changes);
            for (path, change) in changes {
                out.push(format!(
                    "parameter {name} ({location}) schema{path}: {change}"
                ));
            }
        }
    }

    // Request body.
    let ob = o.op.get("requestBody").map(|b| old.deref(b));
    let nb = n.op.get("requestBody").map(|b| new.deref(b));
    match (ob, nb) {
        (Some(_), None) => out.push("request body removed".into()),
        (None, Some(b)) => {
            let required = if flag(b, "required") {
                " (required)"
            } else {
                ""
            };
            out.push(format!("request body added{required}"));
        }
        (Some(ob), Some(nb)) => {
            match (flag(ob, "required"), flag(nb, "required")) {
                (false, true) => out.push("request body now required".into()),
                (true, false) => out.push("request body no longer required".into()),
                _ => {}
            }
            content_changes(old, ob, new, nb, "request body", &mut out);
        }
        (None, None) => {}
    }

    // Responses.
    static NONE: Value = Value::Null;
    let (or, nr) = (
        o.op.get("responses").unwrap_or(&NONE),
        n.op.get("responses").unwrap_or(&NONE),
    );
    let codes = |r: &'a Value| -> BTreeMap<String, &'a Value> {
        r.as_mapping()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((super::load::key_str(k)?, v)))
                    .filter(|(k, _)| !k.starts_with("x-"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (oc, nc) = (codes(or), codes(nr));
    for code in oc.keys().filter(|c| !nc.contains_key(*c)) {
        out.push(format!("response {code} removed"));
    }
    for (code, nv) in &nc {
        match oc.get(code) {
            None => out.push(format!("response {code} added")),
            Some(ov) => {
                let (ov, nv) = (old.deref(ov), new.deref(nv));
                content_changes(old, ov, new, nv, &format!("response {code}"), &mut out);
            }
        }
    }
    out
}

/// Media types added / removed, and schema changes per common media type.
fn content_changes<'a>(
    old: Doc<'a>,
    o: &'a Value,
    new: Doc<'a>,
    n: &'a Value,
    what: &str,
    out: &mut Vec<String>,
) {
    let media = |v: &'a Value| -> BTreeMap<String, &'a Value> {
        v.get("content")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (om, nm) = (media(o), media(n));
    for mt in om.keys().filter(|m| !nm.contains_key(*m)) {
        out.push(format!("{what} media type {mt} removed"));
    }
    for (mt, nv) in &nm {
        let Some(ov) = om.get(mt) else {
            out.push(format!("{what} media type {mt} added"));
            continue;
        };
        match (ov.get("schema"), nv.get("schema")) {
            (Some(os), Some(ns)) => {
                let mut changes = Vec::new();
                schema_changes(old, os, new, ns, String::new(), 0, &mut changes);
                for (path, change) in changes {
                    out.push(format!("{what} {mt}{path}: {change}"));
                }
            }
            (None, Some(_)) => out.push(format!("{what} {mt}: schema added")),
            (Some(_), None) => out.push(format!("{what} {mt}: schema removed")),
            (None, None) => {}
        }
    }
}

/// Structural schema comparison. `path` is `.prop`, `[]` (items), `.*` (additional properties)
/// or `.allOf[i]` relative to the schema being compared. Stops at references to the same named
/// schema (those are compared once, by name).
fn schema_changes<'a>(
    old: Doc<'a>,
    o: &'a Value,
    new: Doc<'a>,
    n: &'a Value,
    path: String,
    depth: usize,
    out: &mut Vec<(String, String)>,
) {
    if depth > 32 {
        return;
    }
    let (or, nr) = (ref_of(o), ref_of(n));
    let (o, n) = match (or, nr) {
        (Some(a), Some(b)) if a == b => return,
        (Some(a), Some(b)) => {
            out.push((
                path,
                format!("schema changed from {} to {}", ref_name(a), ref_name(b)),
            ));
            return;
        }
        // Inline on one side only: compare with the referenced schema's content.
        _ => (old.deref(o), new.deref(n)),
    };

    for key in ["type", "format"] {
        match (o.get(key).map(show), n.get(key).map(show)) {
            (Some(a), Some(b)) if a != b => {
                out.push((path.clone(), format!("{key} changed from {a} to {b}")))
            }
            (None, Some(b)) => out.push((path.clone(), format!("{key} {b} added"))),
            (Some(a), None) => out.push((path.clone(), format!("{key} {a} removed"))),
            _ => {}
        }
    }
    match (flag(o, "nullable"), flag(n, "nullable")) {
        (false, true) => out.push((path.clone(), "now nullable".into())),
        (true, false) => out.push((path.clone(), "no longer nullable".into())),
        _ => {}
    }
    match (
        o.get("enum").and_then(Value::as_sequence),
        n.get("enum").and_then(Value::as_sequence),
    ) {
        (Some(a), Some(b)) => {
            for v in a.iter().filter(|v| !b.contains(v)) {
                out.push((path.clone(), format!("enum value {} removed", show(v))));
            }
            for v in b.iter().filter(|v| !a.contains(v)) {
                out.push((path.clone(), format!("enum value {} added", show(v))));
            }
        }
        (None, Some(b)) => {
            let values: Vec<String> = b.iter().map(show).collect();
            out.push((path.clone(), format!("enum added ({})", values.join(", "))));
        }
        (Some(_), None) => out.push((path.clone(), "enum removed".into())),
        (None, None) => {}
    }

    // Properties.
    let props = |v: &'a Value| -> BTreeMap<String, &'a Value> {
        v.get("properties")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((super::load::key_str(k)?, v)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let required = |v: &Value| -> BTreeSet<String> {
        v.get("required")
            .and_then(Value::as_sequence)
            .map(|s| {
                s.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let (op, np) = (props(o), props(n));
    let (oreq, nreq) = (required(o), required(n));
    for name in op.keys().filter(|k| !np.contains_key(*k)) {
        out.push((path.clone(), format!("property {name} removed")));
    }
    for (name, nv) in &np {
        let child = format!("{path}.{name}");
        match op.get(name) {
            None => {
                let req = if nreq.contains(name) {
                    ", required"
                } else {
                    ""
                };
                out.push((
                    path.clone(),
                    format!("property {name} added ({}{req})", describe_schema(new, nv)),
                ));
            }
            Some(ov) => {
                match (oreq.contains(name), nreq.contains(name)) {
                    (false, true) => out.push((child.clone(), "now required".into())),
                    (true, false) => out.push((child.clone(), "no longer required".into())),
                    _ => {}
                }
                schema_changes(old, ov, new, nv, child, depth + 1, out);
            }
        }
    }

    // Items, additional properties, compositions.
    match (o.get("items"), n.get("items")) {
        (Some(a), Some(b)) => schema_changes(old, a, new, b, format!("{path}[]"), depth + 1, out),
        (None, Some(_)) => out.push((path.clone(), "items added".into())),
        (Some(_), None) => out.push((path.clone(), "items removed".into())),
        (None, None) => {}
    }
    match (o.get("additionalProperties"), n.get("additionalProperties")) {
        (Some(a), Some(b)) if a.is_mapping() && b.is_mapping() => {
            schema_changes(old, a, new, b, format!("{path}.*"), depth + 1, out)
        }
        (a, b) if a != b => out.push((
            path.clone(),
            format!(
                "additionalProperties changed from {} to {}",
                show_additional(old, a),
                show_additional(new, b)
            ),
        )),
        _ => {}
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        let (a, b) = (
            o.get(key).and_then(Value::as_sequence),
            n.get(key).and_then(Value::as_sequence),
        );
        let (a, b) = (
            a.map(Vec::as_slice).unwrap_or_default(),
            b.map(Vec::as_slice).unwrap_or_default(),
        );
        if a.len() != b.len() {
            out.push((
                path.clone(),
                format!("{key} has {} entries (was {})", b.len(), a.len()),
            ));
        }
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            schema_changes(old, x, new, y, format!("{path}.{key}[{i}]"), depth + 1, out);
        }
    }
}

fn is_experimental_header(p: &Value) -> bool {
    str_field(p, "in") == "header" && str_field(p, "name").eq_ignore_ascii_case(EXPERIMENTAL_HEADER)
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn ref_name(r: &str) -> &str {
    r.strip_prefix(SCHEMA_PREFIX).unwrap_or(r)
}

/// A short description of a schema for "added" lines: `string`, `AccountAggregationStatus`, `object` …
fn describe_schema(doc: Doc<'_>, v: &Value) -> String {
    if let Some(r) = ref_of(v) {
        return ref_name(r).to_owned();
    }
    let v = doc.deref(v);
    match (v.get("type").map(show), v.get("format").map(show)) {
        (Some(t), Some(f)) => format!("{t}, {f}"),
        (Some(t), None) => t,
        _ => "untyped".into(),
    }
}

fn show_additional(doc: Doc<'_>, v: Option<&Value>) -> String {
    match v {
        None => "unset".into(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(v) => describe_schema(doc, v),
    }
}

fn show_list(v: Option<&Value>) -> String {
    let items: Vec<String> = v
        .and_then(Value::as_sequence)
        .map(|s| s.iter().map(show).collect())
        .unwrap_or_default();
    format!("[{}]", items.join(", "))
}

fn show_security(v: Option<&Value>) -> String {
    let Some(list) = v.and_then(Value::as_sequence) else {
        return "(global)".into();
    };
    if list.is_empty() {
        return "none".into();
    }
    list.iter()
        .map(|req| {
            req.as_mapping()
                .map(|m| {
                    m.iter()
                        .map(|(k, scopes)| {
                            let scopes: Vec<String> = scopes
                                .as_sequence()
                                .map(|s| s.iter().map(show).collect())
                                .unwrap_or_default();
                            format!("{}[{}]", show(k), scopes.join(", "))
                        })
                        .collect::<Vec<_>>()
                        .join(" + ")
                })
                .unwrap_or_else(|| show(req))
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// A scalar for humans: strings bare unless they would read as another type (`"true"`).
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let reads_as_other = s.is_empty()
                || !matches!(serde_yaml::from_str::<Value>(s), Ok(Value::String(ref t)) if t == s);
            if reads_as_other {
                format!("{s:?}")
            } else {
                s.clone()
            }
        }
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => serde_json::to_string(other).unwrap_or_else(|_| "?".into()),
    }
}

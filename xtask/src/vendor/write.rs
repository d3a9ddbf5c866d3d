//! Canonical key order and YAML output.
//!
//! The document, path items, operations and the components section get a fixed key order (the
//! order of the OpenAPI specification, unknown keys such as `x-…` extensions after, sorted);
//! paths, response codes and component names are sorted. Everything below (parameters,
//! schemas, examples …) keeps the order of the input, which for a given input is fixed.
//!
//! serde_yaml writes YAML 1.2, where `2021-01-31T14:30:05.104Z` or `on` are plain strings; YAML
//! 1.1 readers (PyYAML, SnakeYAML, js-yaml's timestamps) would turn them into dates or booleans.
//! Such scalars are single-quoted after serialisation, and the result is checked to read back
//! as the same document.

use anyhow::{Context, Result, bail};
use serde_yaml::{Mapping, Value};

use super::extract::{Kind, METHODS};

const DOCUMENT_KEYS: &[&str] = &[
    "openapi",
    "info",
    "servers",
    "paths",
    "components",
    "security",
    "tags",
    "externalDocs",
];

const PATH_ITEM_KEYS: &[&str] = &[
    "summary",
    "description",
    "servers",
    "parameters",
    "get",
    "put",
    "post",
    "delete",
    "options",
    "head",
    "patch",
    "trace",
];

const OPERATION_KEYS: &[&str] = &[
    "tags",
    "summary",
    "description",
    "externalDocs",
    "operationId",
    "parameters",
    "requestBody",
    "responses",
    "callbacks",
    "deprecated",
    "security",
    "servers",
];

/// Serialises the document in canonical order, after a comment header.
pub fn to_yaml(doc: &Value, header: &str) -> Result<String> {
    let canonical = canonical(doc);
    let body =
        quote_yaml11_scalars(&serde_yaml::to_string(&canonical).context("serialising YAML")?);
    let reread: Value = serde_yaml::from_str(&body).context("re-reading the written YAML")?;
    if reread != canonical {
        bail!("internal error: the written YAML does not read back as the extracted document");
    }
    let mut out = String::with_capacity(header.len() + body.len() + 1);
    for line in header.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&body);
    Ok(out)
}

/// The document with its structural keys in canonical order.
pub fn canonical(doc: &Value) -> Value {
    let Some(top) = doc.as_mapping() else {
        return doc.clone();
    };
    let mut out = ordered(top, DOCUMENT_KEYS);
    if let Some(paths) = out.get_mut("paths").and_then(Value::as_mapping_mut) {
        let mut entries: Vec<(Value, Value)> = std::mem::take(paths).into_iter().collect();
        entries.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
        for (_, item) in &mut entries {
            *item = path_item(item);
        }
        *paths = entries.into_iter().collect();
    }
    if let Some(components) = out.get_mut("components").and_then(Value::as_mapping_mut) {
        let keys: Vec<&str> = Kind::ALL.iter().map(|k| k.key()).collect();
        let mut sorted = ordered(components, &keys);
        for (_, section) in sorted.iter_mut() {
            if let Some(entries) = section.as_mapping_mut() {
                sort_by_key(entries, |k| k.to_owned());
            }
        }
        *components = sorted;
    }
    Value::Mapping(out)
}

fn path_item(item: &Value) -> Value {
    let Some(map) = item.as_mapping() else {
        return item.clone();
    };
    let mut out = ordered(map, PATH_ITEM_KEYS);
    for method in METHODS {
        if let Some(op) = out.get_mut(method) {
            *op = operation(op);
        }
    }
    Value::Mapping(out)
}

fn operation(op: &Value) -> Value {
    let Some(map) = op.as_mapping() else {
        return op.clone();
    };
    let mut out = ordered(map, OPERATION_KEYS);
    if let Some(responses) = out.get_mut("responses").and_then(Value::as_mapping_mut) {
        // Status codes ascending (`2XX` after `299`), then `default`, then extensions.
        sort_by_key(responses, |code| {
            let rank = match code {
                "default" => 1,
                c if c.starts_with("x-") => 2,
                _ => 0,
            };
            (rank, code.to_owned())
        });
    }
    Value::Mapping(out)
}

/// `map` with `known` keys first in that order, then the other keys sorted.
fn ordered(map: &Mapping, known: &[&str]) -> Mapping {
    let mut out = Mapping::with_capacity(map.len());
    for key in known {
        if let Some(v) = map.get(*key) {
            out.insert((*key).into(), v.clone());
        }
    }
    let mut rest: Vec<(&Value, &Value)> = map
        .iter()
        .filter(|(k, _)| !k.as_str().is_some_and(|k| known.contains(&k)))
        .collect();
    rest.sort_by_key(|(k, _)| sort_text(k));
    for (k, v) in rest {
        out.insert(k.clone(), v.clone());
    }
    out
}

fn sort_by_key<K: Ord>(map: &mut Mapping, key: impl Fn(&str) -> K) {
    let mut entries: Vec<(Value, Value)> = std::mem::take(map).into_iter().collect();
    entries.sort_by_cached_key(|(k, _)| key(&sort_text(k)));
    *map = entries.into_iter().collect();
}

fn sort_text(key: &Value) -> String {
    super::load::key_str(key).unwrap_or_default()
}

/// Single-quotes plain scalars (mapping keys and values, sequence items) that a YAML 1.1
/// reader would not read as strings. Works on serde_yaml's output: one scalar per line except
/// literal blocks (`|`, `|-`, `|+`), whose content lines are left alone.
fn quote_yaml11_scalars(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    // Indentation of the line that opened the literal block we are in.
    let mut block: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(opened) = block {
            if line.trim().is_empty() || indent > opened {
                out.push_str(line);
                out.push('\n');
                continue;
            }
            block = None;
        }
        let (rewritten, opens_block) = quote_line(line, indent);
        if opens_block {
            block = Some(indent);
        }
        out.push_str(&rewritten);
        out.push('\n');
    }
    out
}

/// Quotes the plain key and/or value of one line; also says whether it opens a literal block.
fn quote_line(line: &str, indent: usize) -> (String, bool) {
    let (lead, mut rest) = line.split_at(indent);
    let mut out = lead.to_owned();
    while let Some(r) = rest.strip_prefix("- ") {
        out.push_str("- ");
        rest = r;
    }
    if rest == "-" {
        out.push('-');
        return (out, false);
    }
    let (key, value) = match split_plain_key(rest) {
        Some((k, v)) => (Some(k), v),
        None => (None, rest),
    };
    if let Some(key) = key {
        out.push_str(&quote_if_ambiguous(key));
        out.push(':');
        if value.is_empty() {
            return (out, false);
        }
        out.push(' ');
    }
    let value = value.strip_prefix(' ').unwrap_or(value);
    let opens_block = value.starts_with('|') || value.starts_with('>');
    if opens_block || value.starts_with(['\'', '"', '{', '[', '&', '*', '!']) {
        out.push_str(value);
    } else {
        out.push_str(&quote_if_ambiguous(value));
    }
    (out, opens_block)
}

/// `key: value` with a plain key: the key and what follows the colon (may be empty). Quoted
/// keys are returned as such (never ambiguous).
fn split_plain_key(s: &str) -> Option<(&str, &str)> {
    if let Some(quote) = s.chars().next().filter(|c| *c == '\'' || *c == '"') {
        // A quoted key: find the closing quote (`''` / `\"` inside are escapes).
        let bytes = s.as_bytes();
        let mut i = 1;
        while i < bytes.len() {
            let b = bytes[i];
            if quote == '"' && b == b'\\' {
                i += 2;
                continue;
            }
            if b == quote as u8 {
                if quote == '\'' && bytes.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                let after = &s[i + 1..];
                return after
                    .strip_prefix(':')
                    .filter(|v| v.is_empty() || v.starts_with(' '))
                    .map(|v| (&s[..=i], v));
            }
            i += 1;
        }
        return None;
    }
    if let Some(pos) = s.find(": ") {
        return Some((&s[..pos], &s[pos + 1..]));
    }
    s.strip_suffix(':').map(|k| (k, ""))
}

fn quote_if_ambiguous(scalar: &str) -> String {
    if is_yaml11_non_string(scalar) {
        format!("'{}'", scalar.replace('\'', "''"))
    } else {
        scalar.to_owned()
    }
}

/// Plain scalars that YAML 1.1 resolves to a boolean, a timestamp or a sexagesimal /
/// underscored number, but YAML 1.2 (and serde_yaml) to a string.
fn is_yaml11_non_string(s: &str) -> bool {
    const BOOLS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF",
    ];
    if BOOLS.contains(&s) {
        return true;
    }
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    // Timestamp: YYYY-M(M)-D(D), optionally followed by [Tt ]time...
    let date_len = {
        let mut parts = s.splitn(3, '-');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(y), Some(m), Some(rest))
                if y.len() == 4 && digits(y) && (1..=2).contains(&m.len()) && digits(m) =>
            {
                let day_len = rest.bytes().take_while(u8::is_ascii_digit).count();
                (1..=2)
                    .contains(&day_len)
                    .then_some(4 + 1 + m.len() + 1 + day_len)
            }
            _ => None,
        }
    };
    if let Some(len) = date_len {
        let tail = &s[len..];
        if tail.is_empty() || tail.starts_with(['T', 't', ' ', '\t']) {
            return true;
        }
    }
    // Sexagesimal (`1:30`) and underscored (`1_000`) numbers.
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let numeric = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_digit() || b == b'_' || b == b'.')
    };
    if unsigned.contains(':')
        && unsigned.split(':').all(numeric)
        && unsigned.starts_with(|c: char| c.is_ascii_digit())
    {
        return true;
    }
    unsigned.contains('_')
        && numeric(unsigned)
        && unsigned.starts_with(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_structural_keys() {
        let doc: Value = serde_yaml::from_str(
            r#"
components: {schemas: {B: {}, A: {}}, responses: {}}
paths:
  /b: {post: {responses: {default: {}, '404': {}, '200': {}}, operationId: b, tags: [t]}}
  /a: {parameters: [], get: {operationId: a}}
info: {title: t}
openapi: 3.0.1
"#,
        )
        .expect("yaml");
        let text = to_yaml(&doc, "header").expect("serialises");
        let expected = "\
# header
openapi: 3.0.1
info:
  title: t
paths:
  /a:
    parameters: []
    get:
      operationId: a
  /b:
    post:
      tags:
      - t
      operationId: b
      responses:
        '200': {}
        '404': {}
        default: {}
components:
  schemas:
    A: {}
    B: {}
  responses: {}
";
        assert_eq!(text, expected);
    }

    #[test]
    fn quotes_what_yaml_1_1_would_not_read_as_a_string() {
        let doc: Value = serde_yaml::from_str(
            r#"
openapi: 3.0.1
components:
  schemas:
    T:
      example: '2020-09-07T42:14:00.364Z'
      default: '2021-01-31'
      enum: ['on', 'off', 'yes', 'y', 'N', 'ON', 'online', '1:30', '1_000', '2021-01-31 x', 'a: on']
      description: "line one\non: 2020-01-01\n- yes\n"
      'yes': {x: 'no'}
      "it's": 'no'
      properties:
        on: {type: string}
"#,
        )
        .expect("yaml");
        let text = to_yaml(&doc, "h").expect("serialises");
        for quoted in [
            "example: '2020-09-07T42:14:00.364Z'",
            "default: '2021-01-31'",
            "- 'on'",
            "- 'ON'",
            "- online",
            "- '1:30'",
            "- '1_000'",
            "- '2021-01-31 x'",
            "'yes':",
            "x: 'no'",
            "'on':",
            "  on: 2020-01-01\n",
        ] {
            assert!(text.contains(quoted), "{quoted} in\n{text}");
        }
        // The literal block is untouched.
        assert!(text.contains("  - yes\n"), "{text}");
    }
}

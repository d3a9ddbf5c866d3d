//! Loading YAML documents and resolving `$ref`s across files.
//!
//! A `$ref` is `[file][#pointer]`: the file part is relative to the file the `$ref` sits in, the
//! pointer is a JSON pointer (RFC 6901, possibly percent-encoded as in a URI fragment). Files are
//! read lazily and cached, so only what a closure needs is ever read.

use std::collections::HashMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, Result, bail};
use serde_yaml::Value;

/// Index of a loaded file in a [`Loader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(usize);

/// Where a `$ref` points: a loaded file and a JSON pointer into it (unescaped segments).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub file: FileId,
    pub pointer: Vec<String>,
}

/// A location in a loaded file, for error messages and for resolving relative `$ref`s.
#[derive(Debug, Clone)]
pub struct Loc {
    pub file: FileId,
    pub pointer: Vec<String>,
}

impl Loc {
    pub fn child(&self, key: &str) -> Loc {
        let mut pointer = self.pointer.clone();
        pointer.push(key.to_owned());
        Loc {
            file: self.file,
            pointer,
        }
    }

    pub fn index(&self, i: usize) -> Loc {
        self.child(&i.to_string())
    }
}

impl From<&Target> for Loc {
    fn from(t: &Target) -> Loc {
        Loc {
            file: t.file,
            pointer: t.pointer.clone(),
        }
    }
}

struct LoadedFile {
    path: PathBuf,
    display: String,
    value: Rc<Value>,
}

/// Reads files once and resolves references between them.
pub struct Loader {
    base_dir: PathBuf,
    files: Vec<LoadedFile>,
    by_path: HashMap<PathBuf, FileId>,
}

impl Loader {
    /// Loads the entry documents (one or more root files); every file is shown relative to the
    /// deepest directory holding all of them.
    pub fn open(entries: &[PathBuf]) -> Result<(Loader, Vec<FileId>)> {
        if entries.is_empty() {
            bail!("no input document given");
        }
        let mut canonical = Vec::with_capacity(entries.len());
        for entry in entries {
            canonical.push(
                std::fs::canonicalize(entry)
                    .with_context(|| format!("cannot open {}", entry.display()))?,
            );
        }
        let base_dir = common_dir(&canonical);
        let mut loader = Loader {
            base_dir,
            files: Vec::new(),
            by_path: HashMap::new(),
        };
        let mut ids = Vec::with_capacity(canonical.len());
        for path in &canonical {
            let id = loader.load(path)?;
            if ids.contains(&id) {
                bail!("{} is given twice", loader.display(id));
            }
            ids.push(id);
        }
        Ok((loader, ids))
    }

    /// The parsed content of a file.
    pub fn value(&self, id: FileId) -> Rc<Value> {
        Rc::clone(&self.files[id.0].value)
    }

    /// The file path, relative to the entry document's directory when below it.
    pub fn display(&self, id: FileId) -> &str {
        &self.files[id.0].display
    }

    /// The file name without extension, e.g. `LoadAccountsTask` for `../schemas/LoadAccountsTask.yaml`.
    pub fn stem(&self, id: FileId) -> String {
        self.files[id.0]
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Renders a location as `file#/json/pointer`.
    pub fn describe(&self, loc: &Loc) -> String {
        format!(
            "{}#{}",
            self.display(loc.file),
            pointer_string(&loc.pointer)
        )
    }

    fn load(&mut self, path: &Path) -> Result<FileId> {
        let canonical = std::fs::canonicalize(path)
            .with_context(|| format!("file {} not found", self.show_path(path)))?;
        if let Some(&id) = self.by_path.get(&canonical) {
            return Ok(id);
        }
        let display = self.show_path(&canonical);
        let text = std::fs::read_to_string(&canonical)
            .with_context(|| format!("cannot read {display}"))?;
        let value: Value =
            serde_yaml::from_str(&text).with_context(|| format!("{display} is not valid YAML"))?;
        let id = FileId(self.files.len());
        self.files.push(LoadedFile {
            path: canonical.clone(),
            display,
            value: Rc::new(value),
        });
        self.by_path.insert(canonical, id);
        Ok(id)
    }

    fn show_path(&self, path: &Path) -> String {
        let path = normalize(path);
        match path.strip_prefix(&self.base_dir) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => path.display().to_string(),
        }
    }

    /// Resolves `reference` found in file `from`: loads the file it names (if any) and checks
    /// that the pointer exists. The error says what is missing; the caller adds where the
    /// `$ref` was found.
    pub fn resolve(&mut self, from: FileId, reference: &str) -> Result<Target> {
        let (file_part, fragment) = match reference.split_once('#') {
            Some((f, p)) => (f, p),
            None => (reference, ""),
        };
        if file_part.contains("://") {
            bail!("remote references are not supported");
        }
        let file = if file_part.is_empty() {
            from
        } else {
            let dir = self.files[from.0]
                .path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            self.load(&dir.join(percent_decode(file_part)))?
        };
        let pointer = parse_pointer(fragment)?;
        if lookup(&self.files[file.0].value, &pointer).is_none() {
            bail!(
                "{}#{} does not exist",
                self.display(file),
                pointer_string(&pointer)
            );
        }
        Ok(Target { file, pointer })
    }

    /// The value a (resolved) target points at.
    pub fn target_value(&self, target: &Target) -> Option<Value> {
        lookup(&self.files[target.file.0].value, &target.pointer).cloned()
    }
}

impl fmt::Debug for Loader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loader")
            .field("files", &self.files.len())
            .finish()
    }
}

/// Follows a JSON pointer (unescaped segments) into a value. Mapping keys that are not strings
/// (e.g. an unquoted response code `200`) match their scalar spelling.
pub fn lookup<'a>(mut value: &'a Value, pointer: &[String]) -> Option<&'a Value> {
    for seg in pointer {
        value = match value {
            Value::Mapping(map) => map
                .iter()
                .find(|(k, _)| key_str(k).as_deref() == Some(seg.as_str()))
                .map(|(_, v)| v)?,
            Value::Sequence(seq) => seq.get(seg.parse::<usize>().ok()?)?,
            Value::Tagged(tagged) => lookup(&tagged.value, std::slice::from_ref(seg))?,
            _ => return None,
        };
    }
    Some(value)
}

/// A mapping key as a string, if it is a scalar.
pub fn key_str(key: &Value) -> Option<String> {
    match key {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses a `$ref` fragment (`/a/b~1c`, possibly percent-encoded) into unescaped segments.
pub fn parse_pointer(fragment: &str) -> Result<Vec<String>> {
    let decoded = percent_decode(fragment);
    if decoded.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = decoded.strip_prefix('/') else {
        bail!("fragment `#{fragment}` is not a JSON pointer");
    };
    Ok(rest
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// Renders segments as a JSON pointer (`/a/b~1c`); empty for the whole document.
pub fn pointer_string(pointer: &[String]) -> String {
    pointer
        .iter()
        .map(|s| format!("/{}", escape_segment(s)))
        .collect()
}

/// Escapes one JSON pointer segment.
pub fn escape_segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            // Both digits are < 16, so this fits in a byte.
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The deepest directory that holds every one of `files` (canonical paths).
fn common_dir(files: &[PathBuf]) -> PathBuf {
    let mut dirs = files
        .iter()
        .map(|f| f.parent().map(Path::to_path_buf).unwrap_or_default());
    let mut common = dirs.next().unwrap_or_default();
    for dir in dirs {
        while !dir.starts_with(&common) {
            if !common.pop() {
                return PathBuf::new();
            }
        }
    }
    common
}

/// Removes `.` and `..` components without touching the file system (for messages about files
/// that do not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_round_trip() {
        let p = parse_pointer("/paths/~1sources~1%7Bid%7D/get").expect("valid pointer");
        assert_eq!(p, ["paths", "/sources/{id}", "get"]);
        assert_eq!(pointer_string(&p), "/paths/~1sources~1{id}/get");
        assert!(parse_pointer("").expect("empty").is_empty());
        assert!(parse_pointer("components").is_err());
    }

    #[test]
    fn lookup_matches_numeric_keys() {
        let v: Value =
            serde_yaml::from_str("responses:\n  200: {description: ok}\n").expect("yaml");
        let p = vec!["responses".to_owned(), "200".to_owned()];
        assert!(lookup(&v, &p).is_some());
    }

    #[test]
    fn common_dir_of_several_roots() {
        let files = [
            PathBuf::from("/a/apis/sources/openapi.yaml"),
            PathBuf::from("/a/apis/task-management/openapi.yaml"),
            PathBuf::from("/a/apis/account-aggregations/openapi.yaml"),
        ];
        assert_eq!(common_dir(&files), PathBuf::from("/a/apis"));
        assert_eq!(common_dir(&files[..1]), PathBuf::from("/a/apis/sources"));
    }

    #[test]
    fn normalize_keeps_leading_parents() {
        assert_eq!(
            normalize(Path::new("a/./b/../../../c")),
            PathBuf::from("../c")
        );
    }
}

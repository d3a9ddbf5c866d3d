//! The `batch` manifest: a TOML file of `[[aggregation]]` tables, checked completely before any
//! request, every problem reported with its line.
//!
//! ```toml
//! check = true                                     # optional default for every item
//!
//! [[aggregation]]
//! source_id = "2c9180835d2e5168015d32f890ca1581"   # or: source_name = "HR Feed"
//! kind = "accounts"                                # or "entitlements" (default accounts)
//! file = "exports/hr.csv"                          # omit for a direct-connect source
//! disable_optimization = false                     # optional, accounts only
//! check = false                                    # optional: check the file against the schema first
//! ```
//!
//! A `source_id` must pass the SDK's id rule ([`sailpoint_isc::check_id`]), so a bad one is
//! refused with its line before any request. Items of one source run one after the other, in
//! manifest order (the SDK's batch does it); the same source, kind and file twice is refused as
//! a likely mistake.
//!
//! The document is parsed with spans (`toml::de::DeTable`, every key and value a
//! `toml::Spanned`), so that each problem gets the line it is on, and syntax errors are
//! recovered from, so that one run lists them all.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use sailpoint_isc::{AccountsFile, AggregationKind, Error, check_id};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The table name of one item.
const TABLE: &str = "aggregation";
/// The keys an item may have.
const KEYS: &[&str] = &[
    "source_id",
    "source_name",
    "kind",
    "file",
    "disable_optimization",
    "check",
];
/// The keys allowed at the top level besides the items.
const TOP_LEVEL_KEYS: &[&str] = &["check"];

/// A file of a folder run (`batch --dir`) that is not aggregated, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    /// As shown: the folder given joined with its relative path.
    pub path: PathBuf,
    pub reason: String,
}

/// The items of a batch, checked: at least one, no aggregation twice, every file present and
/// readable. From a manifest ([`load`]) or a folder ([`crate::dir`]).
#[derive(Debug, Default)]
pub struct Manifest {
    pub items: Vec<ManifestItem>,
    /// What the items come from, for reports (`manifest nightly.toml`, `folder exports`).
    pub input: String,
    /// Entries of a folder that are not aggregated (`--dir`), and why.
    pub unmatched: Vec<Unmatched>,
}

impl Manifest {
    /// Sets `disable_optimization` on every accounts item (`batch --disable-optimization`).
    pub fn disable_optimization_everywhere(&mut self) {
        for item in &mut self.items {
            if item.kind == AggregationKind::Accounts {
                item.disable_optimization = true;
            }
        }
    }

    /// Sets `check` on every item that has a file (`batch --check`).
    pub fn check_every_file(&mut self) {
        for item in &mut self.items {
            if item.file.is_some() {
                item.check = true;
            }
        }
    }
}

/// One `[[aggregation]]` (or one file of a folder).
#[derive(Debug)]
pub struct ManifestItem {
    /// The line of its `[[aggregation]]` header (or inline table); `None` for an item found in a
    /// folder.
    pub line: Option<usize>,
    pub source: SourceRef,
    /// What it loads.
    pub kind: AggregationKind,
    /// The file as written in the manifest (or found in the folder), and as resolved against
    /// the manifest's folder.
    pub file: Option<ItemFile>,
    pub disable_optimization: bool,
    /// Check the file against the source's schema before sending it.
    pub check: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SourceRef {
    Id(String),
    Name(String),
}

#[derive(Debug)]
pub struct ItemFile {
    pub given: String,
    pub checked: AccountsFile,
}

/// A problem with the manifest, at a line when it has one (reading the file has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Reads and checks the manifest at `path`. Relative `file`s are resolved against its folder.
/// Sends nothing; the files are checked like the SDK checks them before an upload
/// ([`AccountsFile::open`]).
pub async fn load(path: &Path) -> Result<Manifest, Vec<Problem>> {
    let bytes = tokio::fs::read(path).await.map_err(|e| {
        vec![Problem {
            line: None,
            message: format!("cannot read the manifest {}: {e}", path.display()),
        }]
    })?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes());
            return Err(vec![Problem {
                line: Some(line_of(&text, at)),
                message: "not TOML: the manifest is not valid UTF-8".to_owned(),
            }]);
        }
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let mut manifest = check(&text, base).await?;
    manifest.input = format!("manifest {}", path.display());
    Ok(manifest)
}

/// Checks a manifest's text; `base` is the folder relative files are resolved against.
pub async fn check(text: &str, base: &Path) -> Result<Manifest, Vec<Problem>> {
    let mut problems = Problems {
        text,
        list: Vec::new(),
    };
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    let syntax_broken = !syntax_errors.is_empty();
    for error in &syntax_errors {
        let at = error.span().map_or(0, |span| span.start);
        problems.at(at, format!("not TOML: {}", one_line(error.message())));
    }

    let mut tables: Vec<(Range<usize>, &DeTable<'_>)> = Vec::new();
    let mut misshapen = false;
    // The top-level `check`: the default of every item with a file.
    let mut default_check = None;
    for (key, value) in root.get_ref().iter() {
        let name: &str = key.get_ref();
        if name == "check" {
            default_check = problems.boolean(name, value);
            continue;
        }
        if name != TABLE {
            problems.at(
                key.span().start,
                format!(
                    "unknown key `{name}` at the top level (a manifest holds [[{TABLE}]] tables \
                     and {}; a top-level key goes before the first [[{TABLE}]])",
                    TOP_LEVEL_KEYS
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            continue;
        }
        match value.get_ref() {
            DeValue::Array(array) => {
                for element in array.iter() {
                    match element.get_ref() {
                        DeValue::Table(table) => tables.push((element.span(), table)),
                        other => {
                            misshapen = true;
                            problems.at(
                                element.span().start,
                                format!("each `{TABLE}` must be a table, not {}", a_type(other)),
                            );
                        }
                    }
                }
            }
            DeValue::Table(_) => {
                misshapen = true;
                problems.at(
                    key.span().start,
                    format!(
                        "`{TABLE}` must be an array of tables: write [[{TABLE}]], not [{TABLE}]"
                    ),
                );
            }
            other => {
                misshapen = true;
                problems.at(
                    key.span().start,
                    format!(
                        "`{TABLE}` must be an array of tables ([[{TABLE}]]), not {}",
                        a_type(other)
                    ),
                );
            }
        }
    }
    // `aggregation = []`, or nothing at all (a broken document or a misshapen `aggregation` has
    // already been reported).
    if tables.is_empty() && !syntax_broken && !misshapen {
        problems.at(
            0,
            format!("no [[{TABLE}]] in the manifest: nothing to aggregate"),
        );
    }
    // Tables in the order they appear (a key-ordered map does not keep it for inline arrays
    // split over several keys; sorting by offset does).
    tables.sort_by_key(|(span, _)| span.start);

    let mut items = Vec::new();
    // The same aggregation (source, kind, file) twice is a likely mistake; the same source with
    // another kind or file runs after the first, in manifest order.
    let mut seen: HashMap<(SourceRef, AggregationKind, Option<PathBuf>), usize> = HashMap::new();
    for (span, table) in tables {
        let line = line_of(text, span.start);
        let checked = check_item(table, line, base, default_check, &mut problems).await;
        // Found even in items with other problems.
        let mut duplicate = false;
        if let (Some((source, source_line)), Some(kind)) = (&checked.source, checked.kind) {
            let file = checked.file_key.clone();
            let key = (source.clone(), kind, file);
            if let Some(first) = seen.get(&key) {
                duplicate = true;
                let (what, value) = match source {
                    SourceRef::Id(id) => ("source_id", id),
                    SourceRef::Name(name) => ("source_name", name),
                };
                let file = match &checked.file_given {
                    Some(given) => format!("file {given:?}"),
                    None => "no file".to_owned(),
                };
                problems.line(
                    *source_line,
                    format!(
                        "{what} {value:?} already appears at line {first} with the same kind \
                         and file ({kind}, {file}): the same aggregation twice is likely a \
                         mistake (another kind or file of a source runs after it, in order)"
                    ),
                );
            } else {
                seen.insert(key, *source_line);
            }
        }
        if let Some(item) = checked.item
            && !duplicate
        {
            items.push(item);
        }
    }
    if problems.list.is_empty() {
        Ok(Manifest {
            items,
            ..Manifest::default()
        })
    } else {
        let mut list = problems.list;
        list.sort_by_key(|p| p.line);
        Err(list)
    }
}

/// One `[[aggregation]]`, checked.
struct Checked {
    /// Its source and the line it is on, when it names exactly one.
    source: Option<(SourceRef, usize)>,
    /// Its kind, unless `kind` has a problem.
    kind: Option<AggregationKind>,
    /// Its file as given, and as it is compared with other items' (resolved, canonical when it
    /// exists), for finding the same aggregation twice.
    file_given: Option<String>,
    file_key: Option<PathBuf>,
    /// The item, when it has no problem (its problems are recorded otherwise).
    item: Option<ManifestItem>,
}

/// Checks one `[[aggregation]]`; `default_check` is the manifest's top-level `check`.
async fn check_item(
    table: &DeTable<'_>,
    line: usize,
    base: &Path,
    default_check: Option<bool>,
    problems: &mut Problems<'_>,
) -> Checked {
    let before = problems.list.len();
    let mut source_id = None;
    let mut source_name = None;
    let mut source_line = line;
    let mut file = None;
    let mut disable_optimization = None;
    let mut kind = Some(AggregationKind::Accounts);
    let mut check = None;
    for (key, value) in table.iter() {
        let name: &str = key.get_ref();
        let at = key.span().start;
        match name {
            "source_id" => {
                source_id = problems.source_id(value);
                source_line = line_of(problems.text, value.span().start);
            }
            "source_name" => {
                source_name = problems.non_empty_string(name, value);
                source_line = line_of(problems.text, value.span().start);
            }
            "file" => {
                if let Some(given) = problems.non_empty_string(name, value) {
                    file = Some((given, value.span().start));
                }
            }
            "disable_optimization" => {
                disable_optimization = problems
                    .boolean(name, value)
                    .map(|b| (b, value.span().start));
            }
            "check" => check = problems.boolean(name, value).map(|b| (b, at)),
            "kind" => kind = problems.kind(value),
            unknown => {
                let suggestion = KEYS
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(&unknown.replace('-', "_")))
                    .map(|k| format!("did you mean `{k}`? "))
                    .unwrap_or_default();
                problems.at(
                    at,
                    format!(
                        "unknown key `{unknown}` in [[{TABLE}]] ({suggestion}allowed: {})",
                        KEYS.join(", ")
                    ),
                );
            }
        }
    }
    let declared_id = table.get("source_id").is_some();
    let declared_name = table.get("source_name").is_some();
    let source = match (source_id, source_name) {
        (Some(id), None) => Some(SourceRef::Id(id)),
        (None, Some(name)) => Some(SourceRef::Name(name)),
        _ if declared_id && declared_name => {
            problems.line(
                line,
                "both source_id and source_name: give one of them".to_owned(),
            );
            None
        }
        _ if !declared_id && !declared_name => {
            problems.line(
                line,
                "neither source_id nor source_name: give one of them".to_owned(),
            );
            None
        }
        // One was given but had a problem (recorded).
        _ => None,
    };
    if let (Some((true, at)), Some(AggregationKind::Entitlements)) = (disable_optimization, kind) {
        problems.at(
            at,
            "`disable_optimization` applies to account aggregations, not to kind = \
             \"entitlements\""
                .to_owned(),
        );
    }
    if let (Some((true, at)), None) = (check, table.get("file")) {
        problems.at(
            at,
            "`check = true` needs a `file` to check (a direct-connect source has none)".to_owned(),
        );
    }
    let file_given = file.as_ref().map(|(given, _)| given.clone());
    let file_key = match &file {
        Some((given, _)) => {
            let path = resolve(base, given);
            Some(
                tokio::fs::canonicalize(&path)
                    .await
                    .unwrap_or_else(|_| path.components().collect()),
            )
        }
        None => None,
    };
    let file = match file {
        Some((given, at)) => {
            let path = resolve(base, &given);
            match AccountsFile::open(&path).await {
                Ok(checked) => Some(ItemFile { given, checked }),
                Err(Error::InvalidFile { problem, .. }) => {
                    let shown = if path == Path::new(&given) {
                        format!("{given:?}")
                    } else {
                        format!("{given:?} ({})", path.display())
                    };
                    problems.at(at, format!("file {shown}: {problem}"));
                    None
                }
                Err(other) => {
                    problems.at(at, format!("file {given:?}: {other}"));
                    None
                }
            }
        }
        None => None,
    };
    let source = source.map(|source| (source, source_line));
    let has_file = file.is_some();
    let item = match (&source, kind) {
        (Some((source, _)), Some(kind)) if problems.list.len() == before => Some(ManifestItem {
            line: Some(line),
            source: source.clone(),
            kind,
            file,
            disable_optimization: disable_optimization.is_some_and(|(b, _)| b),
            // An item's own `check` wins; the top-level default applies to items with a file.
            check: match check {
                Some((check, _)) => check,
                None => has_file && default_check.unwrap_or(false),
            },
        }),
        _ => None,
    };
    Checked {
        source,
        kind,
        file_given,
        file_key,
        item,
    }
}

/// `given` as is when absolute, else relative to the manifest's folder.
fn resolve(base: &Path, given: &str) -> PathBuf {
    let given = Path::new(given);
    if given.is_absolute() {
        given.to_path_buf()
    } else {
        base.join(given)
    }
}

struct Problems<'t> {
    text: &'t str,
    list: Vec<Problem>,
}

impl Problems<'_> {
    /// A problem at a byte offset.
    fn at(&mut self, offset: usize, message: String) {
        let line = line_of(self.text, offset);
        self.line(line, message);
    }

    fn line(&mut self, line: usize, message: String) {
        self.list.push(Problem {
            line: Some(line),
            message,
        });
    }

    /// The value as a source id that passes the SDK's rule; a problem otherwise.
    fn source_id(&mut self, value: &Spanned<DeValue<'_>>) -> Option<String> {
        match value.get_ref() {
            DeValue::String(s) => match check_id("source id", s) {
                Ok(()) => Some(s.to_string()),
                Err(error) => {
                    let message = match error {
                        Error::InvalidInput { message } => message,
                        other => other.to_string(),
                    };
                    self.at(value.span().start, format!("`source_id`: {message}"));
                    None
                }
            },
            other => {
                self.at(
                    value.span().start,
                    format!("`source_id` must be a string, not {}", a_type(other)),
                );
                None
            }
        }
    }

    /// The value as a boolean; a problem otherwise.
    fn boolean(&mut self, key: &str, value: &Spanned<DeValue<'_>>) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.at(
                    value.span().start,
                    format!("`{key}` must be true or false, not {}", a_type(other)),
                );
                None
            }
        }
    }

    /// The value as an aggregation kind; a problem otherwise.
    fn kind(&mut self, value: &Spanned<DeValue<'_>>) -> Option<AggregationKind> {
        match value.get_ref() {
            DeValue::String(s) => match s.parse::<AggregationKind>() {
                Ok(kind) => Some(kind),
                Err(_) => {
                    self.at(
                        value.span().start,
                        format!(
                            "`kind` {:?} is not a kind: write \"accounts\" or \"entitlements\"",
                            s.as_ref()
                        ),
                    );
                    None
                }
            },
            other => {
                self.at(
                    value.span().start,
                    format!(
                        "`kind` must be a string (\"accounts\" or \"entitlements\"), not {}",
                        a_type(other)
                    ),
                );
                None
            }
        }
    }

    /// The value as a string that is not blank; a problem otherwise.
    fn non_empty_string(&mut self, key: &str, value: &Spanned<DeValue<'_>>) -> Option<String> {
        match value.get_ref() {
            DeValue::String(s) if s.trim().is_empty() => {
                self.at(value.span().start, format!("`{key}` is empty"));
                None
            }
            DeValue::String(s) => Some(s.to_string()),
            other => {
                self.at(
                    value.span().start,
                    format!("`{key}` must be a string, not {}", a_type(other)),
                );
                None
            }
        }
    }
}

/// The 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// `a string`, `an integer`, … for messages.
fn a_type(value: &DeValue<'_>) -> String {
    let name = value.type_str();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

/// A parser message on one line (they can span several).
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        use std::hash::{BuildHasher, RandomState};
        let dir = std::env::temp_dir().join(format!(
            "isc-manifest-unit-{}-{:x}",
            std::process::id(),
            RandomState::new().hash_one(std::time::SystemTime::now())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn run(text: &str, base: &Path) -> Result<Manifest, Vec<Problem>> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(check(text, base))
    }

    #[test]
    fn lines_are_one_based() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
        assert_eq!(line_of("a\n", 99), 2);
    }

    #[test]
    fn a_good_manifest() {
        let dir = temp_dir();
        std::fs::write(dir.join("hr.csv"), "id\n1\n").unwrap();
        let text = "\
# comment
[[aggregation]]
source_id = \"abc\"
file = \"hr.csv\"

[[aggregation]]
source_name = \"HR Feed\"
disable_optimization = true

aggregation = []
";
        // A key after [[aggregation]] belongs to that table: this is an unknown key there.
        let problems = run(text, &dir).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].line, Some(10));

        let text = &text[..text.find("aggregation = []").unwrap()];
        let manifest = run(text, &dir).unwrap();
        assert_eq!(manifest.items.len(), 2);
        assert_eq!(manifest.items[0].line, Some(2));
        assert_eq!(manifest.items[0].kind, AggregationKind::Accounts);
        assert!(!manifest.items[0].check);
        assert_eq!(manifest.items[0].source, SourceRef::Id("abc".into()));
        let file = manifest.items[0].file.as_ref().unwrap();
        assert_eq!(file.checked.path(), dir.join("hr.csv"));
        assert_eq!(file.given, "hr.csv");
        assert!(!manifest.items[0].disable_optimization);
        assert_eq!(manifest.items[1].line, Some(6));
        assert_eq!(manifest.items[1].source, SourceRef::Name("HR Feed".into()));
        assert!(manifest.items[1].disable_optimization);
        assert!(manifest.items[1].file.is_none());
    }

    #[test]
    fn inline_tables_count_too() {
        let manifest = run(
            "aggregation = [{ source_id = \"a\" },\n { source_id = \"b\" }]\n",
            Path::new("."),
        )
        .unwrap();
        assert_eq!(manifest.items.len(), 2);
        assert_eq!(manifest.items[1].line, Some(2));
    }

    #[test]
    fn every_problem_with_its_line() {
        let dir = temp_dir();
        std::fs::write(dir.join("empty.csv"), "").unwrap();
        std::fs::write(dir.join("ok.csv"), "id\n1\n").unwrap();
        let text = "\
[[aggregation]]
source_id = \"a\"
sourc_name = \"x\"
[[aggregation]]
source_id = \"b\"
source_name = \"B\"
[[aggregation]]
file = \"ok.csv\"
[[aggregation]]
source_id = 42
[[aggregation]]
source_name = \"  \"
[[aggregation]]
source_id = \"c\"
file = \"missing.csv\"
[[aggregation]]
source_id = \"d\"
file = \"empty.csv\"
disable_optimization = \"yes\"
[[aggregation]]
source_id = \"a2\"
[[aggregation]]
source_id = \"a2\"
[[aggregation]]
source_name = \"N\"
[[aggregation]]
source_name = \"N\"
[[aggregation]]
source-id = \"e\"
[[aggregation]]
source_id = \"f\"
bogus = 1
[[aggregation]]
source_id = \"f\"
";
        let problems = run(text, &dir).unwrap_err();
        let lines: Vec<Option<usize>> = problems.iter().map(|p| p.line).collect();
        assert_eq!(
            lines,
            [3, 4, 7, 10, 12, 15, 18, 19, 23, 27, 28, 29, 32, 34]
                .map(Some)
                .to_vec(),
            "{problems:#?}"
        );
        let text_of = |line: usize| {
            problems
                .iter()
                .find(|p| p.line == Some(line))
                .unwrap()
                .message
                .clone()
        };
        assert!(text_of(3).contains("unknown key `sourc_name`"));
        assert!(text_of(4).contains("both source_id and source_name"));
        assert!(text_of(7).contains("neither"));
        assert!(text_of(10).contains("must be a string, not an integer"));
        assert!(text_of(12).contains("`source_name` is empty"));
        assert!(text_of(15).contains("does not exist"));
        assert!(text_of(18).contains("is empty"));
        assert!(text_of(19).contains("true or false"));
        assert!(text_of(23).contains("source_id \"a2\" already appears at line 21"));
        assert!(text_of(27).contains("source_name \"N\" already appears at line 25"));
        assert!(text_of(29).contains("did you mean `source_id`"));
        assert!(text_of(34).contains("source_id \"f\" already appears at line 31"));
    }

    #[test]
    fn source_ids_follow_the_sdk_rule_with_their_line() {
        let text = "\
[[aggregation]]
source_id = \"2c9180835d2e5168015d32f890ca1581\"
[[aggregation]]
source_id = \"has space\"
[[aggregation]]
source_id = \"a/b\"
[[aggregation]]
source_id = \"\"
[[aggregation]]
source_id = \"tab\\tinside\"
[[aggregation]]
source_id = \"fine_id-1\"
";
        let problems = run(text, Path::new(".")).unwrap_err();
        let lines: Vec<Option<usize>> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [4, 6, 8, 10].map(Some).to_vec(), "{problems:#?}");
        for problem in &problems {
            assert!(
                problem
                    .message
                    .starts_with("`source_id`: invalid source id"),
                "{problem}"
            );
        }
        assert!(
            problems[0].message.contains("whitespace"),
            "{}",
            problems[0]
        );
        assert!(problems[1].message.contains("'/'"), "{}", problems[1]);
        assert!(problems[2].message.contains("empty"), "{}", problems[2]);
        assert_eq!(
            problems[1].to_string(),
            "line 6: `source_id`: invalid source id \"a/b\": it contains whitespace, '/', '\\', \
             '?', '#' or '%'"
        );

        // In inline tables too: the line of the value.
        let problems = run(
            "aggregation = [\n  { source_id = \"ok\" },\n  { source_id = \"..\" },\n]\n",
            Path::new("."),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].line, Some(3));
        assert!(
            problems[0].message.contains("dot segment"),
            "{}",
            problems[0]
        );

        // Good ids pass; the check adds no problem of its own.
        let manifest = run(
            "[[aggregation]]\nsource_id = \"abc-123_x.y\"\n",
            Path::new("."),
        )
        .unwrap();
        assert_eq!(
            manifest.items[0].source,
            SourceRef::Id("abc-123_x.y".into())
        );
    }

    #[test]
    fn kinds_checks_and_the_same_source_in_order() {
        let dir = temp_dir();
        for name in ["hr.csv", "hr-groups.csv", "other.csv"] {
            std::fs::write(dir.join(name), "id\n1\n").unwrap();
        }
        let text = "\
check = true
[[aggregation]]
source_id = \"hr\"
file = \"hr.csv\"
[[aggregation]]
source_id = \"hr\"
kind = \"entitlements\"
file = \"hr-groups.csv\"
check = false
[[aggregation]]
source_id = \"hr\"
file = \"./other.csv\"
[[aggregation]]
source_id = \"direct\"
[[aggregation]]
source_id = \"direct\"
kind = \"Entitlements\"
";
        let manifest = run(text, &dir).unwrap();
        let summary: Vec<(AggregationKind, bool, bool)> = manifest
            .items
            .iter()
            .map(|i| (i.kind, i.check, i.file.is_some()))
            .collect();
        use AggregationKind::{Accounts, Entitlements};
        assert_eq!(
            summary,
            [
                (Accounts, true, true),
                (Entitlements, false, true),
                (Accounts, true, true),
                // The top-level default applies to items with a file only.
                (Accounts, false, false),
                (Entitlements, false, false),
            ]
        );

        let mut manifest = run("[[aggregation]]\nsource_id = \"a\"\nfile = \"hr.csv\"\n[[aggregation]]\nsource_id = \"b\"\n", &dir).unwrap();
        assert!(!manifest.items[0].check);
        manifest.check_every_file();
        assert!(manifest.items[0].check);
        assert!(!manifest.items[1].check, "nothing to check without a file");
        manifest.items[1].kind = AggregationKind::Entitlements;
        manifest.disable_optimization_everywhere();
        assert!(manifest.items[0].disable_optimization);
        assert!(!manifest.items[1].disable_optimization, "accounts only");
    }

    #[test]
    fn kind_problems_and_the_same_aggregation_twice() {
        let dir = temp_dir();
        std::fs::write(dir.join("hr.csv"), "id\n1\n").unwrap();
        let text = "\
[[aggregation]]
source_id = \"a\"
kind = \"groups\"
[[aggregation]]
source_id = \"b\"
kind = 1
[[aggregation]]
source_id = \"c\"
kind = \"entitlements\"
disable_optimization = true
[[aggregation]]
source_id = \"d\"
check = true
[[aggregation]]
source_id = \"e\"
check = \"yes\"
[[aggregation]]
source_id = \"f\"
file = \"hr.csv\"
[[aggregation]]
source_id = \"f\"
file = \"./hr.csv\"
[[aggregation]]
source_id = \"f\"
kind = \"entitlements\"
file = \"hr.csv\"
[[aggregation]]
source_id = \"f\"
file = \"hr.csv\"
kind = \"accounts\"
";
        let problems = run(text, &dir).unwrap_err();
        let lines: Vec<Option<usize>> = problems.iter().map(|p| p.line).collect();
        assert_eq!(
            lines,
            [3, 6, 10, 13, 16, 21, 28].map(Some).to_vec(),
            "{problems:#?}"
        );
        assert!(problems[0].message.contains("\"groups\" is not a kind"));
        assert!(problems[1].message.contains("must be a string"));
        assert!(
            problems[2]
                .message
                .contains("applies to account aggregations")
        );
        assert!(problems[3].message.contains("needs a `file`"));
        assert!(problems[4].message.contains("true or false"));
        assert!(
            problems[5]
                .message
                .starts_with("source_id \"f\" already appears at line 18 with the same kind and file (accounts, file \"./hr.csv\")"),
            "{}",
            problems[5]
        );
        assert!(
            problems[6].message.contains("at line 18"),
            "{}",
            problems[6]
        );

        let problems = run("check = 1\n[[aggregation]]\nsource_id = \"a\"\n", &dir).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(1));
        assert!(
            problems[0]
                .message
                .contains("`check` must be true or false")
        );
    }

    #[test]
    fn syntax_errors_and_shape() {
        let problems = run("[[aggregation]\nsource_id = \"a\"\n", Path::new(".")).unwrap_err();
        assert!(problems[0].message.starts_with("not TOML"), "{problems:?}");
        assert_eq!(problems[0].line, Some(1));

        let problems = run("# nothing\n", Path::new(".")).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("no [[aggregation]]"));

        let problems = run("[aggregation]\nsource_id = \"a\"\n", Path::new(".")).unwrap_err();
        assert!(problems[0].message.contains("write [[aggregation]]"));

        let problems = run("aggregations = 1\n", Path::new(".")).unwrap_err();
        assert!(problems[0].message.contains("unknown key `aggregations`"));
    }
}

//! `batch --dir DIR`: the items of a batch from the CSV files of a folder, named as SailPoint's
//! File Upload Utility expects: a file whose name begins with a source id (32 hex digits,
//! optionally after one white-space character) is loaded into that source.
//!
//! A file is an entitlements file when its name, after the id, has `entitlement(s)` or
//! `group(s)` as a word (`<id>-entitlements.csv`, `<id>_groups.csv`), or, with
//! `--entitlements-pattern GLOB`, when its name matches the pattern. Everything else is an
//! accounts file.
//!
//! Order: by path, except that a source's accounts files come before its entitlements files
//! (SailPoint's recommended order); the SDK runs the items of one source one after the other in
//! that order. Hidden files and folders are skipped; with `--recursive`, sub-folders are read, but
//! symbolic links to folders are not followed. Files that match nothing are listed, not refused.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use sailpoint_isc::{AccountsFile, AggregationKind, Error};

use crate::manifest::{ItemFile, Manifest, ManifestItem, SourceRef, Unmatched};

/// How entitlements files are told from accounts files.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EntitlementRule {
    /// The file name, after the source id, has `entitlement(s)` or `group(s)` as a word.
    #[default]
    Words,
    /// The file name matches this pattern.
    Pattern(Glob),
}

impl EntitlementRule {
    /// The kind of the file named `name`, whose source id ends at byte `id_end`.
    pub fn kind_of(&self, name: &str, id_end: usize) -> AggregationKind {
        let entitlements = match self {
            EntitlementRule::Words => {
                let rest = name.get(id_end..).unwrap_or("");
                let rest = strip_csv_extension(rest);
                rest.split(|c: char| !c.is_alphanumeric()).any(|word| {
                    ["entitlement", "entitlements", "group", "groups"]
                        .iter()
                        .any(|w| word.eq_ignore_ascii_case(w))
                })
            }
            EntitlementRule::Pattern(glob) => glob.matches(name),
        };
        if entitlements {
            AggregationKind::Entitlements
        } else {
            AggregationKind::Accounts
        }
    }
}

/// A file-name pattern: `*` any run of characters, `?` any one character, everything else
/// itself, compared without regard to ASCII case. It applies to the file name, not its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<char>,
    text: String,
}

impl Glob {
    /// Parses a pattern (`clap` value parser): not empty, no path separator.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("the pattern is empty".to_owned());
        }
        if text.contains(['/', '\\']) {
            return Err(format!(
                "{text:?} has a path separator: the pattern applies to file names only \
                 (e.g. \"*_ent.csv\")"
            ));
        }
        Ok(Glob {
            pattern: text.chars().map(|c| c.to_ascii_lowercase()).collect(),
            text: text.to_owned(),
        })
    }

    /// Whether `name` matches (ASCII case ignored).
    pub fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().map(|c| c.to_ascii_lowercase()).collect();
        let (p, n) = (&self.pattern, &name);
        let (mut pi, mut ni) = (0, 0);
        // The last `*` seen and the name position it was tried at: backtrack there on a mismatch.
        let mut star: Option<(usize, usize)> = None;
        while ni < n.len() {
            match p.get(pi) {
                Some('*') => {
                    star = Some((pi, ni));
                    pi += 1;
                }
                Some(c) if *c == '?' || *c == n[ni] => {
                    pi += 1;
                    ni += 1;
                }
                _ => match star {
                    Some((sp, sn)) => {
                        pi = sp + 1;
                        ni = sn + 1;
                        star = Some((sp, sn + 1));
                    }
                    None => return false,
                },
            }
        }
        p[pi..].iter().all(|c| *c == '*')
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The File Upload Utility's rule (`^\s?([0-9a-f]{32})`, hex digits of either case): the source
/// id a file name begins with, in lower case, and the byte where it ends.
pub fn source_id_prefix(name: &str) -> Option<(String, usize)> {
    let mut start = 0;
    if let Some(first) = name.chars().next()
        && first.is_whitespace()
    {
        start = first.len_utf8();
    }
    let id = name.get(start..start + 32)?;
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((id.to_ascii_lowercase(), start + 32))
}

/// `name` without a final `.csv` (any case).
fn strip_csv_extension(name: &str) -> &str {
    match name.len().checked_sub(4) {
        Some(at) if name.is_char_boundary(at) && name[at..].eq_ignore_ascii_case(".csv") => {
            &name[..at]
        }
        _ => name,
    }
}

/// Whether `name` ends in `.csv` (any case) and has something before it.
fn is_csv(name: &str) -> bool {
    let stem = strip_csv_extension(name);
    stem.len() != name.len() && !stem.is_empty()
}

/// A file of the folder that becomes an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its path relative to the folder.
    pub relative: PathBuf,
    pub source_id: String,
    pub kind: AggregationKind,
}

/// What makes the folder unusable (nothing is sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// What a folder holds: the files to aggregate (unordered) and the rest.
#[derive(Debug, Default)]
pub struct Scan {
    pub found: Vec<Found>,
    pub unmatched: Vec<Unmatched>,
    pub problems: Vec<Problem>,
}

/// Reads the folder (and, when `recursive`, its sub-folders, without following symbolic links
/// to folders). Hidden entries (a name starting with `.`) are skipped.
pub fn scan(dir: &Path, recursive: bool, rule: &EntitlementRule) -> Scan {
    let mut scan = Scan::default();
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => walk(dir, Path::new(""), recursive, rule, &mut scan),
        Ok(_) => scan.problems.push(Problem {
            path: dir.to_path_buf(),
            message: "not a folder (give the folder that holds the CSV files)".to_owned(),
        }),
        Err(e) => scan.problems.push(Problem {
            path: dir.to_path_buf(),
            message: format!("cannot read the folder: {e}"),
        }),
    }
    scan
}

fn walk(root: &Path, relative: &Path, recursive: bool, rule: &EntitlementRule, scan: &mut Scan) {
    let here = root.join(relative);
    let entries = match std::fs::read_dir(&here) {
        Ok(entries) => entries,
        Err(e) => {
            scan.problems.push(Problem {
                path: here,
                message: format!("cannot read the folder: {e}"),
            });
            return;
        }
    };
    let mut entries: Vec<_> = entries.collect();
    entries.sort_by_key(|e| e.as_ref().map(|e| e.file_name()).ok());
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                scan.problems.push(Problem {
                    path: here.clone(),
                    message: format!("cannot read the folder: {e}"),
                });
                continue;
            }
        };
        let file_name = entry.file_name();
        let rel = relative.join(&file_name);
        let shown = root.join(&rel);
        let Some(name) = file_name.to_str() else {
            scan.unmatched.push(Unmatched {
                path: shown,
                reason: "the name is not UTF-8".to_owned(),
            });
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let file_type = entry.file_type().ok();
        let is_link = file_type.is_some_and(|t| t.is_symlink());
        // A link is judged by what it points to (a broken one as a file: its check says so).
        let is_dir = if is_link {
            std::fs::metadata(&shown).is_ok_and(|m| m.is_dir())
        } else {
            file_type.is_some_and(|t| t.is_dir())
        };
        if is_dir {
            if is_link {
                scan.unmatched.push(Unmatched {
                    path: shown,
                    reason: "a symbolic link to a folder (not followed)".to_owned(),
                });
            } else if recursive {
                walk(root, &rel, recursive, rule, scan);
            } else {
                scan.unmatched.push(Unmatched {
                    path: shown,
                    reason: "a folder (add --recursive to include its files)".to_owned(),
                });
            }
            continue;
        }
        if !is_csv(name) {
            scan.unmatched.push(Unmatched {
                path: shown,
                reason: "not a .csv file".to_owned(),
            });
            continue;
        }
        match source_id_prefix(name) {
            Some((source_id, id_end)) => scan.found.push(Found {
                relative: rel,
                source_id,
                kind: rule.kind_of(name, id_end),
            }),
            None => scan.unmatched.push(Unmatched {
                path: shown,
                reason: "the file name does not begin with a source id (32 hex digits)".to_owned(),
            }),
        }
    }
}

/// 0 for accounts, 1 for entitlements: SailPoint's recommended order.
fn kind_rank(kind: AggregationKind) -> u8 {
    match kind {
        AggregationKind::Accounts => 0,
        _ => 1,
    }
}

/// Path order, except that the files of one source are reordered among their own places:
/// accounts before entitlements, then by path.
pub fn order(mut found: Vec<Found>) -> Vec<Found> {
    found.sort_by(|a, b| a.relative.cmp(&b.relative));
    let mut places: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, f) in found.iter().enumerate() {
        places.entry(f.source_id.clone()).or_default().push(i);
    }
    let mut slots: Vec<Option<Found>> = found.into_iter().map(Some).collect();
    for positions in places.values() {
        let mut group: Vec<Found> = positions
            .iter()
            .filter_map(|&i| slots.get_mut(i).and_then(Option::take))
            .collect();
        group.sort_by(|a, b| {
            (kind_rank(a.kind), &a.relative).cmp(&(kind_rank(b.kind), &b.relative))
        });
        for (&i, f) in positions.iter().zip(group) {
            if let Some(slot) = slots.get_mut(i) {
                *slot = Some(f);
            }
        }
    }
    slots.into_iter().flatten().collect()
}

/// The folder's items, checked as a manifest's files are (present, regular, not empty,
/// readable), in order; or every problem (nothing is sent). Unmatched entries go with either.
pub async fn load(
    dir: &Path,
    recursive: bool,
    rule: &EntitlementRule,
) -> Result<Manifest, (Vec<Problem>, Vec<Unmatched>)> {
    let Scan {
        found,
        unmatched,
        mut problems,
    } = scan(dir, recursive, rule);
    if found.is_empty() && problems.is_empty() {
        problems.push(Problem {
            path: dir.to_path_buf(),
            message: format!(
                "no file to aggregate: no .csv file {}whose name begins with a source id \
                 (32 hex digits, e.g. 2c9180835d2e5168015d32f890ca1581-accounts.csv){}",
                if recursive {
                    "in it or its sub-folders "
                } else {
                    "in it "
                },
                if recursive {
                    ""
                } else {
                    "; add --recursive to read its sub-folders"
                }
            ),
        });
    }
    let mut items = Vec::with_capacity(found.len());
    for found in order(found) {
        let path = dir.join(&found.relative);
        let given = path.display().to_string();
        match AccountsFile::open(&path).await {
            Ok(checked) => items.push(ManifestItem {
                line: None,
                source: SourceRef::Id(found.source_id),
                kind: found.kind,
                file: Some(ItemFile { given, checked }),
                disable_optimization: false,
                check: false,
            }),
            Err(Error::InvalidFile { problem, .. }) => problems.push(Problem {
                path,
                message: problem.to_string(),
            }),
            Err(other) => problems.push(Problem {
                path,
                message: other.to_string(),
            }),
        }
    }
    if problems.is_empty() {
        Ok(Manifest {
            items,
            input: format!("folder {}", dir.display()),
            unmatched,
        })
    } else {
        Err((problems, unmatched))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "2c9180835d2e5168015d32f890ca1581";
    const ID2: &str = "ffffffffffffffffffffffffffffff02";

    fn temp_dir() -> PathBuf {
        use std::hash::{BuildHasher, RandomState};
        let dir = std::env::temp_dir().join(format!(
            "isc-dir-unit-{}-{:x}",
            std::process::id(),
            RandomState::new().hash_one(std::time::SystemTime::now())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_source_id_prefix_follows_the_utility() {
        assert_eq!(
            source_id_prefix(&format!("{ID}.csv")),
            Some((ID.to_owned(), 32))
        );
        assert_eq!(
            source_id_prefix(&format!(" {ID}-x.csv")),
            Some((ID.to_owned(), 33))
        );
        assert_eq!(
            source_id_prefix(&format!("{}_groups.csv", ID.to_uppercase())),
            Some((ID.to_owned(), 32))
        );
        // Too short, not hex, something before it, two spaces.
        assert_eq!(
            source_id_prefix("2c9180835d2e5168015d32f890ca158.csv"),
            None
        );
        assert_eq!(source_id_prefix(&format!("x{ID}.csv")), None);
        assert_eq!(source_id_prefix(&format!("  {ID}.csv")), None);
        assert_eq!(
            source_id_prefix("2c9180835d2e5168015d32f890ca158g.csv"),
            None
        );
        assert_eq!(source_id_prefix("é"), None);
        assert_eq!(source_id_prefix(""), None);
        // Multi-byte characters where the id would end are no panic.
        assert_eq!(source_id_prefix(&"é".repeat(40)), None);
    }

    #[test]
    fn csv_extension_any_case() {
        assert!(is_csv("a.csv"));
        assert!(is_csv("a.CSV"));
        assert!(is_csv("a.Csv"));
        assert!(!is_csv(".csv"));
        assert!(!is_csv("a.csv.gz"));
        assert!(!is_csv("acsv"));
        assert!(!is_csv("éé"));
    }

    #[test]
    fn entitlements_files_by_words_after_the_id() {
        let rule = EntitlementRule::Words;
        let kind = |rest: &str| rule.kind_of(&format!("{ID}{rest}"), 32);
        use AggregationKind::{Accounts, Entitlements};
        for rest in [
            "-entitlements.csv",
            "_groups.csv",
            " Entitlement.csv",
            "-hr-group.CSV",
            "entitlements.csv",
            ".groups.csv",
        ] {
            assert_eq!(kind(rest), Entitlements, "{rest}");
        }
        for rest in [
            ".csv",
            "-accounts.csv",
            "-grouping.csv",
            "-subgroups.csv",
            "-entitlementsx.csv",
        ] {
            assert_eq!(kind(rest), Accounts, "{rest}");
        }
        // The id itself is not looked at (hex can spell nothing here, but a space-led id too).
        assert_eq!(rule.kind_of(&format!(" {ID}_groups.csv"), 33), Entitlements);
    }

    #[test]
    fn entitlements_files_by_pattern() {
        let rule = EntitlementRule::Pattern(Glob::parse("*_ENT.csv").unwrap());
        assert_eq!(
            rule.kind_of(&format!("{ID}_ent.csv"), 32),
            AggregationKind::Entitlements
        );
        assert_eq!(
            rule.kind_of(&format!("{ID}-entitlements.csv"), 32),
            AggregationKind::Accounts,
            "the pattern replaces the default rule"
        );
        let glob = |p: &str| Glob::parse(p).unwrap();
        assert!(glob("*").matches(""));
        assert!(glob("a*b*c").matches("aXXbYYc"));
        assert!(glob("a*b*c").matches("abc"));
        assert!(!glob("a*b*c").matches("acb"));
        assert!(glob("?x*").matches("yx"));
        assert!(!glob("?x").matches("x"));
        assert!(glob("*.csv").matches("A.CSV"));
        assert!(glob("**a").matches("bba"));
        assert!(!glob("*a").matches("ab"));
        assert!(Glob::parse("").is_err());
        assert!(
            Glob::parse("sub/*.csv")
                .unwrap_err()
                .contains("file names only")
        );
        assert_eq!(glob("*_ent.csv").to_string(), "*_ent.csv");
    }

    fn found(path: &str, source: &str, kind: AggregationKind) -> Found {
        Found {
            relative: PathBuf::from(path),
            source_id: source.to_owned(),
            kind,
        }
    }

    #[test]
    fn order_is_by_path_with_accounts_first_within_a_source() {
        use AggregationKind::{Accounts, Entitlements};
        let files = vec![
            found("b/3.csv", "s2", Accounts),
            found("a/1-groups.csv", "s1", Entitlements),
            found("a/2.csv", "s2", Entitlements),
            found("c/9.csv", "s1", Accounts),
            found("a/0.csv", "s3", Accounts),
            found("d/1.csv", "s1", Accounts),
        ];
        let ordered: Vec<String> = order(files)
            .iter()
            .map(|f| f.relative.display().to_string())
            .collect();
        // Path order: a/0 (s3), a/1-groups (s1 E), a/2 (s2 E), b/3 (s2 A), c/9 (s1 A), d/1 (s1 A);
        // s1's places (2nd, 5th, 6th) get c/9, d/1, a/1-groups; s2's (3rd, 4th) get b/3, a/2.
        assert_eq!(
            ordered,
            [
                "a/0.csv",
                "c/9.csv",
                "b/3.csv",
                "a/2.csv",
                "d/1.csv",
                "a/1-groups.csv"
            ]
        );
        assert!(order(Vec::new()).is_empty());
    }

    #[test]
    fn a_folder_is_scanned_with_unmatched_entries_listed() {
        let dir = temp_dir();
        let write = |rel: &str| {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "id\n1\n").unwrap();
        };
        write(&format!("{ID}-accounts.csv"));
        write(&format!("{ID}-entitlements.CSV"));
        write(&format!("{ID2}.csv"));
        write("readme.txt");
        write("no-id.csv");
        write(&format!("{ID}.csv.bak"));
        write(&format!(".{ID}-hidden.csv"));
        write(&format!(".hidden/{ID2}-x.csv"));
        write(&format!("sub/{ID2}_groups.csv"));
        write(&format!("sub/deeper/{ID}-late.csv"));
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.join("sub"), dir.join("linked")).unwrap();

        let rule = EntitlementRule::default();
        let flat = scan(&dir, false, &rule);
        assert!(flat.problems.is_empty(), "{:?}", flat.problems);
        let names = |found: &[Found]| -> Vec<(String, AggregationKind)> {
            order(found.to_vec())
                .iter()
                .map(|f| (f.relative.display().to_string(), f.kind))
                .collect()
        };
        use AggregationKind::{Accounts, Entitlements};
        assert_eq!(
            names(&flat.found),
            [
                (format!("{ID}-accounts.csv"), Accounts),
                (format!("{ID}-entitlements.CSV"), Entitlements),
                (format!("{ID2}.csv"), Accounts),
            ]
        );
        let unmatched: Vec<(String, &str)> = flat
            .unmatched
            .iter()
            .map(|u| {
                (
                    u.path.strip_prefix(&dir).unwrap().display().to_string(),
                    u.reason.as_str(),
                )
            })
            .collect();
        let mut expected = vec![
            (format!("{ID}.csv.bak"), "not a .csv file"),
            (
                "no-id.csv".to_owned(),
                "the file name does not begin with a source id (32 hex digits)",
            ),
            ("readme.txt".to_owned(), "not a .csv file"),
            (
                "sub".to_owned(),
                "a folder (add --recursive to include its files)",
            ),
        ];
        #[cfg(unix)]
        expected.insert(
            1,
            (
                "linked".to_owned(),
                "a symbolic link to a folder (not followed)",
            ),
        );
        let expected: Vec<(String, &str)> = expected;
        assert_eq!(unmatched, expected);

        let deep = scan(&dir, true, &rule);
        assert_eq!(
            names(&deep.found),
            [
                // The first source's places (1st, 2nd, 4th in path order) hold its two
                // accounts files first.
                (format!("{ID}-accounts.csv"), Accounts),
                (format!("sub/deeper/{ID}-late.csv"), Accounts),
                (format!("{ID2}.csv"), Accounts),
                (format!("{ID}-entitlements.CSV"), Entitlements),
                (format!("sub/{ID2}_groups.csv"), Entitlements),
            ]
            .map(|(p, k)| (p.replace('/', std::path::MAIN_SEPARATOR_STR), k))
        );
        assert!(
            !deep
                .unmatched
                .iter()
                .any(|u| u.reason.starts_with("a folder")),
            "{:?}",
            deep.unmatched
        );
    }

    #[test]
    fn loading_checks_every_file_and_refuses_an_empty_folder() {
        let run = |dir: &Path, recursive: bool| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(load(dir, recursive, &EntitlementRule::Words))
        };
        let dir = temp_dir();
        std::fs::write(dir.join("notes.txt"), "x").unwrap();
        let (problems, unmatched) = run(&dir, false).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].message.starts_with("no file to aggregate"),
            "{}",
            problems[0]
        );
        assert!(problems[0].message.contains("add --recursive"));
        assert_eq!(unmatched.len(), 1);

        std::fs::write(dir.join(format!("{ID}.csv")), "id\n1\n").unwrap();
        std::fs::write(dir.join(format!("{ID2}.csv")), "").unwrap();
        let (problems, _) = run(&dir, false).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, dir.join(format!("{ID2}.csv")));
        assert!(problems[0].message.contains("empty"), "{}", problems[0]);

        std::fs::write(dir.join(format!("{ID2}.csv")), "id\n2\n").unwrap();
        let manifest = run(&dir, false).unwrap();
        assert_eq!(manifest.unmatched.len(), 1);
        assert_eq!(manifest.input, format!("folder {}", dir.display()));
        assert_eq!(manifest.items.len(), 2);
        let item = &manifest.items[0];
        assert_eq!(item.source, SourceRef::Id(ID.to_owned()));
        assert_eq!(item.line, None);
        assert_eq!(
            item.file.as_ref().unwrap().given,
            dir.join(format!("{ID}.csv")).display().to_string()
        );

        let (problems, _) = run(&dir.join("absent"), false).unwrap_err();
        assert!(problems[0].message.starts_with("cannot read the folder"));
        let (problems, _) = run(&dir.join("notes.txt"), false).unwrap_err();
        assert!(problems[0].message.starts_with("not a folder"));
    }
}

//! The report files of a batch (`--junit`, `--summary-markdown`): where they go, checked before
//! anything is sent, and how they are written: the JUnit report replaced atomically (a temporary
//! file in the same folder, then renamed over it), the Markdown appended (as
//! `$GITHUB_STEP_SUMMARY` wants).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::record::BatchRecord;

/// Where the report files go.
#[derive(Debug, Clone, Default)]
pub struct ReportFiles {
    pub junit: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
}

impl ReportFiles {
    /// A problem that would keep a report from being written (its folder is missing), found
    /// before anything is sent.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (flag, path) in [
            ("--junit", &self.junit),
            ("--summary-markdown", &self.markdown),
        ] {
            let Some(path) = path else { continue };
            if path.as_os_str().is_empty() || path.file_name().is_none() {
                problems.push(format!("{flag} {}: not a file path", path.display()));
                continue;
            }
            if path.is_dir() {
                problems.push(format!("{flag} {}: is a folder", path.display()));
                continue;
            }
            let parent = folder_of(path);
            if !parent.is_dir() {
                problems.push(format!(
                    "{flag} {}: the folder {} does not exist",
                    path.display(),
                    parent.display()
                ));
            }
        }
        problems
    }

    /// Writes the reports asked for; a failure is said on stderr and does not change the exit
    /// code (the aggregations ran).
    pub fn write(&self, record: &BatchRecord) {
        if let Some(path) = &self.junit
            && let Err(e) = write_atomically(path, crate::junit::render(record).as_bytes())
        {
            warn(format!(
                "error: cannot write the JUnit report {}: {e}",
                path.display()
            ));
        }
        if let Some(path) = &self.markdown
            && let Err(e) = append(path, crate::summary::render(record).as_bytes())
        {
            warn(format!(
                "error: cannot write the Markdown summary {}: {e}",
                path.display()
            ));
        }
    }
}

fn warn(line: String) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// The folder a file path is in (`.` for a bare name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Replaces `path` with `bytes` at once: written to a temporary file next to it, then renamed
/// over it, so a reader never sees half a report.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = folder_of(path).join(temp_name);
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    match written.and_then(|()| std::fs::rename(&temp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// Appends `bytes` to `path` (created if missing) in one write.
pub fn append(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        use std::hash::{BuildHasher, RandomState};
        let dir = std::env::temp_dir().join(format!(
            "isc-record-unit-{}-{:x}",
            std::process::id(),
            RandomState::new().hash_one(std::time::SystemTime::now())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn atomic_writes_replace_and_appends_append() {
        let dir = temp_dir();
        let path = dir.join("report.xml");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

        let md = dir.join("summary.md");
        append(&md, b"a\n").unwrap();
        append(&md, b"b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&md).unwrap(), "a\nb\n");

        assert!(write_atomically(&dir.join("missing/x.xml"), b"x").is_err());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    }

    #[test]
    fn report_paths_are_checked_before_anything_is_sent() {
        let dir = temp_dir();
        let files = ReportFiles {
            junit: Some(dir.join("missing/junit.xml")),
            markdown: Some(dir.clone()),
        };
        let problems = files.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("--junit"), "{}", problems[0]);
        assert!(problems[0].contains("does not exist"), "{}", problems[0]);
        assert!(problems[1].contains("is a folder"), "{}", problems[1]);
        let fine = ReportFiles {
            junit: Some(dir.join("junit.xml")),
            markdown: Some(PathBuf::from("summary.md")),
        };
        assert!(fine.problems().is_empty());
    }
}

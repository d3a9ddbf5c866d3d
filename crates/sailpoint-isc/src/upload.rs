//! The file to upload (accounts or entitlements): validated before any request, re-opened and
//! streamed from disk per attempt.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use reqwest::multipart::Part;
use tokio_util::io::ReaderStream;

use crate::body_progress::BodyProgress;
use crate::error::{Error, FileProblem};

/// The MIME type of the `file` part.
pub const CSV_MIME: &str = "text/csv";

/// Read buffer for streaming the file; memory use does not depend on the file size.
const STREAM_CHUNK: usize = 64 * 1024;

/// A CSV file of accounts for a delimited-file source, checked to be an existing, readable,
/// non-empty regular file. The upload streams it from disk with a `Content-Length`, and every
/// retry opens it again, so memory use does not depend on its size.
///
/// ```no_run
/// use sailpoint_isc::AccountsFile;
///
/// # async fn demo() -> Result<(), sailpoint_isc::Error> {
/// let file = AccountsFile::open("accounts.csv").await?;
/// println!("{} bytes as {}", file.len(), file.file_name());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountsFile {
    path: PathBuf,
    file_name: String,
    len: u64,
}

impl AccountsFile {
    /// Checks the file: it must exist, be a regular file, be readable and hold at least one byte.
    /// Fails with [`Error::InvalidFile`] otherwise.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let invalid = |problem: FileProblem| Error::InvalidFile {
            path: path.clone(),
            problem,
        };
        let metadata = tokio::fs::metadata(&path).await.map_err(|e| {
            invalid(match e.kind() {
                ErrorKind::NotFound => FileProblem::NotFound,
                _ => FileProblem::Unreadable(e.to_string()),
            })
        })?;
        if !metadata.is_file() {
            return Err(invalid(FileProblem::NotAFile));
        }
        if metadata.len() == 0 {
            return Err(invalid(FileProblem::Empty));
        }
        // Opening proves it is readable (permissions) without reading it.
        tokio::fs::File::open(&path)
            .await
            .map_err(|e| invalid(FileProblem::Unreadable(e.to_string())))?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "accounts.csv".to_owned());
        Ok(AccountsFile {
            path,
            file_name,
            len: metadata.len(),
        })
    }

    /// Uses another file name in the upload (default: the path's file name).
    pub fn with_file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = name.into();
        self
    }

    /// The path on disk.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file name sent in the multipart part.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The size in bytes when it was checked.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Always false: empty files are refused by [`AccountsFile::open`].
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Opens the file again and wraps it in a streamed multipart part with its current length,
    /// file name and `text/csv` type. Called once per attempt.
    pub(crate) async fn to_part(&self, progress: &BodyProgress) -> Result<Part, Error> {
        let invalid = |problem: FileProblem| Error::InvalidFile {
            path: self.path.clone(),
            problem,
        };
        let file = tokio::fs::File::open(&self.path).await.map_err(|e| {
            invalid(match e.kind() {
                ErrorKind::NotFound => FileProblem::NotFound,
                _ => FileProblem::Unreadable(e.to_string()),
            })
        })?;
        let len = file
            .metadata()
            .await
            .map_err(|e| invalid(FileProblem::Unreadable(e.to_string())))?
            .len();
        if len == 0 {
            return Err(invalid(FileProblem::Empty));
        }
        let body = reqwest::Body::wrap_stream(
            progress.track(len, ReaderStream::with_capacity(file, STREAM_CHUNK)),
        );
        Part::stream_with_length(body, len)
            .file_name(self.file_name.clone())
            .mime_str(CSV_MIME)
            .map_err(|e| Error::InvalidInput {
                message: format!("cannot build the file part: {e}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sailpoint-isc-upload-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn validates_files() {
        let dir = temp_dir();
        let missing = AccountsFile::open(dir.join("nope.csv")).await.unwrap_err();
        assert!(matches!(
            missing,
            Error::InvalidFile {
                problem: FileProblem::NotFound,
                ..
            }
        ));
        let is_dir = AccountsFile::open(&dir).await.unwrap_err();
        assert!(matches!(
            is_dir,
            Error::InvalidFile {
                problem: FileProblem::NotAFile,
                ..
            }
        ));
        let empty = dir.join("empty.csv");
        std::fs::write(&empty, b"").unwrap();
        let empty = AccountsFile::open(&empty).await.unwrap_err();
        assert!(matches!(
            empty,
            Error::InvalidFile {
                problem: FileProblem::Empty,
                ..
            }
        ));
        let good = dir.join("good.csv");
        std::fs::write(&good, b"id,name\n1,a\n").unwrap();
        let file = AccountsFile::open(&good).await.unwrap();
        assert_eq!(file.len(), 12);
        assert_eq!(file.file_name(), "good.csv");
        assert!(file.to_part(&BodyProgress::new()).await.is_ok());
        std::fs::remove_file(&good).unwrap();
        assert!(file.to_part(&BodyProgress::new()).await.is_err());
    }
}

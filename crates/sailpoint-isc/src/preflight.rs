//! The pre-flight check of a delimited file against its source's schema: one pass over the
//! file, every problem with its line, before anything is uploaded.
//!
//! The commonest failure of a nightly load is a CSV whose columns no longer match the source,
//! found only by ISC after the upload (and a file that lost rows deletes accounts). This module
//! checks what can be checked locally: the header against the expected columns (unknown,
//! missing, out of order), each row's column count, an empty account id, invalid UTF-8, a byte
//! order mark, a delimiter that does not fit, rows not sorted (so not grouped) by the account id,
//! and more lines than SailPoint recommends.
//!
//! It reads the file once, in blocks, without holding it: lines without a quote take a fast
//! path (the line's end found, its delimiters counted 16 bytes a step, UTF-8 validated a block at
//! a time); a record with quotes (a delimiter or a line break inside a field) is parsed by
//! `csv-core`, RFC 4180's rules. Memory does not grow with the file.

use std::path::Path;

use crate::error::{Error, FileProblem};
use crate::upload::AccountsFile;

pub use crate::checker::{
    CheckReport, FileSchema, Finding, Issue, RECOMMENDED_MAX_LINES, Severity, check_reader,
};

/// Checks the file at `path` against `schema` (on a blocking thread). A missing, empty or
/// unreadable file is [`Error::InvalidFile`].
pub async fn check_path(path: impl AsRef<Path>, schema: FileSchema) -> Result<CheckReport, Error> {
    let path = path.as_ref().to_path_buf();
    let file = AccountsFile::open(&path).await?;
    let path = file.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let handle = std::fs::File::open(&path).map_err(|e| Error::InvalidFile {
            path: path.clone(),
            problem: FileProblem::Unreadable(e.to_string()),
        })?;
        check_reader(handle, &schema).map_err(|e| Error::InvalidFile {
            path: path.clone(),
            problem: FileProblem::Unreadable(e.to_string()),
        })
    })
    .await
    .map_err(|e| Error::InvalidInput {
        message: format!("the check stopped: {e}"),
    })?
}

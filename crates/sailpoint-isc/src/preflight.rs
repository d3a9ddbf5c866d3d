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
//! It reads the file once, in large blocks, without holding it: lines without a quote take a
//! fast path (a scan for the delimiter); a record with quotes (a delimiter or a line break
//! inside a field) is parsed by `csv-core`, RFC 4180's rules. Memory does not grow with the file.

use std::io::{self, Read};
use std::path::Path;

use crate::error::{Error, FileProblem};

/// SailPoint's recommended maximum number of lines in a delimited file.
pub const RECOMMENDED_MAX_LINES: u64 = 400_000;

/// Findings of one kind kept with their lines; more are counted, not kept (memory stays flat
/// on a file with a million bad rows).
const KEPT_PER_KIND: usize = 50;

/// Read block size.
const BLOCK: usize = 1 << 20;

/// What the file must look like: the source's columns in order, the account id column, and the
/// delimiter.
///
/// ```
/// use sailpoint_isc::preflight::FileSchema;
///
/// let schema = FileSchema::from_header_line("id,name,email")
///     .with_identity_attribute("id");
/// assert_eq!(schema.columns, ["id", "name", "email"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileSchema {
    /// The expected header, in order.
    pub columns: Vec<String>,
    /// The account id column (the schema's `identityAttribute`), when known.
    pub identity_attribute: Option<String>,
    /// The delimiter (default `,`).
    pub delimiter: u8,
    /// Whether the source sorts the rows itself: unsorted rows are then a warning, not a problem.
    pub source_sorts: bool,
}

impl FileSchema {
    /// A schema with these columns, `,` as delimiter, no known id column.
    pub fn new(columns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        FileSchema {
            columns: columns.into_iter().map(Into::into).collect(),
            identity_attribute: None,
            delimiter: b',',
            source_sorts: false,
        }
    }

    /// A schema from a header line as ISC's schema endpoint answers it (`id,name,…`): split on
    /// `,`, quotes and surrounding white space removed, a trailing line break ignored.
    pub fn from_header_line(line: &str) -> Self {
        let line = line
            .trim_start_matches('\u{feff}')
            .trim_end_matches(['\r', '\n']);
        Self::new(
            line.split(',')
                .map(|c| c.trim().trim_matches('"').to_owned())
                .filter(|c| !c.is_empty()),
        )
    }

    /// Sets the account id column.
    pub fn with_identity_attribute(mut self, name: impl Into<String>) -> Self {
        self.identity_attribute = Some(name.into());
        self
    }

    /// Sets the delimiter.
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Says whether the source sorts rows itself.
    pub fn with_source_sorting(mut self, sorts: bool) -> Self {
        self.source_sorts = sorts;
        self
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing; the upload may still go ahead.
    Warning,
    /// The file should not be uploaded as it is.
    Problem,
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Issue {
    /// The file has no bytes, or no header line.
    NoHeader,
    /// The file starts with a UTF-8 byte order mark (ISC would read it as part of the first
    /// column's name).
    ByteOrderMark,
    /// The header does not use the schema's delimiter, but `found` fits it.
    DelimiterMismatch {
        /// The delimiter the header seems to use.
        found: char,
    },
    /// Header names the schema does not have.
    UnknownColumns(Vec<String>),
    /// Schema columns the header lacks.
    MissingColumns(Vec<String>),
    /// The header has the schema's names in another order.
    ColumnsOutOfOrder {
        /// The schema's order.
        expected: Vec<String>,
        /// The file's order.
        found: Vec<String>,
    },
    /// A row with another number of columns than the header.
    WrongColumnCount {
        /// The header's count.
        expected: usize,
        /// The row's count.
        found: usize,
    },
    /// A row whose account id is empty.
    EmptyId,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// A row whose account id sorts before the previous row's: the rows are not sorted, so not
    /// grouped, by account id.
    NotSorted {
        /// The previous row's id.
        previous: String,
        /// This row's id.
        id: String,
    },
    /// A quoted field that never ends.
    UnterminatedQuote,
    /// More lines than SailPoint recommends ([`RECOMMENDED_MAX_LINES`]).
    TooManyLines {
        /// The file's lines.
        lines: u64,
    },
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Issue::NoHeader => f.write_str("no header line"),
            Issue::ByteOrderMark => f.write_str(
                "the file starts with a byte order mark (BOM); ISC would read it as part of the \
                 first column's name",
            ),
            Issue::DelimiterMismatch { found } => write!(
                f,
                "the header is not delimited as the source expects; it looks delimited by {found:?}"
            ),
            Issue::UnknownColumns(names) => {
                write!(f, "columns the source does not have: {}", names.join(", "))
            }
            Issue::MissingColumns(names) => {
                write!(f, "columns of the source missing: {}", names.join(", "))
            }
            Issue::ColumnsOutOfOrder { expected, found } => write!(
                f,
                "columns out of order: expected {}, found {}",
                expected.join(","),
                found.join(",")
            ),
            Issue::WrongColumnCount { expected, found } => {
                write!(f, "{found} columns where the header has {expected}")
            }
            Issue::EmptyId => f.write_str("the account id is empty"),
            Issue::InvalidUtf8 => f.write_str("not valid UTF-8"),
            Issue::NotSorted { previous, id } => write!(
                f,
                "not sorted by account id: {id:?} comes after {previous:?} (all rows of an \
                 account must be together, in id order)"
            ),
            Issue::UnterminatedQuote => f.write_str("a quoted field never ends"),
            Issue::TooManyLines { lines } => write!(
                f,
                "{lines} lines; SailPoint recommends at most {RECOMMENDED_MAX_LINES}"
            ),
        }
    }
}

/// One finding: where, how much it matters, what.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// The line (1 is the header; a record spanning lines is at its first).
    pub line: u64,
    /// How much it matters.
    pub severity: Severity,
    /// What is wrong.
    pub issue: Issue,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let severity = match self.severity {
            Severity::Warning => "warning",
            Severity::Problem => "problem",
        };
        write!(f, "line {}: {severity}: {}", self.line, self.issue)
    }
}

/// The result of a check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckReport {
    /// What was found, in file order (at most a few dozen of each kind; see `omitted`).
    pub findings: Vec<Finding>,
    /// Findings of a kind beyond the ones kept, counted.
    pub omitted: u64,
    /// Lines read (a final line without a line break counts).
    pub lines: u64,
    /// Data rows (records after the header).
    pub rows: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Problems among the omitted findings.
    omitted_problems: u64,
}

impl CheckReport {
    /// True when nothing is a [`Severity::Problem`] (warnings allowed).
    pub fn is_clean(&self) -> bool {
        self.problems() == 0 && self.omitted_problems == 0
    }

    /// Findings that are problems, kept ones only.
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Problem)
            .count()
    }

    /// Findings that are warnings, kept ones only.
    pub fn warnings(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count()
    }
}

/// Checks the file at `path` against `schema` (on a blocking thread). A missing, empty or
/// unreadable file is [`Error::InvalidFile`].
pub async fn check_path(path: impl AsRef<Path>, schema: FileSchema) -> Result<CheckReport, Error> {
    let path = path.as_ref().to_path_buf();
    let file = crate::upload::AccountsFile::open(&path).await?;
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

/// Checks a delimited file read from `reader` against `schema`, in one pass.
///
/// ```
/// use sailpoint_isc::preflight::{FileSchema, Issue, check_reader};
///
/// let schema = FileSchema::from_header_line("id,name").with_identity_attribute("id");
/// let report = check_reader(&b"id,name\n1,Ada\n3,Grace,extra\n2,Alan\n"[..], &schema).unwrap();
/// assert_eq!(report.findings[0].line, 3);
/// assert!(matches!(report.findings[0].issue, Issue::WrongColumnCount { expected: 2, found: 3 }));
/// assert_eq!(report.findings[1].line, 4); // "2" after "3": not sorted
/// assert!(!report.is_clean());
/// ```
pub fn check_reader<R: Read>(mut reader: R, schema: &FileSchema) -> io::Result<CheckReport> {
    let mut checker = Checker::new(schema);
    let mut buf = vec![0u8; BLOCK];
    // Bytes of an unfinished line carried to the next block.
    let mut filled = 0usize;
    loop {
        if filled == buf.len() {
            // A line longer than the block: grow (rare; bounded by the longest record).
            buf.resize(buf.len() * 2, 0);
        }
        let n = read_some(&mut reader, &mut buf[filled..])?;
        let end = filled + n;
        let eof = n == 0;
        let consumed = checker.feed(&buf[..end], eof);
        checker.report.bytes += n as u64;
        if eof {
            break;
        }
        buf.copy_within(consumed..end, 0);
        filled = end - consumed;
    }
    Ok(checker.finish())
}

fn read_some<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// One record as the checker sees it.
struct Record<'r> {
    /// The bytes, without the final line break.
    raw: &'r [u8],
    /// Line breaks inside it (quoted fields).
    inner_breaks: u64,
}

struct Checker<'a> {
    schema: &'a FileSchema,
    report: CheckReport,
    /// Findings kept per kind (`Checker::kind`), for the cap.
    kept: [usize; 12],
    omitted_problems: u64,
    /// The header's column count, once read.
    columns: Option<usize>,
    /// The id column's index in the file, once the header is read.
    id_index: Option<usize>,
    previous_id: Vec<u8>,
    has_previous: bool,
    /// The CSV parser for quoted records, and its reused buffers.
    csv: csv_core::Reader,
    field_buf: Vec<u8>,
    ends: Vec<usize>,
    /// Fields of the last parsed record: their count and the output length.
    parsed_fields: usize,
}

impl<'a> Checker<'a> {
    fn new(schema: &'a FileSchema) -> Self {
        Checker {
            schema,
            report: CheckReport::default(),
            kept: [0; 12],
            omitted_problems: 0,
            columns: None,
            id_index: None,
            previous_id: Vec::new(),
            has_previous: false,
            csv: csv_core::ReaderBuilder::new()
                .delimiter(schema.delimiter)
                .build(),
            field_buf: vec![0; 4096],
            ends: vec![0; 256],
            parsed_fields: 0,
        }
    }

    fn kind(issue: &Issue) -> usize {
        match issue {
            Issue::NoHeader => 0,
            Issue::ByteOrderMark => 1,
            Issue::DelimiterMismatch { .. } => 2,
            Issue::UnknownColumns(_) => 3,
            Issue::MissingColumns(_) => 4,
            Issue::ColumnsOutOfOrder { .. } => 5,
            Issue::WrongColumnCount { .. } => 6,
            Issue::EmptyId => 7,
            Issue::InvalidUtf8 => 8,
            Issue::NotSorted { .. } => 9,
            Issue::UnterminatedQuote => 10,
            Issue::TooManyLines { .. } => 11,
        }
    }

    fn add(&mut self, line: u64, severity: Severity, issue: Issue) {
        let kind = Self::kind(&issue);
        if self.kept[kind] >= KEPT_PER_KIND {
            self.report.omitted += 1;
            if severity == Severity::Problem {
                self.omitted_problems += 1;
            }
            return;
        }
        self.kept[kind] += 1;
        self.report.findings.push(Finding {
            line,
            severity,
            issue,
        });
    }

    /// Checks the complete records in `data` (all of it at `eof`); returns how many bytes were
    /// consumed (the rest is an unfinished record, carried to the next block).
    fn feed(&mut self, data: &[u8], eof: bool) -> usize {
        let mut at = 0;
        while at < data.len() {
            let rest = &data[at..];
            let newline = memchr::memchr(b'\n', rest);
            let line = &rest[..newline.unwrap_or(rest.len())];
            if memchr::memchr(b'"', line).is_none() {
                // The fast path: no quotes, the line is the record.
                match newline {
                    Some(n) => {
                        self.plain(line);
                        at += n + 1;
                    }
                    None if eof => {
                        self.plain(line);
                        return data.len();
                    }
                    None => return at,
                }
                continue;
            }
            // Quotes: the CSV parser finds the record's end (a line break may sit in a field).
            match self.parse(rest, eof) {
                Some(len) => {
                    let raw = &rest[..len];
                    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
                    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                    let inner_breaks = memchr::memchr_iter(b'\n', raw).count() as u64;
                    let quotes = memchr::memchr_iter(b'"', raw).count();
                    let record = Record { raw, inner_breaks };
                    if quotes % 2 == 1 {
                        // Only the end of the file ended it: a quote never closed.
                        let line_no = self.report.lines + 1;
                        self.report.lines += 1 + inner_breaks;
                        self.add(line_no, Severity::Problem, Issue::UnterminatedQuote);
                    } else {
                        self.quoted(record);
                    }
                    at += len;
                }
                None if eof => return data.len(),
                None => return at,
            }
        }
        data.len()
    }

    /// Parses the record at the start of `data` into `field_buf`/`ends`; returns its length,
    /// line break included, or `None` when it does not end within `data` (before the end of the
    /// file).
    fn parse(&mut self, data: &[u8], eof: bool) -> Option<usize> {
        use csv_core::ReadRecordResult as R;
        self.csv.reset();
        let (mut input, mut consumed, mut outlen, mut endlen) = (data, 0, 0, 0);
        let mut finishing = false;
        loop {
            let (result, nin, nout, nend) = self.csv.read_record(
                input,
                &mut self.field_buf[outlen..],
                &mut self.ends[endlen..],
            );
            input = &input[nin..];
            consumed += nin;
            outlen += nout;
            endlen += nend;
            match result {
                R::Record => {
                    // A CR LF ending: take the LF with the record.
                    if data.get(consumed.wrapping_sub(1)) == Some(&b'\r')
                        && data.get(consumed) == Some(&b'\n')
                    {
                        consumed += 1;
                    }
                    self.parsed_fields = endlen;
                    return Some(consumed);
                }
                R::OutputFull => {
                    let len = self.field_buf.len();
                    self.field_buf.resize(len * 2, 0);
                }
                R::OutputEndsFull => {
                    let len = self.ends.len();
                    self.ends.resize(len * 2, 0);
                }
                R::InputEmpty if eof && !finishing => {
                    // The file ends inside this record: let the parser close it.
                    finishing = true;
                    input = &[];
                }
                R::InputEmpty | R::End => return None,
            }
        }
    }

    /// A record without quotes.
    fn plain(&mut self, line: &[u8]) {
        let line_no = self.report.lines + 1;
        self.report.lines += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if std::str::from_utf8(line).is_err() {
            self.add(line_no, Severity::Problem, Issue::InvalidUtf8);
        }
        if self.columns.is_none() {
            let names = split_plain(line, self.schema.delimiter);
            self.header(line, names);
            return;
        }
        if line.is_empty() {
            // An empty line: ISC skips empty records.
            return;
        }
        self.report.rows += 1;
        let delimiter = self.schema.delimiter;
        let id_index = self.id_index;
        let mut count = 1;
        let mut id: Option<(usize, usize)> = None;
        let mut start = 0;
        for position in memchr::memchr_iter(delimiter, line) {
            if id_index == Some(count - 1) {
                id = Some((start, position));
            }
            start = position + 1;
            count += 1;
        }
        if id_index == Some(count - 1) {
            id = Some((start, line.len()));
        }
        self.row(line_no, count, id.map(|(a, b)| &line[a..b]));
    }

    /// A record with quotes, already parsed into `field_buf`/`ends`.
    fn quoted(&mut self, record: Record<'_>) {
        let line_no = self.report.lines + 1;
        self.report.lines += 1 + record.inner_breaks;
        if std::str::from_utf8(record.raw).is_err() {
            self.add(line_no, Severity::Problem, Issue::InvalidUtf8);
        }
        let n = self.parsed_fields;
        let field = |checker: &Self, i: usize| {
            let start = if i == 0 { 0 } else { checker.ends[i - 1] };
            checker.field_buf[start..checker.ends[i]].to_vec()
        };
        if self.columns.is_none() {
            let names = (0..n)
                .map(|i| String::from_utf8_lossy(&field(self, i)).trim().to_owned())
                .collect();
            self.header(record.raw, names);
            return;
        }
        self.report.rows += 1;
        let id = self.id_index.filter(|&i| i < n).map(|i| field(self, i));
        self.row(line_no, n, id.as_deref());
    }

    fn row(&mut self, line: u64, found: usize, id: Option<&[u8]>) {
        let expected = self.columns.unwrap_or(0);
        if found != expected {
            self.add(
                line,
                Severity::Problem,
                Issue::WrongColumnCount { expected, found },
            );
        }
        let Some(id) = id else { return };
        if id.iter().all(u8::is_ascii_whitespace) {
            self.add(line, Severity::Problem, Issue::EmptyId);
            return;
        }
        if self.has_previous && id < self.previous_id.as_slice() {
            let severity = if self.schema.source_sorts {
                Severity::Warning
            } else {
                Severity::Problem
            };
            let issue = Issue::NotSorted {
                previous: String::from_utf8_lossy(&self.previous_id).into_owned(),
                id: String::from_utf8_lossy(id).into_owned(),
            };
            self.add(line, severity, issue);
        }
        self.previous_id.clear();
        self.previous_id.extend_from_slice(id);
        self.has_previous = true;
    }

    /// The header: names against the schema, the delimiter, the id column.
    fn header(&mut self, raw: &[u8], mut names: Vec<String>) {
        if raw.starts_with(b"\xef\xbb\xbf") {
            self.add(1, Severity::Problem, Issue::ByteOrderMark);
            if let Some(first) = names.first_mut() {
                *first = first.trim_start_matches('\u{feff}').to_owned();
            }
        }
        if raw.iter().all(u8::is_ascii_whitespace) {
            self.add(1, Severity::Problem, Issue::NoHeader);
            self.columns = Some(0);
            return;
        }
        self.columns = Some(names.len());
        let expected = &self.schema.columns;
        let delimiter = self.schema.delimiter;
        if names.len() == 1
            && expected.len() > 1
            && let Some(found) = [b',', b';', b'\t', b'|'].into_iter().find(|&d| {
                d != delimiter && memchr::memchr_iter(d, raw).count() + 1 >= expected.len()
            })
        {
            self.add(
                1,
                Severity::Problem,
                Issue::DelimiterMismatch {
                    found: char::from(found),
                },
            );
        }
        if !expected.is_empty() {
            let folded = |s: &str| s.to_lowercase();
            let known: Vec<String> = expected.iter().map(|c| folded(c)).collect();
            let have: Vec<String> = names.iter().map(|c| folded(c)).collect();
            let unknown: Vec<String> = names
                .iter()
                .filter(|n| !known.contains(&folded(n)))
                .cloned()
                .collect();
            let missing: Vec<String> = expected
                .iter()
                .filter(|c| !have.contains(&folded(c)))
                .cloned()
                .collect();
            let complete = unknown.is_empty() && missing.is_empty();
            if !unknown.is_empty() {
                self.add(1, Severity::Problem, Issue::UnknownColumns(unknown));
            }
            if !missing.is_empty() {
                self.add(1, Severity::Problem, Issue::MissingColumns(missing));
            }
            if complete && have != known {
                self.add(
                    1,
                    Severity::Problem,
                    Issue::ColumnsOutOfOrder {
                        expected: expected.clone(),
                        found: names.clone(),
                    },
                );
            }
        }
        self.id_index = self
            .schema
            .identity_attribute
            .as_ref()
            .and_then(|id| names.iter().position(|n| n.eq_ignore_ascii_case(id)));
    }

    fn finish(mut self) -> CheckReport {
        if self.columns.is_none() {
            self.add(1, Severity::Problem, Issue::NoHeader);
        }
        if self.report.lines > RECOMMENDED_MAX_LINES {
            let lines = self.report.lines;
            self.add(lines, Severity::Warning, Issue::TooManyLines { lines });
        }
        self.report.findings.sort_by_key(|f| f.line);
        self.report.omitted_problems = self.omitted_problems;
        self.report
    }
}

/// The names of an unquoted header line.
fn split_plain(line: &[u8], delimiter: u8) -> Vec<String> {
    line.split(|&b| b == delimiter)
        .map(|name| String::from_utf8_lossy(name).trim().to_owned())
        .collect()
}

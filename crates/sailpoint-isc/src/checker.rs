//! The check itself, without I/O of its own: a delimited file read from any `Read`, against a
//! [`FileSchema`], in one pass (see `preflight` for what is checked and why).
//!
//! It reads the file once, in blocks, without holding it: lines without a quote take a fast
//! path (the line's end found, its delimiters counted 16 bytes a step, UTF-8 validated a block at
//! a time); a record with quotes (a delimiter or a line break inside a field) is parsed by
//! `csv-core`, RFC 4180's rules. Memory does not grow with the file.

use std::io::{self, Read};

/// SailPoint's recommended maximum number of lines in a delimited file.
pub const RECOMMENDED_MAX_LINES: u64 = 400_000;

/// Findings of one kind kept with their lines; more are counted, not kept (memory stays flat
/// on a file with a million bad rows).
const KEPT_PER_KIND: usize = 50;

/// Read block size (a record longer than this grows the buffer): a quarter MiB, so that a block
/// is still in the CPU's cache for the passes over it (UTF-8, line ends, delimiters).
const BLOCK: usize = 256 << 10;

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

impl Issue {
    /// A stable, machine-readable name: `no_header`, `byte_order_mark`, `delimiter_mismatch`,
    /// `unknown_columns`, `missing_columns`, `columns_out_of_order`, `wrong_column_count`,
    /// `empty_id`, `invalid_utf8`, `not_sorted`, `unterminated_quote`, `too_many_lines`.
    pub fn code(&self) -> &'static str {
        match self {
            Issue::NoHeader => "no_header",
            Issue::ByteOrderMark => "byte_order_mark",
            Issue::DelimiterMismatch { .. } => "delimiter_mismatch",
            Issue::UnknownColumns(_) => "unknown_columns",
            Issue::MissingColumns(_) => "missing_columns",
            Issue::ColumnsOutOfOrder { .. } => "columns_out_of_order",
            Issue::WrongColumnCount { .. } => "wrong_column_count",
            Issue::EmptyId => "empty_id",
            Issue::InvalidUtf8 => "invalid_utf8",
            Issue::NotSorted { .. } => "not_sorted",
            Issue::UnterminatedQuote => "unterminated_quote",
            Issue::TooManyLines { .. } => "too_many_lines",
        }
    }
}

impl Severity {
    /// `"warning"` or `"problem"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Problem => "problem",
        }
    }
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
        write!(
            f,
            "line {}: {}: {}",
            self.line,
            self.severity.as_str(),
            self.issue
        )
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

    /// Every problem found, the omitted ones included.
    pub fn total_problems(&self) -> u64 {
        self.problems() as u64 + self.omitted_problems
    }

    /// Problems among the findings kept (see [`total_problems`](Self::total_problems) for all).
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
    ///
    /// The hot path, a line without quotes, reads the line twice: the search for its end and
    /// the count of its delimiters ([`count_byte`]). The next quote is searched once for all
    /// the lines before it, and UTF-8 is validated once for a whole stretch of lines
    /// ([`Utf8Span`]), not line by line.
    fn feed(&mut self, data: &[u8], eof: bool) -> usize {
        // Only complete lines can be consumed: UTF-8 is validated up to the last line break.
        let checkable = if eof {
            data.len()
        } else {
            memchr::memrchr(b'\n', data).map_or(0, |i| i + 1)
        };
        let mut utf8 = Utf8Span::default();
        // The first quote at or after `at` (`data.len()` when none).
        let mut next_quote = memchr::memchr(b'"', data).unwrap_or(data.len());
        let mut at = 0;
        while at < data.len() {
            if next_quote < at {
                next_quote = memchr::memchr(b'"', &data[at..]).map_or(data.len(), |i| at + i);
            }
            let rest = &data[at..];
            let newline = memchr::memchr(b'\n', rest);
            let line_end = at + newline.unwrap_or(rest.len());
            if next_quote >= line_end {
                // The fast path: no quotes, the line is the record.
                let line = &data[at..line_end];
                match newline {
                    Some(n) => {
                        let valid = utf8.valid(data, at, line_end + 1, checkable);
                        self.plain(line, valid);
                        at += n + 1;
                    }
                    None if eof => {
                        let valid = utf8.valid(data, at, line_end, checkable);
                        self.plain(line, valid);
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
                        let valid = utf8.valid(data, at, at + len, checkable);
                        self.quoted(record, valid);
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

    /// A record without quotes, without its line break (`valid`: whether it is UTF-8).
    fn plain(&mut self, line: &[u8], valid: bool) {
        let line_no = self.report.lines + 1;
        self.report.lines += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !valid {
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
        let count = count_byte(line, delimiter) + 1;
        let id = self.id_index.and_then(|i| nth_field(line, delimiter, i));
        self.row(line_no, count, id);
    }

    /// A record with quotes, already parsed into `field_buf`/`ends` (`valid`: whether it is
    /// UTF-8).
    fn quoted(&mut self, record: Record<'_>, valid: bool) {
        let line_no = self.report.lines + 1;
        self.report.lines += 1 + record.inner_breaks;
        if !valid {
            self.add(line_no, Severity::Problem, Issue::InvalidUtf8);
        }
        let n = self.parsed_fields;
        let span = |ends: &[usize], i: usize| (if i == 0 { 0 } else { ends[i - 1] })..ends[i];
        if self.columns.is_none() {
            let names = (0..n)
                .map(|i| {
                    let field = &self.field_buf[span(&self.ends, i)];
                    String::from_utf8_lossy(field).trim().to_owned()
                })
                .collect();
            self.header(record.raw, names);
            return;
        }
        self.report.rows += 1;
        // The id is compared where the parser wrote it, not copied out.
        let fields = std::mem::take(&mut self.field_buf);
        let id = self
            .id_index
            .filter(|&i| i < n)
            .map(|i| &fields[span(&self.ends, i)]);
        self.row(line_no, n, id);
        self.field_buf = fields;
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
        if self.has_previous && sorts_before(id, &self.previous_id) {
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

/// `ONES_THEN_ZEROS[n..n + 16]`: `16 - n` ones then `n` zeros.
const ONES_THEN_ZEROS: [u8; 32] = [
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// How many bytes of `hay` are `needle`: 16 bytes a step in plain arrays the compiler turns into
/// vector instructions (a compare, a subtract), a sum every 255 steps, and the last 16 bytes
/// read again with the ones already counted masked out.
///
/// Not inlined, so that its loop is compiled the same wherever it is called.
#[inline(never)]
fn count_byte(hay: &[u8], needle: u8) -> usize {
    type Lanes = [u8; 16];
    fn sum(lanes: &Lanes) -> usize {
        lanes.iter().map(|&x| usize::from(x)).sum()
    }
    if hay.len() < 16 {
        return hay.iter().filter(|&&b| b == needle).count();
    }
    let mut total = 0;
    let mut lanes: Lanes = [0; 16];
    let mut steps = 0;
    let mut chunks = hay.chunks_exact(16);
    for chunk in &mut chunks {
        for (lane, &byte) in lanes.iter_mut().zip(chunk) {
            *lane += u8::from(byte == needle);
        }
        steps += 1;
        if steps == 255 {
            total += sum(&lanes);
            lanes = [0; 16];
            steps = 0;
        }
    }
    // The last 16 bytes: the first `16 - rest` of them were counted above.
    let rest = chunks.remainder().len();
    let last = &hay[hay.len() - 16..];
    for ((lane, &byte), &seen) in lanes.iter_mut().zip(last).zip(&ONES_THEN_ZEROS[rest..]) {
        *lane += u8::from(byte == needle) & (1 - seen);
    }
    total + sum(&lanes)
}

/// `a < b` as for byte slices, 8 bytes a step rather than through a call for each short id.
#[inline]
fn sorts_before(a: &[u8], b: &[u8]) -> bool {
    let common = a.len().min(b.len());
    let (mut x, mut y) = (&a[..common], &b[..common]);
    while let (Some((p, x_rest)), Some((q, y_rest))) =
        (x.split_first_chunk(), y.split_first_chunk())
    {
        let (p, q) = (u64::from_be_bytes(*p), u64::from_be_bytes(*q));
        if p != q {
            return p < q;
        }
        (x, y) = (x_rest, y_rest);
    }
    match x.iter().zip(y).find(|(p, q)| p != q) {
        Some((p, q)) => p < q,
        None => a.len() < b.len(),
    }
}

/// The `index`th field of an unquoted line (0 is the first), if it has that many.
fn nth_field(line: &[u8], delimiter: u8, index: usize) -> Option<&[u8]> {
    let mut start = 0;
    for _ in 0..index {
        start += memchr::memchr(delimiter, &line[start..])? + 1;
    }
    let end = memchr::memchr(delimiter, &line[start..]).map_or(line.len(), |i| start + i);
    Some(&line[start..end])
}

/// Where a block is known to be UTF-8: validated from a record's start to the last line break
/// in one call, rather than line by line; on an error, the record holding it is invalid and
/// validation resumes at the next record (so each byte is validated about once).
#[derive(Default)]
struct Utf8Span {
    /// `data[from..to]` is valid UTF-8 (`from` and `to` on character boundaries).
    from: usize,
    to: usize,
}

impl Utf8Span {
    /// Whether the record `data[start..end]` (ending at a line break or the end of the file) is
    /// valid UTF-8; `checkable` is how far validation may look ahead (the last line break).
    fn valid(&mut self, data: &[u8], start: usize, end: usize, checkable: usize) -> bool {
        if start < self.from || end > self.to {
            let upto = checkable.max(end);
            self.from = start;
            self.to = match std::str::from_utf8(&data[start..upto]) {
                Ok(_) => upto,
                Err(e) => start + e.valid_up_to(),
            };
        }
        end <= self.to
    }
}

/// The names of an unquoted header line.
fn split_plain(line: &[u8], delimiter: u8) -> Vec<String> {
    line.split(|&b| b == delimiter)
        .map(|name| String::from_utf8_lossy(name).trim().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count_byte` against a plain count, on every length up to a few steps and beyond 255.
    #[test]
    fn count_byte_matches_a_plain_count() {
        let mut data = Vec::new();
        let mut state = 7u32;
        for _ in 0..10_000 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            data.push(if (state >> 16).is_multiple_of(3) {
                b','
            } else {
                b'a'
            });
        }
        data.extend_from_slice(&[b','; 5_000]);
        for start in [0, 1, 7, 15] {
            for end in (start..start + 300).chain([4_100, 9_000, data.len()]) {
                let hay = &data[start..end];
                for needle in [b',', b'a', b'\n'] {
                    let expected = hay.iter().filter(|&&b| b == needle).count();
                    assert_eq!(count_byte(hay, needle), expected, "{start}..{end} {needle}");
                }
            }
        }
    }

    #[test]
    fn sorts_before_is_slice_order() {
        let ids: [&[u8]; 12] = [
            b"",
            b"0",
            b"00000001",
            b"000000010",
            b"0000000100000000",
            b"00000001000000001",
            b"00000002",
            b"1",
            b"10",
            b"9",
            b"\xff",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\x00",
        ];
        for a in ids {
            for b in ids {
                assert_eq!(sorts_before(a, b), a < b, "{a:?} {b:?}");
            }
        }
    }

    /// Invalid UTF-8 on several lines, across block boundaries, each found on its line.
    #[test]
    fn invalid_utf8_on_every_line_it_is_on() {
        let schema = FileSchema::from_header_line("id,name").with_identity_attribute("id");
        let mut file = b"id,name\n".to_vec();
        let mut bad = Vec::new();
        for i in 0..300_000u64 {
            if i % 7_919 == 3 {
                file.extend_from_slice(format!("{i:08},").as_bytes());
                file.extend_from_slice(b"Ren\xe9e\n");
                bad.push(i + 2);
            } else if i % 10_007 == 5 {
                file.extend_from_slice(format!("{i:08},").as_bytes());
                file.extend_from_slice(b"\"Ren\xe9e, \xff\"\n");
                bad.push(i + 2);
            } else {
                file.extend_from_slice(format!("{i:08},Zoë\n").as_bytes());
            }
        }
        let report = check_reader(&file[..], &schema).unwrap();
        let found: Vec<u64> = report
            .findings
            .iter()
            .filter(|f| f.issue == Issue::InvalidUtf8)
            .map(|f| f.line)
            .collect();
        assert!(bad.len() > KEPT_PER_KIND);
        assert_eq!(found, bad[..KEPT_PER_KIND]);
        assert_eq!(
            report.findings.len(),
            KEPT_PER_KIND,
            "{:?}",
            report.findings
        );
        assert_eq!(report.omitted, (bad.len() - KEPT_PER_KIND) as u64);
    }
}

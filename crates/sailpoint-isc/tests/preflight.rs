//! The pre-flight check, table-driven: every problem it looks for, with its line, on files that
//! have exactly that problem; quoted fields with delimiters and line breaks; CRLF; and a large
//! file streamed through it.

use std::io::Read;

use sailpoint_isc::preflight::{FileSchema, Issue, Severity, check_reader};

fn schema() -> FileSchema {
    FileSchema::from_header_line("id,name,email").with_identity_attribute("id")
}

/// What a case must find: (line, severity, a short name of the issue).
type Expected = &'static [(u64, Severity, &'static str)];

fn name(issue: &Issue) -> &'static str {
    match issue {
        Issue::NoHeader => "no header",
        Issue::ByteOrderMark => "bom",
        Issue::DelimiterMismatch { .. } => "delimiter",
        Issue::UnknownColumns(_) => "unknown columns",
        Issue::MissingColumns(_) => "missing columns",
        Issue::ColumnsOutOfOrder { .. } => "out of order",
        Issue::WrongColumnCount { .. } => "column count",
        Issue::EmptyId => "empty id",
        Issue::InvalidUtf8 => "utf-8",
        Issue::NotSorted { .. } => "not sorted",
        Issue::UnterminatedQuote => "unterminated quote",
        Issue::TooManyLines { .. } => "too many lines",
        _ => "other",
    }
}

#[test]
fn every_problem_with_its_line() {
    use Severity::Problem;
    let cases: &[(&str, &[u8], Expected)] = &[
        ("clean", b"id,name,email\n1,Ada,a@x\n2,Alan,b@x\n", &[]),
        (
            "clean, CRLF, no final line break",
            b"id,name,email\r\n1,Ada,a@x\r\n2,Alan,b@x",
            &[],
        ),
        (
            "a multi-valued attribute: one row per value, rows of an id together",
            b"id,name,email\n1,Ada,a@x\n1,Ada,a2@x\n2,Alan,b@x\n",
            &[],
        ),
        (
            "quoted fields with the delimiter and a line break inside",
            b"id,name,email\n1,\"Lovelace, Ada\",a@x\n2,\"Alan\nTuring\",b@x\n3,\"Grace \"\"Amazing\"\" Hopper\",c@x\n4,Bad,extra,column\n",
            // Line 5 is the fourth record's first line; 4 has a break inside its record.
            &[(6, Problem, "column count")],
        ),
        (
            "unknown and missing columns",
            b"id,name,mail\n1,Ada,a@x\n",
            &[(1, Problem, "unknown columns"), (1, Problem, "missing columns")],
        ),
        (
            "columns out of order",
            b"id,email,name\n1,a@x,Ada\n",
            &[(1, Problem, "out of order")],
        ),
        (
            "wrong column counts",
            b"id,name,email\n1,Ada\n2,Alan,b@x\n3,Grace,c@x,extra\n",
            &[(2, Problem, "column count"), (4, Problem, "column count")],
        ),
        (
            "an empty id",
            b"id,name,email\n1,Ada,a@x\n ,Nobody,n@x\n",
            &[(3, Problem, "empty id")],
        ),
        (
            "invalid UTF-8 (Latin-1)",
            b"id,name,email\n1,Ren\xe9e,r@x\n2,Alan,b@x\n",
            &[(2, Problem, "utf-8")],
        ),
        (
            "a byte order mark",
            b"\xef\xbb\xbfid,name,email\n1,Ada,a@x\n",
            &[(1, Problem, "bom")],
        ),
        (
            "a semicolon file for a comma source",
            b"id;name;email\n1;Ada;a@x\n",
            &[
                (1, Problem, "delimiter"),
                (1, Problem, "unknown columns"),
                (1, Problem, "missing columns"),
            ],
        ),
        (
            "not sorted by id",
            b"id,name,email\n1,Ada,a@x\n3,Grace,c@x\n2,Alan,b@x\n",
            &[(4, Problem, "not sorted")],
        ),
        (
            "not grouped: an id's rows apart",
            b"id,name,email\n1,Ada,a@x\n2,Alan,b@x\n1,Ada,a2@x\n",
            &[(4, Problem, "not sorted")],
        ),
        (
            "a quote that never closes",
            b"id,name,email\n1,Ada,a@x\n2,\"Alan,b@x\n3,Grace,c@x\n",
            &[(3, Problem, "unterminated quote")],
        ),
        ("an empty file", b"", &[(1, Problem, "no header")]),
    ];
    for (label, file, expected) in cases {
        let report = check_reader(*file, &schema()).unwrap();
        let found: Vec<(u64, Severity, &str)> = report
            .findings
            .iter()
            .map(|f| (f.line, f.severity, name(&f.issue)))
            .collect();
        assert_eq!(&found, expected, "{label}: {:#?}", report.findings);
        assert_eq!(report.is_clean(), expected.is_empty(), "{label}");
        assert_eq!(report.bytes, file.len() as u64, "{label}");
    }
}

#[test]
fn unsorted_is_a_warning_where_the_source_sorts_itself() {
    let schema = schema().with_source_sorting(true);
    let report = check_reader(&b"id,name,email\n2,Alan,b@x\n1,Ada,a@x\n"[..], &schema).unwrap();
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].severity, Severity::Warning);
    assert_eq!(report.findings[0].line, 3);
    assert!(report.is_clean(), "warnings only");
}

#[test]
fn other_delimiters_and_line_counts() {
    let schema = FileSchema::new(["id", "name"])
        .with_identity_attribute("id")
        .with_delimiter(b'|');
    let report = check_reader(&b"id|name\n1|Ada\n2|Alan|x\n"[..], &schema).unwrap();
    assert_eq!(report.lines, 3);
    assert_eq!(report.rows, 2);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].line, 3);
    assert!(matches!(
        report.findings[0].issue,
        Issue::WrongColumnCount {
            expected: 2,
            found: 3
        }
    ));
}

/// Rows generated on the fly: `rows` sorted rows, `bad_every` of them one column short.
struct Generated {
    next: u64,
    rows: u64,
    bad_every: u64,
    pending: Vec<u8>,
    at: usize,
}

impl Generated {
    fn new(rows: u64, bad_every: u64) -> Self {
        Generated {
            next: 0,
            rows,
            bad_every,
            pending: b"id,name,email\n".to_vec(),
            at: 0,
        }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.pending.len() {
            if self.next == self.rows {
                return Ok(0);
            }
            self.pending.clear();
            self.at = 0;
            for _ in 0..1000.min(self.rows - self.next) {
                let n = self.next;
                if self.bad_every > 0 && n % self.bad_every == self.bad_every - 1 {
                    self.pending
                        .extend_from_slice(format!("{n:012},short\n").as_bytes());
                } else {
                    self.pending.extend_from_slice(
                        format!("{n:012},\"User, {n}\",user{n}@example.com\n").as_bytes(),
                    );
                }
                self.next += 1;
            }
        }
        let n = buf.len().min(self.pending.len() - self.at);
        buf[..n].copy_from_slice(&self.pending[self.at..n + self.at]);
        self.at += n;
        Ok(n)
    }
}

/// Over SailPoint's recommended 400,000 lines: a warning at the end; a million short rows are
/// counted but only a few dozen kept, so memory stays flat.
#[test]
fn large_files_stream_with_bounded_findings() {
    let report = check_reader(Generated::new(400_001, 0), &schema()).unwrap();
    assert_eq!(report.lines, 400_002);
    assert_eq!(report.rows, 400_001);
    assert!(report.is_clean());
    assert_eq!(report.findings.len(), 1);
    assert!(matches!(
        report.findings[0].issue,
        Issue::TooManyLines { lines: 400_002 }
    ));

    let report = check_reader(Generated::new(200_000, 2), &schema()).unwrap();
    assert!(!report.is_clean());
    let short: Vec<u64> = report
        .findings
        .iter()
        .filter(|f| matches!(f.issue, Issue::WrongColumnCount { .. }))
        .map(|f| f.line)
        .collect();
    assert_eq!(short.len(), 50, "kept per kind");
    // Row n is on line n + 2; every second row (n odd) is short.
    assert_eq!(&short[..3], &[3, 5, 7]);
    assert_eq!(report.omitted, 100_000 - 50);
}

/// 1 GiB of sorted rows, generated as it is read (no disk), with problems planted near its end:
/// each is found at its exact line, in one pass, and nothing else is.
#[test]
fn a_gibibyte_file_is_checked_in_one_pass_with_exact_lines() {
    const ROW: usize = 64;
    const ROWS: u64 = (1 << 30) / ROW as u64 - 1; // header + rows = 1 GiB exactly
    const SHORT: u64 = ROWS - 1_000; // row index of a row missing its last column
    const EMPTY_ID: u64 = ROWS - 10; // and one whose id is empty

    /// Rows of exactly 64 bytes: `{n:012},User {n:012} padded…,u{n:012}@example.com\n`.
    struct Gib {
        next: u64,
        block: Vec<u8>,
        at: usize,
    }
    impl Read for Gib {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.at == self.block.len() {
                if self.next == ROWS {
                    return Ok(0);
                }
                self.block.clear();
                self.at = 0;
                let end = (self.next + 4096).min(ROWS);
                while self.next < end {
                    let n = self.next;
                    let row = match n {
                        SHORT | EMPTY_ID => {
                            let mut row = if n == SHORT {
                                format!("{n:012},User {n:012}")
                            } else {
                                format!(",User {n:012},u{n:012}@example.com")
                            };
                            row.extend(std::iter::repeat_n(' ', ROW - 1 - row.len()));
                            row.push('\n');
                            row.into_bytes()
                        }
                        _ => {
                            // The template's three 12-digit fields, rewritten in place.
                            let mut row = *b"000000000000,User 000000000000,u000000000000@example.com       \n";
                            let mut digits = [b'0'; 12];
                            let mut v = n;
                            for d in digits.iter_mut().rev() {
                                *d = b'0' + (v % 10) as u8;
                                v /= 10;
                            }
                            for at in [0, 18, 32] {
                                row[at..at + 12].copy_from_slice(&digits);
                            }
                            row.to_vec()
                        }
                    };
                    debug_assert_eq!(row.len(), ROW);
                    self.block.extend_from_slice(&row);
                    self.next += 1;
                }
            }
            let n = buf.len().min(self.block.len() - self.at);
            buf[..n].copy_from_slice(&self.block[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }
    let source = Gib {
        next: 0,
        block: b"id,name,email\n".to_vec(),
        at: 0,
    };
    let report = check_reader(source, &schema()).unwrap();
    assert_eq!(report.rows, ROWS);
    assert_eq!(report.lines, ROWS + 1);
    assert_eq!(report.bytes, 14 + ROWS * ROW as u64);
    assert!(report.bytes > (1 << 30) - ROW as u64);
    // Row n is on line n + 2; nothing but the planted problems and the line-count warning.
    let found: Vec<(u64, Severity, &'static str)> = report
        .findings
        .iter()
        .map(|f| (f.line, f.severity, name(&f.issue)))
        .collect();
    assert_eq!(
        found,
        [
            (SHORT + 2, Severity::Problem, "column count"),
            (EMPTY_ID + 2, Severity::Problem, "empty id"),
            (ROWS + 1, Severity::Warning, "too many lines"),
        ]
    );
}

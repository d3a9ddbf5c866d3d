//! Streaming CSV digesting and the optimisation diff.
//!
//! An uploaded file is never held in memory. While it streams in, [`UploadScanner`] computes its
//! SHA-256 and byte count, and [`CsvScanner`] splits it into records (RFC 4180 quoting, so quoted
//! commas and newlines stay inside a field) and keeps one `(key hash, row hash)` pair of 16 bytes per
//! data row, the key being the first column (or the column of the schema's identity attribute).
//! The header row is not a data row: its column names are kept (a UTF-8 byte order mark before
//! it is dropped) for the schema check. Blank lines are skipped, and carriage returns outside
//! quotes are ignored, so CRLF and LF files digest the same.
//!
//! A [`Snapshot`] of those pairs is what the next aggregation of the source is compared with.

use std::hash::{DefaultHasher, Hasher};

use sha2::{Digest, Sha256};

/// The rows of one aggregation: `(key hash, row hash)` sorted by key, one entry per key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    entries: Vec<(u64, u64)>,
}

/// How a snapshot differs from the previous one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Diff {
    pub new: u64,
    pub changed: u64,
    pub deleted: u64,
    pub unchanged: u64,
}

impl Snapshot {
    /// Builds a snapshot from pairs in file order; for a repeated key the last row wins.
    fn from_rows(mut rows: Vec<(u64, u64)>) -> Self {
        rows.reverse();
        rows.sort_by_key(|&(k, _)| k); // stable: the last row of a key comes first
        rows.dedup_by_key(|&mut (k, _)| k);
        rows.shrink_to_fit();
        Self { entries: rows }
    }

    /// A synthetic snapshot for a direct-connect source of `n` unchanging accounts.
    pub(crate) fn synthetic(n: u32) -> Self {
        let rows = (0..n)
            .map(|i| {
                let mut h = DefaultHasher::new();
                h.write(b"direct-connect-account");
                h.write_u32(i);
                let k = h.finish();
                (k, k)
            })
            .collect();
        Self::from_rows(rows)
    }

    /// Number of distinct accounts.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Compares `self` (the new rows) with `previous`.
    pub(crate) fn diff(&self, previous: Option<&Snapshot>) -> Diff {
        let Some(previous) = previous else {
            return Diff {
                new: self.entries.len() as u64,
                ..Diff::default()
            };
        };
        let (mut a, mut b) = (
            self.entries.iter().peekable(),
            previous.entries.iter().peekable(),
        );
        let mut d = Diff::default();
        loop {
            match (a.peek(), b.peek()) {
                (Some(&&(ka, ha)), Some(&&(kb, hb))) => {
                    if ka == kb {
                        if ha == hb {
                            d.unchanged += 1;
                        } else {
                            d.changed += 1;
                        }
                        a.next();
                        b.next();
                    } else if ka < kb {
                        d.new += 1;
                        a.next();
                    } else {
                        d.deleted += 1;
                        b.next();
                    }
                }
                (Some(_), None) => {
                    d.new += 1;
                    a.next();
                }
                (None, Some(_)) => {
                    d.deleted += 1;
                    b.next();
                }
                (None, None) => break,
            }
        }
        d
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field.
    FieldStart,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just saw a `"` inside a quoted field: either an escaped quote or the closing one.
    QuoteInQuoted,
}

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Most bytes of header names kept; a longer header is cut there (and will not match a schema).
const MAX_HEADER_BYTES: usize = 1 << 20;

/// Incremental CSV record splitter that keeps only per-row hashes (and the header's names).
#[derive(Debug)]
pub(crate) struct CsvScanner {
    state: State,
    field: usize,
    key_column: usize,
    /// Bytes of a byte order mark matched at the start of the file, while still undecided.
    bom_matched: usize,
    bom_pending: bool,
    header: Vec<String>,
    header_field: Vec<u8>,
    header_bytes: usize,
    key: DefaultHasher,
    row: DefaultHasher,
    row_len: u64,
    header_seen: bool,
    rows: u64,
    entries: Vec<(u64, u64)>,
}

impl Default for CsvScanner {
    fn default() -> Self {
        Self::new(0)
    }
}

impl CsvScanner {
    /// A scanner keying data rows by the column at `key_column` (0: the first).
    pub(crate) fn new(key_column: usize) -> Self {
        Self {
            state: State::FieldStart,
            field: 0,
            key_column,
            bom_matched: 0,
            bom_pending: true,
            header: Vec::new(),
            header_field: Vec::new(),
            header_bytes: 0,
            key: DefaultHasher::new(),
            row: DefaultHasher::new(),
            row_len: 0,
            header_seen: false,
            rows: 0,
            entries: Vec::new(),
        }
    }

    /// Consumes the next chunk of the file; chunk boundaries may fall anywhere.
    pub(crate) fn feed(&mut self, mut chunk: &[u8]) {
        if self.bom_pending {
            while let Some((&b, rest)) = chunk.split_first() {
                if b == BOM[self.bom_matched] {
                    self.bom_matched += 1;
                    chunk = rest;
                    if self.bom_matched == BOM.len() {
                        self.bom_pending = false;
                        break;
                    }
                } else {
                    self.replay_bom_prefix();
                    break;
                }
            }
            if self.bom_pending {
                return;
            }
        }
        self.scan(chunk);
    }

    /// The start of the file looked like a byte order mark but is not one: scan those bytes.
    fn replay_bom_prefix(&mut self) {
        self.bom_pending = false;
        let held = self.bom_matched;
        self.bom_matched = 0;
        self.scan(&BOM[..held]);
    }

    /// Adds a byte of a field to the header's current name, while in the header row.
    fn header_byte(&mut self, b: u8) {
        if !self.header_seen && self.header_bytes < MAX_HEADER_BYTES {
            self.header_field.push(b);
            self.header_bytes += 1;
        }
    }

    /// Ends a header name, while in the header row.
    fn end_header_field(&mut self) {
        if !self.header_seen {
            let name =
                String::from_utf8_lossy(&std::mem::take(&mut self.header_field)).into_owned();
            self.header.push(name);
        }
    }

    fn scan(&mut self, chunk: &[u8]) {
        let mut span = 0; // start of the bytes not yet added to the row hash
        for (i, &b) in chunk.iter().enumerate() {
            match self.state {
                State::Quoted => {
                    if b == b'"' {
                        self.state = State::QuoteInQuoted;
                    } else {
                        if self.field == self.key_column {
                            self.key.write_u8(b);
                        }
                        self.header_byte(b);
                    }
                    continue;
                }
                State::QuoteInQuoted if b == b'"' => {
                    self.state = State::Quoted;
                    if self.field == self.key_column {
                        self.key.write_u8(b'"');
                    }
                    self.header_byte(b'"');
                    continue;
                }
                State::QuoteInQuoted => self.state = State::Unquoted,
                State::FieldStart | State::Unquoted => {}
            }
            match b {
                b'"' if self.state == State::FieldStart => self.state = State::Quoted,
                b',' => {
                    self.end_header_field();
                    self.field += 1;
                    self.state = State::FieldStart;
                }
                b'\n' | b'\r' => {
                    self.add_span(&chunk[span..i]);
                    span = i + 1;
                    if b == b'\n' {
                        self.end_row();
                    }
                }
                _ => {
                    self.state = State::Unquoted;
                    if self.field == self.key_column {
                        self.key.write_u8(b);
                    }
                    self.header_byte(b);
                }
            }
        }
        self.add_span(&chunk[span..]);
    }

    fn add_span(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.row.write(bytes);
            self.row_len += bytes.len() as u64;
        }
    }

    fn end_row(&mut self) {
        let blank = self.row_len == 0;
        let key = std::mem::take(&mut self.key).finish();
        let row = std::mem::take(&mut self.row).finish();
        self.state = State::FieldStart;
        self.field = 0;
        self.row_len = 0;
        if blank {
            self.header.clear();
            self.header_field.clear();
            return;
        }
        if !self.header_seen {
            self.end_header_field();
            self.header_seen = true;
        } else {
            self.rows += 1;
            self.entries.push((key, row));
        }
    }

    /// Ends the file (a last row without a trailing newline counts) and returns the data row
    /// count and snapshot.
    #[cfg(test)]
    pub(crate) fn finish(self) -> (u64, Snapshot) {
        let (rows, snapshot, _) = self.finish_with_header();
        (rows, snapshot)
    }

    /// [`finish`](Self::finish), plus the header's column names (empty for an empty file).
    pub(crate) fn finish_with_header(mut self) -> (u64, Snapshot, Vec<String>) {
        if self.bom_pending && self.bom_matched > 0 {
            self.replay_bom_prefix();
        }
        if self.row_len > 0 {
            self.end_row();
        }
        (self.rows, Snapshot::from_rows(self.entries), self.header)
    }
}

/// Digests an uploaded file part: SHA-256, byte count, CSV rows and header.
#[derive(Debug, Default)]
pub(crate) struct UploadScanner {
    sha: Sha256,
    bytes: u64,
    csv: CsvScanner,
}

/// The digest of a whole file part.
#[derive(Debug)]
pub(crate) struct ScannedFile {
    pub bytes: u64,
    pub sha256: String,
    pub rows: u64,
    pub snapshot: Snapshot,
    /// The header row's column names (empty for an empty file).
    pub header: Vec<String>,
}

impl UploadScanner {
    /// A scanner keying data rows by the column at `key_column`.
    pub(crate) fn new(key_column: usize) -> Self {
        Self {
            sha: Sha256::default(),
            bytes: 0,
            csv: CsvScanner::new(key_column),
        }
    }

    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        self.sha.update(chunk);
        self.bytes += chunk.len() as u64;
        self.csv.feed(chunk);
    }

    pub(crate) fn finish(self) -> ScannedFile {
        let (rows, snapshot, header) = self.csv.finish_with_header();
        let sha256 = self
            .sha
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        ScannedFile {
            bytes: self.bytes,
            sha256,
            rows,
            snapshot,
            header,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_chunked(data: &[u8], chunk: usize) -> (u64, Snapshot) {
        let mut s = CsvScanner::default();
        for c in data.chunks(chunk) {
            s.feed(c);
        }
        s.finish()
    }

    const SAMPLE: &[u8] = b"id,name,email\r\n1,Alice,a@x\r\n2,\"Bob, Jr.\",\"b\"\"@x\"\r\n\r\n3,\"Multi\nline\",c@x\r\n\"4\",Dana,d@x";

    #[test]
    fn counts_rows_with_quotes_and_blank_lines() {
        let (rows, snap) = scan_chunked(SAMPLE, SAMPLE.len());
        assert_eq!(rows, 4);
        assert_eq!(snap.len(), 4);
    }

    #[test]
    fn chunk_boundaries_do_not_matter() {
        let whole = scan_chunked(SAMPLE, SAMPLE.len());
        for size in 1..16 {
            assert_eq!(scan_chunked(SAMPLE, size), whole, "chunk size {size}");
        }
    }

    #[test]
    fn crlf_and_lf_digest_the_same() {
        let lf = b"id,n\n1,a\n2,b\n";
        let crlf = b"id,n\r\n1,a\r\n2,b\r\n";
        assert_eq!(scan_chunked(lf, 3), scan_chunked(crlf, 5));
    }

    #[test]
    fn quoted_key_equals_unquoted_key() {
        let (_, a) = scan_chunked(b"h\n\"1\",x\n", 64);
        let (_, b) = scan_chunked(b"h\n1,y\n", 64);
        let d = b.diff(Some(&a));
        assert_eq!((d.new, d.changed, d.deleted), (0, 1, 0));
    }

    #[test]
    fn diff_counts_new_changed_deleted() {
        let (_, old) = scan_chunked(b"id,v\n1,a\n2,b\n3,c\n", 64);
        let (_, new) = scan_chunked(b"id,v\n1,a\n2,B\n4,d\n5,e\n", 64);
        let d = new.diff(Some(&old));
        assert_eq!(
            d,
            Diff {
                new: 2,
                changed: 1,
                deleted: 1,
                unchanged: 1
            }
        );
        assert_eq!(new.diff(None).new, 4);
        assert_eq!(old.diff(Some(&old)).unchanged, 3);
    }

    #[test]
    fn repeated_key_keeps_last_row() {
        let (rows, snap) = scan_chunked(b"id,v\n1,a\n1,b\n", 64);
        assert_eq!(rows, 2);
        let (_, last) = scan_chunked(b"id,v\n1,b\n", 64);
        assert_eq!(snap, last);
    }

    #[test]
    fn header_only_and_empty_files() {
        assert_eq!(scan_chunked(b"id,name\n", 4).0, 0);
        assert_eq!(scan_chunked(b"", 4).0, 0);
    }

    fn header_of(data: &[u8], chunk: usize) -> Vec<String> {
        let mut s = CsvScanner::default();
        for c in data.chunks(chunk) {
            s.feed(c);
        }
        s.finish_with_header().2
    }

    #[test]
    fn header_names_survive_bom_crlf_quotes_and_chunking() {
        let data = b"\xEF\xBB\xBF\r\n\"id\",\"a,b\",\"q\"\"x\",last\r\n1,2,3,4\r\n";
        for size in 1..8 {
            assert_eq!(
                header_of(data, size),
                ["id", "a,b", "q\"x", "last"],
                "chunk size {size}"
            );
        }
        assert_eq!(header_of(b"id,name", 3), ["id", "name"]);
        assert_eq!(header_of(b"\xEF\xBBid\n", 1), ["\u{FFFD}id"]);
        assert_eq!(header_of(b"\xEF", 1).len(), 1);
        assert!(header_of(b"", 1).is_empty());
        // The BOM does not change the data rows.
        let (_, a) = scan_chunked(b"\xEF\xBB\xBFid,v\n1,a\n", 2);
        let (_, b) = scan_chunked(b"id,v\n1,a\n", 2);
        assert_eq!(a, b);
    }

    #[test]
    fn rows_can_be_keyed_by_another_column() {
        let scan = |data: &[u8]| {
            let mut s = CsvScanner::new(1);
            s.feed(data);
            s.finish().1
        };
        let old = scan(b"name,id\nAlice,1\nBob,2\n");
        let new = scan(b"name,id\nAlicia,1\nBob,3\n");
        let d = new.diff(Some(&old));
        assert_eq!((d.new, d.changed, d.deleted, d.unchanged), (1, 1, 1, 0));
    }

    #[test]
    fn sha256_of_known_input() {
        let mut s = UploadScanner::default();
        s.feed(b"a");
        s.feed(b"bc");
        let f = s.finish();
        assert_eq!(f.bytes, 3);
        assert_eq!(
            f.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

//! Shared CSV handling for the importers: encoding checks, header lookup by name, and true
//! physical line numbers (a record's first line, counting newlines inside quoted fields and CRLF).

use super::{FileError, Parsed, RowError};
use std::collections::HashMap;

/// Refuses empty and binary files; returns the text as UTF-8 (a BOM is dropped).
pub fn utf8_text(bytes: &[u8]) -> Result<&str, FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Err(FileError::Binary { offset });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| FileError::Encoding {
        expected: "UTF-8",
        line: line_of_offset(bytes, e.valid_up_to()),
    })
}

/// 1-based line number of a byte offset.
pub fn line_of_offset(bytes: &[u8], offset: usize) -> u64 {
    1 + bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count() as u64
}

/// Normalises a header for matching: lower case, trimmed, inner runs of space/underscore as one space.
pub fn normalise_header(h: &str) -> String {
    let mut out = String::with_capacity(h.len());
    let mut space = false;
    for c in h.trim().trim_start_matches('\u{feff}').chars() {
        if c == '_' || c.is_whitespace() {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The header row, indexed by normalised name.
#[derive(Debug)]
pub struct Header {
    pub names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Header {
    pub fn new(record: &csv::StringRecord) -> Result<Header, FileError> {
        let names: Vec<String> = record
            .iter()
            .map(|s| s.trim().trim_start_matches('\u{feff}').to_string())
            .collect();
        let mut index = HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            if n.is_empty() {
                continue;
            }
            if index.insert(normalise_header(n), i).is_some() {
                return Err(FileError::DuplicateColumn { column: n.clone() });
            }
        }
        Ok(Header { names, index })
    }

    /// The first of `aliases` present in the header: (its index, its name as written).
    pub fn find(&self, aliases: &[&str]) -> Option<usize> {
        aliases
            .iter()
            .find_map(|a| self.index.get(&normalise_header(a)).copied())
    }
}

/// A column the importer reads: its index and the header as written in the file.
#[derive(Debug, Clone)]
pub struct Column {
    pub index: usize,
    pub name: String,
}

/// Resolves required and optional columns; every missing required column is named at once.
/// Which columns of the header the parser reads.
pub fn used_columns(width: usize, req: &[Column], opt: &[Option<Column>]) -> Vec<bool> {
    let mut used = vec![false; width];
    for c in req.iter().chain(opt.iter().flatten()) {
        if let Some(u) = used.get_mut(c.index) {
            *u = true;
        }
    }
    used
}

pub fn resolve(
    header: &Header,
    required: &[&[&str]],
    optional: &[&[&str]],
) -> Result<(Vec<Column>, Vec<Option<Column>>), FileError> {
    let mut missing = Vec::new();
    let mut req = Vec::with_capacity(required.len());
    for aliases in required {
        match header.find(aliases) {
            Some(i) => req.push(Column {
                index: i,
                name: header.names[i].clone(),
            }),
            None => missing.push(aliases[0].to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(FileError::MissingColumns { missing });
    }
    let opt = optional
        .iter()
        .map(|aliases| {
            header.find(aliases).map(|i| Column {
                index: i,
                name: header.names[i].clone(),
            })
        })
        .collect();
    Ok((req, opt))
}

/// How the bytes of a file are text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Already checked to be valid UTF-8.
    Utf8,
    /// Windows-1252 (GIAS): fields are decoded as they are read.
    Windows1252,
}

/// Reads records with their true first line. The tokenizer works on bytes; each record becomes
/// a `StringRecord` by a move when it is UTF-8 or ASCII, or field by field from Windows-1252.
/// `csv` positions count lines, but not always as a person would on CRLF files, so lines are
/// counted here from the byte offsets.
#[derive(Debug)]
pub struct Records<'a> {
    bytes: &'a [u8],
    encoding: Encoding,
    reader: csv::Reader<&'a [u8]>,
    raw: csv::ByteRecord,
    record: csv::StringRecord,
    last_offset: usize,
    last_line: u64,
    /// Columns the parser reads; others are left empty when a record has to be decoded.
    needed: Option<&'a [bool]>,
}

fn reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes)
}

/// One record as text: straight from the tokenizer's bytes when the file is UTF-8 (checked once
/// for the whole file) or the record is ASCII; decoded from Windows-1252 otherwise.
#[derive(Debug, Clone, Copy)]
pub enum Row<'r> {
    Bytes(&'r csv::ByteRecord),
    Text(&'r csv::StringRecord),
}

impl<'r> Row<'r> {
    pub fn len(&self) -> usize {
        match self {
            Row::Bytes(r) => r.len(),
            Row::Text(r) => r.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Field `i`, or `None` past the end of the record.
    pub fn get(&self, i: usize) -> Option<&'r str> {
        match self {
            // Only ASCII records are read as bytes.
            Row::Bytes(r) => r.get(i).map(|f| std::str::from_utf8(f).unwrap_or_default()),
            Row::Text(r) => r.get(i),
        }
    }
}

/// Decodes a Windows-1252 record with non-ASCII bytes into `out` (only the `needed` columns).
fn decode_1252(raw: &csv::ByteRecord, needed: Option<&[bool]>, out: &mut csv::StringRecord) {
    out.clear();
    for (i, field) in raw.iter().enumerate() {
        if needed.is_none_or(|n| n.get(i).copied().unwrap_or(false)) {
            out.push_field(&encoding_rs::WINDOWS_1252.decode_without_bom_handling(field).0);
        } else {
            out.push_field("");
        }
    }
}

impl<'a> Records<'a> {
    /// A reader over UTF-8 text; returns it with the header row.
    pub fn new(text: &'a str) -> Result<(Records<'a>, Header), FileError> {
        let (header, body) = read_header(text.as_bytes(), Encoding::Utf8)?;
        let records = Records::chunk(&text.as_bytes()[body.offset..], body.line, Encoding::Utf8);
        Ok((records, header))
    }

    /// A reader over part of a file that starts at a record boundary on line `first_line`.
    pub fn chunk(bytes: &'a [u8], first_line: u64, encoding: Encoding) -> Records<'a> {
        Records {
            bytes,
            encoding,
            reader: reader(bytes),
            raw: csv::ByteRecord::new(),
            record: csv::StringRecord::new(),
            last_offset: 0,
            last_line: first_line,
            needed: None,
        }
    }

    /// Lines in this chunk: an upper bound on its records, for sizing.
    pub fn lines_hint(&self) -> usize {
        memchr::memchr_iter(b'\n', self.bytes).count() + 1
    }

    /// Decode only these columns of Windows-1252 records (the rest read as empty).
    pub fn only_columns(mut self, needed: &'a [bool]) -> Self {
        self.needed = Some(needed);
        self
    }

    /// The next record and its first physical line, skipping blank lines.
    pub fn next_record(&mut self) -> Result<Option<(u64, Row<'_>)>, FileError> {
        loop {
            // UTF-8 files are read into one reused `StringRecord` (one check per record, no
            // allocation); Windows-1252 files as bytes, decoded only where a record needs it.
            let (got, position) = match self.encoding {
                Encoding::Utf8 => {
                    let got = self
                        .reader
                        .read_record(&mut self.record)
                        .map_err(|e| csv_error(self.bytes, &e))?;
                    (got, self.record.position().map_or(0, |p| p.byte()))
                }
                Encoding::Windows1252 => {
                    let got = self
                        .reader
                        .read_byte_record(&mut self.raw)
                        .map_err(|e| csv_error(self.bytes, &e))?;
                    (got, self.raw.position().map_or(0, |p| p.byte()))
                }
            };
            if !got {
                return Ok(None);
            }
            let mut offset = usize::try_from(position).unwrap_or(usize::MAX).min(self.bytes.len());
            // The crate reports a record as starting on the end of the previous line (its `\n`
            // on CRLF files): the record really starts after the line terminators.
            while offset < self.bytes.len() && matches!(self.bytes[offset], b'\r' | b'\n') {
                offset += 1;
            }
            let start = self.last_offset.min(offset);
            self.last_line += memchr_count(b'\n', &self.bytes[start..offset]);
            self.last_offset = offset;
            let decode = self.encoding == Encoding::Windows1252 && !self.raw.as_slice().is_ascii();
            if decode {
                decode_1252(&self.raw, self.needed, &mut self.record);
            }
            let blank = match (self.encoding, decode) {
                (Encoding::Windows1252, false) => self.raw.iter().all(|f| f.trim_ascii().is_empty()),
                _ => self.record.iter().all(|f| f.trim_ascii().is_empty()),
            };
            if !blank {
                break;
            }
        }
        let row = if self.encoding == Encoding::Windows1252 && self.raw.as_slice().is_ascii() {
            Row::Bytes(&self.raw)
        } else {
            Row::Text(&self.record)
        };
        Ok(Some((self.last_line, row)))
    }
}

fn memchr_count(needle: u8, hay: &[u8]) -> u64 {
    memchr::memchr_iter(needle, hay).count() as u64
}

/// Where the data rows start: byte offset and line number.
#[derive(Debug, Clone, Copy)]
pub struct Body {
    pub offset: usize,
    pub line: u64,
}

/// Reads the header row of a file.
pub fn read_header(bytes: &[u8], encoding: Encoding) -> Result<(Header, Body), FileError> {
    let mut r = reader(bytes);
    let mut raw = csv::ByteRecord::new();
    let got = r.read_byte_record(&mut raw).map_err(|e| csv_error(bytes, &e))?;
    if !got || raw.iter().all(|f| f.trim_ascii().is_empty()) {
        return Err(FileError::Empty);
    }
    let mut first = csv::StringRecord::new();
    if encoding == Encoding::Windows1252 && !raw.as_slice().is_ascii() {
        decode_1252(&raw, None, &mut first);
    } else {
        first = csv::StringRecord::from_byte_record(raw).map_err(|_| FileError::Encoding {
            expected: "UTF-8",
            line: 1,
        })?;
    }
    let header = Header::new(&first)?;
    let mut offset = usize::try_from(r.position().byte())
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    while offset < bytes.len() && matches!(bytes[offset], b'\r' | b'\n') {
        offset += 1;
    }
    let line = 1 + memchr_count(b'\n', &bytes[..offset]);
    Ok((header, Body { offset, line }))
}

/// Splits the body into up to `parts` chunks that each start at a record boundary: just after a
/// line break with an even number of quote characters before it, so never inside a quoted field.
pub fn split(bytes: &[u8], body: Body, parts: usize) -> Vec<(usize, usize, u64)> {
    let end = bytes.len();
    let mut bounds = vec![(body.offset, body.line)];
    if parts > 1 && end > body.offset {
        let step = (end - body.offset) / parts;
        let mut quotes = 0u64;
        let mut lines = body.line;
        let mut pos = body.offset;
        for k in 1..parts {
            let target = (body.offset + step * k).max(pos);
            // Count quotes and lines up to the target, then find the next even-quoted line break.
            let span = &bytes[pos..target.min(end)];
            quotes += memchr_count(b'"', span);
            lines += memchr_count(b'\n', span);
            pos = target.min(end);
            while pos < end {
                let b = bytes[pos];
                quotes += u64::from(b == b'"');
                pos += 1;
                if b == b'\n' {
                    lines += 1;
                    if quotes.is_multiple_of(2) {
                        break;
                    }
                }
            }
            if pos >= end {
                break;
            }
            bounds.push((pos, lines));
        }
    }
    let mut chunks = Vec::with_capacity(bounds.len());
    for (i, &(start, line)) in bounds.iter().enumerate() {
        let stop = bounds.get(i + 1).map_or(end, |b| b.0);
        chunks.push((start, stop, line));
    }
    chunks
}

/// Files smaller than this are read on one thread.
const PARALLEL_FROM_BYTES: usize = 1 << 20;

/// Parses the body in chunks on up to `threads` threads and returns the chunks' results in file
/// order, so the outcome is the same however many threads ran.
pub fn parse_chunks<T: Send>(
    bytes: &[u8],
    body: Body,
    encoding: Encoding,
    threads: usize,
    parse: impl Fn(Records<'_>) -> Result<T, FileError> + Sync,
) -> Result<Vec<T>, FileError> {
    let parts = if bytes.len() - body.offset >= PARALLEL_FROM_BYTES {
        threads.clamp(1, 16)
    } else {
        1
    };
    let chunks = split(bytes, body, parts);
    if chunks.len() == 1 {
        let (start, stop, line) = chunks[0];
        return Ok(vec![parse(Records::chunk(&bytes[start..stop], line, encoding))?]);
    }
    let parse = &parse;
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|&(start, stop, line)| scope.spawn(move || parse(Records::chunk(&bytes[start..stop], line, encoding))))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(FileError::Other("the file could not be read".into())))
            })
            .collect()
    })
}

/// Joins chunk results in file order, then turns every later row for an already-seen URN into a
/// row error naming the first line.
pub fn merge<T>(chunks: Vec<Parsed<T>>, key: impl Fn(&T) -> (crate::ids::Urn, u64), urn_column: &str) -> Parsed<T> {
    let total: usize = chunks.iter().map(|c| c.rows.len()).sum();
    let mut first_seen: HashMap<crate::ids::Urn, u64> = HashMap::with_capacity(total);
    let mut duplicates = Vec::new();
    let mut keep = |row: &T| {
        let (urn, line) = key(row);
        match first_seen.get(&urn) {
            Some(first) => {
                duplicates.push(RowError {
                    line,
                    column: urn_column.to_string(),
                    value: urn.to_string(),
                    rule: format!("duplicate URN: already on line {first}"),
                });
                false
            }
            None => {
                first_seen.insert(urn, line);
                true
            }
        }
    };
    let mut chunks = chunks.into_iter();
    // The first chunk's rows stay where they are; later chunks' rows are appended.
    let mut out = chunks.next().unwrap_or_default();
    out.rows.retain(&mut keep);
    out.rows.reserve(total - out.rows.len());
    for chunk in chunks {
        out.rows_read += chunk.rows_read;
        out.errors.extend(chunk.errors);
        out.skipped.extend(chunk.skipped);
        out.rows.extend(chunk.rows.into_iter().filter(&mut keep));
    }
    out.errors.extend(duplicates);
    out.errors.sort_by_key(|e| e.line);
    out
}

/// How many threads an import may use: the machine's cores, at most 8.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
}

fn csv_error(bytes: &[u8], e: &csv::Error) -> FileError {
    let line = e
        .position()
        .map(|p| line_of_offset(bytes, usize::try_from(p.byte()).unwrap_or(usize::MAX)))
        .unwrap_or(0);
    FileError::Malformed {
        line,
        message: format!("the CSV cannot be read: {e}"),
    }
}

/// Collects row errors for one record.
#[derive(Debug)]
pub struct RowCheck<'r> {
    pub line: u64,
    pub record: Row<'r>,
    pub errors: Vec<RowError>,
}

impl<'r> RowCheck<'r> {
    pub fn new(line: u64, record: Row<'r>) -> Self {
        RowCheck {
            line,
            record,
            errors: Vec::new(),
        }
    }
    /// Refuses a record with fewer fields than the header (a line cut short), naming its last field.
    pub fn has_all_fields(&mut self, names: &[String]) -> bool {
        let len = self.record.len();
        if len >= names.len() {
            return true;
        }
        let last = Column {
            index: len.saturating_sub(1),
            name: names[len.saturating_sub(1)].clone(),
        };
        let value = self.raw(&last).to_string();
        self.fail(
            &last,
            &value,
            format!(
                "the row has {len} fields but the header has {}: is the line cut short?",
                names.len()
            ),
        );
        false
    }

    pub fn raw(&self, col: &Column) -> &'r str {
        self.record.get(col.index).map_or("", str::trim_ascii)
    }
    /// An optional column's value, `None` when the column or the value is absent.
    pub fn opt<'c>(&self, col: &'c Option<Column>) -> Option<&'r str> {
        col.as_ref().map(|c| self.raw(c)).filter(|v| !v.is_empty())
    }
    pub fn fail(&mut self, col: &Column, value: &str, rule: impl Into<String>) {
        self.errors.push(RowError {
            line: self.line,
            column: col.name.clone(),
            value: value.to_string(),
            rule: rule.into(),
        });
    }
    /// A required text value.
    pub fn text(&mut self, col: &Column) -> Option<String> {
        let v = self.raw(col);
        if v.is_empty() {
            self.fail(col, v, "a value is required");
            None
        } else {
            Some(v.to_string())
        }
    }
    /// A missing-or-whole-number value; DfE symbols (`z`, `x`, `c`, `low`, `:`) mean "not known".
    pub fn count(&mut self, col: &Option<Column>) -> Option<u32> {
        let c = col.as_ref()?;
        let v = self.raw(c);
        if v.is_empty() || is_dfe_symbol(v) {
            return None;
        }
        match v.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.fail(
                    c,
                    v,
                    "must be a whole number of 0 or more (or a DfE symbol such as z, x, c)",
                );
                None
            }
        }
    }
}

/// DfE's symbols for values that are not a number: not applicable, unavailable, suppressed, low.
pub fn is_dfe_symbol(v: &str) -> bool {
    let v = v.trim();
    v.len() <= 3
        && ["z", "x", "c", "low", ":", "u", "na", "n/a", ".."]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(v))
}

/// Case-insensitive (ASCII) `contains`, without allocating.
pub fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_whatever_the_case_and_separators() {
        assert_eq!(normalise_header(" Pupils_Headcount "), "pupils headcount");
        assert_eq!(normalise_header("headcount of pupils"), "headcount of pupils");
        assert_eq!(normalise_header("\u{feff}URN"), "urn");
    }

    #[test]
    fn lines_are_physical_on_crlf_and_quoted_newlines() {
        let text = "a,b\r\n1,\"x\r\ny\"\r\n\r\n2,z";
        let (mut r, _) = Records::new(text).unwrap();
        let (l1, rec) = r.next_record().unwrap().unwrap();
        assert_eq!((l1, rec.get(1)), (2, Some("x\r\ny")));
        let (l2, _) = r.next_record().unwrap().unwrap();
        assert_eq!(l2, 5);
        assert!(r.next_record().unwrap().is_none());
    }

    #[test]
    fn chunks_start_at_record_boundaries_whatever_the_quotes() {
        let text = "a,b\r\n1,\"x\r\ny\"\r\n2,z\r\n3,\"p\nq\"\r\n4,w";
        let (_, body) = read_header(text.as_bytes(), Encoding::Utf8).unwrap();
        assert_eq!((body.offset, body.line), (5, 2));
        for parts in 1..6 {
            let chunks = split(text.as_bytes(), body, parts);
            let mut lines = Vec::new();
            for (start, stop, line) in chunks {
                let mut r = Records::chunk(&text.as_bytes()[start..stop], line, Encoding::Utf8);
                while let Some((l, rec)) = r.next_record().unwrap() {
                    lines.push((l, rec.get(0).unwrap_or_default().to_string()));
                }
            }
            let want: Vec<(u64, String)> = vec![(2, "1".into()), (4, "2".into()), (5, "3".into()), (7, "4".into())];
            assert_eq!(lines, want, "{parts} parts");
        }
    }

    #[test]
    fn bad_files_are_named() {
        assert_eq!(utf8_text(b""), Err(FileError::Empty));
        assert_eq!(utf8_text(b"a,b\n\x00\x01"), Err(FileError::Binary { offset: 4 }));
        assert_eq!(
            utf8_text(b"a,b\n1,\xff\n"),
            Err(FileError::Encoding {
                expected: "UTF-8",
                line: 2
            })
        );
        assert!(matches!(
            Records::new("a,a\n1,2"),
            Err(FileError::DuplicateColumn { .. })
        ));
    }
}

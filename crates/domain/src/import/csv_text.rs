//! Shared CSV handling for the importers: encoding checks, header lookup by name, records as
//! text with their true physical line (the line a record starts on, counting line breaks inside
//! quoted fields, on LF or CRLF files), row checks that name the column and the rule, and reading
//! a large file on several threads with the same result as on one.
//!
//! Records come from [`Scanner`] (csv_scan.rs). Fields are read in place; only fields with `""`
//! escapes, or non-ASCII bytes in a Windows-1252 file, are decoded, into one buffer reused for
//! every record, and in a Windows-1252 file only in the columns the parser reads.

use super::csv_scan::{Scanner, Unquoted, field_value};
use super::{FileError, Parsed, RowError};
use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender, channel};

/// Refuses empty and binary files; returns the text as UTF-8 (a BOM is dropped).
pub fn utf8_text(bytes: &[u8]) -> Result<&str, FileError> {
    check_bytes(bytes)?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| FileError::Encoding {
        expected: "UTF-8",
        line: line_of_offset(bytes, e.valid_up_to()),
    })
}

/// Refuses empty files, UTF-16 files (which Excel writes as "Unicode text") and binary files.
pub fn check_bytes(bytes: &[u8]) -> Result<(), FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(FileError::Other(
            "the file is UTF-16 text: save it as CSV in UTF-8 (Excel: \"CSV UTF-8\")".into(),
        ));
    }
    match memchr::memchr(0, bytes) {
        Some(offset) => Err(FileError::Binary { offset }),
        None => Ok(()),
    }
}

/// 1-based line number of a byte offset.
pub fn line_of_offset(bytes: &[u8], offset: usize) -> u64 {
    1 + memchr_count(b'\n', &bytes[..offset.min(bytes.len())])
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
    /// A blank header cell is named by its place (`column 3`), so an error in it names a column;
    /// it matches no column the importer looks for.
    pub fn new(names: Vec<String>) -> Result<Header, FileError> {
        let mut blank = Vec::new();
        let names: Vec<String> = names
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let n = s.trim().trim_start_matches('\u{feff}').trim();
                if n.is_empty() {
                    blank.push(i);
                    format!("column {}", i + 1)
                } else {
                    n.to_string()
                }
            })
            .collect();
        let mut index = HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            if blank.contains(&i) {
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

/// Resolves required and optional columns; every missing required column is named at once.
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

/// A file's text: UTF-8 (checked whole, once) or Windows-1252 bytes (decoded field by field).
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    Utf8(&'a str),
    Windows1252(&'a [u8]),
}

impl<'a> Source<'a> {
    pub fn bytes(self) -> &'a [u8] {
        match self {
            Source::Utf8(text) => text.as_bytes(),
            Source::Windows1252(bytes) => bytes,
        }
    }
    /// The part from `start` to `stop` (both just after a line feed, or the ends of the file).
    fn part(self, start: usize, stop: usize) -> Source<'a> {
        match self {
            Source::Utf8(text) => Source::Utf8(text.get(start..stop).unwrap_or_default()),
            Source::Windows1252(bytes) => Source::Windows1252(bytes.get(start..stop).unwrap_or_default()),
        }
    }
}

/// Where a field's value is: in the file's bytes, or in the record's decoded text.
#[derive(Debug, Clone, Copy)]
enum Field {
    InPlace(usize, usize),
    Decoded(usize, usize),
}

/// Reads records with their true first line, on the [`Scanner`]. Fields that need no change are
/// read in place; those with `""` escapes, or non-ASCII Windows-1252 bytes, are decoded into one
/// reused buffer — and only in the columns the parser reads.
#[derive(Debug)]
pub struct Records<'a> {
    source: Source<'a>,
    scanner: Scanner<'a>,
    ranges: Vec<(usize, usize)>,
    fields: Vec<Field>,
    decoded: String,
    unquoted: Vec<u8>,
    /// Columns the parser reads; others are left as they stand in the file.
    needed: Option<&'a [bool]>,
    /// How many rows to make room for.
    rows_hint: usize,
}

/// One record as text.
#[derive(Debug, Clone, Copy)]
pub struct Row<'r> {
    source: Source<'r>,
    /// The raw field ranges; they are the values when `fields` is empty (a UTF-8 record with no
    /// quotes, the common case, needs no second list).
    ranges: &'r [(usize, usize)],
    fields: &'r [Field],
    decoded: &'r str,
}

impl<'r> Row<'r> {
    pub fn len(&self) -> usize {
        self.ranges.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
    /// Field `i`, or `None` past the end of the record.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&'r str> {
        if self.fields.is_empty()
            && let Source::Utf8(text) = self.source
        {
            let &(a, b) = self.ranges.get(i)?;
            return Some(text.get(a..b).unwrap_or_default());
        }
        self.get_resolved(i)
    }

    fn get_resolved(&self, i: usize) -> Option<&'r str> {
        Some(match *self.fields.get(i)? {
            Field::InPlace(a, b) => match self.source {
                // Fields split UTF-8 text at ASCII bytes, so at character boundaries.
                Source::Utf8(text) => text.get(a..b).unwrap_or_default(),
                // Windows-1252 fields read in place are ASCII (the others are decoded).
                Source::Windows1252(bytes) => bytes
                    .get(a..b)
                    .and_then(|f| std::str::from_utf8(f).ok())
                    .unwrap_or_default(),
            },
            Field::Decoded(a, b) => self.decoded.get(a..b).unwrap_or_default(),
        })
    }
}

impl<'a> Records<'a> {
    /// A reader over UTF-8 text; returns it with the header row.
    pub fn new(text: &'a str) -> Result<(Records<'a>, Header), FileError> {
        let source = Source::Utf8(text);
        let (header, body) = read_header(source)?;
        let records = Records::chunk(source.part(body.offset, text.len()), body.line);
        Ok((records, header))
    }

    /// A reader over part of a file that starts at a record boundary on line `first_line`.
    pub fn chunk(source: Source<'a>, first_line: u64) -> Records<'a> {
        let bytes = source.bytes();
        Records {
            source,
            scanner: Scanner::new(bytes, first_line),
            ranges: Vec::new(),
            fields: Vec::new(),
            decoded: String::new(),
            unquoted: Vec::new(),
            needed: None,
            rows_hint: 0,
        }
    }

    /// How many rows the parser should make room for: an estimate, never a limit.
    pub fn lines_hint(&self) -> usize {
        if self.rows_hint > 0 {
            self.rows_hint
        } else {
            memchr::memchr_iter(b'\n', self.source.bytes()).count() + 1
        }
    }

    /// Decode only these columns (the rest are read as they stand in the file).
    pub fn only_columns(mut self, needed: &'a [bool]) -> Self {
        self.needed = Some(needed);
        self
    }

    /// The next record and its first physical line, skipping blank lines.
    pub fn next_record(&mut self) -> Result<Option<(u64, Row<'_>)>, FileError> {
        let bytes = self.source.bytes();
        let span = loop {
            let Some(span) = self.scanner.next_record(&mut self.ranges) else {
                return Ok(None);
            };
            if span.unclosed_quote {
                return Err(FileError::Malformed {
                    line: span.line,
                    message: "a quoted field opened on this line is never closed (a \" is missing), so the rest \
                              of the file would be one value"
                        .into(),
                });
            }
            let blank = self
                .ranges
                .iter()
                .all(|&(a, b)| bytes[a..b].iter().all(|&c| matches!(c, b' ' | b'\t' | b'"')));
            if !blank {
                break span;
            }
        };
        self.decode(span.may_have_quotes);
        Ok(Some((
            span.line,
            Row {
                source: self.source,
                ranges: &self.ranges,
                fields: &self.fields,
                decoded: &self.decoded,
            },
        )))
    }

    /// Resolves each needed field (all of them on a short record, to name what is there).
    fn decode(&mut self, may_have_quotes: bool) {
        self.fields.clear();
        self.decoded.clear();
        let bytes = self.source.bytes();
        let utf8 = matches!(self.source, Source::Utf8(_));
        // A UTF-8 record without quotes is read as it stands.
        if utf8 && !may_have_quotes {
            return;
        }
        let all = self.needed.is_none_or(|n| self.ranges.len() < n.len());
        for (i, &(a, b)) in self.ranges.iter().enumerate() {
            let raw = &bytes[a..b];
            if !all && !self.needed.is_some_and(|n| n.get(i).copied().unwrap_or(false)) {
                self.fields.push(Field::InPlace(a, b));
                continue;
            }
            let value = match field_value(raw, &mut self.unquoted) {
                Unquoted::Within(x, y) if utf8 || raw[x..y].is_ascii() => {
                    self.fields.push(Field::InPlace(a + x, a + y));
                    continue;
                }
                Unquoted::Within(x, y) => &raw[x..y],
                Unquoted::Written => &self.unquoted[..],
            };
            let from = self.decoded.len();
            if utf8 {
                self.decoded.push_str(&String::from_utf8_lossy(value));
            } else {
                self.decoded
                    .push_str(&encoding_rs::WINDOWS_1252.decode_without_bom_handling(value).0);
            }
            self.fields.push(Field::Decoded(from, self.decoded.len()));
        }
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
pub fn read_header(source: Source<'_>) -> Result<(Header, Body), FileError> {
    let bytes = source.bytes();
    if memchr::memchr(b'\n', bytes).is_none() && memchr::memchr(b'\r', bytes).is_some() {
        return Err(FileError::Malformed {
            line: 1,
            message: "lines end in a bare carriage return (old Mac style): save the file with CRLF or LF line ends"
                .into(),
        });
    }
    let mut records = Records::chunk(source, 1);
    let names = match records.next_record()? {
        Some((_, row)) => (0..row.len())
            .map(|i| row.get(i).unwrap_or_default().to_string())
            .collect(),
        // Only blank lines (or one empty field): not empty, so say what it holds.
        None => {
            return Err(FileError::Malformed {
                line: 1,
                message: "the file holds only blank lines: the first line must be the header naming the columns".into(),
            });
        }
    };
    let header = Header::new(names)?;
    let (offset, line) = records.scanner.position();
    Ok((header, Body { offset, line }))
}

/// Splits the body into up to `parts` chunks that each start at a record boundary: just after a
/// line break with an even number of quote characters before it, so never inside a quoted field
/// (the scanner's own rule). Each chunk is (start, stop, first line).
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

/// Rows a worker hands over at a time (about half a megabyte of school records).
const BATCH_ROWS: usize = 1024;

/// Where a chunk's parser puts what it finds. The first chunk's rows stay here; a later chunk's
/// rows go to the joining thread in batches while the chunk is still being read, so joining
/// costs no pass of its own.
#[derive(Debug)]
pub struct Sink<T> {
    pub parsed: Parsed<T>,
    batches: Option<Batches<T>>,
}

/// A worker's line to the joining thread: full batches there, empty ones back for reuse.
type Batches<T> = (Sender<Vec<T>>, Receiver<Vec<T>>);

impl<T> Sink<T> {
    fn new(capacity: usize) -> Self {
        let mut parsed = Parsed::default();
        parsed.rows.reserve(capacity);
        Sink { parsed, batches: None }
    }

    pub fn push(&mut self, row: T) {
        self.parsed.rows.push(row);
        if self.batches.is_some() && self.parsed.rows.len() >= BATCH_ROWS {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        if let Some((to_join, spare)) = &self.batches {
            let empty = spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH_ROWS));
            // The joining thread stops listening only when it has failed; the rows are moot then.
            let _ = to_join.send(std::mem::replace(&mut self.parsed.rows, empty));
        }
    }
}

/// Parses the body in chunks — the first on this thread, each other on a thread of its own —
/// and joins them in file order, so the outcome is the same however many threads ran. Rows
/// whose URN an earlier row already had become row errors naming the first line.
pub fn parse_chunks<T: Send>(
    source: Source<'_>,
    body: Body,
    threads: usize,
    key: impl Fn(&T) -> (crate::ids::Urn, u64),
    urn_column: &str,
    parse: impl Fn(Records<'_>, &mut Sink<T>) -> Result<(), FileError> + Sync,
) -> Result<Parsed<T>, FileError> {
    let bytes = source.bytes();
    let parts = if bytes.len() - body.offset >= PARALLEL_FROM_BYTES {
        threads.clamp(1, 16)
    } else {
        1
    };
    let chunks = split(bytes, body, parts);
    let records = |&(start, stop, line): &(usize, usize, u64)| Records::chunk(source.part(start, stop), line);
    let Some((first, rest)) = chunks.split_first() else {
        return Ok(Parsed::default());
    };
    // The first chunk's sink makes room for every row of the file.
    let head = records(first);
    let capacity = match rest.first() {
        Some(&(_, _, next_line)) => {
            let (lines, length) = (next_line - first.2, (first.1 - first.0).max(1));
            let estimate = lines as f64 * (bytes.len() - body.offset) as f64 / length as f64;
            (estimate * 1.02) as usize + 16
        }
        None => head.lines_hint(),
    };
    let mut sink = Sink::new(capacity);
    let parse = &parse;
    let mut seen = UrnSet::default();
    let mut duplicates = Vec::new();
    let mut keep = |row: &T| {
        let (urn, line) = key(row);
        let fresh = seen.insert(urn);
        if !fresh {
            duplicates.push((urn, line));
        }
        fresh
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = rest
            .iter()
            .map(|chunk| {
                let records = records(chunk);
                let (to_join, batches) = channel();
                let (spare, spares) = channel();
                let handle = scope.spawn(move || {
                    let mut sink = Sink {
                        parsed: Parsed::default(),
                        batches: Some((to_join, spares)),
                    };
                    let outcome = parse(records, &mut sink);
                    sink.hand_over();
                    outcome.map(|()| sink.parsed)
                });
                (handle, batches, spare)
            })
            .collect();
        parse(head, &mut sink)?;
        let out = &mut sink.parsed;
        out.rows.retain(&mut keep);
        for (handle, batches, spare) in workers {
            for mut batch in batches {
                out.rows.extend(batch.drain(..).filter(&mut keep));
                let _ = spare.send(batch);
            }
            let done = handle
                .join()
                .unwrap_or_else(|_| Err(FileError::Other("the file could not be read".into())))?;
            out.rows_read += done.rows_read;
            out.errors.extend(done.errors);
            out.skipped.extend(done.skipped);
        }
        Ok::<(), FileError>(())
    })?;
    let mut out = sink.parsed;
    // Each duplicate names the line of the row that was kept for its URN (one pass over the rows).
    let mut first_lines: HashMap<crate::ids::Urn, u64> = duplicates.iter().map(|&(urn, _)| (urn, 0)).collect();
    if !first_lines.is_empty() {
        for (urn, line) in out.rows.iter().map(&key) {
            if let Some(first) = first_lines.get_mut(&urn) {
                *first = line;
            }
        }
    }
    for (urn, line) in duplicates {
        let first = first_lines.get(&urn).copied().unwrap_or_default();
        out.errors.push(RowError {
            line,
            column: urn_column.to_string(),
            value: urn.to_string(),
            rule: format!("duplicate URN, first on line {first}"),
        });
    }
    out.errors.sort_by_key(|e| e.line);
    Ok(out)
}

/// A set of URNs as one bit per possible number (URNs are six digits: 112 KiB).
#[derive(Debug, Default)]
pub struct UrnSet {
    words: Vec<u64>,
}

impl UrnSet {
    /// Adds `urn`; false when it was already there.
    pub fn insert(&mut self, urn: crate::ids::Urn) -> bool {
        let n = urn.get() as usize;
        let (word, bit) = (n / 64, 1u64 << (n % 64));
        if word >= self.words.len() {
            self.words.resize((word + 1).max(1_000_000 / 64 + 1), 0);
        }
        let fresh = self.words[word] & bit == 0;
        self.words[word] |= bit;
        fresh
    }
}

/// How many threads an import may use: the machine's cores, at most 8.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
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

    #[inline]
    pub fn raw(&self, col: &Column) -> &'r str {
        self.record.get(col.index).map_or("", str::trim_ascii)
    }
    /// An optional column's value, `None` when the column or the value is absent.
    #[inline]
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
        if let Some(n) = whole_number(v) {
            return Some(n);
        }
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

/// A plain whole number of up to nine digits (the common case, read without `str::parse`).
#[inline]
pub fn whole_number(v: &str) -> Option<u32> {
    let b = v.as_bytes();
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    b.iter().try_fold(0u32, |n, &d| {
        let digit = d.wrapping_sub(b'0');
        (digit < 10).then(|| n * 10 + u32::from(digit))
    })
}

/// DfE's symbols for values that are not a number: not applicable, unavailable, suppressed, low.
pub fn is_dfe_symbol(v: &str) -> bool {
    let v = v.trim_ascii();
    v.len() <= 3
        && !v.starts_with(|c: char| c.is_ascii_digit())
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
    fn whole_numbers_read_as_str_parse_reads_them() {
        for v in [
            "0",
            "7",
            "007",
            "999999999",
            "1000000000",
            "",
            "-1",
            "+1",
            "1.0",
            "12a",
            " 1",
            "x",
        ] {
            let want = v.parse::<u32>().ok().filter(|_| v.len() <= 9 && !v.starts_with('+'));
            assert_eq!(whole_number(v), want, "{v:?}");
        }
    }

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
        let (_, body) = read_header(Source::Utf8(text)).unwrap();
        assert_eq!((body.offset, body.line), (5, 2));
        for parts in 1..6 {
            let chunks = split(text.as_bytes(), body, parts);
            let mut lines = Vec::new();
            for (start, stop, line) in chunks {
                let mut r = Records::chunk(Source::Utf8(text).part(start, stop), line);
                while let Some((l, rec)) = r.next_record().unwrap() {
                    lines.push((l, rec.get(0).unwrap_or_default().to_string()));
                }
            }
            let want: Vec<(u64, String)> = vec![(2, "1".into()), (4, "2".into()), (5, "3".into()), (7, "4".into())];
            assert_eq!(lines, want, "{parts} parts");
        }
    }

    #[test]
    fn a_file_of_blank_lines_is_not_called_empty() {
        // Found by the membership_csv fuzz target: `""` was "the file is empty (0 bytes)".
        for text in ["\"\"", "\n\r\n", "\"\"\r\n\r\n"] {
            match read_header(Source::Utf8(text)) {
                Err(FileError::Malformed { line: 1, message }) => assert!(message.contains("blank lines"), "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_blank_header_cell_is_named_by_its_place() {
        // Found by the gias_csv fuzz target: a short row under a blank header cell named column "".
        let (mut r, header) = Records::new("urn,,cluster\n120765,x").unwrap();
        assert_eq!(header.names, vec!["urn", "column 2", "cluster"]);
        assert_eq!(header.find(&["column 2"]), None);
        let (line, record) = r.next_record().unwrap().unwrap();
        let mut row = RowCheck::new(line, record);
        assert!(!row.has_all_fields(&header.names));
        assert_eq!((row.errors[0].line, row.errors[0].column.as_str()), (2, "column 2"));
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

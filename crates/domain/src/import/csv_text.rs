//! Shared CSV handling for the importers: encoding checks, header lookup by name, and true
//! physical line numbers (a record's first line, counting newlines inside quoted fields and CRLF).

use super::{FileError, RowError};
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

/// Reads records with their true first line. `csv` positions count lines, but not always as a
/// person would on CRLF files, so lines are counted here from the byte offsets.
#[derive(Debug)]
pub struct Records<'a> {
    bytes: &'a [u8],
    reader: csv::Reader<&'a [u8]>,
    record: csv::StringRecord,
    last_offset: usize,
    last_line: u64,
}

impl<'a> Records<'a> {
    /// A reader over UTF-8 text; returns it with the header row.
    pub fn new(text: &'a str) -> Result<(Records<'a>, Header), FileError> {
        let bytes = text.as_bytes();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut first = csv::StringRecord::new();
        let got = reader.read_record(&mut first).map_err(|e| csv_error(bytes, &e))?;
        if !got || first.iter().all(|f| f.trim().is_empty()) {
            return Err(FileError::Empty);
        }
        let header = Header::new(&first)?;
        Ok((
            Records {
                bytes,
                reader,
                record: csv::StringRecord::new(),
                last_offset: 0,
                last_line: 1,
            },
            header,
        ))
    }

    /// The next record and its first physical line, skipping blank lines.
    pub fn next_record(&mut self) -> Result<Option<(u64, &csv::StringRecord)>, FileError> {
        loop {
            let got = self
                .reader
                .read_record(&mut self.record)
                .map_err(|e| csv_error(self.bytes, &e))?;
            if !got {
                return Ok(None);
            }
            let offset = usize::try_from(self.record.position().map_or(0, |p| p.byte())).unwrap_or(usize::MAX);
            let mut offset = offset.min(self.bytes.len());
            // The crate reports a record as starting on the end of the previous line (its `\n`
            // on CRLF files): the record really starts after the line terminators.
            while offset < self.bytes.len() && matches!(self.bytes[offset], b'\r' | b'\n') {
                offset += 1;
            }
            let start = self.last_offset.min(offset);
            self.last_line += self.bytes[start..offset].iter().filter(|&&b| b == b'\n').count() as u64;
            self.last_offset = offset;
            if self.record.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            return Ok(Some((self.last_line, &self.record)));
        }
    }
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
    pub record: &'r csv::StringRecord,
    pub errors: Vec<RowError>,
}

impl<'r> RowCheck<'r> {
    pub fn new(line: u64, record: &'r csv::StringRecord) -> Self {
        RowCheck {
            line,
            record,
            errors: Vec::new(),
        }
    }
    pub fn raw(&self, col: &Column) -> &'r str {
        self.record.get(col.index).map_or("", str::trim)
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
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "z" | "x" | "c" | "low" | ":" | "u" | "na" | "n/a" | ".."
    )
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
        assert_eq!((l1, &rec[1]), (2, "x\r\ny"));
        let (l2, _) = r.next_record().unwrap().unwrap();
        assert_eq!(l2, 5);
        assert!(r.next_record().unwrap().is_none());
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

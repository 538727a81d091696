//! Invariants shared by the fuzz targets. Each panics (a libFuzzer crash) when a parser's answer
//! breaks a rule of the house: every error names a line inside the file, a column and a rule;
//! accepted rows are in file order and never more than were read.

use domain::import::{FileError, Parsed};

/// The number of physical lines in `data` (a last line without a line break counts).
pub fn lines(data: &[u8]) -> u64 {
    data.iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// Checks a parser's answer on `data`; `line_of` gives an accepted row's line.
pub fn check_parsed<T>(data: &[u8], parsed: &Result<Parsed<T>, FileError>, line_of: impl Fn(&T) -> u64) {
    let last = lines(data);
    let p = match parsed {
        Err(e) => {
            check_file_error(data, e);
            return;
        }
        Ok(p) => p,
    };
    assert!(
        p.rows.len() as u64 + p.skipped.len() as u64 <= p.rows_read,
        "{} rows and {} skipped from {} read",
        p.rows.len(),
        p.skipped.len(),
        p.rows_read
    );
    assert!(p.rows_read > 0, "a parsed file has rows (else NoRows)");
    for e in &p.errors {
        assert!((2..=last).contains(&e.line), "error on line {} of {last}: {e}", e.line);
        assert!(!e.column.trim().is_empty(), "error names no column: {e}");
        assert!(!e.rule.trim().is_empty(), "error names no rule: {e}");
    }
    let mut previous = 1;
    for row in &p.rows {
        let line = line_of(row);
        assert!(
            line > previous && line <= last,
            "row on line {line} after {previous} of {last}"
        );
        previous = line;
    }
    for (line, why) in &p.skipped {
        assert!((2..=last).contains(line), "skipped line {line} of {last}");
        assert!(!why.is_empty());
    }
}

/// A file-level error names where: a line inside the file, a byte inside it, or a column.
pub fn check_file_error(data: &[u8], e: &FileError) {
    let last = lines(data);
    assert!(!e.to_string().trim().is_empty(), "{e:?} says nothing");
    match e {
        FileError::Empty => assert!(
            data.is_empty() || data == b"\xEF\xBB\xBF",
            "Empty on {} bytes",
            data.len()
        ),
        FileError::Binary { offset } => assert_eq!(data.get(*offset), Some(&0), "Binary at {offset}"),
        FileError::Encoding { line, .. } | FileError::Malformed { line, .. } => {
            assert!((1..=last).contains(line), "{e} on a file of {last} lines")
        }
        FileError::MissingColumns { missing } => assert!(!missing.is_empty()),
        FileError::DuplicateColumn { column } => assert!(!column.trim().is_empty(), "{e:?}"),
        FileError::NoRows | FileError::NoCensusDate | FileError::Other(_) => {}
    }
}

/// Quotes a CSV field (always, doubling quotes): what a careful writer would emit.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

//! Imports in the ecosystem's own formats, as pure parsers: bytes in, validated records and a
//! row-level report out. Saving is the service's job, all-or-nothing.

pub mod census;
pub mod csv_scan;
pub mod csv_text;
pub mod gias;
pub mod membership;

use crate::cluster::MembershipRole;
use crate::ids::{LaCode, Urn};
use crate::school::{Census, School};
use std::fmt;

/// One rejected value: the true line number in the file (1 = header), the column's header,
/// the value as read and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub column: String,
    pub value: String,
    pub rule: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {:?}, value {:?}: {}",
            self.line, self.column, self.value, self.rule
        )
    }
}

/// Why a whole file was refused before any row could be judged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty (0 bytes)")]
    Empty,
    #[error("the file is not a CSV text file: it contains binary data (a NUL byte at byte {offset})")]
    Binary { offset: usize },
    #[error("the file is not valid {expected} text: invalid bytes on line {line}")]
    Encoding { expected: &'static str, line: u64 },
    #[error("the header is missing required column(s): {}", .missing.join(", "))]
    MissingColumns { missing: Vec<String> },
    #[error("the header names column {column:?} twice")]
    DuplicateColumn { column: String },
    #[error("line {line}: {message}")]
    Malformed { line: u64, message: String },
    #[error("the file has a header but no data rows")]
    NoRows,
    #[error("the file has no time_period column, so the census date is not known: give it (--census-date YYYY-MM-DD)")]
    NoCensusDate,
    #[error("{0}")]
    Other(String),
}

/// The outcome of parsing a file: the good rows and every bad one.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    pub rows: Vec<T>,
    pub errors: Vec<RowError>,
    /// Data rows read (good and bad).
    pub rows_read: u64,
    /// Rows left out by design, not by error (e.g. a GIAS row for a university), with why.
    pub skipped: Vec<(u64, String)>,
}

impl<T> Default for Parsed<T> {
    fn default() -> Self {
        Parsed {
            rows: Vec::new(),
            errors: Vec::new(),
            rows_read: 0,
            skipped: Vec::new(),
        }
    }
}

/// A school row from a census or GIAS file.
#[derive(Debug, Clone, PartialEq)]
pub struct SchoolRecord {
    pub line: u64,
    /// The school's local authority, as the file gives it (the tenant it belongs to).
    pub la_code: LaCode,
    pub la_name: String,
    pub school: School,
    /// Census files carry pupils; GIAS files carry `NumberOfPupils` with its own census date.
    pub census: Option<Census>,
}

/// A row of a cluster membership file (`urn,cluster[,role]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRecord {
    pub line: u64,
    pub urn: Urn,
    pub cluster: String,
    pub role: MembershipRole,
}

/// The calendar day (UTC) of a Unix time, for callers that hold seconds.
pub fn date_from_unix(secs: i64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

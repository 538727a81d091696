//! Parser for the GIAS establishment CSV, `edubasealldataYYYYMMDD.csv` (being written: see issue 2).

use super::{FileError, Parsed, SchoolRecord};

/// Not written yet: every call is refused with a clear error.
pub fn parse(_bytes: &[u8]) -> Result<Parsed<SchoolRecord>, FileError> {
    Err(FileError::Other("the GIAS importer is not available yet".into()))
}

//! Parser for the DfE "Schools, pupils and their characteristics" school-level CSV
//! (being written: see issue 2).

use super::{FileError, Parsed, SchoolRecord};
use chrono::NaiveDate;

/// What the caller knows that the file may not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CensusOptions {
    /// Census day, when the file has no `time_period` column.
    pub census_date: Option<NaiveDate>,
}

/// Not written yet: every call is refused with a clear error.
pub fn parse(_bytes: &[u8], _options: &CensusOptions) -> Result<Parsed<SchoolRecord>, FileError> {
    Err(FileError::Other("the census importer is not available yet".into()))
}

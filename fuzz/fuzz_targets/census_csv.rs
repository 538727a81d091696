//! The DfE school census CSV (`clusterwise import census`, `/import`): `domain::import::census::parse`,
//! with and without a census date given, never panics and its answer names lines and columns.
#![no_main]

use chrono::NaiveDate;
use clusterwise_fuzz::check_parsed;
use domain::import::census::{CensusOptions, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let given = CensusOptions {
        census_date: NaiveDate::from_ymd_opt(2023, 1, 19),
    };
    let with_date = parse(data, &given);
    check_parsed(data, &with_date, |r| r.line);
    let without = parse(data, &CensusOptions::default());
    check_parsed(data, &without, |r| r.line);
    // A file's own time_period comes first: when every row has one, a census date given changes nothing.
    if let Ok(p) = &without
        && p.errors.is_empty()
    {
        assert_eq!(Ok(p), with_date.as_ref(), "a given census date overrode the file's own");
    }
    if let Ok(p) = &with_date {
        for r in &p.rows {
            assert_eq!(r.school.urn.to_string().len(), 6);
        }
    }
});

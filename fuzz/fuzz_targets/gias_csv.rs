//! The GIAS establishment CSV (`clusterwise import gias`, `/import`): `domain::import::gias::parse`
//! never panics, on UTF-8 or Windows-1252 bytes, and its answer names lines and columns.
#![no_main]

use clusterwise_fuzz::check_parsed;
use domain::import::gias::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = parse(data);
    check_parsed(data, &parsed, |r| r.line);
});

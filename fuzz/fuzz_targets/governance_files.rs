//! The constitution and meeting files of `clusterwise governance check`
//! (`service::governance_file`): the input is the constitution file, a NUL byte, then the meeting
//! file. Neither reader panics, every refusal names where (a TOML line, or the field), and a pair
//! both accept is evaluated (`domain::governance::meeting::evaluate`, quorum and outcomes) without
//! a panic, one result per agenda item, never an inquorate item carried.
#![no_main]

use domain::governance::meeting::evaluate;
use libfuzzer_sys::fuzz_target;
use service::governance_file::{GovernanceFileError, parse_constitution, parse_meeting};

fn check_refusal(e: &GovernanceFileError) {
    match e {
        GovernanceFileError::Toml(t) => {
            let m = t.to_string();
            assert!(m.contains("line "), "a TOML error names no line: {m}");
        }
        GovernanceFileError::Invalid(m) => {
            assert!(m.contains(':') && !m.starts_with(':'), "an error names no field: {m}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (c, m) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let (Ok(c), Ok(m)) = (std::str::from_utf8(c), std::str::from_utf8(m)) else {
        return;
    };
    let constitution = parse_constitution(c);
    let meeting = parse_meeting(m);
    if let Err(e) = &constitution {
        check_refusal(e);
    }
    if let Err(e) = &meeting {
        check_refusal(e);
    }
    let (Ok(constitution), Ok(meeting)) = (constitution, meeting) else {
        return;
    };
    if let Ok(results) = evaluate(&constitution, &meeting.seats, &meeting.attendees, &meeting.items) {
        assert_eq!(results.len(), meeting.items.len());
        for r in &results {
            if !r.quorum.quorate {
                assert!(
                    r.outcome.is_none_or(|o| o.0.code() != "carried"),
                    "item {} carried while inquorate",
                    r.number
                );
            }
        }
    }
});

//! The cluster membership CSV (`clusterwise import clusters`, `/import`):
//! `domain::import::membership::parse` never panics, names lines and columns, and the rows it
//! accepts, written out again as a careful writer would, read back the same with no error.
#![no_main]

use clusterwise_fuzz::{check_parsed, quoted};
use domain::import::membership::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = parse(data);
    check_parsed(data, &parsed, |r| r.line);
    let Ok(p) = parsed else { return };
    if p.rows.is_empty() {
        return;
    }
    let mut out = String::from("urn,cluster,role\n");
    for r in &p.rows {
        out.push_str(&format!("{},{},{}\n", r.urn, quoted(&r.cluster), r.role.code()));
    }
    let again = parse(out.as_bytes()).unwrap_or_else(|e| panic!("re-read refused: {e}\n{out}"));
    assert!(again.errors.is_empty(), "re-read errors: {:?}\n{out}", again.errors);
    let key = |rs: &[domain::import::MembershipRecord]| -> Vec<(u32, String, &'static str)> {
        rs.iter()
            .map(|r| (r.urn.get(), r.cluster.clone(), r.role.code()))
            .collect()
    };
    assert_eq!(key(&p.rows), key(&again.rows), "{out}");
});

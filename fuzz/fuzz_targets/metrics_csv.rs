//! The tidy metrics CSV (`/evaluation` import): `domain::evaluation::metrics::parse` never panics,
//! names lines and columns, and the rows it accepts, written out again, read back the same.
//! The first byte chooses whether the catalogue accepts new measure codes.
#![no_main]

use clusterwise_fuzz::{check_parsed, quoted};
use domain::evaluation::metrics::{Catalogue, MetricRecord, Observation, Place, default_measures, parse};
use libfuzzer_sys::fuzz_target;

fn value(v: Observation) -> String {
    match v.number() {
        Some(n) => {
            let t = n.ten_thousandths();
            let sign = if t < 0 { "-" } else { "" };
            let a = t.unsigned_abs();
            format!("{sign}{}.{:04}", a / 10_000, a % 10_000)
        }
        None => v.symbol().unwrap_or("x").to_string(),
    }
}

fn key(rows: &[MetricRecord]) -> Vec<(u32, Place, String, &'static str, Observation)> {
    rows.iter()
        .map(|r| (r.period.code(), r.place, r.measure.clone(), r.group.code(), r.value))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, data)) = data.split_first() else {
        return;
    };
    let mut catalogue = Catalogue::new(default_measures());
    catalogue.accept_unknown = first & 1 == 1;
    let parsed = parse(data, &catalogue);
    check_parsed(data, &parsed, |r| r.line);
    let Ok(p) = parsed else { return };
    if p.rows.is_empty() {
        return;
    }
    let mut out = String::from("time_period,school_urn,measure,group,value,geographic_level\n");
    for r in &p.rows {
        let (urn, level) = match r.place {
            Place::School(u) => (u.to_string(), "School"),
            Place::National => (String::new(), "National"),
        };
        out.push_str(&format!(
            "{},{urn},{},{},{},{level}\n",
            r.period.code(),
            quoted(&r.measure),
            r.group.code(),
            value(r.value)
        ));
    }
    let again = parse(out.as_bytes(), &catalogue).unwrap_or_else(|e| panic!("re-read refused: {e}\n{out}"));
    assert!(again.errors.is_empty(), "re-read errors: {:?}\n{out}", again.errors);
    assert_eq!(key(&p.rows), key(&again.rows), "{out}");
});

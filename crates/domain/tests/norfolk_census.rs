//! The real Norfolk census file (shared/data/real) parses completely and adds up to the figures
//! its README publishes.

use domain::import::census::{CensusOptions, parse};
use domain::school::Phase;
use std::path::Path;

fn norfolk() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real/norfolk_schools_spc_2022_23.csv");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_norfolk_file_parses_with_no_errors_and_the_published_totals() {
    let options = CensusOptions {
        census_date: domain::NaiveDate::from_ymd_opt(2023, 1, 19),
    };
    let parsed = parse(&norfolk(), &options).expect("the file is readable");
    assert_eq!(parsed.errors, vec![]);
    assert_eq!((parsed.rows_read, parsed.rows.len()), (454, 454));
    let pupils = |state: bool| -> u64 {
        parsed
            .rows
            .iter()
            .filter(|r| r.school.is_state_funded() == state || !state)
            .filter_map(|r| r.census.as_ref())
            .map(|c| u64::from(c.pupils))
            .sum()
    };
    assert_eq!(pupils(true), 119_236, "state-funded pupils");
    assert_eq!(pupils(false), 125_014, "all pupils");
    let count = |p: Phase| parsed.rows.iter().filter(|r| r.school.phase == p).count();
    assert_eq!(count(Phase::Primary), 347);
    assert_eq!(
        count(Phase::Secondary) + count(Phase::AllThrough) + count(Phase::SixteenPlus),
        54
    );
    assert_eq!(count(Phase::AllThrough), 3);
    assert_eq!(count(Phase::Special), 16);
    assert_eq!(count(Phase::Nursery), 3);
    assert_eq!(count(Phase::AlternativeProvision), 2);
    assert_eq!(count(Phase::Independent), 32);
    assert!(
        parsed.rows.iter().all(|r| r.school.location.is_some()),
        "all 454 have coordinates"
    );
    // The one school DfE gives no district keeps none, rather than a district called "Unknown".
    let bridge = parsed
        .rows
        .iter()
        .find(|r| r.school.urn.get() == 148618)
        .expect("The Bridge Easton");
    assert_eq!(bridge.school.district, None);
}

#[test]
fn the_norfolk_file_with_crlf_line_ends_gives_the_same_lines() {
    let text = String::from_utf8(norfolk()).expect("UTF-8");
    let crlf = text.replace('\n', "\r\n");
    let options = CensusOptions {
        census_date: domain::NaiveDate::from_ymd_opt(2023, 1, 19),
    };
    let a = parse(text.as_bytes(), &options).expect("lf");
    let b = parse(crlf.trim_end().as_bytes(), &options).expect("crlf");
    assert_eq!(
        a.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
        b.rows.iter().map(|r| r.line).collect::<Vec<_>>()
    );
    assert_eq!(b.rows.last().map(|r| r.line), Some(455));
}

#[test]
fn the_gias_fixture_reads_as_gias_writes_it() {
    use domain::import::gias;
    use domain::school::{Phase, SchoolStatus};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/edubasealldata20250101.csv");
    let bytes = std::fs::read(path).expect("fixture");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the fixture is Windows-1252, not UTF-8"
    );
    assert!(!bytes.ends_with(b"\n"), "no final line break, as GIAS writes it");
    let p = gias::parse(&bytes).expect("parses");
    assert_eq!(p.errors, vec![]);
    assert_eq!(
        (p.rows_read, p.rows.len(), p.skipped.len()),
        (10, 9, 1),
        "the university is skipped"
    );
    let by_urn = |u: u32| p.rows.iter().find(|r| r.school.urn.get() == u).expect("row");
    assert_eq!(by_urn(121500).school.name, "St Mary’s Church of England Primary School");
    assert_eq!(by_urn(137000).school.name, "Norwich Brontë Academy");
    assert_eq!(by_urn(121503).school.phase, Phase::Special);
    assert_eq!(by_urn(121504).school.phase, Phase::AlternativeProvision);
    assert_eq!(by_urn(121504).school.status, SchoolStatus::OpenProposedToClose);
    assert_eq!(by_urn(149000).school.status, SchoolStatus::ProposedToOpen);
    assert_eq!(by_urn(121505).school.status, SchoolStatus::Closed);
    assert_eq!(by_urn(139000).school.phase, Phase::Independent);
    assert_eq!(by_urn(121500).census.as_ref().map(|c| c.pupils), Some(210));
    assert_eq!(by_urn(121500).school.laestab.map(|l| l.get()), Some(9_262_500));
    assert_eq!(
        by_urn(121501).school.location,
        by_urn(121502).school.location,
        "a shared site"
    );
    assert_eq!(p.rows.last().map(|r| r.line), Some(11));
}

#[test]
fn a_large_file_read_in_parallel_gives_the_same_result_and_catches_duplicates_across_chunks() {
    use domain::import::census::{CensusOptions, parse};
    let text = String::from_utf8(norfolk()).expect("UTF-8");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let rows: Vec<&str> = lines.collect();
    // About 3 MiB: repeated Norfolk rows with fresh URNs, so it is split across threads.
    let mut big = format!("{header}\n");
    let copies = 16;
    for c in 0..copies {
        for (i, r) in rows.iter().enumerate() {
            let urn = 300_000 + c * rows.len() + i;
            let rest = r.split_once(',').map_or("", |x| x.1);
            big.push_str(&format!("{urn},{rest}\n"));
        }
    }
    // The last row repeats the first row's URN.
    let first_rest = rows[0].split_once(',').map_or("", |x| x.1);
    big.push_str(&format!("300000,{first_rest}\n"));
    assert!(big.len() > 2 << 20);
    let options = CensusOptions {
        census_date: domain::NaiveDate::from_ymd_opt(2023, 1, 19),
    };
    let p = parse(big.as_bytes(), &options).expect("parses");
    let n = copies * rows.len();
    assert_eq!((p.rows_read as usize, p.rows.len()), (n + 1, n));
    assert_eq!(p.errors.len(), 1);
    assert_eq!(
        (p.errors[0].line as usize, p.errors[0].rule.as_str()),
        (n + 2, "duplicate URN, first on line 2")
    );
    // Rows come back in file order with their own lines.
    assert!(p.rows.windows(2).all(|w| w[0].line + 1 == w[1].line));
    assert_eq!(p.rows[n - 1].line as usize, n + 1);
}

#[test]
fn dfe_headers_give_the_same_records_as_ours() {
    // The fixture is Norfolk rows under DfE's published headers (make_spc_fixture.py), with DfE's
    // symbols where the Norfolk file is empty, and a time_period instead of a given census date.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spc_school_level_underlying_data_202223.csv");
    let dfe = parse(&std::fs::read(path).expect("fixture"), &CensusOptions::default()).expect("parses");
    assert_eq!(dfe.errors, vec![]);
    assert_eq!(dfe.rows.len(), 13);
    let options = CensusOptions {
        census_date: domain::NaiveDate::from_ymd_opt(2023, 1, 19),
    };
    let ours = parse(&norfolk(), &options).expect("parses");
    for d in &dfe.rows {
        let o = ours
            .rows
            .iter()
            .find(|o| o.school.urn == d.school.urn)
            .expect("the same school");
        assert_eq!((&d.school, &d.census, &d.la_name), (&o.school, &o.census, &o.la_name));
    }
    let phases: std::collections::BTreeSet<_> = dfe.rows.iter().map(|r| r.school.phase).collect();
    assert_eq!(phases.len(), 7, "{phases:?}");
}

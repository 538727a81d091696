//! Parser for the GIAS establishment CSV (`edubasealldataYYYYMMDD.csv`): Windows-1252 bytes,
//! quoted text and bare numbers, CRLF line ends, `X (code)`/`X (name)` column pairs matched by
//! header name in any order (unknown columns ignored — the file had 140 columns in 2023 and 135
//! in 2025), `dd-mm-yyyy` dates and zero-padded type codes.
//!
//! Establishments that are not schools a cluster holds (universities, colleges, Welsh schools,
//! online providers, other types) are skipped and counted, not rejected.
//!
//! Decisions:
//! - Required columns are the least that make a register entry: `URN`, `LA (code)`,
//!   `EstablishmentName` and `EstablishmentStatus (name)`. Everything else (type, phase, dates,
//!   pupils, FSM, grid reference, district, constituency, ward) is read when present.
//! - Encoding: a file that is valid UTF-8 (with or without a BOM) is read as UTF-8, anything else
//!   as Windows-1252, which is what GIAS writes. Windows-1252 text with accents or curly quotes
//!   is valid UTF-8 only if it happens to hold pairs such as `Ã©`, which school names do not.
//! - `LAESTAB` is `LA (code)` × 10000 + `EstablishmentNumber`.

use super::csv_text::{
    Column, Records, RowCheck, Sink, Source, check_bytes, contains_ci, is_dfe_symbol, parse_chunks, read_header,
    resolve, threads, used_columns,
};
use super::{FileError, Parsed, SchoolRecord};
use crate::geo::Location;
use crate::ids::{LaCode, Laestab, Urn};
use crate::school::{AreaRef, Census, Governance, Phase, School, SchoolStatus, Tenths};
use chrono::NaiveDate;

const REQUIRED: &[&[&str]] = &[
    &["URN"],
    &["LA (code)"],
    &["EstablishmentName"],
    &["EstablishmentStatus (name)"],
];

const OPTIONAL: &[&[&str]] = &[
    &["LA (name)"],
    &["EstablishmentNumber"],
    &["TypeOfEstablishment (name)"],
    &["EstablishmentTypeGroup (name)"],
    &["PhaseOfEducation (name)"],
    &["OpenDate"],
    &["CloseDate"],
    &["Gender (name)"],
    &["ReligiousCharacter (name)"],
    &["Trusts (name)"],
    &["Postcode"],
    &["Easting"],
    &["Northing"],
    &["DistrictAdministrative (code)"],
    &["DistrictAdministrative (name)"],
    &["ParliamentaryConstituency (code)"],
    &["ParliamentaryConstituency (name)"],
    &["AdministrativeWard (code)"],
    &["AdministrativeWard (name)"],
    &["UrbanRural (name)"],
    &["CensusDate"],
    &["NumberOfPupils"],
    &["FSM"],
    &["PercentageFSM"],
    &["SENStat"],
];

const O_LA_NAME: usize = 0;
const O_EST_NUMBER: usize = 1;
const O_TYPE: usize = 2;
const O_GROUP: usize = 3;
const O_PHASE: usize = 4;
const O_OPEN: usize = 5;
const O_CLOSE: usize = 6;
const O_GENDER: usize = 7;
const O_RELIGION: usize = 8;
const O_TRUST: usize = 9;
const O_POSTCODE: usize = 10;
const O_EASTING: usize = 11;
const O_NORTHING: usize = 12;
const O_DISTRICT: usize = 13;
const O_CONSTITUENCY: usize = 15;
const O_WARD: usize = 17;
const O_URBAN_RURAL: usize = 19;
const O_CENSUS_DATE: usize = 20;
const O_PUPILS: usize = 21;
const O_FSM: usize = 22;
const O_FSM_PCT: usize = 23;
const O_SEN: usize = 24;

/// The establishment type groups a cluster can hold; any other group is skipped.
const SCHOOL_GROUPS: &[&str] = &[
    "local authority maintained schools",
    "academies",
    "free schools",
    "special schools",
    "independent schools",
];

/// How the file's bytes are text: UTF-8 when they are valid UTF-8 (a BOM is dropped), otherwise
/// Windows-1252, which is what GIAS writes. Valid UTF-8 with accents is vanishingly unlikely to be
/// meant as Windows-1252, so both kinds of file read correctly. Fields are decoded as they are read.
pub fn encoding(bytes: &[u8]) -> Result<Source<'_>, FileError> {
    check_bytes(bytes)?;
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    Ok(match std::str::from_utf8(body) {
        Ok(text) => Source::Utf8(text),
        Err(_) => Source::Windows1252(bytes),
    })
}

/// `dd-mm-yyyy` (GIAS) or ISO `yyyy-mm-dd`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%d-%m-%Y")
        .or_else(|_| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d"))
        .ok()
}

fn phase_of(phase: &str, type_name: &str, group: &str) -> Option<Phase> {
    let (p, g) = (phase.trim(), group.trim());
    if g.eq_ignore_ascii_case("independent schools") {
        return Some(Phase::Independent);
    }
    if contains_ci(type_name, "special") || g.eq_ignore_ascii_case("special schools") {
        return Some(Phase::Special);
    }
    if contains_ci(type_name, "pupil referral") || contains_ci(type_name, "alternative provision") {
        return Some(Phase::AlternativeProvision);
    }
    const PHASES: [(&str, Phase); 8] = [
        ("nursery", Phase::Nursery),
        ("primary", Phase::Primary),
        ("middle deemed primary", Phase::MiddlePrimary),
        ("middle deemed secondary", Phase::MiddleSecondary),
        ("secondary", Phase::Secondary),
        ("all-through", Phase::AllThrough),
        ("all through", Phase::AllThrough),
        ("16 plus", Phase::SixteenPlus),
    ];
    PHASES
        .iter()
        .find(|(name, _)| p.eq_ignore_ascii_case(name))
        .map(|(_, phase)| *phase)
}

fn governance_of(type_name: &str, group: &str) -> Governance {
    let (t, g) = (type_name.trim(), group.trim());
    let starts =
        |prefix: &str| t.len() >= prefix.len() && t.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes());
    if contains_ci(t, "non-maintained special") {
        Governance::NonMaintainedSpecial
    } else if g.eq_ignore_ascii_case("independent schools") {
        Governance::Independent
    } else if g.eq_ignore_ascii_case("academies")
        || g.eq_ignore_ascii_case("free schools")
        || starts("academy")
        || starts("free school")
    {
        Governance::Academy
    } else if g.eq_ignore_ascii_case("local authority maintained schools") || g.eq_ignore_ascii_case("special schools")
    {
        Governance::LaMaintained
    } else {
        Governance::Other
    }
}

fn area(row: &RowCheck<'_>, code: &Option<Column>, name: &Option<Column>) -> Option<AreaRef> {
    fn known(v: Option<&str>) -> Option<&str> {
        v.filter(|s| !s.is_empty() && !is_dfe_symbol(s))
    }
    match (known(row.opt(code)), known(row.opt(name))) {
        (None, None) => None,
        (c, n) => Some(AreaRef {
            code: c.unwrap_or_default().to_string(),
            name: n.unwrap_or_default().to_string(),
        }),
    }
}

/// Parses a whole file. Large files are read on several threads; the result is the same as on one.
pub fn parse(bytes: &[u8]) -> Result<Parsed<SchoolRecord>, FileError> {
    parse_on(bytes, threads())
}

fn parse_on(bytes: &[u8], threads: usize) -> Result<Parsed<SchoolRecord>, FileError> {
    let source = encoding(bytes)?;
    let (header, body) = read_header(source)?;
    let (req, opt) = resolve(&header, REQUIRED, OPTIONAL)?;
    let used = used_columns(header.names.len(), &req, &opt);
    let key = |r: &SchoolRecord| (r.school.urn, r.line);
    let parsed = parse_chunks(source, body, threads, key, &req[0].name, |records, sink| {
        parse_rows(records.only_columns(&used), sink, &header.names, &req, &opt)
    })?;
    if parsed.rows_read == 0 {
        return Err(FileError::NoRows);
    }
    Ok(parsed)
}

fn parse_rows(
    mut records: Records<'_>,
    sink: &mut Sink<SchoolRecord>,
    names: &[String],
    req: &[Column],
    opt: &[Option<Column>],
) -> Result<(), FileError> {
    let (urn_c, la_c, name_c, status_c) = (&req[0], &req[1], &req[2], &req[3]);
    while let Some((line, record)) = records.next_record()? {
        sink.parsed.rows_read += 1;
        let mut row = RowCheck::new(line, record);
        if !row.has_all_fields(names) {
            sink.parsed.errors.append(&mut row.errors);
            continue;
        }
        let group = row.opt(&opt[O_GROUP]).unwrap_or_default();
        if !group.is_empty() && !SCHOOL_GROUPS.iter().any(|g| g.eq_ignore_ascii_case(group)) {
            sink.parsed
                .skipped
                .push((line, format!("not a school a cluster holds ({group})")));
            continue;
        }
        let raw_urn = row.raw(urn_c);
        let urn = Urn::parse(raw_urn)
            .map_err(|e| row.fail(urn_c, raw_urn, e.to_string()))
            .ok();
        let name = row.text(name_c);
        let raw_la = row.raw(la_c);
        let la_code = LaCode::parse(raw_la)
            .map_err(|e| row.fail(la_c, raw_la, e.to_string()))
            .ok();
        let laestab = match (row.opt(&opt[O_EST_NUMBER]), la_code, &opt[O_EST_NUMBER]) {
            (Some(n), Some(la), Some(col)) => match n.parse::<u16>() {
                Ok(est) if est <= 9999 => Laestab::from_parts(la, est)
                    .map_err(|e| row.fail(col, n, e.to_string()))
                    .ok(),
                _ => {
                    row.fail(col, n, "an establishment number is up to 4 digits");
                    None
                }
            },
            _ => None,
        };
        let raw_status = row.raw(status_c);
        let status = SchoolStatus::from_gias_name(raw_status);
        if status.is_none() {
            row.fail(
                status_c,
                raw_status,
                "must be Open, Open, but proposed to close, Proposed to open or Closed",
            );
        }
        let type_name = row.opt(&opt[O_TYPE]).unwrap_or_default();
        let phase_name = row.opt(&opt[O_PHASE]).unwrap_or_default();
        let phase = phase_of(phase_name, type_name, group);
        if phase.is_none() {
            let (col, v) = match &opt[O_PHASE] {
                Some(c) => (c.clone(), phase_name.to_string()),
                None => (status_c.clone(), String::new()),
            };
            row.fail(&col, &v, "the phase of education is not one a school has (Nursery, Primary, Middle, Secondary, All-through, 16 plus)");
        }
        let date = |row: &mut RowCheck<'_>, col: &Option<Column>| -> Option<NaiveDate> {
            let c = col.as_ref()?;
            let v = row.raw(c);
            if v.is_empty() {
                return None;
            }
            let d = parse_date(v);
            if d.is_none() {
                let v = v.to_string();
                row.fail(c, &v, "must be a date written dd-mm-yyyy");
            }
            d
        };
        let opened_on = date(&mut row, &opt[O_OPEN]);
        let closed_on = date(&mut row, &opt[O_CLOSE]);
        let census_date = date(&mut row, &opt[O_CENSUS_DATE]);
        let pupils = row.count(&opt[O_PUPILS]);
        let fsm_count = row.count(&opt[O_FSM]);
        let sen_count = row.count(&opt[O_SEN]);
        let fsm_pct = match &opt[O_FSM_PCT] {
            Some(c) => {
                let v = row.raw(c);
                if v.is_empty() || is_dfe_symbol(v) {
                    None
                } else {
                    // GIAS writes up to two decimals; keep one, rounding half up, exactly.
                    let t = Tenths::parse(v).or_else(|| {
                        let (w, f) = v.split_once('.')?;
                        // Digits only before slicing: `1.€` must not cut a character in two.
                        if f.len() > 2 || !f.bytes().all(|b| b.is_ascii_digit()) {
                            return None;
                        }
                        let hundredths: i64 = format!("{w}{f:0<2}").parse().ok()?;
                        (hundredths >= 0).then_some(Tenths(hundredths.checked_add(5)? / 10))
                    });
                    if t.is_none_or(|t| !(0..=1000).contains(&t.0)) {
                        let v = v.to_string();
                        row.fail(c, &v, "must be a percentage from 0 to 100");
                    }
                    t
                }
            }
            None => None,
        };
        let grid = |row: &mut RowCheck<'_>, col: &Option<Column>, max: i32| -> Option<i32> {
            let c = col.as_ref()?;
            let v = row.raw(c);
            if v.is_empty() {
                return None;
            }
            match v.parse::<i32>() {
                Ok(n) if (0..=max).contains(&n) => Some(n),
                _ => {
                    let v = v.to_string();
                    row.fail(
                        c,
                        &v,
                        format!("must be whole metres from 0 to {max} on the British National Grid"),
                    );
                    None
                }
            }
        };
        let easting = grid(&mut row, &opt[O_EASTING], 700_000);
        let northing = grid(&mut row, &opt[O_NORTHING], 1_300_000);
        // GIAS writes 0,0 for establishments it has not located.
        let location = match (easting, northing) {
            (Some(e), Some(n)) if e > 0 && n > 0 => Some(Location {
                easting: e,
                northing: n,
                latitude: None,
                longitude: None,
            }),
            _ => None,
        };
        let (Some(urn), Some(name), Some(la_code), Some(status), Some(phase), true) =
            (urn, name, la_code, status, phase, row.errors.is_empty())
        else {
            sink.parsed.errors.append(&mut row.errors);
            continue;
        };
        let census = match (census_date, pupils) {
            (Some(census_date), Some(pupils)) => Some(Census {
                census_date,
                pupils,
                pupils_fte: None,
                fsm_count,
                fsm_pct,
                sen_count,
                eal_count: None,
                stages: [None; 7],
            }),
            _ => None,
        };
        let text = |col: &Option<Column>| {
            row.opt(col)
                .filter(|v| !is_dfe_symbol(v) && *v != "Does not apply" && *v != "None")
                .map(str::to_string)
        };
        sink.push(SchoolRecord {
            line,
            la_code,
            la_name: text(&opt[O_LA_NAME]).unwrap_or_else(|| format!("LA {la_code}")),
            school: School {
                urn,
                laestab,
                name,
                phase,
                establishment_type: type_name.to_string(),
                governance: governance_of(type_name, group),
                status,
                opened_on,
                closed_on,
                sex: text(&opt[O_GENDER]),
                denomination: text(&opt[O_RELIGION]),
                trust: text(&opt[O_TRUST]),
                postcode: text(&opt[O_POSTCODE]),
                location,
                district: area(&row, &opt[O_DISTRICT], &opt[O_DISTRICT + 1]),
                constituency: area(&row, &opt[O_CONSTITUENCY], &opt[O_CONSTITUENCY + 1]),
                ward: area(&row, &opt[O_WARD], &opt[O_WARD + 1]),
                urban_rural: text(&opt[O_URBAN_RURAL]),
            },
            census,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "\"URN\",\"LA (code)\",\"LA (name)\",\"EstablishmentNumber\",\"EstablishmentName\",\"TypeOfEstablishment (code)\",\"TypeOfEstablishment (name)\",\"EstablishmentTypeGroup (name)\",\"EstablishmentStatus (name)\",\"OpenDate\",\"PhaseOfEducation (name)\",\"CensusDate\",\"NumberOfPupils\",\"FSM\",\"PercentageFSM\",\"Easting\",\"Northing\",\"Unknown future column\"";

    fn cp1252(s: &str) -> Vec<u8> {
        encoding_rs::WINDOWS_1252.encode(s).0.into_owned()
    }

    #[test]
    fn windows_1252_crlf_and_code_name_pairs() {
        let body = format!(
            "{HEADER}\r\n121000,\"926\",\"Norfolk\",2000,\"St Mary’s Café School\",\"02\",\"Voluntary aided school\",\"Local authority maintained schools\",\"Open\",\"01-09-1990\",\"Primary\",\"19-01-2023\",210,21,\"10.0\",620000,308000,\"x\"\r\n\
             10000001,\"926\",\"Norfolk\",,\"A University\",\"29\",\"Higher education institutions\",\"Universities\",\"Open\",,\"Not applicable\",,,,,0,0,\"x\""
        );
        let p = parse(&cp1252(&body)).unwrap();
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!((p.rows.len(), p.skipped.len(), p.rows_read), (1, 1, 2));
        let r = &p.rows[0];
        assert_eq!(r.school.name, "St Mary’s Café School");
        assert_eq!(r.school.laestab.map(|l| l.get()), Some(9_262_000));
        assert_eq!(r.school.opened_on, NaiveDate::from_ymd_opt(1990, 9, 1));
        assert_eq!(
            r.census.as_ref().map(|c| (c.pupils, c.fsm_count, c.fsm_pct)),
            Some((210, Some(21), Some(Tenths(100))))
        );
        assert_eq!(p.skipped[0].0, 3);
    }

    #[test]
    fn statuses_phases_and_bad_values() {
        let body = format!(
            "{HEADER}\n\
             121001,926,Norfolk,2001,Closing School,02,Community school,Local authority maintained schools,\"Open, but proposed to close\",,Secondary,,,,,,,\n\
             121002,926,Norfolk,2002,New School,34,Academy converter,Academies,Proposed to open,,All-through,,,,,,,\n\
             121003,926,Norfolk,2003,Odd School,02,Community school,Local authority maintained schools,Dormant,31/12/2020,Primary,,many,,,,,\n"
        );
        let p = parse(body.as_bytes()).unwrap();
        assert_eq!(p.rows[0].school.status, SchoolStatus::OpenProposedToClose);
        assert_eq!(
            (
                p.rows[1].school.status,
                p.rows[1].school.phase,
                p.rows[1].school.governance
            ),
            (SchoolStatus::ProposedToOpen, Phase::AllThrough, Governance::Academy)
        );
        let bad: Vec<&str> = p.errors.iter().map(|e| e.column.as_str()).collect();
        assert_eq!(bad, vec!["EstablishmentStatus (name)", "OpenDate", "NumberOfPupils"]);
        assert!(p.errors.iter().all(|e| e.line == 4));
    }

    #[test]
    fn a_utf8_file_with_a_bom_reads_as_utf8() {
        let body = format!(
            "\u{feff}{HEADER}\r\n121000,\"926\",\"Norfolk\",2000,\"St Mary’s Café School\",\"02\",\"Voluntary aided school\",\"Local authority maintained schools\",\"Open\",,\"Primary\",,,,,,,\"x\""
        );
        let p = parse(body.as_bytes()).unwrap();
        assert_eq!(p.errors, vec![]);
        assert_eq!(p.rows[0].school.name, "St Mary’s Café School");
        // The same text in Windows-1252 reads the same.
        let p = parse(&cp1252(body.trim_start_matches('\u{feff}'))).unwrap();
        assert_eq!(p.rows[0].school.name, "St Mary’s Café School");
    }

    #[test]
    fn the_same_result_on_any_number_of_threads() {
        let mut file = format!("{HEADER}\r\n");
        for i in 0..12_000u32 {
            let status = ["Open", "Open, but proposed to close", "Closed", "Dormant"][(i % 4) as usize];
            file.push_str(&format!(
                "{},\"926\",\"Norfolk\",{},\"Ysgol Gymraeg “Bryn” {i}\r\nCafé\",\"02\",\"Community school\",\"{}\",\"{status}\",\"01-09-2012\",\"Primary\",\"19-01-2023\",{},21,\"10.0\",620000,308000,\"x\"\r\n",
                100_000 + i % 11_000,
                i % 10_000,
                if i % 9 == 0 { "Universities" } else { "Local authority maintained schools" },
                100 + i % 50,
            ));
        }
        let bytes = cp1252(&file);
        let one = parse_on(&bytes, 1).unwrap();
        assert_eq!(one.rows_read, 12_000);
        assert!(!one.errors.is_empty() && !one.skipped.is_empty());
        assert_eq!(one.rows[0].school.name, "Ysgol Gymraeg “Bryn” 1\r\nCafé");
        for threads in [2, 3, 5] {
            assert_eq!(parse_on(&bytes, threads).unwrap(), one, "{threads} threads");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_any_rows(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let mut file = format!("{HEADER}\r\n").into_bytes();
            file.extend(body.iter().map(|&b| if b == 0 { b',' } else { b }));
            let _ = parse(&file);
        }
    }

    #[test]
    fn a_percentage_with_a_wide_character_or_too_many_digits_is_a_row_error() {
        // Found by reading the code the gias_csv fuzz target runs: `1.€` sliced `€` in two, and
        // nineteen digits overflowed when rounded.
        for (pct, windows_1252) in [
            ("1.€", false),
            ("1.€", true),
            ("92233720368547758.07", false),
            ("1.2x", false),
        ] {
            let file = format!(
                "URN,LA (code),EstablishmentName,EstablishmentStatus (name),PhaseOfEducation (name),PercentageFSM\r\n121000,926,A school,Open,Primary,{pct}\r\n"
            );
            let bytes = if windows_1252 { cp1252(&file) } else { file.into_bytes() };
            let p = parse(&bytes).unwrap();
            assert!(p.rows.is_empty(), "{pct}");
            assert_eq!(
                (
                    p.errors[0].line,
                    p.errors[0].column.as_str(),
                    p.errors[0].value.as_str()
                ),
                (2, "PercentageFSM", pct)
            );
        }
        let good = "URN,LA (code),EstablishmentName,EstablishmentStatus (name),PhaseOfEducation (name),PercentageFSM,CensusDate,NumberOfPupils\n121000,926,A,Open,Primary,12.35,19-01-2023,210\n";
        let p = parse(good.as_bytes()).unwrap();
        assert_eq!(p.rows[0].census.as_ref().and_then(|c| c.fsm_pct), Some(Tenths(124)));
    }

    #[test]
    fn malformed_files() {
        assert_eq!(parse(b""), Err(FileError::Empty));
        assert!(matches!(parse(b"PK\x03\x04\x00\x00"), Err(FileError::Binary { .. })));
        assert!(
            matches!(parse(b"URN,EstablishmentName\n1,x\n"), Err(FileError::MissingColumns { missing }) if missing == vec!["LA (code)".to_string(), "EstablishmentStatus (name)".to_string()])
        );
        assert_eq!(parse(format!("{HEADER}\r\n").as_bytes()), Err(FileError::NoRows));
    }
}

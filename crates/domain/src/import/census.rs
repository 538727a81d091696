//! Parser for the DfE "Schools, pupils and their characteristics" school-level CSV. Accepts DfE's
//! published headers (`time_period`, `old_la_code`, `headcount of pupils`, …) and the columns of
//! `shared/data/real/norfolk_schools_spc_2022_23.csv`; columns are matched by name, in any order,
//! and unknown columns are ignored. DfE symbols (`z`, `x`, `c`, `low`) are "not known", never 0.

use super::csv_text::{
    Column, Records, RowCheck, Sink, Source, contains_ci, parse_chunks, read_header, resolve, threads, utf8_text,
    whole_number,
};
use super::{FileError, Parsed, SchoolRecord};
use crate::geo::Location;
use crate::ids::{LaCode, Laestab, Urn};
use crate::school::{AreaRef, Census, Governance, Phase, School, SchoolStatus, Tenths};
use chrono::{NaiveDate, Weekday};

/// What the caller knows that the file may not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CensusOptions {
    /// Census day for rows without a `time_period` (a file's own `time_period` comes first).
    pub census_date: Option<NaiveDate>,
}

// Required columns, each with its accepted names (ours first, then DfE's).
const URN: &[&str] = &["urn"];
const NAME: &[&str] = &["school_name", "school"];
const LA_CODE: &[&str] = &["la_code", "old_la_code"];
const PHASE: &[&str] = &["phase_type_grouping"];
const PUPILS: &[&str] = &["pupils_headcount", "headcount of pupils", "headcount_of_pupils"];

// Optional columns.
const OPTIONAL: &[&[&str]] = &[
    &["laestab"],
    &["la_name", "la"],
    &[
        "type_of_establishment",
        "typeofestablishment_name",
        "typeofestablishment (name)",
    ],
    &["academy_flag"],
    &["all_through_school", "all_through"],
    &["middle_school"],
    &["sex_of_school", "sex_of_school_description"],
    &["denomination"],
    &["trust"],
    &["district_code", "district_administrative_code"],
    &[
        "district_name",
        "district_administrative_name",
        "district_administrative",
    ],
    &["constituency_code", "parl_con_code", "parlc_code", "pcon_code"],
    &[
        "constituency_name",
        "parl_con_name",
        "parlc_name",
        "pcon_name",
        "parl_con",
    ],
    &["ward_code"],
    &["ward_name", "ward"],
    &["urban_rural"],
    &["postcode", "school_postcode"],
    &["pupils_fte", "fte pupils", "fte_pupils"],
    &[
        "fsm_eligible_count",
        "number of pupils known to be eligible for free school meals",
    ],
    &[
        "fsm_eligible_pct",
        "% of pupils known to be eligible for free school meals",
    ],
    &["sen_count", "number of pupils with sen"],
    &[
        "eal_count",
        "number of pupils whose first language is known or believed to be other than english",
    ],
    &[
        "pupils_early_years_e1_e2",
        "number of early year pupils (years e1 and e2)",
    ],
    &["pupils_nursery_n1_n2", "number of nursery pupils (years n1 and n2)"],
    &["pupils_ks1_y1_y2", "number of key stage 1 pupils (years 1 and 2)"],
    &["pupils_ks2_y3_y6", "number of key stage 2 pupils (years 3 to 6)"],
    &["pupils_ks3_y7_y9", "number of key stage 3 pupils (years 7 to 9)"],
    &["pupils_ks4_y10_y11", "number of key stage 4 pupils (years 10 and 11)"],
    &["pupils_ks5_y12_y14", "number of key stage 5 pupils (years 12 to 14)"],
    &["easting"],
    &["northing"],
    &["latitude"],
    &["longitude"],
    &["time_period"],
];

// Indexes into OPTIONAL.
const O_LAESTAB: usize = 0;
const O_LA_NAME: usize = 1;
const O_TYPE: usize = 2;
const O_ACADEMY: usize = 3;
const O_ALL_THROUGH: usize = 4;
const O_MIDDLE: usize = 5;
const O_SEX: usize = 6;
const O_DENOMINATION: usize = 7;
const O_TRUST: usize = 8;
const O_DISTRICT: usize = 9;
const O_CONSTITUENCY: usize = 11;
const O_WARD: usize = 13;
const O_URBAN_RURAL: usize = 15;
const O_POSTCODE: usize = 16;
const O_FTE: usize = 17;
const O_FSM: usize = 18;
const O_FSM_PCT: usize = 19;
const O_SEN: usize = 20;
const O_EAL: usize = 21;
const O_STAGES: usize = 22;
const O_EASTING: usize = 29;
const O_NORTHING: usize = 30;
const O_LATITUDE: usize = 31;
const O_LONGITUDE: usize = 32;
const O_TIME_PERIOD: usize = 33;

/// The spring census day of an academic year's `time_period` (`202223` → 2023-01-19): the third
/// Thursday of January of the second calendar year.
pub fn census_day_of_time_period(time_period: &str) -> Option<NaiveDate> {
    let t = time_period.trim();
    if t.len() != 6 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let first: i32 = t[..4].parse().ok()?;
    let second: i32 = t[4..].parse().ok()?;
    if (first + 1) % 100 != second {
        return None;
    }
    NaiveDate::from_weekday_of_month_opt(first + 1, 1, Weekday::Thu, 3)
}

fn phase_of(grouping: &str, type_name: &str, all_through: bool, middle: &str) -> Option<Phase> {
    let g = grouping.trim();
    let is = |s: &str| g.eq_ignore_ascii_case(s);
    Some(if is("state-funded nursery") {
        Phase::Nursery
    } else if is("state-funded primary") {
        if contains_ci(middle, "secondary") {
            Phase::MiddleSecondary
        } else if contains_ci(middle, "primary") {
            Phase::MiddlePrimary
        } else {
            Phase::Primary
        }
    } else if is("state-funded secondary") {
        if contains_ci(type_name, "16 to 19") || contains_ci(type_name, "16-19") {
            Phase::SixteenPlus
        } else if contains_ci(middle, "secondary") {
            Phase::MiddleSecondary
        } else if all_through {
            Phase::AllThrough
        } else {
            Phase::Secondary
        }
    } else if is("state-funded special school") || is("non-maintained special school") {
        Phase::Special
    } else if is("state-funded ap school") || is("pupil referral unit") {
        Phase::AlternativeProvision
    } else if is("independent school") {
        Phase::Independent
    } else {
        return None;
    })
}

fn governance_of(grouping: &str, academy_flag: &str) -> Governance {
    let g = grouping.trim();
    if g.eq_ignore_ascii_case("non-maintained special school") {
        return Governance::NonMaintainedSpecial;
    }
    if g.eq_ignore_ascii_case("independent school") {
        return Governance::Independent;
    }
    let f = academy_flag.trim();
    let flag = |options: &[&str]| options.iter().any(|o| f.eq_ignore_ascii_case(o));
    if flag(&["academy", "academies", "free school"]) {
        Governance::Academy
    } else if flag(&["la maintained", "la-maintained", "maintained"])
        || (f.is_empty() && contains_ci(g, "state-funded"))
    {
        Governance::LaMaintained
    } else if flag(&["independent"]) {
        Governance::Independent
    } else if contains_ci(g, "state-funded") {
        Governance::LaMaintained
    } else {
        Governance::Other
    }
}

fn area(code: Option<&str>, name: Option<&str>) -> Option<AreaRef> {
    fn known(v: Option<&str>) -> Option<&str> {
        v.filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("unknown") && !super::csv_text::is_dfe_symbol(s))
    }
    match (known(code), known(name)) {
        (None, None) => None,
        (c, n) => Some(AreaRef {
            code: c.unwrap_or_default().to_string(),
            name: n.unwrap_or_default().to_string(),
        }),
    }
}

fn text_opt(row: &RowCheck<'_>, col: &Option<Column>) -> Option<String> {
    row.opt(col)
        .filter(|v| !super::csv_text::is_dfe_symbol(v))
        .map(str::to_string)
}

/// Parses a whole file: every good row, and every bad value with its line, column and rule.
/// Large files are read on several threads; the result is the same as on one.
pub fn parse(bytes: &[u8], options: &CensusOptions) -> Result<Parsed<SchoolRecord>, FileError> {
    parse_on(bytes, options, threads())
}

fn parse_on(bytes: &[u8], options: &CensusOptions, threads: usize) -> Result<Parsed<SchoolRecord>, FileError> {
    let source = Source::Utf8(utf8_text(bytes)?);
    let (header, body) = read_header(source)?;
    let (req, opt) = resolve(&header, &[URN, NAME, LA_CODE, PHASE, PUPILS], OPTIONAL)?;
    if options.census_date.is_none() && opt[O_TIME_PERIOD].is_none() {
        return Err(FileError::NoCensusDate);
    }
    let key = |r: &SchoolRecord| (r.school.urn, r.line);
    let parsed = parse_chunks(source, body, threads, key, &req[0].name, |records, sink| {
        parse_rows(records, sink, &header.names, &req, &opt, options)
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
    options: &CensusOptions,
) -> Result<(), FileError> {
    let (urn_c, name_c, la_c, phase_c, pupils_c) = (&req[0], &req[1], &req[2], &req[3], &req[4]);
    while let Some((line, record)) = records.next_record()? {
        sink.parsed.rows_read += 1;
        let mut row = RowCheck::new(line, record);
        if !row.has_all_fields(names) {
            sink.parsed.errors.append(&mut row.errors);
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
        let laestab = match (row.opt(&opt[O_LAESTAB]), la_code, &opt[O_LAESTAB]) {
            (Some(v), Some(la), Some(col)) => Laestab::parse_for_la(v, la)
                .map_err(|e| row.fail(col, v, e.to_string()))
                .ok(),
            _ => None,
        };
        let grouping = row.raw(phase_c);
        let type_name = row.opt(&opt[O_TYPE]).unwrap_or_default();
        let all_through = row
            .opt(&opt[O_ALL_THROUGH])
            .is_some_and(|v| v.eq_ignore_ascii_case("yes"));
        let middle = row.opt(&opt[O_MIDDLE]).unwrap_or_default();
        let phase = phase_of(grouping, type_name, all_through, middle);
        if phase.is_none() {
            row.fail(phase_c, grouping, "is not a DfE phase grouping (State-funded primary, State-funded secondary, State-funded special school, State-funded nursery, State-funded AP school, Independent school, Non-maintained special school)");
        }
        let governance = governance_of(grouping, row.opt(&opt[O_ACADEMY]).unwrap_or_default());

        let raw_pupils = row.raw(pupils_c);
        let pupils = if raw_pupils.is_empty() || super::csv_text::is_dfe_symbol(raw_pupils) {
            if governance.is_state_funded() {
                row.fail(
                    pupils_c,
                    raw_pupils,
                    "a state-funded school needs its headcount of pupils",
                );
            }
            None
        } else {
            match whole_number(raw_pupils) {
                Some(n) => Some(n),
                None => {
                    row.fail(pupils_c, raw_pupils, "must be a whole number of 0 or more");
                    None
                }
            }
        };
        let fte = decimal(
            &mut row,
            &opt[O_FTE],
            "must be a number with at most one decimal place, e.g. 312.5",
        );
        let fsm_count = row.count(&opt[O_FSM]);
        let fsm_pct = decimal(
            &mut row,
            &opt[O_FSM_PCT],
            "must be a percentage with at most one decimal place, e.g. 12.3",
        );
        if let (Some(p), Some(col)) = (fsm_pct, &opt[O_FSM_PCT])
            && !(0..=1000).contains(&p.0)
        {
            let v = row.raw(col).to_string();
            row.fail(col, &v, "a percentage is between 0 and 100");
        }
        if let (Some(f), Some(p), Some(col)) = (fsm_count, pupils, &opt[O_FSM])
            && f > p
        {
            let v = row.raw(col).to_string();
            row.fail(col, &v, format!("cannot be more than the {p} pupils on roll"));
        }
        let sen_count = row.count(&opt[O_SEN]);
        let eal_count = row.count(&opt[O_EAL]);
        let mut stages = [None; 7];
        for (k, stage) in stages.iter_mut().enumerate() {
            *stage = row.count(&opt[O_STAGES + k]);
        }
        let location = location(&mut row, opt);
        // The row's own time_period, else the date the caller gave.
        let census_date = match (row.opt(&opt[O_TIME_PERIOD]), &opt[O_TIME_PERIOD]) {
            (Some(v), Some(col)) => {
                let d = census_day_of_time_period(v);
                if d.is_none() {
                    row.fail(col, v, "must be an academic year like 202223");
                }
                d
            }
            (_, col) => {
                if let (None, Some(col)) = (options.census_date, col) {
                    row.fail(
                        col,
                        "",
                        "is empty, so the census date is not known: give it (--census-date YYYY-MM-DD)",
                    );
                }
                options.census_date
            }
        };
        let (Some(urn), Some(name), Some(la_code), Some(phase), Some(census_date), true) =
            (urn, name, la_code, phase, census_date, row.errors.is_empty())
        else {
            sink.parsed.errors.append(&mut row.errors);
            continue;
        };
        let census = pupils.map(|pupils| Census {
            census_date,
            pupils,
            pupils_fte: fte,
            fsm_count,
            fsm_pct: fsm_pct
                .or_else(|| fsm_count.and_then(|f| Tenths::from_ratio_percent(i64::from(f), i64::from(pupils)))),
            sen_count,
            eal_count,
            stages,
        });
        let la_name = text_opt(&row, &opt[O_LA_NAME]).unwrap_or_else(|| format!("LA {la_code}"));
        sink.push(SchoolRecord {
            line,
            la_code,
            la_name,
            school: School {
                urn,
                laestab,
                name,
                phase,
                establishment_type: type_name.to_string(),
                governance,
                status: SchoolStatus::Open,
                opened_on: None,
                closed_on: None,
                sex: text_opt(&row, &opt[O_SEX]),
                denomination: text_opt(&row, &opt[O_DENOMINATION]),
                trust: text_opt(&row, &opt[O_TRUST]),
                postcode: text_opt(&row, &opt[O_POSTCODE]),
                location,
                district: area(row.opt(&opt[O_DISTRICT]), row.opt(&opt[O_DISTRICT + 1])),
                constituency: area(row.opt(&opt[O_CONSTITUENCY]), row.opt(&opt[O_CONSTITUENCY + 1])),
                ward: area(row.opt(&opt[O_WARD]), row.opt(&opt[O_WARD + 1])),
                urban_rural: text_opt(&row, &opt[O_URBAN_RURAL]).filter(|v| !v.eq_ignore_ascii_case("unknown")),
            },
            census,
        });
    }
    Ok(())
}

fn decimal(row: &mut RowCheck<'_>, col: &Option<Column>, rule: &str) -> Option<Tenths> {
    let c = col.as_ref()?;
    let v = row.raw(c);
    if v.is_empty() || super::csv_text::is_dfe_symbol(v) {
        return None;
    }
    match Tenths::parse(v).filter(|t| t.0 >= 0) {
        Some(t) => Some(t),
        None => {
            row.fail(c, v, rule);
            None
        }
    }
}

/// A decimal such as `52.63753` as the nearest `f64`, as `str::parse` gives it. Plain decimals
/// of up to 15 digits are read directly: the digits and the power of ten are both exact in an
/// `f64`, and IEEE division rounds once, correctly (Clinger's fast path). Anything else goes to
/// the standard parser.
fn decimal_degrees(v: &str) -> Option<f64> {
    let (negative, digits) = match v.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    let mut mantissa: u64 = 0;
    let mut count = 0;
    let mut decimals: Option<usize> = None;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                count += 1;
                if let Some(d) = decimals.as_mut() {
                    *d += 1;
                }
            }
            b'.' if decimals.is_none() => decimals = Some(0),
            _ => return v.parse().ok(),
        }
        if count > 15 {
            return v.parse().ok();
        }
    }
    if count == 0 {
        return v.parse().ok();
    }
    const POWERS: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let magnitude = mantissa as f64 / POWERS[decimals.unwrap_or(0)];
    Some(if negative { -magnitude } else { magnitude })
}

/// British National Grid metres and WGS84 degrees; both or neither of a pair.
fn location(row: &mut RowCheck<'_>, opt: &[Option<Column>]) -> Option<Location> {
    let grid = |row: &mut RowCheck<'_>, col: &Option<Column>, max: i32, what: &str| -> Option<i32> {
        let c = col.as_ref()?;
        let v = row.raw(c);
        if v.is_empty() {
            return None;
        }
        match whole_number(v).and_then(|n| i32::try_from(n).ok()) {
            Some(n) if n <= max => Some(n),
            _ => {
                let v = v.to_string();
                row.fail(
                    c,
                    &v,
                    format!("{what} must be whole metres from 0 to {max} on the British National Grid"),
                );
                None
            }
        }
    };
    let degrees = |row: &mut RowCheck<'_>,
                   col: &Option<Column>,
                   range: std::ops::RangeInclusive<f64>,
                   what: &str|
     -> Option<f64> {
        let c = col.as_ref()?;
        let v = row.raw(c);
        if v.is_empty() {
            return None;
        }
        match decimal_degrees(v) {
            Some(d) if d.is_finite() && range.contains(&d) => Some(d),
            _ => {
                let v = v.to_string();
                row.fail(
                    c,
                    &v,
                    format!(
                        "{what} must be degrees from {} to {} (Great Britain)",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        }
    };
    let easting = grid(row, &opt[O_EASTING], 700_000, "an easting");
    let northing = grid(row, &opt[O_NORTHING], 1_300_000, "a northing");
    let latitude = degrees(row, &opt[O_LATITUDE], 49.0..=61.0, "a latitude");
    let longitude = degrees(row, &opt[O_LONGITUDE], -9.0..=2.5, "a longitude");
    match (easting, northing) {
        (Some(easting), Some(northing)) => Some(Location {
            easting,
            northing,
            latitude,
            longitude,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CensusOptions {
        CensusOptions {
            census_date: NaiveDate::from_ymd_opt(2023, 1, 19),
        }
    }

    const OURS: &str = "urn,laestab,la_code,la_name,school_name,phase_type_grouping,type_of_establishment,academy_flag,all_through_school,pupils_headcount,pupils_fte,fsm_eligible_count,fsm_eligible_pct,district_code,district_name,easting,northing,latitude,longitude\n";

    #[test]
    fn our_columns_parse_into_schools_and_census() {
        let csv = format!(
            "{OURS}120765,9261001,926,Norfolk,Emneth Nursery School,State-funded nursery,Local authority nursery school,LA Maintained,,75,68.5,0,0,E07000146,King's Lynn and West Norfolk,549711,306713,52.63753,0.21099\n121000,9264000,926,Norfolk,All Saints,State-funded secondary,Academy converter,Academy,Yes,1500,1500,z,x,,,,,,\n"
        );
        let p = parse(csv.as_bytes(), &opts()).unwrap();
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let r = &p.rows[0];
        assert_eq!(
            (r.line, r.la_code.get(), r.school.phase, r.school.governance),
            (2, 926, Phase::Nursery, Governance::LaMaintained)
        );
        let c = r.census.as_ref().unwrap();
        assert_eq!(
            (c.pupils, c.pupils_fte, c.fsm_count, c.fsm_pct),
            (75, Some(Tenths(685)), Some(0), Some(Tenths(0)))
        );
        assert_eq!(r.school.location.unwrap().easting, 549_711);
        let all = &p.rows[1];
        assert_eq!(
            (all.school.phase, all.school.governance),
            (Phase::AllThrough, Governance::Academy)
        );
        let c = all.census.as_ref().unwrap();
        assert_eq!(
            (c.fsm_count, c.fsm_pct),
            (None, None),
            "DfE symbols are unknown, never zero"
        );
        assert_eq!(all.school.location, None);
    }

    #[test]
    fn dfe_published_headers_and_time_period() {
        let csv = "time_period,time_identifier,geographic_level,old_la_code,new_la_code,la_name,urn,laestab,school_name,phase_type_grouping,typeofestablishment_name,academy_flag,headcount of pupils,fte pupils,number of pupils known to be eligible for free school meals,% of pupils known to be eligible for free school meals\n202223,Academic year,School,926,E10000020,Norfolk,120765,9261001,Emneth Nursery School,State-funded nursery,Local authority nursery school,LA maintained,75,68.5,0,0.0\n";
        let p = parse(csv.as_bytes(), &CensusOptions::default()).unwrap();
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(
            p.rows[0].census.as_ref().unwrap().census_date,
            NaiveDate::from_ymd_opt(2023, 1, 19).unwrap()
        );
        assert_eq!(
            census_day_of_time_period("202324"),
            NaiveDate::from_ymd_opt(2024, 1, 18)
        );
        assert_eq!(census_day_of_time_period("202325"), None);
    }

    #[test]
    fn every_bad_value_is_named() {
        let csv = format!(
            "{OURS}12076,9261001,926,Norfolk,A,State-funded primary,x,LA Maintained,,75,,,,,,,,,\n\
             120766,8011001,926,Norfolk,B,State-funded primary,x,LA Maintained,,-3,,,,,,,,,\n\
             120767,9261003,926,Norfolk,,Martian school,x,LA Maintained,,10,,11,120.5,,,900000,1,95,0\n\
             120768,9261004,926,Norfolk,D,State-funded primary,x,LA Maintained,,10,10.25,,,,,,,,\n\
             120768,9261004,926,Norfolk,D again,State-funded primary,x,LA Maintained,,10,,,,,,,,,\n\
             120769,9261005,926,Norfolk,E,State-funded primary,x,LA Maintained\n"
        );
        let p = parse(csv.as_bytes(), &opts()).unwrap();
        let got: Vec<(u64, &str)> = p.errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (2, "urn"),
                (3, "laestab"),
                (3, "pupils_headcount"),
                (4, "school_name"),
                (4, "phase_type_grouping"),
                (4, "fsm_eligible_pct"),
                (4, "fsm_eligible_count"),
                (4, "easting"),
                (4, "latitude"),
                (5, "pupils_fte"),
                (7, "academy_flag"),
            ]
        );
        assert_eq!(p.rows.len(), 1, "only line 6 is good");
        assert!(p.errors.iter().all(|e| !e.rule.is_empty()));
        assert_eq!(p.rows_read, 6);
    }

    #[test]
    fn degrees_read_exactly_as_the_standard_parser_reads_them() {
        for v in [
            "52.63753",
            "-0.21099",
            "0",
            "61",
            "1.5",
            "-9.000001",
            "52.",
            ".5",
            "-",
            "1e3",
            "12345678901234567",
            "0.1",
        ] {
            assert_eq!(decimal_degrees(v), v.parse::<f64>().ok(), "{v}");
        }
    }

    proptest::proptest! {
        #[test]
        fn degrees_match_the_standard_parser(whole in -90i32..90, frac in 0u64..10_000_000, places in 1usize..8) {
            let v = format!("{whole}.{frac:0places$}");
            proptest::prop_assert_eq!(decimal_degrees(&v), v.parse::<f64>().ok());
        }
    }

    #[test]
    fn whole_file_problems() {
        let missing = |m: &[&str]| FileError::MissingColumns {
            missing: m.iter().map(|s| s.to_string()).collect(),
        };
        // (file, expected refusal)
        let cases: Vec<(Vec<u8>, FileError)> = vec![
            (b"".to_vec(), FileError::Empty),
            (
                b"\n\r\n".to_vec(),
                FileError::Malformed {
                    line: 1,
                    message: "the file holds only blank lines: the first line must be the header naming the columns"
                        .into(),
                },
            ),
            (b"PK\x03\x04\x00\x00".to_vec(), FileError::Binary { offset: 4 }),
            (
                b"\xFF\xFEu\x00r\x00n\x00".to_vec(),
                FileError::Other("the file is UTF-16 text: save it as CSV in UTF-8 (Excel: \"CSV UTF-8\")".into()),
            ),
            (
                b"urn,school_name\n120765,Caf\xe9\n".to_vec(),
                FileError::Encoding {
                    expected: "UTF-8",
                    line: 2,
                },
            ),
            (
                b"urn,school_name\n1,2\n".to_vec(),
                missing(&["la_code", "phase_type_grouping", "pupils_headcount"]),
            ),
            (
                b"URN,School_Name,urn\n".to_vec(),
                FileError::DuplicateColumn { column: "urn".into() },
            ),
            (OURS.as_bytes().to_vec(), FileError::NoRows),
            (OURS.replace('\n', "\r\n").into_bytes(), FileError::NoRows),
            (
                OURS.replace('\n', "\r").into_bytes(),
                FileError::Malformed {
                    line: 1,
                    message: "lines end in a bare carriage return (old Mac style): save the file with CRLF or LF \
                              line ends"
                        .into(),
                },
            ),
            (
                format!("{OURS}120765,9261001,926,Norfolk,\"Emneth\r\nNursery,State-funded nursery\r\n").into_bytes(),
                FileError::Malformed {
                    line: 2,
                    message: "a quoted field opened on this line is never closed (a \" is missing), so the rest of \
                              the file would be one value"
                        .into(),
                },
            ),
        ];
        for (file, want) in cases {
            assert_eq!(parse(&file, &opts()), Err(want), "{:?}", String::from_utf8_lossy(&file));
        }
        assert_eq!(
            parse(OURS.as_bytes(), &CensusOptions::default()),
            Err(FileError::NoCensusDate)
        );
    }

    #[test]
    fn a_short_last_line_is_a_row_error_on_its_true_line() {
        let good = "120765,9261001,926,Norfolk,Emneth,State-funded nursery,x,LA Maintained,,75,,,,,,,,,";
        let file = format!("{OURS}{good}\r\n\r\n120766,9261002,926,Norf").replace('\n', "\r\n");
        let p = parse(file.replace("\r\r", "\r").as_bytes(), &opts()).unwrap();
        assert_eq!(p.rows.len(), 1);
        assert_eq!(
            (
                p.errors[0].line,
                p.errors[0].column.as_str(),
                p.errors[0].value.as_str()
            ),
            (4, "la_name", "Norf")
        );
        assert!(p.errors[0].rule.contains("cut short"), "{}", p.errors[0].rule);
    }

    #[test]
    fn time_period_comes_first_then_the_given_date() {
        let head = "time_period,urn,la_code,school_name,phase_type_grouping,pupils_headcount\n";
        let row = |tp: &str, urn: u32| format!("{tp},{urn},926,A School,State-funded primary,10\n");
        let file = format!(
            "{head}{}{}{}",
            row("202324", 120001),
            row("", 120002),
            row("2023", 120003)
        );
        let p = parse(file.as_bytes(), &opts()).unwrap();
        let dates: Vec<(u32, NaiveDate)> = p
            .rows
            .iter()
            .map(|r| (r.school.urn.get(), r.census.as_ref().unwrap().census_date))
            .collect();
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(dates, vec![(120001, day(2024, 1, 18)), (120002, day(2023, 1, 19))]);
        assert_eq!((p.errors[0].line, p.errors[0].column.as_str()), (4, "time_period"));
        // Without a date to fall back on, a row with no time_period says how to fix it.
        let p = parse(file.as_bytes(), &CensusOptions::default()).unwrap();
        assert!(p.errors[0].rule.contains("--census-date"));
    }

    /// About 3 MB of rows with quoted commas and line breaks, bad values and duplicate URNs,
    /// so that any split across threads cuts between interesting rows.
    fn big_file() -> String {
        let mut file = OURS.replace('\n', "\r\n");
        for i in 0..14_000u32 {
            let urn = 200_000 + i % 13_000;
            let name = match i % 5 {
                0 => format!("\"School {i}, \"\"North\"\"\r\nsite\""),
                _ => format!("School {i}"),
            };
            let pupils = if i % 997 == 5 {
                "many".to_string()
            } else {
                (100 + i % 300).to_string()
            };
            file.push_str(&format!(
                "{urn},926{:04},926,Norfolk,{name},State-funded primary,Community school,LA maintained,,{pupils},,10,,E07000148,\"Norwich, City\",620000,308000,52.6,1.3\r\n",
                i % 10_000
            ));
        }
        file
    }

    #[test]
    fn the_same_result_on_any_number_of_threads() {
        let file = big_file();
        let one = parse_on(file.as_bytes(), &opts(), 1).unwrap();
        assert_eq!(one.rows_read, 14_000);
        assert_eq!(one.rows.len() + one.errors.len(), 14_000);
        assert!(one.errors.iter().any(|e| e.rule == "duplicate URN, first on line 2"));
        for threads in [2, 3, 4, 7] {
            assert_eq!(
                parse_on(file.as_bytes(), &opts(), threads).unwrap(),
                one,
                "{threads} threads"
            );
        }
        // Physical lines: the header, then rows with a line break inside every fifth name.
        assert_eq!(one.rows[0].line, 2);
        assert_eq!(one.rows[1].line, 4);
    }

    #[test]
    fn a_file_with_every_row_twice_names_each_first_line() {
        let row = |urn: u32| format!("{urn},,926,Norfolk,School,State-funded primary,,,,10,,,,,,,,,\n");
        let rows: String = (0..3_000).map(|i| row(100_000 + i)).collect();
        let file = format!("{OURS}{rows}{rows}");
        let p = parse_on(file.as_bytes(), &opts(), 2).unwrap();
        assert_eq!((p.rows.len(), p.errors.len()), (3_000, 3_000));
        for (k, e) in p.errors.iter().enumerate() {
            assert_eq!(
                (e.line, e.rule.clone()),
                (3_002 + k as u64, format!("duplicate URN, first on line {}", k + 2))
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = parse(&bytes, &opts());
        }

        #[test]
        fn never_panics_on_any_rows(body in "[0-9a-zA-Z,.\"\r\n é-]{0,400}") {
            let _ = parse(format!("{OURS}{body}").as_bytes(), &opts());
            let _ = parse(format!("{OURS}{body}").as_bytes(), &CensusOptions::default());
        }
    }
}

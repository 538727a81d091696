//! Metrics: measures (configurable), exact values with the DfE's symbols kept as symbols, and the
//! parser for the tidy metrics CSV `time_period,school_urn,measure,group,value`.
//!
//! What the parser accepts (docs/EVALUATION.md says the same):
//! - UTF-8 (a BOM is fine), LF or CRLF, a header row naming the columns in any order; other
//!   columns are ignored. `school_urn` may be written `urn`, `group` may be `breakdown`.
//! - `time_period`: an academic year as the DfE writes it, `202223` for 2022/23 (`2022/23` too).
//! - `school_urn`: six digits. An optional `geographic_level` column may say `National` (then
//!   `school_urn` is left empty: a national figure for the gap analysis) or `School` (the default).
//! - `measure`: a code from the catalogue; an unknown code is an error naming the allowed ones,
//!   unless the catalogue accepts new codes.
//! - `group`: all (or total), fsm, non_fsm, boys, girls, more_able, sen, eal.
//! - `value`: a number with at most 4 decimal places, within the measure's unit (a percentage is
//!   0–100, a count a whole number, an ordinal scale within its points), or one of the DfE symbols
//!   `c` (suppressed), `x` (not available), `z` (not applicable), `low` (rounds to zero but is not
//!   zero). A blank value is an error: a symbol says why a value is missing, a blank does not.
//! - The same (time_period, school_urn, measure, group) twice is an error naming the first line.

use super::{AcademicYear, PupilGroup};
use crate::ids::Urn;
use crate::import::csv_text::{Records, RowCheck, resolve, utf8_text};
use crate::import::{FileError, Parsed, RowError};
use std::collections::HashMap;
use std::fmt;

/// What a measure's numbers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// 0 to 100; differences are "percentage points".
    Percent,
    /// A score such as Attainment 8 (0 or more).
    Score,
    /// A rate per 100 pupils (0 or more).
    RatePer100,
    /// A count of pupils (whole numbers): published through the suppression rule.
    Count,
    /// A soft measure on an ordinal scale from `min` to `max` points.
    Ordinal { min: u8, max: u8 },
}

impl Unit {
    pub fn code(self) -> String {
        match self {
            Unit::Percent => "percent".into(),
            Unit::Score => "score".into(),
            Unit::RatePer100 => "rate_per_100".into(),
            Unit::Count => "count".into(),
            Unit::Ordinal { min, max } => format!("ordinal_{min}_{max}"),
        }
    }
    pub fn parse(s: &str) -> Option<Unit> {
        match s {
            "percent" => Some(Unit::Percent),
            "score" => Some(Unit::Score),
            "rate_per_100" => Some(Unit::RatePer100),
            "count" => Some(Unit::Count),
            _ => {
                let rest = s.strip_prefix("ordinal_")?;
                let (a, b) = rest.split_once('_')?;
                let (min, max) = (a.parse().ok()?, b.parse().ok()?);
                (min < max).then_some(Unit::Ordinal { min, max })
            }
        }
    }
    /// How a difference of this unit is said: "points", "per 100 pupils", "pupils".
    pub fn difference_word(self) -> &'static str {
        match self {
            Unit::Percent => "percentage points",
            Unit::Score | Unit::Ordinal { .. } => "points",
            Unit::RatePer100 => "per 100 pupils",
            Unit::Count => "pupils",
        }
    }
    /// The short suffix for a value: "%", "", " per 100".
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Percent => "%",
            Unit::RatePer100 => " per 100",
            _ => "",
        }
    }
    pub fn label(self) -> String {
        match self {
            Unit::Percent => "percentage".into(),
            Unit::Score => "score".into(),
            Unit::RatePer100 => "rate per 100 pupils".into(),
            Unit::Count => "number of pupils".into(),
            Unit::Ordinal { min, max } => format!("scale of {min} to {max}"),
        }
    }
    /// Checks a value lies within the unit; the error is the rule.
    pub fn check(self, n: Number) -> Result<(), String> {
        let v = n.ten_thousandths();
        match self {
            Unit::Percent if !(0..=1_000_000).contains(&v) => Err("a percentage must be from 0 to 100".into()),
            Unit::Score | Unit::RatePer100 if v < 0 => Err("must be 0 or more".into()),
            Unit::Count if v < 0 || v % 10_000 != 0 => {
                Err("a count of pupils must be a whole number, 0 or more".into())
            }
            Unit::Ordinal { min, max } if v < i64::from(min) * 10_000 || v > i64::from(max) * 10_000 => {
                Err(format!("must be on the scale from {min} to {max}"))
            }
            _ => Ok(()),
        }
    }
    /// The largest value the unit allows, if it has one (targets are capped there).
    pub fn ceiling(self) -> Option<f64> {
        match self {
            Unit::Percent => Some(100.0),
            Unit::Ordinal { max, .. } => Some(f64::from(max)),
            _ => None,
        }
    }
    pub fn floor(self) -> f64 {
        match self {
            Unit::Ordinal { min, .. } => f64::from(min),
            _ => 0.0,
        }
    }
}

/// A measure in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureDef {
    pub code: String,
    pub label: String,
    pub unit: Unit,
    /// False for absence, exclusions: a fall is an improvement.
    pub higher_is_better: bool,
}

impl MeasureDef {
    fn new(code: &str, label: &str, unit: Unit, higher_is_better: bool) -> MeasureDef {
        MeasureDef {
            code: code.into(),
            label: label.into(),
            unit,
            higher_is_better,
        }
    }
    /// A measure code first met in an import, accepted because the catalogue allows new codes.
    pub fn unknown(code: &str) -> MeasureDef {
        MeasureDef::new(code, code, Unit::Score, true)
    }
}

/// The measures every authority starts with.
pub fn default_measures() -> Vec<MeasureDef> {
    vec![
        MeasureDef::new(
            "ks2_rwm_expected",
            "KS2: % at the expected standard in reading, writing and maths",
            Unit::Percent,
            true,
        ),
        MeasureDef::new("ks4_attainment8", "KS4: Attainment 8 average score", Unit::Score, true),
        MeasureDef::new(
            "ks4_basics_4plus",
            "KS4: % grade 4 or above in English and maths",
            Unit::Percent,
            true,
        ),
        MeasureDef::new(
            "ks4_5ac_legacy",
            "KS4 (legacy): % with 5 or more GCSEs at A*–C",
            Unit::Percent,
            true,
        ),
        MeasureDef::new("attendance", "Attendance: % of sessions attended", Unit::Percent, true),
        MeasureDef::new(
            "persistent_absence",
            "Persistent absence: % of pupils missing 10% or more of sessions",
            Unit::Percent,
            false,
        ),
        MeasureDef::new(
            "suspension_rate",
            "Suspensions (fixed-term exclusions) per 100 pupils",
            Unit::RatePer100,
            false,
        ),
        MeasureDef::new(
            "permanent_exclusions",
            "Permanent exclusions (number of pupils)",
            Unit::Count,
            false,
        ),
        MeasureDef::new(
            "wellbeing",
            "Pupil wellbeing survey (1 to 5)",
            Unit::Ordinal { min: 1, max: 5 },
            true,
        ),
    ]
}

/// The measures an import may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    pub measures: Vec<MeasureDef>,
    /// Accept codes not in the list (each becomes a new measure scored "higher is better").
    pub accept_unknown: bool,
}

impl Catalogue {
    pub fn new(measures: Vec<MeasureDef>) -> Catalogue {
        Catalogue {
            measures,
            accept_unknown: false,
        }
    }
    pub fn get(&self, code: &str) -> Option<&MeasureDef> {
        self.measures.iter().find(|m| m.code == code)
    }
    fn codes(&self) -> String {
        self.measures
            .iter()
            .map(|m| m.code.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A number held exactly in ten-thousandths (at most 4 decimal places), so a stored value is
/// the value that was imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Number(i64);

impl Number {
    pub const fn from_ten_thousandths(v: i64) -> Number {
        Number(v)
    }
    pub fn ten_thousandths(self) -> i64 {
        self.0
    }
    /// The nearest number to a statistic (targets proposed from a trend).
    pub fn from_f64(x: f64) -> Option<Number> {
        let v = (x * 10_000.0).round();
        (v.is_finite() && v.abs() < 1e15).then_some(Number(v as i64))
    }
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 10_000.0
    }
    /// `12`, `12.5`, `-0.25`, `.5`: at most 4 decimal places; no exponents, no thousands separators.
    pub fn parse(s: &str) -> Result<Number, &'static str> {
        const RULE: &str = "must be a number with at most 4 decimal places, or a DfE symbol: c, x, z or low";
        let s = s.trim();
        let (negative, t) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
        if (whole.is_empty() && frac.is_empty())
            || whole.len() > 10
            || frac.len() > 4
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(RULE);
        }
        let w: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| RULE)?
        };
        let f: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<4}").parse().map_err(|_| RULE)?
        };
        let v = w * 10_000 + f;
        Ok(Number(if negative { -v } else { v }))
    }
}

impl fmt::Display for Number {
    /// Plain decimal without trailing zeros: `12`, `12.5`, `−0.25`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "\u{2212}" } else { "" };
        let a = self.0.unsigned_abs();
        let (whole, frac) = (a / 10_000, a % 10_000);
        if frac == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let frac = format!("{frac:04}");
            write!(f, "{sign}{whole}.{}", frac.trim_end_matches('0'))
        }
    }
}

/// One observation: a number, or the DfE's reason there is none. Symbols are never numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Observation {
    Value(Number),
    /// `c`: suppressed to protect confidentiality.
    Suppressed,
    /// `x`: not available.
    NotAvailable,
    /// `z`: not applicable.
    NotApplicable,
    /// `low`: rounds to zero, but is not zero.
    Low,
}

impl Observation {
    pub fn symbol(self) -> Option<&'static str> {
        match self {
            Observation::Value(_) => None,
            Observation::Suppressed => Some("c"),
            Observation::NotAvailable => Some("x"),
            Observation::NotApplicable => Some("z"),
            Observation::Low => Some("low"),
        }
    }
    pub fn from_symbol(s: &str) -> Option<Observation> {
        match s.trim() {
            s if s.eq_ignore_ascii_case("c") => Some(Observation::Suppressed),
            s if s.eq_ignore_ascii_case("x") => Some(Observation::NotAvailable),
            s if s.eq_ignore_ascii_case("z") => Some(Observation::NotApplicable),
            s if s.eq_ignore_ascii_case("low") => Some(Observation::Low),
            _ => None,
        }
    }
    pub fn number(self) -> Option<Number> {
        match self {
            Observation::Value(n) => Some(n),
            _ => None,
        }
    }
    pub fn meaning(self) -> &'static str {
        match self {
            Observation::Value(_) => "a value",
            Observation::Suppressed => "suppressed to protect confidentiality",
            Observation::NotAvailable => "not available",
            Observation::NotApplicable => "not applicable",
            Observation::Low => "rounds to zero, but is not zero",
        }
    }
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observation::Value(n) => write!(f, "{n}"),
            other => f.write_str(other.symbol().unwrap_or("x")),
        }
    }
}

/// Where a figure is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    School(Urn),
    /// England's national figure (for the gap to national).
    National,
}

/// One row of the metrics file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricRecord {
    pub line: u64,
    pub period: AcademicYear,
    pub place: Place,
    pub measure: String,
    pub group: PupilGroup,
    pub value: Observation,
}

/// A measure code: lower-case letters, digits and underscores, 1 to 60 of them.
fn valid_code(s: &str) -> bool {
    (1..=60).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.as_bytes()[0].is_ascii_lowercase()
}

/// Parses a tidy metrics file. File-level problems are `Err`; every bad row is in `errors`.
pub fn parse(bytes: &[u8], catalogue: &Catalogue) -> Result<Parsed<MetricRecord>, FileError> {
    let text = utf8_text(bytes)?;
    let (mut records, header) = Records::new(text)?;
    let (req, opt) = resolve(
        &header,
        &[
            &["time_period"],
            &["school_urn", "urn"],
            &["measure"],
            &["group", "breakdown"],
            &["value"],
        ],
        &[&["geographic_level"]],
    )?;
    let (period_col, urn_col, measure_col, group_col, value_col) = (&req[0], &req[1], &req[2], &req[3], &req[4]);
    let level_col = &opt[0];
    let groups = PupilGroup::ALL.map(PupilGroup::code).join(", ");
    let mut parsed = Parsed::default();
    parsed.rows.reserve(records.lines_hint());
    // Measures interned to small numbers, so the duplicate check allocates nothing per row.
    let mut measure_ids: HashMap<String, u32> = HashMap::new();
    let hint = records.lines_hint();
    let mut first_seen: HashMap<(AcademicYear, Place, u32, PupilGroup), u64> = HashMap::with_capacity(hint);
    while let Some((line, record)) = records.next_record()? {
        parsed.rows_read += 1;
        let mut row = RowCheck::new(line, record);
        if !row.has_all_fields(&header.names) {
            parsed.errors.append(&mut row.errors);
            continue;
        }
        let raw_period = row.raw(period_col);
        let period = match AcademicYear::parse(raw_period) {
            Ok(p) => Some(p),
            Err(e) => {
                row.fail(period_col, raw_period, e.to_string());
                None
            }
        };
        let national = match row.opt(level_col) {
            None => Some(false),
            Some(l) if l.eq_ignore_ascii_case("school") => Some(false),
            Some(l) if l.eq_ignore_ascii_case("national") => Some(true),
            Some(l) => {
                if let Some(c) = level_col {
                    row.fail(
                        c,
                        l,
                        "must be School or National (this file holds school and national figures only)",
                    );
                }
                None
            }
        };
        let raw_urn = row.raw(urn_col);
        let place = if national.is_none() {
            None
        } else if national == Some(true) {
            if raw_urn.is_empty() {
                Some(Place::National)
            } else {
                row.fail(urn_col, raw_urn, "a National row has no school_urn: leave it empty");
                None
            }
        } else {
            match Urn::parse(raw_urn) {
                Ok(u) => Some(Place::School(u)),
                Err(e) => {
                    row.fail(urn_col, raw_urn, e.to_string());
                    None
                }
            }
        };
        let raw_measure = row.raw(measure_col);
        let measure = match catalogue.get(raw_measure) {
            Some(m) => Some(m),
            None if catalogue.accept_unknown && valid_code(raw_measure) => None,
            None if catalogue.accept_unknown => {
                row.fail(
                    measure_col,
                    raw_measure,
                    "a new measure code is lower-case letters, digits and underscores (at most 60), starting with a letter",
                );
                None
            }
            None => {
                row.fail(
                    measure_col,
                    raw_measure,
                    format!("unknown measure: must be one of {}", catalogue.codes()),
                );
                None
            }
        };
        let measure_ok = measure.is_some() || (catalogue.accept_unknown && valid_code(raw_measure));
        let raw_group = row.raw(group_col);
        let group = PupilGroup::parse(raw_group);
        if group.is_none() {
            row.fail(group_col, raw_group, format!("must be one of {groups}"));
        }
        let raw_value = row.raw(value_col);
        let value = if raw_value.is_empty() {
            row.fail(
                value_col,
                raw_value,
                "a value is required: a number, or a DfE symbol saying why there is none (c, x, z, low)",
            );
            None
        } else if let Some(symbol) = Observation::from_symbol(raw_value) {
            Some(symbol)
        } else {
            match Number::parse(raw_value) {
                Ok(n) => {
                    let unit_check = measure.map_or(Ok(()), |m| m.unit.check(n));
                    match unit_check {
                        Ok(()) => Some(Observation::Value(n)),
                        Err(rule) => {
                            let label = measure.map_or("", |m| m.code.as_str());
                            row.fail(value_col, raw_value, format!("{rule} ({label})"));
                            None
                        }
                    }
                }
                Err(rule) => {
                    row.fail(value_col, raw_value, rule);
                    None
                }
            }
        };
        if let (Some(period), Some(place), Some(group), true) = (period, place, group, measure_ok) {
            let next = u32::try_from(measure_ids.len()).unwrap_or(u32::MAX);
            let id = match measure_ids.get(raw_measure) {
                Some(&id) => id,
                None => {
                    measure_ids.insert(raw_measure.to_string(), next);
                    next
                }
            };
            let key = (period, place, id, group);
            if let Some(first) = first_seen.get(&key) {
                row.errors.push(RowError {
                    line,
                    column: urn_col.name.clone(),
                    value: raw_urn.to_string(),
                    rule: format!("duplicate: the same time_period, school_urn, measure and group as line {first}"),
                });
            } else if row.errors.is_empty() {
                first_seen.insert(key, line);
            }
        }
        match (period, place, group, value, measure_ok, row.errors.is_empty()) {
            (Some(period), Some(place), Some(group), Some(value), true, true) => parsed.rows.push(MetricRecord {
                line,
                period,
                place,
                measure: raw_measure.to_string(),
                group,
                value,
            }),
            _ => parsed.errors.append(&mut row.errors),
        }
    }
    if parsed.rows_read == 0 {
        return Err(FileError::NoRows);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat() -> Catalogue {
        Catalogue::new(default_measures())
    }

    #[test]
    fn symbols_stay_symbols_and_values_are_exact() {
        let csv = "time_period,school_urn,measure,group,value\r\n\
                   202223,120001,ks2_rwm_expected,all,61.5\r\n\
                   202223,120001,ks2_rwm_expected,fsm,c\r\n\
                   202223,120001,ks2_rwm_expected,boys,x\r\n\
                   202223,120001,ks2_rwm_expected,girls,z\r\n\
                   202223,120001,permanent_exclusions,all,low\r\n\
                   2022/23,120002,ks4_attainment8,Total,46.2345\r\n";
        let p = parse(csv.as_bytes(), &cat()).unwrap();
        assert_eq!(p.errors, vec![]);
        let values: Vec<String> = p.rows.iter().map(|r| r.value.to_string()).collect();
        assert_eq!(values, vec!["61.5", "c", "x", "z", "low", "46.2345"]);
        assert_eq!(
            p.rows[0].value,
            Observation::Value(Number::from_ten_thousandths(615_000))
        );
        assert!(p.rows[1..5].iter().all(|r| r.value.number().is_none()), "never zeros");
        assert_eq!(p.rows[5].group, PupilGroup::All);
        assert_eq!(
            p.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![2, 3, 4, 5, 6, 7]
        );
    }

    #[test]
    fn every_bad_row_is_named_with_its_field() {
        // (row after the header, expected column in error, a word of the rule)
        let cases: &[(&str, &str, &str)] = &[
            ("2022,120001,attendance,all,95", "time_period", "six digits"),
            ("202224,120001,attendance,all,95", "time_period", "follow each other"),
            ("202223,12000,attendance,all,95", "school_urn", "6 digits"),
            (
                "202223,120001,happiness,all,95",
                "measure",
                "ks2_rwm_expected, ks4_attainment8",
            ),
            ("202223,120001,attendance,everyone,95", "group", "non_fsm"),
            ("202223,120001,attendance,all,", "value", "DfE symbol"),
            ("202223,120001,attendance,all,101", "value", "0 to 100"),
            ("202223,120001,attendance,all,95.12345", "value", "4 decimal places"),
            ("202223,120001,attendance,all,1e2", "value", "4 decimal places"),
            ("202223,120001,permanent_exclusions,all,1.5", "value", "whole number"),
            ("202223,120001,wellbeing,all,6", "value", "1 to 5"),
            ("202223,120001,attendance,all,:", "value", "c, x, z or low"),
        ];
        for (row, column, rule) in cases {
            let csv = format!("time_period,school_urn,measure,group,value\n{row}\n");
            let p = parse(csv.as_bytes(), &cat()).unwrap();
            assert_eq!(p.rows.len(), 0, "{row}");
            assert_eq!(p.errors.len(), 1, "{row}: {:?}", p.errors);
            assert_eq!((p.errors[0].line, p.errors[0].column.as_str()), (2, *column), "{row}");
            assert!(p.errors[0].rule.contains(rule), "{row}: {}", p.errors[0].rule);
        }
    }

    #[test]
    fn duplicates_name_the_first_line_and_quoted_lines_count_physically() {
        let csv = "measure,value,group,school_urn,time_period,notes\n\
                   attendance,95,all,120001,202223,\"two\nlines\"\n\
                   attendance,94,fsm,120001,202223,\n\
                   attendance,93,all,120001,202223,\n";
        let p = parse(csv.as_bytes(), &cat()).unwrap();
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].line, 5);
        assert!(p.errors[0].rule.contains("as line 2"), "{}", p.errors[0].rule);
    }

    #[test]
    fn national_rows_and_new_measures_when_configured() {
        let csv = "time_period,geographic_level,school_urn,measure,group,value\n\
                   202223,National,,ks2_rwm_expected,all,59\n\
                   202223,School,120001,reading_age_gain,all,1.2\n\
                   202223,National,120001,ks2_rwm_expected,all,59\n\
                   202223,Regional,,ks2_rwm_expected,all,59\n";
        let p = parse(csv.as_bytes(), &cat()).unwrap();
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows[0].place, Place::National);
        let cols: Vec<&str> = p.errors.iter().map(|e| e.column.as_str()).collect();
        assert_eq!(cols, vec!["measure", "school_urn", "geographic_level"]);
        let open = Catalogue {
            accept_unknown: true,
            ..cat()
        };
        let p = parse(csv.as_bytes(), &open).unwrap();
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[1].measure, "reading_age_gain");
        let p = parse(
            b"time_period,school_urn,measure,group,value\n202223,120001,Bad Code,all,1\n",
            &open,
        )
        .unwrap();
        assert!(p.errors[0].rule.contains("lower-case"));
    }

    #[test]
    fn files_that_are_not_metrics_files() {
        assert_eq!(parse(b"", &cat()), Err(FileError::Empty));
        assert_eq!(
            parse(b"time_period,urn,measure,value\n202223,120001,attendance,9\n", &cat()),
            Err(FileError::MissingColumns {
                missing: vec!["group".into()]
            })
        );
        assert_eq!(
            parse(b"time_period,school_urn,measure,group,value\n", &cat()),
            Err(FileError::NoRows)
        );
        let p = parse(
            b"time_period,school_urn,measure,group,value\n202223,120001,attendance",
            &cat(),
        )
        .unwrap();
        assert_eq!((p.errors[0].line, p.errors[0].column.as_str()), (2, "measure"));
    }

    #[test]
    fn numbers_parse_and_print_exactly() {
        let cases = [
            ("12", Some(120_000)),
            ("12.5", Some(125_000)),
            ("-0.25", Some(-2_500)),
            (".5", Some(5_000)),
            ("+3", Some(30_000)),
            ("1.23456", None),
            ("1,000", None),
            ("", None),
            (".", None),
            ("NaN", None),
        ];
        for (s, want) in cases {
            assert_eq!(Number::parse(s).ok().map(Number::ten_thousandths), want, "{s}");
        }
        assert_eq!(Number::from_ten_thousandths(125_000).to_string(), "12.5");
        assert_eq!(Number::from_ten_thousandths(-2_500).to_string(), "\u{2212}0.25");
        assert_eq!(Number::from_f64(7.84999).map(Number::ten_thousandths), Some(78_500));
        for u in [
            Unit::Percent,
            Unit::Score,
            Unit::RatePer100,
            Unit::Count,
            Unit::Ordinal { min: 1, max: 5 },
        ] {
            assert_eq!(Unit::parse(&u.code()), Some(u));
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse(&bytes, &cat());
            let mut file = b"time_period,school_urn,measure,group,value\n".to_vec();
            file.extend(bytes);
            let _ = parse(&file, &cat());
        }
    }
}

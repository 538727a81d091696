//! Plans, monitoring and evaluation: improvement plans with targets, metric time series per
//! school and pupil group, the analysis that FADE reports are pre-filled with (gaps,
//! difference-in-differences with a bootstrap interval, representation), judgements on an
//! ordinal scale with their agreement, and the inspection-criteria questionnaires.
//!
//! Pure like the rest of the domain: results arrive as data, today's date and random seeds as
//! arguments. Floats are used for statistics (means, gaps, kappa), never for money: budgets are
//! [`crate::money::Money`]. Metric values are stored exactly, in ten-thousandths
//! ([`metrics::Number`]), and DfE symbols (`c`, `x`, `z`, `low`) stay symbols — never zeros.
//!
//! Who may do what is [`access`]: the cluster's clerk edits the plan and the cluster's FADE
//! judgement, authority officers and advisers record the authority's judgement, headteachers
//! answer questionnaires for their own school, evaluators read aggregates only.

pub mod access;
pub mod analysis;
pub mod fade;
pub mod kappa;
pub mod metrics;
pub mod plan;
pub mod publish;
pub mod questionnaire;
pub mod summary;
pub mod targets;

use chrono::{Datelike, NaiveDate};
use std::fmt;

/// The pupils a figure is about. `All` is every pupil; the others are the groups the sector
/// reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PupilGroup {
    All,
    Fsm,
    NonFsm,
    Boys,
    Girls,
    MoreAble,
    Sen,
    Eal,
}

impl PupilGroup {
    pub const ALL: [PupilGroup; 8] = [
        PupilGroup::All,
        PupilGroup::Fsm,
        PupilGroup::NonFsm,
        PupilGroup::Boys,
        PupilGroup::Girls,
        PupilGroup::MoreAble,
        PupilGroup::Sen,
        PupilGroup::Eal,
    ];
    pub fn code(self) -> &'static str {
        match self {
            PupilGroup::All => "all",
            PupilGroup::Fsm => "fsm",
            PupilGroup::NonFsm => "non_fsm",
            PupilGroup::Boys => "boys",
            PupilGroup::Girls => "girls",
            PupilGroup::MoreAble => "more_able",
            PupilGroup::Sen => "sen",
            PupilGroup::Eal => "eal",
        }
    }
    /// The code, case-insensitively; `total` is read as `all` (the EES files' word).
    pub fn parse(s: &str) -> Option<PupilGroup> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("total") {
            return Some(PupilGroup::All);
        }
        PupilGroup::ALL.into_iter().find(|g| g.code().eq_ignore_ascii_case(s))
    }
    pub fn label(self) -> &'static str {
        match self {
            PupilGroup::All => "All pupils",
            PupilGroup::Fsm => "Pupils eligible for free school meals",
            PupilGroup::NonFsm => "Pupils not eligible for free school meals",
            PupilGroup::Boys => "Boys",
            PupilGroup::Girls => "Girls",
            PupilGroup::MoreAble => "More-able pupils",
            PupilGroup::Sen => "Pupils with special educational needs",
            PupilGroup::Eal => "Pupils with English as an additional language",
        }
    }
    pub fn short_label(self) -> &'static str {
        match self {
            PupilGroup::All => "all",
            PupilGroup::Fsm => "FSM",
            PupilGroup::NonFsm => "non-FSM",
            PupilGroup::Boys => "boys",
            PupilGroup::Girls => "girls",
            PupilGroup::MoreAble => "more-able",
            PupilGroup::Sen => "SEN",
            PupilGroup::Eal => "EAL",
        }
    }
}

/// An academic year, 1 September to 31 August, as the DfE writes `time_period`: `202223` is
/// 2022/23. Held as its first calendar year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AcademicYear(u16);

/// Why a `time_period` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YearError {
    #[error(
        "must be an academic year written as the DfE writes it: six digits like 202223 for 2022/23 (2022/23 is accepted too)"
    )]
    Format,
    #[error("the two years must follow each other: {0} is not a year and the next (202223 is 2022/23)")]
    NotConsecutive(String),
    #[error("must be a year from 1990/91 to 2099/00")]
    OutOfRange,
}

impl AcademicYear {
    pub const FIRST: u16 = 1990;
    pub const LAST: u16 = 2099;

    pub fn starting(year: u16) -> Result<AcademicYear, YearError> {
        if (Self::FIRST..=Self::LAST).contains(&year) {
            Ok(AcademicYear(year))
        } else {
            Err(YearError::OutOfRange)
        }
    }
    /// Accepts `202223` (the DfE form) and `2022/23` or `2022-23`.
    pub fn parse(s: &str) -> Result<AcademicYear, YearError> {
        let s = s.trim();
        let digits: String = match s.as_bytes().get(4) {
            Some(b'/' | b'-') if s.len() == 7 => format!("{}{}", &s[..4], &s[5..]),
            _ => s.to_string(),
        };
        if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(YearError::Format);
        }
        let start: u16 = digits[..4].parse().map_err(|_| YearError::Format)?;
        let end: u16 = digits[4..].parse().map_err(|_| YearError::Format)?;
        if (start + 1) % 100 != end {
            return Err(YearError::NotConsecutive(s.to_string()));
        }
        AcademicYear::starting(start)
    }
    /// The academic year a day falls in.
    pub fn containing(day: NaiveDate) -> AcademicYear {
        let y = day.year();
        let start = if day.month() >= 9 { y } else { y - 1 };
        AcademicYear(u16::try_from(start.clamp(i32::from(Self::FIRST), i32::from(Self::LAST))).unwrap_or(Self::FIRST))
    }
    pub fn start_year(self) -> u16 {
        self.0
    }
    /// `202223`.
    pub fn code(self) -> u32 {
        u32::from(self.0) * 100 + u32::from((self.0 + 1) % 100)
    }
    pub fn from_code(code: u32) -> Option<AcademicYear> {
        AcademicYear::parse(&code.to_string()).ok()
    }
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(i32::from(self.0), 9, 1).unwrap_or_default()
    }
    pub fn last_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(i32::from(self.0) + 1, 8, 31).unwrap_or_default()
    }
    pub fn next(self) -> AcademicYear {
        AcademicYear((self.0 + 1).min(Self::LAST))
    }
    pub fn previous(self) -> AcademicYear {
        AcademicYear(self.0.saturating_sub(1).max(Self::FIRST))
    }
    /// Years from `self` to `later` (negative when `later` is earlier).
    pub fn years_until(self, later: AcademicYear) -> i32 {
        i32::from(later.0) - i32::from(self.0)
    }
}

impl fmt::Display for AcademicYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:02}", self.0, (self.0 + 1) % 100)
    }
}

/// Rounds a statistic to one decimal place for display ("7.8"), with "−" for negatives.
pub fn one_decimal(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    let r = if r == 0.0 { 0.0 } else { r };
    let s = format!("{r:.1}");
    match s.strip_prefix('-') {
        Some(rest) => format!("\u{2212}{rest}"),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_as_the_dfe_writes_them() {
        let cases: &[(&str, Result<u32, ()>)] = &[
            ("202223", Ok(202223)),
            ("2022/23", Ok(202223)),
            ("2022-23", Ok(202223)),
            (" 199900 ", Ok(199900)),
            ("202224", Err(())),
            ("2022", Err(())),
            ("22/23", Err(())),
            ("abcdef", Err(())),
            ("198990", Err(())),
        ];
        for (s, want) in cases {
            assert_eq!(AcademicYear::parse(s).map(|y| y.code()).map_err(|_| ()), *want, "{s}");
        }
        let y = AcademicYear::parse("202223").unwrap();
        assert_eq!(y.to_string(), "2022/23");
        assert_eq!(y.first_day().to_string(), "2022-09-01");
        assert_eq!(y.last_day().to_string(), "2023-08-31");
        assert_eq!(
            AcademicYear::containing(NaiveDate::from_ymd_opt(2023, 8, 31).unwrap()),
            y
        );
        assert_eq!(
            AcademicYear::containing(NaiveDate::from_ymd_opt(2023, 9, 1).unwrap()),
            y.next()
        );
        assert_eq!(AcademicYear::from_code(202223), Some(y));
    }

    #[test]
    fn groups_and_decimals() {
        for g in PupilGroup::ALL {
            assert_eq!(PupilGroup::parse(g.code()), Some(g));
        }
        assert_eq!(PupilGroup::parse("Total"), Some(PupilGroup::All));
        assert_eq!(PupilGroup::parse("FSM"), Some(PupilGroup::Fsm));
        assert_eq!(one_decimal(7.849), "7.8");
        assert_eq!(one_decimal(-0.04), "0.0");
        assert_eq!(one_decimal(-2.35), "\u{2212}2.4");
    }
}

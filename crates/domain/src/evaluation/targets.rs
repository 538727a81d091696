//! Targets: what a plan commits to, the helper that proposes one from prior attainment and
//! trend (with the weak "last year + 1 point" figure beside it, labelled as such), and the RAG
//! status from the latest data.
//!
//! The helper: take the last result (prior attainment) and the least-squares trend over the last
//! three years with a value; project it to the target year; never propose less than the last
//! result (a plan does not target decline) and keep within the unit (0–100 for a percentage).
//! With one year of data there is no trend and the proposal is the last result held.
//!
//! RAG rules, in this order:
//! 1. No value after the baseline year: **no data yet**.
//! 2. The latest value meets or beats the target: **green** (met).
//! 3. The target year has passed without meeting it: **red**.
//! 4. Progress from the baseline is at least what a straight line from baseline to target
//!    expects by the latest year: **green** (on track); at least half of it: **amber**; less, or
//!    a move the wrong way: **red**.

use super::metrics::{Number, Unit};
use super::{AcademicYear, PupilGroup, one_decimal};
use crate::ids::Urn;

/// Whether a target is for one school or the whole cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetLevel {
    Cluster,
    School(Urn),
}

/// A target in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub measure: String,
    pub group: PupilGroup,
    pub level: TargetLevel,
    pub baseline: Number,
    pub baseline_year: AcademicYear,
    pub target: Number,
    /// The results of this academic year are the ones judged against the target.
    pub target_year: AcademicYear,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the target year must be after the baseline year")]
    YearOrder,
    #[error("the target must be above the baseline for a measure where higher is better")]
    NotAbove,
    #[error("the target must be below the baseline for a measure where lower is better")]
    NotBelow,
    #[error("{field}: {rule}")]
    OutOfUnit { field: &'static str, rule: String },
}

impl TargetError {
    /// The form field the error belongs to.
    pub fn field(&self) -> &'static str {
        match self {
            TargetError::YearOrder => "target_year",
            TargetError::NotAbove | TargetError::NotBelow => "target",
            TargetError::OutOfUnit { field, .. } => field,
        }
    }
}

/// Checks a target makes sense for its measure.
pub fn check_target(t: &Target, unit: Unit, higher_is_better: bool) -> Result<(), TargetError> {
    unit.check(t.baseline).map_err(|rule| TargetError::OutOfUnit {
        field: "baseline",
        rule,
    })?;
    unit.check(t.target)
        .map_err(|rule| TargetError::OutOfUnit { field: "target", rule })?;
    if t.target_year <= t.baseline_year {
        return Err(TargetError::YearOrder);
    }
    match (higher_is_better, t.target.cmp(&t.baseline)) {
        (true, std::cmp::Ordering::Greater) | (false, std::cmp::Ordering::Less) => Ok(()),
        (true, _) => Err(TargetError::NotAbove),
        (false, _) => Err(TargetError::NotBelow),
    }
}

/// What the helper proposes.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The last year with a value and the value (the baseline the target starts from).
    pub last: Option<(AcademicYear, f64)>,
    /// Change a year by least squares over the last (up to) three years with values.
    pub trend_per_year: Option<f64>,
    pub years_used: usize,
    /// The proposed target for the target year.
    pub proposed: Option<f64>,
    /// "Last year + 1 point" (− 1 where lower is better): shown beside it as the weak method.
    pub weak_plus_one: Option<f64>,
    /// How the proposal was reached, in a sentence or two.
    pub explanation: String,
}

/// The least-squares slope of (year, value) points.
fn slope(points: &[(AcademicYear, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let xs: Vec<f64> = points.iter().map(|(y, _)| f64::from(y.start_year())).collect();
    let mx = xs.iter().sum::<f64>() / n;
    let my = points.iter().map(|(_, v)| v).sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = xs.iter().zip(points).map(|(x, (_, v))| (x - mx) * (v - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Proposes a target for `target_year` from a yearly series (any order; symbols already left out).
pub fn propose(
    series: &[(AcademicYear, f64)],
    target_year: AcademicYear,
    unit: Unit,
    higher_is_better: bool,
) -> Proposal {
    let mut s: Vec<(AcademicYear, f64)> = series.to_vec();
    s.sort_by_key(|(y, _)| *y);
    s.dedup_by_key(|(y, _)| *y);
    let recent: Vec<(AcademicYear, f64)> = s.iter().rev().take(3).rev().copied().collect();
    let last = recent.last().copied();
    let words = unit.difference_word();
    let clamp = |x: f64| {
        let x = x.max(unit.floor());
        unit.ceiling().map_or(x, |c| x.min(c))
    };
    let Some((last_year, last_value)) = last else {
        return Proposal {
            last: None,
            trend_per_year: None,
            years_used: 0,
            proposed: None,
            weak_plus_one: None,
            explanation: "No results yet for this measure and group: import metrics first.".into(),
        };
    };
    let trend = slope(&recent);
    let years_ahead = f64::from(last_year.years_until(target_year).max(0));
    let projected = last_value + trend.unwrap_or(0.0) * years_ahead;
    let proposed = clamp(if higher_is_better {
        projected.max(last_value)
    } else {
        projected.min(last_value)
    });
    let weak = clamp(if higher_is_better {
        last_value + 1.0
    } else {
        last_value - 1.0
    });
    let explanation = match trend {
        Some(t) => format!(
            "From the {last_year} result of {} and its trend over {} years ({}{} {words} a year), projected to {target_year}{}.",
            one_decimal(last_value),
            recent.len(),
            if t > 0.0 { "+" } else { "" },
            one_decimal(t),
            if (proposed - projected).abs() > 1e-9 {
                ", never planning for a decline"
            } else {
                ""
            }
        ),
        None => format!(
            "Only one year of results ({last_year}: {}), so there is no trend yet: the proposal holds the last result.",
            one_decimal(last_value)
        ),
    };
    Proposal {
        last,
        trend_per_year: trend,
        years_used: recent.len(),
        proposed: Some(proposed),
        weak_plus_one: Some(weak),
        explanation,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rag {
    Red,
    Amber,
    Green,
    NoData,
}

impl Rag {
    pub fn label(self) -> &'static str {
        match self {
            Rag::Red => "Red",
            Rag::Amber => "Amber",
            Rag::Green => "Green",
            Rag::NoData => "No data yet",
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Rag::Red => "red",
            Rag::Amber => "amber",
            Rag::Green => "green",
            Rag::NoData => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RagStatus {
    pub rag: Rag,
    pub latest: Option<(AcademicYear, f64)>,
    pub reason: String,
}

/// The target's status from its series (symbols already left out).
pub fn rag(t: &Target, higher_is_better: bool, series: &[(AcademicYear, f64)]) -> RagStatus {
    let latest = series
        .iter()
        .filter(|(y, _)| *y > t.baseline_year)
        .max_by_key(|(y, _)| *y)
        .copied();
    let Some((year, value)) = latest else {
        return RagStatus {
            rag: Rag::NoData,
            latest: None,
            reason: format!("no results after the baseline year {}", t.baseline_year),
        };
    };
    let (base, goal) = (t.baseline.as_f64(), t.target.as_f64());
    let sign = if higher_is_better { 1.0 } else { -1.0 };
    let progress = (value - base) * sign;
    let needed = (goal - base) * sign;
    let (rag, reason) = if progress >= needed - 1e-9 {
        (Rag::Green, format!("target met in {year}"))
    } else if year >= t.target_year {
        (
            Rag::Red,
            format!("target year {} reached without meeting it", t.target_year),
        )
    } else {
        let span = f64::from(t.baseline_year.years_until(t.target_year));
        let done = f64::from(t.baseline_year.years_until(year));
        let expected = needed * (done / span);
        if progress >= expected - 1e-9 {
            (
                Rag::Green,
                format!("on track in {year}: at or ahead of a straight line to the target"),
            )
        } else if progress >= expected / 2.0 && progress > 0.0 {
            (
                Rag::Amber,
                format!("behind a straight line to the target in {year}, with at least half the progress expected"),
            )
        } else if progress <= 0.0 {
            (Rag::Red, format!("no progress from the baseline by {year}"))
        } else {
            (Rag::Red, format!("less than half the progress expected by {year}"))
        }
    };
    RagStatus {
        rag,
        latest: Some((year, value)),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: u16) -> AcademicYear {
        AcademicYear::starting(s).unwrap()
    }
    fn n(v: f64) -> Number {
        Number::from_f64(v).unwrap()
    }

    #[test]
    fn the_helper_uses_trend_and_shows_plus_one_beside_it() {
        // 60, 62, 64 over three years: +2 a year; two years ahead of 2022/23 is 68.
        let s = [(y(2020), 60.0), (y(2021), 62.0), (y(2022), 64.0), (y(2015), 10.0)];
        let p = propose(&s, y(2024), Unit::Percent, true);
        assert_eq!(p.years_used, 3);
        assert!((p.trend_per_year.unwrap() - 2.0).abs() < 1e-9);
        assert!((p.proposed.unwrap() - 68.0).abs() < 1e-9);
        assert!((p.weak_plus_one.unwrap() - 65.0).abs() < 1e-9);
        assert!(
            p.explanation.contains("+2.0 percentage points a year"),
            "{}",
            p.explanation
        );
        // Falling results: the proposal holds the last result rather than planning for decline.
        let falling = [(y(2020), 64.0), (y(2021), 62.0), (y(2022), 60.0)];
        let p = propose(&falling, y(2024), Unit::Percent, true);
        assert!((p.proposed.unwrap() - 60.0).abs() < 1e-9);
        assert!(p.explanation.contains("never planning for a decline"));
        // Absence falling is good: the trend is kept; "− 1" is the weak figure.
        let p = propose(&falling, y(2024), Unit::Percent, false);
        assert!((p.proposed.unwrap() - 56.0).abs() < 1e-9);
        assert!((p.weak_plus_one.unwrap() - 59.0).abs() < 1e-9);
        // Capped at 100 %, one year only, nothing at all.
        let p = propose(&[(y(2021), 97.0), (y(2022), 99.0)], y(2025), Unit::Percent, true);
        assert_eq!(p.proposed, Some(100.0));
        let p = propose(&[(y(2022), 40.0)], y(2024), Unit::Score, true);
        assert_eq!((p.proposed, p.trend_per_year), (Some(40.0), None));
        assert_eq!(propose(&[], y(2024), Unit::Score, true).proposed, None);
    }

    #[test]
    fn rag_rules_as_data() {
        let t = Target {
            measure: "ks2_rwm_expected".into(),
            group: PupilGroup::Fsm,
            level: TargetLevel::Cluster,
            baseline: n(50.0),
            baseline_year: y(2020),
            target: n(60.0),
            target_year: y(2024),
        };
        // Straight line: +2.5 a year. (series, expected RAG)
        let cases: &[(&[(u16, f64)], Rag)] = &[
            (&[(2020, 50.0)], Rag::NoData),
            (&[(2021, 52.5)], Rag::Green),
            (&[(2022, 61.0)], Rag::Green),
            (&[(2022, 53.0)], Rag::Amber),
            (&[(2022, 51.0)], Rag::Red),
            (&[(2022, 48.0)], Rag::Red),
            (&[(2024, 59.0)], Rag::Red),
            (&[(2021, 40.0), (2023, 57.5)], Rag::Green),
        ];
        for (series, want) in cases {
            let s: Vec<(AcademicYear, f64)> = series.iter().map(|(a, v)| (y(*a), *v)).collect();
            assert_eq!(rag(&t, true, &s).rag, *want, "{series:?}");
        }
        // Lower is better: persistent absence from 20 % to 15 %.
        let absence = Target {
            baseline: n(20.0),
            target: n(15.0),
            ..t.clone()
        };
        assert_eq!(rag(&absence, false, &[(y(2022), 17.0)]).rag, Rag::Green);
        assert_eq!(rag(&absence, false, &[(y(2022), 21.0)]).rag, Rag::Red);
        assert!(check_target(&absence, Unit::Percent, false).is_ok());
        assert_eq!(check_target(&absence, Unit::Percent, true), Err(TargetError::NotAbove));
        let bad = Target {
            target_year: y(2020),
            ..t.clone()
        };
        assert_eq!(check_target(&bad, Unit::Percent, true), Err(TargetError::YearOrder));
        let over = Target { target: n(101.0), ..t };
        assert_eq!(check_target(&over, Unit::Percent, true).unwrap_err().field(), "target");
    }
}

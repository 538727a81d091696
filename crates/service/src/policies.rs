//! Funding policies in the app: an authority's policies kept as numbered versions of their text
//! (the TOML of docs/POLICY.md; an edit adds a version, the old one stays), one version in force
//! per period, every cluster's allocation from the policy in force, scenarios compared with a
//! fairness summary, each school's statement, and the termly report to each governing body.
//!
//! Who may do what: authority officers edit policies and mark one in force; everyone signed in
//! reads policies; a cluster's allocation is read by the authority's people and the cluster's own
//! schools and clerk; a school's statement and report by the authority's people, the clerk of the
//! school's cluster and the school's own head, governors and staff; the clerk (or an officer)
//! writes the cluster's termly narrative.

use domain::NaiveDate;
use domain::funding::Period;
use domain::governance::health::{Season, Term};
use domain::ids::ClusterId;
use std::fmt;

/// A funding policy of an authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyId(pub i64);

/// One saved version of a policy's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyVersionId(pub i64);

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for PolicyVersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A version to save: the next of `policy`, or the first of a new policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPolicyVersion {
    pub policy: Option<PolicyId>,
    pub name: String,
    pub body: String,
    /// What changed, in the editor's words (may be empty).
    pub note: String,
    pub saved_by: String,
    /// Unix seconds.
    pub saved_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub id: PolicyVersionId,
    pub policy: PolicyId,
    /// 1, 2, 3 … within the policy.
    pub version: u32,
    pub body: String,
    pub note: String,
    pub saved_by: String,
    pub saved_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPolicy {
    pub id: PolicyId,
    pub name: String,
    /// Newest first; never empty.
    pub versions: Vec<PolicyVersion>,
}

impl StoredPolicy {
    pub fn latest(&self) -> Option<&PolicyVersion> {
        self.versions.first()
    }
}

/// The version in force for a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InForce {
    pub period: Period,
    pub version: PolicyVersionId,
    pub marked_by: String,
    pub marked_at: i64,
}

/// What a cluster's clerk writes for a term: what the money changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrative {
    pub cluster: ClusterId,
    pub term: Term,
    pub body: String,
    pub written_by: String,
    pub written_at: i64,
}

/// "academic-2026" or "financial-2026", as stored and in URLs.
pub fn period_code(p: Period) -> String {
    match p {
        Period::AcademicYear(y) => format!("academic-{y}"),
        Period::FinancialYear(y) => format!("financial-{y}"),
    }
}

pub fn parse_period_code(code: &str) -> Option<Period> {
    let (kind, year) = code.split_once('-')?;
    let year: u16 = year.parse().ok().filter(|y| (1990..=2200).contains(y))?;
    match kind {
        "academic" => Some(Period::AcademicYear(year)),
        "financial" => Some(Period::FinancialYear(year)),
        _ => None,
    }
}

/// The academic and the financial year that contain `day`, academic first.
pub fn periods_on(day: NaiveDate) -> [Period; 2] {
    use domain::Datelike;
    let (y, m) = (day.year(), day.month());
    let y16 = |y: i32| u16::try_from(y).unwrap_or(0);
    [
        Period::AcademicYear(y16(if m >= 9 { y } else { y - 1 })),
        Period::FinancialYear(y16(if m >= 4 { y } else { y - 1 })),
    ]
}

/// "2026-autumn", as stored and in URLs.
pub fn term_code(t: Term) -> String {
    let season = match t.season {
        Season::Autumn => "autumn",
        Season::Spring => "spring",
        Season::Summer => "summer",
    };
    format!("{}-{season}", t.academic_year)
}

pub fn parse_term_code(code: &str) -> Option<Term> {
    let (year, season) = code.split_once('-')?;
    let academic_year: i32 = year.parse().ok().filter(|y| (1990..=2200).contains(y))?;
    let season = match season {
        "autumn" => Season::Autumn,
        "spring" => Season::Spring,
        "summer" => Season::Summer,
        _ => return None,
    };
    Some(Term { academic_year, season })
}

#[cfg(test)]
mod code_tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for p in [Period::AcademicYear(2026), Period::FinancialYear(2025)] {
            assert_eq!(parse_period_code(&period_code(p)), Some(p));
        }
        assert_eq!(parse_period_code("academic-26"), None);
        assert_eq!(parse_period_code("calendar-2026"), None);
        let t = Term {
            academic_year: 2026,
            season: Season::Spring,
        };
        assert_eq!(term_code(t), "2026-spring");
        assert_eq!(parse_term_code("2026-spring"), Some(t));
        assert_eq!(parse_term_code("2026-winter"), None);
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(periods_on(d), [Period::AcademicYear(2026), Period::FinancialYear(2026)]);
        let d = NaiveDate::from_ymd_opt(2027, 2, 1).unwrap();
        assert_eq!(periods_on(d), [Period::AcademicYear(2026), Period::FinancialYear(2026)]);
        let d = NaiveDate::from_ymd_opt(2027, 5, 1).unwrap();
        assert_eq!(periods_on(d), [Period::AcademicYear(2026), Period::FinancialYear(2027)]);
    }
}

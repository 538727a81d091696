//! Gifted and talented registers: per school and year group, with identification evidence, a
//! reserve list, the target share (default 10 %: 7 % gifted, 3 % talented) and whether the pupil
//! and parents were told.

use super::{CaseworkError, GtEntryId, PupilId, YearGroup, check_text, field};
use crate::NaiveDate;
use crate::ids::Urn;

/// Gifted (academic subjects) or talented (arts, sport).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GtKind {
    Gifted,
    Talented,
}

impl GtKind {
    pub fn code(self) -> &'static str {
        match self {
            GtKind::Gifted => "gifted",
            GtKind::Talented => "talented",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        [GtKind::Gifted, GtKind::Talented]
            .into_iter()
            .find(|k| k.code() == s.trim())
    }
    pub fn label(self) -> &'static str {
        match self {
            GtKind::Gifted => "Gifted",
            GtKind::Talented => "Talented",
        }
    }
}

/// How a pupil was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Evidence {
    TestData,
    InternalAssessment,
    StaffNomination,
    NationalCriteria,
}

impl Evidence {
    pub const ALL: [Evidence; 4] = [
        Evidence::TestData,
        Evidence::InternalAssessment,
        Evidence::StaffNomination,
        Evidence::NationalCriteria,
    ];
    pub fn code(self) -> &'static str {
        match self {
            Evidence::TestData => "test",
            Evidence::InternalAssessment => "assessment",
            Evidence::StaffNomination => "nomination",
            Evidence::NationalCriteria => "national",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        Evidence::ALL.into_iter().find(|e| e.code() == s.trim())
    }
    pub fn label(self) -> &'static str {
        match self {
            Evidence::TestData => "Test data",
            Evidence::InternalAssessment => "Internal assessment",
            Evidence::StaffNomination => "Staff nomination",
            Evidence::NationalCriteria => "National criteria",
        }
    }
}

/// The register's target share of a year group, in tenths of a per cent (default 7.0 % gifted
/// and 3.0 % talented: 10 % in all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GtPolicy {
    pub gifted_tenths_pct: u32,
    pub talented_tenths_pct: u32,
}

impl Default for GtPolicy {
    fn default() -> Self {
        GtPolicy {
            gifted_tenths_pct: 70,
            talented_tenths_pct: 30,
        }
    }
}

impl GtPolicy {
    /// Target numbers for a cohort, each rounded half up: (gifted, talented).
    pub fn targets(&self, cohort: u32) -> (u32, u32) {
        let share = |t: u32| (u64::from(cohort) * u64::from(t) + 500) / 1000;
        (
            u32::try_from(share(self.gifted_tenths_pct)).unwrap_or(u32::MAX),
            u32::try_from(share(self.talented_tenths_pct)).unwrap_or(u32::MAX),
        )
    }
}

/// One pupil on (or in reserve for) a school's register for an academic year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GtEntry {
    pub id: GtEntryId,
    pub pupil: PupilId,
    pub school: Urn,
    /// The academic year's starting calendar year (2024 for 2024/25).
    pub academic_year: i32,
    pub year_group: YearGroup,
    pub kind: GtKind,
    pub reserve: bool,
    pub evidence: Vec<Evidence>,
    /// Subject or domain (e.g. "mathematics", "music").
    pub domain: String,
    pub identified_on: NaiveDate,
    /// The day the pupil and parents were told.
    pub told_on: Option<NaiveDate>,
    /// Enrichment attended (one activity per line).
    pub enrichment: Vec<String>,
    pub removed_on: Option<NaiveDate>,
}

impl GtEntry {
    /// Checks an entry before it is saved.
    pub fn validate(&self) -> Result<(), CaseworkError> {
        if self.evidence.is_empty() {
            return Err(field("evidence", "choose at least one kind of identification evidence"));
        }
        check_text("subject or domain", &self.domain, true, 100)?;
        if let Some(t) = self.told_on
            && t < self.identified_on
        {
            return Err(field("date told", "cannot be before the pupil was identified"));
        }
        if self.enrichment.len() > 50 || self.enrichment.iter().any(|e| e.chars().count() > 200) {
            return Err(field("enrichment", "at most 50 activities of at most 200 characters"));
        }
        Ok(())
    }
    pub fn is_current(&self) -> bool {
        self.removed_on.is_none()
    }
}

/// A register's figures against its target for one year group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterSummary {
    pub cohort: u32,
    pub gifted: u32,
    pub talented: u32,
    pub reserve: u32,
    pub target_gifted: u32,
    pub target_talented: u32,
    /// Entries whose pupil and parents have not been told.
    pub not_told: u32,
}

/// Sums a year group's current entries against the policy's targets.
pub fn summarise(entries: &[GtEntry], cohort: u32, policy: &GtPolicy) -> RegisterSummary {
    let current = || entries.iter().filter(|e| e.is_current());
    let count = |f: &dyn Fn(&GtEntry) -> bool| u32::try_from(current().filter(|e| f(e)).count()).unwrap_or(u32::MAX);
    let (target_gifted, target_talented) = policy.targets(cohort);
    RegisterSummary {
        cohort,
        gifted: count(&|e| !e.reserve && e.kind == GtKind::Gifted),
        talented: count(&|e| !e.reserve && e.kind == GtKind::Talented),
        reserve: count(&|e| e.reserve),
        target_gifted,
        target_talented,
        not_told: count(&|e| !e.reserve && e.told_on.is_none()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_ten_per_cent_split_seven_three() {
        let p = GtPolicy::default();
        // (cohort, gifted, talented)
        for (cohort, g, t) in [(180, 13, 5), (30, 2, 1), (0, 0, 0), (215, 15, 6), (5, 0, 0)] {
            assert_eq!(p.targets(cohort), (g, t), "{cohort}");
        }
        let custom = GtPolicy {
            gifted_tenths_pct: 100,
            talented_tenths_pct: 50,
        };
        assert_eq!(custom.targets(200), (20, 10));
    }

    #[test]
    fn entries_need_evidence_and_a_sensible_date_told() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        let mut e = GtEntry {
            id: GtEntryId(1),
            pupil: PupilId(1),
            school: Urn::from_u32(121_000).unwrap_or_else(|_| unreachable!()),
            academic_year: 2024,
            year_group: YearGroup(7),
            kind: GtKind::Gifted,
            reserve: false,
            evidence: vec![Evidence::TestData],
            domain: "mathematics".into(),
            identified_on: day("2024-10-01"),
            told_on: Some(day("2024-10-10")),
            enrichment: vec![],
            removed_on: None,
        };
        assert!(e.validate().is_ok());
        let summary = summarise(std::slice::from_ref(&e), 180, &GtPolicy::default());
        assert_eq!((summary.gifted, summary.target_gifted, summary.not_told), (1, 13, 0));
        e.told_on = Some(day("2024-09-01"));
        assert!(e.validate().unwrap_err().to_string().starts_with("date told"));
        e.evidence.clear();
        assert!(e.validate().unwrap_err().to_string().starts_with("evidence"));
    }
}

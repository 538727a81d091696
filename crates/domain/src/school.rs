//! Schools and their census returns: the heart of the register.

use crate::geo::Location;
use crate::ids::{Laestab, Urn};
use chrono::NaiveDate;
use std::fmt;

/// Phase of education as the planner and the funding engine need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    Nursery,
    Primary,
    /// A middle school deemed primary.
    MiddlePrimary,
    /// A middle school deemed secondary.
    MiddleSecondary,
    Secondary,
    /// A secondary school that also teaches primary years (counts as a secondary for clusters).
    AllThrough,
    /// 16 to 19 provision only.
    SixteenPlus,
    Special,
    /// Pupil referral units and alternative-provision academies / free schools.
    AlternativeProvision,
    /// Independent schools report no phase in the census.
    Independent,
}

impl Phase {
    pub const ALL: [Phase; 10] = [
        Phase::Nursery,
        Phase::Primary,
        Phase::MiddlePrimary,
        Phase::MiddleSecondary,
        Phase::Secondary,
        Phase::AllThrough,
        Phase::SixteenPlus,
        Phase::Special,
        Phase::AlternativeProvision,
        Phase::Independent,
    ];

    /// Stable code used in storage, URLs and CSV exports.
    pub fn code(self) -> &'static str {
        match self {
            Phase::Nursery => "nursery",
            Phase::Primary => "primary",
            Phase::MiddlePrimary => "middle_primary",
            Phase::MiddleSecondary => "middle_secondary",
            Phase::Secondary => "secondary",
            Phase::AllThrough => "all_through",
            Phase::SixteenPlus => "16_plus",
            Phase::Special => "special",
            Phase::AlternativeProvision => "alternative_provision",
            Phase::Independent => "independent",
        }
    }

    pub fn from_code(code: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.code() == code)
    }

    /// Words a person reads.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Nursery => "Nursery",
            Phase::Primary => "Primary",
            Phase::MiddlePrimary => "Middle (deemed primary)",
            Phase::MiddleSecondary => "Middle (deemed secondary)",
            Phase::Secondary => "Secondary",
            Phase::AllThrough => "All-through",
            Phase::SixteenPlus => "16 to 19",
            Phase::Special => "Special",
            Phase::AlternativeProvision => "Alternative provision / PRU",
            Phase::Independent => "Independent",
        }
    }

    /// A state-funded school that can anchor a cluster (secondary or all-through).
    pub fn is_secondary_anchor(self) -> bool {
        matches!(self, Phase::Secondary | Phase::AllThrough | Phase::MiddleSecondary)
    }

    pub fn is_primary_like(self) -> bool {
        matches!(self, Phase::Nursery | Phase::Primary | Phase::MiddlePrimary)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Who runs the school.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Governance {
    LaMaintained,
    Academy,
    Independent,
    NonMaintainedSpecial,
    Other,
}

impl Governance {
    pub fn code(self) -> &'static str {
        match self {
            Governance::LaMaintained => "la_maintained",
            Governance::Academy => "academy",
            Governance::Independent => "independent",
            Governance::NonMaintainedSpecial => "non_maintained_special",
            Governance::Other => "other",
        }
    }
    pub fn from_code(code: &str) -> Option<Self> {
        [
            Governance::LaMaintained,
            Governance::Academy,
            Governance::Independent,
            Governance::NonMaintainedSpecial,
            Governance::Other,
        ]
        .into_iter()
        .find(|g| g.code() == code)
    }
    pub fn label(self) -> &'static str {
        match self {
            Governance::LaMaintained => "LA maintained",
            Governance::Academy => "Academy",
            Governance::Independent => "Independent",
            Governance::NonMaintainedSpecial => "Non-maintained special",
            Governance::Other => "Other",
        }
    }
    pub fn is_state_funded(self) -> bool {
        matches!(self, Governance::LaMaintained | Governance::Academy)
    }
}

/// GIAS establishment status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchoolStatus {
    Open,
    OpenProposedToClose,
    ProposedToOpen,
    Closed,
}

impl SchoolStatus {
    pub fn code(self) -> &'static str {
        match self {
            SchoolStatus::Open => "open",
            SchoolStatus::OpenProposedToClose => "open_proposed_to_close",
            SchoolStatus::ProposedToOpen => "proposed_to_open",
            SchoolStatus::Closed => "closed",
        }
    }
    pub fn from_code(code: &str) -> Option<Self> {
        [
            SchoolStatus::Open,
            SchoolStatus::OpenProposedToClose,
            SchoolStatus::ProposedToOpen,
            SchoolStatus::Closed,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
    /// GIAS's own words (`EstablishmentStatus (name)`).
    pub fn from_gias_name(name: &str) -> Option<Self> {
        match name.trim() {
            "Open" => Some(SchoolStatus::Open),
            "Open, but proposed to close" => Some(SchoolStatus::OpenProposedToClose),
            "Proposed to open" => Some(SchoolStatus::ProposedToOpen),
            "Closed" => Some(SchoolStatus::Closed),
            _ => None,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            SchoolStatus::Open => "Open",
            SchoolStatus::OpenProposedToClose => "Open, but proposed to close",
            SchoolStatus::ProposedToOpen => "Proposed to open",
            SchoolStatus::Closed => "Closed",
        }
    }
    pub fn is_open(self) -> bool {
        !matches!(self, SchoolStatus::Closed)
    }
}

/// A named area code with its name (district, constituency, ward).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AreaRef {
    pub code: String,
    pub name: String,
}

/// A decimal with one place stored exactly as tenths (FSM %, FTE pupils).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Tenths(pub i64);

impl Tenths {
    /// Parses `12`, `12.3` or `12.30` exactly; refuses anything finer than tenths unless the
    /// extra digits are zero.
    pub fn parse(s: &str) -> Option<Tenths> {
        let t = s.trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || whole.len() > 15 {
            return None;
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let first = frac.bytes().next().map_or(0, |b| i64::from(b - b'0'));
        if frac.len() > 1 && !frac[1..].bytes().all(|b| b == b'0') {
            return None;
        }
        let v = whole.parse::<i64>().ok()?.checked_mul(10)?.checked_add(first)?;
        Some(Tenths(if neg { -v } else { v }))
    }
    /// Rounds a ratio to tenths, half away from zero, in integers.
    pub fn from_ratio_percent(part: i64, whole: i64) -> Option<Tenths> {
        if whole <= 0 || part < 0 {
            return None;
        }
        // part / whole × 100, in tenths: part × 1000 / whole, rounded half up.
        let num = part.checked_mul(2000)?;
        let v = (num / whole + 1) / 2;
        Some(Tenths(v))
    }
}

impl fmt::Display for Tenths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{}", a / 10, a % 10)
    }
}

/// One census return for a school: pupils on roll on a census date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Census {
    pub census_date: NaiveDate,
    pub pupils: u32,
    pub pupils_fte: Option<Tenths>,
    pub fsm_count: Option<u32>,
    /// Percentage of pupils known to be eligible for free school meals, as published.
    pub fsm_pct: Option<Tenths>,
    pub sen_count: Option<u32>,
    pub eal_count: Option<u32>,
    /// Headcount by stage: early years, nursery, KS1, KS2, KS3, KS4, KS5.
    pub stages: [Option<u32>; 7],
}

impl Census {
    pub const STAGE_LABELS: [&'static str; 7] = [
        "Early years (E1–E2)",
        "Nursery (N1–N2)",
        "KS1 (Y1–Y2)",
        "KS2 (Y3–Y6)",
        "KS3 (Y7–Y9)",
        "KS4 (Y10–Y11)",
        "KS5 (Y12–Y14)",
    ];
}

/// A school on the register. Pupil numbers live in its census history.
#[derive(Debug, Clone, PartialEq)]
pub struct School {
    pub urn: Urn,
    pub laestab: Option<Laestab>,
    pub name: String,
    pub phase: Phase,
    pub establishment_type: String,
    pub governance: Governance,
    pub status: SchoolStatus,
    pub opened_on: Option<NaiveDate>,
    pub closed_on: Option<NaiveDate>,
    pub sex: Option<String>,
    pub denomination: Option<String>,
    pub trust: Option<String>,
    pub postcode: Option<String>,
    pub location: Option<Location>,
    pub district: Option<AreaRef>,
    pub constituency: Option<AreaRef>,
    pub ward: Option<AreaRef>,
    pub urban_rural: Option<String>,
}

impl School {
    pub fn is_state_funded(&self) -> bool {
        self.governance.is_state_funded()
    }
}

/// A school with its latest census (what most pages and the planner want).
#[derive(Debug, Clone, PartialEq)]
pub struct SchoolWithCensus {
    pub school: School,
    pub census: Option<Census>,
}

impl SchoolWithCensus {
    pub fn pupils(&self) -> u32 {
        self.census.as_ref().map_or(0, |c| c.pupils)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenths_parse_exactly() {
        let cases = [
            ("12", Some(120)),
            ("12.3", Some(123)),
            ("12.30", Some(123)),
            ("0.5", Some(5)),
            ("12.34", None),
            ("", None),
            ("abc", None),
            (".5", None),
            ("-1.5", Some(-15)),
        ];
        for (s, want) in cases {
            assert_eq!(Tenths::parse(s).map(|t| t.0), want, "{s:?}");
        }
        assert_eq!(Tenths(123).to_string(), "12.3");
        assert_eq!(Tenths(-5).to_string(), "-0.5");
    }

    #[test]
    fn fsm_percentage_rounds_half_up() {
        // 62 of 75 = 82.666… → 82.7
        assert_eq!(Tenths::from_ratio_percent(62, 75), Some(Tenths(827)));
        assert_eq!(Tenths::from_ratio_percent(1, 8), Some(Tenths(125)));
        assert_eq!(Tenths::from_ratio_percent(1, 0), None);
    }

    #[test]
    fn phase_codes_round_trip() {
        for p in Phase::ALL {
            assert_eq!(Phase::from_code(p.code()), Some(p));
        }
    }
}

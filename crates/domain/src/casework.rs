//! Pupil casework in the strands: pupils (a pseudonymous id; identity held at school level only),
//! gifted and talented registers, learning-mentor cases, learning support unit placements and
//! transition records, with the representation check used by registers and LSU monitoring.
//!
//! Errors name the field and the rule, never the value: a pupil's name or UPN does not travel in
//! an error message.

pub mod gt;
pub mod lsu;
pub mod mentor;
pub mod representation;
pub mod transition;

use crate::NaiveDate;
use crate::ids::{Upn, Urn};
use chrono::Datelike;
use std::fmt;

macro_rules! casework_id {
    ($(#[$m:meta])* $name:ident, $prefix:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

casework_id!(
    /// The internal pseudonymous id of a pupil: the only way a pupil appears outside their school
    /// (the audit log, aggregates' drill-down never). Shown as `P123`.
    PupilId,
    "P"
);
casework_id!(
    /// A gifted and talented register entry.
    GtEntryId,
    "G"
);
casework_id!(
    /// A learning-mentor case.
    CaseId,
    "C"
);
casework_id!(
    /// A learning mentor (school-based or in a pool).
    MentorId,
    "M"
);
casework_id!(
    /// An LSU placement.
    PlacementId,
    "L"
);
casework_id!(
    /// A transition record.
    TransitionId,
    "T"
);

/// What went wrong with casework input: the field and the rule, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseworkError {
    #[error("{field}: {rule}")]
    Field { field: &'static str, rule: String },
    #[error("{0}")]
    Step(String),
}

pub(crate) fn field(field: &'static str, rule: impl Into<String>) -> CaseworkError {
    CaseworkError::Field {
        field,
        rule: rule.into(),
    }
}

/// Checks a piece of free text: present when required, at most `max` characters.
pub fn check_text(name: &'static str, text: &str, required: bool, max: usize) -> Result<String, CaseworkError> {
    let t = text.trim();
    if required && t.is_empty() {
        return Err(field(name, "enter this"));
    }
    if t.chars().count() > max {
        return Err(field(name, format!("must be at most {max} characters")));
    }
    Ok(t.to_string())
}

/// Year groups: Reception (0) to Year 13.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearGroup(u8);

impl YearGroup {
    pub fn new(n: u8) -> Result<Self, CaseworkError> {
        if n <= 13 {
            Ok(YearGroup(n))
        } else {
            Err(field("year group", "must be Reception (R) or Year 1 to Year 13"))
        }
    }
    pub fn parse(s: &str) -> Result<Self, CaseworkError> {
        let t = s.trim().to_ascii_uppercase();
        let t = t
            .strip_prefix("YEAR")
            .or_else(|| t.strip_prefix('Y'))
            .unwrap_or(&t)
            .trim();
        if t == "R" || t == "RECEPTION" {
            return Ok(YearGroup(0));
        }
        t.parse::<u8>()
            .map_err(|_| field("year group", "must be R or a number from 1 to 13"))
            .and_then(YearGroup::new)
    }
    pub fn get(self) -> u8 {
        self.0
    }
    /// Age on 31 August before the academic year starts, for a pupil in this year group.
    pub fn usual_age(self) -> u8 {
        self.0 + 4
    }
}

impl fmt::Display for YearGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            f.write_str("Reception")
        } else {
            write!(f, "Year {}", self.0)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gender {
    Female,
    Male,
}

impl Gender {
    pub fn code(self) -> &'static str {
        match self {
            Gender::Female => "F",
            Gender::Male => "M",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        match s.trim() {
            "F" | "f" => Some(Gender::Female),
            "M" | "m" => Some(Gender::Male),
            _ => None,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Gender::Female => "Female",
            Gender::Male => "Male",
        }
    }
}

/// The census's main ethnic groups (ethnicity is special-category data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EthnicGroup {
    WhiteBritish,
    WhiteOther,
    Mixed,
    Asian,
    Black,
    Chinese,
    Other,
    NotObtained,
}

impl EthnicGroup {
    pub const ALL: [EthnicGroup; 8] = [
        EthnicGroup::WhiteBritish,
        EthnicGroup::WhiteOther,
        EthnicGroup::Mixed,
        EthnicGroup::Asian,
        EthnicGroup::Black,
        EthnicGroup::Chinese,
        EthnicGroup::Other,
        EthnicGroup::NotObtained,
    ];
    pub fn code(self) -> &'static str {
        match self {
            EthnicGroup::WhiteBritish => "WBRI",
            EthnicGroup::WhiteOther => "WOTH",
            EthnicGroup::Mixed => "MIXD",
            EthnicGroup::Asian => "AOTH",
            EthnicGroup::Black => "BLKO",
            EthnicGroup::Chinese => "CHNE",
            EthnicGroup::Other => "OOTH",
            EthnicGroup::NotObtained => "NOBT",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        EthnicGroup::ALL.into_iter().find(|e| e.code() == s.trim())
    }
    pub fn label(self) -> &'static str {
        match self {
            EthnicGroup::WhiteBritish => "White British",
            EthnicGroup::WhiteOther => "Any other White background",
            EthnicGroup::Mixed => "Mixed or multiple ethnic groups",
            EthnicGroup::Asian => "Asian or Asian British",
            EthnicGroup::Black => "Black or Black British",
            EthnicGroup::Chinese => "Chinese",
            EthnicGroup::Other => "Any other ethnic group",
            EthnicGroup::NotObtained => "Not obtained or refused",
        }
    }
    /// Minority ethnic: every group but White British (and unknown).
    pub fn is_minority(self) -> bool {
        !matches!(self, EthnicGroup::WhiteBritish | EthnicGroup::NotObtained)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SenStatus {
    None,
    SenSupport,
    Ehcp,
}

impl SenStatus {
    pub fn code(self) -> &'static str {
        match self {
            SenStatus::None => "N",
            SenStatus::SenSupport => "K",
            SenStatus::Ehcp => "E",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        [SenStatus::None, SenStatus::SenSupport, SenStatus::Ehcp]
            .into_iter()
            .find(|x| x.code() == s.trim())
    }
    pub fn label(self) -> &'static str {
        match self {
            SenStatus::None => "No special educational need",
            SenStatus::SenSupport => "SEN support",
            SenStatus::Ehcp => "Education, health and care plan",
        }
    }
}

/// The characteristics the representation check and monitoring use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Characteristics {
    pub gender: Gender,
    pub ethnicity: EthnicGroup,
    pub fsm: bool,
    pub sen: SenStatus,
    pub eal: bool,
}

/// A pupil as their school holds them. Identity never leaves the school's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pupil {
    pub id: PupilId,
    pub school: Urn,
    pub upn: Upn,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: NaiveDate,
    pub year_group: YearGroup,
    pub characteristics: Characteristics,
    /// The day the pupil left the school (retention runs from it).
    pub left_on: Option<NaiveDate>,
    /// Demo data: made up, and labelled so.
    pub synthetic: bool,
}

impl Pupil {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

/// A pupil as typed in, before the store gives them an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PupilInput {
    pub upn: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub year_group: String,
    pub gender: String,
    pub ethnicity: String,
    pub fsm: bool,
    pub sen: String,
    pub eal: bool,
}

/// A validated new pupil.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPupil {
    pub school: Urn,
    pub upn: Upn,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: NaiveDate,
    pub year_group: YearGroup,
    pub characteristics: Characteristics,
    pub synthetic: bool,
}

/// The academic year (its starting calendar year) that `day` falls in: 1 September to 31 August.
pub fn academic_year(day: NaiveDate) -> i32 {
    if day.month() >= 9 { day.year() } else { day.year() - 1 }
}

/// Parses a date typed as `YYYY-MM-DD` or `DD/MM/YYYY`.
pub fn parse_date(name: &'static str, s: &str) -> Result<NaiveDate, CaseworkError> {
    let t = s.trim();
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%d/%m/%Y"))
        .map_err(|_| field(name, "must be a real date, like 2024-09-30 or 30/09/2024"))
}

impl PupilInput {
    /// Validates a pupil for `school` as of `today`: the UPN by its check letter, names, a date of
    /// birth that fits the year group (within a year either way), and coded characteristics.
    pub fn validate(&self, school: Urn, today: NaiveDate, synthetic: bool) -> Result<NewPupil, CaseworkError> {
        let upn = Upn::parse(&self.upn).map_err(|e| match e {
            crate::ids::IdError::UpnCheckLetter { .. } => {
                field("UPN", "the check letter does not match the digits (mistyped?)")
            }
            _ => field("UPN", "must be a letter then 12 digits (the last may be a letter)"),
        })?;
        let given_name = check_text("given name", &self.given_name, true, 100)?;
        let family_name = check_text("family name", &self.family_name, true, 100)?;
        let date_of_birth = parse_date("date of birth", &self.date_of_birth)?;
        let year_group = YearGroup::parse(&self.year_group)?;
        // Age on the 31 August that started this academic year.
        let start = NaiveDate::from_ymd_opt(academic_year(today), 8, 31).unwrap_or(today);
        let age = start.years_since(date_of_birth).map(i64::from).unwrap_or(-1);
        let usual = i64::from(year_group.usual_age());
        if (age - usual).abs() > 1 {
            return Err(field(
                "date of birth",
                format!("does not fit {year_group} (pupils in it are usually {usual} on 31 August)"),
            ));
        }
        let gender = Gender::from_code(&self.gender).ok_or_else(|| field("gender", "must be F or M"))?;
        let ethnicity = EthnicGroup::from_code(&self.ethnicity)
            .ok_or_else(|| field("ethnicity", "must be one of the census main-group codes"))?;
        let sen = SenStatus::from_code(&self.sen)
            .ok_or_else(|| field("SEN", "must be N (none), K (SEN support) or E (EHC plan)"))?;
        Ok(NewPupil {
            school,
            upn,
            given_name,
            family_name,
            date_of_birth,
            year_group,
            characteristics: Characteristics {
                gender,
                ethnicity,
                fsm: self.fsm,
                sen,
                eal: self.eal,
            },
            synthetic,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PupilInput {
        PupilInput {
            upn: "B801200005001".into(),
            given_name: "Ada".into(),
            family_name: "Example".into(),
            date_of_birth: "2012-10-01".into(),
            year_group: "7".into(),
            gender: "F".into(),
            ethnicity: "WBRI".into(),
            fsm: true,
            sen: "N".into(),
            eal: false,
        }
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn pupils_are_validated_field_by_field_without_echoing_values() {
        let school = Urn::from_u32(121_000).unwrap_or_else(|_| unreachable!());
        let today = day("2024-10-01");
        assert!(input().validate(school, today, false).is_ok());
        // (change, field named in the error)
        type Change = fn(&mut PupilInput);
        let cases: &[(Change, &str)] = &[
            (|p| p.upn = "A801200005001".into(), "UPN: the check letter"),
            (|p| p.upn = "B80120000500".into(), "UPN: must be a letter"),
            (|p| p.given_name = "  ".into(), "given name: enter this"),
            (
                |p| p.date_of_birth = "2012-02-30".into(),
                "date of birth: must be a real date",
            ),
            (
                |p| p.date_of_birth = "2016-10-01".into(),
                "date of birth: does not fit Year 7",
            ),
            (|p| p.year_group = "14".into(), "year group"),
            (|p| p.gender = "X".into(), "gender"),
            (|p| p.ethnicity = "ZZZZ".into(), "ethnicity"),
            (|p| p.sen = "Q".into(), "SEN"),
        ];
        for (change, want) in cases {
            let mut p = input();
            change(&mut p);
            let e = p.validate(school, today, false).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}");
            assert!(!e.contains("801200005001") && !e.contains("Ada"), "{e}");
        }
    }

    #[test]
    fn year_groups_and_academic_years() {
        assert_eq!(YearGroup::parse("R").map(|y| y.to_string()), Ok("Reception".into()));
        assert_eq!(YearGroup::parse("Y6").map(|y| y.get()), Ok(6));
        assert_eq!(YearGroup::parse("year 11").map(|y| y.get()), Ok(11));
        assert!(YearGroup::parse("six").is_err());
        assert_eq!(academic_year(day("2024-08-31")), 2023);
        assert_eq!(academic_year(day("2024-09-01")), 2024);
        assert_eq!(PupilId(12).to_string(), "P12");
    }
}

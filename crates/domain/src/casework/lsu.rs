//! Learning support unit placements: referral against the school's staged criteria, a planned
//! period of at most two terms by default, a plan agreed with pupil and parent, full- or
//! part-time, a reintegration plan with supported lessons, and attendance, exclusions and
//! incidents before, during and after.

use super::{CaseworkError, PlacementId, PupilId, check_text, field};
use crate::NaiveDate;
use crate::ids::Urn;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LsuMode {
    FullTime,
    /// Sessions (half-days) a week in the unit, 1–9.
    PartTime {
        sessions_per_week: u8,
    },
}

impl LsuMode {
    pub fn label(self) -> String {
        match self {
            LsuMode::FullTime => "Full-time".into(),
            LsuMode::PartTime { sessions_per_week } => format!("Part-time ({sessions_per_week} sessions a week)"),
        }
    }
}

/// Attendance (tenths of a per cent), fixed-term exclusions and recorded incidents over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Measures {
    pub attendance_tenths_pct: Option<u32>,
    pub exclusions: u32,
    pub incidents: u32,
}

/// The school's referral criteria and the longest planned period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsuPolicy {
    /// Stages a referral must show were tried, in order.
    pub stages: Vec<String>,
    /// Longest planned placement, in weeks (two terms ≈ 26 weeks).
    pub max_weeks: u32,
}

impl Default for LsuPolicy {
    fn default() -> Self {
        LsuPolicy {
            stages: vec![
                "Stage 1: support in class tried and reviewed".into(),
                "Stage 2: a pastoral support plan for at least six weeks".into(),
                "Stage 3: placement agreed by the school's inclusion panel".into(),
            ],
            max_weeks: 26,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsuPlacement {
    pub id: PlacementId,
    pub pupil: PupilId,
    pub school: Urn,
    pub referred_on: NaiveDate,
    /// How many of the policy's stages the referral showed (all are needed).
    pub stages_met: u32,
    pub starts_on: NaiveDate,
    pub planned_end: NaiveDate,
    pub mode: LsuMode,
    pub agreed_with_pupil: bool,
    pub agreed_with_parent: bool,
    pub reintegration_plan: String,
    /// Lessons back in class with support during reintegration.
    pub supported_lessons: u32,
    pub before: Measures,
    pub during: Measures,
    pub after: Option<Measures>,
    pub ended_on: Option<NaiveDate>,
}

impl LsuPlacement {
    pub fn validate(&self, policy: &LsuPolicy) -> Result<(), CaseworkError> {
        let stages = u32::try_from(policy.stages.len()).unwrap_or(u32::MAX);
        if self.stages_met < stages {
            return Err(field(
                "referral criteria",
                format!("the referral must show all {stages} stages were tried"),
            ));
        }
        if self.starts_on < self.referred_on {
            return Err(field("start date", "cannot be before the referral"));
        }
        if self.planned_end <= self.starts_on {
            return Err(field("planned end", "must be after the start"));
        }
        let weeks = (self.planned_end - self.starts_on).num_days().div_euclid(7);
        if weeks > i64::from(policy.max_weeks) {
            return Err(field(
                "planned end",
                format!(
                    "a placement is planned for at most {} weeks (two terms)",
                    policy.max_weeks
                ),
            ));
        }
        if !(self.agreed_with_pupil && self.agreed_with_parent) {
            return Err(field(
                "plan agreed",
                "the plan must be agreed with the pupil and a parent",
            ));
        }
        if let LsuMode::PartTime { sessions_per_week } = self.mode
            && !(1..=9).contains(&sessions_per_week)
        {
            return Err(field(
                "sessions a week",
                "must be from 1 to 9 for a part-time placement",
            ));
        }
        check_text("reintegration plan", &self.reintegration_plan, true, 2000)?;
        for m in [Some(self.before), Some(self.during), self.after].into_iter().flatten() {
            if m.attendance_tenths_pct.is_some_and(|a| a > 1000) {
                return Err(field("attendance", "must be from 0 to 100 %"));
            }
        }
        if let Some(e) = self.ended_on
            && e < self.starts_on
        {
            return Err(field("end date", "cannot be before the start"));
        }
        Ok(())
    }
    pub fn is_current(&self) -> bool {
        self.ended_on.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn placement() -> LsuPlacement {
        LsuPlacement {
            id: PlacementId(1),
            pupil: PupilId(1),
            school: Urn::from_u32(121_000).unwrap_or_else(|_| unreachable!()),
            referred_on: day("2024-09-10"),
            stages_met: 3,
            starts_on: day("2024-09-23"),
            planned_end: day("2025-02-14"),
            mode: LsuMode::PartTime { sessions_per_week: 4 },
            agreed_with_pupil: true,
            agreed_with_parent: true,
            reintegration_plan: "Back to maths and English first, with a TA".into(),
            supported_lessons: 10,
            before: Measures {
                attendance_tenths_pct: Some(850),
                exclusions: 2,
                incidents: 9,
            },
            during: Measures::default(),
            after: None,
            ended_on: None,
        }
    }

    #[test]
    fn placements_follow_the_rules() {
        let policy = LsuPolicy::default();
        assert!(placement().validate(&policy).is_ok());
        type Change = fn(&mut LsuPlacement);
        let cases: &[(Change, &str)] = &[
            (|p| p.stages_met = 2, "referral criteria"),
            (
                |p| p.planned_end = day("2025-04-30"),
                "planned end: a placement is planned for at most 26 weeks",
            ),
            (|p| p.agreed_with_parent = false, "plan agreed"),
            (
                |p| p.mode = LsuMode::PartTime { sessions_per_week: 0 },
                "sessions a week",
            ),
            (|p| p.reintegration_plan.clear(), "reintegration plan"),
            (|p| p.before.attendance_tenths_pct = Some(1001), "attendance"),
            (|p| p.starts_on = day("2024-09-01"), "start date"),
        ];
        for (change, want) in cases {
            let mut p = placement();
            change(&mut p);
            let e = p.validate(&policy).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}");
        }
    }
}

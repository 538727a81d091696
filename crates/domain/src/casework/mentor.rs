//! Learning-mentor casework: referral with a reason → an agreed plan with 1–4 targets and an exit
//! strategy set at the start → sessions → a review at about 6 weeks → outcome (met: signed off
//! with a follow-up date; partly met: extended; disengaged: parents contacted) → follow-up.
//! Caseload guidance (default 12 for a full-time mentor) warns when exceeded.

use super::{CaseId, CaseworkError, MentorId, PupilId, check_text, field};
use crate::NaiveDate;
use crate::ids::Urn;
use chrono::Days;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReferralReason {
    Attendance,
    Behaviour,
    Underachievement,
    Wellbeing,
    Transition,
    AbleButUnderachieving,
}

impl ReferralReason {
    pub const ALL: [ReferralReason; 6] = [
        ReferralReason::Attendance,
        ReferralReason::Behaviour,
        ReferralReason::Underachievement,
        ReferralReason::Wellbeing,
        ReferralReason::Transition,
        ReferralReason::AbleButUnderachieving,
    ];
    pub fn code(self) -> &'static str {
        match self {
            ReferralReason::Attendance => "attendance",
            ReferralReason::Behaviour => "behaviour",
            ReferralReason::Underachievement => "underachievement",
            ReferralReason::Wellbeing => "wellbeing",
            ReferralReason::Transition => "transition",
            ReferralReason::AbleButUnderachieving => "able_underachieving",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        ReferralReason::ALL.into_iter().find(|r| r.code() == s.trim())
    }
    pub fn label(self) -> &'static str {
        match self {
            ReferralReason::Attendance => "Attendance",
            ReferralReason::Behaviour => "Behaviour",
            ReferralReason::Underachievement => "Underachievement",
            ReferralReason::Wellbeing => "Wellbeing",
            ReferralReason::Transition => "Transition",
            ReferralReason::AbleButUnderachieving => "Able but underachieving",
        }
    }
}

/// Where a mentor works from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MentorBase {
    School(Urn),
    /// A pool shared by a group of schools.
    Pool(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mentor {
    pub id: MentorId,
    pub name: String,
    pub base: MentorBase,
    /// Full-time equivalent in tenths (10 = full time).
    pub fte_tenths: u32,
}

/// Settings a school or cluster may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MentorPolicy {
    pub review_after_weeks: u32,
    /// Open cases a full-time mentor should hold at most (guidance 10–12).
    pub caseload_guidance: u32,
}

impl Default for MentorPolicy {
    fn default() -> Self {
        MentorPolicy {
            review_after_weeks: 6,
            caseload_guidance: 12,
        }
    }
}

impl MentorPolicy {
    /// The guidance for a mentor of this FTE (pro rata, at least 1).
    pub fn guidance_for(&self, fte_tenths: u32) -> u32 {
        (self.caseload_guidance * fte_tenths / 10).max(1)
    }
}

/// A caseload above guidance, for the warning.
pub fn caseload_warning(open_cases: u32, fte_tenths: u32, policy: &MentorPolicy) -> Option<String> {
    let limit = policy.guidance_for(fte_tenths);
    (open_cases > limit).then(|| format!("{open_cases} open cases is above the guidance of {limit} for this mentor"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStatus {
    /// Referred; no plan agreed yet.
    Referred,
    /// Plan agreed; sessions under way; review due.
    Active,
    /// Reviewed as partly met; extended to a new review.
    Extended,
    /// Targets met; signed off, waiting for the follow-up check.
    SignedOff,
    /// The pupil disengaged; parents contacted; closed.
    Disengaged,
    /// Follow-up done; closed.
    Closed,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 6] = [
        CaseStatus::Referred,
        CaseStatus::Active,
        CaseStatus::Extended,
        CaseStatus::SignedOff,
        CaseStatus::Disengaged,
        CaseStatus::Closed,
    ];
    pub fn code(self) -> &'static str {
        match self {
            CaseStatus::Referred => "referred",
            CaseStatus::Active => "active",
            CaseStatus::Extended => "extended",
            CaseStatus::SignedOff => "signed_off",
            CaseStatus::Disengaged => "disengaged",
            CaseStatus::Closed => "closed",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        CaseStatus::ALL.into_iter().find(|x| x.code() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            CaseStatus::Referred => "Referred",
            CaseStatus::Active => "Active",
            CaseStatus::Extended => "Extended",
            CaseStatus::SignedOff => "Signed off (follow-up due)",
            CaseStatus::Disengaged => "Disengaged (parents contacted)",
            CaseStatus::Closed => "Closed",
        }
    }
    /// Counts towards the mentor's caseload.
    pub fn is_open(self) -> bool {
        matches!(self, CaseStatus::Referred | CaseStatus::Active | CaseStatus::Extended)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Met,
    PartlyMet,
    Disengaged,
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Met => "met",
            Outcome::PartlyMet => "partly_met",
            Outcome::Disengaged => "disengaged",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        [Outcome::Met, Outcome::PartlyMet, Outcome::Disengaged]
            .into_iter()
            .find(|o| o.code() == s.trim())
    }
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Met => "Targets met",
            Outcome::PartlyMet => "Partly met",
            Outcome::Disengaged => "Disengaged",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub held_on: NaiveDate,
    pub minutes: u32,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub held_on: NaiveDate,
    pub outcome: Outcome,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    pub done_on: NaiveDate,
    /// Whether the improvement has lasted.
    pub sustained: bool,
    pub note: String,
}

/// A mentor case, as one aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentorCase {
    pub id: CaseId,
    pub pupil: PupilId,
    pub school: Urn,
    pub mentor: Option<MentorId>,
    pub referred_on: NaiveDate,
    /// Who referred (a role or name as the school records it).
    pub referred_by: String,
    pub reason: ReferralReason,
    pub referral_note: String,
    pub targets: Vec<String>,
    pub exit_strategy: String,
    pub plan_agreed_on: Option<NaiveDate>,
    pub review_due: Option<NaiveDate>,
    pub sessions: Vec<Session>,
    pub reviews: Vec<Review>,
    pub status: CaseStatus,
    pub follow_up_due: Option<NaiveDate>,
    pub follow_up: Option<FollowUp>,
    pub parents_contacted_on: Option<NaiveDate>,
    pub closed_on: Option<NaiveDate>,
}

/// A referral as typed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    pub pupil: PupilId,
    pub school: Urn,
    pub mentor: Option<MentorId>,
    pub referred_on: NaiveDate,
    pub referred_by: String,
    pub reason: ReferralReason,
    pub note: String,
}

fn step(message: impl Into<String>) -> CaseworkError {
    CaseworkError::Step(message.into())
}

impl MentorCase {
    /// Opens a case from a referral.
    pub fn refer(r: Referral, today: NaiveDate) -> Result<MentorCase, CaseworkError> {
        let referred_by = check_text("referred by", &r.referred_by, true, 100)?;
        let note = check_text("referral note", &r.note, false, 2000)?;
        if r.referred_on > today {
            return Err(field("referral date", "cannot be in the future"));
        }
        Ok(MentorCase {
            id: CaseId(0),
            pupil: r.pupil,
            school: r.school,
            mentor: r.mentor,
            referred_on: r.referred_on,
            referred_by,
            reason: r.reason,
            referral_note: note,
            targets: Vec::new(),
            exit_strategy: String::new(),
            plan_agreed_on: None,
            review_due: None,
            sessions: Vec::new(),
            reviews: Vec::new(),
            status: CaseStatus::Referred,
            follow_up_due: None,
            follow_up: None,
            parents_contacted_on: None,
            closed_on: None,
        })
    }

    /// Agrees the plan: 1–4 targets and an exit strategy, both required at the start. The review
    /// falls due `review_after_weeks` later.
    pub fn agree_plan(
        &mut self,
        targets: &[String],
        exit_strategy: &str,
        on: NaiveDate,
        policy: &MentorPolicy,
    ) -> Result<(), CaseworkError> {
        if self.status != CaseStatus::Referred {
            return Err(step("the plan is agreed once, at the start of the case"));
        }
        let targets: Vec<String> = targets
            .iter()
            .map(|t| check_text("target", t, false, 500))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect();
        if targets.is_empty() || targets.len() > 4 {
            return Err(field("targets", "a plan has 1 to 4 targets"));
        }
        let exit_strategy = check_text("exit strategy", exit_strategy, true, 2000)?;
        if on < self.referred_on {
            return Err(field("plan date", "cannot be before the referral"));
        }
        self.targets = targets;
        self.exit_strategy = exit_strategy;
        self.plan_agreed_on = Some(on);
        self.review_due = on.checked_add_days(Days::new(u64::from(policy.review_after_weeks) * 7));
        self.status = CaseStatus::Active;
        Ok(())
    }

    /// Logs a session with the pupil.
    pub fn log_session(&mut self, held_on: NaiveDate, minutes: u32, note: &str) -> Result<(), CaseworkError> {
        if !matches!(self.status, CaseStatus::Active | CaseStatus::Extended) {
            return Err(step(
                "sessions are logged once the plan is agreed and until the case is signed off",
            ));
        }
        if self.plan_agreed_on.is_some_and(|p| held_on < p) {
            return Err(field("session date", "cannot be before the plan was agreed"));
        }
        if minutes == 0 || minutes > 480 {
            return Err(field("minutes", "must be from 1 to 480"));
        }
        let note = check_text("session note", note, false, 2000)?;
        self.sessions.push(Session { held_on, minutes, note });
        self.sessions.sort_by_key(|s| s.held_on);
        Ok(())
    }

    /// Records the review's outcome. Met needs a follow-up date after the review; disengaged needs
    /// the day the parents were contacted.
    pub fn review(
        &mut self,
        on: NaiveDate,
        outcome: Outcome,
        note: &str,
        follow_up_on: Option<NaiveDate>,
        parents_contacted_on: Option<NaiveDate>,
        policy: &MentorPolicy,
    ) -> Result<(), CaseworkError> {
        if !matches!(self.status, CaseStatus::Active | CaseStatus::Extended) {
            return Err(step("a review follows an agreed plan"));
        }
        if self.plan_agreed_on.is_some_and(|p| on < p) {
            return Err(field("review date", "cannot be before the plan was agreed"));
        }
        let note = check_text("review note", note, false, 2000)?;
        match outcome {
            Outcome::Met => {
                let f =
                    follow_up_on.ok_or_else(|| field("follow-up date", "set a follow-up date to sign the case off"))?;
                if f <= on {
                    return Err(field("follow-up date", "must be after the review"));
                }
                self.follow_up_due = Some(f);
                self.status = CaseStatus::SignedOff;
                self.review_due = None;
            }
            Outcome::PartlyMet => {
                self.review_due = on.checked_add_days(Days::new(u64::from(policy.review_after_weeks) * 7));
                self.status = CaseStatus::Extended;
            }
            Outcome::Disengaged => {
                let c = parents_contacted_on
                    .ok_or_else(|| field("parents contacted", "record the day the parents were contacted"))?;
                if c < self.referred_on {
                    return Err(field("parents contacted", "cannot be before the referral"));
                }
                self.parents_contacted_on = Some(c);
                self.status = CaseStatus::Disengaged;
                self.review_due = None;
                self.closed_on = Some(on);
            }
        }
        self.reviews.push(Review {
            held_on: on,
            outcome,
            note,
        });
        Ok(())
    }

    /// The follow-up check after sign-off; closes the case.
    pub fn record_follow_up(&mut self, on: NaiveDate, sustained: bool, note: &str) -> Result<(), CaseworkError> {
        if self.status != CaseStatus::SignedOff {
            return Err(step("the follow-up comes after the case is signed off"));
        }
        if self.reviews.last().is_some_and(|r| on < r.held_on) {
            return Err(field("follow-up date", "cannot be before the review"));
        }
        let note = check_text("follow-up note", note, false, 2000)?;
        self.follow_up = Some(FollowUp {
            done_on: on,
            sustained,
            note,
        });
        self.status = CaseStatus::Closed;
        self.closed_on = Some(on);
        Ok(())
    }

    pub fn review_overdue(&self, today: NaiveDate) -> bool {
        self.status.is_open() && self.review_due.is_some_and(|d| d < today)
    }
    pub fn follow_up_overdue(&self, today: NaiveDate) -> bool {
        self.status == CaseStatus::SignedOff && self.follow_up_due.is_some_and(|d| d < today)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn referred() -> MentorCase {
        MentorCase::refer(
            Referral {
                pupil: PupilId(1),
                school: Urn::from_u32(121_000).unwrap_or_else(|_| unreachable!()),
                mentor: None,
                referred_on: day("2024-09-16"),
                referred_by: "Head of Year 8".into(),
                reason: ReferralReason::Attendance,
                note: "Attendance 82 % last term".into(),
            },
            day("2024-09-20"),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_case_from_referral_to_follow_up() {
        let policy = MentorPolicy::default();
        let mut c = referred();
        assert_eq!(c.status, CaseStatus::Referred);
        assert!(
            c.log_session(day("2024-09-20"), 30, "").is_err(),
            "no sessions before a plan"
        );
        c.agree_plan(
            &["Attend 95 %".into(), "".into()],
            "Weekly check-ins end when attendance holds for 4 weeks",
            day("2024-09-23"),
            &policy,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.targets.len(), 1);
        assert_eq!(c.review_due, Some(day("2024-11-04")));
        c.log_session(day("2024-09-30"), 40, "Talked about mornings")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.review_overdue(day("2024-11-05")));
        assert!(
            c.review(day("2024-11-04"), Outcome::Met, "", None, None, &policy)
                .is_err(),
            "met needs a follow-up date"
        );
        c.review(
            day("2024-11-04"),
            Outcome::Met,
            "96 %",
            Some(day("2025-01-13")),
            None,
            &policy,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.status, CaseStatus::SignedOff);
        assert!(!c.status.is_open());
        assert!(c.follow_up_overdue(day("2025-01-14")));
        c.record_follow_up(day("2025-01-13"), true, "Held at 95 %")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.status, c.closed_on), (CaseStatus::Closed, Some(day("2025-01-13"))));
    }

    #[test]
    fn plans_need_one_to_four_targets_and_an_exit_strategy() {
        let policy = MentorPolicy::default();
        let t = |n: usize| (0..n).map(|i| format!("target {i}")).collect::<Vec<_>>();
        // (targets, exit strategy, error starts with)
        let cases = [
            (t(0), "exit", Some("targets: a plan has 1 to 4 targets")),
            (t(5), "exit", Some("targets")),
            (t(2), "  ", Some("exit strategy: enter this")),
            (t(4), "exit", None),
        ];
        for (targets, exit, want) in cases {
            let mut c = referred();
            let got = c.agree_plan(&targets, exit, day("2024-09-23"), &policy);
            match want {
                Some(w) => assert!(got.unwrap_err().to_string().starts_with(w)),
                None => assert!(got.is_ok()),
            }
        }
    }

    #[test]
    fn partly_met_extends_and_disengaged_needs_parents_contacted() {
        let policy = MentorPolicy {
            review_after_weeks: 4,
            ..MentorPolicy::default()
        };
        let mut c = referred();
        c.agree_plan(
            &["Fewer detentions".into()],
            "Step down to fortnightly",
            day("2024-09-23"),
            &policy,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        c.review(day("2024-10-21"), Outcome::PartlyMet, "", None, None, &policy)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (c.status, c.review_due),
            (CaseStatus::Extended, Some(day("2024-11-18")))
        );
        assert!(
            c.review(day("2024-11-18"), Outcome::Disengaged, "", None, None, &policy)
                .is_err()
        );
        c.review(
            day("2024-11-18"),
            Outcome::Disengaged,
            "",
            None,
            Some(day("2024-11-15")),
            &policy,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.status, CaseStatus::Disengaged);
        assert!(c.record_follow_up(day("2024-12-01"), true, "").is_err());
    }

    #[test]
    fn caseload_warnings_are_pro_rata() {
        let p = MentorPolicy::default();
        assert_eq!(caseload_warning(12, 10, &p), None);
        assert!(caseload_warning(13, 10, &p).is_some());
        assert!(caseload_warning(7, 5, &p).is_some());
        assert_eq!(caseload_warning(1, 0, &p), None);
    }
}

//! The field inventory: every stored field of pupil casework with its sensitivity, purpose,
//! retention rule and the resource whose grants decide who may read it. Shown at
//! `/privacy/fields` and in docs/PRIVACY.md (a test keeps the two the same).

use super::Resource;
use super::retention::RecordKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sensitivity {
    /// Identifies a child directly (name, date of birth, UPN).
    Identifying,
    /// Special-category personal data (ethnicity; health-related notes).
    SpecialCategory,
    /// Personal data about a child's circumstances or casework.
    Personal,
    /// An internal key with no meaning outside Clusterwise.
    Pseudonymous,
    /// About staff or the system, not about a child.
    Operational,
}

impl Sensitivity {
    pub fn label(self) -> &'static str {
        match self {
            Sensitivity::Identifying => "Identifying",
            Sensitivity::SpecialCategory => "Special category",
            Sensitivity::Personal => "Personal",
            Sensitivity::Pseudonymous => "Pseudonymous",
            Sensitivity::Operational => "Operational",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The table it is stored in.
    pub table: &'static str,
    pub field: &'static str,
    pub sensitivity: Sensitivity,
    pub purpose: &'static str,
    pub retention: RecordKind,
    pub resource: Resource,
}

const fn f(
    table: &'static str,
    field: &'static str,
    sensitivity: Sensitivity,
    purpose: &'static str,
    retention: RecordKind,
    resource: Resource,
) -> Field {
    Field {
        table,
        field,
        sensitivity,
        purpose,
        retention,
        resource,
    }
}

use RecordKind as K;
use Resource as R;
use Sensitivity as S;

/// Every stored field of pupil casework.
pub const FIELDS: &[Field] = &[
    f(
        "pupils",
        "id",
        S::Pseudonymous,
        "The internal key every casework record and audit entry uses instead of the child's identity",
        K::Pupil,
        R::PupilIdentity,
    ),
    f(
        "pupils",
        "urn",
        S::Operational,
        "The school that holds the pupil's identity (decides who may see it)",
        K::Pupil,
        R::PupilIdentity,
    ),
    f(
        "pupils",
        "upn",
        S::Identifying,
        "Matches the pupil to the school's own records (validated by its check letter)",
        K::Pupil,
        R::PupilIdentity,
    ),
    f(
        "pupils",
        "given_name",
        S::Identifying,
        "Lets staff recognise the pupil",
        K::Pupil,
        R::PupilIdentity,
    ),
    f(
        "pupils",
        "family_name",
        S::Identifying,
        "Lets staff recognise the pupil",
        K::Pupil,
        R::PupilIdentity,
    ),
    f(
        "pupils",
        "date_of_birth",
        S::Identifying,
        "Confirms identity and year group",
        K::Pupil,
        R::PupilIdentity,
    ),
    f(
        "pupils",
        "year_group",
        S::Personal,
        "Registers and targets are per year group",
        K::Pupil,
        R::PupilIdentity,
    ),
    f(
        "pupils",
        "gender",
        S::Personal,
        "The representation check and LSU monitoring",
        K::Pupil,
        R::PupilIdentity,
    ),
    f(
        "pupils",
        "ethnicity",
        S::SpecialCategory,
        "The representation check and LSU monitoring (equality duty)",
        K::Pupil,
        R::PupilIdentity,
    ),
    f(
        "pupils",
        "fsm",
        S::Personal,
        "The representation check (disadvantage)",
        K::Pupil,
        R::PupilIdentity,
    ),
    f(
        "pupils",
        "sen",
        S::SpecialCategory,
        "Planning support that fits the pupil",
        K::Pupil,
        R::PupilIdentity,
    ),
    f(
        "pupils",
        "eal",
        S::Personal,
        "Planning support that fits the pupil",
        K::Pupil,
        R::PupilIdentity,
    ),
    f(
        "pupils",
        "left_on",
        S::Personal,
        "Starts the retention period",
        K::Pupil,
        R::PupilIdentity,
    ),
    f(
        "pupils",
        "synthetic",
        S::Operational,
        "Marks made-up demo pupils",
        K::Pupil,
        R::PupilIdentity,
    ),
    f(
        "gt_entries",
        "academic_year, year_group",
        S::Personal,
        "Which register the entry is on",
        K::GtEntry,
        R::GtRegister,
    ),
    f(
        "gt_entries",
        "kind, reserve",
        S::Personal,
        "Gifted or talented; on the register or the reserve list",
        K::GtEntry,
        R::GtRegister,
    ),
    f(
        "gt_entries",
        "evidence, subject",
        S::Personal,
        "How the pupil was identified, and in what",
        K::GtEntry,
        R::GtRegister,
    ),
    f(
        "gt_entries",
        "identified_on, told_on",
        S::Personal,
        "When identified; when the pupil and parents were told",
        K::GtEntry,
        R::GtRegister,
    ),
    f(
        "gt_entries",
        "enrichment",
        S::Personal,
        "Enrichment the pupil attended",
        K::GtEntry,
        R::GtRegister,
    ),
    f(
        "gt_entries",
        "removed_on",
        S::Personal,
        "When the pupil came off the register (starts retention)",
        K::GtEntry,
        R::GtRegister,
    ),
    f(
        "mentors",
        "name, urn, pool, fte_tenths",
        S::Operational,
        "Who mentors, where, and their caseload guidance",
        K::MentorCase,
        R::MentorCase,
    ),
    f(
        "mentor_cases",
        "referred_on, referred_by, reason",
        S::Personal,
        "The referral",
        K::MentorCase,
        R::MentorCase,
    ),
    f(
        "mentor_cases",
        "referral_note",
        S::SpecialCategory,
        "Why the pupil was referred, in the referrer's words (may touch on health)",
        K::MentorCase,
        R::MentorCase,
    ),
    f(
        "mentor_targets",
        "target",
        S::Personal,
        "The plan's 1–4 targets",
        K::MentorCase,
        R::MentorCase,
    ),
    f(
        "mentor_cases",
        "exit_strategy, plan_agreed_on, review_due",
        S::Personal,
        "The plan's exit strategy and review date",
        K::MentorCase,
        R::MentorCase,
    ),
    f(
        "mentor_sessions",
        "held_on, minutes, note",
        S::SpecialCategory,
        "The session log",
        K::MentorCase,
        R::MentorCase,
    ),
    f(
        "mentor_reviews",
        "held_on, outcome, note",
        S::Personal,
        "Reviews and their outcome",
        K::MentorCase,
        R::MentorCase,
    ),
    f(
        "mentor_cases",
        "status, follow_up_due, follow_up_on, follow_up_sustained, follow_up_note",
        S::Personal,
        "Sign-off and the follow-up check",
        K::MentorCase,
        R::MentorCase,
    ),
    f(
        "mentor_cases",
        "parents_contacted_on, closed_on",
        S::Personal,
        "Disengagement and closure (closure starts retention)",
        K::MentorCase,
        R::MentorCase,
    ),
    f(
        "lsu_placements",
        "referred_on, stages_met",
        S::Personal,
        "The referral against the school's staged criteria",
        K::LsuPlacement,
        R::LsuPlacement,
    ),
    f(
        "lsu_placements",
        "starts_on, planned_end, sessions_per_week",
        S::Personal,
        "The planned period (at most two terms) and full- or part-time",
        K::LsuPlacement,
        R::LsuPlacement,
    ),
    f(
        "lsu_placements",
        "agreed_with_pupil, agreed_with_parent",
        S::Personal,
        "The plan was agreed with the pupil and a parent",
        K::LsuPlacement,
        R::LsuPlacement,
    ),
    f(
        "lsu_placements",
        "reintegration_plan, supported_lessons",
        S::Personal,
        "The way back to full-time class",
        K::LsuPlacement,
        R::LsuPlacement,
    ),
    f(
        "lsu_placements",
        "before_*, during_*, after_* (attendance, exclusions, incidents)",
        S::Personal,
        "Whether the placement helped",
        K::LsuPlacement,
        R::LsuPlacement,
    ),
    f(
        "lsu_placements",
        "ended_on",
        S::Personal,
        "The end of the placement (starts retention)",
        K::LsuPlacement,
        R::LsuPlacement,
    ),
    f(
        "transitions",
        "from_urn, to_urn, to_outside, kind",
        S::Personal,
        "Where the pupil moves and when (Year 6 to 7, or mid-year)",
        K::Transition,
        R::Transition,
    ),
    f(
        "transitions",
        "flags, note",
        S::Personal,
        "What the receiving school needs to know",
        K::Transition,
        R::Transition,
    ),
    f(
        "transitions",
        "sent_on, acknowledged_on, acknowledged_by",
        S::Operational,
        "The hand-over and its acknowledgement",
        K::Transition,
        R::Transition,
    ),
    f(
        "pupil_audit",
        "seq, at, user_id, user_email, role",
        S::Operational,
        "Who reached for pupil data, and when",
        K::AuditEntry,
        R::AuditLog,
    ),
    f(
        "pupil_audit",
        "action, resource, pupil_id, urn, purpose, outcome, detail",
        S::Pseudonymous,
        "What was reached for, why, and whether it was allowed (pupils by id only)",
        K::AuditEntry,
        R::AuditLog,
    ),
    f(
        "pupil_audit",
        "prev_hash, hash",
        S::Operational,
        "The chain that makes tampering detectable",
        K::AuditEntry,
        R::AuditLog,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_a_purpose_and_readers() {
        for field in FIELDS {
            assert!(!field.purpose.is_empty(), "{field:?}");
            assert!(
                !super::super::readers(field.resource).is_empty(),
                "{field:?} has no reader"
            );
        }
    }
}

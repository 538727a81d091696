//! Constitutions: the rules a cluster committee runs by, with dated versions.

use chrono::NaiveDate;

/// How many must be present for business to be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuorumRule {
    /// At least `percent` % of the voting members (one per member school), rounded up: Norfolk's
    /// 50 % means 13 schools need 7 and 12 need 6. Vacant seats still count: the school is a member.
    PercentOfVotingMembers { percent: u32 },
    /// One half of the membership rounded up, excluding vacancies and suspended members (the
    /// Welsh joint-committee rule).
    HalfOfFilledSeatsRoundedUp,
    /// A fixed number of voting members.
    Fixed { members: u32 },
}

impl QuorumRule {
    /// `percent:50`, `half_of_filled` or `fixed:N` (the form files and storage use).
    pub fn code(self) -> String {
        match self {
            QuorumRule::PercentOfVotingMembers { percent } => format!("percent:{percent}"),
            QuorumRule::HalfOfFilledSeatsRoundedUp => "half_of_filled".into(),
            QuorumRule::Fixed { members } => format!("fixed:{members}"),
        }
    }

    pub fn parse(s: &str) -> Option<QuorumRule> {
        match s.split_once(':') {
            Some(("percent", p)) => p
                .parse()
                .ok()
                .filter(|p| (1..=100).contains(p))
                .map(|percent| QuorumRule::PercentOfVotingMembers { percent }),
            Some(("fixed", n)) => n.parse().ok().map(|members| QuorumRule::Fixed { members }),
            None if s == "half_of_filled" => Some(QuorumRule::HalfOfFilledSeatsRoundedUp),
            _ => None,
        }
    }

    /// The number of voting members who must be present.
    pub fn required(self, member_schools: u32, filled_unsuspended: u32) -> u32 {
        match self {
            QuorumRule::PercentOfVotingMembers { percent } => {
                // ceil(n × p / 100) in integers.
                (u64::from(member_schools) * u64::from(percent)).div_ceil(100) as u32
            }
            QuorumRule::HalfOfFilledSeatsRoundedUp => filled_unsuspended.div_ceil(2),
            QuorumRule::Fixed { members } => members,
        }
    }

    pub fn describe(self) -> String {
        match self {
            QuorumRule::PercentOfVotingMembers { percent } => {
                format!("at least {percent}% of voting members (one per member school), rounded up")
            }
            QuorumRule::HalfOfFilledSeatsRoundedUp => {
                "one half of the membership rounded up, not counting vacancies or suspended members".into()
            }
            QuorumRule::Fixed { members } => format!("{members} voting members"),
        }
    }
}

/// How the chair comes to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChairRule {
    /// Elected by majority from the voting governors, by self-nomination, each year (Norfolk).
    ElectedAnnually,
    /// Appointed each year (Welsh joint committees).
    AppointedAnnually,
    /// Rotates among member schools each year.
    RotatingYearly,
    /// Rotates each meeting; the host school of that meeting does the paperwork.
    RotatingPerMeeting,
}

impl ChairRule {
    pub fn code(self) -> &'static str {
        match self {
            ChairRule::ElectedAnnually => "elected_annually",
            ChairRule::AppointedAnnually => "appointed_annually",
            ChairRule::RotatingYearly => "rotating_yearly",
            ChairRule::RotatingPerMeeting => "rotating_per_meeting",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            ChairRule::ElectedAnnually,
            ChairRule::AppointedAnnually,
            ChairRule::RotatingYearly,
            ChairRule::RotatingPerMeeting,
        ]
        .into_iter()
        .find(|c| c.code() == s)
    }
}

/// Whether there is a committee at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoverningModel {
    /// A cluster committee with a vote per school.
    Committee,
    /// A federation or trust: one governing body acts for all schools.
    SingleGoverningBody,
    /// No committee; reports go to each governing body.
    ReportingOnly,
}

/// A constitution's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constitution {
    pub name: String,
    pub model: GoverningModel,
    pub quorum: QuorumRule,
    /// The chair may break a tie with a casting vote.
    pub casting_vote: bool,
    pub chair: ChairRule,
    pub vice_chair: bool,
    /// Heads of schools other than the host are members unless they opt out (the host's head always is).
    pub heads_are_members: bool,
    pub min_meetings_per_term: u32,
    pub clerk_required: bool,
    pub independent_clerk_preferred: bool,
    pub minutes_to_every_governing_body: bool,
    /// Days after a meeting by which minutes must reach every governing body.
    pub minutes_within_days: u32,
    pub review_every_months: u32,
}

impl Constitution {
    /// Norfolk's model constitution.
    pub fn norfolk() -> Self {
        Constitution {
            name: "Norfolk model constitution".into(),
            model: GoverningModel::Committee,
            quorum: QuorumRule::PercentOfVotingMembers { percent: 50 },
            casting_vote: false,
            chair: ChairRule::ElectedAnnually,
            vice_chair: true,
            heads_are_members: true,
            min_meetings_per_term: 1,
            clerk_required: true,
            independent_clerk_preferred: true,
            minutes_to_every_governing_body: true,
            minutes_within_days: 28,
            review_every_months: 12,
        }
    }

    /// The Welsh joint-committee rules.
    pub fn welsh_joint_committee() -> Self {
        Constitution {
            name: "Welsh joint committee".into(),
            quorum: QuorumRule::HalfOfFilledSeatsRoundedUp,
            chair: ChairRule::AppointedAnnually,
            independent_clerk_preferred: false,
            ..Constitution::norfolk()
        }
    }

    /// A preset by its code: `norfolk`, `welsh`, `federation`, `reporting_only`.
    pub fn preset(code: &str) -> Option<Constitution> {
        match code {
            "norfolk" => Some(Constitution::norfolk()),
            "welsh" => Some(Constitution::welsh_joint_committee()),
            "federation" => Some(Constitution::federation()),
            "reporting_only" => Some(Constitution::reporting_only()),
            _ => None,
        }
    }

    /// The preset this constitution starts from.
    pub fn preset_code(&self) -> &'static str {
        match (self.model, self.quorum) {
            (GoverningModel::ReportingOnly, _) => "reporting_only",
            (GoverningModel::SingleGoverningBody, _) => "federation",
            (_, QuorumRule::HalfOfFilledSeatsRoundedUp) => "welsh",
            _ => "norfolk",
        }
    }

    /// A federation or trust: one governing body decides for all.
    pub fn federation() -> Self {
        Constitution {
            name: "Federation (one governing body)".into(),
            model: GoverningModel::SingleGoverningBody,
            minutes_to_every_governing_body: false,
            ..Constitution::norfolk()
        }
    }

    /// No committee: the cluster reports to each governing body.
    pub fn reporting_only() -> Self {
        Constitution {
            name: "Reporting only".into(),
            model: GoverningModel::ReportingOnly,
            min_meetings_per_term: 0,
            clerk_required: false,
            vice_chair: false,
            ..Constitution::norfolk()
        }
    }
}

/// A constitution in force from a day until the next version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstitutionVersion {
    pub version: u32,
    pub effective_from: NaiveDate,
    pub constitution: Constitution,
}

/// The version in force on `day`: the latest that started on or before it.
pub fn in_force_on(versions: &[ConstitutionVersion], day: NaiveDate) -> Option<&ConstitutionVersion> {
    versions
        .iter()
        .filter(|v| v.effective_from <= day)
        .max_by_key(|v| (v.effective_from, v.version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_rules_as_the_documents_state_them() {
        let norfolk = QuorumRule::PercentOfVotingMembers { percent: 50 };
        // (member schools, filled and not suspended) → required
        let cases = [
            (norfolk, 13, 13, 7),
            (norfolk, 12, 12, 6),
            (norfolk, 13, 10, 7),
            (norfolk, 1, 1, 1),
            (norfolk, 0, 0, 0),
            (QuorumRule::HalfOfFilledSeatsRoundedUp, 13, 13, 7),
            (QuorumRule::HalfOfFilledSeatsRoundedUp, 13, 10, 5),
            (QuorumRule::HalfOfFilledSeatsRoundedUp, 12, 11, 6),
            (QuorumRule::Fixed { members: 4 }, 20, 3, 4),
        ];
        for (rule, members, filled, want) in cases {
            assert_eq!(rule.required(members, filled), want, "{rule:?} {members} {filled}");
        }
    }

    #[test]
    fn past_meetings_are_judged_by_the_version_in_force() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let versions = vec![
            ConstitutionVersion {
                version: 1,
                effective_from: d("2023-09-01"),
                constitution: Constitution::norfolk(),
            },
            ConstitutionVersion {
                version: 2,
                effective_from: d("2024-09-01"),
                constitution: Constitution {
                    casting_vote: true,
                    ..Constitution::norfolk()
                },
            },
        ];
        assert!(in_force_on(&versions, d("2023-08-31")).is_none());
        assert_eq!(in_force_on(&versions, d("2024-08-31")).map(|v| v.version), Some(1));
        assert_eq!(in_force_on(&versions, d("2024-09-01")).map(|v| v.version), Some(2));
    }
}

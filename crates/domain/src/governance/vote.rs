//! Quorum and the outcome of a vote: one vote per school, decisions by majority of votes cast,
//! a chair's casting vote where the constitution gives one, nothing carried when inquorate.

use super::constitution::{Constitution, GoverningModel};
use super::membership::SeatStatus;
use crate::ids::Urn;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Choice {
    For,
    Against,
    Abstain,
}

impl Choice {
    pub fn code(self) -> &'static str {
        match self {
            Choice::For => "for",
            Choice::Against => "against",
            Choice::Abstain => "abstain",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "for" | "yes" | "aye" => Some(Choice::For),
            "against" | "no" => Some(Choice::Against),
            "abstain" | "abstention" => Some(Choice::Abstain),
            _ => None,
        }
    }
}

/// Whether enough voting members are present for an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuorumStatus {
    pub required: u32,
    pub present: u32,
    pub quorate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoteError {
    #[error("a reporting-only constitution has no committee, so nothing is voted on")]
    NoCommittee,
    #[error("school {0} voted twice; each school has one vote")]
    TwoVotes(Urn),
    #[error("school {0} may not vote on this item: it is not present, or its member withdrew")]
    NotEligible(Urn),
    #[error("the constitution gives the chair no casting vote")]
    NoCastingVote,
    #[error("a casting vote is for or against, not an abstention")]
    AbstainingCastingVote,
    #[error("a casting vote is only used on a tie")]
    CastingVoteWithoutTie,
    #[error("{0} is not a candidate in this election")]
    NotACandidate(String),
    #[error("round {0} has no ballots: each school present casts one")]
    EmptyRound(u32),
    #[error("the chair's choice {0} is not one of the tied candidates")]
    PickNotTied(String),
    #[error("round {0} did not tie, so the chair has nothing to decide")]
    PickWithoutTie(u32),
    #[error("a round is recorded after the election was decided")]
    RoundAfterResult,
}

/// The quorum for an item. `voting_seats` has one entry per member school (the status of its
/// voting seat); `present` are the member schools represented by a voter who is present and has
/// not withdrawn from the item. A school represented twice still counts once.
pub fn quorum(
    constitution: &Constitution,
    voting_seats: &[(Urn, SeatStatus)],
    present: &BTreeSet<Urn>,
) -> Result<QuorumStatus, VoteError> {
    if constitution.model == GoverningModel::ReportingOnly {
        return Err(VoteError::NoCommittee);
    }
    let members: BTreeMap<Urn, SeatStatus> = voting_seats.iter().copied().collect();
    let member_schools = u32::try_from(members.len()).unwrap_or(u32::MAX);
    let filled =
        u32::try_from(members.values().filter(|s| matches!(s, SeatStatus::Filled(_))).count()).unwrap_or(u32::MAX);
    let required = constitution.quorum.required(member_schools, filled);
    let present = u32::try_from(present.iter().filter(|u| members.contains_key(u)).count()).unwrap_or(u32::MAX);
    Ok(QuorumStatus {
        required,
        present,
        quorate: present >= required && present > 0,
    })
}

/// How an item was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Carried,
    Lost,
    /// Equal for and against, and no casting vote (or none allowed).
    Tied,
    CarriedOnCastingVote,
    LostOnCastingVote,
    /// Not quorate: the business cannot be recorded as carried.
    Inquorate,
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Carried => "carried",
            Outcome::Lost => "lost",
            Outcome::Tied => "tied",
            Outcome::CarriedOnCastingVote => "carried_on_casting_vote",
            Outcome::LostOnCastingVote => "lost_on_casting_vote",
            Outcome::Inquorate => "inquorate",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Outcome::Carried,
            Outcome::Lost,
            Outcome::Tied,
            Outcome::CarriedOnCastingVote,
            Outcome::LostOnCastingVote,
            Outcome::Inquorate,
        ]
        .into_iter()
        .find(|o| o.code() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Carried => "Carried",
            Outcome::Lost => "Lost",
            Outcome::Tied => "Tied: no decision",
            Outcome::CarriedOnCastingVote => "Carried on the chair's casting vote",
            Outcome::LostOnCastingVote => "Lost on the chair's casting vote",
            Outcome::Inquorate => "Not quorate: no decision",
        }
    }
    pub fn is_carried(self) -> bool {
        matches!(self, Outcome::Carried | Outcome::CarriedOnCastingVote)
    }
}

/// Votes counted by choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub for_votes: u32,
    pub against: u32,
    pub abstain: u32,
}

/// Decides an item by majority of votes cast. `eligible` are the schools that may vote on it
/// (present, not withdrawn); `casting` is the chair's casting vote, used only on a tie.
pub fn outcome(
    constitution: &Constitution,
    quorum: QuorumStatus,
    votes: &[(Urn, Choice)],
    eligible: &BTreeSet<Urn>,
    casting: Option<Choice>,
) -> Result<(Outcome, Tally), VoteError> {
    if constitution.model == GoverningModel::ReportingOnly {
        return Err(VoteError::NoCommittee);
    }
    let mut seen = BTreeSet::new();
    let mut tally = Tally::default();
    for &(school, choice) in votes {
        if !eligible.contains(&school) {
            return Err(VoteError::NotEligible(school));
        }
        if !seen.insert(school) {
            return Err(VoteError::TwoVotes(school));
        }
        match choice {
            Choice::For => tally.for_votes += 1,
            Choice::Against => tally.against += 1,
            Choice::Abstain => tally.abstain += 1,
        }
    }
    if casting.is_some() && !constitution.casting_vote {
        return Err(VoteError::NoCastingVote);
    }
    if !quorum.quorate {
        return Ok((Outcome::Inquorate, tally));
    }
    let decided = match tally.for_votes.cmp(&tally.against) {
        std::cmp::Ordering::Greater => {
            if casting.is_some() {
                return Err(VoteError::CastingVoteWithoutTie);
            }
            Outcome::Carried
        }
        std::cmp::Ordering::Less => {
            if casting.is_some() {
                return Err(VoteError::CastingVoteWithoutTie);
            }
            Outcome::Lost
        }
        std::cmp::Ordering::Equal => match casting {
            None => Outcome::Tied,
            Some(Choice::For) => Outcome::CarriedOnCastingVote,
            Some(Choice::Against) => Outcome::LostOnCastingVote,
            Some(Choice::Abstain) => return Err(VoteError::AbstainingCastingVote),
        },
    };
    Ok((decided, tally))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::constitution::QuorumRule;
    use crate::ids::PersonId;
    use proptest::prelude::*;

    fn urn(i: u32) -> Urn {
        Urn::from_u32(100_000 + i).unwrap()
    }

    fn seats(n: u32, vacant: u32) -> Vec<(Urn, SeatStatus)> {
        (0..n)
            .map(|i| {
                let status = if i < vacant {
                    SeatStatus::Vacant
                } else {
                    SeatStatus::Filled(PersonId(i64::from(i)))
                };
                (urn(i), status)
            })
            .collect()
    }

    fn present(range: std::ops::Range<u32>) -> BTreeSet<Urn> {
        range.map(urn).collect()
    }

    #[test]
    fn quorum_cases() {
        let norfolk = Constitution::norfolk();
        let welsh = Constitution::welsh_joint_committee();
        // (constitution, schools, vacant seats, schools present) → (required, quorate)
        let cases = [
            (&norfolk, 13, 0, 7, (7, true)),
            (&norfolk, 13, 0, 6, (7, false)),
            (&norfolk, 12, 0, 6, (6, true)),
            (&norfolk, 12, 0, 5, (6, false)),
            (&norfolk, 13, 3, 7, (7, true)),
            (&welsh, 13, 3, 5, (5, true)),
            (&welsh, 13, 3, 4, (5, false)),
            (&welsh, 12, 0, 6, (6, true)),
        ];
        for (c, n, vacant, p, (required, quorate)) in cases {
            let q = quorum(c, &seats(n, vacant), &present(0..p)).unwrap();
            assert_eq!(
                (q.required, q.quorate),
                (required, quorate),
                "{} {n} {vacant} {p}",
                c.name
            );
        }
        // A non-member present does not count.
        let q = quorum(&norfolk, &seats(2, 0), &[urn(0), urn(50)].into_iter().collect()).unwrap();
        assert_eq!((q.present, q.quorate), (1, true));
        assert_eq!(
            quorum(&Constitution::reporting_only(), &seats(2, 0), &present(0..2)),
            Err(VoteError::NoCommittee)
        );
    }

    #[test]
    fn voting_cases() {
        let norfolk = Constitution::norfolk();
        let casting = Constitution {
            casting_vote: true,
            ..Constitution::norfolk()
        };
        let quorate = QuorumStatus {
            required: 2,
            present: 4,
            quorate: true,
        };
        let inquorate = QuorumStatus {
            required: 7,
            present: 4,
            quorate: false,
        };
        let all = present(0..4);
        let v = |choices: &[Choice]| {
            choices
                .iter()
                .enumerate()
                .map(|(i, c)| (urn(i as u32), *c))
                .collect::<Vec<_>>()
        };
        use Choice::*;
        type Case<'a> = (
            &'a Constitution,
            QuorumStatus,
            Vec<(Urn, Choice)>,
            Option<Choice>,
            Result<Outcome, VoteError>,
        );
        let cases: Vec<Case> = vec![
            (
                &norfolk,
                quorate,
                v(&[For, For, Against, Abstain]),
                None,
                Ok(Outcome::Carried),
            ),
            (&norfolk, quorate, v(&[For, Against, Against]), None, Ok(Outcome::Lost)),
            (
                &norfolk,
                quorate,
                v(&[For, Against, Abstain, Abstain]),
                None,
                Ok(Outcome::Tied),
            ),
            (
                &norfolk,
                quorate,
                v(&[For, Against]),
                Some(For),
                Err(VoteError::NoCastingVote),
            ),
            (
                &casting,
                quorate,
                v(&[For, Against]),
                Some(For),
                Ok(Outcome::CarriedOnCastingVote),
            ),
            (
                &casting,
                quorate,
                v(&[For, Against]),
                Some(Against),
                Ok(Outcome::LostOnCastingVote),
            ),
            (
                &casting,
                quorate,
                v(&[For, Against]),
                Some(Abstain),
                Err(VoteError::AbstainingCastingVote),
            ),
            (
                &casting,
                quorate,
                v(&[For, For]),
                Some(For),
                Err(VoteError::CastingVoteWithoutTie),
            ),
            (&norfolk, inquorate, v(&[For, For, For]), None, Ok(Outcome::Inquorate)),
            (
                &norfolk,
                quorate,
                vec![(urn(0), For), (urn(0), Against)],
                None,
                Err(VoteError::TwoVotes(urn(0))),
            ),
            (
                &norfolk,
                quorate,
                vec![(urn(9), For)],
                None,
                Err(VoteError::NotEligible(urn(9))),
            ),
        ];
        for (i, (c, q, votes, cast, want)) in cases.into_iter().enumerate() {
            assert_eq!(outcome(c, q, &votes, &all, cast).map(|(o, _)| o), want, "case {i}");
        }
    }

    proptest! {
        /// An extra vote for a motion never turns carried into lost.
        #[test]
        fn an_extra_for_vote_never_loses_a_carried_motion(choices in proptest::collection::vec(0u8..3, 0..20)) {
            let c = Constitution::norfolk();
            let q = QuorumStatus { required: 1, present: 30, quorate: true };
            let to_choice = |x: u8| match x { 0 => Choice::For, 1 => Choice::Against, _ => Choice::Abstain };
            let votes: Vec<(Urn, Choice)> = choices.iter().enumerate().map(|(i, &x)| (urn(i as u32), to_choice(x))).collect();
            let eligible = present(0..30);
            let (before, _) = outcome(&c, q, &votes, &eligible, None).unwrap();
            let mut more = votes.clone();
            more.push((urn(25), Choice::For));
            let (after, _) = outcome(&c, q, &more, &eligible, None).unwrap();
            prop_assert!(!before.is_carried() || after.is_carried());
        }

        /// Members who are absent never change an outcome (while the meeting stays quorate).
        #[test]
        fn absent_members_never_change_an_outcome(choices in proptest::collection::vec(0u8..3, 1..12), absent in 0u32..12) {
            let c = Constitution { quorum: QuorumRule::Fixed { members: 1 }, ..Constitution::norfolk() };
            let n = u32::try_from(choices.len()).unwrap();
            let to_choice = |x: u8| match x { 0 => Choice::For, 1 => Choice::Against, _ => Choice::Abstain };
            let votes: Vec<(Urn, Choice)> = choices.iter().enumerate().map(|(i, &x)| (urn(i as u32), to_choice(x))).collect();
            let here = present(0..n);
            let q1 = quorum(&c, &seats(n, 0), &here).unwrap();
            let q2 = quorum(&c, &seats(n + absent, 0), &here).unwrap();
            let a = outcome(&c, q1, &votes, &here, None).unwrap();
            let b = outcome(&c, q2, &votes, &here, None).unwrap();
            prop_assert_eq!(a, b);
        }
    }
}

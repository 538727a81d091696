//! Elections of chair and vice-chair: repeated rounds, a majority of votes cast to win, the
//! lowest eliminated otherwise, and a stated rule for ties.

use super::vote::VoteError;
use crate::ids::{PersonId, Urn};
use std::collections::{BTreeMap, BTreeSet};

/// How a tie is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TieRule {
    /// Drawing lots, reproducibly from a seed recorded in the minutes.
    Lot { seed: u64 },
    /// The person chairing the election decides between the tied candidates.
    ChairDecides,
}

impl TieRule {
    pub fn describe(self) -> String {
        match self {
            TieRule::Lot { seed } => format!("drawing lots (seed {seed}, recorded in the minutes)"),
            TieRule::ChairDecides => "the person chairing the election decides".into(),
        }
    }
    /// Settles a tie by lot: the same seed, round and candidates always give the same person.
    pub fn draw(seed: u64, round: u32, tied: &[PersonId]) -> Option<PersonId> {
        let mut sorted = tied.to_vec();
        sorted.sort_unstable();
        let mut x = seed ^ (u64::from(round).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // splitmix64
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let n = u64::try_from(sorted.len()).ok()?;
        if n == 0 {
            return None;
        }
        sorted.get(usize::try_from(z % n).ok()?).copied()
    }
}

/// What one round of counting decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElectionRound {
    /// A candidate has more than half the votes cast (or stands unopposed).
    Elected {
        person: PersonId,
        votes: u32,
        cast: u32,
    },
    /// No majority: the candidate with fewest votes leaves; count again without them.
    Eliminated {
        person: PersonId,
        votes: u32,
    },
    /// The last two (or more) share the votes equally: the tie rule decides.
    TieForFirst(Vec<PersonId>),
    /// Several share the fewest votes: the tie rule decides who leaves.
    TieForLast(Vec<PersonId>),
    NoCandidates,
}

/// Counts one round: one ballot per school, for a candidate still standing.
pub fn count_round(candidates: &[PersonId], ballots: &[(Urn, PersonId)]) -> Result<ElectionRound, VoteError> {
    let standing: BTreeSet<PersonId> = candidates.iter().copied().collect();
    match standing.len() {
        0 => return Ok(ElectionRound::NoCandidates),
        1 => {
            let person = *standing.iter().next().ok_or(VoteError::NotACandidate(String::new()))?;
            let votes = u32::try_from(ballots.iter().filter(|(_, p)| *p == person).count()).unwrap_or(u32::MAX);
            let cast = u32::try_from(ballots.len()).unwrap_or(u32::MAX);
            return Ok(ElectionRound::Elected { person, votes, cast });
        }
        _ => {}
    }
    let mut schools = BTreeSet::new();
    let mut counts: BTreeMap<PersonId, u32> = standing.iter().map(|p| (*p, 0)).collect();
    for (school, person) in ballots {
        if !schools.insert(*school) {
            return Err(VoteError::TwoVotes(*school));
        }
        match counts.get_mut(person) {
            Some(c) => *c += 1,
            None => return Err(VoteError::NotACandidate(person.to_string())),
        }
    }
    let cast = u32::try_from(ballots.len()).unwrap_or(u32::MAX);
    if let Some((&person, &votes)) = counts.iter().find(|(_, v)| u64::from(**v) * 2 > u64::from(cast)) {
        return Ok(ElectionRound::Elected { person, votes, cast });
    }
    let max = counts.values().copied().max().unwrap_or(0);
    let min = counts.values().copied().min().unwrap_or(0);
    if max == min {
        return Ok(ElectionRound::TieForFirst(counts.keys().copied().collect()));
    }
    let lowest: Vec<PersonId> = counts.iter().filter(|(_, v)| **v == min).map(|(p, _)| *p).collect();
    if lowest.len() > 1 {
        return Ok(ElectionRound::TieForLast(lowest));
    }
    Ok(ElectionRound::Eliminated {
        person: lowest[0],
        votes: min,
    })
}

/// How a round's result was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// More than half the votes cast.
    Majority,
    /// The only candidate left standing.
    Unopposed,
    /// Fewest votes, alone.
    FewestVotes,
    /// A tie settled by lot.
    Lot,
    /// A tie settled by the person chairing the election.
    Chair,
}

/// One round as recorded: a ballot per school, and, when the tie rule is the chair's and the
/// round tied, the person the chair chose (to elect on a tie for first, to leave on a tie for last).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoundRecord {
    pub ballots: Vec<(Urn, PersonId)>,
    pub chair_pick: Option<PersonId>,
}

/// What a recorded round decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundResult {
    pub round: u32,
    pub count: ElectionRound,
    /// Elected (`true`) or eliminated (`false`), and how.
    pub decision: Option<(PersonId, bool, Decided)>,
}

/// Where an election stands after its recorded rounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElectionStatus {
    /// Round `round` needs ballots from the schools, for one of `standing`.
    AwaitingBallots {
        round: u32,
        standing: Vec<PersonId>,
    },
    /// The round tied and the chair must choose among `tied` (to elect when `for_first`).
    AwaitingChairPick {
        round: u32,
        tied: Vec<PersonId>,
        for_first: bool,
    },
    Elected {
        person: PersonId,
        round: u32,
        by: Decided,
    },
    NoCandidates,
}

/// Counts an election's recorded rounds in order: a majority of votes cast elects; otherwise the
/// candidate with fewest votes leaves and the schools vote again. Ties are settled by `tie_rule`.
/// A round recorded after someone is elected, an empty round, or a chair's pick that is not among
/// the tied candidates is an error.
pub fn run_election(
    candidates: &[PersonId],
    rounds: &[RoundRecord],
    tie_rule: TieRule,
) -> Result<(Vec<RoundResult>, ElectionStatus), VoteError> {
    let mut standing: Vec<PersonId> = candidates
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut results = Vec::new();
    let mut recorded = rounds.iter();
    let mut round: u32 = 1;
    loop {
        match standing.len() {
            0 => {
                return if recorded.next().is_some() {
                    Err(VoteError::RoundAfterResult)
                } else {
                    Ok((results, ElectionStatus::NoCandidates))
                };
            }
            1 => {
                if recorded.next().is_some() {
                    return Err(VoteError::RoundAfterResult);
                }
                let person = standing[0];
                return Ok((
                    results,
                    ElectionStatus::Elected {
                        person,
                        round,
                        by: Decided::Unopposed,
                    },
                ));
            }
            _ => {}
        }
        let Some(record) = recorded.next() else {
            return Ok((results, ElectionStatus::AwaitingBallots { round, standing }));
        };
        if record.ballots.is_empty() {
            return Err(VoteError::EmptyRound(round));
        }
        let count = count_round(&standing, &record.ballots)?;
        let settle = |tied: &[PersonId]| -> Result<Option<(PersonId, Decided)>, VoteError> {
            match tie_rule {
                TieRule::Lot { seed } => Ok(TieRule::draw(seed, round, tied).map(|p| (p, Decided::Lot))),
                TieRule::ChairDecides => match record.chair_pick {
                    None => Ok(None),
                    Some(p) if tied.contains(&p) => Ok(Some((p, Decided::Chair))),
                    Some(p) => Err(VoteError::PickNotTied(p.to_string())),
                },
            }
        };
        let decision = match &count {
            ElectionRound::Elected { person, .. } => Some((*person, true, Decided::Majority)),
            ElectionRound::Eliminated { person, .. } => Some((*person, false, Decided::FewestVotes)),
            ElectionRound::TieForFirst(tied) => settle(tied)?.map(|(p, by)| (p, true, by)),
            ElectionRound::TieForLast(tied) => settle(tied)?.map(|(p, by)| (p, false, by)),
            ElectionRound::NoCandidates => None,
        };
        if record.chair_pick.is_some() && !matches!(count, ElectionRound::TieForFirst(_) | ElectionRound::TieForLast(_))
        {
            return Err(VoteError::PickWithoutTie(round));
        }
        let pending = match (&count, decision) {
            (ElectionRound::TieForFirst(tied), None) => Some((tied.clone(), true)),
            (ElectionRound::TieForLast(tied), None) => Some((tied.clone(), false)),
            _ => None,
        };
        results.push(RoundResult { round, count, decision });
        if let Some((tied, for_first)) = pending {
            if recorded.next().is_some() {
                return Err(VoteError::RoundAfterResult);
            }
            return Ok((results, ElectionStatus::AwaitingChairPick { round, tied, for_first }));
        }
        match decision {
            Some((person, true, by)) => {
                if recorded.next().is_some() {
                    return Err(VoteError::RoundAfterResult);
                }
                return Ok((results, ElectionStatus::Elected { person, round, by }));
            }
            Some((person, false, _)) => standing.retain(|p| *p != person),
            None => return Ok((results, ElectionStatus::NoCandidates)),
        }
        round += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(i: u32) -> Urn {
        Urn::from_u32(200_000 + i).unwrap()
    }

    #[test]
    fn rounds() {
        let (a, b, c) = (PersonId(1), PersonId(2), PersonId(3));
        let ballots = |v: &[PersonId]| v.iter().enumerate().map(|(i, p)| (u(i as u32), *p)).collect::<Vec<_>>();
        assert_eq!(
            count_round(&[a, b, c], &ballots(&[a, a, a, b, c])),
            Ok(ElectionRound::Elected {
                person: a,
                votes: 3,
                cast: 5
            })
        );
        assert_eq!(
            count_round(&[a, b, c], &ballots(&[a, a, b, b, c])),
            Ok(ElectionRound::Eliminated { person: c, votes: 1 })
        );
        assert_eq!(
            count_round(&[a, b], &ballots(&[a, b])),
            Ok(ElectionRound::TieForFirst(vec![a, b]))
        );
        assert_eq!(
            count_round(&[a, b, c], &ballots(&[a, a, a, b, c, a, b, c])),
            Ok(ElectionRound::TieForLast(vec![b, c]))
        );
        assert_eq!(
            count_round(&[a], &[]),
            Ok(ElectionRound::Elected {
                person: a,
                votes: 0,
                cast: 0
            })
        );
        assert_eq!(count_round(&[], &[]), Ok(ElectionRound::NoCandidates));
        assert_eq!(
            count_round(&[a, b], &[(u(0), a), (u(0), b)]),
            Err(VoteError::TwoVotes(u(0)))
        );
        assert!(count_round(&[a, b], &[(u(0), c)]).is_err());
    }

    #[test]
    fn lots_are_reproducible_and_fair_enough() {
        let tied = [PersonId(7), PersonId(3)];
        assert_eq!(
            TieRule::draw(42, 1, &tied),
            TieRule::draw(42, 1, &[PersonId(3), PersonId(7)])
        );
        let picks: BTreeSet<PersonId> = (0..64).filter_map(|seed| TieRule::draw(seed, 1, &tied)).collect();
        assert_eq!(picks.len(), 2, "both candidates can win a draw");
        assert_eq!(TieRule::draw(1, 1, &[]), None);
    }

    #[test]
    fn elections_run_round_after_round_until_someone_is_elected() {
        let (a, b, c) = (PersonId(1), PersonId(2), PersonId(3));
        let r = |v: &[PersonId]| RoundRecord {
            ballots: v.iter().enumerate().map(|(i, p)| (u(i as u32), *p)).collect(),
            chair_pick: None,
        };
        let lot = TieRule::Lot { seed: 7 };
        // (candidates, rounds, tie rule) → final status
        type Case = (
            Vec<PersonId>,
            Vec<RoundRecord>,
            TieRule,
            Result<ElectionStatus, VoteError>,
        );
        let cases: Vec<Case> = vec![
            (
                vec![a],
                vec![],
                lot,
                Ok(ElectionStatus::Elected {
                    person: a,
                    round: 1,
                    by: Decided::Unopposed,
                }),
            ),
            (vec![], vec![], lot, Ok(ElectionStatus::NoCandidates)),
            (
                vec![a, b, c],
                vec![],
                lot,
                Ok(ElectionStatus::AwaitingBallots {
                    round: 1,
                    standing: vec![a, b, c],
                }),
            ),
            (
                vec![a, b, c],
                vec![r(&[a, a, a, b, c])],
                lot,
                Ok(ElectionStatus::Elected {
                    person: a,
                    round: 1,
                    by: Decided::Majority,
                }),
            ),
            // c has fewest and leaves; round 2 between a and b.
            (
                vec![a, b, c],
                vec![r(&[a, a, b, b, c])],
                lot,
                Ok(ElectionStatus::AwaitingBallots {
                    round: 2,
                    standing: vec![a, b],
                }),
            ),
            (
                vec![a, b, c],
                vec![r(&[a, a, b, b, c]), r(&[a, b, b, b, a])],
                lot,
                Ok(ElectionStatus::Elected {
                    person: b,
                    round: 2,
                    by: Decided::Majority,
                }),
            ),
            // A tie for first with the chair deciding waits for the chair, then elects their pick.
            (
                vec![a, b],
                vec![r(&[a, b])],
                TieRule::ChairDecides,
                Ok(ElectionStatus::AwaitingChairPick {
                    round: 1,
                    tied: vec![a, b],
                    for_first: true,
                }),
            ),
            (
                vec![a, b],
                vec![RoundRecord {
                    chair_pick: Some(b),
                    ..r(&[a, b])
                }],
                TieRule::ChairDecides,
                Ok(ElectionStatus::Elected {
                    person: b,
                    round: 1,
                    by: Decided::Chair,
                }),
            ),
            (
                vec![a, b],
                vec![RoundRecord {
                    chair_pick: Some(c),
                    ..r(&[a, b])
                }],
                TieRule::ChairDecides,
                Err(VoteError::PickNotTied(c.to_string())),
            ),
            (
                vec![a, b],
                vec![RoundRecord {
                    chair_pick: Some(a),
                    ..r(&[a, a])
                }],
                TieRule::ChairDecides,
                Err(VoteError::PickWithoutTie(1)),
            ),
            (
                vec![a, b],
                vec![r(&[a, a]), r(&[a])],
                lot,
                Err(VoteError::RoundAfterResult),
            ),
            (
                vec![a, b],
                vec![RoundRecord::default()],
                lot,
                Err(VoteError::EmptyRound(1)),
            ),
        ];
        for (i, (candidates, rounds, rule, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                run_election(&candidates, &rounds, rule).map(|(_, s)| s),
                want,
                "case {i}"
            );
        }
        // A tie by lot is settled reproducibly from the seed, to one of the tied.
        let (_, s) = run_election(&[a, b], &[r(&[a, b])], lot).unwrap();
        let (_, again) = run_election(&[a, b], &[r(&[a, b])], lot).unwrap();
        assert_eq!(s, again);
        assert!(matches!(s, ElectionStatus::Elected { person, by: Decided::Lot, .. } if person == a || person == b));
    }
}

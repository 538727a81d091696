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
}

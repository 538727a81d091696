//! Evaluating a meeting record against a constitution: who is present for each item, the quorum
//! after withdrawals for declared interests, and the outcome of each motion.

use super::constitution::Constitution;
use super::membership::{Seat, SeatKind, SeatStatus};
use super::vote::{Choice, Outcome, QuorumStatus, Tally, VoteError, outcome, quorum};
use crate::ids::{PersonId, Urn};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attendance {
    Present,
    Apologies,
    Absent,
}

impl Attendance {
    pub fn code(self) -> &'static str {
        match self {
            Attendance::Present => "present",
            Attendance::Apologies => "apologies",
            Attendance::Absent => "absent",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "present" => Some(Attendance::Present),
            "apologies" => Some(Attendance::Apologies),
            "absent" => Some(Attendance::Absent),
            _ => None,
        }
    }
}

/// Who came, and in what capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    pub person: PersonId,
    pub attendance: Attendance,
    /// A substitute attending in place of the school's voting governor.
    pub substitute_for: Option<Urn>,
}

/// A declaration of interest on an item; `withdraws` when the person leaves for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declaration {
    pub person: PersonId,
    pub withdraws: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Motion {
    pub text: String,
    pub proposer: PersonId,
    pub seconder: PersonId,
    /// One vote per school.
    pub votes: Vec<(Urn, Choice)>,
    pub casting_vote: Option<Choice>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub number: String,
    pub title: String,
    pub declarations: Vec<Declaration>,
    pub motion: Option<Motion>,
}

/// What the constitution makes of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemResult {
    pub number: String,
    pub quorum: QuorumStatus,
    /// Schools able to vote on the item.
    pub voting_schools: Vec<Urn>,
    pub withdrawn: Vec<PersonId>,
    /// `None` when the item had no motion.
    pub outcome: Option<(Outcome, Tally)>,
    /// Why a motion could not be decided as recorded.
    pub error: Option<String>,
}

/// The school a present person may vote for: their voting seat, or the school they substitute for.
pub fn votes_for(seats: &[Seat], attendee: &Attendee) -> Option<Urn> {
    if let Some(school) = attendee.substitute_for {
        let holds_sub_seat = seats.iter().any(|s| {
            s.kind == SeatKind::Substitute
                && s.school == Some(school)
                && s.status == SeatStatus::Filled(attendee.person)
        });
        return holds_sub_seat.then_some(school);
    }
    seats
        .iter()
        .find(|s| s.kind == SeatKind::VotingGovernor && s.status == SeatStatus::Filled(attendee.person))
        .and_then(|s| s.school)
}

/// Evaluates every item of a meeting.
pub fn evaluate(
    constitution: &Constitution,
    seats: &[Seat],
    attendees: &[Attendee],
    items: &[Item],
) -> Result<Vec<ItemResult>, VoteError> {
    let voting_seats: Vec<(Urn, SeatStatus)> = seats
        .iter()
        .filter(|s| s.kind == SeatKind::VotingGovernor)
        .filter_map(|s| s.school.map(|u| (u, s.status)))
        .collect();
    let present: Vec<&Attendee> = attendees
        .iter()
        .filter(|a| a.attendance == Attendance::Present)
        .collect();
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let withdrawn: BTreeSet<PersonId> = item
            .declarations
            .iter()
            .filter(|d| d.withdraws)
            .map(|d| d.person)
            .collect();
        let voting: BTreeSet<Urn> = present
            .iter()
            .filter(|a| !withdrawn.contains(&a.person))
            .filter_map(|a| votes_for(seats, a))
            .collect();
        let q = quorum(constitution, &voting_seats, &voting)?;
        let (outcome_, error) = match &item.motion {
            None => (None, None),
            Some(m) => {
                let in_room: BTreeSet<PersonId> = present
                    .iter()
                    .map(|a| a.person)
                    .filter(|p| !withdrawn.contains(p))
                    .collect();
                if !in_room.contains(&m.proposer) || !in_room.contains(&m.seconder) {
                    (
                        None,
                        Some("the proposer and seconder must be present and not withdrawn".to_string()),
                    )
                } else if m.proposer == m.seconder {
                    (
                        None,
                        Some("a motion needs a seconder other than its proposer".to_string()),
                    )
                } else {
                    match outcome(constitution, q, &m.votes, &voting, m.casting_vote) {
                        Ok(o) => (Some(o), None),
                        Err(e) => (None, Some(e.to_string())),
                    }
                }
            }
        };
        results.push(ItemResult {
            number: item.number.clone(),
            quorum: q,
            voting_schools: voting.into_iter().collect(),
            withdrawn: withdrawn.into_iter().collect(),
            outcome: outcome_,
            error,
        });
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urn(i: u32) -> Urn {
        Urn::from_u32(300_000 + i).unwrap()
    }

    /// Four schools: governors 1–4 hold the voting seats, 11–14 the substitute seats.
    fn seats() -> Vec<Seat> {
        (1..=4)
            .flat_map(|i| {
                [
                    Seat {
                        kind: SeatKind::VotingGovernor,
                        school: Some(urn(i)),
                        status: SeatStatus::Filled(PersonId(i64::from(i))),
                        term_from: None,
                        term_to: None,
                    },
                    Seat {
                        kind: SeatKind::Substitute,
                        school: Some(urn(i)),
                        status: SeatStatus::Filled(PersonId(10 + i64::from(i))),
                        term_from: None,
                        term_to: None,
                    },
                ]
            })
            .collect()
    }

    fn here(person: i64) -> Attendee {
        Attendee {
            person: PersonId(person),
            attendance: Attendance::Present,
            substitute_for: None,
        }
    }

    #[test]
    fn withdrawal_after_a_declaration_can_break_quorum() {
        // Norfolk: 4 schools need 2. Governors 1 and 2 present; 2 declares and withdraws on item 2.
        let attendees = vec![
            here(1),
            here(2),
            Attendee {
                attendance: Attendance::Apologies,
                ..here(3)
            },
        ];
        let motion = |votes: Vec<(Urn, Choice)>| Motion {
            text: "Approve the plan".into(),
            proposer: PersonId(1),
            seconder: PersonId(2),
            votes,
            casting_vote: None,
        };
        let items = vec![
            Item {
                number: "1".into(),
                title: "Plan".into(),
                declarations: vec![],
                motion: Some(motion(vec![(urn(1), Choice::For), (urn(2), Choice::For)])),
            },
            Item {
                number: "2".into(),
                title: "Contract with school 2".into(),
                declarations: vec![Declaration {
                    person: PersonId(2),
                    withdraws: true,
                }],
                motion: Some(Motion {
                    seconder: PersonId(1),
                    ..motion(vec![(urn(1), Choice::For)])
                }),
            },
        ];
        let r = evaluate(&Constitution::norfolk(), &seats(), &attendees, &items).unwrap();
        assert_eq!(
            (r[0].quorum.present, r[0].quorum.required, r[0].outcome.map(|o| o.0)),
            (2, 2, Some(Outcome::Carried))
        );
        assert_eq!(r[1].quorum.present, 1);
        assert_eq!(
            r[1].error.as_deref(),
            Some("a motion needs a seconder other than its proposer")
        );
        // Withdrawn members cannot vote.
        let items = vec![Item {
            number: "3".into(),
            title: "x".into(),
            declarations: vec![Declaration {
                person: PersonId(2),
                withdraws: true,
            }],
            motion: Some(Motion {
                proposer: PersonId(1),
                seconder: PersonId(1),
                ..motion(vec![(urn(2), Choice::For)])
            }),
        }];
        let r = evaluate(&Constitution::norfolk(), &seats(), &attendees, &items).unwrap();
        assert!(r[0].error.is_some());
    }

    #[test]
    fn a_substitute_votes_for_their_school_and_two_people_give_one_vote() {
        let attendees = vec![
            here(1),
            Attendee {
                substitute_for: Some(urn(2)),
                ..here(12)
            },
            // Governor 3 and their substitute both attend: school 3 counts once.
            here(3),
            Attendee {
                substitute_for: Some(urn(3)),
                ..here(13)
            },
            // A substitute for a school whose substitute seat they do not hold does not count.
            Attendee {
                substitute_for: Some(urn(4)),
                ..here(12)
            },
        ];
        let items = vec![Item {
            number: "1".into(),
            title: "Budget".into(),
            declarations: vec![],
            motion: Some(Motion {
                text: "Approve".into(),
                proposer: PersonId(1),
                seconder: PersonId(12),
                votes: vec![(urn(1), Choice::For), (urn(2), Choice::Against), (urn(3), Choice::For)],
                casting_vote: None,
            }),
        }];
        let r = evaluate(&Constitution::norfolk(), &seats(), &attendees, &items).unwrap();
        assert_eq!(r[0].voting_schools, vec![urn(1), urn(2), urn(3)]);
        assert_eq!(r[0].outcome.map(|o| o.0), Some(Outcome::Carried));
        let mut twice = items.clone();
        if let Some(m) = twice[0].motion.as_mut() {
            m.votes.push((urn(3), Choice::Against));
        }
        let r = evaluate(&Constitution::norfolk(), &seats(), &attendees, &twice).unwrap();
        assert!(r[0].error.as_deref().is_some_and(|e| e.contains("voted twice")));
    }

    #[test]
    fn business_on_an_inquorate_item_is_never_carried() {
        let attendees = vec![here(1)];
        let items = vec![Item {
            number: "1".into(),
            title: "Spend".into(),
            declarations: vec![],
            motion: None,
        }];
        let r = evaluate(&Constitution::norfolk(), &seats(), &attendees, &items).unwrap();
        assert!(!r[0].quorum.quorate);
        assert_eq!(r[0].outcome, None);
    }
}

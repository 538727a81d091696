//! People and seats on a committee, and the rules a membership must keep.

use crate::ids::{PersonId, Urn};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// A person, with the schools whose governing body they sit on and where they work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    pub governor_of: Vec<Urn>,
    pub works_at: Option<Urn>,
    pub is_head_of: Option<Urn>,
}

/// What a seat is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SeatKind {
    VotingGovernor,
    Substitute,
    Headteacher,
    Clerk,
    AuthorityLinkOfficer,
    Observer,
}

impl SeatKind {
    pub fn code(self) -> &'static str {
        match self {
            SeatKind::VotingGovernor => "voting_governor",
            SeatKind::Substitute => "substitute",
            SeatKind::Headteacher => "headteacher",
            SeatKind::Clerk => "clerk",
            SeatKind::AuthorityLinkOfficer => "authority_link_officer",
            SeatKind::Observer => "observer",
        }
    }
    pub fn from_code(code: &str) -> Option<Self> {
        [
            SeatKind::VotingGovernor,
            SeatKind::Substitute,
            SeatKind::Headteacher,
            SeatKind::Clerk,
            SeatKind::AuthorityLinkOfficer,
            SeatKind::Observer,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatStatus {
    Filled(PersonId),
    Vacant,
    Suspended(PersonId),
}

/// A seat on the committee, for a school where it represents one, with its term of office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub kind: SeatKind,
    pub school: Option<Urn>,
    pub status: SeatStatus,
    pub term_from: Option<NaiveDate>,
    pub term_to: Option<NaiveDate>,
}

impl Seat {
    pub fn person(&self) -> Option<PersonId> {
        match self.status {
            SeatStatus::Filled(p) => Some(p),
            _ => None,
        }
    }
}

/// A rule a membership breaks, or something to flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipIssue {
    #[error("{person} holds the voting seat for school {school} but is not one of its governors")]
    VoterNotGovernor { person: String, school: Urn },
    #[error("school {school} has {count} voting seats; each school has one vote")]
    TwoVotingSeats { school: Urn, count: usize },
    #[error("{person} holds the headteacher seat for school {school} but is not its headteacher")]
    HeadSeatNotHead { person: String, school: Urn },
    #[error("{person} is a headteacher and cannot clerk the committee")]
    HeadAsClerk { person: String },
    #[error("the clerk {person} works at member school {school}: an independent clerk is preferred")]
    ClerkNotIndependent { person: String, school: Urn },
    #[error("the {kind} seat for {school} has a term that ends before it starts")]
    BadTerm { kind: &'static str, school: String },
    #[error("seat refers to person {0} who is not on the list of people")]
    UnknownPerson(PersonId),
}

impl MembershipIssue {
    /// Flags are advice; the rest are breaches that block saving.
    pub fn is_flag(&self) -> bool {
        matches!(self, MembershipIssue::ClerkNotIndependent { .. })
    }
}

/// Checks seats against people and the member schools.
pub fn check_membership(seats: &[Seat], people: &[Person], member_schools: &[Urn]) -> Vec<MembershipIssue> {
    let by_id: BTreeMap<PersonId, &Person> = people.iter().map(|p| (p.id, p)).collect();
    let mut issues = Vec::new();
    let mut voting: BTreeMap<Urn, usize> = BTreeMap::new();
    for seat in seats {
        if let (Some(from), Some(to)) = (seat.term_from, seat.term_to)
            && to < from
        {
            issues.push(MembershipIssue::BadTerm {
                kind: seat.kind.code(),
                school: seat.school.map_or_else(|| "the committee".into(), |s| s.to_string()),
            });
        }
        let person = match seat.status {
            SeatStatus::Filled(p) | SeatStatus::Suspended(p) => match by_id.get(&p) {
                Some(person) => Some(*person),
                None => {
                    issues.push(MembershipIssue::UnknownPerson(p));
                    None
                }
            },
            SeatStatus::Vacant => None,
        };
        match (seat.kind, seat.school, person) {
            (SeatKind::VotingGovernor, Some(school), p) => {
                *voting.entry(school).or_default() += 1;
                if let Some(p) = p
                    && !p.governor_of.contains(&school)
                {
                    issues.push(MembershipIssue::VoterNotGovernor {
                        person: p.name.clone(),
                        school,
                    });
                }
            }
            (SeatKind::Substitute, Some(school), Some(p)) if !p.governor_of.contains(&school) => {
                issues.push(MembershipIssue::VoterNotGovernor {
                    person: p.name.clone(),
                    school,
                });
            }
            (SeatKind::Headteacher, Some(school), Some(p)) if p.is_head_of != Some(school) => {
                issues.push(MembershipIssue::HeadSeatNotHead {
                    person: p.name.clone(),
                    school,
                });
            }
            (SeatKind::Clerk, _, Some(p)) => {
                if p.is_head_of.is_some() {
                    issues.push(MembershipIssue::HeadAsClerk { person: p.name.clone() });
                }
                if let Some(w) = p.works_at
                    && member_schools.contains(&w)
                {
                    issues.push(MembershipIssue::ClerkNotIndependent {
                        person: p.name.clone(),
                        school: w,
                    });
                }
            }
            _ => {}
        }
    }
    for (school, count) in voting {
        if count > 1 {
            issues.push(MembershipIssue::TwoVotingSeats { school, count });
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urn(n: u32) -> Urn {
        Urn::from_u32(n).unwrap()
    }

    fn person(id: i64, governor_of: &[u32], works_at: Option<u32>, head: bool) -> Person {
        Person {
            id: PersonId(id),
            name: format!("P{id}"),
            governor_of: governor_of.iter().map(|&u| urn(u)).collect(),
            works_at: works_at.map(urn),
            is_head_of: if head { works_at.map(urn) } else { None },
        }
    }

    fn seat(kind: SeatKind, school: Option<u32>, who: Option<i64>) -> Seat {
        Seat {
            kind,
            school: school.map(urn),
            status: who.map_or(SeatStatus::Vacant, |p| SeatStatus::Filled(PersonId(p))),
            term_from: None,
            term_to: None,
        }
    }

    #[test]
    fn membership_rules() {
        let people = vec![
            person(1, &[100001], None, false),
            person(2, &[100002], None, false),
            person(3, &[], Some(100001), true),
            person(4, &[], Some(100002), false),
        ];
        let schools = [urn(100001), urn(100002)];
        let ok = [
            seat(SeatKind::VotingGovernor, Some(100001), Some(1)),
            seat(SeatKind::VotingGovernor, Some(100002), None),
        ];
        assert!(check_membership(&ok, &people, &schools).is_empty());

        let wrong_school = [seat(SeatKind::VotingGovernor, Some(100002), Some(1))];
        assert!(matches!(
            check_membership(&wrong_school, &people, &schools)[..],
            [MembershipIssue::VoterNotGovernor { .. }]
        ));
        let two = [
            seat(SeatKind::VotingGovernor, Some(100001), Some(1)),
            seat(SeatKind::VotingGovernor, Some(100001), None),
        ];
        assert!(matches!(
            check_membership(&two, &people, &schools)[..],
            [MembershipIssue::TwoVotingSeats { count: 2, .. }]
        ));
        let head_clerk = [seat(SeatKind::Clerk, None, Some(3))];
        let issues = check_membership(&head_clerk, &people, &schools);
        assert!(issues.iter().any(|i| matches!(i, MembershipIssue::HeadAsClerk { .. })));
        let staff_clerk = [seat(SeatKind::Clerk, None, Some(4))];
        let issues = check_membership(&staff_clerk, &people, &schools);
        assert!(matches!(issues[..], [MembershipIssue::ClerkNotIndependent { .. }]));
        assert!(issues[0].is_flag());
        let head_seat = [seat(SeatKind::Headteacher, Some(100001), Some(3))];
        assert!(check_membership(&head_seat, &people, &schools).is_empty());
        let not_head = [seat(SeatKind::Headteacher, Some(100002), Some(4))];
        assert!(matches!(
            check_membership(&not_head, &people, &schools)[..],
            [MembershipIssue::HeadSeatNotHead { .. }]
        ));
        let ghost = [seat(SeatKind::Observer, None, Some(99))];
        assert!(matches!(
            check_membership(&ghost, &people, &schools)[..],
            [MembershipIssue::UnknownPerson(_)]
        ));
    }
}

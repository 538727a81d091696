//! Governance health: what an authority officer needs to see across clusters — the last quorate
//! meeting, terms without one, chair and vice-chair in post, vacancies, minutes not distributed in
//! time, the annual review, attendance per school and decisions this year.

use super::constitution::{Constitution, GoverningModel};
use super::membership::{Seat, SeatKind, SeatStatus};
use crate::ids::{PersonId, Urn};
use chrono::{Datelike, NaiveDate};
use std::collections::BTreeMap;

/// A school term. Boundaries are fixed approximations of the English year: autumn 1 September to
/// 31 December, spring 1 January to 31 March, summer 1 April to 31 August.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Term {
    /// The calendar year the academic year starts in (2024 for 2024/25).
    pub academic_year: i32,
    pub season: Season,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Season {
    Autumn,
    Spring,
    Summer,
}

impl Term {
    pub fn of(day: NaiveDate) -> Term {
        let (y, m) = (day.year(), day.month());
        match m {
            9..=12 => Term {
                academic_year: y,
                season: Season::Autumn,
            },
            1..=3 => Term {
                academic_year: y - 1,
                season: Season::Spring,
            },
            _ => Term {
                academic_year: y - 1,
                season: Season::Summer,
            },
        }
    }
    pub fn previous(self) -> Term {
        match self.season {
            Season::Autumn => Term {
                academic_year: self.academic_year - 1,
                season: Season::Summer,
            },
            Season::Spring => Term {
                academic_year: self.academic_year,
                season: Season::Autumn,
            },
            Season::Summer => Term {
                academic_year: self.academic_year,
                season: Season::Spring,
            },
        }
    }
    pub fn label(self) -> String {
        let season = match self.season {
            Season::Autumn => "Autumn",
            Season::Spring => "Spring",
            Season::Summer => "Summer",
        };
        format!("{season} {}/{:02}", self.academic_year, (self.academic_year + 1) % 100)
    }
}

/// What a meeting contributes to health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingSummary {
    pub date: NaiveDate,
    pub quorate: bool,
    /// Member schools represented by a voter.
    pub schools_present: Vec<Urn>,
    /// Per member governing body: the day minutes reached it, if they have.
    pub minutes_sent: Vec<(Urn, Option<NaiveDate>)>,
    /// The day the committee approved these minutes (at a later meeting). Minutes go to the
    /// governing bodies once approved, so the days allowed count from here; minutes never
    /// approved count from the next meeting, where they should have been.
    pub minutes_approved_on: Option<NaiveDate>,
    pub decisions_carried: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitteeState {
    pub member_schools: Vec<Urn>,
    pub seats: Vec<Seat>,
    pub chair: Option<PersonId>,
    pub vice_chair: Option<PersonId>,
    pub last_review: Option<NaiveDate>,
    pub meetings: Vec<MeetingSummary>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rag {
    Green,
    Amber,
    Red,
}

impl Rag {
    pub fn label(self) -> &'static str {
        match self {
            Rag::Green => "Good",
            Rag::Amber => "Needs attention",
            Rag::Red => "At risk",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub last_quorate_meeting: Option<NaiveDate>,
    /// Of the current term and the two before it, those with no quorate meeting (current term
    /// counts only once it has ended).
    pub terms_without_meeting: Vec<Term>,
    pub chair_in_post: bool,
    pub vice_chair_in_post: bool,
    pub vacancies: u32,
    /// Meetings whose minutes had not reached every governing body within the allowed days.
    pub minutes_overdue: u32,
    pub review_due: bool,
    /// Share of quorate-or-not meetings in the last 12 months each member school attended (0–100).
    pub attendance_pct: Vec<(Urn, u32)>,
    pub decisions_this_year: u32,
    pub rag: Rag,
    pub reasons: Vec<String>,
}

/// Computes a committee's health on `today`.
pub fn health(constitution: &Constitution, state: &CommitteeState, today: NaiveDate) -> Health {
    let needs_meetings = constitution.model != GoverningModel::ReportingOnly && constitution.min_meetings_per_term > 0;
    let last_quorate_meeting = state
        .meetings
        .iter()
        .filter(|m| m.quorate && m.date <= today)
        .map(|m| m.date)
        .max();
    let current = Term::of(today);
    let mut terms_without_meeting = Vec::new();
    if needs_meetings {
        let mut t = current.previous();
        for _ in 0..2 {
            if !state.meetings.iter().any(|m| m.quorate && Term::of(m.date) == t) {
                terms_without_meeting.push(t);
            }
            t = t.previous();
        }
        terms_without_meeting.reverse();
    }
    let vacancies = u32::try_from(
        state
            .seats
            .iter()
            .filter(|s| s.kind == SeatKind::VotingGovernor && s.status == SeatStatus::Vacant)
            .count(),
    )
    .unwrap_or(u32::MAX);
    let allowed = chrono::Days::new(u64::from(constitution.minutes_within_days));
    let minutes_overdue = if constitution.minutes_to_every_governing_body {
        u32::try_from(
            state
                .meetings
                .iter()
                .filter(|m| m.date <= today)
                .filter(|m| {
                    let clock_from = m.minutes_approved_on.or_else(|| {
                        state
                            .meetings
                            .iter()
                            .map(|n| n.date)
                            .filter(|d| *d > m.date && *d <= today)
                            .min()
                    });
                    let Some(due) = clock_from.and_then(|d| d.checked_add_days(allowed)) else {
                        return false;
                    };
                    due < today
                        && state.member_schools.iter().any(|school| {
                            let sent = m.minutes_sent.iter().find(|(u, _)| u == school).and_then(|(_, d)| *d);
                            sent.is_none_or(|s| s > due)
                        })
                })
                .count(),
        )
        .unwrap_or(u32::MAX)
    } else {
        0
    };
    let review_due = match state.last_review {
        None => true,
        Some(r) => r
            .checked_add_months(chrono::Months::new(constitution.review_every_months))
            .is_none_or(|due| due <= today),
    };
    let year_ago = today.checked_sub_months(chrono::Months::new(12)).unwrap_or(today);
    let recent: Vec<&MeetingSummary> = state
        .meetings
        .iter()
        .filter(|m| m.date > year_ago && m.date <= today)
        .collect();
    let attendance_pct: Vec<(Urn, u32)> = state
        .member_schools
        .iter()
        .map(|school| {
            let attended = recent.iter().filter(|m| m.schools_present.contains(school)).count();
            let pct = if recent.is_empty() {
                0
            } else {
                attended * 100 / recent.len()
            };
            (*school, u32::try_from(pct).unwrap_or(100))
        })
        .collect();
    let decisions_this_year = state
        .meetings
        .iter()
        .filter(|m| Term::of(m.date).academic_year == current.academic_year && m.date <= today)
        .map(|m| m.decisions_carried)
        .sum();
    let chair_in_post = state.chair.is_some();
    let vice_chair_in_post = state.vice_chair.is_some() || !constitution.vice_chair;

    let mut reasons = Vec::new();
    let mut rag = Rag::Green;
    let mut flag = |level: Rag, why: String| {
        rag = rag.max(level);
        reasons.push(why);
    };
    if needs_meetings {
        match terms_without_meeting.len() {
            0 => {}
            1 => flag(
                Rag::Amber,
                format!("no quorate meeting in {}", terms_without_meeting[0].label()),
            ),
            _ => flag(
                Rag::Red,
                format!(
                    "no quorate meeting in {} of the last 2 terms",
                    terms_without_meeting.len()
                ),
            ),
        }
    }
    if constitution.model == GoverningModel::Committee {
        if !chair_in_post {
            flag(Rag::Red, "no chair in post".into());
        }
        if !vice_chair_in_post {
            flag(Rag::Amber, "no vice-chair in post".into());
        }
    }
    if vacancies > 0 {
        flag(Rag::Amber, format!("{vacancies} voting seat(s) vacant"));
    }
    if minutes_overdue > 0 {
        flag(
            Rag::Amber,
            format!(
                "minutes of {minutes_overdue} meeting(s) not with every governing body within {} days of approval",
                constitution.minutes_within_days
            ),
        );
    }
    if review_due {
        flag(Rag::Amber, "annual governance review due".into());
    }
    let disengaged: Vec<String> = attendance_pct
        .iter()
        .filter(|(_, pct)| !recent.is_empty() && *pct < 50)
        .map(|(u, _)| u.to_string())
        .collect();
    if !disengaged.is_empty() {
        flag(
            Rag::Amber,
            format!("attended under half of meetings: {}", disengaged.join(", ")),
        );
    }
    Health {
        last_quorate_meeting,
        terms_without_meeting,
        chair_in_post,
        vice_chair_in_post,
        vacancies,
        minutes_overdue,
        review_due,
        attendance_pct,
        decisions_this_year,
        rag,
        reasons,
    }
}

/// Distinct schools attending, by school, for reporting (helper for callers building summaries).
pub fn attendance_by_school(meetings: &[MeetingSummary]) -> BTreeMap<Urn, u32> {
    let mut out = BTreeMap::new();
    for m in meetings {
        for s in &m.schools_present {
            *out.entry(*s).or_insert(0) += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn u(i: u32) -> Urn {
        Urn::from_u32(400_000 + i).unwrap()
    }

    fn state(meetings: Vec<MeetingSummary>) -> CommitteeState {
        CommitteeState {
            member_schools: vec![u(1), u(2)],
            seats: vec![Seat {
                kind: SeatKind::VotingGovernor,
                school: Some(u(1)),
                status: SeatStatus::Filled(PersonId(1)),
                term_from: None,
                term_to: None,
            }],
            chair: Some(PersonId(1)),
            vice_chair: Some(PersonId(2)),
            last_review: Some(d("2024-07-01")),
            meetings,
        }
    }

    fn meeting(date: &str, quorate: bool, sent: Option<&str>) -> MeetingSummary {
        MeetingSummary {
            date: d(date),
            quorate,
            schools_present: vec![u(1), u(2)],
            minutes_sent: vec![(u(1), sent.map(d)), (u(2), sent.map(d))],
            minutes_approved_on: None,
            decisions_carried: 2,
        }
    }

    #[test]
    fn terms_follow_the_english_year() {
        assert_eq!(Term::of(d("2024-09-01")).label(), "Autumn 2024/25");
        assert_eq!(Term::of(d("2025-01-10")).label(), "Spring 2024/25");
        assert_eq!(Term::of(d("2025-07-20")).label(), "Summer 2024/25");
        assert_eq!(Term::of(d("2025-01-10")).previous().label(), "Autumn 2024/25");
        assert_eq!(Term::of(d("2024-10-10")).previous().label(), "Summer 2023/24");
    }

    #[test]
    fn a_healthy_committee_is_green() {
        let s = state(vec![
            meeting("2024-10-10", true, Some("2024-10-20")),
            meeting("2025-02-10", true, Some("2025-02-15")),
        ]);
        let h = health(&Constitution::norfolk(), &s, d("2025-04-15"));
        assert_eq!(h.rag, Rag::Green, "{:?}", h.reasons);
        assert_eq!(h.last_quorate_meeting, Some(d("2025-02-10")));
        assert_eq!(h.decisions_this_year, 4);
        assert_eq!(h.attendance_pct, vec![(u(1), 100), (u(2), 100)]);
    }

    #[test]
    fn missing_meetings_chairs_minutes_and_reviews_are_named() {
        let mut s = state(vec![MeetingSummary {
            minutes_approved_on: Some(d("2025-01-20")),
            ..meeting("2024-10-10", false, None)
        }]);
        s.chair = None;
        s.last_review = None;
        s.seats[0].status = SeatStatus::Vacant;
        let h = health(&Constitution::norfolk(), &s, d("2025-04-15"));
        assert_eq!(h.rag, Rag::Red);
        assert_eq!(h.terms_without_meeting.len(), 2);
        assert_eq!((h.vacancies, h.minutes_overdue, h.review_due), (1, 1, true));
        assert!(h.reasons.iter().any(|r| r == "no chair in post"));
        // Minutes are due within the days allowed after approval, or after the next meeting
        // when they were never approved; the latest meeting's minutes are not due yet.
        let approved = |on: &str, sent: &str| MeetingSummary {
            minutes_approved_on: Some(d(on)),
            ..meeting("2024-10-10", true, Some(sent))
        };
        let cases = [
            (vec![approved("2025-02-10", "2025-03-01")], 0),
            (vec![approved("2025-02-10", "2025-03-20")], 1),
            (vec![meeting("2025-02-10", true, None)], 0),
            (
                vec![meeting("2024-10-10", true, None), meeting("2025-02-10", true, None)],
                1,
            ),
        ];
        for (i, (meetings, overdue)) in cases.into_iter().enumerate() {
            let h = health(&Constitution::norfolk(), &state(meetings), d("2025-04-15"));
            assert_eq!(h.minutes_overdue, overdue, "case {i}");
        }
        // Reporting-only clusters have no meetings to miss.
        let h = health(&Constitution::reporting_only(), &state(vec![]), d("2025-04-15"));
        assert!(h.terms_without_meeting.is_empty());
    }
}

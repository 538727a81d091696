//! Synthetic committees for the demo: every demo cluster gets a register (a voting governor, a
//! substitute and the head for each school, an independent clerk and a link officer) and the
//! last three terms of meetings recorded in full: attendance, declarations, motions with a vote
//! per school, the chair and vice-chair elected in the autumn, actions, minutes approved at the
//! next meeting and sent to every governing body. A deterministic mix of problems (missed
//! terms, an inquorate meeting, no chair, vacancies, late minutes, an overdue review) gives the
//! health view something to show. Every name ends "(synthetic)".

use super::business::{MeetingCtx, evaluate_meeting};
use super::records::*;
use super::{Access, MemberSchool};
use crate::{Service, ServiceError, ServiceResult};
use domain::governance::meeting::Attendance;
use domain::governance::{
    Choice, Constitution, ConstitutionVersion, ElectionStatus, RoundRecord, SeatKind, TieRule, run_election,
};
use domain::ids::{AuthorityId, ClusterId, MeetingId, PersonId, Urn};
use domain::{Datelike, Days, NaiveDate};

const FIRST: [&str; 32] = [
    "Alex", "Bea", "Chris", "Dev", "Eleni", "Femi", "Grace", "Harry", "Isla", "Jonah", "Kiran", "Lena", "Marcus",
    "Nadia", "Owen", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Will", "Xena", "Yusuf", "Zoe", "Amir",
    "Bryony", "Callum", "Dina", "Ewan", "Freya",
];
const LAST: [&str; 29] = [
    "Adams", "Barker", "Carver", "Doyle", "Ellis", "Fenwick", "Gill", "Hart", "Iqbal", "Jarvis", "Khan", "Lowe",
    "Marsh", "Nunn", "Osei", "Pike", "Reeve", "Shah", "Thorne", "Usher", "Vance", "Webb", "Yates", "Blyth", "Cooke",
    "Dunn", "Frost", "Hale", "Lamb",
];

fn name(n: usize) -> String {
    format!(
        "{} {} (synthetic)",
        FIRST[n % FIRST.len()],
        LAST[(n / FIRST.len() + n * 7) % LAST.len()]
    )
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn plus(d: NaiveDate, days: u64) -> NaiveDate {
    d.checked_add_days(Days::new(days)).unwrap_or(d)
}

/// One school's people on the committee.
#[derive(Debug, Clone, Copy)]
struct SchoolPeople {
    urn: Urn,
    governor: Option<PersonId>,
    substitute: Option<PersonId>,
    head: PersonId,
}

impl Service {
    /// Seeds every demo cluster's committee; returns how many were seeded.
    pub(crate) async fn seed_demo_meetings(&self, authority: AuthorityId) -> ServiceResult<u64> {
        let today = self.clock.today();
        let clusters = self.store.list_clusters(authority, today).await?;
        let academic_year = if today.month() >= 9 {
            today.year()
        } else {
            today.year() - 1
        };
        // Termly meetings on fixed days; the last three at least a week before today.
        let mut days: Vec<NaiveDate> = (academic_year - 3..=academic_year)
            .flat_map(|y| [ymd(y, 11, 12), ymd(y + 1, 3, 11), ymd(y + 1, 6, 17)])
            .collect();
        days.sort_unstable();
        let cutoff = today.checked_sub_days(Days::new(7)).unwrap_or(today);
        let past: Vec<NaiveDate> = days.iter().copied().filter(|d| *d <= cutoff).collect();
        let held_days = past[past.len().saturating_sub(3)..].to_vec();
        let next_day = days
            .iter()
            .copied()
            .find(|d| *d > today)
            .unwrap_or_else(|| plus(today, 90));
        let mut seeded = 0;
        let mut counter = 0usize;
        for (i, c) in clusters.iter().enumerate() {
            let detail = self
                .store
                .cluster(authority, c.cluster.id, today)
                .await?
                .ok_or_else(|| ServiceError::Unexpected("demo cluster vanished".into()))?;
            let members: Vec<MemberSchool> = detail
                .members
                .iter()
                .map(|(s, role, _)| MemberSchool {
                    urn: s.school.urn,
                    name: s.school.name.clone(),
                    role: *role,
                })
                .collect();
            if members.is_empty() {
                continue;
            }
            self.seed_cluster(authority, c.cluster.id, i, &members, &held_days, next_day, &mut counter)
                .await?;
            seeded += 1;
        }
        Ok(seeded)
    }

    #[allow(clippy::too_many_arguments)]
    async fn seed_cluster(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        i: usize,
        members: &[MemberSchool],
        held_days: &[NaiveDate],
        next_day: NaiveDate,
        counter: &mut usize,
    ) -> ServiceResult<()> {
        let today = self.clock.today();
        let first_year = held_days.first().map_or(today.year(), |d| d.year()) - 1;
        let term_from = ymd(first_year, 9, 1);
        let term_to = ymd(first_year + 4, 8, 31);
        // People: for each school a governor, a substitute and the head; then a clerk and an officer.
        let mut details = Vec::new();
        for m in members {
            for role in 0..3 {
                *counter += 1;
                details.push(PersonDetails {
                    name: name(*counter),
                    governor_of: if role < 2 { vec![m.urn] } else { Vec::new() },
                    works_at: (role == 2).then_some(m.urn),
                    head_of: (role == 2).then_some(m.urn),
                });
            }
        }
        // One committee in thirteen has a clerk who works at a member school (a flag, not a breach).
        let staff_clerk = i % 13 == 6 && members.len() > 1;
        *counter += 1;
        details.push(PersonDetails {
            name: name(*counter),
            governor_of: Vec::new(),
            works_at: staff_clerk.then(|| members[1].urn),
            head_of: None,
        });
        *counter += 1;
        details.push(PersonDetails {
            name: name(*counter),
            ..PersonDetails::default()
        });
        let ids = self.store.add_committee_people(authority, cluster, &details).await?;
        let clerk = ids[ids.len() - 2];
        let officer = ids[ids.len() - 1];
        let mut schools = Vec::new();
        let mut seats = Vec::new();
        for (k, m) in members.iter().enumerate() {
            let vacant = i % 7 == 1 && k == 1;
            let no_substitute = k % 4 == 3;
            let p = SchoolPeople {
                urn: m.urn,
                governor: (!vacant).then(|| ids[k * 3]),
                substitute: (!no_substitute).then(|| ids[k * 3 + 1]),
                head: ids[k * 3 + 2],
            };
            for (kind, person) in [
                (SeatKind::VotingGovernor, p.governor),
                (SeatKind::Substitute, p.substitute),
                (SeatKind::Headteacher, Some(p.head)),
            ] {
                seats.push(CommitteeSeat {
                    kind,
                    school: Some(m.urn),
                    person,
                    suspended: false,
                    term_from: Some(term_from),
                    term_to: Some(term_to),
                });
            }
            schools.push(p);
        }
        for (kind, person) in [(SeatKind::Clerk, clerk), (SeatKind::AuthorityLinkOfficer, officer)] {
            seats.push(CommitteeSeat {
                kind,
                school: None,
                person: Some(person),
                suspended: false,
                term_from: Some(term_from),
                term_to: Some(term_to),
            });
        }
        self.store.save_committee_seats(authority, cluster, &seats).await?;
        let version = ConstitutionVersion {
            version: 1,
            effective_from: term_from,
            constitution: Constitution {
                casting_vote: i % 6 == 1,
                ..Constitution::norfolk()
            },
        };
        let last_review = if i % 10 == 7 {
            ymd(first_year - 1, 7, 1)
        } else {
            held_days.last().copied().unwrap_or(today)
        };
        self.store
            .save_constitution_versions(authority, cluster, std::slice::from_ref(&version), Some(last_review))
            .await?;
        let register = self
            .store
            .committee_register(authority, cluster)
            .await?
            .ok_or_else(|| ServiceError::Unexpected("demo register vanished".into()))?;
        let ctx_for = |record: MeetingRecord| MeetingCtx {
            access: Access::Run,
            record,
            register: register.clone(),
            cluster_name: String::new(),
            members: members.to_vec(),
            version: Some(version.clone()),
        };

        let mut previous: Option<(MeetingId, NaiveDate)> = None;
        let mut saved: Vec<(MeetingId, MeetingRecord)> = Vec::new();
        for (m, held_on) in held_days.iter().copied().enumerate() {
            let skipped = (i % 11 == 3 && m == 1) || (i % 9 == 2 && m <= 1);
            if skipped {
                continue;
            }
            let thin = i % 10 == 6 && m == 0;
            let autumn = held_on.month() >= 9;
            let mut record = MeetingRecord::new(
                cluster,
                held_on,
                format!(
                    "{} term meeting",
                    if autumn {
                        "Autumn"
                    } else if held_on.month() <= 3 {
                        "Spring"
                    } else {
                        "Summer"
                    }
                ),
                members.first().map_or_else(String::new, |s| s.name.clone()),
            );
            record.notice_sent_on = Some(held_on.checked_sub_days(Days::new(14)).unwrap_or(held_on));
            record.roll = register.seats.clone();
            // Attendance: governors mostly, a substitute standing in now and then.
            let mut voters: Vec<(Urn, PersonId)> = Vec::new();
            for (k, s) in schools.iter().enumerate() {
                let disengaged = i.is_multiple_of(12) && k % 5 == 4;
                let away = disengaged || (k * 7 + m + i).is_multiple_of(17) || (thin && !k.is_multiple_of(3));
                let stands_in = !disengaged && !thin && (k + m) % 5 == 2 && s.substitute.is_some();
                if let Some(g) = s.governor {
                    let status = if away || stands_in {
                        Attendance::Apologies
                    } else {
                        Attendance::Present
                    };
                    record.attendance.push(AttendanceRecord {
                        person: g,
                        status,
                        substitute_for: None,
                    });
                    if status == Attendance::Present {
                        voters.push((s.urn, g));
                    }
                }
                if let Some(sub) = s.substitute
                    && (stands_in || (s.governor.is_none() && !away))
                {
                    record.attendance.push(AttendanceRecord {
                        person: sub,
                        status: Attendance::Present,
                        substitute_for: Some(s.urn),
                    });
                    voters.push((s.urn, sub));
                }
                let head_here = k == 0 || (k + m) % 3 != 1;
                record.attendance.push(AttendanceRecord {
                    person: s.head,
                    status: if head_here {
                        Attendance::Present
                    } else {
                        Attendance::Apologies
                    },
                    substitute_for: None,
                });
            }
            record.attendance.push(AttendanceRecord {
                person: clerk,
                status: Attendance::Present,
                substitute_for: None,
            });
            record.attendance.push(AttendanceRecord {
                person: officer,
                status: if m == 1 {
                    Attendance::Apologies
                } else {
                    Attendance::Present
                },
                substitute_for: None,
            });
            let proposer = voters.first().map(|v| v.1);
            let seconder = voters.get(1).map(|v| v.1);
            let motion = |text: String| match (proposer, seconder) {
                (Some(p), Some(s)) => Some(MotionRecord {
                    text,
                    proposer: p,
                    seconder: s,
                }),
                _ => None,
            };
            let all_for: Vec<(Urn, Choice)> = voters.iter().map(|(u, _)| (*u, Choice::For)).collect();
            record.items.push(item("Apologies and declarations of interest"));
            if let Some((prev, prev_day)) = previous {
                let mut approve = item(&format!("Minutes of the meeting on {}", prev_day.format("%-d %B %Y")));
                approve.motion = motion(format!(
                    "That the minutes of the meeting on {} be approved as a correct record.",
                    prev_day.format("%-d %B %Y")
                ));
                approve.votes = all_for.clone();
                approve.approves_minutes_of = Some(prev);
                record.items.push(approve);
            }
            let (title, paper, words) = match held_on.month() {
                9..=12 => (
                    "Cluster improvement plan: priorities for the year",
                    "Three priorities: reading at Key Stage 2, attendance of pupils eligible for free school meals, and transition to Year 7.",
                    "That the committee adopts the three priorities of the cluster improvement plan.",
                ),
                1..=3 => (
                    "Cluster admin funding",
                    "The admin funding is shared 54% equally and 46% by pupils, at least £2 a pupil (see the cluster page).",
                    "That the committee approves the split of the cluster admin funding.",
                ),
                _ => (
                    "Review of the year and next year's meeting dates",
                    "A meeting each term: November, March and June, at the host school.",
                    "That the committee approves next year's meeting dates.",
                ),
            };
            let mut business = item(title);
            business.papers.push(Paper {
                title: format!("{title} (paper)"),
                text: paper.into(),
            });
            business.motion = motion(words.into());
            business.votes = voters
                .iter()
                .enumerate()
                .map(|(k, (u, _))| {
                    let choice = match (k + i + m) % 9 {
                        4 => Choice::Against,
                        7 => Choice::Abstain,
                        _ => Choice::For,
                    };
                    (*u, choice)
                })
                .collect();
            record.items.push(business);
            // A restricted item about one school, on which that school's governor withdraws.
            if i.is_multiple_of(4)
                && let Some(s) = schools
                    .iter()
                    .skip(1)
                    .find(|s| s.governor.is_some_and(|g| voters.iter().any(|v| v.1 == g)))
            {
                let mut restricted = item(&format!(
                    "Support for staffing at {}",
                    super::school_name(members, s.urn)
                ));
                restricted.restricted = true;
                restricted.restricted_to = Some(s.urn);
                if let Some(g) = s.governor {
                    restricted.declarations.push(DeclarationRecord {
                        person: g,
                        interest: "governor of the school concerned".into(),
                        withdraws: true,
                    });
                }
                let in_room: Vec<&(Urn, PersonId)> = voters.iter().filter(|v| v.0 != s.urn).collect();
                if let (Some(p), Some(q)) = (in_room.first(), in_room.get(1)) {
                    restricted.motion = Some(MotionRecord {
                        text: "That the cluster funds two days of supply cover.".into(),
                        proposer: p.1,
                        seconder: q.1,
                    });
                    restricted.votes = in_room.iter().map(|v| (v.0, Choice::For)).collect();
                }
                record.items.push(restricted);
            }
            // Chair and vice-chair are elected at the autumn meeting.
            if autumn && !thin && voters.len() >= 2 {
                for (office, missing) in [(Office::Chair, i % 9 == 4), (Office::ViceChair, i % 8 == 2)] {
                    if missing {
                        continue;
                    }
                    // Candidates are voting governors (not substitutes standing in).
                    let governors: Vec<PersonId> = schools
                        .iter()
                        .filter_map(|s| s.governor)
                        .filter(|g| voters.iter().any(|v| v.1 == *g))
                        .collect();
                    if governors.len() < 2 {
                        continue;
                    }
                    let (a, b) = if office == Office::Chair {
                        (governors[0], governors[1])
                    } else {
                        (governors[1], governors[governors.len() - 1])
                    };
                    let candidates = if a == b { vec![a] } else { vec![a, b] };
                    let ballots: Vec<(Urn, PersonId)> = voters
                        .iter()
                        .enumerate()
                        .map(|(k, (u, _))| (*u, if k % 3 == 2 { b } else { a }))
                        .collect();
                    record.elections.push(ElectionRecord {
                        office,
                        candidates: candidates.clone(),
                        tie_rule: TieRule::Lot {
                            seed: 100_000 + u64::try_from(i).unwrap_or(0) * 7,
                        },
                        rounds: if candidates.len() > 1 {
                            vec![ElectionRoundRecord {
                                ballots,
                                chair_pick: None,
                            }]
                        } else {
                            Vec::new()
                        },
                        elected: None,
                    });
                }
            }
            record.actions.push(ActionRecord {
                text: "Circulate the agreed paper to every governing body".into(),
                owner: clerk,
                due_on: plus(held_on, 14),
                done_on: (plus(held_on, 14) < today).then(|| plus(held_on, 10)),
            });
            record.actions.push(ActionRecord {
                text: "Report progress on the item at the next meeting".into(),
                owner: schools[0].head,
                due_on: plus(held_on, 56),
                done_on: (plus(held_on, 56) < today).then(|| plus(held_on, 50)),
            });
            // Record the outcomes the constitution gives, then the minutes.
            let ctx = ctx_for(record.clone());
            let ev = evaluate_meeting(&ctx, &record)?;
            for (it, r) in record.items.iter_mut().zip(&ev.items) {
                if it.motion.is_some() && !it.votes.is_empty() && r.error.is_none() {
                    it.recorded_outcome = r.outcome.map(|o| o.0);
                } else if r.error.is_some() {
                    it.motion = None;
                    it.votes.clear();
                }
            }
            let ctx = ctx_for(record.clone());
            let ev = evaluate_meeting(&ctx, &record)?;
            let mut with_names = ctx.clone();
            with_names.cluster_name = self
                .store
                .cluster(authority, cluster, held_on)
                .await?
                .map(|d| d.summary.cluster.name)
                .unwrap_or_default();
            record.minutes_text = Some(super::minutes::draft(&with_names, &ev));
            record.minutes_drafted_on = Some(plus(held_on, 3));
            finish(&mut record, &ev);
            let id = self.store.save_meeting(authority, &record).await?;
            saved.push((id, record));
            previous = Some((id, held_on));
        }
        // Minutes approved at the next meeting go to every governing body some days later.
        for k in 0..saved.len() {
            let Some((_, next)) = saved.get(k + 1) else { continue };
            let approved_at = next.held_on;
            let carried = next.items.iter().any(|it| {
                it.approves_minutes_of == Some(saved[k].0) && it.recorded_outcome.is_some_and(|o| o.is_carried())
            });
            if !carried {
                continue;
            }
            let late = i % 13 == 5 && k == 0;
            let sent = plus(approved_at, if late { 45 } else { 3 + (i % 9) as u64 });
            if sent > today {
                continue;
            }
            let (id, record) = &mut saved[k];
            record.id = Some(*id);
            record.revision = 1;
            record.distribution = members
                .iter()
                .enumerate()
                .map(|(s, school)| {
                    let received = plus(sent, 2);
                    let adopted = plus(sent, 14 + (s % 4) as u64 * 7);
                    Distribution {
                        school: school.urn,
                        sent_on: Some(sent),
                        received_on: (received <= today && s % 7 != 6).then_some(received),
                        adopted_on: (adopted <= today && s % 7 != 6 && s % 5 != 3).then_some(adopted),
                    }
                })
                .collect();
            self.store.save_meeting(authority, record).await?;
        }
        // Next term's meeting is scheduled, with the last meeting's minutes on its agenda.
        let mut next = MeetingRecord::new(
            cluster,
            next_day,
            "Next term meeting".into(),
            members.first().map_or_else(String::new, |s| s.name.clone()),
        );
        next.items.push(item("Apologies and declarations of interest"));
        if let Some((prev, prev_day)) = previous {
            let mut approve = item(&format!("Minutes of the meeting on {}", prev_day.format("%-d %B %Y")));
            approve.approves_minutes_of = Some(prev);
            next.items.push(approve);
        }
        next.items.push(item("Progress on the cluster improvement plan"));
        self.store.save_meeting(authority, &next).await?;
        Ok(())
    }
}

fn item(title: &str) -> AgendaItem {
    AgendaItem {
        title: title.into(),
        restricted: false,
        restricted_to: None,
        papers: Vec::new(),
        declarations: Vec::new(),
        motion: None,
        votes: Vec::new(),
        casting_vote: None,
        recorded_outcome: None,
        approves_minutes_of: None,
    }
}

/// The totals and election results, as the service works them out on every save.
fn finish(record: &mut MeetingRecord, ev: &super::business::Evaluated) {
    for e in &mut record.elections {
        let rounds: Vec<RoundRecord> = e
            .rounds
            .iter()
            .map(|r| RoundRecord {
                ballots: r.ballots.clone(),
                chair_pick: r.chair_pick,
            })
            .collect();
        e.elected = match run_election(&e.candidates, &rounds, e.tie_rule) {
            Ok((_, ElectionStatus::Elected { person, .. })) => Some(person),
            _ => None,
        };
    }
    record.totals = MeetingTotals {
        held: true,
        quorate: ev.quorum.quorate,
        schools_present: ev.voting.clone(),
        decisions_carried: u32::try_from(
            record
                .items
                .iter()
                .filter(|i| i.recorded_outcome.is_some_and(|o| o.is_carried()))
                .count(),
        )
        .unwrap_or(u32::MAX),
    };
}

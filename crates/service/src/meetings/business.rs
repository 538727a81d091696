//! A meeting step by step: scheduling, notice and agenda, attendance, declarations and
//! withdrawals, motions and per-school votes, elections, actions, minutes and their journey.
//! Every change loads the record, applies one step, re-evaluates every item against the
//! constitution in force on the meeting day, and saves the record whole.

use super::records::*;
use super::{
    Access, MemberSchool, access_for, domain_seats, invalid, parse_date, parse_opt_date, parse_opt_urn, parse_person,
    require_run, text_field,
};
use crate::{Service, ServiceError, ServiceResult};
use domain::NaiveDate;
use domain::access::User;
use domain::governance::health::Term;
use domain::governance::meeting::{Attendance, Attendee, Declaration, Item, ItemResult, Motion, evaluate, votes_for};
use domain::governance::{
    ChairRule, Choice, ConstitutionVersion, ElectionStatus, GoverningModel, Outcome, QuorumStatus, RoundRecord,
    RoundResult, SeatKind, SeatStatus, TieRule, in_force_on, run_election,
};
use domain::ids::{ClusterId, MeetingId, PersonId, Urn};
use rand::Rng;

/// A meeting loaded with everything needed to judge it.
#[derive(Debug, Clone)]
pub(crate) struct MeetingCtx {
    pub access: Access,
    pub record: MeetingRecord,
    pub register: CommitteeRegister,
    pub cluster_name: String,
    /// Member schools on the meeting day.
    pub members: Vec<MemberSchool>,
    pub version: Option<ConstitutionVersion>,
}

impl MeetingCtx {
    fn urns(&self) -> Vec<Urn> {
        self.members.iter().map(|m| m.urn).collect()
    }
    /// The seats the meeting is judged by: its roll once attendance is recorded, else the register's.
    fn seats(&self) -> Vec<domain::governance::Seat> {
        let seats = if self.record.roll.is_empty() {
            &self.register.seats
        } else {
            &self.record.roll
        };
        domain_seats(seats, &self.urns(), self.record.held_on)
    }
}

/// The constitution's judgement of a meeting.
#[derive(Debug, Clone)]
pub(crate) struct Evaluated {
    pub quorum: QuorumStatus,
    /// Member schools represented by a voter.
    pub voting: Vec<Urn>,
    pub items: Vec<ItemResult>,
}

pub(crate) fn evaluate_meeting(ctx: &MeetingCtx, m: &MeetingRecord) -> ServiceResult<Evaluated> {
    let version = ctx.version.as_ref().ok_or_else(|| {
        ServiceError::Invalid(format!(
            "no constitution was in force on {}: adopt one on the committee page",
            m.held_on
        ))
    })?;
    let seats = ctx.seats();
    let attendees: Vec<Attendee> = m
        .attendance
        .iter()
        .map(|a| Attendee {
            person: a.person,
            attendance: a.status,
            substitute_for: a.substitute_for,
        })
        .collect();
    let mut items: Vec<Item> = m
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| Item {
            number: (i + 1).to_string(),
            title: it.title.clone(),
            declarations: it
                .declarations
                .iter()
                .map(|d| Declaration {
                    person: d.person,
                    withdraws: d.withdraws,
                })
                .collect(),
            motion: it.motion.as_ref().map(|mo| Motion {
                text: mo.text.clone(),
                proposer: mo.proposer,
                seconder: mo.seconder,
                votes: it.votes.clone(),
                casting_vote: it.casting_vote,
            }),
        })
        .collect();
    // The meeting as a whole: an item nobody withdraws from.
    items.push(Item {
        number: "meeting".into(),
        title: String::new(),
        declarations: Vec::new(),
        motion: None,
    });
    let mut results = evaluate(&version.constitution, &seats, &attendees, &items)
        .map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let meeting = results
        .pop()
        .ok_or_else(|| ServiceError::Unexpected("evaluation lost the meeting".into()))?;
    Ok(Evaluated {
        quorum: meeting.quorum,
        voting: meeting.voting_schools,
        items: results,
    })
}

/// Nothing recorded may change its result: a withdrawal or a change of attendance that would
/// make a decided item inquorate (or its votes invalid) is refused.
fn check_recorded(m: &MeetingRecord, ev: &Evaluated) -> ServiceResult<()> {
    for (i, (item, r)) in m.items.iter().zip(&ev.items).enumerate() {
        let Some(recorded) = item.recorded_outcome else {
            continue;
        };
        let now = r.outcome.map(|(o, _)| o);
        if r.error.is_some() || now != Some(recorded) {
            let becomes = r
                .error
                .clone()
                .unwrap_or_else(|| now.map_or_else(|| "undecided".into(), |o| o.label().to_lowercase()));
            return Err(ServiceError::Invalid(format!(
                "item {}: its votes are recorded as {}; this change would make it {becomes}. Clear the item's votes first if the record was wrong",
                i + 1,
                recorded.label().to_lowercase()
            )));
        }
    }
    Ok(())
}

/// How far the minutes have gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinutesState {
    NotDrafted,
    Draft,
    Approved(Approval),
    /// Sent to every member governing body (the last on `sent_on`).
    Distributed {
        approval: Approval,
        sent_on: NaiveDate,
        schools: usize,
        adopted: usize,
    },
}

impl MinutesState {
    pub fn label(self) -> &'static str {
        match self {
            MinutesState::NotDrafted => "Not drafted",
            MinutesState::Draft => "Draft",
            MinutesState::Approved(_) => "Approved, not yet distributed",
            MinutesState::Distributed { .. } => "Distributed",
        }
    }
}

pub(crate) fn minutes_state(m: &MeetingRecord) -> MinutesState {
    match (m.minutes_text.is_some(), m.approved) {
        (false, _) => MinutesState::NotDrafted,
        (true, None) => MinutesState::Draft,
        (true, Some(approval)) => {
            let sent: Vec<Option<NaiveDate>> = m.distribution.iter().map(|d| d.sent_on).collect();
            match sent.iter().copied().collect::<Option<Vec<_>>>() {
                Some(days) if !days.is_empty() => MinutesState::Distributed {
                    approval,
                    sent_on: days.iter().copied().max().unwrap_or(approval.held_on),
                    schools: days.len(),
                    adopted: m.distribution.iter().filter(|d| d.adopted_on.is_some()).count(),
                },
                _ => MinutesState::Approved(approval),
            }
        }
    }
}

/// An agenda item as the viewer may see it.
#[derive(Debug, Clone)]
pub struct ItemView {
    pub number: usize,
    /// `false`: a restricted item this person is not entitled to see (its record is withheld).
    pub visible: bool,
    pub item: AgendaItem,
    pub result: Option<ItemResult>,
    /// The meeting whose minutes this item approves.
    pub approves: Option<(MeetingId, NaiveDate)>,
}

#[derive(Debug, Clone)]
pub struct ElectionView {
    pub number: usize,
    pub record: ElectionRecord,
    pub rounds: Vec<RoundResult>,
    pub status: Option<ElectionStatus>,
    pub error: Option<String>,
}

/// The meeting page.
#[derive(Debug, Clone)]
pub struct MeetingView {
    pub access: Access,
    pub id: MeetingId,
    pub cluster: ClusterId,
    pub cluster_name: String,
    pub record: MeetingRecord,
    pub register: CommitteeRegister,
    pub members: Vec<MemberSchool>,
    pub version: Option<ConstitutionVersion>,
    pub term: Term,
    pub today: NaiveDate,
    pub quorum: Option<QuorumStatus>,
    /// Member schools represented by a voter, with who may vote for each.
    pub voters: Vec<(Urn, Vec<PersonId>)>,
    pub items: Vec<ItemView>,
    pub elections: Vec<ElectionView>,
    pub minutes: MinutesState,
    /// Earlier meetings whose drafted minutes wait for approval (for an approval item here).
    pub approvable: Vec<(MeetingId, NaiveDate, String)>,
    /// Why the meeting cannot be judged (no constitution in force), if so.
    pub problem: Option<String>,
    /// The school whose receipt and adoption this person records.
    pub receipt_school: Option<Urn>,
}

impl MeetingView {
    pub fn name(&self, p: PersonId) -> String {
        self.register.name_of(p)
    }
    pub fn school_name(&self, u: Urn) -> String {
        super::school_name(&self.members, u)
    }
    pub fn casting_vote_allowed(&self) -> bool {
        self.version.as_ref().is_some_and(|v| v.constitution.casting_vote)
    }
    pub fn is_closed(&self) -> bool {
        self.record.approved.is_some()
    }
}

/// What the scheduling form sends.
#[derive(Debug, Clone, Default)]
pub struct ScheduleInput {
    pub date: String,
    pub title: String,
    pub location: String,
}

#[derive(Debug, Clone, Default)]
pub struct ItemInput {
    pub title: String,
    pub restricted: bool,
    pub restricted_to: String,
    pub paper_title: String,
    pub paper_text: String,
    /// A meeting id whose minutes this item approves, or empty.
    pub approves: String,
}

#[derive(Debug, Clone, Default)]
pub struct DeclarationInput {
    pub person: String,
    pub interest: String,
    pub withdraws: bool,
}

#[derive(Debug, Clone, Default)]
pub struct MotionInput {
    pub text: String,
    pub proposer: String,
    pub seconder: String,
}

/// Votes as the form sends them: (school URN, `for`/`against`/`abstain`/empty) pairs, the
/// chair's casting vote, and the result the chair declared (`carried`, `lost`, `no_decision`).
#[derive(Debug, Clone, Default)]
pub struct VotesInput {
    pub votes: Vec<(String, String)>,
    pub casting_vote: String,
    pub declared: String,
}

#[derive(Debug, Clone, Default)]
pub struct ElectionInput {
    pub office: String,
    pub candidates: Vec<String>,
    /// `lot` or `chair_decides`.
    pub tie_rule: String,
}

#[derive(Debug, Clone, Default)]
pub struct ActionInput {
    pub text: String,
    pub owner: String,
    pub due_on: String,
}

#[derive(Debug, Clone, Default)]
pub struct ReceiptInput {
    pub received_on: String,
    pub adopted_on: String,
}

fn item_index(number: &str, m: &MeetingRecord) -> ServiceResult<usize> {
    number
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=m.items.len()).contains(n))
        .map(|n| n - 1)
        .ok_or_else(|| invalid("item", "choose an item on the agenda"))
}

fn election_index(number: &str, m: &MeetingRecord) -> ServiceResult<usize> {
    number
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=m.elections.len()).contains(n))
        .map(|n| n - 1)
        .ok_or_else(|| invalid("election", "choose an election of this meeting"))
}

fn require_open(ctx: &MeetingCtx) -> ServiceResult<()> {
    if let Some(a) = ctx.record.approved {
        return Err(ServiceError::Invalid(format!(
            "the minutes of this meeting were approved on {}: its record is closed",
            a.held_on
        )));
    }
    Ok(())
}

fn require_held(ctx: &MeetingCtx) -> ServiceResult<()> {
    if ctx.record.attendance.is_empty() {
        return Err(invalid(
            "attendance",
            "record who attended first: business is done by those present",
        ));
    }
    Ok(())
}

fn present(m: &MeetingRecord) -> impl Iterator<Item = PersonId> + '_ {
    m.attendance
        .iter()
        .filter(|a| a.status == Attendance::Present)
        .map(|a| a.person)
}

/// Who votes for each represented school.
fn voters(ctx: &MeetingCtx, ev: &Evaluated) -> Vec<(Urn, Vec<PersonId>)> {
    let seats = ctx.seats();
    ev.voting
        .iter()
        .map(|u| {
            let who = ctx
                .record
                .attendance
                .iter()
                .filter(|a| a.status == Attendance::Present)
                .filter(|a| {
                    votes_for(
                        &seats,
                        &Attendee {
                            person: a.person,
                            attendance: a.status,
                            substitute_for: a.substitute_for,
                        },
                    ) == Some(*u)
                })
                .map(|a| a.person)
                .collect();
            (*u, who)
        })
        .collect()
}

fn run(e: &ElectionRecord) -> Result<(Vec<RoundResult>, ElectionStatus), domain::governance::VoteError> {
    let rounds: Vec<RoundRecord> = e
        .rounds
        .iter()
        .map(|r| RoundRecord {
            ballots: r.ballots.clone(),
            chair_pick: r.chair_pick,
        })
        .collect();
    run_election(&e.candidates, &rounds, e.tie_rule)
}

impl Service {
    pub(crate) async fn meeting_ctx(&self, user: &User, id: MeetingId) -> ServiceResult<MeetingCtx> {
        let record = self
            .store
            .meeting(user.authority, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("meeting {id}")))?;
        let (cluster_name, members) = self.members_on(user, record.cluster, record.held_on).await?;
        let (_, now) = self.members_on(user, record.cluster, self.clock.today()).await?;
        let urns: Vec<Urn> = members.iter().chain(&now).map(|m| m.urn).collect();
        let access = access_for(user, record.cluster, &urns)?;
        let register = self.register_of(user, record.cluster).await?;
        let version = in_force_on(&register.versions, record.held_on).cloned();
        Ok(MeetingCtx {
            access,
            record,
            register,
            cluster_name,
            members,
            version,
        })
    }

    async fn meeting_to_change(&self, user: &User, id: MeetingId) -> ServiceResult<MeetingCtx> {
        let ctx = self.meeting_ctx(user, id).await?;
        require_run(ctx.access)?;
        Ok(ctx)
    }

    /// Re-evaluates and saves `m` as the new state of `ctx`'s meeting.
    async fn save_changed(&self, user: &User, ctx: &MeetingCtx, mut m: MeetingRecord) -> ServiceResult<MeetingId> {
        let ev = evaluate_meeting(ctx, &m)?;
        check_recorded(&m, &ev)?;
        for (i, e) in m.elections.iter_mut().enumerate() {
            let (_, status) = run(e).map_err(|err| invalid(&format!("election {}", i + 1), err))?;
            e.elected = match status {
                ElectionStatus::Elected { person, .. } => Some(person),
                _ => None,
            };
        }
        let held = !m.attendance.is_empty();
        m.totals = MeetingTotals {
            held,
            quorate: held && ev.quorum.quorate,
            schools_present: if held { ev.voting.clone() } else { Vec::new() },
            decisions_carried: u32::try_from(
                m.items
                    .iter()
                    .filter(|i| i.recorded_outcome.is_some_and(Outcome::is_carried))
                    .count(),
            )
            .unwrap_or(u32::MAX),
        };
        Ok(self.store.save_meeting(user.authority, &m).await?)
    }

    /// Schedules a meeting of the committee on a day (past meetings may be recorded too).
    pub async fn schedule_meeting(
        &self,
        user: &User,
        cluster: ClusterId,
        input: &ScheduleInput,
    ) -> ServiceResult<MeetingId> {
        let (_, register) = self.committee_to_change(user, cluster).await?;
        let day = parse_date("date", &input.date)?;
        let title = text_field("title", &input.title, 200, true)?;
        let location = text_field("location", &input.location, 200, false)?;
        let version = in_force_on(&register.versions, day).ok_or_else(|| {
            invalid(
                "date",
                format!("no constitution is in force on {day}: adopt one on the committee page first"),
            )
        })?;
        if version.constitution.model == GoverningModel::ReportingOnly {
            return Err(invalid(
                "date",
                "the constitution in force is reporting only: the cluster has no committee to meet",
            ));
        }
        let record = MeetingRecord::new(cluster, day, title, location);
        Ok(self.store.save_meeting(user.authority, &record).await?)
    }

    /// The meeting page, with restricted items withheld from those not entitled to them.
    pub async fn meeting(&self, user: &User, id: MeetingId) -> ServiceResult<MeetingView> {
        let ctx = self.meeting_ctx(user, id).await?;
        let today = self.clock.today();
        let (ev, problem) = match evaluate_meeting(&ctx, &ctx.record) {
            Ok(ev) => (Some(ev), None),
            Err(ServiceError::Invalid(why)) => (None, Some(why)),
            Err(e) => return Err(e),
        };
        let others = self.store.cluster_meetings(user.authority, ctx.record.cluster).await?;
        let pending: Vec<MeetingId> = others
            .iter()
            .flat_map(|m| m.items.iter().filter_map(|i| i.approves_minutes_of))
            .collect();
        let approvable = others
            .iter()
            .filter(|m| m.held_on < ctx.record.held_on && m.totals.held && m.minutes_text.is_some())
            .filter(|m| m.approved.is_none())
            .filter_map(|m| m.id.map(|id| (id, m)))
            .filter(|(id, _)| !pending.contains(id))
            .map(|(id, m)| (id, m.held_on, m.title.clone()))
            .collect();
        let dates: Vec<(MeetingId, NaiveDate)> = others.iter().filter_map(|m| m.id.map(|id| (id, m.held_on))).collect();
        let items = ctx
            .record
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let visible = ctx.access.sees(item);
                let shown = if visible {
                    item.clone()
                } else {
                    AgendaItem {
                        title: "Restricted item".into(),
                        restricted: true,
                        restricted_to: None,
                        papers: Vec::new(),
                        declarations: Vec::new(),
                        motion: None,
                        votes: Vec::new(),
                        casting_vote: None,
                        recorded_outcome: None,
                        approves_minutes_of: None,
                    }
                };
                ItemView {
                    number: i + 1,
                    visible,
                    approves: shown
                        .approves_minutes_of
                        .and_then(|a| dates.iter().find(|(id, _)| *id == a).copied()),
                    item: shown,
                    result: if visible {
                        ev.as_ref().and_then(|ev| ev.items.get(i).cloned())
                    } else {
                        None
                    },
                }
            })
            .collect();
        let elections = ctx
            .record
            .elections
            .iter()
            .enumerate()
            .map(|(i, e)| match run(e) {
                Ok((rounds, status)) => ElectionView {
                    number: i + 1,
                    record: e.clone(),
                    rounds,
                    status: Some(status),
                    error: None,
                },
                Err(err) => ElectionView {
                    number: i + 1,
                    record: e.clone(),
                    rounds: Vec::new(),
                    status: None,
                    error: Some(err.to_string()),
                },
            })
            .collect();
        let receipt_school = match ctx.access {
            Access::School(u)
                if ctx
                    .record
                    .distribution
                    .iter()
                    .any(|d| d.school == u && d.sent_on.is_some()) =>
            {
                Some(u)
            }
            _ => None,
        };
        let mut record = ctx.record.clone();
        if !ctx.access.may_run() {
            // Others read the minutes once approved; a draft stays with the clerk.
            if record.approved.is_none() {
                record.minutes_text = None;
            }
        }
        Ok(MeetingView {
            access: ctx.access,
            id,
            cluster: ctx.record.cluster,
            cluster_name: ctx.cluster_name.clone(),
            minutes: minutes_state(&ctx.record),
            voters: ev.as_ref().map(|ev| voters(&ctx, ev)).unwrap_or_default(),
            quorum: ev.as_ref().map(|ev| ev.quorum),
            term: Term::of(ctx.record.held_on),
            record,
            register: ctx.register,
            members: ctx.members,
            version: ctx.version,
            today,
            items,
            elections,
            approvable,
            problem,
            receipt_school,
        })
    }

    /// Records that the notice and agenda went out today.
    pub async fn send_notice(&self, user: &User, id: MeetingId) -> ServiceResult<()> {
        let ctx = self.meeting_to_change(user, id).await?;
        require_open(&ctx)?;
        let today = self.clock.today();
        if ctx.record.items.is_empty() {
            return Err(invalid(
                "notice",
                "add at least one agenda item before sending the notice",
            ));
        }
        if today > ctx.record.held_on {
            return Err(invalid(
                "notice",
                "the meeting has taken place: notice goes out before it",
            ));
        }
        let mut m = ctx.record.clone();
        m.notice_sent_on = Some(today);
        self.save_changed(user, &ctx, m).await.map(|_| ())
    }

    /// Adds an agenda item, with a paper when one is given; an item may approve the minutes of
    /// an earlier meeting of the committee.
    pub async fn add_agenda_item(&self, user: &User, id: MeetingId, input: &ItemInput) -> ServiceResult<usize> {
        let ctx = self.meeting_to_change(user, id).await?;
        require_open(&ctx)?;
        let approves = if input.approves.trim().is_empty() {
            None
        } else {
            let wanted: i64 = input
                .approves
                .trim()
                .parse()
                .map_err(|_| invalid("approves", "choose an earlier meeting"))?;
            let others = self.store.cluster_meetings(user.authority, ctx.record.cluster).await?;
            let earlier = others
                .iter()
                .find(|m| m.id == Some(MeetingId(wanted)))
                .ok_or_else(|| invalid("approves", "choose an earlier meeting of this committee"))?;
            if earlier.held_on >= ctx.record.held_on || !earlier.totals.held {
                return Err(invalid(
                    "approves",
                    "minutes are approved at a later meeting than the one they record",
                ));
            }
            if earlier.minutes_text.is_none() {
                return Err(invalid("approves", "that meeting's minutes have not been drafted yet"));
            }
            if earlier.approved.is_some() {
                return Err(invalid("approves", "that meeting's minutes are already approved"));
            }
            if let Some(on) = others
                .iter()
                .find(|m| m.items.iter().any(|i| i.approves_minutes_of == Some(MeetingId(wanted))))
            {
                return Err(invalid(
                    "approves",
                    format!(
                        "approving those minutes is already on the agenda of the meeting on {}",
                        on.held_on
                    ),
                ));
            }
            Some((MeetingId(wanted), earlier.held_on))
        };
        let title = match approves {
            Some((_, on)) if input.title.trim().is_empty() => {
                format!("Minutes of the meeting on {}", on.format("%-d %B %Y"))
            }
            _ => text_field("title", &input.title, 200, true)?,
        };
        let restricted_to = parse_opt_urn("restricted_to", &input.restricted_to)?;
        if let Some(u) = restricted_to
            && !ctx.members.iter().any(|m| m.urn == u)
        {
            return Err(invalid(
                "restricted_to",
                format!("school {u} is not a member of this cluster"),
            ));
        }
        let restricted = input.restricted || restricted_to.is_some();
        if restricted && approves.is_some() {
            return Err(invalid(
                "restricted",
                "the approval of minutes is open business, not restricted",
            ));
        }
        let mut papers = Vec::new();
        if !input.paper_title.trim().is_empty() || !input.paper_text.trim().is_empty() {
            papers.push(Paper {
                title: text_field("paper_title", &input.paper_title, 200, true)?,
                text: text_field("paper_text", &input.paper_text, 20_000, true)?,
            });
        }
        let mut m = ctx.record.clone();
        m.items.push(AgendaItem {
            title,
            restricted,
            restricted_to,
            papers,
            declarations: Vec::new(),
            motion: None,
            votes: Vec::new(),
            casting_vote: None,
            recorded_outcome: None,
            approves_minutes_of: approves.map(|(id, _)| id),
        });
        let n = m.items.len();
        self.save_changed(user, &ctx, m).await?;
        Ok(n)
    }

    /// Adds a paper (a title and its text) to an item.
    pub async fn add_paper(
        &self,
        user: &User,
        id: MeetingId,
        item: &str,
        title: &str,
        text: &str,
    ) -> ServiceResult<()> {
        let ctx = self.meeting_to_change(user, id).await?;
        require_open(&ctx)?;
        let i = item_index(item, &ctx.record)?;
        let mut m = ctx.record.clone();
        m.items[i].papers.push(Paper {
            title: text_field("paper_title", title, 200, true)?,
            text: text_field("paper_text", text, 20_000, true)?,
        });
        self.save_changed(user, &ctx, m).await.map(|_| ())
    }

    /// Records attendance whole: (person id, `present`/`apologies`/`absent`/empty, URN of the
    /// school a substitute stands in for or empty). Takes the meeting's roll from the register.
    pub async fn record_attendance(
        &self,
        user: &User,
        id: MeetingId,
        rows: &[(String, String, String)],
    ) -> ServiceResult<()> {
        let ctx = self.meeting_to_change(user, id).await?;
        require_open(&ctx)?;
        if ctx.record.held_on > self.clock.today() {
            return Err(invalid(
                "attendance",
                format!(
                    "attendance is recorded on or after the day of the meeting ({})",
                    ctx.record.held_on
                ),
            ));
        }
        let roll = if ctx.record.roll.is_empty() {
            ctx.register.seats.clone()
        } else {
            ctx.record.roll.clone()
        };
        let seats = domain_seats(&roll, &ctx.urns(), ctx.record.held_on);
        let mut attendance: Vec<AttendanceRecord> = Vec::new();
        for (person, status, substitute_for) in rows {
            if status.trim().is_empty() {
                continue;
            }
            let p = parse_person("person", person, &ctx.register)?;
            let name = ctx.register.name_of(p);
            let status = Attendance::parse(status)
                .ok_or_else(|| invalid(&format!("status for {name}"), "choose present, apologies or absent"))?;
            let substitute_for = parse_opt_urn(&format!("substitute_for for {name}"), substitute_for)?;
            if let Some(u) = substitute_for {
                let holds = seats.iter().any(|s| {
                    s.kind == SeatKind::Substitute && s.school == Some(u) && s.status == SeatStatus::Filled(p)
                });
                if !holds {
                    return Err(invalid(
                        &format!("substitute_for for {name}"),
                        format!("{name} does not hold the substitute seat for school {u}"),
                    ));
                }
            }
            if attendance.iter().any(|a| a.person == p) {
                return Err(invalid("person", format!("{name} is listed twice")));
            }
            attendance.push(AttendanceRecord {
                person: p,
                status,
                substitute_for: substitute_for.filter(|_| status == Attendance::Present),
            });
        }
        let mut m = ctx.record.clone();
        m.attendance = attendance;
        m.roll = roll;
        self.save_changed(user, &ctx, m).await.map(|_| ())
    }

    /// Records a declaration of interest on an item (replacing that person's earlier one).
    pub async fn declare_interest(
        &self,
        user: &User,
        id: MeetingId,
        item: &str,
        input: &DeclarationInput,
    ) -> ServiceResult<()> {
        let ctx = self.meeting_to_change(user, id).await?;
        require_open(&ctx)?;
        require_held(&ctx)?;
        let i = item_index(item, &ctx.record)?;
        let p = parse_person("person", &input.person, &ctx.register)?;
        if !present(&ctx.record).any(|x| x == p) {
            return Err(invalid(
                "person",
                format!("{} is not recorded as present", ctx.register.name_of(p)),
            ));
        }
        let interest = text_field("interest", &input.interest, 500, true)?;
        let mut m = ctx.record.clone();
        let decl = &mut m.items[i].declarations;
        decl.retain(|d| d.person != p);
        decl.push(DeclarationRecord {
            person: p,
            interest,
            withdraws: input.withdraws,
        });
        self.save_changed(user, &ctx, m).await.map(|_| ())
    }

    /// Puts a motion on an item: its words, a proposer and a different seconder, both present
    /// and not withdrawn from the item.
    pub async fn propose_motion(
        &self,
        user: &User,
        id: MeetingId,
        item: &str,
        input: &MotionInput,
    ) -> ServiceResult<()> {
        let ctx = self.meeting_to_change(user, id).await?;
        require_open(&ctx)?;
        require_held(&ctx)?;
        let i = item_index(item, &ctx.record)?;
        if ctx.record.items[i].recorded_outcome.is_some() {
            return Err(invalid(
                "motion",
                "the votes on this item are recorded: clear them first",
            ));
        }
        let text = text_field("text", &input.text, 2_000, true)?;
        let proposer = parse_person("proposer", &input.proposer, &ctx.register)?;
        let seconder = parse_person("seconder", &input.seconder, &ctx.register)?;
        if proposer == seconder {
            return Err(invalid("seconder", "a motion needs a seconder other than its proposer"));
        }
        let withdrawn: Vec<PersonId> = ctx.record.items[i]
            .declarations
            .iter()
            .filter(|d| d.withdraws)
            .map(|d| d.person)
            .collect();
        for (field, p) in [("proposer", proposer), ("seconder", seconder)] {
            if !present(&ctx.record).any(|x| x == p) || withdrawn.contains(&p) {
                return Err(invalid(
                    field,
                    format!(
                        "{} must be present and not withdrawn from this item",
                        ctx.register.name_of(p)
                    ),
                ));
            }
        }
        let mut m = ctx.record.clone();
        m.items[i].motion = Some(MotionRecord {
            text,
            proposer,
            seconder,
        });
        m.items[i].votes.clear();
        m.items[i].casting_vote = None;
        self.save_changed(user, &ctx, m).await.map(|_| ())
    }

    /// Records the votes on an item's motion, one per school, with the chair's casting vote
    /// where the constitution gives one, and the result the chair declared. The outcome is the
    /// constitution's: a declared result that does not follow from the votes is refused, and
    /// business on an inquorate item is never recorded as carried.
    pub async fn record_votes(
        &self,
        user: &User,
        id: MeetingId,
        item: &str,
        input: &VotesInput,
    ) -> ServiceResult<Outcome> {
        let ctx = self.meeting_to_change(user, id).await?;
        require_open(&ctx)?;
        require_held(&ctx)?;
        let i = item_index(item, &ctx.record)?;
        let n = i + 1;
        if ctx.record.items[i].motion.is_none() {
            return Err(invalid("motion", format!("item {n} has no motion: propose one first")));
        }
        if ctx.record.items[i].recorded_outcome.is_some() {
            return Err(invalid(
                "votes",
                format!("the votes on item {n} are recorded: clear them first to record them again"),
            ));
        }
        let mut votes = Vec::new();
        for (school, choice) in &input.votes {
            if choice.trim().is_empty() {
                continue;
            }
            let u = Urn::parse(school).map_err(|e| invalid("votes", e))?;
            let c = Choice::parse(choice)
                .ok_or_else(|| invalid(&format!("vote for school {u}"), "choose for, against or abstain"))?;
            votes.push((u, c));
        }
        if votes.is_empty() {
            return Err(invalid("votes", "record each school's vote"));
        }
        let casting = match input.casting_vote.trim() {
            "" | "none" => None,
            c => Some(
                Choice::parse(c)
                    .filter(|c| *c != Choice::Abstain)
                    .ok_or_else(|| invalid("casting_vote", "a casting vote is for or against"))?,
            ),
        };
        let mut m = ctx.record.clone();
        m.items[i].votes = votes;
        m.items[i].casting_vote = casting;
        let ev = evaluate_meeting(&ctx, &m)?;
        let r = &ev.items[i];
        if let Some(e) = &r.error {
            return Err(invalid("votes", e));
        }
        let (outcome, tally) = r
            .outcome
            .ok_or_else(|| ServiceError::Unexpected("a motion without an outcome".into()))?;
        let counts = format!("{} for, {} against", tally.for_votes, tally.against);
        let declared = input.declared.trim();
        let mismatch = match (declared, outcome) {
            ("carried", o) if o.is_carried() => None,
            ("lost", Outcome::Lost | Outcome::LostOnCastingVote) => None,
            ("no_decision", Outcome::Tied | Outcome::Inquorate) => None,
            ("carried" | "lost", Outcome::Inquorate) => Some(format!(
                "item {n} is not quorate ({} of {} member schools needed can vote after withdrawals): business on an inquorate item cannot be recorded as {}",
                r.quorum.present,
                r.quorum.required,
                if declared == "lost" { "lost" } else { "carried" }
            )),
            ("carried" | "lost", Outcome::Tied) => {
                Some(if ctx.version.as_ref().is_some_and(|v| v.constitution.casting_vote) {
                    format!("the votes are tied ({counts}): record the chair's casting vote to decide it")
                } else {
                    format!(
                        "the votes are tied ({counts}) and the constitution gives the chair no casting vote: no decision"
                    )
                })
            }
            ("carried" | "lost" | "no_decision", o) => Some(format!(
                "the votes give {} ({counts}), not {}",
                o.label().to_lowercase(),
                declared.replace('_', " ")
            )),
            _ => Some("choose the result the chair declared: carried, lost or no decision".into()),
        };
        if let Some(why) = mismatch {
            return Err(invalid("declared", why));
        }
        m.items[i].recorded_outcome = Some(outcome);
        self.save_changed(user, &ctx, m).await?;
        Ok(outcome)
    }

    /// Clears an item's votes (to correct the record before the minutes are approved).
    pub async fn clear_votes(&self, user: &User, id: MeetingId, item: &str) -> ServiceResult<()> {
        let ctx = self.meeting_to_change(user, id).await?;
        require_open(&ctx)?;
        let i = item_index(item, &ctx.record)?;
        if let Some(approved) = ctx.record.items[i].approves_minutes_of {
            let earlier = self.store.meeting(user.authority, approved).await?;
            if earlier.is_some_and(|e| e.distribution.iter().any(|d| d.sent_on.is_some())) {
                return Err(invalid(
                    "votes",
                    "the minutes this item approved have gone to the governing bodies: the approval stands",
                ));
            }
        }
        let mut m = ctx.record.clone();
        m.items[i].votes.clear();
        m.items[i].casting_vote = None;
        m.items[i].recorded_outcome = None;
        self.save_changed(user, &ctx, m).await.map(|_| ())
    }

    /// Opens an election of chair or vice-chair among voting governors, with its tie rule.
    pub async fn start_election(&self, user: &User, id: MeetingId, input: &ElectionInput) -> ServiceResult<usize> {
        let ctx = self.meeting_to_change(user, id).await?;
        require_open(&ctx)?;
        require_held(&ctx)?;
        let office =
            Office::parse(input.office.trim()).ok_or_else(|| invalid("office", "choose chair or vice-chair"))?;
        if let Some(v) = &ctx.version {
            let k = &v.constitution;
            if office == Office::Chair && k.chair != ChairRule::ElectedAnnually {
                return Err(invalid(
                    "office",
                    format!(
                        "the constitution in force does not elect its chair ({})",
                        k.chair.code().replace('_', " ")
                    ),
                ));
            }
            if office == Office::ViceChair && !k.vice_chair {
                return Err(invalid("office", "the constitution in force has no vice-chair"));
            }
        }
        if ctx.record.elections.iter().any(|e| e.office == office) {
            return Err(invalid(
                "office",
                format!(
                    "this meeting already has an election of {}",
                    office.label().to_lowercase()
                ),
            ));
        }
        let seats = ctx.seats();
        let mut candidates = Vec::new();
        for c in &input.candidates {
            if c.trim().is_empty() {
                continue;
            }
            let p = parse_person("candidates", c, &ctx.register)?;
            let voting = seats
                .iter()
                .any(|s| s.kind == SeatKind::VotingGovernor && s.status == SeatStatus::Filled(p));
            if !voting {
                return Err(invalid(
                    "candidates",
                    format!(
                        "{} does not hold a voting governor seat: the chair and vice-chair are elected from the voting governors",
                        ctx.register.name_of(p)
                    ),
                ));
            }
            if !candidates.contains(&p) {
                candidates.push(p);
            }
        }
        if candidates.is_empty() {
            return Err(invalid("candidates", "choose at least one candidate"));
        }
        let tie_rule = match input.tie_rule.trim() {
            // Lots are drawn from a seed recorded in the minutes, so anyone can check the draw.
            "lot" => TieRule::Lot {
                seed: rand::thread_rng().gen_range(100_000..1_000_000),
            },
            "chair_decides" => TieRule::ChairDecides,
            _ => return Err(invalid("tie_rule", "choose drawing lots or the chair decides")),
        };
        let mut m = ctx.record.clone();
        m.elections.push(ElectionRecord {
            office,
            candidates,
            tie_rule,
            rounds: Vec::new(),
            elected: None,
        });
        let n = m.elections.len();
        self.save_changed(user, &ctx, m).await?;
        Ok(n)
    }

    /// Records a round of ballots: (school URN, candidate id or empty) pairs.
    pub async fn record_ballots(
        &self,
        user: &User,
        id: MeetingId,
        election: &str,
        ballots: &[(String, String)],
    ) -> ServiceResult<()> {
        let ctx = self.meeting_to_change(user, id).await?;
        require_open(&ctx)?;
        let e = election_index(election, &ctx.record)?;
        let ev = evaluate_meeting(&ctx, &ctx.record)?;
        let status = run(&ctx.record.elections[e]).map_err(|err| invalid("election", err))?;
        let ElectionStatus::AwaitingBallots { standing, .. } = status.1 else {
            return Err(invalid("election", "this election is not waiting for ballots"));
        };
        let mut round = ElectionRoundRecord::default();
        for (school, person) in ballots {
            if person.trim().is_empty() {
                continue;
            }
            let u = Urn::parse(school).map_err(|err| invalid("ballots", err))?;
            if !ev.voting.contains(&u) {
                return Err(invalid(
                    &format!("ballot for school {u}"),
                    "the school is not represented by a voter at this meeting",
                ));
            }
            let p = parse_person(&format!("ballot for school {u}"), person, &ctx.register)?;
            if !standing.contains(&p) {
                return Err(invalid(
                    &format!("ballot for school {u}"),
                    format!("{} is not standing in this round", ctx.register.name_of(p)),
                ));
            }
            round.ballots.push((u, p));
        }
        if round.ballots.is_empty() {
            return Err(invalid("ballots", "record each school's ballot"));
        }
        let mut m = ctx.record.clone();
        m.elections[e].rounds.push(round);
        self.save_changed(user, &ctx, m).await.map(|_| ())
    }

    /// Records the chair's choice on a tied round (when the tie rule is the chair's).
    pub async fn record_chair_pick(
        &self,
        user: &User,
        id: MeetingId,
        election: &str,
        person: &str,
    ) -> ServiceResult<()> {
        let ctx = self.meeting_to_change(user, id).await?;
        require_open(&ctx)?;
        let e = election_index(election, &ctx.record)?;
        let p = parse_person("person", person, &ctx.register)?;
        let (_, status) = run(&ctx.record.elections[e]).map_err(|err| invalid("election", err))?;
        let ElectionStatus::AwaitingChairPick { tied, .. } = status else {
            return Err(invalid("person", "this election has no tie for the chair to decide"));
        };
        if !tied.contains(&p) {
            return Err(invalid(
                "person",
                format!("{} is not one of the tied candidates", ctx.register.name_of(p)),
            ));
        }
        let mut m = ctx.record.clone();
        if let Some(last) = m.elections[e].rounds.last_mut() {
            last.chair_pick = Some(p);
        }
        self.save_changed(user, &ctx, m).await.map(|_| ())
    }

    /// Records an action with its owner and due day.
    pub async fn add_action(&self, user: &User, id: MeetingId, input: &ActionInput) -> ServiceResult<()> {
        let ctx = self.meeting_to_change(user, id).await?;
        require_open(&ctx)?;
        let text = text_field("text", &input.text, 500, true)?;
        let owner = parse_person("owner", &input.owner, &ctx.register)?;
        let due_on = parse_date("due_on", &input.due_on)?;
        if due_on < ctx.record.held_on {
            return Err(invalid("due_on", "an action falls due on or after the meeting"));
        }
        let mut m = ctx.record.clone();
        m.actions.push(ActionRecord {
            text,
            owner,
            due_on,
            done_on: None,
        });
        self.save_changed(user, &ctx, m).await.map(|_| ())
    }

    /// Marks action `number` done today (allowed after the minutes are approved: it is follow-up).
    pub async fn complete_action(&self, user: &User, id: MeetingId, number: &str) -> ServiceResult<()> {
        let ctx = self.meeting_to_change(user, id).await?;
        let i = number
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=ctx.record.actions.len()).contains(n))
            .ok_or_else(|| invalid("action", "choose an action of this meeting"))?
            - 1;
        let mut m = ctx.record.clone();
        if m.actions[i].done_on.is_some() {
            return Err(invalid("action", "the action is already done"));
        }
        m.actions[i].done_on = Some(self.clock.today());
        self.save_changed(user, &ctx, m).await.map(|_| ())
    }

    /// Writes the draft minutes from the record (replacing an earlier draft).
    pub async fn draft_minutes(&self, user: &User, id: MeetingId) -> ServiceResult<()> {
        let ctx = self.meeting_to_change(user, id).await?;
        require_open(&ctx)?;
        require_held(&ctx)?;
        let ev = evaluate_meeting(&ctx, &ctx.record)?;
        let mut m = ctx.record.clone();
        m.minutes_text = Some(super::minutes::draft(&ctx, &ev));
        m.minutes_drafted_on = Some(self.clock.today());
        self.save_changed(user, &ctx, m).await.map(|_| ())
    }

    /// Saves the clerk's edit of the minutes.
    pub async fn save_minutes(&self, user: &User, id: MeetingId, text: &str) -> ServiceResult<()> {
        let ctx = self.meeting_to_change(user, id).await?;
        require_open(&ctx)?;
        require_held(&ctx)?;
        let text = text_field("minutes", text, 100_000, true)?;
        let mut m = ctx.record.clone();
        m.minutes_text = Some(text);
        m.minutes_drafted_on.get_or_insert(self.clock.today());
        self.save_changed(user, &ctx, m).await.map(|_| ())
    }

    /// Sends approved minutes to every member governing body (as members on the meeting day).
    pub async fn distribute_minutes(&self, user: &User, id: MeetingId) -> ServiceResult<usize> {
        let ctx = self.meeting_to_change(user, id).await?;
        if ctx.record.minutes_text.is_none() {
            return Err(invalid("minutes", "the minutes have not been drafted"));
        }
        if ctx.record.approved.is_none() {
            return Err(invalid(
                "minutes",
                "the minutes have not been approved: they go to the governing bodies once a later meeting approves them (add an approval item to the next meeting's agenda)",
            ));
        }
        let today = self.clock.today();
        let mut m = ctx.record.clone();
        let mut sent = 0;
        for school in &ctx.members {
            match m.distribution.iter_mut().find(|d| d.school == school.urn) {
                Some(d) if d.sent_on.is_some() => {}
                Some(d) => {
                    d.sent_on = Some(today);
                    sent += 1;
                }
                None => {
                    m.distribution.push(Distribution {
                        school: school.urn,
                        sent_on: Some(today),
                        received_on: None,
                        adopted_on: None,
                    });
                    sent += 1;
                }
            }
        }
        if sent == 0 {
            return Err(invalid(
                "minutes",
                "the minutes have already gone to every member governing body",
            ));
        }
        self.save_changed(user, &ctx, m).await?;
        Ok(sent)
    }

    /// A head or governor records that their school received the minutes and, when it has,
    /// that its governing body adopted them.
    pub async fn record_minutes_receipt(&self, user: &User, id: MeetingId, input: &ReceiptInput) -> ServiceResult<()> {
        let ctx = self.meeting_ctx(user, id).await?;
        let Access::School(school) = ctx.access else {
            return Err(ServiceError::Forbidden(
                "a school's receipt and adoption of minutes is recorded by its headteacher or a governor".into(),
            ));
        };
        let today = self.clock.today();
        let mut m = ctx.record.clone();
        let d = m
            .distribution
            .iter_mut()
            .find(|d| d.school == school && d.sent_on.is_some())
            .ok_or_else(|| invalid("received_on", "the minutes have not been sent to your school yet"))?;
        let received = parse_date("received_on", &input.received_on)?;
        let adopted = parse_opt_date("adopted_on", &input.adopted_on)?;
        if let Some(sent) = d.sent_on
            && received < sent
        {
            return Err(invalid(
                "received_on",
                format!("the minutes were sent on {sent}: receipt cannot be earlier"),
            ));
        }
        if received > today || adopted.is_some_and(|a| a > today) {
            return Err(invalid(
                if received > today { "received_on" } else { "adopted_on" },
                "a date in the future cannot be recorded",
            ));
        }
        if let Some(a) = adopted
            && a < received
        {
            return Err(invalid(
                "adopted_on",
                "the governing body adopts the minutes after receiving them",
            ));
        }
        d.received_on = Some(received);
        d.adopted_on = adopted.or(d.adopted_on);
        self.save_changed(user, &ctx, m).await.map(|_| ())
    }
}

/// What recording one school's vote did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolVote {
    pub item: usize,
    pub school: Urn,
    pub choice: Choice,
    /// `false`: the school's vote was already this (nothing was written).
    pub changed: bool,
}

/// How often a step retries when another save of the same meeting came first.
const SAVE_ATTEMPTS: usize = 20;

impl Service {
    /// Refuses (403 or 404) unless the user runs this meeting's committee: the check a caller
    /// gets before the body of its request is judged.
    pub async fn may_run_meeting(&self, user: &User, id: MeetingId) -> ServiceResult<()> {
        self.meeting_to_change(user, id).await.map(|_| ())
    }

    /// Adds an agenda item with a motion on it, in one save: its title, the motion's words, a
    /// proposer and a different seconder, both present. Returns the item's number.
    pub async fn add_motion(
        &self,
        user: &User,
        id: MeetingId,
        title: &str,
        input: &MotionInput,
    ) -> ServiceResult<usize> {
        for _ in 0..SAVE_ATTEMPTS {
            let ctx = self.meeting_to_change(user, id).await?;
            require_open(&ctx)?;
            require_held(&ctx)?;
            let title = text_field("title", title, 200, true)?;
            let text = text_field("text", &input.text, 2_000, true)?;
            let proposer = parse_person("proposer", &input.proposer, &ctx.register)?;
            let seconder = parse_person("seconder", &input.seconder, &ctx.register)?;
            if proposer == seconder {
                return Err(invalid("seconder", "a motion needs a seconder other than its proposer"));
            }
            for (field, p) in [("proposer", proposer), ("seconder", seconder)] {
                if !present(&ctx.record).any(|x| x == p) {
                    return Err(invalid(
                        field,
                        format!("{} must be present at the meeting", ctx.register.name_of(p)),
                    ));
                }
            }
            let mut m = ctx.record.clone();
            m.items.push(AgendaItem {
                title,
                restricted: false,
                restricted_to: None,
                papers: Vec::new(),
                declarations: Vec::new(),
                motion: Some(MotionRecord {
                    text,
                    proposer,
                    seconder,
                }),
                votes: Vec::new(),
                casting_vote: None,
                recorded_outcome: None,
                approves_minutes_of: None,
            });
            let n = m.items.len();
            match self.save_changed(user, &ctx, m).await {
                Err(ServiceError::Conflict(_)) => continue,
                other => return other.map(|_| n),
            }
        }
        Err(ServiceError::Conflict(
            "the meeting is busy with other changes: try again".into(),
        ))
    }

    /// Records one school's vote on an item's motion before its result is declared, replacing
    /// that school's earlier vote (one vote per school). Recording the same vote again changes
    /// nothing, so a retry is harmless. When another save of the meeting lands first, the vote is
    /// applied again to the record as it then stands, so concurrent votes are never lost.
    pub async fn record_school_vote(
        &self,
        user: &User,
        id: MeetingId,
        item: &str,
        school: &str,
        choice: &str,
    ) -> ServiceResult<SchoolVote> {
        let school = Urn::parse(school.trim()).map_err(|e| invalid("school", e))?;
        let choice = Choice::parse(choice.trim()).ok_or_else(|| invalid("choice", "choose for, against or abstain"))?;
        for _ in 0..SAVE_ATTEMPTS {
            let ctx = self.meeting_to_change(user, id).await?;
            require_open(&ctx)?;
            require_held(&ctx)?;
            let i = item_index(item, &ctx.record)?;
            let n = i + 1;
            let it = &ctx.record.items[i];
            if it.motion.is_none() {
                return Err(invalid("motion", format!("item {n} has no motion: propose one first")));
            }
            if it.recorded_outcome.is_some() {
                return Err(ServiceError::Conflict(format!(
                    "votes: the result of item {n} is declared and recorded; clear its votes to record them again"
                )));
            }
            if it.votes.iter().any(|(u, c)| *u == school && *c == choice) {
                return Ok(SchoolVote {
                    item: n,
                    school,
                    choice,
                    changed: false,
                });
            }
            let mut m = ctx.record.clone();
            m.items[i].votes.retain(|(u, _)| *u != school);
            m.items[i].votes.push((school, choice));
            m.items[i].votes.sort_by_key(|(u, _)| *u);
            let ev = evaluate_meeting(&ctx, &m)?;
            if let Some(e) = &ev.items[i].error {
                return Err(invalid("school", e));
            }
            match self.save_changed(user, &ctx, m).await {
                Err(ServiceError::Conflict(_)) => continue,
                Err(e) => return Err(e),
                Ok(_) => {
                    return Ok(SchoolVote {
                        item: n,
                        school,
                        choice,
                        changed: true,
                    });
                }
            }
        }
        Err(ServiceError::Conflict(
            "the meeting is busy with other changes: try again".into(),
        ))
    }
}

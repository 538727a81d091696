//! The committee at work: its people and seats, its meetings by term, a meeting page where the
//! clerk records the business step by step, and the printable minutes. Every form is a plain
//! POST with the session's CSRF token; a refused step shows the page again with the rule broken.

use crate::AppState;
use crate::error::WebError;
use crate::format::date;
use crate::pages::{Chrome, chrome};
use crate::session::check_csrf;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use domain::governance::meeting::Attendance;
use domain::governance::{ElectionRound, ElectionStatus, Outcome, SeatKind, TieRule};
use domain::ids::{ClusterId, MeetingId, PersonId, Urn};
use service::ServiceError;
use service::auth::CurrentSession;
use service::meetings::{
    ActionInput, CommitteeView, ConstitutionInput, DeclarationInput, ElectionInput, ItemInput, MeetingView,
    MinutesState, MotionInput, PersonInput, ReceiptInput, ScheduleInput, SeatInput, VotesInput, seat_label,
};

/// A form's fields in order (repeated names kept, so a doubled vote is seen, not lost).
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }
    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
    fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }
    /// Pairs whose name starts `prefix`, with the rest of the name: `vote_121001=for`.
    fn prefixed(&self, prefix: &str) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|rest| (rest.to_string(), v.clone())))
            .collect()
    }
}

fn render(t: &impl Template, status: StatusCode) -> Result<Response, WebError> {
    Ok((status, Html(t.render()?)).into_response())
}

fn synthetic(names: impl IntoIterator<Item = String>) -> bool {
    names.into_iter().any(|n| n.ends_with("(synthetic)"))
}

fn cluster_id(s: &str) -> Result<ClusterId, WebError> {
    s.parse().map(ClusterId).map_err(|_| WebError::not_found())
}

fn meeting_id(s: &str) -> Result<MeetingId, WebError> {
    s.parse().map(MeetingId).map_err(|_| WebError::not_found())
}

#[derive(Debug)]
pub(crate) struct Choice {
    value: String,
    label: String,
}

fn choice(value: impl ToString, label: impl Into<String>) -> Choice {
    Choice {
        value: value.to_string(),
        label: label.into(),
    }
}

// ---- the committee page ----

#[derive(Debug)]
pub(crate) struct SeatRow {
    number: usize,
    kind: &'static str,
    school: String,
    holder: String,
    term: String,
    status: &'static str,
    tag: &'static str,
    filled: bool,
    suspended: bool,
}

#[derive(Debug)]
pub(crate) struct PersonRow {
    name: String,
    governor_of: String,
    works_at: String,
    seats: String,
}

#[derive(Debug)]
pub(crate) struct VersionRow {
    version: u32,
    from: String,
    name: String,
    quorum: String,
    casting: &'static str,
    current: bool,
}

#[derive(Template)]
#[template(path = "committee.html")]
struct CommitteePage {
    chrome: Chrome,
    id: ClusterId,
    name: String,
    synthetic: bool,
    error: Option<String>,
    may_run: bool,
    facts: Vec<(&'static str, String)>,
    flags: Vec<String>,
    breaches: Vec<String>,
    seats: Vec<SeatRow>,
    people: Vec<PersonRow>,
    versions: Vec<VersionRow>,
    schools: Vec<Choice>,
    persons: Vec<Choice>,
    kinds: Vec<Choice>,
    today: String,
}

fn committee_page(c: &CommitteeView, chrome: Chrome, error: Option<String>) -> CommitteePage {
    let r = &c.register;
    let name = |p: Option<PersonId>| p.map_or_else(|| "Vacant".to_string(), |p| r.name_of(p));
    let member_count = c.members.len();
    let mut facts = Vec::new();
    match &c.in_force {
        Some(v) => {
            let k = &v.constitution;
            let filled = u32::try_from(
                r.seats
                    .iter()
                    .filter(|s| s.kind == SeatKind::VotingGovernor && s.person.is_some() && !s.suspended)
                    .count(),
            )
            .unwrap_or(0);
            let needed = k.quorum.required(u32::try_from(member_count).unwrap_or(0), filled);
            facts.push((
                "Constitution in force",
                format!("{} (version {}, from {})", k.name, v.version, date(v.effective_from)),
            ));
            facts.push((
                "Quorum",
                format!(
                    "{}: {needed} of {member_count} member schools",
                    capitalise(&k.quorum.describe())
                ),
            ));
            facts.push((
                "Chair's casting vote",
                if k.casting_vote {
                    "Yes, on a tie"
                } else {
                    "No: a tie is no decision"
                }
                .into(),
            ));
            facts.push((
                "Minutes",
                format!(
                    "Approved at the next meeting, then to every governing body within {} days",
                    k.minutes_within_days
                ),
            ));
        }
        None => facts.push(("Constitution in force", "None: adopt one below".into())),
    }
    let officer = |o: Option<service::meetings::Officer>| {
        o.map_or_else(
            || "None in post".to_string(),
            |o| match o.elected_at {
                Some((_, on)) => format!("{} (elected {})", r.name_of(o.person), date(on)),
                None => r.name_of(o.person),
            },
        )
    };
    facts.push(("Chair", officer(r.chair)));
    facts.push(("Vice-chair", officer(r.vice_chair)));
    facts.push((
        "Last governance review",
        r.last_review.map_or_else(|| "None recorded".into(), date),
    ));
    let seats = r
        .seats
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let ended = s.term_to.is_some_and(|t| t < c.today);
            let (status, tag) = match (s.person, s.suspended, ended) {
                (None, _, _) => ("Vacant", "govuk-tag--yellow"),
                (Some(_), true, _) => ("Suspended", "govuk-tag--red"),
                (Some(_), false, true) => ("Term ended", "govuk-tag--yellow"),
                (Some(_), false, false) => ("Filled", "govuk-tag--green"),
            };
            SeatRow {
                number: i + 1,
                kind: seat_label(s.kind),
                school: s.school.map_or_else(|| "–".into(), |u| c.school_name(u)),
                holder: name(s.person),
                term: match (s.term_from, s.term_to) {
                    (Some(f), Some(t)) => format!("{} to {}", date(f), date(t)),
                    (Some(f), None) => format!("from {}", date(f)),
                    (None, Some(t)) => format!("to {}", date(t)),
                    (None, None) => "–".into(),
                },
                status,
                tag,
                filled: s.person.is_some(),
                suspended: s.suspended,
            }
        })
        .collect();
    let people = r
        .people
        .iter()
        .map(|p| PersonRow {
            name: p.details.name.clone(),
            governor_of: if p.details.governor_of.is_empty() {
                "–".into()
            } else {
                p.details
                    .governor_of
                    .iter()
                    .map(|u| c.school_name(*u))
                    .collect::<Vec<_>>()
                    .join("; ")
            },
            works_at: match (p.details.works_at, p.details.head_of) {
                (Some(u), Some(_)) => format!("Headteacher, {}", c.school_name(u)),
                (Some(u), None) => c.school_name(u),
                _ => "–".into(),
            },
            seats: {
                let held: Vec<String> = r
                    .seats
                    .iter()
                    .filter(|s| s.person == Some(p.id))
                    .map(|s| seat_label(s.kind).to_string())
                    .collect();
                if held.is_empty() {
                    "None".into()
                } else {
                    held.join("; ")
                }
            },
        })
        .collect();
    let current = c.in_force.as_ref().map(|v| v.version);
    let versions = r
        .versions
        .iter()
        .rev()
        .map(|v| VersionRow {
            version: v.version,
            from: date(v.effective_from),
            name: v.constitution.name.clone(),
            quorum: capitalise(&v.constitution.quorum.describe()),
            casting: if v.constitution.casting_vote { "Yes" } else { "No" },
            current: Some(v.version) == current,
        })
        .collect();
    CommitteePage {
        chrome,
        id: c.cluster,
        name: c.cluster_name.clone(),
        synthetic: synthetic(r.people.iter().map(|p| p.details.name.clone())),
        error,
        may_run: c.access.may_run(),
        facts,
        flags: c.notes.iter().filter(|n| n.flag).map(|n| n.text.clone()).collect(),
        breaches: c.notes.iter().filter(|n| !n.flag).map(|n| n.text.clone()).collect(),
        seats,
        people,
        versions,
        schools: c
            .members
            .iter()
            .map(|m| choice(m.urn, format!("{} ({})", m.name, m.urn)))
            .collect(),
        persons: r.people.iter().map(|p| choice(p.id, p.details.name.clone())).collect(),
        kinds: [
            SeatKind::VotingGovernor,
            SeatKind::Substitute,
            SeatKind::Headteacher,
            SeatKind::Clerk,
            SeatKind::AuthorityLinkOfficer,
            SeatKind::Observer,
        ]
        .into_iter()
        .map(|k| choice(k.code(), capitalise(seat_label(k))))
        .collect(),
        today: c.today.to_string(),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().collect::<String>() + c.as_str())
}

async fn show_committee(
    app: &AppState,
    session: &CurrentSession,
    id: ClusterId,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let c = app.service.committee(&session.user, id).await?;
    render(
        &committee_page(&c, chrome(app, session, "/governance").await?, error),
        status,
    )
}

pub(crate) async fn committee(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    show_committee(&app, &session, cluster_id(&id)?, None, StatusCode::OK).await
}

pub(crate) async fn committee_post(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let id = cluster_id(&id)?;
    let f = Fields(form);
    check_csrf(&session, f.get("csrf_token"))?;
    let (s, u) = (&app.service, &session.user);
    let person = || PersonInput {
        name: f.get("name").into(),
        governor_of: f.get("governor_of").into(),
        works_at: f.get("works_at").into(),
        is_head: f.checked("is_head"),
    };
    let (result, anchor) = match action.as_str() {
        "people" => (s.add_committee_person(u, id, &person()).await.map(|_| ()), "people"),
        "seats" => (
            s.add_committee_seat(
                u,
                id,
                &SeatInput {
                    kind: f.get("kind").into(),
                    school: f.get("school").into(),
                    person: f.get("person").into(),
                    term_from: f.get("term_from").into(),
                    term_to: f.get("term_to").into(),
                },
            )
            .await,
            "seats",
        ),
        "seat" => (
            s.change_committee_seat(u, id, f.get("seat"), f.get("action"), f.get("person"))
                .await,
            "seats",
        ),
        "constitution" => (
            s.adopt_constitution(
                u,
                id,
                &ConstitutionInput {
                    preset: f.get("preset").into(),
                    casting_vote: f.checked("casting_vote"),
                    effective_from: f.get("effective_from").into(),
                },
            )
            .await,
            "constitution",
        ),
        "review" => (s.record_governance_review(u, id, f.get("reviewed_on")).await, "summary"),
        _ => return Err(WebError::not_found()),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/clusters/{id}/committee#{anchor}")).into_response()),
        Err(ServiceError::Invalid(m)) => {
            show_committee(&app, &session, id, Some(m), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---- the list of meetings ----

#[derive(Debug)]
pub(crate) struct MeetingRow {
    id: MeetingId,
    date: String,
    title: String,
    status: &'static str,
    tag: &'static str,
    minutes: &'static str,
}

#[derive(Debug)]
pub(crate) struct TermBlock {
    label: String,
    rows: Vec<MeetingRow>,
}

#[derive(Template)]
#[template(path = "meetings.html")]
struct MeetingsPage {
    chrome: Chrome,
    id: ClusterId,
    name: String,
    error: Option<String>,
    may_run: bool,
    has_constitution: bool,
    terms: Vec<TermBlock>,
    date: String,
    title: String,
    location: String,
}

async fn show_meetings(
    app: &AppState,
    session: &CurrentSession,
    id: ClusterId,
    error: Option<(String, ScheduleInput)>,
) -> Result<Response, WebError> {
    let list = app.service.committee_meetings(&session.user, id).await?;
    let (error, input) = match error {
        Some((e, i)) => (Some(e), i),
        None => (None, ScheduleInput::default()),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = MeetingsPage {
        chrome: chrome(app, session, "/governance").await?,
        id,
        name: list.cluster_name.clone(),
        error,
        may_run: list.access.may_run(),
        has_constitution: list.has_constitution,
        terms: list
            .terms
            .iter()
            .map(|(term, rows)| TermBlock {
                label: term.label(),
                rows: rows
                    .iter()
                    .map(|m| {
                        let (status, tag) = match (m.held, m.quorate) {
                            (false, _) if m.held_on >= list.today => ("Scheduled", "govuk-tag--blue"),
                            (false, _) => ("Not recorded", "govuk-tag--yellow"),
                            (true, true) => ("Held, quorate", "govuk-tag--green"),
                            (true, false) => ("Held, not quorate", "govuk-tag--red"),
                        };
                        MeetingRow {
                            id: m.id,
                            date: date(m.held_on),
                            title: m.title.clone(),
                            status,
                            tag,
                            minutes: m.minutes.label(),
                        }
                    })
                    .collect(),
            })
            .collect(),
        date: input.date,
        title: if input.title.is_empty() {
            "Cluster committee meeting".into()
        } else {
            input.title
        },
        location: input.location,
    };
    render(&page, status)
}

pub(crate) async fn meetings(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    show_meetings(&app, &session, cluster_id(&id)?, None).await
}

pub(crate) async fn schedule(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let id = cluster_id(&id)?;
    let f = Fields(form);
    check_csrf(&session, f.get("csrf_token"))?;
    let input = ScheduleInput {
        date: f.get("date").into(),
        title: f.get("title").into(),
        location: f.get("location").into(),
    };
    match app.service.schedule_meeting(&session.user, id, &input).await {
        Ok(m) => Ok(Redirect::to(&format!("/meetings/{m}")).into_response()),
        Err(ServiceError::Invalid(e)) => show_meetings(&app, &session, id, Some((e, input))).await,
        Err(e) => Err(e.into()),
    }
}

// ---- the meeting page ----

#[derive(Debug)]
pub(crate) struct AttendRow {
    person: PersonId,
    name: String,
    roles: String,
    status: &'static str,
    status_label: &'static str,
    substitute_for: String,
    sub_options: Vec<Choice>,
}

#[derive(Debug)]
pub(crate) struct VoteRow {
    urn: Urn,
    school: String,
    who: String,
    choice: String,
}

#[derive(Debug)]
pub(crate) struct ItemRow {
    number: usize,
    title: String,
    visible: bool,
    restricted: Option<String>,
    approves: Option<String>,
    papers: Vec<(String, String)>,
    declarations: Vec<String>,
    quorum: String,
    quorate: bool,
    motion: Option<String>,
    outcome: Option<(&'static str, &'static str)>,
    tally: String,
    votes: Vec<VoteRow>,
    /// Schools that may vote on the item, with who votes for each.
    eligible: Vec<VoteRow>,
    error: Option<String>,
    recorded: bool,
    default_motion: String,
    in_room: Vec<Choice>,
}

#[derive(Debug)]
pub(crate) struct ElectionRow {
    number: usize,
    office: &'static str,
    candidates: String,
    tie_rule: String,
    rounds: Vec<String>,
    status: String,
    awaiting_ballots: bool,
    standing: Vec<Choice>,
    awaiting_pick: bool,
    tied: Vec<Choice>,
    error: Option<String>,
}

#[derive(Debug)]
pub(crate) struct ActionRow {
    number: usize,
    text: String,
    owner: String,
    due: String,
    done: Option<String>,
}

#[derive(Debug)]
pub(crate) struct DistRow {
    school: String,
    sent: String,
    received: String,
    adopted: String,
}

#[derive(Template)]
#[template(path = "meeting.html")]
struct MeetingPage {
    chrome: Chrome,
    id: MeetingId,
    cluster: ClusterId,
    cluster_name: String,
    title: String,
    date: String,
    term: String,
    location: String,
    notice: String,
    synthetic: bool,
    error: Option<String>,
    may_run: bool,
    closed: bool,
    held: bool,
    future: bool,
    problem: Option<String>,
    constitution: String,
    quorum: String,
    quorate: bool,
    attendance: Vec<AttendRow>,
    voters: Vec<VoteRow>,
    items: Vec<ItemRow>,
    elections: Vec<ElectionRow>,
    actions: Vec<ActionRow>,
    minutes_state: &'static str,
    minutes_tag: &'static str,
    minutes_text: Option<String>,
    approved_line: Option<String>,
    distribution: Vec<DistRow>,
    distributed: bool,
    receipt_school: Option<String>,
    present_people: Vec<Choice>,
    people: Vec<Choice>,
    voting_governors: Vec<Choice>,
    schools: Vec<Choice>,
    approvable: Vec<Choice>,
    casting_allowed: bool,
    today: String,
}

fn outcome_tag(o: Outcome) -> (&'static str, &'static str) {
    let tag = match o {
        Outcome::Carried | Outcome::CarriedOnCastingVote => "govuk-tag--green",
        Outcome::Lost | Outcome::LostOnCastingVote => "govuk-tag--red",
        Outcome::Tied | Outcome::Inquorate => "govuk-tag--yellow",
    };
    (o.label(), tag)
}

fn meeting_page(v: &MeetingView, chrome: Chrome, error: Option<String>) -> MeetingPage {
    let m = &v.record;
    let name = |p: PersonId| v.name(p);
    let present: Vec<PersonId> = m
        .attendance
        .iter()
        .filter(|a| a.status == Attendance::Present)
        .map(|a| a.person)
        .collect();
    let seated: Vec<PersonId> = {
        let mut ids: Vec<PersonId> = v.register.seats.iter().filter_map(|s| s.person).collect();
        ids.extend(m.attendance.iter().map(|a| a.person));
        let mut seen = Vec::new();
        ids.retain(|p| {
            let new = !seen.contains(p);
            seen.push(*p);
            new
        });
        ids
    };
    let members = &v.members;
    let attendance = seated
        .iter()
        .map(|p| {
            let a = m.attendance.iter().find(|a| a.person == *p);
            let (status, status_label) = match a.map(|a| a.status) {
                Some(Attendance::Present) => ("present", "Present"),
                Some(Attendance::Apologies) => ("apologies", "Apologies"),
                Some(Attendance::Absent) => ("absent", "Absent"),
                None => ("", "Not recorded"),
            };
            let sub_options = v
                .register
                .seats
                .iter()
                .filter(|s| s.kind == SeatKind::Substitute && s.person == Some(*p))
                .filter_map(|s| s.school)
                .map(|u| choice(u, format!("Standing in for {}", v.school_name(u))))
                .collect();
            AttendRow {
                person: *p,
                name: name(*p),
                roles: service::meetings::person_roles(&v.register, members, *p),
                status,
                status_label,
                substitute_for: a
                    .and_then(|a| a.substitute_for)
                    .map(|u| u.to_string())
                    .unwrap_or_default(),
                sub_options,
            }
        })
        .collect();
    let voters = v
        .voters
        .iter()
        .map(|(u, who)| VoteRow {
            urn: *u,
            school: v.school_name(*u),
            who: who.iter().map(|p| name(*p)).collect::<Vec<_>>().join(" and "),
            choice: String::new(),
        })
        .collect::<Vec<_>>();
    let items = v
        .items
        .iter()
        .map(|it| {
            let item = &it.item;
            let result = it.result.as_ref();
            let withdrawn: Vec<PersonId> = item
                .declarations
                .iter()
                .filter(|d| d.withdraws)
                .map(|d| d.person)
                .collect();
            let in_room = present
                .iter()
                .filter(|p| !withdrawn.contains(p))
                .map(|p| choice(p, name(*p)))
                .collect();
            let quorum = result.map_or_else(String::new, |r| {
                format!(
                    "{} member schools can vote on this item; {} needed{}",
                    r.quorum.present,
                    r.quorum.required,
                    if r.withdrawn.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " ({} withdrew after declaring an interest)",
                            r.withdrawn.iter().map(|p| name(*p)).collect::<Vec<_>>().join(" and ")
                        )
                    }
                )
            });
            let tally = result
                .and_then(|r| r.outcome)
                .filter(|_| !item.votes.is_empty())
                .map_or_else(String::new, |(_, t)| {
                    format!("{} for, {} against, {} abstaining", t.for_votes, t.against, t.abstain)
                });
            ItemRow {
                number: it.number,
                title: item.title.clone(),
                visible: it.visible,
                restricted: item.restricted.then(|| match (it.visible, item.restricted_to) {
                    (false, _) => "Restricted: you are not entitled to see this item".into(),
                    (true, Some(u)) => format!(
                        "Restricted: shown only to those running the meeting, authority staff and {}",
                        v.school_name(u)
                    ),
                    (true, None) => "Restricted: shown only to those running the meeting and authority staff".into(),
                }),
                approves: it
                    .approves
                    .map(|(_, on)| format!("Approves the minutes of the meeting on {}", date(on))),
                papers: item.papers.iter().map(|p| (p.title.clone(), p.text.clone())).collect(),
                declarations: item
                    .declarations
                    .iter()
                    .map(|d| {
                        format!(
                            "{} declared an interest ({}) and {}",
                            name(d.person),
                            d.interest,
                            if d.withdraws {
                                "withdrew for this item"
                            } else {
                                "stayed"
                            }
                        )
                    })
                    .collect(),
                quorate: result.is_some_and(|r| r.quorum.quorate),
                quorum,
                motion: item.motion.as_ref().map(|mo| {
                    format!(
                        "“{}” Proposed by {}, seconded by {}.",
                        mo.text,
                        name(mo.proposer),
                        name(mo.seconder)
                    )
                }),
                outcome: item.recorded_outcome.map(outcome_tag),
                tally,
                votes: item
                    .votes
                    .iter()
                    .map(|(u, c)| VoteRow {
                        urn: *u,
                        school: v.school_name(*u),
                        who: String::new(),
                        choice: capitalise(c.code()),
                    })
                    .collect(),
                eligible: result.map_or_else(Vec::new, |r| {
                    r.voting_schools
                        .iter()
                        .map(|u| VoteRow {
                            urn: *u,
                            school: v.school_name(*u),
                            who: v
                                .voters
                                .iter()
                                .find(|(x, _)| x == u)
                                .map(|(_, who)| who.iter().map(|p| name(*p)).collect::<Vec<_>>().join(" and "))
                                .unwrap_or_default(),
                            choice: String::new(),
                        })
                        .collect()
                }),
                error: result.and_then(|r| r.error.clone()).filter(|_| item.motion.is_some()),
                recorded: item.recorded_outcome.is_some(),
                default_motion: match it.approves {
                    Some((_, on)) => format!(
                        "That the minutes of the meeting on {} be approved as a correct record.",
                        date(on)
                    ),
                    None => String::new(),
                },
                in_room,
            }
        })
        .collect();
    let elections = v
        .elections
        .iter()
        .map(|e| {
            let r = &e.record;
            let rounds = e
                .rounds
                .iter()
                .map(|round| {
                    let votes: Vec<String> = {
                        let ballots = &r.rounds[usize::try_from(round.round).unwrap_or(1).saturating_sub(1)].ballots;
                        let mut counts: Vec<(PersonId, usize)> = Vec::new();
                        for (_, p) in ballots {
                            match counts.iter_mut().find(|(q, _)| q == p) {
                                Some((_, n)) => *n += 1,
                                None => counts.push((*p, 1)),
                            }
                        }
                        counts.iter().map(|(p, n)| format!("{} {n}", name(*p))).collect()
                    };
                    let decided = match (&round.count, round.decision) {
                        (ElectionRound::Elected { person, .. }, _) => {
                            format!("{} elected by a majority", name(*person))
                        }
                        (ElectionRound::Eliminated { person, .. }, _) => {
                            format!("{} had fewest votes and leaves the count", name(*person))
                        }
                        (_, Some((p, true, by))) => format!("a tie: {} elected by {}", name(p), how(by)),
                        (_, Some((p, false, by))) => {
                            format!("a tie for fewest: {} leaves the count by {}", name(p), how(by))
                        }
                        _ => "a tie: waiting for the chair's decision".into(),
                    };
                    format!("Round {}: {} — {decided}.", round.round, votes.join(", "))
                })
                .collect();
            let (status, awaiting_ballots, standing, awaiting_pick, tied) = match &e.status {
                Some(ElectionStatus::Elected { person, .. }) => (
                    format!("{} is elected {}", name(*person), r.office.label().to_lowercase()),
                    false,
                    Vec::new(),
                    false,
                    Vec::new(),
                ),
                Some(ElectionStatus::AwaitingBallots { round, standing }) => (
                    format!("Round {round}: record each school's ballot"),
                    true,
                    standing.iter().map(|p| choice(p, name(*p))).collect(),
                    false,
                    Vec::new(),
                ),
                Some(ElectionStatus::AwaitingChairPick { tied, .. }) => (
                    "A tie: the person chairing the election decides".into(),
                    false,
                    Vec::new(),
                    true,
                    tied.iter().map(|p| choice(p, name(*p))).collect(),
                ),
                Some(ElectionStatus::NoCandidates) => ("No candidates".into(), false, Vec::new(), false, Vec::new()),
                None => ("Cannot be counted".into(), false, Vec::new(), false, Vec::new()),
            };
            ElectionRow {
                number: e.number,
                office: r.office.label(),
                candidates: r.candidates.iter().map(|p| name(*p)).collect::<Vec<_>>().join(", "),
                tie_rule: match r.tie_rule {
                    TieRule::Lot { seed } => {
                        format!("Ties are settled by drawing lots (seed {seed}, recorded in the minutes)")
                    }
                    TieRule::ChairDecides => "Ties are settled by the person chairing the election".into(),
                },
                rounds,
                status,
                awaiting_ballots,
                standing,
                awaiting_pick,
                tied,
                error: e.error.clone(),
            }
        })
        .collect();
    let (minutes_tag, approved_line) = match v.minutes {
        MinutesState::NotDrafted => ("govuk-tag--grey", None),
        MinutesState::Draft => ("govuk-tag--yellow", None),
        MinutesState::Approved(a) | MinutesState::Distributed { approval: a, .. } => (
            if matches!(v.minutes, MinutesState::Distributed { .. }) {
                "govuk-tag--green"
            } else {
                "govuk-tag--blue"
            },
            Some(format!(
                "Approved by the committee at its meeting on {} (item {}).",
                date(a.held_on),
                a.item
            )),
        ),
    };
    let dash = |d: Option<domain::NaiveDate>| d.map_or_else(|| "–".into(), date);
    let distribution = v
        .members
        .iter()
        .map(|s| {
            let d = m.distribution.iter().find(|d| d.school == s.urn);
            DistRow {
                school: s.name.clone(),
                sent: dash(d.and_then(|d| d.sent_on)),
                received: dash(d.and_then(|d| d.received_on)),
                adopted: d.and_then(|d| d.adopted_on).map_or_else(
                    || "Not yet".into(),
                    |a| format!("Adopted by the governing body on {}", date(a)),
                ),
            }
        })
        .collect();
    let seats = &v.register.seats;
    MeetingPage {
        chrome,
        id: v.id,
        cluster: v.cluster,
        cluster_name: v.cluster_name.clone(),
        title: m.title.clone(),
        date: date(m.held_on),
        term: v.term.label(),
        location: m.location.clone(),
        notice: m
            .notice_sent_on
            .map_or_else(|| "Not sent".into(), |d| format!("Sent on {}", date(d))),
        synthetic: synthetic(v.register.people.iter().map(|p| p.details.name.clone())),
        error,
        may_run: v.access.may_run(),
        closed: v.is_closed(),
        held: !m.attendance.is_empty(),
        future: m.held_on > v.today,
        problem: v.problem.clone(),
        constitution: v.version.as_ref().map_or_else(
            || "None in force on this day".into(),
            |c| {
                format!(
                    "{} (version {}, from {})",
                    c.constitution.name,
                    c.version,
                    date(c.effective_from)
                )
            },
        ),
        quorum: match v.quorum {
            Some(q) if !m.attendance.is_empty() => format!(
                "{} of {} member schools represented by a voting member ({} needed)",
                q.present,
                v.members.len(),
                q.required
            ),
            Some(q) => format!(
                "{} of {} member schools must be represented by a voting member",
                q.required,
                v.members.len()
            ),
            None => String::new(),
        },
        quorate: v.quorum.is_some_and(|q| q.quorate),
        attendance,
        voters,
        items,
        elections,
        actions: m
            .actions
            .iter()
            .enumerate()
            .map(|(i, a)| ActionRow {
                number: i + 1,
                text: a.text.clone(),
                owner: name(a.owner),
                due: date(a.due_on),
                done: a.done_on.map(date),
            })
            .collect(),
        minutes_state: v.minutes.label(),
        minutes_tag,
        minutes_text: m.minutes_text.clone(),
        approved_line,
        distribution,
        distributed: m.distribution.iter().any(|d| d.sent_on.is_some()),
        receipt_school: v.receipt_school.map(|u| v.school_name(u)),
        present_people: present.iter().map(|p| choice(p, name(*p))).collect(),
        people: v
            .register
            .people
            .iter()
            .map(|p| choice(p.id, p.details.name.clone()))
            .collect(),
        voting_governors: v
            .register
            .people
            .iter()
            .filter(|p| {
                seats
                    .iter()
                    .any(|s| s.kind == SeatKind::VotingGovernor && s.person == Some(p.id) && !s.suspended)
            })
            .map(|p| choice(p.id, p.details.name.clone()))
            .collect(),
        schools: v.members.iter().map(|s| choice(s.urn, s.name.clone())).collect(),
        approvable: v
            .approvable
            .iter()
            .map(|(id, on, title)| choice(id, format!("{title}, {}", date(*on))))
            .collect(),
        casting_allowed: v.casting_vote_allowed(),
        today: v.today.to_string(),
    }
}

fn how(by: domain::governance::Decided) -> &'static str {
    use domain::governance::Decided;
    match by {
        Decided::Lot => "drawing lots",
        Decided::Chair => "the chair's decision",
        Decided::Majority => "a majority",
        Decided::Unopposed => "standing unopposed",
        Decided::FewestVotes => "fewest votes",
    }
}

async fn show_meeting(
    app: &AppState,
    session: &CurrentSession,
    id: MeetingId,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let v = app.service.meeting(&session.user, id).await?;
    render(
        &meeting_page(&v, chrome(app, session, "/governance").await?, error),
        status,
    )
}

pub(crate) async fn meeting(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    show_meeting(&app, &session, meeting_id(&id)?, None, StatusCode::OK).await
}

pub(crate) async fn meeting_post(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let id = meeting_id(&id)?;
    let f = Fields(form);
    check_csrf(&session, f.get("csrf_token"))?;
    let (s, u) = (&app.service, &session.user);
    let item = f.get("item");
    let (result, anchor): (Result<(), ServiceError>, String) = match action.as_str() {
        "notice" => (s.send_notice(u, id).await, "agenda".into()),
        "items" => {
            let r = s
                .add_agenda_item(
                    u,
                    id,
                    &ItemInput {
                        title: f.get("title").into(),
                        restricted: f.checked("restricted"),
                        restricted_to: f.get("restricted_to").into(),
                        paper_title: f.get("paper_title").into(),
                        paper_text: f.get("paper_text").into(),
                        approves: f.get("approves").into(),
                    },
                )
                .await;
            let anchor = r.as_ref().map_or_else(|_| "agenda".into(), |n| format!("item-{n}"));
            (r.map(|_| ()), anchor)
        }
        "papers" => (
            s.add_paper(u, id, item, f.get("paper_title"), f.get("paper_text"))
                .await,
            format!("item-{item}"),
        ),
        "attendance" => {
            let rows: Vec<(String, String, String)> = f
                .all("person")
                .into_iter()
                .map(|p| {
                    let status = f.get(&format!("status_{p}")).to_string();
                    let sub = f.get(&format!("substitute_for_{p}")).to_string();
                    (p, status, sub)
                })
                .collect();
            (s.record_attendance(u, id, &rows).await, "attendance".into())
        }
        "declarations" => (
            s.declare_interest(
                u,
                id,
                item,
                &DeclarationInput {
                    person: f.get("person").into(),
                    interest: f.get("interest").into(),
                    withdraws: f.checked("withdraws"),
                },
            )
            .await,
            format!("item-{item}"),
        ),
        "motion" => (
            s.propose_motion(
                u,
                id,
                item,
                &MotionInput {
                    text: f.get("text").into(),
                    proposer: f.get("proposer").into(),
                    seconder: f.get("seconder").into(),
                },
            )
            .await,
            format!("item-{item}"),
        ),
        "votes" => (
            s.record_votes(
                u,
                id,
                item,
                &VotesInput {
                    votes: f.prefixed("vote_"),
                    casting_vote: f.get("casting_vote").into(),
                    declared: f.get("declared").into(),
                },
            )
            .await
            .map(|_| ()),
            format!("item-{item}"),
        ),
        "clear-votes" => (s.clear_votes(u, id, item).await, format!("item-{item}")),
        "elections" => (
            s.start_election(
                u,
                id,
                &ElectionInput {
                    office: f.get("office").into(),
                    candidates: f.all("candidates"),
                    tie_rule: f.get("tie_rule").into(),
                },
            )
            .await
            .map(|_| ()),
            "elections".into(),
        ),
        "ballots" => (
            s.record_ballots(u, id, f.get("election"), &f.prefixed("ballot_")).await,
            "elections".into(),
        ),
        "chair-pick" => (
            s.record_chair_pick(u, id, f.get("election"), f.get("person")).await,
            "elections".into(),
        ),
        "actions" => (
            s.add_action(
                u,
                id,
                &ActionInput {
                    text: f.get("text").into(),
                    owner: f.get("owner").into(),
                    due_on: f.get("due_on").into(),
                },
            )
            .await,
            "actions".into(),
        ),
        "action-done" => (s.complete_action(u, id, f.get("action")).await, "actions".into()),
        "draft-minutes" => (s.draft_minutes(u, id).await, "minutes".into()),
        "minutes" => (s.save_minutes(u, id, f.get("minutes")).await, "minutes".into()),
        "distribute" => (s.distribute_minutes(u, id).await.map(|_| ()), "minutes".into()),
        "receipt" => (
            s.record_minutes_receipt(
                u,
                id,
                &ReceiptInput {
                    received_on: f.get("received_on").into(),
                    adopted_on: f.get("adopted_on").into(),
                },
            )
            .await,
            "minutes".into(),
        ),
        _ => return Err(WebError::not_found()),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/meetings/{id}#{anchor}")).into_response()),
        Err(ServiceError::Invalid(m)) => {
            show_meeting(&app, &session, id, Some(m), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /meetings/{id}/minutes`: the clerk's edit of the minutes (the same path prints them).
pub(crate) async fn save_minutes(
    state: State<AppState>,
    session: Extension<CurrentSession>,
    Path(id): Path<String>,
    form: Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    meeting_post(state, session, Path((id, "minutes".to_string())), form).await
}

// ---- printable minutes ----

#[derive(Debug)]
pub(crate) struct Block {
    list: bool,
    lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "minutes.html")]
struct MinutesPage {
    id: MeetingId,
    cluster_name: String,
    date: String,
    draft: bool,
    approved_line: Option<String>,
    heading: String,
    blocks: Vec<Block>,
    distribution: Vec<DistRow>,
    synthetic: bool,
}

/// Paragraphs and bulleted lists from the minutes' plain text.
fn blocks(text: &str) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            continue;
        }
        let (list, body) = match line.strip_prefix("- ") {
            Some(rest) => (true, rest.to_string()),
            None => (false, line.to_string()),
        };
        match out.last_mut() {
            Some(b) if b.list && list => b.lines.push(body),
            _ => out.push(Block {
                list,
                lines: vec![body],
            }),
        }
    }
    out
}

pub(crate) async fn minutes(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = meeting_id(&id)?;
    let v = app.service.meeting(&session.user, id).await?;
    let page = meeting_page(&v, chrome(&app, &session, "/governance").await?, None);
    let text = v.record.minutes_text.clone().ok_or_else(|| {
        WebError::new(
            StatusCode::NOT_FOUND,
            "There are no minutes to print yet: they are drafted by the clerk and shown to members once approved.",
        )
    })?;
    let (heading, rest) = text.trim_start().split_once('\n').unwrap_or((text.as_str(), ""));
    render(
        &MinutesPage {
            heading: heading.trim().to_string(),
            id,
            cluster_name: v.cluster_name.clone(),
            date: page.date,
            draft: v.record.approved.is_none(),
            approved_line: page.approved_line,
            blocks: blocks(rest),
            distribution: page.distribution,
            synthetic: page.synthetic,
        },
        StatusCode::OK,
    )
}

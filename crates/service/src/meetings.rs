//! Committees at work: the people register and seats (checked against the constitution's
//! membership rules on every save), meetings changed step by step (notice and agenda, attendance,
//! declarations and withdrawals, motions and per-school votes, elections, actions), and minutes
//! from a draft written from the record, through approval at a later meeting, to every member
//! governing body.
//!
//! Who may do what: the cluster's clerk (scoped to that cluster) and authority officers run
//! meetings and record everything; advisers read everything; heads and governors of member
//! schools read their committee's business (restricted items hidden unless about their school)
//! and record their school's receipt and adoption of minutes; evaluators see aggregates only (the
//! governance health view), and strand staff take no part.

mod business;
mod demo;
mod minutes;
mod records;

pub use business::{
    ActionInput, DeclarationInput, ElectionInput, ElectionView, ItemInput, ItemView, MeetingView, MinutesState,
    MotionInput, ReceiptInput, ScheduleInput, SchoolVote, VotesInput,
};
pub use records::*;

use crate::{Service, ServiceError, ServiceResult};
use domain::NaiveDate;
use domain::access::{Scope, User, UserRole};
use domain::cluster::MembershipRole;
use domain::governance::health::Term;
use domain::governance::{
    Constitution, ConstitutionVersion, MembershipIssue, Person, Seat, SeatKind, SeatStatus, check_membership,
    in_force_on,
};
use domain::ids::{ClusterId, MeetingId, PersonId, Urn};

/// What a signed-in person may do with a committee's business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The cluster's clerk or an authority officer: runs meetings and records everything.
    Run,
    /// Authority staff who read everything (advisers and link officers).
    ReadAll,
    /// A head or governor of this member school.
    School(Urn),
}

impl Access {
    pub fn may_run(self) -> bool {
        self == Access::Run
    }
    /// Whether this person may see the item's title, papers and business.
    pub fn sees(self, item: &AgendaItem) -> bool {
        !item.restricted
            || match self {
                Access::Run | Access::ReadAll => true,
                Access::School(u) => item.restricted_to == Some(u),
            }
    }
}

/// Who may do what with a cluster's committee (see the module comment).
pub fn access_for(user: &User, cluster: ClusterId, members: &[Urn]) -> ServiceResult<Access> {
    match (user.role, user.scope) {
        (UserRole::AuthorityOfficer, Scope::Authority) => Ok(Access::Run),
        (UserRole::ClusterClerk, Scope::Cluster(c)) if c == cluster => Ok(Access::Run),
        (UserRole::ClusterClerk, _) => Err(ServiceError::Forbidden(
            "a cluster clerk runs only their own cluster's committee".into(),
        )),
        (UserRole::Adviser, Scope::Authority) => Ok(Access::ReadAll),
        (UserRole::Headteacher | UserRole::Governor, Scope::School(u)) if members.contains(&u) => Ok(Access::School(u)),
        (UserRole::Headteacher | UserRole::Governor, _) => Err(ServiceError::Forbidden(
            "a headteacher or governor reads only the committee of their own school's cluster".into(),
        )),
        (UserRole::Evaluator, _) => Err(ServiceError::Forbidden(
            "an evaluator sees aggregates only: the governance health view".into(),
        )),
        (role, _) => Err(ServiceError::Forbidden(format!(
            "{} accounts take no part in committee business",
            role.label()
        ))),
    }
}

/// Whether a role takes part in committee business at all (evaluators see aggregates only).
pub fn may_read_committees(user: &User) -> bool {
    !matches!(user.role, UserRole::Evaluator | UserRole::StrandStaff)
}

fn require_run(access: Access) -> ServiceResult<()> {
    if access.may_run() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "only the cluster's clerk or an authority officer records committee business".into(),
        ))
    }
}

pub(crate) fn invalid(field: &str, rule: impl std::fmt::Display) -> ServiceError {
    ServiceError::Invalid(format!("{field}: {rule}"))
}

pub(crate) fn parse_date(field: &str, value: &str) -> ServiceResult<NaiveDate> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| {
        invalid(
            field,
            format!("{:?} is not a date (use the form YYYY-MM-DD)", value.trim()),
        )
    })
}

pub(crate) fn parse_opt_date(field: &str, value: &str) -> ServiceResult<Option<NaiveDate>> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        parse_date(field, value).map(Some)
    }
}

pub(crate) fn parse_opt_urn(field: &str, value: &str) -> ServiceResult<Option<Urn>> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    Urn::parse(value).map(Some).map_err(|e| invalid(field, e))
}

pub(crate) fn text_field(field: &str, value: &str, max: usize, required: bool) -> ServiceResult<String> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(invalid(field, "enter a value"));
    }
    if v.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    Ok(v.to_string())
}

/// A member school of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSchool {
    pub urn: Urn,
    pub name: String,
    pub role: MembershipRole,
}

/// A rule the membership breaks or a flag, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipNote {
    pub flag: bool,
    pub text: String,
}

/// The committee page: people, seats, notes, the constitution in force and its versions.
#[derive(Debug, Clone)]
pub struct CommitteeView {
    pub access: Access,
    pub cluster: ClusterId,
    pub cluster_name: String,
    pub members: Vec<MemberSchool>,
    pub register: CommitteeRegister,
    pub in_force: Option<ConstitutionVersion>,
    pub notes: Vec<MembershipNote>,
    pub today: NaiveDate,
}

impl CommitteeView {
    pub fn school_name(&self, urn: Urn) -> String {
        school_name(&self.members, urn)
    }
}

pub fn school_name(members: &[MemberSchool], urn: Urn) -> String {
    members
        .iter()
        .find(|m| m.urn == urn)
        .map_or_else(|| format!("school {urn}"), |m| m.name.clone())
}

/// One meeting in the list.
#[derive(Debug, Clone)]
pub struct MeetingListRow {
    pub id: MeetingId,
    pub held_on: NaiveDate,
    pub title: String,
    pub held: bool,
    pub quorate: bool,
    pub minutes: MinutesState,
}

/// A committee's meetings by term, newest term first.
#[derive(Debug, Clone)]
pub struct MeetingList {
    pub access: Access,
    pub cluster: ClusterId,
    pub cluster_name: String,
    pub terms: Vec<(Term, Vec<MeetingListRow>)>,
    pub has_constitution: bool,
    pub today: NaiveDate,
}

/// The seats as the domain sees them on `day`: a seat outside its term is vacant, and every
/// member school without a voting seat has a vacant one (the school is still a member).
pub(crate) fn domain_seats(seats: &[CommitteeSeat], members: &[Urn], day: NaiveDate) -> Vec<Seat> {
    let mut seats: Vec<Seat> = seats
        .iter()
        .map(|s| {
            let in_term = s.term_from.is_none_or(|f| f <= day) && s.term_to.is_none_or(|t| t >= day);
            let status = match (s.person, s.suspended, in_term) {
                (Some(p), false, true) => SeatStatus::Filled(p),
                (Some(p), true, true) => SeatStatus::Suspended(p),
                _ => SeatStatus::Vacant,
            };
            Seat {
                kind: s.kind,
                school: s.school,
                status,
                term_from: s.term_from,
                term_to: s.term_to,
            }
        })
        .collect();
    for u in members {
        if !seats
            .iter()
            .any(|s| s.kind == SeatKind::VotingGovernor && s.school == Some(*u))
        {
            seats.push(Seat {
                kind: SeatKind::VotingGovernor,
                school: Some(*u),
                status: SeatStatus::Vacant,
                term_from: None,
                term_to: None,
            });
        }
    }
    seats
}

fn domain_people(register: &CommitteeRegister) -> Vec<Person> {
    register
        .people
        .iter()
        .map(|p| Person {
            id: p.id,
            name: p.details.name.clone(),
            governor_of: p.details.governor_of.clone(),
            works_at: p.details.works_at,
            is_head_of: p.details.head_of,
        })
        .collect()
}

/// The membership rules on the register's seats (as recorded, terms aside).
fn membership_issues(register: &CommitteeRegister, members: &[Urn]) -> Vec<MembershipIssue> {
    let seats: Vec<Seat> = register
        .seats
        .iter()
        .map(|s| Seat {
            kind: s.kind,
            school: s.school,
            status: match (s.person, s.suspended) {
                (Some(p), false) => SeatStatus::Filled(p),
                (Some(p), true) => SeatStatus::Suspended(p),
                (None, _) => SeatStatus::Vacant,
            },
            term_from: s.term_from,
            term_to: s.term_to,
        })
        .collect();
    check_membership(&seats, &domain_people(register), members)
}

/// Refuses a register that breaks a membership rule (flags are allowed and shown).
fn refuse_breaches(register: &CommitteeRegister, members: &[Urn], field: &str) -> ServiceResult<()> {
    if let Some(breach) = membership_issues(register, members).into_iter().find(|i| !i.is_flag()) {
        return Err(invalid(field, breach));
    }
    Ok(())
}

fn empty_register(cluster: ClusterId) -> CommitteeRegister {
    CommitteeRegister {
        cluster,
        versions: Vec::new(),
        people: Vec::new(),
        seats: Vec::new(),
        chair: None,
        vice_chair: None,
        last_review: None,
    }
}

/// A person's one-line description: "voting governor for Hill Primary School".
pub fn person_roles(register: &CommitteeRegister, members: &[MemberSchool], person: PersonId) -> String {
    let mut roles: Vec<String> = register
        .seats
        .iter()
        .filter(|s| s.person == Some(person))
        .map(|s| {
            let kind = seat_label(s.kind);
            let of = if s.kind == SeatKind::Headteacher { "of" } else { "for" };
            match s.school {
                Some(u) => format!("{kind} {of} {}", school_name(members, u)),
                None => kind.to_string(),
            }
        })
        .collect();
    if roles.is_empty() {
        roles.push("no seat".into());
    }
    roles.join("; ")
}

pub fn seat_label(kind: SeatKind) -> &'static str {
    match kind {
        SeatKind::VotingGovernor => "voting governor",
        SeatKind::Substitute => "substitute",
        SeatKind::Headteacher => "headteacher",
        SeatKind::Clerk => "clerk",
        SeatKind::AuthorityLinkOfficer => "authority link officer",
        SeatKind::Observer => "observer",
    }
}

/// A person as typed into the committee page's form.
#[derive(Debug, Clone, Default)]
pub struct PersonInput {
    pub name: String,
    /// A member school's URN, or empty.
    pub governor_of: String,
    /// Any school's URN, or empty.
    pub works_at: String,
    pub is_head: bool,
}

/// A seat as typed into the committee page's form.
#[derive(Debug, Clone, Default)]
pub struct SeatInput {
    pub kind: String,
    pub school: String,
    /// A person's id, or empty for a vacancy.
    pub person: String,
    pub term_from: String,
    pub term_to: String,
}

/// A new constitution version as typed.
#[derive(Debug, Clone, Default)]
pub struct ConstitutionInput {
    pub preset: String,
    pub casting_vote: bool,
    pub effective_from: String,
}

pub(crate) fn parse_person(field: &str, value: &str, register: &CommitteeRegister) -> ServiceResult<PersonId> {
    let id: i64 = value
        .trim()
        .parse()
        .map_err(|_| invalid(field, "choose a person from the committee's register"))?;
    register
        .person(PersonId(id))
        .map(|p| p.id)
        .ok_or_else(|| invalid(field, "choose a person from the committee's register"))
}

impl Service {
    pub(crate) async fn members_on(
        &self,
        user: &User,
        cluster: ClusterId,
        day: NaiveDate,
    ) -> ServiceResult<(String, Vec<MemberSchool>)> {
        let detail = self
            .store
            .cluster(user.authority, cluster, day)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("cluster {cluster}")))?;
        let members = detail
            .members
            .iter()
            .map(|(s, role, _)| MemberSchool {
                urn: s.school.urn,
                name: s.school.name.clone(),
                role: *role,
            })
            .collect();
        Ok((detail.summary.cluster.name, members))
    }

    pub(crate) async fn register_of(&self, user: &User, cluster: ClusterId) -> ServiceResult<CommitteeRegister> {
        Ok(self
            .store
            .committee_register(user.authority, cluster)
            .await?
            .unwrap_or_else(|| empty_register(cluster)))
    }

    /// The committee page.
    pub async fn committee(&self, user: &User, cluster: ClusterId) -> ServiceResult<CommitteeView> {
        let today = self.clock.today();
        let (cluster_name, members) = self.members_on(user, cluster, today).await?;
        let urns: Vec<Urn> = members.iter().map(|m| m.urn).collect();
        let access = access_for(user, cluster, &urns)?;
        let register = self.register_of(user, cluster).await?;
        let notes = membership_issues(&register, &urns)
            .into_iter()
            .map(|i| MembershipNote {
                flag: i.is_flag(),
                text: i.to_string(),
            })
            .collect();
        Ok(CommitteeView {
            access,
            cluster,
            cluster_name,
            in_force: in_force_on(&register.versions, today).cloned(),
            members,
            register,
            notes,
            today,
        })
    }

    async fn committee_to_change(
        &self,
        user: &User,
        cluster: ClusterId,
    ) -> ServiceResult<(Vec<MemberSchool>, CommitteeRegister)> {
        let (_, members) = self.members_on(user, cluster, self.clock.today()).await?;
        let urns: Vec<Urn> = members.iter().map(|m| m.urn).collect();
        require_run(access_for(user, cluster, &urns)?)?;
        Ok((members, self.register_of(user, cluster).await?))
    }

    /// Adds a person to the committee's register.
    pub async fn add_committee_person(
        &self,
        user: &User,
        cluster: ClusterId,
        input: &PersonInput,
    ) -> ServiceResult<PersonId> {
        let (members, _) = self.committee_to_change(user, cluster).await?;
        let details = self.person_details(user, &members, input).await?;
        let ids = self
            .store
            .add_committee_people(user.authority, cluster, std::slice::from_ref(&details))
            .await?;
        ids.into_iter()
            .next()
            .ok_or_else(|| ServiceError::Unexpected("no id for the new person".into()))
    }

    async fn person_details(
        &self,
        user: &User,
        members: &[MemberSchool],
        input: &PersonInput,
    ) -> ServiceResult<PersonDetails> {
        let name = text_field("name", &input.name, 120, true)?;
        let governor_of = parse_opt_urn("governor_of", &input.governor_of)?;
        if let Some(u) = governor_of
            && !members.iter().any(|m| m.urn == u)
        {
            return Err(invalid(
                "governor_of",
                format!("school {u} is not a member of this cluster"),
            ));
        }
        let works_at = parse_opt_urn("works_at", &input.works_at)?;
        if let Some(u) = works_at
            && self.store.school(user.authority, u).await?.is_none()
        {
            return Err(invalid("works_at", format!("school {u} is not in the register")));
        }
        if input.is_head && works_at.is_none() {
            return Err(invalid("works_at", "a headteacher works at their school: choose it"));
        }
        Ok(PersonDetails {
            name,
            governor_of: governor_of.into_iter().collect(),
            works_at,
            head_of: if input.is_head { works_at } else { None },
        })
    }

    /// Changes a person's details; refused when a seat they hold would break a membership rule.
    pub async fn update_committee_person(
        &self,
        user: &User,
        cluster: ClusterId,
        person: &str,
        input: &PersonInput,
    ) -> ServiceResult<()> {
        let (members, mut register) = self.committee_to_change(user, cluster).await?;
        let id = parse_person("person", person, &register)?;
        let details = self.person_details(user, &members, input).await?;
        if let Some(p) = register.people.iter_mut().find(|p| p.id == id) {
            p.details = details.clone();
        }
        let urns: Vec<Urn> = members.iter().map(|m| m.urn).collect();
        refuse_breaches(&register, &urns, "person")?;
        Ok(self
            .store
            .update_committee_person(user.authority, cluster, id, &details)
            .await?)
    }

    /// Adds a seat (filled or vacant); the membership rules are checked before saving.
    pub async fn add_committee_seat(&self, user: &User, cluster: ClusterId, input: &SeatInput) -> ServiceResult<()> {
        let (members, mut register) = self.committee_to_change(user, cluster).await?;
        let kind = SeatKind::from_code(input.kind.trim()).ok_or_else(|| {
            invalid(
                "kind",
                "choose voting governor, substitute, headteacher, clerk, authority link officer or observer",
            )
        })?;
        let school = parse_opt_urn("school", &input.school)?;
        let needs_school = matches!(
            kind,
            SeatKind::VotingGovernor | SeatKind::Substitute | SeatKind::Headteacher
        );
        match school {
            None if needs_school => {
                return Err(invalid(
                    "school",
                    format!("a {} seat represents a member school: choose it", seat_label(kind)),
                ));
            }
            Some(u) if !members.iter().any(|m| m.urn == u) => {
                return Err(invalid("school", format!("school {u} is not a member of this cluster")));
            }
            Some(_) if matches!(kind, SeatKind::Clerk | SeatKind::AuthorityLinkOfficer) => {
                return Err(invalid(
                    "school",
                    format!("a {} seat does not represent a school", seat_label(kind)),
                ));
            }
            _ => {}
        }
        if kind == SeatKind::Substitute
            && let Some(u) = school
            && register
                .seats
                .iter()
                .any(|s| s.kind == SeatKind::Substitute && s.school == Some(u))
        {
            return Err(invalid("kind", format!("school {u} already has a substitute seat")));
        }
        let person = if input.person.trim().is_empty() {
            None
        } else {
            Some(parse_person("person", &input.person, &register)?)
        };
        let term_from = parse_opt_date("term_from", &input.term_from)?;
        let term_to = parse_opt_date("term_to", &input.term_to)?;
        register.seats.push(CommitteeSeat {
            kind,
            school,
            person,
            suspended: false,
            term_from,
            term_to,
        });
        let urns: Vec<Urn> = members.iter().map(|m| m.urn).collect();
        refuse_breaches(&register, &urns, if person.is_some() { "person" } else { "school" })?;
        Ok(self
            .store
            .save_committee_seats(user.authority, cluster, &register.seats)
            .await?)
    }

    /// Suspends, reinstates, vacates, fills or removes seat `number` (1-based, as listed).
    pub async fn change_committee_seat(
        &self,
        user: &User,
        cluster: ClusterId,
        number: &str,
        action: &str,
        person: &str,
    ) -> ServiceResult<()> {
        let (members, mut register) = self.committee_to_change(user, cluster).await?;
        let i = number
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=register.seats.len()).contains(n))
            .ok_or_else(|| invalid("seat", "choose a seat from the list"))?
            - 1;
        let filler = if action == "fill" {
            Some(parse_person("person", person, &register)?)
        } else {
            None
        };
        if action == "remove" {
            register.seats.remove(i);
        } else if let Some(seat) = register.seats.get_mut(i) {
            match (action, seat.person) {
                ("suspend", Some(_)) => seat.suspended = true,
                ("reinstate", Some(_)) => seat.suspended = false,
                ("vacate", Some(_)) => {
                    seat.person = None;
                    seat.suspended = false;
                }
                ("suspend" | "reinstate" | "vacate", None) => {
                    return Err(invalid("seat", "the seat is vacant"));
                }
                ("fill", None) => seat.person = filler,
                ("fill", Some(_)) => return Err(invalid("seat", "the seat is filled: make it vacant first")),
                _ => return Err(invalid("action", "choose suspend, reinstate, vacate, fill or remove")),
            }
        }
        let urns: Vec<Urn> = members.iter().map(|m| m.urn).collect();
        refuse_breaches(&register, &urns, "person")?;
        Ok(self
            .store
            .save_committee_seats(user.authority, cluster, &register.seats)
            .await?)
    }

    /// Adopts a new constitution version from a day after every earlier version and every held
    /// meeting (recorded meetings stay judged by the version that was in force).
    pub async fn adopt_constitution(
        &self,
        user: &User,
        cluster: ClusterId,
        input: &ConstitutionInput,
    ) -> ServiceResult<()> {
        let (_, register) = self.committee_to_change(user, cluster).await?;
        let mut constitution = Constitution::preset(input.preset.trim())
            .ok_or_else(|| invalid("preset", "choose Norfolk, Welsh, federation or reporting only"))?;
        constitution.casting_vote = input.casting_vote;
        let effective_from = parse_date("effective_from", &input.effective_from)?;
        if let Some(latest) = register.versions.iter().map(|v| v.effective_from).max()
            && effective_from <= latest
        {
            return Err(invalid(
                "effective_from",
                format!("must be after {latest}, when the current version took effect"),
            ));
        }
        let meetings = self.store.cluster_meetings(user.authority, cluster).await?;
        if let Some(last) = meetings.iter().filter(|m| m.totals.held).map(|m| m.held_on).max()
            && effective_from <= last
        {
            return Err(invalid(
                "effective_from",
                format!(
                    "must be after {last}, the last meeting held: past meetings keep the rules they were held under"
                ),
            ));
        }
        let mut versions = register.versions.clone();
        versions.push(ConstitutionVersion {
            version: versions.iter().map(|v| v.version).max().unwrap_or(0) + 1,
            effective_from,
            constitution,
        });
        Ok(self
            .store
            .save_constitution_versions(user.authority, cluster, &versions, register.last_review)
            .await?)
    }

    /// Records the committee's annual governance review.
    pub async fn record_governance_review(&self, user: &User, cluster: ClusterId, on: &str) -> ServiceResult<()> {
        let (_, register) = self.committee_to_change(user, cluster).await?;
        let day = parse_date("reviewed_on", on)?;
        if day > self.clock.today() {
            return Err(invalid("reviewed_on", "a review is recorded once it has happened"));
        }
        if register.versions.is_empty() {
            return Err(invalid("reviewed_on", "adopt a constitution first"));
        }
        Ok(self
            .store
            .save_constitution_versions(user.authority, cluster, &register.versions, Some(day))
            .await?)
    }

    /// The committee's meetings by term, newest first.
    pub async fn committee_meetings(&self, user: &User, cluster: ClusterId) -> ServiceResult<MeetingList> {
        let today = self.clock.today();
        let (cluster_name, members) = self.members_on(user, cluster, today).await?;
        let urns: Vec<Urn> = members.iter().map(|m| m.urn).collect();
        let access = access_for(user, cluster, &urns)?;
        let register = self.register_of(user, cluster).await?;
        let meetings = self.store.cluster_meetings(user.authority, cluster).await?;
        let mut terms: Vec<(Term, Vec<MeetingListRow>)> = Vec::new();
        for m in meetings.iter().rev() {
            let Some(id) = m.id else { continue };
            let row = MeetingListRow {
                id,
                held_on: m.held_on,
                title: m.title.clone(),
                held: m.totals.held,
                quorate: m.totals.quorate,
                minutes: business::minutes_state(m),
            };
            let term = Term::of(m.held_on);
            match terms.last_mut() {
                Some((t, rows)) if *t == term => rows.push(row),
                _ => terms.push((term, vec![row])),
            }
        }
        Ok(MeetingList {
            access,
            cluster,
            cluster_name,
            terms,
            has_constitution: !register.versions.is_empty(),
            today,
        })
    }
}

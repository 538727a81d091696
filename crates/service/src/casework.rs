//! Strand casework and privacy: every method that reads or writes pupil data first authorises
//! through the permissions matrix (`domain::privacy::authorise`) and writes an audit row (who,
//! what, when, why); a refusal writes an audit row too. Other roles get aggregates only,
//! suppressed for small numbers. No pupil data goes to the application log.

mod demo;

use crate::{Service, ServiceError, ServiceResult};
use domain::NaiveDate;
use domain::access::{Scope, User, UserRole};
use domain::casework::gt::{Evidence, GtEntry, GtKind, GtPolicy, RegisterSummary, summarise};
use domain::casework::lsu::{LsuMode, LsuPlacement, LsuPolicy};
use domain::casework::mentor::{
    CaseStatus, Mentor, MentorBase, MentorCase, MentorPolicy, Outcome, Referral, ReferralReason, caseload_warning,
};
use domain::casework::representation::{Composition, RepresentationRow, representation};
use domain::casework::transition::{Flag, Receiving, TransitionKind, TransitionRecord, flags_for};
use domain::casework::{
    CaseId, CaseworkError, GtEntryId, PlacementId, Pupil, PupilId, PupilInput, TransitionId, YearGroup, academic_year,
    parse_date,
};
use domain::ids::{AuthorityId, Urn, UserId};
use domain::privacy::audit::{AuditEntry, AuditRecord, ChainStatus, Outcome as AuditOutcome, verify_chain};
use domain::privacy::retention::{RecordKind, rule};
use domain::privacy::suppress::{DEFAULT_THRESHOLD, SuppressedTable, suppress};
use domain::privacy::{Action, Actor, Denied, Resource, Strand, Target, authorise, sees_pupil_level};
use std::collections::{BTreeMap, BTreeSet};

/// Which records a store read returns (all of the authority's when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseworkFilter {
    pub school: Option<Urn>,
    pub pupil: Option<PupilId>,
    pub id: Option<i64>,
}

impl CaseworkFilter {
    pub fn school(urn: Urn) -> Self {
        CaseworkFilter {
            school: Some(urn),
            ..Self::default()
        }
    }
    pub fn pupil(p: PupilId) -> Self {
        CaseworkFilter {
            pupil: Some(p),
            ..Self::default()
        }
    }
    pub fn id(id: i64) -> Self {
        CaseworkFilter {
            id: Some(id),
            ..Self::default()
        }
    }
}

/// The DPO's search of the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub pupil: Option<PupilId>,
    pub user_email: Option<String>,
}

/// Records the retention job removes, in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionDeletion {
    pub pupils: Vec<PupilId>,
    pub gt_entries: Vec<GtEntryId>,
    pub cases: Vec<CaseId>,
    pub placements: Vec<PlacementId>,
    pub transitions: Vec<TransitionId>,
}

impl RetentionDeletion {
    pub fn is_empty(&self) -> bool {
        self.pupils.is_empty()
            && self.gt_entries.is_empty()
            && self.cases.is_empty()
            && self.placements.is_empty()
            && self.transitions.is_empty()
    }
}

/// One record the retention job removed (by pseudonymous id only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedRecord {
    pub kind: RecordKind,
    pub id: String,
    pub pupil: PupilId,
    pub school: Urn,
    /// The day its retention period ran from.
    pub event: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionReport {
    pub authority: AuthorityId,
    pub today: NaiveDate,
    pub removed: Vec<RemovedRecord>,
}

impl RetentionReport {
    pub fn count(&self, kind: RecordKind) -> usize {
        self.removed.iter().filter(|r| r.kind == kind).count()
    }
}

/// A mentor with their current load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentorLoad {
    pub mentor: Mentor,
    pub open_cases: u32,
    pub guidance: u32,
    pub warning: Option<String>,
}

/// A school's casework as its own staff see it (each part only when the matrix allows it).
#[derive(Debug, Clone, PartialEq)]
pub struct SchoolCasework {
    pub school: Urn,
    pub school_name: String,
    pub today: NaiveDate,
    pub pupils: Vec<Pupil>,
    pub gt: Option<Vec<GtEntry>>,
    pub cases: Option<Vec<MentorCase>>,
    pub mentors: Vec<MentorLoad>,
    pub placements: Option<Vec<LsuPlacement>>,
    pub transitions: Option<Vec<TransitionRecord>>,
    /// Whether the user may acknowledge records arriving at this school.
    pub may_acknowledge: bool,
    /// LSU use against the school's composition (gender, FSM, ethnicity), when placements are visible.
    pub lsu_monitoring: Option<Vec<RepresentationRow>>,
    pub synthetic: bool,
}

impl SchoolCasework {
    pub fn pupil(&self, id: PupilId) -> Option<&Pupil> {
        self.pupils.iter().find(|p| p.id == id)
    }
}

/// A table of counts, suppressed, with its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateTable {
    pub caption: String,
    pub row_heading: &'static str,
    pub rows: Vec<String>,
    pub columns: Vec<&'static str>,
    pub table: SuppressedTable,
}

/// Casework across the authority, suppressed for small numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseworkAggregates {
    pub threshold: u64,
    pub by_cluster: AggregateTable,
    pub by_school: AggregateTable,
    pub by_gender: AggregateTable,
    pub synthetic: bool,
}

/// What `/casework` shows: the school's own casework, or aggregates.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseworkHome {
    School(Box<SchoolCasework>),
    Aggregates(Box<CaseworkAggregates>),
}

/// Everything about one pupil that the user may see.
#[derive(Debug, Clone, PartialEq)]
pub struct PupilRecord {
    pub pupil: Pupil,
    pub school_name: String,
    pub gt: Option<Vec<GtEntry>>,
    pub cases: Option<Vec<MentorCase>>,
    pub placements: Option<Vec<LsuPlacement>>,
    pub transitions: Option<Vec<TransitionRecord>>,
    /// Flags a transition record would carry now.
    pub flags: Vec<Flag>,
    /// The school's staged LSU referral criteria, when the user may place pupils in the unit.
    pub lsu_stages: Option<Vec<String>>,
    pub may_export_subject_access: bool,
    pub may_export_educational_record: bool,
    pub may_send_transition: bool,
}

/// A mentor case with its pupil and mentors to choose from.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseView {
    pub case: MentorCase,
    pub pupil: Pupil,
    pub mentor: Option<Mentor>,
    pub today: NaiveDate,
    pub policy: MentorPolicy,
}

/// The G&T register of a school with its targets and representation check.
#[derive(Debug, Clone, PartialEq)]
pub struct GtRegisterView {
    pub school: Urn,
    pub school_name: String,
    pub academic_year: i32,
    pub entries: Vec<(GtEntry, Pupil)>,
    /// Per year group: the summary against target (cohort = pupils held in that year group).
    pub summaries: Vec<(YearGroup, RegisterSummary)>,
    pub representation: Vec<RepresentationRow>,
    pub composition: Option<(Composition, bool)>,
    pub policy: GtPolicy,
    pub pupils: Vec<Pupil>,
}

/// Subject access: everything held about one pupil, with who has accessed it.
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectAccess {
    pub pupil: Pupil,
    pub school_name: String,
    pub generated_at: i64,
    pub gt: Vec<GtEntry>,
    pub cases: Vec<MentorCase>,
    pub mentors: Vec<Mentor>,
    pub placements: Vec<LsuPlacement>,
    pub transitions: Vec<TransitionRecord>,
    pub accesses: Vec<AuditEntry>,
}

/// A mentor case as it appears in the educational record: the headline, not the notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSummary {
    pub reason: ReferralReason,
    pub referred_on: NaiveDate,
    pub status: CaseStatus,
    pub closed_on: Option<NaiveDate>,
    pub outcome: Option<Outcome>,
}

/// The educational record: narrower than subject access (no casework notes, no audit trail).
#[derive(Debug, Clone, PartialEq)]
pub struct EducationalRecord {
    pub pupil: Pupil,
    pub school_name: String,
    pub generated_at: i64,
    pub gt: Vec<GtEntry>,
    pub cases: Vec<CaseSummary>,
    pub placements: Vec<LsuPlacement>,
    pub transitions: Vec<TransitionRecord>,
}

/// The audit log as the DPO searches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditView {
    pub entries: Vec<AuditEntry>,
    pub chain: ChainStatus,
    pub total: u64,
}

/// A transition record as a file for a school outside the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionFile {
    pub record: TransitionRecord,
    pub pupil: Pupil,
    pub from_name: String,
}

// ---- inputs, as typed ----

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferralInput {
    pub pupil: i64,
    pub mentor: Option<i64>,
    pub reason: String,
    pub referred_by: String,
    pub referred_on: String,
    pub note: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanInput {
    pub targets: Vec<String>,
    pub exit_strategy: String,
    pub agreed_on: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionInput {
    pub held_on: String,
    pub minutes: String,
    pub note: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewInput {
    pub held_on: String,
    pub outcome: String,
    pub note: String,
    pub follow_up_on: String,
    pub parents_contacted_on: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowUpInput {
    pub done_on: String,
    pub sustained: bool,
    pub note: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtEntryInput {
    pub pupil: i64,
    pub kind: String,
    pub reserve: bool,
    pub evidence: Vec<String>,
    pub subject: String,
    pub identified_on: String,
    pub told_on: String,
    pub enrichment: String,
}

/// An LSU placement as typed: the referral against the school's staged criteria, the plan and
/// the figures before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlacementInput {
    pub referred_on: String,
    /// The stages (1, 2, 3, …) the referral showed were tried.
    pub stages: Vec<String>,
    pub starts_on: String,
    pub planned_end: String,
    /// Empty for full time; else sessions a week in the unit.
    pub sessions_per_week: String,
    pub agreed_with_pupil: bool,
    pub agreed_with_parent: bool,
    pub reintegration_plan: String,
    pub supported_lessons: String,
    pub before: MeasuresInput,
}

/// Attendance (a percentage, one decimal), exclusions and incidents over a period, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeasuresInput {
    pub attendance: String,
    pub exclusions: String,
    pub incidents: String,
}

/// The end of a placement: the figures during and after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlacementEndInput {
    pub ended_on: String,
    pub during: MeasuresInput,
    pub after: MeasuresInput,
}

fn count(name: &'static str, s: &str) -> ServiceResult<u32> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(0);
    }
    t.parse()
        .map_err(|_| ServiceError::Invalid(format!("{name}: enter a whole number, like 2")))
}

/// "85.3" (per cent) to tenths of a per cent.
fn attendance_tenths(name: &'static str, s: &str) -> ServiceResult<Option<u32>> {
    let t = s.trim().trim_end_matches('%').trim();
    if t.is_empty() {
        return Ok(None);
    }
    let bad = || ServiceError::Invalid(format!("{name}: enter a percentage from 0 to 100, like 85.3"));
    let (whole, tenth) = t.split_once('.').unwrap_or((t, "0"));
    if tenth.len() != 1 {
        return Err(bad());
    }
    let v = whole.parse::<u32>().map_err(|_| bad())? * 10 + tenth.parse::<u32>().map_err(|_| bad())?;
    if v > 1000 { Err(bad()) } else { Ok(Some(v)) }
}

impl MeasuresInput {
    fn parse(&self, period: &'static str) -> ServiceResult<domain::casework::lsu::Measures> {
        let name = |what: &'static str| -> &'static str {
            match (period, what) {
                ("before", "a") => "attendance before",
                ("during", "a") => "attendance during",
                ("after", "a") => "attendance after",
                ("before", "e") => "exclusions before",
                ("during", "e") => "exclusions during",
                ("after", "e") => "exclusions after",
                ("before", _) => "incidents before",
                ("during", _) => "incidents during",
                _ => "incidents after",
            }
        };
        Ok(domain::casework::lsu::Measures {
            attendance_tenths_pct: attendance_tenths(name("a"), &self.attendance)?,
            exclusions: count(name("e"), &self.exclusions)?,
            incidents: count(name("i"), &self.incidents)?,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransitionInput {
    pub kind: String,
    /// A URN in the authority's register, or empty when `outside` names the school.
    pub to_urn: String,
    pub outside: String,
    pub note: String,
}

fn invalid(e: CaseworkError) -> ServiceError {
    ServiceError::Invalid(e.to_string())
}

fn optional_date(name: &'static str, s: &str) -> ServiceResult<Option<NaiveDate>> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_date(name, s).map(Some).map_err(invalid)
    }
}

/// One access to pupil data, to authorise and record.
struct Access<'a> {
    resource: Resource,
    action: Action,
    target: Target,
    pupil: Option<PupilId>,
    purpose: &'a str,
    detail: String,
}

impl Service {
    async fn casework_actor(&self, user: &User) -> ServiceResult<Actor> {
        let strands = if user.role == UserRole::StrandStaff {
            self.store.strands_of(user.authority, user.id).await?
        } else {
            Vec::new()
        };
        Ok(Actor::new(user, strands))
    }

    async fn school_target(&self, user: &User, urn: Urn) -> ServiceResult<Target> {
        let today = self.clock.today();
        let cluster = self
            .store
            .current_memberships(user.authority, today)
            .await?
            .into_iter()
            .find(|(u, _, _)| *u == urn)
            .map(|(_, c, _)| c);
        Ok(Target::School { urn, cluster })
    }

    fn audit_record(&self, user: &User, a: &Access<'_>, outcome: AuditOutcome) -> AuditRecord {
        AuditRecord {
            at: self.clock.now(),
            user: user.id,
            user_email: user.email.clone(),
            role: user.role.code().to_string(),
            action: a.action,
            resource: a.resource,
            pupil: a.pupil,
            school: match a.target {
                Target::School { urn, .. } => Some(urn),
                Target::Authority => None,
            },
            purpose: a.purpose.to_string(),
            outcome,
            detail: a.detail.clone(),
        }
    }

    fn refusal(&self, user: &User, denied: &Denied, target: Target) -> ServiceError {
        let own_school =
            matches!((user.scope, target), (Scope::School(mine), Target::School { urn, .. }) if mine == urn);
        if matches!(target, Target::School { .. }) && !own_school {
            // Another school's record: its existence is not revealed (whatever the reason).
            ServiceError::NotFound("record".into())
        } else {
            let mut m = denied.to_string();
            if let Some(first) = m.get(..1) {
                m = first.to_uppercase() + &m[1..];
            }
            ServiceError::Forbidden(format!("{m}."))
        }
    }

    /// Authorises one access and audits it, allowed or refused.
    async fn guard(&self, user: &User, actor: &Actor, access: Access<'_>) -> ServiceResult<()> {
        let decision = authorise(actor, access.resource, access.action, access.target);
        let outcome = if decision.is_ok() {
            AuditOutcome::Allowed
        } else {
            AuditOutcome::Refused
        };
        let audited =
            access.resource.is_pupil_level() || matches!(access.resource, Resource::AuditLog | Resource::Retention);
        if audited {
            self.store
                .append_audit(user.authority, &[self.audit_record(user, &access, outcome)])
                .await?;
        }
        decision.map_err(|d| self.refusal(user, &d, access.target))
    }

    /// Records that pupils were listed (one row each, so "who read pupil X?" finds list views too).
    async fn audit_listed(
        &self,
        user: &User,
        resource: Resource,
        school: Urn,
        pupils: impl IntoIterator<Item = PupilId>,
        purpose: &str,
    ) -> ServiceResult<()> {
        let unique: BTreeSet<PupilId> = pupils.into_iter().collect();
        let records: Vec<AuditRecord> = unique
            .into_iter()
            .map(|p| {
                self.audit_record(
                    user,
                    &Access {
                        resource,
                        action: Action::Read,
                        target: Target::School {
                            urn: school,
                            cluster: None,
                        },
                        pupil: Some(p),
                        purpose,
                        detail: "listed".into(),
                    },
                    AuditOutcome::Allowed,
                )
            })
            .collect();
        self.store.append_audit(user.authority, &records).await?;
        Ok(())
    }

    /// May the user reach this resource for this target? (No audit: used to decide what to load.)
    fn may_reach(actor: &Actor, resource: Resource, action: Action, target: Target) -> bool {
        authorise(actor, resource, action, target).is_ok()
    }

    async fn school_name(&self, authority: AuthorityId, urn: Urn) -> ServiceResult<String> {
        Ok(self
            .store
            .school(authority, urn)
            .await?
            .map_or_else(|| format!("School {urn}"), |d| d.school.school.name))
    }

    async fn load_pupil(&self, user: &User, id: PupilId) -> ServiceResult<Pupil> {
        self.store
            .pupils(user.authority, &CaseworkFilter::pupil(id))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ServiceError::NotFound("pupil".into()))
    }

    // ---- what /casework shows ----

    /// The user's casework page: their school's records (school staff), or aggregates.
    pub async fn casework_home(&self, user: &User) -> ServiceResult<CaseworkHome> {
        match user.scope {
            Scope::School(urn) if sees_pupil_level(user.role) => {
                Ok(CaseworkHome::School(Box::new(self.school_casework(user, urn).await?)))
            }
            _ => Ok(CaseworkHome::Aggregates(Box::new(
                self.casework_aggregates(user).await?,
            ))),
        }
    }

    /// One school's casework, each part as far as the matrix allows.
    pub async fn school_casework(&self, user: &User, urn: Urn) -> ServiceResult<SchoolCasework> {
        let actor = self.casework_actor(user).await?;
        let target = self.school_target(user, urn).await?;
        let purpose = "view the school's casework";
        self.guard(
            user,
            &actor,
            Access {
                resource: Resource::PupilIdentity,
                action: Action::Read,
                target,
                pupil: None,
                purpose,
                detail: "school list".into(),
            },
        )
        .await?;
        let filter = CaseworkFilter::school(urn);
        let pupils = self.store.pupils(user.authority, &filter).await?;
        let gt = if Self::may_reach(&actor, Resource::GtRegister, Action::Read, target) {
            let e = self.store.gt_entries(user.authority, &filter).await?;
            self.audit_listed(user, Resource::GtRegister, urn, e.iter().map(|x| x.pupil), purpose)
                .await?;
            Some(e)
        } else {
            None
        };
        let cases = if Self::may_reach(&actor, Resource::MentorCase, Action::Read, target) {
            let c = self.store.mentor_cases(user.authority, &filter).await?;
            self.audit_listed(user, Resource::MentorCase, urn, c.iter().map(|x| x.pupil), purpose)
                .await?;
            Some(c)
        } else {
            None
        };
        let placements = if Self::may_reach(&actor, Resource::LsuPlacement, Action::Read, target) {
            let p = self.store.lsu_placements(user.authority, &filter).await?;
            self.audit_listed(user, Resource::LsuPlacement, urn, p.iter().map(|x| x.pupil), purpose)
                .await?;
            Some(p)
        } else {
            None
        };
        let transitions = if Self::may_reach(&actor, Resource::Transition, Action::Read, target) {
            let t = self.store.transitions(user.authority, &filter).await?;
            self.audit_listed(user, Resource::Transition, urn, t.iter().map(|x| x.pupil), purpose)
                .await?;
            Some(t)
        } else {
            None
        };
        // Only the pupils some visible record (or the referral form) needs are listed by name.
        self.audit_listed(user, Resource::PupilIdentity, urn, pupils.iter().map(|p| p.id), purpose)
            .await?;
        let mentors = match &cases {
            Some(cases) => self.mentor_loads(user.authority, urn, cases).await?,
            None => Vec::new(),
        };
        let lsu_monitoring = match &placements {
            Some(placements) => {
                let composition = self.store.composition(user.authority, urn).await?;
                let placed: Vec<_> = placements
                    .iter()
                    .filter_map(|p| pupils.iter().find(|x| x.id == p.pupil).map(|x| x.characteristics))
                    .collect();
                Some(representation(
                    &placed,
                    composition.as_ref().map_or(&Composition::default(), |(c, _)| c),
                ))
            }
            None => None,
        };
        Ok(SchoolCasework {
            school: urn,
            school_name: self.school_name(user.authority, urn).await?,
            today: self.clock.today(),
            synthetic: pupils.iter().any(|p| p.synthetic),
            pupils,
            gt,
            cases,
            mentors,
            placements,
            transitions,
            may_acknowledge: Self::may_reach(&actor, Resource::Transition, Action::Write, target),
            lsu_monitoring,
        })
    }

    async fn mentor_loads(
        &self,
        authority: AuthorityId,
        urn: Urn,
        cases: &[MentorCase],
    ) -> ServiceResult<Vec<MentorLoad>> {
        let policy = MentorPolicy::default();
        let mentors = self.store.mentors(authority).await?;
        Ok(mentors
            .into_iter()
            .filter(|m| m.base == MentorBase::School(urn) || cases.iter().any(|c| c.mentor == Some(m.id)))
            .map(|m| {
                let open = u32::try_from(
                    cases
                        .iter()
                        .filter(|c| c.mentor == Some(m.id) && c.status.is_open())
                        .count(),
                )
                .unwrap_or(u32::MAX);
                MentorLoad {
                    guidance: policy.guidance_for(m.fte_tenths),
                    warning: caseload_warning(open, m.fte_tenths, &policy),
                    open_cases: open,
                    mentor: m,
                }
            })
            .collect())
    }

    /// Counts across the authority by cluster, school and gender, suppressed for small numbers.
    pub async fn casework_aggregates(&self, user: &User) -> ServiceResult<CaseworkAggregates> {
        let actor = self.casework_actor(user).await?;
        authorise(&actor, Resource::CaseworkAggregates, Action::Read, Target::Authority)
            .map_err(|d| self.refusal(user, &d, Target::Authority))?;
        let a = user.authority;
        let all = CaseworkFilter::default();
        let today = self.clock.today();
        let pupils: BTreeMap<PupilId, Pupil> = self
            .store
            .pupils(a, &all)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let gt = self.store.gt_entries(a, &all).await?;
        let cases = self.store.mentor_cases(a, &all).await?;
        let placements = self.store.lsu_placements(a, &all).await?;
        // (school, strand column, pupil)
        let mut items: Vec<(Urn, usize, PupilId)> = Vec::new();
        items.extend(
            gt.iter()
                .filter(|e| e.is_current() && !e.reserve)
                .map(|e| (e.school, 0, e.pupil)),
        );
        items.extend(
            cases
                .iter()
                .filter(|c| c.status.is_open())
                .map(|c| (c.school, 1, c.pupil)),
        );
        items.extend(
            placements
                .iter()
                .filter(|p| p.is_current())
                .map(|p| (p.school, 2, p.pupil)),
        );
        let columns = vec!["On the G&T register", "Open mentor cases", "Current LSU placements"];

        let schools: BTreeMap<Urn, String> = self
            .store
            .all_schools(a)
            .await?
            .into_iter()
            .map(|s| (s.school.urn, s.school.name))
            .collect();
        let memberships: BTreeMap<Urn, domain::ids::ClusterId> = self
            .store
            .current_memberships(a, today)
            .await?
            .into_iter()
            .map(|(u, c, _)| (u, c))
            .collect();
        let cluster_names: BTreeMap<domain::ids::ClusterId, String> = self
            .store
            .list_clusters(a, today)
            .await?
            .into_iter()
            .map(|c| (c.cluster.id, c.cluster.name))
            .collect();

        let table_by = |key: &dyn Fn(Urn) -> String| {
            let mut rows: BTreeMap<String, Vec<u64>> = BTreeMap::new();
            for (urn, col, _) in &items {
                rows.entry(key(*urn)).or_insert_with(|| vec![0; 3])[*col] += 1;
            }
            let labels: Vec<String> = rows.keys().cloned().collect();
            let counts: Vec<Vec<u64>> = rows.into_values().collect();
            (labels, suppress(&counts, DEFAULT_THRESHOLD))
        };
        let (cluster_rows, cluster_table) = table_by(&|u| {
            memberships
                .get(&u)
                .and_then(|c| cluster_names.get(c))
                .cloned()
                .unwrap_or_else(|| "Not in a cluster".into())
        });
        let (school_rows, school_table) =
            table_by(&|u| schools.get(&u).cloned().unwrap_or_else(|| format!("School {u}")));
        let mut gender = vec![vec![0u64; 2]; 3];
        for (_, col, pupil) in &items {
            if let Some(p) = pupils.get(pupil) {
                let g = usize::from(p.characteristics.gender == domain::casework::Gender::Male);
                gender[*col][g] += 1;
            }
        }
        Ok(CaseworkAggregates {
            threshold: DEFAULT_THRESHOLD,
            by_cluster: AggregateTable {
                caption: "Pupils in each strand by cluster".into(),
                row_heading: "Cluster",
                rows: cluster_rows,
                columns: columns.clone(),
                table: cluster_table,
            },
            by_school: AggregateTable {
                caption: "Pupils in each strand by school".into(),
                row_heading: "School",
                rows: school_rows,
                columns,
                table: school_table,
            },
            by_gender: AggregateTable {
                caption: "Pupils in each strand by gender (use monitoring)".into(),
                row_heading: "Strand",
                rows: vec![
                    "On the G&T register".into(),
                    "Open mentor cases".into(),
                    "Current LSU placements".into(),
                ],
                columns: vec!["Girls", "Boys"],
                table: suppress(&gender, DEFAULT_THRESHOLD),
            },
            synthetic: pupils.values().any(|p| p.synthetic),
        })
    }

    // ---- pupils ----

    /// Adds a pupil to the user's own school.
    pub async fn add_pupil(&self, user: &User, input: &PupilInput) -> ServiceResult<PupilId> {
        let Scope::School(urn) = user.scope else {
            return Err(ServiceError::Forbidden(
                "Only a school's own staff add its pupils.".into(),
            ));
        };
        let actor = self.casework_actor(user).await?;
        let target = self.school_target(user, urn).await?;
        self.guard(
            user,
            &actor,
            Access {
                resource: Resource::PupilIdentity,
                action: Action::Write,
                target,
                pupil: None,
                purpose: "record a pupil for casework",
                detail: "new pupil".into(),
            },
        )
        .await?;
        let new = input.validate(urn, self.clock.today(), false).map_err(invalid)?;
        Ok(self.store.save_pupil(user.authority, &new).await?)
    }

    /// One pupil's page: identity and every record the user may see.
    pub async fn pupil_record(&self, user: &User, id: PupilId) -> ServiceResult<PupilRecord> {
        let pupil = self.load_pupil(user, id).await?;
        let actor = self.casework_actor(user).await?;
        let target = self.school_target(user, pupil.school).await?;
        let purpose = "view a pupil's casework";
        let read = |resource| Access {
            resource,
            action: Action::Read,
            target,
            pupil: Some(id),
            purpose,
            detail: "pupil page".into(),
        };
        self.guard(user, &actor, read(Resource::PupilIdentity)).await?;
        let a = user.authority;
        let f = CaseworkFilter::pupil(id);
        let mut gt = None;
        let mut cases = None;
        let mut placements = None;
        let mut transitions = None;
        if Self::may_reach(&actor, Resource::GtRegister, Action::Read, target) {
            self.guard(user, &actor, read(Resource::GtRegister)).await?;
            gt = Some(self.store.gt_entries(a, &f).await?);
        }
        if Self::may_reach(&actor, Resource::MentorCase, Action::Read, target) {
            self.guard(user, &actor, read(Resource::MentorCase)).await?;
            cases = Some(self.store.mentor_cases(a, &f).await?);
        }
        if Self::may_reach(&actor, Resource::LsuPlacement, Action::Read, target) {
            self.guard(user, &actor, read(Resource::LsuPlacement)).await?;
            placements = Some(self.store.lsu_placements(a, &f).await?);
        }
        if Self::may_reach(&actor, Resource::Transition, Action::Read, target) {
            self.guard(user, &actor, read(Resource::Transition)).await?;
            transitions = Some(self.store.transitions(a, &f).await?);
        }
        let flags = self.flags_of(a, id).await?;
        Ok(PupilRecord {
            school_name: self.school_name(a, pupil.school).await?,
            may_export_subject_access: Self::may_reach(&actor, Resource::SubjectAccessExport, Action::Export, target),
            may_export_educational_record: Self::may_reach(
                &actor,
                Resource::EducationalRecordExport,
                Action::Export,
                target,
            ),
            may_send_transition: Self::may_reach(&actor, Resource::Transition, Action::Write, target),
            lsu_stages: Self::may_reach(&actor, Resource::LsuPlacement, Action::Write, target)
                .then(|| LsuPolicy::default().stages),
            pupil,
            gt,
            cases,
            placements,
            transitions,
            flags,
        })
    }

    async fn flags_of(&self, a: AuthorityId, id: PupilId) -> ServiceResult<Vec<Flag>> {
        let f = CaseworkFilter::pupil(id);
        let on_register = self.store.gt_entries(a, &f).await?.iter().any(|e| !e.reserve);
        let mentee = !self.store.mentor_cases(a, &f).await?.is_empty();
        let lsu = !self.store.lsu_placements(a, &f).await?.is_empty();
        Ok(flags_for(on_register, mentee, lsu))
    }

    // ---- mentor cases ----

    /// Opens a mentor case from a referral.
    pub async fn refer_to_mentor(&self, user: &User, input: &ReferralInput) -> ServiceResult<CaseId> {
        let pupil = self.load_pupil(user, PupilId(input.pupil)).await?;
        let actor = self.casework_actor(user).await?;
        let target = self.school_target(user, pupil.school).await?;
        self.guard(
            user,
            &actor,
            Access {
                resource: Resource::MentorCase,
                action: Action::Write,
                target,
                pupil: Some(pupil.id),
                purpose: "refer a pupil to a learning mentor",
                detail: "referral".into(),
            },
        )
        .await?;
        let reason = ReferralReason::from_code(&input.reason)
            .ok_or_else(|| ServiceError::Invalid("reason: choose the reason for the referral".into()))?;
        let today = self.clock.today();
        let referred_on = optional_date("referral date", &input.referred_on)?.unwrap_or(today);
        let mentor = match input.mentor {
            Some(m) => {
                let known = self.store.mentors(user.authority).await?;
                Some(
                    known
                        .iter()
                        .find(|x| x.id.0 == m)
                        .map(|x| x.id)
                        .ok_or_else(|| ServiceError::Invalid("mentor: choose one of the mentors listed".into()))?,
                )
            }
            None => None,
        };
        let case = MentorCase::refer(
            Referral {
                pupil: pupil.id,
                school: pupil.school,
                mentor,
                referred_on,
                referred_by: input.referred_by.clone(),
                reason,
                note: input.note.clone(),
            },
            today,
        )
        .map_err(invalid)?;
        Ok(self.store.save_mentor_case(user.authority, &case).await?)
    }

    async fn load_case(
        &self,
        user: &User,
        id: CaseId,
        action: Action,
        purpose: &str,
    ) -> ServiceResult<(MentorCase, Actor)> {
        let case = self
            .store
            .mentor_cases(user.authority, &CaseworkFilter::id(id.0))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ServiceError::NotFound("case".into()))?;
        let actor = self.casework_actor(user).await?;
        let target = self.school_target(user, case.school).await?;
        self.guard(
            user,
            &actor,
            Access {
                resource: Resource::MentorCase,
                action,
                target,
                pupil: Some(case.pupil),
                purpose,
                detail: format!("case {}", case.id),
            },
        )
        .await?;
        Ok((case, actor))
    }

    /// A mentor case with its pupil.
    pub async fn mentor_case(&self, user: &User, id: CaseId) -> ServiceResult<CaseView> {
        let (case, _) = self.load_case(user, id, Action::Read, "mentor case work").await?;
        let pupil = self.load_pupil(user, case.pupil).await?;
        let mentor = match case.mentor {
            Some(m) => self
                .store
                .mentors(user.authority)
                .await?
                .into_iter()
                .find(|x| x.id == m),
            None => None,
        };
        Ok(CaseView {
            case,
            pupil,
            mentor,
            today: self.clock.today(),
            policy: MentorPolicy::default(),
        })
    }

    async fn change_case(
        &self,
        user: &User,
        id: CaseId,
        purpose: &str,
        change: impl FnOnce(&mut MentorCase, NaiveDate) -> ServiceResult<()>,
    ) -> ServiceResult<()> {
        let (mut case, _) = self.load_case(user, id, Action::Write, purpose).await?;
        change(&mut case, self.clock.today())?;
        self.store.save_mentor_case(user.authority, &case).await?;
        Ok(())
    }

    /// Agrees the plan: 1–4 targets and the exit strategy.
    pub async fn agree_case_plan(&self, user: &User, id: CaseId, input: &PlanInput) -> ServiceResult<()> {
        self.change_case(user, id, "agree a mentor plan", |c, today| {
            let on = optional_date("plan date", &input.agreed_on)?.unwrap_or(today);
            c.agree_plan(&input.targets, &input.exit_strategy, on, &MentorPolicy::default())
                .map_err(invalid)
        })
        .await
    }

    pub async fn log_case_session(&self, user: &User, id: CaseId, input: &SessionInput) -> ServiceResult<()> {
        self.change_case(user, id, "log a mentor session", |c, today| {
            let on = optional_date("session date", &input.held_on)?.unwrap_or(today);
            let minutes: u32 = input
                .minutes
                .trim()
                .parse()
                .map_err(|_| ServiceError::Invalid("minutes: enter the session's length in minutes".into()))?;
            c.log_session(on, minutes, &input.note).map_err(invalid)
        })
        .await
    }

    pub async fn review_case(&self, user: &User, id: CaseId, input: &ReviewInput) -> ServiceResult<()> {
        self.change_case(user, id, "review a mentor case", |c, today| {
            let on = optional_date("review date", &input.held_on)?.unwrap_or(today);
            let outcome = Outcome::from_code(&input.outcome)
                .ok_or_else(|| ServiceError::Invalid("outcome: choose the review's outcome".into()))?;
            let follow_up = optional_date("follow-up date", &input.follow_up_on)?;
            let parents = optional_date("parents contacted", &input.parents_contacted_on)?;
            c.review(on, outcome, &input.note, follow_up, parents, &MentorPolicy::default())
                .map_err(invalid)
        })
        .await
    }

    pub async fn follow_up_case(&self, user: &User, id: CaseId, input: &FollowUpInput) -> ServiceResult<()> {
        self.change_case(user, id, "record a mentor follow-up", |c, today| {
            let on = optional_date("follow-up date", &input.done_on)?.unwrap_or(today);
            c.record_follow_up(on, input.sustained, &input.note).map_err(invalid)
        })
        .await
    }

    // ---- G&T register ----

    /// A school's register this academic year, with targets and the representation check.
    pub async fn gt_register(&self, user: &User) -> ServiceResult<GtRegisterView> {
        let Scope::School(urn) = user.scope else {
            return Err(ServiceError::Forbidden(
                "Registers are kept by schools: you see them as aggregates on the casework page.".into(),
            ));
        };
        let actor = self.casework_actor(user).await?;
        let target = self.school_target(user, urn).await?;
        let purpose = "keep the gifted and talented register";
        self.guard(
            user,
            &actor,
            Access {
                resource: Resource::GtRegister,
                action: Action::Read,
                target,
                pupil: None,
                purpose,
                detail: "register".into(),
            },
        )
        .await?;
        let a = user.authority;
        let f = CaseworkFilter::school(urn);
        let year = academic_year(self.clock.today());
        let pupils = self.store.pupils(a, &f).await?;
        let entries: Vec<GtEntry> = self
            .store
            .gt_entries(a, &f)
            .await?
            .into_iter()
            .filter(|e| e.academic_year == year)
            .collect();
        self.audit_listed(
            user,
            Resource::GtRegister,
            urn,
            entries.iter().map(|e| e.pupil),
            purpose,
        )
        .await?;
        let by_id: BTreeMap<PupilId, &Pupil> = pupils.iter().map(|p| (p.id, p)).collect();
        let policy = GtPolicy::default();
        let composition = self.store.composition(a, urn).await?;
        let mut groups: BTreeMap<YearGroup, Vec<GtEntry>> = BTreeMap::new();
        for e in &entries {
            groups.entry(e.year_group).or_default().push(e.clone());
        }
        // The cohort per year group: the school's pupils in it, from its composition when known
        // (spread evenly over the school's year groups), else the pupils held here.
        let summaries = groups
            .iter()
            .map(|(yg, es)| {
                let held = u32::try_from(pupils.iter().filter(|p| p.year_group == *yg).count()).unwrap_or(0);
                let cohort = composition
                    .as_ref()
                    .map_or(held, |(c, _)| c.pupils / year_groups_of(&pupils).max(1));
                (*yg, summarise(es, cohort.max(held), &policy))
            })
            .collect();
        let on_register: Vec<_> = entries
            .iter()
            .filter(|e| e.is_current() && !e.reserve)
            .filter_map(|e| by_id.get(&e.pupil).map(|p| p.characteristics))
            .collect();
        let representation = representation(
            &on_register,
            composition.as_ref().map_or(&Composition::default(), |(c, _)| c),
        );
        let entries = entries
            .into_iter()
            .filter_map(|e| by_id.get(&e.pupil).map(|p| (e, (*p).clone())))
            .collect();
        Ok(GtRegisterView {
            school: urn,
            school_name: self.school_name(a, urn).await?,
            academic_year: year,
            entries,
            summaries,
            representation,
            composition,
            policy,
            pupils,
        })
    }

    /// Adds a pupil to the register (or its reserve list).
    pub async fn add_gt_entry(&self, user: &User, input: &GtEntryInput) -> ServiceResult<GtEntryId> {
        let pupil = self.load_pupil(user, PupilId(input.pupil)).await?;
        let actor = self.casework_actor(user).await?;
        let target = self.school_target(user, pupil.school).await?;
        self.guard(
            user,
            &actor,
            Access {
                resource: Resource::GtRegister,
                action: Action::Write,
                target,
                pupil: Some(pupil.id),
                purpose: "keep the gifted and talented register",
                detail: "new entry".into(),
            },
        )
        .await?;
        let today = self.clock.today();
        let kind = GtKind::from_code(&input.kind)
            .ok_or_else(|| ServiceError::Invalid("gifted or talented: choose one".into()))?;
        let evidence = input
            .evidence
            .iter()
            .map(|e| {
                Evidence::from_code(e)
                    .ok_or_else(|| ServiceError::Invalid("evidence: choose from the kinds listed".into()))
            })
            .collect::<ServiceResult<Vec<_>>>()?;
        let entry = GtEntry {
            id: GtEntryId(0),
            pupil: pupil.id,
            school: pupil.school,
            academic_year: academic_year(today),
            year_group: pupil.year_group,
            kind,
            reserve: input.reserve,
            evidence,
            domain: input.subject.trim().to_string(),
            identified_on: optional_date("date identified", &input.identified_on)?.unwrap_or(today),
            told_on: optional_date("date told", &input.told_on)?,
            enrichment: input
                .enrichment
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            removed_on: None,
        };
        entry.validate().map_err(invalid)?;
        Ok(self.store.save_gt_entry(user.authority, &entry).await?)
    }

    // ---- LSU placements ----

    /// Places a pupil in the learning support unit, against the school's staged criteria.
    pub async fn add_lsu_placement(
        &self,
        user: &User,
        pupil: PupilId,
        input: &PlacementInput,
    ) -> ServiceResult<PlacementId> {
        let pupil = self.load_pupil(user, pupil).await?;
        let actor = self.casework_actor(user).await?;
        let target = self.school_target(user, pupil.school).await?;
        self.guard(
            user,
            &actor,
            Access {
                resource: Resource::LsuPlacement,
                action: Action::Write,
                target,
                pupil: Some(pupil.id),
                purpose: "place a pupil in the learning support unit",
                detail: "new placement".into(),
            },
        )
        .await?;
        let policy = LsuPolicy::default();
        let today = self.clock.today();
        let stages: BTreeSet<u32> = input.stages.iter().filter_map(|s| s.trim().parse().ok()).collect();
        let stages_met = (1..=u32::try_from(policy.stages.len()).unwrap_or(0))
            .take_while(|n| stages.contains(n))
            .count();
        let starts_on = optional_date("start date", &input.starts_on)?.unwrap_or(today);
        let placement = LsuPlacement {
            id: PlacementId(0),
            pupil: pupil.id,
            school: pupil.school,
            referred_on: optional_date("referral date", &input.referred_on)?.unwrap_or(today),
            stages_met: u32::try_from(stages_met).unwrap_or(0),
            starts_on,
            planned_end: optional_date("planned end", &input.planned_end)?.ok_or_else(|| {
                ServiceError::Invalid("planned end: enter the day the placement is planned to end".into())
            })?,
            mode: if input.sessions_per_week.trim().is_empty() {
                LsuMode::FullTime
            } else {
                LsuMode::PartTime {
                    sessions_per_week: input.sessions_per_week.trim().parse().map_err(|_| {
                        ServiceError::Invalid(
                            "sessions a week: enter a number from 1 to 9, or leave empty for full time".into(),
                        )
                    })?,
                }
            },
            agreed_with_pupil: input.agreed_with_pupil,
            agreed_with_parent: input.agreed_with_parent,
            reintegration_plan: input.reintegration_plan.trim().to_string(),
            supported_lessons: count("supported lessons", &input.supported_lessons)?,
            before: input.before.parse("before")?,
            during: domain::casework::lsu::Measures::default(),
            after: None,
            ended_on: None,
        };
        placement.validate(&policy).map_err(invalid)?;
        Ok(self.store.save_lsu_placement(user.authority, &placement).await?)
    }

    /// Ends a placement, with its figures during and after.
    pub async fn end_lsu_placement(
        &self,
        user: &User,
        id: PlacementId,
        input: &PlacementEndInput,
    ) -> ServiceResult<()> {
        let mut placement = self
            .store
            .lsu_placements(user.authority, &CaseworkFilter::id(id.0))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ServiceError::NotFound("placement".into()))?;
        let actor = self.casework_actor(user).await?;
        let target = self.school_target(user, placement.school).await?;
        self.guard(
            user,
            &actor,
            Access {
                resource: Resource::LsuPlacement,
                action: Action::Write,
                target,
                pupil: Some(placement.pupil),
                purpose: "end a learning support unit placement",
                detail: format!("placement {id}"),
            },
        )
        .await?;
        if !placement.is_current() {
            return Err(ServiceError::Invalid("this placement has already ended".into()));
        }
        placement.ended_on = Some(optional_date("end date", &input.ended_on)?.unwrap_or(self.clock.today()));
        placement.during = input.during.parse("during")?;
        placement.after = Some(input.after.parse("after")?);
        placement.validate(&LsuPolicy::default()).map_err(invalid)?;
        self.store.save_lsu_placement(user.authority, &placement).await?;
        Ok(())
    }

    // ---- transition ----

    /// Sends a transition record with the pupil's current flags.
    pub async fn send_transition(
        &self,
        user: &User,
        pupil: PupilId,
        input: &TransitionInput,
    ) -> ServiceResult<TransitionId> {
        let pupil = self.load_pupil(user, pupil).await?;
        let actor = self.casework_actor(user).await?;
        let target = self.school_target(user, pupil.school).await?;
        self.guard(
            user,
            &actor,
            Access {
                resource: Resource::Transition,
                action: Action::Write,
                target,
                pupil: Some(pupil.id),
                purpose: "pass on a transition record",
                detail: "send".into(),
            },
        )
        .await?;
        let kind = TransitionKind::from_code(&input.kind)
            .ok_or_else(|| ServiceError::Invalid("kind of move: choose Year 6 to 7 or mid-year".into()))?;
        let to = if input.to_urn.trim().is_empty() {
            Receiving::Outside {
                name: input.outside.trim().to_string(),
            }
        } else {
            let urn = Urn::parse(input.to_urn.trim())
                .map_err(|_| ServiceError::Invalid("receiving school: a URN is 6 digits".into()))?;
            self.store.school(user.authority, urn).await?.ok_or_else(|| {
                ServiceError::Invalid("receiving school: no school with that URN in the register".into())
            })?;
            Receiving::School(urn)
        };
        let record = TransitionRecord {
            id: TransitionId(0),
            pupil: pupil.id,
            from: pupil.school,
            to,
            kind,
            flags: self.flags_of(user.authority, pupil.id).await?,
            note: input.note.trim().to_string(),
            sent_on: self.clock.today(),
            acknowledged: None,
        };
        record.validate().map_err(invalid)?;
        Ok(self.store.save_transition(user.authority, &record).await?)
    }

    async fn load_transition(&self, user: &User, id: TransitionId) -> ServiceResult<TransitionRecord> {
        self.store
            .transitions(user.authority, &CaseworkFilter::id(id.0))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ServiceError::NotFound("transition".into()))
    }

    /// The receiving school acknowledges a record.
    pub async fn acknowledge_transition(&self, user: &User, id: TransitionId, by: &str) -> ServiceResult<()> {
        let mut record = self.load_transition(user, id).await?;
        let Receiving::School(to) = record.to else {
            return Err(ServiceError::Invalid(
                "a school outside Clusterwise acknowledges by returning the file's acknowledgement".into(),
            ));
        };
        let actor = self.casework_actor(user).await?;
        let target = self.school_target(user, to).await?;
        self.guard(
            user,
            &actor,
            Access {
                resource: Resource::Transition,
                action: Action::Write,
                target,
                pupil: Some(record.pupil),
                purpose: "acknowledge a transition record",
                detail: format!("transition {id}"),
            },
        )
        .await?;
        record.acknowledge(self.clock.today(), by).map_err(invalid)?;
        self.store.save_transition(user.authority, &record).await?;
        Ok(())
    }

    /// A transition record as a file (for a school outside the cluster).
    pub async fn transition_file(&self, user: &User, id: TransitionId) -> ServiceResult<TransitionFile> {
        let record = self.load_transition(user, id).await?;
        let actor = self.casework_actor(user).await?;
        let target = self.school_target(user, record.from).await?;
        self.guard(
            user,
            &actor,
            Access {
                resource: Resource::Transition,
                action: Action::Export,
                target,
                pupil: Some(record.pupil),
                purpose: "send a transition file to the receiving school",
                detail: format!("transition {id}"),
            },
        )
        .await?;
        let pupil = self.load_pupil(user, record.pupil).await?;
        Ok(TransitionFile {
            from_name: self.school_name(user.authority, record.from).await?,
            record,
            pupil,
        })
    }

    // ---- exports ----

    /// Everything held about one pupil (a subject access request).
    pub async fn subject_access(&self, user: &User, id: PupilId) -> ServiceResult<SubjectAccess> {
        let pupil = self.load_pupil(user, id).await?;
        let actor = self.casework_actor(user).await?;
        let target = self.school_target(user, pupil.school).await?;
        self.guard(
            user,
            &actor,
            Access {
                resource: Resource::SubjectAccessExport,
                action: Action::Export,
                target,
                pupil: Some(id),
                purpose: "answer a subject access request",
                detail: "full export".into(),
            },
        )
        .await?;
        let a = user.authority;
        let f = CaseworkFilter::pupil(id);
        Ok(SubjectAccess {
            school_name: self.school_name(a, pupil.school).await?,
            generated_at: self.clock.now(),
            gt: self.store.gt_entries(a, &f).await?,
            cases: self.store.mentor_cases(a, &f).await?,
            mentors: self.store.mentors(a).await?,
            placements: self.store.lsu_placements(a, &f).await?,
            transitions: self.store.transitions(a, &f).await?,
            accesses: self
                .store
                .audit_entries(
                    a,
                    &AuditQuery {
                        pupil: Some(id),
                        user_email: None,
                    },
                )
                .await?,
            pupil,
        })
    }

    /// The educational record: identity, registers, placements and transitions, and mentor cases
    /// by their headline only.
    pub async fn educational_record(&self, user: &User, id: PupilId) -> ServiceResult<EducationalRecord> {
        let pupil = self.load_pupil(user, id).await?;
        let actor = self.casework_actor(user).await?;
        let target = self.school_target(user, pupil.school).await?;
        self.guard(
            user,
            &actor,
            Access {
                resource: Resource::EducationalRecordExport,
                action: Action::Export,
                target,
                pupil: Some(id),
                purpose: "provide the educational record",
                detail: "educational record".into(),
            },
        )
        .await?;
        let a = user.authority;
        let f = CaseworkFilter::pupil(id);
        Ok(EducationalRecord {
            school_name: self.school_name(a, pupil.school).await?,
            generated_at: self.clock.now(),
            gt: self.store.gt_entries(a, &f).await?,
            cases: self
                .store
                .mentor_cases(a, &f)
                .await?
                .into_iter()
                .map(|c| CaseSummary {
                    reason: c.reason,
                    referred_on: c.referred_on,
                    status: c.status,
                    closed_on: c.closed_on,
                    outcome: c.reviews.last().map(|r| r.outcome),
                })
                .collect(),
            placements: self.store.lsu_placements(a, &f).await?,
            transitions: self.store.transitions(a, &f).await?,
            pupil,
        })
    }

    // ---- the audit log ----

    /// The DPO's search ("who read pupil X?") and the chain's verification.
    pub async fn audit_search(&self, user: &User, query: &AuditQuery) -> ServiceResult<AuditView> {
        let actor = self.casework_actor(user).await?;
        self.guard(
            user,
            &actor,
            Access {
                resource: Resource::AuditLog,
                action: Action::Read,
                target: Target::Authority,
                pupil: query.pupil,
                purpose: "data protection oversight",
                detail: match &query.user_email {
                    Some(e) => format!("search by user {e}"),
                    None => "search".into(),
                },
            },
        )
        .await?;
        let all = self.store.audit_entries(user.authority, &AuditQuery::default()).await?;
        let chain = verify_chain(&all);
        let total = all.len() as u64;
        let entries = if query == &AuditQuery::default() {
            all
        } else {
            self.store.audit_entries(user.authority, query).await?
        };
        Ok(AuditView { entries, chain, total })
    }

    // ---- retention ----

    /// Runs the retention job for the user's authority (DPO or authority officer).
    pub async fn run_retention(&self, user: &User) -> ServiceResult<RetentionReport> {
        let actor = self.casework_actor(user).await?;
        self.guard(
            user,
            &actor,
            Access {
                resource: Resource::Retention,
                action: Action::Delete,
                target: Target::Authority,
                pupil: None,
                purpose: "apply the retention schedule",
                detail: "retention run".into(),
            },
        )
        .await?;
        self.retention_for(user.authority, user.id, &user.email, user.role.code())
            .await
    }

    /// Whether the user may do `action` to `resource` at their own school (or authority-wide),
    /// to decide whether to show a form. Nothing is read, so nothing is audited.
    pub async fn casework_permission(&self, user: &User, resource: Resource, action: Action) -> ServiceResult<()> {
        let actor = self.casework_actor(user).await?;
        let target = match user.scope {
            Scope::School(urn) => self.school_target(user, urn).await?,
            _ if resource.is_pupil_level() => {
                return Err(ServiceError::Forbidden(
                    "Pupil records are kept by each pupil's own school.".into(),
                ));
            }
            _ => Target::Authority,
        };
        authorise(&actor, resource, action, target).map_err(|d| self.refusal(user, &d, target))
    }

    /// Runs the retention job for every authority, from the command line.
    pub async fn run_retention_everywhere(&self) -> ServiceResult<Vec<RetentionReport>> {
        let mut out = Vec::new();
        for a in self.store.list_authorities().await? {
            out.push(
                self.retention_for(a.id, UserId(0), "clusterwise retention run", "system")
                    .await?,
            );
        }
        Ok(out)
    }

    async fn retention_for(
        &self,
        a: AuthorityId,
        by: UserId,
        email: &str,
        role: &str,
    ) -> ServiceResult<RetentionReport> {
        let today = self.clock.today();
        let all = CaseworkFilter::default();
        let pupils: BTreeMap<PupilId, Pupil> = self
            .store
            .pupils(a, &all)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let left = |p: PupilId| pupils.get(&p).and_then(|x| x.left_on);
        let mut removed = Vec::new();
        let mut deletion = RetentionDeletion::default();
        // Pupils with something kept stay.
        let mut kept: BTreeSet<PupilId> = BTreeSet::new();

        for e in self.store.gt_entries(a, &all).await? {
            let event = e.removed_on.or_else(|| left(e.pupil));
            match event.filter(|_| rule(RecordKind::GtEntry).is_due(event, today)) {
                Some(event) => {
                    deletion.gt_entries.push(e.id);
                    removed.push(RemovedRecord {
                        kind: RecordKind::GtEntry,
                        id: e.id.to_string(),
                        pupil: e.pupil,
                        school: e.school,
                        event,
                    });
                }
                None => {
                    kept.insert(e.pupil);
                }
            }
        }
        for c in self.store.mentor_cases(a, &all).await? {
            match c
                .closed_on
                .filter(|_| rule(RecordKind::MentorCase).is_due(c.closed_on, today))
            {
                Some(event) => {
                    deletion.cases.push(c.id);
                    removed.push(RemovedRecord {
                        kind: RecordKind::MentorCase,
                        id: c.id.to_string(),
                        pupil: c.pupil,
                        school: c.school,
                        event,
                    });
                }
                None => {
                    kept.insert(c.pupil);
                }
            }
        }
        for p in self.store.lsu_placements(a, &all).await? {
            match p
                .ended_on
                .filter(|_| rule(RecordKind::LsuPlacement).is_due(p.ended_on, today))
            {
                Some(event) => {
                    deletion.placements.push(p.id);
                    removed.push(RemovedRecord {
                        kind: RecordKind::LsuPlacement,
                        id: p.id.to_string(),
                        pupil: p.pupil,
                        school: p.school,
                        event,
                    });
                }
                None => {
                    kept.insert(p.pupil);
                }
            }
        }
        for t in self.store.transitions(a, &all).await? {
            let event = Some(t.acknowledged.as_ref().map_or(t.sent_on, |k| k.on));
            match event.filter(|_| rule(RecordKind::Transition).is_due(event, today)) {
                Some(event) => {
                    deletion.transitions.push(t.id);
                    removed.push(RemovedRecord {
                        kind: RecordKind::Transition,
                        id: t.id.to_string(),
                        pupil: t.pupil,
                        school: t.from,
                        event,
                    });
                }
                None => {
                    kept.insert(t.pupil);
                }
            }
        }
        for p in pupils.values() {
            if !kept.contains(&p.id)
                && let Some(event) = p.left_on.filter(|_| rule(RecordKind::Pupil).is_due(p.left_on, today))
            {
                deletion.pupils.push(p.id);
                removed.push(RemovedRecord {
                    kind: RecordKind::Pupil,
                    id: p.id.to_string(),
                    pupil: p.id,
                    school: p.school,
                    event,
                });
            }
        }
        if !deletion.is_empty() {
            self.store.delete_casework(a, &deletion).await?;
            let now = self.clock.now();
            let records: Vec<AuditRecord> = removed
                .iter()
                .map(|r| AuditRecord {
                    at: now,
                    user: by,
                    user_email: email.to_string(),
                    role: role.to_string(),
                    action: Action::Delete,
                    resource: match r.kind {
                        RecordKind::Pupil | RecordKind::AuditEntry => Resource::PupilIdentity,
                        RecordKind::GtEntry => Resource::GtRegister,
                        RecordKind::MentorCase => Resource::MentorCase,
                        RecordKind::LsuPlacement => Resource::LsuPlacement,
                        RecordKind::Transition => Resource::Transition,
                    },
                    pupil: Some(r.pupil),
                    school: Some(r.school),
                    purpose: "apply the retention schedule".into(),
                    outcome: AuditOutcome::Allowed,
                    detail: format!("{} {} deleted (retention ran from {})", r.kind.code(), r.id, r.event),
                })
                .collect();
            self.store.append_audit(a, &records).await?;
        }
        tracing::info!(authority = a.0, removed = removed.len(), "retention run");
        Ok(RetentionReport {
            authority: a,
            today,
            removed,
        })
    }

    /// The strands a user works in (shown on the casework page).
    pub async fn strands_of(&self, user: &User) -> ServiceResult<Vec<Strand>> {
        Ok(self.casework_actor(user).await?.strands)
    }
}

fn year_groups_of(pupils: &[Pupil]) -> u32 {
    u32::try_from(pupils.iter().map(|p| p.year_group).collect::<BTreeSet<_>>().len()).unwrap_or(1)
}

/// The id of a mentor case as typed in a path.
pub fn case_id(s: &str) -> Option<CaseId> {
    s.parse().ok().map(CaseId)
}

/// A pupil id as typed in a path.
pub fn pupil_id(s: &str) -> Option<PupilId> {
    s.trim_start_matches('P').parse().ok().map(PupilId)
}

//! Funding policies in the app: an authority's policies kept as numbered versions of their text
//! (the TOML of docs/POLICY.md; an edit adds a version, the old one stays), one version in force
//! per period, every cluster's allocation from the policy in force, scenarios compared with a
//! fairness summary, each school's statement, and the termly report to each governing body.
//!
//! Who may do what: authority officers edit policies and mark one in force; everyone signed in
//! reads policies; a cluster's allocation is read by the authority's people and the cluster's own
//! schools and clerk; a school's statement and report by the authority's people, the clerk of the
//! school's cluster and the school's own head, governors and staff; the clerk (or an officer)
//! writes the cluster's termly narrative.

use crate::policy_file::parse_policy;
use crate::register::csv_field;
use crate::snapshot::Snapshot;
use crate::{Service, ServiceError, ServiceResult};
use domain::NaiveDate;
use domain::access::{Scope, User, UserRole};
use domain::cluster::MembershipRole;
use domain::funding::fairness::{Fairness, PhaseGroup, SchoolOutcome, fairness};
use domain::funding::ledger::{Fence, HolderPosition};
use domain::funding::{
    Allocation, ClusterInput, FundingPolicy, Line, Period, PotAllocation, RingFence, SchoolData, allocate_policy,
};
use domain::governance::health::{Season, Term};
use domain::ids::{AuthorityId, ClusterId, Urn};
use domain::money::Money;
use domain::school::Phase;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A funding policy of an authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyId(pub i64);

/// One saved version of a policy's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyVersionId(pub i64);

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for PolicyVersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A version to save: the next of `policy`, or the first of a new policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPolicyVersion {
    pub policy: Option<PolicyId>,
    pub name: String,
    pub body: String,
    /// What changed, in the editor's words (may be empty).
    pub note: String,
    pub saved_by: String,
    /// Unix seconds.
    pub saved_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub id: PolicyVersionId,
    pub policy: PolicyId,
    /// 1, 2, 3 … within the policy.
    pub version: u32,
    pub body: String,
    pub note: String,
    pub saved_by: String,
    pub saved_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPolicy {
    pub id: PolicyId,
    pub name: String,
    /// Newest first; never empty.
    pub versions: Vec<PolicyVersion>,
}

impl StoredPolicy {
    pub fn latest(&self) -> Option<&PolicyVersion> {
        self.versions.first()
    }
}

/// The version in force for a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InForce {
    pub period: Period,
    pub version: PolicyVersionId,
    pub marked_by: String,
    pub marked_at: i64,
}

/// What a cluster's clerk writes for a term: what the money changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrative {
    pub cluster: ClusterId,
    pub term: Term,
    pub body: String,
    pub written_by: String,
    pub written_at: i64,
}

/// "academic-2026" or "financial-2026", as stored and in URLs.
pub fn period_code(p: Period) -> String {
    match p {
        Period::AcademicYear(y) => format!("academic-{y}"),
        Period::FinancialYear(y) => format!("financial-{y}"),
    }
}

pub fn parse_period_code(code: &str) -> Option<Period> {
    let (kind, year) = code.split_once('-')?;
    let year: u16 = year.parse().ok().filter(|y| (1990..=2200).contains(y))?;
    match kind {
        "academic" => Some(Period::AcademicYear(year)),
        "financial" => Some(Period::FinancialYear(year)),
        _ => None,
    }
}

/// The academic and the financial year that contain `day`, academic first.
pub fn periods_on(day: NaiveDate) -> [Period; 2] {
    use domain::Datelike;
    let (y, m) = (day.year(), day.month());
    let y16 = |y: i32| u16::try_from(y).unwrap_or(0);
    [
        Period::AcademicYear(y16(if m >= 9 { y } else { y - 1 })),
        Period::FinancialYear(y16(if m >= 4 { y } else { y - 1 })),
    ]
}

/// "2026-autumn", as stored and in URLs.
pub fn term_code(t: Term) -> String {
    let season = match t.season {
        Season::Autumn => "autumn",
        Season::Spring => "spring",
        Season::Summer => "summer",
    };
    format!("{}-{season}", t.academic_year)
}

pub fn parse_term_code(code: &str) -> Option<Term> {
    let (year, season) = code.split_once('-')?;
    let academic_year: i32 = year.parse().ok().filter(|y| (1990..=2200).contains(y))?;
    let season = match season {
        "autumn" => Season::Autumn,
        "spring" => Season::Spring,
        "summer" => Season::Summer,
        _ => return None,
    };
    Some(Term { academic_year, season })
}

#[cfg(test)]
mod code_tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for p in [Period::AcademicYear(2026), Period::FinancialYear(2025)] {
            assert_eq!(parse_period_code(&period_code(p)), Some(p));
        }
        assert_eq!(parse_period_code("academic-26"), None);
        assert_eq!(parse_period_code("calendar-2026"), None);
        let t = Term {
            academic_year: 2026,
            season: Season::Spring,
        };
        assert_eq!(term_code(t), "2026-spring");
        assert_eq!(parse_term_code("2026-spring"), Some(t));
        assert_eq!(parse_term_code("2026-winter"), None);
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(periods_on(d), [Period::AcademicYear(2026), Period::FinancialYear(2026)]);
        let d = NaiveDate::from_ymd_opt(2027, 2, 1).unwrap();
        assert_eq!(periods_on(d), [Period::AcademicYear(2026), Period::FinancialYear(2026)]);
        let d = NaiveDate::from_ymd_opt(2027, 5, 1).unwrap();
        assert_eq!(periods_on(d), [Period::AcademicYear(2026), Period::FinancialYear(2027)]);
    }
}

// ---- Allocations from stored policies ---------------------------------------------------------

/// Which policy text an allocation came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationSource {
    pub policy_name: String,
    /// `None` for a draft that is not saved.
    pub policy: Option<PolicyId>,
    pub version: Option<PolicyVersionId>,
    pub version_number: Option<u32>,
    /// The period the version is in force for, if it is the one in force.
    pub in_force_for: Option<Period>,
}

impl AllocationSource {
    /// "Norfolk cluster funding, version 2" or "… (draft, not saved)".
    pub fn label(&self) -> String {
        match self.version_number {
            Some(n) => format!("{}, version {n}", self.policy_name),
            None => format!("{} (draft, not saved)", self.policy_name),
        }
    }
}

/// A school as the allocation pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolInfo {
    pub urn: Urn,
    pub name: String,
    pub phase: Phase,
    pub role: MembershipRole,
    pub state_funded: bool,
    pub pupils: u32,
    pub fsm: Option<u32>,
}

impl SchoolInfo {
    /// Could receive money: state-funded and a funded member (the engine's own rule).
    pub fn fundable(&self) -> bool {
        self.state_funded && self.role.is_funded()
    }
}

/// One stream's pots in one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAllocation {
    pub name: String,
    pub source: String,
    pub period: Option<Period>,
    pub pots: Vec<(RingFence, Allocation)>,
}

impl StreamAllocation {
    pub fn budget(&self) -> Money {
        Money::sum(self.pots.iter().map(|(_, a)| &a.budget)).unwrap_or(Money::ZERO)
    }
    pub fn central(&self) -> Money {
        self.pots
            .iter()
            .map(|(_, a)| a.central())
            .try_fold(Money::ZERO, Money::checked_add)
            .unwrap_or(Money::ZERO)
    }
    pub fn school_total(&self, urn: Urn) -> Money {
        self.pots
            .iter()
            .map(|(_, a)| a.school_total(urn))
            .try_fold(Money::ZERO, Money::checked_add)
            .unwrap_or(Money::ZERO)
    }
}

/// A cluster's whole allocation under one policy: every stream and pot, every line explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterAllocation {
    pub cluster: ClusterId,
    pub cluster_name: String,
    pub source: AllocationSource,
    pub streams: Vec<StreamAllocation>,
    /// The cluster's current members, by name.
    pub schools: Vec<SchoolInfo>,
}

impl ClusterAllocation {
    fn sum(&self, f: impl Fn(&StreamAllocation) -> Money) -> Money {
        self.streams
            .iter()
            .map(f)
            .try_fold(Money::ZERO, Money::checked_add)
            .unwrap_or(Money::ZERO)
    }
    pub fn budget(&self) -> Money {
        self.sum(StreamAllocation::budget)
    }
    pub fn central(&self) -> Money {
        self.sum(StreamAllocation::central)
    }
    pub fn school_total(&self, urn: Urn) -> Money {
        self.sum(|s| s.school_total(urn))
    }
    pub fn to_schools(&self) -> Money {
        self.sum(|s| {
            s.pots
                .iter()
                .map(|(_, a)| a.allocated())
                .try_fold(Money::ZERO, Money::checked_add)
                .unwrap_or(Money::ZERO)
        })
    }
    /// Every pot's lines add up to its budget, and the schools' and central parts to the whole.
    pub fn reconciles(&self) -> bool {
        self.streams.iter().all(|s| s.pots.iter().all(|(_, a)| a.reconciles()))
            && self.to_schools().checked_add(self.central()) == Some(self.budget())
    }
    /// A school's lines: (stream, ring-fence, line), in policy order.
    pub fn school_lines(&self, urn: Urn) -> Vec<(&StreamAllocation, &RingFence, &Line)> {
        let mut out = Vec::new();
        for s in &self.streams {
            for (rf, a) in &s.pots {
                for l in a.lines.iter().filter(|l| l.urn == Some(urn)) {
                    out.push((s, rf, l));
                }
            }
        }
        out
    }
    /// The fairness measures across the schools that can be funded.
    pub fn fairness(&self) -> Fairness {
        let outcomes: Vec<SchoolOutcome> = self
            .schools
            .iter()
            .filter(|s| s.fundable())
            .map(|s| SchoolOutcome {
                urn: s.urn,
                phase: PhaseGroup::of(s.phase),
                pupils: s.pupils,
                fsm: s.fsm,
                amount: self.school_total(s.urn),
            })
            .collect();
        fairness(&outcomes)
    }
}

/// One school under two cluster maps: its cluster and amount in each (`None` where it is in no
/// cluster of that map).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolUnderMaps {
    pub school: SchoolInfo,
    pub current: Option<(String, Money)>,
    pub proposed: Option<(String, Money)>,
}

impl SchoolUnderMaps {
    /// Proposed less current, in pence (a school in no cluster counts as getting nothing).
    pub fn change(&self) -> Money {
        let amount = |m: &Option<(String, Money)>| m.as_ref().map_or(Money::ZERO, |(_, a)| *a);
        amount(&self.proposed)
            .checked_sub(amount(&self.current))
            .unwrap_or(Money::ZERO)
    }
}

/// The whole authority's allocation under today's map and under a scenario's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapFunding {
    pub scenario_name: String,
    pub source: AllocationSource,
    pub current: Vec<ClusterAllocation>,
    pub proposed: Vec<ClusterAllocation>,
    /// Every school in either map, those losing most first, then by name.
    pub schools: Vec<SchoolUnderMaps>,
}

impl MapFunding {
    fn new(
        scenario_name: String,
        source: AllocationSource,
        current: Vec<ClusterAllocation>,
        proposed: Vec<ClusterAllocation>,
    ) -> MapFunding {
        let mut by_urn: std::collections::BTreeMap<Urn, SchoolUnderMaps> = std::collections::BTreeMap::new();
        for (map, is_current) in [(&current, true), (&proposed, false)] {
            for c in map {
                for s in &c.schools {
                    let entry = by_urn.entry(s.urn).or_insert_with(|| SchoolUnderMaps {
                        school: s.clone(),
                        current: None,
                        proposed: None,
                    });
                    let here = Some((c.cluster_name.clone(), c.school_total(s.urn)));
                    if is_current {
                        entry.current = here;
                    } else {
                        entry.proposed = here;
                    }
                }
            }
        }
        let mut schools: Vec<SchoolUnderMaps> = by_urn.into_values().collect();
        schools.sort_by(|a, b| {
            a.change()
                .cmp(&b.change())
                .then(a.school.name.cmp(&b.school.name))
                .then(a.school.urn.cmp(&b.school.urn))
        });
        MapFunding {
            scenario_name,
            source,
            current,
            proposed,
            schools,
        }
    }
    fn total(map: &[ClusterAllocation], f: impl Fn(&ClusterAllocation) -> Money) -> Option<Money> {
        Money::sum(map.iter().map(f).collect::<Vec<_>>().iter())
    }
    /// Every cluster's budget, under today's map and the proposed one.
    pub fn budgets(&self) -> (Option<Money>, Option<Money>) {
        (
            Self::total(&self.current, ClusterAllocation::budget),
            Self::total(&self.proposed, ClusterAllocation::budget),
        )
    }
    /// What reaches schools, under each map.
    pub fn to_schools(&self) -> (Option<Money>, Option<Money>) {
        (
            Self::total(&self.current, ClusterAllocation::to_schools),
            Self::total(&self.proposed, ClusterAllocation::to_schools),
        )
    }
    /// The fairness measures across every fundable school, under each map.
    pub fn fairness(&self) -> (Fairness, Fairness) {
        let of = |map: &[ClusterAllocation]| {
            let outcomes: Vec<SchoolOutcome> = map
                .iter()
                .flat_map(|c| {
                    c.schools.iter().filter(|s| s.fundable()).map(|s| SchoolOutcome {
                        urn: s.urn,
                        phase: PhaseGroup::of(s.phase),
                        pupils: s.pupils,
                        fsm: s.fsm,
                        amount: c.school_total(s.urn),
                    })
                })
                .collect();
            fairness(&outcomes)
        };
        (of(&self.current), of(&self.proposed))
    }
}

/// The cluster page's view: the allocation and whose lines this person may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterAllocationView {
    pub allocation: ClusterAllocation,
    /// Schools whose lines are shown (all of them for the authority and the cluster's clerk; a
    /// head's or governor's own school only).
    pub shown: Vec<Urn>,
}

/// The same cluster under two or more policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub cluster: ClusterId,
    pub cluster_name: String,
    pub scenarios: Vec<(ClusterAllocation, Fairness)>,
    /// The schools that can be funded, by name.
    pub schools: Vec<SchoolInfo>,
}

/// `b − a` in pence and as a percentage of `a` (none when `a` is nothing).
pub fn difference(a: Money, b: Money) -> (Money, Option<Decimal>) {
    let diff = b.checked_sub(a).unwrap_or(Money::ZERO);
    let pct = (a.pence() != 0).then(|| diff.to_decimal_pence() * Decimal::ONE_HUNDRED / a.to_decimal_pence());
    (diff, pct)
}

/// One school's statement: its lines in every stream under the policy in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub school: SchoolInfo,
    pub allocation: ClusterAllocation,
}

impl Statement {
    pub fn total(&self) -> Money {
        self.allocation.school_total(self.school.urn)
    }
}

/// What the host school's ledger says the school's money was spent on. The ledger is built
/// separately; until its figures are wired in this says honestly that none are recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpendToDate {
    NoLedgerEntries,
    /// The reader's role does not see the cluster's ledger school by school (the allocation is
    /// still shown).
    NotShown,
    /// The school's position in each ring-fence of its cluster's ledger, as recorded on `as_of`.
    Recorded {
        as_of: NaiveDate,
        fences: Vec<(Fence, HolderPosition)>,
    },
}

/// The termly report to a school's governing body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoverningBodyReport {
    pub term: Term,
    pub statement: Statement,
    pub spend: SpendToDate,
    pub narrative: Option<Narrative>,
}

/// A report a school can open: a term, and whether the clerk has written its narrative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportListing {
    pub urn: Urn,
    pub school_name: String,
    pub term: Term,
    pub narrative_written: bool,
}

/// Everything the allocation needs from the register, on one day.
struct Register {
    /// (id, name) in the store's order.
    clusters: Vec<(ClusterId, String)>,
    /// Members of each cluster, by URN.
    members: Vec<Vec<(SchoolInfo, SchoolData)>>,
}

/// The term's periods: its academic year, then the financial year most of it falls in.
pub fn periods_of_term(t: Term) -> [Period; 2] {
    let y = u16::try_from(t.academic_year).unwrap_or(0);
    [
        Period::AcademicYear(y),
        Period::FinancialYear(if t.season == Season::Summer { y + 1 } else { y }),
    ]
}

/// "2026/27 academic year" or "2026/27 financial year".
pub fn period_label(p: Period) -> String {
    match p {
        Period::AcademicYear(y) => format!("{y}/{:02} academic year", (y + 1) % 100),
        Period::FinancialYear(y) => format!("{y}/{:02} financial year", (y + 1) % 100),
    }
}

const MAX_POLICY_BYTES: usize = 200_000;
const MAX_NARRATIVE_CHARS: usize = 6_000;

fn require_policy_editor(user: &User) -> ServiceResult<()> {
    if user.role == UserRole::AuthorityOfficer {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!(
            "a {} may not change funding policies: only authority officers may",
            user.role.label().to_lowercase()
        )))
    }
}

fn sees_every_school_of(user: &User, cluster: ClusterId) -> bool {
    match user.scope {
        Scope::Authority => true,
        Scope::Cluster(c) => c == cluster,
        Scope::School(_) => false,
    }
}

impl Service {
    async fn register_for_allocation(&self, authority: AuthorityId) -> ServiceResult<Register> {
        Ok(Self::allocation_register_of(&*self.snapshot(authority).await?))
    }

    /// The register of a snapshot: today's clusters and memberships.
    fn allocation_register_of(snap: &Snapshot) -> Register {
        let clusters: Vec<(ClusterId, String)> = snap
            .clusters
            .iter()
            .map(|c| (c.cluster.id, c.cluster.name.clone()))
            .collect();
        Self::allocation_register(snap, clusters, snap.memberships.clone())
    }

    /// The register with the given clusters and memberships (today's, or a proposed map's).
    fn allocation_register(
        snap: &Snapshot,
        clusters: Vec<(ClusterId, String)>,
        memberships: Vec<(Urn, ClusterId, MembershipRole)>,
    ) -> Register {
        let index: HashMap<ClusterId, usize> = clusters.iter().enumerate().map(|(i, c)| (c.0, i)).collect();
        let mut members: Vec<Vec<(SchoolInfo, SchoolData)>> = vec![Vec::new(); clusters.len()];
        for (urn, cluster, role) in memberships {
            let (Some(i), Some(s)) = (index.get(&cluster), snap.school(urn)) else {
                continue;
            };
            let c = s.census.as_ref();
            let info = SchoolInfo {
                urn,
                name: s.school.name.clone(),
                phase: s.school.phase,
                role,
                state_funded: s.school.is_state_funded(),
                pupils: s.pupils(),
                fsm: c.and_then(|c| c.fsm_count),
            };
            let data = SchoolData {
                role,
                state_funded: info.state_funded,
                pupils_fte: c.and_then(|c| c.pupils_fte),
                fsm: info.fsm,
                stages: c.map_or([None; 7], |c| c.stages),
                ..SchoolData::new(urn, s.school.phase, info.pupils)
            };
            members[*i].push((info, data));
        }
        for m in &mut members {
            m.sort_by_key(|(s, _)| s.urn);
        }
        Register { clusters, members }
    }

    /// Every cluster's allocation under a saved version on the snapshot's register, computed
    /// once per snapshot (the source is fixed by the version and the period it is in force for).
    fn allocations_in(
        snap: &Snapshot,
        version: &PolicyVersion,
        source: &AllocationSource,
    ) -> ServiceResult<Arc<Vec<ClusterAllocation>>> {
        let key = (version.id, source.in_force_for);
        if let Some(a) = snap.allocations(key) {
            return Ok(a);
        }
        let policy = parse_policy(&version.body).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let a = Self::run_policy(&Self::allocation_register_of(snap), &policy, source)?;
        Ok(snap.keep_allocations(key, a))
    }

    /// Runs a policy on every cluster of the register; one [`ClusterAllocation`] per cluster.
    fn run_policy(
        register: &Register,
        policy: &FundingPolicy,
        source: &AllocationSource,
    ) -> ServiceResult<Vec<ClusterAllocation>> {
        let inputs: Vec<ClusterInput> = register
            .clusters
            .iter()
            .zip(&register.members)
            .map(|((_, name), m)| ClusterInput {
                name: name.clone(),
                schools: m.iter().map(|(_, d)| d.clone()).collect(),
            })
            .collect();
        let pots: Vec<PotAllocation> =
            allocate_policy(policy, &inputs).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let mut out: Vec<ClusterAllocation> = register
            .clusters
            .iter()
            .zip(&register.members)
            .map(|((id, name), m)| {
                let mut schools: Vec<SchoolInfo> = m.iter().map(|(s, _)| s.clone()).collect();
                schools.sort_by(|a, b| a.name.cmp(&b.name).then(a.urn.cmp(&b.urn)));
                ClusterAllocation {
                    cluster: *id,
                    cluster_name: name.clone(),
                    source: source.clone(),
                    streams: policy
                        .streams
                        .iter()
                        .map(|s| StreamAllocation {
                            name: s.name.clone(),
                            source: s.source.clone(),
                            period: s.period,
                            pots: Vec::new(),
                        })
                        .collect(),
                    schools,
                }
            })
            .collect();
        for p in pots {
            let Some(c) = out.get_mut(p.cluster) else { continue };
            if let Some(s) = c.streams.iter_mut().find(|s| *s.name == *p.ring_fence.stream) {
                s.pots.push((p.ring_fence, p.allocation));
            }
        }
        if let Some(bad) = out.iter().find(|c| !c.reconciles()) {
            return Err(ServiceError::Unexpected(format!(
                "the allocation for {} does not reconcile",
                bad.cluster_name
            )));
        }
        Ok(out)
    }

    /// Every policy of the user's authority (everyone signed in may read them), with the
    /// periods each version is in force for.
    pub async fn funding_policies(&self, user: &User) -> ServiceResult<(Vec<StoredPolicy>, Vec<InForce>)> {
        let policies = self.store.policies(user.authority).await?;
        let in_force = self.store.policies_in_force(user.authority).await?;
        Ok((policies, in_force))
    }

    pub async fn funding_policy(&self, user: &User, id: PolicyId) -> ServiceResult<StoredPolicy> {
        self.store
            .policies(user.authority)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| ServiceError::NotFound(format!("funding policy {id}")))
    }

    async fn version_source(
        &self,
        authority: AuthorityId,
        version: PolicyVersionId,
    ) -> ServiceResult<(PolicyVersion, AllocationSource)> {
        Self::version_source_in(&*self.snapshot(authority).await?, version)
    }

    fn version_source_in(
        snap: &Snapshot,
        version: PolicyVersionId,
    ) -> ServiceResult<(PolicyVersion, AllocationSource)> {
        for p in &snap.policies {
            if let Some(v) = p.versions.iter().find(|v| v.id == version) {
                let today = periods_on(snap.day);
                let in_force_for = snap
                    .in_force
                    .iter()
                    .filter(|m| m.version == version)
                    .map(|m| m.period)
                    .find(|period| today.contains(period));
                let source = AllocationSource {
                    policy_name: p.name.clone(),
                    policy: Some(p.id),
                    version: Some(v.id),
                    version_number: Some(v.version),
                    in_force_for,
                };
                return Ok((v.clone(), source));
            }
        }
        Err(ServiceError::NotFound(format!("policy version {version}")))
    }

    /// The version in force for the first of `periods` that has one.
    async fn in_force_for(
        &self,
        authority: AuthorityId,
        periods: [Period; 2],
    ) -> ServiceResult<Option<(PolicyVersion, AllocationSource)>> {
        Self::in_force_in(&*self.snapshot(authority).await?, periods)
    }

    fn in_force_in(snap: &Snapshot, periods: [Period; 2]) -> ServiceResult<Option<(PolicyVersion, AllocationSource)>> {
        for period in periods {
            if let Some(m) = snap.in_force.iter().find(|m| m.period == period) {
                let (v, mut source) = Self::version_source_in(snap, m.version)?;
                source.in_force_for = Some(period);
                return Ok(Some((v, source)));
            }
        }
        Ok(None)
    }

    /// Checks a policy's text: it must parse and run on every cluster of the register as it is
    /// today. Returns the allocation of every cluster (a preview; nothing is saved).
    pub async fn check_policy_text(&self, user: &User, text: &str) -> ServiceResult<Vec<ClusterAllocation>> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(ServiceError::Invalid(format!(
                "policy: the text is {} bytes; at most {MAX_POLICY_BYTES} are accepted",
                text.len()
            )));
        }
        let policy = parse_policy(text).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        if policy.name.trim().is_empty() {
            return Err(ServiceError::Invalid("name: the policy needs a name".into()));
        }
        let register = self.register_for_allocation(user.authority).await?;
        let source = AllocationSource {
            policy_name: policy.name.clone(),
            policy: None,
            version: None,
            version_number: None,
            in_force_for: None,
        };
        Self::run_policy(&register, &policy, &source)
    }

    /// Saves a policy's text as a new version (or a new policy). Only authority officers; the
    /// text must parse and allocate on today's register, or nothing is saved.
    pub async fn save_funding_policy(
        &self,
        user: &User,
        policy: Option<PolicyId>,
        text: &str,
        note: &str,
    ) -> ServiceResult<PolicyVersion> {
        require_policy_editor(user)?;
        if note.chars().count() > 500 {
            return Err(ServiceError::Invalid("note: at most 500 characters".into()));
        }
        if let Some(id) = policy {
            self.funding_policy(user, id).await?;
        }
        self.check_policy_text(user, text).await?;
        let name = parse_policy(text)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?
            .name
            .trim()
            .to_string();
        let saved = self
            .store
            .save_policy_version(
                user.authority,
                &NewPolicyVersion {
                    policy,
                    name,
                    body: text.to_string(),
                    note: note.trim().to_string(),
                    saved_by: user.display_name.clone(),
                    saved_at: self.clock.now(),
                },
            )
            .await?;
        Ok(saved)
    }

    /// Marks a version as in force for a period. Only authority officers.
    pub async fn set_funding_policy_in_force(
        &self,
        user: &User,
        version: PolicyVersionId,
        period: Period,
    ) -> ServiceResult<()> {
        require_policy_editor(user)?;
        let (v, _) = self.version_source(user.authority, version).await?;
        // A version is only put in force if it still allocates on today's register.
        self.check_policy_text(user, &v.body).await?;
        self.store
            .set_policy_in_force(
                user.authority,
                &InForce {
                    period,
                    version,
                    marked_by: user.display_name.clone(),
                    marked_at: self.clock.now(),
                },
            )
            .await?;
        Ok(())
    }

    async fn allocation_under(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        version: &PolicyVersion,
        source: &AllocationSource,
    ) -> ServiceResult<ClusterAllocation> {
        let snap = self.snapshot(authority).await?;
        Self::allocations_in(&snap, version, source)?
            .iter()
            .find(|c| c.cluster == cluster)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound(format!("cluster {cluster}")))
    }

    /// A cluster's allocation under the policy in force today (`None` when no policy is in
    /// force), with the schools whose lines this person may see.
    pub async fn cluster_allocation(
        &self,
        user: &User,
        cluster: ClusterId,
    ) -> ServiceResult<Option<ClusterAllocationView>> {
        self.cluster(user, cluster).await?;
        let Some((version, source)) = self
            .in_force_for(user.authority, periods_on(self.clock.today()))
            .await?
        else {
            return Ok(None);
        };
        let allocation = self
            .allocation_under(user.authority, cluster, &version, &source)
            .await?;
        let shown = match user.scope {
            _ if sees_every_school_of(user, cluster) => allocation.schools.iter().map(|s| s.urn).collect(),
            Scope::School(own) => allocation
                .schools
                .iter()
                .filter(|s| s.urn == own)
                .map(|s| s.urn)
                .collect(),
            _ => Vec::new(),
        };
        Ok(Some(ClusterAllocationView { allocation, shown }))
    }

    /// The same cluster under two or more saved versions, and optionally an unsaved draft, with
    /// the fairness of each. The authority's people and the cluster's clerk.
    pub async fn compare_policies(
        &self,
        user: &User,
        cluster: ClusterId,
        versions: &[PolicyVersionId],
        draft: Option<&str>,
    ) -> ServiceResult<Comparison> {
        let detail = self.cluster(user, cluster).await?;
        if !sees_every_school_of(user, cluster) {
            return Err(ServiceError::Forbidden(
                "scenarios compare every school of a cluster: the authority and the cluster's clerk may see them"
                    .into(),
            ));
        }
        let count = versions.len() + usize::from(draft.is_some());
        if !(2..=4).contains(&count) {
            return Err(ServiceError::Invalid(format!(
                "compare: choose two to four policies to compare, not {count}"
            )));
        }
        let mut scenarios = Vec::new();
        for v in versions {
            let (version, source) = self.version_source(user.authority, *v).await?;
            let a = self
                .allocation_under(user.authority, cluster, &version, &source)
                .await?;
            let f = a.fairness();
            scenarios.push((a, f));
        }
        if let Some(text) = draft {
            let a = self
                .check_policy_text(user, text)
                .await?
                .into_iter()
                .find(|c| c.cluster == cluster)
                .ok_or_else(|| ServiceError::NotFound(format!("cluster {cluster}")))?;
            let f = a.fairness();
            scenarios.push((a, f));
        }
        let schools = scenarios
            .first()
            .map(|(a, _)| a.schools.iter().filter(|s| s.fundable()).cloned().collect())
            .unwrap_or_default();
        Ok(Comparison {
            cluster,
            cluster_name: detail.summary.cluster.name,
            scenarios,
            schools,
        })
    }

    /// What every school would get under the policy in force with today's cluster map and with
    /// a design scenario's map, side by side (`None` when no policy is in force). Those who may
    /// see design scenarios may see this. A proposed cluster gets its members' roles as adopting
    /// it would give them (the hub is the host).
    pub async fn funding_under_scenario(
        &self,
        user: &User,
        scenario: crate::design::ScenarioId,
    ) -> ServiceResult<Option<MapFunding>> {
        let record = self.viewable_scenario(user, scenario).await?;
        if record.clusters.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "“{}” has no map, so there is nothing to fund",
                record.summary.params.name
            )));
        }
        let Some((version, source)) = self
            .in_force_for(user.authority, periods_on(self.clock.today()))
            .await?
        else {
            return Ok(None);
        };
        let snap = self.snapshot(user.authority).await?;
        let policy = parse_policy(&version.body).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let current = Self::allocations_in(&snap, &version, &source)?.as_ref().clone();
        let phases: HashMap<Urn, Phase> = snap.schools.iter().map(|s| (s.school.urn, s.school.phase)).collect();
        // Proposed clusters are not stored: they take ids that no stored cluster has (below zero).
        let mut clusters = Vec::new();
        let mut memberships = Vec::new();
        for (i, (c, members)) in crate::design::proposed_members(&record, &phases)
            .into_iter()
            .enumerate()
        {
            let id = ClusterId(-1 - i64::try_from(i).unwrap_or(i64::MAX - 1));
            clusters.push((id, c.name.clone()));
            memberships.extend(members.into_iter().map(|(urn, role)| (urn, id, role)));
        }
        let proposed = Self::run_policy(
            &Self::allocation_register(&snap, clusters, memberships),
            &policy,
            &source,
        )?;
        Ok(Some(MapFunding::new(
            record.summary.params.name.clone(),
            source,
            current,
            proposed,
        )))
    }

    /// Who may read a school's statement and reports: the authority's people, the clerk of the
    /// school's cluster, and the school's own people.
    async fn school_access(&self, user: &User, urn: Urn) -> ServiceResult<(Arc<Snapshot>, ClusterId)> {
        let snap = self.snapshot(user.authority).await?;
        if snap.school(urn).is_none() {
            return Err(ServiceError::NotFound(format!("school with URN {urn}")));
        }
        let cluster = Self::cluster_of_in(&snap, urn);
        let allowed = match user.scope {
            Scope::Authority => true,
            Scope::Cluster(c) => cluster == Some(c),
            Scope::School(own) => own == urn,
        };
        if !allowed {
            return Err(ServiceError::Forbidden(
                "a school's statement is for its own head, governors and staff, its cluster's clerk and the authority"
                    .into(),
            ));
        }
        let cluster = cluster.ok_or_else(|| {
            ServiceError::Invalid(format!(
                "school {urn} is not in a cluster today, so it has no allocation"
            ))
        })?;
        Ok((snap, cluster))
    }

    /// The school's cluster today: of its current memberships, the one whose cluster comes
    /// first in the register's order (as the allocation register places it).
    fn cluster_of_in(snap: &Snapshot, urn: Urn) -> Option<ClusterId> {
        snap.memberships
            .iter()
            .filter(|(u, ..)| *u == urn)
            .filter_map(|(_, c, _)| snap.clusters.iter().position(|s| s.cluster.id == *c))
            .min()
            .map(|i| snap.clusters[i].cluster.id)
    }

    async fn statement_for(&self, user: &User, urn: Urn, periods: [Period; 2]) -> ServiceResult<Option<Statement>> {
        let (snap, cluster) = self.school_access(user, urn).await?;
        let Some((version, source)) = Self::in_force_in(&snap, periods)? else {
            return Ok(None);
        };
        let allocation = Self::allocations_in(&snap, &version, &source)?
            .iter()
            .find(|c| c.cluster == cluster)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound(format!("cluster {cluster}")))?;
        let school = allocation
            .schools
            .iter()
            .find(|s| s.urn == urn)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound(format!("school with URN {urn}")))?;
        Ok(Some(Statement { school, allocation }))
    }

    /// A school's allocation statement under the policy in force today (`None` when none is).
    pub async fn school_statement(&self, user: &User, urn: Urn) -> ServiceResult<Option<Statement>> {
        self.statement_for(user, urn, periods_on(self.clock.today())).await
    }

    /// The statement as CSV: `cluster,urn,stream,phase,component,amount_pence`, the school's
    /// lines only, formulas defused.
    pub fn statement_csv(statement: &Statement) -> Vec<u8> {
        let mut out = String::from("cluster,urn,stream,phase,component,amount_pence\n");
        let urn = statement.school.urn;
        for (s, rf, l) in statement.allocation.school_lines(urn) {
            let fields = [
                statement.allocation.cluster_name.clone(),
                urn.to_string(),
                s.name.clone(),
                rf.phase.to_string(),
                l.component.to_string(),
                l.amount.pence().to_string(),
            ];
            out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        out.into_bytes()
    }

    /// What the cluster's ledger (kept by the host school) records against the school so far:
    /// what is still available, committed, claimed and spent in each ring-fence (from the kept
    /// balances: the journal is not read).
    pub async fn school_spend_to_date(&self, user: &User, urn: Urn, cluster: ClusterId) -> ServiceResult<SpendToDate> {
        self.school_access(user, urn).await?;
        let fences = match self.school_positions(user, cluster, urn).await {
            Ok(Some(fences)) => fences,
            Ok(None) | Err(ServiceError::Forbidden(_)) => return Ok(SpendToDate::NotShown),
            Err(e) => return Err(e),
        };
        if fences.is_empty() {
            return Ok(SpendToDate::NoLedgerEntries);
        }
        Ok(SpendToDate::Recorded {
            as_of: self.clock.today(),
            fences,
        })
    }

    /// The termly report to a school's governing body (`None` when no policy is in force for
    /// the term).
    pub async fn governing_body_report(
        &self,
        user: &User,
        urn: Urn,
        term: Term,
    ) -> ServiceResult<Option<GoverningBodyReport>> {
        let Some(statement) = self.statement_for(user, urn, periods_of_term(term)).await? else {
            return Ok(None);
        };
        let spend = self
            .school_spend_to_date(user, urn, statement.allocation.cluster)
            .await?;
        let narrative = self
            .store
            .narratives(user.authority, statement.allocation.cluster)
            .await?
            .into_iter()
            .find(|n| n.term == term);
        Ok(Some(GoverningBodyReport {
            term,
            statement,
            spend,
            narrative,
        }))
    }

    /// The reports a person can open: for a school's people, their school's this term and the
    /// two before; for a clerk, every school of the cluster; for the authority, none listed
    /// (they open any school's from its statement).
    pub async fn governing_body_reports(&self, user: &User) -> ServiceResult<Vec<ReportListing>> {
        let snap = self.snapshot(user.authority).await?;
        let cluster = match user.scope {
            Scope::Authority => return Ok(Vec::new()),
            Scope::Cluster(c) => snap.clusters.iter().any(|s| s.cluster.id == c).then_some(c),
            Scope::School(urn) => Self::cluster_of_in(&snap, urn),
        };
        let Some(cluster) = cluster else { return Ok(Vec::new()) };
        let register = Self::allocation_register_of(&snap);
        let Some(i) = register.clusters.iter().position(|(id, _)| *id == cluster) else {
            return Ok(Vec::new());
        };
        let written: Vec<Term> = self
            .store
            .narratives(user.authority, cluster)
            .await?
            .into_iter()
            .map(|n| n.term)
            .collect();
        let now = Term::of(self.clock.today());
        let terms = [now, now.previous(), now.previous().previous()];
        let mut out = Vec::new();
        let mut schools: Vec<&SchoolInfo> = register.members[i]
            .iter()
            .map(|(s, _)| s)
            .filter(|s| s.fundable())
            .filter(|s| match user.scope {
                Scope::School(own) => s.urn == own,
                _ => true,
            })
            .collect();
        schools.sort_by(|a, b| a.name.cmp(&b.name));
        for s in schools {
            for t in terms {
                out.push(ReportListing {
                    urn: s.urn,
                    school_name: s.name.clone(),
                    term: t,
                    narrative_written: written.contains(&t),
                });
            }
        }
        Ok(out)
    }

    /// A cluster's narrative for a term, if written.
    pub async fn narrative(&self, user: &User, cluster: ClusterId, term: Term) -> ServiceResult<Option<Narrative>> {
        self.cluster(user, cluster).await?;
        Ok(self
            .store
            .narratives(user.authority, cluster)
            .await?
            .into_iter()
            .find(|n| n.term == term))
    }

    /// Whether this person may write the cluster's termly narrative.
    pub fn may_write_narrative(user: &User, cluster: ClusterId) -> bool {
        match (user.role, user.scope) {
            (UserRole::AuthorityOfficer, _) => true,
            (UserRole::ClusterClerk, Scope::Cluster(c)) => c == cluster,
            _ => false,
        }
    }

    /// Saves what the cluster's money changed this term: the clerk of the cluster, or an
    /// authority officer.
    pub async fn save_narrative(&self, user: &User, cluster: ClusterId, term: Term, text: &str) -> ServiceResult<()> {
        self.cluster(user, cluster).await?;
        if !Self::may_write_narrative(user, cluster) {
            return Err(ServiceError::Forbidden(
                "only the cluster's clerk or an authority officer may write its termly report".into(),
            ));
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(ServiceError::Invalid(
                "narrative: write what the cluster's money changed this term".into(),
            ));
        }
        let chars = text.chars().count();
        if chars > MAX_NARRATIVE_CHARS {
            return Err(ServiceError::Invalid(format!(
                "narrative: {chars} characters; at most {MAX_NARRATIVE_CHARS}"
            )));
        }
        self.store
            .save_narrative(
                user.authority,
                &Narrative {
                    cluster,
                    term,
                    body: text.to_string(),
                    written_by: user.display_name.clone(),
                    written_at: self.clock.now(),
                },
            )
            .await?;
        Ok(())
    }
}

// ---- The demo's policies ---------------------------------------------------------------------

/// The demo's policy in force: Norfolk's admin funding (at least £2 a pupil, £2,000 floor, 54 %
/// equal / 46 % by pupils) and an illustrative gifted-and-talented stream ring-fenced primary and
/// secondary, each with a top-slice. `{year}` becomes the academic year, e.g. `2026-27`.
const DEMO_POLICY: &str = r#"# Norfolk cluster funding (illustrative): the demo's policy in force.
name = "Norfolk cluster funding (illustrative)"
granularity = "penny"

# Norfolk's cluster admin funding: at least £2 a pupil, never less than £2,000 a cluster,
# split 54 % equally (the average flat share seen) and 46 % by pupils.
[[stream]]
name = "cluster admin"
source = "Norfolk County Council (illustrative)"
period = "academic {year}"
phases = ["nursery", "primary", "middle_primary", "middle_secondary", "secondary", "all_through", "16_plus", "special", "alternative_provision"]
budget = { per_pupil = "2.00", minimum = "2000.00" }

[[stream.component]]
name = "flat share"
kind = "equal"
share = "54"

[[stream.component]]
name = "per pupil"
kind = "per_pupil"
share = "46"

# Gifted and talented, ring-fenced by phase: no virement between primary and secondary.
[[stream]]
name = "gifted and talented"
source = "School improvement grant (illustrative)"
period = "academic {year}"

[[stream.pot]]
phase = "primary"
budget = { per_pupil = "3.00", minimum = "3000.00" }
top_slice = { percent = "10", purpose = "the cluster's G&T co-ordinator" }

[[stream.pot.component]]
name = "flat share"
kind = "equal"
share = "40"

[[stream.pot.component]]
name = "per pupil"
kind = "per_pupil"
share = "60"

[[stream.pot]]
phase = "secondary"
budget = { per_pupil = "4.00", minimum = "3000.00" }
top_slice = { percent = "15", purpose = "masterclasses for the cluster's most able pupils" }

[[stream.pot.component]]
name = "weighted for free school meals"
kind = "fsm_weighted"
share = "100"
fsm_weight = "1"
"#;

/// An alternative for comparing: the same budgets, every pot split by pupils alone.
const DEMO_ALTERNATIVE: &str = r#"# An alternative to compare with: the same budgets, every pot split by pupils alone.
name = "Alternative: all by pupils (illustrative)"
granularity = "penny"

[[stream]]
name = "cluster admin"
source = "Norfolk County Council (illustrative)"
period = "academic {year}"
phases = ["nursery", "primary", "middle_primary", "middle_secondary", "secondary", "all_through", "16_plus", "special", "alternative_provision"]
budget = { per_pupil = "2.00", minimum = "2000.00" }

[[stream.component]]
name = "per pupil"
kind = "per_pupil"
share = "100"

[[stream]]
name = "gifted and talented"
source = "School improvement grant (illustrative)"
period = "academic {year}"

[[stream.pot]]
phase = "primary"
budget = { per_pupil = "3.00", minimum = "3000.00" }

[[stream.pot.component]]
name = "per pupil"
kind = "per_pupil"
share = "100"

[[stream.pot]]
phase = "secondary"
budget = { per_pupil = "4.00", minimum = "3000.00" }

[[stream.pot.component]]
name = "per pupil"
kind = "per_pupil"
share = "100"
"#;

impl Service {
    /// The demo's funding: the illustrative policy in force for this academic year, an
    /// alternative to compare with, and this term's narrative for the clerk's cluster.
    pub(crate) async fn seed_demo_policies(
        &self,
        authority: AuthorityId,
        clerk_cluster: ClusterId,
    ) -> ServiceResult<()> {
        let [academic, _] = periods_on(self.clock.today());
        let Period::AcademicYear(y) = academic else {
            return Err(ServiceError::Unexpected(
                "periods_on returns the academic year first".into(),
            ));
        };
        let year = format!("{y}-{:02}", (y + 1) % 100);
        let now = self.clock.now();
        let mut in_force = None;
        for text in [DEMO_POLICY, DEMO_ALTERNATIVE] {
            let body = text.replace("{year}", &year);
            let name = parse_policy(&body)
                .map_err(|e| ServiceError::Unexpected(e.to_string()))?
                .name;
            let saved = self
                .store
                .save_policy_version(
                    authority,
                    &NewPolicyVersion {
                        policy: None,
                        name,
                        body,
                        note: "Set up for the demo".into(),
                        saved_by: "Demo authority officer".into(),
                        saved_at: now,
                    },
                )
                .await?;
            in_force.get_or_insert(saved.id);
        }
        if let Some(version) = in_force {
            self.store
                .set_policy_in_force(
                    authority,
                    &InForce {
                        period: academic,
                        version,
                        marked_by: "Demo authority officer".into(),
                        marked_at: now,
                    },
                )
                .await?;
        }
        let this_term = Term::of(self.clock.today());
        self.store
            .save_narrative(
                authority,
                &Narrative {
                    cluster: clerk_cluster,
                    term: this_term,
                    body: "(Synthetic, for the demo.) The admin funding paid for a shared clerk, so every \
                           committee meeting this term was minuted and the minutes reached every governing body \
                           within ten days. The G&T co-ordinator ran two Year 6 masterclasses with the high \
                           school; 38 pupils from six primaries took part."
                        .into(),
                    written_by: "Demo cluster clerk".into(),
                    written_at: now,
                },
            )
            .await?;
        Ok(())
    }
}

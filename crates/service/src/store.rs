//! The Store contract: persistence shaped around aggregates. Each method is atomic inside the
//! adapter, so transactions never leak upward. Every query is scoped by authority (the tenant).

use async_trait::async_trait;
use domain::NaiveDate;
use domain::access::{Scope, User, UserRole};
use domain::cluster::Network;
use domain::cluster::{Cluster, MembershipRole};
use domain::geo::{Area, GeographyLayer, LayerKind};
use domain::ids::{AuthorityId, ClusterId, LaCode, LayerId, NetworkId, Urn, UserId};
use domain::import::{MembershipRecord, SchoolRecord};
use domain::school::{Census, Phase, SchoolWithCensus};

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("storage error: {0}")]
    Other(String),
    /// The database's disk (or its size limit) is full. The write was rolled back whole; the
    /// next one succeeds once space is freed. Holds the database's own message, for the log.
    #[error("the database disk is full: {0}")]
    DiskFull(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A local authority: the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    pub id: AuthorityId,
    pub la_code: LaCode,
    pub name: String,
}

/// Counts of what an import wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteCounts {
    pub inserted: u64,
    pub updated: u64,
    /// Census returns added to the pupil history (a re-import of the same date replaces it).
    pub census_rows: u64,
    pub clusters_created: u64,
}

/// Filters and order for the school list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchoolQuery {
    /// Matched case-insensitively against name, URN, LAESTAB and postcode.
    pub search: Option<String>,
    pub phase: Option<Phase>,
    pub district: Option<String>,
    pub cluster: Option<ClusterId>,
    /// The day memberships are judged on; the service sets it to today when empty.
    pub on: Option<NaiveDate>,
    pub sort: SchoolSort,
    pub descending: bool,
    pub limit: Option<u32>,
    pub offset: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SchoolSort {
    #[default]
    Name,
    Urn,
    Pupils,
    FsmPct,
    District,
}

/// One row of the school list.
#[derive(Debug, Clone, PartialEq)]
pub struct SchoolListRow {
    pub school: SchoolWithCensus,
    pub cluster: Option<(ClusterId, String)>,
}

/// One page of the school list with the total that matched.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchoolPage {
    pub rows: Vec<SchoolListRow>,
    pub total: u64,
}

/// A school with everything its page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SchoolDetail {
    pub school: SchoolWithCensus,
    /// Every census return, newest first.
    pub census_history: Vec<Census>,
    /// Every membership, newest first, with the cluster's name.
    pub memberships: Vec<(domain::cluster::Membership, String)>,
    /// Networks the school belongs to: (id, name, purpose), by name.
    pub networks: Vec<(NetworkId, String, String)>,
    /// Areas the school lies in: (layer kind, layer name, area code, area name), by layer name.
    pub areas: Vec<(LayerKind, String, String, String)>,
}

/// A cluster in the list with its current size.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSummary {
    pub cluster: Cluster,
    pub schools: u32,
    pub pupils: u64,
    pub fsm_count: u64,
    /// Pupils in schools whose FSM count is known (the denominator for the cluster's FSM %).
    pub fsm_base: u64,
    pub secondaries: u32,
    pub primaries: u32,
    pub others: u32,
}

/// A cluster with its current members.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterDetail {
    pub summary: ClusterSummary,
    pub members: Vec<(SchoolWithCensus, MembershipRole, NaiveDate)>,
}

/// A new user; the password is already hashed by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub authority: AuthorityId,
    pub email: String,
    pub display_name: String,
    pub role: UserRole,
    pub scope: Scope,
    pub password_hash: String,
}

/// A signed-in session. The cookie holds a random token; only its SHA-256 is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_hash: String,
    pub user: UserId,
    pub csrf_token: String,
    /// Unix seconds.
    pub created_at: i64,
    pub expires_at: i64,
}

/// Persistence for everything Clusterwise keeps. One implementation serves SQLite and PostgreSQL.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which backend this is ("sqlite" or "postgres"), for the health check and logs.
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> StoreResult<()>;
    /// The register's revision: a number that moves on, in the same transaction, with every
    /// change to authorities, schools, census, clusters, memberships and funding policies
    /// (database triggers). `None` when the counter is missing (a restore of an older
    /// backup): then nothing may be cached.
    async fn register_revision(&self) -> StoreResult<Option<i64>>;

    async fn create_authority(&self, la_code: LaCode, name: &str) -> StoreResult<Authority>;
    async fn authority(&self, id: AuthorityId) -> StoreResult<Authority>;
    async fn authority_by_code(&self, la_code: LaCode) -> StoreResult<Option<Authority>>;
    async fn list_authorities(&self) -> StoreResult<Vec<Authority>>;

    /// Inserts or updates schools by URN and records their census returns, all in one
    /// transaction. A census for a date already held replaces that date's figures.
    async fn save_school_import(&self, authority: AuthorityId, rows: &[SchoolRecord]) -> StoreResult<WriteCounts>;

    /// Every school with its latest census, ordered by URN.
    async fn all_schools(&self, authority: AuthorityId) -> StoreResult<Vec<SchoolWithCensus>>;
    async fn list_schools(&self, authority: AuthorityId, query: &SchoolQuery) -> StoreResult<SchoolPage>;
    async fn school(&self, authority: AuthorityId, urn: Urn) -> StoreResult<Option<SchoolDetail>>;
    /// Distinct district names of the authority's schools, for filters.
    async fn districts(&self, authority: AuthorityId) -> StoreResult<Vec<String>>;

    /// Applies a membership file as of `effective`: creates clusters by name, ends each listed
    /// school's current membership elsewhere and starts the new one. One transaction.
    async fn save_memberships(
        &self,
        authority: AuthorityId,
        rows: &[MembershipRecord],
        effective: NaiveDate,
        illustrative: bool,
    ) -> StoreResult<WriteCounts>;
    /// Current (on `day`) cluster of every school that has one.
    async fn current_memberships(
        &self,
        authority: AuthorityId,
        day: NaiveDate,
    ) -> StoreResult<Vec<(Urn, ClusterId, MembershipRole)>>;
    /// Clusters with at least one member on `day` (an old map's clusters drop out once a new
    /// map is adopted; their pages and memberships stay in the history).
    async fn list_clusters(&self, authority: AuthorityId, day: NaiveDate) -> StoreResult<Vec<ClusterSummary>>;
    async fn cluster(
        &self,
        authority: AuthorityId,
        id: ClusterId,
        day: NaiveDate,
    ) -> StoreResult<Option<ClusterDetail>>;

    /// Creates or replaces (by name) a geography layer and its areas. One transaction.
    async fn save_geography_layer(
        &self,
        authority: AuthorityId,
        kind: LayerKind,
        name: &str,
        areas: &[Area],
    ) -> StoreResult<LayerId>;
    async fn geography_layers(&self, authority: AuthorityId) -> StoreResult<Vec<GeographyLayer>>;
    /// Creates or replaces (by name) a network and its members. One transaction.
    async fn save_network(
        &self,
        authority: AuthorityId,
        name: &str,
        purpose: &str,
        members: &[Urn],
    ) -> StoreResult<NetworkId>;
    async fn networks(&self, authority: AuthorityId) -> StoreResult<Vec<Network>>;

    /// Saves a cluster's committee whole (constitution versions, seats, officers, meetings).
    async fn save_committee(
        &self,
        authority: AuthorityId,
        committee: &domain::governance::Committee,
    ) -> StoreResult<()>;
    /// Every committee of the authority (member schools left empty: they are the cluster's).
    async fn committees(&self, authority: AuthorityId) -> StoreResult<Vec<domain::governance::Committee>>;

    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    /// The user and their password hash, by e-mail (case-insensitive).
    async fn user_credentials(&self, email: &str) -> StoreResult<Option<(User, String)>>;
    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// The live session for a token hash at `now`, with its user.
    async fn session(&self, token_hash: &str, now: i64) -> StoreResult<Option<(SessionRecord, User)>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Records a failed or successful sign-in attempt for throttling; returns failures for
    /// the e-mail since `since`.
    async fn record_sign_in_attempt(&self, email: &str, at: i64, success: bool) -> StoreResult<()>;
    async fn failed_sign_ins_since(&self, email: &str, since: i64) -> StoreResult<u64>;

    // ---- design ----
    /// Saves a new design scenario as running.
    async fn create_scenario(
        &self,
        authority: AuthorityId,
        scenario: &crate::design::NewScenario,
    ) -> StoreResult<crate::design::ScenarioId>;
    /// Saves a run's outcome (status, figures, map, findings) in one transaction; only a
    /// running scenario can finish.
    async fn finish_scenario(
        &self,
        authority: AuthorityId,
        id: crate::design::ScenarioId,
        outcome: &crate::design::ScenarioOutcome,
    ) -> StoreResult<()>;
    /// Every scenario of the authority, without its map.
    async fn scenarios(&self, authority: AuthorityId) -> StoreResult<Vec<crate::design::ScenarioSummary>>;
    async fn scenario(
        &self,
        authority: AuthorityId,
        id: crate::design::ScenarioId,
    ) -> StoreResult<Option<crate::design::ScenarioRecord>>;
    /// The name of every cluster the authority has ever had.
    async fn cluster_names(&self, authority: AuthorityId) -> StoreResult<Vec<String>>;
    /// Adopts a finished scenario in one transaction: marks it adopted (Conflict when it is not
    /// finished or was adopted already, or when memberships start after the effective day),
    /// replaces memberships starting on that day, ends every other membership current on it,
    /// creates the new clusters and starts their memberships.
    async fn adopt_scenario(
        &self,
        authority: AuthorityId,
        id: crate::design::ScenarioId,
        adoption: &crate::design::NewAdoption,
    ) -> StoreResult<WriteCounts>;
    // ---- policies ----
    /// Saves a funding policy's text as its next version (`policy: None` starts a new policy at
    /// version 1) and renames the policy to `name`. One transaction; a name another policy of
    /// the authority holds is a conflict; another authority's policy is not found.
    async fn save_policy_version(
        &self,
        authority: AuthorityId,
        new: &crate::policies::NewPolicyVersion,
    ) -> StoreResult<crate::policies::PolicyVersion>;
    /// Every policy of the authority with all its versions (newest first), by name.
    async fn policies(&self, authority: AuthorityId) -> StoreResult<Vec<crate::policies::StoredPolicy>>;
    /// Marks a version as the one in force for a period (replacing the one before).
    async fn set_policy_in_force(&self, authority: AuthorityId, mark: &crate::policies::InForce) -> StoreResult<()>;
    /// The version in force for each period that has one, by period.
    async fn policies_in_force(&self, authority: AuthorityId) -> StoreResult<Vec<crate::policies::InForce>>;
    /// Saves (or replaces) a cluster's narrative for a term.
    async fn save_narrative(&self, authority: AuthorityId, narrative: &crate::policies::Narrative) -> StoreResult<()>;
    /// A cluster's narratives, newest term first.
    async fn narratives(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
    ) -> StoreResult<Vec<crate::policies::Narrative>>;
    // ---- meetings ----
    /// A cluster's committee register (versions, people, seats, officers); `None` when the
    /// cluster is not the authority's. A cluster with no committee yet has an empty register.
    async fn committee_register(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
    ) -> StoreResult<Option<crate::meetings::CommitteeRegister>>;
    /// Adds people to a committee's register in one transaction; returns their ids in order.
    async fn add_committee_people(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        people: &[crate::meetings::PersonDetails],
    ) -> StoreResult<Vec<domain::ids::PersonId>>;
    async fn update_committee_person(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        person: domain::ids::PersonId,
        details: &crate::meetings::PersonDetails,
    ) -> StoreResult<()>;
    /// Replaces a committee's seats whole, in order.
    async fn save_committee_seats(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        seats: &[crate::meetings::CommitteeSeat],
    ) -> StoreResult<()>;
    /// Replaces a committee's constitution versions and records its last governance review.
    async fn save_constitution_versions(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        versions: &[domain::governance::ConstitutionVersion],
        last_review: Option<NaiveDate>,
    ) -> StoreResult<()>;
    /// Saves a meeting whole (inserting it when it has no id) with the totals health reads, in
    /// one transaction. A record whose revision is not the stored one is a `Conflict`.
    async fn save_meeting(
        &self,
        authority: AuthorityId,
        meeting: &crate::meetings::MeetingRecord,
    ) -> StoreResult<domain::ids::MeetingId>;
    async fn meeting(
        &self,
        authority: AuthorityId,
        id: domain::ids::MeetingId,
    ) -> StoreResult<Option<crate::meetings::MeetingRecord>>;
    /// Every recorded meeting of a cluster, by date.
    async fn cluster_meetings(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
    ) -> StoreResult<Vec<crate::meetings::MeetingRecord>>;
    // ---- ledger ----
    /// `Ok` when a committed posting survives a crash (SQLite: WAL with `synchronous = FULL`,
    /// checked at start-up); otherwise the reason ledger postings are refused.
    async fn ledger_durability(&self) -> StoreResult<()>;
    /// The cluster's journal length, balances and approved exceptions.
    async fn ledger_snapshot(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
    ) -> StoreResult<crate::ledger::LedgerSnapshot>;
    async fn ledger_entry_by_key(
        &self,
        authority: AuthorityId,
        key: &str,
    ) -> StoreResult<Option<crate::ledger::KeyedEntry>>;
    async fn ledger_entry(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        id: domain::funding::ledger::EntryId,
    ) -> StoreResult<Option<domain::funding::ledger::Entry>>;
    /// Appends an entry, its lines and its balance changes in one transaction: `Replayed` if
    /// the key was posted with the same content, `Conflict` if with other content, `Stale` if the
    /// journal is no longer `expected_seq` long.
    async fn post_ledger_entry(
        &self,
        authority: AuthorityId,
        posting: &crate::ledger::LedgerPosting,
    ) -> StoreResult<crate::ledger::PostOutcome>;
    /// Several postings (each already judged, with its journal length) in one transaction, all
    /// or nothing: `Conflict` if any key is already posted or any length is stale. For seeding.
    async fn post_ledger_batch(
        &self,
        authority: AuthorityId,
        postings: &[crate::ledger::LedgerPosting],
    ) -> StoreResult<Vec<domain::funding::ledger::Entry>>;
    /// The cluster's journal, oldest first.
    async fn ledger_journal(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
    ) -> StoreResult<Vec<domain::funding::ledger::Entry>>;
    /// A page of the cluster's journal (see `JournalQuery`) and how many entries match.
    async fn ledger_journal_page(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        query: &crate::ledger::JournalQuery,
    ) -> StoreResult<crate::ledger::JournalPage>;
    /// Whether the cluster's journal sums to its kept balances, its length and whether it is
    /// all synthetic, worked out in the database.
    async fn ledger_journal_facts(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
    ) -> StoreResult<crate::ledger::JournalFacts>;
    async fn save_virement_exception(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        exception: &domain::funding::virement::NewException,
        recorded_by: UserId,
        recorded_at: i64,
    ) -> StoreResult<domain::funding::ledger::ExceptionId>;
    /// The authority's own virement rules, or `None` when it keeps the defaults.
    async fn virement_rules(
        &self,
        authority: AuthorityId,
    ) -> StoreResult<Option<domain::funding::virement::VirementRules>>;
    async fn save_virement_rules(
        &self,
        authority: AuthorityId,
        rules: &domain::funding::virement::VirementRules,
    ) -> StoreResult<()>;
    async fn save_staff_post(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        post: &domain::funding::ledger::NewStaffPost,
    ) -> StoreResult<domain::funding::ledger::StaffPostId>;
    async fn staff_posts(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
    ) -> StoreResult<Vec<domain::funding::ledger::StaffPost>>;
    async fn set_ledger_horizon(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        stream: &str,
        ends_on: NaiveDate,
    ) -> StoreResult<()>;
    async fn ledger_horizons(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
    ) -> StoreResult<Vec<(String, NaiveDate)>>;
    /// Checks every ledger of the authority against itself (see [`crate::ledger::LedgerAudit`]).
    async fn ledger_audit(&self, authority: AuthorityId) -> StoreResult<crate::ledger::LedgerAudit>;
    // ---- casework ----
    /// The strands a user works in (strand staff).
    async fn strands_of(&self, authority: AuthorityId, user: UserId) -> StoreResult<Vec<domain::privacy::Strand>>;
    /// Replaces the strands a user works in.
    async fn set_strands(
        &self,
        authority: AuthorityId,
        user: UserId,
        strands: &[domain::privacy::Strand],
    ) -> StoreResult<()>;
    async fn save_pupil(
        &self,
        authority: AuthorityId,
        pupil: &domain::casework::NewPupil,
    ) -> StoreResult<domain::casework::PupilId>;
    /// Records the day a pupil left their school (retention runs from it).
    async fn set_pupil_left(
        &self,
        authority: AuthorityId,
        pupil: domain::casework::PupilId,
        left_on: Option<NaiveDate>,
    ) -> StoreResult<()>;
    async fn pupils(
        &self,
        authority: AuthorityId,
        filter: &crate::casework::CaseworkFilter,
    ) -> StoreResult<Vec<domain::casework::Pupil>>;
    /// Saves a school's composition for the representation check.
    async fn save_composition(
        &self,
        authority: AuthorityId,
        urn: Urn,
        composition: &domain::casework::representation::Composition,
        synthetic: bool,
    ) -> StoreResult<()>;
    async fn composition(
        &self,
        authority: AuthorityId,
        urn: Urn,
    ) -> StoreResult<Option<(domain::casework::representation::Composition, bool)>>;
    /// Inserts (id 0) or replaces a register entry.
    async fn save_gt_entry(
        &self,
        authority: AuthorityId,
        entry: &domain::casework::gt::GtEntry,
    ) -> StoreResult<domain::casework::GtEntryId>;
    async fn gt_entries(
        &self,
        authority: AuthorityId,
        filter: &crate::casework::CaseworkFilter,
    ) -> StoreResult<Vec<domain::casework::gt::GtEntry>>;
    /// Inserts (id 0) or replaces a mentor.
    async fn save_mentor(
        &self,
        authority: AuthorityId,
        mentor: &domain::casework::mentor::Mentor,
    ) -> StoreResult<domain::casework::MentorId>;
    async fn mentors(&self, authority: AuthorityId) -> StoreResult<Vec<domain::casework::mentor::Mentor>>;
    /// Inserts (id 0) or replaces a case whole (targets, sessions, reviews). One transaction.
    async fn save_mentor_case(
        &self,
        authority: AuthorityId,
        case: &domain::casework::mentor::MentorCase,
    ) -> StoreResult<domain::casework::CaseId>;
    async fn mentor_cases(
        &self,
        authority: AuthorityId,
        filter: &crate::casework::CaseworkFilter,
    ) -> StoreResult<Vec<domain::casework::mentor::MentorCase>>;
    async fn save_lsu_placement(
        &self,
        authority: AuthorityId,
        placement: &domain::casework::lsu::LsuPlacement,
    ) -> StoreResult<domain::casework::PlacementId>;
    async fn lsu_placements(
        &self,
        authority: AuthorityId,
        filter: &crate::casework::CaseworkFilter,
    ) -> StoreResult<Vec<domain::casework::lsu::LsuPlacement>>;
    async fn save_transition(
        &self,
        authority: AuthorityId,
        record: &domain::casework::transition::TransitionRecord,
    ) -> StoreResult<domain::casework::TransitionId>;
    /// Transition records; a school filter matches the sending or the receiving school.
    async fn transitions(
        &self,
        authority: AuthorityId,
        filter: &crate::casework::CaseworkFilter,
    ) -> StoreResult<Vec<domain::casework::transition::TransitionRecord>>;
    /// Appends entries to the authority's audit chain (reads the last hash and inserts the next
    /// entries in one transaction). There is no update or delete for the audit log.
    async fn append_audit(
        &self,
        authority: AuthorityId,
        records: &[domain::privacy::audit::AuditRecord],
    ) -> StoreResult<Vec<domain::privacy::audit::AuditEntry>>;
    /// Audit entries in sequence order, filtered.
    async fn audit_entries(
        &self,
        authority: AuthorityId,
        query: &crate::casework::AuditQuery,
    ) -> StoreResult<Vec<domain::privacy::audit::AuditEntry>>;
    /// Deletes the listed records (past retention) in one transaction.
    async fn delete_casework(
        &self,
        authority: AuthorityId,
        deletion: &crate::casework::RetentionDeletion,
    ) -> StoreResult<()>;
    // ---- evaluation ----
    /// The authority's evaluation settings (`None` until an officer changes the defaults).
    async fn evaluation_settings(
        &self,
        authority: AuthorityId,
    ) -> StoreResult<Option<crate::evaluation::EvaluationSettings>>;
    async fn save_evaluation_settings(
        &self,
        authority: AuthorityId,
        settings: &crate::evaluation::EvaluationSettings,
    ) -> StoreResult<()>;
    /// Measures the authority added beyond the built-in catalogue.
    async fn extra_measures(&self, authority: AuthorityId)
    -> StoreResult<Vec<domain::evaluation::metrics::MeasureDef>>;
    /// Saves metric values (a value already held for the same year, school, measure and group is
    /// replaced) and any new measures, in one transaction. Returns the rows saved.
    async fn save_metrics(
        &self,
        authority: AuthorityId,
        rows: &[domain::evaluation::metrics::MetricRecord],
        new_measures: &[domain::evaluation::metrics::MeasureDef],
    ) -> StoreResult<u64>;
    /// Metric values (lines are 0), optionally of one measure, by measure, group, year and URN.
    async fn metric_values(
        &self,
        authority: AuthorityId,
        measure: Option<&str>,
    ) -> StoreResult<Vec<domain::evaluation::metrics::MetricRecord>>;
    /// Saves a cluster's plan for its year whole (priorities, activities, targets).
    async fn save_plan(&self, authority: AuthorityId, plan: &domain::evaluation::plan::Plan) -> StoreResult<()>;
    async fn plan(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        year: domain::evaluation::AcademicYear,
    ) -> StoreResult<Option<domain::evaluation::plan::Plan>>;
    /// Every cluster's plan for a year.
    async fn plans(
        &self,
        authority: AuthorityId,
        year: domain::evaluation::AcademicYear,
    ) -> StoreResult<Vec<domain::evaluation::plan::Plan>>;
    /// Creates or replaces a cluster's FADE report for its due date.
    async fn save_fade_report(
        &self,
        authority: AuthorityId,
        report: &domain::evaluation::fade::Report,
    ) -> StoreResult<()>;
    /// FADE reports, of one cluster or all, by due date.
    async fn fade_reports(
        &self,
        authority: AuthorityId,
        cluster: Option<ClusterId>,
    ) -> StoreResult<Vec<domain::evaluation::fade::Report>>;
    /// Creates a questionnaire with its recipient schools; returns its id.
    async fn create_questionnaire(
        &self,
        authority: AuthorityId,
        questionnaire: &domain::evaluation::questionnaire::Questionnaire,
    ) -> StoreResult<i64>;
    async fn questionnaires(
        &self,
        authority: AuthorityId,
    ) -> StoreResult<Vec<domain::evaluation::questionnaire::Questionnaire>>;
    /// Creates or replaces a school's answers (NotFound unless the questionnaire was sent to it).
    async fn save_questionnaire_response(
        &self,
        authority: AuthorityId,
        questionnaire: i64,
        response: &domain::evaluation::questionnaire::Response,
    ) -> StoreResult<()>;
    async fn questionnaire_responses(
        &self,
        authority: AuthorityId,
        questionnaire: i64,
    ) -> StoreResult<Vec<domain::evaluation::questionnaire::Response>>;

    // ---- api tokens ----
    /// Stores a new API token (its hash) for a user; returns its id.
    async fn create_api_token(&self, token: &NewApiToken) -> StoreResult<i64>;
    /// The user a live token hash acts as, and what it may do: not revoked and expiring after
    /// `now` (Unix seconds).
    async fn api_token_user(&self, token_hash: &str, now: i64) -> StoreResult<Option<TokenHolder>>;
    /// Every API token of every authority (for the operator's `token list`), newest first.
    async fn api_tokens(&self) -> StoreResult<Vec<ApiTokenRecord>>;
    /// Stamps a token revoked at `at`; false when there is no live token with that id.
    async fn revoke_api_token(&self, id: i64, at: i64) -> StoreResult<bool>;
}

/// A new API token: only the SHA-256 of the token is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    pub token_hash: String,
    pub user: UserId,
    pub label: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds: refused from then on.
    pub expires_at: i64,
    pub access: TokenAccess,
}

/// What an API token may do: everything its user may, or only read (GET and HEAD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAccess {
    ReadWrite,
    ReadOnly,
}

impl TokenAccess {
    pub fn label(self) -> &'static str {
        match self {
            TokenAccess::ReadWrite => "read and write",
            TokenAccess::ReadOnly => "read only",
        }
    }
}

/// Who a live API token acts as, and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHolder {
    pub user: User,
    pub access: TokenAccess,
}

/// An API token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    pub id: i64,
    pub user: User,
    pub label: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub expires_at: i64,
    pub access: TokenAccess,
}

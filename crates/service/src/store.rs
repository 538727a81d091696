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
}

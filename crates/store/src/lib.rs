//! Clusterwise persistence: one SQL implementation of [`service::Store`] for SQLite (the embedded
//! default) and PostgreSQL, through sqlx's `Any` driver.
//!
//! Invariants: every query is written once in portable SQL with `$N` placeholders (SQLite accepts
//! them too); the only dialect difference is the auto-increment key in migrations (`{pk}`). Every
//! query is scoped by authority. Each trait method is atomic: multi-statement writes run in one
//! transaction. Integers are BIGINT, booleans 0/1, dates ISO-8601 text, money integer pence.

mod areas;
mod clusters;
mod evaluation;
mod governance;
mod migrate;
mod rows;
mod schools;
mod users;

use async_trait::async_trait;
use domain::NaiveDate;
use domain::access::User;
use domain::cluster::MembershipRole;
use domain::cluster::Network;
use domain::geo::{Area, GeographyLayer, LayerKind};
use domain::ids::{AuthorityId, ClusterId, LaCode, LayerId, NetworkId, Urn};
use domain::import::{MembershipRecord, SchoolRecord};
use domain::school::SchoolWithCensus;
use service::store::{
    Authority, ClusterDetail, ClusterSummary, NewUser, SchoolDetail, SchoolPage, SchoolQuery, SessionRecord, Store,
    StoreError, StoreResult, WriteCounts,
};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor, Row};
use std::time::Duration;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The store: a connection pool and its dialect.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e
        && d.is_unique_violation()
    {
        return StoreError::Conflict(d.message().to_string());
    }
    StoreError::Other(e.to_string())
}

/// Turns what a person typed (`clusterwise.db`, `sqlite://x.db`, `postgres://…`) into a URL.
pub fn normalise_url(db: &str) -> (String, Dialect) {
    let db = db.trim();
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return (db.to_string(), Dialect::Postgres);
    }
    if db == "sqlite::memory:" {
        return (db.to_string(), Dialect::Sqlite);
    }
    let path = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db);
    let url = if path.contains('?') {
        format!("sqlite://{path}")
    } else {
        format!("sqlite://{path}?mode=rwc")
    };
    (url, Dialect::Sqlite)
}

/// Connects (creating an SQLite file when missing) and brings the schema up to date.
pub async fn connect(db: &str) -> StoreResult<SqlStore> {
    install_default_drivers();
    let (url, dialect) = normalise_url(db);
    let in_memory = url == "sqlite::memory:";
    let mut options = AnyPoolOptions::new();
    options = match dialect {
        // An in-memory database lives as long as its one connection: keep it forever.
        Dialect::Sqlite if in_memory => options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None),
        Dialect::Sqlite => options.max_connections(4),
        Dialect::Postgres => options.max_connections(8),
    }
    .acquire_timeout(Duration::from_secs(30));
    if dialect == Dialect::Sqlite {
        options = options.after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL with full synchronisation: a committed write survives power loss.
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = FULL").await?;
                Ok(())
            })
        });
    }
    let pool = options
        .connect(&url)
        .await
        .map_err(|e| StoreError::Other(format!("cannot open the database {}: {e}", redact(&url))))?;
    let store = SqlStore { pool, dialect };
    migrate::run(&store).await?;
    Ok(store)
}

/// A fresh, migrated in-memory SQLite database (tests).
pub async fn connect_in_memory() -> StoreResult<SqlStore> {
    connect("sqlite::memory:").await
}

/// Hides a password in a database URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl SqlStore {
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
    pub async fn close(&self) {
        self.pool.close().await;
    }
    /// Runs SQLite's integrity check (PostgreSQL: a trivial query). Used by the reliability harness.
    pub async fn integrity_check(&self) -> StoreResult<String> {
        match self.dialect {
            Dialect::Sqlite => {
                let row = sqlx::query("PRAGMA integrity_check")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)?;
                row.try_get::<String, _>(0).map_err(db_err)
            }
            Dialect::Postgres => Ok("ok".into()),
        }
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db_err)?;
        Ok(())
    }

    async fn create_authority(&self, la_code: LaCode, name: &str) -> StoreResult<Authority> {
        schools::create_authority(self, la_code, name).await
    }
    async fn authority(&self, id: AuthorityId) -> StoreResult<Authority> {
        schools::authority(self, id).await
    }
    async fn authority_by_code(&self, la_code: LaCode) -> StoreResult<Option<Authority>> {
        schools::authority_by_code(self, la_code).await
    }
    async fn list_authorities(&self) -> StoreResult<Vec<Authority>> {
        schools::list_authorities(self).await
    }
    async fn save_school_import(&self, authority: AuthorityId, rows: &[SchoolRecord]) -> StoreResult<WriteCounts> {
        schools::save_school_import(self, authority, rows).await
    }
    async fn all_schools(&self, authority: AuthorityId) -> StoreResult<Vec<SchoolWithCensus>> {
        schools::all_schools(self, authority).await
    }
    async fn list_schools(&self, authority: AuthorityId, query: &SchoolQuery) -> StoreResult<SchoolPage> {
        schools::list_schools(self, authority, query).await
    }
    async fn school(&self, authority: AuthorityId, urn: Urn) -> StoreResult<Option<SchoolDetail>> {
        schools::school(self, authority, urn).await
    }
    async fn districts(&self, authority: AuthorityId) -> StoreResult<Vec<String>> {
        schools::districts(self, authority).await
    }
    async fn save_memberships(
        &self,
        authority: AuthorityId,
        rows: &[MembershipRecord],
        effective: NaiveDate,
        illustrative: bool,
    ) -> StoreResult<WriteCounts> {
        clusters::save_memberships(self, authority, rows, effective, illustrative).await
    }
    async fn current_memberships(
        &self,
        authority: AuthorityId,
        day: NaiveDate,
    ) -> StoreResult<Vec<(Urn, ClusterId, MembershipRole)>> {
        clusters::current_memberships(self, authority, day).await
    }
    async fn list_clusters(&self, authority: AuthorityId, day: NaiveDate) -> StoreResult<Vec<ClusterSummary>> {
        clusters::list_clusters(self, authority, day).await
    }
    async fn cluster(
        &self,
        authority: AuthorityId,
        id: ClusterId,
        day: NaiveDate,
    ) -> StoreResult<Option<ClusterDetail>> {
        clusters::cluster(self, authority, id, day).await
    }
    async fn save_geography_layer(
        &self,
        authority: AuthorityId,
        kind: LayerKind,
        name: &str,
        areas: &[Area],
    ) -> StoreResult<LayerId> {
        areas::save_geography_layer(self, authority, kind, name, areas).await
    }
    async fn geography_layers(&self, authority: AuthorityId) -> StoreResult<Vec<GeographyLayer>> {
        areas::geography_layers(self, authority).await
    }
    async fn save_network(
        &self,
        authority: AuthorityId,
        name: &str,
        purpose: &str,
        members: &[Urn],
    ) -> StoreResult<NetworkId> {
        areas::save_network(self, authority, name, purpose, members).await
    }
    async fn networks(&self, authority: AuthorityId) -> StoreResult<Vec<Network>> {
        areas::networks(self, authority).await
    }
    async fn save_committee(
        &self,
        authority: AuthorityId,
        committee: &domain::governance::Committee,
    ) -> StoreResult<()> {
        governance::save_committee(self, authority, committee).await
    }
    async fn committees(&self, authority: AuthorityId) -> StoreResult<Vec<domain::governance::Committee>> {
        governance::committees(self, authority).await
    }
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        users::create_user(self, user).await
    }
    async fn user_credentials(&self, email: &str) -> StoreResult<Option<(User, String)>> {
        users::user_credentials(self, email).await
    }
    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()> {
        users::create_session(self, session).await
    }
    async fn session(&self, token_hash: &str, now: i64) -> StoreResult<Option<(SessionRecord, User)>> {
        users::session(self, token_hash, now).await
    }
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        users::delete_session(self, token_hash).await
    }
    async fn record_sign_in_attempt(&self, email: &str, at: i64, success: bool) -> StoreResult<()> {
        users::record_sign_in_attempt(self, email, at, success).await
    }
    async fn failed_sign_ins_since(&self, email: &str, since: i64) -> StoreResult<u64> {
        users::failed_sign_ins_since(self, email, since).await
    }

    // ---- evaluation ----
    async fn evaluation_settings(
        &self,
        authority: AuthorityId,
    ) -> StoreResult<Option<service::evaluation::EvaluationSettings>> {
        evaluation::evaluation_settings(self, authority).await
    }
    async fn save_evaluation_settings(
        &self,
        authority: AuthorityId,
        settings: &service::evaluation::EvaluationSettings,
    ) -> StoreResult<()> {
        evaluation::save_evaluation_settings(self, authority, settings).await
    }
    async fn extra_measures(
        &self,
        authority: AuthorityId,
    ) -> StoreResult<Vec<domain::evaluation::metrics::MeasureDef>> {
        evaluation::extra_measures(self, authority).await
    }
    async fn save_metrics(
        &self,
        authority: AuthorityId,
        rows: &[domain::evaluation::metrics::MetricRecord],
        new_measures: &[domain::evaluation::metrics::MeasureDef],
    ) -> StoreResult<u64> {
        evaluation::save_metrics(self, authority, rows, new_measures).await
    }
    async fn metric_values(
        &self,
        authority: AuthorityId,
        measure: Option<&str>,
    ) -> StoreResult<Vec<domain::evaluation::metrics::MetricRecord>> {
        evaluation::metric_values(self, authority, measure).await
    }
    async fn save_plan(&self, authority: AuthorityId, plan: &domain::evaluation::plan::Plan) -> StoreResult<()> {
        evaluation::save_plan(self, authority, plan).await
    }
    async fn plan(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        year: domain::evaluation::AcademicYear,
    ) -> StoreResult<Option<domain::evaluation::plan::Plan>> {
        evaluation::plan(self, authority, cluster, year).await
    }
    async fn plans(
        &self,
        authority: AuthorityId,
        year: domain::evaluation::AcademicYear,
    ) -> StoreResult<Vec<domain::evaluation::plan::Plan>> {
        evaluation::plans(self, authority, year).await
    }
    async fn save_fade_report(
        &self,
        authority: AuthorityId,
        report: &domain::evaluation::fade::Report,
    ) -> StoreResult<()> {
        evaluation::save_fade_report(self, authority, report).await
    }
    async fn fade_reports(
        &self,
        authority: AuthorityId,
        cluster: Option<ClusterId>,
    ) -> StoreResult<Vec<domain::evaluation::fade::Report>> {
        evaluation::fade_reports(self, authority, cluster).await
    }
    async fn create_questionnaire(
        &self,
        authority: AuthorityId,
        questionnaire: &domain::evaluation::questionnaire::Questionnaire,
    ) -> StoreResult<i64> {
        evaluation::create_questionnaire(self, authority, questionnaire).await
    }
    async fn questionnaires(
        &self,
        authority: AuthorityId,
    ) -> StoreResult<Vec<domain::evaluation::questionnaire::Questionnaire>> {
        evaluation::questionnaires(self, authority).await
    }
    async fn save_questionnaire_response(
        &self,
        authority: AuthorityId,
        questionnaire: i64,
        response: &domain::evaluation::questionnaire::Response,
    ) -> StoreResult<()> {
        evaluation::save_questionnaire_response(self, authority, questionnaire, response).await
    }
    async fn questionnaire_responses(
        &self,
        authority: AuthorityId,
        questionnaire: i64,
    ) -> StoreResult<Vec<domain::evaluation::questionnaire::Response>> {
        evaluation::questionnaire_responses(self, authority, questionnaire).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalised() {
        assert_eq!(
            normalise_url("x.db"),
            ("sqlite://x.db?mode=rwc".into(), Dialect::Sqlite)
        );
        assert_eq!(
            normalise_url("sqlite://x.db"),
            ("sqlite://x.db?mode=rwc".into(), Dialect::Sqlite)
        );
        assert_eq!(
            normalise_url("sqlite:x.db?mode=ro"),
            ("sqlite://x.db?mode=ro".into(), Dialect::Sqlite)
        );
        assert_eq!(normalise_url("postgres://u:p@h/db").1, Dialect::Postgres);
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}

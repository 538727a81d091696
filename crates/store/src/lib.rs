//! Clusterwise persistence: one SQL implementation of [`service::Store`] for SQLite (the embedded
//! default) and PostgreSQL, through sqlx's `Any` driver.
//!
//! Invariants: every query is written once in portable SQL with `$N` placeholders (SQLite accepts
//! them too); the only dialect difference is the auto-increment key in migrations (`{pk}`). Every
//! query is scoped by authority. Each trait method is atomic: multi-statement writes run in one
//! transaction. Integers are BIGINT, booleans 0/1, dates ISO-8601 text, money integer pence.

mod api_tokens;
mod areas;
pub mod backup;
mod casework;
mod clusters;
mod design;
mod evaluation;
mod governance;
mod ledger;
mod meetings;
mod migrate;
mod policies;
mod rows;
mod schools;
mod users;

use async_trait::async_trait;
use domain::NaiveDate;
use domain::access::User;
use domain::cluster::MembershipRole;
use domain::cluster::Network;
use domain::funding::ledger::{Entry, EntryId, ExceptionId, NewStaffPost, StaffPost, StaffPostId};
use domain::funding::virement::{NewException, VirementRules};
use domain::geo::{Area, GeographyLayer, LayerKind};
use domain::ids::UserId;
use domain::ids::{AuthorityId, ClusterId, LaCode, LayerId, NetworkId, Urn};
use domain::import::{MembershipRecord, SchoolRecord};
use domain::school::SchoolWithCensus;
use service::ledger::{KeyedEntry, LedgerAudit, LedgerPosting, LedgerSnapshot, PostOutcome};
use service::store::{
    ApiTokenRecord, Authority, ClusterDetail, ClusterSummary, NewApiToken, NewUser, SchoolDetail, SchoolPage,
    SchoolQuery, SessionRecord, Store, StoreError, StoreResult, TokenHolder, WriteCounts,
};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor, Row};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
// ---- casework ----
use domain::casework::gt::GtEntry;
use domain::casework::lsu::LsuPlacement;
use domain::casework::mentor::{Mentor, MentorCase};
use domain::casework::representation::Composition;
use domain::casework::transition::TransitionRecord;
use domain::casework::{CaseId, GtEntryId, MentorId, NewPupil, PlacementId, Pupil, PupilId, TransitionId};
use domain::privacy::Strand;
use domain::privacy::audit::{AuditEntry, AuditRecord};
use service::casework::{AuditQuery, CaseworkFilter, RetentionDeletion};

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
    /// Why ledger postings are refused (the database is not crash-safe), checked at start-up.
    ledger_refusal: Option<std::sync::Arc<str>>,
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return StoreError::Conflict(d.message().to_string());
        }
        if d.code().is_some_and(|c| is_disk_full(&c)) {
            return StoreError::DiskFull(d.message().to_string());
        }
    }
    StoreError::Other(e.to_string())
}

/// Whether a database error code means the disk (or the database's size limit) is full:
/// SQLite's `SQLITE_FULL` (13; a write, WAL append or checkpoint that met `ENOSPC`, or
/// `max_page_count`) and `SQLITE_IOERR_SHMSIZE` (4874; the WAL index could not grow), and
/// PostgreSQL's SQLSTATE `53100` (`disk_full`).
pub fn is_disk_full(code: &str) -> bool {
    matches!(code, "13" | "4874" | "53100")
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
    connect_inner(db, None).await
}

/// For the disk-full tests where no small file system can be mounted: an SQLite store whose
/// database cannot grow beyond `max_pages` pages (read before every use of a connection, so the
/// test can "free space" by raising it), giving `SQLITE_FULL` as a full disk does. The product
/// never calls this.
pub async fn connect_with_page_limit(db: &str, max_pages: Arc<AtomicU64>) -> StoreResult<SqlStore> {
    connect_inner(db, Some(max_pages)).await
}

async fn connect_inner(db: &str, page_limit: Option<Arc<AtomicU64>>) -> StoreResult<SqlStore> {
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
        // SQLite connections live in this process: recycling one (sqlx's defaults close a
        // connection idle for 10 minutes and every connection after 30) frees nothing on a
        // server and throws its page cache away. Worse, the pool's connections are all opened
        // at start-up, so they all reached their 30 minutes at once and for a moment the pool
        // was empty, which is when the 30-minute soak met its 503s (docs/RELIABILITY.md, "Load").
        Dialect::Sqlite => options.max_connections(4).idle_timeout(None).max_lifetime(None),
        Dialect::Postgres => options.max_connections(8),
    }
    .acquire_timeout(Duration::from_secs(30));
    if dialect == Dialect::Sqlite {
        let limit = page_limit.clone();
        options = options.after_connect(move |conn, _meta| {
            let limit = limit.as_ref().map(|l| l.load(Ordering::SeqCst));
            Box::pin(async move {
                // WAL with full synchronisation: a committed write survives power loss.
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = FULL").await?;
                if let Some(pages) = limit {
                    conn.execute(format!("PRAGMA max_page_count = {pages}").as_str())
                        .await?;
                }
                Ok(())
            })
        });
        options = options.before_acquire(move |conn, _meta| {
            let limit = page_limit
                .as_ref()
                .map(|l| format!("PRAGMA max_page_count = {}", l.load(Ordering::SeqCst)));
            Box::pin(async move {
                if !sqlite_connection_is_clean(conn).await {
                    tracing::warn!("an SQLite connection left inside a transaction (after a failed write) is closed");
                    return Ok(false);
                }
                if let Some(sql) = limit {
                    conn.execute(sql.as_str()).await?;
                }
                Ok(true)
            })
        });
    }
    let pool = options
        .connect(&url)
        .await
        .map_err(|e| StoreError::Other(format!("cannot open the database {}: {e}", redact(&url))))?;
    let mut store = SqlStore {
        pool,
        dialect,
        ledger_refusal: None,
    };
    migrate::run(&store).await?;
    store.ledger_refusal = ledger::durability_refusal(&store, in_memory).await?.map(Into::into);
    if let Some(why) = &store.ledger_refusal {
        tracing::error!(%why, "the ledger will refuse postings");
    }
    Ok(store)
}

/// A fresh, migrated in-memory SQLite database (tests).
pub async fn connect_in_memory() -> StoreResult<SqlStore> {
    connect("sqlite::memory:").await
}

/// Whether an SQLite connection is outside any transaction, as sqlx and SQLite both see it.
///
/// A write that fails with `SQLITE_FULL` or an I/O error may be rolled back by SQLite itself;
/// sqlx then cannot roll it back and still counts the transaction as open, so its next
/// "transaction" would be a savepoint inside a phantom one. Before a pooled connection is used
/// again this checks both views (`BEGIN` fails inside a transaction; `BEGIN; ROLLBACK` outside
/// one takes no lock and touches no file); a connection that fails is closed and replaced.
async fn sqlite_connection_is_clean(conn: &mut sqlx::AnyConnection) -> bool {
    use sqlx::Connection;
    if conn.is_in_transaction() {
        return false;
    }
    if conn.execute("BEGIN").await.is_err() {
        return false;
    }
    conn.execute("ROLLBACK").await.is_ok()
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
    /// A transaction that writes. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so a writer that meets another waits for it (busy_timeout) instead of failing with
    /// "database is locked" when its read snapshot cannot be upgraded to a write (a deferred
    /// `BEGIN` does; found by crates/web/tests/concurrency.rs with 50 clerks voting at once).
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.pool.begin().await,
        }
    }
    /// Why ledger postings are refused, if they are (see `Store::ledger_durability`).
    pub fn ledger_refusal(&self) -> Option<&str> {
        self.ledger_refusal.as_deref()
    }
    pub async fn close(&self) {
        self.pool.close().await;
    }
    /// Copies SQLite's write-ahead log into the database file and empties it
    /// (`wal_checkpoint(TRUNCATE)`); nothing on PostgreSQL. A checkpoint that meets a full disk
    /// fails as [`StoreError::DiskFull`] and loses nothing: the log still holds every commit.
    pub async fn checkpoint(&self) -> StoreResult<()> {
        if self.dialect == Dialect::Sqlite {
            let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
            if row.try_get::<i64, _>(0).map_err(db_err)? != 0 {
                return Err(StoreError::Other(
                    "the checkpoint was blocked by a reader or writer".into(),
                ));
            }
        }
        Ok(())
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

    async fn register_revision(&self) -> StoreResult<Option<i64>> {
        let row = sqlx::query("SELECT revision FROM register_revision WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| r.try_get::<i64, _>(0).map_err(db_err)).transpose()
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

    // ---- design ----
    async fn create_scenario(
        &self,
        authority: AuthorityId,
        scenario: &service::design::NewScenario,
    ) -> StoreResult<service::design::ScenarioId> {
        design::create_scenario(self, authority, scenario).await
    }
    async fn finish_scenario(
        &self,
        authority: AuthorityId,
        id: service::design::ScenarioId,
        outcome: &service::design::ScenarioOutcome,
    ) -> StoreResult<()> {
        design::finish_scenario(self, authority, id, outcome).await
    }
    async fn scenarios(&self, authority: AuthorityId) -> StoreResult<Vec<service::design::ScenarioSummary>> {
        design::scenarios(self, authority).await
    }
    async fn scenario(
        &self,
        authority: AuthorityId,
        id: service::design::ScenarioId,
    ) -> StoreResult<Option<service::design::ScenarioRecord>> {
        design::scenario(self, authority, id).await
    }
    async fn cluster_names(&self, authority: AuthorityId) -> StoreResult<Vec<String>> {
        design::cluster_names(self, authority).await
    }
    async fn adopt_scenario(
        &self,
        authority: AuthorityId,
        id: service::design::ScenarioId,
        adoption: &service::design::NewAdoption,
    ) -> StoreResult<WriteCounts> {
        design::adopt_scenario(self, authority, id, adoption).await
    }
    // ---- policies ----
    async fn save_policy_version(
        &self,
        authority: AuthorityId,
        new: &service::policies::NewPolicyVersion,
    ) -> StoreResult<service::policies::PolicyVersion> {
        policies::save_policy_version(self, authority, new).await
    }
    async fn policies(&self, authority: AuthorityId) -> StoreResult<Vec<service::policies::StoredPolicy>> {
        policies::policies(self, authority).await
    }
    async fn set_policy_in_force(&self, authority: AuthorityId, mark: &service::policies::InForce) -> StoreResult<()> {
        policies::set_policy_in_force(self, authority, mark).await
    }
    async fn policies_in_force(&self, authority: AuthorityId) -> StoreResult<Vec<service::policies::InForce>> {
        policies::policies_in_force(self, authority).await
    }
    async fn save_narrative(
        &self,
        authority: AuthorityId,
        narrative: &service::policies::Narrative,
    ) -> StoreResult<()> {
        policies::save_narrative(self, authority, narrative).await
    }
    async fn narratives(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
    ) -> StoreResult<Vec<service::policies::Narrative>> {
        policies::narratives(self, authority, cluster).await
    }
    // ---- meetings ----
    async fn committee_register(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
    ) -> StoreResult<Option<service::meetings::CommitteeRegister>> {
        meetings::committee_register(self, authority, cluster).await
    }
    async fn add_committee_people(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        people: &[service::meetings::PersonDetails],
    ) -> StoreResult<Vec<domain::ids::PersonId>> {
        meetings::add_committee_people(self, authority, cluster, people).await
    }
    async fn update_committee_person(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        person: domain::ids::PersonId,
        details: &service::meetings::PersonDetails,
    ) -> StoreResult<()> {
        meetings::update_committee_person(self, authority, cluster, person, details).await
    }
    async fn save_committee_seats(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        seats: &[service::meetings::CommitteeSeat],
    ) -> StoreResult<()> {
        meetings::save_committee_seats(self, authority, cluster, seats).await
    }
    async fn save_constitution_versions(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        versions: &[domain::governance::ConstitutionVersion],
        last_review: Option<NaiveDate>,
    ) -> StoreResult<()> {
        meetings::save_constitution_versions(self, authority, cluster, versions, last_review).await
    }
    async fn save_meeting(
        &self,
        authority: AuthorityId,
        meeting: &service::meetings::MeetingRecord,
    ) -> StoreResult<domain::ids::MeetingId> {
        meetings::save_meeting(self, authority, meeting).await
    }
    async fn meeting(
        &self,
        authority: AuthorityId,
        id: domain::ids::MeetingId,
    ) -> StoreResult<Option<service::meetings::MeetingRecord>> {
        meetings::meeting(self, authority, id).await
    }
    async fn cluster_meetings(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
    ) -> StoreResult<Vec<service::meetings::MeetingRecord>> {
        meetings::cluster_meetings(self, authority, cluster).await
    }
    // ---- ledger ----
    async fn ledger_durability(&self) -> StoreResult<()> {
        match self.ledger_refusal() {
            Some(why) => Err(StoreError::Other(why.to_string())),
            None => Ok(()),
        }
    }
    async fn ledger_snapshot(&self, authority: AuthorityId, cluster: ClusterId) -> StoreResult<LedgerSnapshot> {
        ledger::snapshot(self, authority, cluster).await
    }
    async fn ledger_entry_by_key(&self, authority: AuthorityId, key: &str) -> StoreResult<Option<KeyedEntry>> {
        ledger::entry_by_key(self, authority, key).await
    }
    async fn ledger_entry(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        id: EntryId,
    ) -> StoreResult<Option<Entry>> {
        ledger::entry(self, authority, cluster, id).await
    }
    async fn post_ledger_entry(&self, authority: AuthorityId, posting: &LedgerPosting) -> StoreResult<PostOutcome> {
        ledger::post(self, authority, posting).await
    }
    async fn post_ledger_batch(&self, authority: AuthorityId, postings: &[LedgerPosting]) -> StoreResult<Vec<Entry>> {
        ledger::post_batch(self, authority, postings).await
    }
    async fn ledger_journal(&self, authority: AuthorityId, cluster: ClusterId) -> StoreResult<Vec<Entry>> {
        ledger::journal(self, authority, cluster).await
    }
    async fn ledger_journal_page(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        query: &service::ledger::JournalQuery,
    ) -> StoreResult<service::ledger::JournalPage> {
        ledger::journal_page(self, authority, cluster, query).await
    }
    async fn ledger_journal_facts(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
    ) -> StoreResult<service::ledger::JournalFacts> {
        ledger::journal_facts(self, authority, cluster).await
    }
    async fn save_virement_exception(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        exception: &NewException,
        recorded_by: UserId,
        recorded_at: i64,
    ) -> StoreResult<ExceptionId> {
        ledger::save_exception(self, authority, cluster, exception, recorded_by, recorded_at).await
    }
    async fn virement_rules(&self, authority: AuthorityId) -> StoreResult<Option<VirementRules>> {
        ledger::virement_rules(self, authority).await
    }
    async fn save_virement_rules(&self, authority: AuthorityId, rules: &VirementRules) -> StoreResult<()> {
        ledger::save_virement_rules(self, authority, rules).await
    }
    async fn save_staff_post(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        post: &NewStaffPost,
    ) -> StoreResult<StaffPostId> {
        ledger::save_staff_post(self, authority, cluster, post).await
    }
    async fn staff_posts(&self, authority: AuthorityId, cluster: ClusterId) -> StoreResult<Vec<StaffPost>> {
        ledger::staff_posts(self, authority, cluster).await
    }
    async fn set_ledger_horizon(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        stream: &str,
        ends_on: NaiveDate,
    ) -> StoreResult<()> {
        ledger::set_horizon(self, authority, cluster, stream, ends_on).await
    }
    async fn ledger_horizons(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
    ) -> StoreResult<Vec<(String, NaiveDate)>> {
        ledger::horizons(self, authority, cluster).await
    }
    async fn ledger_audit(&self, authority: AuthorityId) -> StoreResult<LedgerAudit> {
        ledger::audit(self, authority).await
    }
    // ---- casework ----
    async fn strands_of(&self, authority: AuthorityId, user: UserId) -> StoreResult<Vec<Strand>> {
        casework::strands_of(self, authority, user).await
    }
    async fn set_strands(&self, authority: AuthorityId, user: UserId, strands: &[Strand]) -> StoreResult<()> {
        casework::set_strands(self, authority, user, strands).await
    }
    async fn save_pupil(&self, authority: AuthorityId, pupil: &NewPupil) -> StoreResult<PupilId> {
        casework::save_pupil(self, authority, pupil).await
    }
    async fn set_pupil_left(
        &self,
        authority: AuthorityId,
        pupil: PupilId,
        left_on: Option<NaiveDate>,
    ) -> StoreResult<()> {
        casework::set_pupil_left(self, authority, pupil, left_on).await
    }
    async fn pupils(&self, authority: AuthorityId, filter: &CaseworkFilter) -> StoreResult<Vec<Pupil>> {
        casework::pupils(self, authority, filter).await
    }
    async fn save_composition(
        &self,
        authority: AuthorityId,
        urn: Urn,
        composition: &Composition,
        synthetic: bool,
    ) -> StoreResult<()> {
        casework::save_composition(self, authority, urn, composition, synthetic).await
    }
    async fn composition(&self, authority: AuthorityId, urn: Urn) -> StoreResult<Option<(Composition, bool)>> {
        casework::composition(self, authority, urn).await
    }
    async fn save_gt_entry(&self, authority: AuthorityId, entry: &GtEntry) -> StoreResult<GtEntryId> {
        casework::save_gt_entry(self, authority, entry).await
    }
    async fn gt_entries(&self, authority: AuthorityId, filter: &CaseworkFilter) -> StoreResult<Vec<GtEntry>> {
        casework::gt_entries(self, authority, filter).await
    }
    async fn save_mentor(&self, authority: AuthorityId, mentor: &Mentor) -> StoreResult<MentorId> {
        casework::save_mentor(self, authority, mentor).await
    }
    async fn mentors(&self, authority: AuthorityId) -> StoreResult<Vec<Mentor>> {
        casework::mentors(self, authority).await
    }
    async fn save_mentor_case(&self, authority: AuthorityId, case: &MentorCase) -> StoreResult<CaseId> {
        casework::save_mentor_case(self, authority, case).await
    }
    async fn mentor_cases(&self, authority: AuthorityId, filter: &CaseworkFilter) -> StoreResult<Vec<MentorCase>> {
        casework::mentor_cases(self, authority, filter).await
    }
    async fn save_lsu_placement(&self, authority: AuthorityId, placement: &LsuPlacement) -> StoreResult<PlacementId> {
        casework::save_lsu_placement(self, authority, placement).await
    }
    async fn lsu_placements(&self, authority: AuthorityId, filter: &CaseworkFilter) -> StoreResult<Vec<LsuPlacement>> {
        casework::lsu_placements(self, authority, filter).await
    }
    async fn save_transition(&self, authority: AuthorityId, record: &TransitionRecord) -> StoreResult<TransitionId> {
        casework::save_transition(self, authority, record).await
    }
    async fn transitions(&self, authority: AuthorityId, filter: &CaseworkFilter) -> StoreResult<Vec<TransitionRecord>> {
        casework::transitions(self, authority, filter).await
    }
    async fn append_audit(&self, authority: AuthorityId, records: &[AuditRecord]) -> StoreResult<Vec<AuditEntry>> {
        casework::append_audit(self, authority, records).await
    }
    async fn audit_entries(&self, authority: AuthorityId, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        casework::audit_entries(self, authority, query).await
    }
    async fn delete_casework(&self, authority: AuthorityId, deletion: &RetentionDeletion) -> StoreResult<()> {
        casework::delete_casework(self, authority, deletion).await
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
    // ---- api tokens ----
    async fn create_api_token(&self, token: &NewApiToken) -> StoreResult<i64> {
        api_tokens::create(self, token).await
    }
    async fn api_token_user(&self, token_hash: &str, now: i64) -> StoreResult<Option<TokenHolder>> {
        api_tokens::user(self, token_hash, now).await
    }
    async fn api_tokens(&self) -> StoreResult<Vec<ApiTokenRecord>> {
        api_tokens::list(self).await
    }
    async fn revoke_api_token(&self, id: i64, at: i64) -> StoreResult<bool> {
        api_tokens::revoke(self, id, at).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A restore of an older backup leaves the counter's table empty: the revision is then
    /// unknown (nothing may be cached) until the next change recreates it.
    #[tokio::test]
    async fn a_lost_register_revision_is_unknown_until_the_next_change() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = connect(&dir.path().join("r.db").display().to_string())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(s.register_revision().await.unwrap_or_else(|e| panic!("{e}")).is_some());
        sqlx::query("DELETE FROM register_revision")
            .execute(s.pool())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.register_revision().await.unwrap_or_else(|e| panic!("{e}")), None);
        s.create_authority(LaCode::parse("926").unwrap_or_else(|e| panic!("{e}")), "Norfolk")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(s.register_revision().await.unwrap_or_else(|e| panic!("{e}")).is_some());
    }

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

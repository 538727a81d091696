//! The host-school ledger's persistence: journal entries and their lines are only ever inserted
//! (there is no UPDATE or DELETE of them here); each posting (idempotency check, journal-length
//! check, entry, lines, balances) is one transaction; balances are kept per account so the audit
//! can compare them with the journal's sums.

use crate::rows::{date, date_text, int, opt_i64, opt_text, text, urn};
use crate::{Dialect, SqlStore, db_err};
use domain::NaiveDate;
use domain::funding::ledger::{
    Account, AccountKind, Approval, Balances, Entry, EntryId, EntryKind, ExceptionId, Fence, Holder, Line, NewEntry,
    NewStaffPost, Side, StaffPost, StaffPostId,
};
use domain::funding::virement::{NewException, Permit, VirementException, VirementRule, VirementRules};
use domain::ids::{AuthorityId, ClusterId, UserId};
use domain::money::Money;
use service::ledger::{
    JournalFacts, JournalPage, JournalQuery, KeyedEntry, LedgerAudit, LedgerPosting, LedgerSnapshot, PagedEntry,
    PostOutcome,
};
use service::store::{StoreError, StoreResult};
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

fn corrupt(what: &str, v: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("stored ledger {what} is not valid: {v}"))
}

/// Whether a committed posting survives a crash: SQLite must run in WAL mode with
/// `synchronous = FULL` (or EXTRA); PostgreSQL with `fsync = on` (else a crash can corrupt the
/// whole cluster), `full_page_writes = on` (else a torn page cannot be repaired) and
/// `synchronous_commit` not `off` (else an acknowledged commit can be lost). An in-memory
/// database survives nothing anyway (tests). Returns the reason postings are refused, if they are.
pub(crate) async fn durability_refusal(store: &SqlStore, in_memory: bool) -> StoreResult<Option<String>> {
    if store.dialect() == Dialect::Postgres {
        return postgres_durability_refusal(store).await;
    }
    if in_memory {
        return Ok(None);
    }
    let mut conn = store.pool().acquire().await.map_err(db_err)?;
    let mode = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    let mode = text(&mode, 0)?;
    let sync = sqlx::query("PRAGMA synchronous")
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    let sync = int(&sync, 0)?;
    if mode.eq_ignore_ascii_case("wal") && sync >= 2 {
        return Ok(None);
    }
    Ok(Some(format!(
        "ledger postings are refused: SQLite runs with journal_mode={mode} and synchronous={sync}, but the ledger needs \
         journal_mode=wal and synchronous=2 (FULL) so that a crash can neither lose nor half-write a posting \
         (is the database on a file system without shared memory, such as a network share?)"
    )))
}

async fn postgres_durability_refusal(store: &SqlStore) -> StoreResult<Option<String>> {
    let mut conn = store.pool().acquire().await.map_err(db_err)?;
    let mut settings = Vec::new();
    for name in ["fsync", "full_page_writes", "synchronous_commit"] {
        let row = sqlx::query(&format!("SHOW {name}"))
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        settings.push((name, text(&row, 0)?));
    }
    let unsafe_ones: Vec<String> = settings
        .iter()
        .filter(|(_, v)| v.eq_ignore_ascii_case("off"))
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    if unsafe_ones.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "ledger postings are refused: PostgreSQL runs with {}, but the ledger needs fsync=on, full_page_writes=on and \
         synchronous_commit on (or local, remote_write, remote_apply) so that a crash can neither lose nor \
         half-write a posting; change postgresql.conf (or ALTER SYSTEM / ALTER ROLE) and restart Clusterwise",
        unsafe_ones.join(", ")
    )))
}

fn holder_key(h: Holder) -> i64 {
    match h {
        Holder::Central => 0,
        Holder::School(u) => i64::from(u.get()),
    }
}

fn holder(v: i64) -> StoreResult<Holder> {
    if v == 0 {
        Ok(Holder::Central)
    } else {
        urn(v).map(Holder::School)
    }
}

fn fence(stream: String, phase: String) -> StoreResult<Fence> {
    Fence::new(&stream, &phase).map_err(|e| corrupt("ring-fence", e))
}

/// Reads (account, stream, phase, holder) from columns `i..i+4`.
fn account(r: &AnyRow, i: usize) -> StoreResult<Account> {
    let code = text(r, i)?;
    Ok(Account {
        kind: AccountKind::from_code(&code).ok_or_else(|| corrupt("account", &code))?,
        fence: fence(text(r, i + 1)?, text(r, i + 2)?)?,
        holder: holder(int(r, i + 3)?)?,
    })
}

const ENTRY_COLUMNS: &str = "e.id, e.seq, e.kind, e.entry_date, e.memo, e.approver, e.approval_reason, e.approved_on, \
    e.exception_id, e.joint_project, e.reverses, e.posted_by_name, e.posted_at, \
    (SELECT r.id FROM ledger_entries r WHERE r.reverses = e.id), e.cluster_id, e.content_hash";

fn entry_head(r: &AnyRow) -> StoreResult<Entry> {
    let kind = text(r, 2)?;
    let approval = match (opt_text(r, 5)?, opt_text(r, 6)?, opt_text(r, 7)?) {
        (Some(approver), Some(reason), Some(on)) => Some(Approval {
            approver,
            reason,
            approved_on: date(&on)?,
        }),
        _ => None,
    };
    Ok(Entry {
        id: EntryId(int(r, 0)?),
        seq: int(r, 1)?,
        body: NewEntry {
            kind: EntryKind::from_code(&kind).ok_or_else(|| corrupt("entry kind", &kind))?,
            date: date(&text(r, 3)?)?,
            memo: text(r, 4)?,
            lines: Vec::new(),
            approval,
            exception: opt_i64(r, 8)?.map(ExceptionId),
            joint_project: int(r, 9)? != 0,
            reverses: opt_i64(r, 10)?.map(EntryId),
        },
        posted_by: text(r, 11)?,
        posted_at: int(r, 12)?,
        reversed_by: opt_i64(r, 13)?.map(EntryId),
    })
}

fn line(r: &AnyRow, i: usize) -> StoreResult<Line> {
    let side = text(r, i + 4)?;
    Ok(Line {
        account: account(r, i)?,
        side: Side::from_code(&side).ok_or_else(|| corrupt("side", &side))?,
        amount: Money::from_pence(int(r, i + 5)?),
    })
}

/// Entries matching `filter` (on alias `e`, binding $1 = authority, $2 = the filter's value),
/// with their lines, in journal order.
async fn load_entries<'e, E>(
    executor: E,
    filter: &str,
    authority: AuthorityId,
    value: LoadBy<'_>,
) -> StoreResult<Vec<(Entry, ClusterId, String)>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any> + Copy,
{
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries e WHERE e.authority_id = $1 AND {filter} ORDER BY e.cluster_id, e.seq"
    );
    let q = sqlx::query(&sql).bind(authority.0);
    let q = match value {
        LoadBy::Int(v) => q.bind(v),
        LoadBy::Text(v) => q.bind(v.to_string()),
        LoadBy::IntPair(a, b) => q.bind(a).bind(b),
    };
    let rows = q.fetch_all(executor).await.map_err(db_err)?;
    let mut out = Vec::with_capacity(rows.len());
    let mut index: BTreeMap<i64, usize> = BTreeMap::new();
    for r in &rows {
        let e = entry_head(r)?;
        index.insert(e.id.0, out.len());
        out.push((e, ClusterId(int(r, 14)?), text(r, 15)?));
    }
    if out.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT l.entry_id, l.account, l.stream, l.phase, l.holder, l.side, l.amount_pence FROM ledger_lines l \
         JOIN ledger_entries e ON e.id = l.entry_id WHERE e.authority_id = $1 AND {filter} ORDER BY l.entry_id, l.line_no"
    );
    let q = sqlx::query(&sql).bind(authority.0);
    let q = match value {
        LoadBy::Int(v) => q.bind(v),
        LoadBy::Text(v) => q.bind(v.to_string()),
        LoadBy::IntPair(a, b) => q.bind(a).bind(b),
    };
    for r in q.fetch_all(executor).await.map_err(db_err)? {
        if let Some(i) = index.get(&int(&r, 0)?) {
            out[*i].0.body.lines.push(line(&r, 1)?);
        }
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum LoadBy<'a> {
    Int(i64),
    Text(&'a str),
    IntPair(i64, i64),
}

pub(crate) async fn snapshot(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
) -> StoreResult<LedgerSnapshot> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    // The length first: a posting that lands after it makes the snapshot stale, never wrong.
    let seq = sqlx::query("SELECT last_seq FROM ledger_heads WHERE cluster_id = $1 AND authority_id = $2")
        .bind(cluster.0)
        .bind(authority.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .map(|r| int(&r, 0))
        .transpose()?
        .unwrap_or(0);
    let rows = sqlx::query(
        "SELECT account, stream, phase, holder, balance_pence FROM ledger_balances WHERE cluster_id = $1 AND authority_id = $2",
    )
    .bind(cluster.0)
    .bind(authority.0)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut pairs = Vec::with_capacity(rows.len());
    for r in &rows {
        pairs.push((account(r, 0)?, int(r, 4)?));
    }
    let exceptions = exceptions(&mut tx, authority, cluster).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(LedgerSnapshot {
        seq,
        balances: Balances::from_pairs(pairs),
        exceptions,
    })
}

async fn exceptions(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    authority: AuthorityId,
    cluster: ClusterId,
) -> StoreResult<Vec<VirementException>> {
    let rows = sqlx::query(
        "SELECT x.id, x.from_stream, x.from_phase, x.to_stream, x.to_phase, x.amount_pence, x.reason, x.approver, \
         x.approved_on, (SELECT e.id FROM ledger_entries e WHERE e.exception_id = x.id) \
         FROM ledger_exceptions x WHERE x.authority_id = $1 AND x.cluster_id = $2 ORDER BY x.id",
    )
    .bind(authority.0)
    .bind(cluster.0)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok(VirementException {
                id: ExceptionId(int(r, 0)?),
                exception: NewException {
                    from: fence(text(r, 1)?, text(r, 2)?)?,
                    to: fence(text(r, 3)?, text(r, 4)?)?,
                    amount: Money::from_pence(int(r, 5)?),
                    reason: text(r, 6)?,
                    approver: text(r, 7)?,
                    approved_on: date(&text(r, 8)?)?,
                },
                used_by: opt_i64(r, 9)?.map(EntryId),
            })
        })
        .collect()
}

pub(crate) async fn entry_by_key(
    store: &SqlStore,
    authority: AuthorityId,
    key: &str,
) -> StoreResult<Option<KeyedEntry>> {
    let found = load_entries(store.pool(), "e.idempotency_key = $2", authority, LoadBy::Text(key)).await?;
    Ok(found
        .into_iter()
        .next()
        .map(|(entry, cluster, content_hash)| KeyedEntry {
            cluster,
            content_hash,
            entry,
        }))
}

pub(crate) async fn entry(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
    id: EntryId,
) -> StoreResult<Option<Entry>> {
    let found = load_entries(
        store.pool(),
        "e.id = $2 AND e.cluster_id = $3",
        authority,
        LoadBy::IntPair(id.0, cluster.0),
    )
    .await?;
    Ok(found.into_iter().next().map(|(e, _, _)| e))
}

pub(crate) async fn journal(store: &SqlStore, authority: AuthorityId, cluster: ClusterId) -> StoreResult<Vec<Entry>> {
    Ok(
        load_entries(store.pool(), "e.cluster_id = $2", authority, LoadBy::Int(cluster.0))
            .await?
            .into_iter()
            .map(|(e, _, _)| e)
            .collect(),
    )
}

/// The page's filter on alias `e`, from placeholder `$3` on ($1 = authority, $2 = cluster).
fn page_filter(q: &JournalQuery) -> String {
    let mut sql = String::from("e.authority_id = $1 AND e.cluster_id = $2");
    let mut n = 2;
    if q.school.is_some() {
        n += 1;
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM ledger_lines l WHERE l.entry_id = e.id AND l.holder = ${n})"
        ));
    }
    if q.key.is_some() {
        n += 1;
        sql.push_str(&format!(" AND e.idempotency_key = ${n}"));
    }
    if q.entry.is_some() {
        n += 1;
        sql.push_str(&format!(" AND e.id = ${n}"));
    }
    sql
}

fn bind_page<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    authority: AuthorityId,
    cluster: ClusterId,
    q: &JournalQuery,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query = query.bind(authority.0).bind(cluster.0);
    if let Some(u) = q.school {
        query = query.bind(holder_key(Holder::School(u)));
    }
    if let Some(k) = &q.key {
        query = query.bind(k.clone());
    }
    if let Some(id) = q.entry {
        query = query.bind(id.0);
    }
    query
}

pub(crate) async fn journal_page(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
    q: &JournalQuery,
) -> StoreResult<JournalPage> {
    let filter = page_filter(q);
    let mut conn = store.pool().acquire().await.map_err(db_err)?;
    let total = bind_page(
        sqlx::query(&format!("SELECT COUNT(*) FROM ledger_entries e WHERE {filter}")),
        authority,
        cluster,
        q,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)
    .and_then(|r| int(&r, 0))?;
    let order = if q.newest_first { "DESC" } else { "ASC" };
    // Offsets past i64 are past any journal: clamp rather than refuse.
    let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {ENTRY_COLUMNS}, e.idempotency_key, \
           (SELECT r.seq FROM ledger_entries r WHERE r.reverses = e.id), \
           (SELECT o.seq FROM ledger_entries o WHERE o.id = e.reverses) \
         FROM ledger_entries e WHERE {filter} ORDER BY e.seq {order} LIMIT {} OFFSET {offset}",
        q.limit
    );
    let rows = bind_page(sqlx::query(&sql), authority, cluster, q)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    let mut entries = Vec::with_capacity(rows.len());
    let mut index: BTreeMap<i64, usize> = BTreeMap::new();
    for r in &rows {
        let entry = entry_head(r)?;
        index.insert(entry.id.0, entries.len());
        entries.push(PagedEntry {
            entry,
            key: text(r, 16)?,
            reversed_by_seq: opt_i64(r, 17)?,
            reverses_seq: opt_i64(r, 18)?,
        });
    }
    if !index.is_empty() {
        // The ids come from the database as integers, so writing them into the statement is safe.
        let ids: Vec<String> = index.keys().map(i64::to_string).collect();
        let sql = format!(
            "SELECT l.entry_id, l.account, l.stream, l.phase, l.holder, l.side, l.amount_pence FROM ledger_lines l \
             WHERE l.entry_id IN ({}) ORDER BY l.entry_id, l.line_no",
            ids.join(", ")
        );
        // Not kept in the connection's statement cache: every page's ids make a new statement.
        let rows = sqlx::query(&sql)
            .persistent(false)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        for r in rows {
            if let Some(i) = index.get(&int(&r, 0)?) {
                entries[*i].entry.body.lines.push(line(&r, 1)?);
            }
        }
    }
    Ok(JournalPage {
        total: u64::try_from(total).unwrap_or(0),
        entries,
    })
}

pub(crate) async fn journal_facts(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
) -> StoreResult<JournalFacts> {
    // One statement, so the lines and the kept balances are read at one moment on both backends.
    // The synthetic test is the domain's `ends_with("(synthetic)")`, case and all (LIKE is
    // case-blind on SQLite).
    let r = sqlx::query(
        "SELECT \
           (SELECT COUNT(*) FROM (SELECT account, stream, phase, holder FROM ( \
              SELECT account, stream, phase, holder, \
                     CASE WHEN side = 'debit' THEN amount_pence ELSE -amount_pence END AS v \
                FROM ledger_lines WHERE authority_id = $1 AND cluster_id = $2 \
              UNION ALL \
              SELECT account, stream, phase, holder, -balance_pence AS v \
                FROM ledger_balances WHERE authority_id = $1 AND cluster_id = $2) x \
            GROUP BY account, stream, phase, holder HAVING SUM(v) <> 0) m), \
           (SELECT COUNT(*) FROM ledger_entries WHERE authority_id = $1 AND cluster_id = $2), \
           (SELECT COUNT(*) FROM ledger_entries WHERE authority_id = $1 AND cluster_id = $2 \
              AND substr(memo, length(memo) - 10) <> '(synthetic)')",
    )
    .bind(authority.0)
    .bind(cluster.0)
    .fetch_one(store.pool())
    .await
    .map_err(db_err)?;
    let entries = u64::try_from(int(&r, 1)?).unwrap_or(0);
    Ok(JournalFacts {
        reconciles: int(&r, 0)? == 0,
        entries,
        synthetic: entries > 0 && int(&r, 2)? == 0,
    })
}

/// The entry already posted under a key, judged against the hash of a new posting.
async fn replayed(store: &SqlStore, authority: AuthorityId, p: &LedgerPosting) -> StoreResult<Option<PostOutcome>> {
    match entry_by_key(store, authority, &p.idempotency_key).await? {
        Some(k) if k.cluster == p.cluster && k.content_hash == p.content_hash => {
            Ok(Some(PostOutcome::Replayed(k.entry)))
        }
        Some(k) => Err(StoreError::Conflict(format!(
            "idempotency key {:?} was already used for a different entry (entry {})",
            p.idempotency_key, k.entry.id
        ))),
        None => Ok(None),
    }
}

pub(crate) async fn post(store: &SqlStore, authority: AuthorityId, p: &LedgerPosting) -> StoreResult<PostOutcome> {
    if let Some(why) = store.ledger_refusal() {
        return Err(StoreError::Other(why.to_string()));
    }
    match post_once(store, authority, p).await {
        // Another posting with the same key, or reversing the same entry, or using the same
        // exception, won a race: answer as the key says, or judge again.
        Err(StoreError::Conflict(_)) => Ok(replayed(store, authority, p).await?.unwrap_or(PostOutcome::Stale)),
        other => other,
    }
}

async fn post_once(store: &SqlStore, authority: AuthorityId, p: &LedgerPosting) -> StoreResult<PostOutcome> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    match post_in(&mut tx, authority, p).await? {
        Written::Posted(entry) => {
            tx.commit().await.map_err(db_err)?;
            Ok(PostOutcome::Posted(*entry))
        }
        Written::KeyExists => {
            tx.rollback().await.map_err(db_err)?;
            Ok(replayed(store, authority, p).await?.unwrap_or(PostOutcome::Stale))
        }
        Written::Stale => {
            tx.rollback().await.map_err(db_err)?;
            Ok(PostOutcome::Stale)
        }
    }
}

/// What one posting did inside a transaction (the caller commits or rolls back).
enum Written {
    Posted(Box<Entry>),
    KeyExists,
    Stale,
}

/// Several postings in one transaction, all or nothing (the demo seeds its ledgers with it).
pub(crate) async fn post_batch(
    store: &SqlStore,
    authority: AuthorityId,
    postings: &[LedgerPosting],
) -> StoreResult<Vec<Entry>> {
    if let Some(why) = store.ledger_refusal() {
        return Err(StoreError::Other(why.to_string()));
    }
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let mut out = Vec::with_capacity(postings.len());
    for p in postings {
        match post_in(&mut tx, authority, p).await? {
            Written::Posted(entry) => out.push(*entry),
            Written::KeyExists | Written::Stale => {
                tx.rollback().await.map_err(db_err)?;
                return Err(StoreError::Conflict(format!(
                    "posting {:?} is already posted or was judged against another journal length",
                    p.idempotency_key
                )));
            }
        }
    }
    tx.commit().await.map_err(db_err)?;
    Ok(out)
}

async fn post_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    authority: AuthorityId,
    p: &LedgerPosting,
) -> StoreResult<Written> {
    let e = &p.entry;
    let line_count = i64::try_from(e.lines.len()).map_err(|_| StoreError::Other("too many lines".into()))?;
    let total = e.total().pence();
    if line_count < 2 || total <= 0 {
        return Err(StoreError::Other("an entry must be judged before it is posted".into()));
    }
    // A write first, so SQLite takes its write lock before this transaction reads anything.
    sqlx::query(
        "INSERT INTO ledger_heads (cluster_id, authority_id, last_seq) \
         SELECT id, authority_id, 0 FROM clusters WHERE id = $1 AND authority_id = $2 \
         ON CONFLICT (cluster_id) DO NOTHING",
    )
    .bind(p.cluster.0)
    .bind(authority.0)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    let head = sqlx::query("SELECT last_seq FROM ledger_heads WHERE cluster_id = $1 AND authority_id = $2")
        .bind(p.cluster.0)
        .bind(authority.0)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound(format!("cluster {}", p.cluster)))?;
    let last_seq = int(&head, 0)?;
    let existing = sqlx::query("SELECT id FROM ledger_entries WHERE authority_id = $1 AND idempotency_key = $2")
        .bind(authority.0)
        .bind(&p.idempotency_key)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err)?;
    if existing.is_some() {
        return Ok(Written::KeyExists);
    }
    if last_seq != p.expected_seq {
        return Ok(Written::Stale);
    }
    let seq = last_seq + 1;
    let approval = e.approval.as_ref();
    let row = sqlx::query(
        "INSERT INTO ledger_entries (authority_id, cluster_id, seq, idempotency_key, content_hash, kind, entry_date, memo, \
         approver, approval_reason, approved_on, exception_id, joint_project, reverses, posted_by, posted_by_name, posted_at, \
         line_count, total_pence) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING id",
    )
    .bind(authority.0)
    .bind(p.cluster.0)
    .bind(seq)
    .bind(&p.idempotency_key)
    .bind(&p.content_hash)
    .bind(e.kind.code())
    .bind(date_text(e.date))
    .bind(&e.memo)
    .bind(approval.map(|a| a.approver.clone()))
    .bind(approval.map(|a| a.reason.clone()))
    .bind(approval.map(|a| date_text(a.approved_on)))
    .bind(e.exception.map(|x| x.0))
    .bind(i64::from(e.joint_project))
    .bind(e.reverses.map(|x| x.0))
    .bind(p.posted_by.0)
    .bind(&p.posted_by_name)
    .bind(p.posted_at)
    .bind(line_count)
    .bind(total)
    .fetch_one(&mut **tx)
    .await
    .map_err(db_err)?;
    let id = int(&row, 0)?;
    let mut deltas: BTreeMap<&Account, i64> = BTreeMap::new();
    for (n, l) in e.lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO ledger_lines (entry_id, line_no, authority_id, cluster_id, account, stream, phase, holder, side, amount_pence) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(id)
        .bind(i64::try_from(n + 1).unwrap_or(i64::MAX))
        .bind(authority.0)
        .bind(p.cluster.0)
        .bind(l.account.kind.code())
        .bind(&l.account.fence.stream)
        .bind(&l.account.fence.phase)
        .bind(holder_key(l.account.holder))
        .bind(l.side.code())
        .bind(l.amount.pence())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        let d = deltas.entry(&l.account).or_insert(0);
        *d = d
            .checked_add(l.signed_pence())
            .ok_or_else(|| StoreError::Other("balance overflow".into()))?;
    }
    for (a, d) in deltas {
        sqlx::query(
            "INSERT INTO ledger_balances (authority_id, cluster_id, account, stream, phase, holder, balance_pence) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (cluster_id, account, stream, phase, holder) \
             DO UPDATE SET balance_pence = ledger_balances.balance_pence + excluded.balance_pence",
        )
        .bind(authority.0)
        .bind(p.cluster.0)
        .bind(a.kind.code())
        .bind(&a.fence.stream)
        .bind(&a.fence.phase)
        .bind(holder_key(a.holder))
        .bind(d)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    let moved = sqlx::query("UPDATE ledger_heads SET last_seq = $1 WHERE cluster_id = $2 AND last_seq = $3")
        .bind(seq)
        .bind(p.cluster.0)
        .bind(last_seq)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    if moved.rows_affected() != 1 {
        return Ok(Written::Stale);
    }
    Ok(Written::Posted(Box::new(Entry {
        id: EntryId(id),
        seq,
        body: e.clone(),
        posted_by: p.posted_by_name.clone(),
        posted_at: p.posted_at,
        reversed_by: None,
    })))
}

/// Fails with `NotFound` unless the cluster is the authority's.
async fn own_cluster(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    authority: AuthorityId,
    cluster: ClusterId,
) -> StoreResult<()> {
    let r = sqlx::query("SELECT COUNT(*) FROM clusters WHERE id = $1 AND authority_id = $2")
        .bind(cluster.0)
        .bind(authority.0)
        .fetch_one(&mut **tx)
        .await
        .map_err(db_err)?;
    if int(&r, 0)? == 0 {
        return Err(StoreError::NotFound(format!("cluster {cluster}")));
    }
    Ok(())
}

pub(crate) async fn save_exception(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
    x: &NewException,
    recorded_by: UserId,
    recorded_at: i64,
) -> StoreResult<ExceptionId> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    own_cluster(&mut tx, authority, cluster).await?;
    let row = sqlx::query(
        "INSERT INTO ledger_exceptions (authority_id, cluster_id, from_stream, from_phase, to_stream, to_phase, amount_pence, \
         reason, approver, approved_on, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(authority.0)
    .bind(cluster.0)
    .bind(&x.from.stream)
    .bind(&x.from.phase)
    .bind(&x.to.stream)
    .bind(&x.to.phase)
    .bind(x.amount.pence())
    .bind(&x.reason)
    .bind(&x.approver)
    .bind(date_text(x.approved_on))
    .bind(recorded_by.0)
    .bind(recorded_at)
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    let id = int(&row, 0)?;
    tx.commit().await.map_err(db_err)?;
    Ok(ExceptionId(id))
}

pub(crate) async fn virement_rules(store: &SqlStore, authority: AuthorityId) -> StoreResult<Option<VirementRules>> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let kept = sqlx::query("SELECT COUNT(*) FROM ledger_rule_sets WHERE authority_id = $1")
        .bind(authority.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if int(&kept, 0)? == 0 {
        tx.commit().await.map_err(db_err)?;
        return Ok(None);
    }
    let rows = sqlx::query(
        "SELECT name, permit, stream, from_stream, from_phase, to_stream, to_phase FROM ledger_virement_rules \
         WHERE authority_id = $1 ORDER BY position",
    )
    .bind(authority.0)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    let mut rules = Vec::with_capacity(rows.len());
    for r in &rows {
        let code = text(r, 1)?;
        let need = |i: usize| -> StoreResult<String> { opt_text(r, i)?.ok_or_else(|| corrupt("virement rule", &code)) };
        let permit = match code.as_str() {
            "across_phases" => Permit::AcrossPhasesOf { stream: need(2)? },
            "joint_project" => Permit::JointProject,
            "between" => Permit::Between {
                from: fence(need(3)?, need(4)?)?,
                to: fence(need(5)?, need(6)?)?,
            },
            other => return Err(corrupt("virement rule", other)),
        };
        rules.push(VirementRule {
            name: text(r, 0)?,
            permit,
        });
    }
    Ok(Some(VirementRules { rules }))
}

pub(crate) async fn save_virement_rules(
    store: &SqlStore,
    authority: AuthorityId,
    rules: &VirementRules,
) -> StoreResult<()> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    sqlx::query("INSERT INTO ledger_rule_sets (authority_id) VALUES ($1) ON CONFLICT (authority_id) DO NOTHING")
        .bind(authority.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    // The rule list is configuration, replaced whole; the journal is never touched here.
    sqlx::query("DELETE FROM ledger_virement_rules WHERE authority_id = $1")
        .bind(authority.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    for (i, rule) in rules.rules.iter().enumerate() {
        let (stream, from, to) = match &rule.permit {
            Permit::AcrossPhasesOf { stream } => (Some(stream.clone()), None, None),
            Permit::JointProject => (None, None, None),
            Permit::Between { from, to } => (None, Some(from), Some(to)),
        };
        sqlx::query(
            "INSERT INTO ledger_virement_rules (authority_id, position, name, permit, stream, from_stream, from_phase, to_stream, to_phase) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(authority.0)
        .bind(i64::try_from(i).unwrap_or(i64::MAX))
        .bind(&rule.name)
        .bind(rule.permit.code())
        .bind(stream)
        .bind(from.map(|f| f.stream.clone()))
        .bind(from.map(|f| f.phase.clone()))
        .bind(to.map(|f| f.stream.clone()))
        .bind(to.map(|f| f.phase.clone()))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

pub(crate) async fn save_staff_post(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
    post: &NewStaffPost,
) -> StoreResult<StaffPostId> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    own_cluster(&mut tx, authority, cluster).await?;
    let row = sqlx::query(
        "INSERT INTO ledger_staff_posts (authority_id, cluster_id, post, urn, fte_tenths, annual_cost_pence, stream, phase, \
         contract_start, contract_end) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(authority.0)
    .bind(cluster.0)
    .bind(&post.post)
    .bind(post.school.map(|u| i64::from(u.get())))
    .bind(i64::from(post.fte_tenths))
    .bind(post.annual_cost.pence())
    .bind(&post.fence.stream)
    .bind(&post.fence.phase)
    .bind(date_text(post.contract_start))
    .bind(post.contract_end.map(date_text))
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    let id = int(&row, 0)?;
    tx.commit().await.map_err(db_err)?;
    Ok(StaffPostId(id))
}

pub(crate) async fn staff_posts(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
) -> StoreResult<Vec<StaffPost>> {
    let rows = sqlx::query(
        "SELECT id, post, urn, fte_tenths, annual_cost_pence, stream, phase, contract_start, contract_end \
         FROM ledger_staff_posts WHERE authority_id = $1 AND cluster_id = $2 ORDER BY id",
    )
    .bind(authority.0)
    .bind(cluster.0)
    .fetch_all(store.pool())
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok(StaffPost {
                id: StaffPostId(int(r, 0)?),
                post: NewStaffPost {
                    post: text(r, 1)?,
                    school: opt_i64(r, 2)?.map(urn).transpose()?,
                    fte_tenths: u32::try_from(int(r, 3)?).map_err(|_| corrupt("FTE", "out of range"))?,
                    annual_cost: Money::from_pence(int(r, 4)?),
                    fence: fence(text(r, 5)?, text(r, 6)?)?,
                    contract_start: date(&text(r, 7)?)?,
                    contract_end: opt_text(r, 8)?.map(|d| date(&d)).transpose()?,
                },
            })
        })
        .collect()
}

pub(crate) async fn set_horizon(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
    stream: &str,
    ends_on: NaiveDate,
) -> StoreResult<()> {
    let done = sqlx::query(
        "INSERT INTO ledger_horizons (cluster_id, authority_id, stream, ends_on) \
         SELECT id, authority_id, $3, $4 FROM clusters WHERE id = $1 AND authority_id = $2 \
         ON CONFLICT (cluster_id, stream) DO UPDATE SET ends_on = excluded.ends_on",
    )
    .bind(cluster.0)
    .bind(authority.0)
    .bind(stream)
    .bind(date_text(ends_on))
    .execute(store.pool())
    .await
    .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("cluster {cluster}")));
    }
    Ok(())
}

pub(crate) async fn horizons(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
) -> StoreResult<Vec<(String, NaiveDate)>> {
    let rows = sqlx::query(
        "SELECT stream, ends_on FROM ledger_horizons WHERE authority_id = $1 AND cluster_id = $2 ORDER BY stream",
    )
    .bind(authority.0)
    .bind(cluster.0)
    .fetch_all(store.pool())
    .await
    .map_err(db_err)?;
    rows.iter().map(|r| Ok((text(r, 0)?, date(&text(r, 1)?)?))).collect()
}

pub(crate) async fn audit(store: &SqlStore, authority: AuthorityId) -> StoreResult<LedgerAudit> {
    let mut tx = store.pool().begin().await.map_err(db_err)?;
    let audit = audit_in(&mut tx, authority).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(audit)
}

/// The audit on a connection already in a transaction (a restore checks it before committing).
pub(crate) async fn audit_in(tx: &mut sqlx::AnyConnection, authority: AuthorityId) -> StoreResult<LedgerAudit> {
    let a = authority.0;
    let one = |r: AnyRow| int(&r, 0);
    let mut audit = LedgerAudit::default();
    let q = |sql: &'static str| sqlx::query(sql).bind(a);
    audit.entries = u64::try_from(one(q("SELECT COUNT(*) FROM ledger_entries WHERE authority_id = $1")
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?)?)
    .unwrap_or(0);
    audit.lines = u64::try_from(one(q("SELECT COUNT(*) FROM ledger_lines WHERE authority_id = $1")
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?)?)
    .unwrap_or(0);
    for r in q(
        "SELECT e.id, l.n, l.d, l.c, e.line_count, e.total_pence FROM ledger_entries e LEFT JOIN \
         (SELECT entry_id, COUNT(*) AS n, \
                 CAST(SUM(CASE WHEN side = 'debit' THEN amount_pence ELSE 0 END) AS BIGINT) AS d, \
                 CAST(SUM(CASE WHEN side = 'credit' THEN amount_pence ELSE 0 END) AS BIGINT) AS c \
          FROM ledger_lines GROUP BY entry_id) l ON l.entry_id = e.id \
         WHERE e.authority_id = $1 AND (l.n IS NULL OR l.n <> e.line_count OR l.d <> l.c OR l.d <> e.total_pence) \
         ORDER BY e.id",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    {
        let id = EntryId(int(&r, 0)?);
        if opt_i64(&r, 1)?.is_none() {
            audit.without_lines.push(id);
        } else {
            audit.unbalanced.push(id);
        }
    }
    audit.orphan_lines = u64::try_from(one(q(
        "SELECT COUNT(*) FROM ledger_lines l LEFT JOIN ledger_entries e ON e.id = l.entry_id \
           WHERE l.authority_id = $1 AND e.id IS NULL",
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?)?)
    .unwrap_or(0);
    // Kept balances against the journal's sums, account by account.
    let mut sums: BTreeMap<(i64, String, String, String, i64), i64> = BTreeMap::new();
    for r in q("SELECT cluster_id, account, stream, phase, holder, \
           CAST(SUM(CASE WHEN side = 'debit' THEN amount_pence ELSE -amount_pence END) AS BIGINT) \
           FROM ledger_lines WHERE authority_id = $1 GROUP BY cluster_id, account, stream, phase, holder")
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    {
        sums.insert(
            (int(&r, 0)?, text(&r, 1)?, text(&r, 2)?, text(&r, 3)?, int(&r, 4)?),
            int(&r, 5)?,
        );
    }
    let mut kept: BTreeMap<(i64, String, String, String, i64), i64> = BTreeMap::new();
    for r in q(
        "SELECT cluster_id, account, stream, phase, holder, balance_pence FROM ledger_balances WHERE authority_id = $1",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    {
        kept.insert(
            (int(&r, 0)?, text(&r, 1)?, text(&r, 2)?, text(&r, 3)?, int(&r, 4)?),
            int(&r, 5)?,
        );
    }
    let keys: std::collections::BTreeSet<_> = sums.keys().chain(kept.keys()).cloned().collect();
    for k in keys {
        let (s, b) = (sums.get(&k).copied().unwrap_or(0), kept.get(&k).copied().unwrap_or(0));
        if s != b {
            audit.balance_mismatches.push(format!(
                "cluster {} {} {} {} {}: journal {s}, kept {b}",
                k.0, k.1, k.2, k.3, k.4
            ));
        }
    }
    for r in q(
        "SELECT e.cluster_id, COUNT(*), MIN(e.seq), MAX(e.seq), MAX(h.last_seq) FROM ledger_entries e \
           LEFT JOIN ledger_heads h ON h.cluster_id = e.cluster_id WHERE e.authority_id = $1 GROUP BY e.cluster_id",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    {
        let (n, min, max, head) = (int(&r, 1)?, int(&r, 2)?, int(&r, 3)?, opt_i64(&r, 4)?);
        if min != 1 || max != n || head != Some(n) {
            audit.sequence_faults.push(ClusterId(int(&r, 0)?));
        }
    }
    audit.duplicate_keys = u64::try_from(one(q(
        "SELECT COUNT(*) - COUNT(DISTINCT idempotency_key) FROM ledger_entries WHERE authority_id = $1",
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?)?)
    .unwrap_or(u64::MAX);
    audit.reversed_twice = u64::try_from(one(q(
        "SELECT COUNT(reverses) - COUNT(DISTINCT reverses) FROM ledger_entries WHERE authority_id = $1",
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?)?)
    .unwrap_or(u64::MAX);
    Ok(audit)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A database opened without the store's settings (rollback journal, synchronous=NORMAL)
    /// is named and refused; one opened by the store is accepted.
    #[tokio::test]
    async fn postings_are_refused_unless_sqlite_is_crash_safe() {
        sqlx::any::install_default_drivers();
        let dir = std::env::temp_dir().join(format!("cw-durability-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("plain.db");
        let _ = std::fs::remove_file(&path);
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::Executor::execute(&mut *conn, "PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            })
            .connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        let plain = SqlStore {
            pool,
            dialect: Dialect::Sqlite,
            ledger_refusal: None,
        };
        let why = durability_refusal(&plain, false).await.unwrap().unwrap();
        assert!(
            why.contains("journal_mode=delete and synchronous=1") && why.contains("synchronous=2 (FULL)"),
            "{why}"
        );
        let refusing = SqlStore {
            ledger_refusal: Some(why.clone().into()),
            ..plain.clone()
        };
        let posting = LedgerPosting {
            cluster: ClusterId(1),
            idempotency_key: "any-key-1".into(),
            content_hash: String::new(),
            entry: NewEntry {
                kind: EntryKind::Receipt,
                date: NaiveDate::default(),
                memo: "m".into(),
                lines: Vec::new(),
                approval: None,
                exception: None,
                joint_project: false,
                reverses: None,
            },
            posted_by: UserId(1),
            posted_by_name: String::new(),
            posted_at: 0,
            expected_seq: 0,
        };
        assert!(matches!(post(&refusing, AuthorityId(1), &posting).await, Err(StoreError::Other(m)) if m == why));
        plain.close().await;
        let good = crate::connect(&path.display().to_string()).await.unwrap();
        assert_eq!(good.ledger_refusal(), None);
        good.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}

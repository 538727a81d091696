//! Backups: a consistent logical snapshot of every table, and a restore that loads one into an
//! empty database and checks it before anything is switched in. The file format (header,
//! checksum, encryption) belongs to the CLI; this module only moves rows.
//!
//! * **Which tables, in which order.** The tables are the ones the migrations create, read from
//!   the migration files themselves (so a backup of a schema-5 database holds the tables of
//!   migrations 1–5), ordered so that every table comes after the tables its foreign keys name
//!   (`ALTER TABLE … ADD COLUMN … REFERENCES` included). Rows are read in primary-key order, so a
//!   table that refers to itself (a reversal to the entry it reverses) loads in order too.
//! * **Consistency.** Every table is read inside one read transaction: on SQLite a WAL reader
//!   sees the database as it was at its first read however many writers commit meanwhile; on
//!   PostgreSQL the transaction is `REPEATABLE READ, READ ONLY`, one snapshot for all tables.
//!   Writers are never blocked.
//! * **Restore.** One transaction empties every table, inserts every row, moves PostgreSQL's
//!   identity sequences past the restored ids, and checks the result (row counts per table equal
//!   the backup's, the ledger audit of every authority is whole, SQLite's integrity and
//!   foreign-key checks pass) before it commits; any failure rolls it all back. On SQLite the
//!   restore is written to a new file beside the target, checked again, and renamed into place.
//!
//! The catalogue queries (column names and types, what a database already holds) are the only
//! dialect-specific SQL here, and table names come from the migrations, never from a file.

use crate::migrate::{MIGRATIONS, statements};
use crate::{Dialect, SqlStore, db_err, normalise_url, redact};
use domain::ids::AuthorityId;
use service::ledger::LedgerAudit;
use service::store::StoreError;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Connection, Executor, Row};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a backup or restore stopped, in words for the person running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupError(pub String);

impl std::fmt::Display for BackupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BackupError {}

impl From<StoreError> for BackupError {
    fn from(e: StoreError) -> Self {
        BackupError(e.to_string())
    }
}

type BResult<T> = Result<T, BackupError>;

/// The highest migration this build knows.
pub fn latest_schema_version() -> i64 {
    MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0)
}

/// A column's kind: the schema uses only `BIGINT` and `TEXT` (booleans are 0/1, dates text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Int,
    Text,
}

impl ColumnKind {
    pub fn code(self) -> &'static str {
        match self {
            ColumnKind::Int => "int",
            ColumnKind::Text => "text",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        match s {
            "int" => Some(ColumnKind::Int),
            "text" => Some(ColumnKind::Text),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
}

/// One table's rows, in primary-key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRows {
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

/// Every table of a database at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub backend: Dialect,
    /// The highest applied migration.
    pub schema_version: i64,
    pub tables: Vec<TableRows>,
}

impl Snapshot {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows.len() as u64).sum()
    }
    pub fn table(&self, name: &str) -> Option<&TableRows> {
        self.tables.iter().find(|t| t.name == name)
    }
}

impl Dialect {
    pub fn code(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        match s {
            "sqlite" => Some(Dialect::Sqlite),
            "postgres" => Some(Dialect::Postgres),
            _ => None,
        }
    }
}

/// A table the migrations create.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TableSpec {
    name: String,
    /// Tables its foreign keys name (itself excluded).
    refers_to: Vec<String>,
    /// An auto-increment `id` (`{pk}` in the migration).
    identity: bool,
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The word after `keyword` in `words` (case-insensitive), cut at `(`.
fn after<'a>(words: &[&'a str], i: usize) -> Option<&'a str> {
    words.get(i).map(|w| w.split('(').next().unwrap_or(w))
}

/// The tables of migrations `1..=up_to`, each after the tables it refers to (then in creation
/// order).
fn table_specs(up_to: i64) -> BResult<Vec<TableSpec>> {
    let mut specs: Vec<TableSpec> = Vec::new();
    for (version, _, sql) in MIGRATIONS.iter().filter(|m| m.0 <= up_to) {
        for statement in statements(sql) {
            let words: Vec<&str> = statement.split_whitespace().collect();
            let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
            let (name, creates) = match (upper.first().map(String::as_str), upper.get(1).map(String::as_str)) {
                (Some("CREATE"), Some("TABLE")) => (after(&words, 2), true),
                (Some("ALTER"), Some("TABLE")) => (after(&words, 2), false),
                _ => continue,
            };
            let name = name
                .filter(|n| is_identifier(n))
                .ok_or_else(|| BackupError(format!("migration {version}: cannot read a table name")))?
                .to_string();
            let refers: Vec<String> = upper
                .iter()
                .enumerate()
                .filter(|(_, w)| w.as_str() == "REFERENCES")
                .filter_map(|(i, _)| after(&words, i + 1))
                .filter(|t| *t != name)
                .map(str::to_string)
                .collect();
            if creates && DERIVED_TABLES.contains(&name.as_str()) {
                continue;
            }
            if creates {
                specs.push(TableSpec {
                    identity: statement.contains("{pk}"),
                    name,
                    refers_to: refers,
                });
            } else if let Some(spec) = specs.iter_mut().find(|s| s.name == name) {
                spec.refers_to.extend(refers);
            }
        }
    }
    // Kahn's order, taking the earliest-created ready table each time.
    let mut ordered: Vec<TableSpec> = Vec::with_capacity(specs.len());
    while !specs.is_empty() {
        let ready = specs
            .iter()
            .position(|s| {
                s.refers_to
                    .iter()
                    .all(|r| ordered.iter().any(|o| &o.name == r) || !specs.iter().any(|x| &x.name == r))
            })
            .ok_or_else(|| BackupError("the migrations' foreign keys form a cycle".into()))?;
        ordered.push(specs.remove(ready));
    }
    Ok(ordered)
}

/// The path of an SQLite URL or file name, or `None` for PostgreSQL.
fn sqlite_path(db: &str) -> BResult<Option<PathBuf>> {
    let (url, dialect) = normalise_url(db);
    if dialect == Dialect::Postgres {
        return Ok(None);
    }
    if url == "sqlite::memory:" {
        return Err(BackupError(
            "an in-memory database cannot be backed up or restored; name a file".into(),
        ));
    }
    let rest = url.strip_prefix("sqlite://").unwrap_or(&url);
    let path = rest.split('?').next().unwrap_or(rest);
    Ok(Some(PathBuf::from(path)))
}

/// One connection to an existing database, without migrating it or creating a file.
async fn open_existing(db: &str) -> BResult<(AnyConnection, Dialect)> {
    sqlx::any::install_default_drivers();
    let (url, dialect) = normalise_url(db);
    let url = match sqlite_path(db)? {
        Some(path) => {
            if !path.is_file() {
                return Err(BackupError(format!("there is no database file {}", path.display())));
            }
            format!("sqlite://{}?mode=rw", path.display())
        }
        None => url,
    };
    let mut conn = AnyConnection::connect(&url)
        .await
        .map_err(|e| BackupError(format!("cannot open the database {}: {e}", redact(&url))))?;
    if dialect == Dialect::Sqlite {
        conn.execute("PRAGMA busy_timeout = 10000").await.map_err(db_err)?;
    }
    Ok((conn, dialect))
}

/// The names of every table in the database (SQLite's own `sqlite_*` tables left out).
/// Tables that hold nothing of their own, kept by the database's triggers: the register
/// revision (migration 0012), which only tells caches when to reload. They are neither backed
/// up nor restored; a restore's inserts move the target's own counter on, which is what a
/// cache needs to see.
const DERIVED_TABLES: &[&str] = &["register_revision"];

async fn catalogue_tables(conn: &mut AnyConnection, dialect: Dialect) -> BResult<Vec<String>> {
    let sql = match dialect {
        Dialect::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        }
        Dialect::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
    };
    sqlx::query(sql)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| r.try_get::<String, _>(0).map_err(db_err).map_err(BackupError::from))
        .filter(|n| n.as_ref().map_or(true, |n| !DERIVED_TABLES.contains(&n.as_str())))
        .collect()
}

/// The tables a backup of `db` reads, in restore order, and the tables the database holds
/// (for the test that every table is covered).
pub async fn tables_known_and_held(db: &str) -> BResult<(Vec<String>, Vec<String>)> {
    let (mut conn, dialect) = open_existing(db).await?;
    let version = schema_version(&mut conn).await?;
    let known = table_specs(version)?.into_iter().map(|s| s.name).collect();
    let held = catalogue_tables(&mut conn, dialect).await?;
    conn.close().await.map_err(db_err)?;
    Ok((known, held))
}

async fn columns(conn: &mut AnyConnection, dialect: Dialect, table: &str) -> BResult<Vec<Column>> {
    let sql = match dialect {
        Dialect::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
        Dialect::Postgres => {
            "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    let rows = sqlx::query(sql)
        .bind(table)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let name: String = r.try_get(0).map_err(db_err)?;
        let declared: String = r.try_get(1).map_err(db_err)?;
        let upper = declared.to_ascii_uppercase();
        let kind = if upper.contains("INT") {
            ColumnKind::Int
        } else if upper.contains("TEXT") || upper.contains("CHAR") {
            ColumnKind::Text
        } else {
            return Err(BackupError(format!(
                "column {table}.{name} has the type {declared}, which backups do not handle"
            )));
        };
        if !is_identifier(&name) {
            return Err(BackupError(format!("column {table}.{name:?} has an unexpected name")));
        }
        out.push(Column { name, kind });
    }
    if out.is_empty() {
        return Err(BackupError(format!("the table {table} is missing")));
    }
    Ok(out)
}

fn read_value(row: &AnyRow, i: usize, kind: ColumnKind) -> BResult<Value> {
    Ok(match kind {
        ColumnKind::Int => row
            .try_get::<Option<i64>, _>(i)
            .map_err(db_err)?
            .map_or(Value::Null, Value::Int),
        ColumnKind::Text => row
            .try_get::<Option<String>, _>(i)
            .map_err(db_err)?
            .map_or(Value::Null, Value::Text),
    })
}

async fn schema_version(conn: &mut AnyConnection) -> BResult<i64> {
    let row = sqlx::query("SELECT CAST(MAX(version) AS BIGINT) FROM schema_migrations")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| {
            BackupError(format!(
                "this is not a Clusterwise database (no schema_migrations: {e})"
            ))
        })?;
    row.try_get::<Option<i64>, _>(0)
        .map_err(db_err)?
        .ok_or_else(|| BackupError("this Clusterwise database has no migrations applied".into()))
}

/// Reads every table of `db` in one consistent snapshot while it keeps serving. `before_table`
/// is called before each table is read, with the tables read so far (the reliability drill
/// holds the snapshot open there while postings go on).
pub async fn snapshot(db: &str, before_table: &mut (dyn FnMut(&str, &[TableRows]) + Send)) -> BResult<Snapshot> {
    let (mut conn, dialect) = open_existing(db).await?;
    let mut tx = conn.begin().await.map_err(db_err)?;
    if dialect == Dialect::Postgres {
        tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(db_err)?;
    }
    // On SQLite this first read fixes the snapshot.
    let version = schema_version(&mut tx).await?;
    if version > latest_schema_version() {
        return Err(BackupError(format!(
            "the database is at schema version {version}, newer than this Clusterwise knows ({}); \
             back it up with the version that runs it",
            latest_schema_version()
        )));
    }
    let specs = table_specs(version)?;
    // Every table the database holds must be one the backup reads: a table the migrations'
    // text does not name (or that this parser misread) would otherwise be left out silently.
    for name in catalogue_tables(&mut tx, dialect).await? {
        if name != "schema_migrations" && !specs.iter().any(|s| s.name == name) {
            return Err(BackupError(format!(
                "the database has a table {name} that schema version {version}'s migrations do not create; \
                 a backup would leave it out, so none was written"
            )));
        }
    }
    let mut tables: Vec<TableRows> = Vec::new();
    for spec in specs {
        before_table(&spec.name, &tables);
        let columns = columns(&mut tx, dialect, &spec.name).await?;
        let list: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        // Every column, so rows come in one order (the key first: a self-reference loads in order).
        let order: Vec<String> = (1..=list.len()).map(|i| i.to_string()).collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {}",
            list.join(", "),
            spec.name,
            order.join(", ")
        );
        let mut rows = Vec::new();
        for r in sqlx::query(&sql).fetch_all(&mut *tx).await.map_err(db_err)? {
            let mut row = Vec::with_capacity(columns.len());
            for (i, c) in columns.iter().enumerate() {
                row.push(read_value(&r, i, c.kind)?);
            }
            rows.push(row);
        }
        tables.push(TableRows {
            name: spec.name,
            columns,
            rows,
        });
    }
    tx.rollback().await.map_err(db_err)?;
    conn.close().await.map_err(db_err)?;
    Ok(Snapshot {
        backend: dialect,
        schema_version: version,
        tables,
    })
}

/// What a restore target holds already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Occupant {
    /// No file, or a database with no tables or no authority.
    Empty,
    /// A Clusterwise database with these authorities ("Norfolk (926)").
    Authorities(Vec<String>),
    /// Something that is not a Clusterwise database.
    Other(String),
}

impl Occupant {
    pub fn describe(&self) -> String {
        match self {
            Occupant::Empty => "nothing".into(),
            Occupant::Authorities(a) => format!(
                "the data of {} authorit{}: {}",
                a.len(),
                if a.len() == 1 { "y" } else { "ies" },
                a.join(", ")
            ),
            Occupant::Other(what) => what.clone(),
        }
    }
}

/// What `db` holds, without changing it.
pub async fn occupant(db: &str) -> BResult<Occupant> {
    if let Some(path) = sqlite_path(db)?
        && !path.exists()
    {
        return Ok(Occupant::Empty);
    }
    let (mut conn, dialect) = match open_existing(db).await {
        Ok(c) => c,
        Err(BackupError(e)) if sqlite_path(db)?.is_some() => {
            return Ok(Occupant::Other(format!("a file that cannot be opened as SQLite ({e})")));
        }
        Err(e) => return Err(e),
    };
    let tables_sql = match dialect {
        Dialect::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
        Dialect::Postgres => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()",
    };
    let tables = match sqlx::query(tables_sql).fetch_one(&mut conn).await {
        Ok(r) => r.try_get::<i64, _>(0).map_err(db_err)?,
        Err(e) => {
            return Ok(Occupant::Other(format!(
                "something that is not a database Clusterwise can read ({e})"
            )));
        }
    };
    let out = if tables == 0 {
        Occupant::Empty
    } else {
        match sqlx::query("SELECT name, la_code FROM authorities ORDER BY la_code")
            .fetch_all(&mut conn)
            .await
        {
            Ok(rows) if rows.is_empty() => Occupant::Empty,
            Ok(rows) => Occupant::Authorities(
                rows.iter()
                    .map(|r| {
                        Ok(format!(
                            "{} ({:03})",
                            r.try_get::<String, _>(0).map_err(db_err)?,
                            r.try_get::<i64, _>(1).map_err(db_err)?
                        ))
                    })
                    .collect::<BResult<_>>()?,
            ),
            Err(_) => Occupant::Other(format!("a database with {tables} tables that is not Clusterwise's")),
        }
    };
    conn.close().await.map_err(db_err)?;
    Ok(out)
}

/// What a restore wrote and checked.
#[derive(Debug, Clone)]
pub struct Restored {
    pub tables: usize,
    pub rows: u64,
    /// Each authority's name and code with its ledger audit (all whole, or nothing was restored).
    pub ledgers: Vec<(String, LedgerAudit)>,
    /// SQLite's `PRAGMA integrity_check` ("ok"); PostgreSQL has no equivalent.
    pub integrity: Option<String>,
    /// What the target held before (only with `replace`).
    pub replaced: Occupant,
    /// Where the previous SQLite file was kept.
    pub kept_as: Option<PathBuf>,
}

/// Restores `snapshot` into `db`. Refuses a target that holds anything unless `replace`.
pub async fn restore(db: &str, snapshot: &Snapshot, replace: bool) -> BResult<Restored> {
    check_snapshot(snapshot)?;
    let before = occupant(db).await?;
    if let Occupant::Other(what) = &before
        && sqlite_path(db)?.is_none()
    {
        return Err(BackupError(format!(
            "the target holds {what}; restore never writes over a database that is not Clusterwise's \
             (create an empty PostgreSQL database for it)"
        )));
    }
    if before != Occupant::Empty && !replace {
        return Err(BackupError(format!(
            "the target already holds {}; restore writes only into an empty database (replacing it needs --force)",
            before.describe()
        )));
    }
    match sqlite_path(db)? {
        None => {
            let store = crate::connect(db).await?;
            let result = load(&store, snapshot).await;
            store.close().await;
            let ledgers = result?;
            Ok(Restored {
                tables: snapshot.tables.len(),
                rows: snapshot.rows(),
                ledgers,
                integrity: None,
                replaced: before,
                kept_as: None,
            })
        }
        Some(target) => restore_sqlite_file(&target, snapshot, before).await,
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn remove_if_exists(path: &Path) -> BResult<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(BackupError(format!("cannot remove {}: {e}", path.display()))),
    }
}

fn remove_database_files(path: &Path) -> BResult<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        remove_if_exists(&with_suffix(path, suffix))?;
    }
    Ok(())
}

async fn restore_sqlite_file(target: &Path, snapshot: &Snapshot, before: Occupant) -> BResult<Restored> {
    let name = target
        .file_name()
        .ok_or_else(|| BackupError(format!("{} is not a file name", target.display())))?
        .to_string_lossy()
        .into_owned();
    let fresh = target.with_file_name(format!(".{name}.restoring-{}", std::process::id()));
    remove_database_files(&fresh)?;
    let outcome = restore_into_fresh(&fresh, snapshot).await;
    let (ledgers, integrity) = match outcome {
        Ok(v) => v,
        Err(e) => {
            let _ = remove_database_files(&fresh);
            return Err(e);
        }
    };
    // Switch in: keep what was there (if anything), then rename the checked file into place.
    let mut kept_as = None;
    if target.exists() {
        if before == Occupant::Empty {
            remove_database_files(target)?;
        } else {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let keep = with_suffix(target, &format!(".replaced-{stamp}"));
            for suffix in ["", "-wal", "-shm"] {
                let from = with_suffix(target, suffix);
                if from.exists() {
                    std::fs::rename(&from, with_suffix(&keep, suffix))
                        .map_err(|e| BackupError(format!("cannot move {} aside: {e}", from.display())))?;
                }
            }
            kept_as = Some(keep);
        }
    }
    std::fs::rename(&fresh, target).map_err(|e| {
        BackupError(format!(
            "cannot move the restored database {} to {}: {e}",
            fresh.display(),
            target.display()
        ))
    })?;
    remove_if_exists(&with_suffix(&fresh, "-wal"))?;
    remove_if_exists(&with_suffix(&fresh, "-shm"))?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(Restored {
        tables: snapshot.tables.len(),
        rows: snapshot.rows(),
        ledgers,
        integrity: Some(integrity),
        replaced: before,
        kept_as,
    })
}

/// Loads into a new SQLite file, checks it, and leaves it as one file (no write-ahead log).
async fn restore_into_fresh(fresh: &Path, snapshot: &Snapshot) -> BResult<(Vec<(String, LedgerAudit)>, String)> {
    let store = crate::connect(&fresh.display().to_string()).await?;
    let result = async {
        let ledgers = load(&store, snapshot).await?;
        // Checked again as committed, through a fresh read.
        let integrity = store.integrity_check().await?;
        if integrity != "ok" {
            return Err(BackupError(format!(
                "the restored database fails its integrity check: {integrity}"
            )));
        }
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(store.pool())
            .await
            .map_err(db_err)?;
        Ok((ledgers, integrity))
    }
    .await;
    store.close().await;
    let wal = with_suffix(fresh, "-wal");
    if result.is_ok() && std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Err(BackupError(format!(
            "the restored database {} still has a write-ahead log after closing",
            fresh.display()
        )));
    }
    result
}

fn check_snapshot(snapshot: &Snapshot) -> BResult<()> {
    if snapshot.schema_version > latest_schema_version() {
        return Err(BackupError(format!(
            "the backup is of schema version {}, newer than this Clusterwise knows ({}); restore it with a newer version",
            snapshot.schema_version,
            latest_schema_version()
        )));
    }
    let known = table_specs(snapshot.schema_version)?;
    for t in &snapshot.tables {
        if !known.iter().any(|k| k.name == t.name) {
            return Err(BackupError(format!(
                "the backup has a table {:?} that schema version {} does not have",
                t.name, snapshot.schema_version
            )));
        }
        for c in &t.columns {
            if !is_identifier(&c.name) {
                return Err(BackupError(format!(
                    "the backup's table {} has a column named {:?}",
                    t.name, c.name
                )));
            }
        }
        if let Some((i, _)) = t.rows.iter().enumerate().find(|(_, r)| r.len() != t.columns.len()) {
            return Err(BackupError(format!(
                "the backup's table {} row {} has {} values for {} columns",
                t.name,
                i + 1,
                t.rows[i].len(),
                t.columns.len()
            )));
        }
    }
    Ok(())
}

/// Most values one statement binds (SQLite allows 32,766; PostgreSQL 65,535).
const MAX_BINDS: usize = 8_000;

/// One transaction: empty every table, insert every row, check, commit. Returns each
/// authority's ledger audit.
async fn load(store: &SqlStore, snapshot: &Snapshot) -> BResult<Vec<(String, LedgerAudit)>> {
    let dialect = store.dialect();
    let specs = table_specs(latest_schema_version())?;
    let mut tx = store.pool().begin().await.map_err(db_err)?;
    for spec in specs.iter().rev() {
        tx.execute(format!("DELETE FROM {}", spec.name).as_str())
            .await
            .map_err(db_err)?;
    }
    for spec in &specs {
        let Some(table) = snapshot.table(&spec.name) else {
            continue;
        };
        let have = columns(&mut tx, dialect, &spec.name).await?;
        for c in &table.columns {
            match have.iter().find(|h| h.name == c.name) {
                Some(h) if h.kind == c.kind => {}
                Some(h) => {
                    return Err(BackupError(format!(
                        "the backup's column {}.{} is {}, the database's is {}",
                        table.name,
                        c.name,
                        c.kind.code(),
                        h.kind.code()
                    )));
                }
                None => {
                    return Err(BackupError(format!(
                        "the backup has a column {}.{} this database does not have",
                        table.name, c.name
                    )));
                }
            }
        }
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        let per_statement = (MAX_BINDS / names.len().max(1)).max(1);
        for chunk in table.rows.chunks(per_statement) {
            let mut sql = format!("INSERT INTO {} ({}) VALUES ", table.name, names.join(", "));
            let mut n = 0;
            for (i, _) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                for j in 0..names.len() {
                    n += 1;
                    if j > 0 {
                        sql.push_str(", ");
                    }
                    // SQLite finds `$N` by walking a list (quadratic in a long statement), so it
                    // gets anonymous `?`, as the store's bulk inserts do.
                    match dialect {
                        Dialect::Sqlite => sql.push('?'),
                        Dialect::Postgres => sql.push_str(&format!("${n}")),
                    }
                }
                sql.push(')');
            }
            let mut q = sqlx::query(&sql);
            for row in chunk {
                for (v, c) in row.iter().zip(&table.columns) {
                    q = match (v, c.kind) {
                        (Value::Null, ColumnKind::Int) => q.bind(None::<i64>),
                        (Value::Null, ColumnKind::Text) => q.bind(None::<String>),
                        (Value::Int(i), ColumnKind::Int) => q.bind(*i),
                        (Value::Text(s), ColumnKind::Text) => q.bind(s.clone()),
                        (v, k) => {
                            return Err(BackupError(format!(
                                "the backup's {}.{} holds {v:?}, not {}",
                                table.name,
                                c.name,
                                k.code()
                            )));
                        }
                    };
                }
            }
            q.execute(&mut *tx)
                .await
                .map_err(|e| BackupError(format!("the backup's rows of {} cannot be restored: {e}", table.name)))?;
        }
    }
    // Checks, before anything is committed.
    for table in &snapshot.tables {
        let n: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM {}", table.name))
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?
            .try_get(0)
            .map_err(db_err)?;
        if u64::try_from(n).ok() != Some(table.rows.len() as u64) {
            return Err(BackupError(format!(
                "the restored table {} has {n} rows where the backup has {}",
                table.name,
                table.rows.len()
            )));
        }
    }
    let mut ledgers = Vec::new();
    for r in sqlx::query("SELECT id, name, la_code FROM authorities ORDER BY la_code")
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?
    {
        let id: i64 = r.try_get(0).map_err(db_err)?;
        let label = format!(
            "{} ({:03})",
            r.try_get::<String, _>(1).map_err(db_err)?,
            r.try_get::<i64, _>(2).map_err(db_err)?
        );
        let audit = crate::ledger::audit_in(&mut tx, AuthorityId(id)).await?;
        if !audit.is_whole() {
            return Err(BackupError(format!(
                "the restored ledger of {label} is not whole: {audit:?}"
            )));
        }
        ledgers.push((label, audit));
    }
    if dialect == Dialect::Sqlite {
        let broken = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        if !broken.is_empty() {
            return Err(BackupError(format!(
                "the restored database has {} rows whose foreign keys point nowhere",
                broken.len()
            )));
        }
    }
    if dialect == Dialect::Postgres {
        // Identity sequences past the restored ids. `setval` is not undone by a rollback, so it
        // comes after every check and only ever moves a sequence forward (`nextval` is at least
        // where it was): a failed commit leaves a gap in the ids, never a clash.
        for spec in specs.iter().filter(|s| s.identity) {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'), \
                 GREATEST((SELECT COALESCE(MAX(id), 0) + 1 FROM {0}), nextval(pg_get_serial_sequence('{0}', 'id'))), false)",
                spec.name
            );
            tx.execute(sql.as_str()).await.map_err(db_err)?;
        }
    }
    tx.commit().await.map_err(db_err)?;
    Ok(ledgers)
}

/// Row counts per table, for checking a restore from outside (tests, the drill).
pub async fn row_counts(db: &str) -> BResult<BTreeMap<String, u64>> {
    let (mut conn, _) = open_existing(db).await?;
    let version = schema_version(&mut conn).await?;
    let mut out = BTreeMap::new();
    for spec in table_specs(version.min(latest_schema_version()))? {
        let n: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM {}", spec.name))
            .fetch_one(&mut conn)
            .await
            .map_err(db_err)?
            .try_get(0)
            .map_err(db_err)?;
        out.insert(spec.name, u64::try_from(n).unwrap_or(0));
    }
    conn.close().await.map_err(db_err)?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_table_comes_after_the_tables_it_refers_to() {
        let specs = table_specs(latest_schema_version()).unwrap();
        for (i, s) in specs.iter().enumerate() {
            for r in &s.refers_to {
                let at = specs.iter().position(|x| &x.name == r).unwrap();
                assert!(at < i, "{} refers to {r}, which comes later", s.name);
            }
        }
        assert_eq!(specs[0].name, "authorities");
        let seats = specs.iter().position(|s| s.name == "seats").unwrap();
        let people = specs.iter().position(|s| s.name == "committee_people").unwrap();
        assert!(
            people < seats,
            "seats.person_id (added by ALTER TABLE) refers to committee_people"
        );
        assert!(specs.iter().find(|s| s.name == "ledger_entries").unwrap().identity);
        assert!(!specs.iter().any(|s| s.name == "schema_migrations"));
    }

    #[test]
    fn an_older_schema_has_fewer_tables() {
        let v1 = table_specs(1).unwrap();
        assert!(v1.iter().any(|s| s.name == "schools"));
        assert!(!v1.iter().any(|s| s.name == "ledger_entries"));
    }
}

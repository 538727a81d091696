//! Backups and restores at the store level, on the real Norfolk demo: a snapshot restores into an
//! empty database row for row on SQLite and PostgreSQL and across them (SQLite → PostgreSQL →
//! SQLite gives back the same rows); every table the migrations create is in a backup; a restore
//! that fails any check (a newer schema, an unknown table, a value of the wrong kind, a foreign
//! key pointing nowhere, a ledger that does not balance, a target that holds data) names why and
//! leaves the target as it was. PostgreSQL runs when `CLUSTERWISE_TEST_POSTGRES_URL` is set (CI
//! must set it, as for the contract suite).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use service::store::Store;
use service::{FixedClock, Service};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use store::backup::{self, Occupant, Snapshot, Value};

/// 2026-12-01T12:00:00Z.
const NOW: i64 = 1_796_126_400;

const NORFOLK: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/real/norfolk_schools_spc_2022_23.csv"
));

/// The Norfolk demo built once into an SQLite file and read back as a snapshot (a thread of its
/// own with its own runtime, as each test has its own).
fn demo_snapshot() -> &'static Snapshot {
    static DEMO: OnceLock<Snapshot> = OnceLock::new();
    DEMO.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let dir = tempfile::tempdir().unwrap();
                    let db = dir.path().join("demo.db").display().to_string();
                    let store = store::connect(&db).await.unwrap();
                    let service = Service::new(Arc::new(store.clone()), Arc::new(FixedClock(NOW)));
                    service.build_demo(NORFOLK).await.unwrap();
                    store.close().await;
                    backup::snapshot(&db, &mut |_, _| {}).await.unwrap()
                })
        })
        .join()
        .unwrap()
    })
}

/// A fresh, empty PostgreSQL database on the server the environment names (dropped by `drop`).
struct PgDatabase {
    admin: String,
    name: String,
    url: String,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl PgDatabase {
    async fn create() -> Option<PgDatabase> {
        let Ok(admin) = std::env::var("CLUSTERWISE_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var("CI").is_err(),
                "CI must run the backup tests on PostgreSQL: set CLUSTERWISE_TEST_POSTGRES_URL"
            );
            eprintln!("PostgreSQL backup tests not run: CLUSTERWISE_TEST_POSTGRES_URL is not set");
            return None;
        };
        use sqlx::{Connection, Executor};
        sqlx::any::install_default_drivers();
        let name = format!(
            "cw_backup_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
        conn.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
        conn.close().await.unwrap();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        Some(PgDatabase { admin, name, url })
    }

    async fn drop(self) {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::AnyConnection::connect(&self.admin).await.unwrap();
        conn.execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
}

/// Rows per table.
fn counts(s: &Snapshot) -> BTreeMap<String, u64> {
    s.tables.iter().map(|t| (t.name.clone(), t.rows.len() as u64)).collect()
}

/// The snapshot's rows with every table's rows sorted, for comparing across databases (text
/// sorts by collation on PostgreSQL, by bytes on SQLite).
fn sorted_rows(s: &Snapshot) -> Vec<(String, Vec<String>, Vec<Vec<Value>>)> {
    s.tables
        .iter()
        .map(|t| {
            let mut rows = t.rows.clone();
            rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            (t.name.clone(), t.columns.iter().map(|c| c.name.clone()).collect(), rows)
        })
        .collect()
}

async fn snapshot_of(db: &str) -> Snapshot {
    backup::snapshot(db, &mut |_, _| {}).await.unwrap()
}

/// New rows still get fresh ids after a restore (PostgreSQL's identity sequences were moved).
async fn still_takes_new_rows(db: &str) {
    let store = store::connect(db).await.unwrap();
    let la = domain::ids::LaCode::parse("801").unwrap();
    let id = store
        .create_authority(la, "Bristol (added after the restore)")
        .await
        .unwrap()
        .id;
    let before = demo_snapshot().table("authorities").unwrap();
    let highest = before
        .rows
        .iter()
        .filter_map(|r| match r[0] {
            Value::Int(i) => Some(i),
            _ => None,
        })
        .max()
        .unwrap();
    assert!(
        id.0 > highest,
        "a new authority took id {} (restored up to {highest})",
        id.0
    );
    store.close().await;
}

#[tokio::test]
async fn every_table_the_migrations_create_is_in_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fresh.db").display().to_string();
    store::connect(&db).await.unwrap().close().await;
    let (known, held) = backup::tables_known_and_held(&db).await.unwrap();
    let mut known_sorted = known.clone();
    known_sorted.sort();
    let held: Vec<String> = held.into_iter().filter(|t| t != "schema_migrations").collect();
    assert_eq!(
        known_sorted, held,
        "a table the backup does not know (or knows but is missing)"
    );
    let snapshot = snapshot_of(&db).await;
    let names: Vec<String> = snapshot.tables.iter().map(|t| t.name.clone()).collect();
    assert_eq!(names, known);
    assert_eq!(snapshot.schema_version, backup::latest_schema_version());

    // A table no migration creates: the backup refuses rather than leaving it out.
    {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::AnyConnection::connect(&format!("sqlite://{db}")).await.unwrap();
        conn.execute("CREATE TABLE notes_added_by_hand (id BIGINT, note TEXT)")
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let err = backup::snapshot(&db, &mut |_, _| {}).await.unwrap_err();
    assert!(err.0.contains("notes_added_by_hand"), "{err}");
    assert!(err.0.contains("none was written"), "{err}");

    if let Some(pg) = PgDatabase::create().await {
        store::connect(&pg.url).await.unwrap().close().await;
        let (known, held) = backup::tables_known_and_held(&pg.url).await.unwrap();
        let mut known_sorted = known;
        known_sorted.sort();
        let held: Vec<String> = held.into_iter().filter(|t| t != "schema_migrations").collect();
        assert_eq!(known_sorted, held);
        pg.drop().await;
    }
}

#[tokio::test]
async fn sqlite_round_trip_and_back_through_postgres() {
    let demo = demo_snapshot();
    assert!(demo.rows() > 30_000, "the demo is the whole Norfolk register");
    assert!(demo.table("ledger_entries").unwrap().rows.len() > 100);
    let dir = tempfile::tempdir().unwrap();

    // SQLite → SQLite: the same rows, the same order.
    let copy = dir.path().join("copy.db").display().to_string();
    let restored = backup::restore(&copy, demo, false).await.unwrap();
    assert_eq!(restored.rows, demo.rows());
    assert_eq!(restored.integrity.as_deref(), Some("ok"));
    assert_eq!(restored.replaced, Occupant::Empty);
    assert_eq!(restored.ledgers.len(), 1);
    assert!(restored.ledgers[0].1.is_whole());
    assert_eq!(
        restored.ledgers[0].1.entries,
        demo.table("ledger_entries").unwrap().rows.len() as u64
    );
    let again = snapshot_of(&copy).await;
    assert_eq!(&again, demo);
    assert_eq!(backup::row_counts(&copy).await.unwrap(), counts(demo));
    // Written as one file, nothing left beside it.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["copy.db".to_string()]);
    still_takes_new_rows(&copy).await;

    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    // SQLite → PostgreSQL.
    let restored = backup::restore(&pg.url, demo, false).await.unwrap();
    assert_eq!(restored.rows, demo.rows());
    assert!(restored.ledgers[0].1.is_whole());
    let from_pg = snapshot_of(&pg.url).await;
    assert_eq!(from_pg.backend, store::Dialect::Postgres);
    assert_eq!(sorted_rows(&from_pg), sorted_rows(demo));
    assert_eq!(backup::row_counts(&pg.url).await.unwrap(), counts(demo));

    // PostgreSQL → PostgreSQL: the same rows, the same order.
    let pg2 = PgDatabase::create().await.unwrap();
    backup::restore(&pg2.url, &from_pg, false).await.unwrap();
    assert_eq!(snapshot_of(&pg2.url).await, from_pg);
    still_takes_new_rows(&pg2.url).await;
    pg2.drop().await;

    // PostgreSQL → SQLite: back where it started.
    let back = dir.path().join("back.db").display().to_string();
    backup::restore(&back, &from_pg, false).await.unwrap();
    let back_snapshot = snapshot_of(&back).await;
    assert_eq!(back_snapshot.tables, demo.tables);
    pg.drop().await;
}

/// Runs `change` on a copy of the demo and checks that restoring it fails with a message
/// containing `says`, leaving both an empty SQLite target and an empty PostgreSQL one as they were.
async fn refused(change: impl Fn(&mut Snapshot), says: &str) {
    let mut bad = demo_snapshot().clone();
    change(&mut bad);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.db");
    let err = backup::restore(&target.display().to_string(), &bad, false)
        .await
        .unwrap_err();
    assert!(err.0.contains(says), "expected {says:?} in: {err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "a failed restore left files behind: {left:?}");
    if let Some(pg) = PgDatabase::create().await {
        let err = backup::restore(&pg.url, &bad, false).await.unwrap_err();
        assert!(err.0.contains(says), "PostgreSQL: expected {says:?} in: {err}");
        assert_eq!(backup::occupant(&pg.url).await.unwrap(), Occupant::Empty);
        // Refused before migrating (nothing created) or after (every table empty).
        match backup::row_counts(&pg.url).await {
            Ok(counts) => assert!(counts.values().all(|n| *n == 0), "rows were left behind: {counts:?}"),
            Err(e) => assert!(e.0.contains("no schema_migrations"), "{e}"),
        }
        pg.drop().await;
    }
}

fn column(s: &Snapshot, table: &str, name: &str) -> (usize, usize) {
    let t = s.tables.iter().position(|t| t.name == table).unwrap();
    let c = s.tables[t].columns.iter().position(|c| c.name == name).unwrap();
    (t, c)
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    refused(
        |s| s.schema_version = backup::latest_schema_version() + 1,
        "newer than this Clusterwise knows",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_table_is_refused() {
    refused(|s| s.tables[0].name = "no_such_table".into(), "no_such_table").await;
}

#[tokio::test]
async fn a_value_of_the_wrong_kind_is_refused() {
    refused(
        |s| {
            let (t, c) = column(s, "schools", "urn");
            s.tables[t].rows[0][c] = Value::Text("121000".into());
        },
        "schools.urn",
    )
    .await;
}

#[tokio::test]
async fn a_foreign_key_pointing_nowhere_is_refused() {
    refused(
        |s| {
            let (t, c) = column(s, "census", "authority_id");
            s.tables[t].rows[0][c] = Value::Int(4_242);
        },
        "census",
    )
    .await;
}

#[tokio::test]
async fn a_ledger_that_does_not_balance_is_refused() {
    refused(
        |s| {
            let (t, c) = column(s, "ledger_balances", "balance_pence");
            let Value::Int(p) = s.tables[t].rows[0][c] else {
                panic!()
            };
            s.tables[t].rows[0][c] = Value::Int(p + 1);
        },
        "ledger of Norfolk (926) is not whole",
    )
    .await;
}

#[tokio::test]
async fn a_target_holding_data_is_refused_unless_replacing() {
    let demo = demo_snapshot();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("live.db");
    let db = target.display().to_string();
    backup::restore(&db, demo, false).await.unwrap();
    let before = std::fs::read(&target).unwrap();
    // A smaller backup: the demo without its ledger.
    let mut other = demo.clone();
    for t in &mut other.tables {
        if t.name.starts_with("ledger_") {
            t.rows.clear();
        }
    }
    let err = backup::restore(&db, &other, false).await.unwrap_err();
    assert!(
        err.0.contains("already holds the data of 1 authority: Norfolk (926)") && err.0.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), before, "the target was changed");

    // Replacing keeps the previous file beside it.
    let replaced = backup::restore(&db, &other, true).await.unwrap();
    assert_eq!(replaced.replaced, Occupant::Authorities(vec!["Norfolk (926)".into()]));
    let kept = replaced.kept_as.unwrap();
    assert_eq!(std::fs::read(&kept).unwrap(), before);
    assert_eq!(snapshot_of(&db).await.tables, other.tables);

    // Something that is not a database is never read as empty.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all, just some words in a file").unwrap();
    let err = backup::restore(&junk.display().to_string(), demo, false)
        .await
        .unwrap_err();
    assert!(err.0.contains("already holds"), "{err}");
    assert_eq!(
        std::fs::read(&junk).unwrap(),
        b"not a database at all, just some words in a file"
    );

    if let Some(pg) = PgDatabase::create().await {
        backup::restore(&pg.url, demo, false).await.unwrap();
        let err = backup::restore(&pg.url, &other, false).await.unwrap_err();
        assert!(err.0.contains("already holds"), "{err}");
        assert_eq!(sorted_rows(&snapshot_of(&pg.url).await), sorted_rows(demo));
        // A replacement that fails a check leaves the old data, and ids still come fresh.
        let mut unbalanced = demo.clone();
        let (t, c) = column(&unbalanced, "ledger_balances", "balance_pence");
        unbalanced.tables[t].rows[0][c] = Value::Int(-1);
        let err = backup::restore(&pg.url, &unbalanced, true).await.unwrap_err();
        assert!(err.0.contains("not whole"), "{err}");
        assert_eq!(sorted_rows(&snapshot_of(&pg.url).await), sorted_rows(demo));
        still_takes_new_rows(&pg.url).await;
        pg.drop().await;
    }
}

#[tokio::test]
async fn an_in_memory_or_missing_database_cannot_be_backed_up() {
    let err = backup::snapshot("sqlite::memory:", &mut |_, _| {}).await.unwrap_err();
    assert!(err.0.contains("in-memory"), "{err}");
    let err = backup::snapshot("/nonexistent/dir/clusterwise.db", &mut |_, _| {})
        .await
        .unwrap_err();
    assert!(err.0.contains("no database file"), "{err}");
    assert!(!Path::new("/nonexistent/dir/clusterwise.db").exists());
}

//! Disk full (issue 8, item 2): writes on a full database disk fail with a clear message and
//! nothing partial is stored, and the same running service works again once space returns.
//!
//! Two ways to fill the disk, one test each, the same checks:
//! - a real one: the SQLite database on a small tmpfs, filled with a ballast file until the
//!   kernel says `ENOSPC` (needs root to mount; skipped with a note otherwise, and made required
//!   by `CLUSTERWISE_REQUIRE_TMPFS=1`, which scripts/release-checks.sh sets);
//! - a fallback that runs anywhere: SQLite's `max_page_count`, which fails the same write paths
//!   with the same `SQLITE_FULL`;
//! - PostgreSQL on a real full disk: a database whose tablespace is a small tmpfs, filled the same
//!   way, so tables and indexes cannot grow and the server says SQLSTATE `53100` (needs root and
//!   the server on this machine, as scripts/test.sh starts it; skipped with a note without root,
//!   required by `CLUSTERWISE_REQUIRE_TMPFS=1`).
//!
//! Each posts ledger entries until the disk refuses one, then checks: the refusal is a 503 that
//! says "the database disk is full" and "nothing was saved"; every refused key is absent and
//! every accepted one present once; the ledger audit is whole; a sign-in and a census import
//! also fail cleanly (no session, no school saved); then it frees the space and shows the same
//! router (no restart) posting the refused key, signing in and importing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::Router;
use axum::http::StatusCode;
use domain::access::{Scope, UserRole};
use domain::ids::{AuthorityId, ClusterId, LaCode};
use service::import::{ImportKind, ImportOptions, ImportTarget};
use service::{Service, ServiceError, Store, SystemClock};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use support::{Reply, get, post_form, send};

const PASSWORD: &str = "a long enough password";
const CENSUS: &str = "urn,laestab,la_code,la_name,school_name,phase_type_grouping,academy_flag,pupils_headcount,fsm_eligible_count,district_name,easting,northing,postcode\n\
120001,9261001,926,Norfolk,Hill High School,State-funded secondary,Academy,1200,120,Norwich,620000,308000,NR1 1AA\n\
120002,9261002,926,Norfolk,Brook Primary School,State-funded primary,LA Maintained,300,60,Norwich,621000,309000,NR1 1AB\n";

/// How the test fills the disk and frees it again.
enum Filler {
    /// A ballast file on the tmpfs holding the database.
    Ballast(PathBuf),
    /// The page limit every connection reads before use.
    PageLimit(Arc<AtomicU64>),
}

impl Filler {
    fn fill(&self) {
        match self {
            Filler::Ballast(path) => {
                let mut f = std::fs::File::create(path).unwrap();
                // Big writes, then page-sized ones for the last few kilobytes.
                for size in [1 << 20, 4096, 512] {
                    let chunk = vec![0xA5u8; size];
                    loop {
                        match f.write_all(&chunk) {
                            Ok(()) => {}
                            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                            Err(e) => panic!("ballast: {e}"),
                        }
                    }
                }
                let _ = f.sync_all();
            }
            // Below the current size means "no more pages than now".
            Filler::PageLimit(limit) => limit.store(1, Ordering::SeqCst),
        }
    }
    fn free(&self) {
        match self {
            Filler::Ballast(path) => std::fs::remove_file(path).unwrap(),
            Filler::PageLimit(limit) => limit.store(1_073_741_823, Ordering::SeqCst),
        }
    }
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if out.status.success() {
            Ok(Tmpfs(dir.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

struct App {
    router: Router,
    store: store::SqlStore,
    service: Service,
    authority: AuthorityId,
    cluster: ClusterId,
}

async fn app(store: store::SqlStore) -> App {
    let service = Service::new(Arc::new(store.clone()), Arc::new(SystemClock));
    let options = ImportOptions {
        census_date: domain::NaiveDate::from_ymd_opt(2023, 1, 19),
        ..ImportOptions::default()
    };
    let report = service
        .import(ImportTarget::ByLaCode, ImportKind::Census, CENSUS.as_bytes(), &options)
        .await
        .unwrap();
    assert!(report.written, "{:?}", report.rejected);
    let authority = store
        .authority_by_code(LaCode::parse("926").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let members = "urn,cluster,role\n120001,Hill cluster,host\n120002,Hill cluster,feeder\n";
    let report = service
        .import(
            ImportTarget::Authority(authority),
            ImportKind::Clusters,
            members.as_bytes(),
            &ImportOptions::default(),
        )
        .await
        .unwrap();
    assert!(report.written);
    let cluster = store
        .list_clusters(authority, domain::NaiveDate::from_ymd_opt(2100, 1, 1).unwrap())
        .await
        .unwrap()[0]
        .cluster
        .id;
    for email in ["officer@norfolk.test", "second@norfolk.test"] {
        service
            .create_user(
                authority,
                email,
                "Test officer",
                UserRole::AuthorityOfficer,
                Scope::Authority,
                PASSWORD,
            )
            .await
            .unwrap();
    }
    let router = web::router(
        service.clone(),
        web::WebConfig {
            secure_cookies: true,
            max_upload_bytes: 1024 * 1024,
            ..web::WebConfig::default()
        },
    );
    App {
        router,
        store,
        service,
        authority,
        cluster,
    }
}

/// A census file of `n` new schools (URNs from 130000), big enough to need new pages.
fn more_schools(n: u32) -> String {
    let mut csv = String::from(CENSUS.lines().next().unwrap());
    csv.push('\n');
    for i in 0..n {
        csv.push_str(&format!(
            "{},{},926,Norfolk,Disk test school {i} with a long name to take room,State-funded primary,LA Maintained,200,20,Norwich,620000,308000,NR1 1AA\n",
            130_000 + i,
            9_262_000 + i
        ));
    }
    csv
}

impl App {
    async fn receipt(&self, cookie: &str, csrf: &str, key: &str, memo: &str) -> Reply {
        let path = format!("/clusters/{}/budget/entries", self.cluster);
        let fields = [
            ("csrf_token", csrf),
            ("idempotency_key", key),
            ("kind", "receipt"),
            ("new_stream", "Cluster admin"),
            ("new_phase", "all"),
            ("holder", "central"),
            ("amount", "123.45"),
            ("date", "2026-11-30"),
            ("memo", memo),
        ];
        send(&self.router, post_form(&path, Some(cookie), &fields)).await
    }
    async fn posted(&self, key: &str) -> bool {
        self.store
            .ledger_entry_by_key(self.authority, key)
            .await
            .unwrap()
            .is_some()
    }
    async fn schools(&self) -> usize {
        self.store.all_schools(self.authority).await.unwrap().len()
    }
}

fn says_disk_full(r: &Reply) {
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert!(r.body.contains("The database disk is full"), "{}", r.body);
    assert!(r.body.contains("nothing was saved"), "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    assert!(
        ![
            "SQLITE",
            "database or disk",
            "could not extend",
            "No space left",
            "53100"
        ]
        .iter()
        .any(|t| r.body.contains(t)),
        "{}",
        r.body
    );
}

/// The whole scenario; returns how many postings the full disk refused and whether a
/// checkpoint failed while it was full.
async fn fill_refuse_free_recover(app: &App, filler: &Filler) -> (usize, bool) {
    let (cookie, csrf) = support::sign_in(&app.router, "officer@norfolk.test", PASSWORD).await;
    let r = app
        .receipt(&cookie, &csrf, "before-full", "Receipt before the disk fills")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let schools = app.schools().await;

    filler.fill();
    // Post until the disk refuses (a write can still fit in a page or WAL frame already held).
    let memo = "A receipt while the disk is full, with a long memo to take up room. ".repeat(2);
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for i in 0..400 {
        let key = format!("full-{i:04}");
        let r = app.receipt(&cookie, &csrf, &key, &memo).await;
        if r.status == StatusCode::SEE_OTHER {
            accepted.push(key);
            continue;
        }
        says_disk_full(&r);
        refused.push(key);
        if refused.len() == 3 {
            break;
        }
    }
    assert_eq!(refused.len(), 3, "the full disk never refused a posting");
    // Nothing partial: refused keys absent, accepted ones present, the journal whole.
    for key in &refused {
        assert!(!app.posted(key).await, "{key} was refused but stored");
    }
    for key in &accepted {
        assert!(app.posted(key).await, "{key} was acknowledged but is missing");
    }
    let audit = app.store.ledger_audit(app.authority).await.unwrap();
    assert!(audit.is_whole(), "{audit:?}");
    // Reads still work.
    let page = send(
        &app.router,
        get(&format!("/clusters/{}/budget", app.cluster), Some(&cookie)),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    // A sign-in (a new session row) fails the same clear way, once the sessions' pages are full.
    // PostgreSQL fills free space in the pages it has before it asks the disk for another, so
    // it may take a few hundred new sessions (60 were once not enough).
    let mut sign_in_refused = false;
    for _ in 0..600 {
        let form = send(&app.router, get("/sign-in", None)).await;
        let pre = form.cookie_pair("clusterwise_sign_in").unwrap();
        let r = send(
            &app.router,
            post_form(
                "/sign-in",
                Some(&pre),
                &[
                    ("csrf_token", &support::csrf_in(&form.body)),
                    ("email", "second@norfolk.test"),
                    ("password", PASSWORD),
                ],
            ),
        )
        .await;
        if r.status != StatusCode::SEE_OTHER {
            says_disk_full(&r);
            sign_in_refused = true;
            break;
        }
    }
    assert!(sign_in_refused, "the full disk never refused a sign-in");
    // An import is all-or-nothing on a full disk too.
    let options = ImportOptions {
        census_date: domain::NaiveDate::from_ymd_opt(2023, 1, 19),
        ..ImportOptions::default()
    };
    let result = app
        .service
        .import(
            ImportTarget::Authority(app.authority),
            ImportKind::Census,
            more_schools(300).as_bytes(),
            &options,
        )
        .await;
    match result {
        Err(e @ ServiceError::DiskFull(_)) => assert!(e.to_string().contains("nothing was saved")),
        other => panic!("the import on a full disk gave {other:?}"),
    }
    assert_eq!(app.schools().await, schools, "a school of the refused import was saved");
    // A checkpoint may need the database file to grow: it fails cleanly or succeeds.
    let checkpoint_failed = match app.store.checkpoint().await {
        Ok(()) => false,
        Err(service::StoreError::DiskFull(_)) => true,
        Err(e) => panic!("checkpoint on a full disk: {e}"),
    };

    filler.free();
    // The same router, no restart: the refused key posts now, once.
    let r = app.receipt(&cookie, &csrf, &refused[0], &memo).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "after freeing space: {}", r.body);
    assert!(
        app.posted(&refused[0]).await,
        "{} posted ({}) but missing",
        refused[0],
        r.location()
    );
    let r = app.receipt(&cookie, &csrf, &refused[0], &memo).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "a replay is still a replay");
    support::sign_in(&app.router, "second@norfolk.test", PASSWORD).await;
    let report = app
        .service
        .import(
            ImportTarget::Authority(app.authority),
            ImportKind::Census,
            more_schools(300).as_bytes(),
            &options,
        )
        .await
        .unwrap();
    assert!(report.written);
    assert_eq!(app.schools().await, schools + 300);
    app.store.checkpoint().await.unwrap();
    assert_eq!(app.store.integrity_check().await.unwrap(), "ok");
    let audit = app.store.ledger_audit(app.authority).await.unwrap();
    assert!(audit.is_whole(), "{audit:?}");
    assert_eq!(audit.entries, u64::try_from(accepted.len() + 2).unwrap());
    (refused.len(), checkpoint_failed)
}

#[tokio::test]
async fn a_full_page_limit_refuses_cleanly_and_recovers_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let limit = Arc::new(AtomicU64::new(1_073_741_823));
    let db = dir.path().join("limited.db");
    let store = store::connect_with_page_limit(&db.display().to_string(), limit.clone())
        .await
        .unwrap();
    let app = app(store).await;
    let (refused, checkpoint_failed) = fill_refuse_free_recover(&app, &Filler::PageLimit(limit)).await;
    println!("max_page_count: {refused} postings refused; checkpoint failed while full: {checkpoint_failed}");
}

/// A tmpfs of `size` for a real full disk, or `None` (with a note) where none can be mounted and
/// none is required.
fn tmpfs_or_skip(dir: &Path, size: &str, what: &str) -> Option<Tmpfs> {
    match Tmpfs::mount(dir, size) {
        Ok(m) => Some(m),
        Err(why) => {
            assert!(
                std::env::var_os("CLUSTERWISE_REQUIRE_TMPFS").is_none(),
                "CLUSTERWISE_REQUIRE_TMPFS is set but no tmpfs could be mounted: {why}"
            );
            println!("SKIPPED {what} (cannot mount a tmpfs: {why})");
            None
        }
    }
}

#[tokio::test]
async fn a_real_full_disk_refuses_cleanly_and_recovers_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = tmpfs_or_skip(
        dir.path(),
        "16m",
        "the real full disk on SQLite; the max_page_count test ran",
    ) else {
        return;
    };
    let db = mount.0.join("clusterwise.db");
    let store = store::connect(&db.display().to_string()).await.unwrap();
    let app = app(store).await;
    let (refused, checkpoint_failed) = fill_refuse_free_recover(&app, &Filler::Ballast(mount.0.join("ballast"))).await;
    println!("tmpfs: {refused} postings refused; checkpoint failed while full: {checkpoint_failed}");
    app.store.close().await;
}

#[tokio::test]
async fn a_real_full_disk_on_postgresql_refuses_cleanly_and_recovers_without_a_restart() {
    let Ok(admin) = std::env::var("CLUSTERWISE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the PostgreSQL disk-full test: set CLUSTERWISE_TEST_POSTGRES_URL (scripts/test.sh does)"
        );
        println!("SKIPPED the full disk on PostgreSQL: CLUSTERWISE_TEST_POSTGRES_URL is not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // 24 MiB: the new database's copy of template1 (about 8 MiB) and the schema, then ballast.
    let Some(mount) = tmpfs_or_skip(dir.path(), "24m", "the full disk on PostgreSQL") else {
        return;
    };
    // The tablespace's directory belongs to the server's user (the server runs on this machine).
    let space = mount.0.join("space");
    std::fs::create_dir(&space).unwrap();
    let owned = Command::new("chown")
        .arg("postgres:postgres")
        .arg(&space)
        .status()
        .unwrap();
    assert!(owned.success(), "chown of the tablespace directory to postgres failed");
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let name = format!("cw_disk_full_{}", std::process::id());
    let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
    conn.execute(format!("DROP TABLESPACE IF EXISTS {name}").as_str())
        .await
        .unwrap();
    conn.execute(format!("CREATE TABLESPACE {name} LOCATION '{}'", space.display()).as_str())
        .await
        .unwrap();
    conn.execute(format!("CREATE DATABASE {name} TABLESPACE {name}").as_str())
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let store = store::connect(&format!("{base}/{name}")).await.unwrap();
    let app = app(store).await;
    let (refused, _) = fill_refuse_free_recover(&app, &Filler::Ballast(mount.0.join("ballast"))).await;
    println!(
        "PostgreSQL tablespace on tmpfs: {refused} postings refused (SQLSTATE 53100), recovered without a restart"
    );
    app.store.close().await;
    conn.execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
    conn.execute(format!("DROP TABLESPACE {name}").as_str()).await.unwrap();
    conn.close().await.unwrap();
}

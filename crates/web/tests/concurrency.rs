//! Concurrency (issue 8, item 3): 16 clients (the cluster clerk's sessions) posting ledger entries to the same accounts and 50
//! clerks recording votes in one meeting, all at once through the router on a multi-threaded
//! runtime over a real pooled database (an SQLite file; PostgreSQL too when
//! `CLUSTERWISE_TEST_POSTGRES_URL` names a server). Every acknowledged write is then replayed
//! serially on a fresh database: the balances, the journal's length and every item's votes and
//! outcome must be the same, and nothing acknowledged may be missing (no lost update).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::Router;
use axum::http::StatusCode;
use domain::access::{Scope, User, UserRole};
use domain::ids::{AuthorityId, ClusterId, LaCode, MeetingId};
use service::import::{ImportKind, ImportOptions, ImportTarget};
use service::meetings::{ConstitutionInput, PersonInput, SeatInput};
use service::{FixedClock, Service};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use support::{Reply, get, post_form, send};

const PASSWORD: &str = "a long enough password";
/// 1 March 2025, 12:00 UTC.
const NOW: i64 = 1_740_830_400;
const CLIENTS: usize = 16;
const POSTS_EACH: usize = 6;
const CLERKS: usize = 50;

const CENSUS: &str = "urn,laestab,la_code,la_name,school_name,phase_type_grouping,academy_flag,pupils_headcount,fsm_eligible_count,district_name,easting,northing,postcode\n\
120001,9261001,926,Norfolk,Hill High School,State-funded secondary,Academy,1200,120,Norwich,620000,308000,NR1 1AA\n\
120002,9261002,926,Norfolk,Brook Primary School,State-funded primary,LA Maintained,300,60,Norwich,621000,309000,NR1 1AB\n\
120003,9261003,926,Norfolk,Dale Infant School,State-funded primary,LA Maintained,90,9,Norwich,622000,309000,NR1 1AC\n";

struct TestApp {
    router: Router,
    service: Service,
    officer: User,
    authority: AuthorityId,
    hill: ClusterId,
}

/// A database for one app: a fresh SQLite file, or a fresh PostgreSQL database.
enum Db {
    Sqlite(tempfile::TempDir),
    Postgres { admin: String, name: String },
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl Db {
    fn sqlite() -> Db {
        Db::Sqlite(tempfile::tempdir().unwrap())
    }
    async fn postgres() -> Option<Db> {
        let Ok(admin) = std::env::var("CLUSTERWISE_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var("CI").is_err(),
                "CI must run the concurrency tests on PostgreSQL too: set CLUSTERWISE_TEST_POSTGRES_URL"
            );
            eprintln!("PostgreSQL concurrency tests not run: CLUSTERWISE_TEST_POSTGRES_URL is not set");
            return None;
        };
        use sqlx::{Connection, Executor};
        sqlx::any::install_default_drivers();
        let name = format!(
            "cw_concurrency_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
        conn.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
        Some(Db::Postgres { admin, name })
    }
    fn url(&self) -> String {
        match self {
            Db::Sqlite(dir) => dir.path().join("clusterwise.db").display().to_string(),
            Db::Postgres { admin, name } => {
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                format!("{base}/{name}")
            }
        }
    }
    async fn drop_database(self) {
        if let Db::Postgres { admin, name } = self {
            use sqlx::{Connection, Executor};
            let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
            conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await
                .unwrap();
        }
    }
}

/// Hill cluster (120001 host, 120002, 120003) with a Norfolk constitution and one voting
/// governor per school (people 1–3) and a clerk (person 4); an officer and a clerk account.
async fn app(db: &Db) -> TestApp {
    // A 500's cause is logged: show it with the failure.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("error")
        .try_init();
    let store = store::connect(&db.url()).await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(FixedClock(NOW)));
    let census = ImportOptions {
        census_date: domain::NaiveDate::from_ymd_opt(2023, 1, 19),
        ..ImportOptions::default()
    };
    let r = service
        .import(ImportTarget::ByLaCode, ImportKind::Census, CENSUS.as_bytes(), &census)
        .await
        .unwrap();
    assert!(r.written, "{:?}", r.rejected);
    let norfolk = service
        .store()
        .authority_by_code(LaCode::parse("926").unwrap())
        .await
        .unwrap()
        .unwrap();
    let members =
        "urn,cluster,role\n120001,Hill cluster,host\n120002,Hill cluster,feeder\n120003,Hill cluster,feeder\n";
    let r = service
        .import(
            ImportTarget::Authority(norfolk.id),
            ImportKind::Clusters,
            members.as_bytes(),
            &ImportOptions {
                effective: domain::NaiveDate::from_ymd_opt(2024, 9, 1),
                ..ImportOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(r.written);
    let clusters = service
        .store()
        .list_clusters(norfolk.id, domain::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap())
        .await
        .unwrap();
    let hill = clusters[0].cluster.id;
    let officer = service
        .create_user(
            norfolk.id,
            "officer@norfolk.test",
            "Officer",
            UserRole::AuthorityOfficer,
            Scope::Authority,
            PASSWORD,
        )
        .await
        .unwrap();
    service
        .create_user(
            norfolk.id,
            "clerk@norfolk.test",
            "Clerk",
            UserRole::ClusterClerk,
            Scope::Cluster(hill),
            PASSWORD,
        )
        .await
        .unwrap();
    service
        .adopt_constitution(
            &officer,
            hill,
            &ConstitutionInput {
                preset: "norfolk".into(),
                casting_vote: false,
                effective_from: "2024-09-01".into(),
            },
        )
        .await
        .unwrap();
    for (name, governor_of) in [
        ("Ann Adams", "120001"),
        ("Bob Baker", "120002"),
        ("Cat Carver", "120003"),
        ("Cleo Clerk", ""),
    ] {
        service
            .add_committee_person(
                &officer,
                hill,
                &PersonInput {
                    name: name.into(),
                    governor_of: governor_of.into(),
                    ..PersonInput::default()
                },
            )
            .await
            .unwrap();
    }
    for (kind, school, person) in [
        ("voting_governor", "120001", "1"),
        ("voting_governor", "120002", "2"),
        ("voting_governor", "120003", "3"),
        ("clerk", "", "4"),
    ] {
        service
            .add_committee_seat(
                &officer,
                hill,
                &SeatInput {
                    kind: kind.into(),
                    school: school.into(),
                    person: person.into(),
                    ..SeatInput::default()
                },
            )
            .await
            .unwrap();
    }
    let router = web::router(
        service.clone(),
        web::WebConfig {
            // Every request is handled: this test is about correctness, not shedding.
            max_in_flight: 1024,
            queue_wait: Duration::from_secs(60),
            ..web::WebConfig::default()
        },
    );
    TestApp {
        router,
        service,
        officer,
        authority: norfolk.id,
        hill,
    }
}

#[derive(Clone)]
struct Browser {
    cookie: String,
    csrf: String,
}

async fn sign_in(router: &Router, email: &str) -> Browser {
    let (cookie, csrf) = support::sign_in(router, email, PASSWORD).await;
    Browser { cookie, csrf }
}

async fn post(router: &Router, who: &Browser, path: &str, fields: &[(String, String)]) -> Reply {
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", who.csrf.as_str())];
    form.extend(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    send(router, post_form(path, Some(&who.cookie), &form)).await
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The ledger entry form's fields for client `c`'s `j`th posting (with its own idempotency key):
/// allocations from the central pot to 120002 or 120003 and payments from it, all small, so no
/// order of them can run the pot dry and every order gives the same balances.
fn posting(c: usize, j: usize) -> Vec<(String, String)> {
    let amount = format!("{}.{:02}", 1 + c, j + 1);
    let key = format!("concurrency-{c:02}-{j:02}");
    let mut f = fields(&[
        ("idempotency_key", &key),
        ("fence", "all:Cluster admin"),
        ("holder", "central"),
        ("amount", &amount),
        ("date", "2025-02-20"),
        ("memo", &format!("Client {c} posting {j}")),
    ]);
    match j % 3 {
        0 => f.extend(fields(&[("kind", "allocation"), ("to_holder", "120002")])),
        1 => f.extend(fields(&[("kind", "allocation"), ("to_holder", "120003")])),
        _ => f.extend(fields(&[("kind", "payment")])),
    }
    f
}

/// Posts an entry; returns the entry id the server acknowledged and whether it was a replay.
async fn post_entry(app: &TestApp, who: &Browser, form: &[(String, String)]) -> Result<(i64, bool), String> {
    let r = post(
        &app.router,
        who,
        &format!("/clusters/{}/budget/entries", app.hill),
        form,
    )
    .await;
    if r.status != StatusCode::SEE_OTHER {
        return Err(format!(
            "{}: {}",
            r.status,
            r.body
                .split("govuk-heading-l")
                .nth(1)
                .unwrap_or(&r.body)
                .chars()
                .take(700)
                .collect::<String>()
        ));
    }
    let id = r
        .location()
        .split("posted=")
        .nth(1)
        .and_then(|s| s.split(['&', '#']).next())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no entry id in {}", r.location()))?;
    Ok((id, r.location().contains("replayed=yes")))
}

async fn fund(app: &TestApp, officer: &Browser) {
    let receipt = fields(&[
        ("idempotency_key", "concurrency-receipt"),
        ("kind", "receipt"),
        ("new_stream", "Cluster admin"),
        ("new_phase", "all"),
        ("holder", "central"),
        ("amount", "£10,000.00"),
        ("date", "2025-02-01"),
        ("memo", "Receipt from Norfolk County Council"),
    ]);
    post_entry(app, officer, &receipt).await.unwrap();
}

async fn ledger_state(app: &TestApp) -> (domain::funding::ledger::Balances, usize) {
    let s = app.service.store();
    let snapshot = s.ledger_snapshot(app.authority, app.hill).await.unwrap();
    let journal = s.ledger_journal(app.authority, app.hill).await.unwrap();
    (snapshot.balances, journal.len())
}

async fn ledger_against_serial_replay(concurrent_db: Db, serial_db: Db) {
    let app = Arc::new(app(&concurrent_db).await);
    let officer = sign_in(&app.router, "officer@norfolk.test").await;
    fund(&app, &officer).await;
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let app = app.clone();
        let who = sign_in(&app.router, "clerk@norfolk.test").await;
        clients.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for j in 0..POSTS_EACH {
                let form = posting(c, j);
                let (id, replayed) = post_entry(&app, &who, &form)
                    .await
                    .unwrap_or_else(|e| panic!("client {c} posting {j}: {e}"));
                assert!(!replayed, "client {c} posting {j} was new");
                acknowledged.push((id, form));
            }
            // The first posting sent again (a double submit) is a replay of the same entry.
            let (id, replayed) = post_entry(&app, &who, &acknowledged[0].1).await.unwrap();
            assert!(
                replayed && id == acknowledged[0].0,
                "client {c}: resend gave {id}, {replayed}"
            );
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for c in clients {
        acknowledged.extend(c.await.unwrap());
    }
    acknowledged.sort_by_key(|(id, _)| *id);
    let ids: std::collections::BTreeSet<i64> = acknowledged.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids.len(),
        CLIENTS * POSTS_EACH,
        "every acknowledged entry has its own id"
    );
    let (balances, journal) = ledger_state(&app).await;
    assert_eq!(
        journal,
        1 + CLIENTS * POSTS_EACH,
        "the journal holds each acknowledged entry once"
    );

    // The serial replay, in the order the server numbered them.
    let serial = app_for_replay(&serial_db).await;
    let officer = sign_in(&serial.router, "officer@norfolk.test").await;
    fund(&serial, &officer).await;
    let clerk = sign_in(&serial.router, "clerk@norfolk.test").await;
    for (_, form) in &acknowledged {
        post_entry(&serial, &clerk, form).await.unwrap();
    }
    let (serial_balances, serial_journal) = ledger_state(&serial).await;
    assert_eq!(journal, serial_journal);
    assert_eq!(
        balances, serial_balances,
        "the concurrent balances are the serial replay's"
    );
    concurrent_db.drop_database().await;
    serial_db.drop_database().await;
}

async fn app_for_replay(db: &Db) -> TestApp {
    app(db).await
}

/// Votes on item `k` (1-based) and the outcome they give: 120001 for, 120002 for on even
/// items, 120003 against on every third.
fn votes(k: usize) -> Vec<(String, String)> {
    let b = if k.is_multiple_of(2) { "for" } else { "against" };
    let c = if k.is_multiple_of(3) { "against" } else { "for" };
    let for_votes = 1 + usize::from(b == "for") + usize::from(c == "for");
    let declared = if for_votes >= 2 { "carried" } else { "lost" };
    fields(&[
        ("item", &k.to_string()),
        ("vote_120001", "for"),
        ("vote_120002", b),
        ("vote_120003", c),
        ("declared", declared),
    ])
}

/// A held meeting with every school present and `CLERKS` items, each with a motion; its path.
async fn meeting_with_items(app: &TestApp, clerk: &Browser) -> String {
    let r = post(
        &app.router,
        clerk,
        &format!("/clusters/{}/meetings", app.hill),
        &fields(&[
            ("date", "2025-02-10"),
            ("title", "Committee meeting"),
            ("location", "Hill"),
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let path = r.location().to_string();
    let mut attendance = Vec::new();
    for p in ["1", "2", "3", "4"] {
        attendance.push(("person".to_string(), p.to_string()));
        attendance.push((format!("status_{p}"), "present".to_string()));
    }
    let r = post(&app.router, clerk, &format!("{path}/attendance"), &attendance).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    for k in 1..=CLERKS {
        let r = post(
            &app.router,
            clerk,
            &format!("{path}/items"),
            &fields(&[("title", &format!("Item {k}"))]),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let r = post(
            &app.router,
            clerk,
            &format!("{path}/motion"),
            &fields(&[
                ("item", &k.to_string()),
                ("text", "That it be done."),
                ("proposer", "1"),
                ("seconder", "2"),
            ]),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    path
}

/// Records item `k`'s votes; a conflict (someone else saved the meeting first) is retried, as
/// the clerk would. Returns how many conflicts it met.
async fn record_votes(app: &TestApp, clerk: &Browser, path: &str, k: usize) -> usize {
    for attempt in 0..500 {
        let r = post(&app.router, clerk, &format!("{path}/votes"), &votes(k)).await;
        match r.status {
            StatusCode::SEE_OTHER => return attempt,
            StatusCode::CONFLICT => tokio::time::sleep(Duration::from_millis(1 + (attempt % 7) as u64)).await,
            s => panic!("item {k}: {s}: {}", r.body.chars().take(600).collect::<String>()),
        }
    }
    panic!("item {k}: still conflicting after 500 attempts");
}

async fn items(app: &TestApp, path: &str) -> Vec<String> {
    let id = MeetingId(path.trim_start_matches("/meetings/").parse().unwrap());
    let view = app.service.meeting(&app.officer, id).await.unwrap();
    view.record
        .items
        .iter()
        .map(|i| format!("{} {:?} {:?}", i.title, i.votes, i.recorded_outcome))
        .collect()
}

async fn votes_against_serial_replay(concurrent_db: Db, serial_db: Db) {
    let app = Arc::new(app(&concurrent_db).await);
    let clerk = sign_in(&app.router, "clerk@norfolk.test").await;
    let path = meeting_with_items(&app, &clerk).await;
    let mut clerks = Vec::new();
    for k in 1..=CLERKS {
        let app = app.clone();
        let path = path.clone();
        let who = sign_in(&app.router, "clerk@norfolk.test").await;
        clerks.push(tokio::spawn(async move { record_votes(&app, &who, &path, k).await }));
    }
    let mut conflicts = 0;
    for c in clerks {
        conflicts += c.await.unwrap();
    }
    eprintln!("{CLERKS} clerks recorded their votes, meeting {conflicts} conflicts on the way");
    let concurrent = items(&app, &path).await;
    assert!(
        concurrent.iter().all(|i| i.contains("Some(")),
        "every acknowledged item's votes are kept: {concurrent:#?}"
    );

    let serial = app_for_replay(&serial_db).await;
    let clerk = sign_in(&serial.router, "clerk@norfolk.test").await;
    let serial_path = meeting_with_items(&serial, &clerk).await;
    for k in 1..=CLERKS {
        assert_eq!(record_votes(&serial, &clerk, &serial_path, k).await, 0);
    }
    assert_eq!(concurrent, items(&serial, &serial_path).await);
    // The page agrees: the meeting shows every item decided.
    let page = send(&app.router, get(&path, Some(&clerk_cookie(&app).await))).await;
    assert_eq!(page.status, StatusCode::OK);
    concurrent_db.drop_database().await;
    serial_db.drop_database().await;
}

async fn clerk_cookie(app: &TestApp) -> String {
    sign_in(&app.router, "clerk@norfolk.test").await.cookie
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_clients_posting_to_the_same_accounts_match_a_serial_replay_on_sqlite() {
    ledger_against_serial_replay(Db::sqlite(), Db::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_clerks_recording_votes_at_once_match_a_serial_replay_on_sqlite() {
    votes_against_serial_replay(Db::sqlite(), Db::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_clients_posting_to_the_same_accounts_match_a_serial_replay_on_postgres() {
    let (Some(a), Some(b)) = (Db::postgres().await, Db::postgres().await) else {
        return;
    };
    ledger_against_serial_replay(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_clerks_recording_votes_at_once_match_a_serial_replay_on_postgres() {
    let (Some(a), Some(b)) = (Db::postgres().await, Db::postgres().await) else {
        return;
    };
    votes_against_serial_replay(a, b).await;
}

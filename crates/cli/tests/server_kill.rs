//! Crash safety of the running server (issue 8, item 1). The real `clusterwise serve` is started
//! on a database, driven with seeded random ledger postings over HTTP (receipts by an authority
//! officer, allocations and payments by a cluster clerk, some refused by the no-overspend rule,
//! some retried with the same idempotency key), and killed with SIGKILL at a seeded random
//! moment: between requests or while one is in flight. After every kill, with the server dead,
//! the database is opened and checked:
//!
//! - SQLite `PRAGMA integrity_check` is `ok` (PostgreSQL: `amcheck` on every B-tree index);
//! - the ledger audit is whole (every entry balanced, with all its lines, no orphans);
//! - every acknowledged posting (a `303` naming the entry) is present with the entry id it was
//!   acknowledged with; the journal holds exactly the keys found, each once;
//! - the kept balances equal the journal's sums and sum to zero: the ledger balances to the penny.
//!
//! Then the server is started again and the run goes on. The number of cycles is
//! `CLUSTERWISE_CRASH_CYCLES` (default 1,000, SQLite) and `CLUSTERWISE_CRASH_PG_CYCLES` (default
//! 100, PostgreSQL, when `CLUSTERWISE_TEST_POSTGRES_URL` is set); scripts/release-checks.sh runs
//! 10,000 and 1,000. The seed is
//! `CLUSTERWISE_CRASH_SEED` (printed, so a failure replays). The server's bearer-token JSON API
//! is not used yet: postings go through the HTML form routes with a session cookie and CSRF
//! token, which survive restarts because sessions are stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use domain::access::{Scope, UserRole};
use domain::ids::{AuthorityId, ClusterId, LaCode};
use service::import::{ImportKind, ImportOptions, ImportTarget};
use service::{Service, Store, SystemClock};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PASSWORD: &str = "crash harness password (synthetic)";
const LA: &str = "998";
const SCHOOLS: [u32; 4] = [998_001, 998_002, 998_003, 998_004];
const STREAM: &str = "Crash stream";

/// A small seeded generator (xorshift64*), so a run replays from its seed.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self, below: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) % below.max(1)
    }
}

// ---- a minimal HTTP/1.1 client (one request per connection) ----

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.split(';').next().unwrap_or_default().to_string())
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

fn request(
    addr: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> std::io::Result<Reply> {
    let body = form_encode(form);
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("a reply cut short"))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_string(),
    })
}

fn form_encode(form: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in form.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        for (j, part) in [k, v].iter().enumerate() {
            if j == 1 {
                out.push('=');
            }
            for b in part.bytes() {
                match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
                    b' ' => out.push('+'),
                    _ => out.push_str(&format!("%{b:02X}")),
                }
            }
        }
    }
    out
}

fn csrf_in(page: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.find(marker).expect("a csrf_token field") + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_string()
}

// ---- the server ----

struct Server {
    child: Child,
    addr: String,
}

fn start(db: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clusterwise"))
        .args(["serve", "--db", db, "--bind", "127.0.0.1:0"])
        .env("CLUSTERWISE_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the server exited before serving"
        );
        if let Some(rest) = line.trim().strip_prefix("Serving on http://") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    Server { child, addr }
}

// ---- set-up (in-process, before the first start) ----

struct Fixture {
    authority: AuthorityId,
    cluster: ClusterId,
}

async fn set_up(db: &str) -> Fixture {
    let store = store::connect(db).await.unwrap();
    let service = Service::new(Arc::new(store.clone()), Arc::new(SystemClock));
    let mut csv = String::from("urn,la_code,la_name,school_name,phase_type_grouping,pupils_headcount\n");
    for n in SCHOOLS {
        csv.push_str(&format!(
            "{n},{LA},Crash test authority (synthetic),Crash school {n},State-funded primary,300\n"
        ));
    }
    let options = ImportOptions {
        census_date: domain::NaiveDate::from_ymd_opt(2023, 1, 19),
        ..ImportOptions::default()
    };
    let report = service
        .import(ImportTarget::ByLaCode, ImportKind::Census, csv.as_bytes(), &options)
        .await
        .unwrap();
    assert!(report.written, "{:?}", report.rejected);
    let authority = store
        .authority_by_code(LaCode::parse(LA).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let mut members = String::from("urn,cluster,role\n");
    for (i, n) in SCHOOLS.iter().enumerate() {
        members.push_str(&format!(
            "{n},Crash cluster,{}\n",
            if i == 0 { "host" } else { "feeder" }
        ));
    }
    let report = service
        .import(
            ImportTarget::Authority(authority),
            ImportKind::Clusters,
            members.as_bytes(),
            &ImportOptions {
                effective: domain::NaiveDate::from_ymd_opt(2023, 9, 1),
                ..ImportOptions::default()
            },
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
    for (email, role, scope) in [
        ("officer@crash.test", UserRole::AuthorityOfficer, Scope::Authority),
        ("clerk@crash.test", UserRole::ClusterClerk, Scope::Cluster(cluster)),
    ] {
        service
            .create_user(authority, email, "Crash harness (synthetic)", role, scope, PASSWORD)
            .await
            .unwrap();
    }
    store.close().await;
    Fixture { authority, cluster }
}

/// A signed-in browser: session cookie and CSRF token (both survive restarts).
#[derive(Clone)]
struct Browser {
    cookie: String,
    csrf: String,
}

fn sign_in(addr: &str, email: &str) -> Browser {
    let form = request(addr, "GET", "/sign-in", None, &[]).unwrap();
    let pre = form.cookie("clusterwise_sign_in").unwrap();
    let r = request(
        addr,
        "POST",
        "/sign-in",
        Some(&pre),
        &[
            ("csrf_token", &csrf_in(&form.body)),
            ("email", email),
            ("password", PASSWORD),
        ],
    )
    .unwrap();
    assert_eq!(r.status, 303, "{email} signs in: {}", r.body);
    let cookie = r.cookie("clusterwise_session").unwrap();
    let home = request(addr, "GET", "/", Some(&cookie), &[]).unwrap();
    assert_eq!(home.status, 200);
    Browser {
        csrf: csrf_in(&home.body),
        cookie,
    }
}

// ---- the postings ----

/// One posting: its key and its form (the same content every time the key is sent).
#[derive(Clone, Debug)]
struct Posting {
    key: String,
    clerk: bool,
    fields: Vec<(&'static str, String)>,
}

fn posting(rng: &mut Seeded, n: u64) -> Posting {
    let key = format!("crash-{n:07}");
    let school = SCHOOLS[rng.next(4) as usize].to_string();
    let pounds = |rng: &mut Seeded, base: u64| format!("{}.{:02}", base + rng.next(base), rng.next(100));
    let fence = format!("all:{STREAM}");
    let (clerk, fields) = match rng.next(10) {
        0..=2 => (
            false,
            vec![
                ("kind", "receipt".to_string()),
                ("new_stream", STREAM.to_string()),
                ("new_phase", "all".to_string()),
                ("holder", "central".to_string()),
                ("amount", pounds(rng, 2_000)),
            ],
        ),
        3..=6 => (
            true,
            vec![
                ("kind", "allocation".to_string()),
                ("fence", fence),
                ("holder", "central".to_string()),
                ("to_holder", school),
                ("amount", pounds(rng, 400)),
            ],
        ),
        _ => (
            true,
            vec![
                ("kind", "payment".to_string()),
                ("fence", fence),
                ("holder", school),
                ("amount", pounds(rng, 150)),
            ],
        ),
    };
    let mut fields = fields;
    fields.push(("date", "2026-11-30".to_string()));
    fields.push(("memo", format!("Crash harness posting {n} (synthetic)")));
    Posting { key, clerk, fields }
}

/// What the server said to a posting.
enum Said {
    /// Acknowledged: committed as this entry (`true`: the server says it replayed the key).
    Posted(i64, bool),
    /// Refused by a rule (422): nothing stored.
    Refused,
    /// No whole reply (the server died): it may or may not have been stored.
    Unknown,
}

fn send_posting(addr: &str, cluster: ClusterId, who: &Browser, p: &Posting) -> Said {
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", &who.csrf), ("idempotency_key", &p.key)];
    form.extend(p.fields.iter().map(|(k, v)| (*k, v.as_str())));
    match request(
        addr,
        "POST",
        &format!("/clusters/{cluster}/budget/entries"),
        Some(&who.cookie),
        &form,
    ) {
        Ok(r) if r.status == 303 => {
            let loc = r.header("location").unwrap_or_default();
            let id = loc
                .split("posted=")
                .nth(1)
                .and_then(|s| s.split(['&', '#']).next())
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{}: a 303 that names no entry: {loc}", p.key));
            Said::Posted(id, loc.contains("replayed=yes"))
        }
        Ok(r) if r.status == 422 => Said::Refused,
        Ok(r) => panic!("{}: unexpected {} {}", p.key, r.status, r.body),
        Err(_) => Said::Unknown,
    }
}

// ---- the checks ----

#[derive(Default)]
struct Books {
    /// Every key acknowledged, with its entry id.
    acked: BTreeMap<String, i64>,
    /// Keys found stored (acknowledged or not), with their entry ids.
    present: BTreeMap<String, i64>,
    /// Keys sent whose fate is not known yet (no reply, or not yet looked up).
    pending: BTreeMap<String, Posting>,
    /// The latest postings sent, to send again as a client that lost the reply would.
    recent: Vec<Posting>,
    acknowledgements: u64,
    refusals: u64,
    unknown: u64,
    replays: u64,
}

async fn check(db: &str, fx: &Fixture, books: &mut Books, all_keys: bool) {
    let store = store::connect(db).await.unwrap();
    integrity(&store, db).await;
    store.ledger_durability().await.unwrap();
    let audit = store.ledger_audit(fx.authority).await.unwrap();
    assert!(audit.is_whole(), "{audit:?}");
    // Settle the keys whose fate was unknown: stored (once, by the unique key) or not.
    let pending: Vec<String> = books.pending.keys().cloned().collect();
    for key in pending {
        if let Some(found) = store.ledger_entry_by_key(fx.authority, &key).await.unwrap() {
            books.present.insert(key.clone(), found.entry.id.0);
        }
    }
    let to_check: Vec<(String, i64)> = if all_keys {
        books.acked.iter().map(|(k, v)| (k.clone(), *v)).collect()
    } else {
        books
            .acked
            .iter()
            .rev()
            .take(64)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    for (key, id) in to_check {
        let found = store
            .ledger_entry_by_key(fx.authority, &key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged {key} is missing"));
        assert_eq!(found.entry.id.0, id, "{key} changed its entry");
    }
    // Exactly once: the journal holds the keys found and nothing else.
    assert_eq!(
        audit.entries,
        u64::try_from(books.present.len()).unwrap(),
        "the journal and the keys found differ"
    );
    let snap = store.ledger_snapshot(fx.authority, fx.cluster).await.unwrap();
    let journal = store.ledger_journal(fx.authority, fx.cluster).await.unwrap();
    assert_eq!(snap.seq, i64::try_from(journal.len()).unwrap());
    assert_eq!(
        snap.balances,
        domain::funding::ledger::Balances::from_journal(journal.iter().map(|e| &e.body)).unwrap(),
        "kept balances differ from the journal's sums"
    );
    assert_eq!(snap.balances.sum(), Some(0), "the ledger does not balance to the penny");
    store.close().await;
}

async fn integrity(store: &store::SqlStore, db: &str) {
    if store.dialect() == store::Dialect::Sqlite {
        assert_eq!(store.integrity_check().await.unwrap(), "ok", "{db}");
        return;
    }
    use sqlx::{Connection, Executor, Row};
    let mut conn = sqlx::AnyConnection::connect(db).await.unwrap();
    conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck").await.unwrap();
    let rows = sqlx::query(
        "SELECT c.relname::text, bt_index_check(c.oid, true)::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE a.amname = 'btree' AND n.nspname = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("amcheck found a damaged index: {e}"));
    assert!(!rows.is_empty() && rows[0].try_get::<String, _>(0).is_ok());
    conn.close().await.unwrap();
}

// ---- the run ----

struct Figures {
    cycles: u64,
    mid_request_kills: u64,
    elapsed: Duration,
}

async fn run(db: &str, cycles: u64, seed: u64) -> (Books, Figures) {
    let fx = set_up(db).await;
    let mut rng = Seeded(seed);
    let mut books = Books::default();
    let began = Instant::now();
    let server = start(db);
    let officer = sign_in(&server.addr, "officer@crash.test");
    let clerk = sign_in(&server.addr, "clerk@crash.test");
    let mut server = Some(server);
    let mut next_key = 0u64;
    let mut mid_request = 0;
    for cycle in 0..cycles {
        let s = server.take().unwrap_or_else(|| start(db));
        // A batch: some retries of postings whose fate is unknown, then new ones.
        let mut batch: Vec<Posting> = Vec::new();
        for p in books.pending.values() {
            if rng.next(2) == 0 {
                batch.push(p.clone());
            }
        }
        if !books.recent.is_empty() && rng.next(3) == 0 {
            let i = rng.next(books.recent.len() as u64) as usize;
            batch.push(books.recent[i].clone());
        }
        for _ in 0..1 + rng.next(6) {
            let p = posting(&mut rng, next_key);
            next_key += 1;
            books.recent.push(p.clone());
            batch.push(p);
        }
        let keep = books.recent.len().saturating_sub(32);
        books.recent.drain(..keep);
        // Kill after a seeded number of replies plus a seeded delay: between requests or mid-way.
        let kill_after = rng.next(u64::try_from(batch.len()).unwrap() + 1);
        let delay = Duration::from_micros(rng.next(4_000));
        let said: Arc<Mutex<Vec<(Posting, Said)>>> = Arc::default();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let driver = {
            let (addr, said, officer, clerk, batch) = (
                s.addr.clone(),
                said.clone(),
                officer.clone(),
                clerk.clone(),
                batch.clone(),
            );
            let cluster = fx.cluster;
            std::thread::spawn(move || {
                for (i, p) in batch.into_iter().enumerate() {
                    if i as u64 == kill_after {
                        let _ = done_tx.send(());
                    }
                    let who = if p.clerk { &clerk } else { &officer };
                    let outcome = send_posting(&addr, cluster, who, &p);
                    let stop = matches!(outcome, Said::Unknown);
                    said.lock().unwrap().push((p, outcome));
                    if stop {
                        return;
                    }
                }
                let _ = done_tx.send(());
            })
        };
        let _ = done_rx.recv();
        let spin = Instant::now();
        while spin.elapsed() < delay {
            std::hint::spin_loop();
        }
        let mut s = s;
        s.child.kill().unwrap();
        s.child.wait().unwrap();
        driver.join().unwrap();
        let said = std::mem::take(&mut *said.lock().unwrap());
        if said.len() < batch.len() || said.iter().any(|(_, o)| matches!(o, Said::Unknown)) {
            mid_request += 1;
        }
        for (p, outcome) in said {
            match outcome {
                Said::Posted(id, replayed) => {
                    if let Some(before) = books.acked.insert(p.key.clone(), id) {
                        assert_eq!(before, id, "{} was acknowledged as two entries", p.key);
                    }
                    assert_eq!(
                        replayed,
                        books.present.contains_key(&p.key),
                        "{}: a replay exactly when the key was already stored",
                        p.key
                    );
                    books.replays += u64::from(replayed);
                    books.acknowledgements += 1;
                    if let Some(found) = books.present.insert(p.key.clone(), id) {
                        assert_eq!(
                            found, id,
                            "{} was stored as one entry and acknowledged as another",
                            p.key
                        );
                    }
                    books.pending.remove(&p.key);
                }
                Said::Refused => {
                    books.refusals += 1;
                    books.pending.remove(&p.key);
                    assert!(
                        !books.present.contains_key(&p.key),
                        "{} refused after being stored",
                        p.key
                    );
                }
                Said::Unknown => {
                    books.unknown += 1;
                    books.pending.insert(p.key.clone(), p);
                }
            }
        }
        // Postings never sent because of the kill stay unsent (their keys are simply not used).
        check(db, &fx, &mut books, cycle % 100 == 99 || cycle + 1 == cycles).await;
        // Stored pending ones are settled; keep retrying the rest.
        let present = &books.present;
        books.pending.retain(|k, _| !present.contains_key(k));
    }
    if let Some(mut s) = server {
        let _ = s.child.kill();
        let _ = s.child.wait();
    }
    let figures = Figures {
        cycles,
        mid_request_kills: mid_request,
        elapsed: began.elapsed(),
    };
    (books, figures)
}

fn cycles(var: &str, default: u64) -> u64 {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn seed() -> u64 {
    std::env::var("CLUSTERWISE_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x00C0_FFEE_D15C_0001)
}

fn report(backend: &str, seed: u64, books: &Books, f: &Figures) {
    let per = f.elapsed.as_secs_f64() * 1000.0 / f.cycles.max(1) as f64;
    println!(
        "crash harness ({backend}, seed {seed}): {} cycles (SIGKILL each; {} mid-request) in {:.1} s ({per:.0} ms a cycle); \
         {} acknowledged postings checked present once ({} distinct, {} replays), {} refused by a rule, {} unanswered \
         (settled after restart), journal {} entries; failures: 0",
        f.cycles,
        f.mid_request_kills,
        f.elapsed.as_secs_f64(),
        books.acknowledgements,
        books.acked.len(),
        books.replays,
        books.refusals,
        books.unknown,
        books.present.len(),
    );
    assert!(
        books.acked.len() as u64 > f.cycles / 2,
        "too few postings were acknowledged"
    );
    assert!(f.mid_request_kills > f.cycles / 10, "too few kills landed mid-request");
}

#[tokio::test]
async fn the_server_survives_sigkill_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db").display().to_string();
    let (seed, n) = (seed(), cycles("CLUSTERWISE_CRASH_CYCLES", 1_000));
    let (books, figures) = run(&db, n, seed).await;
    report("SQLite", seed, &books, &figures);
}

#[tokio::test]
async fn the_server_survives_sigkill_on_postgres() {
    let Ok(admin_url) = std::env::var("CLUSTERWISE_TEST_POSTGRES_URL") else {
        eprintln!("PostgreSQL crash harness not run: CLUSTERWISE_TEST_POSTGRES_URL is not set");
        return;
    };
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let name = format!("cw_crash_{}", std::process::id());
    let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b);
    let db = format!("{base}/{name}");
    let (seed, n) = (seed(), cycles("CLUSTERWISE_CRASH_PG_CYCLES", 100));
    let (books, figures) = run(&db, n.max(1), seed).await;
    report("PostgreSQL", seed, &books, &figures);
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
}

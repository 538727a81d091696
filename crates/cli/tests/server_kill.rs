//! Crash safety of the running server (issue 8, item 1). The real `clusterwise serve` is started
//! on a database, driven with seeded random ledger postings over HTTP (receipts by an authority
//! officer, allocations and payments by a cluster clerk, some refused by the no-overspend rule,
//! some retried with the same idempotency key) interleaved with committee votes through the JSON
//! API (the clerk's bearer token; a random school's for/against/abstain on one of two motions of
//! a held meeting, often changing the school's vote, sometimes the very same vote again, and
//! votes whose reply was lost sent again), and killed with SIGKILL at a seeded random moment:
//! between requests or while one is in flight. After every kill, with the server dead, the
//! database is opened and checked:
//!
//! - SQLite `PRAGMA integrity_check` is `ok` (PostgreSQL: `amcheck` on every B-tree index,
//!   every 100th cycle and at the end: PostgreSQL itself is never killed);
//! - the ledger audit is whole (every entry balanced, with all its lines, no orphans);
//! - every acknowledged posting (a `303` naming the entry) is present with the entry id it was
//!   acknowledged with (the 64 newest each cycle, all of them every 100th); the journal holds
//!   exactly the keys found, each once;
//! - the kept balances equal the journal's sums (in SQL each cycle; every 100th the whole
//!   journal read back and summed by the domain) and sum to zero: the ledger balances to the penny;
//! - every school's stored vote on each motion is the one last acknowledged (a `200`), or one
//!   sent after it whose reply was lost; at most one vote per school per motion; no vote that was
//!   never sent; no result declared. A vote's `changed` must say whether the stored vote was
//!   another.
//!
//! Then the server is started again and the run goes on. The number of cycles is
//! `CLUSTERWISE_CRASH_CYCLES` (default 1,000, SQLite) and `CLUSTERWISE_CRASH_PG_CYCLES` (default
//! 100, PostgreSQL, when `CLUSTERWISE_TEST_POSTGRES_URL` is set); scripts/release-checks.sh runs
//! 10,000 and 1,000, with a progress line every 500 cycles. The seed is
//! `CLUSTERWISE_CRASH_SEED` (printed, so a failure replays). Postings go through the HTML form
//! routes with a session cookie and CSRF token, which survive restarts because sessions are
//! stored; votes go through `POST /api/v1/meetings/{id}/motions/{n}/votes` (tokens are stored too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use domain::access::{Scope, UserRole};
use domain::governance::vote::Choice;
use domain::ids::{AuthorityId, ClusterId, LaCode, MeetingId, Urn};
use service::import::{ImportKind, ImportOptions, ImportTarget};
use service::meetings::{ConstitutionInput, MotionInput, PersonInput, ScheduleInput, SeatInput};
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
/// Motions on the harness's meeting that votes are recorded on.
const MOTIONS: usize = 2;

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
    exchange(addr, &req)
}

/// A JSON `POST` to the API with a bearer token.
fn api_post(addr: &str, token: &str, path: &str, body: &str) -> std::io::Result<Reply> {
    exchange(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn exchange(addr: &str, req: &str) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
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

#[derive(Clone)]
struct Fixture {
    authority: AuthorityId,
    cluster: ClusterId,
    /// A held meeting of the cluster's committee, every school present, with `MOTIONS` motions.
    meeting: MeetingId,
    /// The clerk's bearer token for the JSON API.
    clerk_token: String,
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
    let mut users = Vec::new();
    for (email, role, scope) in [
        ("officer@crash.test", UserRole::AuthorityOfficer, Scope::Authority),
        ("clerk@crash.test", UserRole::ClusterClerk, Scope::Cluster(cluster)),
    ] {
        users.push(
            service
                .create_user(authority, email, "Crash harness (synthetic)", role, scope, PASSWORD)
                .await
                .unwrap(),
        );
    }
    let meeting = committee_meeting(&service, &users[0], cluster).await;
    let clerk_token = service
        .create_api_token(
            "clerk@crash.test",
            "crash harness",
            366,
            service::store::TokenAccess::ReadWrite,
        )
        .await
        .unwrap()
        .token;
    store.close().await;
    Fixture {
        authority,
        cluster,
        meeting,
        clerk_token,
    }
}

/// The committee (a governor of each school with a voting seat, and a clerk) and a held
/// meeting with everyone present and `MOTIONS` motions to vote on, no votes yet.
async fn committee_meeting(service: &Service, officer: &domain::access::User, cluster: ClusterId) -> MeetingId {
    service
        .adopt_constitution(
            officer,
            cluster,
            &ConstitutionInput {
                preset: "norfolk".into(),
                casting_vote: false,
                effective_from: "2023-09-01".into(),
            },
        )
        .await
        .unwrap();
    let mut people = Vec::new();
    for n in SCHOOLS.iter().map(|n| n.to_string()).chain([String::new()]) {
        service
            .add_committee_person(
                officer,
                cluster,
                &PersonInput {
                    name: format!("Crash person {n} (synthetic)"),
                    governor_of: n.clone(),
                    ..PersonInput::default()
                },
            )
            .await
            .unwrap();
        people.push(n);
    }
    let register = service.committee(officer, cluster).await.unwrap().register;
    let mut attendance = Vec::new();
    for school in &people {
        let name = format!("Crash person {school} (synthetic)");
        let person = register
            .people
            .iter()
            .find(|p| p.details.name == name)
            .unwrap()
            .id
            .0
            .to_string();
        service
            .add_committee_seat(
                officer,
                cluster,
                &SeatInput {
                    kind: if school.is_empty() { "clerk" } else { "voting_governor" }.into(),
                    school: school.clone(),
                    person: person.clone(),
                    ..SeatInput::default()
                },
            )
            .await
            .unwrap();
        attendance.push((person, "present".to_string(), String::new()));
    }
    let meeting = service
        .schedule_meeting(
            officer,
            cluster,
            &ScheduleInput {
                date: "2026-11-02".into(),
                title: "Crash committee meeting (synthetic)".into(),
                location: "Crash school".into(),
            },
        )
        .await
        .unwrap();
    service.record_attendance(officer, meeting, &attendance).await.unwrap();
    for k in 1..=MOTIONS {
        let n = service
            .add_motion(
                officer,
                meeting,
                &format!("Crash motion {k}"),
                &MotionInput {
                    text: "That the harness goes on (synthetic).".into(),
                    proposer: attendance[0].0.clone(),
                    seconder: attendance[1].0.clone(),
                },
            )
            .await
            .unwrap();
        assert_eq!(n, k);
    }
    meeting
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

// ---- the votes ----

/// One school's vote on one motion, recorded through the JSON API by the clerk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Vote {
    motion: usize,
    school: u32,
    choice: Choice,
}

fn new_vote(rng: &mut Seeded, recent: &[Vote]) -> Vote {
    // Sometimes the very same vote again (a client re-sending), else a random one, which often
    // changes the school's earlier vote.
    if !recent.is_empty() && rng.next(4) == 0 {
        return recent[rng.next(recent.len() as u64) as usize];
    }
    Vote {
        motion: 1 + rng.next(MOTIONS as u64) as usize,
        school: SCHOOLS[rng.next(SCHOOLS.len() as u64) as usize],
        choice: [Choice::For, Choice::Against, Choice::Abstain][rng.next(3) as usize],
    }
}

/// What the server said to a vote.
enum Voted {
    /// Acknowledged (200); `true`: it changed what the school's vote was.
    Recorded(bool),
    /// No whole reply (the server died): it may or may not have been stored.
    Unknown,
}

fn send_vote(addr: &str, fx: &Fixture, v: Vote) -> Voted {
    let body = format!(r#"{{"school":"{}","choice":"{}"}}"#, v.school, v.choice.code());
    let path = format!("/api/v1/meetings/{}/motions/{}/votes", fx.meeting.0, v.motion);
    match api_post(addr, &fx.clerk_token, &path, &body) {
        Ok(r) if r.status == 200 => {
            // A reply cut short mid-body is no acknowledgement.
            let Ok(j) = serde_json::from_str::<serde_json::Value>(&r.body) else {
                return Voted::Unknown;
            };
            assert_eq!(j["school"], v.school.to_string(), "{v:?}: {}", r.body);
            assert_eq!(j["choice"], v.choice.code(), "{v:?}: {}", r.body);
            assert_eq!(j["motion"], v.motion, "{v:?}: {}", r.body);
            Voted::Recorded(j["changed"].as_bool().unwrap_or_else(|| panic!("{v:?}: {}", r.body)))
        }
        Ok(r) => panic!("{v:?}: unexpected {} {}", r.status, r.body),
        Err(_) => Voted::Unknown,
    }
}

/// What the harness knows of one school's vote on one motion.
#[derive(Default, Clone, Debug)]
struct Ballot {
    /// The stored vote as last acknowledged, or as found after a kill (`None`: no vote).
    stored: Option<Choice>,
    /// Votes sent since whose reply was lost: any one of them may be the stored vote now.
    maybe: Vec<Choice>,
}

/// A request in a cycle's batch, and what the server said to it.
#[derive(Clone, Debug)]
enum Op {
    Post(Posting),
    Vote(Vote),
}

enum Outcome {
    Post(Posting, Said),
    Vote(Vote, Voted),
}

/// Takes in what the server said to a vote.
fn vote_said(books: &mut Books, v: Vote, said: Voted) {
    let ballot = books.ballots.entry((v.motion, v.school)).or_default();
    match said {
        Voted::Recorded(changed) => {
            if ballot.maybe.is_empty() {
                assert_eq!(
                    changed,
                    ballot.stored != Some(v.choice),
                    "{v:?}: `changed` exactly when the stored vote was another ({ballot:?})"
                );
            } else if !changed {
                assert!(
                    ballot.stored == Some(v.choice) || ballot.maybe.contains(&v.choice),
                    "{v:?}: unchanged, yet never stored ({ballot:?})"
                );
            }
            ballot.stored = Some(v.choice);
            ballot.maybe.clear();
            books.votes_acknowledged += 1;
            books.votes_changed += u64::from(changed);
            books.votes_unchanged += u64::from(!changed);
        }
        Voted::Unknown => {
            ballot.maybe.push(v.choice);
            books.votes_unknown += 1;
            books.lost_votes.push(v);
        }
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
    /// Per (motion, school): what the stored vote must be.
    ballots: BTreeMap<(usize, u32), Ballot>,
    /// The latest votes sent, to send again.
    recent_votes: Vec<Vote>,
    /// Votes whose reply was lost in the last cycle, to retry.
    lost_votes: Vec<Vote>,
    votes_acknowledged: u64,
    votes_changed: u64,
    votes_unchanged: u64,
    votes_unknown: u64,
    votes_checked: u64,
}

/// The checks after a kill. Every cycle: SQLite's `integrity_check`, the ledger audit (in SQL:
/// every entry balanced with all its lines, no orphans, kept balances equal to the lines' sums),
/// the journal's length, its reconciliation in one SQL statement, the 64 newest acknowledged keys
/// and every vote. A `deep` check (every 100th cycle and the last) adds PostgreSQL's amcheck,
/// every acknowledged key, and the whole journal read back and summed in Rust by the domain.
async fn check(db: &str, fx: &Fixture, books: &mut Books, deep: bool) {
    let store = store::connect(db).await.unwrap();
    if deep || store.dialect() == store::Dialect::Sqlite {
        integrity(&store, db).await;
    }
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
    let to_check: Vec<(String, i64)> = if deep {
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
    let facts = store.ledger_journal_facts(fx.authority, fx.cluster).await.unwrap();
    assert_eq!(snap.seq, i64::try_from(facts.entries).unwrap(), "the journal's length");
    assert!(facts.reconciles, "kept balances differ from the journal's sums");
    if deep {
        let journal = store.ledger_journal(fx.authority, fx.cluster).await.unwrap();
        assert_eq!(snap.seq, i64::try_from(journal.len()).unwrap());
        assert_eq!(
            snap.balances,
            domain::funding::ledger::Balances::from_journal(journal.iter().map(|e| &e.body)).unwrap(),
            "kept balances differ from the journal's sums"
        );
    }
    assert_eq!(snap.balances.sum(), Some(0), "the ledger does not balance to the penny");
    check_votes(&store, fx, books).await;
    store.close().await;
}

/// Every acknowledged vote is stored with the value last acknowledged, unless a later vote whose
/// reply was lost replaced it; one vote per school per motion; no vote that was never sent. The
/// stored votes then become what is known.
async fn check_votes(store: &store::SqlStore, fx: &Fixture, books: &mut Books) {
    let record = store.meeting(fx.authority, fx.meeting).await.unwrap().unwrap();
    assert_eq!(record.items.len(), MOTIONS, "the meeting's items changed");
    for (i, item) in record.items.iter().enumerate() {
        let motion = i + 1;
        assert!(
            item.recorded_outcome.is_none(),
            "motion {motion}: a result was declared"
        );
        for (n, (school, _)) in item.votes.iter().enumerate() {
            assert!(
                SCHOOLS.contains(&school.get()),
                "motion {motion}: a vote from {school}, which was never sent"
            );
            assert!(
                item.votes[n + 1..].iter().all(|(u, _)| u != school),
                "motion {motion}: {school} has two votes: {:?}",
                item.votes
            );
        }
        for school in SCHOOLS {
            let urn = Urn::from_u32(school).unwrap();
            let found = item.votes.iter().find(|(u, _)| *u == urn).map(|(_, c)| *c);
            let ballot = books.ballots.entry((motion, school)).or_default();
            assert!(
                found == ballot.stored || found.is_some_and(|c| ballot.maybe.contains(&c)),
                "motion {motion}, school {school}: stored {found:?}, expected {ballot:?}"
            );
            books.votes_checked += u64::from(ballot.stored.is_some());
            ballot.stored = found;
            ballot.maybe.clear();
        }
    }
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
    let mut lap = began;
    let server = start(db);
    let officer = sign_in(&server.addr, "officer@crash.test");
    let clerk = sign_in(&server.addr, "clerk@crash.test");
    let mut server = Some(server);
    let mut next_key = 0u64;
    let mut mid_request = 0;
    for cycle in 0..cycles {
        let s = server.take().unwrap_or_else(|| start(db));
        // A batch: some retries of postings and votes whose fate is unknown, re-sends, new
        // postings and new votes, in a seeded order.
        let mut batch: Vec<Op> = Vec::new();
        for p in books.pending.values() {
            if rng.next(2) == 0 {
                batch.push(Op::Post(p.clone()));
            }
        }
        for v in std::mem::take(&mut books.lost_votes) {
            if rng.next(2) == 0 {
                batch.push(Op::Vote(v));
            }
        }
        if !books.recent.is_empty() && rng.next(3) == 0 {
            let i = rng.next(books.recent.len() as u64) as usize;
            batch.push(Op::Post(books.recent[i].clone()));
        }
        for _ in 0..1 + rng.next(6) {
            let p = posting(&mut rng, next_key);
            next_key += 1;
            books.recent.push(p.clone());
            batch.push(Op::Post(p));
        }
        let keep = books.recent.len().saturating_sub(32);
        books.recent.drain(..keep);
        for _ in 0..rng.next(4) {
            let v = new_vote(&mut rng, &books.recent_votes);
            books.recent_votes.push(v);
            batch.push(Op::Vote(v));
        }
        let keep = books.recent_votes.len().saturating_sub(8);
        books.recent_votes.drain(..keep);
        for i in (1..batch.len()).rev() {
            batch.swap(i, rng.next(i as u64 + 1) as usize);
        }
        // Kill after a seeded number of replies plus a seeded delay: between requests or mid-way.
        let kill_after = rng.next(u64::try_from(batch.len()).unwrap() + 1);
        let delay = Duration::from_micros(rng.next(4_000));
        let said: Arc<Mutex<Vec<Outcome>>> = Arc::default();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let driver = {
            let (addr, said, officer, clerk, batch) = (
                s.addr.clone(),
                said.clone(),
                officer.clone(),
                clerk.clone(),
                batch.clone(),
            );
            let fx = fx.clone();
            std::thread::spawn(move || {
                for (i, op) in batch.into_iter().enumerate() {
                    if i as u64 == kill_after {
                        let _ = done_tx.send(());
                    }
                    let (outcome, stop) = match op {
                        Op::Post(p) => {
                            let who = if p.clerk { &clerk } else { &officer };
                            let o = send_posting(&addr, fx.cluster, who, &p);
                            let stop = matches!(o, Said::Unknown);
                            (Outcome::Post(p, o), stop)
                        }
                        Op::Vote(v) => {
                            let o = send_vote(&addr, &fx, v);
                            let stop = matches!(o, Voted::Unknown);
                            (Outcome::Vote(v, o), stop)
                        }
                    };
                    said.lock().unwrap().push(outcome);
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
        if said.len() < batch.len()
            || said
                .iter()
                .any(|o| matches!(o, Outcome::Post(_, Said::Unknown) | Outcome::Vote(_, Voted::Unknown)))
        {
            mid_request += 1;
        }
        for outcome in said {
            let (p, outcome) = match outcome {
                Outcome::Post(p, o) => (p, o),
                Outcome::Vote(v, o) => {
                    vote_said(&mut books, v, o);
                    continue;
                }
            };
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
        if (cycle + 1) % 500 == 0 && cycle + 1 < cycles {
            let took = lap.elapsed();
            // What the integrity check costs at this size.
            let store = store::connect(db).await.unwrap();
            let t = Instant::now();
            integrity(&store, db).await;
            let integrity_ms = t.elapsed().as_secs_f64() * 1000.0;
            store.close().await;
            eprintln!(
                "crash harness: {} of {cycles} cycles, {:.0} s in, {:.0} ms a cycle over the last 500, journal {} entries; \
                 integrity check {integrity_ms:.0} ms",
                cycle + 1,
                began.elapsed().as_secs_f64(),
                took.as_secs_f64() * 2.0,
                books.present.len(),
            );
            lap = Instant::now();
        }
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
         (settled after restart), journal {} entries; {} acknowledged votes ({} changed a school's vote, {} re-sends \
         changing nothing), {} unanswered, {} stored votes checked against the last acknowledged; failures: 0",
        f.cycles,
        f.mid_request_kills,
        f.elapsed.as_secs_f64(),
        books.acknowledgements,
        books.acked.len(),
        books.replays,
        books.refusals,
        books.unknown,
        books.present.len(),
        books.votes_acknowledged,
        books.votes_changed,
        books.votes_unchanged,
        books.votes_unknown,
        books.votes_checked,
    );
    assert!(
        books.acked.len() as u64 > f.cycles / 2,
        "too few postings were acknowledged"
    );
    assert!(f.mid_request_kills > f.cycles / 10, "too few kills landed mid-request");
    assert!(
        books.votes_acknowledged > f.cycles / 4 && books.votes_unchanged > 0 && books.votes_unknown > 0,
        "too few votes were acknowledged, re-sent or cut off"
    );
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

//! Casework and privacy over HTTP, on the Norfolk demo: the authorisation matrix over every route
//! of the router × every demo role × own/other scope; an audit row for every pupil-data read and
//! refusal; marker strings that must never reach list views, other roles' pages and exports, or
//! the log; subject access; retention.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use domain::casework::mentor::{MentorCase, MentorPolicy, Outcome, Referral, ReferralReason};
use domain::casework::transition::{Receiving, TransitionKind, TransitionRecord};
use domain::casework::{CaseId, Pupil, PupilId, TransitionId};
use domain::ids::Urn;
use domain::privacy::audit::{ChainStatus, Outcome as AuditOutcome, verify_chain};
use service::casework::{AuditQuery, CaseworkFilter};
use service::{Service, SystemClock};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use support::{Reply, get, post_form};

const NORFOLK: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/real/norfolk_schools_spc_2022_23.csv"
));
const MARKER: &str = "MARKER-c4sew0rk";
const ROLES: [&str; 8] = [
    "officer",
    "adviser",
    "evaluator",
    "dpo",
    "clerk",
    "head",
    "governor",
    "mentor",
];

/// Sends through the shared harness, then appends any `Location` and `Set-Cookie` to the body so
/// that the matrix's checks (and their failure messages) see where a reply sends the browser.
async fn send(router: &Router, request: Request<Body>) -> Reply {
    let mut reply = support::send(router, request).await;
    if let Some(l) = reply.headers.get(header::LOCATION) {
        let line = format!("\n[location: {}]", l.to_str().unwrap_or_default());
        reply.body.push_str(&line);
    }
    if let Some(c) = reply.headers.get(header::SET_COOKIE) {
        let line = format!("\n[set-cookie: {}]", c.to_str().unwrap_or_default());
        reply.body.push_str(&line);
    }
    reply
}

fn post_multipart(path: &str, cookie: &str, csrf: &str) -> Request<Body> {
    let body = format!("--x\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n--x--\r\n");
    Request::post(path)
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=x")
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .unwrap()
}

/// Signs in as the demo account `{who}@demo.clusterwise.test`.
async fn sign_in(router: &Router, who: &str) -> (String, String) {
    let email = format!("{who}@demo.clusterwise.test");
    support::sign_in(router, &email, service::demo::DEMO_PASSWORD).await
}

/// Log output captured for the whole test (the service and web layers log through `tracing`).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();

/// The log of every test in this file, captured in one place (a process-wide subscriber: a
/// per-thread one would miss events whose callsites another thread saw first).
fn capture() -> Captured {
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(captured.clone())
                .with_max_level(tracing::Level::DEBUG)
                .with_ansi(false)
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
            captured
        })
        .clone()
}

/// The demo, and the records the tests aim at.
struct Demo {
    router: Router,
    service: Service,
    authority: domain::ids::AuthorityId,
    host: Urn,
    own_pupil: Pupil,
    other_pupil: Pupil,
    own_case: CaseId,
    other_case: CaseId,
    own_transition_out: TransitionId,
    other_transition_out: TransitionId,
    own_transition_in: TransitionId,
    other_transition_in: TransitionId,
    own_cluster: i64,
    other_cluster: i64,
    own_placement: domain::casework::PlacementId,
    other_placement: domain::casework::PlacementId,
}

async fn demo() -> Demo {
    capture();
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(SystemClock));
    service.build_demo(NORFOLK).await.unwrap();
    let s = service.store();
    let (head, _) = s.user_credentials("head@demo.clusterwise.test").await.unwrap().unwrap();
    let (clerk, _) = s
        .user_credentials("clerk@demo.clusterwise.test")
        .await
        .unwrap()
        .unwrap();
    let domain::access::Scope::School(host) = head.scope else {
        panic!("head is school-scoped")
    };
    let domain::access::Scope::Cluster(own_cluster) = clerk.scope else {
        panic!("clerk is cluster-scoped")
    };
    let a = head.authority;
    let pupils = s.pupils(a, &CaseworkFilter::default()).await.unwrap();
    let own_pupil = pupils.iter().find(|p| p.school == host).unwrap().clone();
    let other_pupil = pupils
        .iter()
        .find(|p| p.school != host && p.year_group.get() >= 7 && p.left_on.is_none())
        .unwrap()
        .clone();
    let today = service.clock().today();
    let policy = MentorPolicy::default();
    // The own case carries marker text in every free-text field.
    let mut own = MentorCase::refer(
        Referral {
            pupil: own_pupil.id,
            school: host,
            mentor: None,
            referred_on: today,
            referred_by: "Head of Year".into(),
            reason: ReferralReason::Wellbeing,
            note: format!("{MARKER} referral"),
        },
        today,
    )
    .unwrap();
    own.agree_plan(&[format!("{MARKER} target")], &format!("{MARKER} exit"), today, &policy)
        .unwrap();
    own.log_session(today, 30, &format!("{MARKER} session")).unwrap();
    own.review(
        today,
        Outcome::PartlyMet,
        &format!("{MARKER} review"),
        None,
        None,
        &policy,
    )
    .unwrap();
    let own_case = s.save_mentor_case(a, &own).await.unwrap();
    let other = MentorCase::refer(
        Referral {
            pupil: other_pupil.id,
            school: other_pupil.school,
            mentor: None,
            referred_on: today,
            referred_by: "Head of Year".into(),
            reason: ReferralReason::Behaviour,
            note: format!("{MARKER} other school's referral"),
        },
        today,
    )
    .unwrap();
    let other_case = s.save_mentor_case(a, &other).await.unwrap();
    let transition = |pupil: &Pupil, to: Receiving| TransitionRecord {
        id: TransitionId(0),
        pupil: pupil.id,
        from: pupil.school,
        to,
        kind: TransitionKind::MidYear,
        flags: vec![],
        note: "For the receiving school".into(),
        sent_on: today,
        acknowledged: None,
    };
    let own_transition_out = s
        .save_transition(
            a,
            &transition(
                &own_pupil,
                Receiving::Outside {
                    name: "Elsewhere".into(),
                },
            ),
        )
        .await
        .unwrap();
    let other_transition_out = s
        .save_transition(
            a,
            &transition(
                &other_pupil,
                Receiving::Outside {
                    name: "Elsewhere".into(),
                },
            ),
        )
        .await
        .unwrap();
    let other_transition_in = s
        .save_transition(a, &transition(&own_pupil, Receiving::School(other_pupil.school)))
        .await
        .unwrap();
    let own_transition_in = s
        .transitions(a, &CaseworkFilter::school(host))
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.to == Receiving::School(host) && t.acknowledged.is_none())
        .unwrap()
        .id;
    let placement = |pupil: &Pupil| domain::casework::lsu::LsuPlacement {
        id: domain::casework::PlacementId(0),
        pupil: pupil.id,
        school: pupil.school,
        referred_on: today,
        stages_met: 3,
        starts_on: today,
        planned_end: today + domain::Days::new(70),
        mode: domain::casework::lsu::LsuMode::FullTime,
        agreed_with_pupil: true,
        agreed_with_parent: true,
        reintegration_plan: "Maths first".into(),
        supported_lessons: 4,
        before: domain::casework::lsu::Measures::default(),
        during: domain::casework::lsu::Measures::default(),
        after: None,
        ended_on: None,
    };
    let own_placement = s.save_lsu_placement(a, &placement(&own_pupil)).await.unwrap();
    let other_placement = s.save_lsu_placement(a, &placement(&other_pupil)).await.unwrap();
    let other_cluster = s
        .list_clusters(a, today)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.cluster.id)
        .find(|c| *c != own_cluster)
        .unwrap();
    Demo {
        router: web::router(service.clone(), web::WebConfig::default()),
        authority: a,
        host,
        own_pupil,
        other_pupil,
        own_case,
        other_case,
        own_transition_out,
        other_transition_out,
        own_transition_in,
        other_transition_in,
        own_cluster: own_cluster.0,
        other_cluster: other_cluster.0,
        own_placement,
        other_placement,
        service,
    }
}

/// Who may use a route: the matrix the router is tested against. "Own" is the role's own
/// cluster or school: the clerk's cluster (the demo's biggest) and its host school; the head's
/// and mentor's school (that host); the governor's school (a feeder of the same cluster). "Other"
/// is another cluster, or a school of another cluster. The authority's roles (officer, adviser,
/// evaluator, DPO) have no "own": what they may do, they may do for any cluster or school.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Reachable signed out.
    Public,
    /// Every signed-in role.
    All,
    /// These roles, for records of their own school or cluster (or with no record); nobody for
    /// another's.
    Own(&'static [&'static str]),
    /// These roles for their own school's or cluster's records, and these for any.
    OwnOrAny(&'static [&'static str], &'static [&'static str]),
    /// These roles reach the route but the record does not exist (404); everyone else is refused (403).
    Missing(&'static [&'static str]),
    /// A route whose `{action}` segment names what to do: each action is checked as a row of its own.
    Actions(&'static [(&'static str, Expect)]),
}

const OFFICER: &[&str] = &["officer"];
const CLERK: &[&str] = &["clerk"];
/// The authority's people (`Scope::Authority`).
const AUTHORITY: &[&str] = &["officer", "adviser", "evaluator", "dpo"];
/// Who reads design scenarios, the authority's FADE summary and any cluster's plan and reports.
const OFFICER_ADVISER_EVALUATOR: &[&str] = &["officer", "adviser", "evaluator"];
/// A cluster's clerk and its schools' heads, governors and staff.
const CLUSTER_AND_SCHOOLS: &[&str] = &["clerk", "head", "governor", "mentor"];
/// The cluster's clerk, and authority officers, run its committee (`meetings::access_for`).
const RUNS_COMMITTEE: Expect = Expect::OwnOrAny(CLERK, OFFICER);
/// Read a committee's business: its clerk and its schools' heads and governors; officers and
/// advisers for any (`meetings::access_for`: evaluators, strand staff and the DPO take no part).
const READS_COMMITTEE: Expect = Expect::OwnOrAny(&["clerk", "head", "governor"], &["officer", "adviser"]);
/// Read a cluster's plan, FADE reports, snapshot and questionnaires (`evaluation::access`).
const READS_EVALUATION: Expect = Expect::OwnOrAny(CLUSTER_AND_SCHOOLS, OFFICER_ADVISER_EVALUATOR);
/// Every action of the committee page changes its register: whoever runs the committee.
const COMMITTEE_ACTIONS: &[(&str, Expect)] = &[
    ("people", RUNS_COMMITTEE),
    ("seats", RUNS_COMMITTEE),
    ("seat", RUNS_COMMITTEE),
    ("constitution", RUNS_COMMITTEE),
    ("review", RUNS_COMMITTEE),
];
/// A meeting's steps are recorded by whoever runs the committee, except a school's receipt and
/// adoption of the minutes, which its own head or a governor records. (`minutes` is a route of
/// its own.)
const MEETING_ACTIONS: &[(&str, Expect)] = &[
    ("notice", RUNS_COMMITTEE),
    ("items", RUNS_COMMITTEE),
    ("papers", RUNS_COMMITTEE),
    ("attendance", RUNS_COMMITTEE),
    ("declarations", RUNS_COMMITTEE),
    ("motion", RUNS_COMMITTEE),
    ("votes", RUNS_COMMITTEE),
    ("clear-votes", RUNS_COMMITTEE),
    ("elections", RUNS_COMMITTEE),
    ("ballots", RUNS_COMMITTEE),
    ("chair-pick", RUNS_COMMITTEE),
    ("actions", RUNS_COMMITTEE),
    ("action-done", RUNS_COMMITTEE),
    ("draft-minutes", RUNS_COMMITTEE),
    ("distribute", RUNS_COMMITTEE),
    ("receipt", Expect::Own(&["head", "governor"])),
];

fn expectation(method: &str, path: &str) -> Option<Expect> {
    use Expect::*;
    const HEAD_MENTOR: &[&str] = &["head", "mentor"];
    Some(match (method, path) {
        ("GET", "/health") | ("GET", "/sign-in") | ("POST", "/sign-in") | ("GET", "/assets/{*path}") => Public,
        ("GET", "/") | ("GET", "/schools") | ("GET", "/schools/{urn}") | ("GET", "/clusters") => All,
        ("GET", "/clusters/{id}") | ("GET", "/map") | ("GET", "/governance") | ("GET", "/governance.csv") => All,
        ("GET", "/import") | ("POST", "/import") => Own(OFFICER),
        ("GET", "/import/{run}") => Missing(OFFICER),
        ("POST", "/sign-out") => All,
        // ---- policies (service::policies) ----
        // Everyone signed in reads the policies; only authority officers write them
        // (`require_policy_editor`).
        ("GET", "/funding") | ("GET", "/funding/{id}") => All,
        ("GET", "/funding/new") | ("POST", "/funding/new") => Own(OFFICER),
        ("GET", "/funding/{id}/edit") | ("POST", "/funding/{id}/edit") | ("POST", "/funding/{id}/in-force") => {
            Own(OFFICER)
        }
        // Comparing scenarios shows every school of the cluster: the authority's people and the
        // cluster's clerk (`sees_every_school_of`).
        ("GET", "/funding/compare") | ("POST", "/funding/compare") => OwnOrAny(CLERK, AUTHORITY),
        // Funding under a design scenario's map: those who see design scenarios.
        ("GET", "/funding/maps") => Own(OFFICER_ADVISER_EVALUATOR),
        // The termly narrative: the cluster's clerk, or an officer (`may_write_narrative`).
        ("GET", "/funding/narrative/{cluster}") | ("POST", "/funding/narrative/{cluster}") => OwnOrAny(CLERK, OFFICER),
        // A school's statement and governing-body report: the authority's people, the clerk of
        // its cluster, its own head, governors and staff (`school_access`).
        ("GET", "/schools/{urn}/statement")
        | ("GET", "/schools/{urn}/statement.csv")
        | ("GET", "/schools/{urn}/report")
        | ("GET", "/schools/{urn}/report.html") => OwnOrAny(CLUSTER_AND_SCHOOLS, AUTHORITY),
        // ---- meetings (service::meetings::access_for) ----
        ("GET", "/clusters/{id}/committee")
        | ("GET", "/clusters/{id}/meetings")
        | ("GET", "/meetings/{id}")
        | ("GET", "/meetings/{id}/minutes") => READS_COMMITTEE,
        ("POST", "/clusters/{id}/committee/{action}") => Actions(COMMITTEE_ACTIONS),
        ("POST", "/clusters/{id}/meetings") | ("POST", "/meetings/{id}/minutes") => RUNS_COMMITTEE,
        ("POST", "/meetings/{id}/{action}") => Actions(MEETING_ACTIONS),
        // ---- ledger (service::ledger::ledger_access) ----
        // Heads and governors read their school's part; evaluators the totals; strand staff and
        // the DPO have no part.
        ("GET", "/clusters/{id}/budget") => OwnOrAny(&["clerk", "head", "governor"], OFFICER_ADVISER_EVALUATOR),
        // Officers post receipts (any cluster); the cluster's own clerk everything else.
        ("GET", "/clusters/{id}/budget/entries/new") | ("POST", "/clusters/{id}/budget/entries") => {
            OwnOrAny(CLERK, OFFICER)
        }
        // The entry is an allocation, which only the clerk who posts allocations may reverse
        // (officers reverse receipts only).
        ("GET", "/clusters/{id}/budget/entries/{entry}/reverse")
        | ("POST", "/clusters/{id}/budget/entries/{entry}/reverse") => Own(CLERK),
        ("GET", "/clusters/{id}/budget/exceptions/new") | ("POST", "/clusters/{id}/budget/exceptions") => {
            OwnOrAny(&[], OFFICER)
        }
        ("GET", "/clusters/{id}/budget/staff/new")
        | ("POST", "/clusters/{id}/budget/staff")
        | ("POST", "/clusters/{id}/budget/horizon") => Own(CLERK),
        // ---- design (service::design::may_view / may_run) ----
        ("GET", "/design") | ("GET", "/design/compare") | ("GET", "/design/{id}") => Own(OFFICER_ADVISER_EVALUATOR),
        ("POST", "/design") | ("POST", "/design/{id}/adopt") => Own(OFFICER),
        // ---- casework ----
        ("GET", "/casework") | ("GET", "/casework/aggregates") | ("GET", "/privacy/fields") => All,
        ("POST", "/casework/pupils") | ("GET", "/casework/pupils/new") => Own(HEAD_MENTOR),
        ("GET", "/casework/pupils/{id}") => Own(HEAD_MENTOR),
        ("POST", "/casework/pupils/{id}/transition") => Own(&["head"]),
        // The demo mentor works in the mentor strand only: no LSU placements either.
        ("POST", "/casework/pupils/{id}/lsu") | ("POST", "/casework/placements/{id}/end") => Own(&["head"]),
        ("GET", "/casework/pupils/{id}/subject-access") | ("GET", "/casework/pupils/{id}/subject-access.json") => {
            OwnOrAny(&["head"], &["dpo"])
        }
        ("GET", "/casework/pupils/{id}/educational-record")
        | ("GET", "/casework/pupils/{id}/educational-record.json") => Own(HEAD_MENTOR),
        ("POST", "/casework/cases") | ("GET", "/casework/cases/new") | ("GET", "/casework/cases/{id}") => {
            Own(HEAD_MENTOR)
        }
        ("POST", "/casework/cases/{id}/plan")
        | ("POST", "/casework/cases/{id}/sessions")
        | ("POST", "/casework/cases/{id}/review")
        | ("POST", "/casework/cases/{id}/follow-up") => Own(HEAD_MENTOR),
        // The demo mentor works in the mentor strand only: no G&T register.
        ("GET", "/casework/gt") | ("POST", "/casework/gt") => Own(&["head"]),
        ("GET", "/casework/transitions/{id}") | ("POST", "/casework/transitions/{id}/acknowledge") => Own(&["head"]),
        ("GET", "/privacy/audit") => Own(&["dpo"]),
        ("GET", "/privacy/retention") | ("POST", "/privacy/retention") => Own(&["dpo", "officer"]),
        // ---- evaluation (domain::evaluation::access::authorise) ----
        ("GET", "/evaluation") | ("GET", "/evaluation/representation") | ("GET", "/questionnaires") => All,
        ("GET", "/metrics/import") | ("POST", "/metrics/import") | ("POST", "/fade/settings") => Own(OFFICER),
        ("GET", "/clusters/{id}/plan")
        | ("GET", "/clusters/{id}/fade")
        | ("GET", "/clusters/{id}/fade/{due}")
        | ("GET", "/clusters/{id}/snapshot")
        | ("GET", "/questionnaires/{id}") => READS_EVALUATION,
        // The plan and the cluster's side of the report: the cluster's own clerk.
        ("POST", "/clusters/{id}/plan/priorities")
        | ("POST", "/clusters/{id}/plan/activities")
        | ("POST", "/clusters/{id}/plan/targets")
        | ("POST", "/clusters/{id}/plan/remove")
        | ("POST", "/clusters/{id}/fade/{due}") => Own(CLERK),
        // The clerk records the cluster's judgement; officers and advisers the authority's (the
        // form names the side: see `form_for`).
        ("POST", "/clusters/{id}/fade/{due}/judgement") => OwnOrAny(CLERK, &["officer", "adviser"]),
        ("GET", "/fade") => Own(OFFICER_ADVISER_EVALUATOR),
        ("POST", "/questionnaires") => Own(&["officer", "adviser"]),
        // Answered by the head of a school it was sent to.
        ("POST", "/questionnaires/{id}") => Own(&["head"]),
        // ---- api (the same service checks as the pages; sent with each role's bearer token) ----
        ("GET", "/api/v1/openapi.json") => Public,
        ("GET", "/api/v1/schools") | ("GET", "/api/v1/clusters") | ("GET", "/api/v1/clusters/{id}") => All,
        // Everyone who reads the cluster; the lines shown are the service's choice.
        ("GET", "/api/v1/clusters/{id}/allocation") => All,
        ("GET", "/api/v1/clusters/{id}/ledger") | ("GET", "/api/v1/clusters/{id}/ledger/entries") => {
            OwnOrAny(&["clerk", "head", "governor"], OFFICER_ADVISER_EVALUATOR)
        }
        ("POST", "/api/v1/clusters/{id}/ledger/entries") => OwnOrAny(CLERK, OFFICER),
        ("GET", "/api/v1/clusters/{id}/meetings")
        | ("GET", "/api/v1/meetings/{id}")
        | ("GET", "/api/v1/meetings/{id}/motions/{motion}/votes") => READS_COMMITTEE,
        ("POST", "/api/v1/meetings/{id}/motions") | ("POST", "/api/v1/meetings/{id}/motions/{motion}/votes") => {
            RUNS_COMMITTEE
        }
        _ => return None,
    })
}

/// Every (method, path) the router is built from, read from the router's source, so a route added
/// without an entry in [`expectation`] fails the test.
fn routes() -> Vec<(String, String)> {
    let source = include_str!("../src/lib.rs");
    let mut out = Vec::new();
    for (start, _) in source.match_indices(".route(") {
        // The call's text, to its closing parenthesis (rustfmt may spread it over lines).
        let call = &source[start + ".route(".len()..];
        let mut depth = 1;
        let end = call
            .char_indices()
            .find_map(|(i, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(i)
            })
            .unwrap();
        let call = &call[..end];
        let path = call.split('"').nth(1).unwrap().to_string();
        let handlers = call.split('"').nth(2).unwrap();
        for (needle, method) in [("get(", "GET"), ("post(", "POST")] {
            if handlers.contains(needle) {
                out.push((method.to_string(), path.clone()));
            }
        }
    }
    out
}

/// The records of the demo the matrix aims at, beyond the casework ones: for each, one of the
/// clerk's cluster (own) and one of another cluster (other).
struct Records {
    /// The governor's school: a feeder of the clerk's cluster.
    feeder: Urn,
    /// The host school of the other cluster.
    other_school: Urn,
    /// Meetings whose minutes are approved (so closed to change, and printable to members).
    own_meeting: i64,
    other_meeting: i64,
    own_questionnaire: i64,
    other_questionnaire: i64,
    /// The policy in force, its version in force and the period it is in force for.
    policy: i64,
    in_force_version: i64,
    period: String,
    /// The demo's illustrative design scenario.
    scenario: i64,
    /// An allocation in each cluster's ledger.
    own_entry: i64,
    other_entry: i64,
    /// A FADE round's due date.
    due: String,
    today: domain::NaiveDate,
}

async fn records(d: &Demo) -> Records {
    use domain::cluster::MembershipRole;
    use domain::funding::ledger::EntryKind;
    let s = d.service.store();
    let a = d.authority;
    let today = d.service.clock().today();
    let user = async |who: &str| {
        s.user_credentials(&format!("{who}@demo.clusterwise.test"))
            .await
            .unwrap()
            .unwrap()
            .0
    };
    let officer = user("officer").await;
    let domain::access::Scope::School(feeder) = user("governor").await.scope else {
        panic!("the governor is school-scoped")
    };
    let (own, other) = (
        domain::ids::ClusterId(d.own_cluster),
        domain::ids::ClusterId(d.other_cluster),
    );
    let other_detail = s.cluster(a, other, today).await.unwrap().unwrap();
    let other_school = other_detail
        .members
        .iter()
        .find(|(_, r, _)| *r == MembershipRole::Host)
        .map(|(s, _, _)| s.school.urn)
        .unwrap();
    let meeting = async |c| {
        s.cluster_meetings(a, c)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.approved.is_some() && m.minutes_text.is_some())
            .and_then(|m| m.id)
            .expect("a meeting with approved minutes")
            .0
    };
    let own_questionnaire = s
        .questionnaires(a)
        .await
        .unwrap()
        .into_iter()
        .find(|q| q.cluster == own)
        .expect("the demo's questionnaire in the clerk's cluster")
        .id;
    let other_questionnaire = s
        .create_questionnaire(
            a,
            &domain::evaluation::questionnaire::Questionnaire {
                id: 0,
                cluster: other,
                title: "Another cluster's review (synthetic)".into(),
                sent_on: today,
                closes_on: today + domain::Days::new(30),
                schools: other_detail.members.iter().map(|(s, _, _)| s.school.urn).collect(),
            },
        )
        .await
        .unwrap();
    let [academic, _] = service::policies::periods_on(today);
    let in_force = s
        .policies_in_force(a)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.period == academic)
        .expect("a policy in force this academic year");
    let policy = s
        .policies(a)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.versions.iter().any(|v| v.id == in_force.version))
        .unwrap()
        .id;
    let scenario = d.service.illustrative_scenario(&officer).await.unwrap().unwrap();
    let allocation = async |c| {
        s.ledger_journal(a, c)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.body.kind == EntryKind::Allocation)
            .expect("an allocation in the ledger")
            .id
            .0
    };
    let fade = d.service.fade_list(&officer, own).await.unwrap();
    Records {
        feeder,
        other_school,
        own_meeting: meeting(own).await,
        other_meeting: meeting(other).await,
        own_questionnaire,
        other_questionnaire,
        policy: policy.0,
        in_force_version: in_force.version.0,
        period: service::policies::period_code(academic),
        scenario: scenario.0,
        own_entry: allocation(own).await,
        other_entry: allocation(other).await,
        due: fade.rounds.first().expect("a FADE round").round.due.to_string(),
        today,
    }
}

/// Whether a route aims at one school's or cluster's record (by its path, by the pupil its form
/// names, or by the cluster its query or form names).
fn aims_at_a_record(method: &str, path: &str) -> bool {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let casework = path.starts_with("/casework/") && path.contains('{')
        || matches!((method, path), ("POST", "/casework/cases") | ("POST", "/casework/gt"));
    let scoped = [
        "/clusters/{id}",
        "/schools/{urn}",
        "/meetings/{id}",
        "/questionnaires/{id}",
        "/funding/narrative/{cluster}",
    ]
    .iter()
    .any(|p| path.starts_with(p))
        || path == "/funding/compare";
    casework || scoped
}

/// The concrete address of a route for a role and scope (own: the role's own school's or
/// cluster's record).
fn address(d: &Demo, r: &Records, path: &str, own: bool, who: &str) -> String {
    let pick = |a: i64, b: i64| if own { a } else { b };
    let cluster = pick(d.own_cluster, d.other_cluster);
    let (prefix, path) = match path.strip_prefix("/api/v1") {
        Some(rest) => ("/api/v1", rest),
        None => ("", path),
    };
    let id = match path {
        p if p.starts_with("/casework/pupils/") => pick(d.own_pupil.id.0, d.other_pupil.id.0),
        p if p.starts_with("/casework/cases/") => pick(d.own_case.0, d.other_case.0),
        "/casework/transitions/{id}" => pick(d.own_transition_out.0, d.other_transition_out.0),
        "/casework/placements/{id}/end" => pick(d.own_placement.0, d.other_placement.0),
        "/casework/transitions/{id}/acknowledge" => pick(d.own_transition_in.0, d.other_transition_in.0),
        p if p.starts_with("/clusters/{id}") => cluster,
        p if p.starts_with("/meetings/{id}") => pick(r.own_meeting, r.other_meeting),
        p if p.starts_with("/questionnaires/{id}") => pick(r.own_questionnaire, r.other_questionnaire),
        p if p.starts_with("/funding/{id}") => r.policy,
        p if p.starts_with("/design/{id}") => r.scenario,
        _ => 0,
    };
    let urn = match (own, who) {
        (false, _) => r.other_school,
        (true, "governor") => r.feeder,
        (true, _) => d.host,
    };
    let query = match path {
        "/funding/compare" => format!("?cluster={cluster}"),
        "/funding/maps" => format!("?scenario={}", r.scenario),
        "/design/compare" => format!("?a=current&b={}", r.scenario),
        _ => String::new(),
    };
    prefix.to_string()
        + &path
            .replace("{id}", &id.to_string())
            // The approved meeting's second item: a motion with its votes recorded.
            .replace("{motion}", "2")
            .replace("{cluster}", &cluster.to_string())
            .replace("{entry}", &pick(r.own_entry, r.other_entry).to_string())
            .replace("{due}", &r.due)
            .replace("{urn}", &urn.to_string())
            .replace("{run}", "999999")
            .replace("{*path}", "clusterwise.css")
        + &query
}

/// The fields a POST sends: enough to get past the handler's parsing to the service's access
/// check, and (for the new areas) always failing the service's validation, so an allowed role
/// gets a 4xx naming the field and nothing changes.
fn form_for(d: &Demo, r: &Records, path: &str, own: bool, who: &str) -> Vec<(String, String)> {
    let pupil = if own { &d.own_pupil } else { &d.other_pupil };
    let id = pupil.id.0.to_string();
    let cluster = if own { d.own_cluster } else { d.other_cluster }.to_string();
    let year = || ("year", "2024/25".to_string());
    let pairs: Vec<(&str, String)> = match path {
        "/casework/cases" => vec![
            ("pupil", id),
            ("reason", "attendance".into()),
            ("referred_by", "Tutor".into()),
        ],
        "/casework/gt" => vec![("pupil", id)],
        "/casework/pupils/{id}/transition" => vec![("kind", "mid_year".into()), ("outside", "Elsewhere".into())],
        "/casework/transitions/{id}/acknowledge" => vec![("by", "Head of Year 7".into())],
        // Marking the version already in force for its period again: the one POST here that
        // an officer completes, and it changes nothing but who marked it.
        "/funding/{id}/in-force" => vec![
            ("version", r.in_force_version.to_string()),
            ("period", r.period.clone()),
        ],
        // An empty draft against the policy in force: refused as a policy text.
        "/funding/compare" => vec![
            ("cluster", cluster),
            ("compare_with", r.in_force_version.to_string()),
            ("body", String::new()),
        ],
        "/clusters/{id}/plan/priorities" => vec![year()],
        "/clusters/{id}/plan/activities" => vec![
            year(),
            ("priority", "0".into()),
            ("lead_school", d.host.to_string()),
            ("budget", "0".into()),
            ("starts_on", "2024-09-01".into()),
            ("ends_on", "2025-07-18".into()),
        ],
        "/clusters/{id}/plan/targets" => vec![
            year(),
            ("group", "total".into()),
            ("level", "cluster".into()),
            ("baseline", "50".into()),
            ("baseline_year", "2023/24".into()),
            ("target", "60".into()),
            ("target_year", "2024/25".into()),
        ],
        "/clusters/{id}/plan/remove" => vec![year(), ("kind", "priority".into()), ("index", "999".into())],
        // One character over the limit: an empty form would save empty narratives.
        "/clusters/{id}/fade/{due}" => vec![("focus", "x".repeat(domain::evaluation::fade::MAX_NARRATIVE_CHARS + 1))],
        // The authority's people judge for the authority, everyone else for the cluster; a level
        // that is not on the scale (an empty one is refused before the service is asked).
        "/clusters/{id}/fade/{due}/judgement" if AUTHORITY.contains(&who) => {
            vec![("side", "authority".into()), ("authority_level", "Not a level".into())]
        }
        "/clusters/{id}/fade/{due}/judgement" => {
            vec![("side", "cluster".into()), ("cluster_level", "Not a level".into())]
        }
        "/questionnaires" => vec![
            ("cluster", cluster),
            ("closes_on", (r.today + domain::Days::new(30)).to_string()),
        ],
        // A date outside 2000–2100: adopting would redraw every cluster.
        "/design/{id}/adopt" => vec![("effective", "1999-09-01".into())],
        _ => vec![],
    };
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// POSTs outside casework that an allowed role completes with the matrix's form; every other
/// one must be refused by validation (a 4xx), so nothing changes under the matrix. Casework's
/// forms complete, on records that keep later checks valid; sign-out and retention run last.
const COMPLETES: &[&str] = &["/sign-out", "/privacy/retention", "/funding/{id}/in-force"];

#[tokio::test]
async fn every_route_every_role_own_and_other_scope_is_allowed_or_refused_as_the_matrix_says() {
    let captured = capture();
    let d = demo().await;
    let r = records(&d).await;

    let routes = routes();
    assert!(
        routes.len() >= 30,
        "the router's routes were not found in its source: {routes:?}"
    );
    let missing: Vec<_> = routes.iter().filter(|(m, p)| expectation(m, p).is_none()).collect();
    assert!(
        missing.is_empty(),
        "routes with no entry in the authorisation matrix (add one to `expectation`): {missing:?}"
    );

    let mut sessions = BTreeMap::new();
    let mut tokens = BTreeMap::new();
    for who in ROLES {
        sessions.insert(who, sign_in(&d.router, who).await);
        let email = format!("{who}@demo.clusterwise.test");
        tokens.insert(
            who,
            d.service
                .create_api_token(&email, "matrix", 1, service::store::TokenAccess::ReadWrite)
                .await
                .unwrap()
                .token,
        );
    }
    let mut failures = Vec::new();
    let mut marker_seen = Vec::new();
    // Sign-out last: it ends the session.
    let mut ordered = routes.clone();
    ordered.sort_by_key(|(m, p)| {
        (
            p == "/sign-out",
            m == "POST" && p == "/privacy/retention",
            p.clone(),
            m.clone(),
        )
    });
    // Each route, or each action of a route with an `{action}` segment.
    let rows: Vec<(String, String, Expect)> = ordered
        .iter()
        .flat_map(|(method, path)| match expectation(method, path).unwrap() {
            Expect::Actions(actions) => actions
                .iter()
                .map(|(a, e)| (method.clone(), path.replace("{action}", a), *e))
                .collect(),
            e => vec![(method.clone(), path.clone(), e)],
        })
        .collect();
    for (method, path, expect) in &rows {
        let (method, path, expect) = (method, path, *expect);
        if let Expect::Public = expect {
            let addr = address(&d, &r, path, true, "");
            let reply = match method.as_str() {
                "GET" => send(&d.router, get(&addr, None)).await,
                _ => send(&d.router, post_form(&addr, None, &[])).await,
            };
            // Reachable without a session (the sign-in POST refuses a missing form token, 403).
            if reply.status == StatusCode::UNAUTHORIZED
                || reply.body.contains("[location: /sign-in]") && method == "GET" && path != "/sign-in"
            {
                failures.push(format!("{method} {path} signed out: {}", reply.status));
            }
            continue;
        }
        let aims = aims_at_a_record(method, path);
        for who in ROLES {
            // Own and other differ only where the route aims at a record (in its path, query or form).
            for own in [true, false].into_iter().filter(|own| *own || aims) {
                let (cookie, csrf) = &sessions[who];
                let addr = address(&d, &r, path, own, who);
                let reply = match (method.as_str(), path.as_str()) {
                    // The API: the role's bearer token; a POST's empty JSON body fails validation.
                    (_, p) if p.starts_with("/api/") => {
                        let r = Request::builder()
                            .method(method.as_str())
                            .uri(&addr)
                            .header(header::AUTHORIZATION, format!("Bearer {}", tokens[who]))
                            .header(header::CONTENT_TYPE, "application/json")
                            .header("idempotency-key", "matrix-key-1");
                        let body = if method == "POST" { "{}" } else { "" };
                        send(&d.router, r.body(Body::from(body)).unwrap()).await
                    }
                    ("GET", _) => send(&d.router, get(&addr, Some(cookie))).await,
                    ("POST", "/import" | "/metrics/import") => {
                        send(&d.router, post_multipart(&addr, cookie, csrf)).await
                    }
                    _ => {
                        let mut form = form_for(&d, &r, path, own, who);
                        form.push(("csrf_token".into(), csrf.clone()));
                        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                        send(&d.router, post_form(&addr, Some(cookie), &pairs)).await
                    }
                };
                let allowed = match expect {
                    Expect::All => Some(true),
                    Expect::Own(roles) => Some(own && roles.contains(&who)),
                    Expect::OwnOrAny(own_roles, any_roles) => {
                        Some(any_roles.contains(&who) || own && own_roles.contains(&who))
                    }
                    Expect::Missing(roles) if roles.contains(&who) => None,
                    Expect::Missing(_) => Some(false),
                    Expect::Public | Expect::Actions(_) => unreachable!(),
                };
                let status = reply.status;
                let ok = match allowed {
                    Some(true) => {
                        !matches!(
                            status,
                            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
                        ) && !status.is_server_error()
                    }
                    Some(false) => matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                    None => status == StatusCode::NOT_FOUND,
                };
                if method == "POST" && path == "/sign-out" {
                    // Signed out: sign in again for the next request.
                    sessions.insert(who, sign_in(&d.router, who).await);
                }
                if !ok {
                    failures.push(format!(
                        "{method} {addr} as {who} ({}): expected {}, got {status}",
                        if own { "own" } else { "other" },
                        match allowed {
                            Some(true) => "allow",
                            Some(false) => "deny",
                            None => "404",
                        },
                    ));
                } else if allowed == Some(true)
                    && method == "POST"
                    && !path.starts_with("/casework/")
                    && !COMPLETES.contains(&path.as_str())
                    && !status.is_client_error()
                {
                    // The matrix's forms are refused by validation: nothing may change under it.
                    failures.push(format!(
                        "{method} {addr} as {who} ({}): the matrix's form should fail validation, got {status}",
                        if own { "own" } else { "other" },
                    ));
                }
                if reply.body.contains(MARKER) {
                    marker_seen.push(format!(
                        "{method} {path} as {who} ({})",
                        if own { "own" } else { "other" }
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Casework text shows only on the case itself (to its school's head and mentor) and in the
    // subject access export (the head's own pupil; the DPO's); never in lists, other roles' pages,
    // the educational record, or anything else.
    let allowed_marker = [
        "GET /casework/cases/{id} as head (own)",
        "GET /casework/cases/{id} as mentor (own)",
        "GET /casework/pupils/{id}/subject-access as head (own)",
        "GET /casework/pupils/{id}/subject-access as dpo (own)",
        "GET /casework/pupils/{id}/subject-access as dpo (other)",
        "GET /casework/pupils/{id}/subject-access.json as head (own)",
        "GET /casework/pupils/{id}/subject-access.json as dpo (own)",
        "GET /casework/pupils/{id}/subject-access.json as dpo (other)",
    ];
    // A refused step of a case shows the case again, with its error, to the same people.
    let case_step = |m: &str| {
        m.starts_with("POST /casework/cases/{id}/") && (m.ends_with("as head (own)") || m.ends_with("as mentor (own)"))
    };
    let unexpected: Vec<_> = marker_seen
        .iter()
        .filter(|m| !allowed_marker.contains(&m.as_str()) && !case_step(m))
        .collect();
    assert!(unexpected.is_empty(), "casework text leaked: {unexpected:?}");
    for m in allowed_marker {
        assert!(marker_seen.iter().any(|s| s == m), "{m} should show the casework text");
    }

    // Nothing about pupils reaches the log, though the log is written (the retention run logs).
    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(log.contains("retention run"), "the log was not captured: {log}");
    for secret in [
        MARKER.to_string(),
        d.own_pupil.upn.to_string(),
        d.own_pupil.family_name.clone(),
        d.other_pupil.upn.to_string(),
        d.other_pupil.family_name.clone(),
    ] {
        assert!(!log.contains(&secret), "the log holds pupil data ({secret})");
    }

    // Every refusal of pupil data was audited, and the chain is whole after all of it.
    let audit = d
        .service
        .store()
        .audit_entries(d.authority, &AuditQuery::default())
        .await
        .unwrap();
    assert!(matches!(verify_chain(&audit), ChainStatus::Intact { .. }));
    assert!(audit.iter().any(|e| e.record.outcome == AuditOutcome::Refused
        && e.record.user_email == "clerk@demo.clusterwise.test"
        && e.record.pupil == Some(d.own_pupil.id)));
    assert!(audit.iter().any(|e| e.record.outcome == AuditOutcome::Refused
        && e.record.user_email == "head@demo.clusterwise.test"
        && e.record.pupil == Some(d.other_pupil.id)));
}

#[tokio::test]
async fn every_pupil_data_read_leaves_an_audit_row_naming_the_pupil_and_why() {
    let d = demo().await;
    let (head, _) = sign_in(&d.router, "head").await;
    let (dpo, _) = sign_in(&d.router, "dpo").await;
    let p = d.own_pupil.id;
    let reads = [
        (head.as_str(), format!("/casework/pupils/{}", p.0), "pupil"),
        (
            head.as_str(),
            format!("/casework/cases/{}", d.own_case.0),
            "mentor_case",
        ),
        (
            head.as_str(),
            format!("/casework/pupils/{}/subject-access", p.0),
            "subject_access",
        ),
        (
            head.as_str(),
            format!("/casework/pupils/{}/subject-access.json", p.0),
            "subject_access",
        ),
        (
            head.as_str(),
            format!("/casework/pupils/{}/educational-record", p.0),
            "educational_record",
        ),
        (
            head.as_str(),
            format!("/casework/pupils/{}/educational-record.json", p.0),
            "educational_record",
        ),
        (
            head.as_str(),
            format!("/casework/transitions/{}.json", d.own_transition_out.0),
            "transition",
        ),
        (head.as_str(), "/casework".to_string(), "pupil"),
        (
            dpo.as_str(),
            format!("/casework/pupils/{}/subject-access", p.0),
            "subject_access",
        ),
    ];
    let store = d.service.store();
    let query = AuditQuery {
        pupil: Some(p),
        user_email: None,
    };
    for (cookie, path, resource) in reads {
        let before = store.audit_entries(d.authority, &query).await.unwrap().len();
        let r = send(&d.router, get(&path, Some(cookie))).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let after = store.audit_entries(d.authority, &query).await.unwrap();
        assert!(after.len() > before, "{path} left no audit row for the pupil");
        let last = after.last().unwrap();
        assert_eq!(last.record.outcome, AuditOutcome::Allowed);
        assert!(
            after[before..].iter().any(|e| e.record.resource.code() == resource),
            "{path}: {resource}"
        );
        assert!(!last.record.purpose.is_empty(), "{path}: an audit row states why");
    }
    // The DPO's search is itself recorded, and finds the head.
    let r = send(&d.router, get(&format!("/privacy/audit?pupil=P{}", p.0), Some(&dpo))).await;
    assert!(r.body.contains("head@demo.clusterwise.test") && r.body.contains("Chain verified"));
    let all = store.audit_entries(d.authority, &AuditQuery::default()).await.unwrap();
    assert_eq!(all.last().unwrap().record.resource.code(), "audit_log");
}

#[tokio::test]
async fn subject_access_holds_everything_and_the_educational_record_leaves_out_the_notes() {
    let d = demo().await;
    let (head, _) = sign_in(&d.router, "head").await;
    let p = d.own_pupil.id.0;
    let r = send(
        &d.router,
        get(&format!("/casework/pupils/{p}/subject-access.json"), Some(&head)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let json_end = r.body.rfind('}').unwrap() + 1;
    let v: serde_json::Value = serde_json::from_str(&r.body[..json_end]).unwrap();
    assert_eq!(v["format"], "clusterwise-subject-access/1");
    assert_eq!(v["pupil"]["upn"], d.own_pupil.upn.to_string());
    let case = v["mentor_cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == format!("C{}", d.own_case.0))
        .unwrap();
    for field in ["referral_note", "exit_strategy"] {
        assert!(case[field].as_str().unwrap().contains(MARKER), "{field}");
    }
    assert!(case["targets"][0].as_str().unwrap().contains(MARKER));
    assert!(case["sessions"][0]["note"].as_str().unwrap().contains(MARKER));
    assert!(case["reviews"][0]["note"].as_str().unwrap().contains(MARKER));
    assert!(!v["transitions"].as_array().unwrap().is_empty());
    assert!(
        !v["accesses"].as_array().unwrap().is_empty(),
        "the export lists who accessed the records"
    );
    assert!(r.body.contains("[location") || !r.body.is_empty());

    let html = send(
        &d.router,
        get(&format!("/casework/pupils/{p}/subject-access"), Some(&head)),
    )
    .await;
    assert!(html.body.contains("Subject access: everything held") && html.body.contains(MARKER));
    assert!(html.body.contains("Who has accessed these records"));

    for path in [
        format!("/casework/pupils/{p}/educational-record"),
        format!("/casework/pupils/{p}/educational-record.json"),
    ] {
        let r = send(&d.router, get(&path, Some(&head))).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains(&d.own_pupil.given_name), "{path}");
        assert!(r.body.contains("Wellbeing"), "{path} carries the case's headline");
        assert!(!r.body.contains(MARKER), "{path} must not carry the mentor's notes");
    }
}

#[tokio::test]
async fn the_retention_run_removes_what_is_due_reports_it_and_audits_each_removal() {
    let d = demo().await;
    let (dpo, csrf) = sign_in(&d.router, "dpo").await;
    let store = d.service.store();
    let all = CaseworkFilter::default();
    let cases_before = store.mentor_cases(d.authority, &all).await.unwrap();
    let pupils_before = store.pupils(d.authority, &all).await.unwrap().len();
    let r = send(
        &d.router,
        post_form("/privacy/retention", Some(&dpo), &[("csrf_token", &csrf)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // The demo has two mentor cases closed over two years ago and one pupil who left long ago.
    let removed_rows = r.body.split("Each record removed").nth(1).unwrap_or_default();
    assert!(r.body.contains("3 records removed"), "{removed_rows}");
    let cases_after = store.mentor_cases(d.authority, &all).await.unwrap();
    assert_eq!(cases_before.len() - cases_after.len(), 2);
    assert!(cases_after.iter().all(|c| {
        c.closed_on
            .is_none_or(|c| c > d.service.clock().today() - chrono_days(730))
    }));
    assert_eq!(store.pupils(d.authority, &all).await.unwrap().len(), pupils_before - 1);
    let audit = store.audit_entries(d.authority, &AuditQuery::default()).await.unwrap();
    // One entry for the run itself, and one per record removed.
    let deletions = audit
        .iter()
        .filter(|e| e.record.action.code() == "delete" && e.record.resource.code() != "retention")
        .count();
    assert_eq!(deletions, 3);
    assert_eq!(
        audit.iter().filter(|e| e.record.resource.code() == "retention").count(),
        1
    );
    assert!(matches!(verify_chain(&audit), ChainStatus::Intact { .. }));
    // Running again removes nothing.
    let r = send(
        &d.router,
        post_form("/privacy/retention", Some(&dpo), &[("csrf_token", &csrf)]),
    )
    .await;
    assert!(r.body.contains("0 records removed"));
    // Without the CSRF token nothing runs.
    let r = send(&d.router, post_form("/privacy/retention", Some(&dpo), &[])).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

fn chrono_days(n: u64) -> domain::Days {
    domain::Days::new(n)
}

#[tokio::test]
async fn refusals_are_audited_and_other_schools_records_are_not_revealed() {
    let d = demo().await;
    let (head, _) = sign_in(&d.router, "head").await;
    let (governor, _) = sign_in(&d.router, "governor").await;
    // Another school's pupil, and a pupil that does not exist, look the same.
    let other = send(
        &d.router,
        get(&format!("/casework/pupils/{}", d.other_pupil.id.0), Some(&head)),
    )
    .await;
    let none = send(&d.router, get("/casework/pupils/99999999", Some(&head))).await;
    assert_eq!(
        (other.status, none.status),
        (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND)
    );
    assert_eq!(other.body, none.body);
    assert!(!other.body.contains(&d.other_pupil.family_name));
    // A governor of the host's cluster sees aggregates only, never names.
    let r = send(&d.router, get("/casework", Some(&governor))).await;
    assert!(r.body.contains("Pupil casework across the authority"));
    assert!(!r.body.contains(&d.own_pupil.family_name));
    assert!(!r.body.contains(MARKER));
    let audit = d
        .service
        .store()
        .audit_entries(
            d.authority,
            &AuditQuery {
                pupil: Some(d.other_pupil.id),
                user_email: Some("head@demo.clusterwise.test".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(audit.last().map(|e| e.record.outcome), Some(AuditOutcome::Refused));
    let _: PupilId = d.own_pupil.id;
}

#[tokio::test]
async fn an_lsu_placement_follows_the_staged_criteria_and_records_before_during_and_after() {
    let d = demo().await;
    let (head, csrf) = sign_in(&d.router, "head").await;
    let p = d.own_pupil.id.0;
    let store = d.service.store();
    let today = d.service.clock().today();
    let end = (today + domain::Days::new(84)).to_string();
    let too_long = (today + domain::Days::new(220)).to_string();
    let mut form = vec![
        ("csrf_token", csrf.as_str()),
        ("stage", "1"),
        ("stage", "2"),
        ("planned_end", end.as_str()),
        ("sessions_per_week", "4"),
        ("agreed_with_pupil", "yes"),
        ("agreed_with_parent", "yes"),
        ("reintegration_plan", "English and maths first, with a TA"),
        ("before_attendance", "84.5"),
        ("before_exclusions", "2"),
        ("before_incidents", "7"),
    ];
    let placements = async |s: &dyn service::Store| {
        s.lsu_placements(d.authority, &CaseworkFilter::pupil(PupilId(p)))
            .await
            .unwrap()
    };
    let before = placements(store).await.len();
    // Stage 3 was not shown: refused, naming the rule, and nothing saved.
    let r = send(
        &d.router,
        post_form(&format!("/casework/pupils/{p}/lsu"), Some(&head), &form),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("referral criteria: the referral must show all 3 stages were tried"),
        "{}",
        r.body
    );
    form.push(("stage", "3"));
    let long: Vec<_> = form
        .iter()
        .map(|(k, v)| {
            if *k == "planned_end" {
                (*k, too_long.as_str())
            } else {
                (*k, *v)
            }
        })
        .collect();
    let r = send(
        &d.router,
        post_form(&format!("/casework/pupils/{p}/lsu"), Some(&head), &long),
    )
    .await;
    assert!(r.body.contains("at most 26 weeks (two terms)"), "{}", r.body);
    assert_eq!(placements(store).await.len(), before);
    let r = send(
        &d.router,
        post_form(&format!("/casework/pupils/{p}/lsu"), Some(&head), &form),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let now = placements(store).await;
    let placed = now
        .iter()
        .find(|x| x.reintegration_plan.starts_with("English"))
        .unwrap();
    assert_eq!(placed.before.attendance_tenths_pct, Some(845));
    assert_eq!(
        placed.mode,
        domain::casework::lsu::LsuMode::PartTime { sessions_per_week: 4 }
    );
    // Ending it records the figures during and after.
    let r = send(
        &d.router,
        post_form(
            &format!("/casework/placements/{}/end", placed.id.0),
            Some(&head),
            &[
                ("csrf_token", csrf.as_str()),
                ("during_attendance", "91.0"),
                ("during_incidents", "2"),
                ("after_attendance", "95.2"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let ended = placements(store).await.into_iter().find(|x| x.id == placed.id).unwrap();
    assert_eq!(ended.ended_on, Some(today));
    assert_eq!(ended.during.incidents, 2);
    assert_eq!(ended.after.and_then(|m| m.attendance_tenths_pct), Some(952));
    // The school page monitors the unit's use by gender, FSM and ethnicity.
    let page = send(&d.router, get("/casework", Some(&head))).await;
    assert!(page.body.contains("Use of the unit by gender, FSM and ethnicity"));
}

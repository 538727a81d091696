//! Casework and privacy over HTTP, on the Norfolk demo: the authorisation matrix over every route
//! of the router × every demo role × own/other scope; an audit row for every pupil-data read and
//! refusal; marker strings that must never reach list views, other roles' pages and exports, or
//! the log; subject access; retention.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use domain::casework::mentor::{MentorCase, MentorPolicy, Outcome, Referral, ReferralReason};
use domain::casework::transition::{Receiving, TransitionKind, TransitionRecord};
use domain::casework::{CaseId, Pupil, PupilId, TransitionId};
use domain::ids::Urn;
use domain::privacy::audit::{ChainStatus, Outcome as AuditOutcome, verify_chain};
use http_body_util::BodyExt;
use service::casework::{AuditQuery, CaseworkFilter};
use service::{Service, SystemClock};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

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

struct Reply {
    status: StatusCode,
    body: String,
}

async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let mut body = String::from_utf8_lossy(&body).into_owned();
    if let Some(l) = headers.get(header::LOCATION) {
        body.push_str(&format!("\n[location: {}]", l.to_str().unwrap_or_default()));
    }
    if let Some(c) = headers.get(header::SET_COOKIE) {
        body.push_str(&format!("\n[set-cookie: {}]", c.to_str().unwrap_or_default()));
    }
    Reply { status, body }
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut r = Request::get(path);
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    r.body(Body::empty()).unwrap()
}

fn post_form(path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Request<Body> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut r = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    r.body(Body::from(body)).unwrap()
}

fn post_multipart(path: &str, cookie: &str, csrf: &str) -> Request<Body> {
    let body = format!("--x\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n--x--\r\n");
    Request::post(path)
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=x")
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .unwrap()
}

fn csrf_in(page: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.find(marker).expect("a csrf_token field") + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_string()
}

async fn sign_in(router: &Router, who: &str) -> (String, String) {
    let form = send(router, get("/sign-in", None)).await;
    let pre = form
        .body
        .lines()
        .find_map(|l| l.strip_prefix("[set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let r = send(
        router,
        post_form(
            "/sign-in",
            Some(&pre),
            &[
                ("csrf_token", &csrf_in(&form.body)),
                ("email", &format!("{who}@demo.clusterwise.test")),
                ("password", service::demo::DEMO_PASSWORD),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{who} signs in");
    let cookie = r
        .body
        .lines()
        .find_map(|l| l.strip_prefix("[set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let home = send(router, get("/", Some(&cookie))).await;
    (cookie.clone(), csrf_in(&home.body))
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
    other_school: Urn,
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
        other_school: other_pupil.school,
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

/// Who may use a route: the matrix the router is tested against.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Reachable signed out.
    Public,
    /// Every signed-in role.
    All,
    /// These roles, for records of their own school (or with no record); nobody for another school's.
    Own(&'static [&'static str]),
    /// These roles for their own school's records, and these for any school's.
    OwnOrAny(&'static [&'static str], &'static [&'static str]),
    /// These roles reach the route but the record does not exist (404); everyone else is refused (403).
    Missing(&'static [&'static str]),
}

fn expectation(method: &str, path: &str) -> Option<Expect> {
    use Expect::*;
    const HEAD_MENTOR: &[&str] = &["head", "mentor"];
    Some(match (method, path) {
        ("GET", "/health") | ("GET", "/sign-in") | ("POST", "/sign-in") | ("GET", "/assets/{*path}") => Public,
        ("GET", "/") | ("GET", "/schools") | ("GET", "/schools/{urn}") | ("GET", "/clusters") => All,
        ("GET", "/clusters/{id}") | ("GET", "/map") | ("GET", "/governance") | ("GET", "/governance.csv") => All,
        ("GET", "/import") | ("POST", "/import") => Own(&["officer"]),
        ("GET", "/import/{run}") => Missing(&["officer"]),
        ("POST", "/sign-out") => All,
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

/// Whether a route aims at one school's record (by its path, or by the pupil its form names).
fn aims_at_a_record(method: &str, path: &str) -> bool {
    path.starts_with("/casework/") && path.contains('{')
        || matches!((method, path), ("POST", "/casework/cases") | ("POST", "/casework/gt"))
}

/// The concrete address of a route for a scope (own: the role's own school's record).
fn address(d: &Demo, path: &str, own: bool) -> String {
    let pick = |a: i64, b: i64| if own { a } else { b };
    let id = match path {
        p if p.starts_with("/casework/pupils/") => pick(d.own_pupil.id.0, d.other_pupil.id.0),
        p if p.starts_with("/casework/cases/") => pick(d.own_case.0, d.other_case.0),
        "/casework/transitions/{id}" => pick(d.own_transition_out.0, d.other_transition_out.0),
        "/casework/placements/{id}/end" => pick(d.own_placement.0, d.other_placement.0),
        "/casework/transitions/{id}/acknowledge" => pick(d.own_transition_in.0, d.other_transition_in.0),
        "/clusters/{id}" => pick(d.own_cluster, d.other_cluster),
        _ => 0,
    };
    let urn = if own { d.host } else { d.other_school };
    path.replace("{id}", &id.to_string())
        .replace("{urn}", &urn.to_string())
        .replace("{run}", "999999")
        .replace("{*path}", "clusterwise.css")
}

fn form_for(d: &Demo, path: &str, own: bool) -> Vec<(String, String)> {
    let pupil = if own { &d.own_pupil } else { &d.other_pupil };
    let id = pupil.id.0.to_string();
    let pairs: Vec<(&str, String)> = match path {
        "/casework/cases" => vec![
            ("pupil", id),
            ("reason", "attendance".into()),
            ("referred_by", "Tutor".into()),
        ],
        "/casework/gt" => vec![("pupil", id)],
        "/casework/pupils/{id}/transition" => vec![("kind", "mid_year".into()), ("outside", "Elsewhere".into())],
        "/casework/transitions/{id}/acknowledge" => vec![("by", "Head of Year 7".into())],
        _ => vec![],
    };
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[tokio::test]
async fn every_route_every_role_own_and_other_scope_is_allowed_or_refused_as_the_matrix_says() {
    let captured = capture();
    let d = demo().await;

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
    for who in ROLES {
        sessions.insert(who, sign_in(&d.router, who).await);
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
    for (method, path) in &ordered {
        let expect = expectation(method, path).unwrap();
        if let Expect::Public = expect {
            let addr = address(&d, path, true);
            let r = match method.as_str() {
                "GET" => send(&d.router, get(&addr, None)).await,
                _ => send(&d.router, post_form(&addr, None, &[])).await,
            };
            // Reachable without a session (the sign-in POST refuses a missing form token, 403).
            if r.status == StatusCode::UNAUTHORIZED
                || r.body.contains("[location: /sign-in]") && method == "GET" && path != "/sign-in"
            {
                failures.push(format!("{method} {path} signed out: {}", r.status));
            }
            continue;
        }
        for who in ROLES {
            for own in [true, false] {
                let (cookie, csrf) = &sessions[who];
                let addr = address(&d, path, own);
                let r = match (method.as_str(), path.as_str()) {
                    ("GET", _) => send(&d.router, get(&addr, Some(cookie))).await,
                    ("POST", "/import") => send(&d.router, post_multipart(&addr, cookie, csrf)).await,
                    _ => {
                        let mut form = form_for(&d, path, own);
                        form.push(("csrf_token".into(), csrf.clone()));
                        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                        send(&d.router, post_form(&addr, Some(cookie), &pairs)).await
                    }
                };
                // Own and other differ only where the route aims at a record (in its path or form).
                let own_ok = own || !aims_at_a_record(method, path);
                let allowed = match expect {
                    Expect::All => Some(true),
                    Expect::Own(roles) => Some(own_ok && roles.contains(&who)),
                    Expect::OwnOrAny(own_roles, any_roles) => {
                        Some(any_roles.contains(&who) || own_ok && own_roles.contains(&who))
                    }
                    Expect::Missing(roles) if roles.contains(&who) => None,
                    Expect::Missing(_) => Some(false),
                    Expect::Public => unreachable!(),
                };
                let ok = match allowed {
                    Some(true) => {
                        !matches!(
                            r.status,
                            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
                        ) && !r.status.is_server_error()
                    }
                    Some(false) => matches!(r.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                    None => r.status == StatusCode::NOT_FOUND,
                };
                if method == "POST" && path == "/sign-out" {
                    // Signed out: sign in again for the next request.
                    sessions.insert(who, sign_in(&d.router, who).await);
                }
                if !ok {
                    failures.push(format!(
                        "{method} {addr} as {who} ({}): expected {}, got {}",
                        if own { "own" } else { "other" },
                        match allowed {
                            Some(true) => "allow",
                            Some(false) => "deny",
                            None => "404",
                        },
                        r.status
                    ));
                }
                if r.body.contains(MARKER) {
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

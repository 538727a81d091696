//! HTTP tests for plans, metrics, FADE reports, the authority summary, questionnaires and the
//! snapshot, through `Router::oneshot` on a fresh in-memory database with a fixed clock
//! (15 November 2024, so the open FADE round is due 31 December 2024).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use domain::access::{Scope, UserRole};
use domain::ids::{LaCode, Urn};
use service::import::{ImportKind, ImportOptions, ImportTarget};
use service::{FixedClock, Service};
use std::fmt::Write as _;
use std::sync::Arc;
use support::Reply;

const PASSWORD: &str = "a long enough password";
/// 2024-11-15T12:00:00Z.
const NOW: i64 = 1_731_672_000;

struct TestApp {
    router: Router,
    service: Service,
}

fn census() -> String {
    let mut s = String::from(
        "urn,laestab,la_code,la_name,school_name,phase_type_grouping,academy_flag,pupils_headcount,fsm_eligible_count,district_name,easting,northing,postcode\n",
    );
    s.push_str("120001,9261001,926,Norfolk,Hill High School,State-funded secondary,Academy,1200,120,Norwich,620000,308000,NR1 1AA\n");
    for i in 2..=6 {
        let _ = writeln!(
            s,
            "12000{i},926100{i},926,Norfolk,Brook {i} Primary School,State-funded primary,LA Maintained,300,60,Norwich,62{i}000,309000,NR1 1AB"
        );
    }
    for i in 1..=8 {
        let _ = writeln!(
            s,
            "12010{i},926110{i},926,Norfolk,Far {i} Primary School,State-funded primary,LA Maintained,250,40,Breckland,60{i}000,290000,IP25 1AA"
        );
    }
    s.push_str("135001,9351001,935,Suffolk,Suffolk High School,State-funded secondary,Academy,900,90,Ipswich,616000,244000,IP1 1AA\n");
    s
}

/// KS2 for 2020/21 to 2023/24: the cluster's primaries gain 3 points a year from 2022/23 on top
/// of everyone's +1; permanent exclusions at the secondary in small numbers; a national line.
fn metrics() -> String {
    let mut s = String::from("time_period,geographic_level,school_urn,measure,group,value\n");
    for (k, year) in ["202021", "202122", "202223", "202324"].iter().enumerate() {
        let k = k as f64;
        for i in 2..=6 {
            let boost = if k >= 2.0 { 3.0 * (k - 1.0) } else { 0.0 };
            let v = 50.0 + f64::from(i) + k + boost;
            let _ = writeln!(s, "{year},School,12000{i},ks2_rwm_expected,all,{v:.1}");
            let fsm = if i == 6 {
                "c".to_string()
            } else {
                format!("{:.1}", v - 15.0)
            };
            let _ = writeln!(s, "{year},School,12000{i},ks2_rwm_expected,fsm,{fsm}");
        }
        for i in 1..=8 {
            let v = 58.0 + f64::from(i % 4) + k;
            let _ = writeln!(s, "{year},School,12010{i},ks2_rwm_expected,all,{v:.1}");
        }
        let _ = writeln!(s, "{year},National,,ks2_rwm_expected,all,{:.1}", 59.0 + k);
        let _ = writeln!(
            s,
            "{year},School,120001,permanent_exclusions,all,{}",
            [2, 6, 0, 3][k as usize]
        );
    }
    s
}

async fn app() -> TestApp {
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(FixedClock(NOW)));
    let options = ImportOptions {
        census_date: domain::NaiveDate::from_ymd_opt(2024, 1, 18),
        ..ImportOptions::default()
    };
    let report = service
        .import(
            ImportTarget::ByLaCode,
            ImportKind::Census,
            census().as_bytes(),
            &options,
        )
        .await
        .unwrap();
    assert!(report.written, "{:?}", report.rejected);
    let store = service.store();
    let norfolk = store
        .authority_by_code(LaCode::parse("926").unwrap())
        .await
        .unwrap()
        .unwrap();
    let suffolk = store
        .authority_by_code(LaCode::parse("935").unwrap())
        .await
        .unwrap()
        .unwrap();
    let members = "urn,cluster,role\n120001,Hill cluster,host\n120002,Hill cluster,feeder\n120003,Hill cluster,feeder\n120004,Hill cluster,feeder\n120005,Hill cluster,feeder\n120006,Hill cluster,feeder\n";
    let options = ImportOptions {
        effective: domain::NaiveDate::from_ymd_opt(2024, 9, 1),
        ..ImportOptions::default()
    };
    let r = service
        .import(
            ImportTarget::Authority(norfolk.id),
            ImportKind::Clusters,
            members.as_bytes(),
            &options,
        )
        .await
        .unwrap();
    assert!(r.written, "{:?}", r.rejected);
    let cluster = store
        .list_clusters(norfolk.id, domain::NaiveDate::from_ymd_opt(2024, 11, 15).unwrap())
        .await
        .unwrap()[0]
        .cluster
        .id;
    let urn = |s: &str| Urn::parse(s).unwrap();
    let users = [
        (
            norfolk.id,
            "officer@norfolk.test",
            UserRole::AuthorityOfficer,
            Scope::Authority,
        ),
        (norfolk.id, "adviser@norfolk.test", UserRole::Adviser, Scope::Authority),
        (
            norfolk.id,
            "evaluator@norfolk.test",
            UserRole::Evaluator,
            Scope::Authority,
        ),
        (
            norfolk.id,
            "clerk@norfolk.test",
            UserRole::ClusterClerk,
            Scope::Cluster(cluster),
        ),
        (
            norfolk.id,
            "head@norfolk.test",
            UserRole::Headteacher,
            Scope::School(urn("120002")),
        ),
        (
            norfolk.id,
            "governor@norfolk.test",
            UserRole::Governor,
            Scope::School(urn("120003")),
        ),
        (
            norfolk.id,
            "farhead@norfolk.test",
            UserRole::Headteacher,
            Scope::School(urn("120101")),
        ),
        (
            suffolk.id,
            "officer@suffolk.test",
            UserRole::AuthorityOfficer,
            Scope::Authority,
        ),
    ];
    for (authority, email, role, scope) in users {
        service
            .create_user(authority, email, "Test user", role, scope, PASSWORD)
            .await
            .unwrap();
    }
    let router = web::router(
        service.clone(),
        web::WebConfig {
            secure_cookies: true,
            max_upload_bytes: 1024 * 1024,
            sign_in_hint: None,
            ..web::WebConfig::default()
        },
    );
    TestApp { router, service }
}

async fn send(app: &TestApp, request: Request<Body>) -> Reply {
    support::send(&app.router, request).await
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    support::get(path, Some(cookie))
}

fn post(path: &str, cookie: &str, form: &[(&str, &str)]) -> Request<Body> {
    support::post_form(path, Some(cookie), form)
}

fn upload(cookie: &str, csrf: &str, file: &[u8], accept_new: bool) -> Request<Body> {
    let boundary = "----clusterwise-evaluation-boundary";
    let mut body = Vec::new();
    let mut fields = vec![("csrf_token", csrf)];
    if accept_new {
        fields.push(("accept_new", "yes"));
    }
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"metrics.csv\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::post("/metrics/import")
        .header(header::COOKIE, cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap()
}

/// A signed-in session: its cookie and CSRF token.
struct Who {
    cookie: String,
    csrf: String,
}

async fn sign_in(app: &TestApp, email: &str) -> Who {
    let (cookie, csrf) = support::sign_in(&app.router, email, PASSWORD).await;
    Who { cookie, csrf }
}

async fn import_metrics(app: &TestApp) {
    let officer = sign_in(app, "officer@norfolk.test").await;
    let r = send(app, upload(&officer.cookie, &officer.csrf, metrics().as_bytes(), false)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Metrics imported"), "{}", r.body);
}

/// The clerk's plan for 2024/25: one priority, one activity on KS2, one target.
async fn make_plan(app: &TestApp, clerk: &Who) {
    let r = send(
        app,
        post(
            "/clusters/1/plan/priorities",
            &clerk.cookie,
            &[
                ("csrf_token", &clerk.csrf),
                ("year", "202425"),
                ("title", "Close the FSM gap in reading"),
                ("detail", "Years 3 to 6"),
            ],
        ),
    )
    .await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, "/clusters/1/plan?year=202425#prioritys"),
        "{}",
        r.body
    );
    let activity = [
        ("csrf_token", clerk.csrf.as_str()),
        ("year", "202425"),
        ("title", "Reading catch-up"),
        ("priority", "0"),
        ("lead_school", "120002"),
        ("participating", "120003"),
        ("participating", "120004"),
        ("participating", "120005"),
        ("participating", "120006"),
        ("strand", "tailored"),
        ("funding_stream", "Tailored (primary)"),
        ("budget", "£12,500"),
        ("starts_on", "2022-09-01"),
        ("ends_on", "2025-07-18"),
        ("success_criteria", "KS2 up 5 points"),
        ("measure", "ks2_rwm_expected"),
    ];
    let r = send(app, post("/clusters/1/plan/activities", &clerk.cookie, &activity)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let target = [
        ("csrf_token", clerk.csrf.as_str()),
        ("year", "202425"),
        ("measure", "ks2_rwm_expected"),
        ("group", "fsm"),
        ("level", "cluster"),
        ("baseline", "40"),
        ("baseline_year", "202122"),
        ("target", "50"),
        ("target_year", "202526"),
    ];
    let r = send(app, post("/clusters/1/plan/targets", &clerk.cookie, &target)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test]
async fn the_clerk_builds_the_plan_and_bad_input_names_its_field() {
    let app = app().await;
    let clerk = sign_in(&app, "clerk@norfolk.test").await;
    let r = send(&app, get("/clusters/1/plan", &clerk.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Improvement plan 2024/25") && r.body.contains("No priorities yet"));
    make_plan(&app, &clerk).await;
    let r = send(&app, get("/clusters/1/plan?year=202425", &clerk.cookie)).await;
    for text in [
        "Close the FSM gap in reading",
        "Reading catch-up",
        "£12,500.00 from Tailored (primary)",
        "Pupils eligible for free school meals",
        "No metrics have been imported yet",
    ] {
        assert!(r.body.contains(text), "{text}");
    }
    // Bad input: the form comes back (422) with the rule against its field, nothing saved.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            "/clusters/1/plan/priorities",
            &[("title", " ")],
            "Enter a title for the priority",
        ),
        (
            "/clusters/1/plan/activities",
            &[
                ("title", "X"),
                ("priority", "0"),
                ("lead_school", "120101"),
                ("strand", "tailored"),
                ("funding_stream", "S"),
                ("budget", "1"),
                ("starts_on", "2024-09-01"),
                ("ends_on", "2025-07-01"),
                ("success_criteria", "y"),
            ],
            "The lead school must be a school in this cluster",
        ),
        (
            "/clusters/1/plan/activities",
            &[
                ("title", "X"),
                ("priority", "0"),
                ("lead_school", "120002"),
                ("strand", "tailored"),
                ("funding_stream", "S"),
                ("budget", "lots"),
                ("starts_on", "2024-09-01"),
                ("ends_on", "2025-07-01"),
                ("success_criteria", "y"),
            ],
            "Enter the budget in pounds",
        ),
        (
            "/clusters/1/plan/targets",
            &[
                ("measure", "persistent_absence"),
                ("group", "all"),
                ("level", "cluster"),
                ("baseline", "20"),
                ("baseline_year", "202324"),
                ("target", "25"),
                ("target_year", "202526"),
            ],
            "The target must be below the baseline for a measure where lower is better",
        ),
        (
            "/clusters/1/plan/targets",
            &[
                ("measure", "attendance"),
                ("group", "all"),
                ("level", "cluster"),
                ("baseline", "95"),
                ("baseline_year", "2024"),
                ("target", "96"),
                ("target_year", "202526"),
            ],
            "as a school year, like 202425",
        ),
    ];
    for (path, fields, message) in cases {
        let mut form = vec![("csrf_token", clerk.csrf.as_str()), ("year", "202425")];
        form.extend_from_slice(fields);
        let r = send(&app, post(path, &clerk.cookie, &form)).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            r.body.chars().take(200).collect::<String>()
        );
        assert!(
            r.body.contains("There is a problem") && r.body.contains(message),
            "{message}"
        );
    }
    let plan = app
        .service
        .plan_view(
            &app.service
                .store()
                .user_credentials("clerk@norfolk.test")
                .await
                .unwrap()
                .unwrap()
                .0,
            domain::ids::ClusterId(1),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (
            plan.plan.priorities.len(),
            plan.plan.activities.len(),
            plan.plan.targets.len()
        ),
        (1, 1, 1)
    );
    // The lead school always takes part.
    assert_eq!(plan.plan.activities[0].participating.len(), 5);
}

#[tokio::test]
async fn only_the_clusters_clerk_edits_and_other_authorities_see_nothing() {
    let app = app().await;
    let form = |who: &Who| {
        vec![
            ("csrf_token".to_string(), who.csrf.clone()),
            ("year".into(), "202425".into()),
            ("title".into(), "P".into()),
        ]
    };
    for (email, status) in [
        ("officer@norfolk.test", StatusCode::FORBIDDEN),
        ("head@norfolk.test", StatusCode::FORBIDDEN),
        ("evaluator@norfolk.test", StatusCode::FORBIDDEN),
        ("officer@suffolk.test", StatusCode::FORBIDDEN),
    ] {
        let who = sign_in(&app, email).await;
        let f = form(&who);
        let pairs: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let r = send(&app, post("/clusters/1/plan/priorities", &who.cookie, &pairs)).await;
        assert_eq!(r.status, status, "{email}");
    }
    // Reading: the cluster's governor yes, another cluster's head and another authority no.
    for (email, status) in [
        ("governor@norfolk.test", StatusCode::OK),
        ("evaluator@norfolk.test", StatusCode::OK),
        ("farhead@norfolk.test", StatusCode::NOT_FOUND),
        ("officer@suffolk.test", StatusCode::NOT_FOUND),
    ] {
        let who = sign_in(&app, email).await;
        for path in [
            "/clusters/1/plan",
            "/clusters/1/fade",
            "/clusters/1/snapshot",
            "/clusters/1/fade/2024-12-31",
        ] {
            assert_eq!(
                send(&app, get(path, &who.cookie)).await.status,
                status,
                "{email} {path}"
            );
        }
    }
    // A form without the session's CSRF token is refused before anything happens.
    let clerk = sign_in(&app, "clerk@norfolk.test").await;
    let r = send(
        &app,
        post(
            "/clusters/1/plan/priorities",
            &clerk.cookie,
            &[("csrf_token", "forged"), ("year", "202425"), ("title", "P")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Not a FADE round: 404. Not a number: 404.
    assert_eq!(
        send(&app, get("/clusters/1/fade/2024-12-30", &clerk.cookie))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&app, get("/clusters/x/plan", &clerk.cookie)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_metrics_file_with_one_bad_row_writes_nothing() {
    let app = app().await;
    let officer = sign_in(&app, "officer@norfolk.test").await;
    let bad = "time_period,school_urn,measure,group,value\n202324,120002,ks2_rwm_expected,all,61\n202324,120003,ks2_rwm_expected,all,\n202324,999999,ks2_rwm_expected,all,50\n202324,120004,happiness,all,5\n";
    let r = send(&app, upload(&officer.cookie, &officer.csrf, bad.as_bytes(), false)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    for text in [
        "Nothing was written",
        "a value is required",
        "no school with this URN",
        "unknown measure: must be one of ks2_rwm_expected",
    ] {
        assert!(r.body.contains(text), "{text}");
    }
    let authority = app
        .service
        .store()
        .authority_by_code(LaCode::parse("926").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        app.service
            .store()
            .metric_values(authority.id, None)
            .await
            .unwrap()
            .is_empty()
    );
    // Not a CSV at all: the reason, against the file field.
    let r = send(&app, upload(&officer.cookie, &officer.csrf, b"\x00\x01", false)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("binary data"));
    // A new measure code is accepted when asked.
    let new = "time_period,school_urn,measure,group,value\n202324,120002,reading_age_gain,all,1.5\n";
    let r = send(&app, upload(&officer.cookie, &officer.csrf, new.as_bytes(), true)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("New measures added: reading_age_gain"));
    // Only officers import.
    let clerk = sign_in(&app, "clerk@norfolk.test").await;
    assert_eq!(
        send(&app, get("/metrics/import", &clerk.cookie)).await.status,
        StatusCode::FORBIDDEN
    );
    let r = send(&app, upload(&clerk.cookie, &clerk.csrf, new.as_bytes(), false)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_fade_report_is_prefilled_and_takes_both_judgements() {
    let app = app().await;
    import_metrics(&app).await;
    let clerk = sign_in(&app, "clerk@norfolk.test").await;
    make_plan(&app, &clerk).await;
    let r = send(&app, get("/clusters/1/fade", &clerk.cookie)).await;
    assert!(r.body.contains("FADE 1, 2024/25 (December)") && r.body.contains("Not started"));
    let r = send(&app, get("/clusters/1/fade/2024-12-31", &clerk.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    for text in [
        "F — Focus",
        "Close the FSM gap in reading",
        "The cluster went from",
        "behind the rest of the authority",
        "<svg class=\"cw-chart__svg\"",
        "Permanent exclusions (number of pupils)",
        "ledger yet, so no spend",
        "Reading catch-up",
        "Improved more than the comparison schools",
        "Record the cluster",
    ] {
        assert!(r.body.contains(text), "{text}");
    }
    assert!(
        !r.body.contains("Record the authority"),
        "the clerk cannot judge for the authority"
    );
    // The exclusions table: 2 and 3 are hidden, and with them enough that none can be worked out.
    assert!(r.body.contains(">c</td>"));

    // The cluster's judgement: a missing level is named; a good one is saved.
    let judge = |who: &Who, side: &'static str, level: &'static str| {
        let (lf, cf) = if side == "cluster" {
            ("cluster_level", "cluster_comment")
        } else {
            ("authority_level", "authority_comment")
        };
        post(
            "/clusters/1/fade/2024-12-31/judgement",
            &who.cookie,
            &[
                ("csrf_token", who.csrf.as_str()),
                ("side", side),
                (lf, level),
                (cf, "Seen the data"),
            ],
        )
    };
    let r = send(&app, judge(&clerk, "cluster", "")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Choose a judgement from the scale"));
    let r = send(&app, judge(&clerk, "cluster", "Outstanding")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Limited &lt; Satisfactory &lt; Strong &lt; Very Good"));
    assert_eq!(
        send(&app, judge(&clerk, "cluster", "Strong")).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        send(&app, judge(&clerk, "authority", "Strong")).await.status,
        StatusCode::FORBIDDEN
    );
    let head = sign_in(&app, "head@norfolk.test").await;
    assert_eq!(
        send(&app, judge(&head, "cluster", "Strong")).await.status,
        StatusCode::FORBIDDEN
    );
    let adviser = sign_in(&app, "adviser@norfolk.test").await;
    assert_eq!(
        send(&app, judge(&adviser, "authority", "Satisfactory")).await.status,
        StatusCode::SEE_OTHER
    );
    let suffolk = sign_in(&app, "officer@suffolk.test").await;
    assert_eq!(
        send(&app, judge(&suffolk, "authority", "Limited")).await.status,
        StatusCode::NOT_FOUND
    );
    // The narratives.
    let text = [
        ("csrf_token", clerk.csrf.as_str()),
        ("focus", "Reading"),
        ("analysis_notes", "The gap is closing"),
        ("develop_do", "Catch-up groups"),
        ("evaluation", "Good progress"),
    ];
    let r = send(&app, post("/clusters/1/fade/2024-12-31", &clerk.cookie, &text)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = send(&app, get("/clusters/1/fade/2024-12-31", &adviser.cookie)).await;
    for text in [
        "Good progress",
        "Satisfactory",
        "Strong",
        "Seen the data",
        "Record the authority",
    ] {
        assert!(r.body.contains(text), "{text}");
    }
    assert!(
        !r.body.contains("Save the report"),
        "the adviser cannot write the cluster's text"
    );

    // The authority summary shows the pair; an evaluator reads it and the report without schools.
    let officer = sign_in(&app, "officer@norfolk.test").await;
    let r = send(&app, get("/fade?round=2024-12-31", &officer.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("FADE 1, 2024/25 (December): clusters by judgement"));
    assert!(
        r.body.contains("differs") && r.body.contains("Confusion matrix") && r.body.contains("Fewer than 10 clusters")
    );
    let evaluator = sign_in(&app, "evaluator@norfolk.test").await;
    assert_eq!(send(&app, get("/fade", &evaluator.cookie)).await.status, StatusCode::OK);
    let r = send(&app, get("/clusters/1/fade/2024-12-31", &evaluator.cookie)).await;
    assert!(!r.body.contains("School by school") && !r.body.contains("Brook 2 Primary School</th>"));
    assert!(r.body.contains("Cluster total"));
    assert_eq!(
        send(&app, get("/fade", &clerk.cookie)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, get("/fade?round=2024-12-30", &officer.cookie)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn target_helper_snapshot_and_settings() {
    let app = app().await;
    import_metrics(&app).await;
    let clerk = sign_in(&app, "clerk@norfolk.test").await;
    let r = send(
        &app,
        get(
            "/clusters/1/plan?measure=ks2_rwm_expected&group=all&level=cluster&target_year=202526",
            &clerk.cookie,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("From prior attainment and trend") && r.body.contains("last year + 1 point"));
    // The cluster's mean went 54 → 55 → 59 → 63 (2020/21 to 2023/24): the trend over the last
    // three years is +4 a year, so two years on from 63.0 is 71.0; the weak figure is 64.0.
    assert!(r.body.contains("71.0%") && r.body.contains("64.0%"), "{}", r.body);
    let r = send(&app, get("/clusters/1/snapshot", &clerk.cookie)).await;
    for text in [
        "Cluster snapshot",
        "Register",
        "6 schools",
        "Funding",
        "Governance",
        "Key metrics",
    ] {
        assert!(r.body.contains(text), "{text}");
    }
    // Settings: officers only; bad values named.
    let officer = sign_in(&app, "officer@norfolk.test").await;
    let settings = |who: &Who, due: &'static str| {
        post(
            "/fade/settings",
            &who.cookie,
            &[
                ("csrf_token", who.csrf.as_str()),
                ("fade_due", due),
                ("scale", "Weak < Good"),
                ("redirect_after_terms", "3"),
                ("threshold", "5"),
            ],
        )
    };
    let r = send(&app, settings(&officer, "13-01")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("13-01 is not a day of the year"));
    assert_eq!(
        send(&app, settings(&officer, "12-15, 03-31")).await.status,
        StatusCode::SEE_OTHER
    );
    let r = send(&app, get("/clusters/1/fade", &clerk.cookie)).await;
    assert!(r.body.contains("15 December 2024"));
    assert_eq!(
        send(&app, settings(&clerk, "12-15")).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn questionnaires_are_sent_answered_by_heads_and_summarised_suppressed() {
    let app = app().await;
    let officer = sign_in(&app, "officer@norfolk.test").await;
    let r = send(
        &app,
        post(
            "/questionnaires",
            &officer.cookie,
            &[
                ("csrf_token", &officer.csrf),
                ("cluster", "1"),
                ("title", "Spring review"),
                ("closes_on", "2024-10-01"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("closing date must be on or after"));
    let r = send(
        &app,
        post(
            "/questionnaires",
            &officer.cookie,
            &[
                ("csrf_token", &officer.csrf),
                ("cluster", "1"),
                ("title", "Spring review"),
                ("closes_on", "2025-02-07"),
            ],
        ),
    )
    .await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/questionnaires/1"));
    let head = sign_in(&app, "head@norfolk.test").await;
    let r = send(&app, get("/questionnaires", &head.cookie)).await;
    assert!(r.body.contains("Awaiting your answers"));
    let codes = [
        "planning",
        "teaching",
        "partnership",
        "management",
        "objectives",
        "connections",
        "standards",
        "inclusion",
        "value",
    ];
    let mut answers: Vec<(&str, &str)> = vec![("csrf_token", head.csrf.as_str())];
    answers.extend(codes[..8].iter().map(|c| (*c, "Strong")));
    let r = send(&app, post("/questionnaires/1", &head.cookie, &answers)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("Choose an answer for “Whether the programmes are cost effective”")
    );
    answers.push(("value", "dont_know"));
    assert_eq!(
        send(&app, post("/questionnaires/1", &head.cookie, &answers))
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    // One answer so far: every count is a count of one person, so it is shown as c.
    let r = send(&app, get("/questionnaires/1", &officer.cookie)).await;
    assert!(r.body.contains("1 of 6 headteachers have answered"));
    assert!(r.body.contains(">c</td>") && r.body.contains("Fewer than 5 answers"));
    // A governor cannot answer; a head of a school it was not sent to cannot see it.
    let governor = sign_in(&app, "governor@norfolk.test").await;
    let mut g = vec![("csrf_token", governor.csrf.as_str())];
    g.extend(codes.iter().map(|c| (*c, "Strong")));
    assert_eq!(
        send(&app, post("/questionnaires/1", &governor.cookie, &g)).await.status,
        StatusCode::FORBIDDEN
    );
    let far = sign_in(&app, "farhead@norfolk.test").await;
    assert_eq!(
        send(&app, get("/questionnaires/1", &far.cookie)).await.status,
        StatusCode::NOT_FOUND
    );
    let suffolk = sign_in(&app, "officer@suffolk.test").await;
    assert_eq!(
        send(&app, get("/questionnaires/1", &suffolk.cookie)).await.status,
        StatusCode::NOT_FOUND
    );
}

/// Main content as text: tags dropped, whitespace collapsed, one line per block.
fn page_text(html: &str) -> String {
    let main = html
        .split_once("<main")
        .and_then(|(_, rest)| rest.split_once("</main>"))
        .map_or(html, |(m, _)| m);
    let main = main.split_once('>').map_or(main, |(_, rest)| rest);
    // Charts are checked by their own test; their coordinates would only add noise here.
    let mut cleaned = String::new();
    let mut rest = main;
    while let Some(start) = rest.find("<svg") {
        cleaned.push_str(&rest[..start]);
        cleaned.push_str("\n[chart]\n");
        rest = rest[start..].split_once("</svg>").map_or("", |(_, after)| after);
    }
    cleaned.push_str(rest);
    let mut text = String::new();
    let mut in_tag = false;
    let mut tag = String::new();
    for ch in cleaned.chars() {
        match (in_tag, ch) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let name = tag.trim_start_matches('/').split([' ', '>']).next().unwrap_or_default();
                if matches!(
                    name,
                    "p" | "h1" | "h2" | "h3" | "li" | "tr" | "dt" | "div" | "caption" | "br" | "section" | "figcaption"
                ) {
                    text.push('\n');
                } else if matches!(name, "td" | "th" | "dd") {
                    text.push_str(" | ");
                }
            }
            (true, c) => tag.push(c),
            (false, c) => text.push(c),
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty() && l.chars().any(|c| c != '|' && c != ' '))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The FADE report as an adviser reads it, compared with the committed snapshot
/// (`UPDATE_SNAPSHOTS=1 cargo test -p web --test http_evaluation` rewrites it after a deliberate
/// change; review the diff).
#[tokio::test]
async fn the_fade_report_matches_its_snapshot() {
    let app = app().await;
    import_metrics(&app).await;
    let clerk = sign_in(&app, "clerk@norfolk.test").await;
    make_plan(&app, &clerk).await;
    let text = [
        ("csrf_token", clerk.csrf.as_str()),
        ("focus", "Reading for pupils eligible for free school meals"),
        ("analysis_notes", "The gap to the rest of the authority has closed"),
        ("develop_do", "Catch-up groups in every primary"),
        ("evaluation", "Good progress; keep going"),
    ];
    send(&app, post("/clusters/1/fade/2024-12-31", &clerk.cookie, &text)).await;
    let r = send(
        &app,
        post(
            "/clusters/1/fade/2024-12-31/judgement",
            &clerk.cookie,
            &[
                ("csrf_token", clerk.csrf.as_str()),
                ("side", "cluster"),
                ("cluster_level", "Strong"),
                ("cluster_comment", ""),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let adviser = sign_in(&app, "adviser@norfolk.test").await;
    let r = send(&app, get("/clusters/1/fade/2024-12-31", &adviser.cookie)).await;
    let got = page_text(&r.body) + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/fade_report.txt");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        got == want,
        "the FADE report differs from {}: run with UPDATE_SNAPSHOTS=1 and review the diff\n--- got ---\n{got}",
        path.display()
    );
}

#[tokio::test]
async fn the_representation_check_works_from_counts() {
    let app = app().await;
    let head = sign_in(&app, "head@norfolk.test").await;
    let r = send(&app, get("/evaluation/representation", &head.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("exact two-sided binomial test"));
    let r = send(
        &app,
        get(
            "/evaluation/representation?selected=20&pupils=1000&on_girls=2&school_girls=500&on_boys=18&school_boys=500&on_fsm=4&school_fsm=200",
            &head.cookie,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    for text in [
        "Under-represented",
        "Over-represented",
        "In line with the school",
        "below 0.001",
        "0.20",
    ] {
        assert!(r.body.contains(text), "{text}");
    }
    let r = send(
        &app,
        get(
            "/evaluation/representation?selected=20&pupils=1000&on_girls=30&school_girls=500",
            &head.cookie,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("cannot be more than the number on the register"));
}

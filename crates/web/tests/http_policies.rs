//! HTTP tests for funding policies, scenarios, statements and governing-body reports through
//! `Router::oneshot`, each on a fresh in-memory database with two small clusters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use domain::access::{Scope, User, UserRole};
use domain::funding::Period;
use domain::ids::{ClusterId, LaCode, Urn};
use service::import::{ImportKind, ImportOptions, ImportTarget};
use service::{FixedClock, Service};
use std::sync::Arc;
use support::{Reply, post_form};

const PASSWORD: &str = "a long enough password";
/// 2026-12-01T12:00:00Z: the autumn term of 2026/27.
const NOW: i64 = 1_796_126_400;

const CENSUS: &str = "urn,laestab,la_code,la_name,school_name,phase_type_grouping,academy_flag,pupils_headcount,fsm_eligible_count,district_name,easting,northing,postcode\n\
120001,9261001,926,Norfolk,Hill High School,State-funded secondary,Academy,1200,120,Norwich,620000,308000,NR1 1AA\n\
120002,9261002,926,Norfolk,Brook Primary School,State-funded primary,LA Maintained,300,60,Norwich,621000,309000,NR1 1AB\n\
120003,9261003,926,Norfolk,Vale Primary School,State-funded primary,LA Maintained,200,20,Breckland,600000,290000,IP25 1AA\n\
135001,9351001,935,Suffolk,Suffolk High School,State-funded secondary,Academy,900,90,Ipswich,616000,244000,IP1 1AA\n";

/// A fixed £3,000 a cluster split equally: in Hill cluster £1,500 each to 1,200 and 300 pupils.
const EQUAL: &str = "name = \"Equal split\"\n[[stream]]\nname = \"=HYPERLINK(\\\"x\\\")\"\nsource = \"Test\"\nperiod = \"academic 2026-27\"\nbudget = { fixed = \"3000\" }\n[[stream.component]]\nname = \"equal\"\nkind = \"equal\"\nshare = \"100\"\n";
/// The same £3,000 by pupils: £2,400 and £600, £2.00 a pupil each.
const BY_PUPILS: &str = "name = \"By pupils\"\n[[stream]]\nname = \"admin\"\nbudget = { fixed = \"3000\" }\n[[stream.component]]\nname = \"per pupil\"\nkind = \"per_pupil\"\nshare = \"100\"\n";

struct TestApp {
    router: Router,
    hill: ClusterId,
    equal: (i64, i64),
    by_pupils: i64,
}

async fn app() -> TestApp {
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(FixedClock(NOW)));
    let options = ImportOptions {
        census_date: domain::NaiveDate::from_ymd_opt(2023, 1, 19),
        ..ImportOptions::default()
    };
    let r = service
        .import(ImportTarget::ByLaCode, ImportKind::Census, CENSUS.as_bytes(), &options)
        .await
        .unwrap();
    assert!(r.written);
    let norfolk = service
        .store()
        .authority_by_code(LaCode::parse("926").unwrap())
        .await
        .unwrap()
        .unwrap();
    let suffolk = service
        .store()
        .authority_by_code(LaCode::parse("935").unwrap())
        .await
        .unwrap()
        .unwrap();
    let members = "urn,cluster,role\n120001,Hill cluster,host\n120002,Hill cluster,feeder\n120003,Vale cluster,host\n";
    let r = service
        .import(
            ImportTarget::Authority(norfolk.id),
            ImportKind::Clusters,
            members.as_bytes(),
            &ImportOptions::default(),
        )
        .await
        .unwrap();
    assert!(r.written);
    let clusters = service
        .store()
        .list_clusters(norfolk.id, domain::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())
        .await
        .unwrap();
    let hill = clusters
        .iter()
        .find(|c| c.cluster.name == "Hill cluster")
        .unwrap()
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
            "clerk@norfolk.test",
            UserRole::ClusterClerk,
            Scope::Cluster(hill),
        ),
        (norfolk.id, "adviser@norfolk.test", UserRole::Adviser, Scope::Authority),
        (
            suffolk.id,
            "officer@suffolk.test",
            UserRole::AuthorityOfficer,
            Scope::Authority,
        ),
    ];
    let mut officer: Option<User> = None;
    for (authority, email, role, scope) in users {
        let u = service
            .create_user(authority, email, "Test user", role, scope, PASSWORD)
            .await
            .unwrap();
        if email == "officer@norfolk.test" {
            officer = Some(u);
        }
    }
    let officer = officer.unwrap();
    let equal = service.save_funding_policy(&officer, None, EQUAL, "").await.unwrap();
    let by_pupils = service
        .save_funding_policy(&officer, None, BY_PUPILS, "")
        .await
        .unwrap();
    service
        .set_funding_policy_in_force(&officer, equal.id, Period::AcademicYear(2026))
        .await
        .unwrap();
    let router = web::router(
        service,
        web::WebConfig {
            secure_cookies: true,
            max_upload_bytes: 1024 * 1024,
            sign_in_hint: None,
            ..web::WebConfig::default()
        },
    );
    TestApp {
        router,
        hill,
        equal: (equal.policy.0, equal.id.0),
        by_pupils: by_pupils.id.0,
    }
}

async fn send(app: &TestApp, request: Request<Body>) -> Reply {
    support::send(&app.router, request).await
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    support::get(path, Some(cookie))
}

async fn sign_in(app: &TestApp, email: &str) -> (String, String) {
    support::sign_in(&app.router, email, PASSWORD).await
}

async fn versions(app: &TestApp, cookie: &str) -> usize {
    let r = send(app, get(&format!("/funding/{}", app.equal.0), cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    r.body.matches("?version=").count() + r.body.matches("(shown)").count()
}

#[tokio::test]
async fn a_bad_policy_is_refused_naming_its_field_and_nothing_is_saved() {
    let app = app().await;
    let (cookie, csrf) = sign_in(&app, "officer@norfolk.test").await;
    let before = versions(&app, &cookie).await;
    assert_eq!(before, 1);
    let path = format!("/funding/{}/edit", app.equal.0);
    let bad = EQUAL.replace("share = \"100\"", "share = \"120\"");
    let r = send(
        &app,
        post_form(
            &path,
            Some(&cookie),
            &[("csrf_token", &csrf), ("body", &bad), ("action", "save")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("component 1 (&#34;equal&#34;) share: 120% must be 0 to 100"),
        "{}",
        r.body
    );
    assert!(r.body.contains("nothing was saved") && r.body.contains("<title>Error: "));
    // The engine's rules are checked before saving too: shares must add up to 100 %.
    let short = EQUAL.replace("share = \"100\"", "share = \"60\"");
    let r = send(
        &app,
        post_form(
            &path,
            Some(&cookie),
            &[("csrf_token", &csrf), ("body", &short), ("action", "save")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("not 100 %"), "{}", r.body);
    // Not TOML of the policy's shape: the line and field are named.
    let r = send(
        &app,
        post_form(
            &path,
            Some(&cookie),
            &[
                ("csrf_token", &csrf),
                ("body", "name = \"x\"\nstreams = 1\n"),
                ("action", "save"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("unknown field `streams`"), "{}", r.body);
    // Without the session's CSRF token nothing happens either.
    let r = send(
        &app,
        post_form(
            &path,
            Some(&cookie),
            &[("csrf_token", "wrong"), ("body", EQUAL), ("action", "save")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(versions(&app, &cookie).await, before, "nothing saved");

    // A preview shows each cluster's budget and saves nothing; a good edit adds version 2.
    let good = EQUAL.replace("fixed = \"3000\"", "fixed = \"4000\"");
    let r = send(
        &app,
        post_form(
            &path,
            Some(&cookie),
            &[("csrf_token", &csrf), ("body", &good), ("action", "preview")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Preview: what this draft gives each cluster") && r.body.contains("£4,000.00"));
    assert_eq!(versions(&app, &cookie).await, before);
    let r = send(
        &app,
        post_form(
            &path,
            Some(&cookie),
            &[
                ("csrf_token", &csrf),
                ("body", &good),
                ("note", "more"),
                ("action", "save"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(versions(&app, &cookie).await, 2, "the old version stays");
}

#[tokio::test]
async fn only_officers_change_policies_and_only_clerks_and_officers_write_narratives() {
    let app = app().await;
    let (head, head_csrf) = sign_in(&app, "head@norfolk.test").await;
    let (adviser, adviser_csrf) = sign_in(&app, "adviser@norfolk.test").await;
    // Everyone signed in reads the policies.
    let r = send(&app, get("/funding", &head)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Equal split") && !r.body.contains("Write a new policy"));
    let r = send(&app, get(&format!("/funding/{}", app.equal.0), &head)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("Edit this policy"));
    for (cookie, csrf) in [(&head, &head_csrf), (&adviser, &adviser_csrf)] {
        let r = send(&app, get(&format!("/funding/{}/edit", app.equal.0), cookie)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = send(
            &app,
            post_form(
                &format!("/funding/{}/edit", app.equal.0),
                Some(cookie),
                &[("csrf_token", csrf), ("body", EQUAL), ("action", "save")],
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        let r = send(
            &app,
            post_form(
                "/funding/new",
                Some(cookie),
                &[("csrf_token", csrf), ("body", BY_PUPILS), ("action", "save")],
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = send(
            &app,
            post_form(
                &format!("/funding/{}/in-force", app.equal.0),
                Some(cookie),
                &[
                    ("csrf_token", csrf),
                    ("version", &app.equal.1.to_string()),
                    ("period", "academic-2027"),
                ],
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    // Scenarios are for the authority and the cluster's clerk.
    let r = send(
        &app,
        get(
            &format!(
                "/funding/compare?cluster={}&a={}&b={}",
                app.hill, app.equal.1, app.by_pupils
            ),
            &head,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The head may not write the cluster's narrative; the clerk may, for their own cluster.
    let path = format!("/funding/narrative/{}", app.hill);
    let r = send(
        &app,
        post_form(
            &path,
            Some(&head),
            &[("csrf_token", &head_csrf), ("term", "2026-autumn"), ("body", "x")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let (clerk, clerk_csrf) = sign_in(&app, "clerk@norfolk.test").await;
    let r = send(
        &app,
        post_form(
            &path,
            Some(&clerk),
            &[("csrf_token", &clerk_csrf), ("term", "2026-autumn"), ("body", "  ")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("narrative: write what the cluster"));
    let r = send(
        &app,
        post_form(
            &path,
            Some(&clerk),
            &[
                ("csrf_token", &clerk_csrf),
                ("term", "2026-autumn"),
                ("body", "Attendance rose <b>2 points</b>."),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = send(&app, get("/schools/120002/report?term=2026-autumn", &head)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Attendance rose &#60;b&#62;2 points&#60;/b&#62;."),
        "escaped: {}",
        r.body
    );
    let r = send(&app, get("/schools/120002/report?term=2026-winter", &head)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("term: "));
    // The Vale cluster's clerk page is not this clerk's.
    let r = send(&app, get("/funding/narrative/999999?term=2026-autumn", &clerk)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_head_sees_only_their_own_schools_statement_and_its_csv_is_defused() {
    let app = app().await;
    let (head, _) = sign_in(&app, "head@norfolk.test").await;
    let r = send(&app, get("/schools/120002/statement", &head)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Brook Primary School") && r.body.contains("£1,500.00"),
        "{}",
        r.body
    );
    assert!(r.body.contains("an equal share (1 of 2 schools)"));
    for other in [
        "/schools/120001/statement",
        "/schools/120001/statement.csv",
        "/schools/120003/report",
    ] {
        let r = send(&app, get(other, &head)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{other}");
    }
    // On the cluster page the head sees the cluster's budget and only their own school's lines.
    let r = send(&app, get(&format!("/clusters/{}", app.hill), &head)).await;
    assert!(r.body.contains("£3,000.00") && r.body.contains("/schools/120002/statement"));
    assert!(!r.body.contains("/schools/120001/statement"), "another school's lines");
    assert!(
        r.body
            .contains("The other school's lines are shown to the cluster's clerk and the authority")
    );

    let r = send(&app, get("/schools/120002/statement.csv", &head)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers.get(header::CONTENT_TYPE).unwrap(), "text/csv; charset=utf-8");
    assert!(
        r.headers
            .get(header::CONTENT_DISPOSITION)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("statement-120002.csv")
    );
    assert_eq!(
        r.body,
        "cluster,urn,stream,phase,component,amount_pence\nHill cluster,120002,\"'=HYPERLINK(\"\"x\"\")\",all,equal,150000\n"
    );
    // The report file is a download with all three sections.
    let r = send(&app, get("/schools/120002/report.html?term=2026-autumn", &head)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers
            .get(header::CONTENT_DISPOSITION)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    for text in [
        "1. How big the budget is",
        "2. How it was spent",
        "No ledger entries are recorded",
        "3. What it changed",
        "has not written",
    ] {
        assert!(r.body.contains(text), "{text}");
    }
    // Another authority's officer finds nothing.
    let (theirs, _) = sign_in(&app, "officer@suffolk.test").await;
    let r = send(&app, get("/schools/120002/statement", &theirs)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(&app, get(&format!("/funding/{}", app.equal.0), &theirs)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Signed out: to the sign-in page.
    let r = send(
        &app,
        Request::get("/schools/120002/statement").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.headers.get(header::LOCATION).unwrap(), "/sign-in");
}

#[tokio::test]
async fn compare_shows_each_school_and_the_fairness_figures() {
    let app = app().await;
    let (clerk, _) = sign_in(&app, "clerk@norfolk.test").await;
    let r = send(
        &app,
        get(
            &format!(
                "/funding/compare?cluster={}&a={}&b={}",
                app.hill, app.equal.1, app.by_pupils
            ),
            &clerk,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Equal: £1,500 each, £1.25 and £5.00 a pupil; by pupils: £2,400 and £600, £2.00 each.
    for text in [
        "£1,500.00",
        "£2,400.00",
        "£600.00",
        "+£900.00",
        "+60.0%",
        "−£900.00",
        "−60.0%",
        "£1.25 (Hill High School)",
        "£5.00 (Brook Primary School)",
        "£3.75",
        "£0.00",
        // Gini: |125 − 500| × 2 ÷ (2 × 2 × 625) = 0.3; equal per pupil is 0.
        "0.300",
        "0.000",
        // £3,000 ÷ 180 FSM pupils.
        "£16.67",
        // Primary gets 50% of the money equally for 20% of the pupils; 20% by pupils.
        "50.0% (£1,500.00) for 20.0% of the pupils",
        "20.0% (£600.00) for 20.0% of the pupils",
    ] {
        assert!(
            r.body.contains(text),
            "compare lacks {text:?}: {}",
            r.body
                .split("share of the money")
                .nth(1)
                .unwrap_or_default()
                .chars()
                .take(400)
                .collect::<String>()
        );
    }
    // The Vale cluster is not the clerk's.
    let r = send(
        &app,
        get(
            &format!("/funding/compare?cluster=999999&a={}&b={}", app.equal.1, app.by_pupils),
            &clerk,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(&app, get("/funding/compare?cluster=x", &clerk)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("cluster: "));
}

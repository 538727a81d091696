//! HTTP tests for every route through `Router::oneshot`, each on a fresh in-memory database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use domain::access::{Scope, UserRole};
use domain::ids::{LaCode, Urn};
use http_body_util::BodyExt;
use service::import::{ImportKind, ImportOptions, ImportTarget};
use service::{Service, SystemClock};
use std::sync::Arc;
use support::{Reply, csrf_in, get, post_form};

const PASSWORD: &str = "a long enough password";

const CENSUS: &str = "urn,laestab,la_code,la_name,school_name,phase_type_grouping,academy_flag,pupils_headcount,fsm_eligible_count,district_name,easting,northing,postcode\n\
120001,9261001,926,Norfolk,Hill High School,State-funded secondary,Academy,1200,120,Norwich,620000,308000,NR1 1AA\n\
120002,9261002,926,Norfolk,Brook Primary School,State-funded primary,LA Maintained,300,60,Norwich,621000,309000,NR1 1AB\n\
120003,9261003,926,Norfolk,<script>alert(1)</script> Infant School,State-funded primary,LA Maintained,90,9,Breckland,600000,290000,IP25 1AA\n\
135001,9351001,935,Suffolk,Suffolk High School,State-funded secondary,Academy,900,90,Ipswich,616000,244000,IP1 1AA\n";

struct TestApp {
    router: Router,
    service: Service,
}

async fn app_with_limit(max_upload_bytes: usize) -> TestApp {
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(SystemClock));
    let options = ImportOptions {
        census_date: domain::NaiveDate::from_ymd_opt(2023, 1, 19),
        ..ImportOptions::default()
    };
    let report = service
        .import(ImportTarget::ByLaCode, ImportKind::Census, CENSUS.as_bytes(), &options)
        .await
        .unwrap();
    assert!(report.written, "{:?}", report.rejected);
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
    let members = "urn,cluster,role\n120001,Hill cluster,host\n120002,Hill cluster,feeder\n";
    let report = service
        .import(
            ImportTarget::Authority(norfolk.id),
            ImportKind::Clusters,
            members.as_bytes(),
            &ImportOptions::default(),
        )
        .await
        .unwrap();
    assert!(report.written);
    let users = [
        (
            norfolk.id,
            "officer@norfolk.test",
            UserRole::AuthorityOfficer,
            Scope::Authority,
        ),
        (
            norfolk.id,
            "governor@norfolk.test",
            UserRole::Governor,
            Scope::School(Urn::parse("120002").unwrap()),
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
            max_upload_bytes,
            sign_in_hint: None,
            ..web::WebConfig::default()
        },
    );
    TestApp { router, service }
}

async fn app() -> TestApp {
    app_with_limit(1024 * 1024).await
}

async fn send(app: &TestApp, request: Request<Body>) -> Reply {
    support::send(&app.router, request).await
}

/// Signs in with the test password; returns the session cookie and the session's CSRF token.
async fn sign_in(app: &TestApp, email: &str) -> (String, String) {
    support::sign_in(&app.router, email, PASSWORD).await
}

#[tokio::test]
async fn signed_out_requests_are_refused() {
    let app = app().await;
    for path in [
        "/",
        "/schools",
        "/schools/120001",
        "/clusters",
        "/clusters/1",
        "/map",
        "/import",
        "/import/1",
        "/governance",
        "/governance.csv",
    ] {
        let r = send(&app, get(path, None)).await;
        assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/sign-in"), "{path}");
        // A forged or expired cookie is no better than none.
        let r = send(
            &app,
            get(path, Some(&format!("clusterwise_session={}", "a".repeat(64)))),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
    }
    for path in ["/sign-out", "/import"] {
        let r = send(&app, post_form(path, None, &[])).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn health_and_assets_need_no_session() {
    let app = app().await;
    let r = send(&app, get("/health", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, r#"{"status":"ok","store":"sqlite"}"#);
    let r = send(&app, get("/assets/clusterwise.css", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert!(
        !r.body.contains("GDS Transport"),
        "the GOV.UK-only typeface is not used"
    );
    for path in [
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
        "/assets/nothing.js",
    ] {
        let r = send(&app, get(path, None)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn sign_in_succeeds_fails_and_signs_out() {
    let app = app().await;
    let form = send(&app, get("/sign-in", None)).await;
    assert_eq!(form.status, StatusCode::OK);
    let pre_cookie = form.cookie("clusterwise_sign_in").unwrap();
    assert!(pre_cookie.contains("HttpOnly") && pre_cookie.contains("SameSite=Strict") && pre_cookie.contains("Secure"));
    let pre = pre_cookie.split(';').next().unwrap().to_string();
    let token = csrf_in(&form.body);

    let wrong = send(
        &app,
        post_form(
            "/sign-in",
            Some(&pre),
            &[
                ("csrf_token", &token),
                ("email", "officer@norfolk.test"),
                ("password", "nope"),
            ],
        ),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("The email address or password is not right"));
    assert!(wrong.cookie("clusterwise_session").is_none());

    let missing = send(&app, post_form("/sign-in", Some(&pre), &[("csrf_token", &token)])).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.body.contains("Enter your email address and password"));

    let ok = send(
        &app,
        post_form(
            "/sign-in",
            Some(&pre),
            &[
                ("csrf_token", &token),
                ("email", "officer@norfolk.test"),
                ("password", PASSWORD),
            ],
        ),
    )
    .await;
    assert_eq!((ok.status, ok.location()), (StatusCode::SEE_OTHER, "/"));
    let session = ok.cookie("clusterwise_session").unwrap();
    for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(flag), "{session} lacks {flag}");
    }
    let cookie = session.split(';').next().unwrap().to_string();
    let home = send(&app, get("/", Some(&cookie))).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Norfolk: schools and clusters"));
    let csrf = csrf_in(&home.body);

    let out = send(&app, post_form("/sign-out", Some(&cookie), &[("csrf_token", &csrf)])).await;
    assert_eq!((out.status, out.location()), (StatusCode::SEE_OTHER, "/sign-in"));
    let after = send(&app, get("/", Some(&cookie))).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "the old session no longer works");
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_are_refused() {
    let app = app().await;
    // Sign-in form posted without its pre-session cookie or with a different token.
    let form = send(&app, get("/sign-in", None)).await;
    let token = csrf_in(&form.body);
    let fields = [
        ("csrf_token", token.as_str()),
        ("email", "officer@norfolk.test"),
        ("password", PASSWORD),
    ];
    let r = send(&app, post_form("/sign-in", None, &fields)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(&app, post_form("/sign-in", Some("clusterwise_sign_in=other"), &fields)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.cookie("clusterwise_session").is_none(),
        "no session for a refused form"
    );
    assert!(r.body.contains("did not come from Clusterwise") && r.body.contains("name=\"password\""));

    let (cookie, _) = sign_in(&app, "officer@norfolk.test").await;
    for token in ["", "wrong", &"0".repeat(64)] {
        let r = send(&app, post_form("/sign-out", Some(&cookie), &[("csrf_token", token)])).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{token:?}");
    }
    assert_eq!(
        send(&app, get("/", Some(&cookie))).await.status,
        StatusCode::OK,
        "still signed in"
    );
}

#[tokio::test]
async fn signing_in_again_ends_the_browsers_previous_session() {
    let app = app().await;
    let (old, _) = sign_in(&app, "officer@norfolk.test").await;
    let form = send(&app, get("/sign-in", None)).await;
    let pre = form.cookie("clusterwise_sign_in").unwrap();
    let cookies = format!("{}; {old}", pre.split(';').next().unwrap());
    let r = send(
        &app,
        post_form(
            "/sign-in",
            Some(&cookies),
            &[
                ("csrf_token", &csrf_in(&form.body)),
                ("email", "officer@norfolk.test"),
                ("password", PASSWORD),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let new = r.cookie("clusterwise_session").unwrap();
    assert!(!new.starts_with(&old), "a new token");
    assert_eq!(send(&app, get("/", Some(&old))).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_new_sign_in_never_keeps_a_planted_session_cookie() {
    let app = app().await;
    let (first, _) = sign_in(&app, "officer@norfolk.test").await;
    let (second, _) = sign_in(&app, "officer@norfolk.test").await;
    assert_ne!(first, second);
}

#[tokio::test]
async fn every_page_renders_with_data() {
    let app = app().await;
    let (cookie, _) = sign_in(&app, "officer@norfolk.test").await;
    let page = |path: &'static str| {
        let cookie = cookie.clone();
        let app = &app;
        async move { send(app, get(path, Some(&cookie))).await }
    };
    let r = page("/").await;
    assert!(r.body.contains("1,590") && r.body.contains("By district"), "{}", r.body);
    let r = page("/schools").await;
    assert!(r.body.contains("<strong>3</strong> schools match"));
    assert!(
        !r.body.contains("Suffolk High School"),
        "another authority's school is never listed"
    );
    let r = page("/schools?q=brook").await;
    assert!(r.body.contains("Brook Primary School") && r.body.contains("<strong>1</strong> school matches"));
    let r = page("/schools?phase=secondary&district=Norwich").await;
    assert!(r.body.contains("Hill High School") && !r.body.contains("Brook Primary"));
    let r = page("/schools?sort=pupils&dir=desc").await;
    let hill = r.body.find("Hill High School").unwrap();
    let brook = r.body.find("Brook Primary School").unwrap();
    assert!(hill < brook, "largest first");
    assert!(r.body.contains("aria-sort=\"descending\""));
    let r = page("/schools/120001").await;
    assert!(r.body.contains("Hill High School") && r.body.contains("Host (fund-holder)") && r.body.contains("9261001"));
    assert!(r.body.contains("Where it is") && r.body.contains("class=\"cw-locator\""));
    let r = page("/clusters").await;
    assert!(r.body.contains("Hill cluster") && r.body.contains("Below 2,500"));
    let r = page("/map").await;
    assert!(r.body.contains("<svg class=\"cw-map\"") && r.body.matches("<circle").count() >= 2);
    let r = page("/import").await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn a_cluster_page_lists_its_members() {
    let app = app().await;
    let (cookie, _) = sign_in(&app, "officer@norfolk.test").await;
    let list = send(&app, get("/clusters", Some(&cookie))).await;
    let start = list.body.find("/clusters/").unwrap() + "/clusters/".len();
    let id: String = list.body[start..].chars().take_while(char::is_ascii_digit).collect();
    let r = send(&app, get(&format!("/clusters/{id}"), Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Hill High School") && r.body.contains("Brook Primary School") && r.body.contains("1,500"));
    // No funding policy is in force here (tests/http_policies.rs puts one in force), and the page says so.
    assert!(r.body.contains("No funding policy is in force"), "{}", r.body);
    // Suffolk's officer cannot see it: 404, so its existence is not revealed.
    let (theirs, _) = sign_in(&app, "officer@suffolk.test").await;
    let r = send(&app, get(&format!("/clusters/{id}"), Some(&theirs))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_authoritys_records_are_not_found() {
    let app = app().await;
    let (theirs, _) = sign_in(&app, "officer@suffolk.test").await;
    for path in [
        "/schools/120001",
        "/schools/999999",
        "/schools/abc",
        "/clusters/999",
        "/clusters/x",
        "/no-such-page",
    ] {
        let r = send(&app, get(path, Some(&theirs))).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = send(&app, get("/schools", Some(&theirs))).await;
    assert!(r.body.contains("Suffolk High School") && !r.body.contains("Hill High School"));
}

#[tokio::test]
async fn bad_query_parameters_are_named() {
    let app = app().await;
    let (cookie, _) = sign_in(&app, "officer@norfolk.test").await;
    for (path, field) in [
        ("/schools?phase=wizard", "phase"),
        ("/schools?sort=password", "sort"),
        ("/schools?dir=sideways", "dir"),
        ("/schools?page=0", "page"),
        ("/schools?cluster=abc", "cluster"),
    ] {
        let r = send(&app, get(path, Some(&cookie))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(r.body.contains(field), "{path}: {}", r.body);
    }
    // Hostile search text is data.
    let r = send(&app, get("/schools?q=%27%20OR%201%3D1%20--", Some(&cookie))).await;
    assert!(r.body.contains("<strong>0</strong> schools match"));
}

#[tokio::test]
async fn names_are_escaped_everywhere() {
    let app = app().await;
    let (cookie, _) = sign_in(&app, "officer@norfolk.test").await;
    for path in ["/schools", "/schools/120003", "/map"] {
        let r = send(&app, get(path, Some(&cookie))).await;
        assert!(
            !r.body.contains("<script>alert(1)</script>"),
            "{path} has the raw script"
        );
        assert!(
            r.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || r.body.contains("&lt;script&gt;"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = app().await;
    let (cookie, _) = sign_in(&app, "officer@norfolk.test").await;
    for (path, signed_in) in [
        ("/sign-in", false),
        ("/health", false),
        ("/", true),
        ("/schools", true),
        ("/nope", true),
    ] {
        let r = send(&app, get(path, signed_in.then_some(cookie.as_str()))).await;
        let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(r.headers[header::CACHE_CONTROL], "no-store", "{path}");
    }
}

#[tokio::test]
async fn only_authority_officers_import() {
    let app = app().await;
    let (cookie, csrf) = sign_in(&app, "governor@norfolk.test").await;
    assert_eq!(
        send(&app, get("/import", Some(&cookie))).await.status,
        StatusCode::FORBIDDEN
    );
    let home = send(&app, get("/", Some(&cookie))).await;
    assert!(!home.body.contains("href=\"/import\""), "the menu does not offer it");
    let r = send(
        &app,
        multipart("/import", &cookie, &csrf, "census", "x.csv", CENSUS.as_bytes()),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

fn multipart(path: &str, cookie: &str, csrf: &str, kind: &str, file_name: &str, file: &[u8]) -> Request<Body> {
    let boundary = "----clusterwise-test-boundary";
    let mut body = Vec::new();
    for (name, value) in [("csrf_token", csrf), ("kind", kind), ("census_date", "2024-01-18")] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap()
}

/// Follows the run page until the import finishes (the task runs on this test's runtime).
async fn finished_run(app: &TestApp, cookie: &str, location: &str) -> Reply {
    for _ in 0..10_000 {
        let r = send(app, get(location, Some(cookie))).await;
        if !r.body.contains("Import in progress") {
            return r;
        }
        tokio::task::yield_now().await;
    }
    panic!("the import did not finish");
}

#[tokio::test]
async fn an_import_with_a_bad_row_writes_nothing_and_lists_the_row() {
    let app = app().await;
    let (cookie, csrf) = sign_in(&app, "officer@norfolk.test").await;
    let file = "urn,la_code,school_name,phase_type_grouping,pupils_headcount\n\
                120001,926,Hill High School,State-funded secondary,1250\n\
                120002,926,Brook Primary School,State-funded primary,lots\n";
    let r = send(
        &app,
        multipart("/import", &cookie, &csrf, "census", "../../etc/passwd", file.as_bytes()),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let run = finished_run(&app, &cookie, r.location()).await;
    assert!(run.body.contains("Nothing was written"), "{}", run.body);
    assert!(run.body.contains("pupils_headcount") && run.body.contains("lots") && run.body.contains(">3<"));
    assert!(
        run.body.contains("passwd") && !run.body.contains("../"),
        "only the file's own name is shown"
    );
    let school = send(&app, get("/schools/120001", Some(&cookie))).await;
    assert!(
        school.body.contains("1,200") && !school.body.contains("1,250"),
        "nothing half-saved"
    );

    // Another authority cannot read the run.
    let (theirs, _) = sign_in(&app, "officer@suffolk.test").await;
    assert_eq!(
        send(&app, get(r.location(), Some(&theirs))).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_good_import_updates_the_register() {
    let app = app().await;
    let (cookie, csrf) = sign_in(&app, "officer@norfolk.test").await;
    let file = "urn,la_code,school_name,phase_type_grouping,pupils_headcount\n120001,926,Hill High School,State-funded secondary,1250\n";
    let r = send(
        &app,
        multipart("/import", &cookie, &csrf, "census", "census.csv", file.as_bytes()),
    )
    .await;
    let run = finished_run(&app, &cookie, r.location()).await;
    assert!(run.body.contains("Imported"), "{}", run.body);
    let school = send(&app, get("/schools/120001", Some(&cookie))).await;
    assert!(school.body.contains("1,250 on 18 January 2024") && school.body.contains("19 January 2023"));
    let _ = &app.service;
}

#[tokio::test]
async fn oversized_uploads_are_refused_early() {
    let app = app_with_limit(2_000).await;
    let (cookie, csrf) = sign_in(&app, "officer@norfolk.test").await;
    let big = vec![b'a'; 10_000];
    let r = send(&app, multipart("/import", &cookie, &csrf, "census", "big.csv", &big)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn governance_health_lists_every_cluster_and_exports_csv() {
    let app = app().await;
    assert_eq!(send(&app, get("/governance", None)).await.status, StatusCode::SEE_OTHER);
    let (cookie, _) = sign_in(&app, "officer@norfolk.test").await;
    let r = send(&app, get("/governance", Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::OK);
    // The test cluster has no committee recorded: at risk, and the reason says so.
    assert!(
        r.body.contains("Hill cluster") && r.body.contains("At risk") && r.body.contains("no committee recorded"),
        "{}",
        r.body
    );
    // Any column sorts, without JavaScript; an unknown one is named.
    let r = send(&app, get("/governance?sort=vacancies&dir=desc", Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .contains(r#"aria-sort="descending"><a class="govuk-link" href="/governance?sort=vacancies">Vacancies"#),
        "{}",
        r.body
    );
    let r = send(&app, get("/governance?sort=shoe-size", Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("sort") && r.body.contains("shoe-size"));
    let csv = send(&app, get("/governance.csv", Some(&cookie))).await;
    assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(
        csv.body
            .lines()
            .next()
            .unwrap()
            .contains(",lowest_attendance_school,lowest_attendance_pct,disengaged_schools,")
    );
    assert!(csv.body.starts_with("cluster,status,last_quorate_meeting,"));
    assert!(csv.body.contains("Hill cluster,At risk,"));
    // Suffolk sees none of Norfolk's clusters.
    let (theirs, _) = sign_in(&app, "officer@suffolk.test").await;
    let csv = send(&app, get("/governance.csv", Some(&theirs))).await;
    assert_eq!(csv.body.lines().count(), 1);
}

#[tokio::test]
async fn a_signed_in_person_skips_the_sign_in_page() {
    let app = app().await;
    let (cookie, _) = sign_in(&app, "officer@norfolk.test").await;
    let r = send(&app, get("/sign-in", Some(&cookie))).await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/"));
    // A dead cookie still gets the form.
    let r = send(
        &app,
        get("/sign-in", Some(&format!("clusterwise_session={}", "b".repeat(64)))),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn uploads_over_the_limit_get_413_even_without_a_declared_length() {
    let app = app_with_limit(2_000).await;
    let (cookie, csrf) = sign_in(&app, "officer@norfolk.test").await;
    let mut request = multipart("/import", &cookie, &csrf, "census", "big.csv", &vec![b'a'; 10_000]);
    request.headers_mut().remove(header::CONTENT_LENGTH);
    let r = send(&app, request).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert!(r.body.contains("too large"));
}

#[tokio::test]
async fn an_import_without_the_sessions_csrf_token_is_refused_and_not_run() {
    let app = app().await;
    let (cookie, _) = sign_in(&app, "officer@norfolk.test").await;
    let file = "urn,la_code,school_name,phase_type_grouping,pupils_headcount\n120001,926,Hill High School,State-funded secondary,1250\n";
    for token in ["", "not-the-token"] {
        let r = send(
            &app,
            multipart("/import", &cookie, token, "census", "census.csv", file.as_bytes()),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{token:?}");
        assert!(r.body.contains("did not come from Clusterwise"));
    }
    assert_eq!(
        send(&app, get("/import/1", Some(&cookie))).await.status,
        StatusCode::NOT_FOUND,
        "no run was started"
    );
    let school = send(&app, get("/schools/120001", Some(&cookie))).await;
    assert!(!school.body.contains("1,250"));
}

#[tokio::test]
async fn import_form_errors_point_at_their_field() {
    let app = app().await;
    let (cookie, csrf) = sign_in(&app, "officer@norfolk.test").await;
    let cases = [
        ("census", "2024-01-18", "", "#file", "Choose a file to import"),
        (
            "census",
            "18/01/2024",
            "urn\n",
            "#census_date",
            "Census day must be a real date",
        ),
        (
            "pictures",
            "",
            "urn\n",
            "#kind-census",
            "Choose one of the kinds of file listed",
        ),
    ];
    for (kind, date, file, anchor, message) in cases {
        let mut request = multipart("/import", &cookie, &csrf, kind, "f.csv", file.as_bytes());
        // Replace the census day the helper sends with this case's.
        let body = std::mem::take(request.body_mut());
        let bytes = body.collect().await.unwrap().to_bytes();
        let text = String::from_utf8(bytes.to_vec()).unwrap().replace("2024-01-18", date);
        request.headers_mut().insert(header::CONTENT_LENGTH, text.len().into());
        *request.body_mut() = Body::from(text);
        let r = send(&app, request).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{anchor}");
        assert!(r.body.contains("<title>Error: Import"), "{anchor}");
        assert!(r.body.contains(&format!("href=\"{anchor}\"")), "{anchor}: {}", r.body);
        assert!(
            r.body.contains(message) && r.body.contains("govuk-error-message"),
            "{anchor}"
        );
        if !date.is_empty() {
            assert!(r.body.contains(&format!("value=\"{date}\"")), "the census day is kept");
        }
    }
}

#[tokio::test]
async fn the_security_headers_are_the_ones_we_promise() {
    let app = app().await;
    let r = send(&app, get("/sign-in", None)).await;
    let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{csp} lacks {directive}");
    }
    assert_eq!(r.headers[header::REFERRER_POLICY], "same-origin");
    assert!(
        !r.body.contains("<script>") && !r.body.contains(" style="),
        "no inline script or style"
    );
    let css = send(&app, get("/assets/clusterwise.css", None)).await;
    assert!(
        css.headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .starts_with("public")
    );
    assert_eq!(css.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[tokio::test]
async fn the_map_draws_every_placed_school_with_its_name_and_cluster() {
    let app = app().await;
    let (cookie, _) = sign_in(&app, "officer@norfolk.test").await;
    let r = send(&app, get("/map", Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::OK);
    // Three Norfolk schools: the host as a square, the others as circles, each a link.
    assert_eq!(r.body.matches("<a href=\"/schools/").count(), 3);
    assert_eq!(r.body.matches("<rect x=").count(), 1);
    assert!(
        r.body
            .contains("<title>Hill High School (URN 120001), Secondary: Hill cluster (Host (fund-holder))</title>")
    );
    assert!(
        r.body
            .contains("<title>Brook Primary School (URN 120002), Primary: Hill cluster (Feeder)</title>")
    );
    assert!(r.body.contains("Primary: no cluster</title>"));
    // One spoke, from the feeder to its host; a legend row for the cluster and one for no cluster.
    assert_eq!(r.body.matches("<line ").count(), 1);
    assert!(r.body.contains("id=\"cluster-") && r.body.contains("In no cluster"));
    assert!(!r.body.contains("Suffolk"), "another authority's schools are not drawn");
}

/// The Norfolk census file, beside the repository (as CI lays it out).
const NORFOLK: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/real/norfolk_schools_spc_2022_23.csv"
));

#[tokio::test]
async fn the_demo_pages_show_norfolk_and_say_the_map_is_illustrative() {
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(SystemClock));
    service.build_demo(NORFOLK).await.unwrap();
    let app = TestApp {
        router: web::router(service.clone(), web::WebConfig::default()),
        service,
    };
    let form = send(&app, get("/sign-in", None)).await;
    let pre = form.cookie("clusterwise_sign_in").unwrap();
    let pre = pre.split(';').next().unwrap().to_string();
    let r = send(
        &app,
        post_form(
            "/sign-in",
            Some(&pre),
            &[
                ("csrf_token", &csrf_in(&form.body)),
                ("email", "officer@demo.clusterwise.test"),
                ("password", service::demo::DEMO_PASSWORD),
            ],
        ),
    )
    .await;
    let cookie = r.cookie("clusterwise_session").unwrap();
    let cookie = cookie.split(';').next().unwrap();

    let home = send(&app, get("/", Some(cookie))).await;
    for text in [
        "454",
        "119,236",
        "This cluster map is illustrative",
        "It is not a proposal",
        "fewer than 2,500 pupils",
        "Great Yarmouth",
    ] {
        assert!(home.body.contains(text), "the overview lacks {text:?}");
    }
    let list = send(&app, get("/schools?phase=secondary&district=Norwich", Some(cookie))).await;
    assert!(list.body.contains("<strong>8</strong> schools match"), "{}", list.body);
    let map = send(&app, get("/map", Some(cookie))).await;
    assert!(map.body.contains("This cluster map is illustrative"));
    assert!(map.body.matches("<a href=\"/schools/").count() >= 450);
    assert!(map.body.matches("<rect x=").count() >= 40, "a host square per cluster");
    let clusters = send(&app, get("/clusters", Some(cookie))).await;
    assert!(clusters.body.contains("This cluster map is illustrative"));
    let _ = &app.service;
}

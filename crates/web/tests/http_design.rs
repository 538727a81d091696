//! HTTP tests of the boundary planner's pages (`/design`): who may see and run scenarios, the
//! form's errors by field, a run from the form to its figures, the comparison with the current
//! map, adoption as new dated memberships, CSRF, tenancy, and the demo's illustrative scenario.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use domain::access::{Scope, UserRole};
use domain::ids::{LaCode, Urn};
use service::design::{ScenarioId, ScenarioStatus};
use service::import::{ImportKind, ImportOptions, ImportTarget};
use service::{Service, SystemClock};
use std::sync::Arc;
use support::{Reply, get, post_form};

const PASSWORD: &str = "a long enough password";

/// Two towns 27 km apart, each with a secondary and two primaries; a Suffolk school.
const CENSUS: &str = "urn,laestab,la_code,la_name,school_name,phase_type_grouping,academy_flag,pupils_headcount,fsm_eligible_count,district_name,easting,northing,postcode\n\
120001,9261001,926,Norfolk,Hill High School,State-funded secondary,Academy,800,80,Norwich,620000,308000,NR1 1AA\n\
120002,9261002,926,Norfolk,Brook Primary School,State-funded primary,LA Maintained,200,40,Norwich,621000,309000,NR1 1AB\n\
120003,9261003,926,Norfolk,Oak Primary School,State-funded primary,LA Maintained,200,20,Norwich,622000,308500,NR1 1AC\n\
120004,9261004,926,Norfolk,Vale High School,State-funded secondary,Academy,700,70,Breckland,600000,290000,IP25 1AA\n\
120005,9261005,926,Norfolk,Elm Primary School,State-funded primary,LA Maintained,150,15,Breckland,601000,291000,IP25 1AB\n\
120006,9261006,926,Norfolk,Ash Primary School,State-funded primary,LA Maintained,150,30,Breckland,599000,289500,IP25 1AC\n\
135001,9351001,935,Suffolk,Suffolk High School,State-funded secondary,Academy,900,90,Ipswich,616000,244000,IP1 1AA\n";

struct TestApp {
    router: Router,
    service: Service,
}

async fn app() -> TestApp {
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
    let authority = |code: &str| {
        let service = service.clone();
        let code = code.to_string();
        async move {
            service
                .store()
                .authority_by_code(LaCode::parse(&code).unwrap())
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    let (norfolk, suffolk) = (authority("926").await, authority("935").await);
    // Today's map: two clusters, two primaries in none.
    let members = "urn,cluster,role\n120001,Hill cluster,host\n120002,Hill cluster,feeder\n120004,Vale cluster,host\n120005,Vale cluster,feeder\n";
    let report = service
        .import(
            ImportTarget::Authority(norfolk),
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
    let users = [
        (
            norfolk,
            "officer@norfolk.test",
            UserRole::AuthorityOfficer,
            Scope::Authority,
        ),
        (norfolk, "adviser@norfolk.test", UserRole::Adviser, Scope::Authority),
        (
            norfolk,
            "head@norfolk.test",
            UserRole::Headteacher,
            Scope::School(Urn::parse("120001").unwrap()),
        ),
        (
            suffolk,
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
    let router = web::router(service.clone(), web::WebConfig::default());
    TestApp { router, service }
}

async fn send(app: &TestApp, request: Request<Body>) -> Reply {
    support::send(&app.router, request).await
}

/// Signs in; returns the session cookie and the session's CSRF token.
async fn sign_in(app: &TestApp, email: &str, password: &str) -> (String, String) {
    support::sign_in(&app.router, email, password).await
}

/// A small scenario the two towns can meet: two clusters of 500 to 1,500 pupils.
fn scenario_form<'a>(csrf: &'a str, name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf_token", csrf),
        ("name", name),
        ("mode", "redraw"),
        ("min_pupils", "500"),
        ("max_pupils", "1,500"),
        ("min_clusters", "2"),
        ("max_clusters", "2"),
        ("districts", "soft"),
        ("seed", "3"),
        ("time_limit", "20"),
        ("max_iterations", "20000"),
        ("exclude_urns", ""),
    ]
}

/// Follows a scenario's page until its run finishes (the run is a task on this test's runtime).
async fn finished(app: &TestApp, cookie: &str, location: &str) -> Reply {
    for _ in 0..100_000 {
        let r = send(app, get(location, Some(cookie))).await;
        if !r.body.contains("http-equiv=\"refresh\"") {
            return r;
        }
        tokio::task::yield_now().await;
    }
    panic!("the scenario did not finish");
}

/// Runs the small scenario as the officer and returns its page's address and the finished page.
async fn run_small(app: &TestApp, cookie: &str, csrf: &str) -> (String, Reply) {
    let r = send(
        app,
        post_form("/design", Some(cookie), &scenario_form(csrf, "Two towns")),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let location = r.location().to_string();
    assert!(location.starts_with("/design/"), "{location}");
    let page = finished(app, cookie, &location).await;
    (location, page)
}

#[tokio::test]
async fn signed_out_requests_are_refused() {
    let app = app().await;
    for path in ["/design", "/design/1", "/design/compare?a=current&b=1"] {
        let r = send(&app, get(path, None)).await;
        assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/sign-in"), "{path}");
    }
    for path in ["/design", "/design/1/adopt"] {
        let r = send(&app, post_form(path, None, &[])).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn only_officers_run_and_adopt_and_advisers_only_look() {
    let app = app().await;
    let (officer, officer_csrf) = sign_in(&app, "officer@norfolk.test", PASSWORD).await;
    let (location, _) = run_small(&app, &officer, &officer_csrf).await;

    // A headteacher sees no planner at all, and is not offered it.
    let (head, head_csrf) = sign_in(&app, "head@norfolk.test", PASSWORD).await;
    let home = send(&app, get("/", Some(&head))).await;
    assert!(!home.body.contains("href=\"/design\""), "the menu does not offer it");
    for path in ["/design", location.as_str(), "/design/compare?a=current&b=1"] {
        assert_eq!(
            send(&app, get(path, Some(&head))).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let r = send(
        &app,
        post_form("/design", Some(&head), &scenario_form(&head_csrf, "Mine")),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let adopt = format!("{location}/adopt");
    let r = send(
        &app,
        post_form(
            &adopt,
            Some(&head),
            &[("csrf_token", &head_csrf), ("effective", "2025-09-01")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // An adviser looks: the list and the scenario, but no form and no adopt button.
    let (adviser, adviser_csrf) = sign_in(&app, "adviser@norfolk.test", PASSWORD).await;
    let list = send(&app, get("/design", Some(&adviser))).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Two towns") && !list.body.contains("Run the planner"));
    let page = send(&app, get(&location, Some(&adviser))).await;
    assert!(page.body.contains("Proposed clusters") && !page.body.contains("Adopt this scenario"));
    let r = send(
        &app,
        post_form("/design", Some(&adviser), &scenario_form(&adviser_csrf, "Mine")),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &app,
        post_form(
            &adopt,
            Some(&adviser),
            &[("csrf_token", &adviser_csrf), ("effective", "2025-09-01")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Another authority's officer finds nothing there.
    let (suffolk, suffolk_csrf) = sign_in(&app, "officer@suffolk.test", PASSWORD).await;
    assert_eq!(
        send(&app, get(&location, Some(&suffolk))).await.status,
        StatusCode::NOT_FOUND
    );
    let r = send(
        &app,
        post_form(
            &adopt,
            Some(&suffolk),
            &[("csrf_token", &suffolk_csrf), ("effective", "2025-09-01")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let list = send(&app, get("/design", Some(&suffolk))).await;
    assert!(!list.body.contains("Two towns"));
}

#[tokio::test]
async fn bad_parameters_are_named_by_field_and_nothing_runs() {
    let app = app().await;
    let (cookie, csrf) = sign_in(&app, "officer@norfolk.test", PASSWORD).await;
    let cases: Vec<(&str, &str, &str, &str)> = vec![
        ("name", "", "#name", "Enter a name for the scenario"),
        ("min_pupils", "lots", "#min_pupils", "must be a whole number"),
        (
            "max_clusters",
            "1",
            "#max_clusters",
            "The most clusters must be at least the fewest (2)",
        ),
        ("time_limit", "600", "#time_limit", "between 1 and 60"),
        ("mode", "merge", "#mode", "Choose whether to redraw"),
        (
            "exclude_urns",
            "120001, 999999",
            "#exclude_urns",
            "URN 999999 is not on this authority",
        ),
        ("exclude_urns", "<b>x</b>", "#exclude_urns", "” is not a URN (6 digits)"),
    ];
    for (field, value, anchor, message) in cases {
        let mut form = scenario_form(&csrf, "Bad");
        for pair in &mut form {
            if pair.0 == field {
                pair.1 = value;
            }
        }
        let r = send(&app, post_form("/design", Some(&cookie), &form)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(
            r.body.contains(&format!("href=\"{anchor}\"")),
            "{field}: no link to {anchor}"
        );
        assert!(r.body.contains(message), "{field}: {message:?} missing");
        assert!(r.body.contains("<title>Error: "), "{field}");
        assert!(!r.body.contains("<b>x</b>"), "what was typed is escaped");
        // What was typed is kept.
        assert!(r.body.contains("value=\"1,500\""), "{field}");
    }
    assert!(
        app.service
            .store()
            .scenarios(domain::ids::AuthorityId(1))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_post_without_the_sessions_csrf_token_runs_nothing() {
    let app = app().await;
    let (cookie, csrf) = sign_in(&app, "officer@norfolk.test", PASSWORD).await;
    let mut form = scenario_form("wrong", "Forged");
    let r = send(&app, post_form("/design", Some(&cookie), &form)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    form[0].1 = "";
    assert_eq!(
        send(&app, post_form("/design", Some(&cookie), &form)).await.status,
        StatusCode::FORBIDDEN
    );
    let list = send(&app, get("/design", Some(&cookie))).await;
    assert!(list.body.contains("No scenarios yet"));
    // Adopting needs the token too.
    let (location, _) = run_small(&app, &cookie, &csrf).await;
    let r = send(
        &app,
        post_form(
            &format!("{location}/adopt"),
            Some(&cookie),
            &[("effective", "2025-09-01")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let page = send(&app, get(&location, Some(&cookie))).await;
    assert!(page.body.contains("Adopt this scenario"), "not adopted");
}

#[tokio::test]
async fn a_run_shows_its_map_figures_and_breaches() {
    let app = app().await;
    let (cookie, csrf) = sign_in(&app, "officer@norfolk.test", PASSWORD).await;
    let (location, page) = run_small(&app, &cookie, &csrf).await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "Two towns",
        "Map found",
        "Proposed clusters",
        "Hill High School cluster",
        "Vale High School cluster",
        "1,200",
        "1,000",
        "2 primary, 1 secondary",
        "Travel to the hub",
        "The objective and its parts",
        "Compare with the current map",
        "Adopt this scenario",
        "10 km",
    ] {
        assert!(page.body.contains(text), "the scenario page lacks {text:?}");
    }
    // Six schools on six points: six cells, six dots, two hubs as squares; no external tiles.
    assert_eq!(
        page.body.matches("<path d=\"M").count(),
        6 + 1,
        "six cells and the scale bar"
    );
    assert_eq!(page.body.matches("<circle ").count(), 4);
    assert_eq!(page.body.matches("<rect x=").count(), 2);
    assert!(!page.body.contains("http://tile") && !page.body.contains("https://"));
    // Today's map split into new clusters is a named breach of "keep existing cluster-mates
    // together" only if it happens; the district rule is soft and no cluster crosses one.
    assert!(page.body.contains("Principles broken"));
    // The stored record agrees with the page.
    let id = ScenarioId(location.trim_start_matches("/design/").parse().unwrap());
    let record = app
        .service
        .store()
        .scenario(domain::ids::AuthorityId(1), id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.summary.status, ScenarioStatus::Done);
    assert_eq!(record.assignment.len(), 6);
    let mut pupils: Vec<u64> = record.clusters.iter().map(|c| c.pupils).collect();
    pupils.sort_unstable();
    assert_eq!(pupils, vec![1_000, 1_200]);
    // The list shows it with its figures.
    let list = send(&app, get("/design", Some(&cookie))).await;
    assert!(list.body.contains("Two towns") && list.body.contains("Map found"));
    assert!(list.body.contains("Compare two maps"));
    // A scenario number that is not one is a 404.
    for path in ["/design/0", "/design/x", "/design/999"] {
        assert_eq!(
            send(&app, get(path, Some(&cookie))).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_infeasible_scenario_says_why_and_cannot_be_adopted() {
    let app = app().await;
    let (cookie, csrf) = sign_in(&app, "officer@norfolk.test", PASSWORD).await;
    let mut form = scenario_form(&csrf, "Too big");
    for pair in &mut form {
        if pair.0 == "min_pupils" {
            pair.1 = "1,400";
        }
    }
    let r = send(&app, post_form("/design", Some(&cookie), &form)).await;
    let location = r.location().to_string();
    let page = finished(&app, &cookie, &location).await;
    assert!(page.body.contains("No valid map"), "{}", page.body);
    assert!(page.body.contains("To relax"));
    assert!(!page.body.contains("Adopt this scenario"));
    let r = send(
        &app,
        post_form(
            &format!("{location}/adopt"),
            Some(&cookie),
            &[("csrf_token", &csrf), ("effective", "2025-09-01")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.body.contains("found no valid map, so there is nothing to adopt"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_scenario_compares_with_the_current_map() {
    let app = app().await;
    let (cookie, csrf) = sign_in(&app, "officer@norfolk.test", PASSWORD).await;
    let (location, _) = run_small(&app, &cookie, &csrf).await;
    let id = location.trim_start_matches("/design/");
    let r = send(&app, get(&format!("/design/compare?a=current&b={id}"), Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for text in [
        "Current map",
        "Two towns",
        "judged by the same rules",
        "Hard constraints broken",
        "Every school in a cluster: 2",
        "Schools that move",
        "Oak Primary School",
        "In no cluster",
        "Hill High School cluster",
        "Principles and constraints, side by side",
    ] {
        assert!(r.body.contains(text), "the comparison lacks {text:?}");
    }
    // Two maps side by side.
    assert_eq!(r.body.matches("<svg class=\"cw-map\"").count(), 2);
    // The two unclustered primaries join; nobody else moves.
    assert!(r.body.contains("2 schools change cluster; 4 stay"), "{}", r.body);
    for (query, status) in [
        ("a=current&b=current", StatusCode::UNPROCESSABLE_ENTITY),
        ("a=nonsense&b=1", StatusCode::BAD_REQUEST),
        ("b=1", StatusCode::BAD_REQUEST),
        ("a=current&b=999", StatusCode::NOT_FOUND),
    ] {
        let r = send(&app, get(&format!("/design/compare?{query}"), Some(&cookie))).await;
        assert_eq!(r.status, status, "{query}");
    }
}

#[tokio::test]
async fn adopting_makes_the_scenario_the_map_and_keeps_the_old_one_in_history() {
    let app = app().await;
    let (cookie, csrf) = sign_in(&app, "officer@norfolk.test", PASSWORD).await;
    let (location, _) = run_small(&app, &cookie, &csrf).await;
    let adopt = format!("{location}/adopt");
    // A date that is not one is named.
    for bad in ["", "1 September", "2026-02-30"] {
        let r = send(
            &app,
            post_form(&adopt, Some(&cookie), &[("csrf_token", &csrf), ("effective", bad)]),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        assert!(r.body.contains("href=\"#effective\""), "{bad:?}");
    }
    // Before today's memberships began: refused, nothing changed.
    let r = send(
        &app,
        post_form(
            &adopt,
            Some(&cookie),
            &[("csrf_token", &csrf), ("effective", "2023-08-31")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("already start later, on 2023-09-01"), "{}", r.body);

    let today = domain::import::date_from_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    )
    .format("%Y-%m-%d")
    .to_string();
    let r = send(
        &app,
        post_form(&adopt, Some(&cookie), &[("csrf_token", &csrf), ("effective", &today)]),
    )
    .await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, location.as_str()),
        "{}",
        r.body
    );
    let page = send(&app, get(&location, Some(&cookie))).await;
    assert!(page.body.contains("Adopted by Test user") && !page.body.contains("Adopt this scenario"));

    // The cluster list is the adopted map; the old clusters are gone from it.
    let clusters = send(&app, get("/clusters", Some(&cookie))).await;
    assert!(clusters.body.contains("Hill High School cluster") && clusters.body.contains("Vale High School cluster"));
    assert!(!clusters.body.contains(">Hill cluster<"), "{}", clusters.body);
    assert!(clusters.body.contains("2 clusters."));
    // The hubs host; the old membership is in the school's history.
    let school = send(&app, get("/schools/120002", Some(&cookie))).await;
    assert!(school.body.contains("Hill cluster") && school.body.contains("Hill High School cluster"));
    let user = app
        .service
        .session(
            cookie
                .trim_start_matches("clusterwise_session=")
                .split(';')
                .next()
                .unwrap(),
        )
        .await
        .unwrap()
        .unwrap()
        .user;
    let hill = app
        .service
        .clusters(&user)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.cluster.name == "Hill High School cluster")
        .unwrap();
    let detail = app.service.cluster(&user, hill.cluster.id).await.unwrap();
    assert_eq!(detail.members[0].0.school.name, "Hill High School");
    assert_eq!(detail.members[0].1, domain::cluster::MembershipRole::Host);
    assert_eq!(detail.summary.pupils, 1_200);

    // Twice: refused, clearly.
    let r = send(
        &app,
        post_form(&adopt, Some(&cookie), &[("csrf_token", &csrf), ("effective", &today)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("was adopted already"), "{}", r.body);
}

/// The Norfolk census file, beside the repository (as CI lays it out).
const NORFOLK: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/real/norfolk_schools_spc_2022_23.csv"
));

#[tokio::test]
async fn the_demo_shows_an_illustrative_norfolk_redraw_linked_from_the_map() {
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(SystemClock));
    service.build_demo(NORFOLK).await.unwrap();
    let app = TestApp {
        router: web::router(service.clone(), web::WebConfig::default()),
        service,
    };
    let (cookie, _) = sign_in(&app, "officer@demo.clusterwise.test", service::demo::DEMO_PASSWORD).await;
    let map = send(&app, get("/map", Some(&cookie))).await;
    let marker = "<a class=\"govuk-link\" href=\"/design/";
    let at = map.body.find(marker).expect("the map links to the scenario") + marker.len() - "/design/".len();
    let href = &map.body[at..at + map.body[at..].find('"').unwrap()];
    assert!(map.body.contains("See the illustrative redraw scenario"));
    let page = send(&app, get(href, Some(&cookie))).await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "This scenario is illustrative",
        "Proposed clusters",
        "Map found",
        "Redraw from schools",
    ] {
        assert!(page.body.contains(text), "the demo scenario lacks {text:?}");
    }
    // The map keeps Norfolk's bounds: 22 to 32 clusters of 2,500 to 5,000 pupils, every pupil.
    let id = ScenarioId(href.trim_start_matches("/design/").parse().unwrap());
    let authority = app.service.store().list_authorities().await.unwrap()[0].id;
    let record = app.service.store().scenario(authority, id).await.unwrap().unwrap();
    assert!(record.summary.illustrative && record.summary.adoption.is_none());
    assert!((22..=32).contains(&record.clusters.len()), "{}", record.clusters.len());
    assert!(record.clusters.iter().all(|c| (2_500..=5_000).contains(&c.pupils)));
    assert_eq!(record.clusters.iter().map(|c| c.pupils).sum::<u64>(), 119_236);
    assert_eq!(
        page.body.matches("<rect x=").count(),
        record.clusters.len(),
        "a hub square per cluster"
    );
    // And it compares with the demo's illustrative current map.
    let r = send(
        &app,
        get(&format!("/design/compare?a=current&b={}", id.0), Some(&cookie)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Pupils per cluster at least the smallest size"),
        "today's small clusters are named"
    );
}

#[tokio::test]
async fn amalgamating_keeps_todays_clusters_whole() {
    let app = app().await;
    let (cookie, csrf) = sign_in(&app, "officer@norfolk.test", PASSWORD).await;
    let mut form = scenario_form(&csrf, "Amalgamate");
    for pair in &mut form {
        if pair.0 == "mode" {
            pair.1 = "amalgamate";
        }
    }
    let r = send(&app, post_form("/design", Some(&cookie), &form)).await;
    let location = r.location().to_string();
    let page = finished(&app, &cookie, &location).await;
    assert!(
        page.body.contains("Amalgamate whole clusters") && page.body.contains("Map found"),
        "{}",
        page.body
    );
    let id = ScenarioId(location.trim_start_matches("/design/").parse().unwrap());
    let record = app
        .service
        .store()
        .scenario(domain::ids::AuthorityId(1), id)
        .await
        .unwrap()
        .unwrap();
    let label = |u: &str| {
        record
            .assignment
            .iter()
            .find(|(x, _)| x.to_string() == u)
            .map(|(_, l)| l.clone())
            .unwrap()
    };
    assert_eq!(label("120001"), label("120002"), "Hill cluster stays whole");
    assert_eq!(label("120004"), label("120005"), "Vale cluster stays whole");
    assert!(!page.body.contains("Keep existing cluster-mates together"));
}

#[tokio::test]
async fn schools_that_stay_together_and_locked_schools_are_kept_and_bad_lines_are_named() {
    let app = app().await;
    let (cookie, csrf) = sign_in(&app, "officer@norfolk.test", PASSWORD).await;
    // A bad group and a bad lock are named by line; nothing runs.
    for (field, value, message) in [
        ("must_link", "120003, 120006\n120002", "line 2: give at least two URNs"),
        ("must_link", "120003, ABC", "line 1: “ABC” is not a URN"),
        (
            "must_link",
            "120003, 999999",
            "URN 999999 is not on this authority&#39;s register",
        ),
        ("locks", "120001", "line 1: after the URN and a comma, name the cluster"),
        (
            "locks",
            "120001, North\n120001, South",
            "line 2: URN 120001 is locked twice",
        ),
    ] {
        let mut form = scenario_form(&csrf, "Bad lines");
        form.push((field, value));
        let r = send(&app, post_form("/design", Some(&cookie), &form)).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field} {value}: {}",
            r.body
        );
        assert!(r.body.contains(message), "{field} {value}: {}", r.body);
    }
    // Oak (Norwich) must stay with Ash (Breckland); Hill and Vale are locked under two names.
    let mut form = scenario_form(&csrf, "Together");
    form.push(("must_link", "120003, 120006"));
    form.push(("locks", "120001, North\n120004, South"));
    let r = send(&app, post_form("/design", Some(&cookie), &form)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let location = r.location().to_string();
    let page = finished(&app, &cookie, &location).await;
    assert!(page.body.contains("Map found"), "{}", page.body);
    assert!(
        page.body.contains("120003 + 120006") && page.body.contains("120001 to North"),
        "{}",
        page.body
    );
    let id = ScenarioId(location.trim_start_matches("/design/").parse().unwrap());
    let record = app
        .service
        .store()
        .scenario(domain::ids::AuthorityId(1), id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.summary.params.must_link.len(), 1);
    assert_eq!(record.summary.params.locks.len(), 2);
    let label = |u: &str| {
        record
            .assignment
            .iter()
            .find(|(x, _)| x.to_string() == u)
            .map(|(_, l)| l.clone())
            .unwrap()
    };
    assert_eq!(label("120003"), label("120006"), "the group stays together");
    assert_ne!(
        label("120001"),
        label("120004"),
        "different locks never share a cluster"
    );
}

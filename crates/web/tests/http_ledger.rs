//! HTTP tests of cluster budget monitoring through `Router::oneshot`: sign-in and CSRF on every
//! route, who may see and post what, a double submit posting once, refusals that name the field
//! and the rule, reversal, and the demo's ledgers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::Router;
use axum::http::StatusCode;
use domain::access::{Scope, UserRole};
use domain::ids::{ClusterId, LaCode, Urn};
use service::import::{ImportKind, ImportOptions, ImportTarget};
use service::{Service, SystemClock};
use std::sync::Arc;
use support::{Reply, get, post_form, send};

const PASSWORD: &str = "a long enough password";

const CENSUS: &str = "urn,laestab,la_code,la_name,school_name,phase_type_grouping,academy_flag,pupils_headcount,fsm_eligible_count,district_name,easting,northing,postcode\n\
120001,9261001,926,Norfolk,Hill High School,State-funded secondary,Academy,1200,120,Norwich,620000,308000,NR1 1AA\n\
120002,9261002,926,Norfolk,Brook Primary School,State-funded primary,LA Maintained,300,60,Norwich,621000,309000,NR1 1AB\n\
120003,9261003,926,Norfolk,Dale Primary School,State-funded primary,LA Maintained,90,9,Breckland,600000,290000,IP25 1AA\n\
135001,9351001,935,Suffolk,Suffolk High School,State-funded secondary,Academy,900,90,Ipswich,616000,244000,IP1 1AA\n";

struct TestApp {
    router: Router,
    hill: ClusterId,
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
        }
    };
    let (norfolk, suffolk) = (authority("926").await, authority("935").await);
    let members = "urn,cluster,role\n120001,Hill cluster,host\n120002,Hill cluster,feeder\n120003,Dale cluster,host\n";
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
    let clusters = service
        .store()
        .list_clusters(norfolk.id, domain::NaiveDate::from_ymd_opt(2100, 1, 1).unwrap())
        .await
        .unwrap();
    let id = |name: &str| clusters.iter().find(|c| c.cluster.name == name).unwrap().cluster.id;
    let (hill, dale) = (id("Hill cluster"), id("Dale cluster"));
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
            "clerk@norfolk.test",
            UserRole::ClusterClerk,
            Scope::Cluster(hill),
        ),
        (
            norfolk.id,
            "dale-clerk@norfolk.test",
            UserRole::ClusterClerk,
            Scope::Cluster(dale),
        ),
        (
            norfolk.id,
            "governor@norfolk.test",
            UserRole::Governor,
            Scope::School(urn("120002")),
        ),
        (
            norfolk.id,
            "mentor@norfolk.test",
            UserRole::StrandStaff,
            Scope::School(urn("120001")),
        ),
        (
            norfolk.id,
            "evaluator@norfolk.test",
            UserRole::Evaluator,
            Scope::Authority,
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
        service,
        web::WebConfig {
            secure_cookies: true,
            max_upload_bytes: 1024 * 1024,
            sign_in_hint: None,
            ..web::WebConfig::default()
        },
    );
    TestApp { router, hill }
}

/// The value of the first hidden input called `name` in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} field")) + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_string()
}

/// A signed-in browser: its session cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

async fn sign_in(router: &Router, email: &str) -> Browser {
    let (cookie, csrf) = support::sign_in(router, email, PASSWORD).await;
    Browser { cookie, csrf }
}

impl TestApp {
    fn budget(&self) -> String {
        format!("/clusters/{}/budget", self.hill)
    }
    async fn page(&self, who: &Browser, path: &str) -> Reply {
        send(&self.router, get(path, Some(&who.cookie))).await
    }
    /// Opens the entry form (for its idempotency key), then posts it with `fields`.
    async fn post_entry(&self, who: &Browser, fields: &[(&str, &str)]) -> (Reply, String) {
        let form = self.page(who, &format!("{}/entries/new", self.budget())).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let key = hidden(&form.body, "idempotency_key");
        let r = self.submit(who, &key, fields).await;
        (r, key)
    }
    async fn submit(&self, who: &Browser, key: &str, fields: &[(&str, &str)]) -> Reply {
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", &who.csrf), ("idempotency_key", key)];
        all.extend_from_slice(fields);
        send(
            &self.router,
            post_form(&format!("{}/entries", self.budget()), Some(&who.cookie), &all),
        )
        .await
    }
    /// The officer receives £10,000 admin money and £1,000 for each phase of gifted and talented.
    async fn fund(&self, officer: &Browser) {
        for (stream, phase, amount) in [
            ("Cluster admin", "all", "£10,000.00"),
            ("Gifted and talented", "primary", "1000"),
            ("Gifted and talented", "secondary", "1000"),
        ] {
            let (r, _) = self
                .post_entry(
                    officer,
                    &[
                        ("kind", "receipt"),
                        ("new_stream", stream),
                        ("new_phase", phase),
                        ("holder", "central"),
                        ("amount", amount),
                        ("date", "2026-11-30"),
                        ("memo", "Receipt from Norfolk County Council"),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        }
    }
}

fn journal_rows(page: &str) -> usize {
    page.split("id=\"journal\"").nth(1).map_or(0, |j| {
        j.split("</table>")
            .next()
            .unwrap_or("")
            .matches("<tr class=\"govuk-table__row\">")
            .count()
            - 1
    })
}

#[tokio::test]
async fn the_budget_routes_need_a_session_and_a_csrf_token() {
    let app = app().await;
    let b = app.budget();
    for path in [b.clone(), format!("{b}/entries/new"), format!("{b}/entries/1/reverse")] {
        let r = send(&app.router, get(&path, None)).await;
        assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/sign-in"), "{path}");
    }
    for path in [format!("{b}/entries"), format!("{b}/entries/1/reverse")] {
        let r = send(&app.router, post_form(&path, None, &[])).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let officer = sign_in(&app.router, "officer@norfolk.test").await;
    let form = app.page(&officer, &format!("{b}/entries/new")).await;
    let key = hidden(&form.body, "idempotency_key");
    let fields = [
        ("idempotency_key", key.as_str()),
        ("kind", "receipt"),
        ("new_stream", "Cluster admin"),
        ("new_phase", "all"),
        ("holder", "central"),
        ("amount", "100"),
        ("date", "2026-11-30"),
        ("memo", "Forged"),
    ];
    for token in ["", "forged"] {
        let mut f = vec![("csrf_token", token)];
        f.extend_from_slice(&fields);
        let r = send(
            &app.router,
            post_form(&format!("{b}/entries"), Some(&officer.cookie), &f),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    }
    let page = app.page(&officer, &b).await;
    assert!(page.body.contains("No entries yet."), "nothing was posted");
}

#[tokio::test]
async fn a_double_submit_posts_once() {
    let app = app().await;
    let officer = sign_in(&app.router, "officer@norfolk.test").await;
    let fields = [
        ("kind", "receipt"),
        ("new_stream", "Cluster admin"),
        ("new_phase", "all"),
        ("holder", "central"),
        ("amount", "£2,500.00"),
        ("date", "2026-11-30"),
        ("memo", "Admin funding 2026-27"),
    ];
    let (first, key) = app.post_entry(&officer, &fields).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    assert!(first.location().starts_with(&format!("{}?posted=", app.budget())));
    let second = app.submit(&officer, &key, &fields).await;
    assert_eq!(second.status, StatusCode::SEE_OTHER);
    assert!(second.location().contains("replayed=yes"), "{}", second.location());
    let page = app.page(&officer, second.location()).await;
    assert!(
        page.body
            .contains("had already been posted (the form was sent twice): nothing new was written")
    );
    assert_eq!(journal_rows(&page.body), 1);
    assert!(page.body.contains("£2,500.00"));
    // The same key with different content is refused, not posted.
    let mut changed = fields.to_vec();
    changed[4] = ("amount", "£9.99");
    let r = app.submit(&officer, &key, &changed).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(journal_rows(&app.page(&officer, &app.budget()).await.body), 1);
}

#[tokio::test]
async fn refusals_name_the_field_and_the_rule() {
    let app = app().await;
    let officer = sign_in(&app.router, "officer@norfolk.test").await;
    let clerk = sign_in(&app.router, "clerk@norfolk.test").await;
    app.fund(&officer).await;
    let page = app.page(&clerk, &format!("{}/entries/new", app.budget())).await;
    assert!(page.body.contains("value=\"primary:Gifted and talented\""));
    assert!(
        !page.body.contains("value=\"receipt\""),
        "the clerk is not offered receipts"
    );

    // A virement across phases: refused, naming the ring-fence rule, against the To field.
    let (r, _) = app
        .post_entry(
            &clerk,
            &[
                ("kind", "virement"),
                ("fence", "primary:Gifted and talented"),
                ("holder", "central"),
                ("to_fence", "secondary:Gifted and talented"),
                ("to_holder", "central"),
                ("amount", "100"),
                ("date", "2026-11-30"),
                ("memo", "Top up the secondary pot"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("<title>Error: "), "the title says there is an error");
    assert!(r.body.contains("<a href=\"#to_fence\">rule ring-fence: by default no money moves between streams or between primary and secondary."));
    assert!(
        r.body
            .contains("Gifted and talented (primary) to Gifted and talented (secondary)")
    );
    assert!(
        r.body.contains("value=\"Top up the secondary pot\""),
        "what was typed is kept"
    );
    // Marked as a joint project, the same virement goes through.
    let (r, _) = app
        .post_entry(
            &clerk,
            &[
                ("kind", "virement"),
                ("fence", "primary:Gifted and talented"),
                ("holder", "central"),
                ("to_fence", "secondary:Gifted and talented"),
                ("to_holder", "central"),
                ("joint_project", "yes"),
                ("amount", "100"),
                ("date", "2026-11-30"),
                ("memo", "Year 6 to 7 transition project"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // Bad input and an overspend name their fields.
    let pay = |amount: &'static str| {
        vec![
            ("kind", "payment"),
            ("fence", "all:Cluster admin"),
            ("holder", "120002"),
            ("amount", amount),
            ("date", "2026-11-30"),
            ("memo", "Supply cover"),
        ]
    };
    let (r, _) = app.post_entry(&clerk, &pay("lots")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("<a href=\"#amount\">Amount must be an amount of money like £1,234.56")
    );
    let (r, _) = app.post_entry(&clerk, &pay("50")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("<a href=\"#amount\">rule no-overspend: this would leave the allocation of school 120002"),
        "nothing was allocated to Brook yet: {}",
        r.body
    );
    let (r, _) = app
        .post_entry(
            &clerk,
            &[
                ("kind", "payment"),
                ("fence", "all:Cluster admin"),
                ("holder", "120002"),
                ("amount", "5"),
                ("date", "30/11/2026"),
                ("memo", "x"),
            ],
        )
        .await;
    assert!(
        r.body
            .contains("<a href=\"#date\">Date must be a real date written like 2026-11-30")
    );
    // The budget shows the change.
    let page = app.page(&clerk, &app.budget()).await;
    assert_eq!(journal_rows(&page.body), 4);
    assert!(page.body.contains("Joint primary–secondary project"));
}

#[tokio::test]
async fn an_entry_is_reversed_once_through_its_form() {
    let app = app().await;
    let officer = sign_in(&app.router, "officer@norfolk.test").await;
    let clerk = sign_in(&app.router, "clerk@norfolk.test").await;
    app.fund(&officer).await;
    let (r, _) = app
        .post_entry(
            &clerk,
            &[
                ("kind", "allocation"),
                ("fence", "all:Cluster admin"),
                ("holder", "central"),
                ("to_holder", "120002"),
                ("amount", "3000"),
                ("date", "2026-11-30"),
                ("memo", "Share for Brook"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = app.page(&clerk, r.location()).await;
    assert!(
        page.body
            .contains("Entry no. 4 posted: allocation to schools, £3,000.00.")
    );
    let href = page
        .body
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.ends_with("/reverse"))
        .unwrap()
        .to_string();
    // The officer is not offered the clerk's entries to reverse.
    let officer_page = app.page(&officer, &app.budget()).await;
    assert_eq!(officer_page.body.matches("/reverse\"").count(), 3, "only the receipts");
    let form = app.page(&clerk, &href).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("Reverse entry no. 4") && form.body.contains("Share for Brook"));
    let key = hidden(&form.body, "idempotency_key");
    let fields = |key: &str| {
        vec![
            ("csrf_token".to_string(), clerk.csrf.clone()),
            ("idempotency_key".to_string(), key.to_string()),
            ("memo".to_string(), "Wrong amount".to_string()),
            ("date".to_string(), "2026-12-01".to_string()),
        ]
    };
    let post = |f: Vec<(String, String)>| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        post_form(&href, Some(&clerk.cookie), &pairs)
    };
    let r = send(&app.router, post(fields(&key))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let again = send(&app.router, post(fields(&key))).await;
    assert!(
        again.location().contains("replayed=yes"),
        "a double submit reverses once"
    );
    let page = app.page(&clerk, &app.budget()).await;
    assert_eq!(journal_rows(&page.body), 5);
    assert!(page.body.contains("Reverses no. 4") && page.body.contains("Reversed by no. 5"));
    assert!(
        !page.body.contains(&format!("href=\"{href}\"")),
        "no reverse link on a reversed entry"
    );
    // A fresh form for the same entry: refused by the reverse-once rule.
    let form = app.page(&clerk, &href).await;
    let r = send(&app.router, post(fields(&hidden(&form.body, "idempotency_key")))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("rule reverse-once: entry"), "{}", r.body);
}

#[tokio::test]
async fn each_role_sees_and_does_only_its_part() {
    let app = app().await;
    let officer = sign_in(&app.router, "officer@norfolk.test").await;
    let clerk = sign_in(&app.router, "clerk@norfolk.test").await;
    app.fund(&officer).await;
    let (r, _) = app
        .post_entry(
            &clerk,
            &[
                ("kind", "allocation"),
                ("fence", "all:Cluster admin"),
                ("holder", "central"),
                ("to_holder", "120001"),
                ("amount", "6000"),
                ("date", "2026-11-30"),
                ("memo", "Share for Hill"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let b = app.budget();

    // A governor of Brook: totals and Brook's part only; no forms.
    let governor = sign_in(&app.router, "governor@norfolk.test").await;
    let page = app.page(&governor, &b).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("part: Brook Primary School"));
    assert!(
        !page.body.contains("Share for Hill"),
        "another school's lines are not shown"
    );
    assert!(!page.body.contains("Post an entry"));
    assert_eq!(
        app.page(&governor, &format!("{b}/entries/new")).await.status,
        StatusCode::FORBIDDEN
    );
    let r = send(
        &app.router,
        post_form(
            &format!("{b}/entries"),
            Some(&governor.cookie),
            &[
                ("csrf_token", &governor.csrf),
                ("idempotency_key", "governor-key-1"),
                ("kind", "payment"),
                ("fence", "all:Cluster admin"),
                ("holder", "120002"),
                ("amount", "1"),
                ("date", "2026-11-30"),
                ("memo", "x"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // An evaluator: totals, no journal.
    let evaluator = sign_in(&app.router, "evaluator@norfolk.test").await;
    let page = app.page(&evaluator, &b).await;
    assert!(page.body.contains("£12,000.00") && !page.body.contains("id=\"journal\""));
    assert!(
        !page.body.contains("By school") && !page.body.contains("Share for Hill"),
        "an evaluator reads the totals, not each school's part"
    );
    assert!(page.body.contains("totals only"));
    // Strand staff and another cluster's clerk: refused; another authority: not found.
    for email in ["mentor@norfolk.test", "dale-clerk@norfolk.test"] {
        let who = sign_in(&app.router, email).await;
        assert_eq!(app.page(&who, &b).await.status, StatusCode::FORBIDDEN, "{email}");
    }
    let suffolk = sign_in(&app.router, "officer@suffolk.test").await;
    assert_eq!(app.page(&suffolk, &b).await.status, StatusCode::NOT_FOUND);
    // The clerk cannot post a receipt even by hand-writing the form.
    let r = app
        .submit(
            &clerk,
            "clerk-receipt-1",
            &[
                ("kind", "receipt"),
                ("fence", "all:Cluster admin"),
                ("holder", "central"),
                ("amount", "1"),
                ("date", "2026-11-30"),
                ("memo", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The cluster page links to the budget.
    let cluster = app.page(&clerk, &format!("/clusters/{}", app.hill)).await;
    assert!(cluster.body.contains(&format!("href=\"{b}\"")));
}

/// The Norfolk census file, beside the repository (as CI lays it out).
const NORFOLK: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/real/norfolk_schools_spc_2022_23.csv"
));

#[tokio::test]
async fn the_demo_ledgers_are_whole_synthetic_and_flag_a_contract() {
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(SystemClock));
    service.build_demo(NORFOLK).await.unwrap();
    let norfolk = service
        .store()
        .authority_by_code(LaCode::parse("926").unwrap())
        .await
        .unwrap()
        .unwrap();
    let audit = service.store().ledger_audit(norfolk.id).await.unwrap();
    assert!(audit.is_whole(), "{audit:?}");
    let router = web::router(service, web::WebConfig::default());
    let form = send(&router, get("/sign-in", None)).await;
    let pre = form
        .cookie("clusterwise_sign_in")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let r = send(
        &router,
        post_form(
            "/sign-in",
            Some(&pre),
            &[
                ("csrf_token", &hidden(&form.body, "csrf_token")),
                ("email", "clerk@demo.clusterwise.test"),
                ("password", service::demo::DEMO_PASSWORD),
            ],
        ),
    )
    .await;
    let cookie = r
        .cookie("clusterwise_session")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let clusters = send(&router, get("/clusters", Some(&cookie))).await;
    // The clerk's own cluster is the one their account is scoped to: find its budget link.
    let ids: Vec<String> = clusters
        .body
        .split("href=\"/clusters/")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect();
    let mut found = false;
    for id in ids {
        let page = send(&router, get(&format!("/clusters/{id}/budget"), Some(&cookie))).await;
        if page.status != StatusCode::OK {
            continue;
        }
        found = true;
        for text in [
            "The entries in this ledger are synthetic",
            "Cluster admin funding",
            "Gifted and talented",
            "Learning mentors and LSU",
            "Learning mentor (synthetic)",
            "Contract runs past the horizon",
            "Reversed by no.",
            "Post an entry",
        ] {
            assert!(page.body.contains(text), "the demo budget lacks {text:?}");
        }
        assert_eq!(page.body.matches("Contract runs past the horizon").count(), 1);
    }
    assert!(found, "the demo clerk sees their cluster's budget");
}

#[tokio::test]
async fn exceptions_and_staff_posts_are_recorded_through_their_forms() {
    let app = app().await;
    let officer = sign_in(&app.router, "officer@norfolk.test").await;
    let clerk = sign_in(&app.router, "clerk@norfolk.test").await;
    app.fund(&officer).await;
    let b = app.budget();
    let post = |who: &Browser, path: &str, fields: &[(&str, &str)]| {
        let mut all = vec![("csrf_token", who.csrf.as_str())];
        all.extend_from_slice(fields);
        post_form(&format!("{b}/{path}"), Some(&who.cookie), &all)
    };

    // The clerk may not record an exception; the officer may.
    assert_eq!(
        app.page(&clerk, &format!("{b}/exceptions/new")).await.status,
        StatusCode::FORBIDDEN
    );
    let form = app.page(&officer, &format!("{b}/exceptions/new")).await;
    assert_eq!(form.status, StatusCode::OK);
    let exception = [
        ("from_fence", "primary:Gifted and talented"),
        ("to_fence", "primary:Gifted and talented"),
        ("amount", "300"),
        ("reason", "Summer school for Year 6 and 7"),
        ("approver", "Head of school improvement"),
        ("approved_on", "2026-11-20"),
    ];
    let r = send(&app.router, post(&officer, "exceptions", &exception)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("<a href=\"#to_fence\">to: an exception is for moving money between two different ring-fences")
    );
    let mut good = exception.to_vec();
    good[1] = ("to_fence", "secondary:Gifted and talented");
    let r = send(&app.router, post(&officer, "exceptions", &good)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = app.page(&clerk, r.location()).await;
    assert!(page.body.contains("The approved exception is recorded") && page.body.contains("Not yet used"));
    // The clerk's virement across phases goes through under it, once.
    let form = app.page(&clerk, &format!("{b}/entries/new")).await;
    // The exception is offered by its number and what it approves.
    let x = "1".to_string();
    assert!(form.body.contains(
        "<option value=\"1\">1: Gifted and talented (primary) to Gifted and talented (secondary), up to £300.00</option>"
    ));
    let virement = [
        ("kind", "virement"),
        ("fence", "primary:Gifted and talented"),
        ("holder", "central"),
        ("to_fence", "secondary:Gifted and talented"),
        ("to_holder", "central"),
        ("exception", x.as_str()),
        ("amount", "300"),
        ("date", "2026-11-30"),
        ("memo", "Summer school"),
    ];
    let r = app.submit(&clerk, "virement-under-exception-1", &virement).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = app.submit(&clerk, "virement-under-exception-2", &virement).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("<a href=\"#exception\">rule approved-exception: exception")
    );
    let page = app.page(&clerk, &b).await;
    assert!(page.body.contains("By entry no. 4") && page.body.contains("Under approved exception"));

    // Staff: the officer may not record posts; the clerk may, and a contract past the horizon is flagged.
    assert_eq!(
        app.page(&officer, &format!("{b}/staff/new")).await.status,
        StatusCode::FORBIDDEN
    );
    let staff = [
        ("post", "Learning mentor"),
        ("school", "120001"),
        ("fte", "1.0"),
        ("annual_cost", "£26,000.00"),
        ("fence", "secondary:Gifted and talented"),
        ("contract_start", "2026-09-01"),
        ("contract_end", "2099-08-31"),
    ];
    let mut bad = staff.to_vec();
    bad[2] = ("fte", "1.5");
    let r = send(&app.router, post(&clerk, "staff", &bad)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("<a href=\"#fte\">fte: one post is between 0.1 and 1.0 FTE")
    );
    let r = send(&app.router, post(&clerk, "staff", &staff)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = app.page(&clerk, r.location()).await;
    assert!(page.body.contains("The staff post is recorded") && page.body.contains("Contract runs past the horizon"));
    let r = send(
        &app.router,
        post(
            &clerk,
            "horizon",
            &[("stream", "Gifted and talented"), ("ends_on", "2099-08-31")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = app.page(&clerk, &b).await;
    assert!(page.body.contains("31 August 2099") && !page.body.contains("Contract runs past the horizon"));
    // CSRF on all three.
    for path in ["exceptions", "staff", "horizon"] {
        let r = send(
            &app.router,
            post_form(&format!("{b}/{path}"), Some(&clerk.cookie), &[("csrf_token", "forged")]),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test]
async fn the_journal_is_read_a_page_at_a_time_with_links_across_pages() {
    let app = app().await;
    let officer = sign_in(&app.router, "officer@norfolk.test").await;
    for n in 1..=52 {
        let amount = format!("{n}");
        let (r, _) = app
            .post_entry(
                &officer,
                &[
                    ("kind", "receipt"),
                    ("new_stream", "Cluster admin"),
                    ("new_phase", "all"),
                    ("holder", "central"),
                    ("amount", &amount),
                    ("date", "2026-11-30"),
                    ("memo", "Receipt from Norfolk County Council"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let b = app.budget();
    let first = app.page(&officer, &b).await;
    assert!(first.body.contains("Entries 1 to 50 of 52, newest first."));
    assert_eq!(journal_rows(&first.body), 50);
    assert!(
        first
            .body
            .contains(&format!("href=\"{b}?page=2#journal\" rel=\"next\""))
    );
    assert!(!first.body.contains("rel=\"prev\""), "no newer page than the first");
    // Entry no. 1 is on page 2; reverse it from there.
    let second = app.page(&officer, &format!("{b}?page=2")).await;
    assert!(second.body.contains("Entries 51 to 52 of 52, newest first."));
    assert_eq!(journal_rows(&second.body), 2);
    assert!(
        second
            .body
            .contains(&format!("href=\"{b}?page=1#journal\" rel=\"prev\""))
    );
    assert!(!second.body.contains("rel=\"next\""));
    let href = second
        .body
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .filter(|h| h.ends_with("/reverse"))
        .last()
        .unwrap()
        .to_string();
    let form = app.page(&officer, &href).await;
    assert!(form.body.contains("Reverse entry no. 1"), "{}", form.body);
    let r = send(
        &app.router,
        post_form(
            &href,
            Some(&officer.cookie),
            &[
                ("csrf_token", &officer.csrf),
                ("idempotency_key", &hidden(&form.body, "idempotency_key")),
                ("memo", "Posted twice"),
                ("date", "2026-12-01"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // The reversal (no. 53) and its original are on different pages, and each names the other.
    let first = app.page(&officer, &b).await;
    assert!(first.body.contains("Entries 1 to 50 of 53, newest first."));
    assert!(
        first.body.contains("Reverses no. 1"),
        "the original's number, from page 2"
    );
    let second = app.page(&officer, &format!("{b}?page=2")).await;
    assert!(second.body.contains("Entries 51 to 53 of 53, newest first."));
    assert!(
        second.body.contains("Reversed by no. 53"),
        "the reversal's number, from page 1"
    );
    // The totals are the whole ledger's on every page: £1,378 received, £1 of it reversed.
    for page in [&first, &second] {
        assert!(page.body.contains("£1,377.00"), "the balance is the whole journal's");
    }
    let past = app.page(&officer, &format!("{b}?page=3")).await;
    assert_eq!(past.status, StatusCode::OK);
    assert!(past.body.contains("No entries on this page."));
    assert!(past.body.contains(&format!("href=\"{b}?page=2#journal\" rel=\"prev\"")));
    for bad in ["0", "-1", "two", "1.5", "99999999999999999999"] {
        let r = app.page(&officer, &format!("{b}?page={bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "page={bad}");
        assert!(r.body.contains("page: a whole number from 1"), "{}", r.body);
    }
}

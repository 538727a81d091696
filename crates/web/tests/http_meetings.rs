//! HTTP tests for the committee at work: who may do what, CSRF, one vote per school, withdrawals
//! and quorum, ties with and without a casting vote, minutes that cannot go out before approval,
//! restricted items, and the membership rules on the register. Each test on a fresh database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use domain::access::{Scope, User, UserRole};
use domain::ids::{ClusterId, LaCode, Urn};
use service::import::{ImportKind, ImportOptions, ImportTarget};
use service::meetings::{ConstitutionInput, PersonInput, SeatInput};
use service::{FixedClock, Service};
use std::sync::Arc;
use support::Reply;

const PASSWORD: &str = "a long enough password";
/// 1 March 2025, 12:00 UTC (spring term).
const NOW: i64 = 1_740_830_400;

const CENSUS: &str = "urn,laestab,la_code,la_name,school_name,phase_type_grouping,academy_flag,pupils_headcount,fsm_eligible_count,district_name,easting,northing,postcode\n\
120001,9261001,926,Norfolk,Hill High School,State-funded secondary,Academy,1200,120,Norwich,620000,308000,NR1 1AA\n\
120002,9261002,926,Norfolk,Brook Primary School,State-funded primary,LA Maintained,300,60,Norwich,621000,309000,NR1 1AB\n\
120003,9261003,926,Norfolk,Dale Infant School,State-funded primary,LA Maintained,90,9,Norwich,622000,309000,NR1 1AC\n\
120004,9261004,926,Norfolk,Far High School,State-funded secondary,Academy,900,90,Breckland,600000,290000,IP25 1AA\n\
135001,9351001,935,Suffolk,Suffolk High School,State-funded secondary,Academy,900,90,Ipswich,616000,244000,IP1 1AA\n";

struct TestApp {
    router: Router,
    service: Service,
    officer: User,
    hill: ClusterId,
}

fn urn(s: &str) -> Urn {
    Urn::parse(s).unwrap()
}

/// Hill cluster (120001–120003) with a Norfolk constitution from 1 September 2024 and a
/// register: Ann (voting, 120001) with Sam as 120001's substitute, Bob (120002), Cat (120003),
/// and an independent clerk, Cleo. People ids are 1–5 in that order.
async fn app() -> TestApp {
    let store = store::connect_in_memory().await.unwrap();
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
    let s = service.store();
    let norfolk = s
        .authority_by_code(LaCode::parse("926").unwrap())
        .await
        .unwrap()
        .unwrap();
    let suffolk = s
        .authority_by_code(LaCode::parse("935").unwrap())
        .await
        .unwrap()
        .unwrap();
    let members = "urn,cluster,role\n120001,Hill cluster,host\n120002,Hill cluster,feeder\n120003,Hill cluster,feeder\n120004,Far cluster,host\n";
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
    let clusters = s
        .list_clusters(norfolk.id, domain::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap())
        .await
        .unwrap();
    let id_of = |n: &str| clusters.iter().find(|c| c.cluster.name == n).unwrap().cluster.id;
    let (hill, far) = (id_of("Hill cluster"), id_of("Far cluster"));
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
            "farclerk@norfolk.test",
            UserRole::ClusterClerk,
            Scope::Cluster(far),
        ),
        (
            norfolk.id,
            "gov-a@norfolk.test",
            UserRole::Governor,
            Scope::School(urn("120001")),
        ),
        (
            norfolk.id,
            "gov-b@norfolk.test",
            UserRole::Governor,
            Scope::School(urn("120002")),
        ),
        (
            norfolk.id,
            "gov-far@norfolk.test",
            UserRole::Governor,
            Scope::School(urn("120004")),
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
    let mut officer = None;
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
        ("Sam Shah", "120001"),
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
        ("substitute", "120001", "2"),
        ("voting_governor", "120002", "3"),
        ("voting_governor", "120003", "4"),
        ("clerk", "", "5"),
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
            secure_cookies: true,
            max_upload_bytes: 1024 * 1024,
            sign_in_hint: None,
            ..web::WebConfig::default()
        },
    );
    TestApp {
        router,
        service,
        officer,
        hill,
    }
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

/// A signed-in person: their cookie and CSRF token.
struct Who {
    cookie: String,
    csrf: String,
}

async fn sign_in(app: &TestApp, email: &str) -> Who {
    let (cookie, csrf) = support::sign_in(&app.router, email, PASSWORD).await;
    Who { cookie, csrf }
}

impl Who {
    async fn post(&self, app: &TestApp, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut form = vec![("csrf_token", self.csrf.as_str())];
        form.extend_from_slice(fields);
        send(app, post(path, &self.cookie, &form)).await
    }
    async fn get(&self, app: &TestApp, path: &str) -> Reply {
        send(app, get(path, &self.cookie)).await
    }
}

/// The clerk schedules a meeting on `day` and records who was present (person ids); returns its path.
async fn held_meeting(app: &TestApp, clerk: &Who, day: &str, present: &[&str], standing_in: Option<&str>) -> String {
    let r = clerk
        .post(
            app,
            &format!("/clusters/{}/meetings", app.hill),
            &[("date", day), ("title", "Committee meeting"), ("location", "Hill")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let path = r.location().to_string();
    let mut form: Vec<(String, String)> = Vec::new();
    for p in ["1", "2", "3", "4", "5"] {
        form.push(("person".into(), p.into()));
        let status = if present.contains(&p) { "present" } else { "apologies" };
        form.push((format!("status_{p}"), status.into()));
    }
    if let Some(p) = standing_in {
        form.push((format!("substitute_for_{p}"), "120001".into()));
    }
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = clerk.post(app, &format!("{path}/attendance"), &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    path
}

async fn item_with_motion(app: &TestApp, clerk: &Who, path: &str, title: &str, proposer: &str, seconder: &str) {
    let r = clerk.post(app, &format!("{path}/items"), &[("title", title)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let n = r.location().rsplit("item-").next().unwrap().to_string();
    let r = clerk
        .post(
            app,
            &format!("{path}/motion"),
            &[
                ("item", &n),
                ("text", "That it be done."),
                ("proposer", proposer),
                ("seconder", seconder),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test]
async fn who_may_do_what_and_every_post_needs_the_csrf_token() {
    let app = app().await;
    let committee = format!("/clusters/{}/committee", app.hill);
    let meetings = format!("/clusters/{}/meetings", app.hill);
    let clerk = sign_in(&app, "clerk@norfolk.test").await;
    assert_eq!(clerk.get(&app, &committee).await.status, StatusCode::OK);
    // Heads and governors of member schools read; others are refused; another authority sees nothing.
    let gov_b = sign_in(&app, "gov-b@norfolk.test").await;
    let r = gov_b.get(&app, &committee).await;
    assert!(
        r.status == StatusCode::OK && !r.body.contains("Add the person"),
        "{}",
        r.body
    );
    for (email, path, want) in [
        ("evaluator@norfolk.test", &committee, StatusCode::FORBIDDEN),
        ("evaluator@norfolk.test", &meetings, StatusCode::FORBIDDEN),
        ("gov-far@norfolk.test", &committee, StatusCode::FORBIDDEN),
        ("officer@suffolk.test", &committee, StatusCode::NOT_FOUND),
    ] {
        let who = sign_in(&app, email).await;
        let r = who.get(&app, path).await;
        assert_eq!(r.status, want, "{email} {path}: {}", r.body);
    }
    let evaluator = sign_in(&app, "evaluator@norfolk.test").await;
    assert!(evaluator.get(&app, &committee).await.body.contains("aggregates only"));
    // Only the cluster's own clerk (or an officer) records business.
    for email in ["gov-b@norfolk.test", "farclerk@norfolk.test", "evaluator@norfolk.test"] {
        let who = sign_in(&app, email).await;
        let r = who
            .post(&app, &meetings, &[("date", "2025-02-10"), ("title", "Mine")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{email}: {}", r.body);
    }
    // A POST without the session's token is refused, and nothing is written.
    let r = send(
        &app,
        post(
            &meetings,
            &clerk.cookie,
            &[("csrf_token", "forged"), ("date", "2025-02-10"), ("title", "x")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &app,
        post(
            &committee.replace("committee", "committee/people"),
            &clerk.cookie,
            &[("name", "Eve")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        app.service
            .committee_meetings(&app.officer, app.hill)
            .await
            .unwrap()
            .terms
            .is_empty()
    );
    // Bad input names the field and the rule; unknown actions and ids are not found.
    let r = clerk
        .post(&app, &meetings, &[("date", "1 March"), ("title", "x")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("date: &#34;1 March&#34; is not a date")
            || r.body.contains("date: &quot;1 March&quot; is not a date"),
        "{}",
        r.body
    );
    let path = held_meeting(&app, &clerk, "2025-02-10", &["1", "3"], None).await;
    assert_eq!(
        clerk.post(&app, &format!("{path}/explode"), &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(clerk.get(&app, "/meetings/99999").await.status, StatusCode::NOT_FOUND);
    assert_eq!(clerk.get(&app, "/meetings/nope").await.status, StatusCode::NOT_FOUND);
    let suffolk = sign_in(&app, "officer@suffolk.test").await;
    assert_eq!(suffolk.get(&app, &path).await.status, StatusCode::NOT_FOUND);
    let far = sign_in(&app, "farclerk@norfolk.test").await;
    assert_eq!(
        far.post(&app, &format!("{path}/notice"), &[]).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn two_people_from_one_school_still_give_one_vote() {
    let app = app().await;
    let clerk = sign_in(&app, "clerk@norfolk.test").await;
    // Ann and her school's substitute Sam (standing in) both attend, with Bob: 2 schools, not 3.
    let path = held_meeting(&app, &clerk, "2025-02-10", &["1", "2", "3"], Some("2")).await;
    let page = clerk.get(&app, &path).await.body;
    assert!(
        page.contains("2 of 3 member schools represented by a voting member (2 needed)"),
        "{page}"
    );
    item_with_motion(&app, &clerk, &path, "Budget", "1", "3").await;
    // A crafted form voting twice for one school is refused, naming the rule.
    let r = clerk
        .post(
            &app,
            &format!("{path}/votes"),
            &[
                ("item", "1"),
                ("vote_120001", "for"),
                ("vote_120001", "against"),
                ("vote_120002", "for"),
                ("declared", "carried"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("school 120001 voted twice; each school has one vote"),
        "{}",
        r.body
    );
    // A school with no one present cannot vote.
    let r = clerk
        .post(
            &app,
            &format!("{path}/votes"),
            &[("item", "1"), ("vote_120003", "for"), ("declared", "carried")],
        )
        .await;
    assert!(r.body.contains("school 120003 may not vote on this item"), "{}", r.body);
    let r = clerk
        .post(
            &app,
            &format!("{path}/votes"),
            &[
                ("item", "1"),
                ("vote_120001", "for"),
                ("vote_120002", "for"),
                ("declared", "carried"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = clerk.get(&app, &path).await.body;
    assert!(
        page.contains("2 for, 0 against, 0 abstaining") && page.contains("Carried"),
        "{page}"
    );
}

#[tokio::test]
async fn a_withdrawal_makes_an_item_inquorate_and_carried_is_refused() {
    let app = app().await;
    let clerk = sign_in(&app, "clerk@norfolk.test").await;
    // Norfolk: 3 schools need 2. Ann and Bob are present.
    let path = held_meeting(&app, &clerk, "2025-02-10", &["1", "3", "5"], None).await;
    item_with_motion(&app, &clerk, &path, "Contract with Brook Primary", "1", "5").await;
    let r = clerk
        .post(
            &app,
            &format!("{path}/declarations"),
            &[
                ("item", "1"),
                ("person", "3"),
                ("interest", "governor of the school"),
                ("withdraws", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = clerk.get(&app, &path).await.body;
    assert!(
        page.contains("1 member schools can vote on this item; 2 needed (Bob Baker withdrew"),
        "{page}"
    );
    let r = clerk
        .post(
            &app,
            &format!("{path}/votes"),
            &[("item", "1"), ("vote_120001", "for"), ("declared", "carried")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("business on an inquorate item cannot be recorded as carried"),
        "{}",
        r.body
    );
    // Recorded honestly it is no decision; the meeting as a whole stays quorate.
    let r = clerk
        .post(
            &app,
            &format!("{path}/votes"),
            &[("item", "1"), ("vote_120001", "for"), ("declared", "no_decision")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(clerk.get(&app, &path).await.body.contains("Not quorate: no decision"));
    // A withdrawal after a carried vote that would undo it is refused.
    item_with_motion(&app, &clerk, &path, "Plan", "1", "3").await;
    let r = clerk
        .post(
            &app,
            &format!("{path}/votes"),
            &[
                ("item", "2"),
                ("vote_120001", "for"),
                ("vote_120002", "for"),
                ("declared", "carried"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = clerk
        .post(
            &app,
            &format!("{path}/declarations"),
            &[
                ("item", "2"),
                ("person", "3"),
                ("interest", "late"),
                ("withdraws", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("item 2: its votes are recorded as carried"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn ties_are_no_decision_unless_the_constitution_gives_a_casting_vote() {
    let app = app().await;
    let clerk = sign_in(&app, "clerk@norfolk.test").await;
    let path = held_meeting(&app, &clerk, "2025-01-20", &["1", "3"], None).await;
    item_with_motion(&app, &clerk, &path, "Tied", "1", "3").await;
    let tie = [("item", "1"), ("vote_120001", "for"), ("vote_120002", "against")];
    let r = clerk
        .post(
            &app,
            &format!("{path}/votes"),
            &[&tie[..], &[("declared", "carried")]].concat(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("the votes are tied (1 for, 1 against) and the constitution gives the chair no casting vote"),
        "{}",
        r.body
    );
    let r = clerk
        .post(
            &app,
            &format!("{path}/votes"),
            &[&tie[..], &[("casting_vote", "for"), ("declared", "carried")]].concat(),
        )
        .await;
    assert!(
        r.body.contains("the constitution gives the chair no casting vote"),
        "{}",
        r.body
    );
    let r = clerk
        .post(
            &app,
            &format!("{path}/votes"),
            &[&tie[..], &[("declared", "no_decision")]].concat(),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(clerk.get(&app, &path).await.body.contains("Tied: no decision"));
    // A version with a casting vote from February: a later meeting's tie is decided by the chair.
    let r = clerk
        .post(
            &app,
            &format!("/clusters/{}/committee/constitution", app.hill),
            &[
                ("preset", "norfolk"),
                ("casting_vote", "yes"),
                ("effective_from", "2025-01-10"),
            ],
        )
        .await;
    assert!(
        r.body.contains("must be after 2025-01-20, the last meeting held"),
        "{}",
        r.body
    );
    let r = clerk
        .post(
            &app,
            &format!("/clusters/{}/committee/constitution", app.hill),
            &[
                ("preset", "norfolk"),
                ("casting_vote", "yes"),
                ("effective_from", "2025-02-01"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let later = held_meeting(&app, &clerk, "2025-02-10", &["1", "3"], None).await;
    item_with_motion(&app, &clerk, &later, "Tied again", "1", "3").await;
    let r = clerk
        .post(
            &app,
            &format!("{later}/votes"),
            &[&tie[..], &[("declared", "carried")]].concat(),
        )
        .await;
    assert!(
        r.body.contains("record the chair&#39;s casting vote") || r.body.contains("record the chair's casting vote"),
        "{}",
        r.body
    );
    let r = clerk
        .post(
            &app,
            &format!("{later}/votes"),
            &[&tie[..], &[("casting_vote", "for"), ("declared", "carried")]].concat(),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        clerk
            .get(&app, &later)
            .await
            .body
            .contains("Carried on the chair&#39;s casting vote")
    );
    // The earlier meeting keeps the rules it was held under.
    assert!(clerk.get(&app, &path).await.body.contains("Tied: no decision"));
}

#[tokio::test]
async fn minutes_go_to_the_governing_bodies_only_after_approval_at_a_later_meeting() {
    let app = app().await;
    let clerk = sign_in(&app, "clerk@norfolk.test").await;
    let first = held_meeting(&app, &clerk, "2025-01-20", &["1", "3"], None).await;
    let r = clerk.post(&app, &format!("{first}/distribute"), &[]).await;
    assert!(r.body.contains("the minutes have not been drafted"), "{}", r.body);
    assert_eq!(
        clerk.post(&app, &format!("{first}/draft-minutes"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    let r = clerk.post(&app, &format!("{first}/distribute"), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("the minutes have not been approved"), "{}", r.body);
    // A governor cannot read the draft, and cannot record receipt of what was never sent.
    let gov_b = sign_in(&app, "gov-b@norfolk.test").await;
    assert_eq!(
        gov_b.get(&app, &format!("{first}/minutes")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        gov_b
            .post(&app, &format!("{first}/receipt"), &[("received_on", "2025-02-11")])
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Approved by a motion at the next meeting, then sent to all three governing bodies.
    let second = held_meeting(&app, &clerk, "2025-02-10", &["1", "3"], None).await;
    let first_id = first.rsplit('/').next().unwrap();
    let r = clerk
        .post(&app, &format!("{second}/items"), &[("approves", first_id)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = clerk
        .post(
            &app,
            &format!("{first}/items"),
            &[("approves", second.rsplit('/').next().unwrap())],
        )
        .await;
    assert!(r.body.contains("minutes are approved at a later meeting"), "{}", r.body);
    clerk
        .post(
            &app,
            &format!("{second}/motion"),
            &[("item", "1"), ("text", "Approve"), ("proposer", "1"), ("seconder", "3")],
        )
        .await;
    let r = clerk
        .post(
            &app,
            &format!("{second}/votes"),
            &[
                ("item", "1"),
                ("vote_120001", "for"),
                ("vote_120002", "for"),
                ("declared", "carried"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = clerk.get(&app, &first).await.body;
    assert!(
        page.contains("Approved by the committee at its meeting on 10 February 2025 (item 1)"),
        "{page}"
    );
    // Approved minutes are closed to edits.
    let r = clerk
        .post(&app, &format!("{first}/minutes"), &[("minutes", "rewritten")])
        .await;
    assert!(r.body.contains("its record is closed"), "{}", r.body);
    assert_eq!(
        clerk.post(&app, &format!("{first}/distribute"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    let r = clerk.post(&app, &format!("{first}/distribute"), &[]).await;
    assert!(
        r.body.contains("already gone to every member governing body"),
        "{}",
        r.body
    );
    // Each school records its own receipt and adoption; the clerk cannot do it for them.
    let r = clerk
        .post(&app, &format!("{first}/receipt"), &[("received_on", "2025-03-01")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = gov_b
        .post(&app, &format!("{first}/receipt"), &[("received_on", "2025-02-28")])
        .await;
    assert!(r.body.contains("the minutes were sent on 2025-03-01"), "{}", r.body);
    let r = gov_b
        .post(
            &app,
            &format!("{first}/receipt"),
            &[("received_on", "2025-03-01"), ("adopted_on", "2025-03-01")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let printable = gov_b.get(&app, &format!("{first}/minutes")).await;
    assert_eq!(printable.status, StatusCode::OK);
    assert!(
        printable.body.contains("Adopted by the governing body on 1 March 2025"),
        "{}",
        printable.body
    );
    // The health view counts the meetings recorded here.
    let health = clerk.get(&app, "/governance").await.body;
    assert!(health.contains("10 February 2025"), "{health}");
}

#[tokio::test]
async fn a_governor_of_another_school_cannot_see_a_restricted_item() {
    let app = app().await;
    let clerk = sign_in(&app, "clerk@norfolk.test").await;
    let path = held_meeting(&app, &clerk, "2025-02-10", &["1", "3"], None).await;
    let r = clerk
        .post(
            &app,
            &format!("{path}/items"),
            &[
                ("title", "Staffing at Dale Infant School"),
                ("restricted_to", "120003"),
                ("paper_title", "Staffing paper"),
                ("paper_text", "Two posts at risk"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let gov_b = sign_in(&app, "gov-b@norfolk.test").await;
    let theirs = gov_b.get(&app, &path).await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert!(
        !theirs.body.contains("Staffing at Dale") && !theirs.body.contains("Two posts at risk"),
        "{}",
        theirs.body
    );
    assert!(
        theirs
            .body
            .contains("Restricted: you are not entitled to see this item")
    );
    let clerks = clerk.get(&app, &path).await.body;
    assert!(clerks.contains("Staffing at Dale Infant School") && clerks.contains("Two posts at risk"));
    // The officer (authority staff) sees it; the drafted minutes name it only as restricted.
    let officer = sign_in(&app, "officer@norfolk.test").await;
    assert!(officer.get(&app, &path).await.body.contains("Two posts at risk"));
    clerk.post(&app, &format!("{path}/draft-minutes"), &[]).await;
    let minutes = clerk.get(&app, &format!("{path}/minutes")).await.body;
    assert!(
        minutes.contains("Restricted item") && !minutes.contains("Two posts at risk"),
        "{minutes}"
    );
}

#[tokio::test]
async fn the_membership_rules_are_checked_when_the_register_changes() {
    let app = app().await;
    let clerk = sign_in(&app, "clerk@norfolk.test").await;
    let base = format!("/clusters/{}/committee", app.hill);
    // Bob (a governor of 120002) cannot hold 120003's voting seat; 120001 already has a substitute.
    let r = clerk
        .post(
            &app,
            &format!("{base}/seats"),
            &[("kind", "voting_governor"), ("school", "120003"), ("person", "3")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("person: Bob Baker holds the voting seat for school 120003 but is not one of its governors"),
        "{}",
        r.body
    );
    let r = clerk
        .post(
            &app,
            &format!("{base}/seats"),
            &[("kind", "substitute"), ("school", "120001")],
        )
        .await;
    assert!(
        r.body.contains("school 120001 already has a substitute seat"),
        "{}",
        r.body
    );
    // A head cannot clerk; a clerk who works at a member school is flagged, not refused.
    let r = clerk
        .post(
            &app,
            &format!("{base}/people"),
            &[("name", "Hal Head"), ("works_at", "120002"), ("is_head", "yes")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = clerk
        .post(&app, &format!("{base}/seats"), &[("kind", "clerk"), ("person", "6")])
        .await;
    assert!(
        r.body
            .contains("Hal Head is a headteacher and cannot clerk the committee"),
        "{}",
        r.body
    );
    let r = clerk
        .post(
            &app,
            &format!("{base}/people"),
            &[("name", "Tess Teacher"), ("works_at", "120003")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = clerk
        .post(&app, &format!("{base}/seats"), &[("kind", "clerk"), ("person", "7")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = clerk.get(&app, &base).await.body;
    assert!(
        page.contains("Flag: the clerk Tess Teacher works at member school 120003"),
        "{page}"
    );
    // Suspension and vacancy show on the page and in the quorum the committee needs.
    let r = clerk
        .post(&app, &format!("{base}/seat"), &[("seat", "3"), ("action", "suspend")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = clerk
        .post(&app, &format!("{base}/seat"), &[("seat", "4"), ("action", "vacate")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = clerk.get(&app, &base).await.body;
    assert!(page.contains("Suspended") && page.contains("Vacant"), "{page}");
    let r = clerk
        .post(&app, &format!("{base}/seat"), &[("seat", "99"), ("action", "suspend")])
        .await;
    assert!(r.body.contains("seat: choose a seat from the list"));
    let r = clerk
        .post(
            &app,
            &format!("{base}/people"),
            &[("name", "Nina"), ("governor_of", "120004")],
        )
        .await;
    assert!(
        r.body
            .contains("governor_of: school 120004 is not a member of this cluster"),
        "{}",
        r.body
    );
}

//! Service use cases over a real (in-memory SQLite) store: sign-in, sessions, throttling, user
//! rules, tenancy of reads, the overview, the map and the CSV export.
#![allow(clippy::unwrap_used)]

use domain::NaiveDate;
use domain::access::{Scope, User, UserRole};
use domain::cluster::MembershipRole;
use domain::geo::Location;
use domain::ids::{AuthorityId, ClusterId, LaCode, Urn};
use domain::import::{MembershipRecord, SchoolRecord};
use domain::school::{AreaRef, Census, Governance, Phase, School, SchoolStatus, Tenths};
use service::store::SchoolQuery;
use service::{FixedClock, Service, ServiceError};
use std::sync::Arc;

/// 2024-03-01T12:00:00Z
const NOW: i64 = 1_709_294_400;

fn school(urn: u32, name: &str, phase: Phase, pupils: u32, fsm: u32, easting: i32) -> SchoolRecord {
    SchoolRecord {
        line: 2,
        la_code: LaCode::parse("926").unwrap(),
        la_name: "Norfolk".into(),
        school: School {
            urn: Urn::from_u32(urn).unwrap(),
            laestab: None,
            name: name.into(),
            phase,
            establishment_type: "Community school".into(),
            governance: Governance::LaMaintained,
            status: SchoolStatus::Open,
            opened_on: None,
            closed_on: None,
            sex: None,
            denomination: None,
            trust: None,
            postcode: None,
            location: (easting > 0).then_some(Location {
                easting,
                northing: 300_000,
                latitude: None,
                longitude: None,
            }),
            district: Some(AreaRef {
                code: "E07000148".into(),
                name: "Norwich".into(),
            }),
            constituency: None,
            ward: None,
            urban_rural: None,
        },
        census: Some(Census {
            census_date: NaiveDate::from_ymd_opt(2023, 1, 19).unwrap(),
            pupils,
            pupils_fte: None,
            fsm_count: Some(fsm),
            fsm_pct: Tenths::from_ratio_percent(i64::from(fsm), i64::from(pupils)),
            sen_count: None,
            eal_count: None,
            stages: [None; 7],
        }),
    }
}

struct World {
    service: Service,
    norfolk: AuthorityId,
    suffolk: AuthorityId,
}

async fn world() -> World {
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(FixedClock(NOW)));
    let s = service.store();
    let norfolk = s
        .create_authority(LaCode::parse("926").unwrap(), "Norfolk")
        .await
        .unwrap()
        .id;
    let suffolk = s
        .create_authority(LaCode::parse("935").unwrap(), "Suffolk")
        .await
        .unwrap()
        .id;
    s.save_school_import(
        norfolk,
        &[
            school(121001, "Hill High School", Phase::Secondary, 1200, 120, 620_000),
            school(121002, "Brook Primary, \"the\" Brook", Phase::Primary, 300, 60, 621_000),
            school(121003, "=HYPERLINK(\"x\")", Phase::Primary, 100, 10, 0),
        ],
    )
    .await
    .unwrap();
    let m = |urn: u32, role| MembershipRecord {
        line: 2,
        urn: Urn::from_u32(urn).unwrap(),
        cluster: "Hill cluster".into(),
        role,
    };
    s.save_memberships(
        norfolk,
        &[m(121001, MembershipRole::Host), m(121002, MembershipRole::Feeder)],
        NaiveDate::from_ymd_opt(2023, 9, 1).unwrap(),
        true,
    )
    .await
    .unwrap();
    World {
        service,
        norfolk,
        suffolk,
    }
}

async fn officer(w: &World, authority: AuthorityId, email: &str) -> User {
    w.service
        .create_user(
            authority,
            email,
            "Officer",
            UserRole::AuthorityOfficer,
            Scope::Authority,
            "a long password",
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_in_opens_a_session_and_sign_out_ends_it() {
    let w = world().await;
    let u = officer(&w, w.norfolk, "Officer@Example.org").await;
    assert_eq!(u.email, "officer@example.org");
    let signed = w
        .service
        .sign_in(" OFFICER@example.org ", "a long password")
        .await
        .unwrap();
    assert_eq!(signed.user, u);
    assert_eq!(signed.token.len(), 64);
    let current = w.service.session(&signed.token).await.unwrap().unwrap();
    assert_eq!(
        (current.user, current.csrf_token.clone()),
        (u, signed.csrf_token.clone())
    );
    // A second sign-in gets a different token (no session fixation).
    let again = w
        .service
        .sign_in("officer@example.org", "a long password")
        .await
        .unwrap();
    assert_ne!(again.token, signed.token);
    w.service.sign_out(&signed.token).await.unwrap();
    assert!(w.service.session(&signed.token).await.unwrap().is_none());
    assert!(w.service.session(&again.token).await.unwrap().is_some());
    for junk in ["", "not-hex", &"z".repeat(64), &"a".repeat(65)] {
        assert!(w.service.session(junk).await.unwrap().is_none(), "{junk}");
    }
}

#[tokio::test]
async fn wrong_passwords_are_refused_alike_and_throttled_after_ten() {
    let w = world().await;
    officer(&w, w.norfolk, "pat@example.org").await;
    let unknown = w.service.sign_in("nobody@example.org", "whatever").await.unwrap_err();
    let wrong = w
        .service
        .sign_in("pat@example.org", "wrong password")
        .await
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        wrong.to_string(),
        "an unknown account reads like a wrong password"
    );
    for _ in 0..9 {
        assert!(w.service.sign_in("pat@example.org", "wrong password").await.is_err());
    }
    let throttled = w
        .service
        .sign_in("pat@example.org", "a long password")
        .await
        .unwrap_err();
    assert!(
        throttled.to_string().contains("Too many failed sign-in attempts"),
        "{throttled}"
    );
}

#[tokio::test]
async fn users_are_checked_before_they_are_saved() {
    let w = world().await;
    let bad = [
        (
            "no-at-sign",
            UserRole::AuthorityOfficer,
            Scope::Authority,
            "a long password",
        ),
        ("x@example.org", UserRole::AuthorityOfficer, Scope::Authority, "short"),
        ("y@example.org", UserRole::Governor, Scope::Authority, "a long password"),
        (
            "z@example.org",
            UserRole::ClusterClerk,
            Scope::School(Urn::from_u32(121001).unwrap()),
            "a long password",
        ),
    ];
    for (email, role, scope, pw) in bad {
        let e = w
            .service
            .create_user(w.norfolk, email, "X", role, scope, pw)
            .await
            .unwrap_err();
        assert!(matches!(e, ServiceError::Invalid(_)), "{email}: {e}");
    }
    officer(&w, w.norfolk, "dup@example.org").await;
    let e = w
        .service
        .create_user(
            w.norfolk,
            "dup@example.org",
            "X",
            UserRole::Adviser,
            Scope::Authority,
            "a long password",
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Conflict(_)), "{e}");
}

#[tokio::test]
async fn reads_are_scoped_to_the_users_authority() {
    let w = world().await;
    let ours = officer(&w, w.norfolk, "n@example.org").await;
    let theirs = officer(&w, w.suffolk, "s@example.org").await;
    let urn = Urn::from_u32(121001).unwrap();
    assert_eq!(
        w.service.school(&ours, urn).await.unwrap().school.school.name,
        "Hill High School"
    );
    assert!(matches!(
        w.service.school(&theirs, urn).await,
        Err(ServiceError::NotFound(_))
    ));
    let cluster = w.service.clusters(&ours).await.unwrap()[0].cluster.id;
    assert!(matches!(
        w.service.cluster(&theirs, cluster).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        w.service.cluster(&ours, ClusterId(404)).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(w.service.clusters(&theirs).await.unwrap().is_empty());
    assert_eq!(
        w.service
            .list_schools(&theirs, &SchoolQuery::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert!(w.service.map(&theirs).await.unwrap().points.is_empty());
    let (overview, _) = w.service.overview(&theirs).await.unwrap();
    assert_eq!(overview.all.schools, 0);
    let long = SchoolQuery {
        search: Some("x".repeat(201)),
        ..SchoolQuery::default()
    };
    assert!(matches!(
        w.service.list_schools(&ours, &long).await,
        Err(ServiceError::Invalid(_))
    ));
}

#[tokio::test]
async fn overview_and_map_count_what_the_register_holds() {
    let w = world().await;
    let u = officer(&w, w.norfolk, "n@example.org").await;
    let (o, illustrative) = w.service.overview(&u).await.unwrap();
    assert!(illustrative);
    assert_eq!((o.all.schools, o.all.pupils), (3, 1600));
    assert_eq!(o.spread.clusters, 1);
    assert_eq!(o.spread.smallest, 1500);
    assert_eq!(o.spread.below_min, 1);
    assert_eq!(o.unclustered_state_funded, 1);
    let map = w.service.map(&u).await.unwrap();
    assert_eq!(map.points.len(), 2);
    assert_eq!(
        map.unplaced.len(),
        1,
        "a school with no coordinates is listed, not drawn"
    );
    let host = map.points.iter().find(|p| p.urn.get() == 121001).unwrap();
    assert_eq!(host.role, Some(MembershipRole::Host));
    assert_eq!(host.cluster.as_ref().map(|c| c.1.as_str()), Some("Hill cluster"));
}

#[tokio::test]
async fn the_export_is_one_quoted_defused_row_per_school() {
    let w = world().await;
    let csv = String::from_utf8(w.service.export_schools_csv(w.norfolk).await.unwrap()).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "urn,laestab,name,phase,pupils,fsm_pct,easting,northing,district,cluster"
    );
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[1],
        "121001,,Hill High School,secondary,1200,10.0,620000,300000,Norwich,Hill cluster"
    );
    assert_eq!(
        lines[2],
        "121002,,\"Brook Primary, \"\"the\"\" Brook\",primary,300,20.0,621000,300000,Norwich,Hill cluster"
    );
    assert_eq!(
        lines[3],
        "121003,,\"'=HYPERLINK(\"\"x\"\")\",primary,100,10.0,,,Norwich,"
    );
}

#[tokio::test]
async fn networks_and_layers_hold_only_this_authoritys_schools() {
    use domain::geo::{Area, LayerKind};
    let w = world().await;
    let u = officer(&w, w.norfolk, "n@example.org").await;
    let hill = Urn::from_u32(121001).unwrap();
    let e = w
        .service
        .save_network(w.suffolk, "Raid", "", &[hill])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("121001"), "{e}");
    w.service
        .save_network_as(&u, "CLC", "City Learning Centre", &[hill])
        .await
        .unwrap();
    assert_eq!(w.service.networks(&u).await.unwrap()[0].members, vec![hill]);
    let head = w
        .service
        .create_user(
            w.norfolk,
            "h@example.org",
            "Head",
            UserRole::Headteacher,
            Scope::School(hill),
            "a long password",
        )
        .await
        .unwrap();
    assert!(matches!(
        w.service.save_network_as(&head, "X", "", &[hill]).await,
        Err(ServiceError::Forbidden(_))
    ));
    let twice = [
        Area {
            code: "A".into(),
            name: "A".into(),
            members: vec![hill],
        },
        Area {
            code: "B".into(),
            name: "B".into(),
            members: vec![hill],
        },
    ];
    let e = w
        .service
        .save_geography_layer(w.norfolk, LayerKind::Division, "Divisions", &twice)
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Invalid(_)), "{e}");
    assert!(w.service.geography_layers(&u).await.unwrap().is_empty());
}

//! The Store contract suite: the same tests on SQLite (always) and PostgreSQL (when
//! `CLUSTERWISE_TEST_POSTGRES_URL` names a server; under CI it must). Each test gets a fresh database.
#![allow(clippy::unwrap_used)]

use domain::NaiveDate;
use domain::access::{Scope, UserRole};
use domain::cluster::MembershipRole;
use domain::geo::Location;
use domain::ids::{AuthorityId, ClusterId, LaCode, Laestab, Urn, UserId};
use domain::import::{MembershipRecord, SchoolRecord};
use domain::school::{AreaRef, Census, Governance, Phase, School, SchoolStatus, SchoolWithCensus, Tenths};
use service::store::{
    NewUser, SchoolPage, SchoolQuery, SchoolSort, SessionRecord, Store, StoreError, TokenAccess, TokenHolder,
};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn la(code: &str) -> LaCode {
    LaCode::parse(code).unwrap()
}

fn urn(n: u32) -> Urn {
    Urn::from_u32(n).unwrap()
}

fn record(n: u32, name: &str, phase: Phase, pupils: u32, fsm: u32, district: &str, census_day: &str) -> SchoolRecord {
    SchoolRecord {
        line: 2,
        la_code: la("926"),
        la_name: "Norfolk".into(),
        school: School {
            urn: urn(n),
            laestab: Some(Laestab::from_parts(la("926"), u16::try_from(n % 10_000).unwrap()).unwrap()),
            name: name.into(),
            phase,
            establishment_type: "Community school".into(),
            governance: Governance::LaMaintained,
            status: SchoolStatus::Open,
            opened_on: None,
            closed_on: None,
            sex: Some("Mixed".into()),
            denomination: None,
            trust: None,
            postcode: Some("NR1 2AB".into()),
            location: Some(Location {
                easting: 620_000 + i32::try_from(n % 1000).unwrap(),
                northing: 308_000,
                latitude: Some(52.6),
                longitude: Some(1.29),
            }),
            district: Some(AreaRef {
                code: "E07000148".into(),
                name: district.into(),
            }),
            constituency: None,
            ward: None,
            urban_rural: None,
        },
        census: Some(Census {
            census_date: day(census_day),
            pupils,
            pupils_fte: Some(Tenths(i64::from(pupils) * 10)),
            fsm_count: Some(fsm),
            fsm_pct: Tenths::from_ratio_percent(i64::from(fsm), i64::from(pupils)),
            sen_count: None,
            eal_count: None,
            stages: [
                None,
                None,
                Some(pupils / 2),
                Some(pupils - pupils / 2),
                None,
                None,
                None,
            ],
        }),
    }
}

fn sample() -> Vec<SchoolRecord> {
    vec![
        record(
            120001,
            "Alpha Primary School",
            Phase::Primary,
            200,
            20,
            "Norwich",
            "2023-01-19",
        ),
        record(
            120002,
            "Beta High School",
            Phase::Secondary,
            1000,
            150,
            "Norwich",
            "2023-01-19",
        ),
        record(
            120003,
            "Gamma 100% Infant School",
            Phase::Primary,
            90,
            9,
            "Breckland",
            "2023-01-19",
        ),
        record(
            120004,
            "Delta Special School",
            Phase::Special,
            80,
            40,
            "Breckland",
            "2023-01-19",
        ),
    ]
}

fn member(n: u32, cluster: &str, role: MembershipRole) -> MembershipRecord {
    MembershipRecord {
        line: 2,
        urn: urn(n),
        cluster: cluster.into(),
        role,
    }
}

async fn norfolk(store: &dyn Store) -> AuthorityId {
    store.create_authority(la("926"), "Norfolk").await.unwrap().id
}

fn names(p: SchoolPage) -> Vec<String> {
    p.rows.into_iter().map(|r| r.school.school.name).collect()
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Runs `test` on a fresh SQLite file.
async fn on_sqlite<F, Fut>(test: F)
where
    F: Fn(store::SqlStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("contract.db");
    let store = store::connect(&path.display().to_string()).await.unwrap();
    test(store.clone()).await;
    store.close().await;
}

/// Runs `test` on a fresh PostgreSQL database, created on the server the environment names.
async fn on_postgres<F, Fut>(test: F)
where
    F: Fn(store::SqlStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let Ok(admin_url) = std::env::var("CLUSTERWISE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the contract suite on PostgreSQL: set CLUSTERWISE_TEST_POSTGRES_URL (scripts/test.sh does)"
        );
        eprintln!("PostgreSQL contract tests not run: CLUSTERWISE_TEST_POSTGRES_URL is not set");
        return;
    };
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let name = format!(
        "cw_contract_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b);
    let store = store::connect(&format!("{base}/{name}")).await.unwrap();
    test(store.clone()).await;
    store.close().await;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
}

macro_rules! contract {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                on_sqlite($body).await;
            }
            #[tokio::test]
            async fn postgres() {
                on_postgres($body).await;
            }
        }
    };
}

contract!(migrations_leave_an_empty_register, |s: store::SqlStore| async move {
    s.ping().await.unwrap();
    assert!(s.list_authorities().await.unwrap().is_empty());
});

contract!(authorities_are_unique_by_la_code, |s: store::SqlStore| async move {
    let a = norfolk(&s).await;
    assert_eq!(s.authority(a).await.unwrap().name, "Norfolk");
    assert_eq!(s.authority_by_code(la("926")).await.unwrap().map(|x| x.id), Some(a));
    assert!(s.authority_by_code(la("801")).await.unwrap().is_none());
    assert!(matches!(
        s.create_authority(la("926"), "Again").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.authority(AuthorityId(999)).await,
        Err(StoreError::NotFound(_))
    ));
});

contract!(
    import_inserts_then_updates_and_keeps_census_history,
    |s: store::SqlStore| async move {
        let a = norfolk(&s).await;
        let c = s.save_school_import(a, &sample()).await.unwrap();
        assert_eq!((c.inserted, c.updated, c.census_rows), (4, 0, 4));
        let all = s.all_schools(a).await.unwrap();
        assert_eq!(all.len(), 4);
        let first = sample().remove(0);
        assert_eq!(
            all[0],
            SchoolWithCensus {
                school: first.school,
                census: first.census
            }
        );

        // A newer census updates by URN and keeps the history.
        let mut newer = record(
            120001,
            "Alpha Primary Academy",
            Phase::Primary,
            210,
            30,
            "Norwich",
            "2024-01-18",
        );
        if let Some(l) = newer.school.location.as_mut() {
            l.latitude = None;
        }
        let c = s.save_school_import(a, &[newer]).await.unwrap();
        assert_eq!((c.inserted, c.updated, c.census_rows), (0, 1, 1));
        let d = s.school(a, urn(120001)).await.unwrap().unwrap();
        assert_eq!(d.school.school.name, "Alpha Primary Academy");
        assert_eq!(d.school.pupils(), 210);
        assert_eq!(
            d.census_history.iter().map(|c| c.pupils).collect::<Vec<_>>(),
            vec![210, 200]
        );
        // An empty value in the new file keeps the stored one.
        assert_eq!(d.school.school.location.unwrap().latitude, Some(52.6));

        // Re-importing an older census does not make it the latest; the same date replaces figures.
        s.save_school_import(
            a,
            &[record(
                120001,
                "Alpha Primary Academy",
                Phase::Primary,
                205,
                20,
                "Norwich",
                "2023-01-19",
            )],
        )
        .await
        .unwrap();
        let d = s.school(a, urn(120001)).await.unwrap().unwrap();
        assert_eq!(d.school.pupils(), 210);
        assert_eq!(
            d.census_history.iter().map(|c| c.pupils).collect::<Vec<_>>(),
            vec![210, 205]
        );
    }
);

contract!(large_imports_are_chunked, |s: store::SqlStore| async move {
    let a = norfolk(&s).await;
    let rows: Vec<SchoolRecord> = (0..1_234)
        .map(|i| {
            record(
                130_000 + i,
                &format!("School {i}"),
                Phase::Primary,
                100 + i,
                i % 50,
                "Norwich",
                "2023-01-19",
            )
        })
        .collect();
    let c = s.save_school_import(a, &rows).await.unwrap();
    assert_eq!((c.inserted, c.census_rows), (1_234, 1_234));
    let page = s
        .list_schools(
            a,
            &SchoolQuery {
                limit: Some(10),
                ..SchoolQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((page.total, page.rows.len()), (1_234, 10));
});

contract!(every_read_is_scoped_to_its_authority, |s: store::SqlStore| async move {
    let a = norfolk(&s).await;
    let b = s.create_authority(la("801"), "Bristol").await.unwrap().id;
    s.save_school_import(a, &sample()).await.unwrap();
    assert!(s.school(b, urn(120001)).await.unwrap().is_none());
    assert!(s.all_schools(b).await.unwrap().is_empty());
    assert_eq!(s.list_schools(b, &SchoolQuery::default()).await.unwrap().total, 0);
    assert!(s.districts(b).await.unwrap().is_empty());
    s.save_memberships(
        a,
        &[member(120001, "North", MembershipRole::Feeder)],
        day("2023-09-01"),
        false,
    )
    .await
    .unwrap();
    let cluster = s.list_clusters(a, day("2024-01-01")).await.unwrap()[0].cluster.id;
    assert!(s.cluster(b, cluster, day("2024-01-01")).await.unwrap().is_none());
    assert!(s.list_clusters(b, day("2024-01-01")).await.unwrap().is_empty());
    assert!(s.current_memberships(b, day("2024-01-01")).await.unwrap().is_empty());
    // Authority B cannot file memberships for authority A's schools.
    assert!(
        s.save_memberships(
            b,
            &[member(120001, "Raid", MembershipRole::Feeder)],
            day("2023-09-01"),
            false
        )
        .await
        .is_err()
    );
});

contract!(
    school_list_searches_filters_sorts_and_pages,
    |s: store::SqlStore| async move {
        let a = norfolk(&s).await;
        s.save_school_import(a, &sample()).await.unwrap();
        let q = |f: &dyn Fn(&mut SchoolQuery)| {
            let mut q = SchoolQuery {
                on: Some(day("2024-01-01")),
                ..SchoolQuery::default()
            };
            f(&mut q);
            q
        };
        let p = s
            .list_schools(a, &q(&|q| q.search = Some("beta".into())))
            .await
            .unwrap();
        assert_eq!(names(p), vec!["Beta High School"]);
        let p = s
            .list_schools(a, &q(&|q| q.search = Some("120003".into())))
            .await
            .unwrap();
        assert_eq!(names(p), vec!["Gamma 100% Infant School"]);
        let p = s
            .list_schools(a, &q(&|q| q.search = Some("nr1 2ab".into())))
            .await
            .unwrap();
        assert_eq!(p.total, 4);
        // LIKE wildcards typed by a person are matched literally.
        let p = s
            .list_schools(a, &q(&|q| q.search = Some("100%".into())))
            .await
            .unwrap();
        assert_eq!(names(p), vec!["Gamma 100% Infant School"]);
        let p = s.list_schools(a, &q(&|q| q.search = Some("_".into()))).await.unwrap();
        assert_eq!(p.total, 0);
        // Hostile input is data, not SQL.
        let p = s
            .list_schools(a, &q(&|q| q.search = Some("' OR 1=1; DROP TABLE schools; --".into())))
            .await
            .unwrap();
        assert_eq!(p.total, 0);
        let p = s
            .list_schools(a, &q(&|q| q.district = Some("x' OR '1'='1".into())))
            .await
            .unwrap();
        assert_eq!(p.total, 0);
        assert_eq!(s.all_schools(a).await.unwrap().len(), 4);
        let p = s
            .list_schools(a, &q(&|q| q.phase = Some(Phase::Primary)))
            .await
            .unwrap();
        assert_eq!(names(p), vec!["Alpha Primary School", "Gamma 100% Infant School"]);
        let p = s
            .list_schools(a, &q(&|q| q.district = Some("Breckland".into())))
            .await
            .unwrap();
        assert_eq!(p.total, 2);
        let p = s
            .list_schools(
                a,
                &q(&|q| {
                    q.sort = SchoolSort::Pupils;
                    q.descending = true;
                }),
            )
            .await
            .unwrap();
        assert_eq!(
            p.rows.iter().map(|r| r.school.pupils()).collect::<Vec<_>>(),
            vec![1000, 200, 90, 80]
        );
        // 10.0 %, 10.0 %, 15.0 %, 50.0 %: ties broken by name.
        let p = s.list_schools(a, &q(&|q| q.sort = SchoolSort::FsmPct)).await.unwrap();
        assert_eq!(
            names(p),
            vec![
                "Alpha Primary School",
                "Gamma 100% Infant School",
                "Beta High School",
                "Delta Special School"
            ]
        );
        let p = s
            .list_schools(
                a,
                &q(&|q| {
                    q.limit = Some(2);
                    q.offset = 2;
                }),
            )
            .await
            .unwrap();
        assert_eq!(p.total, 4);
        assert_eq!(names(p), vec!["Delta Special School", "Gamma 100% Infant School"]);
        assert_eq!(s.districts(a).await.unwrap(), vec!["Breckland", "Norwich"]);
    }
);

contract!(
    memberships_are_dated_and_clusters_summarised,
    |s: store::SqlStore| async move {
        let a = norfolk(&s).await;
        s.save_school_import(a, &sample()).await.unwrap();
        let first = vec![
            member(120002, "Norwich", MembershipRole::Host),
            member(120001, "Norwich", MembershipRole::Feeder),
            member(120003, "Breckland", MembershipRole::Feeder),
            member(120004, "Breckland", MembershipRole::Special),
        ];
        let c = s.save_memberships(a, &first, day("2023-09-01"), true).await.unwrap();
        assert_eq!((c.inserted, c.updated, c.clusters_created), (4, 0, 2));
        // The same file again changes nothing.
        let c = s.save_memberships(a, &first, day("2023-09-01"), true).await.unwrap();
        assert_eq!((c.inserted, c.updated, c.clusters_created), (0, 0, 0));

        let clusters = s.list_clusters(a, day("2024-01-01")).await.unwrap();
        let listed: Vec<&str> = clusters.iter().map(|c| c.cluster.name.as_str()).collect();
        assert_eq!(listed, vec!["Breckland", "Norwich"]);
        let norwich = &clusters[1];
        assert!(norwich.cluster.illustrative);
        assert_eq!(
            (norwich.schools, norwich.pupils, norwich.fsm_count, norwich.fsm_base),
            (2, 1200, 170, 1200)
        );
        assert_eq!((norwich.secondaries, norwich.primaries, norwich.others), (1, 1, 0));
        let detail = s
            .cluster(a, norwich.cluster.id, day("2024-01-01"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(detail.members[0].1, MembershipRole::Host);
        assert!(
            s.cluster(a, ClusterId(9_999), day("2024-01-01"))
                .await
                .unwrap()
                .is_none()
        );
        // Before the start date nobody is a member.
        assert!(s.current_memberships(a, day("2023-08-31")).await.unwrap().is_empty());

        // Moving a school ends its old membership and keeps the history.
        let c = s
            .save_memberships(
                a,
                &[member(120003, "Norwich", MembershipRole::Feeder)],
                day("2024-09-01"),
                true,
            )
            .await
            .unwrap();
        assert_eq!((c.inserted, c.updated), (1, 1));
        let before = s.current_memberships(a, day("2024-08-31")).await.unwrap();
        let after = s.current_memberships(a, day("2024-09-01")).await.unwrap();
        let cluster_of = |v: &[(Urn, ClusterId, MembershipRole)]| v.iter().find(|x| x.0.get() == 120003).unwrap().1;
        assert_eq!(cluster_of(&before), clusters[0].cluster.id);
        assert_eq!(cluster_of(&after), norwich.cluster.id);
        let d = s.school(a, urn(120003)).await.unwrap().unwrap();
        assert_eq!(d.memberships.len(), 2);
        assert_eq!(d.memberships[0].0.to, None);
        assert_eq!(d.memberships[1].0.to, Some(day("2024-09-01")));
        let listed = s
            .list_schools(
                a,
                &SchoolQuery {
                    on: Some(day("2024-09-01")),
                    cluster: Some(norwich.cluster.id),
                    ..SchoolQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(listed.total, 3);
        assert!(
            listed
                .rows
                .iter()
                .all(|r| r.cluster.as_ref().map(|c| c.1.as_str()) == Some("Norwich"))
        );
    }
);

contract!(a_failed_write_leaves_nothing_behind, |s: store::SqlStore| async move {
    let a = norfolk(&s).await;
    s.save_school_import(a, &sample()).await.unwrap();
    // The second row names a school that is not on the register: the whole file is refused.
    let rows = vec![
        member(120001, "New", MembershipRole::Feeder),
        member(999_999, "Other", MembershipRole::Feeder),
    ];
    assert!(s.save_memberships(a, &rows, day("2023-09-01"), false).await.is_err());
    assert!(s.list_clusters(a, day("2024-01-01")).await.unwrap().is_empty());
    assert!(s.current_memberships(a, day("2024-01-01")).await.unwrap().is_empty());
});

contract!(users_sessions_and_sign_in_attempts, |s: store::SqlStore| async move {
    let a = norfolk(&s).await;
    let new = |email: &str, role, scope| NewUser {
        authority: a,
        email: email.into(),
        display_name: "Pat".into(),
        role,
        scope,
        password_hash: "$argon2id$fake".into(),
    };
    let u = s
        .create_user(new("pat@example.org", UserRole::AuthorityOfficer, Scope::Authority))
        .await
        .unwrap();
    let h = s
        .create_user(new(
            "head@example.org",
            UserRole::Headteacher,
            Scope::School(urn(120001)),
        ))
        .await
        .unwrap();
    assert!(matches!(
        s.create_user(new("pat@example.org", UserRole::Adviser, Scope::Authority))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let (found, hash) = s.user_credentials("PAT@example.org").await.unwrap().unwrap();
    assert_eq!((found, hash.as_str()), (u.clone(), "$argon2id$fake"));
    assert_eq!(s.user_credentials("head@example.org").await.unwrap().unwrap().0, h);
    assert!(s.user_credentials("nobody@example.org").await.unwrap().is_none());

    let session = SessionRecord {
        token_hash: "abc".into(),
        user: u.id,
        csrf_token: "csrf".into(),
        created_at: 100,
        expires_at: 200,
    };
    s.create_session(&session).await.unwrap();
    assert_eq!(s.session("abc", 150).await.unwrap(), Some((session.clone(), u.clone())));
    assert!(s.session("abc", 200).await.unwrap().is_none(), "expired");
    assert!(s.session("other", 150).await.unwrap().is_none());
    s.delete_session("abc").await.unwrap();
    assert!(s.session("abc", 150).await.unwrap().is_none());
    assert!(
        s.create_session(&SessionRecord {
            user: UserId(9_999),
            ..session
        })
        .await
        .is_err()
    );

    for t in 0..3 {
        s.record_sign_in_attempt("pat@example.org", 1_000 + t, false)
            .await
            .unwrap();
    }
    assert_eq!(s.failed_sign_ins_since("pat@example.org", 0).await.unwrap(), 3);
    assert_eq!(s.failed_sign_ins_since("pat@example.org", 1_001).await.unwrap(), 2);
    s.record_sign_in_attempt("pat@example.org", 1_010, true).await.unwrap();
    assert_eq!(
        s.failed_sign_ins_since("pat@example.org", 0).await.unwrap(),
        0,
        "a success resets the count"
    );
});

contract!(
    geography_layers_and_networks_replace_by_name,
    |s: store::SqlStore| async move {
        use domain::geo::{Area, LayerKind};
        let a = norfolk(&s).await;
        let b = s.create_authority(la("801"), "Bristol").await.unwrap().id;
        s.save_school_import(a, &sample()).await.unwrap();
        let area = |code: &str, members: &[u32]| Area {
            code: code.into(),
            name: format!("{code} division"),
            members: members.iter().map(|&m| urn(m)).collect(),
        };
        let id = s
            .save_geography_layer(
                a,
                LayerKind::Division,
                "Divisions",
                &[area("N", &[120001, 120002]), area("S", &[120003])],
            )
            .await
            .unwrap();
        let again = s
            .save_geography_layer(
                a,
                LayerKind::Division,
                "Divisions",
                &[area("N", &[120001]), area("W", &[120004])],
            )
            .await
            .unwrap();
        assert_eq!(id, again, "saving by the same name replaces the layer");
        let layers = s.geography_layers(a).await.unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0].areas, vec![area("N", &[120001]), area("W", &[120004])]);
        assert!(s.geography_layers(b).await.unwrap().is_empty());

        let n = s
            .save_network(
                a,
                "City Learning Centre",
                "shared ICT suite",
                &[urn(120002), urn(120001), urn(120002)],
            )
            .await
            .unwrap();
        s.save_network(a, "Sports partnership", "PE", &[urn(120001)])
            .await
            .unwrap();
        let networks = s.networks(a).await.unwrap();
        assert_eq!(networks.len(), 2);
        assert_eq!(
            (networks[0].id, networks[0].members.clone()),
            (n, vec![urn(120001), urn(120002)])
        );
        assert!(s.networks(b).await.unwrap().is_empty());
        let d = s.school(a, urn(120001)).await.unwrap().unwrap();
        assert_eq!(
            d.networks.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(),
            vec!["City Learning Centre", "Sports partnership"]
        );
        assert_eq!(
            d.areas,
            vec![(LayerKind::Division, "Divisions".into(), "N".into(), "N division".into())]
        );
        // A school of another authority cannot be put in a network.
        assert!(s.save_network(b, "Raid", "", &[urn(120001)]).await.is_err());
    }
);

contract!(
    committees_round_trip_whole_and_stay_in_their_authority,
    |s: store::SqlStore| async move {
        use domain::governance::health::{CommitteeState, MeetingSummary};
        use domain::governance::{Committee, Constitution, ConstitutionVersion, Seat, SeatKind, SeatStatus};
        use domain::ids::PersonId;
        let a = norfolk(&s).await;
        let b = s.create_authority(la("801"), "Bristol").await.unwrap().id;
        s.save_school_import(a, &sample()).await.unwrap();
        s.save_memberships(
            a,
            &[
                member(120001, "North", MembershipRole::Host),
                member(120002, "North", MembershipRole::Feeder),
            ],
            day("2023-09-01"),
            false,
        )
        .await
        .unwrap();
        let cluster = s.list_clusters(a, day("2024-01-01")).await.unwrap()[0].cluster.id;
        let seat = |u: u32, status| Seat {
            kind: SeatKind::VotingGovernor,
            school: Some(urn(u)),
            status,
            term_from: Some(day("2023-09-01")),
            term_to: None,
        };
        let committee = Committee {
            cluster,
            versions: vec![
                ConstitutionVersion {
                    version: 1,
                    effective_from: day("2023-09-01"),
                    constitution: Constitution::norfolk(),
                },
                ConstitutionVersion {
                    version: 2,
                    effective_from: day("2024-09-01"),
                    constitution: Constitution {
                        casting_vote: true,
                        ..Constitution::welsh_joint_committee()
                    },
                },
            ],
            holders: vec!["Pat Governor".into(), "Sam Governor".into()],
            state: CommitteeState {
                member_schools: vec![],
                seats: vec![
                    seat(120001, SeatStatus::Filled(PersonId(0))),
                    seat(120002, SeatStatus::Vacant),
                    seat(120003, SeatStatus::Suspended(PersonId(1))),
                ],
                chair: Some(PersonId(0)),
                vice_chair: None,
                last_review: Some(day("2024-07-01")),
                meetings: vec![MeetingSummary {
                    date: day("2024-10-10"),
                    quorate: true,
                    schools_present: vec![urn(120001)],
                    minutes_sent: vec![(urn(120001), Some(day("2024-10-20"))), (urn(120002), None)],
                    minutes_approved_on: None,
                    decisions_carried: 3,
                }],
            },
        };
        s.save_committee(a, &committee).await.unwrap();
        s.save_committee(a, &committee).await.unwrap(); // saving again replaces, never duplicates
        let loaded = s.committees(a).await.unwrap();
        assert_eq!(loaded, vec![committee.clone()]);
        assert!(s.committees(b).await.unwrap().is_empty());
        assert!(
            matches!(s.save_committee(b, &committee).await, Err(StoreError::NotFound(_))),
            "not B's cluster"
        );
    }
);

// ---- design ----

fn scenario_params(name: &str) -> service::design::ScenarioParameters {
    service::design::ScenarioParameters {
        name: name.into(),
        mode: domain::design::Mode::Redraw,
        min_pupils: 100,
        max_pupils: 2_000,
        min_clusters: 1,
        max_clusters: 3,
        districts: domain::design::DistrictRule::Soft,
        seed: 7,
        time_limit_s: 5,
        max_iterations: Some(10_000),
        excluded_phases: vec![Phase::Special],
        excluded_urns: vec![urn(120004)],
        must_link: vec![
            vec![urn(120001), urn(120002)],
            vec![urn(120005), urn(120006), urn(120007)],
        ],
        locks: vec![
            (urn(120003), "Catholic partnership, north".into()),
            (urn(120008), "Hill".into()),
        ],
    }
}

fn new_scenario(name: &str) -> service::design::NewScenario {
    service::design::NewScenario {
        params: scenario_params(name),
        illustrative: false,
        ran_by: None,
        ran_by_name: "Pat Officer".into(),
        started_at: 1_700_000_000,
        schools: 3,
        pupils: 1_290,
    }
}

fn done_outcome() -> service::design::ScenarioOutcome {
    use service::design::{Finding, FindingKind, RunFigures, ScenarioCluster, ScenarioOutcome, ScenarioStatus};
    ScenarioOutcome {
        status: ScenarioStatus::Done,
        finished_at: 1_700_000_002,
        run: RunFigures {
            iterations: 10_000,
            stop: "iteration_budget".into(),
            elapsed_ms: 1_234,
            objective: Some(domain::design::Objective {
                total: 1_234.567,
                travel: 1_000.5,
                district_penalty: 234.067,
                division_penalty: 0.0,
                split_penalty: 0.0,
                cluster_count_penalty: 0.0,
            }),
        },
        clusters: vec![ScenarioCluster {
            label: "C01".into(),
            name: "Beta High School cluster".into(),
            hub: Some(urn(120002)),
            pupils: 1_290,
            schools: 3,
            by_phase: vec![(Phase::Primary, 2), (Phase::Secondary, 1)],
            fsm_pct: Some(Tenths(139)),
            districts: vec!["Breckland".into(), "Norwich".into()],
            longest_m: 2_001,
            travel: 1_000.5,
        }],
        assignment: vec![
            (urn(120001), "C01".into()),
            (urn(120002), "C01".into()),
            (urn(120003), "C01".into()),
        ],
        findings: vec![Finding {
            kind: FindingKind::Breach,
            principle: "align with district boundaries".into(),
            detail: "Gamma 100% Infant School (120003) is in Breckland but its cluster C01's hub is in Norwich".into(),
        }],
    }
}

contract!(
    design_scenarios_are_stored_whole_and_scoped,
    |s: store::SqlStore| async move {
        use service::design::{ScenarioId, ScenarioStatus};
        let a = norfolk(&s).await;
        let b = s.create_authority(la("935"), "Suffolk").await.unwrap().id;
        s.save_school_import(a, &sample()).await.unwrap();
        let id = s.create_scenario(a, &new_scenario("First try")).await.unwrap();
        let listed = s.scenarios(a).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].status, ScenarioStatus::Running);
        assert_eq!(listed[0].params, scenario_params("First try"));
        assert_eq!((listed[0].clusters, listed[0].objective), (0, None));
        // Another authority sees nothing and cannot finish it.
        assert!(s.scenarios(b).await.unwrap().is_empty());
        assert!(s.scenario(b, id).await.unwrap().is_none());
        assert!(matches!(
            s.finish_scenario(b, id, &done_outcome()).await,
            Err(StoreError::Conflict(_))
        ));

        s.finish_scenario(a, id, &done_outcome()).await.unwrap();
        let record = s.scenario(a, id).await.unwrap().unwrap();
        let want = done_outcome();
        assert_eq!(record.summary.status, ScenarioStatus::Done);
        assert_eq!(record.summary.clusters, 1);
        assert_eq!(record.summary.objective, Some(1_234.567));
        assert_eq!(record.summary.finished_at, Some(1_700_000_002));
        assert_eq!(record.run, Some(want.run.clone()));
        assert_eq!(record.clusters, want.clusters);
        assert_eq!(record.assignment, want.assignment);
        assert_eq!(record.findings, want.findings);
        // A finished run cannot finish again; a missing scenario is absent.
        assert!(matches!(
            s.finish_scenario(a, id, &done_outcome()).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(s.scenario(a, ScenarioId(9_999)).await.unwrap().is_none());
    }
);

contract!(
    adopting_a_scenario_dates_the_new_map_and_keeps_the_old,
    |s: store::SqlStore| async move {
        use service::design::{Adoption, NewAdoption, ScenarioOutcome, ScenarioStatus};
        let a = norfolk(&s).await;
        s.save_school_import(a, &sample()).await.unwrap();
        let old = vec![
            member(120002, "Norwich", MembershipRole::Host),
            member(120001, "Norwich", MembershipRole::Feeder),
            member(120003, "Breckland", MembershipRole::Feeder),
            member(120004, "Breckland", MembershipRole::Special),
        ];
        s.save_memberships(a, &old, day("2023-09-01"), true).await.unwrap();
        let id = s.create_scenario(a, &new_scenario("Adopt me")).await.unwrap();
        s.finish_scenario(a, id, &done_outcome()).await.unwrap();
        let adoption = |effective: &str, name: &str| NewAdoption {
            adoption: Adoption {
                effective: day(effective),
                by_name: "Pat Officer".into(),
                at: 1_700_000_100,
            },
            by: None,
            clusters: vec![(
                name.into(),
                vec![
                    (urn(120002), MembershipRole::Host),
                    (urn(120001), MembershipRole::Feeder),
                    (urn(120003), MembershipRole::Feeder),
                ],
            )],
        };
        let unchanged = |s: store::SqlStore| async move {
            assert!(s.scenario(a, id).await.unwrap().unwrap().summary.adoption.is_none());
            assert_eq!(s.current_memberships(a, day("2025-01-01")).await.unwrap().len(), 4);
        };
        // Refused, with nothing written: a day before today's memberships began, and a cluster
        // name already taken.
        assert!(matches!(
            s.adopt_scenario(a, id, &adoption("2023-08-31", "New cluster")).await,
            Err(StoreError::Conflict(_))
        ));
        unchanged(s.clone()).await;
        assert!(matches!(
            s.adopt_scenario(a, id, &adoption("2024-09-01", "Norwich")).await,
            Err(StoreError::Conflict(_))
        ));
        unchanged(s.clone()).await;

        let counts = s
            .adopt_scenario(a, id, &adoption("2024-09-01", "Beta High School cluster"))
            .await
            .unwrap();
        assert_eq!((counts.inserted, counts.updated, counts.clusters_created), (3, 4, 1));
        let adopted = s.scenario(a, id).await.unwrap().unwrap().summary.adoption.unwrap();
        assert_eq!(adopted.effective, day("2024-09-01"));
        assert_eq!(adopted.by_name, "Pat Officer");
        // The day before: the old map. From the day: the new one, and the special school (left
        // out of the scenario) is in no cluster.
        let before = s.list_clusters(a, day("2024-08-31")).await.unwrap();
        let names = |v: &[service::store::ClusterSummary]| v.iter().map(|c| c.cluster.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&before), vec!["Breckland", "Norwich"]);
        let after = s.list_clusters(a, day("2024-09-01")).await.unwrap();
        assert_eq!(names(&after), vec!["Beta High School cluster"]);
        assert_eq!((after[0].schools, after[0].pupils), (3, 1_290));
        assert!(!after[0].cluster.illustrative);
        assert_eq!(s.current_memberships(a, day("2024-09-01")).await.unwrap().len(), 3);
        let history = s.school(a, urn(120003)).await.unwrap().unwrap().memberships;
        assert_eq!(history.len(), 2);
        assert_eq!(history[1].0.to, Some(day("2024-09-01")));
        assert_eq!(
            s.cluster_names(a).await.unwrap(),
            vec!["Beta High School cluster", "Breckland", "Norwich"]
        );
        // Adopting on the day memberships start replaces them (they never took effect).
        let second = s.create_scenario(a, &new_scenario("Same day")).await.unwrap();
        s.finish_scenario(a, second, &done_outcome()).await.unwrap();
        let counts = s
            .adopt_scenario(a, second, &adoption("2024-09-01", "Same day cluster"))
            .await
            .unwrap();
        assert_eq!((counts.inserted, counts.updated, counts.clusters_created), (3, 3, 1));
        let after = s.list_clusters(a, day("2024-09-01")).await.unwrap();
        assert_eq!(names(&after), vec!["Same day cluster"]);
        assert_eq!(s.school(a, urn(120003)).await.unwrap().unwrap().memberships.len(), 2);
        // Adopted once only; a failed scenario never.
        assert!(matches!(
            s.adopt_scenario(a, id, &adoption("2025-09-01", "Again")).await,
            Err(StoreError::Conflict(_))
        ));
        let failed = s.create_scenario(a, &new_scenario("No map")).await.unwrap();
        let outcome = ScenarioOutcome {
            status: ScenarioStatus::Failed,
            clusters: Vec::new(),
            assignment: Vec::new(),
            ..done_outcome()
        };
        s.finish_scenario(a, failed, &outcome).await.unwrap();
        assert!(matches!(
            s.adopt_scenario(a, failed, &adoption("2025-09-01", "Never")).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(s.cluster_names(a).await.unwrap().len(), 4);
    }
);

// ---- policies ----

contract!(
    policy_versions_add_never_change_and_stay_in_their_authority,
    |s: store::SqlStore| async move {
        use domain::funding::Period;
        use service::policies::{InForce, NewPolicyVersion, PolicyId, PolicyVersionId};
        let a = norfolk(&s).await;
        let b = s.create_authority(la("801"), "Bristol").await.unwrap().id;
        let new = |policy: Option<PolicyId>, name: &str, body: &str| NewPolicyVersion {
            policy,
            name: name.into(),
            body: body.into(),
            note: "first".into(),
            saved_by: "Officer".into(),
            saved_at: 1_700_000_000,
        };
        let v1 = s
            .save_policy_version(a, &new(None, "Admin", "name = \"Admin\"\n"))
            .await
            .unwrap();
        assert_eq!(v1.version, 1);
        let v2 = s
            .save_policy_version(a, &new(Some(v1.policy), "Admin 2", "name = \"Admin 2\"\n"))
            .await
            .unwrap();
        assert_eq!((v2.version, v2.policy), (2, v1.policy));
        let other = s.save_policy_version(a, &new(None, "G&T", "x")).await.unwrap();
        // A name another policy holds is a conflict, for a new policy and for an edit.
        assert!(matches!(
            s.save_policy_version(a, &new(None, "G&T", "y")).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.save_policy_version(a, &new(Some(v1.policy), "G&T", "y")).await,
            Err(StoreError::Conflict(_))
        ));
        // Another authority's policy cannot be edited, and the same name is free there.
        assert!(matches!(
            s.save_policy_version(b, &new(Some(v1.policy), "Admin 2", "z")).await,
            Err(StoreError::NotFound(_))
        ));
        s.save_policy_version(b, &new(None, "Admin 2", "theirs")).await.unwrap();

        let list = s.policies(a).await.unwrap();
        assert_eq!(
            list.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["Admin 2", "G&T"]
        );
        assert_eq!(
            list[0].versions,
            vec![v2.clone(), v1.clone()],
            "newest first, the old kept"
        );
        assert_eq!(list[1].versions, vec![other.clone()]);
        assert_eq!(s.policies(b).await.unwrap().len(), 1);

        let mark = |version: PolicyVersionId, period| InForce {
            period,
            version,
            marked_by: "Officer".into(),
            marked_at: 1_700_000_100,
        };
        s.set_policy_in_force(a, &mark(v1.id, Period::AcademicYear(2026)))
            .await
            .unwrap();
        s.set_policy_in_force(a, &mark(v2.id, Period::AcademicYear(2026)))
            .await
            .unwrap();
        s.set_policy_in_force(a, &mark(other.id, Period::FinancialYear(2026)))
            .await
            .unwrap();
        assert_eq!(
            s.policies_in_force(a).await.unwrap(),
            vec![
                mark(v2.id, Period::AcademicYear(2026)),
                mark(other.id, Period::FinancialYear(2026))
            ],
            "one per period, the later mark replacing the earlier"
        );
        assert!(matches!(
            s.set_policy_in_force(b, &mark(v1.id, Period::AcademicYear(2026))).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(s.policies_in_force(b).await.unwrap().is_empty());
    }
);

// ---- meetings ----

async fn two_school_cluster(s: &store::SqlStore) -> (AuthorityId, AuthorityId, ClusterId) {
    let a = norfolk(s).await;
    let b = s.create_authority(la("801"), "Bristol").await.unwrap().id;
    s.save_school_import(a, &sample()).await.unwrap();
    s.save_memberships(
        a,
        &[
            member(120001, "North", MembershipRole::Host),
            member(120002, "North", MembershipRole::Feeder),
        ],
        day("2023-09-01"),
        false,
    )
    .await
    .unwrap();
    let cluster = s.list_clusters(a, day("2024-01-01")).await.unwrap()[0].cluster.id;
    (a, b, cluster)
}

contract!(
    committee_registers_keep_people_seats_and_versions_in_their_authority,
    |s: store::SqlStore| async move {
        use domain::governance::{Constitution, ConstitutionVersion, SeatKind};
        use service::meetings::{CommitteeSeat, PersonDetails};
        let (a, b, cluster) = two_school_cluster(&s).await;
        let empty = s.committee_register(a, cluster).await.unwrap().unwrap();
        assert!(empty.people.is_empty() && empty.seats.is_empty() && empty.versions.is_empty());
        assert!(
            s.committee_register(b, cluster).await.unwrap().is_none(),
            "not B's cluster"
        );
        let ids = s
            .add_committee_people(
                a,
                cluster,
                &[
                    PersonDetails {
                        name: "Pat Governor".into(),
                        governor_of: vec![urn(120001), urn(120001)],
                        ..PersonDetails::default()
                    },
                    PersonDetails {
                        name: "Hal Head".into(),
                        works_at: Some(urn(120002)),
                        head_of: Some(urn(120002)),
                        ..PersonDetails::default()
                    },
                ],
            )
            .await
            .unwrap();
        assert_eq!(ids.len(), 2);
        let seats = vec![
            CommitteeSeat {
                kind: SeatKind::VotingGovernor,
                school: Some(urn(120001)),
                person: Some(ids[0]),
                suspended: true,
                term_from: Some(day("2023-09-01")),
                term_to: Some(day("2027-08-31")),
            },
            CommitteeSeat {
                kind: SeatKind::VotingGovernor,
                school: Some(urn(120002)),
                person: None,
                suspended: false,
                term_from: None,
                term_to: None,
            },
        ];
        s.save_committee_seats(a, cluster, &seats).await.unwrap();
        s.save_committee_seats(a, cluster, &seats).await.unwrap(); // replaced, never duplicated
        let versions = vec![ConstitutionVersion {
            version: 1,
            effective_from: day("2023-09-01"),
            constitution: Constitution {
                casting_vote: true,
                ..Constitution::norfolk()
            },
        }];
        s.save_constitution_versions(a, cluster, &versions, Some(day("2024-07-01")))
            .await
            .unwrap();
        let r = s.committee_register(a, cluster).await.unwrap().unwrap();
        assert_eq!(r.seats, seats);
        assert_eq!(r.versions, versions);
        assert_eq!(r.last_review, Some(day("2024-07-01")));
        assert_eq!(r.people[0].details.governor_of, vec![urn(120001)]);
        assert_eq!(r.people[1].details.head_of, Some(urn(120002)));
        let mut renamed = r.people[0].details.clone();
        renamed.name = "Pat Lee".into();
        s.update_committee_person(a, cluster, ids[0], &renamed).await.unwrap();
        assert_eq!(
            s.committee_register(a, cluster).await.unwrap().unwrap().people[0]
                .details
                .name,
            "Pat Lee"
        );
        // Another authority can neither read nor write it, and a seat cannot name a stranger.
        assert!(matches!(
            s.add_committee_people(b, cluster, &[renamed.clone()]).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.update_committee_person(b, cluster, ids[0], &renamed).await,
            Err(StoreError::NotFound(_))
        ));
        let stranger = vec![CommitteeSeat {
            person: Some(domain::ids::PersonId(9_999)),
            ..seats[1].clone()
        }];
        assert!(matches!(
            s.save_committee_seats(a, cluster, &stranger).await,
            Err(StoreError::NotFound(_))
        ));
        // Nothing half-saved: the seats are as before.
        assert_eq!(s.committee_register(a, cluster).await.unwrap().unwrap().seats, seats);
    }
);

contract!(
    narratives_are_one_per_cluster_and_term,
    |s: store::SqlStore| async move {
        use domain::governance::health::{Season, Term};
        use service::policies::Narrative;
        let a = norfolk(&s).await;
        let b = s.create_authority(la("801"), "Bristol").await.unwrap().id;
        s.save_school_import(a, &sample()).await.unwrap();
        s.save_memberships(
            a,
            &[member(120001, "North", MembershipRole::Host)],
            day("2023-09-01"),
            false,
        )
        .await
        .unwrap();
        let cluster = s.list_clusters(a, day("2024-01-01")).await.unwrap()[0].cluster.id;
        let n = |season, body: &str| Narrative {
            cluster,
            term: Term {
                academic_year: 2026,
                season,
            },
            body: body.into(),
            written_by: "Clerk".into(),
            written_at: 1_700_000_000,
        };
        s.save_narrative(a, &n(Season::Autumn, "first draft")).await.unwrap();
        s.save_narrative(a, &n(Season::Autumn, "Reading ages rose."))
            .await
            .unwrap();
        s.save_narrative(a, &n(Season::Spring, "Spring")).await.unwrap();
        assert_eq!(
            s.narratives(a, cluster).await.unwrap(),
            vec![n(Season::Spring, "Spring"), n(Season::Autumn, "Reading ages rose.")]
        );
        assert!(matches!(
            s.save_narrative(b, &n(Season::Autumn, "raid")).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(s.narratives(b, cluster).await.unwrap().is_empty());
    }
);

contract!(
    meetings_round_trip_whole_with_approval_officers_and_health_totals,
    |s: store::SqlStore| async move {
        use domain::governance::meeting::Attendance;
        use domain::governance::{Choice, Constitution, ConstitutionVersion, Outcome, SeatKind, TieRule};
        use service::meetings::*;
        let (a, b, cluster) = two_school_cluster(&s).await;
        let ids = s
            .add_committee_people(
                a,
                cluster,
                &[
                    PersonDetails {
                        name: "Pat".into(),
                        governor_of: vec![urn(120001)],
                        ..PersonDetails::default()
                    },
                    PersonDetails {
                        name: "Sam".into(),
                        governor_of: vec![urn(120002)],
                        ..PersonDetails::default()
                    },
                ],
            )
            .await
            .unwrap();
        let seat = |u: u32, p| CommitteeSeat {
            kind: SeatKind::VotingGovernor,
            school: Some(urn(u)),
            person: Some(p),
            suspended: false,
            term_from: None,
            term_to: None,
        };
        s.save_committee_seats(a, cluster, &[seat(120001, ids[0]), seat(120002, ids[1])])
            .await
            .unwrap();
        s.save_constitution_versions(
            a,
            cluster,
            &[ConstitutionVersion {
                version: 1,
                effective_from: day("2023-09-01"),
                constitution: Constitution::norfolk(),
            }],
            None,
        )
        .await
        .unwrap();
        let mut first = MeetingRecord::new(cluster, day("2024-10-10"), "Autumn".into(), "Hill".into());
        first.notice_sent_on = Some(day("2024-09-26"));
        first.attendance = vec![
            AttendanceRecord {
                person: ids[0],
                status: Attendance::Present,
                substitute_for: None,
            },
            AttendanceRecord {
                person: ids[1],
                status: Attendance::Apologies,
                substitute_for: Some(urn(120002)),
            },
        ];
        first.roll = vec![seat(120001, ids[0]), seat(120002, ids[1])];
        first.items = vec![AgendaItem {
            title: "Plan".into(),
            restricted: true,
            restricted_to: Some(urn(120002)),
            papers: vec![Paper {
                title: "Plan paper".into(),
                text: "Three priorities; £2,000 each".into(),
            }],
            declarations: vec![DeclarationRecord {
                person: ids[0],
                interest: "works there".into(),
                withdraws: false,
            }],
            motion: Some(MotionRecord {
                text: "Adopt the plan".into(),
                proposer: ids[0],
                seconder: ids[1],
            }),
            votes: vec![(urn(120001), Choice::For), (urn(120002), Choice::Against)],
            casting_vote: Some(Choice::For),
            recorded_outcome: Some(Outcome::CarriedOnCastingVote),
            approves_minutes_of: None,
        }];
        first.elections = vec![ElectionRecord {
            office: Office::Chair,
            candidates: vec![ids[0], ids[1]],
            tie_rule: TieRule::Lot { seed: 123_456 },
            rounds: vec![ElectionRoundRecord {
                ballots: vec![(urn(120001), ids[0]), (urn(120002), ids[1])],
                chair_pick: Some(ids[1]),
            }],
            elected: Some(ids[0]),
        }];
        first.actions = vec![ActionRecord {
            text: "Send the plan".into(),
            owner: ids[1],
            due_on: day("2024-11-01"),
            done_on: Some(day("2024-10-30")),
        }];
        first.minutes_text = Some("Minutes".into());
        first.minutes_drafted_on = Some(day("2024-10-12"));
        first.distribution = vec![Distribution {
            school: urn(120001),
            sent_on: Some(day("2025-02-12")),
            received_on: Some(day("2025-02-13")),
            adopted_on: None,
        }];
        first.totals = MeetingTotals {
            held: true,
            quorate: true,
            schools_present: vec![urn(120001)],
            decisions_carried: 1,
        };
        let id = s.save_meeting(a, &first).await.unwrap();
        let loaded = s.meeting(a, id).await.unwrap().unwrap();
        let mut want = first.clone();
        want.id = Some(id);
        want.revision = 1;
        want.elections[0].candidates.sort();
        assert_eq!(loaded, want);
        assert!(s.meeting(b, id).await.unwrap().is_none(), "not B's meeting");
        // An older revision is refused, and nothing changes.
        let mut stale = loaded.clone();
        stale.revision = 0;
        stale.title = "Changed".into();
        assert!(matches!(s.save_meeting(a, &stale).await, Err(StoreError::Conflict(_))));
        assert_eq!(s.meeting(a, id).await.unwrap().unwrap().title, "Autumn");
        // A scheduled meeting approving the first's minutes; once its motion carries, the first is approved.
        let mut second = MeetingRecord::new(cluster, day("2025-02-10"), "Spring".into(), String::new());
        second.items = vec![AgendaItem {
            approves_minutes_of: Some(id),
            restricted: false,
            restricted_to: None,
            papers: vec![],
            declarations: vec![],
            recorded_outcome: None,
            ..first.items[0].clone()
        }];
        let id2 = s.save_meeting(a, &second).await.unwrap();
        assert_eq!(s.meeting(a, id).await.unwrap().unwrap().approved, None);
        let listed = s.cluster_meetings(a, cluster).await.unwrap();
        assert_eq!(
            listed.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![Some(id), Some(id2)]
        );
        // Health reads held meetings only: the scheduled one is not counted yet.
        let health = s.committees(a).await.unwrap();
        assert_eq!(health[0].state.meetings.len(), 1);
        assert_eq!(health[0].state.meetings[0].schools_present, vec![urn(120001)]);
        assert_eq!(
            health[0].holders[usize::try_from(health[0].state.chair.unwrap().0).unwrap()],
            "Pat"
        );
        let mut second = s.meeting(a, id2).await.unwrap().unwrap();
        second.items[0].recorded_outcome = Some(Outcome::Carried);
        second.attendance = first.attendance.clone();
        second.totals = MeetingTotals {
            held: true,
            quorate: false,
            schools_present: vec![],
            decisions_carried: 1,
        };
        s.save_meeting(a, &second).await.unwrap();
        let approved = s.meeting(a, id).await.unwrap().unwrap().approved.unwrap();
        assert_eq!(
            (approved.meeting, approved.held_on, approved.item),
            (id2, day("2025-02-10"), 1)
        );
        let health = s.committees(a).await.unwrap();
        assert_eq!(health[0].state.meetings.len(), 2);
        assert_eq!(health[0].state.meetings[0].minutes_approved_on, Some(day("2025-02-10")));
        assert_eq!(
            health[0].state.meetings[0].minutes_sent,
            vec![(urn(120001), Some(day("2025-02-12")))]
        );
        // A meeting may not approve another committee's minutes, nor name a stranger.
        let mut bad = MeetingRecord::new(cluster, day("2025-03-01"), "x".into(), String::new());
        bad.actions = vec![ActionRecord {
            owner: domain::ids::PersonId(9_999),
            ..first.actions[0].clone()
        }];
        assert!(matches!(s.save_meeting(a, &bad).await, Err(StoreError::NotFound(_))));
        assert!(matches!(s.save_meeting(b, &first).await, Err(StoreError::NotFound(_))));
        // The summary-only committee save leaves recorded meetings alone.
        let mut committee = s.committees(a).await.unwrap().remove(0);
        committee.state.meetings.clear();
        s.save_committee(a, &committee).await.unwrap();
        assert_eq!(s.cluster_meetings(a, cluster).await.unwrap().len(), 2);
    }
);

// ---- ledger ----

mod ledger_support {
    use super::*;
    use domain::funding::ledger::{EntryKind, Fence, Holder, NewEntry, simple_lines};
    use domain::money::Money;
    use service::ledger::LedgerPosting;

    /// Norfolk with the sample schools in one cluster ("North": 120001 host, 120002 feeder).
    pub async fn cluster(s: &dyn Store) -> (AuthorityId, ClusterId) {
        let a = norfolk(s).await;
        s.save_school_import(a, &sample()).await.unwrap();
        s.save_memberships(
            a,
            &[
                member(120001, "North", MembershipRole::Host),
                member(120002, "North", MembershipRole::Feeder),
            ],
            day("2023-09-01"),
            false,
        )
        .await
        .unwrap();
        (a, s.list_clusters(a, day("2024-01-01")).await.unwrap()[0].cluster.id)
    }

    pub fn admin() -> Fence {
        Fence::new("Cluster admin", "all").unwrap()
    }

    pub fn entry(kind: EntryKind, from: Holder, to: Option<Holder>, pence: i64) -> NewEntry {
        let f = admin();
        NewEntry {
            kind,
            date: day("2026-10-01"),
            memo: format!("{} of {pence}p", kind.code()),
            lines: simple_lines(kind, (&f, from), to.map(|h| (&f, h)), Money::from_pence(pence), false).unwrap(),
            approval: None,
            exception: None,
            joint_project: false,
            reverses: None,
        }
    }

    pub fn posting(cluster: ClusterId, key: &str, hash: &str, entry: NewEntry, expected_seq: i64) -> LedgerPosting {
        LedgerPosting {
            cluster,
            idempotency_key: key.into(),
            content_hash: hash.into(),
            entry,
            posted_by: UserId(1),
            posted_by_name: "Clerk".into(),
            posted_at: 1_700_000_000,
            expected_seq,
        }
    }
}

contract!(
    ledger_postings_are_exactly_once_and_balances_equal_the_journal,
    |s: store::SqlStore| async move {
        use domain::funding::ledger::{Balances, EntryKind, Holder};
        use ledger_support::*;
        use service::ledger::PostOutcome;
        let (a, c) = cluster(&s).await;
        let b = s.create_authority(la("801"), "Bristol").await.unwrap().id;
        s.ledger_durability().await.unwrap();
        let school = Holder::School(urn(120001));
        let receipt = entry(EntryKind::Receipt, Holder::Central, None, 500_000);
        let PostOutcome::Posted(first) = s
            .post_ledger_entry(a, &posting(c, "key-receipt", "h1", receipt.clone(), 0))
            .await
            .unwrap()
        else {
            panic!("not posted")
        };
        assert_eq!((first.seq, first.body.clone()), (1, receipt.clone()));
        // A retry with the same key and content returns the same entry and writes nothing.
        let again = s
            .post_ledger_entry(a, &posting(c, "key-receipt", "h1", receipt.clone(), 0))
            .await
            .unwrap();
        assert_eq!(again, PostOutcome::Replayed(first.clone()));
        // The same key with other content is a conflict.
        assert!(matches!(
            s.post_ledger_entry(a, &posting(c, "key-receipt", "h2", receipt.clone(), 1))
                .await,
            Err(StoreError::Conflict(_))
        ));
        // Judged against an old journal length: stale, nothing written.
        let alloc = entry(EntryKind::Allocation, Holder::Central, Some(school), 200_000);
        assert_eq!(
            s.post_ledger_entry(a, &posting(c, "key-alloc", "h3", alloc.clone(), 0))
                .await
                .unwrap(),
            PostOutcome::Stale
        );
        let PostOutcome::Posted(second) = s
            .post_ledger_entry(a, &posting(c, "key-alloc", "h3", alloc.clone(), 1))
            .await
            .unwrap()
        else {
            panic!("not posted")
        };
        assert_eq!(second.seq, 2);
        let found = s.ledger_entry_by_key(a, "key-alloc").await.unwrap().unwrap();
        assert_eq!(
            (found.cluster, found.content_hash.as_str(), &found.entry),
            (c, "h3", &second)
        );
        assert_eq!(s.ledger_entry(a, c, second.id).await.unwrap(), Some(second.clone()));

        // Balances equal the journal's sums.
        let snap = s.ledger_snapshot(a, c).await.unwrap();
        assert_eq!(snap.seq, 2);
        let journal = s.ledger_journal(a, c).await.unwrap();
        assert_eq!(journal, vec![first.clone(), second.clone()]);
        assert_eq!(
            snap.balances,
            Balances::from_journal(journal.iter().map(|e| &e.body)).unwrap()
        );
        assert_eq!(snap.balances.sum(), Some(0));

        // A reversal links to its original; a second reversal of it cannot land.
        let mut rev = domain::funding::ledger::reversal_entry(&second, day("2026-10-02"), "wrong school", None);
        let PostOutcome::Posted(reversal) = s
            .post_ledger_entry(a, &posting(c, "key-rev-1", "h4", rev.clone(), 2))
            .await
            .unwrap()
        else {
            panic!("not posted")
        };
        rev.memo = "again".into();
        assert_eq!(
            s.post_ledger_entry(a, &posting(c, "key-rev-2", "h5", rev, 3))
                .await
                .unwrap(),
            PostOutcome::Stale,
            "the database refuses a second reversal of one entry"
        );
        let journal = s.ledger_journal(a, c).await.unwrap();
        assert_eq!(journal[1].reversed_by, Some(reversal.id));
        assert_eq!(journal.len(), 3);
        let audit = s.ledger_audit(a).await.unwrap();
        assert!(audit.is_whole(), "{audit:?}");
        assert_eq!((audit.entries, audit.lines), (3, 6));

        // Another authority sees none of it and cannot post to it.
        assert!(s.ledger_entry_by_key(b, "key-alloc").await.unwrap().is_none());
        assert!(s.ledger_journal(b, c).await.unwrap().is_empty());
        assert!(s.ledger_entry(b, c, first.id).await.unwrap().is_none());
        assert_eq!(s.ledger_snapshot(b, c).await.unwrap().seq, 0);
        assert!(matches!(
            s.post_ledger_entry(b, &posting(c, "key-raid", "h6", receipt, 0)).await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(s.ledger_audit(b).await.unwrap().entries, 0);
    }
);

contract!(
    ledger_journal_pages_filter_and_facts_come_from_the_database,
    |s: store::SqlStore| async move {
        use domain::funding::ledger::{EntryKind, Holder};
        use ledger_support::*;
        use service::ledger::{JournalQuery, PostOutcome};
        let (a, c) = cluster(&s).await;
        let b = s.create_authority(la("801"), "Bristol").await.unwrap().id;
        let host = Holder::School(urn(120001));
        let feeder = Holder::School(urn(120002));
        assert_eq!(
            s.ledger_journal_facts(a, c).await.unwrap(),
            service::ledger::JournalFacts {
                reconciles: true,
                entries: 0,
                synthetic: false
            },
            "an empty journal reconciles"
        );
        // 1 receipt, then 6 allocations alternating host and feeder.
        let mut entries = Vec::new();
        for n in 0..7_i64 {
            let e = match n {
                0 => entry(EntryKind::Receipt, Holder::Central, None, 1_000_000),
                n if n % 2 == 1 => entry(EntryKind::Allocation, Holder::Central, Some(host), 10_000 * n),
                n => entry(EntryKind::Allocation, Holder::Central, Some(feeder), 10_000 * n),
            };
            let PostOutcome::Posted(done) = s
                .post_ledger_entry(a, &posting(c, &format!("key-{n}"), &format!("h{n}"), e, n))
                .await
                .unwrap()
            else {
                panic!("not posted")
            };
            entries.push(done);
        }
        let rev = domain::funding::ledger::reversal_entry(&entries[1], day("2026-10-02"), "wrong school", None);
        let PostOutcome::Posted(reversal) = s
            .post_ledger_entry(a, &posting(c, "key-rev", "h-rev", rev, 7))
            .await
            .unwrap()
        else {
            panic!("not posted")
        };
        let seqs = |p: &service::ledger::JournalPage| p.entries.iter().map(|e| e.entry.seq).collect::<Vec<_>>();

        // Newest first, a page at a time; the total counts every entry.
        let first = s.ledger_journal_page(a, c, &JournalQuery::newest(3)).await.unwrap();
        assert_eq!((first.total, seqs(&first)), (8, vec![8, 7, 6]));
        let last = JournalQuery {
            offset: 6,
            ..JournalQuery::newest(3)
        };
        let last = s.ledger_journal_page(a, c, &last).await.unwrap();
        assert_eq!((last.total, seqs(&last)), (8, vec![2, 1]));
        // Every line of an entry comes with it, and so do its key and reversal links.
        let top = &first.entries[0];
        assert_eq!(top.entry.body, reversal.body);
        assert_eq!(top.key, "key-rev");
        assert_eq!((top.reverses_seq, top.reversed_by_seq), (Some(2), None));
        let original = &last.entries[0];
        assert_eq!((original.key.as_str(), original.reversed_by_seq), ("key-1", Some(8)));
        assert_eq!(original.entry.body, entries[1].body);
        // Past the end: an empty page, the total still right.
        let beyond = JournalQuery {
            offset: 100,
            ..JournalQuery::newest(3)
        };
        let beyond = s.ledger_journal_page(a, c, &beyond).await.unwrap();
        assert_eq!((beyond.total, beyond.entries.len()), (8, 0));
        // In journal order (the API).
        let ordered = JournalQuery {
            newest_first: false,
            offset: 1,
            ..JournalQuery::newest(2)
        };
        assert_eq!(seqs(&s.ledger_journal_page(a, c, &ordered).await.unwrap()), vec![2, 3]);
        // Only entries touching one school: the feeder's three allocations.
        let feeder_only = JournalQuery {
            school: Some(urn(120002)),
            ..JournalQuery::newest(10)
        };
        let page = s.ledger_journal_page(a, c, &feeder_only).await.unwrap();
        assert_eq!((page.total, seqs(&page)), (3, vec![7, 5, 3]));
        let host_only = JournalQuery {
            school: Some(urn(120001)),
            ..JournalQuery::newest(2)
        };
        let page = s.ledger_journal_page(a, c, &host_only).await.unwrap();
        assert_eq!(
            (page.total, seqs(&page)),
            (4, vec![8, 6]),
            "the reversal touches the host"
        );
        // By key and by entry id.
        let by_key = JournalQuery {
            key: Some("key-4".into()),
            ..JournalQuery::newest(10)
        };
        let page = s.ledger_journal_page(a, c, &by_key).await.unwrap();
        assert_eq!((page.total, seqs(&page)), (1, vec![5]));
        let by_id = JournalQuery {
            entry: Some(entries[3].id),
            ..JournalQuery::newest(10)
        };
        assert_eq!(seqs(&s.ledger_journal_page(a, c, &by_id).await.unwrap()), vec![4]);
        let nowhere = JournalQuery {
            key: Some("no-such-key".into()),
            ..JournalQuery::newest(10)
        };
        assert_eq!(s.ledger_journal_page(a, c, &nowhere).await.unwrap().total, 0);
        // A page holds exactly what the whole journal holds there.
        let whole = s.ledger_journal(a, c).await.unwrap();
        let all = s.ledger_journal_page(a, c, &JournalQuery::newest(100)).await.unwrap();
        let mut paged: Vec<_> = all.entries.into_iter().map(|p| p.entry).collect();
        paged.reverse();
        assert_eq!(paged, whole);

        let facts = s.ledger_journal_facts(a, c).await.unwrap();
        assert_eq!(
            facts,
            service::ledger::JournalFacts {
                reconciles: true,
                entries: 8,
                synthetic: false
            }
        );
        // Another authority reads nothing of it.
        let raid = s.ledger_journal_page(b, c, &JournalQuery::newest(10)).await.unwrap();
        assert_eq!((raid.total, raid.entries.len()), (0, 0));
        assert_eq!(s.ledger_journal_facts(b, c).await.unwrap().entries, 0);
    }
);

/// The reconciliation is made in the database, so a kept balance changed behind the store's back
/// (with SQL the store never runs) is found there. SQLite only: the check is one statement that
/// the contract above already runs on both backends.
#[tokio::test]
async fn a_ledger_balance_changed_behind_the_stores_back_no_longer_reconciles() {
    use domain::funding::ledger::{EntryKind, Holder};
    use ledger_support::*;
    use service::ledger::PostOutcome;
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tamper.db");
    let s = store::connect(&path.display().to_string()).await.unwrap();
    let (a, c) = cluster(&s).await;
    let mut receipt = entry(EntryKind::Receipt, Holder::Central, None, 12_345);
    receipt.memo = "Receipt (synthetic)".into();
    assert!(matches!(
        s.post_ledger_entry(a, &posting(c, "k1", "h1", receipt, 0))
            .await
            .unwrap(),
        PostOutcome::Posted(_)
    ));
    let facts = s.ledger_journal_facts(a, c).await.unwrap();
    assert!(facts.reconciles && facts.synthetic && facts.entries == 1, "{facts:?}");

    let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let first = "(SELECT MIN(rowid) FROM ledger_balances)";
    // Someone adds a penny to one kept balance.
    sqlx::query(&format!(
        "UPDATE ledger_balances SET balance_pence = balance_pence + 1 WHERE rowid = {first}"
    ))
    .execute(&mut raw)
    .await
    .unwrap();
    assert!(!s.ledger_journal_facts(a, c).await.unwrap().reconciles);
    sqlx::query(&format!(
        "UPDATE ledger_balances SET balance_pence = balance_pence - 1 WHERE rowid = {first}"
    ))
    .execute(&mut raw)
    .await
    .unwrap();
    assert!(
        s.ledger_journal_facts(a, c).await.unwrap().reconciles,
        "put back, it reconciles"
    );
    // Someone deletes a balance row outright: the journal's lines have nothing to meet.
    sqlx::query(&format!("DELETE FROM ledger_balances WHERE rowid = {first}"))
        .execute(&mut raw)
        .await
        .unwrap();
    assert!(!s.ledger_journal_facts(a, c).await.unwrap().reconciles);
    raw.close().await.unwrap();
    s.close().await;
}

contract!(
    ledger_rules_exceptions_staff_and_horizons_round_trip,
    |s: store::SqlStore| async move {
        use domain::funding::ledger::{Fence, NewStaffPost};
        use domain::funding::virement::{NewException, Permit, VirementRule, VirementRules};
        use domain::money::Money;
        use ledger_support::*;
        let (a, c) = cluster(&s).await;
        let b = s.create_authority(la("801"), "Bristol").await.unwrap().id;
        assert_eq!(
            s.virement_rules(a).await.unwrap(),
            None,
            "the defaults until the authority keeps its own"
        );
        let p = Fence::new("Gifted and talented", "primary").unwrap();
        let q = Fence::new("Gifted and talented", "secondary").unwrap();
        let rules = VirementRules {
            rules: vec![
                VirementRule {
                    name: "LM".into(),
                    permit: Permit::AcrossPhasesOf {
                        stream: "Learning mentors and LSU".into(),
                    },
                },
                VirementRule {
                    name: "Joint".into(),
                    permit: Permit::JointProject,
                },
                VirementRule {
                    name: "G&T up".into(),
                    permit: Permit::Between {
                        from: p.clone(),
                        to: q.clone(),
                    },
                },
            ],
        };
        s.save_virement_rules(a, &rules).await.unwrap();
        assert_eq!(s.virement_rules(a).await.unwrap(), Some(rules));
        let none = VirementRules { rules: vec![] };
        s.save_virement_rules(a, &none).await.unwrap();
        assert_eq!(
            s.virement_rules(a).await.unwrap(),
            Some(none),
            "an empty list is kept as such"
        );
        assert_eq!(s.virement_rules(b).await.unwrap(), None);

        let x = NewException {
            from: p,
            to: q,
            amount: Money::from_pence(30_000),
            reason: "Summer school".into(),
            approver: "Head of school improvement".into(),
            approved_on: day("2026-09-20"),
        };
        let id = s.save_virement_exception(a, c, &x, UserId(1), 1).await.unwrap();
        let snap = s.ledger_snapshot(a, c).await.unwrap();
        assert_eq!(snap.exceptions.len(), 1);
        assert_eq!((snap.exceptions[0].id, &snap.exceptions[0].exception), (id, &x));
        assert_eq!(snap.exceptions[0].used_by, None);
        assert!(matches!(
            s.save_virement_exception(b, c, &x, UserId(1), 1).await,
            Err(StoreError::NotFound(_))
        ));

        let post = NewStaffPost {
            post: "Learning mentor".into(),
            school: Some(urn(120001)),
            fte_tenths: 10,
            annual_cost: Money::from_pence(2_600_000),
            fence: Fence::new("Learning mentors and LSU", "secondary").unwrap(),
            contract_start: day("2025-09-01"),
            contract_end: Some(day("2027-08-31")),
        };
        let sid = s.save_staff_post(a, c, &post).await.unwrap();
        let open_ended = NewStaffPost {
            contract_end: None,
            school: None,
            ..post.clone()
        };
        s.save_staff_post(a, c, &open_ended).await.unwrap();
        let posts = s.staff_posts(a, c).await.unwrap();
        assert_eq!(posts.len(), 2);
        assert_eq!((posts[0].id, &posts[0].post), (sid, &post));
        assert_eq!(posts[1].post, open_ended);
        assert!(s.staff_posts(b, c).await.unwrap().is_empty());
        assert!(s.save_staff_post(b, c, &post).await.is_err());

        s.set_ledger_horizon(a, c, "Learning mentors and LSU", day("2027-03-31"))
            .await
            .unwrap();
        s.set_ledger_horizon(a, c, "Learning mentors and LSU", day("2027-08-31"))
            .await
            .unwrap();
        assert_eq!(
            s.ledger_horizons(a, c).await.unwrap(),
            vec![("Learning mentors and LSU".to_string(), day("2027-08-31"))]
        );
        assert!(matches!(
            s.set_ledger_horizon(b, c, "X", day("2027-08-31")).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(s.ledger_horizons(b, c).await.unwrap().is_empty());
    }
);

// ---- casework ----

mod casework_fixtures {
    use super::*;
    use domain::casework::{Characteristics, EthnicGroup, Gender, NewPupil, PupilId, SenStatus, YearGroup};

    pub fn new_pupil(school: u32, upn_rest: &str, given: &str) -> NewPupil {
        let letter = domain::ids::Upn::check_letter(upn_rest.as_bytes()).unwrap();
        NewPupil {
            school: urn(school),
            upn: domain::ids::Upn::parse(&format!("{letter}{upn_rest}")).unwrap(),
            given_name: given.into(),
            family_name: "Example (synthetic)".into(),
            date_of_birth: day("2012-10-01"),
            year_group: YearGroup::new(7).unwrap(),
            characteristics: Characteristics {
                gender: Gender::Female,
                ethnicity: EthnicGroup::Mixed,
                fsm: true,
                sen: SenStatus::SenSupport,
                eal: false,
            },
            synthetic: true,
        }
    }

    pub async fn with_pupil(s: &store::SqlStore) -> (AuthorityId, AuthorityId, PupilId) {
        let a = norfolk(s).await;
        let b = s.create_authority(la("801"), "Bristol").await.unwrap().id;
        s.save_school_import(a, &sample()).await.unwrap();
        let p = s
            .save_pupil(a, &new_pupil(120001, "801200005001", "Ada"))
            .await
            .unwrap();
        (a, b, p)
    }
}

contract!(
    casework_pupils_strands_and_composition,
    |s: store::SqlStore| async move {
        use domain::casework::representation::{Composition, Group};
        use domain::privacy::Strand;
        use service::casework::CaseworkFilter;
        let (a, b, p) = casework_fixtures::with_pupil(&s).await;
        let all = s.pupils(a, &CaseworkFilter::default()).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].id, p);
        assert_eq!(all[0].given_name, "Ada");
        assert_eq!(all[0].characteristics.ethnicity, domain::casework::EthnicGroup::Mixed);
        assert!(all[0].synthetic && all[0].left_on.is_none());
        assert!(
            s.pupils(b, &CaseworkFilter::default()).await.unwrap().is_empty(),
            "tenancy"
        );
        assert!(
            s.pupils(a, &CaseworkFilter::school(urn(120002)))
                .await
                .unwrap()
                .is_empty()
        );
        // The same UPN twice at one school is a conflict, without the UPN in the message.
        match s
            .save_pupil(a, &casework_fixtures::new_pupil(120001, "801200005001", "Ada"))
            .await
        {
            Err(StoreError::Conflict(m)) => assert!(!m.contains("801200005001"), "{m}"),
            other => panic!("{other:?}"),
        }
        s.set_pupil_left(a, p, Some(day("2024-07-19"))).await.unwrap();
        assert_eq!(
            s.pupils(a, &CaseworkFilter::pupil(p)).await.unwrap()[0].left_on,
            Some(day("2024-07-19"))
        );
        assert!(matches!(
            s.set_pupil_left(b, p, None).await,
            Err(StoreError::NotFound(_))
        ));

        let user = s
            .create_user(NewUser {
                authority: a,
                email: "mentor@x.test".into(),
                display_name: "M".into(),
                role: UserRole::StrandStaff,
                scope: Scope::School(urn(120001)),
                password_hash: "h".into(),
            })
            .await
            .unwrap();
        s.set_strands(
            a,
            user.id,
            &[Strand::LearningMentor, Strand::GiftedTalented, Strand::LearningMentor],
        )
        .await
        .unwrap();
        assert_eq!(
            s.strands_of(a, user.id).await.unwrap(),
            vec![Strand::GiftedTalented, Strand::LearningMentor]
        );
        assert!(matches!(
            s.set_strands(b, user.id, &[]).await,
            Err(StoreError::NotFound(_))
        ));

        let c = Composition {
            pupils: 900,
            groups: vec![(Group::Girls, 450), (Group::Boys, 450), (Group::Fsm, 120)],
        };
        s.save_composition(a, urn(120001), &c, true).await.unwrap();
        s.save_composition(a, urn(120001), &c, true).await.unwrap();
        assert_eq!(s.composition(a, urn(120001)).await.unwrap(), Some((c, true)));
        assert_eq!(s.composition(b, urn(120001)).await.unwrap(), None);
    }
);

contract!(casework_records_round_trip, |s: store::SqlStore| async move {
    use domain::casework::gt::{Evidence, GtEntry, GtKind};
    use domain::casework::lsu::{LsuMode, LsuPlacement, Measures};
    use domain::casework::mentor::{Mentor, MentorBase, MentorCase, MentorPolicy, Outcome, Referral, ReferralReason};
    use domain::casework::transition::{Flag, Receiving, TransitionKind, TransitionRecord};
    use domain::casework::{GtEntryId, MentorId, PlacementId, TransitionId, YearGroup};
    use service::casework::CaseworkFilter;
    let (a, b, p) = casework_fixtures::with_pupil(&s).await;
    let school = urn(120001);

    let mut entry = GtEntry {
        id: GtEntryId(0),
        pupil: p,
        school,
        academic_year: 2024,
        year_group: YearGroup::new(7).unwrap(),
        kind: GtKind::Talented,
        reserve: false,
        evidence: vec![Evidence::StaffNomination, Evidence::NationalCriteria],
        domain: "music".into(),
        identified_on: day("2024-10-01"),
        told_on: None,
        enrichment: vec!["County youth orchestra".into(), "Saturday school".into()],
        removed_on: None,
    };
    entry.id = s.save_gt_entry(a, &entry).await.unwrap();
    entry.told_on = Some(day("2024-10-08"));
    assert_eq!(s.save_gt_entry(a, &entry).await.unwrap(), entry.id);
    assert_eq!(
        s.gt_entries(a, &CaseworkFilter::pupil(p)).await.unwrap(),
        vec![entry.clone()]
    );
    assert!(s.gt_entries(b, &CaseworkFilter::default()).await.unwrap().is_empty());
    assert!(
        matches!(s.save_gt_entry(b, &entry).await, Err(StoreError::NotFound(_))),
        "not B's pupil"
    );
    let elsewhere = GtEntry {
        id: GtEntryId(0),
        school: urn(120002),
        ..entry.clone()
    };
    assert!(
        matches!(s.save_gt_entry(a, &elsewhere).await, Err(StoreError::NotFound(_))),
        "pupil is at another school"
    );

    let mentor = Mentor {
        id: MentorId(0),
        name: "Sam Mentor (synthetic)".into(),
        base: MentorBase::School(school),
        fte_tenths: 10,
    };
    let m = s.save_mentor(a, &mentor).await.unwrap();
    let pool = Mentor {
        id: MentorId(0),
        name: "Pool mentor".into(),
        base: MentorBase::Pool("North pool".into()),
        fte_tenths: 5,
    };
    s.save_mentor(a, &pool).await.unwrap();
    assert_eq!(s.mentors(a).await.unwrap().len(), 2);
    assert!(s.mentors(b).await.unwrap().is_empty());

    let policy = MentorPolicy::default();
    let mut case = MentorCase::refer(
        Referral {
            pupil: p,
            school,
            mentor: Some(m),
            referred_on: day("2024-09-16"),
            referred_by: "Head of Year 7".into(),
            reason: ReferralReason::Wellbeing,
            note: "Quiet since summer".into(),
        },
        day("2024-09-20"),
    )
    .unwrap();
    case.id = s.save_mentor_case(a, &case).await.unwrap();
    case.agree_plan(
        &["Join a club".into(), "Weekly check-in".into()],
        "Fortnightly, then stop",
        day("2024-09-23"),
        &policy,
    )
    .unwrap();
    case.log_session(day("2024-09-30"), 30, "Talked about clubs").unwrap();
    case.log_session(day("2024-10-07"), 25, "Went to chess club").unwrap();
    case.review(
        day("2024-11-04"),
        Outcome::Met,
        "Settled",
        Some(day("2025-01-13")),
        None,
        &policy,
    )
    .unwrap();
    s.save_mentor_case(a, &case).await.unwrap();
    s.save_mentor_case(a, &case).await.unwrap(); // replacing never duplicates children
    assert_eq!(
        s.mentor_cases(a, &CaseworkFilter::id(case.id.0)).await.unwrap(),
        vec![case.clone()]
    );
    assert_eq!(
        s.mentor_cases(a, &CaseworkFilter::school(school)).await.unwrap().len(),
        1
    );
    assert!(
        s.mentor_cases(a, &CaseworkFilter::school(urn(120002)))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.mentor_cases(b, &CaseworkFilter::default()).await.unwrap().is_empty());
    assert!(matches!(
        s.save_mentor_case(b, &case).await,
        Err(StoreError::NotFound(_))
    ));

    let mut placement = LsuPlacement {
        id: PlacementId(0),
        pupil: p,
        school,
        referred_on: day("2024-09-10"),
        stages_met: 3,
        starts_on: day("2024-09-23"),
        planned_end: day("2025-02-14"),
        mode: LsuMode::PartTime { sessions_per_week: 4 },
        agreed_with_pupil: true,
        agreed_with_parent: true,
        reintegration_plan: "Maths first".into(),
        supported_lessons: 8,
        before: Measures {
            attendance_tenths_pct: Some(853),
            exclusions: 2,
            incidents: 9,
        },
        during: Measures {
            attendance_tenths_pct: None,
            exclusions: 0,
            incidents: 1,
        },
        after: None,
        ended_on: None,
    };
    placement.id = s.save_lsu_placement(a, &placement).await.unwrap();
    placement.after = Some(Measures {
        attendance_tenths_pct: Some(951),
        exclusions: 0,
        incidents: 0,
    });
    placement.mode = LsuMode::FullTime;
    placement.ended_on = Some(day("2025-02-14"));
    assert_eq!(
        s.save_lsu_placement(a, &placement).await.unwrap(),
        placement.id,
        "replacing keeps the id"
    );
    assert_eq!(
        s.lsu_placements(a, &CaseworkFilter::pupil(p)).await.unwrap(),
        vec![placement.clone()]
    );
    assert!(
        s.lsu_placements(b, &CaseworkFilter::default())
            .await
            .unwrap()
            .is_empty()
    );

    let mut t = TransitionRecord {
        id: TransitionId(0),
        pupil: p,
        from: school,
        to: Receiving::School(urn(120002)),
        kind: TransitionKind::MidYear,
        flags: vec![Flag::GtRegister, Flag::Mentee],
        note: "Loves music".into(),
        sent_on: day("2025-03-01"),
        acknowledged: None,
    };
    t.id = s.save_transition(a, &t).await.unwrap();
    t.acknowledge(day("2025-03-03"), "Head of Year 7").unwrap();
    s.save_transition(a, &t).await.unwrap();
    // A school filter finds it at the sending and at the receiving school.
    assert_eq!(
        s.transitions(a, &CaseworkFilter::school(urn(120002))).await.unwrap(),
        vec![t.clone()]
    );
    assert_eq!(
        s.transitions(a, &CaseworkFilter::school(school)).await.unwrap().len(),
        1
    );
    assert!(
        s.transitions(a, &CaseworkFilter::school(urn(120003)))
            .await
            .unwrap()
            .is_empty()
    );
    let outside = TransitionRecord {
        id: TransitionId(0),
        to: Receiving::Outside {
            name: "Suffolk High School".into(),
        },
        acknowledged: None,
        ..t.clone()
    };
    let o = s.save_transition(a, &outside).await.unwrap();
    assert_eq!(
        s.transitions(a, &CaseworkFilter::id(o.0)).await.unwrap()[0].to,
        Receiving::Outside {
            name: "Suffolk High School".into()
        }
    );
});

contract!(
    casework_audit_chain_and_retention_deletion,
    |s: store::SqlStore| async move {
        use domain::casework::gt::{Evidence, GtEntry, GtKind};
        use domain::casework::{GtEntryId, YearGroup};
        use domain::privacy::audit::{AuditRecord, ChainStatus, Outcome, verify_chain};
        use domain::privacy::{Action, Resource};
        use service::casework::{AuditQuery, CaseworkFilter, RetentionDeletion};
        let (a, b, p) = casework_fixtures::with_pupil(&s).await;
        let record = |n: i64, who: &str| AuditRecord {
            at: 1_700_000_000 + n,
            user: UserId(n),
            user_email: who.into(),
            role: "strand_staff".into(),
            action: Action::Read,
            resource: Resource::MentorCase,
            pupil: (n % 2 == 0).then_some(p),
            school: Some(urn(120001)),
            purpose: "mentor case work".into(),
            outcome: Outcome::Allowed,
            detail: format!("case {n}"),
        };
        let first = s.append_audit(a, &[record(1, "one@x.test")]).await.unwrap();
        assert_eq!(first[0].seq, 1);
        let more = s
            .append_audit(
                a,
                &[
                    record(2, "two@x.test"),
                    record(3, "one@x.test"),
                    record(4, "Two@x.test"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(more.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!(more[0].prev_hash, first[0].hash);
        s.append_audit(b, &[record(9, "b@x.test")]).await.unwrap();
        let all = s.audit_entries(a, &AuditQuery::default()).await.unwrap();
        assert_eq!(all.len(), 4);
        assert!(matches!(verify_chain(&all), ChainStatus::Intact { entries: 4, .. }));
        assert_eq!(all[3].record, record(4, "Two@x.test"));
        let about_p = s
            .audit_entries(
                a,
                &AuditQuery {
                    pupil: Some(p),
                    user_email: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(about_p.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 4]);
        let by_two = s
            .audit_entries(
                a,
                &AuditQuery {
                    pupil: None,
                    user_email: Some("two@x.test".into()),
                },
            )
            .await
            .unwrap();
        assert_eq!(by_two.len(), 2, "e-mail matched case-insensitively");
        let bs = s.audit_entries(b, &AuditQuery::default()).await.unwrap();
        assert_eq!((bs.len(), bs[0].seq), (1, 1), "each authority has its own chain");

        let entry = GtEntry {
            id: GtEntryId(0),
            pupil: p,
            school: urn(120001),
            academic_year: 2020,
            year_group: YearGroup::new(7).unwrap(),
            kind: GtKind::Gifted,
            reserve: false,
            evidence: vec![Evidence::TestData],
            domain: "maths".into(),
            identified_on: day("2020-10-01"),
            told_on: None,
            enrichment: vec![],
            removed_on: Some(day("2021-07-01")),
        };
        let e = s.save_gt_entry(a, &entry).await.unwrap();
        // The pupil cannot go while a record of theirs remains; nothing is half-deleted.
        let both = RetentionDeletion {
            pupils: vec![p],
            ..RetentionDeletion::default()
        };
        assert!(matches!(
            s.delete_casework(a, &both).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(s.gt_entries(a, &CaseworkFilter::default()).await.unwrap().len(), 1);
        // Another authority's deletion touches nothing.
        let wrong = RetentionDeletion {
            gt_entries: vec![e],
            ..RetentionDeletion::default()
        };
        s.delete_casework(b, &wrong).await.unwrap();
        assert_eq!(s.gt_entries(a, &CaseworkFilter::default()).await.unwrap().len(), 1);
        let all_of_it = RetentionDeletion {
            pupils: vec![p],
            gt_entries: vec![e],
            ..RetentionDeletion::default()
        };
        s.delete_casework(a, &all_of_it).await.unwrap();
        assert!(s.pupils(a, &CaseworkFilter::default()).await.unwrap().is_empty());
        assert!(s.gt_entries(a, &CaseworkFilter::default()).await.unwrap().is_empty());
        // The audit log stays whole.
        assert!(matches!(
            verify_chain(&s.audit_entries(a, &AuditQuery::default()).await.unwrap()),
            ChainStatus::Intact { entries: 4, .. }
        ));
    }
);

// ---- evaluation ----

/// Norfolk with the sample schools in one cluster "North", and Bristol with none.
async fn evaluation_setup(s: &store::SqlStore) -> (AuthorityId, AuthorityId, ClusterId) {
    let a = norfolk(s).await;
    let b = s.create_authority(la("801"), "Bristol").await.unwrap().id;
    s.save_school_import(a, &sample()).await.unwrap();
    s.save_memberships(
        a,
        &[
            member(120001, "North", MembershipRole::Host),
            member(120002, "North", MembershipRole::Feeder),
        ],
        day("2023-09-01"),
        false,
    )
    .await
    .unwrap();
    let cluster = s.list_clusters(a, day("2024-01-01")).await.unwrap()[0].cluster.id;
    (a, b, cluster)
}

contract!(
    evaluation_metrics_keep_symbols_and_replace_by_key,
    |s: store::SqlStore| async move {
        use domain::evaluation::metrics::{
            Catalogue, MeasureDef, MetricRecord, Number, Observation, Place, Unit, default_measures, parse,
        };
        use domain::evaluation::{AcademicYear, PupilGroup};
        let (a, b, _) = evaluation_setup(&s).await;
        let mut catalogue = Catalogue::new(default_measures());
        catalogue.accept_unknown = true;
        let file = "time_period,geographic_level,school_urn,measure,group,value\n\
                    202223,School,120001,ks2_rwm_expected,all,61.25\n\
                    202223,School,120001,ks2_rwm_expected,fsm,c\n\
                    202223,School,120002,ks2_rwm_expected,all,low\n\
                    202223,National,,ks2_rwm_expected,all,59\n\
                    202122,School,120001,reading_gain,all,-0.5\n";
        let rows = parse(file.as_bytes(), &catalogue).unwrap().rows;
        let new = [MeasureDef::unknown("reading_gain")];
        assert_eq!(s.save_metrics(a, &rows, &new).await.unwrap(), 5);
        let held = s.metric_values(a, None).await.unwrap();
        let strip = |v: Vec<MetricRecord>| v.into_iter().map(|r| MetricRecord { line: 0, ..r }).collect::<Vec<_>>();
        let mut want = strip(rows.clone());
        want.sort_by(|x, y| (&x.measure, x.group, x.period, x.place).cmp(&(&y.measure, y.group, y.period, y.place)));
        let mut got = held.clone();
        got.sort_by(|x, y| (&x.measure, x.group, x.period, x.place).cmp(&(&y.measure, y.group, y.period, y.place)));
        assert_eq!(got, want);
        assert!(held.iter().any(|r| r.value == Observation::Suppressed));
        assert!(
            held.iter()
                .any(|r| r.value == Observation::Low && r.place == Place::School(urn(120002)))
        );
        assert!(held.iter().any(|r| r.place == Place::National));
        assert_eq!(s.extra_measures(a).await.unwrap()[0].unit, Unit::Score);
        // Saving the same key again replaces its value; other authorities see nothing.
        let again = MetricRecord {
            line: 2,
            period: AcademicYear::parse("202223").unwrap(),
            place: Place::School(urn(120001)),
            measure: "ks2_rwm_expected".into(),
            group: PupilGroup::Fsm,
            value: Observation::Value(Number::parse("40").unwrap()),
        };
        s.save_metrics(a, std::slice::from_ref(&again), &new).await.unwrap();
        let one = s.metric_values(a, Some("ks2_rwm_expected")).await.unwrap();
        assert_eq!(one.len(), 4);
        assert!(one.contains(&MetricRecord { line: 0, ..again }));
        assert!(s.metric_values(b, None).await.unwrap().is_empty());
        assert!(s.extra_measures(b).await.unwrap().is_empty());
    }
);

contract!(
    evaluation_plans_reports_and_questionnaires_round_trip,
    |s: store::SqlStore| async move {
        use domain::evaluation::fade::{Calendar, Judgement, Report};
        use domain::evaluation::kappa::Scale;
        use domain::evaluation::metrics::Number;
        use domain::evaluation::plan::{Activity, Plan, Priority};
        use domain::evaluation::questionnaire::{Questionnaire, Response};
        use domain::evaluation::targets::{Target, TargetLevel};
        use domain::evaluation::{AcademicYear, PupilGroup};
        use domain::money::Money;
        use service::evaluation::EvaluationSettings;
        let (a, b, cluster) = evaluation_setup(&s).await;
        let year = AcademicYear::parse("202425").unwrap();
        let mut plan = Plan::new(cluster, year);
        plan.priorities.push(Priority {
            title: "Close the FSM gap".into(),
            detail: "In reading, Years 3 to 6".into(),
        });
        plan.activities.push(Activity {
            title: "Reading recovery".into(),
            priority: 0,
            lead_school: urn(120001),
            strand: "tailored".into(),
            participating: vec![urn(120001), urn(120002)],
            funding_stream: "Tailored (primary)".into(),
            budget: Money::from_pence(1_234_567),
            starts_on: day("2024-09-01"),
            ends_on: day("2025-07-18"),
            success_criteria: "Up 5 points".into(),
            measure: Some("ks2_rwm_expected".into()),
        });
        plan.targets.push(Target {
            measure: "ks2_rwm_expected".into(),
            group: PupilGroup::Fsm,
            level: TargetLevel::School(urn(120001)),
            baseline: Number::parse("48.5").unwrap(),
            baseline_year: AcademicYear::parse("202223").unwrap(),
            target: Number::parse("55").unwrap(),
            target_year: year,
        });
        plan.targets.push(Target {
            level: TargetLevel::Cluster,
            ..plan.targets[0].clone()
        });
        s.save_plan(a, &plan).await.unwrap();
        s.save_plan(a, &plan).await.unwrap(); // saved whole: never duplicated
        assert_eq!(s.plan(a, cluster, year).await.unwrap(), Some(plan.clone()));
        assert_eq!(s.plans(a, year).await.unwrap(), vec![plan.clone()]);
        assert_eq!(s.plan(a, cluster, year.next()).await.unwrap(), None);
        assert!(matches!(s.save_plan(b, &plan).await, Err(StoreError::NotFound(_))));
        assert_eq!(s.plan(b, cluster, year).await.unwrap(), None);
        plan.targets.pop();
        s.save_plan(a, &plan).await.unwrap();
        assert_eq!(s.plan(a, cluster, year).await.unwrap().unwrap().targets.len(), 1);

        let mut report = Report::new(cluster, day("2024-12-31"));
        report.focus = "Reading".into();
        report.cluster_judgement = Some(Judgement {
            level: "Strong".into(),
            by: "Clerk".into(),
            on: day("2024-12-10"),
            comment: String::new(),
        });
        s.save_fade_report(a, &report).await.unwrap();
        report.authority_judgement = Some(Judgement {
            level: "Satisfactory".into(),
            by: "Adviser".into(),
            on: day("2025-01-10"),
            comment: "Evidence thin".into(),
        });
        s.save_fade_report(a, &report).await.unwrap();
        assert_eq!(s.fade_reports(a, Some(cluster)).await.unwrap(), vec![report.clone()]);
        assert_eq!(s.fade_reports(a, None).await.unwrap().len(), 1);
        assert!(s.fade_reports(b, None).await.unwrap().is_empty());
        assert!(matches!(
            s.save_fade_report(b, &report).await,
            Err(StoreError::NotFound(_))
        ));

        let q = Questionnaire {
            id: 0,
            cluster,
            title: "Spring review".into(),
            sent_on: day("2025-01-06"),
            closes_on: day("2025-02-07"),
            schools: vec![urn(120002), urn(120001)],
        };
        let id = s.create_questionnaire(a, &q).await.unwrap();
        let held = s.questionnaires(a).await.unwrap();
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].schools, vec![urn(120001), urn(120002)]);
        assert!(s.questionnaires(b).await.unwrap().is_empty());
        let answer = Response {
            school: urn(120001),
            answers: vec![
                Some(2),
                None,
                Some(3),
                Some(1),
                Some(2),
                Some(2),
                Some(2),
                Some(2),
                Some(0),
            ],
            comment: "Good partnership".into(),
            submitted_on: day("2025-01-20"),
        };
        s.save_questionnaire_response(a, id, &answer).await.unwrap();
        s.save_questionnaire_response(a, id, &answer).await.unwrap();
        assert_eq!(s.questionnaire_responses(a, id).await.unwrap(), vec![answer.clone()]);
        let stranger = Response {
            school: urn(120003),
            ..answer.clone()
        };
        assert!(matches!(
            s.save_questionnaire_response(a, id, &stranger).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.save_questionnaire_response(b, id, &answer).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(s.questionnaire_responses(b, id).await.unwrap().is_empty());

        assert_eq!(s.evaluation_settings(a).await.unwrap(), None);
        let settings = EvaluationSettings {
            calendar: Calendar::parse("12-15, 03-31, 07-15").unwrap(),
            scale: Scale::parse("Weak < Adequate < Good").unwrap(),
            redirect_after_terms: 4,
            suppression_threshold: 10,
            metrics_note: Some("synthetic".into()),
        };
        s.save_evaluation_settings(a, &settings).await.unwrap();
        s.save_evaluation_settings(a, &settings).await.unwrap();
        assert_eq!(s.evaluation_settings(a).await.unwrap(), Some(settings));
        assert_eq!(s.evaluation_settings(b).await.unwrap(), None);
    }
);

contract!(
    api_tokens_act_as_their_user_until_revoked_or_expired,
    |s: store::SqlStore| async move {
        use service::store::NewApiToken;
        let a = norfolk(&s).await;
        let user = s
            .create_user(NewUser {
                authority: a,
                email: "api@example.org".into(),
                display_name: "Api".into(),
                role: UserRole::Adviser,
                scope: Scope::Authority,
                password_hash: "$argon2id$fake".into(),
            })
            .await
            .unwrap();
        let id = s
            .create_api_token(&NewApiToken {
                token_hash: "h1".into(),
                user: user.id,
                label: "label".into(),
                created_at: 10,
                expires_at: 1_000,
                access: TokenAccess::ReadWrite,
            })
            .await
            .unwrap();
        assert_eq!(
            s.api_token_user("h1", 999).await.unwrap(),
            Some(TokenHolder {
                user: user.clone(),
                access: TokenAccess::ReadWrite
            })
        );
        // A read-only token says so.
        let reader = s
            .create_api_token(&NewApiToken {
                token_hash: "r1".into(),
                user: user.id,
                label: "reader".into(),
                created_at: 10,
                expires_at: 1_000,
                access: TokenAccess::ReadOnly,
            })
            .await
            .unwrap();
        assert_eq!(
            s.api_token_user("r1", 999).await.unwrap().map(|h| h.access),
            Some(TokenAccess::ReadOnly)
        );
        assert_eq!(
            s.api_token_user("h1", 1_000).await.unwrap(),
            None,
            "expired at its time"
        );
        assert_eq!(s.api_token_user("h2", 999).await.unwrap(), None);
        // The hash is unique.
        let again = s
            .create_api_token(&NewApiToken {
                token_hash: "h1".into(),
                user: user.id,
                label: String::new(),
                created_at: 11,
                expires_at: 1_000,
                access: TokenAccess::ReadWrite,
            })
            .await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        assert!(s.revoke_api_token(id, 20).await.unwrap());
        assert!(!s.revoke_api_token(id, 21).await.unwrap(), "revoked once");
        assert_eq!(s.api_token_user("h1", 30).await.unwrap(), None);
        let listed = s.api_tokens().await.unwrap();
        assert_eq!(
            listed.iter().map(|t| (t.id, t.access)).collect::<Vec<_>>(),
            [(reader, TokenAccess::ReadOnly), (id, TokenAccess::ReadWrite)],
            "newest first"
        );
        assert_eq!(
            (
                listed[1].id,
                listed[1].revoked_at,
                listed[1].expires_at,
                listed[1].label.as_str()
            ),
            (id, Some(20), 1_000, "label")
        );
        assert_eq!(listed[1].user, user);
    }
);

// ---- the register revision (what the service's snapshot is keyed on) ----

contract!(
    register_revision_moves_with_every_register_change_and_only_then,
    |s: store::SqlStore| async move {
        use domain::funding::Period;
        use service::policies::{InForce, NewPolicyVersion};
        let rev = || async { s.register_revision().await.unwrap().unwrap() };
        let mut last = rev().await;
        let mut moved = |what: &str, now: i64| {
            assert!(now > last, "{what} did not move the revision ({last} -> {now})");
            last = now;
        };
        let a = norfolk(&s).await;
        moved("a new authority", rev().await);
        s.save_school_import(a, &sample()).await.unwrap();
        moved("a school import", rev().await);
        s.save_memberships(
            a,
            &[member(120001, "North", MembershipRole::Host)],
            day("2023-09-01"),
            false,
        )
        .await
        .unwrap();
        moved("a membership file", rev().await);
        let v = s
            .save_policy_version(
                a,
                &NewPolicyVersion {
                    policy: None,
                    name: "Admin".into(),
                    body: "name = \"Admin\"\n".into(),
                    note: String::new(),
                    saved_by: "Officer".into(),
                    saved_at: 1_700_000_000,
                },
            )
            .await
            .unwrap();
        moved("a policy version", rev().await);
        s.set_policy_in_force(
            a,
            &InForce {
                period: Period::AcademicYear(2026),
                version: v.id,
                marked_by: "Officer".into(),
                marked_at: 1_700_000_100,
            },
        )
        .await
        .unwrap();
        moved("a policy put in force", rev().await);

        // Reads, users and sessions leave it where it is.
        let before = rev().await;
        s.all_schools(a).await.unwrap();
        s.list_clusters(a, day("2024-01-01")).await.unwrap();
        let u = s
            .create_user(NewUser {
                authority: a,
                email: "pat@example.org".into(),
                display_name: "Pat".into(),
                role: UserRole::AuthorityOfficer,
                scope: Scope::Authority,
                password_hash: "$argon2id$fake".into(),
            })
            .await
            .unwrap();
        s.create_session(&SessionRecord {
            token_hash: "h".repeat(64),
            user: u.id,
            csrf_token: "c".into(),
            created_at: 1,
            expires_at: 2,
        })
        .await
        .unwrap();
        assert_eq!(rev().await, before, "reads, users and sessions moved the revision");
    }
);

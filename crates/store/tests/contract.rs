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
use service::store::{NewUser, SchoolPage, SchoolQuery, SchoolSort, SessionRecord, Store, StoreError};
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

//! The register snapshot (what most pages read, kept in memory while the store's register
//! revision stands still), on the real Norfolk demo: the school list it answers from memory is
//! the store's query row for row, and a change made through another connection (as another
//! process would) is seen at the next read.
#![allow(clippy::unwrap_used)]

use domain::access::{User, UserRole};
use domain::cluster::MembershipRole;
use domain::import::MembershipRecord;
use domain::school::Phase;
use service::store::{SchoolQuery, SchoolSort};
use service::{FixedClock, Service};
use std::sync::Arc;

/// 2026-12-01T12:00:00Z.
const NOW: i64 = 1_796_126_400;

const NORFOLK: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/real/norfolk_schools_spc_2022_23.csv"
));

async fn officer(service: &Service, accounts: &[service::demo::DemoAccount]) -> User {
    let a = accounts.iter().find(|a| a.role == UserRole::AuthorityOfficer).unwrap();
    let signed = service.sign_in(&a.email, &a.password).await.unwrap();
    service.session(&signed.token).await.unwrap().unwrap().user
}

#[tokio::test]
async fn the_school_list_from_memory_is_the_stores_query_row_for_row() {
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(FixedClock(NOW)));
    let summary = service.build_demo(NORFOLK).await.unwrap();
    let user = officer(&service, &summary.accounts).await;
    let today = service.clock().today();
    let district = service.districts(&user).await.unwrap()[0].clone();
    let cluster = service.clusters(&user).await.unwrap()[3].cluster.id;

    let mut queries = Vec::new();
    for sort in [
        SchoolSort::Name,
        SchoolSort::Urn,
        SchoolSort::Pupils,
        SchoolSort::FsmPct,
        SchoolSort::District,
    ] {
        for descending in [false, true] {
            for offset in [0, 50, 400, 10_000] {
                queries.push(SchoolQuery {
                    sort,
                    descending,
                    offset,
                    limit: Some(50),
                    ..SchoolQuery::default()
                });
            }
        }
    }
    for search in [
        "", "primary", "PRIMARY", "nr", "pe30 4", "1365", "926", "st ", "'s", "%", "_", "zzz",
    ] {
        for phase in [None, Some(Phase::Primary), Some(Phase::Secondary)] {
            for (district, cluster) in [(None, None), (Some(district.clone()), None), (None, Some(cluster))] {
                queries.push(SchoolQuery {
                    search: (!search.is_empty()).then(|| search.to_string()),
                    phase,
                    district: district.clone(),
                    cluster,
                    sort: SchoolSort::Pupils,
                    descending: true,
                    limit: Some(1000),
                    ..SchoolQuery::default()
                });
            }
        }
    }
    let mut nonempty = 0;
    for q in &queries {
        let from_memory = service.list_schools(&user, q).await.unwrap();
        let mut dated = q.clone();
        dated.on = Some(today);
        let from_store = service.store().list_schools(user.authority, &dated).await.unwrap();
        assert_eq!(from_memory, from_store, "{q:?}");
        nonempty += usize::from(!from_memory.rows.is_empty());
    }
    assert!(
        nonempty > queries.len() / 2,
        "too few queries found anything to compare"
    );
}

#[tokio::test]
async fn a_change_made_through_another_connection_is_seen_at_the_next_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("two.db").display().to_string();
    let a = Service::new(Arc::new(store::connect(&db).await.unwrap()), Arc::new(FixedClock(NOW)));
    let summary = a.build_demo(NORFOLK).await.unwrap();
    let user = officer(&a, &summary.accounts).await;
    // Another process: its own pool on the same file.
    let b = Service::new(Arc::new(store::connect(&db).await.unwrap()), Arc::new(FixedClock(NOW)));

    let clusters = a.clusters(&user).await.unwrap();
    let (from, to) = (&clusters[0], &clusters[1]);
    let moving = a
        .cluster(&user, from.cluster.id)
        .await
        .unwrap()
        .members
        .into_iter()
        .find(|(_, role, _)| *role != MembershipRole::Host)
        .unwrap()
        .0
        .school
        .urn;
    let statement = a.school_statement(&user, moving).await.unwrap().unwrap();
    assert_eq!(statement.allocation.cluster, from.cluster.id);
    // Read again: from memory, the same.
    assert_eq!(a.clusters(&user).await.unwrap(), clusters);

    b.store()
        .save_memberships(
            user.authority,
            &[MembershipRecord {
                line: 2,
                urn: moving,
                cluster: to.cluster.name.clone(),
                role: MembershipRole::Feeder,
            }],
            a.clock().today(),
            true,
        )
        .await
        .unwrap();

    let after = a.clusters(&user).await.unwrap();
    let count = |list: &[service::store::ClusterSummary], id| list.iter().find(|c| c.cluster.id == id).unwrap().schools;
    assert_eq!(count(&after, from.cluster.id), from.schools - 1);
    assert_eq!(count(&after, to.cluster.id), to.schools + 1);
    let detail = a.cluster(&user, to.cluster.id).await.unwrap();
    assert!(detail.members.iter().any(|(s, ..)| s.school.urn == moving));
    let statement = a.school_statement(&user, moving).await.unwrap().unwrap();
    assert_eq!(
        statement.allocation.cluster, to.cluster.id,
        "the statement follows the move"
    );
    let listed = a
        .list_schools(
            &user,
            &SchoolQuery {
                cluster: Some(to.cluster.id),
                limit: Some(1000),
                ..SchoolQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(listed.rows.iter().any(|r| r.school.school.urn == moving));
}

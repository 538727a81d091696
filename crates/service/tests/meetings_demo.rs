//! The demo's committees on the real Norfolk census: every demo cluster has a committee with a
//! term of meetings recorded in full, and the governance health view shows a realistic mix.
#![allow(clippy::unwrap_used)]

use domain::governance::health::Rag;
use service::{FixedClock, Service};
use std::sync::Arc;

async fn demo(now: i64) -> Service {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/real/norfolk_schools_spc_2022_23.csv");
    let bytes = std::fs::read(&path).unwrap();
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(FixedClock(now)));
    service.build_demo(&bytes).await.unwrap();
    service
}

#[tokio::test]
async fn every_demo_cluster_has_a_committee_with_a_term_of_meetings_and_health_is_mixed() {
    // 1 December 2026, in the autumn term.
    let service = demo(1_796_126_400).await;
    let (officer, _) = service
        .store()
        .user_credentials("officer@demo.clusterwise.test")
        .await
        .unwrap()
        .unwrap();
    let rows = service.governance_health(&officer).await.unwrap();
    assert!(rows.len() > 40, "{} clusters", rows.len());
    let count = |rag| rows.iter().filter(|r| r.health.rag == rag).count();
    let (red, amber, green) = (count(Rag::Red), count(Rag::Amber), count(Rag::Green));
    assert!(
        red >= 3 && amber >= 5 && green >= 5,
        "red {red}, amber {amber}, green {green}"
    );
    assert!(
        rows.iter().all(|r| r.constitution.is_some()),
        "every cluster has a committee"
    );
    for r in &rows {
        let list = service.committee_meetings(&officer, r.cluster).await.unwrap();
        let held = list.terms.iter().flat_map(|(_, m)| m).filter(|m| m.held).count();
        assert!(held >= 1, "{} has no meeting recorded", r.name);
        assert!(
            list.terms.iter().flat_map(|(_, m)| m).any(|m| !m.held),
            "{} has no next meeting scheduled",
            r.name
        );
    }
    // The recorded meetings carry their business: a meeting shows items, votes and minutes.
    let first = &rows[rows.len() - 1];
    let list = service.committee_meetings(&officer, first.cluster).await.unwrap();
    let held = list.terms.iter().flat_map(|(_, m)| m).find(|m| m.held).unwrap();
    let view = service.meeting(&officer, held.id).await.unwrap();
    assert!(view.quorum.is_some_and(|q| q.required > 0));
    assert!(view.items.iter().any(|i| i.item.recorded_outcome.is_some()));
    assert!(
        view.record
            .minutes_text
            .as_deref()
            .is_some_and(|t| t.contains("Present:"))
    );
    // A clerk who works at a member school is flagged somewhere, never a breach.
    let mut flagged = 0;
    for r in &rows {
        let c = service.committee(&officer, r.cluster).await.unwrap();
        assert!(c.notes.iter().all(|n| n.flag), "{}: {:?}", r.name, c.notes);
        flagged += c.notes.len();
    }
    assert!(flagged >= 1);
}

#[tokio::test]
async fn the_demo_is_recorded_in_whichever_term_it_is_built() {
    // 20 May 2025, in the summer term: the meetings fall before this day.
    let service = demo(1_747_742_400).await;
    let (officer, _) = service
        .store()
        .user_credentials("officer@demo.clusterwise.test")
        .await
        .unwrap()
        .unwrap();
    let rows = service.governance_health(&officer).await.unwrap();
    assert!(rows.iter().any(|r| r.health.rag == Rag::Green));
    assert!(rows.iter().all(|r| {
        r.health
            .last_quorate_meeting
            .is_none_or(|d| d < domain::NaiveDate::from_ymd_opt(2025, 5, 20).unwrap())
    }));
}

#[tokio::test]
async fn the_health_view_sorts_by_any_column_and_names_disengaged_schools() {
    use service::governance::{DISENGAGED_BELOW_PCT, HealthSort, sort_health};
    let service = demo(1_796_126_400).await;
    let (officer, _) = service
        .store()
        .user_credentials("officer@demo.clusterwise.test")
        .await
        .unwrap()
        .unwrap();
    let mut rows = service.governance_health(&officer).await.unwrap();
    // Worst first by default.
    assert!(rows.windows(2).all(|w| w[0].health.rag >= w[1].health.rag));
    // Every member school has an attendance figure, lowest first.
    assert!(rows.iter().all(|r| r.attendance.windows(2).all(|w| w[0].1 <= w[1].1)));
    assert!(
        rows.iter().any(|r| r.disengaged().next().is_some()),
        "the demo has at least one school attending under {DISENGAGED_BELOW_PCT} %"
    );
    sort_health(&mut rows, HealthSort::Vacancies, true);
    assert!(rows.windows(2).all(|w| w[0].health.vacancies >= w[1].health.vacancies));
    sort_health(&mut rows, HealthSort::LowestAttendance, false);
    let low = |r: &service::governance::ClusterHealth| r.attendance.first().map(|a| a.1);
    assert!(rows.windows(2).all(|w| low(&w[0]) <= low(&w[1])));
    sort_health(&mut rows, HealthSort::Name, false);
    assert!(rows.windows(2).all(|w| w[0].name <= w[1].name));
    sort_health(&mut rows, HealthSort::LastQuorateMeeting, true);
    assert!(
        rows.windows(2)
            .all(|w| w[0].health.last_quorate_meeting >= w[1].health.last_quorate_meeting)
    );
}

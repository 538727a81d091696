//! Funding policies in the app on the real Norfolk demo: every cluster's allocation from the
//! policy in force reconciles; statements, scenarios, reports and narratives keep to who may see
//! and do what; a bad policy is refused naming its field and nothing is saved.
#![allow(clippy::unwrap_used)]

use domain::access::{Scope, User, UserRole};
use domain::governance::health::{Season, Term};
use domain::money::Money;
use service::policies::{SpendToDate, parse_period_code};
use service::{FixedClock, Service, ServiceError};
use std::sync::Arc;

/// 2026-12-01T12:00:00Z: the autumn term of 2026/27.
const NOW: i64 = 1_796_126_400;

const NORFOLK: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/real/norfolk_schools_spc_2022_23.csv"
));

async fn demo() -> (Service, Vec<User>) {
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(FixedClock(NOW)));
    let summary = service.build_demo(NORFOLK).await.unwrap();
    let mut users = Vec::new();
    for a in &summary.accounts {
        let signed = service.sign_in(&a.email, &a.password).await.unwrap();
        users.push(service.session(&signed.token).await.unwrap().unwrap().user);
    }
    (service, users)
}

fn who(users: &[User], role: UserRole) -> User {
    users.iter().find(|u| u.role == role).unwrap().clone()
}

#[tokio::test]
async fn every_demo_cluster_has_a_reconciling_allocation_and_statements_keep_to_their_readers() {
    let (service, users) = demo().await;
    let officer = who(&users, UserRole::AuthorityOfficer);
    let clusters = service.clusters(&officer).await.unwrap();
    assert!(clusters.len() > 40);
    for c in &clusters {
        let view = service
            .cluster_allocation(&officer, c.cluster.id)
            .await
            .unwrap()
            .unwrap();
        let a = &view.allocation;
        assert!(a.reconciles(), "{}", a.cluster_name);
        assert_eq!(a.to_schools().checked_add(a.central()), Some(a.budget()));
        // At least £2 a pupil and never less than £2,000, plus the G&T pots.
        let admin = a.streams.iter().find(|s| s.name == "cluster admin").unwrap();
        let pupils: u64 = a
            .schools
            .iter()
            .filter(|s| s.fundable())
            .map(|s| u64::from(s.pupils))
            .sum();
        let floor = Money::from_pence(i64::try_from(pupils * 200).unwrap()).max(Money::from_pence(200_000));
        assert_eq!(admin.budget(), floor, "{}", a.cluster_name);
        assert_eq!(view.shown.len(), a.schools.len());
        for s in a.schools.iter().filter(|s| s.fundable()) {
            assert!(a.school_total(s.urn) > Money::ZERO, "{} gets nothing", s.name);
        }
        for s in a.schools.iter().filter(|s| !s.fundable()) {
            assert_eq!(a.school_total(s.urn), Money::ZERO, "{} is not fundable", s.name);
        }
    }

    // The head sees their own school's statement, and not another school's.
    let head = who(&users, UserRole::Headteacher);
    let Scope::School(own) = head.scope else { panic!() };
    let st = service.school_statement(&head, own).await.unwrap().unwrap();
    assert!(st.total() > Money::ZERO);
    assert!(st.allocation.school_lines(own).len() >= 3);
    let csv = String::from_utf8(Service::statement_csv(&st)).unwrap();
    assert!(csv.starts_with("cluster,urn,stream,phase,component,amount_pence\n"));
    let pence: i64 = csv
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(pence, st.total().pence(), "the CSV adds up to the statement's total");
    let other = st.allocation.schools.iter().find(|s| s.urn != own).unwrap().urn;
    assert!(matches!(
        service.school_statement(&head, other).await,
        Err(ServiceError::Forbidden(_))
    ));
    // On the cluster page a head sees only their own school's lines; the clerk sees every school's.
    let cluster = st.allocation.cluster;
    let view = service.cluster_allocation(&head, cluster).await.unwrap().unwrap();
    assert_eq!(view.shown, vec![own]);
    let clerk = who(&users, UserRole::ClusterClerk);
    let view = service.cluster_allocation(&clerk, cluster).await.unwrap().unwrap();
    assert_eq!(view.shown.len(), view.allocation.schools.len());
    assert!(service.school_statement(&clerk, other).await.unwrap().is_some());
    // The clerk of one cluster cannot read a school's statement in another.
    let elsewhere = clusters.iter().find(|c| c.cluster.id != cluster).unwrap().cluster.id;
    let far = service.cluster_allocation(&officer, elsewhere).await.unwrap().unwrap();
    let far_school = far.allocation.schools[0].urn;
    assert!(matches!(
        service.school_statement(&clerk, far_school).await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(
        service
            .cluster_allocation(&clerk, elsewhere)
            .await
            .unwrap()
            .unwrap()
            .shown
            .is_empty()
    );
}

#[tokio::test]
async fn scenarios_compare_with_fairness_and_only_officers_edit() {
    let (service, users) = demo().await;
    let officer = who(&users, UserRole::AuthorityOfficer);
    let head = who(&users, UserRole::Headteacher);
    let clerk = who(&users, UserRole::ClusterClerk);
    let Scope::Cluster(cluster) = clerk.scope else { panic!() };
    let (policies, in_force) = service.funding_policies(&head).await.unwrap();
    assert_eq!(policies.len(), 2, "everyone signed in reads the policies");
    assert_eq!(in_force.len(), 1);
    assert_eq!(in_force[0].period, parse_period_code("academic-2026").unwrap());
    let versions: Vec<_> = policies.iter().map(|p| p.latest().unwrap().id).collect();

    let cmp = service
        .compare_policies(&clerk, cluster, &versions, None)
        .await
        .unwrap();
    assert_eq!(cmp.scenarios.len(), 2);
    for (a, f) in &cmp.scenarios {
        assert_eq!(f.total, a.to_schools());
        assert!(f.gini.is_some() && f.per_fsm_pupil.is_some());
        let (lo, hi) = (f.per_pupil_min.unwrap().1, f.per_pupil_max.unwrap().1);
        assert!(lo <= hi);
    }
    // All-by-pupils gives (almost) the same per pupil everywhere: a Gini near zero, below the
    // flat-share policy's.
    let gini = |i: usize| cmp.scenarios[i].1.gini.unwrap();
    let (flat, by_pupils) = if cmp.scenarios[0].0.source.policy_name.starts_with("Alternative") {
        (gini(1), gini(0))
    } else {
        (gini(0), gini(1))
    };
    assert!(by_pupils < flat, "{by_pupils} < {flat}");
    assert!(matches!(
        service.compare_policies(&head, cluster, &versions, None).await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(matches!(
        service.compare_policies(&officer, cluster, &versions[..1], None).await,
        Err(ServiceError::Invalid(_))
    ));

    // Only officers edit; a bad policy names its field and saves nothing.
    let text = policies[0].latest().unwrap().body.clone();
    assert!(matches!(
        service
            .save_funding_policy(&head, Some(policies[0].id), &text, "")
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    let bad = text.replacen("share = \"54\"", "share = \"154\"", 1);
    let bad = if bad == text {
        text.replacen("share = \"100\"", "share = \"154\"", 1)
    } else {
        bad
    };
    let err = service
        .save_funding_policy(&officer, Some(policies[0].id), &bad, "")
        .await;
    match err {
        Err(ServiceError::Invalid(m)) => assert!(m.contains("share: 154% must be 0 to 100"), "{m}"),
        other => panic!("{other:?}"),
    }
    let shares = text.replacen("share = \"46\"", "share = \"6\"", 1);
    if shares != text {
        match service
            .save_funding_policy(&officer, Some(policies[0].id), &shares, "")
            .await
        {
            Err(ServiceError::Invalid(m)) => assert!(m.contains("not 100 %"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    let (after, _) = service.funding_policies(&officer).await.unwrap();
    assert_eq!(after, policies, "nothing saved");
    let edited = text
        .replacen("share = \"54\"", "share = \"50\"", 1)
        .replacen("share = \"46\"", "share = \"50\"", 1);
    let edited = if edited == text { text.clone() + "\n" } else { edited };
    let v = service
        .save_funding_policy(&officer, Some(policies[0].id), &edited, "half and half")
        .await
        .unwrap();
    assert_eq!(v.version, 2);
    let p = service.funding_policy(&head, policies[0].id).await.unwrap();
    assert_eq!(p.versions.len(), 2, "the old version stays");
    // A draft compares against a saved version without being saved.
    let cmp = service
        .compare_policies(&officer, cluster, &versions[..1], Some(&edited))
        .await
        .unwrap();
    assert_eq!(cmp.scenarios[1].0.source.version, None);
}

#[tokio::test]
async fn governing_body_reports_carry_the_narrative_or_say_there_is_none() {
    let (service, users) = demo().await;
    let head = who(&users, UserRole::Headteacher);
    let governor = who(&users, UserRole::Governor);
    let clerk = who(&users, UserRole::ClusterClerk);
    let Scope::School(own) = head.scope else { panic!() };
    let Scope::Cluster(cluster) = clerk.scope else { panic!() };
    let autumn = Term {
        academic_year: 2026,
        season: Season::Autumn,
    };
    let r = service
        .governing_body_report(&head, own, autumn)
        .await
        .unwrap()
        .unwrap();
    // The demo's ledger records the head's school's money, so the report shows its spend.
    match &r.spend {
        SpendToDate::Recorded { fences, .. } => {
            assert!(!fences.is_empty());
            assert!(
                fences
                    .iter()
                    .all(|(_, h)| h.holder == domain::funding::ledger::Holder::School(own))
            );
        }
        other => panic!("expected the ledger's spend, got {other:?}"),
    }
    assert!(r.narrative.unwrap().body.starts_with("(Synthetic, for the demo.)"));
    let last = service
        .governing_body_report(&head, own, autumn.previous())
        .await
        .unwrap();
    // Summer 2025/26 was under the 2025/26 academic year, when no policy was in force.
    assert!(last.is_none());
    // Another cluster's school has no narrative for this term: the report says so.
    let officer = who(&users, UserRole::AuthorityOfficer);
    let elsewhere = service
        .clusters(&officer)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.cluster.id != cluster)
        .unwrap();
    let far = service
        .cluster_allocation(&officer, elsewhere.cluster.id)
        .await
        .unwrap()
        .unwrap();
    let far_school = far.allocation.schools.iter().find(|s| s.fundable()).unwrap().urn;
    let r = service
        .governing_body_report(&officer, far_school, autumn)
        .await
        .unwrap()
        .unwrap();
    assert!(r.narrative.is_none());
    assert!(matches!(
        service.save_narrative(&head, cluster, autumn, "We did well").await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(matches!(
        service.save_narrative(&clerk, cluster, autumn, "   ").await,
        Err(ServiceError::Invalid(_))
    ));
    service
        .save_narrative(&clerk, cluster, autumn, "Reading ages rose by six months.")
        .await
        .unwrap();
    let r = service
        .governing_body_report(&head, own, autumn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.narrative.unwrap().body, "Reading ages rose by six months.");
    let list = service.governing_body_reports(&governor).await.unwrap();
    let Scope::School(gov_school) = governor.scope else {
        panic!()
    };
    assert_eq!(list.len(), 3);
    assert!(list.iter().all(|l| l.urn == gov_school));
    assert!(list[0].narrative_written, "this term's is written now");
}

#[tokio::test]
async fn the_illustrative_redraw_is_funded_school_by_school_beside_todays_map() {
    let (service, users) = demo().await;
    let officer = who(&users, UserRole::AuthorityOfficer);
    let scenario = service.illustrative_scenario(&officer).await.unwrap().unwrap();
    let f = service
        .funding_under_scenario(&officer, scenario)
        .await
        .unwrap()
        .unwrap();
    let view = service.scenario(&officer, scenario).await.unwrap();
    assert_eq!(f.current.len(), service.clusters(&officer).await.unwrap().len());
    assert_eq!(f.proposed.len(), view.record.clusters.len());
    assert!(f.current.iter().chain(&f.proposed).all(|c| c.reconciles()));
    // Every proposed cluster's hub is its host, and every school of the scenario is placed.
    for (c, a) in view.record.clusters.iter().zip(&f.proposed) {
        assert_eq!(a.cluster_name, c.name);
        let hub = a.schools.iter().find(|s| Some(s.urn) == c.hub).unwrap();
        assert_eq!(hub.role, domain::cluster::MembershipRole::Host);
    }
    let placed = f.schools.iter().filter(|s| s.proposed.is_some()).count();
    assert_eq!(placed, view.record.assignment.len());
    // The schools' amounts add up to what each map sends to schools.
    let sum = |pick: fn(&service::policies::SchoolUnderMaps) -> Option<Money>| {
        Money::sum(f.schools.iter().filter_map(pick).collect::<Vec<_>>().iter()).unwrap()
    };
    let (now, then) = f.to_schools();
    assert_eq!(Some(sum(|s| s.current.as_ref().map(|c| c.1))), now);
    assert_eq!(Some(sum(|s| s.proposed.as_ref().map(|c| c.1))), then);
    // Those losing most come first.
    assert!(f.schools.windows(2).all(|w| w[0].change() <= w[1].change()));
    // A head may not see design scenarios, so not this either.
    let head = who(&users, UserRole::Headteacher);
    assert!(matches!(
        service.funding_under_scenario(&head, scenario).await,
        Err(ServiceError::Forbidden(_))
    ));
}

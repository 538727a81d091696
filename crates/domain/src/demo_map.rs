//! The demo's illustrative cluster map: each state-funded secondary with the schools nearest to it.
//!
//! This is not a proposal; the boundary planner (issue 3) is. It exists so that a newcomer sees
//! clusters filled with real Norfolk schools, and every page says it is illustrative.

use crate::cluster::MembershipRole;
use crate::ids::Urn;
use crate::school::{Phase, SchoolWithCensus};

/// One illustrative cluster: named after its secondary, which is its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoCluster {
    pub name: String,
    pub members: Vec<(Urn, MembershipRole)>,
}

/// Builds the map. Anchors are open, state-funded secondary or all-through schools that have
/// Key Stage 3 pupils (16–19-only schools cannot anchor). Every other open state-funded school
/// joins its nearest anchor (ties broken by lower URN); independent schools join none.
pub fn nearest_secondary_map(schools: &[SchoolWithCensus]) -> Vec<DemoCluster> {
    let eligible = |s: &&SchoolWithCensus| s.school.is_state_funded() && s.school.status.is_open();
    let mut anchors: Vec<&SchoolWithCensus> = schools
        .iter()
        .filter(eligible)
        .filter(|s| s.school.phase.is_secondary_anchor() && s.school.location.is_some())
        .collect();
    anchors.sort_by_key(|s| s.school.urn);
    let mut clusters: Vec<DemoCluster> = anchors
        .iter()
        .map(|a| DemoCluster {
            name: format!("{} cluster", a.school.name),
            members: vec![(a.school.urn, MembershipRole::Host)],
        })
        .collect();
    if anchors.is_empty() {
        return clusters;
    }
    let mut others: Vec<&SchoolWithCensus> = schools
        .iter()
        .filter(eligible)
        .filter(|s| !(s.school.phase.is_secondary_anchor() && s.school.location.is_some()))
        .collect();
    others.sort_by_key(|s| s.school.urn);
    for s in others {
        let Some(loc) = s.school.location else { continue };
        let nearest = anchors
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                a.school
                    .location
                    .map(|al| (al.distance_squared_m(&loc), a.school.urn, i))
            })
            .min();
        let Some((_, _, idx)) = nearest else { continue };
        let role = match s.school.phase {
            Phase::Special => MembershipRole::Special,
            Phase::AlternativeProvision => MembershipRole::Pru,
            _ => MembershipRole::Feeder,
        };
        clusters[idx].members.push((s.school.urn, role));
    }
    clusters
}

//! Governance: each cluster's committee and the authority's view of their health.

use crate::register::csv_field;
use crate::{Service, ServiceResult};
use domain::access::{Scope, User};
use domain::governance::health::{CommitteeState, Health, health};
use domain::governance::{Committee, Constitution, in_force_on};
use domain::ids::{AuthorityId, ClusterId, PersonId, Urn};
use std::collections::HashMap;

/// One cluster's governance health.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterHealth {
    pub cluster: ClusterId,
    pub name: String,
    /// `None` when no committee is recorded.
    pub constitution: Option<String>,
    pub chair: Option<String>,
    pub vice_chair: Option<String>,
    pub health: Health,
}

impl Service {
    /// Health of every committee the user may see, worst first.
    pub async fn governance_health(&self, user: &User) -> ServiceResult<Vec<ClusterHealth>> {
        let today = self.clock.today();
        let clusters = self.store.list_clusters(user.authority, today).await?;
        let current = self.store.current_memberships(user.authority, today).await?;
        let mut members: HashMap<ClusterId, Vec<Urn>> = HashMap::new();
        for (urn, cluster, _) in &current {
            members.entry(*cluster).or_default().push(*urn);
        }
        let visible = |c: ClusterId| match user.scope {
            Scope::Authority => true,
            Scope::Cluster(id) => id == c,
            Scope::School(urn) => members.get(&c).is_some_and(|m| m.contains(&urn)),
        };
        let committees: HashMap<ClusterId, Committee> = self
            .store
            .committees(user.authority)
            .await?
            .into_iter()
            .map(|c| (c.cluster, c))
            .collect();
        let mut out = Vec::new();
        for c in clusters.iter().filter(|c| visible(c.cluster.id)) {
            let member_schools = members.get(&c.cluster.id).cloned().unwrap_or_default();
            let row = match committees.get(&c.cluster.id) {
                Some(committee) => {
                    let constitution = in_force_on(&committee.versions, today)
                        .map_or_else(Constitution::norfolk, |v| v.constitution.clone());
                    let state = CommitteeState {
                        member_schools,
                        ..committee.state.clone()
                    };
                    let name_of = |p: Option<PersonId>| {
                        p.and_then(|p| usize::try_from(p.0).ok())
                            .and_then(|i| committee.holders.get(i).cloned())
                    };
                    ClusterHealth {
                        cluster: c.cluster.id,
                        name: c.cluster.name.clone(),
                        constitution: Some(constitution.name.clone()),
                        chair: name_of(state.chair),
                        vice_chair: name_of(state.vice_chair),
                        health: health(&constitution, &state, today),
                    }
                }
                None => {
                    let state = CommitteeState {
                        member_schools,
                        seats: Vec::new(),
                        chair: None,
                        vice_chair: None,
                        last_review: None,
                        meetings: Vec::new(),
                    };
                    let mut h = health(&Constitution::norfolk(), &state, today);
                    h.reasons.insert(0, "no committee recorded".into());
                    ClusterHealth {
                        cluster: c.cluster.id,
                        name: c.cluster.name.clone(),
                        constitution: None,
                        chair: None,
                        vice_chair: None,
                        health: h,
                    }
                }
            };
            out.push(row);
        }
        out.sort_by(|a, b| (std::cmp::Reverse(a.health.rag), &a.name).cmp(&(std::cmp::Reverse(b.health.rag), &b.name)));
        Ok(out)
    }

    /// The health view as CSV (one row per cluster).
    pub async fn governance_health_csv(&self, user: &User) -> ServiceResult<Vec<u8>> {
        let rows = self.governance_health(user).await?;
        let mut out = String::from(
            "cluster,status,last_quorate_meeting,terms_without_quorate_meeting,chair_in_post,vice_chair_in_post,vacancies,minutes_overdue,review_due,decisions_this_year,reasons\n",
        );
        for r in &rows {
            let h = &r.health;
            let fields = [
                r.name.clone(),
                h.rag.label().to_string(),
                h.last_quorate_meeting.map(|d| d.to_string()).unwrap_or_default(),
                h.terms_without_meeting.len().to_string(),
                yes_no(h.chair_in_post),
                yes_no(h.vice_chair_in_post),
                h.vacancies.to_string(),
                h.minutes_overdue.to_string(),
                yes_no(h.review_due),
                h.decisions_this_year.to_string(),
                h.reasons.join("; "),
            ];
            out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        Ok(out.into_bytes())
    }

    /// Synthetic committees for the demo clusters, with a term of meetings recorded in full
    /// (see `meetings::demo`). Every name is synthetic.
    pub(crate) async fn seed_demo_committees(&self, authority: AuthorityId) -> ServiceResult<u64> {
        self.seed_demo_meetings(authority).await
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}

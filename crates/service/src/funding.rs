//! Funding in the product: allocations computed from the register with the domain's engine.

use crate::{Service, ServiceError, ServiceResult};
use domain::access::User;
use domain::funding::{Allocation, Component, Granularity, Policy, SchoolFacts, ShareModel, allocate};
use domain::ids::ClusterId;
use domain::money::Money;

/// Norfolk's cluster admin funding as a worked policy: at least £2 a pupil, never less than
/// £2,000 a cluster, split 54 % equally and 46 % by pupils (the average flat share seen).
pub fn norfolk_admin_policy(eligible_pupils: u64) -> Policy {
    let per_pupil = Money::from_pence(200)
        .checked_mul(i64::try_from(eligible_pupils).unwrap_or(i64::MAX))
        .unwrap_or(Money::ZERO);
    Policy {
        name: "Cluster admin: £2 a pupil, at least £2,000 a cluster".into(),
        budget: per_pupil.max(Money::from_pence(200_000)),
        granularity: Granularity::Penny,
        top_slice: None,
        components: vec![
            Component::Share {
                name: "flat share (54 %)".into(),
                share_bp: 5_400,
                model: ShareModel::Equal,
            },
            Component::Share {
                name: "per pupil (46 %)".into(),
                share_bp: 4_600,
                model: ShareModel::PerPupil,
            },
        ],
    }
}

impl Service {
    /// The cluster's admin funding under [`norfolk_admin_policy`], school by school.
    pub async fn cluster_admin_allocation(&self, user: &User, id: ClusterId) -> ServiceResult<(Policy, Allocation)> {
        let detail = self.cluster(user, id).await?;
        let facts: Vec<SchoolFacts> = detail
            .members
            .iter()
            .map(|(s, role, _)| SchoolFacts {
                urn: s.school.urn,
                phase: s.school.phase,
                pupils: s.pupils(),
                fsm: s.census.as_ref().and_then(|c| c.fsm_count).unwrap_or(0),
                inspection_grade: None,
                hosts_lsu: false,
                eligible: s.school.is_state_funded() && role.is_funded(),
            })
            .collect();
        let pupils = facts.iter().filter(|f| f.eligible).map(|f| u64::from(f.pupils)).sum();
        let policy = norfolk_admin_policy(pupils);
        let allocation = allocate(&policy, &facts).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        Ok((policy, allocation))
    }
}

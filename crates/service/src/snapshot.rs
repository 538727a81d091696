//! The register snapshot: what most pages read about an authority (its schools with their
//! latest census, today's clusters and memberships, its districts and funding policies) and the
//! allocations computed from it, kept in memory while the store's register revision stands
//! still.
//!
//! The revision is a counter that database triggers move on in the same transaction as every
//! change to those tables (migration 0012), so a snapshot is exact across processes: an import
//! run from the command line is seen by a running server at its next request, and no cache is
//! ever older than the revision it is filed under (the revision is read *before* the rows, so
//! rows are at least as new as their label; a write in between only causes one rebuild too
//! many). A snapshot is also tied to the day, since memberships are judged on a day. When the
//! counter is missing (a restore of an older backup) nothing is cached.
//!
//! Why: without it every cluster page and statement loaded every school twice and ran the
//! funding engine for every cluster; a page read costs two small queries now (the session and
//! the revision). See docs/RELIABILITY.md, "Load".

use crate::policies::{ClusterAllocation, InForce, PolicyVersionId, StoredPolicy};
use crate::store::{Authority, ClusterDetail, ClusterSummary};
use crate::{Service, ServiceResult};
use domain::NaiveDate;
use domain::cluster::MembershipRole;
use domain::funding::Period;
use domain::ids::{AuthorityId, ClusterId, Urn};
use domain::school::SchoolWithCensus;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// What an allocation is filed under: the version, and the period it is in force for (if any).
pub(crate) type AllocationKey = (PolicyVersionId, Option<Period>);

/// One authority's register as it stood at `revision` on `day`.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// `None` when built without a revision (never cached).
    pub revision: Option<i64>,
    pub day: NaiveDate,
    pub authority: Authority,
    /// Every school with its latest census, by URN (the store's order).
    pub schools: Vec<SchoolWithCensus>,
    index: HashMap<Urn, usize>,
    /// Clusters with a member on `day`, in the store's order.
    pub clusters: Vec<ClusterSummary>,
    /// (school, cluster, role) of every membership current on `day`, in the store's order.
    pub memberships: Vec<(Urn, ClusterId, MembershipRole)>,
    pub districts: Vec<String>,
    pub policies: Vec<StoredPolicy>,
    pub in_force: Vec<InForce>,
    /// Cluster pages read so far (only clusters that exist are kept, so this is bounded).
    details: Mutex<HashMap<ClusterId, Arc<ClusterDetail>>>,
    /// Every cluster's allocation under a version, for the period it is in force for (or none).
    allocations: Mutex<HashMap<AllocationKey, Arc<Vec<ClusterAllocation>>>>,
}

impl Snapshot {
    pub fn school(&self, urn: Urn) -> Option<&SchoolWithCensus> {
        self.index.get(&urn).map(|&i| &self.schools[i])
    }

    pub fn allocations(&self, key: AllocationKey) -> Option<Arc<Vec<ClusterAllocation>>> {
        lock(&self.allocations).get(&key).cloned()
    }

    pub fn keep_allocations(&self, key: AllocationKey, a: Vec<ClusterAllocation>) -> Arc<Vec<ClusterAllocation>> {
        let a = Arc::new(a);
        lock(&self.allocations).entry(key).or_insert(a).clone()
    }
}

/// Snapshots by authority, newest only.
#[derive(Debug, Default)]
pub(crate) struct SnapshotCache {
    by_authority: Mutex<HashMap<AuthorityId, Arc<Snapshot>>>,
    /// One build at a time, so a burst after a change builds once rather than once per request.
    building: tokio::sync::Mutex<()>,
}

impl SnapshotCache {
    fn current(&self, authority: AuthorityId, revision: i64, day: NaiveDate) -> Option<Arc<Snapshot>> {
        lock(&self.by_authority)
            .get(&authority)
            .filter(|s| s.revision == Some(revision) && s.day == day)
            .cloned()
    }
}

/// A poisoned lock only means another request panicked while holding it; the maps stay whole
/// (every change is one insert), so go on with them.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Service {
    /// The authority's register as it stands now: from memory when the revision and the day
    /// are those it was built for, else read afresh (once, however many ask at the same time).
    pub(crate) async fn snapshot(&self, authority: AuthorityId) -> ServiceResult<Arc<Snapshot>> {
        let day = self.clock.today();
        let Some(revision) = self.store.register_revision().await? else {
            return Ok(Arc::new(self.build_snapshot(authority, day, None).await?));
        };
        if let Some(s) = self.snapshots.current(authority, revision, day) {
            return Ok(s);
        }
        let _one_at_a_time = self.snapshots.building.lock().await;
        if let Some(s) = self.snapshots.current(authority, revision, day) {
            return Ok(s);
        }
        let s = Arc::new(self.build_snapshot(authority, day, Some(revision)).await?);
        lock(&self.snapshots.by_authority).insert(authority, s.clone());
        Ok(s)
    }

    async fn build_snapshot(
        &self,
        authority: AuthorityId,
        day: NaiveDate,
        revision: Option<i64>,
    ) -> ServiceResult<Snapshot> {
        let store = &self.store;
        let schools = store.all_schools(authority).await?;
        let index = schools.iter().enumerate().map(|(i, s)| (s.school.urn, i)).collect();
        Ok(Snapshot {
            revision,
            day,
            authority: store.authority(authority).await?,
            index,
            schools,
            clusters: store.list_clusters(authority, day).await?,
            memberships: store.current_memberships(authority, day).await?,
            districts: store.districts(authority).await?,
            policies: store.policies(authority).await?,
            in_force: store.policies_in_force(authority).await?,
            details: Mutex::default(),
            allocations: Mutex::default(),
        })
    }

    /// A cluster with its members on the snapshot's day (any cluster of the authority, also
    /// one with no members left), read once per snapshot.
    pub(crate) async fn cluster_detail(
        &self,
        snap: &Snapshot,
        id: ClusterId,
    ) -> ServiceResult<Option<Arc<ClusterDetail>>> {
        if let Some(d) = lock(&snap.details).get(&id) {
            return Ok(Some(d.clone()));
        }
        let Some(d) = self.store.cluster(snap.authority.id, id, snap.day).await? else {
            return Ok(None);
        };
        let d = Arc::new(d);
        lock(&snap.details).insert(id, d.clone());
        Ok(Some(d))
    }
}

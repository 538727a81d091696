//! Clusters and dated memberships.

use crate::rows::{LATEST_CENSUS_JOIN, SCHOOL_COLUMNS, date_text, int, school_from_row, text, urn};
use crate::{SqlStore, db_err};
use domain::NaiveDate;
use domain::cluster::{Cluster, MembershipRole};
use domain::ids::{AuthorityId, ClusterId, Urn};
use domain::import::MembershipRecord;
use domain::school::{Phase, SchoolWithCensus};
use service::store::{ClusterDetail, ClusterSummary, StoreError, StoreResult, WriteCounts};
use std::collections::{BTreeMap, HashMap};

/// A current member: the school, its role and the day it joined.
type Member = (SchoolWithCensus, MembershipRole, NaiveDate);

pub(crate) async fn save_memberships(
    store: &SqlStore,
    authority: AuthorityId,
    rows: &[MembershipRecord],
    effective: NaiveDate,
    illustrative: bool,
) -> StoreResult<WriteCounts> {
    let day = date_text(effective);
    let mut counts = WriteCounts::default();
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let mut ids: HashMap<String, i64> = HashMap::new();
    for row in sqlx::query("SELECT id, name FROM clusters WHERE authority_id = $1")
        .bind(authority.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?
    {
        ids.insert(text(&row, 1)?, int(&row, 0)?);
    }
    for r in rows {
        let cluster_id = match ids.get(&r.cluster) {
            Some(id) => *id,
            None => {
                let row = sqlx::query(
                    "INSERT INTO clusters (authority_id, name, illustrative) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(authority.0)
                .bind(r.cluster.clone())
                .bind(i64::from(illustrative))
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                let id = int(&row, 0)?;
                ids.insert(r.cluster.clone(), id);
                counts.clusters_created += 1;
                id
            }
        };
        let urn_i = i64::from(r.urn.get());
        // Already a member in this role from this day or before and still open: nothing to do.
        let same = sqlx::query(
            "SELECT COUNT(*) FROM memberships WHERE authority_id = $1 AND urn = $2 AND cluster_id = $3 \
             AND role = $4 AND from_date <= $5 AND to_date IS NULL",
        )
        .bind(authority.0)
        .bind(urn_i)
        .bind(cluster_id)
        .bind(r.role.code())
        .bind(day.clone())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        if int(&same, 0)? > 0 {
            continue;
        }
        // A membership that would start on or after this day is replaced by this file.
        let replaced = sqlx::query("DELETE FROM memberships WHERE authority_id = $1 AND urn = $2 AND from_date >= $3")
            .bind(authority.0)
            .bind(urn_i)
            .bind(day.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        let ended =
            sqlx::query("UPDATE memberships SET to_date = $3 WHERE authority_id = $1 AND urn = $2 AND to_date IS NULL")
                .bind(authority.0)
                .bind(urn_i)
                .bind(day.clone())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
        counts.updated += replaced + ended;
        sqlx::query(
            "INSERT INTO memberships (authority_id, urn, cluster_id, role, from_date) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(authority.0)
        .bind(urn_i)
        .bind(cluster_id)
        .bind(r.role.code())
        .bind(day.clone())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        counts.inserted += 1;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(counts)
}

const CURRENT: &str = "m.from_date <= $2 AND (m.to_date IS NULL OR m.to_date > $2)";

pub(crate) async fn current_memberships(
    store: &SqlStore,
    authority: AuthorityId,
    day: NaiveDate,
) -> StoreResult<Vec<(Urn, ClusterId, MembershipRole)>> {
    let sql = format!(
        "SELECT m.urn, m.cluster_id, m.role FROM memberships m WHERE m.authority_id = $1 AND {CURRENT} ORDER BY m.urn"
    );
    sqlx::query(&sql)
        .bind(authority.0)
        .bind(date_text(day))
        .fetch_all(store.pool())
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| {
            let role = text(r, 2)?;
            Ok((
                urn(int(r, 0)?)?,
                ClusterId(int(r, 1)?),
                MembershipRole::parse(&role)
                    .ok_or_else(|| StoreError::Other(format!("stored role {role:?} is not valid")))?,
            ))
        })
        .collect()
}

fn summarise(cluster: Cluster, members: &[Member]) -> ClusterSummary {
    let mut s = ClusterSummary {
        cluster,
        schools: 0,
        pupils: 0,
        fsm_count: 0,
        fsm_base: 0,
        secondaries: 0,
        primaries: 0,
        others: 0,
    };
    for (school, _, _) in members {
        s.schools += 1;
        s.pupils += u64::from(school.pupils());
        if let Some(c) = &school.census
            && let Some(f) = c.fsm_count
        {
            s.fsm_count += u64::from(f);
            s.fsm_base += u64::from(c.pupils);
        }
        match school.school.phase {
            p if p.is_secondary_anchor() || p == Phase::SixteenPlus => s.secondaries += 1,
            p if p.is_primary_like() => s.primaries += 1,
            _ => s.others += 1,
        }
    }
    s
}

/// Every cluster of the authority with its members current on `day`, optionally one cluster.
async fn load(
    store: &SqlStore,
    authority: AuthorityId,
    only: Option<ClusterId>,
    day: NaiveDate,
) -> StoreResult<Vec<(Cluster, Vec<Member>)>> {
    let filter = if only.is_some() { " AND id = $2" } else { "" };
    let sql = format!("SELECT id, name, illustrative FROM clusters WHERE authority_id = $1{filter} ORDER BY name, id");
    let mut cq = sqlx::query(&sql).bind(authority.0);
    if let Some(id) = only {
        cq = cq.bind(id.0);
    }
    let mut clusters: BTreeMap<i64, (Cluster, Vec<Member>)> = BTreeMap::new();
    let mut order = Vec::new();
    for row in cq.fetch_all(store.pool()).await.map_err(db_err)? {
        let id = int(&row, 0)?;
        order.push(id);
        clusters.insert(
            id,
            (
                Cluster {
                    id: ClusterId(id),
                    authority,
                    name: text(&row, 1)?,
                    illustrative: int(&row, 2)? != 0,
                },
                Vec::new(),
            ),
        );
    }
    let member_filter = if only.is_some() { " AND m.cluster_id = $3" } else { "" };
    let sql = format!(
        "SELECT {SCHOOL_COLUMNS}, m.cluster_id, m.role, m.from_date FROM memberships m \
         JOIN schools s ON s.authority_id = m.authority_id AND s.urn = m.urn {LATEST_CENSUS_JOIN} \
         WHERE m.authority_id = $1 AND {CURRENT}{member_filter} ORDER BY s.name, s.urn"
    );
    let mut mq = sqlx::query(&sql).bind(authority.0).bind(date_text(day));
    if let Some(id) = only {
        mq = mq.bind(id.0);
    }
    let width = SCHOOL_COLUMNS.split(',').count();
    for row in mq.fetch_all(store.pool()).await.map_err(db_err)? {
        let cluster_id = int(&row, width)?;
        let role = text(&row, width + 1)?;
        let role = MembershipRole::parse(&role)
            .ok_or_else(|| StoreError::Other(format!("stored role {role:?} is not valid")))?;
        let from = crate::rows::date(&text(&row, width + 2)?)?;
        if let Some((_, members)) = clusters.get_mut(&cluster_id) {
            members.push((school_from_row(&row)?, role, from));
        }
    }
    Ok(order.into_iter().filter_map(|id| clusters.remove(&id)).collect())
}

pub(crate) async fn list_clusters(
    store: &SqlStore,
    authority: AuthorityId,
    day: NaiveDate,
) -> StoreResult<Vec<ClusterSummary>> {
    // A cluster with no member on the day (an old map's, after a new one was adopted) is not
    // listed; its page and its memberships stay in the history.
    Ok(load(store, authority, None, day)
        .await?
        .into_iter()
        .filter(|(_, members)| !members.is_empty())
        .map(|(c, members)| summarise(c, &members))
        .collect())
}

pub(crate) async fn cluster(
    store: &SqlStore,
    authority: AuthorityId,
    id: ClusterId,
    day: NaiveDate,
) -> StoreResult<Option<ClusterDetail>> {
    Ok(load(store, authority, Some(id), day)
        .await?
        .into_iter()
        .next()
        .map(|(c, mut members)| {
            // Host first, then by role, then by name.
            members.sort_by(|a, b| {
                (a.1 != MembershipRole::Host, a.1, a.0.school.name.to_lowercase()).cmp(&(
                    b.1 != MembershipRole::Host,
                    b.1,
                    b.0.school.name.to_lowercase(),
                ))
            });
            ClusterDetail {
                summary: summarise(c, &members),
                members,
            }
        }))
}

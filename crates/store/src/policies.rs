//! Funding policies (named, with numbered versions of their text), the version in force per
//! period, and the clerks' termly narratives for governing-body reports.

use crate::rows::{int, text};
use crate::{SqlStore, db_err};
use domain::ids::{AuthorityId, ClusterId};
use service::policies::{
    InForce, Narrative, NewPolicyVersion, PolicyId, PolicyVersion, PolicyVersionId, StoredPolicy, parse_period_code,
    parse_term_code, period_code, term_code,
};
use service::store::{StoreError, StoreResult};
use std::collections::BTreeMap;

fn corrupt(what: &str, v: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("stored {what} is not valid: {v}"))
}

fn name_taken(name: &str) -> StoreError {
    StoreError::Conflict(format!("name: another policy is already called {name:?}"))
}

pub(crate) async fn save_policy_version(
    store: &SqlStore,
    authority: AuthorityId,
    new: &NewPolicyVersion,
) -> StoreResult<PolicyVersion> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let taken = sqlx::query("SELECT id FROM funding_policies WHERE authority_id = $1 AND name = $2")
        .bind(authority.0)
        .bind(new.name.clone())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
    let taken = taken.map(|r| int(&r, 0)).transpose()?;
    let policy = match new.policy {
        None => {
            if taken.is_some() {
                return Err(name_taken(&new.name));
            }
            let row = sqlx::query("INSERT INTO funding_policies (authority_id, name) VALUES ($1, $2) RETURNING id")
                .bind(authority.0)
                .bind(new.name.clone())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
            int(&row, 0)?
        }
        Some(id) => {
            let owned = sqlx::query("SELECT COUNT(*) FROM funding_policies WHERE id = $1 AND authority_id = $2")
                .bind(id.0)
                .bind(authority.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
            if int(&owned, 0)? == 0 {
                return Err(StoreError::NotFound(format!("funding policy {id}")));
            }
            if taken.is_some_and(|t| t != id.0) {
                return Err(name_taken(&new.name));
            }
            sqlx::query("UPDATE funding_policies SET name = $1 WHERE id = $2 AND authority_id = $3")
                .bind(new.name.clone())
                .bind(id.0)
                .bind(authority.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            id.0
        }
    };
    let next = sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 FROM funding_policy_versions WHERE policy_id = $1")
        .bind(policy)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    let version = int(&next, 0)?;
    let row = sqlx::query(
        "INSERT INTO funding_policy_versions (authority_id, policy_id, version, body, note, saved_by, saved_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(authority.0)
    .bind(policy)
    .bind(version)
    .bind(new.body.clone())
    .bind(new.note.clone())
    .bind(new.saved_by.clone())
    .bind(new.saved_at)
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    let id = int(&row, 0)?;
    tx.commit().await.map_err(db_err)?;
    Ok(PolicyVersion {
        id: PolicyVersionId(id),
        policy: PolicyId(policy),
        version: u32::try_from(version).map_err(|_| corrupt("version", version))?,
        body: new.body.clone(),
        note: new.note.clone(),
        saved_by: new.saved_by.clone(),
        saved_at: new.saved_at,
    })
}

pub(crate) async fn policies(store: &SqlStore, authority: AuthorityId) -> StoreResult<Vec<StoredPolicy>> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let rows = sqlx::query("SELECT id, name FROM funding_policies WHERE authority_id = $1 ORDER BY name, id")
        .bind(authority.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    let mut policies: Vec<StoredPolicy> = rows
        .iter()
        .map(|r| {
            Ok(StoredPolicy {
                id: PolicyId(int(r, 0)?),
                name: text(r, 1)?,
                versions: Vec::new(),
            })
        })
        .collect::<StoreResult<_>>()?;
    let rows = sqlx::query(
        "SELECT id, policy_id, version, body, note, saved_by, saved_at FROM funding_policy_versions \
         WHERE authority_id = $1 ORDER BY policy_id, version DESC",
    )
    .bind(authority.0)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    let mut by_policy: BTreeMap<i64, Vec<PolicyVersion>> = BTreeMap::new();
    for r in &rows {
        let version = int(r, 2)?;
        let policy = int(r, 1)?;
        by_policy.entry(policy).or_default().push(PolicyVersion {
            id: PolicyVersionId(int(r, 0)?),
            policy: PolicyId(policy),
            version: u32::try_from(version).map_err(|_| corrupt("version", version))?,
            body: text(r, 3)?,
            note: text(r, 4)?,
            saved_by: text(r, 5)?,
            saved_at: int(r, 6)?,
        });
    }
    for p in &mut policies {
        p.versions = by_policy.remove(&p.id.0).unwrap_or_default();
    }
    Ok(policies)
}

pub(crate) async fn set_policy_in_force(store: &SqlStore, authority: AuthorityId, mark: &InForce) -> StoreResult<()> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let owned = sqlx::query("SELECT COUNT(*) FROM funding_policy_versions WHERE id = $1 AND authority_id = $2")
        .bind(mark.version.0)
        .bind(authority.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if int(&owned, 0)? == 0 {
        return Err(StoreError::NotFound(format!("policy version {}", mark.version)));
    }
    let period = period_code(mark.period);
    sqlx::query("DELETE FROM funding_policy_in_force WHERE authority_id = $1 AND period = $2")
        .bind(authority.0)
        .bind(period.clone())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    sqlx::query(
        "INSERT INTO funding_policy_in_force (authority_id, period, version_id, marked_by, marked_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(authority.0)
    .bind(period)
    .bind(mark.version.0)
    .bind(mark.marked_by.clone())
    .bind(mark.marked_at)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

pub(crate) async fn policies_in_force(store: &SqlStore, authority: AuthorityId) -> StoreResult<Vec<InForce>> {
    let rows = sqlx::query(
        "SELECT period, version_id, marked_by, marked_at FROM funding_policy_in_force WHERE authority_id = $1 \
         ORDER BY period",
    )
    .bind(authority.0)
    .fetch_all(store.pool())
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let period = text(r, 0)?;
            Ok(InForce {
                period: parse_period_code(&period).ok_or_else(|| corrupt("period", &period))?,
                version: PolicyVersionId(int(r, 1)?),
                marked_by: text(r, 2)?,
                marked_at: int(r, 3)?,
            })
        })
        .collect()
}

pub(crate) async fn save_narrative(store: &SqlStore, authority: AuthorityId, n: &Narrative) -> StoreResult<()> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let owned = sqlx::query("SELECT COUNT(*) FROM clusters WHERE id = $1 AND authority_id = $2")
        .bind(n.cluster.0)
        .bind(authority.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if int(&owned, 0)? == 0 {
        return Err(StoreError::NotFound(format!("cluster {}", n.cluster)));
    }
    let term = term_code(n.term);
    sqlx::query("DELETE FROM governing_body_narratives WHERE cluster_id = $1 AND term = $2")
        .bind(n.cluster.0)
        .bind(term.clone())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    sqlx::query(
        "INSERT INTO governing_body_narratives (authority_id, cluster_id, term, body, written_by, written_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(authority.0)
    .bind(n.cluster.0)
    .bind(term)
    .bind(n.body.clone())
    .bind(n.written_by.clone())
    .bind(n.written_at)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

pub(crate) async fn narratives(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
) -> StoreResult<Vec<Narrative>> {
    let rows = sqlx::query(
        "SELECT term, body, written_by, written_at FROM governing_body_narratives \
         WHERE authority_id = $1 AND cluster_id = $2",
    )
    .bind(authority.0)
    .bind(cluster.0)
    .fetch_all(store.pool())
    .await
    .map_err(db_err)?;
    let mut out: Vec<Narrative> = rows
        .iter()
        .map(|r| {
            let term = text(r, 0)?;
            Ok(Narrative {
                cluster,
                term: parse_term_code(&term).ok_or_else(|| corrupt("term", &term))?,
                body: text(r, 1)?,
                written_by: text(r, 2)?,
                written_at: int(r, 3)?,
            })
        })
        .collect::<StoreResult<_>>()?;
    out.sort_by_key(|n| std::cmp::Reverse(n.term));
    Ok(out)
}

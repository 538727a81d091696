//! Geography layers (districts, divisions, custom areas) and networks.

use crate::rows::{int, text, urn};
use crate::{SqlStore, db_err};
use domain::cluster::Network;
use domain::geo::{Area, GeographyLayer, LayerKind};
use domain::ids::{AuthorityId, LayerId, NetworkId, Urn};
use service::store::{StoreError, StoreResult};
use std::collections::BTreeMap;

pub(crate) async fn save_geography_layer(
    store: &SqlStore,
    authority: AuthorityId,
    kind: LayerKind,
    name: &str,
    areas: &[Area],
) -> StoreResult<LayerId> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let existing = sqlx::query("SELECT id FROM geography_layers WHERE authority_id = $1 AND name = $2")
        .bind(authority.0)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
    let id = match existing {
        Some(row) => {
            let id = int(&row, 0)?;
            sqlx::query(
                "DELETE FROM geography_area_schools WHERE area_id IN (SELECT id FROM geography_areas WHERE layer_id = $1)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            sqlx::query("DELETE FROM geography_areas WHERE layer_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            sqlx::query("UPDATE geography_layers SET kind = $2 WHERE id = $1")
                .bind(id)
                .bind(kind.code())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            id
        }
        None => {
            let row =
                sqlx::query("INSERT INTO geography_layers (authority_id, kind, name) VALUES ($1, $2, $3) RETURNING id")
                    .bind(authority.0)
                    .bind(kind.code())
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
            int(&row, 0)?
        }
    };
    for area in areas {
        let row = sqlx::query("INSERT INTO geography_areas (layer_id, code, name) VALUES ($1, $2, $3) RETURNING id")
            .bind(id)
            .bind(area.code.clone())
            .bind(area.name.clone())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let area_id = int(&row, 0)?;
        link_schools(
            &mut tx,
            "geography_area_schools (area_id",
            area_id,
            authority,
            &area.members,
        )
        .await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(LayerId(id))
}

/// Inserts `(group, authority, urn)` rows into a link table, e.g. `"network_members (network_id"`.
async fn link_schools(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table_and_group_column: &str,
    group: i64,
    authority: AuthorityId,
    urns: &[Urn],
) -> StoreResult<()> {
    let sql = format!("INSERT INTO {table_and_group_column}, authority_id, urn) VALUES ($1, $2, $3)");
    for u in urns {
        sqlx::query(&sql)
            .bind(group)
            .bind(authority.0)
            .bind(i64::from(u.get()))
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

pub(crate) async fn geography_layers(store: &SqlStore, authority: AuthorityId) -> StoreResult<Vec<GeographyLayer>> {
    let mut layers: BTreeMap<(String, i64), GeographyLayer> = BTreeMap::new();
    for row in sqlx::query("SELECT id, kind, name FROM geography_layers WHERE authority_id = $1")
        .bind(authority.0)
        .fetch_all(store.pool())
        .await
        .map_err(db_err)?
    {
        let id = int(&row, 0)?;
        let kind = text(&row, 1)?;
        let name = text(&row, 2)?;
        layers.insert(
            (name.clone(), id),
            GeographyLayer {
                id: LayerId(id),
                authority,
                kind: LayerKind::from_code(&kind)
                    .ok_or_else(|| StoreError::Other(format!("stored layer kind {kind:?} is not valid")))?,
                name,
                areas: Vec::new(),
            },
        );
    }
    let rows = sqlx::query(
        "SELECT l.id, a.id, a.code, a.name, m.urn FROM geography_layers l \
         JOIN geography_areas a ON a.layer_id = l.id \
         LEFT JOIN geography_area_schools m ON m.area_id = a.id AND m.authority_id = l.authority_id \
         WHERE l.authority_id = $1 ORDER BY l.id, a.code, a.id, m.urn",
    )
    .bind(authority.0)
    .fetch_all(store.pool())
    .await
    .map_err(db_err)?;
    let mut by_id: BTreeMap<i64, &mut GeographyLayer> = layers.values_mut().map(|l| (l.id.0, l)).collect();
    let mut last_area: Option<i64> = None;
    for row in rows {
        let layer_id = int(&row, 0)?;
        let area_id = int(&row, 1)?;
        let Some(layer) = by_id.get_mut(&layer_id) else {
            continue;
        };
        if last_area != Some(area_id) {
            layer.areas.push(Area {
                code: text(&row, 2)?,
                name: text(&row, 3)?,
                members: Vec::new(),
            });
            last_area = Some(area_id);
        }
        if let Some(u) = crate::rows::opt_i64(&row, 4)?
            && let Some(area) = layer.areas.last_mut()
        {
            area.members.push(urn(u)?);
        }
    }
    Ok(layers.into_values().collect())
}

pub(crate) async fn save_network(
    store: &SqlStore,
    authority: AuthorityId,
    name: &str,
    purpose: &str,
    members: &[Urn],
) -> StoreResult<NetworkId> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let existing = sqlx::query("SELECT id FROM networks WHERE authority_id = $1 AND name = $2")
        .bind(authority.0)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
    let id = match existing {
        Some(row) => {
            let id = int(&row, 0)?;
            sqlx::query("UPDATE networks SET purpose = $2 WHERE id = $1")
                .bind(id)
                .bind(purpose)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            sqlx::query("DELETE FROM network_members WHERE network_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            id
        }
        None => {
            let row =
                sqlx::query("INSERT INTO networks (authority_id, name, purpose) VALUES ($1, $2, $3) RETURNING id")
                    .bind(authority.0)
                    .bind(name)
                    .bind(purpose)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
            int(&row, 0)?
        }
    };
    let mut unique: Vec<Urn> = members.to_vec();
    unique.sort_unstable();
    unique.dedup();
    link_schools(&mut tx, "network_members (network_id", id, authority, &unique).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(NetworkId(id))
}

pub(crate) async fn networks(store: &SqlStore, authority: AuthorityId) -> StoreResult<Vec<Network>> {
    let rows = sqlx::query(
        "SELECT n.id, n.name, n.purpose, m.urn FROM networks n \
         LEFT JOIN network_members m ON m.network_id = n.id AND m.authority_id = n.authority_id \
         WHERE n.authority_id = $1 ORDER BY n.name, n.id, m.urn",
    )
    .bind(authority.0)
    .fetch_all(store.pool())
    .await
    .map_err(db_err)?;
    let mut out: Vec<Network> = Vec::new();
    for row in rows {
        let id = NetworkId(int(&row, 0)?);
        if out.last().map(|n| n.id) != Some(id) {
            out.push(Network {
                id,
                authority,
                name: text(&row, 1)?,
                purpose: text(&row, 2)?,
                members: Vec::new(),
            });
        }
        if let Some(u) = crate::rows::opt_i64(&row, 3)?
            && let Some(n) = out.last_mut()
        {
            n.members.push(urn(u)?);
        }
    }
    Ok(out)
}

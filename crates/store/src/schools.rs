//! Authorities, schools and their census history.

use crate::rows::{
    CENSUS_COLUMNS, LATEST_CENSUS_JOIN, SCHOOL_COLUMNS, census_from_row, date, date_text, degrees_e6, int, opt_text,
    school_from_row, text, urn,
};
use crate::{Dialect, SqlStore, db_err};
use domain::cluster::{Membership, MembershipRole};
use domain::ids::{AuthorityId, ClusterId, LaCode, Urn};
use domain::import::SchoolRecord;
use domain::school::SchoolWithCensus;
use service::store::{
    Authority, SchoolDetail, SchoolListRow, SchoolPage, SchoolQuery, SchoolSort, StoreError, StoreResult, WriteCounts,
};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row};
use std::collections::{HashMap, HashSet};

fn authority_from_row(row: &sqlx::any::AnyRow) -> StoreResult<Authority> {
    let code = int(row, 1)?;
    Ok(Authority {
        id: AuthorityId(int(row, 0)?),
        la_code: LaCode::parse(&format!("{code:03}"))
            .map_err(|_| StoreError::Other(format!("stored LA code {code} is not valid")))?,
        name: text(row, 2)?,
    })
}

pub(crate) async fn create_authority(store: &SqlStore, la_code: LaCode, name: &str) -> StoreResult<Authority> {
    let row = sqlx::query("INSERT INTO authorities (la_code, name) VALUES ($1, $2) RETURNING id, la_code, name")
        .bind(i64::from(la_code.get()))
        .bind(name)
        .fetch_one(store.pool())
        .await
        .map_err(db_err)?;
    authority_from_row(&row)
}

pub(crate) async fn authority(store: &SqlStore, id: AuthorityId) -> StoreResult<Authority> {
    let row = sqlx::query("SELECT id, la_code, name FROM authorities WHERE id = $1")
        .bind(id.0)
        .fetch_optional(store.pool())
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound(format!("authority {id}")))?;
    authority_from_row(&row)
}

pub(crate) async fn authority_by_code(store: &SqlStore, la_code: LaCode) -> StoreResult<Option<Authority>> {
    sqlx::query("SELECT id, la_code, name FROM authorities WHERE la_code = $1")
        .bind(i64::from(la_code.get()))
        .fetch_optional(store.pool())
        .await
        .map_err(db_err)?
        .map(|r| authority_from_row(&r))
        .transpose()
}

pub(crate) async fn list_authorities(store: &SqlStore) -> StoreResult<Vec<Authority>> {
    sqlx::query("SELECT id, la_code, name FROM authorities ORDER BY la_code")
        .fetch_all(store.pool())
        .await
        .map_err(db_err)?
        .iter()
        .map(authority_from_row)
        .collect()
}

const SCHOOL_INSERT_COLUMNS: [&str; 25] = [
    "authority_id",
    "urn",
    "laestab",
    "name",
    "phase",
    "establishment_type",
    "governance",
    "status",
    "opened_on",
    "closed_on",
    "sex",
    "denomination",
    "trust",
    "postcode",
    "easting",
    "northing",
    "latitude_e6",
    "longitude_e6",
    "district_code",
    "district_name",
    "constituency_code",
    "constituency_name",
    "ward_code",
    "ward_name",
    "urban_rural",
];

/// Columns a re-import always overwrites; the rest keep their stored value when the new file
/// leaves them empty (a GIAS file has no latitude, a census file no opening date).
const ALWAYS_OVERWRITTEN: [&str; 5] = ["name", "phase", "establishment_type", "governance", "status"];

const CENSUS_INSERT_COLUMNS: [&str; 16] = [
    "authority_id",
    "urn",
    "census_date",
    "pupils",
    "pupils_fte_tenths",
    "fsm_count",
    "fsm_pct_tenths",
    "sen_count",
    "eal_count",
    "stage_early_years",
    "stage_nursery",
    "stage_ks1",
    "stage_ks2",
    "stage_ks3",
    "stage_ks4",
    "stage_ks5",
];

/// Rows per multi-row INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const CHUNK: usize = 500;

/// `VALUES` tuples for a multi-row insert. SQLite gets anonymous `?` placeholders: it finds a
/// `$N` by walking a list, which makes binding thousands of them quadratic (measured: 94 % of a
/// 25,000-row import). PostgreSQL needs `$N`.
pub(crate) fn values_clause(rows: usize, columns: usize, dialect: Dialect) -> String {
    let mut s = String::with_capacity(rows * columns * 5);
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..columns {
            if c > 0 {
                s.push_str(", ");
            }
            n += 1;
            match dialect {
                Dialect::Sqlite => s.push('?'),
                Dialect::Postgres => {
                    s.push('$');
                    s.push_str(&n.to_string());
                }
            }
        }
        s.push(')');
    }
    s
}

fn upsert_schools_sql(rows: usize, dialect: Dialect) -> String {
    let cols = SCHOOL_INSERT_COLUMNS;
    let updates: Vec<String> = cols[2..]
        .iter()
        .map(|c| {
            if ALWAYS_OVERWRITTEN.contains(c) {
                format!("{c} = excluded.{c}")
            } else {
                format!("{c} = COALESCE(excluded.{c}, schools.{c})")
            }
        })
        .collect();
    format!(
        "INSERT INTO schools ({}) VALUES {} ON CONFLICT (authority_id, urn) DO UPDATE SET {}",
        cols.join(", "),
        values_clause(rows, cols.len(), dialect),
        updates.join(", ")
    )
}

fn upsert_census_sql(rows: usize, dialect: Dialect) -> String {
    let cols = CENSUS_INSERT_COLUMNS;
    let updates: Vec<String> = cols[3..].iter().map(|c| format!("{c} = excluded.{c}")).collect();
    format!(
        "INSERT INTO census ({}) VALUES {} ON CONFLICT (authority_id, urn, census_date) DO UPDATE SET {}",
        cols.join(", "),
        values_clause(rows, cols.len(), dialect),
        updates.join(", ")
    )
}

fn bind_school<'q>(
    q: Query<'q, Any, AnyArguments<'q>>,
    authority: AuthorityId,
    r: &SchoolRecord,
) -> Query<'q, Any, AnyArguments<'q>> {
    let s = &r.school;
    let area_code = |a: &Option<domain::school::AreaRef>| a.as_ref().map(|a| a.code.clone());
    let area_name = |a: &Option<domain::school::AreaRef>| a.as_ref().map(|a| a.name.clone());
    q.bind(authority.0)
        .bind(i64::from(s.urn.get()))
        .bind(s.laestab.map(|l| i64::from(l.get())))
        .bind(s.name.clone())
        .bind(s.phase.code())
        .bind(s.establishment_type.clone())
        .bind(s.governance.code())
        .bind(s.status.code())
        .bind(s.opened_on.map(date_text))
        .bind(s.closed_on.map(date_text))
        .bind(s.sex.clone())
        .bind(s.denomination.clone())
        .bind(s.trust.clone())
        .bind(s.postcode.clone())
        .bind(s.location.map(|l| i64::from(l.easting)))
        .bind(s.location.map(|l| i64::from(l.northing)))
        .bind(s.location.and_then(|l| l.latitude).and_then(degrees_e6))
        .bind(s.location.and_then(|l| l.longitude).and_then(degrees_e6))
        .bind(area_code(&s.district))
        .bind(area_name(&s.district))
        .bind(area_code(&s.constituency))
        .bind(area_name(&s.constituency))
        .bind(area_code(&s.ward))
        .bind(area_name(&s.ward))
        .bind(s.urban_rural.clone())
}

fn bind_census<'q>(
    q: Query<'q, Any, AnyArguments<'q>>,
    authority: AuthorityId,
    r: &SchoolRecord,
) -> Query<'q, Any, AnyArguments<'q>> {
    let Some(c) = &r.census else { return q };
    let mut q = q
        .bind(authority.0)
        .bind(i64::from(r.school.urn.get()))
        .bind(date_text(c.census_date))
        .bind(i64::from(c.pupils))
        .bind(c.pupils_fte.map(|t| t.0))
        .bind(c.fsm_count.map(i64::from))
        .bind(c.fsm_pct.map(|t| t.0))
        .bind(c.sen_count.map(i64::from))
        .bind(c.eal_count.map(i64::from));
    for stage in c.stages {
        q = q.bind(stage.map(i64::from));
    }
    q
}

pub(crate) async fn save_school_import(
    store: &SqlStore,
    authority: AuthorityId,
    rows: &[SchoolRecord],
) -> StoreResult<WriteCounts> {
    // The last row for a URN wins, so one statement never touches a row twice.
    let mut last: HashMap<Urn, usize> = HashMap::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        last.insert(r.school.urn, i);
    }
    let rows: Vec<&SchoolRecord> = rows
        .iter()
        .enumerate()
        .filter(|(i, r)| last[&r.school.urn] == *i)
        .map(|(_, r)| r)
        .collect();

    let mut tx = store.begin_write().await.map_err(db_err)?;
    let existing: HashSet<i64> = sqlx::query("SELECT urn FROM schools WHERE authority_id = $1")
        .bind(authority.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| int(r, 0))
        .collect::<StoreResult<_>>()?;
    let mut counts = WriteCounts::default();
    for r in &rows {
        if existing.contains(&i64::from(r.school.urn.get())) {
            counts.updated += 1;
        } else {
            counts.inserted += 1;
        }
    }
    for chunk in rows.chunks(CHUNK) {
        let sql = upsert_schools_sql(chunk.len(), store.dialect());
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = bind_school(q, authority, r);
        }
        q.execute(&mut *tx).await.map_err(db_err)?;
    }
    let with_census: Vec<&SchoolRecord> = rows.iter().copied().filter(|r| r.census.is_some()).collect();
    for chunk in with_census.chunks(CHUNK) {
        let sql = upsert_census_sql(chunk.len(), store.dialect());
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = bind_census(q, authority, r);
        }
        q.execute(&mut *tx).await.map_err(db_err)?;
    }
    counts.census_rows = with_census.len() as u64;
    if !with_census.is_empty() {
        sqlx::query(
            "UPDATE schools SET latest_census_date = (SELECT MAX(c.census_date) FROM census c \
             WHERE c.authority_id = schools.authority_id AND c.urn = schools.urn) WHERE authority_id = $1",
        )
        .bind(authority.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(counts)
}

pub(crate) async fn all_schools(store: &SqlStore, authority: AuthorityId) -> StoreResult<Vec<SchoolWithCensus>> {
    let sql =
        format!("SELECT {SCHOOL_COLUMNS} FROM schools s {LATEST_CENSUS_JOIN} WHERE s.authority_id = $1 ORDER BY s.urn");
    sqlx::query(&sql)
        .bind(authority.0)
        .fetch_all(store.pool())
        .await
        .map_err(db_err)?
        .iter()
        .map(school_from_row)
        .collect()
}

/// Escapes `%`, `_` and `\` for a LIKE pattern used with `ESCAPE '\'`.
fn like_pattern(s: &str) -> String {
    let mut p = String::with_capacity(s.len() + 2);
    p.push('%');
    for ch in s.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

pub(crate) async fn list_schools(
    store: &SqlStore,
    authority: AuthorityId,
    query: &SchoolQuery,
) -> StoreResult<SchoolPage> {
    let day = date_text(query.on.unwrap_or_default());
    // $1 authority, $2 the day memberships are judged on; filters follow.
    let mut conditions = vec!["s.authority_id = $1".to_string()];
    let mut text_binds: Vec<String> = Vec::new();
    let mut int_binds: Vec<(usize, i64)> = Vec::new();
    let mut n = 2;
    if let Some(search) = query.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        n += 1;
        conditions.push(format!(
            "(LOWER(s.name) LIKE ${n} ESCAPE '\\' OR CAST(s.urn AS TEXT) LIKE ${n} ESCAPE '\\' \
             OR CAST(s.laestab AS TEXT) LIKE ${n} ESCAPE '\\' OR LOWER(REPLACE(s.postcode, ' ', '')) LIKE ${m} ESCAPE '\\')",
            m = n + 1
        ));
        text_binds.push(like_pattern(search));
        text_binds.push(like_pattern(&search.replace(' ', "")));
        n += 1;
    }
    let mut ordered: Vec<(usize, Bind)> = Vec::new();
    for (i, t) in text_binds.into_iter().enumerate() {
        ordered.push((3 + i, Bind::Text(t)));
    }
    if let Some(phase) = query.phase {
        n += 1;
        conditions.push(format!("s.phase = ${n}"));
        ordered.push((n, Bind::Text(phase.code().to_string())));
    }
    if let Some(district) = &query.district {
        n += 1;
        conditions.push(format!("s.district_name = ${n}"));
        ordered.push((n, Bind::Text(district.clone())));
    }
    if let Some(cluster) = query.cluster {
        n += 1;
        conditions.push(format!("cl.id = ${n}"));
        int_binds.push((n, cluster.0));
    }
    for (i, v) in int_binds {
        ordered.push((i, Bind::Int(v)));
    }
    ordered.sort_by_key(|(i, _)| *i);
    let from = format!(
        "FROM schools s {LATEST_CENSUS_JOIN} \
         LEFT JOIN memberships m ON m.authority_id = s.authority_id AND m.urn = s.urn \
           AND m.from_date <= $2 AND (m.to_date IS NULL OR m.to_date > $2) \
         LEFT JOIN clusters cl ON cl.id = m.cluster_id AND cl.authority_id = s.authority_id \
         WHERE {}",
        conditions.join(" AND ")
    );
    let key = match query.sort {
        SchoolSort::Name => "LOWER(s.name)",
        SchoolSort::Urn => "s.urn",
        SchoolSort::Pupils => "c.pupils",
        SchoolSort::FsmPct => "c.fsm_pct_tenths",
        SchoolSort::District => "s.district_name",
    };
    let dir = if query.descending { "DESC" } else { "ASC" };
    let limit = i64::from(query.limit.unwrap_or(50).min(1000));
    let offset = i64::from(query.offset);
    let page_sql = format!(
        "SELECT {SCHOOL_COLUMNS}, cl.id, cl.name {from} \
         ORDER BY ({key} IS NULL), {key} {dir}, LOWER(s.name), s.urn LIMIT {limit} OFFSET {offset}"
    );
    let count_sql = format!("SELECT COUNT(*) {from}");

    let total = bind_list(&count_sql, authority, &day, &ordered)
        .fetch_one(store.pool())
        .await
        .map_err(db_err)?;
    let total = u64::try_from(int(&total, 0)?).unwrap_or(0);
    let rows = bind_list(&page_sql, authority, &day, &ordered)
        .fetch_all(store.pool())
        .await
        .map_err(db_err)?;
    let width = SCHOOL_COLUMNS.split(',').count();
    let rows = rows
        .iter()
        .map(|r| {
            let cluster = match (crate::rows::opt_i64(r, width)?, opt_text(r, width + 1)?) {
                (Some(id), Some(name)) => Some((ClusterId(id), name)),
                _ => None,
            };
            Ok(SchoolListRow {
                school: school_from_row(r)?,
                cluster,
            })
        })
        .collect::<StoreResult<_>>()?;
    Ok(SchoolPage { rows, total })
}

enum Bind {
    Text(String),
    Int(i64),
}

fn bind_list<'q>(
    sql: &'q str,
    authority: AuthorityId,
    day: &str,
    binds: &[(usize, Bind)],
) -> Query<'q, Any, AnyArguments<'q>> {
    let mut q = sqlx::query(sql).bind(authority.0).bind(day.to_string());
    for (_, b) in binds {
        q = match b {
            Bind::Text(t) => q.bind(t.clone()),
            Bind::Int(v) => q.bind(*v),
        };
    }
    q
}

pub(crate) async fn school(store: &SqlStore, authority: AuthorityId, urn_: Urn) -> StoreResult<Option<SchoolDetail>> {
    let sql =
        format!("SELECT {SCHOOL_COLUMNS} FROM schools s {LATEST_CENSUS_JOIN} WHERE s.authority_id = $1 AND s.urn = $2");
    let urn_i = i64::from(urn_.get());
    let Some(row) = sqlx::query(&sql)
        .bind(authority.0)
        .bind(urn_i)
        .fetch_optional(store.pool())
        .await
        .map_err(db_err)?
    else {
        return Ok(None);
    };
    let school = school_from_row(&row)?;
    let history_sql = format!(
        "SELECT {CENSUS_COLUMNS} FROM census c WHERE c.authority_id = $1 AND c.urn = $2 ORDER BY c.census_date DESC"
    );
    let census_history = sqlx::query(&history_sql)
        .bind(authority.0)
        .bind(urn_i)
        .fetch_all(store.pool())
        .await
        .map_err(db_err)?
        .iter()
        .filter_map(|r| census_from_row(r, 0).transpose())
        .collect::<StoreResult<_>>()?;
    let memberships = sqlx::query(
        "SELECT m.urn, m.cluster_id, m.role, m.from_date, m.to_date, cl.name FROM memberships m \
         JOIN clusters cl ON cl.id = m.cluster_id AND cl.authority_id = m.authority_id \
         WHERE m.authority_id = $1 AND m.urn = $2 ORDER BY m.from_date DESC, m.id DESC",
    )
    .bind(authority.0)
    .bind(urn_i)
    .fetch_all(store.pool())
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| Ok((membership_from_row(r)?, text(r, 5)?)))
    .collect::<StoreResult<_>>()?;
    let networks = sqlx::query(
        "SELECT n.id, n.name, n.purpose FROM network_members m JOIN networks n ON n.id = m.network_id \
         AND n.authority_id = m.authority_id WHERE m.authority_id = $1 AND m.urn = $2 ORDER BY n.name, n.id",
    )
    .bind(authority.0)
    .bind(urn_i)
    .fetch_all(store.pool())
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| Ok((domain::ids::NetworkId(int(r, 0)?), text(r, 1)?, text(r, 2)?)))
    .collect::<StoreResult<_>>()?;
    let areas = sqlx::query(
        "SELECT l.kind, l.name, a.code, a.name FROM geography_area_schools m \
         JOIN geography_areas a ON a.id = m.area_id JOIN geography_layers l ON l.id = a.layer_id \
         AND l.authority_id = m.authority_id WHERE m.authority_id = $1 AND m.urn = $2 ORDER BY l.name, a.code",
    )
    .bind(authority.0)
    .bind(urn_i)
    .fetch_all(store.pool())
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        let kind = text(r, 0)?;
        Ok((
            domain::geo::LayerKind::from_code(&kind)
                .ok_or_else(|| StoreError::Other(format!("stored layer kind {kind:?} is not valid")))?,
            text(r, 1)?,
            text(r, 2)?,
            text(r, 3)?,
        ))
    })
    .collect::<StoreResult<_>>()?;
    Ok(Some(SchoolDetail {
        school,
        census_history,
        memberships,
        networks,
        areas,
    }))
}

/// Reads `urn, cluster_id, role, from_date, to_date` from column 0.
pub(crate) fn membership_from_row(r: &sqlx::any::AnyRow) -> StoreResult<Membership> {
    let role = text(r, 2)?;
    Ok(Membership {
        urn: urn(int(r, 0)?)?,
        cluster: ClusterId(int(r, 1)?),
        role: MembershipRole::parse(&role)
            .ok_or_else(|| StoreError::Other(format!("stored role {role:?} is not valid")))?,
        from: date(&text(r, 3)?)?,
        to: opt_text(r, 4)?.map(|d| date(&d)).transpose()?,
    })
}

pub(crate) async fn districts(store: &SqlStore, authority: AuthorityId) -> StoreResult<Vec<String>> {
    sqlx::query(
        "SELECT DISTINCT district_name FROM schools WHERE authority_id = $1 AND district_name IS NOT NULL ORDER BY district_name",
    )
    .bind(authority.0)
    .fetch_all(store.pool())
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| r.try_get::<String, _>(0).map_err(db_err))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("A_b%"), "%a\\_b\\%%");
        assert_eq!(values_clause(2, 2, Dialect::Postgres), "($1, $2), ($3, $4)");
        assert_eq!(values_clause(2, 2, Dialect::Sqlite), "(?, ?), (?, ?)");
    }
}

//! Design scenarios: parameters, the run's figures, the map, findings, and adoption as new
//! dated memberships. Every query is scoped by authority; each function is one transaction.

use crate::rows::{date, date_text, int, opt_i64, opt_text, text, urn};
use crate::{SqlStore, db_err};
use domain::design::Objective;
use domain::ids::{AuthorityId, UserId};
use domain::school::{Phase, Tenths};
use service::design::{
    Adoption, Finding, FindingKind, NewAdoption, NewScenario, RunFigures, ScenarioCluster, ScenarioId, ScenarioOutcome,
    ScenarioParameters, ScenarioRecord, ScenarioStatus, ScenarioSummary, districts_code, mode_code, parse_districts,
    parse_mode,
};
use service::store::{StoreError, StoreResult, WriteCounts};
use sqlx::any::AnyRow;

fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("stored {what} is not valid: {value}"))
}

/// Thousandths, exact for the figures the service rounds to three places.
fn to_milli(x: f64) -> i64 {
    (x * 1000.0).round() as i64
}

fn from_milli(v: i64) -> f64 {
    v as f64 / 1000.0
}

fn count(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn unsigned(v: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| corrupt(what, v))
}

fn small(v: i64, what: &str) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| corrupt(what, v))
}

const SUMMARY_COLUMNS: &str = "s.id, s.name, s.illustrative, s.mode, s.min_pupils, s.max_pupils, s.min_clusters, \
    s.max_clusters, s.districts, s.seed, s.time_limit_s, s.max_iterations, s.excluded_phases, s.excluded_urns, \
    s.status, s.ran_by_name, s.started_at, s.finished_at, s.schools, s.pupils, s.objective_milli, s.adopted_on, \
    s.adopted_by_name, s.adopted_at, \
    (SELECT COUNT(*) FROM design_scenario_clusters c WHERE c.scenario_id = s.id), \
    s.iterations, s.stop_reason, s.elapsed_ms, s.travel_milli, s.district_penalty_milli, \
    s.division_penalty_milli, s.split_penalty_milli, s.cluster_count_penalty_milli, s.must_link, s.locks";

fn summary_from_row(row: &AnyRow) -> StoreResult<ScenarioSummary> {
    let mode = text(row, 3)?;
    let districts = text(row, 8)?;
    let status = text(row, 14)?;
    let phases = text(row, 12)?;
    let urns = text(row, 13)?;
    let params = ScenarioParameters {
        name: text(row, 1)?,
        mode: parse_mode(&mode).ok_or_else(|| corrupt("mode", &mode))?,
        min_pupils: small(int(row, 4)?, "min_pupils")?,
        max_pupils: small(int(row, 5)?, "max_pupils")?,
        min_clusters: small(int(row, 6)?, "min_clusters")?,
        max_clusters: small(int(row, 7)?, "max_clusters")?,
        districts: parse_districts(&districts).ok_or_else(|| corrupt("districts", &districts))?,
        seed: small(int(row, 9)?, "seed")?,
        time_limit_s: small(int(row, 10)?, "time_limit_s")?,
        max_iterations: opt_i64(row, 11)?.map(|v| unsigned(v, "max_iterations")).transpose()?,
        excluded_phases: phases
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| Phase::from_code(p).ok_or_else(|| corrupt("phase", p)))
            .collect::<StoreResult<_>>()?,
        excluded_urns: urns
            .split(',')
            .filter(|u| !u.is_empty())
            .map(|u| u.parse::<i64>().map_err(|_| corrupt("URN", u)).and_then(urn))
            .collect::<StoreResult<_>>()?,
        must_link: text(row, 33)?
            .split(';')
            .filter(|g| !g.is_empty())
            .map(|g| {
                g.split(',')
                    .map(|u| u.parse::<i64>().map_err(|_| corrupt("URN", u)).and_then(urn))
                    .collect::<StoreResult<Vec<_>>>()
            })
            .collect::<StoreResult<_>>()?,
        locks: text(row, 34)?
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (u, label) = l.split_once('\t').ok_or_else(|| corrupt("lock", l))?;
                Ok((
                    u.parse::<i64>().map_err(|_| corrupt("URN", u)).and_then(urn)?,
                    label.to_string(),
                ))
            })
            .collect::<StoreResult<_>>()?,
    };
    let adoption = match opt_text(row, 21)? {
        Some(day) => Some(Adoption {
            effective: date(&day)?,
            by_name: opt_text(row, 22)?.unwrap_or_default(),
            at: opt_i64(row, 23)?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(ScenarioSummary {
        id: ScenarioId(int(row, 0)?),
        params,
        illustrative: int(row, 2)? != 0,
        status: ScenarioStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        ran_by_name: text(row, 15)?,
        started_at: int(row, 16)?,
        finished_at: opt_i64(row, 17)?,
        schools: small(int(row, 18)?, "schools")?,
        pupils: unsigned(int(row, 19)?, "pupils")?,
        objective: opt_i64(row, 20)?.map(from_milli),
        adoption,
        clusters: small(int(row, 24)?, "cluster count")?,
    })
}

fn run_from_row(row: &AnyRow) -> StoreResult<Option<RunFigures>> {
    let Some(iterations) = opt_i64(row, 25)? else {
        return Ok(None);
    };
    let part = |i: usize| -> StoreResult<Option<f64>> { Ok(opt_i64(row, i)?.map(from_milli)) };
    let objective = match (part(20)?, part(28)?, part(29)?, part(30)?, part(31)?, part(32)?) {
        (Some(total), Some(travel), Some(d), Some(v), Some(s), Some(c)) => Some(Objective {
            total,
            travel,
            district_penalty: d,
            division_penalty: v,
            split_penalty: s,
            cluster_count_penalty: c,
        }),
        _ => None,
    };
    Ok(Some(RunFigures {
        iterations: unsigned(iterations, "iterations")?,
        stop: opt_text(row, 26)?.unwrap_or_default(),
        elapsed_ms: unsigned(opt_i64(row, 27)?.unwrap_or_default(), "elapsed_ms")?,
        objective,
    }))
}

pub(crate) async fn create_scenario(
    store: &SqlStore,
    authority: AuthorityId,
    s: &NewScenario,
) -> StoreResult<ScenarioId> {
    let p = &s.params;
    let phases: Vec<&str> = p.excluded_phases.iter().map(|p| p.code()).collect();
    let urns: Vec<String> = p.excluded_urns.iter().map(ToString::to_string).collect();
    let must_link: Vec<String> = p
        .must_link
        .iter()
        .map(|g| g.iter().map(ToString::to_string).collect::<Vec<_>>().join(","))
        .collect();
    let locks: Vec<String> = p.locks.iter().map(|(u, l)| format!("{u}\t{l}")).collect();
    let row = sqlx::query(
        "INSERT INTO design_scenarios (authority_id, name, illustrative, mode, min_pupils, max_pupils, \
         min_clusters, max_clusters, districts, seed, time_limit_s, max_iterations, excluded_phases, \
         excluded_urns, status, ran_by_user, ran_by_name, started_at, schools, pupils, must_link, locks) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
         $21, $22) RETURNING id",
    )
    .bind(authority.0)
    .bind(p.name.clone())
    .bind(i64::from(s.illustrative))
    .bind(mode_code(p.mode))
    .bind(i64::from(p.min_pupils))
    .bind(i64::from(p.max_pupils))
    .bind(i64::from(p.min_clusters))
    .bind(i64::from(p.max_clusters))
    .bind(districts_code(p.districts))
    .bind(i64::from(p.seed))
    .bind(i64::from(p.time_limit_s))
    .bind(p.max_iterations.map(count))
    .bind(phases.join(","))
    .bind(urns.join(","))
    .bind(ScenarioStatus::Running.code())
    .bind(s.ran_by.map(|u| u.0))
    .bind(s.ran_by_name.clone())
    .bind(s.started_at)
    .bind(i64::from(s.schools))
    .bind(count(s.pupils))
    .bind(must_link.join(";"))
    .bind(locks.join("\n"))
    .fetch_one(store.pool())
    .await
    .map_err(db_err)?;
    Ok(ScenarioId(int(&row, 0)?))
}

pub(crate) async fn finish_scenario(
    store: &SqlStore,
    authority: AuthorityId,
    id: ScenarioId,
    o: &ScenarioOutcome,
) -> StoreResult<()> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let objective = o.run.objective;
    let part = |f: fn(&Objective) -> f64| objective.as_ref().map(|x| to_milli(f(x)));
    let updated = sqlx::query(
        "UPDATE design_scenarios SET status = $3, finished_at = $4, iterations = $5, stop_reason = $6, \
         elapsed_ms = $7, objective_milli = $8, travel_milli = $9, district_penalty_milli = $10, \
         division_penalty_milli = $11, split_penalty_milli = $12, cluster_count_penalty_milli = $13 \
         WHERE authority_id = $1 AND id = $2 AND status = $14",
    )
    .bind(authority.0)
    .bind(id.0)
    .bind(o.status.code())
    .bind(o.finished_at)
    .bind(count(o.run.iterations))
    .bind(o.run.stop.clone())
    .bind(count(o.run.elapsed_ms))
    .bind(part(|x| x.total))
    .bind(part(|x| x.travel))
    .bind(part(|x| x.district_penalty))
    .bind(part(|x| x.division_penalty))
    .bind(part(|x| x.split_penalty))
    .bind(part(|x| x.cluster_count_penalty))
    .bind(ScenarioStatus::Running.code())
    .execute(&mut *tx)
    .await
    .map_err(db_err)?
    .rows_affected();
    if updated != 1 {
        return Err(StoreError::Conflict(format!(
            "scenario {id} is not running, so it cannot finish"
        )));
    }
    for (position, c) in o.clusters.iter().enumerate() {
        let phases: Vec<String> = c.by_phase.iter().map(|(p, n)| format!("{}={n}", p.code())).collect();
        sqlx::query(
            "INSERT INTO design_scenario_clusters (scenario_id, authority_id, position, label, name, hub_urn, \
             pupils, schools, phases, fsm_pct_tenths, districts, longest_m, travel_milli) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(id.0)
        .bind(authority.0)
        .bind(count(position as u64))
        .bind(c.label.clone())
        .bind(c.name.clone())
        .bind(c.hub.map(|u| i64::from(u.get())))
        .bind(count(c.pupils))
        .bind(i64::from(c.schools))
        .bind(phases.join(","))
        .bind(c.fsm_pct.map(|t| t.0))
        .bind(c.districts.join("\n"))
        .bind(count(c.longest_m))
        .bind(to_milli(c.travel))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    for (u, label) in &o.assignment {
        sqlx::query(
            "INSERT INTO design_scenario_schools (scenario_id, authority_id, urn, label) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.0)
        .bind(authority.0)
        .bind(i64::from(u.get()))
        .bind(label.clone())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    for (position, f) in o.findings.iter().enumerate() {
        sqlx::query(
            "INSERT INTO design_scenario_findings (scenario_id, authority_id, position, kind, principle, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.0)
        .bind(authority.0)
        .bind(count(position as u64))
        .bind(f.kind.code())
        .bind(f.principle.clone())
        .bind(f.detail.clone())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

pub(crate) async fn scenarios(store: &SqlStore, authority: AuthorityId) -> StoreResult<Vec<ScenarioSummary>> {
    let sql = format!("SELECT {SUMMARY_COLUMNS} FROM design_scenarios s WHERE s.authority_id = $1 ORDER BY s.id");
    sqlx::query(&sql)
        .bind(authority.0)
        .fetch_all(store.pool())
        .await
        .map_err(db_err)?
        .iter()
        .map(summary_from_row)
        .collect()
}

pub(crate) async fn scenario(
    store: &SqlStore,
    authority: AuthorityId,
    id: ScenarioId,
) -> StoreResult<Option<ScenarioRecord>> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let sql = format!("SELECT {SUMMARY_COLUMNS} FROM design_scenarios s WHERE s.authority_id = $1 AND s.id = $2");
    let Some(row) = sqlx::query(&sql)
        .bind(authority.0)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
    else {
        return Ok(None);
    };
    let summary = summary_from_row(&row)?;
    let run = run_from_row(&row)?;
    let clusters = sqlx::query(
        "SELECT label, name, hub_urn, pupils, schools, phases, fsm_pct_tenths, districts, longest_m, travel_milli \
         FROM design_scenario_clusters WHERE authority_id = $1 AND scenario_id = $2 ORDER BY position",
    )
    .bind(authority.0)
    .bind(id.0)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        let phases = text(r, 5)?;
        let by_phase = phases
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (code, n) = p.split_once('=').ok_or_else(|| corrupt("phase count", p))?;
                Ok((
                    Phase::from_code(code).ok_or_else(|| corrupt("phase", code))?,
                    n.parse::<u32>().map_err(|_| corrupt("phase count", p))?,
                ))
            })
            .collect::<StoreResult<_>>()?;
        let districts = text(r, 7)?;
        Ok(ScenarioCluster {
            label: text(r, 0)?,
            name: text(r, 1)?,
            hub: opt_i64(r, 2)?.map(urn).transpose()?,
            pupils: unsigned(int(r, 3)?, "pupils")?,
            schools: small(int(r, 4)?, "schools")?,
            by_phase,
            fsm_pct: opt_i64(r, 6)?.map(Tenths),
            districts: districts
                .lines()
                .map(str::to_string)
                .filter(|d| !d.is_empty())
                .collect(),
            longest_m: unsigned(int(r, 8)?, "longest_m")?,
            travel: from_milli(int(r, 9)?),
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    let assignment = sqlx::query(
        "SELECT urn, label FROM design_scenario_schools WHERE authority_id = $1 AND scenario_id = $2 ORDER BY urn",
    )
    .bind(authority.0)
    .bind(id.0)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| Ok((urn(int(r, 0)?)?, text(r, 1)?)))
    .collect::<StoreResult<Vec<_>>>()?;
    let findings = sqlx::query(
        "SELECT kind, principle, detail FROM design_scenario_findings \
         WHERE authority_id = $1 AND scenario_id = $2 ORDER BY position",
    )
    .bind(authority.0)
    .bind(id.0)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        let kind = text(r, 0)?;
        Ok(Finding {
            kind: FindingKind::parse(&kind).ok_or_else(|| corrupt("finding kind", &kind))?,
            principle: text(r, 1)?,
            detail: text(r, 2)?,
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    tx.commit().await.map_err(db_err)?;
    Ok(Some(ScenarioRecord {
        summary,
        run,
        clusters,
        assignment,
        findings,
    }))
}

pub(crate) async fn cluster_names(store: &SqlStore, authority: AuthorityId) -> StoreResult<Vec<String>> {
    sqlx::query("SELECT name FROM clusters WHERE authority_id = $1 ORDER BY name")
        .bind(authority.0)
        .fetch_all(store.pool())
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| text(r, 0))
        .collect()
}

pub(crate) async fn adopt_scenario(
    store: &SqlStore,
    authority: AuthorityId,
    id: ScenarioId,
    a: &NewAdoption,
) -> StoreResult<WriteCounts> {
    let day = date_text(a.adoption.effective);
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let marked = sqlx::query(
        "UPDATE design_scenarios SET adopted_on = $3, adopted_by_user = $4, adopted_by_name = $5, adopted_at = $6 \
         WHERE authority_id = $1 AND id = $2 AND status = $7 AND adopted_on IS NULL",
    )
    .bind(authority.0)
    .bind(id.0)
    .bind(day.clone())
    .bind(a.by.map(|u: UserId| u.0))
    .bind(a.adoption.by_name.clone())
    .bind(a.adoption.at)
    .bind(ScenarioStatus::Done.code())
    .execute(&mut *tx)
    .await
    .map_err(db_err)?
    .rows_affected();
    if marked != 1 {
        return Err(StoreError::Conflict(format!(
            "scenario {id} cannot be adopted: it has no map or was adopted already"
        )));
    }
    let later = sqlx::query("SELECT MAX(from_date) FROM memberships WHERE authority_id = $1 AND from_date > $2")
        .bind(authority.0)
        .bind(day.clone())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if let Some(latest) = opt_text(&later, 0)? {
        return Err(StoreError::Conflict(format!(
            "memberships already start later, on {latest}: the new map must start on or after that day"
        )));
    }
    // A membership starting on the day itself never took effect: the new map replaces it, as
    // a membership file does.
    let replaced = sqlx::query("DELETE FROM memberships WHERE authority_id = $1 AND from_date = $2")
        .bind(authority.0)
        .bind(day.clone())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    let mut counts = WriteCounts {
        updated: replaced
            + sqlx::query(
                "UPDATE memberships SET to_date = $2 WHERE authority_id = $1 AND (to_date IS NULL OR to_date > $2)",
            )
            .bind(authority.0)
            .bind(day.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected(),
        ..WriteCounts::default()
    };
    for (name, members) in &a.clusters {
        let row =
            sqlx::query("INSERT INTO clusters (authority_id, name, illustrative) VALUES ($1, $2, 0) RETURNING id")
                .bind(authority.0)
                .bind(name.clone())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
        let cluster = int(&row, 0)?;
        counts.clusters_created += 1;
        for (u, role) in members {
            sqlx::query(
                "INSERT INTO memberships (authority_id, urn, cluster_id, role, from_date) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(authority.0)
            .bind(i64::from(u.get()))
            .bind(cluster)
            .bind(role.code())
            .bind(day.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            counts.inserted += 1;
        }
    }
    tx.commit().await.map_err(db_err)?;
    Ok(counts)
}

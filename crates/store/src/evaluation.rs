//! Plans, monitoring and evaluation: settings, extra measures, metric values, improvement plans
//! (saved whole, like a committee), FADE reports and questionnaires. Every query is scoped by
//! authority; every write is one transaction.

use crate::rows::{date, date_text, int, opt_i64, opt_text, text, urn};
use crate::schools::values_clause;
use crate::{SqlStore, db_err};
use domain::evaluation::fade::{Calendar, Judgement, Report};
use domain::evaluation::kappa::Scale;
use domain::evaluation::metrics::{MeasureDef, MetricRecord, Number, Observation, Place, Unit};
use domain::evaluation::plan::{Activity, Plan, Priority};
use domain::evaluation::questionnaire::{Questionnaire, Response};
use domain::evaluation::targets::{Target, TargetLevel};
use domain::evaluation::{AcademicYear, PupilGroup};
use domain::ids::{AuthorityId, ClusterId};
use domain::money::Money;
use service::evaluation::EvaluationSettings;
use service::store::{StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

fn corrupt(what: &str, v: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("stored {what} is not valid: {v}"))
}

fn year(v: i64) -> StoreResult<AcademicYear> {
    u16::try_from(v)
        .ok()
        .and_then(|y| AcademicYear::starting(y).ok())
        .ok_or_else(|| corrupt("academic year", v))
}

fn year_code(v: i64) -> StoreResult<AcademicYear> {
    u32::try_from(v)
        .ok()
        .and_then(AcademicYear::from_code)
        .ok_or_else(|| corrupt("time period", v))
}

fn group(s: &str) -> StoreResult<PupilGroup> {
    PupilGroup::parse(s).ok_or_else(|| corrupt("pupil group", s))
}

fn usize_of(v: i64) -> StoreResult<usize> {
    usize::try_from(v).map_err(|_| corrupt("position", v))
}

async fn own_cluster(tx: &mut Transaction<'_, Any>, authority: AuthorityId, cluster: ClusterId) -> StoreResult<()> {
    let row = sqlx::query("SELECT COUNT(*) FROM clusters WHERE id = $1 AND authority_id = $2")
        .bind(cluster.0)
        .bind(authority.0)
        .fetch_one(&mut **tx)
        .await
        .map_err(db_err)?;
    if int(&row, 0)? == 0 {
        return Err(StoreError::NotFound(format!("cluster {cluster}")));
    }
    Ok(())
}

pub(crate) async fn evaluation_settings(
    store: &SqlStore,
    authority: AuthorityId,
) -> StoreResult<Option<EvaluationSettings>> {
    let row = sqlx::query(
        "SELECT fade_due, judgement_scale, redirect_after_terms, suppression_threshold, metrics_note \
         FROM evaluation_settings \
         WHERE authority_id = $1",
    )
    .bind(authority.0)
    .fetch_optional(store.pool())
    .await
    .map_err(db_err)?;
    let Some(r) = row else { return Ok(None) };
    let due = text(&r, 0)?;
    let scale = text(&r, 1)?;
    Ok(Some(EvaluationSettings {
        calendar: Calendar::parse(&due).map_err(|_| corrupt("FADE calendar", &due))?,
        scale: Scale::parse(&scale).map_err(|_| corrupt("judgement scale", &scale))?,
        redirect_after_terms: u32::try_from(int(&r, 2)?).map_err(|_| corrupt("terms", "negative"))?,
        suppression_threshold: u64::try_from(int(&r, 3)?).map_err(|_| corrupt("threshold", "negative"))?,
        metrics_note: opt_text(&r, 4)?,
    }))
}

pub(crate) async fn save_evaluation_settings(
    store: &SqlStore,
    authority: AuthorityId,
    s: &EvaluationSettings,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO evaluation_settings (authority_id, fade_due, judgement_scale, redirect_after_terms, \
         suppression_threshold, metrics_note) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (authority_id) DO UPDATE SET \
         fade_due = excluded.fade_due, judgement_scale = excluded.judgement_scale, \
         redirect_after_terms = excluded.redirect_after_terms, suppression_threshold = excluded.suppression_threshold, \
         metrics_note = excluded.metrics_note",
    )
    .bind(authority.0)
    .bind(s.calendar.code())
    .bind(s.scale.to_string())
    .bind(i64::from(s.redirect_after_terms))
    .bind(i64::try_from(s.suppression_threshold).unwrap_or(i64::MAX))
    .bind(s.metrics_note.clone())
    .execute(store.pool())
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn extra_measures(store: &SqlStore, authority: AuthorityId) -> StoreResult<Vec<MeasureDef>> {
    sqlx::query(
        "SELECT code, label, unit, higher_is_better FROM evaluation_measures WHERE authority_id = $1 ORDER BY code",
    )
    .bind(authority.0)
    .fetch_all(store.pool())
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        let unit = text(r, 2)?;
        Ok(MeasureDef {
            code: text(r, 0)?,
            label: text(r, 1)?,
            unit: Unit::parse(&unit).ok_or_else(|| corrupt("unit", &unit))?,
            higher_is_better: int(r, 3)? != 0,
        })
    })
    .collect()
}

/// Rows per multi-row INSERT (7 columns: well under both databases' parameter limits).
const CHUNK: usize = 1_000;

fn place_urn(p: Place) -> i64 {
    match p {
        Place::School(u) => i64::from(u.get()),
        Place::National => 0,
    }
}

pub(crate) async fn save_metrics(
    store: &SqlStore,
    authority: AuthorityId,
    rows: &[MetricRecord],
    new_measures: &[MeasureDef],
) -> StoreResult<u64> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    for m in new_measures {
        sqlx::query(
            "INSERT INTO evaluation_measures (authority_id, code, label, unit, higher_is_better) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (authority_id, code) DO NOTHING",
        )
        .bind(authority.0)
        .bind(m.code.clone())
        .bind(m.label.clone())
        .bind(m.unit.code())
        .bind(i64::from(m.higher_is_better))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO metric_values (authority_id, measure, pupil_group, time_period, urn, value_e4, symbol) \
             VALUES {} ON CONFLICT (authority_id, measure, pupil_group, time_period, urn) DO UPDATE SET \
             value_e4 = excluded.value_e4, symbol = excluded.symbol",
            values_clause(chunk.len(), 7, store.dialect())
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(authority.0)
                .bind(r.measure.clone())
                .bind(r.group.code())
                .bind(i64::from(r.period.code()))
                .bind(place_urn(r.place))
                .bind(r.value.number().map(Number::ten_thousandths))
                .bind(r.value.symbol());
        }
        q.execute(&mut *tx).await.map_err(db_err)?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(rows.len() as u64)
}

fn metric_from_row(r: &AnyRow) -> StoreResult<MetricRecord> {
    let u = int(r, 3)?;
    let place = if u == 0 {
        Place::National
    } else {
        Place::School(urn(u)?)
    };
    let value = match (opt_i64(r, 4)?, opt_text(r, 5)?) {
        (Some(v), None) => Observation::Value(Number::from_ten_thousandths(v)),
        (None, Some(s)) => Observation::from_symbol(&s).ok_or_else(|| corrupt("symbol", &s))?,
        _ => return Err(corrupt("metric value", "neither a number nor a symbol")),
    };
    Ok(MetricRecord {
        line: 0,
        period: year_code(int(r, 2)?)?,
        place,
        measure: text(r, 0)?,
        group: group(&text(r, 1)?)?,
        value,
    })
}

pub(crate) async fn metric_values(
    store: &SqlStore,
    authority: AuthorityId,
    measure: Option<&str>,
) -> StoreResult<Vec<MetricRecord>> {
    let base = "SELECT measure, pupil_group, time_period, urn, value_e4, symbol FROM metric_values \
                WHERE authority_id = $1";
    let order = " ORDER BY measure, pupil_group, time_period, urn";
    let rows = match measure {
        Some(m) => sqlx::query(&format!("{base} AND measure = $2{order}"))
            .bind(authority.0)
            .bind(m.to_string())
            .fetch_all(store.pool())
            .await
            .map_err(db_err)?,
        None => sqlx::query(&format!("{base}{order}"))
            .bind(authority.0)
            .fetch_all(store.pool())
            .await
            .map_err(db_err)?,
    };
    rows.iter().map(metric_from_row).collect()
}

pub(crate) async fn save_plan(store: &SqlStore, authority: AuthorityId, plan: &Plan) -> StoreResult<()> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    own_cluster(&mut tx, authority, plan.cluster).await?;
    let year_start = i64::from(plan.year.start_year());
    let existing = sqlx::query("SELECT id FROM improvement_plans WHERE cluster_id = $1 AND year_start = $2")
        .bind(plan.cluster.0)
        .bind(year_start)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
    let id = match existing {
        Some(r) => int(&r, 0)?,
        None => {
            let r = sqlx::query(
                "INSERT INTO improvement_plans (authority_id, cluster_id, year_start) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(authority.0)
            .bind(plan.cluster.0)
            .bind(year_start)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
            int(&r, 0)?
        }
    };
    for table in [
        "plan_priorities",
        "plan_activity_schools",
        "plan_activities",
        "plan_targets",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE plan_id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    for (i, p) in plan.priorities.iter().enumerate() {
        sqlx::query("INSERT INTO plan_priorities (plan_id, position, title, detail) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(i as i64)
            .bind(p.title.clone())
            .bind(p.detail.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    for (i, a) in plan.activities.iter().enumerate() {
        sqlx::query(
            "INSERT INTO plan_activities (plan_id, position, priority_position, title, lead_urn, strand, \
             funding_stream, budget_pence, starts_on, ends_on, success_criteria, measure) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(id)
        .bind(i as i64)
        .bind(a.priority as i64)
        .bind(a.title.clone())
        .bind(i64::from(a.lead_school.get()))
        .bind(a.strand.clone())
        .bind(a.funding_stream.clone())
        .bind(a.budget.pence())
        .bind(date_text(a.starts_on))
        .bind(date_text(a.ends_on))
        .bind(a.success_criteria.clone())
        .bind(a.measure.clone())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut schools = a.participating.clone();
        schools.sort_unstable();
        schools.dedup();
        for u in schools {
            sqlx::query("INSERT INTO plan_activity_schools (plan_id, activity_position, urn) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(i as i64)
                .bind(i64::from(u.get()))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
    }
    for (i, t) in plan.targets.iter().enumerate() {
        sqlx::query(
            "INSERT INTO plan_targets (plan_id, position, measure, pupil_group, urn, baseline_e4, baseline_year, \
             target_e4, target_year) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(i as i64)
        .bind(t.measure.clone())
        .bind(t.group.code())
        .bind(match t.level {
            TargetLevel::Cluster => None,
            TargetLevel::School(u) => Some(i64::from(u.get())),
        })
        .bind(t.baseline.ten_thousandths())
        .bind(i64::from(t.baseline_year.start_year()))
        .bind(t.target.ten_thousandths())
        .bind(i64::from(t.target_year.start_year()))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

/// Loads plans whole by id (the caller has scoped the ids by authority).
async fn load_plans(store: &SqlStore, ids: Vec<(i64, ClusterId, AcademicYear)>) -> StoreResult<Vec<Plan>> {
    let mut out = Vec::with_capacity(ids.len());
    let pool = store.pool();
    for (id, cluster, plan_year) in ids {
        let mut plan = Plan::new(cluster, plan_year);
        for r in sqlx::query("SELECT title, detail FROM plan_priorities WHERE plan_id = $1 ORDER BY position")
            .bind(id)
            .fetch_all(pool)
            .await
            .map_err(db_err)?
        {
            plan.priorities.push(Priority {
                title: text(&r, 0)?,
                detail: text(&r, 1)?,
            });
        }
        let schools = sqlx::query(
            "SELECT activity_position, urn FROM plan_activity_schools WHERE plan_id = $1 ORDER BY activity_position, urn",
        )
        .bind(id)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
        for r in sqlx::query(
            "SELECT position, priority_position, title, lead_urn, strand, funding_stream, budget_pence, starts_on, \
             ends_on, success_criteria, measure FROM plan_activities WHERE plan_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(pool)
        .await
        .map_err(db_err)?
        {
            let position = int(&r, 0)?;
            let mut participating = Vec::new();
            for s in &schools {
                if int(s, 0)? == position {
                    participating.push(urn(int(s, 1)?)?);
                }
            }
            plan.activities.push(Activity {
                title: text(&r, 2)?,
                priority: usize_of(int(&r, 1)?)?,
                lead_school: urn(int(&r, 3)?)?,
                strand: text(&r, 4)?,
                participating,
                funding_stream: text(&r, 5)?,
                budget: Money::from_pence(int(&r, 6)?),
                starts_on: date(&text(&r, 7)?)?,
                ends_on: date(&text(&r, 8)?)?,
                success_criteria: text(&r, 9)?,
                measure: opt_text(&r, 10)?,
            });
        }
        for r in sqlx::query(
            "SELECT measure, pupil_group, urn, baseline_e4, baseline_year, target_e4, target_year FROM plan_targets \
             WHERE plan_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(pool)
        .await
        .map_err(db_err)?
        {
            plan.targets.push(Target {
                measure: text(&r, 0)?,
                group: group(&text(&r, 1)?)?,
                level: match opt_i64(&r, 2)? {
                    None => TargetLevel::Cluster,
                    Some(u) => TargetLevel::School(urn(u)?),
                },
                baseline: Number::from_ten_thousandths(int(&r, 3)?),
                baseline_year: year(int(&r, 4)?)?,
                target: Number::from_ten_thousandths(int(&r, 5)?),
                target_year: year(int(&r, 6)?)?,
            });
        }
        out.push(plan);
    }
    Ok(out)
}

pub(crate) async fn plan(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
    year_: AcademicYear,
) -> StoreResult<Option<Plan>> {
    let row =
        sqlx::query("SELECT id FROM improvement_plans WHERE authority_id = $1 AND cluster_id = $2 AND year_start = $3")
            .bind(authority.0)
            .bind(cluster.0)
            .bind(i64::from(year_.start_year()))
            .fetch_optional(store.pool())
            .await
            .map_err(db_err)?;
    let Some(r) = row else { return Ok(None) };
    Ok(load_plans(store, vec![(int(&r, 0)?, cluster, year_)]).await?.pop())
}

pub(crate) async fn plans(store: &SqlStore, authority: AuthorityId, year_: AcademicYear) -> StoreResult<Vec<Plan>> {
    let ids = sqlx::query(
        "SELECT id, cluster_id FROM improvement_plans WHERE authority_id = $1 AND year_start = $2 ORDER BY cluster_id",
    )
    .bind(authority.0)
    .bind(i64::from(year_.start_year()))
    .fetch_all(store.pool())
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| Ok((int(r, 0)?, ClusterId(int(r, 1)?), year_)))
    .collect::<StoreResult<Vec<_>>>()?;
    load_plans(store, ids).await
}

fn judgement_cols(j: &Option<Judgement>) -> (Option<String>, Option<String>, Option<String>, Option<String>) {
    match j {
        Some(j) => (
            Some(j.level.clone()),
            Some(j.by.clone()),
            Some(date_text(j.on)),
            Some(j.comment.clone()),
        ),
        None => (None, None, None, None),
    }
}

pub(crate) async fn save_fade_report(store: &SqlStore, authority: AuthorityId, r: &Report) -> StoreResult<()> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    own_cluster(&mut tx, authority, r.cluster).await?;
    let (cl, cb, co, cc) = judgement_cols(&r.cluster_judgement);
    let (al, ab, ao, ac) = judgement_cols(&r.authority_judgement);
    sqlx::query(
        "INSERT INTO fade_reports (authority_id, cluster_id, due_on, focus, analysis_notes, develop_do, evaluation, \
         cluster_level, cluster_by, cluster_on, cluster_comment, authority_level, authority_by, authority_on, \
         authority_comment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (cluster_id, due_on) DO UPDATE SET focus = excluded.focus, \
         analysis_notes = excluded.analysis_notes, develop_do = excluded.develop_do, \
         evaluation = excluded.evaluation, cluster_level = excluded.cluster_level, \
         cluster_by = excluded.cluster_by, cluster_on = excluded.cluster_on, \
         cluster_comment = excluded.cluster_comment, authority_level = excluded.authority_level, \
         authority_by = excluded.authority_by, authority_on = excluded.authority_on, \
         authority_comment = excluded.authority_comment",
    )
    .bind(authority.0)
    .bind(r.cluster.0)
    .bind(date_text(r.due))
    .bind(r.focus.clone())
    .bind(r.analysis_notes.clone())
    .bind(r.develop_do.clone())
    .bind(r.evaluation.clone())
    .bind(cl)
    .bind(cb)
    .bind(co)
    .bind(cc)
    .bind(al)
    .bind(ab)
    .bind(ao)
    .bind(ac)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

fn judgement_at(r: &AnyRow, at: usize) -> StoreResult<Option<Judgement>> {
    let Some(level) = opt_text(r, at)? else {
        return Ok(None);
    };
    Ok(Some(Judgement {
        level,
        by: opt_text(r, at + 1)?.unwrap_or_default(),
        on: date(&opt_text(r, at + 2)?.unwrap_or_default())?,
        comment: opt_text(r, at + 3)?.unwrap_or_default(),
    }))
}

pub(crate) async fn fade_reports(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: Option<ClusterId>,
) -> StoreResult<Vec<Report>> {
    let base = "SELECT cluster_id, due_on, focus, analysis_notes, develop_do, evaluation, cluster_level, cluster_by, \
                cluster_on, cluster_comment, authority_level, authority_by, authority_on, authority_comment \
                FROM fade_reports WHERE authority_id = $1";
    let rows = match cluster {
        Some(c) => sqlx::query(&format!("{base} AND cluster_id = $2 ORDER BY due_on, cluster_id"))
            .bind(authority.0)
            .bind(c.0)
            .fetch_all(store.pool())
            .await
            .map_err(db_err)?,
        None => sqlx::query(&format!("{base} ORDER BY due_on, cluster_id"))
            .bind(authority.0)
            .fetch_all(store.pool())
            .await
            .map_err(db_err)?,
    };
    rows.iter()
        .map(|r| {
            Ok(Report {
                cluster: ClusterId(int(r, 0)?),
                due: date(&text(r, 1)?)?,
                focus: text(r, 2)?,
                analysis_notes: text(r, 3)?,
                develop_do: text(r, 4)?,
                evaluation: text(r, 5)?,
                cluster_judgement: judgement_at(r, 6)?,
                authority_judgement: judgement_at(r, 10)?,
            })
        })
        .collect()
}

pub(crate) async fn create_questionnaire(
    store: &SqlStore,
    authority: AuthorityId,
    q: &Questionnaire,
) -> StoreResult<i64> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    own_cluster(&mut tx, authority, q.cluster).await?;
    let r = sqlx::query(
        "INSERT INTO questionnaires (authority_id, cluster_id, title, sent_on, closes_on) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id",
    )
    .bind(authority.0)
    .bind(q.cluster.0)
    .bind(q.title.clone())
    .bind(date_text(q.sent_on))
    .bind(date_text(q.closes_on))
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    let id = int(&r, 0)?;
    let mut schools = q.schools.clone();
    schools.sort_unstable();
    schools.dedup();
    for u in schools {
        sqlx::query("INSERT INTO questionnaire_schools (questionnaire_id, urn) VALUES ($1, $2)")
            .bind(id)
            .bind(i64::from(u.get()))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(id)
}

pub(crate) async fn questionnaires(store: &SqlStore, authority: AuthorityId) -> StoreResult<Vec<Questionnaire>> {
    let pool = store.pool();
    let schools = sqlx::query(
        "SELECT s.questionnaire_id, s.urn FROM questionnaire_schools s JOIN questionnaires q ON q.id = s.questionnaire_id \
         WHERE q.authority_id = $1 ORDER BY s.questionnaire_id, s.urn",
    )
    .bind(authority.0)
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    let mut out: Vec<Questionnaire> = sqlx::query(
        "SELECT id, cluster_id, title, sent_on, closes_on FROM questionnaires WHERE authority_id = $1 ORDER BY id",
    )
    .bind(authority.0)
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        Ok(Questionnaire {
            id: int(r, 0)?,
            cluster: ClusterId(int(r, 1)?),
            title: text(r, 2)?,
            sent_on: date(&text(r, 3)?)?,
            closes_on: date(&text(r, 4)?)?,
            schools: Vec::new(),
        })
    })
    .collect::<StoreResult<_>>()?;
    for s in &schools {
        let id = int(s, 0)?;
        if let Some(q) = out.iter_mut().find(|q| q.id == id) {
            q.schools.push(urn(int(s, 1)?)?);
        }
    }
    Ok(out)
}

fn encode_answers(answers: &[Option<usize>]) -> String {
    answers
        .iter()
        .map(|a| a.map_or_else(|| "-".to_string(), |i| i.to_string()))
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_answers(s: &str) -> StoreResult<Vec<Option<usize>>> {
    s.split(',')
        .map(|a| match a {
            "-" => Ok(None),
            n => n.parse().map(Some).map_err(|_| corrupt("answers", s)),
        })
        .collect()
}

pub(crate) async fn save_questionnaire_response(
    store: &SqlStore,
    authority: AuthorityId,
    questionnaire: i64,
    r: &Response,
) -> StoreResult<()> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let row = sqlx::query(
        "SELECT COUNT(*) FROM questionnaire_schools s JOIN questionnaires q ON q.id = s.questionnaire_id \
         WHERE q.id = $1 AND q.authority_id = $2 AND s.urn = $3",
    )
    .bind(questionnaire)
    .bind(authority.0)
    .bind(i64::from(r.school.get()))
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    if int(&row, 0)? == 0 {
        return Err(StoreError::NotFound(format!(
            "questionnaire {questionnaire} for school {}",
            r.school
        )));
    }
    sqlx::query(
        "INSERT INTO questionnaire_responses (questionnaire_id, urn, answers, comment, submitted_on) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (questionnaire_id, urn) DO UPDATE SET answers = excluded.answers, \
         comment = excluded.comment, submitted_on = excluded.submitted_on",
    )
    .bind(questionnaire)
    .bind(i64::from(r.school.get()))
    .bind(encode_answers(&r.answers))
    .bind(r.comment.clone())
    .bind(date_text(r.submitted_on))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

pub(crate) async fn questionnaire_responses(
    store: &SqlStore,
    authority: AuthorityId,
    questionnaire: i64,
) -> StoreResult<Vec<Response>> {
    sqlx::query(
        "SELECT r.urn, r.answers, r.comment, r.submitted_on FROM questionnaire_responses r \
         JOIN questionnaires q ON q.id = r.questionnaire_id WHERE q.id = $1 AND q.authority_id = $2 ORDER BY r.urn",
    )
    .bind(questionnaire)
    .bind(authority.0)
    .fetch_all(store.pool())
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        Ok(Response {
            school: urn(int(r, 0)?)?,
            answers: decode_answers(&text(r, 1)?)?,
            comment: text(r, 2)?,
            submitted_on: date(&text(r, 3)?)?,
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip() {
        let a = vec![Some(2), None, Some(0)];
        assert_eq!(encode_answers(&a), "2,-,0");
        assert_eq!(decode_answers("2,-,0").unwrap(), a);
        assert!(decode_answers("2,x").is_err());
    }
}

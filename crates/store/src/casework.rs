//! Strand casework: pupils, registers, mentor cases, LSU placements, transitions, and the
//! append-only pupil-data audit log with its hash chain. There is no UPDATE or DELETE of
//! `pupil_audit` anywhere in this crate. Error messages never carry pupil data.

use crate::rows::{date, date_text, int, opt_i64, opt_text, text, urn};
use crate::{SqlStore, db_err};
use domain::NaiveDate;
use domain::casework::gt::{Evidence, GtEntry, GtKind};
use domain::casework::lsu::{LsuMode, LsuPlacement, Measures};
use domain::casework::mentor::{
    CaseStatus, FollowUp, Mentor, MentorBase, MentorCase, Outcome, ReferralReason, Review, Session,
};
use domain::casework::representation::{Composition, Group};
use domain::casework::transition::{Acknowledgement, Flag, Receiving, TransitionKind, TransitionRecord};
use domain::casework::{
    CaseId, Characteristics, EthnicGroup, Gender, GtEntryId, MentorId, NewPupil, PlacementId, Pupil, PupilId,
    SenStatus, TransitionId, YearGroup,
};
use domain::ids::{AuthorityId, Upn, Urn, UserId};
use domain::privacy::audit::{AuditEntry, AuditRecord, Outcome as AuditOutcome, next_entry};
use domain::privacy::{Action, Resource, Strand};
use service::casework::{AuditQuery, CaseworkFilter, RetentionDeletion};
use service::store::{StoreError, StoreResult};
use sqlx::any::AnyRow;

fn corrupt(what: &str) -> StoreError {
    // Never the value: it may be pupil data.
    StoreError::Other(format!("a stored {what} is not valid"))
}
fn u32_of(v: i64, what: &str) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| corrupt(what))
}
fn opt_date(row: &AnyRow, i: usize) -> StoreResult<Option<NaiveDate>> {
    opt_text(row, i)?.map(|s| date(&s)).transpose()
}
fn opt_date_text(d: Option<NaiveDate>) -> Option<String> {
    d.map(date_text)
}
fn urn_i64(u: Urn) -> i64 {
    i64::from(u.get())
}
fn lines(v: &[String]) -> String {
    v.join("\n")
}
fn split_lines(s: &str) -> Vec<String> {
    s.lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// `WHERE` clauses for a filter on a table with `authority_id`, `urn` (or another school
/// column), `pupil_id` and `id`; returns the SQL and the values to bind after the authority.
fn filter_sql(filter: &CaseworkFilter, school_sql: &str) -> (String, Vec<i64>) {
    let mut sql = String::new();
    let mut binds = Vec::new();
    let mut n = 2;
    if let Some(u) = filter.school {
        sql.push_str(&school_sql.replace("$S", &format!("${n}")));
        binds.push(urn_i64(u));
        n += 1;
    }
    if let Some(p) = filter.pupil {
        sql.push_str(&format!(" AND pupil_id = ${n}"));
        binds.push(p.0);
        n += 1;
    }
    if let Some(id) = filter.id {
        sql.push_str(&format!(" AND id = ${n}"));
        binds.push(id);
    }
    (sql, binds)
}

// ---- strands ----

pub(crate) async fn strands_of(store: &SqlStore, authority: AuthorityId, user: UserId) -> StoreResult<Vec<Strand>> {
    let rows = sqlx::query("SELECT strand FROM strand_staff WHERE authority_id = $1 AND user_id = $2 ORDER BY strand")
        .bind(authority.0)
        .bind(user.0)
        .fetch_all(store.pool())
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| text(r, 0).and_then(|s| Strand::from_code(&s).ok_or_else(|| corrupt("strand"))))
        .collect()
}

pub(crate) async fn set_strands(
    store: &SqlStore,
    authority: AuthorityId,
    user: UserId,
    strands: &[Strand],
) -> StoreResult<()> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let owned = sqlx::query("SELECT COUNT(*) FROM users WHERE id = $1 AND authority_id = $2")
        .bind(user.0)
        .bind(authority.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if int(&owned, 0)? == 0 {
        return Err(StoreError::NotFound(format!("user {user}")));
    }
    sqlx::query("DELETE FROM strand_staff WHERE user_id = $1")
        .bind(user.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let mut seen = Vec::new();
    for s in strands {
        if seen.contains(s) {
            continue;
        }
        seen.push(*s);
        sqlx::query("INSERT INTO strand_staff (authority_id, user_id, strand) VALUES ($1, $2, $3)")
            .bind(authority.0)
            .bind(user.0)
            .bind(s.code())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    tx.commit().await.map_err(db_err)
}

// ---- pupils ----

pub(crate) async fn save_pupil(store: &SqlStore, authority: AuthorityId, p: &NewPupil) -> StoreResult<PupilId> {
    let c = &p.characteristics;
    let row = sqlx::query(
        "INSERT INTO pupils (authority_id, urn, upn, given_name, family_name, date_of_birth, year_group, gender, \
         ethnicity, fsm, sen, eal, synthetic) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(authority.0)
    .bind(urn_i64(p.school))
    .bind(p.upn.as_str())
    .bind(&p.given_name)
    .bind(&p.family_name)
    .bind(date_text(p.date_of_birth))
    .bind(i64::from(p.year_group.get()))
    .bind(c.gender.code())
    .bind(c.ethnicity.code())
    .bind(i64::from(c.fsm))
    .bind(c.sen.code())
    .bind(i64::from(c.eal))
    .bind(i64::from(p.synthetic))
    .fetch_one(store.pool())
    .await
    .map_err(|e| match db_err(e) {
        StoreError::Conflict(_) => StoreError::Conflict("a pupil with this UPN is already recorded at this school".into()),
        other => other,
    })?;
    Ok(PupilId(int(&row, 0)?))
}

pub(crate) async fn set_pupil_left(
    store: &SqlStore,
    authority: AuthorityId,
    pupil: PupilId,
    left_on: Option<NaiveDate>,
) -> StoreResult<()> {
    let done = sqlx::query("UPDATE pupils SET left_on = $1 WHERE id = $2 AND authority_id = $3")
        .bind(opt_date_text(left_on))
        .bind(pupil.0)
        .bind(authority.0)
        .execute(store.pool())
        .await
        .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("pupil {pupil}")));
    }
    Ok(())
}

fn pupil_from_row(r: &AnyRow) -> StoreResult<Pupil> {
    let year = u8::try_from(int(r, 6)?).map_err(|_| corrupt("year group"))?;
    Ok(Pupil {
        id: PupilId(int(r, 0)?),
        school: urn(int(r, 1)?)?,
        upn: Upn::parse(&text(r, 2)?).map_err(|_| corrupt("UPN"))?,
        given_name: text(r, 3)?,
        family_name: text(r, 4)?,
        date_of_birth: date(&text(r, 5)?)?,
        year_group: YearGroup::new(year).map_err(|_| corrupt("year group"))?,
        characteristics: Characteristics {
            gender: Gender::from_code(&text(r, 7)?).ok_or_else(|| corrupt("gender"))?,
            ethnicity: EthnicGroup::from_code(&text(r, 8)?).ok_or_else(|| corrupt("ethnicity"))?,
            fsm: int(r, 9)? != 0,
            sen: SenStatus::from_code(&text(r, 10)?).ok_or_else(|| corrupt("SEN status"))?,
            eal: int(r, 11)? != 0,
        },
        left_on: opt_date(r, 12)?,
        synthetic: int(r, 13)? != 0,
    })
}

pub(crate) async fn pupils(
    store: &SqlStore,
    authority: AuthorityId,
    filter: &CaseworkFilter,
) -> StoreResult<Vec<Pupil>> {
    let mut f = filter.clone();
    // Pupils have no pupil_id column: a pupil filter is an id filter here.
    if let Some(p) = f.pupil.take() {
        f.id = Some(p.0);
    }
    let (where_sql, binds) = filter_sql(&f, " AND urn = $S");
    let sql = format!(
        "SELECT id, urn, upn, given_name, family_name, date_of_birth, year_group, gender, ethnicity, fsm, \
         sen, eal, left_on, synthetic FROM pupils WHERE authority_id = $1{where_sql} ORDER BY family_name, given_name, id"
    );
    let mut q = sqlx::query(&sql).bind(authority.0);
    for b in binds {
        q = q.bind(b);
    }
    let rows = q.fetch_all(store.pool()).await.map_err(db_err)?;
    rows.iter().map(pupil_from_row).collect()
}

// ---- composition ----

pub(crate) async fn save_composition(
    store: &SqlStore,
    authority: AuthorityId,
    school: Urn,
    c: &Composition,
    synthetic: bool,
) -> StoreResult<()> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    sqlx::query("DELETE FROM school_composition WHERE authority_id = $1 AND urn = $2")
        .bind(authority.0)
        .bind(urn_i64(school))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let g = |group| c.count(group).map(i64::from);
    sqlx::query(
        "INSERT INTO school_composition (authority_id, urn, pupils, girls, boys, fsm, minority_ethnic, synthetic) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(authority.0)
    .bind(urn_i64(school))
    .bind(i64::from(c.pupils))
    .bind(g(Group::Girls))
    .bind(g(Group::Boys))
    .bind(g(Group::Fsm))
    .bind(g(Group::MinorityEthnic))
    .bind(i64::from(synthetic))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)
}

pub(crate) async fn composition(
    store: &SqlStore,
    authority: AuthorityId,
    school: Urn,
) -> StoreResult<Option<(Composition, bool)>> {
    let row = sqlx::query(
        "SELECT pupils, girls, boys, fsm, minority_ethnic, synthetic FROM school_composition \
         WHERE authority_id = $1 AND urn = $2",
    )
    .bind(authority.0)
    .bind(urn_i64(school))
    .fetch_optional(store.pool())
    .await
    .map_err(db_err)?;
    let Some(r) = row else { return Ok(None) };
    let mut groups = Vec::new();
    for (i, g) in [
        (1, Group::Girls),
        (2, Group::Boys),
        (3, Group::Fsm),
        (4, Group::MinorityEthnic),
    ] {
        if let Some(v) = opt_i64(&r, i)? {
            groups.push((g, u32_of(v, "composition count")?));
        }
    }
    Ok(Some((
        Composition {
            pupils: u32_of(int(&r, 0)?, "composition count")?,
            groups,
        },
        int(&r, 5)? != 0,
    )))
}

// ---- G&T register ----

pub(crate) async fn save_gt_entry(store: &SqlStore, authority: AuthorityId, e: &GtEntry) -> StoreResult<GtEntryId> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    check_pupil_at(&mut tx, authority, e.pupil, e.school).await?;
    let evidence = e.evidence.iter().map(|x| x.code()).collect::<Vec<_>>().join(",");
    let id = if e.id.0 == 0 {
        let row = sqlx::query(
            "INSERT INTO gt_entries (authority_id, urn, pupil_id, academic_year, year_group, kind, reserve, evidence, \
             subject, identified_on, told_on, enrichment, removed_on) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(authority.0)
        .bind(urn_i64(e.school))
        .bind(e.pupil.0)
        .bind(i64::from(e.academic_year))
        .bind(i64::from(e.year_group.get()))
        .bind(e.kind.code())
        .bind(i64::from(e.reserve))
        .bind(&evidence)
        .bind(&e.domain)
        .bind(date_text(e.identified_on))
        .bind(opt_date_text(e.told_on))
        .bind(lines(&e.enrichment))
        .bind(opt_date_text(e.removed_on))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        int(&row, 0)?
    } else {
        let done = sqlx::query(
            "UPDATE gt_entries SET academic_year = $1, year_group = $2, kind = $3, reserve = $4, evidence = $5, \
             subject = $6, identified_on = $7, told_on = $8, enrichment = $9, removed_on = $10 \
             WHERE id = $11 AND authority_id = $12 AND pupil_id = $13",
        )
        .bind(i64::from(e.academic_year))
        .bind(i64::from(e.year_group.get()))
        .bind(e.kind.code())
        .bind(i64::from(e.reserve))
        .bind(&evidence)
        .bind(&e.domain)
        .bind(date_text(e.identified_on))
        .bind(opt_date_text(e.told_on))
        .bind(lines(&e.enrichment))
        .bind(opt_date_text(e.removed_on))
        .bind(e.id.0)
        .bind(authority.0)
        .bind(e.pupil.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("register entry {}", e.id)));
        }
        e.id.0
    };
    tx.commit().await.map_err(db_err)?;
    Ok(GtEntryId(id))
}

async fn check_pupil_at(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    authority: AuthorityId,
    pupil: PupilId,
    school: Urn,
) -> StoreResult<()> {
    let row = sqlx::query("SELECT COUNT(*) FROM pupils WHERE id = $1 AND authority_id = $2 AND urn = $3")
        .bind(pupil.0)
        .bind(authority.0)
        .bind(urn_i64(school))
        .fetch_one(&mut **tx)
        .await
        .map_err(db_err)?;
    if int(&row, 0)? == 0 {
        return Err(StoreError::NotFound(format!("pupil {pupil}")));
    }
    Ok(())
}

pub(crate) async fn gt_entries(
    store: &SqlStore,
    authority: AuthorityId,
    filter: &CaseworkFilter,
) -> StoreResult<Vec<GtEntry>> {
    let (where_sql, binds) = filter_sql(filter, " AND urn = $S");
    let sql = format!(
        "SELECT id, urn, pupil_id, academic_year, year_group, kind, reserve, evidence, subject, identified_on, told_on, \
         enrichment, removed_on FROM gt_entries WHERE authority_id = $1{where_sql} ORDER BY academic_year, year_group, id"
    );
    let mut q = sqlx::query(&sql).bind(authority.0);
    for b in binds {
        q = q.bind(b);
    }
    let rows = q.fetch_all(store.pool()).await.map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let evidence = text(r, 7)?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| Evidence::from_code(s).ok_or_else(|| corrupt("evidence kind")))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(GtEntry {
                id: GtEntryId(int(r, 0)?),
                school: urn(int(r, 1)?)?,
                pupil: PupilId(int(r, 2)?),
                academic_year: i32::try_from(int(r, 3)?).map_err(|_| corrupt("academic year"))?,
                year_group: u8::try_from(int(r, 4)?)
                    .ok()
                    .and_then(|y| YearGroup::new(y).ok())
                    .ok_or_else(|| corrupt("year group"))?,
                kind: GtKind::from_code(&text(r, 5)?).ok_or_else(|| corrupt("register kind"))?,
                reserve: int(r, 6)? != 0,
                evidence,
                domain: text(r, 8)?,
                identified_on: date(&text(r, 9)?)?,
                told_on: opt_date(r, 10)?,
                enrichment: split_lines(&text(r, 11)?),
                removed_on: opt_date(r, 12)?,
            })
        })
        .collect()
}

// ---- mentors and cases ----

pub(crate) async fn save_mentor(store: &SqlStore, authority: AuthorityId, m: &Mentor) -> StoreResult<MentorId> {
    let (school, pool) = match &m.base {
        MentorBase::School(u) => (Some(urn_i64(*u)), None),
        MentorBase::Pool(p) => (None, Some(p.clone())),
    };
    if m.id.0 == 0 {
        let row = sqlx::query(
            "INSERT INTO mentors (authority_id, name, urn, pool, fte_tenths) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(authority.0)
        .bind(&m.name)
        .bind(school)
        .bind(pool)
        .bind(i64::from(m.fte_tenths))
        .fetch_one(store.pool())
        .await
        .map_err(db_err)?;
        return Ok(MentorId(int(&row, 0)?));
    }
    let done = sqlx::query(
        "UPDATE mentors SET name = $1, urn = $2, pool = $3, fte_tenths = $4 WHERE id = $5 AND authority_id = $6",
    )
    .bind(&m.name)
    .bind(school)
    .bind(pool)
    .bind(i64::from(m.fte_tenths))
    .bind(m.id.0)
    .bind(authority.0)
    .execute(store.pool())
    .await
    .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("mentor {}", m.id)));
    }
    Ok(m.id)
}

pub(crate) async fn mentors(store: &SqlStore, authority: AuthorityId) -> StoreResult<Vec<Mentor>> {
    let rows =
        sqlx::query("SELECT id, name, urn, pool, fte_tenths FROM mentors WHERE authority_id = $1 ORDER BY name, id")
            .bind(authority.0)
            .fetch_all(store.pool())
            .await
            .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let base = match (opt_i64(r, 2)?, opt_text(r, 3)?) {
                (Some(u), _) => MentorBase::School(urn(u)?),
                (None, Some(p)) => MentorBase::Pool(p),
                (None, None) => return Err(corrupt("mentor base")),
            };
            Ok(Mentor {
                id: MentorId(int(r, 0)?),
                name: text(r, 1)?,
                base,
                fte_tenths: u32_of(int(r, 4)?, "FTE")?,
            })
        })
        .collect()
}

pub(crate) async fn save_mentor_case(store: &SqlStore, authority: AuthorityId, c: &MentorCase) -> StoreResult<CaseId> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    check_pupil_at(&mut tx, authority, c.pupil, c.school).await?;
    let follow = c.follow_up.as_ref();
    let id = if c.id.0 == 0 {
        let row = sqlx::query(
            "INSERT INTO mentor_cases (authority_id, urn, pupil_id, mentor_id, referred_on, referred_by, reason, \
             referral_note, exit_strategy, plan_agreed_on, review_due, status, follow_up_due, follow_up_on, \
             follow_up_sustained, follow_up_note, parents_contacted_on, closed_on) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id",
        )
        .bind(authority.0)
        .bind(urn_i64(c.school))
        .bind(c.pupil.0)
        .bind(c.mentor.map(|m| m.0))
        .bind(date_text(c.referred_on))
        .bind(&c.referred_by)
        .bind(c.reason.code())
        .bind(&c.referral_note)
        .bind(&c.exit_strategy)
        .bind(opt_date_text(c.plan_agreed_on))
        .bind(opt_date_text(c.review_due))
        .bind(c.status.code())
        .bind(opt_date_text(c.follow_up_due))
        .bind(follow.map(|f| date_text(f.done_on)))
        .bind(follow.map(|f| i64::from(f.sustained)))
        .bind(follow.map(|f| f.note.clone()))
        .bind(opt_date_text(c.parents_contacted_on))
        .bind(opt_date_text(c.closed_on))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        int(&row, 0)?
    } else {
        let done = sqlx::query(
            "UPDATE mentor_cases SET mentor_id = $1, referred_on = $2, referred_by = $3, reason = $4, referral_note = $5, \
             exit_strategy = $6, plan_agreed_on = $7, review_due = $8, status = $9, follow_up_due = $10, \
             follow_up_on = $11, follow_up_sustained = $12, follow_up_note = $13, parents_contacted_on = $14, \
             closed_on = $15 WHERE id = $16 AND authority_id = $17 AND pupil_id = $18",
        )
        .bind(c.mentor.map(|m| m.0))
        .bind(date_text(c.referred_on))
        .bind(&c.referred_by)
        .bind(c.reason.code())
        .bind(&c.referral_note)
        .bind(&c.exit_strategy)
        .bind(opt_date_text(c.plan_agreed_on))
        .bind(opt_date_text(c.review_due))
        .bind(c.status.code())
        .bind(opt_date_text(c.follow_up_due))
        .bind(follow.map(|f| date_text(f.done_on)))
        .bind(follow.map(|f| i64::from(f.sustained)))
        .bind(follow.map(|f| f.note.clone()))
        .bind(opt_date_text(c.parents_contacted_on))
        .bind(opt_date_text(c.closed_on))
        .bind(c.id.0)
        .bind(authority.0)
        .bind(c.pupil.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("case {}", c.id)));
        }
        for table in ["mentor_targets", "mentor_sessions", "mentor_reviews"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE case_id = $1"))
                .bind(c.id.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        c.id.0
    };
    for (i, t) in c.targets.iter().enumerate() {
        sqlx::query("INSERT INTO mentor_targets (case_id, position, target) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(i64::try_from(i).unwrap_or(i64::MAX))
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    for s in &c.sessions {
        sqlx::query("INSERT INTO mentor_sessions (case_id, held_on, minutes, note) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(date_text(s.held_on))
            .bind(i64::from(s.minutes))
            .bind(&s.note)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    for r in &c.reviews {
        sqlx::query("INSERT INTO mentor_reviews (case_id, held_on, outcome, note) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(date_text(r.held_on))
            .bind(r.outcome.code())
            .bind(&r.note)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(CaseId(id))
}

pub(crate) async fn mentor_cases(
    store: &SqlStore,
    authority: AuthorityId,
    filter: &CaseworkFilter,
) -> StoreResult<Vec<MentorCase>> {
    let (where_sql, binds) = filter_sql(filter, " AND urn = $S");
    let sql = format!(
        "SELECT id, urn, pupil_id, mentor_id, referred_on, referred_by, reason, referral_note, exit_strategy, \
         plan_agreed_on, review_due, status, follow_up_due, follow_up_on, follow_up_sustained, follow_up_note, \
         parents_contacted_on, closed_on FROM mentor_cases WHERE authority_id = $1{where_sql} ORDER BY referred_on, id"
    );
    let rows = fetch_children(store, &sql, authority, &binds).await?;
    let mut cases = Vec::with_capacity(rows.len());
    for r in &rows {
        let follow_up = match (opt_date(r, 13)?, opt_i64(r, 14)?) {
            (Some(done_on), Some(s)) => Some(FollowUp {
                done_on,
                sustained: s != 0,
                note: opt_text(r, 15)?.unwrap_or_default(),
            }),
            _ => None,
        };
        cases.push(MentorCase {
            id: CaseId(int(r, 0)?),
            school: urn(int(r, 1)?)?,
            pupil: PupilId(int(r, 2)?),
            mentor: opt_i64(r, 3)?.map(MentorId),
            referred_on: date(&text(r, 4)?)?,
            referred_by: text(r, 5)?,
            reason: ReferralReason::from_code(&text(r, 6)?).ok_or_else(|| corrupt("referral reason"))?,
            referral_note: text(r, 7)?,
            targets: Vec::new(),
            exit_strategy: text(r, 8)?,
            plan_agreed_on: opt_date(r, 9)?,
            review_due: opt_date(r, 10)?,
            sessions: Vec::new(),
            reviews: Vec::new(),
            status: CaseStatus::from_code(&text(r, 11)?).ok_or_else(|| corrupt("case status"))?,
            follow_up_due: opt_date(r, 12)?,
            follow_up,
            parents_contacted_on: opt_date(r, 16)?,
            closed_on: opt_date(r, 17)?,
        });
    }
    // Children in three queries for all the cases (no per-case round trip).
    let child_sql = |cols: &str, table: &str, order: &str| {
        format!(
            "SELECT t.case_id, {cols} FROM {table} t JOIN mentor_cases c ON c.id = t.case_id \
             WHERE c.authority_id = $1{} ORDER BY t.case_id, {order}",
            where_sql.replace(" AND ", " AND c.")
        )
    };
    let index: std::collections::HashMap<i64, usize> = cases.iter().enumerate().map(|(i, c)| (c.id.0, i)).collect();
    for r in fetch_children(
        store,
        &child_sql("t.target", "mentor_targets", "t.position"),
        authority,
        &binds,
    )
    .await?
    {
        if let Some(&i) = index.get(&int(&r, 0)?) {
            cases[i].targets.push(text(&r, 1)?);
        }
    }
    for r in fetch_children(
        store,
        &child_sql("t.held_on, t.minutes, t.note", "mentor_sessions", "t.held_on, t.id"),
        authority,
        &binds,
    )
    .await?
    {
        if let Some(&i) = index.get(&int(&r, 0)?) {
            cases[i].sessions.push(Session {
                held_on: date(&text(&r, 1)?)?,
                minutes: u32_of(int(&r, 2)?, "session minutes")?,
                note: text(&r, 3)?,
            });
        }
    }
    for r in fetch_children(
        store,
        &child_sql("t.held_on, t.outcome, t.note", "mentor_reviews", "t.held_on, t.id"),
        authority,
        &binds,
    )
    .await?
    {
        if let Some(&i) = index.get(&int(&r, 0)?) {
            cases[i].reviews.push(Review {
                held_on: date(&text(&r, 1)?)?,
                outcome: Outcome::from_code(&text(&r, 2)?).ok_or_else(|| corrupt("review outcome"))?,
                note: text(&r, 3)?,
            });
        }
    }
    Ok(cases)
}

async fn fetch_children(
    store: &SqlStore,
    sql: &str,
    authority: AuthorityId,
    binds: &[i64],
) -> StoreResult<Vec<AnyRow>> {
    let mut q = sqlx::query(sql).bind(authority.0);
    for b in binds {
        q = q.bind(*b);
    }
    q.fetch_all(store.pool()).await.map_err(db_err)
}

// ---- LSU placements ----

pub(crate) async fn save_lsu_placement(
    store: &SqlStore,
    authority: AuthorityId,
    p: &LsuPlacement,
) -> StoreResult<PlacementId> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    check_pupil_at(&mut tx, authority, p.pupil, p.school).await?;
    if p.id.0 != 0 {
        let done = sqlx::query("DELETE FROM lsu_placements WHERE id = $1 AND authority_id = $2 AND pupil_id = $3")
            .bind(p.id.0)
            .bind(authority.0)
            .bind(p.pupil.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("placement {}", p.id)));
        }
    }
    let sessions = match p.mode {
        LsuMode::FullTime => None,
        LsuMode::PartTime { sessions_per_week } => Some(i64::from(sessions_per_week)),
    };
    let att = |m: &Measures| m.attendance_tenths_pct.map(i64::from);
    let after = p.after.as_ref();
    // Replacing keeps the id: the row is re-inserted with it.
    let sql = "INSERT INTO lsu_placements (authority_id, urn, pupil_id, referred_on, stages_met, starts_on, planned_end, \
         sessions_per_week, agreed_with_pupil, agreed_with_parent, reintegration_plan, supported_lessons, \
         before_attendance, before_exclusions, before_incidents, during_attendance, during_exclusions, during_incidents, \
         after_attendance, after_exclusions, after_incidents, ended_on{id_col}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22{id_val}) RETURNING id";
    let sql = if p.id.0 == 0 {
        sql.replace("{id_col}", "").replace("{id_val}", "")
    } else {
        sql.replace("{id_col}", ", id").replace("{id_val}", ", $23")
    };
    let mut q = sqlx::query(&sql)
        .bind(authority.0)
        .bind(urn_i64(p.school))
        .bind(p.pupil.0)
        .bind(date_text(p.referred_on))
        .bind(i64::from(p.stages_met))
        .bind(date_text(p.starts_on))
        .bind(date_text(p.planned_end))
        .bind(sessions)
        .bind(i64::from(p.agreed_with_pupil))
        .bind(i64::from(p.agreed_with_parent))
        .bind(&p.reintegration_plan)
        .bind(i64::from(p.supported_lessons))
        .bind(att(&p.before))
        .bind(i64::from(p.before.exclusions))
        .bind(i64::from(p.before.incidents))
        .bind(att(&p.during))
        .bind(i64::from(p.during.exclusions))
        .bind(i64::from(p.during.incidents))
        .bind(after.and_then(att))
        .bind(after.map(|m| i64::from(m.exclusions)))
        .bind(after.map(|m| i64::from(m.incidents)))
        .bind(opt_date_text(p.ended_on));
    if p.id.0 != 0 {
        q = q.bind(p.id.0);
    }
    let row = q.fetch_one(&mut *tx).await.map_err(db_err)?;
    let id = int(&row, 0)?;
    tx.commit().await.map_err(db_err)?;
    Ok(PlacementId(id))
}

pub(crate) async fn lsu_placements(
    store: &SqlStore,
    authority: AuthorityId,
    filter: &CaseworkFilter,
) -> StoreResult<Vec<LsuPlacement>> {
    let (where_sql, binds) = filter_sql(filter, " AND urn = $S");
    let sql = format!(
        "SELECT id, urn, pupil_id, referred_on, stages_met, starts_on, planned_end, sessions_per_week, agreed_with_pupil, \
         agreed_with_parent, reintegration_plan, supported_lessons, before_attendance, before_exclusions, \
         before_incidents, during_attendance, during_exclusions, during_incidents, after_attendance, after_exclusions, \
         after_incidents, ended_on FROM lsu_placements WHERE authority_id = $1{where_sql} ORDER BY starts_on, id"
    );
    let mut q = sqlx::query(&sql).bind(authority.0);
    for b in binds {
        q = q.bind(b);
    }
    let rows = q.fetch_all(store.pool()).await.map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let att = |i| opt_i64(r, i)?.map(|v| u32_of(v, "attendance")).transpose();
            let count = |i| u32_of(int(r, i)?, "count");
            let after = match (opt_i64(r, 19)?, opt_i64(r, 20)?) {
                (Some(e), Some(n)) => Some(Measures {
                    attendance_tenths_pct: att(18)?,
                    exclusions: u32_of(e, "count")?,
                    incidents: u32_of(n, "count")?,
                }),
                _ => None,
            };
            Ok(LsuPlacement {
                id: PlacementId(int(r, 0)?),
                school: urn(int(r, 1)?)?,
                pupil: PupilId(int(r, 2)?),
                referred_on: date(&text(r, 3)?)?,
                stages_met: count(4)?,
                starts_on: date(&text(r, 5)?)?,
                planned_end: date(&text(r, 6)?)?,
                mode: match opt_i64(r, 7)? {
                    None => LsuMode::FullTime,
                    Some(s) => LsuMode::PartTime {
                        sessions_per_week: u8::try_from(s).map_err(|_| corrupt("sessions a week"))?,
                    },
                },
                agreed_with_pupil: int(r, 8)? != 0,
                agreed_with_parent: int(r, 9)? != 0,
                reintegration_plan: text(r, 10)?,
                supported_lessons: count(11)?,
                before: Measures {
                    attendance_tenths_pct: att(12)?,
                    exclusions: count(13)?,
                    incidents: count(14)?,
                },
                during: Measures {
                    attendance_tenths_pct: att(15)?,
                    exclusions: count(16)?,
                    incidents: count(17)?,
                },
                after,
                ended_on: opt_date(r, 21)?,
            })
        })
        .collect()
}

// ---- transitions ----

pub(crate) async fn save_transition(
    store: &SqlStore,
    authority: AuthorityId,
    t: &TransitionRecord,
) -> StoreResult<TransitionId> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    check_pupil_at(&mut tx, authority, t.pupil, t.from).await?;
    let (to_urn, outside) = match &t.to {
        Receiving::School(u) => (Some(urn_i64(*u)), None),
        Receiving::Outside { name } => (None, Some(name.clone())),
    };
    let flags = t.flags.iter().map(|f| f.code()).collect::<Vec<_>>().join(",");
    let ack = t.acknowledged.as_ref();
    let id = if t.id.0 == 0 {
        let row = sqlx::query(
            "INSERT INTO transitions (authority_id, pupil_id, from_urn, to_urn, to_outside, kind, flags, note, sent_on, \
             acknowledged_on, acknowledged_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(authority.0)
        .bind(t.pupil.0)
        .bind(urn_i64(t.from))
        .bind(to_urn)
        .bind(outside)
        .bind(t.kind.code())
        .bind(&flags)
        .bind(&t.note)
        .bind(date_text(t.sent_on))
        .bind(ack.map(|a| date_text(a.on)))
        .bind(ack.map(|a| a.by.clone()))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        int(&row, 0)?
    } else {
        let done = sqlx::query(
            "UPDATE transitions SET to_urn = $1, to_outside = $2, kind = $3, flags = $4, note = $5, sent_on = $6, \
             acknowledged_on = $7, acknowledged_by = $8 WHERE id = $9 AND authority_id = $10 AND pupil_id = $11",
        )
        .bind(to_urn)
        .bind(outside)
        .bind(t.kind.code())
        .bind(&flags)
        .bind(&t.note)
        .bind(date_text(t.sent_on))
        .bind(ack.map(|a| date_text(a.on)))
        .bind(ack.map(|a| a.by.clone()))
        .bind(t.id.0)
        .bind(authority.0)
        .bind(t.pupil.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("transition {}", t.id)));
        }
        t.id.0
    };
    tx.commit().await.map_err(db_err)?;
    Ok(TransitionId(id))
}

pub(crate) async fn transitions(
    store: &SqlStore,
    authority: AuthorityId,
    filter: &CaseworkFilter,
) -> StoreResult<Vec<TransitionRecord>> {
    let (where_sql, binds) = filter_sql(filter, " AND (from_urn = $S OR to_urn = $S)");
    let sql = format!(
        "SELECT id, pupil_id, from_urn, to_urn, to_outside, kind, flags, note, sent_on, acknowledged_on, acknowledged_by \
         FROM transitions WHERE authority_id = $1{where_sql} ORDER BY sent_on, id"
    );
    let mut q = sqlx::query(&sql).bind(authority.0);
    for b in binds {
        q = q.bind(b);
    }
    let rows = q.fetch_all(store.pool()).await.map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let to = match (opt_i64(r, 3)?, opt_text(r, 4)?) {
                (Some(u), _) => Receiving::School(urn(u)?),
                (None, Some(name)) => Receiving::Outside { name },
                (None, None) => return Err(corrupt("receiving school")),
            };
            let flags = text(r, 6)?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| Flag::from_code(s).ok_or_else(|| corrupt("transition flag")))
                .collect::<StoreResult<Vec<_>>>()?;
            let acknowledged = match (opt_date(r, 9)?, opt_text(r, 10)?) {
                (Some(on), Some(by)) => Some(Acknowledgement { on, by }),
                _ => None,
            };
            Ok(TransitionRecord {
                id: TransitionId(int(r, 0)?),
                pupil: PupilId(int(r, 1)?),
                from: urn(int(r, 2)?)?,
                to,
                kind: TransitionKind::from_code(&text(r, 5)?).ok_or_else(|| corrupt("transition kind"))?,
                flags,
                note: text(r, 7)?,
                sent_on: date(&text(r, 8)?)?,
                acknowledged,
            })
        })
        .collect()
}

// ---- the audit log ----

const AUDIT_COLUMNS: &str =
    "seq, at, user_id, user_email, role, action, resource, pupil_id, urn, purpose, outcome, detail, prev_hash, hash";

fn audit_from_row(r: &AnyRow) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        seq: u64::try_from(int(r, 0)?).map_err(|_| corrupt("audit sequence"))?,
        record: AuditRecord {
            at: int(r, 1)?,
            user: UserId(int(r, 2)?),
            user_email: text(r, 3)?,
            role: text(r, 4)?,
            action: Action::from_code(&text(r, 5)?).ok_or_else(|| corrupt("audit action"))?,
            resource: Resource::from_code(&text(r, 6)?).ok_or_else(|| corrupt("audit resource"))?,
            pupil: opt_i64(r, 7)?.map(PupilId),
            school: opt_i64(r, 8)?.map(urn).transpose()?,
            purpose: text(r, 9)?,
            outcome: AuditOutcome::from_code(&text(r, 10)?).ok_or_else(|| corrupt("audit outcome"))?,
            detail: text(r, 11)?,
        },
        prev_hash: text(r, 12)?,
        hash: text(r, 13)?,
    })
}

pub(crate) async fn append_audit(
    store: &SqlStore,
    authority: AuthorityId,
    records: &[AuditRecord],
) -> StoreResult<Vec<AuditEntry>> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    // Two writers may read the same last entry; the UNIQUE (authority_id, seq) lets only one
    // insert, and the other tries again on the new last entry.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match append_once(store, authority, records).await {
            Err(StoreError::Conflict(_)) | Err(StoreError::Other(_)) if attempts < 20 => continue,
            other => return other,
        }
    }
}

async fn append_once(
    store: &SqlStore,
    authority: AuthorityId,
    records: &[AuditRecord],
) -> StoreResult<Vec<AuditEntry>> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let last = sqlx::query("SELECT seq, hash FROM pupil_audit WHERE authority_id = $1 ORDER BY seq DESC LIMIT 1")
        .bind(authority.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
    let mut previous = match &last {
        Some(r) => Some((
            u64::try_from(int(r, 0)?).map_err(|_| corrupt("audit sequence"))?,
            text(r, 1)?,
        )),
        None => None,
    };
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        let entry = next_entry(previous.as_ref().map(|(s, h)| (*s, h.as_str())), record.clone());
        let r = &entry.record;
        sqlx::query(
            "INSERT INTO pupil_audit (authority_id, seq, at, user_id, user_email, role, action, resource, pupil_id, urn, \
             purpose, outcome, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(authority.0)
        .bind(i64::try_from(entry.seq).map_err(|_| corrupt("audit sequence"))?)
        .bind(r.at)
        .bind(r.user.0)
        .bind(&r.user_email)
        .bind(&r.role)
        .bind(r.action.code())
        .bind(r.resource.code())
        .bind(r.pupil.map(|p| p.0))
        .bind(r.school.map(urn_i64))
        .bind(&r.purpose)
        .bind(r.outcome.code())
        .bind(&r.detail)
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        previous = Some((entry.seq, entry.hash.clone()));
        out.push(entry);
    }
    tx.commit().await.map_err(db_err)?;
    Ok(out)
}

pub(crate) async fn audit_entries(
    store: &SqlStore,
    authority: AuthorityId,
    query: &AuditQuery,
) -> StoreResult<Vec<AuditEntry>> {
    let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM pupil_audit WHERE authority_id = $1");
    let mut n = 2;
    if query.pupil.is_some() {
        sql.push_str(&format!(" AND pupil_id = ${n}"));
        n += 1;
    }
    if query.user_email.is_some() {
        sql.push_str(&format!(" AND LOWER(user_email) = LOWER(${n})"));
    }
    sql.push_str(" ORDER BY seq");
    let mut q = sqlx::query(&sql).bind(authority.0);
    if let Some(p) = query.pupil {
        q = q.bind(p.0);
    }
    if let Some(e) = &query.user_email {
        q = q.bind(e.trim().to_string());
    }
    let rows = q.fetch_all(store.pool()).await.map_err(db_err)?;
    rows.iter().map(audit_from_row).collect()
}

// ---- retention ----

pub(crate) async fn delete_casework(
    store: &SqlStore,
    authority: AuthorityId,
    d: &RetentionDeletion,
) -> StoreResult<()> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let a = authority.0;
    for id in &d.cases {
        for table in ["mentor_targets", "mentor_sessions", "mentor_reviews"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE case_id IN (SELECT id FROM mentor_cases WHERE id = $1 AND authority_id = $2)"
            ))
            .bind(id.0)
            .bind(a)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        sqlx::query("DELETE FROM mentor_cases WHERE id = $1 AND authority_id = $2")
            .bind(id.0)
            .bind(a)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    let simple: [(&str, Vec<i64>); 3] = [
        ("gt_entries", d.gt_entries.iter().map(|x| x.0).collect()),
        ("lsu_placements", d.placements.iter().map(|x| x.0).collect()),
        ("transitions", d.transitions.iter().map(|x| x.0).collect()),
    ];
    for (table, ids) in simple {
        for id in ids {
            sqlx::query(&format!("DELETE FROM {table} WHERE id = $1 AND authority_id = $2"))
                .bind(id)
                .bind(a)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
    }
    for id in &d.pupils {
        // A pupil goes only when nothing else of theirs remains.
        let mut remaining = 0;
        for table in ["gt_entries", "mentor_cases", "lsu_placements", "transitions"] {
            let row = sqlx::query(&format!(
                "SELECT COUNT(*) FROM {table} WHERE pupil_id = $1 AND authority_id = $2"
            ))
            .bind(id.0)
            .bind(a)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
            remaining += int(&row, 0)?;
        }
        if remaining > 0 {
            return Err(StoreError::Conflict(format!(
                "pupil {id} still has records; they are deleted first"
            )));
        }
        sqlx::query("DELETE FROM pupils WHERE id = $1 AND authority_id = $2")
            .bind(id.0)
            .bind(a)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    tx.commit().await.map_err(db_err)
}

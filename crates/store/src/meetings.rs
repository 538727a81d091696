//! Committees at work: the people register and seats, and meetings saved whole with the totals
//! the governance health view reads (written into 0003's meeting tables in the same transaction).

use crate::rows::{date, date_text, int, opt_i64, opt_text, text, urn};
use crate::{SqlStore, db_err};
use domain::NaiveDate;
use domain::governance::meeting::Attendance;
use domain::governance::{
    ChairRule, Choice, Constitution, ConstitutionVersion, Outcome, QuorumRule, SeatKind, TieRule,
};
use domain::ids::{AuthorityId, ClusterId, MeetingId, PersonId, Urn};
use service::meetings::{
    ActionRecord, AgendaItem, Approval, AttendanceRecord, CommitteePerson, CommitteeRegister, CommitteeSeat,
    DeclarationRecord, Distribution, ElectionRecord, ElectionRoundRecord, MeetingRecord, MeetingTotals, MotionRecord,
    Office, Officer, Paper, PersonDetails,
};
use service::store::{StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use std::collections::BTreeMap;

fn corrupt(what: &str, v: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("stored {what} is not valid: {v}"))
}

fn opt_date(r: &AnyRow, i: usize) -> StoreResult<Option<NaiveDate>> {
    opt_text(r, i)?.map(|d| date(&d)).transpose()
}

fn opt_urn(r: &AnyRow, i: usize) -> StoreResult<Option<Urn>> {
    opt_i64(r, i)?.map(urn).transpose()
}

fn urn_i64(u: Urn) -> i64 {
    i64::from(u.get())
}

fn position(i: usize) -> i64 {
    i64::try_from(i + 1).unwrap_or(i64::MAX)
}

fn index(r: &AnyRow, i: usize) -> StoreResult<usize> {
    usize::try_from(int(r, i)? - 1).map_err(|_| corrupt("position", i))
}

async fn cluster_is_theirs(
    tx: &mut Transaction<'_, Any>,
    authority: AuthorityId,
    cluster: ClusterId,
) -> StoreResult<()> {
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

/// People of the cluster by id: every person a seat or meeting names must be one of them.
async fn people_of(tx: &mut Transaction<'_, Any>, cluster: ClusterId) -> StoreResult<Vec<i64>> {
    sqlx::query("SELECT id FROM committee_people WHERE cluster_id = $1")
        .bind(cluster.0)
        .fetch_all(&mut **tx)
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| int(r, 0))
        .collect()
}

fn check_people(known: &[i64], ids: impl IntoIterator<Item = PersonId>) -> StoreResult<()> {
    for p in ids {
        if !known.contains(&p.0) {
            return Err(StoreError::NotFound(format!("person {p} on this committee")));
        }
    }
    Ok(())
}

async fn ensure_officers(tx: &mut Transaction<'_, Any>, authority: AuthorityId, cluster: ClusterId) -> StoreResult<()> {
    let row = sqlx::query("SELECT COUNT(*) FROM committee_officers WHERE cluster_id = $1")
        .bind(cluster.0)
        .fetch_one(&mut **tx)
        .await
        .map_err(db_err)?;
    if int(&row, 0)? == 0 {
        sqlx::query("INSERT INTO committee_officers (cluster_id, authority_id) VALUES ($1, $2)")
            .bind(cluster.0)
            .bind(authority.0)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

fn constitution_from_row(r: &AnyRow, from: usize) -> StoreResult<(u32, NaiveDate, Constitution)> {
    let preset = text(r, from + 2)?;
    let mut k = Constitution::preset(&preset).ok_or_else(|| corrupt("constitution preset", &preset))?;
    let quorum = text(r, from + 3)?;
    k.quorum = QuorumRule::parse(&quorum).ok_or_else(|| corrupt("quorum rule", &quorum))?;
    k.casting_vote = int(r, from + 4)? != 0;
    let chair = text(r, from + 5)?;
    k.chair = ChairRule::parse(&chair).ok_or_else(|| corrupt("chair rule", &chair))?;
    let small = |i: usize| -> StoreResult<u32> { u32::try_from(int(r, i)?).map_err(|_| corrupt("number", i)) };
    k.min_meetings_per_term = small(from + 6)?;
    k.minutes_within_days = small(from + 7)?;
    k.review_every_months = small(from + 8)?;
    Ok((small(from)?, date(&text(r, from + 1)?)?, k))
}

pub(crate) async fn committee_register(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
) -> StoreResult<Option<CommitteeRegister>> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    match cluster_is_theirs(&mut tx, authority, cluster).await {
        Err(StoreError::NotFound(_)) => return Ok(None),
        other => other?,
    }
    let mut register = CommitteeRegister {
        cluster,
        versions: Vec::new(),
        people: Vec::new(),
        seats: Vec::new(),
        chair: None,
        vice_chair: None,
        last_review: None,
    };
    for r in sqlx::query(
        "SELECT version, effective_from, preset, quorum, casting_vote, chair_rule, min_meetings_per_term, \
         minutes_within_days, review_every_months FROM constitution_versions WHERE cluster_id = $1 ORDER BY version",
    )
    .bind(cluster.0)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    {
        let (version, effective_from, constitution) = constitution_from_row(&r, 0)?;
        register.versions.push(ConstitutionVersion {
            version,
            effective_from,
            constitution,
        });
    }
    let mut governs: BTreeMap<i64, Vec<Urn>> = BTreeMap::new();
    for r in sqlx::query(
        "SELECT g.person_id, g.urn FROM committee_person_governs g JOIN committee_people p ON p.id = g.person_id \
         WHERE p.cluster_id = $1 ORDER BY g.person_id, g.urn",
    )
    .bind(cluster.0)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    {
        governs.entry(int(&r, 0)?).or_default().push(urn(int(&r, 1)?)?);
    }
    for r in sqlx::query("SELECT id, name, works_at, head_of FROM committee_people WHERE cluster_id = $1 ORDER BY id")
        .bind(cluster.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?
    {
        let id = int(&r, 0)?;
        register.people.push(CommitteePerson {
            id: PersonId(id),
            details: PersonDetails {
                name: text(&r, 1)?,
                governor_of: governs.remove(&id).unwrap_or_default(),
                works_at: opt_urn(&r, 2)?,
                head_of: opt_urn(&r, 3)?,
            },
        });
    }
    for r in sqlx::query(
        "SELECT kind, urn, person_id, suspended, term_from, term_to FROM seats WHERE cluster_id = $1 ORDER BY id",
    )
    .bind(cluster.0)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    {
        let kind = text(&r, 0)?;
        register.seats.push(CommitteeSeat {
            kind: SeatKind::from_code(&kind).ok_or_else(|| corrupt("seat kind", &kind))?,
            school: opt_urn(&r, 1)?,
            person: opt_i64(&r, 2)?.map(PersonId),
            suspended: int(&r, 3)? != 0,
            term_from: opt_date(&r, 4)?,
            term_to: opt_date(&r, 5)?,
        });
    }
    if let Some(r) = sqlx::query(
        "SELECT chair_person_id, vice_chair_person_id, last_review FROM committee_officers WHERE cluster_id = $1",
    )
    .bind(cluster.0)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_err)?
    {
        let officer = |p: Option<i64>| {
            p.map(|p| Officer {
                person: PersonId(p),
                elected_at: None,
            })
        };
        register.chair = officer(opt_i64(&r, 0)?);
        register.vice_chair = officer(opt_i64(&r, 1)?);
        register.last_review = opt_date(&r, 2)?;
    }
    for (cluster_id, office, officer) in elected_officers(&mut tx, authority, Some(cluster)).await? {
        if cluster_id == cluster.0 {
            match office {
                Office::Chair => register.chair = Some(officer),
                Office::ViceChair => register.vice_chair = Some(officer),
            }
        }
    }
    tx.commit().await.map_err(db_err)?;
    Ok(Some(register))
}

/// Officers elected at held meetings, oldest first (so the latest wins when applied in order).
pub(crate) async fn elected_officers(
    tx: &mut Transaction<'_, Any>,
    authority: AuthorityId,
    cluster: Option<ClusterId>,
) -> StoreResult<Vec<(i64, Office, Officer)>> {
    let rows = sqlx::query(
        "SELECT m.cluster_id, e.office, e.elected_person_id, m.id, m.held_on FROM meeting_elections e \
         JOIN meetings m ON m.id = e.meeting_id JOIN meeting_records r ON r.meeting_id = m.id \
         WHERE m.authority_id = $1 AND ($2 < 0 OR m.cluster_id = $2) AND r.held = 1 \
         AND e.elected_person_id IS NOT NULL ORDER BY m.held_on, m.id, e.position",
    )
    .bind(authority.0)
    .bind(cluster.map_or(-1, |c| c.0))
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    let mut out = Vec::new();
    for r in rows {
        let office = text(&r, 1)?;
        out.push((
            int(&r, 0)?,
            Office::parse(&office).ok_or_else(|| corrupt("office", &office))?,
            Officer {
                person: PersonId(int(&r, 2)?),
                elected_at: Some((MeetingId(int(&r, 3)?), date(&text(&r, 4)?)?)),
            },
        ));
    }
    Ok(out)
}

async fn insert_governs(tx: &mut Transaction<'_, Any>, person: i64, details: &PersonDetails) -> StoreResult<()> {
    let mut schools = details.governor_of.clone();
    schools.sort_unstable();
    schools.dedup();
    for u in schools {
        sqlx::query("INSERT INTO committee_person_governs (person_id, urn) VALUES ($1, $2)")
            .bind(person)
            .bind(urn_i64(u))
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

pub(crate) async fn add_committee_people(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
    people: &[PersonDetails],
) -> StoreResult<Vec<PersonId>> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    cluster_is_theirs(&mut tx, authority, cluster).await?;
    let mut ids = Vec::with_capacity(people.len());
    for p in people {
        let row = sqlx::query(
            "INSERT INTO committee_people (authority_id, cluster_id, name, works_at, head_of) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(authority.0)
        .bind(cluster.0)
        .bind(&p.name)
        .bind(p.works_at.map(urn_i64))
        .bind(p.head_of.map(urn_i64))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let id = int(&row, 0)?;
        insert_governs(&mut tx, id, p).await?;
        ids.push(PersonId(id));
    }
    tx.commit().await.map_err(db_err)?;
    Ok(ids)
}

pub(crate) async fn update_committee_person(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
    person: PersonId,
    details: &PersonDetails,
) -> StoreResult<()> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    cluster_is_theirs(&mut tx, authority, cluster).await?;
    let done = sqlx::query(
        "UPDATE committee_people SET name = $1, works_at = $2, head_of = $3 WHERE id = $4 AND cluster_id = $5 AND authority_id = $6",
    )
    .bind(&details.name)
    .bind(details.works_at.map(urn_i64))
    .bind(details.head_of.map(urn_i64))
    .bind(person.0)
    .bind(cluster.0)
    .bind(authority.0)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("person {person} on this committee")));
    }
    sqlx::query("DELETE FROM committee_person_governs WHERE person_id = $1")
        .bind(person.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    insert_governs(&mut tx, person.0, details).await?;
    // Seats show their holder's name (0003 kept names); keep it current.
    sqlx::query("UPDATE seats SET holder = $1 WHERE person_id = $2")
        .bind(&details.name)
        .bind(person.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

pub(crate) async fn save_committee_seats(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
    seats: &[CommitteeSeat],
) -> StoreResult<()> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    cluster_is_theirs(&mut tx, authority, cluster).await?;
    let known = people_of(&mut tx, cluster).await?;
    check_people(&known, seats.iter().filter_map(|s| s.person))?;
    let names: BTreeMap<i64, String> = sqlx::query("SELECT id, name FROM committee_people WHERE cluster_id = $1")
        .bind(cluster.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| Ok((int(r, 0)?, text(r, 1)?)))
        .collect::<StoreResult<_>>()?;
    sqlx::query("DELETE FROM seats WHERE cluster_id = $1")
        .bind(cluster.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    for s in seats {
        sqlx::query(
            "INSERT INTO seats (authority_id, cluster_id, kind, urn, holder, suspended, term_from, term_to, person_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(authority.0)
        .bind(cluster.0)
        .bind(s.kind.code())
        .bind(s.school.map(urn_i64))
        .bind(s.person.and_then(|p| names.get(&p.0).cloned()))
        .bind(i64::from(s.suspended))
        .bind(s.term_from.map(date_text))
        .bind(s.term_to.map(date_text))
        .bind(s.person.map(|p| p.0))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    ensure_officers(&mut tx, authority, cluster).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

pub(crate) async fn save_constitution_versions(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
    versions: &[ConstitutionVersion],
    last_review: Option<NaiveDate>,
) -> StoreResult<()> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    cluster_is_theirs(&mut tx, authority, cluster).await?;
    sqlx::query("DELETE FROM constitution_versions WHERE cluster_id = $1")
        .bind(cluster.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    for v in versions {
        let k = &v.constitution;
        sqlx::query(
            "INSERT INTO constitution_versions (authority_id, cluster_id, version, effective_from, preset, quorum, \
             casting_vote, chair_rule, min_meetings_per_term, minutes_within_days, review_every_months) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(authority.0)
        .bind(cluster.0)
        .bind(i64::from(v.version))
        .bind(date_text(v.effective_from))
        .bind(k.preset_code())
        .bind(k.quorum.code())
        .bind(i64::from(k.casting_vote))
        .bind(k.chair.code())
        .bind(i64::from(k.min_meetings_per_term))
        .bind(i64::from(k.minutes_within_days))
        .bind(i64::from(k.review_every_months))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    ensure_officers(&mut tx, authority, cluster).await?;
    sqlx::query("UPDATE committee_officers SET last_review = $1 WHERE cluster_id = $2")
        .bind(last_review.map(date_text))
        .bind(cluster.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

fn tie_rule_parts(t: TieRule) -> (&'static str, i64) {
    match t {
        TieRule::Lot { seed } => ("lot", i64::try_from(seed).unwrap_or(i64::MAX)),
        TieRule::ChairDecides => ("chair_decides", 0),
    }
}

/// Every person a meeting record names.
fn people_named(m: &MeetingRecord) -> Vec<PersonId> {
    let mut out: Vec<PersonId> = m.attendance.iter().map(|a| a.person).collect();
    out.extend(m.roll.iter().filter_map(|s| s.person));
    for i in &m.items {
        out.extend(i.declarations.iter().map(|d| d.person));
        if let Some(mo) = &i.motion {
            out.extend([mo.proposer, mo.seconder]);
        }
    }
    for e in &m.elections {
        out.extend(e.candidates.iter().copied());
        out.extend(e.elected);
        for r in &e.rounds {
            out.extend(r.ballots.iter().map(|(_, p)| *p));
            out.extend(r.chair_pick);
        }
    }
    out.extend(m.actions.iter().map(|a| a.owner));
    out
}

const MEETING_CHILDREN: [&str; 12] = [
    "meeting_attendance",
    "meeting_roll",
    "meeting_papers",
    "meeting_declarations",
    "meeting_votes",
    "meeting_items",
    "election_ballots",
    "election_rounds",
    "election_candidates",
    "meeting_elections",
    "meeting_actions",
    "meeting_schools_present",
];

pub(crate) async fn save_meeting(
    store: &SqlStore,
    authority: AuthorityId,
    m: &MeetingRecord,
) -> StoreResult<MeetingId> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    cluster_is_theirs(&mut tx, authority, m.cluster).await?;
    let known = people_of(&mut tx, m.cluster).await?;
    check_people(&known, people_named(m))?;
    for approves in m.items.iter().filter_map(|i| i.approves_minutes_of) {
        let row = sqlx::query("SELECT COUNT(*) FROM meetings WHERE id = $1 AND cluster_id = $2 AND authority_id = $3")
            .bind(approves.0)
            .bind(m.cluster.0)
            .bind(authority.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        if int(&row, 0)? == 0 {
            return Err(StoreError::NotFound(format!("meeting {approves} of this committee")));
        }
    }
    let totals = &m.totals;
    let id = match m.id {
        None => {
            let row = sqlx::query(
                "INSERT INTO meetings (authority_id, cluster_id, held_on, quorate, decisions_carried) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(authority.0)
            .bind(m.cluster.0)
            .bind(date_text(m.held_on))
            .bind(i64::from(totals.quorate))
            .bind(i64::from(totals.decisions_carried))
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
            let id = int(&row, 0)?;
            sqlx::query(
                "INSERT INTO meeting_records (meeting_id, authority_id, title, location, held, revision) VALUES ($1, $2, $3, $4, 0, 0)",
            )
            .bind(id)
            .bind(authority.0)
            .bind(&m.title)
            .bind(&m.location)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            id
        }
        Some(id) => {
            let done = sqlx::query(
                "UPDATE meetings SET held_on = $1, quorate = $2, decisions_carried = $3 WHERE id = $4 AND cluster_id = $5 AND authority_id = $6",
            )
            .bind(date_text(m.held_on))
            .bind(i64::from(totals.quorate))
            .bind(i64::from(totals.decisions_carried))
            .bind(id.0)
            .bind(m.cluster.0)
            .bind(authority.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("meeting {id}")));
            }
            id.0
        }
    };
    let done = sqlx::query(
        "UPDATE meeting_records SET title = $1, location = $2, notice_sent_on = $3, held = $4, revision = revision + 1, \
         minutes_text = $5, minutes_drafted_on = $6 WHERE meeting_id = $7 AND revision = $8",
    )
    .bind(&m.title)
    .bind(&m.location)
    .bind(m.notice_sent_on.map(date_text))
    .bind(i64::from(totals.held))
    .bind(m.minutes_text.as_deref())
    .bind(m.minutes_drafted_on.map(date_text))
    .bind(id)
    .bind(if m.id.is_some() { m.revision } else { 0 })
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict(
            "this meeting was changed by someone else since you opened it: reload the page and try again".into(),
        ));
    }
    for table in MEETING_CHILDREN {
        sqlx::query(&format!("DELETE FROM {table} WHERE meeting_id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    for a in &m.attendance {
        sqlx::query(
            "INSERT INTO meeting_attendance (meeting_id, person_id, status, substitute_for) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(a.person.0)
        .bind(a.status.code())
        .bind(a.substitute_for.map(urn_i64))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    for (i, s) in m.roll.iter().enumerate() {
        sqlx::query(
            "INSERT INTO meeting_roll (meeting_id, position, kind, urn, person_id, suspended, term_from, term_to) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(position(i))
        .bind(s.kind.code())
        .bind(s.school.map(urn_i64))
        .bind(s.person.map(|p| p.0))
        .bind(i64::from(s.suspended))
        .bind(s.term_from.map(date_text))
        .bind(s.term_to.map(date_text))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    for (i, item) in m.items.iter().enumerate() {
        let pos = position(i);
        sqlx::query(
            "INSERT INTO meeting_items (meeting_id, position, title, restricted, restricted_to, motion_text, proposer_id, \
             seconder_id, casting_vote, recorded_outcome, approves_meeting_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id)
        .bind(pos)
        .bind(&item.title)
        .bind(i64::from(item.restricted))
        .bind(item.restricted_to.map(urn_i64))
        .bind(item.motion.as_ref().map(|mo| mo.text.clone()))
        .bind(item.motion.as_ref().map(|mo| mo.proposer.0))
        .bind(item.motion.as_ref().map(|mo| mo.seconder.0))
        .bind(item.casting_vote.map(Choice::code))
        .bind(item.recorded_outcome.map(Outcome::code))
        .bind(item.approves_minutes_of.map(|a| a.0))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        for (k, p) in item.papers.iter().enumerate() {
            sqlx::query(
                "INSERT INTO meeting_papers (meeting_id, item_position, position, title, body) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(pos)
            .bind(position(k))
            .bind(&p.title)
            .bind(&p.text)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        for d in &item.declarations {
            sqlx::query(
                "INSERT INTO meeting_declarations (meeting_id, item_position, person_id, interest, withdraws) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(pos)
            .bind(d.person.0)
            .bind(&d.interest)
            .bind(i64::from(d.withdraws))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        for (school, choice) in &item.votes {
            sqlx::query("INSERT INTO meeting_votes (meeting_id, item_position, urn, choice) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(pos)
                .bind(urn_i64(*school))
                .bind(choice.code())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
    }
    for (i, e) in m.elections.iter().enumerate() {
        let pos = position(i);
        let (rule, seed) = tie_rule_parts(e.tie_rule);
        sqlx::query(
            "INSERT INTO meeting_elections (meeting_id, position, office, tie_rule, seed, elected_person_id) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(pos)
        .bind(e.office.code())
        .bind(rule)
        .bind(seed)
        .bind(e.elected.map(|p| p.0))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut candidates = e.candidates.clone();
        candidates.sort_unstable();
        candidates.dedup();
        for c in candidates {
            sqlx::query(
                "INSERT INTO election_candidates (meeting_id, election_position, person_id) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(pos)
            .bind(c.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        for (k, r) in e.rounds.iter().enumerate() {
            sqlx::query("INSERT INTO election_rounds (meeting_id, election_position, round, chair_pick) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(pos)
                .bind(position(k))
                .bind(r.chair_pick.map(|p| p.0))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            for (school, person) in &r.ballots {
                sqlx::query(
                    "INSERT INTO election_ballots (meeting_id, election_position, round, urn, person_id) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(pos)
                .bind(position(k))
                .bind(urn_i64(*school))
                .bind(person.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
        }
    }
    for (i, a) in m.actions.iter().enumerate() {
        sqlx::query(
            "INSERT INTO meeting_actions (meeting_id, position, body, owner_id, due_on, done_on) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(position(i))
        .bind(&a.text)
        .bind(a.owner.0)
        .bind(date_text(a.due_on))
        .bind(a.done_on.map(date_text))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    let mut present = totals.schools_present.clone();
    present.sort_unstable();
    present.dedup();
    for u in present {
        sqlx::query("INSERT INTO meeting_schools_present (meeting_id, urn) VALUES ($1, $2)")
            .bind(id)
            .bind(urn_i64(u))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    sqlx::query("DELETE FROM minutes_distribution WHERE meeting_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    for d in &m.distribution {
        sqlx::query(
            "INSERT INTO minutes_distribution (meeting_id, urn, sent_on, received_on, adopted_on) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(urn_i64(d.school))
        .bind(d.sent_on.map(date_text))
        .bind(d.received_on.map(date_text))
        .bind(d.adopted_on.map(date_text))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(MeetingId(id))
}

/// Which meetings to load.
enum Which {
    One(MeetingId),
    Cluster(ClusterId),
}

pub(crate) async fn meeting(
    store: &SqlStore,
    authority: AuthorityId,
    id: MeetingId,
) -> StoreResult<Option<MeetingRecord>> {
    Ok(load(store, authority, Which::One(id)).await?.into_iter().next())
}

pub(crate) async fn cluster_meetings(
    store: &SqlStore,
    authority: AuthorityId,
    cluster: ClusterId,
) -> StoreResult<Vec<MeetingRecord>> {
    load(store, authority, Which::Cluster(cluster)).await
}

async fn load(store: &SqlStore, authority: AuthorityId, which: Which) -> StoreResult<Vec<MeetingRecord>> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    // Every query below selects meetings (alias m) by this one condition; $1 is the authority.
    let (filter, key) = match which {
        Which::One(id) => ("m.authority_id = $1 AND m.id = $2", id.0),
        Which::Cluster(c) => ("m.authority_id = $1 AND m.cluster_id = $2", c.0),
    };
    let mut meetings: BTreeMap<i64, MeetingRecord> = BTreeMap::new();
    let mut order: Vec<i64> = Vec::new();
    let sql = format!(
        "SELECT m.id, m.cluster_id, m.held_on, m.quorate, m.decisions_carried, r.title, r.location, r.notice_sent_on, \
         r.held, r.revision, r.minutes_text, r.minutes_drafted_on FROM meetings m JOIN meeting_records r ON r.meeting_id = m.id \
         WHERE {filter} ORDER BY m.held_on, m.id"
    );
    for r in sqlx::query(&sql)
        .bind(authority.0)
        .bind(key)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?
    {
        let id = int(&r, 0)?;
        order.push(id);
        meetings.insert(
            id,
            MeetingRecord {
                id: Some(MeetingId(id)),
                cluster: ClusterId(int(&r, 1)?),
                held_on: date(&text(&r, 2)?)?,
                title: text(&r, 5)?,
                location: text(&r, 6)?,
                notice_sent_on: opt_date(&r, 7)?,
                revision: int(&r, 9)?,
                attendance: Vec::new(),
                roll: Vec::new(),
                items: Vec::new(),
                elections: Vec::new(),
                actions: Vec::new(),
                minutes_text: opt_text(&r, 10)?,
                minutes_drafted_on: opt_date(&r, 11)?,
                distribution: Vec::new(),
                approved: None,
                totals: MeetingTotals {
                    held: int(&r, 8)? != 0,
                    quorate: int(&r, 3)? != 0,
                    schools_present: Vec::new(),
                    decisions_carried: u32::try_from(int(&r, 4)?).map_err(|_| corrupt("decisions", "negative"))?,
                },
            },
        );
    }
    if meetings.is_empty() {
        tx.commit().await.map_err(db_err)?;
        return Ok(Vec::new());
    }
    macro_rules! rows {
        ($sql:expr) => {
            sqlx::query(&format!($sql, filter = filter))
                .bind(authority.0)
                .bind(key)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?
        };
    }
    for r in rows!(
        "SELECT a.meeting_id, a.person_id, a.status, a.substitute_for FROM meeting_attendance a \
         JOIN meetings m ON m.id = a.meeting_id WHERE {filter} ORDER BY a.meeting_id, a.person_id"
    ) {
        let status = text(&r, 2)?;
        if let Some(m) = meetings.get_mut(&int(&r, 0)?) {
            m.attendance.push(AttendanceRecord {
                person: PersonId(int(&r, 1)?),
                status: Attendance::parse(&status).ok_or_else(|| corrupt("attendance", &status))?,
                substitute_for: opt_urn(&r, 3)?,
            });
        }
    }
    for r in rows!(
        "SELECT x.meeting_id, x.kind, x.urn, x.person_id, x.suspended, x.term_from, x.term_to FROM meeting_roll x \
         JOIN meetings m ON m.id = x.meeting_id WHERE {filter} ORDER BY x.meeting_id, x.position"
    ) {
        let kind = text(&r, 1)?;
        if let Some(m) = meetings.get_mut(&int(&r, 0)?) {
            m.roll.push(CommitteeSeat {
                kind: SeatKind::from_code(&kind).ok_or_else(|| corrupt("seat kind", &kind))?,
                school: opt_urn(&r, 2)?,
                person: opt_i64(&r, 3)?.map(PersonId),
                suspended: int(&r, 4)? != 0,
                term_from: opt_date(&r, 5)?,
                term_to: opt_date(&r, 6)?,
            });
        }
    }
    for r in rows!(
        "SELECT i.meeting_id, i.position, i.title, i.restricted, i.restricted_to, i.motion_text, i.proposer_id, \
         i.seconder_id, i.casting_vote, i.recorded_outcome, i.approves_meeting_id FROM meeting_items i \
         JOIN meetings m ON m.id = i.meeting_id WHERE {filter} ORDER BY i.meeting_id, i.position"
    ) {
        let motion = match (opt_text(&r, 5)?, opt_i64(&r, 6)?, opt_i64(&r, 7)?) {
            (Some(text), Some(p), Some(s)) => Some(MotionRecord {
                text,
                proposer: PersonId(p),
                seconder: PersonId(s),
            }),
            _ => None,
        };
        let casting = opt_text(&r, 8)?
            .map(|c| Choice::parse(&c).ok_or_else(|| corrupt("casting vote", c)))
            .transpose()?;
        let outcome = opt_text(&r, 9)?
            .map(|o| Outcome::parse(&o).ok_or_else(|| corrupt("outcome", o)))
            .transpose()?;
        if let Some(m) = meetings.get_mut(&int(&r, 0)?) {
            if index(&r, 1)? != m.items.len() {
                return Err(corrupt("item position", int(&r, 1)?));
            }
            m.items.push(AgendaItem {
                title: text(&r, 2)?,
                restricted: int(&r, 3)? != 0,
                restricted_to: opt_urn(&r, 4)?,
                papers: Vec::new(),
                declarations: Vec::new(),
                motion,
                votes: Vec::new(),
                casting_vote: casting,
                recorded_outcome: outcome,
                approves_minutes_of: opt_i64(&r, 10)?.map(MeetingId),
            });
        }
    }
    for r in rows!(
        "SELECT p.meeting_id, p.item_position, p.title, p.body FROM meeting_papers p \
         JOIN meetings m ON m.id = p.meeting_id WHERE {filter} ORDER BY p.meeting_id, p.item_position, p.position"
    ) {
        if let Some(item) = meetings
            .get_mut(&int(&r, 0)?)
            .and_then(|m| m.items.get_mut(index(&r, 1).ok()?))
        {
            item.papers.push(Paper {
                title: text(&r, 2)?,
                text: text(&r, 3)?,
            });
        }
    }
    for r in rows!(
        "SELECT d.meeting_id, d.item_position, d.person_id, d.interest, d.withdraws FROM meeting_declarations d \
         JOIN meetings m ON m.id = d.meeting_id WHERE {filter} ORDER BY d.meeting_id, d.item_position, d.person_id"
    ) {
        if let Some(item) = meetings
            .get_mut(&int(&r, 0)?)
            .and_then(|m| m.items.get_mut(index(&r, 1).ok()?))
        {
            item.declarations.push(DeclarationRecord {
                person: PersonId(int(&r, 2)?),
                interest: text(&r, 3)?,
                withdraws: int(&r, 4)? != 0,
            });
        }
    }
    for r in rows!(
        "SELECT v.meeting_id, v.item_position, v.urn, v.choice FROM meeting_votes v \
         JOIN meetings m ON m.id = v.meeting_id WHERE {filter} ORDER BY v.meeting_id, v.item_position, v.urn"
    ) {
        let choice = text(&r, 3)?;
        let choice = Choice::parse(&choice).ok_or_else(|| corrupt("vote", &choice))?;
        if let Some(item) = meetings
            .get_mut(&int(&r, 0)?)
            .and_then(|m| m.items.get_mut(index(&r, 1).ok()?))
        {
            item.votes.push((urn(int(&r, 2)?)?, choice));
        }
    }
    for r in rows!(
        "SELECT e.meeting_id, e.position, e.office, e.tie_rule, e.seed, e.elected_person_id FROM meeting_elections e \
         JOIN meetings m ON m.id = e.meeting_id WHERE {filter} ORDER BY e.meeting_id, e.position"
    ) {
        let office = text(&r, 2)?;
        let rule = text(&r, 3)?;
        let tie_rule = match rule.as_str() {
            "lot" => TieRule::Lot {
                seed: u64::try_from(int(&r, 4)?).map_err(|_| corrupt("seed", "negative"))?,
            },
            "chair_decides" => TieRule::ChairDecides,
            other => return Err(corrupt("tie rule", other)),
        };
        if let Some(m) = meetings.get_mut(&int(&r, 0)?) {
            m.elections.push(ElectionRecord {
                office: Office::parse(&office).ok_or_else(|| corrupt("office", &office))?,
                candidates: Vec::new(),
                tie_rule,
                rounds: Vec::new(),
                elected: opt_i64(&r, 5)?.map(PersonId),
            });
        }
    }
    for r in rows!(
        "SELECT c.meeting_id, c.election_position, c.person_id FROM election_candidates c \
         JOIN meetings m ON m.id = c.meeting_id WHERE {filter} ORDER BY c.meeting_id, c.election_position, c.person_id"
    ) {
        if let Some(e) = meetings
            .get_mut(&int(&r, 0)?)
            .and_then(|m| m.elections.get_mut(index(&r, 1).ok()?))
        {
            e.candidates.push(PersonId(int(&r, 2)?));
        }
    }
    for r in rows!(
        "SELECT x.meeting_id, x.election_position, x.round, x.chair_pick FROM election_rounds x \
         JOIN meetings m ON m.id = x.meeting_id WHERE {filter} ORDER BY x.meeting_id, x.election_position, x.round"
    ) {
        if let Some(e) = meetings
            .get_mut(&int(&r, 0)?)
            .and_then(|m| m.elections.get_mut(index(&r, 1).ok()?))
        {
            e.rounds.push(ElectionRoundRecord {
                ballots: Vec::new(),
                chair_pick: opt_i64(&r, 3)?.map(PersonId),
            });
        }
    }
    for r in rows!(
        "SELECT b.meeting_id, b.election_position, b.round, b.urn, b.person_id FROM election_ballots b \
         JOIN meetings m ON m.id = b.meeting_id WHERE {filter} ORDER BY b.meeting_id, b.election_position, b.round, b.urn"
    ) {
        let round = index(&r, 2)?;
        if let Some(x) = meetings
            .get_mut(&int(&r, 0)?)
            .and_then(|m| m.elections.get_mut(index(&r, 1).ok()?))
            .and_then(|e| e.rounds.get_mut(round))
        {
            x.ballots.push((urn(int(&r, 3)?)?, PersonId(int(&r, 4)?)));
        }
    }
    for r in rows!(
        "SELECT a.meeting_id, a.body, a.owner_id, a.due_on, a.done_on FROM meeting_actions a \
         JOIN meetings m ON m.id = a.meeting_id WHERE {filter} ORDER BY a.meeting_id, a.position"
    ) {
        if let Some(m) = meetings.get_mut(&int(&r, 0)?) {
            m.actions.push(ActionRecord {
                text: text(&r, 1)?,
                owner: PersonId(int(&r, 2)?),
                due_on: date(&text(&r, 3)?)?,
                done_on: opt_date(&r, 4)?,
            });
        }
    }
    for r in rows!(
        "SELECT p.meeting_id, p.urn FROM meeting_schools_present p \
         JOIN meetings m ON m.id = p.meeting_id WHERE {filter} ORDER BY p.meeting_id, p.urn"
    ) {
        if let Some(m) = meetings.get_mut(&int(&r, 0)?) {
            m.totals.schools_present.push(urn(int(&r, 1)?)?);
        }
    }
    for r in rows!(
        "SELECT d.meeting_id, d.urn, d.sent_on, d.received_on, d.adopted_on FROM minutes_distribution d \
         JOIN meetings m ON m.id = d.meeting_id WHERE {filter} ORDER BY d.meeting_id, d.urn"
    ) {
        if let Some(m) = meetings.get_mut(&int(&r, 0)?) {
            m.distribution.push(Distribution {
                school: urn(int(&r, 1)?)?,
                sent_on: opt_date(&r, 2)?,
                received_on: opt_date(&r, 3)?,
                adopted_on: opt_date(&r, 4)?,
            });
        }
    }
    // Approval lives on the later meeting: an item approving these minutes whose motion carried.
    for r in rows!(
        "SELECT i.approves_meeting_id, a.id, a.held_on, i.position FROM meeting_items i \
         JOIN meetings a ON a.id = i.meeting_id JOIN meetings m ON m.id = i.approves_meeting_id \
         WHERE {filter} AND a.authority_id = $1 AND i.recorded_outcome IN ('carried', 'carried_on_casting_vote') \
         ORDER BY a.held_on, a.id"
    ) {
        if let Some(m) = meetings.get_mut(&int(&r, 0)?)
            && m.approved.is_none()
        {
            m.approved = Some(Approval {
                meeting: MeetingId(int(&r, 1)?),
                held_on: date(&text(&r, 2)?)?,
                item: u32::try_from(int(&r, 3)?).map_err(|_| corrupt("item", "negative"))?,
            });
        }
    }
    tx.commit().await.map_err(db_err)?;
    Ok(order.into_iter().filter_map(|id| meetings.remove(&id)).collect())
}

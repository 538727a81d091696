//! Cluster committees: constitution versions, seats, officers, meetings and minutes distribution.
//! A committee is saved as one aggregate (replaced whole, in one transaction).

use crate::rows::{date, date_text, int, opt_i64, opt_text, text, urn};
use crate::{SqlStore, db_err};
use domain::governance::health::{CommitteeState, MeetingSummary};
use domain::governance::{
    ChairRule, Committee, Constitution, ConstitutionVersion, QuorumRule, Seat, SeatKind, SeatStatus,
};
use domain::ids::{AuthorityId, ClusterId, PersonId};
use service::store::{StoreError, StoreResult};
use std::collections::BTreeMap;

fn corrupt(what: &str, v: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("stored {what} is not valid: {v}"))
}

pub(crate) async fn save_committee(store: &SqlStore, authority: AuthorityId, c: &Committee) -> StoreResult<()> {
    let mut tx = store.begin_write().await.map_err(db_err)?;
    let owned = sqlx::query("SELECT COUNT(*) FROM clusters WHERE id = $1 AND authority_id = $2")
        .bind(c.cluster.0)
        .bind(authority.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if int(&owned, 0)? == 0 {
        return Err(StoreError::NotFound(format!("cluster {}", c.cluster)));
    }
    let cluster = c.cluster.0;
    // Meetings recorded in full (0007) are saved on their own; only summary meetings go here.
    for sql in [
        "DELETE FROM minutes_distribution WHERE meeting_id IN (SELECT id FROM meetings WHERE cluster_id = $1 \
         AND id NOT IN (SELECT meeting_id FROM meeting_records))",
        "DELETE FROM meeting_schools_present WHERE meeting_id IN (SELECT id FROM meetings WHERE cluster_id = $1 \
         AND id NOT IN (SELECT meeting_id FROM meeting_records))",
        "DELETE FROM meetings WHERE cluster_id = $1 AND id NOT IN (SELECT meeting_id FROM meeting_records)",
        "DELETE FROM seats WHERE cluster_id = $1",
        "DELETE FROM committee_officers WHERE cluster_id = $1",
        "DELETE FROM constitution_versions WHERE cluster_id = $1",
    ] {
        sqlx::query(sql).bind(cluster).execute(&mut *tx).await.map_err(db_err)?;
    }
    let holder = |p: Option<PersonId>| -> Option<String> {
        p.and_then(|p| usize::try_from(p.0).ok())
            .and_then(|i| c.holders.get(i).cloned())
    };
    for v in &c.versions {
        let k = &v.constitution;
        sqlx::query(
            "INSERT INTO constitution_versions (authority_id, cluster_id, version, effective_from, preset, quorum, \
             casting_vote, chair_rule, min_meetings_per_term, minutes_within_days, review_every_months) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(authority.0)
        .bind(cluster)
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
    for s in &c.state.seats {
        let (person, suspended) = match s.status {
            SeatStatus::Filled(p) => (Some(p), false),
            SeatStatus::Suspended(p) => (Some(p), true),
            SeatStatus::Vacant => (None, false),
        };
        sqlx::query(
            "INSERT INTO seats (authority_id, cluster_id, kind, urn, holder, suspended, term_from, term_to) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(authority.0)
        .bind(cluster)
        .bind(s.kind.code())
        .bind(s.school.map(|u| i64::from(u.get())))
        .bind(holder(person))
        .bind(i64::from(suspended))
        .bind(s.term_from.map(date_text))
        .bind(s.term_to.map(date_text))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    sqlx::query(
        "INSERT INTO committee_officers (cluster_id, authority_id, chair, vice_chair, last_review) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(cluster)
    .bind(authority.0)
    .bind(holder(c.state.chair))
    .bind(holder(c.state.vice_chair))
    .bind(c.state.last_review.map(date_text))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    for m in &c.state.meetings {
        let row = sqlx::query(
            "INSERT INTO meetings (authority_id, cluster_id, held_on, quorate, decisions_carried) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(authority.0)
        .bind(cluster)
        .bind(date_text(m.date))
        .bind(i64::from(m.quorate))
        .bind(i64::from(m.decisions_carried))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let meeting = int(&row, 0)?;
        for u in &m.schools_present {
            sqlx::query("INSERT INTO meeting_schools_present (meeting_id, urn) VALUES ($1, $2)")
                .bind(meeting)
                .bind(i64::from(u.get()))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        for (u, sent) in &m.minutes_sent {
            sqlx::query("INSERT INTO minutes_distribution (meeting_id, urn, sent_on) VALUES ($1, $2, $3)")
                .bind(meeting)
                .bind(i64::from(u.get()))
                .bind(sent.map(date_text))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
    }
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

/// Holders to local person ids, in the order first seen: a person on the register (0007) by
/// their id, a holder recorded only by name (0003) by that name.
#[derive(Default)]
struct Holders {
    keys: Vec<String>,
    names: Vec<String>,
}

impl Holders {
    fn id(&mut self, name: Option<String>) -> Option<PersonId> {
        let name = name.filter(|n| !n.is_empty())?;
        self.key(format!("name:{name}"), name)
    }
    fn person(&mut self, person: i64, name: String) -> Option<PersonId> {
        self.key(format!("person:{person}"), name)
    }
    fn key(&mut self, key: String, name: String) -> Option<PersonId> {
        let i = match self.keys.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                self.keys.push(key);
                self.names.push(name);
                self.keys.len() - 1
            }
        };
        Some(PersonId(i64::try_from(i).unwrap_or(i64::MAX)))
    }
}

/// Every committee of the authority. `member_schools` is left empty: membership is the
/// cluster's, on a day the caller chooses.
pub(crate) async fn committees(store: &SqlStore, authority: AuthorityId) -> StoreResult<Vec<Committee>> {
    let pool = store.pool();
    let mut by_cluster: BTreeMap<i64, (Committee, Holders)> = BTreeMap::new();
    let rows = sqlx::query(
        "SELECT cluster_id, version, effective_from, preset, quorum, casting_vote, chair_rule, min_meetings_per_term, \
         minutes_within_days, review_every_months FROM constitution_versions WHERE authority_id = $1 ORDER BY cluster_id, version",
    )
    .bind(authority.0)
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    for r in rows {
        let cluster = int(&r, 0)?;
        let preset = text(&r, 3)?;
        let mut k = Constitution::preset(&preset).ok_or_else(|| corrupt("constitution preset", &preset))?;
        let quorum = text(&r, 4)?;
        k.quorum = QuorumRule::parse(&quorum).ok_or_else(|| corrupt("quorum rule", &quorum))?;
        k.casting_vote = int(&r, 5)? != 0;
        let chair = text(&r, 6)?;
        k.chair = ChairRule::parse(&chair).ok_or_else(|| corrupt("chair rule", &chair))?;
        let small = |i: usize| -> StoreResult<u32> { u32::try_from(int(&r, i)?).map_err(|_| corrupt("number", i)) };
        k.min_meetings_per_term = small(7)?;
        k.minutes_within_days = small(8)?;
        k.review_every_months = small(9)?;
        let entry = by_cluster.entry(cluster).or_insert_with(|| {
            (
                Committee {
                    cluster: ClusterId(cluster),
                    versions: Vec::new(),
                    holders: Vec::new(),
                    state: CommitteeState {
                        member_schools: Vec::new(),
                        seats: Vec::new(),
                        chair: None,
                        vice_chair: None,
                        last_review: None,
                        meetings: Vec::new(),
                    },
                },
                Holders::default(),
            )
        });
        entry.0.versions.push(ConstitutionVersion {
            version: small(1)?,
            effective_from: date(&text(&r, 2)?)?,
            constitution: k,
        });
    }
    let names: BTreeMap<i64, String> = sqlx::query("SELECT id, name FROM committee_people WHERE authority_id = $1")
        .bind(authority.0)
        .fetch_all(pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| Ok((int(r, 0)?, text(r, 1)?)))
        .collect::<StoreResult<_>>()?;
    let holder = |holders: &mut Holders, person: Option<i64>, name: Option<String>| match person {
        Some(p) => holders.person(p, names.get(&p).cloned().unwrap_or_default()),
        None => holders.id(name),
    };
    for r in sqlx::query(
        "SELECT cluster_id, kind, urn, holder, suspended, term_from, term_to, person_id FROM seats WHERE authority_id = $1 ORDER BY cluster_id, id",
    )
    .bind(authority.0)
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    {
        let Some((c, holders)) = by_cluster.get_mut(&int(&r, 0)?) else { continue };
        let kind = text(&r, 1)?;
        let person = holder(holders, opt_i64(&r, 7)?, opt_text(&r, 3)?);
        c.state.seats.push(Seat {
            kind: SeatKind::from_code(&kind).ok_or_else(|| corrupt("seat kind", &kind))?,
            school: opt_i64(&r, 2)?.map(urn).transpose()?,
            status: match (person, int(&r, 4)? != 0) {
                (None, _) => SeatStatus::Vacant,
                (Some(p), false) => SeatStatus::Filled(p),
                (Some(p), true) => SeatStatus::Suspended(p),
            },
            term_from: opt_text(&r, 5)?.map(|d| date(&d)).transpose()?,
            term_to: opt_text(&r, 6)?.map(|d| date(&d)).transpose()?,
        });
    }
    for r in sqlx::query(
        "SELECT cluster_id, chair, vice_chair, last_review, chair_person_id, vice_chair_person_id FROM committee_officers WHERE authority_id = $1",
    )
    .bind(authority.0)
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    {
        let Some((c, holders)) = by_cluster.get_mut(&int(&r, 0)?) else {
            continue;
        };
        c.state.chair = holder(holders, opt_i64(&r, 4)?, opt_text(&r, 1)?);
        c.state.vice_chair = holder(holders, opt_i64(&r, 5)?, opt_text(&r, 2)?);
        c.state.last_review = opt_text(&r, 3)?.map(|d| date(&d)).transpose()?;
    }
    // Officers elected at recorded meetings, the latest last, override what was recorded directly.
    let mut tx = pool.begin().await.map_err(db_err)?;
    for (cluster, office, officer) in crate::meetings::elected_officers(&mut tx, authority, None).await? {
        let Some((c, holders)) = by_cluster.get_mut(&cluster) else {
            continue;
        };
        let id = holder(holders, Some(officer.person.0), None);
        match office {
            service::meetings::Office::Chair => c.state.chair = id,
            service::meetings::Office::ViceChair => c.state.vice_chair = id,
        }
    }
    tx.commit().await.map_err(db_err)?;
    let mut meetings: BTreeMap<i64, (i64, MeetingSummary)> = BTreeMap::new();
    // Meetings recorded in full count once held (attendance recorded); summary meetings always.
    for r in sqlx::query(
        "SELECT m.id, m.cluster_id, m.held_on, m.quorate, m.decisions_carried FROM meetings m \
         LEFT JOIN meeting_records r ON r.meeting_id = m.id WHERE m.authority_id = $1 \
         AND (r.meeting_id IS NULL OR r.held = 1) ORDER BY m.held_on, m.id",
    )
    .bind(authority.0)
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    {
        meetings.insert(
            int(&r, 0)?,
            (
                int(&r, 1)?,
                MeetingSummary {
                    date: date(&text(&r, 2)?)?,
                    quorate: int(&r, 3)? != 0,
                    schools_present: Vec::new(),
                    minutes_sent: Vec::new(),
                    minutes_approved_on: None,
                    decisions_carried: u32::try_from(int(&r, 4)?).map_err(|_| corrupt("decisions", "negative"))?,
                },
            ),
        );
    }
    for r in sqlx::query(
        "SELECT p.meeting_id, p.urn FROM meeting_schools_present p JOIN meetings m ON m.id = p.meeting_id \
         WHERE m.authority_id = $1 ORDER BY p.meeting_id, p.urn",
    )
    .bind(authority.0)
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    {
        if let Some((_, m)) = meetings.get_mut(&int(&r, 0)?) {
            m.schools_present.push(urn(int(&r, 1)?)?);
        }
    }
    for r in sqlx::query(
        "SELECT d.meeting_id, d.urn, d.sent_on FROM minutes_distribution d JOIN meetings m ON m.id = d.meeting_id \
         WHERE m.authority_id = $1 ORDER BY d.meeting_id, d.urn",
    )
    .bind(authority.0)
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    {
        if let Some((_, m)) = meetings.get_mut(&int(&r, 0)?) {
            m.minutes_sent
                .push((urn(int(&r, 1)?)?, opt_text(&r, 2)?.map(|d| date(&d)).transpose()?));
        }
    }
    for r in sqlx::query(
        "SELECT i.approves_meeting_id, a.held_on FROM meeting_items i JOIN meetings a ON a.id = i.meeting_id \
         WHERE a.authority_id = $1 AND i.approves_meeting_id IS NOT NULL \
         AND i.recorded_outcome IN ('carried', 'carried_on_casting_vote') ORDER BY a.held_on",
    )
    .bind(authority.0)
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    {
        if let Some((_, m)) = meetings.get_mut(&int(&r, 0)?)
            && m.minutes_approved_on.is_none()
        {
            m.minutes_approved_on = Some(date(&text(&r, 1)?)?);
        }
    }
    for (_, (cluster, m)) in meetings {
        if let Some((c, _)) = by_cluster.get_mut(&cluster) {
            c.state.meetings.push(m);
        }
    }
    Ok(by_cluster
        .into_values()
        .map(|(mut c, holders)| {
            c.holders = holders.names;
            c
        })
        .collect())
}

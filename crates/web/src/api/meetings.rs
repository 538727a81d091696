//! `/api/v1/meetings…` and `/api/v1/clusters/{id}/meetings`: a committee's meetings, putting a
//! motion, recording one school's vote (an idempotent upsert: one vote per school) and the
//! tally. The rules are the service's (`service::meetings`).

use super::{ApiError, ApiUser, JsonBody, json, ok, path_id};
use crate::AppState;
use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::ids::{ClusterId, MeetingId};
use serde::Deserialize;
use serde_json::{Value, json as j};
use service::meetings::{ItemView, MinutesState, MotionInput};

fn minutes_code(m: &MinutesState) -> &'static str {
    match m {
        MinutesState::NotDrafted => "not_drafted",
        MinutesState::Draft => "draft",
        MinutesState::Approved(_) => "approved",
        MinutesState::Distributed { .. } => "distributed",
    }
}

/// `GET /api/v1/clusters/{id}/meetings`.
pub(crate) async fn list(
    State(app): State<AppState>,
    Extension(ApiUser(user)): Extension<ApiUser>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = ClusterId(path_id(&id)?);
    super::register::Params::parse(query.as_deref(), &[])?;
    let list = app.service.committee_meetings(&user, id).await?;
    let mut rows: Vec<Value> = list
        .terms
        .iter()
        .flat_map(|(_, ms)| ms.iter())
        .map(|m| {
            j!({
                "id": m.id.0,
                "held_on": m.held_on.to_string(),
                "title": m.title,
                "held": m.held,
                "quorate": m.quorate,
                "minutes": minutes_code(&m.minutes),
            })
        })
        .collect();
    rows.sort_by(|a, b| a["held_on"].as_str().cmp(&b["held_on"].as_str()));
    Ok(ok(&j!({
        "cluster": { "id": list.cluster.0, "name": list.cluster_name },
        "meetings": rows,
    })))
}

fn item_json(it: &ItemView) -> Value {
    if !it.visible {
        return j!({ "number": it.number, "visible": false });
    }
    let r = it.result.as_ref();
    let (outcome, tally) = match r.and_then(|r| r.outcome) {
        Some((o, t)) => (
            Value::from(o.code()),
            j!({"for": t.for_votes, "against": t.against, "abstain": t.abstain}),
        ),
        None => (Value::Null, Value::Null),
    };
    j!({
        "number": it.number,
        "visible": true,
        "title": it.item.title,
        "restricted": it.item.restricted,
        "motion": it.item.motion.as_ref().map(|m| j!({
            "text": m.text,
            "proposer": m.proposer.0,
            "seconder": m.seconder.0,
        })),
        "votes": it.item.votes.iter().map(|(u, c)| j!({"school": u.to_string(), "choice": c.code()})).collect::<Vec<_>>(),
        "casting_vote": it.item.casting_vote.map(|c| c.code()),
        "tally": tally,
        "outcome": outcome,
        "recorded_outcome": it.item.recorded_outcome.map(|o| o.code()),
        "quorum": r.map(|r| j!({"required": r.quorum.required, "present": r.quorum.present, "quorate": r.quorum.quorate})),
        "voting_schools": r.map(|r| r.voting_schools.iter().map(ToString::to_string).collect::<Vec<_>>()),
        "error": r.and_then(|r| r.error.clone()),
        "approves_minutes_of": it.item.approves_minutes_of.map(|m| m.0),
    })
}

/// `GET /api/v1/meetings/{id}`: who is present (and for which school each votes) and every item.
pub(crate) async fn meeting(
    State(app): State<AppState>,
    Extension(ApiUser(user)): Extension<ApiUser>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = MeetingId(path_id(&id)?);
    super::register::Params::parse(query.as_deref(), &[])?;
    let v = app.service.meeting(&user, id).await?;
    let votes_for = |p| {
        v.voters
            .iter()
            .find(|(_, who)| who.contains(&p))
            .map(|(u, _)| u.to_string())
    };
    Ok(ok(&j!({
        "id": v.id.0,
        "cluster": { "id": v.cluster.0, "name": v.cluster_name },
        "held_on": v.record.held_on.to_string(),
        "title": v.record.title,
        "held": !v.record.attendance.is_empty(),
        "closed": v.is_closed(),
        "runs_meeting": v.access.may_run(),
        "minutes": minutes_code(&v.minutes),
        "quorum": v.quorum.map(|q| j!({"required": q.required, "present": q.present, "quorate": q.quorate})),
        "attendance": v.record.attendance.iter().map(|a| j!({
            "person": a.person.0,
            "name": v.name(a.person),
            "status": a.status.code(),
            "votes_for": votes_for(a.person),
        })).collect::<Vec<_>>(),
        "items": v.items.iter().map(item_json).collect::<Vec<_>>(),
        "problem": v.problem,
    })))
}

/// A motion put on a new agenda item.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MotionBody {
    title: String,
    text: String,
    proposer: i64,
    seconder: i64,
}

/// `POST /api/v1/meetings/{id}/motions`: 201 with the new item's number.
pub(crate) async fn add_motion(
    State(app): State<AppState>,
    Extension(ApiUser(user)): Extension<ApiUser>,
    Path(id): Path<String>,
    body: Result<JsonBody<MotionBody>, ApiError>,
) -> Result<Response, ApiError> {
    let id = MeetingId(path_id(&id)?);
    app.service.may_run_meeting(&user, id).await?;
    let JsonBody(b) = body?;
    for (field, value, max) in [("title", &b.title, 200), ("text", &b.text, 2_000)] {
        if value.chars().count() > max {
            return Err(ApiError::invalid(field, format!("at most {max} characters")));
        }
    }
    let n = app
        .service
        .add_motion(
            &user,
            id,
            &b.title,
            &MotionInput {
                text: b.text,
                proposer: b.proposer.to_string(),
                seconder: b.seconder.to_string(),
            },
        )
        .await?;
    Ok(json(StatusCode::CREATED, &j!({ "meeting": id.0, "motion": n })))
}

async fn tally(app: &AppState, user: &domain::access::User, id: MeetingId, motion: &str) -> Result<Value, ApiError> {
    let v = app.service.meeting(user, id).await?;
    let n: usize = motion.parse().map_err(|_| ApiError::not_found())?;
    let it = v
        .items
        .iter()
        .find(|it| it.number == n && it.visible)
        .filter(|it| it.item.motion.is_some())
        .ok_or_else(ApiError::not_found)?;
    let mut x = item_json(it);
    x["meeting"] = Value::from(id.0);
    Ok(x)
}

/// One school's vote.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VoteBody {
    school: String,
    choice: String,
}

/// `POST /api/v1/meetings/{id}/motions/{motion}/votes`: records (or replaces) one school's vote;
/// 200 with `changed` and the tally as it now stands.
pub(crate) async fn vote(
    State(app): State<AppState>,
    Extension(ApiUser(user)): Extension<ApiUser>,
    Path((id, motion)): Path<(String, String)>,
    body: Result<JsonBody<VoteBody>, ApiError>,
) -> Result<Response, ApiError> {
    let id = MeetingId(path_id(&id)?);
    let n = path_id(&motion)?;
    app.service.may_run_meeting(&user, id).await?;
    let JsonBody(b) = body?;
    if !super::ledger::six_digits(&b.school) {
        return Err(ApiError::invalid("school", "a member school's 6-digit URN"));
    }
    let done = app
        .service
        .record_school_vote(&user, id, &n.to_string(), &b.school, &b.choice)
        .await?;
    Ok(ok(&j!({
        "meeting": id.0,
        "motion": done.item,
        "school": done.school.to_string(),
        "choice": done.choice.code(),
        "changed": done.changed,
        "tally": tally(&app, &user, id, &n.to_string()).await?,
    })))
}

/// `GET /api/v1/meetings/{id}/motions/{motion}/votes`: the votes, tally and outcome.
pub(crate) async fn votes(
    State(app): State<AppState>,
    Extension(ApiUser(user)): Extension<ApiUser>,
    Path((id, motion)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = MeetingId(path_id(&id)?);
    let n = path_id(&motion)?;
    super::register::Params::parse(query.as_deref(), &[])?;
    Ok(ok(&tally(&app, &user, id, &n.to_string()).await?))
}

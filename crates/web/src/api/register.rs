//! `/api/v1/schools`, `/api/v1/clusters…`: the register as JSON, with the same filters as the
//! pages, and the query-string rules every API endpoint shares.

use super::{ApiError, ApiUser, ok, path_id};
use crate::AppState;
use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use domain::ids::ClusterId;
use domain::school::{Phase, SchoolWithCensus};
use serde_json::{Value, json as j};
use service::store::{ClusterSummary, SchoolQuery, SchoolSort};

/// A query string checked against the parameters an endpoint takes: an unknown or repeated
/// parameter is refused (422 naming it), so a typo never silently means "no filter".
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>, known: &[&str]) -> Result<Params, ApiError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if !known.contains(&k.as_ref()) {
                return Err(ApiError::invalid(
                    k.to_string(),
                    format!("not a parameter of this endpoint (it takes {})", known.join(", ")),
                ));
            }
            if out.iter().any(|(x, _)| *x == k) {
                return Err(ApiError::invalid(k.to_string(), "give this parameter once"));
            }
            out.push((k.into_owned(), v.into_owned()));
        }
        Ok(Params(out))
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// A text parameter of at most `max` characters, no control characters.
    pub fn text(&self, name: &str, max: usize) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => Err(ApiError::invalid(
                name,
                format!("at most {max} characters, with no control characters"),
            )),
            Some(v) => Ok(Some(v.to_string())),
        }
    }
    /// An integer parameter in `min..=max`.
    pub fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n) && !v.starts_with('+'))
                .map(Some)
                .ok_or_else(|| ApiError::invalid(name, format!("a whole number from {min} to {max}"))),
        }
    }
    /// One of a fixed list of words.
    pub fn word<'a>(&self, name: &str, allowed: &[&'a str]) -> Result<Option<&'a str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => allowed
                .iter()
                .find(|a| **a == v)
                .copied()
                .map(Some)
                .ok_or_else(|| ApiError::invalid(name, format!("one of {}", allowed.join(", ")))),
        }
    }
}

pub(crate) fn school_json(s: &SchoolWithCensus) -> Value {
    let c = s.census.as_ref();
    let school = &s.school;
    j!({
        "urn": school.urn.to_string(),
        "name": school.name,
        "phase": school.phase.code(),
        "governance": school.governance.code(),
        "status": school.status.code(),
        "postcode": school.postcode,
        "district": school.district.as_ref().map(|d| d.name.clone()),
        "pupils": c.map(|c| c.pupils),
        "fsm_pct": c.and_then(|c| c.fsm_pct).map(|t| t.to_string()),
        "census_date": c.map(|c| c.census_date.to_string()),
    })
}

fn summary_json(c: &ClusterSummary) -> Value {
    j!({
        "id": c.cluster.id.0,
        "name": c.cluster.name,
        "illustrative": c.cluster.illustrative,
        "schools": c.schools,
        "pupils": c.pupils,
        "secondaries": c.secondaries,
        "primaries": c.primaries,
        "others": c.others,
    })
}

const PAGE_SIZE_MAX: i64 = 200;

/// `GET /api/v1/schools?q&phase&district&cluster&sort&dir&page&per_page`.
pub(crate) async fn schools(
    State(app): State<AppState>,
    Extension(ApiUser(user)): Extension<ApiUser>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(
        query.as_deref(),
        &["q", "phase", "district", "cluster", "sort", "dir", "page", "per_page"],
    )?;
    let phases: Vec<&str> = Phase::ALL.iter().map(|p| p.code()).collect();
    let phase = p.word("phase", &phases)?.and_then(Phase::from_code);
    let sort = match p.word("sort", &["name", "urn", "pupils", "fsm", "district"])? {
        None | Some("name") => SchoolSort::Name,
        Some("urn") => SchoolSort::Urn,
        Some("pupils") => SchoolSort::Pupils,
        Some("fsm") => SchoolSort::FsmPct,
        Some(_) => SchoolSort::District,
    };
    let descending = p.word("dir", &["asc", "desc"])? == Some("desc");
    let page = p.int("page", 1, 100_000)?.unwrap_or(1);
    let per_page = p.int("per_page", 1, PAGE_SIZE_MAX)?.unwrap_or(50);
    let nonempty = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let query = SchoolQuery {
        search: nonempty(p.text("q", 200)?),
        phase,
        district: nonempty(p.text("district", 200)?),
        cluster: p.int("cluster", 1, i64::MAX)?.map(ClusterId),
        on: None,
        sort,
        descending,
        limit: Some(u32::try_from(per_page).unwrap_or(50)),
        offset: u32::try_from((page - 1) * per_page).unwrap_or(u32::MAX),
    };
    let result = app.service.list_schools(&user, &query).await?;
    Ok(ok(&j!({
        "total": result.total,
        "page": page,
        "per_page": per_page,
        "schools": result.rows.iter().map(|r| {
            let mut s = school_json(&r.school);
            s["cluster"] = r.cluster.as_ref().map_or(Value::Null, |(id, name)| j!({"id": id.0, "name": name}));
            s
        }).collect::<Vec<_>>(),
    })))
}

/// `GET /api/v1/clusters`: every cluster with members today.
pub(crate) async fn clusters(
    State(app): State<AppState>,
    Extension(ApiUser(user)): Extension<ApiUser>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let list = app.service.clusters(&user).await?;
    Ok(ok(&j!({
        "clusters": list.iter().map(summary_json).collect::<Vec<_>>(),
    })))
}

/// `GET /api/v1/clusters/{id}`: the cluster and its members today.
pub(crate) async fn cluster(
    State(app): State<AppState>,
    Extension(ApiUser(user)): Extension<ApiUser>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = ClusterId(path_id(&id)?);
    Params::parse(query.as_deref(), &[])?;
    let d = app.service.cluster(&user, id).await?;
    let mut body = summary_json(&d.summary);
    body["members"] = d
        .members
        .iter()
        .map(|(s, role, since)| {
            let mut x = school_json(s);
            x["role"] = Value::from(role.code());
            x["since"] = Value::from(since.to_string());
            x
        })
        .collect::<Vec<_>>()
        .into();
    Ok(ok(&body))
}

/// `GET /api/v1/clusters/{id}/allocation`: the cluster's allocation under the policy in force
/// today, every pot's budget and every line (with its arithmetic) of the schools this caller may
/// see; central lines and totals for everyone who may read the cluster. 404 when no policy is
/// in force.
pub(crate) async fn allocation(
    State(app): State<AppState>,
    Extension(ApiUser(user)): Extension<ApiUser>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = ClusterId(path_id(&id)?);
    Params::parse(query.as_deref(), &[])?;
    let Some(view) = app.service.cluster_allocation(&user, id).await? else {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "no funding policy is in force today",
        ));
    };
    let a = &view.allocation;
    let shown = |u: &domain::ids::Urn| view.shown.contains(u);
    Ok(ok(&j!({
        "cluster": { "id": a.cluster.0, "name": a.cluster_name },
        "policy": {
            "name": a.source.policy_name,
            "id": a.source.policy.map(|p| p.0),
            "version": a.source.version_number,
        },
        "budget_pence": a.budget().pence(),
        "central_pence": a.central().pence(),
        "streams": a.streams.iter().map(|s| j!({
            "name": s.name,
            "budget_pence": s.budget().pence(),
            "pots": s.pots.iter().map(|(fence, pot)| j!({
                "stream": fence.stream.as_ref(),
                "phase": fence.phase.as_ref(),
                "budget_pence": pot.budget.pence(),
                "top_slice_pence": pot.top_slice.pence(),
                "reconciles": pot.reconciles(),
                "lines": pot.lines.iter()
                    .filter(|l| l.urn.is_none_or(|u| shown(&u)))
                    .map(|l| j!({
                        "school": l.urn.map(|u| u.to_string()),
                        "component": l.component.as_ref(),
                        "amount_pence": l.amount.pence(),
                        "explanation": l.explain().to_string(),
                    })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "schools": a.schools.iter().filter(|s| shown(&s.urn)).map(|s| j!({
            "urn": s.urn.to_string(),
            "name": s.name,
            "total_pence": a.school_total(s.urn).pence(),
        })).collect::<Vec<_>>(),
    })))
}

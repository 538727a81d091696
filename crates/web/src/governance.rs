//! The governance health view: every cluster committee, worst first, and its CSV export.

use crate::AppState;
use crate::error::WebError;
use crate::format::date;
use crate::pages::chrome;
use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use domain::governance::health::Rag;
use domain::ids::ClusterId;
use serde::Deserialize;
use service::auth::CurrentSession;
use service::governance::{HealthSort, sort_health};

#[derive(Debug)]
pub(crate) struct HealthRow {
    id: ClusterId,
    name: String,
    status: &'static str,
    tag: &'static str,
    last_quorate: String,
    chair: &'static str,
    vice_chair: &'static str,
    vacancies: u32,
    terms_without: usize,
    minutes_late: u32,
    review_due: &'static str,
    /// The member school attending least: (name, "40 %", disengaged).
    lowest_attendance: Option<(String, String, bool)>,
    disengaged: usize,
    decisions: u32,
    reasons: String,
}

/// A sortable column heading: its label, the link that sorts by it, and its aria-sort state.
#[derive(Debug)]
pub(crate) struct SortHead {
    label: &'static str,
    href: String,
    aria: &'static str,
    numeric: bool,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct HealthParams {
    sort: Option<String>,
    dir: Option<String>,
}

#[derive(Template)]
#[template(path = "governance.html")]
struct GovernancePage {
    chrome: crate::pages::Chrome,
    synthetic: bool,
    at_risk: usize,
    attention: usize,
    good: usize,
    rows: Vec<HealthRow>,
    /// Rows link to each committee for those who take part in committee business.
    committees: bool,
    heads: Vec<SortHead>,
    disengaged_below: u32,
}

pub(crate) async fn page(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Query(params): Query<HealthParams>,
) -> Result<Response, WebError> {
    let sort = match params.sort.as_deref().map(str::trim) {
        None | Some("") => HealthSort::Status,
        Some(code) => HealthSort::parse(code).ok_or_else(|| {
            let codes: Vec<&str> = HealthSort::ALL.iter().map(|s| s.code()).collect();
            WebError::bad_request(format!("sort: {code:?} must be one of {}", codes.join(", ")))
        })?,
    };
    let descending = match params.dir.as_deref().map(str::trim) {
        None | Some("") | Some("asc") => false,
        Some("desc") => true,
        Some(other) => return Err(WebError::bad_request(format!("dir: {other:?} must be asc or desc"))),
    };
    let mut rows = app.service.governance_health(&session.user).await?;
    sort_health(&mut rows, sort, descending);
    let head = |label: &'static str, by: HealthSort, numeric: bool| {
        let active = by == sort;
        let next_desc = active && !descending;
        SortHead {
            label,
            href: format!(
                "/governance?sort={}{}",
                by.code(),
                if next_desc { "&dir=desc" } else { "" }
            ),
            aria: match (active, descending) {
                (false, _) => "none",
                (true, false) => "ascending",
                (true, true) => "descending",
            },
            numeric,
        }
    };
    let count = |rag: Rag| rows.iter().filter(|r| r.health.rag == rag).count();
    let page = GovernancePage {
        synthetic: rows
            .iter()
            .any(|r| r.chair.as_deref().is_some_and(|c| c.ends_with("(synthetic)"))),
        at_risk: count(Rag::Red),
        attention: count(Rag::Amber),
        good: count(Rag::Green),
        committees: service::meetings::may_read_committees(&session.user),
        heads: vec![
            head("Cluster", HealthSort::Name, false),
            head("Status", HealthSort::Status, false),
            head("Last quorate meeting", HealthSort::LastQuorateMeeting, false),
            head("Vacancies", HealthSort::Vacancies, true),
            head("Lowest attendance", HealthSort::LowestAttendance, false),
            head("Decisions this year", HealthSort::Decisions, true),
        ],
        disengaged_below: service::governance::DISENGAGED_BELOW_PCT,
        rows: rows
            .iter()
            .map(|r| HealthRow {
                id: r.cluster,
                name: r.name.clone(),
                status: r.health.rag.label(),
                tag: match r.health.rag {
                    Rag::Green => "govuk-tag--green",
                    Rag::Amber => "govuk-tag--yellow",
                    Rag::Red => "govuk-tag--red",
                },
                last_quorate: r.health.last_quorate_meeting.map_or_else(|| "None".into(), date),
                chair: if r.health.chair_in_post { "In post" } else { "None" },
                vice_chair: if r.health.vice_chair_in_post { "In post" } else { "None" },
                vacancies: r.health.vacancies,
                terms_without: r.health.terms_without_meeting.len(),
                minutes_late: r.health.minutes_overdue,
                review_due: if r.health.review_due { "Due" } else { "No" },
                lowest_attendance: r.attendance.first().map(|(name, pct)| {
                    (
                        name.clone(),
                        format!("{pct} %"),
                        *pct < service::governance::DISENGAGED_BELOW_PCT,
                    )
                }),
                disengaged: r.disengaged().count(),
                decisions: r.health.decisions_this_year,
                reasons: if r.health.reasons.is_empty() {
                    "–".into()
                } else {
                    r.health.reasons.join("; ")
                },
            })
            .collect(),
        chrome: chrome(&app, &session, "/governance").await?,
    };
    Ok(Html(page.render()?).into_response())
}

pub(crate) async fn csv(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    let body = app.service.governance_health_csv(&session.user).await?;
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"governance-health.csv\""),
    );
    Ok(r)
}

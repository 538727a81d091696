//! The governance health view: every cluster committee, worst first, and its CSV export.

use crate::AppState;
use crate::error::WebError;
use crate::format::date;
use crate::pages::chrome;
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use domain::governance::health::Rag;
use domain::ids::ClusterId;
use service::auth::CurrentSession;

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
    decisions: u32,
    reasons: String,
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
}

pub(crate) async fn page(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    let rows = app.service.governance_health(&session.user).await?;
    let count = |rag: Rag| rows.iter().filter(|r| r.health.rag == rag).count();
    let page = GovernancePage {
        synthetic: rows
            .iter()
            .any(|r| r.chair.as_deref().is_some_and(|c| c.ends_with("(synthetic)"))),
        at_risk: count(Rag::Red),
        attention: count(Rag::Amber),
        good: count(Rag::Green),
        committees: service::meetings::may_read_committees(&session.user),
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

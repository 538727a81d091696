//! Clusterwise's web interface: an axum router over [`service::Service`], server-rendered with
//! askama templates in the GOV.UK Design System's markup. Every core flow works without
//! JavaScript. Handlers are thin: no SQL and no policy here.
//!
//! Invariants: every route except `/sign-in`, `/assets/*` and `/health` needs a live session;
//! every POST carries the session's CSRF token; every response carries the security headers
//! (a Content-Security-Policy without `unsafe-inline`, `nosniff`, `frame-ancestors 'none'`) and
//! signed-in pages are `no-store`.

mod api;
mod assets;
mod casework;
mod design;
mod design_map;
mod error;
mod evaluation;
mod format;
mod governance;
mod import;
mod ledger;
mod map;
mod meetings;
mod pages;
mod policies;
mod security;
mod session;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use service::Service;
use std::sync::Arc;

/// Settings the web layer needs from the configuration.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure`. Browsers keep Secure cookies from http://127.0.0.1 and localhost.
    pub secure_cookies: bool,
    /// Largest request body accepted (uploads); larger requests get 413.
    pub max_upload_bytes: usize,
    /// A note on the sign-in page (the demo names its accounts there).
    pub sign_in_hint: Option<String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            secure_cookies: true,
            max_upload_bytes: 20 * 1024 * 1024,
            sign_in_hint: None,
        }
    }
}

/// What every handler can reach.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub service: Service,
    pub config: Arc<WebConfig>,
    pub imports: import::Runs,
    pub designs: design::Runs,
}

/// The whole application.
pub fn router(service: Service, config: WebConfig) -> Router {
    let limit = config.max_upload_bytes;
    let state = AppState {
        service,
        config: Arc::new(config),
        imports: import::Runs::default(),
        designs: design::Runs::default(),
    };
    let signed_in = Router::new()
        .route("/", get(pages::overview))
        .route("/schools", get(pages::schools))
        .route("/schools/{urn}", get(pages::school))
        .route("/clusters", get(pages::clusters))
        .route("/clusters/{id}", get(pages::cluster))
        .route("/map", get(pages::map))
        .route("/governance", get(governance::page))
        .route("/governance.csv", get(governance::csv))
        // ---- policies ----
        .route("/funding", get(policies::list))
        .route("/funding/new", get(policies::new_form).post(policies::create))
        .route("/funding/compare", get(policies::compare).post(policies::compare_draft))
        .route("/funding/maps", get(policies::under_map))
        .route(
            "/funding/narrative/{cluster}",
            get(policies::narrative_form).post(policies::narrative_save),
        )
        .route("/funding/{id}", get(policies::view))
        .route("/funding/{id}/edit", get(policies::edit_form).post(policies::edit))
        .route("/funding/{id}/in-force", post(policies::mark_in_force))
        .route("/schools/{urn}/statement", get(policies::statement))
        .route("/schools/{urn}/statement.csv", get(policies::statement_csv))
        .route("/schools/{urn}/report", get(policies::report))
        .route("/schools/{urn}/report.html", get(policies::report_file))
        // ---- end policies ----
        // ---- meetings ----
        .route("/clusters/{id}/committee", get(meetings::committee))
        .route("/clusters/{id}/committee/{action}", post(meetings::committee_post))
        .route(
            "/clusters/{id}/meetings",
            get(meetings::meetings).post(meetings::schedule),
        )
        .route("/meetings/{id}", get(meetings::meeting))
        .route(
            "/meetings/{id}/minutes",
            get(meetings::minutes).post(meetings::save_minutes),
        )
        .route("/meetings/{id}/{action}", post(meetings::meeting_post))
        // ---- ledger ----
        .route("/clusters/{id}/budget", get(ledger::page))
        .route("/clusters/{id}/budget/entries/new", get(ledger::entry_form))
        .route("/clusters/{id}/budget/entries", post(ledger::post_entry))
        .route(
            "/clusters/{id}/budget/entries/{entry}/reverse",
            get(ledger::reverse_form).post(ledger::reverse),
        )
        .route("/clusters/{id}/budget/exceptions/new", get(ledger::exception_form))
        .route("/clusters/{id}/budget/exceptions", post(ledger::record_exception))
        .route("/clusters/{id}/budget/staff/new", get(ledger::staff_form))
        .route("/clusters/{id}/budget/staff", post(ledger::record_staff))
        .route("/clusters/{id}/budget/horizon", post(ledger::set_horizon))
        // ---- end ledger ----
        .route("/import", get(import::form).post(import::upload))
        .route("/import/{run}", get(import::status))
        // ---- design ----
        .route("/design", get(design::list).post(design::run))
        .route("/design/compare", get(design::compare))
        .route("/design/{id}", get(design::scenario))
        .route("/design/{id}/adopt", post(design::adopt))
        // ---- casework ----
        .route("/casework", get(casework::home))
        .route("/casework/aggregates", get(casework::aggregates))
        .route("/casework/pupils", post(casework::add_pupil))
        .route("/casework/pupils/new", get(casework::pupil_form))
        .route("/casework/pupils/{id}", get(casework::pupil))
        .route("/casework/pupils/{id}/transition", post(casework::send_transition))
        .route("/casework/pupils/{id}/lsu", post(casework::place_in_lsu))
        .route("/casework/placements/{id}/end", post(casework::end_placement))
        .route("/casework/pupils/{id}/subject-access", get(casework::subject_access))
        .route(
            "/casework/pupils/{id}/subject-access.json",
            get(casework::subject_access_json),
        )
        .route(
            "/casework/pupils/{id}/educational-record.json",
            get(casework::educational_record_json),
        )
        .route(
            "/casework/pupils/{id}/educational-record",
            get(casework::educational_record),
        )
        .route("/casework/cases", post(casework::refer))
        .route("/casework/cases/new", get(casework::case_form))
        .route("/casework/cases/{id}", get(casework::case))
        .route("/casework/cases/{id}/plan", post(casework::plan))
        .route("/casework/cases/{id}/sessions", post(casework::session_log))
        .route("/casework/cases/{id}/review", post(casework::review))
        .route("/casework/cases/{id}/follow-up", post(casework::follow_up))
        .route("/casework/gt", get(casework::gt).post(casework::add_gt))
        .route("/casework/transitions/{id}", get(casework::transition_file))
        .route(
            "/casework/transitions/{id}/acknowledge",
            post(casework::acknowledge_transition),
        )
        .route("/privacy/fields", get(casework::fields))
        .route("/privacy/audit", get(casework::audit))
        .route(
            "/privacy/retention",
            get(casework::retention_form).post(casework::run_retention),
        )
        // ---- end casework ----
        // ---- evaluation ----
        .route("/evaluation", get(evaluation::home))
        .route("/evaluation/representation", get(evaluation::representation))
        .route(
            "/metrics/import",
            get(evaluation::metrics_form).post(evaluation::metrics_upload),
        )
        .route("/clusters/{id}/plan", get(evaluation::plan))
        .route("/clusters/{id}/plan/priorities", post(evaluation::add_priority))
        .route("/clusters/{id}/plan/activities", post(evaluation::add_activity))
        .route("/clusters/{id}/plan/targets", post(evaluation::add_target))
        .route("/clusters/{id}/plan/remove", post(evaluation::remove_item))
        .route("/clusters/{id}/fade", get(evaluation::fade_list))
        .route(
            "/clusters/{id}/fade/{due}",
            get(evaluation::fade_report).post(evaluation::save_fade_text),
        )
        .route(
            "/clusters/{id}/fade/{due}/judgement",
            post(evaluation::record_judgement),
        )
        .route("/clusters/{id}/snapshot", get(evaluation::snapshot))
        .route("/fade", get(evaluation::fade_summary))
        .route("/fade/settings", post(evaluation::save_settings))
        .route(
            "/questionnaires",
            get(evaluation::questionnaires).post(evaluation::send_questionnaire),
        )
        .route(
            "/questionnaires/{id}",
            get(evaluation::questionnaire).post(evaluation::answer_questionnaire),
        )
        // ---- end evaluation ----
        .route("/sign-out", post(session::sign_out))
        .route_layer(middleware::from_fn_with_state(state.clone(), session::require_session));
    // ---- api (JSON; bearer tokens or a session with X-CSRF-Token; see api.rs) ----
    let api = Router::new()
        .route("/api/v1/schools", get(api::register::schools))
        .route("/api/v1/clusters", get(api::register::clusters))
        .route("/api/v1/clusters/{id}", get(api::register::cluster))
        .route("/api/v1/clusters/{id}/allocation", get(api::register::allocation))
        .route("/api/v1/clusters/{id}/ledger", get(api::ledger::ledger))
        .route(
            "/api/v1/clusters/{id}/ledger/entries",
            get(api::ledger::entries).post(api::ledger::post_entry),
        )
        .route("/api/v1/clusters/{id}/meetings", get(api::meetings::list))
        .route("/api/v1/meetings/{id}", get(api::meetings::meeting))
        .route("/api/v1/meetings/{id}/motions", post(api::meetings::add_motion))
        .route(
            "/api/v1/meetings/{id}/motions/{motion}/votes",
            get(api::meetings::votes).post(api::meetings::vote),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), api::authenticate))
        .layer(DefaultBodyLimit::max(api::MAX_BODY_BYTES));
    // ---- end api ----
    let app = Router::new()
        .route("/health", get(pages::health))
        .route("/api/v1/openapi.json", get(api::openapi))
        .merge(api)
        .route("/sign-in", get(session::sign_in_form).post(session::sign_in))
        .route("/assets/{*path}", get(assets::serve))
        .merge(signed_in)
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state);
    outer_layers(app, limit)
}

/// The layers every response passes through, outermost last: a panic in a handler becomes a 500
/// without details (the cause is logged) and the server goes on; the security headers; early
/// refusal of oversized bodies; and under `/api/` every error in the API's JSON shape. Public so
/// a test can put a panicking route behind the same layers.
pub fn outer_layers(router: Router, max_upload_bytes: usize) -> Router {
    router
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(security::panicked))
        .layer(middleware::from_fn(security::headers))
        .layer(middleware::from_fn_with_state(
            max_upload_bytes,
            security::refuse_oversized,
        ))
        .layer(middleware::from_fn(api::json_errors))
}

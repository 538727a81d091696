//! Clusterwise's web interface: an axum router over [`service::Service`], server-rendered with
//! askama templates in the GOV.UK Design System's markup. Every core flow works without
//! JavaScript. Handlers are thin: no SQL and no policy here.
//!
//! Invariants: every route except `/sign-in`, `/assets/*` and `/health` needs a live session;
//! every POST carries the session's CSRF token; every response carries the security headers
//! (a Content-Security-Policy without `unsafe-inline`, `nosniff`, `frame-ancestors 'none'`) and
//! signed-in pages are `no-store`.

mod assets;
mod error;
mod evaluation;
mod format;
mod governance;
mod import;
mod map;
mod pages;
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
}

/// The whole application.
pub fn router(service: Service, config: WebConfig) -> Router {
    let limit = config.max_upload_bytes;
    let state = AppState {
        service,
        config: Arc::new(config),
        imports: import::Runs::default(),
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
        .route("/import", get(import::form).post(import::upload))
        .route("/import/{run}", get(import::status))
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
    Router::new()
        .route("/health", get(pages::health))
        .route("/sign-in", get(session::sign_in_form).post(session::sign_in))
        .route("/assets/{*path}", get(assets::serve))
        .merge(signed_in)
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(security::headers))
        .layer(middleware::from_fn_with_state(limit, security::refuse_oversized))
        .with_state(state)
}

//! The import page: upload a file, watch it run, read the row-level report. Runs are kept in
//! memory for the life of the process and are visible only within the uploader's authority.

use crate::AppState;
use crate::error::WebError;
use crate::format::int;
use crate::pages::chrome;
use crate::session::check_csrf;
use askama::Template;
use axum::Extension;
use axum::extract::{Multipart, Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use domain::NaiveDate;
use domain::access::require_import;
use domain::ids::AuthorityId;
use domain::import::RowError;
use service::auth::CurrentSession;
use service::import::{ImportKind, ImportOptions, ImportReport, ImportTarget};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
enum RunState {
    Running,
    Done(ImportReport),
    Failed(String),
}

#[derive(Debug, Clone)]
struct Run {
    authority: AuthorityId,
    kind: ImportKind,
    file_name: String,
    size: usize,
    state: RunState,
}

/// Import runs by id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Runs {
    next: Arc<AtomicU64>,
    runs: Arc<Mutex<HashMap<u64, Run>>>,
}

impl Runs {
    fn insert(&self, run: Run) -> u64 {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(mut runs) = self.runs.lock() {
            runs.insert(id, run);
        }
        id
    }
    fn finish(&self, id: u64, state: RunState) {
        if let Ok(mut runs) = self.runs.lock()
            && let Some(run) = runs.get_mut(&id)
        {
            run.state = state;
        }
    }
    fn get(&self, id: u64) -> Option<Run> {
        self.runs.lock().ok().and_then(|r| r.get(&id).cloned())
    }
}

#[derive(Debug)]
pub(crate) struct KindChoice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    chrome: crate::pages::Chrome,
    kinds: Vec<KindChoice>,
    error: Option<String>,
}

fn kinds(selected: Option<ImportKind>) -> Vec<KindChoice> {
    [ImportKind::Census, ImportKind::Gias, ImportKind::Clusters]
        .into_iter()
        .map(|k| KindChoice {
            value: k.code(),
            label: k.label(),
            selected: Some(k) == selected,
        })
        .collect()
}

pub(crate) async fn form(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    require_import(&session.user).map_err(|e| WebError::forbidden(e.to_string()))?;
    let page = ImportPage {
        chrome: chrome(&app, &session, "/import").await?,
        kinds: kinds(Some(ImportKind::Census)),
        error: None,
    };
    Ok(Html(page.render()?).into_response())
}

async fn form_error(
    app: &AppState,
    session: &CurrentSession,
    kind: Option<ImportKind>,
    error: String,
) -> Result<Response, WebError> {
    let page = ImportPage {
        chrome: chrome(app, session, "/import").await?,
        kinds: kinds(kind),
        error: Some(error),
    };
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}

/// Only the last path component, printable characters, at most 100 of them.
fn display_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base.chars().filter(|c| !c.is_control()).take(100).collect();
    if clean.is_empty() { "upload.csv".into() } else { clean }
}

pub(crate) async fn upload(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    mut multipart: Multipart,
) -> Result<Response, WebError> {
    let (mut csrf, mut kind, mut census_date, mut skip_invalid) = (String::new(), None, String::new(), false);
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| WebError::bad_request(format!("the upload could not be read: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                let file_name = display_name(field.file_name().unwrap_or_default());
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| WebError::bad_request(format!("the file could not be read: {e}")))?;
                file = Some((file_name, bytes.to_vec()));
            }
            _ => {
                let value = field
                    .text()
                    .await
                    .map_err(|e| WebError::bad_request(format!("{name}: {e}")))?;
                match name.as_str() {
                    "csrf_token" => csrf = value,
                    "kind" => kind = ImportKind::parse(&value),
                    "census_date" => census_date = value.trim().to_string(),
                    "skip_invalid" => skip_invalid = value == "yes",
                    _ => {}
                }
            }
        }
    }
    check_csrf(&session, &csrf)?;
    require_import(&session.user).map_err(|e| WebError::forbidden(e.to_string()))?;
    let Some(kind) = kind else {
        return form_error(&app, &session, None, "Choose what kind of file it is".into()).await;
    };
    let census_date = match census_date.as_str() {
        "" => None,
        d => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                return form_error(
                    &app,
                    &session,
                    Some(kind),
                    format!("Census day {d:?} must be a date like 2023-01-19"),
                )
                .await;
            }
        },
    };
    let Some((file_name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return form_error(
            &app,
            &session,
            Some(kind),
            "Choose a file to import (the file was empty)".into(),
        )
        .await;
    };
    let authority = session.user.authority;
    let id = app.imports.insert(Run {
        authority,
        kind,
        file_name,
        size: bytes.len(),
        state: RunState::Running,
    });
    let service = app.service.clone();
    let runs = app.imports.clone();
    let options = ImportOptions {
        skip_invalid,
        census_date,
        effective: None,
        illustrative: false,
    };
    tokio::spawn(async move {
        let state = match service
            .import(ImportTarget::Authority(authority), kind, &bytes, &options)
            .await
        {
            Ok(report) => RunState::Done(report),
            Err(service::ServiceError::Unexpected(cause)) => {
                tracing::error!(%cause, "import failed");
                RunState::Failed("internal error: the import was not saved".into())
            }
            Err(e) => RunState::Failed(e.to_string()),
        };
        runs.finish(id, state);
    });
    Ok(Redirect::to(&format!("/import/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "import_run.html")]
struct RunPage {
    chrome: crate::pages::Chrome,
    kind: &'static str,
    file_name: String,
    size: String,
    status: &'static str,
    running: bool,
    error: Option<String>,
    written: bool,
    rows_read: String,
    inserted: String,
    updated: String,
    census_rows: String,
    clusters_created: String,
    skipped: String,
    rejected: Vec<RowError>,
}

pub(crate) async fn status(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    require_import(&session.user).map_err(|e| WebError::forbidden(e.to_string()))?;
    let run = id
        .parse::<u64>()
        .ok()
        .and_then(|id| app.imports.get(id))
        .filter(|r| r.authority == session.user.authority)
        .ok_or_else(WebError::not_found)?;
    let (status, running, error, report) = match run.state {
        RunState::Running => ("in progress", true, None, None),
        RunState::Failed(e) => ("failed", false, Some(e), None),
        RunState::Done(r) if r.written => ("complete", false, None, Some(r)),
        RunState::Done(r) => ("refused", false, None, Some(r)),
    };
    let count = |f: fn(&ImportReport) -> u64| report.as_ref().map_or_else(|| "0".into(), |r| int(f(r)));
    let page = RunPage {
        chrome: chrome(&app, &session, "/import").await?,
        kind: run.kind.label(),
        file_name: run.file_name,
        size: format!("{} bytes", int(run.size as u64)),
        status,
        running,
        error,
        written: report.as_ref().is_some_and(|r| r.written),
        rows_read: count(|r| r.rows_read),
        inserted: count(|r| r.counts.inserted),
        updated: count(|r| r.counts.updated),
        census_rows: count(|r| r.counts.census_rows),
        clusters_created: count(|r| r.counts.clusters_created),
        skipped: count(|r| r.skipped),
        rejected: report.map(|r| r.rejected).unwrap_or_default(),
    };
    Ok(Html(page.render()?).into_response())
}

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

/// Finished runs kept in memory; the oldest finished ones are forgotten first.
const KEEP_RUNS: usize = 200;

impl Runs {
    /// The runs, even after a panic elsewhere poisoned the lock: each change is one map
    /// operation, so what a panicking holder left is still whole.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Run>> {
        self.runs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    fn insert(&self, run: Run) -> u64 {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        {
            let mut runs = self.lock();
            while runs.len() >= KEEP_RUNS {
                let oldest = runs
                    .iter()
                    .filter(|(_, r)| !matches!(r.state, RunState::Running))
                    .map(|(id, _)| *id)
                    .min();
                match oldest {
                    Some(old) => runs.remove(&old),
                    None => break,
                };
            }
            runs.insert(id, run);
        }
        id
    }
    fn finish(&self, id: u64, state: RunState) {
        if let Some(run) = self.lock().get_mut(&id) {
            run.state = state;
        }
    }
    fn get(&self, id: u64) -> Option<Run> {
        self.lock().get(&id).cloned()
    }
}

#[derive(Debug)]
pub(crate) struct KindChoice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

/// The form's fields as the person left them, and what is wrong with them.
#[derive(Debug, Default)]
struct Entered {
    kind: Option<ImportKind>,
    census_date: String,
    skip_invalid: bool,
    /// The id of the field at fault, and the message.
    error: Option<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    chrome: crate::pages::Chrome,
    kinds: Vec<KindChoice>,
    census_date: String,
    skip_invalid: bool,
    error: Option<(&'static str, String)>,
}

impl ImportPage {
    /// The message for one field, if that field is at fault.
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
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
        census_date: String::new(),
        skip_invalid: false,
        error: None,
    };
    Ok(Html(page.render()?).into_response())
}

/// The form again, as it was filled in, with the error against its field (422).
async fn form_error(app: &AppState, session: &CurrentSession, entered: Entered) -> Result<Response, WebError> {
    let page = ImportPage {
        chrome: chrome(app, session, "/import").await?,
        kinds: kinds(entered.kind),
        census_date: entered.census_date,
        skip_invalid: entered.skip_invalid,
        error: entered.error,
    };
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}

/// A multipart failure keeps its status: 413 when the body is over the limit, 400 otherwise.
fn multipart_error(what: &str, e: &axum::extract::multipart::MultipartError) -> WebError {
    let status = e.status();
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        WebError::new(status, "The file is too large for this server's upload limit.")
    } else {
        WebError::new(status, format!("{what} could not be read: {}", e.body_text()))
    }
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
    // Refuse before reading the body: the role first, then the CSRF token, which the form sends
    // ahead of the file, so a forged or unauthorised upload is never read into memory.
    require_import(&session.user).map_err(|e| WebError::forbidden(e.to_string()))?;
    let (mut csrf, mut entered, mut kind_given) = (String::new(), Entered::default(), false);
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error("The upload", &e))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            check_csrf(&session, &csrf)?;
            let file_name = display_name(field.file_name().unwrap_or_default());
            let bytes = field.bytes().await.map_err(|e| multipart_error("The file", &e))?;
            file = Some((file_name, bytes.to_vec()));
            continue;
        }
        let value = field.text().await.map_err(|e| multipart_error(&name, &e))?;
        match name.as_str() {
            "csrf_token" => csrf = value,
            "kind" => {
                kind_given = true;
                entered.kind = ImportKind::parse(&value);
            }
            "census_date" => entered.census_date = value.trim().to_string(),
            "skip_invalid" => entered.skip_invalid = value == "yes",
            _ => {}
        }
    }
    check_csrf(&session, &csrf)?;
    let Some(kind) = entered.kind else {
        let message = if kind_given {
            "Choose one of the kinds of file listed"
        } else {
            "Choose what kind of file it is"
        };
        entered.error = Some(("kind-census", message.into()));
        return form_error(&app, &session, entered).await;
    };
    let census_date = match entered.census_date.as_str() {
        "" => None,
        d => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                entered.error = Some((
                    "census_date",
                    "Census day must be a real date written like 2023-01-19".into(),
                ));
                return form_error(&app, &session, entered).await;
            }
        },
    };
    let skip_invalid = entered.skip_invalid;
    let Some((file_name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        entered.error = Some(("file", "Choose a file to import: the file was missing or empty".into()));
        return form_error(&app, &session, entered).await;
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

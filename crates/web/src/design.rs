//! The boundary planner's pages: the list of scenarios with the form to run one, a scenario's
//! page (progress while it runs, then its map, figures and breaches, and the adopt form), and two
//! maps side by side. Runs go to the service's job on tokio's blocking pool; their progress is
//! kept here in memory, and the page refreshes itself (a meta refresh, no JavaScript).

use crate::AppState;
use crate::design_map::{self, SchemeMap};
use crate::error::WebError;
use crate::format::{date, int};
use crate::pages::{Chrome, chrome};
use crate::session::check_csrf;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use domain::NaiveDate;
use domain::design::Objective;
use domain::ids::{AuthorityId, Urn};
use service::ServiceError;
use service::auth::CurrentSession;
use service::design::{
    EXCLUDABLE_PHASES, FieldError, Finding, FindingKind, MapChoice, MapSide, RunProgress, ScenarioCluster, ScenarioId,
    ScenarioInput, ScenarioStatus, ScenarioSummary, districts_label, mode_label,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// A run's authority and its latest progress (none until the engine first reports).
type RunEntry = (AuthorityId, Option<RunProgress>);

/// Progress of the runs in this process, by scenario.
#[derive(Debug, Clone, Default)]
pub(crate) struct Runs {
    runs: Arc<Mutex<HashMap<ScenarioId, RunEntry>>>,
}

impl Runs {
    /// The runs, even after a panic elsewhere poisoned the lock: each change is one map
    /// operation, so what a panicking holder left is still whole.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ScenarioId, RunEntry>> {
        self.runs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    fn start(&self, id: ScenarioId, authority: AuthorityId) {
        self.lock().insert(id, (authority, None));
    }
    fn update(&self, id: ScenarioId, p: &RunProgress) {
        if let Some(entry) = self.lock().get_mut(&id) {
            entry.1 = Some(*p);
        }
    }
    fn finish(&self, id: ScenarioId) {
        self.lock().remove(&id);
    }
    /// `None`: not running here. `Some(None)`: started, no progress reported yet.
    fn get(&self, id: ScenarioId, authority: AuthorityId) -> Option<Option<RunProgress>> {
        self.lock().get(&id).filter(|(a, _)| *a == authority).map(|(_, p)| *p)
    }
}

fn render(status: StatusCode, t: &impl Template) -> Result<Response, WebError> {
    Ok((status, Html(t.render()?)).into_response())
}

/// "19 January 2026 at 14:05 UTC".
fn when(secs: i64) -> String {
    let day = domain::import::date_from_unix(secs);
    let minutes = secs.rem_euclid(86_400) / 60;
    format!("{} at {:02}:{:02} UTC", date(day), minutes / 60, minutes % 60)
}

/// Metres as kilometres to one decimal place: 1,960 → "2.0 km".
fn km(metres: u64) -> String {
    let tenths = (metres + 50) / 100;
    format!("{}.{} km", int(tenths / 10), tenths % 10)
}

fn whole_number(x: f64) -> String {
    if x.is_finite() && x >= 0.0 {
        int(x.round() as u64)
    } else {
        "–".into()
    }
}

fn status_tag(s: &ScenarioSummary) -> (&'static str, &'static str) {
    if s.adoption.is_some() {
        return ("Adopted", "govuk-tag--green");
    }
    match s.status {
        ScenarioStatus::Running => ("Running", "govuk-tag--blue"),
        ScenarioStatus::Done => ("Map found", "govuk-tag--grey"),
        ScenarioStatus::Failed => ("No map", "govuk-tag--red"),
    }
}

#[derive(Debug)]
pub(crate) struct ScenarioRow {
    id: ScenarioId,
    name: String,
    mode: &'static str,
    bounds: String,
    tag: &'static str,
    tag_class: &'static str,
    clusters: String,
    objective: String,
    ran_by: String,
    started: String,
}

#[derive(Debug)]
pub(crate) struct PhaseChoice {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

#[derive(Debug)]
pub(crate) struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// A text field of the form.
#[derive(Debug)]
pub(crate) struct NumberField {
    field: &'static str,
    label: &'static str,
    hint: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "design.html")]
struct DesignPage {
    chrome: Chrome,
    bounds: Vec<NumberField>,
    search: Vec<NumberField>,
    district_options: Vec<(&'static str, &'static str, &'static str)>,
    may_run: bool,
    rows: Vec<ScenarioRow>,
    a_choices: Vec<Choice>,
    b_choices: Vec<Choice>,
    can_compare: bool,
    input: ScenarioInput,
    phases: Vec<PhaseChoice>,
    errors: Vec<FieldError>,
}

impl DesignPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
    fn is(&self, value: &str, field: &str) -> bool {
        match field {
            "mode" => self.input.mode == value,
            _ => self.input.districts == value,
        }
    }
}

fn choices(list: &[ScenarioSummary], selected: &str) -> Vec<Choice> {
    std::iter::once(("current".to_string(), "Current map".to_string()))
        .chain(
            list.iter()
                .filter(|s| s.status == ScenarioStatus::Done)
                .map(|s| (s.id.to_string(), s.params.name.clone())),
        )
        .map(|(value, label)| Choice {
            selected: value == selected,
            value,
            label,
        })
        .collect()
}

async fn list_page(
    app: &AppState,
    session: &CurrentSession,
    input: ScenarioInput,
    errors: Vec<FieldError>,
) -> Result<Response, WebError> {
    let list = app.service.scenarios(&session.user).await?;
    let rows = list
        .iter()
        .map(|s| {
            let (tag, tag_class) = status_tag(s);
            ScenarioRow {
                id: s.id,
                name: s.params.name.clone(),
                mode: mode_label(s.params.mode),
                bounds: format!(
                    "{}–{} pupils, {}–{} clusters",
                    int(u64::from(s.params.min_pupils)),
                    int(u64::from(s.params.max_pupils)),
                    s.params.min_clusters,
                    s.params.max_clusters
                ),
                tag,
                tag_class,
                clusters: if s.clusters > 0 {
                    s.clusters.to_string()
                } else {
                    "–".into()
                },
                objective: s.objective.map_or_else(|| "–".into(), whole_number),
                ran_by: s.ran_by_name.clone(),
                started: when(s.started_at),
            }
        })
        .collect();
    let first_done = list
        .iter()
        .find(|s| s.status == ScenarioStatus::Done)
        .map(|s| s.id.to_string())
        .unwrap_or_default();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let field = |field, label, hint, value: &String| NumberField {
        field,
        label,
        hint,
        value: value.clone(),
    };
    let page = DesignPage {
        bounds: vec![
            field("min_pupils", "Smallest cluster (pupils)", "", &input.min_pupils),
            field("max_pupils", "Largest cluster (pupils)", "", &input.max_pupils),
            field("min_clusters", "Fewest clusters", "", &input.min_clusters),
            field("max_clusters", "Most clusters", "", &input.max_clusters),
        ],
        search: vec![
            field(
                "time_limit",
                "Time limit (seconds)",
                "At most 60. The best valid map found by then is kept.",
                &input.time_limit,
            ),
            field(
                "max_iterations",
                "Move limit (optional)",
                "Stop after this many moves: with the same seed the map is then the same on any machine.",
                &input.max_iterations,
            ),
            field(
                "seed",
                "Seed",
                "Another seed gives another, equally valid, starting point.",
                &input.seed,
            ),
        ],
        district_options: vec![
            (
                "districts",
                "soft",
                "Cross them only at a price (each pupil outside the hub's district counts as 2 pupil-km)",
            ),
            ("districts-hard", "hard", "Never cross them"),
            ("districts-off", "off", "Ignore them"),
        ],
        chrome: chrome(app, session, "/design").await?,
        may_run: service::design::may_run(session.user.role),
        rows,
        a_choices: choices(&list, "current"),
        b_choices: choices(&list, &first_done),
        can_compare: !first_done.is_empty(),
        phases: EXCLUDABLE_PHASES
            .iter()
            .map(|p| PhaseChoice {
                value: p.code(),
                label: p.label(),
                checked: input.exclude_phases.iter().any(|c| c == p.code()),
            })
            .collect(),
        input,
        errors,
    };
    render(status, &page)
}

pub(crate) async fn list(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    list_page(&app, &session, ScenarioInput::default(), Vec::new()).await
}

pub(crate) async fn run(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    check_csrf(&session, &field("csrf_token"))?;
    let input = ScenarioInput {
        name: field("name"),
        mode: field("mode"),
        min_pupils: field("min_pupils"),
        max_pupils: field("max_pupils"),
        min_clusters: field("min_clusters"),
        max_clusters: field("max_clusters"),
        districts: field("districts"),
        seed: field("seed"),
        time_limit: field("time_limit"),
        max_iterations: field("max_iterations"),
        exclude_phases: fields
            .iter()
            .filter(|(k, _)| k == "exclude_phases")
            .map(|(_, v)| v.clone())
            .collect(),
        exclude_urns: field("exclude_urns"),
        must_link: field("must_link"),
        locks: field("locks"),
    };
    let params = match app.service.check_scenario(&session.user, &input).await? {
        Ok(p) => p,
        Err(errors) => return list_page(&app, &session, input, errors).await,
    };
    let job = match app.service.start_scenario(&session.user, params).await {
        Ok(job) => job,
        Err(ServiceError::Conflict(message) | ServiceError::Invalid(message)) => {
            let errors = vec![FieldError { field: "run", message }];
            return list_page(&app, &session, input, errors).await;
        }
        Err(e) => return Err(e.into()),
    };
    let id = job.id();
    app.designs.start(id, session.user.authority);
    let runs = app.designs.clone();
    tokio::spawn(async move {
        let progress = runs.clone();
        if let Err(e) = job.run(move |p| progress.update(id, p)).await {
            tracing::error!(cause = %e, scenario = id.0, "design scenario not saved");
        }
        runs.finish(id);
    });
    Ok(Redirect::to(&format!("/design/{id}")).into_response())
}

fn parse_id(text: &str) -> Result<ScenarioId, WebError> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(ScenarioId)
        .ok_or_else(WebError::not_found)
}

#[derive(Debug)]
pub(crate) struct ClusterRow {
    colour: &'static str,
    name: String,
    pupils: String,
    phases: String,
    fsm: String,
    districts: String,
    hub: Option<(Urn, String)>,
    longest: String,
}

#[derive(Debug)]
pub(crate) struct FindingGroup {
    principle: String,
    count: usize,
    details: Vec<String>,
}

fn groups(findings: &[Finding], kind: impl Fn(FindingKind) -> bool) -> Vec<FindingGroup> {
    let mut by: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for f in findings.iter().filter(|f| kind(f.kind)) {
        by.entry(f.principle.as_str()).or_default().push(f.detail.clone());
    }
    by.into_iter()
        .map(|(p, details)| FindingGroup {
            principle: capitalise(p),
            count: details.len(),
            details,
        })
        .collect()
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn phases_text(c: &ScenarioCluster) -> String {
    c.by_phase
        .iter()
        .map(|(p, n)| match p {
            domain::school::Phase::AlternativeProvision => format!("{n} alternative provision or PRU"),
            p => format!("{n} {}", p.label().to_lowercase()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn cluster_rows(clusters: &[ScenarioCluster], m: &SchemeMap, names: &HashMap<Urn, String>) -> Vec<ClusterRow> {
    clusters
        .iter()
        .map(|c| ClusterRow {
            colour: m.colour_of(&c.label),
            name: c.name.clone(),
            pupils: int(c.pupils),
            phases: phases_text(c),
            fsm: c.fsm_pct.map_or_else(|| "–".into(), |t| format!("{t}%")),
            districts: if c.districts.is_empty() {
                "–".into()
            } else {
                c.districts.join(", ")
            },
            hub: c
                .hub
                .map(|u| (u, names.get(&u).cloned().unwrap_or_else(|| u.to_string()))),
            longest: km(c.longest_m),
        })
        .collect()
}

/// The objective's parts, the total last.
fn objective_rows(o: &Objective) -> Vec<(&'static str, String)> {
    vec![
        ("Travel to the hub", whole_number(o.travel)),
        (
            "Price of pupils outside their hub's district",
            whole_number(o.district_penalty),
        ),
        (
            "Price of pupils outside their hub's division",
            whole_number(o.division_penalty),
        ),
        ("Price of splitting today's clusters", whole_number(o.split_penalty)),
        (
            "Price of clusters above the fewest needed",
            whole_number(o.cluster_count_penalty),
        ),
        ("Total", whole_number(o.total)),
    ]
}

#[derive(Debug)]
pub(crate) struct ProgressView {
    value: u64,
    max: u64,
    percent: u64,
    lines: Vec<String>,
}

fn progress_view(p: Option<RunProgress>) -> ProgressView {
    let Some(p) = p else {
        return ProgressView {
            value: 0,
            max: 1000,
            percent: 0,
            lines: vec!["Building the first valid map.".into()],
        };
    };
    let by_time = p.elapsed.as_secs_f64() / p.limit.as_secs_f64().max(0.001);
    let by_moves = p
        .max_iterations
        .map_or(0.0, |m| p.iterations as f64 / (m as f64).max(1.0));
    let share = by_time.max(by_moves).clamp(0.0, 1.0);
    let permille = (share * 1000.0).round() as u64;
    let mut lines = vec![format!(
        "{:.1} of at most {} seconds; {} moves tried{}",
        p.elapsed.as_secs_f64(),
        p.limit.as_secs(),
        int(p.iterations),
        p.max_iterations
            .map_or_else(String::new, |m| format!(" of at most {}", int(m)))
    )];
    lines.push(match p.best_objective {
        Some(o) => format!(
            "Best map so far: {} clusters, objective {}",
            p.clusters,
            whole_number(o)
        ),
        None => "No valid map yet".into(),
    });
    ProgressView {
        value: permille,
        max: 1000,
        percent: permille / 10,
        lines,
    }
}

#[derive(Template)]
#[template(path = "design_scenario.html")]
struct ScenarioPage {
    chrome: Chrome,
    id: ScenarioId,
    name: String,
    illustrative: bool,
    tag: &'static str,
    tag_class: &'static str,
    running: bool,
    progress: Option<ProgressView>,
    facts: Vec<(&'static str, String)>,
    map: Option<SchemeMap>,
    clusters: Vec<ClusterRow>,
    objective: Vec<(&'static str, String)>,
    breaches: Vec<FindingGroup>,
    breach_count: usize,
    failure: Vec<FindingGroup>,
    adopted: Option<String>,
    may_adopt: bool,
    effective: String,
    effective_error: Option<String>,
    error: Option<(&'static str, String)>,
}

async fn scenario_page(
    app: &AppState,
    session: &CurrentSession,
    id: ScenarioId,
    effective: Option<String>,
    error: Option<(&'static str, String)>,
) -> Result<Response, WebError> {
    let view = app.service.scenario(&session.user, id).await?;
    let s = &view.record.summary;
    let p = &s.params;
    let (tag, tag_class) = status_tag(s);
    let running = s.status == ScenarioStatus::Running;
    let mut facts = vec![
        ("Mode", mode_label(p.mode).to_string()),
        (
            "Pupils per cluster",
            format!("{} to {}", int(u64::from(p.min_pupils)), int(u64::from(p.max_pupils))),
        ),
        (
            "Number of clusters",
            format!("{} to {}", p.min_clusters, p.max_clusters),
        ),
        ("District boundaries", districts_label(p.districts).to_string()),
        (
            "Schools planned",
            format!("{} schools, {} pupils", int(u64::from(s.schools)), int(s.pupils)),
        ),
        (
            "Left out",
            if p.excluded_phases.is_empty() && p.excluded_urns.is_empty() {
                "Nothing beyond independent and closed schools, and schools with no location".into()
            } else {
                let mut parts: Vec<String> = p
                    .excluded_phases
                    .iter()
                    .map(|ph| format!("{} schools", ph.label().to_lowercase()))
                    .collect();
                if !p.excluded_urns.is_empty() {
                    parts.push(format!(
                        "URN {}",
                        p.excluded_urns
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                capitalise(&parts.join("; "))
            },
        ),
        (
            "Stay together",
            if p.must_link.is_empty() {
                "No groups given (schools on one site always stay together)".into()
            } else {
                p.must_link
                    .iter()
                    .map(|g| g.iter().map(ToString::to_string).collect::<Vec<_>>().join(" + "))
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        ),
        (
            "Locked",
            if p.locks.is_empty() {
                "No schools locked".into()
            } else {
                p.locks
                    .iter()
                    .map(|(u, l)| format!("{u} to {l}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        ),
        (
            "Search",
            format!(
                "seed {}, at most {} seconds{}",
                p.seed,
                p.time_limit_s,
                p.max_iterations
                    .map_or_else(String::new, |m| format!(" or {} moves", int(m)))
            ),
        ),
        ("Run by", format!("{}, {}", s.ran_by_name, when(s.started_at))),
    ];
    if let Some(run) = &view.record.run
        && !run.stop.is_empty()
    {
        let stop = match run.stop.as_str() {
            "converged" => "no better map for several rounds",
            "iteration_budget" => "the move limit was reached",
            "time_limit" => "the time limit was reached",
            other => other,
        };
        facts.push((
            "Result",
            format!(
                "{} moves in {:.1} seconds; stopped because {stop}",
                int(run.iterations),
                run.elapsed_ms as f64 / 1000.0
            ),
        ));
    }
    let names: HashMap<Urn, String> = view.schools.iter().map(|p| (p.urn, p.name.clone())).collect();
    let (map, clusters, objective) = if s.status == ScenarioStatus::Done {
        let m = design_map::draw(&view.schools, &view.record.clusters, &BTreeMap::new());
        let rows = cluster_rows(&view.record.clusters, &m, &names);
        let objective = view
            .record
            .run
            .as_ref()
            .and_then(|r| r.objective.as_ref())
            .map(objective_rows)
            .unwrap_or_default();
        (Some(m), rows, objective)
    } else {
        (None, Vec::new(), Vec::new())
    };
    let today = app.service.clock().today();
    let page = ScenarioPage {
        chrome: chrome(app, session, "/design").await?,
        id,
        name: p.name.clone(),
        illustrative: s.illustrative,
        tag,
        tag_class,
        running,
        progress: running.then(|| progress_view(app.designs.get(id, session.user.authority).flatten())),
        facts,
        map,
        clusters,
        objective,
        breach_count: view
            .record
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Breach)
            .count(),
        breaches: groups(&view.record.findings, |k| k == FindingKind::Breach),
        failure: groups(&view.record.findings, |k| k != FindingKind::Breach),
        adopted: s.adoption.as_ref().map(|a| {
            format!(
                "Adopted by {} on {}: the new clusters start on {}.",
                a.by_name,
                when(a.at),
                date(a.effective)
            )
        }),
        may_adopt: view.may_adopt,
        effective: effective.unwrap_or_else(|| today.format("%Y-%m-%d").to_string()),
        effective_error: error
            .as_ref()
            .filter(|(f, _)| *f == "effective")
            .map(|(_, m)| m.clone()),
        error: error.clone(),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(status, &page)
}

pub(crate) async fn scenario(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    scenario_page(&app, &session, parse_id(&id)?, None, None).await
}

pub(crate) async fn adopt(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    check_csrf(&session, &field("csrf_token"))?;
    let id = parse_id(&id)?;
    let typed = field("effective");
    let Ok(effective) = NaiveDate::parse_from_str(&typed, "%Y-%m-%d") else {
        let message = if typed.is_empty() {
            "Enter the date the new clusters start, like 2026-09-01"
        } else {
            "The date the new clusters start must be a real date written like 2026-09-01"
        };
        return scenario_page(&app, &session, id, Some(typed), Some(("effective", message.into()))).await;
    };
    match app.service.adopt_scenario(&session.user, id, effective).await {
        Ok(_) => Ok(Redirect::to(&format!("/design/{id}")).into_response()),
        Err(ServiceError::Invalid(message)) => {
            scenario_page(
                &app,
                &session,
                id,
                Some(typed),
                Some(("effective", capitalise(&message))),
            )
            .await
        }
        Err(ServiceError::Conflict(message)) => Err(WebError::new(StatusCode::CONFLICT, capitalise(&message))),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct CompareParams {
    a: Option<String>,
    b: Option<String>,
}

#[derive(Debug)]
pub(crate) struct SideView {
    id: &'static str,
    title: String,
    href: Option<String>,
    map: SchemeMap,
    facts: Vec<(&'static str, String)>,
    objective: Vec<(&'static str, String)>,
    clusters: Vec<ClusterRow>,
    violations: Vec<FindingGroup>,
    breaches: Vec<FindingGroup>,
}

#[derive(Debug)]
pub(crate) struct MoveRow {
    urn: Urn,
    name: String,
    from: String,
    to: String,
}

#[derive(Template)]
#[template(path = "design_compare.html")]
struct ComparePage {
    chrome: Chrome,
    a_title: String,
    b_title: String,
    sides: Vec<SideView>,
    moves: Vec<MoveRow>,
    moved: String,
    stayed: String,
    principles: Vec<(String, String, String)>,
    judged_by: Option<String>,
}

fn side_view(id: &'static str, side: &MapSide, fixed: &BTreeMap<String, &'static str>) -> SideView {
    let m = design_map::draw(&side.schools, &side.clusters, fixed);
    let names: HashMap<Urn, String> = side.schools.iter().map(|p| (p.urn, p.name.clone())).collect();
    let pupils: Vec<u64> = side.clusters.iter().map(|c| c.pupils).collect();
    let (small, large) = (
        pupils.iter().min().copied().unwrap_or(0),
        pupils.iter().max().copied().unwrap_or(0),
    );
    let mut facts = vec![
        ("Clusters", side.clusters.len().to_string()),
        (
            "Smallest and largest",
            format!("{} and {} pupils", int(small), int(large)),
        ),
    ];
    if side.scenario.is_none() {
        facts.push((
            "Parameters",
            "Today's memberships, judged by the other map's rules".into(),
        ));
    }
    if let Some(s) = &side.scenario {
        facts.push((
            "Parameters",
            format!(
                "{}; {}–{} pupils; {}–{} clusters; {}",
                mode_label(s.params.mode),
                int(u64::from(s.params.min_pupils)),
                int(u64::from(s.params.max_pupils)),
                s.params.min_clusters,
                s.params.max_clusters,
                districts_label(s.params.districts).to_lowercase()
            ),
        ));
    }
    SideView {
        id,
        title: side.title.clone(),
        href: match &side.choice {
            MapChoice::Scenario(id) => Some(format!("/design/{id}")),
            MapChoice::Current => Some("/clusters".into()),
        },
        facts,
        objective: objective_rows(&side.objective),
        clusters: cluster_rows(&side.clusters, &m, &names),
        violations: groups(&side.findings, |k| k != FindingKind::Breach),
        breaches: groups(&side.findings, |k| k == FindingKind::Breach),
        map: m,
    }
}

pub(crate) async fn compare(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Query(params): Query<CompareParams>,
) -> Result<Response, WebError> {
    let pick = |name: &str, v: &Option<String>| -> Result<MapChoice, WebError> {
        let text = v.as_deref().unwrap_or_default();
        MapChoice::parse(text).ok_or_else(|| {
            WebError::bad_request(format!(
                "{name}: {text:?} is not a map: give “current” or a scenario number"
            ))
        })
    };
    let (a, b) = (pick("a", &params.a)?, pick("b", &params.b)?);
    let c = app.service.compare_maps(&session.user, a, b).await?;
    let a_view = side_view("a", &c.a, &BTreeMap::new());
    // A cluster of B that continues one of A keeps its colour.
    let fixed: BTreeMap<String, &'static str> = c
        .continues
        .iter()
        .map(|(b_label, a_label)| (b_label.clone(), a_view.map.colour_of(a_label)))
        .collect();
    let b_view = side_view("b", &c.b, &fixed);
    let page = ComparePage {
        chrome: chrome(&app, &session, "/design").await?,
        moved: int(c.moves.len() as u64),
        stayed: int(c.stayed as u64),
        moves: c
            .moves
            .iter()
            .map(|m| MoveRow {
                urn: m.urn,
                name: m.name.clone(),
                from: m.from.clone().unwrap_or_else(|| "In no cluster".into()),
                to: m.to.clone().unwrap_or_else(|| "In no cluster".into()),
            })
            .collect(),
        principles: c
            .principles
            .iter()
            .map(|(p, x, y)| (capitalise(p), int(*x as u64), int(*y as u64)))
            .collect(),
        judged_by: c.judged_by.clone(),
        a_title: a_view.title.clone(),
        b_title: b_view.title.clone(),
        sides: vec![a_view, b_view],
    };
    render(StatusCode::OK, &page)
}

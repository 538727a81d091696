//! Plans, monitoring and evaluation pages: the evaluation hub, a cluster's plan (priorities,
//! activities, targets with the helper and RAG), the metrics import, FADE reports pre-filled from
//! the data with both judgements, the authority summary with the agreement analysis,
//! questionnaires, and the printable cluster snapshot. Thin: every decision is the service's.

mod chart;

use crate::AppState;
use crate::error::WebError;
use crate::format::{date, int, share};
use crate::pages::chrome;
use crate::session::check_csrf;
use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chart::{CLUSTER, Chart, NATIONAL, REST, line_chart};
use domain::NaiveDate;
use domain::evaluation::analysis::DidVerdict;
use domain::evaluation::kappa::kappa_words;
use domain::evaluation::metrics::{Number, Observation, Unit};
use domain::evaluation::plan::{Activity, Priority, STRANDS, strand_label};
use domain::evaluation::questionnaire::CRITERIA;
use domain::evaluation::targets::{Rag, Target, TargetLevel};
use domain::evaluation::{AcademicYear, PupilGroup, one_decimal};
use domain::ids::{ClusterId, Urn};
use domain::import::RowError;
use domain::money::Money;
use domain::privacy::suppress::{Cell, SuppressedTable};
use serde::Deserialize;
use service::auth::CurrentSession;
use service::evaluation::{ActivityView, FadeText, FieldError, MeasureAnalysis, MetricsImportReport, Side, TargetView};
use std::collections::HashMap;

/// A POST body as name/value pairs (repeated names kept, e.g. ticked checkboxes).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(body: &Bytes) -> Fields {
        Fields(form_urlencoded::parse(body).into_owned().collect())
    }
    fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    }
    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
    fn check(&self, session: &CurrentSession) -> Result<(), WebError> {
        check_csrf(session, &self.get("csrf_token"))
    }
}

fn render(t: &impl Template) -> Result<Response, WebError> {
    Ok(Html(t.render()?).into_response())
}

fn invalid(t: &impl Template) -> Result<Response, WebError> {
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(t.render()?)).into_response())
}

fn cluster_id(raw: &str) -> Result<ClusterId, WebError> {
    raw.parse::<i64>().map(ClusterId).map_err(|_| WebError::not_found())
}

fn day(raw: &str) -> Result<NaiveDate, WebError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| WebError::not_found())
}

fn money(m: Money) -> String {
    m.to_string()
}

fn stat(v: Option<f64>, unit: Unit) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{}{}", one_decimal(v), unit.suffix()))
}

fn observation(o: Observation, unit: Unit) -> String {
    match o {
        Observation::Value(n) => format!("{n}{}", unit.suffix()),
        other => other.to_string(),
    }
}

fn cell(c: Cell) -> String {
    match c {
        Cell::Shown(v) => int(v),
        Cell::Suppressed => "c".into(),
    }
}

fn rag_tag(r: Rag) -> &'static str {
    match r {
        Rag::Green => "govuk-tag--green",
        Rag::Amber => "govuk-tag--yellow",
        Rag::Red => "govuk-tag--red",
        Rag::NoData => "govuk-tag--grey",
    }
}

/// A year picked from a query string, e.g. `?year=202627`.
fn year_param(raw: Option<&String>) -> Result<Option<AcademicYear>, WebError> {
    match raw.map(String::as_str).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => AcademicYear::parse(s)
            .map(Some)
            .map_err(|e| WebError::bad_request(format!("year: {e}"))),
    }
}

// ---- hub ----

#[derive(Debug)]
struct HubLink {
    href: String,
    label: String,
    hint: String,
}

#[derive(Template)]
#[template(path = "evaluation/home.html")]
struct HomePage {
    chrome: crate::pages::Chrome,
    links: Vec<HubLink>,
}

pub(crate) async fn home(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    let user = &session.user;
    let service = &app.service;
    let mut links = Vec::new();
    if service.may_read_fade_summary(user) {
        links.push(HubLink {
            href: "/fade".into(),
            label: "FADE judgements across the authority".into(),
            hint: "The summary table of every cluster's judgements, with how far the cluster and the authority agree."
                .into(),
        });
    }
    let own = service.home_cluster_of(user).await?;
    if let Some(c) = own {
        let name = service.cluster(user, c).await?.summary.cluster.name;
        for (path, label, hint) in [
            (
                "plan",
                "improvement plan",
                "Priorities, activities and targets, with each target's RAG status.",
            ),
            (
                "fade",
                "FADE reports",
                "Focus, Analysis, Develop/Do, Evaluation: pre-filled from the data.",
            ),
            (
                "snapshot",
                "snapshot",
                "The one-page profile to print for governing bodies.",
            ),
        ] {
            links.push(HubLink {
                href: format!("/clusters/{c}/{path}"),
                label: format!("{name}: {label}"),
                hint: hint.into(),
            });
        }
    }
    links.push(HubLink {
        href: "/evaluation/representation".into(),
        label: "Representation check".into(),
        hint: "Is a register (gifted and talented, a unit's placements) in proportion to the school? Ratio and exact binomial test.".into(),
    });
    links.push(HubLink {
        href: "/questionnaires".into(),
        label: "Evaluation questionnaires".into(),
        hint: "The inspection criteria for clusters, answered by each headteacher before a review.".into(),
    });
    if user.role.may_import() {
        links.push(HubLink {
            href: "/metrics/import".into(),
            label: "Import metrics".into(),
            hint: "A tidy CSV of results, attendance and exclusions: time_period, school_urn, measure, group, value."
                .into(),
        });
    }
    links.push(HubLink {
        href: "/clusters".into(),
        label: "Every cluster".into(),
        hint: "Each cluster's page links to its plan, FADE reports and snapshot.".into(),
    });
    render(&HomePage {
        chrome: chrome(&app, &session, "/evaluation").await?,
        links,
    })
}

// ---- representation check ----

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RepresentationParams {
    #[serde(default)]
    selected: String,
    #[serde(default)]
    pupils: String,
    #[serde(flatten)]
    counts: HashMap<String, String>,
}

#[derive(Debug)]
struct RepresentationLine {
    group: &'static str,
    selected: String,
    register_share: String,
    school_share: String,
    ratio: String,
    p_value: String,
    verdict: &'static str,
    tag: &'static str,
}

#[derive(Template)]
#[template(path = "evaluation/representation.html")]
struct RepresentationPage {
    chrome: crate::pages::Chrome,
    values: HashMap<String, String>,
    groups: Vec<(&'static str, &'static str)>,
    error: Option<(String, String)>,
    lines: Vec<RepresentationLine>,
}

impl RepresentationPage {
    fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }
}

pub(crate) async fn representation(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Query(q): Query<RepresentationParams>,
) -> Result<Response, WebError> {
    use domain::casework::representation::{Composition, Group, Verdict};
    use domain::evaluation::analysis::RegisterCounts;
    let mut values = q.counts.clone();
    values.insert("selected".into(), q.selected.clone());
    values.insert("pupils".into(), q.pupils.clone());
    let groups: Vec<(&'static str, &'static str)> = Group::ALL.iter().map(|g| (g.code(), g.label())).collect();
    let mut error = None;
    let mut lines = Vec::new();
    if !q.selected.trim().is_empty() || !q.pupils.trim().is_empty() {
        let number = |name: &str, label: &str| -> Result<u32, (String, String)> {
            let raw = values.get(name).map_or("", |v| v.trim());
            raw.parse::<u32>()
                .map_err(|_| (name.to_string(), format!("Enter {label} as a whole number, 0 or more")))
        };
        let parsed = (|| -> Result<(RegisterCounts, Composition), (String, String)> {
            let selected = number("selected", "the number on the register")?;
            let pupils = number("pupils", "the pupils on the school's roll")?;
            let mut register = RegisterCounts {
                selected,
                groups: Vec::new(),
            };
            let mut school = Composition {
                pupils,
                groups: Vec::new(),
            };
            for g in Group::ALL {
                let on = format!("on_{}", g.code());
                let in_school = format!("school_{}", g.code());
                let on_raw = values.get(&on).map_or("", |v| v.trim());
                let school_raw = values.get(&in_school).map_or("", |v| v.trim());
                if on_raw.is_empty() && school_raw.is_empty() {
                    continue;
                }
                let k = number(&on, &format!("the {} on the register", g.label().to_lowercase()))?;
                let c = number(&in_school, &format!("the {} in the school", g.label().to_lowercase()))?;
                if k > selected {
                    return Err((on, "It cannot be more than the number on the register".into()));
                }
                if c > pupils {
                    return Err((in_school, "It cannot be more than the pupils on roll".into()));
                }
                register.groups.push((g, k));
                school.groups.push((g, c));
            }
            Ok((register, school))
        })();
        match parsed {
            Ok((register, school)) => {
                for r in app.service.representation_check(&register, &school) {
                    let pct = |x: Option<f64>| x.map_or_else(|| "–".into(), |v| format!("{}%", one_decimal(v * 100.0)));
                    let (verdict, tag) = match r.verdict {
                        Verdict::InLine => (r.verdict.label(), "govuk-tag--green"),
                        Verdict::Under | Verdict::Over => (r.verdict.label(), "govuk-tag--red"),
                        Verdict::TooFewToJudge | Verdict::Unknown => (r.verdict.label(), "govuk-tag--grey"),
                    };
                    lines.push(RepresentationLine {
                        group: r.group.label(),
                        selected: format!("{} of {}", r.selected, r.of),
                        register_share: pct((r.of > 0).then(|| f64::from(r.selected) / f64::from(r.of))),
                        school_share: pct(r.school_share),
                        ratio: r.ratio.map_or_else(|| "–".into(), |v| format!("{v:.2}")),
                        p_value: r.p_value.map_or_else(
                            || "–".into(),
                            |p| {
                                if p < 0.001 {
                                    "below 0.001".into()
                                } else {
                                    format!("{p:.3}")
                                }
                            },
                        ),
                        verdict,
                        tag,
                    });
                }
            }
            Err(e) => error = Some(e),
        }
    }
    let page = RepresentationPage {
        chrome: chrome(&app, &session, "/evaluation").await?,
        values,
        groups,
        lines,
        error,
    };
    if page.error.is_some() {
        invalid(&page)
    } else {
        render(&page)
    }
}

// ---- metrics import ----

#[derive(Template)]
#[template(path = "evaluation/metrics_import.html")]
struct MetricsImportPage {
    chrome: crate::pages::Chrome,
    error: Option<(&'static str, String)>,
    accept_new: bool,
    measures: Vec<(String, String, String)>,
    groups: Vec<(&'static str, &'static str)>,
    report: Option<ImportOutcome>,
    file_name: String,
}

#[derive(Debug)]
struct ImportOutcome {
    written: bool,
    rows_read: String,
    saved: String,
    new_measures: String,
    rejected: Vec<RowError>,
}

impl From<MetricsImportReport> for ImportOutcome {
    fn from(r: MetricsImportReport) -> Self {
        ImportOutcome {
            written: r.written,
            rows_read: int(r.rows_read),
            saved: int(r.saved),
            new_measures: r.new_measures.join(", "),
            rejected: r.rejected,
        }
    }
}

async fn metrics_page(
    app: &AppState,
    session: &CurrentSession,
    error: Option<(&'static str, String)>,
    report: Option<ImportOutcome>,
    file_name: String,
    accept_new: bool,
) -> Result<MetricsImportPage, WebError> {
    let catalogue = app.service.measure_catalogue(session.user.authority).await?;
    Ok(MetricsImportPage {
        chrome: chrome(app, session, "/evaluation").await?,
        error,
        accept_new,
        measures: catalogue
            .measures
            .iter()
            .map(|m| (m.code.clone(), m.label.clone(), m.unit.label()))
            .collect(),
        groups: PupilGroup::ALL.iter().map(|g| (g.code(), g.label())).collect(),
        report,
        file_name,
    })
}

pub(crate) async fn metrics_form(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    if !session.user.role.may_import() {
        return Err(WebError::forbidden("Only authority officers import metrics."));
    }
    render(&metrics_page(&app, &session, None, None, String::new(), false).await?)
}

pub(crate) async fn metrics_upload(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    mut multipart: Multipart,
) -> Result<Response, WebError> {
    if !session.user.role.may_import() {
        return Err(WebError::forbidden("Only authority officers import metrics."));
    }
    let (mut csrf, mut accept_new, mut file) = (String::new(), false, None::<(String, Vec<u8>)>);
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| WebError::new(e.status(), format!("The upload could not be read: {}", e.body_text())))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            check_csrf(&session, &csrf)?;
            let file_name: String = field
                .file_name()
                .unwrap_or_default()
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| WebError::new(e.status(), format!("The file could not be read: {}", e.body_text())))?;
            file = Some((file_name, bytes.to_vec()));
            continue;
        }
        let value = field.text().await.unwrap_or_default();
        match name.as_str() {
            "csrf_token" => csrf = value,
            "accept_new" => accept_new = value == "yes",
            _ => {}
        }
    }
    check_csrf(&session, &csrf)?;
    let Some((file_name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        let page = metrics_page(
            &app,
            &session,
            Some(("file", "Choose a metrics file: the file was missing or empty".into())),
            None,
            String::new(),
            accept_new,
        )
        .await?;
        return invalid(&page);
    };
    match app.service.import_metrics(&session.user, &bytes, accept_new).await {
        Ok(report) => {
            let refused = !report.written;
            let page = metrics_page(&app, &session, None, Some(report.into()), file_name, accept_new).await?;
            if refused { invalid(&page) } else { render(&page) }
        }
        Err(service::ServiceError::Invalid(message)) => {
            let page = metrics_page(&app, &session, Some(("file", message)), None, file_name, accept_new).await?;
            invalid(&page)
        }
        Err(e) => Err(e.into()),
    }
}

// ---- plan ----

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PlanParams {
    year: Option<String>,
    measure: Option<String>,
    group: Option<String>,
    level: Option<String>,
    target_year: Option<String>,
}

#[derive(Debug)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

fn choices(items: impl IntoIterator<Item = (String, String)>, selected: &str) -> Vec<Choice> {
    items
        .into_iter()
        .map(|(value, label)| Choice {
            selected: value == selected,
            value,
            label,
        })
        .collect()
}

#[derive(Debug)]
struct TargetRow {
    index: usize,
    measure: String,
    group: String,
    level: String,
    baseline: String,
    target: String,
    latest: String,
    rag: &'static str,
    tag: &'static str,
    reason: String,
}

fn target_rows(views: &[TargetView]) -> Vec<TargetRow> {
    views
        .iter()
        .map(|t| {
            let unit = t.measure.unit;
            TargetRow {
                index: t.index,
                measure: t.measure.label.clone(),
                group: t.target.group.label().into(),
                level: t.school.clone().unwrap_or_else(|| "Whole cluster".into()),
                baseline: format!("{}{} ({})", t.target.baseline, unit.suffix(), t.target.baseline_year),
                target: format!("{}{} by {}", t.target.target, unit.suffix(), t.target.target_year),
                latest: t.status.latest.map_or_else(
                    || "–".into(),
                    |(y, v)| format!("{}{} ({y})", one_decimal(v), unit.suffix()),
                ),
                rag: t.status.rag.label(),
                tag: rag_tag(t.status.rag),
                reason: t.status.reason.clone(),
            }
        })
        .collect()
}

#[derive(Debug)]
struct ActivityRow {
    index: usize,
    title: String,
    priority: String,
    lead: String,
    schools: String,
    strand: String,
    stream: String,
    budget: String,
    dates: String,
    criteria: String,
    verdict: Option<(&'static str, &'static str)>,
    sentence: String,
    caveats: Vec<String>,
    comparison: String,
    redirect: Option<String>,
}

fn activity_rows(views: &[ActivityView]) -> Vec<ActivityRow> {
    views
        .iter()
        .map(|v| {
            let a = &v.activity;
            let verdict = v.impact.as_ref().map(|i| {
                let tag = match i.result.verdict {
                    DidVerdict::Better => "govuk-tag--green",
                    DidVerdict::Worse => "govuk-tag--red",
                    DidVerdict::NoMeasurableChange => "govuk-tag--yellow",
                    DidVerdict::TooFewSchools => "govuk-tag--grey",
                };
                (i.result.verdict.label(), tag)
            });
            ActivityRow {
                index: v.index,
                title: a.title.clone(),
                priority: v.priority.clone(),
                lead: v.lead_school.clone(),
                schools: format!(
                    "{} school{}",
                    v.schools.len(),
                    if v.schools.len() == 1 { "" } else { "s" }
                ),
                strand: strand_label(&a.strand).to_string(),
                stream: a.funding_stream.clone(),
                budget: money(a.budget),
                dates: format!("{} to {}", date(a.starts_on), date(a.ends_on)),
                criteria: a.success_criteria.clone(),
                verdict,
                sentence: v.impact.as_ref().map(|i| i.sentence.clone()).unwrap_or_else(|| {
                    if a.measure.is_some() {
                        "Not enough data before and after the start to compare.".into()
                    } else {
                        "No measure linked: link one to see whether it is working.".into()
                    }
                }),
                caveats: v.impact.as_ref().map(|i| i.result.caveats.clone()).unwrap_or_default(),
                comparison: v
                    .impact
                    .as_ref()
                    .map(|i| format!("{} (measure: {}, all pupils)", i.comparison_group, i.measure.label))
                    .unwrap_or_default(),
                redirect: v.redirect.clone(),
            }
        })
        .collect()
}

/// What the person typed into one of the plan's forms, kept for showing it again.
#[derive(Debug, Default)]
struct Entered {
    form: &'static str,
    field: &'static str,
    message: String,
    values: HashMap<String, String>,
    schools: Vec<String>,
}

impl Entered {
    fn value(&self, form: &str, name: &str) -> String {
        if self.form == form {
            self.values.get(name).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    }
}

#[derive(Debug)]
struct Proposed {
    measure: String,
    group: String,
    level: String,
    proposed: String,
    weak: String,
    explanation: String,
    /// Values to pre-fill the target form with.
    baseline: String,
    baseline_year: String,
    target: String,
    target_year: String,
}

#[derive(Template)]
#[template(path = "evaluation/plan.html")]
struct PlanPage {
    chrome: crate::pages::Chrome,
    cluster_id: ClusterId,
    cluster: String,
    year: String,
    year_code: u32,
    previous_year: u32,
    next_year: u32,
    note: Option<String>,
    may_edit: bool,
    priorities: Vec<(usize, String, String)>,
    activities: Vec<ActivityRow>,
    targets: Vec<TargetRow>,
    budget_total: String,
    rag_counts: String,
    has_metrics: bool,
    priority_choices: Vec<Choice>,
    school_choices: Vec<Choice>,
    strand_choices: Vec<Choice>,
    measure_choices: Vec<Choice>,
    group_choices: Vec<Choice>,
    level_choices: Vec<Choice>,
    participating: Vec<(String, String, bool)>,
    entered: Entered,
    proposal: Option<Proposed>,
    helper_asked: bool,
}

impl PlanPage {
    fn error_for(&self, form: &str, field: &str) -> Option<&str> {
        (self.entered.form == form && self.entered.field == field).then_some(self.entered.message.as_str())
    }
    fn value(&self, form: &str, name: &str) -> String {
        self.entered.value(form, name)
    }
}

async fn plan_page(
    app: &AppState,
    session: &CurrentSession,
    cluster: ClusterId,
    year: Option<AcademicYear>,
    entered: Entered,
    params: &PlanParams,
) -> Result<PlanPage, WebError> {
    let user = &session.user;
    let view = app.service.plan_view(user, cluster, year).await?;
    let settings = app.service.evaluation_settings(user).await?;
    let members: Vec<(String, String)> = view
        .cluster
        .members
        .iter()
        .map(|(s, _, _)| (s.school.urn.to_string(), s.school.name.clone()))
        .collect();
    let mut helper_asked = false;
    let proposal = match (params.measure.as_deref(), params.group.as_deref()) {
        (Some(m), Some(g)) if !m.is_empty() => {
            helper_asked = true;
            let group =
                PupilGroup::parse(g).ok_or_else(|| WebError::bad_request("group: choose a group from the list"))?;
            let level = match params.level.as_deref().unwrap_or("cluster") {
                "cluster" | "" => TargetLevel::Cluster,
                u => TargetLevel::School(Urn::parse(u).map_err(|e| WebError::bad_request(format!("level: {e}")))?),
            };
            let target_year = year_param(params.target_year.as_ref())?.unwrap_or(view.year.next());
            app.service
                .target_proposal(user, cluster, m, group, level, target_year)
                .await?
                .map(|(def, p)| {
                    let unit = def.unit;
                    let fmt = |v: Option<f64>| {
                        v.map_or_else(|| "–".into(), |v| format!("{}{}", one_decimal(v), unit.suffix()))
                    };
                    let plain =
                        |v: Option<f64>| v.map_or_else(String::new, |v| one_decimal(v).replace('\u{2212}', "-"));
                    Proposed {
                        measure: def.code.clone(),
                        group: group.code().into(),
                        level: match level {
                            TargetLevel::Cluster => "cluster".into(),
                            TargetLevel::School(u) => u.to_string(),
                        },
                        proposed: fmt(p.proposed),
                        weak: fmt(p.weak_plus_one),
                        explanation: p.explanation.clone(),
                        baseline: plain(p.last.map(|(_, v)| v)),
                        baseline_year: p.last.map(|(y, _)| y.code().to_string()).unwrap_or_default(),
                        target: plain(p.proposed),
                        target_year: target_year.code().to_string(),
                    }
                })
        }
        _ => None,
    };
    let pick = |form: &str, name: &str, fallback: &str| {
        let v = entered.value(form, name);
        if v.is_empty() { fallback.to_string() } else { v }
    };
    let rag_counts = {
        let count = |r: Rag| view.targets.iter().filter(|t| t.status.rag == r).count();
        format!(
            "{} green, {} amber, {} red, {} without data yet",
            count(Rag::Green),
            count(Rag::Amber),
            count(Rag::Red),
            count(Rag::NoData)
        )
    };
    let prop_measure = proposal.as_ref().map(|p| p.measure.clone()).unwrap_or_default();
    let prop_group = proposal
        .as_ref()
        .map(|p| p.group.clone())
        .unwrap_or_else(|| "all".into());
    let prop_level = proposal
        .as_ref()
        .map(|p| p.level.clone())
        .unwrap_or_else(|| "cluster".into());
    let ticked: Vec<String> = if entered.form == "activity" {
        entered.schools.clone()
    } else {
        Vec::new()
    };
    Ok(PlanPage {
        chrome: chrome(app, session, "/evaluation").await?,
        cluster_id: cluster,
        cluster: view.cluster.summary.cluster.name.clone(),
        year: view.year.to_string(),
        year_code: view.year.code(),
        previous_year: view.year.previous().code(),
        next_year: view.year.next().code(),
        note: settings.metrics_note,
        may_edit: view.may_edit,
        priorities: view
            .plan
            .priorities
            .iter()
            .enumerate()
            .map(|(i, p)| (i, p.title.clone(), p.detail.clone()))
            .collect(),
        activities: activity_rows(&view.activities),
        targets: target_rows(&view.targets),
        budget_total: money(view.budget_total),
        rag_counts,
        has_metrics: view.has_metrics,
        priority_choices: choices(
            view.plan
                .priorities
                .iter()
                .enumerate()
                .map(|(i, p)| (i.to_string(), format!("{}. {}", i + 1, p.title))),
            &entered.value("activity", "priority"),
        ),
        school_choices: choices(members.clone(), &entered.value("activity", "lead_school")),
        strand_choices: choices(
            STRANDS.iter().map(|(c, l)| ((*c).to_string(), (*l).to_string())),
            &pick("activity", "strand", "tailored"),
        ),
        measure_choices: choices(
            view.catalogue
                .measures
                .iter()
                .map(|m| (m.code.clone(), m.label.clone())),
            &pick("target", "measure", &prop_measure),
        ),
        group_choices: choices(
            PupilGroup::ALL
                .iter()
                .map(|g| (g.code().to_string(), g.label().to_string())),
            &pick("target", "group", &prop_group),
        ),
        level_choices: choices(
            std::iter::once(("cluster".to_string(), "Whole cluster".to_string())).chain(members.iter().cloned()),
            &pick("target", "level", &prop_level),
        ),
        participating: members
            .into_iter()
            .map(|(u, n)| {
                let on = ticked.contains(&u);
                (u, n, on)
            })
            .collect(),
        entered,
        proposal,
        helper_asked,
    })
}

pub(crate) async fn plan(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Query(params): Query<PlanParams>,
) -> Result<Response, WebError> {
    let cluster = cluster_id(&id)?;
    let year = year_param(params.year.as_ref())?;
    render(&plan_page(&app, &session, cluster, year, Entered::default(), &params).await?)
}

fn plan_year_of(fields: &Fields) -> Result<AcademicYear, WebError> {
    AcademicYear::parse(&fields.get("year")).map_err(|e| WebError::bad_request(format!("year: {e}")))
}

async fn after_edit(
    app: &AppState,
    session: &CurrentSession,
    cluster: ClusterId,
    year: AcademicYear,
    form: &'static str,
    fields: &Fields,
    outcome: Result<(), FieldError>,
) -> Result<Response, WebError> {
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/clusters/{cluster}/plan?year={}#{form}s", year.code())).into_response()),
        Err(e) => {
            let entered = Entered {
                form,
                field: e.field,
                message: e.message,
                values: fields.0.iter().cloned().collect(),
                schools: fields.all("participating"),
            };
            let page = plan_page(app, session, cluster, Some(year), entered, &PlanParams::default()).await?;
            invalid(&page)
        }
    }
}

pub(crate) async fn add_priority(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let cluster = cluster_id(&id)?;
    let f = Fields::parse(&body);
    f.check(&session)?;
    let year = plan_year_of(&f)?;
    let p = Priority {
        title: f.get("title"),
        detail: f.get("detail"),
    };
    let outcome = app.service.add_priority(&session.user, cluster, year, p).await?;
    after_edit(&app, &session, cluster, year, "priority", &f, outcome).await
}

fn parse_date(f: &Fields, name: &'static str, label: &str) -> Result<NaiveDate, FieldError> {
    NaiveDate::parse_from_str(&f.get(name), "%Y-%m-%d")
        .map_err(|_| FieldError::new(name, format!("{label} must be a real date written like 2024-09-01")))
}

fn activity_from(f: &Fields) -> Result<Activity, FieldError> {
    let priority = f
        .get("priority")
        .parse::<usize>()
        .map_err(|_| FieldError::new("priority", "Choose the priority this activity serves"))?;
    let lead_school =
        Urn::parse(&f.get("lead_school")).map_err(|_| FieldError::new("lead_school", "Choose the lead school"))?;
    let participating = f
        .all("participating")
        .iter()
        .map(|u| Urn::parse(u).map_err(|_| FieldError::new("participating", "Choose schools from the list")))
        .collect::<Result<Vec<_>, _>>()?;
    let budget = Money::parse(&f.get("budget"))
        .map_err(|_| FieldError::new("budget", "Enter the budget in pounds, like £12,500 or 12500.00"))?;
    let measure = match f.get("measure").as_str() {
        "" => None,
        m => Some(m.to_string()),
    };
    Ok(Activity {
        title: f.get("title"),
        priority,
        lead_school,
        strand: f.get("strand"),
        participating,
        funding_stream: f.get("funding_stream"),
        budget,
        starts_on: parse_date(f, "starts_on", "The start date")?,
        ends_on: parse_date(f, "ends_on", "The end date")?,
        success_criteria: f.get("success_criteria"),
        measure,
    })
}

pub(crate) async fn add_activity(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let cluster = cluster_id(&id)?;
    let f = Fields::parse(&body);
    f.check(&session)?;
    let year = plan_year_of(&f)?;
    let outcome = match activity_from(&f) {
        Ok(a) => app.service.add_activity(&session.user, cluster, year, a).await?,
        Err(e) => Err(e),
    };
    after_edit(&app, &session, cluster, year, "activity", &f, outcome).await
}

fn target_from(f: &Fields) -> Result<Target, FieldError> {
    let group =
        PupilGroup::parse(&f.get("group")).ok_or_else(|| FieldError::new("group", "Choose a group of pupils"))?;
    let level = match f.get("level").as_str() {
        "cluster" => TargetLevel::Cluster,
        u => TargetLevel::School(
            Urn::parse(u).map_err(|_| FieldError::new("level", "Choose the whole cluster or one of its schools"))?,
        ),
    };
    let number = |name: &'static str, label: &str| {
        Number::parse(&f.get(name))
            .map_err(|_| FieldError::new(name, format!("Enter the {label} as a number, like 62.5")))
    };
    let year = |name: &'static str, label: &str| {
        AcademicYear::parse(&f.get(name)).map_err(|_| {
            FieldError::new(
                name,
                format!("Enter the {label} as a school year, like 202425 or 2024/25"),
            )
        })
    };
    Ok(Target {
        measure: f.get("measure"),
        group,
        level,
        baseline: number("baseline", "baseline")?,
        baseline_year: year("baseline_year", "baseline year")?,
        target: number("target", "target")?,
        target_year: year("target_year", "target year")?,
    })
}

pub(crate) async fn add_target(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let cluster = cluster_id(&id)?;
    let f = Fields::parse(&body);
    f.check(&session)?;
    let year = plan_year_of(&f)?;
    let outcome = match target_from(&f) {
        Ok(t) => app.service.add_target(&session.user, cluster, year, t).await?,
        Err(e) => Err(e),
    };
    after_edit(&app, &session, cluster, year, "target", &f, outcome).await
}

pub(crate) async fn remove_item(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let cluster = cluster_id(&id)?;
    let f = Fields::parse(&body);
    f.check(&session)?;
    let year = plan_year_of(&f)?;
    let index = f
        .get("index")
        .parse::<usize>()
        .map_err(|_| WebError::bad_request("index: not an item of the plan"))?;
    let kind = f.get("kind");
    let outcome = app
        .service
        .remove_plan_item(&session.user, cluster, year, &kind, index)
        .await?;
    let form = match kind.as_str() {
        "activity" => "activity",
        "target" => "target",
        _ => "priority",
    };
    after_edit(&app, &session, cluster, year, form, &f, outcome).await
}

// ---- FADE ----

#[derive(Debug)]
struct RoundLine {
    due: String,
    due_text: String,
    label: String,
    status: &'static str,
    tag: &'static str,
    cluster_level: String,
    authority_level: String,
}

#[derive(Template)]
#[template(path = "evaluation/fade_list.html")]
struct FadeListPage {
    chrome: crate::pages::Chrome,
    cluster_id: ClusterId,
    cluster: String,
    rounds: Vec<RoundLine>,
}

pub(crate) async fn fade_list(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let cluster = cluster_id(&id)?;
    let list = app.service.fade_list(&session.user, cluster).await?;
    let today = app.service.clock().today();
    let rounds = list
        .rounds
        .iter()
        .map(|r| {
            let judged = r
                .report
                .as_ref()
                .map(|x| (x.cluster_judgement.is_some(), x.authority_judgement.is_some()));
            let (status, tag) = match judged {
                Some((true, true)) => ("Both judgements recorded", "govuk-tag--green"),
                Some((true, false)) => ("Awaiting the authority's judgement", "govuk-tag--yellow"),
                Some((false, true)) => ("Awaiting the cluster's judgement", "govuk-tag--yellow"),
                Some((false, false)) => ("Started", "govuk-tag--blue"),
                None if r.round.due < today => ("Not written", "govuk-tag--red"),
                None => ("Not started", "govuk-tag--grey"),
            };
            let level =
                |j: Option<&domain::evaluation::fade::Judgement>| j.map_or_else(|| "–".into(), |j| j.level.clone());
            RoundLine {
                due: r.round.due.format("%Y-%m-%d").to_string(),
                due_text: date(r.round.due),
                label: r.round.label(),
                status,
                tag,
                cluster_level: level(r.report.as_ref().and_then(|x| x.cluster_judgement.as_ref())),
                authority_level: level(r.report.as_ref().and_then(|x| x.authority_judgement.as_ref())),
            }
        })
        .collect();
    render(&FadeListPage {
        chrome: chrome(&app, &session, "/evaluation").await?,
        cluster_id: cluster,
        cluster: list.cluster.summary.cluster.name.clone(),
        rounds,
    })
}

#[derive(Debug)]
struct GapRow {
    year: String,
    cluster: String,
    rest: String,
    national: String,
    gap_rest: String,
    gap_national: String,
    schools: String,
}

#[derive(Debug)]
struct AnalysisBlock {
    id: String,
    title: String,
    unit: String,
    sentences: Vec<String>,
    chart: Option<Chart>,
    rows: Vec<GapRow>,
    years: Vec<String>,
    schools: Vec<(String, Vec<String>)>,
    /// For counts of pupils: each school's row then the totals row, suppressed.
    counts: Vec<(String, Vec<String>)>,
}

fn analysis_block(i: usize, a: &MeasureAnalysis, school_names: &[String]) -> AnalysisBlock {
    let unit = a.measure.unit;
    let title = if a.group == PupilGroup::All {
        a.measure.label.clone()
    } else {
        format!("{}: {}", a.measure.label, a.group.short_label())
    };
    let years: Vec<String> = a.years.iter().map(ToString::to_string).collect();
    let counts = a
        .counts
        .as_ref()
        .map(|t: &SuppressedTable| {
            let mut rows: Vec<(String, Vec<String>)> = t
                .cells
                .iter()
                .zip(&t.row_totals)
                .enumerate()
                .map(|(k, (r, total))| {
                    let name = school_names.get(k).cloned().unwrap_or_default();
                    (name, r.iter().copied().chain([*total]).map(cell).collect())
                })
                .collect();
            if school_names.is_empty() {
                rows.clear();
            }
            rows.push((
                "Cluster total".into(),
                t.column_totals
                    .iter()
                    .copied()
                    .chain([t.grand_total])
                    .map(cell)
                    .collect(),
            ));
            rows
        })
        .unwrap_or_default();
    let series = |f: &dyn Fn(&domain::evaluation::analysis::GapPoint) -> Option<f64>| -> Vec<Option<f64>> {
        a.years
            .iter()
            .map(|y| a.points.iter().find(|p| p.period == *y).and_then(f))
            .collect()
    };
    let chart = if a.points.is_empty() {
        None
    } else {
        let mut lines = vec![
            ("This cluster", CLUSTER, false, series(&|p| p.cluster.value)),
            ("Rest of the authority", REST, false, series(&|p| p.rest.value)),
        ];
        let national = series(&|p| p.national);
        if national.iter().any(Option::is_some) {
            lines.push(("National", NATIONAL, true, national));
        }
        line_chart(&format!("chart-{i}"), &title, &a.years, &lines, unit.suffix())
    };
    let signed = |v: Option<f64>| {
        v.map_or_else(
            || "–".into(),
            |v| {
                let s = one_decimal(v);
                if v > 0.0 && s != "0.0" { format!("+{s}") } else { s }
            },
        )
    };
    AnalysisBlock {
        id: format!("measure-{i}"),
        sentences: [a.to_rest.clone(), a.to_national.clone()]
            .into_iter()
            .flatten()
            .collect(),
        rows: a
            .points
            .iter()
            .map(|p| GapRow {
                year: p.period.to_string(),
                cluster: stat(p.cluster.value, unit),
                rest: stat(p.rest.value, unit),
                national: stat(p.national, unit),
                gap_rest: signed(p.gap_to_rest()),
                gap_national: signed(p.gap_to_national()),
                schools: if p.cluster.without_value > 0 {
                    format!("{} ({} without a figure)", p.cluster.schools, p.cluster.without_value)
                } else {
                    p.cluster.schools.to_string()
                },
            })
            .collect(),
        schools: a
            .schools
            .iter()
            .filter(|(_, obs)| !obs.is_empty())
            .map(|(n, obs)| (n.clone(), obs.iter().map(|o| observation(*o, unit)).collect()))
            .collect(),
        unit: unit.difference_word().into(),
        chart,
        years,
        counts,
        title,
    }
}

#[derive(Debug)]
struct JudgementView {
    level: String,
    by: String,
    on: String,
    comment: String,
}

#[derive(Template)]
#[template(path = "evaluation/fade_report.html")]
struct FadeReportPage {
    chrome: crate::pages::Chrome,
    cluster_id: ClusterId,
    cluster: String,
    label: String,
    due: String,
    due_text: String,
    covers: String,
    plan_year: String,
    plan_year_code: u32,
    note: Option<String>,
    priorities: Vec<(String, String)>,
    focus: String,
    analysis_notes: String,
    develop_do: String,
    evaluation: String,
    analysis: Vec<AnalysisBlock>,
    targets: Vec<TargetRow>,
    activities: Vec<ActivityRow>,
    spend_source: String,
    spend_allocated: String,
    spend_planned: String,
    spend_spent: String,
    cluster_judgement: Option<JudgementView>,
    authority_judgement: Option<JudgementView>,
    levels: Vec<String>,
    may_write: bool,
    may_judge: bool,
    school_level: bool,
    error: Option<(&'static str, String)>,
    saved: bool,
}

impl FadeReportPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct SavedParam {
    saved: Option<String>,
}

async fn fade_page(
    app: &AppState,
    session: &CurrentSession,
    cluster: ClusterId,
    due: NaiveDate,
    error: Option<(&'static str, String)>,
    entered: Option<FadeText>,
    saved: bool,
) -> Result<FadeReportPage, WebError> {
    let user = &session.user;
    let v = app.service.fade_view(user, cluster, due).await?;
    let settings = app.service.evaluation_settings(user).await?;
    let names: Vec<String> = if v.school_level {
        v.cluster
            .members
            .iter()
            .map(|(s, _, _)| s.school.name.clone())
            .collect()
    } else {
        Vec::new()
    };
    let judgement = |j: &Option<domain::evaluation::fade::Judgement>| {
        j.as_ref().map(|j| JudgementView {
            level: j.level.clone(),
            by: j.by.clone(),
            on: date(j.on),
            comment: j.comment.clone(),
        })
    };
    let text = entered.unwrap_or(FadeText {
        focus: v.report.focus.clone(),
        analysis_notes: v.report.analysis_notes.clone(),
        develop_do: v.report.develop_do.clone(),
        evaluation: v.report.evaluation.clone(),
    });
    Ok(FadeReportPage {
        chrome: chrome(app, session, "/evaluation").await?,
        cluster_id: cluster,
        cluster: v.cluster.summary.cluster.name.clone(),
        label: v.round.label(),
        due: v.round.due.format("%Y-%m-%d").to_string(),
        due_text: date(v.round.due),
        covers: format!("{} to {}", date(v.covers_from), date(v.round.due)),
        plan_year: v.plan_year.to_string(),
        plan_year_code: v.plan_year.code(),
        note: settings.metrics_note,
        priorities: v
            .priorities
            .iter()
            .map(|p| (p.title.clone(), p.detail.clone()))
            .collect(),
        focus: text.focus,
        analysis_notes: text.analysis_notes,
        develop_do: text.develop_do,
        evaluation: text.evaluation,
        analysis: v
            .analysis
            .iter()
            .enumerate()
            .map(|(i, a)| analysis_block(i, a, &names))
            .collect(),
        targets: target_rows(&v.targets),
        activities: activity_rows(&v.activities),
        spend_source: v.spend.source.clone(),
        spend_allocated: v.spend.allocated.map_or_else(|| "–".into(), money),
        spend_planned: money(v.spend.planned),
        spend_spent: v
            .spend
            .spent
            .map_or_else(|| "None recorded (no ledger entries)".into(), money),
        cluster_judgement: judgement(&v.report.cluster_judgement),
        authority_judgement: judgement(&v.report.authority_judgement),
        levels: v.scale.levels().to_vec(),
        may_write: v.may_write,
        may_judge: v.may_judge,
        school_level: v.school_level,
        error,
        saved,
    })
}

pub(crate) async fn fade_report(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path((id, due)): Path<(String, String)>,
    Query(q): Query<SavedParam>,
) -> Result<Response, WebError> {
    let (cluster, due) = (cluster_id(&id)?, day(&due)?);
    render(&fade_page(&app, &session, cluster, due, None, None, q.saved.is_some()).await?)
}

pub(crate) async fn save_fade_text(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path((id, due)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, WebError> {
    let (cluster, due) = (cluster_id(&id)?, day(&due)?);
    let f = Fields::parse(&body);
    f.check(&session)?;
    let text = FadeText {
        focus: f.get("focus"),
        analysis_notes: f.get("analysis_notes"),
        develop_do: f.get("develop_do"),
        evaluation: f.get("evaluation"),
    };
    match app
        .service
        .save_fade_text(&session.user, cluster, due, text.clone())
        .await?
    {
        Ok(()) => Ok(Redirect::to(&format!(
            "/clusters/{cluster}/fade/{}?saved=report",
            due.format("%Y-%m-%d")
        ))
        .into_response()),
        Err(e) => invalid(
            &fade_page(
                &app,
                &session,
                cluster,
                due,
                Some((e.field, e.message)),
                Some(text),
                false,
            )
            .await?,
        ),
    }
}

pub(crate) async fn record_judgement(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path((id, due)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, WebError> {
    let (cluster, due) = (cluster_id(&id)?, day(&due)?);
    let f = Fields::parse(&body);
    f.check(&session)?;
    let side = match f.get("side").as_str() {
        "cluster" => Side::Cluster,
        "authority" => Side::Authority,
        _ => return Err(WebError::bad_request("side: must be cluster or authority")),
    };
    let field_prefix = if side == Side::Cluster { "cluster" } else { "authority" };
    let level = f.get(&format!("{field_prefix}_level"));
    let comment = f.get(&format!("{field_prefix}_comment"));
    if level.is_empty() {
        let message = "Choose a judgement from the scale".to_string();
        let field = if side == Side::Cluster {
            "cluster_judgement"
        } else {
            "authority_judgement"
        };
        return invalid(&fade_page(&app, &session, cluster, due, Some((field, message)), None, false).await?);
    }
    match app
        .service
        .record_judgement(&session.user, cluster, due, side, &level, &comment)
        .await?
    {
        Ok(()) => Ok(Redirect::to(&format!(
            "/clusters/{cluster}/fade/{}?saved={field_prefix}#evaluation",
            due.format("%Y-%m-%d")
        ))
        .into_response()),
        Err(e) => invalid(&fade_page(&app, &session, cluster, due, Some((e.field, e.message)), None, false).await?),
    }
}

// ---- authority summary ----

#[derive(Debug, Default, Deserialize)]
pub(crate) struct SummaryParams {
    round: Option<String>,
}

#[derive(Debug)]
struct ClusterJudgementLine {
    id: ClusterId,
    name: String,
    cluster_level: String,
    authority_level: String,
    differ: bool,
    rag: [u64; 4],
}

#[derive(Template)]
#[template(path = "evaluation/fade_summary.html")]
struct SummaryPage {
    chrome: crate::pages::Chrome,
    label: String,
    due: String,
    rounds: Vec<Choice>,
    rows: Vec<(String, String, String)>,
    judged: (String, String),
    missing: (u64, u64),
    off_scale: u64,
    pairs: u64,
    exact: u64,
    within_one: u64,
    cluster_higher: u64,
    authority_higher: u64,
    kappas: Vec<(&'static str, String, &'static str)>,
    enough_pairs: bool,
    min_pairs: u64,
    matrix_levels: Vec<String>,
    matrix: Vec<(String, Vec<u64>, u64)>,
    matrix_totals: (Vec<u64>, u64),
    lines: Vec<ClusterJudgementLine>,
    note: Option<String>,
    may_change_settings: bool,
    fade_due: String,
    scale: String,
    redirect_after_terms: String,
    threshold: String,
    error: Option<(&'static str, String)>,
}

impl SummaryPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

async fn summary_page(
    app: &AppState,
    session: &CurrentSession,
    due: Option<NaiveDate>,
    error: Option<(&'static str, String)>,
    entered: Option<[String; 4]>,
) -> Result<SummaryPage, WebError> {
    let v = app.service.fade_summary(&session.user, due).await?;
    let a = &v.summary.agreement;
    let levels = v.scale.levels().to_vec();
    let kappas = [
        ("Unweighted", a.unweighted),
        ("Linear weights", a.linear),
        ("Quadratic weights", a.quadratic),
    ]
    .into_iter()
    .map(|(name, k)| match k {
        Some(k) => (name, format!("{k:.2}"), kappa_words(k)),
        None => (name, "–".into(), "cannot be worked out"),
    })
    .collect();
    let [fade_due, scale, terms, threshold] = entered.unwrap_or([
        v.settings.calendar.code(),
        v.settings.scale.to_string(),
        v.settings.redirect_after_terms.to_string(),
        v.settings.suppression_threshold.to_string(),
    ]);
    Ok(SummaryPage {
        chrome: chrome(app, session, "/evaluation").await?,
        label: v.round.label(),
        due: v.round.due.format("%Y-%m-%d").to_string(),
        rounds: v
            .rounds
            .iter()
            .map(|r| Choice {
                value: r.due.format("%Y-%m-%d").to_string(),
                label: format!("{} — due {}", r.label(), date(r.due)),
                selected: r.due == v.round.due,
            })
            .collect(),
        rows: v
            .summary
            .rows
            .iter()
            .zip(&v.table.cells)
            .map(|(r, cells)| (r.level.clone(), cell(cells[0]), cell(cells[1])))
            .collect(),
        judged: (cell(v.table.column_totals[0]), cell(v.table.column_totals[1])),
        missing: (v.summary.cluster_missing, v.summary.authority_missing),
        off_scale: v.summary.off_scale,
        pairs: a.pairs,
        exact: a.exact,
        within_one: a.within_one,
        cluster_higher: a.cluster_higher,
        authority_higher: a.authority_higher,
        kappas,
        enough_pairs: a.enough_pairs(),
        min_pairs: domain::evaluation::kappa::MIN_PAIRS_FOR_KAPPA,
        matrix: a
            .matrix
            .counts
            .iter()
            .zip(a.matrix.row_totals())
            .enumerate()
            .map(|(i, (r, t))| (levels.get(i).cloned().unwrap_or_default(), r.clone(), t))
            .collect(),
        matrix_totals: (a.matrix.column_totals(), a.matrix.n()),
        matrix_levels: levels,
        lines: v
            .lines
            .iter()
            .map(|l| ClusterJudgementLine {
                id: l.cluster,
                name: l.name.clone(),
                differ: l.cluster_level.is_some()
                    && l.authority_level.is_some()
                    && l.cluster_level != l.authority_level,
                cluster_level: l.cluster_level.clone().unwrap_or_else(|| "Not judged".into()),
                authority_level: l.authority_level.clone().unwrap_or_else(|| "Not judged".into()),
                rag: l.rag,
            })
            .collect(),
        note: v.settings.metrics_note.clone(),
        may_change_settings: v.may_change_settings,
        fade_due,
        scale,
        redirect_after_terms: terms,
        threshold,
        error,
    })
}

pub(crate) async fn fade_summary(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Query(q): Query<SummaryParams>,
) -> Result<Response, WebError> {
    let due = match q.round.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(day(s)?),
        None => None,
    };
    render(&summary_page(&app, &session, due, None, None).await?)
}

pub(crate) async fn save_settings(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    body: Bytes,
) -> Result<Response, WebError> {
    let f = Fields::parse(&body);
    f.check(&session)?;
    let entered = [
        f.get("fade_due"),
        f.get("scale"),
        f.get("redirect_after_terms"),
        f.get("threshold"),
    ];
    match app
        .service
        .save_evaluation_settings(&session.user, &entered[0], &entered[1], &entered[2], &entered[3])
        .await?
    {
        Ok(_) => Ok(Redirect::to("/fade#settings").into_response()),
        Err(e) => invalid(&summary_page(&app, &session, None, Some((e.field, e.message)), Some(entered)).await?),
    }
}

// ---- snapshot ----

#[derive(Template)]
#[template(path = "evaluation/snapshot.html")]
struct SnapshotPage {
    chrome: crate::pages::Chrome,
    cluster_id: ClusterId,
    cluster: String,
    today: String,
    note: Option<String>,
    schools: String,
    pupils: String,
    fsm: String,
    phases: String,
    members: Vec<(String, String, String)>,
    school_level: bool,
    funding_budget: String,
    funding_to_schools: String,
    funding_spent: String,
    funding_policy: String,
    planned: String,
    governance: Option<(&'static str, &'static str, String)>,
    has_plan: bool,
    plan_year: String,
    priorities: Vec<String>,
    activities: usize,
    rag: [u64; 4],
    metrics: Vec<(String, String, String, String, String, String)>,
    fade: Option<(String, String, String)>,
}

pub(crate) async fn snapshot(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let cluster = cluster_id(&id)?;
    let s = app.service.cluster_snapshot(&session.user, cluster).await?;
    let settings = app.service.evaluation_settings(&session.user).await?;
    let sum = &s.cluster.summary;
    let governance = s.governance.as_ref().map(|h| {
        use domain::governance::health::Rag as G;
        let (label, tag) = match h.health.rag {
            G::Green => (h.health.rag.label(), "govuk-tag--green"),
            G::Amber => (h.health.rag.label(), "govuk-tag--yellow"),
            G::Red => (h.health.rag.label(), "govuk-tag--red"),
        };
        let reasons = if h.health.reasons.is_empty() {
            "No concerns".to_string()
        } else {
            h.health.reasons.join("; ")
        };
        (label, tag, reasons)
    });
    render(&SnapshotPage {
        chrome: chrome(&app, &session, "/evaluation").await?,
        cluster_id: cluster,
        cluster: sum.cluster.name.clone(),
        today: date(app.service.clock().today()),
        note: settings.metrics_note,
        schools: int(u64::from(sum.schools)),
        pupils: int(sum.pupils),
        fsm: share(sum.fsm_count, sum.fsm_base),
        phases: format!(
            "{} secondary, {} primary, {} other",
            sum.secondaries, sum.primaries, sum.others
        ),
        members: s
            .cluster
            .members
            .iter()
            .map(|(sc, role, _)| {
                (
                    sc.school.name.clone(),
                    role.label().to_string(),
                    int(u64::from(sc.pupils())),
                )
            })
            .collect(),
        school_level: s.school_level,
        funding_budget: s.funding.as_ref().map_or_else(|| "–".into(), |f| money(f.budget)),
        funding_to_schools: s.funding.as_ref().map_or_else(|| "–".into(), |f| money(f.to_schools)),
        funding_spent: s
            .funding
            .as_ref()
            .and_then(|f| f.spent)
            .map_or_else(|| "none recorded".into(), money),
        funding_policy: s.funding.as_ref().map(|f| f.policy.clone()).unwrap_or_default(),
        planned: money(s.budget_total),
        governance,
        has_plan: s.plan.is_some(),
        plan_year: s.year.to_string(),
        priorities: s
            .plan
            .as_ref()
            .map(|p| p.priorities.iter().map(|x| x.title.clone()).collect())
            .unwrap_or_default(),
        activities: s.plan.as_ref().map_or(0, |p| p.activities.len()),
        rag: s.rag,
        metrics: s
            .key_metrics
            .iter()
            .map(|m| {
                let u = m.measure.unit;
                (
                    m.measure.label.clone(),
                    m.year.to_string(),
                    stat(m.cluster, u),
                    stat(m.rest, u),
                    stat(m.national, u),
                    m.sentence.clone().unwrap_or_default(),
                )
            })
            .collect(),
        fade: s.latest_fade.as_ref().map(|(round, r)| {
            let level = |j: &Option<domain::evaluation::fade::Judgement>| {
                j.as_ref().map_or_else(|| "Not judged".to_string(), |j| j.level.clone())
            };
            (
                round.label(),
                level(&r.cluster_judgement),
                level(&r.authority_judgement),
            )
        }),
    })
}

// ---- questionnaires ----

#[derive(Debug)]
struct QuestionnaireLine {
    id: i64,
    title: String,
    cluster: String,
    sent: String,
    closes: String,
    answered: String,
    mine: Option<bool>,
}

#[derive(Template)]
#[template(path = "evaluation/questionnaires.html")]
struct QuestionnairesPage {
    chrome: crate::pages::Chrome,
    lines: Vec<QuestionnaireLine>,
    may_send: bool,
    clusters: Vec<Choice>,
    title: String,
    closes_on: String,
    error: Option<(&'static str, String)>,
    criteria: Vec<&'static str>,
}

impl QuestionnairesPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

async fn questionnaires_page(
    app: &AppState,
    session: &CurrentSession,
    entered: Option<(String, String, String)>,
    error: Option<(&'static str, String)>,
) -> Result<QuestionnairesPage, WebError> {
    let user = &session.user;
    let rows = app.service.questionnaires(user).await?;
    let may_send = app.service.may_send_questionnaires(user);
    let (cluster, title, closes_on) = entered.unwrap_or_default();
    let clusters = if may_send {
        choices(
            app.service
                .clusters(user)
                .await?
                .into_iter()
                .map(|c| (c.cluster.id.to_string(), c.cluster.name)),
            &cluster,
        )
    } else {
        Vec::new()
    };
    Ok(QuestionnairesPage {
        chrome: chrome(app, session, "/evaluation").await?,
        lines: rows
            .iter()
            .map(|r| QuestionnaireLine {
                id: r.questionnaire.id,
                title: r.questionnaire.title.clone(),
                cluster: r.cluster_name.clone(),
                sent: date(r.questionnaire.sent_on),
                closes: date(r.questionnaire.closes_on),
                answered: format!("{} of {}", r.answered, r.questionnaire.schools.len()),
                mine: r.mine_answered,
            })
            .collect(),
        may_send,
        clusters,
        title,
        closes_on,
        error,
        criteria: CRITERIA.iter().map(|c| c.question).collect(),
    })
}

pub(crate) async fn questionnaires(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    render(&questionnaires_page(&app, &session, None, None).await?)
}

pub(crate) async fn send_questionnaire(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    body: Bytes,
) -> Result<Response, WebError> {
    let f = Fields::parse(&body);
    f.check(&session)?;
    let entered = (f.get("cluster"), f.get("title"), f.get("closes_on"));
    let again = |field: &'static str, message: &str| (field, message.to_string());
    let Ok(cluster) = entered.0.parse::<i64>().map(ClusterId) else {
        let e = again("cluster", "Choose the cluster whose headteachers will answer");
        return invalid(&questionnaires_page(&app, &session, Some(entered), Some(e)).await?);
    };
    let Ok(closes_on) = NaiveDate::parse_from_str(&entered.2, "%Y-%m-%d") else {
        let e = again(
            "closes_on",
            "The closing date must be a real date written like 2025-02-07",
        );
        return invalid(&questionnaires_page(&app, &session, Some(entered), Some(e)).await?);
    };
    match app
        .service
        .send_questionnaire(&session.user, cluster, &entered.1, closes_on)
        .await?
    {
        Ok(id) => Ok(Redirect::to(&format!("/questionnaires/{id}")).into_response()),
        Err(e) => invalid(&questionnaires_page(&app, &session, Some(entered), Some((e.field, e.message))).await?),
    }
}

#[derive(Debug)]
struct CriterionLine {
    code: &'static str,
    question: &'static str,
    counts: Vec<String>,
    total: String,
    median: String,
    answer: String,
}

#[derive(Template)]
#[template(path = "evaluation/questionnaire.html")]
struct QuestionnairePage {
    chrome: crate::pages::Chrome,
    id: i64,
    title: String,
    cluster: String,
    sent: String,
    closes: String,
    asked: usize,
    answered: usize,
    threshold: u64,
    levels: Vec<String>,
    criteria: Vec<CriterionLine>,
    totals: (Vec<String>, String),
    answering: bool,
    comment: String,
    error: Option<(&'static str, String)>,
    saved: bool,
}

impl QuestionnairePage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

async fn questionnaire_page(
    app: &AppState,
    session: &CurrentSession,
    id: i64,
    entered: Option<(Vec<String>, String)>,
    error: Option<(&'static str, String)>,
    saved: bool,
) -> Result<QuestionnairePage, WebError> {
    let v = app.service.questionnaire_view(&session.user, id).await?;
    let levels = v.scale.levels().to_vec();
    let mine = v.answering_for.as_ref().and_then(|(_, r)| r.clone());
    let (answers, comment) = entered.unwrap_or_else(|| match &mine {
        Some(r) => (
            r.answers
                .iter()
                .map(|a| {
                    a.and_then(|i| levels.get(i).cloned())
                        .unwrap_or_else(|| "dont_know".into())
                })
                .collect(),
            r.comment.clone(),
        ),
        None => (Vec::new(), String::new()),
    });
    let t = &v.summary.counts;
    Ok(QuestionnairePage {
        chrome: chrome(app, session, "/evaluation").await?,
        id,
        title: v.questionnaire.title.clone(),
        cluster: v.cluster_name.clone(),
        sent: date(v.questionnaire.sent_on),
        closes: date(v.questionnaire.closes_on),
        asked: v.summary.asked,
        answered: v.summary.answered,
        threshold: v.threshold,
        criteria: CRITERIA
            .iter()
            .enumerate()
            .map(|(i, c)| CriterionLine {
                code: c.code,
                question: c.question,
                counts: t
                    .cells
                    .get(i)
                    .map(|r| r.iter().copied().map(cell).collect())
                    .unwrap_or_default(),
                total: t.row_totals.get(i).copied().map(cell).unwrap_or_default(),
                median: v
                    .summary
                    .medians
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| format!("Fewer than {} answers", v.threshold)),
                answer: answers.get(i).cloned().unwrap_or_default(),
            })
            .collect(),
        totals: (t.column_totals.iter().copied().map(cell).collect(), cell(t.grand_total)),
        levels,
        answering: v.answering_for.is_some(),
        comment,
        error,
        saved,
    })
}

pub(crate) async fn questionnaire(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Query(q): Query<SavedParam>,
) -> Result<Response, WebError> {
    let id = id.parse::<i64>().map_err(|_| WebError::not_found())?;
    render(&questionnaire_page(&app, &session, id, None, None, q.saved.is_some()).await?)
}

pub(crate) async fn answer_questionnaire(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let id = id.parse::<i64>().map_err(|_| WebError::not_found())?;
    let f = Fields::parse(&body);
    f.check(&session)?;
    let answers: Vec<String> = CRITERIA.iter().map(|c| f.get(c.code)).collect();
    let comment = f.get("comment");
    match app
        .service
        .answer_questionnaire(&session.user, id, &answers, &comment)
        .await?
    {
        Ok(()) => Ok(Redirect::to(&format!("/questionnaires/{id}?saved=yes")).into_response()),
        Err(e) => invalid(
            &questionnaire_page(
                &app,
                &session,
                id,
                Some((answers, comment)),
                Some((e.field, e.message)),
                false,
            )
            .await?,
        ),
    }
}

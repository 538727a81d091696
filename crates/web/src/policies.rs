//! Funding in the app: the authority's policies (list, view, edit with a preview), scenarios
//! compared side by side with their fairness, each school's statement (page and CSV), the termly
//! governing-body report (page and file) and the clerk's narrative, and the allocation block of
//! the cluster page. Handlers are thin: who may see what is decided in `service::policies`.

use crate::AppState;
use crate::error::WebError;
use crate::format::{date, int};
use crate::pages::{Chrome, chrome};
use crate::session::check_csrf;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use domain::access::{Scope, UserRole};
use domain::funding::Granularity;
use domain::funding::Period;
use domain::funding::fairness::Fairness;
use domain::funding::ledger::{Fence, HolderPosition};
use domain::governance::health::Term;
use domain::ids::{ClusterId, Urn};
use domain::money::{Money, Rounding};
use rust_decimal::Decimal;
use serde::Deserialize;
use service::ServiceError;
use service::auth::CurrentSession;
use service::policies::{
    ClusterAllocation, GoverningBodyReport, PolicyId, PolicyVersionId, SpendToDate, Statement, StoredPolicy,
    difference, parse_period_code, parse_term_code, period_code, period_label, periods_on, term_code,
};

fn render(t: &impl Template) -> Result<Response, WebError> {
    Ok(Html(t.render()?).into_response())
}

fn render_status(status: StatusCode, t: &impl Template) -> Result<Response, WebError> {
    Ok((status, Html(t.render()?)).into_response())
}

// ---- Words and numbers ------------------------------------------------------------------------

/// "cluster admin" → "Cluster admin".
fn sentence(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// A ring-fence's phase label as people read it.
fn phase_words(label: &str) -> String {
    match label {
        "all" => "All phases".into(),
        "alternative_provision" => "Alternative provision".into(),
        other => sentence(&other.replace('_', " ")),
    }
}

/// An exact amount of pence as £ to the penny (halves up): "£12.35".
fn money_of(pence: Decimal) -> String {
    Money::round(pence, Granularity::Penny, Rounding::HalfUp).map_or_else(|_| "–".to_string(), |m| m.to_string())
}

/// A percentage to one decimal place: "14.3%".
fn percent(d: Decimal) -> String {
    format!("{:.1}%", d.round_dp(1))
}

fn signed(m: Money) -> String {
    if m.is_negative() {
        format!("−{}", m.to_string().trim_start_matches('-'))
    } else if m == Money::ZERO {
        "no change".into()
    } else {
        format!("+{m}")
    }
}

/// A change as a percentage to one decimal, with its sign: "+4.2%", "−0.5%", "–" when undefined.
fn signed_percent(pct: Option<Decimal>) -> String {
    pct.map_or_else(
        || "–".into(),
        |p| {
            let p = p.round_dp(1);
            if p.is_sign_positive() && !p.is_zero() {
                format!("+{p:.1}%")
            } else {
                format!("{p:.1}%").replace('-', "−")
            }
        },
    )
}

fn period_words(p: Option<Period>) -> String {
    p.map_or_else(|| "no period given".into(), period_label)
}

fn term_words(t: Term) -> String {
    t.label()
}

fn time_words(unix: i64) -> String {
    date(domain::import::date_from_unix(unix))
}

// ---- The cluster page's block ---------------------------------------------------------------

#[derive(Debug)]
pub(crate) struct PotRow {
    pub stream: String,
    pub phase: String,
    pub source: String,
    pub budget: String,
    pub central: String,
    pub to_schools: String,
}

#[derive(Debug)]
pub(crate) struct LineRow {
    pub stream: String,
    pub phase: String,
    pub component: String,
    pub amount: String,
    pub how: String,
}

#[derive(Debug)]
pub(crate) struct SchoolFundingRow {
    pub urn: Urn,
    pub name: String,
    pub phase: &'static str,
    pub pupils: String,
    pub amount: String,
    pub lines: Vec<LineRow>,
}

/// What the cluster page shows of its funding.
#[derive(Debug)]
pub(crate) struct ClusterFunding {
    pub present: bool,
    pub label: String,
    pub period: String,
    pub budget: String,
    pub to_schools: String,
    pub central: String,
    pub reconciles: bool,
    pub pots: Vec<PotRow>,
    pub rows: Vec<SchoolFundingRow>,
    /// Schools whose lines this person does not see.
    pub hidden: usize,
    pub may_compare: bool,
    pub may_edit: bool,
}

fn pot_rows(a: &ClusterAllocation) -> Vec<PotRow> {
    let mut out = Vec::new();
    for s in &a.streams {
        for (rf, pot) in &s.pots {
            out.push(PotRow {
                stream: sentence(&s.name),
                phase: phase_words(&rf.phase),
                source: if s.source.is_empty() {
                    "–".into()
                } else {
                    s.source.clone()
                },
                budget: pot.budget.to_string(),
                central: pot.central().to_string(),
                to_schools: pot.allocated().to_string(),
            });
        }
    }
    out
}

fn line_rows(a: &ClusterAllocation, urn: Urn) -> Vec<LineRow> {
    a.school_lines(urn)
        .into_iter()
        .map(|(s, rf, l)| LineRow {
            stream: sentence(&s.name),
            phase: phase_words(&rf.phase),
            component: sentence(&l.component),
            amount: l.amount.to_string(),
            how: l.explanation.to_string(),
        })
        .collect()
}

fn school_rows(a: &ClusterAllocation, shown: &[Urn]) -> Vec<SchoolFundingRow> {
    a.schools
        .iter()
        .filter(|s| shown.contains(&s.urn))
        .map(|s| SchoolFundingRow {
            urn: s.urn,
            name: s.name.clone(),
            phase: s.phase.label(),
            pupils: int(u64::from(s.pupils)),
            amount: a.school_total(s.urn).to_string(),
            lines: if s.fundable() {
                line_rows(a, s.urn)
            } else {
                vec![LineRow {
                    stream: "–".into(),
                    phase: "–".into(),
                    component: "Nothing".into(),
                    amount: Money::ZERO.to_string(),
                    how: if s.state_funded {
                        "an unfunded member of the cluster".into()
                    } else {
                        "not state-funded, so not funded by the cluster".into()
                    },
                }]
            },
        })
        .collect()
}

pub(crate) async fn cluster_funding(
    app: &AppState,
    session: &CurrentSession,
    id: ClusterId,
) -> Result<ClusterFunding, WebError> {
    let user = &session.user;
    let may_compare = match user.scope {
        Scope::Authority => true,
        Scope::Cluster(c) => c == id,
        Scope::School(_) => false,
    };
    let may_edit = user.role == UserRole::AuthorityOfficer;
    let Some(view) = app.service.cluster_allocation(user, id).await? else {
        return Ok(ClusterFunding {
            present: false,
            label: String::new(),
            period: period_label(periods_on(app.service.clock().today())[0]),
            budget: String::new(),
            to_schools: String::new(),
            central: String::new(),
            reconciles: true,
            pots: Vec::new(),
            rows: Vec::new(),
            hidden: 0,
            may_compare,
            may_edit,
        });
    };
    let a = &view.allocation;
    Ok(ClusterFunding {
        present: true,
        label: a.source.label(),
        period: period_words(a.source.in_force_for),
        budget: a.budget().to_string(),
        to_schools: a.to_schools().to_string(),
        central: a.central().to_string(),
        reconciles: a.reconciles(),
        pots: pot_rows(a),
        rows: school_rows(a, &view.shown),
        hidden: a.schools.len() - view.shown.len(),
        may_compare,
        may_edit,
    })
}

// ---- /funding: the policies, and each person's statements and reports ----------------------

#[derive(Debug)]
pub(crate) struct PolicyRow {
    id: PolicyId,
    name: String,
    versions: usize,
    latest: u32,
    saved: String,
    in_force: String,
}

#[derive(Debug)]
pub(crate) struct ReportRow {
    urn: Urn,
    school: String,
    term: String,
    term_code: String,
    written: bool,
}

#[derive(Template)]
#[template(path = "funding.html")]
struct FundingPage {
    chrome: Chrome,
    policies: Vec<PolicyRow>,
    may_edit: bool,
    may_compare: bool,
    own_school: Option<Urn>,
    reports: Vec<ReportRow>,
    clerk_cluster: Option<ClusterId>,
    narrative_terms: Vec<(String, String)>,
}

fn in_force_words(p: &StoredPolicy, marks: &[service::policies::InForce]) -> String {
    let words: Vec<String> = marks
        .iter()
        .filter_map(|m| {
            let v = p.versions.iter().find(|v| v.id == m.version)?;
            Some(format!("{} (version {})", period_label(m.period), v.version))
        })
        .collect();
    if words.is_empty() {
        "Not in force".into()
    } else {
        words.join("; ")
    }
}

pub(crate) async fn list(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    let user = &session.user;
    let (policies, marks) = app.service.funding_policies(user).await?;
    let reports = app.service.governing_body_reports(user).await?;
    let now = Term::of(app.service.clock().today());
    render(&FundingPage {
        policies: policies
            .iter()
            .map(|p| PolicyRow {
                id: p.id,
                name: p.name.clone(),
                versions: p.versions.len(),
                latest: p.latest().map_or(0, |v| v.version),
                saved: p
                    .latest()
                    .map_or_else(String::new, |v| format!("{} by {}", time_words(v.saved_at), v.saved_by)),
                in_force: in_force_words(p, &marks),
            })
            .collect(),
        may_edit: user.role == UserRole::AuthorityOfficer,
        may_compare: !matches!(user.scope, Scope::School(_)),
        own_school: match user.scope {
            Scope::School(u) => Some(u),
            _ => None,
        },
        reports: reports
            .iter()
            .filter(|_| matches!(user.scope, Scope::School(_)))
            .map(|r| ReportRow {
                urn: r.urn,
                school: r.school_name.clone(),
                term: term_words(r.term),
                term_code: term_code(r.term),
                written: r.narrative_written,
            })
            .collect(),
        clerk_cluster: match (user.role, user.scope) {
            (UserRole::ClusterClerk, Scope::Cluster(c)) => Some(c),
            _ => None,
        },
        narrative_terms: [now, now.previous()]
            .iter()
            .map(|t| (term_code(*t), term_words(*t)))
            .collect(),
        chrome: chrome(&app, &session, "/funding").await?,
    })
}

// ---- One policy: its text, versions, what it gives each cluster, in force ------------------

#[derive(Debug)]
pub(crate) struct VersionRow {
    number: u32,
    saved: String,
    note: String,
    current: bool,
}

#[derive(Debug)]
pub(crate) struct ClusterTotalRow {
    id: ClusterId,
    name: String,
    budget: String,
    to_schools: String,
    central: String,
}

#[derive(Debug)]
pub(crate) struct PeriodChoice {
    code: String,
    label: String,
}

#[derive(Template)]
#[template(path = "policy.html")]
struct PolicyPage {
    chrome: Chrome,
    id: PolicyId,
    name: String,
    version_id: PolicyVersionId,
    number: u32,
    latest: u32,
    saved: String,
    note: String,
    body: String,
    in_force: String,
    versions: Vec<VersionRow>,
    clusters: Vec<ClusterTotalRow>,
    total: String,
    problem: Option<String>,
    may_edit: bool,
    periods: Vec<PeriodChoice>,
    marked: bool,
}

fn cluster_totals(all: &[ClusterAllocation]) -> (Vec<ClusterTotalRow>, String) {
    let total = all
        .iter()
        .map(ClusterAllocation::budget)
        .try_fold(Money::ZERO, Money::checked_add)
        .map_or_else(|| "–".into(), |m| m.to_string());
    (
        all.iter()
            .map(|c| ClusterTotalRow {
                id: c.cluster,
                name: c.cluster_name.clone(),
                budget: c.budget().to_string(),
                to_schools: c.to_schools().to_string(),
                central: c.central().to_string(),
            })
            .collect(),
        total,
    )
}

fn period_choices(today: domain::NaiveDate) -> Vec<PeriodChoice> {
    let [academic, financial] = periods_on(today);
    let next = |p: Period| match p {
        Period::AcademicYear(y) => Period::AcademicYear(y + 1),
        Period::FinancialYear(y) => Period::FinancialYear(y + 1),
    };
    [academic, next(academic), financial, next(financial)]
        .into_iter()
        .map(|p| PeriodChoice {
            code: period_code(p),
            label: sentence(&period_label(p)),
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PolicyParams {
    version: Option<String>,
    marked: Option<String>,
}

fn policy_id(s: &str) -> Result<PolicyId, WebError> {
    s.parse().map(PolicyId).map_err(|_| WebError::not_found())
}

pub(crate) async fn view(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Query(params): Query<PolicyParams>,
) -> Result<Response, WebError> {
    let user = &session.user;
    let p = app.service.funding_policy(user, policy_id(&id)?).await?;
    let (_, marks) = app.service.funding_policies(user).await?;
    let latest = p.latest().map_or(0, |v| v.version);
    let number = match params.version.as_deref().map(str::trim) {
        None | Some("") => latest,
        Some(v) => v
            .parse()
            .map_err(|_| WebError::bad_request(format!("version: {v:?} is not a version number")))?,
    };
    let v = p
        .versions
        .iter()
        .find(|v| v.version == number)
        .ok_or_else(WebError::not_found)?;
    let (clusters, total, problem) = match app.service.check_policy_text(user, &v.body).await {
        Ok(all) => {
            let (rows, total) = cluster_totals(&all);
            (rows, total, None)
        }
        Err(ServiceError::Invalid(m)) => (Vec::new(), String::new(), Some(m)),
        Err(e) => return Err(e.into()),
    };
    render(&PolicyPage {
        id: p.id,
        name: p.name.clone(),
        version_id: v.id,
        number,
        latest,
        saved: format!("{} by {}", time_words(v.saved_at), v.saved_by),
        note: v.note.clone(),
        body: v.body.clone(),
        in_force: {
            let words: Vec<String> = marks
                .iter()
                .filter(|m| m.version == v.id)
                .map(|m| period_label(m.period))
                .collect();
            if words.is_empty() {
                "Not in force".into()
            } else {
                words.join("; ")
            }
        },
        versions: p
            .versions
            .iter()
            .map(|x| VersionRow {
                number: x.version,
                saved: format!("{} by {}", time_words(x.saved_at), x.saved_by),
                note: if x.note.is_empty() {
                    "–".into()
                } else {
                    x.note.clone()
                },
                current: x.version == number,
            })
            .collect(),
        clusters,
        total,
        problem,
        may_edit: user.role == UserRole::AuthorityOfficer,
        periods: period_choices(app.service.clock().today()),
        marked: params.marked.is_some(),
        chrome: chrome(&app, &session, "/funding").await?,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct InForceForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    period: String,
}

pub(crate) async fn mark_in_force(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<InForceForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let id = policy_id(&id)?;
    let p = app.service.funding_policy(&session.user, id).await?;
    let version = form
        .version
        .trim()
        .parse()
        .map(PolicyVersionId)
        .map_err(|_| WebError::bad_request("version: choose a version of this policy"))?;
    let v = p
        .versions
        .iter()
        .find(|v| v.id == version)
        .ok_or_else(WebError::not_found)?;
    let period = parse_period_code(form.period.trim())
        .ok_or_else(|| WebError::bad_request("period: choose an academic or financial year from the list"))?;
    app.service
        .set_funding_policy_in_force(&session.user, version, period)
        .await?;
    Ok(Redirect::to(&format!("/funding/{id}?version={}&marked=1", v.version)).into_response())
}

// ---- Editing: a new version (or a new policy), with a preview --------------------------------

#[derive(Template)]
#[template(path = "policy_edit.html")]
struct EditPage {
    chrome: Chrome,
    /// `None` for a new policy.
    id: Option<PolicyId>,
    name: String,
    body: String,
    note: String,
    error: Option<String>,
    preview: Option<(Vec<ClusterTotalRow>, String)>,
    clusters: Vec<(ClusterId, String)>,
    compare_with: Option<PolicyVersionId>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct EditForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    action: String,
}

const NEW_POLICY: &str = r#"name = "A new policy"
granularity = "penny"

[[stream]]
name = "cluster admin"
source = "Norfolk County Council"
period = "academic 2026-27"
budget = { per_pupil = "2.00", minimum = "2000.00" }

[[stream.component]]
name = "flat share"
kind = "equal"
share = "54"

[[stream.component]]
name = "per pupil"
kind = "per_pupil"
share = "46"
"#;

async fn edit_page(
    app: &AppState,
    session: &CurrentSession,
    id: Option<PolicyId>,
    body: String,
    note: String,
    error: Option<String>,
    preview: Option<(Vec<ClusterTotalRow>, String)>,
) -> Result<EditPage, WebError> {
    let user = &session.user;
    if user.role != UserRole::AuthorityOfficer {
        return Err(WebError::forbidden(format!(
            "A {} may not change funding policies: only authority officers may.",
            user.role.label().to_lowercase()
        )));
    }
    let (name, compare_with) = match id {
        Some(id) => {
            let p = app.service.funding_policy(user, id).await?;
            (p.name.clone(), p.latest().map(|v| v.id))
        }
        None => ("New policy".to_string(), None),
    };
    let clusters = app
        .service
        .clusters(user)
        .await?
        .into_iter()
        .map(|c| (c.cluster.id, c.cluster.name))
        .collect();
    Ok(EditPage {
        chrome: chrome(app, session, "/funding").await?,
        id,
        name,
        body,
        note,
        error,
        preview,
        clusters,
        compare_with,
    })
}

pub(crate) async fn edit_form(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = policy_id(&id)?;
    let p = app.service.funding_policy(&session.user, id).await?;
    let body = p.latest().map(|v| v.body.clone()).unwrap_or_default();
    render(&edit_page(&app, &session, Some(id), body, String::new(), None, None).await?)
}

pub(crate) async fn new_form(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    render(&edit_page(&app, &session, None, NEW_POLICY.into(), String::new(), None, None).await?)
}

async fn save(
    app: &AppState,
    session: &CurrentSession,
    id: Option<PolicyId>,
    form: EditForm,
) -> Result<Response, WebError> {
    check_csrf(session, &form.csrf_token)?;
    let user = &session.user;
    // Browsers send CRLF line ends from a textarea; the stored text keeps the author's lines.
    let body = form.body.replace("\r\n", "\n");
    if form.action == "preview" {
        let page = match app.service.check_policy_text(user, &body).await {
            Ok(all) => edit_page(app, session, id, body, form.note, None, Some(cluster_totals(&all))).await?,
            Err(ServiceError::Invalid(m)) => edit_page(app, session, id, body, form.note, Some(m), None).await?,
            Err(e) => return Err(e.into()),
        };
        let status = if page.error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        return render_status(status, &page);
    }
    match app.service.save_funding_policy(user, id, &body, &form.note).await {
        Ok(v) => Ok(Redirect::to(&format!("/funding/{}?version={}", v.policy, v.version)).into_response()),
        Err(ServiceError::Invalid(m) | ServiceError::Conflict(m)) => {
            let page = edit_page(app, session, id, body, form.note, Some(m), None).await?;
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn edit(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<EditForm>,
) -> Result<Response, WebError> {
    let id = policy_id(&id)?;
    save(&app, &session, Some(id), form).await
}

pub(crate) async fn create(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Form(form): Form<EditForm>,
) -> Result<Response, WebError> {
    save(&app, &session, None, form).await
}

// ---- Scenarios: one cluster under two or more policies ----------------------------------------

#[derive(Debug)]
pub(crate) struct VersionSelect {
    field: &'static str,
    label: &'static str,
    options: Vec<(String, String, bool)>,
}

#[derive(Debug)]
pub(crate) struct CompareRow {
    urn: Urn,
    name: String,
    phase: &'static str,
    pupils: String,
    amounts: Vec<String>,
    /// Against the first scenario: (£ difference, % difference), for the second onwards.
    diffs: Vec<(String, String)>,
}

#[derive(Debug)]
pub(crate) struct FairnessRow {
    label: String,
    values: Vec<String>,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct ComparePage {
    chrome: Chrome,
    clusters: Vec<(String, String, bool)>,
    selects: Vec<VersionSelect>,
    cluster_name: String,
    cluster_id: Option<ClusterId>,
    heads: Vec<String>,
    rows: Vec<CompareRow>,
    totals: Vec<String>,
    fairness: Vec<FairnessRow>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CompareParams {
    cluster: Option<String>,
    a: Option<String>,
    b: Option<String>,
    c: Option<String>,
}

fn per_pupil_words(names: &[(Urn, String)], pick: Option<(Urn, Decimal)>) -> String {
    pick.map_or_else(
        || "–".into(),
        |(urn, v)| {
            let name = names.iter().find(|(u, _)| *u == urn).map_or("", |(_, n)| n.as_str());
            format!("{} ({name})", money_of(v))
        },
    )
}

/// The fairness measures as table rows, one value per scenario; `across` names the group of
/// schools ("the cluster", "the authority").
fn fairness_rows(scenarios: &[&Fairness], names: &[(Urn, String)], across: &str) -> Vec<FairnessRow> {
    let row = |label: &str, f: &dyn Fn(&Fairness) -> String| FairnessRow {
        label: label.into(),
        values: scenarios.iter().map(|x| f(x)).collect(),
    };
    let mut rows = vec![
        row("To schools", &|f| f.total.to_string()),
        row("Lowest per pupil", &|f| per_pupil_words(names, f.per_pupil_min)),
        row("Highest per pupil", &|f| per_pupil_words(names, f.per_pupil_max)),
        row(
            "Range per pupil (highest − lowest)",
            &|f| match (f.per_pupil_min, f.per_pupil_max) {
                (Some((_, lo)), Some((_, hi))) => money_of(hi - lo),
                _ => "–".into(),
            },
        ),
        row(&format!("Per pupil across {across}"), &|f| {
            f.per_pupil_mean.map_or_else(|| "–".into(), money_of)
        }),
        row("Per pupil eligible for free school meals", &|f| {
            f.per_fsm_pupil.map_or_else(|| "–".into(), money_of)
        }),
        row("Gini of per-pupil amounts (0 is equal)", &|f| {
            f.gini.map_or_else(|| "–".into(), |g| format!("{:.3}", g.round_dp(3)))
        }),
    ];
    for g in domain::funding::fairness::PhaseGroup::ALL {
        if scenarios.iter().any(|f| f.by_phase.iter().any(|p| p.group == g)) {
            rows.push(row(&format!("{}: share of the money", g.label()), &|f| {
                f.by_phase.iter().find(|p| p.group == g).map_or_else(
                    || "–".into(),
                    |p| {
                        format!(
                            "{} ({}) for {} of the pupils",
                            percent(p.amount_percent),
                            p.amount,
                            percent(p.pupil_percent)
                        )
                    },
                )
            }));
        }
    }
    rows
}

async fn compare_page(
    app: &AppState,
    session: &CurrentSession,
    cluster: Option<ClusterId>,
    chosen: Vec<PolicyVersionId>,
    draft: Option<&str>,
) -> Result<Response, WebError> {
    let user = &session.user;
    let (policies, _) = app.service.funding_policies(user).await?;
    let clusters = app.service.clusters(user).await?;
    let mut versions: Vec<(PolicyVersionId, String)> = Vec::new();
    for p in &policies {
        for v in &p.versions {
            versions.push((v.id, format!("{}, version {}", p.name, v.version)));
        }
    }
    let selects = [
        ("a", "First policy"),
        ("b", "Second policy"),
        ("c", "Third policy (optional)"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (field, label))| VersionSelect {
        field,
        label,
        options: versions
            .iter()
            .map(|(id, l)| (id.to_string(), l.clone(), chosen.get(i) == Some(id)))
            .collect(),
    })
    .collect();
    let mut page = ComparePage {
        clusters: clusters
            .iter()
            .filter(|c| match user.scope {
                Scope::Authority => true,
                Scope::Cluster(id) => id == c.cluster.id,
                Scope::School(_) => false,
            })
            .map(|c| {
                (
                    c.cluster.id.to_string(),
                    c.cluster.name.clone(),
                    Some(c.cluster.id) == cluster,
                )
            })
            .collect(),
        selects,
        cluster_name: String::new(),
        cluster_id: cluster,
        heads: Vec::new(),
        rows: Vec::new(),
        totals: Vec::new(),
        fairness: Vec::new(),
        error: None,
        chrome: chrome(app, session, "/funding").await?,
    };
    let Some(cluster) = cluster else {
        return render(&page);
    };
    if chosen.len() + usize::from(draft.is_some()) < 2 {
        return render(&page);
    }
    let cmp = match app.service.compare_policies(user, cluster, &chosen, draft).await {
        Ok(c) => c,
        Err(ServiceError::Invalid(m)) => {
            page.error = Some(m);
            return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
        Err(e) => return Err(e.into()),
    };
    let names: Vec<(Urn, String)> = cmp.schools.iter().map(|s| (s.urn, s.name.clone())).collect();
    page.cluster_name = cmp.cluster_name.clone();
    page.heads = cmp.scenarios.iter().map(|(a, _)| a.source.label()).collect();
    page.totals = cmp.scenarios.iter().map(|(a, _)| a.to_schools().to_string()).collect();
    page.rows = cmp
        .schools
        .iter()
        .map(|s| {
            let amounts: Vec<Money> = cmp.scenarios.iter().map(|(a, _)| a.school_total(s.urn)).collect();
            CompareRow {
                urn: s.urn,
                name: s.name.clone(),
                phase: s.phase.label(),
                pupils: int(u64::from(s.pupils)),
                amounts: amounts.iter().map(ToString::to_string).collect(),
                diffs: amounts
                    .iter()
                    .skip(1)
                    .map(|b| {
                        let (d, pct) = difference(amounts[0], *b);
                        (signed(d), signed_percent(pct))
                    })
                    .collect(),
            }
        })
        .collect();
    let measures: Vec<&Fairness> = cmp.scenarios.iter().map(|(_, f)| f).collect();
    page.fairness = fairness_rows(&measures, &names, "the cluster");
    render(&page)
}

fn version_param(field: &str, v: &Option<String>) -> Result<Option<PolicyVersionId>, WebError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(|n| Some(PolicyVersionId(n)))
            .map_err(|_| WebError::bad_request(format!("{field}: {s:?} is not a policy version"))),
    }
}

fn cluster_param(v: Option<&str>) -> Result<Option<ClusterId>, WebError> {
    match v.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(|n| Some(ClusterId(n)))
            .map_err(|_| WebError::bad_request(format!("cluster: {s:?} is not a cluster number"))),
    }
}

pub(crate) async fn compare(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Query(params): Query<CompareParams>,
) -> Result<Response, WebError> {
    let cluster = cluster_param(params.cluster.as_deref())?;
    let mut chosen = Vec::new();
    for (field, v) in [("a", &params.a), ("b", &params.b), ("c", &params.c)] {
        if let Some(id) = version_param(field, v)? {
            chosen.push(id);
        }
    }
    if chosen.is_empty() {
        // By default, the version in force against the latest version of every other policy.
        let (policies, marks) = app.service.funding_policies(&session.user).await?;
        let today = periods_on(app.service.clock().today());
        if let Some(m) = marks.iter().find(|m| today.contains(&m.period)) {
            chosen.push(m.version);
        }
        for p in &policies {
            if let Some(v) = p.latest()
                && !chosen.contains(&v.id)
                && chosen.len() < 2
            {
                chosen.push(v.id);
            }
        }
    }
    compare_page(&app, &session, cluster, chosen, None).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct DraftCompareForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    cluster: String,
    #[serde(default)]
    compare_with: String,
}

/// The edit form's "Compare this draft": the draft, unsaved, against the saved version.
pub(crate) async fn compare_draft(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Form(form): Form<DraftCompareForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let cluster = cluster_param(Some(&form.cluster))?
        .ok_or_else(|| WebError::bad_request("cluster: choose a cluster to compare in"))?;
    let chosen: Vec<PolicyVersionId> = version_param("compare_with", &Some(form.compare_with.clone()))?
        .into_iter()
        .collect();
    let body = form.body.replace("\r\n", "\n");
    compare_page(&app, &session, Some(cluster), chosen, Some(&body)).await
}

// ---- Statements ------------------------------------------------------------------------------

#[derive(Debug)]
pub(crate) struct StreamBlock {
    name: String,
    source: String,
    period: String,
    lines: Vec<LineRow>,
    total: String,
    cluster_budget: String,
}

#[derive(Template)]
#[template(path = "statement.html")]
struct StatementPage {
    chrome: Chrome,
    urn: Urn,
    name: String,
    facts: Vec<(&'static str, String)>,
    present: bool,
    period: String,
    total: String,
    streams: Vec<StreamBlock>,
    cluster_id: Option<ClusterId>,
    cluster_budget: String,
    reconciles: bool,
    term_code: String,
}

fn stream_blocks(st: &Statement) -> Vec<StreamBlock> {
    let urn = st.school.urn;
    st.allocation
        .streams
        .iter()
        .map(|s| StreamBlock {
            name: sentence(&s.name),
            source: if s.source.is_empty() {
                "–".into()
            } else {
                s.source.clone()
            },
            period: period_words(s.period),
            lines: s
                .pots
                .iter()
                .flat_map(|(rf, a)| {
                    a.lines.iter().filter(|l| l.urn == Some(urn)).map(|l| LineRow {
                        stream: sentence(&s.name),
                        phase: phase_words(&rf.phase),
                        component: sentence(&l.component),
                        amount: l.amount.to_string(),
                        how: l.explanation.to_string(),
                    })
                })
                .collect(),
            total: s.school_total(urn).to_string(),
            cluster_budget: s.budget().to_string(),
        })
        .collect()
}

fn urn_param(s: &str) -> Result<Urn, WebError> {
    Urn::parse(s).map_err(|_| WebError::not_found())
}

pub(crate) async fn statement(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(urn): Path<String>,
) -> Result<Response, WebError> {
    let urn = urn_param(&urn)?;
    let st = app.service.school_statement(&session.user, urn).await?;
    let s = &app.service.school_summary(&session.user, urn).await?;
    let mut facts = vec![("URN", urn.to_string()), ("Phase", s.school.phase.label().to_string())];
    if let Some(c) = &s.census {
        facts.push((
            "Pupils on roll",
            format!("{} on {}", int(u64::from(c.pupils)), date(c.census_date)),
        ));
        if let Some(n) = c.fsm_count {
            facts.push((
                "Eligible for free school meals",
                format!("{} pupils", int(u64::from(n))),
            ));
        }
    }
    let now = Term::of(app.service.clock().today());
    let page = match &st {
        Some(st) => {
            facts.push(("Cluster", st.allocation.cluster_name.clone()));
            facts.push(("Funding policy", st.allocation.source.label()));
            StatementPage {
                urn,
                name: s.school.name.clone(),
                present: true,
                period: period_words(st.allocation.source.in_force_for),
                total: st.total().to_string(),
                streams: stream_blocks(st),
                cluster_id: Some(st.allocation.cluster),
                cluster_budget: st.allocation.budget().to_string(),
                reconciles: st.allocation.reconciles(),
                term_code: term_code(now),
                facts,
                chrome: chrome(&app, &session, "/funding").await?,
            }
        }
        None => StatementPage {
            urn,
            name: s.school.name.clone(),
            present: false,
            period: period_label(periods_on(app.service.clock().today())[0]),
            total: String::new(),
            streams: Vec::new(),
            cluster_id: None,
            cluster_budget: String::new(),
            reconciles: true,
            term_code: term_code(now),
            facts,
            chrome: chrome(&app, &session, "/funding").await?,
        },
    };
    render(&page)
}

fn download(body: Vec<u8>, content_type: &'static str, file_name: &str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_DISPOSITION, crate::security::attachment(file_name));
    r
}

pub(crate) async fn statement_csv(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(urn): Path<String>,
) -> Result<Response, WebError> {
    let urn = urn_param(&urn)?;
    let st = app.service.school_statement(&session.user, urn).await?.ok_or_else(|| {
        WebError::new(
            StatusCode::NOT_FOUND,
            "No funding policy is in force, so there is no statement yet.",
        )
    })?;
    Ok(download(
        service::Service::statement_csv(&st),
        "text/csv; charset=utf-8",
        &format!("statement-{urn}.csv"),
    ))
}

// ---- Governing-body reports -------------------------------------------------------------------

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    chrome: Chrome,
    report: ReportView,
    terms: Vec<(String, String, bool)>,
}

#[derive(Template)]
#[template(path = "report_file.html")]
struct ReportFile {
    report: ReportView,
}

/// A report as both the page and the file show it.
#[derive(Debug)]
pub(crate) struct ReportView {
    urn: Urn,
    school: String,
    term: String,
    term_code: String,
    present: bool,
    cluster: String,
    cluster_id: Option<ClusterId>,
    policy: String,
    period: String,
    total: String,
    cluster_budget: String,
    streams: Vec<StreamBlock>,
    /// The sentence above the spend table (or in place of it).
    spend: String,
    spend_rows: Vec<SpendRow>,
    narrative: Option<(String, String)>,
    may_write: bool,
}

fn report_view(urn: Urn, school: String, term: Term, r: Option<&GoverningBodyReport>, may_write: bool) -> ReportView {
    let (cluster, cluster_id) = r.map_or((String::new(), None), |r| {
        (
            r.statement.allocation.cluster_name.clone(),
            Some(r.statement.allocation.cluster),
        )
    });
    ReportView {
        urn,
        school,
        term: term_words(term),
        term_code: term_code(term),
        present: r.is_some(),
        cluster,
        cluster_id,
        policy: r.map(|r| r.statement.allocation.source.label()).unwrap_or_default(),
        period: r
            .map(|r| period_words(r.statement.allocation.source.in_force_for))
            .unwrap_or_default(),
        total: r.map(|r| r.statement.total().to_string()).unwrap_or_default(),
        cluster_budget: r
            .map(|r| r.statement.allocation.budget().to_string())
            .unwrap_or_default(),
        streams: r.map(|r| stream_blocks(&r.statement)).unwrap_or_default(),
        spend: match r.map(|r| &r.spend) {
            Some(SpendToDate::NoLedgerEntries) | None => {
                "No ledger entries are recorded for this school yet, so no spend can be shown. Spend comes from the cluster's ledger, kept by the host school: when the host school records payments and commitments against this school's allocation, they appear here.".to_string()
            }
            Some(SpendToDate::NotShown) => {
                "Spend comes from the cluster's ledger, kept by the host school, which your role does not see school by school.".to_string()
            }
            Some(SpendToDate::Recorded { as_of, .. }) => format!(
                "As recorded in the cluster's ledger, kept by the host school, on {}: for each ring-fence, what is still available to this school, what it has committed, what it has claimed and is due, and what it has spent.",
                crate::format::date(*as_of)
            ),
        },
        spend_rows: match r.map(|r| &r.spend) {
            Some(SpendToDate::Recorded { fences, .. }) => spend_rows(fences),
            _ => Vec::new(),
        },
        narrative: r.and_then(|r| r.narrative.as_ref()).map(|n| {
            (
                n.body.clone(),
                format!("{} on {}", n.written_by, time_words(n.written_at)),
            )
        }),
        may_write,
    }
}

/// One ring-fence of a school's spend to date, formatted.
#[derive(Debug)]
pub(crate) struct SpendRow {
    fence: String,
    available: String,
    committed: String,
    claims_due: String,
    spent: String,
    total: bool,
}

fn spend_rows(fences: &[(Fence, HolderPosition)]) -> Vec<SpendRow> {
    let parts = |h: &HolderPosition| [h.available, h.committed, h.claims_due, h.spent];
    let row = |fence: String, m: [Money; 4], total: bool| SpendRow {
        fence,
        available: m[0].to_string(),
        committed: m[1].to_string(),
        claims_due: m[2].to_string(),
        spent: m[3].to_string(),
        total,
    };
    let mut rows: Vec<SpendRow> = fences
        .iter()
        .map(|(fence, h)| row(fence.to_string(), parts(h), false))
        .collect();
    let column = |i: usize| Money::sum(fences.iter().map(|(_, h)| parts(h)[i]).collect::<Vec<_>>().iter());
    if let (true, Some(a), Some(c), Some(d), Some(s)) = (rows.len() > 1, column(0), column(1), column(2), column(3)) {
        rows.push(row("Total".into(), [a, c, d, s], true));
    }
    rows
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TermParams {
    term: Option<String>,
}

fn term_param(app: &AppState, v: Option<&str>) -> Result<Term, WebError> {
    match v.map(str::trim) {
        None | Some("") => Ok(Term::of(app.service.clock().today())),
        Some(s) => parse_term_code(s).ok_or_else(|| {
            WebError::bad_request(format!(
                "term: {s:?} must be like 2026-autumn, 2027-spring or 2027-summer"
            ))
        }),
    }
}

async fn load_report(
    app: &AppState,
    session: &CurrentSession,
    urn: &str,
    term: Option<&str>,
) -> Result<ReportView, WebError> {
    let urn = urn_param(urn)?;
    let term = term_param(app, term)?;
    let r = app.service.governing_body_report(&session.user, urn, term).await?;
    let school = app.service.school_summary(&session.user, urn).await?.school.name;
    let may_write = r
        .as_ref()
        .is_some_and(|r| service::Service::may_write_narrative(&session.user, r.statement.allocation.cluster));
    Ok(report_view(urn, school, term, r.as_ref(), may_write))
}

pub(crate) async fn report(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(urn): Path<String>,
    Query(params): Query<TermParams>,
) -> Result<Response, WebError> {
    let view = load_report(&app, &session, &urn, params.term.as_deref()).await?;
    let now = Term::of(app.service.clock().today());
    let terms = [now, now.previous(), now.previous().previous()]
        .iter()
        .map(|t| (term_code(*t), term_words(*t), term_code(*t) == view.term_code))
        .collect();
    render(&ReportPage {
        chrome: chrome(&app, &session, "/funding").await?,
        report: view,
        terms,
    })
}

pub(crate) async fn report_file(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(urn): Path<String>,
    Query(params): Query<TermParams>,
) -> Result<Response, WebError> {
    let view = load_report(&app, &session, &urn, params.term.as_deref()).await?;
    let name = format!("governing-body-report-{}-{}.html", view.urn, view.term_code);
    let body = ReportFile { report: view }.render()?;
    Ok(download(body.into_bytes(), "text/html; charset=utf-8", &name))
}

// ---- The clerk's narrative --------------------------------------------------------------------

#[derive(Template)]
#[template(path = "narrative.html")]
struct NarrativePage {
    chrome: Chrome,
    cluster_id: ClusterId,
    cluster: String,
    term: String,
    term_code: String,
    body: String,
    error: Option<String>,
    saved: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NarrativeForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    term: String,
    #[serde(default)]
    body: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NarrativeParams {
    term: Option<String>,
    saved: Option<String>,
}

fn require_writer(session: &CurrentSession, cluster: ClusterId) -> Result<(), WebError> {
    if service::Service::may_write_narrative(&session.user, cluster) {
        Ok(())
    } else {
        Err(WebError::forbidden(
            "Only the cluster's clerk or an authority officer may write its termly report.",
        ))
    }
}

pub(crate) async fn narrative_form(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Query(params): Query<NarrativeParams>,
) -> Result<Response, WebError> {
    let id = ClusterId(id.parse().map_err(|_| WebError::not_found())?);
    let detail = app.service.cluster(&session.user, id).await?;
    require_writer(&session, id)?;
    let term = term_param(&app, params.term.as_deref())?;
    let existing = app.service.narrative(&session.user, id, term).await?;
    render(&NarrativePage {
        chrome: chrome(&app, &session, "/funding").await?,
        cluster_id: id,
        cluster: detail.summary.cluster.name,
        term: term_words(term),
        term_code: term_code(term),
        body: existing.map(|n| n.body).unwrap_or_default(),
        error: None,
        saved: params.saved.is_some(),
    })
}

pub(crate) async fn narrative_save(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<NarrativeForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let id = ClusterId(id.parse().map_err(|_| WebError::not_found())?);
    let term = term_param(&app, Some(&form.term))?;
    let body = form.body.replace("\r\n", "\n");
    match app.service.save_narrative(&session.user, id, term, &body).await {
        Ok(()) => {
            Ok(Redirect::to(&format!("/funding/narrative/{id}?term={}&saved=1", term_code(term))).into_response())
        }
        Err(ServiceError::Invalid(m)) => {
            let detail = app.service.cluster(&session.user, id).await?;
            render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &NarrativePage {
                    chrome: chrome(&app, &session, "/funding").await?,
                    cluster_id: id,
                    cluster: detail.summary.cluster.name,
                    term: term_words(term),
                    term_code: term_code(term),
                    body,
                    error: Some(m),
                    saved: false,
                },
            )
        }
        Err(e) => Err(e.into()),
    }
}

// ---- Funding under a different cluster map -----------------------------------------------------

#[derive(Debug)]
pub(crate) struct MapSchoolRow {
    urn: Urn,
    name: String,
    phase: &'static str,
    pupils: String,
    current: (String, String),
    proposed: (String, String),
    change: String,
    change_percent: String,
}

#[derive(Template)]
#[template(path = "funding_maps.html")]
struct MapFundingPage {
    chrome: Chrome,
    scenario_id: i64,
    scenario_name: String,
    policy: String,
    /// (label, today's map, the scenario's map)
    summary: Vec<(String, String, String)>,
    fairness: Vec<FairnessRow>,
    rows: Vec<MapSchoolRow>,
    no_policy: bool,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct MapParams {
    scenario: Option<String>,
}

/// `/funding/maps?scenario=N`: every school's allocation under today's map and a design
/// scenario's, with the fairness of each across the authority.
pub(crate) async fn under_map(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Query(params): Query<MapParams>,
) -> Result<Response, WebError> {
    let id = params
        .scenario
        .as_deref()
        .map(str::trim)
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| WebError::bad_request("scenario: choose a design scenario by its number, e.g. ?scenario=1"))?;
    let funding = app
        .service
        .funding_under_scenario(&session.user, service::design::ScenarioId(id))
        .await?;
    let mut page = MapFundingPage {
        chrome: chrome(&app, &session, "/funding").await?,
        scenario_id: id,
        scenario_name: String::new(),
        policy: String::new(),
        summary: Vec::new(),
        fairness: Vec::new(),
        rows: Vec::new(),
        no_policy: funding.is_none(),
    };
    let Some(f) = funding else {
        return Ok(Html(page.render()?).into_response());
    };
    page.scenario_name = f.scenario_name.clone();
    page.policy = f.source.label();
    let either = |m: Option<Money>| m.map_or_else(|| "–".into(), |m| m.to_string());
    let (budget_now, budget_then) = f.budgets();
    let (schools_now, schools_then) = f.to_schools();
    let central = |b: Option<Money>, t: Option<Money>| either(b.zip(t).and_then(|(b, t)| b.checked_sub(t)));
    page.summary = vec![
        (
            "Clusters".into(),
            int(f.current.len() as u64),
            int(f.proposed.len() as u64),
        ),
        ("Every cluster's budget".into(), either(budget_now), either(budget_then)),
        (
            "Kept centrally (top-slices and what no component shares)".into(),
            central(budget_now, schools_now),
            central(budget_then, schools_then),
        ),
    ];
    let names: Vec<(Urn, String)> = f
        .schools
        .iter()
        .map(|s| (s.school.urn, s.school.name.clone()))
        .collect();
    let (now, then) = f.fairness();
    page.fairness = fairness_rows(&[&now, &then], &names, "the authority");
    let side = |m: &Option<(String, Money)>| {
        m.as_ref().map_or_else(
            || ("In no cluster".into(), "–".into()),
            |(c, a)| (c.clone(), a.to_string()),
        )
    };
    page.rows = f
        .schools
        .iter()
        .filter(|s| s.school.fundable())
        .map(|s| {
            let before = s.current.as_ref().map_or(Money::ZERO, |(_, a)| *a);
            let after = s.proposed.as_ref().map_or(Money::ZERO, |(_, a)| *a);
            let (d, pct) = difference(before, after);
            MapSchoolRow {
                urn: s.school.urn,
                name: s.school.name.clone(),
                phase: s.school.phase.label(),
                pupils: int(u64::from(s.school.pupils)),
                current: side(&s.current),
                proposed: side(&s.proposed),
                change: signed(d),
                change_percent: signed_percent(pct),
            }
        })
        .collect();
    Ok(Html(page.render()?).into_response())
}

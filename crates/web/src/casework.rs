//! Strand casework and privacy pages: `/casework` (a school's own casework, or suppressed
//! aggregates), pupils, a mentor case from referral to follow-up, the G&T register with its
//! representation check, transition records, subject access and educational-record exports,
//! and the DPO's `/privacy/*` pages. Handlers are thin: the service authorises and audits.
//!
//! Pupil data never goes to the log from here: errors carry rule messages only, and nothing
//! below calls `tracing` with a value from a record.

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
use domain::NaiveDate;
use domain::casework::gt::Evidence;
use domain::casework::lsu::LsuPlacement;
use domain::casework::mentor::{CaseStatus, MentorBase, MentorCase, Outcome, ReferralReason};
use domain::casework::representation::Verdict;
use domain::casework::transition::{Receiving, TransitionRecord};
use domain::casework::{CaseId, PlacementId, Pupil, PupilId, TransitionId};
use domain::privacy::audit::ChainStatus;
use domain::privacy::fields::FIELDS;
use domain::privacy::retention::{DEFAULT_RULES, RecordKind};
use domain::privacy::suppress::Cell;
use domain::privacy::{Action, MATRIX, Resource, readers};
use serde::Deserialize;
use serde_json::{Value, json};
use service::ServiceError;
use service::auth::CurrentSession;
use service::casework::{
    AggregateTable, AuditQuery, CaseworkHome, FollowUpInput, GtEntryInput, MeasuresInput, PlacementEndInput,
    PlacementInput, PlanInput, ReferralInput, ReviewInput, SessionInput, TransitionInput,
};

/// A posted form as name–value pairs (repeated names allowed).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
    fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }
    fn csrf(&self, session: &CurrentSession) -> Result<(), WebError> {
        check_csrf(session, &self.get("csrf_token"))
    }
}

fn render(t: &impl Template) -> Result<Response, WebError> {
    Ok(Html(t.render()?).into_response())
}

fn or_dash(d: Option<NaiveDate>) -> String {
    d.map_or_else(|| "–".into(), date)
}

fn pupil_path(s: &str) -> Result<PupilId, WebError> {
    service::casework::pupil_id(s).ok_or_else(WebError::not_found)
}

fn yes_no(b: bool) -> &'static str {
    if b { "Yes" } else { "No" }
}

// ---- /casework ----

#[derive(Debug)]
struct CaseRow {
    id: CaseId,
    pupil: String,
    year: String,
    reason: &'static str,
    status: &'static str,
    tag: &'static str,
    mentor: String,
    review_due: String,
    warning: String,
}

#[derive(Debug)]
struct MentorRow {
    name: String,
    base: String,
    fte: String,
    open: u32,
    guidance: u32,
    warning: Option<String>,
}

#[derive(Debug)]
struct GtRow {
    pupil: String,
    pupil_id: PupilId,
    year: String,
    kind: &'static str,
    subject: String,
    reserve: bool,
    told: String,
    evidence: String,
}

#[derive(Debug)]
struct PlacementRow {
    pupil: String,
    pupil_id: PupilId,
    mode: String,
    period: String,
    status: &'static str,
    attendance: String,
    exclusions: String,
}

#[derive(Debug)]
struct TransitionRow {
    id: TransitionId,
    pupil: String,
    pupil_id: Option<PupilId>,
    direction: String,
    kind: &'static str,
    flags: String,
    acknowledged: String,
    may_acknowledge: bool,
}

#[derive(Debug)]
struct PupilRow {
    id: PupilId,
    name: String,
    year: String,
}

#[derive(Template)]
#[template(path = "casework_school.html")]
struct SchoolCaseworkPage {
    chrome: Chrome,
    school_name: String,
    synthetic: bool,
    strands: String,
    cases: Option<Vec<CaseRow>>,
    mentors: Vec<MentorRow>,
    gt: Option<Vec<GtRow>>,
    placements: Option<Vec<PlacementRow>>,
    transitions: Option<Vec<TransitionRow>>,
    pupils: Vec<PupilRow>,
    lsu_monitoring: Vec<RepresentationView>,
}

fn status_tag(s: CaseStatus) -> &'static str {
    match s {
        CaseStatus::Referred => "govuk-tag--blue",
        CaseStatus::Active => "govuk-tag--green",
        CaseStatus::Extended => "govuk-tag--yellow",
        CaseStatus::SignedOff => "govuk-tag--turquoise",
        CaseStatus::Disengaged => "govuk-tag--red",
        CaseStatus::Closed => "govuk-tag--grey",
    }
}

fn attendance(a: Option<u32>) -> String {
    a.map_or_else(|| "–".into(), |t| format!("{}.{}%", t / 10, t % 10))
}

fn placement_row(p: &LsuPlacement, name: String) -> PlacementRow {
    let measures = [Some(p.before), Some(p.during), p.after];
    PlacementRow {
        pupil: name,
        pupil_id: p.pupil,
        mode: p.mode.label(),
        period: format!("{} to {}", date(p.starts_on), date(p.planned_end)),
        status: if p.is_current() { "Current" } else { "Ended" },
        attendance: measures
            .iter()
            .map(|m| m.map_or_else(|| "–".into(), |m| attendance(m.attendance_tenths_pct)))
            .collect::<Vec<_>>()
            .join(" → "),
        exclusions: measures
            .iter()
            .map(|m| m.map_or_else(|| "–".into(), |m| m.exclusions.to_string()))
            .collect::<Vec<_>>()
            .join(" → "),
    }
}

fn receiving(t: &TransitionRecord) -> String {
    match &t.to {
        Receiving::School(u) => format!("URN {u}"),
        Receiving::Outside { name } => format!("{name} (outside the cluster: sent as a file)"),
    }
}

pub(crate) async fn home(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    match app.service.casework_home(&session.user).await? {
        CaseworkHome::Aggregates(a) => aggregates_page(&app, &session, *a).await,
        CaseworkHome::School(s) => {
            let name = |id: PupilId| s.pupil(id).map_or_else(|| id.to_string(), Pupil::full_name);
            let year = |id: PupilId| s.pupil(id).map_or_else(String::new, |p| p.year_group.to_string());
            let mentor_name = |c: &MentorCase| {
                c.mentor
                    .and_then(|m| s.mentors.iter().find(|l| l.mentor.id == m))
                    .map_or_else(|| "Not assigned".into(), |l| l.mentor.name.clone())
            };
            let cases = s.cases.as_ref().map(|cases| {
                let mut rows: Vec<&MentorCase> = cases.iter().collect();
                // Open cases first, then by review date.
                rows.sort_by_key(|c| (!c.status.is_open(), c.review_due, c.id));
                rows.into_iter()
                    .map(|c| CaseRow {
                        id: c.id,
                        pupil: name(c.pupil),
                        year: year(c.pupil),
                        reason: c.reason.label(),
                        status: c.status.label(),
                        tag: status_tag(c.status),
                        mentor: mentor_name(c),
                        review_due: or_dash(c.review_due),
                        warning: if c.review_overdue(s.today) {
                            "Review overdue".into()
                        } else if c.follow_up_overdue(s.today) {
                            "Follow-up overdue".into()
                        } else if c.status == CaseStatus::Referred {
                            "Plan not agreed".into()
                        } else {
                            String::new()
                        },
                    })
                    .collect()
            });
            let page = SchoolCaseworkPage {
                school_name: s.school_name.clone(),
                synthetic: s.synthetic,
                strands: app
                    .service
                    .strands_of(&session.user)
                    .await?
                    .iter()
                    .map(|x| x.label())
                    .collect::<Vec<_>>()
                    .join(", "),
                cases,
                mentors: s
                    .mentors
                    .iter()
                    .map(|l| MentorRow {
                        name: l.mentor.name.clone(),
                        base: match &l.mentor.base {
                            MentorBase::School(_) => "This school".into(),
                            MentorBase::Pool(p) => p.clone(),
                        },
                        fte: format!("{}.{}", l.mentor.fte_tenths / 10, l.mentor.fte_tenths % 10),
                        open: l.open_cases,
                        guidance: l.guidance,
                        warning: l.warning.clone(),
                    })
                    .collect(),
                gt: s.gt.as_ref().map(|g| {
                    g.iter()
                        .filter(|e| e.is_current())
                        .map(|e| GtRow {
                            pupil: name(e.pupil),
                            pupil_id: e.pupil,
                            year: e.year_group.to_string(),
                            kind: e.kind.label(),
                            subject: e.domain.clone(),
                            reserve: e.reserve,
                            told: or_dash(e.told_on),
                            evidence: String::new(),
                        })
                        .collect()
                }),
                placements: s
                    .placements
                    .as_ref()
                    .map(|p| p.iter().map(|p| placement_row(p, name(p.pupil))).collect()),
                transitions: s.transitions.as_ref().map(|t| {
                    t.iter()
                        .map(|t| {
                            let incoming = matches!(t.to, Receiving::School(u) if u == s.school);
                            TransitionRow {
                                id: t.id,
                                pupil: if incoming && s.pupil(t.pupil).is_none() {
                                    // The receiving school sees the pupil by pseudonymous id until they join.
                                    format!("Pupil {}", t.pupil)
                                } else {
                                    name(t.pupil)
                                },
                                pupil_id: s.pupil(t.pupil).map(|p| p.id),
                                direction: if incoming {
                                    format!("Joining from URN {}", t.from)
                                } else {
                                    format!("Leaving for {}", receiving(t))
                                },
                                kind: t.kind.label(),
                                flags: t.flags.iter().map(|f| f.label()).collect::<Vec<_>>().join("; "),
                                acknowledged: t
                                    .acknowledged
                                    .as_ref()
                                    .map_or_else(|| "Not yet".into(), |a| format!("{} by {}", date(a.on), a.by)),
                                may_acknowledge: s.may_acknowledge && incoming && t.acknowledged.is_none(),
                            }
                        })
                        .collect()
                }),
                lsu_monitoring: s.lsu_monitoring.as_deref().map_or_else(Vec::new, representation_views),
                pupils: s
                    .pupils
                    .iter()
                    .map(|p| PupilRow {
                        id: p.id,
                        name: p.full_name(),
                        year: p.year_group.to_string(),
                    })
                    .collect(),
                chrome: chrome(&app, &session, "/casework").await?,
            };
            render(&page)
        }
    }
}

// ---- aggregates ----

#[derive(Debug)]
struct TableView {
    caption: String,
    row_heading: &'static str,
    columns: Vec<&'static str>,
    rows: Vec<(String, Vec<String>, String)>,
    totals: Vec<String>,
    grand: String,
}

fn cell(c: Cell) -> String {
    match c {
        Cell::Shown(v) => int(v),
        Cell::Suppressed => "c".into(),
    }
}

fn table_view(t: &AggregateTable) -> TableView {
    TableView {
        caption: t.caption.clone(),
        row_heading: t.row_heading,
        columns: t.columns.clone(),
        rows: t
            .rows
            .iter()
            .zip(&t.table.cells)
            .zip(&t.table.row_totals)
            .map(|((label, cells), total)| (label.clone(), cells.iter().map(|c| cell(*c)).collect(), cell(*total)))
            .collect(),
        totals: t.table.column_totals.iter().map(|c| cell(*c)).collect(),
        grand: cell(t.table.grand_total),
    }
}

#[derive(Template)]
#[template(path = "casework_aggregates.html")]
struct AggregatesPage {
    chrome: Chrome,
    threshold: u64,
    synthetic: bool,
    tables: Vec<TableView>,
}

async fn aggregates_page(
    app: &AppState,
    session: &CurrentSession,
    a: service::casework::CaseworkAggregates,
) -> Result<Response, WebError> {
    render(&AggregatesPage {
        threshold: a.threshold,
        synthetic: a.synthetic,
        tables: vec![
            table_view(&a.by_cluster),
            table_view(&a.by_gender),
            table_view(&a.by_school),
        ],
        chrome: chrome(app, session, "/casework").await?,
    })
}

pub(crate) async fn aggregates(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    let a = app.service.casework_aggregates(&session.user).await?;
    aggregates_page(&app, &session, a).await
}

// ---- pupils ----

#[derive(Template)]
#[template(path = "casework_pupil.html")]
struct PupilPage {
    chrome: Chrome,
    id: PupilId,
    name: String,
    school_name: String,
    synthetic: bool,
    facts: Vec<(&'static str, String)>,
    gt: Option<Vec<GtRow>>,
    cases: Option<Vec<CaseRow>>,
    placements: Option<Vec<PlacementRow>>,
    transitions: Option<Vec<TransitionRow>>,
    flags: String,
    may_export_subject_access: bool,
    may_export_educational_record: bool,
    may_send_transition: bool,
    lsu_stages: Option<Vec<(usize, String)>>,
    current_placements: Vec<PlacementId>,
}

fn pupil_facts(p: &Pupil) -> Vec<(&'static str, String)> {
    let c = &p.characteristics;
    vec![
        ("Pseudonymous id", p.id.to_string()),
        ("UPN", p.upn.to_string()),
        ("Date of birth", date(p.date_of_birth)),
        ("Year group", p.year_group.to_string()),
        ("Gender", c.gender.label().into()),
        ("Ethnicity", c.ethnicity.label().into()),
        ("Free school meals", yes_no(c.fsm).into()),
        ("Special educational needs", c.sen.label().into()),
        ("English as an additional language", yes_no(c.eal).into()),
        ("Left the school", or_dash(p.left_on)),
    ]
}

pub(crate) async fn pupil(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let r = app.service.pupil_record(&session.user, pupil_path(&id)?).await?;
    let name = r.pupil.full_name();
    let page = PupilPage {
        id: r.pupil.id,
        school_name: r.school_name.clone(),
        synthetic: r.pupil.synthetic,
        facts: pupil_facts(&r.pupil),
        gt: r.gt.as_ref().map(|g| {
            g.iter()
                .map(|e| GtRow {
                    pupil: name.clone(),
                    pupil_id: e.pupil,
                    year: format!(
                        "{}/{:02} · {}",
                        e.academic_year,
                        (e.academic_year + 1) % 100,
                        e.year_group
                    ),
                    kind: e.kind.label(),
                    subject: e.domain.clone(),
                    reserve: e.reserve,
                    told: or_dash(e.told_on),
                    evidence: String::new(),
                })
                .collect()
        }),
        cases: r.cases.as_ref().map(|cases| {
            cases
                .iter()
                .map(|c| CaseRow {
                    id: c.id,
                    pupil: name.clone(),
                    year: date(c.referred_on),
                    reason: c.reason.label(),
                    status: c.status.label(),
                    tag: status_tag(c.status),
                    mentor: String::new(),
                    review_due: or_dash(c.review_due),
                    warning: String::new(),
                })
                .collect()
        }),
        placements: r
            .placements
            .as_ref()
            .map(|p| p.iter().map(|p| placement_row(p, name.clone())).collect()),
        transitions: r.transitions.as_ref().map(|t| {
            t.iter()
                .map(|t| TransitionRow {
                    id: t.id,
                    pupil: name.clone(),
                    pupil_id: Some(t.pupil),
                    direction: format!("To {}", receiving(t)),
                    kind: t.kind.label(),
                    flags: t.flags.iter().map(|f| f.label()).collect::<Vec<_>>().join("; "),
                    acknowledged: t
                        .acknowledged
                        .as_ref()
                        .map_or_else(|| "Not yet".into(), |a| format!("{} by {}", date(a.on), a.by)),
                    may_acknowledge: false,
                })
                .collect()
        }),
        flags: if r.flags.is_empty() {
            "None".into()
        } else {
            r.flags.iter().map(|f| f.label()).collect::<Vec<_>>().join("; ")
        },
        may_export_subject_access: r.may_export_subject_access,
        may_export_educational_record: r.may_export_educational_record,
        may_send_transition: r.may_send_transition,
        current_placements: match (&r.lsu_stages, &r.placements) {
            (Some(_), Some(p)) => p.iter().filter(|p| p.is_current()).map(|p| p.id).collect(),
            _ => Vec::new(),
        },
        lsu_stages: r
            .lsu_stages
            .as_ref()
            .map(|s| s.iter().enumerate().map(|(i, t)| (i + 1, t.clone())).collect()),
        name,
        chrome: chrome(&app, &session, "/casework").await?,
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "casework_pupil_new.html")]
struct NewPupilPage {
    chrome: Chrome,
    error: Option<String>,
    values: Vec<(&'static str, String)>,
    ethnicities: Vec<(&'static str, &'static str)>,
}

impl NewPupilPage {
    fn value(&self, name: &str) -> String {
        self.values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

fn ethnicities() -> Vec<(&'static str, &'static str)> {
    domain::casework::EthnicGroup::ALL
        .iter()
        .map(|e| (e.code(), e.label()))
        .collect()
}

pub(crate) async fn pupil_form(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    app.service
        .casework_permission(&session.user, Resource::PupilIdentity, Action::Write)
        .await?;
    render(&NewPupilPage {
        chrome: chrome(&app, &session, "/casework").await?,
        error: None,
        values: Vec::new(),
        ethnicities: ethnicities(),
    })
}

pub(crate) async fn add_pupil(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let f = Fields(form);
    f.csrf(&session)?;
    let input = domain::casework::PupilInput {
        upn: f.get("upn"),
        given_name: f.get("given_name"),
        family_name: f.get("family_name"),
        date_of_birth: f.get("date_of_birth"),
        year_group: f.get("year_group"),
        gender: f.get("gender"),
        ethnicity: f.get("ethnicity"),
        fsm: f.checked("fsm"),
        sen: f.get("sen"),
        eal: f.checked("eal"),
    };
    match app.service.add_pupil(&session.user, &input).await {
        Ok(id) => Ok(Redirect::to(&format!("/casework/pupils/{}", id.0)).into_response()),
        Err(ServiceError::Invalid(m) | ServiceError::Conflict(m)) => {
            let names = [
                "upn",
                "given_name",
                "family_name",
                "date_of_birth",
                "year_group",
                "gender",
                "ethnicity",
                "sen",
            ];
            let page = NewPupilPage {
                chrome: chrome(&app, &session, "/casework").await?,
                error: Some(m),
                values: names.iter().map(|n| (*n, f.get(n))).collect(),
                ethnicities: ethnicities(),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

// ---- mentor cases ----

#[derive(Template)]
#[template(path = "casework_case_new.html")]
struct NewCasePage {
    chrome: Chrome,
    error: Option<String>,
    pupils: Vec<(PupilId, String, bool)>,
    mentors: Vec<(i64, String)>,
    reasons: Vec<(&'static str, &'static str, bool)>,
    referred_by: String,
    note: String,
}

#[derive(Deserialize)]
pub(crate) struct NewCaseQuery {
    #[serde(default)]
    pupil: String,
}

async fn new_case_page(
    app: &AppState,
    session: &CurrentSession,
    selected: Option<PupilId>,
    f: Option<&Fields>,
    error: Option<String>,
) -> Result<NewCasePage, WebError> {
    let home = app.service.casework_home(&session.user).await?;
    let CaseworkHome::School(s) = home else {
        return Err(WebError::forbidden("Referrals are made by the pupil's own school."));
    };
    if s.cases.is_none() {
        return Err(WebError::forbidden(
            "Only the school's head and its learning mentors make mentor referrals.",
        ));
    }
    let reason = f.map(|f| f.get("reason")).unwrap_or_default();
    Ok(NewCasePage {
        error,
        pupils: s
            .pupils
            .iter()
            .map(|p| {
                (
                    p.id,
                    format!("{} ({})", p.full_name(), p.year_group),
                    Some(p.id) == selected,
                )
            })
            .collect(),
        mentors: s
            .mentors
            .iter()
            .map(|m| (m.mentor.id.0, m.mentor.name.clone()))
            .collect(),
        reasons: ReferralReason::ALL
            .iter()
            .map(|r| (r.code(), r.label(), r.code() == reason))
            .collect(),
        referred_by: f.map(|f| f.get("referred_by")).unwrap_or_default(),
        note: f.map(|f| f.get("note")).unwrap_or_default(),
        chrome: chrome(app, session, "/casework").await?,
    })
}

pub(crate) async fn case_form(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Query(q): Query<NewCaseQuery>,
) -> Result<Response, WebError> {
    let selected = service::casework::pupil_id(&q.pupil);
    render(&new_case_page(&app, &session, selected, None, None).await?)
}

pub(crate) async fn refer(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let f = Fields(form);
    f.csrf(&session)?;
    let pupil = service::casework::pupil_id(&f.get("pupil"));
    let input = ReferralInput {
        pupil: pupil.map_or(0, |p| p.0),
        mentor: f.get("mentor").parse().ok(),
        reason: f.get("reason"),
        referred_by: f.get("referred_by"),
        referred_on: f.get("referred_on"),
        note: f.get("note"),
    };
    match app.service.refer_to_mentor(&session.user, &input).await {
        Ok(id) => Ok(Redirect::to(&format!("/casework/cases/{}", id.0)).into_response()),
        Err(ServiceError::Invalid(m)) => {
            let page = new_case_page(&app, &session, pupil, Some(&f), Some(m)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
        }
        Err(ServiceError::NotFound(_)) if pupil.is_none() => {
            let page = new_case_page(&app, &session, None, Some(&f), Some("Choose the pupil to refer".into())).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "casework_case.html")]
struct CasePage {
    chrome: Chrome,
    id: CaseId,
    error: Option<String>,
    pupil: String,
    pupil_id: PupilId,
    year: String,
    status: &'static str,
    tag: &'static str,
    facts: Vec<(&'static str, String)>,
    referral_note: String,
    targets: Vec<String>,
    exit_strategy: String,
    sessions: Vec<(String, u32, String)>,
    total_minutes: u32,
    reviews: Vec<(String, &'static str, String)>,
    follow_up: Option<(String, &'static str, String)>,
    stage: &'static str,
    review_weeks: u32,
    warning: Option<&'static str>,
    synthetic: bool,
}

async fn case_page(
    app: &AppState,
    session: &CurrentSession,
    id: CaseId,
    error: Option<String>,
) -> Result<CasePage, WebError> {
    let v = app.service.mentor_case(&session.user, id).await?;
    let c = &v.case;
    let stage = match c.status {
        CaseStatus::Referred => "plan",
        CaseStatus::Active | CaseStatus::Extended => "review",
        CaseStatus::SignedOff => "follow-up",
        CaseStatus::Disengaged | CaseStatus::Closed => "closed",
    };
    Ok(CasePage {
        id: c.id,
        error,
        pupil: v.pupil.full_name(),
        pupil_id: v.pupil.id,
        year: v.pupil.year_group.to_string(),
        status: c.status.label(),
        tag: status_tag(c.status),
        facts: vec![
            ("Referred", format!("{} by {}", date(c.referred_on), c.referred_by)),
            ("Reason", c.reason.label().into()),
            (
                "Mentor",
                v.mentor
                    .as_ref()
                    .map_or_else(|| "Not assigned".into(), |m| m.name.clone()),
            ),
            ("Plan agreed", or_dash(c.plan_agreed_on)),
            ("Review due", or_dash(c.review_due)),
            ("Follow-up due", or_dash(c.follow_up_due)),
            ("Parents contacted", or_dash(c.parents_contacted_on)),
            ("Closed", or_dash(c.closed_on)),
        ],
        referral_note: c.referral_note.clone(),
        targets: c.targets.clone(),
        exit_strategy: c.exit_strategy.clone(),
        total_minutes: c.sessions.iter().map(|s| s.minutes).sum(),
        sessions: c
            .sessions
            .iter()
            .map(|s| (date(s.held_on), s.minutes, s.note.clone()))
            .collect(),
        reviews: c
            .reviews
            .iter()
            .map(|r| (date(r.held_on), r.outcome.label(), r.note.clone()))
            .collect(),
        follow_up: c.follow_up.as_ref().map(|f| {
            (
                date(f.done_on),
                if f.sustained {
                    "Improvement sustained"
                } else {
                    "Not sustained"
                },
                f.note.clone(),
            )
        }),
        stage,
        review_weeks: v.policy.review_after_weeks,
        warning: if c.review_overdue(v.today) {
            Some("The review is overdue.")
        } else if c.follow_up_overdue(v.today) {
            Some("The follow-up check is overdue.")
        } else {
            None
        },
        synthetic: v.pupil.synthetic,
        chrome: chrome(app, session, "/casework").await?,
    })
}

pub(crate) async fn case(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = service::casework::case_id(&id).ok_or_else(WebError::not_found)?;
    render(&case_page(&app, &session, id, None).await?)
}

/// Runs one step of a case and returns to the case page (or shows it with the error).
async fn case_step(
    app: AppState,
    session: CurrentSession,
    id: String,
    f: Fields,
    step: impl AsyncFnOnce(&AppState, &CurrentSession, CaseId, &Fields) -> Result<(), ServiceError>,
) -> Result<Response, WebError> {
    f.csrf(&session)?;
    let id = service::casework::case_id(&id).ok_or_else(WebError::not_found)?;
    match step(&app, &session, id, &f).await {
        Ok(()) => Ok(Redirect::to(&format!("/casework/cases/{}", id.0)).into_response()),
        Err(ServiceError::Invalid(m)) => {
            let page = case_page(&app, &session, id, Some(m)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn plan(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    case_step(app, session, id, Fields(form), async |app, s, id, f| {
        let input = PlanInput {
            targets: f.all("target"),
            exit_strategy: f.get("exit_strategy"),
            agreed_on: f.get("agreed_on"),
        };
        app.service.agree_case_plan(&s.user, id, &input).await
    })
    .await
}

pub(crate) async fn session_log(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    case_step(app, session, id, Fields(form), async |app, s, id, f| {
        let input = SessionInput {
            held_on: f.get("held_on"),
            minutes: f.get("minutes"),
            note: f.get("note"),
        };
        app.service.log_case_session(&s.user, id, &input).await
    })
    .await
}

pub(crate) async fn review(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    case_step(app, session, id, Fields(form), async |app, s, id, f| {
        let input = ReviewInput {
            held_on: f.get("held_on"),
            outcome: f.get("outcome"),
            note: f.get("note"),
            follow_up_on: f.get("follow_up_on"),
            parents_contacted_on: f.get("parents_contacted_on"),
        };
        app.service.review_case(&s.user, id, &input).await
    })
    .await
}

pub(crate) async fn follow_up(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    case_step(app, session, id, Fields(form), async |app, s, id, f| {
        let input = FollowUpInput {
            done_on: f.get("done_on"),
            sustained: f.get("sustained") == "yes",
            note: f.get("note"),
        };
        app.service.follow_up_case(&s.user, id, &input).await
    })
    .await
}

// ---- G&T register ----

#[derive(Debug)]
struct RepresentationView {
    group: &'static str,
    selected: String,
    school: String,
    ratio: String,
    p_value: String,
    verdict: &'static str,
    tag: &'static str,
}

fn representation_views(rows: &[domain::casework::representation::RepresentationRow]) -> Vec<RepresentationView> {
    rows.iter()
        .map(|r| RepresentationView {
            group: r.group.label(),
            selected: format!(
                "{} of {} ({})",
                r.selected,
                r.of,
                crate::format::share(u64::from(r.selected), u64::from(r.of))
            ),
            school: r
                .school_share
                .map_or_else(|| "–".into(), |s| format!("{:.1}%", s * 100.0)),
            ratio: r.ratio.map_or_else(|| "–".into(), |x| format!("{x:.2}")),
            p_value: r.p_value.map_or_else(
                || "–".into(),
                |p| if p < 0.001 { "< 0.001".into() } else { format!("{p:.3}") },
            ),
            verdict: r.verdict.label(),
            tag: match r.verdict {
                Verdict::Under | Verdict::Over => "govuk-tag--red",
                Verdict::InLine => "govuk-tag--green",
                Verdict::TooFewToJudge | Verdict::Unknown => "govuk-tag--grey",
            },
        })
        .collect()
}

#[derive(Debug)]
struct SummaryRow {
    year: String,
    cohort: u32,
    gifted: u32,
    target_gifted: u32,
    talented: u32,
    target_talented: u32,
    reserve: u32,
    not_told: u32,
}

#[derive(Template)]
#[template(path = "casework_gt.html")]
struct GtPage {
    chrome: Chrome,
    error: Option<String>,
    school_name: String,
    year: String,
    rows: Vec<GtRow>,
    summaries: Vec<SummaryRow>,
    representation: Vec<RepresentationView>,
    composition_note: String,
    pupils: Vec<(PupilId, String)>,
    evidence_kinds: Vec<(&'static str, &'static str)>,
    gifted_pct: String,
    talented_pct: String,
}

async fn gt_page(app: &AppState, session: &CurrentSession, error: Option<String>) -> Result<GtPage, WebError> {
    let v = app.service.gt_register(&session.user).await?;
    let tenths = |t: u32| format!("{}.{}", t / 10, t % 10);
    Ok(GtPage {
        error,
        school_name: v.school_name.clone(),
        year: format!("{}/{:02}", v.academic_year, (v.academic_year + 1) % 100),
        rows: v
            .entries
            .iter()
            .map(|(e, p)| GtRow {
                pupil: p.full_name(),
                pupil_id: p.id,
                year: e.year_group.to_string(),
                kind: e.kind.label(),
                subject: e.domain.clone(),
                reserve: e.reserve,
                told: or_dash(e.told_on),
                evidence: e.evidence.iter().map(|x| x.label()).collect::<Vec<_>>().join(", "),
            })
            .collect(),
        summaries: v
            .summaries
            .iter()
            .map(|(y, s)| SummaryRow {
                year: y.to_string(),
                cohort: s.cohort,
                gifted: s.gifted,
                target_gifted: s.target_gifted,
                talented: s.talented,
                target_talented: s.target_talented,
                reserve: s.reserve,
                not_told: s.not_told,
            })
            .collect(),
        representation: representation_views(&v.representation),
        composition_note: match &v.composition {
            Some((c, true)) => format!(
                "The school's composition ({} pupils) is a demo estimate from its census (synthetic).",
                int(u64::from(c.pupils))
            ),
            Some((c, false)) => format!("The school's composition: {} pupils.", int(u64::from(c.pupils))),
            None => "The school's composition is not recorded, so the check cannot be made.".into(),
        },
        pupils: v
            .pupils
            .iter()
            .map(|p| (p.id, format!("{} ({})", p.full_name(), p.year_group)))
            .collect(),
        evidence_kinds: Evidence::ALL.iter().map(|e| (e.code(), e.label())).collect(),
        gifted_pct: tenths(v.policy.gifted_tenths_pct),
        talented_pct: tenths(v.policy.talented_tenths_pct),
        chrome: chrome(app, session, "/casework").await?,
    })
}

pub(crate) async fn gt(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    render(&gt_page(&app, &session, None).await?)
}

pub(crate) async fn add_gt(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let f = Fields(form);
    f.csrf(&session)?;
    let input = GtEntryInput {
        pupil: service::casework::pupil_id(&f.get("pupil")).map_or(0, |p| p.0),
        kind: f.get("kind"),
        reserve: f.checked("reserve"),
        evidence: f.all("evidence"),
        subject: f.get("subject"),
        identified_on: f.get("identified_on"),
        told_on: f.get("told_on"),
        enrichment: f.get("enrichment"),
    };
    match app.service.add_gt_entry(&session.user, &input).await {
        Ok(_) => Ok(Redirect::to("/casework/gt").into_response()),
        Err(ServiceError::Invalid(m)) => {
            let page = gt_page(&app, &session, Some(m)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

// ---- LSU placements ----

fn measures(f: &Fields, period: &str) -> MeasuresInput {
    MeasuresInput {
        attendance: f.get(&format!("{period}_attendance")),
        exclusions: f.get(&format!("{period}_exclusions")),
        incidents: f.get(&format!("{period}_incidents")),
    }
}

pub(crate) async fn place_in_lsu(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let f = Fields(form);
    f.csrf(&session)?;
    let pupil = pupil_path(&id)?;
    let input = PlacementInput {
        referred_on: f.get("referred_on"),
        stages: f.all("stage"),
        starts_on: f.get("starts_on"),
        planned_end: f.get("planned_end"),
        sessions_per_week: f.get("sessions_per_week"),
        agreed_with_pupil: f.checked("agreed_with_pupil"),
        agreed_with_parent: f.checked("agreed_with_parent"),
        reintegration_plan: f.get("reintegration_plan"),
        supported_lessons: f.get("supported_lessons"),
        before: measures(&f, "before"),
    };
    app.service.add_lsu_placement(&session.user, pupil, &input).await?;
    Ok(Redirect::to(&format!("/casework/pupils/{}", pupil.0)).into_response())
}

pub(crate) async fn end_placement(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let f = Fields(form);
    f.csrf(&session)?;
    let id = id.parse().map(PlacementId).map_err(|_| WebError::not_found())?;
    let input = PlacementEndInput {
        ended_on: f.get("ended_on"),
        during: measures(&f, "during"),
        after: measures(&f, "after"),
    };
    app.service.end_lsu_placement(&session.user, id, &input).await?;
    Ok(Redirect::to("/casework#lsu").into_response())
}

// ---- transitions ----

pub(crate) async fn send_transition(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let f = Fields(form);
    f.csrf(&session)?;
    let pupil = pupil_path(&id)?;
    let input = TransitionInput {
        kind: f.get("kind"),
        to_urn: f.get("to_urn"),
        outside: f.get("outside"),
        note: f.get("note"),
    };
    app.service.send_transition(&session.user, pupil, &input).await?;
    Ok(Redirect::to(&format!("/casework/pupils/{}", pupil.0)).into_response())
}

pub(crate) async fn acknowledge_transition(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let f = Fields(form);
    f.csrf(&session)?;
    let id = id.parse().map(TransitionId).map_err(|_| WebError::not_found())?;
    app.service
        .acknowledge_transition(&session.user, id, &f.get("by"))
        .await?;
    Ok(Redirect::to("/casework").into_response())
}

fn attachment(body: String, content_type: &'static str, filename: String) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_DISPOSITION, crate::security::attachment(&filename));
    r
}

fn pupil_json(p: &Pupil) -> Value {
    let c = &p.characteristics;
    json!({
        "pseudonymous_id": p.id.to_string(),
        "school_urn": p.school.to_string(),
        "upn": p.upn.to_string(),
        "given_name": p.given_name,
        "family_name": p.family_name,
        "date_of_birth": p.date_of_birth.to_string(),
        "year_group": p.year_group.to_string(),
        "gender": c.gender.label(),
        "ethnicity": c.ethnicity.label(),
        "free_school_meals": c.fsm,
        "special_educational_needs": c.sen.label(),
        "english_additional_language": c.eal,
        "left_on": p.left_on.map(|d| d.to_string()),
        "synthetic": p.synthetic,
    })
}

fn transition_json(t: &TransitionRecord) -> Value {
    json!({
        "id": t.id.to_string(),
        "kind": t.kind.label(),
        "from_urn": t.from.to_string(),
        "to": receiving(t),
        "flags": t.flags.iter().map(|f| f.label()).collect::<Vec<_>>(),
        "note": t.note,
        "sent_on": t.sent_on.to_string(),
        "acknowledged_on": t.acknowledged.as_ref().map(|a| a.on.to_string()),
        "acknowledged_by": t.acknowledged.as_ref().map(|a| a.by.clone()),
    })
}

pub(crate) async fn transition_file(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = id
        .strip_suffix(".json")
        .unwrap_or(&id)
        .parse()
        .map(TransitionId)
        .map_err(|_| WebError::not_found())?;
    let t = app.service.transition_file(&session.user, id).await?;
    let body = json!({
        "format": "clusterwise-transition-record/1",
        "from_school": t.from_name,
        "pupil": pupil_json(&t.pupil),
        "record": transition_json(&t.record),
        "acknowledgement": "Please confirm receipt to the sending school, naming who received this record and when.",
    });
    Ok(attachment(
        serde_json::to_string_pretty(&body).unwrap_or_default(),
        "application/json",
        format!("transition-{}.json", t.record.id),
    ))
}

// ---- subject access and educational record ----

#[derive(Debug)]
struct Section {
    heading: String,
    rows: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "casework_export.html")]
struct ExportPage {
    chrome: Chrome,
    title: String,
    intro: &'static str,
    pupil: String,
    id: PupilId,
    json_href: String,
    sections: Vec<Section>,
}

fn case_rows(c: &MentorCase, with_notes: bool) -> Vec<(String, String)> {
    let mut rows = vec![
        (
            "Referred".into(),
            format!("{} by {}", date(c.referred_on), c.referred_by),
        ),
        ("Reason".into(), c.reason.label().into()),
        ("Status".into(), c.status.label().into()),
    ];
    if with_notes {
        rows.push(("Referral note".into(), c.referral_note.clone()));
        for (i, t) in c.targets.iter().enumerate() {
            rows.push((format!("Target {}", i + 1), t.clone()));
        }
        rows.push(("Exit strategy".into(), c.exit_strategy.clone()));
        for s in &c.sessions {
            rows.push((
                format!("Session {}", date(s.held_on)),
                format!("{} minutes. {}", s.minutes, s.note),
            ));
        }
        for r in &c.reviews {
            rows.push((
                format!("Review {}", date(r.held_on)),
                format!("{}. {}", r.outcome.label(), r.note),
            ));
        }
        if let Some(f) = &c.follow_up {
            rows.push((
                format!("Follow-up {}", date(f.done_on)),
                format!(
                    "{}. {}",
                    if f.sustained { "Sustained" } else { "Not sustained" },
                    f.note
                ),
            ));
        }
    } else if let Some(r) = c.reviews.last() {
        rows.push(("Outcome".into(), r.outcome.label().into()));
    }
    rows.push(("Closed".into(), or_dash(c.closed_on)));
    rows
}

fn placement_rows(p: &LsuPlacement) -> Vec<(String, String)> {
    let m = |x: Option<domain::casework::lsu::Measures>| {
        x.map_or_else(
            || "–".into(),
            |m| {
                format!(
                    "attendance {}, {} exclusions, {} incidents",
                    attendance(m.attendance_tenths_pct),
                    m.exclusions,
                    m.incidents
                )
            },
        )
    };
    vec![
        ("Referred".into(), date(p.referred_on)),
        (
            "Planned period".into(),
            format!("{} to {}", date(p.starts_on), date(p.planned_end)),
        ),
        ("Attendance mode".into(), p.mode.label()),
        (
            "Plan agreed with pupil and parent".into(),
            yes_no(p.agreed_with_pupil && p.agreed_with_parent).into(),
        ),
        ("Reintegration plan".into(), p.reintegration_plan.clone()),
        ("Supported lessons".into(), p.supported_lessons.to_string()),
        ("Before".into(), m(Some(p.before))),
        ("During".into(), m(Some(p.during))),
        ("After".into(), m(p.after)),
        ("Ended".into(), or_dash(p.ended_on)),
    ]
}

fn gt_rows(e: &domain::casework::gt::GtEntry) -> Vec<(String, String)> {
    vec![
        (
            "Year".into(),
            format!(
                "{}/{:02}, {}",
                e.academic_year,
                (e.academic_year + 1) % 100,
                e.year_group
            ),
        ),
        (
            "Kind".into(),
            format!("{}{}", e.kind.label(), if e.reserve { " (reserve list)" } else { "" }),
        ),
        ("Subject or domain".into(), e.domain.clone()),
        (
            "Evidence".into(),
            e.evidence.iter().map(|x| x.label()).collect::<Vec<_>>().join(", "),
        ),
        ("Identified".into(), date(e.identified_on)),
        ("Pupil and parents told".into(), or_dash(e.told_on)),
        ("Enrichment".into(), e.enrichment.join("; ")),
        ("Removed".into(), or_dash(e.removed_on)),
    ]
}

fn transition_rows(t: &TransitionRecord) -> Vec<(String, String)> {
    vec![
        ("Move".into(), t.kind.label().into()),
        ("To".into(), receiving(t)),
        (
            "Flags passed on".into(),
            t.flags.iter().map(|f| f.label()).collect::<Vec<_>>().join("; "),
        ),
        ("Note".into(), t.note.clone()),
        ("Sent".into(), date(t.sent_on)),
        (
            "Acknowledged".into(),
            t.acknowledged
                .as_ref()
                .map_or_else(|| "Not yet".into(), |a| format!("{} by {}", date(a.on), a.by)),
        ),
    ]
}

pub(crate) async fn subject_access(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    subject_access_as(app, session, pupil_path(&id)?, false).await
}

pub(crate) async fn subject_access_json(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    subject_access_as(app, session, pupil_path(&id)?, true).await
}

async fn subject_access_as(
    app: AppState,
    session: CurrentSession,
    id: PupilId,
    as_json: bool,
) -> Result<Response, WebError> {
    let sa = app.service.subject_access(&session.user, id).await?;
    if as_json {
        let body = json!({
            "format": "clusterwise-subject-access/1",
            "generated_at_unix": sa.generated_at,
            "school": sa.school_name,
            "pupil": pupil_json(&sa.pupil),
            "gifted_and_talented": sa.gt.iter().map(|e| json!({
                "id": e.id.to_string(), "academic_year": e.academic_year, "year_group": e.year_group.to_string(),
                "kind": e.kind.label(), "reserve": e.reserve, "subject": e.domain,
                "evidence": e.evidence.iter().map(|x| x.label()).collect::<Vec<_>>(),
                "identified_on": e.identified_on.to_string(), "told_on": e.told_on.map(|d| d.to_string()),
                "enrichment": e.enrichment, "removed_on": e.removed_on.map(|d| d.to_string()),
            })).collect::<Vec<_>>(),
            "mentor_cases": sa.cases.iter().map(|c| json!({
                "id": c.id.to_string(),
                "mentor": c.mentor.and_then(|m| sa.mentors.iter().find(|x| x.id == m)).map(|m| m.name.clone()),
                "referred_on": c.referred_on.to_string(), "referred_by": c.referred_by, "reason": c.reason.label(),
                "referral_note": c.referral_note, "targets": c.targets, "exit_strategy": c.exit_strategy,
                "plan_agreed_on": c.plan_agreed_on.map(|d| d.to_string()), "review_due": c.review_due.map(|d| d.to_string()),
                "sessions": c.sessions.iter().map(|s| json!({"held_on": s.held_on.to_string(), "minutes": s.minutes, "note": s.note})).collect::<Vec<_>>(),
                "reviews": c.reviews.iter().map(|r| json!({"held_on": r.held_on.to_string(), "outcome": r.outcome.label(), "note": r.note})).collect::<Vec<_>>(),
                "status": c.status.label(), "follow_up_due": c.follow_up_due.map(|d| d.to_string()),
                "follow_up": c.follow_up.as_ref().map(|f| json!({"done_on": f.done_on.to_string(), "sustained": f.sustained, "note": f.note})),
                "parents_contacted_on": c.parents_contacted_on.map(|d| d.to_string()), "closed_on": c.closed_on.map(|d| d.to_string()),
            })).collect::<Vec<_>>(),
            "lsu_placements": sa.placements.iter().map(|p| json!(placement_rows(p).into_iter().collect::<std::collections::BTreeMap<_, _>>())).collect::<Vec<_>>(),
            "transitions": sa.transitions.iter().map(transition_json).collect::<Vec<_>>(),
            "accesses": sa.accesses.iter().map(|e| json!({
                "at_unix": e.record.at, "by": e.record.user_email, "role": e.record.role,
                "action": e.record.action.code(), "what": e.record.resource.label(), "purpose": e.record.purpose,
                "outcome": e.record.outcome.code(),
            })).collect::<Vec<_>>(),
        });
        return Ok(attachment(
            serde_json::to_string_pretty(&body).unwrap_or_default(),
            "application/json",
            format!("subject-access-{}.json", sa.pupil.id),
        ));
    }
    let mut sections = vec![Section {
        heading: "Identity and characteristics".into(),
        rows: pupil_facts(&sa.pupil)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    }];
    sections.extend(sa.gt.iter().map(|e| Section {
        heading: format!("Gifted and talented register entry {}", e.id),
        rows: gt_rows(e),
    }));
    sections.extend(sa.cases.iter().map(|c| Section {
        heading: format!("Learning-mentor case {}", c.id),
        rows: case_rows(c, true),
    }));
    sections.extend(sa.placements.iter().map(|p| Section {
        heading: format!("Learning support unit placement {}", p.id),
        rows: placement_rows(p),
    }));
    sections.extend(sa.transitions.iter().map(|t| Section {
        heading: format!("Transition record {}", t.id),
        rows: transition_rows(t),
    }));
    sections.push(Section {
        heading: format!("Who has accessed these records ({})", int(sa.accesses.len() as u64)),
        rows: sa
            .accesses
            .iter()
            .map(|e| {
                (
                    format!("#{} · {}", e.seq, crate::casework::when(e.record.at)),
                    format!(
                        "{} ({}) · {} {} · {} · {}",
                        e.record.user_email,
                        e.record.role,
                        e.record.action.code(),
                        e.record.resource.label(),
                        e.record.purpose,
                        e.record.outcome.code()
                    ),
                )
            })
            .collect(),
    });
    render(&ExportPage {
        title: "Subject access: everything held".into(),
        intro: "Everything Clusterwise holds about this pupil, and every access to it. Give the pupil or parent this page (print it) or the JSON file.",
        pupil: sa.pupil.full_name(),
        id: sa.pupil.id,
        json_href: format!("/casework/pupils/{}/subject-access.json", sa.pupil.id.0),
        sections,
        chrome: chrome(&app, &session, "/casework").await?,
    })
}

pub(crate) async fn educational_record(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    educational_record_as(app, session, pupil_path(&id)?, false).await
}

pub(crate) async fn educational_record_json(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    educational_record_as(app, session, pupil_path(&id)?, true).await
}

async fn educational_record_as(
    app: AppState,
    session: CurrentSession,
    id: PupilId,
    as_json: bool,
) -> Result<Response, WebError> {
    let er = app.service.educational_record(&session.user, id).await?;
    let case_summary = |c: &service::casework::CaseSummary| {
        vec![
            ("Referred".to_string(), date(c.referred_on)),
            ("Reason".into(), c.reason.label().into()),
            ("Status".into(), c.status.label().into()),
            ("Outcome".into(), c.outcome.map_or("–", Outcome::label).into()),
            ("Closed".into(), or_dash(c.closed_on)),
        ]
    };
    if as_json {
        let body = json!({
            "format": "clusterwise-educational-record/1",
            "generated_at_unix": er.generated_at,
            "school": er.school_name,
            "pupil": pupil_json(&er.pupil),
            "gifted_and_talented": er.gt.iter().map(|e| json!(gt_rows(e).into_iter().collect::<std::collections::BTreeMap<_, _>>())).collect::<Vec<_>>(),
            "mentor_cases": er.cases.iter().map(|c| json!(case_summary(c).into_iter().collect::<std::collections::BTreeMap<_, _>>())).collect::<Vec<_>>(),
            "lsu_placements": er.placements.iter().map(|p| json!(placement_rows(p).into_iter().collect::<std::collections::BTreeMap<_, _>>())).collect::<Vec<_>>(),
            "transitions": er.transitions.iter().map(transition_json).collect::<Vec<_>>(),
        });
        return Ok(attachment(
            serde_json::to_string_pretty(&body).unwrap_or_default(),
            "application/json",
            format!("educational-record-{}.json", er.pupil.id),
        ));
    }
    let mut sections = vec![Section {
        heading: "Identity".into(),
        rows: pupil_facts(&er.pupil)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    }];
    sections.extend(er.gt.iter().map(|e| Section {
        heading: "Gifted and talented register".into(),
        rows: gt_rows(e),
    }));
    sections.extend(er.cases.iter().map(|c| Section {
        heading: "Learning-mentor support".into(),
        rows: case_summary(c),
    }));
    sections.extend(er.placements.iter().map(|p| Section {
        heading: "Learning support unit placement".into(),
        rows: placement_rows(p),
    }));
    sections.extend(er.transitions.iter().map(|t| Section {
        heading: "Transition".into(),
        rows: transition_rows(t),
    }));
    render(&ExportPage {
        title: "Educational record".into(),
        intro: "The pupil's educational record as held in Clusterwise: registers, support and transitions. Mentors' working notes are not part of it (they are in a subject access export).",
        pupil: er.pupil.full_name(),
        id: er.pupil.id,
        json_href: format!("/casework/pupils/{}/educational-record.json", er.pupil.id.0),
        sections,
        chrome: chrome(&app, &session, "/casework").await?,
    })
}

/// Unix seconds as a UTC date and time.
pub(crate) fn when(at: i64) -> String {
    let days = at.div_euclid(86_400);
    let secs = at.rem_euclid(86_400);
    let day = NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|d| d.checked_add_days(domain::Days::new(u64::try_from(days).unwrap_or(0))))
        .map_or_else(String::new, date);
    format!("{day} {:02}:{:02} UTC", secs / 3600, secs % 3600 / 60)
}

// ---- /privacy ----

#[derive(Debug)]
struct FieldRow {
    table: &'static str,
    field: &'static str,
    sensitivity: &'static str,
    purpose: &'static str,
    retention: String,
    readers: String,
}

/// One resource's row of the matrix: what each role may do with it.
#[derive(Debug)]
struct GrantRow {
    resource: String,
    cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "privacy_fields.html")]
struct FieldsPage {
    chrome: Chrome,
    fields: Vec<FieldRow>,
    roles: Vec<&'static str>,
    grants: Vec<GrantRow>,
    rules: Vec<(&'static str, String, &'static str)>,
}

/// How long a field is kept (the retention schedule says from when).
fn retention_text(kind: RecordKind) -> String {
    let r = domain::privacy::retention::rule(kind);
    format!("{} months ({} rule)", r.keep_months, kind.code().replace('_', " "))
}

/// The field inventory as Markdown rows (docs/PRIVACY.md holds the same; a test compares them).
#[cfg(test)]
fn field_inventory_markdown() -> String {
    let mut out = String::from(
        "| table | field | sensitivity | purpose | retention | who may read |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for f in FIELDS {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            f.table,
            f.field,
            f.sensitivity.label(),
            f.purpose,
            retention_text(f.retention),
            readers_text(f.resource)
        ));
    }
    out
}

fn readers_text(resource: domain::privacy::Resource) -> String {
    readers(resource)
        .iter()
        .map(|(role, scope)| format!("{} ({})", role.label(), scope.label()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) async fn fields(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    render(&FieldsPage {
        fields: FIELDS
            .iter()
            .map(|f| FieldRow {
                table: f.table,
                field: f.field,
                sensitivity: f.sensitivity.label(),
                purpose: f.purpose,
                retention: retention_text(f.retention),
                readers: readers_text(f.resource),
            })
            .collect(),
        roles: domain::access::UserRole::ALL.iter().map(|r| r.label()).collect(),
        grants: Resource::ALL
            .iter()
            .map(|resource| GrantRow {
                resource: {
                    let l = resource.label();
                    l.get(..1).map_or_else(String::new, str::to_uppercase) + l.get(1..).unwrap_or_default()
                },
                cells: domain::access::UserRole::ALL
                    .iter()
                    .map(|role| {
                        let mine: Vec<String> = MATRIX
                            .iter()
                            .filter(|g| g.role == *role && g.resource == *resource)
                            .map(|g| format!("{} ({})", g.action.code(), g.scope.label()))
                            .collect();
                        if mine.is_empty() { "–".into() } else { mine.join(", ") }
                    })
                    .collect(),
            })
            .collect(),
        rules: DEFAULT_RULES
            .iter()
            .map(|r| (r.kind.label(), format!("{} months", r.keep_months), r.from))
            .collect(),
        chrome: chrome(&app, &session, "/casework").await?,
    })
}

#[derive(Deserialize)]
pub(crate) struct AuditSearch {
    #[serde(default)]
    pupil: String,
    #[serde(default)]
    user: String,
}

#[derive(Debug)]
struct AuditRow {
    seq: u64,
    when: String,
    who: String,
    role: String,
    action: &'static str,
    resource: &'static str,
    pupil: String,
    school: String,
    purpose: String,
    outcome: &'static str,
    tag: &'static str,
    detail: String,
}

#[derive(Template)]
#[template(path = "privacy_audit.html")]
struct AuditPage {
    chrome: Chrome,
    pupil: String,
    user: String,
    intact: bool,
    chain: String,
    total: String,
    shown: String,
    rows: Vec<AuditRow>,
}

pub(crate) async fn audit(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Query(q): Query<AuditSearch>,
) -> Result<Response, WebError> {
    let pupil = if q.pupil.trim().is_empty() {
        None
    } else {
        Some(
            service::casework::pupil_id(q.pupil.trim().to_ascii_uppercase().as_str())
                .ok_or_else(|| WebError::bad_request("pupil: give the pseudonymous id, like P123"))?,
        )
    };
    let query = AuditQuery {
        pupil,
        user_email: Some(q.user.trim().to_string()).filter(|u| !u.is_empty()),
    };
    let v = app.service.audit_search(&session.user, &query).await?;
    const SHOWN: usize = 500;
    let (intact, chain) = match &v.chain {
        ChainStatus::Intact { entries, last_hash } => (
            true,
            format!(
                "All {} entries verified: every entry's hash covers the one before it. The latest hash is {}…",
                int(*entries),
                &last_hash[..16.min(last_hash.len())]
            ),
        ),
        ChainStatus::Broken { seq, why } => (false, format!("The chain is broken at entry {seq}: {}.", why.label())),
    };
    let shown = v.entries.len().min(SHOWN);
    render(&AuditPage {
        pupil: q.pupil,
        user: q.user,
        intact,
        chain,
        total: int(v.total),
        shown: if v.entries.len() > SHOWN {
            format!(
                "the latest {} of {} matching entries",
                int(SHOWN as u64),
                int(v.entries.len() as u64)
            )
        } else {
            format!("{} matching entries", int(shown as u64))
        },
        rows: v
            .entries
            .iter()
            .rev()
            .take(SHOWN)
            .map(|e| AuditRow {
                seq: e.seq,
                when: when(e.record.at),
                who: e.record.user_email.clone(),
                role: e.record.role.replace('_', " "),
                action: e.record.action.code(),
                resource: e.record.resource.label(),
                pupil: e.record.pupil.map_or_else(|| "–".into(), |p| p.to_string()),
                school: e.record.school.map_or_else(|| "–".into(), |u| u.to_string()),
                purpose: e.record.purpose.clone(),
                outcome: e.record.outcome.code(),
                tag: match e.record.outcome {
                    domain::privacy::audit::Outcome::Allowed => "govuk-tag--green",
                    domain::privacy::audit::Outcome::Refused => "govuk-tag--red",
                },
                detail: e.record.detail.clone(),
            })
            .collect(),
        chrome: chrome(&app, &session, "/casework").await?,
    })
}

#[derive(Template)]
#[template(path = "privacy_retention.html")]
struct RetentionPage {
    chrome: Chrome,
    rules: Vec<(&'static str, String, &'static str)>,
    report: Option<Vec<(&'static str, usize)>>,
    removed: Vec<(String, String, String, String)>,
}

fn retention_rules() -> Vec<(&'static str, String, &'static str)> {
    DEFAULT_RULES
        .iter()
        .map(|r| (r.kind.label(), format!("{} months", r.keep_months), r.from))
        .collect()
}

pub(crate) async fn retention_form(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    app.service
        .casework_permission(&session.user, Resource::Retention, Action::Delete)
        .await?;
    render(&RetentionPage {
        rules: retention_rules(),
        report: None,
        removed: Vec::new(),
        chrome: chrome(&app, &session, "/casework").await?,
    })
}

pub(crate) async fn run_retention(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    Fields(form).csrf(&session)?;
    let report = app.service.run_retention(&session.user).await?;
    render(&RetentionPage {
        rules: retention_rules(),
        report: Some(
            RecordKind::ALL
                .iter()
                .filter(|k| **k != RecordKind::AuditEntry)
                .map(|k| (k.label(), report.count(*k)))
                .collect(),
        ),
        removed: report
            .removed
            .iter()
            .map(|r| {
                (
                    r.kind.label().to_string(),
                    r.id.clone(),
                    r.school.to_string(),
                    date(r.event),
                )
            })
            .collect(),
        chrome: chrome(&app, &session, "/casework").await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/PRIVACY.md carries the same field inventory as the app (regenerate it from this
    /// function when a field changes).
    #[test]
    fn the_privacy_doc_lists_every_field_as_the_app_does() {
        let doc = include_str!("../../../docs/PRIVACY.md");
        let table = field_inventory_markdown();
        assert!(
            doc.contains(&table),
            "docs/PRIVACY.md's field inventory differs from the app's; it should be:\n{table}"
        );
    }

    #[test]
    fn times_read_as_utc() {
        assert_eq!(when(0), "1 January 1970 00:00 UTC");
        assert_eq!(when(1_700_000_000), "14 November 2023 22:13 UTC");
    }
}

//! Cluster budget monitoring: the host-school ledger by stream and phase and by school, the
//! journal (newest first, reversals shown), staff paid from cluster money with contracts past the
//! funding horizon flagged, the virement rules in force; forms to post an entry and to reverse one.
//! Every form carries a hidden idempotency key made when it is shown, so a double submit posts once.

use crate::AppState;
use crate::error::WebError;
use crate::format::date;
use crate::pages::chrome;
use crate::session::check_csrf;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use domain::NaiveDate;
use domain::funding::ledger::{Account, Approval, EntryId, EntryKind, ExceptionId, Fence, Holder, LedgerError, Side};
use domain::ids::{ClusterId, Urn};
use domain::money::Money;
use serde::Deserialize;
use service::auth::{CurrentSession, new_token};
use service::ledger::{JOURNAL_PAGE, LedgerFailure, LedgerView, PagedEntry, ReverseRequest, SimpleEntry};
use std::collections::HashMap;

fn cluster_id(id: &str) -> Result<ClusterId, WebError> {
    id.parse().map(ClusterId).map_err(|_| WebError::not_found())
}

/// School names by URN, for lines and rows.
fn names(view: &LedgerView) -> HashMap<Urn, String> {
    view.members.iter().cloned().collect()
}

fn holder_text(h: Holder, names: &HashMap<Urn, String>) -> String {
    match h {
        Holder::Central => "Central (the cluster)".into(),
        Holder::School(u) => names.get(&u).cloned().unwrap_or_else(|| format!("School {u}")),
    }
}

fn account_text(a: &Account, names: &HashMap<Urn, String>) -> String {
    match a.holder {
        Holder::Central => format!("{} · {}", a.label(), a.fence),
        h => format!("{} · {} · {}", a.label(), holder_text(h, names), a.fence),
    }
}

/// "primary:Gifted and talented": the phase code has no colon, so this splits cleanly.
fn fence_value(f: &Fence) -> String {
    format!("{}:{}", f.phase, f.stream)
}

fn parse_fence(v: &str) -> Option<Fence> {
    let (phase, stream) = v.split_once(':')?;
    Fence::new(stream, phase).ok()
}

fn parse_holder(v: &str) -> Option<Holder> {
    match v.trim() {
        "central" => Some(Holder::Central),
        u => Urn::parse(u).ok().map(Holder::School),
    }
}

fn holder_value(h: Holder) -> String {
    match h {
        Holder::Central => "central".into(),
        Holder::School(u) => u.to_string(),
    }
}

#[derive(Debug)]
pub(crate) struct FenceRow {
    stream: String,
    phase: String,
    received: String,
    central: String,
    allocated: String,
    committed: String,
    claims: String,
    spent: String,
    remaining: String,
    overspent: bool,
}

#[derive(Debug)]
pub(crate) struct SchoolRow {
    urn: Urn,
    name: String,
    fence: String,
    allocated: String,
    committed: String,
    claims: String,
    spent: String,
    remaining: String,
    overspent: bool,
}

#[derive(Debug)]
pub(crate) struct LineRow {
    side: &'static str,
    account: String,
    amount: String,
}

#[derive(Debug)]
pub(crate) struct JournalRow {
    seq: i64,
    date: String,
    kind: &'static str,
    memo: String,
    lines: Vec<LineRow>,
    total: String,
    posted_by: String,
    notes: Vec<String>,
    reversed: bool,
    reverse_href: Option<String>,
}

#[derive(Debug)]
pub(crate) struct StaffRow {
    post: String,
    school: String,
    fte: String,
    cost: String,
    fence: String,
    contract: String,
    horizon: String,
    past: bool,
}

#[derive(Debug)]
pub(crate) struct ExceptionRow {
    from: String,
    to: String,
    amount: String,
    reason: String,
    approver: String,
    approved_on: String,
    used: String,
}

#[derive(Template)]
#[template(path = "budget.html")]
struct BudgetPage {
    chrome: crate::pages::Chrome,
    /// "Entries 1 to 50 of 120, newest first." (empty when there are none).
    journal_shown: String,
    newer_href: Option<String>,
    older_href: Option<String>,
    id: ClusterId,
    name: String,
    synthetic: bool,
    notice: Option<String>,
    school_only: Option<String>,
    may_post: bool,
    may_record_exception: bool,
    may_record_staff: bool,
    sees_journal: bool,
    sees_staff: bool,
    sees_schools: bool,
    reconciles: bool,
    received: String,
    allocated: String,
    committed: String,
    spent: String,
    remaining: String,
    held: String,
    fences: Vec<FenceRow>,
    schools: Vec<SchoolRow>,
    journal: Vec<JournalRow>,
    staff: Vec<StaffRow>,
    base_rule: &'static str,
    rules: Vec<(String, String)>,
    exceptions: Vec<ExceptionRow>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct BudgetParams {
    /// Which page of the journal, from 1 (newest).
    page: Option<String>,
    posted: Option<String>,
    replayed: Option<String>,
    recorded: Option<String>,
}

fn money(m: Money) -> String {
    m.to_string()
}

fn journal_row(p: &PagedEntry, view: &LedgerView, names: &HashMap<Urn, String>) -> JournalRow {
    let e = &p.entry;
    let no = |id: EntryId, seq: Option<i64>| seq.map_or_else(|| format!("entry {id}"), |s| format!("no. {s}"));
    let mut notes = Vec::new();
    if let Some(r) = e.body.reverses {
        notes.push(format!("Reverses {}", no(r, p.reverses_seq)));
    }
    if let Some(r) = e.reversed_by {
        notes.push(format!("Reversed by {}", no(r, p.reversed_by_seq)));
    }
    if let Some(a) = &e.body.approval {
        notes.push(format!(
            "Approved beyond the allocation by {} on {}: {}",
            a.approver,
            date(a.approved_on),
            a.reason
        ));
    }
    if let Some(x) = e.body.exception {
        notes.push(format!("Under approved exception {x}"));
    }
    if e.body.joint_project {
        notes.push("Joint primary–secondary project".into());
    }
    let may_reverse = view.access.may_reverse(e.body.kind) && e.reversed_by.is_none();
    JournalRow {
        seq: e.seq,
        date: date(e.body.date),
        kind: e.body.kind.label(),
        memo: e.body.memo.clone(),
        lines: e
            .body
            .lines
            .iter()
            .map(|l| LineRow {
                side: match l.side {
                    Side::Debit => "Debit",
                    Side::Credit => "Credit",
                },
                account: account_text(&l.account, names),
                amount: money(l.amount),
            })
            .collect(),
        total: money(e.body.total()),
        posted_by: e.posted_by.clone(),
        notes,
        reversed: e.reversed_by.is_some(),
        reverse_href: may_reverse.then(|| format!("/clusters/{}/budget/entries/{}/reverse", view.cluster, e.id)),
    }
}

pub(crate) async fn page(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Query(params): Query<BudgetParams>,
) -> Result<Response, WebError> {
    let id = cluster_id(&id)?;
    let page_no = match params.page.as_deref() {
        None | Some("") => 1,
        Some(p) => p
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=1_000_000_000).contains(n))
            .ok_or_else(|| WebError::bad_request("page: a whole number from 1"))?,
    };
    let per_page = u64::from(JOURNAL_PAGE);
    let view = app
        .service
        .ledger_page(&session.user, id, (page_no - 1) * per_page, JOURNAL_PAGE)
        .await?;
    let names = names(&view);
    let shown = view.journal.len() as u64;
    let journal_shown = if shown == 0 {
        String::new()
    } else {
        format!(
            "Entries {} to {} of {}, newest first.",
            view.journal_offset + 1,
            view.journal_offset + shown,
            view.journal_total
        )
    };
    let page_href = |n: u64| format!("/clusters/{id}/budget?page={n}#journal");
    let newer_href = (page_no > 1).then(|| page_href(page_no - 1));
    let older_href = (view.journal_offset + shown < view.journal_total).then(|| page_href(page_no + 1));
    let notice = params
        .posted
        .as_deref()
        .and_then(|p| p.parse().ok())
        .and_then(|p: i64| {
            let e = &view.journal.iter().find(|e| e.entry.id == EntryId(p))?.entry;
            Some(if params.replayed.is_some() {
                format!(
                    "Entry no. {} had already been posted (the form was sent twice): nothing new was written.",
                    e.seq
                )
            } else {
                format!(
                    "Entry no. {} posted: {}, {}.",
                    e.seq,
                    e.body.kind.label().to_lowercase(),
                    money(e.body.total())
                )
            })
        });
    let notice = match params.recorded.as_deref() {
        Some("exception") => Some("The approved exception is recorded: one virement may now use it.".to_string()),
        Some("staff") => Some("The staff post is recorded.".to_string()),
        Some("horizon") => Some("The funding horizon is set.".to_string()),
        _ => notice,
    };
    let b = &view.budget;
    let fences = b
        .fences
        .iter()
        .map(|f| FenceRow {
            stream: f.fence.stream.clone(),
            phase: f.fence.phase_label(),
            received: money(f.received),
            central: money(f.central.remaining()),
            allocated: money(f.allocated_to_schools()),
            committed: money(f.committed()),
            claims: money(f.claims_due()),
            spent: money(f.spent()),
            remaining: money(f.remaining()),
            overspent: f.central.remaining().is_negative(),
        })
        .collect();
    let mut schools: Vec<SchoolRow> = view
        .schools
        .iter()
        .filter_map(|(fence, h)| match h.holder {
            Holder::School(urn) => Some(SchoolRow {
                urn,
                name: holder_text(h.holder, &names),
                fence: fence.to_string(),
                allocated: money(h.allocated()),
                committed: money(h.committed),
                claims: money(h.claims_due),
                spent: money(h.spent),
                remaining: money(h.remaining()),
                overspent: h.remaining().is_negative(),
            }),
            Holder::Central => None,
        })
        .collect();
    schools.sort_by(|a, b| (&a.name, &a.fence).cmp(&(&b.name, &b.fence)));
    let page = BudgetPage {
        id,
        name: view.cluster_name.clone(),
        synthetic: view.synthetic,
        notice,
        school_only: view.access.only_school.map(|u| holder_text(Holder::School(u), &names)),
        may_post: !view.access.may_post.is_empty(),
        may_record_exception: view.access.may_record_exception,
        may_record_staff: view.access.may_record_staff,
        sees_journal: view.access.sees_journal,
        sees_staff: view.access.sees_staff,
        sees_schools: view.access.sees_schools,
        reconciles: view.reconciles,
        received: money(b.received()),
        allocated: money(b.allocated_to_schools()),
        committed: money(b.committed()),
        spent: money(b.spent()),
        remaining: money(b.remaining()),
        held: money(b.held()),
        fences,
        schools,
        journal: view.journal.iter().map(|e| journal_row(e, &view, &names)).collect(),
        journal_shown,
        newer_href,
        older_href,
        staff: view
            .staff
            .iter()
            .map(|s| {
                let p = &s.post.post;
                StaffRow {
                    post: p.post.clone(),
                    school: p
                        .school
                        .map_or_else(|| "–".into(), |u| holder_text(Holder::School(u), &names)),
                    fte: format!("{}.{}", p.fte_tenths / 10, p.fte_tenths % 10),
                    cost: money(p.annual_cost),
                    fence: p.fence.to_string(),
                    contract: match p.contract_end {
                        Some(end) => format!("{} to {}", date(p.contract_start), date(end)),
                        None => format!("From {}, no end date", date(p.contract_start)),
                    },
                    horizon: date(s.horizon),
                    past: s.runs_past,
                }
            })
            .collect(),
        base_rule: domain::funding::virement::RING_FENCE_RULE,
        rules: view
            .rules
            .rules
            .iter()
            .map(|r| (r.name.clone(), r.permit.to_string()))
            .collect(),
        exceptions: view
            .exceptions
            .iter()
            .map(|x| ExceptionRow {
                from: x.exception.from.to_string(),
                to: x.exception.to.to_string(),
                amount: money(x.exception.amount),
                reason: x.exception.reason.clone(),
                approver: x.exception.approver.clone(),
                approved_on: date(x.exception.approved_on),
                used: x.used_by.map_or_else(
                    || "Not yet used".into(),
                    |e| {
                        view.used_seqs
                            .iter()
                            .find(|(id, _)| *id == e)
                            .map_or_else(|| format!("By entry {e}"), |(_, seq)| format!("By entry no. {seq}"))
                    },
                ),
            })
            .collect(),
        chrome: chrome(&app, &session, "/clusters").await?,
    };
    Ok(Html(page.render()?).into_response())
}

/// A choice in a select or a radio group.
#[derive(Debug)]
pub(crate) struct Choice {
    value: String,
    label: String,
    hint: &'static str,
    selected: bool,
}

/// The entry form's fields, as typed.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct EntryForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    fence: String,
    #[serde(default)]
    new_stream: String,
    #[serde(default)]
    new_phase: String,
    #[serde(default)]
    holder: String,
    #[serde(default)]
    to_fence: String,
    #[serde(default)]
    to_holder: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    memo: String,
    #[serde(default)]
    from_commitment: String,
    #[serde(default)]
    joint_project: String,
    #[serde(default)]
    exception: String,
    #[serde(default)]
    approver: String,
    #[serde(default)]
    approval_reason: String,
    #[serde(default)]
    approved_on: String,
}

#[derive(Template)]
#[template(path = "budget_entry.html")]
struct EntryPage {
    chrome: crate::pages::Chrome,
    id: ClusterId,
    name: String,
    key: String,
    kinds: Vec<Choice>,
    fences: Vec<Choice>,
    to_fences: Vec<Choice>,
    holders: Vec<Choice>,
    to_holders: Vec<Choice>,
    phases: Vec<Choice>,
    exceptions: Vec<Choice>,
    may_receive: bool,
    form: EntryForm,
    error: Option<(&'static str, String)>,
}

impl EntryPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

fn kind_hint(k: EntryKind) -> &'static str {
    match k {
        EntryKind::Receipt => "Money in from the authority, into the central pot of a stream and phase.",
        EntryKind::Allocation => "From the central pot to a school, within one stream and phase.",
        EntryKind::Commitment => "Set money aside for an order or contract before it is paid.",
        EntryKind::Payment => "Money out of the host school's bank, against a school's allocation or the central pot.",
        EntryKind::Claim => "A school has paid for cluster work itself and claims it back.",
        EntryKind::Reimbursement => "Paying a school what its approved claim is owed.",
        EntryKind::Virement => {
            "Moving money between schools or pots; across streams or phases only where a rule or an approved exception allows."
        }
        EntryKind::Reversal => "",
    }
}

/// Renders the entry form (fresh, or as typed with the error against its field).
async fn entry_page(
    app: &AppState,
    session: &CurrentSession,
    id: ClusterId,
    form: EntryForm,
    error: Option<(&'static str, String)>,
) -> Result<Response, WebError> {
    let view = app.service.ledger(&session.user, id).await?;
    if view.access.may_post.is_empty() {
        return Err(WebError::forbidden(format!(
            "A {} may not post entries to this cluster's ledger.",
            session.user.role.label().to_lowercase()
        )));
    }
    let names = names(&view);
    let fences: Vec<Fence> = view.budget.fences.iter().map(|f| f.fence.clone()).collect();
    let fence_choices = |selected: &str, blank: &'static str| -> Vec<Choice> {
        std::iter::once(Choice {
            value: String::new(),
            label: blank.into(),
            hint: "",
            selected: selected.is_empty(),
        })
        .chain(fences.iter().map(|f| {
            let v = fence_value(f);
            Choice {
                selected: v == selected,
                label: f.to_string(),
                value: v,
                hint: "",
            }
        }))
        .collect()
    };
    let holder_choices = |selected: &str, blank: Option<&'static str>| -> Vec<Choice> {
        blank
            .map(|b| Choice {
                value: String::new(),
                label: b.into(),
                hint: "",
                selected: selected.is_empty(),
            })
            .into_iter()
            .chain(
                std::iter::once(Holder::Central)
                    .chain(view.members.iter().map(|(u, _)| Holder::School(*u)))
                    .map(|h| {
                        let v = holder_value(h);
                        Choice {
                            selected: v == selected,
                            label: holder_text(h, &names),
                            value: v,
                            hint: "",
                        }
                    }),
            )
            .collect()
    };
    let page = EntryPage {
        id,
        name: view.cluster_name.clone(),
        key: if form.idempotency_key.is_empty() {
            new_token()
        } else {
            form.idempotency_key.clone()
        },
        kinds: view
            .access
            .may_post
            .iter()
            .map(|k| Choice {
                value: k.code().into(),
                label: k.label().into(),
                hint: kind_hint(*k),
                selected: form.kind == k.code() || (view.access.may_post.len() == 1 && form.kind.is_empty()),
            })
            .collect(),
        fences: fence_choices(&form.fence, "Choose a stream and phase"),
        to_fences: fence_choices(&form.to_fence, "The same stream and phase"),
        holders: holder_choices(&form.holder, None),
        to_holders: holder_choices(&form.to_holder, Some("Not needed")),
        phases: ["primary", "secondary", "special", "all"]
            .into_iter()
            .map(|p| Choice {
                value: p.into(),
                label: Fence {
                    stream: String::new(),
                    phase: p.into(),
                }
                .phase_label(),
                hint: "",
                selected: form.new_phase == p,
            })
            .collect(),
        exceptions: std::iter::once(Choice {
            value: String::new(),
            label: "None".into(),
            hint: "",
            selected: form.exception.is_empty(),
        })
        .chain(view.exceptions.iter().filter(|x| x.used_by.is_none()).map(|x| {
            let v = x.id.to_string();
            Choice {
                selected: v == form.exception,
                label: format!(
                    "{}: {} to {}, up to {}",
                    x.id, x.exception.from, x.exception.to, x.exception.amount
                ),
                value: v,
                hint: "",
            }
        }))
        .collect(),
        may_receive: view.access.may_post.contains(&EntryKind::Receipt),
        form: EntryForm {
            date: if form.date.is_empty() && error.is_none() {
                app.service.clock().today().to_string()
            } else {
                form.date.clone()
            },
            holder: if form.holder.is_empty() {
                "central".into()
            } else {
                form.holder.clone()
            },
            ..form
        },
        error,
        chrome: chrome(app, session, "/clusters").await?,
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Html(page.render()?)).into_response())
}

pub(crate) async fn entry_form(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = cluster_id(&id)?;
    entry_page(&app, &session, id, EntryForm::default(), None).await
}

fn parse_date(field: &'static str, label: &str, v: &str) -> Result<NaiveDate, (&'static str, String)> {
    NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
        .map_err(|_| (field, format!("{label} must be a real date written like 2026-11-30")))
}

fn parse_amount(v: &str) -> Result<Money, (&'static str, String)> {
    Money::parse(v).map_err(|_| {
        (
            "amount",
            "Amount must be an amount of money like £1,234.56 (rule positive-amounts)".into(),
        )
    })
}

/// The approval fields: all three, or none.
fn parse_approval(approver: &str, reason: &str, on: &str) -> Result<Option<Approval>, (&'static str, String)> {
    if approver.trim().is_empty() && reason.trim().is_empty() && on.trim().is_empty() {
        return Ok(None);
    }
    if approver.trim().is_empty() {
        return Err((
            "approver",
            "Approved by: enter who approved spending beyond the allocation".into(),
        ));
    }
    if reason.trim().is_empty() {
        return Err((
            "approval_reason",
            "Reason for the approval: enter why it was approved".into(),
        ));
    }
    Ok(Some(Approval {
        approver: approver.trim().into(),
        reason: reason.trim().into(),
        approved_on: parse_date("approved_on", "Approval date", on)?,
    }))
}

fn parse_entry(form: &EntryForm) -> Result<SimpleEntry, (&'static str, String)> {
    let kind = EntryKind::from_code(&form.kind)
        .filter(|k| *k != EntryKind::Reversal)
        .ok_or(("kind", "Kind of entry: choose what kind of entry this is".to_string()))?;
    let fence = if form.new_stream.trim().is_empty() {
        parse_fence(&form.fence).ok_or((
            "fence",
            "Stream and phase: choose the ring-fence the money is in".to_string(),
        ))?
    } else {
        Fence::new(&form.new_stream, &form.new_phase).map_err(|e| {
            let field = if e.field() == "phase" {
                "new_phase"
            } else {
                "new_stream"
            };
            (field, format!("New stream: {e}"))
        })?
    };
    let holder =
        parse_holder(&form.holder).ok_or(("holder", "From: choose the central pot or a school".to_string()))?;
    let to = match form.to_holder.trim() {
        "" => None,
        h => {
            let to_holder =
                parse_holder(h).ok_or(("to_holder", "To: choose the central pot or a school".to_string()))?;
            let to_fence = match form.to_fence.trim() {
                "" => fence.clone(),
                f => parse_fence(f).ok_or(("to_fence", "To stream and phase: choose one of the list".to_string()))?,
            };
            Some((to_fence, to_holder))
        }
    };
    let exception = match form.exception.trim() {
        "" => None,
        x => Some(ExceptionId(x.parse().map_err(|_| {
            ("exception", "Approved exception: choose one of the list".to_string())
        })?)),
    };
    Ok(SimpleEntry {
        idempotency_key: form.idempotency_key.clone(),
        kind,
        from: (fence, holder),
        to,
        amount: parse_amount(&form.amount)?,
        from_commitment: form.from_commitment == "yes",
        date: parse_date("date", "Date", &form.date)?,
        memo: form.memo.clone(),
        approval: parse_approval(&form.approver, &form.approval_reason, &form.approved_on)?,
        exception,
        joint_project: form.joint_project == "yes",
    })
}

/// The entry form's field for a rule the domain names.
fn entry_field(e: &LedgerError) -> &'static str {
    match e.field() {
        "from" => "holder",
        "to" => "to_fence",
        "approval" => "approver",
        "stream" => "new_stream",
        "phase" => "new_phase",
        "memo" => "memo",
        "date" => "date",
        "amount" => "amount",
        "exception" => "exception",
        "joint_project" => "joint_project",
        _ => "kind",
    }
}

pub(crate) async fn post_entry(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<EntryForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let id = cluster_id(&id)?;
    let entry = match parse_entry(&form) {
        Ok(e) => e,
        Err(error) => return entry_page(&app, &session, id, form, Some(error)).await,
    };
    match app.service.post_simple(&session.user, id, entry).await {
        Ok(posted) => Ok(redirect_posted(id, &posted)),
        Err(LedgerFailure::Rule(e)) => {
            let field = entry_field(&e);
            entry_page(&app, &session, id, form, Some((field, e.to_string()))).await
        }
        Err(LedgerFailure::Service(e)) => Err(e.into()),
    }
}

fn redirect_posted(id: ClusterId, posted: &service::ledger::Posted) -> Response {
    let replayed = if posted.replayed { "&replayed=yes" } else { "" };
    Redirect::to(&format!(
        "/clusters/{id}/budget?posted={}{replayed}#journal",
        posted.entry.id
    ))
    .into_response()
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ReverseForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    memo: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    approver: String,
    #[serde(default)]
    approval_reason: String,
    #[serde(default)]
    approved_on: String,
}

#[derive(Template)]
#[template(path = "budget_reverse.html")]
struct ReversePage {
    chrome: crate::pages::Chrome,
    id: ClusterId,
    name: String,
    entry: JournalRow,
    entry_id: EntryId,
    key: String,
    form: ReverseForm,
    error: Option<(&'static str, String)>,
}

impl ReversePage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

async fn reverse_page(
    app: &AppState,
    session: &CurrentSession,
    id: ClusterId,
    entry_id: EntryId,
    form: ReverseForm,
    error: Option<(&'static str, String)>,
) -> Result<Response, WebError> {
    let view = app.service.ledger(&session.user, id).await?;
    let entry = app.service.ledger_entry(&session.user, id, entry_id).await?;
    if !view.access.may_reverse(entry.entry.body.kind) {
        return Err(WebError::forbidden(format!(
            "A {} may not reverse this entry.",
            session.user.role.label().to_lowercase()
        )));
    }
    let names = names(&view);
    let page = ReversePage {
        id,
        name: view.cluster_name.clone(),
        entry: journal_row(&entry, &view, &names),
        entry_id,
        key: if form.idempotency_key.is_empty() {
            new_token()
        } else {
            form.idempotency_key.clone()
        },
        form: ReverseForm {
            date: if form.date.is_empty() && error.is_none() {
                app.service.clock().today().to_string()
            } else {
                form.date.clone()
            },
            ..form
        },
        error,
        chrome: chrome(app, session, "/clusters").await?,
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Html(page.render()?)).into_response())
}

fn entry_path(id: &str, entry: &str) -> Result<(ClusterId, EntryId), WebError> {
    Ok((
        cluster_id(id)?,
        EntryId(entry.parse().map_err(|_| WebError::not_found())?),
    ))
}

pub(crate) async fn reverse_form(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path((id, entry)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let (id, entry) = entry_path(&id, &entry)?;
    reverse_page(&app, &session, id, entry, ReverseForm::default(), None).await
}

pub(crate) async fn reverse(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path((id, entry)): Path<(String, String)>,
    Form(form): Form<ReverseForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let (id, entry) = entry_path(&id, &entry)?;
    let parsed = parse_date("date", "Date", &form.date).and_then(|d| {
        Ok((
            d,
            parse_approval(&form.approver, &form.approval_reason, &form.approved_on)?,
        ))
    });
    let (day, approval) = match parsed {
        Ok(p) => p,
        Err(error) => return reverse_page(&app, &session, id, entry, form, Some(error)).await,
    };
    let req = ReverseRequest {
        idempotency_key: form.idempotency_key.clone(),
        date: day,
        memo: form.memo.clone(),
        approval,
    };
    match app.service.reverse_entry(&session.user, id, entry, req).await {
        Ok(posted) => Ok(redirect_posted(id, &posted)),
        Err(LedgerFailure::Rule(e)) => {
            let field = match e.field() {
                "memo" => "memo",
                "date" => "date",
                "amount" | "approval" => "approver",
                _ => "memo",
            };
            reverse_page(&app, &session, id, entry, form, Some((field, e.to_string()))).await
        }
        Err(LedgerFailure::Service(e)) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ExceptionForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    from_fence: String,
    #[serde(default)]
    to_fence: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    approver: String,
    #[serde(default)]
    approved_on: String,
}

#[derive(Template)]
#[template(path = "budget_exception.html")]
struct ExceptionPage {
    chrome: crate::pages::Chrome,
    id: ClusterId,
    name: String,
    from_fences: Vec<Choice>,
    to_fences: Vec<Choice>,
    form: ExceptionForm,
    error: Option<(&'static str, String)>,
}

impl ExceptionPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

fn fence_choices(view: &LedgerView, selected: &str) -> Vec<Choice> {
    std::iter::once(Choice {
        value: String::new(),
        label: "Choose a stream and phase".into(),
        hint: "",
        selected: selected.is_empty(),
    })
    .chain(view.budget.fences.iter().map(|f| {
        let v = fence_value(&f.fence);
        Choice {
            selected: v == selected,
            label: f.fence.to_string(),
            value: v,
            hint: "",
        }
    }))
    .collect()
}

fn status_for(error: bool) -> StatusCode {
    if error {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

async fn exception_page(
    app: &AppState,
    session: &CurrentSession,
    id: ClusterId,
    form: ExceptionForm,
    error: Option<(&'static str, String)>,
) -> Result<Response, WebError> {
    let view = app.service.ledger(&session.user, id).await?;
    if !view.access.may_record_exception {
        return Err(WebError::forbidden(
            "Only an authority officer records an approved exception to a ring-fence.",
        ));
    }
    let page = ExceptionPage {
        id,
        name: view.cluster_name.clone(),
        from_fences: fence_choices(&view, &form.from_fence),
        to_fences: fence_choices(&view, &form.to_fence),
        form: ExceptionForm {
            approved_on: if form.approved_on.is_empty() && error.is_none() {
                app.service.clock().today().to_string()
            } else {
                form.approved_on.clone()
            },
            ..form
        },
        chrome: chrome(app, session, "/clusters").await?,
        error,
    };
    Ok((status_for(page.error.is_some()), Html(page.render()?)).into_response())
}

pub(crate) async fn exception_form(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = cluster_id(&id)?;
    exception_page(&app, &session, id, ExceptionForm::default(), None).await
}

pub(crate) async fn record_exception(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<ExceptionForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let id = cluster_id(&id)?;
    let parsed = (|| {
        let from = parse_fence(&form.from_fence)
            .ok_or(("from_fence", "From: choose the ring-fence the money leaves".to_string()))?;
        let to = parse_fence(&form.to_fence)
            .ok_or(("to_fence", "To: choose the ring-fence the money goes to".to_string()))?;
        Ok::<_, (&'static str, String)>(domain::funding::virement::NewException {
            from,
            to,
            amount: parse_amount(&form.amount)?,
            reason: form.reason.trim().into(),
            approver: form.approver.trim().into(),
            approved_on: parse_date("approved_on", "Date of the approval", &form.approved_on)?,
        })
    })();
    let exception = match parsed {
        Ok(x) => x,
        Err(error) => return exception_page(&app, &session, id, form, Some(error)).await,
    };
    match app.service.record_exception(&session.user, id, &exception).await {
        Ok(_) => Ok(Redirect::to(&format!("/clusters/{id}/budget?recorded=exception")).into_response()),
        Err(LedgerFailure::Rule(e)) => {
            let field = match e.field() {
                "to" => "to_fence",
                "amount" => "amount",
                "reason" => "reason",
                _ => "approver",
            };
            exception_page(&app, &session, id, form, Some((field, e.to_string()))).await
        }
        Err(LedgerFailure::Service(e)) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct StaffForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    post: String,
    #[serde(default)]
    school: String,
    #[serde(default)]
    fte: String,
    #[serde(default)]
    annual_cost: String,
    #[serde(default)]
    fence: String,
    #[serde(default)]
    contract_start: String,
    #[serde(default)]
    contract_end: String,
    #[serde(default)]
    stream: String,
    #[serde(default)]
    ends_on: String,
}

#[derive(Template)]
#[template(path = "budget_staff.html")]
struct StaffPage {
    chrome: crate::pages::Chrome,
    id: ClusterId,
    name: String,
    schools: Vec<Choice>,
    fences: Vec<Choice>,
    streams: Vec<Choice>,
    horizons: Vec<(String, String)>,
    default_horizon: String,
    form: StaffForm,
    error: Option<(&'static str, String)>,
}

impl StaffPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

async fn staff_page(
    app: &AppState,
    session: &CurrentSession,
    id: ClusterId,
    form: StaffForm,
    error: Option<(&'static str, String)>,
) -> Result<Response, WebError> {
    let view = app.service.ledger(&session.user, id).await?;
    if !view.access.may_record_staff {
        return Err(WebError::forbidden(
            "Only the cluster's own chair or clerk records staff paid from cluster money.",
        ));
    }
    let mut streams: Vec<String> = view.budget.fences.iter().map(|f| f.fence.stream.clone()).collect();
    streams.dedup();
    let page = StaffPage {
        id,
        name: view.cluster_name.clone(),
        schools: std::iter::once(Choice {
            value: String::new(),
            label: "Not based at one school".into(),
            hint: "",
            selected: form.school.is_empty(),
        })
        .chain(view.members.iter().map(|(u, n)| Choice {
            value: u.to_string(),
            label: n.clone(),
            hint: "",
            selected: form.school == u.to_string(),
        }))
        .collect(),
        fences: fence_choices(&view, &form.fence),
        streams: streams
            .into_iter()
            .map(|s| Choice {
                selected: s == form.stream,
                label: s.clone(),
                value: s,
                hint: "",
            })
            .collect(),
        horizons: view.horizons.iter().map(|(s, d)| (s.clone(), date(*d))).collect(),
        default_horizon: date(view.default_horizon),
        form,
        chrome: chrome(app, session, "/clusters").await?,
        error,
    };
    Ok((status_for(page.error.is_some()), Html(page.render()?)).into_response())
}

pub(crate) async fn staff_form(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = cluster_id(&id)?;
    staff_page(&app, &session, id, StaffForm::default(), None).await
}

pub(crate) async fn record_staff(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<StaffForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let id = cluster_id(&id)?;
    let parsed = (|| {
        let fence = parse_fence(&form.fence).ok_or(("fence", "Paid from: choose the stream and phase".to_string()))?;
        let school = match form.school.trim() {
            "" => None,
            u => Some(Urn::parse(u).map_err(|_| ("school", "Based at: choose a school of the list".to_string()))?),
        };
        let fte = domain::school::Tenths::parse(&form.fte)
            .and_then(|t| u32::try_from(t.0).ok())
            .ok_or(("fte", "FTE must be a number like 1.0 or 0.5".to_string()))?;
        let annual_cost = Money::parse(&form.annual_cost).map_err(|_| {
            (
                "annual_cost",
                "Annual cost must be an amount of money like £26,000.00".to_string(),
            )
        })?;
        let contract_end = match form.contract_end.trim() {
            "" => None,
            d => Some(parse_date("contract_end", "Contract end", d)?),
        };
        Ok::<_, (&'static str, String)>(domain::funding::ledger::NewStaffPost {
            post: form.post.trim().into(),
            school,
            fte_tenths: fte,
            annual_cost,
            fence,
            contract_start: parse_date("contract_start", "Contract start", &form.contract_start)?,
            contract_end,
        })
    })();
    let post = match parsed {
        Ok(p) => p,
        Err(error) => return staff_page(&app, &session, id, form, Some(error)).await,
    };
    match app.service.record_staff_post(&session.user, id, &post).await {
        Ok(_) => Ok(Redirect::to(&format!("/clusters/{id}/budget?recorded=staff")).into_response()),
        Err(LedgerFailure::Rule(e)) => {
            let field = match e.field() {
                "post" => "post",
                "fte" => "fte",
                "annual_cost" => "annual_cost",
                "contract_end" => "contract_end",
                _ => "school",
            };
            staff_page(&app, &session, id, form, Some((field, e.to_string()))).await
        }
        Err(LedgerFailure::Service(e)) => Err(e.into()),
    }
}

pub(crate) async fn set_horizon(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
    Form(form): Form<StaffForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let id = cluster_id(&id)?;
    if form.stream.trim().is_empty() {
        let error = ("stream", "Stream: choose the stream whose horizon this is".to_string());
        return staff_page(&app, &session, id, form, Some(error)).await;
    }
    let ends_on = match parse_date("ends_on", "Funding horizon", &form.ends_on) {
        Ok(d) => d,
        Err(error) => return staff_page(&app, &session, id, form, Some(error)).await,
    };
    match app.service.set_horizon(&session.user, id, &form.stream, ends_on).await {
        Ok(()) => Ok(Redirect::to(&format!("/clusters/{id}/budget?recorded=horizon")).into_response()),
        Err(service::ServiceError::Invalid(m)) => staff_page(&app, &session, id, form, Some(("stream", m))).await,
        Err(e) => Err(e.into()),
    }
}

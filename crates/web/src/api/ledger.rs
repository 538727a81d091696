//! `/api/v1/clusters/{id}/ledger…`: post entries (idempotent by `Idempotency-Key`), read the
//! balances by account and the journal with its keys. The rules are the service's and the
//! domain's (`service::ledger`); this file only translates JSON.

use super::{ApiError, ApiUser, JsonBody, json, ok, path_id};
use crate::AppState;
use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use domain::NaiveDate;
use domain::funding::ledger::{
    Account, AccountKind, Approval, Entry, EntryId, EntryKind, ExceptionId, Fence, Holder, HolderPosition, LedgerError,
    Line, NewEntry, Side,
};
use domain::ids::{ClusterId, Urn};
use domain::money::Money;
use serde::Deserialize;
use serde_json::{Value, json as j};
use service::ledger::{LedgerFailure, PostRequest};

/// A posting's body: `service::ledger::PostRequest`'s entry, field for field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntryBody {
    kind: String,
    date: String,
    memo: String,
    lines: Vec<LineBody>,
    #[serde(default)]
    approval: Option<ApprovalBody>,
    #[serde(default)]
    exception: Option<i64>,
    #[serde(default)]
    joint_project: bool,
    #[serde(default)]
    reverses: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineBody {
    account: String,
    stream: String,
    phase: String,
    holder: String,
    side: String,
    amount_pence: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalBody {
    approver: String,
    reason: String,
    approved_on: String,
}

fn date(field: &str, s: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2100).contains(&domain::Datelike::year(d)))
        .ok_or_else(|| ApiError::invalid(field, "a date like 2026-09-01 (years 2000 to 2100)"))
}

/// Exactly six digits, nothing around them (the API is strict where a form would trim).
pub(crate) fn six_digits(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

fn holder(field: &str, s: &str) -> Result<Holder, ApiError> {
    if s == "central" {
        return Ok(Holder::Central);
    }
    Some(s)
        .filter(|s| six_digits(s))
        .ok_or(())
        .and_then(|s| Urn::parse(s).map_err(|_| ()))
        .map(Holder::School)
        .map_err(|_| ApiError::invalid(field, "\"central\" or a member school's 6-digit URN"))
}

fn holder_code(h: Holder) -> String {
    match h {
        Holder::Central => "central".into(),
        Holder::School(u) => u.to_string(),
    }
}

impl EntryBody {
    fn into_entry(self) -> Result<NewEntry, ApiError> {
        let kind = EntryKind::from_code(&self.kind).ok_or_else(|| {
            ApiError::invalid(
                "kind",
                format!("one of {}", EntryKind::ALL.map(|k| k.code()).join(", ")),
            )
        })?;
        let mut lines = Vec::with_capacity(self.lines.len());
        for (i, l) in self.lines.into_iter().enumerate() {
            let f = |name: &str| format!("lines[{i}].{name}");
            let account = AccountKind::from_code(&l.account).ok_or_else(|| {
                ApiError::invalid(
                    f("account"),
                    format!("one of {}", AccountKind::ALL.map(|k| k.code()).join(", ")),
                )
            })?;
            if l.stream.trim() != l.stream {
                return Err(ApiError::invalid(f("stream"), "no spaces at the start or end"));
            }
            if l.phase.trim() != l.phase {
                return Err(ApiError::invalid(f("phase"), "no spaces at the start or end"));
            }
            let fence = Fence::new(&l.stream, &l.phase).map_err(|e| match e {
                LedgerError::Phase { .. } => ApiError::invalid(f("phase"), e.to_string()),
                _ => ApiError::invalid(f("stream"), e.to_string()),
            })?;
            let side = Side::from_code(&l.side).ok_or_else(|| ApiError::invalid(f("side"), "debit or credit"))?;
            lines.push(Line {
                account: Account::new(account, &fence, holder(&f("holder"), &l.holder)?),
                side,
                amount: Money::from_pence(l.amount_pence),
            });
        }
        let approval = match self.approval {
            Some(a) => Some(Approval {
                approved_on: date("approval.approved_on", &a.approved_on)?,
                approver: a.approver,
                reason: a.reason,
            }),
            None => None,
        };
        Ok(NewEntry {
            kind,
            date: date("date", &self.date)?,
            memo: self.memo,
            lines,
            approval,
            exception: self.exception.map(ExceptionId),
            joint_project: self.joint_project,
            reverses: self.reverses.map(EntryId),
        })
    }
}

/// The JSON field a ledger rule concerns.
fn rule_field(e: &LedgerError) -> &'static str {
    match e.field() {
        "amount" | "from" | "to" | "stream" | "phase" => "lines",
        "entry" => "reverses",
        f => f,
    }
}

fn line_json(l: &Line) -> Value {
    j!({
        "account": l.account.kind.code(),
        "stream": l.account.fence.stream,
        "phase": l.account.fence.phase,
        "holder": holder_code(l.account.holder),
        "side": l.side.code(),
        "amount_pence": l.amount.pence(),
    })
}

pub(crate) fn entry_json(e: &Entry, key: Option<&str>) -> Value {
    let b = &e.body;
    j!({
        "id": e.id.0,
        "seq": e.seq,
        "idempotency_key": key,
        "kind": b.kind.code(),
        "date": b.date.to_string(),
        "memo": b.memo,
        "lines": b.lines.iter().map(line_json).collect::<Vec<_>>(),
        "total_pence": b.total().pence(),
        "approval": b.approval.as_ref().map(|a| j!({
            "approver": a.approver, "reason": a.reason, "approved_on": a.approved_on.to_string(),
        })),
        "exception": b.exception.map(|x| x.0),
        "joint_project": b.joint_project,
        "reverses": b.reverses.map(|x| x.0),
        "reversed_by": e.reversed_by.map(|x| x.0),
        "posted_by": e.posted_by,
        "posted_at": e.posted_at,
    })
}

fn key_from(headers: &HeaderMap) -> Result<String, ApiError> {
    let rule = "8 to 100 letters, digits, '-', '_', '.' or ':', unique to the posting";
    let key = headers
        .get("idempotency-key")
        .ok_or_else(|| ApiError::invalid("Idempotency-Key", format!("send this header: {rule}")))?
        .to_str()
        .map_err(|_| ApiError::invalid("Idempotency-Key", rule))?;
    let ok = (8..=100).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(key.to_string())
    } else {
        Err(ApiError::invalid("Idempotency-Key", rule))
    }
}

/// `POST /api/v1/clusters/{id}/ledger/entries`: 201 posted, 200 replayed, 409 key reused with
/// other content, 422 a field or rule broken, 403/404 as the budget pages.
pub(crate) async fn post_entry(
    State(app): State<AppState>,
    Extension(ApiUser(user)): Extension<ApiUser>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<JsonBody<EntryBody>, ApiError>,
) -> Result<Response, ApiError> {
    let cluster = ClusterId(path_id(&id)?);
    // Who may post is judged before what they sent.
    app.service.may_post_to_ledger(&user, cluster).await?;
    let key = key_from(&headers)?;
    let JsonBody(body) = body?;
    let entry = body.into_entry()?;
    let posted = app
        .service
        .post_entry(
            &user,
            cluster,
            PostRequest {
                idempotency_key: key.clone(),
                entry,
            },
        )
        .await
        .map_err(|f| match f {
            LedgerFailure::Rule(e) => ApiError::invalid(rule_field(&e), e.to_string()),
            LedgerFailure::Service(e) => e.into(),
        })?;
    let status = if posted.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json(
        status,
        &j!({
            "id": posted.entry.id.0,
            "seq": posted.entry.seq,
            "replayed": posted.replayed,
            "entry": entry_json(&posted.entry, Some(&key)),
        }),
    ))
}

fn position_json(p: &HolderPosition) -> Value {
    j!({
        "holder": holder_code(p.holder),
        "available_pence": p.available.pence(),
        "committed_pence": p.committed.pence(),
        "claims_due_pence": p.claims_due.pence(),
        "spent_pence": p.spent.pence(),
    })
}

/// `GET /api/v1/clusters/{id}/ledger`: the journal's length, every visible account's balance,
/// the sum of all balances (0 when it balances) and the budget by ring-fence.
pub(crate) async fn ledger(
    State(app): State<AppState>,
    Extension(ApiUser(user)): Extension<ApiUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cluster = ClusterId(path_id(&id)?);
    let l = app.service.keyed_ledger(&user, cluster).await?;
    let v = &l.view;
    Ok(ok(&j!({
        "cluster": { "id": v.cluster.0, "name": v.cluster_name },
        "entries": l.entries,
        "sum_pence": l.sum_pence,
        "balanced": l.sum_pence == 0,
        "reconciles": v.reconciles,
        "accounts": l.accounts.iter().map(|(a, pence)| j!({
            "account": a.kind.code(),
            "stream": a.fence.stream,
            "phase": a.fence.phase,
            "holder": holder_code(a.holder),
            "balance_pence": pence,
        })).collect::<Vec<_>>(),
        "fences": v.budget.fences.iter().map(|f| j!({
            "stream": f.fence.stream,
            "phase": f.fence.phase,
            "received_pence": f.received.pence(),
            "allocated_to_schools_pence": f.allocated_to_schools().pence(),
            "committed_pence": f.committed().pence(),
            "spent_pence": f.spent().pence(),
            "remaining_pence": f.remaining().pence(),
        })).collect::<Vec<_>>(),
        "positions": v.schools.iter().map(|(f, p)| {
            let mut x = position_json(p);
            x["stream"] = Value::from(f.stream.clone());
            x["phase"] = Value::from(f.phase.clone());
            x
        }).collect::<Vec<_>>(),
        "synthetic": v.synthetic,
    })))
}

/// `GET /api/v1/clusters/{id}/ledger/entries[?key=K][&limit=N&offset=M]`: the journal in order
/// with each entry's idempotency key (a school's head or governor sees only its school's lines;
/// an evaluator no entries).
pub(crate) async fn entries(
    State(app): State<AppState>,
    Extension(ApiUser(user)): Extension<ApiUser>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let cluster = ClusterId(path_id(&id)?);
    let q = super::register::Params::parse(query.as_deref(), &["key", "limit", "offset"])?;
    let key = q.text("key", 100)?;
    let limit = q.int("limit", 1, 10_000)?.unwrap_or(1_000);
    let offset = q.int("offset", 0, i64::MAX)?.unwrap_or(0);
    let offset = u64::try_from(offset).unwrap_or(0);
    let limit = u32::try_from(limit).unwrap_or(1_000);
    let found = app.service.journal_entries(&user, cluster, key, offset, limit).await?;
    let total = found.total;
    let page: Vec<Value> = found
        .entries
        .iter()
        .map(|e| entry_json(&e.entry, Some(e.key.as_str())))
        .collect();
    Ok(ok(&j!({ "total": total, "entries": page })))
}

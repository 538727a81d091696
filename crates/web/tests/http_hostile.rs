//! Hostile input over HTTP, across every route of the router (read from its source, as the
//! authorisation matrix in http_casework.rs does), on the Norfolk demo whose school names carry
//! script and spreadsheet formulas.
//!
//! The big test crawls every page as each of the eight demo roles, finds every form the pages
//! offer, and then: posts each one without and with a wrong CSRF token (403); posts each POST
//! route over the size limit, declared and streamed (413, before the body is read); fills every
//! text field of every form with a payload that is at once script and a formula, and posts it;
//! sends SQL metacharacters in every search and filter parameter; crawls again; and replays
//! every address each role found as every other role. Every reply on the way is checked for the
//! security headers, cookie flags, raw script, stack traces and SQL errors, a safe download name,
//! defused CSV cells and, on error pages, pupils' names. Fields are found from the pages and the
//! handlers' `Query` structs, so a new field or route is covered (or the test names it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use service::{Clock, Service, SystemClock};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use support::{Reply, csrf_in, get, post_form, send};

const NORFOLK: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/real/norfolk_schools_spc_2022_23.csv"
));
const ROLES: [&str; 8] = [
    "officer",
    "adviser",
    "evaluator",
    "dpo",
    "clerk",
    "head",
    "governor",
    "mentor",
];
/// The raw form of every script payload: it must never reach a page unescaped.
const RAW_SCRIPT: &str = "<script>alert(";
/// The size limit of the router the oversized requests are sent to.
const LIMIT: usize = 16 * 1024;

/// A payload that is script, a formula and SQL at once, numbered so a stored one can be traced
/// back to its field.
fn payload(n: usize) -> String {
    format!("=1+1'--\"><script>alert({n})</script>")
}

/// The census with every twentieth school renamed to carry script and a formula, in turn each
/// prefix OWASP names (`=`, `+`, `-`, `@`, tab, carriage return).
fn hostile_census() -> Vec<u8> {
    let mut reader = csv::Reader::from_reader(NORFOLK);
    let headers = reader.headers().unwrap().clone();
    let name = headers.iter().position(|h| h == "school_name").unwrap();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    let prefixes = ["=", "+", "-", "@", "\t", "\r"];
    for (i, record) in reader.records().enumerate() {
        let record = record.unwrap();
        let mut fields: Vec<String> = record.iter().map(str::to_string).collect();
        if i % 20 == 0 {
            let prefix = prefixes[(i / 20) % prefixes.len()];
            fields[name] = format!(
                "{prefix}HYPERLINK(\"x\") <script>alert('s{i}')</script> {}",
                fields[name]
            );
        }
        writer.write_record(&fields).unwrap();
    }
    writer.into_inner().unwrap()
}

/// Every (method, path) of the HTML pages the router is built from, read from the router's
/// source. The JSON API under `/api/` is left out: no page links to it or offers a form for it,
/// and it is held by its own tests instead: `http_api.rs` (tokens, the cookie-and-CSRF rule,
/// one error shape, 413/415/422), the route matrix in `http_casework.rs` (every role's bearer
/// token on every operation) and schemathesis (`scripts/api-fuzz.sh`, hostile data in every field).
fn routes() -> Vec<(String, String)> {
    let source = include_str!("../src/lib.rs");
    let mut out = Vec::new();
    for (start, _) in source.match_indices(".route(") {
        let call = &source[start + ".route(".len()..];
        let mut depth = 1;
        let end = call
            .char_indices()
            .find_map(|(i, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(i)
            })
            .unwrap();
        let call = &call[..end];
        let path = call.split('"').nth(1).unwrap().to_string();
        if path.starts_with("/api/") {
            continue;
        }
        let handlers = call.split('"').nth(2).unwrap();
        for (needle, method) in [("get(", "GET"), ("post(", "POST")] {
            if handlers.contains(needle) {
                out.push((method.to_string(), path.clone()));
            }
        }
    }
    out
}

/// The route pattern a concrete path belongs to: the matching pattern with most literal segments.
fn pattern_of<'a>(patterns: &'a BTreeSet<String>, path: &str) -> Option<&'a str> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    patterns
        .iter()
        .filter_map(|p| {
            let ps: Vec<&str> = p.trim_start_matches('/').split('/').collect();
            if ps.last().is_some_and(|l| l.starts_with("{*")) {
                let fixed = &ps[..ps.len() - 1];
                return (segs.len() > fixed.len() && fixed.iter().zip(&segs).all(|(a, b)| a == b))
                    .then_some((fixed.len(), p.as_str()));
            }
            if ps.len() != segs.len() {
                return None;
            }
            let mut literal = 0;
            for (a, b) in ps.iter().zip(&segs) {
                if a.starts_with('{') {
                    if b.is_empty() {
                        return None;
                    }
                } else if a == b {
                    literal += 1;
                } else {
                    return None;
                }
            }
            Some((literal, p.as_str()))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, p)| p)
}

fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// The value of an attribute in a tag's text, unescaped.
fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

fn has_flag(tag: &str, name: &str) -> bool {
    let end = tag.find('>').unwrap_or(tag.len());
    tag[..end]
        .split(|c: char| c.is_whitespace() || c == '>')
        .any(|w| w == name || w.starts_with(&format!("{name}=")))
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Hidden,
    /// A text box or text area for free text.
    Text,
    /// A text box for a number (`inputmode`), a date or a choice.
    Fixed,
    File,
    /// The name and value of the button pressed.
    Button,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    kind: Kind,
    value: String,
}

#[derive(Debug, Clone)]
struct HtmlForm {
    method: String,
    action: String,
    multipart: bool,
    fields: Vec<Field>,
}

/// The forms of a page and what a browser would send from each (checked radios and boxes,
/// selected options, values as given). A button with a `formaction` sends the form elsewhere:
/// it is a form of its own, with the same fields and only its own name and value.
fn forms(page: &str) -> Vec<HtmlForm> {
    let mut out = Vec::new();
    for (start, _) in page.match_indices("<form") {
        let rest = &page[start..];
        let end = rest.find("</form>").unwrap_or(rest.len());
        let body = &rest[..end];
        let open = &body[..body.find('>').unwrap_or(body.len())];
        let method = attr(open, "method")
            .unwrap_or_else(|| "get".into())
            .to_ascii_uppercase();
        let action = attr(open, "action").unwrap_or_default();
        let multipart = attr(open, "enctype").is_some_and(|e| e.contains("multipart"));
        let mut fields = Vec::new();
        let mut elsewhere: Vec<(String, Option<String>, Option<Field>)> = Vec::new();
        for (i, _) in body.match_indices('<') {
            let tag = &body[i..];
            let tag_text = &tag[..tag.find('>').map_or(tag.len(), |e| e + 1)];
            if (tag.starts_with("<button") || tag.starts_with("<input"))
                && let Some(to) = attr(tag_text, "formaction")
            {
                let pressed = attr(tag_text, "name").map(|name| Field {
                    name,
                    kind: Kind::Button,
                    value: attr(tag_text, "value").unwrap_or_default(),
                });
                elsewhere.push((to, attr(tag_text, "formmethod"), pressed));
                continue;
            }
            let Some(name) = attr(tag_text, "name") else { continue };
            if tag.starts_with("<input") {
                let ty = attr(tag_text, "type").unwrap_or_else(|| "text".into());
                let value = attr(tag_text, "value").unwrap_or_default();
                match ty.as_str() {
                    "hidden" => fields.push(Field {
                        name,
                        kind: Kind::Hidden,
                        value,
                    }),
                    "radio" => {
                        let checked = has_flag(tag_text, "checked");
                        match fields.iter_mut().find(|f| f.name == name) {
                            Some(f) if checked => f.value = value,
                            Some(_) => {}
                            None => fields.push(Field {
                                name,
                                kind: Kind::Fixed,
                                value,
                            }),
                        }
                    }
                    "checkbox" if has_flag(tag_text, "checked") => fields.push(Field {
                        name,
                        kind: Kind::Fixed,
                        value,
                    }),
                    "checkbox" | "submit" | "button" => {}
                    "file" => fields.push(Field {
                        name,
                        kind: Kind::File,
                        value,
                    }),
                    "date" | "number" | "password" | "email" => fields.push(Field {
                        name,
                        kind: Kind::Fixed,
                        value,
                    }),
                    _ if attr(tag_text, "inputmode").is_some() => fields.push(Field {
                        name,
                        kind: Kind::Fixed,
                        value,
                    }),
                    _ => fields.push(Field {
                        name,
                        kind: Kind::Text,
                        value,
                    }),
                }
            } else if tag.starts_with("<button") {
                // As if the first named button were the one pressed.
                if !fields.iter().any(|f| f.name == name) {
                    let value = attr(tag_text, "value").unwrap_or_default();
                    fields.push(Field {
                        name,
                        kind: Kind::Button,
                        value,
                    });
                }
            } else if tag.starts_with("<textarea") {
                let inner = &tag[tag_text.len()..];
                let value = unescape(&inner[..inner.find("</textarea>").unwrap_or(0)]);
                fields.push(Field {
                    name,
                    kind: Kind::Text,
                    value,
                });
            } else if tag.starts_with("<select") {
                let inner = &tag[..tag.find("</select>").unwrap_or(tag.len())];
                let options: Vec<&str> = inner.match_indices("<option").map(|(j, _)| &inner[j..]).collect();
                let chosen = options
                    .iter()
                    .find(|o| has_flag(o, "selected"))
                    .or_else(|| options.first())
                    .and_then(|o| attr(&o[..o.find('>').map_or(o.len(), |e| e + 1)], "value"))
                    .unwrap_or_default();
                fields.push(Field {
                    name,
                    kind: Kind::Fixed,
                    value: chosen,
                });
            }
        }
        for (to, via, pressed) in elsewhere {
            out.push(HtmlForm {
                method: via.map_or_else(|| method.clone(), |m| m.to_ascii_uppercase()),
                action: to,
                multipart,
                fields: fields
                    .iter()
                    .filter(|f| f.kind != Kind::Button)
                    .cloned()
                    .chain(pressed)
                    .collect(),
            });
        }
        out.push(HtmlForm {
            method,
            action,
            multipart,
            fields,
        });
    }
    out
}

/// Same-site links of a page (no assets, no fragments).
fn links(page: &str) -> Vec<String> {
    page.match_indices("href=\"/")
        .filter_map(|(i, _)| {
            let rest = &page[i + 6..];
            let link = unescape(&rest[..rest.find('"')?]);
            let link = link.split('#').next().unwrap_or_default().to_string();
            (!link.starts_with("/assets/") && !link.is_empty()).then_some(link)
        })
        .collect()
}

fn multipart_body(fields: &[(String, String)], file: Option<(&str, &str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----hostile-boundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    if let Some((name, file_name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A form as a request, with these values.
fn submit(form: &HtmlForm, cookie: &str, values: &[(String, String)]) -> Request<Body> {
    if form.multipart {
        let file = form
            .fields
            .iter()
            .find(|f| f.kind == Kind::File)
            .map(|f| f.name.clone());
        let (ty, body) = multipart_body(
            values,
            file.as_deref()
                .map(|n| (n, "hostile.csv", b"urn\n=1+1<script>alert(9)</script>\n".as_slice())),
        );
        return Request::post(&form.action)
            .header(header::CONTENT_TYPE, ty)
            .header(header::COOKIE, cookie)
            .body(Body::from(body))
            .unwrap();
    }
    let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    post_form(&form.action, Some(cookie), &pairs)
}

fn defaults(form: &HtmlForm) -> Vec<(String, String)> {
    form.fields
        .iter()
        .filter(|f| f.kind != Kind::File)
        .map(|f| (f.name.clone(), f.value.clone()))
        .collect()
}

/// What every reply is checked for; problems are gathered, not asserted one by one.
struct Inspector {
    problems: Vec<String>,
    /// Full names and UPNs of every pupil: never on an error page, nor on any page of a role
    /// that has no access to pupil records.
    pupils: Vec<String>,
    csv_files: usize,
    csv_cells: usize,
    downloads: usize,
    replies: usize,
    /// Numbers of stored payloads seen escaped on a page.
    shown: BTreeSet<usize>,
}

const NO_PUPIL_ACCESS: [&str; 5] = ["officer", "adviser", "evaluator", "clerk", "governor"];

/// A cell a spreadsheet would run: a leading `= + - @`, tab or CR that is not a plain number.
fn is_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err()
}

impl Inspector {
    fn check(&mut self, what: &str, who: &str, r: &Reply) {
        self.replies += 1;
        let mut fail = |m: String| self.problems.push(format!("{what} as {who} ({}): {m}", r.status));
        let h = |name: header::HeaderName| r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        let csp = h(header::CONTENT_SECURITY_POLICY);
        if csp.is_empty() || csp.contains("unsafe-inline") || !csp.contains("frame-ancestors 'none'") {
            fail(format!("Content-Security-Policy {csp:?}"));
        }
        if h(header::X_CONTENT_TYPE_OPTIONS) != "nosniff" {
            fail("no X-Content-Type-Options: nosniff".into());
        }
        if h(header::X_FRAME_OPTIONS) != "DENY" {
            fail("no X-Frame-Options: DENY".into());
        }
        let asset = what.contains(" /assets/");
        if !asset && h(header::CACHE_CONTROL) != "no-store" {
            fail(format!("Cache-Control {:?}", h(header::CACHE_CONTROL)));
        }
        for c in r.headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap_or_default();
            if !(c.contains("; HttpOnly") && c.contains("; Secure") && c.contains("; SameSite=")) {
                fail(format!("cookie without HttpOnly, Secure and SameSite: {c}"));
            }
        }
        if r.status.is_server_error() {
            fail(format!("server error: {}", &r.body[..r.body.len().min(300)]));
        }
        if asset {
            return;
        }
        for marker in ["&#60;script&#62;alert(", "&lt;script&gt;alert("] {
            for (i, _) in r.body.match_indices(marker) {
                let digits: String = r.body[i + marker.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let Ok(n) = digits.parse() {
                    self.shown.insert(n);
                }
            }
        }
        // Script matters where a browser renders the reply: HTML. CSV and JSON downloads carry
        // the text as data (their cells are checked below; `nosniff` keeps them from being sniffed).
        let html = h(header::CONTENT_TYPE).starts_with("text/html");
        if html && r.body.contains(RAW_SCRIPT) {
            let at = r.body.find(RAW_SCRIPT).unwrap();
            fail(format!(
                "raw script: …{}…",
                &r.body[at.saturating_sub(80)..(at + 40).min(r.body.len())]
            ));
        }
        for leak in [
            "panicked at",
            "stack backtrace",
            ".rs:",
            "sqlx",
            "SqliteError",
            "no such table",
            "syntax error",
            "Unexpected(",
            "DatabaseError",
        ] {
            if r.body.contains(leak) {
                fail(format!("internal detail {leak:?} in the body"));
            }
        }
        // Refusals (403, 404) and server errors name no pupil, for anyone; a refused form (422)
        // re-shows the role's own pupils to a role that has them, so there only roles without
        // pupil access are checked.
        let refusal = matches!(r.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND) || r.status.is_server_error();
        if (refusal || NO_PUPIL_ACCESS.contains(&who))
            && let Some(p) = self.pupils.iter().find(|p| r.body.contains(p.as_str()))
        {
            fail(format!("pupil data {p:?} shown"));
        }
        let disposition = h(header::CONTENT_DISPOSITION);
        if !disposition.is_empty() {
            self.downloads += 1;
            let name = disposition
                .strip_prefix("attachment; filename=\"")
                .and_then(|n| n.strip_suffix('"'))
                .unwrap_or("");
            let safe = !name.is_empty()
                && !name.starts_with('.')
                && !name.contains("..")
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !safe {
                self.problems
                    .push(format!("{what} as {who}: unsafe download name {disposition:?}"));
            }
        }
        if h(header::CONTENT_TYPE).starts_with("text/csv") {
            self.csv_files += 1;
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(r.body.as_bytes());
            for record in reader.records() {
                let Ok(record) = record else {
                    self.problems.push(format!("{what} as {who}: the CSV does not parse"));
                    break;
                };
                for cell in &record {
                    self.csv_cells += 1;
                    if is_formula(cell) {
                        self.problems
                            .push(format!("{what} as {who}: CSV cell {cell:?} is a formula"));
                    }
                }
            }
        }
    }
}

/// Who found an address, its path, and the query parameters it was found with.
type Probe<'a> = (&'a str, String, Vec<(String, String)>);

/// A clock the throttle test moves on.
#[derive(Debug)]
struct Steps(AtomicI64);

impl Clock for Steps {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

async fn sign_in(router: &Router, who: &str) -> (String, String) {
    let email = format!("{who}@demo.clusterwise.test");
    support::sign_in(router, &email, service::demo::DEMO_PASSWORD).await
}

/// Puts one synthetic pupil of the demo head's school, with no casework of its own yet, into the
/// states whose forms and links the demo's records show only past the crawl's two addresses a
/// route (or not at all): a mentor case at the review step (the sessions and review forms), one
/// signed off (the follow-up form), a current LSU placement (the form that ends it) and a
/// transition record sent to a school outside the cluster (its file). Made through the service as
/// the head, as the pages would make them. Returns the pupil's and the two cases' addresses, which
/// the crawl of the school's staff starts from.
async fn casework_in_every_state(service: &Service) -> Vec<String> {
    use service::casework::{
        CaseworkFilter, MeasuresInput, PlacementInput, PlanInput, ReferralInput, ReviewInput, TransitionInput,
    };
    let s = service.store();
    let (head, _) = s.user_credentials("head@demo.clusterwise.test").await.unwrap().unwrap();
    let domain::access::Scope::School(host) = head.scope else {
        panic!("the demo head has no school")
    };
    let a = head.authority;
    let school = CaseworkFilter::school(host);
    let cases = s.mentor_cases(a, &school).await.unwrap();
    let placements = s.lsu_placements(a, &school).await.unwrap();
    let transitions = s.transitions(a, &school).await.unwrap();
    let pupil = s
        .pupils(a, &school)
        .await
        .unwrap()
        .into_iter()
        .find(|p| {
            p.synthetic
                && !cases.iter().any(|c| c.pupil == p.id)
                && !placements.iter().any(|x| x.pupil == p.id)
                && !transitions.iter().any(|t| t.pupil == p.id)
        })
        .expect("a synthetic pupil with no casework at the demo head's school");
    let in_weeks = |w: u64| {
        let day = service.clock().today();
        day.checked_add_days(domain::Days::new(7 * w)).unwrap().to_string()
    };
    let mut addresses = vec![format!("/casework/pupils/{}", pupil.id.0)];
    for signed_off in [false, true] {
        let case = service
            .refer_to_mentor(
                &head,
                &ReferralInput {
                    pupil: pupil.id.0,
                    mentor: None,
                    reason: "attendance".into(),
                    referred_by: "Head of Year (synthetic)".into(),
                    referred_on: String::new(),
                    note: "Referral details (synthetic)".into(),
                },
            )
            .await
            .unwrap();
        service
            .agree_case_plan(
                &head,
                case,
                &PlanInput {
                    targets: vec!["Attend every lesson on time (synthetic)".into()],
                    exit_strategy: "Sessions step down to fortnightly, then end (synthetic)".into(),
                    agreed_on: String::new(),
                },
            )
            .await
            .unwrap();
        if signed_off {
            service
                .review_case(
                    &head,
                    case,
                    &ReviewInput {
                        held_on: String::new(),
                        outcome: "met".into(),
                        note: "Review notes (synthetic)".into(),
                        follow_up_on: in_weeks(6),
                        parents_contacted_on: String::new(),
                    },
                )
                .await
                .unwrap();
        }
        addresses.push(format!("/casework/cases/{}", case.0));
    }
    service
        .add_lsu_placement(
            &head,
            pupil.id,
            &PlacementInput {
                referred_on: String::new(),
                stages: vec!["1".into(), "2".into(), "3".into()],
                starts_on: String::new(),
                planned_end: in_weeks(12),
                sessions_per_week: String::new(),
                agreed_with_pupil: true,
                agreed_with_parent: true,
                reintegration_plan: "Back to core lessons first with a teaching assistant (synthetic)".into(),
                supported_lessons: "6".into(),
                before: MeasuresInput {
                    attendance: "84.5".into(),
                    exclusions: "1".into(),
                    incidents: "5".into(),
                },
            },
        )
        .await
        .unwrap();
    service
        .send_transition(
            &head,
            pupil.id,
            &TransitionInput {
                kind: "mid_year".into(),
                to_urn: String::new(),
                outside: "A school in Suffolk (synthetic)".into(),
                note: "Transition notes (synthetic)".into(),
            },
        )
        .await
        .unwrap();
    addresses
}

/// A body that hands out `total` bytes in 8 KiB chunks and counts how many were taken.
struct Counting {
    left: usize,
    taken: Arc<AtomicUsize>,
}

impl futures_core::Stream for Counting {
    type Item = Result<Vec<u8>, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        let n = self.left.min(8 * 1024);
        self.left -= n;
        self.taken.fetch_add(n, Ordering::SeqCst);
        std::task::Poll::Ready(Some(Ok(vec![b'a'; n])))
    }
}

/// Where each `Query` struct's fields are sent: every field of every `#[derive(Deserialize)]`
/// struct used as `Query<…>` in the handlers must be named by a route here, or the test fails.
/// Values are the route the parameter is probed on (with a valid address chosen at run time).
fn query_fields() -> BTreeMap<String, BTreeSet<String>> {
    let mut sources = String::new();
    for (name, text) in [
        ("pages", include_str!("../src/pages.rs")),
        ("policies", include_str!("../src/policies.rs")),
        ("casework", include_str!("../src/casework.rs")),
        ("evaluation", include_str!("../src/evaluation.rs")),
        ("governance", include_str!("../src/governance.rs")),
        ("ledger", include_str!("../src/ledger.rs")),
        ("meetings", include_str!("../src/meetings.rs")),
        ("design", include_str!("../src/design.rs")),
        ("import", include_str!("../src/import.rs")),
    ] {
        sources.push_str(&format!("\n// ==== {name}\n{text}"));
    }
    let mut used = BTreeSet::new();
    for (i, _) in sources.match_indices("Query<") {
        let rest = &sources[i + "Query<".len()..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        used.insert(name);
    }
    let mut out = BTreeMap::new();
    for name in used {
        let Some(at) = sources.find(&format!("struct {name} {{")) else {
            continue;
        };
        let body = &sources[at..];
        let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap()];
        let mut fields = BTreeSet::new();
        let mut rename: Option<String> = None;
        for line in body.lines().map(str::trim) {
            if let Some(r) = line.strip_prefix("#[serde(rename = \"") {
                rename = r.split('"').next().map(str::to_string);
            } else if !line.starts_with('#') && !line.starts_with("//") && line.contains(':') {
                let field = line.trim_start_matches("pub(crate) ").trim_start_matches("pub ");
                let field = field.split(':').next().unwrap().trim().to_string();
                fields.insert(rename.take().unwrap_or(field));
            }
        }
        out.insert(name, fields);
    }
    out
}

/// SQL and LIKE metacharacters, a NUL, an over-long value: each must be a 2xx or a 4xx that names
/// the field, never a 5xx, a database error or more rows than the plain search.
const SQL_PAYLOADS: &[&str] = &[
    "' OR '1'='1",
    "1 OR 1=1",
    "'; DROP TABLE schools; --",
    "\" OR \"\"=\"",
    "1; SELECT * FROM users",
    "%",
    "_",
    "\\",
    "%' --",
    "1' UNION SELECT password_hash FROM users --",
    "\u{0}",
];

#[tokio::test]
async fn every_route_withstands_hostile_input_as_every_role() {
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(SystemClock));
    service.build_demo(&hostile_census()).await.unwrap();
    let router = web::router(service.clone(), web::WebConfig::default());
    let small = web::router(
        service.clone(),
        web::WebConfig {
            max_upload_bytes: LIMIT,
            ..web::WebConfig::default()
        },
    );
    let s = service.store();
    let (officer, _) = s
        .user_credentials("officer@demo.clusterwise.test")
        .await
        .unwrap()
        .unwrap();
    let authority = officer.authority;
    let pupils = s
        .pupils(authority, &service::casework::CaseworkFilter::default())
        .await
        .unwrap();
    let mut inspector = Inspector {
        problems: Vec::new(),
        pupils: pupils
            .iter()
            .flat_map(|p| [format!("{} {}", p.given_name, p.family_name), p.upn.to_string()])
            .collect(),
        csv_files: 0,
        csv_cells: 0,
        downloads: 0,
        replies: 0,
        shown: BTreeSet::new(),
    };
    let schools_before = service.export_schools_csv(authority).await.unwrap();

    let routes = routes();
    let patterns: BTreeSet<String> = routes.iter().map(|(_, p)| p.clone()).collect();
    let mut sessions = BTreeMap::new();
    for who in ROLES {
        sessions.insert(who, sign_in(&router, who).await);
    }

    // ---- 1. Crawl every page as every role (at most 2 addresses per route and role). ----
    async fn crawl(
        router: &Router,
        who: &str,
        cookie: &str,
        seeds: &[String],
        patterns: &BTreeSet<String>,
        inspector: &mut Inspector,
    ) -> (BTreeSet<String>, Vec<HtmlForm>, BTreeSet<String>) {
        let mut seen = BTreeSet::new();
        let mut linked = BTreeSet::new();
        let mut per_pattern: BTreeMap<String, usize> = BTreeMap::new();
        // The overview, and the pages that only the casework and privacy navigation reaches.
        let mut queue: Vec<String> = ["/privacy/retention", "/privacy/audit", "/casework", "/"]
            .map(String::from)
            .to_vec();
        queue.extend(seeds.iter().cloned());
        let mut found_forms = Vec::new();
        while let Some(url) = queue.pop() {
            if !seen.insert(url.clone()) {
                continue;
            }
            let r = send(router, get(&url, Some(cookie))).await;
            inspector.check(&format!("GET {url}"), who, &r);
            if !r
                .headers
                .get(header::CONTENT_TYPE)
                .is_some_and(|t| t.to_str().unwrap_or("").starts_with("text/html"))
            {
                continue;
            }
            for f in forms(&r.body) {
                found_forms.push(f);
            }
            for link in links(&r.body) {
                let Some(p) = pattern_of(patterns, &link) else { continue };
                linked.insert(link.clone());
                // A seed is visited anyway: a link to it uses none of its route's two addresses.
                if seeds.contains(&link) {
                    continue;
                }
                let n = per_pattern.entry(format!("{p}{}", link.contains('?'))).or_default();
                if *n < 2 && !seen.contains(&link) {
                    *n += 1;
                    queue.push(link);
                }
            }
        }
        (seen, found_forms, linked)
    }
    let mut visited: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut offered: BTreeMap<&str, Vec<HtmlForm>> = BTreeMap::new();
    // Each role's own cluster and school pages are visited whatever the crawl's order and, for
    // the head and the mentor, the casework made here in the states whose forms and links the
    // demo's own records show only past the crawl's two addresses a route.
    let casework = casework_in_every_state(&service).await;
    let mut seeds: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for who in ROLES {
        let (user, _) = s
            .user_credentials(&format!("{who}@demo.clusterwise.test"))
            .await
            .unwrap()
            .unwrap();
        let own = match user.scope {
            domain::access::Scope::Cluster(c) => [
                "",
                "/plan",
                "/budget",
                "/budget/staff/new",
                "/fade",
                "/committee",
                "/meetings",
            ]
            .iter()
            .map(|t| format!("/clusters/{}{t}", c.0))
            .collect(),
            domain::access::Scope::School(u) => {
                let mut own = vec![format!("/schools/{u}"), "/casework/cases/new".into()];
                if who == "head" || who == "mentor" {
                    own.extend(casework.iter().cloned());
                }
                own
            }
            _ => vec![],
        };
        seeds.insert(who, own);
    }
    for who in ROLES {
        let (cookie, _) = &sessions[who];
        let (seen, found, linked) = crawl(&router, who, cookie, &seeds[who], &patterns, &mut inspector).await;
        // The casework is a seed only to be sure of it: its own pages link to it.
        if seeds[who].contains(&casework[0]) {
            let unlinked: Vec<_> = casework.iter().filter(|a| !linked.contains(*a)).collect();
            assert!(unlinked.is_empty(), "no page links {who} to {unlinked:?}");
        }
        visited.insert(who, seen);
        offered.insert(who, found);
    }
    // Every GET route was reached by some role, or is named here with the reason.
    let not_linked: &[(&str, &str)] = &[
        ("/health", "probed below"),
        ("/sign-in", "probed below (signed in, it redirects)"),
        ("/assets/{*path}", "probed below"),
        (
            "/import/{run}",
            "exists only after an upload: probed with a run id that does not exist",
        ),
    ];
    let reached: BTreeSet<&str> = visited
        .values()
        .flatten()
        .filter_map(|u| pattern_of(&patterns, u))
        .collect();
    // Forms with method GET are links too (filters): their actions count as reached.
    let get_actions: BTreeSet<&str> = offered
        .values()
        .flatten()
        .filter(|f| f.method == "GET")
        .filter_map(|f| pattern_of(&patterns, &f.action))
        .collect();
    let unreached: Vec<_> = routes
        .iter()
        .filter(|(m, p)| {
            m == "GET"
                && !reached.contains(p.as_str())
                && !get_actions.contains(p.as_str())
                && !not_linked.iter().any(|(q, _)| q == p)
        })
        .collect();
    assert!(
        unreached.is_empty(),
        "GET routes no page links to (link them or name them in `not_linked`): {unreached:?}"
    );
    for path in [
        "/health",
        "/sign-in",
        "/assets/clusterwise.css",
        "/assets/../../Cargo.toml",
        "/assets/%2e%2e/%2e%2e/Cargo.toml",
        "/import/999999",
        "/no-such-page",
        "/schools/..%2f..%2fetc%2fpasswd",
    ] {
        let r = send(&router, get(path, None)).await;
        inspector.check(&format!("GET {path}"), "signed out", &r);
        assert!(
            !r.body.contains("[workspace]"),
            "{path} served a file outside the assets"
        );
        let r = send(&router, get(path, Some(&sessions["officer"].0))).await;
        inspector.check(&format!("GET {path}"), "officer", &r);
        assert!(
            !r.body.contains("[workspace]"),
            "{path} served a file outside the assets"
        );
    }
    // A method the route does not have (405), and a signed-out POST (401).
    let r = send(&router, Request::delete("/schools").body(Body::empty()).unwrap()).await;
    inspector.check("DELETE /schools", "signed out", &r);
    let r = send(&router, post_form("/design", None, &[])).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    inspector.check("POST /design", "signed out", &r);

    // One form per (role, POST route): the address and fields its page offered that role.
    let mut post_forms: Vec<(&str, String, HtmlForm)> = Vec::new();
    let mut seen_pairs = BTreeSet::new();
    for who in ROLES {
        for f in &offered[who] {
            if f.method != "POST" || f.action == "/sign-out" {
                continue;
            }
            let Some(p) = pattern_of(&patterns, &f.action) else {
                inspector
                    .problems
                    .push(format!("form to {} matches no route", f.action));
                continue;
            };
            // Actions (`{action}` segments) count separately.
            let key = if p.contains("{action}") {
                f.action.rsplit('/').next().unwrap().to_string()
            } else {
                String::new()
            };
            if seen_pairs.insert((who, p.to_string(), key)) {
                post_forms.push((who, p.to_string(), f.clone()));
            }
        }
    }
    let posted: BTreeSet<&str> = post_forms.iter().map(|(_, p, _)| p.as_str()).collect();
    let not_offered: &[(&str, &str)] = &[
        ("/sign-in", "the signed-out form: probed in its own tests"),
        ("/sign-out", "ends the session: probed in its own tests"),
    ];
    let missing: Vec<_> = routes
        .iter()
        .filter(|(m, p)| m == "POST" && !posted.contains(p.as_str()) && !not_offered.iter().any(|(q, _)| q == p))
        .collect();
    // A POST route no page offers to any demo role cannot be reached from the interface; name it
    // in `not_offered`, or put the demo in the state whose page offers it before the crawl.
    assert!(missing.is_empty(), "POST routes no page offers a form for: {missing:?}");

    // ---- 2. CSRF: every form, without its token and with a wrong one, is refused (403). ----
    for (who, pattern, form) in &post_forms {
        let (cookie, _) = &sessions[who];
        let values = defaults(form);
        for token in [
            None,
            Some(String::new()),
            Some("0".repeat(64)),
            Some("not-a-token".to_string()),
        ] {
            let vals: Vec<(String, String)> = values
                .iter()
                .filter(|(k, _)| k != "csrf_token")
                .cloned()
                .chain(token.clone().map(|t| ("csrf_token".to_string(), t)))
                .collect();
            let r = send(&router, submit(form, cookie, &vals)).await;
            inspector.check(&format!("POST {} (csrf {token:?})", form.action), who, &r);
            if r.status != StatusCode::FORBIDDEN {
                inspector.problems.push(format!(
                    "POST {pattern} as {who} with csrf {token:?}: {} not 403",
                    r.status
                ));
            }
        }
    }

    // ---- 3. Oversized bodies on every POST route: 413 before the body is read. ----
    for (who, pattern, form) in &post_forms {
        let (cookie, _) = &sessions[who];
        let ty = if form.multipart {
            "multipart/form-data; boundary=x"
        } else {
            "application/x-www-form-urlencoded"
        };
        let taken = Arc::new(AtomicUsize::new(0));
        let declared = Request::post(&form.action)
            .header(header::CONTENT_TYPE, ty)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_LENGTH, LIMIT * 4)
            .body(Body::from_stream(Counting {
                left: LIMIT * 4,
                taken: taken.clone(),
            }))
            .unwrap();
        let r = send(&small, declared).await;
        inspector.check(&format!("POST {pattern} (declared oversize)"), who, &r);
        if r.status != StatusCode::PAYLOAD_TOO_LARGE || taken.load(Ordering::SeqCst) > 0 {
            inspector.problems.push(format!(
                "POST {pattern} as {who}, declared {} bytes: {} after reading {} bytes",
                LIMIT * 4,
                r.status,
                taken.load(Ordering::SeqCst)
            ));
        }
        let taken = Arc::new(AtomicUsize::new(0));
        let streamed = Request::post(&form.action)
            .header(header::CONTENT_TYPE, ty)
            .header(header::COOKIE, cookie)
            .body(Body::from_stream(Counting {
                left: LIMIT * 64,
                taken: taken.clone(),
            }))
            .unwrap();
        let r = send(&small, streamed).await;
        inspector.check(&format!("POST {pattern} (streamed oversize)"), who, &r);
        let read = taken.load(Ordering::SeqCst);
        if !r.status.is_client_error() || read > LIMIT + 16 * 1024 {
            inspector.problems.push(format!(
                "POST {pattern} as {who}, streamed: {} after reading {read} bytes",
                r.status
            ));
        }
    }

    // ---- 4. Every text field of every form, filled with script + formula + SQL. ----
    let mut numbered: BTreeMap<usize, String> = BTreeMap::new();
    for (who, pattern, form) in &post_forms {
        let (cookie, csrf) = &sessions[who];
        let values: Vec<(String, String)> = form
            .fields
            .iter()
            .filter(|f| f.kind != Kind::File)
            .map(|f| {
                let value = match f.kind {
                    Kind::Hidden if f.name == "csrf_token" => csrf.clone(),
                    Kind::Text => {
                        let n = numbered.len() + 1000;
                        numbered.insert(n, format!("{pattern} field {} as {who}", f.name));
                        payload(n)
                    }
                    _ => f.value.clone(),
                };
                (f.name.clone(), value)
            })
            .collect();
        let r = send(&router, submit(form, cookie, &values)).await;
        inspector.check(&format!("POST {} (payloads)", form.action), who, &r);
    }
    assert!(
        numbered.len() >= 40,
        "only {} text fields were found in the forms",
        numbered.len()
    );

    // ---- 5. SQL metacharacters in every search and filter parameter. ----
    let query_structs = query_fields();
    assert!(
        query_structs.len() >= 10,
        "the handlers' Query structs were not found: {query_structs:?}"
    );
    let all_query_fields: BTreeSet<String> = query_structs.values().flatten().cloned().collect();
    // Where each parameter is probed: every address any role reached with a query string, and
    // every GET form's action with its fields.
    let mut probes: Vec<Probe> = Vec::new();
    for who in ROLES {
        for url in &visited[who] {
            if let Some((path, query)) = url.split_once('?') {
                let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
                probes.push((who, path.to_string(), pairs));
            }
        }
        for f in offered[who].iter().filter(|f| f.method == "GET") {
            let action = f.action.split('#').next().unwrap().to_string();
            probes.push((who, action, defaults(f)));
        }
    }
    probes.sort();
    probes.dedup();
    let mut probed_fields = BTreeSet::new();
    let mut sql_requests = 0;
    for (who, path, pairs) in &probes {
        let (cookie, _) = &sessions[who];
        for i in 0..pairs.len() {
            if !probed_fields.insert((path.clone(), pairs[i].0.clone())) {
                continue;
            }
            for bad in SQL_PAYLOADS {
                let mut q = form_urlencoded::Serializer::new(String::new());
                for (j, (k, v)) in pairs.iter().enumerate() {
                    q.append_pair(k, if i == j { bad } else { v });
                }
                let url = format!("{path}?{}", q.finish());
                let r = send(&router, get(&url, Some(cookie))).await;
                sql_requests += 1;
                inspector.check(&format!("GET {url}"), who, &r);
            }
        }
    }
    let probed_names: BTreeSet<String> = probed_fields.iter().map(|(_, f)| f.clone()).collect();
    // Parameters no page sends in a link or form (flags set by redirects, page numbers): sent,
    // with two payloads, on every address that takes a query, as its finder.
    let unprobed: Vec<String> = all_query_fields
        .iter()
        .filter(|f| !probed_names.contains(*f))
        .cloned()
        .collect();
    let paths: BTreeMap<String, &str> = probes.iter().map(|(who, path, _)| (path.clone(), *who)).collect();
    for field in &unprobed {
        for (path, who) in &paths {
            for bad in ["' OR '1'='1", "'; DROP TABLE schools; --"] {
                let url = format!(
                    "{path}?{}",
                    form_urlencoded::Serializer::new(String::new())
                        .append_pair(field, bad)
                        .finish()
                );
                let r = send(&router, get(&url, Some(&sessions[who].0))).await;
                sql_requests += 1;
                inspector.check(&format!("GET {url}"), who, &r);
            }
        }
    }
    // The search text is data: a quote or a LIKE wildcard matches nothing, never everything.
    let cookie = &sessions["officer"].0;
    for q in ["' OR '1'='1", "%", "_", "%' --", "' OR 1=1 --"] {
        let url = format!(
            "/schools?q={}",
            form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        let r = send(&router, get(&url, Some(cookie))).await;
        assert!(
            r.body.contains("<strong>0</strong> schools match"),
            "{q:?} matched schools"
        );
    }

    // ---- 6. Crawl again (the payloads are stored now) and replay every address as every role. ----
    for who in ROLES {
        let (cookie, _) = &sessions[who];
        crawl(&router, who, cookie, &seeds[who], &patterns, &mut inspector).await;
    }
    // One address per route that aims at a record, as found by each role, replayed as the others.
    let mut addresses: BTreeMap<(String, &str), String> = BTreeMap::new();
    for who in ROLES {
        for a in &visited[who] {
            if let Some(p) = pattern_of(&patterns, a).filter(|p| p.contains('{')) {
                addresses.entry((p.to_string(), who)).or_insert_with(|| a.clone());
            }
        }
    }
    for who in ROLES {
        let (cookie, _) = &sessions[who];
        for ((_, finder), a) in &addresses {
            if *finder == who {
                continue;
            }
            let r = send(&router, get(a, Some(cookie))).await;
            inspector.check(&format!("GET {a} (found by {finder})"), who, &r);
        }
    }
    let shown: BTreeSet<usize> = inspector
        .shown
        .iter()
        .copied()
        .filter(|n| numbered.contains_key(n))
        .collect();

    assert_eq!(
        service.export_schools_csv(authority).await.unwrap(),
        schools_before,
        "the register changed under the hostile requests"
    );
    let audit = s
        .audit_entries(authority, &service::casework::AuditQuery::default())
        .await
        .unwrap();
    assert!(matches!(
        domain::privacy::audit::verify_chain(&audit),
        domain::privacy::audit::ChainStatus::Intact { .. }
    ));
    eprintln!(
        "hostile: {} replies checked; {} POST forms ({} routes); {} text fields filled, {} stored and shown escaped; \
         {} SQL probes over {} parameters; {} CSV files ({} cells); {} downloads",
        inspector.replies,
        post_forms.len(),
        posted.len(),
        numbered.len(),
        shown.len(),
        sql_requests,
        probed_fields.len(),
        inspector.csv_files,
        inspector.csv_cells,
        inspector.downloads,
    );
    assert!(inspector.csv_files >= 2, "no CSV export was reached");
    assert!(!shown.is_empty(), "no stored payload was found on any page");
    inspector.problems.sort();
    inspector.problems.dedup();
    assert!(
        inspector.problems.is_empty(),
        "{} problems:\n{}",
        inspector.problems.len(),
        inspector.problems.join("\n")
    );
}

#[tokio::test]
async fn sign_in_is_throttled_after_ten_failures_in_five_minutes() {
    let store = store::connect_in_memory().await.unwrap();
    let clock = Arc::new(Steps(AtomicI64::new(1_700_000_000)));
    let service = Service::new(Arc::new(store), clock.clone());
    service.build_demo(NORFOLK).await.unwrap();
    let router = web::router(service.clone(), web::WebConfig::default());
    let attempt = |email: &'static str, password: &'static str| {
        let router = router.clone();
        async move {
            let form = send(&router, get("/sign-in", None)).await;
            let pre = form.cookie_pair("clusterwise_sign_in").unwrap();
            send(
                &router,
                post_form(
                    "/sign-in",
                    Some(&pre),
                    &[
                        ("csrf_token", &csrf_in(&form.body)),
                        ("email", email),
                        ("password", password),
                    ],
                ),
            )
            .await
        }
    };
    let head = "head@demo.clusterwise.test";
    for i in 0..10 {
        let r = attempt(head, "wrong password").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "failure {i}");
        clock.0.fetch_add(20, Ordering::SeqCst);
    }
    // The eleventh try within five minutes is refused even with the right password.
    let r = attempt(head, service::demo::DEMO_PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers[header::RETRY_AFTER], "300");
    assert!(r.cookie("clusterwise_session").is_none());
    assert!(r.body.contains("Too many failed sign-in attempts"));
    assert!(r.headers.contains_key(header::CONTENT_SECURITY_POLICY));
    // Another account is not held up.
    let r = attempt("clerk@demo.clusterwise.test", service::demo::DEMO_PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Five minutes after the first failures have aged out, the right password works again.
    clock.0.fetch_add(300, Ordering::SeqCst);
    let r = attempt(head, service::demo::DEMO_PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test]
async fn a_planted_or_ended_session_token_never_signs_anyone_in() {
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(SystemClock));
    service.build_demo(NORFOLK).await.unwrap();
    let router = web::router(service.clone(), web::WebConfig::default());
    // An attacker plants a well-formed token in the victim's browser before sign-in.
    let planted = format!("clusterwise_session={}", "ab".repeat(32));
    assert_eq!(send(&router, get("/", Some(&planted))).await.location(), "/sign-in");
    let form = send(&router, get("/sign-in", Some(&planted))).await;
    let pre = form.cookie_pair("clusterwise_sign_in").unwrap();
    let r = send(
        &router,
        post_form(
            "/sign-in",
            Some(&format!("{pre}; {planted}")),
            &[
                ("csrf_token", &csrf_in(&form.body)),
                ("email", "head@demo.clusterwise.test"),
                ("password", service::demo::DEMO_PASSWORD),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let issued = r.cookie("clusterwise_session").unwrap();
    assert!(!issued.starts_with(&planted), "the planted token was kept");
    for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(issued.contains(flag), "{issued} lacks {flag}");
    }
    assert_eq!(send(&router, get("/", Some(&planted))).await.location(), "/sign-in");
    // After sign-out the old token is dead on the server, not only in the browser.
    let cookie = r.cookie_pair("clusterwise_session").unwrap();
    let home = send(&router, get("/", Some(&cookie))).await;
    let out = send(
        &router,
        post_form("/sign-out", Some(&cookie), &[("csrf_token", &csrf_in(&home.body))]),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(send(&router, get("/", Some(&cookie))).await.location(), "/sign-in");
    // Malformed tokens are simply no session (never an error that echoes them).
    for bad in [
        "'; DROP TABLE sessions; --",
        "<script>alert(1)</script>",
        &"f".repeat(10_000),
    ] {
        let r = send(&router, get("/schools", Some(&format!("clusterwise_session={bad}")))).await;
        assert_eq!(r.location(), "/sign-in", "{bad}");
    }
}

#[tokio::test]
async fn upload_file_names_cannot_climb_directories_or_carry_script() {
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(SystemClock));
    service.build_demo(NORFOLK).await.unwrap();
    let router = web::router(service.clone(), web::WebConfig::default());
    let (cookie, csrf) = sign_in(&router, "officer").await;
    for (path, extra) in [
        ("/import", vec![("kind", "census"), ("census_date", "2023-01-19")]),
        ("/metrics/import", vec![]),
    ] {
        for name in [
            "../../../etc/passwd",
            "..\\..\\windows\\system32\\evil.csv",
            "<script>alert(7)</script>.csv",
        ] {
            let mut fields = vec![("csrf_token".to_string(), csrf.clone())];
            fields.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            let (ty, body) = multipart_body(&fields, Some(("file", name, b"urn\n1\n")));
            let request = Request::post(path)
                .header(header::CONTENT_TYPE, ty)
                .header(header::COOKIE, &cookie)
                .body(Body::from(body))
                .unwrap();
            let mut r = send(&router, request).await;
            if r.status == StatusCode::SEE_OTHER {
                // The import runs in the background: its status page shows the name.
                r = send(&router, get(r.location(), Some(&cookie))).await;
            }
            assert!(!r.status.is_server_error(), "{path} {name}: {}", r.status);
            assert!(
                !r.body.contains("etc/passwd") && !r.body.contains("..\\"),
                "{path} {name}: the path was kept"
            );
            assert!(!r.body.contains(RAW_SCRIPT), "{path} {name}: raw script");
        }
    }
}

//! The register's pages: overview, school list and page, cluster list and page, map, health.

use crate::error::WebError;
use crate::format::{date, int, pct, share};
use crate::{AppState, map};
use askama::Template;
use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use domain::ids::{ClusterId, Urn};
use domain::school::Phase;
use serde::Deserialize;
use service::auth::CurrentSession;
use service::store::{ClusterSummary, SchoolQuery, SchoolSort};

/// The parts of every signed-in page: header, navigation, sign-out form, banner.
#[derive(Debug)]
pub(crate) struct Chrome {
    pub authority: String,
    pub user_name: String,
    pub role: &'static str,
    pub csrf_token: String,
    pub nav: Vec<NavItem>,
    pub illustrative: bool,
}

#[derive(Debug)]
pub(crate) struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

pub(crate) async fn chrome(app: &AppState, session: &CurrentSession, active: &str) -> Result<Chrome, WebError> {
    let authority = app.service.authority_of(&session.user).await?;
    let mut items = vec![
        ("/", "Overview"),
        ("/schools", "Schools"),
        ("/clusters", "Clusters"),
        ("/map", "Map"),
        ("/governance", "Governance"),
        ("/funding", "Funding"),
        ("/casework", "Casework"),
        ("/evaluation", "Evaluation"),
    ];
    if service::design::may_view(session.user.role) {
        items.push(("/design", "Design"));
    }
    if session.user.role.may_import() {
        items.push(("/import", "Import"));
    }
    Ok(Chrome {
        authority: authority.name,
        user_name: session.user.display_name.clone(),
        role: session.user.role.label(),
        csrf_token: session.csrf_token.clone(),
        nav: items
            .into_iter()
            .map(|(href, label)| NavItem {
                href,
                label,
                active: href == active,
            })
            .collect(),
        illustrative: false,
    })
}

fn render(t: &impl Template) -> Result<Response, WebError> {
    Ok(Html(t.render()?).into_response())
}

pub(crate) async fn health(State(app): State<AppState>) -> Response {
    let store = app.service.store();
    match store.ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ok", "store": store.backend() })).into_response(),
        Err(e) => {
            tracing::error!(cause = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable" })),
            )
                .into_response()
        }
    }
}

pub(crate) async fn not_found() -> WebError {
    WebError::not_found()
}

#[derive(Debug)]
pub(crate) struct TallyRow {
    key: String,
    label: String,
    schools: String,
    pupils: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    chrome: Chrome,
    schools: String,
    pupils: String,
    clusters: String,
    unclustered: String,
    has_clusters: bool,
    smallest: String,
    median: String,
    largest: String,
    below: u32,
    within: u32,
    above: u32,
    by_phase: Vec<TallyRow>,
    by_district: Vec<TallyRow>,
}

pub(crate) async fn overview(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    let mut chrome = chrome(&app, &session, "/").await?;
    let (o, illustrative) = app.service.overview(&session.user).await?;
    chrome.illustrative = illustrative;
    let row = |key: String, label: String, t: &domain::overview::Tally| TallyRow {
        key,
        label,
        schools: int(u64::from(t.schools)),
        pupils: int(t.pupils),
    };
    render(&OverviewPage {
        chrome,
        schools: int(u64::from(o.all.schools)),
        pupils: int(o.state_funded.pupils),
        clusters: int(u64::from(o.spread.clusters)),
        unclustered: int(u64::from(o.unclustered_state_funded)),
        has_clusters: o.spread.clusters > 0,
        smallest: int(o.spread.smallest),
        median: int(o.spread.median),
        largest: int(o.spread.largest),
        below: o.spread.below_min,
        within: o.spread.within,
        above: o.spread.above_max,
        by_phase: o
            .by_phase
            .iter()
            .map(|(p, t)| row(p.code().into(), p.label().into(), t))
            .collect(),
        by_district: o
            .by_district
            .iter()
            .map(|(d, t)| row(d.clone(), d.clone(), t))
            .collect(),
    })
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct SchoolsParams {
    q: Option<String>,
    phase: Option<String>,
    district: Option<String>,
    cluster: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    page: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Debug)]
pub(crate) struct Header {
    label: &'static str,
    href: Option<String>,
    arrow: &'static str,
    /// `ascending`, `descending` or `none` on sortable columns; empty on the others.
    aria_sort: &'static str,
    /// What following the header's link does, for screen readers.
    next_dir: &'static str,
    numeric: bool,
}

#[derive(Debug)]
pub(crate) struct SchoolRow {
    urn: Urn,
    name: String,
    phase: &'static str,
    pupils: String,
    fsm: String,
    district: String,
    cluster: Option<(ClusterId, String)>,
}

#[derive(Template)]
#[template(path = "schools.html")]
struct SchoolsPage {
    chrome: Chrome,
    q: String,
    phases: Vec<Choice>,
    districts: Vec<Choice>,
    clusters: Vec<Choice>,
    sort: String,
    dir: String,
    total: String,
    total_is_one: bool,
    page: u32,
    pages: u32,
    headers: Vec<Header>,
    rows: Vec<SchoolRow>,
    prev: Option<String>,
    next: Option<String>,
}

const PAGE_SIZE: u32 = 50;
const SORTS: [(&str, &str, SchoolSort, bool); 5] = [
    ("name", "Name", SchoolSort::Name, false),
    ("urn", "URN", SchoolSort::Urn, false),
    ("pupils", "Pupils", SchoolSort::Pupils, true),
    ("fsm", "FSM\u{a0}%", SchoolSort::FsmPct, true),
    ("district", "District", SchoolSort::District, false),
];

fn href(params: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    let q = s.finish();
    if q.is_empty() {
        "/schools".into()
    } else {
        format!("/schools?{q}")
    }
}

pub(crate) async fn schools(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Query(params): Query<SchoolsParams>,
) -> Result<Response, WebError> {
    let text = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or_default().to_string();
    let (q, phase_s, district, cluster_s, sort_s, dir_s, page_s) = (
        text(&params.q),
        text(&params.phase),
        text(&params.district),
        text(&params.cluster),
        text(&params.sort),
        text(&params.dir),
        text(&params.page),
    );
    let phase = match phase_s.as_str() {
        "" => None,
        p => Some(Phase::from_code(p).ok_or_else(|| WebError::bad_request(format!("phase: {p:?} is not a phase")))?),
    };
    let cluster = match cluster_s.as_str() {
        "" => None,
        c => Some(ClusterId(c.parse().map_err(|_| {
            WebError::bad_request(format!("cluster: {c:?} is not a cluster number"))
        })?)),
    };
    let sort_key = if sort_s.is_empty() { "name" } else { sort_s.as_str() };
    let (_, _, sort, _) = SORTS
        .iter()
        .find(|(k, ..)| *k == sort_key)
        .ok_or_else(|| WebError::bad_request(format!("sort: {sort_key:?} is not a column")))?;
    let descending = match dir_s.as_str() {
        "" | "asc" => false,
        "desc" => true,
        d => return Err(WebError::bad_request(format!("dir: {d:?} must be asc or desc"))),
    };
    let page: u32 = match page_s.as_str() {
        "" => 1,
        p => p
            .parse()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or_else(|| WebError::bad_request(format!("page: {p:?} is not a page number")))?,
    };
    let query = SchoolQuery {
        search: (!q.is_empty()).then(|| q.clone()),
        phase,
        district: (!district.is_empty()).then(|| district.clone()),
        cluster,
        on: None,
        sort: *sort,
        descending,
        limit: Some(PAGE_SIZE),
        offset: (page - 1) * PAGE_SIZE,
    };
    let result = app.service.list_schools(&session.user, &query).await?;
    let districts = app.service.districts(&session.user).await?;
    let clusters = app.service.clusters(&session.user).await?;
    let pages = u32::try_from(result.total.div_ceil(u64::from(PAGE_SIZE)))
        .unwrap_or(u32::MAX)
        .max(1);
    let base = |sort: &str, dir: &str, page: u32| {
        href(&[
            ("q", q.clone()),
            ("phase", phase_s.clone()),
            ("district", district.clone()),
            ("cluster", cluster_s.clone()),
            ("sort", sort.to_string()),
            ("dir", dir.to_string()),
            ("page", if page > 1 { page.to_string() } else { String::new() }),
        ])
    };
    let dir_word = if descending { "desc" } else { "asc" };
    let mut headers: Vec<Header> = SORTS
        .iter()
        .map(|(key, label, _, numeric)| {
            let active = *key == sort_key;
            let next_dir = if active && !descending { "desc" } else { "asc" };
            Header {
                label,
                href: Some(base(key, next_dir, 1)),
                arrow: match (active, descending) {
                    (true, false) => " ▲",
                    (true, true) => " ▼",
                    _ => "",
                },
                aria_sort: match (active, descending) {
                    (true, false) => "ascending",
                    (true, true) => "descending",
                    _ => "none",
                },
                next_dir: if next_dir == "asc" { "ascending" } else { "descending" },
                numeric: *numeric,
            }
        })
        .collect();
    headers.insert(
        2,
        Header {
            label: "Phase",
            href: None,
            arrow: "",
            aria_sort: "",
            next_dir: "",
            numeric: false,
        },
    );
    headers.push(Header {
        label: "Cluster",
        href: None,
        arrow: "",
        aria_sort: "",
        next_dir: "",
        numeric: false,
    });
    // Column order in the table: name, URN, phase, pupils, FSM %, district, cluster.
    let rows = result
        .rows
        .into_iter()
        .map(|r| SchoolRow {
            urn: r.school.school.urn,
            name: r.school.school.name.clone(),
            phase: r.school.school.phase.label(),
            pupils: r
                .school
                .census
                .as_ref()
                .map_or_else(|| "–".into(), |c| int(u64::from(c.pupils))),
            fsm: pct(r.school.census.as_ref().and_then(|c| c.fsm_pct)),
            district: r
                .school
                .school
                .district
                .as_ref()
                .map(|d| d.name.clone())
                .unwrap_or_default(),
            cluster: r.cluster,
        })
        .collect();
    let chrome = chrome(&app, &session, "/schools").await?;
    render(&SchoolsPage {
        chrome,
        phases: Phase::ALL
            .iter()
            .map(|p| Choice {
                value: p.code().into(),
                label: p.label().into(),
                selected: Some(*p) == phase,
            })
            .collect(),
        districts: districts
            .into_iter()
            .map(|d| Choice {
                selected: d == district,
                value: d.clone(),
                label: d,
            })
            .collect(),
        clusters: clusters
            .iter()
            .map(|c| Choice {
                value: c.cluster.id.to_string(),
                label: c.cluster.name.clone(),
                selected: Some(c.cluster.id) == cluster,
            })
            .collect(),
        sort: sort_key.to_string(),
        dir: dir_word.into(),
        total: int(result.total),
        total_is_one: result.total == 1,
        page,
        pages,
        prev: (page > 1).then(|| base(sort_key, dir_word, page - 1)),
        next: (page < pages).then(|| base(sort_key, dir_word, page + 1)),
        headers,
        rows,
        q,
    })
}

#[derive(Debug)]
pub(crate) struct MembershipRow {
    cluster_id: ClusterId,
    cluster: String,
    role: &'static str,
    from: String,
    to: String,
}

#[derive(Debug)]
pub(crate) struct CensusRow {
    day: String,
    pupils: String,
    fte: String,
    fsm: String,
    fsm_pct: String,
}

#[derive(Template)]
#[template(path = "school.html")]
struct SchoolPage {
    chrome: Chrome,
    urn: Urn,
    name: String,
    phase: &'static str,
    facts: Vec<(&'static str, String)>,
    locator: Option<map::Locator>,
    memberships: Vec<MembershipRow>,
    groupings: Vec<String>,
    census: Vec<CensusRow>,
}

pub(crate) async fn school(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(urn): Path<String>,
) -> Result<Response, WebError> {
    let urn = Urn::parse(&urn).map_err(|_| WebError::not_found())?;
    let d = app.service.school(&session.user, urn).await?;
    let s = &d.school.school;
    let or_dash = |v: Option<String>| v.filter(|x| !x.is_empty()).unwrap_or_else(|| "–".into());
    let area = |a: &Option<domain::school::AreaRef>| {
        or_dash(a.as_ref().map(|a| {
            if a.code.is_empty() {
                a.name.clone()
            } else {
                format!("{} ({})", a.name, a.code)
            }
        }))
    };
    let mut facts = vec![
        ("URN", s.urn.to_string()),
        ("LAESTAB", or_dash(s.laestab.map(|l| l.to_string()))),
        ("Phase", s.phase.label().to_string()),
        ("Type", or_dash(Some(s.establishment_type.clone()))),
        ("Run by", s.governance.label().to_string()),
        ("Status", s.status.label().to_string()),
    ];
    if let Some(c) = &d.school.census {
        facts.push((
            "Pupils on roll",
            format!("{} on {}", int(u64::from(c.pupils)), date(c.census_date)),
        ));
        facts.push((
            "Eligible for free school meals",
            match c.fsm_count {
                Some(n) => format!("{} pupils ({})", int(u64::from(n)), pct(c.fsm_pct)),
                None => pct(c.fsm_pct),
            },
        ));
    }
    facts.extend([
        ("Sex of pupils", or_dash(s.sex.clone())),
        ("Religious character", or_dash(s.denomination.clone())),
        ("Trust", or_dash(s.trust.clone())),
        ("Postcode", or_dash(s.postcode.clone())),
        ("District", area(&s.district)),
        ("Constituency (2010–2024 boundaries)", area(&s.constituency)),
        ("Ward", area(&s.ward)),
        ("Setting", or_dash(s.urban_rural.clone())),
        (
            "Location",
            s.location.map_or_else(
                || "–".into(),
                |l| {
                    let ll = match (l.latitude, l.longitude) {
                        (Some(a), Some(b)) => format!("; latitude {a:.5}, longitude {b:.5}"),
                        _ => String::new(),
                    };
                    format!("easting {}, northing {} (postcode centre){ll}", l.easting, l.northing)
                },
            ),
        ),
    ]);
    let memberships = d
        .memberships
        .iter()
        .map(|(m, name)| MembershipRow {
            cluster_id: m.cluster,
            cluster: name.clone(),
            role: m.role.label(),
            from: date(m.from),
            to: m.to.map_or_else(|| "Current".into(), date),
        })
        .collect();
    let mut groupings: Vec<String> = d
        .networks
        .iter()
        .map(|(_, name, purpose)| {
            if purpose.is_empty() {
                format!("Network: {name}")
            } else {
                format!("Network: {name} — {purpose}")
            }
        })
        .collect();
    groupings.extend(
        d.areas
            .iter()
            .map(|(kind, layer, _, area)| format!("{} ({layer}): {area}", kind.label())),
    );
    let census = d
        .census_history
        .iter()
        .map(|c| CensusRow {
            day: date(c.census_date),
            pupils: int(u64::from(c.pupils)),
            fte: c.pupils_fte.map_or_else(|| "–".into(), |t| t.to_string()),
            fsm: c.fsm_count.map_or_else(|| "–".into(), |n| int(u64::from(n))),
            fsm_pct: pct(c.fsm_pct),
        })
        .collect();
    let locator = map::locator(&app.service.map(&session.user).await?, urn);
    render(&SchoolPage {
        chrome: chrome(&app, &session, "/schools").await?,
        locator,
        urn,
        name: s.name.clone(),
        phase: s.phase.label(),
        facts,
        memberships,
        groupings,
        census,
    })
}

fn band(pupils: u64) -> (&'static str, &'static str) {
    use domain::overview::{TARGET_MAX_PUPILS, TARGET_MIN_PUPILS};
    if pupils < TARGET_MIN_PUPILS {
        ("Below 2,500", "govuk-tag--orange")
    } else if pupils > TARGET_MAX_PUPILS {
        ("Above 5,000", "govuk-tag--red")
    } else {
        ("2,500–5,000", "govuk-tag--green")
    }
}

#[derive(Debug)]
pub(crate) struct ClusterRow {
    id: ClusterId,
    name: String,
    schools: u32,
    phases: String,
    pupils: String,
    fsm_pct: String,
    band: &'static str,
    band_class: &'static str,
}

fn cluster_row(c: &ClusterSummary) -> ClusterRow {
    let (band, band_class) = band(c.pupils);
    ClusterRow {
        id: c.cluster.id,
        name: c.cluster.name.clone(),
        schools: c.schools,
        phases: format!("{} / {} / {}", c.secondaries, c.primaries, c.others),
        pupils: int(c.pupils),
        fsm_pct: share(c.fsm_count, c.fsm_base),
        band,
        band_class,
    }
}

#[derive(Template)]
#[template(path = "clusters.html")]
struct ClustersPage {
    chrome: Chrome,
    count: usize,
    rows: Vec<ClusterRow>,
}

pub(crate) async fn clusters(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    let list = app.service.clusters(&session.user).await?;
    let mut chrome = chrome(&app, &session, "/clusters").await?;
    chrome.illustrative = list.iter().any(|c| c.cluster.illustrative);
    render(&ClustersPage {
        chrome,
        count: list.len(),
        rows: list.iter().map(cluster_row).collect(),
    })
}

#[derive(Debug)]
pub(crate) struct MemberRow {
    urn: Urn,
    name: String,
    role: &'static str,
    phase: &'static str,
    pupils: String,
    fsm_pct: String,
    since: String,
}

#[derive(Template)]
#[template(path = "cluster.html")]
struct ClusterPage {
    funding: crate::policies::ClusterFunding,
    chrome: Chrome,
    id: ClusterId,
    name: String,
    schools: u32,
    phases: String,
    pupils: String,
    fsm_pct: String,
    band: &'static str,
    band_class: &'static str,
    members: Vec<MemberRow>,
}

pub(crate) async fn cluster(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = ClusterId(id.parse().map_err(|_| WebError::not_found())?);
    let d = app.service.cluster(&session.user, id).await?;
    let row = cluster_row(&d.summary);
    let mut chrome = chrome(&app, &session, "/clusters").await?;
    chrome.illustrative = d.summary.cluster.illustrative;
    let funding = crate::policies::cluster_funding(&app, &session, id).await?;
    render(&ClusterPage {
        funding,
        chrome,
        id,
        name: row.name,
        schools: row.schools,
        phases: format!(
            "{} secondary, {} primary, {} other",
            d.summary.secondaries, d.summary.primaries, d.summary.others
        ),
        pupils: row.pupils,
        fsm_pct: row.fsm_pct,
        band: row.band,
        band_class: row.band_class,
        members: d
            .members
            .iter()
            .map(|(s, role, since)| MemberRow {
                urn: s.school.urn,
                name: s.school.name.clone(),
                role: role.label(),
                phase: s.school.phase.label(),
                pupils: s
                    .census
                    .as_ref()
                    .map_or_else(|| "–".into(), |c| int(u64::from(c.pupils))),
                fsm_pct: pct(s.census.as_ref().and_then(|c| c.fsm_pct)),
                since: date(*since),
            })
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "map.html")]
struct MapPage {
    chrome: Chrome,
    view_box: String,
    points: Vec<map::Point>,
    spokes: Vec<map::Spoke>,
    spoke_width: i64,
    outline_width: i64,
    scale: map::Scale,
    legend: Vec<map::LegendRow>,
    unclustered: usize,
    unplaced: Vec<(Urn, String)>,
    /// The demo's illustrative design scenario, linked from the map.
    design_demo: Option<service::design::ScenarioId>,
}

pub(crate) async fn map(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
) -> Result<Response, WebError> {
    let data = app.service.map(&session.user).await?;
    let drawing = map::draw(&data);
    let mut chrome = chrome(&app, &session, "/map").await?;
    chrome.illustrative = data.illustrative;
    render(&MapPage {
        chrome,
        view_box: drawing.view_box,
        points: drawing.points,
        spokes: drawing.spokes,
        spoke_width: drawing.spoke_width,
        outline_width: drawing.outline_width,
        scale: drawing.scale,
        legend: drawing.legend,
        unclustered: drawing.unclustered,
        unplaced: data.unplaced,
        design_demo: app.service.illustrative_scenario(&session.user).await?,
    })
}

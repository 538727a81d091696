//! `clusterwise allocate`: a policy file, a census file and (optionally) a cluster membership
//! file in; a statement CSV (`cluster,urn,stream,phase,component,amount_pence`) and a
//! reconciliation report out. Same inputs, byte-identical output; a bad policy writes nothing.
//! The policy format is documented in docs/POLICY.md.

use anyhow::{Context, Result, bail};
use domain::NaiveDate;
use domain::cluster::MembershipRole;
use domain::funding::{Component, Granularity, Policy, SchoolFacts, ShareModel, allocate};
use domain::ids::Urn;
use domain::money::Money;
use domain::school::Phase;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    name: String,
    #[serde(default = "penny")]
    granularity: String,
    #[serde(rename = "stream")]
    streams: Vec<StreamFile>,
}

fn penny() -> String {
    "penny".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamFile {
    name: String,
    /// Phase codes the stream funds (default: every state-funded phase).
    phases: Option<Vec<String>>,
    budget: BudgetFile,
    top_slice: Option<TopSliceFile>,
    #[serde(rename = "component")]
    components: Vec<ComponentFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetFile {
    /// A fixed amount for each cluster.
    fixed: Option<String>,
    /// An amount per eligible pupil in the cluster.
    per_pupil: Option<String>,
    /// An amount per eligible school in the cluster.
    per_school: Option<String>,
    /// The least a cluster gets, whatever the per-pupil or per-school sum.
    minimum: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopSliceFile {
    percent: String,
    purpose: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentFile {
    name: String,
    kind: String,
    share: Option<String>,
    amount: Option<String>,
    fsm_weight: Option<String>,
    grade_weights: Option<Vec<u64>>,
    with_lsu_fte: Option<String>,
    other_fte: Option<String>,
    cost_per_fte: Option<String>,
}

/// "12.5" (percent) → 1,250 basis points, exactly; at most two decimal places.
fn basis_points(field: &str, s: &str) -> Result<u32> {
    let t = s.trim().trim_end_matches('%');
    let (w, f) = t.split_once('.').unwrap_or((t, ""));
    if w.is_empty() || f.len() > 2 || !w.bytes().all(|b| b.is_ascii_digit()) || !f.bytes().all(|b| b.is_ascii_digit()) {
        bail!("{field}: {s:?} must be a percentage with at most two decimal places, e.g. 12.5");
    }
    let v: u32 = format!("{w}{f:0<2}")
        .parse()
        .with_context(|| format!("{field}: {s:?} is too large"))?;
    Ok(v)
}

/// "1.5" → 15 tenths, exactly.
fn tenths(field: &str, s: &str) -> Result<u32> {
    domain::school::Tenths::parse(s)
        .and_then(|t| u32::try_from(t.0).ok())
        .with_context(|| format!("{field}: {s:?} must be an FTE with at most one decimal place, e.g. 1.5"))
}

fn money(field: &str, s: &str) -> Result<Money> {
    let m = Money::parse(s).map_err(|e| anyhow::anyhow!("{field}: {e}"))?;
    if m.is_negative() {
        bail!("{field}: {s:?} is negative; amounts are 0 or more");
    }
    Ok(m)
}

fn need<'a>(field: &str, v: &'a Option<String>) -> Result<&'a str> {
    v.as_deref()
        .with_context(|| format!("{field} is required for this kind of component"))
}

fn component(stream: &str, i: usize, c: &ComponentFile) -> Result<Component> {
    let f = |k: &str| format!("stream {stream:?} component {} ({:?}) {k}", i + 1, c.name);
    let share = || basis_points(&f("share"), need(&f("share"), &c.share)?);
    Ok(match c.kind.as_str() {
        "flat_per_school" => Component::FlatPerSchool {
            name: c.name.clone(),
            amount: money(&f("amount"), need(&f("amount"), &c.amount)?)?,
        },
        "posts" => Component::Posts {
            name: c.name.clone(),
            with_lsu_tenths: tenths(&f("with_lsu_fte"), need(&f("with_lsu_fte"), &c.with_lsu_fte)?)?,
            other_tenths: tenths(&f("other_fte"), need(&f("other_fte"), &c.other_fte)?)?,
            cost_per_fte: money(&f("cost_per_fte"), need(&f("cost_per_fte"), &c.cost_per_fte)?)?,
        },
        "equal" => Component::Share {
            name: c.name.clone(),
            share_bp: share()?,
            model: ShareModel::Equal,
        },
        "per_pupil" => Component::Share {
            name: c.name.clone(),
            share_bp: share()?,
            model: ShareModel::PerPupil,
        },
        "fsm_weighted" => {
            let w = need(&f("fsm_weight"), &c.fsm_weight)?;
            let bp = basis_points(&f("fsm_weight"), w).map(|p| p * 100)?;
            Component::Share {
                name: c.name.clone(),
                share_bp: share()?,
                model: ShareModel::FsmWeighted { weight_bp: bp },
            }
        }
        "by_grade" => {
            let w = c
                .grade_weights
                .as_ref()
                .with_context(|| f("grade_weights is required (7 weights, grades 1 to 7)"))?;
            let weights: [u64; 7] = w
                .as_slice()
                .try_into()
                .map_err(|_| anyhow::anyhow!("{}: give exactly 7 weights, for grades 1 to 7", f("grade_weights")))?;
            Component::Share {
                name: c.name.clone(),
                share_bp: share()?,
                model: ShareModel::ByGrade { weights },
            }
        }
        other => bail!(
            "{}: {other:?} is not one of flat_per_school, posts, equal, per_pupil, fsm_weighted, by_grade",
            f("kind")
        ),
    })
}

/// One statement row.
struct Row {
    cluster: String,
    urn: Option<Urn>,
    stream: String,
    phase: String,
    component: String,
    pence: i64,
}

#[derive(Serialize)]
struct ReportRow {
    cluster: String,
    stream: String,
    budget_pence: i64,
    top_slice_pence: i64,
    allocated_pence: i64,
}

#[derive(clap::Args, Debug)]
pub struct AllocateArgs {
    /// The policy file (TOML; see docs/POLICY.md).
    #[arg(long)]
    pub policy: std::path::PathBuf,
    /// The schools: a DfE census CSV (the layout of shared/data/real).
    #[arg(long)]
    pub schools: std::path::PathBuf,
    /// Cluster memberships `urn,cluster[,role]` (default: every school in one cluster, "all").
    #[arg(long)]
    pub clusters: Option<std::path::PathBuf>,
    /// Extra facts per school: `urn,inspection_grade,hosts_lsu` (for by_grade and posts).
    #[arg(long)]
    pub facts: Option<std::path::PathBuf>,
    #[arg(long)]
    pub out: std::path::PathBuf,
    #[arg(long)]
    pub report: Option<std::path::PathBuf>,
    /// Print each line's arithmetic.
    #[arg(long)]
    pub explain: bool,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

pub fn run(args: &AllocateArgs) -> Result<()> {
    let text = String::from_utf8(read(&args.policy)?)
        .with_context(|| format!("{} is not UTF-8 text", args.policy.display()))?;
    let file: PolicyFile =
        toml::from_str(&text).with_context(|| format!("{} is not a valid policy file", args.policy.display()))?;
    let granularity = match file.granularity.as_str() {
        "penny" => Granularity::Penny,
        "pound" => Granularity::Pound,
        g => bail!("granularity: {g:?} must be penny or pound"),
    };
    // Schools.
    let census_date = crate::import::census_date_from_file_name(&args.schools).or(NaiveDate::from_ymd_opt(2023, 1, 19));
    let parsed = domain::import::census::parse(
        &read(&args.schools)?,
        &domain::import::census::CensusOptions { census_date },
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", args.schools.display()))?;
    if let Some(e) = parsed.errors.first() {
        bail!(
            "{}: {} bad row(s); first: {e}",
            args.schools.display(),
            parsed.errors.len()
        );
    }
    let schools: HashMap<Urn, (Phase, u32, u32, bool)> = parsed
        .rows
        .iter()
        .map(|r| {
            let c = r.census.as_ref();
            (
                r.school.urn,
                (
                    r.school.phase,
                    c.map_or(0, |c| c.pupils),
                    c.and_then(|c| c.fsm_count).unwrap_or(0),
                    r.school.is_state_funded(),
                ),
            )
        })
        .collect();
    // Clusters.
    let mut clusters: BTreeMap<String, Vec<(Urn, MembershipRole)>> = BTreeMap::new();
    match &args.clusters {
        Some(path) => {
            let m = domain::import::membership::parse(&read(path)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            if let Some(e) = m.errors.first() {
                bail!("{}: {} bad row(s); first: {e}", path.display(), m.errors.len());
            }
            for r in m.rows {
                if !schools.contains_key(&r.urn) {
                    bail!(
                        "{}: line {}: school {} is not in {}",
                        path.display(),
                        r.line,
                        r.urn,
                        args.schools.display()
                    );
                }
                clusters.entry(r.cluster).or_default().push((r.urn, r.role));
            }
        }
        None => {
            clusters.insert(
                "all".into(),
                schools.keys().map(|u| (*u, MembershipRole::Feeder)).collect(),
            );
        }
    }
    // Facts.
    let mut facts: HashMap<Urn, (Option<u8>, bool)> = HashMap::new();
    if let Some(path) = &args.facts {
        let bytes = read(path)?;
        let mut r = csv::Reader::from_reader(bytes.as_slice());
        for (i, rec) in r.records().enumerate() {
            let rec = rec.with_context(|| format!("{}: line {}", path.display(), i + 2))?;
            let urn = Urn::parse(rec.get(0).unwrap_or_default())
                .map_err(|e| anyhow::anyhow!("{}: line {}, urn: {e}", path.display(), i + 2))?;
            let grade = match rec.get(1).map(str::trim).unwrap_or_default() {
                "" => None,
                g => Some(g.parse::<u8>().ok().filter(|g| (1..=7).contains(g)).with_context(|| {
                    format!(
                        "{}: line {}, inspection_grade: {g:?} must be 1 to 7",
                        path.display(),
                        i + 2
                    )
                })?),
            };
            let lsu = matches!(
                rec.get(2)
                    .map(str::trim)
                    .unwrap_or_default()
                    .to_ascii_lowercase()
                    .as_str(),
                "yes" | "true" | "1"
            );
            facts.insert(urn, (grade, lsu));
        }
    }
    // Allocate every stream in every cluster.
    let mut rows: Vec<Row> = Vec::new();
    let mut report = Vec::new();
    for s in &file.streams {
        let phases: Option<Vec<Phase>> = match &s.phases {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|p| {
                        Phase::from_code(p)
                            .with_context(|| format!("stream {:?} phases: {p:?} is not a phase code", s.name))
                    })
                    .collect::<Result<_>>()?,
            ),
        };
        let components: Vec<Component> = s
            .components
            .iter()
            .enumerate()
            .map(|(i, c)| component(&s.name, i, c))
            .collect::<Result<_>>()?;
        let top_slice = match &s.top_slice {
            Some(t) => Some((
                basis_points(&format!("stream {:?} top_slice.percent", s.name), &t.percent)?,
                t.purpose.clone(),
            )),
            None => None,
        };
        for (cluster, members) in &clusters {
            let facts_of: Vec<SchoolFacts> = members
                .iter()
                .filter_map(|(urn, role)| {
                    let (phase, pupils, fsm, state) = schools.get(urn)?;
                    let (grade, lsu) = facts.get(urn).copied().unwrap_or((None, false));
                    Some(SchoolFacts {
                        urn: *urn,
                        phase: *phase,
                        pupils: *pupils,
                        fsm: *fsm,
                        inspection_grade: grade,
                        hosts_lsu: lsu,
                        eligible: *state && role.is_funded() && phases.as_ref().is_none_or(|ps| ps.contains(phase)),
                    })
                })
                .collect();
            let eligible_pupils: i64 = facts_of
                .iter()
                .filter(|f| f.eligible)
                .map(|f| i64::from(f.pupils))
                .sum();
            let eligible_schools = facts_of.iter().filter(|f| f.eligible).count() as i64;
            let field = |k: &str| format!("stream {:?} budget.{k}", s.name);
            let mut budget = Money::ZERO;
            if let Some(v) = &s.budget.fixed {
                budget = budget
                    .checked_add(money(&field("fixed"), v)?)
                    .context("budget overflow")?;
            }
            if let Some(v) = &s.budget.per_pupil {
                budget = budget
                    .checked_add(
                        money(&field("per_pupil"), v)?
                            .checked_mul(eligible_pupils)
                            .context("budget overflow")?,
                    )
                    .context("budget overflow")?;
            }
            if let Some(v) = &s.budget.per_school {
                budget = budget
                    .checked_add(
                        money(&field("per_school"), v)?
                            .checked_mul(eligible_schools)
                            .context("budget overflow")?,
                    )
                    .context("budget overflow")?;
            }
            if let Some(v) = &s.budget.minimum {
                budget = budget.max(money(&field("minimum"), v)?);
            }
            if eligible_schools == 0 {
                continue;
            }
            let policy = Policy {
                name: file.name.clone(),
                budget,
                granularity,
                top_slice: top_slice.clone(),
                components: components.clone(),
            };
            let a = allocate(&policy, &facts_of)
                .map_err(|e| anyhow::anyhow!("stream {:?}, cluster {cluster:?}: {e}", s.name))?;
            let allocated: i64 = a
                .lines
                .iter()
                .filter(|l| l.urn.is_some())
                .map(|l| l.amount.pence())
                .sum();
            report.push(ReportRow {
                cluster: cluster.clone(),
                stream: s.name.clone(),
                budget_pence: budget.pence(),
                top_slice_pence: a.top_slice.pence(),
                allocated_pence: allocated,
            });
            for l in a.lines {
                if args.explain {
                    println!(
                        "{cluster} · {} · {} · {}: {}",
                        s.name,
                        l.urn.map_or_else(|| "central".into(), |u| u.to_string()),
                        l.component,
                        l.explanation
                    );
                }
                rows.push(Row {
                    cluster: cluster.clone(),
                    urn: l.urn,
                    stream: s.name.clone(),
                    phase: l
                        .urn
                        .and_then(|u| schools.get(&u))
                        .map(|s| s.0.code().to_string())
                        .unwrap_or_default(),
                    component: l.component,
                    pence: l.amount.pence(),
                });
            }
        }
    }
    let mut out = String::from("cluster,urn,stream,phase,component,amount_pence\n");
    for r in &rows {
        let fields = [
            r.cluster.clone(),
            r.urn.map(|u| u.to_string()).unwrap_or_default(),
            r.stream.clone(),
            r.phase.clone(),
            r.component.clone(),
            r.pence.to_string(),
        ];
        out.push_str(
            &fields
                .iter()
                .map(|f| service::register::csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    // Everything is computed before anything is written.
    let report_json = serde_json::to_string_pretty(&report)?;
    write_atomically(&args.out, out.as_bytes())?;
    if let Some(path) = &args.report {
        write_atomically(path, report_json.as_bytes())?;
    }
    Ok(())
}

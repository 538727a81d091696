//! `clusterwise allocate`: a policy file, a census file and (optionally) cluster memberships and
//! per-school facts in; a statement CSV (`cluster,urn,stream,phase,component,amount_pence`) and a
//! reconciliation report out. The TOML policy format (documented in docs/POLICY.md) is read here
//! and converted to the domain's types; the domain never sees TOML. Same inputs, byte-identical
//! output; a bad policy is refused with the field named and nothing is written.

use anyhow::{Context, Result, anyhow, bail};
use domain::NaiveDate;
use domain::cluster::MembershipRole;
use domain::funding::engine::{Component, ShareModel, TopSlice};
use domain::funding::{
    BudgetRule, ClusterInput, Eligibility, Factor, FundingPolicy, Granularity, NationalSplit, NeedIndex, Normalisation,
    Period, Pot, PupilBasis, Pupils, RingFence, SchoolData, Stream, StreamPot, allocate_policy,
};
use domain::ids::Urn;
use domain::money::{Money, Rate};
use domain::school::Phase;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct AllocateArgs {
    /// The policy file (TOML; see docs/POLICY.md).
    #[arg(long)]
    pub policy: PathBuf,
    /// The schools: a DfE census CSV (the layout of shared/data/real).
    #[arg(long)]
    pub schools: PathBuf,
    /// Cluster memberships `urn,cluster[,role]` (default: every school in one cluster, "all").
    #[arg(long)]
    pub clusters: Option<PathBuf>,
    /// Extra facts per school, by header: urn, inspection_grade, hosts_lsu, low_attainment, sen,
    /// unauthorised_absence, exclusions, boys, strands (separated by `;`).
    #[arg(long)]
    pub facts: Option<PathBuf>,
    /// The statement CSV to write.
    #[arg(long)]
    pub out: PathBuf,
    /// The reconciliation report (JSON) to write.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Print each line's arithmetic on standard output.
    #[arg(long)]
    pub explain: bool,
    /// Print how long reading, allocating and writing took on standard error.
    #[arg(long, hide = true)]
    pub timings: bool,
}

// ---- The policy file -------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    name: String,
    #[serde(default)]
    granularity: Option<String>,
    #[serde(rename = "stream")]
    streams: Vec<StreamFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamFile {
    name: String,
    #[serde(default)]
    source: Option<String>,
    /// "2002-03" (financial year) or "academic 2002-03".
    #[serde(default)]
    period: Option<String>,
    /// Only schools taking part in this strand (the facts file's `strands`).
    #[serde(default)]
    strand: Option<String>,
    // A stream with one pot may give the pot's fields here instead of in `[[stream.pot]]`.
    #[serde(default)]
    phase: Option<String>,
    #[serde(default)]
    phases: Option<Vec<String>>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    budget: Option<BudgetFile>,
    #[serde(default)]
    top_slice: Option<TopSliceFile>,
    #[serde(default, rename = "component")]
    components: Vec<ComponentFile>,
    #[serde(default, rename = "pot")]
    pots: Vec<PotFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PotFile {
    /// The ring-fence's phase label: primary, secondary, special or all (default), or any label
    /// with `phases`.
    #[serde(default)]
    phase: Option<String>,
    #[serde(default)]
    phases: Option<Vec<String>>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    budget: Option<BudgetFile>,
    #[serde(default)]
    top_slice: Option<TopSliceFile>,
    #[serde(default, rename = "component")]
    components: Vec<ComponentFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetFile {
    fixed: Option<String>,
    per_pupil: Option<String>,
    per_school: Option<String>,
    minimum: Option<String>,
    /// A national total split between the clusters by `split`.
    national: Option<String>,
    /// equal, pupils or published.
    split: Option<String>,
    /// Cluster name → published amount, for `split = "published"`.
    published: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopSliceFile {
    percent: Num,
    purpose: String,
}

/// A number written as a TOML integer or as a string ("0.5"); never a float.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Num {
    Int(i64),
    Text(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentFile {
    name: String,
    kind: String,
    share: Option<Num>,
    amount: Option<String>,
    rate: Option<String>,
    basis: Option<String>,
    stages: Option<Vec<String>>,
    years: Option<String>,
    fsm_weight: Option<Num>,
    grade_weights: Option<Vec<Num>>,
    ungraded_weight: Option<Num>,
    need: Option<BTreeMap<String, Num>>,
    normalisation: Option<String>,
    minimum: Option<String>,
    activity: Option<String>,
    school: Option<String>,
    schools: Option<Vec<String>>,
    units: Option<u32>,
    unit_cost: Option<String>,
    step: Option<Num>,
    fte: Option<Num>,
    with_lsu_fte: Option<Num>,
    other_fte: Option<Num>,
    cost_per_fte: Option<String>,
    split: Option<String>,
}

/// Field paths for messages: `stream "G&T" pot 1 component 2 ("flat") share`.
struct Field<'a> {
    prefix: &'a str,
}

impl Field<'_> {
    fn at(&self, k: &str) -> String {
        format!("{} {k}", self.prefix)
    }
}

fn decimal(field: &str, n: &Num) -> Result<Decimal> {
    match n {
        Num::Int(i) => Ok(Decimal::from(*i)),
        Num::Text(s) => s
            .trim()
            .trim_end_matches('%')
            .parse::<Decimal>()
            .map_err(|_| anyhow!("{field}: {s:?} is not a number")),
    }
}

fn non_negative(field: &str, n: &Num) -> Result<Decimal> {
    let d = decimal(field, n)?;
    if d.is_sign_negative() && !d.is_zero() {
        bail!("{field}: {d} is negative");
    }
    Ok(d)
}

fn money(field: &str, s: &str) -> Result<Money> {
    let m = Money::parse(s).map_err(|e| anyhow!("{field}: {e}"))?;
    if m.is_negative() {
        bail!("{field}: {s:?} is negative; amounts are 0 or more");
    }
    Ok(m)
}

fn rate(field: &str, s: &str) -> Result<Rate> {
    Rate::parse(s).map_err(|_| anyhow!("{field}: {s:?} is not a rate of 0 or more, like \"10.00\" or \"£2.125\""))
}

fn urn(field: &str, s: &str) -> Result<Urn> {
    Urn::parse(s.trim()).map_err(|e| anyhow!("{field}: {e}"))
}

fn need<T>(f: &Field<'_>, name: &str, v: Option<T>) -> Result<T> {
    v.with_context(|| format!("{} is required for this kind of component", f.at(name)))
}

fn pupils(f: &Field<'_>, c: &ComponentFile) -> Result<Pupils> {
    let basis = match c.basis.as_deref().unwrap_or("headcount") {
        "headcount" => PupilBasis::Headcount,
        "fte" => PupilBasis::Fte,
        b => bail!("{}: {b:?} must be headcount or fte", f.at("basis")),
    };
    match (&c.stages, &c.years) {
        (Some(_), Some(_)) => bail!("{}: give stages or years, not both", f.at("years")),
        (Some(_), None) | (None, Some(_)) if basis == PupilBasis::Fte => bail!(
            "{}: stages and years count headcount (the census gives stages by headcount only)",
            f.at("basis")
        ),
        (Some(list), None) => {
            let mut flags = [false; 7];
            for s in list {
                let i = domain::funding::school::STAGES
                    .iter()
                    .position(|(n, _)| n == s)
                    .with_context(|| {
                        format!(
                            "{}: {s:?} is not one of early_years, nursery, ks1, ks2, ks3, ks4, ks5",
                            f.at("stages")
                        )
                    })?;
                flags[i] = true;
            }
            Ok(Pupils::Stages(flags))
        }
        (None, Some(y)) => {
            let bad = || {
                anyhow!(
                    "{}: {y:?} must be a range of years 1 to 14, like \"5-11\"",
                    f.at("years")
                )
            };
            let (a, b) = y.split_once(['-', '–']).ok_or_else(bad)?;
            let from: u8 = a.trim().parse().map_err(|_| bad())?;
            let to: u8 = b.trim().parse().map_err(|_| bad())?;
            if !(1..=14).contains(&from) || !(from..=14).contains(&to) {
                return Err(bad());
            }
            Ok(Pupils::Years { from, to })
        }
        (None, None) => Ok(Pupils::All(basis)),
    }
}

fn need_index(f: &Field<'_>, c: &ComponentFile) -> Result<NeedIndex> {
    let weights = need(f, "need", c.need.as_ref())?;
    let mut factors = Vec::new();
    for (k, w) in weights {
        let factor = Factor::from_code(k).with_context(|| {
            format!(
                "{}: {k:?} is not one of fsm, fsm_share, low_attainment, sen, unauthorised_absence, exclusions, boys",
                f.at("need")
            )
        })?;
        factors.push((factor, decimal(&f.at(&format!("need.{k}")), w)?));
    }
    let normalisation = match &c.normalisation {
        None => Normalisation::ShareOfTotal,
        Some(n) => Normalisation::from_code(n)
            .with_context(|| format!("{}: {n:?} must be share_of_total or range", f.at("normalisation")))?,
    };
    Ok(NeedIndex { factors, normalisation })
}

fn share_model(f: &Field<'_>, c: &ComponentFile) -> Result<Option<ShareModel>> {
    Ok(Some(match c.kind.as_str() {
        "equal" => ShareModel::Equal,
        "per_pupil" => ShareModel::Pupils(pupils(f, c)?),
        "fsm_weighted" => ShareModel::FsmWeighted {
            weight: non_negative(&f.at("fsm_weight"), need(f, "fsm_weight", c.fsm_weight.as_ref())?)?,
        },
        "fsm_count" => ShareModel::FsmCount,
        "need" => ShareModel::Need(need_index(f, c)?),
        "minimum_then_need" => ShareModel::MinimumThenNeed {
            minimum: money(&f.at("minimum"), need(f, "minimum", c.minimum.as_deref())?)?,
            need: need_index(f, c)?,
        },
        "by_grade" => {
            let w = need(f, "grade_weights", c.grade_weights.as_ref())?;
            if w.len() != 7 {
                bail!("{}: give exactly 7 weights, for grades 1 to 7", f.at("grade_weights"));
            }
            let mut weights = [Decimal::ZERO; 7];
            for (i, x) in w.iter().enumerate() {
                weights[i] = non_negative(&f.at("grade_weights"), x)?;
            }
            ShareModel::ByGrade {
                weights,
                ungraded: c
                    .ungraded_weight
                    .as_ref()
                    .map(|x| non_negative(&f.at("ungraded_weight"), x))
                    .transpose()?,
            }
        }
        _ => return Ok(None),
    }))
}

const KINDS: &str = "flat_per_school, per_pupil_rate, fsm_rate, earmark, lsu_units, posts, pool, equal, per_pupil, \
                     fsm_weighted, fsm_count, need, minimum_then_need, by_grade";

fn component(prefix: &str, c: &ComponentFile) -> Result<Component> {
    let f = Field { prefix };
    let name = c.name.clone();
    let step = || -> Result<Decimal> {
        c.step
            .as_ref()
            .map_or(Ok(Decimal::new(5, 1)), |s| non_negative(&f.at("step"), s))
    };
    if let Some(model) = share_model(&f, c)? {
        let share = need(&f, "share", c.share.as_ref())?;
        let percent = decimal(&f.at("share"), share)?;
        if percent.is_sign_negative() || percent > Decimal::ONE_HUNDRED {
            bail!("{}: {percent}% must be 0 to 100", f.at("share"));
        }
        return Ok(Component::Share { name, percent, model });
    }
    Ok(match c.kind.as_str() {
        "flat_per_school" => Component::Flat {
            name,
            amount: money(&f.at("amount"), need(&f, "amount", c.amount.as_deref())?)?,
        },
        "per_pupil_rate" => Component::PerPupilRate {
            name,
            rate: rate(&f.at("rate"), need(&f, "rate", c.rate.as_deref())?)?,
            pupils: pupils(&f, c)?,
        },
        "fsm_rate" => Component::FsmRate {
            name,
            rate: rate(&f.at("rate"), need(&f, "rate", c.rate.as_deref())?)?,
        },
        "earmark" => Component::Earmark {
            name,
            activity: need(&f, "activity", c.activity.clone())?,
            school: urn(&f.at("school"), need(&f, "school", c.school.as_deref())?)?,
            amount: money(&f.at("amount"), need(&f, "amount", c.amount.as_deref())?)?,
        },
        "lsu_units" => Component::LsuUnits {
            name,
            units: need(&f, "units", c.units)?,
            unit_cost: money(&f.at("unit_cost"), need(&f, "unit_cost", c.unit_cost.as_deref())?)?,
            need: need_index(&f, c)?,
        },
        "posts" => Component::Posts {
            name,
            step: step()?,
            with_lsu: non_negative(
                &f.at("with_lsu_fte"),
                need(&f, "with_lsu_fte", c.with_lsu_fte.as_ref())?,
            )?,
            other: non_negative(&f.at("other_fte"), need(&f, "other_fte", c.other_fte.as_ref())?)?,
            cost_per_fte: money(
                &f.at("cost_per_fte"),
                need(&f, "cost_per_fte", c.cost_per_fte.as_deref())?,
            )?,
        },
        "pool" => Component::Pool {
            name,
            schools: need(&f, "schools", c.schools.as_ref())?
                .iter()
                .map(|s| urn(&f.at("schools"), s))
                .collect::<Result<_>>()?,
            fte: non_negative(&f.at("fte"), need(&f, "fte", c.fte.as_ref())?)?,
            step: step()?,
            cost_per_fte: money(
                &f.at("cost_per_fte"),
                need(&f, "cost_per_fte", c.cost_per_fte.as_deref())?,
            )?,
            split: match c.split.as_deref().unwrap_or("equal") {
                "equal" => ShareModel::Equal,
                "pupils" => ShareModel::Pupils(Pupils::All(PupilBasis::Headcount)),
                s => bail!("{}: {s:?} must be equal or pupils", f.at("split")),
            },
        },
        other => bail!("{}: {other:?} is not one of {KINDS}", f.at("kind")),
    })
}

fn phases_for(label: &str) -> Option<Option<Vec<Phase>>> {
    Some(match label {
        "all" => None,
        "primary" => Some(vec![Phase::Nursery, Phase::Primary, Phase::MiddlePrimary]),
        "secondary" => Some(vec![
            Phase::MiddleSecondary,
            Phase::Secondary,
            Phase::AllThrough,
            Phase::SixteenPlus,
        ]),
        "special" => Some(vec![Phase::Special]),
        "alternative_provision" => Some(vec![Phase::AlternativeProvision]),
        _ => return None,
    })
}

fn budget_rule(prefix: &str, b: &BudgetFile) -> Result<BudgetRule> {
    let f = |k: &str| format!("{prefix} budget.{k}");
    let opt_money = |k: &str, v: &Option<String>| v.as_deref().map(|s| money(&f(k), s)).transpose();
    let national = match &b.national {
        None => {
            if b.split.is_some() || b.published.is_some() {
                bail!("{}: split and published need a national total", f("national"));
            }
            None
        }
        Some(total) => {
            let total = money(&f("national"), total)?;
            let split = match b.split.as_deref().unwrap_or("pupils") {
                "equal" => NationalSplit::Equal,
                "pupils" => NationalSplit::ByPupils,
                "published" => NationalSplit::Published(
                    b.published
                        .as_ref()
                        .with_context(|| format!("{} is required for split = \"published\"", f("published")))?
                        .iter()
                        .map(|(k, v)| Ok((k.clone(), money(&f(&format!("published.{k}")), v)?)))
                        .collect::<Result<_>>()?,
                ),
                s => bail!("{}: {s:?} must be equal, pupils or published", f("split")),
            };
            Some((total, split))
        }
    };
    Ok(BudgetRule {
        fixed: opt_money("fixed", &b.fixed)?,
        per_pupil: b.per_pupil.as_deref().map(|s| rate(&f("per_pupil"), s)).transpose()?,
        per_school: opt_money("per_school", &b.per_school)?,
        national,
        minimum: opt_money("minimum", &b.minimum)?,
    })
}

fn period(field: &str, s: &str) -> Result<Period> {
    let (academic, y) = match s.trim().strip_prefix("academic") {
        Some(rest) => (true, rest.trim()),
        None => (false, s.trim().strip_prefix("financial").unwrap_or(s.trim()).trim()),
    };
    let year: u16 = y
        .split(['-', '–'])
        .next()
        .and_then(|a| a.trim().parse().ok())
        .with_context(|| format!("{field}: {s:?} must be like \"2002-03\" or \"academic 2002-03\""))?;
    Ok(if academic {
        Period::AcademicYear(year)
    } else {
        Period::FinancialYear(year)
    })
}

fn policy(text: &str, path: &Path) -> Result<FundingPolicy> {
    let file: PolicyFile =
        toml::from_str(text).with_context(|| format!("{} is not a valid policy file", path.display()))?;
    let granularity = match &file.granularity {
        None => Granularity::Penny,
        Some(g) => Granularity::from_code(g).with_context(|| format!("granularity: {g:?} must be penny or pound"))?,
    };
    let mut streams = Vec::new();
    for s in &file.streams {
        let single = s.budget.is_some() || !s.components.is_empty() || s.top_slice.is_some() || s.phase.is_some();
        if single && !s.pots.is_empty() {
            bail!(
                "stream {:?}: give the budget and components either in the stream or in [[stream.pot]], not both",
                s.name
            );
        }
        let one;
        let pots: Vec<&PotFile> = if s.pots.is_empty() {
            one = PotFile {
                phase: s.phase.clone(),
                phases: s.phases.clone(),
                exclude: s.exclude.clone(),
                budget: s.budget.clone(),
                top_slice: s.top_slice.clone(),
                components: s.components.clone(),
            };
            vec![&one]
        } else {
            s.pots.iter().collect()
        };
        let mut out = Vec::new();
        for (pi, p) in pots.iter().enumerate() {
            let label = p.phase.clone().unwrap_or_else(|| "all".into());
            let prefix = if s.pots.is_empty() {
                format!("stream {:?}", s.name)
            } else {
                format!("stream {:?} pot {} ({label})", s.name, pi + 1)
            };
            let phases = match &p.phases {
                Some(list) => Some(
                    list.iter()
                        .map(|c| {
                            Phase::from_code(c)
                                .with_context(|| format!("{prefix} phases: {c:?} is not a phase code"))
                        })
                        .collect::<Result<Vec<_>>>()?,
                ),
                None => phases_for(&label).with_context(|| {
                    format!("{prefix} phases: phase {label:?} is not primary, secondary, special, alternative_provision or all, so list its phase codes")
                })?,
            };
            let budget = p
                .budget
                .as_ref()
                .with_context(|| format!("{prefix} budget is required"))?;
            let components = p
                .components
                .iter()
                .enumerate()
                .map(|(i, c)| component(&format!("{prefix} component {} ({:?})", i + 1, c.name), c))
                .collect::<Result<Vec<_>>>()?;
            if components.is_empty() {
                bail!("{prefix} component: a pot needs at least one component");
            }
            let top_slice = match &p.top_slice {
                Some(t) => {
                    let percent = decimal(&format!("{prefix} top_slice.percent"), &t.percent)?;
                    if percent > Decimal::ONE_HUNDRED || (percent.is_sign_negative() && !percent.is_zero()) {
                        bail!("{prefix} top_slice.percent: {percent}% is over 100 % (or negative)");
                    }
                    Some(TopSlice {
                        percent,
                        purpose: t.purpose.clone(),
                    })
                }
                None => None,
            };
            out.push(StreamPot {
                budget: budget_rule(&prefix, budget)?,
                pot: Pot {
                    ring_fence: RingFence {
                        stream: s.name.as_str().into(),
                        phase: label.as_str().into(),
                    },
                    eligibility: Eligibility {
                        phases,
                        strand: s.strand.clone(),
                        excluded: p
                            .exclude
                            .iter()
                            .map(|u| urn(&format!("{prefix} exclude"), u))
                            .collect::<Result<_>>()?,
                    },
                    granularity,
                    top_slice,
                    components,
                },
            });
        }
        streams.push(Stream {
            name: s.name.clone(),
            source: s.source.clone().unwrap_or_default(),
            period: s
                .period
                .as_deref()
                .map(|p| period(&format!("stream {:?} period", s.name), p))
                .transpose()?,
            pots: out,
        });
    }
    Ok(FundingPolicy {
        name: file.name,
        streams,
    })
}

// ---- Inputs ----------------------------------------------------------------------------------

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn schools(path: &Path) -> Result<Vec<SchoolData>> {
    let census_date = crate::import::census_date_from_file_name(path).or(NaiveDate::from_ymd_opt(2023, 1, 19));
    let parsed = domain::import::census::parse(&read(path)?, &domain::import::census::CensusOptions { census_date })
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if let Some(e) = parsed.errors.first() {
        bail!("{}: {} bad row(s); first: {e}", path.display(), parsed.errors.len());
    }
    Ok(parsed
        .rows
        .into_iter()
        .map(|r| {
            let c = r.census.as_ref();
            SchoolData {
                state_funded: r.school.is_state_funded(),
                pupils_fte: c.and_then(|c| c.pupils_fte),
                fsm: c.and_then(|c| c.fsm_count),
                stages: c.map_or([None; 7], |c| c.stages),
                ..SchoolData::new(r.school.urn, r.school.phase, c.map_or(0, |c| c.pupils))
            }
        })
        .collect())
}

fn apply_facts(path: &Path, by_urn: &mut HashMap<Urn, SchoolData>) -> Result<()> {
    let bytes = read(path)?;
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    let headers: Vec<String> = r
        .headers()
        .with_context(|| format!("{}: no header line", path.display()))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let urn_col = col("urn").with_context(|| format!("{}: no urn column", path.display()))?;
    for h in &headers {
        let known = ["urn", "inspection_grade", "hosts_lsu", "strands"].contains(&h.as_str())
            || Factor::SUPPLIED.iter().any(|f| f.code() == h);
        if !known {
            bail!(
                "{}: column {h:?} is not one of urn, inspection_grade, hosts_lsu, strands, low_attainment, sen, unauthorised_absence, exclusions, boys",
                path.display()
            );
        }
    }
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("{}: line {line}", path.display()))?;
        let at = |k: &str| format!("{}: line {line}, {k}", path.display());
        let u = urn(&at("urn"), rec.get(urn_col).unwrap_or_default())?;
        let s = by_urn
            .get_mut(&u)
            .with_context(|| format!("{}: school {u} is not in the schools file", at("urn")))?;
        let get = |name: &str| {
            col(name)
                .and_then(|c| rec.get(c))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        if let Some(g) = get("inspection_grade") {
            s.inspection_grade = Some(
                g.parse::<u8>()
                    .ok()
                    .filter(|g| (1..=7).contains(g))
                    .with_context(|| format!("{}: {g:?} must be 1 to 7", at("inspection_grade")))?,
            );
        }
        if let Some(v) = get("hosts_lsu") {
            s.hosts_lsu = match v.to_ascii_lowercase().as_str() {
                "yes" | "true" | "1" => true,
                "no" | "false" | "0" => false,
                _ => bail!("{}: {v:?} must be yes or no", at("hosts_lsu")),
            };
        }
        if let Some(v) = get("strands") {
            s.strands = Some(
                v.split(';')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect(),
            );
        }
        for (k, f) in Factor::SUPPLIED.iter().enumerate() {
            if let Some(v) = get(f.code()) {
                let d: Decimal = v
                    .parse()
                    .map_err(|_| anyhow!("{}: {v:?} is not a number", at(f.code())))?;
                if d.is_sign_negative() {
                    bail!("{}: {v:?} is negative", at(f.code()));
                }
                s.factors[k] = Some(d);
            }
        }
    }
    Ok(())
}

fn clusters(args: &AllocateArgs, all: Vec<SchoolData>) -> Result<Vec<ClusterInput>> {
    let mut by_urn: HashMap<Urn, SchoolData> = all.into_iter().map(|s| (s.urn, s)).collect();
    if let Some(path) = &args.facts {
        apply_facts(path, &mut by_urn)?;
    }
    let mut out: BTreeMap<String, Vec<SchoolData>> = BTreeMap::new();
    match &args.clusters {
        Some(path) => {
            let m = domain::import::membership::parse(&read(path)?).map_err(|e| anyhow!("{}: {e}", path.display()))?;
            if let Some(e) = m.errors.first() {
                bail!("{}: {} bad row(s); first: {e}", path.display(), m.errors.len());
            }
            for r in m.rows {
                let mut s = by_urn.get(&r.urn).cloned().with_context(|| {
                    format!(
                        "{}: line {}: school {} is not in {}",
                        path.display(),
                        r.line,
                        r.urn,
                        args.schools.display()
                    )
                })?;
                s.role = r.role;
                out.entry(r.cluster).or_default().push(s);
            }
        }
        None => {
            let mut v: Vec<SchoolData> = by_urn.into_values().collect();
            for s in &mut v {
                s.role = MembershipRole::Feeder;
            }
            out.insert("all".into(), v);
        }
    }
    Ok(out
        .into_iter()
        .map(|(name, mut schools)| {
            schools.sort_by_key(|s| s.urn);
            ClusterInput { name, schools }
        })
        .collect())
}

// ---- Outputs ---------------------------------------------------------------------------------

#[derive(Serialize)]
struct ReportRow<'a> {
    cluster: &'a str,
    stream: &'a str,
    phase: &'a str,
    budget_pence: i64,
    top_slice_pence: i64,
    allocated_pence: i64,
    /// Held centrally beyond the top-slice (no share component, or pence below the unit).
    unallocated_pence: i64,
}

/// Writes `bytes` beside `path` and renames it into place, so a reader never sees half a file.
fn write_temp(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.{}.partial", name.to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    Ok(tmp)
}

/// Appends one CSV field: as is when it is plain, otherwise quoted and defused by the register's
/// rule (the same as every other export).
fn csv_field(out: &mut String, value: &str) {
    let plain = !value.starts_with(['=', '+', '-', '@', '\t', '\r']) && !value.contains([',', '"', '\n', '\r']);
    if plain {
        out.push_str(value);
    } else {
        out.push_str(&service::register::csv_field(value));
    }
}

pub fn run(args: &AllocateArgs) -> Result<()> {
    let t0 = Instant::now();
    let text = String::from_utf8(read(&args.policy)?)
        .with_context(|| format!("{} is not UTF-8 text", args.policy.display()))?;
    let policy = policy(&text, &args.policy)?;
    let clusters = clusters(args, schools(&args.schools)?)?;
    let t1 = Instant::now();
    let result = allocate_policy(&policy, &clusters).map_err(|e| anyhow!("{e}"))?;
    let t2 = Instant::now();

    let mut out = String::with_capacity(64 * result.iter().map(|r| r.allocation.lines.len()).sum::<usize>() + 64);
    out.push_str("cluster,urn,stream,phase,component,amount_pence\n");
    let mut report = Vec::with_capacity(result.len());
    let mut explain = String::new();
    for r in &result {
        let cluster = clusters[r.cluster].name.as_str();
        let (stream, phase) = (&*r.ring_fence.stream, &*r.ring_fence.phase);
        let a = &r.allocation;
        if !a.reconciles() {
            bail!("internal error: {cluster} {stream} ({phase}) does not reconcile");
        }
        let allocated = a.allocated().pence();
        report.push(ReportRow {
            cluster,
            stream,
            phase,
            budget_pence: a.budget.pence(),
            top_slice_pence: a.top_slice.pence(),
            allocated_pence: allocated,
            unallocated_pence: a.budget.pence() - a.top_slice.pence() - allocated,
        });
        for l in &a.lines {
            csv_field(&mut out, cluster);
            out.push(',');
            if let Some(u) = l.urn {
                let _ = write!(out, "{u}");
            }
            out.push(',');
            csv_field(&mut out, stream);
            out.push(',');
            csv_field(&mut out, phase);
            out.push(',');
            csv_field(&mut out, &l.component);
            let _ = writeln!(out, ",{}", l.amount.pence());
            if args.explain {
                let who = l.urn.map_or_else(|| "central".to_string(), |u| u.to_string());
                let _ = writeln!(
                    explain,
                    "{cluster} · {stream} ({phase}) · {who} · {}: {}",
                    l.component, l.explanation
                );
            }
        }
        if args.explain {
            let mut urns: Vec<Urn> = a.lines.iter().filter_map(|l| l.urn).collect();
            urns.sort_unstable();
            urns.dedup();
            for u in urns {
                let _ = writeln!(
                    explain,
                    "{cluster} · {stream} ({phase}) · {u} · total: {}",
                    a.school_summary(u)
                );
            }
        }
    }
    let report_json = serde_json::to_string_pretty(&report)? + "\n";
    // Everything is computed before anything is written; both files go in by rename.
    let tmp_out = write_temp(&args.out, out.as_bytes())?;
    let tmp_report = match &args.report {
        Some(path) => match write_temp(path, report_json.as_bytes()) {
            Ok(t) => Some((t, path)),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp_out);
                return Err(e);
            }
        },
        None => None,
    };
    std::fs::rename(&tmp_out, &args.out).with_context(|| format!("cannot write {}", args.out.display()))?;
    if let Some((tmp, path)) = tmp_report {
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.explain {
        print!("{explain}");
    }
    if args.timings {
        let t3 = Instant::now();
        let lines: usize = result.iter().map(|r| r.allocation.lines.len()).sum();
        eprintln!(
            "read {:.1} ms, allocate {:.1} ms ({} clusters, {} pots, {lines} lines), write {:.1} ms",
            (t1 - t0).as_secs_f64() * 1e3,
            (t2 - t1).as_secs_f64() * 1e3,
            clusters.len(),
            result.len(),
            (t3 - t2).as_secs_f64() * 1e3
        );
    }
    Ok(())
}

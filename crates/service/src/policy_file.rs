//! The TOML policy format (documented in docs/POLICY.md) read into the domain's
//! [`FundingPolicy`]. One reader for the `clusterwise allocate` command and for the policies an
//! authority keeps in the app; the domain never sees TOML. A bad policy is refused with the field
//! named (`stream "G&T" pot 1 (primary) component 2 ("flat") share: 120% must be 0 to 100`).

use domain::funding::engine::{Component, ShareModel, TopSlice};
use domain::funding::{
    BudgetRule, Eligibility, Factor, FundingPolicy, Granularity, NationalSplit, NeedIndex, Normalisation, Period, Pot,
    PupilBasis, Pupils, RingFence, Stream, StreamPot,
};
use domain::ids::Urn;
use domain::money::{Money, Rate};
use domain::school::Phase;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Why a policy's text was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyFileError {
    /// The text is not TOML of the policy's shape (an unknown field, a wrong type, a syntax
    /// error); the message names the line and column.
    #[error("{0}")]
    Toml(toml::de::Error),
    /// A field broke a rule; the message names the field and the rule.
    #[error("{0}")]
    Invalid(String),
}

type Result<T> = std::result::Result<T, PolicyFileError>;

/// `invalid!("{field}: ...")`: a field's error.
macro_rules! invalid {
    ($($arg:tt)*) => {
        PolicyFileError::Invalid(format!($($arg)*))
    };
}

/// Returns early with a field's error.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(invalid!($($arg)*))
    };
}

/// A missing value becomes a field's error.
trait Context<T> {
    fn with_context(self, message: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for Option<T> {
    fn with_context(self, message: impl FnOnce() -> String) -> Result<T> {
        self.ok_or_else(|| PolicyFileError::Invalid(message()))
    }
}

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
            .map_err(|_| invalid!("{field}: {s:?} is not a number")),
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
    let m = Money::parse(s).map_err(|e| invalid!("{field}: {e}"))?;
    if m.is_negative() {
        bail!("{field}: {s:?} is negative; amounts are 0 or more");
    }
    Ok(m)
}

fn rate(field: &str, s: &str) -> Result<Rate> {
    Rate::parse(s).map_err(|_| invalid!("{field}: {s:?} is not a rate of 0 or more, like \"10.00\" or \"£2.125\""))
}

fn urn(field: &str, s: &str) -> Result<Urn> {
    Urn::parse(s.trim()).map_err(|e| invalid!("{field}: {e}"))
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
                invalid!(
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

/// Reads a policy file's text into the domain's [`FundingPolicy`]. Every error names the field
/// and the rule it broke; TOML syntax errors are returned as they are (they name the line).
pub fn parse_policy(text: &str) -> Result<FundingPolicy> {
    let file: PolicyFile = toml::from_str(text).map_err(PolicyFileError::Toml)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_policies_parse() {
        for name in [
            "norfolk-admin",
            "excellence-cluster",
            "need-minimum-earmark",
            "welsh-cluster-grant",
        ] {
            let path = format!(
                "{}/../../docs/examples/policies/{name}.toml",
                env!("CARGO_MANIFEST_DIR")
            );
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(parse_policy(&text).is_ok(), "{name}: {:?}", parse_policy(&text).err());
        }
    }

    #[test]
    fn errors_name_the_field_and_rule() {
        let cases = [
            (
                "name = \"x\"\n[[stream]]\nname = \"s\"\nbudget = { fixed = \"100\" }\n[[stream.component]]\nname = \"c\"\nkind = \"equal\"\nshare = \"120\"\n",
                "stream \"s\" component 1 (\"c\") share: 120% must be 0 to 100",
            ),
            (
                "name = \"x\"\n[[stream]]\nname = \"s\"\n[[stream.component]]\nname = \"c\"\nkind = \"equal\"\nshare = \"100\"\n",
                "stream \"s\" budget is required",
            ),
            ("name = \"x\"\nstreams = 3\n", "unknown field `streams`"),
        ];
        for (text, needle) in cases {
            let e = parse_policy(text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(needle), "{e}");
        }
    }
}

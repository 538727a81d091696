//! Funding streams and their budgets: a stream has a source and a period and is ring-fenced by
//! phase into pots; each pot's budget per cluster is fixed, per pupil, per school, or a share of a
//! national allocation (split equally, by pupils, or as published), with an optional minimum.
//! [`allocate_policy`] runs every pot in every cluster.

use super::apportion::{Recipient, Weight, apportion};
use super::engine::{
    Allocation, AllocationError, Component, Explanation, How, Line, LineNames, Pot, RingFence, Scratch,
    allocate_eligible,
};
use super::school::SchoolData;
use crate::ids::Urn;
use crate::money::{Money, Rate, Rounding};
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::fmt;

/// The period a stream's money covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    /// April of the year to March of the next.
    FinancialYear(u16),
    /// September of the year to August of the next.
    AcademicYear(u16),
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, y) = match self {
            Period::FinancialYear(y) => ("financial year", y),
            Period::AcademicYear(y) => ("academic year", y),
        };
        write!(f, "{kind} {y}–{:02}", (y + 1) % 100)
    }
}

/// How a national allocation is split between clusters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NationalSplit {
    /// The same to every cluster (odd units to the clusters listed first).
    Equal,
    /// In proportion to each cluster's eligible pupils (ties to the cluster listed first).
    ByPupils,
    /// The published amount for each cluster, by cluster name; they must add up to the total.
    Published(Vec<(String, Money)>),
}

/// A pot's budget in each cluster: the sum of the terms given, raised to `minimum` if below it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BudgetRule {
    pub fixed: Option<Money>,
    /// Per eligible pupil (headcount), rounded down once to the granularity.
    pub per_pupil: Option<Rate>,
    pub per_school: Option<Money>,
    pub national: Option<(Money, NationalSplit)>,
    pub minimum: Option<Money>,
}

/// One ring-fenced pot of a stream with its budget rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPot {
    pub budget: BudgetRule,
    pub pot: Pot,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    pub name: String,
    /// Who pays: "DfE Excellence Cluster grant", "Norfolk County Council".
    pub source: String,
    pub period: Option<Period>,
    pub pots: Vec<StreamPot>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundingPolicy {
    pub name: String,
    pub streams: Vec<Stream>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInput {
    pub name: String,
    pub schools: Vec<SchoolData>,
}

/// One pot in one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PotAllocation {
    /// Index into the clusters given.
    pub cluster: usize,
    pub ring_fence: RingFence,
    pub allocation: Allocation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct ClusterIx(usize);

impl From<ClusterIx> for Recipient {
    fn from(c: ClusterIx) -> Recipient {
        Recipient::Component(c.0)
    }
}

/// Each cluster's budget for one pot, in cluster order.
pub fn cluster_budgets(rule: &BudgetRule, pot: &Pot, clusters: &[ClusterInput]) -> Result<Vec<Money>, AllocationError> {
    let sizes: Vec<(u64, i64)> = clusters
        .iter()
        .map(|c| {
            c.schools
                .iter()
                .filter(|s| pot.eligibility.admits(s))
                .fold((0u64, 0i64), |(p, n), s| (p + u64::from(s.pupils), n + 1))
        })
        .collect();
    budgets_for_sizes(rule, pot, clusters, &sizes)
}

/// [`cluster_budgets`] given each cluster's eligible pupils and schools.
fn budgets_for_sizes(
    rule: &BudgetRule,
    pot: &Pot,
    clusters: &[ClusterInput],
    sizes: &[(u64, i64)],
) -> Result<Vec<Money>, AllocationError> {
    let stream = pot.ring_fence.to_string();
    let overflow = |field: &'static str| AllocationError::Overflow {
        stream: stream.clone(),
        component: "budget".into(),
        field,
    };
    let negative = |field: &'static str, amount: Money| -> Result<(), AllocationError> {
        if amount.is_negative() {
            return Err(AllocationError::NegativeAmount {
                stream: stream.clone(),
                component: "budget".into(),
                field,
                amount,
            });
        }
        Ok(())
    };
    let national: Vec<Money> = match &rule.national {
        None => vec![Money::ZERO; clusters.len()],
        Some((total, split)) => {
            negative("national.total", *total)?;
            match split {
                NationalSplit::Equal | NationalSplit::ByPupils => {
                    let ws: Vec<(ClusterIx, Weight)> = sizes
                        .iter()
                        .enumerate()
                        .map(|(i, (p, _))| {
                            (
                                ClusterIx(i),
                                if matches!(split, NationalSplit::Equal) {
                                    Weight::ONE
                                } else {
                                    Weight::from(*p)
                                },
                            )
                        })
                        .collect();
                    apportion(*total, &ws, pot.granularity)
                        .map_err(|source| AllocationError::Split {
                            stream: stream.clone(),
                            component: "budget.national".into(),
                            source,
                        })?
                        .into_iter()
                        .map(|(_, m)| m)
                        .collect()
                }
                NationalSplit::Published(amounts) => {
                    for (name, m) in amounts {
                        negative("national.published", *m)?;
                        if !clusters.iter().any(|c| &c.name == name) {
                            return Err(AllocationError::UnknownCluster {
                                stream: stream.clone(),
                                cluster: name.clone(),
                            });
                        }
                    }
                    let published =
                        Money::sum(amounts.iter().map(|(_, m)| m)).ok_or_else(|| overflow("national.published"))?;
                    if published != *total {
                        return Err(AllocationError::PublishedDoesNotSum {
                            stream: stream.clone(),
                            total: *total,
                            published,
                        });
                    }
                    clusters
                        .iter()
                        .map(|c| {
                            amounts
                                .iter()
                                .find(|(n, _)| *n == c.name)
                                .map(|(_, m)| *m)
                                .ok_or_else(|| AllocationError::NoPublishedAmount {
                                    stream: stream.clone(),
                                    cluster: c.name.clone(),
                                })
                        })
                        .collect::<Result<_, _>>()?
                }
            }
        }
    };
    if let Some(m) = rule.fixed {
        negative("fixed", m)?;
    }
    if let Some(m) = rule.per_school {
        negative("per_school", m)?;
    }
    if let Some(m) = rule.minimum {
        negative("minimum", m)?;
    }
    sizes
        .iter()
        .zip(national)
        .map(|((pupils, schools), national)| {
            let mut b = national
                .checked_add(rule.fixed.unwrap_or(Money::ZERO))
                .ok_or_else(|| overflow("fixed"))?;
            if let Some(rate) = rule.per_pupil {
                let exact = rate
                    .times(Decimal::from(*pupils))
                    .ok_or_else(|| overflow("per_pupil"))?;
                let m = Money::round(exact, pot.granularity, Rounding::Down).map_err(|_| overflow("per_pupil"))?;
                b = b.checked_add(m).ok_or_else(|| overflow("per_pupil"))?;
            }
            if let Some(per) = rule.per_school {
                b = b
                    .checked_add(per.checked_mul(*schools).ok_or_else(|| overflow("per_school"))?)
                    .ok_or_else(|| overflow("per_school"))?;
            }
            Ok(b.max(rule.minimum.unwrap_or(Money::ZERO)))
        })
        .collect()
}

/// The schools an earmark or a pool names.
fn named_schools(c: &Component) -> &[Urn] {
    match c {
        Component::Earmark { school, .. } => std::slice::from_ref(school),
        Component::Pool { schools, .. } => schools,
        _ => &[],
    }
}

/// Runs every pot of every stream in every cluster, ordered by cluster, then stream, then pot.
/// An earmark or a pool belongs to the cluster its (first) school is an eligible member of; one
/// naming a school eligible in no cluster is refused. A cluster with no eligible school in a pot
/// keeps that pot's budget (if any) centrally, stated.
pub fn allocate_policy(
    policy: &FundingPolicy,
    clusters: &[ClusterInput],
) -> Result<Vec<PotAllocation>, AllocationError> {
    let mut prepared: Vec<Prepared<'_>> = Vec::new();
    // Where each cluster's schools start in one flat list, for the eligibility masks.
    let mut starts = Vec::with_capacity(clusters.len() + 1);
    starts.push(0);
    for c in clusters {
        starts.push(starts[starts.len() - 1] + c.schools.len());
    }
    for stream in &policy.streams {
        for sp in &stream.pots {
            let pot = &sp.pot;
            // Each school's eligibility for this pot is decided once, here.
            let mut eligible = Vec::with_capacity(starts[clusters.len()]);
            let sizes: Vec<(u64, i64)> = clusters
                .iter()
                .map(|c| {
                    c.schools.iter().fold((0u64, 0i64), |(p, n), s| {
                        let admitted = pot.eligibility.admits(s);
                        eligible.push(admitted);
                        if admitted {
                            (p + u64::from(s.pupils), n + 1)
                        } else {
                            (p, n)
                        }
                    })
                })
                .collect();
            let budgets = budgets_for_sizes(&sp.budget, pot, clusters, &sizes)?;
            let mut owner = Vec::with_capacity(pot.components.len());
            for c in &pot.components {
                let named = named_schools(c);
                match named.first() {
                    None => owner.push(None),
                    Some(first) => {
                        let found = clusters
                            .iter()
                            .position(|cl| cl.schools.iter().any(|s| s.urn == *first && pot.eligibility.admits(s)));
                        match found {
                            Some(i) => owner.push(Some(i)),
                            None => {
                                return Err(AllocationError::UnknownSchool {
                                    stream: pot.ring_fence.to_string(),
                                    component: c.name().to_string(),
                                    urn: *first,
                                });
                            }
                        }
                    }
                }
            }
            prepared.push(Prepared {
                pot,
                budgets,
                owner,
                eligible,
            });
        }
    }
    // Clusters are independent: large runs are split into contiguous chunks on scoped threads
    // and joined in cluster order, so the result (and the first error) is the same on any
    // number of threads.
    let run = |range: std::ops::Range<usize>| -> Result<Vec<PotAllocation>, AllocationError> {
        let mut out = Vec::with_capacity(range.len() * prepared.len());
        let mut work = Work::default();
        for ci in range {
            allocate_cluster(ci, &clusters[ci], starts[ci], &prepared, &mut work, &mut out)?;
        }
        Ok(out)
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    if threads < 2 || clusters.len() < 64 {
        return run(0..clusters.len());
    }
    let chunk = clusters.len().div_ceil(threads);
    // The first chunk runs on the calling thread (its heap already holds the inputs' memory, so
    // the result reuses it), the others on scoped threads.
    let parts: Vec<Result<Vec<PotAllocation>, AllocationError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (chunk..clusters.len())
            .step_by(chunk)
            .map(|start| {
                let end = (start + chunk).min(clusters.len());
                scope.spawn(move || run(start..end))
            })
            .collect();
        let first = run(0..chunk.min(clusters.len()));
        std::iter::once(first)
            .chain(
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
            )
            .collect()
    });
    let mut out = Vec::with_capacity(clusters.len() * prepared.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

struct Prepared<'a> {
    pot: &'a Pot,
    budgets: Vec<Money>,
    /// For each component, the cluster it belongs to (earmarks and pools), or `None` for all.
    owner: Vec<Option<usize>>,
    /// Whether each school (every cluster's, one after another) is eligible for this pot.
    eligible: Vec<bool>,
}

/// One thread's reused buffers.
#[derive(Default)]
struct Work<'a> {
    eligible: Vec<&'a SchoolData>,
    scratch: Scratch,
    /// Each prepared pot's line names, made on this thread when first needed.
    names: Vec<Option<LineNames>>,
}

fn allocate_cluster<'a>(
    ci: usize,
    cluster: &'a ClusterInput,
    start: usize,
    prepared: &[Prepared<'_>],
    work: &mut Work<'a>,
    out: &mut Vec<PotAllocation>,
) -> Result<(), AllocationError> {
    work.names.resize(prepared.len(), None);
    for (pi, p) in prepared.iter().enumerate() {
        let budget = p.budgets[ci];
        let eligible = &mut work.eligible;
        eligible.clear();
        let mask = &p.eligible[start..start + cluster.schools.len()];
        eligible.extend(cluster.schools.iter().zip(mask).filter(|(_, e)| **e).map(|(s, _)| s));
        if !eligible.is_sorted_by_key(|s| s.urn) {
            eligible.sort_by_key(|s| s.urn);
        }
        let allocation = if eligible.is_empty() {
            if budget == Money::ZERO {
                continue;
            }
            Allocation {
                budget,
                top_slice: Money::ZERO,
                lines: vec![Line {
                    urn: None,
                    component: "unallocated".into(),
                    amount: budget,
                    explanation: Explanation {
                        amount: budget,
                        how: How::Unallocated {
                            reason: "no school in this cluster is eligible",
                        },
                    },
                }],
            }
        } else {
            let whole_pot = p.owner.iter().all(Option::is_none);
            let pot: Cow<'_, Pot> = if whole_pot {
                Cow::Borrowed(p.pot)
            } else {
                let mut pot = p.pot.clone();
                pot.components = p
                    .pot
                    .components
                    .iter()
                    .zip(&p.owner)
                    .filter(|(_, o)| o.is_none_or(|o| o == ci))
                    .map(|(c, _)| c.clone())
                    .collect();
                Cow::Owned(pot)
            };
            let own_names;
            let names = if whole_pot {
                work.names[pi].get_or_insert_with(|| LineNames::new(p.pot))
            } else {
                own_names = LineNames::new(&pot);
                &own_names
            };
            allocate_eligible(&pot, budget, eligible, names, &mut work.scratch).map_err(|e| {
                AllocationError::InCluster {
                    cluster: cluster.name.clone(),
                    source: Box::new(e),
                }
            })?
        };
        out.push(PotAllocation {
            cluster: ci,
            ring_fence: p.pot.ring_fence.clone(),
            allocation,
        });
    }
    Ok(())
}

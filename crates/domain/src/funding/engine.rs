//! The allocation engine for one ring-fenced pot (a stream's money for one phase in one
//! cluster): a top-slice retained centrally, then fixed components in the order given (flat per
//! school, per-pupil and FSM rates, earmarks, LSU units, staff posts, pooled posts), then shares of
//! what remains split by a model (equal, pupils, FSM-weighted, FSM count, need index, minimum then
//! need, inspection grade). Every line carries its arithmetic; every result reconciles exactly.

use super::apportion::{ApportionError, Granularity, Weight, WholeSplit, apportion, split_whole, whole_numbers};
use super::need::{NeedError, NeedIndex, SCORE_PLACES, score_from_units};
use super::school::{Eligibility, Pupils, SchoolData};
use crate::ids::Urn;
use crate::money::{Money, Rate, Rounding};
use rust_decimal::Decimal;
use std::fmt;
use std::sync::Arc;

/// The name of a ring-fence: a stream and a phase. Money never moves between ring-fences except by
/// a virement rule (to come), which will name both ends this way.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RingFence {
    pub stream: Arc<str>,
    pub phase: Arc<str>,
}

impl fmt::Display for RingFence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({})", self.stream, self.phase)
    }
}

/// How a share is split between the eligible schools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareModel {
    Equal,
    Pupils(Pupils),
    /// pupils × (1 + w × FSM share) = headcount + w × FSM pupils.
    FsmWeighted {
        weight: Decimal,
    },
    /// In proportion to FSM pupils.
    FsmCount,
    Need(NeedIndex),
    /// `minimum` to every school, then what is left by need.
    MinimumThenNeed {
        minimum: Money,
        need: NeedIndex,
    },
    /// A weight for each grade 1..=7 (worse grades usually weigh more); `ungraded` for schools
    /// with no grade (refused when `None` and a school has none).
    ByGrade {
        weights: [Decimal; 7],
        ungraded: Option<Decimal>,
    },
}

/// One part of a pot's policy. Fixed components come off in the order given; shares split the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Component {
    /// The same amount to every eligible school.
    Flat { name: String, amount: Money },
    /// `rate` per counted pupil, rounded down once to the granularity.
    PerPupilRate { name: String, rate: Rate, pupils: Pupils },
    /// FSM pupils × `rate`, rounded down once to the granularity.
    FsmRate { name: String, rate: Rate },
    /// A sum to the school leading a named activity.
    Earmark {
        name: String,
        activity: String,
        school: Urn,
        amount: Money,
    },
    /// `units` LSU units placed in the schools ranking highest on `need` (ties to the lower URN),
    /// each costing `unit_cost`. Later `Posts` treat those schools as hosting an LSU.
    LsuUnits {
        name: String,
        units: u32,
        unit_cost: Money,
        need: NeedIndex,
    },
    /// Staff posts in whole steps of FTE: `with_lsu` for a school hosting an LSU, `other`
    /// otherwise, at `cost_per_fte`.
    Posts {
        name: String,
        step: Decimal,
        with_lsu: Decimal,
        other: Decimal,
        cost_per_fte: Money,
    },
    /// `fte` of posts (whole steps) shared by a group of schools, the cost split by `split`.
    Pool {
        name: String,
        schools: Vec<Urn>,
        fte: Decimal,
        step: Decimal,
        cost_per_fte: Money,
        split: ShareModel,
    },
    /// `percent` of what is left after the top-slice and the fixed components, split by `model`.
    Share {
        name: String,
        percent: Decimal,
        model: ShareModel,
    },
}

impl Component {
    pub fn name(&self) -> &str {
        match self {
            Component::Flat { name, .. }
            | Component::PerPupilRate { name, .. }
            | Component::FsmRate { name, .. }
            | Component::Earmark { name, .. }
            | Component::LsuUnits { name, .. }
            | Component::Posts { name, .. }
            | Component::Pool { name, .. }
            | Component::Share { name, .. } => name,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopSlice {
    pub percent: Decimal,
    pub purpose: String,
}

/// One ring-fenced pot's rules: who is eligible and how the money is divided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pot {
    pub ring_fence: RingFence,
    pub eligibility: Eligibility,
    pub granularity: Granularity,
    pub top_slice: Option<TopSlice>,
    pub components: Vec<Component>,
}

/// The arithmetic behind one line, rendered on demand by `Display` (statements need the amounts;
/// people reading them need the words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub amount: Money,
    pub how: How,
}

/// How a line's amount was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    TopSlice {
        percent: Decimal,
        purpose: String,
        budget: Money,
        granularity: Granularity,
    },
    Unallocated {
        reason: &'static str,
    },
    Flat,
    Rate {
        count: Decimal,
        what: Arc<str>,
        rate: Rate,
        exact: bool,
        granularity: Granularity,
    },
    Earmark {
        activity: String,
    },
    Lsu {
        rank: usize,
        of: usize,
        score: Decimal,
        unit_cost: Money,
    },
    Post {
        fte: Decimal,
        hosts_lsu: bool,
        cost_per_fte: Money,
    },
    Pool {
        fte: Decimal,
        cost_per_fte: Money,
        pool: Money,
        schools: usize,
        detail: Detail,
    },
    Share {
        percent: Decimal,
        remaining: Money,
        pot: Money,
        detail: Detail,
    },
}

/// A school's part of a split: its weight and the total it was divided by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    Equal {
        schools: usize,
    },
    /// `pupils` says which pupils were counted (its label is rendered when shown).
    Pupils {
        count: Decimal,
        total: Decimal,
        pupils: Pupils,
    },
    FsmWeighted {
        pupils: u32,
        weight: Decimal,
        fsm: u32,
        total: Decimal,
    },
    FsmCount {
        fsm: u32,
        total: Decimal,
    },
    Need {
        score: Decimal,
        total: Decimal,
    },
    MinimumThenNeed {
        minimum: Money,
        rest: Money,
        score: Decimal,
        total: Decimal,
    },
    Grade {
        grade: Option<u8>,
        weight: Decimal,
        total: Decimal,
    },
}

/// One amount to one school (or to the centre when `urn` is `None`) with its arithmetic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub urn: Option<Urn>,
    pub component: Arc<str>,
    pub amount: Money,
    pub explanation: Explanation,
}

impl Line {
    /// The line's arithmetic in full, e.g. "512 pupils × £10.00 = £5,120.00".
    pub fn explain(&self) -> LineText<'_> {
        LineText(self, false)
    }
    /// The short term used in a school's summary, e.g. "512 pupils × £10.00".
    pub fn term(&self) -> LineText<'_> {
        LineText(self, true)
    }
}

/// [`Line::explain`] and [`Line::term`], formatted lazily.
#[derive(Debug)]
pub struct LineText<'a>(&'a Line, bool);

fn pct(d: Decimal) -> String {
    format!("{}%", d.normalize())
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detail::Equal { schools } => write!(f, "an equal share (1 of {schools} schools)"),
            Detail::Pupils { count, total, pupils } => {
                write!(f, "{} of {} {}", count.normalize(), total.normalize(), pupils.label())
            }
            Detail::FsmWeighted {
                pupils,
                weight,
                fsm,
                total,
            } => write!(
                f,
                "{pupils} pupils × (1 + {w} × {fsm}/{pupils} FSM) = {pupils} + {w} × {fsm} = {} of {}",
                (Decimal::from(*pupils) + *weight * Decimal::from(*fsm)).normalize(),
                total.normalize(),
                w = weight.normalize()
            ),
            Detail::FsmCount { fsm, total } => write!(f, "{fsm} of {} FSM pupils", total.normalize()),
            Detail::Need { score, total } => {
                write!(f, "need score {} of {}", score.normalize(), total.normalize())
            }
            Detail::MinimumThenNeed {
                minimum,
                rest,
                score,
                total,
            } => write!(
                f,
                "minimum {minimum} + need score {} of {} of the {rest} left after minimums",
                score.normalize(),
                total.normalize()
            ),
            Detail::Grade { grade, weight, total } => write!(
                f,
                "{} weighs {} of {}",
                grade.map_or_else(|| "no grade".to_string(), |g| format!("grade {g}")),
                weight.normalize(),
                total.normalize()
            ),
        }
    }
}

impl fmt::Display for LineText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let LineText(l, short) = self;
        if !short {
            return l.explanation.fmt(f);
        }
        let amount = l.amount;
        match &l.explanation.how {
            How::TopSlice { .. } => write!(f, "top-slice {amount}"),
            How::Rate { count, what, rate, .. } => write!(f, "{} {what} × {rate}", count.normalize()),
            How::Post { fte, cost_per_fte, .. } => write!(f, "{} FTE × {cost_per_fte}", fte.normalize()),
            How::Lsu { unit_cost, .. } => write!(f, "LSU unit {unit_cost}"),
            _ => write!(f, "{} {amount}", l.component),
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let amount = self.amount;
        match &self.how {
            How::TopSlice {
                percent,
                purpose,
                budget,
                granularity,
            } => write!(
                f,
                "{} of {budget} retained for {purpose}, rounded down {} = {amount}",
                pct(*percent),
                granularity.describe()
            ),
            How::Unallocated { reason } => write!(f, "{amount} held centrally: {reason}"),
            How::Flat => write!(f, "flat {amount} to each eligible school"),
            How::Rate {
                count,
                what,
                rate,
                exact,
                granularity,
            } => {
                write!(f, "{} {what} × {rate} = {amount}", count.normalize())?;
                if !exact {
                    write!(f, " (rounded down {})", granularity.describe())?;
                }
                Ok(())
            }
            How::Earmark { activity } => write!(f, "{amount} earmarked for leading {activity:?}"),
            How::Lsu {
                rank,
                of,
                score,
                unit_cost,
            } => write!(
                f,
                "an LSU unit at {unit_cost}: {} of {of} eligible schools on need (score {})",
                ordinal(*rank),
                score.normalize()
            ),
            How::Post {
                fte,
                hosts_lsu,
                cost_per_fte,
            } => write!(
                f,
                "{} FTE{} × {cost_per_fte} = {amount}",
                fte.normalize(),
                if *hosts_lsu { " (hosts an LSU)" } else { "" }
            ),
            How::Pool {
                fte,
                cost_per_fte,
                pool,
                schools,
                detail,
            } => write!(
                f,
                "a {} FTE pool × {cost_per_fte} = {pool} shared by {schools} schools; {detail} → {amount}",
                fte.normalize()
            ),
            How::Share {
                percent,
                remaining,
                pot,
                detail,
            } => write!(f, "{} of {remaining} is {pot}; {detail} → {amount}", pct(*percent)),
        }
    }
}

/// One pot's result in one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub budget: Money,
    pub top_slice: Money,
    pub lines: Vec<Line>,
}

impl Allocation {
    pub fn school_total(&self, urn: Urn) -> Money {
        Money::sum(self.lines.iter().filter(|l| l.urn == Some(urn)).map(|l| &l.amount)).unwrap_or(Money::ZERO)
    }
    /// What went to schools.
    pub fn allocated(&self) -> Money {
        Money::sum(self.lines.iter().filter(|l| l.urn.is_some()).map(|l| &l.amount)).unwrap_or(Money::ZERO)
    }
    /// What stayed central: the top-slice and anything no component shared.
    pub fn central(&self) -> Money {
        Money::sum(self.lines.iter().filter(|l| l.urn.is_none()).map(|l| &l.amount)).unwrap_or(Money::ZERO)
    }
    /// School lines plus central lines equal the budget, exactly.
    pub fn reconciles(&self) -> bool {
        Money::sum(self.lines.iter().map(|l| &l.amount)) == Some(self.budget)
    }
    /// A school's whole allocation in one line: "flat £5,400.00 + 512 pupils × £10.00 = £10,520.00".
    pub fn school_summary(&self, urn: Urn) -> String {
        let terms: Vec<String> = self
            .lines
            .iter()
            .filter(|l| l.urn == Some(urn))
            .map(|l| l.term().to_string())
            .collect();
        format!("{} = {}", terms.join(" + "), self.school_total(urn))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    #[error("stream {stream} top_slice.percent: {percent}% is over 100 %")]
    TopSliceOver100 { stream: String, percent: Decimal },
    #[error("stream {stream} component {component:?} {field}: {value}% is negative or over 100 %")]
    PercentOutOfRange {
        stream: String,
        component: String,
        field: &'static str,
        value: Decimal,
    },
    #[error("stream {stream} component {component:?} {field}: a negative amount ({amount})")]
    NegativeAmount {
        stream: String,
        component: String,
        field: &'static str,
        amount: Money,
    },
    #[error("stream {stream}: the budget is negative ({0})", .budget)]
    NegativeBudget { stream: String, budget: Money },
    #[error("stream {stream} share: the shares add up to {total}%, not 100 %")]
    SharesNot100 { stream: String, total: Decimal },
    #[error("stream {stream}: no school is eligible")]
    NoEligibleSchools { stream: String },
    #[error("stream {stream}: the fixed components need {needed} but only {available} is left after the top-slice")]
    FixedExceedBudget {
        stream: String,
        needed: Money,
        available: Money,
    },
    #[error(
        "stream {stream} component {component:?} minimum: {schools} schools × {minimum} is more than the share ({share})"
    )]
    MinimumExceedsShare {
        stream: String,
        component: String,
        schools: usize,
        minimum: Money,
        share: Money,
    },
    #[error("stream {stream} component {component:?} {field}: {fte} FTE is not a whole number of {step} FTE steps")]
    FteNotWholeSteps {
        stream: String,
        component: String,
        field: &'static str,
        fte: Decimal,
        step: Decimal,
    },
    #[error("stream {stream} component {component:?} step: the FTE step must be more than 0")]
    ZeroStep { stream: String, component: String },
    #[error("stream {stream} component {component:?} cost_per_fte: {fte} FTE × {cost} is not a whole number of pence")]
    PostCostNotWholePence {
        stream: String,
        component: String,
        fte: Decimal,
        cost: Money,
    },
    #[error("stream {stream} component {component:?} school: {urn} is not an eligible school in this cluster")]
    UnknownSchool {
        stream: String,
        component: String,
        urn: Urn,
    },
    #[error("stream {stream} component {component:?} units: {units} LSU units but only {eligible} eligible schools")]
    TooManyUnits {
        stream: String,
        component: String,
        units: u32,
        eligible: usize,
    },
    #[error("stream {stream} component {component:?} weights: the weights add up to zero")]
    WeightsSumToZero { stream: String, component: String },
    #[error("stream {stream} component {component:?} weights: {what} has a negative weight")]
    NegativeWeight {
        stream: String,
        component: String,
        what: String,
    },
    #[error("stream {stream} component {component:?}: school {urn} has no {field}")]
    MissingData {
        stream: String,
        component: String,
        urn: Urn,
        field: &'static str,
    },
    #[error("stream {stream} component {component:?}: {source}")]
    Split {
        stream: String,
        component: String,
        source: ApportionError,
    },
    #[error(
        "stream {stream} budget.national: the published amounts add up to {published}, not the national total {total}"
    )]
    PublishedDoesNotSum {
        stream: String,
        total: Money,
        published: Money,
    },
    #[error("stream {stream} budget.national: no published amount for cluster {cluster:?}")]
    NoPublishedAmount { stream: String, cluster: String },
    #[error(
        "stream {stream} budget.national: cluster {cluster:?} has a published amount but is not among the clusters"
    )]
    UnknownCluster { stream: String, cluster: String },
    #[error("cluster {cluster:?}: {source}")]
    InCluster {
        cluster: String,
        source: Box<AllocationError>,
    },
    #[error("stream {stream} component {component:?} {field}: the amounts are too large to add up")]
    Overflow {
        stream: String,
        component: String,
        /// The policy-file field whose value made the sum too large.
        field: &'static str,
    },
}

/// Where the engine is, for error messages.
struct At<'a> {
    stream: &'a RingFence,
    component: &'a str,
}

impl At<'_> {
    fn s(&self) -> String {
        self.stream.to_string()
    }
    fn c(&self) -> String {
        self.component.to_string()
    }
    /// The amounts are too large to add up, blamed on `field` of this component.
    fn overflow(&self, field: &'static str) -> AllocationError {
        self.overflow_in(self.component, field)
    }
    /// The same, for a part of the stream that is not one of its components (its budget or
    /// top-slice).
    fn overflow_in(&self, component: &str, field: &'static str) -> AllocationError {
        AllocationError::Overflow {
            stream: self.s(),
            component: component.to_string(),
            field,
        }
    }
    fn split(&self, source: ApportionError) -> AllocationError {
        match source {
            ApportionError::WeightsSumToZero(_) => AllocationError::WeightsSumToZero {
                stream: self.s(),
                component: self.c(),
            },
            source => AllocationError::Split {
                stream: self.s(),
                component: self.c(),
                source,
            },
        }
    }
    fn need(&self, e: NeedError) -> AllocationError {
        match e {
            NeedError::WeightsSumToZero => AllocationError::WeightsSumToZero {
                stream: self.s(),
                component: self.c(),
            },
            NeedError::NegativeWeight(f) => AllocationError::NegativeWeight {
                stream: self.s(),
                component: self.c(),
                what: f.code().to_string(),
            },
            NeedError::Missing { urn, factor } => AllocationError::MissingData {
                stream: self.s(),
                component: self.c(),
                urn,
                field: factor.code(),
            },
            NeedError::Overflow => self.overflow("need"),
        }
    }
    fn negative(&self, field: &'static str, amount: Money) -> Result<(), AllocationError> {
        if amount.is_negative() {
            return Err(AllocationError::NegativeAmount {
                stream: self.s(),
                component: self.c(),
                field,
                amount,
            });
        }
        Ok(())
    }
    fn steps(&self, field: &'static str, fte: Decimal, step: Decimal) -> Result<(), AllocationError> {
        if step <= Decimal::ZERO {
            return Err(AllocationError::ZeroStep {
                stream: self.s(),
                component: self.c(),
            });
        }
        if fte.is_sign_negative() || !(fte % step).is_zero() {
            return Err(AllocationError::FteNotWholeSteps {
                stream: self.s(),
                component: self.c(),
                field,
                fte: fte.normalize(),
                step: step.normalize(),
            });
        }
        Ok(())
    }
    fn post_cost(&self, fte: Decimal, cost: Money) -> Result<Money, AllocationError> {
        let exact = fte
            .checked_mul(cost.to_decimal_pence())
            .ok_or_else(|| self.overflow("cost_per_fte"))?;
        if !exact.fract().is_zero() {
            return Err(AllocationError::PostCostNotWholePence {
                stream: self.s(),
                component: self.c(),
                fte: fte.normalize(),
                cost,
            });
        }
        Money::round(exact, Granularity::Penny, Rounding::Down).map_err(|_| self.overflow("cost_per_fte"))
    }
}

/// The sum of a pot's weights, or an overflow error blaming `field` when they are too large to
/// add.
fn total_of(
    values: impl IntoIterator<Item = Decimal>,
    at: &At<'_>,
    field: &'static str,
) -> Result<Decimal, AllocationError> {
    values
        .into_iter()
        .try_fold(Decimal::ZERO, Decimal::checked_add)
        .ok_or_else(|| at.overflow(field))
}

/// A share model's weight and detail for each school, in order.
fn weights(model: &ShareModel, schools: &[&SchoolData], at: &At<'_>) -> Result<Vec<(Weight, Detail)>, AllocationError> {
    let n = schools.len();
    let missing = |urn: Urn, field: &'static str| AllocationError::MissingData {
        stream: at.s(),
        component: at.c(),
        urn,
        field,
    };
    let negative = |what: String| AllocationError::NegativeWeight {
        stream: at.s(),
        component: at.c(),
        what,
    };
    Ok(match model {
        ShareModel::Equal => vec![(Weight::ONE, Detail::Equal { schools: n }); n],
        ShareModel::Pupils(p) => {
            let counts: Vec<Decimal> = schools
                .iter()
                .map(|s| p.count(s).ok_or_else(|| missing(s.urn, "FTE pupils")))
                .collect::<Result<_, _>>()?;
            let total = total_of(counts.iter().copied(), at, "pupils")?;
            counts
                .into_iter()
                .map(|count| {
                    (
                        Weight::new(count),
                        Detail::Pupils {
                            count,
                            total,
                            pupils: *p,
                        },
                    )
                })
                .collect()
        }
        ShareModel::FsmWeighted { weight } => {
            if weight.is_sign_negative() && !weight.is_zero() {
                return Err(negative("fsm_weight".into()));
            }
            let ws: Vec<(u32, u32, Decimal)> = schools
                .iter()
                .map(|s| {
                    let fsm = s.fsm.ok_or_else(|| missing(s.urn, "FSM count"))?;
                    // A weight as large as the policy file allows can overflow here: an error
                    // naming the stream, not a panic.
                    let w = weight
                        .checked_mul(Decimal::from(fsm))
                        .and_then(|x| x.checked_add(Decimal::from(s.pupils)))
                        .ok_or_else(|| at.overflow("fsm_weight"))?;
                    Ok((s.pupils, fsm, w))
                })
                .collect::<Result<_, AllocationError>>()?;
            let total = total_of(ws.iter().map(|w| w.2), at, "fsm_weight")?;
            ws.into_iter()
                .map(|(pupils, fsm, w)| {
                    (
                        Weight::new(w),
                        Detail::FsmWeighted {
                            pupils,
                            weight: *weight,
                            fsm,
                            total,
                        },
                    )
                })
                .collect()
        }
        ShareModel::FsmCount => {
            let ws: Vec<u32> = schools
                .iter()
                .map(|s| s.fsm.ok_or_else(|| missing(s.urn, "FSM count")))
                .collect::<Result<_, _>>()?;
            let total = Decimal::from(ws.iter().map(|w| u64::from(*w)).sum::<u64>());
            ws.into_iter()
                .map(|fsm| (Weight::from(fsm), Detail::FsmCount { fsm, total }))
                .collect()
        }
        ShareModel::Need(index) => {
            let scores = index.decimal_scores(schools).map_err(|e| at.need(e))?;
            let total = total_of(scores.iter().copied(), at, "need")?;
            scores
                .into_iter()
                .map(|score| (Weight::new(score), Detail::Need { score, total }))
                .collect()
        }
        ShareModel::MinimumThenNeed { .. } => {
            // Handled by the caller, which knows the pot.
            Vec::new()
        }
        ShareModel::ByGrade { weights, ungraded } => {
            if let Some(i) = weights.iter().position(|w| w.is_sign_negative() && !w.is_zero()) {
                return Err(negative(format!("grade {}", i + 1)));
            }
            let ws: Vec<(Option<u8>, Decimal)> = schools
                .iter()
                .map(|s| {
                    let w = match s.inspection_grade {
                        Some(g) if (1..=7).contains(&g) => weights[usize::from(g - 1)],
                        _ => ungraded.ok_or_else(|| missing(s.urn, "inspection grade"))?,
                    };
                    Ok((s.inspection_grade, w))
                })
                .collect::<Result<_, AllocationError>>()?;
            let total = total_of(ws.iter().map(|w| w.1), at, "grade_weights")?;
            ws.into_iter()
                .map(|(grade, weight)| (Weight::new(weight), Detail::Grade { grade, weight, total }))
                .collect()
        }
    })
}

/// Buffers reused by every pot and split of one run (one per thread), so splitting allocates
/// nothing once they have grown.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    whole: WholeSplit,
    weights: Vec<u64>,
    table: Vec<u64>,
    wide: Vec<u128>,
    /// Each school's amount and detail from the last [`split`].
    parts: Vec<(Money, Detail)>,
    share_pots: Vec<Money>,
}

/// A pot's line names, made once and shared by its lines (and by every cluster's run of the
/// pot on one thread).
#[derive(Debug, Clone)]
pub(crate) struct LineNames {
    top_slice: Arc<str>,
    components: Vec<Arc<str>>,
    unallocated: Arc<str>,
}

impl LineNames {
    pub(crate) fn new(pot: &Pot) -> LineNames {
        LineNames {
            top_slice: pot
                .top_slice
                .as_ref()
                .map_or_else(|| "top-slice".into(), |t| format!("top-slice: {}", t.purpose).into()),
            components: pot.components.iter().map(|c| c.name().into()).collect(),
            unallocated: "unallocated".into(),
        }
    }
}

/// Splits `pot` between `schools` (in URN order) by `model`, leaving each school's amount and
/// detail in `scratch.parts`. Whole-number weights take [`split_fast`]; anything else, and
/// every error, the general path.
fn split(
    pot: Money,
    model: &ShareModel,
    schools: &[&SchoolData],
    granularity: Granularity,
    at: &At<'_>,
    scratch: &mut Scratch,
) -> Result<(), AllocationError> {
    if split_fast(pot, model, schools, granularity, scratch).is_some() {
        return Ok(());
    }
    let parts = split_general(pot, model, schools, granularity, at)?;
    scratch.parts.clear();
    scratch.parts.extend(parts);
    Ok(())
}

/// A whole number of 10^-`scale` as a decimal, when it fits.
fn decimal(n: u64, scale: u32) -> Option<Decimal> {
    Decimal::try_from_i128_with_scale(i128::from(n), scale).ok()
}

/// [`split`] for weights that are whole numbers of one unit: an equal share, a headcount (or
/// FTE tenths), FSM pupils, pupils + w × FSM (in units of w's places), grade weights scaled to
/// their most places, need scores in units of 10^-12. The same parts and details as
/// [`split_general`] (the property test `the_fast_split_equals_the_general_one` holds them
/// equal); `None` for anything it does not cover or that would be an error, which the general
/// path then reports.
fn split_fast(
    pot: Money,
    model: &ShareModel,
    schools: &[&SchoolData],
    granularity: Granularity,
    scratch: &mut Scratch,
) -> Option<()> {
    let Scratch {
        whole,
        weights,
        table,
        wide,
        parts,
        ..
    } = scratch;
    let n = schools.len();
    // Ties go to the lower position, which is the lower URN only when the URNs ascend.
    if n == 0 || !schools.windows(2).all(|p| p[0].urn < p[1].urn) {
        return None;
    }
    let unit = granularity.pence();
    let (share, minimum) = match model {
        ShareModel::MinimumThenNeed { minimum, .. } => {
            if minimum.is_negative() {
                return None;
            }
            let rest = pot.checked_sub(minimum.checked_mul(i64::try_from(n).ok()?)?)?;
            (rest, *minimum)
        }
        _ => (pot, Money::ZERO),
    };
    if share.is_negative() || share.pence() % unit != 0 {
        return None;
    }
    let units = u64::try_from(share.pence() / unit).ok()?;
    weights.clear();
    let scale = match model {
        ShareModel::Equal => {
            weights.resize(n, 1);
            0
        }
        ShareModel::Pupils(p) => {
            let scale = p.whole_count_scale()?;
            for s in schools {
                weights.push(p.whole_count(s)?);
            }
            scale
        }
        ShareModel::FsmWeighted { weight } => {
            let (places, lift) = (weight.scale(), 10u64.checked_pow(weight.scale())?);
            let w = u64::try_from(weight.mantissa()).ok()?;
            for s in schools {
                let fsm = u64::from(s.fsm?);
                weights.push(
                    u64::from(s.pupils)
                        .checked_mul(lift)?
                        .checked_add(w.checked_mul(fsm)?)?,
                );
            }
            places
        }
        ShareModel::FsmCount => {
            for s in schools {
                weights.push(u64::from(s.fsm?));
            }
            0
        }
        ShareModel::Need(need) | ShareModel::MinimumThenNeed { need, .. } => {
            need.score_units(schools, weights, wide)?;
            SCORE_PLACES
        }
        ShareModel::ByGrade {
            weights: by_grade,
            ungraded,
        } => {
            let scale = whole_numbers(by_grade.iter().copied().chain(*ungraded), table)?;
            for s in schools {
                let w = match s.inspection_grade {
                    Some(g) if (1..=7).contains(&g) => table[usize::from(g - 1)],
                    _ => {
                        ungraded.as_ref()?;
                        table[7]
                    }
                };
                weights.push(w);
            }
            scale
        }
    };
    split_whole(units, weights, whole)?;
    let total = decimal(weights.iter().try_fold(0u64, |a, w| a.checked_add(*w))?, scale)?;
    parts.clear();
    for ((s, w), part) in schools.iter().zip(weights.iter()).zip(&whole.parts) {
        let amount = Money::from_pence(i64::try_from(*part).ok()?.checked_mul(unit)?);
        let (amount, detail) = match model {
            ShareModel::Equal => (amount, Detail::Equal { schools: n }),
            ShareModel::Pupils(p) => (
                amount,
                Detail::Pupils {
                    count: decimal(*w, scale)?,
                    total,
                    pupils: *p,
                },
            ),
            ShareModel::FsmWeighted { weight } => (
                amount,
                Detail::FsmWeighted {
                    pupils: s.pupils,
                    weight: *weight,
                    fsm: s.fsm?,
                    total,
                },
            ),
            ShareModel::FsmCount => (amount, Detail::FsmCount { fsm: s.fsm?, total }),
            ShareModel::Need(_) => (
                amount,
                Detail::Need {
                    score: score_from_units(*w),
                    total,
                },
            ),
            ShareModel::MinimumThenNeed { .. } => (
                amount.checked_add(minimum)?,
                Detail::MinimumThenNeed {
                    minimum,
                    rest: share,
                    score: score_from_units(*w),
                    total,
                },
            ),
            ShareModel::ByGrade {
                weights: by_grade,
                ungraded,
            } => {
                let weight = match s.inspection_grade {
                    Some(g) if (1..=7).contains(&g) => by_grade[usize::from(g - 1)],
                    _ => (*ungraded)?,
                };
                (
                    amount,
                    Detail::Grade {
                        grade: s.inspection_grade,
                        weight,
                        total,
                    },
                )
            }
        };
        parts.push((amount, detail));
    }
    Some(())
}

/// Splits `pot` between `schools` by `model` in exact decimals, returning each school's amount
/// and detail: the reference for [`split_fast`], and the path for everything else.
fn split_general(
    pot: Money,
    model: &ShareModel,
    schools: &[&SchoolData],
    granularity: Granularity,
    at: &At<'_>,
) -> Result<Vec<(Money, Detail)>, AllocationError> {
    if let ShareModel::MinimumThenNeed { minimum, need } = model {
        at.negative("minimum", *minimum)?;
        let floors = minimum
            .checked_mul(i64::try_from(schools.len()).map_err(|_| at.overflow("minimum"))?)
            .ok_or_else(|| at.overflow("minimum"))?;
        let rest = pot.checked_sub(floors).ok_or_else(|| at.overflow("minimum"))?;
        if rest.is_negative() {
            return Err(AllocationError::MinimumExceedsShare {
                stream: at.s(),
                component: at.c(),
                schools: schools.len(),
                minimum: *minimum,
                share: pot,
            });
        }
        let scores = need.decimal_scores(schools).map_err(|e| at.need(e))?;
        let total: Decimal = scores.iter().sum();
        let ws: Vec<(Urn, Weight)> = schools
            .iter()
            .zip(&scores)
            .map(|(s, w)| (s.urn, Weight::new(*w)))
            .collect();
        let parts = apportion(rest, &ws, granularity).map_err(|e| at.split(e))?;
        return parts
            .into_iter()
            .zip(scores)
            .map(|((_, m), score)| {
                Ok((
                    m.checked_add(*minimum).ok_or_else(|| at.overflow("minimum"))?,
                    Detail::MinimumThenNeed {
                        minimum: *minimum,
                        rest,
                        score,
                        total,
                    },
                ))
            })
            .collect();
    }
    let ws = weights(model, schools, at)?;
    let keyed: Vec<(Urn, Weight)> = schools.iter().zip(&ws).map(|(s, w)| (s.urn, w.0)).collect();
    let parts = apportion(pot, &keyed, granularity).map_err(|e| at.split(e))?;
    Ok(parts.into_iter().zip(ws).map(|((_, m), (_, d))| (m, d)).collect())
}

/// `percent` of `budget` rounded down to the unit in integers, when the decimal arithmetic it
/// replaces is sure to be exact (a budget below 10^15 pence, at most six places, 0 to 100 %);
/// `None` otherwise.
fn top_slice_whole(budget: Money, percent: Decimal, g: Granularity) -> Option<Money> {
    if budget.is_negative() || budget.pence() >= 1_000_000_000_000_000 || percent.scale() > 6 {
        return None;
    }
    let m = Some(percent.mantissa()).filter(|m| (0..=100 * 10i128.pow(percent.scale())).contains(m))?;
    let unit = i128::from(g.pence());
    let divisor = 100 * 10i128.pow(percent.scale()) * unit;
    let units = i128::from(budget.pence()) * m / divisor;
    Money::from_pence(i64::try_from(units * unit).ok()?).into()
}

/// Allocates one pot's `budget` between `schools` (the cluster's members; the pot's eligibility
/// picks who is funded). Same inputs, same output. Earmarks and pools must name eligible schools.
pub fn allocate_pot(pot: &Pot, budget: Money, schools: &[SchoolData]) -> Result<Allocation, AllocationError> {
    let mut eligible: Vec<&SchoolData> = schools.iter().filter(|s| pot.eligibility.admits(s)).collect();
    eligible.sort_by_key(|s| s.urn);
    allocate_eligible(pot, budget, &eligible, &LineNames::new(pot), &mut Scratch::default())
}

/// [`allocate_pot`] for the schools already found eligible, in URN order, with buffers reused
/// from the caller's previous pots.
pub(crate) fn allocate_eligible(
    pot: &Pot,
    budget: Money,
    eligible: &[&SchoolData],
    names: &LineNames,
    scratch: &mut Scratch,
) -> Result<Allocation, AllocationError> {
    let fence = &pot.ring_fence;
    let base = At {
        stream: fence,
        component: "",
    };
    if budget.is_negative() {
        return Err(AllocationError::NegativeBudget {
            stream: base.s(),
            budget,
        });
    }
    if eligible.is_empty() {
        return Err(AllocationError::NoEligibleSchools { stream: base.s() });
    }
    let g = pot.granularity;
    let mut lines: Vec<Line> = Vec::with_capacity(eligible.len() * pot.components.len() + 2);
    // 1. Top-slice, rounded down to the granularity.
    let top_slice = match &pot.top_slice {
        Some(t) => {
            if t.percent > Decimal::ONE_HUNDRED {
                return Err(AllocationError::TopSliceOver100 {
                    stream: base.s(),
                    percent: t.percent.normalize(),
                });
            }
            if t.percent.is_sign_negative() && !t.percent.is_zero() {
                return Err(AllocationError::PercentOutOfRange {
                    stream: base.s(),
                    component: "top_slice".into(),
                    field: "percent",
                    value: t.percent,
                });
            }
            let top = match top_slice_whole(budget, t.percent, g) {
                Some(top) => top,
                None => {
                    let exact = budget.to_decimal_pence() * t.percent / Decimal::ONE_HUNDRED;
                    Money::round(exact, g, Rounding::Down).map_err(|_| base.overflow_in("top_slice", "percent"))?
                }
            };
            lines.push(Line {
                urn: None,
                component: Arc::clone(&names.top_slice),
                amount: top,
                explanation: Explanation {
                    amount: top,
                    how: How::TopSlice {
                        percent: t.percent,
                        purpose: t.purpose.clone(),
                        budget,
                        granularity: g,
                    },
                },
            });
            top
        }
        None => Money::ZERO,
    };
    // 2. Fixed components, in the order given.
    let mut fixed = Money::ZERO;
    let mut lsu_hosts: Vec<Urn> = Vec::new();
    let mut push = |lines: &mut Vec<Line>, urn: Urn, component: &Arc<str>, amount: Money, how: How| {
        lines.push(Line {
            urn: Some(urn),
            component: component.clone(),
            amount,
            explanation: Explanation { amount, how },
        });
        fixed.checked_add(amount).map(|f| fixed = f)
    };
    for (ci, c) in pot.components.iter().enumerate() {
        let at = At {
            stream: fence,
            component: c.name(),
        };
        let name = &names.components[ci];
        match c {
            Component::Share { .. } => {}
            Component::Flat { amount, .. } => {
                at.negative("amount", *amount)?;
                for s in eligible {
                    push(&mut lines, s.urn, name, *amount, How::Flat).ok_or_else(|| at.overflow("amount"))?;
                }
            }
            Component::PerPupilRate { rate, .. } | Component::FsmRate { rate, .. } => {
                // A count per school × a rate: pupils (headcount, FTE, stages or years) or FSM pupils.
                let (what, field): (Arc<str>, &'static str) = match c {
                    Component::PerPupilRate { pupils, .. } => (pupils.label().into(), "FTE pupils"),
                    _ => ("FSM pupils".into(), "FSM count"),
                };
                for s in eligible {
                    let count = match c {
                        Component::PerPupilRate { pupils, .. } => pupils.count(s),
                        _ => s.fsm.map(Decimal::from),
                    }
                    .ok_or_else(|| AllocationError::MissingData {
                        stream: at.s(),
                        component: at.c(),
                        urn: s.urn,
                        field,
                    })?;
                    let exact_pence = rate.times(count).ok_or_else(|| at.overflow("rate"))?;
                    let amount = Money::round(exact_pence, g, Rounding::Down).map_err(|_| at.overflow("rate"))?;
                    let explanation = How::Rate {
                        count,
                        what: what.clone(),
                        rate: *rate,
                        exact: amount.to_decimal_pence() == exact_pence,
                        granularity: g,
                    };
                    push(&mut lines, s.urn, name, amount, explanation).ok_or_else(|| at.overflow("rate"))?;
                }
            }
            Component::Earmark {
                activity,
                school,
                amount,
                ..
            } => {
                at.negative("amount", *amount)?;
                if eligible.binary_search_by_key(school, |s| s.urn).is_err() {
                    return Err(AllocationError::UnknownSchool {
                        stream: at.s(),
                        component: at.c(),
                        urn: *school,
                    });
                }
                push(
                    &mut lines,
                    *school,
                    name,
                    *amount,
                    How::Earmark {
                        activity: activity.clone(),
                    },
                )
                .ok_or_else(|| at.overflow("amount"))?;
            }
            Component::LsuUnits {
                units, unit_cost, need, ..
            } => {
                at.negative("unit_cost", *unit_cost)?;
                let n = usize::try_from(*units).map_err(|_| at.overflow("units"))?;
                if n > eligible.len() {
                    return Err(AllocationError::TooManyUnits {
                        stream: at.s(),
                        component: at.c(),
                        units: *units,
                        eligible: eligible.len(),
                    });
                }
                // Whole units of 10^-12 rank exactly as the scores they stand for.
                let scores: Vec<Decimal> = if need
                    .score_units(eligible, &mut scratch.weights, &mut scratch.wide)
                    .is_some()
                {
                    scratch.weights.iter().map(|u| score_from_units(*u)).collect()
                } else {
                    need.decimal_scores(eligible).map_err(|e| at.need(e))?
                };
                let mut ranked: Vec<usize> = (0..eligible.len()).collect();
                ranked.sort_by(|&a, &b| scores[b].cmp(&scores[a]).then(eligible[a].urn.cmp(&eligible[b].urn)));
                for (rank, &i) in ranked.iter().take(n).enumerate() {
                    lsu_hosts.push(eligible[i].urn);
                    push(
                        &mut lines,
                        eligible[i].urn,
                        name,
                        *unit_cost,
                        How::Lsu {
                            rank: rank + 1,
                            of: eligible.len(),
                            score: scores[i],
                            unit_cost: *unit_cost,
                        },
                    )
                    .ok_or_else(|| at.overflow("unit_cost"))?;
                }
            }
            Component::Posts {
                step,
                with_lsu,
                other,
                cost_per_fte,
                ..
            } => {
                at.negative("cost_per_fte", *cost_per_fte)?;
                at.steps("with_lsu_fte", *with_lsu, *step)?;
                at.steps("other_fte", *other, *step)?;
                // Each of the two costs is worked out once, when first needed.
                let mut costs: [Option<Money>; 2] = [None, None];
                for s in eligible {
                    let hosts = s.hosts_lsu || lsu_hosts.contains(&s.urn);
                    let fte = if hosts { *with_lsu } else { *other };
                    let amount = match costs[usize::from(hosts)] {
                        Some(m) => m,
                        None => *costs[usize::from(hosts)].insert(at.post_cost(fte, *cost_per_fte)?),
                    };
                    push(
                        &mut lines,
                        s.urn,
                        name,
                        amount,
                        How::Post {
                            fte,
                            hosts_lsu: hosts,
                            cost_per_fte: *cost_per_fte,
                        },
                    )
                    .ok_or_else(|| at.overflow("cost_per_fte"))?;
                }
            }
            Component::Pool {
                schools: group,
                fte,
                step,
                cost_per_fte,
                split: model,
                ..
            } => {
                at.negative("cost_per_fte", *cost_per_fte)?;
                at.steps("fte", *fte, *step)?;
                let mut members: Vec<&SchoolData> = Vec::with_capacity(group.len());
                for u in group {
                    match eligible.binary_search_by_key(u, |s| s.urn) {
                        Ok(i) => members.push(eligible[i]),
                        Err(_) => {
                            return Err(AllocationError::UnknownSchool {
                                stream: at.s(),
                                component: at.c(),
                                urn: *u,
                            });
                        }
                    }
                }
                members.sort_by_key(|s| s.urn);
                let pool = at.post_cost(*fte, *cost_per_fte)?;
                // Split in the pot's unit when the cost is whole units of it; otherwise in pence.
                let unit = if pool.pence() % g.pence() == 0 {
                    g
                } else {
                    Granularity::Penny
                };
                split(pool, model, &members, unit, &at, scratch)?;
                for (s, (amount, detail)) in members.iter().zip(scratch.parts.drain(..)) {
                    push(
                        &mut lines,
                        s.urn,
                        name,
                        amount,
                        How::Pool {
                            fte: *fte,
                            cost_per_fte: *cost_per_fte,
                            pool,
                            schools: members.len(),
                            detail,
                        },
                    )
                    .ok_or_else(|| at.overflow("cost_per_fte"))?;
                }
            }
        }
    }
    let available = budget
        .checked_sub(top_slice)
        .ok_or_else(|| base.overflow_in("top_slice", "percent"))?;
    let remaining = available
        .checked_sub(fixed)
        .ok_or_else(|| base.overflow_in("fixed components", "amount"))?;
    if remaining.is_negative() {
        return Err(AllocationError::FixedExceedBudget {
            stream: base.s(),
            needed: fixed,
            available,
        });
    }
    // 3. Shares of what remains (in whole units; odd pence below the unit stay central).
    let shares: Vec<(&Component, &Arc<str>)> = pot
        .components
        .iter()
        .zip(&names.components)
        .filter(|(c, _)| matches!(c, Component::Share { .. }))
        .collect();
    // Down to whole units (`remaining` is not negative here).
    let sharable = Money::from_pence(remaining.pence() - remaining.pence() % g.pence());
    let mut central_rest = remaining
        .checked_sub(sharable)
        .ok_or_else(|| base.overflow_in("budget", "total"))?;
    if shares.is_empty() {
        central_rest = remaining;
    } else {
        let mut total = Decimal::ZERO;
        let mut split_by: Vec<(usize, Weight)> = Vec::with_capacity(shares.len());
        for (i, (c, _)) in shares.iter().enumerate() {
            if let Component::Share { name, percent, .. } = c {
                if percent.is_sign_negative() || *percent > Decimal::ONE_HUNDRED {
                    return Err(AllocationError::PercentOutOfRange {
                        stream: base.s(),
                        component: name.clone(),
                        field: "share",
                        value: percent.normalize(),
                    });
                }
                total += *percent;
                split_by.push((i, Weight::new(*percent)));
            }
        }
        if total != Decimal::ONE_HUNDRED {
            return Err(AllocationError::SharesNot100 {
                stream: base.s(),
                total: total.normalize(),
            });
        }
        // The percentages as whole numbers split the sharable units the way `apportion` would.
        let mut pots = std::mem::take(&mut scratch.share_pots);
        pots.clear();
        let units = u64::try_from(sharable.pence() / g.pence()).ok();
        let fast = units.and_then(|units| {
            whole_numbers(split_by.iter().map(|(_, w)| w.value()), &mut scratch.table)?;
            split_whole(units, &scratch.table, &mut scratch.whole)?;
            for part in &scratch.whole.parts {
                pots.push(Money::from_pence(i64::try_from(*part).ok()?.checked_mul(g.pence())?));
            }
            Some(())
        });
        if fast.is_none() {
            pots.clear();
            let general = apportion(sharable, &split_by, g).map_err(|e| {
                At {
                    stream: fence,
                    component: "share",
                }
                .split(e)
            })?;
            pots.extend(general.into_iter().map(|(_, m)| m));
        }
        for ((c, arc), share_pot) in shares.iter().zip(pots.iter().copied()) {
            let Component::Share { name, percent, model } = c else {
                continue;
            };
            let at = At {
                stream: fence,
                component: name,
            };
            split(share_pot, model, eligible, g, &at, scratch)?;
            for (s, (amount, detail)) in eligible.iter().zip(scratch.parts.drain(..)) {
                lines.push(Line {
                    urn: Some(s.urn),
                    component: Arc::clone(arc),
                    amount,
                    explanation: Explanation {
                        amount,
                        how: How::Share {
                            percent: *percent,
                            remaining: sharable,
                            pot: share_pot,
                            detail,
                        },
                    },
                });
            }
        }
        scratch.share_pots = pots;
    }
    if central_rest != Money::ZERO {
        lines.push(Line {
            urn: None,
            component: Arc::clone(&names.unallocated),
            amount: central_rest,
            explanation: Explanation {
                amount: central_rest,
                how: How::Unallocated {
                    reason: if shares.is_empty() {
                        "left after the fixed components; no share component divides it"
                    } else {
                        "pence below the rounding unit"
                    },
                },
            },
        });
    }
    let allocation = Allocation {
        budget,
        top_slice,
        lines,
    };
    if !allocation.reconciles() {
        // Only when the lines are too large to add up.
        return Err(base.overflow_in("budget", "total"));
    }
    Ok(allocation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funding::need::{Factor, Normalisation};
    use crate::funding::school::PupilBasis;
    use crate::school::{Phase, Tenths};
    use proptest::prelude::*;

    fn model(k: u8, w: i64, places: u32, grades: [i64; 7], ungraded: Option<i64>, minimum: i64) -> ShareModel {
        let need = NeedIndex {
            factors: vec![
                (Factor::Fsm, Decimal::new(w, places)),
                (Factor::LowAttainment, Decimal::new(grades[0], places)),
            ],
            normalisation: if w % 2 == 0 {
                Normalisation::ShareOfTotal
            } else {
                Normalisation::Range
            },
        };
        match k % 10 {
            0 => ShareModel::Equal,
            1 => ShareModel::Pupils(Pupils::All(PupilBasis::Headcount)),
            2 => ShareModel::Pupils(Pupils::All(PupilBasis::Fte)),
            3 => ShareModel::Pupils(Pupils::Stages([true, false, true, true, false, false, w % 3 == 0])),
            4 => ShareModel::FsmWeighted {
                weight: Decimal::new(w, places),
            },
            5 => ShareModel::FsmCount,
            6 => ShareModel::Need(need),
            7 => ShareModel::MinimumThenNeed {
                minimum: Money::from_pence(minimum),
                need,
            },
            8 => ShareModel::Pupils(Pupils::Years { from: 2, to: 9 }),
            _ => ShareModel::ByGrade {
                weights: grades.map(|g| Decimal::new(g, places)),
                ungraded: ungraded.map(|u| Decimal::new(u, places)),
            },
        }
    }

    proptest! {
        /// Whenever the whole-number path answers, it gives exactly the parts and details of
        /// the decimal path (which also answers every case the fast one declines).
        #[test]
        fn the_fast_split_equals_the_general_one(
            schools in proptest::collection::vec(
                (0u32..3_000, proptest::option::of(0u32..900), proptest::option::of(0u8..=8), 0i64..40, any::<bool>()),
                1..25,
            ),
            k in 0u8..10,
            w in 0i64..40,
            places in 0u32..4,
            grades in proptest::array::uniform7(0i64..9),
            ungraded in proptest::option::of(0i64..5),
            minimum in 0i64..20_000,
            pot in 0i64..50_000_000,
            pounds in any::<bool>(),
            shuffle in any::<bool>(),
        ) {
            let data: Vec<SchoolData> = schools
                .iter()
                .enumerate()
                .map(|(i, (pupils, fsm, grade, low, fte))| {
                    let mut s = SchoolData::new(Urn::from_u32(100_000 + i as u32 * 3).unwrap(), Phase::Primary, *pupils);
                    s.fsm = *fsm;
                    s.inspection_grade = *grade;
                    s.pupils_fte = fte.then_some(Tenths(i64::from(*pupils) * 10 + low));
                    s.stages = [Some(pupils / 7), None, Some(pupils / 3), Some(pupils / 2), None, Some(1), Some(2)];
                    s.factors[Factor::LowAttainment.supplied_index().unwrap()] = Some(Decimal::new(*low, places));
                    s
                })
                .collect();
            let mut refs: Vec<&SchoolData> = data.iter().collect();
            if shuffle {
                refs.reverse();
            }
            let g = if pounds { Granularity::Pound } else { Granularity::Penny };
            let pot = Money::from_pence(pot);
            let m = model(k, w, places, grades, ungraded, minimum);
            let fence = RingFence { stream: "s".into(), phase: "all".into() };
            let at = At { stream: &fence, component: "c" };
            let general = split_general(pot, &m, &refs, g, &at);
            let mut scratch = Scratch::default();
            if split_fast(pot, &m, &refs, g, &mut scratch).is_some() {
                prop_assert_eq!(Ok(scratch.parts.clone()), general.clone());
            }
            // And the split the engine uses always answers as the general path does.
            let mut scratch = Scratch::default();
            let used = split(pot, &m, &refs, g, &at, &mut scratch).map(|()| scratch.parts.clone());
            prop_assert_eq!(used, general);
        }

        #[test]
        fn the_integer_top_slice_equals_the_decimal_one(
            budget in 0i64..2_000_000_000_000_000,
            percent in 0i64..=10_000_000,
            places in 0u32..8,
            pounds in any::<bool>(),
        ) {
            let percent = Decimal::new(percent, places);
            prop_assume!(percent <= Decimal::ONE_HUNDRED);
            let g = if pounds { Granularity::Pound } else { Granularity::Penny };
            let budget = Money::from_pence(budget);
            if let Some(top) = top_slice_whole(budget, percent, g) {
                let exact = budget.to_decimal_pence() * percent / Decimal::ONE_HUNDRED;
                prop_assert_eq!(Ok(top), Money::round(exact, g, Rounding::Down));
            }
        }
    }

    /// Found by the `policy_file` fuzz target (2026-12-03): an FSM weight of about 10^28, which
    /// the policy file accepts, overflowed the decimal when multiplied by a school's FSM count:
    /// a panic (a 500 in the policy editor). Weights that large, and grade weights whose sum
    /// is past the decimal's range, are now the stream's "too large to add up" error.
    #[test]
    fn weights_too_large_for_a_decimal_are_an_error_not_a_panic() {
        let data: Vec<SchoolData> = [(1145u32, 173u32), (21, 15), (246, 56)]
            .iter()
            .enumerate()
            .map(|(i, &(pupils, fsm))| {
                let mut s = SchoolData::new(Urn::from_u32(121_164 + i as u32).unwrap(), Phase::Primary, pupils);
                s.fsm = Some(fsm);
                s.inspection_grade = Some(2);
                s
            })
            .collect();
        let refs: Vec<&SchoolData> = data.iter().collect();
        let fence = RingFence {
            stream: "tailored".into(),
            phase: "all".into(),
        };
        let at = At {
            stream: &fence,
            component: "FSM-weighted",
        };
        for (m, field) in [
            (
                ShareModel::FsmWeighted {
                    weight: "12116400000100000000144382016".parse().unwrap(),
                },
                "fsm_weight",
            ),
            (
                ShareModel::ByGrade {
                    weights: [Decimal::MAX; 7],
                    ungraded: None,
                },
                "grade_weights",
            ),
        ] {
            let mut scratch = Scratch::default();
            let e = split(
                Money::from_pence(1_000_000),
                &m,
                &refs,
                Granularity::Penny,
                &at,
                &mut scratch,
            )
            .unwrap_err();
            assert_eq!(
                e,
                AllocationError::Overflow {
                    stream: fence.to_string(),
                    component: "FSM-weighted".into(),
                    field,
                },
                "{m:?}"
            );
            // The message names the stream, the component and the field to fix.
            assert_eq!(
                e.to_string(),
                format!("stream {fence} component \"FSM-weighted\" {field}: the amounts are too large to add up")
            );
        }
    }

    #[test]
    fn the_benchmark_models_take_the_fast_path() {
        let data: Vec<SchoolData> = (0..12u32)
            .map(|i| {
                let mut s = SchoolData::new(Urn::from_u32(100_000 + i).unwrap(), Phase::Primary, 100 + i * 37);
                s.fsm = Some(5 + i * 3);
                s.inspection_grade = Some(1 + (i % 4) as u8);
                s
            })
            .collect();
        let refs: Vec<&SchoolData> = data.iter().collect();
        let need = NeedIndex {
            factors: vec![(Factor::Fsm, Decimal::ONE)],
            normalisation: Normalisation::ShareOfTotal,
        };
        for m in [
            ShareModel::Equal,
            ShareModel::Pupils(Pupils::All(PupilBasis::Headcount)),
            ShareModel::FsmWeighted {
                weight: Decimal::new(15, 1),
            },
            ShareModel::FsmCount,
            ShareModel::Need(need.clone()),
            ShareModel::MinimumThenNeed {
                minimum: Money::from_pence(50_000),
                need,
            },
            ShareModel::ByGrade {
                weights: [1, 2, 3, 4, 5, 6, 7].map(Decimal::from),
                ungraded: None,
            },
        ] {
            let mut scratch = Scratch::default();
            assert_eq!(
                split_fast(
                    Money::from_pence(10_000_000),
                    &m,
                    &refs,
                    Granularity::Penny,
                    &mut scratch
                ),
                Some(()),
                "{m:?}"
            );
        }
    }
}

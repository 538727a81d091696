//! How fair an allocation looks across a cluster's schools: the range of amounts per pupil, the
//! share of money by phase against the share of pupils (clusters fear phase bias), the Gini
//! coefficient of per-pupil amounts, and the amount per pupil eligible for free school meals.
//!
//! Exact where it can be: amounts are pence, per-pupil figures are exact decimal quotients
//! (rust_decimal, 28 significant digits), shares are percentages of exact totals. The Gini
//! coefficient is the mean absolute difference over twice the mean, each school one observation:
//!
//! G = Σᵢ Σⱼ |xᵢ − xⱼ| ÷ (2 · n · Σₖ xₖ), where xᵢ is school i's amount per pupil,
//!
//! so 0 when every school gets the same per pupil and (n − 1) ÷ n when one school gets it all.
//! Schools with no pupils on roll take no part in the per-pupil measures (they are counted).

use crate::ids::Urn;
use crate::money::Money;
use crate::school::Phase;
use rust_decimal::Decimal;

/// The phase groups clusters compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PhaseGroup {
    Primary,
    Secondary,
    /// Special schools, alternative provision and anything else.
    Other,
}

impl PhaseGroup {
    pub const ALL: [PhaseGroup; 3] = [PhaseGroup::Primary, PhaseGroup::Secondary, PhaseGroup::Other];

    pub fn of(phase: Phase) -> PhaseGroup {
        match phase {
            Phase::Nursery | Phase::Primary | Phase::MiddlePrimary => PhaseGroup::Primary,
            Phase::MiddleSecondary | Phase::Secondary | Phase::AllThrough | Phase::SixteenPlus => PhaseGroup::Secondary,
            Phase::Special | Phase::AlternativeProvision | Phase::Independent => PhaseGroup::Other,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PhaseGroup::Primary => "Primary",
            PhaseGroup::Secondary => "Secondary",
            PhaseGroup::Other => "Special and other",
        }
    }
}

/// One school's result under a policy, as the fairness measures need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolOutcome {
    pub urn: Urn,
    pub phase: PhaseGroup,
    pub pupils: u32,
    /// Pupils eligible for free school meals, where known.
    pub fsm: Option<u32>,
    pub amount: Money,
}

impl SchoolOutcome {
    /// Pence per pupil, exact; `None` with no pupils.
    pub fn per_pupil(&self) -> Option<Decimal> {
        (self.pupils > 0).then(|| self.amount.to_decimal_pence() / Decimal::from(self.pupils))
    }
}

/// One phase group's part of the money and of the pupils.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseShare {
    pub group: PhaseGroup,
    pub schools: usize,
    pub pupils: u64,
    pub amount: Money,
    /// Percent of the money to schools (0 when nothing was allocated).
    pub amount_percent: Decimal,
    /// Percent of the pupils.
    pub pupil_percent: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fairness {
    pub schools: usize,
    pub pupils: u64,
    /// Everything the schools get.
    pub total: Money,
    /// The lowest and highest amounts per pupil (pence) and the school with each; ties to the
    /// lower URN.
    pub per_pupil_min: Option<(Urn, Decimal)>,
    pub per_pupil_max: Option<(Urn, Decimal)>,
    /// Pence per pupil across the cluster.
    pub per_pupil_mean: Option<Decimal>,
    /// Every phase group that has a school, in [`PhaseGroup::ALL`] order.
    pub by_phase: Vec<PhaseShare>,
    /// The Gini coefficient of per-pupil amounts (see the module's formula); `None` when no
    /// school has pupils or nothing was allocated.
    pub gini: Option<Decimal>,
    /// Pence per FSM pupil: the total to the schools whose FSM count is known ÷ their FSM pupils.
    pub per_fsm_pupil: Option<Decimal>,
    /// Schools left out of the per-pupil measures (no pupils) and of the FSM figure (not known).
    pub without_pupils: usize,
    pub without_fsm: usize,
}

fn percent(part: Decimal, whole: Decimal) -> Decimal {
    if whole.is_zero() {
        Decimal::ZERO
    } else {
        part * Decimal::ONE_HUNDRED / whole
    }
}

/// The fairness measures of one allocation across a cluster's schools.
pub fn fairness(schools: &[SchoolOutcome]) -> Fairness {
    let total = Money::sum(schools.iter().map(|s| &s.amount)).unwrap_or(Money::ZERO);
    let pupils: u64 = schools.iter().map(|s| u64::from(s.pupils)).sum();
    let mut per_pupil: Vec<(Urn, Decimal)> = schools.iter().filter_map(|s| Some((s.urn, s.per_pupil()?))).collect();
    per_pupil.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    let per_pupil_min = per_pupil.first().copied();
    // Sorted by amount then URN, so the first school at the top amount has the lowest URN.
    let per_pupil_max = per_pupil
        .last()
        .and_then(|top| per_pupil.iter().find(|(_, v)| *v == top.1).copied());
    let counted: Vec<&SchoolOutcome> = schools.iter().filter(|s| s.pupils > 0).collect();
    let counted_total = Money::sum(counted.iter().map(|s| &s.amount)).unwrap_or(Money::ZERO);
    let counted_pupils: u64 = counted.iter().map(|s| u64::from(s.pupils)).sum();
    let per_pupil_mean = (counted_pupils > 0).then(|| counted_total.to_decimal_pence() / Decimal::from(counted_pupils));
    let gini = {
        let xs: Vec<Decimal> = per_pupil.iter().map(|(_, v)| *v).collect();
        let sum: Decimal = xs.iter().copied().sum();
        if xs.is_empty() || sum.is_zero() {
            None
        } else {
            // With the values sorted, Σᵢ Σⱼ |xᵢ − xⱼ| = 2 Σᵢ (2i − n + 1) xᵢ (i from 0): one pass.
            let n = Decimal::from(xs.len());
            let mut weighted = Decimal::ZERO;
            for (i, x) in xs.iter().enumerate() {
                weighted += (Decimal::from(2 * i + 1) - n) * *x;
            }
            Some(weighted * Decimal::TWO / (Decimal::TWO * n * sum))
        }
    };
    let known_fsm: Vec<&SchoolOutcome> = schools.iter().filter(|s| s.fsm.is_some()).collect();
    let fsm_pupils: u64 = known_fsm.iter().map(|s| u64::from(s.fsm.unwrap_or(0))).sum();
    let fsm_total = Money::sum(known_fsm.iter().map(|s| &s.amount)).unwrap_or(Money::ZERO);
    let per_fsm_pupil = (fsm_pupils > 0).then(|| fsm_total.to_decimal_pence() / Decimal::from(fsm_pupils));
    let by_phase = PhaseGroup::ALL
        .iter()
        .filter_map(|g| {
            let in_group: Vec<&SchoolOutcome> = schools.iter().filter(|s| s.phase == *g).collect();
            if in_group.is_empty() {
                return None;
            }
            let amount = Money::sum(in_group.iter().map(|s| &s.amount)).unwrap_or(Money::ZERO);
            let group_pupils: u64 = in_group.iter().map(|s| u64::from(s.pupils)).sum();
            Some(PhaseShare {
                group: *g,
                schools: in_group.len(),
                pupils: group_pupils,
                amount,
                amount_percent: percent(amount.to_decimal_pence(), total.to_decimal_pence()),
                pupil_percent: percent(Decimal::from(group_pupils), Decimal::from(pupils)),
            })
        })
        .collect();
    Fairness {
        schools: schools.len(),
        pupils,
        total,
        per_pupil_min,
        per_pupil_max,
        per_pupil_mean,
        by_phase,
        gini,
        per_fsm_pupil,
        without_pupils: schools.len() - counted.len(),
        without_fsm: schools.len() - known_fsm.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn school(i: u32, phase: PhaseGroup, pupils: u32, fsm: Option<u32>, pounds: i64) -> SchoolOutcome {
        SchoolOutcome {
            urn: Urn::from_u32(100_000 + i).unwrap(),
            phase,
            pupils,
            fsm,
            amount: Money::from_pounds(pounds).unwrap(),
        }
    }

    /// Worked by hand: three schools get £10, £20 and £30 a pupil.
    /// Σ|xᵢ − xⱼ| over ordered pairs = 2 × (10 + 20 + 10) = 80 (in £); 2 · n · Σx = 2 × 3 × 60 = 360;
    /// G = 80 ÷ 360 = 2/9 = 0.2222…
    #[test]
    fn a_hand_computed_case() {
        let f = fairness(&[
            school(1, PhaseGroup::Primary, 100, Some(10), 1_000),
            school(2, PhaseGroup::Primary, 200, Some(30), 4_000),
            school(3, PhaseGroup::Secondary, 1_000, Some(60), 30_000),
        ]);
        assert_eq!(f.total, Money::from_pounds(35_000).unwrap_or(Money::ZERO));
        assert_eq!(
            f.per_pupil_min.map(|(u, v)| (u.get(), v)),
            Some((100_001, Decimal::from(1_000)))
        );
        assert_eq!(
            f.per_pupil_max.map(|(u, v)| (u.get(), v)),
            Some((100_003, Decimal::from(3_000)))
        );
        let g = f.gini.unwrap_or_default();
        assert_eq!(g.round_dp(10), (Decimal::TWO / Decimal::from(9)).round_dp(10), "{g}");
        // £35,000 ÷ 100 FSM pupils = £350 = 35,000p each.
        assert_eq!(f.per_fsm_pupil, Some(Decimal::from(35_000)));
        // Primary: £5,000 of £35,000 = 14.29 %, for 300 of 1,300 pupils = 23.08 %.
        let primary = &f.by_phase[0];
        assert_eq!(primary.group, PhaseGroup::Primary);
        assert_eq!(primary.amount_percent.round_dp(2), Decimal::new(1429, 2));
        assert_eq!(primary.pupil_percent.round_dp(2), Decimal::new(2308, 2));
        assert_eq!(f.by_phase.len(), 2);
        // Mean per pupil: 3,500,000p ÷ 1,300 pupils.
        assert_eq!(f.per_pupil_mean.map(|m| m.round_dp(2)), Some(Decimal::new(269_231, 2)));
    }

    #[test]
    fn equal_per_pupil_is_zero_and_one_takes_all_is_n_minus_one_over_n() {
        let equal = fairness(&[
            school(1, PhaseGroup::Primary, 100, None, 1_000),
            school(2, PhaseGroup::Other, 300, None, 3_000),
        ]);
        assert_eq!(equal.gini, Some(Decimal::ZERO));
        assert_eq!(equal.per_fsm_pupil, None);
        assert_eq!(equal.without_fsm, 2);
        let all = fairness(&[
            school(1, PhaseGroup::Primary, 100, Some(0), 0),
            school(2, PhaseGroup::Primary, 100, Some(0), 0),
            school(3, PhaseGroup::Primary, 100, Some(0), 0),
            school(4, PhaseGroup::Primary, 100, Some(5), 900),
        ]);
        assert_eq!(all.gini, Some(Decimal::new(75, 2)));
        assert_eq!(
            all.per_pupil_min.map(|(u, _)| u.get()),
            Some(100_001),
            "ties to the lower URN"
        );
    }

    #[test]
    fn schools_without_pupils_are_counted_but_not_measured() {
        let f = fairness(&[
            school(1, PhaseGroup::Primary, 0, Some(0), 500),
            school(2, PhaseGroup::Primary, 100, Some(10), 1_000),
        ]);
        assert_eq!(f.without_pupils, 1);
        assert_eq!(f.gini, Some(Decimal::ZERO));
        assert_eq!(f.per_pupil_mean, Some(Decimal::from(1_000)));
        let none = fairness(&[]);
        assert_eq!((none.gini, none.per_pupil_min, none.by_phase.len()), (None, None, 0));
    }

    proptest::proptest! {
        /// The Gini coefficient lies in [0, (n − 1) ÷ n]; the phase shares add up to the total;
        /// the mean per pupil lies between the lowest and the highest.
        #[test]
        fn invariants(schools in proptest::collection::vec((0u32..3, 1u32..2_000, 0u32..500, 0i64..100_000), 1..12)) {
            let outcomes: Vec<SchoolOutcome> = schools
                .iter()
                .enumerate()
                .map(|(i, (g, pupils, fsm, pence))| SchoolOutcome {
                    urn: Urn::from_u32(100_000 + u32::try_from(i).unwrap()).unwrap(),
                    phase: PhaseGroup::ALL[*g as usize],
                    pupils: *pupils,
                    fsm: Some(*fsm.min(pupils)),
                    amount: Money::from_pence(*pence),
                })
                .collect();
            let f = fairness(&outcomes);
            let by_phase = Money::sum(f.by_phase.iter().map(|p| &p.amount)).unwrap();
            proptest::prop_assert_eq!(by_phase, f.total);
            if let Some(g) = f.gini {
                let n = Decimal::from(outcomes.len());
                proptest::prop_assert!(g >= Decimal::ZERO);
                proptest::prop_assert!(g <= (n - Decimal::ONE) / n + Decimal::new(1, 20), "{}", g);
            }
            if let (Some((_, lo)), Some((_, hi)), Some(mean)) = (f.per_pupil_min, f.per_pupil_max, f.per_pupil_mean) {
                proptest::prop_assert!(lo <= mean + Decimal::new(1, 20) && mean <= hi + Decimal::new(1, 20));
            }
        }
    }
}

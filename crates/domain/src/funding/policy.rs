//! Allocation policies: a budget, an optional top-slice retained centrally, fixed components
//! (flat per school, staff posts in FTE steps) and shares of what remains split by a model
//! (equal, per pupil, FSM-weighted, by inspection grade). Every line carries its arithmetic.

use super::apportion::{ApportionError, Granularity, apportion};
use crate::ids::Urn;
use crate::money::Money;
use crate::school::Phase;

/// What the engine needs to know about a school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolFacts {
    pub urn: Urn,
    pub phase: Phase,
    pub pupils: u32,
    pub fsm: u32,
    /// 1 (best) to 7 (worst), where a grade is held.
    pub inspection_grade: Option<u8>,
    pub hosts_lsu: bool,
    /// In the stream: right phase, taking part in the strand, not excluded, a funded member.
    pub eligible: bool,
}

/// How a share is split between eligible schools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareModel {
    Equal,
    PerPupil,
    /// pupils × (1 + w × FSM share), which is pupils + w × FSM pupils; `w` in basis points (10,000 = 1).
    FsmWeighted {
        weight_bp: u32,
    },
    /// A weight for each grade 1..=7 (worse grades usually weigh more).
    ByGrade {
        weights: [u64; 7],
    },
}

impl ShareModel {
    fn weight(&self, s: &SchoolFacts) -> u64 {
        match self {
            ShareModel::Equal => 1,
            ShareModel::PerPupil => u64::from(s.pupils),
            ShareModel::FsmWeighted { weight_bp } => {
                u64::from(s.pupils) * 10_000 + u64::from(*weight_bp) * u64::from(s.fsm)
            }
            ShareModel::ByGrade { weights } => s
                .inspection_grade
                .and_then(|g| weights.get(usize::from(g).checked_sub(1)?))
                .copied()
                .unwrap_or(0),
        }
    }
    fn describe(&self, s: &SchoolFacts, weight: u64, total: u64) -> String {
        match self {
            ShareModel::Equal => format!("an equal share (1 of {total} schools)"),
            ShareModel::PerPupil => format!("{weight} of {total} pupils"),
            ShareModel::FsmWeighted { weight_bp } => format!(
                "{} pupils + {}.{:04} × {} FSM pupils, of the cluster's weighted total",
                s.pupils,
                weight_bp / 10_000,
                weight_bp % 10_000,
                s.fsm
            ),
            ShareModel::ByGrade { .. } => format!(
                "grade {} weighs {weight} of {total}",
                s.inspection_grade.map_or_else(|| "none".to_string(), |g| g.to_string())
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Component {
    /// The same fixed amount to each eligible school.
    FlatPerSchool { name: String, amount: Money },
    /// Staff posts in tenths of an FTE: `with_lsu_tenths` for a school hosting an LSU, otherwise
    /// `other_tenths`, each FTE costing `cost_per_fte`.
    Posts {
        name: String,
        with_lsu_tenths: u32,
        other_tenths: u32,
        cost_per_fte: Money,
    },
    /// `share_bp` basis points (10,000 = 100 %) of what remains after the top-slice and the fixed
    /// components, split by `model`.
    Share {
        name: String,
        share_bp: u32,
        model: ShareModel,
    },
}

impl Component {
    pub fn name(&self) -> &str {
        match self {
            Component::FlatPerSchool { name, .. } | Component::Posts { name, .. } | Component::Share { name, .. } => {
                name
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub budget: Money,
    pub granularity: Granularity,
    /// Basis points retained centrally, with its purpose. Rounded down to the granularity; the
    /// rest goes to schools.
    pub top_slice: Option<(u32, String)>,
    pub components: Vec<Component>,
}

/// One amount to one school (or to the centre, when `urn` is `None`) with its arithmetic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub urn: Option<Urn>,
    pub component: String,
    pub amount: Money,
    pub explanation: String,
}

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
    /// School lines plus the top-slice equal the budget, exactly.
    pub fn reconciles(&self) -> bool {
        Money::sum(self.lines.iter().map(|l| &l.amount)) == Some(self.budget)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    #[error("top_slice: {0} basis points is over 100 %")]
    TopSliceOver100(u32),
    #[error("the budget is negative ({0})")]
    NegativeBudget(Money),
    #[error("component {component:?}: a negative amount ({amount})")]
    NegativeAmount { component: String, amount: Money },
    #[error("the shares add up to {0} basis points, not 10,000 (100 %)")]
    SharesNot100(u32),
    #[error("no school is eligible for this stream")]
    NoEligibleSchools,
    #[error("the fixed components need {needed} but only {available} is left after the top-slice")]
    FixedExceedBudget { needed: Money, available: Money },
    #[error("component {component:?}: {tenths} tenths of an FTE at {cost} is not a whole number of pence")]
    PostCostNotWholePence {
        component: String,
        tenths: u32,
        cost: Money,
    },
    #[error("component {component:?}: {source}")]
    Split { component: String, source: ApportionError },
    #[error("the amounts are too large to add up")]
    Overflow,
}

/// Allocates a policy's budget between schools. Same inputs, same output.
pub fn allocate(policy: &Policy, schools: &[SchoolFacts]) -> Result<Allocation, AllocationError> {
    if policy.budget.is_negative() {
        return Err(AllocationError::NegativeBudget(policy.budget));
    }
    let mut eligible: Vec<&SchoolFacts> = schools.iter().filter(|s| s.eligible).collect();
    eligible.sort_by_key(|s| s.urn);
    if eligible.is_empty() {
        return Err(AllocationError::NoEligibleSchools);
    }
    let mut lines = Vec::new();
    // Top-slice, rounded down to the granularity.
    let top_slice = match &policy.top_slice {
        Some((bp, _)) if *bp > 10_000 => return Err(AllocationError::TopSliceOver100(*bp)),
        Some((bp, purpose)) => {
            let unit: i128 = if policy.granularity == Granularity::Pound {
                100
            } else {
                1
            };
            let raw = i128::from(policy.budget.pence()) * i128::from(*bp) / 10_000;
            let top = Money::from_pence(i64::try_from(raw / unit * unit).map_err(|_| AllocationError::Overflow)?);
            lines.push(Line {
                urn: None,
                component: format!("top-slice: {purpose}"),
                amount: top,
                explanation: format!(
                    "{}.{:02}% of {}, rounded down {} = {top}",
                    bp / 100,
                    bp % 100,
                    policy.budget,
                    policy.granularity.describe()
                ),
            });
            top
        }
        None => Money::ZERO,
    };
    // Fixed components.
    let mut fixed = Money::ZERO;
    for c in &policy.components {
        match c {
            Component::FlatPerSchool { name, amount } => {
                if amount.is_negative() {
                    return Err(AllocationError::NegativeAmount {
                        component: name.clone(),
                        amount: *amount,
                    });
                }
                for s in &eligible {
                    lines.push(Line {
                        urn: Some(s.urn),
                        component: name.clone(),
                        amount: *amount,
                        explanation: format!("flat {amount}"),
                    });
                    fixed = fixed.checked_add(*amount).ok_or(AllocationError::Overflow)?;
                }
            }
            Component::Posts {
                name,
                with_lsu_tenths,
                other_tenths,
                cost_per_fte,
            } => {
                if cost_per_fte.is_negative() {
                    return Err(AllocationError::NegativeAmount {
                        component: name.clone(),
                        amount: *cost_per_fte,
                    });
                }
                for s in &eligible {
                    let tenths = if s.hosts_lsu { *with_lsu_tenths } else { *other_tenths };
                    let pence = i128::from(cost_per_fte.pence()) * i128::from(tenths);
                    if pence % 10 != 0 {
                        return Err(AllocationError::PostCostNotWholePence {
                            component: name.clone(),
                            tenths,
                            cost: *cost_per_fte,
                        });
                    }
                    let amount = Money::from_pence(i64::try_from(pence / 10).map_err(|_| AllocationError::Overflow)?);
                    lines.push(Line {
                        urn: Some(s.urn),
                        component: name.clone(),
                        amount,
                        explanation: format!(
                            "{}.{} FTE{} × {cost_per_fte} = {amount}",
                            tenths / 10,
                            tenths % 10,
                            if s.hosts_lsu { " (hosts an LSU)" } else { "" }
                        ),
                    });
                    fixed = fixed.checked_add(amount).ok_or(AllocationError::Overflow)?;
                }
            }
            Component::Share { .. } => {}
        }
    }
    let available = policy.budget.checked_sub(top_slice).ok_or(AllocationError::Overflow)?;
    let remaining = available.checked_sub(fixed).ok_or(AllocationError::Overflow)?;
    if remaining.is_negative() {
        return Err(AllocationError::FixedExceedBudget {
            needed: fixed,
            available,
        });
    }
    // Shares of what remains.
    let shares: Vec<(usize, &Component)> = policy
        .components
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c, Component::Share { .. }))
        .collect();
    if shares.is_empty() {
        if remaining != Money::ZERO {
            // Nothing shares the remainder: it stays central, stated as such.
            lines.push(Line {
                urn: None,
                component: "unallocated".into(),
                amount: remaining,
                explanation: format!("{remaining} left after the fixed components, held centrally"),
            });
        }
    } else {
        let total_bp: u32 = shares
            .iter()
            .map(|(_, c)| {
                if let Component::Share { share_bp, .. } = c {
                    *share_bp
                } else {
                    0
                }
            })
            .sum();
        if total_bp != 10_000 {
            return Err(AllocationError::SharesNot100(total_bp));
        }
        let split: Vec<(usize, u64)> = shares
            .iter()
            .map(|(i, c)| {
                (
                    *i,
                    if let Component::Share { share_bp, .. } = c {
                        u64::from(*share_bp)
                    } else {
                        0
                    },
                )
            })
            .collect();
        let pots = apportion(remaining, &split, policy.granularity).map_err(|source| AllocationError::Split {
            component: "shares".into(),
            source,
        })?;
        for ((_, c), (_, pot)) in shares.iter().zip(pots) {
            let Component::Share { name, share_bp, model } = c else {
                continue;
            };
            let weights: Vec<(Urn, u64)> = eligible.iter().map(|s| (s.urn, model.weight(s))).collect();
            let total_weight: u64 = weights.iter().map(|w| w.1).sum();
            let parts = apportion(pot, &weights, policy.granularity).map_err(|source| AllocationError::Split {
                component: name.clone(),
                source,
            })?;
            for ((s, (_, amount)), (_, w)) in eligible.iter().zip(parts).zip(&weights) {
                lines.push(Line {
                    urn: Some(s.urn),
                    component: name.clone(),
                    amount,
                    explanation: format!(
                        "{}.{:02}% of {remaining} is {pot}; {} → {amount}",
                        share_bp / 100,
                        share_bp % 100,
                        model.describe(s, *w, total_weight)
                    ),
                });
            }
        }
    }
    let allocation = Allocation {
        budget: policy.budget,
        top_slice,
        lines,
    };
    if !allocation.reconciles() {
        return Err(AllocationError::Overflow);
    }
    Ok(allocation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn urn(i: u32) -> Urn {
        Urn::from_u32(100_000 + i).unwrap()
    }

    fn school(i: u32, pupils: u32, fsm: u32, grade: Option<u8>, lsu: bool) -> SchoolFacts {
        SchoolFacts {
            urn: urn(i),
            phase: Phase::Primary,
            pupils,
            fsm,
            inspection_grade: grade,
            hosts_lsu: lsu,
            eligible: true,
        }
    }

    fn policy(budget_pounds: i64, top: Option<u32>, components: Vec<Component>) -> Policy {
        Policy {
            name: "test".into(),
            budget: Money::from_pounds(budget_pounds).unwrap(),
            granularity: Granularity::Penny,
            top_slice: top.map(|bp| (bp, "central G&T co-ordination".into())),
            components,
        }
    }

    fn share(name: &str, bp: u32, model: ShareModel) -> Component {
        Component::Share {
            name: name.into(),
            share_bp: bp,
            model,
        }
    }

    #[test]
    fn learning_mentors_one_and_a_half_fte_with_an_lsu_one_without() {
        let p = policy(
            200_000,
            None,
            vec![Component::Posts {
                name: "learning mentors".into(),
                with_lsu_tenths: 15,
                other_tenths: 10,
                cost_per_fte: Money::from_pounds(24_000).unwrap(),
            }],
        );
        let a = allocate(&p, &[school(1, 900, 90, None, true), school(2, 800, 80, None, false)]).unwrap();
        assert_eq!(a.school_total(urn(1)), Money::from_pounds(36_000).unwrap());
        assert_eq!(a.school_total(urn(2)), Money::from_pounds(24_000).unwrap());
        assert_eq!(
            a.lines[0].explanation,
            "1.5 FTE (hosts an LSU) × £24,000.00 = £36,000.00"
        );
        assert!(
            a.reconciles(),
            "the £140,000 not spent on posts is shown as held centrally"
        );
        let bad = policy(
            200_000,
            None,
            vec![Component::Posts {
                name: "mentors".into(),
                with_lsu_tenths: 15,
                other_tenths: 10,
                cost_per_fte: Money::from_pence(1),
            }],
        );
        assert!(matches!(
            allocate(&bad, &[school(1, 1, 0, None, true)]),
            Err(AllocationError::PostCostNotWholePence { .. })
        ));
    }

    #[test]
    fn a_54_percent_flat_gifted_and_talented_split() {
        let p = policy(
            10_000,
            None,
            vec![
                share("G&T flat", 5_400, ShareModel::Equal),
                share("G&T per pupil", 4_600, ShareModel::PerPupil),
            ],
        );
        let schools = [
            school(1, 200, 0, None, false),
            school(2, 600, 0, None, false),
            school(3, 1_200, 0, None, false),
        ];
        let a = allocate(&p, &schools).unwrap();
        // Flat: £5,400 / 3 = £1,800 each; per pupil: £4,600 × 200/2,000 = £460, £1,380, £2,760.
        assert_eq!(a.school_total(urn(1)), Money::from_pounds(2_260).unwrap());
        assert_eq!(a.school_total(urn(2)), Money::from_pounds(3_180).unwrap());
        assert_eq!(a.school_total(urn(3)), Money::from_pounds(4_560).unwrap());
        assert!(a.reconciles());
        assert!(
            a.lines
                .iter()
                .any(|l| l.explanation == "46.00% of £10,000.00 is £4,600.00; 200 of 2000 pupils → £460.00")
        );
    }

    #[test]
    fn fifty_fifty_by_inspection_grade_gives_worse_grades_more() {
        let p = policy(
            12_000,
            Some(1_000),
            vec![
                share("flat", 5_000, ShareModel::Equal),
                share(
                    "by grade",
                    5_000,
                    ShareModel::ByGrade {
                        weights: [1, 2, 3, 4, 5, 6, 7],
                    },
                ),
            ],
        );
        let a = allocate(
            &p,
            &[school(1, 300, 0, Some(1), false), school(2, 300, 0, Some(3), false)],
        )
        .unwrap();
        assert_eq!(a.top_slice, Money::from_pounds(1_200).unwrap());
        // £10,800 left: £5,400 flat (£2,700 each), £5,400 by grade 1:3 (£1,350 and £4,050).
        assert_eq!(a.school_total(urn(1)), Money::from_pounds(4_050).unwrap());
        assert_eq!(a.school_total(urn(2)), Money::from_pounds(6_750).unwrap());
        assert!(a.reconciles());
    }

    #[test]
    fn fsm_weighting_is_exact() {
        // pupils × (1 + 1.5 × FSM share) = pupils + 1.5 × FSM: 100 + 30 = 130 and 100 + 0 = 100.
        let p = policy(
            2_300,
            None,
            vec![share(
                "FSM-weighted",
                10_000,
                ShareModel::FsmWeighted { weight_bp: 15_000 },
            )],
        );
        let a = allocate(&p, &[school(1, 100, 20, None, false), school(2, 100, 0, None, false)]).unwrap();
        assert_eq!(
            (a.school_total(urn(1)), a.school_total(urn(2))),
            (Money::from_pounds(1_300).unwrap(), Money::from_pounds(1_000).unwrap())
        );
    }

    #[test]
    fn bad_policies_name_the_field() {
        let s = [school(1, 100, 0, None, false)];
        let cases: Vec<(Policy, &str)> = vec![
            (policy(100, Some(10_001), vec![]), "top_slice"),
            (
                policy(
                    100,
                    None,
                    vec![
                        share("a", 6_000, ShareModel::Equal),
                        share("b", 3_000, ShareModel::Equal),
                    ],
                ),
                "not 10,000",
            ),
            (
                policy(
                    100,
                    None,
                    vec![Component::FlatPerSchool {
                        name: "flat".into(),
                        amount: Money::from_pounds(101).unwrap(),
                    }],
                ),
                "fixed components need",
            ),
            (
                policy(
                    100,
                    None,
                    vec![Component::FlatPerSchool {
                        name: "flat".into(),
                        amount: Money::from_pence(-1),
                    }],
                ),
                "negative",
            ),
            (
                policy(
                    100,
                    None,
                    vec![share("grade", 10_000, ShareModel::ByGrade { weights: [0; 7] })],
                ),
                "add up to zero",
            ),
        ];
        for (p, needle) in cases {
            let e = allocate(&p, &s).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} lacks {needle}");
        }
        assert_eq!(
            allocate(&policy(1, None, vec![]), &[]),
            Err(AllocationError::NoEligibleSchools)
        );
    }

    proptest! {
        #[test]
        fn every_allocation_reconciles_and_more_pupils_never_get_less(
            budget in 0i64..100_000_000,
            top in proptest::option::of(0u32..2_000),
            flat_share in 0u32..10_000,
            pupils in proptest::collection::vec(0u32..2_000, 1..30),
        ) {
            let schools: Vec<SchoolFacts> = pupils.iter().enumerate().map(|(i, p)| school(i as u32, *p, p / 5, Some(1 + (i % 7) as u8), i % 4 == 0)).collect();
            prop_assume!(pupils.iter().any(|p| *p > 0));
            let p = Policy {
                name: "p".into(),
                budget: Money::from_pence(budget),
                granularity: Granularity::Penny,
                top_slice: top.map(|bp| (bp, "centre".into())),
                components: vec![share("flat", flat_share, ShareModel::Equal), share("pupils", 10_000 - flat_share, ShareModel::PerPupil)],
            };
            let a = allocate(&p, &schools).unwrap();
            prop_assert!(a.reconciles());
            prop_assert!(a.lines.iter().all(|l| !l.amount.is_negative()));
            for x in &schools {
                for y in &schools {
                    if x.pupils > y.pupils {
                        prop_assert!(a.school_total(x.urn) >= a.school_total(y.urn));
                    }
                }
            }
        }
    }
}

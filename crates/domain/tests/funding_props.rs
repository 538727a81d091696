//! Property tests of the allocation engine: every pot reconciles to the penny; no line is negative;
//! a per-pupil component never gives a school with more pupils less; identical schools get
//! identical lines within one unit; a national split always adds up to the national total.
#![allow(clippy::unwrap_used)]

use domain::funding::engine::{Component, ShareModel, TopSlice};
use domain::funding::{
    BudgetRule, ClusterInput, Eligibility, Factor, FundingPolicy, Granularity, NationalSplit, NeedIndex, Normalisation,
    Pot, PupilBasis, Pupils, RingFence, SchoolData, Stream, StreamPot, allocate_policy, allocate_pot,
};
use domain::ids::Urn;
use domain::money::{Money, Rate};
use domain::school::Phase;
use proptest::prelude::*;
use rust_decimal::Decimal;

fn school(i: usize, pupils: u32, fsm_pct: u32, grade: u8) -> SchoolData {
    let mut s = SchoolData::new(Urn::from_u32(100_000 + i as u32).unwrap(), Phase::Primary, pupils);
    s.fsm = Some(pupils * fsm_pct / 100);
    s.inspection_grade = Some(grade);
    s.factors[Factor::LowAttainment.supplied_index().unwrap()] = Some(Decimal::from(fsm_pct % 7));
    s
}

fn model(k: u8) -> ShareModel {
    match k % 5 {
        0 => ShareModel::Equal,
        1 => ShareModel::Pupils(Pupils::All(PupilBasis::Headcount)),
        2 => ShareModel::FsmWeighted {
            weight: Decimal::new(15, 1),
        },
        3 => ShareModel::ByGrade {
            weights: [1, 2, 3, 4, 5, 6, 7].map(Decimal::from),
            ungraded: None,
        },
        _ => ShareModel::Need(NeedIndex {
            factors: vec![
                (Factor::FsmShare, Decimal::new(6, 1)),
                (Factor::LowAttainment, Decimal::new(4, 1)),
            ],
            normalisation: Normalisation::ShareOfTotal,
        }),
    }
}

fn pot(granularity: Granularity, top: Option<u32>, flat: i64, rate_pence: i64, split: u32, a: u8, b: u8) -> Pot {
    let mut components = Vec::new();
    if flat > 0 {
        components.push(Component::Flat {
            name: "flat".into(),
            amount: Money::from_pence(flat),
        });
    }
    if rate_pence > 0 {
        components.push(Component::PerPupilRate {
            name: "rate".into(),
            rate: Rate::from_money(Money::from_pence(rate_pence)),
            pupils: Pupils::All(PupilBasis::Headcount),
        });
    }
    components.push(Component::Share {
        name: "a".into(),
        percent: Decimal::new(i64::from(split), 2),
        model: model(a),
    });
    components.push(Component::Share {
        name: "b".into(),
        percent: Decimal::new(10_000 - i64::from(split), 2),
        model: model(b),
    });
    Pot {
        ring_fence: RingFence {
            stream: "s".into(),
            phase: "all".into(),
        },
        eligibility: Eligibility::default(),
        granularity,
        top_slice: top.map(|bp| TopSlice {
            percent: Decimal::new(i64::from(bp), 2),
            purpose: "centre".into(),
        }),
        components,
    }
}

proptest! {
    #[test]
    fn every_pot_reconciles_and_respects_its_models(
        budget in 0i64..200_000_000,
        top in proptest::option::of(0u32..=10_000),
        flat in 0i64..50_000,
        rate in 0i64..500,
        split in 0u32..=10_000,
        a in 0u8..5,
        b in 0u8..5,
        pounds in any::<bool>(),
        schools in proptest::collection::vec((1u32..2_000, 0u32..60, 1u8..=7), 1..25),
    ) {
        let g = if pounds { Granularity::Pound } else { Granularity::Penny };
        let mut data: Vec<SchoolData> = schools.iter().enumerate().map(|(i, (p, f, gr))| school(i, *p, *f, *gr)).collect();
        // A twin of the first school, so equal schools can be compared.
        let mut twin = data[0].clone();
        twin.urn = Urn::from_u32(199_999).unwrap();
        data.push(twin);
        let p = pot(g, top, flat, rate, split, a, b);
        let budget = Money::from_pence(budget);
        match allocate_pot(&p, budget, &data) {
            Ok(alloc) => {
                prop_assert!(alloc.reconciles());
                prop_assert_eq!(Money::sum(alloc.lines.iter().map(|l| &l.amount)), Some(budget));
                prop_assert!(alloc.lines.iter().all(|l| !l.amount.is_negative()));
                for comp in ["flat", "rate", "a", "b"] {
                    let line = |u: Urn| alloc.lines.iter().find(|l| l.urn == Some(u) && &*l.component == comp).map(|l| l.amount.pence());
                    // Identical schools: within one unit on every line.
                    if let (Some(x), Some(y)) = (line(data[0].urn), line(data[data.len() - 1].urn)) {
                        prop_assert!((x - y).abs() <= g.pence(), "{comp}: {x} vs {y}");
                    }
                    // Per-pupil lines: more pupils never get less.
                    let per_pupil = comp == "rate"
                        || (comp == "a" && a % 5 == 1)
                        || (comp == "b" && b % 5 == 1);
                    if per_pupil {
                        for s in &data {
                            for t in &data {
                                if s.pupils > t.pupils {
                                    prop_assert!(line(s.urn) >= line(t.urn), "{comp}: more pupils, less money");
                                }
                            }
                        }
                    }
                }
            }
            // The only refusals a well-formed random policy can meet: fixed amounts over the
            // budget, or a model whose weights are all zero for these schools (no FSM pupils).
            Err(e) => prop_assert!(
                e.to_string().contains("the fixed components need")
                    || e.to_string().contains("the weights add up to zero"),
                "unexpected refusal: {e}"
            ),
        }
    }

    #[test]
    fn a_national_allocation_always_adds_up(
        total in 0i64..1_000_000_000,
        sizes in proptest::collection::vec(proptest::collection::vec(1u32..1_500, 1..8), 1..20),
        by_pupils in any::<bool>(),
    ) {
        let mut n = 0;
        let clusters: Vec<ClusterInput> = sizes.iter().enumerate().map(|(c, ps)| ClusterInput {
            name: format!("c{c:02}"),
            schools: ps.iter().map(|p| { n += 1; school(n, *p, 10, 2) }).collect(),
        }).collect();
        let total = Money::from_pence(total);
        let policy = FundingPolicy {
            name: "national".into(),
            streams: vec![Stream {
                name: "s".into(),
                source: "DfE".into(),
                period: None,
                pots: vec![StreamPot {
                    budget: BudgetRule {
                        national: Some((total, if by_pupils { NationalSplit::ByPupils } else { NationalSplit::Equal })),
                        ..BudgetRule::default()
                    },
                    pot: pot(Granularity::Penny, Some(1_000), 0, 0, 5_400, 0, 1),
                }],
            }],
        };
        let result = allocate_policy(&policy, &clusters).unwrap();
        prop_assert_eq!(Money::sum(result.iter().map(|r| &r.allocation.budget)), Some(total));
        prop_assert!(result.iter().all(|r| r.allocation.reconciles()));
    }
}

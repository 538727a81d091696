//! A single-pot policy in the shape the service's cluster pages use (budget, top-slice in basis
//! points, flat / posts / shares). It is converted to an [`engine::Pot`](super::engine::Pot) and
//! run by the one engine; new code should build pots directly.

use super::apportion::Granularity;
use super::engine::{self, Allocation, AllocationError, Pot, RingFence, TopSlice, allocate_pot};
use super::school::{Eligibility, PupilBasis, Pupils, SchoolData};
use crate::cluster::MembershipRole;
use crate::ids::Urn;
use crate::money::Money;
use crate::school::Phase;
use rust_decimal::Decimal;

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
    /// pupils × (1 + w × FSM share); `w` in basis points (10,000 = 1).
    FsmWeighted {
        weight_bp: u32,
    },
    /// A weight for each grade 1..=7; ungraded schools weigh 0.
    ByGrade {
        weights: [u64; 7],
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Component {
    FlatPerSchool {
        name: String,
        amount: Money,
    },
    /// Posts in tenths of an FTE.
    Posts {
        name: String,
        with_lsu_tenths: u32,
        other_tenths: u32,
        cost_per_fte: Money,
    },
    /// `share_bp` basis points of what remains after the top-slice and fixed components.
    Share {
        name: String,
        share_bp: u32,
        model: ShareModel,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub budget: Money,
    pub granularity: Granularity,
    /// Basis points retained centrally, with its purpose.
    pub top_slice: Option<(u32, String)>,
    pub components: Vec<Component>,
}

impl Policy {
    /// The same policy as an engine pot.
    pub fn to_pot(&self) -> Pot {
        let bp = |n: u32| Decimal::new(i64::from(n), 2);
        Pot {
            ring_fence: RingFence {
                stream: self.name.as_str().into(),
                phase: "all".into(),
            },
            eligibility: Eligibility::default(),
            granularity: self.granularity,
            top_slice: self.top_slice.as_ref().map(|(b, purpose)| TopSlice {
                percent: bp(*b),
                purpose: purpose.clone(),
            }),
            components: self
                .components
                .iter()
                .map(|c| match c {
                    Component::FlatPerSchool { name, amount } => engine::Component::Flat {
                        name: name.clone(),
                        amount: *amount,
                    },
                    Component::Posts {
                        name,
                        with_lsu_tenths,
                        other_tenths,
                        cost_per_fte,
                    } => engine::Component::Posts {
                        name: name.clone(),
                        step: Decimal::new(1, 1),
                        with_lsu: Decimal::new(i64::from(*with_lsu_tenths), 1),
                        other: Decimal::new(i64::from(*other_tenths), 1),
                        cost_per_fte: *cost_per_fte,
                    },
                    Component::Share { name, share_bp, model } => engine::Component::Share {
                        name: name.clone(),
                        percent: bp(*share_bp),
                        model: match model {
                            ShareModel::Equal => engine::ShareModel::Equal,
                            ShareModel::PerPupil => engine::ShareModel::Pupils(Pupils::All(PupilBasis::Headcount)),
                            ShareModel::FsmWeighted { weight_bp } => engine::ShareModel::FsmWeighted {
                                weight: Decimal::new(i64::from(*weight_bp), 4),
                            },
                            ShareModel::ByGrade { weights } => engine::ShareModel::ByGrade {
                                weights: weights.map(Decimal::from),
                                ungraded: Some(Decimal::ZERO),
                            },
                        },
                    },
                })
                .collect(),
        }
    }
}

/// Allocates a policy's budget between the eligible schools.
pub fn allocate(policy: &Policy, schools: &[SchoolFacts]) -> Result<Allocation, AllocationError> {
    let data: Vec<SchoolData> = schools
        .iter()
        .filter(|s| s.eligible)
        .map(|s| SchoolData {
            fsm: Some(s.fsm),
            inspection_grade: s.inspection_grade,
            hosts_lsu: s.hosts_lsu,
            role: MembershipRole::Feeder,
            ..SchoolData::new(s.urn, s.phase, s.pupils)
        })
        .collect();
    allocate_pot(&policy.to_pot(), policy.budget, &data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_policy_runs_on_the_engine() {
        let urn = |i: u32| Urn::from_u32(100_000 + i).unwrap();
        let p = Policy {
            name: "admin".into(),
            budget: Money::from_pounds(10_000).unwrap(),
            granularity: Granularity::Penny,
            top_slice: None,
            components: vec![
                Component::Share {
                    name: "flat".into(),
                    share_bp: 5_400,
                    model: ShareModel::Equal,
                },
                Component::Share {
                    name: "pupils".into(),
                    share_bp: 4_600,
                    model: ShareModel::PerPupil,
                },
            ],
        };
        let facts = |i, pupils, eligible| SchoolFacts {
            urn: urn(i),
            phase: Phase::Primary,
            pupils,
            fsm: 0,
            inspection_grade: None,
            hosts_lsu: false,
            eligible,
        };
        let a = allocate(
            &p,
            &[
                facts(1, 200, true),
                facts(2, 600, true),
                facts(3, 1_200, true),
                facts(4, 50, false),
            ],
        )
        .unwrap();
        assert_eq!(a.school_total(urn(1)), Money::from_pounds(2_260).unwrap());
        assert_eq!(a.school_total(urn(4)), Money::ZERO);
        assert!(a.reconciles());
    }
}

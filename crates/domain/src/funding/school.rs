//! What the funding engine knows about a school, which pupils a per-pupil component counts, and
//! who is eligible for a ring-fenced pot.

use super::need::Factor;
use crate::cluster::MembershipRole;
use crate::ids::Urn;
use crate::school::{Phase, Tenths};
use rust_decimal::Decimal;

/// One school as the engine sees it: census figures, role in the cluster, and the data some
/// models need (inspection grade, LSU, need factors, strands taken part in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolData {
    pub urn: Urn,
    pub phase: Phase,
    pub role: MembershipRole,
    pub state_funded: bool,
    /// Census headcount.
    pub pupils: u32,
    pub pupils_fte: Option<Tenths>,
    pub fsm: Option<u32>,
    /// Headcount by stage: early years, nursery, KS1, KS2, KS3, KS4, KS5 (as [`crate::school::Census`]).
    pub stages: [Option<u32>; 7],
    /// 1 (best) to 7 (worst).
    pub inspection_grade: Option<u8>,
    pub hosts_lsu: bool,
    /// Supplied need factors, in [`Factor::SUPPLIED`] order.
    pub factors: [Option<Decimal>; 5],
    /// Strands the school takes part in; `None` means every strand.
    pub strands: Option<Vec<String>>,
}

impl SchoolData {
    /// A state-funded, funded member with only a headcount known.
    pub fn new(urn: Urn, phase: Phase, pupils: u32) -> SchoolData {
        SchoolData {
            urn,
            phase,
            role: MembershipRole::Feeder,
            state_funded: true,
            pupils,
            pupils_fte: None,
            fsm: None,
            stages: [None; 7],
            inspection_grade: None,
            hosts_lsu: false,
            factors: [None; 5],
            strands: None,
        }
    }

    /// A need factor's raw value for this school.
    pub fn factor(&self, f: Factor) -> Option<Decimal> {
        match f {
            Factor::Fsm => self.fsm.map(Decimal::from),
            Factor::FsmShare => {
                let fsm = self.fsm?;
                if self.pupils == 0 {
                    return Some(Decimal::ZERO);
                }
                Decimal::from(fsm).checked_div(Decimal::from(self.pupils))
            }
            other => other.supplied_index().and_then(|i| self.factors[i]),
        }
    }
}

/// Whether pupils are counted by headcount or full-time equivalent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PupilBasis {
    Headcount,
    Fte,
}

/// The census stages, in [`SchoolData::stages`] order, with the year groups each covers.
pub const STAGES: [(&str, Option<(u8, u8)>); 7] = [
    ("early_years", None),
    ("nursery", None),
    ("ks1", Some((1, 2))),
    ("ks2", Some((3, 6))),
    ("ks3", Some((7, 9))),
    ("ks4", Some((10, 11))),
    ("ks5", Some((12, 14))),
];

/// Which pupils a per-pupil component counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pupils {
    /// Every pupil, by headcount or FTE.
    All(PupilBasis),
    /// Headcount in the chosen census stages (flags in [`STAGES`] order).
    Stages([bool; 7]),
    /// Headcount in year groups `from..=to`, approximated from the census stages (which give
    /// stages, not years): each stage counts in proportion to the share of its year groups in
    /// the range, as if pupils were spread evenly across a stage's years. Years 5–11 is
    /// KS2 × 2/4 + KS3 + KS4.
    Years { from: u8, to: u8 },
}

impl Pupils {
    /// The count for a school, exact; `None` when the school lacks the figure.
    pub fn count(&self, s: &SchoolData) -> Option<Decimal> {
        match self {
            Pupils::All(PupilBasis::Headcount) => Some(Decimal::from(s.pupils)),
            Pupils::All(PupilBasis::Fte) => s.pupils_fte.map(|t| Decimal::new(t.0, 1)),
            Pupils::Stages(flags) => Some(
                flags
                    .iter()
                    .zip(&s.stages)
                    .filter(|(f, _)| **f)
                    .map(|(_, n)| Decimal::from(n.unwrap_or(0)))
                    .sum(),
            ),
            Pupils::Years { from, to } => {
                let mut total = Decimal::ZERO;
                for ((_, years), n) in STAGES.iter().zip(&s.stages) {
                    let (Some((a, b)), Some(n)) = (years, n) else { continue };
                    let lo = (*a).max(*from);
                    let hi = (*b).min(*to);
                    if lo > hi {
                        continue;
                    }
                    let covered = Decimal::from(hi - lo + 1);
                    let span = Decimal::from(b - a + 1);
                    total += Decimal::from(*n) * covered / span;
                }
                Some(total)
            }
        }
    }

    /// The places [`Pupils::whole_count`] counts in (FTE in tenths), or `None` when the count
    /// is not a whole number of anything (year groups spread across a stage).
    pub(crate) fn whole_count_scale(&self) -> Option<u32> {
        match self {
            Pupils::All(PupilBasis::Headcount) | Pupils::Stages(_) => Some(0),
            Pupils::All(PupilBasis::Fte) => Some(1),
            Pupils::Years { .. } => None,
        }
    }

    /// [`Pupils::count`] as a whole number of 10^-[`Pupils::whole_count_scale`], when it is one.
    pub(crate) fn whole_count(&self, s: &SchoolData) -> Option<u64> {
        match self {
            Pupils::All(PupilBasis::Headcount) => Some(u64::from(s.pupils)),
            Pupils::All(PupilBasis::Fte) => s.pupils_fte.and_then(|t| u64::try_from(t.0).ok()),
            Pupils::Stages(flags) => Some(
                flags
                    .iter()
                    .zip(&s.stages)
                    .filter(|(f, _)| **f)
                    .map(|(_, n)| u64::from(n.unwrap_or(0)))
                    .sum(),
            ),
            Pupils::Years { .. } => None,
        }
    }

    /// "pupils", "FTE pupils", "pupils in ks2, ks3", "pupils in Years 5–11".
    pub fn label(&self) -> String {
        match self {
            Pupils::All(PupilBasis::Headcount) => "pupils".into(),
            Pupils::All(PupilBasis::Fte) => "FTE pupils".into(),
            Pupils::Stages(flags) => {
                let names: Vec<&str> = STAGES
                    .iter()
                    .zip(flags)
                    .filter(|(_, f)| **f)
                    .map(|((n, _), _)| *n)
                    .collect();
                format!("pupils in {}", names.join(", "))
            }
            Pupils::Years { from, to } => format!("pupils in Years {from}–{to}"),
        }
    }
}

/// Who a ring-fenced pot funds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Eligibility {
    /// The phases funded; `None` means every phase.
    pub phases: Option<Vec<Phase>>,
    /// The strand a school must take part in.
    pub strand: Option<String>,
    /// Schools explicitly left out.
    pub excluded: Vec<Urn>,
}

impl Eligibility {
    /// Why a school gets nothing from this pot, or `None` if it is eligible.
    pub fn refusal(&self, s: &SchoolData) -> Option<&'static str> {
        if !s.state_funded {
            return Some("not state-funded");
        }
        if !s.role.is_funded() {
            return Some("an unfunded member");
        }
        if self.phases.as_ref().is_some_and(|ps| !ps.contains(&s.phase)) {
            return Some("another phase");
        }
        if let (Some(strand), Some(taken)) = (&self.strand, &s.strands)
            && !taken.iter().any(|t| t == strand)
        {
            return Some("not in this strand");
        }
        if self.excluded.contains(&s.urn) {
            return Some("excluded by the policy");
        }
        None
    }
    pub fn admits(&self, s: &SchoolData) -> bool {
        self.refusal(s).is_none()
    }
}

//! A multi-factor need index: weighted factors (FSM, low attainment, SEN, unauthorised absence,
//! exclusions, proportion of boys), each normalised across the schools being compared by a
//! stated rule, then summed. Scores are exact decimals rounded once to 12 decimal places.

use super::school::SchoolData;
use crate::ids::Urn;
use rust_decimal::{Decimal, RoundingStrategy};

/// Decimal places a need score keeps (rounded half to even, once).
pub const SCORE_PLACES: u32 = 12;

/// One measure of need, supplied per school (FSM comes from the census).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Factor {
    /// Pupils known to be eligible for FSM (census count).
    Fsm,
    /// FSM pupils as a share of pupils (census count / headcount).
    FsmShare,
    LowAttainment,
    Sen,
    UnauthorisedAbsence,
    Exclusions,
    /// Proportion of boys.
    Boys,
}

impl Factor {
    pub const ALL: [Factor; 7] = [
        Factor::Fsm,
        Factor::FsmShare,
        Factor::LowAttainment,
        Factor::Sen,
        Factor::UnauthorisedAbsence,
        Factor::Exclusions,
        Factor::Boys,
    ];
    /// The factors supplied as data (not derived from the census), in [`SchoolData::factors`] order.
    pub const SUPPLIED: [Factor; 5] = [
        Factor::LowAttainment,
        Factor::Sen,
        Factor::UnauthorisedAbsence,
        Factor::Exclusions,
        Factor::Boys,
    ];
    pub fn code(self) -> &'static str {
        match self {
            Factor::Fsm => "fsm",
            Factor::FsmShare => "fsm_share",
            Factor::LowAttainment => "low_attainment",
            Factor::Sen => "sen",
            Factor::UnauthorisedAbsence => "unauthorised_absence",
            Factor::Exclusions => "exclusions",
            Factor::Boys => "boys",
        }
    }
    pub fn from_code(code: &str) -> Option<Factor> {
        Factor::ALL.into_iter().find(|f| f.code() == code)
    }
    /// Where a supplied factor sits in [`SchoolData::factors`].
    pub fn supplied_index(self) -> Option<usize> {
        Factor::SUPPLIED.iter().position(|f| *f == self)
    }
}

/// How each factor is put on a common scale across the schools compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalisation {
    /// value ÷ the total of that factor over the schools (0 for everyone if the total is 0).
    ShareOfTotal,
    /// (value − lowest) ÷ (highest − lowest), so 0 to 1 (0 for everyone if all are equal).
    Range,
}

impl Normalisation {
    pub fn code(self) -> &'static str {
        match self {
            Normalisation::ShareOfTotal => "share_of_total",
            Normalisation::Range => "range",
        }
    }
    pub fn from_code(code: &str) -> Option<Normalisation> {
        [Normalisation::ShareOfTotal, Normalisation::Range]
            .into_iter()
            .find(|n| n.code() == code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedIndex {
    pub factors: Vec<(Factor, Decimal)>,
    pub normalisation: Normalisation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeedError {
    WeightsSumToZero,
    NegativeWeight(Factor),
    Missing { urn: Urn, factor: Factor },
    Overflow,
}

impl NeedIndex {
    pub fn validate(&self) -> Result<(), NeedError> {
        if let Some((f, _)) = self.factors.iter().find(|(_, w)| w.is_sign_negative() && !w.is_zero()) {
            return Err(NeedError::NegativeWeight(*f));
        }
        if self.factors.iter().map(|(_, w)| *w).sum::<Decimal>().is_zero() {
            return Err(NeedError::WeightsSumToZero);
        }
        Ok(())
    }

    /// Each school's score, in the order given.
    pub fn scores(&self, schools: &[&SchoolData]) -> Result<Vec<Decimal>, NeedError> {
        self.validate()?;
        let mut scores = vec![Decimal::ZERO; schools.len()];
        for (factor, weight) in &self.factors {
            if weight.is_zero() {
                continue;
            }
            let values: Vec<Decimal> = schools
                .iter()
                .map(|s| {
                    s.factor(*factor).ok_or(NeedError::Missing {
                        urn: s.urn,
                        factor: *factor,
                    })
                })
                .collect::<Result<_, _>>()?;
            let (base, span) = match self.normalisation {
                Normalisation::ShareOfTotal => (
                    Decimal::ZERO,
                    values
                        .iter()
                        .try_fold(Decimal::ZERO, |a, v| a.checked_add(*v))
                        .ok_or(NeedError::Overflow)?,
                ),
                Normalisation::Range => {
                    let lo = values.iter().copied().min().unwrap_or_default();
                    let hi = values.iter().copied().max().unwrap_or_default();
                    (lo, hi - lo)
                }
            };
            if span.is_zero() {
                continue;
            }
            for (score, v) in scores.iter_mut().zip(&values) {
                let part = weight
                    .checked_mul(*v - base)
                    .and_then(|x| x.checked_div(span))
                    .ok_or(NeedError::Overflow)?;
                *score = score.checked_add(part).ok_or(NeedError::Overflow)?;
            }
        }
        Ok(scores
            .into_iter()
            .map(|s| {
                s.round_dp_with_strategy(SCORE_PLACES, RoundingStrategy::MidpointNearestEven)
                    .normalize()
            })
            .collect())
    }

    /// "0.6 × fsm + 0.4 × low_attainment (share of total)".
    pub fn describe(&self) -> String {
        let terms: Vec<String> = self
            .factors
            .iter()
            .map(|(f, w)| format!("{} × {}", w.normalize(), f.code()))
            .collect();
        format!("{} ({})", terms.join(" + "), self.normalisation.code())
    }
}

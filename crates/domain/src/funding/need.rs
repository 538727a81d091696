//! A multi-factor need index: weighted factors (FSM, low attainment, SEN, unauthorised absence,
//! exclusions, proportion of boys), each normalised across the schools being compared by a
//! stated rule, then summed. Scores are exact decimals rounded once to 12 decimal places.

use super::school::SchoolData;
use crate::ids::Urn;
use rust_decimal::{Decimal, RoundingStrategy};

/// Decimal places a need score keeps (rounded half to even, once).
pub const SCORE_PLACES: u32 = 12;

/// A score from whole units of 10^-12 (exact; scores stay below 10^6, so the units fit).
pub(crate) fn score_from_units(units: u64) -> Decimal {
    Decimal::from_i128_with_scale(i128::from(units), SCORE_PLACES)
}

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
        let mut units = Vec::with_capacity(schools.len());
        if self.score_units(schools, &mut units, &mut Vec::new()).is_some() {
            return Ok(units.into_iter().map(|u| score_from_units(u).normalize()).collect());
        }
        self.decimal_scores(schools)
    }

    /// Each school's score in whole units of 10^-12 (the places a score keeps) into `out`, by
    /// exact integer arithmetic, when that is sure to give what [`NeedIndex::scores`]' decimal
    /// arithmetic gives; `None` (and `out` unspecified) otherwise, for the caller to use the
    /// decimal path, which also reports every error.
    ///
    /// Why it is the same: a score is Σ weight × (value − base) ÷ span, at most the sum of the
    /// weights. Each term is computed here in units of 10^-24, rounded down (so the sum is below
    /// the exact score by less than one unit per factor). The decimal path keeps at least 22
    /// places for a value below 10^6 (96-bit mantissa), so it is within 10^-20 of the exact
    /// score after its few operations. Both round to 12 places; they can only disagree when the
    /// exact score is within 10^-20 of a midpoint (half a unit of 10^-12), so any score within
    /// 10^-18 of one (and any input outside the bounds: a factor derived by division, negative
    /// values, weights summing to 10^6 or more, overflow, missing data) is left to the decimal
    /// path. `decimal_path_and_integer_path_agree` checks this on random and near-midpoint data.
    /// `work` is a buffer reused between calls.
    pub(crate) fn score_units(&self, schools: &[&SchoolData], out: &mut Vec<u64>, work: &mut Vec<u128>) -> Option<()> {
        const PLACES: u32 = 24;
        const KEEP: u128 = 10u128.pow(PLACES - SCORE_PLACES);
        const HALF: u128 = KEEP / 2;
        const GUARD: u128 = 10u128.pow(PLACES - 18);
        if self.validate().is_err() || self.factors.iter().map(|(_, w)| *w).sum::<Decimal>() >= Decimal::from(1_000_000)
        {
            return None;
        }
        let n = schools.len();
        work.clear();
        work.resize(2 * n, 0);
        let (acc, values) = work.split_at_mut(n);
        for (factor, weight) in &self.factors {
            if weight.is_zero() {
                continue;
            }
            if *factor == Factor::FsmShare {
                return None;
            }
            // The values as whole numbers of 10^-scale (scale the largest as written).
            let mut scale = 0u32;
            for s in schools {
                let v = s.factor(*factor)?;
                if v.is_sign_negative() && !v.is_zero() {
                    return None;
                }
                scale = scale.max(v.scale());
            }
            for (s, value) in schools.iter().zip(values.iter_mut()) {
                let v = s.factor(*factor)?;
                let m = u128::try_from(v.mantissa()).ok()?;
                *value = m.checked_mul(10u128.checked_pow(scale - v.scale())?)?;
            }
            let (base, span) = match self.normalisation {
                Normalisation::ShareOfTotal => (0, values.iter().try_fold(0u128, |a, v| a.checked_add(*v))?),
                Normalisation::Range => {
                    let lo = values.iter().copied().min().unwrap_or_default();
                    let hi = values.iter().copied().max().unwrap_or_default();
                    (lo, hi - lo)
                }
            };
            if span == 0 {
                continue;
            }
            // weight × (v − base) ÷ span in units of 10^-24: mantissa × (v − base) × 10^(24 − w.scale) ÷ span.
            let wm = u128::try_from(weight.mantissa()).ok()?;
            let lift = 10u128.checked_pow(PLACES.checked_sub(weight.scale())?)?;
            let factor = wm.checked_mul(lift)?;
            for (a, v) in acc.iter_mut().zip(values.iter()) {
                *a = a.checked_add(factor.checked_mul(v - base)? / span)?;
            }
        }
        out.clear();
        for a in acc.iter().copied() {
            let (whole, rest) = (a / KEEP, a % KEEP);
            if rest.abs_diff(HALF) <= GUARD {
                return None;
            }
            out.push(u64::try_from(whole + u128::from(rest > HALF)).ok()?);
        }
        Some(())
    }

    /// [`NeedIndex::scores`] in exact decimals throughout: the reference, and the path for
    /// whatever [`NeedIndex::score_units`] leaves.
    pub fn decimal_scores(&self, schools: &[&SchoolData]) -> Result<Vec<Decimal>, NeedError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::school::Phase;
    use proptest::prelude::*;

    fn school(i: u32, fsm: u32, low: Decimal) -> SchoolData {
        let mut s = SchoolData::new(Urn::from_u32(100_000 + i).unwrap(), Phase::Primary, fsm + 100);
        s.fsm = Some(fsm);
        s.factors[Factor::LowAttainment.supplied_index().unwrap()] = Some(low);
        s
    }

    fn units_as_scores(units: &[u64]) -> Vec<Decimal> {
        units.iter().map(|u| score_from_units(*u).normalize()).collect()
    }

    #[test]
    fn an_exact_midpoint_is_left_to_the_decimal_path_which_rounds_half_to_even() {
        // 1 of 8,192 FSM pupils is 0.0001220703125 exactly: a midpoint at 12 places.
        let schools = [school(1, 1, Decimal::ZERO), school(2, 8_191, Decimal::ZERO)];
        let refs: Vec<&SchoolData> = schools.iter().collect();
        let index = NeedIndex {
            factors: vec![(Factor::Fsm, Decimal::ONE)],
            normalisation: Normalisation::ShareOfTotal,
        };
        assert_eq!(index.score_units(&refs, &mut Vec::new(), &mut Vec::new()), None);
        let scores = index.scores(&refs).unwrap();
        assert_eq!(scores[0], "0.000122070312".parse::<Decimal>().unwrap());
        assert_eq!(scores, index.decimal_scores(&refs).unwrap());
    }

    proptest! {
        #[test]
        fn decimal_path_and_integer_path_agree(
            schools in proptest::collection::vec((0u32..5_000, 0i64..100_000, 0u32..4), 1..30),
            weights in proptest::collection::vec((0i64..2_000, 0u32..4), 1..3),
            range in any::<bool>(),
        ) {
            let data: Vec<SchoolData> = schools
                .iter()
                .enumerate()
                .map(|(i, (fsm, low, places))| school(i as u32, *fsm, Decimal::new(*low, *places)))
                .collect();
            let refs: Vec<&SchoolData> = data.iter().collect();
            let factors = [Factor::Fsm, Factor::LowAttainment];
            let index = NeedIndex {
                factors: weights.iter().zip(factors).map(|((w, p), f)| (f, Decimal::new(*w, *p))).collect(),
                normalisation: if range { Normalisation::Range } else { Normalisation::ShareOfTotal },
            };
            let decimal = index.decimal_scores(&refs);
            let mut units = Vec::new();
            if index.score_units(&refs, &mut units, &mut Vec::new()).is_some() {
                prop_assert_eq!(Ok(units_as_scores(&units)), decimal.clone());
            }
            prop_assert_eq!(index.scores(&refs), decimal);
        }

        #[test]
        fn scores_at_and_beside_midpoints_agree(a in 1u32..8_192, m in 1u32..40, offset in 0u32..3, weight in 1i64..30) {
            // a / (8,192 m + offset − 1) lands on or within a hair of a midpoint at 12 places.
            let total = 8_192 * m + offset - 1;
            prop_assume!(a < total);
            let schools = [school(1, a, Decimal::ZERO), school(2, total - a, Decimal::ZERO)];
            let refs: Vec<&SchoolData> = schools.iter().collect();
            let index = NeedIndex {
                factors: vec![(Factor::Fsm, Decimal::new(weight, 1))],
                normalisation: Normalisation::ShareOfTotal,
            };
            let decimal = index.decimal_scores(&refs).unwrap();
            let mut units = Vec::new();
            if index.score_units(&refs, &mut units, &mut Vec::new()).is_some() {
                prop_assert_eq!(&units_as_scores(&units), &decimal);
            }
            prop_assert_eq!(index.scores(&refs).unwrap(), decimal);
        }
    }

    #[test]
    fn whole_number_factors_take_the_integer_path() {
        let schools = [school(1, 10, Decimal::new(15, 1)), school(2, 30, Decimal::new(5, 1))];
        let refs: Vec<&SchoolData> = schools.iter().collect();
        for normalisation in [Normalisation::ShareOfTotal, Normalisation::Range] {
            let index = NeedIndex {
                factors: vec![
                    (Factor::Fsm, Decimal::new(6, 1)),
                    (Factor::LowAttainment, Decimal::new(4, 1)),
                ],
                normalisation,
            };
            let mut units = Vec::new();
            assert_eq!(index.score_units(&refs, &mut units, &mut Vec::new()), Some(()));
            assert_eq!(units_as_scores(&units), index.decimal_scores(&refs).unwrap());
        }
    }
}

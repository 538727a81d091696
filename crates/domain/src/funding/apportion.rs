//! The one way a pot is split: largest remainder, ties broken by URN (lowest first), in whole
//! pence or whole pounds, exactly.

use crate::ids::Urn;
use crate::money::Money;
use rust_decimal::Decimal;

/// Who a share goes to, for messages: a school or a component of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    School(Urn),
    Component(usize),
}

impl std::fmt::Display for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recipient::School(u) => write!(f, "school {u}"),
            Recipient::Component(i) => write!(f, "component {}", i + 1),
        }
    }
}

impl From<Urn> for Recipient {
    fn from(u: Urn) -> Self {
        Recipient::School(u)
    }
}

impl From<usize> for Recipient {
    fn from(i: usize) -> Self {
        Recipient::Component(i)
    }
}

pub use crate::money::Granularity;

/// An exact, non-negative weight: a whole number (pupils, an equal share of 1) or a decimal
/// (a need index, a percentage, FTE pupils). Negative weights are refused by [`apportion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Weight(Decimal);

impl Weight {
    pub const ZERO: Weight = Weight(Decimal::ZERO);
    pub const ONE: Weight = Weight(Decimal::ONE);
    pub fn new(d: Decimal) -> Weight {
        Weight(d)
    }
    pub fn value(self) -> Decimal {
        self.0
    }
}

impl From<u64> for Weight {
    fn from(n: u64) -> Self {
        Weight(Decimal::from(n))
    }
}

impl From<u32> for Weight {
    fn from(n: u32) -> Self {
        Weight(Decimal::from(n))
    }
}

impl std::fmt::Display for Weight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.normalize().fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApportionError {
    #[error("there is no one to share {0} between")]
    NoRecipients(Money),
    #[error("the weights add up to zero, so {0} cannot be shared by them")]
    WeightsSumToZero(Money),
    #[error("{0} cannot be shared: it is negative")]
    NegativeTotal(Money),
    #[error("{recipient} has a negative weight ({weight})")]
    NegativeWeight { recipient: Recipient, weight: Weight },
    #[error("{total} is not a whole number of pounds, so it cannot be shared to the pound")]
    NotWholeUnits { total: Money },
    #[error("{0} appears twice in one split")]
    DuplicateRecipient(Recipient),
    #[error("the weights are too large or too finely divided to share {0} exactly")]
    TooLarge(Money),
}

/// Splits `total` in proportion to `weights`: each recipient gets the whole units of its exact
/// share, and the units left over go one each to the largest remainders, ties to the lower key
/// (URN). The arithmetic is exact (integers after scaling every weight to a common number of
/// decimal places). The parts always add up to `total`; equal weights get equal parts within one
/// unit; a larger weight never gets less; no part is negative. Parts come back in input order.
pub fn apportion<K: Copy + Ord + Into<Recipient>>(
    total: Money,
    weights: &[(K, Weight)],
    granularity: Granularity,
) -> Result<Vec<(K, Money)>, ApportionError> {
    if total.is_negative() {
        return Err(ApportionError::NegativeTotal(total));
    }
    if weights.is_empty() {
        return Err(ApportionError::NoRecipients(total));
    }
    let unit = granularity.pence();
    if total.pence() % unit != 0 {
        return Err(ApportionError::NotWholeUnits { total });
    }
    let mut scale = 0u32;
    for (k, w) in weights {
        if w.0.is_sign_negative() && !w.0.is_zero() {
            return Err(ApportionError::NegativeWeight {
                recipient: (*k).into(),
                weight: *w,
            });
        }
        scale = scale.max(w.0.normalize().scale());
    }
    if weights.len() > 1 {
        let mut keys: Vec<K> = weights.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
            return Err(ApportionError::DuplicateRecipient(w[0].into()));
        }
    }
    let too_large = || ApportionError::TooLarge(total);
    // Every weight as an integer count of 10^-scale.
    let ints: Vec<u128> = weights
        .iter()
        .map(|(_, w)| {
            let d = w.0.normalize();
            let m = u128::try_from(d.mantissa()).map_err(|_| too_large())?;
            10u128
                .checked_pow(scale - d.scale())
                .and_then(|f| m.checked_mul(f))
                .ok_or_else(too_large)
        })
        .collect::<Result<_, _>>()?;
    let units = u128::from(total.pence().unsigned_abs() / unit.unsigned_abs());
    let sum = ints
        .iter()
        .try_fold(0u128, |a, w| a.checked_add(*w))
        .ok_or_else(too_large)?;
    if sum == 0 {
        return Err(ApportionError::WeightsSumToZero(total));
    }
    let mut parts: Vec<(u128, u128)> = Vec::with_capacity(ints.len());
    for w in &ints {
        let exact = units.checked_mul(*w).ok_or_else(too_large)?;
        parts.push((exact / sum, exact % sum));
    }
    let given: u128 = parts.iter().map(|p| p.0).sum();
    let leftover = usize::try_from(units - given).map_err(|_| too_large())?;
    if leftover > 0 {
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.sort_unstable_by(|&a, &b| parts[b].1.cmp(&parts[a].1).then(weights[a].0.cmp(&weights[b].0)));
        for &i in order.iter().take(leftover) {
            parts[i].0 += 1;
        }
    }
    weights
        .iter()
        .zip(parts)
        .map(|((k, _), (n, _))| {
            i64::try_from(n)
                .ok()
                .and_then(|n| n.checked_mul(unit))
                .map(|p| (*k, Money::from_pence(p)))
                .ok_or_else(too_large)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn urn(i: u32) -> Urn {
        Urn::from_u32(100_000 + i).unwrap()
    }

    fn w(n: u64) -> Weight {
        Weight::from(n)
    }

    #[test]
    fn twenty_thousand_pounds_three_ways_places_the_leftover_pennies_by_urn() {
        // £20,000 / 3 = £6,666.666…: 2,000,000 pence = 3 × 666,666 + 2. Two pennies are left
        // over; the three remainders are equal, so they go to the two lowest URNs.
        let parts = apportion(
            Money::from_pence(2_000_000),
            &[(urn(3), w(1)), (urn(1), w(1)), (urn(2), w(1))],
            Granularity::Penny,
        )
        .unwrap();
        assert_eq!(
            parts,
            vec![
                (urn(3), Money::from_pence(666_666)),
                (urn(1), Money::from_pence(666_667)),
                (urn(2), Money::from_pence(666_667))
            ]
        );
        let pounds = apportion(
            Money::from_pence(2_000_000),
            &[(urn(1), w(1)), (urn(2), w(1)), (urn(3), w(1))],
            Granularity::Pound,
        )
        .unwrap();
        assert_eq!(
            pounds.iter().map(|p| p.1.pence()).collect::<Vec<_>>(),
            vec![666_700, 666_700, 666_600]
        );
    }

    #[test]
    fn decimal_weights_are_exact() {
        // 0.1 : 0.2 : 0.7 of £1.00 is 10p, 20p, 70p, with nothing left to place.
        let d = |s: &str| Weight::new(s.parse().unwrap());
        let parts = apportion(
            Money::from_pence(100),
            &[(urn(1), d("0.1")), (urn(2), d("0.2")), (urn(3), d("0.70"))],
            Granularity::Penny,
        )
        .unwrap();
        assert_eq!(parts.iter().map(|p| p.1.pence()).collect::<Vec<_>>(), vec![10, 20, 70]);
        // 1.5 against 1: £5 is £3 and £2.
        let parts = apportion(
            Money::from_pence(500),
            &[(urn(1), d("1.5")), (urn(2), w(1))],
            Granularity::Penny,
        )
        .unwrap();
        assert_eq!(parts[0].1.pence(), 300);
    }

    #[test]
    fn refusals_name_the_rule() {
        let m = Money::from_pence(100);
        assert_eq!(
            apportion::<Urn>(m, &[], Granularity::Penny),
            Err(ApportionError::NoRecipients(m))
        );
        assert_eq!(
            apportion(m, &[(urn(1), w(0)), (urn(2), w(0))], Granularity::Penny),
            Err(ApportionError::WeightsSumToZero(m))
        );
        assert_eq!(
            apportion(Money::from_pence(-1), &[(urn(1), w(1))], Granularity::Penny),
            Err(ApportionError::NegativeTotal(Money::from_pence(-1)))
        );
        assert!(matches!(
            apportion(
                m,
                &[(urn(1), w(1)), (urn(2), Weight::new(Decimal::NEGATIVE_ONE))],
                Granularity::Penny
            ),
            Err(ApportionError::NegativeWeight { .. })
        ));
        assert!(matches!(
            apportion(Money::from_pence(150), &[(urn(1), w(1))], Granularity::Pound),
            Err(ApportionError::NotWholeUnits { .. })
        ));
        assert_eq!(
            apportion(m, &[(urn(1), w(1)), (urn(1), w(2))], Granularity::Penny),
            Err(ApportionError::DuplicateRecipient(urn(1).into()))
        );
    }

    proptest! {
        #[test]
        fn parts_always_reconcile_and_respect_the_weights(
            total in 0i64..10_000_000_000,
            weights in proptest::collection::vec(0u64..1_000_000, 1..60),
            pounds in any::<bool>(),
            scale in 0u32..6,
        ) {
            prop_assume!(weights.iter().any(|w| *w > 0));
            let g = if pounds { Granularity::Pound } else { Granularity::Penny };
            let total = total - total % g.pence();
            let ws: Vec<(Urn, Weight)> = weights
                .iter()
                .enumerate()
                .map(|(i, x)| (urn(i as u32), Weight::new(Decimal::new(*x as i64, scale))))
                .collect();
            let parts = apportion(Money::from_pence(total), &ws, g).unwrap();
            prop_assert_eq!(parts.iter().map(|p| p.1.pence()).sum::<i64>(), total);
            prop_assert!(parts.iter().all(|p| !p.1.is_negative()));
            prop_assert!(parts.iter().all(|p| p.1.pence() % g.pence() == 0));
            for (a, pa) in ws.iter().zip(&parts) {
                for (b, pb) in ws.iter().zip(&parts) {
                    if a.1 > b.1 {
                        prop_assert!(pa.1 >= pb.1, "a larger weight never gets less");
                    }
                    if a.1 == b.1 {
                        prop_assert!((pa.1.pence() - pb.1.pence()).abs() <= g.pence(), "equal weights, equal parts within one unit");
                    }
                }
            }
        }
    }
}

//! The one way a pot is split: largest remainder, ties broken by URN (lowest first), in whole
//! pence or whole pounds, exactly.

use crate::ids::Urn;
use crate::money::Money;

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

/// The unit a split is made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Penny,
    Pound,
}

impl Granularity {
    fn pence(self) -> i64 {
        match self {
            Granularity::Penny => 1,
            Granularity::Pound => 100,
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            Granularity::Penny => "to the penny",
            Granularity::Pound => "to the pound",
        }
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
    #[error("{total} is not a whole number of pounds, so it cannot be shared to the pound")]
    NotWholeUnits { total: Money },
    #[error("{0} appears twice in one split")]
    DuplicateRecipient(Recipient),
}

/// Splits `total` in proportion to `weights`: each recipient gets the whole units of its exact
/// share, and the units left over go one each to the largest remainders, ties to the lower URN.
/// The parts always add up to `total`; equal weights get equal parts within one unit; a larger
/// weight never gets less; no part is negative.
pub fn apportion<K: Copy + Ord + std::hash::Hash + Into<Recipient>>(
    total: Money,
    weights: &[(K, u64)],
    granularity: Granularity,
) -> Result<Vec<(K, Money)>, ApportionError> {
    if total.is_negative() {
        return Err(ApportionError::NegativeTotal(total));
    }
    if weights.is_empty() {
        return Err(ApportionError::NoRecipients(total));
    }
    let mut seen = std::collections::HashSet::new();
    for (u, _) in weights {
        if !seen.insert(*u) {
            return Err(ApportionError::DuplicateRecipient((*u).into()));
        }
    }
    let unit = granularity.pence();
    if total.pence() % unit != 0 {
        return Err(ApportionError::NotWholeUnits { total });
    }
    let units = u128::from(total.pence().unsigned_abs() / unit.unsigned_abs());
    let sum: u128 = weights.iter().map(|(_, w)| u128::from(*w)).sum();
    if sum == 0 {
        return Err(ApportionError::WeightsSumToZero(total));
    }
    let mut parts: Vec<(K, u128, u128)> = weights
        .iter()
        .map(|(u, w)| {
            let exact = units * u128::from(*w);
            (*u, exact / sum, exact % sum)
        })
        .collect();
    let given: u128 = parts.iter().map(|p| p.1).sum();
    let mut leftover = units - given;
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| parts[b].2.cmp(&parts[a].2).then(parts[a].0.cmp(&parts[b].0)));
    for &i in &order {
        if leftover == 0 {
            break;
        }
        parts[i].1 += 1;
        leftover -= 1;
    }
    Ok(parts
        .into_iter()
        .map(|(u, n, _)| (u, Money::from_pence(i64::try_from(n).unwrap_or(i64::MAX) * unit)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn urn(i: u32) -> Urn {
        Urn::from_u32(100_000 + i).unwrap()
    }

    #[test]
    fn twenty_thousand_pounds_three_ways_places_the_leftover_pennies_by_urn() {
        // £20,000 / 3 = £6,666.666…: two pennies are left over; equal remainders, so the two
        // lowest URNs get one each.
        let parts = apportion(
            Money::from_pence(2_000_000),
            &[(urn(3), 1), (urn(1), 1), (urn(2), 1)],
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
            &[(urn(1), 1), (urn(2), 1), (urn(3), 1)],
            Granularity::Pound,
        )
        .unwrap();
        assert_eq!(
            pounds.iter().map(|p| p.1.pence()).collect::<Vec<_>>(),
            vec![666_700, 666_700, 666_600]
        );
    }

    #[test]
    fn refusals_name_the_rule() {
        let m = Money::from_pence(100);
        assert_eq!(
            apportion::<Urn>(m, &[], Granularity::Penny),
            Err(ApportionError::NoRecipients(m))
        );
        assert_eq!(
            apportion(m, &[(urn(1), 0)], Granularity::Penny),
            Err(ApportionError::WeightsSumToZero(m))
        );
        assert_eq!(
            apportion(Money::from_pence(-1), &[(urn(1), 1)], Granularity::Penny),
            Err(ApportionError::NegativeTotal(Money::from_pence(-1)))
        );
        assert!(matches!(
            apportion(Money::from_pence(150), &[(urn(1), 1)], Granularity::Pound),
            Err(ApportionError::NotWholeUnits { .. })
        ));
        assert_eq!(
            apportion(m, &[(urn(1), 1), (urn(1), 2)], Granularity::Penny),
            Err(ApportionError::DuplicateRecipient(urn(1).into()))
        );
    }

    proptest! {
        #[test]
        fn parts_always_reconcile_and_respect_the_weights(total in 0i64..10_000_000_000, weights in proptest::collection::vec(0u64..1_000_000, 1..60)) {
            prop_assume!(weights.iter().any(|w| *w > 0));
            let ws: Vec<(Urn, u64)> = weights.iter().enumerate().map(|(i, w)| (urn(i as u32), *w)).collect();
            let parts = apportion(Money::from_pence(total), &ws, Granularity::Penny).unwrap();
            prop_assert_eq!(parts.iter().map(|p| p.1.pence()).sum::<i64>(), total);
            prop_assert!(parts.iter().all(|p| !p.1.is_negative()));
            for (a, pa) in ws.iter().zip(&parts) {
                for (b, pb) in ws.iter().zip(&parts) {
                    if a.1 > b.1 {
                        prop_assert!(pa.1 >= pb.1, "a larger weight never gets less");
                    }
                    if a.1 == b.1 {
                        prop_assert!((pa.1.pence() - pb.1.pence()).abs() <= 1, "equal weights, equal parts ±1p");
                    }
                }
            }
        }
    }
}

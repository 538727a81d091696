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
    // Refuse negative weights; note the largest number of decimal places as written.
    let mut scale = 0u32;
    for (k, w) in weights {
        if w.0.is_sign_negative() && !w.0.is_zero() {
            return Err(ApportionError::NegativeWeight {
                recipient: (*k).into(),
                weight: *w,
            });
        }
        scale = scale.max(w.0.scale());
    }
    // Keys must be distinct; callers usually pass them sorted, which a single pass confirms.
    if weights.len() > 1 && !weights.windows(2).all(|p| p[0].0 < p[1].0) {
        let mut keys: Vec<K> = weights.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
            return Err(ApportionError::DuplicateRecipient(w[0].into()));
        }
    }
    let units = u128::from(total.pence().unsigned_abs() / unit.unsigned_abs());
    // Every weight as a whole number of 10^-scale. Scaling by the places as written keeps the
    // ratios exact; only when that overflows are the weights normalised (trailing zeros
    // dropped) to find a smaller common scale.
    let parts = match largest_remainder(units, weights, scale) {
        Some(parts) => parts,
        None => {
            let normalised = weights.iter().map(|(_, w)| w.0.normalize().scale()).max().unwrap_or(0);
            largest_remainder(units, weights, normalised).ok_or(ApportionError::TooLarge(total))?
        }
    };
    let parts = parts.ok_or(ApportionError::WeightsSumToZero(total))?;
    weights
        .iter()
        .zip(parts)
        .map(|((k, _), n)| {
            i64::try_from(n)
                .ok()
                .and_then(|n| n.checked_mul(unit))
                .map(|p| (*k, Money::from_pence(p)))
                .ok_or(ApportionError::TooLarge(total))
        })
        .collect()
}

/// `weights` as whole numbers of 10^-`scale`, or `None` when one does not fit.
fn scaled(w: Decimal, scale: u32) -> Option<u128> {
    let m = u128::try_from(w.mantissa()).ok()?;
    10u128.checked_pow(scale.checked_sub(w.scale())?)?.checked_mul(m)
}

/// The largest-remainder split of `units` by `weights` at `scale`: `None` when the arithmetic
/// would overflow, `Some(None)` when the weights add up to zero, else each part in order.
/// Ties between equal remainders go to the lower key.
#[allow(clippy::option_option)]
fn largest_remainder<K: Copy + Ord>(units: u128, weights: &[(K, Weight)], scale: u32) -> Option<Option<Vec<u128>>> {
    // (weight, then quotient; remainder)
    let mut parts: Vec<(u128, u128)> = Vec::with_capacity(weights.len());
    let mut sum = 0u128;
    let mut max = 0u128;
    for (_, w) in weights {
        let n = scaled(w.0, scale)?;
        sum = sum.checked_add(n)?;
        max = max.max(n);
        parts.push((n, 0));
    }
    if sum == 0 {
        return Some(None);
    }
    let largest_product = units.checked_mul(max)?;
    let mut given = 0u128;
    if largest_product <= u128::from(u64::MAX) && sum <= u128::from(u64::MAX) {
        // Everything fits in 64 bits: the common case, and far cheaper to divide.
        #[allow(clippy::cast_possible_truncation)]
        let (units64, sum64) = (units as u64, sum as u64);
        for p in &mut parts {
            #[allow(clippy::cast_possible_truncation)]
            let exact = units64 * (p.0 as u64);
            *p = (u128::from(exact / sum64), u128::from(exact % sum64));
            given += p.0;
        }
    } else {
        for p in &mut parts {
            let exact = units * p.0;
            *p = (exact / sum, exact % sum);
            given += p.0;
        }
    }
    let leftover = usize::try_from(units - given).ok()?;
    if leftover > 0 {
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.sort_unstable_by(|&a, &b| parts[b].1.cmp(&parts[a].1).then(weights[a].0.cmp(&weights[b].0)));
        for &i in order.iter().take(leftover) {
            parts[i].0 += 1;
        }
    }
    Some(Some(parts.into_iter().map(|p| p.0).collect()))
}

/// Reused buffers for [`split_whole`], so a run of many splits allocates once.
#[derive(Debug, Default)]
pub(crate) struct WholeSplit {
    /// Each part, in input order.
    pub parts: Vec<u64>,
    /// Remainder in the high bits, the complement of the index in the low ones: sorting these
    /// descending puts the largest remainder first and, among equals, the lower index.
    keys: Vec<u128>,
}

/// [`apportion`]'s largest remainder for weights already whole numbers of one unit, keys being
/// the positions (so ties go to the lower index: callers pass recipients in URN order). Scaling
/// every weight by the same factor changes neither the quotients nor the order of the
/// remainders, so this gives exactly what [`apportion`] gives for the same ratios. `None` when
/// the weights add up to zero or the arithmetic does not fit; the caller then takes the general
/// path, which names the error.
pub(crate) fn split_whole(units: u64, weights: &[u64], scratch: &mut WholeSplit) -> Option<()> {
    let sum = weights.iter().try_fold(0u64, |a, w| a.checked_add(*w))?;
    if sum == 0 || weights.len() > u32::MAX as usize {
        return None;
    }
    let max = weights.iter().copied().max().unwrap_or(0);
    let (parts, keys) = (&mut scratch.parts, &mut scratch.keys);
    parts.clear();
    keys.clear();
    let mut given = 0u64;
    let index_key = |i: usize| u128::from(u32::MAX - i as u32);
    if units.checked_mul(max).is_some() {
        for (i, w) in weights.iter().enumerate() {
            let exact = units * w;
            let (q, r) = (exact / sum, exact % sum);
            parts.push(q);
            given += q;
            keys.push(u128::from(r) << 32 | index_key(i));
        }
    } else {
        let (units, sum) = (u128::from(units), u128::from(sum));
        for (i, w) in weights.iter().enumerate() {
            let exact = units * u128::from(*w);
            #[allow(clippy::cast_possible_truncation)]
            let (q, r) = ((exact / sum) as u64, (exact % sum) as u64);
            parts.push(q);
            given += q;
            keys.push(u128::from(r) << 32 | index_key(i));
        }
    }
    let leftover = usize::try_from(units - given).ok()?;
    if leftover > 0 {
        keys.select_nth_unstable_by(leftover - 1, |a, b| b.cmp(a));
        for k in &keys[..leftover] {
            #[allow(clippy::cast_possible_truncation)]
            let i = (u32::MAX - *k as u32) as usize;
            parts[i] += 1;
        }
    }
    Some(())
}

/// Non-negative decimals as whole numbers of 10^-scale for one common scale (the most places
/// written), into `out`; the scale, or `None` when one is negative or does not fit in 64 bits.
pub(crate) fn whole_numbers(values: impl Iterator<Item = Decimal> + Clone, out: &mut Vec<u64>) -> Option<u32> {
    let mut scale = 0u32;
    for v in values.clone() {
        if v.is_sign_negative() && !v.is_zero() {
            return None;
        }
        scale = scale.max(v.scale());
    }
    out.clear();
    for v in values {
        let m = u64::try_from(v.mantissa()).ok()?;
        out.push(m.checked_mul(10u64.checked_pow(scale - v.scale())?)?);
    }
    Some(scale)
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

    /// The split as first written (normalised weights, 128-bit arithmetic throughout), kept to
    /// check the faster one gives exactly the same parts.
    fn reference(total: Money, weights: &[(Urn, Weight)], granularity: Granularity) -> Option<Vec<i64>> {
        let unit = granularity.pence();
        let scale = weights.iter().map(|(_, w)| w.0.normalize().scale()).max()?;
        let ints: Vec<u128> = weights
            .iter()
            .map(|(_, w)| {
                let d = w.0.normalize();
                10u128.pow(scale - d.scale()) * u128::try_from(d.mantissa()).unwrap()
            })
            .collect();
        let units = u128::try_from(total.pence() / unit).unwrap();
        let sum: u128 = ints.iter().sum();
        let mut parts: Vec<(u128, u128)> = ints.iter().map(|w| (units * w / sum, units * w % sum)).collect();
        let leftover = usize::try_from(units - parts.iter().map(|p| p.0).sum::<u128>()).unwrap();
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.sort_by(|&a, &b| parts[b].1.cmp(&parts[a].1).then(weights[a].0.cmp(&weights[b].0)));
        for &i in order.iter().take(leftover) {
            parts[i].0 += 1;
        }
        Some(parts.iter().map(|p| i64::try_from(p.0).unwrap() * unit).collect())
    }

    #[test]
    fn trailing_zeros_and_huge_weights_split_as_before() {
        // 1.000000000000 : 2 is 1 : 2 whatever the places written.
        let d = |s: &str| Weight::new(s.parse().unwrap());
        let ws = [(urn(1), d("1.000000000000")), (urn(2), d("2"))];
        let parts = apportion(Money::from_pence(300), &ws, Granularity::Penny).unwrap();
        assert_eq!(parts.iter().map(|p| p.1.pence()).collect::<Vec<_>>(), vec![100, 200]);
        // Weights too large for 64 bits still split exactly (the 128-bit path).
        let big = [(urn(1), d("79228162514264337593543950")), (urn(2), d("1"))];
        let parts = apportion(Money::from_pence(1_000_000), &big, Granularity::Penny).unwrap();
        assert_eq!(parts.iter().map(|p| p.1.pence()).sum::<i64>(), 1_000_000);
        // Unsorted keys are still checked for duplicates.
        assert_eq!(
            apportion(
                Money::from_pence(10),
                &[(urn(2), w(1)), (urn(1), w(1)), (urn(2), w(3))],
                Granularity::Penny
            ),
            Err(ApportionError::DuplicateRecipient(urn(2).into()))
        );
    }

    proptest! {
        #[test]
        fn the_whole_number_split_equals_apportion(
            units in 0u64..10_000_000_000,
            weights in proptest::collection::vec(0u64..20_000_000_000, 1..40),
            lift in 0u32..9,
        ) {
            prop_assume!(weights.iter().any(|w| *w > 0));
            let ws: Vec<(usize, Weight)> = weights.iter().map(|w| Weight::new(Decimal::new(i64::try_from(*w).unwrap(), lift))).enumerate().collect();
            let general: Vec<i64> = apportion(Money::from_pence(i64::try_from(units).unwrap()), &ws, Granularity::Penny)
                .unwrap()
                .iter()
                .map(|p| p.1.pence())
                .collect();
            let mut scratch = WholeSplit::default();
            prop_assert_eq!(split_whole(units, &weights, &mut scratch), Some(()));
            prop_assert_eq!(scratch.parts.iter().map(|p| i64::try_from(*p).unwrap()).collect::<Vec<_>>(), general);
        }

        #[test]
        fn the_fast_split_equals_the_reference(
            total in 0i64..10_000_000_000,
            weights in proptest::collection::vec((0u64..10_000_000, 0u32..13), 1..40),
            pounds in any::<bool>(),
        ) {
            prop_assume!(weights.iter().any(|w| w.0 > 0));
            let g = if pounds { Granularity::Pound } else { Granularity::Penny };
            let total = Money::from_pence(total - total % g.pence());
            let ws: Vec<(Urn, Weight)> = weights
                .iter()
                .enumerate()
                .map(|(i, (x, sc))| (urn(i as u32 * 7 % 41), Weight::new(Decimal::new(*x as i64, *sc))))
                .collect();
            prop_assume!({ let mut k: Vec<Urn> = ws.iter().map(|w| w.0).collect(); k.sort(); k.dedup(); k.len() == ws.len() });
            let fast: Vec<i64> = apportion(total, &ws, g).unwrap().iter().map(|p| p.1.pence()).collect();
            prop_assert_eq!(Some(fast), reference(total, &ws, g));
        }

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

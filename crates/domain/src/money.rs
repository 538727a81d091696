//! Money: integer pence, checked arithmetic, shown as £ with thousands separators. Rates (which
//! may hold fractions of a penny) are exact decimals; the only way from a rate to money is
//! [`Money::round`], which names its unit and its rounding rule.
#![deny(clippy::float_arithmetic)]

use rust_decimal::{Decimal, RoundingStrategy};
use std::fmt;

/// The unit a split or a rounding is made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Penny,
    Pound,
}

impl Granularity {
    /// The unit in pence (1 or 100).
    pub const fn pence(self) -> i64 {
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
    pub fn code(self) -> &'static str {
        match self {
            Granularity::Penny => "penny",
            Granularity::Pound => "pound",
        }
    }
    pub fn from_code(code: &str) -> Option<Granularity> {
        [Granularity::Penny, Granularity::Pound]
            .into_iter()
            .find(|g| g.code() == code)
    }
}

/// How an exact amount becomes whole units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Towards zero: never pays out more than the exact amount.
    Down,
    /// To the nearest unit, halves away from zero.
    HalfUp,
}

impl Rounding {
    pub fn describe(self) -> &'static str {
        match self {
            Rounding::Down => "rounded down",
            Rounding::HalfUp => "rounded half up",
        }
    }
}

/// An exact rate in pounds (per pupil, per FTE, per unit), possibly with fractions of a penny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Rate(Decimal);

impl Rate {
    pub fn from_money(m: Money) -> Rate {
        Rate(Decimal::new(m.pence(), 2))
    }
    /// Parses `£10.125`, `10`, `0.5`; refuses negative rates.
    pub fn parse(s: &str) -> Result<Rate, MoneyError> {
        let t = s.trim();
        let t = t.strip_prefix('£').unwrap_or(t).replace(',', "");
        let d: Decimal = t.parse().map_err(|_| MoneyError::Parse(s.to_string()))?;
        if d.is_sign_negative() && !d.is_zero() {
            return Err(MoneyError::Parse(s.to_string()));
        }
        Ok(Rate(d.normalize()))
    }
    pub fn pounds(self) -> Decimal {
        self.0
    }
    /// The exact amount, in pence, of `count` units at this rate (no rounding yet).
    pub fn times(self, count: Decimal) -> Option<Decimal> {
        self.0.checked_mul(count)?.checked_mul(Decimal::ONE_HUNDRED)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0.normalize();
        if d.scale() <= 2 {
            // Whole pence: show it as money.
            let pence = (d * Decimal::ONE_HUNDRED).trunc();
            if let Ok(p) = i64::try_from(pence) {
                return Money(p).fmt(f);
            }
        }
        let whole = Money(i64::try_from(d.trunc() * Decimal::ONE_HUNDRED).unwrap_or(0));
        let frac = d.fract().to_string();
        let s = whole.to_string();
        write!(f, "{}{}", s.trim_end_matches(".00"), frac.trim_start_matches('0'))
    }
}

/// An amount in pence. The field is private: arithmetic is checked, never silently wrapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("{0:?} is not an amount of money like £1,234.56")]
    Parse(String),
    #[error("the amount is too large")]
    Overflow,
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_pence(pence: i64) -> Money {
        Money(pence)
    }
    pub fn from_pounds(pounds: i64) -> Option<Money> {
        pounds.checked_mul(100).map(Money)
    }
    pub const fn pence(self) -> i64 {
        self.0
    }
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }
    pub fn checked_mul(self, n: i64) -> Option<Money> {
        self.0.checked_mul(n).map(Money)
    }
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
    /// The sum, or `None` on overflow.
    pub fn sum<'a>(amounts: impl IntoIterator<Item = &'a Money>) -> Option<Money> {
        amounts.into_iter().try_fold(Money::ZERO, |acc, m| acc.checked_add(*m))
    }

    /// The one way from an exact amount in pence to money: to whole `unit`s by `rule`.
    pub fn round(exact_pence: Decimal, unit: Granularity, rule: Rounding) -> Result<Money, MoneyError> {
        let units = exact_pence / Decimal::from(unit.pence());
        let whole = match rule {
            Rounding::Down => units.round_dp_with_strategy(0, RoundingStrategy::ToZero),
            Rounding::HalfUp => units.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero),
        };
        let n = i64::try_from(whole).map_err(|_| MoneyError::Overflow)?;
        n.checked_mul(unit.pence()).map(Money).ok_or(MoneyError::Overflow)
    }
    /// The amount in pence as an exact decimal.
    pub fn to_decimal_pence(self) -> Decimal {
        Decimal::from(self.0)
    }

    /// Parses `£1,234.56`, `1234.56`, `1234`, `-£5.00` (at most two decimal places) or pence
    /// (`123456p`), exactly.
    pub fn parse(s: &str) -> Result<Money, MoneyError> {
        let err = || MoneyError::Parse(s.to_string());
        let t = s.trim();
        let (negative, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, t),
        };
        if let Some(p) = t.strip_suffix('p')
            && !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
        {
            let pence: i64 = p.parse().map_err(|_| MoneyError::Overflow)?;
            return Ok(Money(if negative { -pence } else { pence }));
        }
        let t = t.strip_prefix('£').unwrap_or(t).replace(',', "");
        let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
        if whole.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || frac.len() > 2
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(err());
        }
        let pounds: i64 = whole.parse().map_err(|_| MoneyError::Overflow)?;
        let pence: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<2}").parse().map_err(|_| err())?
        };
        let total = pounds
            .checked_mul(100)
            .and_then(|p| p.checked_add(pence))
            .ok_or(MoneyError::Overflow)?;
        Ok(Money(if negative { -total } else { total }))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let pounds = (abs / 100).to_string();
        let mut grouped = String::with_capacity(pounds.len() + pounds.len() / 3);
        for (i, ch) in pounds.chars().enumerate() {
            if i > 0 && (pounds.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        write!(f, "{sign}£{grouped}.{:02}", abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let cases = [
            ("£1,234.56", Some(123_456)),
            ("1234.5", Some(123_450)),
            ("20000", Some(2_000_000)),
            ("-£5.00", Some(-500)),
            ("£0.07", Some(7)),
            ("123456p", Some(123_456)),
            ("-5p", Some(-5)),
            ("1.5p", None),
            ("1.234", None),
            ("£", None),
            ("abc", None),
            ("1.2.3", None),
        ];
        for (s, want) in cases {
            assert_eq!(Money::parse(s).ok().map(Money::pence), want, "{s}");
        }
        assert_eq!(Money::from_pence(123_456_789).to_string(), "£1,234,567.89");
        assert_eq!(Money::from_pence(-5).to_string(), "-£0.05");
        assert_eq!(Money::from_pence(0).to_string(), "£0.00");
        assert_eq!(Money::from_pence(i64::MAX).checked_add(Money::from_pence(1)), None);
        assert_eq!(
            Money::sum(&[Money::from_pence(1), Money::from_pence(2)]),
            Some(Money::from_pence(3))
        );
    }

    #[test]
    fn rates_become_money_only_by_a_named_rounding() {
        let r = Rate::parse("£10.125").unwrap();
        assert_eq!(r.to_string(), "£10.125");
        assert_eq!(Rate::parse("2").unwrap().to_string(), "£2.00");
        assert_eq!(Rate::parse("1234.5").unwrap().to_string(), "£1,234.50");
        assert!(Rate::parse("-1").is_err());
        let exact = r.times(Decimal::from(3)).unwrap(); // 3,037.5 pence
        assert_eq!(
            Money::round(exact, Granularity::Penny, Rounding::Down),
            Ok(Money::from_pence(3_037))
        );
        assert_eq!(
            Money::round(exact, Granularity::Penny, Rounding::HalfUp),
            Ok(Money::from_pence(3_038))
        );
        assert_eq!(
            Money::round(exact, Granularity::Pound, Rounding::Down),
            Ok(Money::from_pence(3_000))
        );
        assert_eq!(
            Money::round(exact, Granularity::Pound, Rounding::HalfUp),
            Ok(Money::from_pence(3_000))
        );
        assert_eq!(
            Money::round(Decimal::from(150), Granularity::Pound, Rounding::HalfUp),
            Ok(Money::from_pence(200))
        );
    }
}

//! Money: integer pence, checked arithmetic, shown as £ with thousands separators.
#![deny(clippy::float_arithmetic)]

use std::fmt;

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

    /// Parses `£1,234.56`, `1234.56`, `1234` or `-£5.00` exactly (at most two decimal places).
    pub fn parse(s: &str) -> Result<Money, MoneyError> {
        let err = || MoneyError::Parse(s.to_string());
        let t = s.trim();
        let (negative, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, t),
        };
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
}

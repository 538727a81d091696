//! Numbers and dates as people read them.

use domain::NaiveDate;
use domain::school::Tenths;

/// 119236 → "119,236".
pub(crate) fn int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A percentage held in tenths, or an en dash when not known.
pub(crate) fn pct(p: Option<Tenths>) -> String {
    p.map_or_else(|| "–".to_string(), |t| format!("{t}%"))
}

/// Share of `part` in `whole` to one decimal place.
pub(crate) fn share(part: u64, whole: u64) -> String {
    pct(i64::try_from(part)
        .ok()
        .zip(i64::try_from(whole).ok())
        .and_then(|(p, w)| Tenths::from_ratio_percent(p, w)))
}

/// 2023-01-19 → "19 January 2023" (GOV.UK style).
pub(crate) fn date(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1000), "1,000");
        assert_eq!(int(119_236), "119,236");
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(share(1, 8), "12.5%");
        assert_eq!(share(1, 0), "–");
        assert_eq!(date(NaiveDate::from_ymd_opt(2023, 1, 19).unwrap()), "19 January 2023");
    }
}

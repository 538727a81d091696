//! Validated identifiers of the English school system: URN, LA code, LAESTAB and UPN.

use std::fmt;
use thiserror::Error;

/// Why an identifier was refused. Each message names the rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    #[error("a URN is exactly 6 digits; got {0:?}")]
    Urn(String),
    #[error("an LA code is exactly 3 digits; got {0:?}")]
    LaCode(String),
    #[error("a LAESTAB is exactly 7 digits (LA code 3 + establishment number 4); got {0:?}")]
    Laestab(String),
    #[error("LAESTAB {laestab} does not start with the school's LA code {la_code}")]
    LaestabLaMismatch { laestab: Laestab, la_code: LaCode },
    #[error("a UPN is 13 characters: a check letter, 11 digits and a digit or letter; got {0:?}")]
    UpnShape(String),
    #[error("UPN {upn} has check letter {found} but its digits give {expected}")]
    UpnCheckLetter { upn: String, found: char, expected: char },
}

fn all_digits(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
}

/// Unique Reference Number of an establishment (GIAS): exactly 6 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Urn(u32);

impl Urn {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let t = s.trim();
        if !all_digits(t, 6) {
            return Err(IdError::Urn(s.to_string()));
        }
        t.parse().map(Urn).map_err(|_| IdError::Urn(s.to_string()))
    }
    /// From a stored integer; refuses anything that is not 6 digits.
    pub fn from_u32(n: u32) -> Result<Self, IdError> {
        if (100_000..=999_999).contains(&n) {
            Ok(Urn(n))
        } else {
            Err(IdError::Urn(n.to_string()))
        }
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Urn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// The old three-digit DfE local-authority code (Norfolk is 926).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LaCode(u16);

impl LaCode {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let t = s.trim();
        if !all_digits(t, 3) {
            return Err(IdError::LaCode(s.to_string()));
        }
        t.parse().map(LaCode).map_err(|_| IdError::LaCode(s.to_string()))
    }
    pub fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for LaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

/// LA code × 10000 + establishment number: exactly 7 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Laestab(u32);

impl Laestab {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let t = s.trim();
        if !all_digits(t, 7) || t.starts_with('0') {
            return Err(IdError::Laestab(s.to_string()));
        }
        t.parse().map(Laestab).map_err(|_| IdError::Laestab(s.to_string()))
    }
    /// Parses and checks that the LAESTAB belongs to `la_code`.
    pub fn parse_for_la(s: &str, la_code: LaCode) -> Result<Self, IdError> {
        let l = Self::parse(s)?;
        l.check_la(la_code)?;
        Ok(l)
    }
    pub fn from_parts(la_code: LaCode, establishment: u16) -> Result<Self, IdError> {
        let n = u32::from(la_code.0) * 10_000 + u32::from(establishment);
        Self::parse(&n.to_string())
    }
    pub fn check_la(self, la_code: LaCode) -> Result<(), IdError> {
        if self.la_code() != la_code {
            return Err(IdError::LaestabLaMismatch { laestab: self, la_code });
        }
        Ok(())
    }
    pub fn la_code(self) -> LaCode {
        // 7 digits and no leading zero, so the quotient is 100..=999 and fits in u16.
        LaCode((self.0 / 10_000) as u16)
    }
    pub fn establishment_number(self) -> u16 {
        (self.0 % 10_000) as u16
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Laestab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Unique Pupil Number: a check letter then 12 characters (the last may be a letter for a
/// temporary UPN). The check letter is Σ(value × weight) for characters 2–13 with weights
/// 2..=13, mod 23, indexed into [`UPN_ALPHABET`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Upn(String);

/// The 23 letters UPNs use (no I, O or S).
pub const UPN_ALPHABET: &[u8; 23] = b"ABCDEFGHJKLMNPQRTUVWXYZ";

fn upn_char_value(c: u8) -> Option<u32> {
    if c.is_ascii_digit() {
        return Some(u32::from(c - b'0'));
    }
    UPN_ALPHABET
        .iter()
        .position(|&a| a == c)
        .and_then(|p| u32::try_from(p).ok())
}

impl Upn {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let t = s.trim().to_ascii_uppercase();
        let b = t.as_bytes();
        let shape_ok = b.len() == 13
            && UPN_ALPHABET.contains(&b[0])
            && b[1..12].iter().all(u8::is_ascii_digit)
            && (b[12].is_ascii_digit() || UPN_ALPHABET.contains(&b[12]));
        if !shape_ok {
            return Err(IdError::UpnShape(s.to_string()));
        }
        let expected = Self::check_letter(&b[1..]).ok_or_else(|| IdError::UpnShape(s.to_string()))?;
        if expected != char::from(b[0]) {
            return Err(IdError::UpnCheckLetter {
                upn: t.clone(),
                found: char::from(b[0]),
                expected,
            });
        }
        Ok(Upn(t))
    }

    /// The check letter for the 12 characters after it.
    pub fn check_letter(rest: &[u8]) -> Option<char> {
        if rest.len() != 12 {
            return None;
        }
        let mut sum = 0u32;
        for (i, &c) in rest.iter().enumerate() {
            let weight = u32::try_from(i).ok()? + 2;
            sum += upn_char_value(c)? * weight;
        }
        UPN_ALPHABET.get((sum % 23) as usize).map(|&c| char::from(c))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Upn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! record_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

record_id!(
    /// An authority (the tenant every record belongs to).
    AuthorityId
);
record_id!(
    /// A cluster within an authority.
    ClusterId
);
record_id!(
    /// A network (functional grouping) within an authority.
    NetworkId
);
record_id!(
    /// A user account.
    UserId
);
record_id!(
    /// A named geography layer (district, division, custom area set).
    LayerId
);
record_id!(
    /// A person who sits on a committee (governor, head, clerk, officer).
    PersonId
);
record_id!(
    /// A committee meeting.
    MeetingId
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn upn_examples_from_the_dfe_rule() {
        let cases = [
            ("B801200005001", true),
            ("P207000016049", true),
            ("A801200005001", false),
            ("b801200005001", true),
            ("B80120000500", false),
            ("I801200005001", false),
            ("", false),
        ];
        for (upn, valid) in cases {
            assert_eq!(Upn::parse(upn).is_ok(), valid, "{upn}");
        }
        assert_eq!(
            Upn::parse("A801200005001"),
            Err(IdError::UpnCheckLetter {
                upn: "A801200005001".into(),
                found: 'A',
                expected: 'B'
            })
        );
    }

    #[test]
    fn urn_is_six_digits() {
        for (s, ok) in [
            ("120765", true),
            ("12076", false),
            ("1207651", false),
            ("12a765", false),
            (" 120765 ", true),
            ("-12076", false),
        ] {
            assert_eq!(Urn::parse(s).is_ok(), ok, "{s}");
        }
        assert_eq!(Urn::parse("100000").map(|u| u.to_string()), Ok("100000".into()));
    }

    #[test]
    fn laestab_is_seven_digits_and_matches_its_la() {
        let norfolk = LaCode::parse("926").unwrap();
        assert!(Laestab::parse_for_la("9262045", norfolk).is_ok());
        assert!(matches!(
            Laestab::parse_for_la("8012045", norfolk),
            Err(IdError::LaestabLaMismatch { .. })
        ));
        assert!(Laestab::parse("926204").is_err());
        assert!(Laestab::parse("0262045").is_err());
        let l = Laestab::parse("9262045").unwrap();
        assert_eq!((l.la_code().get(), l.establishment_number()), (926, 2045));
        assert_eq!(Laestab::from_parts(norfolk, 2045), Ok(l));
    }

    proptest! {
        #[test]
        fn a_computed_check_letter_always_validates(digits in "[0-9]{11}", last in "[0-9ABCDEFGHJKLMNPQRTUVWXYZ]") {
            let rest = format!("{digits}{last}");
            let letter = Upn::check_letter(rest.as_bytes()).unwrap();
            let upn = format!("{letter}{rest}");
            prop_assert!(Upn::parse(&upn).is_ok());
            // Any other check letter is refused.
            for &other in UPN_ALPHABET.iter().filter(|&&c| char::from(c) != letter) {
                let bad = format!("{}{rest}", char::from(other));
                prop_assert!(Upn::parse(&bad).is_err());
            }
        }

        #[test]
        fn urn_parse_never_panics(s in ".*") {
            let _ = Urn::parse(&s);
            let _ = Laestab::parse(&s);
            let _ = Upn::parse(&s);
        }
    }
}

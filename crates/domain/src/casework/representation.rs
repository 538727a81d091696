//! The representation check: is a group (girls, boys, FSM pupils, minority-ethnic pupils) on a
//! register, or in a unit, in about the proportion it is in the school?
//!
//! Method: for each group, the number of its members among the `n` selected pupils is compared
//! with Binomial(n, p), where p is the group's share of the school's own composition. The p-value
//! is the exact two-sided binomial test (the sum of the probabilities of every outcome no more
//! likely than the one seen, as R's `binom.test` does). A group is *under-* or *over-represented*
//! when p < 0.05; with fewer than 10 selected pupils the check says there are too few to judge.
//! The ratio (selected share ÷ school share) is shown beside it. Floats are fine here: these are
//! statistics, never money.

use super::Characteristics;

/// A group the check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Girls,
    Boys,
    Fsm,
    MinorityEthnic,
}

impl Group {
    pub const ALL: [Group; 4] = [Group::Girls, Group::Boys, Group::Fsm, Group::MinorityEthnic];
    pub fn code(self) -> &'static str {
        match self {
            Group::Girls => "girls",
            Group::Boys => "boys",
            Group::Fsm => "fsm",
            Group::MinorityEthnic => "minority_ethnic",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        Group::ALL.into_iter().find(|g| g.code() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Group::Girls => "Girls",
            Group::Boys => "Boys",
            Group::Fsm => "Eligible for free school meals",
            Group::MinorityEthnic => "Minority ethnic",
        }
    }
    pub fn contains(self, c: &Characteristics) -> bool {
        match self {
            Group::Girls => c.gender == super::Gender::Female,
            Group::Boys => c.gender == super::Gender::Male,
            Group::Fsm => c.fsm,
            Group::MinorityEthnic => c.ethnicity.is_minority(),
        }
    }
}

/// A school's own composition: pupils on roll and how many are in each group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Composition {
    pub pupils: u32,
    pub groups: Vec<(Group, u32)>,
}

impl Composition {
    pub fn count(&self, g: Group) -> Option<u32> {
        self.groups.iter().find(|(x, _)| *x == g).map(|(_, n)| *n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    InLine,
    Under,
    Over,
    TooFewToJudge,
    /// The school's composition for the group is not known.
    Unknown,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::InLine => "In line with the school",
            Verdict::Under => "Under-represented",
            Verdict::Over => "Over-represented",
            Verdict::TooFewToJudge => "Too few to judge",
            Verdict::Unknown => "School figure not known",
        }
    }
}

/// The least number of selected pupils the check judges.
pub const MIN_TO_JUDGE: u32 = 10;
/// The significance level.
pub const ALPHA: f64 = 0.05;

#[derive(Debug, Clone, PartialEq)]
pub struct RepresentationRow {
    pub group: Group,
    pub selected: u32,
    pub of: u32,
    /// The group's share of the school (0–1), when known.
    pub school_share: Option<f64>,
    /// Selected share ÷ school share.
    pub ratio: Option<f64>,
    pub p_value: Option<f64>,
    pub verdict: Verdict,
}

fn ln_choose(n: u32, k: u32) -> f64 {
    let k = k.min(n - k);
    (0..k).map(|i| f64::from(n - i).ln() - f64::from(i + 1).ln()).sum()
}

fn binomial_pmf(n: u32, k: u32, p: f64) -> f64 {
    if p <= 0.0 {
        return if k == 0 { 1.0 } else { 0.0 };
    }
    if p >= 1.0 {
        return if k == n { 1.0 } else { 0.0 };
    }
    (ln_choose(n, k) + f64::from(k) * p.ln() + f64::from(n - k) * (1.0 - p).ln()).exp()
}

/// The exact two-sided binomial test's p-value for `k` successes in `n` trials at rate `p`.
pub fn binomial_two_sided_p(k: u32, n: u32, p: f64) -> f64 {
    if n == 0 || k > n {
        return 1.0;
    }
    let seen = binomial_pmf(n, k, p);
    let tolerance = 1.0 + 1e-7;
    let total: f64 = (0..=n)
        .map(|i| binomial_pmf(n, i, p))
        .filter(|&q| q <= seen * tolerance)
        .sum();
    total.min(1.0)
}

/// Checks the selected pupils (a register, a unit's placements) against the school.
pub fn representation(selected: &[Characteristics], school: &Composition) -> Vec<RepresentationRow> {
    let n = u32::try_from(selected.len()).unwrap_or(u32::MAX);
    Group::ALL
        .into_iter()
        .map(|group| {
            let k = u32::try_from(selected.iter().filter(|c| group.contains(c)).count()).unwrap_or(u32::MAX);
            let share = school
                .count(group)
                .filter(|_| school.pupils > 0)
                .map(|c| f64::from(c) / f64::from(school.pupils));
            let observed = if n > 0 { f64::from(k) / f64::from(n) } else { 0.0 };
            let ratio = share.filter(|&s| s > 0.0).map(|s| observed / s);
            let p_value = share.map(|s| binomial_two_sided_p(k, n, s));
            let verdict = match (share, p_value) {
                (None, _) | (_, None) => Verdict::Unknown,
                _ if n < MIN_TO_JUDGE => Verdict::TooFewToJudge,
                (Some(s), Some(p)) if p < ALPHA => {
                    if observed < s {
                        Verdict::Under
                    } else {
                        Verdict::Over
                    }
                }
                _ => Verdict::InLine,
            };
            RepresentationRow {
                group,
                selected: k,
                of: n,
                school_share: share,
                ratio,
                p_value,
                verdict,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{EthnicGroup, Gender, SenStatus};
    use super::*;

    fn pupil(gender: Gender, fsm: bool, ethnicity: EthnicGroup) -> Characteristics {
        Characteristics {
            gender,
            ethnicity,
            fsm,
            sen: SenStatus::None,
            eal: false,
        }
    }

    #[test]
    fn binomial_p_values_match_published_values() {
        // R's binom.test(2, 20, 0.5) gives p = 0.0004025, binom.test(7, 20, 0.3) 0.6295 and
        // binom.test(0, 10, 0.2) 0.2282.
        let cases = [
            (2, 20, 0.5, 0.000_402_5),
            (7, 20, 0.3, 0.6295),
            (10, 20, 0.5, 1.0),
            (0, 10, 0.2, 0.2282),
        ];
        for (k, n, p, want) in cases {
            let got = binomial_two_sided_p(k, n, p);
            assert!((got - want).abs() < 5e-4, "{k}/{n} at {p}: {got}");
        }
    }

    #[test]
    fn a_register_of_boys_is_flagged_and_a_fair_one_is_not() {
        let school = Composition {
            pupils: 1000,
            groups: vec![
                (Group::Girls, 500),
                (Group::Boys, 500),
                (Group::Fsm, 200),
                (Group::MinorityEthnic, 100),
            ],
        };
        let mut register = vec![pupil(Gender::Male, false, EthnicGroup::WhiteBritish); 18];
        register.extend(vec![pupil(Gender::Female, false, EthnicGroup::Asian); 2]);
        let rows = representation(&register, &school);
        let verdict = |g| rows.iter().find(|r| r.group == g).map(|r| r.verdict);
        assert_eq!(verdict(Group::Girls), Some(Verdict::Under));
        assert_eq!(verdict(Group::Boys), Some(Verdict::Over));
        // None of 20 where the school has 20 % FSM: p ≈ 0.02, so under-represented too.
        assert_eq!(verdict(Group::Fsm), Some(Verdict::Under));
        let fair: Vec<_> = (0..20)
            .map(|i| {
                pupil(
                    if i % 2 == 0 { Gender::Male } else { Gender::Female },
                    i % 5 == 0,
                    EthnicGroup::WhiteBritish,
                )
            })
            .collect();
        assert!(
            representation(&fair, &school)
                .iter()
                .filter(|r| r.group != Group::MinorityEthnic)
                .all(|r| r.verdict == Verdict::InLine)
        );
        let few = representation(&register[..5], &school);
        assert!(few.iter().all(|r| r.verdict == Verdict::TooFewToJudge));
        assert!(
            representation(&register, &Composition::default())
                .iter()
                .all(|r| r.verdict == Verdict::Unknown)
        );
    }
}

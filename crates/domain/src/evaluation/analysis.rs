//! The analysis FADE reports are pre-filled with: gaps between a cluster, the rest of the
//! authority and the national figure over time, said in a sentence; difference-in-differences
//! against comparison schools with a seeded bootstrap interval over schools and plain-language
//! caveats; the representation check from counts; and the prompt to redirect money from an
//! activity that shows no measurable change.
//!
//! Methods (docs/EVALUATION.md gives the same with worked examples):
//! - A group's figure for a year is the mean of its schools' values, each school counting once;
//!   schools whose value is a DfE symbol (`c`, `x`, `z`, `low`) are left out and counted.
//! - gap = cluster mean − comparison mean. Whether the cluster is *behind* depends on the
//!   measure: below for attainment, above for absence and exclusions.
//! - DiD = (mean after − mean before over treated schools) − (the same over comparison schools),
//!   where each school's before and after are the means of its values in the two windows, and
//!   only schools with a value in both windows count. The 95 % interval is the 2.5th and 97.5th
//!   percentiles (linear interpolation) of the estimate over `replicates` bootstrap samples that
//!   resample treated and comparison schools with replacement, each side keeping its size.

use super::AcademicYear;
use super::metrics::Unit;
use super::one_decimal;
use crate::casework::representation::{
    ALPHA, Composition, Group, MIN_TO_JUDGE, RepresentationRow, Verdict, binomial_two_sided_p,
};
use crate::design::rng::Rng;
use crate::money::Money;
use chrono::{Datelike, NaiveDate};

/// One school's figure in one year, for the gap analysis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GapInput {
    pub period: AcademicYear,
    /// The cluster the school is in (an index from 0), or `None` for a school in no cluster.
    pub cluster: Option<u32>,
    /// `None` when the school's value is a DfE symbol.
    pub value: Option<f64>,
}

/// A mean over schools.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Mean {
    pub value: Option<f64>,
    /// Schools with a value.
    pub schools: u32,
    /// Schools whose figure was a symbol.
    pub without_value: u32,
}

/// One year of a cluster's gaps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GapPoint {
    pub period: AcademicYear,
    pub cluster: Mean,
    /// The authority's other schools (in other clusters or none).
    pub rest: Mean,
    pub national: Option<f64>,
}

impl GapPoint {
    pub fn gap_to_rest(&self) -> Option<f64> {
        Some(self.cluster.value? - self.rest.value?)
    }
    pub fn gap_to_national(&self) -> Option<f64> {
        Some(self.cluster.value? - self.national?)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    sum: f64,
    n: u32,
    missing: u32,
}

impl Acc {
    fn add(&mut self, v: Option<f64>) {
        match v {
            Some(v) => {
                self.sum += v;
                self.n += 1;
            }
            None => self.missing += 1,
        }
    }
    fn mean(self) -> Mean {
        Mean {
            value: (self.n > 0).then(|| self.sum / f64::from(self.n)),
            schools: self.n,
            without_value: self.missing,
        }
    }
    fn less(self, part: Acc) -> Acc {
        Acc {
            sum: self.sum - part.sum,
            n: self.n - part.n,
            missing: self.missing - part.missing,
        }
    }
}

/// Every cluster's gaps for one measure and group at once: the authority's totals are summed
/// once and the rest of the authority is the total less the cluster (one pass over the values).
/// Returns, per cluster index `0..clusters`, one point per year that has any value, oldest first.
pub fn gaps_by_cluster(inputs: &[GapInput], clusters: usize, national: &[(AcademicYear, f64)]) -> Vec<Vec<GapPoint>> {
    let mut periods: Vec<AcademicYear> = inputs.iter().map(|i| i.period).collect();
    periods.sort_unstable();
    periods.dedup();
    let width = periods.len();
    let mut total = vec![Acc::default(); width];
    let mut by_cluster = vec![Acc::default(); clusters * width];
    // Years are few and the inputs mostly come in year order: remember the last lookup.
    let mut last = (AcademicYear(0), 0usize);
    for i in inputs {
        let p = if i.period == last.0 {
            last.1
        } else {
            let p = periods.binary_search(&i.period).unwrap_or(0);
            last = (i.period, p);
            p
        };
        total[p].add(i.value);
        if let Some(c) = i.cluster.map(|c| c as usize).filter(|&c| c < clusters) {
            by_cluster[c * width + p].add(i.value);
        }
    }
    let national_in = |p: AcademicYear| national.iter().find(|(y, _)| *y == p).map(|(_, v)| *v);
    (0..clusters)
        .map(|c| {
            periods
                .iter()
                .enumerate()
                .map(|(p, &period)| {
                    let mine = by_cluster[c * width + p];
                    GapPoint {
                        period,
                        cluster: mine.mean(),
                        rest: total[p].less(mine).mean(),
                        national: national_in(period),
                    }
                })
                .collect()
        })
        .collect()
}

/// What a gap is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Against {
    RestOfAuthority,
    National,
}

impl Against {
    pub fn label(self) -> &'static str {
        match self {
            Against::RestOfAuthority => "the rest of the authority",
            Against::National => "the national figure",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Position {
    Behind(f64),
    Level,
    Ahead(f64),
}

fn position(gap: f64, higher_is_better: bool) -> Position {
    let size = (gap.abs() * 10.0).round() / 10.0;
    let behind = if higher_is_better { gap < 0.0 } else { gap > 0.0 };
    match (size == 0.0, behind) {
        (true, _) => Position::Level,
        (false, true) => Position::Behind(size),
        (false, false) => Position::Ahead(size),
    }
}

/// The gap over time in one sentence, e.g. "The gap to the rest of the authority narrowed from
/// 10.4 to 7.8 percentage points between 2018/19 and 2022/23." Uses the first and last years
/// where both figures exist; `None` when there is no such year.
pub fn gap_sentence(points: &[GapPoint], against: Against, unit: Unit, higher_is_better: bool) -> Option<String> {
    let gap = |p: &GapPoint| match against {
        Against::RestOfAuthority => p.gap_to_rest(),
        Against::National => p.gap_to_national(),
    };
    let mut known = points.iter().filter_map(|p| gap(p).map(|g| (p.period, g)));
    let (y1, g1) = known.next()?;
    let last = known.next_back();
    let words = unit.difference_word();
    let them = against.label();
    let n = one_decimal;
    let Some((y2, g2)) = last else {
        return Some(match position(g1, higher_is_better) {
            Position::Behind(a) => format!("In {y1} the cluster was {} {words} behind {them}.", n(a)),
            Position::Ahead(a) => format!("In {y1} the cluster was {} {words} ahead of {them}.", n(a)),
            Position::Level => format!("In {y1} the cluster was level with {them}."),
        });
    };
    use Position::{Ahead, Behind, Level};
    Some(match (position(g1, higher_is_better), position(g2, higher_is_better)) {
        (Behind(a), Behind(b)) if b < a => {
            format!(
                "The gap to {them} narrowed from {} to {} {words} between {y1} and {y2}.",
                n(a),
                n(b)
            )
        }
        (Behind(a), Behind(b)) if b > a => {
            format!(
                "The gap to {them} widened from {} to {} {words} between {y1} and {y2}.",
                n(a),
                n(b)
            )
        }
        (Behind(a), Behind(_)) => format!("The gap to {them} stayed at {} {words} from {y1} to {y2}.", n(a)),
        (Ahead(a), Ahead(b)) if b > a => format!(
            "The cluster's lead over {them} grew from {} to {} {words} between {y1} and {y2}.",
            n(a),
            n(b)
        ),
        (Ahead(a), Ahead(b)) if b < a => format!(
            "The cluster's lead over {them} shrank from {} to {} {words} between {y1} and {y2}.",
            n(a),
            n(b)
        ),
        (Ahead(a), Ahead(_)) => format!(
            "The cluster's lead over {them} held at {} {words} from {y1} to {y2}.",
            n(a)
        ),
        (Level, Level) => format!("The cluster was level with {them} in {y1} and in {y2}."),
        (from, to) => {
            let say = |p: Position, y: AcademicYear, first: bool| match p {
                Behind(a) if first => format!("{} {words} behind {them} in {y}", n(a)),
                Ahead(a) if first => format!("{} {words} ahead of {them} in {y}", n(a)),
                Level if first => format!("level with {them} in {y}"),
                Behind(a) => format!("{} behind in {y}", n(a)),
                Ahead(a) => format!("{} ahead in {y}", n(a)),
                Level => format!("level in {y}"),
            };
            format!(
                "The cluster went from {} to {}.",
                say(from, y1, true),
                say(to, y2, false)
            )
        }
    })
}

/// A school's figure before and after (each the mean of its values in the window).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeforeAfter {
    pub before: f64,
    pub after: f64,
}

/// The years a before/after comparison uses, both windows inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub before: (AcademicYear, AcademicYear),
    pub after: (AcademicYear, AcademicYear),
}

impl Windows {
    /// Before: up to `years` years ending the year before `start`; after: from `start` to `latest`.
    pub fn around(start: AcademicYear, latest: AcademicYear, years: u16) -> Option<Windows> {
        if latest < start {
            return None;
        }
        let before_end = start.previous();
        let before_start = AcademicYear(
            before_end
                .0
                .saturating_sub(years.saturating_sub(1))
                .max(AcademicYear::FIRST),
        );
        (before_end < start).then_some(Windows {
            before: (before_start, before_end),
            after: (start, latest),
        })
    }
    pub fn describe(&self) -> String {
        let span = |(a, b): (AcademicYear, AcademicYear)| {
            if a == b { a.to_string() } else { format!("{a} to {b}") }
        };
        format!("before: {}; after: {}", span(self.before), span(self.after))
    }
}

/// A school's before and after from its yearly values; `None` unless it has a value in both.
pub fn before_after(series: &[(AcademicYear, f64)], windows: &Windows) -> Option<BeforeAfter> {
    let mean_in = |(a, b): (AcademicYear, AcademicYear)| {
        let (sum, n) = series
            .iter()
            .filter(|(y, _)| *y >= a && *y <= b)
            .fold((0.0, 0u32), |(s, n), (_, v)| (s + v, n + 1));
        (n > 0).then(|| sum / f64::from(n))
    };
    Some(BeforeAfter {
        before: mean_in(windows.before)?,
        after: mean_in(windows.after)?,
    })
}

/// Settings of the difference-in-differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DidOptions {
    pub replicates: u32,
    pub seed: u64,
    /// Fewer schools than this on either side: "too few schools to say".
    pub min_schools: usize,
}

impl Default for DidOptions {
    fn default() -> Self {
        DidOptions {
            replicates: 1_000,
            seed: 20_240_901,
            min_schools: 5,
        }
    }
}

/// One side of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SideChange {
    pub schools: usize,
    pub before: f64,
    pub after: f64,
    pub change: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DidVerdict {
    /// Fewer than the minimum number of schools on a side.
    TooFewSchools,
    /// The interval includes zero.
    NoMeasurableChange,
    /// The interval lies wholly on the better side of zero.
    Better,
    Worse,
}

impl DidVerdict {
    pub fn label(self) -> &'static str {
        match self {
            DidVerdict::TooFewSchools => "Too few schools to say",
            DidVerdict::NoMeasurableChange => "No measurable change",
            DidVerdict::Better => "Improved more than the comparison schools",
            DidVerdict::Worse => "Fell behind the comparison schools",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DidResult {
    pub treated: SideChange,
    pub comparison: SideChange,
    /// Treated change − comparison change (`None` when a side has no school).
    pub estimate: Option<f64>,
    /// The 95 % bootstrap interval (`None` when too few schools).
    pub interval: Option<(f64, f64)>,
    pub verdict: DidVerdict,
    /// Plain-language caveats, most important first.
    pub caveats: Vec<String>,
}

fn side(changes: &[BeforeAfter]) -> SideChange {
    let n = changes.len();
    if n == 0 {
        return SideChange::default();
    }
    let k = n as f64;
    let before = changes.iter().map(|c| c.before).sum::<f64>() / k;
    let after = changes.iter().map(|c| c.after).sum::<f64>() / k;
    SideChange {
        schools: n,
        before,
        after,
        change: after - before,
    }
}

/// The `q` quantile (0–1) of sorted values, interpolating linearly between ranks.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

fn resampled_mean(deltas: &[f64], rng: &mut Rng) -> f64 {
    let n = deltas.len();
    let mut sum = 0.0;
    for _ in 0..n {
        sum += deltas[rng.below(n)];
    }
    sum / n as f64
}

/// Difference-in-differences of treated schools against comparison schools, with a bootstrap
/// interval over schools and caveats. The same inputs and seed give the same result.
pub fn difference_in_differences(
    treated: &[BeforeAfter],
    comparison: &[BeforeAfter],
    unit: Unit,
    higher_is_better: bool,
    options: &DidOptions,
) -> DidResult {
    let (t, c) = (side(treated), side(comparison));
    let estimate = (t.schools > 0 && c.schools > 0).then_some(t.change - c.change);
    let words = unit.difference_word();
    let mut caveats = Vec::new();
    let too_few = t.schools < options.min_schools || c.schools < options.min_schools;
    if too_few {
        caveats.push(format!(
            "Too few schools to say: {} in the group and {} in the comparison group, with data before and after (at least {} a side are needed).",
            t.schools, c.schools, options.min_schools
        ));
    }
    let interval = if too_few || options.replicates == 0 {
        None
    } else {
        let dt: Vec<f64> = treated.iter().map(|s| s.after - s.before).collect();
        let dc: Vec<f64> = comparison.iter().map(|s| s.after - s.before).collect();
        let mut rng = Rng::new(options.seed);
        let mut reps: Vec<f64> = (0..options.replicates)
            .map(|_| resampled_mean(&dt, &mut rng) - resampled_mean(&dc, &mut rng))
            .collect();
        reps.sort_unstable_by(f64::total_cmp);
        quantile(&reps, 0.025).zip(quantile(&reps, 0.975))
    };
    let verdict = match interval {
        None => DidVerdict::TooFewSchools,
        Some((lo, hi)) if lo <= 0.0 && hi >= 0.0 => DidVerdict::NoMeasurableChange,
        Some((lo, _)) if (lo > 0.0) == higher_is_better => DidVerdict::Better,
        Some(_) => DidVerdict::Worse,
    };
    if let Some((lo, hi)) = interval {
        if verdict == DidVerdict::NoMeasurableChange {
            caveats.push(format!(
                "No measurable change: the 95% interval ({} to {} {words}) includes zero, so the difference could be chance.",
                one_decimal(lo),
                one_decimal(hi)
            ));
        }
        if t.schools < 10 {
            caveats.push(format!(
                "With only {} schools in the group, one school can move the result: read the interval, not the single figure.",
                t.schools
            ));
        }
    }
    if !too_few {
        let spread = {
            let k = comparison.len() as f64;
            let var = comparison.iter().map(|s| (s.before - c.before).powi(2)).sum::<f64>() / (k - 1.0).max(1.0);
            var.sqrt()
        };
        if spread > 0.0 && (t.before - c.before).abs() > spread / 2.0 {
            caveats.push(format!(
                "The two groups started at different levels ({} and {}): the method assumes both would otherwise have changed alike, which is less safe when they start far apart.",
                one_decimal(t.before),
                one_decimal(c.before)
            ));
        }
    }
    caveats.push(
        "This compares changes, it is not an experiment: anything else that changed in these schools at the same time can explain a difference.".into(),
    );
    DidResult {
        treated: t,
        comparison: c,
        estimate,
        interval,
        verdict,
        caveats,
    }
}

/// The result in one sentence naming the comparison group.
pub fn did_sentence(r: &DidResult, group: &str, comparison_group: &str, unit: Unit, windows: &Windows) -> String {
    let words = unit.difference_word();
    match (r.estimate, r.interval) {
        (Some(e), Some((lo, hi))) => format!(
            "{group} changed by {} {words} ({} to {}); {comparison_group} changed by {} ({} to {}). Difference: {} {words} (95% interval {} to {}; {}).",
            one_decimal(r.treated.change),
            one_decimal(r.treated.before),
            one_decimal(r.treated.after),
            one_decimal(r.comparison.change),
            one_decimal(r.comparison.before),
            one_decimal(r.comparison.after),
            one_decimal(e),
            one_decimal(lo),
            one_decimal(hi),
            windows.describe()
        ),
        _ => format!(
            "Too few schools to say how {} changed against {comparison_group} ({}).",
            group.to_lowercase(),
            windows.describe()
        ),
    }
}

/// A register's make-up as counts: how many pupils are on it, and how many of each group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegisterCounts {
    pub selected: u32,
    pub groups: Vec<(Group, u32)>,
}

/// The representation check from counts (any register against the school population), with the
/// same exact binomial test, ratio and verdicts as the casework check.
pub fn representation_from_counts(register: &RegisterCounts, school: &Composition) -> Vec<RepresentationRow> {
    let n = register.selected;
    Group::ALL
        .into_iter()
        .filter_map(|group| {
            let k = register.groups.iter().find(|(g, _)| *g == group)?.1.min(n);
            let share = school
                .count(group)
                .filter(|_| school.pupils > 0)
                .map(|c| f64::from(c.min(school.pupils)) / f64::from(school.pupils));
            let observed = if n > 0 { f64::from(k) / f64::from(n) } else { 0.0 };
            let p_value = share.map(|s| binomial_two_sided_p(k, n, s));
            let verdict = match (share, p_value) {
                (Some(s), Some(p)) if n >= MIN_TO_JUDGE && p < ALPHA => {
                    if observed < s {
                        Verdict::Under
                    } else {
                        Verdict::Over
                    }
                }
                (Some(_), Some(_)) if n < MIN_TO_JUDGE => Verdict::TooFewToJudge,
                (Some(_), Some(_)) => Verdict::InLine,
                _ => Verdict::Unknown,
            };
            Some(RepresentationRow {
                group,
                selected: k,
                of: n,
                school_share: share,
                ratio: share.filter(|&s| s > 0.0).map(|s| observed / s),
                p_value,
                verdict,
            })
        })
        .collect()
}

/// Terms an activity runs before it is judged by default.
pub const DEFAULT_REDIRECT_AFTER_TERMS: u32 = 3;

/// Whole terms completed between two days. Terms begin on 1 September (autumn), 1 January
/// (spring) and 1 April (summer; Easter moves, 1 April is the stated boundary): the count is the
/// term starts after `start` and on or before `today`.
pub fn terms_completed(start: NaiveDate, today: NaiveDate) -> u32 {
    if today <= start {
        return 0;
    }
    let mut n = 0;
    for year in start.year()..=today.year() {
        for (m, d) in [(1, 1), (4, 1), (9, 1)] {
            if let Some(b) = NaiveDate::from_ymd_opt(year, m, d)
                && b > start
                && b <= today
            {
                n += 1;
            }
        }
    }
    n
}

/// The prompt to redirect money: an activity that has run at least `after_terms` terms and whose
/// measure shows no measurable change (or fell behind) against its comparison schools.
pub fn redirect_prompt(
    activity: &str,
    budget: Money,
    started: NaiveDate,
    today: NaiveDate,
    after_terms: u32,
    verdict: Option<DidVerdict>,
) -> Option<String> {
    let terms = terms_completed(started, today);
    if terms < after_terms {
        return None;
    }
    match verdict? {
        DidVerdict::NoMeasurableChange => Some(format!(
            "“{activity}” has run for {terms} terms and shows no measurable change against its comparison schools. Consider redirecting some of its {budget} budget to work that is showing an effect, or change how it is done."
        )),
        DidVerdict::Worse => Some(format!(
            "“{activity}” has run for {terms} terms and its schools have fallen behind the comparison schools. Review it before committing more of its {budget} budget."
        )),
        DidVerdict::Better | DidVerdict::TooFewSchools => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(start: u16) -> AcademicYear {
        AcademicYear::starting(start).unwrap()
    }
    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn gap_arithmetic_and_the_eic_sentence() {
        // Two cluster schools and two others, two years. Cluster 50 and 55 → 52.5 in 2018/19;
        // rest 60 and 65.8 → 62.9: gap −10.4. In 2022/23 cluster 60, 61 → 60.5; rest 68.3 → gap −7.8.
        let i = |p, c, v| GapInput {
            period: y(p),
            cluster: c,
            value: v,
        };
        let inputs = vec![
            i(2018, Some(0), Some(50.0)),
            i(2018, Some(0), Some(55.0)),
            i(2018, None, Some(60.0)),
            i(2018, Some(1), Some(65.8)),
            i(2022, Some(0), Some(60.0)),
            i(2022, Some(0), Some(61.0)),
            i(2022, Some(0), None), // a `c`: left out and counted, never a zero
            i(2022, None, Some(68.3)),
        ];
        let gaps = gaps_by_cluster(&inputs, 2, &[(y(2018), 58.0), (y(2022), 59.0)]);
        let g = &gaps[0];
        assert_eq!(g.len(), 2);
        assert!((g[0].cluster.value.unwrap() - 52.5).abs() < 1e-9);
        assert!((g[0].rest.value.unwrap() - 62.9).abs() < 1e-9);
        assert!((g[0].gap_to_rest().unwrap() + 10.4).abs() < 1e-9);
        assert!((g[1].gap_to_rest().unwrap() + 7.8).abs() < 1e-9);
        assert_eq!((g[1].cluster.schools, g[1].cluster.without_value), (2, 1));
        assert_eq!(g[1].rest.schools, 1);
        assert!((g[1].gap_to_national().unwrap() - 1.5).abs() < 1e-9);
        assert_eq!(
            gap_sentence(g, Against::RestOfAuthority, Unit::Percent, true).unwrap(),
            "The gap to the rest of the authority narrowed from 10.4 to 7.8 percentage points between 2018/19 and 2022/23."
        );
        assert_eq!(
            gap_sentence(g, Against::National, Unit::Percent, true).unwrap(),
            "The cluster went from 5.5 percentage points behind the national figure in 2018/19 to 1.5 ahead in 2022/23."
        );
        // Cluster 1 has a school only in 2018/19; the rest then is everything else.
        assert!((gaps[1][0].rest.value.unwrap() - (50.0 + 55.0 + 60.0) / 3.0).abs() < 1e-9);
        assert_eq!(gaps[1][1].cluster.value, None);
    }

    #[test]
    fn gap_sentences_for_every_turn() {
        let pt = |p, c: f64, r: f64| GapPoint {
            period: y(p),
            cluster: Mean {
                value: Some(c),
                schools: 1,
                without_value: 0,
            },
            rest: Mean {
                value: Some(r),
                schools: 1,
                without_value: 0,
            },
            national: None,
        };
        let s = |a: GapPoint, b: GapPoint, hib: bool| {
            gap_sentence(&[a, b], Against::RestOfAuthority, Unit::Percent, hib).unwrap()
        };
        // (cluster then, rest then, cluster now, rest now, higher is better, sentence)
        let cases: &[(f64, f64, f64, f64, bool, &str)] = &[
            (50.0, 60.0, 48.0, 60.0, true, "widened from 10.0 to 12.0"),
            (50.0, 60.0, 50.0, 60.0, true, "stayed at 10.0"),
            (
                70.0,
                60.0,
                75.0,
                60.0,
                true,
                "lead over the rest of the authority grew from 10.0 to 15.0",
            ),
            (
                70.0,
                60.0,
                62.0,
                60.0,
                true,
                "lead over the rest of the authority shrank from 10.0 to 2.0",
            ),
            (
                12.0,
                10.0,
                11.0,
                10.0,
                false,
                "gap to the rest of the authority narrowed from 2.0 to 1.0",
            ),
            (
                10.0,
                10.0,
                10.0,
                10.0,
                true,
                "level with the rest of the authority in 2018/19 and in 2022/23",
            ),
            (
                60.0,
                60.0,
                58.0,
                60.0,
                true,
                "went from level with the rest of the authority in 2018/19 to 2.0 behind",
            ),
        ];
        for &(c1, r1, c2, r2, hib, want) in cases {
            let got = s(pt(2018, c1, r1), pt(2022, c2, r2), hib);
            assert!(got.contains(want), "{got}");
        }
        assert_eq!(
            gap_sentence(&[pt(2022, 50.0, 52.25)], Against::RestOfAuthority, Unit::Score, true).unwrap(),
            "In 2022/23 the cluster was 2.3 points behind the rest of the authority."
        );
        assert_eq!(gap_sentence(&[], Against::RestOfAuthority, Unit::Score, true), None);
    }

    /// Treated schools improve by their own trend plus 3 points; comparison schools by the same
    /// trends only. The estimate is exactly 3 and the interval covers it.
    #[test]
    fn difference_in_differences_recovers_a_known_effect() {
        let trends = [-1.5, -0.5, 0.0, 0.5, 1.5, 2.0, -2.0, 1.0];
        let effect = 3.0;
        let treated: Vec<BeforeAfter> = trends
            .iter()
            .enumerate()
            .map(|(i, t)| BeforeAfter {
                before: 50.0 + i as f64,
                after: 50.0 + i as f64 + t + effect,
            })
            .collect();
        let comparison: Vec<BeforeAfter> = trends
            .iter()
            .cycle()
            .take(40)
            .enumerate()
            .map(|(i, t)| BeforeAfter {
                before: 48.0 + (i % 9) as f64,
                after: 48.0 + (i % 9) as f64 + t,
            })
            .collect();
        let r = difference_in_differences(&treated, &comparison, Unit::Percent, true, &DidOptions::default());
        assert!((r.estimate.unwrap() - effect).abs() < 1e-9, "{:?}", r.estimate);
        let (lo, hi) = r.interval.unwrap();
        assert!(lo < effect && effect < hi, "{lo} {hi}");
        assert!(lo > 0.0, "a 3-point effect against trends of ±2 is measurable: {lo}");
        assert_eq!(r.verdict, DidVerdict::Better);
        assert_eq!((r.treated.schools, r.comparison.schools), (8, 40));
        // Seeded: the same seed, the same interval; another seed, a (slightly) different one.
        let again = difference_in_differences(&treated, &comparison, Unit::Percent, true, &DidOptions::default());
        assert_eq!(again.interval, r.interval);
        let other = DidOptions {
            seed: 7,
            ..DidOptions::default()
        };
        assert_ne!(
            difference_in_differences(&treated, &comparison, Unit::Percent, true, &other).interval,
            r.interval
        );
        assert!(r.caveats.iter().any(|c| c.contains("only 8 schools")));
        // For absence (lower is better) the same rise is a worsening.
        let r = difference_in_differences(&treated, &comparison, Unit::Percent, false, &DidOptions::default());
        assert_eq!(r.verdict, DidVerdict::Worse);
    }

    #[test]
    fn small_groups_and_no_change_get_plain_caveats() {
        let same = |n: usize, d: f64| -> Vec<BeforeAfter> {
            (0..n)
                .map(|i| BeforeAfter {
                    before: 60.0,
                    after: 60.0 + d * if i % 2 == 0 { 1.0 } else { -1.0 },
                })
                .collect()
        };
        let r = difference_in_differences(
            &same(4, 1.0),
            &same(30, 1.0),
            Unit::Percent,
            true,
            &DidOptions::default(),
        );
        assert_eq!(r.verdict, DidVerdict::TooFewSchools);
        assert_eq!(r.interval, None);
        assert!(r.caveats[0].starts_with("Too few schools to say: 4 in the group and 30"));
        let r = difference_in_differences(
            &same(12, 2.0),
            &same(30, 2.0),
            Unit::Percent,
            true,
            &DidOptions::default(),
        );
        assert_eq!(r.verdict, DidVerdict::NoMeasurableChange);
        assert!(r.caveats[0].starts_with("No measurable change: the 95% interval"));
        assert!(r.caveats.last().unwrap().contains("not an experiment"));
        let w = Windows::around(y(2021), y(2022), 2).unwrap();
        assert_eq!(w.describe(), "before: 2019/20 to 2020/21; after: 2021/22 to 2022/23");
        let s = did_sentence(&r, "The cluster's schools", "the other schools", Unit::Percent, &w);
        assert!(s.contains("Difference: 0.0 percentage points"), "{s}");
        let series = [(y(2019), 50.0), (y(2020), 52.0), (y(2021), 60.0)];
        assert_eq!(
            before_after(&series, &w),
            Some(BeforeAfter {
                before: 51.0,
                after: 60.0
            })
        );
        assert_eq!(before_after(&series[..2], &w), None);
    }

    proptest::proptest! {
        /// The one-pass "total less the cluster" equals the rest computed school by school, and a
        /// constant effect added to every treated school moves the estimate by exactly that much.
        #[test]
        fn gaps_and_did_hold_their_invariants(
            rows in proptest::collection::vec((0u16..4, proptest::option::of(0u32..3), proptest::option::of(0.0f64..100.0)), 1..60),
            effect in -5.0f64..5.0,
        ) {
            let inputs: Vec<GapInput> = rows
                .iter()
                .map(|&(p, c, v)| GapInput { period: y(2018 + p), cluster: c, value: v })
                .collect();
            let gaps = gaps_by_cluster(&inputs, 3, &[]);
            for (c, points) in gaps.iter().enumerate() {
                for point in points {
                    let rest: Vec<f64> = inputs
                        .iter()
                        .filter(|i| i.period == point.period && i.cluster != Some(c as u32))
                        .filter_map(|i| i.value)
                        .collect();
                    proptest::prop_assert_eq!(point.rest.schools as usize, rest.len());
                    if let Some(m) = point.rest.value {
                        let naive = rest.iter().sum::<f64>() / rest.len() as f64;
                        proptest::prop_assert!((m - naive).abs() < 1e-6);
                    }
                }
            }
            let pairs: Vec<BeforeAfter> = rows
                .iter()
                .map(|&(p, _, v)| BeforeAfter { before: f64::from(p), after: v.unwrap_or(1.0) })
                .collect();
            let half = pairs.len() / 2;
            let (t, c) = pairs.split_at(half);
            let opts = DidOptions { replicates: 50, ..DidOptions::default() };
            let base = difference_in_differences(t, c, Unit::Score, true, &opts);
            let shifted: Vec<BeforeAfter> = t.iter().map(|s| BeforeAfter { before: s.before, after: s.after + effect }).collect();
            let moved = difference_in_differences(&shifted, c, Unit::Score, true, &opts);
            if let (Some(a), Some(b)) = (base.estimate, moved.estimate) {
                proptest::prop_assert!((b - a - effect).abs() < 1e-6);
            }
            if let Some((lo, hi)) = base.interval {
                proptest::prop_assert!(lo <= hi);
            }
        }
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), Some(2.5));
        assert_eq!(quantile(&v, 0.025), Some(1.075));
        assert_eq!(quantile(&v, 1.0), Some(4.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn representation_from_counts_uses_the_binomial_test() {
        let school = Composition {
            pupils: 1000,
            groups: vec![(Group::Girls, 500), (Group::Boys, 500), (Group::Fsm, 200)],
        };
        let register = RegisterCounts {
            selected: 20,
            groups: vec![
                (Group::Girls, 2),
                (Group::Boys, 18),
                (Group::Fsm, 4),
                (Group::MinorityEthnic, 1),
            ],
        };
        let rows = representation_from_counts(&register, &school);
        let v: Vec<(Group, Verdict)> = rows.iter().map(|r| (r.group, r.verdict)).collect();
        assert_eq!(
            v,
            vec![
                (Group::Girls, Verdict::Under),
                (Group::Boys, Verdict::Over),
                (Group::Fsm, Verdict::InLine),
                (Group::MinorityEthnic, Verdict::Unknown),
            ]
        );
        assert!((rows[0].p_value.unwrap() - 0.000_402_5).abs() < 5e-6);
        assert!((rows[0].ratio.unwrap() - 0.2).abs() < 1e-9);
    }

    #[test]
    fn terms_and_the_redirect_prompt() {
        let cases = [
            ("2023-09-01", "2023-12-31", 0),
            ("2023-09-01", "2024-01-01", 1),
            ("2023-09-01", "2024-04-10", 2),
            ("2023-09-01", "2024-09-01", 3),
            ("2023-10-15", "2025-07-01", 5),
            ("2024-01-01", "2023-01-01", 0),
        ];
        for (a, b, want) in cases {
            assert_eq!(terms_completed(day(a), day(b)), want, "{a} {b}");
        }
        let budget = Money::from_pence(1_250_000);
        let p = redirect_prompt(
            "Reading recovery",
            budget,
            day("2023-09-01"),
            day("2024-09-02"),
            3,
            Some(DidVerdict::NoMeasurableChange),
        )
        .unwrap();
        assert!(p.contains("3 terms") && p.contains("£12,500"), "{p}");
        let early = redirect_prompt(
            "x",
            budget,
            day("2023-09-01"),
            day("2024-04-02"),
            3,
            Some(DidVerdict::NoMeasurableChange),
        );
        assert_eq!(early, None);
        let working = redirect_prompt(
            "x",
            budget,
            day("2021-09-01"),
            day("2024-09-02"),
            3,
            Some(DidVerdict::Better),
        );
        assert_eq!(working, None);
    }
}

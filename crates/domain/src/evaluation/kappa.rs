//! Judgements on an ordinal scale and how well two judges agree: the confusion matrix and
//! Cohen's weighted kappa (unweighted, linear and quadratic).
//!
//! With k levels, counts n_ij (row i: the cluster's judgement, column j: the authority's), n pairs,
//! row totals r_i and column totals c_j, and agreement weights w_ij:
//! unweighted w_ij = [i = j]; linear w_ij = 1 − |i − j| / (k − 1); quadratic
//! w_ij = 1 − (i − j)² / (k − 1)². Observed agreement p_o = Σ w_ij n_ij / n, chance agreement
//! p_e = Σ w_ij r_i c_j / n², and κ_w = (p_o − p_e) / (1 − p_e). Only pairs where both judgements
//! exist count; κ is undefined (None) with no pairs or when chance agreement is already 1.

use std::fmt;

/// An ordinal judgement scale, lowest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scale {
    levels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScaleError {
    #[error(
        "a judgement scale needs 2 to 10 levels, lowest first, separated by < (e.g. Limited < Satisfactory < Strong < Very Good)"
    )]
    Size,
    #[error("the level {0:?} appears twice")]
    Duplicate(String),
    #[error("a level name is 1 to 40 characters")]
    Name,
}

impl Default for Scale {
    /// Limited < Satisfactory < Strong < Very Good (the South East Wales consortium's scale).
    fn default() -> Self {
        Scale {
            levels: ["Limited", "Satisfactory", "Strong", "Very Good"]
                .map(String::from)
                .to_vec(),
        }
    }
}

impl Scale {
    pub fn new(levels: Vec<String>) -> Result<Scale, ScaleError> {
        let levels: Vec<String> = levels.into_iter().map(|l| l.trim().to_string()).collect();
        if !(2..=10).contains(&levels.len()) {
            return Err(ScaleError::Size);
        }
        for (i, l) in levels.iter().enumerate() {
            if l.is_empty() || l.chars().count() > 40 {
                return Err(ScaleError::Name);
            }
            if levels[..i].iter().any(|m| m.eq_ignore_ascii_case(l)) {
                return Err(ScaleError::Duplicate(l.clone()));
            }
        }
        Ok(Scale { levels })
    }
    /// `Limited < Satisfactory < Strong < Very Good`.
    pub fn parse(s: &str) -> Result<Scale, ScaleError> {
        Scale::new(s.split('<').map(String::from).collect())
    }
    pub fn levels(&self) -> &[String] {
        &self.levels
    }
    pub fn len(&self) -> usize {
        self.levels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }
    /// The position of a level (case-insensitive).
    pub fn index_of(&self, level: &str) -> Option<usize> {
        self.levels.iter().position(|l| l.eq_ignore_ascii_case(level.trim()))
    }
    pub fn label(&self, i: usize) -> Option<&str> {
        self.levels.get(i).map(String::as_str)
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.levels.join(" < "))
    }
}

/// Counts of (first judge's level, second judge's level) pairs: rows are the first judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    pub counts: Vec<Vec<u64>>,
}

impl ConfusionMatrix {
    /// From pairs of level positions; pairs outside `0..k` are ignored.
    pub fn from_pairs(k: usize, pairs: &[(usize, usize)]) -> ConfusionMatrix {
        let mut counts = vec![vec![0u64; k]; k];
        for &(i, j) in pairs {
            if i < k && j < k {
                counts[i][j] += 1;
            }
        }
        ConfusionMatrix { counts }
    }
    pub fn k(&self) -> usize {
        self.counts.len()
    }
    pub fn n(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }
    pub fn row_totals(&self) -> Vec<u64> {
        self.counts.iter().map(|r| r.iter().sum()).collect()
    }
    pub fn column_totals(&self) -> Vec<u64> {
        (0..self.k()).map(|j| self.counts.iter().map(|r| r[j]).sum()).collect()
    }
    /// Pairs where the two judges differ by at most `d` levels.
    pub fn within(&self, d: usize) -> u64 {
        let mut s = 0;
        for (i, row) in self.counts.iter().enumerate() {
            for (j, &c) in row.iter().enumerate() {
                if i.abs_diff(j) <= d {
                    s += c;
                }
            }
        }
        s
    }
    /// Pairs where the first judge (the cluster) is higher than the second.
    pub fn first_higher(&self) -> u64 {
        let mut s = 0;
        for (i, row) in self.counts.iter().enumerate() {
            s += row.iter().take(i).sum::<u64>();
        }
        s
    }
    pub fn second_higher(&self) -> u64 {
        self.n() - self.within(0) - self.first_higher()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weighting {
    Unweighted,
    Linear,
    Quadratic,
}

impl Weighting {
    fn weight(self, i: usize, j: usize, k: usize) -> f64 {
        let d = i.abs_diff(j) as f64;
        let span = (k.max(2) - 1) as f64;
        match self {
            Weighting::Unweighted => f64::from(u8::from(i == j)),
            Weighting::Linear => 1.0 - d / span,
            Weighting::Quadratic => 1.0 - (d * d) / (span * span),
        }
    }
}

/// Cohen's kappa with agreement weights; `None` when there are no pairs or p_e = 1.
pub fn weighted_kappa(m: &ConfusionMatrix, weighting: Weighting) -> Option<f64> {
    let k = m.k();
    let n = m.n() as f64;
    if n == 0.0 {
        return None;
    }
    let (rows, cols) = (m.row_totals(), m.column_totals());
    let (mut po, mut pe) = (0.0, 0.0);
    for (i, (row, &r)) in m.counts.iter().zip(&rows).enumerate() {
        for (j, (&n_ij, &c)) in row.iter().zip(&cols).enumerate() {
            let w = weighting.weight(i, j, k);
            po += w * n_ij as f64;
            pe += w * r as f64 * c as f64;
        }
    }
    let (po, pe) = (po / n, pe / (n * n));
    (pe < 1.0 - 1e-12).then(|| (po - pe) / (1.0 - pe))
}

/// Landis and Koch's words for a kappa.
pub fn kappa_words(kappa: f64) -> &'static str {
    match kappa {
        k if k < 0.0 => "poor (less than chance)",
        k if k <= 0.20 => "slight",
        k if k <= 0.40 => "fair",
        k if k <= 0.60 => "moderate",
        k if k <= 0.80 => "substantial",
        _ => "almost perfect",
    }
}

/// Fewer pairs than this and a kappa says more about chance than about agreement: it is worked
/// out but shown with a warning.
pub const MIN_PAIRS_FOR_KAPPA: u64 = 10;

/// The agreement analysis for pairs of judgements.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    pub matrix: ConfusionMatrix,
    pub pairs: u64,
    pub exact: u64,
    pub within_one: u64,
    pub cluster_higher: u64,
    pub authority_higher: u64,
    pub unweighted: Option<f64>,
    pub linear: Option<f64>,
    pub quadratic: Option<f64>,
}

/// Agreement between the cluster's (first) and the authority's (second) judgements.
impl Agreement {
    /// Whether there are enough pairs for kappa to mean much ([`MIN_PAIRS_FOR_KAPPA`]).
    pub fn enough_pairs(&self) -> bool {
        self.pairs >= MIN_PAIRS_FOR_KAPPA
    }
}

pub fn agreement(k: usize, pairs: &[(usize, usize)]) -> Agreement {
    let matrix = ConfusionMatrix::from_pairs(k, pairs);
    Agreement {
        pairs: matrix.n(),
        exact: matrix.within(0),
        within_one: matrix.within(1),
        cluster_higher: matrix.first_higher(),
        authority_higher: matrix.second_higher(),
        unweighted: weighted_kappa(&matrix, Weighting::Unweighted),
        linear: weighted_kappa(&matrix, Weighting::Linear),
        quadratic: weighted_kappa(&matrix, Weighting::Quadratic),
        matrix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-computed 4 × 4 matrix (rows: cluster, columns: authority; Limited … Very Good):
    /// ```text
    ///          L   S  St  VG | r
    ///     L    1   1   0   0 |  2
    ///     S    0   2   1   0 |  3
    ///     St   0   2  20   3 | 25
    ///     VG   0   0   2   2 |  4
    ///     c    1   5  23   5 | 34
    /// ```
    /// Unweighted: p_o = 25/34, p_e = (2·1 + 3·5 + 25·23 + 4·5)/34² = 612/1156, so
    /// κ = (850 − 612)/(1156 − 612) = 238/544 = 0.4375.
    /// Linear (weights 1, 2/3, 1/3, 0): the nine pairs one level apart weigh 2/3, so
    /// p_o = (25 + 6)/34 = 31/34; p_e = Σ w r_i c_j / 1156 = 930/1156, so
    /// κ = (1054 − 930)/(1156 − 930) = 124/226 = 0.548673.
    /// Quadratic (weights 1, 8/9, 5/9, 0): p_o = (25 + 8)/34 = 33/34 and
    /// p_e = 9430/(9 · 1156) = 1047.78/1156, so κ = (1122 − 1047.78)/(1156 − 1047.78) = 0.685832.
    #[test]
    fn kappa_against_a_hand_computed_matrix() {
        let m = ConfusionMatrix {
            counts: vec![vec![1, 1, 0, 0], vec![0, 2, 1, 0], vec![0, 2, 20, 3], vec![0, 0, 2, 2]],
        };
        assert_eq!(m.row_totals(), vec![2, 3, 25, 4]);
        assert_eq!(m.column_totals(), vec![1, 5, 23, 5]);
        assert_eq!((m.n(), m.within(0), m.within(1)), (34, 25, 34));
        assert_eq!((m.first_higher(), m.second_higher()), (4, 5));
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-6;
        assert!(close(weighted_kappa(&m, Weighting::Unweighted), 238.0 / 544.0));
        assert!(close(weighted_kappa(&m, Weighting::Linear), 124.0 / 226.0));
        assert!(close(weighted_kappa(&m, Weighting::Quadratic), 0.685_832));
        // Cohen's 2 × 2 textbook case: p_o = 0.7, p_e = 0.5, κ = 0.4 (all weightings agree at k = 2).
        let two = ConfusionMatrix {
            counts: vec![vec![20, 5], vec![10, 15]],
        };
        for w in [Weighting::Unweighted, Weighting::Linear, Weighting::Quadratic] {
            assert!(close(weighted_kappa(&two, w), 0.4));
        }
    }

    #[test]
    fn perfect_chance_and_empty() {
        let pairs = [(0, 0), (1, 1), (2, 2), (3, 3), (2, 2)];
        let a = agreement(4, &pairs);
        assert_eq!((a.pairs, a.exact), (5, 5));
        assert!(!a.enough_pairs());
        assert!((a.quadratic.unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(agreement(4, &[]).linear, None);
        // Everyone judged Strong by both: chance agreement is 1, kappa undefined.
        assert_eq!(agreement(4, &[(2, 2), (2, 2)]).unweighted, None);
        assert_eq!(kappa_words(0.4375), "moderate");
        assert_eq!(kappa_words(-0.1), "poor (less than chance)");
    }

    #[test]
    fn scales() {
        let s = Scale::default();
        assert_eq!(s.to_string(), "Limited < Satisfactory < Strong < Very Good");
        assert_eq!(Scale::parse(&s.to_string()), Ok(s.clone()));
        assert_eq!(s.index_of("very good"), Some(3));
        assert_eq!(Scale::parse("Weak"), Err(ScaleError::Size));
        assert_eq!(Scale::parse("A < a"), Err(ScaleError::Duplicate("a".into())));
        assert_eq!(Scale::parse("A <  < B"), Err(ScaleError::Name));
    }
}

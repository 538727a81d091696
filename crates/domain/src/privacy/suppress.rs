//! Small-number suppression for published tables of counts.
//!
//! The rule, one general function for every table Clusterwise publishes (casework aggregates now,
//! plans and evaluation later): a table of counts with its row totals, column totals and grand
//! total is treated as one grid in which every row and every column is a line whose cells sum to
//! its total cell.
//! 1. *Primary:* every count from 1 to `threshold − 1` (default 5, so 1–4) is shown as `c`,
//!    totals included. Zeros are shown: a zero discloses nothing about a person.
//! 2. *Secondary (complementary):* while some line has exactly one suppressed cell, that cell could
//!    be recovered by subtraction from the line's other cells, so one more cell in that line is
//!    suppressed: the smallest non-zero shown cell that is not a total (ties to the first), else
//!    the smallest shown cell. Repeats until no line has exactly one suppressed cell.
//!
//! The result: no suppressed cell can be recovered from a single row or column sum.

use std::fmt;

/// The DfE's usual threshold: counts of 1 to 4 are suppressed.
pub const DEFAULT_THRESHOLD: u64 = 5;

/// One published cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Shown(u64),
    /// Shown as `c` (the DfE symbol for confidential).
    Suppressed,
}

impl Cell {
    pub fn is_suppressed(self) -> bool {
        matches!(self, Cell::Suppressed)
    }
    pub fn value(self) -> Option<u64> {
        match self {
            Cell::Shown(v) => Some(v),
            Cell::Suppressed => None,
        }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Shown(v) => write!(f, "{v}"),
            Cell::Suppressed => f.write_str("c"),
        }
    }
}

/// A table of counts after suppression, with its totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressedTable {
    pub cells: Vec<Vec<Cell>>,
    pub row_totals: Vec<Cell>,
    pub column_totals: Vec<Cell>,
    pub grand_total: Cell,
}

impl SuppressedTable {
    /// The table as one grid: rows then the column-totals row, each with its row total last.
    pub fn grid(&self) -> Vec<Vec<Cell>> {
        let mut g: Vec<Vec<Cell>> = self
            .cells
            .iter()
            .zip(&self.row_totals)
            .map(|(r, t)| r.iter().copied().chain([*t]).collect())
            .collect();
        g.push(self.column_totals.iter().copied().chain([self.grand_total]).collect());
        g
    }
    /// Whether some row or column has exactly one suppressed cell (so it could be recovered).
    pub fn has_recoverable_cell(&self) -> bool {
        let g = self.grid();
        let width = g.first().map_or(0, Vec::len);
        let rows = g.iter().any(|r| r.iter().filter(|c| c.is_suppressed()).count() == 1);
        let columns = (0..width).any(|j| g.iter().filter(|r| r[j].is_suppressed()).count() == 1);
        rows || columns
    }
}

/// Suppresses a table of counts (`counts[row][column]`; short rows are padded with zeros) and its
/// totals, with primary and secondary suppression as the module describes.
pub fn suppress(counts: &[Vec<u64>], threshold: u64) -> SuppressedTable {
    let rows = counts.len();
    let cols = counts.iter().map(Vec::len).max().unwrap_or(0);
    // The grid with margins: (rows + 1) × (cols + 1).
    let mut grid = vec![vec![0u64; cols + 1]; rows + 1];
    for (i, row) in counts.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            grid[i][j] = v;
            grid[i][cols] = grid[i][cols].saturating_add(v);
            grid[rows][j] = grid[rows][j].saturating_add(v);
            grid[rows][cols] = grid[rows][cols].saturating_add(v);
        }
    }
    let mut hidden: Vec<Vec<bool>> = grid
        .iter()
        .map(|r| r.iter().map(|&v| v > 0 && v < threshold).collect())
        .collect();

    // Every line as its list of (row, column) positions.
    let mut lines: Vec<Vec<(usize, usize)>> = (0..=rows).map(|i| (0..=cols).map(|j| (i, j)).collect()).collect();
    lines.extend((0..=cols).map(|j| (0..=rows).map(|i| (i, j)).collect()));
    let is_total = |(i, j): (usize, usize)| i == rows || j == cols;

    loop {
        let mut changed = false;
        for line in &lines {
            if line.iter().filter(|&&(i, j)| hidden[i][j]).count() != 1 {
                continue;
            }
            let shown = || line.iter().copied().filter(|&(i, j)| !hidden[i][j]);
            let pick = shown()
                .filter(|&p| !is_total(p) && grid[p.0][p.1] > 0)
                .min_by_key(|&(i, j)| grid[i][j])
                .or_else(|| shown().min_by_key(|&(i, j)| (is_total((i, j)), grid[i][j])));
            if let Some((i, j)) = pick {
                hidden[i][j] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    let cell = |i: usize, j: usize| {
        if hidden[i][j] {
            Cell::Suppressed
        } else {
            Cell::Shown(grid[i][j])
        }
    };
    SuppressedTable {
        cells: (0..rows).map(|i| (0..cols).map(|j| cell(i, j)).collect()).collect(),
        row_totals: (0..rows).map(|i| cell(i, cols)).collect(),
        column_totals: (0..cols).map(|j| cell(rows, j)).collect(),
        grand_total: cell(rows, cols),
    }
}

/// One count on its own (no table around it): shown when zero or at least the threshold.
pub fn suppress_count(count: u64, threshold: u64) -> Cell {
    if count > 0 && count < threshold {
        Cell::Suppressed
    } else {
        Cell::Shown(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Cell::{Shown as S, Suppressed as C};
    use proptest::prelude::*;

    #[test]
    fn naive_suppression_would_be_undone_by_subtraction() {
        // Row X has a 3. Hiding only the 3 leaves 13 − 10 = 3 for anyone to work out.
        let counts = vec![vec![3, 10], vec![8, 12]];
        let t = suppress(&counts, DEFAULT_THRESHOLD);
        assert_eq!(t.cells, vec![vec![C, C], vec![C, C]]);
        assert_eq!(t.row_totals, vec![S(13), S(20)]);
        assert_eq!(t.column_totals, vec![S(11), S(22)]);
        assert_eq!(t.grand_total, S(33));
        assert!(!t.has_recoverable_cell());
    }

    #[test]
    fn the_complement_is_the_smallest_non_zero_cell() {
        let counts = vec![vec![2, 40, 9, 0], vec![30, 41, 17, 6], vec![25, 35, 20, 8]];
        let t = suppress(&counts, 5);
        // Primary: the 2 (row 1). Row 1's complement is its smallest non-zero cell, 9; column 1
        // then needs one more (25, smaller than 30); row 3 then needs one (8, smallest non-zero),
        // which column 4 balances with 6, and row 2 with 17. Column 3 (9 and 17) is balanced.
        assert_eq!(t.cells[0], vec![C, S(40), C, S(0)]);
        assert_eq!(t.cells[1], vec![S(30), S(41), C, C]);
        assert_eq!(t.cells[2], vec![C, S(35), S(20), C]);
        assert_eq!(t.row_totals, vec![S(51), S(94), S(88)]);
        assert!(!t.has_recoverable_cell());
        assert_eq!(t.grand_total, S(233));
    }

    #[test]
    fn small_totals_are_suppressed_with_a_complement() {
        // One school with 3 pupils in all: its row total is small too.
        let counts = vec![vec![1, 2], vec![20, 30]];
        let t = suppress(&counts, 5);
        // The column totals 21 and 32 would give 21 − 20 = 1 back: so 20 and 30 are hidden too,
        // and then the second row total (50 = 53 − 3 would give the 3 back).
        assert_eq!(t.cells, vec![vec![C, C], vec![C, C]]);
        assert_eq!(t.row_totals, vec![C, C]);
        assert_eq!((t.column_totals.clone(), t.grand_total), (vec![S(21), S(32)], S(53)));
        assert!(!t.has_recoverable_cell());
    }

    #[test]
    fn tables_without_small_numbers_are_untouched() {
        let t = suppress(&[vec![0, 5, 12], vec![7, 0, 9]], 5);
        assert_eq!(t.cells, vec![vec![S(0), S(5), S(12)], vec![S(7), S(0), S(9)]]);
        assert_eq!(t.grand_total, S(33));
        assert_eq!(suppress(&[], 5).grand_total, S(0));
        assert_eq!(suppress_count(4, 5), C);
        assert_eq!(suppress_count(0, 5), S(0));
        assert_eq!(C.to_string(), "c");
    }

    proptest! {
        #[test]
        fn no_line_ever_has_exactly_one_suppressed_cell(
            counts in prop::collection::vec(prop::collection::vec(0u64..15, 1..5), 1..6),
            threshold in 1u64..8,
        ) {
            let t = suppress(&counts, threshold);
            prop_assert!(!t.has_recoverable_cell());
            // Every small count is hidden; every shown value is the true value.
            for (i, row) in counts.iter().enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    match t.cells[i][j] {
                        Cell::Shown(s) => { prop_assert_eq!(s, v); prop_assert!(v == 0 || v >= threshold); }
                        Cell::Suppressed => {}
                    }
                }
            }
            let total: u64 = counts.iter().flatten().sum();
            if let Cell::Shown(g) = t.grand_total { prop_assert_eq!(g, total); }
        }
    }
}

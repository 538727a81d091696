//! The one road every published table of counts takes: [`crate::privacy::suppress::suppress`].
//!
//! Counts of people (pupils in a count measure, headteachers answering a questionnaire, pupils on
//! a register) are suppressed at the threshold (default 5: counts of 1 to 4 shown as `c`, with
//! secondary suppression so no hidden cell can be recovered from the totals). Counts of clusters
//! (how many were judged Strong) describe no person; they pass through the same function with a
//! threshold of 1, which hides nothing, so that every table is built, totalled and shown one way.

use crate::privacy::suppress::{Cell, DEFAULT_THRESHOLD, SuppressedTable, suppress};

/// What a table counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountsOf {
    /// Pupils, respondents: small counts could identify someone.
    People,
    /// Clusters or schools: no person is counted.
    Organisations,
}

/// The threshold a table is published at.
pub fn threshold(of: CountsOf, people_threshold: u64) -> u64 {
    match of {
        CountsOf::People => people_threshold.max(1),
        CountsOf::Organisations => 1,
    }
}

/// Publishes a table of counts with its row, column and grand totals.
pub fn publish(counts: &[Vec<u64>], of: CountsOf, people_threshold: u64) -> SuppressedTable {
    suppress(counts, threshold(of, people_threshold))
}

/// Publishes a table of people at the default threshold.
pub fn publish_people(counts: &[Vec<u64>]) -> SuppressedTable {
    publish(counts, CountsOf::People, DEFAULT_THRESHOLD)
}

/// One count with nothing around it.
pub fn publish_one(count: u64, of: CountsOf, people_threshold: u64) -> Cell {
    publish(&[vec![count]], of, people_threshold).grand_total
}

#[cfg(test)]
mod tests {
    use super::*;
    use Cell::{Shown as S, Suppressed as C};

    /// Permanent exclusions by school (rows) and year (columns) in one cluster. Hiding only the
    /// 2 would leave the cluster's 2022/23 total (9) minus the other school (7) = 2 for anyone to
    /// work out; the rule hides a second cell in the row and column, and what they disclose.
    #[test]
    fn counts_of_pupils_cannot_be_recovered_by_subtraction() {
        let exclusions = vec![vec![2, 6], vec![7, 9]];
        let t = publish(&exclusions, CountsOf::People, 5);
        assert_eq!(t.cells, vec![vec![C, C], vec![C, C]]);
        assert_eq!(t.column_totals, vec![S(9), S(15)]);
        assert!(!t.has_recoverable_cell());
        // The same counts of clusters are published as they are.
        let t = publish(&exclusions, CountsOf::Organisations, 5);
        assert_eq!(t.cells, vec![vec![S(2), S(6)], vec![S(7), S(9)]]);
        assert_eq!(t.grand_total, S(24));
        assert_eq!(publish_one(3, CountsOf::People, 5), C);
        assert_eq!(publish_one(0, CountsOf::People, 5), S(0));
        assert_eq!(publish_one(3, CountsOf::Organisations, 5), S(3));
        assert_eq!(publish_people(&[vec![12, 1]]).cells[0], vec![C, C]);
    }
}

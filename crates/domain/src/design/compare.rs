//! What changes between two cluster maps: clusters matched one to one by the schools they share
//! (largest overlap first), and every school whose cluster is not the match of its old one.

use crate::ids::Urn;
use std::collections::{BTreeMap, BTreeSet};

/// A school that changes cluster between map A and map B (`None`: in no cluster on that map).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub urn: Urn,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The comparison of two assignments (school → cluster label).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    /// Cluster of A → the cluster of B it continues as.
    pub matched: BTreeMap<String, String>,
    /// Schools that move, ordered by old cluster (schools in none first), new cluster and URN.
    pub moves: Vec<Move>,
    /// Schools in a cluster on both maps that stay with their matched cluster.
    pub stayed: usize,
}

/// Matches the clusters of `a` to those of `b` and lists what moves. Pairs are taken greedily by
/// the number of schools they share (ties by A's label, then B's), each cluster at most once, so
/// when two clusters merge the larger part stays and the smaller part moves, and when one splits
/// the larger piece stays.
pub fn changes(a: &[(Urn, String)], b: &[(Urn, String)]) -> Changes {
    let in_a: BTreeMap<Urn, &str> = a.iter().map(|(u, c)| (*u, c.as_str())).collect();
    let in_b: BTreeMap<Urn, &str> = b.iter().map(|(u, c)| (*u, c.as_str())).collect();
    let mut overlap: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (u, ca) in &in_a {
        if let Some(cb) = in_b.get(u) {
            *overlap.entry((ca, cb)).or_default() += 1;
        }
    }
    let mut pairs: Vec<((&str, &str), usize)> = overlap.into_iter().collect();
    pairs.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let (mut used_a, mut used_b) = (BTreeSet::new(), BTreeSet::new());
    let mut matched = BTreeMap::new();
    for ((ca, cb), _) in pairs {
        if !used_a.contains(ca) && !used_b.contains(cb) {
            used_a.insert(ca);
            used_b.insert(cb);
            matched.insert(ca.to_string(), cb.to_string());
        }
    }
    let urns: BTreeSet<Urn> = in_a.keys().chain(in_b.keys()).copied().collect();
    let mut moves = Vec::new();
    let mut stayed = 0;
    for u in urns {
        let (from, to) = (in_a.get(&u).copied(), in_b.get(&u).copied());
        if let (Some(f), Some(t)) = (from, to)
            && matched.get(f).map(String::as_str) == Some(t)
        {
            stayed += 1;
            continue;
        }
        moves.push(Move {
            urn: u,
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        });
    }
    moves.sort_by(|x, y| (&x.from, &x.to, x.urn).cmp(&(&y.from, &y.to, y.urn)));
    Changes { matched, moves, stayed }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(u32, &str)]) -> Vec<(Urn, String)> {
        pairs
            .iter()
            .map(|(u, c)| (Urn::from_u32(*u).expect("urn"), (*c).to_string()))
            .collect()
    }

    fn moved(c: &Changes) -> Vec<(u32, Option<&str>, Option<&str>)> {
        c.moves
            .iter()
            .map(|m| (m.urn.get(), m.from.as_deref(), m.to.as_deref()))
            .collect()
    }

    #[test]
    fn what_moves_between_two_maps() {
        type Case<'a> = (
            &'a str,
            Vec<(u32, &'a str)>,
            Vec<(u32, &'a str)>,
            Vec<(u32, Option<&'a str>, Option<&'a str>)>,
        );
        let cases: Vec<Case> = vec![
            (
                "relabelled only: nothing moves",
                vec![(100_001, "A"), (100_002, "A"), (100_003, "B")],
                vec![(100_001, "C01"), (100_002, "C01"), (100_003, "C02")],
                vec![],
            ),
            (
                "two merge: the smaller part moves",
                vec![(100_001, "A"), (100_002, "A"), (100_003, "B")],
                vec![(100_001, "X"), (100_002, "X"), (100_003, "X")],
                vec![(100_003, Some("B"), Some("X"))],
            ),
            (
                "one splits: the smaller piece moves",
                vec![(100_001, "A"), (100_002, "A"), (100_003, "A")],
                vec![(100_001, "X"), (100_002, "X"), (100_003, "Y")],
                vec![(100_003, Some("A"), Some("Y"))],
            ),
            (
                "a school joins and one leaves",
                vec![(100_001, "A"), (100_002, "A")],
                vec![(100_001, "X"), (100_003, "X")],
                vec![(100_003, None, Some("X")), (100_002, Some("A"), None)],
            ),
        ];
        for (what, a, b, want) in cases {
            let c = changes(&map(&a), &map(&b));
            assert_eq!(moved(&c), want, "{what}");
            let on_both = a.iter().filter(|(u, _)| b.iter().any(|(v, _)| v == u)).count();
            let moved_on_both = c.moves.iter().filter(|m| m.from.is_some() && m.to.is_some()).count();
            assert_eq!(c.stayed + moved_on_both, on_both, "{what}: every school counted once");
        }
    }

    #[test]
    fn a_map_compared_with_itself_has_no_moves() {
        let a = map(&[(100_001, "A"), (100_002, "B"), (100_003, "B")]);
        let c = changes(&a, &a);
        assert!(c.moves.is_empty());
        assert_eq!(c.stayed, 3);
        assert_eq!(c.matched.len(), 2);
    }
}

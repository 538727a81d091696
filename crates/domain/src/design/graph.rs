//! The neighbour graph of school locations: a Delaunay triangulation of the distinct points with
//! its very long edges pruned.
//!
//! Schools on one point (a shared postcode) become one node before triangulating, so zero
//! distances never reach the triangulation. The pruning rule: every node's *spacing* is the
//! length of its second-shortest Delaunay edge (the distance to its near neighbours, which long
//! hull edges cannot inflate the way they can a median); an edge is dropped when it is longer
//! than `factor` × the larger of its two ends' spacings (so it is long for both neighbourhoods it
//! joins — across the Wash, or between two towns with countryside between them), or longer than
//! `max_edge_m` when that is set. Edges of the Euclidean minimum spanning tree are never dropped, so pruning never
//! disconnects what the triangulation connected.

use crate::geo::Location;

/// The pruning rule for long edges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PruneRule {
    /// Drop an edge longer than this many times the larger of its ends' spacings.
    pub factor: f64,
    /// Drop any edge longer than this (metres), spanning-tree edges excepted.
    pub max_edge_m: Option<f64>,
}

impl Default for PruneRule {
    fn default() -> Self {
        PruneRule {
            factor: 3.0,
            max_edge_m: None,
        }
    }
}

/// The graph over distinct points.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighbourGraph {
    /// The distinct points, in order of first appearance.
    pub points: Vec<Location>,
    /// For every input location, its point.
    pub point_of: Vec<usize>,
    /// Edges between points, `a < b`, sorted.
    pub edges: Vec<(usize, usize)>,
    /// How many triangulation edges the rule dropped.
    pub pruned: usize,
}

/// Builds the graph over the given locations.
pub fn neighbour_graph(locations: &[Location], rule: PruneRule) -> NeighbourGraph {
    let mut index: std::collections::HashMap<(i32, i32), usize> = Default::default();
    let mut points = Vec::new();
    let mut point_of = Vec::with_capacity(locations.len());
    for l in locations {
        let next = points.len();
        let p = *index.entry((l.easting, l.northing)).or_insert(next);
        if p == next {
            points.push(*l);
        }
        point_of.push(p);
    }
    let coords: Vec<delaunator::Point> = points
        .iter()
        .map(|p| delaunator::Point {
            x: f64::from(p.easting),
            y: f64::from(p.northing),
        })
        .collect();
    let tri = delaunator::triangulate(&coords);
    let mut raw: Vec<(usize, usize)> = Vec::new();
    if tri.triangles.is_empty() {
        // Collinear (or fewer than three points): the hull lists them in order along the line.
        for w in tri.hull.windows(2) {
            raw.push((w[0].min(w[1]), w[0].max(w[1])));
        }
    } else {
        for t in tri.triangles.chunks_exact(3) {
            for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
                raw.push((a.min(b), a.max(b)));
            }
        }
    }
    raw.sort_unstable();
    raw.dedup();
    let length = |&(a, b): &(usize, usize)| points[a].distance_km(&points[b]) * 1000.0;
    let lengths: Vec<f64> = raw.iter().map(length).collect();

    // Spacing per point: its second-shortest edge (its only edge when it has one).
    let mut incident: Vec<Vec<f64>> = vec![Vec::new(); points.len()];
    for (e, &(a, b)) in raw.iter().enumerate() {
        incident[a].push(lengths[e]);
        incident[b].push(lengths[e]);
    }
    let spacing: Vec<f64> = incident
        .iter_mut()
        .map(|v| {
            v.sort_by(f64::total_cmp);
            v.get(1).or(v.first()).copied().unwrap_or(0.0)
        })
        .collect();

    // Minimum spanning tree (Kruskal over the triangulation).
    let mut order: Vec<usize> = (0..raw.len()).collect();
    order.sort_by(|&x, &y| lengths[x].total_cmp(&lengths[y]).then(raw[x].cmp(&raw[y])));
    let mut parent: Vec<usize> = (0..points.len()).collect();
    let mut in_tree = vec![false; raw.len()];
    for e in order {
        let (a, b) = raw[e];
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            parent[ra] = rb;
            in_tree[e] = true;
        }
    }

    let mut edges = Vec::with_capacity(raw.len());
    let mut pruned = 0;
    for (e, &(a, b)) in raw.iter().enumerate() {
        let long =
            lengths[e] > rule.factor * spacing[a].max(spacing[b]) || rule.max_edge_m.is_some_and(|m| lengths[e] > m);
        if long && !in_tree[e] {
            pruned += 1;
        } else {
            edges.push((a, b));
        }
    }
    NeighbourGraph {
        points,
        point_of,
        edges,
        pruned,
    }
}

pub(crate) fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(e: i32, n: i32) -> Location {
        Location {
            easting: e,
            northing: n,
            latitude: None,
            longitude: None,
        }
    }

    #[test]
    fn coincident_points_merge_and_collinear_points_chain() {
        let g = neighbour_graph(&[at(0, 0), at(1000, 0), at(0, 0), at(2000, 0)], PruneRule::default());
        assert_eq!(g.points.len(), 3);
        assert_eq!(g.point_of, vec![0, 1, 0, 2]);
        assert_eq!(g.edges, vec![(0, 1), (1, 2)]);
    }

    #[test]
    fn two_towns_far_apart_keep_one_bridge() {
        // Two tight grids 50 km apart: the triangulation joins their facing sides with several
        // long edges; only the spanning-tree one stays, so the graph stays connected.
        let mut locs = Vec::new();
        for town in [0, 55_000] {
            for i in 0..5 {
                for j in 0..5 {
                    locs.push(at(town + i * 1000 + (j % 2) * 10, j * 1000 + (i % 2) * 7));
                }
            }
        }
        let g = neighbour_graph(&locs, PruneRule::default());
        let crossing = g.edges.iter().filter(|&&(a, b)| (a < 25) != (b < 25)).count();
        assert_eq!(crossing, 1);
        assert!(g.pruned >= 2, "{}", g.pruned);
    }

    #[test]
    fn single_point_and_empty() {
        assert!(neighbour_graph(&[], PruneRule::default()).edges.is_empty());
        let g = neighbour_graph(&[at(5, 5), at(5, 5)], PruneRule::default());
        assert_eq!(g.points.len(), 1);
        assert!(g.edges.is_empty());
    }
}

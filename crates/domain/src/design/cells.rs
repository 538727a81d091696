//! Regions for drawing a cluster map from our own geometry: the Voronoi cell of every distinct
//! school location, clipped to the authority's extent (the schools' convex hull, buffered) and to
//! a disc round the school, with every edge tagged by the neighbour it separates the cell from,
//! so a drawing can outline clusters by the edges between cells of different clusters.
//!
//! Written by hand (about 150 lines) rather than taken from a crate: each cell is the clip region
//! cut by the perpendicular bisector to every site near enough to matter, one convex half-plane
//! at a time (Sutherland–Hodgman), which needs no unbounded-cell handling, cannot fail on
//! collinear or duplicate inputs, and yields the edge tags the outline needs. Only sites within
//! twice the cell's current radius can cut it, so the work stays near-linear for real maps.

/// How cells are bounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellOptions {
    /// How far the extent reaches beyond the schools' convex hull (metres).
    pub buffer_m: f64,
    /// No point of a cell is further than this from its school (metres): open country far from
    /// any school stays blank rather than being claimed by the nearest one.
    pub radius_m: f64,
    /// Sides of the polygon standing in for each disc.
    pub disc_sides: usize,
}

impl Default for CellOptions {
    fn default() -> Self {
        CellOptions {
            buffer_m: 3_000.0,
            radius_m: 8_000.0,
            disc_sides: 32,
        }
    }
}

/// The cell of one site: a convex polygon, counter-clockwise (north up).
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub vertices: Vec<(f64, f64)>,
    /// For the edge from `vertices[k]` to the next vertex: the site on the other side, or `None`
    /// where the edge is the extent's or the disc's.
    pub across: Vec<Option<usize>>,
}

type P = (f64, f64);

fn cross(o: P, a: P, b: P) -> f64 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

/// Convex hull, counter-clockwise, without collinear points (Andrew's monotone chain).
fn hull(points: &[P]) -> Vec<P> {
    let mut pts: Vec<P> = points.to_vec();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let mut lower: Vec<P> = Vec::new();
    for &p in &pts {
        while lower.len() >= 2 && cross(lower[lower.len() - 2], lower[lower.len() - 1], p) <= 0.0 {
            lower.pop();
        }
        lower.push(p);
    }
    let mut upper: Vec<P> = Vec::new();
    for &p in pts.iter().rev() {
        while upper.len() >= 2 && cross(upper[upper.len() - 2], upper[upper.len() - 1], p) <= 0.0 {
            upper.pop();
        }
        upper.push(p);
    }
    lower.pop();
    upper.pop();
    lower.extend(upper);
    lower
}

fn ring(centre: P, radius: f64, sides: usize) -> Vec<P> {
    let sides = sides.max(3);
    (0..sides)
        .map(|k| {
            let a = std::f64::consts::TAU * k as f64 / sides as f64;
            (centre.0 + radius * a.cos(), centre.1 + radius * a.sin())
        })
        .collect()
}

/// Keeps the part of `poly` where `f <= 0`; new edges along the cut take the tag `tag`.
fn clip(poly: &[(P, Option<usize>)], f: impl Fn(P) -> f64, tag: Option<usize>) -> Vec<(P, Option<usize>)> {
    let n = poly.len();
    let mut out = Vec::with_capacity(n + 1);
    for k in 0..n {
        let (p, edge) = poly[k];
        let q = poly[(k + 1) % n].0;
        let (fp, fq) = (f(p), f(q));
        let (p_in, q_in) = (fp <= 0.0, fq <= 0.0);
        if p_in {
            out.push((p, edge));
        }
        if p_in != q_in {
            let t = fp / (fp - fq);
            let x = (p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1));
            // Leaving: the edge from here runs along the cut. Entering: along the old edge.
            out.push((x, if p_in { tag } else { edge }));
        }
    }
    out
}

/// Clips by the left side of every edge of a counter-clockwise convex polygon.
fn clip_to_convex(mut poly: Vec<(P, Option<usize>)>, region: &[P]) -> Vec<(P, Option<usize>)> {
    for k in 0..region.len() {
        let (u, v) = (region[k], region[(k + 1) % region.len()]);
        poly = clip(&poly, |p| -cross(u, v, p), None);
        if poly.is_empty() {
            break;
        }
    }
    poly
}

/// The cell of every site, in the order given. Sites should be distinct (schools on one point
/// share one site); a repeated site is not cut by its twin, so twins get the same cell.
pub fn cells(sites: &[(f64, f64)], options: CellOptions) -> Vec<Cell> {
    if sites.is_empty() {
        return Vec::new();
    }
    let core = hull(sites);
    let mut buffered_points = Vec::with_capacity(core.len() * 16);
    for &v in &core {
        buffered_points.extend(ring(v, options.buffer_m, 16));
    }
    let extent = hull(&buffered_points);
    let reach = 2.0 * options.radius_m;
    sites
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let disc: Vec<(P, Option<usize>)> = ring(a, options.radius_m, options.disc_sides)
                .into_iter()
                .map(|p| (p, None))
                .collect();
            let mut poly = clip_to_convex(disc, &extent);
            let mut near: Vec<(f64, usize)> = sites
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(j, &b)| (((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt(), j))
                .filter(|&(d, _)| d > 0.0 && d <= reach)
                .collect();
            near.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            for (d, j) in near {
                // A site further than twice the cell's furthest vertex cannot cut it.
                let radius = poly
                    .iter()
                    .map(|(p, _)| ((p.0 - a.0).powi(2) + (p.1 - a.1).powi(2)).sqrt())
                    .fold(0.0, f64::max);
                if d > 2.0 * radius || poly.is_empty() {
                    break;
                }
                let b = sites[j];
                let m = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
                let dir = (b.0 - a.0, b.1 - a.1);
                poly = clip(&poly, |p| (p.0 - m.0) * dir.0 + (p.1 - m.1) * dir.1, Some(j));
            }
            Cell {
                vertices: poly.iter().map(|(p, _)| *p).collect(),
                across: poly.iter().map(|(_, t)| *t).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(cell: &Cell, p: P) -> bool {
        let v = &cell.vertices;
        !v.is_empty() && (0..v.len()).all(|k| cross(v[k], v[(k + 1) % v.len()], p) >= -1e-6)
    }

    fn area(cell: &Cell) -> f64 {
        let v = &cell.vertices;
        (0..v.len())
            .map(|k| {
                let (a, b) = (v[k], v[(k + 1) % v.len()]);
                a.0 * b.1 - b.0 * a.1
            })
            .sum::<f64>()
            / 2.0
    }

    #[test]
    fn two_schools_split_along_the_bisector() {
        let c = cells(&[(0.0, 0.0), (4_000.0, 0.0)], CellOptions::default());
        assert_eq!(c.len(), 2);
        assert!(contains(&c[0], (0.0, 0.0)) && !contains(&c[0], (2_100.0, 0.0)));
        assert!(contains(&c[1], (4_000.0, 0.0)) && contains(&c[1], (2_100.0, 0.0)));
        // The shared edge lies on x = 2,000 and is tagged with the other school.
        let shared: Vec<usize> = (0..c[0].vertices.len())
            .filter(|&k| c[0].across[k] == Some(1))
            .collect();
        assert_eq!(shared.len(), 1);
        let k = shared[0];
        let (p, q) = (c[0].vertices[k], c[0].vertices[(k + 1) % c[0].vertices.len()]);
        assert!((p.0 - 2_000.0).abs() < 1e-6 && (q.0 - 2_000.0).abs() < 1e-6);
        assert!(c[0].across.iter().all(|t| *t != Some(0)), "never tagged with itself");
        // Counter-clockwise: positive area, within the disc's.
        for cell in &c {
            let a = area(cell);
            assert!(a > 0.0 && a < std::f64::consts::PI * 8_000f64.powi(2));
        }
    }

    #[test]
    fn one_school_and_collinear_schools_still_get_cells() {
        let one = cells(&[(5.0, 5.0)], CellOptions::default());
        assert!(contains(&one[0], (5.0, 5.0)) && area(&one[0]) > 0.0);
        // The extent of a single point is a disc of the buffer's radius.
        assert!(!contains(&one[0], (5.0 + 3_500.0, 5.0)));
        let line: Vec<P> = (0..5).map(|i| (f64::from(i) * 1_000.0, 0.0)).collect();
        let c = cells(&line, CellOptions::default());
        for (i, cell) in c.iter().enumerate() {
            assert!(contains(cell, line[i]), "cell {i} holds its school");
        }
    }

    #[test]
    fn a_point_belongs_to_the_cell_of_its_nearest_school() {
        // A deterministic scatter (a linear congruential sequence), checked on a lattice.
        let mut x: u64 = 12_345;
        let mut next = || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((x >> 33) % 30_000) as f64
        };
        let sites: Vec<P> = (0..60).map(|_| (next(), next())).collect();
        let c = cells(&sites, CellOptions::default());
        for gx in 0..30 {
            for gy in 0..30 {
                let p = (f64::from(gx) * 1_000.0 + 7.0, f64::from(gy) * 1_000.0 + 11.0);
                let holders: Vec<usize> = (0..c.len()).filter(|&i| contains(&c[i], p)).collect();
                assert!(
                    holders.len() <= 1 || on_an_edge(&c, &holders, p),
                    "{p:?} in {holders:?}"
                );
                if let Some(&i) = holders.first() {
                    let d = |s: P| (s.0 - p.0).powi(2) + (s.1 - p.1).powi(2);
                    let nearest = sites.iter().map(|&s| d(s)).fold(f64::INFINITY, f64::min);
                    assert!(
                        d(sites[i]) <= nearest + 1e-3,
                        "{p:?} is not in its nearest school's cell"
                    );
                }
            }
        }
    }

    fn on_an_edge(c: &[Cell], holders: &[usize], p: P) -> bool {
        holders.iter().all(|&i| {
            let v = &c[i].vertices;
            (0..v.len()).any(|k| cross(v[k], v[(k + 1) % v.len()], p).abs() < 1e-3)
        })
    }
}

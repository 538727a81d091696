//! The map, drawn from our own data: schools as points on the British National Grid (one SVG
//! unit = one metre, north up, no tiles), each cluster in one colour with a thin spoke from every
//! member to its host, coloured so that neighbouring clusters never share a colour where the
//! palette allows and the palette is used evenly.

use domain::cluster::MembershipRole;
use domain::geo::Extent;
use domain::ids::{ClusterId, Urn};
use domain::school::Phase;
use service::register::{MapData, MapPoint};
use std::collections::{BTreeMap, BTreeSet};

/// GOV.UK palette colours that stay distinguishable side by side.
const PALETTE: [&str; 12] = [
    "#1d70b8", "#d4351c", "#00703c", "#f47738", "#4c2c92", "#28a197", "#f499be", "#b58840", "#912b88", "#85994b",
    "#5694ca", "#6f72af",
];
/// Schools in no cluster.
pub(crate) const UNCLUSTERED: &str = "#b1b4b6";
/// Clusters with schools this close (metres) count as neighbours for colouring.
const NEIGHBOUR_M: i64 = 8_000;
/// The length of the scale bar.
const SCALE_M: i64 = 10_000;

#[derive(Debug)]
pub(crate) enum Shape {
    /// A host (fund-holder): a square with a dark edge.
    Square {
        x: i64,
        y: i64,
        size: i64,
    },
    Circle {
        cx: i64,
        cy: i64,
        r: i64,
    },
}

#[derive(Debug)]
pub(crate) struct Point {
    pub urn: Urn,
    pub shape: Shape,
    pub colour: &'static str,
    pub title: String,
}

/// A line from a member school to its cluster's host.
#[derive(Debug)]
pub(crate) struct Spoke {
    pub x1: i64,
    pub y1: i64,
    pub x2: i64,
    pub y2: i64,
    pub colour: &'static str,
}

#[derive(Debug)]
pub(crate) struct LegendRow {
    pub id: ClusterId,
    pub name: String,
    pub colour: &'static str,
    pub schools: usize,
}

/// The scale bar, in drawing units.
#[derive(Debug)]
pub(crate) struct Scale {
    pub x: i64,
    pub y: i64,
    pub length: i64,
    pub tick: i64,
    pub font_size: i64,
    pub stroke: i64,
}

#[derive(Debug)]
pub(crate) struct Drawing {
    pub view_box: String,
    pub points: Vec<Point>,
    pub spokes: Vec<Spoke>,
    pub spoke_width: i64,
    pub outline_width: i64,
    pub scale: Scale,
    pub legend: Vec<LegendRow>,
    /// Schools on the map in no cluster.
    pub unclustered: usize,
}

/// Greedy colouring: clusters with most neighbours first; each takes, among the colours no
/// neighbour has yet, the one used least so far (then the lowest index), so the whole palette is
/// used and the result depends only on the data.
fn colours(data: &MapData) -> BTreeMap<ClusterId, &'static str> {
    let clustered: Vec<(ClusterId, i64, i64)> = data
        .points
        .iter()
        .filter_map(|p| {
            p.cluster
                .as_ref()
                .map(|(c, _)| (*c, i64::from(p.location.easting), i64::from(p.location.northing)))
        })
        .collect();
    colour_groups(&clustered, &BTreeMap::new())
}

/// The colouring of [`colours`] for any grouping of points (key, easting, northing): groups
/// with points within [`NEIGHBOUR_M`] of each other count as neighbours. Groups in `fixed` keep
/// the palette colour given (a design comparison keeps a continuing cluster's colour).
pub(crate) fn colour_groups<K: Ord + Copy>(
    clustered: &[(K, i64, i64)],
    fixed: &BTreeMap<K, &'static str>,
) -> BTreeMap<K, &'static str> {
    let mut neighbours: BTreeMap<K, BTreeSet<K>> = BTreeMap::new();
    for (c, _, _) in clustered {
        neighbours.entry(*c).or_default();
    }
    for (i, (a, ax, ay)) in clustered.iter().enumerate() {
        for (b, bx, by) in &clustered[i + 1..] {
            if a != b && (ax - bx).pow(2) + (ay - by).pow(2) <= NEIGHBOUR_M * NEIGHBOUR_M {
                neighbours.entry(*a).or_default().insert(*b);
                neighbours.entry(*b).or_default().insert(*a);
            }
        }
    }
    let mut assigned: BTreeMap<K, usize> = BTreeMap::new();
    let mut uses = [0usize; PALETTE.len()];
    for (c, colour) in fixed {
        if let Some(i) = PALETTE.iter().position(|p| p == colour) {
            uses[i] += 1;
            assigned.insert(*c, i);
        }
    }
    let mut order: Vec<K> = neighbours
        .keys()
        .copied()
        .filter(|c| !assigned.contains_key(c))
        .collect();
    order.sort_by_key(|c| (std::cmp::Reverse(neighbours[c].len()), *c));
    for c in order {
        let taken: BTreeSet<usize> = neighbours[&c].iter().filter_map(|n| assigned.get(n).copied()).collect();
        let pick = (0..PALETTE.len())
            .min_by_key(|i| (taken.contains(i), uses[*i], *i))
            .unwrap_or(0);
        uses[pick] += 1;
        assigned.insert(c, pick);
    }
    assigned.into_iter().map(|(c, i)| (c, PALETTE[i])).collect()
}

/// Where a cluster's spokes meet: its host, else its largest secondary, else its largest school.
fn hubs(points: &[MapPoint]) -> BTreeMap<ClusterId, (i64, i64)> {
    let mut best: BTreeMap<ClusterId, (u8, u32, &MapPoint)> = BTreeMap::new();
    for p in points {
        let Some((c, _)) = &p.cluster else { continue };
        let rank = match (p.role, p.phase) {
            (Some(MembershipRole::Host), _) => 2,
            (_, Phase::Secondary) => 1,
            _ => 0,
        };
        let candidate = (rank, p.pupils, p);
        best.entry(*c)
            .and_modify(|b| {
                if (candidate.0, candidate.1) > (b.0, b.1) {
                    *b = candidate;
                }
            })
            .or_insert(candidate);
    }
    best.into_iter()
        .map(|(c, (_, _, p))| (c, (i64::from(p.location.easting), -i64::from(p.location.northing))))
        .collect()
}

/// The frame of a map on the British National Grid: one SVG unit a metre, north up (y is minus
/// the northing), a margin, room for the scale bar underneath, and a point size to suit.
#[derive(Debug)]
pub(crate) struct Frame {
    pub view_box: String,
    /// A school's radius in drawing units.
    pub r: i64,
    pub scale: Scale,
}

/// Frames the given locations (a 10 km square when there are none).
pub(crate) fn frame<'a>(locations: impl IntoIterator<Item = &'a domain::geo::Location>) -> Frame {
    let extent = Extent::of(locations).unwrap_or(Extent {
        min_easting: 0,
        min_northing: 0,
        max_easting: 10_000,
        max_northing: 10_000,
    });
    let w = i64::from(extent.max_easting - extent.min_easting).max(1_000);
    let h = i64::from(extent.max_northing - extent.min_northing).max(1_000);
    let side = w.max(h);
    let margin = side / 30;
    // Room under the points for the scale bar.
    let bottom = margin * 3;
    let r = (side / 180).max(150);
    let (x0, y0) = (
        i64::from(extent.min_easting) - margin,
        -(i64::from(extent.max_northing) + margin),
    );
    let (width, height) = (w + 2 * margin, h + margin + bottom);
    let font_size = (width / 70).max(200);
    Frame {
        view_box: format!("{x0} {y0} {width} {height}"),
        r,
        scale: Scale {
            x: x0 + margin,
            y: y0 + height - margin,
            length: SCALE_M,
            tick: font_size / 2,
            font_size,
            stroke: (r / 3).max(50),
        },
    }
}

pub(crate) fn draw(data: &MapData) -> Drawing {
    let frame = frame(data.points.iter().map(|p| &p.location));
    let r = frame.r;
    let colour_of = colours(data);
    let hub_of = hubs(&data.points);
    let mut counts: BTreeMap<ClusterId, usize> = BTreeMap::new();
    let mut unclustered = 0;
    // Unclustered schools first, so clustered ones sit on top; hosts on top of all.
    let mut ordered: Vec<_> = data.points.iter().collect();
    ordered.sort_by_key(|p| (p.cluster.is_some(), p.role == Some(MembershipRole::Host), p.urn));
    let mut spokes = Vec::new();
    let mut points = Vec::with_capacity(ordered.len());
    for p in ordered {
        // SVG's y grows downwards and the northing upwards.
        let (x, y) = (i64::from(p.location.easting), -i64::from(p.location.northing));
        let (colour, cluster_name) = match &p.cluster {
            Some((c, name)) => {
                *counts.entry(*c).or_default() += 1;
                let colour = colour_of.get(c).copied().unwrap_or(UNCLUSTERED);
                if let Some(&(x2, y2)) = hub_of.get(c)
                    && (x2, y2) != (x, y)
                {
                    spokes.push(Spoke {
                        x1: x,
                        y1: y,
                        x2,
                        y2,
                        colour,
                    });
                }
                (colour, name.as_str())
            }
            None => {
                unclustered += 1;
                (UNCLUSTERED, "no cluster")
            }
        };
        let shape = if p.role == Some(MembershipRole::Host) {
            let size = r * 24 / 10;
            Shape::Square {
                x: x - size / 2,
                y: y - size / 2,
                size,
            }
        } else if p.phase == Phase::Secondary {
            Shape::Circle {
                cx: x,
                cy: y,
                r: r * 14 / 10,
            }
        } else {
            Shape::Circle { cx: x, cy: y, r }
        };
        let role = p.role.map(|r| format!(" ({})", r.label())).unwrap_or_default();
        points.push(Point {
            urn: p.urn,
            shape,
            colour,
            title: format!("{} (URN {}), {}: {cluster_name}{role}", p.name, p.urn, p.phase.label()),
        });
    }
    let legend = data
        .clusters
        .iter()
        .map(|(id, name)| LegendRow {
            id: *id,
            name: name.clone(),
            colour: colour_of.get(id).copied().unwrap_or(UNCLUSTERED),
            schools: counts.get(id).copied().unwrap_or(0),
        })
        .collect();
    Drawing {
        view_box: frame.view_box,
        points,
        spokes,
        spoke_width: (r / 4).max(40),
        outline_width: (r / 3).max(50),
        scale: frame.scale,
        legend,
        unclustered,
    }
}

/// A small map for a school's page, framed on the school and its current cluster-mates (at
/// least [`LOCATOR_MIN_M`] across): other schools as grey dots, the cluster-mates in the
/// cluster's colour, and the school itself as a large dark dot on top.
#[derive(Debug)]
pub(crate) struct Locator {
    pub view_box: String,
    pub r: i64,
    pub others: Vec<(i64, i64)>,
    pub mates: Vec<(i64, i64)>,
    pub colour: &'static str,
    pub here: (i64, i64),
    /// The width of the frame in whole kilometres.
    pub across_km: i64,
}

/// The smallest frame of the locator map, in metres.
const LOCATOR_MIN_M: i64 = 8_000;

pub(crate) fn locator(data: &MapData, urn: Urn) -> Option<Locator> {
    let this = data.points.iter().find(|p| p.urn == urn)?;
    let cluster = this.cluster.as_ref().map(|(c, _)| *c);
    let in_cluster = |p: &MapPoint| cluster.is_some() && p.cluster.as_ref().map(|(c, _)| *c) == cluster;
    let extent = Extent::of(
        data.points
            .iter()
            .filter(|p| p.urn == urn || in_cluster(p))
            .map(|p| &p.location),
    )?;
    let (cx, cy) = (
        (i64::from(extent.min_easting) + i64::from(extent.max_easting)) / 2,
        (i64::from(extent.min_northing) + i64::from(extent.max_northing)) / 2,
    );
    let span =
        i64::from(extent.max_easting - extent.min_easting).max(i64::from(extent.max_northing - extent.min_northing));
    let side = (span + span / 4).max(LOCATOR_MIN_M);
    let (x0, x1, n0, n1) = (cx - side / 2, cx + side / 2, cy - side / 2, cy + side / 2);
    let at = |p: &MapPoint| (i64::from(p.location.easting), -i64::from(p.location.northing));
    let inside = |p: &&MapPoint| {
        let (e, n) = (i64::from(p.location.easting), i64::from(p.location.northing));
        (x0..=x1).contains(&e) && (n0..=n1).contains(&n)
    };
    let (mut others, mut mates) = (Vec::new(), Vec::new());
    for p in data.points.iter().filter(|p| p.urn != urn).filter(inside) {
        if in_cluster(p) {
            mates.push(at(p));
        } else {
            others.push(at(p));
        }
    }
    Some(Locator {
        view_box: format!("{x0} {} {side} {side}", -n1),
        r: side / 90,
        others,
        mates,
        colour: cluster
            .and_then(|c| colours(data).get(&c).copied())
            .unwrap_or(UNCLUSTERED),
        here: at(this),
        across_km: side / 1000,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use domain::geo::Location;

    fn point(urn: u32, e: i32, n: i32, cluster: Option<i64>, role: Option<MembershipRole>) -> MapPoint {
        MapPoint {
            urn: Urn::parse(&urn.to_string()).unwrap(),
            name: format!("School {urn}"),
            phase: Phase::Primary,
            pupils: 100,
            location: Location {
                easting: e,
                northing: n,
                latitude: None,
                longitude: None,
            },
            cluster: cluster.map(|c| (ClusterId(c), format!("Cluster {c}"))),
            role,
        }
    }

    #[test]
    fn neighbouring_clusters_differ_and_the_palette_is_spread() {
        // Twelve clusters far apart: each could take the first colour, but all twelve are used.
        let mut data = MapData::default();
        for c in 0..12 {
            let e = 100_000 * (c as i32 + 1);
            data.points.push(point(100_001 + c as u32, e, 300_000, Some(c), None));
            data.clusters.push((ClusterId(c), format!("Cluster {c}")));
        }
        let assigned = colours(&data);
        let distinct: BTreeSet<_> = assigned.values().collect();
        assert_eq!(distinct.len(), 12);
        // Two clusters whose schools are 1 km apart never share a colour.
        let data = MapData {
            points: vec![
                point(100_001, 600_000, 300_000, Some(1), None),
                point(100_002, 601_000, 300_000, Some(2), None),
            ],
            ..MapData::default()
        };
        let assigned = colours(&data);
        assert_ne!(assigned[&ClusterId(1)], assigned[&ClusterId(2)]);
    }

    #[test]
    fn north_is_up_and_spokes_meet_at_the_host() {
        let data = MapData {
            points: vec![
                point(100_001, 600_000, 310_000, Some(1), Some(MembershipRole::Host)),
                point(100_002, 602_000, 300_000, Some(1), Some(MembershipRole::Feeder)),
                point(100_003, 590_000, 305_000, None, None),
            ],
            clusters: vec![(ClusterId(1), "Cluster 1".into())],
            ..MapData::default()
        };
        let d = draw(&data);
        // The northern school is higher on the page: a smaller y.
        let y_of = |urn: &str| {
            d.points
                .iter()
                .find(|p| p.urn.to_string() == urn)
                .map(|p| match p.shape {
                    Shape::Square { y, size, .. } => y + size / 2,
                    Shape::Circle { cy, .. } => cy,
                })
                .unwrap()
        };
        assert!(y_of("100001") < y_of("100002"));
        assert!(matches!(d.points.last().unwrap().shape, Shape::Square { .. }));
        assert_eq!(d.spokes.len(), 1);
        assert_eq!((d.spokes[0].x2, d.spokes[0].y2), (600_000, -310_000));
        assert_eq!(d.unclustered, 1);
        assert_eq!(d.legend[0].schools, 2);
        // The view box holds every point.
        let v: Vec<i64> = d.view_box.split(' ').map(|s| s.parse().unwrap()).collect();
        for p in &d.points {
            if let Shape::Circle { cx, cy, .. } = p.shape {
                assert!(cx > v[0] && cx < v[0] + v[2] && cy > v[1] && cy < v[1] + v[3]);
            }
        }
    }
}

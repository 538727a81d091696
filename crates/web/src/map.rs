//! The map, drawn from our own data: schools as points on the British National Grid (one SVG
//! unit = one metre, north up), coloured so that neighbouring clusters never share a colour where
//! the palette allows.

use domain::cluster::MembershipRole;
use domain::geo::Extent;
use domain::ids::{ClusterId, Urn};
use service::register::MapData;
use std::collections::{BTreeMap, BTreeSet};

/// GOV.UK palette colours that stay distinguishable side by side.
const PALETTE: [&str; 12] = [
    "#1d70b8", "#d4351c", "#00703c", "#f47738", "#4c2c92", "#28a197", "#f499be", "#b58840", "#912b88", "#85994b",
    "#5694ca", "#6f72af",
];
const UNCLUSTERED: &str = "#b1b4b6";
/// Clusters with schools this close (metres) count as neighbours for colouring.
const NEIGHBOUR_M: i64 = 8_000;

#[derive(Debug)]
pub(crate) struct Point {
    pub urn: Urn,
    pub x: i64,
    pub y: i64,
    pub r: i64,
    pub x0: i64,
    pub y0: i64,
    pub size: i64,
    pub square: bool,
    pub colour: &'static str,
    pub title: String,
}

#[derive(Debug)]
pub(crate) struct LegendRow {
    pub id: ClusterId,
    pub name: String,
    pub colour: &'static str,
    pub schools: usize,
}

#[derive(Debug)]
pub(crate) struct Drawing {
    pub view_box: String,
    pub ten_km_pct: String,
    pub points: Vec<Point>,
    pub legend: Vec<LegendRow>,
}

/// Greedy colouring: clusters with most neighbours first, each the first colour no neighbour has.
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
    let mut neighbours: BTreeMap<ClusterId, BTreeSet<ClusterId>> = BTreeMap::new();
    for (c, _, _) in &clustered {
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
    let mut order: Vec<ClusterId> = neighbours.keys().copied().collect();
    order.sort_by_key(|c| (std::cmp::Reverse(neighbours[c].len()), *c));
    let mut assigned: BTreeMap<ClusterId, usize> = BTreeMap::new();
    for c in order {
        let used: BTreeSet<usize> = neighbours[&c].iter().filter_map(|n| assigned.get(n).copied()).collect();
        let pick = (0..PALETTE.len())
            .find(|i| !used.contains(i))
            .unwrap_or(c.0.unsigned_abs() as usize % PALETTE.len());
        assigned.insert(c, pick);
    }
    assigned.into_iter().map(|(c, i)| (c, PALETTE[i])).collect()
}

pub(crate) fn draw(data: &MapData) -> Drawing {
    let extent = Extent::of(data.points.iter().map(|p| &p.location)).unwrap_or(Extent {
        min_easting: 0,
        min_northing: 0,
        max_easting: 10_000,
        max_northing: 10_000,
    });
    let w = i64::from(extent.max_easting - extent.min_easting).max(1_000);
    let h = i64::from(extent.max_northing - extent.min_northing).max(1_000);
    let margin = w.max(h) / 30;
    let r = (w.max(h) / 220).max(150);
    let colour_of = colours(data);
    let mut counts: BTreeMap<ClusterId, usize> = BTreeMap::new();
    // Clustered schools drawn last so they sit on top of unclustered ones; hosts on top of all.
    let mut ordered: Vec<_> = data.points.iter().collect();
    ordered.sort_by_key(|p| (p.cluster.is_some(), p.role == Some(MembershipRole::Host), p.urn));
    let points = ordered
        .into_iter()
        .map(|p| {
            let (colour, cluster_name) = match &p.cluster {
                Some((c, name)) => {
                    *counts.entry(*c).or_default() += 1;
                    (colour_of.get(c).copied().unwrap_or(UNCLUSTERED), name.as_str())
                }
                None => (UNCLUSTERED, "no cluster"),
            };
            let square = p.role == Some(MembershipRole::Host);
            let size = r * 22 / 10;
            let (x, y) = (i64::from(p.location.easting), -i64::from(p.location.northing));
            Point {
                urn: p.urn,
                // Drawn inside a scale(1,-1) group, so y is the northing.
                x,
                y: -y,
                r,
                x0: x - size / 2,
                y0: -y - size / 2,
                size,
                square,
                colour,
                title: format!("{} (URN {}), {}: {}", p.name, p.urn, p.phase.label(), cluster_name),
            }
        })
        .collect();
    let view_box = format!(
        "{} {} {} {}",
        i64::from(extent.min_easting) - margin,
        -(i64::from(extent.max_northing) + margin),
        w + 2 * margin,
        h + 2 * margin
    );
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
    let ten_km = 10_000 * 1000 / (w + 2 * margin);
    Drawing {
        view_box,
        ten_km_pct: format!("{}.{}", ten_km / 10, ten_km % 10),
        points,
        legend,
    }
}

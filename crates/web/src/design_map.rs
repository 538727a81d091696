//! A design scenario's map: every cluster as a coloured region made of its schools' Voronoi
//! cells clipped to the authority's extent (`domain::design::cells`), outlined where it meets
//! another cluster or the edge, with the schools on top and the hubs as squares. It shares the
//! register map's frame, scale bar and colouring (`map.rs`); no tiles.

use crate::map::{self, Scale};
use domain::design::cells::{CellOptions, cells};
use domain::ids::Urn;
use service::design::{PlacedSchool, ScenarioCluster};
use std::collections::BTreeMap;

/// One school's cell, filled with its cluster's colour.
#[derive(Debug)]
pub(crate) struct Region {
    pub d: String,
    pub colour: &'static str,
    pub title: String,
}

/// A school on top of the regions.
#[derive(Debug)]
pub(crate) struct Dot {
    pub urn: Urn,
    pub x: i64,
    pub y: i64,
    pub hub: bool,
    pub title: String,
}

#[derive(Debug)]
pub(crate) struct SchemeMap {
    pub view_box: String,
    pub regions: Vec<Region>,
    /// Cluster boundaries and the outer edge, as one path.
    pub outline: String,
    pub outline_width: i64,
    pub seam_width: i64,
    pub dots: Vec<Dot>,
    pub r: i64,
    pub hub_size: i64,
    pub scale: Scale,
    /// Cluster label → colour, for the tables' swatches.
    pub colours: BTreeMap<String, &'static str>,
}

impl SchemeMap {
    pub fn colour_of(&self, label: &str) -> &'static str {
        self.colours.get(label).copied().unwrap_or(map::UNCLUSTERED)
    }
}

fn path(vertices: &[(f64, f64)]) -> String {
    let mut d = String::with_capacity(vertices.len() * 16);
    for (k, (x, y)) in vertices.iter().enumerate() {
        d.push(if k == 0 { 'M' } else { 'L' });
        d.push_str(&format!("{} {}", x.round() as i64, -(y.round() as i64)));
    }
    d.push('Z');
    d
}

/// Draws a map. `fixed` gives colours some clusters must keep (the other side of a comparison).
pub(crate) fn draw(
    schools: &[PlacedSchool],
    clusters: &[ScenarioCluster],
    fixed: &BTreeMap<String, &'static str>,
) -> SchemeMap {
    let frame = map::frame(schools.iter().map(|s| &s.location));
    let names: BTreeMap<&str, &str> = clusters.iter().map(|c| (c.label.as_str(), c.name.as_str())).collect();
    // Cluster labels as small keys for the colouring.
    let mut labels: Vec<&str> = clusters.iter().map(|c| c.label.as_str()).collect();
    for s in schools {
        if let Some(l) = s.cluster.as_deref()
            && !labels.contains(&l)
        {
            labels.push(l);
        }
    }
    let key_of: BTreeMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (*l, i)).collect();
    let points: Vec<(usize, i64, i64)> = schools
        .iter()
        .filter_map(|s| {
            let k = key_of.get(s.cluster.as_deref()?)?;
            Some((*k, i64::from(s.location.easting), i64::from(s.location.northing)))
        })
        .collect();
    let fixed_keys: BTreeMap<usize, &'static str> = fixed
        .iter()
        .filter_map(|(l, c)| key_of.get(l.as_str()).map(|k| (*k, *c)))
        .collect();
    let by_key = map::colour_groups(&points, &fixed_keys);
    let colours: BTreeMap<String, &'static str> = labels
        .iter()
        .enumerate()
        .filter_map(|(i, l)| by_key.get(&i).map(|c| ((*l).to_string(), *c)))
        .collect();

    // One site per distinct point; its cluster is that of the lowest URN there.
    let mut ordered: Vec<&PlacedSchool> = schools.iter().collect();
    ordered.sort_by_key(|s| s.urn);
    let mut site_of: BTreeMap<(i32, i32), usize> = BTreeMap::new();
    let mut sites: Vec<(f64, f64)> = Vec::new();
    let mut site_cluster: Vec<Option<&str>> = Vec::new();
    for s in &ordered {
        let key = (s.location.easting, s.location.northing);
        if let std::collections::btree_map::Entry::Vacant(e) = site_of.entry(key) {
            e.insert(sites.len());
            sites.push((f64::from(key.0), f64::from(key.1)));
            site_cluster.push(s.cluster.as_deref());
        }
    }
    let cells = cells(&sites, CellOptions::default());
    let mut regions = Vec::with_capacity(cells.len());
    let mut outline = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if cell.vertices.len() < 3 {
            continue;
        }
        let label = site_cluster[i];
        regions.push(Region {
            d: path(&cell.vertices),
            colour: label.and_then(|l| colours.get(l).copied()).unwrap_or(map::UNCLUSTERED),
            title: label.map_or_else(
                || "In no cluster".to_string(),
                |l| names.get(l).unwrap_or(&l).to_string(),
            ),
        });
        let n = cell.vertices.len();
        for k in 0..n {
            let boundary = match cell.across[k] {
                None => true,
                Some(j) => site_cluster[j] != label,
            };
            if boundary {
                let (a, b) = (cell.vertices[k], cell.vertices[(k + 1) % n]);
                outline.push_str(&format!(
                    "M{} {}L{} {}",
                    a.0.round() as i64,
                    -(a.1.round() as i64),
                    b.0.round() as i64,
                    -(b.1.round() as i64)
                ));
            }
        }
    }
    let mut dots: Vec<Dot> = schools
        .iter()
        .map(|s| {
            let cluster = s
                .cluster
                .as_deref()
                .map_or("no cluster", |l| names.get(l).copied().unwrap_or(l));
            Dot {
                urn: s.urn,
                x: i64::from(s.location.easting),
                y: -i64::from(s.location.northing),
                hub: s.hub,
                title: format!(
                    "{} (URN {}), {}: {cluster}{}",
                    s.name,
                    s.urn,
                    s.phase.label(),
                    if s.hub { " (hub)" } else { "" }
                ),
            }
        })
        .collect();
    // Hubs on top.
    dots.sort_by_key(|d| (d.hub, d.urn));
    let r = frame.r;
    SchemeMap {
        view_box: frame.view_box,
        regions,
        outline,
        outline_width: (r / 2).max(60),
        seam_width: (r / 5).max(20),
        dots,
        r: (r * 6 / 10).max(80),
        hub_size: r * 22 / 10,
        scale: frame.scale,
        colours,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use domain::geo::Location;
    use domain::school::Phase;

    fn school(urn: u32, e: i32, n: i32, cluster: &str, hub: bool) -> PlacedSchool {
        PlacedSchool {
            urn: Urn::from_u32(urn).unwrap(),
            name: format!("School {urn}"),
            phase: Phase::Primary,
            location: Location {
                easting: e,
                northing: n,
                latitude: None,
                longitude: None,
            },
            cluster: Some(cluster.into()),
            hub,
        }
    }

    #[test]
    fn each_point_gets_one_cell_and_clusters_are_outlined_between() {
        let schools = vec![
            school(100_001, 600_000, 300_000, "C01", true),
            school(100_002, 602_000, 300_000, "C01", false),
            // Two schools on one site share a cell.
            school(100_003, 606_000, 300_000, "C02", true),
            school(100_004, 606_000, 300_000, "C02", false),
        ];
        let m = draw(&schools, &[], &BTreeMap::new());
        assert_eq!(m.regions.len(), 3);
        assert_eq!(m.dots.len(), 4);
        assert_ne!(m.colour_of("C01"), m.colour_of("C02"), "neighbours differ");
        // The boundary between C01 and C02 (x = 604,000) is outlined; the seam inside C01
        // (x = 601,000) is not.
        let segments: Vec<Vec<i64>> = m
            .outline
            .split('M')
            .filter(|s| !s.is_empty())
            .map(|s| s.replace('L', " ").split(' ').map(|n| n.parse().unwrap()).collect())
            .collect();
        let vertical_at = |x: i64| segments.iter().any(|s| s[0] == x && s[2] == x);
        assert!(vertical_at(604_000) && !vertical_at(601_000), "{}", m.outline);
        // North up: y is minus the northing.
        assert!(m.regions[0].d.starts_with('M') && m.regions[0].d.contains(" -30"));
        // A fixed colour is kept.
        let fixed = BTreeMap::from([("C02".to_string(), m.colour_of("C01"))]);
        let again = draw(&schools, &[], &fixed);
        assert_eq!(again.colour_of("C02"), m.colour_of("C01"));
        assert_ne!(again.colour_of("C01"), again.colour_of("C02"));
    }
}

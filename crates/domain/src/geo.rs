//! Locations on the British National Grid and distances between them.

/// Where a school is: British National Grid metres (EPSG:27700) and WGS84 degrees when known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    pub easting: i32,
    pub northing: i32,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl Location {
    /// Squared straight-line distance in square metres (exact in integers).
    pub fn distance_squared_m(&self, other: &Location) -> i64 {
        let dx = i64::from(self.easting) - i64::from(other.easting);
        let dy = i64::from(self.northing) - i64::from(other.northing);
        dx * dx + dy * dy
    }

    /// Straight-line distance in kilometres.
    pub fn distance_km(&self, other: &Location) -> f64 {
        (self.distance_squared_m(other) as f64).sqrt() / 1000.0
    }
}

/// A rectangle in grid metres that holds a set of points, for drawing maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub min_easting: i32,
    pub min_northing: i32,
    pub max_easting: i32,
    pub max_northing: i32,
}

impl Extent {
    pub fn of<'a>(points: impl IntoIterator<Item = &'a Location>) -> Option<Extent> {
        let mut it = points.into_iter();
        let first = it.next()?;
        let mut e = Extent {
            min_easting: first.easting,
            min_northing: first.northing,
            max_easting: first.easting,
            max_northing: first.northing,
        };
        for p in it {
            e.min_easting = e.min_easting.min(p.easting);
            e.min_northing = e.min_northing.min(p.northing);
            e.max_easting = e.max_easting.max(p.easting);
            e.max_northing = e.max_northing.max(p.northing);
        }
        Some(e)
    }
}

/// What a geography layer divides the authority into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerKind {
    District,
    Division,
    Custom,
}

impl LayerKind {
    pub fn code(self) -> &'static str {
        match self {
            LayerKind::District => "district",
            LayerKind::Division => "division",
            LayerKind::Custom => "custom",
        }
    }
    pub fn from_code(code: &str) -> Option<Self> {
        [LayerKind::District, LayerKind::Division, LayerKind::Custom]
            .into_iter()
            .find(|k| k.code() == code)
    }
    pub fn label(self) -> &'static str {
        match self {
            LayerKind::District => "District",
            LayerKind::Division => "Division",
            LayerKind::Custom => "Custom area",
        }
    }
}

/// One area of a layer and the schools in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Area {
    pub code: String,
    pub name: String,
    pub members: Vec<crate::ids::Urn>,
}

/// A named geography layer: districts, divisions or any custom set of areas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeographyLayer {
    pub id: crate::ids::LayerId,
    pub authority: crate::ids::AuthorityId,
    pub kind: LayerKind,
    pub name: String,
    pub areas: Vec<Area>,
}

/// Checks a layer before it is saved: area codes unique, each school in at most one area.
pub fn check_layer(areas: &[Area]) -> Result<(), String> {
    let mut codes = std::collections::HashSet::new();
    let mut seen = std::collections::HashMap::new();
    for a in areas {
        if a.code.trim().is_empty() || a.name.trim().is_empty() {
            return Err("every area needs a code and a name".into());
        }
        if !codes.insert(a.code.as_str()) {
            return Err(format!("area code {:?} is used twice", a.code));
        }
        for u in &a.members {
            if let Some(other) = seen.insert(*u, a.code.as_str()) {
                return Err(format!(
                    "school {u} is in two areas of one layer: {other:?} and {:?}",
                    a.code
                ));
            }
        }
    }
    Ok(())
}

/// Builds the district layer from the districts the register records for each school.
pub fn districts_from_register(schools: &[crate::school::SchoolWithCensus]) -> Vec<Area> {
    let mut by_code: std::collections::BTreeMap<String, Area> = std::collections::BTreeMap::new();
    for s in schools {
        if let Some(d) = &s.school.district
            && !d.code.is_empty()
        {
            by_code
                .entry(d.code.clone())
                .or_insert_with(|| Area {
                    code: d.code.clone(),
                    name: d.name.clone(),
                    members: Vec::new(),
                })
                .members
                .push(s.school.urn);
        }
    }
    by_code.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Urn;

    fn area(code: &str, members: &[u32]) -> Area {
        Area {
            code: code.into(),
            name: format!("Area {code}"),
            members: members.iter().filter_map(|&m| Urn::from_u32(m).ok()).collect(),
        }
    }

    #[test]
    fn layers_refuse_repeated_codes_and_schools_in_two_areas() {
        assert!(check_layer(&[area("A", &[100001]), area("B", &[100002])]).is_ok());
        assert!(check_layer(&[area("A", &[100001]), area("A", &[100002])]).is_err());
        assert!(check_layer(&[area("A", &[100001]), area("B", &[100001])]).is_err());
        assert!(check_layer(&[area("", &[])]).is_err());
    }

    #[test]
    fn distances_are_exact_on_the_grid() {
        let a = Location {
            easting: 0,
            northing: 0,
            latitude: None,
            longitude: None,
        };
        let b = Location {
            easting: 3000,
            northing: 4000,
            latitude: None,
            longitude: None,
        };
        assert_eq!(a.distance_squared_m(&b), 25_000_000);
        assert!((a.distance_km(&b) - 5.0).abs() < 1e-12);
        assert_eq!(
            a.distance_squared_m(&a),
            0,
            "schools sharing a postcode are at distance zero"
        );
        let e = Extent::of([a, b].iter()).unwrap();
        assert_eq!((e.max_easting, e.max_northing), (3000, 4000));
    }
}

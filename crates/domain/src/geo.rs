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

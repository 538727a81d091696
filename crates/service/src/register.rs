//! Reading the register: overview, school list, school and cluster pages, map and export.
//! Every read is scoped to the signed-in user's authority.

use crate::store::{Authority, ClusterDetail, ClusterSummary, SchoolDetail, SchoolPage, SchoolQuery};
use crate::{Service, ServiceError, ServiceResult};
use domain::access::User;
use domain::cluster::MembershipRole;
use domain::geo::Location;
use domain::ids::{AuthorityId, ClusterId, Urn};
use domain::overview::{Overview, overview};
use domain::school::Phase;
use std::collections::HashMap;

/// One school on the map.
#[derive(Debug, Clone, PartialEq)]
pub struct MapPoint {
    pub urn: Urn,
    pub name: String,
    pub phase: Phase,
    pub pupils: u32,
    pub location: Location,
    pub cluster: Option<(ClusterId, String)>,
    pub role: Option<MembershipRole>,
}

/// The map's contents: points and the clusters they belong to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MapData {
    pub points: Vec<MapPoint>,
    pub clusters: Vec<(ClusterId, String)>,
    pub illustrative: bool,
    /// Schools with no coordinates (left off the map, listed instead).
    pub unplaced: Vec<(Urn, String)>,
}

impl Service {
    pub async fn authority_of(&self, user: &User) -> ServiceResult<Authority> {
        Ok(self.store.authority(user.authority).await?)
    }

    pub async fn overview(&self, user: &User) -> ServiceResult<(Overview, bool)> {
        let today = self.clock.today();
        let schools = self.store.all_schools(user.authority).await?;
        let current = self.store.current_memberships(user.authority, today).await?;
        let illustrative = self
            .store
            .list_clusters(user.authority, today)
            .await?
            .iter()
            .any(|c| c.cluster.illustrative);
        let pairs: Vec<_> = current.iter().map(|(u, c, _)| (*u, *c)).collect();
        Ok((overview(&schools, &pairs), illustrative))
    }

    pub async fn list_schools(&self, user: &User, query: &SchoolQuery) -> ServiceResult<SchoolPage> {
        if let Some(s) = &query.search
            && s.chars().count() > 200
        {
            return Err(ServiceError::Invalid("a search is at most 200 characters".into()));
        }
        let mut query = query.clone();
        query.on.get_or_insert_with(|| self.clock.today());
        Ok(self.store.list_schools(user.authority, &query).await?)
    }

    pub async fn districts(&self, user: &User) -> ServiceResult<Vec<String>> {
        Ok(self.store.districts(user.authority).await?)
    }

    pub async fn school(&self, user: &User, urn: Urn) -> ServiceResult<SchoolDetail> {
        self.store
            .school(user.authority, urn)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("school with URN {urn}")))
    }

    pub async fn clusters(&self, user: &User) -> ServiceResult<Vec<ClusterSummary>> {
        Ok(self.store.list_clusters(user.authority, self.clock.today()).await?)
    }

    pub async fn cluster(&self, user: &User, id: ClusterId) -> ServiceResult<ClusterDetail> {
        self.store
            .cluster(user.authority, id, self.clock.today())
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("cluster {id}")))
    }

    pub async fn map(&self, user: &User) -> ServiceResult<MapData> {
        let today = self.clock.today();
        let schools = self.store.all_schools(user.authority).await?;
        let clusters = self.store.list_clusters(user.authority, today).await?;
        let names: HashMap<ClusterId, String> = clusters
            .iter()
            .map(|c| (c.cluster.id, c.cluster.name.clone()))
            .collect();
        let current: HashMap<Urn, (ClusterId, MembershipRole)> = self
            .store
            .current_memberships(user.authority, today)
            .await?
            .into_iter()
            .map(|(u, c, r)| (u, (c, r)))
            .collect();
        let mut data = MapData {
            clusters: clusters
                .iter()
                .map(|c| (c.cluster.id, c.cluster.name.clone()))
                .collect(),
            illustrative: clusters.iter().any(|c| c.cluster.illustrative),
            ..MapData::default()
        };
        for s in schools {
            let membership = current.get(&s.school.urn);
            match s.school.location {
                Some(location) => data.points.push(MapPoint {
                    urn: s.school.urn,
                    name: s.school.name.clone(),
                    phase: s.school.phase,
                    pupils: s.pupils(),
                    location,
                    cluster: membership.and_then(|(c, _)| names.get(c).map(|n| (*c, n.clone()))),
                    role: membership.map(|(_, r)| *r),
                }),
                None => data.unplaced.push((s.school.urn, s.school.name.clone())),
            }
        }
        Ok(data)
    }

    /// The register as CSV: `urn,laestab,name,phase,pupils,fsm_pct,easting,northing,district,cluster`.
    pub async fn export_schools_csv(&self, authority: AuthorityId) -> ServiceResult<Vec<u8>> {
        let today = self.clock.today();
        let schools = self.store.all_schools(authority).await?;
        let clusters = self.store.list_clusters(authority, today).await?;
        let names: HashMap<ClusterId, String> = clusters.into_iter().map(|c| (c.cluster.id, c.cluster.name)).collect();
        let current: HashMap<Urn, ClusterId> = self
            .store
            .current_memberships(authority, today)
            .await?
            .into_iter()
            .map(|(u, c, _)| (u, c))
            .collect();
        let mut out = String::from("urn,laestab,name,phase,pupils,fsm_pct,easting,northing,district,cluster\n");
        for s in &schools {
            let sc = &s.school;
            let fields = [
                sc.urn.to_string(),
                sc.laestab.map(|l| l.to_string()).unwrap_or_default(),
                sc.name.clone(),
                sc.phase.code().to_string(),
                s.census.as_ref().map(|c| c.pupils.to_string()).unwrap_or_default(),
                s.census
                    .as_ref()
                    .and_then(|c| c.fsm_pct)
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                sc.location.map(|l| l.easting.to_string()).unwrap_or_default(),
                sc.location.map(|l| l.northing.to_string()).unwrap_or_default(),
                sc.district.as_ref().map(|d| d.name.clone()).unwrap_or_default(),
                current
                    .get(&sc.urn)
                    .and_then(|c| names.get(c))
                    .cloned()
                    .unwrap_or_default(),
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        Ok(out.into_bytes())
    }
}

/// Quotes a CSV field when needed and defuses spreadsheet formulas (a leading `= + - @`, tab
/// or carriage return gets a leading apostrophe), as OWASP advises for CSV exports.
pub fn csv_field(value: &str) -> String {
    let defused = match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') if value.parse::<f64>().is_err() => format!("'{value}"),
        _ => value.to_string(),
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("King's Lynn, West"), "\"King's Lynn, West\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-12.5"), "-12.5");
        assert_eq!(csv_field("@SUM"), "'@SUM");
    }
}

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
        Ok(self.snapshot(user.authority).await?.authority.clone())
    }

    pub async fn overview(&self, user: &User) -> ServiceResult<(Overview, bool)> {
        let snap = self.snapshot(user.authority).await?;
        let illustrative = snap.clusters.iter().any(|c| c.cluster.illustrative);
        let pairs: Vec<_> = snap.memberships.iter().map(|(u, c, _)| (*u, *c)).collect();
        Ok((overview(&snap.schools, &pairs), illustrative))
    }

    pub async fn list_schools(&self, user: &User, query: &SchoolQuery) -> ServiceResult<SchoolPage> {
        if let Some(s) = &query.search
            && s.chars().count() > 200
        {
            return Err(ServiceError::Invalid("a search is at most 200 characters".into()));
        }
        let mut query = query.clone();
        let today = self.clock.today();
        let on = *query.on.get_or_insert(today);
        if on != today {
            return Ok(self.store.list_schools(user.authority, &query).await?);
        }
        Ok(list_in(&*self.snapshot(user.authority).await?, &query))
    }

    pub async fn districts(&self, user: &User) -> ServiceResult<Vec<String>> {
        Ok(self.snapshot(user.authority).await?.districts.clone())
    }

    pub async fn school(&self, user: &User, urn: Urn) -> ServiceResult<SchoolDetail> {
        self.store
            .school(user.authority, urn)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("school with URN {urn}")))
    }

    /// A school with its latest census (what a statement's heading shows), without its
    /// history.
    pub async fn school_summary(&self, user: &User, urn: Urn) -> ServiceResult<domain::school::SchoolWithCensus> {
        self.snapshot(user.authority)
            .await?
            .school(urn)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound(format!("school with URN {urn}")))
    }

    pub async fn clusters(&self, user: &User) -> ServiceResult<Vec<ClusterSummary>> {
        Ok(self.snapshot(user.authority).await?.clusters.clone())
    }

    pub async fn cluster(&self, user: &User, id: ClusterId) -> ServiceResult<ClusterDetail> {
        let snap = self.snapshot(user.authority).await?;
        self.cluster_detail(&snap, id)
            .await?
            .map(|d| d.as_ref().clone())
            .ok_or_else(|| ServiceError::NotFound(format!("cluster {id}")))
    }

    pub async fn map(&self, user: &User) -> ServiceResult<MapData> {
        let snap = self.snapshot(user.authority).await?;
        let (schools, clusters) = (&snap.schools, &snap.clusters);
        let names: HashMap<ClusterId, String> = clusters
            .iter()
            .map(|c| (c.cluster.id, c.cluster.name.clone()))
            .collect();
        let current: HashMap<Urn, (ClusterId, MembershipRole)> =
            snap.memberships.iter().map(|(u, c, r)| (*u, (*c, *r))).collect();
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

/// The school list from a snapshot (memberships judged on its day), with the store's rules:
/// the search matches a case-insensitive part of the name, URN, LAESTAB or postcode (spaces
/// ignored in postcodes); rows without the sort key come last either way; ties go by name,
/// then URN.
fn list_in(snap: &crate::snapshot::Snapshot, query: &SchoolQuery) -> SchoolPage {
    use crate::store::{SchoolListRow, SchoolSort};
    use std::cmp::Ordering;
    let names: HashMap<ClusterId, &str> = snap
        .clusters
        .iter()
        .map(|c| (c.cluster.id, c.cluster.name.as_str()))
        .collect();
    let mut cluster_of: HashMap<Urn, ClusterId> = HashMap::new();
    for (u, c, _) in &snap.memberships {
        cluster_of.entry(*u).or_insert(*c);
    }
    let search = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| (s.to_lowercase(), s.replace(' ', "").to_lowercase()));
    let matches = |s: &domain::school::SchoolWithCensus| {
        let sc = &s.school;
        if let Some((q, q_compact)) = &search {
            let hit = sc.name.to_lowercase().contains(q.as_str())
                || sc.urn.to_string().contains(q.as_str())
                || sc.laestab.is_some_and(|l| l.to_string().contains(q.as_str()))
                || sc
                    .postcode
                    .as_ref()
                    .is_some_and(|p| p.replace(' ', "").to_lowercase().contains(q_compact.as_str()));
            if !hit {
                return false;
            }
        }
        query.phase.is_none_or(|p| sc.phase == p)
            && query
                .district
                .as_ref()
                .is_none_or(|d| sc.district.as_ref().is_some_and(|a| a.name == *d))
            && query.cluster.is_none_or(|c| cluster_of.get(&sc.urn) == Some(&c))
    };
    // The sort key (absent ones last), the lowercased name (the tie-break), the school.
    type Keyed<'a> = (Option<(i64, String)>, String, &'a domain::school::SchoolWithCensus);
    let key = |s: &domain::school::SchoolWithCensus, lower: &str| -> Option<(i64, String)> {
        match query.sort {
            SchoolSort::Name => Some((0, lower.to_string())),
            SchoolSort::Urn => Some((i64::from(s.school.urn.get()), String::new())),
            SchoolSort::Pupils => s.census.as_ref().map(|c| (i64::from(c.pupils), String::new())),
            SchoolSort::FsmPct => s.census.as_ref().and_then(|c| c.fsm_pct).map(|t| (t.0, String::new())),
            SchoolSort::District => s
                .school
                .district
                .as_ref()
                .filter(|d| !d.name.is_empty())
                .map(|d| (0, d.name.clone())),
        }
    };
    let mut rows: Vec<Keyed<'_>> = snap
        .schools
        .iter()
        .filter(|s| matches(s))
        .map(|s| {
            let lower = s.school.name.to_lowercase();
            (key(s, &lower), lower, s)
        })
        .collect();
    rows.sort_by(|(ka, la, a), (kb, lb, b)| {
        let by_key = match (ka, kb) {
            (Some(x), Some(y)) if query.descending => y.cmp(x),
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_key.then_with(|| la.cmp(lb)).then(a.school.urn.cmp(&b.school.urn))
    });
    let total = rows.len() as u64;
    let limit = query.limit.unwrap_or(50).min(1000) as usize;
    let rows = rows
        .into_iter()
        .skip(query.offset as usize)
        .take(limit)
        .map(|(_, _, s)| SchoolListRow {
            school: s.clone(),
            cluster: cluster_of
                .get(&s.school.urn)
                .and_then(|c| names.get(c).map(|n| (*c, (*n).to_string()))),
        })
        .collect();
    SchoolPage { rows, total }
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

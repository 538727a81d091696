//! `clusterwise demo`: the real Norfolk census, an illustrative nearest-secondary cluster map and
//! one demo user per role. Nothing here is a proposal; every page says the map is illustrative.

use crate::import::{ImportKind, ImportOptions, ImportTarget};
use crate::{Service, ServiceError, ServiceResult};
use domain::NaiveDate;
use domain::access::{Scope, UserRole};
use domain::cluster::MembershipRole;
use domain::demo_map::nearest_secondary_map;
use domain::ids::{LaCode, Urn};
use domain::import::MembershipRecord;

/// The password every demo account shares. Demo databases are for trying the product only.
pub const DEMO_PASSWORD: &str = "clusterwise-demo";
/// Census day of the Norfolk file (spring census 2023).
pub const NORFOLK_CENSUS_DAY: (i32, u32, u32) = (2023, 1, 19);

/// A demo account as printed for the newcomer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAccount {
    pub role: UserRole,
    pub email: String,
    pub password: String,
    pub scope: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub schools: u64,
    pub clusters: u64,
    pub accounts: Vec<DemoAccount>,
}

impl Service {
    /// Loads the census file, draws the illustrative map and creates the demo users. Meant for a
    /// fresh database.
    pub async fn build_demo(&self, census_csv: &[u8]) -> ServiceResult<DemoSummary> {
        let (y, m, d) = NORFOLK_CENSUS_DAY;
        let census_day = NaiveDate::from_ymd_opt(y, m, d);
        let report = self
            .import(
                ImportTarget::ByLaCode,
                ImportKind::Census,
                census_csv,
                &ImportOptions {
                    census_date: census_day,
                    ..ImportOptions::default()
                },
            )
            .await?;
        if !report.written {
            let first = report.rejected.first().map(ToString::to_string).unwrap_or_default();
            return Err(ServiceError::Invalid(format!(
                "the demo census file has {} bad row(s); first: {first}",
                report.rejected.len()
            )));
        }
        let norfolk = LaCode::parse("926").map_err(|e| ServiceError::Unexpected(e.to_string()))?;
        let authority = self
            .store
            .authority_by_code(norfolk)
            .await?
            .ok_or_else(|| ServiceError::Invalid("the demo file holds no Norfolk (LA 926) schools".into()))?;
        let schools = self.store.all_schools(authority.id).await?;
        let map = nearest_secondary_map(&schools);
        let records: Vec<MembershipRecord> = map
            .iter()
            .flat_map(|c| {
                c.members.iter().map(|(urn, role)| MembershipRecord {
                    line: 0,
                    urn: *urn,
                    cluster: c.name.clone(),
                    role: *role,
                })
            })
            .collect();
        // Memberships start at the start of the academic year after the census.
        let effective = NaiveDate::from_ymd_opt(y, 9, 1).unwrap_or_default();
        let counts = self
            .store
            .save_memberships(authority.id, &records, effective, true)
            .await?;

        // The district layer as the census records it; an illustrative network of Norwich's
        // secondary schools (a City Learning Centre partnership is the kind of network this is for).
        let districts = domain::geo::districts_from_register(&schools);
        self.save_geography_layer(authority.id, domain::geo::LayerKind::District, "Districts", &districts)
            .await?;
        let norwich_secondaries: Vec<Urn> = schools
            .iter()
            .filter(|s| {
                s.school.is_state_funded()
                    && s.school.phase.is_secondary_anchor()
                    && s.school.district.as_ref().is_some_and(|d| d.name == "Norwich")
            })
            .map(|s| s.school.urn)
            .collect();
        self.save_network(
            authority.id,
            "Norwich secondary partnership (illustrative)",
            "Illustrative network for the demo: shared sixth-form and City Learning Centre planning",
            &norwich_secondaries,
        )
        .await?;

        // Scope the cluster and school accounts to the largest illustrative cluster's host.
        let today = self.clock.today();
        let clusters = self.store.list_clusters(authority.id, today).await?;
        let biggest = clusters
            .iter()
            .max_by_key(|c| (c.pupils, std::cmp::Reverse(c.cluster.id)))
            .ok_or_else(|| ServiceError::Unexpected("the demo map has no clusters".into()))?;
        let detail = self
            .store
            .cluster(authority.id, biggest.cluster.id, today)
            .await?
            .ok_or_else(|| ServiceError::Unexpected("demo cluster vanished".into()))?;
        let host: Urn = detail
            .members
            .iter()
            .find(|(_, r, _)| *r == MembershipRole::Host)
            .map(|(s, _, _)| s.school.urn)
            .ok_or_else(|| ServiceError::Unexpected("demo cluster has no host".into()))?;
        let feeder: Urn = detail
            .members
            .iter()
            .find(|(_, r, _)| *r == MembershipRole::Feeder)
            .map_or(host, |(s, _, _)| s.school.urn);

        let plan = [
            (
                UserRole::AuthorityOfficer,
                "officer",
                Scope::Authority,
                "Norfolk (the whole authority)".to_string(),
            ),
            (
                UserRole::Adviser,
                "adviser",
                Scope::Authority,
                "Norfolk (the whole authority)".to_string(),
            ),
            (
                UserRole::Evaluator,
                "evaluator",
                Scope::Authority,
                "Norfolk (aggregates only)".to_string(),
            ),
            (
                UserRole::DataProtectionOfficer,
                "dpo",
                Scope::Authority,
                "Norfolk (pupil-data audit, subject access, retention)".to_string(),
            ),
            (
                UserRole::ClusterClerk,
                "clerk",
                Scope::Cluster(biggest.cluster.id),
                biggest.cluster.name.clone(),
            ),
            (
                UserRole::Headteacher,
                "head",
                Scope::School(host),
                format!("school URN {host}"),
            ),
            (
                UserRole::Governor,
                "governor",
                Scope::School(feeder),
                format!("school URN {feeder}"),
            ),
            (
                UserRole::StrandStaff,
                "mentor",
                Scope::School(host),
                format!("school URN {host}"),
            ),
        ];
        let mut accounts = Vec::new();
        for (role, who, scope, scope_text) in plan {
            let email = format!("{who}@demo.clusterwise.test");
            self.create_user(
                authority.id,
                &email,
                &format!("Demo {}", role.label().to_lowercase()),
                role,
                scope,
                DEMO_PASSWORD,
            )
            .await?;
            accounts.push(DemoAccount {
                role,
                email,
                password: DEMO_PASSWORD.to_string(),
                scope: scope_text,
            });
        }
        self.seed_demo_committees(authority.id).await?;
        self.seed_demo_design(authority.id).await?;
        self.seed_demo_policies(authority.id, biggest.cluster.id).await?;
        self.seed_demo_ledgers(authority.id).await?;
        self.seed_demo_casework(authority.id, host, feeder).await?;
        self.seed_demo_evaluation(authority.id).await?;
        Ok(DemoSummary {
            schools: report.counts.inserted + report.counts.updated,
            clusters: counts.clusters_created,
            accounts,
        })
    }
}

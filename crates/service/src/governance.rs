//! Governance: each cluster's committee and the authority's view of their health.

use crate::register::csv_field;
use crate::{Service, ServiceResult};
use domain::NaiveDate;
use domain::access::{Scope, User};
use domain::cluster::MembershipRole;
use domain::governance::health::{CommitteeState, Health, MeetingSummary, health};
use domain::governance::{Committee, Constitution, ConstitutionVersion, Seat, SeatKind, SeatStatus, in_force_on};
use domain::ids::{AuthorityId, ClusterId, PersonId, Urn};
use std::collections::{BTreeMap, HashMap};

/// One cluster's governance health.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterHealth {
    pub cluster: ClusterId,
    pub name: String,
    /// `None` when no committee is recorded.
    pub constitution: Option<String>,
    pub chair: Option<String>,
    pub vice_chair: Option<String>,
    pub health: Health,
}

impl Service {
    /// Health of every committee the user may see, worst first.
    pub async fn governance_health(&self, user: &User) -> ServiceResult<Vec<ClusterHealth>> {
        let today = self.clock.today();
        let clusters = self.store.list_clusters(user.authority, today).await?;
        let current = self.store.current_memberships(user.authority, today).await?;
        let mut members: HashMap<ClusterId, Vec<Urn>> = HashMap::new();
        for (urn, cluster, _) in &current {
            members.entry(*cluster).or_default().push(*urn);
        }
        let visible = |c: ClusterId| match user.scope {
            Scope::Authority => true,
            Scope::Cluster(id) => id == c,
            Scope::School(urn) => members.get(&c).is_some_and(|m| m.contains(&urn)),
        };
        let committees: HashMap<ClusterId, Committee> = self
            .store
            .committees(user.authority)
            .await?
            .into_iter()
            .map(|c| (c.cluster, c))
            .collect();
        let mut out = Vec::new();
        for c in clusters.iter().filter(|c| visible(c.cluster.id)) {
            let member_schools = members.get(&c.cluster.id).cloned().unwrap_or_default();
            let row = match committees.get(&c.cluster.id) {
                Some(committee) => {
                    let constitution = in_force_on(&committee.versions, today)
                        .map_or_else(Constitution::norfolk, |v| v.constitution.clone());
                    let state = CommitteeState {
                        member_schools,
                        ..committee.state.clone()
                    };
                    let name_of = |p: Option<PersonId>| {
                        p.and_then(|p| usize::try_from(p.0).ok())
                            .and_then(|i| committee.holders.get(i).cloned())
                    };
                    ClusterHealth {
                        cluster: c.cluster.id,
                        name: c.cluster.name.clone(),
                        constitution: Some(constitution.name.clone()),
                        chair: name_of(state.chair),
                        vice_chair: name_of(state.vice_chair),
                        health: health(&constitution, &state, today),
                    }
                }
                None => {
                    let state = CommitteeState {
                        member_schools,
                        seats: Vec::new(),
                        chair: None,
                        vice_chair: None,
                        last_review: None,
                        meetings: Vec::new(),
                    };
                    let mut h = health(&Constitution::norfolk(), &state, today);
                    h.reasons.insert(0, "no committee recorded".into());
                    ClusterHealth {
                        cluster: c.cluster.id,
                        name: c.cluster.name.clone(),
                        constitution: None,
                        chair: None,
                        vice_chair: None,
                        health: h,
                    }
                }
            };
            out.push(row);
        }
        out.sort_by(|a, b| (std::cmp::Reverse(a.health.rag), &a.name).cmp(&(std::cmp::Reverse(b.health.rag), &b.name)));
        Ok(out)
    }

    /// The health view as CSV (one row per cluster).
    pub async fn governance_health_csv(&self, user: &User) -> ServiceResult<Vec<u8>> {
        let rows = self.governance_health(user).await?;
        let mut out = String::from(
            "cluster,status,last_quorate_meeting,terms_without_quorate_meeting,chair_in_post,vice_chair_in_post,vacancies,minutes_overdue,review_due,decisions_this_year,reasons\n",
        );
        for r in &rows {
            let h = &r.health;
            let fields = [
                r.name.clone(),
                h.rag.label().to_string(),
                h.last_quorate_meeting.map(|d| d.to_string()).unwrap_or_default(),
                h.terms_without_meeting.len().to_string(),
                yes_no(h.chair_in_post),
                yes_no(h.vice_chair_in_post),
                h.vacancies.to_string(),
                h.minutes_overdue.to_string(),
                yes_no(h.review_due),
                h.decisions_this_year.to_string(),
                h.reasons.join("; "),
            ];
            out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        Ok(out.into_bytes())
    }

    /// Synthetic committees for the demo clusters: a Norfolk constitution, a voting seat per
    /// school, and a year of meetings with a deterministic mix of the problems the health view
    /// exists to show. Every name is synthetic.
    pub(crate) async fn seed_demo_committees(&self, authority: AuthorityId) -> ServiceResult<u64> {
        let today = self.clock.today();
        let clusters = self.store.list_clusters(authority, today).await?;
        let mut members: BTreeMap<ClusterId, Vec<(Urn, MembershipRole)>> = BTreeMap::new();
        for (urn, cluster, role) in self.store.current_memberships(authority, today).await? {
            members.entry(cluster).or_default().push((urn, role));
        }
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        // A school year of termly meetings before today (the demo clock is the real one).
        let this_year = domain::Datelike::year(&today);
        let year = if today >= day(this_year, 9, 1) {
            this_year
        } else {
            this_year - 1
        };
        let dates = [
            day(year - 1, 11, 12),
            day(year, 3, 11),
            day(year, 6, 17),
            day(year, 10, 14),
        ];
        let mut seeded = 0;
        for (i, c) in clusters.iter().enumerate() {
            let schools = members.get(&c.cluster.id).cloned().unwrap_or_default();
            let mut holders = Vec::new();
            let mut seats = Vec::new();
            for (k, (urn, _)) in schools.iter().enumerate() {
                let vacant = (i + k) % 11 == 5;
                let status = if vacant {
                    SeatStatus::Vacant
                } else {
                    holders.push(format!("Governor for {urn} (synthetic)"));
                    SeatStatus::Filled(PersonId(i64::try_from(holders.len() - 1).unwrap_or(0)))
                };
                seats.push(Seat {
                    kind: SeatKind::VotingGovernor,
                    school: Some(*urn),
                    status,
                    term_from: Some(day(year - 2, 9, 1)),
                    term_to: Some(day(year + 2, 8, 31)),
                });
            }
            let pick =
                |n: usize| -> Option<PersonId> { (n < holders.len()).then(|| PersonId(i64::try_from(n).unwrap_or(0))) };
            let chair = if i % 9 == 4 { None } else { pick(0) };
            let vice_chair = if i % 5 == 2 { None } else { pick(1) };
            let mut meetings = Vec::new();
            for (m, held_on) in dates.iter().enumerate() {
                if *held_on > today || (i % 7 == 3 && m >= 2) || (i % 4 == 1 && m == 1) {
                    continue;
                }
                // Most schools attend; one in five of some clusters' schools rarely does.
                let present: Vec<Urn> = schools
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| !(i % 3 == 0 && k % 5 == 4 && m % 2 == 1) && (k + m + i) % 13 != 0)
                    .map(|(_, (u, _))| *u)
                    .collect();
                let quorate = !(i % 8 == 6 && m == 3) && present.len() * 2 >= schools.len();
                let late = i % 6 == 5 && m == 3;
                let sent = if late {
                    None
                } else {
                    held_on.checked_add_days(domain::Days::new(10 + (i % 10) as u64))
                };
                meetings.push(MeetingSummary {
                    date: *held_on,
                    quorate,
                    schools_present: present,
                    minutes_sent: schools.iter().map(|(u, _)| (*u, sent)).collect(),
                    decisions_carried: if quorate { 2 + (i % 3) as u32 } else { 0 },
                });
            }
            let committee = Committee {
                cluster: c.cluster.id,
                versions: vec![ConstitutionVersion {
                    version: 1,
                    effective_from: day(year - 2, 9, 1),
                    constitution: Constitution::norfolk(),
                }],
                holders,
                state: CommitteeState {
                    member_schools: Vec::new(),
                    seats,
                    chair,
                    vice_chair,
                    last_review: Some(if i % 10 == 7 {
                        day(year - 2, 7, 1)
                    } else {
                        day(year, 7, 8)
                    }),
                    meetings,
                },
            };
            self.store.save_committee(authority, &committee).await?;
            seeded += 1;
        }
        Ok(seeded)
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}

//! Governance: each cluster's committee and the authority's view of their health.

use crate::register::csv_field;
use crate::{Service, ServiceResult};
use domain::access::{Scope, User};
use domain::governance::health::{CommitteeState, Health, health};
use domain::governance::{Committee, Constitution, in_force_on};
use domain::ids::{AuthorityId, ClusterId, PersonId, Urn};
use std::collections::HashMap;

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
    /// Member schools' attendance over the last 12 months (name, %), lowest first.
    pub attendance: Vec<(String, u32)>,
}

/// Attendance below this share of meetings marks a school as disengaged.
pub const DISENGAGED_BELOW_PCT: u32 = 50;

impl ClusterHealth {
    /// The member schools attending fewer than [`DISENGAGED_BELOW_PCT`] % of meetings.
    pub fn disengaged(&self) -> impl Iterator<Item = &(String, u32)> {
        self.attendance.iter().filter(|(_, p)| *p < DISENGAGED_BELOW_PCT)
    }
}

/// A column the health view can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HealthSort {
    /// Worst first (red, amber, green), then by name.
    #[default]
    Status,
    Name,
    LastQuorateMeeting,
    Vacancies,
    LowestAttendance,
    Decisions,
}

impl HealthSort {
    pub const ALL: [HealthSort; 6] = [
        HealthSort::Status,
        HealthSort::Name,
        HealthSort::LastQuorateMeeting,
        HealthSort::Vacancies,
        HealthSort::LowestAttendance,
        HealthSort::Decisions,
    ];
    pub fn code(self) -> &'static str {
        match self {
            HealthSort::Status => "status",
            HealthSort::Name => "name",
            HealthSort::LastQuorateMeeting => "last_quorate",
            HealthSort::Vacancies => "vacancies",
            HealthSort::LowestAttendance => "attendance",
            HealthSort::Decisions => "decisions",
        }
    }
    pub fn parse(code: &str) -> Option<HealthSort> {
        HealthSort::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// Sorts the health rows by a column, ties by name. `Status` ascending is worst first; the
/// others ascend from the smallest (earliest date, fewest, lowest) unless `descending`.
pub fn sort_health(rows: &mut [ClusterHealth], by: HealthSort, descending: bool) {
    use std::cmp::{Ordering, Reverse};
    let key = |a: &ClusterHealth, b: &ClusterHealth| -> Ordering {
        match by {
            HealthSort::Status => Reverse(a.health.rag).cmp(&Reverse(b.health.rag)),
            HealthSort::Name => Ordering::Equal,
            HealthSort::LastQuorateMeeting => a.health.last_quorate_meeting.cmp(&b.health.last_quorate_meeting),
            HealthSort::Vacancies => a.health.vacancies.cmp(&b.health.vacancies),
            HealthSort::LowestAttendance => {
                let low = |r: &ClusterHealth| r.attendance.first().map(|(_, p)| *p);
                low(a).cmp(&low(b))
            }
            HealthSort::Decisions => a.health.decisions_this_year.cmp(&b.health.decisions_this_year),
        }
    };
    rows.sort_by(|a, b| {
        let order = key(a, b)
            .then_with(|| a.name.cmp(&b.name))
            .then(a.cluster.cmp(&b.cluster));
        if descending { order.reverse() } else { order }
    });
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
        let names: HashMap<Urn, String> = self
            .store
            .all_schools(user.authority)
            .await?
            .into_iter()
            .map(|s| (s.school.urn, s.school.name))
            .collect();
        let attendance = |h: &Health| {
            let mut a: Vec<(String, u32)> = h
                .attendance_pct
                .iter()
                .map(|(urn, pct)| (names.get(urn).cloned().unwrap_or_else(|| format!("URN {urn}")), *pct))
                .collect();
            a.sort_by(|x, y| x.1.cmp(&y.1).then(x.0.cmp(&y.0)));
            a
        };
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
                    let h = health(&constitution, &state, today);
                    ClusterHealth {
                        cluster: c.cluster.id,
                        name: c.cluster.name.clone(),
                        constitution: Some(constitution.name.clone()),
                        chair: name_of(state.chair),
                        vice_chair: name_of(state.vice_chair),
                        attendance: attendance(&h),
                        health: h,
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
                        attendance: attendance(&h),
                        health: h,
                    }
                }
            };
            out.push(row);
        }
        sort_health(&mut out, HealthSort::Status, false);
        Ok(out)
    }

    /// The health view as CSV (one row per cluster).
    pub async fn governance_health_csv(&self, user: &User) -> ServiceResult<Vec<u8>> {
        let rows = self.governance_health(user).await?;
        let mut out = String::from(
            "cluster,status,last_quorate_meeting,terms_without_quorate_meeting,chair_in_post,vice_chair_in_post,vacancies,minutes_overdue,review_due,decisions_this_year,lowest_attendance_school,lowest_attendance_pct,disengaged_schools,reasons\n",
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
                r.attendance.first().map(|(n, _)| n.clone()).unwrap_or_default(),
                r.attendance.first().map(|(_, p)| p.to_string()).unwrap_or_default(),
                r.disengaged().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join("; "),
                h.reasons.join("; "),
            ];
            out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        Ok(out.into_bytes())
    }

    /// Synthetic committees for the demo clusters, with a term of meetings recorded in full
    /// (see `meetings::demo`). Every name is synthetic.
    pub(crate) async fn seed_demo_committees(&self, authority: AuthorityId) -> ServiceResult<u64> {
        self.seed_demo_meetings(authority).await
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}

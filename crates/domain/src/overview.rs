//! The authority overview: schools and pupils by phase and district, and the spread of cluster sizes.

use crate::ids::{ClusterId, Urn};
use crate::school::{Phase, SchoolWithCensus};
use std::collections::{BTreeMap, HashMap};

/// Schools and pupils in one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub schools: u32,
    pub pupils: u64,
}

impl Tally {
    fn add(&mut self, pupils: u32) {
        self.schools += 1;
        self.pupils += u64::from(pupils);
    }
}

/// Cluster size bands, in pupils, against Norfolk's 2,500–5,000 target.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterSpread {
    pub clusters: u32,
    pub smallest: u64,
    pub median: u64,
    pub largest: u64,
    pub below_min: u32,
    pub within: u32,
    pub above_max: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Overview {
    pub all: Tally,
    pub state_funded: Tally,
    pub by_phase: Vec<(Phase, Tally)>,
    /// By district name (state-funded schools), alphabetical, "Unknown" last.
    pub by_district: Vec<(String, Tally)>,
    pub spread: ClusterSpread,
    /// State-funded open schools in no current cluster.
    pub unclustered_state_funded: u32,
}

/// Target band for a cluster's pupils (Norfolk's amalgamation goal).
pub const TARGET_MIN_PUPILS: u64 = 2_500;
pub const TARGET_MAX_PUPILS: u64 = 5_000;

pub fn overview(schools: &[SchoolWithCensus], current: &[(Urn, ClusterId)]) -> Overview {
    let mut o = Overview::default();
    let mut phase: BTreeMap<Phase, Tally> = BTreeMap::new();
    let mut district: BTreeMap<String, Tally> = BTreeMap::new();
    let cluster_of: HashMap<Urn, ClusterId> = current.iter().copied().collect();
    let mut cluster_pupils: BTreeMap<ClusterId, u64> = BTreeMap::new();
    for s in schools {
        let p = s.pupils();
        o.all.add(p);
        phase.entry(s.school.phase).or_default().add(p);
        if s.school.is_state_funded() {
            o.state_funded.add(p);
            let d = s
                .school
                .district
                .as_ref()
                .map_or_else(|| "Unknown".to_string(), |d| d.name.clone());
            district.entry(d).or_default().add(p);
            if s.school.status.is_open() && !cluster_of.contains_key(&s.school.urn) {
                o.unclustered_state_funded += 1;
            }
        }
        if let Some(c) = cluster_of.get(&s.school.urn) {
            *cluster_pupils.entry(*c).or_default() += u64::from(p);
        }
    }
    for (_, c) in current {
        cluster_pupils.entry(*c).or_default();
    }
    o.by_phase = phase.into_iter().collect();
    let mut by_district: Vec<(String, Tally)> = district.into_iter().collect();
    by_district.sort_by_key(|(name, _)| (name == "Unknown", name.clone()));
    o.by_district = by_district;
    let mut sizes: Vec<u64> = cluster_pupils.into_values().collect();
    sizes.sort_unstable();
    if let (Some(&first), Some(&last)) = (sizes.first(), sizes.last()) {
        o.spread = ClusterSpread {
            clusters: u32::try_from(sizes.len()).unwrap_or(u32::MAX),
            smallest: first,
            median: sizes[sizes.len() / 2],
            largest: last,
            below_min: count(&sizes, |s| s < TARGET_MIN_PUPILS),
            within: count(&sizes, |s| (TARGET_MIN_PUPILS..=TARGET_MAX_PUPILS).contains(&s)),
            above_max: count(&sizes, |s| s > TARGET_MAX_PUPILS),
        };
    }
    o
}

fn count(sizes: &[u64], f: impl Fn(u64) -> bool) -> u32 {
    u32::try_from(sizes.iter().filter(|&&s| f(s)).count()).unwrap_or(u32::MAX)
}

//! Figures, objective, soft-principle breaches and the hard-constraint checker for any
//! assignment — ours or a peer tool's, judged by the same rules.

use super::problem::Problem;
use super::search::Stats;
use super::{DesignError, DesignRequest, DistrictRule, StopReason};
use crate::ids::Urn;
use crate::school::Phase;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// One cluster of a map.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterFigures {
    /// Short id used in the assignment (`C01`…, or the lock's name).
    pub id: String,
    /// Readable name: the lock's name, or the hub's.
    pub name: String,
    /// The hub: the secondary school that minimises the cluster's travel (with penalties).
    /// `None` only in a checked map with no secondary in the cluster.
    pub hub: Option<Urn>,
    pub schools: Vec<Urn>,
    pub pupils: u64,
    pub schools_by_phase: Vec<(Phase, u32)>,
    /// Pupils known eligible for FSM over pupils, when every school gives a count.
    pub fsm_percent: Option<f64>,
    pub districts: Vec<String>,
    /// Longest travel from a member to the hub (km, or the matrix's unit).
    pub longest_travel: f64,
    /// Pupil-weighted travel to the hub.
    pub travel: f64,
}

/// The objective and its parts, all in pupil-km (or pupil × matrix unit).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Objective {
    pub total: f64,
    pub travel: f64,
    pub district_penalty: f64,
    pub division_penalty: f64,
    pub split_penalty: f64,
    pub cluster_count_penalty: f64,
}

/// A soft principle broken, by name.
#[derive(Debug, Clone, PartialEq)]
pub enum Breach {
    DistrictCrossing {
        cluster: String,
        urn: Urn,
        school: String,
        district: String,
        hub_district: String,
    },
    DivisionCrossing {
        cluster: String,
        urn: Urn,
        school: String,
        division: String,
        hub_division: String,
    },
    ExistingClusterSplit {
        existing: String,
        into: Vec<String>,
    },
    MoreClustersThanNeeded {
        clusters: usize,
        needed: usize,
    },
}

impl Breach {
    pub fn principle(&self) -> &'static str {
        match self {
            Breach::DistrictCrossing { .. } => "align with district boundaries",
            Breach::DivisionCrossing { .. } => "align with division boundaries",
            Breach::ExistingClusterSplit { .. } => "keep existing cluster-mates together",
            Breach::MoreClustersThanNeeded { .. } => "no more clusters than needed",
        }
    }
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breach::DistrictCrossing {
                cluster,
                urn,
                school,
                district,
                hub_district,
            } => write!(
                f,
                "{school} ({urn}) is in {district} but its cluster {cluster}'s hub is in {hub_district}"
            ),
            Breach::DivisionCrossing {
                cluster,
                urn,
                school,
                division,
                hub_division,
            } => write!(
                f,
                "{school} ({urn}) is in division {division} but its cluster {cluster}'s hub is in {hub_division}"
            ),
            Breach::ExistingClusterSplit { existing, into } => {
                write!(f, "existing cluster {existing} is split into {}", into.join(", "))
            }
            Breach::MoreClustersThanNeeded { clusters, needed } => {
                write!(f, "{clusters} clusters where {needed} would do")
            }
        }
    }
}

/// A hard constraint broken (never in a map the planner returns).
#[derive(Debug, Clone, PartialEq)]
pub enum HardViolation {
    Unassigned { urn: Urn },
    UnknownSchool { urn: Urn },
    ClusterCount { clusters: usize, min: usize, max: usize },
    TooFewPupils { cluster: String, pupils: u64, min: u64 },
    TooManyPupils { cluster: String, pupils: u64, max: u64 },
    NotContiguous { cluster: String, pieces: usize },
    NoSecondary { cluster: String },
    MustLinkSplit { schools: Vec<Urn>, clusters: Vec<String> },
    LockBroken { lock: String, detail: String },
    DistrictCrossed { cluster: String, districts: Vec<String> },
}

impl fmt::Display for HardViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HardViolation::Unassigned { urn } => write!(f, "school {urn} is in no cluster"),
            HardViolation::UnknownSchool { urn } => write!(f, "school {urn} is not in the request"),
            HardViolation::ClusterCount { clusters, min, max } => {
                write!(f, "{clusters} clusters, outside {min}..{max}")
            }
            HardViolation::TooFewPupils { cluster, pupils, min } => {
                write!(f, "cluster {cluster} has {pupils} pupils, below the floor {min}")
            }
            HardViolation::TooManyPupils { cluster, pupils, max } => {
                write!(f, "cluster {cluster} has {pupils} pupils, above the ceiling {max}")
            }
            HardViolation::NotContiguous { cluster, pieces } => {
                write!(f, "cluster {cluster} is in {pieces} separate pieces")
            }
            HardViolation::NoSecondary { cluster } => {
                write!(f, "cluster {cluster} has no state-funded secondary school")
            }
            HardViolation::MustLinkSplit { schools, clusters } => write!(
                f,
                "schools that must stay together ({}) are split across {}",
                schools.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                clusters.join(", ")
            ),
            HardViolation::LockBroken { lock, detail } => write!(f, "lock {lock}: {detail}"),
            HardViolation::DistrictCrossed { cluster, districts } => {
                write!(f, "cluster {cluster} crosses districts {}", districts.join(", "))
            }
        }
    }
}

impl HardViolation {
    /// A short code per kind, for counting.
    pub fn code(&self) -> &'static str {
        match self {
            HardViolation::Unassigned { .. } => "unassigned",
            HardViolation::UnknownSchool { .. } => "unknown_school",
            HardViolation::ClusterCount { .. } => "cluster_count",
            HardViolation::TooFewPupils { .. } => "below_floor",
            HardViolation::TooManyPupils { .. } => "above_ceiling",
            HardViolation::NotContiguous { .. } => "not_contiguous",
            HardViolation::NoSecondary { .. } => "no_secondary",
            HardViolation::MustLinkSplit { .. } => "must_link_split",
            HardViolation::LockBroken { .. } => "lock_broken",
            HardViolation::DistrictCrossed { .. } => "district_crossed",
        }
    }
}

/// A map judged: figures, objective, breaches and hard violations.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// School → cluster id, in request order.
    pub assignment: Vec<(Urn, String)>,
    pub clusters: Vec<ClusterFigures>,
    pub objective: Objective,
    pub breaches: Vec<Breach>,
    pub violations: Vec<HardViolation>,
}

/// A map the planner returns: valid by construction and re-checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    pub assignment: Vec<(Urn, String)>,
    pub clusters: Vec<ClusterFigures>,
    pub objective: Objective,
    pub breaches: Vec<Breach>,
    pub iterations: u64,
    pub epochs: u32,
    pub stop: StopReason,
    /// Building blocks after merging schools that stay together.
    pub units: usize,
    /// Edges of the unit neighbour graph.
    pub neighbour_edges: usize,
}

/// Judges any assignment of the request's schools (cluster labels are the caller's).
pub fn evaluate(request: &DesignRequest, assignment: &[(Urn, String)]) -> Result<Evaluation, DesignError> {
    let p = Problem::build(request)?;
    let index: HashMap<Urn, usize> = p.schools.iter().enumerate().map(|(i, s)| (s.urn, i)).collect();
    let mut labels: Vec<String> = Vec::new();
    let mut label_index: HashMap<&str, usize> = HashMap::new();
    let mut cluster_of = vec![None; p.schools.len()];
    let mut extra = Vec::new();
    for (urn, label) in assignment {
        let Some(&i) = index.get(urn) else {
            extra.push(HardViolation::UnknownSchool { urn: *urn });
            continue;
        };
        let next = labels.len();
        let c = *label_index.entry(label.as_str()).or_insert(next);
        if c == next {
            labels.push(label.clone());
        }
        cluster_of[i] = Some(c);
    }
    let mut e = judge(&p, &cluster_of, labels);
    e.violations.splice(0..0, extra);
    Ok(e)
}

/// The planner's answer, named and judged.
pub(crate) fn design(p: &Problem, unit_assign: &[usize], stats: Stats) -> Result<Design, DesignError> {
    let k = unit_assign.iter().copied().max().map_or(0, |m| m + 1);
    // Name clusters: the lock's name, else C01… in order of the hub's URN.
    let mut cluster_of: Vec<Option<usize>> = vec![None; p.schools.len()];
    for (u, &c) in unit_assign.iter().enumerate() {
        for &i in &p.units[u].schools {
            cluster_of[i] = Some(c);
        }
    }
    let provisional: Vec<String> = (0..k).map(|c| format!("#{c}")).collect();
    let first = judge(p, &cluster_of, provisional);
    let mut lock_of: Vec<Option<String>> = vec![None; k];
    for (i, s) in p.schools.iter().enumerate() {
        if let (Some(l), Some(c)) = (&s.lock, cluster_of[i]) {
            lock_of[c] = Some(l.clone());
        }
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by_key(|&c| first.clusters[c].hub);
    let mut labels = vec![String::new(); k];
    let mut n = 0;
    for c in order {
        labels[c] = match lock_of[c].take() {
            Some(l) => l,
            None => {
                n += 1;
                format!("C{n:02}")
            }
        };
    }
    let e = judge(p, &cluster_of, labels);
    if !e.violations.is_empty() {
        return Err(DesignError::NoValidMapFound {
            iterations: stats.iterations,
            remaining: e.violations.iter().map(ToString::to_string).collect(),
        });
    }
    Ok(Design {
        assignment: e.assignment,
        clusters: e.clusters,
        objective: e.objective,
        breaches: e.breaches,
        iterations: stats.iterations,
        epochs: stats.epochs,
        stop: stats.stop,
        units: p.units.len(),
        neighbour_edges: p.adjacency.iter().map(Vec::len).sum::<usize>() / 2,
    })
}

fn judge(p: &Problem, cluster_of: &[Option<usize>], labels: Vec<String>) -> Evaluation {
    let k = labels.len();
    let mut violations = Vec::new();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, c) in cluster_of.iter().enumerate() {
        match c {
            Some(c) => members[*c].push(i),
            None => violations.push(HardViolation::Unassigned { urn: p.schools[i].urn }),
        }
    }
    if k < p.min_clusters || k > p.max_clusters {
        violations.push(HardViolation::ClusterCount {
            clusters: k,
            min: p.min_clusters,
            max: p.max_clusters,
        });
    }
    // Must-link: a unit in more than one cluster.
    for unit in &p.units {
        let mut cs: Vec<usize> = unit.schools.iter().filter_map(|&i| cluster_of[i]).collect();
        cs.sort_unstable();
        cs.dedup();
        if cs.len() > 1 {
            violations.push(HardViolation::MustLinkSplit {
                schools: unit.schools.iter().map(|&i| p.schools[i].urn).collect(),
                clusters: cs.iter().map(|&c| labels[c].clone()).collect(),
            });
        }
    }
    // Locks: one lock, one cluster; one cluster, at most one lock.
    let mut lock_clusters: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in p.schools.iter().enumerate() {
        if let (Some(l), Some(c)) = (s.lock.as_deref(), cluster_of[i]) {
            let v = lock_clusters.entry(l).or_default();
            if !v.contains(&c) {
                v.push(c);
            }
        }
    }
    let mut locks_in: Vec<Vec<&str>> = vec![Vec::new(); k];
    for (l, cs) in &lock_clusters {
        if cs.len() > 1 {
            violations.push(HardViolation::LockBroken {
                lock: (*l).to_string(),
                detail: format!("its schools are in {} clusters", cs.len()),
            });
        }
        for &c in cs {
            locks_in[c].push(l);
        }
    }
    for (c, ls) in locks_in.iter().enumerate() {
        if ls.len() > 1 {
            violations.push(HardViolation::LockBroken {
                lock: ls.join(" + "),
                detail: format!("cluster {} holds more than one lock", labels[c]),
            });
        }
    }
    let w = &p.request.weights;
    let mut objective = Objective::default();
    let mut breaches = Vec::new();
    let mut clusters = Vec::with_capacity(k);
    for (c, ms) in members.iter().enumerate() {
        let label = &labels[c];
        let pupils: u64 = ms.iter().map(|&i| u64::from(p.schools[i].pupils)).sum();
        if pupils < p.min_pupils {
            violations.push(HardViolation::TooFewPupils {
                cluster: label.clone(),
                pupils,
                min: p.min_pupils,
            });
        }
        if pupils > p.max_pupils {
            violations.push(HardViolation::TooManyPupils {
                cluster: label.clone(),
                pupils,
                max: p.max_pupils,
            });
        }
        // Contiguity over the units the cluster holds.
        let mut units: Vec<usize> = ms.iter().map(|&i| p.unit_of[i]).collect();
        units.sort_unstable();
        units.dedup();
        let pieces = pieces(p, &units);
        if pieces > 1 {
            violations.push(HardViolation::NotContiguous {
                cluster: label.clone(),
                pieces,
            });
        }
        let candidates: Vec<usize> = ms
            .iter()
            .copied()
            .filter(|&i| p.schools[i].is_hub_candidate())
            .collect();
        if candidates.is_empty() {
            violations.push(HardViolation::NoSecondary { cluster: label.clone() });
        }
        let pool = if candidates.is_empty() { ms.clone() } else { candidates };
        let hub = pool
            .iter()
            .copied()
            .map(|h| (ms.iter().map(|&i| p.cost(i, h)).sum::<f64>(), h))
            .min_by(|a, b| a.0.total_cmp(&b.0).then(p.schools[a.1].urn.cmp(&p.schools[b.1].urn)))
            .map(|x| x.1);
        let mut districts: Vec<String> = ms
            .iter()
            .filter_map(|&i| p.district[i].map(|d| p.district_names[d as usize].clone()))
            .collect();
        districts.sort();
        districts.dedup();
        if p.request.constraints.districts == DistrictRule::Hard && districts.len() > 1 {
            violations.push(HardViolation::DistrictCrossed {
                cluster: label.clone(),
                districts: districts.clone(),
            });
        }
        let (mut travel, mut longest) = (0.0, 0.0f64);
        if let Some(h) = hub {
            for &i in ms {
                let t = p.travel(i, h);
                travel += f64::from(p.schools[i].pupils) * t;
                longest = longest.max(t);
                let s = &p.schools[i];
                if let (Some(a), Some(b)) = (p.district[i], p.district[h])
                    && a != b
                {
                    objective.district_penalty += p.w_district * f64::from(s.pupils);
                    if p.request.constraints.districts != DistrictRule::Off {
                        breaches.push(Breach::DistrictCrossing {
                            cluster: label.clone(),
                            urn: s.urn,
                            school: s.name.clone(),
                            district: p.district_names[a as usize].clone(),
                            hub_district: p.district_names[b as usize].clone(),
                        });
                    }
                }
                if let (Some(a), Some(b)) = (p.division[i], p.division[h])
                    && a != b
                {
                    objective.division_penalty += p.w_division * f64::from(s.pupils);
                    if p.request.constraints.districts != DistrictRule::Off {
                        breaches.push(Breach::DivisionCrossing {
                            cluster: label.clone(),
                            urn: s.urn,
                            school: s.name.clone(),
                            division: s.division.clone().unwrap_or_default(),
                            hub_division: p.schools[h].division.clone().unwrap_or_default(),
                        });
                    }
                }
            }
        }
        objective.travel += travel;
        let mut by_phase: BTreeMap<Phase, u32> = BTreeMap::new();
        for &i in ms {
            *by_phase.entry(p.schools[i].phase).or_default() += 1;
        }
        let fsm: Option<u64> = ms.iter().map(|&i| p.schools[i].fsm_count.map(u64::from)).sum();
        let mut urns: Vec<Urn> = ms.iter().map(|&i| p.schools[i].urn).collect();
        urns.sort_unstable();
        let locked = ms.iter().any(|&i| p.schools[i].lock.as_deref() == Some(label.as_str()));
        let name = match (locked, hub) {
            (true, _) => label.clone(),
            (false, Some(h)) => format!("{} cluster", p.schools[h].name),
            (false, None) => label.clone(),
        };
        clusters.push(ClusterFigures {
            id: label.clone(),
            name,
            hub: hub.map(|h| p.schools[h].urn),
            schools: urns,
            pupils,
            schools_by_phase: by_phase.into_iter().collect(),
            fsm_percent: fsm.filter(|_| pupils > 0).map(|f| f as f64 * 100.0 / pupils as f64),
            districts,
            longest_travel: longest,
            travel,
        });
    }
    // Existing clusters split.
    let mut split: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, e) in p.existing.iter().enumerate() {
        if let (Some(e), Some(c)) = (e, cluster_of[i]) {
            let v = split.entry(*e).or_default();
            if !v.contains(&c) {
                v.push(c);
            }
        }
    }
    for (e, cs) in split {
        if cs.len() > 1 {
            objective.split_penalty += w.split_per_piece * (cs.len() - 1) as f64;
            let mut into: Vec<String> = cs.iter().map(|&c| labels[c].clone()).collect();
            into.sort();
            breaches.push(Breach::ExistingClusterSplit {
                existing: p.existing_names[e as usize].clone(),
                into,
            });
        }
    }
    if k > p.clusters_needed {
        objective.cluster_count_penalty = w.per_extra_cluster * (k - p.clusters_needed) as f64;
        breaches.push(Breach::MoreClustersThanNeeded {
            clusters: k,
            needed: p.clusters_needed,
        });
    }
    objective.total = objective.travel
        + objective.district_penalty
        + objective.division_penalty
        + objective.split_penalty
        + objective.cluster_count_penalty;
    let assignment = p
        .schools
        .iter()
        .enumerate()
        .filter_map(|(i, s)| cluster_of[i].map(|c| (s.urn, labels[c].clone())))
        .collect();
    Evaluation {
        assignment,
        clusters,
        objective,
        breaches,
        violations,
    }
}

/// Connected pieces of a set of units in the unit graph.
fn pieces(p: &Problem, units: &[usize]) -> usize {
    let inside: HashMap<usize, usize> = units.iter().enumerate().map(|(k, &u)| (u, k)).collect();
    let mut seen = vec![false; units.len()];
    let mut count = 0;
    for s in 0..units.len() {
        if seen[s] {
            continue;
        }
        count += 1;
        seen[s] = true;
        let mut stack = vec![units[s]];
        while let Some(u) = stack.pop() {
            for v in &p.adjacency[u] {
                if let Some(&k) = inside.get(v)
                    && !seen[k]
                {
                    seen[k] = true;
                    stack.push(*v);
                }
            }
        }
    }
    count
}

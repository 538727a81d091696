//! The request turned into what the search works on: units (groups of schools that always move
//! together), their neighbour graph, components, interned names and the cost of serving a school
//! from a hub.

use super::graph::{find, neighbour_graph};
use super::{DesignError, DesignRequest, DistrictRule, Mode, Neighbours, PlannerSchool, Travel};
use std::collections::HashMap;

/// Schools that always share a cluster.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub schools: Vec<usize>,
    pub pupils: u64,
    /// Schools in the unit that can be a hub.
    pub hubs: Vec<usize>,
    pub lock: Option<u32>,
    /// Districts of the unit's schools (distinct, known ones only).
    pub districts: Vec<u32>,
    /// Pupil-weighted centre in km.
    pub x: f64,
    pub y: f64,
}

#[derive(Debug)]
pub(crate) struct Problem<'a> {
    pub schools: &'a [PlannerSchool],
    pub request: &'a DesignRequest,
    pub unit_of: Vec<usize>,
    pub units: Vec<Unit>,
    pub adjacency: Vec<Vec<usize>>,
    pub component: Vec<usize>,
    pub components: usize,
    pub district: Vec<Option<u32>>,
    pub district_names: Vec<String>,
    pub division: Vec<Option<u32>>,
    pub existing: Vec<Option<u32>>,
    pub existing_names: Vec<String>,
    /// School positions in km.
    pub xy: Vec<(f64, f64)>,
    /// Hub-candidate column of a school in the travel matrix.
    hub_column: Vec<usize>,
    hub_count: usize,
    matrix: Option<Vec<f64>>,
    pub w_district: f64,
    pub w_division: f64,
    pub min_pupils: u64,
    pub max_pupils: u64,
    pub min_clusters: usize,
    pub max_clusters: usize,
    pub total_pupils: u64,
    /// Fewest clusters the bounds allow: max(a, ⌈total / max⌉).
    pub clusters_needed: usize,
}

fn intern(names: &mut Vec<String>, index: &mut HashMap<String, u32>, name: &str) -> u32 {
    if let Some(&i) = index.get(name) {
        return i;
    }
    let i = names.len() as u32;
    names.push(name.to_string());
    index.insert(name.to_string(), i);
    i
}

impl<'a> Problem<'a> {
    pub(crate) fn build(request: &'a DesignRequest) -> Result<Problem<'a>, DesignError> {
        let schools = &request.schools[..];
        let c = &request.constraints;
        let invalid = |m: String| Err(DesignError::InvalidRequest(m));
        if schools.is_empty() {
            return invalid("no schools to plan".into());
        }
        if c.min_pupils > c.max_pupils {
            return invalid(format!(
                "the pupil floor {} is above the ceiling {}",
                c.min_pupils, c.max_pupils
            ));
        }
        if c.min_clusters > c.max_clusters || c.max_clusters == 0 {
            return invalid(format!(
                "the cluster range {}..{} is empty",
                c.min_clusters, c.max_clusters
            ));
        }
        let mut by_urn: HashMap<crate::ids::Urn, usize> = HashMap::with_capacity(schools.len());
        for (i, s) in schools.iter().enumerate() {
            if by_urn.insert(s.urn, i).is_some() {
                return invalid(format!("URN {} appears twice", s.urn));
            }
        }
        let n = schools.len();
        let (mut district_names, mut division_names, mut existing_names, mut lock_names) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut di, mut vi, mut ei, mut li) = (HashMap::new(), HashMap::new(), HashMap::new(), HashMap::new());
        let mut district = Vec::with_capacity(n);
        let mut division = Vec::with_capacity(n);
        let mut existing = Vec::with_capacity(n);
        let mut lock = Vec::with_capacity(n);
        for s in schools {
            district.push(s.district.as_deref().map(|d| intern(&mut district_names, &mut di, d)));
            division.push(s.division.as_deref().map(|d| intern(&mut division_names, &mut vi, d)));
            existing.push(
                s.existing_cluster
                    .as_deref()
                    .map(|d| intern(&mut existing_names, &mut ei, d)),
            );
            lock.push(s.lock.as_deref().map(|d| intern(&mut lock_names, &mut li, d)));
        }

        // Units: union-find over schools.
        let mut parent: Vec<usize> = (0..n).collect();
        let union = |parent: &mut Vec<usize>, a: usize, b: usize| {
            let (ra, rb) = (find(parent, a), find(parent, b));
            if ra != rb {
                parent[ra.max(rb)] = ra.min(rb);
            }
        };
        let mut first_at: HashMap<(i32, i32), usize> = HashMap::new();
        for (i, s) in schools.iter().enumerate() {
            let key = (s.location.easting, s.location.northing);
            let f = *first_at.entry(key).or_insert(i);
            union(&mut parent, f, i);
        }
        for group in &c.must_link {
            let mut first = None;
            for u in group {
                let Some(&i) = by_urn.get(u) else {
                    return invalid(format!("must-link group names unknown URN {u}"));
                };
                match first {
                    None => first = Some(i),
                    Some(f) => union(&mut parent, f, i),
                }
            }
        }
        let mut first_of_lock: HashMap<u32, usize> = HashMap::new();
        for (i, l) in lock.iter().enumerate() {
            if let Some(l) = l {
                let f = *first_of_lock.entry(*l).or_insert(i);
                union(&mut parent, f, i);
            }
        }
        if request.mode == Mode::Amalgamate {
            let mut first_of: HashMap<u32, usize> = HashMap::new();
            for (i, e) in existing.iter().enumerate() {
                if let Some(e) = e {
                    let f = *first_of.entry(*e).or_insert(i);
                    union(&mut parent, f, i);
                }
            }
        }
        let mut unit_index: HashMap<usize, usize> = HashMap::new();
        let mut unit_of = vec![0; n];
        let mut units: Vec<Unit> = Vec::new();
        let xy: Vec<(f64, f64)> = schools
            .iter()
            .map(|s| {
                (
                    f64::from(s.location.easting) / 1000.0,
                    f64::from(s.location.northing) / 1000.0,
                )
            })
            .collect();
        for i in 0..n {
            let r = find(&mut parent, i);
            let next = units.len();
            let u = *unit_index.entry(r).or_insert(next);
            if u == next {
                units.push(Unit {
                    schools: Vec::new(),
                    pupils: 0,
                    hubs: Vec::new(),
                    lock: None,
                    districts: Vec::new(),
                    x: 0.0,
                    y: 0.0,
                });
            }
            unit_of[i] = u;
            let unit = &mut units[u];
            unit.schools.push(i);
            unit.pupils += u64::from(schools[i].pupils);
            if schools[i].is_hub_candidate() {
                unit.hubs.push(i);
            }
            if lock[i].is_some() {
                unit.lock = lock[i];
            }
            if let Some(d) = district[i]
                && !unit.districts.contains(&d)
            {
                unit.districts.push(d);
            }
        }
        for unit in &mut units {
            let w: f64 = unit.schools.iter().map(|&i| f64::from(schools[i].pupils.max(1))).sum();
            unit.x = unit
                .schools
                .iter()
                .map(|&i| xy[i].0 * f64::from(schools[i].pupils.max(1)))
                .sum::<f64>()
                / w;
            unit.y = unit
                .schools
                .iter()
                .map(|&i| xy[i].1 * f64::from(schools[i].pupils.max(1)))
                .sum::<f64>()
                / w;
        }

        // School-level edges, then contracted onto units.
        let school_edges: Vec<(usize, usize)> = match &request.neighbours {
            Neighbours::Delaunay(rule) => {
                let locations: Vec<_> = schools.iter().map(|s| s.location).collect();
                let g = neighbour_graph(&locations, *rule);
                let mut rep = vec![usize::MAX; g.points.len()];
                for (i, &p) in g.point_of.iter().enumerate() {
                    if rep[p] == usize::MAX {
                        rep[p] = i;
                    }
                }
                g.edges.iter().map(|&(a, b)| (rep[a], rep[b])).collect()
            }
            Neighbours::Pairs(pairs) => {
                let mut out = Vec::with_capacity(pairs.len());
                for (a, b) in pairs {
                    match (by_urn.get(a), by_urn.get(b)) {
                        (Some(&x), Some(&y)) => out.push((x, y)),
                        _ => {
                            return invalid(format!("neighbour pair {a}–{b} names a school not in the request"));
                        }
                    }
                }
                out
            }
        };
        let hard = c.districts == DistrictRule::Hard;
        if hard {
            // A unit whose schools have no known district takes the nearest known school's, so
            // it can never bridge two districts.
            for unit in &mut units {
                if !unit.districts.is_empty() {
                    continue;
                }
                let nearest = (0..n)
                    .filter(|&j| district[j].is_some())
                    .map(|j| ((xy[j].0 - unit.x).powi(2) + (xy[j].1 - unit.y).powi(2), j))
                    .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                if let Some((_, j)) = nearest {
                    unit.districts = district[j].into_iter().collect();
                }
            }
        }
        let mut adjacency: Vec<Vec<usize>> = vec![Vec::new(); units.len()];
        for (a, b) in school_edges {
            let (ua, ub) = (unit_of[a], unit_of[b]);
            if ua == ub {
                continue;
            }
            if hard {
                let (da, db) = (&units[ua].districts, &units[ub].districts);
                if !da.is_empty() && !db.is_empty() && da != db {
                    continue;
                }
            }
            adjacency[ua].push(ub);
            adjacency[ub].push(ua);
        }
        for a in &mut adjacency {
            a.sort_unstable();
            a.dedup();
        }
        let mut component = vec![usize::MAX; units.len()];
        let mut components = 0;
        for start in 0..units.len() {
            if component[start] != usize::MAX {
                continue;
            }
            component[start] = components;
            let mut stack = vec![start];
            while let Some(u) = stack.pop() {
                for &v in &adjacency[u] {
                    if component[v] == usize::MAX {
                        component[v] = components;
                        stack.push(v);
                    }
                }
            }
            components += 1;
        }

        // Travel matrix.
        let mut hub_column = vec![usize::MAX; n];
        let mut hub_count = 0;
        for (i, s) in schools.iter().enumerate() {
            if s.is_hub_candidate() {
                hub_column[i] = hub_count;
                hub_count += 1;
            }
        }
        let matrix = match &request.travel {
            Travel::StraightLine => None,
            Travel::Matrix(triples) => {
                let mut m = vec![f64::NAN; n * hub_count];
                for (s, h, cost) in triples {
                    let (Some(&i), Some(&j)) = (by_urn.get(s), by_urn.get(h)) else {
                        return invalid(format!("travel matrix names unknown URN in {s}→{h}"));
                    };
                    if hub_column[j] == usize::MAX {
                        continue;
                    }
                    if !cost.is_finite() || *cost < 0.0 {
                        return invalid(format!("travel cost {s}→{h} is not a non-negative number"));
                    }
                    m[i * hub_count + hub_column[j]] = *cost;
                }
                let mut hubs_of_component: Vec<Vec<usize>> = vec![Vec::new(); components];
                for u in &units {
                    let comp = component[unit_of[u.schools[0]]];
                    hubs_of_component[comp].extend(u.hubs.iter().copied());
                }
                for i in 0..n {
                    for &h in &hubs_of_component[component[unit_of[i]]] {
                        if m[i * hub_count + hub_column[h]].is_nan() {
                            return invalid(format!(
                                "travel matrix has no cost from {} to hub {}",
                                schools[i].urn, schools[h].urn
                            ));
                        }
                    }
                }
                Some(m)
            }
        };
        let total_pupils: u64 = units.iter().map(|u| u.pupils).sum();
        let max_pupils = u64::from(c.max_pupils);
        let clusters_needed = (c.min_clusters as usize).max(total_pupils.div_ceil(max_pupils.max(1)) as usize);
        let (w_district, w_division) = match c.districts {
            DistrictRule::Soft => (request.weights.district_per_pupil, request.weights.division_per_pupil),
            DistrictRule::Hard => (0.0, request.weights.division_per_pupil),
            DistrictRule::Off => (0.0, 0.0),
        };
        Ok(Problem {
            schools,
            request,
            unit_of,
            units,
            adjacency,
            component,
            components,
            district,
            district_names,
            division,
            existing,
            existing_names,
            xy,
            hub_column,
            hub_count,
            matrix,
            w_district,
            w_division,
            min_pupils: u64::from(c.min_pupils),
            max_pupils,
            min_clusters: c.min_clusters as usize,
            max_clusters: c.max_clusters as usize,
            total_pupils,
            clusters_needed,
        })
    }

    /// Travel from school `i` to hub school `h` (km or the matrix's unit).
    pub(crate) fn travel(&self, i: usize, h: usize) -> f64 {
        match &self.matrix {
            Some(m) => m[i * self.hub_count + self.hub_column[h]],
            None => {
                let (a, b) = (self.xy[i], self.xy[h]);
                ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
            }
        }
    }

    /// The objective's cost of serving school `i` from hub `h`: pupils × (travel + penalties
    /// per pupil for being outside the hub's district or division).
    pub(crate) fn cost(&self, i: usize, h: usize) -> f64 {
        let mut per_pupil = self.travel(i, h);
        if let (Some(a), Some(b)) = (self.district[i], self.district[h])
            && a != b
        {
            per_pupil += self.w_district;
        }
        if let (Some(a), Some(b)) = (self.division[i], self.division[h])
            && a != b
        {
            per_pupil += self.w_division;
        }
        f64::from(self.schools[i].pupils) * per_pupil
    }

    /// Cost of a unit served from hub `h`.
    pub(crate) fn unit_cost(&self, u: usize, h: usize) -> f64 {
        self.units[u].schools.iter().map(|&i| self.cost(i, h)).sum()
    }
}

//! Construction and improvement: seeded regions around secondary schools merged to the cluster
//! count, then simulated annealing over contiguity-keeping boundary moves with hub re-selection.
//!
//! Energy = objective + λ × violation, where violation counts pupils outside [min, max] and
//! clusters holding more than one locked group. Moves never break contiguity or leave a cluster
//! without a secondary, so a map whose violation is zero breaks no hard constraint; only such maps
//! are kept as the best. λ starts above any travel a pupil could save and rises fourfold after
//! an epoch that found no valid map.

use super::problem::Problem;
use super::rng::Rng;
use super::{Budget, DesignError, Progress, StopReason};
use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Stats {
    pub iterations: u64,
    pub epochs: u32,
    pub stop: StopReason,
}

#[derive(Debug)]
pub(crate) struct Outcome {
    /// Unit → cluster (0..k).
    pub assign: Vec<usize>,
    pub stats: Stats,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Key(f64);
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Every unit joins the secondary-holding unit nearest along the graph (multi-source Dijkstra
/// over unit centres): regions are contiguous because each unit joins through a neighbour.
fn voronoi(p: &Problem) -> Vec<usize> {
    let n = p.units.len();
    let mut region = vec![usize::MAX; n];
    let mut dist = vec![f64::INFINITY; n];
    let mut heap = BinaryHeap::new();
    let mut seeds = 0;
    for (u, unit) in p.units.iter().enumerate() {
        if !unit.hubs.is_empty() {
            dist[u] = 0.0;
            region[u] = seeds;
            seeds += 1;
            heap.push(std::cmp::Reverse((Key(0.0), u)));
        }
    }
    let mut done = vec![false; n];
    while let Some(std::cmp::Reverse((Key(d), u))) = heap.pop() {
        if done[u] {
            continue;
        }
        done[u] = true;
        for &v in &p.adjacency[u] {
            if !p.units[v].hubs.is_empty() {
                continue;
            }
            let w = ((p.units[u].x - p.units[v].x).powi(2) + (p.units[u].y - p.units[v].y).powi(2)).sqrt();
            let nd = d + w;
            if nd < dist[v] || (nd == dist[v] && region[u] < region[v]) {
                dist[v] = nd;
                region[v] = region[u];
                heap.push(std::cmp::Reverse((Key(nd), v)));
            }
        }
    }
    region
}

/// A region while merging: its units, pupils and, for each hub candidate, the cost of serving
/// the whole region from it.
#[derive(Debug, Clone)]
struct Region {
    units: Vec<usize>,
    pupils: u64,
    locked: u32,
    hub_sums: Vec<(usize, f64)>,
    cost: f64,
    neighbours: BTreeSet<usize>,
    version: u32,
    alive: bool,
}

fn best_of(sums: &[(usize, f64)]) -> f64 {
    sums.iter().map(|s| s.1).fold(f64::INFINITY, f64::min)
}

/// Hub sums of A ∪ B.
fn merged_sums(p: &Problem, a: &Region, b: &Region) -> Vec<(usize, f64)> {
    let mut out = Vec::with_capacity(a.hub_sums.len() + b.hub_sums.len());
    for &(h, s) in &a.hub_sums {
        out.push((h, s + b.units.iter().map(|&u| p.unit_cost(u, h)).sum::<f64>()));
    }
    for &(h, s) in &b.hub_sums {
        out.push((h, s + a.units.iter().map(|&u| p.unit_cost(u, h)).sum::<f64>()));
    }
    out
}

const BIG: f64 = 1e15;

/// Constructions tried before giving up on finding a valid map.
const RESTARTS: u32 = 12;

/// Merges adjacent regions, cheapest first: regions under the floor first, then while there are
/// more than the most clusters allowed, then while a merge saves more than the price of a
/// cluster. Merges that would break the ceiling or join two locked groups come last and are made
/// only to reach the most clusters allowed.
fn agglomerate(p: &Problem, region_of: &[usize], rng: &mut Rng, spread: f64) -> Vec<usize> {
    let seeds = region_of
        .iter()
        .copied()
        .filter(|&r| r != usize::MAX)
        .max()
        .map_or(0, |m| m + 1);
    let mut regions: Vec<Region> = (0..seeds)
        .map(|_| Region {
            units: Vec::new(),
            pupils: 0,
            locked: 0,
            hub_sums: Vec::new(),
            cost: 0.0,
            neighbours: BTreeSet::new(),
            version: 0,
            alive: true,
        })
        .collect();
    for (u, &r) in region_of.iter().enumerate() {
        let reg = &mut regions[r];
        reg.units.push(u);
        reg.pupils += p.units[u].pupils;
        reg.locked += u32::from(p.units[u].lock.is_some());
        for &h in &p.units[u].hubs {
            reg.hub_sums.push((h, 0.0));
        }
    }
    for reg in &mut regions {
        for k in 0..reg.hub_sums.len() {
            let h = reg.hub_sums[k].0;
            reg.hub_sums[k].1 = reg.units.iter().map(|&u| p.unit_cost(u, h)).sum();
        }
        reg.cost = best_of(&reg.hub_sums);
    }
    for (u, adj) in p.adjacency.iter().enumerate() {
        for &v in adj {
            let (a, b) = (region_of[u], region_of[v]);
            if a != b {
                regions[a].neighbours.insert(b);
            }
        }
    }
    let noise: Vec<f64> = (0..seeds).map(|_| 1.0 - spread + 2.0 * spread * rng.unit()).collect();
    let key = |regions: &[Region], a: usize, b: usize| -> (f64, f64) {
        let (ra, rb) = (&regions[a], &regions[b]);
        let delta = best_of(&merged_sums(p, ra, rb)) - ra.cost - rb.cost;
        let mut k = delta * noise[a.min(b)];
        if ra.pupils + rb.pupils > p.max_pupils || ra.locked + rb.locked > 1 {
            k += BIG;
        } else if ra.pupils < p.min_pupils || rb.pupils < p.min_pupils {
            k -= BIG;
        }
        (k, delta)
    };
    let mut heap = BinaryHeap::new();
    for a in 0..seeds {
        for &b in &regions[a].neighbours {
            if a < b {
                let (k, _) = key(&regions, a, b);
                heap.push(std::cmp::Reverse((Key(k), a, b, 0u32, 0u32)));
            }
        }
    }
    let mut count = seeds;
    let w_count = p.request.weights.per_extra_cluster;
    while let Some(std::cmp::Reverse((Key(k), a, b, va, vb))) = heap.pop() {
        if !regions[a].alive || !regions[b].alive || regions[a].version != va || regions[b].version != vb {
            continue;
        }
        if count <= p.min_clusters {
            break;
        }
        let forced = count > p.max_clusters;
        let fixes_floor = k < -BIG / 2.0;
        let saves = k < BIG / 2.0 && count > p.clusters_needed && k < w_count;
        if !(forced || fixes_floor || saves) {
            break;
        }
        let sums = merged_sums(p, &regions[a], &regions[b]);
        let taken = std::mem::take(&mut regions[b].units);
        let nb = std::mem::take(&mut regions[b].neighbours);
        regions[b].alive = false;
        let (bp, bl) = (regions[b].pupils, regions[b].locked);
        {
            let ra = &mut regions[a];
            ra.units.extend(taken);
            ra.pupils += bp;
            ra.locked += bl;
            ra.cost = best_of(&sums);
            ra.hub_sums = sums;
            ra.version += 1;
            ra.neighbours.extend(nb);
            ra.neighbours.remove(&a);
            ra.neighbours.remove(&b);
        }
        count -= 1;
        let ns: Vec<usize> = regions[a].neighbours.iter().copied().collect();
        for n in ns {
            regions[n].neighbours.remove(&b);
            regions[n].neighbours.insert(a);
            let (x, y) = (a.min(n), a.max(n));
            let (k, _) = key(&regions, x, y);
            heap.push(std::cmp::Reverse((
                Key(k),
                x,
                y,
                regions[x].version,
                regions[y].version,
            )));
        }
    }
    let mut assign = vec![0; p.units.len()];
    for (id, reg) in regions.iter().filter(|r| r.alive).enumerate() {
        for &u in &reg.units {
            assign[u] = id;
        }
    }
    assign
}

/// The annealing state: clusters with their members, pupils and hub sums kept up to date.
#[derive(Debug, Clone)]
struct State<'p, 'a> {
    p: &'p Problem<'a>,
    assign: Vec<usize>,
    members: Vec<Vec<usize>>,
    position: Vec<usize>,
    pupils: Vec<u64>,
    hub_schools: Vec<usize>,
    locked: Vec<u32>,
    hub_sums: Vec<Vec<(usize, f64)>>,
    cost: Vec<f64>,
    /// Per existing cluster: (cluster, schools of it there).
    split: Vec<Vec<(usize, u32)>>,
    pieces: i64,
    travel: f64,
    violation: u64,
}

/// A unit's schools per existing cluster.
fn unit_existing(p: &Problem) -> Vec<Vec<(usize, u32)>> {
    p.units
        .iter()
        .map(|u| {
            let mut v: Vec<(usize, u32)> = Vec::new();
            for &i in &u.schools {
                if let Some(e) = p.existing[i] {
                    let e = e as usize;
                    match v.iter_mut().find(|x| x.0 == e) {
                        Some(x) => x.1 += 1,
                        None => v.push((e, 1)),
                    }
                }
            }
            v
        })
        .collect()
}

impl<'p, 'a> State<'p, 'a> {
    fn new(p: &'p Problem<'a>, assign: Vec<usize>, existing: &[Vec<(usize, u32)>]) -> Self {
        let k = assign.iter().copied().max().map_or(0, |m| m + 1);
        let mut s = State {
            p,
            members: vec![Vec::new(); k],
            position: vec![0; assign.len()],
            pupils: vec![0; k],
            hub_schools: vec![0; k],
            locked: vec![0; k],
            hub_sums: vec![Vec::new(); k],
            cost: vec![0.0; k],
            split: vec![Vec::new(); p.existing_names.len()],
            pieces: 0,
            travel: 0.0,
            violation: 0,
            assign,
        };
        for (u, unit_existing) in existing.iter().enumerate() {
            let c = s.assign[u];
            s.position[u] = s.members[c].len();
            s.members[c].push(u);
            s.pupils[c] += p.units[u].pupils;
            s.hub_schools[c] += p.units[u].hubs.len();
            s.locked[c] += u32::from(p.units[u].lock.is_some());
            for &(e, n) in unit_existing {
                match s.split[e].iter_mut().find(|x| x.0 == c) {
                    Some(x) => x.1 += n,
                    None => {
                        s.split[e].push((c, n));
                        s.pieces += 1;
                    }
                }
            }
        }
        for c in 0..k {
            let hubs: Vec<usize> = s.members[c]
                .iter()
                .flat_map(|&u| p.units[u].hubs.iter().copied())
                .collect();
            s.hub_sums[c] = hubs
                .into_iter()
                .map(|h| (h, s.members[c].iter().map(|&u| p.unit_cost(u, h)).sum()))
                .collect();
            s.cost[c] = best_of(&s.hub_sums[c]);
            s.travel += s.cost[c];
            s.violation += s.cluster_violation(c, s.pupils[c], s.locked[c]);
        }
        s
    }

    fn cluster_violation(&self, _c: usize, pupils: u64, locked: u32) -> u64 {
        let p = self.p;
        p.min_pupils.saturating_sub(pupils)
            + pupils.saturating_sub(p.max_pupils)
            + u64::from(locked.saturating_sub(1)) * p.max_pupils
    }

    fn objective(&self) -> f64 {
        let w = &self.p.request.weights;
        let k = self.members.len();
        let extra_pieces = self.pieces - self.split.iter().filter(|s| !s.is_empty()).count() as i64;
        self.travel
            + w.split_per_piece * extra_pieces as f64
            + w.per_extra_cluster * k.saturating_sub(self.p.clusters_needed) as f64
    }

    /// Whether removing `u` leaves its cluster connected.
    fn stays_connected(&self, u: usize, mark: &mut [u32], stamp: &mut u32) -> bool {
        let p = self.p;
        let c = self.assign[u];
        let size = self.members[c].len();
        let mut inside = p.adjacency[u].iter().filter(|&&v| self.assign[v] == c);
        let Some(&start) = inside.next() else {
            return size == 1;
        };
        if inside.next().is_none() {
            return true; // a leaf
        }
        *stamp += 1;
        let st = *stamp;
        mark[u] = st;
        mark[start] = st;
        let mut stack = vec![start];
        let mut seen = 1;
        while let Some(x) = stack.pop() {
            for &y in &p.adjacency[x] {
                if mark[y] != st && self.assign[y] == c {
                    mark[y] = st;
                    seen += 1;
                    stack.push(y);
                }
            }
        }
        seen == size - 1
    }

    /// Energy change of moving `u` to cluster `d`, with the new costs of both clusters.
    fn evaluate(
        &self,
        u: usize,
        d: usize,
        existing: &[Vec<(usize, u32)>],
        lambda: f64,
    ) -> Option<(f64, f64, f64, i64, i64)> {
        let p = self.p;
        let c = self.assign[u];
        let unit = &p.units[u];
        if self.hub_schools[c] == unit.hubs.len() {
            return None;
        }
        let new_c = self.hub_sums[c]
            .iter()
            .filter(|(h, _)| !unit.hubs.contains(h))
            .map(|&(h, s)| s - p.unit_cost(u, h))
            .fold(f64::INFINITY, f64::min);
        let mut new_d = self.hub_sums[d]
            .iter()
            .map(|&(h, s)| s + p.unit_cost(u, h))
            .fold(f64::INFINITY, f64::min);
        for &h in &unit.hubs {
            let s: f64 = self.members[d].iter().map(|&v| p.unit_cost(v, h)).sum::<f64>() + p.unit_cost(u, h);
            new_d = new_d.min(s);
        }
        let pu = unit.pupils;
        let lu = u32::from(unit.lock.is_some());
        let dv = self.cluster_violation(c, self.pupils[c] - pu, self.locked[c] - lu) as i64
            + self.cluster_violation(d, self.pupils[d] + pu, self.locked[d] + lu) as i64
            - self.cluster_violation(c, self.pupils[c], self.locked[c]) as i64
            - self.cluster_violation(d, self.pupils[d], self.locked[d]) as i64;
        let mut dpieces = 0i64;
        for &(e, n) in &existing[u] {
            if self.split[e].iter().any(|x| x.0 == c && x.1 == n) {
                dpieces -= 1;
            }
            if !self.split[e].iter().any(|x| x.0 == d) {
                dpieces += 1;
            }
        }
        let dtravel = new_c + new_d - self.cost[c] - self.cost[d];
        let w = p.request.weights.split_per_piece;
        let denergy = dtravel + w * dpieces as f64 + lambda * dv as f64;
        Some((denergy, new_c, new_d, dpieces, dv))
    }

    fn apply(&mut self, u: usize, d: usize, new_c: f64, new_d: f64, existing: &[Vec<(usize, u32)>]) {
        let p = self.p;
        let c = self.assign[u];
        let unit = &p.units[u];
        self.violation -= self.cluster_violation(c, self.pupils[c], self.locked[c])
            + self.cluster_violation(d, self.pupils[d], self.locked[d]);
        // Hub sums: C loses u's hubs and u's cost; D gains both.
        let mut cs = std::mem::take(&mut self.hub_sums[c]);
        cs.retain(|(h, _)| !unit.hubs.contains(h));
        for e in &mut cs {
            e.1 -= p.unit_cost(u, e.0);
        }
        self.hub_sums[c] = cs;
        let mut ds = std::mem::take(&mut self.hub_sums[d]);
        for e in &mut ds {
            e.1 += p.unit_cost(u, e.0);
        }
        for &h in &unit.hubs {
            let s: f64 = self.members[d].iter().map(|&v| p.unit_cost(v, h)).sum::<f64>() + p.unit_cost(u, h);
            ds.push((h, s));
        }
        self.hub_sums[d] = ds;
        // Members.
        let pos = self.position[u];
        self.members[c].swap_remove(pos);
        if let Some(&moved) = self.members[c].get(pos) {
            self.position[moved] = pos;
        }
        self.position[u] = self.members[d].len();
        self.members[d].push(u);
        self.assign[u] = d;
        let pu = unit.pupils;
        let lu = u32::from(unit.lock.is_some());
        self.pupils[c] -= pu;
        self.pupils[d] += pu;
        self.locked[c] -= lu;
        self.locked[d] += lu;
        self.hub_schools[c] -= unit.hubs.len();
        self.hub_schools[d] += unit.hubs.len();
        self.travel += new_c + new_d - self.cost[c] - self.cost[d];
        self.cost[c] = new_c;
        self.cost[d] = new_d;
        for &(e, n) in &existing[u] {
            let list = &mut self.split[e];
            if let Some(i) = list.iter().position(|x| x.0 == c) {
                list[i].1 -= n;
                if list[i].1 == 0 {
                    list.swap_remove(i);
                    self.pieces -= 1;
                }
            }
            match list.iter_mut().find(|x| x.0 == d) {
                Some(x) => x.1 += n,
                None => {
                    list.push((d, n));
                    self.pieces += 1;
                }
            }
        }
        self.violation += self.cluster_violation(c, self.pupils[c], self.locked[c])
            + self.cluster_violation(d, self.pupils[d], self.locked[d]);
    }

    fn remaining(&self) -> Vec<String> {
        let p = self.p;
        let mut out = Vec::new();
        for c in 0..self.members.len() {
            let hub = self.hub_sums[c]
                .iter()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|&(h, _)| p.schools[h].name.clone())
                .unwrap_or_default();
            if self.pupils[c] < p.min_pupils {
                out.push(format!(
                    "the cluster around {hub} has {} pupils, below the floor {}",
                    self.pupils[c], p.min_pupils
                ));
            }
            if self.pupils[c] > p.max_pupils {
                out.push(format!(
                    "the cluster around {hub} has {} pupils, above the ceiling {}",
                    self.pupils[c], p.max_pupils
                ));
            }
            if self.locked[c] > 1 {
                out.push(format!(
                    "the cluster around {hub} holds {} locked groups",
                    self.locked[c]
                ));
            }
        }
        out
    }
}

/// Everything the annealing loop shares across epochs.
struct Search<'k> {
    rng: Rng,
    iterations: u64,
    epochs: u32,
    budget: Budget,
    keep_going: &'k mut dyn FnMut(&Progress) -> bool,
    stopped: Option<StopReason>,
    best_ever: Option<f64>,
}

impl Search<'_> {
    /// Anneals from `start` for epochs until `patience` epochs bring nothing better. Returns
    /// the best valid map found (with its objective) or, if none, the least violating state's
    /// remaining breaches.
    fn anneal(
        &mut self,
        p: &Problem,
        start: Vec<usize>,
        existing: &[Vec<(usize, u32)>],
    ) -> Result<(Vec<usize>, f64), Vec<String>> {
        let n = p.units.len();
        let mut state = State::new(p, start, existing);
        let mut best: Option<(Vec<usize>, f64)> = None;
        if state.violation == 0 {
            best = Some((state.assign.clone(), state.objective()));
        }
        let scale = travel_scale(p);
        let mut lambda = 2.0 * scale;
        let mut mark = vec![0u32; n];
        let mut stamp = 0u32;
        let length = (u64::from(self.budget.moves_per_unit) * n as u64).max(100_000);
        let mut quiet = 0;
        let mut least_violation = (state.violation, state.remaining());
        if n < 2 || state.members.len() < 2 {
            return best.ok_or(least_violation.1);
        }
        // Starting temperature: the median worsening among sampled moves.
        let mut ups = Vec::new();
        for _ in 0..400 {
            let u = self.rng.below(n);
            if p.adjacency[u].is_empty() {
                continue;
            }
            let v = p.adjacency[u][self.rng.below(p.adjacency[u].len())];
            let d = state.assign[v];
            if d == state.assign[u] {
                continue;
            }
            if let Some((de, ..)) = state.evaluate(u, d, existing, 0.0)
                && de > 0.0
            {
                ups.push(de);
            }
        }
        ups.sort_by(f64::total_cmp);
        let t0 = ups.get(ups.len() / 2).copied().unwrap_or(scale).max(1e-9);
        loop {
            let before = best.as_ref().map(|b| b.1);
            let t_end = t0 * 1e-3;
            let cooling = (t_end / t0).powf(1.0 / length as f64);
            let mut t = t0;
            for _ in 0..length {
                t *= cooling;
                self.iterations += 1;
                if self.iterations.is_multiple_of(4096) {
                    let progress = Progress {
                        iterations: self.iterations,
                        epochs: self.epochs,
                        clusters: state.members.len() as u32,
                        best_objective: match (self.best_ever, best.as_ref().map(|b| b.1)) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        },
                    };
                    if !(self.keep_going)(&progress) {
                        self.stopped = Some(StopReason::Callback);
                    }
                }
                if self.iterations >= self.budget.max_iterations {
                    self.stopped = Some(StopReason::IterationBudget);
                }
                if self.stopped.is_some() {
                    break;
                }
                let u = self.rng.below(n);
                let adj = &p.adjacency[u];
                if adj.is_empty() {
                    continue;
                }
                let d = state.assign[adj[self.rng.below(adj.len())]];
                if d == state.assign[u] {
                    continue;
                }
                let Some((de, new_c, new_d, _, _)) = state.evaluate(u, d, existing, lambda) else {
                    continue;
                };
                if de > 0.0 && self.rng.unit() >= (-de / t).exp() {
                    continue;
                }
                if !state.stays_connected(u, &mut mark, &mut stamp) {
                    continue;
                }
                state.apply(u, d, new_c, new_d, existing);
                if state.violation == 0 {
                    let obj = state.objective();
                    if best.as_ref().is_none_or(|b| obj < b.1 - 1e-9 * b.1.abs().max(1.0)) {
                        best = Some((state.assign.clone(), obj));
                    }
                } else if state.violation < least_violation.0 {
                    least_violation = (state.violation, state.remaining());
                }
            }
            self.epochs += 1;
            if self.stopped.is_some() {
                break;
            }
            let after = best.as_ref().map(|b| b.1);
            // An epoch that improves the best by less than 0.01 % counts as quiet.
            let improved = match (before, after) {
                (None, Some(_)) => true,
                (Some(x), Some(y)) => y < x - 1e-4 * x.abs().max(1.0),
                _ => false,
            };
            if improved {
                quiet = 0;
            } else {
                quiet += 1;
                if quiet >= self.budget.patience {
                    break;
                }
            }
            match &best {
                // Restart from the best valid map (and clear float drift).
                Some((assign, _)) => state = State::new(p, assign.clone(), existing),
                None => lambda *= 4.0,
            }
        }
        best.ok_or(least_violation.1)
    }
}

/// Roughly the longest travel one pupil could have: the price of one pupil of violation is twice
/// this, so fixing a bound is always worth more than the travel it costs.
fn travel_scale(p: &Problem) -> f64 {
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(x, y) in &p.xy {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let diag = ((x1 - x0).powi(2) + (y1 - y0).powi(2)).sqrt();
    let mut scale = diag + p.w_district + p.w_division;
    if !matches!(p.request.travel, super::Travel::StraightLine) {
        let hubs: Vec<usize> = p.units.iter().flat_map(|u| u.hubs.iter().copied()).collect();
        for i in 0..p.schools.len() {
            for &h in &hubs {
                let t = p.travel(i, h);
                if t.is_finite() {
                    scale = scale.max(t + p.w_district + p.w_division);
                }
            }
        }
    }
    scale.max(1.0)
}

/// Merges the cheapest adjacent pairs of clusters that fit under the ceiling (disjoint pairs
/// whose merge costs less than a cluster's price, or else the single cheapest), for a try at
/// fewer clusters. `None` when no pair fits.
fn merge_pairs(p: &Problem, assign: &[usize], existing: &[Vec<(usize, u32)>]) -> Option<Vec<usize>> {
    let state = State::new(p, assign.to_vec(), existing);
    let k = state.members.len();
    if k <= p.min_clusters {
        return None;
    }
    let mut pairs: BTreeSet<(usize, usize)> = BTreeSet::new();
    for (u, adj) in p.adjacency.iter().enumerate() {
        for &v in adj {
            let (a, b) = (assign[u], assign[v]);
            if a < b {
                pairs.insert((a, b));
            }
        }
    }
    let mut scored: Vec<(f64, usize, usize)> = Vec::new();
    for (a, b) in pairs {
        if state.pupils[a] + state.pupils[b] > p.max_pupils || state.locked[a] + state.locked[b] > 1 {
            continue;
        }
        let mut best = f64::INFINITY;
        for &(h, _) in state.hub_sums[a].iter().chain(&state.hub_sums[b]) {
            let s: f64 = state.members[a]
                .iter()
                .chain(&state.members[b])
                .map(|&u| p.unit_cost(u, h))
                .sum();
            best = best.min(s);
        }
        scored.push((best - state.cost[a] - state.cost[b], a, b));
    }
    scored.sort_by(|x, y| x.0.total_cmp(&y.0).then((x.1, x.2).cmp(&(y.1, y.2))));
    let first = *scored.first()?;
    let w = p.request.weights.per_extra_cluster;
    let mut used = vec![false; k];
    let mut target: Vec<usize> = (0..k).collect();
    let mut merged = 0;
    for &(delta, a, b) in &scored {
        if k - merged <= p.min_clusters.max(p.clusters_needed) || delta >= w {
            break;
        }
        if used[a] || used[b] {
            continue;
        }
        used[a] = true;
        used[b] = true;
        target[b] = a;
        merged += 1;
    }
    if merged == 0 {
        target[first.2] = first.1;
    }
    let mut id = vec![usize::MAX; k];
    let mut next = 0;
    Some(
        assign
            .iter()
            .map(|&c| {
                let t = target[c];
                if id[t] == usize::MAX {
                    id[t] = next;
                    next += 1;
                }
                id[t]
            })
            .collect(),
    )
}

/// Tries fewer clusters (merging the cheapest neighbours, then annealing) while that lowers
/// the objective.
fn fewer_clusters(
    p: &Problem,
    search: &mut Search,
    mut best: (Vec<usize>, f64),
    existing: &[Vec<(usize, u32)>],
) -> (Vec<usize>, f64) {
    while search.stopped.is_none() {
        let Some(trial) = merge_pairs(p, &best.0, existing) else {
            break;
        };
        match search.anneal(p, trial, existing) {
            Ok(b) if b.1 < best.1 - 1e-9 * best.1.abs().max(1.0) => best = b,
            _ => break,
        }
    }
    best
}

pub(crate) fn run(
    p: &Problem,
    budget: Budget,
    keep_going: &mut dyn FnMut(&Progress) -> bool,
) -> Result<Outcome, DesignError> {
    let rng = Rng::new(p.request.seed);
    let regions = voronoi(p);
    let existing = unit_existing(p);
    let mut search = Search {
        rng,
        iterations: 0,
        epochs: 0,
        budget,
        keep_going,
        stopped: None,
        best_ever: None,
    };
    // Construct and anneal; when no valid map comes of it, construct again with more noise in
    // the merge order (a different start, often a different cluster count). Then more starts,
    // keeping the best, until `budget.starts` starts have run or the caller says stop.
    let mut best: Option<(Vec<usize>, f64)> = None;
    let mut last_failure = Vec::new();
    let mut starts = 0;
    let mut failures = 0;
    while starts < budget.starts.max(1) && search.stopped.is_none() {
        let spread = if starts == 0 && failures == 0 { 0.1 } else { 0.5 };
        let start = agglomerate(p, &regions, &mut search.rng, spread);
        match search.anneal(p, start, &existing) {
            Ok(found) => {
                starts += 1;
                let found = fewer_clusters(p, &mut search, found, &existing);
                if best.as_ref().is_none_or(|b| found.1 < b.1) {
                    search.best_ever = Some(found.1);
                    best = Some(found);
                }
            }
            Err(remaining) => {
                last_failure = remaining;
                failures += 1;
                if best.is_none() && failures >= RESTARTS {
                    break;
                }
                if failures >= RESTARTS + budget.starts {
                    break;
                }
            }
        }
    }
    let Some(best) = best else {
        return Err(DesignError::NoValidMapFound {
            iterations: search.iterations,
            remaining: last_failure,
        });
    };
    Ok(Outcome {
        assign: best.0,
        stats: Stats {
            iterations: search.iterations,
            epochs: search.epochs,
            stop: search.stopped.unwrap_or(StopReason::Converged),
        },
    })
}

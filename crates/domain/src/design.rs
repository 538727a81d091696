//! The boundary planner (capability 2, issue 3): draws a cluster map under hard constraints.
//!
//! Pure and deterministic: schools, constraints, weights and a seed come in; an assignment of
//! schools to clusters, the figures of every cluster, the objective and every soft-principle
//! breach come out. The search is *anytime*: it builds a valid map, then improves it while the
//! caller's `keep_going` callback says yes (the CLI closes it over a clock; the domain never reads
//! one) or until an iteration budget or convergence. Same request, seed and iteration count →
//! the same answer.
//!
//! How it works (see `design/search.rs`):
//! 1. Schools become *units*: schools on one point (a shared postcode), federations, schools
//!    locked to one named cluster and, in amalgamate mode, whole existing clusters are merged into
//!    one unit that always moves as a whole.
//! 2. A neighbour graph (`design/graph.rs`: Delaunay triangulation of the distinct points, long
//!    edges pruned, the minimum spanning tree always kept) is contracted onto the units.
//! 3. Infeasibility is detected before searching (`design/feasibility.rs`), naming the
//!    constraint, the place and what would relax it.
//! 4. Construction: every unit with a secondary seeds a region; the rest join the region nearest
//!    along the graph (regions are contiguous by construction); adjacent regions are merged,
//!    cheapest first, until the cluster count and the pupil floor are met.
//! 5. Improvement: simulated annealing over boundary moves that keep every cluster contiguous
//!    (checked by a search inside the cluster that loses the unit), keep a secondary in every
//!    cluster and re-select each cluster's hub, with a price on pupils outside [min, max] that
//!    drives the map into the bounds; only maps that break no hard constraint are kept as best.
//!    Once converged at *k* clusters it tries *k − 1* (merging the cheapest neighbours) while
//!    that lowers the objective.
//! 6. Several independent starts (a different merge order each) run in turn and the best map is
//!    kept; a start that finds no valid map is replaced by another, up to a fixed number, and
//!    only then is the request reported as unanswered, with what the closest attempt broke.

pub mod cells;
pub mod compare;
mod feasibility;
mod graph;
mod problem;
mod report;
pub(crate) mod rng;
mod search;

pub use graph::{NeighbourGraph, PruneRule, neighbour_graph};
pub use report::{Breach, ClusterFigures, Design, Evaluation, HardViolation, Objective, evaluate};

use crate::geo::Location;
use crate::ids::Urn;
use crate::school::Phase;
use std::fmt;

/// One school as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannerSchool {
    pub urn: Urn,
    pub name: String,
    pub location: Location,
    pub pupils: u32,
    pub phase: Phase,
    pub state_funded: bool,
    /// Local authority district (code or name); `None` when unknown.
    pub district: Option<String>,
    /// Operational division (a grouping of districts); `None` when not used.
    pub division: Option<String>,
    /// The cluster the school belongs to today, if any.
    pub existing_cluster: Option<String>,
    /// Pupils known to be eligible for free school meals, when known.
    pub fsm_count: Option<u32>,
    /// Locked to the cluster of this name: schools with one lock share a cluster, schools with
    /// different locks never do, and the cluster takes the lock's name.
    pub lock: Option<String>,
}

impl PlannerSchool {
    /// Whether the school can be a cluster's hub: a state-funded secondary or all-through school.
    pub fn is_hub_candidate(&self) -> bool {
        self.state_funded && self.phase.is_secondary_anchor()
    }
}

/// What the planner moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Whole existing clusters are the building blocks (schools without one move alone).
    Amalgamate,
    /// Schools are the building blocks.
    Redraw,
}

/// How district boundaries are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistrictRule {
    /// A cluster never crosses a district boundary (a school with no district fits anywhere).
    Hard,
    /// Crossing is allowed at a price per pupil outside the hub's district.
    Soft,
    /// Districts are ignored.
    Off,
}

/// The hard constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraints {
    pub min_pupils: u32,
    pub max_pupils: u32,
    pub min_clusters: u32,
    pub max_clusters: u32,
    pub districts: DistrictRule,
    /// Groups of schools that must share a cluster (federations, chosen pairs). Schools on one
    /// point (a shared postcode: infant and junior schools on one site) always do.
    pub must_link: Vec<Vec<Urn>>,
}

/// Prices of the soft principles, in pupil-km (the unit of the travel objective).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Per pupil of a school outside its hub's district (when districts are soft).
    pub district_per_pupil: f64,
    /// Per pupil of a school outside its hub's division.
    pub division_per_pupil: f64,
    /// Per extra piece an existing cluster is split into.
    pub split_per_piece: f64,
    /// Per cluster above the fewest the pupil ceiling allows.
    pub per_extra_cluster: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            district_per_pupil: 2.0,
            division_per_pupil: 1.0,
            split_per_piece: 1_000.0,
            per_extra_cluster: 5_000.0,
        }
    }
}

/// Where the neighbour graph comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Neighbours {
    /// Built from the schools' coordinates.
    Delaunay(PruneRule),
    /// Supplied as pairs of neighbouring schools.
    Pairs(Vec<(Urn, Urn)>),
}

/// How travel from a school to its hub is measured.
#[derive(Debug, Clone, PartialEq)]
pub enum Travel {
    /// Straight-line kilometres.
    StraightLine,
    /// A supplied matrix: (school, hub secondary, cost) triples, e.g. minutes by road. Every
    /// school needs a cost to every hub candidate in its component.
    Matrix(Vec<(Urn, Urn, f64)>),
}

/// Everything the planner needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DesignRequest {
    pub schools: Vec<PlannerSchool>,
    pub mode: Mode,
    pub constraints: Constraints,
    pub weights: Weights,
    pub neighbours: Neighbours,
    pub travel: Travel,
    pub seed: u64,
}

/// Limits on the search besides the caller's callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Hard cap on local-search moves tried.
    pub max_iterations: u64,
    /// Annealing moves per unit in one epoch (one cooling run).
    pub moves_per_unit: u32,
    /// Stop after this many epochs in a row without a better map.
    pub patience: u32,
    /// Independent starts (constructions with a different merge order), the best kept.
    pub starts: u32,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_iterations: u64::MAX,
            moves_per_unit: 400,
            patience: 3,
            starts: 8,
        }
    }
}

/// What the search reports as it goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub iterations: u64,
    pub epochs: u32,
    pub clusters: u32,
    /// Objective of the best valid map so far.
    pub best_objective: Option<f64>,
}

/// Why the search stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// No better map for `patience` epochs: more time would not have changed the answer.
    Converged,
    /// The iteration cap.
    IterationBudget,
    /// The caller's callback said stop (a time limit).
    Callback,
}

impl StopReason {
    pub fn code(self) -> &'static str {
        match self {
            StopReason::Converged => "converged",
            StopReason::IterationBudget => "iteration_budget",
            StopReason::Callback => "time_limit",
        }
    }
}

/// One reason the request cannot be answered: the constraint, where, and what would relax it.
#[derive(Debug, Clone, PartialEq)]
pub struct Infeasibility {
    pub constraint: &'static str,
    pub place: String,
    pub detail: String,
    pub relax: String,
}

impl fmt::Display for Infeasibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}; to relax: {}",
            self.constraint, self.place, self.detail, self.relax
        )
    }
}

/// Why no map was returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DesignError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("infeasible: {}", list(.0))]
    Infeasible(Vec<Infeasibility>),
    #[error(
        "no valid map found within the budget ({iterations} moves); closest attempt still breaks: {}",
        .remaining.join("; ")
    )]
    NoValidMapFound { iterations: u64, remaining: Vec<String> },
}

fn list(items: &[Infeasibility]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(" | ")
}

/// Draws a cluster map. `keep_going` is called every few thousand moves with the progress so
/// far; returning `false` stops the search and returns the best valid map found.
pub fn plan(
    request: &DesignRequest,
    budget: Budget,
    keep_going: &mut dyn FnMut(&Progress) -> bool,
) -> Result<Design, DesignError> {
    let problem = problem::Problem::build(request)?;
    feasibility::check(&problem)?;
    let outcome = search::run(&problem, budget, keep_going)?;
    report::design(&problem, &outcome.assign, outcome.stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn school(urn: u32, e: i32, pupils: u32, phase: Phase) -> PlannerSchool {
        PlannerSchool {
            urn: Urn::from_u32(urn).expect("urn"),
            name: format!("S{urn}"),
            location: Location {
                easting: e,
                northing: 0,
                latitude: None,
                longitude: None,
            },
            pupils,
            phase,
            state_funded: true,
            district: None,
            division: None,
            existing_cluster: None,
            fsm_count: None,
            lock: None,
        }
    }

    /// A line of schools joined by supplied pairs (each to the next).
    fn line(schools: Vec<PlannerSchool>, min: u32, max: u32, a: u32, b: u32) -> DesignRequest {
        let pairs = schools.windows(2).map(|w| (w[0].urn, w[1].urn)).collect();
        DesignRequest {
            schools,
            mode: Mode::Redraw,
            constraints: Constraints {
                min_pupils: min,
                max_pupils: max,
                min_clusters: a,
                max_clusters: b,
                districts: DistrictRule::Off,
                must_link: Vec::new(),
            },
            weights: Weights::default(),
            neighbours: Neighbours::Pairs(pairs),
            travel: Travel::StraightLine,
            seed: 1,
        }
    }

    fn constraints_named(req: &DesignRequest) -> Vec<&'static str> {
        match plan(req, Budget::default(), &mut |_| true) {
            Err(DesignError::Infeasible(r)) => r.iter().map(|x| x.constraint).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn infeasible_requests_name_the_constraint() {
        use Phase::{Primary as P, Secondary as S};
        let four = || {
            vec![
                school(100_001, 0, 900, S),
                school(100_002, 1000, 300, P),
                school(100_003, 2000, 900, S),
                school(100_004, 3000, 300, P),
            ]
        };
        let cases: Vec<(&str, DesignRequest, &str)> = vec![
            (
                "floor × fewest",
                line(four(), 1000, 2000, 3, 3),
                "pupil floor × fewest clusters",
            ),
            (
                "ceiling × most",
                line(four(), 100, 500, 1, 2),
                "pupil ceiling × most clusters",
            ),
            (
                "too few secondaries",
                line(four(), 100, 2400, 3, 4),
                "a secondary school in every cluster",
            ),
            (
                "must-link over the ceiling",
                {
                    let mut r = line(four(), 100, 1000, 1, 2);
                    r.constraints.must_link = vec![vec![r.schools[0].urn, r.schools[1].urn]];
                    r
                },
                "pupil ceiling",
            ),
            (
                "isolated school without a secondary",
                {
                    let mut r = line(four(), 100, 2400, 1, 2);
                    r.neighbours = Neighbours::Pairs(vec![
                        (r.schools[0].urn, r.schools[1].urn),
                        (r.schools[1].urn, r.schools[2].urn),
                    ]);
                    r
                },
                "a secondary school in every cluster",
            ),
            (
                "a part below the floor",
                {
                    let mut r = line(four(), 1100, 2400, 1, 2);
                    r.neighbours = Neighbours::Pairs(vec![
                        (r.schools[1].urn, r.schools[2].urn),
                        (r.schools[2].urn, r.schools[3].urn),
                    ]);
                    r
                },
                "pupil floor",
            ),
        ];
        for (what, req, want) in cases {
            let named = constraints_named(&req);
            assert!(named.contains(&want), "{what}: {named:?}");
        }
    }

    #[test]
    fn an_isolated_school_is_named_as_such() {
        let mut r = line(
            vec![
                school(100_001, 0, 900, Phase::Secondary),
                school(100_002, 5000, 300, Phase::Primary),
            ],
            100,
            2000,
            1,
            2,
        );
        r.neighbours = Neighbours::Pairs(Vec::new());
        let Err(DesignError::Infeasible(reasons)) = plan(&r, Budget::default(), &mut |_| true) else {
            panic!("answered");
        };
        assert!(
            reasons.iter().any(|x| x.place.starts_with("isolated school S100002")),
            "{reasons:?}"
        );
    }

    #[test]
    fn a_small_line_splits_where_it_should() {
        use Phase::{Primary as P, Secondary as S};
        // Two towns: secondary + primaries at 0–2 km and at 20–22 km.
        let schools = vec![
            school(100_001, 0, 800, S),
            school(100_002, 1000, 200, P),
            school(100_003, 2000, 200, P),
            school(100_004, 20_000, 200, P),
            school(100_005, 21_000, 200, P),
            school(100_006, 22_000, 800, S),
        ];
        let req = line(schools, 1000, 1400, 2, 2);
        let d = plan(&req, Budget::default(), &mut |_| true).expect("a map");
        let cluster: Vec<&str> = d.assignment.iter().map(|(_, c)| c.as_str()).collect();
        assert_eq!(cluster, ["C01", "C01", "C01", "C02", "C02", "C02"]);
        // Travel: 200 × 1 + 200 × 2 on each side = 1,200 pupil-km.
        assert!((d.objective.travel - 1200.0).abs() < 1e-9, "{:?}", d.objective);
        assert_eq!(d.clusters[0].pupils, 1200);
        assert_eq!(d.clusters[0].longest_travel, 2.0);
    }

    #[test]
    fn the_callback_stops_the_search_and_a_valid_map_is_still_returned() {
        use Phase::{Primary as P, Secondary as S};
        let schools = (0..40)
            .map(|i| school(100_000 + i, i as i32 * 1000, 300, if i % 5 == 0 { S } else { P }))
            .collect();
        let req = line(schools, 1200, 3000, 4, 8);
        let mut calls = 0;
        let d = plan(&req, Budget::default(), &mut |_| {
            calls += 1;
            calls < 3
        })
        .expect("a map");
        assert_eq!(d.stop, StopReason::Callback);
        assert!(evaluate(&req, &d.assignment).expect("evaluates").violations.is_empty());
    }
}

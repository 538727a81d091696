//! Design scenarios (issue 3, in the product): an authority officer chooses the boundary
//! planner's parameters, the planner runs on the register (schools with their latest census,
//! today's memberships as the existing map), the scenario is stored with its map and figures,
//! compared with other scenarios or the current map, and adopted as new dated memberships.
//!
//! Who may do what: authority officers run and adopt; advisers and evaluators view; everyone
//! else is refused. Runs are CPU-bound: [`ScenarioJob::run`] puts the engine on tokio's blocking
//! pool with the scenario's own time limit (at most [`MAX_TIME_LIMIT_S`]), never on the async
//! executor's threads.

use crate::store::WriteCounts;
use crate::{Service, ServiceError, ServiceResult};
use domain::NaiveDate;
use domain::access::{User, UserRole};
use domain::cluster::MembershipRole;
use domain::design::compare::changes;
use domain::design::{
    Budget, Constraints, Design, DesignError, DesignRequest, DistrictRule, Mode, Neighbours, Objective, PlannerSchool,
    PruneRule, Travel, Weights, evaluate, plan,
};
use domain::geo::{LayerKind, Location};
use domain::ids::{AuthorityId, Urn, UserId};
use domain::school::{Phase, SchoolWithCensus, Tenths};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

/// The longest a run may search for.
pub const MAX_TIME_LIMIT_S: u32 = 60;
/// A run still marked running this long after its time limit was interrupted (the server
/// stopped while it ran).
const INTERRUPTED_AFTER_S: i64 = 300;
/// Phases an officer may leave out of a scenario.
pub const EXCLUDABLE_PHASES: [Phase; 3] = [Phase::Special, Phase::AlternativeProvision, Phase::Nursery];

/// A stored scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScenarioId(pub i64);

impl fmt::Display for ScenarioId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Whether a role may see design scenarios.
pub fn may_view(role: UserRole) -> bool {
    matches!(
        role,
        UserRole::AuthorityOfficer | UserRole::Adviser | UserRole::Evaluator
    )
}

/// Whether a role may run and adopt design scenarios.
pub fn may_run(role: UserRole) -> bool {
    role == UserRole::AuthorityOfficer
}

fn require_view(user: &User) -> ServiceResult<()> {
    if may_view(user.role) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!(
            "a {} may not see cluster design scenarios",
            user.role.label().to_lowercase()
        )))
    }
}

fn require_run(user: &User, action: &str) -> ServiceResult<()> {
    if may_run(user.role) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!(
            "only an authority officer may {action}"
        )))
    }
}

pub fn mode_code(mode: Mode) -> &'static str {
    match mode {
        Mode::Redraw => "redraw",
        Mode::Amalgamate => "amalgamate",
    }
}

pub fn parse_mode(code: &str) -> Option<Mode> {
    match code {
        "redraw" => Some(Mode::Redraw),
        "amalgamate" => Some(Mode::Amalgamate),
        _ => None,
    }
}

pub fn mode_label(mode: Mode) -> &'static str {
    match mode {
        Mode::Redraw => "Redraw from schools",
        Mode::Amalgamate => "Amalgamate whole clusters",
    }
}

pub fn districts_code(rule: DistrictRule) -> &'static str {
    match rule {
        DistrictRule::Hard => "hard",
        DistrictRule::Soft => "soft",
        DistrictRule::Off => "off",
    }
}

pub fn parse_districts(code: &str) -> Option<DistrictRule> {
    match code {
        "hard" => Some(DistrictRule::Hard),
        "soft" => Some(DistrictRule::Soft),
        "off" => Some(DistrictRule::Off),
        _ => None,
    }
}

pub fn districts_label(rule: DistrictRule) -> &'static str {
    match rule {
        DistrictRule::Hard => "Never cross a district boundary",
        DistrictRule::Soft => "Cross district boundaries only at a price",
        DistrictRule::Off => "Ignore districts",
    }
}

/// The planner's parameters, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioParameters {
    pub name: String,
    pub mode: Mode,
    pub min_pupils: u32,
    pub max_pupils: u32,
    pub min_clusters: u32,
    pub max_clusters: u32,
    pub districts: DistrictRule,
    pub seed: u32,
    pub time_limit_s: u32,
    /// Stop after this many moves (a reproducible run); `None`: the time limit decides.
    pub max_iterations: Option<u64>,
    pub excluded_phases: Vec<Phase>,
    pub excluded_urns: Vec<Urn>,
    /// Groups of schools that must share a cluster (a federation, an infant and junior pair).
    pub must_link: Vec<Vec<Urn>>,
    /// Schools locked together under a name (e.g. a special-interest cluster): schools with one
    /// lock share a cluster, schools with different locks never do.
    pub locks: Vec<(Urn, String)>,
}

/// Most must-stay-together groups and locked schools a form may give.
pub const MAX_GROUPS: usize = 200;
pub const MAX_LOCKS: usize = 500;

/// The form as typed: every field a string, so it can be shown again with its errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioInput {
    pub name: String,
    pub mode: String,
    pub min_pupils: String,
    pub max_pupils: String,
    pub min_clusters: String,
    pub max_clusters: String,
    pub districts: String,
    pub seed: String,
    pub time_limit: String,
    pub max_iterations: String,
    pub exclude_phases: Vec<String>,
    pub exclude_urns: String,
    /// One group per line, URNs separated by commas or spaces.
    pub must_link: String,
    /// One school per line: its URN, a comma, and the name of the cluster it is locked to.
    pub locks: String,
}

impl Default for ScenarioInput {
    /// Norfolk's targets: 2,500–5,000 pupils, 22–32 clusters, districts at a price.
    fn default() -> Self {
        ScenarioInput {
            name: String::new(),
            mode: "redraw".into(),
            min_pupils: "2500".into(),
            max_pupils: "5000".into(),
            min_clusters: "22".into(),
            max_clusters: "32".into(),
            districts: "soft".into(),
            seed: "1".into(),
            time_limit: "10".into(),
            max_iterations: String::new(),
            exclude_phases: Vec::new(),
            exclude_urns: String::new(),
            must_link: String::new(),
            locks: String::new(),
        }
    }
}

/// A form field at fault (its id) and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

fn whole(text: &str) -> Option<u64> {
    let t: String = text.chars().filter(|c| !matches!(c, ',' | ' ' | '_')).collect();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) || t.len() > 12 {
        return None;
    }
    t.parse().ok()
}

impl ScenarioInput {
    /// Checks every field and returns the parameters, or every field at fault.
    pub fn validate(&self) -> Result<ScenarioParameters, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field: &'static str, message: String| errors.push(FieldError { field, message });
        let name = self.name.trim().to_string();
        if name.is_empty() {
            fail("name", "Enter a name for the scenario".into());
        } else if name.chars().count() > 100 {
            fail("name", "The name must be 100 characters or fewer".into());
        }
        let mode = parse_mode(self.mode.trim());
        if mode.is_none() {
            fail(
                "mode",
                "Choose whether to redraw from schools or amalgamate whole clusters".into(),
            );
        }
        let mut number = |field: &'static str, text: &str, what: &str, range: (u64, u64)| -> Option<u64> {
            match whole(text) {
                Some(n) if (range.0..=range.1).contains(&n) => Some(n),
                Some(_) => {
                    fail(
                        field,
                        format!(
                            "{what} must be between {} and {}",
                            thousands(range.0),
                            thousands(range.1)
                        ),
                    );
                    None
                }
                None if text.trim().is_empty() => {
                    fail(field, format!("Enter {}", what.to_lowercase()));
                    None
                }
                None => {
                    fail(
                        field,
                        format!("{what} must be a whole number, like {}", thousands(range.0.max(1) * 10)),
                    );
                    None
                }
            }
        };
        let min_pupils = number(
            "min_pupils",
            &self.min_pupils,
            "The smallest cluster (pupils)",
            (1, 1_000_000),
        );
        let max_pupils = number(
            "max_pupils",
            &self.max_pupils,
            "The largest cluster (pupils)",
            (1, 1_000_000),
        );
        let min_clusters = number("min_clusters", &self.min_clusters, "The fewest clusters", (1, 500));
        let max_clusters = number("max_clusters", &self.max_clusters, "The most clusters", (1, 500));
        let seed = number("seed", &self.seed, "The seed", (0, u64::from(u32::MAX)));
        let time_limit = number(
            "time_limit",
            &self.time_limit,
            "The time limit (seconds)",
            (1, u64::from(MAX_TIME_LIMIT_S)),
        );
        let max_iterations = if self.max_iterations.trim().is_empty() {
            Some(None)
        } else {
            number(
                "max_iterations",
                &self.max_iterations,
                "The move limit",
                (1_000, 100_000_000),
            )
            .map(Some)
        };
        if let (Some(a), Some(b)) = (min_pupils, max_pupils)
            && b < a
        {
            fail(
                "max_pupils",
                format!("The largest cluster must be at least the smallest ({})", thousands(a)),
            );
        }
        if let (Some(a), Some(b)) = (min_clusters, max_clusters)
            && b < a
        {
            fail(
                "max_clusters",
                format!("The most clusters must be at least the fewest ({a})"),
            );
        }
        let districts = parse_districts(self.districts.trim());
        if districts.is_none() {
            fail("districts", "Choose how district boundaries are treated".into());
        }
        let mut excluded_phases = Vec::new();
        for code in &self.exclude_phases {
            match Phase::from_code(code.trim()).filter(|p| EXCLUDABLE_PHASES.contains(p)) {
                Some(p) if !excluded_phases.contains(&p) => excluded_phases.push(p),
                Some(_) => {}
                None => fail("exclude_phases", "Choose from the kinds of school listed".into()),
            }
        }
        let mut excluded_urns = Vec::new();
        for word in self
            .exclude_urns
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty())
        {
            match Urn::parse(word) {
                Ok(u) if !excluded_urns.contains(&u) => excluded_urns.push(u),
                Ok(_) => {}
                Err(_) => {
                    fail(
                        "exclude_urns",
                        format!(
                            "Schools to leave out: “{}” is not a URN (6 digits)",
                            word.chars().take(20).collect::<String>()
                        ),
                    );
                    break;
                }
            }
        }
        if excluded_urns.len() > 500 {
            fail("exclude_urns", "Leave out at most 500 schools by URN".into());
        }
        let mut must_link: Vec<Vec<Urn>> = Vec::new();
        let mut linked: BTreeSet<Urn> = BTreeSet::new();
        for (n, line) in self.must_link.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let mut group = Vec::new();
            let mut bad = None;
            for word in line
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|w| !w.is_empty())
            {
                match Urn::parse(word) {
                    Ok(u) if !group.contains(&u) => group.push(u),
                    Ok(_) => {}
                    Err(_) => {
                        bad = Some(format!(
                            "Schools that stay together, line {}: “{}” is not a URN (6 digits)",
                            n + 1,
                            word.chars().take(20).collect::<String>()
                        ));
                        break;
                    }
                }
            }
            if let Some(message) = bad {
                fail("must_link", message);
                break;
            }
            if group.len() < 2 {
                fail(
                    "must_link",
                    format!("Schools that stay together, line {}: give at least two URNs", n + 1),
                );
                break;
            }
            if let Some(u) = group.iter().find(|u| !linked.insert(**u)) {
                fail(
                    "must_link",
                    format!(
                        "Schools that stay together, line {}: URN {u} is in another group too; join the groups into one line",
                        n + 1
                    ),
                );
                break;
            }
            must_link.push(group);
        }
        if must_link.len() > MAX_GROUPS {
            fail(
                "must_link",
                format!("Give at most {MAX_GROUPS} groups of schools that stay together"),
            );
        }
        let mut locks: Vec<(Urn, String)> = Vec::new();
        for (n, line) in self.locks.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let (first, rest) = line.trim().split_once(',').unwrap_or((line.trim(), ""));
            let label = rest.trim();
            match Urn::parse(first.trim()) {
                Err(_) => {
                    fail(
                        "locks",
                        format!(
                            "Locked schools, line {}: “{}” is not a URN (6 digits); write the URN, a comma, then the cluster's name",
                            n + 1,
                            first.trim().chars().take(20).collect::<String>()
                        ),
                    );
                    break;
                }
                Ok(_) if label.is_empty() || label.chars().count() > 60 || label.chars().any(char::is_control) => {
                    fail(
                        "locks",
                        format!(
                            "Locked schools, line {}: after the URN and a comma, name the cluster it is locked to (at most 60 characters)",
                            n + 1
                        ),
                    );
                    break;
                }
                Ok(u) if locks.iter().any(|(l, _)| *l == u) => {
                    fail(
                        "locks",
                        format!("Locked schools, line {}: URN {u} is locked twice", n + 1),
                    );
                    break;
                }
                Ok(u) => locks.push((u, label.to_string())),
            }
        }
        if locks.len() > MAX_LOCKS {
            fail("locks", format!("Lock at most {MAX_LOCKS} schools"));
        }
        if let Some((u, _)) = locks.iter().find(|(u, _)| excluded_urns.contains(u)) {
            fail("locks", format!("URN {u} is both locked and left out: choose one"));
        }
        if let Some(u) = linked.iter().find(|u| excluded_urns.contains(u)) {
            fail(
                "must_link",
                format!("URN {u} must stay with others but is left out: choose one"),
            );
        }
        match (
            mode,
            min_pupils,
            max_pupils,
            min_clusters,
            max_clusters,
            districts,
            seed,
            time_limit,
            max_iterations,
        ) {
            (Some(mode), Some(a), Some(b), Some(c), Some(d), Some(districts), Some(seed), Some(t), Some(cap))
                if errors.is_empty() =>
            {
                let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
                Ok(ScenarioParameters {
                    name,
                    mode,
                    min_pupils: small(a),
                    max_pupils: small(b),
                    min_clusters: small(c),
                    max_clusters: small(d),
                    districts,
                    seed: small(seed),
                    time_limit_s: small(t),
                    max_iterations: cap,
                    excluded_phases,
                    excluded_urns,
                    must_link,
                    locks,
                })
            }
            _ => Err(errors),
        }
    }
}

impl ScenarioParameters {
    /// The form filled in with these parameters (to run a variant).
    pub fn input(&self) -> ScenarioInput {
        ScenarioInput {
            name: self.name.clone(),
            mode: mode_code(self.mode).into(),
            min_pupils: self.min_pupils.to_string(),
            max_pupils: self.max_pupils.to_string(),
            min_clusters: self.min_clusters.to_string(),
            max_clusters: self.max_clusters.to_string(),
            districts: districts_code(self.districts).into(),
            seed: self.seed.to_string(),
            time_limit: self.time_limit_s.to_string(),
            max_iterations: self.max_iterations.map(|n| n.to_string()).unwrap_or_default(),
            exclude_phases: self.excluded_phases.iter().map(|p| p.code().to_string()).collect(),
            exclude_urns: self
                .excluded_urns
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            must_link: self
                .must_link
                .iter()
                .map(|g| g.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
                .collect::<Vec<_>>()
                .join("\n"),
            locks: self
                .locks
                .iter()
                .map(|(u, l)| format!("{u}, {l}"))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Where a scenario's run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioStatus {
    Running,
    /// A valid map was found.
    Done,
    /// No map: infeasible, none found within the budget, or interrupted.
    Failed,
}

impl ScenarioStatus {
    pub fn code(self) -> &'static str {
        match self {
            ScenarioStatus::Running => "running",
            ScenarioStatus::Done => "done",
            ScenarioStatus::Failed => "failed",
        }
    }
    pub fn parse(code: &str) -> Option<Self> {
        [ScenarioStatus::Running, ScenarioStatus::Done, ScenarioStatus::Failed]
            .into_iter()
            .find(|s| s.code() == code)
    }
}

/// What kind of thing a finding reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// A soft principle broken by a map.
    Breach,
    /// A hard constraint broken (only ever by a map the planner did not draw: today's).
    Violation,
    /// Why no map can meet the constraints.
    Infeasible,
    /// Why the run gave no map otherwise.
    Error,
}

impl FindingKind {
    pub fn code(self) -> &'static str {
        match self {
            FindingKind::Breach => "breach",
            FindingKind::Violation => "violation",
            FindingKind::Infeasible => "infeasible",
            FindingKind::Error => "error",
        }
    }
    pub fn parse(code: &str) -> Option<Self> {
        [
            FindingKind::Breach,
            FindingKind::Violation,
            FindingKind::Infeasible,
            FindingKind::Error,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

/// A principle or constraint, by name, and what broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    pub principle: String,
    pub detail: String,
}

/// One cluster of a scenario's map, with the figures the planner reported.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioCluster {
    /// The label in the assignment (`C01`…).
    pub label: String,
    /// Readable name (after the hub).
    pub name: String,
    pub hub: Option<Urn>,
    pub pupils: u64,
    pub schools: u32,
    pub by_phase: Vec<(Phase, u32)>,
    /// FSM-eligible pupils over pupils, when every member gives a count.
    pub fsm_pct: Option<Tenths>,
    pub districts: Vec<String>,
    /// Longest straight-line distance from a member to the hub, in metres.
    pub longest_m: u64,
    /// Pupil-weighted distance to the hub, in pupil-km.
    pub travel: f64,
}

/// How the search went.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFigures {
    pub iterations: u64,
    /// `converged`, `iteration_budget` or `time_limit` (empty when there was no search).
    pub stop: String,
    pub elapsed_ms: u64,
    /// Present when a map was found.
    pub objective: Option<Objective>,
}

/// A scenario as first saved, before its run.
#[derive(Debug, Clone, PartialEq)]
pub struct NewScenario {
    pub params: ScenarioParameters,
    pub illustrative: bool,
    pub ran_by: Option<UserId>,
    pub ran_by_name: String,
    pub started_at: i64,
    /// Schools and pupils the planner was given.
    pub schools: u32,
    pub pupils: u64,
}

/// The result of a run, saved whole.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioOutcome {
    pub status: ScenarioStatus,
    pub finished_at: i64,
    pub run: RunFigures,
    pub clusters: Vec<ScenarioCluster>,
    /// School → cluster label, by URN.
    pub assignment: Vec<(Urn, String)>,
    pub findings: Vec<Finding>,
}

/// When and by whom a scenario became the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    /// The first day of the new memberships (the old ones end the day before).
    pub effective: NaiveDate,
    pub by_name: String,
    pub at: i64,
}

/// What the store needs to adopt a scenario in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdoption {
    pub adoption: Adoption,
    pub by: Option<UserId>,
    /// New clusters by name, with their members and roles.
    pub clusters: Vec<(String, Vec<(Urn, MembershipRole)>)>,
}

/// A scenario in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioSummary {
    pub id: ScenarioId,
    pub params: ScenarioParameters,
    pub illustrative: bool,
    pub status: ScenarioStatus,
    pub ran_by_name: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub schools: u32,
    pub pupils: u64,
    /// Clusters in the map (0 without one).
    pub clusters: u32,
    pub objective: Option<f64>,
    pub adoption: Option<Adoption>,
}

/// A scenario with its map.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioRecord {
    pub summary: ScenarioSummary,
    pub run: Option<RunFigures>,
    pub clusters: Vec<ScenarioCluster>,
    pub assignment: Vec<(Urn, String)>,
    pub findings: Vec<Finding>,
}

/// A school as a map of a scenario draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedSchool {
    pub urn: Urn,
    pub name: String,
    pub phase: Phase,
    pub location: Location,
    /// The cluster label on this map.
    pub cluster: Option<String>,
    pub hub: bool,
}

/// A scenario's page: the record, and its schools placed on the map.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioView {
    pub record: ScenarioRecord,
    pub schools: Vec<PlacedSchool>,
    pub may_adopt: bool,
}

/// Progress of a running search, reported from the engine's callback.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunProgress {
    pub iterations: u64,
    pub clusters: u32,
    pub best_objective: Option<f64>,
    pub elapsed: Duration,
    pub limit: Duration,
    pub max_iterations: Option<u64>,
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum MapChoice {
    /// Today's memberships.
    Current,
    Scenario(ScenarioId),
}

impl MapChoice {
    /// `current` or a scenario number.
    pub fn parse(text: &str) -> Option<MapChoice> {
        match text.trim() {
            "current" => Some(MapChoice::Current),
            t => t
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .map(|n| MapChoice::Scenario(ScenarioId(n))),
        }
    }
    pub fn code(&self) -> String {
        match self {
            MapChoice::Current => "current".into(),
            MapChoice::Scenario(id) => id.to_string(),
        }
    }
}

/// A map as the comparison shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MapSide {
    pub choice: MapChoice,
    pub title: String,
    pub scenario: Option<ScenarioSummary>,
    pub clusters: Vec<ScenarioCluster>,
    pub objective: Objective,
    /// Breaches, and for today's map the hard constraints it breaks.
    pub findings: Vec<Finding>,
    pub schools: Vec<PlacedSchool>,
}

/// A school that changes cluster, by cluster name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolMove {
    pub urn: Urn,
    pub name: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Two maps side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub a: MapSide,
    pub b: MapSide,
    pub moves: Vec<SchoolMove>,
    pub stayed: usize,
    /// Per principle (or hard constraint): how many findings each side has.
    pub principles: Vec<(String, usize, usize)>,
    /// The scenario whose parameters today's map is judged by, when one side is today's map.
    pub judged_by: Option<String>,
    /// Cluster label of B → label of the A cluster it continues (for matching colours).
    pub continues: BTreeMap<String, String>,
}

/// What adopting did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdoptionReport {
    pub effective: NaiveDate,
    pub counts: WriteCounts,
}

/// A run ready to go: the scenario is saved as running; [`ScenarioJob::run`] searches and saves
/// the outcome.
#[derive(Debug)]
pub struct ScenarioJob {
    service: Service,
    authority: AuthorityId,
    id: ScenarioId,
    request: DesignRequest,
    budget: Budget,
    limit: Duration,
}

fn milli(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn rounded(o: &Objective) -> Objective {
    Objective {
        total: milli(o.total),
        travel: milli(o.travel),
        district_penalty: milli(o.district_penalty),
        division_penalty: milli(o.division_penalty),
        split_penalty: milli(o.split_penalty),
        cluster_count_penalty: milli(o.cluster_count_penalty),
    }
}

/// The principle a hard-constraint code stands for.
fn violation_principle(code: &str) -> &'static str {
    match code {
        "below_floor" => "pupils per cluster at least the smallest size",
        "above_ceiling" => "pupils per cluster at most the largest size",
        "cluster_count" => "number of clusters within the range",
        "not_contiguous" => "clusters are geographically coherent",
        "no_secondary" => "a secondary school in every cluster",
        "unassigned" => "every school in a cluster",
        "must_link_split" => "schools on one site stay together",
        "district_crossed" => "no cluster crosses a district boundary",
        "lock_broken" => "locked schools",
        _ => "hard constraint",
    }
}

fn cluster_of_figures(f: &domain::design::ClusterFigures, fsm: &HashMap<Urn, Option<u32>>) -> ScenarioCluster {
    let fsm_count: Option<u64> = f
        .schools
        .iter()
        .map(|u| fsm.get(u).copied().flatten().map(u64::from))
        .sum();
    ScenarioCluster {
        label: f.id.clone(),
        name: f.name.clone(),
        hub: f.hub,
        pupils: f.pupils,
        schools: u32::try_from(f.schools.len()).unwrap_or(u32::MAX),
        by_phase: f.schools_by_phase.clone(),
        fsm_pct: fsm_count
            .and_then(|c| Tenths::from_ratio_percent(i64::try_from(c).ok()?, i64::try_from(f.pupils).ok()?)),
        districts: f.districts.clone(),
        longest_m: (f.longest_travel * 1000.0).round().max(0.0) as u64,
        travel: milli(f.travel),
    }
}

fn breach_findings(breaches: &[domain::design::Breach]) -> Vec<Finding> {
    breaches
        .iter()
        .map(|b| Finding {
            kind: FindingKind::Breach,
            principle: b.principle().to_string(),
            detail: b.to_string(),
        })
        .collect()
}

fn outcome_of(
    request: &DesignRequest,
    result: Result<Design, DesignError>,
    elapsed: Duration,
    now: i64,
) -> ScenarioOutcome {
    let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    let failed = |iterations: u64, findings: Vec<Finding>| ScenarioOutcome {
        status: ScenarioStatus::Failed,
        finished_at: now,
        run: RunFigures {
            iterations,
            stop: String::new(),
            elapsed_ms,
            objective: None,
        },
        clusters: Vec::new(),
        assignment: Vec::new(),
        findings,
    };
    match result {
        Ok(design) => {
            let fsm: HashMap<Urn, Option<u32>> = request.schools.iter().map(|s| (s.urn, s.fsm_count)).collect();
            let mut assignment = design.assignment.clone();
            assignment.sort();
            ScenarioOutcome {
                status: ScenarioStatus::Done,
                finished_at: now,
                run: RunFigures {
                    iterations: design.iterations,
                    stop: design.stop.code().to_string(),
                    elapsed_ms,
                    objective: Some(rounded(&design.objective)),
                },
                clusters: design.clusters.iter().map(|c| cluster_of_figures(c, &fsm)).collect(),
                assignment,
                findings: breach_findings(&design.breaches),
            }
        }
        Err(DesignError::Infeasible(reasons)) => failed(
            0,
            reasons
                .iter()
                .map(|r| Finding {
                    kind: FindingKind::Infeasible,
                    principle: r.constraint.to_string(),
                    detail: format!("{}: {}. To relax: {}.", r.place, r.detail, r.relax),
                })
                .collect(),
        ),
        Err(DesignError::NoValidMapFound { iterations, remaining }) => failed(
            iterations,
            std::iter::once(Finding {
                kind: FindingKind::Error,
                principle: "no valid map found within the time or move limit".into(),
                detail: format!(
                    "after {} moves the closest attempt still broke {} hard constraint(s); allow more time, or relax the bounds",
                    thousands(iterations),
                    remaining.len()
                ),
            })
            .chain(remaining.into_iter().map(|r| Finding {
                kind: FindingKind::Violation,
                principle: "closest attempt".into(),
                detail: r,
            }))
            .collect(),
        ),
        Err(DesignError::InvalidRequest(m)) => failed(
            0,
            vec![Finding {
                kind: FindingKind::Error,
                principle: "the request could not be planned".into(),
                detail: m,
            }],
        ),
    }
}

impl ScenarioJob {
    pub fn id(&self) -> ScenarioId {
        self.id
    }

    /// Searches on tokio's blocking pool, reporting progress from the engine's callback, then
    /// saves the outcome. Returns the final status.
    pub async fn run<F>(self, mut progress: F) -> ServiceResult<ScenarioStatus>
    where
        F: FnMut(&RunProgress) + Send + 'static,
    {
        let ScenarioJob {
            service,
            authority,
            id,
            request,
            budget,
            limit,
        } = self;
        let max_iterations = (budget.max_iterations != u64::MAX).then_some(budget.max_iterations);
        let joined = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let result = plan(&request, budget, &mut |p| {
                progress(&RunProgress {
                    iterations: p.iterations,
                    clusters: p.clusters,
                    best_objective: p.best_objective,
                    elapsed: started.elapsed(),
                    limit,
                    max_iterations,
                });
                started.elapsed() < limit
            });
            let elapsed = started.elapsed();
            (request, result, elapsed)
        })
        .await;
        let now = service.clock.now();
        let outcome = match joined {
            Ok((request, result, elapsed)) => outcome_of(&request, result, elapsed, now),
            Err(e) => {
                tracing::error!(cause = %e, scenario = id.0, "design run stopped");
                ScenarioOutcome {
                    status: ScenarioStatus::Failed,
                    finished_at: now,
                    run: RunFigures {
                        iterations: 0,
                        stop: String::new(),
                        elapsed_ms: 0,
                        objective: None,
                    },
                    clusters: Vec::new(),
                    assignment: Vec::new(),
                    findings: vec![Finding {
                        kind: FindingKind::Error,
                        principle: "the run stopped unexpectedly".into(),
                        detail: "internal error: nothing was found; run the scenario again".into(),
                    }],
                }
            }
        };
        service.store.finish_scenario(authority, id, &outcome).await?;
        Ok(outcome.status)
    }
}

/// The schools a scenario plans: open, state-funded, placed on the map, not left out.
fn in_scope(s: &SchoolWithCensus, params: &ScenarioParameters) -> bool {
    let school = &s.school;
    school.status.is_open()
        && school.is_state_funded()
        && school.phase != Phase::Independent
        && school.location.is_some()
        && !params.excluded_phases.contains(&school.phase)
        && !params.excluded_urns.contains(&school.urn)
}

impl Service {
    /// Whether a scenario whose run is marked running was interrupted.
    fn settle(&self, mut s: ScenarioSummary) -> ScenarioSummary {
        if s.status == ScenarioStatus::Running
            && self.clock.now() > s.started_at + i64::from(s.params.time_limit_s) + INTERRUPTED_AFTER_S
        {
            s.status = ScenarioStatus::Failed;
        }
        s
    }

    /// Every scenario of the user's authority, newest first.
    pub async fn scenarios(&self, user: &User) -> ServiceResult<Vec<ScenarioSummary>> {
        require_view(user)?;
        let mut list: Vec<ScenarioSummary> = self
            .store
            .scenarios(user.authority)
            .await?
            .into_iter()
            .map(|s| self.settle(s))
            .collect();
        list.sort_by_key(|s| std::cmp::Reverse(s.id));
        Ok(list)
    }

    /// The demo's illustrative scenario, if there is one (the map page links to it).
    pub async fn illustrative_scenario(&self, user: &User) -> ServiceResult<Option<ScenarioId>> {
        if !may_view(user.role) {
            return Ok(None);
        }
        Ok(self
            .store
            .scenarios(user.authority)
            .await?
            .into_iter()
            .filter(|s| s.illustrative && s.status == ScenarioStatus::Done)
            .map(|s| s.id)
            .min())
    }

    /// Checks the form against the rules and the register: every field at fault, or the
    /// parameters to run with.
    pub async fn check_scenario(
        &self,
        user: &User,
        input: &ScenarioInput,
    ) -> ServiceResult<Result<ScenarioParameters, Vec<FieldError>>> {
        require_run(user, "run a design scenario")?;
        let params = match input.validate() {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let named = !params.excluded_urns.is_empty() || !params.must_link.is_empty() || !params.locks.is_empty();
        if named {
            let schools = self.store.all_schools(user.authority).await?;
            let held: BTreeSet<Urn> = schools.iter().map(|s| s.school.urn).collect();
            let planned: BTreeSet<Urn> = schools
                .iter()
                .filter(|s| in_scope(s, &params))
                .map(|s| s.school.urn)
                .collect();
            if let Some(u) = params.excluded_urns.iter().find(|u| !held.contains(u)) {
                return Ok(Err(vec![FieldError {
                    field: "exclude_urns",
                    message: format!("Schools to leave out: URN {u} is not on this authority's register"),
                }]));
            }
            let check = |urns: Vec<Urn>, field: &'static str, what: &str| {
                urns.into_iter().find(|u| !planned.contains(u)).map(|u| FieldError {
                    field,
                    message: if held.contains(&u) {
                        format!(
                            "{what}: URN {u} is not planned (closed, not state-funded, without a location, or left out)"
                        )
                    } else {
                        format!("{what}: URN {u} is not on this authority's register")
                    },
                })
            };
            if let Some(e) = check(
                params.must_link.iter().flatten().copied().collect(),
                "must_link",
                "Schools that stay together",
            ) {
                return Ok(Err(vec![e]));
            }
            if let Some(e) = check(
                params.locks.iter().map(|(u, _)| *u).collect(),
                "locks",
                "Locked schools",
            ) {
                return Ok(Err(vec![e]));
            }
        }
        Ok(Ok(params))
    }

    /// The planner's request, built from the register: schools in scope with their latest
    /// census, district, division (when a division layer is held) and today's cluster.
    async fn planner_request(
        &self,
        authority: AuthorityId,
        params: &ScenarioParameters,
    ) -> ServiceResult<DesignRequest> {
        let today = self.clock.today();
        let schools = self.store.all_schools(authority).await?;
        let names: HashMap<_, String> = self
            .store
            .list_clusters(authority, today)
            .await?
            .into_iter()
            .map(|c| (c.cluster.id, c.cluster.name))
            .collect();
        let current: HashMap<Urn, String> = self
            .store
            .current_memberships(authority, today)
            .await?
            .into_iter()
            .filter_map(|(u, c, _)| names.get(&c).map(|n| (u, n.clone())))
            .collect();
        let mut division: HashMap<Urn, String> = HashMap::new();
        for layer in self.store.geography_layers(authority).await? {
            if layer.kind == LayerKind::Division {
                for area in &layer.areas {
                    for u in &area.members {
                        division.entry(*u).or_insert_with(|| area.name.clone());
                    }
                }
            }
        }
        let planner: Vec<PlannerSchool> = schools
            .iter()
            .filter(|s| in_scope(s, params))
            .filter_map(|s| {
                let school = &s.school;
                Some(PlannerSchool {
                    urn: school.urn,
                    name: school.name.clone(),
                    location: school.location?,
                    pupils: s.pupils(),
                    phase: school.phase,
                    state_funded: true,
                    district: school
                        .district
                        .as_ref()
                        .map(|d| d.name.clone())
                        .filter(|d| !d.is_empty() && d != "Unknown"),
                    division: division.get(&school.urn).cloned(),
                    existing_cluster: current.get(&school.urn).cloned(),
                    fsm_count: s.census.as_ref().and_then(|c| c.fsm_count),
                    lock: params
                        .locks
                        .iter()
                        .find(|(u, _)| *u == school.urn)
                        .map(|(_, l)| l.clone()),
                })
            })
            .collect();
        if planner.is_empty() {
            return Err(ServiceError::Invalid(
                "no schools to plan: the register holds no open state-funded schools with a location in scope".into(),
            ));
        }
        Ok(DesignRequest {
            schools: planner,
            mode: params.mode,
            constraints: Constraints {
                min_pupils: params.min_pupils,
                max_pupils: params.max_pupils,
                min_clusters: params.min_clusters,
                max_clusters: params.max_clusters,
                districts: params.districts,
                must_link: params.must_link.clone(),
            },
            weights: Weights::default(),
            neighbours: Neighbours::Delaunay(PruneRule::default()),
            travel: Travel::StraightLine,
            seed: u64::from(params.seed),
        })
    }

    /// Saves a scenario as running and returns the job that runs it. Only authority officers;
    /// one run at a time per authority.
    pub async fn start_scenario(&self, user: &User, params: ScenarioParameters) -> ServiceResult<ScenarioJob> {
        require_run(user, "run a design scenario")?;
        if let Err(errors) = params.input().validate() {
            let first = errors.first().map(|e| e.message.clone()).unwrap_or_default();
            return Err(ServiceError::Invalid(first));
        }
        if let Some(running) = self
            .scenarios(user)
            .await?
            .into_iter()
            .find(|s| s.status == ScenarioStatus::Running)
        {
            return Err(ServiceError::Conflict(format!(
                "the scenario “{}” is still running: wait for it to finish, then run this one",
                running.params.name
            )));
        }
        self.prepare_scenario(user.authority, params, false, Some(user.id), &user.display_name)
            .await
    }

    async fn prepare_scenario(
        &self,
        authority: AuthorityId,
        params: ScenarioParameters,
        illustrative: bool,
        ran_by: Option<UserId>,
        ran_by_name: &str,
    ) -> ServiceResult<ScenarioJob> {
        let request = self.planner_request(authority, &params).await?;
        let new = NewScenario {
            illustrative,
            ran_by,
            ran_by_name: ran_by_name.to_string(),
            started_at: self.clock.now(),
            schools: u32::try_from(request.schools.len()).unwrap_or(u32::MAX),
            pupils: request.schools.iter().map(|s| u64::from(s.pupils)).sum(),
            params: params.clone(),
        };
        let id = self.store.create_scenario(authority, &new).await?;
        Ok(ScenarioJob {
            service: self.clone(),
            authority,
            id,
            request,
            budget: Budget {
                max_iterations: params.max_iterations.unwrap_or(u64::MAX),
                ..Budget::default()
            },
            limit: Duration::from_secs(u64::from(params.time_limit_s.clamp(1, MAX_TIME_LIMIT_S))),
        })
    }

    /// A scenario as someone who may see scenarios reads it (for the funding comparison).
    pub(crate) async fn viewable_scenario(&self, user: &User, id: ScenarioId) -> ServiceResult<ScenarioRecord> {
        require_view(user)?;
        self.load_scenario(user, id).await
    }

    async fn load_scenario(&self, user: &User, id: ScenarioId) -> ServiceResult<ScenarioRecord> {
        let mut record = self
            .store
            .scenario(user.authority, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("scenario {id}")))?;
        let was = record.summary.status;
        record.summary = self.settle(record.summary);
        if was == ScenarioStatus::Running && record.summary.status == ScenarioStatus::Failed {
            record.findings.push(Finding {
                kind: FindingKind::Error,
                principle: "the run was interrupted".into(),
                detail: "the server stopped before the run finished; run the scenario again".into(),
            });
        }
        Ok(record)
    }

    /// Places the schools of an assignment on the map, by the register.
    async fn place(
        &self,
        authority: AuthorityId,
        assignment: &[(Urn, String)],
        hubs: &BTreeSet<Urn>,
    ) -> ServiceResult<Vec<PlacedSchool>> {
        let schools: HashMap<Urn, SchoolWithCensus> = self
            .store
            .all_schools(authority)
            .await?
            .into_iter()
            .map(|s| (s.school.urn, s))
            .collect();
        Ok(assignment
            .iter()
            .filter_map(|(u, label)| {
                let s = schools.get(u)?;
                Some(PlacedSchool {
                    urn: *u,
                    name: s.school.name.clone(),
                    phase: s.school.phase,
                    location: s.school.location?,
                    cluster: Some(label.clone()),
                    hub: hubs.contains(u),
                })
            })
            .collect())
    }

    /// A scenario's page.
    pub async fn scenario(&self, user: &User, id: ScenarioId) -> ServiceResult<ScenarioView> {
        require_view(user)?;
        let record = self.load_scenario(user, id).await?;
        let hubs: BTreeSet<Urn> = record.clusters.iter().filter_map(|c| c.hub).collect();
        let schools = self.place(user.authority, &record.assignment, &hubs).await?;
        Ok(ScenarioView {
            may_adopt: may_run(user.role)
                && record.summary.status == ScenarioStatus::Done
                && record.summary.adoption.is_none(),
            record,
            schools,
        })
    }

    /// Today's map judged by a scenario's parameters: its figures, objective, every principle
    /// it breaks and every hard constraint it breaks.
    async fn current_side(&self, user: &User, judge: &ScenarioParameters) -> ServiceResult<MapSide> {
        let request = self.planner_request(user.authority, judge).await?;
        let assignment: Vec<(Urn, String)> = request
            .schools
            .iter()
            .filter_map(|s| s.existing_cluster.clone().map(|c| (s.urn, c)))
            .collect();
        let e = evaluate(&request, &assignment).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let fsm: HashMap<Urn, Option<u32>> = request.schools.iter().map(|s| (s.urn, s.fsm_count)).collect();
        let clusters: Vec<ScenarioCluster> = e
            .clusters
            .iter()
            .map(|c| ScenarioCluster {
                // Today's clusters keep their own names.
                name: c.id.clone(),
                ..cluster_of_figures(c, &fsm)
            })
            .collect();
        let mut findings: Vec<Finding> = e
            .violations
            .iter()
            .map(|v| Finding {
                kind: FindingKind::Violation,
                principle: violation_principle(v.code()).to_string(),
                detail: v.to_string(),
            })
            .collect();
        findings.extend(breach_findings(&e.breaches));
        let hubs: BTreeSet<Urn> = clusters.iter().filter_map(|c| c.hub).collect();
        let schools = self.place(user.authority, &assignment, &hubs).await?;
        Ok(MapSide {
            choice: MapChoice::Current,
            title: "Current map".into(),
            scenario: None,
            clusters,
            objective: rounded(&e.objective),
            findings,
            schools,
        })
    }

    async fn scenario_side(&self, user: &User, id: ScenarioId) -> ServiceResult<MapSide> {
        let record = self.load_scenario(user, id).await?;
        if record.summary.status != ScenarioStatus::Done {
            return Err(ServiceError::Invalid(format!(
                "the scenario “{}” has no map to compare: it {}",
                record.summary.params.name,
                if record.summary.status == ScenarioStatus::Running {
                    "is still running"
                } else {
                    "found no valid map"
                }
            )));
        }
        let hubs: BTreeSet<Urn> = record.clusters.iter().filter_map(|c| c.hub).collect();
        let schools = self.place(user.authority, &record.assignment, &hubs).await?;
        Ok(MapSide {
            choice: MapChoice::Scenario(id),
            title: record.summary.params.name.clone(),
            objective: record.run.as_ref().and_then(|r| r.objective).unwrap_or_default(),
            clusters: record.clusters,
            findings: record.findings,
            scenario: Some(record.summary),
            schools,
        })
    }

    /// Two maps side by side: figures, objectives, the principles each breaks and which schools
    /// move. Today's map is judged by the other side's parameters.
    pub async fn compare_maps(&self, user: &User, a: MapChoice, b: MapChoice) -> ServiceResult<Comparison> {
        require_view(user)?;
        if a == b {
            return Err(ServiceError::Invalid("choose two different maps to compare".into()));
        }
        let (side_a, side_b, judged_by) = match (&a, &b) {
            (MapChoice::Scenario(x), MapChoice::Scenario(y)) => (
                self.scenario_side(user, *x).await?,
                self.scenario_side(user, *y).await?,
                None,
            ),
            (MapChoice::Current, MapChoice::Scenario(y)) => {
                let other = self.scenario_side(user, *y).await?;
                let judge = other.scenario.as_ref().map(|s| s.params.clone());
                let name = other.title.clone();
                let current = match judge {
                    Some(p) => self.current_side(user, &p).await?,
                    None => return Err(ServiceError::NotFound(format!("scenario {y}"))),
                };
                (current, other, Some(name))
            }
            (MapChoice::Scenario(x), MapChoice::Current) => {
                let other = self.scenario_side(user, *x).await?;
                let judge = other.scenario.as_ref().map(|s| s.params.clone());
                let name = other.title.clone();
                let current = match judge {
                    Some(p) => self.current_side(user, &p).await?,
                    None => return Err(ServiceError::NotFound(format!("scenario {x}"))),
                };
                (other, current, Some(name))
            }
            (MapChoice::Current, MapChoice::Current) => {
                return Err(ServiceError::Invalid("choose two different maps to compare".into()));
            }
        };
        let assignment = |s: &MapSide| -> Vec<(Urn, String)> {
            s.schools
                .iter()
                .filter_map(|p| p.cluster.clone().map(|c| (p.urn, c)))
                .collect()
        };
        let c = changes(&assignment(&side_a), &assignment(&side_b));
        let name_in = |side: &MapSide, label: &Option<String>| -> Option<String> {
            label.as_ref().map(|l| {
                side.clusters
                    .iter()
                    .find(|c| &c.label == l)
                    .map_or_else(|| l.clone(), |c| c.name.clone())
            })
        };
        let school_names: HashMap<Urn, String> = side_a
            .schools
            .iter()
            .chain(side_b.schools.iter())
            .map(|p| (p.urn, p.name.clone()))
            .collect();
        let moves = c
            .moves
            .iter()
            .map(|m| SchoolMove {
                urn: m.urn,
                name: school_names.get(&m.urn).cloned().unwrap_or_default(),
                from: name_in(&side_a, &m.from),
                to: name_in(&side_b, &m.to),
            })
            .collect();
        let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for f in &side_a.findings {
            counts.entry(f.principle.clone()).or_default().0 += 1;
        }
        for f in &side_b.findings {
            counts.entry(f.principle.clone()).or_default().1 += 1;
        }
        Ok(Comparison {
            continues: c.matched.iter().map(|(ka, kb)| (kb.clone(), ka.clone())).collect(),
            a: side_a,
            b: side_b,
            moves,
            stayed: c.stayed,
            principles: counts.into_iter().map(|(p, (x, y))| (p, x, y)).collect(),
            judged_by,
        })
    }

    /// Makes a scenario the authority's map from `effective`: every current membership ends the
    /// day before (memberships are half-open, so its end date is `effective`), one new cluster
    /// per cluster of the scenario is created with its hub as host, and the old map stays in the
    /// history. One store transaction; refused for a scenario without a map or adopted already.
    pub async fn adopt_scenario(
        &self,
        user: &User,
        id: ScenarioId,
        effective: NaiveDate,
    ) -> ServiceResult<AdoptionReport> {
        require_run(user, "adopt a design scenario")?;
        let record = self.load_scenario(user, id).await?;
        let name = &record.summary.params.name;
        if let Some(a) = &record.summary.adoption {
            return Err(ServiceError::Conflict(format!(
                "“{name}” was adopted already (from {}, by {}): a scenario is adopted once",
                a.effective.format("%-d %B %Y"),
                a.by_name
            )));
        }
        match record.summary.status {
            ScenarioStatus::Done => {}
            ScenarioStatus::Running => {
                return Err(ServiceError::Conflict(format!(
                    "“{name}” is still running: adopt it when it has finished"
                )));
            }
            ScenarioStatus::Failed => {
                return Err(ServiceError::Conflict(format!(
                    "“{name}” found no valid map, so there is nothing to adopt"
                )));
            }
        }
        use domain::Datelike;
        if !(2000..=2100).contains(&effective.year()) {
            return Err(ServiceError::Invalid(
                "the date the new map starts must be between 2000 and 2100".into(),
            ));
        }
        let phases: HashMap<Urn, Phase> = self
            .store
            .all_schools(user.authority)
            .await?
            .into_iter()
            .map(|s| (s.school.urn, s.school.phase))
            .collect();
        let mut taken: BTreeSet<String> = self.store.cluster_names(user.authority).await?.into_iter().collect();
        let mut clusters = Vec::new();
        for (c, members) in proposed_members(&record, &phases) {
            let base = c.name.clone();
            let dated = format!("{base} (from {})", effective.format("%B %Y"));
            let mut pick = base.clone();
            let mut n = 1;
            while taken.contains(&pick) {
                n += 1;
                pick = if n == 2 {
                    dated.clone()
                } else {
                    format!("{dated} {}", n - 1)
                };
            }
            taken.insert(pick.clone());
            clusters.push((pick, members));
        }
        let adoption = NewAdoption {
            adoption: Adoption {
                effective,
                by_name: user.display_name.clone(),
                at: self.clock.now(),
            },
            by: Some(user.id),
            clusters,
        };
        let counts = self.store.adopt_scenario(user.authority, id, &adoption).await?;
        Ok(AdoptionReport { effective, counts })
    }

    /// The demo's illustrative Norfolk redraw (2,500–5,000 pupils, 22–32 clusters, districts at a
    /// price, seed 1, a move limit so it is the same on every machine). Not adopted.
    pub(crate) async fn seed_demo_design(&self, authority: AuthorityId) -> ServiceResult<ScenarioId> {
        let params = ScenarioParameters {
            name: "Norfolk redraw, 2,500 to 5,000 pupils (illustrative)".into(),
            mode: Mode::Redraw,
            min_pupils: 2_500,
            max_pupils: 5_000,
            min_clusters: 22,
            max_clusters: 32,
            districts: DistrictRule::Soft,
            seed: 1,
            time_limit_s: MAX_TIME_LIMIT_S,
            max_iterations: Some(DEMO_MOVES),
            excluded_phases: Vec::new(),
            excluded_urns: Vec::new(),
            must_link: Vec::new(),
            locks: Vec::new(),
        };
        let job = self
            .prepare_scenario(authority, params, true, None, "Clusterwise demo")
            .await?;
        let id = job.id();
        match job.run(|_| {}).await? {
            ScenarioStatus::Done => Ok(id),
            _ => Err(ServiceError::Unexpected(
                "the demo's design scenario found no map".into(),
            )),
        }
    }
}

/// Moves the demo's scenario searches (well under a second on one core).
pub const DEMO_MOVES: u64 = 1_000_000;

/// Each proposed cluster of a scenario with its members and the role adopting it gives them:
/// the hub is the host, special schools are special members, alternative provision a PRU, the
/// rest feeders. In the scenario's cluster order.
pub(crate) fn proposed_members<'r>(
    record: &'r ScenarioRecord,
    phases: &HashMap<Urn, Phase>,
) -> Vec<(&'r ScenarioCluster, Vec<(Urn, MembershipRole)>)> {
    let mut members: BTreeMap<&str, Vec<(Urn, MembershipRole)>> = BTreeMap::new();
    let hub_of: HashMap<&str, Option<Urn>> = record.clusters.iter().map(|c| (c.label.as_str(), c.hub)).collect();
    for (urn, label) in &record.assignment {
        let role = if hub_of.get(label.as_str()).copied().flatten() == Some(*urn) {
            MembershipRole::Host
        } else {
            match phases.get(urn) {
                Some(Phase::Special) => MembershipRole::Special,
                Some(Phase::AlternativeProvision) => MembershipRole::Pru,
                _ => MembershipRole::Feeder,
            }
        };
        members.entry(label.as_str()).or_default().push((*urn, role));
    }
    record
        .clusters
        .iter()
        .map(|c| (c, members.remove(c.label.as_str()).unwrap_or_default()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_names_every_field_at_fault() {
        type Case = (&'static str, fn(&mut ScenarioInput), Vec<&'static str>);
        let cases: Vec<Case> = vec![
            ("defaults with a name", |_| {}, vec![]),
            ("no name", |i| i.name = "  ".into(), vec!["name"]),
            ("bad mode", |i| i.mode = "merge".into(), vec!["mode"]),
            ("text pupils", |i| i.min_pupils = "lots".into(), vec!["min_pupils"]),
            (
                "floor above ceiling",
                |i| i.min_pupils = "6,000".into(),
                vec!["max_pupils"],
            ),
            ("no clusters", |i| i.min_clusters = "0".into(), vec!["min_clusters"]),
            (
                "range upside down",
                |i| i.max_clusters = "3".into(),
                vec!["max_clusters"],
            ),
            ("too long", |i| i.time_limit = "61".into(), vec!["time_limit"]),
            (
                "tiny move limit",
                |i| i.max_iterations = "10".into(),
                vec!["max_iterations"],
            ),
            (
                "bad phase",
                |i| i.exclude_phases = vec!["secondary".into()],
                vec!["exclude_phases"],
            ),
            (
                "bad URN",
                |i| i.exclude_urns = "120001, 12x".into(),
                vec!["exclude_urns"],
            ),
            ("districts", |i| i.districts = "maybe".into(), vec!["districts"]),
            (
                "several",
                |i| {
                    i.seed = "-1".into();
                    i.max_pupils = String::new();
                },
                vec!["max_pupils", "seed"],
            ),
        ];
        for (what, change, want) in cases {
            let mut input = ScenarioInput {
                name: "Test".into(),
                ..ScenarioInput::default()
            };
            change(&mut input);
            let mut fields: Vec<&str> = match input.validate() {
                Ok(_) => Vec::new(),
                Err(e) => e.iter().map(|f| f.field).collect(),
            };
            fields.sort_unstable();
            assert_eq!(fields, want, "{what}");
        }
    }

    #[test]
    fn parameters_round_trip_through_the_form() {
        let input = ScenarioInput {
            name: "Round trip".into(),
            mode: "amalgamate".into(),
            max_iterations: "50,000".into(),
            exclude_phases: vec!["special".into(), "nursery".into()],
            exclude_urns: "120001 120002,120001".into(),
            districts: "hard".into(),
            ..ScenarioInput::default()
        };
        let p = input.validate().expect("valid");
        assert_eq!(p.max_iterations, Some(50_000));
        assert_eq!(p.excluded_urns.len(), 2, "duplicates dropped");
        assert_eq!(p.input().validate().expect("valid again"), p);
        assert_eq!(MapChoice::parse("current"), Some(MapChoice::Current));
        assert_eq!(MapChoice::parse("7"), Some(MapChoice::Scenario(ScenarioId(7))));
        assert_eq!(MapChoice::parse("-7"), None);
        assert_eq!(MapChoice::parse("x"), None);
    }
}

//! `clusterwise design`: the boundary planner from the command line. Schools (the census CSV
//! layout or a minimal `urn,easting,northing,pupils,phase[,district]`), optionally today's
//! clusters, bounds and a time limit in; an assignment `urn,cluster` and a JSON report out.
//! `--evaluate` judges a given assignment by the same rules instead of planning (the benchmark
//! uses it to check every peer tool's answer).

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use domain::design::{
    Budget, Constraints, Design, DesignError, DesignRequest, DistrictRule, Evaluation, Mode, Neighbours, PlannerSchool,
    PruneRule, Travel, Weights, evaluate, neighbour_graph, plan,
};
use domain::geo::Location;
use domain::ids::Urn;
use domain::school::Phase;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Redraw,
    Amalgamate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DistrictsArg {
    Hard,
    Soft,
    Off,
}

/// Propose a cluster map under hard constraints (the boundary planner).
#[derive(Debug, Args)]
pub struct DesignArgs {
    /// Schools: the census CSV layout, or `urn,easting,northing,pupils,phase[,district]`.
    #[arg(long)]
    pub schools: PathBuf,
    /// Today's cluster memberships (`urn,cluster`, other columns ignored).
    #[arg(long)]
    pub existing: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "redraw")]
    pub mode: ModeArg,
    #[arg(long)]
    pub min_pupils: u32,
    #[arg(long)]
    pub max_pupils: u32,
    /// The number of clusters allowed, `A..B` (inclusive) or `N`.
    #[arg(long, value_parser = parse_range)]
    pub clusters: (u32, u32),
    #[arg(long, value_enum, default_value = "soft")]
    pub districts: DistrictsArg,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stop improving after this many seconds (the best valid map so far is returned).
    #[arg(long, default_value_t = 10.0)]
    pub time_limit: f64,
    /// Stop after this many moves (for runs that must be reproducible whatever the machine).
    #[arg(long)]
    pub max_iterations: Option<u64>,
    /// Phases to leave out, by code (e.g. `special`, `nursery`, `alternative_provision`).
    #[arg(long, value_delimiter = ',')]
    pub exclude_phase: Vec<String>,
    /// Schools to leave out, by URN (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub exclude_urn: Vec<String>,
    /// Locked schools (`urn,cluster`): schools with one lock share a cluster named after it,
    /// schools with different locks never share one.
    #[arg(long)]
    pub locks: Option<PathBuf>,
    /// Schools that must stay together (`urn,group`: federations and the like). Schools on one
    /// point (a shared postcode) always stay together.
    #[arg(long)]
    pub must_link: Option<PathBuf>,
    /// Neighbour pairs (`urn_a,urn_b`) instead of the Delaunay graph.
    #[arg(long)]
    pub neighbours: Option<PathBuf>,
    /// Travel matrix (`urn,hub_urn,cost`) instead of straight-line km.
    #[arg(long)]
    pub travel: Option<PathBuf>,
    /// Drop neighbour edges longer than this many times the local spacing.
    #[arg(long, default_value_t = 3.0)]
    pub prune_factor: f64,
    /// Price of a pupil outside the hub's district, in pupil-km.
    #[arg(long, default_value_t = Weights::default().district_per_pupil)]
    pub district_price: f64,
    /// Price of each extra piece an existing cluster is split into, in pupil-km.
    #[arg(long, default_value_t = Weights::default().split_per_piece)]
    pub split_price: f64,
    /// Price of each cluster above the fewest the ceiling allows, in pupil-km.
    #[arg(long, default_value_t = Weights::default().per_extra_cluster)]
    pub cluster_price: f64,
    /// Judge this assignment (`urn,cluster`) instead of planning.
    #[arg(long)]
    pub evaluate: Option<PathBuf>,
    /// Also write the neighbour graph the planner uses, as school pairs `urn_a,urn_b` (schools
    /// on one point are paired with each other), so other tools can be given the same graph.
    #[arg(long)]
    pub write_graph: Option<PathBuf>,
    /// Where to write the assignment (`urn,cluster`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// No progress lines on standard error.
    #[arg(long)]
    pub quiet: bool,
}

fn parse_range(s: &str) -> Result<(u32, u32), String> {
    let (a, b) = match s.split_once("..") {
        Some((a, b)) => (a, b.trim_start_matches('=')),
        None => (s, s),
    };
    let a: u32 = a.trim().parse().map_err(|_| format!("`{s}` is not A..B"))?;
    let b: u32 = b.trim().parse().map_err(|_| format!("`{s}` is not A..B"))?;
    if a > b {
        return Err(format!("`{s}`: {a} is above {b}"));
    }
    Ok((a, b))
}

fn reader(path: &Path) -> Result<csv::Reader<std::fs::File>> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))
}

/// Reads schools from either layout; independent schools are left out.
fn read_schools(path: &Path, exclude: &[Phase]) -> Result<Vec<PlannerSchool>> {
    let mut r = reader(path)?;
    let headers: Vec<String> = r.headers()?.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    let col = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let need = |names: &[&str]| col(names).with_context(|| format!("{}: no `{}` column", path.display(), names[0]));
    let census = col(&["phase_type_grouping"]).is_some();
    let urn_c = need(&["urn"])?;
    let east_c = need(&["easting"])?;
    let north_c = need(&["northing"])?;
    let pupils_c = need(&["pupils_headcount", "pupils"])?;
    let phase_c = need(&["phase_type_grouping", "phase"])?;
    let name_c = col(&["school_name", "name"]);
    let district_c = col(&["district_name", "district"]);
    let division_c = col(&["division"]);
    let fsm_c = col(&["fsm_eligible_count", "fsm_count"]);
    let all_through_c = col(&["all_through_school"]);
    let middle_c = col(&["middle_school"]);
    let ks3_c = col(&["pupils_ks3_y7_y9"]);
    let mut out = Vec::new();
    for (row, record) in r.records().enumerate() {
        let line = row + 2;
        let rec = record.with_context(|| format!("{} line {line}", path.display()))?;
        let get = |c: usize| rec.get(c).unwrap_or("").trim();
        let opt = |c: Option<usize>| c.map(get).filter(|v| !v.is_empty());
        let (phase, state_funded) = if census {
            let group = get(phase_c);
            let middle = opt(middle_c).unwrap_or("");
            let phase = match group {
                "State-funded secondary" if opt(all_through_c) == Some("Yes") => Phase::AllThrough,
                "State-funded secondary" if middle == "Middle deemed secondary" => Phase::MiddleSecondary,
                "State-funded secondary" if opt(ks3_c).and_then(|v| v.parse::<u32>().ok()) == Some(0) => {
                    Phase::SixteenPlus
                }
                "State-funded secondary" => Phase::Secondary,
                "State-funded primary" if middle == "Middle deemed primary" => Phase::MiddlePrimary,
                "State-funded primary" => Phase::Primary,
                "State-funded nursery" => Phase::Nursery,
                "State-funded special school" | "Non-maintained special school" => Phase::Special,
                "State-funded AP school" => Phase::AlternativeProvision,
                _ => Phase::Independent,
            };
            (phase, group.starts_with("State-funded"))
        } else {
            let code = get(phase_c).to_ascii_lowercase();
            let phase = Phase::from_code(&code).with_context(|| {
                format!(
                    "{} line {line}: phase `{code}` is not one of {}",
                    path.display(),
                    Phase::ALL.map(Phase::code).join(", ")
                )
            })?;
            (phase, phase != Phase::Independent)
        };
        if !state_funded || exclude.contains(&phase) {
            continue;
        }
        let urn = Urn::parse(get(urn_c)).map_err(|e| anyhow::anyhow!("{} line {line}: urn: {e}", path.display()))?;
        let num = |c: usize, what: &str| -> Result<i64> {
            get(c).parse::<f64>().map(|v| v.round() as i64).with_context(|| {
                format!(
                    "{} line {line} (URN {urn}): {what} `{}` is not a number",
                    path.display(),
                    get(c)
                )
            })
        };
        out.push(PlannerSchool {
            urn,
            name: opt(name_c).unwrap_or("").to_string(),
            location: Location {
                easting: num(east_c, "easting")? as i32,
                northing: num(north_c, "northing")? as i32,
                latitude: None,
                longitude: None,
            },
            pupils: num(pupils_c, "pupils")?.max(0) as u32,
            phase,
            state_funded,
            district: opt(district_c).filter(|d| *d != "Unknown").map(str::to_string),
            division: opt(division_c).map(str::to_string),
            existing_cluster: None,
            fsm_count: opt(fsm_c).and_then(|v| v.parse().ok()),
            lock: None,
        });
    }
    if out.is_empty() {
        bail!("{}: no state-funded schools in scope", path.display());
    }
    Ok(out)
}

/// Reads `urn,cluster` pairs (header by name, other columns ignored).
fn read_pairs(path: &Path, a: &[&str], b: &[&str]) -> Result<Vec<(Urn, String)>> {
    let mut r = reader(path)?;
    let headers: Vec<String> = r.headers()?.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    let find = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.contains(&h.as_str()))
            .with_context(|| format!("{}: no `{}` column", path.display(), names[0]))
    };
    let (ac, bc) = (find(a)?, find(b)?);
    let mut out = Vec::new();
    for (row, record) in r.records().enumerate() {
        let rec = record?;
        let urn = Urn::parse(rec.get(ac).unwrap_or("").trim())
            .map_err(|e| anyhow::anyhow!("{} line {}: {}: {e}", path.display(), row + 2, a[0]))?;
        out.push((urn, rec.get(bc).unwrap_or("").trim().to_string()));
    }
    Ok(out)
}

fn build_request(args: &DesignArgs) -> Result<DesignRequest> {
    let exclude: Vec<Phase> = args
        .exclude_phase
        .iter()
        .map(|c| Phase::from_code(c.trim()).with_context(|| format!("unknown phase `{c}`")))
        .collect::<Result<_>>()?;
    let mut schools = read_schools(&args.schools, &exclude)?;
    let excluded: Vec<Urn> = args
        .exclude_urn
        .iter()
        .map(|u| Urn::parse(u.trim()).map_err(|e| anyhow::anyhow!("--exclude-urn {u}: {e}")))
        .collect::<Result<_>>()?;
    schools.retain(|s| !excluded.contains(&s.urn));
    if let Some(path) = &args.locks {
        let locks: HashMap<Urn, String> = read_pairs(path, &["urn"], &["cluster", "lock"])?.into_iter().collect();
        for s in &mut schools {
            s.lock = locks.get(&s.urn).cloned();
        }
    }
    let mut must_link: Vec<Vec<Urn>> = Vec::new();
    if let Some(path) = &args.must_link {
        let mut groups: BTreeMap<String, Vec<Urn>> = BTreeMap::new();
        for (urn, group) in read_pairs(path, &["urn"], &["group"])? {
            groups.entry(group).or_default().push(urn);
        }
        must_link = groups.into_values().collect();
    }
    if let Some(path) = &args.existing {
        let members: HashMap<Urn, String> = read_pairs(path, &["urn"], &["cluster", "cluster name"])?
            .into_iter()
            .collect();
        for s in &mut schools {
            s.existing_cluster = members.get(&s.urn).cloned();
        }
    }
    let neighbours = match &args.neighbours {
        None => Neighbours::Delaunay(PruneRule {
            factor: args.prune_factor,
            max_edge_m: None,
        }),
        Some(path) => {
            let pairs = read_pairs(path, &["urn_a", "a"], &["urn_b", "b"])?;
            let pairs = pairs
                .into_iter()
                .map(|(a, b)| Ok((a, Urn::parse(&b).map_err(|e| anyhow::anyhow!("{b}: {e}"))?)))
                .collect::<Result<Vec<_>>>()?;
            Neighbours::Pairs(pairs)
        }
    };
    let travel = match &args.travel {
        None => Travel::StraightLine,
        Some(path) => {
            let mut r = reader(path)?;
            let mut triples = Vec::new();
            for record in r.records() {
                let rec = record?;
                let field = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
                let u = Urn::parse(&field(0)).map_err(|e| anyhow::anyhow!("{e}"))?;
                let h = Urn::parse(&field(1)).map_err(|e| anyhow::anyhow!("{e}"))?;
                let cost: f64 = field(2)
                    .parse()
                    .with_context(|| format!("travel cost `{}`", field(2)))?;
                triples.push((u, h, cost));
            }
            Travel::Matrix(triples)
        }
    };
    Ok(DesignRequest {
        schools,
        mode: match args.mode {
            ModeArg::Redraw => Mode::Redraw,
            ModeArg::Amalgamate => Mode::Amalgamate,
        },
        constraints: Constraints {
            min_pupils: args.min_pupils,
            max_pupils: args.max_pupils,
            min_clusters: args.clusters.0,
            max_clusters: args.clusters.1,
            districts: match args.districts {
                DistrictsArg::Hard => DistrictRule::Hard,
                DistrictsArg::Soft => DistrictRule::Soft,
                DistrictsArg::Off => DistrictRule::Off,
            },
            must_link,
        },
        weights: Weights {
            district_per_pupil: args.district_price,
            split_per_piece: args.split_price,
            per_extra_cluster: args.cluster_price,
            ..Weights::default()
        },
        neighbours,
        travel,
        seed: args.seed,
    })
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn evaluation_json(e: &Evaluation) -> Value {
    json!({
        "clusters": e.clusters.len(),
        "objective": objective_json(&e.objective),
        "hard_violations": e.violations.iter().map(|v| json!({"rule": v.code(), "detail": v.to_string()})).collect::<Vec<_>>(),
        "breaches": breaches_json(&e.breaches),
        "cluster_figures": e.clusters.iter().map(cluster_json).collect::<Vec<_>>(),
    })
}

fn objective_json(o: &domain::design::Objective) -> Value {
    json!({
        "total": round(o.total),
        "travel_pupil_km": round(o.travel),
        "district_penalty": round(o.district_penalty),
        "division_penalty": round(o.division_penalty),
        "split_penalty": round(o.split_penalty),
        "cluster_count_penalty": round(o.cluster_count_penalty),
    })
}

fn breaches_json(b: &[domain::design::Breach]) -> Value {
    let mut by: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for x in b {
        by.entry(x.principle()).or_default().push(x.to_string());
    }
    json!(by)
}

fn cluster_json(c: &domain::design::ClusterFigures) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "hub": c.hub.map(|u| u.to_string()),
        "pupils": c.pupils,
        "schools": c.schools.len(),
        "schools_by_phase": c.schools_by_phase.iter().map(|(p, n)| (p.code().to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "fsm_percent": c.fsm_percent.map(|f| (f * 10.0).round() / 10.0),
        "districts": c.districts,
        "longest_to_hub": round(c.longest_travel),
        "travel_pupil_km": round(c.travel),
        "members": c.schools.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

fn write_assignment(path: &Path, assignment: &[(Urn, String)]) -> Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    w.write_record(["urn", "cluster"])?;
    for (u, c) in assignment {
        w.write_record([u.to_string().as_str(), c.as_str()])?;
    }
    w.flush()?;
    Ok(())
}

fn write_report(path: &Path, report: &Value) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(report)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Runs the command. `Ok(false)` means the request is infeasible (or no valid map was found):
/// the explanation is on standard error and nothing is written.
pub fn run(args: &DesignArgs) -> Result<bool> {
    let request = build_request(args)?;
    let parameters = json!({
        "schools": request.schools.len(),
        "pupils": request.schools.iter().map(|s| u64::from(s.pupils)).sum::<u64>(),
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "min_pupils": args.min_pupils,
        "max_pupils": args.max_pupils,
        "clusters": [args.clusters.0, args.clusters.1],
        "districts": format!("{:?}", args.districts).to_lowercase(),
        "seed": args.seed,
        "time_limit_s": args.time_limit,
    });
    if let (Some(path), Neighbours::Delaunay(rule)) = (&args.write_graph, &request.neighbours) {
        let locations: Vec<Location> = request.schools.iter().map(|s| s.location).collect();
        let g = neighbour_graph(&locations, *rule);
        let mut first = vec![usize::MAX; g.points.len()];
        let mut pairs = Vec::new();
        for (i, &pt) in g.point_of.iter().enumerate() {
            if first[pt] == usize::MAX {
                first[pt] = i;
            } else {
                pairs.push((first[pt], i));
            }
        }
        pairs.extend(g.edges.iter().map(|&(a, b)| (first[a], first[b])));
        let mut w = csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
        w.write_record(["urn_a", "urn_b"])?;
        for (a, b) in pairs {
            w.write_record([request.schools[a].urn.to_string(), request.schools[b].urn.to_string()])?;
        }
        w.flush()?;
    }
    let existing: Vec<(Urn, String)> = request
        .schools
        .iter()
        .filter_map(|s| s.existing_cluster.clone().map(|c| (s.urn, c)))
        .collect();
    if let Some(path) = &args.evaluate {
        let assignment = read_pairs(path, &["urn"], &["cluster"])?;
        let e = evaluate(&request, &assignment).map_err(|e| anyhow::anyhow!("{e}"))?;
        let report = json!({"parameters": parameters, "evaluated": path.display().to_string(), "evaluation": evaluation_json(&e)});
        if let Some(p) = &args.report {
            write_report(p, &report)?;
        }
        println!(
            "{} clusters, objective {:.1} (travel {:.1} pupil-km), {} hard-constraint violations",
            e.clusters.len(),
            e.objective.total,
            e.objective.travel,
            e.violations.len()
        );
        for v in &e.violations {
            println!("  violation: {v}");
        }
        return Ok(true);
    }
    let started = Instant::now();
    let limit = Duration::from_secs_f64(args.time_limit.max(0.0));
    let mut last = Instant::now();
    let quiet = args.quiet;
    let budget = Budget {
        max_iterations: args.max_iterations.unwrap_or(u64::MAX),
        ..Budget::default()
    };
    let result = plan(&request, budget, &mut |p| {
        if !quiet && last.elapsed() >= Duration::from_secs(1) {
            last = Instant::now();
            eprintln!(
                "design: {:.1}s, {} moves, {} clusters, best objective {}",
                started.elapsed().as_secs_f64(),
                p.iterations,
                p.clusters,
                p.best_objective.map_or("none yet".to_string(), |o| format!("{o:.0}"))
            );
        }
        started.elapsed() < limit
    });
    let elapsed = started.elapsed().as_secs_f64();
    let design: Design = match result {
        Ok(d) => d,
        Err(DesignError::Infeasible(reasons)) => {
            eprintln!("infeasible: no map can meet these constraints");
            for r in reasons {
                eprintln!("  - {}: {}", r.constraint, r.place);
                eprintln!("    {}", r.detail);
                eprintln!("    to relax: {}", r.relax);
            }
            return Ok(false);
        }
        Err(e) => {
            eprintln!("{e}");
            return Ok(false);
        }
    };
    let comparison = if existing.is_empty() {
        Value::Null
    } else {
        let today = evaluate(&request, &existing).map_err(|e| anyhow::anyhow!("{e}"))?;
        let now: HashMap<Urn, &str> = existing.iter().map(|(u, c)| (*u, c.as_str())).collect();
        // A school "moves" when it leaves the proposed cluster's largest group of today's mates.
        let mut plurality: BTreeMap<&str, BTreeMap<&str, u32>> = BTreeMap::new();
        for (u, c) in &design.assignment {
            if let Some(old) = now.get(u) {
                *plurality.entry(c.as_str()).or_default().entry(old).or_default() += 1;
            }
        }
        let kept: u32 = plurality.values().map(|m| m.values().max().copied().unwrap_or(0)).sum();
        json!({
            "existing": evaluation_json(&today),
            "schools_with_an_existing_cluster": existing.len(),
            "schools_moved": existing.len() as u32 - kept,
        })
    };
    if let Some(p) = &args.out {
        write_assignment(p, &design.assignment)?;
    }
    let report = json!({
        "parameters": parameters,
        "search": {
            "seconds": (elapsed * 1000.0).round() / 1000.0,
            "moves": design.iterations,
            "epochs": design.epochs,
            "stopped": design.stop.code(),
            "units": design.units,
            "neighbour_edges": design.neighbour_edges,
        },
        "clusters": design.clusters.len(),
        "objective": objective_json(&design.objective),
        "hard_violations": [],
        "breaches": breaches_json(&design.breaches),
        "cluster_figures": design.clusters.iter().map(cluster_json).collect::<Vec<_>>(),
        "comparison_with_existing": comparison,
    });
    if let Some(p) = &args.report {
        write_report(p, &report)?;
    }
    println!(
        "{} clusters, objective {:.1} (travel {:.1} pupil-km), {} soft breaches, {:.2}s ({})",
        design.clusters.len(),
        design.objective.total,
        design.objective.travel,
        design.breaches.len(),
        elapsed,
        design.stop.code()
    );
    Ok(true)
}

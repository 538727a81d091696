//! The evaluation benchmark's Rust side (bench/evaluation/run.sh runs it beside pandas): the
//! authority summary over bench/evaluation/data — every cluster's gaps for every measure, every
//! cluster-level target's RAG, and a difference-in-differences with 1,000 bootstrap replicates —
//! timed step by step, the median of N runs, printed as one JSON line with check figures.
//! `cargo bench -p domain --bench evaluation -- RUNS`.

use domain::evaluation::analysis::{DidOptions, Windows};
use domain::evaluation::metrics::{Catalogue, MeasureDef, Number, Unit, parse};
use domain::evaluation::summary::{ClusterTarget, by_measure, initiative_did, measure_gaps, targets_rag};
use domain::evaluation::targets::{Rag, Target, TargetLevel};
use domain::evaluation::{AcademicYear, PupilGroup};
use domain::ids::Urn;
use std::collections::HashMap;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5);
    let dir = format!("{}/../../bench/evaluation/data", env!("CARGO_MANIFEST_DIR"));
    let members =
        std::fs::read_to_string(format!("{dir}/members.csv")).expect("run bench/evaluation/make_data.py first");
    // The cluster of each URN, as a table indexed by the URN's number (URNs are six digits).
    let mut cluster_of_urn = vec![u32::MAX; 1_000_000];
    let mut clusters = 0usize;
    let mut names: HashMap<&str, u32> = HashMap::new();
    for line in members.lines().skip(1) {
        let Some((u, c)) = line.split_once(',') else { continue };
        let (Ok(u), next) = (u.parse::<usize>(), names.len() as u32) else {
            continue;
        };
        let id = *names.entry(c).or_insert(next);
        clusters = clusters.max(id as usize + 1);
        cluster_of_urn[u] = id;
    }
    let cluster_of = |u: Urn| {
        let c = cluster_of_urn[u.get() as usize];
        (c != u32::MAX).then_some(c)
    };
    let measures: Vec<MeasureDef> = (0..10)
        .map(|m| MeasureDef {
            code: format!("m{m:02}"),
            label: format!("Measure {m}"),
            unit: Unit::Percent,
            higher_is_better: true,
        })
        .collect();
    let catalogue = Catalogue::new(measures.clone());
    let y = |s| AcademicYear::starting(s).unwrap_or_else(|_| unreachable!());
    // Three cluster-level targets per cluster: from 2018/19 up 4 points by 2025/26.
    let targets: Vec<ClusterTarget> = (0..clusters as u32)
        .flat_map(|c| {
            (0..3).map(move |m| ClusterTarget {
                cluster: c,
                target: Target {
                    measure: format!("m{:02}", (c as usize + m) % 10),
                    group: PupilGroup::All,
                    level: TargetLevel::Cluster,
                    baseline: Number::from_ten_thousandths(560_000),
                    baseline_year: AcademicYear::starting(2018).unwrap_or_else(|_| unreachable!()),
                    target: Number::from_ten_thousandths(600_000),
                    target_year: AcademicYear::starting(2025).unwrap_or_else(|_| unreachable!()),
                },
            })
        })
        .collect();
    let windows = Windows {
        before: (y(2014), y(2018)),
        after: (y(2019), y(2023)),
    };
    let options = DidOptions::default();
    let bytes = std::fs::read(format!("{dir}/metrics.csv")).expect("run bench/evaluation/make_data.py first");

    let (mut t_parse, mut t_gaps, mut t_rag, mut t_did, mut t_total) = (vec![], vec![], vec![], vec![], vec![]);
    let mut check = String::new();
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let parsed = parse(&bytes, &catalogue).expect("the benchmark file parses");
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors.first());
        t_parse.push(ms(start));
        let summary_start = Instant::now();
        let grouped = by_measure(&parsed.rows);
        let t = Instant::now();
        let gaps: HashMap<&str, Vec<Vec<_>>> = grouped
            .iter()
            .map(|(code, values)| (*code, measure_gaps(values, &cluster_of, clusters)))
            .collect();
        t_gaps.push(ms(t) + (t.duration_since(summary_start).as_secs_f64() * 1000.0));
        let t = Instant::now();
        let rags = targets_rag(&targets, &gaps, &measures);
        t_rag.push(ms(t));
        let t = Instant::now();
        let did = initiative_did(
            &grouped["m00"],
            &cluster_of,
            &|c| c % 10 == 0,
            &windows,
            &measures[0],
            &options,
        );
        t_did.push(ms(t));
        t_total.push(ms(summary_start));
        let gap_sum: f64 = gaps
            .values()
            .flat_map(|per| per.iter().flatten())
            .filter_map(|p| p.gap_to_rest())
            .sum();
        let count = |r: Rag| rags.iter().filter(|x| **x == r).count();
        let (lo, hi) = did.interval.unwrap_or((f64::NAN, f64::NAN));
        check = format!(
            "\"rows\":{},\"clusters\":{clusters},\"gap_sum\":{gap_sum:.6},\"rag\":[{},{},{},{}],\"did\":{:.9},\"ci\":[{lo:.4},{hi:.4}],\"treated\":{},\"comparison\":{}",
            parsed.rows.len(),
            count(Rag::Red),
            count(Rag::Amber),
            count(Rag::Green),
            count(Rag::NoData),
            did.estimate.unwrap_or(f64::NAN),
            did.treated.schools,
            did.comparison.schools
        );
    }
    println!(
        "{{\"runs\":{},\"parse_ms\":{:.1},\"gaps_ms\":{:.1},\"rag_ms\":{:.1},\"did_ms\":{:.1},\"summary_ms\":{:.1},{check}}}",
        runs.max(1),
        median(t_parse),
        median(t_gaps),
        median(t_rag),
        median(t_did),
        median(t_total)
    );
}

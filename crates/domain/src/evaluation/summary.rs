//! The authority summary over every cluster at once: each measure's gaps for every cluster (one
//! pass per measure), every cluster-level target's RAG from those same cluster means, and a
//! difference-in-differences of an initiative's clusters against every other school. Built from
//! the functions the pages use ([`gaps_by_cluster`], [`rag`], [`difference_in_differences`]); this
//! is what the evaluation benchmark times at England scale.

use super::analysis::{
    BeforeAfter, DidOptions, DidResult, GapInput, GapPoint, Windows, difference_in_differences, gaps_by_cluster,
};
use super::metrics::{MeasureDef, MetricRecord, Place};
use super::targets::{Rag, Target, rag};
use super::{AcademicYear, PupilGroup};
use crate::ids::Urn;
use std::collections::HashMap;

/// The schools of one measure (all pupils), grouped once for the steps below.
#[derive(Debug, Default)]
pub struct MeasureValues {
    /// (year, school, value; `None` for a symbol), in file order.
    pub schools: Vec<(AcademicYear, Urn, Option<f64>)>,
    pub national: Vec<(AcademicYear, f64)>,
}

/// Groups records (all pupils only) by measure code.
pub fn by_measure(records: &[MetricRecord]) -> HashMap<&str, MeasureValues> {
    let mut out: HashMap<&str, MeasureValues> = HashMap::new();
    for r in records.iter().filter(|r| r.group == PupilGroup::All) {
        let e = out.entry(r.measure.as_str()).or_default();
        match r.place {
            Place::School(u) => e.schools.push((r.period, u, r.value.number().map(|n| n.as_f64()))),
            Place::National => {
                if let Some(n) = r.value.number() {
                    e.national.push((r.period, n.as_f64()));
                }
            }
        }
    }
    out
}

/// Every cluster's gaps for one measure. `cluster_of` gives a school's cluster index.
pub fn measure_gaps(
    values: &MeasureValues,
    cluster_of: &dyn Fn(Urn) -> Option<u32>,
    clusters: usize,
) -> Vec<Vec<GapPoint>> {
    let inputs: Vec<GapInput> = values
        .schools
        .iter()
        .map(|&(period, urn, value)| GapInput {
            period,
            cluster: cluster_of(urn),
            value,
        })
        .collect();
    gaps_by_cluster(&inputs, clusters, &values.national)
}

/// A cluster-level target of one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterTarget {
    pub cluster: u32,
    pub target: Target,
}

/// Each target's RAG from its cluster's yearly means (the gap points' cluster side).
pub fn targets_rag(
    targets: &[ClusterTarget],
    gaps: &HashMap<&str, Vec<Vec<GapPoint>>>,
    measures: &[MeasureDef],
) -> Vec<Rag> {
    targets
        .iter()
        .map(|t| {
            let higher = measures
                .iter()
                .find(|m| m.code == t.target.measure)
                .is_none_or(|m| m.higher_is_better);
            let series: Vec<(AcademicYear, f64)> = gaps
                .get(t.target.measure.as_str())
                .and_then(|g| g.get(t.cluster as usize))
                .map(|points| {
                    points
                        .iter()
                        .filter_map(|p| Some((p.period, p.cluster.value?)))
                        .collect()
                })
                .unwrap_or_default();
            rag(&t.target, higher, &series).rag
        })
        .collect()
}

/// Difference-in-differences of the schools in `treated` clusters against every other school,
/// for one measure, over schools with a value in both windows.
pub fn initiative_did(
    values: &MeasureValues,
    cluster_of: &dyn Fn(Urn) -> Option<u32>,
    treated: &dyn Fn(u32) -> bool,
    windows: &Windows,
    measure: &MeasureDef,
    options: &DidOptions,
) -> DidResult {
    // Each school's sums in the two windows, in one pass.
    let mut sums: HashMap<Urn, [(f64, u32); 2]> = HashMap::new();
    for &(year, urn, value) in &values.schools {
        let Some(v) = value else { continue };
        let slot = if year >= windows.before.0 && year <= windows.before.1 {
            0
        } else if year >= windows.after.0 && year <= windows.after.1 {
            1
        } else {
            continue;
        };
        let e = sums.entry(urn).or_default();
        e[slot].0 += v;
        e[slot].1 += 1;
    }
    let mut schools: Vec<(Urn, BeforeAfter)> = sums
        .into_iter()
        .filter(|(_, s)| s[0].1 > 0 && s[1].1 > 0)
        .map(|(u, s)| {
            (
                u,
                BeforeAfter {
                    before: s[0].0 / f64::from(s[0].1),
                    after: s[1].0 / f64::from(s[1].1),
                },
            )
        })
        .collect();
    // A stable order, so the bootstrap draws the same schools for the same seed.
    schools.sort_unstable_by_key(|(u, _)| *u);
    let (mut t, mut c) = (Vec::new(), Vec::new());
    for (u, ba) in schools {
        if cluster_of(u).is_some_and(treated) {
            t.push(ba);
        } else {
            c.push(ba);
        }
    }
    difference_in_differences(&t, &c, measure.unit, measure.higher_is_better, options)
}

#[cfg(test)]
mod tests {
    use super::super::metrics::{Number, Observation, Unit, default_measures};
    use super::super::targets::TargetLevel;
    use super::*;

    #[test]
    fn the_summary_steps_agree_with_the_pieces() {
        let y = |s| AcademicYear::starting(s).unwrap();
        let urn = |n| Urn::from_u32(n).unwrap();
        let mut records = Vec::new();
        for (k, year) in (2019..2023).enumerate() {
            for s in 0..20u32 {
                let boost = if s < 10 && k >= 2 { 3.0 } else { 0.0 };
                records.push(MetricRecord {
                    line: 0,
                    period: y(year),
                    place: Place::School(urn(100_000 + s)),
                    measure: "ks2_rwm_expected".into(),
                    group: PupilGroup::All,
                    value: Observation::Value(Number::from_f64(50.0 + f64::from(s % 5) + k as f64 + boost).unwrap()),
                });
            }
        }
        let grouped = by_measure(&records);
        let cluster_of = |u: Urn| Some(u32::from(u.get() - 100_000 >= 10));
        let values = &grouped["ks2_rwm_expected"];
        let gaps = measure_gaps(values, &cluster_of, 2);
        assert_eq!(gaps[0].len(), 4);
        assert!((gaps[0][3].gap_to_rest().unwrap() - 3.0).abs() < 1e-9);
        let measures = default_measures();
        let target = Target {
            measure: "ks2_rwm_expected".into(),
            group: PupilGroup::All,
            level: TargetLevel::Cluster,
            baseline: Number::from_f64(52.0).unwrap(),
            baseline_year: y(2019),
            target: Number::from_f64(56.0).unwrap(),
            target_year: y(2023),
        };
        let mut by_code = HashMap::new();
        by_code.insert("ks2_rwm_expected", gaps);
        let rags = targets_rag(
            &[
                ClusterTarget {
                    cluster: 0,
                    target: target.clone(),
                },
                ClusterTarget { cluster: 1, target },
            ],
            &by_code,
            &measures,
        );
        // Cluster 0 reached 52 + 3 + 3 = 58 by 2022/23: met. Cluster 1 reached 55: on track.
        assert_eq!(rags, vec![Rag::Green, Rag::Green]);
        let windows = Windows {
            before: (y(2019), y(2020)),
            after: (y(2021), y(2022)),
        };
        let did = initiative_did(
            values,
            &cluster_of,
            &|c| c == 0,
            &windows,
            &measures[0],
            &DidOptions::default(),
        );
        assert!((did.estimate.unwrap() - 3.0).abs() < 1e-9);
        assert_eq!((did.treated.schools, did.comparison.schools), (10, 10));
        let _ = Unit::Percent;
    }
}

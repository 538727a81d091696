//! The demo's evaluation cycle, all synthetic and labelled so: five years of metrics for every
//! state-funded Norfolk school from a fixed seed (with DfE symbols where the DfE would write
//! them), a plan for last year and this year in every demo cluster, two FADE rounds with both
//! judgements (a few missing, as in the consortium's FADE 2 table), and one questionnaire.

use super::{EvaluationSettings, Values};
use crate::{Service, ServiceResult};
use domain::cluster::MembershipRole;
use domain::evaluation::AcademicYear;
use domain::evaluation::PupilGroup;
use domain::evaluation::fade::{Judgement, Report};
use domain::evaluation::metrics::{MetricRecord, Number, Observation, Place};
use domain::evaluation::plan::{Activity, Plan, Priority};
use domain::evaluation::questionnaire::{CRITERIA, Questionnaire, Response};
use domain::evaluation::targets::{Target, TargetLevel, propose};
use domain::ids::{AuthorityId, ClusterId, Urn};
use domain::money::Money;
use domain::school::Phase;
use std::collections::{BTreeMap, HashSet};

/// The note every page with metrics shows in the demo.
pub const SYNTHETIC_NOTE: &str =
    "The metrics in this demo are synthetic (illustrative), generated from a fixed seed: they are not real results.";

/// A deterministic number in [0, 1) from a key (SplitMix64).
fn unit(key: u64) -> f64 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Noise in [−size, size] for a school, a measure slot and a year.
fn noise(urn: Urn, slot: u64, year: u16, size: f64) -> f64 {
    let key = u64::from(urn.get()) * 1_000_003 + slot * 10_007 + u64::from(year);
    (unit(key) * 2.0 - 1.0) * size
}

fn value(v: f64, lo: f64, hi: f64) -> Observation {
    Number::from_f64((v.clamp(lo, hi) * 10.0).round() / 10.0).map_or(Observation::NotAvailable, Observation::Value)
}

impl Service {
    /// Seeds the demo's metrics, plans, FADE rounds and a questionnaire. Meant for a fresh demo.
    pub(crate) async fn seed_demo_evaluation(&self, authority: AuthorityId) -> ServiceResult<()> {
        let today = self.clock.today();
        let this_year = AcademicYear::containing(today);
        let last_year = this_year.previous();
        let first = AcademicYear::starting(this_year.start_year().saturating_sub(5)).unwrap_or(this_year);
        let years: Vec<AcademicYear> = (0..5)
            .filter_map(|k| AcademicYear::starting(first.start_year() + k).ok())
            .collect();
        // Activities began two school years ago, so they have run long enough to be judged.
        let activity_start = years.get(3).copied().unwrap_or(last_year);
        let schools = self.store.all_schools(authority).await?;
        let clusters = self.store.list_clusters(authority, today).await?;
        let memberships = self.store.current_memberships(authority, today).await?;
        let mut members: BTreeMap<ClusterId, Vec<(Urn, MembershipRole)>> = BTreeMap::new();
        for (u, c, r) in &memberships {
            members.entry(*c).or_default().push((*u, *r));
        }
        let biggest = clusters
            .iter()
            .max_by_key(|c| (c.pupils, std::cmp::Reverse(c.cluster.id)))
            .map(|c| c.cluster.id);
        // Clusters where the reading work shows an effect: the demo clerk's and every third.
        let effective: HashSet<ClusterId> = clusters
            .iter()
            .enumerate()
            .filter(|(i, c)| i % 3 == 0 || Some(c.cluster.id) == biggest)
            .map(|(_, c)| c.cluster.id)
            .collect();
        let cluster_of: BTreeMap<Urn, ClusterId> = memberships.iter().map(|(u, c, _)| (*u, *c)).collect();

        let mut rows = Vec::new();
        let mut push = |period: AcademicYear, place: Place, measure: &str, group: PupilGroup, value: Observation| {
            rows.push(MetricRecord {
                line: 0,
                period,
                place,
                measure: measure.to_string(),
                group,
                value,
            });
        };
        for s in schools.iter().filter(|s| s.school.is_state_funded()) {
            let urn = s.school.urn;
            let fsm = s
                .census
                .as_ref()
                .and_then(|c| c.fsm_pct)
                .map_or(20.0, |t| t.0 as f64 / 10.0);
            let pupils = s.pupils();
            let quality = noise(urn, 0, 0, 1.0);
            let place = Place::School(urn);
            let boosted = cluster_of.get(&urn).is_some_and(|c| effective.contains(c));
            let phase = s.school.phase;
            let primary = matches!(phase, Phase::Primary | Phase::MiddlePrimary);
            let secondary = matches!(phase, Phase::Secondary | Phase::AllThrough | Phase::MiddleSecondary);
            for (t, &y) in years.iter().enumerate() {
                let t = t as f64;
                let after = if y >= activity_start {
                    f64::from(y.start_year() - activity_start.start_year() + 1)
                } else {
                    0.0
                };
                let small = pupils < 120;
                if primary {
                    let all = 58.0 + 9.0 * quality - 0.45 * (fsm - 20.0)
                        + 0.8 * t
                        + if boosted { 2.5 * after } else { 0.0 }
                        + noise(urn, 1, y.start_year(), 3.0);
                    push(y, place, "ks2_rwm_expected", PupilGroup::All, value(all, 5.0, 98.0));
                    let fsm_v = if small {
                        Observation::Suppressed
                    } else {
                        value(all - 19.0 + noise(urn, 2, y.start_year(), 4.0), 0.0, 95.0)
                    };
                    push(y, place, "ks2_rwm_expected", PupilGroup::Fsm, fsm_v);
                    push(
                        y,
                        place,
                        "ks2_rwm_expected",
                        PupilGroup::NonFsm,
                        value(all + 4.0 + noise(urn, 3, y.start_year(), 2.0), 5.0, 99.0),
                    );
                }
                if secondary {
                    let a8 = 45.0 + 6.0 * quality - 0.3 * (fsm - 20.0) + 0.3 * t + noise(urn, 4, y.start_year(), 1.5);
                    push(y, place, "ks4_attainment8", PupilGroup::All, value(a8, 10.0, 80.0));
                    push(
                        y,
                        place,
                        "ks4_attainment8",
                        PupilGroup::Fsm,
                        value(a8 - 13.0 + noise(urn, 5, y.start_year(), 2.0), 5.0, 75.0),
                    );
                    let basics =
                        63.0 + 11.0 * quality - 0.6 * (fsm - 20.0) + 0.5 * t + noise(urn, 6, y.start_year(), 3.0);
                    push(y, place, "ks4_basics_4plus", PupilGroup::All, value(basics, 5.0, 98.0));
                    let susp = 7.0 - 3.0 * quality + 0.1 * (fsm - 20.0) + noise(urn, 7, y.start_year(), 2.0);
                    push(y, place, "suspension_rate", PupilGroup::All, value(susp, 0.0, 60.0));
                    let perm = ((unit(u64::from(urn.get()) * 31 + u64::from(y.start_year())) * 6.0).floor()).max(0.0);
                    push(
                        y,
                        place,
                        "permanent_exclusions",
                        PupilGroup::All,
                        value(perm, 0.0, 50.0),
                    );
                }
                if primary || secondary || phase == Phase::Special {
                    let base = if secondary { 91.5 } else { 95.0 } - if phase == Phase::Special { 4.0 } else { 0.0 };
                    let att = base + 0.9 * quality - 0.04 * (fsm - 20.0) + 0.1 * t + noise(urn, 8, y.start_year(), 0.5);
                    // One school in forty did not return attendance one year: `x`, never a zero.
                    let obs = if unit(u64::from(urn.get()) * 7 + u64::from(y.start_year())) < 0.025 {
                        Observation::NotAvailable
                    } else {
                        value(att, 70.0, 99.9)
                    };
                    push(y, place, "attendance", PupilGroup::All, obs);
                    let pa = (if secondary { 24.0 } else { 15.0 }) - 3.0 * quality + 0.25 * (fsm - 20.0) - 0.3 * t
                        + noise(urn, 9, y.start_year(), 2.0);
                    push(y, place, "persistent_absence", PupilGroup::All, value(pa, 1.0, 70.0));
                    let pa_fsm = if small {
                        Observation::Suppressed
                    } else {
                        value(pa + 13.0 + noise(urn, 10, y.start_year(), 3.0), 1.0, 80.0)
                    };
                    push(y, place, "persistent_absence", PupilGroup::Fsm, pa_fsm);
                }
            }
        }
        for (k, y) in years.iter().enumerate() {
            let t = k as f64;
            for (measure, group, v) in [
                ("ks2_rwm_expected", PupilGroup::All, 59.0 + 0.7 * t),
                ("ks2_rwm_expected", PupilGroup::Fsm, 43.0 + 0.6 * t),
                ("ks4_attainment8", PupilGroup::All, 46.2 + 0.2 * t),
                ("ks4_basics_4plus", PupilGroup::All, 65.0 + 0.4 * t),
                ("attendance", PupilGroup::All, 92.8 + 0.1 * t),
                ("persistent_absence", PupilGroup::All, 21.0 - 0.4 * t),
            ] {
                push(*y, Place::National, measure, group, value(v, 0.0, 100.0));
            }
        }
        self.store.save_metrics(authority, &rows, &[]).await?;
        self.store
            .save_evaluation_settings(
                authority,
                &EvaluationSettings {
                    metrics_note: Some(SYNTHETIC_NOTE.into()),
                    ..EvaluationSettings::default()
                },
            )
            .await?;
        let values = Values::new(rows);
        let settings = self.settings_of(authority).await?;
        let phase_of: BTreeMap<Urn, Phase> = schools.iter().map(|s| (s.school.urn, s.school.phase)).collect();
        let scale = settings.scale.levels().to_vec();
        let level = |i: usize| {
            scale
                .get(i.min(scale.len().saturating_sub(1)))
                .cloned()
                .unwrap_or_default()
        };

        for (i, c) in clusters.iter().enumerate() {
            let Some(schools) = members.get(&c.cluster.id) else {
                continue;
            };
            let urns: HashSet<Urn> = schools.iter().map(|(u, _)| *u).collect();
            let primaries: Vec<Urn> = schools
                .iter()
                .filter(|(u, _)| matches!(phase_of.get(u), Some(Phase::Primary | Phase::MiddlePrimary)))
                .map(|(u, _)| *u)
                .collect();
            let host = schools
                .iter()
                .find(|(_, r)| *r == MembershipRole::Host)
                .or_else(|| schools.first())
                .map(|(u, _)| *u);
            let Some(host) = host else { continue };
            let lead_primary = primaries.first().copied().unwrap_or(host);
            for plan_year in [last_year, this_year] {
                let mut plan = Plan::new(c.cluster.id, plan_year);
                plan.priorities.push(Priority {
                    title: "Close the gap for disadvantaged pupils in reading, writing and maths".into(),
                    detail: "Pupils eligible for free school meals reach the expected standard at the rate of their peers (synthetic example).".into(),
                });
                plan.priorities.push(Priority {
                    title: "Improve attendance and reduce persistent absence".into(),
                    detail: "Fewer pupils miss one session in ten (synthetic example).".into(),
                });
                let start = activity_start.first_day();
                plan.activities.push(Activity {
                    title: "Reading and maths catch-up for pupils eligible for free school meals".into(),
                    priority: 0,
                    lead_school: lead_primary,
                    strand: "tailored".into(),
                    participating: if primaries.is_empty() {
                        vec![host]
                    } else {
                        primaries.clone()
                    },
                    funding_stream: "Tailored (primary)".into(),
                    budget: Money::from_pence(600_000 + 150_000 * primaries.len() as i64),
                    starts_on: start,
                    ends_on: plan_year.last_day(),
                    success_criteria: "FSM pupils at the expected standard in KS2 up 6 points over two years".into(),
                    measure: Some("ks2_rwm_expected".into()),
                });
                let mut everyone: Vec<Urn> = urns.iter().copied().collect();
                everyone.sort_unstable();
                plan.activities.push(Activity {
                    title: "Shared attendance officer across the cluster".into(),
                    priority: 1,
                    lead_school: host,
                    strand: "mentor_lsu".into(),
                    participating: everyone,
                    funding_stream: "Learning mentors and LSU".into(),
                    budget: Money::from_pence(2_400_000),
                    starts_on: start,
                    ends_on: plan_year.last_day(),
                    success_criteria: "Attendance up half a point; persistent absence down 2 points".into(),
                    measure: Some("attendance".into()),
                });
                plan.activities.push(Activity {
                    title: "Year 6 to Year 7 transition mentoring".into(),
                    priority: 1,
                    lead_school: host,
                    strand: "mentor_lsu".into(),
                    participating: vec![host],
                    funding_stream: "Learning mentors and LSU".into(),
                    budget: Money::from_pence(850_000),
                    starts_on: plan_year.first_day(),
                    ends_on: plan_year.last_day(),
                    success_criteria: "Every Year 7 pupil with a mentor attends 95% in the autumn term".into(),
                    measure: None,
                });
                let baseline_year = plan_year.previous().previous();
                let target_year = plan_year.next();
                for (measure, group, level) in [
                    ("ks2_rwm_expected", PupilGroup::Fsm, TargetLevel::Cluster),
                    ("persistent_absence", PupilGroup::All, TargetLevel::Cluster),
                    ("ks4_basics_4plus", PupilGroup::All, TargetLevel::School(host)),
                ] {
                    let series = match level {
                        TargetLevel::Cluster => values.group_series(measure, group, &urns, baseline_year),
                        TargetLevel::School(u) => values.school_series(measure, group, u, baseline_year),
                    };
                    let Some(&(_, baseline)) = series.iter().rev().find(|(y, _)| *y == baseline_year) else {
                        continue;
                    };
                    let higher = measure != "persistent_absence";
                    let unit = domain::evaluation::metrics::Unit::Percent;
                    let p = propose(&series, target_year, unit, higher);
                    let step = if higher { 2.0 } else { -2.0 };
                    let goal = p.proposed.map_or(baseline + step, |x| {
                        if (x - baseline).abs() < 1.0 { baseline + step } else { x }
                    });
                    let (Some(b), Some(t)) = (
                        Number::from_f64(round1(baseline)),
                        Number::from_f64(round1(goal).clamp(0.0, 100.0)),
                    ) else {
                        continue;
                    };
                    plan.targets.push(Target {
                        measure: measure.into(),
                        group,
                        level,
                        baseline: b,
                        baseline_year,
                        target: t,
                        target_year,
                    });
                }
                self.store.save_plan(authority, &plan).await?;
            }

            // Two FADE rounds of last year, both judged (a few judgements missing).
            for (k, round) in settings.calendar.rounds_in(last_year).iter().enumerate().take(2) {
                let base = match (i + k) % 11 {
                    0 | 6 => 1,
                    3 => 3,
                    _ => 2,
                } + usize::from(i % 13 == 5 && k == 1);
                let cluster_level = if i == 7 { 0 } else { base };
                let authority_level = if i % 4 == 1 {
                    cluster_level.saturating_sub(1)
                } else {
                    cluster_level.min(2)
                };
                let on = round.due.checked_sub_days(domain::Days::new(12)).unwrap_or(round.due);
                let judged = |lvl: usize, by: &str| Judgement {
                    level: level(lvl),
                    by: by.into(),
                    on,
                    comment: "(synthetic)".into(),
                };
                let report = Report {
                    cluster: c.cluster.id,
                    due: round.due,
                    focus: "Disadvantaged pupils' reading and maths; attendance (synthetic).".into(),
                    analysis_notes: "The FSM gap is narrowing in most schools; attendance is flat (synthetic).".into(),
                    develop_do:
                        "Catch-up groups run in every primary; the attendance officer visits weekly (synthetic).".into(),
                    evaluation: "Good progress on reading; the attendance work needs a rethink (synthetic).".into(),
                    cluster_judgement: (i % 17 != 3).then(|| judged(cluster_level, "Demo cluster clerk (synthetic)")),
                    authority_judgement: (i % 9 != 4).then(|| judged(authority_level, "Demo adviser (synthetic)")),
                };
                self.store.save_fade_report(authority, &report).await?;
            }
        }

        // One questionnaire in the demo clerk's cluster, answered by most of its heads.
        if let Some(id) = biggest
            && let Some(schools) = members.get(&id)
        {
            let sent_on = today.checked_sub_days(domain::Days::new(14)).unwrap_or(today);
            let q = Questionnaire {
                id: 0,
                cluster: id,
                title: "Cluster review: headteachers' views (synthetic answers)".into(),
                sent_on,
                closes_on: today.checked_add_days(domain::Days::new(30)).unwrap_or(today),
                schools: schools.iter().map(|(u, _)| *u).collect(),
            };
            let qid = self.store.create_questionnaire(authority, &q).await?;
            // The host's head (the demo head) has not answered yet.
            for (k, (u, _)) in schools
                .iter()
                .enumerate()
                .filter(|(_, (_, r))| *r != MembershipRole::Host)
            {
                if k % 5 == 4 {
                    continue;
                }
                let answers = (0..CRITERIA.len())
                    .map(|j| {
                        if (j + k) % 7 == 6 {
                            None
                        } else {
                            Some(1 + usize::from((j * 3 + k) % 4 != 0))
                        }
                    })
                    .collect();
                let response = Response {
                    school: *u,
                    answers,
                    comment: "(synthetic)".into(),
                    submitted_on: sent_on,
                };
                self.store
                    .save_questionnaire_response(authority, qid, &response)
                    .await?;
            }
        }
        Ok(())
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

//! Worked examples from PRODUCT.md and the issue, one per allocation model, each checked to the
//! penny with its explanation; and every bad policy refused with the field named.
#![allow(clippy::unwrap_used)]

use domain::cluster::MembershipRole;
use domain::funding::engine::{Component, ShareModel, TopSlice};
use domain::funding::{
    AllocationError, BudgetRule, ClusterInput, Eligibility, Factor, FundingPolicy, Granularity, NationalSplit,
    NeedIndex, Normalisation, Period, Pot, PupilBasis, Pupils, RingFence, SchoolData, Stream, StreamPot,
    allocate_policy, allocate_pot,
};
use domain::ids::Urn;
use domain::money::{Money, Rate};
use domain::school::{Phase, Tenths};
use rust_decimal::Decimal;

fn urn(i: u32) -> Urn {
    Urn::from_u32(100_000 + i).unwrap()
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn pounds(p: i64) -> Money {
    Money::from_pounds(p).unwrap()
}

fn school(i: u32, pupils: u32) -> SchoolData {
    SchoolData {
        fsm: Some(pupils / 5),
        ..SchoolData::new(urn(i), Phase::Primary, pupils)
    }
}

fn pot(components: Vec<Component>) -> Pot {
    Pot {
        ring_fence: RingFence {
            stream: "test".into(),
            phase: "all".into(),
        },
        eligibility: Eligibility::default(),
        granularity: Granularity::Penny,
        top_slice: None,
        components,
    }
}

fn share(name: &str, percent: &str, model: ShareModel) -> Component {
    Component::Share {
        name: name.into(),
        percent: d(percent),
        model,
    }
}

fn mentors(with_lsu: &str, other: &str) -> Component {
    Component::Posts {
        name: "learning mentors".into(),
        step: d("0.5"),
        with_lsu: d(with_lsu),
        other: d(other),
        cost_per_fte: pounds(24_000),
    }
}

fn need(factors: &[(Factor, &str)]) -> NeedIndex {
    NeedIndex {
        factors: factors.iter().map(|(f, w)| (*f, d(w))).collect(),
        normalisation: Normalisation::ShareOfTotal,
    }
}

#[test]
fn twenty_thousand_pounds_three_ways_the_leftover_pennies_go_to_the_lowest_urns() {
    // The Welsh £20,000 a cluster, split equally between three schools. £20,000 ÷ 3 =
    // £6,666.666…: each gets 666,666p and 2p are left over. The three remainders are equal, so
    // the stated tie-break (lower URN first) gives them to 100001 and 100002; 100003 gets
    // £6,666.66.
    let p = pot(vec![share("equal", "100", ShareModel::Equal)]);
    let schools = [school(3, 100), school(1, 300), school(2, 200)];
    let a = allocate_pot(&p, pounds(20_000), &schools).unwrap();
    assert_eq!(a.school_total(urn(1)), Money::from_pence(666_667));
    assert_eq!(a.school_total(urn(2)), Money::from_pence(666_667));
    assert_eq!(a.school_total(urn(3)), Money::from_pence(666_666));
    assert!(a.reconciles());
    assert_eq!(
        a.lines[0].explanation.to_string(),
        "100% of £20,000.00 is £20,000.00; an equal share (1 of 3 schools) → £6,666.67"
    );
}

#[test]
fn learning_mentors_one_and_a_half_fte_with_an_lsu_one_without() {
    let mut host = school(1, 900);
    host.hosts_lsu = true;
    let p = pot(vec![mentors("1.5", "1")]);
    let a = allocate_pot(&p, pounds(100_000), &[host, school(2, 800)]).unwrap();
    assert_eq!(a.school_total(urn(1)), pounds(36_000));
    assert_eq!(a.school_total(urn(2)), pounds(24_000));
    assert_eq!(
        a.lines[0].explanation.to_string(),
        "1.5 FTE (hosts an LSU) × £24,000.00 = £36,000.00"
    );
    assert_eq!(a.lines[1].explanation.to_string(), "1 FTE × £24,000.00 = £24,000.00");
    // The £40,000 no component shares is held centrally, stated, and the pot reconciles.
    assert_eq!(a.central(), pounds(40_000));
    assert!(a.reconciles());
}

#[test]
fn lsu_units_go_to_the_neediest_schools_who_then_get_the_larger_mentor_post() {
    // One learning-mentor + LSU stream: 2 LSU units at £49,800 (the mean seen) placed by FSM
    // count, then mentors at 1.5 FTE where a unit was placed and 1 FTE elsewhere.
    let schools = [school(1, 100), school(2, 500), school(3, 300), school(4, 500)];
    let p = pot(vec![
        Component::LsuUnits {
            name: "LSU".into(),
            units: 2,
            unit_cost: pounds(49_800),
            need: need(&[(Factor::Fsm, "1")]),
        },
        mentors("1.5", "1"),
    ]);
    let a = allocate_pot(&p, pounds(300_000), &schools).unwrap();
    // FSM 20, 100, 60, 100: schools 2 and 4 tie on need; both are in the top two.
    for (i, lsu, mentor) in [(1, 0, 24_000), (2, 49_800, 36_000), (3, 0, 24_000), (4, 49_800, 36_000)] {
        assert_eq!(a.school_total(urn(i)), pounds(lsu + mentor), "school {i}");
    }
    assert!(a.reconciles());
    let lsu_line = a
        .lines
        .iter()
        .find(|l| l.urn == Some(urn(4)) && &*l.component == "LSU")
        .unwrap();
    assert_eq!(
        lsu_line.explanation.to_string(),
        "an LSU unit at £49,800.00: 2nd of 4 eligible schools on need (score 0.357142857143)"
    );
    // More units than eligible schools is refused.
    let too_many = pot(vec![Component::LsuUnits {
        name: "LSU".into(),
        units: 5,
        unit_cost: pounds(49_800),
        need: need(&[(Factor::Fsm, "1")]),
    }]);
    assert!(matches!(
        allocate_pot(&too_many, pounds(300_000), &schools),
        Err(AllocationError::TooManyUnits {
            units: 5,
            eligible: 4,
            ..
        })
    ));
}

#[test]
fn a_pool_of_mentors_shared_by_a_group_of_schools_splits_its_cost() {
    // 2 FTE shared by three small primaries, the cost split by pupils; a fourth school outside.
    let schools = [school(1, 100), school(2, 200), school(3, 100), school(4, 400)];
    let p = pot(vec![Component::Pool {
        name: "shared mentors".into(),
        schools: vec![urn(3), urn(1), urn(2)],
        fte: d("2"),
        step: d("0.5"),
        cost_per_fte: pounds(24_000),
        split: ShareModel::Pupils(Pupils::All(PupilBasis::Headcount)),
    }]);
    let a = allocate_pot(&p, pounds(48_000), &schools).unwrap();
    assert_eq!(a.school_total(urn(1)), pounds(12_000));
    assert_eq!(a.school_total(urn(2)), pounds(24_000));
    assert_eq!(a.school_total(urn(3)), pounds(12_000));
    assert_eq!(a.school_total(urn(4)), Money::ZERO);
    assert!(a.reconciles());
    // An FTE budget that cannot be met in whole 0.5 FTE steps is refused, naming the field.
    let mut bad = p.clone();
    if let Component::Pool { fte, .. } = &mut bad.components[0] {
        *fte = d("2.25");
    }
    let e = allocate_pot(&bad, pounds(48_000), &schools).unwrap_err();
    assert!(matches!(e, AllocationError::FteNotWholeSteps { field: "fte", .. }));
    assert_eq!(
        e.to_string(),
        "stream \"test\" (all) component \"shared mentors\" fte: 2.25 FTE is not a whole number of 0.5 FTE steps"
    );
    let e = allocate_pot(&pot(vec![mentors("1.25", "1")]), pounds(99_000), &schools).unwrap_err();
    assert!(matches!(
        e,
        AllocationError::FteNotWholeSteps {
            field: "with_lsu_fte",
            ..
        }
    ));
}

#[test]
fn a_54_percent_flat_gifted_and_talented_split() {
    // G&T £10,000 with a 10 % top-slice for the central co-ordinator: £1,000 retained, then 54 %
    // of £9,000 (£4,860) split equally (£1,620 each) and 46 % (£4,140) by pupils 200 : 600 : 1,200
    // (£414, £1,242, £2,484).
    let mut p = pot(vec![
        share("flat share", "54", ShareModel::Equal),
        share(
            "per pupil",
            "46",
            ShareModel::Pupils(Pupils::All(PupilBasis::Headcount)),
        ),
    ]);
    p.top_slice = Some(TopSlice {
        percent: d("10"),
        purpose: "the central G&T co-ordinator".into(),
    });
    let a = allocate_pot(&p, pounds(10_000), &[school(1, 200), school(2, 600), school(3, 1_200)]).unwrap();
    assert_eq!(a.top_slice, pounds(1_000));
    assert_eq!(a.school_total(urn(1)), pounds(2_034));
    assert_eq!(a.school_total(urn(2)), pounds(2_862));
    assert_eq!(a.school_total(urn(3)), pounds(4_104));
    assert!(a.reconciles());
    assert_eq!(
        a.lines[0].explanation.to_string(),
        "10% of £10,000.00 retained for the central G&T co-ordinator, rounded down to the penny = £1,000.00"
    );
    assert_eq!(
        a.school_summary(urn(1)),
        "flat share £1,620.00 + per pupil £414.00 = £2,034.00"
    );
    let per_pupil = a
        .lines
        .iter()
        .find(|l| l.urn == Some(urn(1)) && &*l.component == "per pupil")
        .unwrap();
    assert_eq!(
        per_pupil.explanation.to_string(),
        "46% of £9,000.00 is £4,140.00; 200 of 2000 pupils → £414.00"
    );
}

#[test]
fn fifty_fifty_by_inspection_grade_gives_worse_grades_more() {
    // £12,000: 50 % flat, 50 % by grade with weight = grade (1 best … 7 worst). Grades 2 and 4.
    let p = pot(vec![
        share("flat", "50", ShareModel::Equal),
        share(
            "by grade",
            "50",
            ShareModel::ByGrade {
                weights: [1, 2, 3, 4, 5, 6, 7].map(Decimal::from),
                ungraded: None,
            },
        ),
    ]);
    let mut good = school(1, 300);
    good.inspection_grade = Some(2);
    let mut weak = school(2, 300);
    weak.inspection_grade = Some(4);
    let a = allocate_pot(&p, pounds(12_000), &[good.clone(), weak]).unwrap();
    // £6,000 flat (£3,000 each); £6,000 split 2 : 4 (£2,000 and £4,000).
    assert_eq!(a.school_total(urn(1)), pounds(5_000));
    assert_eq!(a.school_total(urn(2)), pounds(7_000));
    assert!(a.reconciles());
    let by_grade = a
        .lines
        .iter()
        .find(|l| l.urn == Some(urn(2)) && &*l.component == "by grade")
        .unwrap();
    assert_eq!(
        by_grade.explanation.to_string(),
        "50% of £12,000.00 is £6,000.00; grade 4 weighs 4 of 6 → £4,000.00"
    );
    // A school without a grade is refused unless the policy says what it weighs.
    let e = allocate_pot(&p, pounds(12_000), &[good, school(3, 100)]).unwrap_err();
    assert!(matches!(
        e,
        AllocationError::MissingData {
            field: "inspection grade",
            ..
        }
    ));
}

#[test]
fn flat_plus_a_per_pupil_rate_explains_itself_in_one_line() {
    let p = pot(vec![
        Component::Flat {
            name: "flat".into(),
            amount: pounds(5_400),
        },
        Component::PerPupilRate {
            name: "per pupil".into(),
            rate: Rate::parse("10.00").unwrap(),
            pupils: Pupils::All(PupilBasis::Headcount),
        },
    ]);
    let a = allocate_pot(&p, pounds(10_520), &[school(1, 512)]).unwrap();
    assert_eq!(
        a.school_summary(urn(1)),
        "flat £5,400.00 + 512 pupils × £10.00 = £10,520.00"
    );
    assert!(a.reconciles());
}

#[test]
fn years_five_to_eleven_are_approximated_from_the_census_stages() {
    // KS2 (Y3–Y6) 240 pupils: Years 5–6 are 2 of its 4 years, so 120; KS3 180 and KS4 120 count
    // in full: 420. A primary with only KS1 60 and KS2 200 counts 100.
    let mut sec = school(1, 540);
    sec.stages = [None, None, None, Some(240), Some(180), Some(120), None];
    let mut pri = school(2, 260);
    pri.stages = [None, None, Some(60), Some(200), None, None, None];
    let years = Pupils::Years { from: 5, to: 11 };
    assert_eq!(years.count(&sec), Some(d("420")));
    assert_eq!(years.count(&pri), Some(d("100")));
    let p = pot(vec![Component::PerPupilRate {
        name: "G&T Y5–11".into(),
        rate: Rate::parse("1.5").unwrap(),
        pupils: years,
    }]);
    let a = allocate_pot(&p, pounds(1_000), &[sec, pri]).unwrap();
    assert_eq!(a.school_total(urn(1)), pounds(630));
    assert_eq!(
        a.lines[0].explanation.to_string(),
        "420 pupils in Years 5–11 × £1.50 = £630.00"
    );
    // FTE pupils.
    let mut fte = school(3, 100);
    fte.pupils_fte = Some(Tenths(905));
    assert_eq!(Pupils::All(PupilBasis::Fte).count(&fte), Some(d("90.5")));
}

#[test]
fn fsm_weighted_pupils_and_fsm_count_rate() {
    // pupils × (1 + 1.5 × FSM share) = pupils + 1.5 × FSM: 100 + 30 = 130 and 100 + 0 = 100.
    let mut a1 = school(1, 100);
    a1.fsm = Some(20);
    let mut a2 = school(2, 100);
    a2.fsm = Some(0);
    let p = pot(vec![share(
        "FSM-weighted",
        "100",
        ShareModel::FsmWeighted { weight: d("1.5") },
    )]);
    let a = allocate_pot(&p, pounds(2_300), &[a1.clone(), a2.clone()]).unwrap();
    assert_eq!(a.school_total(urn(1)), pounds(1_300));
    assert_eq!(a.school_total(urn(2)), pounds(1_000));
    assert_eq!(
        a.lines[0].explanation.to_string(),
        "100% of £2,300.00 is £2,300.00; 100 pupils × (1 + 1.5 × 20/100 FSM) = 100 + 1.5 × 20 = 130 of 230 → £1,300.00"
    );
    let p = pot(vec![Component::FsmRate {
        name: "FSM".into(),
        rate: Rate::parse("£50").unwrap(),
    }]);
    let a = allocate_pot(&p, pounds(1_000), &[a1, a2]).unwrap();
    assert_eq!(a.school_total(urn(1)), pounds(1_000));
    assert_eq!(a.lines[0].explanation.to_string(), "20 FSM pupils × £50.00 = £1,000.00");
}

fn needy(i: u32, pupils: u32, fsm: u32, low: &str, boys: &str) -> SchoolData {
    let mut s = school(i, pupils);
    s.fsm = Some(fsm);
    s.factors[Factor::LowAttainment.supplied_index().unwrap()] = Some(d(low));
    s.factors[Factor::Boys.supplied_index().unwrap()] = Some(d(boys));
    s
}

#[test]
fn a_multi_factor_need_index_and_a_minimum_then_need() {
    // Index = 0.5 × FSM share of the cluster's FSM pupils + 0.3 × low attainment share
    // + 0.2 × boys share. FSM 30/60/10 of 100; low attainment 10/20/20 of 50; boys 0.5/0.5/0.5.
    // Scores: 0.15 + 0.06 + 0.0666… = 0.276666666667; 0.3 + 0.12 + 0.0666… = 0.486666666667;
    // 0.05 + 0.12 + 0.0666… = 0.236666666667 (12 decimal places, stated).
    let schools = [
        needy(1, 300, 30, "10", "0.5"),
        needy(2, 300, 60, "20", "0.5"),
        needy(3, 300, 10, "20", "0.5"),
    ];
    let index = need(&[
        (Factor::Fsm, "0.5"),
        (Factor::LowAttainment, "0.3"),
        (Factor::Boys, "0.2"),
    ]);
    let p = pot(vec![share("by need", "100", ShareModel::Need(index.clone()))]);
    let a = allocate_pot(&p, pounds(10_000), &schools).unwrap();
    assert!(a.reconciles());
    assert!(a.school_total(urn(2)) > a.school_total(urn(1)));
    assert!(a.school_total(urn(1)) > a.school_total(urn(3)));
    // The exact shares are 276,666.67p, 486,666.67p and 236,666.67p less a trace (the scores,
    // rounded to 12 places, add up to 1.000000000001); the two pence left over go to the two
    // largest remainders, schools 1 and 3.
    assert_eq!(
        [1, 2, 3].map(|i| a.school_total(urn(i)).pence()),
        [276_667, 486_666, 236_667]
    );
    // A £2,000 minimum each, then the remaining £4,000 by need.
    let p = pot(vec![share(
        "minimum then need",
        "100",
        ShareModel::MinimumThenNeed {
            minimum: pounds(2_000),
            need: index.clone(),
        },
    )]);
    let a = allocate_pot(&p, pounds(10_000), &schools).unwrap();
    assert!(a.reconciles());
    assert_eq!(a.school_total(urn(3)), Money::from_pence(200_000 + 94_667));
    assert_eq!(
        a.lines[2].explanation.to_string(),
        "100% of £10,000.00 is £10,000.00; minimum £2,000.00 + need score 0.236666666667 of 1.000000000001 of the £4,000.00 left after minimums → £2,946.67"
    );
    // Minimums that cannot be met are refused.
    let p = pot(vec![share(
        "minimum then need",
        "100",
        ShareModel::MinimumThenNeed {
            minimum: pounds(4_000),
            need: index,
        },
    )]);
    assert!(matches!(
        allocate_pot(&p, pounds(10_000), &schools),
        Err(AllocationError::MinimumExceedsShare { .. })
    ));
    // Range normalisation: the least needy school on every factor scores 0.
    let range = NeedIndex {
        factors: vec![(Factor::Fsm, d("1"))],
        normalisation: Normalisation::Range,
    };
    let scored: Vec<&SchoolData> = schools.iter().collect();
    assert_eq!(range.scores(&scored).unwrap(), vec![d("0.4"), d("1"), d("0")]);
}

#[test]
fn an_earmark_goes_to_the_school_leading_the_activity() {
    let p = pot(vec![
        Component::Earmark {
            name: "transition project".into(),
            activity: "Year 6–7 transition".into(),
            school: urn(2),
            amount: pounds(3_000),
        },
        share("equal", "100", ShareModel::Equal),
    ]);
    let a = allocate_pot(&p, pounds(9_000), &[school(1, 100), school(2, 100)]).unwrap();
    assert_eq!(a.school_total(urn(2)), pounds(6_000));
    assert_eq!(a.school_total(urn(1)), pounds(3_000));
    let mut unknown = p.clone();
    if let Component::Earmark { school, .. } = &mut unknown.components[0] {
        *school = urn(9);
    }
    let e = allocate_pot(&unknown, pounds(9_000), &[school(1, 100), school(2, 100)]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "stream \"test\" (all) component \"transition project\" school: 100009 is not an eligible school in this cluster"
    );
}

#[test]
fn eligibility_filters_phase_strand_exclusions_and_unfunded_members() {
    let mut sec = school(1, 900);
    sec.phase = Phase::Secondary;
    let mut unfunded = school(2, 100);
    unfunded.role = MembershipRole::UnfundedMember;
    let mut not_in_strand = school(3, 100);
    not_in_strand.strands = Some(vec!["learning mentors".into()]);
    let mut in_strand = school(4, 100);
    in_strand.strands = Some(vec!["gifted and talented".into()]);
    let excluded = school(5, 100);
    let mut independent = school(6, 100);
    independent.state_funded = false;
    let everyone = school(7, 100);
    let mut p = pot(vec![share("equal", "100", ShareModel::Equal)]);
    p.eligibility = Eligibility {
        phases: Some(vec![Phase::Primary]),
        strand: Some("gifted and talented".into()),
        excluded: vec![urn(5)],
    };
    let a = allocate_pot(
        &p,
        pounds(100),
        &[sec, unfunded, not_in_strand, in_strand, excluded, independent, everyone],
    )
    .unwrap();
    let funded: Vec<Urn> = a.lines.iter().filter_map(|l| l.urn).collect();
    assert_eq!(funded, vec![urn(4), urn(7)]);
}

#[test]
fn bad_policies_are_refused_naming_the_field() {
    let schools = [school(1, 100), school(2, 100)];
    let mut over = pot(vec![share("equal", "100", ShareModel::Equal)]);
    over.top_slice = Some(TopSlice {
        percent: d("100.01"),
        purpose: "x".into(),
    });
    let zero_weights = pot(vec![share(
        "need",
        "100",
        ShareModel::Need(need(&[(Factor::Fsm, "0"), (Factor::Boys, "0")])),
    )]);
    let cases: Vec<(Pot, &str)> = vec![
        (over, "top_slice.percent: 100.01% is over 100 %"),
        (
            pot(vec![share("a", "60", ShareModel::Equal)]),
            "share: the shares add up to 60%, not 100 %",
        ),
        (
            pot(vec![Component::Flat {
                name: "flat".into(),
                amount: Money::from_pence(-1),
            }]),
            "component \"flat\" amount: a negative amount",
        ),
        (
            pot(vec![Component::Flat {
                name: "flat".into(),
                amount: pounds(600),
            }]),
            "the fixed components need £1,200.00 but only £1,000.00 is left",
        ),
        (zero_weights, "component \"need\" weights: the weights add up to zero"),
        (
            pot(vec![share(
                "grade",
                "100",
                ShareModel::ByGrade {
                    weights: [Decimal::ZERO; 7],
                    ungraded: Some(Decimal::ZERO),
                },
            )]),
            "component \"grade\" weights: the weights add up to zero",
        ),
    ];
    for (p, needle) in cases {
        let e = allocate_pot(&p, pounds(1_000), &schools).unwrap_err().to_string();
        assert!(e.contains(needle), "{e:?} lacks {needle:?}");
    }
    assert!(matches!(
        allocate_pot(&pot(vec![]), pounds(1), &[]),
        Err(AllocationError::NoEligibleSchools { .. })
    ));
}

fn stream(name: &str, budget: BudgetRule, p: Pot) -> Stream {
    let mut p = p;
    p.ring_fence.stream = name.into();
    Stream {
        name: name.into(),
        source: "DfE Excellence Cluster grant".into(),
        period: Some(Period::FinancialYear(2002)),
        pots: vec![StreamPot { budget, pot: p }],
    }
}

#[test]
fn the_2002_03_excellence_cluster_allocations_reconcile_to_7_076_500() {
    let published: Vec<(&str, i64, u32, u32)> = vec![
        ("Walsall", 1_307_000, 7, 10),
        ("Portsmouth", 1_130_500, 3, 17),
        ("Coventry", 1_040_000, 5, 9),
        ("Croydon", 960_500, 7, 7),
        ("Shepway", 950_500, 6, 0),
        ("Tameside", 917_000, 6, 13),
        ("West Cumbria", 771_000, 3, 15),
    ];
    let mut next = 0;
    let clusters: Vec<ClusterInput> = published
        .iter()
        .map(|(name, _, secondaries, primaries)| {
            let schools = (0..secondaries + primaries)
                .map(|k| {
                    next += 1;
                    let mut s = school(next, if k < *secondaries { 1_000 } else { 250 });
                    if k < *secondaries {
                        s.phase = Phase::Secondary;
                    }
                    s
                })
                .collect();
            ClusterInput {
                name: (*name).into(),
                schools,
            }
        })
        .collect();
    assert_eq!(
        clusters.iter().map(|c| c.schools.len()).sum::<usize>(),
        108,
        "7 clusters: 37 secondary and 71 primary schools, as published"
    );
    let total = pounds(7_076_500);
    let rule = BudgetRule {
        national: Some((
            total,
            NationalSplit::Published(published.iter().map(|(n, m, _, _)| ((*n).into(), pounds(*m))).collect()),
        )),
        ..BudgetRule::default()
    };
    let mut p = pot(vec![
        share("flat", "54", ShareModel::Equal),
        share(
            "per pupil",
            "46",
            ShareModel::Pupils(Pupils::All(PupilBasis::Headcount)),
        ),
    ]);
    p.top_slice = Some(TopSlice {
        percent: d("15"),
        purpose: "cluster-wide co-ordination".into(),
    });
    let policy = FundingPolicy {
        name: "Excellence Clusters 2002–03".into(),
        streams: vec![stream("Excellence Cluster grant", rule.clone(), p.clone())],
    };
    let result = allocate_policy(&policy, &clusters).unwrap();
    assert_eq!(result.len(), 7);
    for (r, (name, amount, _, _)) in result.iter().zip(&published) {
        assert_eq!(clusters[r.cluster].name, *name);
        assert_eq!(r.allocation.budget, pounds(*amount), "{name}");
        assert!(r.allocation.reconciles(), "{name}");
    }
    let sum = Money::sum(result.iter().map(|r| &r.allocation.budget)).unwrap();
    assert_eq!(sum, total);
    assert_eq!(Period::FinancialYear(2002).to_string(), "financial year 2002–03");

    // Published figures that do not add up to the national total are refused.
    let mut wrong = rule.clone();
    wrong.national = Some((pounds(7_000_000), NationalSplit::Published(vec![])));
    let e = allocate_policy(
        &FundingPolicy {
            name: "x".into(),
            streams: vec![stream("s", wrong, p.clone())],
        },
        &clusters,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("add up to £0.00, not the national total £7,000,000.00"),
        "{e}"
    );

    // The same national total split by pupils also reconciles to the penny.
    let by_pupils = BudgetRule {
        national: Some((total, NationalSplit::ByPupils)),
        ..BudgetRule::default()
    };
    let result = allocate_policy(
        &FundingPolicy {
            name: "x".into(),
            streams: vec![stream("s", by_pupils, p)],
        },
        &clusters,
    )
    .unwrap();
    assert_eq!(Money::sum(result.iter().map(|r| &r.allocation.budget)), Some(total));
}

#[test]
fn norfolk_admin_funding_is_at_least_two_pounds_a_pupil_and_phases_are_ring_fenced() {
    let clusters = vec![
        ClusterInput {
            name: "big".into(),
            schools: vec![school(1, 2_000), school(2, 1_500)],
        },
        ClusterInput {
            name: "small".into(),
            schools: vec![school(3, 300), school(4, 200)],
        },
    ];
    let rule = BudgetRule {
        per_pupil: Some(Rate::parse("2.00").unwrap()),
        minimum: Some(pounds(2_000)),
        ..BudgetRule::default()
    };
    let p = pot(vec![share("equal", "100", ShareModel::Equal)]);
    let r = allocate_policy(
        &FundingPolicy {
            name: "Norfolk admin".into(),
            streams: vec![stream("cluster admin", rule, p)],
        },
        &clusters,
    )
    .unwrap();
    assert_eq!(r[0].allocation.budget, pounds(7_000), "3,500 pupils × £2");
    assert_eq!(
        r[1].allocation.budget,
        pounds(2_000),
        "500 × £2 = £1,000, raised to the £2,000 minimum"
    );
    assert_eq!(&*r[0].ring_fence.stream, "cluster admin");
}

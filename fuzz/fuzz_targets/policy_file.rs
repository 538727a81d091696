//! The funding policy file (TOML; `clusterwise allocate`, `/funding` policy editor):
//! `service::policy_file::parse_policy` never panics and every refusal names where (a TOML line
//! and column, or the field); a policy it accepts is then run, as saving one does, on a small
//! register of ten real Norfolk schools in two clusters (docs/examples/policies/members.csv):
//! the run never panics and every pot's lines add up to its budget to the penny.
#![no_main]

use domain::cluster::MembershipRole;
use domain::funding::SchoolData;
use domain::funding::stream::{ClusterInput, allocate_policy};
use domain::ids::Urn;
use domain::school::Phase;
use libfuzzer_sys::fuzz_target;
use service::policy_file::{PolicyFileError, parse_policy};
use std::sync::OnceLock;

/// (URN, phase, pupils, FSM pupils, inspection grade, hosts an LSU, role), from the census.
type Row = (u32, Phase, u32, u32, u8, bool, MembershipRole);

const AYLSHAM: &[Row] = &[
    (121164, Phase::Secondary, 1145, 173, 2, false, MembershipRole::Host),
    (120831, Phase::Primary, 21, 15, 3, false, MembershipRole::Feeder),
    (120911, Phase::Primary, 246, 56, 2, false, MembershipRole::Feeder),
    (120988, Phase::Primary, 201, 21, 2, false, MembershipRole::Feeder),
    (121027, Phase::Primary, 162, 26, 1, false, MembershipRole::Feeder),
    (145299, Phase::Primary, 26, 7, 3, false, MembershipRole::Feeder),
];
const NORWICH_WEST: &[Row] = &[
    (135904, Phase::Secondary, 699, 359, 4, true, MembershipRole::Host),
    (135650, Phase::Secondary, 601, 206, 3, false, MembershipRole::Core),
    (
        141269,
        Phase::Secondary,
        421,
        351,
        2,
        false,
        MembershipRole::MoreSuccessful,
    ),
    (
        142059,
        Phase::Secondary,
        317,
        129,
        3,
        false,
        MembershipRole::UnfundedMember,
    ),
];

fn register() -> &'static [ClusterInput] {
    static REGISTER: OnceLock<Vec<ClusterInput>> = OnceLock::new();
    REGISTER.get_or_init(|| {
        let cluster = |name: &str, rows: &[Row]| ClusterInput {
            name: name.into(),
            schools: rows
                .iter()
                .map(|&(urn, phase, pupils, fsm, grade, lsu, role)| {
                    let mut s = SchoolData::new(Urn::parse(&urn.to_string()).expect("a real URN"), phase, pupils);
                    s.fsm = Some(fsm);
                    s.inspection_grade = Some(grade);
                    s.hosts_lsu = lsu;
                    s.role = role;
                    s
                })
                .collect(),
        };
        vec![cluster("Aylsham", AYLSHAM), cluster("Norwich West", NORWICH_WEST)]
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let policy = match parse_policy(text) {
        Ok(p) => p,
        Err(PolicyFileError::Toml(e)) => {
            let m = e.to_string();
            assert!(m.contains("line "), "a TOML error names no line: {m}");
            return;
        }
        Err(PolicyFileError::Invalid(m)) => {
            // `stream "G&T" pot 1 component 2 ("flat") share: …` or `stream "G&T" budget is required`.
            let named = m
                .split_once(':')
                .map_or(m.contains(" is required"), |(field, _)| !field.trim().is_empty());
            assert!(named, "a policy error names no field: {m}");
            return;
        }
    };
    let Ok(pots) = allocate_policy(&policy, register()) else {
        return;
    };
    for pot in &pots {
        assert!(
            pot.allocation.reconciles(),
            "pot {} of cluster {} does not reconcile: budget {:?}, lines {:?}",
            pot.ring_fence,
            pot.cluster,
            pot.allocation.budget,
            pot.allocation.lines
        );
    }
});

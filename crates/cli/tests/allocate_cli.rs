//! `clusterwise allocate` on the real Norfolk census: every example policy reconciles to the
//! penny per cluster, stream and phase; the same inputs give byte-identical output; `--explain`
//! shows the arithmetic; and each kind of bad policy is refused naming its field, writing nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn norfolk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real/norfolk_schools_spc_2022_23.csv")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/policies")
}

fn run(dir: &Path, args: &[String]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_clusterwise"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    out
}

fn allocate(policy: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "allocate".into(),
        "--policy".into(),
        policy.display().to_string(),
        "--schools".into(),
        norfolk().display().to_string(),
        "--clusters".into(),
        examples().join("members.csv").display().to_string(),
        "--facts".into(),
        examples().join("facts.csv").display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn statement(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        ["cluster", "urn", "stream", "phase", "component", "amount_pence"]
    );
    r.records()
        .map(|x| x.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn every_example_policy_reconciles_and_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "excellence-cluster",
        "norfolk-admin",
        "welsh-cluster-grant",
        "need-minimum-earmark",
    ] {
        let policy = examples().join(format!("{name}.toml"));
        let (a, b) = (
            dir.path().join(format!("{name}-a.csv")),
            dir.path().join(format!("{name}-b.csv")),
        );
        let report = dir.path().join(format!("{name}.json"));
        let o = run(
            dir.path(),
            &allocate(&policy, &a, &["--report", &report.display().to_string()]),
        );
        assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(run(dir.path(), &allocate(&policy, &b, &[])).status.success());
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{name}: byte-identical"
        );

        let rows = statement(&a);
        assert!(!rows.is_empty(), "{name}");
        assert!(
            rows.iter().all(|r| r[5].parse::<i64>().unwrap() >= 0),
            "{name}: no negative line"
        );
        let mut sums: BTreeMap<(String, String, String), (i64, i64)> = BTreeMap::new();
        for r in &rows {
            let e = sums.entry((r[0].clone(), r[2].clone(), r[3].clone())).or_default();
            let p: i64 = r[5].parse().unwrap();
            if r[1].is_empty() {
                e.1 += p;
            } else {
                e.0 += p;
            }
        }
        let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        let report = report.as_array().unwrap();
        assert_eq!(
            report.len(),
            sums.len(),
            "{name}: one report row per cluster, stream and phase"
        );
        for r in report {
            let key = (
                r["cluster"].as_str().unwrap().to_string(),
                r["stream"].as_str().unwrap().to_string(),
                r["phase"].as_str().unwrap().to_string(),
            );
            let (schools, central) = sums[&key];
            let budget = r["budget_pence"].as_i64().unwrap();
            let top = r["top_slice_pence"].as_i64().unwrap();
            let allocated = r["allocated_pence"].as_i64().unwrap();
            let unallocated = r["unallocated_pence"].as_i64().unwrap();
            assert_eq!(schools, allocated, "{name} {key:?}: school rows = allocated");
            assert_eq!(
                central,
                top + unallocated,
                "{name} {key:?}: central rows = top-slice + unallocated"
            );
            assert_eq!(
                budget,
                top + allocated + unallocated,
                "{name} {key:?} reconciles to the penny"
            );
        }
        assert!(
            !rows.iter().any(|x| x[1] == "142059"),
            "{name}: an unfunded member gets nothing"
        );
    }
}

#[test]
fn explain_shows_the_arithmetic_and_the_welsh_pennies() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.csv");
    let o = run(
        dir.path(),
        &allocate(&examples().join("welsh-cluster-grant.toml"), &out, &["--explain"]),
    );
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    // Norwich West has three funded schools: £20,000 / 3, the odd penny short at the highest URN.
    assert!(text.contains("Norwich West · cluster grant (all) · 135650 · equal split: 100% of £20,000.00 is £20,000.00; an equal share (1 of 3 schools) → £6,666.67"), "{text}");
    assert!(
        text.contains("Norwich West · cluster grant (all) · 141269 · total: equal split £6,666.66 = £6,666.66"),
        "{text}"
    );
}

#[test]
fn bad_policies_name_the_field_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let head = "name = \"x\"\n[[stream]]\nname = \"s\"\n";
    let equal = "[[stream.component]]\nname = \"c\"\nkind = \"equal\"\nshare = \"100\"\n";
    let cases = [
        (
            format!(
                "{head}budget = {{ fixed = \"100\" }}\ntop_slice = {{ percent = \"120\", purpose = \"p\" }}\n{equal}"
            ),
            "stream \"s\" top_slice.percent: 120% is over 100 %",
        ),
        (
            format!(
                "{head}budget = {{ fixed = \"100\" }}\n[[stream.component]]\nname = \"c\"\nkind = \"equal\"\nshare = \"60\"\n"
            ),
            "the shares add up to 60%, not 100 %",
        ),
        (
            format!("{head}budget = {{ fixed = \"-5\" }}\n{equal}"),
            "stream \"s\" budget.fixed: \"-5\" is negative",
        ),
        (
            format!("{head}budget = {{ fixed = \"100\" }}\n[[stream.component]]\nname = \"c\"\nkind = \"magic\"\n"),
            "component 1 (\"c\") kind: \"magic\" is not one of",
        ),
        (
            format!(
                "{head}budget = {{ fixed = \"100\" }}\n[[stream.component]]\nname = \"need\"\nkind = \"need\"\nshare = \"100\"\nneed = {{ fsm = 0, boys = 0 }}\n"
            ),
            "component \"need\" weights: the weights add up to zero",
        ),
        (
            format!(
                "{head}budget = {{ fixed = \"10000\" }}\n[[stream.component]]\nname = \"lead\"\nkind = \"earmark\"\nactivity = \"transition\"\nschool = \"100000\"\namount = \"500\"\n{equal}"
            ),
            "component \"lead\" school: 100000 is not an eligible school in this cluster",
        ),
        (
            format!(
                "{head}phase = \"secondary\"\nbudget = {{ fixed = \"500000\" }}\n[[stream.component]]\nname = \"LSU\"\nkind = \"lsu_units\"\nunits = 4\nunit_cost = \"49800\"\nneed = {{ fsm = 1 }}\n"
            ),
            "cluster \"Aylsham\": stream \"s\" (secondary) component \"LSU\" units: 4 LSU units but only 1 eligible",
        ),
        (
            format!(
                "{head}budget = {{ fixed = \"500000\" }}\n[[stream.component]]\nname = \"mentors\"\nkind = \"posts\"\nstep = \"0.5\"\nwith_lsu_fte = \"1.5\"\nother_fte = \"0.75\"\ncost_per_fte = \"24000\"\n"
            ),
            "component \"mentors\" other_fte: 0.75 FTE is not a whole number of 0.5 FTE steps",
        ),
        (
            format!(
                "{head}budget = {{ fixed = \"100\" }}\n[[stream.component]]\nname = \"c\"\nkind = \"fsm_weighted\"\nshare = \"100\"\nfsm_weight = 1.5\n"
            ),
            "not a valid policy file",
        ),
    ];
    for (i, (policy, needle)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("p{i}.toml"));
        std::fs::write(&p, policy).unwrap();
        let out_path = dir.path().join(format!("out{i}.csv"));
        let report = dir.path().join(format!("out{i}.json"));
        let o = run(
            dir.path(),
            &allocate(&p, &out_path, &["--report", &report.display().to_string()]),
        );
        assert_eq!(o.status.code(), Some(1), "case {i}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "case {i}: {err}");
        assert!(!out_path.exists() && !report.exists(), "case {i}: nothing written");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

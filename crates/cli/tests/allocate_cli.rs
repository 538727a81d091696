//! `clusterwise allocate` on the real Norfolk census: statements reconcile to the penny, the same
//! inputs give byte-identical output, and a bad policy writes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn norfolk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real/norfolk_schools_spc_2022_23.csv")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/policies")
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_clusterwise"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    out
}

fn statement(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn norfolk_admin_funding_reconciles_and_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let members = dir.path().join("members.csv");
    // Three real Norfolk schools in one cluster, two in another.
    std::fs::write(&members, "urn,cluster,role\n120765,West,feeder\n120766,West,feeder\n135904,West,host\n141269,East,host\n142059,East,unfunded_member\n").unwrap();
    let policy = examples().join("norfolk-admin.toml").display().to_string();
    let schools = norfolk().display().to_string();
    let args = |out: &str, report: &str| {
        vec![
            "allocate".to_string(),
            "--policy".into(),
            policy.clone(),
            "--schools".into(),
            schools.clone(),
            "--clusters".into(),
            members.display().to_string(),
            "--out".into(),
            out.into(),
            "--report".into(),
            report.into(),
        ]
    };
    let a: Vec<String> = args("a.csv", "a.json");
    let o = run(dir.path(), &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let b: Vec<String> = args("b.csv", "b.json");
    assert!(
        run(dir.path(), &b.iter().map(String::as_str).collect::<Vec<_>>())
            .status
            .success()
    );
    assert_eq!(
        std::fs::read(dir.path().join("a.csv")).unwrap(),
        std::fs::read(dir.path().join("b.csv")).unwrap(),
        "byte-identical"
    );

    let rows = statement(&dir.path().join("a.csv"));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("a.json")).unwrap()).unwrap();
    for r in report.as_array().unwrap() {
        let cluster = r["cluster"].as_str().unwrap();
        let total: i64 = rows
            .iter()
            .filter(|x| x[0] == cluster)
            .map(|x| x[5].parse::<i64>().unwrap())
            .sum();
        assert_eq!(
            total,
            r["budget_pence"].as_i64().unwrap(),
            "{cluster} reconciles to the penny"
        );
        assert!(r["budget_pence"].as_i64().unwrap() >= 200_000, "the £2,000 floor");
    }
    assert!(
        !rows.iter().any(|x| x[1] == "142059"),
        "an unfunded member gets nothing"
    );
}

#[test]
fn bad_policies_name_the_field_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "name = \"x\"\n[[stream]]\nname = \"s\"\nbudget = { fixed = \"100\" }\ntop_slice = { percent = \"120\", purpose = \"p\" }\n[[stream.component]]\nname = \"c\"\nkind = \"equal\"\nshare = \"100\"\n",
            "over 100 %",
        ),
        (
            "name = \"x\"\n[[stream]]\nname = \"s\"\nbudget = { fixed = \"100\" }\n[[stream.component]]\nname = \"c\"\nkind = \"equal\"\nshare = \"60\"\n",
            "not 10,000",
        ),
        (
            "name = \"x\"\n[[stream]]\nname = \"s\"\nbudget = { fixed = \"-5\" }\n[[stream.component]]\nname = \"c\"\nkind = \"equal\"\nshare = \"100\"\n",
            "budget.fixed",
        ),
        (
            "name = \"x\"\n[[stream]]\nname = \"s\"\nbudget = { fixed = \"100\" }\n[[stream.component]]\nname = \"c\"\nkind = \"magic\"\n",
            "kind",
        ),
        (
            "name = \"x\"\n[[stream]]\nname = \"s\"\nbudget = { fixed = \"100\" }\n[[stream.component]]\nname = \"c\"\nkind = \"by_grade\"\nshare = \"100\"\ngrade_weights = [0,0,0,0,0,0,0]\n",
            "add up to zero",
        ),
    ];
    for (i, (policy, needle)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("p{i}.toml"));
        std::fs::write(&p, policy).unwrap();
        let out_path = dir.path().join(format!("out{i}.csv"));
        let o = run(
            dir.path(),
            &[
                "allocate",
                "--policy",
                &p.display().to_string(),
                "--schools",
                &norfolk().display().to_string(),
                "--out",
                &out_path.display().to_string(),
            ],
        );
        assert_eq!(o.status.code(), Some(1), "case {i}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "case {i}: {err}");
        assert!(!out_path.exists(), "case {i}: nothing written");
    }
}

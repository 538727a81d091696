//! `clusterwise design` end to end: the real Norfolk census in, a valid assignment and report
//! out; infeasible bounds explained with a non-zero exit and nothing written; the minimal layout,
//! amalgamate mode and `--evaluate`; the same seed and move budget give byte-identical output.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn norfolk() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real/norfolk_schools_spc_2022_23.csv")
}

fn design(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clusterwise"))
        .current_dir(dir)
        .arg("design")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn norfolk_census_redraw_writes_a_valid_assignment_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let schools = norfolk();
    let out = design(
        dir.path(),
        &[
            "--schools",
            schools.to_str().unwrap(),
            "--min-pupils",
            "2500",
            "--max-pupils",
            "5000",
            "--clusters",
            "22..32",
            "--max-iterations",
            "400000",
            "--out",
            "assignment.csv",
            "--report",
            "report.json",
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let assignment = std::fs::read_to_string(dir.path().join("assignment.csv")).unwrap();
    let mut lines = assignment.lines();
    assert_eq!(lines.next(), Some("urn,cluster"));
    assert_eq!(lines.count(), 422, "every state-funded school, no independent one");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    let k = report["clusters"].as_u64().unwrap();
    assert!((22..=32).contains(&k));
    assert_eq!(report["hard_violations"].as_array().unwrap().len(), 0);
    let figures = report["cluster_figures"].as_array().unwrap();
    let mut total = 0;
    for c in figures {
        let pupils = c["pupils"].as_u64().unwrap();
        assert!((2500..=5000).contains(&pupils), "{c}");
        assert!(c["hub"].is_string());
        assert!(c["fsm_percent"].is_number());
        total += pupils;
    }
    assert_eq!(total, 119_236);
    assert!(report["objective"]["travel_pupil_km"].as_f64().unwrap() > 0.0);
}

#[test]
fn infeasible_bounds_exit_non_zero_with_the_reason_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let schools = norfolk();
    let out = design(
        dir.path(),
        &[
            "--schools",
            schools.to_str().unwrap(),
            "--min-pupils",
            "3000",
            "--max-pupils",
            "5000",
            "--clusters",
            "45..50",
            "--out",
            "assignment.csv",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pupil floor × fewest clusters"), "{err}");
    assert!(err.contains("to relax"), "{err}");
    assert!(!dir.path().join("assignment.csv").exists());
}

const SMALL: &str = "urn,name,easting,northing,pupils,phase,district
100001,North High,0,10000,900,secondary,A
100002,North Primary,1000,10000,300,primary,A
100003,North Infant,1000,10000,150,primary,A
100004,Middle Primary,0,5000,300,primary,A
100005,South High,0,0,900,secondary,B
100006,South Primary,1000,0,300,primary,B
100007,Far Primary,2000,500,200,primary,B
";

const TODAY: &str = "urn,cluster,role
100001,N,host
100002,N,feeder
100003,N,feeder
100004,M,feeder
100005,S,host
100006,S,feeder
100007,S,feeder
";

#[test]
fn minimal_layout_amalgamate_evaluate_and_same_seed_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schools.csv"), SMALL).unwrap();
    std::fs::write(dir.path().join("today.csv"), TODAY).unwrap();
    let run = |out: &str| {
        design(
            dir.path(),
            &[
                "--schools",
                "schools.csv",
                "--existing",
                "today.csv",
                "--mode",
                "amalgamate",
                "--min-pupils",
                "1000",
                "--max-pupils",
                "2000",
                "--clusters",
                "2",
                "--max-iterations",
                "50000",
                "--out",
                out,
                "--report",
                "report.json",
                "--quiet",
            ],
        )
    };
    let first = run("a.csv");
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(run("b.csv").status.success());
    let a = std::fs::read_to_string(dir.path().join("a.csv")).unwrap();
    assert_eq!(a, std::fs::read_to_string(dir.path().join("b.csv")).unwrap());
    // Whole existing clusters move: N and S each stay whole; M joins one of them.
    let cluster = |urn: &str| {
        a.lines()
            .find(|l| l.starts_with(urn))
            .unwrap()
            .split(',')
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(cluster("100001"), cluster("100002"));
    assert_eq!(cluster("100002"), cluster("100003"));
    assert_eq!(cluster("100005"), cluster("100006"));
    assert_ne!(cluster("100001"), cluster("100005"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["comparison_with_existing"]["existing"]["clusters"], 3);
    // Today's map judged by the same rules: M has no secondary and is below the floor.
    let judged = design(
        dir.path(),
        &[
            "--schools",
            "schools.csv",
            "--min-pupils",
            "1000",
            "--max-pupils",
            "2000",
            "--clusters",
            "2..3",
            "--evaluate",
            "today.csv",
        ],
    );
    let text = String::from_utf8_lossy(&judged.stdout);
    assert!(text.contains("has no state-funded secondary school"), "{text}");
    assert!(text.contains("below the floor"), "{text}");
}

#[test]
fn locks_must_links_and_exclusions_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schools.csv"), SMALL).unwrap();
    std::fs::write(
        dir.path().join("locks.csv"),
        "urn,cluster\n100004,South\n100005,South\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("links.csv"), "urn,group\n100001,F\n100002,F\n").unwrap();
    let out = design(
        dir.path(),
        &[
            "--schools",
            "schools.csv",
            "--locks",
            "locks.csv",
            "--must-link",
            "links.csv",
            "--exclude-urn",
            "100007",
            "--min-pupils",
            "1000",
            "--max-pupils",
            "2000",
            "--clusters",
            "2",
            "--max-iterations",
            "50000",
            "--out",
            "a.csv",
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let a = std::fs::read_to_string(dir.path().join("a.csv")).unwrap();
    assert!(a.contains("100004,South\n") && a.contains("100005,South\n"), "{a}");
    assert!(!a.contains("100007"), "{a}");
    let north = a
        .lines()
        .find(|l| l.starts_with("100001"))
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap();
    assert!(a.contains(&format!("100002,{north}\n")), "{a}");
}

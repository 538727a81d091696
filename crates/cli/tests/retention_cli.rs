//! `clusterwise retention run` end to end on a fresh demo database: it removes exactly the records
//! past their retention date, reports them by pseudonymous id (no names), and a second run removes
//! nothing.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn norfolk() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real/norfolk_schools_spc_2022_23.csv")
}

fn clusterwise(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clusterwise"))
        .current_dir(dir)
        .env("CLUSTERWISE_LOG", "warn")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn retention_run_removes_what_is_due_and_says_so_without_names() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let db = db.to_str().unwrap();
    let out = clusterwise(
        dir.path(),
        &["demo", "--no-serve", "--db", db, "--data", norfolk().to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = clusterwise(dir.path(), &["retention", "run", "--db", db, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The demo holds two mentor cases closed over two years ago and one pupil who left long ago.
    assert_eq!(report["removed"], 3);
    let removed = report["authorities"][0]["removed"].as_array().unwrap();
    let kinds: Vec<&str> = removed.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "mentor_case").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "pupil").count(), 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("(synthetic)"), "the report names no pupil: {text}");

    let out = clusterwise(dir.path(), &["retention", "run", "--db", db]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 records removed"), "{text}");
}

//! The `clusterwise` binary's importers and export, run in a temporary directory against good
//! files, bad rows and malformed files: clear messages, the right exit codes, never a panic and
//! never a half-saved import.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HEADER: &str = "urn,laestab,la_code,la_name,school_name,phase_type_grouping,academy_flag,pupils_headcount,fsm_eligible_count,district_name,easting,northing";

fn good_rows() -> String {
    format!(
        "{HEADER}\n120001,9261001,926,Norfolk,Hill High School,State-funded secondary,Academy,1200,120,Norwich,620000,308000\n\
         120002,9261002,926,Norfolk,Brook Primary School,State-funded primary,LA Maintained,300,60,Norwich,621000,309000\n"
    )
}

struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Self {
        Dir {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
    fn db(&self) -> String {
        format!("sqlite://{}", self.path("register.db").display())
    }
    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_clusterwise"))
            .args(args)
            .current_dir(self.dir.path())
            .env("CLUSTERWISE_LOG", "warn")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "the binary panicked: {stderr}");
        out
    }
    fn import(&self, kind: &str, file: &Path, extra: &[&str]) -> Output {
        let file = file.display().to_string();
        let db = self.db();
        let mut args = vec!["import", kind, file.as_str(), "--db", db.as_str()];
        args.extend_from_slice(extra);
        self.run(&args)
    }
    fn exported(&self) -> Vec<String> {
        let out_path = self.path("export.csv").display().to_string();
        let out = self.run(&["export", "schools", "--db", &self.db(), "--out", &out_path]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::read_to_string(&out_path)
            .unwrap()
            .lines()
            .skip(1)
            .map(str::to_string)
            .collect()
    }
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn a_good_census_imports_and_exports() {
    let d = Dir::new();
    let file = d.write("spc_school_level_2022_23.csv", good_rows());
    let out = d.import("census", &file, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let j = json(&out);
    assert_eq!(
        (j["inserted"].as_u64(), j["updated"].as_u64(), j["written"].as_bool()),
        (Some(2), Some(0), Some(true))
    );
    assert_eq!(j["rejected"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        d.exported(),
        vec![
            "120001,9261001,Hill High School,secondary,1200,10.0,620000,308000,Norwich,",
            "120002,9261002,Brook Primary School,primary,300,20.0,621000,309000,Norwich,",
        ]
    );
}

#[test]
fn one_bad_row_means_nothing_is_written_unless_skipped() {
    let d = Dir::new();
    let file = d.write(
        "census_2022_23.csv",
        format!(
            "{}120003,9261003,926,Norfolk,Bad School,State-funded primary,LA Maintained,many,1,Norwich,1,1\n",
            good_rows()
        ),
    );
    let out = d.import("census", &file, &["--json"]);
    assert_eq!(out.status.code(), Some(3), "rows rejected → exit 3");
    let j = json(&out);
    assert_eq!(j["written"].as_bool(), Some(false));
    let bad = &j["rejected"][0];
    assert_eq!(
        (bad["line"].as_u64(), bad["column"].as_str(), bad["value"].as_str()),
        (Some(4), Some("pupils_headcount"), Some("many"))
    );
    assert!(bad["rule"].as_str().unwrap().contains("whole number"));
    assert!(d.exported().is_empty(), "nothing half-saved");

    let out = d.import("census", &file, &["--json", "--skip-invalid"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["inserted"].as_u64(), Some(2));
    assert_eq!(d.exported().len(), 2);

    // The human report names the line, column, value and rule too.
    let out = d.import("census", &file, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 4")
            && err.contains("pupils_headcount")
            && err.contains("\"many\"")
            && err.contains("Nothing was written"),
        "{err}"
    );
}

#[test]
fn a_newer_census_updates_by_urn_and_keeps_the_history() {
    let d = Dir::new();
    let first = d.write("census_2022_23.csv", good_rows());
    assert!(d.import("census", &first, &[]).status.success());
    let newer = d.write(
        "census_2023_24.csv",
        format!("{HEADER}\n120001,9261001,926,Norfolk,Hill High Academy,State-funded secondary,Academy,1250,130,Norwich,620000,308000\n"),
    );
    let out = d.import("census", &newer, &["--json"]);
    let j = json(&out);
    assert_eq!((j["inserted"].as_u64(), j["updated"].as_u64()), (Some(0), Some(1)));
    let rows = d.exported();
    assert!(
        rows[0].starts_with("120001,9261001,Hill High Academy,secondary,1250,"),
        "{rows:?}"
    );
    // The old figures are kept as history: re-importing the older census does not replace the latest.
    assert!(d.import("census", &first, &[]).status.success());
    assert!(d.exported()[0].contains(",1250,"));
}

#[test]
fn malformed_files_get_clear_errors() {
    let d = Dir::new();
    let latin1: Vec<u8> = format!("{HEADER}\n120001,9261001,926,Norfolk,Caf")
        .into_bytes()
        .into_iter()
        .chain(*b"\xe9 School,State-funded primary,LA Maintained,1,0,Norwich,1,1\n")
        .collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty_2022_23.csv", Vec::new(), "empty (0 bytes)"),
        (
            "binary_2022_23.csv",
            vec![0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0xff],
            "binary data",
        ),
        ("latin1_2022_23.csv", latin1, "not valid UTF-8"),
        (
            "columns_2022_23.csv",
            b"urn,school_name\n120001,Hill\n".to_vec(),
            "missing required column(s): la_code, phase_type_grouping, pupils_headcount",
        ),
        ("header_2022_23.csv", format!("{HEADER}\n").into_bytes(), "no data rows"),
        (
            "dupcol_2022_23.csv",
            b"urn,urn\n1,2\n".to_vec(),
            "names column \"urn\" twice",
        ),
    ];
    for (name, bytes, message) in cases {
        let file = d.write(name, bytes);
        let out = d.import("census", &file, &[]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{name}: {err}");
    }
    let truncated = d.write("cut_2022_23.csv", format!("{}120003,9261003,926,Norf", good_rows()));
    let j = json(&d.import("census", &truncated, &["--json"]));
    assert_eq!(j["rejected"][0]["line"].as_u64(), Some(4));
    assert!(j["rejected"][0]["rule"].as_str().unwrap().contains("cut short"));
    let duplicate = d.write(
        "dup_2022_23.csv",
        format!(
            "{}120001,9261001,926,Norfolk,Again,State-funded primary,LA Maintained,5,0,Norwich,1,1\n",
            good_rows()
        ),
    );
    let j = json(&d.import("census", &duplicate, &["--json"]));
    assert!(
        j["rejected"][0]["rule"]
            .as_str()
            .unwrap()
            .contains("duplicate URN, first on line 2")
    );
    let nodate = d.write("schools.csv", good_rows());
    let err = String::from_utf8_lossy(&d.import("census", &nodate, &[]).stderr).into_owned();
    assert!(err.contains("--census-date"), "{err}");
    let missing = d.run(&["import", "census", "no-such-file.csv", "--db", &d.db()]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read no-such-file.csv"));
    assert!(d.exported().is_empty());
}

#[test]
fn rejected_rows_name_their_physical_line_in_a_crlf_file() {
    let d = Dir::new();
    // A quoted name with a line break inside it, CRLF line ends, a blank line, then a bad row.
    let file = d.write(
        "schools.csv",
        format!(
            "{HEADER}\r\n120001,9261001,926,Norfolk,\"Hill High School,\r\nNorth Site\",State-funded secondary,Academy,1200,120,Norwich,620000,308000\r\n\r\n120002,9261002,926,Norfolk,Brook Primary,State-funded primary,LA Maintained,300,60,Norwich,800000,309000"
        ),
    );
    let out = d.import("census", &file, &["--json", "--census-date", "2023-01-19"]);
    assert_eq!(out.status.code(), Some(3));
    let bad = &json(&out)["rejected"][0];
    assert_eq!(
        (bad["line"].as_u64(), bad["column"].as_str(), bad["value"].as_str()),
        (Some(5), Some("easting"), Some("800000"))
    );
    let out = d.import(
        "census",
        &file,
        &["--json", "--census-date", "2023-01-19", "--skip-invalid"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = d.exported();
    assert!(rows[0].starts_with("120001,9261001,\"Hill High School,"), "{rows:?}");
    assert!(!rows.iter().any(|r| r.starts_with("120002,")), "{rows:?}");
}

#[test]
fn malformed_gias_and_cluster_files_get_clear_errors() {
    let d = Dir::new();
    let gias_header = "\"URN\",\"LA (code)\",\"EstablishmentName\",\"EstablishmentStatus (name)\"";
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("gias", "edubase_empty.csv", Vec::new(), "empty (0 bytes)"),
        ("gias", "edubase_zip.csv", b"PK\x03\x04\x00\x00".to_vec(), "binary data"),
        (
            "gias",
            "edubase_cols.csv",
            b"\"URN\",\"EstablishmentName\"\r\n100000,\"A\"".to_vec(),
            "missing required column(s): LA (code), EstablishmentStatus (name)",
        ),
        (
            "gias",
            "edubase_header.csv",
            format!("{gias_header}\r\n").into_bytes(),
            "no data rows",
        ),
        (
            "gias",
            "edubase_dup.csv",
            b"\"URN\",\"urn\",\"LA (code)\"\r\n1,2,3".to_vec(),
            "names column \"urn\" twice",
        ),
        (
            "gias",
            "edubase_quote.csv",
            format!("{gias_header}\r\n121000,926,\"Open quote,\"Open\"\r\n121001,926,\"B\",\"Open\"").into_bytes(),
            "line 2: a quoted field opened on this line is never closed",
        ),
        ("clusters", "clusters_empty.csv", Vec::new(), "empty (0 bytes)"),
        (
            "clusters",
            "clusters_latin1.csv",
            b"urn,cluster\n120001,Caf\xe9\n".to_vec(),
            "not valid UTF-8 text: invalid bytes on line 2",
        ),
        (
            "clusters",
            "clusters_cols.csv",
            b"urn,name\n120001,North\n".to_vec(),
            "missing required column(s): cluster",
        ),
    ];
    // Clusters need an authority on the register.
    let census = d.write("census_2022_23.csv", good_rows());
    assert!(d.import("census", &census, &[]).status.success());
    for (kind, name, bytes, message) in cases {
        let file = d.write(name, bytes);
        let out = d.import(kind, &file, &["--authority", "926"]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{name}: {err}");
    }
    // Row problems in a cluster file: a blank cluster and a school listed twice.
    let members = d.write(
        "clusters.csv",
        "urn,cluster\r\n120001,North\r\n120002,\r\n120001,South\r\n",
    );
    let out = d.import("clusters", &members, &["--authority", "926", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let j = json(&out);
    let got: Vec<(u64, &str)> = j["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["column"].as_str().unwrap()))
        .collect();
    assert_eq!(got, vec![(3, "cluster"), (4, "urn")]);
    assert!(
        d.exported().iter().all(|r| r.ends_with(',')),
        "no cluster was half-saved"
    );
}

#[test]
fn gias_and_cluster_files_import() {
    let d = Dir::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../domain/tests/fixtures/edubasealldata20250101.csv");
    let out = d.import("gias", &fixture, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let j = json(&out);
    // 10 rows: a university skipped, a closed school we never held skipped, 8 schools written.
    assert_eq!((j["inserted"].as_u64(), j["skipped"].as_u64()), (Some(8), Some(2)));
    assert!(
        d.exported()
            .iter()
            .any(|r| r.contains("St Mary’s Church of England Primary School"))
    );

    let members = d.write(
        "clusters.csv",
        "urn,cluster,role\n137000,Norwich East,host\n121500,Norwich East,feeder\n121501,Norwich East,\n",
    );
    let out = d.import("clusters", &members, &["--authority", "926", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out)["clusters_created"].as_u64(), Some(1));
    assert!(
        d.exported()
            .iter()
            .any(|r| r.starts_with("137000,") && r.ends_with(",Norwich East"))
    );

    let strangers = d.write("strangers.csv", "urn,cluster\n999999,Nowhere\n");
    let j = json(&d.import("clusters", &strangers, &["--authority", "926", "--json"]));
    assert!(
        j["rejected"][0]["rule"]
            .as_str()
            .unwrap()
            .contains("no school with this URN is on this authority's register")
    );
    let out = d.import("clusters", &members, &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--authority"));
}

#[test]
fn config_example_round_trips_and_governance_check_works() {
    let d = Dir::new();
    let out = d.run(&["config", "--example"]);
    assert!(out.status.success());
    d.write("clusterwise.toml", &out.stdout);
    assert!(
        d.run(&["config"]).status.success(),
        "the example is a valid configuration"
    );

    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/governance");
    let c = examples.join("norfolk.toml").display().to_string();
    let m = examples.join("meeting.toml").display().to_string();
    let out = d.run(&["governance", "check", "--constitution", &c, "--meeting", &m]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j = json(&out);
    assert_eq!(j["items"][0]["quorum_required"].as_u64(), Some(2));
    assert_eq!(j["items"][0]["outcome"].as_str(), Some("carried"));
    assert!(j["items"][1]["error"].as_str().unwrap().contains("seconder"));
}

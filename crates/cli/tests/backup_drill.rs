//! The restore drill, with the real `clusterwise` binary: the Norfolk demo database is written
//! to by a concurrent ledger writer (`clusterwise ledger-soak`) while `clusterwise backup` takes
//! its snapshot (held open mid-way while more postings land), then the backup is restored into
//! a fresh database and checked: restore's own checks pass, every table's row count equals the
//! backup header's manifest, the ledger of every authority is whole to the penny, the writes
//! made during the backup are not in it, and `clusterwise serve` on the restored database
//! answers `/health` and the sign-in page. On SQLite always; on PostgreSQL too when
//! `CLUSTERWISE_TEST_POSTGRES_URL` is set (scripts/test.sh sets it; CI must).
//!
//! Also the backup file's refusals: wrong or missing passphrase, a changed byte, a truncated
//! file, an unknown format version, a target that already holds data. Each names the problem
//! and leaves the target as it was.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use service::Store;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PASSPHRASE: &str = "a long passphrase for the drill";

fn norfolk() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real/norfolk_schools_spc_2022_23.csv")
}

fn clusterwise() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clusterwise"));
    c.env("CLUSTERWISE_LOG", "error")
        .env_remove("CLUSTERWISE_BACKUP_PASSPHRASE");
    c
}

fn run(args: &[&str]) -> Output {
    clusterwise().args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "clusterwise {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A child process killed when dropped (a failed assertion never leaves one running).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The ledger writer: `ledger-soak` posting entries `from..to`, its `ack` lines counted on a
/// thread.
struct Writer {
    child: Running,
    acks: mpsc::Receiver<()>,
    seen: u64,
}

impl Writer {
    fn start(db: &str, from: u32, to: u32) -> Writer {
        let mut child = clusterwise()
            .args([
                "ledger-soak",
                "--db",
                db,
                "--entries",
                &to.to_string(),
                "--from",
                &from.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, acks) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("ack ") && tx.send(()).is_err() {
                    break;
                }
            }
        });
        Writer {
            child: Running(child),
            acks,
            seen: 0,
        }
    }

    /// Waits until `n` more postings are acknowledged; a writer that stalls fails the drill
    /// (the backup must never block it).
    fn wait_for(&mut self, n: u64, why: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for _ in 0..n {
            let left = deadline.saturating_duration_since(Instant::now());
            self.acks
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("the writer stopped posting {why} ({} so far): {e}", self.seen));
            self.seen += 1;
        }
    }

    fn finish(mut self) {
        let status = self.child.0.wait().unwrap();
        assert!(status.success(), "the writer failed: {status}");
    }
}

/// The backup file's first two lines: the magic and the header.
fn header(path: &Path) -> serde_json::Value {
    let mut text = Vec::new();
    std::fs::File::open(path).unwrap().read_to_end(&mut text).unwrap();
    let second = text.split(|b| *b == b'\n').nth(1).unwrap();
    serde_json::from_slice(second).unwrap()
}

fn manifest(header: &serde_json::Value) -> BTreeMap<String, u64> {
    header["tables"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

/// `clusterwise backup` taken while `writer` posts: held open before the ledger tables until
/// `during` more postings have landed. Returns the header.
fn backup_while_writing(db: &str, out: &Path, writer: &mut Writer, during: u64) -> serde_json::Value {
    let started = Instant::now();
    let mut child = Running(
        clusterwise()
            .args(["backup", "--db", db, "--out"])
            .arg(out)
            .args(["--hold-before", "ledger_entries"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout: BufReader<ChildStdout> = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("hold ledger_entries "), "unexpected {line:?}");
    // The snapshot is open: postings go on, and none of them may reach the backup.
    writer.wait_for(during, "while the backup held its snapshot");
    child.0.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.0.wait().unwrap();
    let mut err = String::new();
    child.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "backup failed: {err}");
    assert!(rest.starts_with("Backed up "), "{rest}");
    eprintln!(
        "drill: backup of {db} ({} bytes) in {:.2} s wall, {during} postings landed meanwhile: {}",
        std::fs::metadata(out).unwrap().len(),
        started.elapsed().as_secs_f64(),
        rest.trim()
    );
    header(out)
}

/// Restores `from` into the empty `db` and checks it against the header's manifest.
async fn restore_and_check(db: &str, from: &Path, header: &serde_json::Value) {
    let started = Instant::now();
    let said = ok(&["restore", "--db", db, "--from", from.to_str().unwrap()]);
    eprintln!(
        "drill: restore into {db} in {:.2} s wall: {}",
        started.elapsed().as_secs_f64(),
        said.trim()
    );
    assert!(
        said.contains("Checked: row counts match the backup's manifest"),
        "{said}"
    );
    assert!(said.contains("ledger whole for 2 authorities"), "{said}");
    let counts = store::backup::row_counts(db).await.unwrap();
    assert_eq!(counts, manifest(header), "restored row counts differ from the header");

    let store = store::connect(db).await.unwrap();
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
    let mut entries = 0;
    for authority in store.list_authorities().await.unwrap() {
        let audit = store.ledger_audit(authority.id).await.unwrap();
        assert!(audit.is_whole(), "{}: {audit:?}", authority.name);
        entries += audit.entries;
    }
    assert_eq!(entries, manifest(header)["ledger_entries"]);
    store.close().await;
}

/// `clusterwise serve` on `db` answers `/health` and the sign-in page.
fn serves(db: &str) {
    let mut child = Running(
        clusterwise()
            .args(["serve", "--db", db, "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "serve exited before listening"
        );
        if let Some(rest) = line.strip_prefix("Serving on http://") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    for (path, expect) in [("/health", "\"status\":\"ok\""), ("/sign-in", "Sign in")] {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{path}: {reply}");
        assert!(reply.contains(expect), "{path}: {reply}");
    }
    drop(child);
}

/// The drill on one database that already holds the demo: write, back up online, restore into
/// `fresh`, check, serve.
async fn drill(live: &str, fresh: &str, dir: &Path, soak_from: u32) {
    let live_entries = |db: String| async move { store::backup::row_counts(&db).await.unwrap()["ledger_entries"] };
    let mut writer = Writer::start(live, soak_from, soak_from + 400);
    writer.wait_for(40, "before the backup");
    let out = dir.join(format!("drill-{soak_from}.cwbackup"));
    let header = backup_while_writing(live, &out, &mut writer, 60);
    writer.finish();
    let in_backup = manifest(&header)["ledger_entries"];
    let after = live_entries(live.to_string()).await;
    assert!(
        in_backup + 60 <= after,
        "the backup holds {in_backup} entries but the postings made while it held its snapshot reached it ({after} now)"
    );
    restore_and_check(fresh, &out, &header).await;
    serves(fresh);
}

#[tokio::test]
async fn the_restore_drill() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo.db");
    let demo_db = demo.to_str().unwrap();
    ok(&[
        "demo",
        "--db",
        demo_db,
        "--no-serve",
        "--data",
        norfolk().to_str().unwrap(),
    ]);
    let fresh = dir.path().join("restored.db");
    drill(demo_db, fresh.to_str().unwrap(), dir.path(), 0).await;
    eprintln!("drill: SQLite done in {:.1} s", started.elapsed().as_secs_f64());

    let Ok(admin) = std::env::var("CLUSTERWISE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the drill on PostgreSQL: set CLUSTERWISE_TEST_POSTGRES_URL (scripts/test.sh does)"
        );
        eprintln!("PostgreSQL drill not run: CLUSTERWISE_TEST_POSTGRES_URL is not set");
        return;
    };
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_string();
    let names = [
        format!("cw_drill_live_{}", std::process::id()),
        format!("cw_drill_restored_{}", std::process::id()),
    ];
    let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
    for n in &names {
        conn.execute(format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)").as_str())
            .await
            .unwrap();
        conn.execute(format!("CREATE DATABASE {n}").as_str()).await.unwrap();
    }
    let live = format!("{base}/{}", names[0]);
    let restored = format!("{base}/{}", names[1]);
    // The SQLite demo (with its soak ledger) moved to PostgreSQL by a restore, then drilled there.
    let sqlite_backup = dir.path().join("drill-0.cwbackup");
    ok(&["restore", "--db", &live, "--from", sqlite_backup.to_str().unwrap()]);
    drill(&live, &restored, dir.path(), 400).await;
    for n in &names {
        conn.execute(format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)").as_str())
            .await
            .unwrap();
    }
    conn.close().await.unwrap();
    eprintln!(
        "drill: SQLite and PostgreSQL done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// `bytes` with the first `from` (which must be there) replaced by `to`.
fn replace_once(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap_or_else(|| panic!("{from} is not in the file"));
    [&bytes[..at], to.as_bytes(), &bytes[at + from.len()..]].concat()
}

fn failing(args: &[&str], passphrase: Option<&str>) -> String {
    let mut c = clusterwise();
    c.args(args);
    if let Some(p) = passphrase {
        c.env("CLUSTERWISE_BACKUP_PASSPHRASE", p);
    }
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "clusterwise {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn a_damaged_or_wrong_backup_is_refused_and_the_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let db = d("small.db");
    ok(&["ledger-soak", "--db", &db, "--entries", "30"]);
    let sealed = d("small.cwbackup");
    let mut c = clusterwise();
    let out = c
        .args(["backup", "--db", &db, "--out", &sealed, "--encrypt"])
        .env("CLUSTERWISE_BACKUP_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("encrypted (XChaCha20-Poly1305"));
    let bytes = std::fs::read(&sealed).unwrap();
    // The header is readable without the passphrase; the rows are not.
    assert!(manifest(&header(Path::new(&sealed)))["ledger_entries"] > 0);
    assert!(
        !String::from_utf8_lossy(&bytes).contains("Soak entry"),
        "rows in the clear"
    );

    // A backup never overwrites a file; --encrypt needs a passphrase of some length.
    assert!(failing(&["backup", "--db", &db, "--out", &sealed], None).contains("already exists"));
    let short = failing(&["backup", "--db", &db, "--out", &d("x"), "--encrypt"], Some("short"));
    assert!(short.contains("too short"), "{short}");
    let none = failing(&["backup", "--db", &db, "--out", &d("x"), "--encrypt"], None);
    assert!(none.contains("CLUSTERWISE_BACKUP_PASSPHRASE"), "{none}");
    assert!(!Path::new(&d("x")).exists());

    let target = d("target.db");
    let restore =
        |from: &str, passphrase: Option<&str>| failing(&["restore", "--db", &target, "--from", from], passphrase);
    let untouched = || {
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("target") || n.starts_with(".target"))
            .collect();
        assert!(left.is_empty(), "a refused restore left {left:?}");
    };

    let e = restore(&sealed, Some("the wrong passphrase entirely"));
    assert!(
        e.contains("passphrase in CLUSTERWISE_BACKUP_PASSPHRASE is wrong"),
        "{e}"
    );
    untouched();
    let e = restore(&sealed, None);
    assert!(e.contains("is encrypted: set its passphrase"), "{e}");
    untouched();

    let write = |name: &str, b: &[u8]| {
        let p = d(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    // One byte changed in the middle of the sealed rows.
    let mut changed = bytes.clone();
    let at = changed.len() - 500;
    changed[at] ^= 0x20;
    let e = restore(&write("changed.cwbackup", &changed), Some(PASSPHRASE));
    assert!(e.contains("is damaged or was altered"), "{e}");
    untouched();
    // Cut short, as by a copy that ran out of space.
    let e = restore(&write("cut.cwbackup", &bytes[..bytes.len() * 2 / 3]), Some(PASSPHRASE));
    assert!(e.contains("is truncated"), "{e}");
    untouched();
    let e = restore(&write("stub.cwbackup", &bytes[..25]), Some(PASSPHRASE));
    assert!(e.contains("is damaged: its header line is cut short"), "{e}");
    untouched();
    // A format this build does not know.
    let future = replace_once(&bytes, "{\"format\":1,", "{\"format\":2,");
    let e = restore(&write("future.cwbackup", &future), Some(PASSPHRASE));
    assert!(
        e.contains("a backup in format 2; this Clusterwise reads format 1"),
        "{e}"
    );
    untouched();
    // A changed manifest in the header (authenticated with the rows).
    let lied = replace_once(&bytes, "\"authorities\":1,", "\"authorities\":2,");
    let e = restore(&write("lied.cwbackup", &lied), Some(PASSPHRASE));
    assert!(e.contains("or the file's header was changed"), "{e}");
    untouched();
    let e = restore(&write("not.cwbackup", b"id,name\n1,x\n"), None);
    assert!(e.contains("is not a Clusterwise backup"), "{e}");
    untouched();

    // The right passphrase restores; a second restore into the now full target is refused.
    let mut c = clusterwise();
    let out = c
        .args(["restore", "--db", &target, "--from", &sealed])
        .env("CLUSTERWISE_BACKUP_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let before = std::fs::read(&target).unwrap();
    let e = restore(&sealed, Some(PASSPHRASE));
    assert!(
        e.contains("already holds the data of 1 authority: Soak test authority (synthetic) (999)"),
        "{e}"
    );
    assert!(e.contains("--force"), "{e}");
    assert_eq!(std::fs::read(&target).unwrap(), before);

    // An unencrypted header that disagrees with its rows.
    let plain = d("plain.cwbackup");
    ok(&["backup", "--db", &db, "--out", &plain]);
    let text = std::fs::read_to_string(&plain).unwrap();
    let lied = text.replacen("\"authorities\":1,", "\"authorities\":2,", 1);
    let e = failing(
        &[
            "restore",
            "--db",
            &d("other.db"),
            "--from",
            &write("lied-plain.cwbackup", lied.as_bytes()),
        ],
        None,
    );
    assert!(
        e.contains("its header and contents disagree about the table authorities"),
        "{e}"
    );
    assert!(!Path::new(&d("other.db")).exists());
}

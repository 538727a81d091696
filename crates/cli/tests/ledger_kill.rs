//! The kill test: the real `clusterwise` binary posts a run of multi-line ledger entries to an
//! SQLite file and is killed with SIGKILL at seeded moments, then started again with the same
//! idempotency keys. After every kill: `PRAGMA integrity_check` is ok, every entry balances and
//! has all its lines, no key is posted twice, every acknowledged key is present exactly once
//! with the entry id it was acknowledged with, and the kept balances equal the journal's sums.
//! At the end the ledger equals that of a run that was never killed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use service::Store;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const ENTRIES: u32 = 240;
const CYCLES: u32 = 40;

/// A small seeded generator (xorshift64*), so the kill moments are the same on every run.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self, below: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) % below
    }
}

#[derive(Debug, Default)]
struct Run {
    /// key → entry id, for every `ack` line read.
    acks: BTreeMap<String, i64>,
    /// Keys refused by a rule.
    refused: Vec<String>,
    finished: bool,
}

/// Starts the soak on `db` from entry `from`; kills it (SIGKILL) a number of microseconds after
/// a number of new postings have been acknowledged (`kill_after`), or lets it finish when `None`.
fn soak(db: &Path, from: u32, kill_after: Option<(u64, u64)>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clusterwise"))
        .args(["ledger-soak", "--db"])
        .arg(db)
        .args(["--entries", &ENTRIES.to_string(), "--from", &from.to_string()])
        .env("CLUSTERWISE_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut run = Run::default();
    let mut new = 0;
    let mut killed = false;
    let mut buf = String::new();
    loop {
        buf.clear();
        // A line cut short by the kill has no newline: it was never fully written, skip it.
        if lines.read_line(&mut buf).unwrap() == 0 || !buf.ends_with('\n') {
            break;
        }
        let words: Vec<&str> = buf.split_whitespace().collect();
        match words.as_slice() {
            ["ack", key, id, how] => {
                run.acks.insert((*key).to_string(), id.parse().unwrap());
                if *how == "new" {
                    new += 1;
                }
            }
            ["refused", key, ..] => run.refused.push((*key).to_string()),
            ["skip", ..] => {}
            other => panic!("unexpected output {other:?}"),
        }
        if let Some((after, micros)) = kill_after
            && !killed
            && new >= after
        {
            // Let the next posting get under way for a seeded few microseconds, so kills land
            // anywhere in it (reads, the write transaction, the commit); then SIGKILL: no
            // destructor, no flush, no clean shutdown of SQLite. Nothing checked depends on
            // where it lands.
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_micros(micros) {
                std::hint::spin_loop();
            }
            child.kill().unwrap();
            killed = true;
            // Keep reading: lines already in the pipe were acknowledged before the kill.
        }
    }
    let status = child.wait().unwrap();
    run.finished = !killed && status.success();
    assert!(killed || status.success(), "the soak failed: {status}");
    run
}

/// Everything the ledger must be after any kill. Returns the balances and the keys posted.
async fn check(db: &Path, acked: &BTreeMap<String, i64>) -> (Vec<(String, i64)>, usize) {
    let store = store::connect(&db.display().to_string()).await.unwrap();
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
    store.ledger_durability().await.unwrap();
    let la = domain::ids::LaCode::parse("999").unwrap();
    let Some(authority) = store.authority_by_code(la).await.unwrap() else {
        assert!(acked.is_empty(), "acknowledged postings but no authority");
        store.close().await;
        return (Vec::new(), 0);
    };
    let audit = store.ledger_audit(authority.id).await.unwrap();
    assert!(audit.is_whole(), "{audit:?}");
    for (key, id) in acked {
        let found = store
            .ledger_entry_by_key(authority.id, key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged {key} is missing"));
        assert_eq!(found.entry.id.0, *id, "{key} changed its entry");
    }
    let today = domain::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let mut balances = Vec::new();
    let mut posted = 0;
    for c in store.list_clusters(authority.id, today).await.unwrap() {
        let snap = store.ledger_snapshot(authority.id, c.cluster.id).await.unwrap();
        let journal = store.ledger_journal(authority.id, c.cluster.id).await.unwrap();
        assert_eq!(snap.seq, i64::try_from(journal.len()).unwrap());
        assert_eq!(
            snap.balances,
            domain::funding::ledger::Balances::from_journal(journal.iter().map(|e| &e.body)).unwrap(),
            "kept balances differ from the journal's sums"
        );
        assert_eq!(snap.balances.sum(), Some(0));
        posted += journal.len();
        balances.extend(snap.balances.iter().map(|(a, v)| (a.to_string(), v)));
    }
    assert_eq!(audit.entries, u64::try_from(posted).unwrap());
    store.close().await;
    (balances, posted)
}

#[tokio::test]
async fn the_ledger_survives_being_killed_mid_run() {
    let dir = tempfile::tempdir().unwrap();
    // The reference: one run, never killed.
    let reference_db = dir.path().join("reference.db");
    let reference = soak(&reference_db, 0, None);
    assert!(reference.finished);
    assert!(
        !reference.refused.is_empty(),
        "some entries are refused by a rule, the same way each time"
    );
    let (want, want_posted) = check(&reference_db, &reference.acks).await;
    assert_eq!(want_posted, reference.acks.len());

    let db = dir.path().join("killed.db");
    let mut rng = Seeded(0x5EED_1ED6_E25E_ED01);
    let mut acked: BTreeMap<String, i64> = BTreeMap::new();
    let mut refused: Vec<String> = Vec::new();
    let mut kills = 0;
    for _ in 0..CYCLES {
        // Retry from a little before the last acknowledged key: those are replays, the rest new.
        let last = acked.keys().last().map_or(0, |k| k[5..].parse::<u32>().unwrap() + 1);
        let from = last.saturating_sub(u32::try_from(rng.next(4)).unwrap());
        let run = soak(&db, from, Some((1 + rng.next(10), rng.next(6_000))));
        for (key, id) in &run.acks {
            if let Some(before) = acked.insert(key.clone(), *id) {
                assert_eq!(before, *id, "{key} was acknowledged as two different entries");
            }
        }
        refused.extend(run.refused);
        check(&db, &acked).await;
        if run.finished {
            break;
        }
        kills += 1;
    }
    assert!(kills >= 10, "only {kills} kills happened");
    // Finish the run and compare with the reference, account by account.
    let last = acked.keys().last().map_or(0, |k| k[5..].parse::<u32>().unwrap());
    let run = soak(&db, last, None);
    assert!(run.finished);
    acked.extend(run.acks);
    let (got, posted) = check(&db, &acked).await;
    assert_eq!(posted, want_posted, "every key posted exactly once");
    assert_eq!(got, want, "the killed-and-retried ledger equals the uninterrupted one");
    assert_eq!(
        acked.keys().collect::<Vec<_>>(),
        reference.acks.keys().collect::<Vec<_>>()
    );
}

//! The audit log is tamper-evident: changing or removing a row behind the store's back (with SQL
//! the store itself never runs) is found by the chain check at that row. And the store has no
//! way to change or remove audit rows at all.
#![allow(clippy::unwrap_used)]

use domain::ids::{LaCode, UserId};
use domain::privacy::audit::{AuditRecord, Break, ChainStatus, Outcome, verify_chain};
use domain::privacy::{Action, Resource};
use service::casework::AuditQuery;
use service::store::Store;
use sqlx::Connection;

fn record(n: i64) -> AuditRecord {
    AuditRecord {
        at: 1_700_000_000 + n,
        user: UserId(1),
        user_email: "mentor@x.test".into(),
        role: "strand_staff".into(),
        action: Action::Read,
        resource: Resource::MentorCase,
        pupil: Some(domain::casework::PupilId(n)),
        school: None,
        purpose: "mentor case work".into(),
        outcome: Outcome::Allowed,
        detail: format!("case {n}"),
    }
}

#[tokio::test]
async fn tampering_with_the_audit_table_is_found_at_the_first_broken_link() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tamper.db");
    let store = store::connect(&path.display().to_string()).await.unwrap();
    let a = store
        .create_authority(LaCode::parse("926").unwrap(), "Norfolk")
        .await
        .unwrap()
        .id;
    let records: Vec<AuditRecord> = (1..=6).map(record).collect();
    store.append_audit(a, &records).await.unwrap();
    let chain =
        |s: store::SqlStore| async move { verify_chain(&s.audit_entries(a, &AuditQuery::default()).await.unwrap()) };
    assert!(matches!(
        chain(store.clone()).await,
        ChainStatus::Intact { entries: 6, .. }
    ));

    let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    // Someone rewrites why entry 3 happened.
    sqlx::query("UPDATE pupil_audit SET purpose = 'routine' WHERE seq = 3")
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        chain(store.clone()).await,
        ChainStatus::Broken {
            seq: 3,
            why: Break::ContentChanged
        }
    );
    sqlx::query("UPDATE pupil_audit SET purpose = 'mentor case work' WHERE seq = 3")
        .execute(&mut raw)
        .await
        .unwrap();
    assert!(
        matches!(chain(store.clone()).await, ChainStatus::Intact { .. }),
        "put back, it verifies"
    );
    // Someone removes entry 5 (a refusal they would rather nobody saw).
    sqlx::query("DELETE FROM pupil_audit WHERE seq = 5")
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        chain(store.clone()).await,
        ChainStatus::Broken {
            seq: 6,
            why: Break::SequenceGap
        }
    );
    // ...and renumbers the rest to hide the gap: the link to the previous hash gives it away.
    sqlx::query("UPDATE pupil_audit SET seq = 5 WHERE seq = 6")
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        chain(store.clone()).await,
        ChainStatus::Broken {
            seq: 5,
            why: Break::LinkBroken
        }
    );
    raw.close().await.unwrap();
    store.close().await;
}

#[test]
fn the_store_never_updates_or_deletes_audit_rows() {
    let source = include_str!("../src/casework.rs").to_ascii_lowercase();
    for forbidden in ["update pupil_audit", "delete from pupil_audit"] {
        assert!(!source.contains(forbidden), "the store must not run {forbidden:?}");
    }
    let all = [include_str!("../src/lib.rs"), include_str!("../src/casework.rs")]
        .concat()
        .to_ascii_lowercase();
    assert_eq!(all.matches("insert into pupil_audit").count(), 1, "one way in: append");
}

//! The ledger's use cases over a real store: who may post and read what, exactly-once postings,
//! refusals that name their rule, exceptions, reversals, staff posts against the funding
//! horizon, and concurrent postings that never overspend together.
#![allow(clippy::unwrap_used)]

use domain::NaiveDate;
use domain::access::{Scope, User, UserRole};
use domain::cluster::MembershipRole;
use domain::funding::ledger::{Approval, EntryKind, Fence, Holder, LedgerError, NewEntry, NewStaffPost, simple_lines};
use domain::funding::virement::{LEARNING_MENTORS_AND_LSU, NewException};
use domain::ids::{AuthorityId, ClusterId, LaCode, Urn, UserId};
use domain::import::{MembershipRecord, SchoolRecord};
use domain::money::Money;
use domain::school::{Census, Governance, Phase, School, SchoolStatus};
use service::ledger::{LedgerFailure, PostRequest, ReverseRequest};
use service::{FixedClock, Service, ServiceError};
use std::sync::Arc;

/// 2026-12-01T12:00:00Z
const NOW: i64 = 1_796_126_400;

fn urn(n: u32) -> Urn {
    Urn::from_u32(n).unwrap()
}
fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}
fn pounds(p: i64) -> Money {
    Money::from_pounds(p).unwrap()
}

fn school(n: u32, phase: Phase, pupils: u32) -> SchoolRecord {
    SchoolRecord {
        line: 2,
        la_code: LaCode::parse("926").unwrap(),
        la_name: "Norfolk".into(),
        school: School {
            urn: urn(n),
            laestab: None,
            name: format!("School {n}"),
            phase,
            establishment_type: "Community school".into(),
            governance: Governance::LaMaintained,
            status: SchoolStatus::Open,
            opened_on: None,
            closed_on: None,
            sex: None,
            denomination: None,
            trust: None,
            postcode: None,
            location: None,
            district: None,
            constituency: None,
            ward: None,
            urban_rural: None,
        },
        census: Some(Census {
            census_date: day("2023-01-19"),
            pupils,
            pupils_fte: None,
            fsm_count: Some(pupils / 10),
            fsm_pct: None,
            sen_count: None,
            eal_count: None,
            stages: [None; 7],
        }),
    }
}

struct World {
    service: Service,
    norfolk: AuthorityId,
    hill: ClusterId,
    dale: ClusterId,
}

const HIGH: u32 = 121_001;
const BROOK: u32 = 121_002;
const OTHER: u32 = 121_003;

async fn world_on(store: store::SqlStore) -> World {
    let service = Service::new(Arc::new(store), Arc::new(FixedClock(NOW)));
    let s = service.store();
    let norfolk = s
        .create_authority(LaCode::parse("926").unwrap(), "Norfolk")
        .await
        .unwrap()
        .id;
    s.save_school_import(
        norfolk,
        &[
            school(HIGH, Phase::Secondary, 1200),
            school(BROOK, Phase::Primary, 300),
            school(OTHER, Phase::Primary, 100),
        ],
    )
    .await
    .unwrap();
    let m = |n: u32, cluster: &str, role| MembershipRecord {
        line: 2,
        urn: urn(n),
        cluster: cluster.into(),
        role,
    };
    s.save_memberships(
        norfolk,
        &[
            m(HIGH, "Hill", MembershipRole::Host),
            m(BROOK, "Hill", MembershipRole::Feeder),
            m(OTHER, "Dale", MembershipRole::Host),
        ],
        day("2023-09-01"),
        false,
    )
    .await
    .unwrap();
    let clusters = s.list_clusters(norfolk, day("2026-12-01")).await.unwrap();
    let id = |name: &str| clusters.iter().find(|c| c.cluster.name == name).unwrap().cluster.id;
    World {
        hill: id("Hill"),
        dale: id("Dale"),
        service,
        norfolk,
    }
}

async fn world() -> World {
    world_on(store::connect_in_memory().await.unwrap()).await
}

fn user(w: &World, role: UserRole, scope: Scope) -> User {
    User {
        id: UserId(1),
        authority: w.norfolk,
        email: "someone@example.org".into(),
        display_name: format!("Demo {}", role.code()),
        role,
        scope,
    }
}

fn entry(kind: EntryKind, fence: &Fence, from: Holder, to: Option<(&Fence, Holder)>, amount: Money) -> NewEntry {
    NewEntry {
        kind,
        date: day("2026-11-30"),
        memo: format!("{} test", kind.code()),
        lines: simple_lines(kind, (fence, from), to, amount, false).unwrap(),
        approval: None,
        exception: None,
        joint_project: false,
        reverses: None,
    }
}

fn req(key: &str, entry: NewEntry) -> PostRequest {
    PostRequest {
        idempotency_key: key.into(),
        entry,
    }
}

fn rule(e: LedgerFailure) -> LedgerError {
    match e {
        LedgerFailure::Rule(r) => r,
        LedgerFailure::Service(s) => panic!("not a rule: {s}"),
    }
}
fn service_err(e: LedgerFailure) -> ServiceError {
    match e {
        LedgerFailure::Service(s) => s,
        LedgerFailure::Rule(r) => panic!("a rule, not a service error: {r}"),
    }
}

fn admin() -> Fence {
    Fence::new("Cluster admin", "all").unwrap()
}

/// £10,000 received, £6,000 to the high school and £3,000 to the primary.
async fn funded(w: &World) -> (User, User) {
    let officer = user(w, UserRole::AuthorityOfficer, Scope::Authority);
    let clerk = user(w, UserRole::ClusterClerk, Scope::Cluster(w.hill));
    let f = admin();
    w.service
        .post_entry(
            &officer,
            w.hill,
            req(
                "receipt-0001",
                entry(EntryKind::Receipt, &f, Holder::Central, None, pounds(10_000)),
            ),
        )
        .await
        .unwrap();
    for (key, school, amount) in [("alloc-0001", HIGH, 6_000), ("alloc-0002", BROOK, 3_000)] {
        w.service
            .post_entry(
                &clerk,
                w.hill,
                req(
                    key,
                    entry(
                        EntryKind::Allocation,
                        &f,
                        Holder::Central,
                        Some((&f, Holder::School(urn(school)))),
                        pounds(amount),
                    ),
                ),
            )
            .await
            .unwrap();
    }
    (officer, clerk)
}

#[tokio::test]
async fn who_may_post_and_read_what() {
    let w = world().await;
    let (officer, clerk) = funded(&w).await;
    let f = admin();
    let pay = |n: u32| entry(EntryKind::Payment, &f, Holder::School(urn(n)), None, pounds(10));

    // The officer records receipts, not payments; the clerk the other way round.
    let e = service_err(
        w.service
            .post_entry(&officer, w.hill, req("pay-by-officer", pay(HIGH)))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(&e, ServiceError::Forbidden(m) if m.contains("may not post payments")),
        "{e}"
    );
    let e = service_err(
        w.service
            .post_entry(
                &clerk,
                w.hill,
                req(
                    "receipt-by-clerk",
                    entry(EntryKind::Receipt, &f, Holder::Central, None, pounds(1)),
                ),
            )
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(&e, ServiceError::Forbidden(m) if m.contains("an authority officer records receipts")),
        "{e}"
    );
    // Another cluster's clerk, a strand worker, a head of another cluster's school: refused.
    let other_clerk = user(&w, UserRole::ClusterClerk, Scope::Cluster(w.dale));
    assert!(matches!(
        w.service.ledger(&other_clerk, w.hill).await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(matches!(
        service_err(
            w.service
                .post_entry(&other_clerk, w.hill, req("pay-by-other", pay(HIGH)))
                .await
                .unwrap_err()
        ),
        ServiceError::Forbidden(_)
    ));
    for u in [
        user(&w, UserRole::StrandStaff, Scope::School(urn(HIGH))),
        user(&w, UserRole::Headteacher, Scope::School(urn(OTHER))),
    ] {
        assert!(
            matches!(w.service.ledger(&u, w.hill).await, Err(ServiceError::Forbidden(_))),
            "{u:?}"
        );
    }
    // Another authority's user finds nothing.
    let stranger = User {
        authority: AuthorityId(999),
        ..officer.clone()
    };
    assert!(matches!(
        w.service.ledger(&stranger, w.hill).await,
        Err(ServiceError::NotFound(_))
    ));

    // A governor reads their own school's part only.
    w.service
        .post_entry(&clerk, w.hill, req("pay-high-01", pay(HIGH)))
        .await
        .unwrap();
    let governor = user(&w, UserRole::Governor, Scope::School(urn(BROOK)));
    let view = w.service.ledger(&governor, w.hill).await.unwrap();
    assert!(view.access.may_post.is_empty());
    assert_eq!(view.journal.len(), 1, "only the allocation to Brook touches Brook");
    assert!(
        view.journal[0]
            .entry
            .body
            .lines
            .iter()
            .all(|l| l.account.holder == Holder::School(urn(BROOK)))
    );
    assert!(view.schools.iter().all(|(_, s)| s.holder == Holder::School(urn(BROOK))));
    assert_eq!(
        view.budget.allocated_to_schools(),
        pounds(9_000),
        "the totals are the whole cluster's"
    );
    assert!(view.staff.is_empty());
    // An evaluator reads totals, no journal and no staff.
    let evaluator = user(&w, UserRole::Evaluator, Scope::Authority);
    let view = w.service.ledger(&evaluator, w.hill).await.unwrap();
    assert!(view.journal.is_empty() && !view.access.sees_journal);
    assert_eq!(view.budget.received(), pounds(10_000));
    // The clerk sees everything, and it reconciles.
    let view = w.service.ledger(&clerk, w.hill).await.unwrap();
    assert_eq!(view.journal.len(), 4);
    assert_eq!(view.journal[0].entry.body.kind, EntryKind::Payment, "newest first");
    assert!(view.reconciles);
    assert_eq!(view.budget.spent(), pounds(10));
    assert_eq!(view.budget.held(), pounds(9_990));
}

#[tokio::test]
async fn a_retried_key_posts_once_and_other_content_conflicts() {
    let w = world().await;
    let (_, clerk) = funded(&w).await;
    let f = admin();
    let all = entry(EntryKind::Payment, &f, Holder::School(urn(BROOK)), None, pounds(3_000));
    let first = w
        .service
        .post_entry(&clerk, w.hill, req("pay-all-brook", all.clone()))
        .await
        .unwrap();
    assert!(!first.replayed);
    // The allocation is now spent, yet the retry returns the original rather than a refusal.
    let again = w
        .service
        .post_entry(&clerk, w.hill, req("pay-all-brook", all.clone()))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.entry, first.entry);
    let mut other = all.clone();
    other.memo = "different".into();
    let e = service_err(
        w.service
            .post_entry(&clerk, w.hill, req("pay-all-brook", other))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(&e, ServiceError::Conflict(m) if m.contains("already used for a different entry")),
        "{e}"
    );
    // A new key for the same payment is a new posting, refused by the overspend rule.
    let e = rule(
        w.service
            .post_entry(&clerk, w.hill, req("pay-all-brook-2", all))
            .await
            .unwrap_err(),
    );
    assert_eq!(e.field(), "amount");
    assert!(e.to_string().starts_with("rule no-overspend"), "{e}");
    let view = w.service.ledger(&clerk, w.hill).await.unwrap();
    assert_eq!(view.journal.len(), 4);
    // Bad keys are refused before anything else.
    let bad = w
        .service
        .post_entry(
            &clerk,
            w.hill,
            req("short", entry(EntryKind::Payment, &f, Holder::Central, None, pounds(1))),
        )
        .await
        .unwrap_err();
    assert!(service_err(bad).to_string().contains("idempotency_key"));
}

#[tokio::test]
async fn virements_keep_to_the_ring_fence_unless_a_rule_or_an_exception_permits() {
    let w = world().await;
    let (officer, clerk) = funded(&w).await;
    let gt_p = Fence::new("Gifted and talented", "primary").unwrap();
    let gt_s = Fence::new("Gifted and talented", "secondary").unwrap();
    let lm_p = Fence::new(LEARNING_MENTORS_AND_LSU, "primary").unwrap();
    let lm_s = Fence::new(LEARNING_MENTORS_AND_LSU, "secondary").unwrap();
    for (i, f) in [&gt_p, &gt_s, &lm_p, &lm_s].into_iter().enumerate() {
        w.service
            .post_entry(
                &officer,
                w.hill,
                req(
                    &format!("receipt-x{i:03}"),
                    entry(EntryKind::Receipt, f, Holder::Central, None, pounds(1_000)),
                ),
            )
            .await
            .unwrap();
    }
    let c = Holder::Central;
    let across = entry(EntryKind::Virement, &gt_p, c, Some((&gt_s, c)), pounds(100));
    let e = rule(
        w.service
            .post_entry(&clerk, w.hill, req("vire-gt-0001", across.clone()))
            .await
            .unwrap_err(),
    );
    assert_eq!(e.field(), "to");
    assert!(
        e.to_string().starts_with(
            "rule ring-fence: by default no money moves between streams or between primary and secondary. Moving money from Gifted and talented (primary) to Gifted and talented (secondary)"
        ),
        "{e}"
    );
    // Learning mentors and LSU are one stream.
    w.service
        .post_entry(
            &clerk,
            w.hill,
            req(
                "vire-lm-0001",
                entry(EntryKind::Virement, &lm_p, c, Some((&lm_s, c)), pounds(100)),
            ),
        )
        .await
        .unwrap();
    // An approved exception lets one virement through; the clerk cannot record one.
    let x = NewException {
        from: gt_p.clone(),
        to: gt_s.clone(),
        amount: pounds(100),
        reason: "Year 6 to 7 summer school".into(),
        approver: "Head of school improvement".into(),
        approved_on: day("2026-11-20"),
    };
    assert!(matches!(
        service_err(w.service.record_exception(&clerk, w.hill, &x).await.unwrap_err()),
        ServiceError::Forbidden(_)
    ));
    let id = w.service.record_exception(&officer, w.hill, &x).await.unwrap();
    let with = NewEntry {
        exception: Some(id),
        ..across.clone()
    };
    let done = w
        .service
        .post_entry(&clerk, w.hill, req("vire-gt-0002", with.clone()))
        .await
        .unwrap();
    let again = NewEntry {
        memo: "again".into(),
        ..with
    };
    let e = rule(
        w.service
            .post_entry(&clerk, w.hill, req("vire-gt-0003", again))
            .await
            .unwrap_err(),
    );
    assert_eq!(e, LedgerError::ExceptionUsed { id, by: done.entry.id });
    let view = w.service.ledger(&officer, w.hill).await.unwrap();
    assert_eq!(view.exceptions[0].used_by, Some(done.entry.id));
    assert_eq!(view.rules.rules.len(), 2, "the defaults");

    // The authority's own list replaces the defaults: with no rules, LM+LSU is fenced too.
    w.service
        .set_virement_rules(&officer, &domain::funding::virement::VirementRules { rules: vec![] })
        .await
        .unwrap();
    assert!(matches!(
        w.service
            .set_virement_rules(&clerk, &domain::funding::virement::VirementRules::default())
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    let e = rule(
        w.service
            .post_entry(
                &clerk,
                w.hill,
                req(
                    "vire-lm-0002",
                    entry(EntryKind::Virement, &lm_p, c, Some((&lm_s, c)), pounds(1)),
                ),
            )
            .await
            .unwrap_err(),
    );
    assert!(e.to_string().contains("no virement rule in force (none)"), "{e}");
}

#[tokio::test]
async fn an_entry_is_reversed_once() {
    let w = world().await;
    let (officer, clerk) = funded(&w).await;
    let f = admin();
    let paid = w
        .service
        .post_entry(
            &clerk,
            w.hill,
            req(
                "pay-wrong-01",
                entry(EntryKind::Payment, &f, Holder::School(urn(HIGH)), None, pounds(250)),
            ),
        )
        .await
        .unwrap();
    let rev = |key: &str| ReverseRequest {
        idempotency_key: key.into(),
        date: day("2026-12-01"),
        memo: "Posted to the wrong school".into(),
        approval: None,
    };
    // The officer does not reverse the clerk's payments.
    assert!(matches!(
        service_err(
            w.service
                .reverse_entry(&officer, w.hill, paid.entry.id, rev("rev-by-officer"))
                .await
                .unwrap_err()
        ),
        ServiceError::Forbidden(_)
    ));
    let done = w
        .service
        .reverse_entry(&clerk, w.hill, paid.entry.id, rev("rev-0000001"))
        .await
        .unwrap();
    assert_eq!(done.entry.body.reverses, Some(paid.entry.id));
    let again = w
        .service
        .reverse_entry(&clerk, w.hill, paid.entry.id, rev("rev-0000001"))
        .await
        .unwrap();
    assert!(again.replayed, "a double submit of the reversal form posts once");
    assert_eq!(again.entry.id, done.entry.id);
    let e = rule(
        w.service
            .reverse_entry(&clerk, w.hill, paid.entry.id, rev("rev-0000002"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        e,
        LedgerError::AlreadyReversed {
            id: paid.entry.id,
            by: done.entry.id
        }
    );
    let e = rule(
        w.service
            .reverse_entry(&clerk, w.hill, done.entry.id, rev("rev-0000003"))
            .await
            .unwrap_err(),
    );
    assert_eq!(e, LedgerError::ReversalOfReversal { id: done.entry.id });
    let view = w.service.ledger(&clerk, w.hill).await.unwrap();
    assert_eq!(view.budget.spent(), Money::ZERO);
    assert_eq!(
        view.journal
            .iter()
            .find(|e| e.entry.id == paid.entry.id)
            .unwrap()
            .entry
            .reversed_by,
        Some(done.entry.id)
    );
    // Reversing the receipt would leave the pot overspent: refused unless approved.
    let receipt = view
        .journal
        .iter()
        .find(|e| e.entry.body.kind == EntryKind::Receipt)
        .unwrap()
        .entry
        .id;
    let e = rule(
        w.service
            .reverse_entry(&officer, w.hill, receipt, rev("rev-0000004"))
            .await
            .unwrap_err(),
    );
    assert!(e.to_string().starts_with("rule no-overspend"), "{e}");
    let approved = ReverseRequest {
        approval: Some(Approval {
            approver: "Director of children's services".into(),
            reason: "Grant withdrawn".into(),
            approved_on: day("2026-12-01"),
        }),
        ..rev("rev-0000005")
    };
    w.service
        .reverse_entry(&officer, w.hill, receipt, approved)
        .await
        .unwrap();
}

#[tokio::test]
async fn staff_posts_past_the_funding_horizon_are_flagged() {
    let w = world().await;
    let (officer, clerk) = funded(&w).await;
    let post = |end: Option<&str>| NewStaffPost {
        post: "Learning mentor".into(),
        school: Some(urn(HIGH)),
        fte_tenths: 10,
        annual_cost: pounds(26_000),
        fence: Fence::new(LEARNING_MENTORS_AND_LSU, "secondary").unwrap(),
        contract_start: day("2025-09-01"),
        contract_end: end.map(day),
    };
    assert!(matches!(
        service_err(
            w.service
                .record_staff_post(&officer, w.hill, &post(None))
                .await
                .unwrap_err()
        ),
        ServiceError::Forbidden(_)
    ));
    w.service
        .record_staff_post(&clerk, w.hill, &post(Some("2027-08-31")))
        .await
        .unwrap();
    w.service
        .record_staff_post(&clerk, w.hill, &post(Some("2027-03-31")))
        .await
        .unwrap();
    let bad = NewStaffPost {
        school: Some(urn(OTHER)),
        ..post(None)
    };
    let e = rule(w.service.record_staff_post(&clerk, w.hill, &bad).await.unwrap_err());
    assert_eq!(e, LedgerError::NotMember { urn: urn(OTHER) });
    let view = w.service.ledger(&clerk, w.hill).await.unwrap();
    let flags: Vec<(NaiveDate, bool)> = view.staff.iter().map(|s| (s.horizon, s.runs_past)).collect();
    assert_eq!(flags, vec![(day("2027-03-31"), true), (day("2027-03-31"), false)]);
    // The cluster sets the stream's horizon to the end of the academic year: no longer past it.
    w.service
        .set_horizon(&clerk, w.hill, LEARNING_MENTORS_AND_LSU, day("2027-08-31"))
        .await
        .unwrap();
    let view = w.service.ledger(&clerk, w.hill).await.unwrap();
    assert!(view.staff.iter().all(|s| !s.runs_past));
}

/// Many postings at once against one allocation on a file database with several connections:
/// exactly as many land as the allocation allows, and the ledger stays whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_postings_never_overspend_together() {
    let path = std::env::temp_dir().join(format!("cw-ledger-concurrent-{}-{NOW}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = store::connect(&path.display().to_string()).await.unwrap();
    let w = Arc::new(world_on(store.clone()).await);
    let (_, clerk) = funded(&w).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (w, clerk) = (w.clone(), clerk.clone());
        tasks.push(tokio::spawn(async move {
            let f = admin();
            w.service
                .post_entry(
                    &clerk,
                    w.hill,
                    req(
                        &format!("concurrent-{i:03}"),
                        entry(EntryKind::Payment, &f, Holder::School(urn(BROOK)), None, pounds(250)),
                    ),
                )
                .await
        }));
    }
    let mut posted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => posted += 1,
            Err(LedgerFailure::Rule(e)) => assert!(e.to_string().starts_with("rule no-overspend"), "{e}"),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(posted, 12, "£3,000 allows twelve payments of £250");
    let view = w.service.ledger(&clerk, w.hill).await.unwrap();
    assert!(view.reconciles);
    let brook = view.budget.fences[0]
        .schools
        .iter()
        .find(|s| s.holder == Holder::School(urn(BROOK)))
        .unwrap();
    assert_eq!((brook.remaining(), brook.spent), (Money::ZERO, pounds(3_000)));
    let audit = w.service.store().ledger_audit(w.norfolk).await.unwrap();
    assert!(audit.is_whole(), "{audit:?}");
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

//! Property tests of the host-school ledger: for any sequence of proposed entries, the accepted
//! ones each balance, the journal sums to the balances, every balance adds up to zero, nothing
//! that must never go below zero does, no allocation is overspent without an approval, and a
//! reversal nets its original to zero.
#![allow(clippy::unwrap_used)]

use domain::NaiveDate;
use domain::funding::ledger::{
    Account, AccountKind, Approval, Balances, Budget, Entry, EntryId, EntryKind, Fence, Holder, LedgerContext,
    NewEntry, check, reversal_of, simple_lines,
};
use domain::funding::virement::{LEARNING_MENTORS_AND_LSU, VirementRules};
use domain::ids::Urn;
use domain::money::Money;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn fences() -> Vec<Fence> {
    vec![
        Fence::new("Cluster admin", "all").unwrap(),
        Fence::new("Gifted and talented", "primary").unwrap(),
        Fence::new("Gifted and talented", "secondary").unwrap(),
        Fence::new(LEARNING_MENTORS_AND_LSU, "primary").unwrap(),
        Fence::new(LEARNING_MENTORS_AND_LSU, "secondary").unwrap(),
    ]
}

fn holders() -> Vec<Holder> {
    vec![
        Holder::Central,
        Holder::School(Urn::from_u32(100_001).unwrap()),
        Holder::School(Urn::from_u32(100_002).unwrap()),
        Holder::School(Urn::from_u32(100_003).unwrap()),
    ]
}

/// One proposed operation, as indexes into the fixed fences, holders and the journal so far.
#[derive(Debug, Clone)]
struct Op {
    kind: usize,
    fence: usize,
    holder: usize,
    to_fence: usize,
    to_holder: usize,
    pence: i64,
    from_commitment: bool,
    approved: bool,
    joint: bool,
    target: usize,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0usize..8,
        0usize..5,
        0usize..4,
        0usize..5,
        0usize..4,
        1i64..2_000_000,
        any::<bool>(),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.2),
        0usize..64,
    )
        .prop_map(
            |(kind, fence, holder, to_fence, to_holder, pence, from_commitment, approved, joint, target)| Op {
                kind,
                fence,
                holder,
                to_fence,
                to_holder,
                pence,
                from_commitment,
                approved,
                joint,
                target,
            },
        )
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()
}

/// Turns an operation into a proposed entry (or `None` when it cannot even be built).
fn propose(op: &Op, journal: &[Entry]) -> Option<NewEntry> {
    let (fs, hs) = (fences(), holders());
    let kind = EntryKind::ALL[op.kind];
    let approval = op.approved.then(|| Approval {
        approver: "Chair".into(),
        reason: "Agreed".into(),
        approved_on: day(),
    });
    if kind == EntryKind::Reversal {
        let original = journal.get(op.target % journal.len().max(1))?;
        return reversal_of(original, day(), "reverse", approval).ok();
    }
    // Receipts mostly go to the centre; allocations mostly to schools, so runs make progress.
    let holder = if kind == EntryKind::Receipt {
        Holder::Central
    } else {
        hs[op.holder]
    };
    // A stream's money is most often received in large sums.
    let pence = if kind == EntryKind::Receipt {
        op.pence * 20
    } else {
        op.pence
    };
    let lines = simple_lines(
        kind,
        (&fs[op.fence], holder),
        Some((&fs[op.to_fence], hs[op.to_holder])),
        Money::from_pence(pence),
        op.from_commitment,
    )
    .ok()?;
    Some(NewEntry {
        kind,
        date: day(),
        memo: format!("op {}", op.kind),
        lines,
        approval,
        exception: None,
        joint_project: op.joint && kind == EntryKind::Virement,
        reverses: None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_accepted_sequence_keeps_the_ledger_whole(ops in prop::collection::vec(op(), 1..80)) {
        let members: BTreeSet<Urn> = holders()
            .into_iter()
            .filter_map(|h| match h { Holder::School(u) => Some(u), Holder::Central => None })
            .collect();
        let rules = VirementRules::default();
        let mut balances = Balances::new();
        let mut journal: Vec<Entry> = Vec::new();
        for op in &ops {
            let Some(proposed) = propose(op, &journal) else { continue };
            let original = proposed.reverses.and_then(|id| journal.iter().find(|e| e.id == id)).cloned();
            let ctx = LedgerContext {
                balances: &balances,
                members: &members,
                rules: &rules,
                exceptions: &[],
                original: original.as_ref(),
            };
            let before = balances.clone();
            if check(&proposed, &ctx).is_err() {
                prop_assert_eq!(&balances, &before);
                continue;
            }
            // Every accepted entry balances.
            let net: i64 = proposed.lines.iter().map(|l| l.signed_pence()).sum();
            prop_assert_eq!(net, 0);
            prop_assert!(proposed.lines.iter().all(|l| l.amount.pence() > 0));
            balances.apply(&proposed.lines).unwrap();
            let id = EntryId(journal.len() as i64 + 1);
            if let Some(o) = proposed.reverses {
                let orig = journal.iter_mut().find(|e| e.id == o).unwrap();
                prop_assert!(orig.reversed_by.is_none(), "reversed twice");
                orig.reversed_by = Some(id);
            }
            journal.push(Entry { id, seq: id.0, body: proposed, posted_by: "p".into(), posted_at: 0, reversed_by: None });

            // The journal sums to the balances; all balances add up to zero.
            let summed = Balances::from_journal(journal.iter().map(|e| &e.body)).unwrap();
            prop_assert_eq!(&summed, &balances);
            prop_assert_eq!(balances.sum(), Some(0));
            for (account, v) in balances.iter() {
                match account.kind {
                    AccountKind::Funding => prop_assert!(v <= 0, "{account} {v}"),
                    AccountKind::Committed | AccountKind::ClaimsDue | AccountKind::Spent => {
                        prop_assert!(v >= 0, "{account} {v}")
                    }
                    AccountKind::Available => {}
                }
            }
            // The host school holds what was received less what was spent.
            let budget = Budget::from_balances(&balances);
            prop_assert_eq!(budget.held().pence(), budget.received().pence() - budget.spent().pence());
        }
        // Without any approval, nothing is overspent.
        let approvals = journal.iter().any(|e| e.body.approval.is_some());
        if !approvals {
            for (account, v) in balances.iter() {
                prop_assert!(v >= 0 || account.kind == AccountKind::Funding, "{account} overspent: {v}");
            }
        }
        // Each reversal nets its original to zero, account by account.
        for e in journal.iter().filter(|e| e.body.kind == EntryKind::Reversal) {
            let original = journal.iter().find(|o| Some(o.id) == e.body.reverses).unwrap();
            let mut net: BTreeMap<&Account, i64> = BTreeMap::new();
            for l in original.body.lines.iter().chain(&e.body.lines) {
                *net.entry(&l.account).or_default() += l.signed_pence();
            }
            prop_assert!(net.values().all(|v| *v == 0));
        }
    }
}

//! The host-school ledger: each cluster's funds in an append-only double-entry journal, and the
//! rules a posting must keep.
//!
//! The chart of accounts follows the money. Every account is in one ring-fence ([`Fence`]: a
//! stream and a phase) and belongs to a holder (the cluster's central pot or a member school):
//!
//! | account | balance | meaning |
//! | --- | --- | --- |
//! | `funding` (central) | credit | received from the authority |
//! | `available` (central) | debit | the central pot: received, not yet allocated, committed or spent |
//! | `available` (school) | debit | a school's allocation not yet committed or spent |
//! | `committed` | debit | set aside for an order or contract not yet paid |
//! | `claims_due` (school) | debit | owed to a school on an approved claim, not yet reimbursed |
//! | `spent` | debit | paid out of the host school's bank |
//!
//! So every entry moves money from the accounts it credits to those it debits, every entry
//! balances (debits = credits, whole pence, no zero or negative amount), the balances of all
//! accounts always add up to zero, and the money the host school holds for the cluster is the
//! sum of the `available`, `committed` and `claims_due` balances (= received − spent). Balances
//! are derived from the journal; nothing is ever edited or deleted: a mistake is corrected by a
//! reversing entry, and an entry is reversed at most once.

use super::virement::{RING_FENCE_RULE, VirementException, VirementRules};
use crate::NaiveDate;
use crate::ids::Urn;
use crate::money::Money;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The largest amount one line may carry (£1,000,000,000.00), so sums never overflow.
pub const MAX_AMOUNT_PENCE: i64 = 100_000_000_000;
/// The most lines one entry may have.
pub const MAX_LINES: usize = 500;

macro_rules! ledger_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

ledger_id!(
    /// A journal entry (unique within the authority).
    EntryId
);
ledger_id!(
    /// An approved virement exception.
    ExceptionId
);
ledger_id!(
    /// A staff post paid from cluster money.
    StaffPostId
);

/// Checks a person-typed text: present, at most `max` characters, no control characters.
pub(crate) fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), LedgerError> {
    if value.trim().is_empty() {
        return Err(LedgerError::Missing { field });
    }
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(LedgerError::TextTooLong { field, max });
    }
    Ok(())
}

/// A ring-fence: a stream and a phase (`primary`, `secondary`, `all`, …).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fence {
    pub stream: String,
    pub phase: String,
}

impl Fence {
    /// A stream name (trimmed, at most 80 characters) and a phase code (lower-case letters and
    /// underscores, at most 40).
    pub fn new(stream: &str, phase: &str) -> Result<Fence, LedgerError> {
        let stream = stream.trim();
        check_text("stream", stream, 80)?;
        let phase = phase.trim();
        if phase.is_empty() || phase.len() > 40 || !phase.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(LedgerError::Phase { phase: phase.into() });
        }
        Ok(Fence {
            stream: stream.into(),
            phase: phase.into(),
        })
    }
    /// "primary" → "primary", "all" → "whole cluster", "alternative_provision" → "alternative provision".
    pub fn phase_label(&self) -> String {
        match self.phase.as_str() {
            "all" => "whole cluster".into(),
            p => p.replace('_', " "),
        }
    }
}

impl fmt::Display for Fence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.stream, self.phase_label())
    }
}

/// Who an account is for: the cluster's central pot or a member school.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Holder {
    Central,
    School(Urn),
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Holder::Central => f.write_str("central"),
            Holder::School(u) => write!(f, "school {u}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountKind {
    Funding,
    Available,
    Committed,
    ClaimsDue,
    Spent,
}

impl AccountKind {
    pub const ALL: [AccountKind; 5] = [
        AccountKind::Funding,
        AccountKind::Available,
        AccountKind::Committed,
        AccountKind::ClaimsDue,
        AccountKind::Spent,
    ];
    pub fn code(self) -> &'static str {
        match self {
            AccountKind::Funding => "funding",
            AccountKind::Available => "available",
            AccountKind::Committed => "committed",
            AccountKind::ClaimsDue => "claims_due",
            AccountKind::Spent => "spent",
        }
    }
    pub fn from_code(code: &str) -> Option<AccountKind> {
        AccountKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// One account in a cluster's chart.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Account {
    pub fence: Fence,
    pub holder: Holder,
    pub kind: AccountKind,
}

impl Account {
    pub fn new(kind: AccountKind, fence: &Fence, holder: Holder) -> Account {
        Account {
            fence: fence.clone(),
            holder,
            kind,
        }
    }
    /// "Received from the authority", "Central pot", "Allocation", "Committed", …
    pub fn label(&self) -> &'static str {
        match (self.kind, self.holder) {
            (AccountKind::Funding, _) => "Received from the authority",
            (AccountKind::Available, Holder::Central) => "Central pot",
            (AccountKind::Available, Holder::School(_)) => "Allocation",
            (AccountKind::Committed, _) => "Committed",
            (AccountKind::ClaimsDue, _) => "Claims due",
            (AccountKind::Spent, _) => "Spent",
        }
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fence = &self.fence;
        match (self.kind, self.holder) {
            (AccountKind::Funding, _) => write!(f, "funding received from the authority for {fence}"),
            (AccountKind::Available, Holder::Central) => write!(f, "central pot of {fence}"),
            (AccountKind::Available, Holder::School(u)) => write!(f, "allocation of school {u} in {fence}"),
            (AccountKind::Committed, Holder::Central) => write!(f, "central commitments in {fence}"),
            (AccountKind::Committed, Holder::School(u)) => write!(f, "commitments of school {u} in {fence}"),
            (AccountKind::ClaimsDue, Holder::Central) => write!(f, "central claims due in {fence}"),
            (AccountKind::ClaimsDue, Holder::School(u)) => write!(f, "claims due to school {u} in {fence}"),
            (AccountKind::Spent, Holder::Central) => write!(f, "central spending in {fence}"),
            (AccountKind::Spent, Holder::School(u)) => write!(f, "spending of school {u} in {fence}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Debit,
    Credit,
}

impl Side {
    pub fn code(self) -> &'static str {
        match self {
            Side::Debit => "debit",
            Side::Credit => "credit",
        }
    }
    pub fn from_code(code: &str) -> Option<Side> {
        [Side::Debit, Side::Credit].into_iter().find(|s| s.code() == code)
    }
    pub fn flip(self) -> Side {
        match self {
            Side::Debit => Side::Credit,
            Side::Credit => Side::Debit,
        }
    }
}

/// One line of an entry: an amount (more than zero) to one side of one account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Line {
    pub account: Account,
    pub side: Side,
    pub amount: Money,
}

impl Line {
    pub fn debit(account: Account, amount: Money) -> Line {
        Line {
            account,
            side: Side::Debit,
            amount,
        }
    }
    pub fn credit(account: Account, amount: Money) -> Line {
        Line {
            account,
            side: Side::Credit,
            amount,
        }
    }
    /// The line's effect on its account's balance: debits add, credits take away.
    pub fn signed_pence(&self) -> i64 {
        match self.side {
            Side::Debit => self.amount.pence(),
            Side::Credit => -self.amount.pence(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    Receipt,
    Allocation,
    Commitment,
    Payment,
    Claim,
    Reimbursement,
    Virement,
    Reversal,
}

impl EntryKind {
    pub const ALL: [EntryKind; 8] = [
        EntryKind::Receipt,
        EntryKind::Allocation,
        EntryKind::Commitment,
        EntryKind::Payment,
        EntryKind::Claim,
        EntryKind::Reimbursement,
        EntryKind::Virement,
        EntryKind::Reversal,
    ];
    pub fn code(self) -> &'static str {
        match self {
            EntryKind::Receipt => "receipt",
            EntryKind::Allocation => "allocation",
            EntryKind::Commitment => "commitment",
            EntryKind::Payment => "payment",
            EntryKind::Claim => "claim",
            EntryKind::Reimbursement => "reimbursement",
            EntryKind::Virement => "virement",
            EntryKind::Reversal => "reversal",
        }
    }
    pub fn from_code(code: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.code() == code)
    }
    pub fn label(self) -> &'static str {
        match self {
            EntryKind::Receipt => "Receipt from the authority",
            EntryKind::Allocation => "Allocation to schools",
            EntryKind::Commitment => "Commitment",
            EntryKind::Payment => "Payment",
            EntryKind::Claim => "Claim by a school",
            EntryKind::Reimbursement => "Reimbursement of a claim",
            EntryKind::Virement => "Virement",
            EntryKind::Reversal => "Reversal",
        }
    }
    /// What an entry of this kind does, in the words the entry-shape rule uses.
    pub fn shape(self) -> &'static str {
        match self {
            EntryKind::Receipt => {
                "a receipt moves money from the authority's funding into the central pot of the same ring-fence"
            }
            EntryKind::Allocation => {
                "an allocation moves money from a central pot to schools' allocations in the same ring-fence"
            }
            EntryKind::Commitment => {
                "a commitment moves money between one holder's available money and its commitments in one ring-fence (the other way round releases what is left)"
            }
            EntryKind::Payment => {
                "a payment moves money from one holder's available money or commitments to its spending in one ring-fence"
            }
            EntryKind::Claim => {
                "a claim moves money from a school's allocation to the claims due to that school in one ring-fence"
            }
            EntryKind::Reimbursement => {
                "a reimbursement moves money from the claims due to a school to its spending in one ring-fence"
            }
            EntryKind::Virement => "a virement moves money between central pots and schools' allocations",
            EntryKind::Reversal => "a reversal mirrors the entry it reverses, line for line",
        }
    }
}

/// A recorded approval to spend beyond an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Approval {
    pub approver: String,
    pub reason: String,
    pub approved_on: NaiveDate,
}

/// An entry as proposed: what it is, its lines and whatever permits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub kind: EntryKind,
    /// The day the money moved (or the commitment was made).
    pub date: NaiveDate,
    pub memo: String,
    pub lines: Vec<Line>,
    /// An approval to take an allocation or a pot below zero.
    pub approval: Option<Approval>,
    /// An approved exception to the ring-fence (virements only).
    pub exception: Option<ExceptionId>,
    /// The virement is for a joint primary–secondary project.
    pub joint_project: bool,
    /// The entry this one reverses (reversals only).
    pub reverses: Option<EntryId>,
}

impl NewEntry {
    /// The total moved: the sum of the debits.
    pub fn total(&self) -> Money {
        Money::from_pence(
            self.lines
                .iter()
                .filter(|l| l.side == Side::Debit)
                .map(|l| l.amount.pence())
                .fold(0i64, i64::saturating_add),
        )
    }
    /// A text that is the same for the same content and different for different content (for
    /// the idempotency check; every free text is length-prefixed, so no two contents collide).
    pub fn canonical(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let field = |s: &mut String, v: &str| {
            let _ = write!(s, "{}:{v}|", v.len());
        };
        let _ = write!(s, "ledger-entry-v1|{}|{}|", self.kind.code(), self.date);
        field(&mut s, &self.memo);
        match &self.approval {
            Some(a) => {
                s.push_str("approval|");
                field(&mut s, &a.approver);
                field(&mut s, &a.reason);
                let _ = write!(s, "{}|", a.approved_on);
            }
            None => s.push_str("no-approval|"),
        }
        let _ = write!(
            s,
            "{}|{}|{}|",
            self.exception.map_or(-1, |e| e.0),
            u8::from(self.joint_project),
            self.reverses.map_or(-1, |e| e.0)
        );
        for l in &self.lines {
            let _ = write!(s, "{}|{}|", l.account.kind.code(), l.side.code());
            field(&mut s, &l.account.fence.stream);
            field(&mut s, &l.account.fence.phase);
            let _ = write!(
                s,
                "{}|{}|",
                match l.account.holder {
                    Holder::Central => 0,
                    Holder::School(u) => u.get(),
                },
                l.amount.pence()
            );
        }
        s
    }
}

/// A posted entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: EntryId,
    /// Position in the cluster's journal, from 1, without gaps.
    pub seq: i64,
    pub body: NewEntry,
    pub posted_by: String,
    /// Unix seconds.
    pub posted_at: i64,
    /// The entry that reversed this one, if any.
    pub reversed_by: Option<EntryId>,
}

/// Why an entry (or a ledger record) was refused. Every message names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("{field}: enter a value")]
    Missing { field: &'static str },
    #[error("{field}: at most {max} characters, with no control characters")]
    TextTooLong { field: &'static str, max: usize },
    #[error("{field}: {rule}")]
    Text { field: &'static str, rule: &'static str },
    #[error("phase {phase:?}: a phase code is lower-case letters and underscores, such as primary, secondary or all")]
    Phase { phase: String },
    #[error("rule balanced-entry: an entry has at least 2 and at most {max} lines; this one has {lines}", max = MAX_LINES)]
    LineCount { lines: usize },
    #[error(
        "rule positive-amounts: line {line}'s amount is {amount}; every amount is more than £0.00 and at most £1,000,000,000.00"
    )]
    Amount { line: usize, amount: Money },
    #[error("rule balanced-entry: the debits ({debits}) do not equal the credits ({credits})")]
    Unbalanced { debits: Money, credits: Money },
    #[error("rule entry-shape: {shape}; line {line} ({side} {account}) does not fit")]
    Shape {
        shape: &'static str,
        line: usize,
        side: &'static str,
        account: String,
    },
    #[error("rule entry-shape: {shape}; the lines for {group} do not balance on their own")]
    GroupUnbalanced { shape: &'static str, group: String },
    #[error("rule entry-shape: {what} is only for {kind}s")]
    OnlyFor { what: &'static str, kind: &'static str },
    #[error("rule cluster-members: school {urn} is not a funded member of this cluster")]
    NotMember { urn: Urn },
    #[error(
        "rule no-overspend: this would leave the {account} at {after} (it holds {before}); spending beyond an allocation needs an approval: give the approver, the reason and the date"
    )]
    Overdrawn {
        account: String,
        before: Money,
        after: Money,
    },
    #[error(
        "rule never-below-zero: this would leave the {account} at {after}; it cannot go below £0.00 (reverse or release what depends on it first)"
    )]
    BelowZero { account: String, after: Money },
    #[error(
        "rule {RING_FENCE_RULE}. Moving money from {from} to {to} is permitted by no virement rule in force ({rules}) and no approved exception is attached"
    )]
    RingFence { from: String, to: String, rules: String },
    #[error("rule approved-exception: exception {id} is not recorded for this cluster")]
    ExceptionUnknown { id: ExceptionId },
    #[error(
        "rule approved-exception: exception {id} was already used by entry {by}; an exception approves one virement"
    )]
    ExceptionUsed { id: ExceptionId, by: EntryId },
    #[error(
        "rule approved-exception: exception {id} approves moving money from {from} to {to}, not from {got_from} to {got_to}"
    )]
    ExceptionDoesNotCover {
        id: ExceptionId,
        from: String,
        to: String,
        got_from: String,
        got_to: String,
    },
    #[error("rule approved-exception: exception {id} approves up to {limit}; this virement moves {moved}")]
    ExceptionExceeded {
        id: ExceptionId,
        limit: Money,
        moved: Money,
    },
    #[error("rule reverse-once: entry {id} was already reversed by entry {by}")]
    AlreadyReversed { id: EntryId, by: EntryId },
    #[error("rule reverse-once: entry {id} is itself a reversal; post the original entry again instead")]
    ReversalOfReversal { id: EntryId },
    #[error("rule reverse-once: a reversal names the entry it reverses and mirrors its lines exactly")]
    ReversalMismatch,
    #[error("the amounts are too large to add up")]
    Overflow,
}

impl LedgerError {
    /// The form field a person should look at: `memo`, `date`, `amount`, `from`, `to`,
    /// `approval`, `exception`, `joint_project`, `stream`, `phase` or `entry`.
    pub fn field(&self) -> &'static str {
        match self {
            LedgerError::Missing { field }
            | LedgerError::TextTooLong { field, .. }
            | LedgerError::Text { field, .. } => match *field {
                "approver" | "approval reason" => "approval",
                f => f,
            },
            LedgerError::Phase { .. } => "phase",
            LedgerError::LineCount { .. }
            | LedgerError::Amount { .. }
            | LedgerError::Unbalanced { .. }
            | LedgerError::Overflow
            | LedgerError::Overdrawn { .. }
            | LedgerError::BelowZero { .. } => "amount",
            LedgerError::Shape { .. } | LedgerError::GroupUnbalanced { .. } | LedgerError::NotMember { .. } => "from",
            LedgerError::OnlyFor { what, .. } => match *what {
                "a joint-project mark" => "joint_project",
                "an exception" => "exception",
                _ => "entry",
            },
            LedgerError::RingFence { .. } => "to",
            LedgerError::ExceptionUnknown { .. }
            | LedgerError::ExceptionUsed { .. }
            | LedgerError::ExceptionDoesNotCover { .. }
            | LedgerError::ExceptionExceeded { .. } => "exception",
            LedgerError::AlreadyReversed { .. }
            | LedgerError::ReversalOfReversal { .. }
            | LedgerError::ReversalMismatch => "entry",
        }
    }
}

/// Every account's balance (debits minus credits, in pence), derived from the journal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Balances(BTreeMap<Account, i64>);

impl Balances {
    pub fn new() -> Balances {
        Balances::default()
    }
    /// From stored balances (accounts with a zero balance may be left out).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (Account, i64)>) -> Balances {
        let mut b = Balances::default();
        for (a, v) in pairs {
            if v != 0 {
                b.0.insert(a, v);
            }
        }
        b
    }
    pub fn get(&self, account: &Account) -> i64 {
        self.0.get(account).copied().unwrap_or(0)
    }
    pub fn apply(&mut self, lines: &[Line]) -> Result<(), LedgerError> {
        for l in lines {
            let v = self
                .get(&l.account)
                .checked_add(l.signed_pence())
                .ok_or(LedgerError::Overflow)?;
            if v == 0 {
                self.0.remove(&l.account);
            } else {
                self.0.insert(l.account.clone(), v);
            }
        }
        Ok(())
    }
    /// The balances a journal sums to.
    pub fn from_journal<'a>(entries: impl IntoIterator<Item = &'a NewEntry>) -> Result<Balances, LedgerError> {
        let mut b = Balances::new();
        for e in entries {
            b.apply(&e.lines)?;
        }
        Ok(b)
    }
    /// Non-zero balances, in account order.
    pub fn iter(&self) -> impl Iterator<Item = (&Account, i64)> {
        self.0.iter().map(|(a, v)| (a, *v))
    }
    /// The sum of every balance: always zero for a journal of balanced entries.
    pub fn sum(&self) -> Option<i64> {
        self.0.values().try_fold(0i64, |acc, v| acc.checked_add(*v))
    }
}

/// What the rules need to know to judge a proposed entry.
#[derive(Debug, Clone, Copy)]
pub struct LedgerContext<'a> {
    pub balances: &'a Balances,
    /// The cluster's funded member schools (lines naming any other school are refused).
    pub members: &'a BTreeSet<Urn>,
    pub rules: &'a VirementRules,
    pub exceptions: &'a [VirementException],
    /// The entry being reversed (reversals only).
    pub original: Option<&'a Entry>,
}

/// Judges a proposed entry against the rules and the ledger as it stands; `Ok` means it may be
/// posted as it is.
pub fn check(entry: &NewEntry, ctx: &LedgerContext<'_>) -> Result<(), LedgerError> {
    check_text("memo", &entry.memo, 200)?;
    if let Some(a) = &entry.approval {
        check_text("approver", &a.approver, 100)?;
        check_text("approval reason", &a.reason, 500)?;
    }
    if !(2..=MAX_LINES).contains(&entry.lines.len()) {
        return Err(LedgerError::LineCount {
            lines: entry.lines.len(),
        });
    }
    let (mut debits, mut credits) = (0i64, 0i64);
    for (i, l) in entry.lines.iter().enumerate() {
        if l.amount.pence() <= 0 || l.amount.pence() > MAX_AMOUNT_PENCE {
            return Err(LedgerError::Amount {
                line: i + 1,
                amount: l.amount,
            });
        }
        // Recheck names: a fence may have been built without `Fence::new`.
        Fence::new(&l.account.fence.stream, &l.account.fence.phase)?;
        let total = match l.side {
            Side::Debit => &mut debits,
            Side::Credit => &mut credits,
        };
        *total = total.checked_add(l.amount.pence()).ok_or(LedgerError::Overflow)?;
    }
    if debits != credits {
        return Err(LedgerError::Unbalanced {
            debits: Money::from_pence(debits),
            credits: Money::from_pence(credits),
        });
    }
    if entry.joint_project && entry.kind != EntryKind::Virement {
        return Err(LedgerError::OnlyFor {
            what: "a joint-project mark",
            kind: "virement",
        });
    }
    if entry.exception.is_some() && entry.kind != EntryKind::Virement {
        return Err(LedgerError::OnlyFor {
            what: "an exception",
            kind: "virement",
        });
    }
    if entry.reverses.is_some() != (entry.kind == EntryKind::Reversal) {
        return Err(LedgerError::ReversalMismatch);
    }
    if entry.kind == EntryKind::Reversal {
        check_reversal(entry, ctx.original)?;
    } else {
        check_shape(entry)?;
        for l in &entry.lines {
            if let Holder::School(urn) = l.account.holder
                && !ctx.members.contains(&urn)
            {
                return Err(LedgerError::NotMember { urn });
            }
        }
    }
    if entry.kind == EntryKind::Virement {
        check_ring_fence(entry, ctx)?;
    }
    check_balances(entry, ctx.balances)
}

fn check_reversal(entry: &NewEntry, original: Option<&Entry>) -> Result<(), LedgerError> {
    let original = original
        .filter(|o| Some(o.id) == entry.reverses)
        .ok_or(LedgerError::ReversalMismatch)?;
    if original.body.kind == EntryKind::Reversal {
        return Err(LedgerError::ReversalOfReversal { id: original.id });
    }
    if let Some(by) = original.reversed_by {
        return Err(LedgerError::AlreadyReversed { id: original.id, by });
    }
    if entry.lines != mirror(&original.body.lines) {
        return Err(LedgerError::ReversalMismatch);
    }
    Ok(())
}

fn mirror(lines: &[Line]) -> Vec<Line> {
    lines
        .iter()
        .map(|l| Line {
            side: l.side.flip(),
            ..l.clone()
        })
        .collect()
}

/// Builds the entry that reverses `original`: every line on the other side, linked to it.
pub fn reversal_of(
    original: &Entry,
    date: NaiveDate,
    memo: &str,
    approval: Option<Approval>,
) -> Result<NewEntry, LedgerError> {
    if original.body.kind == EntryKind::Reversal {
        return Err(LedgerError::ReversalOfReversal { id: original.id });
    }
    if let Some(by) = original.reversed_by {
        return Err(LedgerError::AlreadyReversed { id: original.id, by });
    }
    Ok(reversal_entry(original, date, memo, approval))
}

/// The entry that would reverse `original`, unchecked ([`check`] judges it; a retry of a
/// reversal that went through is recognised by its key before that).
pub fn reversal_entry(original: &Entry, date: NaiveDate, memo: &str, approval: Option<Approval>) -> NewEntry {
    NewEntry {
        kind: EntryKind::Reversal,
        date,
        memo: memo.trim().to_string(),
        lines: mirror(&original.body.lines),
        approval,
        exception: None,
        joint_project: false,
        reverses: Some(original.id),
    }
}

/// The accounts each kind may credit and debit, and how its lines must balance.
fn check_shape(entry: &NewEntry) -> Result<(), LedgerError> {
    use AccountKind::*;
    let kind = entry.kind;
    // (may credit, may debit, holder must be central, holder must be a school)
    let (credits, debits, central_only, school_only): (&[AccountKind], &[AccountKind], bool, bool) = match kind {
        EntryKind::Receipt => (&[Funding], &[Available], true, false),
        EntryKind::Allocation => (&[Available], &[Available], false, false),
        EntryKind::Commitment => (&[Available, Committed], &[Available, Committed], false, false),
        EntryKind::Payment => (&[Available, Committed], &[Spent], false, false),
        EntryKind::Claim => (&[Available], &[ClaimsDue], false, true),
        EntryKind::Reimbursement => (&[ClaimsDue], &[Spent], false, true),
        EntryKind::Virement => (&[Available], &[Available], false, false),
        EntryKind::Reversal => return Ok(()),
    };
    for (i, l) in entry.lines.iter().enumerate() {
        let allowed = match l.side {
            Side::Credit => credits,
            Side::Debit => debits,
        };
        let holder_ok = match (kind, l.side, l.account.holder) {
            (EntryKind::Allocation, Side::Credit, h) => h == Holder::Central,
            (EntryKind::Allocation, Side::Debit, h) => h != Holder::Central,
            (_, _, Holder::Central) => !school_only,
            (_, _, Holder::School(_)) => !central_only,
        };
        if !allowed.contains(&l.account.kind) || !holder_ok {
            return Err(LedgerError::Shape {
                shape: kind.shape(),
                line: i + 1,
                side: l.side.code(),
                account: l.account.to_string(),
            });
        }
    }
    // Lines must balance within each group: one ring-fence (receipts, allocations), one
    // ring-fence and holder (commitments, payments, claims, reimbursements); a virement may
    // cross, under the ring-fence rule.
    let group_of = |l: &Line| -> Option<(Fence, Option<Holder>)> {
        match kind {
            EntryKind::Receipt | EntryKind::Allocation => Some((l.account.fence.clone(), None)),
            EntryKind::Virement | EntryKind::Reversal => None,
            _ => Some((l.account.fence.clone(), Some(l.account.holder))),
        }
    };
    let mut groups: BTreeMap<(Fence, Option<Holder>), i64> = BTreeMap::new();
    for l in &entry.lines {
        if let Some(g) = group_of(l) {
            let v = groups.entry(g).or_insert(0);
            *v = v.checked_add(l.signed_pence()).ok_or(LedgerError::Overflow)?;
        }
    }
    if let Some(((fence, holder), _)) = groups.iter().find(|(_, v)| **v != 0) {
        return Err(LedgerError::GroupUnbalanced {
            shape: kind.shape(),
            group: match holder {
                Some(h) => format!("{h} in {fence}"),
                None => fence.to_string(),
            },
        });
    }
    Ok(())
}

fn check_ring_fence(entry: &NewEntry, ctx: &LedgerContext<'_>) -> Result<(), LedgerError> {
    let fences = |side: Side| -> BTreeSet<&Fence> {
        entry
            .lines
            .iter()
            .filter(|l| l.side == side)
            .map(|l| &l.account.fence)
            .collect()
    };
    let (from, to) = (fences(Side::Credit), fences(Side::Debit));
    let crossings: Vec<(&Fence, &Fence)> = from
        .iter()
        .flat_map(|f| to.iter().filter(move |t| *t != f).map(move |t| (*f, *t)))
        .collect();
    if crossings.is_empty() {
        return Ok(());
    }
    if let Some(id) = entry.exception {
        let ex = ctx
            .exceptions
            .iter()
            .find(|e| e.id == id)
            .ok_or(LedgerError::ExceptionUnknown { id })?;
        if let Some(by) = ex.used_by {
            return Err(LedgerError::ExceptionUsed { id, by });
        }
        let e = &ex.exception;
        if let Some((f, t)) = crossings.iter().find(|(f, t)| **f != e.from || **t != e.to) {
            return Err(LedgerError::ExceptionDoesNotCover {
                id,
                from: e.from.to_string(),
                to: e.to.to_string(),
                got_from: f.to_string(),
                got_to: t.to_string(),
            });
        }
        let moved = entry
            .lines
            .iter()
            .filter(|l| l.side == Side::Debit && l.account.fence == e.to)
            .try_fold(0i64, |acc, l| acc.checked_add(l.amount.pence()))
            .ok_or(LedgerError::Overflow)?;
        if moved > e.amount.pence() {
            return Err(LedgerError::ExceptionExceeded {
                id,
                limit: e.amount,
                moved: Money::from_pence(moved),
            });
        }
        return Ok(());
    }
    for (f, t) in crossings {
        if ctx.rules.permitting(f, t, entry.joint_project).is_none() {
            return Err(LedgerError::RingFence {
                from: f.to_string(),
                to: t.to_string(),
                rules: ctx.rules.names(),
            });
        }
    }
    Ok(())
}

/// No allocation or pot goes below zero without an approval; commitments, claims due, spending
/// and funding never go past zero.
fn check_balances(entry: &NewEntry, balances: &Balances) -> Result<(), LedgerError> {
    let mut delta: BTreeMap<&Account, i64> = BTreeMap::new();
    for l in &entry.lines {
        let v = delta.entry(&l.account).or_insert(0);
        *v = v.checked_add(l.signed_pence()).ok_or(LedgerError::Overflow)?;
    }
    for (account, d) in delta {
        let before = balances.get(account);
        let after = before.checked_add(d).ok_or(LedgerError::Overflow)?;
        // Only a move in the wrong direction can break a rule.
        let (worse, bad) = match account.kind {
            AccountKind::Funding => (d > 0, after > 0),
            _ => (d < 0, after < 0),
        };
        if !worse || !bad {
            continue;
        }
        if account.kind == AccountKind::Available {
            if entry.approval.is_none() {
                return Err(LedgerError::Overdrawn {
                    account: account.to_string(),
                    before: Money::from_pence(before),
                    after: Money::from_pence(after),
                });
            }
        } else {
            return Err(LedgerError::BelowZero {
                account: account.to_string(),
                after: Money::from_pence(-after.abs()),
            });
        }
    }
    Ok(())
}

/// The two lines of a simple entry: `amount` from the `from` holder's account to the `to`
/// holder's (which kind of account each is follows from the entry's kind). Receipts need only
/// `from` (the central pot receiving); allocations and virements need `to`.
pub fn simple_lines(
    kind: EntryKind,
    from: (&Fence, Holder),
    to: Option<(&Fence, Holder)>,
    amount: Money,
    from_commitment: bool,
) -> Result<Vec<Line>, LedgerError> {
    use AccountKind::*;
    let (ff, fh) = from;
    let pair = |cr: Account, dr: Account| Ok(vec![Line::credit(cr, amount), Line::debit(dr, amount)]);
    let needs_to = || {
        to.ok_or(LedgerError::Missing { field: "to" })
            .map(|(f, h)| (f.clone(), h))
    };
    match kind {
        EntryKind::Receipt => pair(Account::new(Funding, ff, fh), Account::new(Available, ff, fh)),
        EntryKind::Allocation => {
            let (_, th) = needs_to()?;
            pair(Account::new(Available, ff, fh), Account::new(Available, ff, th))
        }
        EntryKind::Commitment => pair(Account::new(Available, ff, fh), Account::new(Committed, ff, fh)),
        EntryKind::Payment => pair(
            Account::new(if from_commitment { Committed } else { Available }, ff, fh),
            Account::new(Spent, ff, fh),
        ),
        EntryKind::Claim => pair(Account::new(Available, ff, fh), Account::new(ClaimsDue, ff, fh)),
        EntryKind::Reimbursement => pair(Account::new(ClaimsDue, ff, fh), Account::new(Spent, ff, fh)),
        EntryKind::Virement => {
            let (tf, th) = needs_to()?;
            pair(Account::new(Available, ff, fh), Account::new(Available, &tf, th))
        }
        EntryKind::Reversal => Err(LedgerError::OnlyFor {
            what: "reversing",
            kind: "reversal",
        }),
    }
}

/// One holder's money in one ring-fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HolderPosition {
    pub holder: Holder,
    pub available: Money,
    pub committed: Money,
    pub claims_due: Money,
    pub spent: Money,
}

impl HolderPosition {
    fn new(holder: Holder) -> HolderPosition {
        HolderPosition {
            holder,
            available: Money::ZERO,
            committed: Money::ZERO,
            claims_due: Money::ZERO,
            spent: Money::ZERO,
        }
    }
    /// Everything that has come to this holder, net of virements and reversals.
    pub fn allocated(&self) -> Money {
        Money::from_pence(
            self.available.pence() + self.committed.pence() + self.claims_due.pence() + self.spent.pence(),
        )
    }
    /// What is left to commit or spend.
    pub fn remaining(&self) -> Money {
        self.available
    }
}

/// One ring-fence's budget: received, the central pot and each school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencePosition {
    pub fence: Fence,
    pub received: Money,
    pub central: HolderPosition,
    /// Schools with any money in this ring-fence, by URN.
    pub schools: Vec<HolderPosition>,
}

impl FencePosition {
    fn sum(&self, f: impl Fn(&HolderPosition) -> Money) -> Money {
        Money::from_pence(
            std::iter::once(&self.central)
                .chain(&self.schools)
                .map(|h| f(h).pence())
                .sum(),
        )
    }
    pub fn allocated_to_schools(&self) -> Money {
        Money::from_pence(self.schools.iter().map(|h| h.allocated().pence()).sum())
    }
    pub fn committed(&self) -> Money {
        self.sum(|h| h.committed)
    }
    pub fn claims_due(&self) -> Money {
        self.sum(|h| h.claims_due)
    }
    pub fn spent(&self) -> Money {
        self.sum(|h| h.spent)
    }
    /// Not yet committed or spent, centrally or in schools.
    pub fn remaining(&self) -> Money {
        self.sum(|h| h.available)
    }
}

/// A cluster's budget by ring-fence, derived from its balances.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Budget {
    pub fences: Vec<FencePosition>,
}

impl Budget {
    pub fn from_balances(balances: &Balances) -> Budget {
        let mut by_fence: BTreeMap<&Fence, (i64, BTreeMap<Holder, HolderPosition>)> = BTreeMap::new();
        for (account, v) in balances.iter() {
            let (received, holders) = by_fence.entry(&account.fence).or_default();
            let h = holders
                .entry(account.holder)
                .or_insert_with(|| HolderPosition::new(account.holder));
            let m = Money::from_pence(v);
            match account.kind {
                AccountKind::Funding => *received -= v,
                AccountKind::Available => h.available = m,
                AccountKind::Committed => h.committed = m,
                AccountKind::ClaimsDue => h.claims_due = m,
                AccountKind::Spent => h.spent = m,
            }
        }
        Budget {
            fences: by_fence
                .into_iter()
                .map(|(fence, (received, mut holders))| {
                    let central = holders
                        .remove(&Holder::Central)
                        .unwrap_or_else(|| HolderPosition::new(Holder::Central));
                    FencePosition {
                        fence: fence.clone(),
                        received: Money::from_pence(received),
                        central,
                        schools: holders.into_values().collect(),
                    }
                })
                .collect(),
        }
    }
    fn sum(&self, f: impl Fn(&FencePosition) -> Money) -> Money {
        Money::from_pence(self.fences.iter().map(|p| f(p).pence()).sum())
    }
    pub fn received(&self) -> Money {
        self.sum(|p| p.received)
    }
    pub fn allocated_to_schools(&self) -> Money {
        self.sum(FencePosition::allocated_to_schools)
    }
    pub fn committed(&self) -> Money {
        self.sum(FencePosition::committed)
    }
    pub fn spent(&self) -> Money {
        self.sum(FencePosition::spent)
    }
    pub fn remaining(&self) -> Money {
        self.sum(FencePosition::remaining)
    }
    /// What the host school holds for the cluster: received − spent, which is also the sum of
    /// every available, committed and claims-due balance.
    pub fn held(&self) -> Money {
        self.sum(|p| Money::from_pence(p.remaining().pence() + p.committed().pence() + p.claims_due().pence()))
    }
}

/// A staff post paid from cluster money, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStaffPost {
    /// The post's title ("Learning mentor").
    pub post: String,
    /// The school the post is based at, if one.
    pub school: Option<Urn>,
    /// Full-time equivalent in tenths (10 = 1.0 FTE).
    pub fte_tenths: u32,
    pub annual_cost: Money,
    pub fence: Fence,
    pub contract_start: NaiveDate,
    /// `None` for a permanent contract (which always runs past the funding horizon).
    pub contract_end: Option<NaiveDate>,
}

impl NewStaffPost {
    pub fn validate(&self, members: &BTreeSet<Urn>) -> Result<(), LedgerError> {
        check_text("post", &self.post, 100)?;
        if !(1..=10).contains(&self.fte_tenths) {
            return Err(LedgerError::Text {
                field: "fte",
                rule: "one post is between 0.1 and 1.0 FTE",
            });
        }
        if self.annual_cost.pence() <= 0 || self.annual_cost.pence() > MAX_AMOUNT_PENCE {
            return Err(LedgerError::Text {
                field: "annual_cost",
                rule: "the annual cost is more than £0.00",
            });
        }
        if let Some(urn) = self.school
            && !members.contains(&urn)
        {
            return Err(LedgerError::NotMember { urn });
        }
        if self.contract_end.is_some_and(|end| end < self.contract_start) {
            return Err(LedgerError::Text {
                field: "contract_end",
                rule: "a contract ends on or after the day it starts",
            });
        }
        Ok(())
    }
    /// The contract runs past the funding horizon (or has no end).
    pub fn runs_past(&self, horizon: NaiveDate) -> bool {
        self.contract_end.is_none_or(|end| end > horizon)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffPost {
    pub id: StaffPostId,
    pub post: NewStaffPost,
}

/// The default funding horizon: the end of the financial year (31 March) that `today` is in.
pub fn default_horizon(today: NaiveDate) -> NaiveDate {
    use chrono::Datelike;
    let year = if today.month() >= 4 {
        today.year() + 1
    } else {
        today.year()
    };
    NaiveDate::from_ymd_opt(year, 3, 31).unwrap_or(today)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::virement::{LEARNING_MENTORS_AND_LSU, NewException};
    use super::*;

    fn urn(n: u32) -> Urn {
        Urn::from_u32(n).unwrap()
    }
    fn fence(s: &str, p: &str) -> Fence {
        Fence::new(s, p).unwrap()
    }
    fn day(d: &str) -> NaiveDate {
        NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap()
    }
    fn pounds(p: i64) -> Money {
        Money::from_pounds(p).unwrap()
    }
    fn entry(kind: EntryKind, lines: Vec<Line>) -> NewEntry {
        NewEntry {
            kind,
            date: day("2026-10-01"),
            memo: "test".into(),
            lines,
            approval: None,
            exception: None,
            joint_project: false,
            reverses: None,
        }
    }
    fn simple(kind: EntryKind, from: (&Fence, Holder), to: Option<(&Fence, Holder)>, amount: i64) -> NewEntry {
        entry(kind, simple_lines(kind, from, to, pounds(amount), false).unwrap())
    }

    struct Ledger {
        balances: Balances,
        members: BTreeSet<Urn>,
        rules: VirementRules,
        exceptions: Vec<VirementException>,
        journal: Vec<Entry>,
    }

    impl Ledger {
        fn new() -> Ledger {
            Ledger {
                balances: Balances::new(),
                members: [urn(100_001), urn(100_002)].into(),
                rules: VirementRules::default(),
                exceptions: Vec::new(),
                journal: Vec::new(),
            }
        }
        fn post(&mut self, e: NewEntry) -> Result<EntryId, LedgerError> {
            let original = e
                .reverses
                .and_then(|id| self.journal.iter().find(|x| x.id == id).cloned());
            check(
                &e,
                &LedgerContext {
                    balances: &self.balances,
                    members: &self.members,
                    rules: &self.rules,
                    exceptions: &self.exceptions,
                    original: original.as_ref(),
                },
            )?;
            self.balances.apply(&e.lines)?;
            let id = EntryId(i64::try_from(self.journal.len()).unwrap() + 1);
            if let Some(o) = e.reverses {
                self.journal.iter_mut().find(|x| x.id == o).unwrap().reversed_by = Some(id);
            }
            if let Some(x) = e.exception {
                self.exceptions.iter_mut().find(|y| y.id == x).unwrap().used_by = Some(id);
            }
            self.journal.push(Entry {
                id,
                seq: id.0,
                body: e,
                posted_by: "t".into(),
                posted_at: 0,
                reversed_by: None,
            });
            Ok(id)
        }
    }

    #[test]
    fn a_year_of_postings_and_the_budget_it_gives() {
        let admin = fence("Cluster admin", "all");
        let (a, b) = (Holder::School(urn(100_001)), Holder::School(urn(100_002)));
        let mut l = Ledger::new();
        l.post(simple(EntryKind::Receipt, (&admin, Holder::Central), None, 10_000))
            .unwrap();
        let mut alloc = simple_lines(
            EntryKind::Allocation,
            (&admin, Holder::Central),
            Some((&admin, a)),
            pounds(6_000),
            false,
        )
        .unwrap();
        alloc.extend(
            simple_lines(
                EntryKind::Allocation,
                (&admin, Holder::Central),
                Some((&admin, b)),
                pounds(3_000),
                false,
            )
            .unwrap(),
        );
        l.post(entry(EntryKind::Allocation, alloc)).unwrap();
        l.post(simple(EntryKind::Commitment, (&admin, a), None, 1_000)).unwrap();
        l.post(entry(
            EntryKind::Payment,
            simple_lines(EntryKind::Payment, (&admin, a), None, pounds(1_000), true).unwrap(),
        ))
        .unwrap();
        l.post(simple(EntryKind::Payment, (&admin, b), None, 500)).unwrap();
        l.post(simple(EntryKind::Claim, (&admin, b), None, 200)).unwrap();
        l.post(simple(EntryKind::Payment, (&admin, Holder::Central), None, 250))
            .unwrap();

        let budget = Budget::from_balances(&l.balances);
        let p = &budget.fences[0];
        assert_eq!(p.received, pounds(10_000));
        assert_eq!(p.central.remaining(), pounds(750));
        assert_eq!(p.allocated_to_schools(), pounds(9_000));
        assert_eq!(p.spent(), pounds(1_750));
        assert_eq!(p.claims_due(), pounds(200));
        assert_eq!(p.remaining(), pounds(750 + 5_000 + 2_300));
        assert_eq!(budget.held(), pounds(10_000 - 1_750));
        assert_eq!(l.balances.sum(), Some(0));
        assert_eq!(
            l.balances,
            Balances::from_journal(l.journal.iter().map(|e| &e.body)).unwrap()
        );
    }

    #[test]
    fn refusals_name_their_rule() {
        let admin = fence("Cluster admin", "all");
        let gt_p = fence("Gifted and talented", "primary");
        let gt_s = fence("Gifted and talented", "secondary");
        let lm_p = fence(LEARNING_MENTORS_AND_LSU, "primary");
        let lm_s = fence(LEARNING_MENTORS_AND_LSU, "secondary");
        let a = Holder::School(urn(100_001));
        let c = Holder::Central;
        let mut l = Ledger::new();
        for f in [&admin, &gt_p, &gt_s, &lm_p, &lm_s] {
            l.post(simple(EntryKind::Receipt, (f, c), None, 1_000)).unwrap();
        }
        l.post(simple(EntryKind::Allocation, (&admin, c), Some((&admin, a)), 400))
            .unwrap();

        let bad_amount = entry(
            EntryKind::Payment,
            vec![
                Line::credit(Account::new(AccountKind::Available, &admin, a), Money::ZERO),
                Line::debit(Account::new(AccountKind::Spent, &admin, a), Money::ZERO),
            ],
        );
        let unbalanced = entry(
            EntryKind::Payment,
            vec![
                Line::credit(Account::new(AccountKind::Available, &admin, a), pounds(2)),
                Line::debit(Account::new(AccountKind::Spent, &admin, a), pounds(1)),
            ],
        );
        let outsider = simple(
            EntryKind::Allocation,
            (&admin, c),
            Some((&admin, Holder::School(urn(199_999)))),
            1,
        );
        let wrong_shape = entry(
            EntryKind::Payment,
            vec![
                Line::credit(Account::new(AccountKind::Available, &admin, a), pounds(1)),
                Line::debit(Account::new(AccountKind::Available, &admin, c), pounds(1)),
            ],
        );
        let cross_holder_payment = entry(
            EntryKind::Payment,
            vec![
                Line::credit(Account::new(AccountKind::Available, &admin, a), pounds(1)),
                Line::debit(Account::new(AccountKind::Spent, &admin, c), pounds(1)),
            ],
        );
        let mut joint_payment = simple(EntryKind::Payment, (&admin, a), None, 1);
        joint_payment.joint_project = true;
        let cases: Vec<(NewEntry, &str, &str)> = vec![
            (bad_amount, "rule positive-amounts", "amount"),
            (unbalanced, "rule balanced-entry", "amount"),
            (
                entry(EntryKind::Payment, vec![]),
                "rule balanced-entry: an entry has at least 2",
                "amount",
            ),
            (outsider, "rule cluster-members: school 199999", "from"),
            (wrong_shape, "rule entry-shape: a payment moves", "from"),
            (cross_holder_payment, "do not balance on their own", "from"),
            (
                joint_payment,
                "a joint-project mark is only for virements",
                "joint_project",
            ),
            (
                simple(EntryKind::Payment, (&admin, a), None, 401),
                "rule no-overspend: this would leave the allocation of school 100001 in Cluster admin (whole cluster) at -£1.00",
                "amount",
            ),
            (
                entry(
                    EntryKind::Payment,
                    simple_lines(EntryKind::Payment, (&admin, a), None, pounds(1), true).unwrap(),
                ),
                "rule never-below-zero",
                "amount",
            ),
            (
                simple(EntryKind::Virement, (&gt_p, c), Some((&gt_s, c)), 10),
                "rule ring-fence: by default no money moves between streams or between primary and secondary. Moving money from Gifted and talented (primary) to Gifted and talented (secondary) is permitted by no virement rule in force (Learning mentors and LSU are one stream; Joint primary–secondary projects)",
                "to",
            ),
            (
                simple(EntryKind::Virement, (&lm_p, c), Some((&gt_p, c)), 10),
                "rule ring-fence",
                "to",
            ),
            (
                NewEntry {
                    memo: "  ".into(),
                    ..simple(EntryKind::Payment, (&admin, a), None, 1)
                },
                "memo: enter a value",
                "memo",
            ),
        ];
        for (e, want, field) in cases {
            let before = l.balances.clone();
            let err = l.post(e).unwrap_err();
            assert!(err.to_string().contains(want), "{err} does not contain {want:?}");
            assert_eq!(err.field(), field, "{err}");
            assert_eq!(l.balances, before, "a refused entry changes nothing");
        }

        // What the default rules permit goes through.
        l.post(simple(EntryKind::Virement, (&lm_p, c), Some((&lm_s, c)), 10))
            .unwrap();
        let mut joint = simple(EntryKind::Virement, (&gt_p, c), Some((&gt_s, c)), 10);
        joint.joint_project = true;
        l.post(joint).unwrap();
        // Inside one ring-fence money may move between holders.
        l.post(simple(EntryKind::Virement, (&admin, a), Some((&admin, c)), 10))
            .unwrap();

        // An approval lets a school spend beyond its allocation.
        let mut over = simple(EntryKind::Payment, (&admin, a), None, 500);
        over.approval = Some(Approval {
            approver: "Chair of the cluster committee".into(),
            reason: "Agreed at the meeting of 14 October".into(),
            approved_on: day("2026-10-14"),
        });
        l.post(over).unwrap();
        assert_eq!(
            l.balances.get(&Account::new(AccountKind::Available, &admin, a)),
            -11_000
        );
    }

    #[test]
    fn an_approved_exception_lets_one_virement_through() {
        let gt_p = fence("Gifted and talented", "primary");
        let gt_s = fence("Gifted and talented", "secondary");
        let c = Holder::Central;
        let mut l = Ledger::new();
        l.post(simple(EntryKind::Receipt, (&gt_p, c), None, 1_000)).unwrap();
        l.exceptions.push(VirementException {
            id: ExceptionId(7),
            exception: NewException {
                from: gt_p.clone(),
                to: gt_s.clone(),
                amount: pounds(300),
                reason: "Year 6 to 7 summer school".into(),
                approver: "Head of school improvement".into(),
                approved_on: day("2026-09-20"),
            },
            used_by: None,
        });
        let with = |amount: i64, id: i64, from: &Fence, to: &Fence| NewEntry {
            exception: Some(ExceptionId(id)),
            ..simple(EntryKind::Virement, (from, c), Some((to, c)), amount)
        };
        let err = l.post(with(301, 7, &gt_p, &gt_s)).unwrap_err();
        assert!(err.to_string().contains("approves up to £300.00"), "{err}");
        let err = l.post(with(1, 8, &gt_p, &gt_s)).unwrap_err();
        assert!(err.to_string().contains("exception 8 is not recorded"), "{err}");
        l.post(simple(EntryKind::Receipt, (&gt_s, c), None, 10)).unwrap();
        let err = l.post(with(1, 7, &gt_s, &gt_p)).unwrap_err();
        assert!(
            err.to_string().contains("not from Gifted and talented (secondary)"),
            "{err}"
        );
        let used = l.post(with(300, 7, &gt_p, &gt_s)).unwrap();
        let err = l.post(with(1, 7, &gt_p, &gt_s)).unwrap_err();
        assert_eq!(
            err,
            LedgerError::ExceptionUsed {
                id: ExceptionId(7),
                by: used
            }
        );
        assert_eq!(err.field(), "exception");
    }

    #[test]
    fn reversals_mirror_once_and_net_to_zero() {
        let admin = fence("Cluster admin", "all");
        let a = Holder::School(urn(100_001));
        let c = Holder::Central;
        let mut l = Ledger::new();
        let receipt = l.post(simple(EntryKind::Receipt, (&admin, c), None, 1_000)).unwrap();
        let alloc = l
            .post(simple(EntryKind::Allocation, (&admin, c), Some((&admin, a)), 600))
            .unwrap();
        let paid = l.post(simple(EntryKind::Payment, (&admin, a), None, 100)).unwrap();
        let before_payment = Balances::from_journal(l.journal[..2].iter().map(|e| &e.body)).unwrap();

        let original = l.journal[2].clone();
        let rev = reversal_of(&original, day("2026-10-02"), "Posted to the wrong school", None).unwrap();
        assert_eq!(rev.reverses, Some(paid));
        let rev_id = l.post(rev.clone()).unwrap();
        assert_eq!(l.balances, before_payment, "a reversal nets the original to zero");
        // Not twice, and not a reversal of a reversal.
        let again = l.journal[2].clone();
        assert_eq!(
            reversal_of(&again, day("2026-10-02"), "again", None),
            Err(LedgerError::AlreadyReversed { id: paid, by: rev_id })
        );
        let err = l.post(rev).unwrap_err();
        assert_eq!(err, LedgerError::AlreadyReversed { id: paid, by: rev_id });
        let of_rev = l.journal[3].clone();
        assert_eq!(
            reversal_of(&of_rev, day("2026-10-02"), "x", None),
            Err(LedgerError::ReversalOfReversal { id: rev_id })
        );
        // A reversal must mirror exactly.
        let mut forged = reversal_of(&l.journal[0], day("2026-10-02"), "x", None).unwrap();
        forged.lines[0].amount = pounds(1);
        forged.lines[1].amount = pounds(1);
        assert_eq!(l.post(forged).unwrap_err(), LedgerError::ReversalMismatch);
        // Reversing the receipt would take the central pot below zero (money was allocated).
        let err = l
            .post(reversal_of(&l.journal[0].clone(), day("2026-10-02"), "x", None).unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("rule no-overspend"), "{err}");
        let _ = (receipt, alloc);
    }

    #[test]
    fn canonical_text_tells_contents_apart() {
        let admin = fence("Cluster admin", "all");
        let a = simple(EntryKind::Receipt, (&admin, Holder::Central), None, 10);
        let mut b = a.clone();
        assert_eq!(a.canonical(), b.canonical());
        b.memo = "test|".into();
        assert_ne!(a.canonical(), b.canonical());
        let mut c = a.clone();
        c.lines[0].amount = pounds(11);
        assert_ne!(a.canonical(), c.canonical());
        let mut d = a.clone();
        d.date = day("2026-10-02");
        assert_ne!(a.canonical(), d.canonical());
    }

    #[test]
    fn staff_posts_and_the_horizon() {
        assert_eq!(default_horizon(day("2026-12-01")), day("2027-03-31"));
        assert_eq!(default_horizon(day("2027-03-31")), day("2027-03-31"));
        assert_eq!(default_horizon(day("2027-04-01")), day("2028-03-31"));
        let post = NewStaffPost {
            post: "Learning mentor".into(),
            school: Some(urn(100_001)),
            fte_tenths: 10,
            annual_cost: pounds(26_000),
            fence: fence(LEARNING_MENTORS_AND_LSU, "secondary"),
            contract_start: day("2025-09-01"),
            contract_end: Some(day("2027-08-31")),
        };
        let members: BTreeSet<Urn> = [urn(100_001)].into();
        assert_eq!(post.validate(&members), Ok(()));
        assert!(post.runs_past(day("2027-03-31")));
        assert!(!post.runs_past(day("2027-08-31")));
        assert!(
            NewStaffPost {
                contract_end: None,
                ..post.clone()
            }
            .runs_past(day("2099-01-01"))
        );
        let bad = [
            NewStaffPost {
                fte_tenths: 0,
                ..post.clone()
            },
            NewStaffPost {
                fte_tenths: 11,
                ..post.clone()
            },
            NewStaffPost {
                contract_end: Some(day("2025-08-31")),
                ..post.clone()
            },
            NewStaffPost {
                school: Some(urn(100_009)),
                ..post.clone()
            },
            NewStaffPost {
                post: String::new(),
                ..post.clone()
            },
        ];
        for b in bad {
            assert!(b.validate(&members).is_err(), "{b:?}");
        }
    }

    #[test]
    fn fences_are_validated() {
        assert!(Fence::new("G&T", "primary").is_ok());
        assert_eq!(fence("G&T", "all").to_string(), "G&T (whole cluster)");
        assert!(Fence::new("", "primary").is_err());
        assert!(Fence::new("G&T", "Primary").is_err());
        assert!(Fence::new("G&T", "").is_err());
        assert!(Fence::new(&"x".repeat(81), "all").is_err());
    }
}

//! The host-school ledger in the product: who may post what, idempotent postings judged by the
//! domain's rules against the ledger as it stands, reversals, approved virement exceptions, the
//! authority's virement rules, staff paid from cluster money and the funding horizon.
//!
//! A posting carries an idempotency key (unique per authority). A retried key with the same
//! content returns the entry first posted; with different content it is a conflict. A posting is
//! judged against the journal's length and stored only if no other posting landed meanwhile (else
//! it is judged again), so concurrent postings never break a rule together.

use crate::store::StoreError;
use crate::{Service, ServiceError, ServiceResult};
use domain::NaiveDate;
use domain::access::{Scope, User, UserRole};
use domain::funding::ledger::{
    Approval, Balances, Budget, Entry, EntryId, EntryKind, ExceptionId, Fence, Holder, HolderPosition, LedgerContext,
    LedgerError, NewEntry, NewStaffPost, StaffPost, StaffPostId, check, default_horizon, reversal_entry, simple_lines,
};
use domain::funding::virement::{NewException, VirementException, VirementRules};
use domain::ids::{AuthorityId, ClusterId, Urn, UserId};
use domain::money::Money;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

/// A posting as the store writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerPosting {
    pub cluster: ClusterId,
    pub idempotency_key: String,
    /// SHA-256 (hex) of the cluster and the entry's canonical content.
    pub content_hash: String,
    pub entry: NewEntry,
    pub posted_by: UserId,
    pub posted_by_name: String,
    /// Unix seconds.
    pub posted_at: i64,
    /// The journal's length the entry was judged against.
    pub expected_seq: i64,
}

/// What the store did with a posting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    Posted(Entry),
    /// The key was already posted with the same content: the original entry.
    Replayed(Entry),
    /// Another posting landed after the entry was judged: judge it again.
    Stale,
}

/// A queue per cluster ledger for the postings of this process: an async mutex each, made when
/// first needed and kept (one per cluster that has posted, so bounded by the register).
#[derive(Debug, Default)]
pub(crate) struct PostingQueues(std::sync::Mutex<HashMap<(AuthorityId, ClusterId), Queue>>);

type Queue = Arc<tokio::sync::Mutex<()>>;

impl PostingQueues {
    fn of(&self, authority: AuthorityId, cluster: ClusterId) -> Queue {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry((authority, cluster)).or_default().clone()
    }
}

/// A cluster's ledger as it stands: its length, balances and exceptions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LedgerSnapshot {
    pub seq: i64,
    pub balances: Balances,
    pub exceptions: Vec<VirementException>,
}

/// Entries on a page of the budget page's journal.
pub const JOURNAL_PAGE: u32 = 50;

/// Which entries of a cluster's journal to read, and how many: the journal is read a page at a
/// time, so a long ledger costs a page's memory, not the whole journal's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalQuery {
    /// Only entries with a line on one of this school's accounts.
    pub school: Option<Urn>,
    /// Only the entry posted under this idempotency key.
    pub key: Option<String>,
    /// Only this entry.
    pub entry: Option<EntryId>,
    /// Newest first (the budget page) or in journal order (the API).
    pub newest_first: bool,
    pub offset: u64,
    pub limit: u32,
}

impl JournalQuery {
    /// The newest `limit` entries.
    pub fn newest(limit: u32) -> JournalQuery {
        JournalQuery {
            school: None,
            key: None,
            entry: None,
            newest_first: true,
            offset: 0,
            limit,
        }
    }
}

/// One entry of a journal page, with what the page shows beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagedEntry {
    pub entry: Entry,
    pub key: String,
    /// Journal numbers of the entry this one reverses and of the one that reversed it (either
    /// may be on another page).
    pub reverses_seq: Option<i64>,
    pub reversed_by_seq: Option<i64>,
}

/// A page of a journal and how many entries match the query on every page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JournalPage {
    pub total: u64,
    pub entries: Vec<PagedEntry>,
}

/// What the database says of a whole journal without reading it out: whether its lines sum,
/// account by account, to the kept balances (one statement, so one consistent view), how many
/// entries it has and whether every memo is marked synthetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JournalFacts {
    pub reconciles: bool,
    pub entries: u64,
    pub synthetic: bool,
}

/// An entry found by its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedEntry {
    pub cluster: ClusterId,
    pub content_hash: String,
    pub entry: Entry,
}

/// What an audit of every ledger in an authority found (all empty or zero when whole).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LedgerAudit {
    pub entries: u64,
    pub lines: u64,
    /// Entries whose lines do not balance, or do not match the entry's line count or total.
    pub unbalanced: Vec<EntryId>,
    /// Entries with no lines at all.
    pub without_lines: Vec<EntryId>,
    /// Lines whose entry does not exist.
    pub orphan_lines: u64,
    /// Accounts whose kept balance differs from the sum of their lines.
    pub balance_mismatches: Vec<String>,
    /// Clusters whose journal numbers are not 1..n without gaps, or whose head disagrees.
    pub sequence_faults: Vec<ClusterId>,
    pub duplicate_keys: u64,
    pub reversed_twice: u64,
}

impl LedgerAudit {
    pub fn is_whole(&self) -> bool {
        self.unbalanced.is_empty()
            && self.without_lines.is_empty()
            && self.orphan_lines == 0
            && self.balance_mismatches.is_empty()
            && self.sequence_faults.is_empty()
            && self.duplicate_keys == 0
            && self.reversed_twice == 0
    }
}

/// A request to post an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRequest {
    /// Unique per authority; 8 to 100 characters of letters, digits, `-`, `_`, `.` and `:`.
    pub idempotency_key: String,
    pub entry: NewEntry,
}

/// A two-line entry as a form gives it: an amount from one holder's account to another's (the
/// accounts follow from the kind; see `domain::funding::ledger::simple_lines`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleEntry {
    pub idempotency_key: String,
    pub kind: EntryKind,
    pub from: (Fence, Holder),
    /// Allocations and virements: where the money goes.
    pub to: Option<(Fence, Holder)>,
    pub amount: Money,
    /// Payments: out of what was committed rather than what is available.
    pub from_commitment: bool,
    pub date: NaiveDate,
    pub memo: String,
    pub approval: Option<Approval>,
    pub exception: Option<ExceptionId>,
    pub joint_project: bool,
}

/// A request to reverse an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReverseRequest {
    pub idempotency_key: String,
    pub date: NaiveDate,
    pub memo: String,
    pub approval: Option<Approval>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub entry: Entry,
    /// The key had been posted before: this is the original entry, nothing new was written.
    pub replayed: bool,
}

/// Why a posting failed: a ledger rule (with the field it concerns) or anything else.
#[derive(Debug)]
pub enum LedgerFailure {
    Rule(LedgerError),
    Service(ServiceError),
}

impl fmt::Display for LedgerFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerFailure::Rule(e) => e.fmt(f),
            LedgerFailure::Service(e) => e.fmt(f),
        }
    }
}

impl From<LedgerError> for LedgerFailure {
    fn from(e: LedgerError) -> Self {
        LedgerFailure::Rule(e)
    }
}
impl From<ServiceError> for LedgerFailure {
    fn from(e: ServiceError) -> Self {
        LedgerFailure::Service(e)
    }
}
impl From<StoreError> for LedgerFailure {
    fn from(e: StoreError) -> Self {
        LedgerFailure::Service(e.into())
    }
}
impl From<LedgerFailure> for ServiceError {
    fn from(e: LedgerFailure) -> Self {
        match e {
            LedgerFailure::Rule(r) => ServiceError::Invalid(r.to_string()),
            LedgerFailure::Service(s) => s,
        }
    }
}

fn invalid(e: LedgerError) -> ServiceError {
    ServiceError::Invalid(e.to_string())
}

/// What a user may do with one cluster's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerAccess {
    /// The kinds of entry the user may post (and reverse).
    pub may_post: Vec<EntryKind>,
    pub may_record_exception: bool,
    pub may_record_staff: bool,
    pub may_set_horizon: bool,
    pub sees_journal: bool,
    pub sees_staff: bool,
    /// Each school's positions are shown (not to evaluators, who read the totals only).
    pub sees_schools: bool,
    /// Only this school's positions and lines are shown (headteachers and governors).
    pub only_school: Option<Urn>,
}

impl LedgerAccess {
    pub fn may_reverse(&self, kind: EntryKind) -> bool {
        kind != EntryKind::Reversal && self.may_post.contains(&kind)
    }
}

/// Authority officers post receipts and record exceptions; the cluster's own clerk runs the
/// cluster's money; heads and governors read their school's part; advisers read everything;
/// evaluators read totals; strand staff and the data protection officer have no part in the ledger.
pub fn ledger_access(user: &User, cluster: ClusterId, members: &BTreeSet<Urn>) -> ServiceResult<LedgerAccess> {
    let none = LedgerAccess {
        may_post: Vec::new(),
        may_record_exception: false,
        may_record_staff: false,
        may_set_horizon: false,
        sees_journal: true,
        sees_staff: true,
        sees_schools: true,
        only_school: None,
    };
    let refuse = |why: String| Err(ServiceError::Forbidden(why));
    match (user.role, user.scope) {
        (UserRole::AuthorityOfficer, _) => Ok(LedgerAccess {
            may_post: vec![EntryKind::Receipt],
            may_record_exception: true,
            ..none
        }),
        (UserRole::Adviser, _) => Ok(none),
        (UserRole::Evaluator, _) => Ok(LedgerAccess {
            sees_journal: false,
            sees_staff: false,
            sees_schools: false,
            ..none
        }),
        (UserRole::ClusterClerk, Scope::Cluster(own)) if own == cluster => Ok(LedgerAccess {
            may_post: vec![
                EntryKind::Allocation,
                EntryKind::Commitment,
                EntryKind::Payment,
                EntryKind::Claim,
                EntryKind::Reimbursement,
                EntryKind::Virement,
            ],
            may_record_staff: true,
            may_set_horizon: true,
            ..none
        }),
        (UserRole::ClusterClerk, _) => {
            refuse("a cluster chair or clerk may only use their own cluster's ledger".into())
        }
        (UserRole::Headteacher | UserRole::Governor, Scope::School(urn)) if members.contains(&urn) => {
            Ok(LedgerAccess {
                sees_staff: false,
                only_school: Some(urn),
                ..none
            })
        }
        (UserRole::Headteacher | UserRole::Governor, _) => {
            refuse("a headteacher or governor may only read the ledger of their own school's cluster".into())
        }
        (UserRole::StrandStaff, _) => refuse("strand staff have no access to the cluster ledger".into()),
        (UserRole::DataProtectionOfficer, _) => {
            refuse("the data protection officer has no part in the cluster ledger".into())
        }
    }
}

/// Who posts each kind, for refusals.
fn who_posts(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Receipt => "an authority officer records receipts from the authority",
        _ => {
            "the cluster's own chair or clerk posts allocations, commitments, payments, claims, reimbursements and virements"
        }
    }
}

/// A staff post with its funding horizon and whether the contract runs past it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffLine {
    pub post: StaffPost,
    pub horizon: NaiveDate,
    pub runs_past: bool,
}

/// One cluster's ledger as the user may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerView {
    pub cluster: ClusterId,
    pub cluster_name: String,
    pub access: LedgerAccess,
    /// The whole cluster's budget by ring-fence (totals are never partial).
    pub budget: Budget,
    /// Each school's position per ring-fence, by ring-fence then URN; for a school-scoped user
    /// only that school's; for an evaluator none (the totals are in `budget`).
    pub schools: Vec<(Fence, HolderPosition)>,
    /// A page of the journal, newest first; for a school-scoped user only entries touching the
    /// school, with only its lines.
    pub journal: Vec<PagedEntry>,
    /// How many entries the user may see on every page, and where this page starts.
    pub journal_total: u64,
    pub journal_offset: u64,
    /// The journal's length (every entry, whoever may see it).
    pub length: i64,
    /// The kept balance of every account (the caller filters what the user may see).
    pub balances: Balances,
    pub staff: Vec<StaffLine>,
    pub rules: VirementRules,
    pub exceptions: Vec<VirementException>,
    /// The journal number of each entry that used an exception (`exceptions[i].used_by`).
    pub used_seqs: Vec<(EntryId, i64)>,
    /// Funded member schools: (URN, name), by name.
    pub members: Vec<(Urn, String)>,
    /// Horizons the cluster set, by stream; others use `default_horizon`.
    pub horizons: Vec<(String, NaiveDate)>,
    pub default_horizon: NaiveDate,
    /// The journal sums to the kept balances (always true unless the database was tampered with).
    pub reconciles: bool,
    /// Every entry's memo is marked "(synthetic)": demo data.
    pub synthetic: bool,
}

impl LedgerView {
    pub fn horizon_for(&self, stream: &str) -> NaiveDate {
        self.horizons
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(stream))
            .map_or(self.default_horizon, |(_, d)| *d)
    }
}

fn check_key(key: &str) -> ServiceResult<()> {
    let ok = (8..=100).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::Invalid(
            "idempotency_key: 8 to 100 letters, digits, '-', '_', '.' or ':' (reload the form)".into(),
        ))
    }
}

/// SHA-256 (hex) of what a posting says, for the idempotency check.
pub fn content_hash(cluster: ClusterId, entry: &NewEntry) -> String {
    let digest = Sha256::digest(format!("cluster={cluster}|{}", entry.canonical()).as_bytes());
    digest.iter().fold(String::with_capacity(64), |mut s, b| {
        use std::fmt::Write;
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl Service {
    /// The cluster's funded members and the user's access to its ledger.
    async fn ledger_scope(
        &self,
        user: &User,
        cluster: ClusterId,
    ) -> ServiceResult<(String, Vec<(Urn, String)>, BTreeSet<Urn>, LedgerAccess)> {
        let detail = self.cluster(user, cluster).await?;
        let mut members: Vec<(Urn, String)> = detail
            .members
            .iter()
            .filter(|(_, role, _)| role.is_funded())
            .map(|(s, _, _)| (s.school.urn, s.school.name.clone()))
            .collect();
        members.sort_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
        let set: BTreeSet<Urn> = members.iter().map(|(u, _)| *u).collect();
        let access = ledger_access(user, cluster, &set)?;
        Ok((detail.summary.cluster.name.clone(), members, set, access))
    }

    /// The authority's virement rules (the defaults until it keeps its own).
    pub async fn virement_rules(&self, user: &User) -> ServiceResult<VirementRules> {
        Ok(self.store.virement_rules(user.authority).await?.unwrap_or_default())
    }

    /// Replaces the authority's virement rules (authority officers only).
    pub async fn set_virement_rules(&self, user: &User, rules: &VirementRules) -> ServiceResult<()> {
        if user.role != UserRole::AuthorityOfficer {
            return Err(ServiceError::Forbidden(
                "only an authority officer may change the virement rules".into(),
            ));
        }
        rules.validate().map_err(invalid)?;
        Ok(self.store.save_virement_rules(user.authority, rules).await?)
    }

    /// Posts an entry to a cluster's ledger, exactly once per idempotency key.
    pub async fn post_entry(&self, user: &User, cluster: ClusterId, req: PostRequest) -> Result<Posted, LedgerFailure> {
        check_key(&req.idempotency_key)?;
        let (_, _, members, access) = self.ledger_scope(user, cluster).await?;
        let entry = req.entry;
        let hash = content_hash(cluster, &entry);
        // A retry of a posting that went through returns it, whatever has happened since.
        if let Some(found) = self
            .replay(user.authority, cluster, &req.idempotency_key, &hash)
            .await?
        {
            return Ok(found);
        }
        let original = match entry.reverses {
            Some(id) => Some(
                self.store
                    .ledger_entry(user.authority, cluster, id)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(format!("entry {id}")))?,
            ),
            None => None,
        };
        if let Some(o) = original.as_ref().filter(|o| o.body.kind == EntryKind::Reversal) {
            return Err(LedgerError::ReversalOfReversal { id: o.id }.into());
        }
        let judged_kind = original.as_ref().map_or(entry.kind, |o| o.body.kind);
        let allowed = if entry.kind == EntryKind::Reversal {
            access.may_reverse(judged_kind)
        } else {
            access.may_post.contains(&entry.kind)
        };
        if !allowed {
            return Err(ServiceError::Forbidden(format!(
                "a {} may not {} {}s: {}",
                user.role.label().to_lowercase(),
                if entry.kind == EntryKind::Reversal {
                    "reverse"
                } else {
                    "post"
                },
                judged_kind.code(),
                who_posts(judged_kind)
            ))
            .into());
        }
        self.store.ledger_durability().await?;
        let rules = self.store.virement_rules(user.authority).await?.unwrap_or_default();
        // Postings to one cluster wait their turn here rather than race to the store and judge
        // again when they lose: with many at once the losers could lose twenty times running
        // (a 409 "busy" under slow disks). The store's check of the journal length still guards
        // against other processes, so the loop stays.
        let queue = self.posting_queues.of(user.authority, cluster);
        let _turn = queue.lock().await;
        for _attempt in 0..20 {
            let snapshot = self.store.ledger_snapshot(user.authority, cluster).await?;
            // The original as it stands now (it may have been reversed meanwhile).
            let original = match entry.reverses {
                Some(id) => self.store.ledger_entry(user.authority, cluster, id).await?,
                None => None,
            };
            check(
                &entry,
                &LedgerContext {
                    balances: &snapshot.balances,
                    members: &members,
                    rules: &rules,
                    exceptions: &snapshot.exceptions,
                    original: original.as_ref(),
                },
            )?;
            let posting = LedgerPosting {
                cluster,
                idempotency_key: req.idempotency_key.clone(),
                content_hash: hash.clone(),
                entry: entry.clone(),
                posted_by: user.id,
                posted_by_name: user.display_name.clone(),
                posted_at: self.clock.now(),
                expected_seq: snapshot.seq,
            };
            match self.store.post_ledger_entry(user.authority, &posting).await? {
                PostOutcome::Posted(entry) => return Ok(Posted { entry, replayed: false }),
                PostOutcome::Replayed(entry) => return Ok(Posted { entry, replayed: true }),
                PostOutcome::Stale => continue,
            }
        }
        Err(ServiceError::Conflict("the ledger is busy with other postings: try again".into()).into())
    }

    async fn replay(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        key: &str,
        hash: &str,
    ) -> Result<Option<Posted>, LedgerFailure> {
        match self.store.ledger_entry_by_key(authority, key).await? {
            Some(found) if found.cluster == cluster && found.content_hash == hash => Ok(Some(Posted {
                entry: found.entry,
                replayed: true,
            })),
            Some(found) => Err(ServiceError::Conflict(format!(
                "idempotency key {key:?} was already used for a different entry (entry {}); reload the form and enter it again",
                found.entry.id
            ))
            .into()),
            None => Ok(None),
        }
    }

    /// Posts a two-line entry built from a form's fields.
    pub async fn post_simple(&self, user: &User, cluster: ClusterId, e: SimpleEntry) -> Result<Posted, LedgerFailure> {
        let lines = simple_lines(
            e.kind,
            (&e.from.0, e.from.1),
            e.to.as_ref().map(|(f, h)| (f, *h)),
            e.amount,
            e.from_commitment,
        )?;
        let entry = NewEntry {
            kind: e.kind,
            date: e.date,
            memo: e.memo.trim().to_string(),
            lines,
            approval: e.approval,
            exception: e.exception,
            joint_project: e.joint_project,
            reverses: None,
        };
        self.post_entry(
            user,
            cluster,
            PostRequest {
                idempotency_key: e.idempotency_key,
                entry,
            },
        )
        .await
    }

    /// Reverses an entry (once): a mirror entry linked to it.
    pub async fn reverse_entry(
        &self,
        user: &User,
        cluster: ClusterId,
        id: EntryId,
        req: ReverseRequest,
    ) -> Result<Posted, LedgerFailure> {
        check_key(&req.idempotency_key)?;
        let original = self
            .store
            .ledger_entry(user.authority, cluster, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("entry {id}")))?;
        // Unchecked here: a retry of a reversal that went through is found by its key first;
        // otherwise the domain's reverse-once rule judges it.
        let entry = reversal_entry(&original, req.date, &req.memo, req.approval);
        self.post_entry(
            user,
            cluster,
            PostRequest {
                idempotency_key: req.idempotency_key,
                entry,
            },
        )
        .await
    }

    /// The cluster's ledger as the user may see it, with the newest page of its journal.
    pub async fn ledger(&self, user: &User, cluster: ClusterId) -> ServiceResult<LedgerView> {
        self.ledger_page(user, cluster, 0, JOURNAL_PAGE).await
    }

    /// The cluster's ledger with `limit` journal entries from the `offset`-th newest: only the
    /// page is read out of the database; the totals come from the kept balances and the check
    /// that the journal sums to them is made in the database.
    pub async fn ledger_page(
        &self,
        user: &User,
        cluster: ClusterId,
        offset: u64,
        limit: u32,
    ) -> ServiceResult<LedgerView> {
        let (cluster_name, members, _, access) = self.ledger_scope(user, cluster).await?;
        let snapshot = self.store.ledger_snapshot(user.authority, cluster).await?;
        let facts = self.store.ledger_journal_facts(user.authority, cluster).await?;
        let page = if access.sees_journal {
            let query = JournalQuery {
                school: access.only_school,
                offset,
                ..JournalQuery::newest(limit)
            };
            self.store.ledger_journal_page(user.authority, cluster, &query).await?
        } else {
            JournalPage::default()
        };
        let mut journal = page.entries;
        keep_lines_of(&mut journal, access.only_school);
        let budget = Budget::from_balances(&snapshot.balances);
        let schools = budget
            .fences
            .iter()
            .flat_map(|f| f.schools.iter().map(|h| (f.fence.clone(), *h)))
            .filter(|_| access.sees_schools)
            .filter(|(_, h)| access.only_school.is_none_or(|u| h.holder == Holder::School(u)))
            .collect();
        let today = self.clock.today();
        let horizons = self.store.ledger_horizons(user.authority, cluster).await?;
        let default = default_horizon(today);
        let staff = if access.sees_staff {
            self.store
                .staff_posts(user.authority, cluster)
                .await?
                .into_iter()
                .map(|post| {
                    let horizon = horizons
                        .iter()
                        .find(|(s, _)| s.eq_ignore_ascii_case(&post.post.fence.stream))
                        .map_or(default, |(_, d)| *d);
                    StaffLine {
                        runs_past: post.post.runs_past(horizon),
                        horizon,
                        post,
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let exceptions = if access.only_school.is_some() {
            Vec::new()
        } else {
            snapshot.exceptions
        };
        let mut used_seqs = Vec::new();
        for id in exceptions.iter().filter_map(|x| x.used_by) {
            let query = JournalQuery {
                entry: Some(id),
                ..JournalQuery::newest(1)
            };
            let found = self.store.ledger_journal_page(user.authority, cluster, &query).await?;
            used_seqs.extend(found.entries.iter().map(|p| (id, p.entry.seq)));
        }
        Ok(LedgerView {
            cluster,
            cluster_name,
            budget,
            schools,
            journal,
            journal_total: page.total,
            journal_offset: offset,
            length: snapshot.seq,
            staff,
            rules: self.store.virement_rules(user.authority).await?.unwrap_or_default(),
            exceptions,
            used_seqs,
            members,
            horizons,
            default_horizon: default,
            balances: snapshot.balances,
            reconciles: facts.reconciles,
            synthetic: facts.synthetic,
            access,
        })
    }

    /// One school's positions in each ring-fence of the cluster's ledger, from the kept
    /// balances only (no journal read): what a statement or governing-body report shows.
    /// `None` when the user may not see schools' positions.
    pub async fn school_positions(
        &self,
        user: &User,
        cluster: ClusterId,
        urn: Urn,
    ) -> ServiceResult<Option<Vec<(Fence, HolderPosition)>>> {
        let (_, _, _, access) = self.ledger_scope(user, cluster).await?;
        if !access.sees_schools || access.only_school.is_some_and(|u| u != urn) {
            return Ok(None);
        }
        let snapshot = self.store.ledger_snapshot(user.authority, cluster).await?;
        let budget = Budget::from_balances(&snapshot.balances);
        Ok(Some(
            budget
                .fences
                .iter()
                .flat_map(|f| f.schools.iter().map(|h| (f.fence.clone(), *h)))
                .filter(|(_, h)| h.holder == Holder::School(urn))
                .collect(),
        ))
    }

    /// One entry of the cluster's journal (for the reversal form).
    pub async fn ledger_entry(&self, user: &User, cluster: ClusterId, id: EntryId) -> ServiceResult<PagedEntry> {
        let (_, _, _, access) = self.ledger_scope(user, cluster).await?;
        if !access.sees_journal || access.only_school.is_some() {
            return Err(ServiceError::Forbidden(
                "only the cluster's clerk, authority officers and advisers read whole entries".into(),
            ));
        }
        let query = JournalQuery {
            entry: Some(id),
            ..JournalQuery::newest(1)
        };
        self.store
            .ledger_journal_page(user.authority, cluster, &query)
            .await?
            .entries
            .pop()
            .ok_or_else(|| ServiceError::NotFound(format!("entry {id}")))
    }

    /// Records an approved exception to the ring-fence (authority officers).
    pub async fn record_exception(
        &self,
        user: &User,
        cluster: ClusterId,
        exception: &NewException,
    ) -> Result<ExceptionId, LedgerFailure> {
        let (_, _, _, access) = self.ledger_scope(user, cluster).await?;
        if !access.may_record_exception {
            return Err(ServiceError::Forbidden(
                "only an authority officer records an approved exception to a ring-fence".into(),
            )
            .into());
        }
        exception.validate()?;
        Ok(self
            .store
            .save_virement_exception(user.authority, cluster, exception, user.id, self.clock.now())
            .await?)
    }

    /// Records a staff post paid from cluster money (the cluster's clerk).
    pub async fn record_staff_post(
        &self,
        user: &User,
        cluster: ClusterId,
        post: &NewStaffPost,
    ) -> Result<StaffPostId, LedgerFailure> {
        let (_, _, members, access) = self.ledger_scope(user, cluster).await?;
        if !access.may_record_staff {
            return Err(ServiceError::Forbidden(
                "only the cluster's own chair or clerk records staff paid from cluster money".into(),
            )
            .into());
        }
        post.validate(&members)?;
        Ok(self.store.save_staff_post(user.authority, cluster, post).await?)
    }

    /// Sets the funding horizon for a stream of the cluster (the cluster's clerk).
    pub async fn set_horizon(
        &self,
        user: &User,
        cluster: ClusterId,
        stream: &str,
        ends_on: NaiveDate,
    ) -> ServiceResult<()> {
        let (_, _, _, access) = self.ledger_scope(user, cluster).await?;
        if !access.may_set_horizon {
            return Err(ServiceError::Forbidden(
                "only the cluster's own chair or clerk sets its funding horizon".into(),
            ));
        }
        let fence = domain::funding::ledger::Fence::new(stream, "all").map_err(invalid)?;
        Ok(self
            .store
            .set_ledger_horizon(user.authority, cluster, &fence.stream, ends_on)
            .await?)
    }
}

/// One cluster's ledger as the demo builds it in memory, every entry judged by the rules before
/// it joins the batch.
struct DemoLedger<'a> {
    cluster: ClusterId,
    members: BTreeSet<Urn>,
    balances: Balances,
    postings: Vec<LedgerPosting>,
    rules: &'a VirementRules,
    now: i64,
}

impl DemoLedger<'_> {
    fn push(&mut self, who: &User, entry: NewEntry, original: Option<&Entry>) -> ServiceResult<()> {
        check(
            &entry,
            &LedgerContext {
                balances: &self.balances,
                members: &self.members,
                rules: self.rules,
                exceptions: &[],
                original,
            },
        )
        .map_err(|e| ServiceError::Unexpected(format!("demo ledger of cluster {}: {e}", self.cluster)))?;
        self.balances.apply(&entry.lines).map_err(invalid)?;
        let seq = i64::try_from(self.postings.len()).unwrap_or(i64::MAX);
        self.postings.push(LedgerPosting {
            cluster: self.cluster,
            idempotency_key: format!("demo-{}-{:02}", self.cluster, seq + 1),
            content_hash: content_hash(self.cluster, &entry),
            entry,
            posted_by: who.id,
            posted_by_name: who.display_name.clone(),
            posted_at: self.now,
            expected_seq: seq,
        });
        Ok(())
    }
}

impl Service {
    /// Each demo cluster's ledger, synthetic and labelled so: a receipt from Norfolk County
    /// Council of the cluster's illustrative admin funding (the amount and the split from
    /// [`Service::cluster_admin_allocation`]) and of illustrative strand money, the allocation
    /// to schools, a commitment and payments, one payment reversed; and in the largest cluster
    /// two staff posts, one contract running past the funding horizon. Every entry is judged by
    /// the ledger's rules; all are written in two transactions so the demo starts quickly.
    pub(crate) async fn seed_demo_ledgers(&self, authority: AuthorityId) -> ServiceResult<u64> {
        use domain::Datelike;
        use domain::funding::ledger::{Account, AccountKind, Line, reversal_of};
        use domain::funding::virement::LEARNING_MENTORS_AND_LSU;
        let today = self.clock.today();
        let fy = if today.month() >= 4 {
            today.year()
        } else {
            today.year() - 1
        };
        let day = |offset: u64| {
            NaiveDate::from_ymd_opt(fy, 4, 1)
                .and_then(|d| d.checked_add_days(domain::Days::new(offset)))
                .unwrap_or(today)
                .min(today)
        };
        let bad = |e: LedgerError| ServiceError::Unexpected(format!("demo ledger: {e}"));
        let fence = |s: &str, p: &str| Fence::new(s, p).map_err(bad);
        let admin = fence("Cluster admin funding", "all")?;
        let gt = [
            fence("Gifted and talented", "primary")?,
            fence("Gifted and talented", "secondary")?,
        ];
        let lm = [
            fence(LEARNING_MENTORS_AND_LSU, "primary")?,
            fence(LEARNING_MENTORS_AND_LSU, "secondary")?,
        ];
        let officer = User {
            id: UserId(0),
            authority,
            email: "finance@demo.clusterwise.test".into(),
            display_name: "Norfolk County Council finance (synthetic)".into(),
            role: UserRole::AuthorityOfficer,
            scope: Scope::Authority,
        };
        let rules = VirementRules::default();
        let entry = |kind, d: u64, memo: &str, lines: Vec<Line>| NewEntry {
            kind,
            date: day(d),
            memo: format!("{memo} (synthetic)"),
            lines,
            approval: None,
            exception: None,
            joint_project: false,
            reverses: None,
        };
        let two = |kind, from: (&Fence, Holder), pence: i64, committed| {
            simple_lines(kind, from, None, Money::from_pence(pence), committed).map_err(bad)
        };
        let central = Holder::Central;
        let clusters = self.store.list_clusters(authority, today).await?;
        let mut ledgers = Vec::new();
        // For each cluster: the index of the payment to reverse, the clerk and the host.
        let mut to_reverse = Vec::new();
        for summary in &clusters {
            let c = summary.cluster.id;
            let clerk = User {
                display_name: "Cluster clerk (synthetic)".into(),
                role: UserRole::ClusterClerk,
                scope: Scope::Cluster(c),
                ..officer.clone()
            };
            let detail = self.cluster(&officer, c).await?;
            let funded: Vec<_> = detail.members.iter().filter(|(_, r, _)| r.is_funded()).collect();
            let Some(host) = funded
                .iter()
                .find(|(_, r, _)| *r == domain::cluster::MembershipRole::Host)
                .map(|(s, _, _)| s.school.urn)
            else {
                continue;
            };
            let mut ledger = DemoLedger {
                cluster: c,
                members: funded.iter().map(|(s, _, _)| s.school.urn).collect(),
                balances: Balances::new(),
                postings: Vec::new(),
                rules: &rules,
                now: self.clock.now(),
            };
            let (_, allocation) = self.cluster_admin_allocation(&officer, c).await?;
            let pupils = |f: fn(domain::school::Phase) -> bool| -> i64 {
                funded
                    .iter()
                    .filter(|(s, _, _)| f(s.school.phase))
                    .map(|(s, _, _)| i64::from(s.pupils()))
                    .sum()
            };
            let (primary, secondary) = (
                pupils(domain::school::Phase::is_primary_like),
                pupils(domain::school::Phase::is_secondary_anchor),
            );
            // One receipt: the admin funding, and illustrative strand money (£4 a pupil for
            // gifted and talented; a fixed sum per phase for learning mentors and the LSU).
            let mut receipt = two(EntryKind::Receipt, (&admin, central), allocation.budget.pence(), false)?;
            for (f, pence) in [
                (&gt[0], primary * 400),
                (&gt[1], secondary * 400),
                (&lm[0], if primary > 0 { 1_500_000 } else { 0 }),
                (&lm[1], if secondary > 0 { 3_000_000 } else { 0 }),
            ] {
                if pence > 0 {
                    receipt.extend(two(EntryKind::Receipt, (f, central), pence, false)?);
                }
            }
            ledger.push(
                &officer,
                entry(
                    EntryKind::Receipt,
                    14,
                    &format!(
                        "Norfolk County Council: cluster admin funding {} and Excellence Cluster strands, illustrative",
                        allocation.budget
                    ),
                    receipt,
                ),
                None,
            )?;
            let mut schools: Vec<Urn> = allocation.lines.iter().filter_map(|l| l.urn).collect();
            schools.sort();
            schools.dedup();
            let mut alloc = Vec::new();
            let mut to_schools = 0;
            for urn in schools {
                let amount = allocation.school_total(urn);
                if amount.pence() > 0 {
                    to_schools += amount.pence();
                    alloc.push(Line::debit(
                        Account::new(AccountKind::Available, &admin, Holder::School(urn)),
                        amount,
                    ));
                }
            }
            if to_schools > 0 {
                alloc.insert(
                    0,
                    Line::credit(
                        Account::new(AccountKind::Available, &admin, central),
                        Money::from_pence(to_schools),
                    ),
                );
                ledger.push(
                    &clerk,
                    entry(
                        EntryKind::Allocation,
                        28,
                        "Admin funding to schools: 54 % equally, 46 % by pupils",
                        alloc,
                    ),
                    None,
                )?;
            }
            let host_h = Holder::School(host);
            let feeder = funded
                .iter()
                .find(|(s, _, _)| s.school.urn != host)
                .map_or(host_h, |(s, _, _)| Holder::School(s.school.urn));
            if secondary > 0 {
                ledger.push(
                    &clerk,
                    entry(
                        EntryKind::Commitment,
                        35,
                        "Learning mentor contract for the year",
                        two(EntryKind::Commitment, (&lm[1], central), 2_600_000, false)?,
                    ),
                    None,
                )?;
                ledger.push(
                    &clerk,
                    entry(
                        EntryKind::Payment,
                        60,
                        "Learning mentor salary and on-costs, first month",
                        two(EntryKind::Payment, (&lm[1], central), 216_667, true)?,
                    ),
                    None,
                )?;
            }
            ledger.push(
                &clerk,
                entry(
                    EntryKind::Payment,
                    70,
                    "Supply cover for the cluster meeting",
                    two(EntryKind::Payment, (&admin, host_h), 18_000, false)?,
                ),
                None,
            )?;
            ledger.push(
                &clerk,
                entry(
                    EntryKind::Payment,
                    75,
                    "Refreshments for the cluster meeting",
                    two(EntryKind::Payment, (&admin, feeder), 9_550, false)?,
                ),
                None,
            )?;
            to_reverse.push((ledger.postings.len() - 1, clerk));
            ledgers.push(ledger);
        }
        let first: Vec<LedgerPosting> = ledgers.iter().flat_map(|l| l.postings.iter().cloned()).collect();
        let posted = self.store.post_ledger_batch(authority, &first).await?;
        // The reversals, judged against the entries as posted.
        let mut offset = 0;
        let mut second = Vec::new();
        for (ledger, (index, clerk)) in ledgers.iter_mut().zip(&to_reverse) {
            let original = posted
                .get(offset + index)
                .ok_or_else(|| ServiceError::Unexpected("demo ledger: a posting went missing".into()))?;
            offset += ledger.postings.len();
            let rev = reversal_of(
                original,
                day(76),
                "Posted against the wrong school's allocation (synthetic)",
                None,
            )
            .map_err(bad)?;
            let before = ledger.postings.len();
            ledger.push(clerk, rev, Some(original))?;
            second.extend(ledger.postings.drain(before..));
        }
        self.store.post_ledger_batch(authority, &second).await?;

        // Staff paid from cluster money, in the largest cluster (the demo clerk's).
        if let Some(biggest) = clusters
            .iter()
            .max_by_key(|c| (c.pupils, std::cmp::Reverse(c.cluster.id)))
        {
            let detail = self.cluster(&officer, biggest.cluster.id).await?;
            if let Some(host) = detail
                .members
                .iter()
                .find(|(_, r, _)| *r == domain::cluster::MembershipRole::Host)
                .map(|(s, _, _)| s.school.urn)
            {
                let horizon = default_horizon(today);
                let start = NaiveDate::from_ymd_opt(fy - 1, 9, 1).unwrap_or(today);
                for (post, tenths, pence, phase, end) in [
                    // Runs to the end of the academic year, past the 31 March horizon: flagged.
                    (
                        "Learning mentor (synthetic)",
                        10,
                        2_600_000,
                        1,
                        NaiveDate::from_ymd_opt(horizon.year(), 8, 31),
                    ),
                    ("LSU teaching assistant (synthetic)", 6, 1_450_000, 0, Some(horizon)),
                ] {
                    let staff = NewStaffPost {
                        post: post.into(),
                        school: Some(host),
                        fte_tenths: tenths,
                        annual_cost: Money::from_pence(pence),
                        fence: lm[phase].clone(),
                        contract_start: start,
                        contract_end: end,
                    };
                    self.store
                        .save_staff_post(authority, biggest.cluster.id, &staff)
                        .await?;
                }
            }
        }
        Ok(u64::try_from(ledgers.len()).unwrap_or(0))
    }
}

/// A cluster's ledger for the JSON API: the view (without journal entries), each account's
/// balance as the user may see it and the journal's length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedLedger {
    pub view: LedgerView,
    /// Entries in the journal (all of them, whoever asks: the count is not a secret).
    pub entries: i64,
    /// Each account's balance (debits minus credits, pence); a school-scoped user gets only its
    /// school's accounts, an evaluator none.
    pub accounts: Vec<(domain::funding::ledger::Account, i64)>,
    /// The sum of every account's balance: 0 when the ledger balances (always, whoever asks).
    pub sum_pence: i64,
}

impl Service {
    /// Refuses (403 or 404) unless the user may post some kind of entry to the cluster's ledger:
    /// the check a caller gets before the body of its posting is judged.
    pub async fn may_post_to_ledger(&self, user: &User, cluster: ClusterId) -> ServiceResult<()> {
        let (_, _, _, access) = self.ledger_scope(user, cluster).await?;
        if access.may_post.is_empty() {
            return Err(ServiceError::Forbidden(format!(
                "a {} may not post to the cluster ledger: an authority officer records receipts; the cluster's own chair or clerk posts the rest",
                user.role.label().to_lowercase()
            )));
        }
        Ok(())
    }

    /// The cluster's ledger with its balances by account.
    pub async fn keyed_ledger(&self, user: &User, cluster: ClusterId) -> ServiceResult<KeyedLedger> {
        let view = self.ledger_page(user, cluster, 0, 0).await?;
        let sum_pence = view
            .balances
            .sum()
            .ok_or_else(|| ServiceError::Unexpected("the ledger's balances overflow".into()))?;
        let accounts = view
            .balances
            .iter()
            .filter(|_| view.access.sees_schools)
            .filter(|(a, _)| view.access.only_school.is_none_or(|u| a.holder == Holder::School(u)))
            .map(|(a, v)| (a.clone(), v))
            .collect();
        Ok(KeyedLedger {
            entries: view.length,
            view,
            accounts,
            sum_pence,
        })
    }

    /// A page of the journal in journal order, each entry with its idempotency key, optionally
    /// only the entry posted under `key`: a school's head or governor gets only entries touching
    /// the school, with only its lines; an evaluator none.
    pub async fn journal_entries(
        &self,
        user: &User,
        cluster: ClusterId,
        key: Option<String>,
        offset: u64,
        limit: u32,
    ) -> ServiceResult<JournalPage> {
        let (_, _, _, access) = self.ledger_scope(user, cluster).await?;
        if !access.sees_journal {
            return Ok(JournalPage::default());
        }
        let query = JournalQuery {
            school: access.only_school,
            key,
            entry: None,
            newest_first: false,
            offset,
            limit,
        };
        let mut page = self.store.ledger_journal_page(user.authority, cluster, &query).await?;
        keep_lines_of(&mut page.entries, access.only_school);
        Ok(page)
    }
}

/// A school-scoped user sees only the school's lines of an entry.
fn keep_lines_of(entries: &mut [PagedEntry], school: Option<Urn>) {
    if let Some(urn) = school {
        let mine = Holder::School(urn);
        for e in entries {
            e.entry.body.lines.retain(|l| l.account.holder == mine);
        }
    }
}

//! The pupil-data audit log's hash chain. Each entry's hash is the SHA-256 of the previous entry's
//! hash and this entry's content (every field, length-prefixed so no two contents collide), so
//! changing, removing or reordering any entry breaks the chain at that entry, and
//! [`verify_chain`] names the first broken link. The log holds no names: pupils appear by their
//! pseudonymous id only.

use crate::casework::PupilId;
use crate::ids::{Urn, UserId};
use crate::privacy::{Action, Resource};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Whether the access went ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Refused,
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Refused => "refused",
        }
    }
    pub fn from_code(code: &str) -> Option<Self> {
        [Outcome::Allowed, Outcome::Refused]
            .into_iter()
            .find(|o| o.code() == code)
    }
}

/// What one audit entry records: who, what, when, why, and whether it was allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Unix seconds.
    pub at: i64,
    pub user: UserId,
    /// The user's e-mail as it was then (users may be renamed; the log may not).
    pub user_email: String,
    /// The role code as it was then.
    pub role: String,
    pub action: Action,
    pub resource: Resource,
    pub pupil: Option<PupilId>,
    pub school: Option<Urn>,
    /// Why: the purpose the service states for this access.
    pub purpose: String,
    pub outcome: Outcome,
    /// A short note without pupil data (e.g. "3 records", "case 12").
    pub detail: String,
}

/// An entry as stored: its place in the chain and its hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// 1, 2, 3, … within the authority.
    pub seq: u64,
    pub record: AuditRecord,
    pub prev_hash: String,
    pub hash: String,
}

fn put(h: &mut Sha256, name: &str, value: &str) {
    h.update(name.as_bytes());
    h.update(b"=");
    h.update(value.len().to_string().as_bytes());
    h.update(b":");
    h.update(value.as_bytes());
    h.update(b"\n");
}

/// The hash of an entry: SHA-256 over the previous hash, the sequence number and every field.
pub fn chain_hash(prev_hash: &str, seq: u64, r: &AuditRecord) -> String {
    let mut h = Sha256::new();
    put(&mut h, "prev", prev_hash);
    put(&mut h, "seq", &seq.to_string());
    put(&mut h, "at", &r.at.to_string());
    put(&mut h, "user", &r.user.0.to_string());
    put(&mut h, "email", &r.user_email);
    put(&mut h, "role", &r.role);
    put(&mut h, "action", r.action.code());
    put(&mut h, "resource", r.resource.code());
    put(&mut h, "pupil", &r.pupil.map(|p| p.0.to_string()).unwrap_or_default());
    put(&mut h, "school", &r.school.map(|u| u.to_string()).unwrap_or_default());
    put(&mut h, "purpose", &r.purpose);
    put(&mut h, "outcome", r.outcome.code());
    put(&mut h, "detail", &r.detail);
    h.finalize().iter().fold(String::with_capacity(64), |mut s, b| {
        use std::fmt::Write;
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The entry that follows `previous` (or starts the chain).
pub fn next_entry(previous: Option<(u64, &str)>, record: AuditRecord) -> AuditEntry {
    let (seq, prev_hash) = match previous {
        Some((seq, hash)) => (seq + 1, hash.to_string()),
        None => (1, GENESIS.to_string()),
    };
    let hash = chain_hash(&prev_hash, seq, &record);
    AuditEntry {
        seq,
        record,
        prev_hash,
        hash,
    }
}

/// How a link is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// The entry's content no longer matches its hash (it was changed).
    ContentChanged,
    /// The entry does not point at the hash of the one before it (one was removed or replaced).
    LinkBroken,
    /// A sequence number is missing or repeated.
    SequenceGap,
}

impl Break {
    pub fn label(self) -> &'static str {
        match self {
            Break::ContentChanged => "the entry was changed after it was written",
            Break::LinkBroken => "the entry does not follow the one before it (an entry was removed or replaced)",
            Break::SequenceGap => "an entry is missing or repeated",
        }
    }
}

/// The result of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStatus {
    /// Every link holds; the last hash is given so it can be noted elsewhere (an anchor).
    Intact { entries: u64, last_hash: String },
    /// The first broken link.
    Broken { seq: u64, why: Break },
}

/// Checks every link of a chain given in sequence order, from its first entry.
pub fn verify_chain(entries: &[AuditEntry]) -> ChainStatus {
    let mut previous: Option<&AuditEntry> = None;
    for e in entries {
        let (want_seq, want_prev) = match previous {
            Some(p) => (p.seq + 1, p.hash.as_str()),
            None => (1, GENESIS),
        };
        if e.seq != want_seq {
            return ChainStatus::Broken {
                seq: e.seq,
                why: Break::SequenceGap,
            };
        }
        if e.prev_hash != want_prev {
            return ChainStatus::Broken {
                seq: e.seq,
                why: Break::LinkBroken,
            };
        }
        if chain_hash(&e.prev_hash, e.seq, &e.record) != e.hash {
            return ChainStatus::Broken {
                seq: e.seq,
                why: Break::ContentChanged,
            };
        }
        previous = Some(e);
    }
    ChainStatus::Intact {
        entries: entries.len() as u64,
        last_hash: previous.map_or_else(|| GENESIS.to_string(), |p| p.hash.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: i64) -> AuditRecord {
        AuditRecord {
            at: 1_700_000_000 + n,
            user: UserId(7),
            user_email: "mentor@example.test".into(),
            role: "strand_staff".into(),
            action: Action::Read,
            resource: Resource::MentorCase,
            pupil: Some(PupilId(n)),
            school: Urn::from_u32(121_000).ok(),
            purpose: "mentor case work".into(),
            outcome: Outcome::Allowed,
            detail: format!("case {n}"),
        }
    }

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 1..=n {
            let prev = out.last().map(|e| (e.seq, e.hash.clone()));
            out.push(next_entry(prev.as_ref().map(|(s, h)| (*s, h.as_str())), record(i)));
        }
        out
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let c = chain(5);
        assert_eq!(c[0].prev_hash, GENESIS);
        assert_eq!(c[1].prev_hash, c[0].hash);
        assert!(matches!(verify_chain(&c), ChainStatus::Intact { entries: 5, .. }));
        assert!(matches!(verify_chain(&[]), ChainStatus::Intact { entries: 0, .. }));
    }

    #[test]
    fn every_kind_of_tampering_is_found_at_its_entry() {
        // (what is done, first broken sequence number, why)
        type Tamper = fn(&mut Vec<AuditEntry>);
        let cases: &[(Tamper, u64, Break)] = &[
            (
                |c| c[2].record.purpose = "nothing to see".into(),
                3,
                Break::ContentChanged,
            ),
            (|c| c[1].record.outcome = Outcome::Refused, 2, Break::ContentChanged),
            (|c| c[3].record.pupil = None, 4, Break::ContentChanged),
            (
                |c| {
                    c.remove(2);
                },
                4,
                Break::SequenceGap,
            ),
            (
                |c| {
                    // Removed and renumbered: the link to the previous hash gives it away.
                    c.remove(2);
                    for e in c.iter_mut().skip(2) {
                        e.seq -= 1;
                    }
                },
                3,
                Break::LinkBroken,
            ),
            (
                |c| {
                    // Rewritten with a fresh hash: the next entry no longer follows it.
                    c[1].record.detail = "edited".into();
                    c[1].hash = chain_hash(&c[1].prev_hash, c[1].seq, &c[1].record);
                },
                3,
                Break::LinkBroken,
            ),
            (|c| c.swap(1, 2), 3, Break::SequenceGap),
        ];
        for (tamper, seq, why) in cases {
            let mut c = chain(5);
            tamper(&mut c);
            assert_eq!(verify_chain(&c), ChainStatus::Broken { seq: *seq, why: *why });
        }
    }

    #[test]
    fn fields_cannot_be_shifted_between_each_other() {
        let mut a = record(1);
        let mut b = record(1);
        a.purpose = "ab".into();
        a.detail = "c".into();
        b.purpose = "a".into();
        b.detail = "bc".into();
        assert_ne!(chain_hash(GENESIS, 1, &a), chain_hash(GENESIS, 1, &b));
    }
}

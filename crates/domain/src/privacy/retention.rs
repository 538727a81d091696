//! Retention rules: how long each kind of pupil record is kept, counted from a named event. The
//! retention job deletes every record whose date has passed and reports what it removed.

use crate::NaiveDate;
use chrono::Months;

/// The kinds of pupil record Clusterwise keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    Pupil,
    GtEntry,
    MentorCase,
    LsuPlacement,
    Transition,
    AuditEntry,
}

impl RecordKind {
    pub const ALL: [RecordKind; 6] = [
        RecordKind::Pupil,
        RecordKind::GtEntry,
        RecordKind::MentorCase,
        RecordKind::LsuPlacement,
        RecordKind::Transition,
        RecordKind::AuditEntry,
    ];
    pub fn code(self) -> &'static str {
        match self {
            RecordKind::Pupil => "pupil",
            RecordKind::GtEntry => "gt_entry",
            RecordKind::MentorCase => "mentor_case",
            RecordKind::LsuPlacement => "lsu_placement",
            RecordKind::Transition => "transition",
            RecordKind::AuditEntry => "audit_entry",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            RecordKind::Pupil => "Pupil identity and characteristics",
            RecordKind::GtEntry => "Gifted and talented register entry",
            RecordKind::MentorCase => "Learning-mentor case (targets, sessions, reviews)",
            RecordKind::LsuPlacement => "Learning support unit placement",
            RecordKind::Transition => "Transition record",
            RecordKind::AuditEntry => "Audit log entry",
        }
    }
}

/// How long one kind is kept and from when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionRule {
    pub kind: RecordKind,
    pub keep_months: u32,
    /// The event the period runs from, in plain words.
    pub from: &'static str,
}

impl RetentionRule {
    /// The day the record may be deleted, given the day of its event.
    pub fn deletable_from(&self, event: NaiveDate) -> NaiveDate {
        event
            .checked_add_months(Months::new(self.keep_months))
            .unwrap_or(NaiveDate::MAX)
    }
    /// Whether a record whose event fell on `event` is past retention on `today`. A record whose
    /// event has not happened yet (an open case) is never due.
    pub fn is_due(&self, event: Option<NaiveDate>, today: NaiveDate) -> bool {
        event.is_some_and(|e| self.deletable_from(e) <= today)
    }
}

/// The default schedule (after the IRMS schools toolkit's pattern: casework kept for a fixed
/// period after it closes, identity only while some record needs it).
pub const DEFAULT_RULES: [RetentionRule; 6] = [
    RetentionRule {
        kind: RecordKind::Pupil,
        keep_months: 12,
        from: "the pupil left the school, once no other record of them remains",
    },
    RetentionRule {
        kind: RecordKind::GtEntry,
        keep_months: 12,
        from: "the pupil came off the register or left the school",
    },
    RetentionRule {
        kind: RecordKind::MentorCase,
        keep_months: 24,
        from: "the case closed (after its follow-up, or when the pupil disengaged)",
    },
    RetentionRule {
        kind: RecordKind::LsuPlacement,
        keep_months: 36,
        from: "the placement ended",
    },
    RetentionRule {
        kind: RecordKind::Transition,
        keep_months: 12,
        from: "the receiving school acknowledged it (or it was sent, if never acknowledged)",
    },
    RetentionRule {
        kind: RecordKind::AuditEntry,
        keep_months: 72,
        from: "the entry was written (the retention job does not remove audit entries: the chain is kept whole)",
    },
];

/// The rule for a kind.
pub fn rule(kind: RecordKind) -> RetentionRule {
    DEFAULT_RULES
        .iter()
        .copied()
        .find(|r| r.kind == kind)
        .unwrap_or(RetentionRule {
            kind,
            keep_months: 0,
            from: "",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn records_are_due_on_the_day_their_period_ends() {
        let case = rule(RecordKind::MentorCase);
        // (event, today, due)
        let cases = [
            (Some("2022-03-31"), "2024-03-30", false),
            (Some("2022-03-31"), "2024-03-31", true),
            (Some("2024-02-29"), "2026-02-28", true),
            (None, "2099-01-01", false),
        ];
        for (event, today, due) in cases {
            assert_eq!(case.is_due(event.map(day), day(today)), due, "{event:?} {today}");
        }
        for k in RecordKind::ALL {
            assert_eq!(rule(k).kind, k);
            assert!(rule(k).keep_months > 0);
        }
    }
}

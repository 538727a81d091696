//! Transition records: the flags (G&T register, mentee, LSU history) passed on to the receiving
//! school at Year 6 → 7 and for mid-year moves, including to schools outside the cluster (as a
//! file), with the receiving school's acknowledgement.

use super::{CaseworkError, PupilId, TransitionId, check_text, field};
use crate::NaiveDate;
use crate::ids::Urn;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionKind {
    Year6To7,
    MidYear,
}

impl TransitionKind {
    pub fn code(self) -> &'static str {
        match self {
            TransitionKind::Year6To7 => "y6_y7",
            TransitionKind::MidYear => "mid_year",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        [TransitionKind::Year6To7, TransitionKind::MidYear]
            .into_iter()
            .find(|k| k.code() == s.trim())
    }
    pub fn label(self) -> &'static str {
        match self {
            TransitionKind::Year6To7 => "Year 6 to Year 7",
            TransitionKind::MidYear => "Mid-year move",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flag {
    GtRegister,
    Mentee,
    LsuHistory,
}

impl Flag {
    pub const ALL: [Flag; 3] = [Flag::GtRegister, Flag::Mentee, Flag::LsuHistory];
    pub fn code(self) -> &'static str {
        match self {
            Flag::GtRegister => "gt",
            Flag::Mentee => "mentee",
            Flag::LsuHistory => "lsu",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        Flag::ALL.into_iter().find(|f| f.code() == s.trim())
    }
    pub fn label(self) -> &'static str {
        match self {
            Flag::GtRegister => "On the gifted and talented register",
            Flag::Mentee => "Has worked with a learning mentor",
            Flag::LsuHistory => "Has had a learning support unit placement",
        }
    }
}

/// Where the pupil goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receiving {
    /// A school in this authority's register (it acknowledges in Clusterwise).
    School(Urn),
    /// A school outside the cluster's system: the record goes as a file.
    Outside { name: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    pub on: NaiveDate,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionRecord {
    pub id: TransitionId,
    pub pupil: PupilId,
    pub from: Urn,
    pub to: Receiving,
    pub kind: TransitionKind,
    pub flags: Vec<Flag>,
    /// What the receiving school should know (no more than it needs).
    pub note: String,
    pub sent_on: NaiveDate,
    pub acknowledged: Option<Acknowledgement>,
}

/// The flags a pupil's records give: on a register, a mentee, an LSU placement.
pub fn flags_for(on_register: bool, mentee: bool, lsu: bool) -> Vec<Flag> {
    [
        (on_register, Flag::GtRegister),
        (mentee, Flag::Mentee),
        (lsu, Flag::LsuHistory),
    ]
    .into_iter()
    .filter_map(|(b, f)| b.then_some(f))
    .collect()
}

impl TransitionRecord {
    pub fn validate(&self) -> Result<(), CaseworkError> {
        match &self.to {
            Receiving::School(urn) if *urn == self.from => {
                return Err(field("receiving school", "must not be the school the pupil is leaving"));
            }
            Receiving::Outside { name } => {
                check_text("receiving school", name, true, 200)?;
            }
            Receiving::School(_) => {}
        }
        check_text("note", &self.note, false, 2000)?;
        Ok(())
    }
    /// Records the receiving school's acknowledgement (once).
    pub fn acknowledge(&mut self, on: NaiveDate, by: &str) -> Result<(), CaseworkError> {
        if self.acknowledged.is_some() {
            return Err(CaseworkError::Step("this record was already acknowledged".into()));
        }
        if on < self.sent_on {
            return Err(field("acknowledged on", "cannot be before the record was sent"));
        }
        let by = check_text("acknowledged by", by, true, 100)?;
        self.acknowledged = Some(Acknowledgement { on, by });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_acknowledgement() {
        assert_eq!(flags_for(true, false, true), vec![Flag::GtRegister, Flag::LsuHistory]);
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        let urn = Urn::from_u32(121_000).unwrap_or_else(|_| unreachable!());
        let mut t = TransitionRecord {
            id: TransitionId(1),
            pupil: PupilId(1),
            from: urn,
            to: Receiving::School(urn),
            kind: TransitionKind::Year6To7,
            flags: vec![Flag::Mentee],
            note: String::new(),
            sent_on: day("2025-06-30"),
            acknowledged: None,
        };
        assert!(t.validate().is_err());
        t.to = Receiving::Outside {
            name: "Suffolk High".into(),
        };
        assert!(t.validate().is_ok());
        assert!(t.acknowledge(day("2025-06-01"), "SENCo").is_err());
        assert!(t.acknowledge(day("2025-07-02"), "Head of Year 7").is_ok());
        assert!(t.acknowledge(day("2025-07-03"), "again").is_err());
    }
}

//! Virement rules as data: by default no money moves between ring-fences (a different stream or a
//! different phase); an authority's list of rules permits named exceptions to that, and an
//! approved exception (reason, approver, date, amount) lets one virement through.

use super::ledger::{EntryId, ExceptionId, Fence, LedgerError, check_text};
use crate::NaiveDate;
use crate::money::Money;
use std::fmt;

/// The rule every refusal names when no permit applies.
pub const RING_FENCE_RULE: &str =
    "ring-fence: by default no money moves between streams or between primary and secondary";

/// The stream the default rules treat as one: learning mentors and learning support units.
pub const LEARNING_MENTORS_AND_LSU: &str = "Learning mentors and LSU";

/// What a virement rule permits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permit {
    /// Between any phases of this stream (its phases are one budget).
    AcrossPhasesOf { stream: String },
    /// Between the primary and secondary pots of one stream, for an entry marked as a joint
    /// primary–secondary project.
    JointProject,
    /// From one ring-fence to another, one way.
    Between { from: Fence, to: Fence },
}

impl Permit {
    pub fn code(&self) -> &'static str {
        match self {
            Permit::AcrossPhasesOf { .. } => "across_phases",
            Permit::JointProject => "joint_project",
            Permit::Between { .. } => "between",
        }
    }
    fn permits(&self, from: &Fence, to: &Fence, joint_project: bool) -> bool {
        match self {
            Permit::AcrossPhasesOf { stream } => same_name(&from.stream, stream) && same_name(&to.stream, stream),
            Permit::JointProject => {
                joint_project
                    && same_name(&from.stream, &to.stream)
                    && matches!(
                        (from.phase.as_str(), to.phase.as_str()),
                        ("primary", "secondary") | ("secondary", "primary")
                    )
            }
            Permit::Between { from: f, to: t } => f == from && t == to,
        }
    }
}

impl fmt::Display for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Permit::AcrossPhasesOf { stream } => write!(f, "money may move between the phases of {stream}"),
            Permit::JointProject => f.write_str(
                "money may move between the primary and secondary pots of one stream for a joint primary–secondary project",
            ),
            Permit::Between { from, to } => write!(f, "money may move from {from} to {to}"),
        }
    }
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// A named rule in an authority's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirementRule {
    pub name: String,
    pub permit: Permit,
}

impl VirementRule {
    pub fn validate(&self) -> Result<(), LedgerError> {
        check_text("rule name", &self.name, 100)?;
        match &self.permit {
            Permit::AcrossPhasesOf { stream } => check_text("rule stream", stream, 80),
            Permit::JointProject => Ok(()),
            Permit::Between { from, to } => {
                if from == to {
                    return Err(LedgerError::Text {
                        field: "rule",
                        rule: "a rule between ring-fences names two different ones",
                    });
                }
                Ok(())
            }
        }
    }
}

/// The rules in force, in order; the first that permits a crossing is the one recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirementRules {
    pub rules: Vec<VirementRule>,
}

impl Default for VirementRules {
    /// The defaults from the Excellence Cluster guidance: the learning-mentor and LSU stream is
    /// one budget across phases, and joint primary–secondary projects may pool both phases.
    fn default() -> Self {
        VirementRules {
            rules: vec![
                VirementRule {
                    name: "Learning mentors and LSU are one stream".into(),
                    permit: Permit::AcrossPhasesOf {
                        stream: LEARNING_MENTORS_AND_LSU.into(),
                    },
                },
                VirementRule {
                    name: "Joint primary–secondary projects".into(),
                    permit: Permit::JointProject,
                },
            ],
        }
    }
}

impl VirementRules {
    /// The rule that lets money move from `from` to `to`, if any.
    pub fn permitting(&self, from: &Fence, to: &Fence, joint_project: bool) -> Option<&VirementRule> {
        self.rules.iter().find(|r| r.permit.permits(from, to, joint_project))
    }
    /// The rules' names, for messages: "A; B" or "none".
    pub fn names(&self) -> String {
        if self.rules.is_empty() {
            "none".into()
        } else {
            self.rules
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        }
    }
    pub fn validate(&self) -> Result<(), LedgerError> {
        if self.rules.len() > 50 {
            return Err(LedgerError::Text {
                field: "rule",
                rule: "an authority keeps at most 50 virement rules",
            });
        }
        self.rules.iter().try_for_each(VirementRule::validate)
    }
}

/// An approved exception to the ring-fence for one virement, up to an amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewException {
    pub from: Fence,
    pub to: Fence,
    pub amount: Money,
    pub reason: String,
    pub approver: String,
    pub approved_on: NaiveDate,
}

impl NewException {
    pub fn validate(&self) -> Result<(), LedgerError> {
        if self.from == self.to {
            return Err(LedgerError::Text {
                field: "to",
                rule: "an exception is for moving money between two different ring-fences",
            });
        }
        if self.amount.pence() <= 0 || self.amount.pence() > super::ledger::MAX_AMOUNT_PENCE {
            return Err(LedgerError::Text {
                field: "amount",
                rule: "an exception approves an amount more than £0.00 and at most £1,000,000,000.00",
            });
        }
        check_text("reason", &self.reason, 500)?;
        check_text("approver", &self.approver, 100)
    }
}

/// A recorded exception and the virement that used it, if one has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirementException {
    pub id: ExceptionId,
    pub exception: NewException,
    pub used_by: Option<EntryId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fence(s: &str, p: &str) -> Fence {
        Fence::new(s, p).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_default_rules_as_quoted() {
        let rules = VirementRules::default();
        let cases = [
            // (from, to, joint project, permitted by)
            (
                fence(LEARNING_MENTORS_AND_LSU, "primary"),
                fence(LEARNING_MENTORS_AND_LSU, "secondary"),
                false,
                Some("Learning mentors and LSU are one stream"),
            ),
            (
                fence("Gifted and talented", "primary"),
                fence("Gifted and talented", "secondary"),
                false,
                None,
            ),
            (
                fence("Gifted and talented", "primary"),
                fence("Gifted and talented", "secondary"),
                true,
                Some("Joint primary–secondary projects"),
            ),
            // A joint project never crosses streams.
            (
                fence("Gifted and talented", "primary"),
                fence("Tailored", "secondary"),
                true,
                None,
            ),
            (
                fence(LEARNING_MENTORS_AND_LSU, "primary"),
                fence("Gifted and talented", "primary"),
                false,
                None,
            ),
            (fence("Tailored", "primary"), fence("Tailored", "special"), true, None),
        ];
        for (from, to, joint, want) in cases {
            assert_eq!(
                rules.permitting(&from, &to, joint).map(|r| r.name.as_str()),
                want,
                "{from} → {to} joint={joint}"
            );
        }
        let own = VirementRules {
            rules: vec![VirementRule {
                name: "Tailored primary may top up special".into(),
                permit: Permit::Between {
                    from: fence("Tailored", "primary"),
                    to: fence("Tailored", "special"),
                },
            }],
        };
        assert!(
            own.permitting(&fence("Tailored", "primary"), &fence("Tailored", "special"), false)
                .is_some()
        );
        assert!(
            own.permitting(&fence("Tailored", "special"), &fence("Tailored", "primary"), false)
                .is_none(),
            "one way"
        );
        assert_eq!(own.names(), "Tailored primary may top up special");
        assert_eq!(VirementRules { rules: vec![] }.names(), "none");
    }
}

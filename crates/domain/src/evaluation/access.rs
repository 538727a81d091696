//! Who may do what in plans, metrics, FADE reports and questionnaires, as one table of rules.
//!
//! - Read a cluster's plan, FADE reports and snapshot: authority officers, advisers and
//!   evaluators (any cluster), the cluster's clerk, and the heads, governors and strand staff of
//!   its schools.
//! - Edit the plan, write the report's narratives and the cluster's own judgement: the cluster's
//!   clerk.
//! - Record the authority's judgement: authority officers and advisers.
//! - Import metrics, change the evaluation settings: authority officers.
//! - Send questionnaires: authority officers and advisers. Answer one: the head of a school it
//!   was sent to (the service checks the school).
//! - The authority summary: authority officers, advisers and evaluators.
//! - School-by-school figures: everyone who may read the cluster except evaluators, who see
//!   aggregates only (and every count of people suppressed, as everyone does).

use crate::access::{Scope, User, UserRole};
use crate::ids::ClusterId;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ReadCluster(ClusterId),
    EditPlan(ClusterId),
    WriteClusterReport(ClusterId),
    JudgeForAuthority,
    ImportMetrics,
    ChangeSettings,
    SendQuestionnaire,
    AnswerQuestionnaire,
    ReadSummary,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::ReadCluster(_) => "read this cluster's plan and reports",
            Action::EditPlan(_) => "change this cluster's plan",
            Action::WriteClusterReport(_) => "write this cluster's FADE report or its judgement",
            Action::JudgeForAuthority => "record the authority's judgement",
            Action::ImportMetrics => "import metrics",
            Action::ChangeSettings => "change the evaluation settings",
            Action::SendQuestionnaire => "send questionnaires",
            Action::AnswerQuestionnaire => "answer a questionnaire",
            Action::ReadSummary => "read the authority's FADE summary",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The role may not do this anywhere.
    RoleMayNot { role: UserRole, action: Action },
    /// The role may, but not for this cluster (shown as "not found").
    OutOfScope,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::RoleMayNot { role, action } => {
                write!(f, "a {} may not {}", role.label().to_lowercase(), action.verb())
            }
            Denied::OutOfScope => f.write_str("not found"),
        }
    }
}

impl std::error::Error for Denied {}

/// Whether `user` may do `action`. `home_cluster` is the cluster of the user's own school (for
/// school-scoped users); the service looks it up.
pub fn authorise(user: &User, home_cluster: Option<ClusterId>, action: Action) -> Result<(), Denied> {
    use UserRole as R;
    let role = user.role;
    let mine = |c: ClusterId| match user.scope {
        Scope::Authority => true,
        Scope::Cluster(own) => own == c,
        Scope::School(_) => home_cluster == Some(c),
    };
    let allowed_role = match action {
        Action::ReadCluster(_) => !matches!(role, R::DataProtectionOfficer),
        Action::EditPlan(_) | Action::WriteClusterReport(_) => role == R::ClusterClerk,
        Action::JudgeForAuthority | Action::SendQuestionnaire => matches!(role, R::AuthorityOfficer | R::Adviser),
        Action::ImportMetrics | Action::ChangeSettings => role == R::AuthorityOfficer,
        Action::AnswerQuestionnaire => role == R::Headteacher,
        Action::ReadSummary => matches!(role, R::AuthorityOfficer | R::Adviser | R::Evaluator),
    };
    if !allowed_role {
        return Err(Denied::RoleMayNot { role, action });
    }
    match action {
        Action::ReadCluster(c) | Action::EditPlan(c) | Action::WriteClusterReport(c) if !mine(c) => {
            Err(Denied::OutOfScope)
        }
        _ => Ok(()),
    }
}

/// Whether the role sees school-by-school figures (evaluators see aggregates only).
pub fn sees_school_level(role: UserRole) -> bool {
    !matches!(role, UserRole::Evaluator | UserRole::DataProtectionOfficer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AuthorityId, Urn, UserId};

    fn user(role: UserRole, scope: Scope) -> User {
        User {
            id: UserId(1),
            authority: AuthorityId(1),
            email: "x@y.z".into(),
            display_name: "X".into(),
            role,
            scope,
        }
    }

    #[test]
    fn the_rules_as_data() {
        let (one, two) = (ClusterId(1), ClusterId(2));
        let school = Scope::School(Urn::from_u32(120001).unwrap());
        let officer = user(UserRole::AuthorityOfficer, Scope::Authority);
        let adviser = user(UserRole::Adviser, Scope::Authority);
        let evaluator = user(UserRole::Evaluator, Scope::Authority);
        let clerk = user(UserRole::ClusterClerk, Scope::Cluster(one));
        let head = user(UserRole::Headteacher, school);
        let governor = user(UserRole::Governor, school);
        let dpo = user(UserRole::DataProtectionOfficer, Scope::Authority);
        // (who, home cluster, action, allowed)
        type Case<'a> = (&'a User, Option<ClusterId>, Action, Result<(), ()>);
        let cases: &[Case] = &[
            (&officer, None, Action::ReadCluster(two), Ok(())),
            (&officer, None, Action::EditPlan(one), Err(())),
            (&officer, None, Action::JudgeForAuthority, Ok(())),
            (&officer, None, Action::ImportMetrics, Ok(())),
            (&adviser, None, Action::JudgeForAuthority, Ok(())),
            (&adviser, None, Action::ImportMetrics, Err(())),
            (&clerk, None, Action::EditPlan(one), Ok(())),
            (&clerk, None, Action::EditPlan(two), Err(())),
            (&clerk, None, Action::WriteClusterReport(one), Ok(())),
            (&clerk, None, Action::JudgeForAuthority, Err(())),
            (&clerk, None, Action::ReadSummary, Err(())),
            (&head, Some(one), Action::ReadCluster(one), Ok(())),
            (&head, Some(one), Action::ReadCluster(two), Err(())),
            (&head, Some(one), Action::AnswerQuestionnaire, Ok(())),
            (&head, Some(one), Action::EditPlan(one), Err(())),
            (&governor, Some(one), Action::AnswerQuestionnaire, Err(())),
            (&evaluator, None, Action::ReadSummary, Ok(())),
            (&evaluator, None, Action::ReadCluster(two), Ok(())),
            (&evaluator, None, Action::JudgeForAuthority, Err(())),
            (&dpo, None, Action::ReadCluster(one), Err(())),
        ];
        for (who, home, action, want) in cases {
            assert_eq!(
                authorise(who, *home, *action).map_err(|_| ()),
                *want,
                "{:?} {action:?}",
                who.role
            );
        }
        assert_eq!(authorise(&clerk, None, Action::EditPlan(two)), Err(Denied::OutOfScope));
        assert_eq!(
            authorise(&officer, None, Action::EditPlan(one))
                .unwrap_err()
                .to_string(),
            "a authority officer may not change this cluster's plan"
        );
        assert!(!sees_school_level(UserRole::Evaluator));
        assert!(sees_school_level(UserRole::Governor));
    }
}

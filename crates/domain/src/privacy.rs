//! Privacy rules for pupil data: the permissions matrix (role × resource × action × scope) and the
//! one `authorise` every service method calls first; small-number suppression; the audit log's
//! hash chain; the field inventory; retention rules.
//!
//! The matrix is data ([`MATRIX`]): what is not granted there is refused. Pupil-level resources are
//! granted only at the pupil's own school (strand staff only for their strand); everyone else sees
//! aggregates, suppressed for small numbers.

pub mod audit;
pub mod fields;
pub mod retention;
pub mod suppress;

use crate::access::{Scope, User, UserRole};
use crate::ids::{ClusterId, Urn};
use std::fmt;

/// A casework strand: the three pupil-level programmes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strand {
    GiftedTalented,
    LearningMentor,
    LearningSupportUnit,
}

impl Strand {
    pub const ALL: [Strand; 3] = [
        Strand::GiftedTalented,
        Strand::LearningMentor,
        Strand::LearningSupportUnit,
    ];
    pub fn code(self) -> &'static str {
        match self {
            Strand::GiftedTalented => "gt",
            Strand::LearningMentor => "mentor",
            Strand::LearningSupportUnit => "lsu",
        }
    }
    pub fn from_code(code: &str) -> Option<Self> {
        Strand::ALL.into_iter().find(|s| s.code() == code)
    }
    pub fn label(self) -> &'static str {
        match self {
            Strand::GiftedTalented => "Gifted and talented",
            Strand::LearningMentor => "Learning mentors",
            Strand::LearningSupportUnit => "Learning support unit",
        }
    }
}

/// What is being reached for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// Name, date of birth, UPN and characteristics of a pupil.
    PupilIdentity,
    GtRegister,
    MentorCase,
    LsuPlacement,
    Transition,
    /// Everything held about one pupil, as one file (subject access).
    SubjectAccessExport,
    /// The narrower educational record (what a parent may ask the school for).
    EducationalRecordExport,
    /// Counts by school and cluster, suppressed for small numbers.
    CaseworkAggregates,
    /// Who did what to which pupil's data.
    AuditLog,
    /// Deleting records past their retention date.
    Retention,
    /// The list of every stored field (no pupil data: documentation).
    FieldInventory,
}

impl Resource {
    pub const ALL: [Resource; 11] = [
        Resource::PupilIdentity,
        Resource::GtRegister,
        Resource::MentorCase,
        Resource::LsuPlacement,
        Resource::Transition,
        Resource::SubjectAccessExport,
        Resource::EducationalRecordExport,
        Resource::CaseworkAggregates,
        Resource::AuditLog,
        Resource::Retention,
        Resource::FieldInventory,
    ];
    pub fn code(self) -> &'static str {
        match self {
            Resource::PupilIdentity => "pupil",
            Resource::GtRegister => "gt_register",
            Resource::MentorCase => "mentor_case",
            Resource::LsuPlacement => "lsu_placement",
            Resource::Transition => "transition",
            Resource::SubjectAccessExport => "subject_access",
            Resource::EducationalRecordExport => "educational_record",
            Resource::CaseworkAggregates => "aggregates",
            Resource::AuditLog => "audit_log",
            Resource::Retention => "retention",
            Resource::FieldInventory => "field_inventory",
        }
    }
    pub fn from_code(code: &str) -> Option<Self> {
        Resource::ALL.into_iter().find(|r| r.code() == code)
    }
    pub fn label(self) -> &'static str {
        match self {
            Resource::PupilIdentity => "pupil identity and characteristics",
            Resource::GtRegister => "gifted and talented registers",
            Resource::MentorCase => "learning-mentor cases",
            Resource::LsuPlacement => "learning support unit placements",
            Resource::Transition => "transition records",
            Resource::SubjectAccessExport => "subject access files",
            Resource::EducationalRecordExport => "educational-record files",
            Resource::CaseworkAggregates => "casework aggregates",
            Resource::AuditLog => "the pupil-data audit log",
            Resource::Retention => "the retention run",
            Resource::FieldInventory => "the field inventory",
        }
    }
    /// The strand a strand-staff member must hold to reach this resource, if it belongs to one.
    pub fn strand(self) -> Option<Strand> {
        match self {
            Resource::GtRegister => Some(Strand::GiftedTalented),
            Resource::MentorCase => Some(Strand::LearningMentor),
            Resource::LsuPlacement => Some(Strand::LearningSupportUnit),
            _ => None,
        }
    }
    /// Whether the resource holds pupil-level data (every access to it is audited).
    pub fn is_pupil_level(self) -> bool {
        !matches!(
            self,
            Resource::CaseworkAggregates | Resource::FieldInventory | Resource::AuditLog | Resource::Retention
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Read,
    Write,
    Export,
    Delete,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Read, Action::Write, Action::Export, Action::Delete];
    pub fn code(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Export => "export",
            Action::Delete => "delete",
        }
    }
    pub fn from_code(code: &str) -> Option<Self> {
        Action::ALL.into_iter().find(|a| a.code() == code)
    }
    fn verb(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "change",
            Action::Export => "export",
            Action::Delete => "delete",
        }
    }
}

/// How far a grant reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeRule {
    /// Only records of the user's own school.
    OwnSchool,
    /// Only records of the user's own school, and only of a strand the user works in.
    OwnSchoolStrand,
    /// Anything within the user's own cluster (aggregates).
    OwnCluster,
    /// Anything within the authority.
    Authority,
}

impl ScopeRule {
    pub fn label(self) -> &'static str {
        match self {
            ScopeRule::OwnSchool => "own school",
            ScopeRule::OwnSchoolStrand => "own school, own strand",
            ScopeRule::OwnCluster => "own cluster",
            ScopeRule::Authority => "authority",
        }
    }
}

/// One row of the permissions matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub role: UserRole,
    pub resource: Resource,
    pub action: Action,
    pub scope: ScopeRule,
}

const fn g(role: UserRole, resource: Resource, action: Action, scope: ScopeRule) -> Grant {
    Grant {
        role,
        resource,
        action,
        scope,
    }
}

use Action::{Delete, Export, Read, Write};
use Resource as R;
use ScopeRule::{Authority, OwnSchool, OwnSchoolStrand};
use UserRole as U;

/// The permissions matrix. Anything not granted here is refused.
pub const MATRIX: &[Grant] = &[
    // Headteachers: all of their own school's casework.
    g(U::Headteacher, R::PupilIdentity, Read, OwnSchool),
    g(U::Headteacher, R::PupilIdentity, Write, OwnSchool),
    g(U::Headteacher, R::GtRegister, Read, OwnSchool),
    g(U::Headteacher, R::GtRegister, Write, OwnSchool),
    g(U::Headteacher, R::MentorCase, Read, OwnSchool),
    g(U::Headteacher, R::MentorCase, Write, OwnSchool),
    g(U::Headteacher, R::LsuPlacement, Read, OwnSchool),
    g(U::Headteacher, R::LsuPlacement, Write, OwnSchool),
    g(U::Headteacher, R::Transition, Read, OwnSchool),
    g(U::Headteacher, R::Transition, Write, OwnSchool),
    g(U::Headteacher, R::Transition, Export, OwnSchool),
    g(U::Headteacher, R::SubjectAccessExport, Export, OwnSchool),
    g(U::Headteacher, R::EducationalRecordExport, Export, OwnSchool),
    // Strand staff (mentors, G&T co-ordinators, LSU staff): their school, their strand.
    g(U::StrandStaff, R::PupilIdentity, Read, OwnSchool),
    g(U::StrandStaff, R::PupilIdentity, Write, OwnSchool),
    g(U::StrandStaff, R::GtRegister, Read, OwnSchoolStrand),
    g(U::StrandStaff, R::GtRegister, Write, OwnSchoolStrand),
    g(U::StrandStaff, R::MentorCase, Read, OwnSchoolStrand),
    g(U::StrandStaff, R::MentorCase, Write, OwnSchoolStrand),
    g(U::StrandStaff, R::LsuPlacement, Read, OwnSchoolStrand),
    g(U::StrandStaff, R::LsuPlacement, Write, OwnSchoolStrand),
    g(U::StrandStaff, R::Transition, Read, OwnSchool),
    g(U::StrandStaff, R::EducationalRecordExport, Export, OwnSchool),
    // The data protection officer: subject access requests, the audit log, retention.
    g(U::DataProtectionOfficer, R::SubjectAccessExport, Export, Authority),
    g(U::DataProtectionOfficer, R::AuditLog, Read, Authority),
    g(U::DataProtectionOfficer, R::Retention, Delete, Authority),
    g(U::AuthorityOfficer, R::Retention, Delete, Authority),
    // Everyone else sees aggregates only, suppressed for small numbers.
    g(U::AuthorityOfficer, R::CaseworkAggregates, Read, Authority),
    g(U::Adviser, R::CaseworkAggregates, Read, Authority),
    g(U::Evaluator, R::CaseworkAggregates, Read, Authority),
    g(U::ClusterClerk, R::CaseworkAggregates, Read, Authority),
    g(U::Headteacher, R::CaseworkAggregates, Read, Authority),
    g(U::Governor, R::CaseworkAggregates, Read, Authority),
    g(U::StrandStaff, R::CaseworkAggregates, Read, Authority),
    g(U::DataProtectionOfficer, R::CaseworkAggregates, Read, Authority),
    // The field inventory is documentation: everyone may read it.
    g(U::AuthorityOfficer, R::FieldInventory, Read, Authority),
    g(U::Adviser, R::FieldInventory, Read, Authority),
    g(U::Evaluator, R::FieldInventory, Read, Authority),
    g(U::ClusterClerk, R::FieldInventory, Read, Authority),
    g(U::Headteacher, R::FieldInventory, Read, Authority),
    g(U::Governor, R::FieldInventory, Read, Authority),
    g(U::StrandStaff, R::FieldInventory, Read, Authority),
    g(U::DataProtectionOfficer, R::FieldInventory, Read, Authority),
];

/// The person acting, as the matrix sees them: their role, scope and the strands they work in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub role: UserRole,
    pub scope: Scope,
    pub strands: Vec<Strand>,
}

impl Actor {
    pub fn new(user: &User, strands: Vec<Strand>) -> Self {
        Actor {
            role: user.role,
            scope: user.scope,
            strands,
        }
    }
}

/// What the action is aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Records of pupils at one school (the pupil's own school), with that school's current cluster.
    School { urn: Urn, cluster: Option<ClusterId> },
    /// Authority-wide (aggregates, the audit log, the retention run).
    Authority,
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The role has no grant for this resource and action anywhere.
    RoleMayNot {
        role: UserRole,
        resource: Resource,
        action: Action,
    },
    /// The role may, but not for this target (another school, another strand).
    OutOfScope {
        role: UserRole,
        resource: Resource,
        action: Action,
    },
}

impl Denied {
    /// Whether the refusal is about where (so the record's existence is not revealed: a 404).
    pub fn is_out_of_scope(&self) -> bool {
        matches!(self, Denied::OutOfScope { .. })
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::RoleMayNot { role, resource, action } => write!(
                f,
                "a {} may not {} {}",
                role.label().to_lowercase(),
                action.verb(),
                resource.label()
            ),
            Denied::OutOfScope { role, resource, action } => write!(
                f,
                "a {} may {} {} only for their own school and strand",
                role.label().to_lowercase(),
                action.verb(),
                resource.label()
            ),
        }
    }
}

impl std::error::Error for Denied {}

fn scope_allows(actor: &Actor, rule: ScopeRule, resource: Resource, target: Target) -> bool {
    match rule {
        ScopeRule::Authority => true,
        ScopeRule::OwnCluster => match (actor.scope, target) {
            (Scope::Cluster(mine), Target::School { cluster: Some(c), .. }) => mine == c,
            _ => false,
        },
        ScopeRule::OwnSchool => {
            matches!((actor.scope, target), (Scope::School(mine), Target::School { urn, .. }) if mine == urn)
        }
        ScopeRule::OwnSchoolStrand => {
            scope_allows(actor, ScopeRule::OwnSchool, resource, target)
                && resource.strand().is_none_or(|s| actor.strands.contains(&s))
        }
    }
}

/// The grants a role holds for a resource and action (empty when it holds none).
pub fn grants(role: UserRole, resource: Resource, action: Action) -> impl Iterator<Item = &'static Grant> {
    MATRIX
        .iter()
        .filter(move |g| g.role == role && g.resource == resource && g.action == action)
}

/// Whether `actor` may do `action` to `resource` for `target`. The one check every service method
/// that touches pupil data makes first.
pub fn authorise(actor: &Actor, resource: Resource, action: Action, target: Target) -> Result<(), Denied> {
    let mut any = false;
    for grant in grants(actor.role, resource, action) {
        any = true;
        if scope_allows(actor, grant.scope, resource, target) {
            return Ok(());
        }
    }
    let (role, resource_, action_) = (actor.role, resource, action);
    Err(if any {
        Denied::OutOfScope {
            role,
            resource: resource_,
            action: action_,
        }
    } else {
        Denied::RoleMayNot {
            role,
            resource: resource_,
            action: action_,
        }
    })
}

/// Whether the role may see any pupil-level record at all (and so gets the school view).
pub fn sees_pupil_level(role: UserRole) -> bool {
    MATRIX.iter().any(|g| {
        g.role == role
            && g.action == Action::Read
            && matches!(g.resource, R::MentorCase | R::GtRegister | R::LsuPlacement)
    })
}

/// The roles that may read a resource, with how far, for the field inventory.
pub fn readers(resource: Resource) -> Vec<(UserRole, ScopeRule)> {
    let action = match resource {
        R::SubjectAccessExport | R::EducationalRecordExport => Action::Export,
        R::Retention => Action::Delete,
        _ => Action::Read,
    };
    UserRole::ALL
        .into_iter()
        .flat_map(|role| grants(role, resource, action).map(move |g| (role, g.scope)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urn(n: u32) -> Urn {
        Urn::from_u32(n).unwrap_or_else(|_| unreachable!())
    }
    fn at(n: u32) -> Target {
        Target::School {
            urn: urn(n),
            cluster: Some(ClusterId(1)),
        }
    }
    fn actor(role: UserRole, scope: Scope, strands: &[Strand]) -> Actor {
        Actor {
            role,
            scope,
            strands: strands.to_vec(),
        }
    }

    #[test]
    fn the_matrix_as_data() {
        let mentor = actor(
            UserRole::StrandStaff,
            Scope::School(urn(100001)),
            &[Strand::LearningMentor],
        );
        let head = actor(UserRole::Headteacher, Scope::School(urn(100001)), &[]);
        let clerk = actor(UserRole::ClusterClerk, Scope::Cluster(ClusterId(1)), &[]);
        let officer = actor(UserRole::AuthorityOfficer, Scope::Authority, &[]);
        let dpo = actor(UserRole::DataProtectionOfficer, Scope::Authority, &[]);
        let governor = actor(UserRole::Governor, Scope::School(urn(100001)), &[]);
        // (who, resource, action, target, allowed)
        let cases: &[(&Actor, Resource, Action, Target, bool)] = &[
            (&mentor, R::MentorCase, Read, at(100001), true),
            (&mentor, R::MentorCase, Write, at(100001), true),
            (&mentor, R::MentorCase, Read, at(100002), false),
            (&mentor, R::GtRegister, Read, at(100001), false),
            (&mentor, R::LsuPlacement, Read, at(100001), false),
            (&mentor, R::PupilIdentity, Read, at(100001), true),
            (&mentor, R::SubjectAccessExport, Export, at(100001), false),
            (&head, R::GtRegister, Read, at(100001), true),
            (&head, R::LsuPlacement, Write, at(100001), true),
            (&head, R::MentorCase, Read, at(100002), false),
            (&head, R::SubjectAccessExport, Export, at(100001), true),
            (&head, R::AuditLog, Read, Target::Authority, false),
            (&clerk, R::MentorCase, Read, at(100001), false),
            (&clerk, R::CaseworkAggregates, Read, Target::Authority, true),
            (&officer, R::PupilIdentity, Read, at(100001), false),
            (&officer, R::Retention, Delete, Target::Authority, true),
            (&dpo, R::AuditLog, Read, Target::Authority, true),
            (&dpo, R::SubjectAccessExport, Export, at(100002), true),
            (&dpo, R::MentorCase, Read, at(100002), false),
            (&governor, R::PupilIdentity, Read, at(100001), false),
            (&governor, R::CaseworkAggregates, Read, Target::Authority, true),
        ];
        for (who, resource, action, target, allowed) in cases {
            assert_eq!(
                authorise(who, *resource, *action, *target).is_ok(),
                *allowed,
                "{:?} {resource:?} {action:?} {target:?}",
                who.role
            );
        }
    }

    #[test]
    fn refusals_say_whether_it_is_the_role_or_the_scope() {
        let mentor = actor(
            UserRole::StrandStaff,
            Scope::School(urn(100001)),
            &[Strand::LearningMentor],
        );
        let e = authorise(&mentor, R::MentorCase, Read, at(100002)).unwrap_err();
        assert!(e.is_out_of_scope());
        let e = authorise(&mentor, R::AuditLog, Read, Target::Authority).unwrap_err();
        assert!(!e.is_out_of_scope());
        assert_eq!(e.to_string(), "a strand staff may not read the pupil-data audit log");
    }

    #[test]
    fn only_school_roles_see_pupil_level_data() {
        for role in UserRole::ALL {
            let school_level = matches!(role, UserRole::Headteacher | UserRole::StrandStaff);
            assert_eq!(sees_pupil_level(role), school_level, "{role:?}");
            // No grant of pupil-level data reaches beyond the school, except the DPO's exports.
            for grant in MATRIX.iter().filter(|g| g.role == role && g.resource.is_pupil_level()) {
                if grant.resource != R::SubjectAccessExport {
                    assert!(
                        matches!(grant.scope, ScopeRule::OwnSchool | ScopeRule::OwnSchoolStrand),
                        "{grant:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_code_round_trips() {
        for r in Resource::ALL {
            assert_eq!(Resource::from_code(r.code()), Some(r));
        }
        for a in Action::ALL {
            assert_eq!(Action::from_code(a.code()), Some(a));
        }
        for s in Strand::ALL {
            assert_eq!(Strand::from_code(s.code()), Some(s));
        }
    }
}

//! Users' roles and the scope they act in. Every user belongs to exactly one authority.

use crate::ids::{AuthorityId, ClusterId, Urn, UserId};

/// What a person does in the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserRole {
    AuthorityOfficer,
    Adviser,
    ClusterClerk,
    Headteacher,
    Governor,
    StrandStaff,
    Evaluator,
    /// The data protection officer: subject access, the pupil-data audit log, retention.
    DataProtectionOfficer,
}

impl UserRole {
    pub const ALL: [UserRole; 8] = [
        UserRole::AuthorityOfficer,
        UserRole::Adviser,
        UserRole::ClusterClerk,
        UserRole::Headteacher,
        UserRole::Governor,
        UserRole::StrandStaff,
        UserRole::Evaluator,
        UserRole::DataProtectionOfficer,
    ];
    pub fn code(self) -> &'static str {
        match self {
            UserRole::AuthorityOfficer => "authority_officer",
            UserRole::Adviser => "adviser",
            UserRole::ClusterClerk => "cluster_clerk",
            UserRole::Headteacher => "headteacher",
            UserRole::Governor => "governor",
            UserRole::StrandStaff => "strand_staff",
            UserRole::Evaluator => "evaluator",
            UserRole::DataProtectionOfficer => "data_protection_officer",
        }
    }
    pub fn from_code(code: &str) -> Option<Self> {
        UserRole::ALL.into_iter().find(|r| r.code() == code)
    }
    pub fn label(self) -> &'static str {
        match self {
            UserRole::AuthorityOfficer => "Authority officer",
            UserRole::Adviser => "Adviser / link officer",
            UserRole::ClusterClerk => "Cluster chair or clerk",
            UserRole::Headteacher => "Headteacher",
            UserRole::Governor => "Governor",
            UserRole::StrandStaff => "Strand staff",
            UserRole::Evaluator => "Evaluator",
            UserRole::DataProtectionOfficer => "Data protection officer",
        }
    }
    /// The scope a role acts in.
    pub fn natural_scope_kind(self) -> ScopeKind {
        match self {
            UserRole::AuthorityOfficer | UserRole::Adviser | UserRole::Evaluator | UserRole::DataProtectionOfficer => {
                ScopeKind::Authority
            }
            UserRole::ClusterClerk => ScopeKind::Cluster,
            UserRole::Headteacher | UserRole::Governor | UserRole::StrandStaff => ScopeKind::School,
        }
    }
    /// Only authority officers may change the register (import, edit memberships).
    pub fn may_import(self) -> bool {
        matches!(self, UserRole::AuthorityOfficer)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    Authority,
    Cluster,
    School,
}

/// Where within its authority a user acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Authority,
    Cluster(ClusterId),
    School(Urn),
}

impl Scope {
    pub fn kind(self) -> ScopeKind {
        match self {
            Scope::Authority => ScopeKind::Authority,
            Scope::Cluster(_) => ScopeKind::Cluster,
            Scope::School(_) => ScopeKind::School,
        }
    }
}

/// A signed-in person as the rest of the system sees them (never with a password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub authority: AuthorityId,
    pub email: String,
    pub display_name: String,
    pub role: UserRole,
    pub scope: Scope,
}

/// Why a user may not do something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("a {role} may not {action}", role = .role.label())]
    RoleMayNot { role: UserRole, action: &'static str },
    #[error("a {role} must be scoped to {want:?}, not {got:?}", role = .role.label())]
    WrongScope {
        role: UserRole,
        want: ScopeKind,
        got: ScopeKind,
    },
}

/// Checks a new user's role and scope agree.
pub fn check_role_scope(role: UserRole, scope: Scope) -> Result<(), AccessError> {
    let want = role.natural_scope_kind();
    if want != scope.kind() {
        return Err(AccessError::WrongScope {
            role,
            want,
            got: scope.kind(),
        });
    }
    Ok(())
}

pub fn require_import(user: &User) -> Result<(), AccessError> {
    if user.role.may_import() {
        Ok(())
    } else {
        Err(AccessError::RoleMayNot {
            role: user.role,
            action: "import into the register",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_match_roles() {
        assert!(check_role_scope(UserRole::AuthorityOfficer, Scope::Authority).is_ok());
        assert!(check_role_scope(UserRole::ClusterClerk, Scope::Cluster(ClusterId(1))).is_ok());
        assert!(check_role_scope(UserRole::Governor, Scope::Authority).is_err());
        for r in UserRole::ALL {
            assert_eq!(UserRole::from_code(r.code()), Some(r));
        }
    }
}

//! Cluster governance: constitutions as versioned data, seats and membership rules, quorum,
//! votes and elections. Pure rules; meetings and minutes are stored by the service.

pub mod constitution;
pub mod election;
pub mod health;
pub mod meeting;
pub mod membership;
pub mod vote;

pub use constitution::{ChairRule, Constitution, ConstitutionVersion, GoverningModel, QuorumRule, in_force_on};
pub use election::{
    Decided, ElectionRound, ElectionStatus, RoundRecord, RoundResult, TieRule, count_round, run_election,
};
pub use membership::{MembershipIssue, Person, Seat, SeatKind, SeatStatus, check_membership};
pub use vote::{Choice, Outcome, QuorumStatus, VoteError, outcome, quorum};

use crate::ids::ClusterId;

/// A cluster's committee as stored: its constitution's versions and the state health reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committee {
    pub cluster: ClusterId,
    pub versions: Vec<ConstitutionVersion>,
    /// Seat holders' names by person id used in `state` (ids are local to the committee).
    pub holders: Vec<String>,
    pub state: health::CommitteeState,
}

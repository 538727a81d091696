//! Clusters, their dated memberships and roles, and networks (functional groupings).

use crate::ids::{AuthorityId, ClusterId, NetworkId, Urn};
use chrono::NaiveDate;

/// The part a school plays in its cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MembershipRole {
    /// Nominated for under-performance (Excellence Clusters).
    Core,
    /// A more-successful (beacon) school.
    MoreSuccessful,
    Feeder,
    Special,
    Pru,
    Academy,
    ChildrensCentre,
    /// An unfunded "other" member.
    UnfundedMember,
    /// The host school that holds the cluster's funds.
    Host,
}

impl MembershipRole {
    pub const ALL: [MembershipRole; 9] = [
        MembershipRole::Core,
        MembershipRole::MoreSuccessful,
        MembershipRole::Feeder,
        MembershipRole::Special,
        MembershipRole::Pru,
        MembershipRole::Academy,
        MembershipRole::ChildrensCentre,
        MembershipRole::UnfundedMember,
        MembershipRole::Host,
    ];

    pub fn code(self) -> &'static str {
        match self {
            MembershipRole::Core => "core",
            MembershipRole::MoreSuccessful => "more_successful",
            MembershipRole::Feeder => "feeder",
            MembershipRole::Special => "special",
            MembershipRole::Pru => "pru",
            MembershipRole::Academy => "academy",
            MembershipRole::ChildrensCentre => "childrens_centre",
            MembershipRole::UnfundedMember => "unfunded_member",
            MembershipRole::Host => "host",
        }
    }

    /// Accepts the code or the label, any case, spaces or hyphens for underscores.
    pub fn parse(s: &str) -> Option<MembershipRole> {
        let norm: String = s
            .trim()
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c == ' ' || c == '-' { '_' } else { c })
            .filter(|&c| c != '\'' && c != '’')
            .collect();
        let norm = match norm.as_str() {
            "beacon" => "more_successful",
            "unfunded" | "other" => "unfunded_member",
            "fund_holder" | "fundholder" => "host",
            "childrens_centre" | "children_centre" => "childrens_centre",
            other => other,
        };
        MembershipRole::ALL.into_iter().find(|r| r.code() == norm)
    }

    pub fn label(self) -> &'static str {
        match self {
            MembershipRole::Core => "Core",
            MembershipRole::MoreSuccessful => "More successful",
            MembershipRole::Feeder => "Feeder",
            MembershipRole::Special => "Special",
            MembershipRole::Pru => "PRU",
            MembershipRole::Academy => "Academy",
            MembershipRole::ChildrensCentre => "Children's centre",
            MembershipRole::UnfundedMember => "Unfunded member",
            MembershipRole::Host => "Host (fund-holder)",
        }
    }

    /// Whether the member counts for funding.
    pub fn is_funded(self) -> bool {
        !matches!(self, MembershipRole::UnfundedMember)
    }
}

/// A cluster of schools in an authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub id: ClusterId,
    pub authority: AuthorityId,
    pub name: String,
    /// Set when the cluster map is illustrative (the demo's nearest-secondary map).
    pub illustrative: bool,
}

/// A school's membership of a cluster over a period. `to` is exclusive; `None` means current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub urn: Urn,
    pub cluster: ClusterId,
    pub role: MembershipRole,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

impl Membership {
    pub fn is_current_on(&self, day: NaiveDate) -> bool {
        self.from <= day && self.to.is_none_or(|t| day < t)
    }
}

/// A functional grouping that is not the administrative cluster; a school may be in many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub id: NetworkId,
    pub authority: AuthorityId,
    pub name: String,
    pub purpose: String,
    pub members: Vec<Urn>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_from_codes_and_words() {
        for r in MembershipRole::ALL {
            assert_eq!(MembershipRole::parse(r.code()), Some(r));
        }
        assert_eq!(
            MembershipRole::parse("More successful"),
            Some(MembershipRole::MoreSuccessful)
        );
        assert_eq!(
            MembershipRole::parse("Children's centre"),
            Some(MembershipRole::ChildrensCentre)
        );
        assert_eq!(MembershipRole::parse("HOST"), Some(MembershipRole::Host));
        assert_eq!(MembershipRole::parse("captain"), None);
    }

    #[test]
    fn membership_dates_are_half_open() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let m = Membership {
            urn: Urn::parse("120765").unwrap(),
            cluster: ClusterId(1),
            role: MembershipRole::Feeder,
            from: d("2023-09-01"),
            to: Some(d("2024-09-01")),
        };
        assert!(!m.is_current_on(d("2023-08-31")));
        assert!(m.is_current_on(d("2023-09-01")));
        assert!(m.is_current_on(d("2024-08-31")));
        assert!(!m.is_current_on(d("2024-09-01")));
    }
}

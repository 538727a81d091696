//! Funding: splitting money to the penny. One apportionment function; streams ring-fenced by
//! phase into pots; pots made of components (top-slice, flat, rates, earmarks, LSU units, staff
//! posts and pools, shares split equally, by pupils, FSM, need, minimum-then-need or inspection
//! grade); every line explained and every result reconciling exactly to its budget.
#![deny(clippy::float_arithmetic)]

pub mod apportion;
pub mod engine;
pub mod fairness;
pub mod ledger;
pub mod need;
pub mod policy;
pub mod school;
pub mod stream;
pub mod virement;

pub use apportion::{ApportionError, Granularity, Weight, apportion};
pub use engine::{Allocation, AllocationError, Line, Pot, RingFence, allocate_pot};
pub use need::{Factor, NeedIndex, Normalisation};
pub use policy::{Component, Policy, SchoolFacts, ShareModel, allocate};
pub use school::{Eligibility, PupilBasis, Pupils, SchoolData};
pub use stream::{
    BudgetRule, ClusterInput, FundingPolicy, NationalSplit, Period, PotAllocation, Stream, StreamPot, allocate_policy,
};

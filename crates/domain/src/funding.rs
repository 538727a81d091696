//! Funding: splitting money to the penny. One apportionment function; policies made of
//! components (top-slice, flat, equal, per pupil, FSM-weighted, by inspection grade, staff posts);
//! every line explained and every result reconciling exactly to its budget.
#![deny(clippy::float_arithmetic)]

pub mod apportion;
pub mod policy;

pub use apportion::{ApportionError, Granularity, apportion};
pub use policy::{Allocation, AllocationError, Component, Line, Policy, SchoolFacts, ShareModel, allocate};

//! Clusterwise's domain: the rules of the register, pure and synchronous.
//!
//! Invariants: this crate performs no I/O, reads no clock and draws no randomness. Today's date,
//! ids and seeds come in as arguments. Types here do not derive `Serialize`: the web and CLI
//! layers own their wire formats.

pub mod access;
pub mod casework;
pub mod cluster;
pub mod demo_map;
pub mod design;
pub mod evaluation;
pub mod funding;
pub mod geo;
pub mod governance;
pub mod ids;
pub mod import;
pub mod money;
pub mod overview;
pub mod privacy;
pub mod school;

pub use chrono::{Datelike, Days, NaiveDate, Weekday};

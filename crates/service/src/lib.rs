//! Clusterwise's use cases: one function per user action. Loads through the [`Store`], calls the
//! domain, saves. Web and CLI are thin shells over this crate and never touch SQL.

pub mod auth;
pub mod casework;
pub mod clock;
pub mod demo;
pub mod design;
pub mod error;
pub mod evaluation;
pub mod funding;
pub mod governance;
pub mod governance_file;
pub mod groupings;
pub mod import;
pub mod ledger;
pub mod meetings;
pub mod policies;
pub mod policy_file;
pub mod register;
mod snapshot;
pub mod store;
pub mod tokens;

pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{ServiceError, ServiceResult};
pub use store::{Store, StoreError};

use std::sync::Arc;

/// The library API: everything a person can do, over one store and one clock.
#[derive(Clone, Debug)]
pub struct Service {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// The register as most pages read it, kept while the store's revision stands still.
    snapshots: Arc<snapshot::SnapshotCache>,
    /// One posting at a time per cluster ledger in this process (see `ledger::PostingQueues`).
    posting_queues: Arc<ledger::PostingQueues>,
}

impl Service {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Service {
            store,
            clock,
            snapshots: Arc::default(),
            posting_queues: Arc::default(),
        }
    }
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
}

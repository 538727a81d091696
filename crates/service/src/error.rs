//! The caller's fault versus ours.

use crate::store::StoreError;
use domain::access::AccessError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request broke a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    #[error("{0} was not found")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// Our fault: the cause is logged, the person sees "internal error".
    #[error("internal error: {0}")]
    Unexpected(String),
    /// The database disk is full: nothing was saved; it works again once space is freed, with
    /// no restart. Holds the database's own message, for the log; people see [`DISK_FULL`].
    #[error("{DISK_FULL}")]
    DiskFull(String),
}

/// What a person is told when a write meets a full database disk.
pub const DISK_FULL: &str = "The database disk is full, so nothing was saved. Ask your system administrator to free \
     some space on the server's disk, then try again: the service carries on by itself once there is room, \
     with no restart.";

pub type ServiceResult<T> = Result<T, ServiceError>;

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ServiceError::NotFound(what),
            StoreError::Conflict(what) => ServiceError::Conflict(what),
            StoreError::Other(what) => ServiceError::Unexpected(what),
            StoreError::DiskFull(what) => ServiceError::DiskFull(what),
        }
    }
}

impl From<AccessError> for ServiceError {
    fn from(e: AccessError) -> Self {
        ServiceError::Forbidden(e.to_string())
    }
}

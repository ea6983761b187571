use thiserror::Error;

/// The store failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database failed (I/O, corruption, constraint).
    #[error("store backend failed: {0}")]
    Backend(String),
    /// The backend is unreachable or overloaded: try again later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The write conflicts with one already made (an event number taken by another writer).
    #[error("store conflict: {0}")]
    Conflict(String),
    /// A cursor that this store did not hand out.
    #[error("invalid cursor")]
    InvalidCursor,
    /// The store's configuration cannot work (bad URL, bad index prefix): fix it, retrying
    /// will not help.
    #[error("invalid store configuration: {0}")]
    InvalidConfig(String),
    /// The backend refused some documents for good (e.g. a mapping conflict); the others were
    /// stored. Retrying the same documents fails the same way.
    #[error("store rejected {failed} of {total} transactions (first: {first_id}: {reason})")]
    Rejected {
        /// Documents refused.
        failed: usize,
        /// Documents in the upsert.
        total: usize,
        /// Id of the first refused document.
        first_id: String,
        /// The backend's reason for it.
        reason: String,
    },
}

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
    /// A cursor that this store did not hand out.
    #[error("invalid cursor")]
    InvalidCursor,
}

use thiserror::Error;

/// The queue's backend failed.
#[derive(Debug, Error)]
pub enum QueueError {
    /// The backend (Redis) failed or is unreachable.
    #[error("retry queue backend unavailable: {0}")]
    Backend(String),
    /// An entry could not be (de)serialised.
    #[error("retry queue entry unreadable: {0}")]
    Codec(String),
    /// The delivery is not pending (already acked, or claimed by another consumer).
    #[error("delivery {0} is not pending")]
    NotPending(String),
}

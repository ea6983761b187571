use thiserror::Error;

use crate::domain::PartnerId;

/// Why a permit could not be had (a busy semaphore is not an error: it is `Ok(None)`).
#[derive(Debug, Error)]
pub enum LimiterError {
    /// The partner has no semaphore configured.
    #[error("no semaphore for partner {0}")]
    UnknownPartner(PartnerId),
    /// The shared backend (Redis) failed; the policy is to fail closed (no call is made).
    #[error("limiter backend unavailable: {0}")]
    Backend(String),
}

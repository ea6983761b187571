use std::time::Duration;

use thiserror::Error;

use serde::{Deserialize, Serialize};

/// How a partner call failed, as breakers and retry policies see it: the kind of a
/// [`PartnerError`] ([`PartnerError::kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// No answer in time (or 408/504).
    Timeout,
    /// 5xx.
    ServerError,
    /// 429.
    RateLimited,
    /// Other 4xx.
    ClientError,
    /// Connection failed.
    Unreachable,
    /// Unreadable answer.
    BadData,
}

/// How a partner call failed. Messages never carry credentials or full URLs.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum PartnerError {
    /// 429: the partner wants us to slow down.
    #[error("partner rate limited the call (retry after {retry_after:?})")]
    RateLimited {
        /// From the `Retry-After` header, if it was there and readable.
        retry_after: Option<Duration>,
    },
    /// No answer within the timeout.
    #[error("partner call timed out after {after:?}")]
    Timeout {
        /// The timeout that fired.
        after: Duration,
    },
    /// 5xx.
    #[error("partner answered server error {status}")]
    Server {
        /// The status code.
        status: u16,
    },
    /// 4xx other than 429 (and 408, which counts as a timeout).
    #[error("partner rejected the call with {status}: {message}")]
    Client {
        /// The status code.
        status: u16,
        /// The start of the partner's error body.
        message: String,
    },
    /// Connection refused, reset, DNS failure.
    #[error("partner unreachable: {message}")]
    Unreachable {
        /// What the transport said (URL stripped).
        message: String,
    },
    /// The answer was not what the partner's API promises.
    #[error("partner sent an unreadable answer: {message}")]
    Decode {
        /// The decoder's complaint.
        message: String,
    },
}

impl PartnerError {
    /// The failure kind the circuit breaker and retry policy branch on.
    pub fn kind(&self) -> FailureKind {
        match self {
            PartnerError::RateLimited { .. } => FailureKind::RateLimited,
            PartnerError::Timeout { .. } => FailureKind::Timeout,
            PartnerError::Server { .. } => FailureKind::ServerError,
            PartnerError::Client { .. } => FailureKind::ClientError,
            PartnerError::Unreachable { .. } => FailureKind::Unreachable,
            PartnerError::Decode { .. } => FailureKind::BadData,
        }
    }

    /// The HTTP status code the partner answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            PartnerError::RateLimited { .. } => Some(429),
            PartnerError::Server { status } | PartnerError::Client { status, .. } => Some(*status),
            PartnerError::Timeout { .. }
            | PartnerError::Unreachable { .. }
            | PartnerError::Decode { .. } => None,
        }
    }

    /// The partner's own hint of when to come back.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PartnerError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

/// A partner's configuration cannot make an adapter (a bad URL, a missing token variable).
/// The message names the partner and the key, never a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what}")]
pub struct SetupError {
    /// What is wrong.
    pub what: String,
}

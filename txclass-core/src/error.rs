//! The crate's error type.

use thiserror::Error;

use crate::domain::PartnerId;
use crate::limiter::LimiterError;
use crate::queue::QueueError;
use crate::store::StoreError;

/// Errors of the library's entry points (job failures travel as
/// [`Progress::Failed`](crate::Progress::Failed) events instead).
#[derive(Debug, Error)]
pub enum Error {
    /// The configuration cannot work; nothing was started.
    #[error("invalid configuration: {what}")]
    InvalidConfig {
        /// What is wrong.
        what: String,
    },
    /// A backend a job needs (the store, Redis) does not answer; see
    /// [`Orchestrator::readiness`](crate::Orchestrator::readiness). Retrying later may work.
    #[error("not ready: {what}")]
    NotReady {
        /// Which backends did not answer, and why.
        what: String,
    },
    /// A request names a partner that is not configured.
    #[error("unknown partner {0}")]
    UnknownPartner(PartnerId),
    /// No job has this id.
    #[error("unknown job {0}")]
    UnknownJob(crate::domain::JobId),
    /// The job-lease backend failed.
    #[error(transparent)]
    Lease(#[from] crate::lease::LeaseError),
    /// A request is malformed.
    #[error("invalid request: {field}: {message}")]
    InvalidRequest {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// An idempotency key was used before for a different request (the job it started is
    /// named): a key stands for one submission.
    #[error("the idempotency key was used for a different request (job {job})")]
    IdempotencyConflict {
        /// The job the key started.
        job: crate::domain::JobId,
    },
    /// Another instance holds the job of this idempotency key but has not recorded it within
    /// two lease periods (a slow store, or a start that failed): nothing is started here and
    /// the same request sent again in a moment attaches to the job or starts it.
    #[error(
        "job {job} of this idempotency key is being started elsewhere; send the same request again"
    )]
    SubmissionPending {
        /// The key's job.
        job: crate::domain::JobId,
    },
    /// A rule cannot be used (a [`RuleError`](crate::rules::RuleError)'s parts).
    #[error("rule {rule}: {field}: {message}")]
    InvalidRule {
        /// The rule's id, or where it is.
        rule: String,
        /// The field at fault, as a path (`conditions.description_matches`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// No rule has this id.
    #[error("unknown rule {0}")]
    UnknownRule(String),
    /// A rule with this id exists already.
    #[error("rule {0} exists")]
    RuleExists(String),
    /// The customer has no stored transaction with this id (at the partner given, if one
    /// was).
    #[error("customer {customer} has no transaction {id}")]
    UnknownTransaction {
        /// The customer.
        customer: crate::domain::CustomerId,
        /// The transaction id asked for.
        id: String,
    },
    /// A request carries more rows than it may.
    #[error("{field}: {got} rows, at most {limit} per request")]
    TooManyRows {
        /// The field holding the rows.
        field: &'static str,
        /// Rows sent.
        got: usize,
        /// Rows allowed.
        limit: usize,
    },
    /// A model could not be trained, loaded or saved.
    #[error("model: {0}")]
    Model(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The limiter's backend failed.
    #[error(transparent)]
    Limiter(#[from] LimiterError),
    /// The retry queue's backend failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// Reading or writing a file failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with the crate's [`Error`](enum@Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::domain::InvalidRequest> for Error {
    fn from(e: crate::domain::InvalidRequest) -> Self {
        Error::InvalidRequest {
            field: e.field,
            message: e.message,
        }
    }
}

impl From<crate::domain::rule::RuleError> for Error {
    fn from(e: crate::domain::rule::RuleError) -> Self {
        Error::InvalidRule {
            rule: e.rule,
            field: e.field,
            message: e.message,
        }
    }
}

impl From<crate::partner::SetupError> for Error {
    fn from(e: crate::partner::SetupError) -> Self {
        Error::InvalidConfig { what: e.what }
    }
}

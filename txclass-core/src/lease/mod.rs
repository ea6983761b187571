//! Job ownership: a job runs on exactly one instance at a time, the holder of its lease.
//!
//! The owner renews the lease while the job runs; when the owner dies (kill -9, a lost
//! machine) the lease lapses and a sweeper on any instance takes the job over and resumes it
//! from its last stored page ([`crate::store::PageRecord`]). The lease is advisory: the
//! guarantee that two owners never both write comes from the store, whose event log refuses
//! an event number that is already taken ([`crate::store::StoreError::Conflict`]); the loser
//! stops.
//!
//! Besides ownership, the lease backend carries two small per-job signals that must reach
//! the owner from any instance: "a client is watching" (a client may re-attach on another
//! instance than the owner's) and "cancel requested" (`DELETE /v1/classifications/{id}` may
//! land anywhere).
//!
//! The embedded default is [`LocalLeases`] (one process: a restart finds no lease held, so
//! every job still `running` in the store is resumed). [`RedisLeases`] (feature `redis`)
//! shares them across instances.

mod local;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
pub use self::redis::RedisLeases;
pub use local::LocalLeases;

use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;

use crate::domain::JobId;

/// The lease backend failed (unreachable, timed out): not a verdict, try again later.
#[derive(Debug, Error)]
#[error("lease backend failed: {0}")]
pub struct LeaseError(pub String);

/// Leases on jobs, and the per-job signals an owner listens to.
#[async_trait]
pub trait JobLeases: Send + Sync + 'static {
    /// Takes the job for `owner` when nobody holds it; false when someone does (or the
    /// backend just lost its state and waits one lease period before anyone takes over,
    /// so live owners can renew first).
    async fn acquire(&self, job: &JobId, owner: &str, ttl: Duration) -> Result<bool, LeaseError>;

    /// Extends `owner`'s lease, taking it again when it vanished without another holder (the
    /// backend lost its state); false when another owner holds it: stop working on the job.
    async fn renew(&self, job: &JobId, owner: &str, ttl: Duration) -> Result<bool, LeaseError>;

    /// Gives the lease up (the job ended, or is handed over).
    async fn release(&self, job: &JobId, owner: &str) -> Result<(), LeaseError>;

    /// A client watches the job from this instance for the next `ttl`.
    async fn mark_watched(&self, job: &JobId, ttl: Duration) -> Result<(), LeaseError>;

    /// Whether a client marked the job watched within its `ttl`.
    async fn watched(&self, job: &JobId) -> Result<bool, LeaseError>;

    /// Asks the owner, wherever it runs, to cancel the job.
    async fn request_cancel(&self, job: &JobId) -> Result<(), LeaseError>;

    /// Whether someone asked to cancel the job.
    async fn cancel_requested(&self, job: &JobId) -> Result<bool, LeaseError>;
}

fn _obj_safe(_: Box<dyn JobLeases>) {}

//! Partner rate limiting: a counting semaphore per partner, shared by every caller.
//!
//! Every partner call holds a [`Permit`]; [`Permit::finish`] gives the slot back with what
//! the call said about the partner's load, and dropping the permit (also when the task
//! holding it is cancelled) gives it back without a word. How many slots a partner has
//! follows its pushback ([`adaptive`]): a `429` lowers it, served calls raise it again, never
//! above the configured capacity. The embedded default is [`LocalLimiter`] (one process);
//! [`RedisLimiter`] (feature `redis`) shares the count and the limit across instances, with
//! leases and fencing tokens, and wakes waiters on every instance when a slot frees.

pub mod adaptive;
mod error;
mod local;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
pub use self::redis::{RedisLimiter, RedisLimiterBuilder};
pub use adaptive::{AdaptivePolicy, Feedback};
pub use error::LimiterError;
pub use local::LocalLimiter;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::PartnerId;

/// A slot of a partner's semaphore. Dropping it releases the slot.
pub struct Permit {
    partner: PartnerId,
    fencing_token: u64,
    /// For leased permits: cleared when the lease is known to be lost.
    lease: Option<Arc<AtomicBool>>,
    release: Option<Box<dyn FnOnce(Option<Feedback>) + Send + Sync>>,
}

impl Permit {
    /// A permit that runs `release` when finished (with the call's feedback) or dropped
    /// (with none). For [`Limiter`] implementations.
    pub fn new(
        partner: PartnerId,
        fencing_token: u64,
        release: impl FnOnce(Option<Feedback>) + Send + Sync + 'static,
    ) -> Self {
        Self {
            partner,
            fencing_token,
            lease: None,
            release: Some(Box::new(release)),
        }
    }

    /// Ties the permit to a lease whose holder clears `held` when the lease is lost.
    pub fn with_lease(mut self, held: Arc<AtomicBool>) -> Self {
        self.lease = Some(held);
        self
    }

    /// False once the permit's lease is known to be lost (it ran out while the backend was
    /// unreachable, or renewal found it expired): the slot may already be someone else's,
    /// so a careful adapter stops calling. Always true for permits without a lease.
    pub fn lease_held(&self) -> bool {
        match &self.lease {
            Some(held) => held.load(Ordering::Acquire),
            None => true,
        }
    }

    /// Gives the slot back, telling the limiter how the partner took the call.
    pub fn finish(mut self, feedback: Feedback) {
        if let Some(release) = self.release.take() {
            release(Some(feedback));
        }
    }

    /// The partner this permit is for.
    pub fn partner(&self) -> &PartnerId {
        &self.partner
    }

    /// A number that grows with every permit granted for this partner. A partner (or a store)
    /// that remembers the highest token it saw can refuse a late call from a holder whose
    /// lease expired (Kleppmann's fencing).
    pub fn fencing_token(&self) -> u64 {
        self.fencing_token
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("partner", &self.partner)
            .field("fencing_token", &self.fencing_token)
            .finish()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release(None);
        }
    }
}

/// A counting semaphore per partner.
#[async_trait]
pub trait Limiter: Send + Sync + 'static {
    /// Takes a permit, waiting at most `max_wait` for one. `Ok(None)` means the partner is
    /// busy: the caller puts the call on the retry queue instead of waiting longer.
    async fn acquire(
        &self,
        partner: &PartnerId,
        max_wait: Duration,
    ) -> Result<Option<Permit>, LimiterError>;

    /// Permits currently held for `partner` (for status pages and tests).
    async fn in_use(&self, partner: &PartnerId) -> Result<u32, LimiterError>;

    /// Calls `partner` is admitted at once right now: its capacity, or less after pushback.
    async fn limit(&self, partner: &PartnerId) -> Result<u32, LimiterError>;

    /// Whether every instance shares these permits, so [`in_use`](Self::in_use) and
    /// [`limit`](Self::limit) are the cluster's and not this instance's.
    fn shared(&self) -> bool {
        false
    }
}

fn _obj_safe(_: Box<dyn Limiter>) {}

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Semaphore;

use super::{Limiter, LimiterError, Permit};
use crate::model::PartnerId;

/// The embedded limiter: a tokio semaphore per partner, in this process only.
///
/// Why tokio's semaphore: it is fair (FIFO), so a waiting call is not starved by later ones,
/// and its owned permits are released by drop, cancellation included.
#[derive(Debug, Default)]
pub struct LocalLimiter {
    partners: HashMap<PartnerId, Slot>,
}

#[derive(Debug)]
struct Slot {
    sem: Arc<Semaphore>,
    capacity: u32,
    token: Arc<AtomicU64>,
}

impl LocalLimiter {
    /// A limiter with no partners.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a partner with `capacity` concurrent calls.
    pub fn with_partner(mut self, partner: PartnerId, capacity: NonZeroU32) -> Self {
        self.partners.insert(
            partner,
            Slot {
                sem: Arc::new(Semaphore::new(capacity.get() as usize)),
                capacity: capacity.get(),
                token: Arc::new(AtomicU64::new(0)),
            },
        );
        self
    }
}

#[async_trait]
impl Limiter for LocalLimiter {
    async fn acquire(
        &self,
        partner: &PartnerId,
        max_wait: Duration,
    ) -> Result<Option<Permit>, LimiterError> {
        let slot = self
            .partners
            .get(partner)
            .ok_or_else(|| LimiterError::UnknownPartner(partner.clone()))?;
        let owned = match slot.sem.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) if max_wait.is_zero() => return Ok(None),
            Err(_) => {
                match tokio::time::timeout(max_wait, slot.sem.clone().acquire_owned()).await {
                    Ok(Ok(p)) => p,
                    Ok(Err(_)) => return Err(LimiterError::Backend("semaphore closed".into())),
                    Err(_) => return Ok(None),
                }
            }
        };
        let token = slot.token.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Some(Permit::new(partner.clone(), token, move || {
            drop(owned)
        })))
    }

    async fn in_use(&self, partner: &PartnerId) -> Result<u32, LimiterError> {
        let slot = self
            .partners
            .get(partner)
            .ok_or_else(|| LimiterError::UnknownPartner(partner.clone()))?;
        Ok(slot.capacity - slot.sem.available_permits() as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn capacity_holds_and_drop_releases() {
        let p = PartnerId::from("p");
        let l = LocalLimiter::new().with_partner(p.clone(), NonZeroU32::new(2).unwrap());
        let a = l.acquire(&p, Duration::ZERO).await.unwrap().unwrap();
        let b = l.acquire(&p, Duration::ZERO).await.unwrap().unwrap();
        assert!(b.fencing_token() > a.fencing_token());
        assert!(l
            .acquire(&p, Duration::from_millis(50))
            .await
            .unwrap()
            .is_none());
        assert_eq!(l.in_use(&p).await.unwrap(), 2);
        drop(a);
        assert_eq!(l.in_use(&p).await.unwrap(), 1);
        assert!(l.acquire(&p, Duration::ZERO).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn cancelled_waiter_takes_nothing() {
        let p = PartnerId::from("p");
        let l = Arc::new(LocalLimiter::new().with_partner(p.clone(), NonZeroU32::new(1).unwrap()));
        let held = l.acquire(&p, Duration::ZERO).await.unwrap().unwrap();
        let l2 = l.clone();
        let p2 = p.clone();
        let waiter =
            tokio::spawn(async move { l2.acquire(&p2, Duration::from_secs(60)).await.map(|_| ()) });
        tokio::task::yield_now().await;
        waiter.abort();
        let _ = waiter.await;
        drop(held);
        assert_eq!(l.in_use(&p).await.unwrap(), 0);
    }
}

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::adaptive::{AdaptivePolicy, Feedback, LimitState};
use super::{Limiter, LimiterError, Permit};
use crate::domain::PartnerId;
use crate::sync::Lock;

/// The embedded limiter: a tokio semaphore per partner, in this process only.
///
/// Why tokio's semaphore: it is fair (FIFO), so a waiting call is not starved by later ones,
/// its owned permits are released by drop, cancellation included, and a release wakes the
/// next waiter at once. The adaptive limit ([`super::adaptive`]) takes slots out of the
/// semaphore when it falls (a slot still held is taken out when it comes back) and puts them
/// back when it rises.
#[derive(Debug, Default)]
pub struct LocalLimiter {
    partners: HashMap<PartnerId, Arc<Slot>>,
}

#[derive(Debug)]
struct Slot {
    sem: Arc<Semaphore>,
    capacity: u32,
    policy: AdaptivePolicy,
    token: AtomicU64,
    state: Mutex<Adaptive>,
}

#[derive(Debug)]
struct Adaptive {
    limit: LimitState,
    /// Slots taken out of the semaphore (forgotten permits).
    withheld: u32,
    /// Slots still to take out as their holders give them back.
    owed: u32,
}

impl LocalLimiter {
    /// A limiter with no partners.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a partner with `capacity` concurrent calls, admitted adaptively
    /// with the default [`AdaptivePolicy`].
    pub fn with_partner(self, partner: PartnerId, capacity: NonZeroU32) -> Self {
        self.with_policy(partner, capacity, AdaptivePolicy::default())
    }

    /// Adds (or replaces) a partner with `capacity` concurrent calls at most, admitted as
    /// `policy` says.
    pub fn with_policy(
        mut self,
        partner: PartnerId,
        capacity: NonZeroU32,
        policy: AdaptivePolicy,
    ) -> Self {
        self.partners.insert(
            partner,
            Arc::new(Slot {
                sem: Arc::new(Semaphore::new(capacity.get() as usize)),
                capacity: capacity.get(),
                policy,
                token: AtomicU64::new(0),
                state: Mutex::new(Adaptive {
                    limit: LimitState::new(capacity.get()),
                    withheld: 0,
                    owed: 0,
                }),
            }),
        );
        self
    }

    fn slot(&self, partner: &PartnerId) -> Result<&Arc<Slot>, LimiterError> {
        self.partners
            .get(partner)
            .ok_or_else(|| LimiterError::UnknownPartner(partner.clone()))
    }
}

impl Slot {
    fn state(&self) -> std::sync::MutexGuard<'_, Adaptive> {
        self.state.locked()
    }

    /// Gives `permit` back after a call admitted in `generation`, applying its feedback.
    fn release(&self, permit: OwnedSemaphorePermit, generation: u64, feedback: Option<Feedback>) {
        let mut st = self.state();
        if let Some(f) = feedback {
            st.limit.apply(&self.policy, self.capacity, f, generation);
            let target = self.capacity - AdaptivePolicy::admitted(st.limit.limit, self.capacity);
            let planned = st.withheld + st.owed;
            if target > planned {
                let mut more = target - planned;
                while more > 0 {
                    match self.sem.clone().try_acquire_owned() {
                        Ok(p) => {
                            p.forget();
                            st.withheld += 1;
                        }
                        Err(_) => {
                            st.owed += 1;
                        }
                    }
                    more -= 1;
                }
            } else {
                let mut fewer = planned - target;
                let cancelled = fewer.min(st.owed);
                st.owed -= cancelled;
                fewer -= cancelled;
                st.withheld -= fewer;
                self.sem.add_permits(fewer as usize);
            }
        }
        if st.owed > 0 {
            st.owed -= 1;
            st.withheld += 1;
            permit.forget();
        } else {
            drop(permit);
        }
    }
}

#[async_trait]
impl Limiter for LocalLimiter {
    async fn acquire(
        &self,
        partner: &PartnerId,
        max_wait: Duration,
    ) -> Result<Option<Permit>, LimiterError> {
        let slot = self.slot(partner)?;
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
        let generation = slot.state().limit.generation;
        let token = slot.token.fetch_add(1, Ordering::Relaxed) + 1;
        let owner = slot.clone();
        Ok(Some(Permit::new(partner.clone(), token, move |feedback| {
            owner.release(owned, generation, feedback)
        })))
    }

    async fn in_use(&self, partner: &PartnerId) -> Result<u32, LimiterError> {
        let slot = self.slot(partner)?;
        let st = slot.state();
        Ok(slot.capacity - st.withheld - slot.sem.available_permits() as u32)
    }

    async fn limit(&self, partner: &PartnerId) -> Result<u32, LimiterError> {
        let slot = self.slot(partner)?;
        let limit = slot.state().limit.limit;
        Ok(AdaptivePolicy::admitted(limit, slot.capacity))
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

    #[tokio::test]
    async fn a_429_takes_a_held_slot_out_and_service_gives_it_back() {
        let p = PartnerId::from("p");
        let l = LocalLimiter::new().with_partner(p.clone(), NonZeroU32::new(4).unwrap());
        let held: Vec<Permit> =
            futures::future::join_all((0..4).map(|_| l.acquire(&p, Duration::ZERO)))
                .await
                .into_iter()
                .map(|r| r.unwrap().unwrap())
                .collect();
        let mut held = held.into_iter();
        held.next().unwrap().finish(Feedback::Overloaded);
        assert_eq!(l.limit(&p).await.unwrap(), 3);
        // The 429's own slot left the semaphore: three are held, none is free.
        assert_eq!(l.in_use(&p).await.unwrap(), 3);
        assert!(l.acquire(&p, Duration::ZERO).await.unwrap().is_none());
        drop(held);
        assert_eq!(l.in_use(&p).await.unwrap(), 0);
        let mut admitted = Vec::new();
        while let Some(permit) = l.acquire(&p, Duration::ZERO).await.unwrap() {
            admitted.push(permit);
        }
        assert_eq!(admitted.len(), 3);
        // Enough served calls raise the limit to the capacity again.
        for _ in 0..200 {
            let permit = admitted.pop().unwrap();
            permit.finish(Feedback::Served);
            admitted.push(l.acquire(&p, Duration::ZERO).await.unwrap().unwrap());
        }
        assert_eq!(l.limit(&p).await.unwrap(), 4);
        assert!(l.acquire(&p, Duration::ZERO).await.unwrap().is_some());
    }
}

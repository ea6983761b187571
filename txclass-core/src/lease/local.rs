use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{JobLeases, LeaseError};
use crate::domain::JobId;
use crate::sync::Lock;

/// Leases of one process. After a restart nothing is held, so the sweeper resumes every job
/// the store still calls `running`.
#[derive(Default)]
pub struct LocalLeases {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    leases: HashMap<JobId, (String, Instant)>,
    watched: HashMap<JobId, Instant>,
    cancelled: HashSet<JobId>,
}

impl LocalLeases {
    /// No lease held.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves maps that are still consistent.
        self.state.locked()
    }
}

#[async_trait]
impl JobLeases for LocalLeases {
    async fn acquire(&self, job: &JobId, owner: &str, ttl: Duration) -> Result<bool, LeaseError> {
        let now = Instant::now();
        let mut s = self.state();
        match s.leases.get(job) {
            Some((_, until)) if *until > now => Ok(false),
            _ => {
                s.leases.insert(job.clone(), (owner.to_owned(), now + ttl));
                Ok(true)
            }
        }
    }

    async fn renew(&self, job: &JobId, owner: &str, ttl: Duration) -> Result<bool, LeaseError> {
        let now = Instant::now();
        let mut s = self.state();
        match s.leases.get(job) {
            Some((holder, until)) if holder != owner && *until > now => Ok(false),
            _ => {
                s.leases.insert(job.clone(), (owner.to_owned(), now + ttl));
                Ok(true)
            }
        }
    }

    async fn release(&self, job: &JobId, owner: &str) -> Result<(), LeaseError> {
        let mut s = self.state();
        if s.leases.get(job).is_some_and(|(holder, _)| holder == owner) {
            s.leases.remove(job);
        }
        s.watched.remove(job);
        s.cancelled.remove(job);
        Ok(())
    }

    async fn mark_watched(&self, job: &JobId, ttl: Duration) -> Result<(), LeaseError> {
        self.state()
            .watched
            .insert(job.clone(), Instant::now() + ttl);
        Ok(())
    }

    async fn watched(&self, job: &JobId) -> Result<bool, LeaseError> {
        Ok(self
            .state()
            .watched
            .get(job)
            .is_some_and(|until| *until > Instant::now()))
    }

    async fn request_cancel(&self, job: &JobId) -> Result<(), LeaseError> {
        self.state().cancelled.insert(job.clone());
        Ok(())
    }

    async fn cancel_requested(&self, job: &JobId) -> Result<bool, LeaseError> {
        Ok(self.state().cancelled.contains(job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_lease_is_exclusive_until_it_lapses() {
        let l = LocalLeases::new();
        let job = JobId::new("j");
        let ttl = Duration::from_secs(10);
        assert!(l.acquire(&job, "a", ttl).await.unwrap());
        assert!(!l.acquire(&job, "b", ttl).await.unwrap());
        assert!(!l.renew(&job, "b", ttl).await.unwrap());
        assert!(l.renew(&job, "a", ttl).await.unwrap());
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(l.acquire(&job, "b", ttl).await.unwrap());
        assert!(!l.renew(&job, "a", ttl).await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn watched_marks_expire() {
        let l = LocalLeases::new();
        let job = JobId::new("j");
        assert!(!l.watched(&job).await.unwrap());
        l.mark_watched(&job, Duration::from_secs(1)).await.unwrap();
        assert!(l.watched(&job).await.unwrap());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(!l.watched(&job).await.unwrap());
    }
}

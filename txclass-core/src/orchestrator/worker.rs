use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::call::{attempt, process_page, Attempt};
use super::Inner;
use crate::breaker::Transition;
use crate::domain::{ClassificationRequest, CustomerId, JobId, TenantId};
use crate::progress::{FailureReason, WaitReason};
use crate::queue::{Delivery, RetryMessage, RetryTask};
use crate::rules::RuleSet;
use crate::sync::Lock;

/// Takes due calls off the retry queue and makes them: permit first (the queue never
/// exceeds a partner either), then the breaker, then the call; on success classifies and
/// stores the page (even if its client has gone) and tells the waiting job.
pub struct RetryWorker {
    inner: Arc<Inner>,
    consumer: String,
    /// The compiled rules of the jobs whose calls this worker made: a job's rules are read
    /// and compiled once here, not for each of its pages.
    rules: Mutex<HashMap<JobId, Arc<RuleSet>>>,
}

/// Jobs whose rules a worker keeps; past this the cache starts over (a job whose entry was
/// dropped reads its rules again).
const RULE_CACHE_JOBS: usize = 1024;

impl RetryWorker {
    pub(crate) fn new(inner: Arc<Inner>, consumer: String) -> Self {
        Self {
            inner,
            consumer,
            rules: Mutex::default(),
        }
    }

    /// The rules of `job` (of `tenant`'s `customer`), compiled once per job.
    async fn job_rules(
        &self,
        job: &JobId,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> Result<Arc<RuleSet>, crate::store::StoreError> {
        if let Some(set) = self.rules.locked().get(job) {
            return Ok(set.clone());
        }
        let set = self.inner.job_rules(tenant, customer).await?;
        let mut cache = self.rules.locked();
        if cache.len() >= RULE_CACHE_JOBS {
            cache.clear();
        }
        cache.insert(job.clone(), set.clone());
        Ok(set)
    }

    /// Works until `shutdown` completes; calls in progress are finished first. Up to
    /// `Settings::worker_concurrency` deliveries are handled at once (each still needs a
    /// partner permit, so this bounds the worker, not the partner).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(
            this.inner.settings.worker_concurrency.max(1),
        ));
        let mut running = JoinSet::new();
        loop {
            let slot = tokio::select! {
                _ = &mut shutdown => break,
                s = slots.clone().acquire_owned() => s.expect("never closed"),
            };
            let next = tokio::select! {
                _ = &mut shutdown => break,
                n = this.inner.queue.next(&this.consumer, this.inner.settings.worker_poll) => n,
            };
            while running.try_join_next().is_some() {}
            match next {
                Ok(Some(delivery)) => {
                    let this = this.clone();
                    running.spawn(async move {
                        this.process(delivery).await;
                        drop(slot);
                    });
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(consumer = %this.consumer, error = %e, "retry queue read failed");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        while running.join_next().await.is_some() {}
    }

    /// Handles one delivery to its end (ack, reschedule or dead letter), touching it while
    /// it takes (see [`RetryQueue::touch`](crate::queue::RetryQueue::touch)).
    pub async fn process(&self, d: Delivery) {
        let Some(every) = self.inner.queue.touch_every() else {
            return self.settle(d).await;
        };
        // Touched while it is worked on: a live worker's delivery is never taken over.
        let (delivery, consumer) = (d.clone(), self.consumer.clone());
        let work = self.settle(d);
        tokio::pin!(work);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut work => return,
                _ = tick.tick() => match self.inner.queue.touch(&delivery, &consumer).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(
                        job = %delivery.task.job_id,
                        page = delivery.task.page,
                        "another consumer took this delivery over; finishing it anyway"
                    ),
                    Err(e) => tracing::debug!(error = %e, "could not touch the delivery"),
                },
            }
        }
    }

    /// Handles one delivery to its end (ack, reschedule or dead letter).
    async fn settle(&self, d: Delivery) {
        let inner = &self.inner;
        let task = d.task.clone();
        let Some(p) = inner.partners.get(&task.partner_id) else {
            let error = format!("unknown partner {}", task.partner_id);
            self.give_up(&d, FailureReason::PartnerRejected, error)
                .await;
            return;
        };
        // A task delivered again lost its consumer; the page may have been stored before the
        // consumer died (store first, ack after): then it is not fetched a second time.
        if d.deliveries > 1 {
            if let Ok(pages) = inner.store.pages(&task.job_id).await {
                if let Some(rec) = pages.into_iter().find(|p| p.page == task.page) {
                    self.done(&d, rec.into()).await;
                    return;
                }
            }
        }
        let mut transitions = Vec::new();
        let a = attempt(
            inner,
            p,
            &task.request,
            task.attempts,
            inner.settings.worker_acquire_wait,
            &mut transitions,
        )
        .await;
        for t in transitions {
            self.circuit_changed(&task, t).await;
        }
        match a {
            Attempt::Page(page) => {
                let request = ClassificationRequest {
                    customer_id: task.request.customer_id.clone(),
                    partner_id: task.partner_id.clone(),
                    from: task.request.from,
                    to: task.request.to,
                };
                let rules = self
                    .job_rules(&task.job_id, &task.tenant, &request.customer_id)
                    .await;
                let stored = match rules {
                    Ok(rules) => {
                        let (job, tenant) = (&task.job_id, &task.tenant);
                        process_page(inner, &rules, tenant, job, &request, task.page, page, true)
                            .await
                    }
                    Err(e) => Err(e),
                };
                match stored {
                    Ok(outcome) => self.done(&d, outcome).await,
                    Err(e) => {
                        self.give_up(&d, FailureReason::StoreError, e.to_string())
                            .await
                    }
                }
            }
            Attempt::Retry {
                reason,
                delay,
                attempts,
                error,
            } => {
                let called = attempts > task.attempts;
                let mut t = task;
                t.attempts = attempts;
                if error.is_some() {
                    t.last_error = error;
                }
                self.again(&d, t, reason, delay, called).await;
            }
            Attempt::GiveUp(reason, error) => self.give_up(&d, reason, error).await,
        }
    }

    /// The page is stored: tell the job, then settle the entry.
    async fn done(&self, d: &Delivery, outcome: crate::store::PageOutcome) {
        let task = &d.task;
        let msg = RetryMessage::Fetched {
            page: task.page,
            outcome,
        };
        if let Err(e) = self.inner.bus.publish(&task.job_id, msg).await {
            tracing::warn!(job = %task.job_id, error = %e, "could not publish retry result");
        }
        if let Err(e) = self.inner.queue.ack(d).await {
            tracing::warn!(error = %e, "ack failed; the entry may be delivered again");
        }
    }

    /// Logs a transition and tells the job whose call caused it.
    async fn circuit_changed(&self, task: &RetryTask, t: Transition) {
        tracing::info!(partner = %task.partner_id, from = ?t.from, to = ?t.to, "circuit changed");
        let msg = RetryMessage::CircuitChanged {
            page: task.page,
            from: t.from,
            to: t.to,
        };
        let _ = self.inner.bus.publish(&task.job_id, msg).await;
    }

    async fn again(
        &self,
        d: &Delivery,
        mut task: RetryTask,
        reason: WaitReason,
        delay: Duration,
        tell: bool,
    ) {
        let changed = task.reason != reason;
        task.reason = reason;
        let attempts = task.attempts;
        let (job, page) = (task.job_id.clone(), task.page);
        if let Err(e) = self.inner.queue.reschedule(d, task, delay).await {
            tracing::warn!(error = %e, "reschedule failed; the entry will be delivered again");
            return;
        }
        if tell || changed {
            let msg = RetryMessage::Attempted {
                page,
                attempts,
                reason,
                retry_in_ms: delay.as_millis() as u64,
            };
            let _ = self.inner.bus.publish(&job, msg).await;
        }
    }

    async fn give_up(&self, d: &Delivery, reason: FailureReason, error: String) {
        tracing::warn!(job = %d.task.job_id, page = d.task.page, %error, "retry dead-lettered");
        if let Err(e) = self.inner.queue.dead_letter(d, error.clone()).await {
            tracing::warn!(error = %e, "dead-letter failed");
        }
        let msg = RetryMessage::GaveUp {
            page: d.task.page,
            reason,
            error,
        };
        let _ = self.inner.bus.publish(&d.task.job_id, msg).await;
    }
}

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::job::{busy_delay, classify, fetch_guarded, wait_reason};
use super::Inner;
use crate::breaker::{CallOutcome, Transition};
use crate::model::ClassificationRequest;
use crate::progress::WaitReason;
use crate::queue::{Delivery, RetryMessage, RetryTask};

/// Takes due calls off the retry queue and makes them: permit first (the queue never
/// exceeds a partner either), then the breaker, then the call; on success classifies and
/// stores the page (even if its client has gone) and tells the waiting job.
pub struct RetryWorker {
    inner: Arc<Inner>,
    consumer: String,
}

impl RetryWorker {
    pub(crate) fn new(inner: Arc<Inner>, consumer: String) -> Self {
        Self { inner, consumer }
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

    /// Handles one delivery to its end (ack, reschedule or dead letter).
    pub async fn process(&self, d: Delivery) {
        let inner = &self.inner;
        let task = d.task.clone();
        let Some(p) = inner.partners.get(&task.partner_id) else {
            self.give_up(&d, None, format!("unknown partner {}", task.partner_id))
                .await;
            return;
        };
        let permit = match inner
            .limiter
            .acquire(&task.partner_id, Duration::ZERO)
            .await
        {
            Ok(Some(permit)) => permit,
            Ok(None) => {
                self.again(&d, task, WaitReason::PartnerBusy, busy_delay(), false)
                    .await;
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "limiter failed; retrying later (fail closed)");
                self.again(
                    &d,
                    task,
                    WaitReason::PartnerBusy,
                    Duration::from_secs(1),
                    false,
                )
                .await;
                return;
            }
        };
        let (admitted, t) = p.breaker.try_acquire();
        self.circuit_changed(&task, t).await;
        let call = match admitted {
            Ok(call) => call,
            Err(not_until) => {
                drop(permit);
                self.again(&d, task, WaitReason::CircuitOpen, not_until.wait, false)
                    .await;
                return;
            }
        };
        let result = fetch_guarded(p, &task.request, &permit).await;
        drop(permit);
        let outcome = match &result {
            Ok(_) => CallOutcome::Success,
            Err(e) => CallOutcome::Failure(e.kind()),
        };
        self.circuit_changed(&task, p.breaker.record(call, outcome))
            .await;
        let calls = task.attempts + 1;
        match result {
            Ok(page) => {
                let request = ClassificationRequest {
                    customer_id: task.request.customer_id.clone(),
                    partner_id: task.partner_id.clone(),
                    from: task.request.from,
                    to: task.request.to,
                };
                let classified = classify(inner, &request, page.transactions);
                match inner.store.upsert(&classified).await {
                    Ok(report) => {
                        let msg = RetryMessage::Fetched {
                            page: task.page,
                            next_cursor: page.next_cursor,
                            transactions: classified,
                            inserted: report.inserted,
                        };
                        if let Err(e) = inner.bus.publish(&task.job_id, msg).await {
                            tracing::warn!(job = %task.job_id, error = %e, "could not publish retry result");
                        }
                        if let Err(e) = inner.queue.ack(&d).await {
                            tracing::warn!(error = %e, "ack failed; the entry may be delivered again");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "store failed; retrying the page later");
                        let mut t = task;
                        t.last_error = Some(e.to_string());
                        self.again(
                            &d,
                            t,
                            WaitReason::PartnerError,
                            Duration::from_secs(1),
                            false,
                        )
                        .await;
                    }
                }
            }
            Err(e) => {
                let kind = e.kind();
                let policy = &p.config.retry;
                if !policy.retry_on.contains(&kind) {
                    self.give_up(&d, Some(kind), e.to_string()).await;
                } else if calls >= policy.max_attempts.get() {
                    self.give_up(
                        &d,
                        Some(kind),
                        format!("gave up after {calls} attempts: {e}"),
                    )
                    .await;
                } else {
                    let delay = e.retry_after().unwrap_or_else(|| {
                        policy.backoff(calls, rand::thread_rng().gen_range(0.5..=1.0))
                    });
                    let mut t = task;
                    t.attempts = calls;
                    t.last_error = Some(e.to_string());
                    self.again(&d, t, wait_reason(kind), delay, true).await;
                }
            }
        }
    }

    /// Logs a transition and tells the job whose call caused it.
    async fn circuit_changed(&self, task: &RetryTask, t: Option<Transition>) {
        let Some(t) = t else { return };
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

    async fn give_up(
        &self,
        d: &Delivery,
        kind: Option<crate::breaker::FailureKind>,
        error: String,
    ) {
        tracing::warn!(job = %d.task.job_id, page = d.task.page, %error, "retry dead-lettered");
        if let Err(e) = self.inner.queue.dead_letter(d, error.clone()).await {
            tracing::warn!(error = %e, "dead-letter failed");
        }
        let msg = RetryMessage::GaveUp {
            page: d.task.page,
            kind,
            error,
        };
        let _ = self.inner.bus.publish(&d.task.job_id, msg).await;
    }
}

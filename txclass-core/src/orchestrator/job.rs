use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::stream::{BoxStream, Stream, StreamExt};
use rand::Rng;

use super::{Inner, Partner};
use crate::breaker::{CallOutcome, FailureKind, Transition};
use crate::model::{
    ClassificationRequest, ClassifiedTransaction, JobId, JobRecord, JobStatus, Summary, Transaction,
};
use crate::partner::{OnOpen, Page, PageRequest, PartnerError};
use crate::progress::{FailureReason, Progress, WaitReason};
use crate::queue::{RetryMessage, RetryTask};

/// A running job: a stream of [`Progress`] events that ends after `done` or `failed`.
///
/// The work happens as the stream is polled; dropping it cancels the job (permits are
/// released by their guards, the job's record says `cancelled`).
pub struct Job {
    id: JobId,
    stream: BoxStream<'static, Progress>,
    /// What the cancel guard records if the stream is dropped before it ends (`None`:
    /// `cancelled`); [`Job::abort`] sets it.
    end_status: Arc<Mutex<Option<JobStatus>>>,
}

impl Job {
    pub(crate) fn start(inner: Arc<Inner>, id: JobId, request: ClassificationRequest) -> Self {
        let end_status = Arc::new(Mutex::new(None));
        let stream = run(inner, id.clone(), request, end_status.clone()).boxed();
        Self {
            id,
            stream,
            end_status,
        }
    }

    /// The job's id (also carried by the first event).
    pub fn id(&self) -> &JobId {
        &self.id
    }

    /// Stops the job before its end for `reason` (e.g. the server is shutting down): the job
    /// is dropped (its permits are freed, pages stored so far stay), its record says
    /// `failed` with that reason, and the returned `failed` event is the one to send the
    /// client last. A job that had already ended keeps its record.
    pub fn abort(self, reason: FailureReason, message: impl Into<String>) -> Progress {
        let message = message.into();
        *self.end_status.lock().unwrap_or_else(|e| e.into_inner()) = Some(JobStatus::Failed {
            reason,
            message: message.clone(),
        });
        Progress::Failed {
            job_id: self.id.clone(),
            reason,
            message,
        }
    }
}

impl Stream for Job {
    type Item = Progress;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Progress>> {
        self.stream.as_mut().poll_next(cx)
    }
}

/// Marks the job cancelled if the stream is dropped before it ends.
struct CancelGuard {
    inner: Arc<Inner>,
    record: Option<JobRecord>,
    end_status: Arc<Mutex<Option<JobStatus>>>,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if let Some(mut record) = self.record.take() {
            record.status = self
                .end_status
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .unwrap_or(JobStatus::Cancelled);
            record.updated_at = Utc::now();
            let store = self.inner.store.clone();
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    if let Err(e) = store.put_job(&record).await {
                        tracing::warn!(job = %record.id, error = %e, "could not mark job cancelled");
                    }
                });
            }
        }
    }
}

/// What one direct attempt at a page came to.
enum Attempt {
    Page(Page),
    /// Put it on the queue.
    Wait {
        reason: WaitReason,
        delay: Duration,
        calls: u32,
        error: Option<String>,
    },
    Fatal(FailureReason, String),
}

pub(crate) fn wait_reason(kind: FailureKind) -> WaitReason {
    match kind {
        FailureKind::Timeout => WaitReason::Timeout,
        FailureKind::RateLimited => WaitReason::RateLimited,
        FailureKind::ServerError | FailureKind::ClientError | FailureKind::BadData => {
            WaitReason::PartnerError
        }
        FailureKind::Unreachable => WaitReason::Unreachable,
    }
}

/// A short random pause before a busy partner is tried again.
pub(crate) fn busy_delay() -> Duration {
    Duration::from_millis(rand::thread_rng().gen_range(20..120))
}

fn circuit_event(p: &Partner, t: Option<Transition>, out: &mut Vec<Progress>) {
    if let Some(t) = t {
        tracing::info!(partner = %p.config.id, from = ?t.from, to = ?t.to, "circuit changed");
        out.push(Progress::CircuitChanged {
            partner_id: p.config.id.clone(),
            from: t.from,
            to: t.to,
        });
    }
}

/// Calls the partner once, under a permit and the breaker. Decides, never sleeps.
async fn attempt(
    inner: &Inner,
    p: &Partner,
    req: &PageRequest,
    events: &mut Vec<Progress>,
) -> Attempt {
    let permit = match inner
        .limiter
        .acquire(&p.config.id, inner.settings.acquire_wait)
        .await
    {
        Ok(Some(permit)) => permit,
        Ok(None) => {
            return Attempt::Wait {
                reason: WaitReason::PartnerBusy,
                delay: busy_delay(),
                calls: 0,
                error: None,
            }
        }
        Err(e) => return Attempt::Fatal(FailureReason::LimiterError, e.to_string()),
    };
    let (admitted, t) = p.breaker.try_acquire();
    circuit_event(p, t, events);
    let call = match admitted {
        Ok(call) => call,
        Err(not_until) => {
            return match p.config.circuit.on_open {
                OnOpen::Queue => Attempt::Wait {
                    reason: WaitReason::CircuitOpen,
                    delay: not_until.wait,
                    calls: 0,
                    error: None,
                },
                OnOpen::Reject => Attempt::Fatal(
                    FailureReason::CircuitOpen,
                    format!("circuit of partner {} is open", p.config.id),
                ),
            }
        }
    };
    let result = fetch_guarded(p, req, &permit).await;
    drop(permit);
    let outcome = match &result {
        Ok(_) => CallOutcome::Success,
        Err(e) => CallOutcome::Failure(e.kind()),
    };
    circuit_event(p, p.breaker.record(call, outcome), events);
    match result {
        Ok(page) => Attempt::Page(page),
        Err(e) => decide_failure(p, &e, 1),
    }
}

/// Calls the adapter with a hard deadline above the adapter's own timeout, so a misbehaving
/// adapter cannot hold a permit forever.
pub(crate) async fn fetch_guarded(
    p: &Partner,
    req: &PageRequest,
    permit: &crate::limiter::Permit,
) -> Result<Page, PartnerError> {
    let limit = p.adapter.timeout() + Duration::from_secs(1);
    match tokio::time::timeout(limit, p.adapter.fetch_page(req, permit)).await {
        Ok(r) => r,
        Err(_) => Err(PartnerError::Timeout { after: limit }),
    }
}

/// Retry or give up after `calls` failed calls, per the partner's policy.
fn decide_failure(p: &Partner, e: &PartnerError, calls: u32) -> Attempt {
    let kind = e.kind();
    if !p.config.retry.retry_on.contains(&kind) {
        let reason = match kind {
            FailureKind::BadData => FailureReason::BadPartnerData,
            _ => FailureReason::PartnerRejected,
        };
        return Attempt::Fatal(reason, e.to_string());
    }
    let delay = e.retry_after().unwrap_or_else(|| {
        p.config
            .retry
            .backoff(calls, rand::thread_rng().gen_range(0.5..=1.0))
    });
    Attempt::Wait {
        reason: wait_reason(kind),
        delay,
        calls,
        error: Some(e.to_string()),
    }
}

pub(crate) fn classify(
    inner: &Inner,
    request: &ClassificationRequest,
    txs: Vec<Transaction>,
) -> Vec<ClassifiedTransaction> {
    let predictions = inner.classifier.predict_batch(&txs);
    txs.into_iter()
        .zip(predictions)
        .map(|(transaction, prediction)| ClassifiedTransaction {
            partner_id: request.partner_id.clone(),
            customer_id: request.customer_id.clone(),
            transaction,
            prediction,
        })
        .collect()
}

fn run(
    inner: Arc<Inner>,
    job_id: JobId,
    request: ClassificationRequest,
    end_status: Arc<Mutex<Option<JobStatus>>>,
) -> impl Stream<Item = Progress> {
    async_stream::stream! {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + inner.settings.job_deadline;
        let now = Utc::now();
        let mut record = JobRecord {
            id: job_id.clone(),
            request: request.clone(),
            status: JobStatus::Running,
            created_at: now,
            updated_at: now,
        };
        let failed = |reason: FailureReason, message: String| Progress::Failed {
            job_id: job_id.clone(),
            reason,
            message,
        };
        if let Err(e) = inner.store.put_job(&record).await {
            yield failed(FailureReason::StoreError, e.to_string());
            return;
        }
        let mut guard = CancelGuard { inner: inner.clone(), record: Some(record.clone()), end_status };
        yield Progress::Accepted {
            job_id: job_id.clone(),
            partner_id: request.partner_id.clone(),
            customer_id: request.customer_id.clone(),
            from: request.from,
            to: request.to,
        };
        let partner = &inner.partners[&request.partner_id];
        // Subscribe before anything is queued, so no retry outcome is missed.
        let mut results = match inner.bus.subscribe(&job_id).await {
            Ok(s) => s,
            Err(e) => {
                let ev = failed(FailureReason::QueueError, e.to_string());
                finish(&inner, &mut guard, &mut record, &ev).await;
                yield ev;
                return;
            }
        };
        let mut summary = Summary::default();
        let mut cursor: Option<String> = None;
        let mut page_no: u32 = 0;
        let end: Progress = 'pages: loop {
            page_no += 1;
            let req = PageRequest {
                customer_id: request.customer_id.clone(),
                from: request.from,
                to: request.to,
                cursor: cursor.clone(),
            };
            let mut events = Vec::new();
            let a = attempt(&inner, partner, &req, &mut events).await;
            for ev in events {
                yield ev;
            }
            // The page's transactions, classified and stored, and the next cursor.
            let (classified, inserted, next, via_retry) = match a {
                Attempt::Fatal(reason, message) => break 'pages failed(reason, message),
                Attempt::Page(page) => {
                    yield Progress::PageFetched {
                        page: page_no,
                        transactions: page.transactions.len(),
                        via_retry: false,
                    };
                    let classified = classify(&inner, &request, page.transactions);
                    let report = match inner.store.upsert(&classified).await {
                        Ok(r) => r,
                        Err(e) => break 'pages failed(FailureReason::StoreError, e.to_string()),
                    };
                    (classified, report.inserted, page.next_cursor, false)
                }
                Attempt::Wait { reason, delay, calls, error } => {
                    summary.retried_calls += 1;
                    let task = RetryTask {
                        job_id: job_id.clone(),
                        partner_id: request.partner_id.clone(),
                        page: page_no,
                        request: req.clone(),
                        attempts: calls,
                        reason,
                        last_error: error,
                    };
                    if let Err(e) = inner.queue.enqueue(task, delay).await {
                        break 'pages failed(FailureReason::QueueError, e.to_string());
                    }
                    yield Progress::WaitingForPartner {
                        page: page_no,
                        reason,
                        attempt: calls,
                        retry_in_ms: Some(delay.as_millis() as u64),
                    };
                    // Wait for the retry worker's word on this page.
                    let outcome = loop {
                        let msg = match tokio::time::timeout_at(deadline, results.next()).await {
                            Err(_) => break Err(failed(
                                FailureReason::DeadlineExceeded,
                                format!("job ran past its deadline of {:?}", inner.settings.job_deadline),
                            )),
                            Ok(None) => break Err(failed(
                                FailureReason::QueueError,
                                "result bus closed".into(),
                            )),
                            Ok(Some(m)) => m,
                        };
                        if msg.page() != page_no {
                            continue;
                        }
                        match msg {
                            RetryMessage::Attempted { attempts, reason, retry_in_ms, .. } => {
                                yield Progress::WaitingForPartner {
                                    page: page_no,
                                    reason,
                                    attempt: attempts,
                                    retry_in_ms: Some(retry_in_ms),
                                };
                            }
                            RetryMessage::Fetched { next_cursor, transactions, inserted, .. } => {
                                break Ok((transactions, inserted, next_cursor));
                            }
                            RetryMessage::CircuitChanged { from, to, .. } => {
                                yield Progress::CircuitChanged {
                                    partner_id: request.partner_id.clone(),
                                    from,
                                    to,
                                };
                            }
                            RetryMessage::GaveUp { kind, error, .. } => {
                                let reason = match kind {
                                    Some(FailureKind::BadData) => FailureReason::BadPartnerData,
                                    Some(FailureKind::ClientError) => FailureReason::PartnerRejected,
                                    _ => FailureReason::PartnerUnavailable,
                                };
                                break Err(failed(reason, error));
                            }
                        }
                    };
                    match outcome {
                        Err(ev) => break 'pages ev,
                        Ok((classified, inserted, next)) => {
                            yield Progress::PageFetched {
                                page: page_no,
                                transactions: classified.len(),
                                via_retry: true,
                            };
                            (classified, inserted, next, true)
                        }
                    }
                }
            };
            let _ = via_retry;
            summary.pages += 1;
            summary.add(&classified);
            yield Progress::Classified {
                page: page_no,
                transactions: classified.len(),
                inserted,
                total: summary.transactions,
            };
            match next {
                Some(c) => cursor = Some(c),
                None => {
                    summary.elapsed_ms = started.elapsed().as_millis() as u64;
                    break 'pages Progress::Done { job_id: job_id.clone(), summary: summary.clone() };
                }
            }
            if tokio::time::Instant::now() >= deadline {
                break 'pages failed(
                    FailureReason::DeadlineExceeded,
                    format!("job ran past its deadline of {:?}", inner.settings.job_deadline),
                );
            }
        };
        finish(&inner, &mut guard, &mut record, &end).await;
        yield end;
    }
}

/// Writes the job's final record and disarms the cancel guard.
async fn finish(inner: &Inner, guard: &mut CancelGuard, record: &mut JobRecord, end: &Progress) {
    guard.record = None;
    record.status = match end {
        Progress::Done { summary, .. } => JobStatus::Done {
            summary: summary.clone(),
        },
        Progress::Failed {
            reason, message, ..
        } => JobStatus::Failed {
            reason: *reason,
            message: message.clone(),
        },
        _ => JobStatus::Running,
    };
    record.updated_at = Utc::now();
    if let Err(e) = inner.store.put_job(record).await {
        tracing::warn!(job = %record.id, error = %e, "could not save the job's final record");
    }
}

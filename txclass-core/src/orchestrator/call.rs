//! One guarded partner call, and one way to classify and store a page: the job's direct
//! attempt and the retry worker's attempt both go through here, so they cannot disagree on
//! what a busy limiter, an open circuit, a failed call or a failed store write means.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use super::RetryPolicy;
use super::{Inner, Partner};
use crate::backoff::Backoff;
use crate::breaker::OnOpen;
use crate::breaker::{CallOutcome, FailureKind, Transition};
use crate::domain::{
    ClassificationRequest, ClassifiedTransaction, JobId, PartnerId, Summary, TenantId, Transaction,
};
use crate::limiter::Feedback;
use crate::partner::{Page, PageRequest, PartnerError};
use crate::progress::{FailureReason, WaitReason};
use crate::rules::RuleSet;
use crate::store::{PageOutcome, PageRecord, Store, StoreError};
use crate::telemetry;

/// What one attempt at a page came to.
pub(crate) enum Attempt {
    /// The partner answered with the page.
    Page(Page),
    /// Not now: try again after `delay`. `attempts` counts the calls made so far (a busy
    /// limiter or an open circuit makes no call and does not count).
    Retry {
        reason: WaitReason,
        delay: Duration,
        attempts: u32,
        error: Option<String>,
    },
    /// Never: the job fails with this reason.
    GiveUp(FailureReason, String),
}

/// Why a call is waiting, from the failure that stopped it.
fn wait_reason(kind: FailureKind) -> WaitReason {
    match kind {
        FailureKind::Timeout => WaitReason::Timeout,
        FailureKind::RateLimited => WaitReason::RateLimited,
        FailureKind::ServerError | FailureKind::ClientError | FailureKind::BadData => {
            WaitReason::PartnerError
        }
        FailureKind::Unreachable => WaitReason::Unreachable,
    }
}

/// The only mapping from a failed call to "retry" or "give up": the partner's policy says
/// which failures are retried and how many calls a page may take.
pub(crate) fn verdict(policy: &RetryPolicy, e: &PartnerError, attempts: u32) -> Attempt {
    let kind = e.kind();
    if !policy.retry_on.contains(&kind) {
        let reason = match kind {
            FailureKind::BadData => FailureReason::BadPartnerData,
            _ => FailureReason::PartnerRejected,
        };
        return Attempt::GiveUp(reason, e.to_string());
    }
    if attempts >= policy.max_attempts.get() {
        return Attempt::GiveUp(
            FailureReason::PartnerUnavailable,
            format!("gave up after {attempts} attempts: {e}"),
        );
    }
    // Full jitter, as the policy documents.
    let delay = e
        .retry_after()
        .unwrap_or_else(|| policy.backoff(attempts, rand::thread_rng().gen_range(0.0..=1.0)));
    Attempt::Retry {
        reason: wait_reason(kind),
        delay,
        attempts,
        error: Some(e.to_string()),
    }
}

/// A short random pause before a busy partner is tried again.
fn busy_delay() -> Duration {
    Duration::from_millis(rand::thread_rng().gen_range(20..120))
}

/// Calls the partner once for `req`, under a permit (waiting at most `wait` for one) and
/// the breaker; `made` calls were made for this page before. Decides, never sleeps.
/// Circuit transitions the call caused are pushed to `transitions`.
pub(crate) async fn attempt(
    inner: &Inner,
    p: &Partner,
    req: &PageRequest,
    made: u32,
    wait: Duration,
    transitions: &mut Vec<Transition>,
) -> Attempt {
    let busy = |delay| Attempt::Retry {
        reason: WaitReason::PartnerBusy,
        delay,
        attempts: made,
        error: None,
    };
    let asked = Instant::now();
    let acquired = inner.limiter.acquire(&p.config.id, wait).await;
    let result = match &acquired {
        Ok(Some(_)) => "acquired",
        Ok(None) => "busy",
        Err(_) => "error",
    };
    telemetry::acquire_waited(&p.config.id, asked.elapsed(), result);
    let permit = match acquired {
        Ok(Some(permit)) => permit,
        Ok(None) => return busy(busy_delay()),
        Err(e) => {
            // Fail closed: no permit, no call; the job's deadline bounds the wait.
            tracing::warn!(partner = %p.config.id, error = %e, "limiter failed; call waits");
            return busy(Duration::from_secs(1));
        }
    };
    let (admitted, t) = p.breaker.try_acquire();
    record_transitions(&p.config.id, transitions, t);
    let call = match admitted {
        Ok(call) => call,
        Err(not_until) => {
            return match p.config.circuit.on_open {
                OnOpen::Queue => Attempt::Retry {
                    reason: WaitReason::CircuitOpen,
                    delay: not_until.wait,
                    attempts: made,
                    error: None,
                },
                OnOpen::Reject => Attempt::GiveUp(
                    FailureReason::CircuitOpen,
                    format!("circuit of partner {} is open", p.config.id),
                ),
            }
        }
    };
    // A hard deadline above the adapter's own timeout, so a misbehaving adapter cannot hold
    // a permit forever.
    let limit = p.adapter.timeout() + Duration::from_secs(1);
    let started = Instant::now();
    let result = match tokio::time::timeout(limit, p.adapter.fetch_page(req, &permit)).await {
        Ok(r) => r,
        Err(_) => Err(PartnerError::Timeout { after: limit }),
    };
    telemetry::call_made(&p.config.id, &result, started.elapsed());
    // A 429 is the partner's pushback: it lowers the concurrency admitted (the limiter's
    // decision); whether it also counts against the circuit is the breaker's `record` set
    // (by default it does not).
    match &result {
        Ok(_) => permit.finish(Feedback::Served),
        Err(e) if e.kind() == FailureKind::RateLimited => permit.finish(Feedback::Overloaded),
        Err(_) => drop(permit),
    }
    let outcome = match &result {
        Ok(_) => CallOutcome::Success,
        Err(e) => CallOutcome::Failure(e.kind()),
    };
    let t = p.breaker.record(call, outcome);
    record_transitions(&p.config.id, transitions, t);
    match result {
        Ok(page) => Attempt::Page(page),
        Err(e) => verdict(&p.config.retry, &e, made + 1),
    }
}

/// Keeps the circuit transitions a call caused (for the job's events) and counts them.
fn record_transitions(partner: &PartnerId, out: &mut Vec<Transition>, t: Option<Transition>) {
    if let Some(t) = t {
        telemetry::circuit_changed(partner, &t);
        out.push(t);
    }
}

async fn classify(
    inner: &Inner,
    rules: &Arc<RuleSet>,
    request: &ClassificationRequest,
    txs: Vec<Transaction>,
) -> Vec<ClassifiedTransaction> {
    let (classifier, rules, partner) = (
        inner.classifier.clone(),
        rules.clone(),
        request.partner_id.clone(),
    );
    // CPU work (a page through the rules and a model of tens of labels): on the blocking
    // pool, so that it never holds up the runtime threads that renew job leases and send
    // events (a lease renewed late is a job taken over and fetched twice).
    let (txs, predictions) = tokio::task::spawn_blocking(move || {
        let predictions = rules.classify(classifier.as_ref(), &txs, Some(&partner));
        (txs, predictions)
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    telemetry::classified(&predictions);
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

/// Store writes a page may take before the job fails with `store_error`.
const STORE_ATTEMPTS: u32 = 4;

/// Between two store writes of one page or event: 200 ms, 400 ms, 800 ms, 1.6 s.
pub(crate) fn store_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(200), Duration::from_secs(2))
}

/// Classifies a fetched page (through the job's `rules` and the model) and stores it with
/// the job's checkpoint for it (the only classify-and-store). A failed write is tried again a
/// few times with a short backoff.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn process_page(
    inner: &Inner,
    rules: &Arc<RuleSet>,
    tenant: &TenantId,
    job_id: &JobId,
    request: &ClassificationRequest,
    page_no: u32,
    page: Page,
    via_retry: bool,
) -> Result<PageOutcome, StoreError> {
    let classified = classify(inner, rules, request, page.transactions).await;
    let mut totals = Summary::default();
    totals.add(&classified);
    totals.pages = 1;
    totals.retried_calls = u32::from(via_retry);
    let record = PageRecord {
        job_id: job_id.clone(),
        page: page_no,
        next_cursor: page.next_cursor,
        totals,
    };
    let mut tries = 0;
    let mut backoff = store_backoff();
    let store = inner.data(tenant);
    let report = loop {
        tries += 1;
        match store.store_page(&record, &classified).await {
            Ok(r) => break r,
            Err(e) if tries < STORE_ATTEMPTS => {
                tracing::warn!(job = %job_id, page = page_no, error = %e, "store failed; trying again");
                tokio::time::sleep(backoff.next_delay()).await;
            }
            Err(e) => return Err(e),
        }
    };
    Ok(PageOutcome {
        transactions: classified.len(),
        inserted: report.inserted,
        next_cursor: record.next_cursor,
        totals: record.totals,
    })
}

//! A job's run: owned by one instance (the holder of its lease), independent of any client.
//!
//! The runner pages through the partner, classifies and stores each page with its
//! checkpoint, and writes every event to the job's log in the store before anyone may read
//! it. Clients watch the log ([`super::Job`]); they may come and go. The job stops early when
//! it is cancelled (`DELETE`), when no client has watched it for the re-attach window (unless
//! it was started detached), when its deadline passes, or when it loses its lease (another
//! instance took it over: this one stops without a word).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::call::{attempt, process_page, Attempt};
use super::Inner;
use crate::backoff::Backoff;
use crate::breaker::Transition;
use crate::domain::{JobId, JobRecord, JobStatus, Summary, TenantId};
use crate::partner::PageRequest;
use crate::progress::{FailureReason, Progress};
use crate::queue::{RetryMessage, RetryTask};
use crate::store::{LoggedEvent, PageOutcome, PageRecord, StoreError, MAX_EVENTS};
use crate::sync::Lock;

/// Writes of one event to the log before the job fails with `store_error`.
const EVENT_WRITE_ATTEMPTS: u32 = 5;

/// A job running on this instance, as its local watchers see it.
pub(crate) struct LiveJob {
    pub(crate) id: JobId,
    /// Whose job it is.
    pub(crate) tenant: TenantId,
    /// The events this instance logged, from `first_seq` on (watchers read older ones from
    /// the store).
    log: Mutex<Vec<LoggedEvent>>,
    first_seq: AtomicU64,
    /// The last logged seq; also changes (without a new seq) when the run ends here.
    last: watch::Sender<u64>,
    /// Stops the run (`DELETE`, shutdown).
    stop: CancellationToken,
    stop_reason: Mutex<Option<(FailureReason, String)>>,
    watchers: AtomicUsize,
    unwatched_since: Mutex<Option<Instant>>,
    detached: bool,
    /// The run is over here (ended, or the job moved to another instance): watchers read
    /// what is left from the store.
    finished: std::sync::atomic::AtomicBool,
    /// Stop without an end: the job stays `running` for another instance (or this one after
    /// a restart) to take over.
    handing_over: std::sync::atomic::AtomicBool,
}

impl LiveJob {
    fn new(id: JobId, tenant: TenantId, detached: bool) -> Arc<Self> {
        Arc::new(Self {
            id,
            tenant,
            log: Mutex::new(Vec::new()),
            first_seq: AtomicU64::new(1),
            last: watch::channel(0).0,
            stop: CancellationToken::new(),
            stop_reason: Mutex::new(None),
            watchers: AtomicUsize::new(0),
            unwatched_since: Mutex::new(Some(Instant::now())),
            detached,
            finished: std::sync::atomic::AtomicBool::new(false),
            handing_over: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Events from `seq` on that are in memory, and the first seq memory holds.
    pub(crate) fn since(&self, seq: u64) -> (Vec<LoggedEvent>, u64) {
        let log = self.log.locked();
        let first = self.first_seq.load(Ordering::Acquire);
        let skip = seq.saturating_sub(first) as usize;
        (log.iter().skip(skip).cloned().collect(), first)
    }

    /// A receiver that changes when an event is logged, and closes when the run ends.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.last.subscribe()
    }

    /// Whether the run is over on this instance.
    pub(crate) fn finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Stops the run without ending the job, and gives its lease up: another instance's
    /// sweeper (or this process's after a restart) carries it on from its last stored page.
    pub(crate) fn hand_over(&self) {
        self.handing_over.store(true, Ordering::Release);
        self.stop.cancel();
    }

    /// Marks the run over and wakes the watchers.
    fn finish(&self) {
        self.finished.store(true, Ordering::Release);
        self.last.send_modify(|_| {});
    }

    /// Counts a watcher until the guard is dropped.
    pub(crate) fn watch(self: &Arc<Self>) -> WatchGuard {
        self.watchers.fetch_add(1, Ordering::AcqRel);
        *self.unwatched_since.locked() = None;
        WatchGuard(self.clone())
    }

    /// Asks the run to stop with `reason`.
    pub(crate) fn stop(&self, reason: FailureReason, message: String) {
        let mut r = self.stop_reason.locked();
        r.get_or_insert((reason, message));
        self.stop.cancel();
    }

    fn push(&self, ev: LoggedEvent) {
        let seq = ev.seq;
        {
            let mut log = self.log.locked();
            if log.is_empty() {
                self.first_seq.store(seq, Ordering::Release);
            }
            log.push(ev);
        }
        self.last.send_replace(seq);
    }

    /// Unwatched for longer than `window`, as far as this instance knows.
    fn unwatched_for(&self, window: Duration) -> bool {
        if self.detached || self.watchers.load(Ordering::Acquire) > 0 {
            return false;
        }
        let since = self.unwatched_since.locked();
        since.is_some_and(|t| t.elapsed() >= window)
    }
}

/// Keeps a job counted as watched.
pub(crate) struct WatchGuard(Arc<LiveJob>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        if self.0.watchers.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.0.unwatched_since.locked() = Some(Instant::now());
        }
    }
}

/// The jobs running on this instance.
#[derive(Default)]
pub(crate) struct Registry {
    jobs: Mutex<HashMap<JobId, Arc<LiveJob>>>,
}

impl Registry {
    pub(crate) fn get(&self, id: &JobId) -> Option<Arc<LiveJob>> {
        self.jobs.locked().get(id).cloned()
    }

    fn insert(&self, id: &JobId, tenant: &TenantId, detached: bool) -> Option<Arc<LiveJob>> {
        let mut jobs = self.jobs.locked();
        if jobs.contains_key(id) {
            return None;
        }
        let live = LiveJob::new(id.clone(), tenant.clone(), detached);
        jobs.insert(id.clone(), live.clone());
        Some(live)
    }

    fn remove(&self, id: &JobId) {
        self.jobs.locked().remove(id);
    }

    /// How many jobs run here.
    pub(crate) fn len(&self) -> usize {
        self.jobs.locked().len()
    }

    pub(crate) fn all(&self) -> Vec<Arc<LiveJob>> {
        self.jobs.locked().values().cloned().collect()
    }
}

/// Why a run stopped before its terminal event.
enum Stop {
    /// Another instance owns the job now, or will (handed over): stop without a word.
    Lost,
    /// End the job with this event.
    End(Progress),
}

/// Starts running `record` on this instance, unless it already runs here. `fresh`: a new
/// job (log `accepted`); otherwise a resumed one (carry on from the log and checkpoints).
pub(crate) fn spawn(inner: &Arc<Inner>, record: JobRecord, fresh: bool, detached: bool) -> bool {
    let Some(live) = inner.registry.insert(&record.id, &record.tenant, detached) else {
        return false;
    };
    let inner2 = inner.clone();
    inner.runners.spawn(async move {
        let id = record.id.clone();
        if fresh {
            // Held before the record exists, so no sweeper ever sees this job unowned.
            let ttl = inner2.settings.job_lease;
            if let Err(e) = inner2.leases.renew(&id, &inner2.owner, ttl).await {
                tracing::warn!(job = %id, error = %e, "could not take the job's lease yet");
            }
        }
        crate::telemetry::job_started(!fresh);
        run(&inner2, &live, record, fresh).await;
        inner2.registry.remove(&id);
        live.finish();
        if let Err(e) = inner2.leases.release(&id, &inner2.owner).await {
            tracing::debug!(job = %id, error = %e, "could not release the job's lease");
        }
    });
    true
}

/// The job's log: numbers events gap-free and writes each to the store before watchers see it.
struct EventLog<'a> {
    inner: &'a Inner,
    live: &'a LiveJob,
    seq: u64,
}

impl EventLog<'_> {
    async fn emit(&mut self, event: Progress) -> Result<(), Stop> {
        let logged = LoggedEvent {
            seq: self.seq + 1,
            event,
        };
        let mut tries = 0;
        let mut backoff = super::call::store_backoff();
        loop {
            tries += 1;
            match self.inner.store.append_event(&self.live.id, &logged).await {
                Ok(()) => break,
                Err(StoreError::Conflict(_)) => return Err(Stop::Lost),
                Err(e) if tries < EVENT_WRITE_ATTEMPTS => {
                    tracing::warn!(job = %self.live.id, error = %e, "event log write failed; trying again");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                Err(e) => {
                    tracing::error!(job = %self.live.id, error = %e, "event log write failed");
                    return Err(Stop::End(Progress::Failed {
                        job_id: self.live.id.clone(),
                        reason: FailureReason::StoreError,
                        message: e.to_string(),
                    }));
                }
            }
        }
        self.seq = logged.seq;
        self.live.push(logged);
        Ok(())
    }

    async fn circuit(
        &mut self,
        partner: &crate::domain::PartnerId,
        ts: Vec<Transition>,
    ) -> Result<(), Stop> {
        for t in ts {
            tracing::info!(partner = %partner, from = ?t.from, to = ?t.to, "circuit changed");
            self.emit(Progress::CircuitChanged {
                partner_id: partner.clone(),
                from: t.from,
                to: t.to,
            })
            .await?;
        }
        Ok(())
    }
}

async fn run(inner: &Arc<Inner>, live: &Arc<LiveJob>, mut record: JobRecord, fresh: bool) {
    let mut log = EventLog {
        inner,
        live,
        seq: 0,
    };
    let failed = |reason, message| {
        Stop::End(Progress::Failed {
            job_id: live.id.clone(),
            reason,
            message,
        })
    };
    let deadline_at = record.created_at
        + chrono::Duration::from_std(inner.settings.job_deadline).unwrap_or(chrono::TimeDelta::MAX);
    let left = (deadline_at - Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    let stop = if fresh {
        match inner.store.put_job(&record).await {
            Err(e) => failed(FailureReason::StoreError, e.to_string()),
            Ok(()) => {
                let from = From {
                    summary: Summary::default(),
                    page: 0,
                    cursor: None,
                    pending: None,
                    resumed: false,
                };
                drive_for(inner, live, &mut log, &record, from, left).await
            }
        }
    } else {
        match resume_point(inner, &mut log, &record).await {
            Err(e) => failed(FailureReason::StoreError, e.to_string()),
            Ok(Resume::Ended) => return,
            Ok(Resume::At(_)) if left.is_zero() => failed(
                FailureReason::Interrupted,
                "the job's instance stopped and its deadline passed before it could resume".into(),
            ),
            Ok(Resume::At(from)) => {
                tracing::info!(job = %record.id, page = from.page, "resuming job");
                drive_for(inner, live, &mut log, &record, *from, left).await
            }
        }
    };
    let Stop::End(end) = stop else {
        tracing::info!(job = %record.id, "job handed over or taken over; stopping here");
        return;
    };
    // The terminal event first, then the record: a watcher that saw the event and reads
    // the record a moment later may briefly see `running`, never a record without its event.
    if let Err(Stop::Lost) = log.emit(end.clone()).await {
        return;
    }
    record.status = status_after(end);
    record.updated_at = Utc::now();
    let age = (record.updated_at - record.created_at)
        .to_std()
        .unwrap_or(Duration::ZERO);
    crate::telemetry::job_finished(&record.status, age);
    if let Err(e) = inner.store.put_job(&record).await {
        tracing::warn!(job = %record.id, error = %e, "could not save the job's final record");
    }
}

/// The record's status after the job's terminal event.
fn status_after(end: Progress) -> JobStatus {
    match end {
        Progress::Done { summary, .. } => JobStatus::Done { summary },
        Progress::Failed {
            reason: FailureReason::Cancelled,
            ..
        } => JobStatus::Cancelled,
        Progress::Failed {
            reason, message, ..
        } => JobStatus::Failed { reason, message },
        _ => JobStatus::Running,
    }
}

enum Resume {
    /// The log already ends with a terminal event (the record is brought in line).
    Ended,
    /// Carry on from here.
    At(Box<From>),
}

/// Where a resumed job carries on: after its last logged event and its last stored page.
async fn resume_point(
    inner: &Inner,
    log: &mut EventLog<'_>,
    record: &JobRecord,
) -> Result<Resume, StoreError> {
    let mut last = None;
    let (mut fetched_upto, mut classified_upto) = (0, 0);
    loop {
        let batch = inner.store.events(&record.id, log.seq, MAX_EVENTS).await?;
        let Some(tail) = batch.last() else { break };
        log.seq = tail.seq;
        last = Some(tail.event.clone());
        for ev in &batch {
            match ev.event {
                Progress::PageFetched { page, .. } => fetched_upto = fetched_upto.max(page),
                Progress::Classified { page, .. } => classified_upto = classified_upto.max(page),
                _ => {}
            }
        }
    }
    if let Some(end) = last.filter(Progress::is_terminal) {
        let mut record = record.clone();
        record.status = status_after(end);
        inner.store.put_job(&record).await?;
        return Ok(Resume::Ended);
    }
    let mut pages = inner.store.pages(&record.id).await?;
    let pending = pages.pop_if(|p| p.page > classified_upto).map(|p| {
        let fetched_logged = p.page <= fetched_upto;
        (p, fetched_logged)
    });
    let mut summary = Summary::default();
    for p in &pages {
        summary.merge(&p.totals);
    }
    let (page, cursor) = match (&pending, pages.last()) {
        (Some((p, _)), _) => (p.page, p.next_cursor.clone()),
        (None, Some(p)) => (p.page, p.next_cursor.clone()),
        (None, None) => (0, None),
    };
    Ok(Resume::At(Box::new(From {
        summary,
        page,
        cursor,
        pending,
        resumed: true,
    })))
}

/// Where a run starts: after `page` (0: the first), from `cursor`, with `summary` so far.
struct From {
    /// Totals of the pages already logged `classified`.
    summary: Summary,
    /// The last stored page.
    page: u32,
    cursor: Option<String>,
    /// The last stored page, when the log does not say so yet (the owner died between
    /// storing it and logging it), and whether its `page_fetched` was logged.
    pending: Option<(PageRecord, bool)>,
    /// A job another run had before (its next page may be on the retry queue).
    resumed: bool,
}

/// Runs the pages until the end, under the job's deadline and its supervisor.
async fn drive_for(
    inner: &Arc<Inner>,
    live: &Arc<LiveJob>,
    log: &mut EventLog<'_>,
    record: &JobRecord,
    from: From,
    left: Duration,
) -> Stop {
    let id = &record.id;
    let work = async {
        if log.seq == 0 {
            let r = &record.request;
            log.emit(Progress::Accepted {
                job_id: id.clone(),
                partner_id: r.partner_id.clone(),
                customer_id: r.customer_id.clone(),
                from: r.from,
                to: r.to,
            })
            .await?;
        }
        pages(inner, log, record, from).await
    };
    let deadline = tokio::time::sleep(left);
    tokio::select! {
        stop = work => match stop { Ok(end) => Stop::End(end), Err(s) => s },
        stop = supervise(inner, live) => stop,
        () = deadline => Stop::End(Progress::Failed {
            job_id: id.clone(),
            reason: FailureReason::DeadlineExceeded,
            message: format!("job ran past its deadline of {:?}", inner.settings.job_deadline),
        }),
    }
}

/// Keeps the lease, and ends the run when it is lost, cancelled or abandoned.
async fn supervise(inner: &Inner, live: &LiveJob) -> Stop {
    let ttl = inner.settings.job_lease;
    let window = inner.settings.reattach_window;
    // The lease and the shared signals are read every third of a lease; whether a local
    // client is still there is cheap, so it is checked more often.
    let renew_every = (ttl / 3).max(Duration::from_millis(10));
    let period = renew_every
        .min(window / 4)
        .clamp(Duration::from_millis(10), Duration::from_millis(500));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut renewed: Option<Instant> = None;
    let cancelled = |message: &str| {
        Stop::End(Progress::Failed {
            job_id: live.id.clone(),
            reason: FailureReason::Cancelled,
            message: message.into(),
        })
    };
    loop {
        tokio::select! {
            () = live.stop.cancelled() => {
                if live.handing_over.load(Ordering::Acquire) {
                    return Stop::Lost;
                }
                let (reason, message) = live
                    .stop_reason
                    .locked()
                    .clone()
                    .unwrap_or((FailureReason::Cancelled, "cancelled".into()));
                return Stop::End(Progress::Failed { job_id: live.id.clone(), reason, message });
            }
            _ = tick.tick() => {}
        }
        if renewed.is_none_or(|t| t.elapsed() >= renew_every) {
            renewed = Some(Instant::now());
            match inner.leases.renew(&live.id, &inner.owner, ttl).await {
                Ok(true) => {}
                Ok(false) => return Stop::Lost,
                // A backend blip: keep working; renewal takes the lease back when it returns.
                Err(e) => tracing::warn!(job = %live.id, error = %e, "lease renewal failed"),
            }
            if inner
                .leases
                .cancel_requested(&live.id)
                .await
                .unwrap_or(false)
            {
                return cancelled("cancelled by request");
            }
        }
        if live.unwatched_for(window) && !inner.leases.watched(&live.id).await.unwrap_or(true) {
            return cancelled("no client watched the job for the re-attach window");
        }
    }
}

/// Pages from `page + 1` on, carrying on from `cursor` (a resumed job) with `summary` so far.
async fn pages(
    inner: &Arc<Inner>,
    log: &mut EventLog<'_>,
    record: &JobRecord,
    from: From,
) -> Result<Progress, Stop> {
    let From {
        mut summary,
        page: mut page_no,
        mut cursor,
        pending,
        resumed,
    } = from;
    if let Some((rec, fetched_logged)) = pending {
        // Stored by the dead owner, not logged yet: log it, never fetch it again.
        let fetched = (!fetched_logged).then_some(false);
        match log_stored_page(log, &mut summary, rec, fetched, record).await? {
            Next::Page(c) => cursor = Some(c),
            Next::Done(end) => return Ok(end),
        }
    }
    if page_no > 0 && cursor.is_none() {
        // The last stored page was the partner's last: only `done` was missing.
        return Ok(done(&mut summary, record));
    }
    let request = &record.request;
    let job_id = &record.id;
    let partner = &inner.partners[&request.partner_id];
    // Subscribe before anything is queued, so no retry outcome is missed.
    let mut results = inner.bus.subscribe(job_id).await.map_err(|e| {
        Stop::End(Progress::Failed {
            job_id: job_id.clone(),
            reason: FailureReason::QueueError,
            message: e.to_string(),
        })
    })?;
    let fail = |reason, message| {
        Stop::End(Progress::Failed {
            job_id: job_id.clone(),
            reason,
            message,
        })
    };
    // The job's rules and the customer's corrections, read once for all its pages.
    let rules = inner
        .job_rules(&record.tenant, &request.customer_id)
        .await
        .map_err(|e| fail(FailureReason::StoreError, e.to_string()))?;
    let mut resumed = resumed;
    loop {
        page_no += 1;
        let req = PageRequest {
            customer_id: request.customer_id.clone(),
            from: request.from,
            to: request.to,
            cursor: cursor.clone(),
        };
        // A resumed job's next page may still be on the retry queue, put there by the dead
        // owner: then its result is awaited, not fetched a second time. And a retry worker
        // may have stored it since the checkpoints were read.
        let first_after_resume = std::mem::take(&mut resumed);
        let requeue = first_after_resume
            && inner
                .queue
                .is_queued(job_id, page_no)
                .await
                .unwrap_or(false);
        let stored = if first_after_resume && !requeue {
            inner
                .store
                .pages(job_id)
                .await
                .map_err(|e| fail(FailureReason::StoreError, e.to_string()))?
                .into_iter()
                .find(|p| p.page == page_no)
        } else {
            None
        };
        if let Some(rec) = stored {
            match log_stored_page(log, &mut summary, rec, Some(true), record).await? {
                Next::Page(c) => {
                    cursor = Some(c);
                    continue;
                }
                Next::Done(end) => return Ok(end),
            }
        }
        let a = if requeue {
            Attempt::Retry {
                reason: crate::progress::WaitReason::PartnerBusy,
                delay: Duration::ZERO,
                attempts: 0,
                error: None,
            }
        } else {
            // A busy partner: say so, then wait here for a permit (a release wakes the
            // wait; nothing polls) before handing the call to the retry queue.
            let mut transitions = Vec::new();
            let mut a = attempt(inner, partner, &req, 0, Duration::ZERO, &mut transitions).await;
            let wait = inner.settings.acquire_wait;
            if is_busy(&a) && !wait.is_zero() {
                log.emit(Progress::WaitingForPartner {
                    page: page_no,
                    reason: crate::progress::WaitReason::PartnerBusy,
                    attempt: 0,
                    retry_in_ms: None,
                })
                .await?;
                a = attempt(inner, partner, &req, 0, wait, &mut transitions).await;
            }
            log.circuit(&request.partner_id, transitions).await?;
            a
        };
        let outcome = match a {
            Attempt::GiveUp(reason, message) => return Err(fail(reason, message)),
            Attempt::Page(page) => {
                log.emit(Progress::PageFetched {
                    page: page_no,
                    transactions: page.transactions.len(),
                    via_retry: false,
                })
                .await?;
                let tenant = &record.tenant;
                process_page(inner, &rules, tenant, job_id, request, page_no, page, false)
                    .await
                    .map_err(|e| fail(FailureReason::StoreError, e.to_string()))?
            }
            Attempt::Retry {
                reason,
                delay,
                attempts,
                error,
            } => {
                let task = RetryTask {
                    job_id: job_id.clone(),
                    tenant: record.tenant.clone(),
                    partner_id: request.partner_id.clone(),
                    page: page_no,
                    request: req.clone(),
                    attempts,
                    reason,
                    last_error: error,
                };
                if !requeue {
                    enqueue(inner, &task, delay).await?;
                }
                log.emit(Progress::WaitingForPartner {
                    page: page_no,
                    reason,
                    attempt: attempts,
                    retry_in_ms: Some(delay.as_millis() as u64),
                })
                .await?;
                let outcome = wait_for_retry(inner, log, &mut results, &task).await?;
                log.emit(Progress::PageFetched {
                    page: page_no,
                    transactions: outcome.transactions,
                    via_retry: true,
                })
                .await?;
                outcome
            }
        };
        match finish_page(log, &mut summary, page_no, outcome, record).await? {
            Next::Page(c) => cursor = Some(c),
            Next::Done(end) => return Ok(end),
        }
    }
}

/// Logs a page that is already stored (by a dead owner, or a retry worker) as if it had just
/// come in: `page_fetched` (when `fetched` says with which `via_retry`), then `classified`.
async fn log_stored_page(
    log: &mut EventLog<'_>,
    summary: &mut Summary,
    rec: PageRecord,
    fetched: Option<bool>,
    record: &JobRecord,
) -> Result<Next, Stop> {
    let page = rec.page;
    if let Some(via_retry) = fetched {
        log.emit(Progress::PageFetched {
            page,
            transactions: rec.totals.transactions as usize,
            via_retry,
        })
        .await?;
    }
    finish_page(log, summary, page, rec.into(), record).await
}

/// The limiter had no permit (as opposed to a failed call or an open circuit).
fn is_busy(a: &Attempt) -> bool {
    matches!(
        a,
        Attempt::Retry {
            reason: crate::progress::WaitReason::PartnerBusy,
            ..
        }
    )
}

/// After a page: the next page's cursor, or the job's end.
enum Next {
    Page(String),
    Done(Progress),
}

/// Adds a stored page to the job's summary and logs it.
async fn finish_page(
    log: &mut EventLog<'_>,
    summary: &mut Summary,
    page_no: u32,
    outcome: PageOutcome,
    record: &JobRecord,
) -> Result<Next, Stop> {
    summary.merge(&outcome.totals);
    log.emit(Progress::Classified {
        page: page_no,
        transactions: outcome.transactions,
        inserted: outcome.inserted,
        total: summary.transactions,
    })
    .await?;
    Ok(match outcome.next_cursor {
        Some(c) => Next::Page(c),
        None => Next::Done(done(summary, record)),
    })
}

/// The job's `done` event, with its summary and wall time.
fn done(summary: &mut Summary, record: &JobRecord) -> Progress {
    summary.elapsed_ms = (Utc::now() - record.created_at)
        .to_std()
        .unwrap_or_default()
        .as_millis() as u64;
    Progress::Done {
        job_id: record.id.clone(),
        summary: summary.clone(),
    }
}

/// Silence after which a waiting job asks the queue whether its call is still there.
const RECHECK: Duration = Duration::from_secs(3);

/// Puts a call on the retry queue, trying again with backoff while the queue's backend is
/// down (the job's deadline bounds the wait).
async fn enqueue(inner: &Inner, task: &RetryTask, delay: Duration) -> Result<(), Stop> {
    let mut pause = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
    loop {
        match inner.queue.enqueue(task.clone(), delay).await {
            Ok(_) => return Ok(()),
            Err(e) => {
                tracing::warn!(job = %task.job_id, page = task.page, error = %e, "enqueue failed; trying again");
                tokio::time::sleep(pause.next_delay()).await;
            }
        }
    }
}

/// Waits for the retry worker's word on the task's page, relaying its news to the log. When
/// nothing is heard for a while and the queue no longer holds the call (its backend came
/// back empty), the call is queued again.
async fn wait_for_retry(
    inner: &Inner,
    log: &mut EventLog<'_>,
    results: &mut futures::stream::BoxStream<'static, RetryMessage>,
    task: &RetryTask,
) -> Result<PageOutcome, Stop> {
    let (job_id, page_no) = (&task.job_id, task.page);
    loop {
        let msg = match tokio::time::timeout(RECHECK, results.next()).await {
            Ok(Some(msg)) => msg,
            Ok(None) => {
                return Err(Stop::End(Progress::Failed {
                    job_id: job_id.clone(),
                    reason: FailureReason::QueueError,
                    message: "result bus closed".into(),
                }))
            }
            Err(_) => {
                match inner.queue.is_queued(job_id, page_no).await {
                    Ok(true) => {}
                    Ok(false) => {
                        // A result published just now may still be on its way.
                        if let Ok(Some(msg)) =
                            tokio::time::timeout(Duration::from_millis(300), results.next()).await
                        {
                            if msg.page() == page_no {
                                if let Some(outcome) = relay(log, msg, task).await? {
                                    return Ok(outcome);
                                }
                            }
                            continue;
                        }
                        tracing::warn!(job = %job_id, page = page_no, "queued call lost; queueing it again");
                        enqueue(inner, task, Duration::ZERO).await?;
                    }
                    Err(e) => {
                        tracing::warn!(job = %job_id, error = %e, "cannot check the retry queue")
                    }
                }
                continue;
            }
        };
        if msg.page() != page_no {
            continue;
        }
        if let Some(outcome) = relay(log, msg, task).await? {
            return Ok(outcome);
        }
    }
}

/// Logs what a message about the waited page says; the page's outcome once it is fetched.
async fn relay(
    log: &mut EventLog<'_>,
    msg: RetryMessage,
    task: &RetryTask,
) -> Result<Option<PageOutcome>, Stop> {
    let (job_id, page_no) = (&task.job_id, task.page);
    match msg {
        RetryMessage::Attempted {
            attempts,
            reason,
            retry_in_ms,
            ..
        } => {
            log.emit(Progress::WaitingForPartner {
                page: page_no,
                reason,
                attempt: attempts,
                retry_in_ms: Some(retry_in_ms),
            })
            .await?
        }
        RetryMessage::Fetched { outcome, .. } => return Ok(Some(outcome)),
        RetryMessage::CircuitChanged { from, to, .. } => {
            log.emit(Progress::CircuitChanged {
                partner_id: task.partner_id.clone(),
                from,
                to,
            })
            .await?
        }
        RetryMessage::GaveUp { reason, error, .. } => {
            return Err(Stop::End(Progress::Failed {
                job_id: job_id.clone(),
                reason,
                message: error,
            }))
        }
    }
    Ok(None)
}

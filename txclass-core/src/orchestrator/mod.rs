//! The orchestrator: for one request, pages through the partner under the limiter and the
//! breaker, classifies, stores, and reports each step as a [`Progress`] event.
//!
//! Calls that cannot be made now go on the [`RetryQueue`]; [`RetryWorker`]s (any number, in
//! any instance sharing the queue) make them and route the outcome back to the waiting job
//! through the [`ResultBus`].
//!
//! ## Jobs outlive their clients and their instance
//!
//! | file | what |
//! |---|---|
//! | `runner.rs` | a job's run, on its own task, owned through a lease ([`crate::lease`]); every event goes to the job's log in the store before anyone sees it; every page is stored with its checkpoint |
//! | `job.rs` | [`Job`]: a client's view of a job's log, from any position, live, from any instance |
//! | `call.rs` | the one guarded partner call (permit, breaker, verdict) and the one classify-and-store, used by the runner and the retry worker alike |
//! | `worker.rs` | [`RetryWorker`] |
//! | `queries.rs` | what the shells read (job pages, transactions, spending, partners) |
//! | `rules.rs` | rules CRUD, the compiled rules a job runs, enrich calls |
//! | `readiness.rs` | `/readyz`: store and Redis checks |
//!
//! **Why a log in the store, not a broadcast?** A client that lost its stream may come back
//! to another instance, and the instance that ran its job may be dead: only what every
//! instance can read survives both. The running instance also keeps its job's events in
//! memory for its local watchers, so the log is read back only on re-attach or take-over.

mod backends;
mod call;
mod corrections;
mod gauges;
mod job;
mod partner_config;
mod queries;
mod readiness;
mod rules;
mod runner;
mod worker;

pub use backends::RedisSettings;
pub use corrections::{CorrectionOutcome, CorrectionSettings};
pub use job::Job;
pub use partner_config::{PartnerConfig, RetryPolicy};
pub use queries::PartnerStatus;
pub use readiness::{Check, Readiness};
pub use worker::RetryWorker;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::task::TaskTracker;

use crate::breaker::{CircuitBreaker, LocalBreaker};
use crate::classifier::{self, Classifier};
use crate::clock::{Clock, SystemClock};
use crate::domain::{
    ClassificationRequest, IdempotencyKey, JobId, JobRecord, JobStatus, PartnerId, TenantId,
};
use crate::lease::{JobLeases, LocalLeases};
use crate::limiter::{Limiter, LocalLimiter};
use crate::partner::{HttpPartner, PartnerAdapter};
use crate::progress::FailureReason;
use crate::queue::{LocalBus, LocalQueue, ResultBus, RetryQueue};
use crate::rate::{LocalRate, RateSettings, RequestRate};
use crate::store::{Store, TenantStore};
use crate::{Error, Progress, Result};

/// Knobs of the orchestrator: the `[jobs]` table of the server's config file (every key
/// optional; durations in `_ms`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// How long a job waits for a busy partner's permit (woken when one is released, after
    /// telling its client `waiting_for_partner`) before it puts the call on the retry queue.
    #[serde(rename = "acquire_wait_ms", with = "crate::config::millis")]
    pub acquire_wait: Duration,
    /// A job that runs longer fails with `deadline_exceeded` (pages stored so far stay).
    #[serde(rename = "deadline_ms", with = "crate::config::millis")]
    pub job_deadline: Duration,
    /// Longest history window a request may ask, in days.
    pub max_window_days: u32,
    /// How long a retry worker blocks on the queue before it looks at its shutdown signal.
    #[serde(rename = "worker_poll_ms", with = "crate::config::millis")]
    pub worker_poll: Duration,
    /// Deliveries one retry worker handles at once.
    pub worker_concurrency: usize,
    /// How long a retry worker waits for a busy partner's permit before it puts the call
    /// back on the queue. Waiting is cheap (a release wakes the waiter), re-queueing is not;
    /// keep it well under the queue's `claim_after_ms`.
    #[serde(rename = "worker_acquire_wait_ms", with = "crate::config::millis")]
    pub worker_acquire_wait: Duration,
    /// A job runs on for this long after its last client went away, waiting for one to
    /// re-attach; then it is cancelled (jobs started detached are not).
    #[serde(rename = "reattach_window_ms", with = "crate::config::millis")]
    pub reattach_window: Duration,
    /// Lease on a running job: when its instance dies, another takes the job over within
    /// about this long (owners renew every third of it).
    #[serde(rename = "lease_ms", with = "crate::config::millis")]
    pub job_lease: Duration,
    /// How often an instance looks for running jobs without an owner to take over (and, at
    /// start, for the jobs a crash left running).
    #[serde(rename = "sweep_interval_ms", with = "crate::config::millis")]
    pub sweep_interval: Duration,
    /// What corrections do beyond the transaction (the server reads them from its own
    /// `[corrections]` table, not from `[jobs]`).
    #[serde(skip)]
    pub corrections: CorrectionSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            acquire_wait: Duration::from_secs(5),
            job_deadline: Duration::from_secs(600),
            max_window_days: 3 * 366,
            worker_poll: Duration::from_millis(500),
            worker_concurrency: 16,
            worker_acquire_wait: Duration::from_secs(5),
            reattach_window: Duration::from_secs(60),
            job_lease: Duration::from_secs(10),
            sweep_interval: Duration::from_secs(2),
            corrections: CorrectionSettings::default(),
        }
    }
}

/// One configured partner.
pub(crate) struct Partner {
    pub(crate) config: PartnerConfig,
    pub(crate) adapter: Arc<dyn PartnerAdapter>,
    pub(crate) breaker: Arc<dyn CircuitBreaker>,
}

pub(crate) struct Inner {
    pub(crate) partners: BTreeMap<PartnerId, Partner>,
    pub(crate) limiter: Arc<dyn Limiter>,
    pub(crate) queue: Arc<dyn RetryQueue>,
    pub(crate) bus: Arc<dyn ResultBus>,
    pub(crate) classifier: Arc<dyn Classifier>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) leases: Arc<dyn JobLeases>,
    pub(crate) settings: Settings,
    /// This instance's name as a lease holder (unique per process start).
    pub(crate) owner: String,
    /// The jobs running here.
    pub(crate) registry: runner::Registry,
    /// The runs' tasks, waited for at shutdown.
    pub(crate) runners: TaskTracker,
    /// Checks the shared Redis for [`Orchestrator::readiness`], when one is configured.
    pub(crate) redis_probe: Option<readiness::RedisProbe>,
    /// Each tenant's request allowance (`None`: no limit).
    pub(crate) rate: Option<Arc<dyn RequestRate>>,
}

/// How often a keyed submission tries again to take a job's lease that another holder took
/// without writing the job's record yet.
const SUBMIT_RETRY: Duration = Duration::from_millis(100);

/// The record of a job about to start.
fn new_record(id: JobId, tenant: TenantId, request: ClassificationRequest) -> JobRecord {
    let now = chrono::Utc::now();
    JobRecord {
        id,
        tenant,
        request,
        status: JobStatus::Running,
        created_at: now,
        updated_at: now,
    }
}

impl Inner {
    /// `tenant`'s view of the store: the only way customer data is read or written.
    pub(crate) fn data(&self, tenant: &TenantId) -> TenantStore {
        TenantStore::new(self.store.clone(), tenant)
    }
}

/// Runs classification jobs, as one tenant sees them ([`for_tenant`](Self::for_tenant);
/// built: the local tenant). Cheap to clone (shared state behind an `Arc`).
#[derive(Clone)]
pub struct Orchestrator {
    pub(crate) inner: Arc<Inner>,
    /// Whose jobs, customers, rules and corrections this handle sees.
    tenant: TenantId,
    /// The tenant's view of the store.
    data: Arc<dyn Store>,
}

impl Orchestrator {
    fn with_tenant(inner: Arc<Inner>, tenant: TenantId) -> Self {
        let data = Arc::new(inner.data(&tenant));
        Self {
            inner,
            tenant,
            data,
        }
    }

    /// The same orchestrator as `tenant` sees it: its jobs, customers, rules and corrections
    /// only (another tenant's job is unknown here, its customers have nothing stored).
    pub fn for_tenant(&self, tenant: TenantId) -> Self {
        Self::with_tenant(self.inner.clone(), tenant)
    }

    /// The tenant this handle acts for.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Admits one request of this tenant under its allowance
    /// ([`OrchestratorBuilder::request_rate`]), or says how long until one would be.
    pub async fn admit(&self) -> std::result::Result<(), Duration> {
        match &self.inner.rate {
            Some(rate) => rate.admit(&self.tenant).await,
            None => Ok(()),
        }
    }

    /// Whether job `record` is this tenant's.
    fn owns(&self, record: &JobRecord) -> bool {
        record.tenant == self.tenant
    }

    /// A builder with embedded defaults for every part.
    pub fn builder() -> OrchestratorBuilder {
        OrchestratorBuilder::default()
    }

    /// Starts a job: validates the request now (unknown partner, bad window), starts the job
    /// on this instance and returns a view of its events from the first. Dropping the view
    /// leaves the job running for the re-attach window ([`Settings::reattach_window`]);
    /// [`cancel`](Self::cancel) stops it at once. Must be called inside a tokio runtime.
    pub fn submit(&self, request: ClassificationRequest) -> Result<Job> {
        self.start(request, false)
    }

    /// As [`submit`](Self::submit), for a job that runs to its end whether or not anyone
    /// watches it (the server's asynchronous mode).
    pub fn submit_detached(&self, request: ClassificationRequest) -> Result<Job> {
        self.start(request, true)
    }

    /// As [`submit`](Self::submit) (or [`submit_detached`](Self::submit_detached)), once per
    /// `key`: the first submission with the key starts the job; submitting the same request
    /// with the same key again, on any instance and however often (a client whose answer
    /// was lost), returns a view of that job from its first event (running, ended, or taken
    /// over here when its owner died) and starts nothing. The same key with another request
    /// is [`Error::IdempotencyConflict`]; [`Error::SubmissionPending`] when another instance
    /// holds the key's job without recording it for two lease periods (send again). A key
    /// lasts as long as its job's record.
    pub async fn submit_once(
        &self,
        request: ClassificationRequest,
        key: &IdempotencyKey,
        detached: bool,
    ) -> Result<Job> {
        self.validate(&request)?;
        let inner = &self.inner;
        let id = JobId::for_submission(&self.tenant, &request.customer_id, key);
        let same = |record: &JobRecord| {
            if record.request == request && self.owns(record) {
                Ok(())
            } else {
                Err(Error::IdempotencyConflict {
                    job: record.id.clone(),
                })
            }
        };
        // The lease decides who creates (or resumes) the job: whoever holds it runs it. A
        // holder without a record yet is writing it (it appears in a moment) or died before
        // it could (its lease lapses within one lease period, and then this call takes it):
        // so until a record exists, this call keeps trying to take the lease. A holder that
        // renews its lease for two periods without a record may never write one (its store
        // write failed): the caller is told to send again rather than handed a view of a job
        // that may never log an event.
        let give_up = tokio::time::Instant::now() + inner.settings.job_lease * 2;
        loop {
            if inner.registry.get(&id).is_none()
                && inner
                    .leases
                    .acquire(&id, &inner.owner, inner.settings.job_lease)
                    .await?
            {
                let existing = match inner.store.get_job(&id).await {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = inner.leases.release(&id, &inner.owner).await;
                        return Err(e.into());
                    }
                };
                match existing {
                    None => {
                        let record = new_record(id.clone(), self.tenant.clone(), request);
                        runner::spawn(inner, record, true, detached);
                    }
                    Some(record) => {
                        let running = matches!(record.status, JobStatus::Running);
                        if let Err(e) = same(&record) {
                            let _ = inner.leases.release(&id, &inner.owner).await;
                            return Err(e);
                        }
                        // Its owner died: carry it on here. Ended: only its log is left.
                        if !running || !runner::spawn(inner, record, false, detached) {
                            let _ = inner.leases.release(&id, &inner.owner).await;
                        }
                    }
                }
                break;
            }
            match inner.store.get_job(&id).await? {
                Some(record) => {
                    same(&record)?;
                    break;
                }
                // Running here: watch it.
                None if inner.registry.get(&id).is_some() => break,
                None if tokio::time::Instant::now() >= give_up => {
                    return Err(Error::SubmissionPending { job: id });
                }
                None => tokio::time::sleep(SUBMIT_RETRY).await,
            }
        }
        Ok(Job::watch(inner.clone(), id, 0))
    }

    /// The checks every submission passes before anything starts.
    fn validate(&self, request: &ClassificationRequest) -> Result<()> {
        if !self.inner.partners.contains_key(&request.partner_id) {
            return Err(Error::UnknownPartner(request.partner_id.clone()));
        }
        crate::domain::check_id("customer_id", request.customer_id.as_str())?;
        if request.customer_id.as_str().trim().is_empty() {
            return Err(Error::InvalidRequest {
                field: "customer_id",
                message: "must not be empty".into(),
            });
        }
        if request.from > request.to {
            return Err(Error::InvalidRequest {
                field: "from",
                message: format!("{} is after to ({})", request.from, request.to),
            });
        }
        let days = (request.to - request.from).num_days();
        if days > i64::from(self.inner.settings.max_window_days) {
            return Err(Error::InvalidRequest {
                field: "to",
                message: format!(
                    "window of {days} days is longer than the limit of {}",
                    self.inner.settings.max_window_days
                ),
            });
        }
        Ok(())
    }

    fn start(&self, request: ClassificationRequest, detached: bool) -> Result<Job> {
        self.validate(&request)?;
        let id = JobId::generate();
        let record = new_record(id.clone(), self.tenant.clone(), request);
        runner::spawn(&self.inner, record, true, detached);
        Ok(Job::watch(self.inner.clone(), id, 0))
    }

    /// The events of job `id` after position `after` of its log (0: all), then live until
    /// it ends, whichever instance runs it (a client re-attaching with `Last-Event-ID`).
    pub async fn watch(&self, id: &JobId, after: u64) -> Result<Job> {
        let known = match self.inner.registry.get(id) {
            Some(live) => live.tenant == self.tenant,
            None => self.job(id).await?.is_some(),
        };
        if !known {
            return Err(Error::UnknownJob(id.clone()));
        }
        Ok(Job::watch(self.inner.clone(), id.clone(), after))
    }

    /// Cancels a running job wherever it runs (its record ends `cancelled`, its stream with
    /// `failed: cancelled`). Returns the job's record as it was (`None`: unknown job).
    pub async fn cancel(&self, id: &JobId) -> Result<Option<JobRecord>> {
        let record = self.job(id).await?;
        if let Some(live) = self
            .inner
            .registry
            .get(id)
            .filter(|live| live.tenant == self.tenant)
        {
            live.stop(FailureReason::Cancelled, "cancelled by request".into());
        } else if record
            .as_ref()
            .is_some_and(|r| matches!(r.status, JobStatus::Running))
        {
            self.inner.leases.request_cancel(id).await?;
        }
        Ok(record)
    }

    /// Takes over running jobs that have no live owner (their instance died, or this
    /// process restarted), every [`Settings::sweep_interval`] until `shutdown` completes.
    pub async fn run_sweeper(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(self.inner.settings.sweep_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.sweep().await {
                tracing::warn!(error = %e, "sweep for unowned jobs failed");
            }
        }
    }

    /// One sweep: resumes every running job nobody holds. Returns how many it took.
    pub async fn sweep(&self) -> Result<usize> {
        let inner = &self.inner;
        let mut taken = 0;
        for record in inner.store.running_jobs(1000).await? {
            if inner.registry.get(&record.id).is_some()
                || !inner.partners.contains_key(&record.request.partner_id)
            {
                continue;
            }
            // The search behind `running_jobs` may lag; the record itself does not.
            let fresh = inner.store.get_job(&record.id).await?;
            if !fresh.is_some_and(|r| matches!(r.status, JobStatus::Running)) {
                continue;
            }
            let ttl = inner.settings.job_lease;
            if inner.leases.acquire(&record.id, &inner.owner, ttl).await? {
                tracing::info!(job = %record.id, "taking over job");
                // Detached: its clients (if any) re-attach; nobody is known to watch it.
                if runner::spawn(inner, record, false, true) {
                    taken += 1;
                }
            }
        }
        Ok(taken)
    }

    /// Ends every job running on this instance with `failed` and `reason` (the server's
    /// shutdown after its grace period), and waits for their final records.
    pub async fn stop_jobs(&self, reason: FailureReason, message: &str) {
        for live in self.inner.registry.all() {
            live.stop(reason, message.to_owned());
        }
        self.inner.runners.close();
        self.inner.runners.wait().await;
    }

    /// Hands every job running on this instance over (a shutdown that should not fail them):
    /// each run stops where it is without an end and gives its lease up, its record stays
    /// `running`, and another instance's sweeper (or this process's after a restart) carries
    /// it on from its last stored page. Waits for the runs to stop.
    pub async fn hand_over_jobs(&self) {
        for live in self.inner.registry.all() {
            live.hand_over();
        }
        self.inner.runners.close();
        self.inner.runners.wait().await;
    }

    /// Waits until every job running on this instance has ended (tests, embedders).
    pub async fn wait_idle(&self) {
        while !self.inner.registry.all().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A job's record (status and, once done, its summary).
    pub async fn job(&self, id: &JobId) -> Result<Option<JobRecord>> {
        let record = self.inner.store.get_job(id).await?;
        Ok(record.filter(|r| self.owns(r)))
    }

    /// The store as this tenant sees it (its customers' data; jobs by id).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.data
    }

    /// The classifier jobs use.
    pub fn classifier(&self) -> &Arc<dyn Classifier> {
        &self.inner.classifier
    }

    /// The limiter guarding partner calls.
    pub fn limiter(&self) -> &Arc<dyn Limiter> {
        &self.inner.limiter
    }

    /// The retry queue.
    pub fn queue(&self) -> &Arc<dyn RetryQueue> {
        &self.inner.queue
    }

    /// Configured partners.
    pub fn partners(&self) -> impl Iterator<Item = &PartnerConfig> {
        self.inner.partners.values().map(|p| &p.config)
    }

    /// A partner's adapter.
    pub fn adapter(&self, partner: &PartnerId) -> Option<&Arc<dyn PartnerAdapter>> {
        self.inner.partners.get(partner).map(|p| &p.adapter)
    }

    /// A partner's circuit breaker.
    pub fn breaker(&self, partner: &PartnerId) -> Option<&Arc<dyn CircuitBreaker>> {
        self.inner.partners.get(partner).map(|p| &p.breaker)
    }

    /// A retry worker named `consumer` (unique per process and instance); run it with
    /// [`RetryWorker::run`].
    pub fn retry_worker(&self, consumer: impl Into<String>) -> RetryWorker {
        RetryWorker::new(self.inner.clone(), consumer.into())
    }

    /// Progress events of a job until it ends: collects a job's stream (helper for tests and
    /// embedders that want everything at once).
    pub async fn run_to_end(&self, request: ClassificationRequest) -> Result<Vec<Progress>> {
        use futures::StreamExt;
        Ok(self.submit(request)?.collect().await)
    }
}

impl OrchestratorBuilder {
    #[cfg(feature = "redis")]
    fn with_redis(mut self, redis: &RedisSettings, clock: &Arc<dyn Clock>) -> Result<Self> {
        use crate::breaker::RedisSharedBreaker;
        use crate::limiter::RedisLimiter;
        use crate::queue::{RedisBus, RedisBusConfig, RedisQueue, RedisQueueConfig};

        let url = redis.resolve_url()?;
        self.redis_probe = Some(readiness::RedisProbe::new(&url)?);
        if self.limiter.is_none() {
            let mut limiter = RedisLimiter::builder(url.clone())
                .prefix(redis.prefix.clone())
                .lease(redis.lease);
            for (config, _) in &self.partners {
                limiter = limiter.partner_with(
                    config.id.clone(),
                    config.capacity,
                    config.adaptive.clone(),
                );
            }
            self.limiter = Some(Arc::new(limiter.build()?));
        }
        if self.queue.is_none() {
            let queue = RedisQueue::new(
                &url,
                RedisQueueConfig {
                    prefix: redis.prefix.clone(),
                    claim_after: redis.claim_after,
                    partners: self.partners.iter().map(|(c, _)| c.id.clone()).collect(),
                    ..RedisQueueConfig::default()
                },
            )?;
            let bus = RedisBus::new(
                &url,
                RedisBusConfig {
                    prefix: redis.prefix.clone(),
                    ..RedisBusConfig::default()
                },
            )?;
            self.queue = Some(Arc::new(queue));
            self.bus = Some(Arc::new(bus));
        }
        if let (None, Some(settings)) = (&self.rate, &self.rate_settings) {
            let rate = crate::rate::RedisRate::new(&url, &redis.prefix, settings)?;
            self.rate = Some(Arc::new(rate));
        }
        if self.leases.is_none() {
            use crate::lease::RedisLeases;
            let leases = RedisLeases::new(&url, &redis.prefix)?;
            // Mark the data present now, so a later loss of it is noticed.
            leases.init_in_background();
            self.leases = Some(Arc::new(leases));
        }
        if redis.share_breakers {
            for (config, _) in &self.partners {
                if self.breakers.contains_key(&config.id) {
                    continue;
                }
                let breaker = RedisSharedBreaker::start(
                    &url,
                    &redis.prefix,
                    &config.id,
                    config.circuit.clone(),
                    clock.clone(),
                )
                .map_err(|e| Error::InvalidConfig {
                    what: format!("redis breaker: {e}"),
                })?;
                self.breakers.insert(config.id.clone(), Arc::new(breaker));
            }
        }
        Ok(self)
    }

    #[cfg(not(feature = "redis"))]
    fn with_redis(self, _: &RedisSettings, _: &Arc<dyn Clock>) -> Result<Self> {
        Err(Error::InvalidConfig {
            what: "redis is configured but txclass was built without the `redis` feature".into(),
        })
    }
}

/// Builds an [`Orchestrator`]; every part not given gets its embedded default.
#[derive(Default)]
pub struct OrchestratorBuilder {
    partners: Vec<(PartnerConfig, Option<Arc<dyn PartnerAdapter>>)>,
    breakers: BTreeMap<PartnerId, Arc<dyn CircuitBreaker>>,
    limiter: Option<Arc<dyn Limiter>>,
    queue: Option<Arc<dyn RetryQueue>>,
    bus: Option<Arc<dyn ResultBus>>,
    classifier: Option<Arc<dyn Classifier>>,
    store: Option<Arc<dyn Store>>,
    leases: Option<Arc<dyn JobLeases>>,
    clock: Option<Arc<dyn Clock>>,
    redis: Option<RedisSettings>,
    redis_probe: Option<readiness::RedisProbe>,
    settings: Settings,
    rate_settings: Option<RateSettings>,
    rate: Option<Arc<dyn RequestRate>>,
}

impl OrchestratorBuilder {
    /// Adds a partner reached over HTTP ([`HttpPartner`]).
    pub fn partner(mut self, config: PartnerConfig) -> Self {
        self.partners.push((config, None));
        self
    }

    /// Adds a partner with an adapter of the caller's.
    pub fn partner_with_adapter(
        mut self,
        config: PartnerConfig,
        adapter: Arc<dyn PartnerAdapter>,
    ) -> Self {
        self.partners.push((config, Some(adapter)));
        self
    }

    /// Replaces a partner's circuit breaker (default: [`LocalBreaker`] from its config).
    pub fn breaker(mut self, partner: PartnerId, breaker: Arc<dyn CircuitBreaker>) -> Self {
        self.breakers.insert(partner, breaker);
        self
    }

    /// The limiter (default: [`LocalLimiter`] with each partner's capacity).
    pub fn limiter(mut self, limiter: Arc<dyn Limiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The retry queue and result bus (default: in-process).
    pub fn retry_queue(mut self, queue: Arc<dyn RetryQueue>, bus: Arc<dyn ResultBus>) -> Self {
        self.queue = Some(queue);
        self.bus = Some(bus);
        self
    }

    /// The classifier (default: the bundled model).
    pub fn classifier(mut self, classifier: Arc<dyn Classifier>) -> Self {
        self.classifier = Some(classifier);
        self
    }

    /// The store (default: SQLite in memory, or `MemoryStore` without the `sqlite` feature;
    /// give a `SqliteStore::open` to keep data).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The job leases (default: [`LocalLeases`], or Redis with [`redis`](Self::redis)).
    pub fn leases(mut self, leases: Arc<dyn JobLeases>) -> Self {
        self.leases = Some(leases);
        self
    }

    /// The clock of the default breakers.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Shares the limiter, the retry queue, the result bus and (per `share_breakers`) the
    /// breakers' open state through one Redis, so that many instances together never exceed
    /// a partner. Needs the `redis` feature (without it, [`build`](Self::build) fails with
    /// `InvalidConfig`). Parts given explicitly (`limiter`, `retry_queue`, `breaker`) win.
    /// [`build`](Self::build) must then run inside a tokio runtime.
    pub fn redis(mut self, settings: RedisSettings) -> Self {
        self.redis = Some(settings);
        self
    }

    /// Limits each tenant's requests ([`Orchestrator::admit`]): in this process, or through
    /// the shared Redis when one is configured (every instance counts together).
    pub fn request_rate(mut self, settings: RateSettings) -> Self {
        self.rate_settings = Some(settings).filter(RateSettings::enabled);
        self
    }

    /// Settings.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Builds, checking the configuration.
    pub fn build(mut self) -> Result<Orchestrator> {
        let clock = self
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(SystemClock::new()));
        if let Some(redis) = self.redis.take() {
            self = self.with_redis(&redis, &clock)?;
        }
        let mut partners = BTreeMap::new();
        let mut local = LocalLimiter::new();
        for (config, adapter) in self.partners {
            if partners.contains_key(&config.id) {
                return Err(Error::InvalidConfig {
                    what: format!("partner {} configured twice", config.id),
                });
            }
            let adapter = match adapter {
                Some(a) => a,
                None => Arc::new(HttpPartner::new(&config)?) as Arc<dyn PartnerAdapter>,
            };
            let breaker = self.breakers.get(&config.id).cloned().unwrap_or_else(|| {
                Arc::new(LocalBreaker::new(config.circuit.clone(), clock.clone()))
            });
            local = local.with_policy(config.id.clone(), config.capacity, config.adaptive.clone());
            partners.insert(
                config.id.clone(),
                Partner {
                    config,
                    adapter,
                    breaker,
                },
            );
        }
        let classifier = match self.classifier {
            Some(c) => c,
            None => classifier::bundled()?,
        };
        let store = match self.store {
            Some(s) => s,
            #[cfg(feature = "sqlite")]
            None => Arc::new(crate::store::SqliteStore::in_memory()?),
            #[cfg(not(feature = "sqlite"))]
            None => Arc::new(crate::store::MemoryStore::new()),
        };
        // Every store call is timed in one place, whichever backend answers it.
        let store: Arc<dyn Store> = Arc::new(crate::store::MeteredStore::new(store));
        Ok(Orchestrator::with_tenant(
            Arc::new(Inner {
                partners,
                limiter: self.limiter.unwrap_or_else(|| Arc::new(local)),
                queue: self.queue.unwrap_or_else(|| Arc::new(LocalQueue::new())),
                bus: self.bus.unwrap_or_else(|| Arc::new(LocalBus::new())),
                classifier,
                store,
                leases: self.leases.unwrap_or_else(|| Arc::new(LocalLeases::new())),
                settings: self.settings,
                owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
                registry: runner::Registry::default(),
                runners: TaskTracker::new(),
                redis_probe: self.redis_probe,
                rate: self.rate.or_else(|| {
                    let settings = self.rate_settings?;
                    Some(Arc::new(LocalRate::new(&settings)) as Arc<dyn RequestRate>)
                }),
            }),
            TenantId::local(),
        ))
    }
}

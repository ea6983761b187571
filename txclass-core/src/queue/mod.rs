//! Reprocessing: partner calls that could not be made now (busy semaphore, open circuit,
//! timeout, 5xx, 429) go on a [`RetryQueue`]; a [`RetryWorker`](crate::orchestrator::RetryWorker)
//! takes them when due, calls the partner under a permit, classifies and stores the page, and
//! publishes the outcome on a [`ResultBus`] so the job that is waiting (on any instance)
//! carries on.

//!
//! With the `redis` feature, [`RedisQueue`] (Redis Streams, consumer group, claiming,
//! dead-letter stream) and [`RedisBus`] (a stream per job) share both across instances.

mod error;
mod local;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
pub use self::redis::{RedisBus, RedisBusConfig, RedisQueue, RedisQueueConfig};
pub use error::QueueError;
pub(crate) use local::LocalBus;
pub use local::LocalQueue;

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::breaker::CircuitState;
use crate::domain::{JobId, PartnerId, TenantId};
use crate::partner::PageRequest;
use crate::progress::{FailureReason, WaitReason};
use crate::store::PageOutcome;

/// A partner call waiting to be made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetryTask {
    /// The job that needs the page.
    pub job_id: JobId,
    /// The job's tenant, whose view of the store the page is written through (tasks
    /// queued before tenants: the local tenant).
    #[serde(default)]
    pub tenant: TenantId,
    /// The partner to call.
    pub partner_id: PartnerId,
    /// 1-based page number within the job.
    pub page: u32,
    /// The call.
    pub request: PageRequest,
    /// Attempts made so far (the first, direct one included).
    pub attempts: u32,
    /// Why the last attempt did not go through.
    pub reason: WaitReason,
    /// The last error, for the dead-letter record (never carries secrets).
    pub last_error: Option<String>,
}

/// A task handed to one consumer. Until it is acked, rescheduled or dead-lettered it stays
/// pending, and a queue with claiming hands it to another consumer if this one dies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The queue's id of the entry.
    pub id: String,
    /// The task.
    pub task: RetryTask,
    /// How many times the entry has been delivered without being settled, this delivery
    /// included (above 1 after a consumer died holding it; a reschedule never adds to it).
    pub deliveries: u32,
}

/// A task the queue gave up on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The task, with its attempts and last error.
    pub task: RetryTask,
    /// Why it was given up.
    pub error: String,
}

/// A queue of partner calls to retry, with delays.
#[async_trait]
pub trait RetryQueue: Send + Sync + 'static {
    /// Adds a task, due after `delay`.
    async fn enqueue(&self, task: RetryTask, delay: Duration) -> Result<String, QueueError>;

    /// The next due task for `consumer`, waiting at most `block` for one.
    async fn next(&self, consumer: &str, block: Duration) -> Result<Option<Delivery>, QueueError>;

    /// The task is done.
    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError>;

    /// The attempt failed: replace the entry by `task`, due after `delay` (one step: the
    /// task is never lost nor doubled).
    async fn reschedule(
        &self,
        delivery: &Delivery,
        task: RetryTask,
        delay: Duration,
    ) -> Result<(), QueueError>;

    /// Give up: move the entry to the dead letters with `error`.
    async fn dead_letter(&self, delivery: &Delivery, error: String) -> Result<(), QueueError>;

    /// Tasks waiting or being worked on.
    async fn pending(&self) -> Result<usize, QueueError>;

    /// Whether a task for `page` of `job` waits (delayed or due) or is delivered and not
    /// yet settled. The job that waits for the page polls this when it hears nothing: a
    /// queue whose backend lost its data (Redis back empty) answers `false`, and the job
    /// enqueues its call again.
    async fn is_queued(&self, job: &JobId, page: u32) -> Result<bool, QueueError>;

    /// The dead letters, oldest first.
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, QueueError>;

    /// How many tasks each partner's lane holds, by state (for metrics: a few counting
    /// commands, no task is read).
    async fn depth(&self) -> Result<Vec<QueueDepth>, QueueError>;

    /// Whether every instance shares this queue, so its [`depth`](Self::depth) is the
    /// cluster's and not this instance's.
    fn shared(&self) -> bool {
        false
    }

    /// `consumer` still works on `delivery` (a slow partner, a slow store): a queue that
    /// hands silent deliveries to other consumers resets its silence, so a live worker's
    /// page is not taken over and fetched a second time. `false`: another consumer holds it
    /// already (or it was settled). Queues without taking over answer `true`.
    async fn touch(&self, delivery: &Delivery, consumer: &str) -> Result<bool, QueueError> {
        let _ = (delivery, consumer);
        Ok(true)
    }

    /// How often a consumer working on a delivery [`touch`](Self::touch)es it (`None`:
    /// never needed).
    fn touch_every(&self) -> Option<Duration> {
        None
    }
}

/// One partner's lane of a [`RetryQueue`], counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDepth {
    /// The partner.
    pub partner: PartnerId,
    /// Waiting for their time.
    pub delayed: u64,
    /// Ready to be taken by a worker.
    pub due: u64,
    /// Taken by a worker, not yet settled.
    pub in_flight: u64,
    /// Given up on (dead letters kept).
    pub dead: u64,
}

fn _obj_safe_queue(_: Box<dyn RetryQueue>) {}

/// What the retry worker tells the job that waits for a page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "message", rename_all = "snake_case")]
pub enum RetryMessage {
    /// Another attempt failed; the task is rescheduled.
    Attempted {
        /// The page.
        page: u32,
        /// Attempts made so far.
        attempts: u32,
        /// Why it failed.
        reason: WaitReason,
        /// Delay before the next attempt.
        retry_in_ms: u64,
    },
    /// The page was fetched, classified and stored with its checkpoint.
    Fetched {
        /// The page.
        page: u32,
        /// Counts, totals and the next cursor.
        outcome: PageOutcome,
    },
    /// The task was dead-lettered, or the partner rejected it for good.
    GaveUp {
        /// The page.
        page: u32,
        /// Why the job fails.
        reason: FailureReason,
        /// Detail (never carries secrets).
        error: String,
    },
    /// A call made for this page changed the partner's circuit.
    CircuitChanged {
        /// The page.
        page: u32,
        /// Old state.
        from: CircuitState,
        /// New state.
        to: CircuitState,
    },
}

impl RetryMessage {
    /// The page the message is about.
    pub fn page(&self) -> u32 {
        match self {
            RetryMessage::Attempted { page, .. }
            | RetryMessage::Fetched { page, .. }
            | RetryMessage::GaveUp { page, .. }
            | RetryMessage::CircuitChanged { page, .. } => *page,
        }
    }
}

/// Routes retry outcomes back to the job waiting for them, wherever it runs.
#[async_trait]
pub trait ResultBus: Send + Sync + 'static {
    /// Sends a message to the job's subscribers (dropped if there are none: the page is
    /// stored either way).
    async fn publish(&self, job: &JobId, msg: RetryMessage) -> Result<(), QueueError>;

    /// Messages for `job` from now on. Subscribe before enqueueing, so nothing is missed.
    async fn subscribe(&self, job: &JobId) -> Result<BoxStream<'static, RetryMessage>, QueueError>;
}

fn _obj_safe_bus(_: Box<dyn ResultBus>) {}

//! The retry queue on Redis Streams, and the result bus on one stream per job.
//!
//! ## Retry queue layout
//!
//! One **lane** per partner: a stream and its companions, all under the hash tag
//! `{<prefix>:queue:<partner>}` (scripts touch several keys; Redis Cluster needs them in one
//! slot, and one slot per partner spreads the partners over a cluster's masters):
//!
//! * `…:ready`: a stream of due tasks, read by the consumer group `workers` (fields `task`,
//!   the JSON [`RetryTask`], and `base`, the deliveries before this entry);
//! * `…:delayed` + `…:payloads`: tasks not yet due, as a sorted set (uid → due time in
//!   ms of Redis's `TIME`) and a hash (uid → payload);
//! * `…:dead`: the dead-letter stream (task, last error, deliveries);
//! * `…:tasks`: a hash `<job>:<page>` → how many tasks for that page wait (delayed or due)
//!   or are delivered and not yet settled, kept by the same scripts that schedule, settle
//!   and dead-letter, so [`RetryQueue::is_queued`] is exact.
//!
//! **Why a count per page, not the entry's id?** A page can have two tasks at once (the job
//! re-enqueued a call it believed lost, or a paused consumer's work was redone); a count
//! stays true until the last of them is settled, and needs no update when a delayed task
//! moves to the stream.
//!
//! **Why a due-time sorted set for delays?** Streams deliver in insertion order and have no
//! delayed delivery. A sorted set by due time finds the due tasks in O(log n) and a script
//! (`promote.lua`) moves them to the stream atomically (run by every consumer before it
//! reads, so no extra scheduler process exists to fail). The alternatives are worse: an
//! entry per retry read and re-added until due spins, and one stream per delay bucket
//! rounds delays.
//!
//! ## Delivery
//!
//! At least once. A consumer reads with `XREADGROUP`; the entry stays in the group's
//! pending list until the consumer settles it with one script (`settle.lua`): ack,
//! reschedule (ack + re-add delayed, one step) or dead-letter. A consumer that dies leaves
//! the entry pending; after `claim_after` of silence any other consumer takes it over
//! (`claim.lua`: `XPENDING … IDLE` finds it, `XCLAIM` takes it and bumps its delivery
//! count; each process looks at most once a second, its workers sharing the look). Settling checks that count, so the
//! dead consumer (if it was only paused) cannot settle an entry that is no longer its own:
//! it gets [`QueueError::NotPending`]. An entry delivered `max_deliveries` times without
//! being settled (it crashes its consumers) is dead-lettered instead of delivered again.
//!
//! Only deliveries that no consumer settled count toward `max_deliveries`. A reschedule
//! (the worker settles the entry and re-adds it delayed, e.g. for a busy partner) never
//! does: the new entry's `base` is the unsettled deliveries before the one that settled
//! it, so a task can wait behind a busy partner for as long as its job needs, while a task
//! that keeps killing its consumers is still stopped.
//!
//! ## Redis coming back empty
//!
//! A Redis without persistence that restarts, or a failover to an empty replica, loses
//! every key, the consumer group with them. Every command that needs the group
//! (`XREADGROUP`, `XPENDING`/`XCLAIM` in `claim.lua`, `XPENDING` in `settle.lua`) may then fail
//! with `NOGROUP`; the queue forgets that the group exists and creates it again (from the
//! start of the stream, so tasks enqueued since are delivered). A delivery whose entry was
//! lost is not pending any more: settling it is [`QueueError::NotPending`]. The tasks
//! themselves are gone; the job that waits for a page sees it through
//! [`RetryQueue::is_queued`] and enqueues its call again. Scripts are run with
//! [`redis::Script`] (`EVALSHA`, and `SCRIPT LOAD` + retry on `NOSCRIPT`), so an emptied
//! script cache costs one round trip.
//!
//! `claim_after` must exceed the longest time a consumer holds a task (partner timeout +
//! classification + store), or a slow consumer's task is handed to another one as well.
//!
//! ## Connections
//!
//! The redis crate's multiplexed connections (and `ConnectionManager`) time out replies
//! after 500 ms by default, and a blocking command on a shared multiplexed connection
//! stalls every caller behind it. So short commands share one `ConnectionManager` (with a
//! 2 s timeout), and each consumer name gets its own connection for `XREADGROUP BLOCK`,
//! with a reply timeout above the longest block.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use redis::Script;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{
    DeadLetter, Delivery, QueueDepth, QueueError, ResultBus, RetryMessage, RetryQueue, RetryTask,
};
use crate::backoff::Backoff;
use crate::domain::{JobId, PartnerId};
use crate::redis_conn::{Conn, Target};
use crate::sync::{Lock, ReadWrite};

static SCHEDULE: &str = include_str!("schedule.lua");
static PROMOTE: &str = include_str!("promote.lua");
static CLAIM: &str = include_str!("claim.lua");
static TOUCH: &str = include_str!("touch.lua");
static SETTLE: &str = include_str!("settle.lua");

const GROUP: &str = "workers";
/// Longest single `XREADGROUP BLOCK`: a delayed task that falls due while a consumer blocks
/// waits at most this long to be promoted.
const MAX_BLOCK: Duration = Duration::from_millis(1000);
/// A task delayed by another instance is moved to the stream at most this late.
const PROMOTE_EVERY: Duration = Duration::from_millis(250);
/// How often a process looks for deliveries whose consumer died (at most).
const CLAIM_EVERY: Duration = Duration::from_secs(1);

/// See [`RedisQueue::promote_when_due`] and [`RedisQueue::claim_when_due`].
#[derive(Default)]
struct Sweeps {
    promoted: Option<Instant>,
    next_due: Option<Instant>,
    claimed: Option<Instant>,
}

/// A stream entry: id and flat field/value list.
type Entry = (String, Vec<String>);
/// The reply of `XREAD`/`XREADGROUP` (RESP2): nil on timeout, else entries per stream.
type ReadReply = Option<Vec<(String, Vec<Entry>)>>;

fn backend(e: redis::RedisError) -> QueueError {
    QueueError::Backend(format!("redis: {e}"))
}

/// The consumer group is gone: the stream was deleted or Redis lost its data. Redis 7
/// passes a script's `NOGROUP` through as its code; older versions wrap it in the message.
fn is_nogroup(e: &redis::RedisError) -> bool {
    e.code() == Some("NOGROUP") || e.to_string().contains("NOGROUP")
}

/// The `…:tasks` field of a page.
fn task_field(job: &JobId, page: u32) -> String {
    format!("{}:{page}", job.as_str())
}

fn open(url: &str, timeout: Duration) -> Result<(Target, Conn), QueueError> {
    let target = Target::parse(url).map_err(QueueError::Backend)?;
    let conn = target
        .shared(timeout, Duration::from_secs(1))
        .map_err(backend)?;
    Ok((target, conn))
}

/// A connection of its own for blocking reads: no other caller waits behind it, and its
/// reply timeout covers the block.
async fn blocking_connection(target: &Target, longest_block: Duration) -> Result<Conn, QueueError> {
    target.dedicated(longest_block).await.map_err(backend)
}

/// Settings of a [`RedisQueue`].
#[derive(Clone, Debug)]
pub struct RedisQueueConfig {
    /// Key prefix (default `txclass`); instances that share the queue use the same one.
    pub prefix: String,
    /// Silence after which a delivered, unsettled entry is taken over (default 60 s).
    pub claim_after: Duration,
    /// Deliveries after which an unsettled entry goes to the dead letters (default 10).
    pub max_deliveries: u32,
    /// Reply timeout of the non-blocking commands (default 2 s).
    pub response_timeout: Duration,
    /// The partners whose lanes this queue's consumers read (every instance lists the same).
    /// A partner this process enqueues for is added; one that only other instances enqueue
    /// for must be listed, or this process never delivers its tasks.
    pub partners: Vec<PartnerId>,
}

impl Default for RedisQueueConfig {
    fn default() -> Self {
        Self {
            prefix: "txclass".into(),
            claim_after: Duration::from_secs(60),
            max_deliveries: 10,
            response_timeout: Duration::from_secs(2),
            partners: Vec::new(),
        }
    }
}

/// The [`RetryQueue`] on Redis Streams (see the module docs).
pub struct RedisQueue {
    target: Target,
    conn: Conn,
    config: RedisQueueConfig,
    /// The partners' lanes, in the order they became known.
    lanes: std::sync::RwLock<Vec<Arc<Lane>>>,
    /// Which lane a consumer reads first next (turns, so no partner starves another).
    turn: AtomicUsize,
    /// One blocking connection per consumer name.
    readers: Mutex<HashMap<String, Arc<Mutex<Conn>>>>,
    schedule: Script,
    promote: Script,
    claim: Script,
    touch: Script,
    settle: Script,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("config", &self.config)
            .finish()
    }
}

/// One partner's keys and this process's state for them.
struct Lane {
    partner: PartnerId,
    keys: QueueKeys,
    /// The consumer group exists (checked once, again after `NOGROUP`).
    group_ready: AtomicBool,
    /// When this process last moved due tasks and looked for orphaned deliveries: its
    /// workers share these sweeps instead of each running them on every read.
    sweeps: std::sync::Mutex<Sweeps>,
}

impl Lane {
    fn new(prefix: &str, partner: &PartnerId) -> Self {
        let tag = format!(
            "{{{}:queue:{}}}",
            prefix.replace(['{', '}'], "_"),
            partner.as_str().replace(['{', '}'], "_")
        );
        Self {
            partner: partner.clone(),
            keys: QueueKeys {
                ready: format!("{tag}:ready"),
                delayed: format!("{tag}:delayed"),
                payloads: format!("{tag}:payloads"),
                uid: format!("{tag}:uid"),
                dead: format!("{tag}:dead"),
                tasks: format!("{tag}:tasks"),
            },
            group_ready: AtomicBool::new(false),
            sweeps: std::sync::Mutex::new(Sweeps::default()),
        }
    }

    fn sweeps(&self) -> std::sync::MutexGuard<'_, Sweeps> {
        self.sweeps.locked()
    }
}

#[derive(Debug)]
struct QueueKeys {
    ready: String,
    delayed: String,
    payloads: String,
    uid: String,
    dead: String,
    tasks: String,
}

impl RedisQueue {
    /// A queue on the Redis at `url`. Connects lazily; creates the consumer group on first
    /// use. Must be called inside a tokio runtime.
    pub fn new(url: &str, config: RedisQueueConfig) -> Result<Self, QueueError> {
        let (target, conn) = open(url, config.response_timeout)?;
        let lanes = config
            .partners
            .iter()
            .map(|p| Arc::new(Lane::new(&config.prefix, p)))
            .collect();
        Ok(Self {
            target,
            conn,
            config,
            lanes: std::sync::RwLock::new(lanes),
            turn: AtomicUsize::new(0),
            readers: Mutex::new(HashMap::new()),
            schedule: Script::new(SCHEDULE),
            promote: Script::new(PROMOTE),
            claim: Script::new(CLAIM),
            touch: Script::new(TOUCH),
            settle: Script::new(SETTLE),
        })
    }

    /// The settings.
    pub fn config(&self) -> &RedisQueueConfig {
        &self.config
    }

    /// A command answered `NOGROUP`: create the group again before the next read.
    /// The lane of `partner` (added if this process did not know it).
    fn lane(&self, partner: &PartnerId) -> Arc<Lane> {
        if let Some(l) = self
            .lanes
            .read_locked()
            .iter()
            .find(|l| l.partner == *partner)
        {
            return l.clone();
        }
        let mut lanes = self.lanes.write_locked();
        if let Some(l) = lanes.iter().find(|l| l.partner == *partner) {
            return l.clone();
        }
        let lane = Arc::new(Lane::new(&self.config.prefix, partner));
        lanes.push(lane.clone());
        lane
    }

    /// Every lane, starting from the next one's turn.
    fn lanes_in_turn(&self) -> Vec<Arc<Lane>> {
        let mut lanes = self.lanes.read_locked().clone();
        if !lanes.is_empty() {
            let first = self.turn.fetch_add(1, Ordering::Relaxed) % lanes.len();
            lanes.rotate_left(first);
        }
        lanes
    }

    /// A command answered `NOGROUP`: create the group again before the next read.
    async fn recreate_group(&self, lane: &Lane) -> Result<(), QueueError> {
        tracing::warn!(stream = %lane.keys.ready, "consumer group gone (redis lost its data?); creating it again");
        lane.group_ready.store(false, Ordering::Release);
        self.ensure_group(lane).await
    }

    async fn ensure_group(&self, lane: &Lane) -> Result<(), QueueError> {
        if lane.group_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let r: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&lane.keys.ready)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match r {
            Ok(()) => {}
            Err(e) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(backend(e)),
        }
        lane.group_ready.store(true, Ordering::Release);
        Ok(())
    }

    async fn reader(&self, consumer: &str) -> Result<Arc<Mutex<Conn>>, QueueError> {
        let mut readers = self.readers.lock().await;
        if let Some(r) = readers.get(consumer) {
            return Ok(r.clone());
        }
        let conn = blocking_connection(&self.target, MAX_BLOCK).await?;
        let r = Arc::new(Mutex::new(conn));
        readers.insert(consumer.to_owned(), r.clone());
        Ok(r)
    }

    /// [`Self::promote`] when a delayed task may be due (ours, as last seen, or another
    /// instance's: at least every [`PROMOTE_EVERY`]); time until the next one is due.
    async fn promote_when_due(&self, lane: &Lane) -> Result<Option<Duration>, QueueError> {
        let now = Instant::now();
        {
            let s = lane.sweeps();
            let recent = s.promoted.is_some_and(|t| now - t < PROMOTE_EVERY);
            let due = s.next_due.is_some_and(|t| t <= now);
            if recent && !due {
                return Ok(s.next_due.map(|t| t - now));
            }
        }
        let next = self.promote(lane).await?;
        let mut s = lane.sweeps();
        s.promoted = Some(now);
        s.next_due = next.map(|d| now + d);
        Ok(next)
    }

    /// [`Self::claim`] at most every [`CLAIM_EVERY`] (or half of `claim_after`, if less)
    /// while there is nothing to take over:
    /// an entry is orphaned only after `claim_after` of silence anyway.
    async fn claim_when_due(
        &self,
        lane: &Lane,
        consumer: &str,
    ) -> Result<Option<Delivery>, QueueError> {
        let now = Instant::now();
        let every = CLAIM_EVERY.min(self.config.claim_after / 2);
        if lane.sweeps().claimed.is_some_and(|t| now - t < every) {
            return Ok(None);
        }
        let found = self.claim(lane, consumer).await?;
        if found.is_none() {
            lane.sweeps().claimed = Some(now);
        }
        Ok(found)
    }

    /// Moves due delayed tasks to the stream; ms until the next one is due.
    async fn promote(&self, lane: &Lane) -> Result<Option<Duration>, QueueError> {
        let mut conn = self.conn.clone();
        let ms: i64 = self
            .promote
            .key(&lane.keys.ready)
            .key(&lane.keys.delayed)
            .key(&lane.keys.payloads)
            .arg(100)
            .invoke_async(&mut conn)
            .await
            .map_err(backend)?;
        Ok((ms >= 0).then(|| Duration::from_millis(ms as u64)))
    }

    async fn claim(&self, lane: &Lane, consumer: &str) -> Result<Option<Delivery>, QueueError> {
        let mut conn = self.conn.clone();
        let claimed: redis::RedisResult<Option<(String, Vec<String>, u32)>> = self
            .claim
            .key(&lane.keys.ready)
            .arg(GROUP)
            .arg(consumer)
            .arg(self.config.claim_after.as_millis() as u64)
            .invoke_async(&mut conn)
            .await;
        let claimed = match claimed {
            Ok(c) => c,
            Err(e) if is_nogroup(&e) => {
                self.recreate_group(lane).await?;
                return Ok(None);
            }
            Err(e) => return Err(backend(e)),
        };
        match claimed {
            None => Ok(None),
            Some((id, fields, count)) => {
                let (task, base) = decode_entry(&fields)?;
                Ok(Some(Delivery {
                    id,
                    task,
                    deliveries: base + count,
                }))
            }
        }
    }

    async fn read(
        &self,
        lane: &Lane,
        consumer: &str,
        block: Duration,
    ) -> Result<Option<Delivery>, QueueError> {
        let reader = self.reader(consumer).await?;
        let mut conn = reader.lock().await;
        let reply: redis::RedisResult<ReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            // BLOCK 0 would wait for ever.
            .arg(block.as_millis().max(1) as u64)
            .arg("STREAMS")
            .arg(&lane.keys.ready)
            .arg(">")
            .query_async(&mut *conn)
            .await;
        let reply = match reply {
            Ok(r) => r,
            Err(e) if is_nogroup(&e) => {
                drop(conn);
                self.recreate_group(lane).await?;
                return Ok(None);
            }
            Err(e) => {
                // Drop a broken connection so the next read opens a new one.
                drop(conn);
                self.readers.lock().await.remove(consumer);
                return Err(backend(e));
            }
        };
        let Some((id, fields)) = reply
            .into_iter()
            .flatten()
            .flat_map(|(_, entries)| entries)
            .next()
        else {
            return Ok(None);
        };
        let (task, base) = decode_entry(&fields)?;
        Ok(Some(Delivery {
            id,
            task,
            deliveries: base + 1,
        }))
    }

    async fn settle(
        &self,
        delivery: &Delivery,
        mode: &str,
        delay: Duration,
        task: Option<&RetryTask>,
        error: &str,
    ) -> Result<(), QueueError> {
        let json = match task {
            Some(t) => encode(t)?,
            None => String::new(),
        };
        let old = task_field(&delivery.task.job_id, delivery.task.page);
        let new = task.map_or_else(String::new, |t| task_field(&t.job_id, t.page));
        let lane = self.lane(&delivery.task.partner_id);
        let mut conn = self.conn.clone();
        let done: redis::RedisResult<u32> = self
            .settle
            .key(&lane.keys.ready)
            .key(&lane.keys.delayed)
            .key(&lane.keys.payloads)
            .key(&lane.keys.uid)
            .key(&lane.keys.dead)
            .key(&lane.keys.tasks)
            .arg(GROUP)
            .arg(&delivery.id)
            .arg(delivery.deliveries)
            .arg(mode)
            .arg(delay.as_millis() as u64)
            .arg(json)
            .arg(error)
            .arg(old)
            .arg(new)
            .invoke_async(&mut conn)
            .await;
        let done = match done {
            Ok(d) => d,
            Err(e) if is_nogroup(&e) => {
                // The entry went with the group: it is no one's to settle any more.
                lane.group_ready.store(false, Ordering::Release);
                0
            }
            Err(e) => return Err(backend(e)),
        };
        if done == 1 {
            Ok(())
        } else {
            Err(QueueError::NotPending(delivery.id.clone()))
        }
    }
}

fn encode(task: &RetryTask) -> Result<String, QueueError> {
    serde_json::to_string(task).map_err(|e| QueueError::Codec(e.to_string()))
}

fn field<'a>(fields: &'a [String], name: &str) -> Option<&'a str> {
    fields
        .chunks_exact(2)
        .find(|kv| kv[0] == name)
        .map(|kv| kv[1].as_str())
}

/// A stream id as (ms, seq), for comparing; `0-0` for anything unreadable.
fn parse_stream_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

fn decode_entry(fields: &[String]) -> Result<(RetryTask, u32), QueueError> {
    let task =
        field(fields, "task").ok_or_else(|| QueueError::Codec("entry without task".into()))?;
    let task = serde_json::from_str(task).map_err(|e| QueueError::Codec(e.to_string()))?;
    let base = field(fields, "base")
        .and_then(|b| b.parse().ok())
        .unwrap_or(0);
    Ok((task, base))
}

#[async_trait]
impl RetryQueue for RedisQueue {
    async fn enqueue(&self, task: RetryTask, delay: Duration) -> Result<String, QueueError> {
        let json = encode(&task)?;
        let lane = self.lane(&task.partner_id);
        let mut conn = self.conn.clone();
        self.schedule
            .key(&lane.keys.ready)
            .key(&lane.keys.delayed)
            .key(&lane.keys.payloads)
            .key(&lane.keys.uid)
            .key(&lane.keys.tasks)
            .arg(delay.as_millis() as u64)
            .arg(0)
            .arg(json)
            .arg(task_field(&task.job_id, task.page))
            .invoke_async(&mut conn)
            .await
            .map_err(backend)
    }

    async fn next(&self, consumer: &str, block: Duration) -> Result<Option<Delivery>, QueueError> {
        let deadline = Instant::now() + block;
        loop {
            // Lanes are in different slots of a cluster, so each is read on its own, the
            // first in turn first; the block is shared between them.
            let lanes = self.lanes_in_turn();
            let mut next_due: Option<Duration> = None;
            for lane in &lanes {
                self.ensure_group(lane).await?;
                if let Some(due) = self.promote_when_due(lane).await? {
                    next_due = Some(next_due.map_or(due, |d| d.min(due)));
                }
                while let Some(d) = self.claim_when_due(lane, consumer).await? {
                    if d.deliveries <= self.config.max_deliveries {
                        tracing::info!(id = %d.id, deliveries = d.deliveries, consumer, "claimed a task whose consumer went silent");
                        return Ok(Some(d));
                    }
                    let error = format!(
                        "delivered {} times without being settled (its consumers crash)",
                        d.deliveries
                    );
                    match self
                        .settle(&d, "dead", Duration::ZERO, Some(&d.task), &error)
                        .await
                    {
                        Ok(()) | Err(QueueError::NotPending(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            let now = Instant::now();
            let left = deadline.saturating_duration_since(now);
            let mut wait = left.min(MAX_BLOCK).min(PROMOTE_EVERY);
            if let Some(due) = next_due {
                wait = wait.min(due);
            }
            if lanes.is_empty() {
                // No partner known yet: nothing can be queued for this process to read.
                tokio::time::sleep(wait).await;
            }
            let share = wait / lanes.len().max(1) as u32;
            for lane in &lanes {
                if let Some(d) = self.read(lane, consumer, share).await? {
                    return Ok(Some(d));
                }
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        self.settle(delivery, "ack", Duration::ZERO, None, "").await
    }

    async fn reschedule(
        &self,
        delivery: &Delivery,
        task: RetryTask,
        delay: Duration,
    ) -> Result<(), QueueError> {
        self.settle(delivery, "retry", delay, Some(&task), "").await
    }

    async fn dead_letter(&self, delivery: &Delivery, error: String) -> Result<(), QueueError> {
        self.settle(
            delivery,
            "dead",
            Duration::ZERO,
            Some(&delivery.task),
            &error,
        )
        .await
    }

    async fn pending(&self) -> Result<usize, QueueError> {
        let mut total = 0;
        for lane in self.lanes_in_turn() {
            let mut conn = self.conn.clone();
            let (ready, delayed): (usize, usize) = redis::pipe()
                .cmd("XLEN")
                .arg(&lane.keys.ready)
                .cmd("ZCARD")
                .arg(&lane.keys.delayed)
                .query_async(&mut conn)
                .await
                .map_err(backend)?;
            total += ready + delayed;
        }
        Ok(total)
    }

    async fn is_queued(&self, job: &JobId, page: u32) -> Result<bool, QueueError> {
        for lane in self.lanes_in_turn() {
            let mut conn = self.conn.clone();
            let count: Option<i64> = redis::cmd("HGET")
                .arg(&lane.keys.tasks)
                .arg(task_field(job, page))
                .query_async(&mut conn)
                .await
                .map_err(backend)?;
            if count.unwrap_or(0) > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn depth(&self) -> Result<Vec<QueueDepth>, QueueError> {
        let mut out = Vec::new();
        let lanes = self.lanes.read_locked().clone();
        for lane in lanes {
            let mut conn = self.conn.clone();
            // The ready stream holds due and delivered entries (settled ones are deleted);
            // the group's pending list is the delivered ones.
            let (delayed, ready, dead): (u64, u64, u64) = redis::pipe()
                .cmd("ZCARD")
                .arg(&lane.keys.delayed)
                .cmd("XLEN")
                .arg(&lane.keys.ready)
                .cmd("XLEN")
                .arg(&lane.keys.dead)
                .query_async(&mut conn)
                .await
                .map_err(backend)?;
            let pending: redis::RedisResult<(u64, redis::Value, redis::Value, redis::Value)> =
                redis::cmd("XPENDING")
                    .arg(&lane.keys.ready)
                    .arg(GROUP)
                    .query_async(&mut conn)
                    .await;
            let in_flight = match pending {
                Ok((n, ..)) => n,
                // No group yet (nothing was ever read), or Redis lost it: nothing delivered.
                Err(e) if is_nogroup(&e) => 0,
                Err(e) => return Err(backend(e)),
            };
            out.push(QueueDepth {
                partner: lane.partner.clone(),
                delayed,
                due: ready.saturating_sub(in_flight),
                in_flight,
                dead,
            });
        }
        Ok(out)
    }

    fn shared(&self) -> bool {
        true
    }

    async fn touch(&self, delivery: &Delivery, consumer: &str) -> Result<bool, QueueError> {
        let lane = self.lane(&delivery.task.partner_id);
        let mut conn = self.conn.clone();
        let held: i64 = self
            .touch
            .key(&lane.keys.ready)
            .arg(GROUP)
            .arg(consumer)
            .arg(&delivery.id)
            .invoke_async(&mut conn)
            .await
            .map_err(backend)?;
        Ok(held == 1)
    }

    /// Three touches per `claim_after`: one late touch does not lose the delivery.
    fn touch_every(&self) -> Option<Duration> {
        Some(self.config.claim_after / 3)
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, QueueError> {
        let mut out = Vec::new();
        for lane in self.lanes_in_turn() {
            let mut conn = self.conn.clone();
            let entries: Vec<Entry> = redis::cmd("XRANGE")
                .arg(&lane.keys.dead)
                .arg("-")
                .arg("+")
                .query_async(&mut conn)
                .await
                .map_err(backend)?;
            for (_, fields) in &entries {
                let (task, _) = decode_entry(fields)?;
                let error = field(fields, "error").unwrap_or_default().to_owned();
                out.push(DeadLetter { task, error });
            }
        }
        Ok(out)
    }
}

/// Settings of a [`RedisBus`].
#[derive(Clone, Debug)]
pub struct RedisBusConfig {
    /// Key prefix (default `txclass`).
    pub prefix: String,
    /// How long a job's messages are kept after the last one (default 1 h): a client that
    /// reconnects within it resumes, and results outlive a client that left (the pages
    /// themselves are in the store either way).
    pub retention: Duration,
    /// Most messages kept per job (approximate trim, default 10 000).
    pub max_len: usize,
}

impl Default for RedisBusConfig {
    fn default() -> Self {
        Self {
            prefix: "txclass".into(),
            retention: Duration::from_secs(3600),
            max_len: 10_000,
        }
    }
}

/// The [`ResultBus`] on one Redis stream per job, `{<prefix>:job:<id>}:results`.
///
/// **Why a stream per job, not pub/sub?** Pub/sub is at-most-once: a message published
/// while the subscriber's connection is down (a reconnect, a slow start) is gone, and the
/// job waits for a page that was fetched. A stream keeps the messages: a subscriber reads
/// from the last id it saw, so a reconnect loses nothing, and a message published when no
/// one listens is still there for `retention`.
///
/// **At-least-once.** The retry worker publishes, then acks its queue entry; if it dies in
/// between, another worker redoes the call and publishes the page again. Subscribers must
/// therefore treat messages as idempotent (a page seen twice is the same page; the store's
/// upsert by `(partner, id)` already is).
///
/// Each subscription holds its own connection for its blocking `XREAD` (see the queue's
/// notes on blocking reads), for as long as the job stream is open.
///
/// **Redis coming back empty.** The stream goes with everything else, and the next
/// publish creates it again. Its ids restart from Redis's clock, which is usually past the
/// last id the subscriber saw, but not always: a message added in the same millisecond,
/// or a failover to a host whose clock is behind, gets a smaller id that an `XREAD` from
/// the old id would never return. So every read is pipelined behind an `XREVRANGE … COUNT
/// 1` (one round trip still): when the stream is missing or its newest id is below the last
/// one seen, the stream was lost and the subscriber reads the new one from its start.
pub struct RedisBus {
    target: Target,
    conn: Conn,
    config: RedisBusConfig,
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBus")
            .field("config", &self.config)
            .finish()
    }
}

impl RedisBus {
    /// A bus on the Redis at `url`. Connects lazily; must be called inside a tokio runtime.
    pub fn new(url: &str, config: RedisBusConfig) -> Result<Self, QueueError> {
        let (target, conn) = open(url, Duration::from_secs(2))?;
        Ok(Self {
            target,
            conn,
            config,
        })
    }

    fn key(&self, job: &JobId) -> String {
        format!(
            "{{{}:job:{}}}:results",
            self.config.prefix,
            job.as_str().replace(['{', '}'], "_")
        )
    }
}

#[async_trait]
impl ResultBus for RedisBus {
    async fn publish(&self, job: &JobId, msg: RetryMessage) -> Result<(), QueueError> {
        let json = serde_json::to_string(&msg).map_err(|e| QueueError::Codec(e.to_string()))?;
        let key = self.key(job);
        let mut conn = self.conn.clone();
        redis::pipe()
            .cmd("XADD")
            .arg(&key)
            .arg("MAXLEN")
            .arg("~")
            .arg(self.config.max_len)
            .arg("*")
            .arg("msg")
            .arg(json)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(self.config.retention.as_millis() as u64)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(backend)
    }

    async fn subscribe(&self, job: &JobId) -> Result<BoxStream<'static, RetryMessage>, QueueError> {
        let key = self.key(job);
        let mut conn = self.conn.clone();
        // "From now on": the id of the last message now (or the start of an empty stream).
        let last: Vec<Entry> = redis::cmd("XREVRANGE")
            .arg(&key)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut conn)
            .await
            .map_err(backend)?;
        let mut last_id = last
            .into_iter()
            .next()
            .map_or_else(|| "0-0".to_owned(), |(id, _)| id);
        let target = self.target.clone();
        let job = job.clone();
        let stream = async_stream::stream! {
            let mut reader: Option<Conn> = None;
            let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
            loop {
                if reader.is_none() {
                    match blocking_connection(&target, MAX_BLOCK).await {
                        Ok(c) => reader = Some(c),
                        Err(e) => {
                            tracing::warn!(job = %job, error = %e, "result bus: cannot connect; retrying");
                            tokio::time::sleep(backoff.next_delay()).await;
                            continue;
                        }
                    }
                }
                let conn = reader.as_mut().expect("connected");
                let reply: redis::RedisResult<(Vec<Entry>, ReadReply)> = redis::pipe()
                    .cmd("XREVRANGE")
                    .arg(&key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1)
                    .cmd("XREAD")
                    .arg("COUNT")
                    .arg(100)
                    .arg("BLOCK")
                    .arg(MAX_BLOCK.as_millis() as u64)
                    .arg("STREAMS")
                    .arg(&key)
                    .arg(&last_id)
                    .query_async(conn)
                    .await;
                match reply {
                    Ok((newest, reply)) => {
                        backoff.reset();
                        let seen = parse_stream_id(&last_id);
                        let lost = seen > (0, 0)
                            && newest.first().is_none_or(|(id, _)| parse_stream_id(id) < seen);
                        if lost {
                            tracing::warn!(job = %job, "result bus: the job's stream was lost (redis emptied?); reading the new one from its start");
                            last_id = "0-0".to_owned();
                            continue;
                        }
                        for (id, fields) in reply.into_iter().flatten().flat_map(|(_, e)| e) {
                            last_id = id;
                            match field(&fields, "msg").map(serde_json::from_str::<RetryMessage>) {
                                Some(Ok(msg)) => yield msg,
                                _ => tracing::warn!(job = %job, "result bus: unreadable message skipped"),
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(job = %job, error = %e, "result bus: read failed; resuming");
                        reader = None;
                        tokio::time::sleep(backoff.next_delay()).await;
                    }
                }
            }
        };
        Ok(stream.boxed())
    }
}

//! A counting semaphore per partner, shared by every instance through Redis.
//!
//! ## Design
//!
//! Per partner, four keys under one hash tag (`{<prefix>:limiter:<partner>}`, so a Redis
//! Cluster keeps them in one slot, as a script needs):
//!
//! * `…:holders`, a sorted set: member = one permit, score = the end of its lease in
//!   milliseconds of **Redis's** clock (`TIME` inside the script);
//! * `…:fence`, a counter that only grows: each granted permit takes the next value as its
//!   fencing token;
//! * `…:epoch`, a hash: a random `id` of this generation of the state, and `until`, the end
//!   of a quarantine (see "Redis coming back empty");
//! * `…:limit`, a hash: the adaptive limit every instance admits under, and the generation
//!   of its last decrease ([`super::adaptive`]).
//!
//! Acquire is one `EVALSHA` (`acquire.lua`): drop the holders whose lease ran out, compare
//! the count with the adaptive limit, and if there is room take a token and add the holder.
//! Release is one `EVALSHA` (`release.lua`): remove the holder, apply the call's feedback to
//! the limit, and publish on `…:released` that a slot is free. Every script runs through
//! [`redis::Script`]: `EVALSHA`, and on `NOSCRIPT` (a restarted Redis, `SCRIPT FLUSH`) the
//! client loads the script and sends it again.
//!
//! **Why not "Redis in Action" §6.3 as written?** Its fair semaphore keeps a timeout zset,
//! an owner zset and a counter because each *client* stamps its own clock into the timeout
//! zset: clients with fast clocks could otherwise steal slots, so ownership is ranked by the
//! counter instead. Here the script reads Redis's `TIME` and runs atomically, so every lease
//! is stamped by one clock and one sorted set is enough; the counter survives as the fencing
//! token. One key less to write per acquire, and a smaller script.
//!
//! ## Leases, renewal, fencing
//!
//! A permit is a lease (`lease`, default 15 s). A process that dies (even `kill -9`) stops
//! renewing, and its permits come back at most one lease later. A live process renews all
//! the permits it holds in one script call per partner every `lease / 3`, so long calls keep
//! their slot. If renewal finds a lease already gone (Redis was unreachable longer than a
//! lease, or the process stalled) the permit is marked lost ([`Permit::lease_held`]) and the
//! call should stop. Since a paused holder can still send a late request, every permit
//! carries a fencing token (Kleppmann, "How to do distributed locking"), sent to the
//! partner as `X-Fencing-Token`: a partner that remembers the highest token it has seen
//! can refuse stale holders.
//!
//! The counter lives in Redis's memory: run Redis with persistence (AOF) or replication in
//! production, or a restart starts tokens again from 1.
//!
//! ## Redis coming back empty
//!
//! A Redis without persistence that restarts, or a failover to an empty replica, forgets
//! every holder while their calls are still in flight: counted from zero, the partner would
//! get up to twice its cap. Every limiter remembers the epoch id it last saw; the scripts
//! find the epoch missing (or changed under a limiter that saw another), create it again
//! and put it in **quarantine for one lease**: nothing new is admitted until then. Holders
//! meanwhile **register their permits again**: renewal (every third of a lease, so within
//! the quarantine) finds a member missing under a new epoch, which means Redis lost it, not
//! that its lease ran out, and adds it back instead of declaring it lost.
//!
//! **Why both, not one?** The quarantine alone trusts that every call ends within a lease,
//! which is false for the long calls renewal exists for; after it, they would not count.
//! Re-registration alone leaves a gap of up to a third of a lease (until each holder's next
//! renewal) in which new calls are admitted next to the uncounted ones. Together the cap
//! holds: no admission until every live holder has renewed, and every live permit counted
//! after. A holder that died meanwhile registers nothing, as its lease would have run out.
//!
//! What stays open: a limiter that has never seen an epoch (a process started after the
//! loss) cannot tell a loss from a first start, so it creates the epoch without a
//! quarantine if it comes first; the others then see a changed epoch, quarantine from that
//! moment and re-register. The gap is bounded by one renewal period.
//!
//! ## Dropping, cancellation
//!
//! Dropping a permit spawns its release on the runtime the limiter was built on. An
//! `acquire` cancelled while its script is in flight may or may not have taken a slot;
//! its member name was chosen before the call, so the cancelled future releases it anyway
//! (a release of a member that is not there is harmless).
//!
//! ## Redis unreachable: fail closed
//!
//! Every Redis failure (refused connection, a reply slower than `response_timeout`) is
//! [`LimiterError::Backend`]: no permit, so no partner call. The caller puts the call on
//! the retry queue. Failing open would let every instance call at full capacity at once,
//! which is exactly the overload this limiter exists to prevent.
//!
//! ## Waiting: woken by releases, not by polling
//!
//! Every limiter subscribes to its partners' `…:released` channels. A release anywhere
//! publishes one message, and each instance wakes **one** of its waiters (the
//! longest-waiting: FIFO within a process), which tries once: per freed slot, one try per
//! instance that has a waiter, instead of every waiter polling. A release made by this
//! process wakes its own waiter without the round trip. Pub/sub is at-most-once and a
//! holder that dies frees its slot by lease expiry, without a message, so a waiter also
//! tries again after a jittered backstop (`poll_min` doubling to `poll_max`, default 2 s
//! to 5 s: a dead holder's slot comes back only when its lease runs out anyway), and every waiter wakes when the subscription is re-established. Waiters are not
//! queued in Redis, so across instances the order is not FIFO; callers that must not wait
//! use `max_wait = 0` and queue the call instead.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::redis_conn::{Conn, Target};
use async_trait::async_trait;
use rand::Rng;
use redis::Script;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use super::adaptive::{AdaptivePolicy, Feedback};
use super::{Limiter, LimiterError, Permit};
use crate::backoff::{Backoff, Jitter};
use crate::domain::PartnerId;
use crate::pubsub::{self, SubEvent};
use crate::sync::Lock;

static ACQUIRE: &str = include_str!("acquire.lua");
static RELEASE: &str = include_str!("release.lua");
static RENEW: &str = include_str!("renew.lua");
static IN_USE: &str = include_str!("in_use.lua");

/// Builds a [`RedisLimiter`].
#[derive(Debug, Clone)]
pub struct RedisLimiterBuilder {
    url: String,
    prefix: String,
    lease: Duration,
    response_timeout: Duration,
    connect_timeout: Duration,
    poll_min: Duration,
    poll_max: Duration,
    partners: Vec<(PartnerId, NonZeroU32, AdaptivePolicy)>,
}

impl RedisLimiterBuilder {
    /// Key prefix (default `txclass`); instances that share semaphores use the same one.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Lease of a permit (default 15 s; at least 30 ms). A dead holder's permits return
    /// after at most this long; live holders renew every third of it.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// Longest wait for a Redis reply before the call fails closed (default 2 s).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Longest wait for a connection (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Bounds of the backstop while the semaphore is busy (default 2 s – 5 s): a waiter
    /// is woken by releases, and tries again after this even if it heard none.
    pub fn poll(mut self, min: Duration, max: Duration) -> Self {
        self.poll_min = min.max(Duration::from_millis(1));
        self.poll_max = max.max(self.poll_min);
        self
    }

    /// Adds a partner with `capacity` concurrent calls across all instances, admitted
    /// adaptively with the default [`AdaptivePolicy`] (every instance must configure the
    /// same capacity: each one admits while the shared count is below its own figure).
    pub fn partner(self, partner: impl Into<PartnerId>, capacity: NonZeroU32) -> Self {
        self.partner_with(partner, capacity, AdaptivePolicy::default())
    }

    /// Adds a partner with `capacity` concurrent calls at most, admitted as `policy` says.
    pub fn partner_with(
        mut self,
        partner: impl Into<PartnerId>,
        capacity: NonZeroU32,
        policy: AdaptivePolicy,
    ) -> Self {
        self.partners.push((partner.into(), capacity, policy));
        self
    }

    /// The limiter. Connects lazily: an unreachable Redis shows up as
    /// [`LimiterError::Backend`] on the first acquire, not here. Must be called inside a
    /// tokio runtime (it starts the lease renewal task there).
    pub fn build(self) -> Result<RedisLimiter, LimiterError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            LimiterError::Backend("redis limiter built outside a tokio runtime".into())
        })?;
        let target = Target::parse(&self.url).map_err(LimiterError::Backend)?;
        let conn = target
            .shared(self.response_timeout, self.connect_timeout)
            .map_err(backend)?;
        let mut instance = [0u8; 8];
        rand::thread_rng().fill(&mut instance);
        let partners: HashMap<PartnerId, Slot> = self
            .partners
            .into_iter()
            .map(|(id, capacity, policy)| {
                let tag = format!("{{{}:limiter:{}}}", self.prefix, sanitize(id.as_str()));
                let slot = Slot {
                    capacity: capacity.get(),
                    policy,
                    holders: format!("{tag}:holders"),
                    fence: format!("{tag}:fence"),
                    epoch: format!("{tag}:epoch"),
                    limit: format!("{tag}:limit"),
                    channel: format!("{tag}:released"),
                    seen_epoch: Mutex::new(String::new()),
                    waiting: AtomicUsize::new(0),
                    released: Notify::new(),
                    held: Mutex::new(HashMap::new()),
                };
                (id, slot)
            })
            .collect();
        let channels = partners.values().map(|s| s.channel.clone()).collect();
        let inner = Arc::new(Inner {
            conn,
            lease: self.lease,
            poll_min: self.poll_min,
            poll_max: self.poll_max,
            partners,
            instance: instance.iter().map(|b| format!("{b:02x}")).collect(),
            seq: AtomicU64::new(0),
            runtime: runtime.clone(),
            acquire: Script::new(ACQUIRE),
            release: Script::new(RELEASE),
            renew: Script::new(RENEW),
            in_use: Script::new(IN_USE),
        });
        runtime.spawn(renew_loop(Arc::downgrade(&inner), self.lease / 3));
        let releases = pubsub::follow(target.pubsub_client(), channels);
        runtime.spawn(wake_loop(Arc::downgrade(&inner), releases));
        Ok(RedisLimiter { inner })
    }
}

/// Keeps `{` and `}` out of the hash tag.
fn sanitize(s: &str) -> String {
    s.replace(['{', '}'], "_")
}

fn backend(e: redis::RedisError) -> LimiterError {
    // The redis crate's messages name the failure, never the URL or password.
    LimiterError::Backend(format!("redis: {e}"))
}

/// The Redis-backed [`Limiter`]. Cheap to clone (one connection, shared).
#[derive(Clone)]
pub struct RedisLimiter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("instance", &self.inner.instance)
            .field("lease", &self.inner.lease)
            .field("partners", &self.inner.partners.keys().collect::<Vec<_>>())
            .finish()
    }
}

struct Inner {
    /// Multiplexed: concurrent scripts are pipelined on one connection. No blocking command
    /// ever runs on it.
    conn: Conn,
    lease: Duration,
    poll_min: Duration,
    poll_max: Duration,
    partners: HashMap<PartnerId, Slot>,
    /// Random per limiter, so member names never clash between processes.
    instance: String,
    seq: AtomicU64,
    /// Where drops spawn their release.
    runtime: tokio::runtime::Handle,
    acquire: Script,
    release: Script,
    renew: Script,
    in_use: Script,
}

struct Slot {
    capacity: u32,
    policy: AdaptivePolicy,
    holders: String,
    fence: String,
    epoch: String,
    limit: String,
    /// Where releases are announced.
    channel: String,
    /// The epoch id this limiter saw last ("" before its first reply): a different one
    /// means Redis lost the state in between.
    seen_epoch: Mutex<String>,
    /// Calls of this process waiting for a permit.
    waiting: AtomicUsize,
    /// Wakes one of this process's waiters when a permit is released (here, or on another
    /// instance: announced on `channel`).
    released: Notify,
    /// Permits this process holds: member → lease state.
    held: Mutex<HashMap<String, Held>>,
}

struct Held {
    valid: Arc<AtomicBool>,
    /// The epoch the permit was granted or last renewed in: if Redis has another one and
    /// not the permit, Redis lost it (the lease did not run out), and renewal adds it back.
    epoch: String,
    /// Last time Redis confirmed the lease (local clock; only compared with itself).
    confirmed: Instant,
}

impl RedisLimiter {
    /// A builder for a limiter on the Redis at `url` (`redis://host:port/db`).
    pub fn builder(url: impl Into<String>) -> RedisLimiterBuilder {
        RedisLimiterBuilder {
            url: url.into(),
            prefix: "txclass".into(),
            lease: Duration::from_secs(15),
            response_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            poll_min: Duration::from_secs(2),
            poll_max: Duration::from_secs(5),
            partners: Vec::new(),
        }
    }

    /// The lease of a permit.
    pub fn lease(&self) -> Duration {
        self.inner.lease
    }

    /// The capacity configured for `partner`.
    pub fn capacity(&self, partner: &PartnerId) -> Option<u32> {
        self.inner.partners.get(partner).map(|s| s.capacity)
    }

    /// Permits this process holds for `partner` (all instances: [`Limiter::in_use`]).
    pub fn held_here(&self, partner: &PartnerId) -> usize {
        self.inner
            .partners
            .get(partner)
            .map_or(0, |s| s.held.locked().len())
    }

    /// Renews every lease this process holds now (the background task does this every
    /// third of a lease; exposed for tests and for a caller about to start a long call).
    pub async fn renew_now(&self) -> Result<(), LimiterError> {
        self.inner.renew_all().await
    }

    fn slot(&self, partner: &PartnerId) -> Result<&Slot, LimiterError> {
        self.inner
            .partners
            .get(partner)
            .ok_or_else(|| LimiterError::UnknownPartner(partner.clone()))
    }

    /// One attempt: a permit, or `None` when all are held.
    async fn try_once(&self, partner: &PartnerId) -> Result<Option<Permit>, LimiterError> {
        let inner = &self.inner;
        let slot = self.slot(partner)?;
        let member = format!(
            "{}:{}",
            inner.instance,
            inner.seq.fetch_add(1, Ordering::Relaxed)
        );
        // Armed until we know whether the script took a slot: a cancelled or failed call
        // (a timeout may still have run the script) releases the member.
        let mut guard = ReleaseOnDrop {
            inner: Some(inner.clone()),
            partner: partner.clone(),
            member: member.clone(),
        };
        let seen = slot.seen_epoch().clone();
        let mut conn = inner.conn.clone();
        let (token, epoch, _quarantine_ms, generation): (u64, String, u64, String) = inner
            .acquire
            .key(&slot.holders)
            .key(&slot.fence)
            .key(&slot.epoch)
            .key(&slot.limit)
            .arg(slot.capacity)
            .arg(inner.lease.as_millis() as u64)
            .arg(&member)
            .arg(new_epoch_id())
            .arg(&seen)
            .invoke_async(&mut conn)
            .await
            .map_err(backend)?;
        guard.inner = None;
        if epoch != seen {
            if !seen.is_empty() {
                tracing::warn!(partner = %partner, "redis lost the semaphore's state; admitting nothing for one lease");
            }
            *slot.seen_epoch() = epoch.clone();
        }
        if token == 0 {
            return Ok(None);
        }
        let valid = Arc::new(AtomicBool::new(true));
        slot.held.locked().insert(
            member.clone(),
            Held {
                valid: valid.clone(),
                confirmed: Instant::now(),
                epoch,
            },
        );
        let owner = inner.clone();
        let p = partner.clone();
        Ok(Some(
            Permit::new(partner.clone(), token, move |feedback| {
                owner.release_later(p, member, feedback.map(|f| (f, generation)))
            })
            .with_lease(valid),
        ))
    }
}

impl Slot {
    fn seen_epoch(&self) -> std::sync::MutexGuard<'_, String> {
        self.seen_epoch.locked()
    }
}

/// Counts a waiting call for as long as it lives (the wait may end by cancellation).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A random id for an epoch this call may have to create.
fn new_epoch_id() -> String {
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}

/// Releases a member if the acquire that named it did not finish.
struct ReleaseOnDrop {
    inner: Option<Arc<Inner>>,
    partner: PartnerId,
    member: String,
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.release_later(
                std::mem::take(&mut self.partner),
                std::mem::take(&mut self.member),
                None,
            );
        }
    }
}

impl Inner {
    /// Forgets the member here and releases it in Redis on the runtime (drop is sync), with
    /// the call's feedback and the limit generation it was admitted in.
    fn release_later(
        self: Arc<Self>,
        partner: PartnerId,
        member: String,
        feedback: Option<(Feedback, String)>,
    ) {
        if let Some(slot) = self.partners.get(&partner) {
            slot.held.locked().remove(&member);
        }
        let inner = self.clone();
        // If the runtime is gone the task never runs; the lease frees the slot.
        self.runtime.spawn(async move {
            let Some(slot) = inner.partners.get(&partner) else {
                return;
            };
            let mut conn = inner.conn.clone();
            let (word, generation) = match &feedback {
                None => ("", ""),
                Some((Feedback::Served, g)) => ("served", g.as_str()),
                Some((Feedback::Overloaded, g)) => ("overloaded", g.as_str()),
            };
            let (enabled, ratio, probe_after, floor) = slot.policy.script_args(slot.capacity);
            let r: Result<u32, _> = inner
                .release
                .key(&slot.holders)
                .key(&slot.limit)
                .arg(&member)
                .arg(word)
                .arg(generation)
                .arg(slot.capacity)
                .arg(enabled)
                .arg(ratio)
                .arg(probe_after)
                .arg(floor)
                .arg(&slot.channel)
                .arg(&inner.instance)
                .invoke_async(&mut conn)
                .await;
            if let Err(e) = r {
                tracing::warn!(partner = %partner, error = %e, "permit release failed; its lease will free it");
            }
            // One waiter per freed slot (a cancelled waiter passes it on).
            slot.released.notify_one();
        });
    }

    async fn renew_all(&self) -> Result<(), LimiterError> {
        let mut first_err = None;
        for slot in self.partners.values() {
            let members: Vec<(String, String)> = {
                let held = slot.held.locked();
                held.iter()
                    .map(|(m, h)| (m.clone(), h.epoch.clone()))
                    .collect()
            };
            if members.is_empty() {
                continue;
            }
            let mut conn = self.conn.clone();
            let mut call = self.renew.key(&slot.holders);
            call.key(&slot.epoch)
                .arg(self.lease.as_millis() as u64)
                .arg(new_epoch_id());
            for (m, epoch) in &members {
                call.arg(m).arg(epoch);
            }
            let started = Instant::now();
            let r: Result<(Vec<String>, String), _> = call.invoke_async(&mut conn).await;
            let mut held = slot.held.locked();
            match r {
                Ok((lost, epoch)) => {
                    for (m, _) in &members {
                        if let Some(h) = held.get_mut(m) {
                            h.confirmed = started;
                            h.epoch.clone_from(&epoch);
                        }
                    }
                    for m in lost {
                        if let Some(h) = held.get(&m) {
                            tracing::warn!(member = %m, "permit lease was lost before renewal");
                            h.valid.store(false, Ordering::Release);
                        }
                    }
                }
                Err(e) => {
                    // Redis may have let the lease run out meanwhile: past the lease, the
                    // permit is no longer trusted.
                    for h in held.values() {
                        if h.confirmed.elapsed() >= self.lease {
                            h.valid.store(false, Ordering::Release);
                        }
                    }
                    first_err.get_or_insert(backend(e));
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// Wakes one waiter per release announced by another instance, and every waiter when the
/// subscription is (re-)established (releases may have gone unheard meanwhile).
async fn wake_loop(inner: Weak<Inner>, mut releases: mpsc::Receiver<SubEvent>) {
    while let Some(event) = releases.recv().await {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        match event {
            SubEvent::Subscribed => {
                for slot in inner.partners.values() {
                    slot.released.notify_waiters();
                }
            }
            SubEvent::Message { channel, payload } => {
                if payload == inner.instance {
                    continue; // our own release already woke a waiter here
                }
                if let Some(slot) = inner.partners.values().find(|s| s.channel == channel) {
                    slot.released.notify_one();
                }
            }
        }
    }
}

async fn renew_loop(inner: Weak<Inner>, period: Duration) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if let Err(e) = inner.renew_all().await {
            tracing::warn!(error = %e, "permit lease renewal failed");
        }
    }
}

#[async_trait]
impl Limiter for RedisLimiter {
    fn shared(&self) -> bool {
        true
    }

    async fn acquire(
        &self,
        partner: &PartnerId,
        max_wait: Duration,
    ) -> Result<Option<Permit>, LimiterError> {
        let slot = self.slot(partner)?;
        let deadline = Instant::now() + max_wait;
        let backstop =
            Backoff::new(self.inner.poll_min, self.inner.poll_max).with_jitter(Jitter::Equal);
        // Backstops slept through so far (a wake-up by a release does not count).
        let mut slept = 0;
        // No barging: while calls of this process wait, a newcomer queues behind them, so a
        // release is handed to the longest waiter instead of lost to a fresh try (which
        // would cost the woken waiter a failed script call).
        let mut may_try = slot.waiting.load(Ordering::Acquire) == 0 || max_wait.is_zero();
        let mut _queued = None;
        loop {
            // Listen before trying, so a release between the try and the wait wakes us.
            let released = slot.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if may_try {
                if let Some(permit) = self.try_once(partner).await? {
                    return Ok(Some(permit));
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            _queued.get_or_insert_with(|| Waiting::enter(&slot.waiting));
            let jittered = backstop.draw(slept, rand::thread_rng().gen_range(0.0..=1.0));
            let wait = jittered.min(deadline - now);
            tokio::select! {
                _ = released => {}
                _ = tokio::time::sleep(wait) => {
                    slept += 1;
                }
            }
            may_try = true;
        }
    }

    async fn in_use(&self, partner: &PartnerId) -> Result<u32, LimiterError> {
        let slot = self.slot(partner)?;
        let mut conn = self.inner.conn.clone();
        self.inner
            .in_use
            .key(&slot.holders)
            .invoke_async(&mut conn)
            .await
            .map_err(backend)
    }

    async fn limit(&self, partner: &PartnerId) -> Result<u32, LimiterError> {
        let slot = self.slot(partner)?;
        let mut conn = self.inner.conn.clone();
        let limit: Option<f64> = redis::cmd("HGET")
            .arg(&slot.limit)
            .arg("limit")
            .query_async(&mut conn)
            .await
            .map_err(backend)?;
        let limit = limit.unwrap_or(f64::from(slot.capacity));
        Ok(AdaptivePolicy::admitted(limit, slot.capacity))
    }
}

//! Sharing the open state of a partner's circuit between instances through Redis.
//!
//! ## What is shared, and the trade-off
//!
//! Each instance keeps its own [`LocalBreaker`]: its own sliding window, its own verdicts,
//! and decisions stay synchronous and local (no Redis round trip per call). What is shared
//! is the **open** verdict: when any instance opens the circuit it writes
//! `{<prefix>:breaker:<partner>}:open` (expiring after the open duration) and publishes on
//! `{<prefix>:breaker:<partner>}:events`; every other instance forces its breaker open for
//! the time left. A starting (or reconnecting) instance reads the key, so it does not
//! hammer a partner the others have given up on.
//!
//! * Gain: one instance's evidence protects the partner from all instances within one
//!   pub/sub hop (milliseconds), instead of each instance paying `minimum_calls` failures.
//! * Cost: the windows are not merged, so a partner failing for 30 % of calls on each of
//!   three instances is judged on each instance's sample alone; half-open trials run per
//!   instance (up to instances × `half_open_calls` trials, still bounded by the limiter);
//!   closing is local (an instance whose trials succeed closes its own circuit, the
//!   others close after their own trials). Pub/sub is at-most-once: an instance that is
//!   disconnected when the message is sent learns the state from the key on reconnect.
//! * Redis down: sharing stops, each breaker keeps working on its own (a breaker must not
//!   depend on the health of another system to protect a partner).
//! * Redis back, even empty (restarted without persistence, failed over): the subscriber
//!   subscribes again (its backoff starts over after each successful subscription), and a
//!   verdict that could not be written while Redis was away is retried until it is written
//!   or its open period is over. The `open` key of a verdict written before the loss is
//!   gone, so an instance starting after it learns of that open circuit only from its own
//!   failures; instances already running keep what they were told.
//!
//! Default is in-process ([`LocalBreaker`]); share when instances are many and the partner
//! is fragile.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::redis_conn::{Conn, Target};
use rand::Rng;
use tokio::sync::{mpsc, oneshot};

use super::CircuitPolicy;
use super::{CallOutcome, CallPermit, CircuitBreaker, CircuitState, LocalBreaker, NotUntil};
use super::{Transition, WindowSnapshot};
use crate::backoff::Backoff;
use crate::clock::Clock;
use crate::domain::PartnerId;
use crate::pubsub::{self, SubEvent};

/// Why a shared breaker could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SharedBreakerError {
    /// The Redis URL is unusable (the message never repeats the URL: it may hold a password).
    #[error("invalid redis url for the shared breaker ({0})")]
    InvalidUrl(String),
}

/// A [`LocalBreaker`] whose open verdicts are shared through Redis (see the module docs).
pub struct RedisSharedBreaker {
    local: Arc<LocalBreaker>,
    /// Dropping it stops the subscriber task.
    _stop: oneshot::Sender<()>,
}

impl std::fmt::Debug for RedisSharedBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSharedBreaker")
            .field("local", &self.local)
            .finish()
    }
}

struct Keys {
    open: String,
    events: String,
    instance: String,
}

impl RedisSharedBreaker {
    /// A closed breaker for `partner` sharing its open state through the Redis at `url`
    /// under `prefix`. Starts two tasks on the current tokio runtime (publisher and
    /// subscriber). Fails only on an unreadable URL: an unreachable Redis is retried in the
    /// background while the breaker works locally.
    pub fn start(
        url: &str,
        prefix: &str,
        partner: &PartnerId,
        policy: CircuitPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SharedBreakerError> {
        let target = Target::parse(url).map_err(SharedBreakerError::InvalidUrl)?;
        let conn = target
            .shared(Duration::from_secs(2), Duration::from_secs(1))
            .map_err(|e| SharedBreakerError::InvalidUrl(format!("{:?}", e.kind())))?;
        let client = target.pubsub_client();
        let tag = format!(
            "{{{prefix}:breaker:{}}}",
            partner.as_str().replace(['{', '}'], "_")
        );
        let mut id = [0u8; 8];
        rand::thread_rng().fill(&mut id);
        let keys = Arc::new(Keys {
            open: format!("{tag}:open"),
            events: format!("{tag}:events"),
            instance: id.iter().map(|b| format!("{b:02x}")).collect(),
        });
        let (tx, rx) = mpsc::unbounded_channel::<Duration>();
        let local = Arc::new(LocalBreaker::new(policy, clock).with_open_hook(Box::new(
            move |wait| {
                let _ = tx.send(wait);
            },
        )));
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(publish_loop(rx, conn.clone(), keys.clone()));
        tokio::spawn(subscribe_loop(
            client,
            conn,
            keys,
            Arc::downgrade(&local),
            stopped,
        ));
        Ok(Self { local, _stop: stop })
    }

    /// The in-process breaker underneath.
    pub fn local(&self) -> &LocalBreaker {
        &self.local
    }

    /// Totals of this instance's window.
    pub fn window(&self) -> WindowSnapshot {
        self.local.window()
    }
}

async fn publish_loop(mut rx: mpsc::UnboundedReceiver<Duration>, mut conn: Conn, keys: Arc<Keys>) {
    while let Some(wait) = rx.recv().await {
        let opened = tokio::time::Instant::now();
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        // The time left, so a late write never holds the others open longer.
        while let Some(left) = wait.checked_sub(opened.elapsed()) {
            if share_open(&mut conn, &keys, left).await {
                break;
            }
            // The first command after a Redis restart fails while the connection is
            // re-established; the verdict still matters until its open period ends.
            tokio::time::sleep(backoff.next_delay()).await;
        }
    }
}

/// Writes the open key and tells the others; false if Redis did not take it.
async fn share_open(conn: &mut Conn, keys: &Keys, wait: Duration) -> bool {
    let ms = wait.as_millis().max(1) as u64;
    let r: redis::RedisResult<()> = redis::pipe()
        .cmd("SET")
        .arg(&keys.open)
        .arg(&keys.instance)
        .arg("PX")
        .arg(ms)
        .ignore()
        .cmd("PUBLISH")
        .arg(&keys.events)
        .arg(format!("{} {ms}", keys.instance))
        .ignore()
        .query_async(conn)
        .await;
    match r {
        Ok(()) => {
            tracing::info!(key = %keys.open, open_ms = ms, "shared circuit opened");
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not share the open circuit; retrying");
            false
        }
    }
}

/// Follows the other instances' verdicts until the breaker is dropped; reads the key after
/// every (re)subscription.
async fn subscribe_loop(
    client: redis::Client,
    mut conn: Conn,
    keys: Arc<Keys>,
    local: Weak<LocalBreaker>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut events = pubsub::follow(client, vec![keys.events.clone()]);
    loop {
        let event = tokio::select! {
            _ = &mut stopped => return,
            e = events.recv() => match e {
                Some(e) => e,
                None => return,
            },
        };
        let Some(local) = local.upgrade() else {
            return;
        };
        match event {
            SubEvent::Subscribed => {
                // Subscribed first, then read: an open published in between is seen either way.
                let pttl: redis::RedisResult<i64> = redis::cmd("PTTL")
                    .arg(&keys.open)
                    .query_async(&mut conn)
                    .await;
                match pttl {
                    Ok(ms) if ms > 0 => local.force_open(Duration::from_millis(ms as u64)),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "shared breaker could not read the open key")
                    }
                }
            }
            SubEvent::Message { payload, .. } => {
                let mut parts = payload.split(' ');
                let (Some(from), Some(ms)) = (parts.next(), parts.next()) else {
                    continue;
                };
                if from == keys.instance {
                    continue;
                }
                let Ok(ms) = ms.parse::<u64>() else { continue };
                tracing::info!(key = %keys.open, open_ms = ms, "circuit opened by another instance");
                local.force_open(Duration::from_millis(ms));
            }
        }
    }
}

impl CircuitBreaker for RedisSharedBreaker {
    fn try_acquire(&self) -> (Result<CallPermit, NotUntil>, Option<Transition>) {
        self.local.try_acquire()
    }

    fn record(&self, permit: CallPermit, outcome: CallOutcome) -> Option<Transition> {
        self.local.record(permit, outcome)
    }

    fn state(&self) -> CircuitState {
        self.local.state()
    }
}

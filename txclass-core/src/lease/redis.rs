//! Job leases in Redis.
//!
//! Keys share the hash tag `{<prefix>:jobs}` (the scripts touch a job's lease and the
//! backend's epoch together; Redis Cluster needs them in one slot):
//!
//! * `…:lease:<job>`: the owner's name, with a TTL of the lease;
//! * `…:watched:<job>`, `…:cancel:<job>`: the per-job signals, with TTLs;
//! * `…:epoch`: set once when an instance starts; its absence means Redis lost its data
//!   (restarted empty, or failed over to an empty replica);
//! * `…:quarantine`: set for one lease period when the loss is noticed.
//!
//! **Why a quarantine after a loss?** An empty Redis holds no lease, so every running job
//! would look abandoned and be taken over while its owner is alive. Owners renew every third
//! of a lease and `renew` takes a vanished lease back, so within one lease period every live
//! owner holds its lease again; until then nobody acquires (takes over) anything.

use std::time::Duration;

use crate::redis_conn::{Conn, Target};
use async_trait::async_trait;
use redis::{AsyncCommands, Script};

use super::{JobLeases, LeaseError};
use crate::domain::JobId;

/// `KEYS`: lease, epoch, quarantine. `ARGV`: owner, ttl ms, mode (`acquire` | `renew`).
/// Returns 1 when `owner` holds the lease afterwards.
const LEASE: &str = r"
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], '1')
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
end
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder then return 0 end
if ARGV[3] == 'acquire' and redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
";

/// `KEYS`: lease. `ARGV`: owner.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

/// Job leases shared by every instance through one Redis.
pub struct RedisLeases {
    conn: Conn,
    prefix: String,
    lease: Script,
    release: Script,
}

fn backend(e: redis::RedisError) -> LeaseError {
    LeaseError(format!("redis: {e}"))
}

impl RedisLeases {
    /// Leases under `prefix` in the Redis at `url`. Connects lazily; must be called inside a
    /// tokio runtime.
    pub fn new(url: &str, prefix: &str) -> Result<Self, LeaseError> {
        let conn = Target::parse(url)
            .map_err(LeaseError)?
            .shared(Duration::from_secs(2), Duration::from_secs(1))
            .map_err(backend)?;
        Ok(Self {
            conn,
            prefix: format!("{{{prefix}:jobs}}"),
            lease: Script::new(LEASE),
            release: Script::new(RELEASE),
        })
    }

    /// Marks the data as present (a fresh Redis at first start is not a loss), in a task of
    /// its own: building must not wait for Redis.
    pub fn init_in_background(&self) {
        let mut conn = self.conn.clone();
        let key = self.key("epoch", None);
        tokio::spawn(async move {
            let r: Result<Option<String>, _> = redis::cmd("SET")
                .arg(key)
                .arg("1")
                .arg("NX")
                .query_async(&mut conn)
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "could not mark the job-lease data present");
            }
        });
    }

    fn key(&self, what: &str, job: Option<&JobId>) -> String {
        match job {
            Some(job) => format!("{}:{what}:{}", self.prefix, job.as_str()),
            None => format!("{}:{what}", self.prefix),
        }
    }

    async fn lease(
        &self,
        job: &JobId,
        owner: &str,
        ttl: Duration,
        mode: &str,
    ) -> Result<bool, LeaseError> {
        let mut conn = self.conn.clone();
        let held: i64 = self
            .lease
            .key(self.key("lease", Some(job)))
            .key(self.key("epoch", None))
            .key(self.key("quarantine", None))
            .arg(owner)
            .arg(ttl.as_millis().max(1) as u64)
            .arg(mode)
            .invoke_async(&mut conn)
            .await
            .map_err(backend)?;
        Ok(held == 1)
    }
}

#[async_trait]
impl JobLeases for RedisLeases {
    async fn acquire(&self, job: &JobId, owner: &str, ttl: Duration) -> Result<bool, LeaseError> {
        self.lease(job, owner, ttl, "acquire").await
    }

    async fn renew(&self, job: &JobId, owner: &str, ttl: Duration) -> Result<bool, LeaseError> {
        self.lease(job, owner, ttl, "renew").await
    }

    async fn release(&self, job: &JobId, owner: &str) -> Result<(), LeaseError> {
        let mut conn = self.conn.clone();
        let _: i64 = self
            .release
            .key(self.key("lease", Some(job)))
            .arg(owner)
            .invoke_async(&mut conn)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn mark_watched(&self, job: &JobId, ttl: Duration) -> Result<(), LeaseError> {
        let mut conn = self.conn.clone();
        let ms = ttl.as_millis().max(1) as u64;
        let _: () = conn
            .pset_ex(self.key("watched", Some(job)), 1, ms)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn watched(&self, job: &JobId) -> Result<bool, LeaseError> {
        let mut conn = self.conn.clone();
        conn.exists(self.key("watched", Some(job)))
            .await
            .map_err(backend)
    }

    async fn request_cancel(&self, job: &JobId) -> Result<(), LeaseError> {
        let mut conn = self.conn.clone();
        // Kept a day: longer than any job's deadline.
        let _: () = conn
            .set_ex(self.key("cancel", Some(job)), 1, 24 * 3600)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn cancel_requested(&self, job: &JobId) -> Result<bool, LeaseError> {
        let mut conn = self.conn.clone();
        conn.exists(self.key("cancel", Some(job)))
            .await
            .map_err(backend)
    }
}

//! Requests per tenant: each tenant may send `per_second` requests on average and `burst`
//! at once; past that a request is refused with how long to wait (`429` and `Retry-After`
//! in the server).
//!
//! The algorithm is GCRA (the generic cell rate algorithm, as `governor` implements it): per
//! tenant one instant, the "theoretical arrival time" `tat`. A request at `now` is admitted
//! when `tat - now <= tolerance` (tolerance = `burst - 1` emission intervals), and moves
//! `tat` to `max(tat, now) + interval`; otherwise it waits `tat - now - tolerance`. One
//! number per tenant, no timers, no buckets to refill.
//!
//! [`LocalRate`] keeps the instants in this process. [`RedisRate`] (feature `redis`) keeps
//! them in the shared Redis, read and moved by one script on Redis's own clock, so every
//! instance counts a tenant's requests together. `governor` would give the local half only;
//! both halves here apply the same few lines, in Rust and in Lua.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::domain::TenantId;
use crate::sync::Lock;

/// A tenant's allowance: the `rate` table of the server's `[auth]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateSettings {
    /// Average requests per second per tenant; 0 turns the limit off.
    pub per_second: f64,
    /// Requests a tenant may send at once (at least 1).
    pub burst: u32,
}

impl Default for RateSettings {
    fn default() -> Self {
        Self {
            per_second: 50.0,
            burst: 100,
        }
    }
}

impl RateSettings {
    /// Whether there is a limit at all.
    pub fn enabled(&self) -> bool {
        self.per_second > 0.0
    }

    /// The emission interval and the tolerance.
    fn gcra(&self) -> (Duration, Duration) {
        let interval = Duration::from_secs_f64(1.0 / self.per_second);
        (interval, interval * self.burst.max(1).saturating_sub(1))
    }
}

/// Admits a tenant's requests under its allowance.
#[async_trait]
pub trait RequestRate: Send + Sync + 'static {
    /// Admits one request of `tenant` now (`Ok`), or says how long until one would be.
    async fn admit(&self, tenant: &TenantId) -> Result<(), Duration>;
}

/// One GCRA step: the new `tat` when a request at `now` is admitted, or the wait.
fn step(
    tat: Instant,
    now: Instant,
    interval: Duration,
    tolerance: Duration,
) -> Result<Instant, Duration> {
    let tat = tat.max(now);
    let ahead = tat - now;
    if ahead > tolerance {
        Err(ahead - tolerance)
    } else {
        Ok(tat + interval)
    }
}

/// Tenants past this many are forgotten once their `tat` is in the past (they are back at
/// a full burst anyway), so the map stays small.
const FORGET_ABOVE: usize = 10_000;

/// [`RequestRate`] in this process.
pub struct LocalRate {
    interval: Duration,
    tolerance: Duration,
    tats: std::sync::Mutex<HashMap<TenantId, Instant>>,
}

impl LocalRate {
    /// An allowance of `settings` per tenant.
    pub fn new(settings: &RateSettings) -> Self {
        let (interval, tolerance) = settings.gcra();
        Self {
            interval,
            tolerance,
            tats: std::sync::Mutex::default(),
        }
    }
}

#[async_trait]
impl RequestRate for LocalRate {
    async fn admit(&self, tenant: &TenantId) -> Result<(), Duration> {
        let now = Instant::now();
        let mut tats = self.tats.locked();
        if tats.len() > FORGET_ABOVE {
            tats.retain(|_, tat| *tat > now);
        }
        let tat = tats.get(tenant).copied().unwrap_or(now);
        let next = step(tat, now, self.interval, self.tolerance)?;
        tats.insert(tenant.clone(), next);
        Ok(())
    }
}

#[cfg(feature = "redis")]
pub use self::redis_rate::RedisRate;

#[cfg(feature = "redis")]
mod redis_rate {
    use std::time::Duration;

    use async_trait::async_trait;
    use redis::Script;

    use super::{RateSettings, RequestRate};
    use crate::domain::TenantId;
    use crate::redis_conn::{Conn, Target};

    /// `KEYS`: the tenant's tat (microseconds of Redis's clock). `ARGV`: interval µs,
    /// tolerance µs. Returns 0 when admitted, else the wait in µs.
    const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
if tat - now > tolerance then return tat - now - tolerance end
local next = tat + interval
redis.call('SET', KEYS[1], string.format('%d', next), 'PX', math.ceil((next - now) / 1000) + 1000)
return 0
";

    /// [`RequestRate`] shared by every instance through Redis. When Redis does not answer
    /// the request is admitted (and a warning logged): the limit protects the service from
    /// one tenant's flood, not the partners, whose own limiter fails closed.
    pub struct RedisRate {
        conn: Conn,
        prefix: String,
        interval_us: u64,
        tolerance_us: u64,
        script: Script,
    }

    impl RedisRate {
        /// The allowance of `settings` per tenant, kept under `prefix` in the Redis at `url`.
        /// Connects lazily; must be called inside a tokio runtime.
        pub fn new(url: &str, prefix: &str, settings: &RateSettings) -> crate::Result<Self> {
            let conn = Target::parse(url)
                .map_err(|what| crate::Error::InvalidConfig { what })?
                .shared(Duration::from_millis(500), Duration::from_secs(1))
                .map_err(|e| crate::Error::InvalidConfig {
                    what: format!("redis: {e}"),
                })?;
            let (interval, tolerance) = settings.gcra();
            Ok(Self {
                conn,
                prefix: format!("{prefix}:rate:"),
                interval_us: interval.as_micros() as u64,
                tolerance_us: tolerance.as_micros() as u64,
                script: Script::new(ADMIT),
            })
        }
    }

    #[async_trait]
    impl RequestRate for RedisRate {
        async fn admit(&self, tenant: &TenantId) -> Result<(), Duration> {
            let mut conn = self.conn.clone();
            let wait: redis::RedisResult<u64> = self
                .script
                .key(format!("{}{}", self.prefix, tenant.as_str()))
                .arg(self.interval_us)
                .arg(self.tolerance_us)
                .invoke_async(&mut conn)
                .await;
            match wait {
                Ok(0) => Ok(()),
                Ok(us) => Err(Duration::from_micros(us)),
                Err(e) => {
                    tracing::warn!(error = %e, "request rate: redis did not answer; admitting");
                    Ok(())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_the_rate_and_tenants_apart() {
        let rate = LocalRate::new(&RateSettings {
            per_second: 10.0,
            burst: 5,
        });
        let (a, b) = (TenantId::new("a").unwrap(), TenantId::new("b").unwrap());
        for _ in 0..5 {
            assert_eq!(rate.admit(&a).await, Ok(()));
        }
        let wait = rate.admit(&a).await.unwrap_err();
        assert!(
            wait > Duration::from_millis(90) && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        assert_eq!(
            rate.admit(&b).await,
            Ok(()),
            "another tenant has its own burst"
        );
        tokio::time::advance(wait).await;
        assert_eq!(rate.admit(&a).await, Ok(()));
        assert!(
            rate.admit(&a).await.is_err(),
            "one interval buys one request"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        for _ in 0..5 {
            assert_eq!(
                rate.admit(&a).await,
                Ok(()),
                "a quiet second refills the burst"
            );
        }
        assert!(rate.admit(&a).await.is_err());
    }
}

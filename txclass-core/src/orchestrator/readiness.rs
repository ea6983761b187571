//! Readiness: can this orchestrator serve a job now? It can when every backend a job needs
//! answers: the store, and Redis when one is configured. Liveness (the process runs) is not
//! asked here; a load balancer takes an instance out of rotation while it is not ready.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::Orchestrator;
use crate::{Error, Result};

/// How long one check may take before it counts as failed: a probe must answer quickly
/// even when a backend hangs.
pub(crate) const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Pause between attempts while [`Orchestrator::wait_until_ready`] waits.
const RETRY_EVERY: Duration = Duration::from_millis(250);

/// The outcome of one backend's check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The backend: `store` or `redis`.
    pub name: &'static str,
    /// `Err` says why the backend is not ready (never a password).
    pub result: std::result::Result<(), String>,
}

/// What [`Orchestrator::readiness`] found: one [`Check`] per backend, in a fixed order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// The checks made.
    pub checks: Vec<Check>,
}

impl Readiness {
    /// Every check passed.
    pub fn is_ready(&self) -> bool {
        self.checks.iter().all(|c| c.result.is_ok())
    }

    /// The failed checks' messages, e.g. `redis: …; store: …` (empty when ready).
    pub fn failures(&self) -> String {
        self.checks
            .iter()
            .filter_map(|c| c.result.as_ref().err().map(|e| format!("{}: {e}", c.name)))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A connection test of the shared Redis. Holds a client, not a connection: each check
/// opens a fresh connection, so it proves that a new connection can be made now.
pub(crate) struct RedisProbe {
    #[cfg(feature = "redis")]
    target: crate::redis_conn::Target,
    /// The URL without credentials, for messages.
    display: String,
}

impl RedisProbe {
    #[cfg(feature = "redis")]
    pub(crate) fn new(url: &str) -> Result<Self> {
        let display = super::RedisSettings::display_url(url);
        let target = crate::redis_conn::Target::parse(url).map_err(|e| Error::InvalidConfig {
            what: format!("redis url {display}: {e}"),
        })?;
        Ok(Self { target, display })
    }

    /// `PING`, answered with `PONG` within [`CHECK_TIMEOUT`].
    async fn ping(&self) -> std::result::Result<(), String> {
        #[cfg(feature = "redis")]
        {
            let answer = tokio::time::timeout(CHECK_TIMEOUT, async {
                let mut conn = self.target.dedicated(Duration::ZERO).await?;
                redis::cmd("PING").query_async::<String>(&mut conn).await
            })
            .await;
            match answer {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("{} is unreachable: {e}", self.display)),
                Err(_) => Err(format!(
                    "{} did not answer within {} ms",
                    self.display,
                    CHECK_TIMEOUT.as_millis()
                )),
            }
        }
        #[cfg(not(feature = "redis"))]
        {
            Err(format!(
                "{}: built without the `redis` feature",
                self.display
            ))
        }
    }
}

/// The store's check: its [`Store::ping`](crate::Store::ping) within [`CHECK_TIMEOUT`].
async fn store_check(
    ping: impl std::future::Future<Output = std::result::Result<(), crate::store::StoreError>>,
) -> std::result::Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, ping).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
    }
}

/// Runs `check` until it is ready or `wait` is over (see
/// [`Orchestrator::wait_until_ready`]).
async fn wait_until<F, Fut>(mut check: F, wait: Duration) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Readiness>,
{
    let deadline = Instant::now() + wait;
    let mut attempt = 1u32;
    loop {
        let readiness = check().await;
        if readiness.is_ready() {
            if attempt > 1 {
                tracing::info!(attempt, "backends answer: ready");
            }
            return Ok(());
        }
        let failures = readiness.failures();
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::NotReady { what: failures });
        }
        tracing::warn!(
            attempt,
            waiting_ms = left.as_millis() as u64,
            "not ready yet, checking again: {failures}"
        );
        tokio::time::sleep(RETRY_EVERY.min(left)).await;
        attempt += 1;
    }
}

impl Orchestrator {
    /// Checks every backend a job needs, each within `CHECK_TIMEOUT` (2 s): the store
    /// ([`Store::ping`](crate::Store::ping)) and, when configured, Redis (`PING`).
    pub async fn readiness(&self) -> Readiness {
        let redis_check = async {
            match &self.inner.redis_probe {
                Some(probe) => Some(probe.ping().await),
                None => None,
            }
        };
        let (store_result, redis_result) =
            futures::join!(store_check(self.inner.store.ping()), redis_check);
        let mut checks = vec![Check {
            name: "store",
            result: store_result,
        }];
        if let Some(result) = redis_result {
            checks.push(Check {
                name: "redis",
                result,
            });
        }
        Readiness { checks }
    }

    /// Waits until [`readiness`](Self::readiness) passes, checking again every 250 ms for
    /// at most `wait` (zero: one check). Each failed attempt is logged; when time is up the
    /// error ([`Error::NotReady`]) names every backend that did not answer.
    pub async fn wait_until_ready(&self, wait: Duration) -> Result<()> {
        wait_until(|| self.readiness(), wait).await
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::store::StoreError;

    fn down() -> Readiness {
        Readiness {
            checks: vec![
                Check {
                    name: "store",
                    result: Ok(()),
                },
                Check {
                    name: "redis",
                    result: Err("redis://h:1 is unreachable".into()),
                },
            ],
        }
    }

    #[tokio::test]
    async fn the_default_store_is_ready_and_there_is_no_redis_check() {
        let o = Orchestrator::builder().build().unwrap();
        let r = o.readiness().await;
        assert!(r.is_ready(), "{r:?}");
        assert_eq!(
            r.checks,
            [Check {
                name: "store",
                result: Ok(())
            }]
        );
        assert_eq!(r.failures(), "");
        o.wait_until_ready(Duration::ZERO).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_fails_or_hangs_fails_its_check() {
        let e = store_check(async { Err(StoreError::Unavailable("connection refused".into())) })
            .await
            .unwrap_err();
        assert_eq!(e, "store unavailable: connection refused");
        let e = store_check(std::future::pending()).await.unwrap_err();
        assert_eq!(e, "no answer within 2000 ms");
        assert_eq!(down().failures(), "redis: redis://h:1 is unreachable");
    }

    #[tokio::test(start_paused = true)]
    async fn wait_until_checks_again_until_the_wait_is_over() {
        let checks = Cell::new(0);
        let started = Instant::now();
        let e = wait_until(
            || {
                checks.set(checks.get() + 1);
                async { down() }
            },
            Duration::from_millis(1000),
        )
        .await
        .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(1000));
        // One check at once, then one every 250 ms until the 1000 ms are over.
        assert_eq!(checks.get(), 5);
        assert_eq!(
            e.to_string(),
            "not ready: redis: redis://h:1 is unreachable"
        );

        checks.set(0);
        wait_until(
            || {
                checks.set(checks.get() + 1);
                async { down() }
            },
            Duration::ZERO,
        )
        .await
        .unwrap_err();
        assert_eq!(checks.get(), 1, "zero: one check");

        checks.set(0);
        wait_until(
            || {
                checks.set(checks.get() + 1);
                let ready = checks.get() == 3;
                async move {
                    if ready {
                        Readiness { checks: Vec::new() }
                    } else {
                        down()
                    }
                }
            },
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert_eq!(checks.get(), 3, "stops as soon as it is ready");
    }
}

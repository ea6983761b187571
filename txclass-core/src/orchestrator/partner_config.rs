//! One partner's whole configuration: how to reach it, how many calls it takes, and the
//! policies of the limiter, breaker and retry queue that guard it. It sits with the
//! orchestrator, which puts those components together, so each component keeps its own
//! policy and none of them imports another's.

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backoff::{Backoff, Jitter};
use crate::breaker::CircuitPolicy;
use crate::config::millis;
use crate::domain::PartnerId;
use crate::limiter::AdaptivePolicy;
use crate::partner::{AuthConfig, Endpoint, FailureKind};

/// Which failures go to the retry queue, and how often. In a config file every key is
/// optional (missing keys take the [`Default`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Failure kinds that are retried; the rest fail the job at once.
    pub retry_on: BTreeSet<FailureKind>,
    /// Attempts (the first call included) before the call is dead-lettered.
    pub max_attempts: NonZeroU32,
    /// Backoff of the first retry; doubles each attempt, with full jitter. Key
    /// `base_backoff_ms`.
    #[serde(rename = "base_backoff_ms", with = "millis")]
    pub base_backoff: Duration,
    /// Ceiling of the backoff. Key `max_backoff_ms`.
    #[serde(rename = "max_backoff_ms", with = "millis")]
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retry_on: [
                FailureKind::Timeout,
                FailureKind::ServerError,
                FailureKind::RateLimited,
                FailureKind::Unreachable,
            ]
            .into_iter()
            .collect(),
            max_attempts: NonZeroU32::new(8).unwrap(),
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Backoff after `attempt` attempts (1-based) for a uniform draw `u` in `[0, 1]`, full
    /// jitter: uniform in `[0, min(max, base × 2^(attempt-1))]`.
    pub fn backoff(&self, attempt: u32, u: f64) -> Duration {
        Backoff::new(self.base_backoff, self.max_backoff)
            .with_jitter(Jitter::Full)
            .draw(attempt.saturating_sub(1), u)
    }
}

/// Everything about one partner. In a config file `id`, `base_url` and `capacity` are
/// required; every other key has a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerConfig {
    /// The partner's id in requests.
    pub id: PartnerId,
    /// Base URL of its API, e.g. `https://api.bank.example/v2`.
    pub base_url: String,
    /// Credentials, if any.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Per-call timeout. Key `timeout_ms`.
    #[serde(rename = "timeout_ms", with = "millis", default = "default_timeout")]
    pub timeout: Duration,
    /// Transactions per page asked of the partner.
    #[serde(default = "default_page_size")]
    pub page_size: NonZeroU32,
    /// Most concurrent calls the partner takes, across every txclass instance.
    pub capacity: NonZeroU32,
    /// Retry policy.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Circuit breaker policy.
    #[serde(default)]
    pub circuit: CircuitPolicy,
    /// How the concurrency admitted follows the partner's 429s, under `capacity`.
    #[serde(default)]
    pub adaptive: AdaptivePolicy,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_page_size() -> NonZeroU32 {
    NonZeroU32::new(100).unwrap()
}

impl PartnerConfig {
    /// A config with defaults for everything but the id, URL and capacity.
    pub fn new(id: impl Into<String>, base_url: impl Into<String>, capacity: NonZeroU32) -> Self {
        Self {
            id: PartnerId::new(id),
            base_url: base_url.into(),
            auth: None,
            timeout: default_timeout(),
            page_size: default_page_size(),
            capacity,
            retry: RetryPolicy::default(),
            circuit: CircuitPolicy::default(),
            adaptive: AdaptivePolicy::default(),
        }
    }
}

impl<'a> From<&'a PartnerConfig> for Endpoint<'a> {
    fn from(c: &'a PartnerConfig) -> Self {
        Endpoint {
            id: &c.id,
            base_url: &c.base_url,
            auth: c.auth.as_ref(),
            timeout: c.timeout,
            page_size: c.page_size,
        }
    }
}

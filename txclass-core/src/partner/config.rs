use std::collections::BTreeSet;
use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backoff::{Backoff, Jitter};
use crate::breaker::FailureKind;
use crate::limiter::AdaptivePolicy;
use crate::model::PartnerId;

/// A credential. `Debug` and `Display` print `***`, so it cannot leak through logs, errors
/// or events; only [`Secret::expose`] reads it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The credential itself: only for the header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// How the adapter authenticates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Header name, e.g. `Authorization`.
    #[serde(default = "default_auth_header")]
    pub header: String,
    /// Prefix before the token, e.g. `"Bearer "`.
    #[serde(default = "default_auth_prefix")]
    pub prefix: String,
    /// The token itself; prefer `token_env`.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Name of an environment variable holding the token (read when the adapter is built).
    #[serde(default)]
    pub token_env: Option<String>,
}

fn default_auth_header() -> String {
    "Authorization".into()
}
fn default_auth_prefix() -> String {
    "Bearer ".into()
}

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

/// What to do with a call while the partner's circuit is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnOpen {
    /// Put the call on the retry queue, due when the circuit may half-open.
    Queue,
    /// Fail the job at once with `circuit_open`.
    Reject,
}

/// A percentage in `(0, 100]`, as resilience4j's rate thresholds.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Percent(f64);

impl Percent {
    /// `None` unless `0 < value <= 100`.
    pub fn new(value: f64) -> Option<Self> {
        (value > 0.0 && value <= 100.0).then_some(Self(value))
    }

    /// The value, in `(0, 100]`.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Percent {
    type Error = String;
    fn try_from(value: f64) -> Result<Self, Self::Error> {
        Self::new(value).ok_or_else(|| format!("percentage {value} is not in (0, 100]"))
    }
}

impl From<Percent> for f64 {
    fn from(p: Percent) -> f64 {
        p.0
    }
}

/// Which recent calls the breaker judges the partner by (resilience4j's sliding windows).
///
/// The time-based window's size is the one config value in whole seconds rather than `_ms`:
/// it counts one-second buckets, and its key (`seconds`) names the unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", deny_unknown_fields)]
pub enum SlidingWindow {
    /// The last `calls` calls.
    CountBased {
        /// Window size in calls.
        calls: NonZeroU32,
    },
    /// The calls of the last `seconds` whole seconds (one bucket per second).
    TimeBased {
        /// Window size in seconds.
        seconds: NonZeroU32,
    },
}

impl Default for SlidingWindow {
    fn default() -> Self {
        // 50 calls: a partner failing 30 % of calls at random fills half a window of 50
        // about once in 400 draws (one in 20 for a window of 20), so it keeps its traffic,
        // while a partner that is down still opens the circuit within one window.
        SlidingWindow::CountBased {
            calls: NonZeroU32::new(50).unwrap(),
        }
    }
}

/// Circuit breaker settings of one partner, with resilience4j's semantics (see
/// [`LocalBreaker`](crate::breaker::LocalBreaker)). In a config file every key is optional
/// (missing keys take the [`Default`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CircuitPolicy {
    /// Failure kinds that count as failures; any other outcome counts as a success.
    pub record: BTreeSet<FailureKind>,
    /// The calls the rates are computed over.
    pub window: SlidingWindow,
    /// Calls the window must hold before a rate is judged (fewer failing calls never open).
    /// Alias `failure_threshold` reads older configs.
    #[serde(alias = "failure_threshold")]
    pub minimum_calls: NonZeroU32,
    /// Failure rate (percent of the window's calls) at or above which the circuit opens.
    pub failure_rate_threshold: Percent,
    /// Slow-call rate at or above which the circuit opens.
    pub slow_call_rate_threshold: Percent,
    /// A call that takes longer than this is slow (whether it succeeded or failed). Key
    /// `slow_call_duration_ms`.
    #[serde(rename = "slow_call_duration_ms", with = "millis")]
    pub slow_call_duration: Duration,
    /// How long the circuit stays open before letting trial calls through. Key `open_for_ms`.
    #[serde(rename = "open_for_ms", with = "millis")]
    pub open_for: Duration,
    /// Trial calls allowed while half-open; their rates decide between closed and open.
    pub half_open_calls: NonZeroU32,
    /// Longest stay in half-open before opening again (trials that never report, e.g. a
    /// cancelled call, would otherwise keep it half-open for ever). Zero: no limit. Key
    /// `max_wait_in_half_open_ms`.
    #[serde(rename = "max_wait_in_half_open_ms", with = "millis")]
    pub max_wait_in_half_open: Duration,
    /// Queue or reject while open.
    pub on_open: OnOpen,
}

fn default_minimum_calls() -> NonZeroU32 {
    NonZeroU32::new(20).unwrap()
}
fn default_failure_rate() -> Percent {
    Percent(50.0)
}
fn default_slow_rate() -> Percent {
    Percent(100.0)
}
fn default_slow_call() -> Duration {
    Duration::from_secs(10)
}
fn default_half_open_wait() -> Duration {
    Duration::from_secs(60)
}

impl Default for CircuitPolicy {
    fn default() -> Self {
        Self {
            // Not `rate_limited`: a 429 is back-pressure, which the limiter answers by
            // admitting fewer calls; opening the circuit on it would stop the partner
            // altogether.
            record: [
                FailureKind::Timeout,
                FailureKind::ServerError,
                FailureKind::Unreachable,
            ]
            .into_iter()
            .collect(),
            window: SlidingWindow::default(),
            minimum_calls: default_minimum_calls(),
            failure_rate_threshold: default_failure_rate(),
            slow_call_rate_threshold: default_slow_rate(),
            slow_call_duration: default_slow_call(),
            open_for: Duration::from_secs(5),
            // One trial would reopen a partner failing 30 % of calls three times in ten.
            half_open_calls: NonZeroU32::new(3).unwrap(),
            max_wait_in_half_open: default_half_open_wait(),
            on_open: OnOpen::Queue,
        }
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

/// Durations as integer milliseconds in config files (whose duration keys all end in `_ms`).
pub(crate) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

//! A circuit's policy: which failures count, over which window, when it opens and how it
//! tries the partner again (resilience4j's semantics, see [`LocalBreaker`](super::LocalBreaker)).

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::FailureKind;
use crate::config::millis;

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

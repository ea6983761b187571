//! How many concurrent calls a partner is admitted right now: additive increase,
//! multiplicative decrease (AIMD), under the configured capacity.
//!
//! A partner's configured `capacity` is what the contract says; what it takes today may be
//! less. A `429` (with or without `Retry-After`) is the partner saying so: back-pressure, not
//! failure. So the limiter keeps a **limit** per partner, between `min_limit` and the
//! capacity, and admits a call only while fewer than `floor(limit)` are in flight:
//!
//! * a call answered `429` multiplies the limit by `backoff_ratio` (0.75: 4 → 3), once per
//!   round: only a call admitted since the last decrease can decrease it again, so the burst
//!   of 429s that the calls already in flight bring back counts once (TCP's "one decrease
//!   per window");
//! * a call the partner served adds `1 / (probe_after × limit)`: after about
//!   `probe_after × limit` served calls the limit rises by one and probes the partner again.
//!   With the default 16, a partner that takes 3 of a configured 4 answers about one call
//!   in 25–50 with `429` once the limit has settled, instead of every call above 3;
//! * other failures (5xx, timeouts) say nothing about load here: they are the breaker's.
//!
//! The same arithmetic runs in process ([`LocalLimiter`](super::LocalLimiter)) and, for
//! every instance at once, inside the Redis scripts (`acquire.lua` reads the limit,
//! `release.lua` applies the feedback) — `release.lua` mirrors [`AdaptivePolicy::next`], and
//! a test runs the same sequence through both.
//!
//! Why AIMD rather than a gradient limit (Netflix concurrency-limits' `Gradient2`): the
//! gradient reads latency, and a bank API's latency says little about its admission
//! control, which answers 429 at a fixed concurrency. AIMD reacts to exactly that signal.

use serde::{Deserialize, Serialize};

/// What a call under a permit says about the partner's load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feedback {
    /// The partner served the call.
    Served,
    /// The partner refused it for load (`429`).
    Overloaded,
}

/// How the admitted concurrency follows a partner's pushback. In a config file every key
/// is optional (`[partners.adaptive]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaptivePolicy {
    /// Off: the limit stays at the capacity whatever the partner answers.
    pub enabled: bool,
    /// Factor applied to the limit on a `429`, in `(0, 1)`.
    pub backoff_ratio: f64,
    /// Served calls per unit of limit before the limit rises by one.
    pub probe_after: u32,
    /// The limit never goes below this (at least 1).
    pub min_limit: u32,
}

impl Default for AdaptivePolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            backoff_ratio: 0.75,
            probe_after: 16,
            min_limit: 1,
        }
    }
}

impl AdaptivePolicy {
    /// A limit that stays at the capacity.
    pub fn fixed() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// The ratio and floor, clamped to sane values.
    fn ratio(&self) -> f64 {
        if self.backoff_ratio.is_finite() && self.backoff_ratio > 0.0 && self.backoff_ratio < 1.0 {
            self.backoff_ratio
        } else {
            0.75
        }
    }

    fn floor(&self, capacity: u32) -> f64 {
        f64::from(self.min_limit.clamp(1, capacity.max(1)))
    }

    /// The limit after one call's feedback. `current` says whether the call was admitted
    /// since the last decrease (only such a call may decrease the limit).
    pub fn next(&self, limit: f64, capacity: u32, feedback: Feedback, current: bool) -> f64 {
        let cap = f64::from(capacity.max(1));
        if !self.enabled {
            return cap;
        }
        let limit = limit.clamp(self.floor(capacity), cap);
        match feedback {
            Feedback::Served => {
                (limit + 1.0 / (f64::from(self.probe_after.max(1)) * limit)).min(cap)
            }
            Feedback::Overloaded if current => (limit * self.ratio()).max(self.floor(capacity)),
            Feedback::Overloaded => limit,
        }
    }

    /// Calls admitted at once under `limit`.
    pub fn admitted(limit: f64, capacity: u32) -> u32 {
        // A hair of tolerance: 3.9999999 after additions is 4.
        ((limit + 1e-9).floor() as u32).clamp(1, capacity.max(1))
    }

    /// The arguments `release.lua` takes after the member: enabled, ratio, probe_after, floor.
    #[cfg(feature = "redis")]
    pub(crate) fn script_args(&self, capacity: u32) -> (u8, f64, u32, f64) {
        (
            u8::from(self.enabled),
            self.ratio(),
            self.probe_after.max(1),
            self.floor(capacity),
        )
    }
}

/// One partner's limit in process: the value and its decrease generation.
#[derive(Debug)]
pub(crate) struct LimitState {
    pub(crate) limit: f64,
    pub(crate) generation: u64,
}

impl LimitState {
    pub(crate) fn new(capacity: u32) -> Self {
        Self {
            limit: f64::from(capacity.max(1)),
            generation: 0,
        }
    }

    /// Applies one call's feedback; `generation` is the one the call was admitted in.
    pub(crate) fn apply(
        &mut self,
        policy: &AdaptivePolicy,
        capacity: u32,
        feedback: Feedback,
        generation: u64,
    ) {
        let current = generation == self.generation;
        let next = policy.next(self.limit, capacity, feedback, current);
        if next < self.limit {
            self.generation += 1;
        }
        self.limit = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_429_lowers_once_per_round_and_service_climbs_back() {
        let p = AdaptivePolicy::default();
        let mut s = LimitState::new(4);
        let g = s.generation;
        s.apply(&p, 4, Feedback::Overloaded, g);
        assert_eq!(AdaptivePolicy::admitted(s.limit, 4), 3);
        // The other calls of the same round bring their 429s back: no further decrease.
        s.apply(&p, 4, Feedback::Overloaded, g);
        s.apply(&p, 4, Feedback::Overloaded, g);
        assert_eq!(AdaptivePolicy::admitted(s.limit, 4), 3);
        // About probe_after × limit served calls later, the limit probes 4 again.
        let mut served = 0;
        while AdaptivePolicy::admitted(s.limit, 4) < 4 {
            s.apply(&p, 4, Feedback::Served, s.generation);
            served += 1;
        }
        assert!((40..=60).contains(&served), "{served}");
        for _ in 0..1000 {
            s.apply(&p, 4, Feedback::Served, s.generation);
        }
        assert_eq!(s.limit, 4.0, "never above the capacity");
    }

    #[test]
    fn the_floor_holds_and_fixed_stays_at_capacity() {
        let p = AdaptivePolicy::default();
        let mut s = LimitState::new(8);
        for _ in 0..50 {
            let g = s.generation;
            s.apply(&p, 8, Feedback::Overloaded, g);
        }
        assert_eq!(AdaptivePolicy::admitted(s.limit, 8), 1);
        let mut f = LimitState::new(8);
        f.apply(&AdaptivePolicy::fixed(), 8, Feedback::Overloaded, 0);
        assert_eq!(f.limit, 8.0);
    }
}

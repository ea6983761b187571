//! Failure isolation: a [`CircuitBreaker`] per partner.
//!
//! Decisions are synchronous and return data: [`CircuitBreaker::try_acquire`] answers now,
//! and when the circuit is open it says when to come back ([`NotUntil`]).
//!
//! [`LocalBreaker`] follows resilience4j (sliding windows, failure-rate and slow-call-rate
//! thresholds, minimum calls, half-open trials). With the `redis` feature,
//! [`RedisSharedBreaker`] shares the open state between instances.

mod local;
mod policy;
#[cfg(feature = "redis")]
mod redis;
mod window;

#[cfg(feature = "redis")]
pub use self::redis::{RedisSharedBreaker, SharedBreakerError};
pub use local::LocalBreaker;
pub use policy::{CircuitPolicy, OnOpen, Percent, SlidingWindow};
pub use window::WindowSnapshot;

/// The breaker judges calls by the partner's failure kinds, which live with the error they
/// classify.
pub use crate::partner::FailureKind;

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The state of a circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Calls go through; failures are counted.
    Closed,
    /// Calls are refused until the wait is over.
    Open,
    /// A few trial calls decide whether to close or open again.
    HalfOpen,
}

/// What happened to a call that went through the breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// The partner answered well.
    Success,
    /// The partner failed this way.
    Failure(FailureKind),
}

/// The circuit is open: come back after `wait`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotUntil {
    /// Time left before a trial call may be let through.
    pub wait: Duration,
}

/// A state change, to publish in logs and progress streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Old state.
    pub from: CircuitState,
    /// New state.
    pub to: CircuitState,
}

/// Permission to make one call; hand it back to [`CircuitBreaker::record`] with the outcome.
#[derive(Debug)]
#[must_use = "record the call's outcome with CircuitBreaker::record"]
pub struct CallPermit {
    /// When the call was admitted (clock time), to measure slow calls.
    pub started: Duration,
    /// Whether the call was admitted as a half-open trial.
    pub trial: bool,
    /// The breaker's state generation at admission: an outcome reported after the state
    /// changed is ignored.
    pub epoch: u64,
}

/// A circuit breaker for one partner.
pub trait CircuitBreaker: Send + Sync + 'static {
    /// May a call go now? An open circuit answers when to come back. A transition that the
    /// question itself caused (open → half-open once the wait is over) is returned too.
    fn try_acquire(&self) -> (Result<CallPermit, NotUntil>, Option<Transition>);

    /// Records a call's outcome; returns the transition it caused, if any.
    fn record(&self, permit: CallPermit, outcome: CallOutcome) -> Option<Transition>;

    /// The current state.
    fn state(&self) -> CircuitState;
}

fn _obj_safe(_: Box<dyn CircuitBreaker>) {}

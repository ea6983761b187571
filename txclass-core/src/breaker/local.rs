use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{CallOutcome, CallPermit, CircuitBreaker, CircuitState, NotUntil, Transition};
use crate::clock::Clock;
use crate::partner::CircuitPolicy;

/// The embedded breaker: opens after `failure_threshold` consecutive recorded failures,
/// stays open for `open_for`, then lets `half_open_calls` trial calls through; one trial
/// failure opens it again, all trials succeeding close it.
pub struct LocalBreaker {
    policy: CircuitPolicy,
    clock: Arc<dyn Clock>,
    state: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: CircuitState,
    consecutive_failures: u32,
    opened_at: Duration,
    trials_started: u32,
    trials_succeeded: u32,
}

impl LocalBreaker {
    /// A closed breaker.
    pub fn new(policy: CircuitPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            policy,
            clock,
            state: Mutex::new(Inner {
                state: CircuitState::Closed,
                consecutive_failures: 0,
                opened_at: Duration::ZERO,
                trials_started: 0,
                trials_succeeded: 0,
            }),
        }
    }

    fn open(inner: &mut Inner, now: Duration) -> Transition {
        let from = inner.state;
        inner.state = CircuitState::Open;
        inner.opened_at = now;
        inner.consecutive_failures = 0;
        Transition {
            from,
            to: CircuitState::Open,
        }
    }
}

impl CircuitBreaker for LocalBreaker {
    fn try_acquire(&self) -> (Result<CallPermit, NotUntil>, Option<Transition>) {
        let now = self.clock.now();
        let mut inner = self.state.lock().expect("breaker lock");
        let mut transition = None;
        if inner.state == CircuitState::Open {
            let until = inner.opened_at + self.policy.open_for;
            if now < until {
                return (Err(NotUntil { wait: until - now }), None);
            }
            inner.state = CircuitState::HalfOpen;
            inner.trials_started = 0;
            inner.trials_succeeded = 0;
            transition = Some(Transition {
                from: CircuitState::Open,
                to: CircuitState::HalfOpen,
            });
        }
        if inner.state == CircuitState::HalfOpen {
            if inner.trials_started >= self.policy.half_open_calls.get() {
                // Trials are out; the others wait for their verdict.
                return (
                    Err(NotUntil {
                        wait: self.policy.open_for / 10,
                    }),
                    transition,
                );
            }
            inner.trials_started += 1;
            return (
                Ok(CallPermit {
                    started: now,
                    trial: true,
                }),
                transition,
            );
        }
        (
            Ok(CallPermit {
                started: now,
                trial: false,
            }),
            transition,
        )
    }

    fn record(&self, permit: CallPermit, outcome: CallOutcome) -> Option<Transition> {
        let now = self.clock.now();
        let mut inner = self.state.lock().expect("breaker lock");
        let failed = match outcome {
            CallOutcome::Success => false,
            CallOutcome::Failure(kind) => self.policy.record.contains(&kind),
        };
        match inner.state {
            CircuitState::Closed => {
                if failed {
                    inner.consecutive_failures += 1;
                    if inner.consecutive_failures >= self.policy.failure_threshold.get() {
                        return Some(Self::open(&mut inner, now));
                    }
                } else {
                    inner.consecutive_failures = 0;
                }
                None
            }
            CircuitState::HalfOpen if permit.trial => {
                if failed {
                    return Some(Self::open(&mut inner, now));
                }
                inner.trials_succeeded += 1;
                if inner.trials_succeeded >= self.policy.half_open_calls.get() {
                    inner.state = CircuitState::Closed;
                    inner.consecutive_failures = 0;
                    return Some(Transition {
                        from: CircuitState::HalfOpen,
                        to: CircuitState::Closed,
                    });
                }
                None
            }
            // A call admitted before the circuit opened: its outcome no longer matters.
            _ => None,
        }
    }

    fn state(&self) -> CircuitState {
        self.state.lock().expect("breaker lock").state
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;
    use crate::breaker::FailureKind;
    use crate::clock::ManualClock;

    fn breaker(clock: &ManualClock) -> LocalBreaker {
        let policy = CircuitPolicy {
            failure_threshold: NonZeroU32::new(3).unwrap(),
            open_for: Duration::from_secs(10),
            ..CircuitPolicy::default()
        };
        LocalBreaker::new(policy, Arc::new(clock.clone()))
    }

    fn fail(b: &LocalBreaker) -> Option<Transition> {
        let p = b.try_acquire().0.expect("admitted");
        b.record(p, CallOutcome::Failure(FailureKind::ServerError))
    }

    #[test]
    fn opens_waits_half_opens_and_closes() {
        let clock = ManualClock::new();
        let b = breaker(&clock);
        assert_eq!(fail(&b), None);
        assert_eq!(fail(&b), None);
        assert_eq!(fail(&b).map(|t| t.to), Some(CircuitState::Open));
        let (res, _) = b.try_acquire();
        assert_eq!(res.unwrap_err().wait, Duration::from_secs(10));
        clock.advance(Duration::from_secs(4));
        assert_eq!(b.try_acquire().0.unwrap_err().wait, Duration::from_secs(6));
        clock.advance(Duration::from_secs(6));
        let (res, t) = b.try_acquire();
        assert_eq!(t.map(|t| t.to), Some(CircuitState::HalfOpen));
        // Only one trial at a time.
        assert!(b.try_acquire().0.is_err());
        let t = b.record(res.unwrap(), CallOutcome::Success);
        assert_eq!(t.map(|t| t.to), Some(CircuitState::Closed));
    }

    #[test]
    fn failed_trial_reopens_and_ignored_kinds_do_not_count() {
        let clock = ManualClock::new();
        let b = breaker(&clock);
        for _ in 0..10 {
            let p = b.try_acquire().0.unwrap();
            assert_eq!(
                b.record(p, CallOutcome::Failure(FailureKind::ClientError)),
                None
            );
        }
        for _ in 0..3 {
            fail(&b);
        }
        clock.advance(Duration::from_secs(10));
        assert_eq!(fail(&b).map(|t| t.to), Some(CircuitState::Open));
        assert_eq!(b.state(), CircuitState::Open);
    }
}

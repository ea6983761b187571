use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::window::{Outcome, Window, WindowSnapshot};
use super::CircuitPolicy;
use super::{CallOutcome, CallPermit, CircuitBreaker, CircuitState, NotUntil, Transition};
use crate::clock::Clock;
use crate::sync::Lock;

/// Called with the open duration whenever the breaker opens by its own verdict.
pub(crate) type OpenHook = Box<dyn Fn(Duration) + Send + Sync>;

/// The in-process breaker, with resilience4j's semantics.
///
/// * **Closed**: every call goes through; outcomes go into a sliding window (the last N
///   calls, or the calls of the last N seconds). Once the window holds at least
///   `minimum_calls`, the circuit opens when the failure rate **or** the slow-call rate is
///   at or above its threshold. A failure is an outcome whose kind is in `record`; every
///   other outcome counts as a success. A call slower than `slow_call_duration` is slow
///   whether it succeeded or not.
/// * **Open**: calls are refused with the time left ([`NotUntil`]) until `open_for` has
///   passed; the first question after that moves to half-open (as resilience4j without
///   automatic transition: no timer task).
/// * **Half-open**: `half_open_calls` trial calls are let through, the others are refused.
///   When all trials have reported, the same thresholds over the trials decide: open again
///   or close (with an empty window). After `max_wait_in_half_open` without a verdict (a
///   trial was cancelled and never reported) the circuit opens again.
///
/// One deliberate difference from resilience4j: an outcome reported after the state
/// changed (a call admitted while closed that ends while half-open) is ignored, so only
/// trials decide the half-open verdict. [`CallPermit::epoch`] carries the state generation.
///
/// Why not adopt a crate? `tower-resilience` (closest to resilience4j) and
/// `tower-circuitbreaker` are tower `Layer`s around a `Service`, read the system clock, and
/// keep their state private; our calls are decided synchronously before a permit is taken
/// (`try_acquire` answers with a [`NotUntil`]), tested on a [`ManualClock`](crate::clock::ManualClock),
/// and the open state can be shared through Redis. `recloser` and `failsafe` have no
/// slow-call rate nor time-based window.
pub struct LocalBreaker {
    policy: CircuitPolicy,
    clock: Arc<dyn Clock>,
    state: Mutex<Inner>,
    on_open: Option<OpenHook>,
}

impl std::fmt::Debug for LocalBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBreaker")
            .field("policy", &self.policy)
            .field("state", &self.state)
            .finish()
    }
}

#[derive(Debug)]
struct Inner {
    state: CircuitState,
    /// Bumped on every transition; permits of an older epoch no longer count.
    epoch: u64,
    /// Closed-state outcomes.
    window: Window,
    /// When the circuit opened and for how long (a forced open may differ from the policy).
    opened_at: Duration,
    open_wait: Duration,
    half_open_since: Duration,
    trials_started: u32,
    trials: WindowSnapshot,
    /// A transition that happened outside a call (forced open), reported with the next
    /// answer.
    pending: Option<Transition>,
}

impl Inner {
    fn transition(&mut self, to: CircuitState) -> Transition {
        let t = Transition {
            from: self.state,
            to,
        };
        self.state = to;
        self.epoch += 1;
        t
    }
}

impl LocalBreaker {
    /// A closed breaker.
    pub fn new(policy: CircuitPolicy, clock: Arc<dyn Clock>) -> Self {
        let window = Window::new(policy.window);
        Self {
            policy,
            clock,
            state: Mutex::new(Inner {
                state: CircuitState::Closed,
                epoch: 0,
                window,
                opened_at: Duration::ZERO,
                open_wait: Duration::ZERO,
                half_open_since: Duration::ZERO,
                trials_started: 0,
                trials: WindowSnapshot::default(),
                pending: None,
            }),
            on_open: None,
        }
    }

    /// Runs `hook` with the open duration whenever this breaker opens by its own verdict
    /// (not when forced). Used to share the open state.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn with_open_hook(mut self, hook: OpenHook) -> Self {
        self.on_open = Some(hook);
        self
    }

    /// The policy.
    pub fn policy(&self) -> &CircuitPolicy {
        &self.policy
    }

    /// Totals of the closed-state window now.
    pub fn window(&self) -> WindowSnapshot {
        let now = self.clock.now();
        self.lock().window.snapshot(now)
    }

    /// Opens the circuit for at least `wait` from now, whatever its state (another
    /// instance saw the partner fail). The transition is reported by the next
    /// [`try_acquire`](CircuitBreaker::try_acquire) or [`record`](CircuitBreaker::record).
    pub fn force_open(&self, wait: Duration) {
        let now = self.clock.now();
        let mut inner = self.lock();
        if inner.state == CircuitState::Open {
            let until = (inner.opened_at + inner.open_wait).max(now + wait);
            inner.open_wait = until - inner.opened_at;
            return;
        }
        let t = inner.transition(CircuitState::Open);
        inner.opened_at = now;
        inner.open_wait = wait;
        inner.pending = Some(match inner.pending.take() {
            Some(p) => Transition {
                from: p.from,
                to: t.to,
            },
            None => t,
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state.locked()
    }

    fn exceeded(&self, s: &WindowSnapshot) -> bool {
        s.failure_rate() >= self.policy.failure_rate_threshold.get()
            || s.slow_call_rate() >= self.policy.slow_call_rate_threshold.get()
    }

    fn open(&self, inner: &mut Inner, now: Duration) -> Transition {
        let t = inner.transition(CircuitState::Open);
        inner.opened_at = now;
        inner.open_wait = self.policy.open_for;
        if let Some(hook) = &self.on_open {
            hook(self.policy.open_for);
        }
        t
    }

    fn half_open_refusal(&self) -> NotUntil {
        NotUntil {
            wait: (self.policy.open_for / 10).max(Duration::from_millis(10)),
        }
    }
}

impl CircuitBreaker for LocalBreaker {
    fn try_acquire(&self) -> (Result<CallPermit, NotUntil>, Option<Transition>) {
        let now = self.clock.now();
        let mut inner = self.lock();
        if let Some(p) = inner.pending.take() {
            // Only a forced open leaves a pending transition (every other transition is
            // returned by the call that made it), so the circuit is open: report it and
            // refuse, even if the wait is already over (the next question half-opens).
            let until = inner.opened_at + inner.open_wait;
            return (
                Err(NotUntil {
                    wait: until.saturating_sub(now),
                }),
                Some(p),
            );
        }
        let mut transition = None;
        if inner.state == CircuitState::Open {
            let until = inner.opened_at + inner.open_wait;
            if now < until {
                return (Err(NotUntil { wait: until - now }), transition);
            }
            transition = Some(inner.transition(CircuitState::HalfOpen));
            inner.half_open_since = now;
            inner.trials_started = 0;
            inner.trials = WindowSnapshot::default();
        }
        if inner.state == CircuitState::HalfOpen {
            let max = self.policy.max_wait_in_half_open;
            if !max.is_zero() && now >= inner.half_open_since + max {
                let t = self.open(&mut inner, now);
                return (
                    Err(NotUntil {
                        wait: self.policy.open_for,
                    }),
                    Some(t),
                );
            }
            if inner.trials_started >= self.policy.half_open_calls.get() {
                return (Err(self.half_open_refusal()), transition);
            }
            inner.trials_started += 1;
            return (
                Ok(CallPermit {
                    started: now,
                    trial: true,
                    epoch: inner.epoch,
                }),
                transition,
            );
        }
        (
            Ok(CallPermit {
                started: now,
                trial: false,
                epoch: inner.epoch,
            }),
            transition,
        )
    }

    fn record(&self, permit: CallPermit, outcome: CallOutcome) -> Option<Transition> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let pending = inner.pending.take();
        if permit.epoch != inner.epoch {
            // Admitted under another state: its outcome no longer matters.
            return pending;
        }
        let o = Outcome {
            failed: match outcome {
                CallOutcome::Success => false,
                CallOutcome::Failure(kind) => self.policy.record.contains(&kind),
            },
            slow: now.saturating_sub(permit.started) > self.policy.slow_call_duration,
        };
        let t = match inner.state {
            CircuitState::Closed => {
                let s = inner.window.record(now, o);
                (s.calls >= self.policy.minimum_calls.get() && self.exceeded(&s))
                    .then(|| self.open(&mut inner, now))
            }
            CircuitState::HalfOpen => {
                inner.trials.calls += 1;
                inner.trials.failed += o.failed as u32;
                inner.trials.slow += o.slow as u32;
                let trials = inner.trials;
                if trials.calls < self.policy.half_open_calls.get() {
                    None
                } else if self.exceeded(&trials) {
                    Some(self.open(&mut inner, now))
                } else {
                    inner.window = Window::new(self.policy.window);
                    Some(inner.transition(CircuitState::Closed))
                }
            }
            CircuitState::Open => None,
        };
        t.or(pending)
    }

    fn state(&self) -> CircuitState {
        self.lock().state
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;
    use crate::breaker::FailureKind;
    use crate::breaker::{Percent, SlidingWindow};
    use crate::clock::ManualClock;

    fn policy() -> CircuitPolicy {
        CircuitPolicy {
            window: SlidingWindow::CountBased {
                calls: NonZeroU32::new(4).unwrap(),
            },
            minimum_calls: NonZeroU32::new(4).unwrap(),
            failure_rate_threshold: Percent::new(50.0).unwrap(),
            slow_call_rate_threshold: Percent::new(100.0).unwrap(),
            slow_call_duration: Duration::from_secs(2),
            open_for: Duration::from_secs(10),
            half_open_calls: NonZeroU32::new(2).unwrap(),
            ..CircuitPolicy::default()
        }
    }

    fn call(b: &LocalBreaker, outcome: CallOutcome) -> Option<Transition> {
        let p = b.try_acquire().0.expect("admitted");
        b.record(p, outcome)
    }

    const FAIL: CallOutcome = CallOutcome::Failure(FailureKind::ServerError);

    #[test]
    fn opens_at_the_failure_rate_once_minimum_calls_are_in() {
        let clock = ManualClock::new();
        let b = LocalBreaker::new(policy(), Arc::new(clock.clone()));
        assert_eq!(call(&b, FAIL), None);
        assert_eq!(call(&b, FAIL), None);
        assert_eq!(call(&b, FAIL), None); // 3 calls < minimum 4
        let t = call(&b, CallOutcome::Success); // 3/4 = 75% >= 50%
        assert_eq!(t.map(|t| t.to), Some(CircuitState::Open));
        assert_eq!(b.try_acquire().0.unwrap_err().wait, Duration::from_secs(10));
        clock.advance(Duration::from_secs(4));
        assert_eq!(b.try_acquire().0.unwrap_err().wait, Duration::from_secs(6));
    }

    #[test]
    fn below_the_rate_stays_closed_and_unrecorded_kinds_are_successes() {
        let clock = ManualClock::new();
        let b = LocalBreaker::new(policy(), Arc::new(clock.clone()));
        for _ in 0..20 {
            assert_eq!(
                call(&b, CallOutcome::Failure(FailureKind::ClientError)),
                None
            );
        }
        // 1 failure in 4 = 25% < 50%, over and over.
        for _ in 0..5 {
            assert_eq!(call(&b, FAIL), None);
            for _ in 0..3 {
                assert_eq!(call(&b, CallOutcome::Success), None);
            }
        }
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn slow_calls_open_it_too() {
        let clock = ManualClock::new();
        let b = LocalBreaker::new(policy(), Arc::new(clock.clone()));
        let mut last = None;
        for _ in 0..4 {
            let p = b.try_acquire().0.unwrap();
            clock.advance(Duration::from_millis(2001));
            last = b.record(p, CallOutcome::Success);
        }
        assert_eq!(last.map(|t| t.to), Some(CircuitState::Open));
    }

    #[test]
    fn half_open_lets_the_trials_through_and_their_verdict_decides() {
        let clock = ManualClock::new();
        let b = LocalBreaker::new(policy(), Arc::new(clock.clone()));
        for _ in 0..4 {
            call(&b, FAIL);
        }
        clock.advance(Duration::from_secs(10));
        let (first, t) = b.try_acquire();
        assert_eq!(t.map(|t| t.to), Some(CircuitState::HalfOpen));
        let second = b.try_acquire().0.unwrap();
        assert!(b.try_acquire().0.is_err(), "only two trials");
        assert_eq!(b.record(first.unwrap(), CallOutcome::Success), None);
        // 1 failure of 2 trials = 50%: open again.
        let t = b.record(second, FAIL);
        assert_eq!(
            t.map(|t| (t.from, t.to)),
            Some((CircuitState::HalfOpen, CircuitState::Open))
        );
        clock.advance(Duration::from_secs(10));
        call(&b, CallOutcome::Success);
        let t = call(&b, CallOutcome::Success);
        assert_eq!(t.map(|t| t.to), Some(CircuitState::Closed));
        assert_eq!(b.window().calls, 0, "closing starts an empty window");
    }

    #[test]
    fn stale_outcomes_are_ignored_and_stuck_half_open_reopens() {
        let clock = ManualClock::new();
        let b = LocalBreaker::new(
            CircuitPolicy {
                max_wait_in_half_open: Duration::from_secs(30),
                ..policy()
            },
            Arc::new(clock.clone()),
        );
        let early = b.try_acquire().0.unwrap();
        for _ in 0..4 {
            call(&b, FAIL);
        }
        clock.advance(Duration::from_secs(10));
        let _trial = b.try_acquire().0.unwrap();
        assert_eq!(
            b.record(early, FAIL),
            None,
            "closed-era call does not count"
        );
        let _trial2 = b.try_acquire().0.unwrap();
        // The trials never report (cancelled); after 30 s half-open opens again.
        clock.advance(Duration::from_secs(30));
        let (res, t) = b.try_acquire();
        assert!(res.is_err());
        assert_eq!(t.map(|t| t.to), Some(CircuitState::Open));
    }

    #[test]
    fn forced_open_is_reported_once() {
        let clock = ManualClock::new();
        let b = LocalBreaker::new(policy(), Arc::new(clock.clone()));
        b.force_open(Duration::from_secs(3));
        let (res, t) = b.try_acquire();
        assert_eq!(res.unwrap_err().wait, Duration::from_secs(3));
        assert_eq!(t.map(|t| t.from), Some(CircuitState::Closed));
        assert_eq!(b.try_acquire().1, None);
        clock.advance(Duration::from_secs(3));
        assert_eq!(
            b.try_acquire().1.map(|t| t.to),
            Some(CircuitState::HalfOpen)
        );
    }
}

//! The circuit breaker's state machine, on a fake clock.
//!
//! Proof 5: a property test drives [`LocalBreaker`] with random policies and random
//! sequences of admissions, outcomes (kinds, durations) and clock moves, and compares every
//! answer with a naive model written from resilience4j's rules (outcome lists recomputed
//! from scratch, no ring buffer, no buckets). It also checks the invariants that do not
//! need the model: only legal transitions, each starting from the state last seen, never
//! more trials in flight than allowed, an open circuit's wait never longer than `open_for`.

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use txclass_suite::breaker::{
    CallOutcome, CallPermit, CircuitBreaker, CircuitState, FailureKind, LocalBreaker, Transition,
};
use txclass_suite::breaker::{CircuitPolicy, Percent, SlidingWindow};
use txclass_suite::clock::ManualClock;

const KINDS: [FailureKind; 6] = [
    FailureKind::Timeout,
    FailureKind::ServerError,
    FailureKind::RateLimited,
    FailureKind::ClientError,
    FailureKind::Unreachable,
    FailureKind::BadData,
];

/// The model: resilience4j's rules, computed the slow and obvious way.
struct Model {
    p: CircuitPolicy,
    state: CircuitState,
    epoch: u64,
    /// Closed-state outcomes since the circuit last closed: (time, failed, slow).
    closed: Vec<(Duration, bool, bool)>,
    opened_at: Duration,
    half_open_since: Duration,
    trials_started: u32,
    trials: Vec<(bool, bool)>,
}

impl Model {
    fn new(p: CircuitPolicy) -> Self {
        Self {
            p,
            state: CircuitState::Closed,
            epoch: 0,
            closed: Vec::new(),
            opened_at: Duration::ZERO,
            half_open_since: Duration::ZERO,
            trials_started: 0,
            trials: Vec::new(),
        }
    }

    fn go(&mut self, to: CircuitState, now: Duration) -> Transition {
        let t = Transition {
            from: self.state,
            to,
        };
        self.state = to;
        self.epoch += 1;
        match to {
            CircuitState::Open => self.opened_at = now,
            CircuitState::HalfOpen => {
                self.half_open_since = now;
                self.trials_started = 0;
                self.trials.clear();
            }
            CircuitState::Closed => self.closed.clear(),
        }
        t
    }

    fn exceeded(&self, outcomes: &[(bool, bool)]) -> bool {
        let n = outcomes.len() as f64;
        let failed = outcomes.iter().filter(|o| o.0).count() as f64;
        let slow = outcomes.iter().filter(|o| o.1).count() as f64;
        failed * 100.0 / n >= self.p.failure_rate_threshold.get()
            || slow * 100.0 / n >= self.p.slow_call_rate_threshold.get()
    }

    fn window(&self, now: Duration) -> Vec<(bool, bool)> {
        match self.p.window {
            SlidingWindow::CountBased { calls } => {
                let skip = self.closed.len().saturating_sub(calls.get() as usize);
                self.closed[skip..].iter().map(|o| (o.1, o.2)).collect()
            }
            SlidingWindow::TimeBased { seconds } => self
                .closed
                .iter()
                .filter(|o| o.0.as_secs() + u64::from(seconds.get()) > now.as_secs())
                .map(|o| (o.1, o.2))
                .collect(),
        }
    }

    /// Ok((epoch, trial)) or Err(wait), and the transition.
    fn acquire(&mut self, now: Duration) -> (Result<(u64, bool), Duration>, Option<Transition>) {
        let mut t = None;
        if self.state == CircuitState::Open {
            let until = self.opened_at + self.p.open_for;
            if now < until {
                return (Err(until - now), None);
            }
            t = Some(self.go(CircuitState::HalfOpen, now));
        }
        if self.state == CircuitState::HalfOpen {
            let max = self.p.max_wait_in_half_open;
            if !max.is_zero() && now >= self.half_open_since + max {
                return (Err(self.p.open_for), Some(self.go(CircuitState::Open, now)));
            }
            if self.trials_started >= self.p.half_open_calls.get() {
                let wait = (self.p.open_for / 10).max(Duration::from_millis(10));
                return (Err(wait), t);
            }
            self.trials_started += 1;
            return (Ok((self.epoch, true)), t);
        }
        (Ok((self.epoch, false)), t)
    }

    fn record(
        &mut self,
        now: Duration,
        epoch: u64,
        started: Duration,
        kind: Option<FailureKind>,
    ) -> Option<Transition> {
        if epoch != self.epoch {
            return None;
        }
        let failed = kind.is_some_and(|k| self.p.record.contains(&k));
        let slow = now - started > self.p.slow_call_duration;
        match self.state {
            CircuitState::Closed => {
                self.closed.push((now, failed, slow));
                let w = self.window(now);
                (w.len() as u32 >= self.p.minimum_calls.get() && self.exceeded(&w))
                    .then(|| self.go(CircuitState::Open, now))
            }
            CircuitState::HalfOpen => {
                self.trials.push((failed, slow));
                if (self.trials.len() as u32) < self.p.half_open_calls.get() {
                    None
                } else if self.exceeded(&self.trials.clone()) {
                    Some(self.go(CircuitState::Open, now))
                } else {
                    Some(self.go(CircuitState::Closed, now))
                }
            }
            CircuitState::Open => None,
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Acquire,
    /// Report the outcome of the outstanding call at this index (mod their number).
    Finish {
        which: usize,
        kind: Option<usize>,
    },
    /// Drop the outstanding call at this index without reporting (a cancelled call).
    Forget {
        which: usize,
    },
    Advance {
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Acquire),
        5 => (any::<usize>(), prop::option::weighted(0.6, 0usize..6))
            .prop_map(|(which, kind)| Op::Finish { which, kind }),
        1 => any::<usize>().prop_map(|which| Op::Forget { which }),
        3 => prop_oneof![0u64..50, 0u64..1500, 0u64..12_000].prop_map(|ms| Op::Advance { ms }),
    ]
}

fn policy() -> impl Strategy<Value = CircuitPolicy> {
    (
        prop::collection::btree_set(0usize..6, 0..=6),
        prop_oneof![
            (1u32..12).prop_map(|n| SlidingWindow::CountBased {
                calls: NonZeroU32::new(n).unwrap()
            }),
            (1u32..6).prop_map(|n| SlidingWindow::TimeBased {
                seconds: NonZeroU32::new(n).unwrap()
            }),
        ],
        1u32..10,
        prop_oneof![Just(50.0), Just(100.0), 1.0f64..=100.0],
        prop_oneof![Just(100.0), 1.0f64..=100.0],
        0u64..3000,
        1u64..10_000,
        1u32..5,
        prop_oneof![Just(0u64), 1u64..30_000],
    )
        .prop_map(
            |(rec, window, min, fr, sr, slow, open, trials, max_half)| CircuitPolicy {
                record: rec.into_iter().map(|i| KINDS[i]).collect::<BTreeSet<_>>(),
                window,
                minimum_calls: NonZeroU32::new(min).unwrap(),
                failure_rate_threshold: Percent::new(fr).unwrap(),
                slow_call_rate_threshold: Percent::new(sr).unwrap(),
                slow_call_duration: Duration::from_millis(slow),
                open_for: Duration::from_millis(open),
                half_open_calls: NonZeroU32::new(trials).unwrap(),
                max_wait_in_half_open: Duration::from_millis(max_half),
                ..CircuitPolicy::default()
            },
        )
}

fn legal(t: &Transition) -> bool {
    use CircuitState::*;
    matches!(
        (t.from, t.to),
        (Closed, Open) | (Open, HalfOpen) | (HalfOpen, Open) | (HalfOpen, Closed)
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/breaker.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn breaker_matches_the_model(p in policy(), ops in prop::collection::vec(op(), 1..300)) {
        let clock = ManualClock::new();
        let b = LocalBreaker::new(p.clone(), Arc::new(clock.clone()));
        let mut m = Model::new(p.clone());
        let mut seen = CircuitState::Closed;
        // Outstanding calls: the breaker's permit and the model's (epoch, start).
        let mut out: Vec<(CallPermit, u64, Duration)> = Vec::new();
        let check = |t: Option<Transition>, mt: Option<Transition>, seen: &mut CircuitState| -> Result<(), TestCaseError> {
            prop_assert_eq!(t, mt);
            if let Some(t) = t {
                prop_assert!(legal(&t), "illegal transition {:?}", t);
                prop_assert_eq!(t.from, *seen, "transition from a state not last seen");
                *seen = t.to;
            }
            Ok(())
        };
        for op in ops {
            let now = clock.now_duration();
            match op {
                Op::Acquire => {
                    let (r, t) = b.try_acquire();
                    let (mr, mt) = m.acquire(now);
                    check(t, mt, &mut seen)?;
                    match (r, mr) {
                        (Ok(permit), Ok((epoch, trial))) => {
                            prop_assert_eq!(permit.trial, trial);
                            prop_assert_eq!(permit.started, now);
                            out.push((permit, epoch, now));
                        }
                        (Err(wait), Err(mwait)) => {
                            prop_assert_eq!(wait.wait, mwait);
                            prop_assert!(wait.wait <= p.open_for.max(Duration::from_millis(10)));
                        }
                        (r, mr) => prop_assert!(false, "breaker {:?}, model {:?}", r.map(|_| ()), mr),
                    }
                }
                Op::Finish { which, kind } if !out.is_empty() => {
                    let (permit, epoch, started) = out.remove(which % out.len());
                    let kind = kind.map(|k| KINDS[k]);
                    let outcome = kind.map_or(CallOutcome::Success, CallOutcome::Failure);
                    let t = b.record(permit, outcome);
                    let mt = m.record(now, epoch, started, kind);
                    check(t, mt, &mut seen)?;
                }
                Op::Forget { which } if !out.is_empty() => {
                    // A cancelled call: its permit is dropped, never recorded.
                    let _cancelled = out.remove(which % out.len());
                }
                Op::Advance { ms } => clock.advance(Duration::from_millis(ms)),
                _ => {}
            }
            prop_assert_eq!(b.state(), m.state);
            if m.state == CircuitState::HalfOpen {
                let in_flight = out.iter().filter(|(permit, epoch, _)| permit.trial && *epoch == m.epoch).count();
                prop_assert!(in_flight as u32 <= p.half_open_calls.get());
            }
        }
    }

    /// Whatever happens, only successes never open a circuit.
    #[test]
    fn successes_alone_never_open(p in policy(), n in 1usize..200, gap in 0u64..100) {
        let p = CircuitPolicy { slow_call_duration: Duration::from_secs(3600), ..p };
        let clock = ManualClock::new();
        let b = LocalBreaker::new(p, Arc::new(clock.clone()));
        for _ in 0..n {
            let permit = b.try_acquire().0.unwrap();
            clock.advance(Duration::from_millis(gap));
            prop_assert_eq!(b.record(permit, CallOutcome::Success), None);
        }
        prop_assert_eq!(b.state(), CircuitState::Closed);
    }
}

/// `ManualClock::now` through the trait.
trait NowDuration {
    fn now_duration(&self) -> Duration;
}

impl NowDuration for ManualClock {
    fn now_duration(&self) -> Duration {
        txclass_suite::clock::Clock::now(self)
    }
}

#[test]
fn time_based_window_forgets_old_failures() {
    let clock = ManualClock::new();
    let p = CircuitPolicy {
        window: SlidingWindow::TimeBased {
            seconds: NonZeroU32::new(10).unwrap(),
        },
        minimum_calls: NonZeroU32::new(3).unwrap(),
        ..CircuitPolicy::default()
    };
    let b = LocalBreaker::new(p, Arc::new(clock.clone()));
    let fail = |b: &LocalBreaker| {
        let permit = b.try_acquire().0.unwrap();
        b.record(permit, CallOutcome::Failure(FailureKind::Timeout))
    };
    assert_eq!(fail(&b), None);
    assert_eq!(fail(&b), None);
    clock.advance(Duration::from_secs(10)); // both failures leave the window
    assert_eq!(
        fail(&b),
        None,
        "one failure in the window is below the minimum"
    );
    assert_eq!(b.window().calls, 1);
    assert_eq!(fail(&b), None);
    assert_eq!(fail(&b).map(|t| t.to), Some(CircuitState::Open));
}

#[cfg(feature = "redis")]
#[path = "support/redis.rs"]
mod support;

#[cfg(feature = "redis")]
mod shared {
    use super::*;
    use txclass_suite::breaker::RedisSharedBreaker;
    use txclass_suite::PartnerId;

    /// Opening on one instance opens every instance's circuit (and a late starter's).
    #[tokio::test]
    async fn an_open_circuit_is_shared_through_redis() {
        support::connect().await;
        let prefix = support::unique("breaker");
        let partner = PartnerId::from("bank");
        let policy = CircuitPolicy {
            minimum_calls: NonZeroU32::new(2).unwrap(),
            open_for: Duration::from_secs(30),
            ..CircuitPolicy::default()
        };
        let start = |clock: &ManualClock| {
            RedisSharedBreaker::start(
                &support::url(),
                &prefix,
                &partner,
                policy.clone(),
                Arc::new(clock.clone()),
            )
            .unwrap()
        };
        let (ca, cb) = (ManualClock::new(), ManualClock::new());
        let a = start(&ca);
        let b = start(&cb);
        // Let b's subscription settle.
        tokio::time::sleep(Duration::from_millis(200)).await;
        for _ in 0..2 {
            let permit = a.try_acquire().0.unwrap();
            a.record(permit, CallOutcome::Failure(FailureKind::ServerError));
        }
        assert_eq!(a.state(), CircuitState::Open);
        let opened = support::eventually(Duration::from_secs(3), || async {
            b.state() == CircuitState::Open
        })
        .await;
        assert!(opened.is_some(), "b never heard that a opened");
        let (r, t) = b.try_acquire();
        assert!(r.unwrap_err().wait > Duration::from_secs(25));
        assert_eq!(
            t.map(|t| (t.from, t.to)),
            Some((CircuitState::Closed, CircuitState::Open))
        );
        assert_eq!(b.local().window().calls, 0, "b saw no failure itself");
        // An instance that starts later reads the open state from the key.
        let cc = ManualClock::new();
        let c = start(&cc);
        let late = support::eventually(Duration::from_secs(3), || async {
            c.state() == CircuitState::Open
        })
        .await;
        assert!(
            late.is_some(),
            "a late starter did not see the open circuit"
        );
    }
}

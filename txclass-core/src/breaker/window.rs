//! Sliding windows of call outcomes (resilience4j's count-based and time-based windows).
//!
//! Both keep running totals and subtract what they evict, so a snapshot is O(1).

use std::collections::VecDeque;
use std::time::Duration;

use super::SlidingWindow;

/// Totals of the calls in a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowSnapshot {
    /// Calls recorded.
    pub calls: u32,
    /// Of those, failures (of a recorded kind).
    pub failed: u32,
    /// Of those, slow ones (failed or not).
    pub slow: u32,
}

impl WindowSnapshot {
    fn add(&mut self, o: Outcome) {
        self.calls += 1;
        self.failed += o.failed as u32;
        self.slow += o.slow as u32;
    }

    fn sub(&mut self, s: WindowSnapshot) {
        self.calls -= s.calls;
        self.failed -= s.failed;
        self.slow -= s.slow;
    }

    /// Failed calls in percent of all calls (0 when empty).
    pub fn failure_rate(&self) -> f64 {
        rate(self.failed, self.calls)
    }

    /// Slow calls in percent of all calls (0 when empty).
    pub fn slow_call_rate(&self) -> f64 {
        rate(self.slow, self.calls)
    }
}

fn rate(part: u32, all: u32) -> f64 {
    if all == 0 {
        0.0
    } else {
        f64::from(part) * 100.0 / f64::from(all)
    }
}

/// One call's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub failed: bool,
    pub slow: bool,
}

#[derive(Debug)]
pub(crate) enum Window {
    /// A ring of the last `n` outcomes.
    Count {
        ring: Vec<Option<Outcome>>,
        next: usize,
        total: WindowSnapshot,
    },
    /// One bucket per clock second, the last `seconds` of them.
    Time {
        seconds: u64,
        buckets: VecDeque<(u64, WindowSnapshot)>,
        total: WindowSnapshot,
    },
}

impl Window {
    pub(crate) fn new(kind: SlidingWindow) -> Self {
        match kind {
            SlidingWindow::CountBased { calls } => Window::Count {
                ring: vec![None; calls.get() as usize],
                next: 0,
                total: WindowSnapshot::default(),
            },
            SlidingWindow::TimeBased { seconds } => Window::Time {
                seconds: u64::from(seconds.get()),
                buckets: VecDeque::new(),
                total: WindowSnapshot::default(),
            },
        }
    }

    pub(crate) fn record(&mut self, now: Duration, o: Outcome) -> WindowSnapshot {
        match self {
            Window::Count { ring, next, total } => {
                if let Some(old) = ring[*next].replace(o) {
                    let mut s = WindowSnapshot::default();
                    s.add(old);
                    total.sub(s);
                }
                total.add(o);
                *next = (*next + 1) % ring.len();
                *total
            }
            Window::Time { .. } => {
                self.evict(now);
                let Window::Time { buckets, total, .. } = self else {
                    unreachable!()
                };
                let sec = now.as_secs();
                match buckets.back_mut() {
                    Some((s, b)) if *s == sec => b.add(o),
                    _ => {
                        let mut b = WindowSnapshot::default();
                        b.add(o);
                        buckets.push_back((sec, b));
                    }
                }
                total.add(o);
                *total
            }
        }
    }

    pub(crate) fn snapshot(&mut self, now: Duration) -> WindowSnapshot {
        self.evict(now);
        match self {
            Window::Count { total, .. } | Window::Time { total, .. } => *total,
        }
    }

    /// Drops the buckets of seconds that left the window.
    fn evict(&mut self, now: Duration) {
        if let Window::Time {
            seconds,
            buckets,
            total,
        } = self
        {
            let sec = now.as_secs();
            while let Some(&(s, b)) = buckets.front() {
                if s + *seconds > sec {
                    break;
                }
                total.sub(b);
                buckets.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    const F: Outcome = Outcome {
        failed: true,
        slow: false,
    };
    const S: Outcome = Outcome {
        failed: false,
        slow: false,
    };

    #[test]
    fn count_window_forgets_the_oldest() {
        let mut w = Window::new(SlidingWindow::CountBased {
            calls: NonZeroU32::new(3).unwrap(),
        });
        let t = Duration::ZERO;
        w.record(t, F);
        w.record(t, F);
        w.record(t, S);
        assert_eq!(w.snapshot(t).failed, 2);
        let s = w.record(t, S);
        assert_eq!((s.calls, s.failed), (3, 1));
    }

    #[test]
    fn time_window_drops_old_seconds() {
        let mut w = Window::new(SlidingWindow::TimeBased {
            seconds: NonZeroU32::new(2).unwrap(),
        });
        w.record(Duration::from_millis(100), F);
        w.record(Duration::from_millis(1100), S);
        assert_eq!(w.snapshot(Duration::from_millis(1999)).calls, 2);
        // Second 0 leaves the window when second 2 starts.
        assert_eq!(w.snapshot(Duration::from_millis(2000)).calls, 1);
        assert_eq!(w.snapshot(Duration::from_millis(3000)).calls, 0);
    }
}

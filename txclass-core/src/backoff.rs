//! One backoff for every wait-and-try-again in the core: the delay doubles from `first`
//! up to `max`, and is drawn with the [`Jitter`] chosen.
//!
//! Partner retries use full jitter (AWS's "Exponential Backoff and Jitter": the least total
//! work when many clients retry at once); a waiter's backstop uses equal jitter (never
//! shorter than half the step, so it does not hammer); reconnects and store retries use
//! none (one caller, nothing to spread).

use std::time::Duration;

use rand::Rng;

/// How a delay is drawn from its ceiling `d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly `d`.
    None,
    /// Uniform in `[0, d]`.
    Full,
    /// Uniform in `[d/2, d]`.
    // Drawn by the Redis limiter's polling, which exists with the `redis` feature.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Equal,
}

/// Doubling delays from `first` to `max`, counting the tries made.
#[derive(Clone, Debug)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    jitter: Jitter,
    tries: u32,
}

impl Backoff {
    /// Delays `first`, `2 × first`, … up to `max`, without jitter.
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max: max.max(first),
            jitter: Jitter::None,
            tries: 0,
        }
    }

    /// The same delays, drawn with `jitter`.
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The ceiling of the delay after `tries` earlier tries: `min(max, first × 2^tries)`.
    pub fn ceiling(&self, tries: u32) -> Duration {
        self.first
            .saturating_mul(1u32 << tries.min(20))
            .min(self.max)
    }

    /// The delay after `tries` earlier tries for a uniform draw `u` in `[0, 1]`.
    pub fn draw(&self, tries: u32, u: f64) -> Duration {
        let d = self.ceiling(tries);
        let u = u.clamp(0.0, 1.0);
        match self.jitter {
            Jitter::None => d,
            Jitter::Full => d.mul_f64(u),
            Jitter::Equal => d.mul_f64(0.5 + u / 2.0),
        }
    }

    /// The next delay (a random draw), counting the try.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.draw(self.tries, rand::thread_rng().gen_range(0.0..=1.0));
        self.tries = self.tries.saturating_add(1);
        d
    }

    /// Starts again from `first` (after a success).
    // Used by the Redis parts' reconnect loops (the `redis` feature).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub fn reset(&mut self) {
        self.tries = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_ceiling_and_jitter_stays_in_its_range() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(1000));
        let plain: Vec<Duration> = (0..6).map(|_| b.next_delay()).collect();
        assert_eq!(plain, [100, 200, 400, 800, 1000, 1000].map(ms));
        b.reset();
        assert_eq!(b.next_delay(), ms(100));
        let full = Backoff::new(ms(100), ms(1000)).with_jitter(Jitter::Full);
        assert_eq!(full.draw(2, 0.0), ms(0));
        assert_eq!(full.draw(2, 0.5), ms(200));
        let equal = Backoff::new(ms(100), ms(1000)).with_jitter(Jitter::Equal);
        assert_eq!(equal.draw(2, 0.0), ms(200));
        assert_eq!(equal.draw(2, 1.0), ms(400));
        assert_eq!(
            equal.draw(40, 1.0),
            ms(1000),
            "no overflow past the ceiling"
        );
    }
}

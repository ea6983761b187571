//! Measuring a partner: drive its adapter at a fixed concurrency for a while and report
//! the figures that describe an API's service level (latency percentiles, mean response
//! time, availability, throughput, failure rate, status codes).
//!
//! The concurrency is enforced by a [`Limiter`] (the same permits the orchestrator takes),
//! never by the number of tasks, so a bench also exercises the limiter it trusts.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{PageRequest, PartnerAdapter, PartnerError};
use crate::domain::CustomerId;
use crate::limiter::{Limiter, LimiterError};

/// What to ask of the partner, how hard and for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchConfig {
    /// Whose transactions each call asks for.
    pub customer_id: CustomerId,
    /// Window start.
    pub from: NaiveDate,
    /// Window end.
    pub to: NaiveDate,
    /// How long new calls are started; calls in flight at the end are waited for and counted.
    pub duration: Duration,
}

/// How one call ended, as counted in the status histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallStatus {
    /// The partner answered with this HTTP status (every success counts as 200).
    Http(u16),
    /// No answer in time (also 408 and 504, which the adapter reports as timeouts).
    Timeout,
    /// The connection failed.
    Transport,
    /// An answer came that could not be read.
    Decode,
}

impl CallStatus {
    /// The status of a call's outcome.
    pub fn of<T>(outcome: &Result<T, PartnerError>) -> Self {
        match outcome {
            Ok(_) => CallStatus::Http(200),
            Err(PartnerError::RateLimited { .. }) => CallStatus::Http(429),
            Err(PartnerError::Server { status } | PartnerError::Client { status, .. }) => {
                CallStatus::Http(*status)
            }
            Err(PartnerError::Timeout { .. }) => CallStatus::Timeout,
            Err(PartnerError::Unreachable { .. }) => CallStatus::Transport,
            Err(PartnerError::Decode { .. }) => CallStatus::Decode,
        }
    }

    /// Whether the partner was there: it answered, with anything but a 5xx.
    pub fn available(self) -> bool {
        match self {
            CallStatus::Http(s) => !(500..600).contains(&s),
            CallStatus::Decode => true,
            CallStatus::Timeout | CallStatus::Transport => false,
        }
    }

    /// Whether the call gave what was asked (a readable 2xx page).
    pub fn succeeded(self) -> bool {
        matches!(self, CallStatus::Http(s) if (200..300).contains(&s))
    }
}

impl fmt::Display for CallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallStatus::Http(s) => write!(f, "{s}"),
            CallStatus::Timeout => f.write_str("timeout"),
            CallStatus::Transport => f.write_str("transport"),
            CallStatus::Decode => f.write_str("decode"),
        }
    }
}

impl Serialize for CallStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Response-time distribution of the calls, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest call.
    pub max_ms: f64,
    /// Mean response time.
    pub mean_ms: f64,
}

impl Latency {
    /// Nearest-rank percentiles of `samples` (sorted in place); all zero when empty.
    ///
    /// Why nearest rank, not interpolation: every figure is a response time that really
    /// happened, and p99 of fewer than 100 calls is the slowest one, not a blend.
    pub fn of(samples: &mut [Duration]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let total: Duration = samples.iter().sum();
        Self {
            p50_ms: ms(percentile(samples, 50.0)),
            p90_ms: ms(percentile(samples, 90.0)),
            p99_ms: ms(percentile(samples, 99.0)),
            max_ms: ms(*samples.last().expect("not empty")),
            mean_ms: ms(total) / samples.len() as f64,
        }
    }
}

/// Nearest-rank percentile `p` (0–100] of sorted, non-empty `sorted`.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    assert!(!sorted.is_empty(), "percentile of no samples");
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The figures of one bench run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BenchReport {
    /// Calls made (all finished).
    pub calls: u64,
    /// Transactions received in successful pages.
    pub transactions: u64,
    /// From the first call to the end of the last one, in seconds.
    pub elapsed_s: f64,
    /// Response times.
    pub latency: Latency,
    /// Share of calls that got an answer that was not a 5xx (0–1).
    pub availability: f64,
    /// Share of calls that did not return a page (0–1).
    pub failure_rate: f64,
    /// Calls finished per second.
    pub calls_per_second: f64,
    /// Transactions received per second (the partner's consumption).
    pub transactions_per_second: f64,
    /// Calls per status.
    pub status_codes: BTreeMap<CallStatus, u64>,
    /// Most calls seen in flight at once (never above the configured concurrency).
    pub max_in_flight: u32,
}

/// Accumulates call outcomes into a [`BenchReport`].
#[derive(Clone, Debug, Default)]
pub struct Tally {
    latencies: Vec<Duration>,
    transactions: u64,
    status_codes: BTreeMap<CallStatus, u64>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one call: how long it took, how it ended and how many transactions it brought.
    pub fn record(&mut self, latency: Duration, status: CallStatus, transactions: usize) {
        self.latencies.push(latency);
        *self.status_codes.entry(status).or_default() += 1;
        if status.succeeded() {
            self.transactions += transactions as u64;
        }
    }

    /// The report over `elapsed` of wall time.
    pub fn report(mut self, elapsed: Duration, max_in_flight: u32) -> BenchReport {
        let calls = self.latencies.len() as u64;
        let count = |f: fn(CallStatus) -> bool| -> u64 {
            self.status_codes
                .iter()
                .filter(|(s, _)| f(**s))
                .map(|(_, n)| n)
                .sum()
        };
        let share = |n: u64| {
            if calls == 0 {
                0.0
            } else {
                n as f64 / calls as f64
            }
        };
        let per_second = |n: u64| {
            let s = elapsed.as_secs_f64();
            if s > 0.0 {
                n as f64 / s
            } else {
                0.0
            }
        };
        BenchReport {
            calls,
            transactions: self.transactions,
            elapsed_s: elapsed.as_secs_f64(),
            latency: Latency::of(&mut self.latencies),
            availability: share(count(CallStatus::available)),
            failure_rate: share(calls - count(CallStatus::succeeded)),
            calls_per_second: per_second(calls),
            transactions_per_second: per_second(self.transactions),
            status_codes: self.status_codes,
            max_in_flight,
        }
    }
}

/// Drives `adapter` for `config.duration`: each call takes a permit of `limiter` for the
/// adapter's partner (so at most its capacity run at once: give a
/// [`LocalLimiter`](crate::limiter::LocalLimiter) of capacity N to bench at concurrency N), asks the first page of the
/// window (the same work every time, so runs compare), and is timed from request to answer.
///
/// Fails only if the limiter does (e.g. it does not know the partner).
pub async fn bench_partner(
    adapter: Arc<dyn PartnerAdapter>,
    limiter: Arc<dyn Limiter>,
    config: BenchConfig,
) -> Result<BenchReport, LimiterError> {
    let partner = adapter.id().clone();
    let request = Arc::new(PageRequest {
        customer_id: config.customer_id.clone(),
        from: config.from,
        to: config.to,
        cursor: None,
    });
    let in_flight = Arc::new(AtomicU32::new(0));
    let max_in_flight = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let deadline = started + config.duration;
    let mut tally = Tally::new();
    let mut calls: JoinSet<(Duration, CallStatus, usize)> = JoinSet::new();
    loop {
        while let Some(done) = calls.try_join_next() {
            let (latency, status, n) = done.expect("bench call task panicked");
            tally.record(latency, status, n);
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let Some(permit) = limiter.acquire(&partner, deadline - now).await? else {
            break;
        };
        let (adapter, request) = (adapter.clone(), request.clone());
        let (in_flight, max_in_flight) = (in_flight.clone(), max_in_flight.clone());
        calls.spawn(async move {
            let now_in_flight = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            max_in_flight.fetch_max(now_in_flight, Ordering::SeqCst);
            let t0 = Instant::now();
            let outcome = adapter.fetch_page(&request, &permit).await;
            let latency = t0.elapsed();
            in_flight.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            let n = outcome.as_ref().map_or(0, |p| p.transactions.len());
            (latency, CallStatus::of(&outcome), n)
        });
    }
    while let Some(done) = calls.join_next().await {
        let (latency, status, n) = done.expect("bench call task panicked");
        tally.record(latency, status, n);
    }
    Ok(tally.report(started.elapsed(), max_in_flight.load(Ordering::SeqCst)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PartnerId, Transaction};
    use crate::limiter::{LocalLimiter, Permit};
    use crate::partner::{Health, Page};
    use async_trait::async_trait;
    use std::num::NonZeroU32;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<Duration> = (1..=100).rev().map(ms).collect();
        let l = Latency::of(&mut v);
        assert_eq!(
            (l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms),
            (50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(l.mean_ms, 50.5);

        let mut few = vec![ms(30), ms(10), ms(20)];
        let l = Latency::of(&mut few);
        assert_eq!((l.p50_ms, l.p90_ms, l.p99_ms), (20.0, 30.0, 30.0));
        assert_eq!(percentile(&[ms(7)], 1.0), ms(7));
        assert_eq!(Latency::of(&mut []), Latency::default());
    }

    #[test]
    fn statuses_availability_and_failure_rate() {
        let server: Result<(), _> = Err(PartnerError::Server { status: 503 });
        assert_eq!(CallStatus::of(&server), CallStatus::Http(503));
        let limited: Result<(), _> = Err(PartnerError::RateLimited { retry_after: None });
        assert_eq!(CallStatus::of(&limited), CallStatus::Http(429));

        let mut t = Tally::new();
        for _ in 0..6 {
            t.record(ms(10), CallStatus::Http(200), 50);
        }
        t.record(ms(10), CallStatus::Http(429), 0);
        t.record(ms(10), CallStatus::Http(503), 0);
        t.record(ms(10), CallStatus::Timeout, 0);
        t.record(ms(10), CallStatus::Transport, 0);
        let r = t.report(Duration::from_secs(2), 3);
        assert_eq!(r.calls, 10);
        assert_eq!(r.transactions, 300);
        assert_eq!(r.availability, 0.7); // 200×6 + 429
        assert_eq!(r.failure_rate, 0.4);
        assert_eq!(r.calls_per_second, 5.0);
        assert_eq!(r.transactions_per_second, 150.0);
        let hist: Vec<_> = r
            .status_codes
            .iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect();
        assert_eq!(
            hist,
            [
                ("200".to_string(), 6),
                ("429".into(), 1),
                ("503".into(), 1),
                ("timeout".into(), 1),
                ("transport".into(), 1)
            ]
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["status_codes"]["503"], 1);
        assert_eq!(Tally::new().report(Duration::ZERO, 0).availability, 0.0);
    }

    /// Answers every call after 10 ms with 5 transactions; every fourth call with a 503.
    struct Slow {
        id: PartnerId,
        calls: AtomicU32,
    }

    #[async_trait]
    impl PartnerAdapter for Slow {
        fn id(&self) -> &PartnerId {
            &self.id
        }
        async fn fetch_page(&self, req: &PageRequest, _: &Permit) -> Result<Page, PartnerError> {
            tokio::time::sleep(ms(10)).await;
            if self.calls.fetch_add(1, Ordering::SeqCst) % 4 == 3 {
                return Err(PartnerError::Server { status: 503 });
            }
            let tx = Transaction {
                id: "t".into(),
                date: req.from,
                description: "X".into(),
                amount_minor: -1,
                currency: "BRL".into(),
            };
            Ok(Page {
                transactions: vec![tx; 5],
                next_cursor: None,
            })
        }
        async fn health(&self) -> Health {
            unreachable!()
        }
        fn timeout(&self) -> Duration {
            Duration::from_secs(1)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn bench_holds_the_concurrency_and_counts_every_call() {
        let id = PartnerId::from("slow");
        let adapter = Arc::new(Slow {
            id: id.clone(),
            calls: AtomicU32::new(0),
        });
        let limiter = Arc::new(LocalLimiter::new().with_partner(id, NonZeroU32::new(3).unwrap()));
        let config = BenchConfig {
            customer_id: "c".into(),
            from: "2026-01-01".parse().unwrap(),
            to: "2026-01-31".parse().unwrap(),
            duration: Duration::from_secs(1),
        };
        let r = bench_partner(adapter.clone(), limiter.clone(), config)
            .await
            .unwrap();
        // 3 at a time, 10 ms each, for 1 s: 100 rounds of 3.
        assert_eq!(r.max_in_flight, 3);
        assert_eq!(r.calls, 300);
        assert_eq!(r.calls, u64::from(adapter.calls.load(Ordering::SeqCst)));
        assert_eq!(r.status_codes[&CallStatus::Http(503)], 75);
        assert_eq!(r.transactions, 225 * 5);
        assert_eq!(r.latency.p99_ms, 10.0);
        assert_eq!(r.failure_rate, 0.25);
        assert_eq!(r.elapsed_s, 1.0);
        assert_eq!(limiter.in_use(&"slow".into()).await.unwrap(), 0);
    }
}

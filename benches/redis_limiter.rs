//! Acquire + release cycles per second through the Redis limiter, next to `redis-benchmark`'s
//! EVALSHA rate on the same Redis in the same run (target: cycles/s ≥ 0.4 × EVALSHA/s with 32
//! tasks on capacity 8; one acquire and one release script per cycle make 0.5×), and the
//! over-admissions seen (target: zero). Then three limiter instances (own connections) with
//! 32 tasks each on capacity 8, every holder keeping its permit 5 ms like a short partner
//! call: how soon a freed slot is taken again (target p99 ≤ 20 ms: waiters are woken by the
//! release, not by polling) and the scripts run per cycle.
//!
//! Needs a Redis (`scripts/redis.sh start`, `TXCLASS_REDIS_URL`) and `redis-benchmark`
//! (apt-get install redis-tools). Run: `cargo bench --features redis --bench redis_limiter`.
//! `TXCLASS_BENCH_SECS` sets the length of each measurement (default 5).

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::process::Command;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use txclass_suite::limiter::{Feedback, RedisLimiter};
use txclass_suite::{Limiter, PartnerId};

fn url() -> String {
    std::env::var("TXCLASS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6399".into())
}

/// host and port of a `redis://host:port[/db]` URL.
fn host_port(url: &str) -> (String, String) {
    let rest = url.trim_start_matches("redis://");
    let rest = rest.rsplit('@').next().unwrap_or(rest);
    let hostport = rest.split('/').next().unwrap_or(rest);
    match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_owned(), p.to_owned()),
        None => (hostport.to_owned(), "6379".to_owned()),
    }
}

/// EVALSHA calls Redis has run so far (`INFO commandstats`).
async fn evalsha_calls(url: &str) -> u64 {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_evalsha:"))
        .and_then(|rest| rest.split(',').find_map(|kv| kv.strip_prefix("calls=")))
        .map_or(0, |n| n.parse().unwrap())
}

/// `redis-benchmark`'s requests per second for `EVALSHA <sha> 0` of a one-line script.
fn evalsha_rate(url: &str, sha: &str, clients: u32, requests: u32) -> f64 {
    let (host, port) = host_port(url);
    let out = Command::new("redis-benchmark")
        .args(["-h", &host, "-p", &port, "-c", &clients.to_string()])
        .args(["-n", &requests.to_string(), "--csv", "EVALSHA", sha, "0"])
        .output()
        .unwrap_or_else(|e| {
            panic!("redis-benchmark did not run ({e}); install it: apt-get install redis-tools")
        });
    assert!(
        out.status.success(),
        "redis-benchmark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // --csv: a header line, then "EVALSHA ...","<rps>",...
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("\"EVALSHA"))
        .unwrap_or_else(|| panic!("unexpected redis-benchmark output: {text}"));
    line.split(',')
        .nth(1)
        .unwrap()
        .trim_matches('"')
        .parse()
        .unwrap()
}

struct Figures {
    cycles_per_sec: f64,
    cycles: u64,
    over_admissions: u64,
    max_inside: u32,
    /// Time from a release to the next grant, sorted.
    handoffs: Vec<Duration>,
}

/// `tasks` tasks on each of `instances` limiters cycle acquire, hold, release for `secs`.
async fn run(instances: usize, tasks: usize, capacity: u32, hold: Duration, secs: f64) -> Figures {
    let prefix = format!(
        "bench:{}:{}",
        std::process::id(),
        tasks * 1000 + capacity as usize
    );
    let partner = PartnerId::from("bank");
    let limiters: Vec<Arc<RedisLimiter>> = (0..instances)
        .map(|_| {
            Arc::new(
                RedisLimiter::builder(url())
                    .prefix(prefix.clone())
                    .lease(Duration::from_secs(30))
                    .partner(partner.clone(), NonZeroU32::new(capacity).unwrap())
                    .build()
                    .unwrap(),
            )
        })
        .collect();
    // Let the subscriptions come up.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let releases = Arc::new(Mutex::new(VecDeque::<Instant>::new()));
    let handoffs = Arc::new(Mutex::new(Vec::new()));
    let inside = Arc::new(AtomicU32::new(0));
    let max_inside = Arc::new(AtomicU32::new(0));
    let over = Arc::new(AtomicU64::new(0));
    let cycles = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks * instances {
        let (l, p) = (limiters[t % instances].clone(), partner.clone());
        let (inside, max_inside, over, cycles) = (
            inside.clone(),
            max_inside.clone(),
            over.clone(),
            cycles.clone(),
        );
        let (releases, handoffs) = (releases.clone(), handoffs.clone());
        handles.push(tokio::spawn(async move {
            while Instant::now() < end {
                let Some(permit) = l.acquire(&p, Duration::from_secs(5)).await.expect("redis")
                else {
                    continue;
                };
                if let Some(freed) = releases.lock().unwrap().pop_front() {
                    handoffs.lock().unwrap().push(freed.elapsed());
                }
                let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                max_inside.fetch_max(n, Ordering::Relaxed);
                if n > capacity {
                    over.fetch_add(1, Ordering::Relaxed);
                }
                // Hold the permit across a suspension point, as a real call does, so
                // holders overlap.
                if hold.is_zero() {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(hold).await;
                }
                inside.fetch_sub(1, Ordering::SeqCst);
                permit.finish(Feedback::Served);
                // The release lands in Redis a moment later; the hand-off is timed from here.
                releases.lock().unwrap().push_back(Instant::now());
                cycles.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    // Every release has landed: nothing may be left held.
    let limiter = &limiters[0];
    for _ in 0..100 {
        if limiter.in_use(&partner).await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(limiter.in_use(&partner).await.unwrap(), 0, "permits leaked");
    let mut handoffs = std::mem::take(&mut *handoffs.lock().unwrap());
    handoffs.sort();
    Figures {
        cycles_per_sec: cycles.load(Ordering::Relaxed) as f64 / elapsed,
        cycles: cycles.load(Ordering::Relaxed),
        over_admissions: over.load(Ordering::Relaxed),
        max_inside: max_inside.load(Ordering::Relaxed),
        handoffs,
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs us too: stay quick there.
    let quick = !std::env::args().any(|a| a == "--bench");
    let secs: f64 = std::env::var("TXCLASS_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 0.5 } else { 5.0 });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = url();
    let sha: String = rt.block_on(async {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| {
                panic!("Redis at {url} is unreachable ({e}): run scripts/redis.sh start")
            });
        redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg("return 1")
            .query_async(&mut conn)
            .await
            .unwrap()
    });
    let requests = if quick { 20_000 } else { 200_000 };
    let evalsha = evalsha_rate(&url, &sha, 50, requests);
    println!("redis-benchmark EVALSHA (50 clients, no pipelining): {evalsha:>10.0} req/s");
    let mut ok = true;
    for (tasks, capacity) in [(16, 16), (64, 64), (32, 8)] {
        let f = rt.block_on(run(1, tasks, capacity, Duration::ZERO, secs));
        let ratio = f.cycles_per_sec / evalsha;
        println!(
            "redis limiter, {tasks:>2} tasks, capacity {capacity:>2}: {:>10.0} acquire+release cycles/s \
             ({ratio:.2}x EVALSHA), over-admissions {}, max inside {}",
            f.cycles_per_sec, f.over_admissions, f.max_inside
        );
        ok &= f.over_admissions == 0;
    }
    let before = rt.block_on(evalsha_calls(&url));
    let f = rt.block_on(run(3, 32, 8, Duration::from_millis(5), secs));
    let scripts = rt.block_on(evalsha_calls(&url)) - before;
    let pct = |q: f64| f.handoffs[((f.handoffs.len() - 1) as f64 * q) as usize];
    println!(
        "3 instances x 32 tasks, capacity 8, 5 ms holds: {:>6.0} cycles/s, freed slot taken again \
         after p50 {:.2} ms / p99 {:.2} ms, {:.2} scripts per cycle, over-admissions {}, max inside {}",
        f.cycles_per_sec,
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        scripts as f64 / f.cycles.max(1) as f64,
        f.over_admissions,
        f.max_inside
    );
    ok &= f.over_admissions == 0;
    assert!(ok, "over-admission");
}

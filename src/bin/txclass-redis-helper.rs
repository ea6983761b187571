//! A helper process for the Redis integration tests: something to run as a separate
//! process and to `kill -9`.
//!
//! ```text
//! txclass-redis-helper hold    <url> <prefix> <partner> <capacity> <count> <lease_ms>
//!     takes <count> permits, prints "HELD <token> ...", then waits to be killed
//! txclass-redis-helper load    <url> <prefix> <partner> <capacity> <tasks> <requests> <gauge_key>
//!     makes <requests> calls, <tasks> at a time, each under a permit; inside the permit it
//!     INCRs a shared gauge (the cluster-wide count of callers inside) and DECRs it after
//!     a short "call"; prints "MAX <highest gauge seen> DONE <calls made>"
//! txclass-redis-helper consume <url> <prefix> <consumer>
//!     takes one task from the retry queue, prints "GOT <id> <page>", then waits to be killed
//! ```
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use txclass_suite::limiter::RedisLimiter;
use txclass_suite::queue::{RedisQueue, RedisQueueConfig};
use txclass_suite::{Limiter, PartnerId, RetryQueue};

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> T {
    args.get(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("argument {i} ({what}) missing or unreadable"))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("hold") => hold(&args).await,
        Some("load") => load(&args).await,
        Some("consume") => consume(&args).await,
        _ => {
            eprintln!("usage: txclass-redis-helper hold|load|consume ... (see the source)");
            std::process::exit(2);
        }
    }
}

fn limiter(args: &[String], lease: Duration) -> (RedisLimiter, PartnerId) {
    let url: String = arg(args, 2, "url");
    let prefix: String = arg(args, 3, "prefix");
    let partner = PartnerId::new(arg::<String>(args, 4, "partner"));
    let capacity: NonZeroU32 = arg(args, 5, "capacity");
    let l = RedisLimiter::builder(url)
        .prefix(prefix)
        .lease(lease)
        .partner(partner.clone(), capacity)
        .build()
        .expect("limiter");
    (l, partner)
}

async fn hold(args: &[String]) {
    let count: usize = arg(args, 6, "count");
    let lease = Duration::from_millis(arg(args, 7, "lease_ms"));
    let (l, partner) = limiter(args, lease);
    let mut held = Vec::new();
    for _ in 0..count {
        let p = l
            .acquire(&partner, Duration::from_secs(30))
            .await
            .expect("redis")
            .expect("a permit within 30 s");
        held.push(p);
    }
    let tokens: Vec<String> = held.iter().map(|p| p.fencing_token().to_string()).collect();
    println!("HELD {}", tokens.join(" "));
    // Renewal keeps the leases while we live; the test kills us.
    std::future::pending::<()>().await;
}

async fn load(args: &[String]) {
    let tasks: usize = arg(args, 6, "tasks");
    let requests: u64 = arg(args, 7, "requests");
    let gauge: String = arg(args, 8, "gauge_key");
    let url: String = arg(args, 2, "url");
    let (l, partner) = limiter(args, Duration::from_secs(10));
    let l = Arc::new(l);
    let client = redis::Client::open(url).expect("url");
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let next = Arc::new(AtomicU64::new(0));
    let max = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (l, partner, mut conn, gauge) =
            (l.clone(), partner.clone(), conn.clone(), gauge.clone());
        let (next, max, done) = (next.clone(), max.clone(), done.clone());
        handles.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let permit = loop {
                    if let Some(p) = l
                        .acquire(&partner, Duration::from_secs(5))
                        .await
                        .expect("redis")
                    {
                        break p;
                    }
                };
                let inside: u64 = redis::cmd("INCR")
                    .arg(&gauge)
                    .query_async(&mut conn)
                    .await
                    .expect("incr");
                max.fetch_max(inside, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
                let _: i64 = redis::cmd("DECR")
                    .arg(&gauge)
                    .query_async(&mut conn)
                    .await
                    .expect("decr");
                drop(permit);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    println!(
        "MAX {} DONE {}",
        max.load(Ordering::Relaxed),
        done.load(Ordering::Relaxed)
    );
}

async fn consume(args: &[String]) {
    let url: String = arg(args, 2, "url");
    let prefix: String = arg(args, 3, "prefix");
    let consumer: String = arg(args, 4, "consumer");
    let q = RedisQueue::new(
        &url,
        RedisQueueConfig {
            prefix,
            partners: vec![PartnerId::from("bank")],
            ..RedisQueueConfig::default()
        },
    )
    .expect("queue");
    let d = q
        .next(&consumer, Duration::from_secs(30))
        .await
        .expect("redis")
        .expect("a task within 30 s");
    println!("GOT {} {}", d.id, d.task.page);
    // "Calling the partner" for ever; the test kills us mid-retry.
    std::future::pending::<()>().await;
}

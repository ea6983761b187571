//! Several `txclass-server` processes sharing one Redis never send a partner more concurrent
//! calls than its capacity, and every request completes (directly or after retry) — the
//! zero-over-admission proof of the distributed semaphore, end to end through real
//! processes, real HTTP and real SSE streams.
//!
//! Needs the Redis of `scripts/redis.sh` (`TXCLASS_REDIS_URL`, default
//! `redis://127.0.0.1:6399`); fails, never skips, when it is not there.

use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures::StreamExt;
use txclass_core::simulator::{Simulator, SimulatorConfig};

mod support;
use support::{free_port, ServerProcess};

const INSTANCES: usize = 3;
const REQUESTS: usize = 500;
const CAPACITY: u32 = 4;

fn redis_url() -> String {
    std::env::var("TXCLASS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6399".into())
}

/// Runs one classification to its end; returns the last event's name.
async fn classify(client: &reqwest::Client, base: &str, customer: &str) -> String {
    let resp = client
        .post(format!("{base}/v1/classifications"))
        .json(&serde_json::json!({
            "customer_id": customer,
            "partner_id": "bank",
            "from": "2026-01-01",
            "to": "2026-01-20",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut events = resp.bytes_stream().eventsource();
    let mut last = String::new();
    while let Some(ev) = events.next().await {
        let ev = ev.unwrap();
        last = ev.event.clone();
        if last == "done" || last == "failed" {
            if last == "failed" {
                panic!("{customer}: {}", ev.data);
            }
            break;
        }
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_redis_never_exceed_the_partner() {
    // Probe Redis first, so a missing service is a clear failure.
    let redis = redis_url();
    let addr = redis
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        std::net::TcpStream::connect(&addr).is_ok(),
        "no Redis at {redis}: start it with scripts/redis.sh start"
    );
    let sim = Simulator::bind(
        0,
        SimulatorConfig {
            capacity: Some(CAPACITY),
            latency_min: Duration::from_millis(5),
            latency_max: Duration::from_millis(25),
            tx_per_day: 1.0,
            ..SimulatorConfig::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!(
        "instances-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let mut instances = Vec::new();
    for i in 0..INSTANCES {
        let port = free_port();
        let config = dir.path().join(format!("server-{i}.toml"));
        std::fs::write(
            &config,
            format!(
                r#"
listen = "127.0.0.1:{port}"
store_path = "{store}"
retry_workers = 2
[sandbox]
enabled = false
[redis]
url = "{redis}"
prefix = "{prefix}"
lease_ms = 5000
[jobs]
acquire_wait_ms = 50
deadline_ms = 240000
[[partners]]
id = "bank"
base_url = "{sim}"
capacity = {CAPACITY}
timeout_ms = 5000
[partners.retry]
retry_on = ["timeout", "server_error", "rate_limited", "unreachable"]
max_attempts = 100
base_backoff_ms = 20
max_backoff_ms = 500
"#,
                store = dir.path().join(format!("store-{i}.db")).display(),
                sim = sim.url(),
            ),
        )
        .unwrap();
        instances.push(ServerProcess::start(&config, port, "/healthz").await);
    }

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let jobs = (0..REQUESTS).map(|i| {
        let client = client.clone();
        let base = instances[i % INSTANCES].url.clone();
        tokio::spawn(async move { classify(&client, &base, &format!("inst-{i}")).await })
    });
    let results = tokio::time::timeout(Duration::from_secs(300), futures::future::join_all(jobs))
        .await
        .expect("500 requests finish within 5 minutes");
    let done = results
        .into_iter()
        .map(|r| r.unwrap())
        .filter(|last| last == "done")
        .count();
    let stats = sim.stats();
    eprintln!(
        "{REQUESTS} requests over {INSTANCES} processes in {:?}: simulator saw {} calls, \
         at most {} at once (capacity {CAPACITY}), statuses {:?}",
        started.elapsed(),
        stats.requests,
        stats.max_concurrent,
        stats.by_status
    );
    assert_eq!(done, REQUESTS, "every request completes");
    assert!(
        stats.max_concurrent <= CAPACITY,
        "over-admission: {} concurrent calls",
        stats.max_concurrent
    );
    assert_eq!(
        stats.max_concurrent, CAPACITY,
        "the cap was reached, so it was tested"
    );
    assert_eq!(stats.by_status.get(&429), None, "no call was over capacity");
    assert!(stats.requests >= REQUESTS as u64);
}

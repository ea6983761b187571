//! Three orchestrator "instances" in one test process, each with its own Redis limiter,
//! retry queue, result bus and shared breaker (own connections), sharing one Redis and one
//! store, against the partner simulator. Every proof runs twice: on one Redis server, and
//! on a three-master Redis Cluster (`scripts/redis-cluster.sh`; `TXCLASS_REDIS_CLUSTER_URL`). (The same proof across three server processes is
//! `txclass-server/tests/instances.rs`.)
//!
//! * Proof 1: 500 concurrent requests, simulator capacity C: the simulator never sees more
//!   than C calls at once (no 429), every request completes, each transaction stored once.
//! * Proof 3: the partner goes down; circuits open on every instance, calls queue, nothing
//!   is lost; after recovery every job completes and the store holds each transaction once.

#[path = "support/store_ids.rs"]
mod store_ids;
#[path = "support/redis.rs"]
mod support;

use store_ids::stored_ids;

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use txclass_suite::breaker::{CircuitState, RedisSharedBreaker};
use txclass_suite::clock::SystemClock;
use txclass_suite::limiter::RedisLimiter;
use txclass_suite::queue::{RedisBus, RedisBusConfig, RedisQueue, RedisQueueConfig};
use txclass_suite::simulator::{Simulator, SimulatorConfig, SimulatorHandle};
use txclass_suite::store::SqliteStore;
use txclass_suite::{
    ClassificationRequest, Orchestrator, PartnerConfig, PartnerId, Progress, RetryQueue, Settings,
    Store,
};

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn request(customer: &str, to: &str) -> ClassificationRequest {
    ClassificationRequest {
        customer_id: customer.into(),
        partner_id: "bank".into(),
        from: date("2026-01-01"),
        to: date(to),
    }
}

struct Cluster {
    instances: Vec<Orchestrator>,
    queue: Arc<RedisQueue>,
    store: Arc<dyn Store>,
    _workers: Vec<tokio::task::JoinHandle<()>>,
}

async fn cluster(
    url: &str,
    sim: &SimulatorHandle,
    prefix: &str,
    capacity: u32,
    tune: impl Fn(&mut PartnerConfig),
) -> Cluster {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut partner = PartnerConfig::new("bank", sim.url(), NonZeroU32::new(capacity).unwrap());
    partner.timeout = Duration::from_millis(1000);
    partner.page_size = NonZeroU32::new(40).unwrap();
    partner.retry.base_backoff = Duration::from_millis(20);
    partner.retry.max_backoff = Duration::from_millis(200);
    tune(&mut partner);
    let pid = PartnerId::from("bank");
    let mut instances = Vec::new();
    let mut workers = Vec::new();
    let mut first_queue = None;
    for i in 0..3 {
        let limiter = RedisLimiter::builder(url)
            .prefix(prefix)
            .lease(Duration::from_secs(5))
            .partner(pid.clone(), partner.capacity)
            .build()
            .unwrap();
        let queue = Arc::new(
            RedisQueue::new(
                url,
                RedisQueueConfig {
                    prefix: prefix.into(),
                    claim_after: Duration::from_secs(10),
                    partners: vec![pid.clone()],
                    ..RedisQueueConfig::default()
                },
            )
            .unwrap(),
        );
        first_queue.get_or_insert_with(|| queue.clone());
        let bus = RedisBus::new(
            url,
            RedisBusConfig {
                prefix: prefix.into(),
                ..RedisBusConfig::default()
            },
        )
        .unwrap();
        let breaker = RedisSharedBreaker::start(
            url,
            prefix,
            &pid,
            partner.circuit.clone(),
            Arc::new(SystemClock::new()),
        )
        .unwrap();
        let orch = Orchestrator::builder()
            .partner(partner.clone())
            .limiter(Arc::new(limiter))
            .retry_queue(queue, Arc::new(bus))
            .breaker(pid.clone(), Arc::new(breaker))
            .store(store.clone())
            .settings(Settings {
                acquire_wait: Duration::from_millis(20),
                job_deadline: Duration::from_secs(120),
                worker_poll: Duration::from_millis(200),
                ..Settings::default()
            })
            .build()
            .unwrap();
        for w in 0..2 {
            let worker = orch.retry_worker(format!("{prefix}-i{i}-w{w}"));
            workers.push(tokio::spawn(worker.run(futures::future::pending())));
        }
        instances.push(orch);
    }
    Cluster {
        instances,
        queue: first_queue.unwrap(),
        store,
        _workers: workers,
    }
}

fn expected_ids(sim: &SimulatorHandle, customer: &str, to: &str) -> Vec<String> {
    let mut ids: Vec<String> = sim
        .transactions(customer, date("2026-01-01"), date(to))
        .into_iter()
        .map(|t| t.id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_requests_on_three_instances_never_exceed_the_partner() {
    support::connect().await;
    five_hundred_requests(&support::url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_requests_on_a_redis_cluster_never_exceed_the_partner() {
    let mut nodes = support::connect_cluster().await;
    let before = keys_per_node(&mut nodes).await;
    five_hundred_requests(&support::cluster_url()).await;
    // Keys are tagged per partner and per job, so the work spreads over the masters.
    let after = keys_per_node(&mut nodes).await;
    let grew = before.iter().zip(&after).filter(|(b, a)| a > b).count();
    assert!(
        grew >= 2,
        "keys landed on one master only: {before:?} -> {after:?}"
    );
}

async fn keys_per_node(nodes: &mut [redis::aio::MultiplexedConnection]) -> Vec<u64> {
    let mut out = Vec::new();
    for conn in nodes {
        out.push(redis::cmd("DBSIZE").query_async(conn).await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outage_opens_every_circuit_queues_calls_and_loses_nothing() {
    support::connect().await;
    outage(&support::url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_a_redis_cluster_an_outage_opens_every_circuit_and_loses_nothing() {
    support::connect_cluster().await;
    outage(&support::cluster_url()).await;
}

async fn five_hundred_requests(url: &str) {
    let capacity = 4;
    let sim = Simulator::bind(
        0,
        SimulatorConfig {
            capacity: Some(capacity),
            latency_min: Duration::from_millis(2),
            latency_max: Duration::from_millis(10),
            ..SimulatorConfig::default()
        },
    )
    .await
    .unwrap();
    let prefix = support::unique("instances-load");
    let c = cluster(url, &sim, &prefix, capacity, |_| {}).await;
    let to = "2026-01-08";
    let jobs = (0..500).map(|i| {
        let orch = c.instances[i % 3].clone();
        tokio::spawn(async move {
            orch.run_to_end(request(&format!("load-{i}"), to))
                .await
                .unwrap()
        })
    });
    let results = tokio::time::timeout(Duration::from_secs(240), futures::future::join_all(jobs))
        .await
        .expect("every request completes in time");
    let stats = sim.stats();
    for (i, r) in results.into_iter().enumerate() {
        let events = r.unwrap();
        assert!(
            matches!(events.last(), Some(Progress::Done { .. })),
            "request {i} did not finish: {:?}",
            events.last()
        );
    }
    eprintln!(
        "500 requests on 3 instances: partner max concurrency {} of {capacity}, {} calls, statuses {:?}",
        stats.max_concurrent, stats.requests, stats.by_status
    );
    assert!(
        stats.max_concurrent <= capacity,
        "over-admission: {stats:?}"
    );
    assert_eq!(
        stats.by_status.get(&429),
        None,
        "the partner refused calls: {stats:?}"
    );
    for i in (0..500).step_by(50) {
        let customer = format!("load-{i}");
        assert_eq!(
            stored_ids(c.store.as_ref(), &customer).await,
            expected_ids(&sim, &customer, to)
        );
    }
    assert_eq!(c.queue.pending().await.unwrap(), 0);
}

async fn outage(url: &str) {
    let sim = Simulator::bind(0, SimulatorConfig::instant())
        .await
        .unwrap();
    let prefix = support::unique("instances-outage");
    let c = cluster(url, &sim, &prefix, 3, |p| {
        p.retry.max_attempts = NonZeroU32::new(1000).unwrap();
        p.circuit.minimum_calls = NonZeroU32::new(3).unwrap();
        p.circuit.open_for = Duration::from_millis(300);
    })
    .await;
    sim.set_outage(true);
    let to = "2026-02-28";
    let customers: Vec<String> = (0..9).map(|i| format!("out-{i}")).collect();
    let jobs: Vec<_> = customers
        .iter()
        .enumerate()
        .map(|(i, customer)| {
            let orch = c.instances[i % 3].clone();
            let customer = customer.clone();
            tokio::spawn(async move { orch.run_to_end(request(&customer, to)).await.unwrap() })
        })
        .collect();
    // Every instance's circuit opens (shared through Redis) and the calls wait in the queue.
    let pid = PartnerId::from("bank");
    let mut all_opened = false;
    let mut queued = 0;
    for _ in 0..300 {
        let open = c
            .instances
            .iter()
            .filter(|o| o.breaker(&pid).unwrap().state() == CircuitState::Open)
            .count();
        queued = queued.max(c.queue.pending().await.unwrap());
        if open == 3 {
            all_opened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        all_opened,
        "not every instance's circuit opened during the outage"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    queued = queued.max(c.queue.pending().await.unwrap());
    assert!(queued > 0, "calls were not queued during the outage");
    sim.set_outage(false);
    let results = tokio::time::timeout(Duration::from_secs(90), futures::future::join_all(jobs))
        .await
        .expect("every job completes after recovery");
    let mut pages = BTreeSet::new();
    for (i, r) in results.into_iter().enumerate() {
        let events = r.unwrap();
        assert!(
            matches!(events.last(), Some(Progress::Done { .. })),
            "job {i} did not finish: {:?}",
            events.last()
        );
        for e in &events {
            if let Progress::PageFetched { page, .. } = e {
                assert!(pages.insert((i, *page)), "job {i} got page {page} twice");
            }
        }
    }
    for customer in &customers {
        let stored = stored_ids(c.store.as_ref(), customer).await;
        let expected = expected_ids(&sim, customer, to);
        assert!(expected.len() > 40, "several pages per job");
        assert_eq!(stored, expected, "{customer}: each transaction stored once");
    }
    assert_eq!(c.queue.pending().await.unwrap(), 0);
    assert!(c.queue.dead_letters().await.unwrap().is_empty());
}

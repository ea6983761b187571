//! Partner adapter against the simulator (issue 3, "benchmark partners before trusting
//! them"): latency of one page call through `HttpPartner`, and throughput of pages at a fixed
//! concurrency under a `LocalLimiter`. The simulator answers at once, so this measures our
//! side (HTTP client, JSON decoding, permits), the floor under any real partner's figures.
//! For a real partner's six figures use `txclass bench-partner --url …`.
//!
//! `cargo bench --bench partner`

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use txclass_suite::limiter::{Limiter, LocalLimiter};
use txclass_suite::partner::{HttpPartner, PageRequest, PartnerAdapter};
use txclass_suite::simulator::{Simulator, SimulatorConfig};
use txclass_suite::PartnerConfig;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(Simulator::bind(0, SimulatorConfig::instant()))
        .unwrap();
    let capacity = NonZeroU32::new(8).unwrap();
    let mut config = PartnerConfig::new("bench", sim.url(), capacity);
    config.page_size = NonZeroU32::new(100).unwrap();
    let adapter = Arc::new(HttpPartner::new(&config).unwrap());
    let limiter = Arc::new(LocalLimiter::new().with_partner(config.id.clone(), capacity));
    let request = PageRequest {
        customer_id: "bench-1".into(),
        from: "2026-01-01".parse().unwrap(),
        to: "2026-03-31".parse().unwrap(),
        cursor: None,
    };

    let mut group = c.benchmark_group("partner");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one page (100 transactions), one call at a time", |b| {
        b.to_async(&rt).iter(|| async {
            let permit = limiter
                .acquire(&config.id, Duration::from_secs(1))
                .await
                .unwrap()
                .unwrap();
            let page = adapter.fetch_page(&request, &permit).await.unwrap();
            assert_eq!(page.transactions.len(), 100);
        })
    });
    const PAGES: u64 = 64;
    group.throughput(Throughput::Elements(PAGES));
    group.bench_function("64 pages, 8 concurrent calls under the limiter", |b| {
        b.to_async(&rt).iter(|| async {
            let calls = (0..PAGES).map(|_| {
                let (adapter, limiter, request, id) = (
                    adapter.clone(),
                    limiter.clone(),
                    request.clone(),
                    config.id.clone(),
                );
                tokio::spawn(async move {
                    let permit = limiter
                        .acquire(&id, Duration::from_secs(5))
                        .await
                        .unwrap()
                        .unwrap();
                    adapter.fetch_page(&request, &permit).await.unwrap()
                })
            });
            for call in futures::future::join_all(calls).await {
                assert_eq!(call.unwrap().transactions.len(), 100);
            }
        })
    });
    group.finish();
    let stats = sim.stats();
    assert!(
        stats.max_concurrent <= 8,
        "limiter held: {}",
        stats.max_concurrent
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);

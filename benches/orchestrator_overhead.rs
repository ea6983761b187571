//! What the orchestrator adds to a partner's own time: one job of ~10,000 transactions in
//! ~100 pages from a partner that takes 50 ms a page, one call at a time, on embedded
//! defaults with a SQLite file store (every page stored with its checkpoint, every event
//! written to the job's log before it is sent), side by side with the reference: the same
//! pages fetched by a bare loop over the HTTP adapter (the partner's own time, HTTP and JSON
//! included). Prints both wall times and the overhead in percent, for 5 runs.
//!
//! `cargo bench --bench orchestrator_overhead`

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use txclass_suite::limiter::{Limiter, LocalLimiter};
use txclass_suite::partner::{HttpPartner, PageRequest, PartnerAdapter};
use txclass_suite::simulator::{Simulator, SimulatorConfig};
use txclass_suite::store::SqliteStore;
use txclass_suite::{ClassificationRequest, Orchestrator, PartnerConfig, Progress};

const PAGE_MS: u64 = 50;
const PAGE_SIZE: u32 = 100;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test --all-targets` runs benches without `--bench`: nothing to check.
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let sim = Simulator::bind(
            0,
            SimulatorConfig {
                latency_min: Duration::from_millis(PAGE_MS),
                latency_max: Duration::from_millis(PAGE_MS),
                // 10,000 transactions over the window below.
                tx_per_day: 10_000.0 / 100.0,
                max_page_size: PAGE_SIZE,
                ..SimulatorConfig::instant()
            },
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut partner = PartnerConfig::new("bank", sim.url(), NonZeroU32::new(1).unwrap());
        partner.page_size = NonZeroU32::new(PAGE_SIZE).unwrap();
        let adapter = HttpPartner::new(&partner).unwrap();
        let limiter = LocalLimiter::new().with_partner(partner.id.clone(), partner.capacity);
        let orch = Orchestrator::builder()
            .partner(partner.clone())
            .store(Arc::new(
                SqliteStore::open(dir.path().join("bench.db")).unwrap(),
            ))
            .build()
            .unwrap();
        println!("run | transactions | pages | bare adapter loop | job | overhead");
        for run in 1..=5 {
            let request = ClassificationRequest {
                customer_id: txclass_suite::CustomerId::new(format!("overhead-{run}")),
                partner_id: "bank".into(),
                from: "2026-01-01".parse().unwrap(),
                to: "2026-04-10".parse().unwrap(),
            };
            // The reference: the same pages, one call after the other, nothing else.
            let started = Instant::now();
            let mut cursor = None;
            loop {
                let permit = limiter
                    .acquire(&partner.id, Duration::from_secs(1))
                    .await
                    .unwrap()
                    .unwrap();
                let page = adapter
                    .fetch_page(
                        &PageRequest {
                            customer_id: request.customer_id.clone(),
                            from: request.from,
                            to: request.to,
                            cursor: cursor.take(),
                        },
                        &permit,
                    )
                    .await
                    .unwrap();
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            let bare = started.elapsed();
            let started = Instant::now();
            let events: Vec<Progress> = orch.submit(request).unwrap().collect().await;
            let wall = started.elapsed();
            let Some(Progress::Done { summary, .. }) = events.last() else {
                panic!("job did not end done: {:?}", events.last());
            };
            let overhead = (wall.as_secs_f64() / bare.as_secs_f64() - 1.0) * 100.0;
            println!(
                "{run} | {} | {} | {:.3} s | {:.3} s | {overhead:+.1} %",
                summary.transactions,
                summary.pages,
                bare.as_secs_f64(),
                wall.as_secs_f64(),
            );
        }
    });
}

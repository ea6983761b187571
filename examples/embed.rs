//! Embedding txclass: classify a customer's transactions from a partner API, watch the
//! progress, then query what was stored. Runs offline against an in-process simulator:
//!
//! ```text
//! cargo run -p txclass-examples --example embed
//! ```

use std::num::NonZeroU32;
use std::sync::Arc;

use futures::StreamExt;
use txclass_core::simulator::{Simulator, SimulatorConfig};
use txclass_core::store::{SpendingQuery, SqliteStore, Store, TxQuery};
use txclass_core::{ClassificationRequest, Orchestrator, PartnerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A fake bank API on a free local port (a real partner would be a URL in your config).
    let bank = Simulator::bind(0, SimulatorConfig::default()).await?;

    // The orchestrator: one partner that takes at most 4 concurrent calls, and a store.
    // Everything else (limiter, circuit breaker, retry queue, classifier) is the embedded default.
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("txclass.db"))?);
    let orchestrator = Orchestrator::builder()
        .partner(PartnerConfig::new(
            "bank",
            bank.url(),
            NonZeroU32::new(4).unwrap(),
        ))
        .store(store.clone())
        .build()?;
    // Calls that cannot be made now (partner busy, circuit open) wait on the retry queue;
    // a worker makes them later.
    tokio::spawn(
        orchestrator
            .retry_worker("worker-1")
            .run(std::future::pending()),
    );

    // Submit a request and print every progress event until the job ends.
    let mut job = orchestrator.submit(ClassificationRequest {
        customer_id: "c-42".into(),
        partner_id: "bank".into(),
        from: "2026-01-01".parse()?,
        to: "2026-03-31".parse()?,
    })?;
    while let Some(event) = job.next().await {
        println!("{:<20} {}", event.name(), event.data_json());
    }

    // Query the store: the newest five transactions, then spending per month and category.
    let page = store
        .transactions(&TxQuery {
            customer_id: "c-42".into(),
            limit: 5,
            ..TxQuery::default()
        })
        .await?;
    for t in &page.items {
        let tx = &t.transaction;
        println!(
            "{} {:>10} {:<14} {}",
            tx.date,
            txclass_core::currency::format_minor(tx.amount_minor, &tx.currency),
            t.prediction.category.as_str(),
            tx.description
        );
    }
    let spending = store
        .spending(&SpendingQuery {
            customer_id: "c-42".into(),
            from: None,
            to: None,
            level: Default::default(),
        })
        .await?;
    for row in spending.iter().filter(|r| r.month == "2026-01") {
        // Spending rows are per currency: amounts of different currencies are never added.
        let total = format!(
            "{} {}",
            txclass_core::currency::format_minor(row.amount_minor, &row.currency),
            row.currency
        );
        println!(
            "{} {:<14} {:>3} {:>10}",
            row.month,
            row.category.as_str(),
            row.count,
            total
        );
    }
    Ok(())
}

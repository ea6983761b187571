//! Store figures (issue 4): bulk ingest rate into the embedded store and into an
//! Elasticsearch-compatible node, and p50/p99 of one customer's transactions query with 1M
//! stored transactions in the embedded store.
//!
//! ```text
//! cargo bench --bench store                                  # SQLite figures
//! scripts/search-engine.sh start
//! cargo bench --bench store --features elasticsearch         # + OpenSearch ingest
//! scripts/search-engine.sh stop
//! ```
//!
//! A plain `harness = false` main, not criterion: the figures are a rate over one long run
//! and percentiles over many queries, which criterion's mean-per-iteration does not print.
//!
//! The 1M-transaction database is built once into `target/bench-data/store-1m.db` and reused
//! (delete it to rebuild). Environment: `TXCLASS_BENCH_INGEST` (documents per ingest run,
//! default 200000), `TXCLASS_BENCH_ES_INGEST` (default 100000), `TXCLASS_BENCH_QUERIES`
//! (default 5000), `TXCLASS_ES_URL` (default `http://127.0.0.1:9200`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use txclass_suite::domain::{
    Category, ClassifiedTransaction, Confidence, CustomerId, PartnerId, Prediction, Transaction,
};
use txclass_suite::store::{SqliteStore, Store, TxQuery};

/// Transactions in the query database.
const QUERY_DB_ROWS: usize = 1_000_000;
/// Customers in it: 500 transactions each (about two years of a card holder).
const QUERY_DB_CUSTOMERS: usize = 2_000;
/// Transactions per `upsert` call: a few partner pages.
const UPSERT_CALL: usize = 5_000;

const DESCRIPTIONS: [(&str, &str); 8] = [
    ("COMPRA CARTAO PAG*PADARIA SAO PAULO", "groceries"),
    ("SUPERMERCADO EXTRA 0412", "groceries"),
    ("UBER *TRIP 4821", "transport"),
    ("POSTO SHELL BR 116", "fuel"),
    ("NETFLIX.COM", "subscriptions"),
    ("PIX ENVIADO JOAO SILVA", "transfers"),
    ("RESTAURANTE SABOR DA TERRA", "restaurants"),
    ("SALARIO ACME LTDA", "income"),
];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Transaction number `i` of `customers` customers: ids unique, dates over two years.
fn transaction(i: usize, customers: usize, rng: &mut impl Rng) -> ClassifiedTransaction {
    let (description, category) = DESCRIPTIONS[rng.gen_range(0..DESCRIPTIONS.len())];
    let day = rng.gen_range(0..730u64);
    ClassifiedTransaction {
        partner_id: PartnerId::new(if i.is_multiple_of(4) {
            "bank-b"
        } else {
            "bank-a"
        }),
        customer_id: CustomerId(format!("cust-{:05}", i % customers)),
        transaction: Transaction {
            id: format!("tx-{i:09}"),
            date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(day),
            description: description.into(),
            amount_minor: if category == "income" {
                rng.gen_range(100_000..900_000)
            } else {
                -rng.gen_range(100..50_000)
            },
            currency: "BRL".into(),
        },
        prediction: Prediction::from_model(
            Category::new(category),
            rng.gen_range(0.3..1.0),
            Confidence::High,
            false,
        ),
    }
}

fn batch(start: usize, n: usize, customers: usize, seed: u64) -> Vec<ClassifiedTransaction> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ start as u64);
    (start..start + n)
        .map(|i| transaction(i, customers, &mut rng))
        .collect()
}

/// Upserts `n` generated transactions in calls of [`UPSERT_CALL`]; the time spent in the
/// store only (generation excluded).
async fn ingest(store: &dyn Store, n: usize, customers: usize, seed: u64) -> Duration {
    let mut spent = Duration::ZERO;
    let mut start = 0;
    while start < n {
        let txs = batch(start, UPSERT_CALL.min(n - start), customers, seed);
        let t0 = Instant::now();
        let r = store.upsert(&txs).await.expect("upsert");
        spent += t0.elapsed();
        assert_eq!(r.inserted, txs.len(), "fresh ids are inserted");
        start += txs.len();
    }
    spent
}

fn bench_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

async fn sqlite_ingest() {
    let n = env_usize("TXCLASS_BENCH_INGEST", 200_000);
    let path = bench_dir().join("ingest.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = SqliteStore::open(&path).unwrap();
    let spent = ingest(&store, n, 1_000, 1).await;
    println!(
        "sqlite ingest: {n} docs in {:.2} s = {:.0} docs/s (fresh file, upsert calls of {UPSERT_CALL})",
        spent.as_secs_f64(),
        n as f64 / spent.as_secs_f64()
    );
    // The same documents again: every one an update.
    let mut spent = Duration::ZERO;
    let mut start = 0;
    while start < n {
        let txs = batch(start, UPSERT_CALL.min(n - start), 1_000, 1);
        let t0 = Instant::now();
        let r = store.upsert(&txs).await.unwrap();
        spent += t0.elapsed();
        assert_eq!(r.updated, txs.len());
        start += txs.len();
    }
    println!(
        "sqlite re-ingest of the same documents (a retried page: all updates, none changed): {:.0} docs/s",
        n as f64 / spent.as_secs_f64()
    );
}

async fn sqlite_queries() {
    let path = bench_dir().join("store-1m.db");
    let store = SqliteStore::open(&path).unwrap();
    let stored = store.count(&CustomerId::new("cust-00000")).await.unwrap();
    let per_customer = (QUERY_DB_ROWS / QUERY_DB_CUSTOMERS) as u64;
    if stored != per_customer {
        println!(
            "building {QUERY_DB_ROWS} transactions into {} (once)",
            path.display()
        );
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let store = SqliteStore::open(&path).unwrap();
        let spent = ingest(&store, QUERY_DB_ROWS, QUERY_DB_CUSTOMERS, 2).await;
        println!(
            "  built in {:.1} s ({:.0} docs/s)",
            spent.as_secs_f64(),
            QUERY_DB_ROWS as f64 / spent.as_secs_f64()
        );
    }
    let store = SqliteStore::open(&path).unwrap();
    let queries = env_usize("TXCLASS_BENCH_QUERIES", 5_000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    type Shape = fn(TxQuery, &mut rand::rngs::StdRng) -> TxQuery;
    let kinds: [(&str, Shape); 4] = [
        ("first page of 50", |q, _| q),
        ("3-month range", |q, rng| TxQuery {
            from: Some(NaiveDate::from_ymd_opt(2024, 1 + rng.gen_range(0..9), 1).unwrap()),
            ..q
        }),
        ("category", |q, _| TxQuery {
            category: Some(Category::new("groceries")),
            ..q
        }),
        ("text \"padaria\"", |q, _| TxQuery {
            text: Some("padaria".into()),
            ..q
        }),
    ];
    for (name, make) in kinds {
        let mut times = Vec::with_capacity(queries);
        for _ in 0..queries {
            let base = TxQuery {
                customer_id: CustomerId(format!(
                    "cust-{:05}",
                    rng.gen_range(0..QUERY_DB_CUSTOMERS)
                )),
                limit: 50,
                ..TxQuery::default()
            };
            let mut q = make(base, &mut rng);
            if name == "3-month range" {
                q.to = q.from.map(|f| f + chrono::Months::new(3));
            }
            let t0 = Instant::now();
            let page = store.transactions(&q).await.unwrap();
            times.push(t0.elapsed());
            assert!(
                !page.items.is_empty(),
                "{name}: customers have transactions"
            );
        }
        times.sort();
        println!(
            "sqlite transactions() at {QUERY_DB_ROWS} stored, {name}: p50 {} p99 {} ({queries} queries, random customers)",
            us(percentile(&times, 0.50)),
            us(percentile(&times, 0.99)),
        );
    }
    queries_while_ingesting(&path, queries).await;
}

/// The first-page query again while another task upserts new transactions (of other
/// customers) into the same file as fast as it can: what a server sees while jobs run.
async fn queries_while_ingesting(path: &std::path::Path, queries: usize) {
    let cleanup = || {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute(
            "DELETE FROM transactions WHERE customer_id LIKE 'ingest-%'",
            [],
        )
        .unwrap();
    };
    cleanup();
    let store = SqliteStore::open(path).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let store = store.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut written = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && written < 2_000_000 {
                let mut txs = batch(written, UPSERT_CALL, 1_000, 5);
                for t in &mut txs {
                    t.customer_id.0.replace_range(..4, "ingest");
                    t.transaction.id.insert_str(0, "ingest-");
                }
                store.upsert(&txs).await.unwrap();
                written += txs.len();
            }
            written
        })
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    let mut times = Vec::with_capacity(queries);
    let t0 = Instant::now();
    for _ in 0..queries {
        let q = TxQuery {
            customer_id: CustomerId(format!("cust-{:05}", rng.gen_range(0..QUERY_DB_CUSTOMERS))),
            limit: 50,
            ..TxQuery::default()
        };
        let t = Instant::now();
        let page = store.transactions(&q).await.unwrap();
        times.push(t.elapsed());
        assert_eq!(page.items.len(), 50);
    }
    let elapsed = t0.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    times.sort();
    println!(
        "sqlite transactions() first page while ingesting ({:.0} docs/s going in): p50 {} p99 {} ({queries} queries)",
        written as f64 / elapsed.as_secs_f64(),
        us(percentile(&times, 0.50)),
        us(percentile(&times, 0.99)),
    );
    drop(store);
    cleanup();
}

#[cfg(feature = "elasticsearch")]
async fn elastic_ingest() {
    use std::num::NonZeroUsize;
    use txclass_suite::store::{ElasticConfig, ElasticStore, WriteVisibility};

    let url = std::env::var("TXCLASS_ES_URL").unwrap_or_else(|_| "http://127.0.0.1:9200".into());
    let n = env_usize("TXCLASS_BENCH_ES_INGEST", 100_000);
    let batch_size = env_usize("TXCLASS_BENCH_ES_BATCH", 1_000);
    let concurrency = env_usize("TXCLASS_BENCH_ES_CONCURRENCY", 2);
    let prefix = format!("txbench-{}", std::process::id());
    let config = ElasticConfig::new(&url)
        .with_index_prefix(prefix)
        .with_batch_size(NonZeroUsize::new(batch_size).unwrap())
        .with_bulk_concurrency(NonZeroUsize::new(concurrency).unwrap())
        .with_visibility(WriteVisibility::Eventual);
    let store = match ElasticStore::connect(config).await {
        Ok(s) => s,
        Err(e) => {
            println!("elasticsearch ingest: NOT MEASURED, no engine at {url}: {e}");
            return;
        }
    };
    let spent = ingest(&store, n, 1_000, 4).await;
    let t0 = Instant::now();
    store.refresh().await.unwrap();
    let with_refresh = spent + t0.elapsed();
    println!(
        "elasticsearch ingest ({url}): {n} docs in {:.2} s = {:.0} docs/s (bulk {batch_size} docs x {concurrency} in flight, then one refresh)",
        with_refresh.as_secs_f64(),
        n as f64 / with_refresh.as_secs_f64()
    );
    let total: u64 = {
        let mut sum = 0;
        for c in 0..1_000 {
            sum += store
                .count(&CustomerId(format!("cust-{c:05}")))
                .await
                .unwrap();
        }
        sum
    };
    assert_eq!(
        total, n as u64,
        "every document searchable after the refresh"
    );
    store.delete_indexes().await.unwrap();
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it,
    // and must not build a million-row database.
    if !std::env::args().any(|a| a == "--bench") {
        println!("store bench: figures only under `cargo bench --bench store`");
        return;
    }
    sqlite_ingest().await;
    #[cfg(feature = "elasticsearch")]
    elastic_ingest().await;
    sqlite_queries().await;
}

//! The shared store suite on [`ElasticStore`] against a real engine, plus what only the
//! search engine has (bulk item errors, retries, index versions behind an alias).
//!
//! Needs an Elasticsearch-compatible node at `TXCLASS_ES_URL` (default
//! `http://127.0.0.1:9200`); fails, never skips, when there is none:
//!
//! ```text
//! scripts/search-engine.sh start
//! cargo test --features elasticsearch --test store_elastic
//! scripts/search-engine.sh stop
//! ```
//!
//! Every test works under its own index prefix, so they run in parallel and leave nothing
//! behind when they pass.

mod support;

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::{json, Value};
use support::store_suite as suite;
use txclass_suite::store::elastic::elasticsearch::indices::{
    IndicesCreateParts, IndicesGetAliasParts, IndicesGetMappingParts, IndicesPutSettingsParts,
};
use txclass_suite::store::elastic::elasticsearch::params::Refresh;
use txclass_suite::store::elastic::elasticsearch::{IndexParts, SearchParts};
use txclass_suite::store::{
    ElasticConfig, ElasticStore, Store, StoreError, TxQuery, UpsertReport, WriteVisibility,
};

fn url() -> String {
    std::env::var("TXCLASS_ES_URL").unwrap_or_else(|_| "http://127.0.0.1:9200".into())
}

/// A prefix no other test (or earlier run) uses.
fn unique_prefix(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "txtest-{name}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn config(name: &str) -> ElasticConfig {
    ElasticConfig::new(url())
        .with_index_prefix(unique_prefix(name))
        // Small batches and several in flight, so the suite's upserts use both.
        .with_batch_size(NonZeroUsize::new(97).unwrap())
        .with_bulk_concurrency(NonZeroUsize::new(3).unwrap())
        .with_visibility(WriteVisibility::Immediate)
}

async fn connect(config: ElasticConfig) -> ElasticStore {
    match ElasticStore::connect(config).await {
        Ok(s) => s,
        Err(e) => panic!(
            "no Elasticsearch-compatible engine at {} ({e}); start one with \
             `scripts/search-engine.sh start` or set TXCLASS_ES_URL",
            url()
        ),
    }
}

async fn store(name: &str) -> ElasticStore {
    connect(config(name)).await
}

/// Runs one suite function on a fresh store and removes its indexes after.
macro_rules! suite_test {
    ($name:ident $(, $arg:expr)*) => {
        #[tokio::test]
        async fn $name() {
            let s = store(stringify!($name)).await;
            suite::$name(&s $(, $arg)*).await;
            s.delete_indexes().await.unwrap();
        }
    };
}

suite_test!(upsert_is_idempotent);
suite_test!(large_upsert, 2_500);
suite_test!(filters);
suite_test!(pagination);
suite_test!(spending);
suite_test!(top_merchants);
suite_test!(rules);
suite_test!(corrections);
suite_test!(job_records);

#[tokio::test]
async fn tenants_are_apart() {
    let s = std::sync::Arc::new(store("tenants_are_apart").await);
    suite::tenants_are_apart(s.clone()).await;
    s.delete_indexes().await.unwrap();
}

/// Turns off periodic refreshes of the index behind `alias`: what is read from it afterwards
/// must come from realtime gets, not from a search.
async fn no_refresh(s: &ElasticStore, alias: &str) {
    let resp = s
        .client()
        .indices()
        .put_settings(IndicesPutSettingsParts::Index(&[alias]))
        .body(json!({ "index.refresh_interval": "-1" }))
        .send()
        .await
        .unwrap();
    assert!(resp.status_code().is_success(), "{:?}", resp.text().await);
}

/// Checkpoints are read in realtime: the pages index is never refreshed during the test.
#[tokio::test]
async fn job_checkpoints() {
    let s = store("job_checkpoints").await;
    no_refresh(&s, s.pages_alias()).await;
    suite::job_checkpoints(&s).await;
    s.delete_indexes().await.unwrap();
}

/// Events are read in realtime: the events index is never refreshed during the test.
#[tokio::test]
async fn event_log() {
    let s = store("event_log").await;
    no_refresh(&s, s.events_alias()).await;
    suite::event_log(&s).await;
    s.delete_indexes().await.unwrap();
}

/// Job records are found by a search, which sees them after a refresh.
#[tokio::test]
async fn running_jobs() {
    let s = store("running_jobs").await;
    let refresh = || async { s.refresh().await.expect("refresh") };
    suite::running_jobs(&s, refresh).await;
    s.delete_indexes().await.unwrap();
}

async fn put_settings(s: &ElasticStore, settings: Value) {
    let resp = s
        .client()
        .indices()
        .put_settings(IndicesPutSettingsParts::Index(&[s.transactions_alias()]))
        .body(settings)
        .send()
        .await
        .unwrap();
    assert!(resp.status_code().is_success(), "{:?}", resp.text().await);
}

/// The default visibility (`refresh=wait_for`) reads its writes too.
#[tokio::test]
async fn default_visibility_reads_its_writes() {
    let s = connect(ElasticConfig::new(url()).with_index_prefix(unique_prefix("waitfor"))).await;
    let txs = suite::dataset("c-wait", 30);
    assert_eq!(s.upsert(&txs).await.unwrap().inserted, 30);
    let page = s
        .transactions(&TxQuery {
            customer_id: "c-wait".into(),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 30);
    s.delete_indexes().await.unwrap();
}

/// Documents the engine refuses for good come back as `Rejected` with counts; nothing is
/// silently dropped, and the same documents go in once the cause is gone.
#[tokio::test]
async fn refused_bulk_items_are_reported() {
    let s = store("refused").await;
    let txs = suite::dataset("c-refused", 250);
    put_settings(&s, json!({ "index.blocks.write": true })).await;
    match s.upsert(&txs).await {
        Err(StoreError::Rejected {
            failed,
            total,
            reason,
            ..
        }) => {
            assert_eq!((failed, total), (250, 250));
            assert!(
                reason.contains("403") && reason.contains("block"),
                "{reason}"
            );
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(s.stats().retried_docs, 0, "a 403 is not retried");
    put_settings(&s, json!({ "index.blocks.write": false })).await;
    let r = s.upsert(&txs).await.unwrap();
    assert_eq!(
        r,
        UpsertReport {
            inserted: 250,
            updated: 0
        }
    );
    assert_eq!(s.count(&"c-refused".into()).await.unwrap(), 250);
    s.delete_indexes().await.unwrap();
}

/// A per-item 429 (here: the index is read-only-allow-delete, the engine's "disk full" block)
/// is retried with backoff until it clears; every document lands exactly once.
#[tokio::test]
async fn retryable_bulk_items_are_retried() {
    let s = connect(
        config("retry").with_retry(NonZeroU32::new(12).unwrap(), Duration::from_millis(100)),
    )
    .await;
    let txs = suite::dataset("c-retry", 300);
    put_settings(&s, json!({ "index.blocks.read_only_allow_delete": true })).await;
    let writer = {
        let s = s.clone();
        let txs = txs.clone();
        tokio::spawn(async move { s.upsert(&txs).await })
    };
    // Let the first attempts fail, then lift the block.
    tokio::time::sleep(Duration::from_millis(400)).await;
    put_settings(&s, json!({ "index.blocks.read_only_allow_delete": null })).await;
    let r = writer.await.unwrap().expect("upsert after retries");
    assert_eq!(
        r,
        UpsertReport {
            inserted: 300,
            updated: 0
        }
    );
    assert!(s.stats().retried_docs >= 300, "{:?}", s.stats());
    assert_eq!(s.count(&"c-retry".into()).await.unwrap(), 300);
    s.delete_indexes().await.unwrap();
}

/// Retries give up after `max_attempts` with `Unavailable` and the number not stored.
#[tokio::test]
async fn retries_give_up_with_unavailable() {
    let s = connect(
        config("giveup").with_retry(NonZeroU32::new(3).unwrap(), Duration::from_millis(10)),
    )
    .await;
    put_settings(&s, json!({ "index.blocks.read_only_allow_delete": true })).await;
    let err = s
        .upsert(&suite::dataset("c-giveup", 200))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(err.to_string().contains("200 of 200"), "{err}");
    assert_eq!(s.stats().retried_docs, 400, "2 retries of 200 documents");
    put_settings(&s, json!({ "index.blocks.read_only_allow_delete": null })).await;
    s.delete_indexes().await.unwrap();
}

/// An engine that is not there is `Unavailable` (retry later), not a crash or a hang.
#[tokio::test]
async fn no_engine_is_unavailable() {
    let mut c = ElasticConfig::new("http://127.0.0.1:9").with_index_prefix("txtest-none");
    c.request_timeout = Duration::from_secs(5);
    match ElasticStore::connect(c).await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// The mapping is the one asked for: keywords for ids and categories, a text description
/// with a keyword sub-field, amounts as long minor units, dates, one replica-less index.
#[tokio::test]
async fn mapping_and_alias_are_created() {
    let s = store("mapping").await;
    let resp = s
        .client()
        .indices()
        .get_mapping(IndicesGetMappingParts::Index(&[s.transactions_alias()]))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    let (index, m) = body.as_object().unwrap().iter().next().unwrap();
    assert_eq!(
        *index,
        format!(
            "{}-v{}",
            s.transactions_alias(),
            txclass_suite::store::elastic::TX_MAPPING_VERSION
        )
    );
    let p = &m["mappings"]["properties"];
    for keyword in [
        "partner_id",
        "customer_id",
        "tx_id",
        "category",
        "merchant",
        "currency",
        "source",
        "sub_category",
        "rule_merchant",
        "taxonomy_version",
        "guess",
    ] {
        assert_eq!(p[keyword]["type"], "keyword", "{keyword}");
    }
    assert_eq!(p["description"]["type"], "text");
    assert_eq!(p["description"]["fields"]["raw"]["type"], "keyword");
    assert_eq!(p["amount_minor"]["type"], "long");
    assert_eq!(p["date"]["type"], "date");
    // The other indexes, each behind its alias at its current version.
    for (alias, version) in [
        (
            s.jobs_alias(),
            txclass_suite::store::elastic::JOB_MAPPING_VERSION,
        ),
        (
            s.pages_alias(),
            txclass_suite::store::elastic::PAGE_MAPPING_VERSION,
        ),
        (
            s.events_alias(),
            txclass_suite::store::elastic::EVENT_MAPPING_VERSION,
        ),
        (
            s.rules_alias(),
            txclass_suite::store::elastic::RULE_MAPPING_VERSION,
        ),
    ] {
        let resp = s
            .client()
            .indices()
            .get_alias(IndicesGetAliasParts::Name(&[alias]))
            .send()
            .await
            .unwrap();
        let behind: Value = resp.json().await.unwrap();
        let indexes: Vec<&String> = behind.as_object().unwrap().keys().collect();
        assert_eq!(indexes, [&format!("{alias}-v{version}")], "{alias}");
    }
    // Connecting again is a no-op.
    let again = connect(
        config("mapping")
            .with_index_prefix(s.transactions_alias().trim_end_matches("-transactions")),
    )
    .await;
    assert_eq!(again.transactions_alias(), s.transactions_alias());
    s.delete_indexes().await.unwrap();
}

/// A store whose alias points to an older index version copies the documents into the
/// current version and moves the alias on connect.
#[tokio::test]
async fn an_older_index_version_is_migrated_behind_the_alias() {
    let prefix = unique_prefix("migrate");
    // A first store, to get a client; then fake a "v0" index behind another prefix's alias.
    let probe = connect(config("migrate-probe")).await;
    let client = probe.client();
    let alias = format!("{prefix}-transactions");
    let old = format!("{alias}-v0");
    let resp = client
        .indices()
        .create(IndicesCreateParts::Index(&old))
        .body(json!({
            "settings": { "number_of_shards": 1, "number_of_replicas": 0 },
            "aliases": { alias.clone(): {} }
        }))
        .send()
        .await
        .unwrap();
    assert!(resp.status_code().is_success(), "{:?}", resp.text().await);
    let mut t = suite::dataset("c-old", 1).remove(0);
    // Written before rules existed: every category was the model's.
    t.prediction.source = txclass_suite::domain::Source::Model;
    t.prediction.sub_category = None;
    t.prediction.merchant = None;
    // ... and before taxonomies had versions: none reads back.
    t.prediction.sub_probability = None;
    t.prediction.taxonomy_version = None;
    let t = &t;
    // The store's `_id` scheme: `{len(partner)}:{partner}:{id}`.
    let id = format!(
        "{}:{}:{}",
        t.partner_id.0.len(),
        t.partner_id,
        t.transaction.id
    );
    let resp = client
        .index(IndexParts::IndexId(&old, &id))
        .routing(t.customer_id.as_str())
        .refresh(Refresh::True)
        .body(json!({
            "partner_id": t.partner_id, "customer_id": t.customer_id, "tx_id": t.transaction.id,
            "date": t.transaction.date, "description": t.transaction.description,
            "merchant": "PADARIA SAO PAULO", "amount_minor": t.transaction.amount_minor,
            "currency": t.transaction.currency, "category": t.prediction.category,
            "probability": t.prediction.probability, "confidence": t.prediction.confidence,
            "uncertain": t.prediction.uncertain
        }))
        .send()
        .await
        .unwrap();
    assert!(resp.status_code().is_success(), "{:?}", resp.text().await);

    let s = connect(config("migrate").with_index_prefix(prefix.clone())).await;
    let resp = client
        .indices()
        .get_alias(IndicesGetAliasParts::Name(&[&alias]))
        .send()
        .await
        .unwrap();
    let behind: Value = resp.json().await.unwrap();
    let indexes: Vec<&String> = behind.as_object().unwrap().keys().collect();
    let current = txclass_suite::store::elastic::TX_MAPPING_VERSION;
    assert_eq!(
        indexes,
        [&format!("{alias}-v{current}")],
        "alias moved to the current version only"
    );
    let page = s
        .transactions(&TxQuery {
            customer_id: "c-old".into(),
            text: Some("padaria".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page.items,
        vec![t.clone()],
        "the old document, found by the new analyzer"
    );
    // The copy says where its category came from.
    let resp = client
        .search(SearchParts::Index(&[&alias]))
        .body(json!({ "query": { "term": { "source": "model" } } }))
        .send()
        .await
        .unwrap();
    let found: Value = resp.json().await.unwrap();
    assert_eq!(
        found["hits"]["hits"].as_array().unwrap().len(),
        1,
        "{found}"
    );
    // The new version takes the same document as an update, not a duplicate.
    assert_eq!(s.upsert(std::slice::from_ref(t)).await.unwrap().updated, 1);

    s.delete_indexes().await.unwrap();
    let resp = client
        .indices()
        .delete(
            txclass_suite::store::elastic::elasticsearch::indices::IndicesDeleteParts::Index(&[
                &old,
            ]),
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status_code().is_success());
    probe.delete_indexes().await.unwrap();
}

/// Documents written before a merchant's name joined a word at an apostrophe (`MCDONALD S`)
/// get their merchant again on connect, once (the index records `rows_version`); a merchant a
/// rule named is kept.
#[tokio::test]
async fn merchants_an_older_rule_derived_are_derived_again() {
    use txclass_suite::store::elastic::elasticsearch::indices::IndicesPutMappingParts;
    use txclass_suite::store::elastic::elasticsearch::{GetParts, UpdateParts};
    let prefix = unique_prefix("rows");
    let s = connect(config("rows").with_index_prefix(prefix.clone())).await;
    let current = txclass_suite::store::elastic::TX_ROWS_VERSION;
    assert_eq!(s.tx_rows_version().await.unwrap(), current, "a new index");
    let mut rows = suite::dataset("c-rows", 3);
    for t in &mut rows[..2] {
        t.prediction.merchant = None;
        t.prediction.source = txclass_suite::domain::Source::Model;
    }
    rows[0].transaction.description = "MCDONALD'S 1234 LISBOA".into();
    rows[1].transaction.description = "LOWE\u{2019}S #88 DENVER".into();
    rows[2].transaction.description = "JOE'S PIZZA".into();
    rows[2].prediction.merchant = Some("Joe Rule".into());
    rows[2].prediction.source = txclass_suite::domain::Source::Rule("r-1".into());
    s.upsert(&rows).await.unwrap();
    let alias = s.transactions_alias().to_owned();
    let client = s.client();
    let id = |t: &txclass_suite::domain::ClassifiedTransaction| {
        format!(
            "{}:{}:{}",
            t.partner_id.0.len(),
            t.partner_id,
            t.transaction.id
        )
    };
    // What the rule before wrote: the word split at the apostrophe; and no rows version.
    for (t, old) in [(&rows[0], "MCDONALD S 1234 LISBOA"), (&rows[1], "LOWE S")] {
        let resp = client
            .update(UpdateParts::IndexId(&alias, &id(t)))
            .routing(t.customer_id.as_str())
            .refresh(Refresh::True)
            .body(json!({ "doc": { "merchant": old } }))
            .send()
            .await
            .unwrap();
        assert!(resp.status_code().is_success(), "{:?}", resp.text().await);
    }
    let resp = client
        .indices()
        .put_mapping(IndicesPutMappingParts::Index(&[&alias]))
        .body(json!({ "_meta": { "rows_version": 0 } }))
        .send()
        .await
        .unwrap();
    assert!(resp.status_code().is_success(), "{:?}", resp.text().await);
    assert_eq!(s.tx_rows_version().await.unwrap(), 0);

    let again = connect(config("rows").with_index_prefix(prefix)).await;
    assert_eq!(again.tx_rows_version().await.unwrap(), current);
    let mut merchants = Vec::new();
    for t in &rows {
        let resp = client
            .get(GetParts::IndexId(&alias, &id(t)))
            .routing(t.customer_id.as_str())
            .send()
            .await
            .unwrap();
        let doc: Value = resp.json().await.unwrap();
        merchants.push(doc["_source"]["merchant"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        merchants,
        [
            txclass_suite::store::merchant_of("MCDONALD'S 1234 LISBOA"),
            txclass_suite::store::merchant_of("LOWE\u{2019}S #88 DENVER"),
            "Joe Rule".to_owned(),
        ],
        "derived again, but not where a rule named the merchant"
    );
    assert!(merchants[0].starts_with("MCDONALDS"), "{merchants:?}");
    again.delete_indexes().await.unwrap();
}

/// The engine applies bulk items one by one: when a page's rows are refused, its checkpoint
/// (which went in) is taken back, so a resumed job fetches the page again instead of
/// skipping rows that are not there.
#[tokio::test]
async fn a_checkpoint_whose_rows_failed_is_taken_back() {
    let s = store("ckpt-back").await;
    let txs = suite::dataset("c-ckpt-back", 20);
    let job = txclass_suite::domain::JobId::new("job-back");
    let mut totals = txclass_suite::domain::Summary::default();
    totals.add(&txs);
    let page = txclass_suite::store::PageRecord {
        job_id: job.clone(),
        page: 1,
        next_cursor: Some("next".into()),
        totals,
    };
    put_settings(&s, json!({ "index.blocks.write": true })).await;
    match s.store_page(&page, &txs).await {
        Err(StoreError::Rejected { failed, total, .. }) => {
            assert_eq!(
                (failed, total),
                (20, 21),
                "20 rows of 20 rows and a checkpoint"
            )
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(
        s.pages(&job).await.unwrap(),
        [],
        "no checkpoint without its rows"
    );
    put_settings(&s, json!({ "index.blocks.write": false })).await;
    assert_eq!(s.store_page(&page, &txs).await.unwrap().inserted, 20);
    assert_eq!(s.pages(&job).await.unwrap(), [page]);
    s.delete_indexes().await.unwrap();
}

/// Job records of mapping version 1 (no `job_id` field) are copied into version 2 on
/// connect with their id as `job_id`, and are found by `running_jobs`.
#[tokio::test]
async fn jobs_of_mapping_version_1_are_migrated() {
    let prefix = unique_prefix("jobs-v1");
    let probe = connect(config("jobs-v1-probe")).await;
    let client = probe.client();
    let alias = format!("{prefix}-jobs");
    let old = format!("{alias}-v1");
    // The version-1 body, as `job_index_body` had it.
    let resp = client
        .indices()
        .create(IndicesCreateParts::Index(&old))
        .body(json!({
            "settings": { "number_of_shards": 1, "number_of_replicas": 0 },
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "status": { "type": "keyword" },
                    "customer_id": { "type": "keyword" },
                    "partner_id": { "type": "keyword" },
                    "created_at": { "type": "date" },
                    "updated_at": { "type": "date" },
                    "record": { "type": "object", "enabled": false }
                }
            },
            "aliases": { alias.clone(): {} }
        }))
        .send()
        .await
        .unwrap();
    assert!(resp.status_code().is_success(), "{:?}", resp.text().await);
    let record = |id: &str| {
        json!({
            "id": id,
            "request": {
                "customer_id": "c-old", "partner_id": "bank-a",
                "from": "2026-01-01", "to": "2026-03-31"
            },
            "status": "running",
            "created_at": "2026-03-01T12:00:00Z",
            "updated_at": "2026-03-01T12:00:00Z"
        })
    };
    // Indexed in the opposite order of their ids: the tie-breaker must do the ordering.
    for id in ["old-b", "old-a"] {
        let resp = client
            .index(IndexParts::IndexId(&old, id))
            .refresh(Refresh::True)
            .body(json!({
                "status": "running", "customer_id": "c-old", "partner_id": "bank-a",
                "created_at": "2026-03-01T12:00:00Z", "updated_at": "2026-03-01T12:00:00Z",
                "record": record(id)
            }))
            .send()
            .await
            .unwrap();
        assert!(resp.status_code().is_success(), "{:?}", resp.text().await);
    }

    let s = connect(config("jobs-v1").with_index_prefix(prefix.clone())).await;
    let resp = client
        .indices()
        .get_alias(IndicesGetAliasParts::Name(&[&alias]))
        .send()
        .await
        .unwrap();
    let behind: Value = resp.json().await.unwrap();
    let indexes: Vec<&String> = behind.as_object().unwrap().keys().collect();
    assert_eq!(indexes, [&format!("{alias}-v2")], "alias moved to v2 only");
    let resp = client
        .get(txclass_suite::store::elastic::elasticsearch::GetParts::IndexId(&alias, "old-a"))
        .send()
        .await
        .unwrap();
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["_source"]["job_id"], "old-a", "{doc}");
    let running = s.running_jobs(10).await.unwrap();
    let ids: Vec<&str> = running.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["old-a", "old-b"]);
    // Records written before tenants are the local tenant's.
    let mut expected = record("old-a");
    expected["tenant"] = "local".into();
    assert_eq!(
        serde_json::to_value(&running[0]).unwrap(),
        expected,
        "the record decodes as it was"
    );

    s.delete_indexes().await.unwrap();
    let resp = client
        .indices()
        .delete(
            txclass_suite::store::elastic::elasticsearch::indices::IndicesDeleteParts::Index(&[
                &old,
            ]),
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status_code().is_success());
    probe.delete_indexes().await.unwrap();
}

/// A checkpoint is read in realtime even when its write refreshes nothing
/// ([`WriteVisibility::Eventual`]) and the index never refreshes on its own.
#[tokio::test]
async fn checkpoints_are_read_without_a_refresh() {
    let s = connect(config("ckpt-eventual").with_visibility(WriteVisibility::Eventual)).await;
    no_refresh(&s, s.pages_alias()).await;
    let job = txclass_suite::domain::JobId::new("job-eventual");
    let txs = suite::dataset("c-ckpt-eventual", 5);
    for n in 1..=3 {
        let page = txclass_suite::store::PageRecord {
            job_id: job.clone(),
            page: n,
            next_cursor: (n < 3).then(|| format!("after-{n}")),
            totals: txclass_suite::domain::Summary::default(),
        };
        s.store_page(&page, &txs).await.unwrap();
        let pages = s.pages(&job).await.unwrap();
        assert_eq!(pages.len(), n as usize, "page {n} seen at once");
        assert_eq!(pages.last(), Some(&page));
    }
    s.delete_indexes().await.unwrap();
}

/// A config file's `[store] kind = "elasticsearch"` opens an `ElasticStore` on the engine:
/// the store the server and `txclass query --config` use, with this file's prefix.
#[tokio::test]
async fn a_store_config_of_kind_elasticsearch_opens_the_engine() {
    use txclass_suite::store::{StoreConfig, StoreKeys};

    let prefix = unique_prefix("storeconfig");
    let text = format!(
        "listen = \"127.0.0.1:0\"\n[store]\nkind = \"elasticsearch\"\nurl = \"{}\"\n\
         index_prefix = \"{prefix}\"\nrequest_timeout_ms = 10000\n",
        url()
    );
    let keys: StoreKeys = txclass_suite::config::from_toml_str("server.toml", &text).unwrap();
    let config = keys.resolve().unwrap();
    assert!(
        matches!(config, StoreConfig::Elasticsearch(_)),
        "{config:?}"
    );
    let store = match config.open().await {
        Ok(s) => s,
        Err(e) => panic!(
            "no Elasticsearch-compatible engine at {} ({e}); start one with \
             `scripts/search-engine.sh start` or set TXCLASS_ES_URL",
            url()
        ),
    };
    store.ping().await.unwrap();
    let t = suite::tx("bank", "t1", "c-cfg", "2026-01-05", "PADARIA", -500, "food");
    store.upsert(&[t]).await.unwrap();
    assert_eq!(store.count(&"c-cfg".into()).await.unwrap(), 1);

    // The same indexes, reached directly under the config's prefix.
    let direct = connect(ElasticConfig::new(url()).with_index_prefix(prefix.clone())).await;
    assert_eq!(
        direct.transactions_alias(),
        format!("{prefix}-transactions")
    );
    assert_eq!(direct.count(&"c-cfg".into()).await.unwrap(), 1);
    direct.delete_indexes().await.unwrap();
}

/// The server built from such a config serves from the engine and reports it in /readyz.
#[tokio::test]
async fn a_server_on_an_elasticsearch_store_is_ready() {
    use txclass_server::{run, Server, ServerConfig};

    let prefix = unique_prefix("serverstore");
    let text = format!(
        "[sandbox]\nenabled = false\n[store]\nkind = \"elasticsearch\"\nurl = \"{}\"\n\
         index_prefix = \"{prefix}\"\n",
        url()
    );
    let config: ServerConfig = txclass_suite::config::from_toml_str("server.toml", &text).unwrap();
    let server = Server::from_config(&config).await.unwrap_or_else(|e| {
        panic!(
            "{e}: no Elasticsearch-compatible engine at {}; start one with \
             `scripts/search-engine.sh start` or set TXCLASS_ES_URL",
            url()
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(run(listener, server, async {
        let _ = stopped.await;
    }));
    let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["checks"]["store"]["status"], "ok", "{body}");
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    connect(ElasticConfig::new(url()).with_index_prefix(prefix))
        .await
        .delete_indexes()
        .await
        .unwrap();
}

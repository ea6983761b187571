//! The Elasticsearch store (feature `elasticsearch`): the same [`Store`] as the embedded one,
//! on an Elasticsearch-compatible engine, through the official `elasticsearch` crate.
//!
//! Tested against OpenSearch 2.19 (Elasticsearch-7-compatible REST API), see
//! `tests/store_elastic.rs`.
//!
//! ## Indexes
//!
//! Transactions live in `{prefix}-transactions-v{N}` behind the alias `{prefix}-transactions`,
//! job records in `{prefix}-jobs-v{N}` behind `{prefix}-jobs`, job checkpoints in
//! `{prefix}-pages-v{N}` behind `{prefix}-pages` and job event logs in `{prefix}-events-v{N}`
//! behind `{prefix}-events`. Every read and write goes through the alias.
//! [`ElasticStore::connect`] creates the index and its alias when they are missing; when the
//! alias points to an older version (the mapping changed), it creates the new index, copies
//! the documents with `_reindex` (bringing them up to the new mapping where that needs a
//! script) and moves the alias in one atomic `_aliases` call. Run that migration with
//! writers stopped: a write to the old index after the copy is not carried over.
//!
//! How a field is derived from the description (the merchant's name) can change without the
//! mapping: the index's `_meta.rows_version` ([`TX_ROWS_VERSION`]) says which rules derived
//! its documents, and connect derives older documents' fields again in place, each updated only
//! if it has not changed since it was read, so that pass may run beside writers.
//!
//! ## Why routing by customer
//!
//! Every transaction is indexed with `routing = customer_id`, and every query names its
//! customer, so a query touches one shard whatever the shard count, and the aggregations
//! (spend per month, top merchants) are exact instead of the usual per-shard approximation.
//! The price: a transaction must never move to another customer (an upsert that changed its
//! customer would leave the old copy on the other shard).
//!
//! ## Why realtime gets for event logs and checkpoints, not search
//!
//! A client that re-attaches with `Last-Event-ID` must find the event written a moment ago,
//! on any instance; a resumed job must find the checkpoint stored just before the crash.
//! Search only sees what the last refresh published (1 s by default), and refreshing on
//! every event would cost a segment per event with hundreds of jobs logging at once. A get
//! (and `_mget`) by id is realtime in both engines: it reads a document indexed but not yet
//! refreshed. So both logs have ids we can compute — event `{job}:{seq:020}`, checkpoint
//! `{job}:{page}` — and are numbered without gaps from 1: a reader asks for the next ids
//! in rounds of 64 and stops at the first one missing. Every document of a job is routed by
//! the job id, so a round trip touches one shard. An event is written with `op_type=create`,
//! so two writers of one job cannot both take a number: the second gets a `409`
//! ([`StoreError::Conflict`]).
//!
//! ## Why a checkpoints index of its own, not job documents with a type field
//!
//! The jobs index is searched (running jobs, oldest first) and has a strict mapping of job
//! fields; a job stores one checkpoint per partner page, so mixing them would make every job
//! search filter out a much larger number of page documents, and both kinds would share one
//! mapping version. A separate index keeps the jobs index small and each mapping honest; the
//! price, one more index and alias, is paid once on connect.
//!
//! ## Why `search_after`, not a point in time
//!
//! Pages are `search_after` on the sort `(date, partner_id, tx_id)`, all descending: the sort
//! is total (ids are unique), so pages have no gaps or duplicates while documents are not
//! changing, and a cursor costs nothing on the server. Elasticsearch's `_pit` and OpenSearch's
//! point in time live at different paths, and a client paging a statement does not need a
//! frozen view.
//!
//! ## What the engine and the crate disagreed on
//!
//! Nothing we use, as long as the client sends plain `application/json` (the crate's
//! default): OpenSearch answers `406` to the `application/vnd.elasticsearch+json;
//! compatible-with=N` media types, so this module never sets them. `_bulk` goes as ndjson
//! under `application/json`, which both engines accept. The `x-elastic-client-meta` header is
//! switched off: OpenSearch ignores it and it only adds bytes.

/// The client crate, re-exported: [`ElasticStore::client`] hands out its type.
pub use elasticsearch;

mod bulk;
mod config;
mod documents;
mod indexes;
mod log;
mod queries;
mod rows;

use bulk::{upsert_result, ChunkOutcome};
pub use config::{ElasticAuth, ElasticConfig, WriteVisibility};
use documents::*;
use queries::{customer_filter, date_millis};
pub use rows::TX_ROWS_VERSION;

use std::future::Future;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use elasticsearch::auth::Credentials;
use elasticsearch::cluster::ClusterHealthParts;
use elasticsearch::http::response::Response;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{StatusCode, Url};
use elasticsearch::indices::{
    IndicesCreateParts, IndicesDeleteParts, IndicesGetAliasParts, IndicesRefreshParts,
};
use elasticsearch::params::Refresh;
use elasticsearch::{
    BulkParts, CountParts, CreateParts, DeleteParts, Elasticsearch, GetParts, IndexParts,
    MgetParts, SearchParts,
};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    decode_cursor, merchant_name, words, CorrectionQuery, Level, LoggedEvent, MerchantRow,
    PageRecord, RuleFilter, SpendingQuery, SpendingRow, Store, StoreError, TxPage, TxQuery,
    UpsertReport, MAX_CORRECTIONS, MAX_EVENTS, MAX_PAGE, MAX_RULES, MAX_SAME_ID, MAX_TOP_MERCHANTS,
};
use crate::backoff::Backoff;
use crate::domain::correction::Correction;
use crate::domain::rule::{Rule, RuleScope};
use crate::domain::{
    Category, ClassifiedTransaction, Confidence, CustomerId, JobId, JobRecord, PartnerId,
    Prediction, Source, Transaction,
};
use crate::partner::Secret;

/// Mapping version of the transactions index: bump it when `tx_index_body` changes.
///
/// Version 2 adds what set the category (`source`), the rule's `sub_category` and
/// `rule_merchant`. Version-1 documents are copied with `source = "model"`. Version 3 adds
/// `sub_probability` and `taxonomy_version`; older documents are copied without them.
/// Version 4 adds the model's `guess` for an uncertain transaction; older documents are
/// copied without it.
pub const TX_MAPPING_VERSION: u32 = 4;
/// Mapping version of the rules index: bump it when `rule_index_body` changes.
pub const RULE_MAPPING_VERSION: u32 = 1;
/// Mapping version of the corrections index: bump it when `correction_index_body` changes.
pub const CORRECTION_MAPPING_VERSION: u32 = 1;
/// Mapping version of the jobs index: bump it when `job_index_body` changes.
///
/// Version 2 adds the job id as a keyword field (`job_id`): [`Store::running_jobs`] sorts by
/// `created_at` (a `date`, to the millisecond, as the embedded store compares) and then by
/// job id. Version-1 documents get it from their `_id` when they are copied.
pub const JOB_MAPPING_VERSION: u32 = 2;
/// Mapping version of the job checkpoints index: bump it when `page_index_body` changes.
pub const PAGE_MAPPING_VERSION: u32 = 1;
/// Mapping version of the event log index: bump it when `event_index_body` changes.
pub const EVENT_MAPPING_VERSION: u32 = 1;

/// Ids asked for in one realtime `_mget` of events or checkpoints: a job's log is read in a
/// few round trips, and one request never carries more than a few tens of KB.
const MGET_ROUND: u64 = 64;

/// Painless run on version-1 job documents when they are copied into version 2: the job id
/// field comes from the document id.
const JOB_V1_TO_V2: &str = "ctx._source.job_id = ctx._id";

/// Painless run on older transaction documents when they are copied into the current
/// version: every category stored before rules existed came from the model.
const TX_UPGRADE: &str = "if (ctx._source.source == null) { ctx._source.source = 'model' }";

/// Counters of what the store did, for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ElasticStats {
    /// `_bulk` requests sent (first attempts and retries).
    pub bulk_requests: u64,
    /// Documents sent again after a retryable failure.
    pub retried_docs: u64,
}

#[derive(Default)]
struct Counters {
    bulk_requests: AtomicU64,
    retried_docs: AtomicU64,
}

/// [`Store`] on Elasticsearch / OpenSearch. Cheap to clone (one HTTP client inside).
#[derive(Clone)]
pub struct ElasticStore {
    client: Elasticsearch,
    config: Arc<ElasticConfig>,
    tx_alias: Arc<str>,
    job_alias: Arc<str>,
    page_alias: Arc<str>,
    event_alias: Arc<str>,
    rule_alias: Arc<str>,
    correction_alias: Arc<str>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for ElasticStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElasticStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// HTTP statuses worth another attempt.
fn retryable(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// The first 300 characters of an error body.
fn short(body: &str) -> &str {
    match body.char_indices().nth(300) {
        Some((i, _)) => &body[..i],
        None => body,
    }
}

/// The `record` of each hit of a search answer, decoded; `what` names them in errors.
fn records_of<T: serde::de::DeserializeOwned>(
    res: &Value,
    what: &str,
) -> Result<Vec<T>, StoreError> {
    let hits = res["hits"]["hits"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    hits.iter()
        .map(|h| {
            serde_json::from_value(h["_source"]["record"].clone())
                .map_err(|e| backend(format!("{what} does not decode: {e}")))
        })
        .collect()
}

/// The transactions of a search answer's hits, decoded.
fn transactions_of(res: &Value) -> Result<Vec<ClassifiedTransaction>, StoreError> {
    let hits = res["hits"]["hits"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    hits.iter()
        .map(|h| {
            serde_json::from_value::<TxDoc>(h["_source"].clone())
                .map(TxDoc::into_tx)
                .map_err(|e| backend(format!("stored transaction does not decode: {e}")))
        })
        .collect()
}

/// The JSON body of a successful response, or the error the status means.
async fn json_of(what: &str, resp: Response) -> Result<Value, StoreError> {
    let status = resp.status_code();
    if status.is_success() {
        return resp.json::<Value>().await.map_err(unavailable);
    }
    let body = resp.text().await.unwrap_or_default();
    let msg = format!("{what}: http {}: {}", status.as_u16(), short(&body));
    Err(if retryable(status.as_u16()) {
        StoreError::Unavailable(msg)
    } else {
        StoreError::Backend(msg)
    })
}

impl ElasticStore {
    /// Connects, and creates (or migrates to) the current indexes and aliases. Fails with
    /// [`StoreError::Unavailable`] when the engine does not answer, so a caller can retry.
    pub async fn connect(config: ElasticConfig) -> Result<Self, StoreError> {
        let url = config.validate()?;
        let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .timeout(config.request_timeout)
            .enable_meta_header(false)
            .disable_proxy();
        builder = match &config.auth {
            ElasticAuth::None => builder,
            ElasticAuth::Basic { username, password } => builder.auth(Credentials::Basic(
                username.clone(),
                password.expose().to_owned(),
            )),
            ElasticAuth::ApiKey { id, key } => {
                builder.auth(Credentials::ApiKey(id.clone(), key.expose().to_owned()))
            }
            ElasticAuth::Bearer(token) => {
                builder.auth(Credentials::Bearer(token.expose().to_owned()))
            }
        };
        let transport = builder
            .build()
            .map_err(|e| StoreError::InvalidConfig(format!("elasticsearch transport: {e}")))?;
        let prefix = config.index_prefix.clone();
        let store = Self {
            client: Elasticsearch::new(transport),
            tx_alias: format!("{prefix}-transactions").into(),
            job_alias: format!("{prefix}-jobs").into(),
            page_alias: format!("{prefix}-pages").into(),
            event_alias: format!("{prefix}-events").into(),
            rule_alias: format!("{prefix}-rules").into(),
            correction_alias: format!("{prefix}-corrections").into(),
            counters: Arc::default(),
            config: Arc::new(config),
        };
        let shards = store.config.shards.get();
        store
            .ensure_index(
                &store.tx_alias,
                TX_MAPPING_VERSION,
                tx_index_body(shards),
                Some(TX_UPGRADE),
            )
            .await?;
        store.migrate_tx_rows().await?;
        store
            .ensure_index(
                &store.rule_alias,
                RULE_MAPPING_VERSION,
                rule_index_body(),
                None,
            )
            .await?;
        store
            .ensure_index(
                &store.correction_alias,
                CORRECTION_MAPPING_VERSION,
                correction_index_body(),
                None,
            )
            .await?;
        store
            .ensure_index(
                &store.job_alias,
                JOB_MAPPING_VERSION,
                job_index_body(),
                Some(JOB_V1_TO_V2),
            )
            .await?;
        store
            .ensure_index(
                &store.page_alias,
                PAGE_MAPPING_VERSION,
                page_index_body(shards),
                None,
            )
            .await?;
        store
            .ensure_index(
                &store.event_alias,
                EVENT_MAPPING_VERSION,
                event_index_body(shards),
                None,
            )
            .await?;
        Ok(store)
    }

    /// The alias transactions are read and written through.
    pub fn transactions_alias(&self) -> &str {
        &self.tx_alias
    }

    /// The alias job records are read and written through.
    pub fn jobs_alias(&self) -> &str {
        &self.job_alias
    }

    /// The alias job checkpoints are read and written through.
    pub fn pages_alias(&self) -> &str {
        &self.page_alias
    }

    /// The alias job event logs are read and written through.
    pub fn events_alias(&self) -> &str {
        &self.event_alias
    }

    /// The `record` of the document `id` behind `alias` (a realtime get), decoded; `what`
    /// names it in errors.
    async fn get_record<T: serde::de::DeserializeOwned>(
        &self,
        alias: &str,
        id: &str,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        let resp = self
            .client
            .get(GetParts::IndexId(alias, id))
            .send()
            .await
            .map_err(unavailable)?;
        if resp.status_code() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = json_of(&format!("get {what}"), resp).await?;
        if body["found"] != json!(true) {
            return Ok(None);
        }
        serde_json::from_value(body["_source"]["record"].clone())
            .map(Some)
            .map_err(|e| backend(format!("{what} {id} does not decode: {e}")))
    }

    /// The `record` of each hit of a search of `alias` (retried while the engine is
    /// unavailable), decoded; `what` names the search and `record` its hits in errors.
    async fn search_records<T: serde::de::DeserializeOwned>(
        &self,
        alias: &str,
        body: Value,
        what: &str,
        record: &str,
    ) -> Result<Vec<T>, StoreError> {
        let res = self
            .retrying(|_| async {
                let resp = self
                    .client
                    .search(SearchParts::Index(&[alias]))
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(unavailable)?;
                json_of(what, resp).await
            })
            .await?;
        records_of(&res, record)
    }

    /// The alias rules are read and written through.
    pub fn rules_alias(&self) -> &str {
        &self.rule_alias
    }

    /// The alias corrections are read and written through.
    pub fn corrections_alias(&self) -> &str {
        &self.correction_alias
    }

    /// The underlying client, for administration the store does not cover.
    pub fn client(&self) -> &Elasticsearch {
        &self.client
    }

    /// What the store did so far.
    pub fn stats(&self) -> ElasticStats {
        ElasticStats {
            bulk_requests: self.counters.bulk_requests.load(Ordering::Relaxed),
            retried_docs: self.counters.retried_docs.load(Ordering::Relaxed),
        }
    }
}

#[async_trait]
impl Store for ElasticStore {
    async fn upsert(&self, txs: &[ClassifiedTransaction]) -> Result<UpsertReport, StoreError> {
        let size = self.config.batch_size.get();
        // Chunk starts, not chunks: a closure over a borrowed slice trips async-trait's
        // lifetimes ("FnOnce is not general enough").
        let outcomes: Vec<ChunkOutcome> = stream::iter((0..txs.len()).step_by(size))
            .map(|start| self.bulk_chunk(&txs[start..txs.len().min(start + size)], None))
            .buffer_unordered(self.config.bulk_concurrency.get())
            .collect()
            .await;
        upsert_result(outcomes, txs.len(), self.config.max_attempts)
    }

    /// One `_bulk` request for the transactions and the checkpoint, whatever `batch_size` (a
    /// partner page is a few hundred transactions). The engine applies bulk items one by one:
    /// if the checkpoint went in but some transaction did not (after the retries), the
    /// checkpoint is deleted again (best effort) so that a resumed job fetches the page again
    /// instead of skipping rows that are missing. Errors count the checkpoint as one of the
    /// documents.
    async fn store_page(
        &self,
        page: &PageRecord,
        txs: &[ClassifiedTransaction],
    ) -> Result<UpsertReport, StoreError> {
        let outcome = self.bulk_chunk(txs, Some(page)).await;
        let page_stored = outcome.page_stored;
        let result = upsert_result(vec![outcome], txs.len() + 1, self.config.max_attempts);
        if result.is_err() && page_stored {
            let id = page_id(&page.job_id, page.page);
            // Best effort: the error returned is the write's, whatever this answers.
            let _ = self
                .client
                .delete(DeleteParts::IndexId(&self.page_alias, &id))
                .routing(page.job_id.as_str())
                .send()
                .await;
        }
        result
    }

    async fn pages(&self, job: &JobId) -> Result<Vec<PageRecord>, StoreError> {
        let docs = self
            // Pages 1 ..= u32::MAX: `n` always fits.
            .read_log(
                &self.page_alias,
                job.as_str(),
                1,
                u64::from(u32::MAX),
                |n| page_id(job, n as u32),
            )
            .await?;
        docs.into_iter()
            .map(|d| {
                serde_json::from_value(d["record"].clone())
                    .map_err(|e| backend(format!("checkpoint of job {job} does not decode: {e}")))
            })
            .collect()
    }

    async fn append_event(&self, job: &JobId, event: &LoggedEvent) -> Result<(), StoreError> {
        let id = event_id(job, event.seq);
        let doc = json!({
            "job_id": job.as_str(),
            "seq": event.seq,
            "event": &event.event,
        });
        self.retrying(|attempt| self.create_event(job, event.seq, &id, &doc, attempt))
            .await
    }

    async fn events(
        &self,
        job: &JobId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<LoggedEvent>, StoreError> {
        let Some(first) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let limit = u64::from(limit.min(MAX_EVENTS));
        let docs = self
            .read_log(&self.event_alias, job.as_str(), first, limit, |seq| {
                event_id(job, seq)
            })
            .await?;
        docs.into_iter()
            .map(|d| {
                let seq = d["seq"]
                    .as_u64()
                    .ok_or_else(|| backend(format!("event of job {job} has no seq")))?;
                let event = serde_json::from_value(d["event"].clone()).map_err(|e| {
                    backend(format!("event {seq} of job {job} does not decode: {e}"))
                })?;
                Ok(LoggedEvent { seq, event })
            })
            .collect()
    }

    /// A search: it sees job records up to the refresh interval (1 s by default) late, which
    /// a periodic sweeper can afford.
    async fn running_jobs(&self, limit: u32) -> Result<Vec<JobRecord>, StoreError> {
        // A search answers at most `index.max_result_window` (10 000 by default) hits.
        let size = limit.min(10_000);
        if size == 0 {
            return Ok(Vec::new());
        }
        let body = json!({
            "size": size,
            "track_total_hits": false,
            "_source": ["record"],
            "query": { "bool": { "filter": [ { "term": { "status": "running" } } ] } },
            "sort": [
                { "created_at": "asc" },
                { "job_id": { "order": "asc", "missing": "_last" } }
            ]
        });
        self.search_records(&self.job_alias, body, "running jobs", "job record")
            .await
    }

    async fn put_job(&self, job: &JobRecord) -> Result<(), StoreError> {
        let record = serde_json::to_value(job).map_err(backend)?;
        let doc = json!({
            "job_id": job.id.as_str(),
            "status": record["status"],
            "customer_id": job.request.customer_id.as_str(),
            "partner_id": job.request.partner_id.as_str(),
            "created_at": job.created_at,
            "updated_at": job.updated_at,
            "record": record,
        });
        let resp = self
            .client
            .index(IndexParts::IndexId(&self.job_alias, job.id.as_str()))
            .body(doc)
            .send()
            .await
            .map_err(unavailable)?;
        json_of("put job", resp).await.map(drop)
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>, StoreError> {
        self.get_record(&self.job_alias, id.as_str(), "job").await
    }

    async fn transactions(&self, q: &TxQuery) -> Result<TxPage, StoreError> {
        let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = q.limit.clamp(1, MAX_PAGE) as usize;
        let mut filter = customer_filter(&q.customer_id, q.from, q.to);
        if let Some(p) = &q.partner_id {
            filter.push(json!({ "term": { "partner_id": p.as_str() } }));
        }
        if let Some(c) = &q.category {
            filter.push(json!({ "term": { "category": c.as_str() } }));
        }
        if let Some(c) = &q.sub_category {
            filter.push(json!({ "term": { "sub_category": c.as_str() } }));
        }
        if let Some(text) = &q.text {
            // Our own words, so that a query without any (e.g. "***") filters nothing, as in
            // the embedded store, instead of matching nothing.
            let w: Vec<String> = words(text).collect();
            if !w.is_empty() {
                filter.push(json!({
                    "match": { "description": { "query": w.join(" "), "operator": "and" } }
                }));
            }
        }
        let mut body = json!({
            "size": limit + 1,
            "track_total_hits": false,
            "query": { "bool": { "filter": filter } },
            "sort": [
                { "date": "desc" },
                { "partner_id": "desc" },
                { "tx_id": "desc" }
            ]
        });
        if let Some((d, p, i)) = after {
            body["search_after"] = json!([date_millis(d), p, i]);
        }
        let res = self.search(q.customer_id.as_str(), body).await?;
        let items = transactions_of(&res)?;
        Ok(TxPage::from_overfetch(items, limit))
    }

    async fn spending(&self, q: &SpendingQuery) -> Result<Vec<SpendingRow>, StoreError> {
        let filter = customer_filter(&q.customer_id, q.from, q.to);
        let mut rows = Vec::new();
        let mut after: Option<Value> = None;
        loop {
            let mut sources = vec![
                json!({ "month": { "date_histogram": {
                    "field": "date", "calendar_interval": "month", "format": "yyyy-MM"
                } } }),
                json!({ "category": { "terms": { "field": "category" } } }),
            ];
            if q.level == Level::Sub {
                // Transactions without a sub-category make their own bucket, first (as
                // `None` sorts).
                sources.push(json!({ "sub_category": { "terms": {
                    "field": "sub_category", "missing_bucket": true
                } } }));
            }
            sources.push(json!({ "currency": { "terms": { "field": "currency" } } }));
            let mut composite = json!({ "size": 1000, "sources": sources });
            if let Some(a) = after.take() {
                composite["after"] = a;
            }
            let body = json!({
                "size": 0,
                "track_total_hits": false,
                "query": { "bool": { "filter": filter } },
                "aggs": { "cells": {
                    "composite": composite,
                    "aggs": { "amount": { "sum": { "field": "amount_minor" } } }
                } }
            });
            let res = self.search(q.customer_id.as_str(), body).await?;
            let agg = &res["aggregations"]["cells"];
            let buckets = agg["buckets"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            for b in buckets {
                rows.push(SpendingRow {
                    month: b["key"]["month"].as_str().unwrap_or_default().to_owned(),
                    category: Category(
                        b["key"]["category"].as_str().unwrap_or_default().to_owned(),
                    ),
                    sub_category: b["key"]["sub_category"]
                        .as_str()
                        .map(|s| Category(s.to_owned())),
                    currency: b["key"]["currency"].as_str().unwrap_or_default().to_owned(),
                    count: b["doc_count"].as_u64().unwrap_or(0),
                    amount_minor: b["amount"]["value"].as_f64().unwrap_or(0.0).round() as i64,
                });
            }
            match agg.get("after_key") {
                Some(a) if !buckets.is_empty() => after = Some(a.clone()),
                _ => break,
            }
        }
        Ok(rows)
    }

    async fn top_merchants(
        &self,
        customer: &CustomerId,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        n: u32,
    ) -> Result<Vec<MerchantRow>, StoreError> {
        let n = n.min(MAX_TOP_MERCHANTS);
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut filter = customer_filter(customer, from, to);
        filter.push(json!({ "range": { "amount_minor": { "lt": 0 } } }));
        let body = json!({
            "size": 0,
            "track_total_hits": false,
            "query": { "bool": { "filter": filter } },
            // One bucket per merchant and currency (`multi_terms`: OpenSearch 2.1+,
            // Elasticsearch 7.12+), so no sum crosses currencies.
            "aggs": { "merchants": {
                "multi_terms": {
                    "terms": [ { "field": "merchant" }, { "field": "currency" } ],
                    "size": n,
                    "order": [ { "spent": "asc" }, { "_key": "asc" } ]
                },
                "aggs": { "spent": { "sum": { "field": "amount_minor" } } }
            } }
        });
        let res = self.search(customer.as_str(), body).await?;
        let buckets = res["aggregations"]["merchants"]["buckets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        Ok(buckets
            .iter()
            .map(|b| MerchantRow {
                merchant: b["key"][0].as_str().unwrap_or_default().to_owned(),
                currency: b["key"][1].as_str().unwrap_or_default().to_owned(),
                count: b["doc_count"].as_u64().unwrap_or(0),
                amount_minor: b["spent"]["value"].as_f64().unwrap_or(0.0).round() as i64,
            })
            .collect())
    }

    async fn create_rule(&self, rule: &Rule) -> Result<(), StoreError> {
        let resp = self
            .client
            .create(CreateParts::IndexId(&self.rule_alias, &rule.id))
            .refresh(Refresh::WaitFor)
            .body(rule_doc(rule))
            .send()
            .await
            .map_err(unavailable)?;
        if resp.status_code() == StatusCode::CONFLICT {
            return Err(StoreError::Conflict(format!("rule {} exists", rule.id)));
        }
        json_of("create rule", resp).await.map(drop)
    }

    /// Written with `refresh=wait_for`: rules change seldom, and a job that starts right
    /// after a write (on any instance) must run the new rule.
    async fn put_rule(&self, rule: &Rule) -> Result<(), StoreError> {
        let resp = self
            .client
            .index(IndexParts::IndexId(&self.rule_alias, &rule.id))
            .refresh(Refresh::WaitFor)
            .body(rule_doc(rule))
            .send()
            .await
            .map_err(unavailable)?;
        json_of("put rule", resp).await.map(drop)
    }

    async fn get_rule(&self, id: &str) -> Result<Option<Rule>, StoreError> {
        self.get_record(&self.rule_alias, id, "rule").await
    }

    async fn delete_rule(&self, id: &str) -> Result<bool, StoreError> {
        let resp = self
            .client
            .delete(DeleteParts::IndexId(&self.rule_alias, id))
            .refresh(Refresh::WaitFor)
            .send()
            .await
            .map_err(unavailable)?;
        if resp.status_code() == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        json_of("delete rule", resp).await.map(|_| true)
    }

    async fn rules(&self, filter: &RuleFilter) -> Result<Vec<Rule>, StoreError> {
        let query = match filter {
            RuleFilter::All => json!({ "match_all": {} }),
            RuleFilter::AppliesTo(c) => json!({ "bool": {
                "should": [
                    { "term": { "customer_id": c.as_str() } },
                    { "bool": { "must_not": { "exists": { "field": "customer_id" } } } }
                ],
                "minimum_should_match": 1
            } }),
        };
        let body = json!({
            "size": MAX_RULES,
            "track_total_hits": false,
            "_source": ["record"],
            "query": query,
            "sort": [ { "rule_id": "asc" } ]
        });
        let resp = self
            .client
            .search(SearchParts::Index(&[&self.rule_alias]))
            .body(body)
            .send()
            .await
            .map_err(unavailable)?;
        let res = json_of("rules", resp).await?;
        records_of(&res, "rule")
    }

    async fn transactions_with_id(
        &self,
        customer: &CustomerId,
        id: &str,
    ) -> Result<Vec<ClassifiedTransaction>, StoreError> {
        let mut filter = customer_filter(customer, None, None);
        filter.push(json!({ "term": { "tx_id": id } }));
        let body = json!({
            "size": MAX_SAME_ID,
            "track_total_hits": false,
            "query": { "bool": { "filter": filter } },
            "sort": [ { "partner_id": "asc" } ]
        });
        let res = self.search(customer.as_str(), body).await?;
        transactions_of(&res)
    }

    /// Written with `refresh=wait_for`, as rules are: the next correction of the merchant
    /// (on any instance) counts this one.
    async fn put_correction(&self, correction: &Correction) -> Result<(), StoreError> {
        let id = doc_id(correction.partner_id.as_str(), &correction.transaction.id);
        let doc = correction_doc(correction);
        self.retrying(|_| async {
            let resp = self
                .client
                .index(IndexParts::IndexId(&self.correction_alias, &id))
                .refresh(Refresh::WaitFor)
                .body(doc.clone())
                .send()
                .await
                .map_err(unavailable)?;
            json_of("put correction", resp).await.map(drop)
        })
        .await
    }

    async fn corrections(&self, q: &CorrectionQuery) -> Result<Vec<Correction>, StoreError> {
        let size = q.limit.min(MAX_CORRECTIONS);
        if size == 0 {
            return Ok(Vec::new());
        }
        let mut filter = Vec::new();
        if let Some(c) = &q.customer_id {
            filter.push(json!({ "term": { "customer_id": c.as_str() } }));
        }
        if let Some(m) = &q.merchant {
            filter.push(json!({ "term": { "merchant": m } }));
        }
        let body = json!({
            "size": size,
            "track_total_hits": false,
            "_source": ["record"],
            "query": { "bool": { "filter": filter } },
            "sort": [
                { "corrected_at": "desc" },
                { "partner_id": "desc" },
                { "tx_id": "desc" }
            ]
        });
        self.search_records(&self.correction_alias, body, "corrections", "correction")
            .await
    }

    async fn count(&self, customer: &CustomerId) -> Result<u64, StoreError> {
        let resp = self
            .client
            .count(CountParts::Index(&[&self.tx_alias]))
            .routing(&[customer.as_str()])
            .body(json!({ "query": { "term": { "customer_id": customer.as_str() } } }))
            .send()
            .await
            .map_err(unavailable)?;
        let body = json_of("count", resp).await?;
        body["count"]
            .as_u64()
            .ok_or_else(|| backend("count answer has no count"))
    }

    /// The health of this store's two indexes: `red` (a primary shard missing) or no answer
    /// is not ready; `yellow` (replicas missing) still serves every request.
    async fn ping(&self) -> Result<(), StoreError> {
        let resp = self
            .client
            .cluster()
            .health(ClusterHealthParts::Index(&[
                &self.tx_alias,
                &self.job_alias,
            ]))
            .send()
            .await
            .map_err(unavailable)?;
        let body = json_of("cluster health", resp).await?;
        match body["status"].as_str() {
            Some("green" | "yellow") => Ok(()),
            Some(status) => Err(StoreError::Unavailable(format!(
                "indexes {} and {} are {status}",
                self.tx_alias, self.job_alias
            ))),
            None => Err(backend("cluster health answer has no status")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_rejects_bad_urls_and_prefixes() {
        let ok = ElasticConfig::new("http://127.0.0.1:9200");
        assert!(ok.validate().is_ok());
        for url in ["not a url", "ftp://h:1", "http://user:pw@127.0.0.1:9200"] {
            let e = ElasticConfig::new(url).validate().unwrap_err();
            assert!(matches!(e, StoreError::InvalidConfig(_)), "{url}: {e}");
            assert!(!e.to_string().contains("pw"), "{e}");
        }
        for prefix in ["", "Upper", "_x", "a b", "a/b", "a*"] {
            let e = ok.clone().with_index_prefix(prefix).validate().unwrap_err();
            assert!(matches!(e, StoreError::InvalidConfig(_)), "{prefix:?}");
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = ElasticConfig::new("http://h:9200").with_auth(ElasticAuth::Basic {
            username: "elastic".into(),
            password: Secret::new("hunter2"),
        });
        let shown = format!("{c:?}");
        assert!(
            shown.contains("elastic") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn doc_ids_are_unambiguous() {
        assert_ne!(doc_id("a:b", "c"), doc_id("a", "b:c"));
        assert_eq!(doc_id("bank", "t1"), "4:bank:t1");
    }

    #[test]
    fn bulk_retries_only_overload_statuses() {
        for s in [429, 502, 503, 504] {
            assert!(retryable(s));
        }
        for s in [400, 403, 404, 409, 500] {
            assert!(!retryable(s));
        }
    }
}

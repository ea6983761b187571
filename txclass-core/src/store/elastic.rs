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
    decode_cursor, encode_cursor, merchant_of, words, LoggedEvent, MerchantRow, PageRecord,
    SpendingQuery, SpendingRow, Store, StoreError, TxPage, TxQuery, UpsertReport, MAX_EVENTS,
    MAX_PAGE, MAX_TOP_MERCHANTS,
};
use crate::backoff::Backoff;
use crate::model::{
    Category, ClassifiedTransaction, Confidence, CustomerId, JobId, JobRecord, PartnerId,
    Prediction, Transaction,
};
use crate::partner::Secret;

/// Mapping version of the transactions index: bump it when `tx_index_body` changes.
pub const TX_MAPPING_VERSION: u32 = 1;
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

/// How the store authenticates to the engine. `Debug` never shows a secret.
#[derive(Clone, Debug, Default)]
pub enum ElasticAuth {
    /// No credentials (a local test node).
    #[default]
    None,
    /// HTTP basic authentication.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// An API key given as id and key (`Authorization: ApiKey base64(id:key)`).
    ApiKey {
        /// Key id.
        id: String,
        /// The key.
        key: Secret,
    },
    /// A bearer token.
    Bearer(Secret),
}

/// When an upsert's documents become visible to queries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WriteVisibility {
    /// `refresh=wait_for`: the upsert returns once the next periodic refresh made the
    /// documents searchable (up to the index's refresh interval, 1 s by default). The
    /// [`Store`] contract (read your writes) at the lowest cost to the engine.
    #[default]
    WaitFor,
    /// `refresh=true`: refreshes the shard at once. Read your writes without the wait, at the
    /// cost of many small segments under load: for tests and small volumes.
    Immediate,
    /// No refresh: fastest bulk ingest, documents show up within the refresh interval (or
    /// after [`ElasticStore::refresh`]). Breaks read-your-writes: for bulk loads.
    Eventual,
}

/// How to reach and use the engine. Build with [`ElasticConfig::new`] and the `with_*`
/// methods; [`ElasticStore::connect`] checks the rest (URL, prefix).
#[derive(Clone, Debug)]
pub struct ElasticConfig {
    /// Base URL of the engine, e.g. `http://127.0.0.1:9200`. Credentials go in `auth`, never
    /// in the URL (errors may quote the URL).
    pub url: String,
    /// Prefix of every index and alias this store owns, e.g. `txclass`: lower case, no
    /// `/\*?"<>|,# ` and not starting with `-`, `_` or `+`.
    pub index_prefix: String,
    /// Documents per `_bulk` request: a few MB per request is the engine's sweet spot, and our
    /// documents are ~400 bytes.
    pub batch_size: NonZeroUsize,
    /// `_bulk` requests in flight at once for one upsert.
    pub bulk_concurrency: NonZeroUsize,
    /// Attempts per document (and per request) before a retryable failure (HTTP 429, 502,
    /// 503, 504, connection error) is returned as [`StoreError::Unavailable`].
    pub max_attempts: NonZeroU32,
    /// First wait between attempts; doubles each time, up to 5 s.
    pub retry_backoff: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Primary shards of a new index. Replicas are 0: a single test node would stay yellow
    /// otherwise; raise `number_of_replicas` on the index in production.
    pub shards: NonZeroU32,
    /// When written documents become searchable.
    pub visibility: WriteVisibility,
    /// Credentials.
    pub auth: ElasticAuth,
}

impl ElasticConfig {
    /// Defaults for `url`: prefix `txclass`, 1000 documents per bulk request, 2 requests in
    /// flight, 6 attempts from 50 ms, 30 s timeout, 1 shard, [`WriteVisibility::WaitFor`],
    /// no credentials.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            index_prefix: "txclass".into(),
            batch_size: NonZeroUsize::new(1000).expect("non-zero"),
            bulk_concurrency: NonZeroUsize::new(2).expect("non-zero"),
            max_attempts: NonZeroU32::new(6).expect("non-zero"),
            retry_backoff: Duration::from_millis(50),
            request_timeout: Duration::from_secs(30),
            shards: NonZeroU32::new(1).expect("non-zero"),
            visibility: WriteVisibility::default(),
            auth: ElasticAuth::None,
        }
    }

    /// Sets the index prefix.
    pub fn with_index_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.index_prefix = prefix.into();
        self
    }

    /// Sets documents per `_bulk` request.
    pub fn with_batch_size(mut self, n: NonZeroUsize) -> Self {
        self.batch_size = n;
        self
    }

    /// Sets `_bulk` requests in flight.
    pub fn with_bulk_concurrency(mut self, n: NonZeroUsize) -> Self {
        self.bulk_concurrency = n;
        self
    }

    /// Sets attempts and first backoff of retryable failures.
    pub fn with_retry(mut self, max_attempts: NonZeroU32, backoff: Duration) -> Self {
        self.max_attempts = max_attempts;
        self.retry_backoff = backoff;
        self
    }

    /// Sets when written documents become searchable.
    pub fn with_visibility(mut self, v: WriteVisibility) -> Self {
        self.visibility = v;
        self
    }

    /// Sets the credentials.
    pub fn with_auth(mut self, auth: ElasticAuth) -> Self {
        self.auth = auth;
        self
    }

    fn validate(&self) -> Result<Url, StoreError> {
        let url = Url::parse(&self.url)
            .map_err(|e| StoreError::InvalidConfig(format!("elasticsearch url: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(StoreError::InvalidConfig(
                "elasticsearch url carries credentials: put them in auth".into(),
            ));
        }
        if !matches!(url.scheme(), "http" | "https") {
            return Err(StoreError::InvalidConfig(format!(
                "elasticsearch url scheme must be http or https, not {}",
                url.scheme()
            )));
        }
        let p = &self.index_prefix;
        let bad = p.is_empty()
            || p.len() > 100
            || p.starts_with(['-', '_', '+'])
            || p.chars()
                .any(|c| c.is_uppercase() || "\\/*?\"<>|,# :".contains(c) || c.is_control());
        if bad {
            return Err(StoreError::InvalidConfig(format!(
                "index prefix {p:?} is not a valid index name start"
            )));
        }
        Ok(url)
    }
}

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
    counters: Arc<Counters>,
}

impl std::fmt::Debug for ElasticStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElasticStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The document of one transaction. `tx_id` and `partner_id` are fields as well as parts of
/// `_id`, for sorting and filtering.
#[derive(Serialize, Deserialize)]
struct TxDoc {
    partner_id: String,
    customer_id: String,
    tx_id: String,
    date: NaiveDate,
    description: String,
    merchant: String,
    amount_minor: i64,
    currency: String,
    category: String,
    probability: f32,
    confidence: Confidence,
    uncertain: bool,
}

impl TxDoc {
    fn from_tx(ct: &ClassifiedTransaction) -> Self {
        Self {
            partner_id: ct.partner_id.0.clone(),
            customer_id: ct.customer_id.0.clone(),
            tx_id: ct.transaction.id.clone(),
            date: ct.transaction.date,
            description: ct.transaction.description.clone(),
            merchant: merchant_of(&ct.transaction.description),
            amount_minor: ct.transaction.amount_minor,
            currency: ct.transaction.currency.clone(),
            category: ct.prediction.category.0.clone(),
            probability: ct.prediction.probability,
            confidence: ct.prediction.confidence,
            uncertain: ct.prediction.uncertain,
        }
    }

    fn into_tx(self) -> ClassifiedTransaction {
        ClassifiedTransaction {
            partner_id: PartnerId(self.partner_id),
            customer_id: CustomerId(self.customer_id),
            transaction: Transaction {
                id: self.tx_id,
                date: self.date,
                description: self.description,
                amount_minor: self.amount_minor,
                currency: self.currency,
            },
            prediction: Prediction {
                category: Category(self.category),
                probability: self.probability,
                confidence: self.confidence,
                uncertain: self.uncertain,
            },
        }
    }
}

/// `_id` of a transaction: `{len(partner)}:{partner}:{id}`, unambiguous whatever the ids
/// contain.
fn doc_id(partner: &str, id: &str) -> String {
    format!("{}:{partner}:{id}", partner.len())
}

/// Settings and mappings of a transactions index (version [`TX_MAPPING_VERSION`]).
fn tx_index_body(shards: u32) -> Value {
    json!({
        "settings": {
            "number_of_shards": shards,
            "number_of_replicas": 0,
            "analysis": {
                // The same words as `store::words`: runs of letters and digits, lower-cased.
                "tokenizer": {
                    "txclass_words": { "type": "pattern", "pattern": "[^\\p{L}\\p{N}]+" }
                },
                "analyzer": {
                    "txclass_words": {
                        "type": "custom",
                        "tokenizer": "txclass_words",
                        "filter": ["lowercase"]
                    }
                }
            }
        },
        "mappings": {
            "dynamic": "strict",
            "_routing": { "required": true },
            "properties": {
                "partner_id": { "type": "keyword" },
                "customer_id": { "type": "keyword" },
                "tx_id": { "type": "keyword" },
                "date": { "type": "date", "format": "strict_date" },
                "description": {
                    "type": "text",
                    "analyzer": "txclass_words",
                    "fields": { "raw": { "type": "keyword", "ignore_above": 1024 } }
                },
                "merchant": { "type": "keyword" },
                "amount_minor": { "type": "long" },
                "currency": { "type": "keyword" },
                "category": { "type": "keyword" },
                "probability": { "type": "float" },
                "confidence": { "type": "keyword" },
                "uncertain": { "type": "boolean" }
            }
        }
    })
}

/// Settings and mappings of a jobs index (version [`JOB_MAPPING_VERSION`]): a few searchable
/// fields, and the whole record kept in `_source` only.
fn job_index_body() -> Value {
    json!({
        "settings": { "number_of_shards": 1, "number_of_replicas": 0 },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "job_id": { "type": "keyword" },
                "status": { "type": "keyword" },
                "customer_id": { "type": "keyword" },
                "partner_id": { "type": "keyword" },
                "created_at": { "type": "date" },
                "updated_at": { "type": "date" },
                "record": { "type": "object", "enabled": false }
            }
        }
    })
}

/// Settings and mappings of a job checkpoints index (version [`PAGE_MAPPING_VERSION`]): read
/// by id only, so nothing but the job and page number is indexed.
fn page_index_body(shards: u32) -> Value {
    json!({
        "settings": { "number_of_shards": shards, "number_of_replicas": 0 },
        "mappings": {
            "dynamic": "strict",
            "_routing": { "required": true },
            "properties": {
                "job_id": { "type": "keyword" },
                "page": { "type": "long" },
                "record": { "type": "object", "enabled": false }
            }
        }
    })
}

/// Settings and mappings of an event log index (version [`EVENT_MAPPING_VERSION`]): read by
/// id only, so nothing but the job and sequence number is indexed.
fn event_index_body(shards: u32) -> Value {
    json!({
        "settings": { "number_of_shards": shards, "number_of_replicas": 0 },
        "mappings": {
            "dynamic": "strict",
            "_routing": { "required": true },
            "properties": {
                "job_id": { "type": "keyword" },
                "seq": { "type": "long" },
                "event": { "type": "object", "enabled": false }
            }
        }
    })
}

/// `_id` of a job checkpoint: `{job}:{page}`. Unambiguous: the page number is the part after
/// the last `:`.
fn page_id(job: &JobId, page: u32) -> String {
    format!("{job}:{page}")
}

/// The document of a job checkpoint: the record itself kept in `_source` only.
fn page_doc(p: &PageRecord) -> Value {
    json!({
        "job_id": p.job_id.as_str(),
        "page": p.page,
        "record": p,
    })
}

/// `_id` of a logged event: `{job}:{seq}` with `seq` zero-padded to 20 digits (any `u64`), so
/// a job's ids also sort in log order.
fn event_id(job: &JobId, seq: u64) -> String {
    format!("{job}:{seq:020}")
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

fn date_millis(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp_millis()
}

/// Filter clauses of a customer's documents between two dates.
fn customer_filter(
    customer: &CustomerId,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Vec<Value> {
    let mut filter = vec![json!({ "term": { "customer_id": customer.as_str() } })];
    if from.is_some() || to.is_some() {
        let mut range = serde_json::Map::new();
        if let Some(f) = from {
            range.insert("gte".into(), json!(f.to_string()));
        }
        if let Some(t) = to {
            range.insert("lte".into(), json!(t.to_string()));
        }
        filter.push(json!({ "range": { "date": range } }));
    }
    filter
}

/// What happened to one `_bulk` chunk after its retries.
#[derive(Default)]
struct ChunkOutcome {
    report: UpsertReport,
    /// Refused for good: `(transaction id, reason)`.
    rejected: Vec<(String, String)>,
    /// Still failing after the last attempt: the last reason and how many documents.
    unavailable: Option<(usize, String)>,
    /// The chunk's page record (if it carried one) was stored.
    page_stored: bool,
}

/// The answer of an upsert of `total` documents from its chunks' outcomes: the counts, or
/// the refusals (they take precedence: retrying will not help them), or what stayed
/// unavailable after `attempts`.
fn upsert_result(
    outcomes: Vec<ChunkOutcome>,
    total: usize,
    attempts: NonZeroU32,
) -> Result<UpsertReport, StoreError> {
    let mut report = UpsertReport::default();
    let mut rejected = Vec::new();
    let mut unavailable: Option<(usize, String)> = None;
    for o in outcomes {
        report.inserted += o.report.inserted;
        report.updated += o.report.updated;
        rejected.extend(o.rejected);
        if let Some((n, why)) = o.unavailable {
            let total = unavailable.as_ref().map_or(0, |u| u.0) + n;
            unavailable = Some((total, why));
        }
    }
    if let Some((first_id, reason)) = rejected.first() {
        return Err(StoreError::Rejected {
            failed: rejected.len() + unavailable.map_or(0, |u| u.0),
            total,
            first_id: first_id.clone(),
            reason: reason.clone(),
        });
    }
    if let Some((n, why)) = unavailable {
        return Err(StoreError::Unavailable(format!(
            "{n} of {total} transactions not stored after {attempts} attempts: {why}"
        )));
    }
    Ok(report)
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
            counters: Arc::default(),
            config: Arc::new(config),
        };
        let shards = store.config.shards.get();
        store
            .ensure_index(
                &store.tx_alias,
                TX_MAPPING_VERSION,
                tx_index_body(shards),
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

    /// Makes everything written so far searchable (after [`WriteVisibility::Eventual`] loads).
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let resp = self
            .client
            .indices()
            .refresh(IndicesRefreshParts::Index(&self.aliases()))
            .send()
            .await
            .map_err(unavailable)?;
        json_of("refresh", resp).await.map(drop)
    }

    /// Deletes this store's indexes (every version behind its aliases): for tests and
    /// benchmarks that made a throw-away prefix.
    pub async fn delete_indexes(&self) -> Result<(), StoreError> {
        for alias in self.aliases() {
            for index in self.indexes_behind(alias).await? {
                let resp = self
                    .client
                    .indices()
                    .delete(IndicesDeleteParts::Index(&[&index]))
                    .send()
                    .await
                    .map_err(unavailable)?;
                json_of("delete index", resp).await?;
            }
        }
        Ok(())
    }

    /// Every alias this store owns.
    fn aliases(&self) -> [&str; 4] {
        [
            &self.tx_alias,
            &self.job_alias,
            &self.page_alias,
            &self.event_alias,
        ]
    }

    /// The indexes an alias points to (none when the alias does not exist).
    async fn indexes_behind(&self, alias: &str) -> Result<Vec<String>, StoreError> {
        let resp = self
            .client
            .indices()
            .get_alias(IndicesGetAliasParts::Name(&[alias]))
            .send()
            .await
            .map_err(unavailable)?;
        if resp.status_code() == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let body = json_of("get alias", resp).await?;
        Ok(body
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default())
    }

    /// Creates `{alias}-v{version}` with `body` behind `alias`, copying the documents of an
    /// older version if the alias points to one (through the Painless `script`, if any, that
    /// brings an old document up to the new mapping).
    async fn ensure_index(
        &self,
        alias: &str,
        version: u32,
        body: Value,
        script: Option<&str>,
    ) -> Result<(), StoreError> {
        let index = format!("{alias}-v{version}");
        let current = self.indexes_behind(alias).await?;
        if current.contains(&index) {
            return Ok(());
        }
        let mut body = body;
        if current.is_empty() {
            body["aliases"] = json!({ alias: {} });
        }
        let resp = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(&index))
            .body(body)
            .send()
            .await
            .map_err(unavailable)?;
        if resp.status_code() == StatusCode::BAD_REQUEST {
            // Another instance may have created it first: that is fine, anything else is not.
            let text = resp.text().await.unwrap_or_default();
            if !text.contains("resource_already_exists_exception") {
                return Err(backend(format!("create index {index}: {}", short(&text))));
            }
        } else {
            json_of("create index", resp).await?;
        }
        if current.is_empty() {
            return Ok(());
        }
        // A mapping change: copy the documents into the new version, then move the alias.
        let mut reindex = json!({
            "conflicts": "proceed",
            "source": { "index": current },
            "dest": { "index": index }
        });
        if let Some(source) = script {
            reindex["script"] = json!({ "lang": "painless", "source": source });
        }
        let resp = self
            .client
            .reindex()
            .wait_for_completion(true)
            .refresh(true)
            .body(reindex)
            .send()
            .await
            .map_err(unavailable)?;
        let done = json_of("reindex", resp).await?;
        if let Some(failures) = done["failures"].as_array().filter(|f| !f.is_empty()) {
            return Err(backend(format!(
                "reindex into {index}: {} failures, first: {}",
                failures.len(),
                short(&failures[0].to_string())
            )));
        }
        let mut actions: Vec<Value> = current
            .iter()
            .map(|old| json!({ "remove": { "index": old, "alias": alias } }))
            .collect();
        actions.push(json!({ "add": { "index": index, "alias": alias } }));
        let resp = self
            .client
            .indices()
            .update_aliases()
            .body(json!({ "actions": actions }))
            .send()
            .await
            .map_err(unavailable)?;
        json_of("move alias", resp).await.map(drop)
    }

    /// Runs `op` (given the attempt number, from 1) until it succeeds or fails with anything
    /// but [`StoreError::Unavailable`], waiting between attempts as `bulk_chunk` does: from
    /// `retry_backoff`, doubling up to 5 s, at most `max_attempts` attempts.
    fn backoff(&self) -> Backoff {
        Backoff::new(self.config.retry_backoff, Duration::from_secs(5))
    }

    async fn retrying<T, F, Fut>(&self, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let attempts = self.config.max_attempts.get();
        let mut backoff = self.backoff();
        let mut attempt = 1;
        loop {
            match op(attempt).await {
                Err(StoreError::Unavailable(_)) if attempt < attempts => {
                    tokio::time::sleep(backoff.next_delay()).await;
                    attempt += 1;
                }
                Err(StoreError::Unavailable(why)) => {
                    return Err(StoreError::Unavailable(format!(
                        "{why} (after {attempts} attempts)"
                    )))
                }
                other => return other,
            }
        }
    }

    /// Realtime `_mget` of `ids`, all routed by `routing`, in `alias`: each document's
    /// `_source` in the order asked, `None` where there is no such document. Sees documents
    /// indexed but not refreshed yet.
    async fn mget(
        &self,
        alias: &str,
        routing: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Value>>, StoreError> {
        let resp = self
            .client
            .mget(MgetParts::Index(alias))
            .routing(routing)
            .realtime(true)
            .body(json!({ "ids": ids }))
            .send()
            .await
            .map_err(unavailable)?;
        let body = json_of("mget", resp).await?;
        let docs = body["docs"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        if docs.len() != ids.len() {
            return Err(backend(format!(
                "mget answered {} documents for {} ids",
                docs.len(),
                ids.len()
            )));
        }
        docs.iter()
            .map(|d| {
                if let Some(e) = d.get("error") {
                    // A shard that cannot answer now (relocating, recovering): retryable.
                    return Err(StoreError::Unavailable(format!(
                        "mget {}: {}",
                        d["_id"].as_str().unwrap_or(""),
                        short(&e.to_string())
                    )));
                }
                Ok((d["found"] == json!(true)).then(|| d["_source"].clone()))
            })
            .collect()
    }

    /// The `_source`s of the documents `id(first)`, `id(first + 1)`, … routed by `routing`
    /// in `alias`, at most `limit`, up to the first one missing: a gap-free log read in
    /// realtime, [`MGET_ROUND`] ids per round trip.
    async fn read_log(
        &self,
        alias: &str,
        routing: &str,
        first: u64,
        limit: u64,
        id: impl Fn(u64) -> String + Send + Sync,
    ) -> Result<Vec<Value>, StoreError> {
        let mut out = Vec::new();
        let mut next = first;
        while (out.len() as u64) < limit {
            let round = (limit - out.len() as u64).min(MGET_ROUND);
            let ids: Vec<String> = (next..next.saturating_add(round)).map(&id).collect();
            if ids.is_empty() {
                break;
            }
            let docs = self.retrying(|_| self.mget(alias, routing, &ids)).await?;
            for doc in docs {
                match doc {
                    Some(source) => out.push(source),
                    None => return Ok(out),
                }
            }
            next += ids.len() as u64;
        }
        Ok(out)
    }

    /// One attempt at creating event document `id`; `attempt` > 1 means an earlier attempt
    /// may have been stored with its answer lost.
    async fn create_event(
        &self,
        job: &JobId,
        seq: u64,
        id: &str,
        doc: &Value,
        attempt: u32,
    ) -> Result<(), StoreError> {
        let resp = self
            .client
            .create(CreateParts::IndexId(&self.event_alias, id))
            .routing(job.as_str())
            .body(doc)
            .send()
            .await
            .map_err(unavailable)?;
        if resp.status_code() == StatusCode::CONFLICT {
            if attempt > 1 {
                // An earlier attempt of ours may have been stored with its answer lost (a
                // timeout, a 503 from a proxy): the same document there is our own write, not
                // a conflict, or the job's rightful writer would stop itself. The price: a
                // second writer that logged a byte-identical event at this number in between
                // goes unnoticed until the next number that differs.
                let stored = self
                    .mget(&self.event_alias, job.as_str(), &[id.to_owned()])
                    .await?;
                if stored.first().and_then(Option::as_ref) == Some(doc) {
                    return Ok(());
                }
            }
            return Err(StoreError::Conflict(format!(
                "event {seq} of job {job} exists"
            )));
        }
        json_of("append event", resp).await.map(drop)
    }

    /// Sends one chunk with `_bulk`, retrying the documents that failed retryably. A `page`
    /// record goes in the same request, after the transactions; it is document number
    /// `chunk.len()` of the chunk and never counted in the report.
    async fn bulk_chunk(
        &self,
        chunk: &[ClassifiedTransaction],
        page: Option<&PageRecord>,
    ) -> ChunkOutcome {
        let mut out = ChunkOutcome::default();
        let docs = chunk.len() + usize::from(page.is_some());
        let mut pending: Vec<usize> = (0..docs).collect();
        // What a refusal names: the transaction id, or the checkpoint's id.
        let name = |i: usize| match chunk.get(i) {
            Some(ct) => ct.transaction.id.clone(),
            None => page.map_or_else(String::new, |p| {
                format!("checkpoint {}", page_id(&p.job_id, p.page))
            }),
        };
        let mut backoff = self.backoff();
        let attempts = self.config.max_attempts.get();
        for attempt in 1..=attempts {
            if attempt > 1 {
                self.counters
                    .retried_docs
                    .fetch_add(pending.len() as u64, Ordering::Relaxed);
                tokio::time::sleep(backoff.next_delay()).await;
            }
            let mut body = Vec::with_capacity(pending.len() * 2);
            for &i in &pending {
                match (chunk.get(i), page) {
                    (Some(ct), _) => {
                        let meta = json!({ "index": {
                            "_id": doc_id(ct.partner_id.as_str(), &ct.transaction.id),
                            "routing": ct.customer_id.as_str(),
                        }});
                        body.push(meta.to_string());
                        body.push(
                            serde_json::to_string(&TxDoc::from_tx(ct)).expect("doc serialises"),
                        );
                    }
                    (None, Some(p)) => {
                        let meta = json!({ "index": {
                            "_index": &*self.page_alias,
                            "_id": page_id(&p.job_id, p.page),
                            "routing": p.job_id.as_str(),
                        }});
                        body.push(meta.to_string());
                        body.push(page_doc(p).to_string());
                    }
                    (None, None) => unreachable!("pending indexes are documents of the chunk"),
                }
            }
            self.counters.bulk_requests.fetch_add(1, Ordering::Relaxed);
            let mut req = self
                .client
                .bulk(BulkParts::Index(&self.tx_alias))
                .filter_path(&[
                    "errors",
                    "items.*.status",
                    "items.*.result",
                    "items.*.error.type",
                    "items.*.error.reason",
                ])
                .body(body);
            req = match self.config.visibility {
                WriteVisibility::WaitFor => req.refresh(Refresh::WaitFor),
                WriteVisibility::Immediate => req.refresh(Refresh::True),
                WriteVisibility::Eventual => req,
            };
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    out.unavailable = Some((pending.len(), format!("bulk request: {e}")));
                    continue;
                }
            };
            let status = resp.status_code().as_u16();
            let value = match json_of("bulk", resp).await {
                Ok(v) => v,
                Err(StoreError::Unavailable(msg)) => {
                    out.unavailable = Some((pending.len(), msg));
                    continue;
                }
                Err(e) => {
                    // The whole request was refused (e.g. 400, 403): every document is.
                    let reason = e.to_string();
                    out.rejected
                        .extend(pending.iter().map(|&i| (name(i), reason.clone())));
                    out.unavailable = None;
                    return out;
                }
            };
            let items = value["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            if items.len() != pending.len() {
                let reason = format!(
                    "bulk answered {} items for {} documents (http {status})",
                    items.len(),
                    pending.len()
                );
                out.unavailable = Some((pending.len(), reason));
                continue;
            }
            let mut again = Vec::new();
            let mut last_retryable = None;
            for (&i, item) in pending.iter().zip(items) {
                let r = &item["index"];
                let code = r["status"].as_u64().unwrap_or(0) as u16;
                match r["result"].as_str() {
                    Some(_) if code < 300 && i >= chunk.len() => out.page_stored = true,
                    Some("created") if code < 300 => out.report.inserted += 1,
                    Some(_) if code < 300 => out.report.updated += 1,
                    _ => {
                        let reason = format!(
                            "http {code} {}: {}",
                            r["error"]["type"].as_str().unwrap_or("unknown"),
                            short(r["error"]["reason"].as_str().unwrap_or(""))
                        );
                        if retryable(code) {
                            again.push(i);
                            last_retryable = Some(reason);
                        } else {
                            out.rejected.push((name(i), reason));
                        }
                    }
                }
            }
            pending = again;
            out.unavailable = last_retryable.map(|r| (pending.len(), r));
            if pending.is_empty() {
                break;
            }
        }
        out
    }

    async fn search(&self, routing: &str, body: Value) -> Result<Value, StoreError> {
        let resp = self
            .client
            .search(SearchParts::Index(&[&self.tx_alias]))
            .routing(&[routing])
            .body(body)
            .send()
            .await
            .map_err(unavailable)?;
        json_of("search", resp).await
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
        let res = self
            .retrying(|_| async {
                let resp = self
                    .client
                    .search(SearchParts::Index(&[&self.job_alias]))
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(unavailable)?;
                json_of("running jobs", resp).await
            })
            .await?;
        let hits = res["hits"]["hits"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        hits.iter()
            .map(|h| {
                serde_json::from_value(h["_source"]["record"].clone())
                    .map_err(|e| backend(format!("job record does not decode: {e}")))
            })
            .collect()
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
        let resp = self
            .client
            .get(GetParts::IndexId(&self.job_alias, id.as_str()))
            .send()
            .await
            .map_err(unavailable)?;
        if resp.status_code() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = json_of("get job", resp).await?;
        if body["found"] != json!(true) {
            return Ok(None);
        }
        serde_json::from_value(body["_source"]["record"].clone())
            .map(Some)
            .map_err(|e| backend(format!("job {id} does not decode: {e}")))
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
        let hits = res["hits"]["hits"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut items = hits
            .iter()
            .map(|h| {
                serde_json::from_value::<TxDoc>(h["_source"].clone())
                    .map(TxDoc::into_tx)
                    .map_err(|e| backend(format!("stored transaction does not decode: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|l| {
                encode_cursor(l.transaction.date, l.partner_id.as_str(), &l.transaction.id)
            })
        } else {
            None
        };
        Ok(TxPage { items, next_cursor })
    }

    async fn spending(&self, q: &SpendingQuery) -> Result<Vec<SpendingRow>, StoreError> {
        let filter = customer_filter(&q.customer_id, q.from, q.to);
        let mut rows = Vec::new();
        let mut after: Option<Value> = None;
        loop {
            let mut composite = json!({
                "size": 1000,
                "sources": [
                    { "month": { "date_histogram": {
                        "field": "date", "calendar_interval": "month", "format": "yyyy-MM"
                    } } },
                    { "category": { "terms": { "field": "category" } } }
                ]
            });
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
            "aggs": { "merchants": {
                "terms": {
                    "field": "merchant",
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
                merchant: b["key"].as_str().unwrap_or_default().to_owned(),
                count: b["doc_count"].as_u64().unwrap_or(0),
                amount_minor: b["spent"]["value"].as_f64().unwrap_or(0.0).round() as i64,
            })
            .collect())
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

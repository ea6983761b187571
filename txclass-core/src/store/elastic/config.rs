//! What the Elasticsearch store is told: where the engine is, how to authenticate, how to
//! batch and retry, and when writes become visible.

use super::*;

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

    pub(super) fn validate(&self) -> Result<Url, StoreError> {
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

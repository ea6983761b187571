//! The server's configuration: a TOML or JSON file, embedded defaults for everything, and
//! overrides from flags and the environment (applied by the binary).
//!
//! The file follows the core's rules ([`txclass_core::config`]): unknown keys at any depth
//! are refused with their path, every table may be partial, and every duration key ends in
//! `_ms` (integer milliseconds).

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use txclass_core::orchestrator::RedisSettings;
use txclass_core::store::{StoreConfig, StoreKeys};
use txclass_core::PartnerConfig;

use crate::{Error, Result};

/// Everything the server reads at start. Every field has a default, so an empty file (or
/// none) gives a working server on `127.0.0.1:8080` with the built-in sandbox partner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Shorthand for `[store] kind = "sqlite"` with this `path`; `":memory:"` keeps
    /// everything in memory. Giving both this and `[store]` is an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_path: Option<PathBuf>,
    /// The store (default: SQLite at `data/txclass.db`); see [`StoreConfig`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreConfig>,
    /// Partners reached over HTTP. Tokens come from `auth.token_env` (never from logs).
    pub partners: Vec<PartnerConfig>,
    /// The built-in sandbox partner (the simulator, in-process on a loopback port).
    pub sandbox: SandboxConfig,
    /// Quiet time after which an SSE stream gets a `: keep-alive` comment, in ms.
    pub keep_alive_ms: u64,
    /// After a shutdown signal, how long open streams and running jobs may go on before the
    /// jobs are handed over to other instances and the streams end, in ms.
    pub grace_period_ms: u64,
    /// Largest request body accepted, in bytes (larger: 413).
    pub body_limit: usize,
    /// Largest HTTP/1.1 request head (request line and headers) accepted, in bytes (larger:
    /// 431). With `http1_fast_path = false` it is at least 8192 (hyper's smallest buffer).
    pub max_header_bytes: usize,
    /// Retry workers taking calls off the retry queue.
    pub retry_workers: usize,
    /// Serve HTTP/1.1 SSE streams on the server's own fast path (about 1.8 KB per idle
    /// stream instead of about 20 KB through hyper); `false` sends every connection through
    /// hyper. Answers are the same either way.
    pub http1_fast_path: bool,
    /// Serve `GET /v1/bench/sse` (synthetic streams for the throughput benchmark).
    pub bench_routes: bool,
    /// Timeouts and caps on client connections, on every transport (the `[connections]`
    /// table).
    pub connections: ConnectionConfig,
    /// How jobs run: waits, deadline, re-attach window, leases (the core's
    /// [`Settings`](txclass_core::Settings), as the `[jobs]` table).
    pub jobs: txclass_core::Settings,
    /// Share limiter, retry queue, result bus and breaker state with other instances through
    /// this Redis (needs the `redis` feature). Absent: everything in this process.
    pub redis: Option<RedisSettings>,
    /// `GET /metrics` (Prometheus text format).
    pub metrics: MetricsConfig,
    /// When corrections suggest (or create) rules: the `[corrections]` table.
    pub corrections: txclass_core::orchestrator::CorrectionSettings,
    /// Who may call the API: the `[auth]` table.
    pub auth: AuthConfig,
}

/// The `[auth]` table: API keys, and the local-only mode without them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `auto` (the default): no keys when listening on a loopback address (local-only
    /// mode, said at start), keys otherwise; `keys`: every API request needs a key;
    /// `off`: no keys, refused on an address other machines can reach.
    pub mode: AuthMode,
    /// The keys file `txclass keys` writes (hashes only); read again when it changes.
    pub keys_file: PathBuf,
    /// Serve `GET /metrics` without a key (a scraper on a private network); by default it
    /// needs a key too when keys are on.
    pub metrics_without_key: bool,
    /// Each tenant's request allowance when keys are on (`[auth.rate]`: `per_second`,
    /// `burst`; shared by every instance through `[redis]` when it is configured).
    pub rate: txclass_core::rate::RateSettings,
    /// The environment variable holding the secret that signs events tokens and console
    /// sessions; every instance needs the same. Unset: a random secret per process (a
    /// token then works only on the instance that minted it).
    pub token_secret_env: String,
    /// How long an events token lasts, in ms.
    pub events_token_ttl_ms: u64,
    /// How long a console session lasts, in ms.
    pub session_ttl_ms: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Auto,
            keys_file: PathBuf::from("data/keys.json"),
            metrics_without_key: false,
            rate: Default::default(),
            token_secret_env: "TXCLASS_TOKEN_SECRET".into(),
            events_token_ttl_ms: 5 * 60 * 1000,
            session_ttl_ms: 12 * 60 * 60 * 1000,
        }
    }
}

/// See [`AuthConfig::mode`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Keys unless the server listens on a loopback address.
    #[default]
    Auto,
    /// Keys.
    Keys,
    /// No keys (loopback only).
    Off,
}

/// What the HTTP layer enforces once [`ServerConfig::auth_settings`] has decided.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthSettings {
    /// The keys file.
    pub keys_file: PathBuf,
    /// `GET /metrics` without a key.
    pub metrics_without_key: bool,
    /// The variable holding the tokens' signing secret (read at start, never kept here).
    pub token_secret_env: String,
    /// How long an events token lasts.
    pub events_token_ttl: Duration,
    /// How long a console session lasts.
    pub session_ttl: Duration,
}

impl AuthSettings {
    /// Keys from `keys_file`, every other setting its default.
    pub fn new(keys_file: impl Into<PathBuf>) -> Self {
        let d = AuthConfig::default();
        Self {
            keys_file: keys_file.into(),
            metrics_without_key: d.metrics_without_key,
            token_secret_env: d.token_secret_env,
            events_token_ttl: Duration::from_millis(d.events_token_ttl_ms),
            session_ttl: Duration::from_millis(d.session_ttl_ms),
        }
    }
}

/// The `[metrics]` table: whether `GET /metrics` is served.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `GET /metrics` (default off: the route does not exist, `404`). The metrics name
    /// partners and categories, never customers, but an operator exposes them on purpose.
    pub enabled: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            store_path: None,
            store: None,
            partners: Vec::new(),
            sandbox: SandboxConfig::default(),
            keep_alive_ms: 15_000,
            grace_period_ms: 10_000,
            body_limit: 64 * 1024,
            max_header_bytes: 64 * 1024,
            retry_workers: 4,
            http1_fast_path: true,
            bench_routes: false,
            connections: ConnectionConfig::default(),
            jobs: txclass_core::Settings::default(),
            redis: None,
            metrics: MetricsConfig::default(),
            corrections: Default::default(),
            auth: AuthConfig::default(),
        }
    }
}

/// The built-in sandbox partner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Start it (and register it as partner `id`).
    pub enabled: bool,
    /// Its partner id.
    pub id: String,
    /// Its capacity (the limiter's permits, and the simulator's own limit).
    pub capacity: NonZeroU32,
    /// Transactions per page.
    pub page_size: NonZeroU32,
    /// Shortest simulated latency of a call, in ms (0 for benchmarks).
    pub latency_min_ms: u64,
    /// Longest simulated latency of a call, in ms (uniform between the two).
    pub latency_max_ms: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            id: "sandbox".into(),
            capacity: NonZeroU32::new(8).expect("non-zero"),
            page_size: NonZeroU32::new(100).expect("non-zero"),
            latency_min_ms: 20,
            latency_max_ms: 120,
        }
    }
}

impl ServerConfig {
    /// Reads a config file: TOML, or JSON when the name ends in `.json`. Errors name the
    /// file, the key's path and the line.
    pub fn from_file(path: &Path) -> Result<Self> {
        txclass_core::config::from_file(path).map_err(|e| Error::Config {
            what: e.to_string(),
        })
    }

    /// The store to open: `[store]`, or SQLite at `store_path`, or the default SQLite file.
    pub fn store_config(&self) -> Result<StoreConfig> {
        StoreKeys {
            store_path: self.store_path.clone(),
            store: self.store.clone(),
        }
        .resolve()
        .map_err(|e| Error::Config {
            what: e.to_string(),
        })
    }

    /// The settings the HTTP layer uses.
    pub fn http_settings(&self) -> HttpSettings {
        HttpSettings {
            keep_alive: Duration::from_millis(self.keep_alive_ms.max(1)),
            grace_period: Duration::from_millis(self.grace_period_ms),
            body_limit: self.body_limit,
            max_header_bytes: self.max_header_bytes,
            retry_workers: self.retry_workers,
            http1_fast_path: self.http1_fast_path,
            bench_routes: self.bench_routes,
            connections: self.connections.limits(),
            metrics: self.metrics.enabled,
            auth: None,
        }
    }

    /// Whether requests need keys (`Some`, with what to check them against) or the server
    /// runs local-only (`None`); `[auth] mode = "off"` on an address other machines can
    /// reach is refused.
    pub fn auth_settings(&self) -> Result<Option<AuthSettings>> {
        let loopback = self.listen.ip().is_loopback();
        let keys = match self.auth.mode {
            AuthMode::Keys => true,
            AuthMode::Auto => !loopback,
            AuthMode::Off if loopback => false,
            AuthMode::Off => {
                return Err(Error::Config {
                    what: format!(
                        "auth.mode = \"off\" would serve every tenant's data without a key on \
                         {}, which other machines can reach: listen on 127.0.0.1, or use keys \
                         (`txclass keys create --tenant …`)",
                        self.listen
                    ),
                })
            }
        };
        Ok(keys.then(|| AuthSettings {
            keys_file: self.auth.keys_file.clone(),
            metrics_without_key: self.auth.metrics_without_key,
            token_secret_env: self.auth.token_secret_env.clone(),
            events_token_ttl: Duration::from_millis(self.auth.events_token_ttl_ms.max(1)),
            session_ttl: Duration::from_millis(self.auth.session_ttl_ms.max(1)),
        }))
    }

    /// The orchestrator's settings: the `[jobs]` and `[corrections]` tables.
    pub fn core_settings(&self) -> txclass_core::Settings {
        txclass_core::Settings {
            corrections: self.corrections.clone(),
            ..self.jobs.clone()
        }
    }
}

/// What the HTTP layer needs to know, once the orchestrator is built.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpSettings {
    /// Quiet time before a `: keep-alive` comment.
    pub keep_alive: Duration,
    /// How long open streams may run after a shutdown signal.
    pub grace_period: Duration,
    /// Largest request body.
    pub body_limit: usize,
    /// Largest HTTP/1.1 request head.
    pub max_header_bytes: usize,
    /// Retry workers [`run`](crate::run) spawns.
    pub retry_workers: usize,
    /// HTTP/1.1 SSE streams on the fast path (else every connection goes through hyper).
    pub http1_fast_path: bool,
    /// Serve the benchmark routes.
    pub bench_routes: bool,
    /// Timeouts and caps on client connections.
    pub connections: ConnectionLimits,
    /// Serve `GET /metrics` (and install the Prometheus exporter).
    pub metrics: bool,
    /// API keys (`None`: local-only, every request is the local tenant's).
    pub auth: Option<AuthSettings>,
}

/// Timeouts and caps on client connections (the `[connections]` table). They bound what a
/// client that connects and then sends slowly, sends nothing, or stops reading can hold:
/// every such connection is closed within the longest of these timeouts, and an HTTP/2
/// connection holds at most `http2_max_concurrent_streams` responses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionConfig {
    /// How long a client may take to send a request head, from the moment the server waits
    /// for one (HTTP/1.1, both transports; longer: the connection is closed).
    pub header_read_timeout_ms: u64,
    /// How long a client may take to send a request body once its head is read (both
    /// transports, HTTP/1.1 and HTTP/2; longer: `408` and the connection is closed).
    pub body_read_timeout_ms: u64,
    /// How long a new connection may take to say which protocol it speaks: for HTTP/2, the
    /// whole connection preface and the client's first SETTINGS frame.
    pub handshake_timeout_ms: u64,
    /// How long a connection served by hyper (HTTP/2, and HTTP/1.1 requests that are not
    /// SSE) may stay without an open request or response before it is closed (HTTP/2:
    /// GOAWAY).
    pub idle_timeout_ms: u64,
    /// How long a response may wait for the client to take more of it (HTTP/2 flow control
    /// or a full socket) before the connection is closed: a client that stops reading frees
    /// what its responses hold within this.
    pub send_timeout_ms: u64,
    /// HTTP/2: a PING after this much silence from the client; 0 sends none.
    pub http2_keep_alive_interval_ms: u64,
    /// HTTP/2: a PING not answered within this closes the connection.
    pub http2_keep_alive_timeout_ms: u64,
    /// HTTP/2: most streams open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS).
    pub http2_max_concurrent_streams: NonZeroU32,
    /// HTTP/2: most response bytes buffered per stream beyond what the client's flow-control
    /// window lets through.
    pub http2_max_send_buf_bytes: usize,
    /// HTTP/2: the window the client gets per stream for request bodies.
    pub http2_initial_stream_window_bytes: u32,
    /// HTTP/2: the window the client gets for the whole connection.
    pub http2_initial_connection_window_bytes: u32,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 30_000,
            body_read_timeout_ms: 30_000,
            handshake_timeout_ms: 10_000,
            idle_timeout_ms: 30_000,
            send_timeout_ms: 30_000,
            http2_keep_alive_interval_ms: 20_000,
            http2_keep_alive_timeout_ms: 10_000,
            http2_max_concurrent_streams: NonZeroU32::new(100).expect("non-zero"),
            http2_max_send_buf_bytes: 64 * 1024,
            http2_initial_stream_window_bytes: 64 * 1024,
            http2_initial_connection_window_bytes: 1024 * 1024,
        }
    }
}

impl ConnectionConfig {
    /// The limits as the transports use them (a zero timeout is taken as 1 ms).
    pub fn limits(&self) -> ConnectionLimits {
        let ms = |v: u64| Duration::from_millis(v.max(1));
        ConnectionLimits {
            header_read_timeout: ms(self.header_read_timeout_ms),
            body_read_timeout: ms(self.body_read_timeout_ms),
            handshake_timeout: ms(self.handshake_timeout_ms),
            idle_timeout: ms(self.idle_timeout_ms),
            send_timeout: ms(self.send_timeout_ms),
            http2_keep_alive_interval: (self.http2_keep_alive_interval_ms > 0)
                .then(|| Duration::from_millis(self.http2_keep_alive_interval_ms)),
            http2_keep_alive_timeout: ms(self.http2_keep_alive_timeout_ms),
            http2_max_concurrent_streams: self.http2_max_concurrent_streams,
            http2_max_send_buf_bytes: self.http2_max_send_buf_bytes,
            http2_initial_stream_window_bytes: self.http2_initial_stream_window_bytes,
            http2_initial_connection_window_bytes: self.http2_initial_connection_window_bytes,
        }
    }
}

/// [`ConnectionConfig`] as the transports use it (see there for each limit).
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionLimits {
    /// `header_read_timeout_ms`.
    pub header_read_timeout: Duration,
    /// `body_read_timeout_ms`.
    pub body_read_timeout: Duration,
    /// `handshake_timeout_ms`.
    pub handshake_timeout: Duration,
    /// `idle_timeout_ms`.
    pub idle_timeout: Duration,
    /// `send_timeout_ms`.
    pub send_timeout: Duration,
    /// `http2_keep_alive_interval_ms` (`None`: no pings).
    pub http2_keep_alive_interval: Option<Duration>,
    /// `http2_keep_alive_timeout_ms`.
    pub http2_keep_alive_timeout: Duration,
    /// `http2_max_concurrent_streams`.
    pub http2_max_concurrent_streams: NonZeroU32,
    /// `http2_max_send_buf_bytes`.
    pub http2_max_send_buf_bytes: usize,
    /// `http2_initial_stream_window_bytes`.
    pub http2_initial_stream_window_bytes: u32,
    /// `http2_initial_connection_window_bytes`.
    pub http2_initial_connection_window_bytes: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionConfig::default().limits()
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        ServerConfig::default().http_settings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let c: ServerConfig = toml::from_str("").unwrap();
        assert_eq!(c, ServerConfig::default());
        assert_eq!(
            c.store_config().unwrap(),
            StoreConfig::sqlite("data/txclass.db")
        );
        assert!(c.sandbox.enabled);
    }

    #[test]
    fn partners_and_knobs_are_read_from_toml() {
        let c: ServerConfig = toml::from_str(
            r#"
            listen = "127.0.0.1:9000"
            grace_period_ms = 500
            [sandbox]
            enabled = false
            [[partners]]
            id = "bank"
            base_url = "http://127.0.0.1:9001"
            capacity = 3
            auth = { token_env = "BANK_TOKEN" }
            "#,
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.http_settings().grace_period, Duration::from_millis(500));
        assert!(!c.sandbox.enabled);
        assert_eq!(c.partners[0].capacity.get(), 3);
        assert_eq!(
            c.partners[0].auth.as_ref().unwrap().token_env.as_deref(),
            Some("BANK_TOKEN")
        );
    }

    #[test]
    fn a_redis_section_is_read() {
        let c: ServerConfig = toml::from_str(
            r#"
            [redis]
            url_env = "TXCLASS_REDIS_URL"
            prefix = "prod"
            lease_ms = 5000
            "#,
        )
        .unwrap();
        let r = c.redis.unwrap();
        assert_eq!(r.prefix, "prod");
        assert_eq!(r.lease, Duration::from_secs(5));
        assert!(r.share_breakers);
    }

    #[test]
    fn the_readme_example_is_a_valid_config() {
        let readme = include_str!("../../README.md");
        let blocks: Vec<&str> = readme
            .split("```toml\n")
            .skip(1)
            .map(|b| &b[..b.find("```").expect("closed")])
            .collect();
        assert!(
            blocks.len() >= 2,
            "the full example, the elasticsearch store and [metrics]"
        );
        let c = parse(blocks[0]).unwrap();
        assert_eq!(c.partners[0].capacity.get(), 10);
        assert_eq!(c.partners[0].timeout, Duration::from_secs(10));
        assert_eq!(c.partners[0].circuit.minimum_calls.get(), 20);
        assert_eq!(c.partners[0].adaptive.probe_after, 16);
        assert_eq!(c.partners[0].circuit.open_for, Duration::from_secs(5));
        assert_eq!(
            c.store_config().unwrap(),
            StoreConfig::sqlite("data/txclass.db")
        );
        let redis = c.redis.unwrap();
        assert_eq!(redis.url_env.as_deref(), Some("TXCLASS_REDIS_URL"));
        assert_eq!(redis.lease, Duration::from_secs(15));
        assert!(!c.metrics.enabled);
        let mut metrics_blocks = 0;
        for block in &blocks[1..] {
            let c = parse(block).unwrap();
            if block.contains("[store]") {
                assert!(matches!(
                    c.store_config().unwrap(),
                    StoreConfig::Elasticsearch(_)
                ));
            } else {
                assert!(c.metrics.enabled, "{block}");
                metrics_blocks += 1;
            }
        }
        assert_eq!(metrics_blocks, 1, "the [metrics] example");
    }

    #[test]
    fn the_http1_fast_path_is_on_unless_turned_off() {
        assert!(ServerConfig::default().http_settings().http1_fast_path);
        let c = parse("http1_fast_path = false").unwrap();
        assert!(!c.http_settings().http1_fast_path);
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<ServerConfig>("listn = \"x\"").is_err());
    }

    /// Parses as `ServerConfig::from_file` does, returning the error's text.
    fn parse(text: &str) -> std::result::Result<ServerConfig, String> {
        txclass_core::config::from_toml_str("server.toml", text).map_err(|e| e.to_string())
    }

    pub(super) const PARTNER: &str =
        "[[partners]]\nid = \"bank\"\nbase_url = \"http://127.0.0.1:1\"\ncapacity = 2\n";

    #[test]
    fn a_typo_at_any_depth_is_refused_with_its_path() {
        for (text, path, key) in [
            (
                format!("{PARTNER}timout = 5"),
                "partners[0].timout",
                "timout",
            ),
            (
                format!("{PARTNER}page_sise = 5"),
                "partners[0].page_sise",
                "page_sise",
            ),
            (
                format!("{PARTNER}[partners.retry]\nmax_attempt = 5"),
                "partners[0].retry.max_attempt",
                "max_attempt",
            ),
            (
                format!("{PARTNER}[partners.circuit]\nopen_for = 5"),
                "partners[0].circuit.open_for",
                "open_for",
            ),
            (
                format!("{PARTNER}auth = {{ token_env = \"T\", tokn = \"x\" }}"),
                "partners[0].auth.tokn",
                "tokn",
            ),
            (
                "[redis]\nurl = \"redis://h\"\nleas_ms = 1".into(),
                "redis.leas_ms",
                "leas_ms",
            ),
            (
                "[sandbox]\ncapcity = 1".into(),
                "sandbox.capcity",
                "capcity",
            ),
            (
                "[store]\nkind = \"sqlite\"\npth = \"x\"".into(),
                "store.pth",
                "pth",
            ),
        ] {
            let e = parse(&text).unwrap_err();
            assert!(
                e.starts_with(&format!("server.toml: {path}")),
                "{text:?} gave {e}"
            );
            assert!(
                e.contains(&format!("unknown field `{key}`")),
                "{text:?} gave {e}"
            );
            assert!(e.contains("(line "), "{e}");
        }
        // Inside the tagged window table, serde reports the field without its own path.
        let e = parse(&format!(
            "{PARTNER}[partners.circuit]\nwindow = {{ type = \"count_based\", cals = 3 }}"
        ))
        .unwrap_err();
        assert!(e.contains("partners[0].circuit.window"), "{e}");
        assert!(e.contains("unknown field `cals`"), "{e}");
    }

    #[test]
    fn the_old_bare_millisecond_keys_are_refused_naming_the_new_ones() {
        let e = parse(&format!("{PARTNER}timeout = 10000")).unwrap_err();
        assert!(e.contains("unknown field `timeout`"), "{e}");
        assert!(e.contains("`timeout_ms`"), "{e}");
        let e = parse("[redis]\nlease = 5000").unwrap_err();
        assert!(e.contains("`lease_ms`"), "{e}");
    }

    #[test]
    fn partial_nested_tables_take_the_defaults() {
        let c = parse(&format!(
            "{PARTNER}[partners.retry]\nmax_attempts = 5\n[partners.circuit]\nopen_for_ms = 100\n\
             [redis]\nurl = \"redis://h\"\n[sandbox]\ncapacity = 3"
        ))
        .unwrap();
        let p = &c.partners[0];
        assert_eq!(p.retry.max_attempts.get(), 5);
        let retry_defaults = txclass_core::orchestrator::RetryPolicy::default();
        assert_eq!(p.retry.retry_on, retry_defaults.retry_on);
        assert_eq!(p.retry.base_backoff, retry_defaults.base_backoff);
        assert_eq!(p.retry.max_backoff, retry_defaults.max_backoff);
        assert_eq!(p.circuit.open_for, Duration::from_millis(100));
        let circuit = txclass_core::breaker::CircuitPolicy {
            open_for: Duration::from_millis(100),
            ..Default::default()
        };
        assert_eq!(p.circuit, circuit);
        assert_eq!(p.timeout, Duration::from_secs(10));
        assert_eq!(c.redis.unwrap().lease, RedisSettings::default().lease);
        assert_eq!(c.sandbox.capacity.get(), 3);
        assert_eq!(c.sandbox.id, "sandbox");
    }

    #[test]
    fn the_jobs_table_is_the_cores_settings() {
        let c: ServerConfig =
            toml::from_str("[jobs]\nreattach_window_ms = 5000\nlease_ms = 3000").unwrap();
        let s = c.core_settings();
        assert_eq!(s.reattach_window, Duration::from_secs(5));
        assert_eq!(s.job_lease, Duration::from_secs(3));
        assert_eq!(
            s.job_deadline,
            txclass_core::Settings::default().job_deadline
        );
        assert!(toml::from_str::<ServerConfig>("[jobs]\nreattach_window = 5").is_err());
    }

    #[test]
    fn every_duration_key_ends_in_ms() {
        let c = parse(&format!(
            "{PARTNER}auth = {{ token_env = \"T\" }}\n[redis]\nurl = \"redis://h\"\n\
             [store]\nkind = \"elasticsearch\""
        ))
        .unwrap();
        // Integer keys that are not durations; any other integer key must end in `_ms`.
        const NOT_DURATIONS: &[&str] = &[
            "body_limit",
            "max_header_bytes",
            "retry_workers",
            "capacity",
            "page_size",
            "max_attempts",
            "calls",
            "minimum_calls",
            "failure_rate_threshold",
            "slow_call_rate_threshold",
            "half_open_calls",
            "batch_size",
            "bulk_concurrency",
            "shards",
            "max_window_days",
            "suggest_rule_after",
            "burst",
            "per_second",
            "worker_concurrency",
            "backoff_ratio",
            "probe_after",
            "min_limit",
            "http2_max_concurrent_streams",
            "http2_max_send_buf_bytes",
            "http2_initial_stream_window_bytes",
            "http2_initial_connection_window_bytes",
        ];
        fn walk(v: &serde_json::Value, key: &str, bad: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        walk(v, k, bad);
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, key, bad)),
                serde_json::Value::Number(_)
                    if !key.ends_with("_ms") && !NOT_DURATIONS.contains(&key) =>
                {
                    bad.push(key.to_owned())
                }
                _ => {}
            }
        }
        let mut bad = Vec::new();
        walk(&serde_json::to_value(&c).unwrap(), "", &mut bad);
        assert!(
            bad.is_empty(),
            "integer keys that are neither _ms nor listed: {bad:?}"
        );
    }

    #[test]
    fn a_config_error_is_one_readable_sentence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.toml");
        std::fs::write(&path, format!("{PARTNER}timout = 5\n")).unwrap();
        let e = ServerConfig::from_file(&path).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "invalid configuration: {}: partners[0].timout: unknown field `timout`, \
                 expected one of `id`, `base_url`, `auth`, `timeout_ms`, `page_size`, \
                 `capacity`, `retry`, `circuit`, `adaptive` (line 5)",
                path.display()
            )
        );
        let missing = dir.path().join("nope.toml");
        let e = ServerConfig::from_file(&missing).unwrap_err().to_string();
        assert!(e.starts_with("invalid configuration: "), "{e}");
        assert!(e.contains("nope.toml: cannot read it"), "{e}");
    }

    #[test]
    fn store_path_and_a_store_table_together_are_refused() {
        let c = parse("store_path = \"a.db\"\n[store]\nkind = \"sqlite\"").unwrap();
        let e = c.store_config().unwrap_err().to_string();
        assert!(e.contains("not both"), "{e}");
        let c = parse("[store]\nkind = \"sqlite\"\npath = \"b.db\"").unwrap();
        assert_eq!(c.store_config().unwrap(), StoreConfig::sqlite("b.db"));
    }
}

/// Fuzz target of the config loader (see `txclass_core::fuzz`).
#[cfg(test)]
mod fuzz {
    use super::*;
    use txclass_core::fuzz::{self, mutated};

    const TOKENS: &[&[u8]] = &[
        b"\n",
        b"[",
        b"]",
        b"[[partners]]\n",
        b"[store]\n",
        b"[redis]\n",
        b"[jobs]\n",
        b"[connections]\n",
        b"[partners.circuit]\n",
        b" = ",
        b"\"",
        b"'",
        b"{",
        b"}",
        b",",
        b"0",
        b"-1",
        b"18446744073709551615",
        b"1e400",
        b"nan",
        b"inf",
        b"true",
        b"#",
        b"_ms = ",
        b"window = { type = \"time_based\", seconds = 0 }\n",
        b"capacity = 0\n",
        b"kind = \"elasticsearch\"\n",
        b"\"\"\"",
    ];

    /// TOML and JSON files: a config is refused with an error, or it loads and every
    /// setting derived from it can be built.
    #[test]
    fn fuzz_config_files() {
        let readme = include_str!("../../README.md");
        let mut seeds: Vec<Vec<u8>> = readme
            .split("```toml\n")
            .skip(1)
            .map(|b| b.as_bytes()[..b.find("```").expect("closed")].to_vec())
            .collect();
        seeds.push(serde_json::to_vec(&ServerConfig::default()).unwrap());
        seeds.push(format!("{}[partners.retry]\nmax_attempts = 5\n", tests::PARTNER).into_bytes());
        fuzz::run("server config", mutated(seeds, TOKENS), |bytes| {
            let text = String::from_utf8_lossy(&bytes);
            let parsed = if text.trim_start().starts_with('{') {
                txclass_core::config::from_json_str::<ServerConfig>("f.json", &text)
            } else {
                txclass_core::config::from_toml_str::<ServerConfig>("f.toml", &text)
            };
            if let Ok(c) = parsed {
                let _ = c.store_config();
                let _ = c.http_settings();
                let _ = c.core_settings();
                let _ = serde_json::to_string(&c);
            }
            Ok(())
        });
    }
}

//! The server's configuration: a TOML or JSON file, embedded defaults for everything, and
//! overrides from flags and the environment (applied by the binary).

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use txclass_core::orchestrator::RedisSettings;
use txclass_core::store::DEFAULT_DB_PATH;
use txclass_core::PartnerConfig;

use crate::{Error, Result};

/// Everything the server reads at start. Every field has a default, so an empty file (or
/// none) gives a working server on `127.0.0.1:8080` with the built-in sandbox partner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// SQLite file of the embedded store; `":memory:"` keeps everything in memory.
    pub store_path: PathBuf,
    /// Partners reached over HTTP. Tokens come from `auth.token_env` (never from logs).
    pub partners: Vec<PartnerConfig>,
    /// The built-in sandbox partner (the simulator, in-process on a loopback port).
    pub sandbox: SandboxConfig,
    /// Quiet time after which an SSE stream gets a `: keep-alive` comment, in ms.
    pub keep_alive_ms: u64,
    /// After a shutdown signal, how long open streams may run before they are ended with
    /// `failed: shutting_down`, in ms.
    pub grace_period_ms: u64,
    /// Largest request body accepted, in bytes (larger: 413).
    pub body_limit: usize,
    /// Largest HTTP/1.1 request head (request line and headers) accepted, in bytes (larger:
    /// 431).
    pub max_header_bytes: usize,
    /// Retry workers taking calls off the retry queue.
    pub retry_workers: usize,
    /// Serve `GET /v1/bench/sse` (synthetic streams for the throughput benchmark).
    pub bench_routes: bool,
    /// How long a job waits for a partner permit before its call goes on the retry queue, in
    /// ms (default: the core's).
    pub acquire_wait_ms: Option<u64>,
    /// Deadline of one job, in ms (default: the core's).
    pub job_deadline_ms: Option<u64>,
    /// Share limiter, retry queue, result bus and breaker state with other instances through
    /// this Redis (needs the `redis` feature). Absent: everything in this process.
    pub redis: Option<RedisSettings>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            store_path: PathBuf::from(DEFAULT_DB_PATH),
            partners: Vec::new(),
            sandbox: SandboxConfig::default(),
            keep_alive_ms: 15_000,
            grace_period_ms: 10_000,
            body_limit: 64 * 1024,
            max_header_bytes: 64 * 1024,
            retry_workers: 4,
            bench_routes: false,
            acquire_wait_ms: None,
            job_deadline_ms: None,
            redis: None,
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
    /// Reads a config file: TOML, or JSON when the name ends in `.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            what: format!("cannot read {}: {e}", path.display()),
        })?;
        let parsed = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            toml::from_str(&text).map_err(|e| e.to_string())
        };
        parsed.map_err(|e| Error::Config {
            what: format!("{}: {e}", path.display()),
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
            bench_routes: self.bench_routes,
        }
    }

    /// The orchestrator's settings: the core's defaults with this file's overrides.
    pub fn core_settings(&self) -> txclass_core::Settings {
        let mut s = txclass_core::Settings::default();
        if let Some(ms) = self.acquire_wait_ms {
            s.acquire_wait = Duration::from_millis(ms);
        }
        if let Some(ms) = self.job_deadline_ms {
            s.job_deadline = Duration::from_millis(ms);
        }
        s
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
    /// Serve the benchmark routes.
    pub bench_routes: bool,
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
        assert_eq!(c.store_path, PathBuf::from("data/txclass.db"));
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
            lease = 5000
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
        let start = readme.find("```toml\n").expect("a toml block") + 8;
        let len = readme[start..].find("```").expect("closed");
        let c: ServerConfig = toml::from_str(&readme[start..start + len]).unwrap();
        assert_eq!(c.partners[0].capacity.get(), 10);
        assert_eq!(c.partners[0].circuit.minimum_calls.get(), 10);
        assert_eq!(
            c.redis.unwrap().url_env.as_deref(),
            Some("TXCLASS_REDIS_URL")
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<ServerConfig>("listn = \"x\"").is_err());
    }
}

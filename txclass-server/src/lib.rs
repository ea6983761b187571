//! # txclass-server
//!
//! A thin HTTP shell over [`txclass_core`]: it parses requests, calls the
//! [`Orchestrator`], and streams each job's [`Progress`](txclass_core::Progress) events to the
//! client as Server-Sent Events. Every decision (validation, limits, retries) is the core's.
//!
//! ## Layout
//!
//! | module | what |
//! |---|---|
//! | [`config`] | [`ServerConfig`] (TOML/JSON file, defaults) and [`HttpSettings`] |
//! | [`sse`] | SSE framing of a progress stream, keep-alives, shutdown |
//! | `routes` | routing and handlers by role (jobs, queries, health, bench, bodies), shared by both transports |
//! | `transport` | the accept loop, hyper, the HTTP/1.1 fast path for SSE responses (`http1_fast_path`), the shutdown drain |
//! | `exporter` | the Prometheus exporter behind `GET /metrics` (`[metrics] enabled`) |
//! | [`error`] | [`Error`] (start/run) and [`ApiError`] (JSON error bodies) |
//!
//! ## Routes
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1/classifications` | `text/event-stream` of the job; `202` with `Prefer: respond-async` |
//! | `GET /v1/classifications/{id}` | the job record and a page of its transactions |
//! | `GET /v1/customers/{id}/transactions` | stored transactions (filters, cursor) |
//! | `GET /v1/customers/{id}/spending` | spend per month per category |
//! | `GET /v1/partners`, `GET /v1/partners/{id}/health` | partners, circuits, permits |
//! | `GET /`, `GET /console/{file}` | the web console (HTML, script, style sheet; compiled in) |
//! | `GET /healthz` | liveness |
//! | `GET /readyz` | readiness: `200` when the store (and Redis, if configured) answer, else `503` |
//! | `GET /metrics` | Prometheus text format (with `[metrics] enabled = true` only) |
//!
//! ## Quick example
//!
//! ```no_run
//! use txclass_server::{run, HttpSettings, Server};
//!
//! # async fn demo() -> txclass_server::Result<()> {
//! let orchestrator = txclass_core::Orchestrator::builder().build()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let server = Server::new(orchestrator, HttpSettings::default());
//! run(listener, server, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs, rust_2018_idioms)]
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
mod exporter;
mod routes;
pub mod sse;
mod transport;

pub use config::{
    AuthConfig, AuthMode, AuthSettings, ConnectionConfig, ConnectionLimits, HttpSettings,
    MetricsConfig, SandboxConfig, ServerConfig,
};
pub use error::{ApiError, Error, Result};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use txclass_core::Orchestrator;

use crate::routes::App;

/// A server ready to [`run`]: the orchestrator, the HTTP settings, and what must live as
/// long as the server (the sandbox partner).
pub struct Server {
    orchestrator: Orchestrator,
    settings: HttpSettings,
    #[cfg(feature = "sandbox")]
    sandbox: Option<txclass_core::simulator::SimulatorHandle>,
}

impl Server {
    /// A server over an orchestrator built by the caller (tests, embedders).
    pub fn new(orchestrator: Orchestrator, settings: HttpSettings) -> Self {
        Self {
            orchestrator,
            settings,
            #[cfg(feature = "sandbox")]
            sandbox: None,
        }
    }

    /// Builds everything a config file describes: the store, the partners, the built-in
    /// sandbox partner (started in-process on an ephemeral loopback port) and the
    /// orchestrator; then checks that the store and Redis answer (waiting up to
    /// `[redis] wait_for_ready_ms` for them), so a server never starts unable to run a job.
    pub async fn from_config(config: &ServerConfig) -> Result<Self> {
        let store_config = config.store_config()?;
        let store = store_config
            .open()
            .await
            .map_err(txclass_core::Error::from)?;
        let auth = config.auth_settings()?;
        let mut builder = Orchestrator::builder()
            .store(store)
            .settings(config.core_settings());
        if auth.is_some() {
            builder = builder.request_rate(config.auth.rate.clone());
        }
        for p in &config.partners {
            builder = builder.partner(p.clone());
        }
        #[cfg(feature = "sandbox")]
        let sandbox = if config.sandbox.enabled {
            let (partner, handle) = sandbox::start(&config.sandbox).await?;
            builder = builder.partner(partner);
            Some(handle)
        } else {
            None
        };
        #[cfg(not(feature = "sandbox"))]
        if config.sandbox.enabled {
            return Err(Error::Config {
                what: "the sandbox partner needs the `sandbox` feature".into(),
            });
        }
        if let Some(redis) = &config.redis {
            builder = builder.redis(redis.clone());
        }
        let orchestrator = builder.build()?;
        let wait = config
            .redis
            .as_ref()
            .map_or(Duration::ZERO, |r| r.wait_for_ready);
        orchestrator.wait_until_ready(wait).await?;
        let settings = HttpSettings {
            auth,
            ..config.http_settings()
        };
        Ok(Self {
            orchestrator,
            settings,
            #[cfg(feature = "sandbox")]
            sandbox,
        })
    }

    /// API keys (`None`: local-only mode, no keys).
    pub fn auth(&self) -> Option<&AuthSettings> {
        self.settings.auth.as_ref()
    }

    /// The orchestrator jobs run on.
    pub fn orchestrator(&self) -> &Orchestrator {
        &self.orchestrator
    }

    /// The sandbox partner's address, when it runs.
    pub fn sandbox_addr(&self) -> Option<std::net::SocketAddr> {
        #[cfg(feature = "sandbox")]
        {
            self.sandbox.as_ref().map(|h| h.addr())
        }
        #[cfg(not(feature = "sandbox"))]
        {
            None
        }
    }
}

#[cfg(feature = "sandbox")]
mod sandbox {
    //! The built-in sandbox partner.
    use txclass_core::simulator::{Simulator, SimulatorConfig, SimulatorHandle};
    use txclass_core::PartnerConfig;

    use crate::{Result, SandboxConfig};

    pub(crate) async fn start(cfg: &SandboxConfig) -> Result<(PartnerConfig, SimulatorHandle)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let sim = SimulatorConfig {
            capacity: Some(cfg.capacity.get()),
            latency_min: std::time::Duration::from_millis(cfg.latency_min_ms),
            latency_max: std::time::Duration::from_millis(
                cfg.latency_max_ms.max(cfg.latency_min_ms),
            ),
            ..SimulatorConfig::default()
        };
        let handle = Simulator::start(listener, sim)?;
        let mut partner = PartnerConfig::new(
            cfg.id.clone(),
            format!("http://{}", handle.addr()),
            cfg.capacity,
        );
        partner.page_size = cfg.page_size;
        tracing::info!(partner = %cfg.id, addr = %handle.addr(), "sandbox partner started");
        Ok((partner, handle))
    }
}

/// Serves HTTP/1.1 and HTTP/2 on `listener` until `shutdown` completes, then shuts down
/// gracefully: stops accepting and taking jobs over, lets open streams and running jobs go on
/// for the grace period, then hands the jobs still running over (they stay `running` for
/// another instance, or this one after a restart, to carry on from their last stored page),
/// ends the open streams (clients re-attach with `Last-Event-ID`), and stops the retry
/// workers.
pub async fn run(
    listener: TcpListener,
    server: Server,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let Server {
        orchestrator,
        settings,
        #[cfg(feature = "sandbox")]
            sandbox: _sandbox,
    } = server;
    let metrics = if settings.metrics {
        Some(exporter::handle()?)
    } else {
        None
    };
    let stop_workers = CancellationToken::new();
    let mut workers = Vec::new();
    for i in 0..settings.retry_workers {
        let worker = orchestrator.retry_worker(format!("server-{}-{i}", std::process::id()));
        let stop = stop_workers.clone();
        workers.push(tokio::spawn(async move {
            worker.run(stop.cancelled_owned()).await;
        }));
    }
    let app = Arc::new(App::new(orchestrator, settings.clone(), metrics)?);
    app.start_sweeper();
    transport::serve(listener, app, &settings, shutdown).await?;
    stop_workers.cancel();
    for w in workers {
        let _ = w.await;
    }
    tracing::info!("stopped");
    Ok(())
}

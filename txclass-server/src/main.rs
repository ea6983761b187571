//! `txclass-server`: reads flags, environment and an optional config file, binds, and runs
//! the server until Ctrl-C or SIGTERM. Any failure to start prints `error: <what>` on
//! stderr and exits with status 1.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use txclass_server::{run, Server, ServerConfig};

/// Streams the classification of a customer's bank transactions over Server-Sent Events.
///
/// With no arguments: 127.0.0.1:8080, SQLite store at data/txclass.db, and a built-in sandbox
/// partner named `sandbox`.
#[derive(Debug, Parser)]
#[command(name = "txclass-server", version)]
struct Args {
    /// Config file (TOML, or JSON if it ends in .json); flags and environment override it.
    #[arg(long, env = "TXCLASS_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "TXCLASS_LISTEN")]
    listen: Option<SocketAddr>,
    /// SQLite file of the store (":memory:" for none); replaces the file's `store_path` or
    /// `[store]`.
    #[arg(long, env = "TXCLASS_STORE")]
    store: Option<PathBuf>,
    /// Retry workers.
    #[arg(long, env = "TXCLASS_RETRY_WORKERS")]
    retry_workers: Option<usize>,
    /// Grace period of open streams at shutdown, in ms.
    #[arg(long, env = "TXCLASS_GRACE_PERIOD_MS")]
    grace_period_ms: Option<u64>,
    /// Keep-alive comment interval of SSE streams, in ms.
    #[arg(long, env = "TXCLASS_KEEP_ALIVE_MS")]
    keep_alive_ms: Option<u64>,
    /// Do not start the built-in sandbox partner.
    #[arg(long)]
    no_sandbox: bool,
    /// Simulated latency of the sandbox partner, in ms (every call; default 20 to 120).
    #[arg(long)]
    sandbox_latency_ms: Option<u64>,
    /// Serve GET /v1/bench/sse (benchmarks only).
    #[arg(long)]
    bench_routes: bool,
    /// Serve GET /metrics (Prometheus text format); the file's `[metrics] enabled`.
    #[arg(long)]
    metrics: bool,
    /// Tokio worker threads (default: one per core).
    #[arg(long, env = "TXCLASS_WORKER_THREADS")]
    worker_threads: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: Args) -> txclass_server::Result<()> {
    let mut config = match &args.config {
        Some(path) => ServerConfig::from_file(path)?,
        None => ServerConfig::default(),
    };
    if let Some(v) = args.listen {
        config.listen = v;
    }
    if let Some(v) = args.store {
        config.store_path = Some(v);
        config.store = None;
    }
    if let Some(v) = args.retry_workers {
        config.retry_workers = v;
    }
    if let Some(v) = args.grace_period_ms {
        config.grace_period_ms = v;
    }
    if let Some(v) = args.keep_alive_ms {
        config.keep_alive_ms = v;
    }
    if let Some(v) = args.sandbox_latency_ms {
        config.sandbox.latency_min_ms = v;
        config.sandbox.latency_max_ms = v;
    }
    if args.no_sandbox {
        config.sandbox.enabled = false;
    }
    if args.bench_routes {
        config.bench_routes = true;
    }
    if args.metrics {
        config.metrics.enabled = true;
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.worker_threads {
        rt.worker_threads(n);
    }
    rt.enable_all().build()?.block_on(async move {
        let server = Server::from_config(&config).await?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| txclass_server::Error::Config {
                what: format!("cannot listen on {}: {e}", config.listen),
            })?;
        match server.auth() {
            None => tracing::info!(
                "local-only mode: no API keys, every request acts for tenant `local` (listening \
                 on a loopback address; `[auth] mode = \"keys\"` turns keys on)"
            ),
            Some(auth) => tracing::info!(
                keys_file = %auth.keys_file.display(),
                "API keys required (`txclass keys create --tenant …` makes one)"
            ),
        }
        tracing::info!(
            addr = %listener.local_addr()?,
            store = %config.store_config()?.describe(),
            "txclass-server ready"
        );
        run(listener, server, shutdown_signal()).await?;
        Ok(())
    })
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}

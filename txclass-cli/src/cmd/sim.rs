//! `txclass sim`: the partner simulator, standalone.

use std::time::Duration;

use clap::Args;
use txclass_core::partner::Secret;
use txclass_core::simulator::{Faults, Simulator, SimulatorConfig};

use super::{probability, runtime};

/// Arguments of `txclass sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1 (0 for any free port).
    #[arg(long, default_value_t = 8081)]
    pub port: u16,
    /// Latency of each call in milliseconds: `MIN..MAX` (uniform) or a fixed `N`.
    #[arg(long, value_name = "MIN..MAX", default_value = "20..120", value_parser = latency)]
    pub latency_ms: (u64, u64),
    /// Calls served at once; above it the simulator answers 429 (default: no cap).
    #[arg(long)]
    pub capacity: Option<u32>,
    /// Share of calls answered 500.
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub error_rate: f32,
    /// Share of calls answered 503 with Retry-After.
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub unavailable_rate: f32,
    /// Share of calls that hang for --hang-ms (clients time out).
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub timeout_rate: f32,
    /// How long a hanging call hangs.
    #[arg(long, default_value_t = 30_000)]
    pub hang_ms: u64,
    /// Average transactions per customer per day.
    #[arg(long, default_value_t = 3.0)]
    pub tx_per_day: f64,
    /// Seed of the data and of the fault draws.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Require `Authorization: Bearer <token>`, the token read from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Print the merchants the simulator's lines name, with their categories (CSV), and exit.
    #[arg(long)]
    pub merchants: bool,
}

fn latency(s: &str) -> Result<(u64, u64), String> {
    let num = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map_err(|_| format!("{t:?} is not a whole number of milliseconds"))
    };
    let (min, max) = match s.split_once("..") {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(s)?, num(s)?),
    };
    if min > max {
        return Err(format!("{min} is more than {max}"));
    }
    Ok((min, max))
}

/// Runs `txclass sim` until Ctrl-C, then prints what it saw.
pub fn run(args: SimArgs) -> anyhow::Result<()> {
    if args.merchants {
        let mut out = csv::Writer::from_writer(std::io::stdout().lock());
        out.write_record(["merchant", "category"])?;
        for (merchant, category) in txclass_core::simulator::merchants() {
            out.write_record([merchant, category])?;
        }
        out.flush()?;
        return Ok(());
    }
    let token = match &args.token_env {
        Some(var) => Some(Secret::new(std::env::var(var).map_err(|_| {
            anyhow::anyhow!("environment variable {var} (the token) is not set")
        })?)),
        None => None,
    };
    let config = SimulatorConfig {
        capacity: args.capacity,
        latency_min: Duration::from_millis(args.latency_ms.0),
        latency_max: Duration::from_millis(args.latency_ms.1),
        tx_per_day: args.tx_per_day,
        token,
        seed: args.seed,
        faults: Faults {
            error_rate: args.error_rate.into(),
            unavailable_rate: args.unavailable_rate.into(),
            timeout_rate: args.timeout_rate.into(),
            hang_ms: args.hang_ms,
            ..Faults::default()
        },
        ..SimulatorConfig::default()
    };
    runtime()?.block_on(async move {
        let sim = Simulator::bind(args.port, config).await?;
        eprintln!(
            "simulator listening on {} (GET /customers/{{id}}/transactions, /health, /admin/stats); Ctrl-C stops",
            sim.url()
        );
        tokio::signal::ctrl_c().await?;
        eprintln!("{}", serde_json::to_string(&sim.stats())?);
        sim.shutdown().await;
        Ok(())
    })
}

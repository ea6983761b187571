//! `txclass health --url URL`: is a partner up?

use std::num::NonZeroU32;

use clap::Args;
use txclass_core::partner::PartnerAdapter;

use super::{runtime, PartnerArgs};

/// Arguments of `txclass health`.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The partner.
    #[command(flatten)]
    pub partner: PartnerArgs,
    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `txclass health`; exits 1 when the partner is not healthy.
pub fn run(args: HealthArgs) -> anyhow::Result<()> {
    let one = NonZeroU32::MIN;
    let adapter = args.partner.adapter(one, one)?;
    let health = runtime()?.block_on(adapter.health());
    if args.json {
        println!("{}", serde_json::to_string(&health)?);
    } else {
        let status = health.status.map_or("no answer".into(), |s| s.to_string());
        println!(
            "{}: status {status}, {} ms{}",
            if health.healthy {
                "healthy"
            } else {
                "unhealthy"
            },
            health.latency_ms,
            health
                .detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        );
    }
    if health.healthy {
        Ok(())
    } else {
        anyhow::bail!("partner at {} is not healthy", args.partner.url)
    }
}

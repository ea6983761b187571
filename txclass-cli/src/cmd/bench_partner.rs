//! `txclass bench-partner`: a partner API's service-level figures under a fixed concurrency.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use clap::Args;
use txclass_core::limiter::LocalLimiter;
use txclass_core::partner::{bench_partner, BenchConfig, BenchReport, PartnerAdapter};

use super::{parse_date, runtime, PartnerArgs};

/// Arguments of `txclass bench-partner`.
#[derive(Debug, Args)]
pub struct BenchPartnerArgs {
    /// The partner.
    #[command(flatten)]
    pub partner: PartnerArgs,
    /// Whose transactions each call asks for.
    #[arg(long)]
    pub customer: String,
    /// Most calls in flight at once (held by a semaphore of this capacity).
    #[arg(long, default_value = "4")]
    pub concurrency: NonZeroU32,
    /// Seconds during which new calls are started.
    #[arg(long, default_value = "10", value_parser = seconds)]
    pub duration: Duration,
    /// Window start (default: 30 days before --to).
    #[arg(long, value_parser = parse_date)]
    pub from: Option<NaiveDate>,
    /// Window end (default: today).
    #[arg(long, value_parser = parse_date)]
    pub to: Option<NaiveDate>,
    /// Transactions per page asked for.
    #[arg(long, default_value = "100")]
    pub page_size: NonZeroU32,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn seconds(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .and_then(|x| Duration::try_from_secs_f64(x).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{s:?} is not a positive number of seconds"))
}

/// Runs `txclass bench-partner`.
pub fn run(args: BenchPartnerArgs) -> anyhow::Result<()> {
    let adapter = Arc::new(args.partner.adapter(args.concurrency, args.page_size)?);
    let limiter = LocalLimiter::new().with_partner(adapter.id().clone(), args.concurrency);
    let to = args.to.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let from = args.from.unwrap_or(to - chrono::Days::new(30));
    let config = BenchConfig {
        customer_id: txclass_core::CustomerId::new(args.customer),
        from,
        to,
        duration: args.duration,
    };
    let report = runtime()?.block_on(bench_partner(adapter, Arc::new(limiter), config))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report, args.concurrency));
    }
    Ok(())
}

fn render(r: &BenchReport, concurrency: NonZeroU32) -> String {
    let l = &r.latency;
    let codes: Vec<String> = r
        .status_codes
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    format!(
        "calls          {} in {:.2} s at concurrency {} (max in flight {})\n\
         latency        p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms\n\
         mean response  {:.1} ms\n\
         availability   {:.2} %\n\
         throughput     {:.1} calls/s, {:.1} transactions/s ({} transactions)\n\
         failure rate   {:.2} %\n\
         status codes   {}\n",
        r.calls,
        r.elapsed_s,
        concurrency,
        r.max_in_flight,
        l.p50_ms,
        l.p90_ms,
        l.p99_ms,
        l.max_ms,
        l.mean_ms,
        r.availability * 100.0,
        r.calls_per_second,
        r.transactions_per_second,
        r.transactions,
        r.failure_rate * 100.0,
        codes.join(", ")
    )
}

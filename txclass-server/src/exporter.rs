//! The Prometheus exporter behind `GET /metrics`: installs the `metrics` recorder the core
//! records through (once per process), with the core's explicit histogram buckets, and
//! renders the text format on each scrape.
//!
//! The route exists only with `[metrics] enabled = true`: the setting is the route's guard
//! (an operator who serves the API publicly keeps it off, or scrapes through a private
//! listener in front).

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use txclass_core::telemetry;

use crate::{Error, Result};

/// How often histograms are compacted when nobody scrapes (the exporter's upkeep).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<std::result::Result<PrometheusHandle, String>> = OnceLock::new();

/// The process's exporter, installed on first use. Fails when another `metrics` recorder
/// was installed first (an embedder's own).
pub(crate) fn handle() -> Result<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new();
            for (name, buckets) in telemetry::histogram_buckets() {
                builder = builder
                    .set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
                    .map_err(|e| e.to_string())?;
            }
            let handle = builder.install_recorder().map_err(|e| e.to_string())?;
            telemetry::describe();
            let upkeep = handle.clone();
            // A thread, not a task: it outlives any one runtime (tests start several).
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                })
                .map_err(|e| e.to_string())?;
            Ok(handle)
        })
        .clone()
        .map_err(|what| Error::Config {
            what: format!("metrics: cannot install the Prometheus exporter: {what}"),
        })
}

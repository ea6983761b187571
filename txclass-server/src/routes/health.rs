//! `GET /healthz` (liveness: the process answers), `GET /readyz`: the core's
//! [`readiness`](txclass_core::Orchestrator::readiness) as JSON, and `GET /metrics` (the
//! Prometheus text format, when `[metrics] enabled`).
//!
//! `200 {"status": "ready", "checks": {"store": {"status": "ok"}, "redis": {…}}}` when every
//! backend answers, else `503` with `"status": "not_ready"` and the failed check's
//! `{"status": "failed", "error": "…"}`. `/healthz` stays pure liveness: a load balancer
//! restarts on `/healthz` and stops routing on `/readyz`.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Response, StatusCode};
use http_body_util::{Either, Full};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{json, Map, Value};
use txclass_core::Orchestrator;

use super::bodies::{json, Res};

/// `GET /healthz`.
pub(super) fn healthz() -> Res {
    json(StatusCode::OK, &json!({"status": "ok"}))
}

/// `GET /readyz`.
pub(super) async fn readyz(orchestrator: &Orchestrator) -> Res {
    let (status, body) = readiness(orchestrator).await;
    json(status, &body)
}

/// `GET /metrics`: the gauges read from the limiter, breakers and queue now, then every
/// metric in the Prometheus text format. A backend that does not answer leaves its gauges
/// at their last values (logged); the counters and histograms are served either way.
pub(super) async fn metrics(orchestrator: &Orchestrator, handle: &PrometheusHandle) -> Res {
    if let Err(e) = orchestrator.export_gauges().await {
        tracing::warn!(error = %e, "metrics: could not read the shared gauges");
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
        .body(Either::Left(Full::new(Bytes::from(handle.render()))))
        .expect("valid response")
}

/// The status and body of `GET /readyz`.
async fn readiness(orchestrator: &Orchestrator) -> (StatusCode, Value) {
    let readiness = orchestrator.readiness().await;
    let checks: Map<String, Value> = readiness
        .checks
        .iter()
        .map(|c| {
            let v = match &c.result {
                Ok(()) => json!({ "status": "ok" }),
                Err(e) => json!({ "status": "failed", "error": e }),
            };
            (c.name.to_owned(), v)
        })
        .collect();
    if readiness.is_ready() {
        (
            StatusCode::OK,
            json!({ "status": "ready", "checks": checks }),
        )
    } else {
        tracing::warn!("not ready: {}", readiness.failures());
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "not_ready", "checks": checks }),
        )
    }
}

//! `GET /healthz` (liveness: the process answers), `GET /readyz`: the core's
//! [`readiness`](txclass_core::Orchestrator::readiness) as JSON, and `GET /metrics` (the
//! Prometheus text format, when `[metrics] enabled`).
//!
//! `200 {"status": "ready", "checks": {"store": {"status": "ok"}, "redis": {…}}}` when every
//! backend answers, else `503` with `"status": "not_ready"` and the failed check's
//! `{"status": "failed", "error": "…"}`. `/healthz` stays pure liveness: a load balancer
//! restarts on `/healthz` and stops routing on `/readyz`.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Response, StatusCode};
use http_body_util::{Either, Full};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use txclass_core::Orchestrator;
use utoipa::ToSchema;

use super::bodies::{json, Res};

/// `GET /healthz`.
pub(super) fn healthz() -> Res {
    json(StatusCode::OK, &Liveness { status: "ok" })
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
async fn readiness(orchestrator: &Orchestrator) -> (StatusCode, Ready) {
    let readiness = orchestrator.readiness().await;
    let checks = readiness
        .checks
        .iter()
        .map(|c| {
            let check = match &c.result {
                Ok(()) => CheckResult {
                    status: CheckStatus::Ok,
                    error: None,
                },
                Err(e) => CheckResult {
                    status: CheckStatus::Failed,
                    error: Some(e.clone()),
                },
            };
            (c.name.to_owned(), check)
        })
        .collect();
    if readiness.is_ready() {
        (
            StatusCode::OK,
            Ready {
                status: ReadyStatus::Ready,
                checks,
            },
        )
    } else {
        tracing::warn!("not ready: {}", readiness.failures());
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Ready {
                status: ReadyStatus::NotReady,
                checks,
            },
        )
    }
}

/// `GET /healthz`: the process answers.
#[derive(Serialize, ToSchema)]
pub(super) struct Liveness {
    /// Always `ok`.
    #[schema(pattern = "^ok$")]
    status: &'static str,
}

/// `GET /readyz`: whether every backend answers.
#[derive(Serialize, ToSchema)]
#[schema(as = Readiness)]
pub(super) struct Ready {
    /// `ready` (200) or `not_ready` (503).
    status: ReadyStatus,
    /// Each backend's check (`store`, `redis`, …), by name.
    checks: BTreeMap<String, CheckResult>,
}

/// Whether the instance takes traffic.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum ReadyStatus {
    /// Every check passed.
    Ready,
    /// A check failed.
    NotReady,
}

/// One backend's check.
#[derive(Serialize, ToSchema)]
pub(super) struct CheckResult {
    /// `ok` or `failed`.
    status: CheckStatus,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A check's outcome.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum CheckStatus {
    /// The backend answered.
    Ok,
    /// It did not.
    Failed,
}

//! `GET /healthz` (liveness: the process answers) and `GET /readyz`: the core's
//! [`readiness`](txclass_core::Orchestrator::readiness) as JSON.
//!
//! `200 {"status": "ready", "checks": {"store": {"status": "ok"}, "redis": {…}}}` when every
//! backend answers, else `503` with `"status": "not_ready"` and the failed check's
//! `{"status": "failed", "error": "…"}`. `/healthz` stays pure liveness: a load balancer
//! restarts on `/healthz` and stops routing on `/readyz`.

use http::StatusCode;
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

//! The values a scrape reads from the limiter, the breakers, the queue and the job registry
//! (see [`crate::telemetry`] for the names and why shared values carry `scope`).

use std::collections::BTreeMap;

use metrics::gauge;

use super::Orchestrator;
use crate::domain::PartnerId;
use crate::queue::QueueDepth;
use crate::telemetry::{self, scope};
use crate::Result;

impl Orchestrator {
    /// Sets the gauges of partners (capacity, permits in use, adaptive limit, circuit
    /// state), the retry queue (tasks by state, dead letters) and the jobs running here, on
    /// the installed `metrics` recorder. A shell calls it before rendering a scrape; it
    /// costs two limiter reads per partner and a few counting commands per queue lane.
    pub async fn export_gauges(&self) -> Result<()> {
        let inner = &self.inner;
        let permits = scope(inner.limiter.shared());
        for p in inner.partners.values() {
            let id = p.config.id.as_str().to_owned();
            gauge!(telemetry::PARTNER_CAPACITY, "partner" => id.clone())
                .set(f64::from(p.config.capacity.get()));
            let in_use = inner.limiter.in_use(&p.config.id).await?;
            gauge!(telemetry::PARTNER_PERMITS_IN_USE, "partner" => id.clone(), "scope" => permits)
                .set(f64::from(in_use));
            let limit = inner.limiter.limit(&p.config.id).await?;
            gauge!(telemetry::PARTNER_PERMIT_LIMIT, "partner" => id, "scope" => permits)
                .set(f64::from(limit));
            telemetry::circuit_state(&p.config.id, p.breaker.state());
        }
        let queue = scope(inner.queue.shared());
        // Every configured partner has its series, at zero while its lane is empty.
        let mut lanes: BTreeMap<PartnerId, QueueDepth> = inner
            .partners
            .keys()
            .map(|id| {
                (
                    id.clone(),
                    QueueDepth {
                        partner: id.clone(),
                        ..QueueDepth::default()
                    },
                )
            })
            .collect();
        for lane in inner.queue.depth().await? {
            lanes.insert(lane.partner.clone(), lane);
        }
        for lane in lanes.into_values() {
            let id = lane.partner.as_str().to_owned();
            for (state, n) in [
                ("delayed", lane.delayed),
                ("due", lane.due),
                ("in_flight", lane.in_flight),
            ] {
                gauge!(telemetry::QUEUE_TASKS, "partner" => id.clone(), "state" => state, "scope" => queue)
                    .set(n as f64);
            }
            gauge!(telemetry::QUEUE_DEAD_LETTERS, "partner" => id, "scope" => queue)
                .set(lane.dead as f64);
        }
        gauge!(telemetry::JOBS_RUNNING).set(inner.registry.len() as f64);
        Ok(())
    }
}

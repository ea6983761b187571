//! Partner integration: the [`PartnerAdapter`] trait, its configuration and errors, and the
//! HTTP adapter on reqwest.
//!
//! Every call to a partner is made while holding a [`Permit`] of the
//! partner's semaphore; the adapter receives it so it can forward the permit's fencing token.

#[cfg(feature = "workbench")]
pub mod bench;
mod config;
mod error;
mod http;

#[cfg(feature = "workbench")]
pub use bench::{bench_partner, BenchConfig, BenchReport};
pub use config::{AuthConfig, Endpoint, Secret};
pub use error::{FailureKind, PartnerError, SetupError};
pub use http::HttpPartner;

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::{CustomerId, PartnerId, Transaction};
use crate::limiter::Permit;

/// One page to fetch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// Whose transactions.
    pub customer_id: CustomerId,
    /// Window start (inclusive).
    pub from: NaiveDate,
    /// Window end (inclusive).
    pub to: NaiveDate,
    /// The partner's cursor for this page; `None` for the first.
    pub cursor: Option<String>,
}

/// One page of a partner's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// The page's transactions.
    pub transactions: Vec<Transaction>,
    /// The cursor of the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// A partner's answer to a health check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// Whether the partner answered 2xx.
    pub healthy: bool,
    /// HTTP status, if any came back.
    pub status: Option<u16>,
    /// Round-trip time.
    pub latency_ms: u64,
    /// Error detail when unhealthy (never carries secrets).
    pub detail: Option<String>,
}

/// A partner API: pages of a customer's transactions.
///
/// Object-safe (partners of different kinds sit in one map as `Arc<dyn PartnerAdapter>`).
#[async_trait]
pub trait PartnerAdapter: Send + Sync + 'static {
    /// The partner's id.
    fn id(&self) -> &PartnerId;

    /// Fetches one page. `permit` proves the caller holds a slot of the partner's semaphore;
    /// its fencing token may be forwarded to the partner.
    async fn fetch_page(&self, req: &PageRequest, permit: &Permit) -> Result<Page, PartnerError>;

    /// Checks the partner is up (cheap call, no permit needed by convention of the partner's
    /// health endpoint).
    async fn health(&self) -> Health;

    /// How long one call may take before it is abandoned.
    fn timeout(&self) -> Duration;
}

fn _obj_safe(_: Box<dyn PartnerAdapter>) {}

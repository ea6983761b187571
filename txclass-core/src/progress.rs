//! Progress events: what a job tells its client while it runs.
//!
//! A closed set, so an enum: the server writes each as one SSE event whose `event:` is
//! [`Progress::name`] and whose `data:` is the JSON of the variant's fields.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::breaker::CircuitState;
/// Why a job failed: it belongs to the job's status ([`JobStatus`](crate::domain::JobStatus)),
/// and is named here too, where the `failed` event carries it.
pub use crate::domain::FailureReason;
use crate::domain::{CustomerId, JobId, PartnerId, Summary};

/// One step of a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    /// Always first: the job exists and can be polled at `GET /v1/classifications/{job_id}`.
    Accepted {
        /// The job's id.
        job_id: JobId,
        /// The partner asked.
        partner_id: PartnerId,
        /// The customer asked.
        customer_id: CustomerId,
        /// Window start.
        from: NaiveDate,
        /// Window end.
        to: NaiveDate,
    },
    /// A page of transactions came back from the partner.
    PageFetched {
        /// 1-based page number.
        page: u32,
        /// Transactions on the page.
        transactions: usize,
        /// True when the page came through the retry queue.
        via_retry: bool,
    },
    /// The page's transactions were classified and stored.
    Classified {
        /// 1-based page number.
        page: u32,
        /// Transactions on the page.
        transactions: usize,
        /// Of those, new to the store (the rest were already there and were updated).
        inserted: usize,
        /// Transactions classified so far in this job.
        total: u64,
    },
    /// The partner cannot be called now; the call is on the retry queue.
    WaitingForPartner {
        /// The page waiting.
        page: u32,
        /// Why.
        reason: WaitReason,
        /// Attempts made so far for this page.
        attempt: u32,
        /// When the next attempt is due, if known.
        retry_in_ms: Option<u64>,
    },
    /// A partner's circuit breaker changed state during this job.
    CircuitChanged {
        /// Whose circuit.
        partner_id: PartnerId,
        /// Old state.
        from: CircuitState,
        /// New state.
        to: CircuitState,
    },
    /// Always last on success.
    Done {
        /// The job's id.
        job_id: JobId,
        /// Totals.
        summary: Summary,
    },
    /// Always last on failure.
    Failed {
        /// The job's id.
        job_id: JobId,
        /// Machine-readable reason.
        reason: FailureReason,
        /// Human-readable detail (never carries secrets).
        message: String,
    },
}

impl Progress {
    /// The event's name (the SSE `event:` field).
    pub fn name(&self) -> &'static str {
        match self {
            Progress::Accepted { .. } => "accepted",
            Progress::PageFetched { .. } => "page_fetched",
            Progress::Classified { .. } => "classified",
            Progress::WaitingForPartner { .. } => "waiting_for_partner",
            Progress::CircuitChanged { .. } => "circuit_changed",
            Progress::Done { .. } => "done",
            Progress::Failed { .. } => "failed",
        }
    }

    /// True for `done` and `failed`, after which the stream ends.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Progress::Done { .. } | Progress::Failed { .. })
    }

    /// The event's fields as a JSON object, without the `event` tag (the SSE `data:` field).
    pub fn data_json(&self) -> String {
        let mut v = serde_json::to_value(self).expect("progress serialises");
        if let Some(obj) = v.as_object_mut() {
            obj.remove("event");
        }
        v.to_string()
    }
}

/// Why a call is waiting for the partner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// Every permit of the partner's semaphore is taken.
    PartnerBusy,
    /// The partner answered 429.
    RateLimited,
    /// The call timed out.
    Timeout,
    /// The partner answered 5xx (or a 4xx its policy retries).
    PartnerError,
    /// The partner could not be reached.
    Unreachable,
    /// The partner's circuit is open.
    CircuitOpen,
}

//! `GET /v1/bench/sse?events=N[&hold=true]` (only with `bench_routes`): a synthetic job of N
//! events through the same SSE body as real jobs, for the throughput and memory benchmarks;
//! `hold` sends `accepted` and then keeps the stream open (keep-alives only) until the
//! client leaves or the server stops.

use std::pin::Pin;
use std::task::{Context, Poll};

use chrono::NaiveDate;
use futures::Stream;
use http_body_util::Either;
use serde::Deserialize;
use txclass_core::progress::FailureReason;
use txclass_core::{CustomerId, JobId, PartnerId, Progress, Summary};
use utoipa::IntoParams;

use super::bodies::parse_query;
use super::App;
use super::SseStream;
use crate::error::ApiError;
use crate::sse::{SseBody, SseSource};

/// The synthetic job's shape.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct BenchParams {
    /// Events in the stream, 2 to 1,000,000 (default 100; clamped).
    #[serde(default)]
    events: Option<u32>,
    /// Send `accepted`, then hold the stream open (keep-alives only) until the client
    /// leaves or the server stops.
    #[serde(default)]
    hold: Option<bool>,
}

impl App {
    /// The SSE body of a synthetic job.
    pub(super) fn bench_stream(&self, query: &str) -> Result<SseStream, ApiError> {
        let p: BenchParams = parse_query(query)?;
        let events = p.events.unwrap_or(100).clamp(2, 1_000_000);
        let job = SyntheticJob {
            id: JobId::generate(),
            sent: 0,
            events,
            hold: p.hold.unwrap_or(false),
        };
        // Metered like a job's stream, so the throughput benchmark measures the counting too.
        Ok(Either::Right(
            SseBody::new(job, self.settings.keep_alive, self.end_streams.clone())
                .metered(self.sse_meters.clone()),
        ))
    }
}

/// The benchmark's synthetic job: `accepted`, then `page_fetched`/`classified` pairs, then
/// `done`; every event is ready at once (the partner is infinitely fast).
pub(crate) struct SyntheticJob {
    id: JobId,
    sent: u32,
    events: u32,
    hold: bool,
}

impl Stream for SyntheticJob {
    type Item = Progress;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Progress>> {
        let this = &mut *self;
        if this.hold && this.sent >= 1 {
            // Held open: nothing more until the client leaves or the server stops (the SSE
            // body's timer and shutdown signal wake it).
            return Poll::Pending;
        }
        if this.sent >= this.events {
            return Poll::Ready(None);
        }
        this.sent += 1;
        let n = this.sent;
        let page = n / 2;
        let ev = if n == 1 {
            Progress::Accepted {
                job_id: this.id.clone(),
                partner_id: PartnerId::new("bench"),
                customer_id: CustomerId::new("bench"),
                from: NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date"),
                to: NaiveDate::from_ymd_opt(2026, 3, 31).expect("valid date"),
            }
        } else if n == this.events {
            Progress::Done {
                job_id: this.id.clone(),
                summary: Summary {
                    transactions: u64::from(page) * 100,
                    pages: page,
                    ..Summary::default()
                },
            }
        } else if n.is_multiple_of(2) {
            Progress::PageFetched {
                page,
                transactions: 100,
                via_retry: false,
            }
        } else {
            Progress::Classified {
                page,
                transactions: 100,
                inserted: 100,
                total: u64::from(page) * 100,
            }
        };
        Poll::Ready(Some(ev))
    }
}

impl SseSource for SyntheticJob {
    fn job_id(&self) -> &str {
        self.id.as_str()
    }

    fn at_shutdown(self) -> Option<Progress> {
        Some(Progress::Failed {
            job_id: self.id,
            reason: FailureReason::ShuttingDown,
            message: "the server is shutting down".to_owned(),
        })
    }
}

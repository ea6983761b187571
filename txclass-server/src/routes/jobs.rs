//! The job routes: submit (`POST /v1/classifications`, SSE or `202`), the record and its
//! transactions, cancel, and the events of a running or ended job.

use chrono::NaiveDate;
use futures::StreamExt;
use http::header::{HeaderValue, LOCATION};
use http::{Request, StatusCode};
use http_body_util::Either;
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use txclass_core::{
    ClassificationRequest, ClassifiedTransaction, CustomerId, IdempotencyKey, Job, JobId,
    JobRecord, PartnerId, Progress,
};
use utoipa::{IntoParams, ToSchema};

use super::bodies::{decode_json, json, page_limit, parse_query, read_body, sse_response, Res};
use super::Scoped;
use super::SseStream;
use crate::error::ApiError;
use crate::sse::SseBody;

impl Scoped<'_> {
    /// `POST /v1/classifications`: SSE stream of the job, or 202 and a detached job when the
    /// client prefers an asynchronous answer.
    pub(super) async fn submit(
        &self,
        req: Request<Incoming>,
        query: &str,
    ) -> Result<Res, ApiError> {
        let respond_async = wants_async(
            req.headers()
                .get_all("prefer")
                .iter()
                .map(HeaderValue::as_bytes),
            query,
        )?;
        let key = idempotency_key(req.headers().get_all(IDEMPOTENCY_KEY).iter())?;
        let body = read_body(
            req,
            self.settings.body_limit,
            self.settings.connections.body_read_timeout,
        )
        .await?;
        let mut job = match key {
            Some(key) => {
                let request = self.submission(&body)?;
                self.orchestrator
                    .submit_once(request, &key, respond_async)
                    .await?
            }
            None => self.start_job(&body, respond_async)?,
        };
        if !respond_async {
            return Ok(sse_response(self.job_stream(job)));
        }
        // Run the job up to its first event, so its record exists before the client polls.
        let id = job.id().clone();
        match job.next().await {
            Some(Progress::Accepted { .. }) => {}
            Some(Progress::Failed { message, .. }) => {
                return Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    message,
                ))
            }
            other => {
                return Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    format!("job started with {other:?}"),
                ))
            }
        }
        // The job runs on without a watcher (it was started detached).
        drop(job);
        let status_url = format!("/v1/classifications/{id}");
        let mut res = json(
            StatusCode::ACCEPTED,
            &Submitted {
                job_id: id,
                status_url: status_url.clone(),
            },
        );
        if let Ok(v) = HeaderValue::from_str(&status_url) {
            res.headers_mut().insert(LOCATION, v);
        }
        Ok(res)
    }

    /// Validates the body of `POST /v1/classifications` and submits the job (both
    /// transports; the caller has read the body within the limit).
    pub(super) fn start_job(&self, body: &[u8], detached: bool) -> Result<Job, ApiError> {
        let request = self.submission(body)?;
        if detached {
            Ok(self.orchestrator.submit_detached(request)?)
        } else {
            Ok(self.orchestrator.submit(request)?)
        }
    }

    /// The request in the body of `POST /v1/classifications`.
    fn submission(&self, body: &[u8]) -> Result<ClassificationRequest, ApiError> {
        let body: SubmitBody = decode_json(body)?;
        Ok(ClassificationRequest::with_window(
            body.customer_id,
            body.partner_id,
            body.from,
            body.to,
            body.months,
            chrono::Utc::now().date_naive(),
        )
        .map_err(txclass_core::Error::from)?)
    }

    /// The SSE body of a job.
    pub(super) fn job_stream(&self, job: Job) -> SseStream {
        Either::Left(
            SseBody::new(job, self.settings.keep_alive, self.end_streams.clone())
                .metered(self.sse_meters.clone()),
        )
    }

    /// `GET /v1/classifications/{id}`: the record and a page of the job's transactions.
    pub(super) async fn job(&self, id: JobId, query: &str) -> Result<Res, ApiError> {
        let params: PageParams = parse_query(query)?;
        let (record, page) = self
            .orchestrator
            .job_page(&id, params.cursor, page_limit(params.limit)?)
            .await?
            .ok_or_else(|| unknown_job(&id))?;
        Ok(json(
            StatusCode::OK,
            &JobPage {
                job: record,
                transactions: page.items,
                next_cursor: page.next_cursor,
            },
        ))
    }

    /// `DELETE /v1/classifications/{id}`: cancels the job wherever it runs; 202 while it
    /// was running, 200 with its record when it had already ended.
    pub(super) async fn cancel(&self, id: JobId) -> Result<Res, ApiError> {
        let record = self
            .orchestrator
            .cancel(&id)
            .await?
            .ok_or_else(|| unknown_job(&id))?;
        let status = match record.status {
            txclass_core::JobStatus::Running => StatusCode::ACCEPTED,
            _ => StatusCode::OK,
        };
        Ok(json(status, &JobView { job: record }))
    }

    /// `GET /v1/classifications/{id}/events`: the job's log after the client's last event
    /// id, then live until the job ends.
    pub(super) async fn events(
        &self,
        id: JobId,
        req: &Request<Incoming>,
        query: &str,
    ) -> Result<Res, ApiError> {
        let after = last_event_id(req, query)?;
        let job = self.orchestrator.watch(&id, after).await?;
        Ok(sse_response(self.job_stream(job)))
    }
}

pub(super) fn unknown_job(id: &JobId) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_job",
        format!("unknown job {id}"),
    )
}

/// Whether a submission asks for an asynchronous answer (202): `Prefer: respond-async`, or
/// `?mode=async`.
pub(super) fn wants_async<'h>(
    prefer: impl Iterator<Item = &'h [u8]>,
    query: &str,
) -> Result<bool, ApiError> {
    let by_header = prefer
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("respond-async"));
    Ok(by_header || parse_query::<ModeParams>(query)?.mode.as_deref() == Some("async"))
}

/// The log position a re-attaching client has seen: the `Last-Event-ID` header (or the
/// `last_event_id` query parameter, for clients that cannot set headers), `<job_id>:<seq>`
/// as the events carry it, or a bare `<seq>`; 0 when absent.
fn last_event_id(req: &Request<Incoming>, query: &str) -> Result<u64, ApiError> {
    let header = req
        .headers()
        .get("last-event-id")
        .map(|v| v.to_str().map(str::to_owned));
    let raw = match header {
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            return Err(ApiError::invalid(
                "Last-Event-ID",
                "must be visible ASCII".to_owned(),
            ))
        }
        None => parse_query::<EventsParams>(query)?.last_event_id,
    };
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(0);
    };
    let seq = raw.rsplit_once(':').map_or(raw.as_str(), |(_, s)| s);
    seq.trim().parse().map_err(|_| {
        ApiError::invalid(
            "Last-Event-ID",
            format!("{raw:?} is not an event id (<job_id>:<number>)"),
        )
    })
}

/// Body of `POST /v1/classifications`: the window is `from` and `to`, or the last `months`
/// months up to today.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"customer_id": "c-42", "partner_id": "sandbox", "months": 3}))]
#[serde(deny_unknown_fields)]
pub(super) struct SubmitBody {
    /// Whose transactions.
    #[schema(example = "c-42")]
    customer_id: CustomerId,
    /// Which partner holds them (as named in the server's configuration).
    #[schema(example = "sandbox")]
    partner_id: PartnerId,
    /// First day of the window (inclusive).
    #[serde(default)]
    from: Option<NaiveDate>,
    /// Last day of the window (inclusive).
    #[serde(default)]
    to: Option<NaiveDate>,
    /// The last `months` months up to today, instead of `from` and `to`.
    #[serde(default)]
    #[schema(minimum = 1)]
    months: Option<u32>,
}

/// The header of a submission's idempotency key (IETF draft "The Idempotency-Key HTTP
/// Header Field").
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The submission's idempotency key, if it has one: a string in quotes (the draft's
/// structured-field form) or bare; more than one is a 400.
pub(crate) fn idempotency_key<'a>(
    mut values: impl Iterator<Item = &'a HeaderValue>,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::invalid(
            "idempotency_key",
            "more than one Idempotency-Key header",
        ));
    }
    let text = value.to_str().unwrap_or("\u{fffd}");
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    Ok(Some(
        IdempotencyKey::new(text).map_err(txclass_core::Error::from)?,
    ))
}

/// `202`: the job runs detached; poll it at `status_url` (also the `Location` header).
#[derive(Serialize, ToSchema)]
pub(super) struct Submitted {
    /// The job's id.
    job_id: JobId,
    /// `/v1/classifications/{job_id}`.
    status_url: String,
}

/// A job's record and a page of the transactions it stored.
#[derive(Serialize, ToSchema)]
pub(super) struct JobPage {
    /// The job.
    job: JobRecord,
    /// Its transactions, newest first.
    transactions: Vec<ClassifiedTransaction>,
    /// Cursor of the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// A job's record.
#[derive(Serialize, ToSchema)]
pub(super) struct JobView {
    /// The job.
    job: JobRecord,
}

/// How a submission is answered.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ModeParams {
    /// `async`: answer `202` and run the job detached (as `Prefer: respond-async` does);
    /// anything else streams it.
    #[serde(default)]
    #[param(example = "async")]
    mode: Option<String>,
}

/// A page of a job's transactions.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct PageParams {
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Where a re-attaching client resumes.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct EventsParams {
    /// The last event id seen (`<job_id>:<seq>` or `<seq>`), for clients that cannot send
    /// the `Last-Event-ID` header (which wins when both are given).
    #[serde(default)]
    last_event_id: Option<String>,
    /// An events token of this job (`POST …/events-token`), for a client that cannot send
    /// `Authorization` (a browser `EventSource`).
    #[serde(default)]
    #[allow(dead_code)]
    access_token: Option<String>,
}

/// Fuzz target of the JSON request decoder (see `txclass_core::fuzz`).
#[cfg(test)]
mod fuzz {

    use proptest::prelude::*;
    use txclass_core::fuzz::{self, mutated};

    use crate::routes::App;

    const TOKENS: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b":",
        b",",
        b"null",
        b"true",
        b"0",
        b"-1",
        b"4294967296",
        b"1e999",
        b"\"customer_id\"",
        b"\"partner_id\"",
        b"\"from\"",
        b"\"to\"",
        b"\"months\"",
        b"\"2026-02-30\"",
        b"\"+262143-12-31\"",
        b"\"9999-12-31\"",
        b"\\u0000",
        b"\\ud800",
        b"\\n",
        b"\xff",
        b" ",
    ];

    /// A submission body and a query string: every answer is a 4xx with a JSON body (the
    /// orchestrator here knows no partner, so a well-formed body is a 404).
    #[test]
    fn fuzz_the_submit_body_and_query() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let orchestrator = txclass_core::Orchestrator::builder().build().unwrap();
        let app = App::new(orchestrator, crate::HttpSettings::default(), None).unwrap();
        let app = app.scoped(txclass_core::TenantId::local());
        let seeds = [
            r#"{"customer_id":"c-1","partner_id":"bank","from":"2026-01-01","to":"2026-03-31"}"#,
            r#"{"customer_id":"c","partner_id":"bank","months":3}"#,
            r#"{"customer_id":"c é/1","partner_id":"bank","from":"2026-13-01","to":"yesterday","colour":1}"#,
            "mode=async&cursor=abc&limit=1000&last_event_id=job:3",
        ]
        .map(|s| s.as_bytes().to_vec())
        .to_vec();
        fuzz::run("submit body", mutated(seeds, TOKENS), |bytes| {
            let e = match app.start_job(&bytes, false) {
                Ok(_) => return Err(TestCaseError::fail("no partner, yet a job started")),
                Err(e) => e,
            };
            prop_assert!(e.status.is_client_error(), "{e:?}");
            prop_assert!(serde_json::from_str::<serde_json::Value>(&e.to_json()).is_ok());
            let query = String::from_utf8_lossy(&bytes);
            for result in [
                super::wants_async(std::iter::once(&bytes[..]), &query).map(|_| ()),
                super::super::bodies::parse_query::<super::PageParams>(&query).map(|_| ()),
                super::super::bodies::parse_query::<super::EventsParams>(&query).map(|_| ()),
            ] {
                if let Err(e) = result {
                    prop_assert_eq!(e.status.as_u16(), 400);
                }
            }
            Ok(())
        });
    }
}

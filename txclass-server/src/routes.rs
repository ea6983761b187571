//! Routing and handlers: HTTP in, core call, JSON or SSE out.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use chrono::NaiveDate;
use futures::{Stream, StreamExt};
use http::header::{HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use txclass_core::progress::FailureReason;
use txclass_core::store::{SpendingQuery, TxQuery};
use txclass_core::{
    Category, ClassificationRequest, CustomerId, Job, JobId, Orchestrator, PartnerId, Progress,
    Summary,
};

use crate::config::HttpSettings;
use crate::error::ApiError;
use crate::sse::{SseBody, SseSource};

/// Shared by every connection.
pub(crate) struct App {
    pub(crate) orchestrator: Orchestrator,
    pub(crate) settings: HttpSettings,
    /// Cancelled when the shutdown grace period is over: open streams end (their jobs are
    /// handed over).
    pub(crate) abort: CancellationToken,
    /// Cancelled at the shutdown signal: connections of the HTTP/1.1 fast path close when
    /// idle and serve no further requests (hyper's connections get `graceful_shutdown`).
    pub(crate) closing: CancellationToken,
}

/// The hyper service over [`App`].
#[derive(Clone)]
pub(crate) struct AppService(pub(crate) Arc<App>);

impl hyper::service::Service<Request<Incoming>> for AppService {
    type Response = Res;
    type Error = Infallible;
    // Boxed: hyper keeps the allocation of a connection's request future for the
    // connection's whole life, so it must be a pointer, not the handler's whole state
    // (measured: this halves the memory of an idle stream).
    type Future = Pin<Box<dyn Future<Output = Result<Res, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let app = self.0.clone();
        Box::pin(async move { Ok(app.handle(req).await) })
    }
}

/// Response bodies: JSON, or an SSE stream.
pub(crate) enum ResBody {
    Full(Full<Bytes>),
    Sse(SseStream),
}

/// An SSE response body, whichever transport carries it (hyper, or the HTTP/1.1 fast path
/// in [`crate::h1`]): a job's stream, or the benchmark's synthetic one.
pub(crate) enum SseStream {
    Job(SseBody<Job>),
    Bench(SseBody<SyntheticJob>),
}

impl Body for SseStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            SseStream::Job(b) => Pin::new(b).poll_frame(cx),
            SseStream::Bench(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            SseStream::Job(b) => b.is_end_stream(),
            SseStream::Bench(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// The headers of every SSE response, after the status line (both transports).
pub(crate) const SSE_HEADERS: [(&str, &str); 3] = [
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
];

impl Body for ResBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            ResBody::Full(b) => Pin::new(b).poll_frame(cx),
            ResBody::Sse(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResBody::Full(b) => b.is_end_stream(),
            ResBody::Sse(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResBody::Full(b) => b.size_hint(),
            ResBody::Sse(b) => b.size_hint(),
        }
    }
}

type Res = Response<ResBody>;

fn json<T: Serialize>(status: StatusCode, value: &T) -> Res {
    let body = serde_json::to_vec(value).expect("response serialises");
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(ResBody::Full(Full::new(Bytes::from(body))))
        .expect("valid response")
}

pub(crate) fn error_response(e: &ApiError) -> Res {
    let mut res = Response::builder()
        .status(e.status)
        .header(CONTENT_TYPE, "application/json")
        .body(ResBody::Full(Full::new(Bytes::from(e.to_json()))))
        .expect("valid response");
    if let Some(allow) = e.allow {
        res.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
    }
    res
}

fn sse_response(body: SseStream) -> Res {
    let mut res = Response::builder().status(StatusCode::OK);
    for (name, value) in SSE_HEADERS {
        res = res.header(name, value);
    }
    res.body(ResBody::Sse(body)).expect("valid response")
}

fn only(method: &Method, allowed: &'static str) -> Result<(), ApiError> {
    if method.as_str() == allowed {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(method, allowed))
    }
}

impl App {
    /// Serves one request; never fails (errors become JSON error responses).
    pub(crate) async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Res {
        match self.route(req).await {
            Ok(res) => res,
            Err(e) => error_response(&e),
        }
    }

    async fn route(&self, req: Request<Incoming>) -> Result<Res, ApiError> {
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or("").to_owned();
        match self.route_of(req.method(), &path)? {
            Route::Healthz => Ok(json(StatusCode::OK, &serde_json::json!({"status": "ok"}))),
            Route::Readyz => {
                let (status, body) = crate::readiness::readyz(&self.orchestrator).await;
                Ok(json(status, &body))
            }
            Route::Submit => self.submit(req, &query).await,
            Route::Job(id) => self.job(JobId::new(id), &query).await,
            Route::Cancel(id) => self.cancel(JobId::new(id)).await,
            Route::Events(id) => {
                let after = last_event_id(&req, &query)?;
                let job = self.orchestrator.watch(&JobId::new(id), after).await?;
                Ok(sse_response(self.job_stream(job)))
            }
            Route::Transactions(id) => self.transactions(CustomerId::new(id), &query).await,
            Route::Spending(id) => self.spending(CustomerId::new(id), &query).await,
            Route::Merchants(id) => self.merchants(CustomerId::new(id), &query).await,
            Route::Partners => self.partners().await,
            Route::PartnerHealth(id) => self.partner_health(PartnerId::new(id)).await,
            Route::BenchSse => Ok(sse_response(self.bench_stream(&query)?)),
        }
    }

    /// Which route a method and path ask for (both transports decide with this).
    pub(crate) fn route_of<'p>(
        &self,
        method: &Method,
        path: &'p str,
    ) -> Result<Route<'p>, ApiError> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (route, allowed) = match segments.as_slice() {
            ["healthz"] => (Route::Healthz, "GET"),
            ["readyz"] => (Route::Readyz, "GET"),
            ["v1", "classifications"] => (Route::Submit, "POST"),
            ["v1", "classifications", id] if method == Method::DELETE => {
                (Route::Cancel(segment(id)?), "DELETE")
            }
            ["v1", "classifications", id] => (Route::Job(segment(id)?), "GET"),
            ["v1", "classifications", id, "events"] => (Route::Events(segment(id)?), "GET"),
            ["v1", "customers", id, "transactions"] => (Route::Transactions(segment(id)?), "GET"),
            ["v1", "customers", id, "spending"] => (Route::Spending(segment(id)?), "GET"),
            ["v1", "customers", id, "merchants"] => (Route::Merchants(segment(id)?), "GET"),
            ["v1", "partners"] => (Route::Partners, "GET"),
            ["v1", "partners", id, "health"] => (Route::PartnerHealth(segment(id)?), "GET"),
            ["v1", "bench", "sse"] if self.settings.bench_routes => (Route::BenchSse, "GET"),
            _ => return Err(ApiError::not_found(format!("no route for {path}"))),
        };
        only(method, allowed)?;
        Ok(route)
    }

    /// `POST /v1/classifications`: SSE stream of the job, or 202 and a detached job when the
    /// client prefers an asynchronous answer.
    async fn submit(&self, req: Request<Incoming>, query: &str) -> Result<Res, ApiError> {
        let respond_async = wants_async(
            req.headers()
                .get_all("prefer")
                .iter()
                .map(HeaderValue::as_bytes),
            query,
        )?;
        let body = read_body(req, self.settings.body_limit).await?;
        let mut job = self.start_job(&body, respond_async)?;
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
            &serde_json::json!({"job_id": id, "status_url": status_url}),
        );
        if let Ok(v) = HeaderValue::from_str(&status_url) {
            res.headers_mut().insert(LOCATION, v);
        }
        Ok(res)
    }

    /// `GET /v1/classifications/{id}`: the record and a page of the job's transactions.
    async fn job(&self, id: JobId, query: &str) -> Result<Res, ApiError> {
        let params: PageParams = parse_query(query)?;
        let (record, page) = self
            .orchestrator
            .job_page(&id, params.cursor, page_limit(params.limit)?)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "unknown_job",
                    format!("unknown job {id}"),
                )
            })?;
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({
                "job": record,
                "transactions": page.items,
                "next_cursor": page.next_cursor,
            }),
        ))
    }

    /// `GET /v1/customers/{id}/transactions`.
    async fn transactions(&self, customer: CustomerId, query: &str) -> Result<Res, ApiError> {
        let p: TxParams = parse_query(query)?;
        let page = self
            .orchestrator
            .transactions(&TxQuery {
                customer_id: customer,
                partner_id: p.partner_id,
                from: p.from,
                to: p.to,
                category: p.category.map(Category::new),
                text: p.q.filter(|q| !q.trim().is_empty()),
                cursor: p.cursor,
                limit: page_limit(p.limit)?,
            })
            .await?;
        Ok(json(StatusCode::OK, &page))
    }

    /// `GET /v1/customers/{id}/spending`.
    async fn spending(&self, customer: CustomerId, query: &str) -> Result<Res, ApiError> {
        let p: SpendingParams = parse_query(query)?;
        if let Some(interval) = p.interval.as_deref() {
            if interval != "month" {
                return Err(ApiError::invalid(
                    "interval",
                    format!("unsupported interval {interval:?} (only \"month\")"),
                ));
            }
        }
        let rows = self
            .orchestrator
            .spending(&SpendingQuery {
                customer_id: customer.clone(),
                from: p.from,
                to: p.to,
            })
            .await?;
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({"customer_id": customer, "interval": "month", "rows": rows}),
        ))
    }

    /// `GET /v1/customers/{id}/merchants`: where the customer spent most.
    async fn merchants(&self, customer: CustomerId, query: &str) -> Result<Res, ApiError> {
        let p: MerchantParams = parse_query(query)?;
        let limit = p.limit.unwrap_or(10);
        if limit == 0 || limit > txclass_core::store::MAX_TOP_MERCHANTS {
            return Err(ApiError::invalid(
                "limit",
                format!(
                    "must be between 1 and {}",
                    txclass_core::store::MAX_TOP_MERCHANTS
                ),
            ));
        }
        let rows = self
            .orchestrator
            .top_merchants(&customer, p.from, p.to, limit)
            .await?;
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({"customer_id": customer, "merchants": rows}),
        ))
    }

    /// `GET /v1/partners`.
    async fn partners(&self) -> Result<Res, ApiError> {
        let partners = self.orchestrator.partner_status().await?;
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({"partners": partners}),
        ))
    }

    /// `GET /v1/partners/{id}/health`: 200 when the partner answers, 503 when not.
    async fn partner_health(&self, id: PartnerId) -> Result<Res, ApiError> {
        let health = self.orchestrator.partner_health(&id).await?;
        let status = if health.healthy {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        Ok(json(
            status,
            &serde_json::json!({"partner_id": id, "health": health}),
        ))
    }

    /// Validates the body of `POST /v1/classifications` and submits the job (both
    /// transports; the caller has read the body within the limit).
    pub(crate) fn start_job(&self, body: &[u8], detached: bool) -> Result<Job, ApiError> {
        let body: SubmitBody = decode_json(body)?;
        let request = ClassificationRequest::with_window(
            body.customer_id,
            body.partner_id,
            body.from,
            body.to,
            body.months,
            chrono::Utc::now().date_naive(),
        )?;
        if detached {
            Ok(self.orchestrator.submit_detached(request)?)
        } else {
            Ok(self.orchestrator.submit(request)?)
        }
    }

    /// `DELETE /v1/classifications/{id}`: cancels the job wherever it runs; 202 while it
    /// was running, 200 with its record when it had already ended.
    async fn cancel(&self, id: JobId) -> Result<Res, ApiError> {
        let record = self.orchestrator.cancel(&id).await?.ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_job",
                format!("unknown job {id}"),
            )
        })?;
        let status = match record.status {
            txclass_core::JobStatus::Running => StatusCode::ACCEPTED,
            _ => StatusCode::OK,
        };
        Ok(json(status, &serde_json::json!({"job": record})))
    }

    /// The SSE body of a job.
    pub(crate) fn job_stream(&self, job: Job) -> SseStream {
        SseStream::Job(SseBody::new(
            job,
            self.settings.keep_alive,
            self.abort.clone(),
        ))
    }

    /// `GET /v1/bench/sse?events=N[&hold=true]` (only with `bench_routes`): a synthetic job
    /// of N events through the same SSE body as real jobs; `hold` sends `accepted` and then
    /// keeps the stream open (keep-alives only) until the client leaves or the server stops.
    pub(crate) fn bench_stream(&self, query: &str) -> Result<SseStream, ApiError> {
        let p: BenchParams = parse_query(query)?;
        let events = p.events.unwrap_or(100).clamp(2, 1_000_000);
        let job = SyntheticJob {
            id: JobId::generate(),
            sent: 0,
            events,
            hold: p.hold.unwrap_or(false),
        };
        Ok(SseStream::Bench(SseBody::new(
            job,
            self.settings.keep_alive,
            self.abort.clone(),
        )))
    }
}

/// A route, decided from the method and path alone.
pub(crate) enum Route<'p> {
    Healthz,
    Readyz,
    Submit,
    Job(Cow<'p, str>),
    Cancel(Cow<'p, str>),
    Events(Cow<'p, str>),
    Transactions(Cow<'p, str>),
    Spending(Cow<'p, str>),
    Merchants(Cow<'p, str>),
    Partners,
    PartnerHealth(Cow<'p, str>),
    BenchSse,
}

/// A path segment with its percent-escapes decoded (`c%2042` → `c 42`).
fn segment(raw: &str) -> Result<Cow<'_, str>, ApiError> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| ApiError::invalid("path", format!("{raw:?} is not UTF-8 once decoded")))
}

/// Whether a submission asks for an asynchronous answer (202): `Prefer: respond-async`, or
/// `?mode=async`.
pub(crate) fn wants_async<'h>(
    prefer: impl Iterator<Item = &'h [u8]>,
    query: &str,
) -> Result<bool, ApiError> {
    let by_header = prefer
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("respond-async"));
    Ok(by_header || parse_query::<ModeParams>(query)?.mode.as_deref() == Some("async"))
}

/// 413 for a body over `limit` bytes.
pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("request body is larger than {limit} bytes"),
    )
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsParams {
    #[serde(default)]
    last_event_id: Option<String>,
}

fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(100),
        Some(n @ 1..=1000) => Ok(n),
        Some(n) => Err(ApiError::invalid(
            "limit",
            format!("{n} is out of range (1 to 1000)"),
        )),
    }
}

/// Body of `POST /v1/classifications`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    customer_id: CustomerId,
    partner_id: PartnerId,
    #[serde(default)]
    from: Option<NaiveDate>,
    #[serde(default)]
    to: Option<NaiveDate>,
    #[serde(default)]
    months: Option<u32>,
}

#[derive(Deserialize)]
struct ModeParams {
    #[serde(default)]
    mode: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageParams {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TxParams {
    #[serde(default)]
    partner_id: Option<PartnerId>,
    #[serde(default)]
    from: Option<NaiveDate>,
    #[serde(default)]
    to: Option<NaiveDate>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpendingParams {
    #[serde(default)]
    from: Option<NaiveDate>,
    #[serde(default)]
    to: Option<NaiveDate>,
    #[serde(default)]
    interval: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MerchantParams {
    #[serde(default)]
    from: Option<NaiveDate>,
    #[serde(default)]
    to: Option<NaiveDate>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BenchParams {
    #[serde(default)]
    events: Option<u32>,
    #[serde(default)]
    hold: Option<bool>,
}

/// The field a serde error is about: its path, or the name in "missing/unknown field `x`".
fn field_of(path: &serde_path_to_error::Path, message: &str) -> Option<String> {
    let p = path.to_string();
    if !p.is_empty() && p != "." && p != "?" {
        return Some(p);
    }
    for marker in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.split(marker).nth(1) {
            return rest.split('`').next().map(str::to_owned);
        }
    }
    None
}

fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = e.inner().to_string();
        match field_of(e.path(), &message) {
            Some(field) => ApiError::invalid(field, message),
            None => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message),
        }
    })
}

/// Reads a request body of at most `limit` bytes.
async fn read_body(req: Request<Incoming>, limit: usize) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(limit)),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            format!("could not read the request body: {e}"),
        )),
    }
}

/// Decodes a JSON body; a 400 names the field at fault, or says `malformed_json`.
pub(crate) fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let message = e.inner().to_string();
        let syntax = e.inner().is_syntax() || e.inner().is_eof();
        let field = field_of(e.path(), &message);
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: if syntax {
                "malformed_json"
            } else {
                "invalid_request"
            },
            message,
            field,
            allow: None,
        }
    })?;
    de.end()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()))?;
    Ok(value)
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

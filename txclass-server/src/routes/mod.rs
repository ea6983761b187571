//! Routing and handlers: HTTP in, core call, JSON or SSE out. The same code answers on both
//! transports ([`crate::transport`]), which reach it through the [`Endpoint`] impl below.
//!
//! | module | routes |
//! |---|---|
//! | [`jobs`] | `POST /v1/classifications`, `GET`/`DELETE /v1/classifications/{id}`, `GET …/{id}/events` |
//! | [`queries`] | `GET /v1/customers/{id}/{transactions,spending,merchants}`, `GET /v1/partners[/{id}/health]` |
//! | [`health`] | `GET /healthz`, `GET /readyz`, `GET /metrics` |
//! | [`rules`] | `GET`/`POST /v1/rules`, `GET`/`PUT`/`DELETE /v1/rules/{id}` |
//! | [`enrich`] | `POST /v1/enrich` |
//! | [`console`] | `GET /` (the web console) and `GET /console/{file}` (its script and style sheet) |
//! | [`bench`](mod@bench) | `GET /v1/bench/sse` (with `bench_routes` only) |
//! | [`bodies`] | JSON and SSE responses, request bodies and query strings, their 4xx |

mod bench;
mod bodies;
mod console;
mod enrich;
mod health;
mod jobs;
mod queries;
mod rules;

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use http::{Method, Request};
use hyper::body::Incoming;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use txclass_core::{CustomerId, JobId, Orchestrator, PartnerId};

use self::bodies::{error_response, sse_response, Res, ResBody};
use crate::config::HttpSettings;
use crate::error::ApiError;
use crate::sse::{SseBody, SseMeters};
use crate::transport::{Endpoint, Head, RequestBody};

/// An SSE response body, whichever transport carries it: a job's stream, or the
/// benchmark's synthetic one.
pub(crate) type SseStream =
    http_body_util::Either<SseBody<txclass_core::Job>, SseBody<bench::SyntheticJob>>;

/// Shared by every connection.
pub(crate) struct App {
    orchestrator: Orchestrator,
    settings: HttpSettings,
    /// Cancelled when the shutdown grace period is over: open streams end (their jobs are
    /// handed over).
    end_streams: CancellationToken,
    /// Stops the sweeper (which takes over jobs a crash left running) at the shutdown
    /// signal, so a stopping instance takes no job over.
    stop_sweeper: CancellationToken,
    sweeper: Mutex<Option<JoinHandle<()>>>,
    /// The Prometheus exporter, when `GET /metrics` is served.
    metrics: Option<PrometheusHandle>,
    /// What SSE bodies count: streams open, events sent.
    sse_meters: Arc<SseMeters>,
}

impl App {
    /// An application over `orchestrator`; [`App::start_sweeper`] starts taking jobs over.
    /// With `metrics`, `GET /metrics` renders it.
    pub(crate) fn new(
        orchestrator: Orchestrator,
        settings: HttpSettings,
        metrics: Option<PrometheusHandle>,
    ) -> Self {
        Self {
            orchestrator,
            settings,
            end_streams: CancellationToken::new(),
            stop_sweeper: CancellationToken::new(),
            sweeper: Mutex::new(None),
            metrics,
            sse_meters: Arc::new(SseMeters::new()),
        }
    }

    /// Resumes the jobs a crash left running (here or on a dead instance) until shutdown.
    pub(crate) fn start_sweeper(&self) {
        let orchestrator = self.orchestrator.clone();
        let stop = self.stop_sweeper.clone();
        let task =
            tokio::spawn(async move { orchestrator.run_sweeper(stop.cancelled_owned()).await });
        *self.sweeper.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
    }

    /// Serves one request; never fails (errors become JSON error responses).
    async fn handle(&self, req: Request<Incoming>) -> Res {
        match self.route(req).await {
            Ok(res) => res,
            Err(e) => error_response(&e),
        }
    }

    async fn route(&self, req: Request<Incoming>) -> Result<Res, ApiError> {
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or("").to_owned();
        match self.route_of(req.method(), &path)? {
            Route::Healthz => Ok(health::healthz()),
            Route::Readyz => Ok(health::readyz(&self.orchestrator).await),
            Route::Console => Ok(console::index(req.headers())),
            Route::ConsoleFile(name) => console::file(&name, req.headers()),
            Route::Metrics(handle) => Ok(health::metrics(&self.orchestrator, handle).await),
            Route::Submit => self.submit(req, &query).await,
            Route::Job(id) => self.job(JobId::new(id), &query).await,
            Route::Cancel(id) => self.cancel(JobId::new(id)).await,
            Route::Events(id) => self.events(JobId::new(id), &req, &query).await,
            Route::Transactions(id) => self.transactions(CustomerId::new(id), &query).await,
            Route::Spending(id) => self.spending(CustomerId::new(id), &query).await,
            Route::Merchants(id) => self.merchants(CustomerId::new(id), &query).await,
            Route::Partners => self.partners().await,
            Route::Taxonomy => self.taxonomy(),
            Route::PartnerHealth(id) => self.partner_health(PartnerId::new(id)).await,
            Route::BenchSse => Ok(sse_response(self.bench_stream(&query)?)),
            Route::Rules => self.list_rules(&query).await,
            Route::CreateRule => self.create_rule(req).await,
            Route::Rule(id) => self.get_rule(&id).await,
            Route::UpdateRule(id) => self.update_rule(&id, req).await,
            Route::DeleteRule(id) => self.delete_rule(&id).await,
            Route::Enrich => self.enrich(req).await,
        }
    }

    /// Which route a method and path ask for (both transports decide with this).
    fn route_of<'p>(&'p self, method: &Method, path: &'p str) -> Result<Route<'p>, ApiError> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (route, allowed) = match segments.as_slice() {
            ["healthz"] => (Route::Healthz, "GET"),
            ["readyz"] => (Route::Readyz, "GET"),
            [""] => (Route::Console, "GET"),
            ["console", name] => (Route::ConsoleFile(segment(name)?), "GET"),
            ["metrics"] if self.metrics.is_some() => (
                Route::Metrics(self.metrics.as_ref().expect("checked")),
                "GET",
            ),
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
            ["v1", "taxonomy"] => (Route::Taxonomy, "GET"),
            ["v1", "partners", id, "health"] => (Route::PartnerHealth(segment(id)?), "GET"),
            ["v1", "bench", "sse"] if self.settings.bench_routes => (Route::BenchSse, "GET"),
            ["v1", "rules"] if method == Method::POST => (Route::CreateRule, "POST"),
            ["v1", "rules"] => (Route::Rules, "GET"),
            ["v1", "rules", id] if method == Method::PUT => {
                (Route::UpdateRule(segment(id)?), "PUT")
            }
            ["v1", "rules", id] if method == Method::DELETE => {
                (Route::DeleteRule(segment(id)?), "DELETE")
            }
            ["v1", "rules", id] => (Route::Rule(segment(id)?), "GET"),
            ["v1", "enrich"] => (Route::Enrich, "POST"),
            _ => return Err(ApiError::not_found(format!("no route for {path}"))),
        };
        only(method, allowed)?;
        Ok(route)
    }
}

/// The SSE requests the HTTP/1.1 fast path may serve.
pub(crate) enum SseRequest {
    /// `POST /v1/classifications` answered with the job's stream.
    Submit,
    /// `GET /v1/bench/sse?…`, with its query string.
    Bench { query: String },
}

impl Endpoint for App {
    type Body = ResBody;
    type SseBody = SseStream;
    type SseRequest = SseRequest;

    async fn respond(self: Arc<Self>, req: Request<Incoming>) -> Res {
        self.handle(req).await
    }

    fn sse_request(&self, head: &Head<'_>) -> Option<(SseRequest, RequestBody)> {
        match self.route_of(head.method, head.path).ok()? {
            Route::Submit => {
                let detached = jobs::wants_async(head.header_values("prefer"), head.query);
                // An invalid `mode` is answered (400) by the hyper path.
                matches!(detached, Ok(false)).then_some((SseRequest::Submit, RequestBody::Read))
            }
            Route::BenchSse => Some((
                SseRequest::Bench {
                    query: head.query.to_owned(),
                },
                RequestBody::None,
            )),
            _ => None,
        }
    }

    fn open_sse(&self, req: SseRequest, body: &[u8]) -> Result<SseStream, ApiError> {
        match req {
            SseRequest::Submit => self.start_job(body, false).map(|job| self.job_stream(job)),
            SseRequest::Bench { query } => self.bench_stream(&query),
        }
    }

    async fn closing(&self) {
        self.stop_sweeper.cancel();
        let sweeper = self
            .sweeper
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = sweeper {
            let _ = task.await;
        }
    }

    async fn idle(&self) {
        self.orchestrator.wait_idle().await;
    }

    async fn abort(&self) {
        tracing::info!("handing running jobs over");
        self.end_streams.cancel();
        self.orchestrator.hand_over_jobs().await;
    }

    fn reject(&self, e: &ApiError) -> Res {
        error_response(e)
    }
}

/// A route, decided from the method and path alone.
enum Route<'p> {
    Healthz,
    Readyz,
    Console,
    ConsoleFile(Cow<'p, str>),
    Metrics(&'p PrometheusHandle),
    Submit,
    Job(Cow<'p, str>),
    Cancel(Cow<'p, str>),
    Events(Cow<'p, str>),
    Transactions(Cow<'p, str>),
    Spending(Cow<'p, str>),
    Merchants(Cow<'p, str>),
    Partners,
    Taxonomy,
    PartnerHealth(Cow<'p, str>),
    BenchSse,
    Rules,
    CreateRule,
    Rule(Cow<'p, str>),
    UpdateRule(Cow<'p, str>),
    DeleteRule(Cow<'p, str>),
    Enrich,
}

/// A path segment (an id) with its percent-escapes decoded (`c%2042` → `c 42`).
fn segment(raw: &str) -> Result<Cow<'_, str>, ApiError> {
    let id = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| ApiError::invalid("path", format!("{raw:?} is not UTF-8 once decoded")))?;
    txclass_core::domain::check_id("path", &id)
        .map_err(|e| ApiError::invalid(e.field, e.message))?;
    Ok(id)
}

fn only(method: &Method, allowed: &'static str) -> Result<(), ApiError> {
    if method.as_str() == allowed {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(method, allowed))
    }
}

//! Routing and handlers: HTTP in, core call, JSON or SSE out. The same code answers on both
//! transports ([`crate::transport`]), which reach it through the [`Endpoint`] impl below.
//!
//! | module | routes |
//! |---|---|
//! | [`jobs`] | `POST /v1/classifications`, `GET`/`DELETE /v1/classifications/{id}`, `GET …/{id}/events` |
//! | [`queries`] | `GET /v1/customers/{id}/{transactions,spending,merchants}`, `GET /v1/partners[/{id}/health]` |
//! | [`health`] | `GET /healthz`, `GET /readyz`, `GET /metrics` |
//! | [`openapi`] | `GET /openapi.json`: the OpenAPI 3.1 document of every route here |
//! | [`corrections`] | `POST /v1/customers/{id}/transactions/{tx}/category`, `GET /v1/customers/{id}/corrections`, `GET /v1/categories` |
//! | [`session`] | `POST /v1/classifications/{id}/events-token`, `POST`/`DELETE /v1/session` (the console's cookie) |
//! | [`rules`] | `GET`/`POST /v1/rules`, `GET`/`PUT`/`DELETE /v1/rules/{id}` |
//! | [`enrich`] | `POST /v1/enrich` |
//! | [`console`] | `GET /` (the web console) and `GET /console/{file}` (its script and style sheet) |
//! | [`bench`](mod@bench) | `GET /v1/bench/sse` (with `bench_routes` only) |
//! | [`bodies`] | JSON and SSE responses, request bodies and query strings, their 4xx |

mod bench;
mod bodies;
mod console;
mod corrections;
mod enrich;
mod health;
mod jobs;
mod openapi;
mod queries;
mod rules;
mod session;

use std::borrow::Cow;
use std::sync::{Arc, LazyLock, Mutex};

use http::{Method, Request};
use hyper::body::Incoming;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use txclass_core::auth::{AuthError, KeyFile, KeyRing, TokenKind, Tokens};
use txclass_core::{CustomerId, JobId, Orchestrator, PartnerId, TenantId};

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
    /// `GET /openapi.json`, built once: the document of the routes this server serves.
    openapi_json: bytes::Bytes,
    /// The API keys, when requests need them (`None`: local-only, every request is the
    /// local tenant's).
    keys: Option<KeyRing>,
    /// Signs and checks events tokens and console sessions.
    tokens: Tokens,
}

/// The app as one request's tenant sees it: its handlers reach the core through
/// `orchestrator`, which holds that tenant's jobs, customers, rules and corrections only.
pub(crate) struct Scoped<'a> {
    app: &'a App,
    orchestrator: Orchestrator,
}

impl Scoped<'_> {
    /// Admits one request under the tenant's allowance; a `429` with `Retry-After` past it.
    async fn admit(&self) -> Result<(), ApiError> {
        self.orchestrator
            .admit()
            .await
            .map_err(|wait| ApiError::too_many_requests(wait.as_secs_f64().ceil().max(1.0) as u64))
    }
}

impl std::ops::Deref for Scoped<'_> {
    type Target = App;

    fn deref(&self) -> &App {
        self.app
    }
}

impl App {
    /// An application over `orchestrator`; [`App::start_sweeper`] starts taking jobs over.
    /// With `metrics`, `GET /metrics` renders it.
    pub(crate) fn new(
        orchestrator: Orchestrator,
        settings: HttpSettings,
        metrics: Option<PrometheusHandle>,
    ) -> crate::Result<Self> {
        let keys = match &settings.auth {
            Some(auth) => Some(KeyRing::open(KeyFile::new(&auth.keys_file))?),
            None => None,
        };
        let tokens = match settings
            .auth
            .as_ref()
            .map(|a| std::env::var(&a.token_secret_env))
        {
            Some(Ok(secret)) if !secret.is_empty() => Tokens::new(secret.as_bytes()),
            Some(_) => {
                tracing::warn!(
                    "no token secret (`[auth] token_secret_env`): events tokens and console \
                     sessions minted here work on this instance only"
                );
                Tokens::random()
            }
            None => Tokens::random(),
        };
        let mut app = Self {
            orchestrator,
            settings,
            end_streams: CancellationToken::new(),
            stop_sweeper: CancellationToken::new(),
            sweeper: Mutex::new(None),
            metrics,
            sse_meters: Arc::new(SseMeters::new()),
            openapi_json: bytes::Bytes::new(),
            keys,
            tokens,
        };
        app.openapi_json = app.build_openapi();
        Ok(app)
    }

    /// The app as `tenant` sees it.
    pub(crate) fn scoped(&self, tenant: TenantId) -> Scoped<'_> {
        Scoped {
            app: self,
            orchestrator: self.orchestrator.for_tenant(tenant),
        }
    }

    /// The tenant a request acts for, from its `Authorization` header values: the local
    /// tenant when the server runs without keys; else the key's tenant, or a 401 that says
    /// what is wrong (never the key).
    pub(crate) fn tenant_of<'v>(
        &self,
        mut authorization: impl Iterator<Item = &'v [u8]>,
    ) -> Result<TenantId, ApiError> {
        let Some(keys) = &self.keys else {
            return Ok(TenantId::local());
        };
        let key = match (authorization.next(), authorization.next()) {
            (None, _) => Err(AuthError::Missing),
            (Some(value), None) => bearer(value).ok_or(AuthError::Invalid),
            (Some(_), Some(_)) => Err(AuthError::Invalid),
        };
        key.and_then(|k| keys.verify(k))
            .map_err(|e| ApiError::unauthorized(e.to_string()))
    }

    /// Whether `route` needs no key: health, readiness, the contract, the console's files,
    /// ending a session, and `/metrics` when so configured.
    fn is_public(&self, route: &Route<'_>) -> bool {
        match route {
            Route::Healthz
            | Route::Readyz
            | Route::OpenApi
            | Route::Console
            | Route::ConsoleFile(_)
            | Route::EndSession => true,
            Route::Metrics(_) => self
                .settings
                .auth
                .as_ref()
                .is_none_or(|a| a.metrics_without_key),
            _ => false,
        }
    }

    /// The tenant of a request for `route`: public routes (health, the contract, the
    /// console's files, ending a session, and `/metrics` when so configured) need no key; a
    /// job's events also take that job's events token (`?access_token=`), and every other
    /// route a console session's cookie when no `Authorization` is sent.
    fn tenant_for(
        &self,
        route: &Route<'_>,
        headers: &http::HeaderMap,
        query: &str,
    ) -> Result<TenantId, ApiError> {
        if self.is_public(route) || self.keys.is_none() {
            return Ok(TenantId::local());
        }
        let unauthorized = |e: AuthError| ApiError::unauthorized(e.to_string());
        if let Route::Events(job) = route {
            if let Some(token) = session::access_token(query) {
                let (tenant, for_job) = self
                    .tokens
                    .verify(&token, TokenKind::Events, chrono::Utc::now())
                    .map_err(unauthorized)?;
                return match for_job {
                    Some(j) if j.as_str() == job.as_ref() => Ok(tenant),
                    _ => Err(unauthorized(AuthError::Invalid)),
                };
            }
        }
        let authorization = headers.get_all(http::header::AUTHORIZATION);
        if authorization.iter().next().is_none() {
            if let Some(token) = session::cookie(headers) {
                return self
                    .tokens
                    .verify(token, TokenKind::Session, chrono::Utc::now())
                    .map(|(tenant, _)| tenant)
                    .map_err(unauthorized);
            }
        }
        self.tenant_of(authorization.iter().map(http::HeaderValue::as_bytes))
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
        let route = self.route_of(req.method(), &path)?;
        let tenant = self.tenant_for(&route, req.headers(), &query)?;
        let s = self.scoped(tenant);
        if !s.orchestrator.tenant().is_local() {
            s.admit().await?;
        }
        match route {
            Route::Healthz => Ok(health::healthz()),
            Route::Readyz => Ok(health::readyz(&self.orchestrator).await),
            Route::OpenApi => Ok(self.openapi()),
            Route::Console => Ok(console::index(req.headers())),
            Route::ConsoleFile(name) => console::file(&name, req.headers()),
            Route::Metrics(handle) => Ok(health::metrics(&self.orchestrator, handle).await),
            Route::Submit => s.submit(req, &query).await,
            Route::Job(id) => s.job(JobId::new(id), &query).await,
            Route::Cancel(id) => s.cancel(JobId::new(id)).await,
            Route::Events(id) => s.events(JobId::new(id), &req, &query).await,
            Route::EventsToken(id) => s.events_token(JobId::new(id)).await,
            Route::Session => Ok(s.session()),
            Route::EndSession => Ok(session::end()),
            Route::Transactions(id) => s.transactions(CustomerId::new(id), &query).await,
            Route::Spending(id) => s.spending(CustomerId::new(id), &query).await,
            Route::Merchants(id) => s.merchants(CustomerId::new(id), &query).await,
            Route::Correct(id, tx) => s.correct(CustomerId::new(id), &tx, req).await,
            Route::Corrections(id) => s.list_corrections(CustomerId::new(id), &query).await,
            Route::Categories => Ok(s.categories()),
            Route::Partners => s.partners().await,
            Route::Taxonomy => s.taxonomy(),
            Route::PartnerHealth(id) => s.partner_health(PartnerId::new(id)).await,
            Route::BenchSse => Ok(sse_response(self.bench_stream(&query)?)),
            Route::Rules => s.list_rules(&query).await,
            Route::CreateRule => s.create_rule(req).await,
            Route::Rule(id) => s.get_rule(&id).await,
            Route::UpdateRule(id) => s.update_rule(&id, req).await,
            Route::DeleteRule(id) => s.delete_rule(&id).await,
            Route::Enrich => s.enrich(req, &query).await,
        }
    }

    /// A request's JSON body read within the body limit and read timeout, decoded (a `400`
    /// names the field at fault).
    async fn json_body<T: serde::de::DeserializeOwned>(
        &self,
        req: Request<Incoming>,
    ) -> Result<T, ApiError> {
        let body = bodies::read_body(
            req,
            self.settings.body_limit,
            self.settings.connections.body_read_timeout,
        )
        .await?;
        bodies::decode_json(&body)
    }

    /// Which route a method and path ask for (both transports decide with this).
    fn route_of<'p>(&'p self, method: &Method, path: &'p str) -> Result<Route<'p>, ApiError> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let route = match segments.as_slice() {
            ["healthz"] => Route::Healthz,
            ["readyz"] => Route::Readyz,
            ["openapi.json"] => Route::OpenApi,
            [""] => Route::Console,
            ["console", name] => Route::ConsoleFile(segment(name)?),
            ["metrics"] if self.metrics.is_some() => {
                Route::Metrics(self.metrics.as_ref().expect("checked"))
            }
            ["v1", "classifications"] => Route::Submit,
            ["v1", "classifications", id] if method == Method::DELETE => {
                Route::Cancel(segment(id)?)
            }
            ["v1", "classifications", id] => Route::Job(segment(id)?),
            ["v1", "classifications", id, "events"] => Route::Events(segment(id)?),
            ["v1", "classifications", id, "events-token"] => Route::EventsToken(segment(id)?),
            ["v1", "session"] if method == Method::DELETE => Route::EndSession,
            ["v1", "session"] => Route::Session,
            ["v1", "customers", id, "transactions"] => Route::Transactions(segment(id)?),
            ["v1", "customers", id, "spending"] => Route::Spending(segment(id)?),
            ["v1", "customers", id, "merchants"] => Route::Merchants(segment(id)?),
            ["v1", "customers", id, "transactions", tx, "category"] => {
                Route::Correct(segment(id)?, segment(tx)?)
            }
            ["v1", "taxonomy"] => Route::Taxonomy,
            ["v1", "customers", id, "corrections"] => Route::Corrections(segment(id)?),
            ["v1", "categories"] => Route::Categories,
            ["v1", "partners"] => Route::Partners,
            ["v1", "partners", id, "health"] => Route::PartnerHealth(segment(id)?),
            ["v1", "bench", "sse"] if self.settings.bench_routes => Route::BenchSse,
            ["v1", "rules"] if method == Method::POST => Route::CreateRule,
            ["v1", "rules"] => Route::Rules,
            ["v1", "rules", id] if method == Method::PUT => Route::UpdateRule(segment(id)?),
            ["v1", "rules", id] if method == Method::DELETE => Route::DeleteRule(segment(id)?),
            ["v1", "rules", id] => Route::Rule(segment(id)?),
            ["v1", "enrich"] => Route::Enrich,
            _ => return Err(ApiError::not_found(format!("no route for {path}"))),
        };
        let (allowed, template) = route.operation();
        if method.as_str() != allowed {
            return Err(ApiError::method_not_allowed(method, allow(template)));
        }
        Ok(route)
    }
}

/// The SSE requests the HTTP/1.1 fast path may serve.
pub(crate) enum SseRequest {
    /// `POST /v1/classifications` answered with the job's stream, for this tenant.
    Submit(TenantId),
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
            // A keyed submission looks its job up first (async): the hyper path serves it.
            Route::Submit if head.header_values(jobs::IDEMPOTENCY_KEY).next().is_some() => None,
            Route::Submit => {
                let detached = jobs::wants_async(head.header_values("prefer"), head.query);
                // An invalid `mode` and a refused key are answered (400, 401) by the hyper
                // path.
                let tenant = self.tenant_of(head.header_values("authorization")).ok()?;
                matches!(detached, Ok(false))
                    .then_some((SseRequest::Submit(tenant), RequestBody::Read))
            }
            // With keys on, the benchmark's streams need one too (else hyper answers 401).
            Route::BenchSse => self
                .tenant_of(head.header_values("authorization"))
                .ok()
                .map(|_| {
                    (
                        SseRequest::Bench {
                            query: head.query.to_owned(),
                        },
                        RequestBody::None,
                    )
                }),
            _ => None,
        }
    }

    async fn open_sse(&self, req: SseRequest, body: &[u8]) -> Result<SseStream, ApiError> {
        match req {
            SseRequest::Submit(tenant) => {
                let s = self.scoped(tenant);
                s.admit().await?;
                s.start_job(body, false).map(|job| s.job_stream(job))
            }
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

/// Declares [`Route`] with each route's method and OpenAPI path template, and
/// [`OPERATIONS`], every one of them: the route table the OpenAPI document must cover
/// (`openapi::tests` checks both ways, so a route added without its operation fails).
macro_rules! routes {
    ($($variant:ident $(($($field:ty),+))? = $method:ident $template:literal,)+) => {
        /// A route, decided from the method and path alone.
        enum Route<'p> {
            $($variant $(($($field),+))?,)+
        }

        impl Route<'_> {
            /// The method this route takes and its path as an OpenAPI template.
            fn operation(&self) -> (&'static str, &'static str) {
                match self {
                    $(Route::$variant { .. } => (stringify!($method), $template),)+
                }
            }
        }

        /// Every route's method and path template.
        const OPERATIONS: &[(&str, &str)] = &[$((stringify!($method), $template),)+];
    };
}

routes! {
    Healthz = GET "/healthz",
    Readyz = GET "/readyz",
    OpenApi = GET "/openapi.json",
    Console = GET "/",
    ConsoleFile(Cow<'p, str>) = GET "/console/{file}",
    Metrics(&'p PrometheusHandle) = GET "/metrics",
    Submit = POST "/v1/classifications",
    Job(Cow<'p, str>) = GET "/v1/classifications/{id}",
    Cancel(Cow<'p, str>) = DELETE "/v1/classifications/{id}",
    Events(Cow<'p, str>) = GET "/v1/classifications/{id}/events",
    EventsToken(Cow<'p, str>) = POST "/v1/classifications/{id}/events-token",
    Session = POST "/v1/session",
    EndSession = DELETE "/v1/session",
    Transactions(Cow<'p, str>) = GET "/v1/customers/{id}/transactions",
    Spending(Cow<'p, str>) = GET "/v1/customers/{id}/spending",
    Merchants(Cow<'p, str>) = GET "/v1/customers/{id}/merchants",
    Correct(Cow<'p, str>, Cow<'p, str>) = POST "/v1/customers/{id}/transactions/{tx}/category",
    Corrections(Cow<'p, str>) = GET "/v1/customers/{id}/corrections",
    Categories = GET "/v1/categories",
    Taxonomy = GET "/v1/taxonomy",
    Partners = GET "/v1/partners",
    PartnerHealth(Cow<'p, str>) = GET "/v1/partners/{id}/health",
    BenchSse = GET "/v1/bench/sse",
    Rules = GET "/v1/rules",
    CreateRule = POST "/v1/rules",
    Rule(Cow<'p, str>) = GET "/v1/rules/{id}",
    UpdateRule(Cow<'p, str>) = PUT "/v1/rules/{id}",
    DeleteRule(Cow<'p, str>) = DELETE "/v1/rules/{id}",
    Enrich = POST "/v1/enrich",
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

/// The `Allow` header of a path template: every method the route table has for it
/// (`GET, PUT, DELETE` for `/v1/rules/{id}`), in the table's order.
fn allow(template: &str) -> &'static str {
    static ALLOW: LazyLock<Vec<(&str, String)>> = LazyLock::new(|| {
        let mut by_template: Vec<(&str, String)> = Vec::new();
        for &(method, template) in OPERATIONS {
            match by_template.iter_mut().find(|(t, _)| *t == template) {
                Some((_, methods)) => {
                    methods.push_str(", ");
                    methods.push_str(method);
                }
                None => by_template.push((template, method.to_owned())),
            }
        }
        by_template
    });
    ALLOW
        .iter()
        .find(|(t, _)| *t == template)
        .map_or("", |(_, methods)| methods.as_str())
}

/// The key of an `Authorization: Bearer <key>` value (the scheme in any case).
fn bearer(value: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(value).ok()?;
    let (scheme, key) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim())
        .filter(|k| !k.is_empty())
}

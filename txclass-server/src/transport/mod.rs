//! Transports: how bytes on a socket become requests to the application, and back.
//!
//! This module owns everything below the routes: the accept loop, the hyper connection
//! builder (HTTP/1.1 and HTTP/2), the HTTP/1.1 fast path for SSE responses ([`h1_sse`]) and
//! the shutdown drain. The application is reached through one door, [`Endpoint`]: a hyper
//! request in, a response out, plus three questions the fast path asks about an SSE request
//! whose head it parsed, and three hooks the drain calls. Nothing here knows a route.
//!
//! | setting | connections |
//! |---|---|
//! | `http1_fast_path = true` (default) | every connection starts on [`h1_sse`]: an SSE request is served there, anything else is handed to hyper with the bytes already read |
//! | `http1_fast_path = false` | every connection goes to hyper |
//!
//! Both transports answer every request the same (status, headers, JSON errors, SSE
//! framing); `tests/http.rs` runs one conformance suite over each. The fast path exists for
//! memory: an idle HTTP/1.1 SSE stream costs about 1.8 KB on it and about 20 KB through
//! hyper (the figures and the reason are in [`h1_sse`]). What differs with it off, all of
//! it hyper's own behaviour:
//!
//! - a client that leaves an open stream is noticed at the next write (an event or the
//!   keep-alive comment), not at once: the fast path watches the socket while it waits;
//! - a head over the limit gets hyper's `431` with an empty body, not the JSON error, and
//!   the limit is never under 8 KiB (hyper's smallest buffer);
//! - after a `413` hyper reads and drops the refused body and keeps the connection; the
//!   fast path does not read it and closes.
//!
//! ## Limits
//!
//! What a client may hold is bounded on every path (the `[connections]` table,
//! [`ConnectionLimits`]): a request head must arrive within `header_read_timeout` and a body
//! within `body_read_timeout` (else `408`), on both transports; hyper's connections also get
//! the timers hyper lacks ([`guard`]: handshake, idle, a response the client stops taking)
//! and HTTP/2 keep-alive pings, a cap on concurrent streams and on the send buffer per
//! stream. Before the application sees a request, [`check_request`] refuses one without
//! exactly one `Host` (HTTP/1.1; `400`) or with a transfer coding other than `chunked`
//! (`501`); the fast path leaves such requests, and any target `http::Uri` would read
//! otherwise than as it stands, to hyper, so the same bytes get the same answer on both.
//!
//! ## Shutdown
//!
//! When the shutdown future completes: the listener is closed, [`Endpoint::closing`] is
//! called (no new work is taken), idle fast-path connections close and hyper's connections
//! get a graceful shutdown. The drain then waits up to the grace period for every connection
//! to close and [`Endpoint::idle`]; past it, [`Endpoint::abort`] ends what still runs and the
//! connections get [`CLOSE_TIMEOUT`] more.

mod guard;
mod h1_sse;
mod rewind;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, CONNECTION, HOST, TRANSFER_ENCODING};
use http::{Method, Request, Response, StatusCode, Version};
use hyper::body::{Body, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use self::guard::{Activity, Guarded, OpenGuard, Tracked, Watched};
use crate::config::{ConnectionLimits, HttpSettings};
use crate::error::ApiError;

/// Errors a response body may end with (hyper's bound for bodies).
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long connections may take to close after their streams were ended at the end of the
/// grace period.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The application as a transport sees it.
pub(crate) trait Endpoint: Send + Sync + Sized + 'static {
    /// A response body.
    type Body: Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static;
    /// The body of an SSE response the fast path writes itself.
    type SseBody: Body<Data = Bytes, Error: Into<BoxError>> + Send + Unpin;
    /// An SSE request recognised from its head; owned, because the head's bytes are gone by
    /// the time its body has been read.
    type SseRequest: Send;

    /// Answers one request; errors are answers too.
    fn respond(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> impl Future<Output = Response<Self::Body>> + Send + 'static;

    /// Whether the application answers this request with an SSE stream (then the fast path
    /// may serve it), and whether the request carries a body to read first.
    fn sse_request(&self, head: &Head<'_>) -> Option<(Self::SseRequest, RequestBody)>;

    /// Opens the SSE stream of a recognised request, given its whole body (empty for
    /// [`RequestBody::None`]).
    fn open_sse(
        &self,
        req: Self::SseRequest,
        body: &[u8],
    ) -> impl Future<Output = Result<Self::SseBody, ApiError>> + Send;

    /// The listener was closed: take no new work.
    fn closing(&self) -> impl Future<Output = ()> + Send;

    /// Resolves once no work runs here any more (open connections are the transport's).
    fn idle(&self) -> impl Future<Output = ()> + Send;

    /// The grace period is over: end open streams and what runs behind them.
    fn abort(&self) -> impl Future<Output = ()> + Send;

    /// The answer to a request the transport refuses before the application sees it.
    fn reject(&self, e: &ApiError) -> Response<Self::Body>;
}

/// Whether an SSE request carries a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestBody {
    /// Read by `Content-Length` (none: empty), within the body limit.
    Read,
    /// None is expected; a request that has one is left to hyper.
    None,
}

/// What the fast path parsed of an HTTP/1.1 request head.
pub(crate) struct Head<'a> {
    /// The method.
    pub(crate) method: &'a Method,
    /// The path, still percent-encoded.
    pub(crate) path: &'a str,
    /// The query string without `?` (empty when absent).
    pub(crate) query: &'a str,
    headers: &'a [httparse::Header<'a>],
}

impl<'a> Head<'a> {
    /// Every value of header `name` (any case), in order.
    pub(crate) fn header_values(&self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }
}

/// What every connection task shares.
pub(crate) struct Shared<E> {
    endpoint: Arc<E>,
    hyper: auto::Builder<TokioExecutor>,
    /// Largest request body (larger: 413).
    body_limit: usize,
    /// Largest HTTP/1.1 request head (larger: 431).
    max_header_bytes: usize,
    /// Timeouts and caps on connections.
    limits: ConnectionLimits,
    /// Cancelled at the shutdown signal: fast-path connections close when idle and serve no
    /// further requests (hyper's connections get `graceful_shutdown`).
    closing: CancellationToken,
}

impl<E: Endpoint> Shared<E> {
    fn new(endpoint: Arc<E>, settings: &HttpSettings) -> Self {
        let limits = settings.connections.clone();
        let mut hyper = auto::Builder::new(TokioExecutor::new());
        hyper
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(settings.max_header_bytes.max(8192));
        hyper
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(limits.http2_keep_alive_interval)
            .keep_alive_timeout(limits.http2_keep_alive_timeout)
            .max_concurrent_streams(limits.http2_max_concurrent_streams.get())
            .max_send_buf_size(limits.http2_max_send_buf_bytes)
            .initial_stream_window_size(limits.http2_initial_stream_window_bytes)
            .initial_connection_window_size(limits.http2_initial_connection_window_bytes)
            .max_header_list_size(u32::try_from(settings.max_header_bytes).unwrap_or(u32::MAX));
        Self {
            endpoint,
            hyper,
            body_limit: settings.body_limit,
            max_header_bytes: settings.max_header_bytes,
            limits,
            closing: CancellationToken::new(),
        }
    }
}

/// Serves `endpoint` on `listener` until `shutdown` completes, then drains (see the module
/// docs). With `settings.http1_fast_path` off every connection goes through hyper.
pub(crate) async fn serve<E: Endpoint>(
    listener: TcpListener,
    endpoint: Arc<E>,
    settings: &HttpSettings,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared::new(endpoint.clone(), settings));
    let graceful = GracefulShutdown::new();
    tracing::info!(
        addr = %listener.local_addr()?,
        http1_fast_path = settings.http1_fast_path,
        "listening"
    );
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        // The watcher makes `graceful.shutdown()` wait for the connection.
        if settings.http1_fast_path {
            tokio::spawn(h1_sse::serve(stream, shared.clone(), graceful.watcher()));
        } else {
            tokio::spawn(serve_hyper(stream, shared.clone(), graceful.watcher()));
        }
    }
    drop(listener);
    drain(&shared, graceful, settings.grace_period).await;
    Ok(())
}

/// Stops the open connections and the endpoint's work: gracefully within `grace`, then by
/// force.
async fn drain<E: Endpoint>(shared: &Shared<E>, graceful: GracefulShutdown, grace: Duration) {
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "shutting down: no new connections; open streams may finish"
    );
    shared.closing.cancel();
    shared.endpoint.closing().await;
    let closed = graceful.shutdown();
    tokio::pin!(closed);
    let all_done = async {
        (&mut closed).await;
        shared.endpoint.idle().await;
    };
    if tokio::time::timeout(grace, all_done).await.is_err() {
        tracing::info!("grace period over: ending open streams");
        let stopped = async {
            shared.endpoint.abort().await;
            (&mut closed).await;
        };
        if tokio::time::timeout(CLOSE_TIMEOUT, stopped).await.is_err() {
            tracing::warn!("some connections did not close in time");
        }
    }
}

/// Serves the rest of a connection with hyper (HTTP/1.1 or HTTP/2, by its first bytes),
/// under the connection limits hyper does not keep itself ([`guard`]).
async fn serve_hyper<E, T>(io: T, shared: Arc<Shared<E>>, watcher: Watcher)
where
    E: Endpoint,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new(Instant::now());
    let io = TokioIo::new(Watched::new(io, activity.clone()));
    let service = HyperService {
        endpoint: shared.endpoint.clone(),
        activity: activity.clone(),
    };
    let conn = shared.hyper.serve_connection(io, service).into_owned();
    let conn = Guarded::new(
        conn,
        |c| c.graceful_shutdown(),
        activity,
        shared.limits.clone(),
        shared.closing.clone(),
    );
    // Boxed: the fast path's own state stays small for the connections that never get here.
    if let Err(e) = Box::pin(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
    // The server's drain waits until every connection has dropped its watcher.
    drop(watcher);
}

/// What a request must satisfy before the application sees it (RFC 9112 §3.2, §6.1): one
/// `Host` (exactly one in HTTP/1.1), and no transfer coding but `chunked`.
fn check_request<B>(req: &Request<B>) -> Result<(), ApiError> {
    let hosts = req.headers().get_all(HOST).iter().count();
    if hosts > 1 || (hosts == 0 && req.version() == Version::HTTP_11) {
        return Err(ApiError::invalid(
            "Host",
            format!("an HTTP/1.1 request needs exactly one Host header, not {hosts}"),
        ));
    }
    for value in req.headers().get_all(TRANSFER_ENCODING) {
        for coding in value.to_str().unwrap_or("?").split(',') {
            let coding = coding.trim();
            if !coding.eq_ignore_ascii_case("chunked") {
                return Err(ApiError::new(
                    StatusCode::NOT_IMPLEMENTED,
                    "unsupported_transfer_coding",
                    format!("transfer coding {coding:?} is not supported (only chunked)"),
                ));
            }
        }
    }
    Ok(())
}

/// The hyper service over an [`Endpoint`].
struct HyperService<E> {
    endpoint: Arc<E>,
    activity: Arc<Activity>,
}

impl<E> Clone for HyperService<E> {
    fn clone(&self) -> Self {
        Self {
            endpoint: self.endpoint.clone(),
            activity: self.activity.clone(),
        }
    }
}

impl<E: Endpoint> hyper::service::Service<Request<Incoming>> for HyperService<E> {
    type Response = Response<Tracked<E::Body>>;
    type Error = Infallible;
    // Boxed: hyper keeps the allocation of a connection's request future for the
    // connection's whole life, so it must be a pointer, not the handler's whole state
    // (measured: this halves the memory of an idle stream).
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let open: OpenGuard = self.activity.open();
        let endpoint = self.endpoint.clone();
        Box::pin(async move {
            let http1 = req.version() <= Version::HTTP_11;
            let mut res = match check_request(&req) {
                Ok(()) => endpoint.respond(req).await,
                Err(e) => endpoint.reject(&e),
            };
            // The request body was not read to its end: the connection cannot go on.
            let unread = matches!(
                res.status(),
                StatusCode::REQUEST_TIMEOUT | StatusCode::NOT_IMPLEMENTED
            );
            if http1 && unread {
                res.headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(res.map(|body| Tracked::new(body, open)))
        })
    }
}

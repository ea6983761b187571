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
//! ## Shutdown
//!
//! When the shutdown future completes: the listener is closed, [`Endpoint::closing`] is
//! called (no new work is taken), idle fast-path connections close and hyper's connections
//! get a graceful shutdown. The drain then waits up to the grace period for every connection
//! to close and [`Endpoint::idle`]; past it, [`Endpoint::abort`] ends what still runs and the
//! connections get [`CLOSE_TIMEOUT`] more.

mod h1_sse;
mod rewind;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use hyper::body::{Body, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::HttpSettings;
use crate::error::ApiError;

/// Errors a response body may end with (hyper's bound for bodies).
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a client may take to send a request head (or a fast-path SSE request's body),
/// on both transports.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

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
    fn open_sse(&self, req: Self::SseRequest, body: &[u8]) -> Result<Self::SseBody, ApiError>;

    /// The listener was closed: take no new work.
    fn closing(&self) -> impl Future<Output = ()> + Send;

    /// Resolves once no work runs here any more (open connections are the transport's).
    fn idle(&self) -> impl Future<Output = ()> + Send;

    /// The grace period is over: end open streams and what runs behind them.
    fn abort(&self) -> impl Future<Output = ()> + Send;
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
    /// Cancelled at the shutdown signal: fast-path connections close when idle and serve no
    /// further requests (hyper's connections get `graceful_shutdown`).
    closing: CancellationToken,
}

impl<E: Endpoint> Shared<E> {
    fn new(endpoint: Arc<E>, settings: &HttpSettings) -> Self {
        let mut hyper = auto::Builder::new(TokioExecutor::new());
        hyper
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(settings.max_header_bytes.max(8192));
        hyper.http2().timer(TokioTimer::new());
        Self {
            endpoint,
            hyper,
            body_limit: settings.body_limit,
            max_header_bytes: settings.max_header_bytes,
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
            let io = TokioIo::new(stream);
            tokio::spawn(serve_hyper(io, shared.clone(), graceful.watcher()));
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

/// Serves the rest of a connection with hyper (HTTP/1.1 or HTTP/2, by its first bytes).
async fn serve_hyper<E, I>(io: I, shared: Arc<Shared<E>>, watcher: Watcher)
where
    E: Endpoint,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let conn = shared
        .hyper
        .serve_connection(io, HyperService(shared.endpoint.clone()))
        .into_owned();
    // Boxed: the fast path's own state stays small for the connections that never get here.
    if let Err(e) = Box::pin(watcher.watch(conn)).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// The hyper service over an [`Endpoint`].
struct HyperService<E>(Arc<E>);

impl<E> Clone for HyperService<E> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<E: Endpoint> hyper::service::Service<Request<Incoming>> for HyperService<E> {
    type Response = Response<E::Body>;
    type Error = Infallible;
    // Boxed: hyper keeps the allocation of a connection's request future for the
    // connection's whole life, so it must be a pointer, not the handler's whole state
    // (measured: this halves the memory of an idle stream).
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let respond = self.0.clone().respond(req);
        Box::pin(async move { Ok(respond.await) })
    }
}

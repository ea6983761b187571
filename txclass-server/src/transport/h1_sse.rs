//! The HTTP/1.1 fast path for SSE responses.
//!
//! Every accepted connection starts here. Its first request head is read into a small buffer
//! (1 KiB, grown only as needed, at most [`HttpSettings::max_header_bytes`], then 431) and
//! parsed with `httparse`. A request the application answers with an SSE stream
//! ([`Endpoint::sse_request`]: `POST /v1/classifications` without async mode, `GET
//! /v1/bench/sse` when enabled) is served here: the body is read by `Content-Length`, the
//! application opens the stream from it ([`Endpoint::open_sse`], the same code as on the hyper
//! path), and this module writes the status line, the headers and the frames as chunks. Anything else (an HTTP/2 preface, any other route, a
//! chunked request body, an upgrade, HTTP/1.0, a head `httparse` refuses) is handed to
//! hyper's `auto::Builder` with a [`Rewind`] that first replays the bytes already read; so
//! is the connection's next request once hyper has it. After an SSE response the connection
//! may serve further requests: the next head is read here again.
//!
//! While a stream is open the connection holds no read buffer (bytes the client pipelines
//! are kept, up to the head limit) and no write buffer between bursts; it only watches the
//! socket's read readiness to notice the client leaving, which drops the job stream (that
//! cancels the job and frees its permits).
//!
//! ## Why a hand-written HTTP/1.1 path for SSE, not hyper's?
//!
//! The server must hold 15,000 open SSE streams at ≤ 4 KB of server memory each. Over HTTP/2
//! hyper holds one at 1.9 KB, but over HTTP/1.1 it was 20.3 KB: hyper's HTTP/1 connection
//! keeps an 8 KiB read buffer (`INIT_BUFFER_SIZE`) and an 8 KiB header write buffer for its
//! whole life, and hyper 1 has no setting to shrink them (`max_buf_size` is at least
//! 8192). Measured with `DURATION=5 benches/sse_throughput.sh` (release build, 15,000 idle
//! `GET /v1/bench/sse?hold=true` streams, one connection each, RSS delta / streams; the old
//! binary through `SERVER_BIN`, run back to back on the same machine):
//!
//! | | hyper for everything | this path |
//! |---|---|---|
//! | idle HTTP/1.1 SSE stream | 20,170 B | 1,765 B |
//! | idle HTTP/2 SSE stream (hyper either way) | 1,828 B | 1,806 B |
//! | 100-event streams on 100 connections (wrk, 5 s runs alternated) | 1.41–1.92M events/s | 1.43–2.32M events/s |
//! | real job waiting on a slow partner (5,000 streams) | 28,128 B | 9,683 B |
//!
//! (The requirement is ≤ 4 KB and ≥ 470k events/s; the machine is shared, so throughput
//! varies by run more than between the two. The real-job row is
//! `sandbox.latency_*_ms = 600000`, capacity 64, `benches/hold_streams.py --post`; 8,423 B
//! at 15,000 streams. Its ~7 KB over a synthetic stream is what the core and the in-process
//! sandbox keep per waiting job; the connection's part is the same code as above.) The
//! connection task itself is 1,016 bytes (a test bounds it at 1 KiB); hyper's connection, for
//! the connections handed to it, is boxed behind it. The rest of HTTP/1.1 (every other
//! route, chunked request bodies, upgrades, answers to malformed requests) stays hyper's,
//! through [`Rewind`].
//!
//! It can be turned off (`http1_fast_path = false`): every connection then goes to hyper.
//!
//! [`HttpSettings::max_header_bytes`]: crate::HttpSettings::max_header_bytes

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, StatusCode};
use hyper::body::Body;
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::rewind::Rewind;
use super::{serve_hyper, Endpoint, Head, RequestBody, Shared};
use crate::error::ApiError;
use crate::sse::SSE_HEADERS;

/// The first read of a head goes into a buffer of this size.
const FIRST_READ: usize = 1024;

/// Most headers in a request head (hyper's default; more: hyper answers 431).
const MAX_HEADERS: usize = 100;

/// A burst of ready frames is written once it reaches this size.
const FLUSH_AT: usize = 64 * 1024;

/// An idle stream keeps a write buffer of at most this capacity.
const IDLE_WRITE_BUF: usize = 0;

/// After a 413 the server stops writing and reads (and drops) what the client still sends,
/// for at most this long and this much, so the client reads the answer instead of a reset.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 256 * 1024;

/// An SSE request whose head was read.
struct SseRequest<R> {
    /// Bytes of the head.
    head_len: usize,
    /// The client asked to close after the response.
    close: bool,
    /// The application's request.
    request: R,
    /// `Content-Length` (0 when absent), for a request whose body is read.
    length: u64,
    /// `Expect: 100-continue`.
    expect_continue: bool,
}

/// What parsing the buffered bytes gave.
enum Parsed<R> {
    /// A head has not fully arrived.
    Partial,
    /// For hyper.
    Hyper,
    /// For this path.
    Sse(SseRequest<R>),
}

/// What the connection does next.
enum Next<R> {
    Close,
    Hyper,
    HeadTooLarge,
    Sse(SseRequest<R>),
}

/// Serves one connection: SSE requests here, everything else (and the rest of the
/// connection) through hyper.
pub(crate) async fn serve<E: Endpoint>(
    mut stream: TcpStream,
    shared: Arc<Shared<E>>,
    watcher: Watcher,
) {
    // Bytes read and not yet consumed: the start of the next request.
    let mut buf: Vec<u8> = Vec::new();
    loop {
        match next_request(&mut stream, &mut buf, &shared).await {
            Next::Close => return,
            Next::Hyper => break,
            Next::HeadTooLarge => {
                // Bytes, not the error, across the write: the task keeps less.
                let bytes = error_bytes(
                    &ApiError::new(
                        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                        "header_too_large",
                        format!(
                            "the request head is larger than {} bytes",
                            shared.max_header_bytes
                        ),
                    ),
                    true,
                );
                let _ = stream.write_all(&bytes).await;
                linger(&mut stream).await;
                return;
            }
            Next::Sse(req) => match serve_sse(&mut stream, &mut buf, &shared, req).await {
                Ok(true) => continue,
                Ok(false) | Err(_) => return,
            },
        }
    }
    serve_hyper(Rewind::new(buf, stream), shared, watcher).await;
}

/// Reads until `buf` holds a whole request head (or the client leaves, or the server stops
/// while the connection is idle).
async fn next_request<E: Endpoint>(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    shared: &Shared<E>,
) -> Next<E::SseRequest> {
    let limit = shared.max_header_bytes.max(FIRST_READ);
    let deadline = tokio::time::sleep(shared.limits.header_read_timeout);
    tokio::pin!(deadline);
    loop {
        if !buf.is_empty() {
            match parse_head(buf, &*shared.endpoint) {
                Parsed::Partial if buf.len() >= limit => return Next::HeadTooLarge,
                Parsed::Partial => {}
                Parsed::Hyper => return Next::Hyper,
                Parsed::Sse(req) => return Next::Sse(req),
            }
        } else {
            // Idle: no buffer until the client sends something, and the server may close.
            tokio::select! {
                ready = stream.readable() => if ready.is_err() { return Next::Close },
                _ = shared.closing.cancelled() => return Next::Close,
                _ = &mut deadline => return Next::Close,
            }
            buf.reserve_exact(FIRST_READ);
            match stream.try_read_buf(buf) {
                Ok(0) => return Next::Close,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => *buf = Vec::new(),
                Err(_) => return Next::Close,
            }
            continue;
        }
        if buf.len() == buf.capacity() {
            let want = (buf.capacity() * 2).clamp(FIRST_READ, limit);
            buf.reserve_exact(want - buf.len());
        }
        let read = tokio::select! {
            read = stream.read_buf(buf) => read,
            _ = &mut deadline => return Next::Close,
        };
        match read {
            Ok(0) | Err(_) => return Next::Close,
            Ok(_) => {}
        }
    }
}

/// Parses the head at the start of `buf` and decides who serves it.
fn parse_head<E: Endpoint>(buf: &[u8], endpoint: &E) -> Parsed<E::SseRequest> {
    if buf.starts_with(b"PRI ") {
        // The HTTP/2 preface.
        return Parsed::Hyper;
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        // Malformed, too many headers, …: hyper answers those.
        Err(_) => return Parsed::Hyper,
    };
    let (Some(method), Some(target), Some(1)) = (req.method, req.path, req.version) else {
        return Parsed::Hyper;
    };
    // hyper reads the target as an `http::Uri`: one it refuses, or reads otherwise than as
    // the bytes stand (a fragment), is answered there, so both transports agree.
    match http::uri::PathAndQuery::try_from(target) {
        Ok(pq) if pq.as_str() == target && target.starts_with('/') => {}
        _ => return Parsed::Hyper,
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return Parsed::Hyper;
    };
    let mut length: Option<u64> = None;
    let mut close = false;
    let mut expect_continue = false;
    let mut hosts = 0;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("content-length") {
            let Some(n) = parse_length(h.value) else {
                return Parsed::Hyper;
            };
            if length.is_some_and(|l| l != n) {
                return Parsed::Hyper;
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("upgrade")
        {
            return Parsed::Hyper;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in std::str::from_utf8(h.value).unwrap_or("").split(',') {
                let token = token.trim();
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("upgrade") {
                    return Parsed::Hyper;
                }
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if !h.value.eq_ignore_ascii_case(b"100-continue") {
                return Parsed::Hyper;
            }
            expect_continue = true;
        }
    }
    if hosts != 1 {
        // Refused (400) on the hyper path, with the transport's other checks.
        return Parsed::Hyper;
    }
    let head = Head {
        method: &method,
        path,
        query,
        headers: req.headers,
    };
    let Some((request, body)) = endpoint.sse_request(&head) else {
        return Parsed::Hyper;
    };
    if body == RequestBody::None && (length.unwrap_or(0) != 0 || expect_continue) {
        return Parsed::Hyper;
    }
    Parsed::Sse(SseRequest {
        head_len,
        close,
        request,
        length: length.unwrap_or(0),
        expect_continue,
    })
}

/// A `Content-Length` value: digits only.
fn parse_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Serves one SSE request whose head is at the start of `buf`. `Ok(true)`: the connection
/// may serve another request.
async fn serve_sse<E: Endpoint>(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    shared: &Shared<E>,
    req: SseRequest<E::SseRequest>,
) -> io::Result<bool> {
    buf.drain(..req.head_len);
    let limit = shared.body_limit;
    if req.length > limit as u64 {
        stream
            .write_all(&error_bytes(&ApiError::payload_too_large(limit), true))
            .await?;
        linger(stream).await;
        return Ok(false);
    }
    let length = req.length as usize;
    if req.expect_continue && buf.len() < length {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    // (No local copies of the limits across an await: they would grow every connection.)
    let read = read_body(stream, buf, length);
    match tokio::time::timeout(shared.limits.body_read_timeout, read).await {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => return Ok(false),
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            let bytes = error_bytes(
                &ApiError::request_timeout(shared.limits.body_read_timeout),
                true,
            );
            stream.write_all(&bytes).await?;
            linger(stream).await;
            return Ok(false);
        }
    }
    let started = shared.endpoint.open_sse(req.request, &buf[..length]).await;
    buf.drain(..length);
    let keep_alive = !req.close && !shared.closing.is_cancelled();
    // Bytes, not the error, across the write: the task keeps less.
    let started = started.map_err(|e| error_bytes(&e, !keep_alive));
    let mut body = match started {
        Ok(body) => body,
        Err(bytes) => {
            stream.write_all(&bytes).await?;
            return Ok(keep_alive);
        }
    };
    // No read buffer while streaming (unless the client pipelined a request already).
    if buf.is_empty() {
        *buf = Vec::new();
    } else {
        buf.shrink_to_fit();
    }
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    for (name, value) in SSE_HEADERS {
        push_header(&mut out, name, value.as_bytes());
    }
    push_header(&mut out, "transfer-encoding", b"chunked");
    push_date(&mut out);
    if !keep_alive {
        push_header(&mut out, "connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    let limit = shared.max_header_bytes.max(FIRST_READ);
    let send_timeout = shared.limits.send_timeout;
    stream_body(stream, &mut body, out, buf, limit, send_timeout).await?;
    drop(body);
    Ok(keep_alive && !shared.closing.is_cancelled())
}

/// Reads until `buf` holds `length` bytes. `Ok(false)`: the client left.
async fn read_body(stream: &mut TcpStream, buf: &mut Vec<u8>, length: usize) -> io::Result<bool> {
    if buf.len() >= length {
        return Ok(true);
    }
    buf.reserve_exact(length - buf.len());
    while buf.len() < length {
        if stream.read_buf(buf).await? == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Writes `out` (the response head), then the body's frames as chunks, then the terminating
/// chunk. Returns an error when the client leaves, the socket fails or the client takes
/// nothing for `send_timeout` while a write waits; dropping the body then cancels its job.
async fn stream_body<B>(
    stream: &mut TcpStream,
    body: &mut B,
    mut out: Vec<u8>,
    pending: &mut Vec<u8>,
    pending_limit: usize,
    send_timeout: Duration,
) -> io::Result<()>
where
    B: Body<Data = Bytes, Error: Into<super::BoxError>> + Unpin,
{
    let mut written = 0;
    let mut finished = false;
    let mut watch_reads = true;
    // Runs while a write waits for the client (boxed: an idle stream keeps only the `None`).
    let mut stalled: Option<Pin<Box<tokio::time::Sleep>>> = None;
    poll_fn(|cx| loop {
        while written < out.len() {
            match Pin::new(&mut *stream).poll_write(cx, &out[written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    written += n;
                    stalled = None;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    let timer =
                        stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(send_timeout)));
                    if timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
                    }
                    return Poll::Pending;
                }
            }
        }
        if finished {
            return Poll::Ready(Ok(()));
        }
        out.clear();
        written = 0;
        while out.len() < FLUSH_AT {
            match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        push_chunk(&mut out, &data);
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(io::Error::other(e.into()))),
                Poll::Ready(None) => {
                    out.extend_from_slice(b"0\r\n\r\n");
                    finished = true;
                    break;
                }
                Poll::Pending => break,
            }
        }
        if !out.is_empty() {
            continue;
        }
        // Idle: give the write buffer back, and watch for the client leaving.
        if out.capacity() > IDLE_WRITE_BUF {
            out = Vec::new();
        }
        while watch_reads {
            match stream.poll_read_ready(cx) {
                Poll::Ready(Ok(())) => {
                    let mut scratch = [0u8; 512];
                    match stream.try_read(&mut scratch) {
                        Ok(0) => return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into())),
                        Ok(n) => {
                            // A pipelined request: keep it for after this response, but stop
                            // reading once a whole head's worth is waiting.
                            pending.extend_from_slice(&scratch[..n]);
                            watch_reads = pending.len() < pending_limit;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => break,
            }
        }
        return Poll::Pending;
    })
    .await
}

/// Stops writing, then reads and drops what the client still sends for a little while, so
/// it reads the answer before the connection closes.
async fn linger(stream: &mut TcpStream) {
    let _ = stream.shutdown().await;
    let _ = tokio::time::timeout(LINGER, async {
        // On the heap: an array here would be part of every connection task.
        let mut scratch = vec![0u8; 1024];
        let mut total = 0;
        while total < LINGER_BYTES {
            match stream.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await;
}

/// Appends one chunk of the chunked transfer coding.
fn push_chunk(out: &mut Vec<u8>, data: &Bytes) {
    if data.is_empty() {
        return;
    }
    use std::io::Write as _;
    out.reserve(data.len() + 12);
    let _ = write!(out, "{:x}\r\n", data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends the `date` header; the text is made once a second per thread (as hyper does).
fn push_date(out: &mut Vec<u8>) {
    thread_local! {
        static DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            *cached = (secs, httpdate::fmt_http_date(now));
        }
        push_header(out, "date", cached.1.as_bytes());
    });
}

/// A whole JSON error response, as the hyper path answers it.
fn error_bytes(e: &ApiError, close: bool) -> Vec<u8> {
    let body = e.to_json();
    let mut out = Vec::with_capacity(body.len() + 192);
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {} {}\r\n",
            e.status.as_u16(),
            e.status.canonical_reason().unwrap_or("")
        )
        .as_bytes(),
    );
    push_header(&mut out, "content-type", b"application/json");
    push_header(
        &mut out,
        "content-length",
        body.len().to_string().as_bytes(),
    );
    if let Some(allow) = e.allow {
        push_header(&mut out, "allow", allow.as_bytes());
    }
    if e.challenge {
        push_header(&mut out, "www-authenticate", b"Bearer realm=\"txclass\"");
    }
    if let Some(secs) = e.retry_after {
        push_header(&mut out, "retry-after", secs.to_string().as_bytes());
    }
    push_date(&mut out);
    if close {
        push_header(&mut out, "connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_framed_in_hex() {
        let mut out = Vec::new();
        push_chunk(&mut out, &Bytes::from_static(&[b'x'; 26]));
        push_chunk(&mut out, &Bytes::new());
        assert_eq!(&out[..4], b"1a\r\n");
        assert_eq!(out.len(), 4 + 26 + 2);
    }

    #[test]
    fn content_length_is_digits_only() {
        assert_eq!(parse_length(b" 42 "), Some(42));
        for bad in [
            &b""[..],
            b"+4",
            b"-1",
            b"4 2",
            b"0x10",
            b"99999999999999999999999",
        ] {
            assert_eq!(parse_length(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_error_answer_has_status_length_and_json() {
        let e = ApiError::invalid("from", "bad date");
        let text = String::from_utf8(error_bytes(&e, true)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
        assert!(head.contains("connection: close"));
        assert_eq!(body, e.to_json());
    }
}

#[cfg(test)]
mod size {
    use super::*;

    /// The connection task is allocated whole for the connection's life: keep it small
    /// (hyper's connection future is boxed behind it).
    #[tokio::test]
    async fn the_connection_task_stays_small() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let orchestrator = txclass_core::Orchestrator::builder().build().unwrap();
        let settings = crate::HttpSettings::default();
        let app = Arc::new(crate::routes::App::new(orchestrator, settings.clone(), None).unwrap());
        let shared = Arc::new(Shared::new(app, &settings));
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let task = serve(stream, shared, graceful.watcher());
        let size = std::mem::size_of_val(&task);
        eprintln!("connection task: {size} bytes");
        // 1 KiB for the fast path's own state, plus the SSE body's handle on its metrics
        // (counted per stream: `txclass_sse_streams_open`, `txclass_sse_events_sent_total`).
        assert!(size <= 1024 + 16, "{size} bytes");
        drop((task, client));
    }
}

/// Fuzz targets of the fast path (see `txclass_core::fuzz`): its head parser alone, and the
/// whole reader over a real socket.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use txclass_core::fuzz::{self, mutated};

    /// Requests the conformance suite sends, and their edges.
    fn seeds() -> Vec<Vec<u8>> {
        let body =
            r#"{"customer_id":"c-1","partner_id":"bank","from":"2026-01-01","to":"2026-03-31"}"#;
        [
            format!(
                "POST /v1/classifications HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\n\r\n{body}",
                body.len()
            ),
            format!(
                "POST /v1/classifications?mode=async HTTP/1.1\r\nHost: t\r\nprefer: respond-async\r\n\
                 expect: 100-continue\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            ),
            "GET /v1/bench/sse?events=4 HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n".into(),
            "GET /healthz HTTP/1.1\r\nhost: test\r\n\r\nGET /readyz HTTP/1.1\r\nhost: t\r\n\r\n".into(),
            "POST /v1/classifications HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n\
             5\r\n{\"a\":\r\n0\r\n\r\n"
                .into(),
            "GET /v1/customers/c%2042/transactions?limit=10&cursor=abc HTTP/1.1\r\nhost: t\r\n\r\n"
                .into(),
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".into(),
        ]
        .map(String::into_bytes)
        .to_vec()
    }

    const TOKENS: &[&[u8]] = &[
        b"\r\n",
        b"\n",
        b"\r\n\r\n",
        b": ",
        b"content-length: ",
        b"Content-Length: 99999999999999999999\r\n",
        b"content-length: 0\r\n",
        b"transfer-encoding: chunked\r\n",
        b"expect: 100-continue\r\n",
        b"connection: close\r\n",
        b"connection: upgrade\r\n",
        b"upgrade: h2c\r\n",
        b"host: t\r\n",
        b"prefer: respond-async\r\n",
        b"?mode=async",
        b"?mode=",
        b"%",
        b"%ff",
        b"%00",
        b"#",
        b"?",
        b"/",
        b"//",
        b"..",
        b"HTTP/1.0",
        b"HTTP/1.1",
        b"HTTP/2.0",
        b"POST ",
        b"GET ",
        b"PRI ",
        b"\"",
        b"<",
        b">",
        b" ",
        b"\t",
        b"\0",
        b"\x7f",
        b"\xff",
    ];

    fn app() -> Arc<crate::routes::App> {
        let orchestrator = txclass_core::Orchestrator::builder().build().unwrap();
        let settings = crate::HttpSettings::default();
        Arc::new(crate::routes::App::new(orchestrator, settings, None).unwrap())
    }

    /// The head parser: whatever it is given, it answers, and what it keeps for itself is
    /// a request hyper would read the same way (one `Host`, a target `http::Uri` takes as
    /// it stands).
    #[test]
    fn fuzz_request_heads() {
        let app = app();
        fuzz::run("fast-path head", mutated(seeds(), TOKENS), |bytes| {
            if let Parsed::Sse(req) = parse_head(&bytes, &*app) {
                prop_assert!(req.head_len <= bytes.len());
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut parsed = httparse::Request::new(&mut headers);
                prop_assert!(parsed.parse(&bytes).is_ok_and(|s| s.is_complete()));
                let target = parsed.path.unwrap_or("");
                prop_assert!(http::Uri::try_from(target).is_ok(), "{target:?}");
                let hosts = parsed
                    .headers
                    .iter()
                    .filter(|h| h.name.eq_ignore_ascii_case("host"))
                    .count();
                prop_assert_eq!(hosts, 1);
            }
            Ok(())
        });
    }

    /// The whole connection: the input arrives in pieces (sizes drawn too), then the client
    /// stops sending; the server must answer with HTTP/1.x responses (or nothing) and close,
    /// never panic or hang.
    #[test]
    fn fuzz_the_fast_path_over_a_socket() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut settings = crate::HttpSettings::default();
        settings.connections.header_read_timeout = Duration::from_millis(300);
        settings.connections.body_read_timeout = Duration::from_millis(300);
        let (listener, shared) = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let orchestrator = txclass_core::Orchestrator::builder().build().unwrap();
            let app =
                Arc::new(crate::routes::App::new(orchestrator, settings.clone(), None).unwrap());
            (listener, Arc::new(Shared::new(app, &settings)))
        });
        let addr = listener.local_addr().unwrap();
        let strategy = (
            mutated(seeds(), TOKENS),
            proptest::collection::vec(1usize..64, 1..6),
        );
        fuzz::run("fast-path connection", strategy, |(bytes, pieces)| {
            rt.block_on(async {
                let graceful = hyper_util::server::graceful::GracefulShutdown::new();
                let client = async {
                    let mut tcp = TcpStream::connect(addr).await.unwrap();
                    let mut rest = &bytes[..];
                    for n in pieces.iter().cycle() {
                        if rest.is_empty() {
                            break;
                        }
                        let (now, later) = rest.split_at((*n).min(rest.len()));
                        if tcp.write_all(now).await.is_err() {
                            break;
                        }
                        rest = later;
                    }
                    let _ = tcp.shutdown().await;
                    let mut answer = Vec::new();
                    let _ = tcp.read_to_end(&mut answer).await;
                    answer
                };
                let server = async {
                    let (stream, _) = listener.accept().await.unwrap();
                    serve(stream, shared.clone(), graceful.watcher()).await;
                };
                let (answer, ()) = tokio::time::timeout(
                    Duration::from_secs(10),
                    futures::future::join(client, server),
                )
                .await
                .map_err(|_| TestCaseError::fail("the connection did not end"))?;
                // (An HTTP/2 preface is answered in HTTP/2 frames.)
                let http2 = bytes.starts_with(b"PRI ");
                prop_assert!(
                    http2 || answer.is_empty() || answer.starts_with(b"HTTP/1."),
                    "{:?}",
                    String::from_utf8_lossy(&answer)
                );
                Ok(())
            })
        });
    }
}

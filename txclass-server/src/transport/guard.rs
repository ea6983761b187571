//! Timeouts hyper does not keep itself, for every connection it serves: the handshake, idle
//! time (no open request or response) and a response the client stops taking.
//!
//! hyper's HTTP/2 server has keep-alive pings, stream caps and flow control, but no timer of
//! its own for a connection that completes the preface and then sends nothing, for one that
//! drips the preface, or for one that opens streams and never reads their data (each such
//! stream then holds its whole response). This module measures three things from outside
//! hyper and closes the connection when one runs over its limit:
//!
//! - **handshake**: [`Watched`] follows the bytes hyper reads until they leave the HTTP/2
//!   preface (an HTTP/1.1 request, whose head hyper times itself) or complete it and the
//!   client's first SETTINGS frame; until then `handshake_timeout` runs from the accept;
//! - **idle**: [`Tracked`] counts requests from the moment hyper hands them over until their
//!   response body is dropped; while none is open for `idle_timeout` the connection gets a
//!   graceful shutdown (HTTP/2: GOAWAY), and is dropped [`IDLE_CLOSE_TIMEOUT`] later if
//!   the client does not let it close;
//! - **send stall**: [`Tracked`] also knows when it handed hyper a chunk that hyper has not
//!   come back past (the client's flow-control window or socket is full); a connection with
//!   such a response and no progress on any response for `send_timeout` is dropped, freeing
//!   what its responses hold. A response is handed over in slices of at most [`SLICE`] bytes,
//!   so hyper asks for more only as the client takes it.
//!
//! The check runs on one timer per connection, inside the connection's own task, set to the
//! next deadline it knows of (and at most half the shortest of idle and send timeouts ahead,
//! to see changes made by other tasks), so every limit holds to within its own length.
//!
//! ## Why not a tower timeout layer?
//!
//! A per-request timeout cannot see the time between requests, or the preface, and ends a
//! slow SSE stream that is healthy. What must be bounded is the connection, so the timer
//! lives with it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// How long an idle connection may take to close after its graceful shutdown: HTTP/2 sends
/// GOAWAY and a PING and closes on the answer, one round trip.
const IDLE_CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
use crate::config::ConnectionLimits;

/// A response body is handed to hyper in slices of at most this many bytes, so a client that
/// stops reading stalls the body (which the connection notices) rather than hyper's buffer.
pub(crate) const SLICE: usize = 16 * 1024;

/// The HTTP/2 connection preface.
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What a connection's requests, responses and reads tell its timer.
pub(crate) struct Activity {
    /// When the connection was accepted; every time below is in ms since.
    start: Instant,
    /// Requests handed over whose response body has not been dropped.
    open: AtomicU32,
    /// When `open` last became 0.
    idle_since: AtomicU64,
    /// Responses that gave hyper a slice hyper has not come back past.
    waiting: AtomicU32,
    /// When a response body was last polled.
    progress: AtomicU64,
    /// The preface and first SETTINGS have been read, or the connection is HTTP/1.
    handshake_done: AtomicBool,
}

impl Activity {
    /// A connection accepted at `start`.
    pub(crate) fn new(start: Instant) -> Arc<Self> {
        Arc::new(Self {
            start,
            open: AtomicU32::new(0),
            idle_since: AtomicU64::new(0),
            waiting: AtomicU32::new(0),
            progress: AtomicU64::new(0),
            handshake_done: AtomicBool::new(false),
        })
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    /// A request was handed over: it is open until the returned guard is dropped.
    pub(crate) fn open(self: &Arc<Self>) -> OpenGuard {
        self.open.fetch_add(1, Ordering::SeqCst);
        OpenGuard(self.clone())
    }
}

/// Keeps a request counted as open (see [`Activity::open`]).
pub(crate) struct OpenGuard(Arc<Activity>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        let a = &self.0;
        // Record the time first: the timer reads `open` and then `idle_since`.
        a.idle_since.store(a.now_ms(), Ordering::SeqCst);
        a.open.fetch_sub(1, Ordering::SeqCst);
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request open, reports progress and hands its data over
    /// in slices of at most [`SLICE`] bytes.
    pub(crate) struct Tracked<B> {
        #[pin]
        inner: B,
        rest: Bytes,
        given: bool,
        guard: OpenGuard,
    }

    impl<B> PinnedDrop for Tracked<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.given {
                this.guard.0.waiting.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

impl<B> Tracked<B> {
    /// `inner`, counted as open while `guard` lives.
    pub(crate) fn new(inner: B, guard: OpenGuard) -> Self {
        Self {
            inner,
            rest: Bytes::new(),
            given: false,
            guard,
        }
    }
}

impl<B: Body<Data = Bytes>> Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let activity = &this.guard.0;
        activity.progress.store(activity.now_ms(), Ordering::SeqCst);
        if *this.given {
            *this.given = false;
            activity.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        let data = if this.rest.is_empty() {
            match this.inner.poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        *this.rest = data;
                        this.rest.split_to(this.rest.len().min(SLICE))
                    }
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return other,
            }
        } else {
            this.rest.split_to(this.rest.len().min(SLICE))
        };
        *this.given = true;
        activity.waiting.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let rest = self.rest.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + rest);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + rest);
        }
        hint
    }
}

pin_project_lite::pin_project! {
    /// A connection's I/O that tells [`Activity`] when the handshake is over.
    pub(crate) struct Watched<T> {
        #[pin]
        inner: T,
        activity: Arc<Activity>,
        // Bytes of the preface and SETTINGS frame header read so far, and that header.
        seen: usize,
        header: [u8; 9],
    }
}

impl<T> Watched<T> {
    pub(crate) fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self {
            inner,
            activity,
            seen: 0,
            header: [0; 9],
        }
    }
}

/// Follows the handshake over newly read bytes; true once it is over.
fn follow_handshake(seen: &mut usize, header: &mut [u8; 9], bytes: &[u8]) -> bool {
    for &b in bytes {
        let at = *seen;
        *seen += 1;
        if at < PREFACE.len() {
            if b != PREFACE[at] {
                // Not HTTP/2: hyper times an HTTP/1 head itself.
                return true;
            }
        } else if at < PREFACE.len() + 9 {
            header[at - PREFACE.len()] = b;
        }
        if *seen >= PREFACE.len() + 9 {
            let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
            if *seen >= PREFACE.len() + 9 + len {
                return true;
            }
        }
    }
    false
}

impl<T: AsyncRead> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let polled = this.inner.poll_read(cx, buf);
        if !this.activity.handshake_done.load(Ordering::Relaxed)
            && follow_handshake(this.seen, this.header, &buf.filled()[before..])
        {
            this.activity.handshake_done.store(true, Ordering::SeqCst);
        }
        polled
    }
}

impl<T: AsyncWrite> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

/// Why a connection's timer ended it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Nothing is over its limit; look again at this instant.
    Until(Instant),
    /// Idle for too long: shut down gracefully.
    Idle,
    /// Close now (handshake or send stall over its limit, or a graceful shutdown that took
    /// too long).
    Close(&'static str),
}

/// The timer's decision for `activity` at `now`.
fn judge(
    activity: &Activity,
    limits: &ConnectionLimits,
    shutting_since: Option<Instant>,
    now: Instant,
) -> Verdict {
    let mut next = now + limits.idle_timeout.min(limits.send_timeout) / 2;
    let mut due = |deadline: Instant| {
        next = next.min(deadline);
        deadline <= now
    };
    if let Some(since) = shutting_since {
        if due(since + IDLE_CLOSE_TIMEOUT) {
            return Verdict::Close("did not close after a graceful shutdown");
        }
    }
    if !activity.handshake_done.load(Ordering::SeqCst)
        && due(activity.start + limits.handshake_timeout)
    {
        return Verdict::Close("handshake timeout");
    }
    if activity.waiting.load(Ordering::SeqCst) > 0 {
        let progress = activity.at(activity.progress.load(Ordering::SeqCst));
        if due(progress + limits.send_timeout) {
            return Verdict::Close("send timeout: the client does not read");
        }
    }
    if shutting_since.is_none() && activity.open.load(Ordering::SeqCst) == 0 {
        let idle = activity.at(activity.idle_since.load(Ordering::SeqCst));
        if due(idle + limits.idle_timeout) {
            return Verdict::Idle;
        }
    }
    Verdict::Until(next)
}

pin_project_lite::pin_project! {
    /// A hyper connection under its [`Activity`]'s timer, shut down gracefully when the
    /// server shuts down (`closing`).
    pub(crate) struct Guarded<C> {
        #[pin]
        conn: C,
        #[pin]
        timer: Sleep,
        // Starts the connection's graceful shutdown.
        shutdown: fn(Pin<&mut C>),
        closing: Pin<Box<WaitForCancellationFutureOwned>>,
        activity: Arc<Activity>,
        limits: ConnectionLimits,
        // When the idle timer shut the connection down.
        shutting_since: Option<Instant>,
        // The server's shutdown was passed on.
        closed: bool,
    }
}

impl<C> Guarded<C> {
    pub(crate) fn new(
        conn: C,
        shutdown: fn(Pin<&mut C>),
        activity: Arc<Activity>,
        limits: ConnectionLimits,
        closing: CancellationToken,
    ) -> Self {
        let first = activity.start + limits.handshake_timeout.min(limits.idle_timeout);
        Self {
            conn,
            shutdown,
            timer: tokio::time::sleep_until(first.into()),
            closing: Box::pin(closing.cancelled_owned()),
            activity,
            limits,
            shutting_since: None,
            closed: false,
        }
    }
}

impl<C, E> Future for Guarded<C>
where
    C: Future<Output = Result<(), E>>,
{
    type Output = Result<(), E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // The server's shutdown: open streams may run through the grace period (the drain
        // times it), so this starts no timer of its own.
        if !*this.closed && this.closing.as_mut().poll(cx).is_ready() {
            *this.closed = true;
            (this.shutdown)(this.conn.as_mut());
        }
        if let Poll::Ready(done) = this.conn.as_mut().poll(cx) {
            return Poll::Ready(done);
        }
        while this.timer.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            match judge(this.activity, this.limits, *this.shutting_since, now) {
                Verdict::Until(next) => this.timer.as_mut().reset(next.into()),
                Verdict::Idle => {
                    tracing::debug!("idle timeout: closing the connection");
                    *this.shutting_since = Some(now);
                    (this.shutdown)(this.conn.as_mut());
                    if let Poll::Ready(done) = this.conn.as_mut().poll(cx) {
                        return Poll::Ready(done);
                    }
                    this.timer.as_mut().reset((now + IDLE_CLOSE_TIMEOUT).into());
                }
                Verdict::Close(why) => {
                    tracing::debug!(why, "closing the connection");
                    return Poll::Ready(Ok(()));
                }
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handshake_ends_after_the_preface_and_first_settings_frame() {
        let mut frame = PREFACE.to_vec();
        frame.extend_from_slice(&[0, 0, 6, 4, 0, 0, 0, 0, 0]);
        frame.extend_from_slice(&[0, 3, 0, 0, 0, 100]);
        for split in 1..frame.len() {
            let (mut seen, mut header) = (0, [0; 9]);
            assert!(!follow_handshake(&mut seen, &mut header, &frame[..split]));
            assert!(
                follow_handshake(&mut seen, &mut header, &frame[split..]),
                "{split}"
            );
        }
        let (mut seen, mut header) = (0, [0; 9]);
        assert!(follow_handshake(
            &mut seen,
            &mut header,
            b"GET / HTTP/1.1\r\n"
        ));
        let (mut seen, mut header) = (0, [0; 9]);
        assert!(!follow_handshake(&mut seen, &mut header, b"PRI * HTTP/2.0"));
    }

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            handshake_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(4),
            send_timeout: Duration::from_secs(2),
            ..ConnectionLimits::default()
        }
    }

    #[test]
    fn each_limit_is_judged_from_its_own_start() {
        let start = Instant::now();
        let a = Activity::new(start);
        let l = limits();
        let at = |ms| start + Duration::from_millis(ms);
        // Handshake pending: closed at 1 s, not before.
        assert!(matches!(judge(&a, &l, None, at(999)), Verdict::Until(t) if t == at(1000)));
        assert!(matches!(judge(&a, &l, None, at(1000)), Verdict::Close(_)));
        a.handshake_done.store(true, Ordering::SeqCst);
        // Idle since the start: graceful shutdown at 4 s.
        assert!(matches!(judge(&a, &l, None, at(3000)), Verdict::Until(_)));
        assert_eq!(judge(&a, &l, None, at(4000)), Verdict::Idle);
        // An open request is not idle; a slice given and not taken for 2 s is a stall.
        let guard = a.open();
        assert!(matches!(judge(&a, &l, None, at(9000)), Verdict::Until(_)));
        a.waiting.fetch_add(1, Ordering::SeqCst);
        a.progress.store(8000, Ordering::SeqCst);
        assert!(matches!(judge(&a, &l, None, at(9999)), Verdict::Until(t) if t == at(10_000)));
        assert!(matches!(judge(&a, &l, None, at(10_000)), Verdict::Close(_)));
        a.waiting.fetch_sub(1, Ordering::SeqCst);
        drop(guard);
        // Idle again from the moment the last request ended.
        let ended = a.idle_since.load(Ordering::SeqCst);
        assert!(matches!(
            judge(&a, &l, None, a.at(ended + 3999)),
            Verdict::Until(_)
        ));
        assert_eq!(judge(&a, &l, None, a.at(ended + 4000)), Verdict::Idle);
        // A graceful shutdown that does not finish is cut short.
        let since = Some(at(20_000));
        assert!(matches!(
            judge(&a, &l, since, at(20_000) + IDLE_CLOSE_TIMEOUT),
            Verdict::Close(_)
        ));
    }
}

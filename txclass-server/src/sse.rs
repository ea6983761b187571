//! Server-Sent-Events framing: a progress stream becomes an HTTP response body.
//!
//! Every event is written as
//!
//! ```text
//! event: <Progress::name>
//! id: <job_id>:<seq>
//! retry: <RECONNECT_MS>
//! data: <Progress::data_json>
//!
//! ```
//!
//! and a comment `: keep-alive` goes out whenever the stream has been quiet for the keep-alive
//! interval, so proxies and clients do not time the connection out while a job waits for a
//! partner. When the server's grace period after a shutdown signal is over, a stream that is
//! still open is ended: a job's without a terminal event (the job is handed over and the
//! client re-attaches with `Last-Event-ID`), the benchmark's with `failed: shutting_down`.
//!
//! Why a hand-written [`Body`], not `StreamBody` over a combinator chain? The body is the hot
//! path of the throughput benchmark: it drains every event that is ready into one frame (one
//! write for a burst of events instead of one per event), reuses its buffer, and costs one
//! timer and one cancellation waiter per open stream, nothing per event but the JSON.

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;
use txclass_core::{telemetry, Job, Progress};

/// A burst of ready events is cut into frames of about this size.
const FRAME_TARGET: usize = 16 * 1024;

/// The keep-alive comment.
const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// A progress stream that can be streamed as SSE: a [`Job`], or the benchmark's synthetic
/// job.
pub trait SseSource: Stream<Item = Progress> + Send + Unpin + 'static {
    /// The job's id (the first half of each event's `id:`).
    fn job_id(&self) -> &str;
    /// The log position of the event before the first one this source yields (0: it starts
    /// with the job's first event).
    fn after(&self) -> u64 {
        0
    }
    /// The server stops before the stream's end: what to send last, if anything. `None`
    /// ends the stream without a terminal event (the client re-attaches elsewhere with its
    /// last event id).
    fn at_shutdown(self) -> Option<Progress>;
}

impl SseSource for Job {
    fn job_id(&self) -> &str {
        self.id().as_str()
    }

    fn after(&self) -> u64 {
        Job::after(self)
    }

    fn at_shutdown(self) -> Option<Progress> {
        // The job is not failed: it carries on on another instance (or this one after a
        // restart), and the client re-attaches with `Last-Event-ID`.
        self.hand_over();
        None
    }
}

/// How long a browser's `EventSource` waits before it reconnects (sending `Last-Event-ID`),
/// in ms: the `retry:` field of every event.
pub const RECONNECT_MS: u64 = 1000;

/// Appends one event to `buf`.
pub fn encode_event(buf: &mut BytesMut, job_id: &str, seq: u64, event: &Progress) {
    let data = event.data_json();
    buf.reserve(data.len() + job_id.len() + 60);
    // Writing to a BytesMut cannot fail.
    let _ = write!(
        buf,
        "event: {}\nid: {}:{}\nretry: {RECONNECT_MS}\ndata: {}\n\n",
        event.name(),
        job_id,
        seq,
        data
    );
}

/// The headers of every SSE response, after the status line (both transports).
pub(crate) const SSE_HEADERS: [(&str, &str); 3] = [
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
];

/// What a server's SSE bodies count (`txclass_sse_streams_open`,
/// `txclass_sse_events_sent_total`): the handles are looked up once per server, and a stream
/// pays one pointer and one atomic add per frame.
pub struct SseMeters {
    open: metrics::Gauge,
    sent: metrics::Counter,
}

impl SseMeters {
    /// Handles on the installed recorder (no-ops without one).
    pub fn new() -> Self {
        Self {
            open: metrics::gauge!(telemetry::SSE_STREAMS_OPEN),
            sent: metrics::counter!(telemetry::SSE_EVENTS_SENT),
        }
    }
}

impl Default for SseMeters {
    fn default() -> Self {
        Self::new()
    }
}

/// The body of an SSE response.
pub struct SseBody<S> {
    meters: Option<Arc<SseMeters>>,
    source: Option<S>,
    seq: u64,
    keep_alive: Duration,
    timer: Pin<Box<Sleep>>,
    abort: Pin<Box<WaitForCancellationFutureOwned>>,
    finished: bool,
}

impl<S: SseSource> SseBody<S> {
    /// Streams `source`, with a keep-alive comment after `keep_alive` of silence, until its
    /// terminal event or until `abort` is cancelled (then [`SseSource::at_shutdown`]).
    pub fn new(
        source: S,
        keep_alive: Duration,
        abort: tokio_util::sync::CancellationToken,
    ) -> Self {
        Self {
            meters: None,
            seq: source.after(),
            source: Some(source),
            keep_alive,
            timer: Box::pin(tokio::time::sleep(keep_alive)),
            abort: Box::pin(abort.cancelled_owned()),
            finished: false,
        }
    }
}

impl<S> SseBody<S> {
    /// Counts this stream as open until it is dropped, and its events as sent.
    pub fn metered(mut self, meters: Arc<SseMeters>) -> Self {
        meters.open.increment(1.0);
        self.meters = Some(meters);
        self
    }

    fn count_sent(&self, events: u64) {
        if let Some(m) = &self.meters {
            m.sent.increment(events);
        }
    }
}

impl<S> Drop for SseBody<S> {
    fn drop(&mut self) {
        if let Some(m) = &self.meters {
            m.open.decrement(1.0);
        }
    }
}

impl<S: SseSource> Body for SseBody<S> {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        let Some(source) = this.source.as_mut() else {
            this.finished = true;
            return Poll::Ready(None);
        };
        let mut buf = BytesMut::new();
        let first = this.seq;
        loop {
            match Pin::new(&mut *source).poll_next(cx) {
                Poll::Ready(Some(event)) => {
                    this.seq += 1;
                    encode_event(&mut buf, source.job_id(), this.seq, &event);
                    if event.is_terminal() {
                        this.finished = true;
                        this.source = None;
                        break;
                    }
                    if buf.len() >= FRAME_TARGET {
                        break;
                    }
                }
                Poll::Ready(None) => {
                    this.finished = true;
                    this.source = None;
                    break;
                }
                Poll::Pending => break,
            }
        }
        if !buf.is_empty() {
            this.count_sent(this.seq - first);
            let deadline = Instant::now() + this.keep_alive;
            this.timer.as_mut().reset(deadline);
            return Poll::Ready(Some(Ok(Frame::data(buf.freeze()))));
        }
        if this.finished {
            return Poll::Ready(None);
        }
        if this.abort.as_mut().poll(cx).is_ready() {
            let source = this
                .source
                .take()
                .expect("source present while not finished");
            let job_id = source.job_id().to_owned();
            this.finished = true;
            let Some(event) = source.at_shutdown() else {
                return Poll::Ready(None);
            };
            this.seq += 1;
            this.count_sent(1);
            let mut buf = BytesMut::new();
            encode_event(&mut buf, &job_id, this.seq, &event);
            return Poll::Ready(Some(Ok(Frame::data(buf.freeze()))));
        }
        if this.timer.as_mut().poll(cx).is_ready() {
            let deadline = Instant::now() + this.keep_alive;
            this.timer.as_mut().reset(deadline);
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(KEEP_ALIVE)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.finished
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use txclass_core::JobId;

    #[test]
    fn an_event_is_framed_with_name_id_and_one_data_line() {
        let mut buf = BytesMut::new();
        let ev = Progress::PageFetched {
            page: 2,
            transactions: 50,
            via_retry: false,
        };
        encode_event(&mut buf, "j-1", 3, &ev);
        assert_eq!(
            &buf[..],
            b"event: page_fetched\nid: j-1:3\nretry: 1000\ndata: {\"page\":2,\"transactions\":50,\"via_retry\":false}\n\n"
        );
        let failed = Progress::Failed {
            job_id: JobId::new("j-1"),
            reason: txclass_core::progress::FailureReason::ShuttingDown,
            message: "line one\nline two".into(),
        };
        let mut buf = BytesMut::new();
        encode_event(&mut buf, "j-1", 4, &failed);
        let text = std::str::from_utf8(&buf).unwrap();
        assert_eq!(text.matches('\n').count(), 5, "{text}");
    }
}

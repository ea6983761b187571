use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{BoxStream, Stream, StreamExt};

use super::Inner;
use crate::model::JobId;
use crate::progress::{FailureReason, Progress};
use crate::store::MAX_EVENTS;

/// How often a watcher of a job that runs on another instance reads the store's log.
const REMOTE_POLL: Duration = Duration::from_millis(200);

/// A client's view of a job: its events in order, without gaps, from a given position of
/// its log to the terminal `done` or `failed`, wherever the job runs.
///
/// Dropping it does not stop the job: the job runs on for the re-attach window
/// ([`Settings::reattach_window`](super::Settings::reattach_window)) waiting for a client to
/// [`watch`](super::Orchestrator::watch) it again, and is cancelled after that (unless it was
/// started detached). [`Orchestrator::cancel`](super::Orchestrator::cancel) cancels at once.
pub struct Job {
    id: JobId,
    after: u64,
    inner: Arc<Inner>,
    stream: BoxStream<'static, Progress>,
}

impl Job {
    pub(crate) fn watch(inner: Arc<Inner>, id: JobId, after: u64) -> Self {
        let stream = follow(inner.clone(), id.clone(), after).boxed();
        Self {
            id,
            after,
            inner,
            stream,
        }
    }

    /// The job's id.
    pub fn id(&self) -> &JobId {
        &self.id
    }

    /// The log position this view started after: its first event is number `after + 1`, and
    /// each next one is one more (the SSE `id:`).
    pub fn after(&self) -> u64 {
        self.after
    }

    /// Stops the job for `reason` (e.g. the server is shutting down) if it runs on this
    /// instance, and returns the `failed` event to send the client last.
    pub fn abort(self, reason: FailureReason, message: impl Into<String>) -> Progress {
        let message = message.into();
        if let Some(live) = self.inner.registry.get(&self.id) {
            live.stop(reason, message.clone());
        }
        Progress::Failed {
            job_id: self.id.clone(),
            reason,
            message,
        }
    }
}

impl Job {
    /// Hands the job over if it runs on this instance (see
    /// [`Orchestrator::hand_over_jobs`](super::Orchestrator::hand_over_jobs)): it stops here
    /// and carries on elsewhere; a client re-attaches with its last event id.
    pub fn hand_over(self) {
        if let Some(live) = self.inner.registry.get(&self.id) {
            live.hand_over();
        }
    }
}

impl Stream for Job {
    type Item = Progress;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Progress>> {
        self.stream.as_mut().poll_next(cx)
    }
}

/// The events of job `id` after `after`: from memory while the job runs here, from the
/// store's log otherwise (polled; the watcher also marks the job watched for its owner).
fn follow(inner: Arc<Inner>, id: JobId, after: u64) -> impl Stream<Item = Progress> {
    async_stream::stream! {
        let mut next = after + 1;
        let mut last_mark: Option<tokio::time::Instant> = None;
        loop {
            if let Some(live) = inner.registry.get(&id) {
                let _watching = live.watch();
                let mut changes = live.subscribe();
                loop {
                    let (batch, first) = live.since(next);
                    if next < first {
                        break; // older events: read them from the store
                    }
                    let empty = batch.is_empty();
                    for ev in batch {
                        next = ev.seq + 1;
                        let end = ev.event.is_terminal();
                        yield ev.event;
                        if end {
                            return;
                        }
                    }
                    // The run is over here without a terminal event for this watcher (it
                    // was taken over, or found its log already ended): follow the store.
                    if empty && (live.finished() || changes.changed().await.is_err()) {
                        break;
                    }
                }
            }
            let batch = match inner.store.events(&id, next - 1, MAX_EVENTS).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(job = %id, error = %e, "cannot read the job's log; trying again");
                    Vec::new()
                }
            };
            if batch.is_empty() {
                let window = inner.settings.reattach_window;
                if last_mark.is_none_or(|t| t.elapsed() >= window / 3) {
                    last_mark = Some(tokio::time::Instant::now());
                    if let Err(e) = inner.leases.mark_watched(&id, window).await {
                        tracing::debug!(job = %id, error = %e, "cannot mark the job watched");
                    }
                }
                tokio::time::sleep(REMOTE_POLL).await;
                continue;
            }
            for ev in batch {
                next = ev.seq + 1;
                let end = ev.event.is_terminal();
                yield ev.event;
                if end {
                    return;
                }
            }
        }
    }
}

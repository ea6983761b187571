use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{BoxStream, Stream, StreamExt};
use tokio::sync::watch;

use super::runner::{LiveJob, WatchGuard};
use super::Inner;
use crate::domain::JobId;
use crate::progress::{FailureReason, Progress};
use crate::store::{LoggedEvent, MAX_EVENTS};

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
    let follower = Follower {
        inner,
        id,
        next: after + 1,
        last_mark: None,
        here: None,
        buffered: VecDeque::new(),
        ended: false,
    };
    futures::stream::unfold(follower, |mut f| async move {
        let event = f.next_event().await?;
        Some((event, f))
    })
}

/// Where a watcher is in a job's log, and how it follows it.
struct Follower {
    inner: Arc<Inner>,
    id: JobId,
    /// The number of the next event to give.
    next: u64,
    /// When the job was last marked watched for a remote owner.
    last_mark: Option<tokio::time::Instant>,
    /// The run of the job on this instance, while it is followed from memory.
    here: Option<FollowingHere>,
    buffered: VecDeque<Progress>,
    /// The terminal event is in `buffered` (or given): nothing comes after it.
    ended: bool,
}

/// Following a run in memory: it counts as watched while this lives.
struct FollowingHere {
    live: Arc<LiveJob>,
    changes: watch::Receiver<u64>,
    _watching: WatchGuard,
}

impl Follower {
    /// The next event, or `None` after the terminal one.
    async fn next_event(&mut self) -> Option<Progress> {
        loop {
            if let Some(event) = self.buffered.pop_front() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            for ev in self.next_batch().await {
                self.next = ev.seq + 1;
                self.ended = ev.event.is_terminal();
                self.buffered.push_back(ev.event);
                if self.ended {
                    break;
                }
            }
        }
    }

    /// The next events (at least one), from memory while the job runs here and holds them,
    /// from the store's log otherwise.
    async fn next_batch(&mut self) -> Vec<LoggedEvent> {
        loop {
            if self.here.is_none() {
                self.here = self.inner.registry.get(&self.id).map(|live| FollowingHere {
                    changes: live.subscribe(),
                    _watching: live.watch(),
                    live,
                });
            }
            if let Some(here) = &mut self.here {
                let (batch, first) = here.live.since(self.next);
                // Events older than the run's memory are read from the store.
                if self.next >= first {
                    if !batch.is_empty() {
                        return batch;
                    }
                    // Nothing new: wait for the run, unless it is over here without a
                    // terminal event for this watcher (taken over, or its log had ended).
                    if !here.live.finished() && here.changes.changed().await.is_ok() {
                        continue;
                    }
                }
                self.here = None;
            }
            match self
                .inner
                .store
                .events(&self.id, self.next - 1, MAX_EVENTS)
                .await
            {
                Ok(batch) if !batch.is_empty() => return batch,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(job = %self.id, error = %e, "cannot read the job's log; trying again");
                }
            }
            self.mark_watched().await;
            tokio::time::sleep(REMOTE_POLL).await;
        }
    }

    /// Tells a remote owner that a client still watches (every third of the re-attach window).
    async fn mark_watched(&mut self) {
        let window = self.inner.settings.reattach_window;
        if self.last_mark.is_none_or(|t| t.elapsed() >= window / 3) {
            self.last_mark = Some(tokio::time::Instant::now());
            if let Err(e) = self.inner.leases.mark_watched(&self.id, window).await {
                tracing::debug!(job = %self.id, error = %e, "cannot mark the job watched");
            }
        }
    }
}

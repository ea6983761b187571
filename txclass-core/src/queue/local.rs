use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures::channel::mpsc::{unbounded, UnboundedSender};
use futures::stream::{BoxStream, StreamExt};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{DeadLetter, Delivery, QueueError, ResultBus, RetryMessage, RetryQueue, RetryTask};
use crate::model::JobId;

/// The embedded retry queue: in this process, in memory, due-time ordered.
#[derive(Debug, Default)]
pub struct LocalQueue {
    state: Mutex<State>,
    wake: Notify,
}

#[derive(Debug, Default)]
struct State {
    seq: u64,
    /// (due, seq) of waiting entries; the smallest first.
    due: BinaryHeap<Reverse<(Instant, u64)>>,
    waiting: HashMap<u64, (RetryTask, u32)>,
    in_flight: HashMap<u64, (RetryTask, u32)>,
    dead: Vec<DeadLetter>,
}

impl State {
    fn push(&mut self, task: RetryTask, deliveries: u32, delay: Duration) -> u64 {
        self.seq += 1;
        let id = self.seq;
        self.due.push(Reverse((Instant::now() + delay, id)));
        self.waiting.insert(id, (task, deliveries));
        id
    }
}

fn parse_id(d: &Delivery) -> Result<u64, QueueError> {
    d.id.parse()
        .map_err(|_| QueueError::NotPending(d.id.clone()))
}

impl LocalQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RetryQueue for LocalQueue {
    async fn enqueue(&self, task: RetryTask, delay: Duration) -> Result<String, QueueError> {
        let id = self.state.lock().expect("queue lock").push(task, 0, delay);
        self.wake.notify_waiters();
        Ok(id.to_string())
    }

    async fn next(&self, _consumer: &str, block: Duration) -> Result<Option<Delivery>, QueueError> {
        let deadline = Instant::now() + block;
        loop {
            // Register interest before looking, so an enqueue between the look and the wait
            // is not missed.
            let notified = self.wake.notified();
            let next_due = {
                let mut s = self.state.lock().expect("queue lock");
                match s.due.peek().copied() {
                    Some(Reverse((due, id))) if due <= Instant::now() => {
                        s.due.pop();
                        let (task, deliveries) = s.waiting.remove(&id).expect("entry");
                        s.in_flight.insert(id, (task.clone(), deliveries + 1));
                        return Ok(Some(Delivery {
                            id: id.to_string(),
                            task,
                            deliveries: deliveries + 1,
                        }));
                    }
                    Some(Reverse((due, _))) => Some(due),
                    None => None,
                }
            };
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let until = next_due.map_or(deadline, |d| d.min(deadline));
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        let id = parse_id(delivery)?;
        let mut s = self.state.lock().expect("queue lock");
        s.in_flight
            .remove(&id)
            .map(|_| ())
            .ok_or_else(|| QueueError::NotPending(delivery.id.clone()))
    }

    async fn reschedule(
        &self,
        delivery: &Delivery,
        task: RetryTask,
        delay: Duration,
    ) -> Result<(), QueueError> {
        let id = parse_id(delivery)?;
        {
            let mut s = self.state.lock().expect("queue lock");
            let (_, deliveries) = s
                .in_flight
                .remove(&id)
                .ok_or_else(|| QueueError::NotPending(delivery.id.clone()))?;
            s.push(task, deliveries, delay);
        }
        self.wake.notify_waiters();
        Ok(())
    }

    async fn dead_letter(&self, delivery: &Delivery, error: String) -> Result<(), QueueError> {
        let id = parse_id(delivery)?;
        let mut s = self.state.lock().expect("queue lock");
        let (task, _) = s
            .in_flight
            .remove(&id)
            .ok_or_else(|| QueueError::NotPending(delivery.id.clone()))?;
        s.dead.push(DeadLetter { task, error });
        Ok(())
    }

    async fn pending(&self) -> Result<usize, QueueError> {
        let s = self.state.lock().expect("queue lock");
        Ok(s.waiting.len() + s.in_flight.len())
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, QueueError> {
        Ok(self.state.lock().expect("queue lock").dead.clone())
    }
}

/// The embedded result bus: an unbounded channel per subscriber of each job.
///
/// Why unbounded, not a broadcast ring: a job reads its messages only as fast as its client
/// reads events, and a lagging broadcast receiver loses messages — a lost `fetched` would
/// leave the job waiting forever. Messages per job are few (one per retry attempt).
/// Why `futures`' channel, not tokio's: tokio's unbounded channel allocates a block of 32
/// message slots up front, about 5 KB per waiting job; `futures`' allocates per message,
/// and thousands of jobs wait at once on a busy partner.
#[derive(Debug, Default)]
pub struct LocalBus {
    jobs: Mutex<HashMap<JobId, Vec<UnboundedSender<RetryMessage>>>>,
}

impl LocalBus {
    /// A bus with no subscribers.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ResultBus for LocalBus {
    async fn publish(&self, job: &JobId, msg: RetryMessage) -> Result<(), QueueError> {
        let mut jobs = self.jobs.lock().expect("bus lock");
        if let Some(subs) = jobs.get_mut(job) {
            subs.retain(|tx| tx.unbounded_send(msg.clone()).is_ok());
            if subs.is_empty() {
                jobs.remove(job);
            }
        }
        Ok(())
    }

    async fn subscribe(&self, job: &JobId) -> Result<BoxStream<'static, RetryMessage>, QueueError> {
        let (tx, rx) = unbounded();
        let mut jobs = self.jobs.lock().expect("bus lock");
        jobs.retain(|_, subs| {
            subs.retain(|s| !s.is_closed());
            !subs.is_empty()
        });
        jobs.entry(job.clone()).or_default().push(tx);
        Ok(rx.boxed())
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::model::{CustomerId, PartnerId};
    use crate::partner::PageRequest;
    use crate::progress::WaitReason;

    fn task(page: u32) -> RetryTask {
        RetryTask {
            job_id: JobId::from("j"),
            partner_id: PartnerId::from("p"),
            page,
            request: PageRequest {
                customer_id: CustomerId::from("c"),
                from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                to: NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
                cursor: None,
            },
            attempts: 1,
            reason: WaitReason::Timeout,
            last_error: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn delivers_in_due_order_and_reschedules() {
        let q = LocalQueue::new();
        q.enqueue(task(2), Duration::from_secs(2)).await.unwrap();
        q.enqueue(task(1), Duration::from_secs(1)).await.unwrap();
        assert!(q
            .next("c", Duration::from_millis(500))
            .await
            .unwrap()
            .is_none());
        let d = q.next("c", Duration::from_secs(10)).await.unwrap().unwrap();
        assert_eq!(d.task.page, 1);
        q.reschedule(&d, task(1), Duration::from_secs(5))
            .await
            .unwrap();
        let d2 = q.next("c", Duration::from_secs(10)).await.unwrap().unwrap();
        assert_eq!(d2.task.page, 2);
        q.ack(&d2).await.unwrap();
        assert!(q.ack(&d2).await.is_err());
        let d3 = q.next("c", Duration::from_secs(10)).await.unwrap().unwrap();
        assert_eq!((d3.task.page, d3.deliveries), (1, 2));
        q.dead_letter(&d3, "gave up".into()).await.unwrap();
        assert_eq!(q.pending().await.unwrap(), 0);
        assert_eq!(q.dead_letters().await.unwrap().len(), 1);
    }
}

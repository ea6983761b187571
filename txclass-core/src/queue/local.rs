use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures::channel::mpsc::{unbounded, UnboundedSender};
use futures::stream::{BoxStream, StreamExt};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{
    DeadLetter, Delivery, QueueDepth, QueueError, ResultBus, RetryMessage, RetryQueue, RetryTask,
};
use crate::domain::{JobId, PartnerId};
use crate::sync::Lock;

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
    /// Tasks waiting or in flight per (job, page), for `is_queued`.
    pages: HashMap<(JobId, u32), u32>,
}

impl State {
    fn push(&mut self, task: RetryTask, deliveries: u32, delay: Duration) -> u64 {
        self.seq += 1;
        let id = self.seq;
        self.due.push(Reverse((Instant::now() + delay, id)));
        *self
            .pages
            .entry((task.job_id.clone(), task.page))
            .or_default() += 1;
        self.waiting.insert(id, (task, deliveries));
        id
    }

    /// Takes a delivered entry out of flight (settled).
    fn settle(&mut self, d: &Delivery) -> Result<(RetryTask, u32), QueueError> {
        let id = parse_id(d)?;
        let (task, deliveries) = self
            .in_flight
            .remove(&id)
            .ok_or_else(|| QueueError::NotPending(d.id.clone()))?;
        let key = (task.job_id.clone(), task.page);
        if let Some(n) = self.pages.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.pages.remove(&key);
            }
        }
        Ok((task, deliveries))
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
        let id = self.state.locked().push(task, 0, delay);
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
                let mut s = self.state.locked();
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
        let mut s = self.state.locked();
        s.settle(delivery).map(|_| ())
    }

    async fn reschedule(
        &self,
        delivery: &Delivery,
        task: RetryTask,
        delay: Duration,
    ) -> Result<(), QueueError> {
        {
            let mut s = self.state.locked();
            let (_, deliveries) = s.settle(delivery)?;
            // A settled delivery does not count: only the unsettled ones before it carry over.
            s.push(task, deliveries - 1, delay);
        }
        self.wake.notify_waiters();
        Ok(())
    }

    async fn dead_letter(&self, delivery: &Delivery, error: String) -> Result<(), QueueError> {
        let mut s = self.state.locked();
        let (task, _) = s.settle(delivery)?;
        s.dead.push(DeadLetter { task, error });
        Ok(())
    }

    async fn pending(&self) -> Result<usize, QueueError> {
        let s = self.state.locked();
        Ok(s.waiting.len() + s.in_flight.len())
    }

    async fn is_queued(&self, job: &JobId, page: u32) -> Result<bool, QueueError> {
        let s = self.state.locked();
        Ok(s.pages.contains_key(&(job.clone(), page)))
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, QueueError> {
        Ok(self.state.locked().dead.clone())
    }

    async fn depth(&self) -> Result<Vec<QueueDepth>, QueueError> {
        let s = self.state.locked();
        let now = Instant::now();
        let mut lanes: BTreeMap<&PartnerId, QueueDepth> = BTreeMap::new();
        for Reverse((due, id)) in s.due.iter() {
            if let Some((task, _)) = s.waiting.get(id) {
                let d = lane(&mut lanes, &task.partner_id);
                if *due <= now {
                    d.due += 1;
                } else {
                    d.delayed += 1;
                }
            }
        }
        for (task, _) in s.in_flight.values() {
            lane(&mut lanes, &task.partner_id).in_flight += 1;
        }
        for dead in &s.dead {
            lane(&mut lanes, &dead.task.partner_id).dead += 1;
        }
        Ok(lanes.into_values().collect())
    }
}

/// The count of `partner`'s lane, added at zero on first sight.
fn lane<'a, 'm>(
    lanes: &'m mut BTreeMap<&'a PartnerId, QueueDepth>,
    partner: &'a PartnerId,
) -> &'m mut QueueDepth {
    lanes.entry(partner).or_insert_with(|| QueueDepth {
        partner: partner.clone(),
        ..QueueDepth::default()
    })
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
pub(crate) struct LocalBus {
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
        let mut jobs = self.jobs.locked();
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
        let mut jobs = self.jobs.locked();
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
    use crate::domain::CustomerId;
    use crate::partner::PageRequest;
    use crate::progress::WaitReason;

    fn task(page: u32) -> RetryTask {
        RetryTask {
            job_id: JobId::from("j"),
            tenant: Default::default(),
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
        assert_eq!(
            (d3.task.page, d3.deliveries),
            (1, 1),
            "a reschedule is no delivery"
        );
        q.dead_letter(&d3, "gave up".into()).await.unwrap();
        assert_eq!(q.pending().await.unwrap(), 0);
        assert_eq!(q.dead_letters().await.unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn is_queued_while_waiting_or_in_flight() {
        let q = LocalQueue::new();
        let j = JobId::from("j");
        assert!(!q.is_queued(&j, 1).await.unwrap());
        q.enqueue(task(1), Duration::from_secs(1)).await.unwrap();
        q.enqueue(task(1), Duration::from_secs(2)).await.unwrap();
        assert!(q.is_queued(&j, 1).await.unwrap(), "delayed");
        assert!(!q.is_queued(&j, 2).await.unwrap());
        assert!(!q.is_queued(&JobId::from("other"), 1).await.unwrap());
        let d = q.next("c", Duration::from_secs(5)).await.unwrap().unwrap();
        q.ack(&d).await.unwrap();
        assert!(
            q.is_queued(&j, 1).await.unwrap(),
            "the second task still waits"
        );
        let d = q.next("c", Duration::from_secs(5)).await.unwrap().unwrap();
        assert!(q.is_queued(&j, 1).await.unwrap(), "delivered, not settled");
        q.reschedule(&d, task(1), Duration::from_secs(1))
            .await
            .unwrap();
        assert!(q.is_queued(&j, 1).await.unwrap(), "rescheduled");
        let d = q.next("c", Duration::from_secs(5)).await.unwrap().unwrap();
        q.dead_letter(&d, "gave up".into()).await.unwrap();
        assert!(!q.is_queued(&j, 1).await.unwrap(), "dead-lettered");
    }

    #[tokio::test(start_paused = true)]
    async fn rescheduling_never_counts_as_a_delivery() {
        let q = LocalQueue::new();
        q.enqueue(task(1), Duration::ZERO).await.unwrap();
        for _ in 0..50 {
            let d = q.next("c", Duration::from_secs(5)).await.unwrap().unwrap();
            assert_eq!(d.deliveries, 1);
            q.reschedule(&d, task(1), Duration::from_millis(10))
                .await
                .unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn depth_counts_each_state_per_partner() {
        let q = LocalQueue::new();
        q.enqueue(task(1), Duration::ZERO).await.unwrap();
        q.enqueue(task(2), Duration::ZERO).await.unwrap();
        q.enqueue(task(3), Duration::from_secs(60)).await.unwrap();
        let taken = q.next("w", Duration::ZERO).await.unwrap().unwrap();
        let dead = q.next("w", Duration::ZERO).await.unwrap().unwrap();
        q.dead_letter(&dead, "gave up".into()).await.unwrap();
        let depth = q.depth().await.unwrap();
        assert_eq!(
            depth,
            vec![QueueDepth {
                partner: PartnerId::from("p"),
                delayed: 1,
                due: 0,
                in_flight: 1,
                dead: 1,
            }]
        );
        q.ack(&taken).await.unwrap();
        tokio::time::advance(Duration::from_secs(61)).await;
        let depth = q.depth().await.unwrap();
        assert_eq!(
            (depth[0].delayed, depth[0].due, depth[0].in_flight),
            (0, 1, 0)
        );
    }
}

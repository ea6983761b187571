//! Redis coming back empty (restarted without persistence, or a failover to an empty
//! replica): the retry queue and the result bus keep working. Each test runs its own
//! throw-away `redis-server` ([`support::ScratchRedis`]), since `FLUSHALL` and restarts
//! would wipe the keys of the tests running beside it; the tests fail, not skip, when
//! `redis-server` cannot be run.

#[path = "support/redis.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use futures::StreamExt;
use support::ScratchRedis;
use txclass::model::{CustomerId, JobId, PartnerId};
use txclass::partner::PageRequest;
use txclass::progress::WaitReason;
use txclass::queue::{
    Delivery, QueueError, RedisBus, RedisBusConfig, RedisQueue, RedisQueueConfig, RetryMessage,
    RetryTask,
};
use txclass::{ResultBus, RetryQueue};

fn task(job: &str, page: u32) -> RetryTask {
    RetryTask {
        job_id: JobId::from(job),
        partner_id: PartnerId::from("bank"),
        page,
        request: PageRequest {
            customer_id: CustomerId::from("c-1"),
            from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
            cursor: None,
        },
        attempts: 1,
        reason: WaitReason::Timeout,
        last_error: None,
    }
}

fn queue(redis: &ScratchRedis, claim_after: Duration) -> RedisQueue {
    RedisQueue::new(
        &redis.url(),
        RedisQueueConfig {
            prefix: "restart".into(),
            claim_after,
            max_deliveries: 3,
            ..RedisQueueConfig::default()
        },
    )
    .unwrap()
}

/// The first command after a restart may fail while the connection is re-established.
async fn enqueue_soon(q: &RedisQueue, t: RetryTask) {
    for _ in 0..50 {
        if q.enqueue(t.clone(), Duration::ZERO).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("enqueue kept failing after the restart");
}

/// The next delivery within `within`, riding out the errors of a reconnect.
async fn next_soon(q: &RedisQueue, consumer: &str, within: Duration) -> Option<Delivery> {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        match q.next(consumer, Duration::from_millis(300)).await {
            Ok(Some(d)) => return Some(d),
            Ok(None) | Err(QueueError::Backend(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    None
}

/// `FLUSHALL` under a running consumer: every path that needs the consumer group meets
/// `NOGROUP` (the settle script, the claim script, a blocked read) and the queue
/// creates the group again instead of looping on the error.
#[tokio::test]
async fn the_queue_recreates_its_group_after_flushall() {
    let redis = ScratchRedis::start().await;
    let q = queue(&redis, Duration::from_millis(200));
    let job = JobId::from("job");
    q.enqueue(task("job", 1), Duration::ZERO).await.unwrap();
    q.enqueue(task("job", 2), Duration::from_secs(60))
        .await
        .unwrap();
    let held = q.next("a", Duration::from_secs(1)).await.unwrap().unwrap();
    assert!(q.is_queued(&job, 1).await.unwrap());
    assert!(q.is_queued(&job, 2).await.unwrap());

    redis.flushall().await;
    assert!(!q.is_queued(&job, 1).await.unwrap(), "lost with the data");
    assert!(!q.is_queued(&job, 2).await.unwrap(), "lost with the data");
    // settle.lua meets NOGROUP: the entry is no one's any more.
    assert!(matches!(
        q.reschedule(&held, held.task.clone(), Duration::ZERO).await,
        Err(QueueError::NotPending(_))
    ));
    // What the job enqueues again is delivered.
    q.enqueue(task("job", 1), Duration::ZERO).await.unwrap();
    let d = q.next("a", Duration::from_secs(2)).await.unwrap().unwrap();
    assert_eq!((d.task.page, d.deliveries), (1, 1));
    q.ack(&d).await.unwrap();
    assert!(!q.is_queued(&job, 1).await.unwrap());

    // Again, and this time claim.lua (XAUTOCLAIM) is the first to meet NOGROUP.
    redis.flushall().await;
    q.enqueue(task("job", 2), Duration::ZERO).await.unwrap();
    let d = q.next("a", Duration::from_secs(2)).await.unwrap().unwrap();
    assert_eq!((d.task.page, d.deliveries), (2, 1));
    q.ack(&d).await.unwrap();

    // Again, with the flush while a consumer is blocked in XREADGROUP.
    let q = Arc::new(q);
    let reader = {
        let q = q.clone();
        tokio::spawn(async move { next_soon(&q, "b", Duration::from_secs(5)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.flushall().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    q.enqueue(task("job", 3), Duration::ZERO).await.unwrap();
    let d = reader.await.unwrap().expect("delivered after the flush");
    assert_eq!(d.task.page, 3);
    q.ack(&d).await.unwrap();
    assert_eq!(q.pending().await.unwrap(), 0);
}

/// A real `SHUTDOWN NOSAVE` and a new, empty server on the same port: connections are
/// re-established, the group is created again, and nothing was delivered twice.
#[tokio::test]
async fn the_queue_works_after_an_empty_restart() {
    let mut redis = ScratchRedis::start().await;
    let q = queue(&redis, Duration::from_millis(200));
    q.enqueue(task("job", 1), Duration::ZERO).await.unwrap();
    let held = q.next("a", Duration::from_secs(1)).await.unwrap().unwrap();
    redis.restart_empty().await;
    enqueue_soon(&q, task("job", 2)).await;
    assert!(!q.is_queued(&JobId::from("job"), 1).await.unwrap());
    assert!(q.is_queued(&JobId::from("job"), 2).await.unwrap());
    assert!(matches!(q.ack(&held).await, Err(QueueError::NotPending(_))));
    let d = next_soon(&q, "a", Duration::from_secs(5))
        .await
        .expect("delivered after the restart");
    assert_eq!((d.task.page, d.deliveries), (2, 1));
    q.ack(&d).await.unwrap();
    assert!(next_soon(&q, "a", Duration::from_millis(500))
        .await
        .is_none());
}

fn bus(redis: &ScratchRedis) -> RedisBus {
    RedisBus::new(
        &redis.url(),
        RedisBusConfig {
            prefix: "restart".into(),
            ..RedisBusConfig::default()
        },
    )
    .unwrap()
}

fn gave_up(page: u32) -> RetryMessage {
    RetryMessage::GaveUp {
        page,
        kind: None,
        error: "test".into(),
    }
}

async fn next_msg(sub: &mut futures::stream::BoxStream<'static, RetryMessage>) -> u32 {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a message within 5 s")
        .expect("stream open")
        .page()
}

/// A subscriber keeps hearing its job across `FLUSHALL`, and across a stream that came
/// back with smaller ids (a failover to a host whose clock is behind).
#[tokio::test]
async fn the_bus_keeps_delivering_across_flushall() {
    let redis = ScratchRedis::start().await;
    let b = bus(&redis);
    let job = JobId::from("job");
    let mut sub = b.subscribe(&job).await.unwrap();
    b.publish(&job, gave_up(1)).await.unwrap();
    assert_eq!(next_msg(&mut sub).await, 1);

    redis.flushall().await;
    b.publish(&job, gave_up(2)).await.unwrap();
    assert_eq!(next_msg(&mut sub).await, 2);
    b.publish(&job, gave_up(3)).await.unwrap();
    assert_eq!(next_msg(&mut sub).await, 3);

    // The stream is lost again and comes back with ids below the last one seen.
    redis.flushall().await;
    let mut admin = redis.connect().await;
    let key = "{restart:job:job}:results";
    let json = serde_json::to_string(&gave_up(4)).unwrap();
    let _: String = redis::cmd("XADD")
        .arg(key)
        .arg("1-1")
        .arg("msg")
        .arg(json)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(next_msg(&mut sub).await, 4);
    b.publish(&job, gave_up(5)).await.unwrap();
    assert_eq!(next_msg(&mut sub).await, 5);
}

/// A real restart under a subscriber: it reconnects and keeps reading.
#[tokio::test]
async fn the_bus_keeps_delivering_across_a_restart() {
    let mut redis = ScratchRedis::start().await;
    let b = bus(&redis);
    let job = JobId::from("job");
    let mut sub = b.subscribe(&job).await.unwrap();
    b.publish(&job, gave_up(1)).await.unwrap();
    assert_eq!(next_msg(&mut sub).await, 1);
    redis.restart_empty().await;
    let mut published = false;
    for _ in 0..50 {
        if b.publish(&job, gave_up(2)).await.is_ok() {
            published = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(published);
    assert_eq!(next_msg(&mut sub).await, 2);
}

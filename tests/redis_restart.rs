//! Redis coming back empty (restarted without persistence, or a failover to an empty
//! replica), and an emptied script cache: the retry queue, the result bus, the limiter and
//! the shared breaker keep working. Each test runs its own throw-away `redis-server`
//! ([`support::ScratchRedis`]), since `FLUSHALL` and restarts would wipe the keys of the
//! tests running beside it; the tests fail, not skip, when `redis-server` cannot be run.

#[path = "support/redis.rs"]
mod support;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use futures::StreamExt;
use support::ScratchRedis;
use txclass_suite::breaker::CircuitPolicy;
use txclass_suite::breaker::{
    CallOutcome, CircuitBreaker, CircuitState, FailureKind, RedisSharedBreaker,
};
use txclass_suite::clock::SystemClock;
use txclass_suite::domain::{CustomerId, JobId, PartnerId};
use txclass_suite::limiter::RedisLimiter;
use txclass_suite::partner::PageRequest;
use txclass_suite::progress::WaitReason;
use txclass_suite::queue::{
    Delivery, QueueError, RedisBus, RedisBusConfig, RedisQueue, RedisQueueConfig, RetryMessage,
    RetryTask,
};
use txclass_suite::{Limiter, ResultBus, RetryQueue};

fn task(job: &str, page: u32) -> RetryTask {
    RetryTask {
        job_id: JobId::from(job),
        tenant: Default::default(),
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
            partners: vec![PartnerId::from("bank")],
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

/// `SCRIPT FLUSH` (what a restarted Redis has): every script is loaded again on `NOSCRIPT`.
#[tokio::test]
async fn scripts_are_loaded_again_after_script_flush() {
    let redis = ScratchRedis::start().await;
    let admin = redis.connect().await;
    let flush = |mut c: redis::aio::MultiplexedConnection| async move {
        let () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut c)
            .await
            .unwrap();
    };
    let q = queue(&redis, Duration::from_millis(100));
    let job = JobId::from("job");
    q.enqueue(task("job", 1), Duration::ZERO).await.unwrap();
    flush(admin.clone()).await;
    let d = q.next("a", Duration::from_secs(1)).await.unwrap().unwrap();
    flush(admin.clone()).await;
    q.reschedule(&d, d.task.clone(), Duration::from_millis(10))
        .await
        .unwrap();
    flush(admin.clone()).await;
    q.enqueue(task("job", 2), Duration::from_millis(10))
        .await
        .unwrap();
    flush(admin.clone()).await;
    let d1 = q.next("a", Duration::from_secs(1)).await.unwrap().unwrap();
    let d2 = q.next("a", Duration::from_secs(1)).await.unwrap().unwrap();
    flush(admin.clone()).await;
    q.ack(&d1).await.unwrap();
    q.dead_letter(&d2, "test".into()).await.unwrap();
    assert!(!q.is_queued(&job, 1).await.unwrap());
    assert_eq!(q.dead_letters().await.unwrap().len(), 1);
    // Claiming (claim.lua) after a flush: a consumer dies holding a task.
    q.enqueue(task("job", 3), Duration::ZERO).await.unwrap();
    let _died = q
        .next("dead", Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    flush(admin.clone()).await;
    let d = q.next("b", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!((d.task.page, d.deliveries), (3, 2));
    q.ack(&d).await.unwrap();

    let p = PartnerId::from("bank");
    let l = RedisLimiter::builder(redis.url())
        .prefix("restart")
        .partner(p.clone(), NonZeroU32::new(2).unwrap())
        .build()
        .unwrap();
    let a = l.acquire(&p, Duration::ZERO).await.unwrap().unwrap();
    flush(admin.clone()).await;
    let b = l.acquire(&p, Duration::ZERO).await.unwrap().unwrap();
    flush(admin.clone()).await;
    l.renew_now().await.unwrap();
    assert!(a.lease_held() && b.lease_held());
    flush(admin.clone()).await;
    assert_eq!(l.in_use(&p).await.unwrap(), 2);
    flush(admin.clone()).await;
    drop(a);
    let released = support::eventually(Duration::from_secs(2), || async {
        l.in_use(&p).await.unwrap() == 1
    })
    .await;
    assert!(released.is_some(), "release ran after SCRIPT FLUSH");
}

fn limiter(redis: &ScratchRedis, p: &PartnerId, capacity: u32, lease: Duration) -> RedisLimiter {
    RedisLimiter::builder(redis.url())
        .prefix("restart")
        .lease(lease)
        .partner(p.clone(), NonZeroU32::new(capacity).unwrap())
        .build()
        .unwrap()
}

/// Permits in flight when Redis loses its data keep counting: nothing new is admitted for
/// one lease, the holders register their permits again meanwhile, and the cap is never
/// exceeded.
#[tokio::test]
async fn permits_in_flight_keep_counting_after_redis_loses_its_data() {
    let redis = ScratchRedis::start().await;
    let p = PartnerId::from("bank");
    let lease = Duration::from_millis(900);
    let cap = 3;
    let holder = limiter(&redis, &p, cap, lease);
    let other = limiter(&redis, &p, cap, lease);
    // `other` has seen the state before the loss.
    drop(other.acquire(&p, Duration::ZERO).await.unwrap().unwrap());
    let held: Vec<_> =
        futures::future::join_all((0..2).map(|_| holder.acquire(&p, Duration::ZERO)))
            .await
            .into_iter()
            .map(|r| r.unwrap().unwrap())
            .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(holder.in_use(&p).await.unwrap(), 2);

    redis.flushall().await;
    let lost_at = tokio::time::Instant::now();
    // One free slot by the count Redis has, yet nothing is admitted during the quarantine.
    assert!(other.acquire(&p, Duration::ZERO).await.unwrap().is_none());
    let late = limiter(&redis, &p, cap, lease);
    assert!(
        late.acquire(&p, Duration::ZERO).await.unwrap().is_none(),
        "a limiter that never saw the old state is held back too"
    );
    // The holder's renewal (every third of a lease) puts its permits back.
    let back = support::eventually(lease, || async { holder.in_use(&p).await.unwrap() == 2 }).await;
    assert!(back.is_some(), "the live permits were registered again");
    assert!(
        held.iter().all(|p| p.lease_held()),
        "not lost: Redis lost them"
    );

    // After the quarantine exactly the one free slot is admitted.
    let admitted = other
        .acquire(&p, lease * 2)
        .await
        .unwrap()
        .expect("admitted after the quarantine");
    let waited = lost_at.elapsed();
    assert!(waited >= lease - Duration::from_millis(100), "{waited:?}");
    assert!(
        late.acquire(&p, Duration::ZERO).await.unwrap().is_none(),
        "cap"
    );
    assert_eq!(holder.in_use(&p).await.unwrap(), cap);
    // The renewed permits stay counted past a lease.
    tokio::time::sleep(lease).await;
    assert_eq!(holder.in_use(&p).await.unwrap(), cap);
    drop(held);
    drop(admitted);
    let freed = support::eventually(Duration::from_secs(2), || async {
        holder.in_use(&p).await.unwrap() == 0
    })
    .await;
    assert!(freed.is_some());
}

/// A real restart: the limiter's connection comes back, and the quarantine applies.
#[tokio::test]
async fn the_limiter_reconnects_after_a_restart() {
    let mut redis = ScratchRedis::start().await;
    let p = PartnerId::from("bank");
    let lease = Duration::from_millis(600);
    let l = limiter(&redis, &p, 2, lease);
    drop(l.acquire(&p, Duration::ZERO).await.unwrap().unwrap());
    redis.restart_empty().await;
    let restarted = tokio::time::Instant::now();
    let mut permit = None;
    while restarted.elapsed() < Duration::from_secs(5) {
        // Errors while the connection is re-established; None during the quarantine.
        if let Ok(Some(got)) = l.acquire(&p, Duration::from_millis(100)).await {
            permit = Some(got);
            break;
        }
    }
    let permit = permit.expect("a permit after the restart");
    assert!(
        restarted.elapsed() >= lease - Duration::from_millis(100),
        "the quarantine applied after the restart"
    );
    assert_eq!(l.in_use(&p).await.unwrap(), 1);
    drop(permit);
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
        reason: txclass_suite::progress::FailureReason::PartnerUnavailable,
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
    // A stream recreated within the same millisecond as the last id seen gets that same id
    // again, which a reader cannot tell from "nothing new" (the job's periodic `is_queued`
    // check covers that case); the test waits out the millisecond.
    tokio::time::sleep(Duration::from_millis(5)).await;
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

/// After an empty restart, an instance that opens its circuit still opens the others'.
#[tokio::test]
async fn the_shared_breaker_works_after_an_empty_restart() {
    let mut redis = ScratchRedis::start().await;
    let partner = PartnerId::from("bank");
    let policy = CircuitPolicy {
        minimum_calls: NonZeroU32::new(2).unwrap(),
        open_for: Duration::from_secs(30),
        ..CircuitPolicy::default()
    };
    let start = || {
        RedisSharedBreaker::start(
            &redis.url(),
            "restart",
            &partner,
            policy.clone(),
            Arc::new(SystemClock::new()),
        )
        .unwrap()
    };
    let (a, b) = (start(), start());
    tokio::time::sleep(Duration::from_millis(200)).await;
    redis.restart_empty().await;
    for _ in 0..2 {
        let permit = a.try_acquire().0.unwrap();
        a.record(permit, CallOutcome::Failure(FailureKind::ServerError));
    }
    assert_eq!(a.state(), CircuitState::Open);
    let opened = support::eventually(Duration::from_secs(5), || async {
        b.state() == CircuitState::Open
    })
    .await;
    assert!(
        opened.is_some(),
        "b never heard that a opened after the restart"
    );
}

//! The Redis Streams retry queue and the per-job result bus against a real Redis
//! (`scripts/redis.sh start`; `TXCLASS_REDIS_URL`). Proof 4: a consumer killed mid-retry
//! loses nothing; another one claims the task and finishes it. The lanes of several partners
//! are also run on a Redis Cluster.

#[path = "support/redis.rs"]
mod support;

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use futures::StreamExt;
use txclass_suite::domain::{CustomerId, JobId, PartnerId};
use txclass_suite::partner::PageRequest;
use txclass_suite::progress::WaitReason;
use txclass_suite::queue::{
    QueueDepth, QueueError, RedisBus, RedisBusConfig, RedisQueue, RedisQueueConfig, RetryMessage,
    RetryTask,
};
use txclass_suite::{ResultBus, RetryQueue};

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
            cursor: Some(format!("cursor-{page}")),
        },
        attempts: 1,
        reason: WaitReason::Timeout,
        last_error: None,
    }
}

fn queue(prefix: &str, claim_after: Duration, max_deliveries: u32) -> RedisQueue {
    RedisQueue::new(
        &support::url(),
        RedisQueueConfig {
            prefix: prefix.into(),
            claim_after,
            max_deliveries,
            partners: vec![PartnerId::from("bank")],
            ..RedisQueueConfig::default()
        },
    )
    .unwrap()
}

fn bus(prefix: &str) -> RedisBus {
    RedisBus::new(
        &support::url(),
        RedisBusConfig {
            prefix: prefix.into(),
            ..RedisBusConfig::default()
        },
    )
    .unwrap()
}

#[tokio::test]
async fn delays_order_reschedule_and_dead_letter() {
    support::connect().await;
    let q = queue(&support::unique("q-basic"), Duration::from_secs(60), 10);
    q.enqueue(task("j", 2), Duration::from_millis(600))
        .await
        .unwrap();
    q.enqueue(task("j", 1), Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(q.pending().await.unwrap(), 2);
    assert!(
        q.next("c", Duration::from_millis(150))
            .await
            .unwrap()
            .is_none(),
        "nothing due yet"
    );
    let t = Instant::now();
    let d = q.next("c", Duration::from_secs(3)).await.unwrap().unwrap();
    assert_eq!((d.task.page, d.deliveries), (1, 1));
    assert!(
        t.elapsed() < Duration::from_millis(600),
        "due at 300 ms, got it after {:?}",
        t.elapsed()
    );
    let mut again = d.task.clone();
    again.attempts = 2;
    again.last_error = Some("partner answered server error 503".into());
    q.reschedule(&d, again, Duration::from_millis(400))
        .await
        .unwrap();
    assert!(
        matches!(q.ack(&d).await, Err(QueueError::NotPending(_))),
        "settled once only"
    );
    let d2 = q.next("c", Duration::from_secs(3)).await.unwrap().unwrap();
    assert_eq!(d2.task.page, 2);
    q.ack(&d2).await.unwrap();
    assert!(matches!(q.ack(&d2).await, Err(QueueError::NotPending(_))));
    let d3 = q.next("c", Duration::from_secs(3)).await.unwrap().unwrap();
    assert_eq!(
        (d3.task.page, d3.task.attempts, d3.deliveries),
        (1, 2, 1),
        "a reschedule is not a delivery"
    );
    q.dead_letter(&d3, "gave up after 2 attempts: 503".into())
        .await
        .unwrap();
    assert_eq!(q.pending().await.unwrap(), 0);
    let dead = q.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].error, "gave up after 2 attempts: 503");
    assert_eq!(
        dead[0].task.last_error.as_deref(),
        Some("partner answered server error 503")
    );
}

/// The redis crate's multiplexed connections time out after 500 ms by default, and a
/// blocking read on a shared connection would stall everyone: a 2 s block must work, and
/// enqueueing meanwhile must not wait for it.
#[tokio::test]
async fn a_long_blocking_read_neither_times_out_nor_stalls_others() {
    support::connect().await;
    let prefix = support::unique("q-block");
    let q = std::sync::Arc::new(queue(&prefix, Duration::from_secs(60), 10));
    let q2 = q.clone();
    let reader = tokio::spawn(async move {
        let t = Instant::now();
        let d = q2.next("c", Duration::from_secs(5)).await.unwrap();
        (d, t.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = Instant::now();
    q.enqueue(task("j", 7), Duration::ZERO).await.unwrap();
    let enqueue_took = t.elapsed();
    assert!(q.pending().await.unwrap() <= 1);
    let (d, waited) = reader.await.unwrap();
    assert_eq!(d.expect("delivered").task.page, 7);
    assert!(waited >= Duration::from_millis(1400), "{waited:?}");
    assert!(
        enqueue_took < Duration::from_millis(200),
        "enqueue waited {enqueue_took:?}"
    );
}

#[tokio::test]
async fn a_stale_consumer_cannot_settle_what_another_claimed() {
    support::connect().await;
    let prefix = support::unique("q-claim");
    let a = queue(&prefix, Duration::from_millis(300), 10);
    let b = queue(&prefix, Duration::from_millis(300), 10);
    a.enqueue(task("j", 1), Duration::ZERO).await.unwrap();
    let da = a.next("a", Duration::from_secs(1)).await.unwrap().unwrap();
    assert!(
        b.next("b", Duration::from_millis(100))
            .await
            .unwrap()
            .is_none(),
        "not idle long enough"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let db = b.next("b", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(db.id, da.id);
    assert_eq!(db.deliveries, 2);
    assert!(matches!(a.ack(&da).await, Err(QueueError::NotPending(_))));
    assert!(matches!(
        a.reschedule(&da, da.task.clone(), Duration::ZERO).await,
        Err(QueueError::NotPending(_))
    ));
    b.ack(&db).await.unwrap();
    assert_eq!(b.pending().await.unwrap(), 0);
}

#[tokio::test]
async fn an_entry_that_keeps_killing_consumers_is_dead_lettered() {
    support::connect().await;
    let prefix = support::unique("q-poison");
    let q = queue(&prefix, Duration::from_millis(100), 2);
    q.enqueue(task("j", 9), Duration::ZERO).await.unwrap();
    let d1 = q.next("a", Duration::from_secs(1)).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let d2 = q.next("b", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!((d1.deliveries, d2.deliveries), (1, 2));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(q
        .next("c", Duration::from_millis(200))
        .await
        .unwrap()
        .is_none());
    let dead = q.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].task.page, 9);
    assert!(
        dead[0].error.contains("delivered 3 times"),
        "{}",
        dead[0].error
    );
    assert_eq!(q.pending().await.unwrap(), 0);
}

/// A task waiting behind a busy partner is settled and re-added again and again: that must
/// never count toward `max_deliveries` (it once dead-lettered calls after a minute).
#[tokio::test]
async fn rescheduling_never_counts_toward_max_deliveries() {
    support::connect().await;
    let prefix = support::unique("q-resched");
    let q = queue(&prefix, Duration::from_secs(60), 3);
    let job = JobId::from("j");
    q.enqueue(task("j", 1), Duration::ZERO).await.unwrap();
    for i in 0..50u32 {
        let d = q
            .next("c", Duration::from_secs(2))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("delivery {i} missing"));
        assert_eq!((d.task.page, d.deliveries), (1, 1), "delivery {i}");
        let mut again = d.task.clone();
        again.attempts += 1;
        // Both paths: straight to the stream, and through the delayed set.
        let delay = Duration::from_millis(if i % 2 == 0 { 0 } else { 5 });
        q.reschedule(&d, again, delay).await.unwrap();
        assert!(q.is_queued(&job, 1).await.unwrap());
    }
    let d = q.next("c", Duration::from_secs(2)).await.unwrap().unwrap();
    assert_eq!((d.task.attempts, d.deliveries), (51, 1));
    q.ack(&d).await.unwrap();
    assert!(q.dead_letters().await.unwrap().is_empty());
    assert!(!q.is_queued(&job, 1).await.unwrap());
    assert_eq!(q.pending().await.unwrap(), 0);
}

/// Deliveries that no one settled (the consumer died holding the entry) do count, and a
/// reschedule in between does not wipe them: after `max_deliveries` of them the task is
/// dead-lettered.
#[tokio::test]
async fn deaths_count_across_reschedules_and_end_in_the_dead_letters() {
    support::connect().await;
    let prefix = support::unique("q-deaths");
    let claim_after = Duration::from_millis(100);
    let q = queue(&prefix, claim_after, 3);
    let job = JobId::from("j");
    q.enqueue(task("j", 2), Duration::ZERO).await.unwrap();
    // One consumer dies holding it (never settles), the next one reschedules it.
    let _died = q.next("a", Duration::from_secs(1)).await.unwrap().unwrap();
    tokio::time::sleep(claim_after + Duration::from_millis(50)).await;
    let d = q.next("b", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(d.deliveries, 2);
    q.reschedule(&d, d.task.clone(), Duration::ZERO)
        .await
        .unwrap();
    let d = q.next("b", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(
        d.deliveries, 2,
        "the death still counts, the reschedule does not"
    );
    // This consumer and the next one die too: three unsettled deliveries.
    tokio::time::sleep(claim_after + Duration::from_millis(50)).await;
    let d = q.next("c", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(d.deliveries, 3);
    assert!(q.is_queued(&job, 2).await.unwrap(), "delivered, unsettled");
    tokio::time::sleep(claim_after + Duration::from_millis(50)).await;
    assert!(q
        .next("d", Duration::from_millis(200))
        .await
        .unwrap()
        .is_none());
    let dead = q.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].error.contains("delivered 4 times"),
        "{}",
        dead[0].error
    );
    assert!(!q.is_queued(&job, 2).await.unwrap(), "dead-lettered");
    assert_eq!(q.pending().await.unwrap(), 0);
}

#[tokio::test]
async fn is_queued_follows_a_page_from_enqueue_to_settlement() {
    support::connect().await;
    let prefix = support::unique("q-isqueued");
    let q = queue(&prefix, Duration::from_secs(60), 10);
    let (j, other) = (JobId::from("job:a"), JobId::from("job:b"));
    assert!(!q.is_queued(&j, 1).await.unwrap());
    q.enqueue(task("job:a", 1), Duration::from_millis(100))
        .await
        .unwrap();
    q.enqueue(task("job:a", 1), Duration::ZERO).await.unwrap();
    assert!(q.is_queued(&j, 1).await.unwrap(), "due and delayed");
    assert!(!q.is_queued(&j, 2).await.unwrap());
    assert!(!q.is_queued(&other, 1).await.unwrap());
    let d = q.next("c", Duration::from_secs(1)).await.unwrap().unwrap();
    q.ack(&d).await.unwrap();
    assert!(
        q.is_queued(&j, 1).await.unwrap(),
        "the delayed one still waits"
    );
    let d = q.next("c", Duration::from_secs(1)).await.unwrap().unwrap();
    assert!(q.is_queued(&j, 1).await.unwrap(), "delivered, not settled");
    q.dead_letter(&d, "gave up".into()).await.unwrap();
    assert!(!q.is_queued(&j, 1).await.unwrap());
}

#[tokio::test]
async fn the_bus_routes_results_across_instances_and_keeps_them() {
    let mut conn = support::connect().await;
    let prefix = support::unique("bus");
    let (b1, b2) = (bus(&prefix), bus(&prefix));
    let job = JobId::from("job-1");
    b2.publish(&job, gave_up(1)).await.unwrap(); // before anyone subscribed
    let mut sub = b1.subscribe(&job).await.unwrap();
    let mut other = b1.subscribe(&JobId::from("job-2")).await.unwrap();
    b2.publish(&job, gave_up(2)).await.unwrap();
    b2.publish(&job, gave_up(3)).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(3), sub.next())
        .await
        .unwrap()
        .unwrap();
    let second = tokio::time::timeout(Duration::from_secs(3), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (first.page(), second.page()),
        (2, 3),
        "from subscription on, in order"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), other.next())
            .await
            .is_err(),
        "another job hears nothing"
    );
    // Results outlive their listeners: published with no subscriber, still stored.
    let gone = JobId::from("job-nobody");
    b2.publish(&gone, gave_up(5)).await.unwrap();
    let key = format!("{{{prefix}:job:job-nobody}}:results");
    let len: usize = redis::cmd("XLEN")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(len, 1);
    assert!(ttl > 0, "kept for the retention, then gone");
}

fn gave_up(page: u32) -> RetryMessage {
    RetryMessage::GaveUp {
        page,
        reason: txclass_suite::progress::FailureReason::PartnerUnavailable,
        error: "test".into(),
    }
}

#[tokio::test]
async fn unreachable_redis_is_a_backend_error() {
    let q = RedisQueue::new("redis://127.0.0.1:1", RedisQueueConfig::default()).unwrap();
    let r = q.enqueue(task("j", 1), Duration::ZERO).await;
    assert!(matches!(r, Err(QueueError::Backend(_))), "{r:?}");
    let r = q.next("c", Duration::from_millis(100)).await;
    assert!(matches!(r, Err(QueueError::Backend(_))), "{r:?}");
}

/// Proof 4: the consumer is SIGKILLed while it holds the task ("calling the partner");
/// another consumer claims it after `claim_after`, finishes it, and the job's subscriber
/// (on another bus instance) hears the result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_consumers_task_is_claimed_and_finished_by_another() {
    support::connect().await;
    let prefix = support::unique("q-death");
    let claim_after = Duration::from_millis(500);
    let q = queue(&prefix, claim_after, 10);
    let job = JobId::from("job-death");
    let mut sub = bus(&prefix).subscribe(&job).await.unwrap();
    q.enqueue(task("job-death", 4), Duration::ZERO)
        .await
        .unwrap();
    let args = [
        "consume".to_string(),
        support::url(),
        prefix.clone(),
        "doomed".to_string(),
    ];
    let (helper, line) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut h = support::Helper::spawn(&args);
        let line = h.line();
        (h, line)
    })
    .await
    .unwrap();
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert_eq!((parts[0], parts[2]), ("GOT", "4"), "{line}");
    let id = parts[1].to_owned();
    tokio::task::spawn_blocking(move || helper.kill9())
        .await
        .unwrap();
    let killed = Instant::now();
    assert_eq!(q.pending().await.unwrap(), 1, "the task is still there");
    let d = q
        .next("survivor", Duration::from_secs(5))
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!(
        (d.id.as_str(), d.deliveries, d.task.page),
        (id.as_str(), 2, 4)
    );
    assert!(killed.elapsed() >= claim_after - Duration::from_millis(50));
    // Finish it as the retry worker does: publish the result, then ack.
    let done = RetryMessage::Fetched {
        page: 4,
        outcome: txclass_suite::store::PageOutcome {
            transactions: 0,
            inserted: 0,
            next_cursor: None,
            totals: Default::default(),
        },
    };
    RedisBus::new(
        &support::url(),
        RedisBusConfig {
            prefix: prefix.clone(),
            ..Default::default()
        },
    )
    .unwrap()
    .publish(&job, done.clone())
    .await
    .unwrap();
    q.ack(&d).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(3), sub.next())
        .await
        .unwrap();
    assert_eq!(heard, Some(done));
    assert_eq!(q.pending().await.unwrap(), 0);
    assert!(q.dead_letters().await.unwrap().is_empty());
}

/// One lane per partner, each in its own hash slot: on a three-master Redis Cluster
/// (`scripts/redis-cluster.sh start`; `TXCLASS_REDIS_CLUSTER_URL`) tasks of three partners,
/// due and delayed, enqueued by one instance are all delivered to a consumer of another,
/// once each, and the partners' keys spread over more than one slot.
#[tokio::test]
async fn each_partner_has_its_own_lane_on_a_redis_cluster() {
    let mut nodes = support::connect_cluster().await;
    let prefix = support::unique("lanes");
    let partners = [
        PartnerId::from("bank"),
        PartnerId::from("card-issuer"),
        PartnerId::from("broker"),
    ];
    let open = || {
        RedisQueue::new(
            &support::cluster_url(),
            RedisQueueConfig {
                prefix: prefix.clone(),
                partners: partners.to_vec(),
                ..RedisQueueConfig::default()
            },
        )
        .unwrap()
    };
    let (producer, consumer) = (open(), open());
    let mut expected = std::collections::BTreeSet::new();
    for p in &partners {
        for page in 0..6 {
            let mut t = task(&format!("job-{}", p.as_str()), page);
            t.partner_id = p.clone();
            let delay = if page % 2 == 0 { 0 } else { 80 };
            producer
                .enqueue(t, Duration::from_millis(delay))
                .await
                .unwrap();
            expected.insert((p.as_str().to_owned(), page));
        }
    }
    assert_eq!(producer.pending().await.unwrap(), 18);
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < expected.len() && Instant::now() < deadline {
        if let Some(d) = consumer
            .next("c1", Duration::from_millis(500))
            .await
            .unwrap()
        {
            assert!(
                seen.insert((d.task.partner_id.as_str().to_owned(), d.task.page)),
                "delivered twice: {:?}",
                d.task
            );
            consumer.ack(&d).await.unwrap();
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(consumer.pending().await.unwrap(), 0);
    let mut slots = std::collections::BTreeSet::new();
    for p in &partners {
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(format!("{{{prefix}:queue:{}}}:ready", p.as_str()))
            .query_async(&mut nodes[0])
            .await
            .unwrap();
        slots.insert(slot);
    }
    assert_eq!(slots.len(), 3, "one slot per partner");
}

#[tokio::test]
async fn depth_counts_delayed_due_in_flight_and_dead_tasks() {
    support::connect().await;
    let q = queue(&support::unique("q-depth"), Duration::from_secs(60), 10);
    let lane = |delayed, due, in_flight, dead| QueueDepth {
        partner: PartnerId::from("bank"),
        delayed,
        due,
        in_flight,
        dead,
    };
    assert!(q.shared());
    assert_eq!(
        q.depth().await.unwrap(),
        vec![lane(0, 0, 0, 0)],
        "no group yet"
    );
    for page in 1..=3 {
        q.enqueue(task("j", page), Duration::ZERO).await.unwrap();
    }
    q.enqueue(task("j", 4), Duration::from_secs(600))
        .await
        .unwrap();
    let taken = q.next("c", Duration::from_secs(1)).await.unwrap().unwrap();
    let dead = q.next("c", Duration::from_secs(1)).await.unwrap().unwrap();
    q.dead_letter(&dead, "gave up".into()).await.unwrap();
    assert_eq!(q.depth().await.unwrap(), vec![lane(1, 1, 1, 1)]);
    q.ack(&taken).await.unwrap();
    assert_eq!(q.depth().await.unwrap(), vec![lane(1, 1, 0, 1)]);
}

/// A consumer that works on a delivery longer than `claim_after` keeps it by touching it: no
/// other consumer takes it over (the page would be fetched twice). Once it stops, the
/// delivery is taken over as orphaned, and then the first consumer's touch says so.
#[tokio::test]
async fn a_touched_delivery_is_not_taken_over() {
    support::connect().await;
    let prefix = support::unique("q-touch");
    let claim_after = Duration::from_millis(300);
    let a = queue(&prefix, claim_after, 10);
    let b = queue(&prefix, claim_after, 10);
    assert_eq!(a.touch_every(), Some(Duration::from_millis(100)));
    a.enqueue(task("j", 1), Duration::ZERO).await.unwrap();
    let da = a.next("a", Duration::from_secs(1)).await.unwrap().unwrap();
    // Three claim periods of work, touched every third of one.
    for _ in 0..9 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(a.touch(&da, "a").await.unwrap(), "a still holds it");
        assert!(
            b.next("b", Duration::from_millis(1))
                .await
                .unwrap()
                .is_none(),
            "a live consumer's delivery is not taken over"
        );
    }
    tokio::time::sleep(claim_after + Duration::from_millis(50)).await;
    let db = b.next("b", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(
        (db.id.as_str(), db.deliveries),
        (da.id.as_str(), 2),
        "touches are not deliveries"
    );
    assert!(
        !a.touch(&da, "a").await.unwrap(),
        "taken over: a's touch says so"
    );
    assert!(b.touch(&db, "b").await.unwrap());
    b.ack(&db).await.unwrap();
    assert!(!b.touch(&db, "b").await.unwrap(), "settled");
}

//! The Redis semaphore against a real Redis (`scripts/redis.sh start`; `TXCLASS_REDIS_URL`).
//! Proofs: zero over-admission across processes, crash safety under `kill -9`, no leak on
//! cancellation, renewal of long calls, fail-closed when Redis is down.

#[path = "support/redis.rs"]
mod support;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use txclass_suite::limiter::{Feedback, LimiterError, LocalLimiter, Permit, RedisLimiter};
use txclass_suite::{Limiter, PartnerId};

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn limiter(prefix: &str, partner: &PartnerId, capacity: u32, lease: Duration) -> RedisLimiter {
    RedisLimiter::builder(support::url())
        .prefix(prefix)
        .lease(lease)
        .partner(partner.clone(), nz(capacity))
        .build()
        .unwrap()
}

#[tokio::test]
async fn capacity_holds_across_instances_and_tokens_grow() {
    support::connect().await;
    let prefix = support::unique("capacity");
    let p = PartnerId::from("bank");
    let a = limiter(&prefix, &p, 3, Duration::from_secs(10));
    let b = limiter(&prefix, &p, 3, Duration::from_secs(10));
    let p1 = a.acquire(&p, Duration::ZERO).await.unwrap().unwrap();
    let p2 = b.acquire(&p, Duration::ZERO).await.unwrap().unwrap();
    let p3 = a.acquire(&p, Duration::ZERO).await.unwrap().unwrap();
    assert!(p1.fencing_token() < p2.fencing_token());
    assert!(p2.fencing_token() < p3.fencing_token());
    assert!(b.acquire(&p, Duration::ZERO).await.unwrap().is_none());
    assert!(b
        .acquire(&p, Duration::from_millis(100))
        .await
        .unwrap()
        .is_none());
    assert_eq!(a.in_use(&p).await.unwrap(), 3);
    assert!(p1.lease_held());
    drop(p2);
    let p4 = support::eventually(Duration::from_secs(2), || async {
        a.in_use(&p).await.unwrap() == 2
    })
    .await;
    assert!(p4.is_some(), "drop released the permit");
    let p5 = a.acquire(&p, Duration::ZERO).await.unwrap().unwrap();
    assert!(p5.fencing_token() > p3.fencing_token());
    assert!(matches!(
        a.acquire(&PartnerId::from("other"), Duration::ZERO).await,
        Err(LimiterError::UnknownPartner(_))
    ));
}

#[tokio::test]
async fn a_waiter_is_woken_by_a_release_on_another_instance() {
    support::connect().await;
    let prefix = support::unique("waiter");
    let p = PartnerId::from("bank");
    let a = limiter(&prefix, &p, 1, Duration::from_secs(10));
    // A backstop of 3 s: only the release's message can wake the waiter sooner.
    let b = Arc::new(
        RedisLimiter::builder(support::url())
            .prefix(&prefix)
            .poll(Duration::from_secs(3), Duration::from_secs(3))
            .partner(p.clone(), nz(1))
            .build()
            .unwrap(),
    );
    let held = a.acquire(&p, Duration::ZERO).await.unwrap().unwrap();
    let (b2, p2) = (b.clone(), p.clone());
    let waiter = tokio::spawn(async move {
        let permit = b2.acquire(&p2, Duration::from_secs(10)).await.unwrap();
        (permit.map(|p| p.fencing_token()), Instant::now())
    });
    // Let the waiter subscribe and make its first try.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let released_at = Instant::now();
    held.finish(Feedback::Served);
    let (token, got_at) = waiter.await.unwrap();
    assert!(token.is_some(), "waiter got the permit");
    let after = got_at - released_at;
    assert!(
        after < Duration::from_millis(300),
        "the release woke the waiter at once, not its 1.5-3 s backstop: {after:?}"
    );
}

/// Settles a permit's release (it runs on a spawned task) before the next step.
async fn released(l: &RedisLimiter, p: &PartnerId, in_use: u32) {
    let ok = support::eventually(Duration::from_secs(2), || async {
        l.in_use(p).await.unwrap() == in_use
    })
    .await;
    assert!(ok.is_some(), "release settled");
}

#[tokio::test]
async fn the_shared_limit_follows_429s_as_the_local_one_does() {
    support::connect().await;
    let prefix = support::unique("adaptive");
    let p = PartnerId::from("bank");
    let a = limiter(&prefix, &p, 4, Duration::from_secs(10));
    let b = limiter(&prefix, &p, 4, Duration::from_secs(10));
    let local = LocalLimiter::new().with_partner(p.clone(), nz(4));
    let mut trace = Vec::new();
    // A round of four calls, all answered 429: one decrease (4 → 3), on both instances.
    let shared: Vec<Permit> = vec![
        a.acquire(&p, Duration::ZERO).await.unwrap().unwrap(),
        b.acquire(&p, Duration::ZERO).await.unwrap().unwrap(),
        a.acquire(&p, Duration::ZERO).await.unwrap().unwrap(),
        b.acquire(&p, Duration::ZERO).await.unwrap().unwrap(),
    ];
    let mut mine = Vec::new();
    for _ in 0..4 {
        mine.push(local.acquire(&p, Duration::ZERO).await.unwrap().unwrap());
    }
    for (i, (s, l)) in shared.into_iter().zip(mine).enumerate() {
        s.finish(Feedback::Overloaded);
        l.finish(Feedback::Overloaded);
        released(&a, &p, 3 - i as u32).await;
        trace.push((a.limit(&p).await.unwrap(), local.limit(&p).await.unwrap()));
    }
    assert_eq!(b.limit(&p).await.unwrap(), 3);
    assert!(
        b.acquire(&p, Duration::ZERO).await.unwrap().is_some()
            && a.acquire(&p, Duration::ZERO).await.unwrap().is_some()
            && b.acquire(&p, Duration::ZERO).await.unwrap().is_some()
    );
    // The permits above were dropped at once (no feedback); three free again.
    released(&a, &p, 0).await;
    // Served calls raise it back to the capacity, step for step with the local limiter.
    for _ in 0..80 {
        let s = a.acquire(&p, Duration::ZERO).await.unwrap().unwrap();
        let l = local.acquire(&p, Duration::ZERO).await.unwrap().unwrap();
        s.finish(Feedback::Served);
        l.finish(Feedback::Served);
        released(&a, &p, 0).await;
        trace.push((a.limit(&p).await.unwrap(), local.limit(&p).await.unwrap()));
    }
    let differ: Vec<_> = trace
        .iter()
        .enumerate()
        .filter(|(_, (r, l))| r != l)
        .collect();
    assert!(differ.is_empty(), "redis and local disagree: {differ:?}");
    assert_eq!(trace.last().unwrap().0, 4, "back at the capacity");
    assert!(trace.iter().any(|(r, _)| *r == 3));
}

#[tokio::test]
async fn cancelled_acquires_leak_nothing() {
    support::connect().await;
    let prefix = support::unique("cancel");
    let p = PartnerId::from("bank");
    // A lease far longer than the test: only releases can bring the count back to zero.
    let l = Arc::new(limiter(&prefix, &p, 5, Duration::from_secs(600)));
    let mut got = 0;
    for i in 0..300u64 {
        // Cancel at all sorts of points: before sending, in flight, after the reply.
        let cut = Duration::from_micros(i * 7 % 900);
        if let Ok(r) = tokio::time::timeout(cut, l.acquire(&p, Duration::from_millis(50))).await {
            if r.unwrap().is_some() {
                got += 1; // dropped at once
            }
        }
    }
    let settled = support::eventually(Duration::from_secs(3), || async {
        l.in_use(&p).await.unwrap() == 0
    })
    .await;
    assert!(
        settled.is_some(),
        "{} permits leaked after 300 cancelled acquires ({got} completed)",
        l.in_use(&p).await.unwrap()
    );
    assert_eq!(l.held_here(&p), 0);
}

#[tokio::test]
async fn a_live_holder_keeps_its_permit_past_the_lease() {
    support::connect().await;
    let prefix = support::unique("renew");
    let p = PartnerId::from("bank");
    let lease = Duration::from_millis(300);
    let holder = limiter(&prefix, &p, 1, lease);
    let other = limiter(&prefix, &p, 1, lease);
    let permit = holder.acquire(&p, Duration::ZERO).await.unwrap().unwrap();
    // Four leases long: without renewal it would have expired three times.
    let until = Instant::now() + lease * 4;
    while Instant::now() < until {
        assert!(
            other.acquire(&p, Duration::ZERO).await.unwrap().is_none(),
            "the live holder's permit was taken"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(permit.lease_held());
    assert_eq!(other.in_use(&p).await.unwrap(), 1);
    drop(permit);
    let back = support::eventually(Duration::from_secs(2), || async {
        other.acquire(&p, Duration::ZERO).await.unwrap().is_some()
    })
    .await;
    assert!(back.is_some());
}

#[tokio::test]
async fn unreachable_redis_fails_closed() {
    // Nothing listens on port 1.
    let p = PartnerId::from("bank");
    let l = RedisLimiter::builder("redis://127.0.0.1:1")
        .partner(p.clone(), nz(2))
        .response_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let t = Instant::now();
    let r = l.acquire(&p, Duration::from_secs(1)).await;
    assert!(matches!(r, Err(LimiterError::Backend(_))), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(5));
    let msg = r.unwrap_err().to_string();
    assert!(msg.starts_with("limiter backend unavailable"), "{msg}");
    assert!(matches!(l.in_use(&p).await, Err(LimiterError::Backend(_))));
}

/// Proof 2: a process holding permits is SIGKILLed; its permits come back within the lease,
/// every time (`TXCLASS_CRASH_LOOPS`, default 200; 8 at a time).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_safety_permits_of_a_killed_process_return_within_the_lease() {
    support::connect().await;
    let loops: usize = std::env::var("TXCLASS_CRASH_LOOPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let lease = Duration::from_millis(400);
    let prefix = support::unique("crash");
    let capacity = 2;
    let sem = Arc::new(tokio::sync::Semaphore::new(8));
    let mut runs = Vec::new();
    for i in 0..loops {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let prefix = prefix.clone();
        runs.push(tokio::spawn(async move {
            let _slot = permit;
            let p = PartnerId::new(format!("p{i}"));
            let observer = limiter(&prefix, &p, capacity, lease);
            let args = [
                "hold".to_string(),
                support::url(),
                prefix.clone(),
                p.to_string(),
                capacity.to_string(),
                capacity.to_string(),
                lease.as_millis().to_string(),
            ];
            let (helper, line) = tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let mut h = support::Helper::spawn(&args);
                let line = h.line();
                (h, line)
            })
            .await
            .unwrap();
            assert!(line.starts_with("HELD "), "{line}");
            assert_eq!(observer.in_use(&p).await.unwrap(), capacity);
            assert!(observer
                .acquire(&p, Duration::ZERO)
                .await
                .unwrap()
                .is_none());
            tokio::task::spawn_blocking(move || helper.kill9())
                .await
                .unwrap();
            let killed = Instant::now();
            let freed = support::eventually(lease * 3, || async {
                observer.in_use(&p).await.unwrap() == 0
            })
            .await;
            let took = killed.elapsed();
            assert!(
                freed.is_some(),
                "loop {i}: permits of the killed holder never came back"
            );
            // The last renewal happened before the kill, so the lease ends at most one
            // lease after it (plus polling and scheduling slack).
            assert!(
                took <= lease + Duration::from_millis(400),
                "loop {i}: permits came back after {took:?}, lease {lease:?}"
            );
            // And they are really usable: the whole capacity, by someone else.
            let a = observer.acquire(&p, Duration::ZERO).await.unwrap();
            let b = observer.acquire(&p, Duration::ZERO).await.unwrap();
            assert!(
                a.is_some() && b.is_some(),
                "loop {i}: capacity not fully back"
            );
            took
        }));
    }
    let mut worst = Duration::ZERO;
    for r in runs {
        worst = worst.max(r.await.unwrap());
    }
    eprintln!(
        "crash safety: {loops} kills, permits back after at most {worst:?} (lease {lease:?})"
    );
}

/// Proof 1 at process level, before the server exists: three processes share one Redis
/// semaphore of capacity C; 500 calls in all, 60 concurrent tasks per process. Inside each
/// permit a process INCRs a shared gauge, so the highest value any process saw is the
/// cluster-wide concurrency. It must never exceed C, and every call must complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_never_exceed_the_capacity() {
    let mut conn = support::connect().await;
    let prefix = support::unique("load");
    let capacity = 5;
    let gauge = format!("{prefix}:gauge");
    let shares = [167, 167, 166];
    let mut handles = Vec::new();
    for n in shares {
        let args = [
            "load".to_string(),
            support::url(),
            prefix.clone(),
            "bank".to_string(),
            capacity.to_string(),
            "60".to_string(),
            n.to_string(),
            gauge.clone(),
        ];
        handles.push(tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut h = support::Helper::spawn(&args);
            let line = h.line();
            assert!(h.child.wait().unwrap().success());
            line
        }));
    }
    let mut max_seen = 0;
    let mut done = 0;
    for h in handles {
        let line = h.await.unwrap();
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((parts[0], parts[2]), ("MAX", "DONE"), "{line}");
        max_seen = max_seen.max(parts[1].parse::<u32>().unwrap());
        done += parts[3].parse::<u32>().unwrap();
    }
    let left: i64 = redis::cmd("GET")
        .arg(&gauge)
        .query_async(&mut conn)
        .await
        .unwrap();
    eprintln!("3 processes, 500 calls: max concurrency {max_seen} of capacity {capacity}");
    assert_eq!(done, 500, "every call completed");
    assert_eq!(left, 0);
    assert!(
        max_seen <= capacity,
        "over-admission: {max_seen} > {capacity}"
    );
    assert!(
        max_seen >= 2,
        "the load never overlapped; the test proves nothing"
    );
}

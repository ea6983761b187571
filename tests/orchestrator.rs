//! The orchestrator against the partner simulator, in one process: event sequence, exactly-once
//! storage, retries through the queue, the concurrency cap, cancellation.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

#[path = "support/store_ids.rs"]
mod store_ids;

use chrono::NaiveDate;
use futures::StreamExt;
use store_ids::stored_ids;
use txclass_suite::breaker::CircuitState;
use txclass_suite::domain::JobStatus;
use txclass_suite::progress::{FailureReason, WaitReason};
use txclass_suite::simulator::{Faults, Simulator, SimulatorConfig, SimulatorHandle};
use txclass_suite::store::{merchant_of, SqliteStore};
use txclass_suite::{ClassificationRequest, Orchestrator, PartnerConfig, Progress, Settings};

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn request(customer: &str) -> ClassificationRequest {
    ClassificationRequest {
        customer_id: customer.into(),
        partner_id: "bank".into(),
        from: date("2026-01-01"),
        to: date("2026-03-31"),
    }
}

struct Rig {
    sim: SimulatorHandle,
    orch: Orchestrator,
    _workers: Vec<tokio::task::JoinHandle<()>>,
}

async fn rig(
    sim_config: SimulatorConfig,
    capacity: u32,
    tune: impl FnOnce(&mut PartnerConfig),
) -> Rig {
    let sim = Simulator::bind(0, sim_config).await.unwrap();
    let mut partner = PartnerConfig::new("bank", sim.url(), NonZeroU32::new(capacity).unwrap());
    partner.timeout = Duration::from_millis(500);
    partner.page_size = NonZeroU32::new(40).unwrap();
    partner.retry.base_backoff = Duration::from_millis(20);
    partner.retry.max_backoff = Duration::from_millis(200);
    partner.circuit.open_for = Duration::from_millis(200);
    tune(&mut partner);
    let orch = Orchestrator::builder()
        .partner(partner)
        .store(Arc::new(SqliteStore::in_memory().unwrap()))
        .settings(Settings {
            acquire_wait: Duration::from_millis(20),
            job_deadline: Duration::from_secs(60),
            ..Settings::default()
        })
        .build()
        .unwrap();
    let workers = (0..2)
        .map(|i| {
            let w = orch.retry_worker(format!("w{i}"));
            tokio::spawn(w.run(futures::future::pending()))
        })
        .collect();
    Rig {
        sim,
        orch,
        _workers: workers,
    }
}

/// A partner that fails 30 % of its calls with a 5xx, and a rig that retries them through
/// the queue (50 attempts; the circuit does not open on them).
async fn flaky_rig() -> Rig {
    let sim = SimulatorConfig {
        faults: Faults {
            error_rate: 0.3,
            unavailable_rate: 0.0,
            timeout_rate: 0.0,
            hang_ms: 0,
            retry_after_secs: 0,
        },
        ..SimulatorConfig::instant()
    };
    rig(sim, 4, |p| {
        p.retry.max_attempts = NonZeroU32::new(50).unwrap();
        p.circuit.minimum_calls = NonZeroU32::new(50).unwrap();
    })
    .await
}

fn expected_ids(sim: &SimulatorHandle, customer: &str) -> Vec<String> {
    let mut ids: Vec<String> = sim
        .transactions(customer, date("2026-01-01"), date("2026-03-31"))
        .into_iter()
        .map(|t| t.id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn happy_path_streams_in_order_and_stores_each_transaction_once() {
    let r = rig(SimulatorConfig::instant(), 4, |_| {}).await;
    let events = r.orch.run_to_end(request("c-1")).await.unwrap();
    assert!(matches!(events[0], Progress::Accepted { .. }), "{events:?}");
    let Progress::Done { summary, job_id } = events.last().unwrap() else {
        panic!("last event is not done: {events:?}");
    };
    let expected = expected_ids(&r.sim, "c-1");
    assert!(expected.len() > 100, "the window has several pages");
    assert_eq!(summary.transactions as usize, expected.len());
    assert_eq!(
        summary.categories.values().map(|c| c.count).sum::<u64>(),
        summary.transactions
    );
    let pages = events
        .iter()
        .filter(|e| matches!(e, Progress::PageFetched { .. }))
        .count();
    assert_eq!(pages as u32, summary.pages);
    assert_eq!(pages, expected.len().div_ceil(40));
    // Every page_fetched is followed by its classified.
    for w in events.windows(2) {
        if let Progress::PageFetched { page, .. } = w[0] {
            assert!(matches!(w[1], Progress::Classified { page: p, .. } if p == page));
        }
    }
    assert_eq!(stored_ids(r.orch.store().as_ref(), "c-1").await, expected);
    let record = settled(&r, job_id).await;
    assert!(
        matches!(record.status, JobStatus::Done { .. }),
        "{record:?}"
    );

    // Running it again stores nothing new.
    let again = r.orch.run_to_end(request("c-1")).await.unwrap();
    let inserted: usize = again
        .iter()
        .map(|e| match e {
            Progress::Classified { inserted, .. } => *inserted,
            _ => 0,
        })
        .sum();
    assert_eq!(inserted, 0);
    assert_eq!(stored_ids(r.orch.store().as_ref(), "c-1").await, expected);
}

/// Rules apply to every page, the ones the retry worker fetched and stored too: a pre rule
/// on money in, a post rule on what the model called groceries, and another customer's rule
/// that must not apply.
#[tokio::test]
async fn rules_apply_to_pages_fetched_directly_and_through_the_retry_queue() {
    use txclass_suite::domain::Source;
    use txclass_suite::rules::{Action, Conditions, Rule, RuleScope, Sign, Stage};
    use txclass_suite::store::TxQuery;
    use txclass_suite::Category;

    let r = flaky_rig().await;
    let rule = |id: &str, stage, scope, conditions, category: &str| Rule {
        id: id.into(),
        scope,
        stage,
        order: 0,
        conditions,
        action: Action {
            category: Some(Category::new(category)),
            ..Action::default()
        },
        stop_processing: false,
    };
    let money_in = rule(
        "money-in",
        Stage::Pre,
        RuleScope::Global,
        Conditions {
            sign: Some(Sign::In),
            ..Conditions::default()
        },
        "money-in",
    );
    let shops = rule(
        "shops",
        Stage::Post,
        RuleScope::Global,
        Conditions {
            category: Some(Category::new("groceries")),
            ..Conditions::default()
        },
        "shops",
    );
    let elsewhere = rule(
        "elsewhere",
        Stage::Pre,
        RuleScope::Customer {
            customer_id: "someone-else".into(),
        },
        Conditions {
            sign: Some(Sign::Out),
            ..Conditions::default()
        },
        "elsewhere",
    );
    for x in [money_in, shops, elsewhere] {
        r.orch.create_rule(x).await.unwrap();
    }
    let mut via_retry = 0;
    for i in 0..3 {
        let c = format!("rules-{i}");
        let events = r.orch.run_to_end(request(&c)).await.unwrap();
        assert!(
            matches!(events.last(), Some(Progress::Done { .. })),
            "{:?}",
            events.last()
        );
        via_retry += events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Progress::PageFetched {
                        via_retry: true,
                        ..
                    }
                )
            })
            .count();
        let page = r
            .orch
            .transactions(&TxQuery {
                customer_id: c.as_str().into(),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(page.next_cursor.is_none());
        assert_eq!(page.items.len(), expected_ids(&r.sim, &c).len());
        let (mut ins, mut shops) = (0, 0);
        for t in &page.items {
            let p = &t.prediction;
            if t.transaction.amount_minor >= 0 {
                assert_eq!(p.source, Source::Rule("money-in".into()), "{t:?}");
                assert_eq!(p.category.as_str(), "money-in");
                ins += 1;
            } else if p.source == Source::Rule("shops".into()) {
                assert_eq!(p.category.as_str(), "shops");
                shops += 1;
            } else {
                assert_eq!(p.source, Source::Model, "{t:?}");
                assert!(
                    !["groceries", "elsewhere"].contains(&p.category.as_str()),
                    "{t:?}"
                );
            }
        }
        assert!(ins > 0 && shops > 0, "{ins} in, {shops} shops");
    }
    assert!(via_retry > 0, "some pages went through the retry worker");
}

/// A partner page whose transaction names no currency is refused (`bad_partner_data`,
/// naming the field), never read as reais: the code decides what the minor units mean.
#[tokio::test]
async fn a_transaction_without_a_currency_is_bad_partner_data() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = r#"{"transactions":[{"id":"t1","date":"2026-01-05","description":"PADARIA","amount_minor":-1500}],"next_cursor":null}"#;
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let res = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(res.as_bytes()).await;
            });
        }
    });
    let orch = Orchestrator::builder()
        .partner(PartnerConfig::new("bank", url, NonZeroU32::new(2).unwrap()))
        .store(Arc::new(SqliteStore::in_memory().unwrap()))
        .build()
        .unwrap();
    let events = orch.run_to_end(request("c-1")).await.unwrap();
    match events.last() {
        Some(Progress::Failed {
            reason: FailureReason::BadPartnerData,
            message,
            ..
        }) => assert!(message.contains("currency"), "{message}"),
        other => panic!("expected bad_partner_data, got {other:?}"),
    }
}

#[tokio::test]
async fn partner_failures_go_through_the_retry_queue_and_nothing_is_lost() {
    let sim = SimulatorConfig {
        faults: Faults {
            error_rate: 0.25,
            unavailable_rate: 0.1,
            timeout_rate: 0.05,
            hang_ms: 2_000,
            retry_after_secs: 0,
        },
        ..SimulatorConfig::instant()
    };
    let r = rig(sim, 4, |p| {
        p.retry.max_attempts = NonZeroU32::new(50).unwrap();
        p.circuit.minimum_calls = NonZeroU32::new(50).unwrap();
    })
    .await;
    let jobs = (0..4).map(|i| r.orch.run_to_end(request(&format!("f-{i}"))));
    let results = futures::future::join_all(jobs).await;
    let mut waits = 0;
    for (i, events) in results.into_iter().enumerate() {
        let events = events.unwrap();
        assert!(
            matches!(events.last(), Some(Progress::Done { .. })),
            "job {i} did not finish: {:?}",
            events.last()
        );
        waits += events
            .iter()
            .filter(|e| matches!(e, Progress::WaitingForPartner { .. }))
            .count();
        assert!(
            events.iter().any(|e| matches!(
                e,
                Progress::PageFetched {
                    via_retry: true,
                    ..
                }
            )) || !events
                .iter()
                .any(|e| matches!(e, Progress::WaitingForPartner { .. }))
        );
        let c = format!("f-{i}");
        assert_eq!(
            stored_ids(r.orch.store().as_ref(), &c).await,
            expected_ids(&r.sim, &c)
        );
    }
    assert!(
        waits > 0,
        "with 40% faults some call must have been retried"
    );
    let stats = r.sim.stats();
    assert!(stats.by_status.get(&500).copied().unwrap_or(0) > 0);
}

#[tokio::test]
async fn never_more_concurrent_calls_than_capacity() {
    let sim = SimulatorConfig {
        capacity: Some(3),
        latency_min: Duration::from_millis(5),
        latency_max: Duration::from_millis(15),
        ..SimulatorConfig::default()
    };
    let r = rig(sim, 3, |_| {}).await;
    let jobs = (0..12).map(|i| r.orch.run_to_end(request(&format!("cap-{i}"))));
    for events in futures::future::join_all(jobs).await {
        let events = events.unwrap();
        assert!(
            matches!(events.last(), Some(Progress::Done { .. })),
            "{:?}",
            events.last()
        );
    }
    let stats = r.sim.stats();
    assert!(stats.max_concurrent <= 3, "saw {}", stats.max_concurrent);
    assert_eq!(
        stats.max_concurrent, 3,
        "the cap was reached, so it was tested"
    );
    assert_eq!(stats.by_status.get(&429), None, "no call was over capacity");
    assert!(stats.max_fencing_token >= stats.requests);
}

#[tokio::test]
async fn busy_partner_puts_calls_on_the_queue() {
    let sim = SimulatorConfig {
        latency_min: Duration::from_millis(30),
        latency_max: Duration::from_millis(30),
        ..SimulatorConfig::default()
    };
    let r = rig(sim, 1, |_| {}).await;
    let jobs = (0..4).map(|i| r.orch.run_to_end(request(&format!("busy-{i}"))));
    let all = futures::future::join_all(jobs).await;
    let busy = all
        .iter()
        .flat_map(|e| e.as_ref().unwrap())
        .filter(|e| {
            matches!(
                e,
                Progress::WaitingForPartner {
                    reason: WaitReason::PartnerBusy,
                    ..
                }
            )
        })
        .count();
    assert!(busy > 0);
    for (i, events) in all.into_iter().enumerate() {
        assert!(matches!(
            events.unwrap().last(),
            Some(Progress::Done { .. })
        ));
        let c = format!("busy-{i}");
        assert_eq!(
            stored_ids(r.orch.store().as_ref(), &c).await,
            expected_ids(&r.sim, &c)
        );
    }
    assert_eq!(r.sim.stats().max_concurrent, 1);
}

#[tokio::test]
async fn cancelling_the_job_frees_permits_and_marks_it_cancelled() {
    let sim = SimulatorConfig {
        latency_min: Duration::from_millis(300),
        latency_max: Duration::from_millis(300),
        ..SimulatorConfig::default()
    };
    let r = rig(sim, 2, |_| {}).await;
    let mut job = r.orch.submit(request("cancel-1")).unwrap();
    let id = job.id().clone();
    assert!(matches!(job.next().await, Some(Progress::Accepted { .. })));
    // Poll into the partner call, then drop the job while the call is in flight.
    let _ = tokio::time::timeout(Duration::from_millis(100), job.next()).await;
    assert_eq!(r.orch.limiter().in_use(&"bank".into()).await.unwrap(), 1);
    // Dropping the view leaves the job running (a client may re-attach)…
    drop(job);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(r.orch.limiter().in_use(&"bank".into()).await.unwrap(), 1);
    // …cancelling stops it and frees its permit.
    r.orch.cancel(&id).await.unwrap();
    r.orch.wait_idle().await;
    assert_eq!(r.orch.limiter().in_use(&"bank".into()).await.unwrap(), 0);
    let mut status = None;
    for _ in 0..50 {
        status = r.orch.job(&id).await.unwrap().map(|j| j.status);
        if status == Some(JobStatus::Cancelled) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status, Some(JobStatus::Cancelled));
}

#[tokio::test]
async fn unknown_customer_fails_with_partner_rejected() {
    let r = rig(SimulatorConfig::instant(), 2, |_| {}).await;
    let events = r.orch.run_to_end(request("missing-7")).await.unwrap();
    match events.last().unwrap() {
        Progress::Failed {
            reason, message, ..
        } => {
            assert_eq!(*reason, FailureReason::PartnerRejected);
            assert!(message.contains("404"), "{message}");
        }
        other => panic!("expected failed, got {other:?}"),
    }
}

#[tokio::test]
async fn outage_then_recovery_completes_every_job() {
    let r = rig(SimulatorConfig::instant(), 2, |p| {
        p.retry.max_attempts = NonZeroU32::new(100).unwrap();
        p.circuit.minimum_calls = NonZeroU32::new(3).unwrap();
    })
    .await;
    r.sim.set_outage(true);
    let orch = r.orch.clone();
    let jobs = tokio::spawn(async move {
        futures::future::join_all((0..3).map(|i| orch.run_to_end(request(&format!("out-{i}")))))
            .await
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        r.orch.breaker(&"bank".into()).unwrap().state(),
        CircuitState::Open
    );
    r.sim.set_outage(false);
    let results = tokio::time::timeout(Duration::from_secs(30), jobs)
        .await
        .unwrap()
        .unwrap();
    let transitions: Vec<CircuitState> = results
        .iter()
        .flat_map(|r| r.as_ref().unwrap())
        .filter_map(|e| match e {
            Progress::CircuitChanged { to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    assert!(transitions.contains(&CircuitState::Open), "{transitions:?}");
    assert!(
        transitions.contains(&CircuitState::Closed),
        "{transitions:?}"
    );
    for (i, events) in results.into_iter().enumerate() {
        let events = events.unwrap();
        assert!(
            matches!(events.last(), Some(Progress::Done { .. })),
            "{:?}",
            events.last()
        );
        assert!(events
            .iter()
            .any(|e| matches!(e, Progress::WaitingForPartner { .. })));
        let c = format!("out-{i}");
        assert_eq!(
            stored_ids(r.orch.store().as_ref(), &c).await,
            expected_ids(&r.sim, &c)
        );
    }
    assert_eq!(r.orch.queue().pending().await.unwrap(), 0);
}

#[tokio::test]
async fn bad_requests_are_refused_before_any_work() {
    let r = rig(SimulatorConfig::instant(), 1, |_| {}).await;
    let mut req = request("c");
    req.partner_id = "nope".into();
    assert!(matches!(
        r.orch.submit(req),
        Err(txclass_suite::Error::UnknownPartner(_))
    ));
    let mut req = request("c");
    req.from = date("2026-05-01");
    assert!(matches!(
        r.orch.submit(req),
        Err(txclass_suite::Error::InvalidRequest { field: "from", .. })
    ));
    assert_eq!(r.sim.stats().requests, 0);
}

/// A dead owner's job, as its log and checkpoints left it: `events` logged, `pages` stored
/// (page number, next cursor). Returns its id.
async fn orphan(
    r: &Rig,
    customer: &str,
    events: Vec<Progress>,
    pages: &[(u32, Option<&str>)],
) -> txclass_suite::JobId {
    let id = txclass_suite::JobId::generate();
    orphan_with_id(r, customer, id, events, pages).await
}

/// As [`orphan`], for job `id`.
async fn orphan_with_id(
    r: &Rig,
    customer: &str,
    id: txclass_suite::JobId,
    events: Vec<Progress>,
    pages: &[(u32, Option<&str>)],
) -> txclass_suite::JobId {
    use txclass_suite::store::{LoggedEvent, PageRecord};
    let store = r.orch.store();
    let now = chrono::Utc::now();
    store
        .put_job(&txclass_suite::JobRecord {
            id: id.clone(),
            tenant: Default::default(),
            request: request(customer),
            status: JobStatus::Running,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    for (i, event) in events.into_iter().enumerate() {
        let event = match event {
            Progress::Accepted { .. } => Progress::Accepted {
                job_id: id.clone(),
                partner_id: "bank".into(),
                customer_id: customer.into(),
                from: date("2026-01-01"),
                to: date("2026-03-31"),
            },
            other => other,
        };
        let logged = LoggedEvent {
            seq: i as u64 + 1,
            event,
        };
        store.append_event(&id, &logged).await.unwrap();
    }
    for (page, next) in pages {
        let mut totals = txclass_suite::Summary {
            transactions: 40,
            pages: 1,
            ..Default::default()
        };
        totals.currencies.insert(
            "BRL".into(),
            txclass_suite::domain::CurrencyTotal {
                minor_units: Some(2),
                count: 40,
                in_minor: 0,
                out_minor: -100,
            },
        );
        let rec = PageRecord {
            job_id: id.clone(),
            page: *page,
            next_cursor: next.map(str::to_owned),
            totals,
        };
        store.store_page(&rec, &[]).await.unwrap();
    }
    id
}

#[tokio::test]
async fn a_dead_owners_job_whose_last_page_is_stored_ends_done_without_a_call() {
    let r = rig(SimulatorConfig::instant(), 2, |_| {}).await;
    let fetched = |page| Progress::PageFetched {
        page,
        transactions: 40,
        via_retry: false,
    };
    let classified = |page, total| Progress::Classified {
        page,
        transactions: 40,
        inserted: 40,
        total,
    };
    let accepted = Progress::Accepted {
        job_id: txclass_suite::JobId::new("x"),
        partner_id: "bank".into(),
        customer_id: "x".into(),
        from: date("2026-01-01"),
        to: date("2026-03-31"),
    };
    // Died after logging its last page, before `done`.
    let a = orphan(
        &r,
        "orphan-1",
        vec![
            accepted.clone(),
            fetched(1),
            classified(1, 40),
            fetched(2),
            classified(2, 80),
        ],
        &[(1, Some("40")), (2, None)],
    )
    .await;
    // Died after storing its last page, before logging it.
    let b = orphan(
        &r,
        "orphan-2",
        vec![accepted, fetched(1), classified(1, 40), fetched(2)],
        &[(1, Some("40")), (2, None)],
    )
    .await;
    r.sim.reset_stats();
    assert_eq!(r.orch.sweep().await.unwrap(), 2);
    let rest_a: Vec<Progress> = r.orch.watch(&a, 5).await.unwrap().collect().await;
    let rest_b: Vec<Progress> = r.orch.watch(&b, 4).await.unwrap().collect().await;
    assert!(
        matches!(&rest_a[..], [Progress::Done { summary, .. }] if summary.transactions == 80 && summary.pages == 2),
        "{rest_a:?}"
    );
    assert!(
        matches!(
            &rest_b[..],
            [Progress::Classified { page: 2, total: 80, .. }, Progress::Done { summary, .. }]
                if summary.transactions == 80
        ),
        "{rest_b:?}"
    );
    assert_eq!(
        r.sim.stats().requests,
        0,
        "no stored page was fetched again"
    );
    for id in [&a, &b] {
        let rec = settled(&r, id).await;
        assert!(matches!(rec.status, JobStatus::Done { .. }), "{rec:?}");
    }
}

/// The job's record once it is no longer `running` (or after 10 s): a job logs its terminal
/// event before it saves its record, so a watcher that has seen `done` may read `running`
/// for a moment.
async fn settled(r: &Rig, id: &txclass_suite::JobId) -> txclass_suite::domain::JobRecord {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rec = r.orch.job(id).await.unwrap().unwrap();
        if !matches!(rec.status, JobStatus::Running) || tokio::time::Instant::now() > deadline {
            return rec;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A submission sent again with its idempotency key (the client's answer was lost) attaches
/// to the job the first one started: while it runs, after it ended, and after its owner died
/// (it is carried on from its stored pages). Nothing is started or fetched twice; the same
/// key with another request is refused, and another customer's same key is another job.
#[tokio::test]
async fn a_submission_sent_again_with_its_key_attaches_to_the_first_ones_job() {
    use txclass_suite::{Error, IdempotencyKey, JobId};
    let r = rig(SimulatorConfig::instant(), 4, |_| {}).await;
    let key = IdempotencyKey::new("order-7f3a").unwrap();
    let first = r
        .orch
        .submit_once(request("idem-1"), &key, false)
        .await
        .unwrap();
    let id = first.id().clone();
    let second = r
        .orch
        .submit_once(request("idem-1"), &key, false)
        .await
        .unwrap();
    assert_eq!(second.id(), &id, "same key, same job");
    let (a, b): (Vec<Progress>, Vec<Progress>) = futures::join!(first.collect(), second.collect());
    assert!(matches!(a.last(), Some(Progress::Done { .. })), "{a:?}");
    assert_eq!(a, b, "both views see the one job's log");
    let stats = r.sim.stats();
    assert_eq!(
        stats.pages_served_again, 0,
        "{:?}",
        stats.pages_served_again_sample
    );
    assert_eq!(
        stats.pages_served,
        expected_ids(&r.sim, "idem-1").len().div_ceil(40) as u64
    );

    // After it ended: its log again, no call.
    r.sim.reset_stats();
    let third: Vec<Progress> = r
        .orch
        .submit_once(request("idem-1"), &key, false)
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(third, a);
    assert_eq!(r.sim.stats().requests, 0);

    // The same key with another window: refused, naming the key's job.
    let mut other_window = request("idem-1");
    other_window.to = date("2026-02-28");
    match r.orch.submit_once(other_window, &key, false).await {
        Err(Error::IdempotencyConflict { job }) => assert_eq!(job, id),
        other => panic!("{:?}", other.map(|j| j.id().clone())),
    }
    // Another customer's same key: its own job.
    let theirs = r
        .orch
        .submit_once(request("idem-2"), &key, true)
        .await
        .unwrap();
    assert_ne!(theirs.id(), &id);
    let _ended: Vec<Progress> = theirs.collect().await;

    // A job whose owner died after storing page 1 (its key's id, nobody holds its lease):
    // the retried submission carries it on from page 2.
    let key = IdempotencyKey::new("\"quoted-looking\"").unwrap();
    let dead = JobId::for_submission(&Default::default(), &"idem-3".into(), &key);
    let accepted = Progress::Accepted {
        job_id: dead.clone(),
        partner_id: "bank".into(),
        customer_id: "idem-3".into(),
        from: date("2026-01-01"),
        to: date("2026-03-31"),
    };
    let fetched = Progress::PageFetched {
        page: 1,
        transactions: 40,
        via_retry: false,
    };
    orphan_with_id(
        &r,
        "idem-3",
        dead.clone(),
        vec![accepted, fetched],
        &[(1, Some("40"))],
    )
    .await;
    r.sim.reset_stats();
    let resumed: Vec<Progress> = r
        .orch
        .submit_once(request("idem-3"), &key, false)
        .await
        .unwrap()
        .collect()
        .await;
    assert!(
        matches!(resumed.last(), Some(Progress::Done { .. })),
        "{resumed:?}"
    );
    let page_1 = |e: &&Progress| matches!(e, Progress::PageFetched { page: 1, .. });
    assert_eq!(
        resumed.iter().filter(page_1).count(),
        1,
        "page 1 is in the log once (the dead owner's event): not fetched again"
    );
    assert_eq!(
        r.sim.stats().pages_served,
        expected_ids(&r.sim, "idem-3").len().div_ceil(40) as u64 - 1
    );
}

/// An orchestrator on in-process leases (returned, to hold a job's lease as another
/// instance would) with job leases of `lease`, and its partner.
async fn keyed_rig(
    lease: Duration,
) -> (
    SimulatorHandle,
    Arc<txclass_suite::lease::LocalLeases>,
    Orchestrator,
) {
    let sim = Simulator::bind(0, SimulatorConfig::instant())
        .await
        .unwrap();
    let leases = Arc::new(txclass_suite::lease::LocalLeases::new());
    let orch = Orchestrator::builder()
        .partner(PartnerConfig::new(
            "bank",
            sim.url(),
            NonZeroU32::new(4).unwrap(),
        ))
        .store(Arc::new(SqliteStore::in_memory().unwrap()))
        .leases(leases.clone())
        .settings(Settings {
            job_lease: lease,
            ..Settings::default()
        })
        .build()
        .unwrap();
    (sim, leases, orch)
}

/// The job `submit_once` hands back runs from `accepted` to `done`.
async fn runs_to_done(job: txclass_suite::Job) {
    let events: Vec<Progress> = tokio::time::timeout(Duration::from_secs(30), job.collect())
        .await
        .expect("the job runs and ends");
    assert!(
        matches!(events.first(), Some(Progress::Accepted { .. })),
        "{events:?}"
    );
    assert!(
        matches!(events.last(), Some(Progress::Done { .. })),
        "{events:?}"
    );
}

/// A keyed submission whose job's lease a dead instance took before it wrote the job's
/// record (killed between the two): once the lease lapses, the submission sent again takes
/// it and runs the job, instead of watching a job nobody will ever run.
#[tokio::test]
async fn a_submission_whose_first_owner_died_before_the_record_runs_once_the_lease_lapses() {
    use txclass_suite::lease::JobLeases;
    use txclass_suite::{IdempotencyKey, JobId};
    let (_sim, leases, orch) = keyed_rig(Duration::from_millis(600)).await;
    let key = IdempotencyKey::new("lost-before-the-record").unwrap();
    let id = JobId::for_submission(&Default::default(), &"orphan-0".into(), &key);
    assert!(leases
        .acquire(&id, "a-dead-instance", Duration::from_millis(300))
        .await
        .unwrap());
    runs_to_done(
        orch.submit_once(request("orphan-0"), &key, false)
            .await
            .unwrap(),
    )
    .await;
}

/// A keyed submission whose job's lease another instance keeps renewing without ever
/// recording the job (its store write failed, or it hangs): the caller is told to send
/// again (`SubmissionPending`) within two lease periods, instead of being handed a view of a
/// job that may never log an event; once the holder lets go, the same request runs the job.
#[tokio::test]
async fn a_submission_whose_lease_holder_never_records_it_is_told_to_send_again() {
    use txclass_suite::lease::JobLeases;
    use txclass_suite::{Error, IdempotencyKey, JobId};
    let lease = Duration::from_millis(400);
    let (sim, leases, orch) = keyed_rig(lease).await;
    let key = IdempotencyKey::new("held-never-recorded").unwrap();
    let id = JobId::for_submission(&Default::default(), &"stuck-0".into(), &key);
    assert!(leases
        .acquire(&id, "a-stuck-instance", lease)
        .await
        .unwrap());
    let renewing = {
        let (leases, id) = (leases.clone(), id.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 4).await;
                assert!(leases.renew(&id, "a-stuck-instance", lease).await.unwrap());
            }
        })
    };
    let started = std::time::Instant::now();
    match orch.submit_once(request("stuck-0"), &key, false).await {
        Err(Error::SubmissionPending { job }) => assert_eq!(job, id),
        other => panic!("{:?}", other.map(|j| j.id().clone())),
    }
    let waited = started.elapsed();
    assert!(
        waited >= lease * 2 && waited < lease * 2 + Duration::from_secs(2),
        "told after {waited:?}"
    );
    assert_eq!(sim.stats().requests, 0, "nothing was started here");

    renewing.abort();
    runs_to_done(
        orch.submit_once(request("stuck-0"), &key, false)
            .await
            .unwrap(),
    )
    .await;
}

/// Two tenants run jobs for the same customer id at the same partner (so the same
/// transaction ids), with pages fetched directly and through the retry queue: each stores and
/// reads its own rows, classified by its own rules; neither reads, watches or cancels the
/// other's job, and the local tenant sees none of it.
#[tokio::test]
async fn tenants_see_only_their_own_jobs_data_and_rules() {
    use txclass_suite::domain::{Source, TenantId};
    use txclass_suite::rules::{Action, Conditions, Rule, RuleScope, Sign, Stage};
    use txclass_suite::store::TxQuery;
    use txclass_suite::{Category, Error};

    let r = flaky_rig().await;
    let acme = r.orch.for_tenant(TenantId::new("acme").unwrap());
    let globex = r.orch.for_tenant(TenantId::new("globex").unwrap());
    // acme's global rule: money in is "money-in" (globex has none).
    acme.create_rule(Rule {
        id: "money-in".into(),
        scope: RuleScope::Global,
        stage: Stage::Pre,
        order: 0,
        conditions: Conditions {
            sign: Some(Sign::In),
            ..Conditions::default()
        },
        action: Action {
            category: Some(Category::new("money-in")),
            ..Action::default()
        },
        stop_processing: false,
    })
    .await
    .unwrap();
    let (a, g) = futures::join!(
        acme.run_to_end(request("shared")),
        globex.run_to_end(request("shared"))
    );
    let (a, g) = (a.unwrap(), g.unwrap());
    let job_of = |events: &[Progress]| match events.last() {
        Some(Progress::Done { job_id, .. }) => job_id.clone(),
        other => panic!("{other:?}"),
    };
    let (a_job, g_job) = (job_of(&a), job_of(&g));
    let expected = expected_ids(&r.sim, "shared");
    let all = |o: &Orchestrator| {
        let o = o.clone();
        async move {
            o.transactions(&TxQuery {
                customer_id: "shared".into(),
                limit: 1000,
                ..TxQuery::default()
            })
            .await
            .unwrap()
            .items
        }
    };
    let (a_rows, g_rows) = (all(&acme).await, all(&globex).await);
    let ids = |rows: &[txclass_suite::ClassifiedTransaction]| {
        let mut ids: Vec<String> = rows.iter().map(|t| t.transaction.id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&a_rows), expected, "acme's rows, each once");
    assert_eq!(
        ids(&g_rows),
        expected,
        "globex's rows: the same ids, its own"
    );
    let by_rule = |rows: &[txclass_suite::ClassifiedTransaction]| {
        rows.iter()
            .filter(|t| t.prediction.source == Source::Rule("money-in".into()))
            .count()
    };
    let money_in = a_rows
        .iter()
        .filter(|t| t.transaction.amount_minor > 0)
        .count();
    assert!(money_in > 0);
    assert_eq!(by_rule(&a_rows), money_in, "acme's rule on acme's rows");
    assert_eq!(by_rule(&g_rows), 0, "never on globex's");
    assert!(
        all(&r.orch).await.is_empty(),
        "the local tenant has nothing"
    );

    // Jobs: each tenant's own; the other's is unknown.
    assert!(acme.job(&a_job).await.unwrap().is_some());
    assert_eq!(
        acme.job(&a_job).await.unwrap().unwrap().tenant.as_str(),
        "acme"
    );
    assert!(globex.job(&a_job).await.unwrap().is_none());
    assert!(r.orch.job(&a_job).await.unwrap().is_none());
    assert!(globex.job_page(&a_job, None, 10).await.unwrap().is_none());
    assert!(matches!(
        globex.watch(&a_job, 0).await,
        Err(Error::UnknownJob(_))
    ));
    assert!(globex.cancel(&a_job).await.unwrap().is_none());
    assert!(matches!(
        acme.watch(&g_job, 0).await,
        Err(Error::UnknownJob(_))
    ));
    assert!(
        acme.list_rules(&txclass_suite::store::RuleFilter::All)
            .await
            .unwrap()
            .len()
            == 1
    );
    assert!(globex
        .list_rules(&txclass_suite::store::RuleFilter::All)
        .await
        .unwrap()
        .is_empty());
    assert!(globex.rule("money-in").await.unwrap().is_none());

    // A running job of acme's cannot be cancelled or watched by globex either.
    let running = acme.submit(request("slow")).unwrap();
    let id = running.id().clone();
    assert!(globex.cancel(&id).await.unwrap().is_none());
    assert!(matches!(
        globex.watch(&id, 0).await,
        Err(Error::UnknownJob(_))
    ));
    let events: Vec<Progress> = running.collect().await;
    assert!(
        matches!(events.last(), Some(Progress::Done { .. })),
        "{events:?}"
    );
}

/// The customer's stored transactions (one page of up to 1,000), newest first.
async fn stored(orch: &Orchestrator, customer: &str) -> Vec<txclass_suite::ClassifiedTransaction> {
    orch.transactions(&txclass_suite::store::TxQuery {
        customer_id: customer.into(),
        limit: 1000,
        ..Default::default()
    })
    .await
    .unwrap()
    .items
}

/// The merchant ([`merchant_of`]) with the most transactions in `all`, and those.
fn busiest_merchant(
    all: &[txclass_suite::ClassifiedTransaction],
) -> (String, Vec<txclass_suite::ClassifiedTransaction>) {
    let mut by_merchant: std::collections::BTreeMap<String, Vec<_>> = Default::default();
    for t in all {
        by_merchant
            .entry(merchant_of(&t.transaction.description))
            .or_default()
            .push(t.clone());
    }
    by_merchant
        .into_iter()
        .max_by_key(|(_, v)| v.len())
        .expect("some transactions")
}

/// Corrections: the transaction takes the user's category at once (source `user`) and the
/// month's spending shows it; the third consistent correction of a merchant suggests a
/// customer rule; a job that fetches the transactions again keeps every correction (and
/// counts them under the user's category); bad corrections are refused.
#[tokio::test]
async fn corrections_stick_resummarise_and_suggest_a_rule() {
    use txclass_suite::domain::correction::CorrectionRequest;
    use txclass_suite::domain::{Category, Source};
    use txclass_suite::store::SpendingQuery;
    use txclass_suite::Error;

    let r = rig(SimulatorConfig::instant(), 4, |_| {}).await;
    let customer = "corr-1";
    r.orch.run_to_end(request(customer)).await.unwrap();
    let all = stored(&r.orch, customer).await;
    // Three transactions of one merchant, corrected to a category none of them has.
    let (merchant, txs) = busiest_merchant(&all);
    assert!(txs.len() >= 4, "{merchant}: {} transactions", txs.len());
    let target = ["education", "taxes", "rent"]
        .into_iter()
        .find(|c| txs.iter().all(|t| t.prediction.category.as_str() != *c))
        .unwrap();
    let ask = |category: &str| CorrectionRequest {
        category: Category::new(category),
        sub_category: None,
        partner_id: None,
    };
    let month_total = |rows: &[txclass_suite::store::SpendingRow], cat: Option<&str>| -> i64 {
        rows.iter()
            .filter(|r| cat.is_none_or(|c| r.category.as_str() == c))
            .map(|r| r.amount_minor)
            .sum()
    };
    let first = &txs[0];
    let month = first.transaction.date.format("%Y-%m").to_string();
    let before = r
        .orch
        .spending(&SpendingQuery {
            customer_id: customer.into(),
            from: None,
            to: None,
            level: Default::default(),
        })
        .await
        .unwrap();
    let before: Vec<_> = before.into_iter().filter(|r| r.month == month).collect();
    let out = r
        .orch
        .correct(&customer.into(), &first.transaction.id, ask(target))
        .await
        .unwrap();
    assert_eq!(out.transaction.prediction.category.as_str(), target);
    assert_eq!(out.transaction.prediction.source, Source::User);
    assert_eq!(out.correction.previous_category, first.prediction.category);
    assert_eq!(out.correction.merchant, merchant);
    assert!(out.suggested_rule.is_none());
    // Re-summarised: the month moved the amount to the user's category, the total stayed.
    assert!(
        out.spending.iter().all(|r| r.month == month),
        "{:?}",
        out.spending
    );
    assert_eq!(month_total(&out.spending, None), month_total(&before, None));
    assert_eq!(
        month_total(&out.spending, Some(target)),
        month_total(&before, Some(target)) + first.transaction.amount_minor
    );

    r.orch
        .correct(&customer.into(), &txs[1].transaction.id, ask(target))
        .await
        .unwrap();
    let third = r
        .orch
        .correct(&customer.into(), &txs[2].transaction.id, ask(target))
        .await
        .unwrap();
    let rule = third.suggested_rule.expect("three consistent corrections");
    assert!(!third.rule_created);
    assert_eq!(
        rule.conditions.merchant_is.as_deref(),
        Some(merchant.as_str())
    );
    assert_eq!(rule.action.category.as_ref().unwrap().as_str(), target);

    // Fetched and classified again: the corrections stand, the rest is the model's.
    let events = r.orch.run_to_end(request(customer)).await.unwrap();
    let Some(Progress::Done { summary, .. }) = events.last() else {
        panic!("{:?}", events.last());
    };
    let again = stored(&r.orch, customer).await;
    let corrected: Vec<&str> = txs[..3].iter().map(|t| t.transaction.id.as_str()).collect();
    for t in &again {
        if corrected.contains(&t.transaction.id.as_str()) {
            assert_eq!(t.prediction.source, Source::User, "{t:?}");
            assert_eq!(t.prediction.category.as_str(), target);
        } else {
            assert_ne!(t.prediction.source, Source::User, "{t:?}");
        }
    }
    assert!(summary.categories[&Category::new(target)].count >= 3);

    // Refused: a category the model does not have, a transaction the customer does not have.
    match r
        .orch
        .correct(&customer.into(), &first.transaction.id, ask("grocries"))
        .await
    {
        Err(Error::InvalidRequest { field, .. }) => assert_eq!(field, "category"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        r.orch
            .correct(&customer.into(), "no-such-id", ask(target))
            .await,
        Err(Error::UnknownTransaction { .. })
    ));
    assert!(matches!(
        r.orch
            .correct(&"someone-else".into(), &first.transaction.id, ask(target))
            .await,
        Err(Error::UnknownTransaction { .. })
    ));
}

/// With `create_rules`, the suggested rule is created once: the next correction of the
/// merchant suggests nothing, and the customer's next job runs the rule.
#[tokio::test]
async fn corrections_can_create_the_suggested_rule() {
    use txclass_suite::domain::correction::CorrectionRequest;
    use txclass_suite::domain::Category;
    use txclass_suite::orchestrator::CorrectionSettings;
    use txclass_suite::store::RuleFilter;

    let sim = Simulator::bind(0, SimulatorConfig::instant())
        .await
        .unwrap();
    let partner = PartnerConfig::new("bank", sim.url(), NonZeroU32::new(4).unwrap());
    let orch = Orchestrator::builder()
        .partner(partner)
        .store(Arc::new(SqliteStore::in_memory().unwrap()))
        .settings(Settings {
            corrections: CorrectionSettings {
                suggest_rule_after: 2,
                create_rules: true,
            },
            ..Settings::default()
        })
        .build()
        .unwrap();
    let customer = "corr-2";
    orch.run_to_end(request(customer)).await.unwrap();
    let all = stored(&orch, customer).await;
    let (merchant, same) = busiest_merchant(&all);
    assert!(same.len() >= 3, "{merchant}");
    let ask = || CorrectionRequest {
        category: Category::new("education"),
        sub_category: None,
        partner_id: None,
    };
    let one = orch
        .correct(&customer.into(), &same[0].transaction.id, ask())
        .await
        .unwrap();
    assert!(one.suggested_rule.is_none() && !one.rule_created);
    let two = orch
        .correct(&customer.into(), &same[1].transaction.id, ask())
        .await
        .unwrap();
    assert!(two.rule_created);
    let rule = two.suggested_rule.unwrap();
    let rules = orch
        .list_rules(&RuleFilter::AppliesTo(customer.into()))
        .await
        .unwrap();
    assert_eq!(rules, std::slice::from_ref(&rule));
    let three = orch
        .correct(&customer.into(), &same[2].transaction.id, ask())
        .await
        .unwrap();
    assert!(three.suggested_rule.is_none() && !three.rule_created);
    // The next job: every transaction of the merchant goes to the rule or the user.
    orch.run_to_end(request(customer)).await.unwrap();
    let again = stored(&orch, customer).await;
    for t in again
        .iter()
        .filter(|t| merchant_of(&t.transaction.description) == merchant)
    {
        assert_eq!(t.prediction.category.as_str(), "education", "{t:?}");
    }
}

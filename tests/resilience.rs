//! A misbehaving partner (5xx, timeouts, 429, an outage): the stream says it is waiting, the
//! job still ends `done`, and nothing is lost or stored twice.

mod support;

use std::time::Duration;

use futures::StreamExt;
use support::server::{check_framing, eventually, names, start, Options, TestServer};
use txclass_suite::simulator::{Faults, SimulatorConfig};

fn waits(events: &[support::server::Ev], reason: &str) -> usize {
    events
        .iter()
        .filter(|e| e.name == "waiting_for_partner" && e.data["reason"] == reason)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_and_nothing_is_lost() {
    let s = start(Options {
        sim: SimulatorConfig {
            seed: 7,
            faults: Faults {
                error_rate: 0.3,
                unavailable_rate: 0.2,
                retry_after_secs: 0,
                ..Faults::default()
            },
            ..SimulatorConfig::instant()
        },
        tune: Box::new(|p| {
            p.retry.max_attempts = std::num::NonZeroU32::new(30).unwrap();
            p.circuit.minimum_calls = std::num::NonZeroU32::new(100).unwrap();
        }),
        ..Options::default()
    })
    .await;
    let events = s.run_job("c-10").await;
    check_framing(&events);
    assert_eq!(events.last().unwrap().name, "done", "{:?}", names(&events));
    assert!(waits(&events, "partner_error") > 0, "{:?}", names(&events));
    assert_eq!(s.stored_ids("c-10").await, s.expected_ids("c-10"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_retried_and_nothing_is_lost() {
    let s = start(Options {
        sim: SimulatorConfig {
            seed: 3,
            faults: Faults {
                timeout_rate: 0.25,
                hang_ms: 1_000,
                ..Faults::default()
            },
            ..SimulatorConfig::instant()
        },
        tune: Box::new(|p| {
            p.timeout = Duration::from_millis(150);
            p.retry.max_attempts = std::num::NonZeroU32::new(30).unwrap();
            p.circuit.minimum_calls = std::num::NonZeroU32::new(100).unwrap();
        }),
        ..Options::default()
    })
    .await;
    let events = s.run_job("c-11").await;
    check_framing(&events);
    assert_eq!(events.last().unwrap().name, "done", "{:?}", names(&events));
    assert!(waits(&events, "timeout") > 0, "{:?}", names(&events));
    assert_eq!(s.stored_ids("c-11").await, s.expected_ids("c-11"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_waited_out_and_nothing_is_lost() {
    // The partner takes 1 call at a time but we believe it takes 4: it answers 429 with
    // Retry-After: 1.
    let s = start(Options {
        sim: SimulatorConfig {
            capacity: Some(1),
            latency_min: Duration::from_millis(100),
            latency_max: Duration::from_millis(100),
            ..SimulatorConfig::instant()
        },
        capacity: 4,
        tune: Box::new(|p| {
            p.page_size = std::num::NonZeroU32::new(200).unwrap();
            p.retry.max_attempts = std::num::NonZeroU32::new(50).unwrap();
        }),
        ..Options::default()
    })
    .await;
    let customers = ["c-12", "c-13", "c-14", "c-15"];
    let jobs = customers.iter().map(|c| s.run_job(c));
    let results = futures::future::join_all(jobs).await;
    let mut limited = 0;
    for (c, events) in customers.iter().zip(&results) {
        check_framing(events);
        assert_eq!(
            events.last().unwrap().name,
            "done",
            "{c}: {:?}",
            names(events)
        );
        limited += waits(events, "rate_limited");
        assert_eq!(s.stored_ids(c).await, s.expected_ids(c), "{c}");
    }
    assert!(limited > 0, "some calls were rate limited");
    assert!(s.sim.stats().by_status.get(&429).copied().unwrap_or(0) > 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_then_recovery_ends_done_with_everything_stored() {
    let s = start(Options {
        tune: Box::new(|p| {
            p.retry.max_attempts = std::num::NonZeroU32::new(1000).unwrap();
            p.retry.max_backoff = Duration::from_millis(100);
            p.circuit.minimum_calls = std::num::NonZeroU32::new(3).unwrap();
            p.circuit.open_for = Duration::from_millis(100);
        }),
        ..Options::default()
    })
    .await;
    s.sim.set_outage(true);
    let mut stream = s.stream(&TestServer::body("c-16")).await;
    let mut events = Vec::new();
    // Read until the stream says the partner is failing, then end the outage.
    while let Some(e) = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("events keep coming")
    {
        let waiting = e.name == "waiting_for_partner";
        events.push(e);
        if waiting && events.len() > 3 {
            break;
        }
    }
    // The retry worker keeps failing: the partner's circuit opens (as GET /v1/partners shows).
    let opened = eventually(10, || async {
        s.get("/v1/partners").await.1["partners"][0]["circuit"] == "open"
    })
    .await;
    assert!(opened, "the circuit opened during the outage");
    s.sim.set_outage(false);
    let rest: Vec<_> = tokio::time::timeout(Duration::from_secs(30), stream.collect::<Vec<_>>())
        .await
        .expect("the job ends after recovery");
    events.extend(rest);
    check_framing(&events);
    assert_eq!(events.last().unwrap().name, "done", "{:?}", names(&events));
    let (_, partners) = s.get("/v1/partners").await;
    assert_eq!(partners["partners"][0]["circuit"], "closed", "{partners}");
    assert_eq!(s.stored_ids("c-16").await, s.expected_ids("c-16"));
    assert_eq!(s.in_use().await, 0);
    s.stop().await;
}

//! Jobs end to end: a real partner simulator, the server on a loopback port, and an SSE
//! client (`eventsource-stream` over reqwest) reading the stream as a browser would.

use std::time::Duration;

use futures::StreamExt;
use txclass_server::HttpSettings;
use txclass_suite::simulator::SimulatorConfig;

use crate::support::server::{
    check_framing, events_of, eventually, names, start, Ev, Options, TestServer, Transport,
    PAGE_SIZE,
};

pub async fn a_job_streams_its_progress_and_stores_each_transaction_once(t: Transport) {
    let s = start(t.options(Options::default())).await;
    let events = s.run_job("c-1").await;
    let job = check_framing(&events);
    let expected = s.expected_ids("c-1");
    assert!(expected.len() > 3 * PAGE_SIZE as usize, "several pages");

    let accepted = &events[0].data;
    assert_eq!(accepted["customer_id"], "c-1");
    assert_eq!(accepted["partner_id"], "bank");
    assert_eq!(accepted["from"], "2026-01-01");
    assert_eq!(accepted["to"], "2026-03-31");

    // One page_fetched and one classified per page, in page order.
    let pages = expected.len().div_ceil(PAGE_SIZE as usize);
    let body: Vec<&str> = names(&events[1..events.len() - 1]);
    let expect_body: Vec<&str> = (0..pages)
        .flat_map(|_| ["page_fetched", "classified"])
        .collect();
    assert_eq!(body, expect_body);
    let mut classified_total = 0;
    for (i, pair) in events[1..events.len() - 1].chunks(2).enumerate() {
        assert_eq!(pair[0].data["page"], i + 1);
        assert_eq!(pair[1].data["page"], i + 1);
        assert_eq!(pair[0].data["transactions"], pair[1].data["transactions"]);
        classified_total += pair[1].data["transactions"].as_u64().unwrap();
        assert_eq!(pair[1].data["total"], classified_total);
    }

    let done = events.last().unwrap();
    assert_eq!(done.name, "done");
    assert_eq!(done.data["job_id"], job.as_str());
    let summary = &done.data["summary"];
    assert_eq!(summary["transactions"], expected.len());
    assert_eq!(summary["pages"], pages);
    assert_eq!(classified_total as usize, expected.len());
    let per_category: u64 = summary["categories"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(per_category as usize, expected.len());

    // The store holds exactly the simulator's transactions, once each.
    assert_eq!(s.stored_ids("c-1").await, expected);

    // The job record says done, with the same summary, and lists the job's transactions.
    let (status, rec) = s
        .get(&format!("/v1/classifications/{job}?limit=1000"))
        .await;
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["job"]["status"], "done");
    assert_eq!(rec["job"]["summary"]["transactions"], expected.len());
    assert_eq!(
        rec["transactions"].as_array().unwrap().len(),
        expected.len()
    );
    assert!(rec["next_cursor"].is_null());

    // The same job again stores nothing new.
    let again = s.run_job("c-1").await;
    check_framing(&again);
    let inserted: u64 = again
        .iter()
        .filter(|e| e.name == "classified")
        .map(|e| e.data["inserted"].as_u64().unwrap())
        .sum();
    assert_eq!(inserted, 0);
    assert_eq!(s.stored_ids("c-1").await, expected);
    s.stop().await;
}

pub async fn the_read_endpoints_report_what_was_stored(t: Transport) {
    let s = start(t.options(Options::default())).await;
    let events = s.run_job("c-2").await;
    assert_eq!(events.last().unwrap().name, "done");
    let expected = s.sim.transactions(
        "c-2",
        crate::support::server::from(),
        crate::support::server::to(),
    );

    let (status, spending) = s
        .get("/v1/customers/c-2/spending?from=2026-01-01&to=2026-03-31&interval=month")
        .await;
    assert_eq!(status, 200, "{spending}");
    let rows = spending["rows"].as_array().unwrap();
    let count: u64 = rows.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    let amount: i64 = rows
        .iter()
        .map(|r| r["amount_minor"].as_i64().unwrap())
        .sum();
    assert_eq!(count as usize, expected.len());
    assert_eq!(amount, expected.iter().map(|t| t.amount_minor).sum::<i64>());
    let months: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r["month"].as_str().unwrap()).collect();
    assert_eq!(
        months.into_iter().collect::<Vec<_>>(),
        ["2026-01", "2026-02", "2026-03"]
    );

    // Top merchants: outgoing money only, largest spend first, adding up to what went out.
    let (status, top) = s
        .get("/v1/customers/c-2/merchants?from=2026-01-01&to=2026-03-31&limit=1000")
        .await;
    assert_eq!(status, 200, "{top}");
    let merchants = top["merchants"].as_array().unwrap();
    assert!(!merchants.is_empty());
    let spends: Vec<i64> = merchants
        .iter()
        .map(|m| m["amount_minor"].as_i64().unwrap())
        .collect();
    assert!(spends.windows(2).all(|w| w[0] <= w[1]), "{spends:?}");
    let out: i64 = expected
        .iter()
        .map(|t| t.amount_minor)
        .filter(|a| *a < 0)
        .sum();
    assert_eq!(spends.iter().sum::<i64>(), out);
    let (_, top3) = s.get("/v1/customers/c-2/merchants?limit=3").await;
    assert_eq!(top3["merchants"].as_array().unwrap().len(), 3);

    // Filters: one month, and one category.
    let (_, jan) = s
        .get("/v1/customers/c-2/transactions?from=2026-01-01&to=2026-01-31&limit=1000")
        .await;
    let jan_expected = expected
        .iter()
        .filter(|t| t.date < "2026-02-01".parse().unwrap())
        .count();
    assert_eq!(jan["items"].as_array().unwrap().len(), jan_expected);
    let category = rows[0]["category"].as_str().unwrap();
    let (_, by_cat) = s
        .get(&format!(
            "/v1/customers/c-2/transactions?category={category}&limit=1000"
        ))
        .await;
    let items = by_cat["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|t| t["category"] == category));

    // Spending per sub-category: the same transactions and money as per category, split
    // finer; a row's sub-category belongs to its category.
    let (status, by_sub) = s
        .get("/v1/customers/c-2/spending?from=2026-01-01&to=2026-03-31&level=sub")
        .await;
    assert_eq!(status, 200, "{by_sub}");
    assert_eq!(
        (&spending["level"], &by_sub["level"]),
        (&"main".into(), &"sub".into())
    );
    let sub_rows = by_sub["rows"].as_array().unwrap();
    let cell = |r: &serde_json::Value| {
        (
            r["month"].as_str().unwrap().to_owned(),
            r["category"].as_str().unwrap().to_owned(),
            r["currency"].as_str().unwrap().to_owned(),
        )
    };
    let mut rolled: std::collections::BTreeMap<_, (u64, i64)> = Default::default();
    for r in sub_rows {
        let e = rolled.entry(cell(r)).or_default();
        e.0 += r["count"].as_u64().unwrap();
        e.1 += r["amount_minor"].as_i64().unwrap();
        if let Some(sub) = r.get("sub_category") {
            let sub = sub.as_str().unwrap();
            assert!(
                sub.starts_with(&format!("{}/", r["category"].as_str().unwrap())),
                "{r}"
            );
        }
    }
    let main: std::collections::BTreeMap<_, (u64, i64)> = rows
        .iter()
        .map(|r| {
            (
                cell(r),
                (
                    r["count"].as_u64().unwrap(),
                    r["amount_minor"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(rolled, main, "sub-category rows add up to their category's");
    assert!(
        main.len() < sub_rows.len(),
        "the bundled model gives sub-categories"
    );

    // Filtering on a sub-category keeps exactly its transactions, each with the taxonomy
    // version it was labelled in.
    let with_sub = sub_rows
        .iter()
        .find(|r| r.get("sub_category").is_some())
        .unwrap();
    let sub = with_sub["sub_category"].as_str().unwrap();
    let want: u64 = sub_rows
        .iter()
        .filter(|r| r.get("sub_category").and_then(|s| s.as_str()) == Some(sub))
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    let (status, by_sub_tx) = s
        .get(&format!(
            "/v1/customers/c-2/transactions?sub_category={sub}&limit=1000"
        ))
        .await;
    assert_eq!(status, 200, "{by_sub_tx}");
    let items = by_sub_tx["items"].as_array().unwrap();
    assert_eq!(items.len() as u64, want);
    let (_, taxonomy) = s.get("/v1/taxonomy").await;
    let version = taxonomy["version"].as_str().unwrap();
    assert_eq!(
        taxonomy["categories"].as_array().unwrap().len(),
        txclass_core::Category::BUILTIN.len()
    );
    for t in items {
        assert_eq!(t["sub_category"], sub, "{t}");
        assert_eq!(t["taxonomy_version"], version, "{t}");
        assert!(t["sub_probability"].as_f64().unwrap() <= t["probability"].as_f64().unwrap());
    }

    // Explanations: the model's reasons for each stored transaction, agreeing with what
    // was stored, named by what the line contains.
    let (status, explained) = s
        .get("/v1/customers/c-2/transactions?explain=true&limit=20")
        .await;
    assert_eq!(status, 200, "{explained}");
    let items = explained["items"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    for item in items {
        let e = &item["explanation"];
        assert_eq!(e["prediction"]["category"], item["category"], "{item}");
        let best = &e["classes"][0];
        let features = best["top"].as_array().unwrap();
        assert!(!features.is_empty(), "{item}");
        assert!(features.iter().all(|f| {
            let name = f["feature"].as_str().unwrap();
            ["word ", "words ", "glued ", "chars ", "rail ", "context: "]
                .iter()
                .any(|p| name.starts_with(p))
        }));
        let sum = best["bias"].as_f64().unwrap()
            + best["rest"].as_f64().unwrap()
            + features
                .iter()
                .map(|f| f["contribution"].as_f64().unwrap())
                .sum::<f64>();
        assert!(
            (sum - best["score"].as_f64().unwrap()).abs() < 1e-2,
            "{item}"
        );
    }
    let (_, plain) = s.get("/v1/customers/c-2/transactions?limit=1").await;
    assert!(plain["items"][0].get("explanation").is_none());

    let (status, partners) = s.get("/v1/partners").await;
    assert_eq!(status, 200);
    let p = &partners["partners"][0];
    assert_eq!(p["id"], "bank");
    assert_eq!(p["capacity"], 4);
    assert_eq!(p["in_use"], 0);
    assert_eq!(p["circuit"], "closed");

    let (status, health) = s.get("/v1/partners/bank/health").await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["health"]["healthy"], true);
    s.sim.set_outage(true);
    let (status, health) = s.get("/v1/partners/bank/health").await;
    assert_eq!(status, 503, "{health}");
    assert_eq!(health["health"]["healthy"], false);

    let (status, body) = s.get("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    s.stop().await;
}

pub async fn months_ask_for_the_last_months_up_to_today(t: Transport) {
    let s = start(t.options(Options::default())).await;
    let stream = s
        .stream(&serde_json::json!({"customer_id": "c-3", "partner_id": "bank", "months": 2}))
        .await;
    let events: Vec<_> = stream.collect().await;
    check_framing(&events);
    let today = chrono::Utc::now().date_naive();
    let from = today.checked_sub_months(chrono::Months::new(2)).unwrap();
    assert_eq!(events[0].data["to"], today.to_string());
    assert_eq!(events[0].data["from"], from.to_string());
    assert_eq!(events.last().unwrap().name, "done");
    s.stop().await;
}

pub async fn async_mode_answers_202_and_the_job_runs_to_its_end(t: Transport) {
    let s = start(t.options(Options::default())).await;
    for (header, query) in [(Some("respond-async"), ""), (None, "?mode=async")] {
        let mut req = s
            .client
            .post(s.url(&format!("/v1/classifications{query}")))
            .json(&TestServer::body("c-4"));
        if let Some(h) = header {
            req = req.header("prefer", h);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 202);
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let body: serde_json::Value = res.json().await.unwrap();
        let job = body["job_id"].as_str().unwrap().to_owned();
        assert_eq!(body["status_url"], format!("/v1/classifications/{job}"));
        assert_eq!(location, format!("/v1/classifications/{job}"));
        let done = eventually(30, || async {
            let (status, rec) = s.get(&location).await;
            assert_eq!(status, 200, "{rec}");
            rec["job"]["status"] == "done"
        })
        .await;
        assert!(done, "the detached job finished");
    }
    assert_eq!(s.stored_ids("c-4").await, s.expected_ids("c-4"));
    s.stop().await;
}

fn slow_partner() -> SimulatorConfig {
    SimulatorConfig {
        latency_min: Duration::from_millis(150),
        latency_max: Duration::from_millis(150),
        ..SimulatorConfig::instant()
    }
}

/// The seq of an SSE id `<job>:<seq>`.
fn seq_of(id: &str) -> u64 {
    id.rsplit_once(':').unwrap().1.parse().unwrap()
}

pub async fn a_client_that_leaves_and_does_not_come_back_cancels_its_job_after_the_window(
    t: Transport,
) {
    let s = start(t.options(Options {
        sim: slow_partner(),
        reattach_window: Duration::from_millis(400),
        // hyper notices a client that left only when it next writes to it: a keep-alive
        // comment at the latest (the fast path watches the socket).
        http: HttpSettings {
            keep_alive: Duration::from_millis(100),
            retry_workers: 2,
            ..HttpSettings::default()
        },
        ..Options::default()
    }))
    .await;
    let mut stream = s.stream(&TestServer::body("c-5")).await;
    let first = stream.next().await.unwrap();
    assert_eq!(first.name, "accepted");
    let job = first.data["job_id"].as_str().unwrap().to_owned();
    // A call is in flight (the simulator takes 150 ms): its permit is held.
    assert!(eventually(5, || async { s.in_use().await == 1 }).await);
    drop(stream);
    assert!(
        eventually(5, || async {
            s.get(&format!("/v1/classifications/{job}")).await.1["job"]["status"] == "cancelled"
        })
        .await,
        "the job is recorded cancelled once the re-attach window is over"
    );
    assert!(
        eventually(5, || async { s.in_use().await == 0 }).await,
        "permits came back"
    );
    // Its log ends with the cancellation, for a client that re-attaches late.
    let events: Vec<Ev> = s.reattach(&job, None).await.collect().await;
    let last = events.last().unwrap();
    assert_eq!(last.name, "failed");
    assert_eq!(last.data["reason"], "cancelled");
    s.stop().await;
}

pub async fn a_client_that_reattaches_with_last_event_id_misses_nothing(t: Transport) {
    let s = start(t.options(Options {
        sim: slow_partner(),
        ..Options::default()
    }))
    .await;
    let mut stream = s.stream(&TestServer::body("c-6")).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(stream.next().await.unwrap());
    }
    let job = seen[0].data["job_id"].as_str().unwrap().to_owned();
    drop(stream);
    // The job runs on while nobody watches.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let last = seen.last().unwrap().id.clone();
    let rest: Vec<Ev> = tokio::time::timeout(
        Duration::from_secs(60),
        s.reattach(&job, Some(&last)).await.collect(),
    )
    .await
    .expect("the job ends");
    seen.extend(rest);
    let seqs: Vec<u64> = seen.iter().map(|e| seq_of(&e.id)).collect();
    let expected: Vec<u64> = (1..=seen.len() as u64).collect();
    assert_eq!(seqs, expected, "every event once, in order");
    assert_eq!(seen.last().unwrap().name, "done");
    assert_eq!(s.stored_ids("c-6").await, s.expected_ids("c-6"));
    // A replay from the start gives the same log.
    let replay: Vec<Ev> = s.reattach(&job, None).await.collect().await;
    assert_eq!(
        replay.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        seen.iter().map(|e| e.id.clone()).collect::<Vec<_>>()
    );
    s.stop().await;
}

/// A client whose answer was lost sends its submission again with the same
/// `Idempotency-Key`: it gets the first submission's job from its first event, and nothing is
/// fetched twice. The key is checked; reused for another request it is a 422.
pub async fn a_submission_sent_again_with_its_idempotency_key_attaches_to_its_job(t: Transport) {
    let s = start(t.options(Options {
        sim: slow_partner(),
        ..Options::default()
    }))
    .await;
    let post = |key: &'static str, body: serde_json::Value| {
        s.client
            .post(s.url("/v1/classifications"))
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let res = post("order-17", TestServer::body("c-idem")).await.unwrap();
    assert_eq!(res.status(), 200);
    let mut lost = events_of(res, s.contract().await);
    let first = lost.next().await.unwrap();
    let job = first.data["job_id"].as_str().unwrap().to_owned();
    drop(lost);
    // Again, in the draft's quoted form: the same job, from its first event, to its end.
    let res = post("\"order-17\"", TestServer::body("c-idem"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let events: Vec<Ev> = tokio::time::timeout(
        Duration::from_secs(60),
        events_of(res, s.contract().await).collect(),
    )
    .await
    .expect("the job ends");
    assert_eq!(check_framing(&events), job);
    assert_eq!(events[0].id, first.id);
    assert_eq!(events.last().unwrap().name, "done");
    assert_eq!(s.stored_ids("c-idem").await, s.expected_ids("c-idem"));
    let stats = s.sim.stats();
    assert_eq!(
        stats.pages_served_again, 0,
        "{:?}",
        stats.pages_served_again_sample
    );
    // Asynchronously, after the end: 202 naming the same job.
    let res = s
        .client
        .post(s.url("/v1/classifications?mode=async"))
        .header("idempotency-key", "order-17")
        .json(&TestServer::body("c-idem"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["job_id"], job.as_str());

    // The same key for another window: 422, naming the key's job.
    let mut other = TestServer::body("c-idem");
    other["to"] = "2026-02-28".into();
    let res = post("order-17", other).await.unwrap();
    assert_eq!(res.status(), 422);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "idempotency_conflict", "{body}");
    assert_eq!(body["error"]["field"], "idempotency_key");
    assert!(body["error"]["message"].as_str().unwrap().contains(&job));
    // Keys that cannot be one: 400 naming the header's field.
    let too_long: &'static str = "k".repeat(256).leak();
    for bad in ["two words", "", too_long, "caf\u{e9}"] {
        let res = post(bad, TestServer::body("c-idem-bad")).await.unwrap();
        assert_eq!(res.status(), 400, "{bad:?}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["field"], "idempotency_key", "{bad:?}: {body}");
    }
    let res = s
        .client
        .post(s.url("/v1/classifications"))
        .header("idempotency-key", "a")
        .header("idempotency-key", "b")
        .json(&TestServer::body("c-idem-bad"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        s.stored_ids("c-idem-bad").await.is_empty(),
        "no job started"
    );
    s.stop().await;
}

pub async fn delete_cancels_a_running_job_at_once(t: Transport) {
    let s = start(t.options(Options {
        sim: slow_partner(),
        ..Options::default()
    }))
    .await;
    let mut stream = s.stream(&TestServer::body("c-7")).await;
    let first = stream.next().await.unwrap();
    let job = first.data["job_id"].as_str().unwrap().to_owned();
    let res = s
        .client
        .delete(s.url(&format!("/v1/classifications/{job}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let rest: Vec<Ev> = tokio::time::timeout(Duration::from_secs(5), stream.collect())
        .await
        .expect("the stream ends at once");
    let last = rest.last().unwrap();
    assert_eq!(last.name, "failed");
    assert_eq!(last.data["reason"], "cancelled");
    assert!(eventually(5, || async { s.in_use().await == 0 }).await);
    let (status, body) = s.get(&format!("/v1/classifications/{job}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["job"]["status"], "cancelled");
    let res = s
        .client
        .delete(s.url("/v1/classifications/no-such-job"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = s
        .client
        .get(s.url("/v1/classifications/no-such-job/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = s
        .client
        .get(s.url(&format!("/v1/classifications/{job}/events")))
        .header("last-event-id", "nonsense")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    s.stop().await;
}

pub async fn a_quiet_stream_gets_keep_alive_comments(t: Transport) {
    let s = start(t.options(Options {
        sim: SimulatorConfig {
            latency_min: Duration::from_millis(300),
            latency_max: Duration::from_millis(300),
            ..SimulatorConfig::instant()
        },
        http: HttpSettings {
            keep_alive: Duration::from_millis(50),
            retry_workers: 1,
            ..HttpSettings::default()
        },
        ..Options::default()
    }))
    .await;
    let res = s
        .client
        .post(s.url("/v1/classifications"))
        .json(&TestServer::body("c-6"))
        .send()
        .await
        .unwrap();
    let mut raw = res.bytes_stream();
    let mut seen = Vec::new();
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = raw.next().await {
            seen.extend_from_slice(&chunk.unwrap());
            if seen.windows(14).any(|w| w == b": keep-alive\n\n") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(got, Ok(true), "{}", String::from_utf8_lossy(&seen));
    s.stop().await;
}

pub async fn shutdown_hands_long_jobs_over_and_they_carry_on_from_their_last_stored_page(
    t: Transport,
) {
    // Slow partner: the job cannot finish within the grace period.
    let mut s = start(t.options(Options {
        sim: SimulatorConfig {
            latency_min: Duration::from_millis(250),
            latency_max: Duration::from_millis(250),
            ..SimulatorConfig::instant()
        },
        http: HttpSettings {
            grace_period: Duration::from_millis(600),
            retry_workers: 1,
            ..HttpSettings::default()
        },
        ..Options::default()
    }))
    .await;
    let mut stream = s.stream(&TestServer::body("c-8")).await;
    let first = stream.next().await.unwrap();
    let job = first.data["job_id"].as_str().unwrap().to_owned();
    s.trigger_shutdown();
    let started = tokio::time::Instant::now();
    let rest: Vec<_> = tokio::time::timeout(Duration::from_secs(10), stream.collect::<Vec<_>>())
        .await
        .expect("the stream ends");
    let mut all = vec![first];
    all.extend(rest);
    let seqs: Vec<u64> = all.iter().map(|e| seq_of(&e.id)).collect();
    assert_eq!(
        seqs,
        (1..=all.len() as u64).collect::<Vec<_>>(),
        "gap-free ids"
    );
    // Some pages went through during the grace period, then the stream ended without an end
    // of the job: it was handed over, not failed.
    assert!(all.iter().any(|e| e.name == "classified"), "{all:?}");
    let last = all.last().unwrap();
    assert!(last.name != "failed" && last.name != "done", "{all:?}");
    assert!(started.elapsed() >= Duration::from_millis(500));
    s.join().await;
    assert_eq!(s.in_use().await, 0);
    let id = txclass_suite::JobId::new(job.as_str());
    let rec = s.orch.job(&id).await.unwrap().unwrap();
    assert_eq!(rec.status, txclass_suite::JobStatus::Running, "{rec:?}");
    // Another instance (here: the same store's orchestrator, as after a restart) takes it
    // over; the client's re-attachment from its last id misses nothing and ends `done`.
    assert_eq!(s.orch.sweep().await.unwrap(), 1);
    let seen = all.len() as u64;
    let rest: Vec<txclass_suite::Progress> = tokio::time::timeout(
        Duration::from_secs(30),
        s.orch.watch(&id, seen).await.unwrap().collect::<Vec<_>>(),
    )
    .await
    .expect("the job ends");
    assert!(
        matches!(rest.last(), Some(txclass_suite::Progress::Done { .. })),
        "{rest:?}"
    );
    let mut classified: Vec<u64> = all
        .iter()
        .filter(|e| e.name == "classified")
        .map(|e| e.data["page"].as_u64().unwrap())
        .chain(rest.iter().filter_map(|e| match e {
            txclass_suite::Progress::Classified { page, .. } => Some(u64::from(*page)),
            _ => None,
        }))
        .collect();
    classified.sort();
    let pages = classified.len() as u64;
    assert_eq!(
        classified,
        (1..=pages).collect::<Vec<_>>(),
        "each page once"
    );
    assert_eq!(s.stored_ids_direct("c-8").await, s.expected_ids("c-8"));
    // No new connections once stopped.
    assert!(s.client.get(s.url("/healthz")).send().await.is_err());
}

pub async fn a_stream_that_ends_within_the_grace_period_ends_done(t: Transport) {
    let mut s = start(t.options(Options {
        sim: SimulatorConfig {
            latency_min: Duration::from_millis(30),
            latency_max: Duration::from_millis(30),
            ..SimulatorConfig::instant()
        },
        http: HttpSettings {
            grace_period: Duration::from_secs(20),
            retry_workers: 1,
            ..HttpSettings::default()
        },
        ..Options::default()
    }))
    .await;
    let mut stream = s.stream(&TestServer::body("c-8")).await;
    let first = stream.next().await.unwrap();
    s.trigger_shutdown();
    let rest: Vec<_> = stream.collect().await;
    let mut all = vec![first];
    all.extend(rest);
    check_framing(&all);
    assert_eq!(all.last().unwrap().name, "done", "{all:?}");
    s.join().await;
    assert_eq!(s.stored_ids_direct("c-8").await, s.expected_ids("c-8"));
}

pub async fn http2_clients_get_the_same_stream(t: Transport) {
    let s = start(t.options(Options::default())).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let res = h2
        .post(s.url("/v1/classifications"))
        .json(&TestServer::body("c-9"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert_eq!(res.status(), 200);
    let events: Vec<_> = events_of(res, s.contract().await)
        .map(|e| e.name)
        .collect()
        .await;
    assert_eq!(events.first().map(String::as_str), Some("accepted"));
    assert_eq!(events.last().map(String::as_str), Some("done"));
    assert_eq!(s.stored_ids("c-9").await, s.expected_ids("c-9"));
    s.stop().await;
}

pub async fn customer_ids_with_spaces_slashes_and_accents_round_trip(t: Transport) {
    let s = start(t.options(Options::default())).await;
    let customer = "joão silva/1";
    let events = s.run_job(customer).await;
    assert_eq!(events.last().unwrap().name, "done");
    let expected = s.sim.transactions(
        customer,
        crate::support::server::from(),
        crate::support::server::to(),
    );
    assert!(!expected.is_empty());
    let (status, page) = s
        .get("/v1/customers/jo%C3%A3o%20silva%2F1/transactions?limit=1000")
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), expected.len());
    assert_eq!(page["items"][0]["customer_id"], customer);
    let (status, err) = s.get("/v1/customers/%FF/transactions").await;
    assert_eq!(status, 400, "{err}");
    s.stop().await;
}

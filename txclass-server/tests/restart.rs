//! A single `txclass-server` on embedded defaults (SQLite, no Redis) is killed with SIGKILL
//! while jobs run, then started again on the same store: every job resumes from its last
//! stored page and ends `done`, or ends `failed: interrupted` when its deadline passed while
//! the server was down. Real processes, a real file store, a real partner simulator.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::Value;
use txclass_core::simulator::{Simulator, SimulatorConfig, SimulatorHandle};

mod support;
use support::{free_port, ServerProcess};

const JOBS: usize = 40;
const CAPACITY: u32 = 4;
const PAGE_SIZE: u32 = 10;
const FROM: &str = "2026-01-01";
const TO: &str = "2026-02-28";

fn write_config(
    dir: &Path,
    port: u16,
    sim: &SimulatorHandle,
    deadline_ms: u64,
) -> std::path::PathBuf {
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            r#"
listen = "127.0.0.1:{port}"
store_path = "{store}"
[sandbox]
enabled = false
[jobs]
deadline_ms = {deadline_ms}
[[partners]]
id = "bank"
base_url = "{sim}"
capacity = {CAPACITY}
page_size = {PAGE_SIZE}
"#,
            store = dir.join("store.db").display(),
            sim = sim.url(),
        ),
    )
    .unwrap();
    config
}

async fn simulator() -> SimulatorHandle {
    Simulator::bind(
        0,
        SimulatorConfig {
            capacity: Some(CAPACITY),
            latency_min: Duration::from_millis(60),
            latency_max: Duration::from_millis(90),
            max_page_size: PAGE_SIZE,
            ..SimulatorConfig::default()
        },
    )
    .await
    .unwrap()
}

/// Submits `JOBS` detached jobs (`Prefer: respond-async`); returns their ids.
async fn submit_all(client: &reqwest::Client, base: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..JOBS {
        let res = client
            .post(format!("{base}/v1/classifications"))
            .header("prefer", "respond-async")
            .json(&serde_json::json!({
                "customer_id": format!("r-{i}"), "partner_id": "bank", "from": FROM, "to": TO,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        let body: Value = res.json().await.unwrap();
        ids.push(body["job_id"].as_str().unwrap().to_owned());
    }
    ids
}

async fn status(client: &reqwest::Client, base: &str, job: &str) -> Value {
    let res = client
        .get(format!("{base}/v1/classifications/{job}?limit=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["job"].clone()
}

/// The job's whole event log, replayed over SSE from the start.
async fn replay(client: &reqwest::Client, base: &str, job: &str) -> Vec<(String, String, Value)> {
    let res = client
        .get(format!("{base}/v1/classifications/{job}/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let events = res
        .bytes_stream()
        .eventsource()
        .map(|e| {
            let e = e.unwrap();
            (e.event, e.id, serde_json::from_str(&e.data).unwrap())
        })
        .collect::<Vec<_>>();
    tokio::time::timeout(Duration::from_secs(30), events)
        .await
        .expect("a finished job's log replays at once")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_kill_9_and_a_restart_every_job_resumes_to_done() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, &sim, 600_000);
    let client = reqwest::Client::new();
    let mut server = ServerProcess::start(&config, port, "/healthz").await;
    let ids = submit_all(&client, &server.url).await;
    // Let the jobs get going, then kill the server in the middle of them.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = sim.stats();
    let mut running = 0;
    for id in &ids {
        if status(&client, &server.url, id).await["status"] == "running" {
            running += 1;
        }
    }
    server.kill9();
    assert!(
        running > JOBS / 2,
        "most jobs were running at the kill ({running})"
    );
    assert!(
        before.by_status.get(&200).copied().unwrap_or(0) > 0,
        "some pages were fetched"
    );

    let server = ServerProcess::start(&config, port, "/healthz").await;
    let started = Instant::now();
    for id in &ids {
        loop {
            let job = status(&client, &server.url, id).await;
            if job["status"] != "running" {
                assert_eq!(job["status"], "done", "{id}: {job}");
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "{id} never ended"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let (from, to): (NaiveDate, NaiveDate) = (FROM.parse().unwrap(), TO.parse().unwrap());
    let mut pages_total = 0u64;
    for (i, id) in ids.iter().enumerate() {
        let customer = format!("r-{i}");
        let expected = sim.transactions(&customer, from, to).len() as u64;
        let pages = expected.div_ceil(u64::from(PAGE_SIZE)).max(1);
        pages_total += pages;
        let events = replay(&client, &server.url, id).await;
        // One log across both processes: ids 1..=n, each once, in order.
        let seqs: Vec<u64> = events
            .iter()
            .map(|(_, id, _)| id.rsplit_once(':').unwrap().1.parse().unwrap())
            .collect();
        assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>(), "{id}");
        // Every page classified and stored exactly once.
        let mut classified: Vec<u64> = events
            .iter()
            .filter(|(name, _, _)| name == "classified")
            .map(|(_, _, d)| d["page"].as_u64().unwrap())
            .collect();
        classified.sort();
        assert_eq!(classified, (1..=pages).collect::<Vec<_>>(), "{id}");
        let (name, _, data) = events.last().unwrap();
        assert_eq!(name, "done");
        assert_eq!(data["summary"]["transactions"], expected, "{id}");
        assert_eq!(data["summary"]["pages"], pages, "{id}");
        // Stored once each: the store holds exactly the partner's transactions.
        let stored = client
            .get(format!(
                "{}/v1/customers/{customer}/transactions?limit=1000",
                server.url
            ))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(
            stored["items"].as_array().unwrap().len() as u64,
            expected,
            "{id}"
        );
    }
    // No stored page was fetched again: successful calls are the pages, plus at most the
    // calls in flight at the kill (fetched, not yet stored).
    let ok = sim.stats().by_status.get(&200).copied().unwrap_or(0);
    eprintln!(
        "{JOBS} jobs, {pages_total} pages, {ok} successful partner calls, resumed in {:?}",
        started.elapsed()
    );
    assert!(ok >= pages_total);
    assert!(
        ok <= pages_total + u64::from(CAPACITY),
        "{ok} successful calls for {pages_total} pages: stored pages were fetched again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_whose_deadline_passed_while_the_server_was_down_end_interrupted() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, &sim, 4_000);
    let client = reqwest::Client::new();
    let mut server = ServerProcess::start(&config, port, "/healthz").await;
    let ids = submit_all(&client, &server.url).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.kill9();
    // Down for longer than the jobs' deadline.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let server = ServerProcess::start(&config, port, "/healthz").await;
    let started = Instant::now();
    let mut interrupted = 0;
    for id in &ids {
        loop {
            let job = status(&client, &server.url, id).await;
            if job["status"] != "running" {
                match job["status"].as_str().unwrap() {
                    "done" => {}
                    "failed" => {
                        assert_eq!(job["reason"], "interrupted", "{id}: {job}");
                        interrupted += 1;
                    }
                    other => panic!("{id}: {other}"),
                }
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{id} never ended"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let events = replay(&client, &server.url, id).await;
        assert!(events.last().unwrap().0 == "done" || events.last().unwrap().0 == "failed");
    }
    assert!(interrupted > 0, "some jobs were still running at the kill");
}

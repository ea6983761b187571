//! `GET /metrics` read back through a real Prometheus, and every query of the Grafana boards
//! in `deploy/grafana/dashboards/` answered by the real backends.
//!
//! A `txclass-server` process (Redis-backed limiter and queue, OpenSearch store, the sandbox
//! partner and a partner that is down) runs jobs to their end; a Prometheus started from the
//! binary `scripts/prometheus.sh install` put on PATH scrapes it every second. Then every
//! PromQL expression of the operations board must answer non-empty through
//! `/api/v1/query`, a few series must hold exactly what the jobs did, and the query each
//! spending panel describes must find buckets in the store's OpenSearch index.
//!
//! Needs `scripts/redis.sh start` (`TXCLASS_REDIS_URL`), `scripts/search-engine.sh start`
//! (`TXCLASS_ES_URL`) and `scripts/prometheus.sh install`; fails, never skips, without them.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{free_port, ServerProcess};
use txclass_server::{run, HttpSettings, Server};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn redis_url() -> String {
    std::env::var("TXCLASS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6399".into())
}

fn es_url() -> String {
    std::env::var("TXCLASS_ES_URL").unwrap_or_else(|_| "http://127.0.0.1:9200".into())
}

/// A Prometheus process scraping `target` every second; killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    async fn start(target: &str) -> Self {
        let missing = |tool: &str| {
            Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
        };
        assert!(
            !missing("prometheus") && !missing("promtool"),
            "prometheus and promtool are not on PATH: run scripts/prometheus.sh install \
             (scripts/test.sh does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: txclass\n    metrics_path: /metrics\n\
                 \x20   static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let check = Command::new("promtool")
            .args(["check", "config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "promtool check config: {}",
            String::from_utf8_lossy(&check.stdout)
        );
        let port = std::env::var("TXCLASS_PROMETHEUS_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(free_port);
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let p = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let started = Instant::now();
        while reqwest::get(format!("{}/-/ready", p.url))
            .await
            .map_or(true, |r| !r.status().is_success())
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "prometheus not ready on {}",
                p.url
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Targets are scraped a few seconds after start (service discovery settles first);
        // work done before the first scrape would show up without ever rising.
        while p.query("up == 1").await.is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "prometheus never scraped {target}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        p
    }

    /// The `result` array of an instant query.
    async fn query(&self, promql: &str) -> Vec<Value> {
        let r: Value = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", promql)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["status"], "success", "{promql}: {r}");
        r["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// The single value of a query that sums to one series (`None`: no series).
    async fn scalar(&self, promql: &str) -> Option<f64> {
        let result = self.query(promql).await;
        assert!(result.len() <= 1, "{promql}: {result:?}");
        result
            .first()
            .map(|s| s["value"][1].as_str().unwrap().parse().expect("a number"))
    }

    /// Waits (30 s at most) until Prometheus has scraped `jobs` ended jobs.
    async fn wait_for_finished_jobs(&self, jobs: f64) {
        let started = Instant::now();
        while self
            .scalar("sum(txclass_jobs_finished_total)")
            .await
            .unwrap_or(0.0)
            < jobs
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "prometheus never saw {jobs} jobs end"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_config(dir: &Path, port: u16, prefix: &str, down_port: u16) -> PathBuf {
    let path = dir.join("server.toml");
    std::fs::write(
        &path,
        format!(
            r#"
listen = "127.0.0.1:{port}"
retry_workers = 2
grace_period_ms = 500
[metrics]
enabled = true
[store]
kind = "elasticsearch"
url = "{es}"
index_prefix = "{prefix}"
[redis]
url = "{redis}"
prefix = "{prefix}"
[sandbox]
capacity = 2
latency_min_ms = 200
latency_max_ms = 400
[jobs]
acquire_wait_ms = 2000
[[partners]]
id = "down"
base_url = "http://127.0.0.1:{down_port}"
capacity = 2
timeout_ms = 500
[partners.retry]
max_attempts = 3
base_backoff_ms = 20
max_backoff_ms = 100
[partners.circuit]
minimum_calls = 2
window = {{ type = "count_based", calls = 4 }}
open_for_ms = 200
"#,
            es = es_url(),
            redis = redis_url(),
        ),
    )
    .unwrap();
    path
}

/// Submits a job in the background; returns its id.
async fn submit(base: &str, customer: &str, partner: &str) -> String {
    let r: Value = reqwest::Client::new()
        .post(format!("{base}/v1/classifications"))
        .header("prefer", "respond-async")
        .json(&json!({"customer_id": customer, "partner_id": partner, "months": 3}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["job_id"].as_str().expect("a job id").to_owned()
}

/// Waits for the job to end; returns its record (without its transactions).
async fn wait_end(base: &str, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let r: Value = reqwest::get(format!("{base}/v1/classifications/{id}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let job = &r["job"];
        if job["status"] != "running" {
            return job.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "job {id} still running: {}",
            r["job"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads one job's SSE stream to its end; returns how many events it carried.
async fn stream_job(base: &str, customer: &str) -> usize {
    let text = reqwest::Client::new()
        .post(format!("{base}/v1/classifications"))
        .json(&json!({"customer_id": customer, "partner_id": "sandbox", "months": 3}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("event: done"), "{text}");
    text.matches("\nevent: ").count() + usize::from(text.starts_with("event: "))
}

/// Every PromQL expression of a Grafana board, with the board's variables given values a
/// Grafana would send (`$partner`: All; `$__rate_interval`: one minute).
fn board_expressions(board: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in board["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                let expr = expr
                    .replace("$partner", ".+")
                    .replace("$__rate_interval", "1m");
                out.push((panel["title"].as_str().unwrap().to_owned(), expr));
            }
        }
    }
    out
}

fn read_board(name: &str) -> Value {
    let path = repo_root().join("deploy/grafana/dashboards").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The search a Grafana Elasticsearch panel target describes (query string, time range on
/// its time field, nested bucket aggregations, metrics in the innermost one), as Grafana
/// builds it.
fn es_search(target: &Value, from_ms: i64, to_ms: i64) -> Value {
    let metrics = target["metrics"].as_array().unwrap();
    let mut leaf = serde_json::Map::new();
    for m in metrics {
        let id = m["id"].as_str().unwrap();
        match m["type"].as_str().unwrap() {
            "count" => {}
            "sum" | "avg" | "min" | "max" => {
                leaf.insert(
                    id.to_owned(),
                    json!({ m["type"].as_str().unwrap(): { "field": m["field"] } }),
                );
            }
            other => panic!("metric type {other} is not translated by this test"),
        }
    }
    let mut aggs = Value::Object(leaf.clone());
    for b in target["bucketAggs"].as_array().unwrap().iter().rev() {
        let s = &b["settings"];
        let min_doc_count: u64 = s["min_doc_count"].as_str().unwrap_or("0").parse().unwrap();
        let mut agg = match b["type"].as_str().unwrap() {
            "terms" => {
                let order_by = match s["orderBy"].as_str().unwrap_or("_count") {
                    "_term" => "_key".to_owned(),
                    other => other.to_owned(),
                };
                json!({ "terms": {
                    "field": b["field"],
                    "size": s["size"].as_str().unwrap_or("10").parse::<u64>().unwrap(),
                    "order": { order_by: s["order"].as_str().unwrap_or("desc") },
                    "min_doc_count": min_doc_count,
                }})
            }
            "date_histogram" => {
                let interval = s["interval"].as_str().unwrap();
                let key = if interval.ends_with(['M', 'y', 'w']) {
                    "calendar_interval"
                } else {
                    "fixed_interval"
                };
                json!({ "date_histogram": {
                    "field": b["field"],
                    key: interval,
                    "min_doc_count": min_doc_count,
                    "format": "epoch_millis",
                }})
            }
            other => panic!("bucket aggregation {other} is not translated by this test"),
        };
        if aggs.as_object().is_some_and(|a| !a.is_empty()) {
            agg["aggs"] = aggs;
        }
        // Terms ordered by a metric carry that metric too (Grafana adds it there).
        if let Some(metric) = s["orderBy"].as_str().and_then(|id| leaf.get(id)) {
            let id = s["orderBy"].as_str().unwrap();
            if agg.get("aggs").is_none() {
                agg["aggs"] = json!({});
            }
            agg["aggs"][id] = metric.clone();
        }
        aggs = json!({ b["id"].as_str().unwrap(): agg });
    }
    let query = target["query"].as_str().unwrap_or("*");
    json!({
        "size": 0,
        "query": { "bool": { "filter": [
            { "range": { target["timeField"].as_str().unwrap(): {
                "gte": from_ms, "lte": to_ms, "format": "epoch_millis" } } },
            { "query_string": { "analyze_wildcard": true, "query": query } },
        ]}},
        "aggs": aggs,
    })
}

/// The transactions alias the provisioned data source reads, with the test's prefix in
/// place of the default one.
fn provisioned_index(prefix: &str) -> String {
    let path = repo_root().join("deploy/grafana/provisioning/datasources/txclass.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let index = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("index:"))
        .expect("the elasticsearch data source names its index")
        .trim();
    let rest = index
        .strip_prefix("txclass")
        .expect("the data source reads the default prefix's alias");
    format!("{prefix}{rest}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_reads_the_metrics_and_every_board_query_answers() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let prefix = format!("txclass-metrics-{}", uuid::Uuid::new_v4().simple());
    let config = server_config(dir.path(), port, &prefix, free_port());
    let server = ServerProcess::start(&config, port, "/readyz").await;
    let prometheus = Prometheus::start(&format!("127.0.0.1:{port}")).await;
    let base = server.url.clone();

    // Work of every kind: jobs done (one of them streamed), a job whose partner is down
    // (calls fail, the circuit opens, the queue gives up on the call).
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(submit(&base, &format!("c-{i}"), "sandbox").await);
    }
    let down = submit(&base, "c-down", "down").await;
    let streamed_events = stream_job(&base, "c-streamed").await;
    let mut pages = 0;
    let mut transactions = 0;
    for id in &ids {
        let r = wait_end(&base, id).await;
        assert_eq!(r["status"], "done", "{r}");
        pages += r["summary"]["pages"].as_u64().unwrap();
        transactions += r["summary"]["transactions"].as_u64().unwrap();
    }
    let r = wait_end(&base, &down).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["reason"], "partner_unavailable", "{r}");

    // Wait until Prometheus scraped the end of it all (7 jobs ended, the streamed one too).
    prometheus.wait_for_finished_jobs(8.0).await;
    let value = |q: &'static str| {
        let p = &prometheus;
        async move {
            p.scalar(q)
                .await
                .unwrap_or_else(|| panic!("no series for {q}"))
        }
    };
    assert_eq!(
        value(r#"sum(txclass_jobs_finished_total{status="done",reason="none"})"#).await,
        7.0
    );
    assert_eq!(
        value(r#"sum(txclass_jobs_finished_total{status="failed",reason="partner_unavailable"})"#)
            .await,
        1.0
    );
    assert_eq!(
        value(r#"txclass_partner_capacity{partner="sandbox"}"#).await,
        2.0
    );
    assert_eq!(
        value(r#"txclass_partner_permit_limit{partner="sandbox",scope="cluster"}"#).await,
        2.0
    );
    // The streamed job's pages and rows come on top of the six background jobs'.
    assert!(
        value(
            r#"sum(txclass_partner_calls_total{partner="sandbox",outcome="success",status="200"})"#
        )
        .await
            > pages as f64
    );
    assert!(value("sum(txclass_classifications_total)").await > transactions as f64);
    assert!(
        value(r#"sum(txclass_partner_calls_total{partner="down",outcome="unreachable",status="none"})"#)
            .await
            >= 2.0
    );
    assert!(
        value(r#"sum(txclass_circuit_transitions_total{partner="down",from="closed",to="open"})"#)
            .await
            >= 1.0
    );
    assert!(value(r#"txclass_queue_dead_letters{partner="down",scope="cluster"}"#).await >= 1.0);
    assert!(value("sum(txclass_sse_events_sent_total)").await >= streamed_events as f64);
    assert_eq!(value("sum(txclass_sse_streams_open)").await, 0.0);
    assert!(
        value(
            r#"sum(txclass_store_operation_duration_seconds_count{op="store_page",kind="write"})"#
        )
        .await
            >= pages as f64
    );

    // A rate needs a counter that moved between two scrapes, and every job above may have
    // ended between the same two (1 s apart): one more job ends now that Prometheus has
    // seen the series.
    let extra = submit(&base, "c-extra", "sandbox").await;
    assert_eq!(wait_end(&base, &extra).await["status"], "done");
    prometheus.wait_for_finished_jobs(9.0).await;

    // Every expression of the operations board answers with at least one number (not
    // only NaN: a quantile of rates that never moved). Rates need two scrapes of a series:
    // the last ones get a few seconds.
    let board = read_board("txclass-operations.json");
    let expressions = board_expressions(&board);
    assert!(expressions.len() >= 20, "{}", expressions.len());
    let started = Instant::now();
    loop {
        let mut empty = Vec::new();
        for (title, expr) in &expressions {
            let result = prometheus.query(expr).await;
            let numbers = result
                .iter()
                .filter(|s| s["value"][1].as_str().is_some_and(|v| v != "NaN"))
                .count();
            if numbers == 0 {
                empty.push(format!("{title}: {expr} = {result:?}"));
            }
        }
        if empty.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "board queries with no answer:\n{}",
            empty.join("\n")
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for q in [
        r#"txclass_partner_calls_total{partner="sandbox"}"#,
        r#"txclass_queue_dead_letters"#,
        r#"sum by (category) (txclass_classifications_total)"#,
        r#"sum(txclass_classifications_total{category="uncertain"}) / sum(txclass_classifications_total)"#,
        r#"sum by (status, reason) (txclass_jobs_finished_total)"#,
        r#"sum by (partner, from, to) (txclass_circuit_transitions_total)"#,
        r#"histogram_quantile(0.95, sum by (partner, le) (rate(txclass_partner_call_duration_seconds_bucket[1m])))"#,
    ] {
        eprintln!(
            "{q}\n  {}",
            serde_json::to_string(&prometheus.query(q).await).unwrap()
        );
    }

    // Every spending panel's query finds buckets in the store's index.
    let client = reqwest::Client::new();
    let index = provisioned_index(&prefix);
    client
        .post(format!("{}/{index}/_refresh", es_url()))
        .send()
        .await
        .unwrap();
    let spending = read_board("txclass-spending.json");
    let to = chrono::Utc::now().timestamp_millis();
    let from = to - 2 * 366 * 24 * 3600 * 1000;
    let panels = spending["panels"].as_array().unwrap();
    assert!(panels.len() >= 2);
    for panel in panels {
        for target in panel["targets"].as_array().unwrap() {
            let body = es_search(target, from, to);
            let r: Value = client
                .post(format!("{}/{index}/_search", es_url()))
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let outer = target["bucketAggs"][0]["id"].as_str().unwrap();
            let buckets = r["aggregations"][outer]["buckets"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: {r}", panel["title"]));
            assert!(!buckets.is_empty(), "{}: no buckets: {r}", panel["title"]);
            let docs: u64 = buckets
                .iter()
                .map(|b| b["doc_count"].as_u64().unwrap())
                .sum();
            assert!(docs > 0, "{}: {r}", panel["title"]);
            eprintln!(
                "{}: {} buckets, first {}",
                panel["title"],
                buckets.len(),
                buckets[0]
            );
        }
    }
    drop(server);
    let _ = client
        .delete(format!("{}/{prefix}-*", es_url()))
        .send()
        .await;
}

#[tokio::test]
async fn the_metrics_route_exists_only_when_enabled() {
    for enabled in [false, true] {
        let orchestrator = txclass_core::Orchestrator::builder().build().unwrap();
        let settings = HttpSettings {
            metrics: enabled,
            ..HttpSettings::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/metrics", listener.local_addr().unwrap());
        let server = Server::new(orchestrator, settings);
        let task = tokio::spawn(run(listener, server, std::future::pending()));
        let r = reqwest::get(&url).await.unwrap();
        if enabled {
            assert_eq!(r.status(), 200);
            assert!(r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4"));
            let text = r.text().await.unwrap();
            assert!(text.contains("# TYPE txclass_jobs_running gauge"), "{text}");
        } else {
            assert_eq!(r.status(), 404);
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "not_found", "{body}");
        }
        task.abort();
    }
}

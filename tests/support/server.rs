//! A partner simulator and a txclass server on loopback ports, and an SSE client for them.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use txclass_server::{run, HttpSettings, Server};
use txclass_suite::simulator::{Simulator, SimulatorConfig, SimulatorHandle};
use txclass_suite::store::SqliteStore;
use txclass_suite::{Orchestrator, PartnerConfig, Settings};

/// The partner id the test server knows the simulator as.
pub const PARTNER: &str = "bank";
/// Page size asked of the simulator.
pub const PAGE_SIZE: u32 = 40;

/// The window every test asks for.
pub fn from() -> NaiveDate {
    "2026-01-01".parse().unwrap()
}
/// The window every test asks for.
pub fn to() -> NaiveDate {
    "2026-03-31".parse().unwrap()
}

/// How to start a test server.
pub struct Options {
    /// The simulator's behaviour.
    pub sim: SimulatorConfig,
    /// The partner's capacity in the limiter.
    pub capacity: u32,
    /// HTTP settings (grace period, keep-alive, body limit, …).
    pub http: HttpSettings,
    /// Changes to the partner's config.
    pub tune: Box<dyn FnOnce(&mut PartnerConfig) + Send>,
    /// How long a job waits for a client to re-attach.
    pub reattach_window: Duration,
    /// Each tenant's request allowance (`None`: no limit).
    pub rate: Option<txclass_suite::rate::RateSettings>,
}

/// How the server carries HTTP/1.1: its own fast path for SSE responses, or hyper for
/// every connection (`http1_fast_path`). HTTP/2 is hyper's either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `http1_fast_path = true` (the default).
    FastPath,
    /// `http1_fast_path = false`.
    Hyper,
}

impl Transport {
    /// `opts`, served on this transport.
    pub fn options(self, mut opts: Options) -> Options {
        opts.http.http1_fast_path = self == Transport::FastPath;
        opts
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sim: SimulatorConfig::instant(),
            capacity: 4,
            http: HttpSettings {
                retry_workers: 2,
                ..HttpSettings::default()
            },
            tune: Box::new(|_| {}),
            reattach_window: Settings::default().reattach_window,
            rate: None,
        }
    }
}

/// A running simulator + server.
pub struct TestServer {
    /// The server's `GET /openapi.json`, read when first needed.
    contract: tokio::sync::OnceCell<Arc<Contract>>,
    /// The simulator (the partner `bank`).
    pub sim: SimulatorHandle,
    /// The server's orchestrator (for its limiter and store).
    pub orch: Orchestrator,
    /// The server's base URL.
    pub base: String,
    /// An HTTP client.
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<txclass_server::Result<()>>>,
}

/// Starts the simulator and the server on `127.0.0.1:0`.
pub async fn start(opts: Options) -> TestServer {
    let sim = Simulator::bind(0, opts.sim).await.expect("simulator binds");
    let mut partner =
        PartnerConfig::new(PARTNER, sim.url(), NonZeroU32::new(opts.capacity).unwrap());
    partner.timeout = Duration::from_millis(500);
    partner.page_size = NonZeroU32::new(PAGE_SIZE).unwrap();
    partner.retry.base_backoff = Duration::from_millis(20);
    partner.retry.max_backoff = Duration::from_millis(200);
    partner.circuit.open_for = Duration::from_millis(200);
    (opts.tune)(&mut partner);
    let mut builder = Orchestrator::builder();
    if let Some(rate) = opts.rate {
        builder = builder.request_rate(rate);
    }
    let orch = builder
        .partner(partner)
        .store(Arc::new(SqliteStore::in_memory().unwrap()))
        .settings(Settings {
            acquire_wait: Duration::from_millis(20),
            job_deadline: Duration::from_secs(60),
            worker_poll: Duration::from_millis(50),
            reattach_window: opts.reattach_window,
            ..Settings::default()
        })
        .build()
        .expect("orchestrator builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel();
    let server = Server::new(orch.clone(), opts.http);
    let task = tokio::spawn(run(listener, server, async move {
        let _ = rx.await;
    }));
    TestServer {
        contract: tokio::sync::OnceCell::new(),
        sim,
        orch,
        base,
        client: reqwest::Client::new(),
        shutdown: Some(tx),
        task: Some(task),
    }
}

/// One SSE event, parsed by `eventsource-stream`.
#[derive(Clone, Debug)]
pub struct Ev {
    /// `event:`.
    pub name: String,
    /// `id:`.
    pub id: String,
    /// `data:`, parsed.
    pub data: Value,
}

impl TestServer {
    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The standard request body for `customer`.
    pub fn body(customer: &str) -> Value {
        serde_json::json!({
            "customer_id": customer,
            "partner_id": PARTNER,
            "from": from().to_string(),
            "to": to().to_string(),
        })
    }

    /// POSTs a classification and returns the event stream (asserting the SSE headers).
    pub async fn stream(&self, body: &Value) -> impl Stream<Item = Ev> + Unpin {
        let res = self
            .client
            .post(self.url("/v1/classifications"))
            .json(body)
            .send()
            .await
            .expect("request sent");
        assert_eq!(res.status(), 200, "{:?}", res.text().await);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        assert_eq!(res.headers()["cache-control"], "no-cache");
        assert_eq!(res.headers()["x-accel-buffering"], "no");
        events_of(res, self.contract().await)
    }

    /// This server's `GET /openapi.json`, compiled.
    pub async fn contract(&self) -> Arc<Contract> {
        self.contract
            .get_or_init(|| async {
                let res = self.client.get(self.url("/openapi.json")).send().await;
                let doc: Value = res.expect("GET /openapi.json").json().await.unwrap();
                Arc::new(Contract::of(&doc))
            })
            .await
            .clone()
    }
}

/// The SSE events of a response, each checked against its schema.
pub fn events_of(
    res: reqwest::Response,
    schemas: Arc<Contract>,
) -> futures::stream::BoxStream<'static, Ev> {
    res.bytes_stream()
        .eventsource()
        .map(move |r| {
            let e = r.expect("well-formed SSE");
            let ev = Ev {
                name: e.event,
                id: e.id,
                data: serde_json::from_str(&e.data).expect("data is JSON"),
            };
            let retry = e.retry.map(|r| r.as_millis() as u64);
            schemas.check(&ev, &e.data, retry);
            ev
        })
        .boxed()
}

/// The served `/openapi.json`, compiled: `ProgressEvent`, one SSE event (`event`, `id`,
/// `retry`, and `data` whose JSON text has the event's own schema, its `contentSchema`), and
/// every JSON response schema by method, path template and status.
pub struct Contract {
    schemas: boon::Schemas,
    event: boon::SchemaIndex,
    responses: HashMap<(String, String, u16), boon::SchemaIndex>,
}

impl Contract {
    /// The schemas of `doc`, a served `/openapi.json`.
    pub fn of(doc: &Value) -> Self {
        const AT: &str = "file:///openapi.json";
        let mut compiler = boon::Compiler::new();
        compiler.set_default_draft(boon::Draft::V2020_12);
        compiler.enable_format_assertions();
        compiler.enable_content_assertions();
        compiler.add_resource(AT, doc.clone()).unwrap();
        let mut schemas = boon::Schemas::new();
        let mut compile = |pointer: &str| {
            compiler
                .compile(&format!("{AT}#{pointer}"), &mut schemas)
                .unwrap_or_else(|e| panic!("{pointer}: {e:#}"))
        };
        let event = compile("/components/schemas/ProgressEvent");
        let escape = |s: &str| s.replace('~', "~0").replace('/', "~1");
        let mut responses = HashMap::new();
        for (template, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("a path item") {
                for (status, res) in op["responses"].as_object().expect("responses") {
                    if res["content"].get("application/json").is_none() {
                        continue;
                    }
                    let pointer = format!(
                        "/paths/{}/{method}/responses/{status}/content/application~1json/schema",
                        escape(template)
                    );
                    let key = (
                        method.to_uppercase(),
                        template.clone(),
                        status.parse().unwrap(),
                    );
                    responses.insert(key, compile(&pointer));
                }
            }
        }
        Self {
            schemas,
            event,
            responses,
        }
    }

    /// Panics unless the event is one the document describes: its name, id, retry and the
    /// JSON of its `data` (`raw`).
    pub fn check(&self, ev: &Ev, raw: &str, retry: Option<u64>) {
        let mut event = serde_json::json!({ "event": ev.name, "id": ev.id, "data": raw });
        if let Some(ms) = retry {
            event["retry"] = ms.into();
        }
        if let Err(e) = self.schemas.validate(&event, self.event) {
            panic!("SSE event breaks ProgressEvent: {e:#}: {event}");
        }
    }

    /// Panics unless `body` is what the document says `method template` answers with
    /// `status`.
    pub fn check_json(&self, method: &str, template: &str, status: u16, body: &Value) {
        let key = (method.to_owned(), template.to_owned(), status);
        let schema = self
            .responses
            .get(&key)
            .unwrap_or_else(|| panic!("{method} {template} documents no JSON {status}"));
        if let Err(e) = self.schemas.validate(body, *schema) {
            panic!("{method} {template} {status}: the body breaks its schema: {e:#}: {body}");
        }
    }
}

impl TestServer {
    /// `GET /v1/classifications/{job}/events` with `Last-Event-ID: last` (when given).
    pub async fn reattach(&self, job: &str, last: Option<&str>) -> impl Stream<Item = Ev> + Unpin {
        let mut req = self
            .client
            .get(self.url(&format!("/v1/classifications/{job}/events")));
        if let Some(last) = last {
            req = req.header("last-event-id", last);
        }
        let res = req.send().await.expect("request sent");
        assert_eq!(res.status(), 200, "{:?}", res.text().await);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        events_of(res, self.contract().await)
    }

    /// POSTs a classification and collects its events to the end.
    pub async fn run_job(&self, customer: &str) -> Vec<Ev> {
        let s = self.stream(&Self::body(customer)).await;
        tokio::time::timeout(Duration::from_secs(60), s.collect::<Vec<_>>())
            .await
            .expect("job ends within a minute")
    }

    /// GET returning JSON and status.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let res = self.client.get(self.url(path)).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap())
    }

    /// Every stored transaction id of `customer`, through the HTTP API (paginated), sorted.
    pub async fn stored_ids(&self, customer: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/customers/{customer}/transactions?limit=97");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, page) = self.get(&path).await;
            assert_eq!(status, 200, "{page}");
            for t in page["items"].as_array().unwrap() {
                ids.push(t["id"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        ids.sort();
        ids
    }

    /// Every stored transaction id of `customer`, read from the store itself, sorted.
    pub async fn stored_ids_direct(&self, customer: &str) -> Vec<String> {
        super::store_ids::stored_ids(self.orch.store().as_ref(), customer).await
    }

    /// What the simulator holds for `customer` in the test window, sorted ids.
    pub fn expected_ids(&self, customer: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .sim
            .transactions(customer, from(), to())
            .into_iter()
            .map(|t| t.id)
            .collect();
        ids.sort();
        ids
    }

    /// Permits in use for the partner.
    pub async fn in_use(&self) -> u32 {
        self.orch.limiter().in_use(&PARTNER.into()).await.unwrap()
    }

    /// Signals shutdown (the server keeps running its grace period).
    pub fn trigger_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Signals shutdown and waits for `run` to return.
    pub async fn stop(mut self) {
        self.trigger_shutdown();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("server stops")
                .expect("server task")
                .expect("server ran");
        }
    }

    /// Waits for `run` to return after a shutdown signal.
    pub async fn join(&mut self) {
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("server stops")
                .expect("server task")
                .expect("server ran");
        }
    }
}

/// Polls `f` every 20 ms until it is true, at most `secs` seconds.
pub async fn eventually<F, Fut>(secs: u64, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Checks the shape every complete stream has: `accepted` first with the job id, ids
/// `<job_id>:<seq>` counting from 1, one terminal event last; returns the job id.
pub fn check_framing(events: &[Ev]) -> String {
    assert!(!events.is_empty(), "no events");
    assert_eq!(events[0].name, "accepted", "{events:?}");
    let job = events[0].data["job_id"].as_str().unwrap().to_owned();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.id, format!("{job}:{}", i + 1), "{events:?}");
        let terminal = e.name == "done" || e.name == "failed";
        assert_eq!(
            terminal,
            i == events.len() - 1,
            "terminal only last: {events:?}"
        );
    }
    job
}

/// Names of the events, for assertions.
pub fn names(events: &[Ev]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_str()).collect()
}

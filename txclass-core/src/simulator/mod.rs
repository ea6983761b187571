//! A partner simulator: an HTTP server that behaves like a bank's transaction API, for the
//! demo (the server's built-in `sandbox` partner) and for tests and benchmarks.
//!
//! It serves the wire contract of [`HttpPartner`](crate::partner::HttpPartner): paginated,
//! deterministic statement lines per customer; latency drawn from a configured range;
//! injected 5xx and hangs (timeouts); `429` with `Retry-After` whenever more calls are in
//! flight than its capacity; outages on command; and it counts the **most concurrent calls it
//! ever saw**, so a test can prove a limiter held.
//!
//! Admin endpoints: `GET /admin/stats`, `POST /admin/reset`, `POST /admin/outage`
//! (`{"down": true}`), `PUT /admin/faults` (a [`Faults`] JSON).
//! Customers whose id starts with `missing-` do not exist (404).

mod data;

pub use data::merchants;

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::NaiveDate;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::domain::Transaction;
use crate::partner::{Page, Secret};
use crate::sync::Lock;

/// Failures the simulator injects. Rates are probabilities per call, in `[0, 1]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Share of calls answered `500`.
    pub error_rate: f64,
    /// Share of calls answered `503` with `Retry-After` (a transient overload).
    pub unavailable_rate: f64,
    /// Share of calls that hang for `hang_ms` before answering (the client times out).
    pub timeout_rate: f64,
    /// How long a hanging call hangs.
    pub hang_ms: u64,
    /// `Retry-After` seconds sent with 429 and 503.
    pub retry_after_secs: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            error_rate: 0.0,
            unavailable_rate: 0.0,
            timeout_rate: 0.0,
            hang_ms: 30_000,
            retry_after_secs: 1,
        }
    }
}

/// How the simulator behaves.
#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    /// Calls served at once; above it the simulator answers 429. `None`: no cap.
    pub capacity: Option<u32>,
    /// Shortest latency of a call.
    pub latency_min: Duration,
    /// Longest latency of a call (uniform between the two).
    pub latency_max: Duration,
    /// Average transactions per customer per day.
    pub tx_per_day: f64,
    /// Largest page it serves (a bigger `limit` is cut to this).
    pub max_page_size: u32,
    /// Bearer token it requires, if any.
    pub token: Option<Secret>,
    /// Seed of the data and of the fault draws.
    pub seed: u64,
    /// Injected failures.
    pub faults: Faults,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            capacity: None,
            latency_min: Duration::from_millis(20),
            latency_max: Duration::from_millis(120),
            tx_per_day: 3.0,
            max_page_size: 200,
            token: None,
            seed: 42,
            faults: Faults::default(),
        }
    }
}

impl SimulatorConfig {
    /// No latency, no faults: for benchmarks of everything but the partner.
    pub fn instant() -> Self {
        Self {
            latency_min: Duration::ZERO,
            latency_max: Duration::ZERO,
            ..Self::default()
        }
    }
}

/// What the simulator saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Calls to the transactions endpoint.
    pub requests: u64,
    /// Calls in progress now.
    pub in_flight: u32,
    /// The most calls ever in progress at once (rejected ones included: they arrived).
    pub max_concurrent: u32,
    /// Transactions served.
    pub transactions_served: u64,
    /// Answers by status code.
    pub by_status: BTreeMap<u16, u64>,
    /// Highest `X-Fencing-Token` seen.
    pub max_fencing_token: u64,
    /// Distinct pages (customer, window, cursor) answered with 200.
    pub pages_served: u64,
    /// Answers with 200 for a page that had been answered with 200 before: a client that
    /// keeps its checkpoints fetches each page once.
    pub pages_served_again: u64,
    /// Up to 20 of the pages answered with 200 more than once, as `customer@offset`.
    pub pages_served_again_sample: Vec<String>,
}

struct Shared {
    config: SimulatorConfig,
    faults: Mutex<Faults>,
    rng: Mutex<StdRng>,
    down: AtomicBool,
    requests: AtomicU64,
    in_flight: AtomicU32,
    max_concurrent: AtomicU32,
    served: AtomicU64,
    /// 200 answers per page: (customer, from, to, offset).
    page_fetches: Mutex<HashMap<(String, NaiveDate, NaiveDate, usize), u32>>,
    max_token: AtomicU64,
    by_status: Mutex<BTreeMap<u16, u64>>,
}

/// A running simulator. Dropping the handle stops accepting connections.
pub struct SimulatorHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SimulatorHandle {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What it saw so far.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Starts or ends an outage (every call answered 503 while down).
    pub fn set_outage(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Replaces the injected failures.
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.locked() = faults;
    }

    /// Zeroes the counters (not `in_flight`).
    pub fn reset_stats(&self) {
        self.shared.reset();
    }

    /// What the simulator serves for `customer` in `[from, to]`: what a job must store.
    pub fn transactions(&self, customer: &str, from: NaiveDate, to: NaiveDate) -> Vec<Transaction> {
        data::window(
            self.shared.config.seed,
            customer,
            from,
            to,
            self.shared.config.tx_per_day,
        )
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn shutdown(self) {
        self.task.abort();
    }
}

/// The simulator.
pub struct Simulator;

impl Simulator {
    /// Serves on `listener` until the handle is dropped.
    pub fn start(
        listener: TcpListener,
        config: SimulatorConfig,
    ) -> std::io::Result<SimulatorHandle> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            faults: Mutex::new(config.faults.clone()),
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            config,
            down: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
            max_concurrent: AtomicU32::new(0),
            served: AtomicU64::new(0),
            page_fetches: Mutex::new(HashMap::new()),
            max_token: AtomicU64::new(0),
            by_status: Mutex::new(BTreeMap::new()),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let s = s.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let s = s.clone();
                        async move { Ok::<_, Infallible>(s.handle(req).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(SimulatorHandle { addr, shared, task })
    }

    /// Binds `127.0.0.1:port` (0 for any free port) and serves.
    pub async fn bind(port: u16, config: SimulatorConfig) -> std::io::Result<SimulatorHandle> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        Self::start(listener, config)
    }
}

type Resp = Response<Full<Bytes>>;

fn json(status: StatusCode, body: &impl Serialize) -> Resp {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(
            serde_json::to_vec(body).expect("serialises"),
        )))
        .expect("valid response")
}

fn error(status: StatusCode, message: &str) -> Resp {
    json(status, &serde_json::json!({ "error": message }))
}

/// Decrements `in_flight` when a call ends, however it ends.
struct InFlight<'a>(&'a AtomicU32);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Deserialize)]
struct TxParams {
    from: NaiveDate,
    to: NaiveDate,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
}

impl Shared {
    fn stats(&self) -> Stats {
        let (pages_served, pages_served_again, pages_served_again_sample) = {
            let fetches = self.page_fetches.locked();
            let again = fetches.values().map(|n| u64::from(n - 1)).sum();
            let mut sample: Vec<String> = fetches
                .iter()
                .filter(|(_, n)| **n > 1)
                .map(|((c, _, _, offset), _)| format!("{c}@{offset}"))
                .collect();
            sample.sort();
            sample.truncate(20);
            (fetches.len() as u64, again, sample)
        };
        Stats {
            requests: self.requests.load(Ordering::SeqCst),
            in_flight: self.in_flight.load(Ordering::SeqCst),
            max_concurrent: self.max_concurrent.load(Ordering::SeqCst),
            transactions_served: self.served.load(Ordering::SeqCst),
            by_status: self.by_status.locked().clone(),
            max_fencing_token: self.max_token.load(Ordering::SeqCst),
            pages_served,
            pages_served_again,
            pages_served_again_sample,
        }
    }

    fn reset(&self) {
        self.requests.store(0, Ordering::SeqCst);
        self.max_concurrent
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
        self.served.store(0, Ordering::SeqCst);
        self.max_token.store(0, Ordering::SeqCst);
        self.by_status.locked().clear();
        self.page_fetches.locked().clear();
    }

    async fn handle(&self, req: Request<Incoming>) -> Resp {
        let path = req.uri().path().to_owned();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (req.method().clone(), segments.as_slice()) {
            (Method::GET, ["health"]) => {
                if self.down.load(Ordering::SeqCst) {
                    error(StatusCode::SERVICE_UNAVAILABLE, "down for maintenance")
                } else {
                    json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
                }
            }
            (Method::GET, ["admin", "stats"]) => json(StatusCode::OK, &self.stats()),
            (Method::POST, ["admin", "reset"]) => {
                self.reset();
                json(StatusCode::OK, &self.stats())
            }
            (Method::POST, ["admin", "outage"]) => {
                #[derive(Deserialize)]
                struct Outage {
                    down: bool,
                }
                match read_json::<Outage>(req).await {
                    Ok(o) => {
                        self.down.store(o.down, Ordering::SeqCst);
                        json(StatusCode::OK, &serde_json::json!({"down": o.down}))
                    }
                    Err(r) => r,
                }
            }
            (Method::PUT, ["admin", "faults"]) => match read_json::<Faults>(req).await {
                Ok(f) => {
                    *self.faults.locked() = f.clone();
                    json(StatusCode::OK, &f)
                }
                Err(r) => r,
            },
            (Method::GET, ["customers", customer, "transactions"]) => {
                let customer = percent_encoding::percent_decode_str(customer)
                    .decode_utf8_lossy()
                    .into_owned();
                let resp = self.transactions(&req, &customer).await;
                *self
                    .by_status
                    .locked()
                    .entry(resp.status().as_u16())
                    .or_default() += 1;
                resp
            }
            _ => error(StatusCode::NOT_FOUND, "no such route"),
        }
    }

    async fn transactions(&self, req: &Request<Incoming>, customer: &str) -> Resp {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let _in_flight = InFlight(&self.in_flight);
        self.max_concurrent.fetch_max(now, Ordering::SeqCst);
        if let Some(token) = req
            .headers()
            .get("x-fencing-token")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            self.max_token.fetch_max(token, Ordering::SeqCst);
        }
        let faults = self.faults.locked().clone();
        let retry_after = faults.retry_after_secs.to_string();
        if let Some(cap) = self.config.capacity {
            if now > cap {
                let mut r = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many concurrent requests",
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, retry_after.parse().expect("digits"));
                return r;
            }
        }
        if let Some(token) = &self.config.token {
            let expected = format!("Bearer {}", token.expose());
            let given = req
                .headers()
                .get(header::AUTHORIZATION)
                .map(|v| v.as_bytes());
            if given != Some(expected.as_bytes()) {
                return error(StatusCode::UNAUTHORIZED, "missing or wrong credentials");
            }
        }
        // Draw everything random up front, under one short lock.
        let (latency, fail, unavailable, hang) = {
            let mut rng = self.rng.locked();
            let (lo, hi) = (
                self.config.latency_min,
                self.config.latency_max.max(self.config.latency_min),
            );
            let latency = if hi > lo { rng.gen_range(lo..=hi) } else { lo };
            (
                latency,
                rng.gen_bool(faults.error_rate.clamp(0.0, 1.0)),
                rng.gen_bool(faults.unavailable_rate.clamp(0.0, 1.0)),
                rng.gen_bool(faults.timeout_rate.clamp(0.0, 1.0)),
            )
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if self.down.load(Ordering::SeqCst) {
            return error(StatusCode::SERVICE_UNAVAILABLE, "down for maintenance");
        }
        if hang {
            tokio::time::sleep(Duration::from_millis(faults.hang_ms)).await;
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream core banking timed out",
            );
        }
        if fail {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
        if unavailable {
            let mut r = error(StatusCode::SERVICE_UNAVAILABLE, "temporarily overloaded");
            r.headers_mut()
                .insert(header::RETRY_AFTER, retry_after.parse().expect("digits"));
            return r;
        }
        if customer.starts_with("missing-") {
            return error(StatusCode::NOT_FOUND, "unknown customer");
        }
        let query = req.uri().query().unwrap_or("");
        let params: TxParams = match parse_query(query) {
            Ok(p) => p,
            Err(e) => return error(StatusCode::BAD_REQUEST, &e),
        };
        if params.from > params.to {
            return error(StatusCode::BAD_REQUEST, "from is after to");
        }
        let limit = params
            .limit
            .unwrap_or(50)
            .clamp(1, self.config.max_page_size) as usize;
        let offset: usize = match params.cursor.as_deref().map(str::parse) {
            None => 0,
            Some(Ok(o)) => o,
            Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "bad cursor"),
        };
        let all = data::window(
            self.config.seed,
            customer,
            params.from,
            params.to,
            self.config.tx_per_day,
        );
        let end = (offset + limit).min(all.len());
        let transactions = all.get(offset..end).unwrap_or_default().to_vec();
        self.served
            .fetch_add(transactions.len() as u64, Ordering::SeqCst);
        *self
            .page_fetches
            .locked()
            .entry((customer.to_owned(), params.from, params.to, offset))
            .or_default() += 1;
        json(
            StatusCode::OK,
            &Page {
                transactions,
                next_cursor: (end < all.len()).then(|| end.to_string()),
            },
        )
    }
}

/// Reads the query string into `TxParams`.
fn parse_query(query: &str) -> Result<TxParams, String> {
    let mut map = serde_json::Map::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = match k.as_ref() {
            "limit" => serde_json::Value::from(v.parse::<u32>().map_err(|_| "bad limit")?),
            _ => serde_json::Value::from(v.into_owned()),
        };
        map.insert(k.into_owned(), value);
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| e.to_string())
}

async fn read_json<T: serde::de::DeserializeOwned>(req: Request<Incoming>) -> Result<T, Resp> {
    let body = req
        .into_body()
        .collect()
        .await
        .map_err(|_| error(StatusCode::BAD_REQUEST, "unreadable body"))?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| error(StatusCode::BAD_REQUEST, &e.to_string()))
}

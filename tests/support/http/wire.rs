//! HTTP/1.1 on the wire, over raw TCP: keep-alive and pipelining after a stream, heads
//! split across writes, the head limit (431), JSON errors on a connection that lives on,
//! and shutdown of idle connections.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use txclass_server::HttpSettings;

use crate::support::server::{start, Options, TestServer, Transport};

/// A response read off the wire.
#[derive(Debug)]
pub(super) struct Raw {
    pub(super) status: u16,
    head: String,
    pub(super) body: Vec<u8>,
}

impl Raw {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    pub(super) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// SSE event names in the body.
    pub(super) fn events(&self) -> Vec<String> {
        self.text()
            .lines()
            .filter_map(|l| l.strip_prefix("event: ").map(str::to_owned))
            .collect()
    }
}

/// A raw HTTP/1.1 connection with its own read buffer.
pub(super) struct Conn {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub(super) async fn open(s: &TestServer) -> Self {
        let tcp = TcpStream::connect(s.base.trim_start_matches("http://"))
            .await
            .unwrap();
        tcp.set_nodelay(true).unwrap();
        Self {
            tcp,
            buf: Vec::new(),
        }
    }

    pub(super) async fn send(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.unwrap();
    }

    /// Reads more bytes; false at EOF.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(20), self.tcp.read(&mut chunk))
            .await
            .expect("the server answers in time")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    async fn until(&mut self, pattern: &[u8]) -> usize {
        loop {
            if let Some(at) = self.buf.windows(pattern.len()).position(|w| w == pattern) {
                return at;
            }
            assert!(
                self.fill().await,
                "EOF before {:?} in {:?}",
                String::from_utf8_lossy(pattern),
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    async fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill().await, "EOF in a body");
        }
        self.buf.drain(..n).collect()
    }

    /// Reads the response head only.
    pub(super) async fn head(&mut self) -> (u16, String) {
        let end = self.until(b"\r\n\r\n").await;
        let head = String::from_utf8(self.buf.drain(..end + 4).collect()).unwrap();
        let status = head[9..12].parse().unwrap();
        (status, head)
    }

    /// Reads one whole response (Content-Length or chunked).
    pub(super) async fn response(&mut self) -> Raw {
        let (status, head) = self.head().await;
        let mut raw = Raw {
            status,
            head,
            body: Vec::new(),
        };
        if let Some(n) = raw.header("content-length") {
            raw.body = self.take(n.parse().unwrap()).await;
        } else if raw.header("transfer-encoding") == Some("chunked") {
            loop {
                let end = self.until(b"\r\n").await;
                let line: Vec<u8> = self.buf.drain(..end + 2).collect();
                let size =
                    usize::from_str_radix(std::str::from_utf8(&line[..end]).unwrap(), 16).unwrap();
                let chunk = self.take(size + 2).await;
                assert_eq!(&chunk[size..], b"\r\n");
                if size == 0 {
                    break;
                }
                raw.body.extend_from_slice(&chunk[..size]);
            }
        }
        raw
    }

    /// True once the server has closed the connection (EOF), within a few seconds.
    pub(super) async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.tcp.read(&mut chunk)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

pub(super) fn submit(body: &str, extra: &str) -> Vec<u8> {
    format!(
        "POST /v1/classifications HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub(super) fn job_body(customer: &str) -> String {
    TestServer::body(customer).to_string()
}

pub(super) const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n";

fn bench_options() -> Options {
    Options {
        http: HttpSettings {
            bench_routes: true,
            retry_workers: 1,
            ..HttpSettings::default()
        },
        ..Options::default()
    }
}

pub async fn the_connection_serves_more_requests_after_a_stream(t: Transport) {
    let s = start(t.options(bench_options())).await;
    let mut c = Conn::open(&s).await;
    c.send(&submit(&job_body("k-1"), "")).await;
    let res = c.response().await;
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.header("content-type"), Some("text/event-stream"));
    assert_eq!(res.header("cache-control"), Some("no-cache"));
    assert_eq!(res.header("x-accel-buffering"), Some("no"));
    assert!(res.header("date").is_some_and(|d| d.ends_with(" GMT")));
    let events = res.events();
    assert_eq!(events.first().map(String::as_str), Some("accepted"));
    assert_eq!(
        events.last().map(String::as_str),
        Some("done"),
        "{events:?}"
    );

    // Keep-alive: a plain GET on the same connection (served by hyper).
    c.send(HEALTHZ).await;
    let res = c.response().await;
    assert_eq!(
        (res.status, res.json()["status"].as_str()),
        (200, Some("ok"))
    );

    // Pipelined: two streams and a GET in one write, answered in order.
    let mut batch = b"GET /v1/bench/sse?events=4 HTTP/1.1\r\nhost: t\r\n\r\n".to_vec();
    batch.extend_from_slice(b"GET /v1/bench/sse?events=3 HTTP/1.1\r\nhost: t\r\n\r\n");
    batch.extend_from_slice(HEALTHZ);
    let mut c = Conn::open(&s).await;
    c.send(&batch).await;
    assert_eq!(c.response().await.events().len(), 4);
    assert_eq!(c.response().await.events().len(), 3);
    assert_eq!(c.response().await.json()["status"], "ok");

    // `Connection: close`: one answer, then the server closes.
    let mut c = Conn::open(&s).await;
    c.send(b"GET /v1/bench/sse?events=2 HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
        .await;
    let res = c.response().await;
    assert_eq!(res.header("connection"), Some("close"));
    assert_eq!(res.events(), ["accepted", "done"]);
    assert!(c.closed().await);
    s.stop().await;
}

pub async fn a_head_split_across_writes_is_read_whole(t: Transport) {
    let s = start(t.options(Options::default())).await;
    let mut c = Conn::open(&s).await;
    let request = submit(&job_body("k-2"), "x-filler: abcdefghijklmnopqrstuvwxyz\r\n");
    for piece in request.chunks(7) {
        c.send(piece).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let res = c.response().await;
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.events().last().map(String::as_str), Some("done"));
    assert_eq!(s.stored_ids("k-2").await, s.expected_ids("k-2"));
    s.stop().await;
}

/// The limit is above 8 KiB: hyper's buffer, which holds the head on its transport, is
/// never smaller.
pub async fn an_oversized_head_is_a_431(t: Transport) {
    let s = start(t.options(Options {
        http: HttpSettings {
            max_header_bytes: 16 * 1024,
            ..HttpSettings::default()
        },
        ..Options::default()
    }))
    .await;
    let mut c = Conn::open(&s).await;
    let pad = format!("x-pad: {}\r\n", "p".repeat(20_000));
    c.send(&submit(&job_body("k-3"), &pad)).await;
    let res = c.response().await;
    assert_eq!(res.status, 431, "{res:?}");
    if t == Transport::FastPath {
        // hyper answers a head over its buffer itself, with an empty body.
        assert_eq!(res.json()["error"]["code"], "header_too_large");
    }
    assert!(c.closed().await);
    // Just under the limit is fine.
    let mut c = Conn::open(&s).await;
    let pad = format!("x-pad: {}\r\n", "p".repeat(12_000));
    c.send(&submit(&job_body("k-3"), &pad)).await;
    assert_eq!(c.response().await.status, 200);
    s.stop().await;
}

pub async fn bad_bodies_get_the_same_json_errors_and_the_connection_lives_on(t: Transport) {
    let s = start(t.options(Options::default())).await;
    let mut c = Conn::open(&s).await;
    c.send(&submit("{\"customer_id\": ", "")).await;
    let res = c.response().await;
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"]["code"], "malformed_json");

    let mut body = TestServer::body("k-5");
    body["from"] = "2026-13-01".into();
    c.send(&submit(&body.to_string(), "")).await;
    let res = c.response().await;
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"]["code"], "invalid_request");
    assert_eq!(res.json()["error"]["field"], "from");

    let mut body = TestServer::body("k-5");
    body["partner_id"] = "nobank".into();
    c.send(&submit(&body.to_string(), "")).await;
    let res = c.response().await;
    assert_eq!(res.status, 404);
    assert_eq!(res.json()["error"]["code"], "unknown_partner");

    // No body at all: the empty body is malformed JSON, as on the hyper path.
    c.send(b"POST /v1/classifications HTTP/1.1\r\nhost: t\r\n\r\n")
        .await;
    let res = c.response().await;
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"]["code"], "malformed_json");

    // Routes that are not SSE still answer (hyper, after the fast path read the head).
    c.send(b"GET /v1/classifications HTTP/1.1\r\nhost: t\r\n\r\n")
        .await;
    let res = c.response().await;
    assert_eq!(res.status, 405);
    assert_eq!(res.header("allow"), Some("POST"));
    s.stop().await;
}

pub async fn shutdown_closes_idle_connections(t: Transport) {
    let mut s = start(t.options(bench_options())).await;
    let mut idle = Conn::open(&s).await;
    idle.send(b"GET /v1/bench/sse?events=2 HTTP/1.1\r\nhost: t\r\n\r\n")
        .await;
    assert_eq!(idle.response().await.events().len(), 2);
    // A connection that never sent anything.
    let mut silent = Conn::open(&s).await;
    // Accepted (the server answers on it) before the shutdown signal.
    let mut probe = Conn::open(&s).await;
    probe.send(HEALTHZ).await;
    assert_eq!(probe.response().await.status, 200);
    s.trigger_shutdown();
    assert!(
        idle.closed().await,
        "the idle keep-alive connection is closed"
    );
    assert!(silent.closed().await, "the silent connection is closed");
    tokio::time::timeout(Duration::from_secs(5), s.join())
        .await
        .expect("the server stops without waiting for idle connections");
}

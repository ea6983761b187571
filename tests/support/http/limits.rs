//! Connection limits and request hygiene: idle and half-open HTTP/2 connections are closed,
//! a client that stops reading is cut off, slow bodies get a 408, and both transports give
//! the same answer to the same bytes (`Host`, transfer codings, odd bytes in the target,
//! control characters in ids).

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use txclass_server::{ConnectionLimits, HttpSettings};

use super::wire::{job_body, submit, Conn};
use crate::support::server::{start, Options, TestServer, Transport};

/// The HTTP/2 connection preface and an empty SETTINGS frame.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";

/// Short limits, so each can be seen to act within a test.
fn limits() -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_millis(600),
        body_read_timeout: Duration::from_millis(400),
        handshake_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(500),
        send_timeout: Duration::from_millis(500),
        http2_max_concurrent_streams: 4.try_into().unwrap(),
        ..ConnectionLimits::default()
    }
}

fn options(t: Transport) -> Options {
    t.options(Options {
        http: HttpSettings {
            bench_routes: true,
            retry_workers: 1,
            connections: limits(),
            ..HttpSettings::default()
        },
        ..Options::default()
    })
}

async fn connect(s: &TestServer) -> TcpStream {
    let tcp = TcpStream::connect(s.base.trim_start_matches("http://"))
        .await
        .unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp
}

/// Reads (and drops) until the server closes the connection; how long that took.
async fn until_closed(tcp: &mut TcpStream, within: Duration) -> Duration {
    let started = Instant::now();
    let mut scratch = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match tcp.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the server did not close the connection within {within:?}"));
    started.elapsed()
}

pub async fn an_idle_http2_connection_is_closed(t: Transport) {
    let s = start(options(t)).await;
    let l = limits();
    // The preface and SETTINGS, then nothing.
    let mut tcp = connect(&s).await;
    tcp.write_all(PREFACE).await.unwrap();
    let took = until_closed(&mut tcp, Duration::from_secs(10)).await;
    assert!(
        took >= l.idle_timeout - Duration::from_millis(50),
        "{took:?}"
    );
    // It never answers the GOAWAY's PING either: dropped a second after it.
    assert!(
        took < l.idle_timeout * 3 + Duration::from_secs(1),
        "{took:?}"
    );

    // A connection that served a request is idle from the end of its last response.
    let (mut h2, conn) = h2_client(&s, 65_535).await;
    let (status, _) = h2_get(&mut h2, "/healthz").await;
    assert_eq!(status, 200);
    let ended = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), conn)
        .await
        .expect("the server closes the idle connection")
        .ok();
    let took = ended.elapsed();
    assert!(
        took >= l.idle_timeout - Duration::from_millis(50),
        "{took:?}"
    );
    assert!(took < l.idle_timeout * 3, "{took:?}");
    s.stop().await;
}

pub async fn a_dripping_preface_is_closed(t: Transport) {
    let s = start(options(t)).await;
    let mut tcp = connect(&s).await;
    let started = Instant::now();
    // One byte every 50 ms: the whole preface would take 1.6 s.
    let mut closed = false;
    for &b in PREFACE {
        if tcp.write_all(&[b]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !closed {
        until_closed(&mut tcp, Duration::from_secs(1)).await;
    }
    let took = started.elapsed();
    // Handed to hyper once "PRI " arrived (200 ms), closed a handshake timeout later.
    assert!(took < Duration::from_millis(1_200), "{took:?}");
    s.stop().await;
}

/// An HTTP/2 client over a fresh connection whose receive window per stream is `window`
/// bytes; the connection task is returned to be awaited (it ends when the server closes).
async fn h2_client(
    s: &TestServer,
    window: u32,
) -> (
    h2::client::SendRequest<Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let tcp = connect(s).await;
    let (send, conn) = h2::client::Builder::new()
        .initial_window_size(window)
        .handshake(tcp)
        .await
        .expect("h2 handshake");
    (send, tokio::spawn(conn))
}

async fn h2_get(h2: &mut h2::client::SendRequest<Bytes>, path: &str) -> (u16, Bytes) {
    let req = http::Request::get(format!("http://test{path}"))
        .body(())
        .unwrap();
    let (res, _) = h2.send_request(req, true).unwrap();
    let res = res.await.unwrap();
    let status = res.status().as_u16();
    let mut body = res.into_body();
    let mut all = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        body.flow_control().release_capacity(chunk.len()).unwrap();
        all.extend_from_slice(&chunk);
    }
    (status, all.into())
}

pub async fn a_client_that_stops_reading_http2_is_cut_off(t: Transport) {
    let s = start(options(t)).await;
    let l = limits();
    let (mut h2, conn) = h2_client(&s, 1024).await;
    // Long streams the client never reads.
    let mut held = Vec::new();
    for _ in 0..l.http2_max_concurrent_streams.get() {
        let req = http::Request::get("http://test/v1/bench/sse?events=1000000")
            .body(())
            .unwrap();
        h2 = h2.ready().await.unwrap();
        let (res, _) = h2.send_request(req, true).unwrap();
        let res = res.await.unwrap();
        assert_eq!(res.status(), 200);
        held.push(res);
    }
    let stalled = Instant::now();
    // The server's cap is what the client may open at once: one more waits.
    assert_eq!(
        h2.current_max_send_streams(),
        l.http2_max_concurrent_streams.get() as usize
    );
    let req = http::Request::get("http://test/healthz").body(()).unwrap();
    let (extra, _) = h2.send_request(req, true).unwrap();
    let extra = tokio::time::timeout(Duration::from_millis(200), extra).await;
    assert!(extra.is_err(), "a stream over the cap was served");
    // No byte taken for the send timeout: the connection is closed, freeing its streams.
    let ended = tokio::time::timeout(Duration::from_secs(10), conn)
        .await
        .expect("the server closes the connection of a client that does not read");
    let took = stalled.elapsed();
    assert!(took < l.send_timeout * 3, "{took:?} ({ended:?})");
    drop(held);
    // Other clients are served as before.
    let (mut h2, _conn) = h2_client(&s, 65_535).await;
    assert_eq!(h2_get(&mut h2, "/healthz").await.0, 200);
    s.stop().await;
}

pub async fn a_client_that_stops_reading_http1_is_cut_off(t: Transport) {
    let s = start(options(t)).await;
    let mut tcp = connect(&s).await;
    tcp.write_all(b"GET /v1/bench/sse?events=1000000 HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    // Not a byte read: the socket's buffers fill, then the send timeout runs.
    tokio::time::sleep(limits().send_timeout * 4).await;
    // What was buffered drains, then the connection ends: far fewer bytes than the stream
    // of a million events (over 60 MB) that a server still sending would deliver.
    let mut drained = 0usize;
    let mut scratch = vec![0u8; 64 * 1024];
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(n @ 1..) = tcp.read(&mut scratch).await {
            drained += n;
        }
    })
    .await
    .expect("the connection ends");
    assert!(drained < 16 << 20, "{drained} bytes: the stream went on");
    s.stop().await;
}

pub async fn a_slow_request_body_is_a_408(t: Transport) {
    let s = start(options(t)).await;
    let body = job_body("slow-1");
    for query in ["", "?mode=async"] {
        let mut c = Conn::open(&s).await;
        // The head and a few bytes of the body, then silence.
        let request = format!(
            "POST /v1/classifications{query} HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\n\r\n{}",
            body.len(),
            &body[..5]
        );
        c.send(request.as_bytes()).await;
        let started = Instant::now();
        let res = c.response().await;
        assert_eq!(res.status, 408, "{query:?} {res:?}");
        assert_eq!(res.json()["error"]["code"], "request_timeout");
        assert!(started.elapsed() < limits().body_read_timeout * 3);
        assert!(
            c.closed().await,
            "{query:?}: the connection is closed after a 408"
        );
    }
    // A chunk that announces more than will ever come.
    let mut c = Conn::open(&s).await;
    c.send(
        b"POST /v1/classifications HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n\
          ffffffffffffffff\r\n012345678901234567890123456789012345678901234567890123456789",
    )
    .await;
    let res = c.response().await;
    assert_eq!(res.status, 408, "{res:?}");
    // The same over HTTP/2: a body stream that never ends.
    let (mut h2, _conn) = h2_client(&s, 65_535).await;
    let req = http::Request::post("http://test/v1/classifications")
        .body(())
        .unwrap();
    let (res, mut body_tx) = h2.send_request(req, false).unwrap();
    body_tx
        .send_data(Bytes::from_static(b"{\"cus"), false)
        .unwrap();
    let res = tokio::time::timeout(Duration::from_secs(5), res)
        .await
        .expect("answered within the body timeout")
        .unwrap();
    assert_eq!(res.status(), 408);
    s.stop().await;
}

/// What a raw request got: status, content type and body.
async fn answer(s: &TestServer, request: &[u8]) -> (u16, Option<String>, Vec<u8>) {
    let mut c = Conn::open(s).await;
    c.send(request).await;
    let res = c.response().await;
    (
        res.status,
        res.header("content-type").map(str::to_owned),
        res.body,
    )
}

fn error_of(body: &[u8]) -> (String, Option<String>) {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(body)));
    (
        v["error"]["code"].as_str().unwrap().to_owned(),
        v["error"]["field"].as_str().map(str::to_owned),
    )
}

pub async fn host_and_transfer_codings_follow_rfc_9112(t: Transport) {
    let s = start(options(t)).await;
    let body = job_body("host-1");
    let post = |headers: &str| {
        format!(
            "POST /v1/classifications HTTP/1.1\r\n{headers}content-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    for headers in ["", "host: a\r\nhost: b\r\n"] {
        let (status, kind, body) = answer(&s, &post(headers)).await;
        assert_eq!(status, 400, "{headers:?}");
        assert_eq!(kind.as_deref(), Some("application/json"));
        assert_eq!(
            error_of(&body),
            ("invalid_request".into(), Some("Host".into()))
        );
    }
    // HTTP/1.0 needs no Host.
    let (status, ..) = answer(&s, b"GET /healthz HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 200);
    for coding in ["gzip, chunked", "chunked, gzip", "deflate"] {
        let request = format!(
            "POST /v1/classifications HTTP/1.1\r\nhost: t\r\ntransfer-encoding: {coding}\r\n\r\n0\r\n\r\n"
        );
        let (status, _, body) = answer(&s, request.as_bytes()).await;
        // hyper refuses a coding list that does not end in chunked itself (400).
        if coding.ends_with("chunked") {
            assert_eq!(status, 501, "{coding}");
            assert_eq!(error_of(&body).0, "unsupported_transfer_coding");
        } else {
            assert!(status == 400 || status == 501, "{coding}: {status}");
        }
    }
    // Plain chunked is read.
    let chunked = format!(
        "POST /v1/classifications HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let mut c = Conn::open(&s).await;
    c.send(chunked.as_bytes()).await;
    let res = c.response().await;
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.events().last().map(String::as_str), Some("done"));
    s.stop().await;
}

pub async fn ids_with_control_characters_are_refused(t: Transport) {
    let s = start(options(t)).await;
    for id in ["a\0b", "a\nb", "a\rb", "\u{7f}", "tab\there"] {
        let mut body = TestServer::body("x");
        body["customer_id"] = id.into();
        let body = body.to_string();
        let (status, kind, answer_body) = answer(&s, &submit(&body, "")).await;
        assert_eq!(status, 400, "{id:?}");
        assert_eq!(kind.as_deref(), Some("application/json"));
        assert_eq!(
            error_of(&answer_body),
            ("invalid_request".into(), Some("customer_id".into())),
            "{id:?}"
        );
    }
    for escaped in ["a%00b", "a%0Ab", "%7F"] {
        let request =
            format!("GET /v1/customers/{escaped}/transactions HTTP/1.1\r\nhost: t\r\n\r\n");
        let (status, _, body) = answer(&s, request.as_bytes()).await;
        assert_eq!(status, 400, "{escaped}");
        assert_eq!(
            error_of(&body),
            ("invalid_request".into(), Some("path".into()))
        );
    }
    s.stop().await;
}

/// Sends `target` (as raw bytes) to each server and returns the answers side by side.
async fn both(fast: &TestServer, hyper: &TestServer, request: &[u8]) -> [(u16, Vec<u8>); 2] {
    let mut out = Vec::new();
    for s in [fast, hyper] {
        let (status, kind, body) = answer(s, request).await;
        // Bodies that carry a job id differ by it; compare their kind and event names.
        let body = if kind.as_deref() == Some("text/event-stream") {
            b"sse".to_vec()
        } else {
            body
        };
        out.push((status, body));
    }
    [out[0].clone(), out[1].clone()]
}

/// Every byte but the ones that end a request line, in the path and in the query of both
/// SSE routes: the fast path and hyper give the same status and body.
pub async fn both_transports_answer_every_byte_in_the_target_alike() {
    let fast = start(options(Transport::FastPath)).await;
    let hyper = start(options(Transport::Hyper)).await;
    let mut body = TestServer::body("sweep");
    body["partner_id"] = "nobank".into();
    let body = body.to_string();
    let mut statuses = std::collections::BTreeSet::new();
    for b in (0u8..=255).filter(|b| !matches!(b, b' ' | b'\r' | b'\n')) {
        let targets: [Vec<u8>; 4] = [
            [b"/v1/classifications?x".as_slice(), &[b]].concat(),
            [b"/v1/classifications".as_slice(), &[b]].concat(),
            [b"/v1/bench/sse?events=2".as_slice(), &[b]].concat(),
            [b"/v1/bench/sse/".as_slice(), &[b], b"?events=2"].concat(),
        ];
        for (i, target) in targets.iter().enumerate() {
            let method: &[u8] = if i < 2 { b"POST " } else { b"GET " };
            let mut request = [method, target, b" HTTP/1.1\r\nhost: t\r\n"].concat();
            if i < 2 {
                request.extend_from_slice(
                    format!("content-length: {}\r\n\r\n{body}", body.len()).as_bytes(),
                );
            } else {
                request.extend_from_slice(b"\r\n");
            }
            let [a, h] = both(&fast, &hyper, &request).await;
            assert_eq!(
                a,
                h,
                "byte {b:#04x} in {:?}",
                String::from_utf8_lossy(target)
            );
            statuses.insert(a.0);
        }
    }
    // The sweep reached the application (200 streams, 404 unknown partner) and hyper's
    // refusal of a target (400).
    assert!(
        [200, 400, 404].iter().all(|s| statuses.contains(s)),
        "{statuses:?}"
    );
    fast.stop().await;
    hyper.stop().await;
}

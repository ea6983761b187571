//! Misbehaving clients for the connection-limit benchmark (benches/conn_limits.sh): each mode
//! opens many connections that do one thing wrong, then reports, every `STEP` seconds, how
//! many the server still keeps open, until all are closed or `SECS` have passed.
//!
//! Usage: `cargo bench --bench conn_limits -- MODE ADDR N [SECS]`, MODE one of
//!
//! - `idle`: N HTTP/2 connections send the preface and SETTINGS, then nothing;
//! - `drip`: N connections send the HTTP/2 preface one byte every 10 s;
//! - `slow-body`: N `POST /v1/classifications?mode=async` (the hyper path) whose body
//!   arrives one byte every 10 s;
//! - `huge-chunk`: N chunked requests announcing a chunk of `ffffffffffffffff` bytes and
//!   sending 60;
//! - `no-read PATH STREAMS`: N HTTP/2 clients each open STREAMS streams of `GET PATH` and
//!   never read a byte of the bodies (their flow-control windows stay full); prints how many
//!   streams were answered.
//!
//! Each line: `t=<s> open=<connections still open>`; the last: `all closed after <s> s` or
//! `still open after <s> s: <n>`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";
const STEP: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (mode, addr, n) = match &args[..] {
        [mode, addr, n, ..] => (mode.clone(), addr.clone(), n.parse::<usize>().expect("N")),
        _ => {
            // `cargo test --all-targets` runs benches without arguments: nothing to do then.
            println!("usage: conn_limits MODE ADDR N [SECS] (see the file's docs)");
            return;
        }
    };
    let secs: u64 = args.get(3).map_or(120, |s| s.parse().expect("SECS"));
    let open = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (addr, open, answered) = (addr.clone(), open.clone(), answered.clone());
        let mode = mode.clone();
        let extra = args[4..].to_vec();
        tasks.push(tokio::spawn(async move {
            let mut tcp = TcpStream::connect(&addr).await.expect("connect");
            open.fetch_add(1, Ordering::SeqCst);
            match mode.as_str() {
                "idle" => {
                    let _ = tcp.write_all(PREFACE).await;
                    until_closed(&mut tcp).await;
                }
                "drip" => drip(&mut tcp, PREFACE).await,
                "slow-body" => {
                    let body = br#"{"customer_id":"c","partner_id":"sandbox","months":1}"#;
                    let head = format!(
                        "POST /v1/classifications?mode=async HTTP/1.1\r\nhost: b\r\n\
                         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    );
                    let _ = tcp.write_all(head.as_bytes()).await;
                    drip(&mut tcp, body).await;
                }
                "huge-chunk" => {
                    let request = b"POST /v1/classifications HTTP/1.1\r\nhost: b\r\n\
                        transfer-encoding: chunked\r\n\r\nffffffffffffffff\r\n\
                        012345678901234567890123456789012345678901234567890123456789";
                    let _ = tcp.write_all(request).await;
                    until_closed(&mut tcp).await;
                }
                "no-read" => {
                    let [path, streams] = &extra[..] else {
                        panic!("no-read needs PATH STREAMS");
                    };
                    no_read(tcp, path, streams.parse().expect("STREAMS"), &answered).await;
                }
                other => panic!("unknown mode {other}"),
            }
            open.fetch_sub(1, Ordering::SeqCst);
        }));
    }
    let started = Instant::now();
    while open.load(Ordering::SeqCst) < n && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    loop {
        tokio::time::sleep(STEP).await;
        let t = started.elapsed().as_secs_f64();
        let now = open.load(Ordering::SeqCst);
        let answered = answered.load(Ordering::SeqCst);
        if mode == "no-read" {
            println!("t={t:.0} open={now} streams_answered={answered}");
        } else {
            println!("t={t:.0} open={now}");
        }
        if now == 0 {
            println!("all closed after {t:.0} s");
            break;
        }
        if started.elapsed() >= Duration::from_secs(secs) {
            println!("still open after {t:.0} s: {now}");
            break;
        }
    }
    for t in tasks {
        t.abort();
    }
}

/// Reads (and drops) until the server closes the connection.
async fn until_closed(tcp: &mut TcpStream) {
    let mut scratch = [0u8; 4096];
    while let Ok(n) = tcp.read(&mut scratch).await {
        if n == 0 {
            break;
        }
    }
}

/// Sends `bytes` one every 10 s, reading what the server says, until it closes.
async fn drip(tcp: &mut TcpStream, bytes: &[u8]) {
    let (mut read, mut write) = tcp.split();
    let sender = async {
        for b in bytes {
            if write.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        std::future::pending::<()>().await;
    };
    let reader = async {
        let mut scratch = [0u8; 4096];
        while let Ok(n) = read.read(&mut scratch).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::select! {
        _ = sender => {}
        _ = reader => {}
    }
}

/// An HTTP/2 client that opens `streams` requests for `path` and never reads their bodies.
async fn no_read(tcp: TcpStream, path: &str, streams: usize, answered: &AtomicUsize) {
    let Ok((mut send, conn)) = h2::client::handshake(tcp).await else {
        return;
    };
    let conn = tokio::spawn(conn);
    let mut held = Vec::new();
    for _ in 0..streams {
        let req = http::Request::get(format!("http://bench{path}"))
            .body(())
            .expect("request");
        let Ok(ready) = send.ready().await else {
            break;
        };
        send = ready;
        let Ok((res, _)) = send.send_request(req, true) else {
            break;
        };
        held.push(tokio::spawn(async move { res.await.ok() }));
    }
    let mut bodies = Vec::new();
    for h in held {
        if let Ok(Some(res)) = h.await {
            answered.fetch_add(1, Ordering::SeqCst);
            bodies.push(res);
        }
    }
    // The bodies are held, never read, until the server closes the connection.
    let _ = conn.await;
    drop(bodies);
}

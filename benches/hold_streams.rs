//! Holds many idle SSE streams open over HTTP/2 (benches/sse_throughput.sh, part b): C
//! connections, each multiplexing S streams of `GET /v1/bench/sse?events=2&hold=true`.
//!
//! Usage: `cargo bench --bench hold_streams -- URL CONNECTIONS STREAMS_PER_CONNECTION HOLD_SECS`.
//! Prints `open N` once every stream has received its first event, holds them HOLD_SECS
//! seconds, then closes them and exits.

use std::time::Duration;

use futures::StreamExt;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [url, conns, per_conn, hold] = &args[..] else {
        // `cargo test --all-targets` runs benches without arguments: nothing to hold then.
        println!("usage: hold_streams URL CONNECTIONS STREAMS_PER_CONNECTION HOLD_SECS");
        return;
    };
    let conns: usize = conns.parse().expect("connections");
    let per_conn: usize = per_conn.parse().expect("streams per connection");
    let hold: u64 = hold.parse().expect("hold seconds");
    let mut tasks = Vec::new();
    for _ in 0..conns {
        // One client per connection: reqwest multiplexes a client's requests on one HTTP/2
        // connection.
        let client = reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .expect("client");
        for _ in 0..per_conn {
            let client = client.clone();
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let res = client.get(&url).send().await.expect("request");
                assert_eq!(res.version(), reqwest::Version::HTTP_2);
                let mut body = res.bytes_stream();
                let mut seen = Vec::new();
                while !seen.windows(2).any(|w| w == b"\n\n") {
                    let chunk = body.next().await.expect("stream open").expect("chunk");
                    seen.extend_from_slice(&chunk);
                }
                body
            }));
        }
    }
    let mut open = Vec::with_capacity(tasks.len());
    for t in tasks {
        open.push(t.await.expect("stream task"));
    }
    println!("open {}", open.len());
    tokio::time::sleep(Duration::from_secs(hold)).await;
    drop(open);
}

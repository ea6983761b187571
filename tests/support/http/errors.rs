//! Bad requests get JSON errors with the right status and, where one is at fault, the field.

use serde_json::{json, Value};
use txclass_server::HttpSettings;

use super::wire::{job_body, submit, Conn};
use crate::support::server::{start, Options, TestServer, Transport};

async fn post(s: &TestServer, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let res = s
        .client
        .post(s.url("/v1/classifications"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    assert_eq!(res.headers()["content-type"], "application/json");
    (status, res.json().await.unwrap())
}

fn error(v: &Value) -> (&str, Option<&str>) {
    let e = &v["error"];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    (e["code"].as_str().unwrap(), e["field"].as_str())
}

pub async fn invalid_fields_are_named(t: Transport) {
    let s = start(t.options(Options::default())).await;
    let base = TestServer::body("c-1");
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b.to_string()
    };
    let cases = [
        (with("from", json!("2026-13-01")), "from"),
        (with("to", json!("yesterday")), "to"),
        (with("from", json!("2026-04-01")), "from"), // after `to`
        (with("to", json!("2031-01-01")), "to"),     // window too long
        (with("customer_id", json!(" ")), "customer_id"),
        (with("customer_id", json!(42)), "customer_id"),
        (with("months", json!(3)), "months"), // both months and dates
        (
            json!({"partner_id": "bank", "from": "2026-01-01", "to": "2026-01-31"}).to_string(),
            "customer_id",
        ),
        (
            json!({"customer_id": "c", "partner_id": "bank", "to": "2026-01-31"}).to_string(),
            "from",
        ),
        (
            json!({"customer_id": "c", "partner_id": "bank", "months": 0}).to_string(),
            "months",
        ),
        (with("colour", json!("blue")), "colour"),
    ];
    for (body, field) in cases {
        let (status, v) = post(&s, body.clone()).await;
        assert_eq!(status, 400, "{body} → {v}");
        assert_eq!(error(&v), ("invalid_request", Some(field)), "{body} → {v}");
    }
    s.stop().await;
}

pub async fn malformed_json_is_a_400(t: Transport) {
    let s = start(t.options(Options::default())).await;
    for body in [
        "{\"customer_id\": ",
        "not json",
        "{\"customer_id\":\"c\",\"partner_id\":\"bank\",\"months\":1} {}",
        "",
    ] {
        let (status, v) = post(&s, body).await;
        assert_eq!(status, 400, "{body:?} → {v}");
        assert_eq!(error(&v).0, "malformed_json", "{body:?} → {v}");
    }
    s.stop().await;
}

pub async fn unknown_partner_is_a_404(t: Transport) {
    let s = start(t.options(Options::default())).await;
    let mut body = TestServer::body("c-1");
    body["partner_id"] = json!("nobank");
    let (status, v) = post(&s, body.to_string()).await;
    assert_eq!(status, 404);
    assert_eq!(error(&v).0, "unknown_partner");
    let (status, v) = s.get("/v1/partners/nobank/health").await;
    assert_eq!((status, error(&v).0), (404, "unknown_partner"));
    s.stop().await;
}

/// A body over the limit: declared, chunked, not yet sent, or behind `Expect: 100-continue`.
pub async fn a_body_over_the_limit_is_a_413(t: Transport) {
    let s = start(t.options(Options {
        http: HttpSettings {
            body_limit: 1024,
            ..HttpSettings::default()
        },
        ..Options::default()
    }))
    .await;
    let mut body = TestServer::body("c-1");
    body["pad"] = json!("x".repeat(4096));
    let (status, v) = post(&s, body.to_string()).await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(error(&v).0, "payload_too_large");
    // Same without a Content-Length (chunked): the limit still holds.
    let chunks =
        futures::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(bytes_of(&"y".repeat(512)))));
    let (status, v) = post(&s, reqwest::Body::wrap_stream(chunks)).await;
    assert_eq!(status, 413, "{v}");

    // Over raw TCP: the answer comes before the body is read, then the server closes.
    let big = format!("{{\"customer_id\":\"{}\"}}", "c".repeat(4096));
    let mut c = Conn::open(&s).await;
    c.send(&submit(&big, "")).await;
    let res = c.response().await;
    assert_eq!(res.status, 413, "{res:?}");
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.json()["error"]["code"], "payload_too_large");
    // Neither transport reads a refused body to its end: the connection closes (the fast
    // path after a linger), and hyper's answer says so (`connection: close`), or a client
    // would send its next request on a connection being closed.
    if t == Transport::Hyper {
        assert_eq!(res.header("connection"), Some("close"), "{res:?}");
    }
    assert!(c.closed().await);

    // With `Expect: 100-continue` the 413 comes without a `100 Continue` and no body sent.
    let mut c = Conn::open(&s).await;
    c.send(
        format!(
            "POST /v1/classifications HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\n\
             expect: 100-continue\r\n\r\n",
            big.len()
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(c.response().await.status, 413);

    // Under the limit, `100 Continue` first, then the stream.
    let body = job_body("k-4");
    let mut c = Conn::open(&s).await;
    c.send(
        format!(
            "POST /v1/classifications HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\n\
             expect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await;
    let (status, _) = c.head().await;
    assert_eq!(status, 100);
    c.send(body.as_bytes()).await;
    let res = c.response().await;
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.events().last().map(String::as_str), Some("done"));
    s.stop().await;
}

fn bytes_of(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

pub async fn wrong_method_and_unknown_routes(t: Transport) {
    let s = start(t.options(Options::default())).await;
    let res = s
        .client
        .get(s.url("/v1/classifications"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    let v: Value = res.json().await.unwrap();
    assert_eq!(error(&v).0, "method_not_allowed");
    let res = s.client.delete(s.url("/v1/partners")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET");
    // `Allow` lists every method the path takes, not only the one the request fell on.
    for (method, path, allow) in [
        (reqwest::Method::POST, "/v1/rules/r-1", "GET, PUT, DELETE"),
        (reqwest::Method::PUT, "/v1/rules", "GET, POST"),
        (
            reqwest::Method::PUT,
            "/v1/classifications/j-1",
            "GET, DELETE",
        ),
    ] {
        let res = s.client.request(method, s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 405, "{path}");
        assert_eq!(res.headers()["allow"], allow, "{path}");
    }

    // `/` is the web console (its own tests: txclass-server/tests/console.rs).
    for path in [
        "/nothing-here",
        "/v2/classifications",
        "/v1/customers/c-1",
        "/v1/bench/sse",
    ] {
        let (status, v) = s.get(path).await;
        assert_eq!((status, error(&v).0), (404, "not_found"), "{path}");
    }
    let (status, v) = s.get("/v1/classifications/no-such-job").await;
    assert_eq!((status, error(&v).0), (404, "unknown_job"));
    s.stop().await;
}

pub async fn bad_query_parameters_are_named(t: Transport) {
    let s = start(t.options(Options::default())).await;
    for (path, field) in [
        ("/v1/customers/c/transactions?limit=abc", "limit"),
        ("/v1/customers/c/transactions?limit=0", "limit"),
        ("/v1/customers/c/transactions?from=2026-02-30", "from"),
        ("/v1/customers/c/transactions?cursor=garbage", "cursor"),
        ("/v1/customers/c/transactions?colour=red", "colour"),
        ("/v1/customers/c/transactions?explain=maybe", "explain"),
        ("/v1/customers/c/spending?interval=week", "interval"),
        ("/v1/customers/c/spending?level=finest", "level"),
        (
            "/v1/customers/c/transactions?sub_category=restaurants/cofee",
            "sub_category",
        ),
        (
            "/v1/customers/c/transactions?category=restaurants/cofee",
            "category",
        ),
        (
            "/v1/customers/c/transactions?sub_category=coffee",
            "sub_category",
        ),
        ("/v1/customers/c/merchants?limit=0", "limit"),
        ("/v1/customers/c/merchants?limit=x", "limit"),
    ] {
        let (status, v) = s.get(path).await;
        assert_eq!(status, 400, "{path} → {v}");
        assert_eq!(error(&v), ("invalid_request", Some(field)), "{path} → {v}");
    }
    s.stop().await;
}

//! API keys and tenants: every operation of the served OpenAPI document is walked without a
//! key, with a bad key, and with tenant B's key against tenant A's objects. An operation the
//! walk does not know fails the test, so a route added later must say what B gets from it.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};
use txclass_server::{AuthSettings, HttpSettings};
use txclass_suite::auth::KeyFile;
use txclass_suite::TenantId;

use crate::support::server::{start, Options, TestServer, Transport};

/// A client that sends `key` on every request.
fn client_with(key: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    let mut value = HeaderValue::from_str(&format!("Bearer {key}")).unwrap();
    value.set_sensitive(true);
    headers.insert(AUTHORIZATION, value);
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// A keys file in `dir` with one key for each of `tenants`.
fn keys<const N: usize>(dir: &std::path::Path, tenants: [&str; N]) -> (KeyFile, [String; N]) {
    let file = KeyFile::new(dir.join("keys.json"));
    let keys = tenants.map(|t| {
        file.create(TenantId::new(t).unwrap(), None, None)
            .unwrap()
            .key
    });
    (file, keys)
}

/// What tenant A owns, by which B's answers are searched.
struct Owned {
    job: String,
    rule: String,
    tx: String,
    customer: String,
}

/// Runs one job of A's to its end, corrects one of its transactions and adds a rule.
async fn populate(s: &TestServer, a: &reqwest::Client) -> Owned {
    let customer = "a-customer".to_owned();
    let res = a
        .post(s.url("/v1/classifications"))
        .json(&TestServer::body(&customer))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut job = String::new();
    let mut events = crate::support::server::events_of(res, s.contract().await);
    while let Some(ev) = events.next().await {
        job = ev.data["job_id"].as_str().unwrap_or(&job).to_owned();
    }
    assert!(!job.is_empty());
    let (status, page) = get(
        a,
        &s.url(&format!("/v1/customers/{customer}/transactions?limit=1")),
    )
    .await;
    assert_eq!(status, 200);
    let tx = page["items"][0]["id"].as_str().unwrap().to_owned();
    let res = a
        .post(s.url(&format!(
            "/v1/customers/{customer}/transactions/{tx}/category"
        )))
        .json(&json!({ "category": "shopping" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let res = a
        .post(s.url("/v1/rules"))
        .json(&json!({
            "id": "a-rule",
            "scope": { "kind": "customer", "customer_id": customer },
            "stage": "pre",
            "conditions": { "description_matches": "." },
            "action": { "category": "education" },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    Owned {
        job,
        rule: "a-rule".into(),
        tx,
        customer,
    }
}

async fn get(c: &reqwest::Client, url: &str) -> (u16, Value) {
    let res = c.get(url).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// One request of the walk: its method and path (A's ids filled in) and body.
fn request(method: &str, template: &str, a: &Owned) -> (String, Option<Value>) {
    let path = template
        .replace(
            "/v1/classifications/{id}",
            &format!("/v1/classifications/{}", a.job),
        )
        .replace(
            "/v1/customers/{id}",
            &format!("/v1/customers/{}", a.customer),
        )
        .replace("{tx}", &a.tx)
        .replace("/v1/rules/{id}", &format!("/v1/rules/{}", a.rule))
        .replace("/v1/partners/{id}", "/v1/partners/bank")
        .replace("{file}", "console.js");
    let body = match (method, template) {
        ("post", "/v1/classifications") => Some(TestServer::body("b-customer")),
        ("post", "/v1/customers/{id}/transactions/{tx}/category") => {
            Some(json!({ "category": "transport" }))
        }
        ("post", "/v1/rules") => Some(json!({
            "id": "b-rule", "stage": "pre",
            "conditions": { "description_matches": "." }, "action": { "category": "transport" },
        })),
        ("put", "/v1/rules/{id}") => Some(json!({
            "stage": "pre", "conditions": { "description_matches": "." },
            "action": { "category": "transport" },
        })),
        ("post", "/v1/enrich") => Some(json!({
            "customer_id": a.customer,
            "transactions": [{ "id": "b-row", "date": "2026-02-01", "description": "PADARIA", "amount": "-5.00", "currency": "BRL" }],
        })),
        _ => None,
    };
    (path, body)
}

/// What B may get from an operation on A's objects.
enum Expect {
    /// Needs no key.
    Public,
    /// `404`: A's object does not exist for B.
    NotFound,
    /// `2xx` with none of A's data (B's own, or the shared configuration).
    Own,
}

fn expect(method: &str, template: &str) -> Option<Expect> {
    Some(match (method, template) {
        (
            "get",
            "/healthz" | "/readyz" | "/openapi.json" | "/" | "/console/{file}" | "/metrics",
        )
        | ("delete", "/v1/session") => Expect::Public,
        ("get" | "delete", "/v1/classifications/{id}")
        | ("get", "/v1/classifications/{id}/events")
        | ("post", "/v1/classifications/{id}/events-token")
        | ("post", "/v1/customers/{id}/transactions/{tx}/category")
        | ("get" | "put" | "delete", "/v1/rules/{id}") => Expect::NotFound,
        ("post", "/v1/classifications" | "/v1/rules" | "/v1/enrich" | "/v1/session")
        | (
            "get",
            "/v1/customers/{id}/transactions"
            | "/v1/customers/{id}/spending"
            | "/v1/customers/{id}/merchants"
            | "/v1/customers/{id}/corrections"
            | "/v1/rules"
            | "/v1/categories"
            | "/v1/taxonomy"
            | "/v1/partners"
            | "/v1/partners/{id}/health",
        ) => Expect::Own,
        _ => return None,
    })
}

pub async fn tenants_never_see_each_others_data(t: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let (file, [key_a, key_b]) = keys(dir.path(), ["acme", "globex"]);
    let s = start(t.options(Options {
        http: HttpSettings {
            auth: Some(AuthSettings::new(file.path())),
            retry_workers: 2,
            ..HttpSettings::default()
        },
        ..Options::default()
    }))
    .await;
    let (a, b) = (client_with(&key_a), client_with(&key_b));
    let a_owns = populate(&s, &a).await;
    let a_markers = [&a_owns.job, &a_owns.rule, &a_owns.tx];
    let doc: Value = s
        .client
        .get(s.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let forged = client_with(&format!("{}x", &key_b[..key_b.len() - 1]));
    let mut walked = BTreeSet::new();
    for (template, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let Some(expect) = expect(method, template) else {
                panic!("{method} {template}: the tenant walk does not know this operation");
            };
            walked.insert(format!("{method} {template}"));
            let (path, body) = request(method, template, &a_owns);
            let send = |c: &reqwest::Client| {
                let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let mut r = c.request(m, s.url(&path)).timeout(Duration::from_secs(30));
                if let Some(b) = &body {
                    r = r.json(b);
                }
                r.send()
            };
            if matches!(expect, Expect::Public) {
                let res = send(&s.client).await.unwrap();
                assert_ne!(res.status(), 401, "{method} {path} is public");
                continue;
            }
            // No key, a forged key: 401 with a JSON body and a challenge; nothing done.
            for (who, c) in [("no key", &s.client), ("a forged key", &forged)] {
                let res = send(c).await.unwrap();
                assert_eq!(res.status(), 401, "{method} {path} with {who}");
                assert_eq!(
                    res.headers()["www-authenticate"],
                    "Bearer realm=\"txclass\"",
                    "{method} {path}"
                );
                let e: Value = res.json().await.unwrap();
                assert_eq!(e["error"]["code"], "unauthorized", "{method} {path}: {e}");
                assert!(!e.to_string().contains(&key_b[8..]), "no key in {e}");
            }
            // B's key on A's objects.
            let res = send(&b).await.unwrap();
            let status = res.status().as_u16();
            let text = if path.ends_with("/events") && status == 200 {
                panic!("{method} {path}: B streams A's job")
            } else {
                res.text().await.unwrap()
            };
            match expect {
                // The answer names only the id B sent.
                Expect::NotFound => {
                    assert_eq!(status, 404, "{method} {path}: {text}");
                    let e: Value = serde_json::from_str(&text).unwrap();
                    let code = e["error"]["code"].as_str().unwrap();
                    assert!(code.starts_with("unknown_"), "{method} {path}: {text}");
                }
                Expect::Own => {
                    assert!(
                        (200..300).contains(&status),
                        "{method} {path}: {status} {text}"
                    );
                    for marker in a_markers {
                        assert!(
                            !text.contains(marker.as_str()),
                            "{method} {path} gave B {marker:?}: {text}"
                        );
                    }
                }
                Expect::Public => unreachable!(),
            }
        }
    }
    assert!(
        walked.len() >= 20,
        "the document lists the routes: {walked:?}"
    );

    // A's objects are untouched by B's attempts.
    let (status, job) = get(&a, &s.url(&format!("/v1/classifications/{}", a_owns.job))).await;
    assert_eq!(status, 200);
    assert_eq!(job["job"]["status"], "done", "{job}");
    let (_, rule) = get(&a, &s.url("/v1/rules/a-rule")).await;
    assert_eq!(rule["action"]["category"], "education", "{rule}");
    let (_, page) = get(
        &a,
        &s.url(&format!("/v1/customers/{}/corrections", a_owns.customer)),
    )
    .await;
    assert_eq!(page["corrections"][0]["category"], "shopping", "{page}");
    // B sees only its own job and rule.
    let (_, rules) = get(&b, &s.url("/v1/rules")).await;
    let ids: Vec<&str> = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["b-rule"], "{rules}");

    // A revoked key stops working once the servers read the file again (within seconds).
    let id = key_b[4..16].to_owned();
    file.revoke(&id).unwrap().unwrap();
    let refused = crate::support::server::eventually(5, || async {
        get(&b, &s.url("/v1/rules")).await.0 == 401
    })
    .await;
    assert!(refused, "a revoked key is refused");
    let (status, body) = get(&b, &s.url("/v1/rules")).await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{body}"
    );
    assert_eq!(
        get(&a, &s.url("/v1/rules")).await.0,
        200,
        "A's key still works"
    );
    s.stop().await;
}

/// A tenant past its allowance gets `429` with `Retry-After` and a JSON body, on every route
/// that needs a key (the job stream too); another tenant, and the health routes, do not.
pub async fn a_tenant_past_its_rate_gets_429(t: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let (file, [key_a, key_b]) = keys(dir.path(), ["acme", "globex"]);
    let s = start(t.options(Options {
        http: HttpSettings {
            auth: Some(AuthSettings::new(file.path())),
            ..HttpSettings::default()
        },
        rate: Some(txclass_suite::rate::RateSettings {
            per_second: 0.2,
            burst: 3,
        }),
        ..Options::default()
    }))
    .await;
    let (a, b) = (client_with(&key_a), client_with(&key_b));
    for _ in 0..3 {
        assert_eq!(get(&a, &s.url("/v1/rules")).await.0, 200);
    }
    for res in [
        a.get(s.url("/v1/partners")).send().await.unwrap(),
        a.post(s.url("/v1/classifications"))
            .json(&TestServer::body("c-rate"))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(res.status(), 429);
        let wait: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=5).contains(&wait), "{wait}");
        let e: Value = res.json().await.unwrap();
        assert_eq!(e["error"]["code"], "rate_limited", "{e}");
    }
    assert_eq!(
        get(&b, &s.url("/v1/rules")).await.0,
        200,
        "globex has its own allowance"
    );
    assert_eq!(
        get(&s.client, &s.url("/healthz")).await.0,
        200,
        "health needs no allowance"
    );
    s.stop().await;
}

/// A browser's credentials: an events token reads its one job's events without a key (and
/// no other job's, and not after it expires); a console session cookie stands for the key
/// (`HttpOnly`, `SameSite=Strict`) until it is ended.
pub async fn events_tokens_and_console_sessions_stand_for_the_key(t: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let (file, [key]) = keys(dir.path(), ["acme"]);
    let mut auth = AuthSettings::new(file.path());
    auth.events_token_ttl = Duration::from_secs(2);
    let s = start(t.options(Options {
        http: HttpSettings {
            auth: Some(auth),
            ..HttpSettings::default()
        },
        ..Options::default()
    }))
    .await;
    let a = client_with(&key);
    let owned = populate(&s, &a).await;
    let other = {
        let res = a
            .post(s.url("/v1/classifications?mode=async"))
            .json(&TestServer::body("a-other"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        res.json::<Value>().await.unwrap()["job_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let res = a
        .post(s.url(&format!("/v1/classifications/{}/events-token", owned.job)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let minted: Value = res.json().await.unwrap();
    let token = minted["token"].as_str().unwrap().to_owned();
    let url = minted["events_url"].as_str().unwrap().to_owned();
    assert!(url.ends_with(&token));
    // No key, just the token: the job's whole log.
    let res = s.client.get(s.url(&url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(text.contains("event: done"), "{text}");
    // Not another job's, not a tampered token, not as a key.
    let elsewhere = format!("/v1/classifications/{other}/events?access_token={token}");
    let tampered = url.replace("access_token=txt_", "access_token=txt_A");
    for path in [elsewhere, tampered] {
        assert_eq!(
            s.client.get(s.url(&path)).send().await.unwrap().status(),
            401,
            "{path}"
        );
    }
    assert_eq!(get(&client_with(&token), &s.url("/v1/rules")).await.0, 401);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let res = s.client.get(s.url(&url)).send().await.unwrap();
    assert_eq!(res.status(), 401, "expired");

    // A console session: the cookie stands for the key.
    let res = a.post(s.url("/v1/session")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    for part in [
        "txclass_session=txt_",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = |path: &str| s.client.get(s.url(path)).header("cookie", &pair).send();
    assert_eq!(with_cookie("/v1/rules").await.unwrap().status(), 200);
    let job = format!("/v1/classifications/{}", owned.job);
    assert_eq!(
        with_cookie(&job).await.unwrap().status(),
        200,
        "the session is acme's"
    );
    let res = s.client.delete(s.url("/v1/session")).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let forged = pair.replace("txclass_session=txt_", "txclass_session=txt_x");
    let res = s
        .client
        .get(s.url("/v1/rules"))
        .header("cookie", forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    s.stop().await;
}

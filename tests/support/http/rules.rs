//! Rules (`/v1/rules`) and enrichment (`POST /v1/enrich`): CRUD with named validation
//! errors, jobs whose stored transactions say which rule classified them, per-currency
//! totals, and enrich calls with per-row errors and their own limits.

use serde_json::{json, Value};

use crate::support::server::{check_framing, from, start, to, Options, TestServer, Transport};

async fn send(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<String>,
) -> (u16, Value, Option<String>) {
    let mut req = s.client.request(method, s.url(path));
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    assert_eq!(res.headers()["content-type"], "application/json");
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, res.json().await.unwrap(), location)
}

/// `(code, field)` of an error body.
fn error(v: &Value) -> (&str, Option<&str>) {
    let e = &v["error"];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    (e["code"].as_str().unwrap(), e["field"].as_str())
}

fn rent_rule() -> Value {
    json!({
        "id": "rent",
        "stage": "pre",
        "order": 10,
        "conditions": { "description_matches": "aluguel\\s+\\w+", "amount_max": "-100.00", "sign": "out" },
        "action": { "category": "rent", "merchant": "Landlord" },
        "stop_processing": true
    })
}

pub async fn rules_crud_round_trips_and_names_bad_fields(t: Transport) {
    let s = start(t.options(Options::default())).await;
    use reqwest::Method as M;

    let (status, created, location) =
        send(&s, M::POST, "/v1/rules", Some(rent_rule().to_string())).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(location.as_deref(), Some("/v1/rules/rent"));
    assert_eq!(created["scope"], json!({"kind": "global"}), "default scope");
    assert_eq!(created["conditions"]["amount_max"], "-100.00");
    let (status, got, _) = send(&s, M::GET, "/v1/rules/rent", None).await;
    assert_eq!((status, &got), (200, &created));

    // Without an id, one is given; a customer's rule is listed for that customer only.
    let mine = json!({
        "scope": { "kind": "customer", "customer_id": "c-9" },
        "conditions": { "description_contains": "padaria" },
        "action": { "category": "groceries" }
    });
    let (status, mine, location) = send(&s, M::POST, "/v1/rules", Some(mine.to_string())).await;
    assert_eq!(status, 201, "{mine}");
    let id = mine["id"].as_str().unwrap().to_owned();
    assert!(!id.is_empty());
    assert_eq!(location, Some(format!("/v1/rules/{id}")));
    let ids = |v: &Value| -> Vec<String> {
        v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, all, _) = send(&s, M::GET, "/v1/rules", None).await;
    let mut both = vec!["rent".to_owned(), id.clone()];
    both.sort();
    assert_eq!(ids(&all), both);
    let (_, c9, _) = send(&s, M::GET, "/v1/rules?customer_id=c-9", None).await;
    assert_eq!(ids(&c9), both);
    let (_, c1, _) = send(&s, M::GET, "/v1/rules?customer_id=c-1", None).await;
    assert_eq!(ids(&c1), ["rent"]);

    // The same id twice is a conflict.
    let (status, v, _) = send(&s, M::POST, "/v1/rules", Some(rent_rule().to_string())).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(error(&v).0, "rule_exists");

    // Bad rules: a 400 naming the field.
    let with = |path: &[&str], value: Value| {
        let mut r = rent_rule();
        r["id"] = json!("other");
        let mut at = &mut r;
        for k in &path[..path.len() - 1] {
            at = &mut at[*k];
        }
        at[path[path.len() - 1]] = value;
        r.to_string()
    };
    let cases = [
        (
            with(&["conditions", "description_matches"], json!("(unclosed")),
            "conditions.description_matches",
        ),
        (
            with(&["conditions", "sign"], json!("sideways")),
            "conditions.sign",
        ),
        (
            with(&["conditions", "currency"], json!("XYZ")),
            "conditions.currency",
        ),
        (
            with(&["conditions", "amount_min"], json!("ten")),
            "conditions.amount_min",
        ),
        (
            with(&["conditions", "colour"], json!("red")),
            "conditions.colour",
        ),
        (with(&["action"], json!({})), "action"),
        (with(&["id"], json!("a b")), "id"),
        (with(&["stage"], json!("during")), "stage"),
        (with(&["conditions"], json!({})), "conditions"),
    ];
    for (body, field) in cases {
        let (status, v, _) = send(&s, M::POST, "/v1/rules", Some(body.clone())).await;
        assert_eq!(status, 400, "{body} → {v}");
        assert_eq!(error(&v), ("invalid_request", Some(field)), "{body} → {v}");
    }
    let (status, v, _) = send(
        &s,
        M::POST,
        "/v1/rules",
        Some(with(
            &["conditions", "description_matches"],
            json!("(unclosed"),
        )),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("regular expression"),
        "{v}"
    );

    // Update: the body replaces the rule; its id must be the path's.
    let mut changed = rent_rule();
    changed["action"]["category"] = json!("housing");
    let (status, v, _) = send(&s, M::PUT, "/v1/rules/rent", Some(changed.to_string())).await;
    assert_eq!(status, 200, "{v}");
    let (_, got, _) = send(&s, M::GET, "/v1/rules/rent", None).await;
    assert_eq!(got["action"]["category"], "housing");
    let (status, v, _) = send(
        &s,
        M::PUT,
        &format!("/v1/rules/{id}"),
        Some(changed.to_string()),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(error(&v), ("invalid_request", Some("id")));
    let (status, v, _) = send(
        &s,
        M::PUT,
        "/v1/rules/nope",
        Some(
            json!({
                "conditions": { "sign": "in" }, "action": { "category": "x" }
            })
            .to_string(),
        ),
    )
    .await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(error(&v).0, "unknown_rule");

    // Delete, then it is gone.
    let (status, v, _) = send(&s, M::DELETE, "/v1/rules/rent", None).await;
    assert_eq!(status, 200, "{v}");
    let (status, v, _) = send(&s, M::GET, "/v1/rules/rent", None).await;
    assert_eq!((status, error(&v).0), (404, "unknown_rule"));
    let (status, _, _) = send(&s, M::DELETE, "/v1/rules/rent", None).await;
    assert_eq!(status, 404);
    let (status, v, _) = send(&s, M::PATCH, "/v1/rules/rent", None).await;
    assert_eq!(status, 405, "{v}");
    s.stop().await;
}

pub async fn a_jobs_transactions_record_the_rule_that_classified_them(t: Transport) {
    let s = start(t.options(Options::default())).await;
    let customer = "c-rules";
    let sim = s.sim.transactions(customer, from(), to());
    // A rule for the text of one of the customer's outgoing lines.
    let needle = sim
        .iter()
        .find(|t| t.amount_minor < 0)
        .map(|t| t.description.clone())
        .unwrap();
    let rule = json!({
        "id": "pinned",
        "conditions": { "description_contains": needle.to_lowercase(), "sign": "out" },
        "action": { "category": "pinned", "merchant": "Pinned Ltd" }
    });
    // Another customer's rule, which must not touch this customer's rows.
    let other = json!({
        "id": "elsewhere",
        "scope": { "kind": "customer", "customer_id": "c-other" },
        "conditions": { "sign": "out" },
        "action": { "category": "elsewhere" }
    });
    for r in [rule, other] {
        let (status, v, _) =
            send(&s, reqwest::Method::POST, "/v1/rules", Some(r.to_string())).await;
        assert_eq!(status, 201, "{v}");
    }
    let events = s.run_job(customer).await;
    check_framing(&events);
    let done = events.last().unwrap();
    assert_eq!(done.name, "done", "{:?}", done.data);

    let mut expected_rule: Vec<String> = sim
        .iter()
        .filter(|t| {
            t.amount_minor < 0
                && t.description
                    .to_lowercase()
                    .contains(&needle.to_lowercase())
        })
        .map(|t| t.id.clone())
        .collect();
    expected_rule.sort();
    assert!(!expected_rule.is_empty());
    let (status, page) = s
        .get(&format!("/v1/customers/{customer}/transactions?limit=1000"))
        .await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), sim.len());
    let mut by_rule: Vec<String> = Vec::new();
    for it in items {
        match it["source"].as_str().unwrap() {
            "rule:pinned" => {
                assert_eq!(it["category"], "pinned", "{it}");
                assert_eq!(it["merchant"], "Pinned Ltd", "{it}");
                assert_eq!(it["probability"], 1.0, "{it}");
                by_rule.push(it["id"].as_str().unwrap().to_owned());
            }
            "model" => assert_ne!(it["category"], "elsewhere", "{it}"),
            other => panic!("unexpected source {other}: {it}"),
        }
    }
    by_rule.sort();
    assert_eq!(by_rule, expected_rule);
    // The rule's merchant name is what top merchants group by.
    let (_, top) = s
        .get(&format!("/v1/customers/{customer}/merchants?limit=1000"))
        .await;
    assert!(
        top["merchants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["merchant"] == "Pinned Ltd"),
        "{top}"
    );

    // Money per currency: the done summary adds up to the simulator's amounts, in BRL.
    let summary = &done.data["summary"];
    let brl = &summary["currencies"]["BRL"];
    assert_eq!(brl["minor_units"], 2);
    assert_eq!(brl["count"], sim.len());
    let money_in: i64 = sim.iter().map(|t| t.amount_minor).filter(|a| *a >= 0).sum();
    let money_out: i64 = sim.iter().map(|t| t.amount_minor).filter(|a| *a < 0).sum();
    assert_eq!(brl["in_minor"], money_in);
    assert_eq!(brl["out_minor"], money_out);
    let pinned: i64 = sim
        .iter()
        .filter(|t| expected_rule.contains(&t.id))
        .map(|t| t.amount_minor)
        .sum();
    assert_eq!(
        summary["categories"]["pinned"]["count"],
        expected_rule.len()
    );
    assert_eq!(
        summary["categories"]["pinned"]["amounts_minor"]["BRL"],
        pinned
    );
    // Spending rows name their currency.
    let (_, spending) = s.get(&format!("/v1/customers/{customer}/spending")).await;
    assert!(spending["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["currency"] == "BRL"));
    s.stop().await;
}

pub async fn enrich_classifies_rows_and_names_bad_ones(t: Transport) {
    let s = start(t.options(Options::default())).await;
    use reqwest::Method as M;
    let (status, v, _) = send(&s, M::POST, "/v1/rules", Some(rent_rule().to_string())).await;
    assert_eq!(status, 201, "{v}");
    let mine = json!({
        "id": "mine",
        "scope": { "kind": "customer", "customer_id": "c-5" },
        "conditions": { "description_contains": "netflix" },
        "action": { "category": "fun", "merchant": "Netflix" }
    });
    let (status, v, _) = send(&s, M::POST, "/v1/rules", Some(mine.to_string())).await;
    assert_eq!(status, 201, "{v}");

    let rows = json!([
        { "id": "a", "date": "2026-03-01", "description": "PIX ALUGUEL MARIA", "amount": "-1500.00", "currency": "BRL" },
        { "id": "b", "date": "2026-03-02", "description": "NETFLIX.COM", "amount": -39.9, "currency": "BRL" },
        { "id": "c", "date": "2026-03-03", "description": "SUPERMERCADO EXTRA", "amount_minor": -1200, "currency": "JPY" },
        { "id": "d", "date": "2026-03-04", "description": "X", "amount": "-1.00" },
        { "id": "e", "date": "2026-03-32", "description": "X", "amount": "-1.00", "currency": "BRL" },
        "not an object"
    ]);
    let body = json!({ "transactions": rows }).to_string();
    let (status, v, _) = send(&s, M::POST, "/v1/enrich", Some(body)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["classified"].as_u64(), v["refused"].as_u64()),
        (Some(3), Some(3))
    );
    let out = v["rows"].as_array().unwrap();
    assert_eq!(out.len(), 6);
    for (i, r) in out.iter().enumerate() {
        assert_eq!(r["index"], i, "{r}");
    }
    let a = &out[0]["result"];
    assert_eq!(
        (
            &a["category"],
            &a["sub_category"],
            &a["source"],
            &a["merchant"],
            &a["probability"]
        ),
        (
            &json!("rent"),
            &json!(null),
            &json!("rule:rent"),
            &json!("Landlord"),
            &json!(1.0)
        )
    );
    // Without the customer, the customer's rule does not apply.
    let b = &out[1]["result"];
    assert_eq!(b["source"], "model", "{b}");
    assert_eq!(
        (&b["category"], &b["sub_category"]),
        (&json!("subscriptions"), &json!("subscriptions/streaming")),
        "{b}"
    );
    assert_eq!(b["merchant"], "NETFLIX COM");
    let c = &out[2]["result"];
    assert_eq!(
        (&c["category"], &c["source"]),
        (&json!("groceries"), &json!("model"))
    );
    assert!(["high", "medium", "low"].contains(&c["confidence"].as_str().unwrap()));
    assert_eq!(out[3]["id"], "d");
    assert_eq!(out[3]["error"]["field"], "currency", "{}", out[3]);
    assert_eq!(out[3]["error"]["code"], "invalid_row");
    assert_eq!(out[4]["error"]["field"], "date", "{}", out[4]);
    assert!(out[5]["error"]["message"].as_str().is_some(), "{}", out[5]);

    assert!(c.get("explanation").is_none(), "only when asked: {c}");

    // `?explain=true`: each classified row says why, named by what its line contains.
    let body = json!({ "transactions": [rows[2].clone(), rows[3].clone()] }).to_string();
    let (status, v, _) = send(&s, M::POST, "/v1/enrich?explain=true", Some(body)).await;
    assert_eq!(status, 200, "{v}");
    let e = &v["rows"][0]["result"]["explanation"];
    assert!(
        e["classes"][0]["category"]
            .as_str()
            .is_some_and(|c| c.starts_with("groceries")),
        "{e}"
    );
    let features: Vec<&str> = e["classes"][0]["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert!(
        features
            .iter()
            .any(|f| f.to_lowercase().contains("supermercado")),
        "{features:?}"
    );
    assert_eq!(v["rows"][1]["error"]["field"], "currency", "{v}");
    let (status, v, _) = send(&s, M::POST, "/v1/enrich?explain=maybe", Some("{}".into())).await;
    assert_eq!((status, error(&v).1), (400, Some("explain")), "{v}");

    // A line the model cannot place is flagged and keeps its best guess, one of the
    // categories; a line it is sure of has none.
    let lines = json!({ "transactions": [
        { "date": "2026-03-01", "description": "ZQXW KLMNOP", "amount": "-12.34", "currency": "BRL" },
        { "date": "2026-03-01", "description": "SUPERMERCADO EXTRA", "amount": "-12.34", "currency": "BRL" }
    ] });
    let (status, v, _) = send(&s, M::POST, "/v1/enrich", Some(lines.to_string())).await;
    assert_eq!(status, 200, "{v}");
    let (unsure, sure) = (&v["rows"][0]["result"], &v["rows"][1]["result"]);
    assert_eq!(
        (&unsure["uncertain"], &unsure["category"]),
        (&json!(true), &json!("uncertain")),
        "{v}"
    );
    let (_, categories) = s.get("/v1/categories").await;
    assert!(
        categories
            .to_string()
            .contains(&format!("\"{}\"", unsure["guess"].as_str().unwrap())),
        "{v} {categories}"
    );
    assert_eq!(
        (&sure["uncertain"], sure.get("guess")),
        (&json!(false), None),
        "{v}"
    );

    // With the customer, their rule applies too.
    let body = json!({ "customer_id": "c-5", "transactions": [rows[1].clone()] }).to_string();
    let (status, v, _) = send(&s, M::POST, "/v1/enrich", Some(body)).await;
    assert_eq!(status, 200, "{v}");
    let b = &v["rows"][0]["result"];
    assert_eq!(
        (&b["category"], &b["source"], &b["merchant"]),
        (&json!("fun"), &json!("rule:mine"), &json!("Netflix"))
    );

    // 1,000 rows go through, past the other routes' 64 KiB body limit.
    let row = json!({ "date": "2026-03-01", "description": "UBER *TRIP HELP.UBER.COM SAO PAULO BR", "amount": "-23.10", "currency": "BRL" });
    let thousand = json!({ "transactions": vec![row.clone(); 1000] }).to_string();
    assert!(thousand.len() > 64 * 1024);
    let (status, v, _) = send(&s, M::POST, "/v1/enrich", Some(thousand)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["classified"], 1000);
    // 1,001 rows: a 413 naming the field.
    let too_many = json!({ "transactions": vec![row; 1001] }).to_string();
    let (status, v, _) = send(&s, M::POST, "/v1/enrich", Some(too_many)).await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(error(&v), ("too_many_rows", Some("transactions")));
    // A body over its 1 MiB limit, refused on its declared length before a byte of it is
    // read: the answer comes with only the head sent, and says the connection closes. (Sent
    // whole by an HTTP client, the body raced the server's close: the client could fail with
    // a broken pipe before reading the answer.)
    let mut c = super::wire::Conn::open(&s).await;
    c.send(
        b"POST /v1/enrich HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n\
          content-length: 1100000\r\n\r\n",
    )
    .await;
    let res = c.response().await;
    assert_eq!(res.status, 413, "{res:?}");
    assert_eq!(res.header("connection"), Some("close"), "{res:?}");
    assert_eq!(error(&res.json()).0, "payload_too_large");
    // A body that is not an enrich request.
    let (status, v, _) = send(
        &s,
        M::POST,
        "/v1/enrich",
        Some(json!({"rows": []}).to_string()),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let (status, _, _) = send(&s, M::GET, "/v1/enrich", None).await;
    assert_eq!(status, 405);
    s.stop().await;
}

/// Corrections over HTTP: `POST …/transactions/{tx}/category` answers the transaction as now
/// stored (source `user`), the correction and the month's spending; the corrections list
/// shows it; an unknown transaction is a JSON 404, a category the model does not have or an
/// unknown field a JSON 400 naming it.
pub async fn corrections_over_http(t: Transport) {
    let s = start(t.options(Options::default())).await;
    use reqwest::Method as M;
    let customer = "c-corr";
    let events = s.run_job(customer).await;
    assert_eq!(events.last().unwrap().name, "done");
    let (_, page) = s
        .get(&format!("/v1/customers/{customer}/transactions?limit=1"))
        .await;
    let item = &page["items"][0];
    let id = item["id"].as_str().unwrap();
    let target = if item["category"] == "education" {
        "taxes"
    } else {
        "education"
    };
    let path = format!("/v1/customers/{customer}/transactions/{id}/category");
    let (status, v, _) = send(
        &s,
        M::POST,
        &path,
        Some(json!({ "category": target }).to_string()),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["transaction"]["category"], target, "{v}");
    assert_eq!(v["transaction"]["source"], "user", "{v}");
    assert_eq!(
        v["correction"]["previous_category"], item["category"],
        "{v}"
    );
    assert_eq!(v["rule_created"], false, "{v}");
    let month = &item["date"].as_str().unwrap()[..7];
    let rows = v["spending"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["month"] == month && r["category"] == target),
        "{v}"
    );
    let (status, stored) = s
        .get(&format!(
            "/v1/customers/{customer}/transactions?category={target}&limit=1000"
        ))
        .await;
    assert_eq!(status, 200);
    assert!(
        stored["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id && t["source"] == "user"),
        "{stored}"
    );
    let (status, list) = s
        .get(&format!("/v1/customers/{customer}/corrections"))
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["corrections"][0]["id"], id, "{list}");
    assert_eq!(list["corrections"][0]["category"], target, "{list}");

    let (status, v, _) = send(
        &s,
        M::POST,
        &format!("/v1/customers/{customer}/transactions/no-such-id/category"),
        Some(json!({ "category": target }).to_string()),
    )
    .await;
    assert_eq!((status, error(&v).0), (404, "unknown_transaction"), "{v}");
    for (body, field) in [
        (json!({ "category": "grocries" }), "category"),
        (json!({ "category": target, "colour": "red" }), "colour"),
        (json!({}), "category"),
    ] {
        let (status, v, _) = send(&s, M::POST, &path, Some(body.to_string())).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(error(&v).1, Some(field), "{body}: {v}");
    }
    let (status, v) = s
        .get(&format!("/v1/customers/{customer}/corrections?limit=0"))
        .await;
    assert_eq!((status, error(&v).1), (400, Some("limit")), "{v}");
    let (status, _, _) = send(&s, M::GET, &path, None).await;
    assert_eq!(status, 405);
    // What a correction may give: the model's labels.
    let (status, v) = s.get("/v1/categories").await;
    assert_eq!(status, 200, "{v}");
    let labels = v["categories"].as_array().unwrap();
    assert!(
        labels.contains(&json!(target)) && !labels.contains(&json!("grocries")),
        "{v}"
    );
    assert!(
        v["model_version"].as_str().is_some_and(|m| !m.is_empty()),
        "{v}"
    );
}

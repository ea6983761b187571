//! The server's HTTP conformance suite (`support::http`) over both transports: every case
//! runs once on the HTTP/1.1 fast path and once with every connection through hyper.

mod support;

use support::http::{errors, jobs, limits, rules, tenants, wire};
use support::server::Transport;

/// For each `module::case`, a test module `case` with `fast_path` and `hyper` tests.
macro_rules! on_both_transports {
    ($($module:ident :: $case:ident),* $(,)?) => {
        $(
            mod $case {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn fast_path() {
                    $module::$case(Transport::FastPath).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn hyper() {
                    $module::$case(Transport::Hyper).await;
                }
            }
        )*
    };
}

on_both_transports! {
    jobs::a_job_streams_its_progress_and_stores_each_transaction_once,
    jobs::the_read_endpoints_report_what_was_stored,
    jobs::months_ask_for_the_last_months_up_to_today,
    jobs::async_mode_answers_202_and_the_job_runs_to_its_end,
    jobs::a_client_that_leaves_and_does_not_come_back_cancels_its_job_after_the_window,
    jobs::a_client_that_reattaches_with_last_event_id_misses_nothing,
    jobs::a_submission_sent_again_with_its_idempotency_key_attaches_to_its_job,
    jobs::delete_cancels_a_running_job_at_once,
    jobs::a_quiet_stream_gets_keep_alive_comments,
    jobs::shutdown_hands_long_jobs_over_and_they_carry_on_from_their_last_stored_page,
    jobs::a_stream_that_ends_within_the_grace_period_ends_done,
    jobs::http2_clients_get_the_same_stream,
    jobs::customer_ids_with_spaces_slashes_and_accents_round_trip,
    errors::invalid_fields_are_named,
    errors::malformed_json_is_a_400,
    errors::unknown_partner_is_a_404,
    errors::a_body_over_the_limit_is_a_413,
    errors::wrong_method_and_unknown_routes,
    errors::bad_query_parameters_are_named,
    wire::the_connection_serves_more_requests_after_a_stream,
    wire::a_head_split_across_writes_is_read_whole,
    wire::an_oversized_head_is_a_431,
    wire::bad_bodies_get_the_same_json_errors_and_the_connection_lives_on,
    wire::shutdown_closes_idle_connections,
    rules::rules_crud_round_trips_and_names_bad_fields,
    rules::a_jobs_transactions_record_the_rule_that_classified_them,
    rules::enrich_classifies_rows_and_names_bad_ones,
    rules::corrections_over_http,
    limits::an_idle_http2_connection_is_closed,
    limits::a_dripping_preface_is_closed,
    limits::a_client_that_stops_reading_http2_is_cut_off,
    limits::a_client_that_stops_reading_http1_is_cut_off,
    limits::a_slow_request_body_is_a_408,
    limits::host_and_transfer_codings_follow_rfc_9112,
    limits::ids_with_control_characters_are_refused,
    tenants::tenants_never_see_each_others_data,
    tenants::a_tenant_past_its_rate_gets_429,
    tenants::events_tokens_and_console_sessions_stand_for_the_key,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_transports_answer_every_byte_in_the_target_alike() {
    limits::both_transports_answer_every_byte_in_the_target_alike().await;
}

/// The schema check every SSE event of these tests goes through catches an event the
/// document does not describe: a missing field, an undeclared one, a wrong type, an unknown
/// event name, an envelope without `retry`; the JSON answers' check catches an undeclared
/// field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_events_are_checked_against_the_served_document() {
    use serde_json::json;
    use support::server::{start, Ev, Options};

    let s = start(Options::default()).await;
    let schemas = s.contract().await;
    let ev = |name: &str, data: serde_json::Value| Ev {
        name: name.into(),
        id: "j:1".into(),
        data,
    };
    let breaks = |ev: Ev, retry: Option<u64>| {
        let raw = ev.data.to_string();
        let schemas = schemas.clone();
        let check = std::panic::AssertUnwindSafe(move || schemas.check(&ev, &raw, retry));
        std::panic::catch_unwind(check).is_err()
    };
    let fetched = json!({"page": 1, "transactions": 40, "via_retry": false});
    assert!(!breaks(ev("page_fetched", fetched.clone()), Some(1000)));
    let mut extra = fetched.clone();
    extra["colour"] = json!("red");
    assert!(
        breaks(ev("page_fetched", extra), Some(1000)),
        "an undeclared field"
    );
    assert!(
        breaks(ev("page_fetched", json!({"page": 1})), Some(1000)),
        "missing fields"
    );
    let mut wrong = fetched.clone();
    wrong["page"] = json!("one");
    assert!(
        breaks(ev("page_fetched", wrong), Some(1000)),
        "a wrong type"
    );
    assert!(
        breaks(ev("paused", fetched.clone()), Some(1000)),
        "an unknown event"
    );
    assert!(breaks(ev("page_fetched", fetched), None), "no retry");
    assert!(
        breaks(
            ev("done", json!({"job_id": "j", "summary": {}})),
            Some(1000)
        ),
        "a summary without its totals"
    );
    s.stop().await;
}

/// Every JSON answer of a session with real data (a finished job's record and
/// transactions, with and without explanations, spending, merchants, partners, rules,
/// enrich, readiness, a detached submission, and error bodies) is what the served document
/// says, its strict schemas included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_answers_match_the_served_document() {
    use serde_json::{json, Value};
    use support::server::{start, Options, TestServer};

    let s = start(Options::default()).await;
    let contract = s.contract().await;
    let send = |method: reqwest::Method, path: String, body: Option<Value>| {
        let mut req = s.client.request(method, s.url(&path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let check = |method: &str, template: &str, expected: u16, (status, body): (u16, Value)| {
        assert_eq!(status, expected, "{method} {template}: {body}");
        contract.check_json(method, template, status, &body);
        body
    };
    use reqwest::Method as M;

    let events = s.run_job("c-doc").await;
    let job = events[0].data["job_id"].as_str().unwrap().to_owned();
    let page = check(
        "GET",
        "/v1/classifications/{id}",
        200,
        send(M::GET, format!("/v1/classifications/{job}?limit=5"), None).await,
    );
    assert_eq!(page["job"]["status"], "done", "{page}");
    assert!(!page["transactions"].as_array().unwrap().is_empty());
    check(
        "DELETE",
        "/v1/classifications/{id}",
        200,
        send(M::DELETE, format!("/v1/classifications/{job}"), None).await,
    );
    let categories = check(
        "GET",
        "/v1/categories",
        200,
        send(M::GET, "/v1/categories".into(), None).await,
    );
    assert!(
        categories["categories"]
            .as_array()
            .unwrap()
            .contains(&json!("restaurants")),
        "{categories}"
    );
    let first = page["transactions"][0]["id"].as_str().unwrap().to_owned();
    let corrected = check(
        "POST",
        "/v1/customers/{id}/transactions/{tx}/category",
        200,
        send(
            M::POST,
            format!("/v1/customers/c-doc/transactions/{first}/category"),
            Some(json!({ "category": "restaurants", "sub_category": "coffee" })),
        )
        .await,
    );
    assert_eq!(corrected["transaction"]["source"], "user", "{corrected}");
    assert_eq!(
        corrected["transaction"]["sub_category"], "restaurants/coffee",
        "{corrected}"
    );
    let corrections = send(M::GET, "/v1/customers/c-doc/corrections".into(), None).await;
    check("GET", "/v1/customers/{id}/corrections", 200, corrections);
    let tx = "/v1/customers/{id}/transactions";
    let explained = check(
        "GET",
        tx,
        200,
        send(
            M::GET,
            "/v1/customers/c-doc/transactions?explain=true&limit=3".into(),
            None,
        )
        .await,
    );
    assert!(
        explained["items"][0].get("explanation").is_some(),
        "{explained}"
    );
    check(
        "GET",
        tx,
        200,
        send(M::GET, "/v1/customers/c-doc/transactions".into(), None).await,
    );
    for path in ["spending", "merchants"] {
        let template = format!("/v1/customers/{{id}}/{path}");
        let answer = send(M::GET, format!("/v1/customers/c-doc/{path}"), None).await;
        check("GET", &template, 200, answer);
    }
    check(
        "GET",
        "/v1/partners",
        200,
        send(M::GET, "/v1/partners".into(), None).await,
    );
    let health = send(M::GET, "/v1/partners/bank/health".into(), None).await;
    check("GET", "/v1/partners/{id}/health", 200, health);
    check(
        "GET",
        "/readyz",
        200,
        send(M::GET, "/readyz".into(), None).await,
    );
    check(
        "GET",
        "/healthz",
        200,
        send(M::GET, "/healthz".into(), None).await,
    );

    let rule = json!({
        "id": "doc-rent",
        "stage": "post",
        "conditions": {"description_matches": "alug(uel)?", "amount_max": "-1.00", "currency": "brl"},
        "action": {"category": "restaurants", "sub_category": "bars", "merchant": "Bar"}
    });
    let rules = "/v1/rules/{id}";
    check(
        "POST",
        "/v1/rules",
        201,
        send(M::POST, "/v1/rules".into(), Some(rule.clone())).await,
    );
    check(
        "POST",
        "/v1/rules",
        409,
        send(M::POST, "/v1/rules".into(), Some(rule.clone())).await,
    );
    check(
        "GET",
        rules,
        200,
        send(M::GET, "/v1/rules/doc-rent".into(), None).await,
    );
    check(
        "PUT",
        rules,
        200,
        send(M::PUT, "/v1/rules/doc-rent".into(), Some(rule)).await,
    );
    check(
        "GET",
        "/v1/rules",
        200,
        send(M::GET, "/v1/rules?customer_id=c-doc".into(), None).await,
    );
    let enrich = json!({"transactions": [
        {"date": "2026-01-05", "description": "ALUGUEL JAN", "amount": "-1500.00", "currency": "BRL"},
        {"date": "yesterday", "description": "x", "amount_minor": 1, "currency": "BRL"}
    ]});
    let enriched = check(
        "POST",
        "/v1/enrich",
        200,
        send(M::POST, "/v1/enrich".into(), Some(enrich)).await,
    );
    assert_eq!(
        (
            enriched["classified"].as_u64(),
            enriched["refused"].as_u64()
        ),
        (Some(1), Some(1))
    );
    check(
        "DELETE",
        rules,
        200,
        send(M::DELETE, "/v1/rules/doc-rent".into(), None).await,
    );
    check(
        "GET",
        rules,
        404,
        send(M::GET, "/v1/rules/doc-rent".into(), None).await,
    );

    let detached = send(
        M::POST,
        "/v1/classifications?mode=async".into(),
        Some(TestServer::body("c-doc-2")),
    )
    .await;
    check("POST", "/v1/classifications", 202, detached);
    let unknown = send(M::GET, "/v1/classifications/nope".into(), None).await;
    check("GET", "/v1/classifications/{id}", 404, unknown);
    let bad_limit = send(M::GET, "/v1/customers/c/transactions?limit=0".into(), None).await;
    check("GET", tx, 400, bad_limit);
    s.stop().await;
}

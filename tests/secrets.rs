//! Partner credentials never appear in logs, errors, events or printed configuration.

use std::io::Write;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use txclass_suite::partner::{AuthConfig, Secret};
use txclass_suite::progress::FailureReason;
use txclass_suite::simulator::{Simulator, SimulatorConfig};
use txclass_suite::{ClassificationRequest, Orchestrator, PartnerConfig, Progress};

const TOKEN: &str = "tok-9f8e7d6c5b4a-super-secret";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn partner(url: String, token_env: &str) -> PartnerConfig {
    let mut p = PartnerConfig::new("bank", url, NonZeroU32::new(2).unwrap());
    p.auth = Some(AuthConfig {
        header: "Authorization".into(),
        prefix: "Bearer ".into(),
        token: None,
        token_env: Some(token_env.into()),
    });
    p
}

fn request(customer: &str) -> ClassificationRequest {
    ClassificationRequest {
        customer_id: customer.into(),
        partner_id: "bank".into(),
        from: "2026-01-01".parse().unwrap(),
        to: "2026-01-31".parse().unwrap(),
    }
}

#[tokio::test]
async fn the_token_is_sent_but_never_printed() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .with_writer(move || writer.clone())
        .init();

    let sim = Simulator::bind(
        0,
        SimulatorConfig {
            token: Some(Secret::new(TOKEN)),
            ..SimulatorConfig::instant()
        },
    )
    .await
    .unwrap();
    std::env::set_var("TXCLASS_TEST_GOOD_TOKEN", TOKEN);
    std::env::set_var("TXCLASS_TEST_BAD_TOKEN", format!("{TOKEN}-wrong"));

    // The right token works: the adapter sends it.
    let good = Orchestrator::builder()
        .partner(partner(sim.url(), "TXCLASS_TEST_GOOD_TOKEN"))
        .build()
        .unwrap();
    let events = good.run_to_end(request("c-1")).await.unwrap();
    assert!(
        matches!(events.last(), Some(Progress::Done { .. })),
        "{events:?}"
    );

    // A wrong one fails the job with the partner's 401, without echoing what was sent.
    let bad_config = partner(sim.url(), "TXCLASS_TEST_BAD_TOKEN");
    let bad = Orchestrator::builder()
        .partner(bad_config.clone())
        .build()
        .unwrap();
    let bad_events = bad.run_to_end(request("c-2")).await.unwrap();
    match bad_events.last() {
        Some(Progress::Failed {
            reason, message, ..
        }) => {
            assert_eq!(*reason, FailureReason::PartnerRejected);
            assert!(message.contains("401"), "{message}");
        }
        other => panic!("expected failed, got {other:?}"),
    }

    // A literal token in a config prints as *** too.
    let mut literal = bad_config.clone();
    literal.auth.as_mut().unwrap().token = Some(Secret::new(TOKEN));
    let mut printed = format!(
        "{literal:?}\n{}\n",
        serde_json::to_string(&literal).unwrap()
    );
    for e in events.iter().chain(&bad_events) {
        printed.push_str(&e.data_json());
        printed.push('\n');
    }
    if let Some(Progress::Failed { job_id, .. }) = bad_events.last() {
        let record = bad.job(job_id).await.unwrap().unwrap();
        printed.push_str(&serde_json::to_string(&record).unwrap());
    }
    // API keys: a server that needs them answers a good key, a forged one (the same id,
    // another secret) and a revoked one; no secret part reaches its logs, its answers, the
    // job's record or events, or the keys file.
    let (answers, secrets, tokens) = api_keys_through_a_server(&sim.url()).await;
    printed.push_str(&answers);

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(!logs.is_empty(), "the subscriber captured the run's logs");
    for (what, text) in [
        ("events, records, config, answers", &printed),
        ("logs", &logs),
    ] {
        assert!(
            !text.contains("super-secret"),
            "token leaked into {what}:\n{text}"
        );
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "API key leaked into {what}:\n{text}"
            );
        }
    }
    // The tokens are answers by design; they never reach a log.
    for token in &tokens {
        assert!(
            !logs.contains(token.as_str()),
            "token leaked into the logs:\n{logs}"
        );
    }
}

/// Runs a server with API keys against the simulator at `sim`: a job with a good key, then
/// requests with a forged and a revoked key, and with an events token and a console session
/// (the browser's credentials). Returns everything it answered, the keys' secret parts and
/// the tokens.
async fn api_keys_through_a_server(sim: &str) -> (String, Vec<String>, Vec<String>) {
    use txclass_suite::auth::KeyFile;
    use txclass_suite::TenantId;
    std::env::set_var("TXCLASS_TEST_GOOD_TOKEN_2", TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let file = KeyFile::new(dir.path().join("keys.json"));
    let good = file
        .create(TenantId::new("acme").unwrap(), None, None)
        .unwrap();
    let revoked = file
        .create(TenantId::new("acme").unwrap(), None, None)
        .unwrap();
    file.revoke(&revoked.record.id).unwrap();
    // A key reads `txk_<id>_<secret>`, and a base64url secret may hold `_` itself.
    let part = |key: &str, n: usize| key.splitn(3, '_').nth(n).unwrap().to_owned();
    let forged = format!("txk_{}_{}", part(&good.key, 1), "Z".repeat(43));
    let secret = |key: &str| part(key, 2);
    let secrets = vec![secret(&good.key), secret(&revoked.key), secret(&forged)];

    let orch = Orchestrator::builder()
        .partner(partner(sim.to_owned(), "TXCLASS_TEST_GOOD_TOKEN_2"))
        .build()
        .unwrap();
    let settings = txclass_server::HttpSettings {
        auth: Some(txclass_server::AuthSettings::new(file.path())),
        ..txclass_server::HttpSettings::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(txclass_server::run(
        listener,
        txclass_server::Server::new(orch, settings),
        async move {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::new();
    let mut answers = String::new();
    let body = serde_json::json!({
        "customer_id": "c-keys", "partner_id": "bank", "from": "2026-01-01", "to": "2026-01-31",
    });
    let res = client
        .post(format!("{base}/v1/classifications"))
        .bearer_auth(&good.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let stream = res.text().await.unwrap();
    assert!(stream.contains("event: done"), "{stream}");
    let job = stream
        .split("\"job_id\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    answers.push_str(&stream);
    for key in [&good.key, &forged, &revoked.key] {
        let res = client
            .get(format!("{base}/v1/classifications/{job}"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert_eq!(status == 200, key == &good.key, "{status} {text}");
        answers.push_str(&text);
    }
    // An events token and a session cookie, used.
    let minted: serde_json::Value = client
        .post(format!("{base}/v1/classifications/{job}/events-token"))
        .bearer_auth(&good.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = minted["events_url"].as_str().unwrap();
    let res = client.get(format!("{base}{url}")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    answers.push_str(&res.text().await.unwrap());
    let res = client
        .post(format!("{base}/v1/session"))
        .bearer_auth(&good.key)
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let session = cookie.split(';').next().unwrap().to_owned();
    let res = client
        .get(format!("{base}/v1/classifications/{job}"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    answers.push_str(&std::fs::read_to_string(file.path()).unwrap());
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let tokens = vec![
        minted["token"].as_str().unwrap().to_owned(),
        session.trim_start_matches("txclass_session=").to_owned(),
    ];
    (answers, secrets, tokens)
}

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
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(!logs.is_empty(), "the subscriber captured the run's logs");
    for (what, text) in [("events, records, config", &printed), ("logs", &logs)] {
        assert!(
            !text.contains("super-secret"),
            "token leaked into {what}:\n{text}"
        );
    }
}

//! Starting the server: config mistakes and unreachable backends stop it with one readable
//! line and exit status 1; `GET /readyz` reports each backend while it runs.
//!
//! The Redis tests (feature `redis`) use a port nobody listens on, and, for the ready case,
//! the Redis of `scripts/redis.sh` (`TXCLASS_REDIS_URL`, default `redis://127.0.0.1:6399`);
//! they fail, never skip, when it is not there.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use txclass_server::{run, Server, ServerConfig};

/// Runs the server binary on `config` and waits for it to exit (it must, within 30 s).
fn run_binary(dir: &Path, config: &str) -> (Output, Duration) {
    let path = dir.join("server.toml");
    std::fs::write(&path, config).unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_txclass-server"))
        .arg("--config")
        .arg(&path)
        .env("RUST_LOG", "warn")
        .env_remove("TXCLASS_STORE")
        .env_remove("TXCLASS_LISTEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("txclass-server did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child.wait_with_output().unwrap(), started.elapsed())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The last line of stderr: the `error: …` line the binary ends with.
fn last_line(o: &Output) -> String {
    stderr(o).lines().last().unwrap_or("").to_owned()
}

/// Serves `server` on a loopback port; returns its base URL.
async fn serve(server: Server) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(run(listener, server, std::future::pending()));
    url
}

async fn get(url: &str) -> (u16, Value) {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

fn config(text: &str) -> ServerConfig {
    txclass_core::config::from_toml_str("test.toml", text).unwrap()
}

#[test]
fn a_config_typo_stops_the_binary_with_one_readable_line() {
    let dir = tempfile::tempdir().unwrap();
    let (o, _) = run_binary(
        dir.path(),
        "store_path = \":memory:\"\n[[partners]]\nid = \"bank\"\nbase_url = \"http://127.0.0.1:1\"\n\
         capacity = 2\n[partners.retry]\nmax_attempts = 3\nbase_backof_ms = 5\n",
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let line = last_line(&o);
    assert!(
        line.starts_with("error: invalid configuration: ")
            && line.contains("server.toml: partners[0].retry.base_backof_ms: unknown field")
            && line.ends_with("(line 8)"),
        "{line}"
    );
    assert!(
        !stderr(&o).contains("Config {"),
        "no Debug dump: {}",
        stderr(&o)
    );
}

#[tokio::test]
async fn readyz_reports_the_store_and_healthz_stays_liveness() {
    let c = config("store_path = \":memory:\"\n[sandbox]\nenabled = false\n");
    let url = serve(Server::from_config(&c).await.unwrap()).await;
    let (status, body) = get(&format!("{url}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["store"]["status"], "ok");
    assert!(body["checks"].get("redis").is_none(), "{body}");
    let (status, body) = get(&format!("{url}/healthz")).await;
    assert_eq!((status, &body["status"]), (200, &Value::from("ok")));
}

#[cfg(feature = "redis")]
mod redis {
    use super::*;
    use txclass_core::orchestrator::RedisSettings;
    use txclass_core::Orchestrator;
    use txclass_server::HttpSettings;

    /// A loopback port nothing listens on (bound, then released).
    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn redis_url() -> String {
        std::env::var("TXCLASS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6399".into())
    }

    #[test]
    fn an_unreachable_redis_stops_the_binary_naming_it_without_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let port = closed_port();
        let (o, _) = run_binary(
            dir.path(),
            &format!(
                "store_path = \":memory:\"\n[redis]\nurl = \"redis://txclass:s3cret@127.0.0.1:{port}/2\"\n"
            ),
        );
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let line = last_line(&o);
        assert!(
            line.starts_with(&format!(
                "error: not ready: redis: redis://127.0.0.1:{port}/2 is unreachable: "
            )),
            "{line}"
        );
        assert!(!stderr(&o).contains("s3cret"), "{}", stderr(&o));
        assert!(
            !stderr(&o).contains("txclass-server ready"),
            "{}",
            stderr(&o)
        );
    }

    #[test]
    fn wait_for_ready_ms_waits_logging_each_attempt_then_gives_up() {
        let dir = tempfile::tempdir().unwrap();
        let port = closed_port();
        let (o, took) = run_binary(
            dir.path(),
            &format!(
                "store_path = \":memory:\"\n[redis]\nurl = \"redis://127.0.0.1:{port}\"\n\
                 wait_for_ready_ms = 1200\n"
            ),
        );
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            took >= Duration::from_millis(1200),
            "gave up after {took:?}"
        );
        // The log goes to stdout; the final error to stderr.
        let log = String::from_utf8_lossy(&o.stdout);
        let attempts = log.matches("not ready yet, checking again").count();
        assert!(attempts >= 2, "each attempt is logged: {log}");
        assert!(
            last_line(&o).starts_with("error: not ready: redis: "),
            "{log}"
        );
    }

    #[tokio::test]
    async fn readyz_is_503_naming_redis_while_it_is_down() {
        let port = closed_port();
        let orchestrator = Orchestrator::builder()
            .redis(RedisSettings::new(format!("redis://127.0.0.1:{port}")))
            .build()
            .unwrap();
        let url = serve(Server::new(orchestrator, HttpSettings::default())).await;
        let (status, body) = get(&format!("{url}/readyz")).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["status"], "not_ready");
        assert_eq!(body["checks"]["store"]["status"], "ok");
        assert_eq!(body["checks"]["redis"]["status"], "failed");
        let error = body["checks"]["redis"]["error"].as_str().unwrap();
        assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
        let (status, _) = get(&format!("{url}/healthz")).await;
        assert_eq!(status, 200, "liveness does not depend on Redis");
    }

    #[tokio::test]
    async fn with_redis_up_the_server_starts_and_readyz_checks_it() {
        let c = config(&format!(
            "store_path = \":memory:\"\n[sandbox]\nenabled = false\n[redis]\nurl = \"{}\"\n\
             prefix = \"txtest-readyz-{}\"\n",
            redis_url(),
            std::process::id()
        ));
        let server = Server::from_config(&c).await.unwrap_or_else(|e| {
            panic!("{e}: these tests need a real Redis: run `scripts/redis.sh start`")
        });
        let url = serve(server).await;
        let (status, body) = get(&format!("{url}/readyz")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["checks"]["redis"]["status"], "ok");
        assert_eq!(body["checks"]["store"]["status"], "ok");
    }
}

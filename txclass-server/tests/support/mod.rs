//! Real `txclass-server` processes for the black-box tests: start one from a config file,
//! wait until it answers, kill it with SIGKILL.
#![allow(dead_code)] // each test file uses its own part

pub mod webdriver;

use std::net::TcpListener as StdListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server process; killed when dropped.
pub struct ServerProcess {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl ServerProcess {
    /// Starts the binary on `config` (which listens on `port`) and waits until `ready_path`
    /// answers 2xx. Its logs (stdout) are shown when `TXCLASS_TEST_SERVER_LOG` is set, which
    /// is also its `RUST_LOG` (default `warn`).
    pub async fn start(config: &Path, port: u16, ready_path: &str) -> Self {
        let log = std::env::var("TXCLASS_TEST_SERVER_LOG").ok();
        let child = Command::new(env!("CARGO_BIN_EXE_txclass-server"))
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", log.as_deref().unwrap_or("warn"))
            .stdout(if log.is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut server = ServerProcess {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
        };
        server.wait_ready(ready_path).await;
        server
    }

    async fn wait_ready(&mut self, path: &str) {
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{}{path}", self.url)).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("txclass-server exited early with {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "{} not ready",
                self.url
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no cleanup, as when a machine is lost.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("running");
        let ok = Command::new("kill")
            .args(["-9", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let _ = child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Serves a server built from `config` (TOML, as in a config file) in this process, on a
/// loopback port; returns its base URL.
pub async fn serve_in_process(config: &str) -> String {
    let config: txclass_server::ServerConfig =
        txclass_core::config::from_toml_str("test.toml", config).unwrap();
    let server = txclass_server::Server::from_config(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(txclass_server::run(
        listener,
        server,
        std::future::pending(),
    ));
    url
}

/// A helper program a test runs (chromedriver, HAProxy); killed when dropped.
pub struct Helper {
    child: Child,
    name: String,
}

impl Helper {
    /// Starts `command` (its stdout discarded, its stderr kept for the panic message).
    pub fn spawn(mut command: Command) -> Self {
        let name = command.get_program().to_string_lossy().into_owned();
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self { child, name }
    }

    /// Polls `ready` every 50 ms until it holds; panics, with what the program wrote on
    /// stderr, when it exits first or `limit` passes.
    pub async fn wait_ready<F, Fut>(&mut self, limit: Duration, mut ready: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = Instant::now();
        while !ready().await {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("{} exited with {status}: {err}", self.name);
            }
            assert!(started.elapsed() < limit, "{} not ready", self.name);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! Shared by the Redis integration tests: where Redis is, a loud failure when it is not,
//! unique key prefixes (tests run in parallel on one Redis), and the helper process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `TXCLASS_REDIS_URL`, default `redis://127.0.0.1:6399` (scripts/redis.sh's port).
pub fn url() -> String {
    std::env::var("TXCLASS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6399".into())
}

/// `TXCLASS_REDIS_CLUSTER_URL`, default the three masters of `scripts/redis-cluster.sh`.
pub fn cluster_url() -> String {
    std::env::var("TXCLASS_REDIS_CLUSTER_URL")
        .unwrap_or_else(|_| "redis+cluster://127.0.0.1:7400,127.0.0.1:7401,127.0.0.1:7402".into())
}

/// A connection to each node of the test cluster; panics with instructions when one is down
/// or the cluster is not ready.
pub async fn connect_cluster() -> Vec<redis::aio::MultiplexedConnection> {
    let url = cluster_url();
    let hosts = url.trim_start_matches("redis+cluster://");
    let mut conns = Vec::new();
    for host in hosts.split(',') {
        let fail = |e: String| -> ! {
            panic!(
                "Redis Cluster node {host} is unreachable or not ready ({e}). These tests need a \
                 real cluster: run `scripts/redis-cluster.sh start` (or set TXCLASS_REDIS_CLUSTER_URL)."
            )
        };
        let client =
            redis::Client::open(format!("redis://{host}")).unwrap_or_else(|e| fail(e.to_string()));
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| fail(e.to_string()));
        let info: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| fail(e.to_string()));
        if !info.contains("cluster_state:ok") {
            fail("cluster_state is not ok".into());
        }
        conns.push(conn);
    }
    conns
}

/// A connection to the test Redis; panics with instructions when it is not running.
pub async fn connect() -> redis::aio::MultiplexedConnection {
    let url = url();
    let fail = |e: String| -> ! {
        panic!(
            "Redis at {url} is unreachable ({e}). These tests need a real Redis: run \
             `scripts/redis.sh start` (or set TXCLASS_REDIS_URL)."
        )
    };
    let client = redis::Client::open(url.as_str()).unwrap_or_else(|e| fail(e.to_string()));
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| fail(e.to_string()));
    let pong: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .unwrap_or_else(|e| fail(e.to_string()));
    assert_eq!(pong, "PONG");
    conn
}

/// A key prefix no other test (or earlier run) uses.
pub fn unique(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "test:{name}:{}:{nanos}:{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A helper process (src/bin/txclass-redis-helper.rs) with a line reader on its stdout.
pub struct Helper {
    pub child: Child,
    out: BufReader<ChildStdout>,
}

impl Helper {
    pub fn spawn(args: &[&str]) -> Helper {
        let mut child = Command::new(env!("CARGO_BIN_EXE_txclass-redis-helper"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn txclass-redis-helper");
        let out = BufReader::new(child.stdout.take().unwrap());
        Helper { child, out }
    }

    /// The next line the helper prints (blocking; call from spawn_blocking in async code).
    pub fn line(&mut self) -> String {
        let mut s = String::new();
        self.out.read_line(&mut s).expect("helper stdout");
        assert!(!s.is_empty(), "helper exited without a line");
        s.trim().to_owned()
    }

    /// SIGKILL (std's `Child::kill` sends SIGKILL on Unix) and reap.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }
}

/// Polls `f` every 10 ms until it returns true or `within` passes; returns the time taken.
pub async fn eventually<F, Fut>(within: Duration, mut f: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    loop {
        if f().await {
            return Some(start.elapsed());
        }
        if start.elapsed() >= within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A throw-away `redis-server` of one test's own: a child process on a free port, no
/// persistence. For tests that empty or restart Redis, which must not wipe the keys of the
/// tests running beside them on the shared test Redis. Killed on drop.
pub struct ScratchRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl ScratchRedis {
    /// Starts one; panics with instructions when `redis-server` cannot be run.
    pub async fn start() -> ScratchRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut r = ScratchRedis {
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        r.spawn().await;
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub async fn connect(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .expect("scratch redis")
    }

    /// `FLUSHALL`: Redis as after a restart without persistence (the script cache stays).
    pub async fn flushall(&self) {
        let mut c = self.connect().await;
        let () = redis::cmd("FLUSHALL").query_async(&mut c).await.unwrap();
    }

    /// `SHUTDOWN NOSAVE`, then a new, empty server on the same port.
    pub async fn restart_empty(&mut self) {
        self.stop().await;
        self.spawn().await;
    }

    /// `SHUTDOWN NOSAVE` and wait for the process to end.
    pub async fn stop(&mut self) {
        let mut c = self.connect().await;
        // The server closes the connection instead of answering.
        let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN")
            .arg("NOSAVE")
            .query_async(&mut c)
            .await;
        if let Some(mut child) = self.child.take() {
            tokio::task::spawn_blocking(move || child.wait())
                .await
                .unwrap()
                .expect("reap redis-server");
        }
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-server ({e}). These tests need it on PATH: \
                     `scripts/redis.sh start` installs it."
                )
            });
        self.child = Some(child);
        let client = redis::Client::open(self.url()).unwrap();
        for _ in 0..200 {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "scratch redis-server on port {} did not answer PING within 5 s",
            self.port
        );
    }
}

impl Drop for ScratchRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

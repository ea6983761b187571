//! The deploy files (`deploy/`, `Dockerfile`) against the server they run: the compose file
//! parses and every service has a health check; the configuration files that compose and
//! Kubernetes mount are valid for the server's own parser (which refuses unknown keys); every
//! environment variable a configuration names (`*_env`) is set where it runs, and every
//! `TXCLASS_*` variable set is one the binary reads; HAProxy and Prometheus point at the
//! instances; the blue and green Deployments are the same but for their track and image.
//!
//! HAProxy's configuration also runs for real (Debian's `haproxy`, installed by
//! `scripts/check-deploy.sh`; the test fails, never skips, without it), pointed at a server on
//! loopback: events stream through it as they happen.
//!
//! No container engine runs here: `scripts/check-deploy.sh` adds the real tools' checks
//! (`kubernetes-validate --strict`, `haproxy -c`, `promtool check config`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;

use serde::Deserialize;
use serde_json::Value as Json;
use serde_yaml_ng::Value;
use txclass_server::ServerConfig;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every YAML document of a file, as JSON values (merge keys `<<` applied).
fn yaml_docs(path: &Path) -> Vec<Json> {
    let text = read(path);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            let mut v = Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
            v.apply_merge().unwrap();
            serde_json::to_value(v).unwrap()
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// Parses a server configuration as the binary does; panics with the parser's error.
fn server_config(name: &str, text: &str) -> ServerConfig {
    let c: ServerConfig = txclass_core::config::from_toml_str(name, text)
        .unwrap_or_else(|e| panic!("{name} is not a valid server configuration: {e}"));
    c.store_config()
        .unwrap_or_else(|e| panic!("{name}: store: {e}"));
    c
}

/// The environment variables a configuration reads secrets and URLs from (every `*_env`).
fn env_names(c: &ServerConfig) -> BTreeSet<String> {
    fn walk(v: &Json, out: &mut BTreeSet<String>) {
        match v {
            Json::Object(m) => {
                for (k, v) in m {
                    match v {
                        Json::String(s) if k.ends_with("_env") => {
                            out.insert(s.clone());
                        }
                        _ => walk(v, out),
                    }
                }
            }
            Json::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(&serde_json::to_value(c).unwrap(), &mut out);
    out
}

/// The `TXCLASS_*` variables the binary reads, from its `--help` (`[env: NAME=]`).
fn binary_env_vars() -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_txclass-server"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let vars: BTreeSet<String> = help
        .split("[env: ")
        .skip(1)
        .map(|s| s[..s.find('=').unwrap()].to_owned())
        .collect();
    assert!(vars.contains("TXCLASS_CONFIG"), "{help}");
    vars
}

/// Checks the variables set for a server (`set`) against its configuration and the binary.
fn check_env(what: &str, config: &ServerConfig, set: &BTreeSet<String>) {
    for name in env_names(config) {
        assert!(
            set.contains(&name),
            "{what}: the configuration reads ${name}, which is not set"
        );
    }
    let known = binary_env_vars();
    for name in set.iter().filter(|n| n.starts_with("TXCLASS_")) {
        let named = env_names(config);
        assert!(
            known.contains(name) || named.contains(name),
            "{what}: sets {name}, which neither the binary nor its configuration reads"
        );
    }
}

fn compose() -> Json {
    let docs = yaml_docs(&repo().join("deploy/compose.yaml"));
    assert_eq!(docs.len(), 1);
    docs.into_iter().next().unwrap()
}

fn str_list(v: &Json) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn compose_parses_and_every_service_has_a_healthcheck() {
    let c = compose();
    let services = c["services"].as_object().expect("services");
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    for expected in [
        "txclass-1",
        "txclass-2",
        "txclass-3",
        "lb",
        "redis",
        "opensearch",
        "prometheus",
        "grafana",
    ] {
        assert!(names.contains(expected), "no service {expected}: {names:?}");
    }
    for (name, s) in services {
        assert!(s["image"].is_string(), "{name}: no image");
        let test = str_list(&s["healthcheck"]["test"]);
        assert!(
            matches!(test.first().map(String::as_str), Some("CMD" | "CMD-SHELL")) && test.len() > 1,
            "{name}: no healthcheck test: {}",
            s["healthcheck"]
        );
        if let Some(deps) = s["depends_on"].as_object() {
            for (dep, how) in deps {
                assert!(
                    names.contains(dep.as_str()),
                    "{name} depends on unknown {dep}"
                );
                assert!(how["condition"].is_string(), "{name} -> {dep}");
            }
        }
        // Every file the stack mounts exists.
        for volume in str_list(&s["volumes"]) {
            let host = volume.split(':').next().unwrap();
            if host.starts_with("./") {
                let path = repo().join("deploy").join(host);
                assert!(path.exists(), "{name} mounts {host}, which does not exist");
            }
        }
    }
}

#[test]
fn the_compose_instances_run_a_valid_configuration_with_every_variable_set() {
    let c = compose();
    let services = c["services"].as_object().unwrap();
    let instances: Vec<&str> = services
        .keys()
        .filter(|k| k.starts_with("txclass-"))
        .map(String::as_str)
        .collect();
    assert_eq!(instances.len(), 3);
    for name in &instances {
        let s = &services[*name];
        let env = s["environment"].as_object().expect("environment map");
        let config_path = env["TXCLASS_CONFIG"].as_str().unwrap();
        let host = str_list(&s["volumes"])
            .into_iter()
            .find_map(|v| {
                let parts: Vec<&str> = v.split(':').collect();
                (parts.get(1) == Some(&config_path)).then(|| parts[0].to_owned())
            })
            .unwrap_or_else(|| panic!("{name}: {config_path} is not mounted"));
        let config = server_config(&host, &read(&repo().join("deploy").join(&host)));
        let mut set: BTreeSet<String> = env.keys().cloned().collect();
        // The image sets it (Dockerfile `ENV`).
        set.insert("TXCLASS_LISTEN".into());
        check_env(name, &config, &set);
        assert!(
            config.redis.is_some(),
            "{name}: instances share state through Redis"
        );
        let redis = env["TXCLASS_REDIS_URL"].as_str().unwrap();
        let host = redis
            .trim_start_matches("redis://")
            .split(':')
            .next()
            .unwrap();
        assert!(
            services.contains_key(host),
            "{name}: Redis at {host}, not a service"
        );
    }
    // The instances are one template: the same config, environment and health check.
    let first = &services[instances[0]];
    for name in &instances[1..] {
        assert_eq!(
            &services[*name], first,
            "{name} differs from {}",
            instances[0]
        );
    }
    // The image listens on 8080: HAProxy and Prometheus reach each instance there.
    let dockerfile = read(&repo().join("Dockerfile"));
    assert!(dockerfile.contains("ENV TXCLASS_LISTEN=0.0.0.0:8080"));
    let expected: BTreeSet<String> = instances.iter().map(|n| format!("{n}:8080")).collect();
    let haproxy = read(&repo().join("deploy/haproxy/haproxy.cfg"));
    let servers: BTreeSet<String> = haproxy
        .lines()
        .filter_map(|l| l.trim().strip_prefix("server "))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(servers, expected, "HAProxy's servers");
    assert!(haproxy.contains("option httpchk GET /readyz"));
    let prometheus = yaml_docs(&repo().join("deploy/prometheus/prometheus.yml"));
    let job = prometheus[0]["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_name"] == "txclass")
        .expect("a txclass scrape job");
    assert_eq!(job["metrics_path"], "/metrics");
    let targets: BTreeSet<String> = str_list(&job["static_configs"][0]["targets"])
        .into_iter()
        .collect();
    assert_eq!(targets, expected, "Prometheus targets");
}

/// The Kubernetes objects of `deploy/k8s/`, by `kind/name`.
fn k8s() -> BTreeMap<String, Json> {
    let mut objects = BTreeMap::new();
    let dir = repo().join("deploy/k8s");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            for doc in yaml_docs(&path) {
                let key = format!(
                    "{}/{}",
                    doc["kind"].as_str().unwrap(),
                    doc["metadata"]["name"].as_str().unwrap()
                );
                assert!(objects.insert(key.clone(), doc).is_none(), "{key} twice");
            }
        }
    }
    objects
}

#[test]
fn the_kubernetes_deployments_run_a_valid_configuration_with_every_secret_wired() {
    let objects = k8s();
    let config_map = &objects["ConfigMap/txclass-config"];
    let secret = &objects["Secret/txclass-secrets"];
    for track in ["blue", "green"] {
        let d = &objects[&format!("Deployment/txclass-{track}")];
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{track}");
        let c = &pod["containers"][0];
        let env = c["env"].as_array().unwrap();
        let value = |name: &str| {
            env.iter()
                .find(|e| e["name"] == name)
                .and_then(|e| e["value"].as_str())
                .unwrap_or_else(|| panic!("{track}: no value for {name}"))
                .to_owned()
        };
        // The configuration file: mounted from the ConfigMap where TXCLASS_CONFIG says.
        let config_path = PathBuf::from(value("TXCLASS_CONFIG"));
        let mount = c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| config_path.starts_with(m["mountPath"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("{track}: {} is not mounted", config_path.display()));
        let volume = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap();
        assert_eq!(volume["configMap"]["name"], "txclass-config");
        let file = config_path.file_name().unwrap().to_str().unwrap();
        let text = config_map["data"][file]
            .as_str()
            .unwrap_or_else(|| panic!("the ConfigMap has no {file}"));
        let config = server_config("configmap.yaml server.toml", text);
        let set: BTreeSet<String> = env
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect();
        check_env(track, &config, &set);
        // Every secret reference names a key of the Secret.
        for e in env {
            if let Some(r) = e["valueFrom"]["secretKeyRef"].as_object() {
                assert_eq!(r["name"], "txclass-secrets");
                let key = r["key"].as_str().unwrap();
                assert!(
                    secret["stringData"].get(key).is_some(),
                    "{track}: {} reads secret key {key}, which the Secret lacks",
                    e["name"]
                );
            }
        }
        // The port it listens on is the one the probes and the Service use.
        let port: u16 = value("TXCLASS_LISTEN")
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(c["ports"][0]["containerPort"], port);
        assert_eq!(c["ports"][0]["name"], "http");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
        for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
            assert_eq!(c[probe]["httpGet"]["port"], "http", "{track} {probe}");
        }
        // Longer than the server's own grace period, so jobs are handed over, not killed.
        let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
        assert!(grace * 1000 > config.grace_period_ms + 5000, "{track}");
        // The PodDisruptionBudget and the HPA are this track's.
        let labels = &d["spec"]["template"]["metadata"]["labels"];
        assert_eq!(
            objects[&format!("PodDisruptionBudget/txclass-{track}")]["spec"]["selector"]
                ["matchLabels"],
            *labels
        );
        let hpa = &objects[&format!("HorizontalPodAutoscaler/txclass-{track}")];
        assert_eq!(
            hpa["spec"]["scaleTargetRef"]["name"],
            format!("txclass-{track}")
        );
    }
    // Blue and green are the same Deployment but for name, track and image.
    let normalise = |track: &str| {
        let text = serde_json::to_string(&objects[&format!("Deployment/txclass-{track}")])
            .unwrap()
            .replace(&format!("txclass-{track}"), "txclass-TRACK")
            .replace(&format!("\"track\":\"{track}\""), "\"track\":\"TRACK\"");
        let mut v: Json = serde_json::from_str(&text).unwrap();
        v["spec"]["template"]["spec"]["containers"][0]["image"] = Json::Null;
        v
    };
    assert_eq!(normalise("blue"), normalise("green"));
    // The Service serves one track and the preview Service the other.
    let selector = |name: &str| objects[&format!("Service/{name}")]["spec"]["selector"].clone();
    let (live, preview) = (selector("txclass"), selector("txclass-preview"));
    assert_ne!(live["track"], preview["track"]);
    for s in [&live, &preview] {
        let track = s["track"].as_str().unwrap();
        assert_eq!(
            *s,
            objects[&format!("Deployment/txclass-{track}")]["spec"]["template"]["metadata"]
                ["labels"]
        );
    }
}

#[test]
fn the_image_is_built_with_the_features_the_configurations_need_and_runs_as_non_root() {
    let dockerfile = read(&repo().join("Dockerfile"));
    assert!(dockerfile.contains("AS build"), "multi-stage");
    let user = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    let uid: u32 = user.split(':').next().unwrap().parse().unwrap();
    assert_ne!(uid, 0);
    let objects = k8s();
    let pod_uid = objects["Deployment/txclass-blue"]["spec"]["template"]["spec"]["securityContext"]
        ["runAsUser"]
        .as_u64()
        .unwrap();
    assert_eq!(u64::from(uid), pod_uid);
    for (name, text) in [
        (
            "deploy/config/server.toml",
            read(&repo().join("deploy/config/server.toml")),
        ),
        (
            "configmap.yaml",
            objects["ConfigMap/txclass-config"]["data"]["server.toml"]
                .as_str()
                .unwrap()
                .to_owned(),
        ),
    ] {
        let c = server_config(name, &text);
        if c.redis.is_some() {
            assert!(
                dockerfile.contains("txclass-server/redis"),
                "{name} needs Redis"
            );
        }
        if matches!(
            c.store_config().unwrap(),
            txclass_core::store::StoreConfig::Elasticsearch(_)
        ) {
            assert!(
                dockerfile.contains("txclass-server/elasticsearch"),
                "{name} needs the Elasticsearch store"
            );
        }
    }
}

/// `timeout <name> <n><unit>` of HAProxy's `defaults`, in seconds.
fn haproxy_timeout(cfg: &str, name: &str) -> u64 {
    let value = cfg
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("timeout {name} ")))
        .unwrap_or_else(|| panic!("no timeout {name}"))
        .trim();
    let (n, unit) = value.split_at(value.find(|c: char| !c.is_ascii_digit()).unwrap());
    let n: u64 = n.parse().unwrap();
    match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        other => panic!("timeout {name}: unit {other:?}"),
    }
}

/// HAProxy on `deploy/haproxy/haproxy.cfg`, its instances replaced by `server` on loopback;
/// killed when dropped.
struct Haproxy {
    process: support::Helper,
    url: String,
    health: String,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    fn start(server: &str) -> Self {
        let haproxy = Path::new("/usr/sbin/haproxy");
        assert!(
            haproxy.exists(),
            "{} is missing: run scripts/check-deploy.sh (apt-get install haproxy); \
             scripts/test.sh does",
            haproxy.display()
        );
        let (lb, health) = (support::free_port(), support::free_port());
        let backend = server.trim_start_matches("http://");
        let (mut binds, mut servers) = (0, 0);
        let cfg: String = read(&repo().join("deploy/haproxy/haproxy.cfg"))
            .lines()
            .map(|line| {
                let t = line.trim_start();
                if t == "bind :8080" {
                    binds += 1;
                    format!("    bind 127.0.0.1:{lb}")
                } else if t == "bind :8404" {
                    binds += 1;
                    format!("    bind 127.0.0.1:{health}")
                } else if let Some(rest) = t.strip_prefix("server ") {
                    servers += 1;
                    let name = rest.split_whitespace().next().unwrap();
                    format!("    server {name} {backend}")
                } else if t.starts_with("default-server ") {
                    // Docker's DNS is not here; the rest of the line stays.
                    line.replace(" init-addr last,libc,none resolvers docker", "")
                } else {
                    line.to_owned()
                }
            })
            .map(|l| l + "\n")
            .collect();
        assert_eq!((binds, servers), (2, 3), "the file's shape changed: {cfg}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, cfg).unwrap();
        let mut command = Command::new(haproxy);
        command.arg("-db").arg("-f").arg(&path);
        Self {
            process: support::Helper::spawn(command),
            url: format!("http://127.0.0.1:{lb}"),
            health: format!("http://127.0.0.1:{health}/healthz"),
            _dir: dir,
        }
    }

    /// Waits until its own health check and a backend answer.
    async fn wait_ready(&mut self) {
        let (own, backend) = (self.health.clone(), format!("{}/readyz", self.url));
        self.process
            .wait_ready(Duration::from_secs(20), || async {
                let ok = |url: String| async move {
                    reqwest::get(url).await.is_ok_and(|r| r.status() == 200)
                };
                ok(own.clone()).await && ok(backend.clone()).await
            })
            .await;
    }
}

#[tokio::test]
async fn the_load_balancer_streams_events_as_they_happen() {
    let cfg = read(&repo().join("deploy/haproxy/haproxy.cfg"));
    // Inactivity limits far above the server's keep-alive comments (every 15 s).
    let keep_alive = ServerConfig::default().keep_alive_ms / 1000;
    for name in ["client", "server", "tunnel"] {
        assert!(
            haproxy_timeout(&cfg, name) >= 60 * keep_alive,
            "timeout {name}"
        );
    }

    // A job of about 14 pages of 150 ms each.
    let server = support::serve_in_process(
        "store_path = \":memory:\"\n[sandbox]\nlatency_min_ms = 150\nlatency_max_ms = 150\n\
         page_size = 20\n",
    )
    .await;
    let mut lb = Haproxy::start(&server);
    lb.wait_ready().await;

    let started = Instant::now();
    let res = reqwest::Client::new()
        .post(format!("{}/v1/classifications", lb.url))
        .body(r#"{"customer_id": "lb-1", "partner_id": "sandbox", "months": 3}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    // When each event arrived.
    let mut arrivals: Vec<(String, Duration)> = Vec::new();
    let mut buffer = String::new();
    let mut body = res.bytes_stream();
    while let Some(chunk) = body.next().await {
        buffer.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if let Some(name) = frame.lines().find_map(|l| l.strip_prefix("event: ")) {
                arrivals.push((name.to_owned(), started.elapsed()));
            }
        }
    }
    let names: Vec<&str> = arrivals.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"accepted"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    let classified = names.iter().filter(|n| **n == "classified").count();
    assert!(classified >= 10, "{names:?}");
    // Streamed, not held back: the first event came long before the last.
    let (first, last) = (arrivals[0].1, arrivals.last().unwrap().1);
    assert!(
        last - first >= Duration::from_secs(1),
        "events arrived together ({first:?} .. {last:?}): the load balancer buffers"
    );

    // The console through the load balancer keeps its headers; /metrics is not served there.
    let page = reqwest::get(format!("{}/", lb.url)).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers().contains_key("content-security-policy"));
    let metrics = reqwest::get(format!("{}/metrics", lb.url)).await.unwrap();
    assert_eq!(metrics.status(), 404);
}

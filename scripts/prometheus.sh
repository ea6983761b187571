#!/usr/bin/env bash
# Prometheus for the metrics tests and for looking at a running server's metrics by hand.
#
# Usage: scripts/prometheus.sh install|start|stop|status
#
#   install  installs Debian's `prometheus` package (prometheus and promtool) with apt-get
#            when missing and running as root. `txclass-server/tests/metrics.rs` starts its
#            own Prometheus from that binary, scraping the server it starts; scripts/test.sh
#            runs this first.
#   start    a throw-away Prometheus scraping TXCLASS_PROMETHEUS_TARGETS every second; the
#            config is generated and checked with `promtool check config` first.
#
# Environment:
#   TXCLASS_PROMETHEUS_PORT     its port on 127.0.0.1 (default 9090)
#   TXCLASS_PROMETHEUS_TARGETS  comma-separated host:port of txclass-servers started with
#                               `[metrics] enabled = true` (default 127.0.0.1:8080)
#   TXCLASS_PROMETHEUS_DIR      state dir: config, data, pid, log
#                               (default <repo>/target/prometheus-<port>)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${TXCLASS_PROMETHEUS_PORT:-9090}"
[[ "$PORT" =~ ^[0-9]+$ ]] || { echo "prometheus: TXCLASS_PROMETHEUS_PORT must be a number" >&2; exit 2; }
TARGETS="${TXCLASS_PROMETHEUS_TARGETS:-127.0.0.1:8080}"
STATE="${TXCLASS_PROMETHEUS_DIR:-$ROOT/target/prometheus-$PORT}"
PIDFILE="$STATE/prometheus.pid"
LOG="$STATE/prometheus.log"

log() { echo "prometheus: $*" >&2; }

# stop_pidfile
# shellcheck source=scripts/redis-common.sh
source "$ROOT/scripts/redis-common.sh"

install() {
    if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
        return
    fi
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing prometheus (and promtool) with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
        # The package may start its own service where an init system runs; the tests
        # start their own Prometheus, so a system one is left alone.
    else
        log "need prometheus and promtool on PATH: apt-get install prometheus"
        exit 1
    fi
}

ready() { curl -fsS "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1; }

running_pid() { pid_of "$PIDFILE"; }

start() {
    install
    if pid="$(running_pid)"; then
        log "already running (pid $pid, port $PORT)"
        return
    fi
    mkdir -p "$STATE/data"
    local targets
    targets="$(echo "$TARGETS" | sed 's/[^,][^,]*/"&"/g')"
    cat >"$STATE/prometheus.yml" <<CONFIG
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: txclass
    metrics_path: /metrics
    static_configs:
      - targets: [$targets]
CONFIG
    promtool check config "$STATE/prometheus.yml" >&2
    nohup prometheus --config.file="$STATE/prometheus.yml" --storage.tsdb.path="$STATE/data" \
        --web.listen-address="127.0.0.1:$PORT" >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    if wait_until ready; then
        log "ready on http://127.0.0.1:$PORT, scraping $TARGETS (pid $(cat "$PIDFILE"))"
        return
    fi
    log "not ready within 10 s; log: $LOG"
    tail -n 20 "$LOG" >&2 || true
    exit 1
}

stop() { stop_logged "$PIDFILE"; }

status() {
    if pid="$(running_pid)" && ready; then
        log "running (pid $pid) on http://127.0.0.1:$PORT"
    else
        log "not running on port $PORT"
        exit 1
    fi
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Start/stop a throw-away Redis Cluster for the tests: three masters on 127.0.0.1, no
# replicas, no persistence.
#
# Usage: scripts/redis-cluster.sh start|stop|status|restart
#
# Environment:
#   TXCLASS_REDIS_CLUSTER_PORT  first port; the masters use it and the next two (default 7400)
#   TXCLASS_REDIS_CLUSTER_DIR   state dir (default <repo>/target/redis-cluster-<port>)
#
# Tests read TXCLASS_REDIS_CLUSTER_URL (redis+cluster://127.0.0.1:7400,127.0.0.1:7401,...)
# and fail when the cluster is down. Installs redis-server and redis-tools like
# scripts/redis.sh (scripts/redis-common.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${TXCLASS_REDIS_CLUSTER_PORT:-7400}"
[[ "$BASE" =~ ^[0-9]+$ ]] || { echo "redis-cluster: TXCLASS_REDIS_CLUSTER_PORT must be a number" >&2; exit 2; }
PORTS=("$BASE" "$((BASE + 1))" "$((BASE + 2))")
STATE="${TXCLASS_REDIS_CLUSTER_DIR:-$ROOT/target/redis-cluster-$BASE}"

log() { echo "redis-cluster: $*" >&2; }

# shellcheck source=scripts/redis-common.sh
source "$ROOT/scripts/redis-common.sh"

ping() { redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG; }

cluster_ok() {
    redis-cli -h 127.0.0.1 -p "$BASE" cluster info 2>/dev/null | grep -q 'cluster_state:ok'
}

start() {
    ensure_redis_tools
    if cluster_ok; then
        log "already running on ports ${PORTS[*]}"
        return
    fi
    for port in "${PORTS[@]}"; do
        if ping "$port"; then
            log "port $port already answers PING but is not a ready cluster of ours; run stop, or set TXCLASS_REDIS_CLUSTER_PORT"
            exit 1
        fi
    done
    rm -rf "$STATE"
    for port in "${PORTS[@]}"; do
        mkdir -p "$STATE/$port"
        redis-server --port "$port" --bind 127.0.0.1 --dir "$STATE/$port" \
            --cluster-enabled yes --cluster-config-file nodes.conf \
            --cluster-node-timeout 5000 \
            --save "" --appendonly no --daemonize yes \
            --pidfile "$STATE/$port/redis.pid" --logfile "$STATE/$port/redis.log" \
            --maxclients 10000 >/dev/null
    done
    for port in "${PORTS[@]}"; do
        for _ in $(seq 1 100); do
            ping "$port" && break
            sleep 0.1
        done
        ping "$port" || { log "port $port did not answer PING; log: $STATE/$port/redis.log"; exit 1; }
    done
    local nodes=()
    for port in "${PORTS[@]}"; do nodes+=("127.0.0.1:$port"); done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$STATE/create.log" 2>&1 \
        || { log "cluster create failed:"; tail -n 20 "$STATE/create.log" >&2; exit 1; }
    for _ in $(seq 1 100); do
        if cluster_ok; then
            log "ready: redis+cluster://$(IFS=,; echo "${nodes[*]}")"
            return
        fi
        sleep 0.1
    done
    log "cluster_state did not become ok within 10 s"
    exit 1
}

stop() {
    local any=0
    for port in "${PORTS[@]}"; do
        stop_pidfile "$STATE/$port/redis.pid" && any=1
    done
    if [[ $any -eq 1 ]]; then log "stopped (ports ${PORTS[*]})"; else log "not running"; fi
}

status() {
    if cluster_ok; then
        log "running on ports ${PORTS[*]}"
    else
        log "not running on ports ${PORTS[*]}"
        exit 1
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    restart) stop; start ;;
    *) echo "usage: $0 start|stop|status|restart" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Start/stop the test Redis: a throw-away redis-server on 127.0.0.1, no persistence.
#
# Usage: scripts/redis.sh start|stop|status|restart
#
# Environment:
#   TXCLASS_REDIS_PORT   port on 127.0.0.1 (default 6399, away from a system Redis on 6379)
#   TXCLASS_REDIS_DIR    state dir: pid, log, working dir (default <repo>/target/redis-<port>)
#
# Tests read TXCLASS_REDIS_URL (default redis://127.0.0.1:6399) and fail when it is down.
# Installs redis-server and redis-tools (redis-cli, redis-benchmark) with apt-get when
# missing and running as root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${TXCLASS_REDIS_PORT:-6399}"
[[ "$PORT" =~ ^[0-9]+$ ]] || { echo "redis: TXCLASS_REDIS_PORT must be a number" >&2; exit 2; }
STATE="${TXCLASS_REDIS_DIR:-$ROOT/target/redis-$PORT}"
PIDFILE="$STATE/redis.pid"
LOG="$STATE/redis.log"

log() { echo "redis: $*" >&2; }

# shellcheck source=scripts/redis-common.sh
source "$ROOT/scripts/redis-common.sh"

ping() { redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null | grep -q PONG; }

running_pid() { pid_of "$PIDFILE"; }

start() {
    ensure_redis_tools
    if pid="$(running_pid)"; then
        log "already running (pid $pid, port $PORT)"
        return
    fi
    if ping; then
        log "port $PORT already answers PING but is not ours; set TXCLASS_REDIS_PORT"
        exit 1
    fi
    mkdir -p "$STATE"
    # No RDB snapshots, no AOF: a test Redis starts empty and leaves nothing behind.
    redis-server --port "$PORT" --bind 127.0.0.1 --dir "$STATE" \
        --save "" --appendonly no --daemonize yes \
        --pidfile "$PIDFILE" --logfile "$LOG" \
        --maxclients 10000 >/dev/null
    if wait_until ping; then
        log "ready on redis://127.0.0.1:$PORT (pid $(cat "$PIDFILE" 2>/dev/null || echo ?))"
        return
    fi
    log "did not answer PING within 10 s; log: $LOG"
    tail -n 20 "$LOG" >&2 || true
    exit 1
}

stop() { stop_logged "$PIDFILE"; }

status() {
    if pid="$(running_pid)" && ping; then
        log "running (pid $pid) on redis://127.0.0.1:$PORT"
    else
        log "not running on port $PORT"
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

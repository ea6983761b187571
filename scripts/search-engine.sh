#!/usr/bin/env bash
# Start/stop the test search engine: a real single-node OpenSearch 2.19 running in-JVM,
# built from Maven Central jars by tests/search-engine (no Docker, no distribution download).
#
# Usage: scripts/search-engine.sh start|stop|status|restart|build
#
# Environment:
#   TXCLASS_SEARCH_PORT       HTTP port on 127.0.0.1 (default 9200)
#   TXCLASS_SEARCH_DIR        state dir: pid, log, data (default <repo>/target/search-engine)
#   TXCLASS_SEARCH_TIMEOUT    seconds to wait for health on start (default 180)
#   TXCLASS_SEARCH_JAVA_OPTS  JVM options (default: 768m heap, see below)
#   TXCLASS_SEARCH_KEEP_DATA  1 = keep indices from the previous run (default: wipe on start)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODULE="$ROOT/tests/search-engine"
JAR="$MODULE/target/search-engine-launcher.jar"
PORT="${TXCLASS_SEARCH_PORT:-9200}"
STATE="${TXCLASS_SEARCH_DIR:-$ROOT/target/search-engine}"
PIDFILE="$STATE/opensearch.pid"
LOG="$STATE/opensearch.log"
HOME_DIR="$STATE/home"
TIMEOUT="${TXCLASS_SEARCH_TIMEOUT:-180}"
# The distribution's jvm.options set these too: fixed heap, netty without Unsafe tricks,
# JDK-8-compatible locale data for date parsing, log4j without JMX.
JAVA_OPTS="${TXCLASS_SEARCH_JAVA_OPTS:--Xms768m -Xmx768m -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError \
-Djava.awt.headless=true -Dfile.encoding=UTF-8 -Djava.locale.providers=SPI,COMPAT \
-Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true -Dio.netty.recycler.maxCapacityPerThread=0 \
-Dlog4j2.disable.jmx=true}"
URL="http://127.0.0.1:$PORT"
[[ "$PORT" =~ ^[0-9]+$ ]] || { echo "search-engine: TXCLASS_SEARCH_PORT must be a number" >&2; exit 2; }

log() { echo "search-engine: $*" >&2; }

# GET a URL on 127.0.0.1; prints the body, fails on connection error or HTTP >= 400.
http_get() {
    if command -v curl >/dev/null 2>&1; then
        curl -sf --max-time 15 "$URL$1"
    else # fallback without curl: bash's /dev/tcp, HTTP/1.0
        local resp
        exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
        printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
        resp="$(timeout 15 cat <&3)" || { exec 3>&-; return 1; }
        exec 3>&-
        [[ "$(head -n1 <<<"$resp")" =~ \ [23][0-9][0-9]\  ]] || return 1
        sed '1,/^\r\?$/d' <<<"$resp"
    fi
}

# Install java/maven on a fresh Debian machine if they are missing (root only).
ensure_tools() {
    if command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then return; fi
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing java 17 and maven with apt-get"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            openjdk-17-jdk-headless maven >/dev/null
    else
        log "need java (17+) and mvn on PATH: apt-get install openjdk-17-jdk-headless maven"
        exit 1
    fi
}

# Build the launcher if the jar is missing or older than the pom or any source file.
build() {
    ensure_tools
    if [[ -f "$JAR" && -d "$MODULE/target/lib" ]] \
        && [[ -z "$(find "$MODULE/pom.xml" "$MODULE/src" -newer "$JAR" -print -quit)" ]]; then
        return
    fi
    log "building $MODULE (the first build downloads ~85 MB of jars from Maven Central into ~/.m2)"
    # Clean lib/ so jars of an older dependency version never linger on the classpath.
    rm -rf "$MODULE/target/lib"
    # Output goes to a file (Debian's mvn prints stray colour codes even with -q): shown on failure.
    mkdir -p "$STATE"
    if ! (cd "$MODULE" && mvn -q -B package -DskipTests) >"$STATE/build.log" 2>&1; then
        log "maven build failed:"
        cat "$STATE/build.log" >&2
        exit 1
    fi
}

# Pid from the pid file if that process is alive and is our launcher, else nothing.
running_pid() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid; pid="$(cat "$PIDFILE")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q search-engine-launcher \
        && echo "$pid"
}

start() {
    if pid="$(running_pid)"; then
        log "already running (pid $pid) on $URL"
        return 0
    fi
    if http_get / >/dev/null 2>&1; then
        log "port $PORT is already served by another process; set TXCLASS_SEARCH_PORT"
        exit 1
    fi
    build
    mkdir -p "$STATE"
    [[ "${TXCLASS_SEARCH_KEEP_DATA:-0}" == 1 ]] || rm -rf "$HOME_DIR"
    local t0=$SECONDS
    # shellcheck disable=SC2086  # JAVA_OPTS is a list of words
    nohup java $JAVA_OPTS -jar "$JAR" --port "$PORT" --home "$HOME_DIR" >"$LOG" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$PIDFILE"
    log "started pid $pid, log $LOG; waiting up to ${TIMEOUT}s for $URL"
    while (( SECONDS - t0 < TIMEOUT )); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "process exited during startup; last 50 log lines:"
            tail -n 50 "$LOG" >&2
            rm -f "$PIDFILE"
            exit 1
        fi
        if http_get "/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null 2>&1; then
            log "healthy after $((SECONDS - t0))s: $URL"
            return 0
        fi
        sleep 1
    done
    log "not healthy after ${TIMEOUT}s; last 50 log lines:"
    tail -n 50 "$LOG" >&2
    stop
    exit 1
}

stop() {
    local pid
    if ! pid="$(running_pid)"; then
        log "not running"
        rm -f "$PIDFILE"
        return 0
    fi
    kill -TERM "$pid"   # the launcher closes the node in its shutdown hook
    for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; log "stopped (pid $pid)"; return 0; }
        sleep 0.5
    done
    log "pid $pid did not stop in 30s; killing"
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
}

status() {
    local pid
    if ! pid="$(running_pid)"; then
        echo "stopped"
        return 3
    fi
    if health="$(http_get "/_cluster/health")"; then
        echo "running pid $pid $URL $health"
    else
        echo "running pid $pid $URL (not answering)"
        return 1
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    restart) stop; start ;;
    build) build ;;
    *) echo "usage: $0 start|stop|status|restart|build" >&2; exit 2 ;;
esac

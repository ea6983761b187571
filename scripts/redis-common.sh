# Shared by scripts/redis.sh, scripts/redis-cluster.sh and scripts/prometheus.sh (sourced, not
# run). Each defines `log` before sourcing this.

# Installs redis-server and redis-tools (redis-cli, redis-benchmark) with apt-get when
# missing and running as root; otherwise says what is needed and exits.
ensure_redis_tools() {
    if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 \
        && command -v redis-benchmark >/dev/null 2>&1; then
        return
    fi
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing redis-server and redis-tools with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
    else
        log "need redis-server, redis-cli and redis-benchmark on PATH: apt-get install redis-server redis-tools"
        exit 1
    fi
}

# Stops the process in pid file $1 (TERM, then KILL after 5 s) and removes the file.
# Succeeds when a process was running.
stop_pidfile() {
    local pidfile="$1" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(cat "$pidfile")"
    rm -f "$pidfile"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    kill "$pid"
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "pid $pid did not stop; sending SIGKILL"
    kill -9 "$pid"
}

# Prints the pid in pid file $1 when that process is running; fails otherwise.
pid_of() {
    [[ -f "$1" ]] || return 1
    local pid
    pid="$(cat "$1")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Runs the command "$@" every 0.1 s until it succeeds, for at most 10 s; fails if it never did.
wait_until() {
    for _ in $(seq 1 100); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# Stops the process of pid file $1 and says whether it was running.
stop_logged() {
    local pid
    pid="$(pid_of "$1")" || pid="?"
    if stop_pidfile "$1"; then
        log "stopped (pid $pid)"
    else
        log "not running"
    fi
}

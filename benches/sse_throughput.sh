#!/usr/bin/env bash
# SSE benchmark of txclass-server (issue 2), with aiohttp + aiohttp-sse as the reference stack
# under the same load. Loopback only; every run is bounded in time.
#
#   (a) throughput in events/s: wrk with $CONNECTIONS connections on
#       GET /v1/bench/sse?events=$EVENTS (synthetic jobs through the real SSE framing code),
#       the same on the aiohttp reference, and real classification jobs
#       (POST /v1/classifications) against the in-process simulator with zero latency;
#   (b) $STREAMS idle SSE streams held open, and the server's memory per stream (RSS delta /
#       streams, from /proc/PID/status): over HTTP/1.1, one connection each
#       (benches/hold_streams.py, both servers), and over HTTP/2, multiplexed on
#       $H2_CONNECTIONS connections (benches/hold_streams.rs; aiohttp has no HTTP/2).
#
# Usage: benches/sse_throughput.sh
# Knobs (environment): DURATION (s, default 10), CONNECTIONS (100), EVENTS (100),
#   STREAMS (15000), WORKER_THREADS (server's tokio workers; default: one per core),
#   WRK_THREADS (2), SERVER_BIN (the server binary; default: the release build of this tree,
#   e.g. a copy of an older build to compare against).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-100}
EVENTS=${EVENTS:-100}
STREAMS=${STREAMS:-15000}
WRK_THREADS=${WRK_THREADS:-2}
H2_CONNECTIONS=${H2_CONNECTIONS:-100}
SERVER_BIN=${SERVER_BIN:-target/release/txclass-server}
RUST_PORT=18480
PY_PORT=18481
OUT=target/bench-sse
mkdir -p "$OUT"

command -v wrk >/dev/null || { apt-get update && apt-get install -y wrk; }
cargo build --release -p txclass-server
cargo bench --bench hold_streams --no-run
VENV=target/bench-venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import aiohttp, aiohttp_sse' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q aiohttp aiohttp-sse
fi
PY="$VENV/bin/python"

ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((STREAMS + 500)) ]; then
  echo "open-file limit $(ulimit -n) is too low for $STREAMS streams" >&2
  exit 1
fi

cat > "$OUT/server.toml" <<TOML
listen = "127.0.0.1:$RUST_PORT"
store_path = ":memory:"
bench_routes = true
retry_workers = 4
# Longer than any run, so idle streams carry no keep-alive traffic while measured.
keep_alive_ms = 600000
grace_period_ms = 1000
[sandbox]
capacity = 64
latency_min_ms = 0
latency_max_ms = 0
TOML

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

wait_http() { # url
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.05
  done
  echo "no answer from $1" >&2
  return 1
}

start_rust() {
  local args=(--config "$OUT/server.toml")
  [ -n "${WORKER_THREADS:-}" ] && args+=(--worker-threads "$WORKER_THREADS")
  RUST_LOG=warn "$SERVER_BIN" "${args[@]}" > "$OUT/server.log" 2>&1 &
  RUST_PID=$!
  PIDS+=("$RUST_PID")
  wait_http "http://127.0.0.1:$RUST_PORT/healthz"
}

start_py() {
  "$PY" benches/sse_reference_aiohttp.py "$PY_PORT" > "$OUT/aiohttp.log" 2>&1 &
  PY_PID=$!
  PIDS+=("$PY_PID")
  wait_http "http://127.0.0.1:$PY_PORT/v1/bench/sse?events=2"
}

stop() { # pid
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

count_events() { # curl args...
  curl -sN "$@" | grep -c '^event:'
}

wrk_rps() { # label, wrk args...
  local label=$1
  shift
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "$@" > "$OUT/wrk-$label.txt"
  if grep -q 'Non-2xx' "$OUT/wrk-$label.txt"; then
    echo "$label: some answers were not 2xx:" >&2
    cat "$OUT/wrk-$label.txt" >&2
    exit 1
  fi
  awk '/^Requests\/sec:/ {print $2}' "$OUT/wrk-$label.txt"
}

echo "== (a) throughput: $CONNECTIONS connections, $EVENTS-event streams, ${DURATION}s each"
start_rust
start_py
RUST_SSE="http://127.0.0.1:$RUST_PORT/v1/bench/sse?events=$EVENTS"
PY_SSE="http://127.0.0.1:$PY_PORT/v1/bench/sse?events=$EVENTS"
for url in "$RUST_SSE" "$PY_SSE"; do
  n=$(count_events "$url")
  [ "$n" -eq "$EVENTS" ] || { echo "$url sent $n events, not $EVENTS" >&2; exit 1; }
done
wrk -t1 -c10 -d2s "$RUST_SSE" > /dev/null
rust_rps=$(wrk_rps rust-synthetic "$RUST_SSE")
wrk -t1 -c10 -d2s "$PY_SSE" > /dev/null
py_rps=$(wrk_rps aiohttp-synthetic "$PY_SSE")
stop "$PY_PID"

JOB_BODY='{"customer_id":"bench-probe","partner_id":"sandbox","from":"2026-01-01","to":"2026-01-31"}'
job_events=$(count_events -X POST -H 'content-type: application/json' -d "$JOB_BODY" \
  "http://127.0.0.1:$RUST_PORT/v1/classifications")
jobs_rps=$(wrk_rps rust-jobs -s benches/classify.lua "http://127.0.0.1:$RUST_PORT")
stop "$RUST_PID"

events_per_s() { awk -v r="$1" -v e="$2" 'BEGIN { printf "%.0f", r * e }'; }
rust_eps=$(events_per_s "$rust_rps" "$EVENTS")
py_eps=$(events_per_s "$py_rps" "$EVENTS")
jobs_eps=$(events_per_s "$jobs_rps" "$job_events")

echo "== (b) $STREAMS idle streams held open"
hold() { # port pid label
  local before after open
  curl -s -o /dev/null "http://127.0.0.1:$1/v1/bench/sse?events=2"
  sleep 1
  before=$(rss_kb "$2")
  "$PY" benches/hold_streams.py 127.0.0.1 "$1" "/v1/bench/sse?events=2&hold=true" "$STREAMS" \
    --hold 120 > "$OUT/hold-$3.txt" 2>&1 &
  local client=$!
  PIDS+=("$client")
  for _ in $(seq 1 1800); do
    grep -q '^open' "$OUT/hold-$3.txt" && break
    kill -0 "$client" 2>/dev/null || { cat "$OUT/hold-$3.txt" >&2; exit 1; }
    sleep 0.1
  done
  open=$(awk '/^open/ {print $2}' "$OUT/hold-$3.txt")
  [ "$open" = "$STREAMS" ] || { echo "$3: only '$open' streams opened" >&2; exit 1; }
  sleep 2
  after=$(rss_kb "$2")
  stop "$client"
  echo "$before $after"
}
start_rust
read -r rust_before rust_after < <(hold "$RUST_PORT" "$RUST_PID" rust)
stop "$RUST_PID"
start_py
read -r py_before py_after < <(hold "$PY_PORT" "$PY_PID" aiohttp)
stop "$PY_PID"

hold_h2() { # port pid
  local before after open per=$((STREAMS / H2_CONNECTIONS))
  curl -s -o /dev/null "http://127.0.0.1:$1/v1/bench/sse?events=2"
  sleep 1
  before=$(rss_kb "$2")
  cargo bench -q --bench hold_streams -- "http://127.0.0.1:$1/v1/bench/sse?events=2&hold=true" \
    "$H2_CONNECTIONS" "$per" 10 > "$OUT/hold-h2.txt" 2>&1 &
  local client=$!
  PIDS+=("$client")
  for _ in $(seq 1 1800); do
    grep -q '^open' "$OUT/hold-h2.txt" && break
    kill -0 "$client" 2>/dev/null || { cat "$OUT/hold-h2.txt" >&2; exit 1; }
    sleep 0.1
  done
  open=$(awk '/^open/ {print $2}' "$OUT/hold-h2.txt")
  [ "$open" = "$((per * H2_CONNECTIONS))" ] || { echo "h2: only '$open' streams opened" >&2; exit 1; }
  sleep 2
  after=$(rss_kb "$2")
  wait "$client" || true
  echo "$before $after"
}
start_rust
read -r h2_before h2_after < <(hold_h2 "$RUST_PORT" "$RUST_PID")
stop "$RUST_PID"

per_stream() { awk -v a="$1" -v b="$2" -v n="$STREAMS" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }'; }

echo
echo "| measure | txclass-server (hyper) | aiohttp + aiohttp-sse |"
echo "|---|---|---|"
echo "| synthetic ${EVENTS}-event streams, ${CONNECTIONS} conns: streams/s | $rust_rps | $py_rps |"
echo "| synthetic: events/s | $rust_eps | $py_eps |"
echo "| real jobs vs in-process simulator (0 ms), ${CONNECTIONS} conns: jobs/s ($job_events events each) | $jobs_rps | - |"
echo "| real jobs: events/s | $jobs_eps | - |"
echo "| $STREAMS idle HTTP/1.1 streams (one connection each): RSS before → after (KiB) | $rust_before → $rust_after | $py_before → $py_after |"
echo "| memory per idle HTTP/1.1 stream (bytes) | $(per_stream "$rust_before" "$rust_after") | $(per_stream "$py_before" "$py_after") |"
echo "| $STREAMS idle HTTP/2 streams on $H2_CONNECTIONS connections: RSS before → after (KiB) | $h2_before → $h2_after | - |"
echo "| memory per idle HTTP/2 stream (bytes) | $(per_stream "$h2_before" "$h2_after") | - |"
echo
echo "raw wrk output: $OUT/wrk-*.txt"

#!/usr/bin/env bash
# Connection limits of txclass-server under misbehaving clients (benches/conn_limits.rs), with
# the default `[connections]` limits and, for comparison, with them opened up to hyper's own
# defaults (no idle, handshake or send timer; 200 streams; 400 KB send buffer per stream):
#
#   (a) $IDLE HTTP/2 connections that send the preface and SETTINGS, then nothing;
#   (b) $DRIP connections that drip the HTTP/2 preface, one byte every 10 s;
#   (c) $SLOW requests on the hyper path whose body drips one byte every 10 s, and
#       $SLOW chunked requests announcing a chunk of 2^64-1 bytes and sending 60;
#   (d) $H2_CLIENTS HTTP/2 clients × $H2_STREAMS streams of
#       GET /v1/customers/bench-big/transactions?limit=1000 (about 1,000 stored
#       transactions, ~250 KB of JSON) that never read a byte: the server's RSS (from
#       /proc/PID/status) before, at its peak and after, and how long the connections live.
#
# Each client line is `t=<s> open=<connections the server keeps>`. Loopback only; every run
# is bounded (SECS, default 100 s per scenario).
#
# Usage: benches/conn_limits.sh   (knobs: IDLE=2000 DRIP=300 SLOW=200 H2_CLIENTS=5
#   H2_STREAMS=200 SECS=100 PORT=18350 SERVER_BIN=target/release/txclass-server;
#   OPEN_LIMITS=0 skips the comparison with the limits opened up; ONLY_NO_READ=1 runs (d) only)
set -euo pipefail
cd "$(dirname "$0")/.."

IDLE=${IDLE:-2000}
DRIP=${DRIP:-300}
SLOW=${SLOW:-200}
H2_CLIENTS=${H2_CLIENTS:-5}
H2_STREAMS=${H2_STREAMS:-200}
SECS=${SECS:-100}
PORT=${PORT:-18350}
SERVER_BIN=${SERVER_BIN:-target/release/txclass-server}
OUT=target/bench-conn-limits
mkdir -p "$OUT"

cargo build --release -p txclass-server
cargo bench --bench conn_limits --no-run
ulimit -n "$(ulimit -Hn)"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

write_config() { # file, extra [connections] lines
  cat > "$1" <<TOML
listen = "127.0.0.1:$PORT"
store_path = ":memory:"
retry_workers = 2
[sandbox]
capacity = 16
latency_min_ms = 0
latency_max_ms = 0
[connections]
$2
TOML
}

start() { # config
  RUST_LOG=warn "$SERVER_BIN" --config "$1" > "$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0
    sleep 0.05
  done
  echo "the server did not start" >&2
  exit 1
}

stop() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }

clients() { # mode n [args...]
  cargo bench -q --bench conn_limits -- "$1" "127.0.0.1:$PORT" "$2" "$SECS" "${@:3}" 2>/dev/null
}

seed() {
  curl -sN -X POST -H 'content-type: application/json' \
    -d '{"customer_id":"bench-big","partner_id":"sandbox","months":12}' \
    "http://127.0.0.1:$PORT/v1/classifications" | grep -c '^event:' > /dev/null
  local bytes items
  bytes=$(curl -s "http://127.0.0.1:$PORT/v1/customers/bench-big/transactions?limit=1000" | wc -c)
  items=$(curl -s "http://127.0.0.1:$PORT/v1/customers/bench-big/transactions?limit=1000" \
    | grep -o '"id":' | wc -l)
  echo "seeded: one page of limit=1000 is $items transactions, $bytes bytes"
}

run() { # label, [connections] lines
  local label=$1
  write_config "$OUT/$label.toml" "$2"
  echo "==== $label"
  start "$OUT/$label.toml"
  if [ "${ONLY_NO_READ:-0}" = 1 ]; then
    no_read "$label"
    return
  fi
  echo "-- (a) $IDLE idle HTTP/2 connections (preface + SETTINGS, then nothing)"
  clients idle "$IDLE" | tail -n 3
  echo "-- (b) $DRIP connections dripping the HTTP/2 preface (1 byte / 10 s)"
  clients drip "$DRIP" | tail -n 2
  echo "-- (c) $SLOW slow bodies on the hyper path (1 byte / 10 s), $SLOW chunks of 2^64-1"
  clients slow-body "$SLOW" | tail -n 1
  clients huge-chunk "$SLOW" | tail -n 1
  no_read "$label"
}

no_read() { # label
  local label=$1 before
  echo "-- (d) $H2_CLIENTS HTTP/2 clients x $H2_STREAMS streams of transactions?limit=1000, never read"
  seed
  sleep 2
  # Twice: the allocator keeps what the first round freed (RSS does not shrink), so the
  # second round's peak shows whether that memory was freed and reused, or is still held.
  for round in 1 2; do
    before=$(rss_kb)
    local peak=$before
    clients no-read "$H2_CLIENTS" /v1/customers/bench-big/transactions?limit=1000 "$H2_STREAMS" \
      > "$OUT/$label-no-read.txt" &
    local client=$!
    while kill -0 "$client" 2>/dev/null; do
      local now
      now=$(rss_kb)
      [ "$now" -gt "$peak" ] && peak=$now
      sleep 0.5
    done
    tail -n 2 "$OUT/$label-no-read.txt"
    echo "round $round RSS: before ${before} KB, peak ${peak} KB" \
      "(+$(( (peak - before) / 1024 )) MB, $(( (peak - before) / H2_CLIENTS )) KB per client)"
  done
  stop
}

run defaults ""
if [ "${OPEN_LIMITS:-1}" = 1 ]; then
  run opened-up "handshake_timeout_ms = 600000
idle_timeout_ms = 600000
send_timeout_ms = 600000
http2_keep_alive_interval_ms = 0
http2_max_concurrent_streams = 200
http2_max_send_buf_bytes = 409600
http2_initial_stream_window_bytes = 1048576"
fi

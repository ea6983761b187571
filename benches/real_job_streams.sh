#!/usr/bin/env bash
# Memory per open stream of REAL classification jobs (issue 2): STREAMS clients each POST
# /v1/classifications to the release server and hold the SSE stream open while the sandbox
# partner (latency 10 minutes, capacity 64) keeps every job waiting — 64 of them inside a
# partner call, the rest queued for a permit. Prints the server's RSS before and after
# and the delta per stream. Loopback only; the run ends by itself.
#
# Usage: benches/real_job_streams.sh            Knobs: STREAMS (15000), PORT (18490)
set -euo pipefail
cd "$(dirname "$0")/.."
STREAMS=${STREAMS:-15000}
PORT=${PORT:-18490}
OUT=target/bench-real-jobs
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"
cargo build --release -p txclass-server
cat > "$OUT/server.toml" <<TOML
listen = "127.0.0.1:$PORT"
store_path = ":memory:"
keep_alive_ms = 600000
grace_period_ms = 500
[sandbox]
capacity = 64
latency_min_ms = 600000
latency_max_ms = 600000
TOML
RUST_LOG=warn target/release/txclass-server --config "$OUT/server.toml" > "$OUT/server.log" 2>&1 &
SP=$!
trap 'kill $SP 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.05; done
BODY='{"customer_id":"c-1","partner_id":"sandbox","from":"2026-01-01","to":"2026-01-31"}'
# Warm-up: one job opened and dropped, so lazily built state is not counted per stream.
timeout 1 curl -sN -X POST -d "$BODY" "http://127.0.0.1:$PORT/v1/classifications" >/dev/null || true
sleep 1
before=$(awk '/^VmRSS/ {print $2}' "/proc/$SP/status")
python3 benches/hold_streams.py 127.0.0.1 "$PORT" /v1/classifications "$STREAMS" --hold 60 \
    --post "$BODY" > "$OUT/hold.txt" 2>&1 &
CP=$!
for _ in $(seq 1 1200); do
    grep -q '^open' "$OUT/hold.txt" && break
    kill -0 $CP 2>/dev/null || { cat "$OUT/hold.txt"; exit 1; }
    sleep 0.1
done
sleep 3
after=$(awk '/^VmRSS/ {print $2}' "/proc/$SP/status")
kill $CP 2>/dev/null || true
wait $CP 2>/dev/null || true
echo "real jobs waiting: $STREAMS streams, server RSS ${before} KiB -> ${after} KiB, $(( (after - before) * 1024 / STREAMS )) B per stream"

#!/usr/bin/env bash
# The API contract, checked against a live server: installs the pinned Python tools
# (scripts/api-contract/requirements.txt) into a project-local venv, starts txclass-server
# with every route on (scripts/api-contract/server.toml), validates its GET /openapi.json with
# openapi-spec-validator, then runs schemathesis on every operation of that document
# (scripts/api-contract/schemathesis.toml: pinned checks, seed and example counts). Fails on any
# server error, any response the document does not describe, or an invalid document.
#
# Usage: scripts/api-contract.sh [extra args for schemathesis run]
# Environment: TXCLASS_API_CONTRACT_PORT (default 18089). The server runs with API keys on: the
# run makes a key of its own (`txclass keys create`) and every request carries it.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${TXCLASS_API_CONTRACT_PORT:-18089}"
base="http://127.0.0.1:$port"
venv=.venv/api-contract
# Hypothesis (under schemathesis) keeps its files in the venv, not in the work tree.
export HYPOTHESIS_STORAGE_DIRECTORY="$venv/hypothesis"

if ! "$venv/bin/python" -c 'import schemathesis, openapi_spec_validator' 2>/dev/null \
    || ! cmp -s scripts/api-contract/requirements.txt "$venv/requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        --requirement scripts/api-contract/requirements.txt
    cp scripts/api-contract/requirements.txt "$venv/requirements.txt"
fi

cargo build --quiet -p txclass-server --bin txclass-server -p txclass-cli --bin txclass
mkdir -p target/api-contract
rm -f target/api-contract/keys.json
TXCLASS_API_KEY=$(target/debug/txclass keys create --tenant contract \
    --keys-file target/api-contract/keys.json 2>/dev/null)
export TXCLASS_API_KEY
TXCLASS_TOKEN_SECRET=$(head -c 32 /dev/urandom | base64)
export TXCLASS_TOKEN_SECRET
log=$(mktemp)
target/debug/txclass-server --config scripts/api-contract/server.toml \
    --listen "127.0.0.1:$port" --store :memory: >"$log" 2>&1 &
server=$!
stop_server() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -f "$log"
}
trap stop_server EXIT

for _ in $(seq 100); do
    curl -sf "$base/healthz" >/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.1
done

doc=$(mktemp --suffix=.json)
curl -sf "$base/openapi.json" -o "$doc"
"$venv/bin/openapi-spec-validator" "$doc"
rm -f "$doc"

"$venv/bin/schemathesis" --config-file scripts/api-contract/schemathesis.toml \
    run "$base/openapi.json" "$@" || { echo "server log:"; tail -50 "$log"; exit 1; }

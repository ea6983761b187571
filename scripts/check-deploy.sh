#!/usr/bin/env bash
# Checks the deploy files with the real tools, offline (no container engine runs here):
#   - deploy/k8s/*.yaml     kubernetes-validate --strict (PyPI; it ships the Kubernetes schemas)
#                           against the newest Kubernetes it knows and an older one
#   - deploy/haproxy/       haproxy -c (Debian's haproxy); no warning but the instances'
#                           names not resolving here
#   - deploy/prometheus/    promtool check config (Debian's prometheus)
# The compose file, the configurations the stack mounts and the wiring between the files are
# checked by txclass-server/tests/deploy.rs (cargo test). The Dockerfile is not built here.
#
# Installs what it needs when missing and running as root (pip, apt-get); otherwise says what
# is needed and exits 1.
#
# Usage: scripts/check-deploy.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

KUBERNETES_VALIDATE_VERSION=1.37.0
# Older clusters still in service: the manifests must hold there too.
OLDEST_KUBERNETES=1.30.0

log() { echo "check-deploy: $*" >&2; }

apt_install() {
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing $* with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            -o DPkg::Lock::Timeout=600 "$@" >/dev/null
    else
        log "need $*: apt-get install $*"
        exit 1
    fi
}

install() {
    if ! python3 -m kubernetes_validate --version 2>/dev/null | grep -qx "$KUBERNETES_VALIDATE_VERSION"; then
        log "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION with pip"
        python3 -m pip install -q --disable-pip-version-check \
            "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
    fi
    command -v haproxy >/dev/null 2>&1 || apt_install haproxy
    command -v promtool >/dev/null 2>&1 || scripts/prometheus.sh install
}

check_k8s() {
    local files=(deploy/k8s/*.yaml)
    python3 -m kubernetes_validate --strict --quiet "${files[@]}"
    python3 -m kubernetes_validate --strict --quiet -k "$OLDEST_KUBERNETES" "${files[@]}"
    log "kubernetes-validate --strict: ${#files[@]} files valid for Kubernetes $KUBERNETES_VALIDATE_VERSION and $OLDEST_KUBERNETES"
}

check_haproxy() {
    local out
    if ! out="$(haproxy -c -f deploy/haproxy/haproxy.cfg 2>&1)"; then
        echo "$out" >&2
        log "haproxy -c: deploy/haproxy/haproxy.cfg is not valid"
        exit 1
    fi
    # The compose service names resolve only inside the stack: that warning is expected.
    if grep -E '\[(WARNING|ALERT)\]' <<<"$out" | grep -v "could not resolve address 'txclass-[0-9]'" >&2; then
        log "haproxy -c: unexpected warnings in deploy/haproxy/haproxy.cfg"
        exit 1
    fi
    log "haproxy -c: deploy/haproxy/haproxy.cfg valid ($(haproxy -v | head -1 | cut -d' ' -f1-3))"
}

check_prometheus() {
    promtool check config deploy/prometheus/prometheus.yml >/dev/null
    log "promtool check config: deploy/prometheus/prometheus.yml valid"
}

install
check_k8s
check_haproxy
check_prometheus

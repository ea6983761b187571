#!/usr/bin/env bash
# Installs what the console's browser test needs: Chromium and its WebDriver (Debian's
# `chromium` and `chromium-driver`), when missing and running as root; otherwise says what is
# needed and exits 1. The test (txclass-server/tests/console.rs) starts chromedriver itself.
#
# Usage: scripts/browser.sh install|check
#
# Environment (read by the test too): TXCLASS_CHROMEDRIVER (default /usr/bin/chromedriver),
# TXCLASS_CHROMIUM (default /usr/bin/chromium).
set -euo pipefail

DRIVER="${TXCLASS_CHROMEDRIVER:-/usr/bin/chromedriver}"
BROWSER="${TXCLASS_CHROMIUM:-/usr/bin/chromium}"

log() { echo "browser: $*" >&2; }

present() { [[ -x "$DRIVER" && -x "$BROWSER" ]]; }

install() {
    if present; then
        log "$("$BROWSER" --version 2>/dev/null || echo chromium), $("$DRIVER" --version 2>/dev/null | cut -d' ' -f1-2)"
        return
    fi
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing chromium and chromium-driver with apt-get"
        apt-get update -qq
        # Another apt-get may hold the lock for a while on a shared machine: wait for it.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            -o DPkg::Lock::Timeout=600 chromium chromium-driver >/dev/null
        present || { log "installed, but $BROWSER or $DRIVER is still missing"; exit 1; }
    else
        log "need $BROWSER and $DRIVER: apt-get install chromium chromium-driver"
        exit 1
    fi
}

case "${1:-install}" in
    install) install ;;
    check) present || { log "missing $BROWSER or $DRIVER: run scripts/browser.sh install"; exit 1; } ;;
    *) echo "usage: $0 install|check" >&2; exit 2 ;;
esac

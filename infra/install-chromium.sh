#!/usr/bin/env bash
# Installs Debian's Chromium for the browser-test ring (tests/e2e), plus one small CJK font so that
# the Chinese of WeChat's pages renders as text, not boxes, in screenshots. Idempotent: installs
# nothing when both are there. Uses only Debian's apt repositories: never a browser download.
set -euo pipefail

CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
CJK_FONT_PACKAGE=fonts-wqy-zenhei

missing=()
if [[ ! -x "$CHROMIUM_PATH" ]]; then
    missing+=(chromium)
fi
if ! command -v fc-list >/dev/null 2>&1 || [[ -z "$(fc-list :lang=zh family 2>/dev/null)" ]]; then
    missing+=("$CJK_FONT_PACKAGE")
fi

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "chromium and a CJK font already installed: $CHROMIUM_PATH"
else
    if [[ "$(id -u)" -eq 0 ]]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "install-chromium.sh: ${missing[*]} missing, and this is not root and has no sudo." >&2
        echo "As root, run: apt-get update && apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-chromium.sh: apt-get not found; install Chromium yourself and set CHROMIUM_PATH." >&2
        exit 1
    fi
    echo "install-chromium.sh: installing ${missing[*]} (Debian packages)"
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    if [[ ! -x "$CHROMIUM_PATH" ]]; then
        echo "install-chromium.sh: apt-get finished but $CHROMIUM_PATH is still missing." >&2
        exit 1
    fi
fi

# Debian's launcher script is noisy on stderr in some containers (/etc/chromium.d/dev-shm); the
# version line is on stdout.
"$CHROMIUM_PATH" --version 2>/dev/null

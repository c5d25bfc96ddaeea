#!/usr/bin/env bash
# Make sure the real-browser test (tests/test_browser.py) has what it needs from the system:
# Debian's Chromium, and a Korean font so the screenshots show the course's Korean text.
# Installs with apt only what is missing; never downloads a browser build of its own (no
# `playwright install`): Playwright's Python API drives the system Chromium.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=ko 2>/dev/null)" ]; then
    missing+=(fonts-nanum)
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "ensure_browser: chromium found at $(command -v chromium); a Korean font is installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_browser: missing ${missing[*]} and no apt-get to install it;" \
         "install Chromium with your system's package manager, or leave the browser test out" \
         "(pytest -m 'not browser')" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "ensure_browser: installing ${missing[*]} needs root (or sudo)" >&2
        exit 1
    fi
    SUDO="sudo"
fi

echo "ensure_browser: installing ${missing[*]} with apt-get"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
if ! command -v chromium >/dev/null 2>&1; then
    echo "ensure_browser: apt-get ran but chromium is still not on PATH" >&2
    exit 1
fi
echo "ensure_browser: chromium at $(command -v chromium)"

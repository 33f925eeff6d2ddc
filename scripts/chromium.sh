#!/usr/bin/env bash
# Make sure Debian's chromium is installed for the dashboard's browser tests (playwright-core
# drives /usr/bin/chromium; `npx playwright install` cannot download browsers on this network).
# Idempotent: does nothing when chromium already runs. Used by .ci/run and by developers:
# `sudo ./scripts/chromium.sh`.
set -euo pipefail

log() { printf 'chromium: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

CHROMIUM="${SWITCHYARD_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ] && "$CHROMIUM" --headless --no-sandbox --disable-gpu --version >/dev/null 2>&1; then
  log "$("$CHROMIUM" --version 2>/dev/null | head -1) at $CHROMIUM"
  exit 0
fi

log "installing chromium from Debian"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
as_root apt-get install -y -qq -o DPkg::Lock::Timeout=300 chromium >/dev/null
"$CHROMIUM" --version >&2

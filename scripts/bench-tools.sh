#!/usr/bin/env bash
# Tools `pnpm bench` compares against or loads with: nginx (a plain reverse proxy, the floor
# for proxy overhead) and wrk (load at saturation). Installs what is missing from Debian.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-tools: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Keep maintainer scripts from starting nginx as a service (no systemd here).
  created=0; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null; as_root chmod 755 /usr/sbin/policy-rc.d; created=1; fi
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
  [ "$created" = 1 ] && as_root rm -f /usr/sbin/policy-rc.d
fi
echo "bench-tools: nginx $(/usr/sbin/nginx -v 2>&1 | sed 's/.*\///'), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)" >&2

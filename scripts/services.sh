#!/usr/bin/env bash
# Make sure the services the tests use answer on this machine: PostgreSQL (127.0.0.1:5432,
# trust auth), Redis (127.0.0.1:6379) and a python3 (the Python token helper's tests). Idempotent: what already answers is left alone;
# what is installed but stopped is started; what is missing is installed from Debian.
set -euo pipefail

log() { printf 'services: %s\n' "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

wait_port() { # port name
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  log "$2 did not start on 127.0.0.1:$1"; return 1
}

ensure_postgres() {
  if port_open 5432; then log "PostgreSQL answers on 127.0.0.1:5432"; return; fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "installing PostgreSQL from Debian"
    apt_install postgresql
    local version; version=$(ls /etc/postgresql | sort -V | tail -1)
    # Local trust auth on loopback, as the tests expect (a development machine's database).
    as_root sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/; s/^(host\s+all\s+all\s+::1\/128\s+)\S+/\1trust/; s/^(local\s+all\s+all\s+)\S+/\1trust/' \
      "/etc/postgresql/$version/main/pg_hba.conf"
  fi
  log "starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  wait_port 5432 PostgreSQL
}

ensure_redis() {
  if port_open 6379; then log "Redis answers on 127.0.0.1:6379"; return; fi
  if ! command -v redis-server >/dev/null 2>&1; then
    log "installing Redis from Debian"
    apt_install redis-server
  fi
  log "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port 6379 Redis
}

ensure_python() {
  if python3 -c 'import sys; sys.exit(sys.version_info < (3, 8))' 2>/dev/null; then
    log "python3 is $(python3 --version 2>&1)"
    return
  fi
  log "installing python3 from Debian"
  apt_install python3
}

ensure_postgres
ensure_redis
ensure_python

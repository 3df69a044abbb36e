#!/usr/bin/env bash
# `npm run bench:failover`: installs the reference proxies (nginx, HAProxy) and the load generator (wrk) if
# missing, then runs the failover chaos benchmark, bench/failover.ts (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -d node_modules ] || npm ci --no-fund --no-audit
export PATH="$PWD/node_modules/.bin:/usr/sbin:$PATH"
exec node bench/failover.ts "$@"

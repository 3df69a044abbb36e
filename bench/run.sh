#!/usr/bin/env bash
# `npm run bench`: installs what the benchmark drives (nginx as the backend, wrk as the load) if missing,
# then runs bench/bench.ts. Usage: npm run bench [-- SCENARIO]
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -d node_modules ] || npm ci --no-fund --no-audit
export PATH="$PWD/node_modules/.bin:/usr/sbin:$PATH"
exec node bench/bench.ts "$@"

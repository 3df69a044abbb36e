#!/usr/bin/env bash
# `npm run bench [-- SCENARIO]` runs bench/bench.ts; `npm run bench:failover` (this script with `failover`) runs
# bench/failover.ts; `npm run bench:workers` runs bench/workers.ts (nginx, wrk and hey); `npm run bench:instructions` runs bench/instructions.ts (nginx and valgrind); `npm run bench:propagation` runs
# bench/propagation.ts (it needs PostgreSQL, no other tool); `npm run bench:console` runs bench/console.ts in Debian's Chromium.
# Installs what they drive if missing: nginx (backend and reference), wrk (load) and, for the
# failover run, HAProxy (reference) and, with BENCH_FAILOVER_RATE, hey (load at a fixed rate).
set -euo pipefail
cd "$(dirname "$0")/.."
script=bench/bench.ts
tools=(nginx wrk)
if [ "${1:-}" = failover ]; then
  shift
  script=bench/failover.ts
  tools+=(haproxy)
  if [ -n "${BENCH_FAILOVER_RATE:-}" ]; then tools+=(hey); fi
elif [ "${1:-}" = workers ]; then
  shift
  script=bench/workers.ts
  tools+=(hey)
elif [ "${1:-}" = instructions ]; then
  shift
  script=bench/instructions.ts
  tools=(nginx valgrind)
elif [ "${1:-}" = propagation ]; then
  shift
  script=bench/propagation.ts
  tools=()
elif [ "${1:-}" = console ]; then
  shift
  script=bench/console.ts
  tools=(chromium)
fi
missing=()
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -d node_modules ] || npm ci --no-fund --no-audit
export PATH="$PWD/node_modules/.bin:/usr/sbin:$PATH"
exec node "$script" "$@"

#!/usr/bin/env bash
# Run by `npm test` before any test: makes sure the programs and services the tests start are on this machine.
# Missing Debian packages are installed (as root, or through sudo when it needs no password); where that is not
# possible it stops at once with the one command that installs them. Fast and silent when all is present.
#
# PORTICO_PREPARE_PRETEND_MISSING="nginx service:redis" makes the checks treat those packages or services as
# absent; it exists only so that test/prepare-test-env.test.ts can drive the install and failure paths without
# uninstalling.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# Debian packages the tests start as real servers or run as tools, with a program that shows each is there.
# To add one: a line "package:program" (a program is a name on the PATH or a path, which may be a glob).
packages=(
  apache2:/usr/sbin/apache2          # Apache httpd: Basic and Digest backends (test/security-apache.test.ts)
  apache2-utils:htpasswd             # htpasswd hashes the Basic password for Apache
  openssl:openssl                    # test certificates (test/support/certificates.ts)
  nginx:/usr/sbin/nginx              # the reference proxy of bench/ and the path-handling comparisons
  redis-server:redis-server          # a private Redis per throttling test, stopped and restarted mid-test
  chromium:/usr/bin/chromium         # the headless browser of the console tests (test/console.test.ts)
  'postgresql:/usr/lib/postgresql/*/bin/initdb'  # initdb and postgres: a private PostgreSQL stopped mid-test (test/cluster.test.ts)
  util-linux:setpriv                 # runs that private PostgreSQL as nobody when the tests run as root
)

# Services on 127.0.0.1: "name:port:package:needed". needed=no: no test uses it, so one that cannot be
# started is reported and the tests go on; needed=yes stops here with the reason.
services=(
  postgresql:5432:postgresql:yes     # the config store for clusters (test/store.test.ts, test/cluster.test.ts)
  redis:6379:redis-server:yes        # limits shared across nodes (throttling/)
)

# A pretended name is bare (both the package and the service of that name) or "package:NAME" / "service:NAME".
pretending() { # kind name
  local list=" ${PORTICO_PREPARE_PRETEND_MISSING:-} "
  [[ "$list" == *" $2 "* || "$list" == *" $1:$2 "* ]]
}

installed() { # package program
  pretending package "$1" && return 1
  if command -v dpkg-query >/dev/null; then
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || return 1
  fi
  command -v "$2" >/dev/null || compgen -G "$2" >/dev/null
}

# Runs a command as root: directly, or through sudo when it asks no password. Fails when neither is possible.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
  else return 1
  fi
}

can_install() {
  command -v apt-get >/dev/null || return 1
  [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }
}

updated=no
apt_install() {
  if [ "$updated" = no ]; then
    as_root apt-get update -qq
    updated=yes
  fi
  as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

reachable() { # port
  pretending service "$2" && return 1
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

start_service() { # name
  case "$1" in
    postgresql)
      local version
      version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
      [ -n "$version" ] || return 1
      as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || return 1
      # The tests connect as postgres to the database test on 127.0.0.1 without a password, as on the machines
      # they were written on: a cluster installed here gets that (loopback only), once.
      local hba="/etc/postgresql/$version/main/pg_hba.conf"
      if ! as_root grep -q '^host all postgres 127.0.0.1/32 trust' "$hba"; then
        as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
      fi
      as_root su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'test'\" | grep -q 1 || createdb test" ;;
    redis)
      as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
        --dir /tmp --logfile /tmp/portico-test-redis.log ;;
  esac
}

missing=()
for entry in "${packages[@]}"; do
  installed "${entry%%:*}" "${entry#*:}" || missing+=("${entry%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! can_install; then
    echo "The tests start programs that are not installed: ${missing[*]}." >&2
    echo "Install them (Debian or Ubuntu) with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "prepare-test-env: installing ${missing[*]} (apt-get)" >&2
  apt_install "${missing[@]}"
fi

for entry in "${services[@]}"; do
  IFS=: read -r name port package needed <<<"$entry"
  reachable "$port" "$name" && continue
  problem=""
  if ! command -v dpkg-query >/dev/null || ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    if can_install; then
      echo "prepare-test-env: installing $package (apt-get)" >&2
      apt_install "$package" || problem="apt-get install $package failed"
    else
      problem="$package is not installed and this user cannot install it"
    fi
  fi
  if [ -z "$problem" ]; then
    if start_service "$name" >/dev/null 2>&1; then
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        reachable "$port" "$name" && break
        sleep 0.5
      done
      if reachable "$port" "$name"; then echo "prepare-test-env: started $name on 127.0.0.1:$port" >&2
      else problem="it did not start"
      fi
    else
      problem="it could not be started by $(id -un)"
    fi
  fi
  [ -z "$problem" ] && continue
  if [ "$needed" = yes ]; then
    echo "prepare-test-env: $name is not reachable on 127.0.0.1:$port ($problem); the tests need it." >&2
    exit 1
  fi
  echo "prepare-test-env: $name is not reachable on 127.0.0.1:$port ($problem); no test needs it yet, so the tests go on." >&2
done

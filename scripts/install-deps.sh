#!/usr/bin/env bash
# Installs what pg2d1's build, tests and demo need (Debian 12): PostgreSQL 15 with server
# headers, libcurl, jansson, GoogleTest, CMake, sqlite3, Python, pg_cron, and the local D1
# server's npm packages. Installs only what is missing. Safe to run repeatedly.
# pg2d1.so's jansson is built from Debian's source package by scripts/build-jansson.sh
# (cmake, build-essential, debian-archive-keyring); libjansson-dev is for the unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake pkg-config git ca-certificates debian-archive-keyring
      postgresql-15 postgresql-server-dev-15 postgresql-client-15 postgresql-common postgresql-15-cron
      libcurl4-openssl-dev libjansson-dev libgtest-dev libsqlite3-dev sqlite3
      python3 nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node and npm may come from outside Debian (the image ships its own): accept them.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs/}"); missing=("${missing[@]/npm/}")
fi
read -r -a missing <<<"${missing[*]:-}"
if ((${#missing[@]})); then
  echo "pg2d1: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The local D1 server (Miniflare, pinned by test/package-lock.json).
if [ ! -d test/node_modules/miniflare ] || [ test/package-lock.json -nt test/node_modules/.package-lock.json ]; then
  echo "pg2d1: npm ci (local D1 server)"
  (cd test && npm ci --no-audit --no-fund --loglevel=error)
fi

# common.sh — shell helpers for tests, benchmarks and the demo: a throwaway PostgreSQL
# cluster and the local D1 server, both torn down by cleanup_all (trap it on EXIT).
# Sourced, not run. Works as root (the cluster runs as the postgres user) or as a user.

PG_BIN=${PG_BIN:-$(pg_config --bindir)}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
_CLEANUPS=()

cleanup_all() {
  local i
  for ((i = ${#_CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${_CLEANUPS[$i]}" || true; done
  _CLEANUPS=()
}

_as_pg() { # run a command as the cluster owner
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_pg DIR [postgresql.conf lines…] — initdb + start; exports PGHOST PGPORT PGUSER PGDATABASE.
start_pg() {
  local dir=$1; shift
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  _as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log"; return 1; }
  local port; port=$(free_port)
  {
    echo "port = $port"
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$dir'"
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "full_page_writes = off"
    echo "shared_buffers = 256MB"
    echo "max_wal_size = 4GB"
    echo "log_min_messages = warning"
    local line; for line in "$@"; do echo "$line"; done
  } >>"$dir/data/postgresql.conf"
  _as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
    || { cat "$dir/server.log"; return 1; }
  export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
  _CLEANUPS+=("_as_pg '$PG_BIN/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1")
}

# start_d1 DIR [server options…] — starts the local D1 server; exports D1_URL D1_ACCOUNT
# D1_DATABASE D1_TOKEN D1_SQLITE D1_PID.
start_d1() {
  local dir=$1; shift
  mkdir -p "$dir"
  rm -f "$dir/ready.json"
  export D1_TOKEN=${D1_TOKEN:-local-test-token}
  node "$REPO_ROOT/test/d1-server/server.mjs" --persist "$dir/data" --ready-file "$dir/ready.json" \
    --token "$D1_TOKEN" "$@" >"$dir/server.log" 2>&1 &
  D1_PID=$!
  _CLEANUPS+=("kill $D1_PID 2>/dev/null; wait $D1_PID 2>/dev/null")
  local i
  for ((i = 0; i < 300; i++)); do
    [ -s "$dir/ready.json" ] && break
    kill -0 "$D1_PID" 2>/dev/null || { cat "$dir/server.log"; return 1; }
    sleep 0.1
  done
  [ -s "$dir/ready.json" ] || { echo "local D1 server did not start"; cat "$dir/server.log"; return 1; }
  eval "$(python3 - "$dir/ready.json" <<'PY'
import json, sys, shlex
r = json.load(open(sys.argv[1]))
db = r["databases"][0]
for k, v in (("D1_URL", r["url"]), ("D1_ACCOUNT", r["account_id"]), ("D1_DATABASE", db["id"]), ("D1_SQLITE", db["sqlite_path"])):
    print(f"export {k}={shlex.quote(str(v))}")
PY
)"
  export D1_PID
}

# psql with the test cluster, quiet, stop on error.
pgsql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# Creates the extension and a pg2d1 server + user mapping pointing at the local D1.
setup_pg2d1_server() {
  local db=${1:-$PGDATABASE}
  pgsql -d "$db" <<SQL
CREATE EXTENSION IF NOT EXISTS pg2d1;
CREATE SERVER d1 FOREIGN DATA WRAPPER pg2d1
  OPTIONS (account_id '$D1_ACCOUNT', database_id '$D1_DATABASE', api_url '$D1_URL');
CREATE USER MAPPING FOR CURRENT_USER SERVER d1 OPTIONS (api_token '$D1_TOKEN');
ALTER SYSTEM SET pg2d1.requests_per_second = 0;
SELECT pg_reload_conf();
SQL
}

# A tiny check framework: check NAME COMMAND… runs the command, counts pass/fail.
CHECKS_PASSED=0
CHECKS_FAILED=0
check() {
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then
    CHECKS_PASSED=$((CHECKS_PASSED + 1)); echo "ok   - $name"
  else
    CHECKS_FAILED=$((CHECKS_FAILED + 1)); echo "FAIL - $name"; echo "$out" | sed 's/^/       /' | tail -n 30
  fi
}
# check_eq NAME EXPECTED COMMAND… — the command's trimmed stdout must equal EXPECTED.
check_eq() {
  local name=$1 expected=$2; shift 2
  local got
  got=$("$@" 2>&1 | sed -e 's/[[:space:]]*$//')
  if [ "$got" = "$expected" ]; then
    CHECKS_PASSED=$((CHECKS_PASSED + 1)); echo "ok   - $name"
  else
    CHECKS_FAILED=$((CHECKS_FAILED + 1)); echo "FAIL - $name"; echo "       expected: $expected"; echo "       got:      $got" | head -n 20
  fi
}
# Reads D1's SQLite file directly (the local server persists there).
d1_sqlite() { sqlite3 -readonly "$D1_SQLITE" "$@"; }
# POST JSON to the local D1 server's admin API.
d1_admin() { curl -sf -X POST -H 'content-type: application/json' --data "$2" "${D1_URL%/client/v4}/__local/$1" >/dev/null; }
report_checks() { echo "$1: $CHECKS_PASSED passed, $CHECKS_FAILED failed"; }

# restart_pg fast|immediate — restarts the cluster started by start_pg.
restart_pg() {
  _as_pg "$PG_BIN/pg_ctl" -D "$PGHOST/data" -l "$PGHOST/server.log" -m "$1" -w -t 60 restart >/dev/null
}
# wait_sql SQL EXPECTED [SECONDS] — polls until the query's output equals EXPECTED.
wait_sql() {
  local sql=$1 expected=$2 limit=${3:-60} got="" i
  for ((i = 0; i < limit * 5; i++)); do
    got=$(psql -X -A -t -c "$sql" 2>/dev/null) && [ "$got" = "$expected" ] && return 0
    sleep 0.2
  done
  echo "waited ${limit}s for [$sql] = [$expected], last: [$got]"
  return 1
}
d1_settings() { curl -sf -X POST -H 'content-type: application/json' --data "$1" "${D1_URL%/client/v4}/__local/settings" >/dev/null; }
# start_pg_with_workers DIR DB — a cluster with pg2d1 and pg_cron preloaded, the launcher
# and pg_cron watching DB (pg_cron runs jobs in background workers: no TCP needed).
start_pg_with_workers() {
  start_pg "$1" "shared_preload_libraries = 'pg2d1,pg_cron'" "pg2d1.database = '$2'" \
    "cron.database_name = '$2'" "cron.use_background_workers = on" "max_worker_processes = 24"
}

#!/usr/bin/env bash
# demo.sh — the README's first command. Installs what is missing, builds and installs
# pg2d1, starts a throwaway PostgreSQL and the local D1 server, generates the reference
# tables, migrates them with live progress, verifies D1 against PostgreSQL, and prints
# where everything is. `./demo.sh stop` stops what it started.
#   DEMO_ROWS=2200000 ./demo.sh      # the reference scripts' full size
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
DEMO=$ROOT/.demo
ROWS=${DEMO_ROWS:-200000}
CAMERAS=${DEMO_CAMERAS:-5000}
source test/lib/common.sh

stop_demo() {
  if [ -f "$DEMO/env" ]; then
    source "$DEMO/env"
    kill "$D1_PID" 2>/dev/null || true
    _as_pg "$PG_BIN/pg_ctl" -D "$DEMO/pg/data" -m fast stop >/dev/null 2>&1 || true
    echo "demo stopped (data left in $DEMO; rm -rf it to clean up)"
  fi
}
if [ "${1:-}" = stop ]; then stop_demo; exit 0; fi
stop_demo >/dev/null 2>&1 || true
rm -rf "$DEMO"; mkdir -p "$DEMO"; chmod 755 "$DEMO"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Installing what is missing"
scripts/install-deps.sh
step "Building and installing pg2d1"
make -s -j"$(nproc)" >/dev/null
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO make -s install >/dev/null
echo "installed into $(pg_config --pkglibdir)"

step "Starting a throwaway PostgreSQL 15 and the local D1 server"
start_pg_with_workers "$DEMO/pg" demo
start_d1 "$DEMO/d1"
cat >"$DEMO/env" <<ENV
export PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER PGDATABASE=demo
export D1_URL=$D1_URL D1_PID=$D1_PID D1_SQLITE=$D1_SQLITE
ENV
createdb demo
export PGDATABASE=demo
echo "PostgreSQL: $PGHOST port $PGPORT;  local D1: $D1_URL"

step "Generating sample data ($ROWS coordinate_speed_new rows, $CAMERAS camera_locations rows)"
pgsql -v rows="$ROWS" -v cameras="$CAMERAS" -f bench/generate.sql
psql -X -c "SELECT id, latitude, longitude, api_speed_limit, bearing, display_name FROM coordinate_speed_new WHERE id IN (1, 2, 5, 17) ORDER BY id"

step "Connecting pg2d1 to D1 (foreign server + user mapping) and validating"
setup_pg2d1_server
psql -X -c "SELECT * FROM pg2d1_validate()"

step "Creating the D1 schema (secondary indexes are built after the load)"
psql -X -c "SELECT * FROM pg2d1_setup_schema(ARRAY['coordinate_speed_new','camera_locations']::regclass[], create_indexes => false)"

step "Capturing changes to coordinate_speed_new from now on (incremental sync)"
psql -X -A -t -c "SELECT pg2d1_enable_sync('coordinate_speed_new')"

step "Migrating both tables in background workers (pg2d1_migrate returns at once; this is pg2d1_progress, live)"
t0=$(date +%s.%N)
psql -X -q -A -t -c "SELECT table_name, job_id FROM pg2d1_migrate_all(ARRAY['camera_locations','coordinate_speed_new']::regclass[], checkpoint_size => 25000)"
progress_sql="SELECT format('%-22s %-6s %-10s %s %6s%% %9s/%-9s rows %8s rows/s ETA %-8s %s', table_name, method, status, bar, percent, rows_done, rows_total, rows_per_sec, coalesce(to_char(eta, 'HH24:MI:SS'), '-'), left(coalesce(phase, ''), 70)) FROM pg2d1_progress ORDER BY job_id"
lines=0
while :; do
  out=$(psql -X -q -A -t -c "$progress_sql")
  [ "$lines" -gt 0 ] && [ -t 1 ] && printf '\033[%dA' "$lines"
  if [ -t 1 ]; then printf '%s\n' "$out" | sed $'s/$/\033[K/'; else printf '%s\n' "$out"; fi # clear the line's rest
  lines=$(wc -l <<<"$out")
  [ -t 1 ] || lines=0
  psql -X -q -A -t -c "SELECT count(*) FROM pg2d1.jobs WHERE status IN ('queued','running')" | grep -qx 0 && break
  sleep 0.3
done
t1=$(date +%s.%N)
psql -X -q -A -t -c "SELECT count(*) FROM pg2d1.jobs WHERE status <> 'completed'" | grep -qx 0 \
  || { psql -X -c "SELECT job_id, table_name, status, last_error FROM pg2d1_progress"; exit 1; }
psql -X -c "SELECT job_id, table_name, kind, method, status, rows_done, percent, rows_per_sec, requests, retries, bytes_sent FROM pg2d1_progress ORDER BY job_id"

step "Verifying: D1 read back and compared with PostgreSQL, value by value"
echo "pg2d1_verify (inside PostgreSQL, reading D1 back over its API):"
psql -X -c "SELECT 'coordinate_speed_new' AS table_name, count(*) FILTER (WHERE start_id IS NOT NULL) AS ranges, sum(pg_count) AS pg_rows, sum(d1_count) AS d1_rows, bool_and(ok) AS all_equal FROM pg2d1_verify('coordinate_speed_new') UNION ALL SELECT 'camera_locations', count(*) FILTER (WHERE start_id IS NOT NULL), sum(pg_count), sum(d1_count), bool_and(ok) FROM pg2d1_verify('camera_locations')"
echo "compare.py (outside: D1's SQLite file against psql, value by value):"
python3 test/integration/compare.py coordinate_speed_new "$D1_SQLITE"
python3 test/integration/compare.py camera_locations "$D1_SQLITE"
echo "D1's migration_checkpoints (read from its SQLite file):"
sqlite3 -readonly -header -column "$D1_SQLITE" \
  "SELECT table_name, count(*) AS checkpoints, sum(status='completed') AS completed, sum(records_processed) AS records FROM migration_checkpoints GROUP BY table_name"
python3 -c "print(f'{$ROWS + $CAMERAS} rows in {$t1-$t0:.1f} s = {($ROWS + $CAMERAS)/($t1-$t0):,.0f} rows/s (the Node scripts: ~90 rows/s)')"

step "Keeping D1 in step: changes applied by pg2d1_sync (only the changed rows are sent)"
psql -X -q -c "UPDATE coordinate_speed_new SET api_speed_limit = coalesce(api_speed_limit, 0) + 10 WHERE id % 40 = 0" \
  -c "DELETE FROM coordinate_speed_new WHERE id % 200 = 1" \
  -c "INSERT INTO coordinate_speed_new (latitude, longitude, api_speed_limit, bearing, display_name) SELECT latitude, longitude, 30, bearing, 'new ' || display_name FROM coordinate_speed_new WHERE id <= 1000"
psql -X -c "SELECT table_name, changes_pending FROM pg2d1_sync_status"
psql -X -q -c "SELECT pg2d1_sync('coordinate_speed_new', wait => true)" 2>&1 | sed 's/^NOTICE:  pg2d1: //'
psql -X -c "SELECT table_name, changes_pending, upserts, deletes, lag_seconds, job_status FROM pg2d1_sync_status"
python3 test/integration/compare.py coordinate_speed_new "$D1_SQLITE"

step "Where everything is"
cat <<TXT
  PostgreSQL   psql -h $PGHOST -p $PGPORT -U postgres demo      (log: $DEMO/pg/server.log)
  local D1     $D1_URL   token: $D1_TOKEN   (log: $DEMO/d1/server.log)
  D1's SQLite  sqlite3 $D1_SQLITE
  try          SELECT * FROM pg2d1_progress;  SELECT * FROM pg2d1_checkpoints;  SELECT * FROM pg2d1_verify('camera_locations');
               SELECT pg2d1_query('SELECT count(*) FROM coordinate_speed_new');
               SELECT pg2d1_migrate('coordinate_speed_new', wait => true);   -- resumes: nothing to send
               UPDATE coordinate_speed_new SET bearing = 0 WHERE id < 100;  SELECT pg2d1_sync('coordinate_speed_new', wait => true);
               SELECT pg2d1_sync('coordinate_speed_new', follow => true);  SELECT * FROM pg2d1_sync_status;
  stop         ./demo.sh stop
TXT

#!/usr/bin/env bash
# bench_import.sh — pg2d1's import path (0.4.0: pg2d1_migrate(…, method => 'auto'|'query'|'import'))
# against the path users take today (pg_dump --inserts, hand edits, wrangler d1 execute --file),
# in one throwaway cluster and one run, and writes bench/RESULTS.md (machine, command line, figures):
#   1. throttled like production: the local D1 server with --rps 4 --rps-burst 4 --latency-ms 50
#      (pg2d1.requests_per_second at its default, 3.5), each path into an EMPTY D1 (a new server on
#      a fresh --persist dir), each ending with D1's SQLite file compared to PostgreSQL value by
#      value (bench/import_compare.py):
#      a. pg2d1_migrate('coordinate_speed_new', wait => true, method => 'auto')
#      b. pg2d1_migrate(…, resume => false, wait => true, method => 'query')
#      c. pg_dump --data-only --inserts -t coordinate_speed_new, bench/import_dump_edit.sh,
#         npx wrangler d1 execute local-1 --remote --file (the wrangler pinned in test/, pointed at
#         the local server, network guard preloaded: only loopback connections)
#      wall time, rows/s, D1 requests by endpoint (/__local/stats), the job's phases; ratios.
#   2. the worker's private memory: peak RssAnon of the pg2d1 worker (/proc/<pg2d1.jobs.pid>/status,
#      every 100 ms, in every run) for method 'import' and 'query' at SMALL_ROWS (200,000) rows and at
#      ROWS rows (the runs of part 1), same throttled server.
#   3. bench/bench_ceiling.sh --rows ROWS --markdown …, when it exists: its section is included.
# Usage: bench/bench_import.sh [ROWS]   (default 2,210,059, the reference table's size)
#   environment: SMALL_ROWS (200000), OUT (bench/RESULTS.md), SKIP_CEILING=1, KEEP_WORK=1 (keep
#   the temp dir), D1_RPS / D1_BURST / D1_LATENCY_MS (4 / 4 / 50).
# Until pg2d1 0.4.0 is installed, the runs that need method => are reported as not run and the
# query path runs without it. About 15 minutes on 2 cores with the ceiling part (~6 of them).
# Exits 1 when something misbehaved (listed under Problems), not when a target is missed.
set -euo pipefail
CMDLINE="bench/bench_import.sh${*:+ $*}"
cd "$(dirname "$0")/.."
ROWS=${1:-2210059}
[[ $ROWS =~ ^[0-9]+$ ]] && [ "$ROWS" -ge 1000 ] || { echo "ROWS must be a number >= 1000" >&2; exit 2; }
SMALL_ROWS=${SMALL_ROWS:-200000}
[ "$SMALL_ROWS" -le "$ROWS" ] || SMALL_ROWS=$ROWS
OUT=${OUT:-bench/RESULTS.md}
D1_RPS=${D1_RPS:-4}
D1_BURST=${D1_BURST:-4}
D1_LATENCY_MS=${D1_LATENCY_MS:-50}
THROTTLE=(--rps "$D1_RPS" --rps-burst "$D1_BURST" --latency-ms "$D1_LATENCY_MS")
source test/lib/common.sh
START=$(date +%s)
WORK=$(mktemp -d /tmp/pg2d1-bench-import.XXXXXX); chmod 755 "$WORK"
# cleanup_all stops the servers (also called before the ceiling part); the work dir goes at exit.
trap 'cleanup_all; [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"' EXIT
RES=$WORK/res; mkdir -p "$RES"
q() { PGOPTIONS='-c client_min_messages=warning' psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }
now_ns() { date +%s%N; }
secs() { python3 -c "print(f'{($2 - $1) / 1e9:.2f}')"; } # START_NS END_NS
problem() { echo "PROBLEM: $*" >&2; echo "$*" >>"$RES/problems.txt"; }
note() { echo "note: $*"; echo "$*" >>"$RES/notes.txt"; }
touch "$RES/problems.txt" "$RES/notes.txt"
echo "pg2d1 import benchmark: $ROWS rows (memory also at $SMALL_ROWS), work dir $WORK"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
SO=$(pg_config --pkglibdir)/pg2d1.so
so_info() { echo "$(date -u -r "$SO" '+%Y-%m-%d %H:%M:%S UTC'), md5 $(md5sum <"$SO" | cut -c1-12)"; }
SO_INFO=$(so_info)

# ---- the cluster and the data -----------------------------------------------------------------
start_pg "$WORK/pg" >/dev/null
createdb bench; export PGDATABASE=bench
PGDATA_DIR=$(q "SHOW data_directory")
t0=$(now_ns)
pgsql -v rows="$ROWS" -v cameras=10 -f bench/generate.sql >/dev/null 2>&1
# The small table for part 2: the first SMALL_ROWS rows, same columns and indexes.
pgsql -c "CREATE TABLE coordinate_speed_small (LIKE coordinate_speed_new INCLUDING ALL);
          INSERT INTO coordinate_speed_small SELECT * FROM coordinate_speed_new WHERE id <= $SMALL_ROWS;" \
      -c "VACUUM ANALYZE coordinate_speed_new" -c "VACUUM ANALYZE coordinate_speed_small"
echo "generated $ROWS + $SMALL_ROWS rows in $(secs "$t0" "$(now_ns)") s"
HAVE_040=$(q "SELECT count(*) FROM pg_available_extension_versions WHERE name = 'pg2d1' AND version = '0.4.0'")
if [ "$HAVE_040" = 1 ]; then
  pgsql -c "CREATE EXTENSION pg2d1 VERSION '0.4.0'"
else
  note "pg2d1 0.4.0 is not installed (pg_available_extension_versions): the runs that need method => were not run; the query path ran as pg2d1_migrate without method"
fi

# ---- the local D1 server: a new one on a fresh --persist dir for every run, on one port ---------
D1_PORT=$(free_port)
D1_N=0
d1_up() { # server options…
  D1_N=$((D1_N + 1))
  D1_DIR=$WORK/d1-$D1_N
  start_d1 "$D1_DIR" --port "$D1_PORT" "$@"
}
d1_down() {
  local pid=$D1_PID i
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for i in "${!_CLEANUPS[@]}"; do
    [[ ${_CLEANUPS[$i]} == "kill $pid "* ]] && unset "_CLEANUPS[$i]"
  done
  _CLEANUPS=("${_CLEANUPS[@]}")
  [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$D1_DIR"
}
d1_stats() { curl -sf "${D1_URL%/client/v4}/__local/stats"; }
d1_up "${THROTTLE[@]}"
PGOPTIONS='-c client_min_messages=warning' setup_pg2d1_server >/dev/null
PG2D1_VERSION=$(q "SELECT extversion FROM pg_extension WHERE extname = 'pg2d1'")
HAVE_METHOD=$(q "SELECT count(*) FROM pg_proc WHERE proname = 'pg2d1_migrate' AND 'method' = ANY (proargnames)")
IMPORT_MIN_ROWS=$(q "LOAD 'pg2d1'; SELECT coalesce(current_setting('pg2d1.import_min_rows', true), '')" | tail -n 1)
set_rps() { # pg2d1.requests_per_second for the jobs started afterwards (DEFAULT: its default)
  if [ "$1" = DEFAULT ]; then q "ALTER SYSTEM RESET pg2d1.requests_per_second" >/dev/null
  else q "ALTER SYSTEM SET pg2d1.requests_per_second = $1" >/dev/null; fi
  q "SELECT pg_reload_conf()" >/dev/null
  sleep 0.3
}

# pg2d1_run LABEL TABLE ROWS ARGS [COMPARE] — one pg2d1_migrate(TABLE ARGS, wait => true) into the
# running (fresh) D1, followed by bench/import_sample.py; writes $RES/LABEL/*, prints a line.
pg2d1_run() {
  local label=$1 table=$2 rows=$3 args=$4 compare=${5:-full} dir=$RES/$1 before sampler t0 t1 rc=0 job
  mkdir -p "$dir"
  echo "$rows" >"$dir/rows"; echo "$table" >"$dir/table"
  echo "SELECT pg2d1_migrate('$table'$args, wait => true)" >"$dir/call"
  d1_admin reset-stats '{}'
  before=$(q "SELECT coalesce(max(job_id), 0) FROM pg2d1.jobs")
  rm -f "$WORK/stop"
  python3 bench/import_sample.py "$before" "$WORK/stop" "$dir/sample.json" &
  sampler=$!
  t0=$(now_ns)
  psql -X -A -t -v ON_ERROR_STOP=1 -c "SELECT pg2d1_migrate('$table'$args, wait => true)" >"$dir/out" 2>&1 || rc=$?
  t1=$(now_ns)
  touch "$WORK/stop"
  wait "$sampler" || problem "$label: the sampler failed"
  secs "$t0" "$t1" >"$dir/wall"
  d1_stats >"$dir/stats.json" || echo '{}' >"$dir/stats.json"
  job=$(python3 -c "import json; print(json.load(open('$dir/sample.json')).get('job_id') or '')" 2>/dev/null || true)
  [ -n "$job" ] || job=$(q "SELECT coalesce(max(job_id), 0) FROM pg2d1.jobs WHERE job_id > $before")
  echo "$job" >"$dir/job"
  q "SELECT to_jsonb(j) - 'd1_columns' || jsonb_build_object('secs', extract(epoch FROM j.finished_at - j.started_at))
     FROM pg2d1.jobs j WHERE job_id = $job" >"$dir/job.json"
  [ "$rc" = 0 ] || problem "$label: $(tail -n 3 "$dir/out" | tr '\n' ' ')"
  # What D1 holds: rows (all of them compared for part 1), indexes, its ledger.
  if [ "$compare" = full ]; then
    PYTHONHASHSEED=0 python3 bench/import_compare.py "$table" "$D1_SQLITE" >"$dir/compare.txt" 2>&1 \
      || problem "$label: D1 differs from PostgreSQL: $(cut -c1-600 "$dir/compare.txt")"
  else
    local a b
    a=$(q "SELECT count(*) || ' rows, sum(id) ' || sum(id) FROM $table")
    b=$(d1_sqlite "SELECT count(*) || ' rows, sum(id) ' || sum(id) FROM $table" 2>&1 || true)
    echo "$table: PostgreSQL $a; D1 $b" >"$dir/compare.txt"
    [ "$a" = "$b" ] || problem "$label: D1 differs from PostgreSQL: $(cat "$dir/compare.txt")"
  fi
  local want_idx got_idx
  want_idx=$(q "SELECT count(*) FROM pg_index WHERE indrelid = '$table'::regclass AND NOT indisprimary")
  got_idx=$(d1_sqlite "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = '$table' AND sql IS NOT NULL" 2>/dev/null || echo '?')
  echo "$got_idx of $want_idx secondary indexes" >"$dir/indexes"
  [ "$got_idx" = "$want_idx" ] || problem "$label: D1 has $got_idx of the $want_idx secondary indexes of $table"
  d1_sqlite "SELECT status || ' ' || count(*) || ' checkpoints, ' || sum(records_processed) || ' rows'
             FROM migration_checkpoints WHERE table_name = '$table' GROUP BY status" >"$dir/ledger" 2>&1 || true
  # No import file of the job may remain (0.4.0: removed after each file's import ends).
  find "$PGDATA_DIR" -name "job$job-*.sql" >"$dir/leftovers" 2>/dev/null || true
  [ ! -s "$dir/leftovers" ] || problem "$label: import files of job $job left behind: $(tr '\n' ' ' <"$dir/leftovers")"
  python3 bench/import_report.py line "$dir"
}

# ---- 1. throttled like production ---------------------------------------------------------------
echo "1. throttled: local D1 ${THROTTLE[*]}, pg2d1.requests_per_second at its default"
set_rps DEFAULT
q "LOAD 'pg2d1'; SHOW pg2d1.requests_per_second" | tail -n 1 >"$RES/pg2d1_rps"
job_method() { python3 -c "import json, sys; print(json.load(open(sys.argv[1])).get('method', ''))" "$RES/$1/job.json" 2>/dev/null || true; }
if [ "$HAVE_METHOD" = 1 ]; then
  pg2d1_run auto coordinate_speed_new "$ROWS" ", method => 'auto'"
  want=query
  [ -n "$IMPORT_MIN_ROWS" ] && [ "$ROWS" -ge "$IMPORT_MIN_ROWS" ] && want=import
  got=$(job_method auto)
  grep -o "job $(cat "$RES/auto/job"): method 'auto' chose.*" "$PGHOST/server.log" | head -n 1 >"$RES/auto/choice" || true
  [ "$got" = "$want" ] || problem "method => 'auto' for $ROWS rows into an empty D1 (pg2d1.import_min_rows = $IMPORT_MIN_ROWS) left pg2d1.jobs.method = '$got', expected '$want'"
else
  echo "   auto: not run (pg2d1 $PG2D1_VERSION has no method argument)"
fi
d1_down; d1_up "${THROTTLE[@]}"
if [ "$HAVE_METHOD" = 1 ]; then
  pg2d1_run query coordinate_speed_new "$ROWS" ", resume => false, method => 'query'"
else
  pg2d1_run query coordinate_speed_new "$ROWS" ", resume => false"
fi
d1_down; d1_up "${THROTTLE[@]}"

# c. pg_dump --inserts + edits + wrangler (the pinned one in test/node_modules)
W=$RES/wrangler; mkdir -p "$W"
q "SELECT pg2d1_ddl('coordinate_speed_new')" >"$WORK/ddl.sql"
cat >"$WORK/wrangler.toml" <<TOML
name = "pg2d1-bench-import"
compatibility_date = "2025-01-01"

[[d1_databases]]
binding = "DB"
database_name = "local-1"
database_id = "$D1_DATABASE"
TOML
d1_admin reset-stats '{}'
t0=$(now_ns)
pg_dump --data-only --inserts -t coordinate_speed_new -f "$WORK/dump.sql"
t1=$(now_ns)
bash bench/import_dump_edit.sh "$WORK/dump.sql" "$WORK/ddl.sql" >"$WORK/d1.sql"
t2=$(now_ns)
rc=0
(
  cd test
  for v in $(compgen -e); do
    [[ $v =~ ^(CLOUDFLARE_|CF_|WRANGLER_|npm_) || $v = NODE_OPTIONS ]] && unset "$v"
  done
  export CLOUDFLARE_API_TOKEN=$D1_TOKEN CLOUDFLARE_ACCOUNT_ID=$D1_ACCOUNT CLOUDFLARE_API_BASE_URL=$D1_URL \
    WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true \
    WRANGLER_LOG_PATH=$WORK/wrangler-logs XDG_CONFIG_HOME=$WORK/xdg \
    npm_config_update_notifier=false npm_config_offline=true NO_COLOR=1 \
    NODE_OPTIONS="--require $REPO_ROOT/test/d1-server/lib/net-guard.cjs" PG2D1_NET_GUARD_LOG=$WORK/net.log
  exec npx --no -- wrangler d1 execute local-1 --remote --file "$WORK/d1.sql" --config "$WORK/wrangler.toml"
) >"$W/out" 2>&1 || rc=$?
t3=$(now_ns)
secs "$t0" "$t1" >"$W/dump_s"; secs "$t1" "$t2" >"$W/edit_s"; secs "$t2" "$t3" >"$W/wrangler_s"; secs "$t0" "$t3" >"$W/wall"
echo "$ROWS" >"$W/rows"
stat -c %s "$WORK/dump.sql" >"$W/dump_bytes"; stat -c %s "$WORK/d1.sql" >"$W/file_bytes"
d1_stats >"$W/stats.json" || echo '{}' >"$W/stats.json"
(cd test && node -p "require('wrangler/package.json').version") >"$W/version" 2>/dev/null || echo '?' >"$W/version"
[ "$rc" = 0 ] || problem "wrangler d1 execute exited $rc: $(tail -n 5 "$W/out" | tr '\n' ' ')"
refused=$(grep -cv ' loaded$' "$WORK/net.log" 2>/dev/null || true)
[ "${refused:-0}" = 0 ] || problem "wrangler tried to reach other hosts than loopback: $(grep -v ' loaded$' "$WORK/net.log" | head -3 | tr '\n' ' ')"
# pg_dump writes a real as its shortest decimal text, which D1 parses as another double than
# the float4's: compared as float4 for that column (the count of such rows is printed).
PYTHONHASHSEED=0 python3 bench/import_compare.py coordinate_speed_new "$D1_SQLITE" --real-as-float4 >"$W/compare.txt" 2>&1 \
  || problem "wrangler path: D1 differs from PostgreSQL: $(cut -c1-600 "$W/compare.txt")"
idx=$(d1_sqlite "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'coordinate_speed_new' AND sql IS NOT NULL" 2>/dev/null || echo '?')
echo "$idx of 2 secondary indexes" >"$W/indexes"
python3 bench/import_report.py line "$W"
rm -f "$WORK/dump.sql" "$WORK/d1.sql"
d1_down

# ---- 2. worker memory ------------------------------------------------------------------------------
# The ROWS-row figures are those of part 1's runs (auto when it chose import, and query), sampled
# the same way; here SMALL_ROWS rows with each method, on the same throttled server, into an empty D1.
echo "2. worker memory (peak RssAnon, every 100 ms): $SMALL_ROWS rows now; $ROWS rows: the runs of part 1"
mem_run() { # METHOD TABLE ROWS
  local m=$1 t=$2 rows=$3 margs
  if [ "$HAVE_METHOD" != 1 ]; then
    [ "$m" = query ] || { echo "   mem-$m-$rows: not run (no method argument)"; return 0; }
    margs=", resume => false"
  else
    margs=", resume => false, method => '$m'"
  fi
  d1_up "${THROTTLE[@]}"
  pg2d1_run "mem-$m-$rows" "$t" "$rows" "$margs"
  if [ "$HAVE_METHOD" = 1 ] && [ "$(job_method "mem-$m-$rows")" != "$m" ]; then
    problem "mem-$m-$rows: pg2d1.jobs.method = '$(job_method "mem-$m-$rows")' after method => '$m'"
  fi
  d1_down
}
if [ "$SMALL_ROWS" != "$ROWS" ]; then
  mem_run import coordinate_speed_small "$SMALL_ROWS"
  mem_run query coordinate_speed_small "$SMALL_ROWS"
fi
# auto chose query (fewer rows than pg2d1.import_min_rows): the import path at ROWS is run here.
[ "$HAVE_METHOD" != 1 ] || [ "$(job_method auto)" = import ] || mem_run import coordinate_speed_new "$ROWS"

# ---- machine, then the ceiling part (after this cluster is gone) ------------------------------------
[ "$(so_info)" = "$SO_INFO" ] || problem "the installed pg2d1.so changed during the run (was $SO_INFO, now $(so_info)): the figures mix two builds"
python3 - "$RES/machine.json" <<PY
import json, os, subprocess, sys
mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:"))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "?"
dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src", "sql"], capture_output=True, text=True).stdout.strip()
json.dump({
    "nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem / 1048576, 1),
    "pg": subprocess.run(["psql", "-X", "-A", "-t", "-c", "SELECT version()"], capture_output=True, text=True).stdout.strip(),
    "pg2d1": "$PG2D1_VERSION", "git": git + (" + uncommitted changes in src/ or sql/" if dirty else ""),
    "import_min_rows": "$IMPORT_MIN_ROWS", "pg2d1_rps_throttled": open("$RES/pg2d1_rps").read().strip(),
    "so": "$SO_INFO",
    "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
    "cmdline": "$CMDLINE", "rows": $ROWS, "small_rows": $SMALL_ROWS,
    "throttle": "${THROTTLE[*]}", "load_start": "$LOAD_START",
    "date": subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True).stdout.strip(),
}, open(sys.argv[1], "w"))
PY
cleanup_all # stops this cluster (the D1 server is already down)
LOAD_MID=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "${SKIP_CEILING:-0}" != 1 ] && [ -x bench/bench_ceiling.sh ]; then
  echo "3. bench/bench_ceiling.sh --rows $ROWS --markdown …"
  t0=$(now_ns)
  crc=0
  # A copy of it runs (bash reads a script as it goes: an edit during the run would break it);
  # in bench/, where it expects to be, removed afterwards.
  CEIL_COPY=bench/import_ceiling_snapshot.$$.sh
  cp bench/bench_ceiling.sh "$CEIL_COPY"
  _CLEANUPS+=("rm -f '$CEIL_COPY'")
  "$CEIL_COPY" --rows "$ROWS" --markdown "$RES/ceiling.md" 2>&1 | tee "$RES/ceiling.out" | sed 's/^/   /' || crc=${PIPESTATUS[0]}
  rm -f "$CEIL_COPY"
  secs "$t0" "$(now_ns)" >"$RES/ceiling_s"
  echo "$crc" >"$RES/ceiling_rc"
  [ "$(so_info)" = "$SO_INFO" ] || echo "The installed pg2d1.so changed while bench_ceiling.sh ran (now built $(so_info)): its figures may be of a newer build than parts 1 and 2." >"$RES/ceiling_note"
  [ "$crc" = 0 ] || problem "bench/bench_ceiling.sh exited $crc"
else
  echo "3. bench/bench_ceiling.sh: skipped ($([ -x bench/bench_ceiling.sh ] && echo SKIP_CEILING=1 || echo 'not present'))"
fi
echo "$(( $(date +%s) - START ))" >"$RES/runtime_s"
echo "$LOAD_MID" >"$RES/load_mid"; cut -d' ' -f1-3 /proc/loadavg >"$RES/load_end"
python3 bench/import_report.py markdown "$RES" "$OUT"
echo
cat "$OUT"
[ ! -s "$RES/problems.txt" ]

#!/usr/bin/env bash
# bench_ceiling.sh — how close pg2d1 gets to what the D1 path can take, and how large a request
# it can take; against the local D1 server without --rps/--latency, in its own throwaway cluster:
#   1. ceiling, best of two runs each, in the order pg2d1, minimal, minimal, pg2d1 (so that
#      load drifting meanwhile weighs on both alike):
#      pg2d1_migrate('coordinate_speed_new', resume => false, wait => true, method =>
#      'query') with the default settings (the request path: 0.4.0's default 'auto' imports a
#      first load this large through D1's import API instead; bench/bench_import.sh measures
#      that) — wall time, rows/s, requests, bytes (pg2d1.jobs) — against a minimal client
#      (bench/ceiling_client.py) that sends the same rows, built before its clock starts as
#      the same upserts packed to the same limits (maximal batches, no checkpoints), one
#      request after another over one keep-alive connection into an empty D1 table, then the
#      same CREATE INDEX statements pg2d1 builds after its load. pg2d1/minimal ratio (target
#      >= 0.8x). Every run read back from D1: row count and sum(id) against PostgreSQL.
#      Every run (these four and each size below) writes into a new D1 database of its own.
#   2. request-size sweep: pg2d1 on SWEEP_ROWS (500,000) rows per max_request_bytes of 250k,
#      500k, 1M, 2M, 4M, 8M, 16M (max_statements_per_request = bytes / 20,000; one checkpoint,
#      so checkpoints never cut a request short; no secondary indexes; run smallest, largest,
#      next smallest, … so that load drifting meanwhile hits both ends): requests, seconds per
#      request (mean and max from the server's --log), rows/s, and an estimate under
#      production limits (4 requests/s: requests / 4 + the local D1 time, for --rows rows);
#      the largest size whose slowest request stays under 5 s (D1 allows 30 s of work), and a
#      recommendation line for the defaults.
# Usage: bench/bench_ceiling.sh [--rows N] [--markdown FILE]
#   --rows N         rows of coordinate_speed_new (default 2,210,059)
#   --markdown FILE  also write the figures as a markdown section to FILE (overwritten)
#   environment: SWEEP_ROWS (500000), SIZES (the request sizes), KEEP_WORK=1 keeps the temp dir.
# About 4.5 minutes on 2 cores with a load average of 3 from other work, ~7 with one of 6.
# Exits 1 when D1 does not hold the rows PostgreSQL has, not when a target is missed.
set -euo pipefail
ROWS=2210059
MARKDOWN=""
while [ $# -gt 0 ]; do
  case $1 in
    --rows) ROWS=$2; shift 2 ;;
    --rows=*) ROWS=${1#*=}; shift ;;
    --markdown) MARKDOWN=$(realpath -m -- "$2"); shift 2 ;;
    --markdown=*) MARKDOWN=$(realpath -m -- "${1#*=}"); shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $ROWS =~ ^[0-9]+$ ]] && [ "$ROWS" -ge 1000 ] || { echo "--rows must be a number >= 1000" >&2; exit 2; }
cd "$(dirname "$0")/.."
SWEEP_ROWS=${SWEEP_ROWS:-500000}
[ "$SWEEP_ROWS" -le "$ROWS" ] || SWEEP_ROWS=$ROWS
SIZES=${SIZES:-250000 500000 1000000 2000000 4000000 8000000 16000000}
source test/lib/common.sh
trap cleanup_all EXIT
START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
WORK=$(mktemp -d /tmp/pg2d1-bench-ceiling.XXXXXX); chmod 755 "$WORK"
_CLEANUPS+=("[ \"\${KEEP_WORK:-0}\" = 1 ] || rm -rf '$WORK'") # runs last: after the servers stop
# Every run writes into a D1 database of its own, empty and new (no run inherits another's
# pages or WAL): 1 and 4 pg2d1, 2 and 3 the minimal client, 5… the sweep's sizes.
db_id() { printf '00000000-0000-4000-8000-%012d' "$1"; }
set -- $SIZES
NDB=$(($# + 4))
start_pg "$WORK/pg" >/dev/null
start_d1 "$WORK/d1" --log $(for ((i = 1; i <= NDB; i++)); do echo "--database-id $(db_id $i)"; done)
D1LOG=$WORK/d1/server.log # --log: one line per request, the per-request times
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
createdb bench; export PGDATABASE=bench
pgsql -v rows="$ROWS" -v cameras=10 -f bench/generate.sql >/dev/null 2>&1
setup_pg2d1_server >/dev/null # server d1: database 1
for ((i = 4; i <= NDB; i++)); do
  pgsql -c "CREATE SERVER d1_$i FOREIGN DATA WRAPPER pg2d1
              OPTIONS (account_id '$D1_ACCOUNT', database_id '$(db_id $i)', api_url '$D1_URL');
            CREATE USER MAPPING FOR CURRENT_USER SERVER d1_$i OPTIONS (api_token '$D1_TOKEN')"
done
# The sweep's table: the first SWEEP_ROWS rows, primary key only.
pgsql -c "CREATE TABLE ceiling_sweep (LIKE coordinate_speed_new);
          INSERT INTO ceiling_sweep SELECT * FROM coordinate_speed_new WHERE id <= $SWEEP_ROWS;
          ALTER TABLE ceiling_sweep ADD PRIMARY KEY (id)" -c "VACUUM ANALYZE"
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
# pg2d1 0.4.0's method => 'auto' imports a first load of 500,000 rows or more through D1's import
# API; this benchmark is of the request path (/query batches), so it asks for that.
if [ "$(q "SELECT bool_or('method' = ANY(proargnames)) FROM pg_proc WHERE proname = 'pg2d1_migrate'")" = t ]; then
  METHOD=", method => 'query'"
else
  METHOD="" # before 0.4.0: batches are the only method
fi
d1q() { D1_DATABASE=$(db_id "$1") python3 bench/ceiling_client.py query "$2"; }
report() { python3 bench/ceiling_report.py "$@" --results "$RESULTS"; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# migrate TABLE SERVER SETTINGS EXTRA-ARGS — runs pg2d1_migrate and records the job (label $LABEL).
migrate() {
  local from out job ms load
  from=$(($(wc -l <"$D1LOG") + 1))
  load=$(load1)
  out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 2>&1 <<SQL
SET client_min_messages = warning;
$3
\timing on
SELECT pg2d1_migrate('$1', resume => false, wait => true, target => '$2'$METHOD$4);
SQL
) || { echo "pg2d1_migrate('$1') failed: $out" >&2; return 1; }
  job=$(grep -E '^[0-9]+$' <<<"$out" | tail -n1)
  ms=$(grep -oE 'Time: [0-9.]+ ms' <<<"$out" | tail -n1 | grep -oE '[0-9.]+')
  JOB=$job
  report pg2d1 --label "$LABEL" --job "$job" --wall-ms "$ms" --log "$D1LOG" --log-from "$from" --load "$load→$(load1)"
}

# d1_check DB TABLE — D1's count(*) and sum(id) against PostgreSQL's; sets CHECK.
FAILED=0
d1_check() {
  local want got
  want=$(q "SELECT count(*) || ' rows, sum(id) ' || coalesce(sum(id), 0) FROM $2")
  got=$(d1q "$1" "SELECT count(*) AS n, coalesce(sum(id), 0) AS s FROM \"$2\"" |
    python3 -c 'import json, sys; r = json.load(sys.stdin)[0]; print(r["n"], "rows, sum(id)", r["s"])')
  if [ "$got" = "$want" ]; then
    CHECK="ok, D1 has $got"
  else
    CHECK="MISMATCH: D1 has $got, PostgreSQL $want"; FAILED=1
  fi
}

echo "pg2d1 throughput ceiling against the local D1 server ($(nproc) cores, load average $LOAD_START): $ROWS rows"
# 1. ceiling: pg2d1, minimal, minimal, pg2d1 (each into a database of its own), best of two each
LABEL="pg2d1 1" migrate coordinate_speed_new d1 "" ""
d1_check 1 coordinate_speed_new; echo "  D1 read back: $CHECK"; report check --label "pg2d1 1" --text "$CHECK"
read -r REQ_BYTES REQ_STMTS STMT_BYTES < <(q "SELECT max_request_bytes, max_statements_per_request, max_statement_bytes
                                               FROM pg2d1.jobs WHERE job_id = $JOB" | tr '|' ' ')
load=$(load1)
out=$(python3 bench/ceiling_client.py send coordinate_speed_new --ddl-from "$(db_id 1)" \
  --database "$(db_id 2)" --database "$(db_id 3)" \
  --max-request-bytes "$REQ_BYTES" --max-statements "$REQ_STMTS" --max-statement-bytes "$STMT_BYTES")
load="$load→$(load1)"
n=1
while read -r line; do
  report client --label "minimal $n" --json "$line" --load "$load"
  d1_check $((n + 1)) coordinate_speed_new; echo "  D1 read back: $CHECK"; report check --label "minimal $n" --text "$CHECK"
  n=$((n + 1))
done <<<"$out"
LABEL="pg2d1 2" migrate coordinate_speed_new d1_4 "" ""
d1_check 4 coordinate_speed_new; echo "  D1 read back: $CHECK"; report check --label "pg2d1 2" --text "$CHECK"

# 2. request-size sweep
echo "request-size sweep, $SWEEP_ROWS rows each (sizes interleaved):"
SWEEP_CHECKS=()
# Smallest, largest, next smallest, …: a load that drifts during the sweep (other work on the
# machine) then weighs on small and large sizes alike instead of on the last ones.
read -r -a SORTED <<<"$(printf '%s\n' $SIZES | sort -n | tr '\n' ' ')"
ORDER=()
for ((i = 0, j = ${#SORTED[@]} - 1; i <= j; i++, j--)); do
  ORDER+=("${SORTED[$i]}"); [ "$i" = "$j" ] || ORDER+=("${SORTED[$j]}")
done
db=5
for size in "${ORDER[@]}"; do
  stmts=$((size / 20000)); [ "$stmts" -ge 2 ] || stmts=2
  LABEL="sweep $size" migrate ceiling_sweep "d1_$db" \
    "SET pg2d1.max_request_bytes = $size; SET pg2d1.max_statements_per_request = $stmts;" \
    ", checkpoint_size => $SWEEP_ROWS"
  d1_check "$db" ceiling_sweep
  db=$((db + 1))
  [[ $CHECK == ok* ]] || echo "  D1 read back: $CHECK"
  SWEEP_CHECKS+=("${CHECK#ok, D1 has }")
done
if [ "$(printf '%s\n' "${SWEEP_CHECKS[@]}" | sort -u | wc -l)" = 1 ] && [[ ${SWEEP_CHECKS[0]} != MISMATCH* ]]; then
  report check --label "each sweep run" --text "ok, D1 has ${SWEEP_CHECKS[0]}"
else
  report check --label "sweep" --text "$(printf '%s; ' "${SWEEP_CHECKS[@]}")"
fi

echo
STAMP="$(date -u '+%Y-%m-%d %H:%M UTC'), $(q "SELECT split_part(version(), ' ', 2)" | sed 's/^/PostgreSQL /'), pg2d1 $(q "SELECT extversion FROM pg_extension WHERE extname = 'pg2d1'") (git $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
python3 bench/ceiling_report.py summary --results "$RESULTS" --rows "$ROWS" --load-start "$LOAD_START" \
  --stamp "$STAMP" --call "pg2d1_migrate(…, resume => false, wait => true${METHOD})" ${MARKDOWN:+--markdown "$MARKDOWN"}
echo "total time: $(($(date +%s) - START)) s"
[ -z "$MARKDOWN" ] || echo "markdown section written to $MARKDOWN"
exit $FAILED

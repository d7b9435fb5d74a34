#!/usr/bin/env bash
# test_import.sh — the import path of pg2d1 0.4.0 (method => 'import' | 'auto'): D1's import
# API (init → PUT upload → ingest → poll) against the local D1 server. Scenarios:
#   1. 200,000 rows of many types (NULLs, quotes, unicode, bytea, numeric, timestamptz, jsonb) in
#      3+ files: the phases while it runs, the server's import requests, few /query requests;
#   2. upload faults (reset, HTTP 500, bad ETag), an import D1 rolls back ("Network connection
#      lost."), polls answered 202 five times — all in one run;
#   3. kill -9 of the worker while D1 imports a file: the launcher restarts the job and the file
#      D1 finished is not imported again;
#   4. a permanent failure (a D1 trigger refuses a row): the job fails with D1's words, the file's
#      rows are rolled back, nothing else is imported; then the cause removed, a re-run completes;
#   5. 'auto': 'query' for a D1 table that already has rows, for a small table and for a second
#      run; 'import' for a first load ≥ pg2d1.import_min_rows into an absent D1 table; a bad
#      method refused (22023); pg2d1_migrate_all(method => 'import') in foreign-key order;
#   6. security: an ordinary login role cannot change pg2d1.import_directory (SET, set_config,
#      ALTER SYSTEM, ALTER ROLE) nor the other import GUCs; import files are 0600 in a 0700
#      directory (seen while they exist), also in a directory set by a superuser.
# Every scenario ends with D1's data read back from its SQLite file equal to PostgreSQL
# (compare.py; never pg2d1's own counters), D1's migration_checkpoints all completed, disjoint and
# adding up to the table, pg2d1's local checkpoints completed, and no file left in the import
# directory. Contract: README "Import or queries" (pg2d1 0.4.0) and test/d1-server/README.md "Import".
#
# Uses the caller's cluster when it preloads pg2d1 with the launcher on pg2d1_wt (run-all.sh:
# start_pg_with_workers "$WORK/pg" pg2d1_wt), else starts its own the same way. Starts its own
# local D1 server. Prints "import: N passed, N failed". About 3 minutes on 2 cores.
# IMPORT_SCENARIOS="1 3" runs only some scenarios. Leaves the pg2d1.import_* GUCs at their
# defaults; logs are removed when everything passed (PG2D1_KEEP_LOGS=1 keeps them).
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh"
OWN_WORK=""
[ -n "${WORK:-}" ] || { WORK=$(mktemp -d /tmp/pg2d1-import.XXXXXX); OWN_WORK=1; }
mkdir -p "$WORK" && chmod 755 "$WORK" # the cluster runs as postgres: it must reach $WORK/…
trap cleanup_all EXIT
T_SUITE=$(date +%s)
DB=pg2d1_wt

# ---- the cluster: the caller's if it preloads pg2d1 for pg2d1_wt, else our own ----------------
if [ "$(psql -X -A -t -d postgres -c "SELECT current_setting('shared_preload_libraries') LIKE '%pg2d1%'
                                           AND current_setting('pg2d1.database', true) = '$DB'" 2>/dev/null)" != t ]; then
  rm -rf "$WORK/pg"
  start_pg_with_workers "$WORK/pg" "$DB" || { echo "could not start a cluster"; report_checks import; exit 1; }
  echo "       own cluster at $PGHOST port $PGPORT (pg2d1 and pg_cron preloaded)"
fi
if [ "$(psql -X -A -t -d postgres -c "SELECT 1 FROM pg_available_extension_versions WHERE name = 'pg2d1' AND version = '0.4.0'" 2>&1)" != 1 ]; then
  check "pg2d1 0.4.0 is installed (make install)" false
  report_checks import; exit 1
fi

rm -rf "$WORK/d1" # a fresh D1 every run
start_d1 "$WORK/d1" || { check "the local D1 server starts" false; report_checks import; exit 1; }
export PGDATABASE=$DB
dropdb --force --if-exists "$DB" 2>/dev/null
psql -X -q -d postgres -c "DROP ROLE IF EXISTS imp_user" 2>/dev/null
createdb "$DB"
setup_pg2d1_server >/dev/null
# Whatever happens, leave the cluster's import settings at their defaults.
_CLEANUPS+=("psql -X -q -d postgres -c 'ALTER SYSTEM RESET pg2d1.import_file_size' -c 'ALTER SYSTEM RESET pg2d1.import_min_rows' -c 'ALTER SYSTEM RESET pg2d1.import_directory' -c 'SELECT pg_reload_conf()' >/dev/null 2>&1")

q() { PGOPTIONS='-c client_min_messages=warning' psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }
compare() { python3 "$REPO_ROOT/test/integration/compare.py" "$1" "$D1_SQLITE" "${@:2}"; }
elapsed() { echo "$(($(date +%s) - $1)) s"; }
note() { echo "       [+$(($(date +%s) - T)) s] $*"; } # T: the scenario's start
job_status() { q "SELECT status FROM pg2d1.jobs WHERE job_id = ${1:-0}" 2>/dev/null; }
job_method() { q "SELECT method FROM pg2d1.jobs WHERE job_id = ${1:-0}" 2>/dev/null; }
worker_of() { q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg2d1 worker' AND application_name = 'pg2d1 job ${1:-0}' LIMIT 1" 2>/dev/null; }
# wait_done JOB [SECONDS] — until the job is completed, failed, cancelled or paused; prints the status
wait_done() {
  local job=${1:-0} limit=${2:-60} st="" i
  for ((i = 0; i < limit * 5; i++)); do
    st=$(job_status "$job")
    case $st in completed | failed | cancelled | paused) echo "$st"; return 0 ;; esac
    [ -z "$st" ] && [ "$i" -ge 25 ] && { echo "no job ${job:-?}"; return 1; }
    sleep 0.2
  done
  echo "${st:-no such job} (still, after ${limit}s)"
  return 1
}
# migrate TABLE ARGS — pg2d1_migrate(TABLE, ARGS) without waiting; prints the job id
migrate() { q "SELECT pg2d1_migrate('$1'${2:+, $2})"; }
# set_gucs "name = value" … — ALTER SYSTEM SET each, reload, wait until a new session sees them
# (pg_settings.setting: sizes in the GUC's unit, kB for import_file_size)
set_gucs() {
  local a args=() name val
  for a in "$@"; do args+=(-c "ALTER SYSTEM SET ${a%% = *} = ${a#* = }"); done
  psql -X -q -d postgres -v ON_ERROR_STOP=1 "${args[@]}" -c "SELECT pg_reload_conf()" >/dev/null || return 1
  for a in "$@"; do
    name=${a%% = *}; val=${a#* = }; val=${val#\'}; val=${val%\'}
    wait_sql "SELECT setting FROM pg_settings WHERE name = '$name'" "$val" 10 || return 1
  done
}
reset_gucs() {
  local g args=()
  for g in "$@"; do args+=(-c "ALTER SYSTEM RESET $g"); done
  psql -X -q -d postgres "${args[@]}" -c "SELECT pg_reload_conf()" >/dev/null
  for g in "$@"; do wait_sql "SELECT setting = boot_val FROM pg_settings WHERE name = '$g'" t 10 >/dev/null; done
}

# ---- D1's side ---------------------------------------------------------------------------------
d1_base() { echo "${D1_URL%/client/v4}"; }
d1_get() { curl -sf "$(d1_base)/__local/$1"; }
d1_reset_stats() { curl -sf -X POST "$(d1_base)/__local/reset-stats" >/dev/null; }
# json_get EXPR — a Python expression over d, the JSON document on stdin (no jq needed)
json_get() { python3 -c 'import json, sys; d = json.load(sys.stdin); v = eval(sys.argv[1]); print("" if v is None else v)' "$1"; }
# st EXPR — EXPR over the server's stats: e (requests by endpoint, 0 when absent), i (imports), d
st() { d1_get stats | json_get "(lambda e, i: $1)(__import__('collections').defaultdict(int, d['requests_by_endpoint']), d['imports'])"; }
# a one-line summary of the import traffic since the last reset
imp_summary() {
  st "f\"init {e['import_init']}, upload {e['import_upload']}, ingest {e['import_ingest']}, poll {e['import_poll']}, query {e['query']}; imports started {i['started']}, completed {i['completed']}, failed {i['failed']}, uploads {i['uploads']} ({i['upload_bytes']} bytes), upload faults {i['upload_faults']}, injected failures {i['injected_failures']}, queries refused while importing {i['requests_refused']}; 202 answers {d['responses_by_status'].get('202', 0)}\""
}
d1_knobs() { d1_get settings | json_get "'|'.join(map(str, [d['import_upload_faults'], d['import_fail_ingests'], d['import_active_polls']]))"; }
# The files D1 received are kept in its upload directory (named <database>-<md5>.sql): what
# pg2d1 wrote, byte for byte. uploads_mark FILE lists them; files_cut_ok LIMIT_KB FILE checks
# every file received since: whole checkpoints (each ends with its migration_checkpoints
# UPDATE, the file with the last one), closed at the first checkpoint boundary at or past
# LIMIT_KB (the bytes before its last checkpoint are under the limit), no statement over D1's
# 100,000 bytes. Prints each file's size and checkpoints.
uploads_dir() { echo "$WORK/d1/data/pg2d1-imports/uploads"; }
uploads_mark() { ls "$(uploads_dir)" 2>/dev/null | grep -E '\.sql$' >"$1"; true; }
files_cut_ok() {
  python3 - "$1" "$2" "$(uploads_dir)" <<'PY'
import os, sys
limit, before, d = int(sys.argv[1]) * 1024, set(open(sys.argv[2]).read().split()), sys.argv[3]
MARK = b"UPDATE migration_checkpoints SET status = 'completed'"
bad, lines = [], []
for f in sorted(os.listdir(d), key=lambda f: os.path.getmtime(os.path.join(d, f))):
    if not f.endswith(".sql") or f in before:
        continue
    data = open(os.path.join(d, f), "rb").read()
    ends, pos = [], 0
    while (pos := data.find(MARK, pos)) >= 0:
        end = data.find(b";\n", pos)
        ends.append(len(data) if end < 0 else end + 2)
        pos += len(MARK)
    longest = max((len(x) for x in data.split(b";\n")), default=0)
    name = f"{f[37:45]}…: {len(data)} bytes, {len(ends)} checkpoints"
    lines.append(f"{name} (ends at {', '.join(str(e) for e in ends[-3:])}; longest statement {longest} bytes)")
    if not ends or ends[-1] != len(data):
        bad.append(f"{name}: does not end with a checkpoint's completion")
    if len(ends) >= 2 and ends[-2] >= limit:
        bad.append(f"{name}: not closed at the first checkpoint boundary past {limit} bytes "
                   f"(it had {ends[-2]} bytes before its last checkpoint)")
    if longest > 100000:
        bad.append(f"{name}: a statement of {longest} bytes")
print(f"{len(lines)} files received (limit {limit} bytes):")
print("\n".join(lines))
print("\n".join(bad))
sys.exit(1 if bad or not lines else 0)
PY
}
# D1's ledger of TABLE: every checkpoint completed, the ranges disjoint, the rows adding up to the table
remote_ok() {
  local t=$1 n got overlap
  n=$(q "SELECT count(*) FROM $t")
  got=$(d1_sqlite "SELECT count(*) || '|' || coalesce(sum(status = 'completed'), 0) || '|' || coalesce(sum(records_processed), 0) FROM migration_checkpoints WHERE table_name = '$t'")
  overlap=$(d1_sqlite "SELECT count(*) FROM migration_checkpoints a JOIN migration_checkpoints b ON a.table_name = b.table_name AND a.id < b.id AND a.start_id <= b.end_id AND b.start_id <= a.end_id WHERE a.table_name = '$t'")
  echo "D1 ledger of $t: checkpoints|completed|rows = $got (table $n rows), overlapping pairs $overlap"
  local c=${got%%|*} rest=${got#*|}
  [ "$c" -gt 0 ] && [ "${rest%%|*}" = "$c" ] && [ "${rest#*|}" = "$n" ] && [ "$overlap" = 0 ]
}
# the job's local checkpoints: all completed (prints the others)
local_ok() {
  local out
  out=$(q "SELECT count(*) || ' checkpoints, not completed: ' || coalesce(string_agg(start_id || '-' || end_id || ' ' || status, ', ') FILTER (WHERE status <> 'completed'), 'none')
             FROM pg2d1.checkpoints WHERE job_id = ${1:-0}")
  echo "$out"
  [[ $out == *"not completed: none" ]] && [[ $out != "0 checkpoints"* ]]
}
# the import directory in force (pg2d1.import_directory, '' = <data directory>/pg2d1_import)
imp_dir() {
  local d
  d=$(q "SELECT current_setting('pg2d1.import_directory')")
  [ -n "$d" ] && { echo "$d"; return; }
  echo "$(q "SHOW data_directory")/pg2d1_import"
}
# no file in the import directory (it may not exist)
no_files_left() {
  local d=${1:-$(imp_dir)} left
  left=$(find "$d" -mindepth 1 2>/dev/null | head -n 10)
  [ -z "$left" ] || { echo "left in $d:"; echo "$left"; ls -la "$d"; return 1; }
}
# ends TABLE JOB LABEL [compare args] — the checks that end every scenario
ends_equal() {
  local t=$1 job=$2 label=$3; shift 3
  check "$label: D1 equals PostgreSQL (compare.py reads D1's SQLite file)" compare "$t" "$@"
  check "$label: D1's migration_checkpoints all completed, disjoint, rows = table" remote_ok "$t"
  check "$label: local checkpoints of job $job all completed" local_ok "$job"
  check "$label: no file left in the import directory" no_files_left
}
# phases_start JOB SECONDS FILE — records every phase of the job (sampled every 5 ms in one session:
# a DO block reads with a new snapshot per statement) as NOTICE lines "phase|seconds|text" in FILE.
phases_start() {
  PGOPTIONS='-c client_min_messages=notice' psql -X -q -c "DO \$\$
    DECLARE p text; s text; last text := NULL; t0 timestamptz := clock_timestamp();
    BEGIN
      LOOP
        SELECT phase, status INTO p, s FROM pg2d1.jobs WHERE job_id = $1;
        IF p IS DISTINCT FROM last THEN
          RAISE NOTICE 'phase|%|%', round(extract(epoch FROM clock_timestamp() - t0)::numeric, 2), p;
          last := p;
        END IF;
        EXIT WHEN s IN ('completed', 'failed', 'cancelled', 'paused') OR clock_timestamp() - t0 > interval '$2 s'
                  OR (s IS NULL AND clock_timestamp() - t0 > interval '5 s');
        PERFORM pg_sleep(0.005);
      END LOOP;
      RAISE NOTICE 'status|%|%', round(extract(epoch FROM clock_timestamp() - t0)::numeric, 2), s;
    END \$\$" >"$3" 2>&1 &
  PHASES_PID=$!
  _CLEANUPS+=("kill $PHASES_PID 2>/dev/null")
}
phases_wait() { wait "$PHASES_PID" 2>/dev/null; sed -n 's/^NOTICE:  //p' "$1" | grep -E '^(phase|status)\|' | cut -d'|' -f3- >"$1.txt"; }
# modes_start DIR FILE — records "mode owner size name" of every file in DIR, and DIR's mode, every 20 ms
modes_start() {
  rm -f "$2" "$2.stop"
  (
    while [ ! -e "$2.stop" ]; do
      stat -c 'file %a %U %s %n' "$1"/* 2>/dev/null | grep -v ' \*$'
      stat -c 'dir %a %U %n' "$1" 2>/dev/null
      sleep 0.02
    done | sort -u >"$2"
  ) &
  MODES_PID=$!
  _CLEANUPS+=("touch '$2.stop'; kill $MODES_PID 2>/dev/null")
}
modes_stop() { touch "$2.stop"; wait "$MODES_PID" 2>/dev/null; }

# make_table NAME ROWS — a table of many types: NULLs in every column but the key, text with
# quotes, backslashes, newlines, semicolons, comment markers and unicode, bytea with zero bytes,
# numeric, double, timestamptz with microseconds, jsonb, boolean; a secondary index.
make_table() {
  PGOPTIONS='-c client_min_messages=warning' pgsql -v tbl="$1" -v rows="$2" >/dev/null <<'SQL'
DROP TABLE IF EXISTS :"tbl";
CREATE TABLE :"tbl" (
  id bigint PRIMARY KEY,
  name text,
  qty integer,
  price numeric(14,4),
  ratio double precision,
  at timestamptz,
  payload bytea,
  doc jsonb,
  flag boolean
);
INSERT INTO :"tbl"
SELECT g,
       CASE WHEN g % 17 = 0 THEN NULL
            ELSE (ARRAY['O''Connell Street', 'Zürich "Bahnhof"', '東京都道317号', 'semi; colon -- not a comment',
                        'Strada 🚗', E'back\\slash', E'two\nlines', 'a /* b */ c', 'COMMIT; BEGIN', 'Øresund'])[1 + g % 10] || ' ' || g END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE (g * 7919) % 100000 - 50000 END,
       CASE WHEN g % 13 = 0 THEN NULL ELSE round(g * 1.2345, 4) END,
       CASE WHEN g % 19 = 0 THEN NULL ELSE g / 7.0 END,
       CASE WHEN g % 23 = 0 THEN NULL ELSE timestamptz '2024-01-01 00:00:00.123456+02' + g * interval '61.5 s' END,
       CASE WHEN g % 29 = 0 THEN NULL ELSE '\x00'::bytea || decode(md5(g::text), 'hex') END,
       CASE WHEN g % 31 = 0 THEN NULL ELSE jsonb_build_object('g', g, 's', 'it''s "x"', 'a', jsonb_build_array(1, 2.50, NULL)) END,
       CASE WHEN g % 37 = 0 THEN NULL ELSE g % 2 = 0 END
  FROM generate_series(1, :rows) g;
CREATE INDEX ON :"tbl" (qty);
ANALYZE :"tbl";
SQL
}

check "the launcher runs for this database" \
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg2d1 launcher' AND datname = '$DB'" 1 30
check_eq "the extension is 0.4.0 and the import GUCs exist" "0.4.0|true" \
  q "SELECT extversion || '|' || (current_setting('pg2d1.import_file_size', true) IS NOT NULL AND current_setting('pg2d1.import_min_rows', true) IS NOT NULL AND current_setting('pg2d1.import_directory', true) IS NOT NULL) FROM pg_extension WHERE extname = 'pg2d1'"
IMPDIR=$(imp_dir)

# =============================================================================================
# 1. 200,000 rows of many types through the import API in 3+ files
scenario1() {
  echo "# 1. 200,000 rows of many types through the import API in 3+ files"
  T=$(date +%s)
  make_table imp_big 200000
  # ~40 MB of SQL: 10 checkpoints of 20,000 rows, files closed at the first boundary past 7 MB;
  # D1 holds each import ≥ 1 s (8 MB/s) so the phases can be seen.
  set_gucs "pg2d1.import_file_size = 7168"
  d1_settings '{"import_bytes_per_s":8000000}'
  d1_reset_stats
  uploads_mark "$WORK/uploads1"
  job=$(migrate imp_big "checkpoint_size => 20000, method => 'import'")
  job=${job:-0}
  phases_start "$job" 150 "$WORK/phases1"
  modes_start "$IMPDIR" "$WORK/modes1"
  check_eq "pg2d1_migrate(method => 'import') records method 'import' at once" import job_method "$job"
  check_eq "job $job of imp_big completes" completed wait_done "$job" 150
  phases_wait "$WORK/phases1"
  modes_stop "$IMPDIR" "$WORK/modes1"
  d1_settings '{"import_bytes_per_s":null}'
  note "job $job: $(q "SELECT status || ', ' || rows_done || ' rows, ' || requests || ' requests, ' || retries || ' retries, ' || bytes_sent || ' bytes sent' FROM pg2d1.jobs WHERE job_id = $job")"
  note "D1 server: $(imp_summary)"
  nphase=$(wc -l <"$WORK/phases1.txt")
  note "$nphase phases seen (checkpoint numbers and D1's messages elided, repeats folded):"
  sed -E 's#writing checkpoint [0-9]+/[0-9]+#writing checkpoint i/M#g; s#D1 importing: [^;]*#D1 importing: …#g' "$WORK/phases1.txt" | uniq | head -n 40 | sed 's/^/         /'
  files=$(grep -oE 'import file [0-9]+' "$WORK/phases1.txt" | awk '{print $3}' | sort -n | tail -n1)
  files=${files:-0}
  check "phases: 'import file N: writing checkpoint i/M' seen" grep -qE '(^|; )import file 1: writing checkpoint [0-9]+/[0-9]+' "$WORK/phases1.txt"
  # (an upload to this machine can be over between two phase updates: scenario 2, where uploads
  # are retried, checks 'uploading' for sure)
  note "'import file N: uploading X MB' seen here: $(grep -qE '(^|; )import file [0-9]+: uploading [0-9.]+ MB' "$WORK/phases1.txt" && echo yes || echo no)"
  check "phases: 'import file N: D1 importing…' seen" grep -qE '(^|; )import file [0-9]+: D1 importing' "$WORK/phases1.txt"
  check "phases: 'building indexes' after the import" grep -qx 'building indexes' "$WORK/phases1.txt"
  check "3 or more import files (phases name file $files)" test "$files" -ge 3
  check_eq "pg2d1_progress shows method 'import', 100 %" "import|completed|100.0" \
    q "SELECT method || '|' || status || '|' || percent FROM pg2d1_progress WHERE job_id = $job"
  check_eq "D1: one init, upload, ingest and completed import per file, none failed ($files files)" \
    "$files|$files|$files|$files|$files|0" st "f\"{e['import_init']}|{e['import_upload']}|{e['import_ingest']}|{i['started']}|{i['completed']}|{i['failed']}\""
  check "D1: polls answered ($(st "e['import_poll']")) — files over 1 MiB get 'active' at ingest" test "$(st "e['import_poll']")" -ge "$files"
  nquery=$(st "e['query']")
  check "D1: few /query requests ($nquery; the rows went by import: fewer than 2 per file + 12)" test "$nquery" -lt $((2 * files + 12))
  check_eq "D1: the uploads carry the rows (over 30 MB uploaded, ≥ 200000 rows written)" True \
    st "i['upload_bytes'] > 30_000_000 and d['rows_written'] >= 200000"
  check "the files D1 received hold whole checkpoints, each closed at the first boundary past 7168 kB" \
    files_cut_ok 7168 "$WORK/uploads1"
  check_eq "D1: the secondary index was built after the load" 1 \
    d1_sqlite "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'imp_big' AND sql LIKE '%qty%'"
  nfiles=$(grep -c '^file ' "$WORK/modes1" 2>/dev/null)
  note "import directory $IMPDIR: $(grep -c '^file ' "$WORK/modes1") file observations; modes seen: $(grep '^file ' "$WORK/modes1" | awk '{print $2, $3}' | sort | uniq -c | tr -s ' ' | paste -sd, -); dir: $(grep '^dir ' "$WORK/modes1" | awk '{print $2, $3}' | sort -u | paste -sd, -)"
  check "import files were seen in $IMPDIR while the job ran, named job$job-N.sql" \
    grep -qE "^file [0-7]+ [a-z_]+ [0-9]+ $IMPDIR/job$job-[0-9]+\.sql$" "$WORK/modes1"
  check_eq "security: every import file seen was mode 0600, owned by postgres" "" \
    sh -c "grep '^file ' '$WORK/modes1' | grep -v '^file 600 postgres '"
  check_eq "security: the import directory is mode 0700, owned by postgres" "700 postgres" \
    sh -c "grep '^dir ' '$WORK/modes1' | awk '{print \$2, \$3}' | sort -u"
  ends_equal imp_big "$job" "imp_big"
  check_eq "…200000 rows in D1" 200000 d1_sqlite "SELECT count(*) FROM imp_big"
  IMP_BIG_FILES=$files
  echo "       scenario 1: $(elapsed "$T") ($nfiles file observations)"
}

# =============================================================================================
# 2. Faults: upload reset / HTTP 500 / bad ETag, an import D1 rolls back, polls answered 202 five times
scenario2() {
  echo "# 2. Faults: upload reset, HTTP 500 and bad ETag; an import rolled back by D1; 5 polls 'active' per import"
  T=$(date +%s)
  make_table imp_faults 30000
  # one row too large for a literal in a statement: it goes by /query (bound parameters) before the upload
  q "UPDATE imp_faults SET name = repeat('large ''value'' ', 12000), payload = decode(repeat('00ff', 60000), 'hex') WHERE id = 12345" >/dev/null
  # 3 checkpoints of 10,000 rows (~1.9 MB each), one a file: 3 files
  set_gucs "pg2d1.import_file_size = 1024"
  d1_reset_stats
  uploads_mark "$WORK/uploads2"
  d1_settings '{"import_upload_faults":["reset","http500","bad_etag"],"import_fail_ingests":1,"import_active_polls":5}'
  check_eq "fault knobs set on the D1 server" "['reset', 'http500', 'bad_etag']|1|5" d1_knobs
  job=$(migrate imp_faults "checkpoint_size => 10000, method => 'import'")
  job=${job:-0}
  phases_start "$job" 120 "$WORK/phases2"
  check_eq "job $job of imp_faults completes through the faults" completed wait_done "$job" 120
  phases_wait "$WORK/phases2"
  note "phases: $(sed -E 's#writing checkpoint [0-9]+/[0-9]+#writing checkpoint i/M#g; s#D1 importing: [^;]*#D1 importing: …#g' "$WORK/phases2.txt" | uniq | paste -sd'|' - | sed 's/|/ → /g' | head -c 1500)"
  check "phases: 'import file 1: uploading X MB' seen (the upload is retried after a reset, a 500 and a bad ETag)" grep -qE '(^|; )import file 1: uploading [0-9.]+ MB' "$WORK/phases2.txt"
  note "job $job: $(q "SELECT status || ', ' || rows_done || ' rows, ' || requests || ' requests, ' || retries || ' retries; last_error: ' || coalesce(last_error, '-') FROM pg2d1.jobs WHERE job_id = $job" | head -c 400)"
  note "D1 server: $(imp_summary)"
  done_=$(st "i['completed']")
  check_eq "D1: the three upload faults were served (reset, 500, bad ETag)" 3 st "i['upload_faults']"
  check_eq "D1: one import failed halfway and was rolled back (injected)" "1|1" st "f\"{i['injected_failures']}|{i['failed']}\""
  check "D1: 3 or more files imported ($done_)" test "${done_:-0}" -ge 3
  check_eq "the row too large for a literal (id 12345: 168 kB text, 120 kB bytea) is in D1, in no file" "168000|120000|0" big_row
  check_eq "…the rolled-back file imported again: imports started = completed + 1" "$((done_ + 1))" st "i['started']"
  check_eq "D1: uploads kept = files, upload requests = files + 3 faulty ones (the rolled-back file was not uploaded again)" \
    "$done_|$((done_ + 3))" st "f\"{i['uploads']}|{e['import_upload']}\""
  check "D1: every import answered 'active' to its first 5 polls (202 answers ≥ 5 × imports)" \
    test "$(st "d['responses_by_status'].get('202', 0)")" -ge $((5 * (done_ + 1)))
  d1_settings '{"import_upload_faults":[],"import_fail_ingests":0,"import_active_polls":null}'
  check "the files D1 received hold whole checkpoints (one each at 1024 kB)" files_cut_ok 1024 "$WORK/uploads2"
  ends_equal imp_faults "$job" "imp_faults"
  echo "       scenario 2: $(elapsed "$T")"
}

# big_row — D1's lengths of imp_faults id 12345's text and bytea | the files D1 received that hold its text
big_row() {
  local d1 infiles
  d1=$(d1_sqlite "SELECT length(CAST(name AS BLOB)) || '|' || length(payload) FROM imp_faults WHERE id = 12345")
  infiles=$(grep -l -F -e "large 'value'" -e "large ''value''" "$(uploads_dir)"/*.sql 2>/dev/null | wc -l)
  echo "$d1|$infiles"
}

# =============================================================================================
# 3. kill -9 of the worker while D1 imports: restarted, and the file D1 finished is not imported again
scenario3() {
  echo "# 3. kill -9 of the worker while D1 imports file 2: the job is restarted, file 2 is not imported again"
  T=$(date +%s)
  make_table imp_kill 30000
  # 3 checkpoints of 10,000 rows (~1.9 MB), one a file; D1 holds files 1 and 2 ≥ 5 s each (400 kB/s),
  # so the kill lands while D1 imports file 2; file 3 (after the kill) goes at D1's speed.
  set_gucs "pg2d1.import_file_size = 1024"
  d1_settings '{"import_bytes_per_s":400000}'
  d1_reset_stats
  job=$(migrate imp_kill "checkpoint_size => 10000, method => 'import'")
  job=${job:-0}
  # the moment: D1 runs the import of file 2 (its stats: 2 started, 1 completed) and the job says so
  importing2() {
    local i ph
    for ((i = 0; i < 600; i++)); do
      if [ "$(st "f\"{i['started']}|{i['completed']}\"")" = "2|1" ]; then
        ph=$(q "SELECT phase FROM pg2d1.jobs WHERE job_id = $job")
        [[ $ph == *"import file 2: D1 importing"* ]] && return 0
      fi
      case $(job_status "$job") in completed | failed | cancelled) break ;; esac
      sleep 0.1
    done
    echo "D1 never seen importing file 2 with the job in phase 'import file 2: D1 importing' (phase: ${ph:-?}; D1: $(imp_summary))"
    return 1
  }
  check "job $job reaches 'import file 2: D1 importing' while D1 imports file 2" importing2
  pid=$(worker_of "$job")
  phase=$(q "SELECT phase FROM pg2d1.jobs WHERE job_id = $job")
  [ -n "$pid" ] && kill -9 "$pid"
  at_kill=$(st "f\"{i['started']}|{i['completed']}\"")
  d1_settings '{"import_bytes_per_s":null}' # file 3 at D1's speed again
  note "kill -9 $pid in phase '$phase' (D1: imports started|completed $at_kill)"
  check_eq "the worker (pid ${pid:-none}) was killed while D1 imported file 2 (D1: imports started|completed)" "2|1" echo "$at_kill"
  wait_sql "SELECT 1" 1 60 >/dev/null # the postmaster's crash restart
  # the launcher starts a new worker for the job (it finds D1 still importing: 503, waiting)
  newpid=""
  for ((k = 0; k < 150; k++)); do
    newpid=$(worker_of "$job"); [ -n "$newpid" ] && [ "$newpid" != "$pid" ] && break
    newpid=""
    case $(job_status "$job") in completed | failed | cancelled) break ;; esac
    sleep 0.2
  done
  check "the launcher starts a new worker for job $job (pid ${newpid:-none})" test -n "$newpid"
  # D1 finishes file 2 by itself; D1's ledger rows of files 1 and 2 as D1 left them
  d1_done2() { local i; for ((i = 0; i < 300; i++)); do [ "$(st "i['completed']")" -ge 2 ] && return 0; sleep 0.1; done; return 1; }
  check "D1 finishes the import of file 2 on its own" d1_done2
  d1_sqlite "SELECT id, start_id, end_id, records_processed, completed_at FROM migration_checkpoints WHERE table_name = 'imp_kill' AND status = 'completed' AND end_id <= 20000 ORDER BY id" >"$WORK/kill.ledger.before"
  note "D1's completed ranges of files 1 and 2: $(cut -d'|' -f2,3 "$WORK/kill.ledger.before" | paste -sd' ' -)"
  check_eq "job $job ends completed after the restart" completed wait_done "$job" 120
  note "job $job: $(q "SELECT status || ', ' || rows_done || ' rows' FROM pg2d1.jobs WHERE job_id = $job")"
  note "D1 server: $(imp_summary)"
  check_eq "…no other job was started for imp_kill" 1 q "SELECT count(*) FROM pg2d1.jobs WHERE table_name = 'imp_kill'"
  check_eq "D1 completed files 1 and 2 (ranges 1-10000, 10001-20000)" "1|10000 10001|20000" \
    sh -c "cut -d'|' -f2,3 '$WORK/kill.ledger.before' | paste -sd' ' -"
  # 3 files, each imported exactly once: file 2 (finished by D1 after the kill) is not imported again
  check_eq "D1: 3 imports started, 3 completed, 3 ingests, 0 failed — file 2 was not imported again" "3|3|3|0" \
    st "f\"{i['started']}|{i['completed']}|{e['import_ingest']}|{i['failed']}\""
  check "D1: the ledger rows of files 1 and 2 are as D1 left them (ids, counts, completed_at)" \
    sh -c "sqlite3 -readonly '$D1_SQLITE' \"SELECT id, start_id, end_id, records_processed, completed_at FROM migration_checkpoints WHERE table_name = 'imp_kill' AND id IN ($(cut -d'|' -f1 "$WORK/kill.ledger.before" | paste -sd, -)) ORDER BY id\" | diff '$WORK/kill.ledger.before' - && test -s '$WORK/kill.ledger.before'"
  ends_equal imp_kill "$job" "imp_kill"
  echo "       scenario 3: $(elapsed "$T")"
}

# =============================================================================================
# 4. A permanent failure: a D1 trigger refuses a row of file 2
scenario4() {
  echo "# 4. A permanent failure: a D1 trigger refuses a row of file 2 (SQL error): failed, rolled back"
  T=$(date +%s)
  PGOPTIONS='-c client_min_messages=warning' pgsql >/dev/null <<'SQL'
DROP TABLE IF EXISTS imp_fail;
CREATE TABLE imp_fail (id integer PRIMARY KEY, v text NOT NULL);
INSERT INTO imp_fail SELECT g, CASE WHEN g = 7500 THEN 'poison' ELSE 'value ' || g || ' ' || repeat('x', 250) END FROM generate_series(1, 20000) g;
SQL
  q "SELECT count(*) FROM pg2d1_setup_schema(ARRAY['imp_fail']::regclass[])" >/dev/null
  # D1 holds 4 older rows (1 in file 1, 2 in file 2, 1 in file 3) and a trigger refusing 'poison'
  q "SELECT pg2d1_query(\$\$INSERT INTO imp_fail (id, v) VALUES (100, 'old 100'), (6000, 'old 6000'), (9000, 'old 9000'), (15000, 'old 15000')\$\$, 'd1')" >/dev/null
  q "SELECT pg2d1_query(\$\$CREATE TRIGGER imp_fail_guard BEFORE INSERT ON imp_fail WHEN NEW.v = 'poison' BEGIN SELECT RAISE(ABORT, 'poison row refused by a D1 trigger'); END\$\$, 'd1')" >/dev/null
  check_eq "D1 has the trigger and 4 older rows" "1|4" \
    d1_sqlite "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'imp_fail_guard') || '|' || (SELECT count(*) FROM imp_fail)"
  before=$(d1_sqlite "SELECT group_concat(id || ':' || v, ',') FROM (SELECT * FROM imp_fail WHERE id > 5000 ORDER BY id)")
  # 4 checkpoints of 5,000 rows (~1.3 MB), one a file
  set_gucs "pg2d1.import_file_size = 1024"
  d1_reset_stats
  uploads_mark "$WORK/uploads4"
  job=$(migrate imp_fail "checkpoint_size => 5000, method => 'import'")
  job=${job:-0}
  check_eq "job $job of imp_fail fails" failed wait_done "$job" 60
  err=$(q "SELECT last_error FROM pg2d1.jobs WHERE job_id = $job")
  note "last_error: ${err:0:300}"
  note "D1 server: $(imp_summary)"
  check "last_error carries D1's message" grep -q 'poison row refused by a D1 trigger' <<<"$err"
  check_eq "D1: the import of file 2 failed and was not retried (a SQL error is permanent): started 2, completed 1, failed 1" \
    "2|1|1|0" st "f\"{i['started']}|{i['completed']}|{i['failed']}|{i['injected_failures']}\""
  check_eq "D1: the rows above file 1 are as they were (file 2 rolled back, files 3-4 never imported)" "$before" \
    d1_sqlite "SELECT group_concat(id || ':' || v, ',') FROM (SELECT * FROM imp_fail WHERE id > 5000 ORDER BY id)"
  check "D1: file 1 (ids 1-5000) is in, equal to PostgreSQL" range_equal imp_fail 0 5000
  check_eq "D1's ledger: 1-5000 completed, 5001-10000 failed with D1's message, nothing completed above" \
    "1|5000|completed|0
5001|10000|failed|1" \
    d1_sqlite "SELECT start_id, end_id, status, coalesce(error_message LIKE '%poison row refused by a D1 trigger%', 0) FROM migration_checkpoints WHERE table_name = 'imp_fail' AND status <> 'pending' ORDER BY start_id"
  check_eq "local ledger: the checkpoint of file 2 failed with D1's message" "failed|true" \
    q "SELECT status || '|' || (error_message LIKE '%poison row refused by a D1 trigger%') FROM pg2d1.checkpoints WHERE job_id = $job AND start_id = 5001"
  note "local checkpoints of the failed job: $(q "SELECT string_agg(start_id || '-' || end_id || ' ' || status, ', ' ORDER BY start_id) FROM pg2d1.checkpoints WHERE job_id = $job")"
  check "no file left in the import directory after the failure" no_files_left
  check "the files D1 received hold whole checkpoints, one each (1024 kB, ~1.3 MB checkpoints)" files_cut_ok 1024 "$WORK/uploads4"
  # the cause removed: a new run completes
  q "SELECT pg2d1_query('DROP TRIGGER imp_fail_guard', 'd1')" >/dev/null
  job2=$(migrate imp_fail "checkpoint_size => 5000, method => 'import'")
  check_eq "after DROP TRIGGER in D1 a new run (job ${job2:-?}) completes" completed wait_done "${job2:-0}" 60
  ends_equal imp_fail "${job2:-0}" "imp_fail after the re-run"
  echo "       scenario 4: $(elapsed "$T")"
}
# range_equal TABLE LO HI — rows with LO < id ≤ HI (columns id, v) equal in D1 and PostgreSQL
range_equal() {
  local a b
  a=$(q "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM $1 WHERE id > $2 AND id <= $3" | md5sum)
  b=$(d1_sqlite "SELECT group_concat(id || ':' || v, ',') FROM (SELECT * FROM $1 WHERE id > $2 AND id <= $3 ORDER BY id)" | md5sum)
  echo "PostgreSQL ${a%% *}, D1 ${b%% *}"
  [ "$a" = "$b" ]
}

# =============================================================================================
# 5. 'auto': query when D1 has rows, for a small table and a second run; import for a first load
scenario5() {
  echo "# 5. method => 'auto' (the default) and pg2d1_migrate_all(method => 'import')"
  T=$(date +%s)
  set_gucs "pg2d1.import_min_rows = 1000" "pg2d1.import_file_size = 64"
  pgsql >/dev/null <<'SQL'
CREATE TABLE auto_rows (id bigint PRIMARY KEY, v text, n numeric);
INSERT INTO auto_rows SELECT g, 'row ' || g, g / 3.0 FROM generate_series(1, 5000) g;
CREATE TABLE auto_small (id bigint PRIMARY KEY, v text);
INSERT INTO auto_small SELECT g, 'small ' || g FROM generate_series(1, 500) g;
CREATE TABLE auto_new (id bigint PRIMARY KEY, v text, at timestamptz);
INSERT INTO auto_new SELECT g, 'new ' || g, '2024-03-01 00:00+00'::timestamptz + g * interval '1 s' FROM generate_series(1, 5000) g;
CREATE SCHEMA imp_all;
CREATE TABLE imp_all.parent (id int PRIMARY KEY, name text);
CREATE TABLE imp_all.child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES imp_all.parent, note text);
INSERT INTO imp_all.parent SELECT g, 'parent ' || g FROM generate_series(1, 3000) g;
INSERT INTO imp_all.child SELECT g, 1 + g % 3000, 'child ' || g FROM generate_series(1, 6000) g;
SQL
  check_eq "pg2d1.import_min_rows = 1000 in force" 1000 q "SHOW pg2d1.import_min_rows"
  out=$(psql -X -A -t -c "SELECT pg2d1_migrate('auto_rows', method => 'bulk')" -v VERBOSITY=verbose 2>&1)
  check "a bad method is refused with SQLSTATE 22023" grep -q '22023' <<<"$out"
  check_eq "…and starts no job" 0 q "SELECT count(*) FROM pg2d1.jobs WHERE table_name = 'auto_rows'"
  # auto_rows: the D1 table exists and has a row
  q "SELECT count(*) FROM pg2d1_setup_schema(ARRAY['auto_rows']::regclass[])" >/dev/null
  q "SELECT pg2d1_query(\$\$INSERT INTO auto_rows (id, v, n) VALUES (1, 'stale', '0')\$\$, 'd1')" >/dev/null
  for t in auto_rows auto_small; do
    d1_reset_stats
    job=$(migrate $t "checkpoint_size => 2000")
    check_eq "auto: job ${job:-?} of $t completes" completed wait_done "${job:-0}" 60
    check_eq "auto: $t went by query (jobs.method)" query job_method "${job:-0}"
    check_eq "auto: $t — no import request reached D1" 0 st "sum(v for k, v in e.items() if k.startswith('import'))"
    ends_equal $t "${job:-0}" "auto: $t"
  done
  # auto_new: absent in D1, 5000 rows ≥ import_min_rows; files into a directory set by a superuser
  mkdir -p "$WORK/impdir" && chown postgres: "$WORK/impdir" && chmod 700 "$WORK/impdir"
  set_gucs "pg2d1.import_directory = '$WORK/impdir/custom'"
  d1_reset_stats
  uploads_mark "$WORK/uploads5"
  modes_start "$WORK/impdir/custom" "$WORK/modes5"
  d1_settings '{"import_bytes_per_s":200000}'
  job=$(migrate auto_new "checkpoint_size => 2000")
  check_eq "auto: job ${job:-?} of auto_new (first load, D1 table absent) completes" completed wait_done "${job:-0}" 60
  d1_settings '{"import_bytes_per_s":null}'
  modes_stop "$WORK/impdir/custom" "$WORK/modes5"
  check_eq "auto: auto_new went by import (jobs.method and pg2d1_progress.method)" "import|import" \
    q "SELECT j.method || '|' || p.method FROM pg2d1.jobs j JOIN pg2d1_progress p USING (job_id) WHERE job_id = ${job:-0}"
  note "D1 server: $(imp_summary)"
  check "auto: auto_new — import requests reached D1 (ingests: $(st "e['import_ingest']"))" test "$(st "i['completed']")" -ge 1
  # 3 checkpoints of 2,000 rows (~76 kB each) with pg2d1.import_file_size = 64 kB: one file each
  check "auto_new: the files D1 received hold whole checkpoints, each closed at the first boundary past 64 kB (3 files)" \
    files_cut_ok 64 "$WORK/uploads5"
  note "custom import directory: $(sort -u "$WORK/modes5" | awk '{print $1, $2, $3}' | sort | uniq -c | tr -s ' ' | paste -sd, -)"
  check "security: files were written in pg2d1.import_directory ($WORK/impdir/custom), mode 0600; the directory 0700" \
    sh -c "grep -q '^file 600 postgres .*/custom/job${job:-0}-[0-9]*\.sql$' '$WORK/modes5' && ! grep '^file ' '$WORK/modes5' | grep -qv '^file 600 postgres ' && [ \"\$(stat -c '%a %U' '$WORK/impdir/custom')\" = '700 postgres' ]"
  check "…and none is left there" no_files_left "$WORK/impdir/custom"
  ends_equal auto_new "${job:-0}" "auto: auto_new"
  reset_gucs pg2d1.import_directory
  # a second run of auto_new: not a first load → query
  d1_reset_stats
  job=$(migrate auto_new "checkpoint_size => 2000")
  st2=$(wait_done "${job:-0}" 60)
  check_eq "auto: a second run of auto_new (job ${job:-?}, not a first load) completes by query, no import request" "completed|query|0" \
    echo "$st2|$(job_method "${job:-0}")|$(st "sum(v for k, v in e.items() if k.startswith('import'))")"
  # pg2d1_migrate_all(method => 'import'): parents before children, each by import
  d1_reset_stats
  out=$(q "SELECT string_agg(table_name || ':' || job_id, ' ' ORDER BY job_id) FROM pg2d1_migrate_all(schema_name => 'imp_all', method => 'import')" 2>&1)
  note "pg2d1_migrate_all: $out"
  jp=$(sed -nE 's/.*parent:([0-9]+).*/\1/p' <<<"$out"); jc=$(sed -nE 's/.*child:([0-9]+).*/\1/p' <<<"$out")
  check_eq "migrate_all(method => 'import'): parent (job ${jp:-?}) and child (job ${jc:-?}) complete" "completed completed" \
    echo "$(wait_done "${jp:-0}" 60) $(wait_done "${jc:-0}" 60)"
  check_eq "…both by import (jobs.method), the child's first checkpoint started after the parent job finished" "import|import|true" \
    q "SELECT p.method || '|' || c.method || '|' || ((SELECT min(started_at) FROM pg2d1.checkpoints WHERE job_id = c.job_id) >= p.finished_at)
         FROM pg2d1.jobs p, pg2d1.jobs c WHERE p.job_id = ${jp:-0} AND c.job_id = ${jc:-0}"
  check_eq "…each imported (D1: 2 imports completed, none failed)" "2|0" st "f\"{i['completed']}|{i['failed']}\""
  check "migrate_all: imp_all.parent equals D1's parent" compare imp_all.parent --d1-table parent
  check "migrate_all: imp_all.child equals D1's child" compare imp_all.child --d1-table child
  check "migrate_all: no file left" no_files_left
  echo "       scenario 5: $(elapsed "$T")"
}

# =============================================================================================
# 6. Security: an ordinary role cannot move the import directory or change the import GUCs
scenario6() {
  echo "# 6. Security: an ordinary login role and the import GUCs"
  T=$(date +%s)
  # the GUCs as documented: server-wide (sighup), sizes in kB from 64 kB to 4 GB, default 64 MB
  check_eq "pg2d1.import_directory: sighup, default '' (<data directory>/pg2d1_import)" "sighup|" \
    q "SELECT context || '|' || boot_val FROM pg_settings WHERE name = 'pg2d1.import_directory'"
  check_eq "pg2d1.import_file_size: sighup, kB, default 64 MB, 64 kB … 4 GB (README)" "sighup|kB|65536|64|4194304" \
    q "SELECT concat_ws('|', context, unit, boot_val, min_val, max_val) FROM pg_settings WHERE name = 'pg2d1.import_file_size'"
  check_eq "pg2d1.import_min_rows: sighup, default 1000000" "sighup|1000000" \
    q "SELECT context || '|' || boot_val FROM pg_settings WHERE name = 'pg2d1.import_min_rows'"
  q "CREATE ROLE imp_user LOGIN NOSUPERUSER" >/dev/null
  _CLEANUPS+=("psql -X -q -d postgres -c 'DROP ROLE IF EXISTS imp_user' >/dev/null 2>&1")
  before=$(q "SHOW pg2d1.import_directory")
  as_user() { psql -X -A -t -U imp_user -d "$DB" -c "$1" 2>&1; }
  refused() { # SQL — run as imp_user, must fail with ERROR
    local out; out=$(as_user "$1")
    echo "$out"
    grep -q 'ERROR' <<<"$out"
  }
  for sql in "SET pg2d1.import_directory = '/tmp/pg2d1-evil'" \
             "SELECT set_config('pg2d1.import_directory', '/tmp/pg2d1-evil', false)" \
             "ALTER SYSTEM SET pg2d1.import_directory = '/tmp/pg2d1-evil'" \
             "ALTER ROLE imp_user SET pg2d1.import_directory = '/tmp/pg2d1-evil'" \
             "SET pg2d1.import_file_size = 64" \
             "SET pg2d1.import_min_rows = 1" \
             "ALTER SYSTEM SET pg2d1.import_min_rows = 1"; do
    check "imp_user (no superuser) is refused: $sql" refused "$sql"
  done
  check_eq "pg2d1.import_directory unchanged for the server" "$before" q "SHOW pg2d1.import_directory"
  check_eq "…and for the role (no per-role setting stored)" 0 \
    q "SELECT count(*) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = 'imp_user'"
  check_eq "…and nothing in postgresql.auto.conf" 0 \
    sh -c "grep -c 'pg2d1-evil' '$(q "SHOW data_directory")/postgresql.auto.conf'"
  check "no /tmp/pg2d1-evil was created" test ! -e /tmp/pg2d1-evil
  echo "       scenario 6: $(elapsed "$T")"
}

for n in ${IMPORT_SCENARIOS:-1 2 3 4 5 6}; do "scenario$n"; done

check_eq "no job is left queued, running or waiting" 0 q "SELECT count(*) FROM pg2d1.jobs WHERE status IN ('queued','running','waiting')"
check "no file left in the default import directory ($IMPDIR)" no_files_left "$IMPDIR"
echo "       suite: $(elapsed "$T_SUITE")"
if [ "$CHECKS_FAILED" -gt 0 ] || [ -n "${PG2D1_KEEP_LOGS:-}" ]; then
  echo "       logs: $WORK (cluster log: $PGHOST/server.log, D1 server log: $WORK/d1/server.log)"
elif [ -n "$OWN_WORK" ]; then
  cleanup_all; rm -rf "$WORK"
fi
report_checks import
[ "$CHECKS_FAILED" -eq 0 ]

#!/usr/bin/env bash
# test_sync.sh — incremental sync (pg2d1 0.3) against the local D1 server: a pgbench workload
# (sync_workload.sql on an integer key, sync_workload2.sql on a text + int key) synced by
# pg_cron, one table copied while the workload writes to it; follow mode under load and after
# kill -9; kill -9 in the middle of a 200,000-row sync; a D1 outage, a statement D1 rejects and
# 20 % transient faults; reconcile (sync enabled after a copy, with subtle differences, and
# during a copy); TRUNCATE, ALTER TABLE, FK cascades; privileges; disable and DROP. Every
# scenario ends with D1's SQLite file compared with PostgreSQL value by value (compare.py)
# and with pg2d1_verify.
# Needs a cluster started with start_pg_with_workers DIR pg2d1_wt (pg2d1 and pg_cron
# preloaded, the launcher and pg_cron on pg2d1_wt); restarts it when pg_cron's scheduler is
# gone (it exits for good when its database is dropped). Prints "sync: N passed, N failed".
# About 5 minutes on 2 idle cores. SYNC_SCENARIOS="1 3" runs only some scenarios (2 needs 1's
# tables, 4 needs 3's). Leaves pg2d1.max_retries at its default and no fault injected.
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh"
OWN_WORK=""
[ -n "${WORK:-}" ] || { WORK=$(mktemp -d); OWN_WORK=1; }
mkdir -p "$WORK"
trap cleanup_all EXIT
T_SUITE=$(date +%s)
rm -rf "$WORK/d1"
start_d1 "$WORK/d1" || exit 1
export PGDATABASE=pg2d1_wt
dropdb --force --if-exists pg2d1_wt 2>/dev/null
for r in sync_nobody sync_ins; do psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" 2>/dev/null; done
createdb pg2d1_wt
setup_pg2d1_server >/dev/null
_CLEANUPS+=("psql -X -q -d postgres -c 'ALTER SYSTEM RESET pg2d1.max_retries' -c 'SELECT pg_reload_conf()' >/dev/null 2>&1")

q() { PGOPTIONS='-c client_min_messages=warning' psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }
# q_small SQL — q with small D1 requests (about 1,600 rows of big each), so that a sync takes a while
q_small() { PGOPTIONS='-c client_min_messages=warning -c pg2d1.max_request_bytes=100000' psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }
compare() { python3 "$REPO_ROOT/test/integration/compare.py" "$1" "$D1_SQLITE" "${@:2}"; }
verify() { q "SELECT bool_and(ok) FROM pg2d1_verify('$1')"; }
# equal TABLE LABEL [compare args] — two checks: compare.py and pg2d1_verify
equal() {
  local t=$1 label=$2; shift 2
  check "$label: D1 equals PostgreSQL (compare.py, D1's SQLite file)" compare "$t" "$@"
  check_eq "$label: pg2d1_verify finds every range equal" t verify "$t"
}
elapsed() { echo "$(($(date +%s) - $1)) s"; }
note() { echo "       [+$(($(date +%s) - T)) s] $*"; } # T: the scenario's start
pending() { q "SELECT changes_pending FROM pg2d1_sync_status WHERE table_name = '$1'::regclass"; }
job_status() { q "SELECT status FROM pg2d1.jobs WHERE job_id = ${1:-0}" 2>/dev/null; }
worker_of() { q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg2d1 worker' AND application_name = 'pg2d1 job ${1:-0}' LIMIT 1" 2>/dev/null; }
# sync_wait TABLE — pg2d1_sync(wait => true); prints its error when it raised
sync_wait() {
  local out
  out=$(psql -X -A -t -v ON_ERROR_STOP=1 -c "SELECT pg2d1_sync('$1', wait => true)" 2>&1) || { echo "$out"; return 1; }
}
# wait_done JOB [SECONDS] — until the job is completed, failed or cancelled; prints the status
wait_done() {
  local job=${1:-0} limit=${2:-60} st="" i
  for ((i = 0; i < limit * 5; i++)); do
    st=$(job_status "$job")
    case $st in completed | failed | cancelled | paused) echo "$st"; return 0 ;; esac
    [ -z "$st" ] && [ "$i" -ge 10 ] && { echo "no job ${job:-?}"; return 1; }
    sleep 0.2
  done
  echo "${st:-no such job} (still, after ${limit}s)"
  return 1
}
# wait_pending_below TABLE N SECONDS — until changes_pending < N
wait_pending_below() {
  local i p
  for ((i = 0; i < $3 * 5; i++)); do
    p=$(pending "$1" 2>/dev/null)
    [[ $p =~ ^[0-9]+$ ]] && [ "$p" -lt "$2" ] && return 0
    sleep 0.2
  done
  echo "changes_pending of $1 still ${p:-?} after $3 s"
  return 1
}
# pgbench_start TAG SECONDS — two pgbench runs at once: sync_workload.sql on wl (3 clients,
# 120 transactions/s) and sync_workload2.sql on wl2 (1 client, 40/s); pids PGB1 and PGB2.
pgbench_start() {
  "$PG_BIN/pgbench" -n -f "$REPO_ROOT/test/integration/sync_workload.sql" -c 3 -j 1 -T "$2" -R 120 --max-tries=10 \
    -D maxkey=30000 >"$WORK/pgbench-$1-wl.log" 2>&1 &
  PGB1=$!
  "$PG_BIN/pgbench" -n -f "$REPO_ROOT/test/integration/sync_workload2.sql" -c 1 -j 1 -T "$2" -R 40 --max-tries=10 \
    -D maxseq=5000 >"$WORK/pgbench-$1-wl2.log" 2>&1 &
  PGB2=$!
  _CLEANUPS+=("kill $PGB1 $PGB2 2>/dev/null")
}
pgbench_running() { kill -0 "$PGB1" 2>/dev/null || kill -0 "$PGB2" 2>/dev/null; }
# pgbench_end TAG — waits for both, checks their exit status, notes their summaries
pgbench_end() {
  local rc1 rc2 t
  wait "$PGB1"; rc1=$?
  wait "$PGB2"; rc2=$?
  for t in wl wl2; do note "pgbench on $t: $(pgbench_summary "$WORK/pgbench-$1-$t.log")"; done
  check_eq "pgbench on wl ran without error" 0 echo "$rc1"
  [ "$rc1" = 0 ] || grep -m 3 -E 'error|ERROR' "$WORK/pgbench-$1-wl.log" | sed 's/^/       /'
  check_eq "pgbench on wl2 (text + int key) ran without error" 0 echo "$rc2"
  [ "$rc2" = 0 ] || grep -m 3 -E 'error|ERROR' "$WORK/pgbench-$1-wl2.log" | sed 's/^/       /'
}
pgbench_summary() { grep -E 'number of (transactions actually processed|failed transactions)|^tps' "$1" | tr '\n' ';' | sed 's/;$//'; }

# ---- the local D1 server stopped and started again (as test_complete.sh does) -----------------
d1_port() { local p=${D1_URL#http://*:}; echo "${p%%/*}"; }
d1_stop() { # SIGTERM (never SIGKILL: its workerd child would be orphaned), wait for the exit
  local pid=$D1_PID i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  wait "$pid" 2>/dev/null
  return 0
}
d1_start_again() { # same port and data directory (call directly: start_d1 exports D1_*)
  local dir=$1 port
  port=$(d1_port)
  [ -f "$dir/server.log" ] && cat "$dir/server.log" >>"$dir/server.log.previous"
  start_d1 "$dir" --port "$port"
}

# pg_cron's scheduler exits for good when its database is dropped (dropdb --force above, or
# an earlier suite's): a restart of the cluster brings it back.
q "CREATE EXTENSION IF NOT EXISTS pg_cron" >/dev/null
if ! wait_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_cron scheduler'" 1 5 >/dev/null; then
  restart_pg fast
fi
check "pg_cron's scheduler runs for this database" \
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_cron scheduler' AND datname = 'pg2d1_wt'" 1 30
check "the launcher runs for this database" \
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg2d1 launcher' AND datname = 'pg2d1_wt'" 1 30

# =============================================================================================
# 1. A pgbench workload synced by pg_cron every minute (integer key, text + int key)
scenario1() {
  echo "# 1. A pgbench workload synced by pg_cron every minute (integer key, text + int key)"
  T=$(date +%s)
  pgsql <<'SQL' >/dev/null
CREATE TABLE wl (id bigint PRIMARY KEY, t text NOT NULL, n numeric(14,4), at timestamptz, j jsonb, maybe int);
CREATE SEQUENCE wl_new START 1000000;
CREATE SEQUENCE wl_epoch;
INSERT INTO wl SELECT g, 'row ' || g, g / 3.0, '2024-01-01 00:00+00'::timestamptz + g * interval '37 seconds',
                      jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g % 7)), NULLIF(g % 5, 0)
  FROM generate_series(1, 20000) g;
CREATE TABLE wl2 (region text, seq int, v text, at timestamptz, PRIMARY KEY (region, seq));
CREATE SEQUENCE wl2_new START 100000;
INSERT INTO wl2 SELECT (ARRAY['north','South','éast','west'])[1 + g % 4], g / 4 + 1, md5(g::text), now()
  FROM generate_series(0, 15999) g;
SQL
  check_eq "sync enabled on wl (before the copy: no reconcile)" "f" \
    q "SELECT pg2d1_enable_sync('wl') LIKE '%first pg2d1_sync compares%'"
  q "SELECT pg2d1_enable_sync('wl2')" >/dev/null
  check_eq "pg2d1_enable_sync installs the four capture triggers" \
    "pg2d1_capture_delete,pg2d1_capture_insert,pg2d1_capture_truncate,pg2d1_capture_update" \
    q "SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'wl'::regclass"
  check "wl copied with pg2d1_migrate(wait => true)" sync_migrate wl
  check_eq "no change captured by the copy" 0 pending wl
  # wl2 is copied while the workload writes to it (slow D1): the changes made meanwhile are captured.
  d1_settings '{"latency_ms":30}'
  mj=$(q "SELECT pg2d1_migrate('wl2', checkpoint_size => 2000, batch_size => 250)")
  wait_sql "SELECT rows_done > 0 FROM pg2d1.jobs WHERE job_id = ${mj:-0}" t 30 >/dev/null
  q "SELECT cron.schedule('pg2d1-sync-wl', '* * * * *', \$\$SELECT pg2d1_sync('wl')\$\$)" >/dev/null
  q "SELECT cron.schedule('pg2d1-sync-wl2', '* * * * *', \$\$SELECT pg2d1_sync('wl2')\$\$)" >/dev/null
  t_start=$(q "SELECT now()")
  pgbench_start 1 62
  note "pgbench: 160 transactions/s for 62 s; pg_cron runs pg2d1_sync('wl') and ('wl2') every minute"
  check_eq "the copy of wl2 completes while pgbench writes to it" "completed" wait_done "${mj:-0}" 60
  d1_settings '{"latency_ms":0}'
  check_eq "…and changes were captured during the copy" t \
    q "SELECT finished_at > '$t_start' AND EXISTS (SELECT 1 FROM pg2d1.changes c WHERE c.relid = 'wl2'::regclass AND c.changed_at < j.finished_at) FROM pg2d1.jobs j WHERE job_id = ${mj:-0}"
  while pgbench_running; do sleep 1; done
  pgbench_end 1
  q "SELECT cron.unschedule('pg2d1-sync-wl'); SELECT cron.unschedule('pg2d1-sync-wl2')" >/dev/null
  check_eq "pg_cron's runs of pg2d1_sync succeeded (at least one per table)" "t" \
    q "SELECT count(*) FILTER (WHERE r.status = 'succeeded') >= 2 AND count(*) FILTER (WHERE r.status <> 'succeeded') = 0
         FROM cron.job_run_details r WHERE r.start_time >= '$t_start'"
  check_eq "…and their sync jobs applied changes while pgbench ran" "true|true" \
    q "SELECT bool_or(relid = 'wl'::regclass AND rows_done > 0) || '|' || bool_or(relid = 'wl2'::regclass AND rows_done > 0)
         FROM pg2d1.jobs WHERE kind = 'sync' AND status = 'completed' AND started_at >= '$t_start'"
  note "cron-run sync jobs: $(q "SELECT string_agg(table_name || ' ' || job_id || ' ' || status || ' ' || rows_done, ', ' ORDER BY job_id) FROM pg2d1.jobs WHERE kind = 'sync'")"
  note "pending after the workload: wl $(pending wl), wl2 $(pending wl2)"
  check "no sync job left running after the cron runs" wait_sql "SELECT count(*) FROM pg2d1.jobs WHERE kind = 'sync' AND status IN ('queued','running','waiting')" 0 60
  check "a last pg2d1_sync('wl', wait => true) completes" sync_wait wl
  check "a last pg2d1_sync('wl2', wait => true) completes" sync_wait wl2
  check_eq "no change pending (wl, wl2)" "0|0" q "SELECT (SELECT changes_pending FROM pg2d1_sync_status WHERE table_name = 'wl'::regclass) || '|' || (SELECT changes_pending FROM pg2d1_sync_status WHERE table_name = 'wl2'::regclass)"
  note "wl: $(q "SELECT count(*) || ' rows, ' || count(*) FILTER (WHERE id > 100000000) || ' moved keys, ' || count(*) FILTER (WHERE id >= 1000000 AND id < 100000000) || ' new keys, ' || count(*) FILTER (WHERE maybe IS NULL) || ' NULLs' FROM wl"); status: $(q "SELECT upserts || ' upserts, ' || deletes || ' deletes' FROM pg2d1_sync_status WHERE table_name = 'wl'::regclass")"
  check_eq "the workload changed keys of every kind (new, moved, deleted and re-inserted)" "t" \
    q "SELECT count(*) FILTER (WHERE id > 100000000) > 0 AND count(*) FILTER (WHERE id >= 1000000 AND id < 100000000) > 0
              AND count(*) FILTER (WHERE t LIKE 'again%' OR t LIKE 'back%') > 0 AND (SELECT deletes FROM pg2d1_sync_status WHERE table_name = 'wl'::regclass) > 0 FROM wl"
  equal wl "wl after the workload"
  equal wl2 "wl2 (text + int key) after the workload" --key region,seq
  echo "       scenario 1: $(elapsed "$T")"
}
sync_migrate() { # TABLE — pg2d1_migrate(wait => true), quietly; prints its error when it raised
  local out
  out=$(psql -X -A -t -v ON_ERROR_STOP=1 -c "SELECT pg2d1_migrate('$1', wait => true)" 2>&1) || { echo "$out"; return 1; }
}

# =============================================================================================
# 2. Follow mode under a pgbench workload
scenario2() {
  echo "# 2. Follow mode under a pgbench workload"
  T=$(date +%s)
  j1=$(q "SELECT pg2d1_sync('wl', follow => true)")
  j2=$(q "SELECT pg2d1_sync('wl2', follow => true)")
  check "follow jobs $j1 and $j2 run, with a worker each" \
    wait_sql "SELECT count(*) FROM pg2d1.jobs j WHERE job_id IN (${j1:-0}, ${j2:-0}) AND status = 'running' AND follow AND kind = 'sync'
                AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'pg2d1 job ' || j.job_id)" 2 30
  check_eq "a second pg2d1_sync(follow => true) returns the running job" "${j1:-0}" q "SELECT pg2d1_sync('wl', follow => true)"
  pgbench_start 2 30
  max_lag=0 samples=0 not_running=0
  while pgbench_running; do
    s=$(q "SELECT coalesce(max(lag_seconds), 0) || '|' || count(*) FILTER (WHERE job_status = 'running' AND follow)
             FROM pg2d1_sync_status WHERE table_name IN ('wl'::regclass, 'wl2'::regclass)")
    lag=${s%%|*}; run=${s##*|}
    samples=$((samples + 1))
    [ "$run" = 2 ] || not_running=$((not_running + 1))
    python3 -c "import sys; sys.exit(0 if float('${lag:-999}') > float('$max_lag') else 1)" && max_lag=$lag
    sleep 1
  done
  pgbench_end 2
  note "$samples samples of pg2d1_sync_status, largest lag_seconds $max_lag"
  check_eq "both follow jobs ran throughout the workload" 0 echo "$not_running"
  check "lag_seconds stayed small while the workload ran (largest: $max_lag s, limit 5 s)" \
    python3 -c "import sys; sys.exit(0 if float('$max_lag') < 5 else 1)"
  check "the followers drain the changes after the workload (changes_pending = 0)" \
    wait_sql "SELECT sum(changes_pending) FROM pg2d1_sync_status WHERE table_name IN ('wl'::regclass, 'wl2'::regclass)" 0 60
  equal wl "wl after following"
  equal wl2 "wl2 after following" --key region,seq
  # A single change reaches D1 by itself, quickly.
  q "UPDATE wl SET t = 'followed' WHERE id = (SELECT min(id) FROM wl)" >/dev/null
  check "a single update reaches D1 within 5 s (woken at commit)" \
    wait_d1 "SELECT count(*) FROM wl WHERE t = 'followed'" 1 5
  # kill -9 of a follower: the launcher starts it again, and it follows on.
  pid=$(worker_of "${j1:-0}")
  [ -n "$pid" ] && kill -9 "$pid"
  wait_sql "SELECT 1" 1 60 >/dev/null
  check "kill -9 of follow job $j1's worker (${pid:-none}): the launcher starts it again" \
    wait_sql "SELECT count(*) FROM pg2d1.jobs j WHERE job_id = ${j1:-0} AND status = 'running'
                AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'pg2d1 job ' || j.job_id AND a.pid <> 0${pid:+ AND a.pid <> $pid})" 1 60
  q "UPDATE wl SET t = 'followed after kill' WHERE id = (SELECT max(id) FROM wl)" >/dev/null
  check "…and an update after the kill reaches D1 by itself" \
    wait_d1 "SELECT count(*) FROM wl WHERE t = 'followed after kill'" 1 20
  # wait => true while a follow job runs (slow D1: the follower is still at it when the call
  # comes): it returns once every change committed before the call is in D1.
  d1_settings '{"latency_ms":500}'
  n=$(q "WITH u AS (UPDATE wl SET t = 'waited for' WHERE id % 7 = 0 RETURNING 1) SELECT count(*) FROM u")
  out=$(PGOPTIONS='-c statement_timeout=20s' psql -X -A -t -c "SELECT pg2d1_sync('wl', wait => true)" 2>&1)
  in_d1=$(d1_sqlite "SELECT count(*) FROM wl WHERE t = 'waited for'")
  d1_settings '{"latency_ms":0}'
  check "pg2d1_sync(wait => true) while a follow job runs returns (within 20 s)" \
    sh -c "! grep -q ERROR" <<<"$out"
  check_eq "…once every row updated before the call is in D1" "$n" echo "$in_d1"
  note "it returned: $(tr '\n' ' ' <<<"$out" | head -c 240)"
  check_eq "pg2d1_cancel stops the follow job" t q "SELECT pg2d1_cancel(${j1:-0})"
  check_eq "…which ends cancelled" cancelled wait_done "${j1:-0}" 20
  check "…and its worker is gone" wait_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg2d1 job ${j1:-0}'" 0 20
  q "SELECT pg2d1_cancel(${j2:-0})" >/dev/null
  check_eq "the other follow job ends cancelled too" cancelled wait_done "${j2:-0}" 20
  sleep 2
  check_eq "cancelled follow jobs are not restarted by the launcher" "cancelled|cancelled|0" \
    q "SELECT (SELECT string_agg(status, '|' ORDER BY job_id) FROM pg2d1.jobs WHERE job_id IN (${j1:-0}, ${j2:-0})) || '|'
              || (SELECT count(*) FROM pg2d1.jobs WHERE kind = 'sync' AND status IN ('queued','running','waiting'))"
  check "a sync after the cancel completes" sync_wait wl
  equal wl "wl after cancel and sync"
  echo "       scenario 2: $(elapsed "$T")"
}
# wait_d1 SQL EXPECTED SECONDS — polls D1's SQLite file
wait_d1() {
  local i got=""
  for ((i = 0; i < $3 * 10; i++)); do
    got=$(d1_sqlite "$1" 2>/dev/null) && [ "$got" = "$2" ] && return 0
    sleep 0.1
  done
  echo "waited $3 s for D1 [$1] = [$2], last: [$got]"
  return 1
}

# =============================================================================================
# 3. kill -9 of the sync worker in the middle of a 200,000-row sync
scenario3() {
  echo "# 3. kill -9 of the sync worker in the middle of a 200,000-row sync"
  T=$(date +%s)
  pgsql <<'SQL' >/dev/null
CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, t text, at timestamptz);
INSERT INTO big SELECT g, g, md5(g::text), '2024-06-01 00:00+00'::timestamptz + g * interval '1 s' FROM generate_series(1, 200000) g;
SQL
  q "SELECT pg2d1_enable_sync('big')" >/dev/null
  check "big (200,000 rows) copied" sync_migrate big
  q "UPDATE big SET v = v + 1, t = md5(t), at = at + interval '1 day'" >/dev/null
  check_eq "UPDATE of 200,000 rows: 200,000 changes pending" 200000 pending big
  up0=$(q "SELECT upserts FROM pg2d1.sync_tables WHERE relid = 'big'::regclass")
  d1_settings '{"latency_ms":40}'
  job=$(q_small "SELECT pg2d1_sync('big')")
  note "sync job $job started"
  kills=0
  for below in 180000 110000; do
    if wait_pending_below big "$below" 90 >/dev/null; then
      pid=$(worker_of "$job")
      if [ -n "$pid" ]; then
        p=$(pending big); kill -9 "$pid" && kills=$((kills + 1))
        note "kill -9 $pid (job $job, $p changes pending)"
        wait_sql "SELECT 1" 1 60 >/dev/null
      fi
    fi
  done
  check_eq "the sync worker was killed twice in the middle of the job" 2 echo "$kills"
  check_eq "the launcher restarts the job, which completes" completed wait_done "$job" 150
  d1_settings '{"latency_ms":0}'
  check_eq "no change lost: changes_pending = 0" 0 pending big
  check_eq "no other sync job was started for big" 1 q "SELECT count(*) FROM pg2d1.jobs WHERE relid = 'big'::regclass AND kind = 'sync'"
  check "upserts counted ≥ 200,000 (some applied twice around the kills)" \
    test "$(q "SELECT upserts FROM pg2d1.sync_tables WHERE relid = 'big'::regclass")" -ge $((${up0:-0} + 200000))
  equal big "big after 2 × kill -9"

  # wait => true while another sync job of the table runs must also apply what was committed before the call.
  q "UPDATE big SET v = v + 1 WHERE id <= 60000" >/dev/null
  d1_settings '{"latency_ms":40}'
  job=$(q_small "SELECT pg2d1_sync('big')")
  wait_sql "SELECT phase = 'applying changes' FROM pg2d1.jobs WHERE job_id = ${job:-0}" t 30 >/dev/null
  q "UPDATE big SET t = 'committed before the wait' WHERE id = 200000" >/dev/null
  out=$(psql -X -A -t -c "SELECT pg2d1_sync('big', wait => true)" 2>&1)
  note "pg2d1_sync('big', wait => true) during job $job returned: $(tr '\n' ' ' <<<"$out" | head -c 200)"
  check_eq "pg2d1_sync(wait => true) during another sync job: the row updated before the call is in D1 when it returns" \
    "committed before the wait" d1_sqlite "SELECT t FROM big WHERE id = 200000"
  d1_settings '{"latency_ms":0}'
  wait_done "$job" 60 >/dev/null
  check "another sync afterwards completes" sync_wait big
  equal big "big after the wait"
  echo "       scenario 3: $(elapsed "$T")"
}

# =============================================================================================
# 4. A D1 outage in the middle of a sync
scenario4() {
  echo "# 4. A D1 outage in the middle of a sync"
  T=$(date +%s)
  # No client retries: the job goes to 'waiting' as soon as D1 does not answer.
  psql -X -q -c "ALTER SYSTEM SET pg2d1.max_retries = 0" -c "SELECT pg_reload_conf()" >/dev/null
  wait_sql "SHOW pg2d1.max_retries" 0 10 >/dev/null
  q "UPDATE big SET v = v - 1, t = 'outage ' || id WHERE id % 2 = 0" >/dev/null
  check_eq "100,000 changes pending" 100000 pending big
  d1_settings '{"latency_ms":40}'
  job=$(q_small "SELECT pg2d1_sync('big')")
  check "the sync applies a first round" wait_pending_below big 100000 60
  d1_stop
  t_down=$(date +%s)
  note "D1 stopped ($(pending big) changes pending)"
  check "the job shows 'waiting' with last_error in pg2d1_sync_status" \
    wait_sql "SELECT job_status = 'waiting' AND last_error IS NOT NULL FROM pg2d1_sync_status WHERE table_name = 'big'::regclass" t 30
  note "last_error: $(q "SELECT last_error FROM pg2d1_sync_status WHERE table_name = 'big'::regclass" | head -c 200)"
  p1=$(pending big); sleep 3; p2=$(pending big)
  check "changes stay pending while D1 is down ($p1 → $p2)" test "${p1:-0}" -gt 0 -a "${p1:-0}" = "${p2:-x}"
  check_eq "pg2d1_sync during the outage returns the waiting job" "${job:-0}" q "SELECT pg2d1_sync('big')"
  check_eq "the worker of the waiting job is still there" 1 q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg2d1 job ${job:-0}'"
  sleep $((t_down + 6 - $(date +%s))) 2>/dev/null
  d1_start_again "$WORK/d1" || echo "the local D1 server did not start again"
  note "D1 back after $(($(date +%s) - t_down)) s"
  check_eq "the job completes once D1 is back" completed wait_done "${job:-0}" 90
  note "job $job: $(q "SELECT 'attempts ' || attempts || ', requests ' || requests || ', retries ' || retries FROM pg2d1.jobs WHERE job_id = ${job:-0}")"
  check_eq "no change lost: changes_pending = 0" 0 pending big
  psql -X -q -c "ALTER SYSTEM RESET pg2d1.max_retries" -c "SELECT pg_reload_conf()" >/dev/null
  wait_sql "SHOW pg2d1.max_retries" 5 10 >/dev/null
  equal big "big after the outage"

  # A statement D1 rejects for good in the middle of a sync: the job fails with D1's words and
  # the changes D1 did not take stay pending; once the cause is gone the next sync applies them.
  d1_admin faults '{"fail_sql_regex":"poisoned row","fail_sql_message":"CHECK constraint failed: injected: SQLITE_CONSTRAINT"}'
  q "UPDATE big SET t = 'before the poison ' || id WHERE id <= 40000; UPDATE big SET t = 'poisoned row' WHERE id = 39000" >/dev/null
  out=$(PGOPTIONS='-c pg2d1.max_request_bytes=100000' psql -X -A -t -c "SELECT pg2d1_sync('big', wait => true)" 2>&1)
  check "a sync with a statement D1 rejects fails with D1's message" grep -q "CHECK constraint failed: injected" <<<"$out"
  check_eq "…shown in pg2d1_sync_status" "failed|true" \
    q "SELECT job_status || '|' || (last_error LIKE '%CHECK constraint failed: injected%') FROM pg2d1_sync_status WHERE table_name = 'big'::regclass"
  check_eq "…the rejected key's change is still pending" "t" \
    q "SELECT count(*) > 0 FROM pg2d1.changes WHERE relid = 'big'::regclass AND key = '{39000}'"
  check_eq "…and D1 does not have the rejected row" "0" d1_sqlite "SELECT count(*) FROM big WHERE t = 'poisoned row'"
  note "after the failure: $(pending big) changes pending, $(d1_sqlite "SELECT count(*) FROM big WHERE t LIKE 'before the poison%'") of 39,999 other updates in D1"
  d1_admin faults '{"fail_sql_regex":null}'
  check "once D1 takes it, the next sync completes" sync_wait big
  check_eq "…nothing pending" 0 pending big
  equal big "big after the rejected statement"

  # 20 % transient faults (also a request D1 applied whose answer is lost): retried, nothing lost.
  d1_admin faults '{"rate":0.2,"seed":7,"kinds":["http500","d1_transient","overloaded","reset","reset_after_commit","rate429"]}'
  q "UPDATE big SET v = v * 2, t = 'faults ' || id WHERE id % 4 = 1" >/dev/null
  job=$(q_small "SELECT pg2d1_sync('big')")
  check_eq "a sync through 20 % transient faults completes" completed wait_done "${job:-0}" 90
  d1_admin faults '{"rate":0}'
  note "job $job: $(q "SELECT requests || ' requests, ' || retries || ' retries' FROM pg2d1.jobs WHERE job_id = ${job:-0}")"
  check "…retrying (retries > 0)" test "$(q "SELECT retries FROM pg2d1.jobs WHERE job_id = ${job:-0}")" -gt 0
  check_eq "…nothing pending" 0 pending big
  equal big "big after transient faults"
  echo "       scenario 4: $(elapsed "$T")"
}

# =============================================================================================
# 5. Sync enabled after a completed copy (reconcile, uuid key), and during a running copy
scenario5() {
  echo "# 5. Sync enabled after a completed copy (reconcile, uuid key), and during a running copy"
  T=$(date +%s)
  pgsql <<'SQL' >/dev/null
CREATE TABLE u5 (id uuid PRIMARY KEY, v int NOT NULL, note text, at timestamptz);
INSERT INTO u5 SELECT md5(g::text)::uuid, g, 'n' || g, now() FROM generate_series(1, 5000) g;
SQL
  check "u5 copied before sync is enabled" sync_migrate u5
  # Not captured: no sync yet.
  q "DELETE FROM u5 WHERE v % 10 = 0; UPDATE u5 SET note = 'changed before enable' WHERE v % 10 = 1" >/dev/null
  check_eq "pg2d1_enable_sync after a copy says the first sync compares both sides" t \
    q "SELECT pg2d1_enable_sync('u5') LIKE '%first pg2d1_sync compares%'"
  check_eq "reconcile_pending is true, nothing pending yet" "true|0" \
    q "SELECT reconcile_pending || '|' || changes_pending FROM pg2d1_sync_status WHERE table_name = 'u5'::regclass"
  q "UPDATE u5 SET note = 'after enable' WHERE v % 10 = 2; DELETE FROM u5 WHERE v % 10 = 3;
     INSERT INTO u5 SELECT md5((g + 100000)::text)::uuid, g + 100000, 'new', now() FROM generate_series(1, 200) g" >/dev/null
  check_eq "the changes after enable are captured (500 + 500 + 200)" 1200 pending u5
  check "the first sync completes" sync_wait u5
  check_eq "…and reconciled: reconcile_pending false, nothing pending" "false|0" \
    q "SELECT reconcile_pending || '|' || changes_pending FROM pg2d1_sync_status WHERE table_name = 'u5'::regclass"
  check_eq "rows deleted before enable are gone from D1 too" 0 d1_sqlite "SELECT count(*) FROM u5 WHERE v % 10 IN (0, 3) AND v < 100000"
  check_eq "rows updated before enable are updated in D1" 500 d1_sqlite "SELECT count(*) FROM u5 WHERE note = 'changed before enable'"
  equal u5 "u5 (uuid key) after reconcile"

  # Differences D1 must not miss when reconciling: whitespace, case, numeric scale, float and
  # real precision, a microsecond, jsonb 1 vs 1.0 vs "1", NULL vs '' vs 'NULL', bytea, arrays;
  # a row only PostgreSQL has, a row only D1 has, and a change to the same instant (no difference).
  pgsql <<'SQL' >/dev/null
CREATE TABLE r5 (id int PRIMARY KEY, t text, n numeric, f float8, r real, at timestamptz, d date, j jsonb, b bool,
                 maybe text, by bytea, arr int[]);
INSERT INTO r5 SELECT g, 'abc' || g, 1.5, 0.1, 0.5, '2024-01-01 00:00:00+00', '2024-01-01', '{"a": 1}', true,
                      CASE WHEN g % 2 = 0 THEN NULL ELSE '' END, '\x00', ARRAY[1,2] FROM generate_series(1, 40) g;
SQL
  check "r5 copied before sync is enabled" sync_migrate r5
  pgsql <<'SQL' >/dev/null
UPDATE r5 SET t = t || ' ' WHERE id = 1;
UPDATE r5 SET t = upper(t) WHERE id = 2;
UPDATE r5 SET n = 1.50 WHERE id = 3;
UPDATE r5 SET f = 0.1 + 1e-16 WHERE id = 4;
UPDATE r5 SET f = 0.30000000000000004 WHERE id = 5;
UPDATE r5 SET r = 0.50000006 WHERE id = 6;
UPDATE r5 SET at = at + interval '1 microsecond' WHERE id = 7;
UPDATE r5 SET d = '2024-01-02' WHERE id = 8;
UPDATE r5 SET j = '{"a": 1.0}' WHERE id = 9;
UPDATE r5 SET j = '{"a": "1"}' WHERE id = 10;
UPDATE r5 SET b = false WHERE id = 11;
UPDATE r5 SET maybe = '' WHERE id = 12;
UPDATE r5 SET maybe = NULL WHERE id = 13;
UPDATE r5 SET by = '\x0000' WHERE id = 14;
UPDATE r5 SET arr = ARRAY[1,2,NULL] WHERE id = 15;
UPDATE r5 SET f = 0 WHERE id = 16;
UPDATE r5 SET t = t || E'\n' WHERE id = 17;
UPDATE r5 SET t = NULL WHERE id = 18;
UPDATE r5 SET maybe = 'NULL' WHERE id = 20;
UPDATE r5 SET maybe = '\N' WHERE id = 22;
UPDATE r5 SET n = 1.5000000000000000001 WHERE id = 24;
UPDATE r5 SET at = '2024-01-01 01:00:00+01' WHERE id = 25;
UPDATE r5 SET f = 'Infinity' WHERE id = 26;
INSERT INTO r5 (id, t) VALUES (41, 'only in PostgreSQL');
DELETE FROM r5 WHERE id = 40;
SQL
  q "SELECT pg2d1_enable_sync('r5')" >/dev/null
  check "the first pg2d1_sync(wait => true) of r5 completes" sync_wait r5
  check_eq "reconcile, with nothing captured yet, wrote exactly the 23 rows that differ and deleted the 1 only D1 had" "23|1|false|0" \
    q "SELECT upserts || '|' || deletes || '|' || reconcile_pending || '|' || changes_pending FROM pg2d1_sync_status WHERE table_name = 'r5'::regclass"
  equal r5 "r5 (subtle differences) after reconcile"

  # Enable during a running copy (slow D1); sync at once: it waits for the copy, then reconciles.
  pgsql -c "CREATE TABLE m5 (id int PRIMARY KEY, v int, t text); INSERT INTO m5 SELECT g, g, md5(g::text) FROM generate_series(1, 60000) g" >/dev/null
  d1_settings '{"latency_ms":60}'
  mj=$(q "SELECT pg2d1_migrate('m5', checkpoint_size => 5000, batch_size => 1000)")
  wait_sql "SELECT rows_done >= 10000 AND status = 'running' FROM pg2d1.jobs WHERE job_id = ${mj:-0}" t 60 >/dev/null
  q "UPDATE m5 SET t = 'before enable' WHERE id <= 3000; DELETE FROM m5 WHERE id BETWEEN 3001 AND 3100" >/dev/null
  q "SELECT pg2d1_enable_sync('m5')" >/dev/null
  check_eq "sync enabled while the copy runs (reconcile pending)" "running|true" \
    q "SELECT (SELECT status FROM pg2d1.jobs WHERE job_id = ${mj:-0}) || '|' || reconcile_pending FROM pg2d1_sync_status WHERE table_name = 'm5'::regclass"
  q "UPDATE m5 SET t = 'after enable' WHERE id % 100 = 0; DELETE FROM m5 WHERE id > 59000;
     INSERT INTO m5 SELECT g, g, 'new' FROM generate_series(70001, 70500) g" >/dev/null
  check "pg2d1_sync(wait => true) during the copy completes" sync_wait m5
  check_eq "the copy completed" completed wait_done "${mj:-0}" 60
  d1_settings '{"latency_ms":0}'
  check_eq "reconciled, nothing pending" "false|0" \
    q "SELECT reconcile_pending || '|' || changes_pending FROM pg2d1_sync_status WHERE table_name = 'm5'::regclass"
  equal m5 "m5 (enabled during the copy) after copy + sync"
  echo "       scenario 5: $(elapsed "$T")"
}

# =============================================================================================
# 6. TRUNCATE; ALTER TABLE stops the sync until D1 matches and it is enabled again; FK cascades
scenario6() {
  echo "# 6. TRUNCATE; ALTER TABLE stops the sync until D1 matches and it is enabled again; FK cascades"
  T=$(date +%s)
  pgsql -c "CREATE TABLE t6 (id int PRIMARY KEY, v text, n int); INSERT INTO t6 SELECT g, 'old ' || g, g FROM generate_series(1, 3000) g" >/dev/null
  q "SELECT pg2d1_enable_sync('t6')" >/dev/null
  check "t6 copied" sync_migrate t6
  q "UPDATE t6 SET v = 'updated before truncate' WHERE id <= 100" >/dev/null
  q "TRUNCATE t6" >/dev/null
  q "INSERT INTO t6 SELECT g, 'new ' || g, -g FROM generate_series(2001, 2300) g" >/dev/null
  q "BEGIN; TRUNCATE t6; INSERT INTO t6 SELECT g, 'newer ' || g, g FROM generate_series(2201, 2600) g; COMMIT" >/dev/null
  check "sync after TRUNCATE + inserts completes" sync_wait t6
  check_eq "D1 has exactly the 400 new rows" "400|2201|2600|400" d1_sqlite "SELECT count(*), min(id), max(id), count(*) FILTER (WHERE v LIKE 'newer %') FROM t6"
  check_eq "truncates counted" t q "SELECT truncates > 0 FROM pg2d1_sync_status WHERE table_name = 't6'::regclass"
  equal t6 "t6 after TRUNCATE"

  out=$(psql -X -c "ALTER TABLE t6 ADD COLUMN extra text DEFAULT 'x'" 2>&1)
  check "ALTER TABLE ADD COLUMN warns that the sync stopped" grep -q 'WARNING:  pg2d1: sync of .*t6 stopped' <<<"$out"
  check_eq "pg2d1_sync_status: stopped, the reason names the new column" "stopped|true" \
    q "SELECT status || '|' || (stop_reason LIKE '%extra text%') FROM pg2d1_sync_status WHERE table_name = 't6'::regclass"
  q "UPDATE t6 SET v = 'while stopped' WHERE id <= 2300" >/dev/null
  out=$(psql -X -c "SELECT pg2d1_sync('t6')" 2>&1)
  stopped_error() { grep -q "^ERROR:  sync of t6 is stopped: the columns of .*extra text" <<<"$1" && grep -q "^HINT:  .*pg2d1_enable_sync('t6')" <<<"$1"; }
  check "pg2d1_sync of a stopped sync errors naming the column, with a HINT to enable it again" stopped_error "$out"
  q "SELECT pg2d1_query('ALTER TABLE t6 ADD COLUMN extra TEXT')" >/dev/null
  enable_again() { q "SELECT pg2d1_enable_sync('t6')" >/dev/null && q "SELECT status || '|' || reconcile_pending FROM pg2d1_sync_status WHERE table_name = 't6'::regclass"; }
  check_eq "enabled again after D1's table was altered (reconcile pending)" "enabled|true" enable_again
  q "UPDATE t6 SET extra = 'y' WHERE id % 2 = 0" >/dev/null
  check "sync after the ALTER completes" sync_wait t6
  check_eq "…with the new column's value on every row in D1" "400|200|200" d1_sqlite "SELECT count(*), count(*) FILTER (WHERE extra = 'x'), count(*) FILTER (WHERE extra = 'y') FROM t6"
  equal t6 "t6 after ALTER TABLE and enable again"

  # Rows deleted by ON DELETE CASCADE (and updated by ON UPDATE CASCADE) are captured too.
  pgsql <<'SQL' >/dev/null
CREATE TABLE p6 (id int PRIMARY KEY);
CREATE TABLE c6 (id int PRIMARY KEY, pid int REFERENCES p6 ON DELETE CASCADE ON UPDATE CASCADE, v text);
INSERT INTO p6 SELECT generate_series(1, 50);
INSERT INTO c6 SELECT g, 1 + g % 50, 'c' || g FROM generate_series(1, 1000) g;
SQL
  q "SELECT pg2d1_enable_sync('c6')" >/dev/null
  check "c6 copied" sync_migrate c6
  q "DELETE FROM p6 WHERE id <= 10; UPDATE p6 SET id = id + 1000 WHERE id > 40" >/dev/null
  check "sync after cascaded deletes and updates completes" sync_wait c6
  equal c6 "c6 after FK cascades"
  echo "       scenario 6: $(elapsed "$T")"
}

# =============================================================================================
# 7. Privileges
scenario7() {
  echo "# 7. Privileges"
  T=$(date +%s)
  pgsql -c "CREATE ROLE sync_nobody LOGIN; CREATE ROLE sync_ins LOGIN" >/dev/null
  _CLEANUPS+=("psql -X -q -d pg2d1_wt -c 'DROP OWNED BY sync_nobody, sync_ins' -c 'DROP ROLE sync_nobody, sync_ins' >/dev/null 2>&1")
  pgsql -c "CREATE TABLE s7 (id int PRIMARY KEY, v text); INSERT INTO s7 SELECT g, 'v' || g FROM generate_series(1, 100) g" >/dev/null
  q "SELECT pg2d1_enable_sync('s7')" >/dev/null
  check "s7 copied" sync_migrate s7
  as_role() { local r=$1; shift; PGUSER=$r psql -X -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=verbose "$@" 2>&1; }
  check "a role without grants cannot read pg2d1.changes (42501)" \
    grep -q "ERROR:  42501" <<<"$(as_role sync_nobody -c "SELECT count(*) FROM pg2d1.changes")"
  check "…nor delete from it (42501)" \
    grep -q "ERROR:  42501" <<<"$(as_role sync_nobody -c "DELETE FROM pg2d1.changes")"
  check "…nor change pg2d1.sync_tables (42501)" \
    grep -q "ERROR:  42501" <<<"$(as_role sync_nobody -c "UPDATE pg2d1.sync_tables SET status = 'stopped'")"
  check "…nor pg2d1.changes_change_id_seq (42501)" \
    grep -q "ERROR:  42501" <<<"$(as_role sync_nobody -c "SELECT nextval('pg2d1.changes_change_id_seq')")"
  status_rows() { echo "$(as_role sync_nobody -c "SELECT count(*) FROM pg2d1_sync_status")|$(q "SELECT count(*) FROM pg2d1_sync_status")"; }
  check_eq "…sees no row of pg2d1_sync_status for tables it cannot read (the superuser sees them all)" \
    "0|$(q "SELECT count(*) FROM pg2d1.sync_tables")" status_rows
  check "…cannot pg2d1_enable_sync a table it does not own (42501)" \
    grep -q "ERROR:  42501" <<<"$(as_role sync_nobody -c "SELECT pg2d1_enable_sync('s7')")"
  check "…cannot pg2d1_disable_sync it (42501)" \
    grep -q "ERROR:  42501" <<<"$(as_role sync_nobody -c "SELECT pg2d1_disable_sync('s7')")"
  check "…cannot pg2d1_sync a table it may not read (42501)" \
    grep -q "ERROR:  42501" <<<"$(as_role sync_nobody -c "SELECT pg2d1_sync('s7')")"
  check_eq "…and the sync of s7 is untouched" "enabled|4" \
    q "SELECT (SELECT status FROM pg2d1.sync_tables WHERE relid = 's7'::regclass) || '|' || (SELECT count(*) FROM pg_trigger WHERE tgrelid = 's7'::regclass AND tgname LIKE 'pg2d1_capture%')"
  before=$(q "SELECT count(*) FROM pg2d1.changes")
  out=$(as_role sync_nobody <<'SQL'
CREATE TEMP TABLE mine (id int PRIMARY KEY, v text);
CREATE TRIGGER by_hand_i AFTER INSERT ON mine REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION pg2d1._capture();
CREATE TRIGGER by_hand_u AFTER UPDATE ON mine REFERENCING OLD TABLE AS o NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION pg2d1._capture();
CREATE TRIGGER by_hand_t AFTER TRUNCATE ON mine FOR EACH STATEMENT EXECUTE FUNCTION pg2d1._capture();
INSERT INTO mine SELECT generate_series(1, 10), 'x';
UPDATE mine SET id = id + 100;
TRUNCATE mine;
SELECT 'done';
SQL
)
  check "a role without grants can put pg2d1._capture() on its own table and write it" grep -qx done <<<"$out"
  check_eq "…which logs nothing (the table is not synced)" "$before" q "SELECT count(*) FROM pg2d1.changes"
  q "GRANT INSERT ON s7 TO sync_ins" >/dev/null
  check "a role with only INSERT on a synced table inserts" \
    grep -qx "INSERT 0 2" <<<"$(PGUSER=sync_ins psql -X -v ON_ERROR_STOP=1 -c "INSERT INTO s7 VALUES (1001, 'by sync_ins'), (1002, NULL)" 2>&1)"
  check_eq "…and its change is captured" "I|{1001}I|{1002}" \
    q "SELECT string_agg(op::text || '|' || key::text, '' ORDER BY change_id) FROM pg2d1.changes WHERE relid = 's7'::regclass"
  check "…and synced" sync_wait s7
  check_eq "…into D1" "by sync_ins|1" d1_sqlite "SELECT max(v), count(*) FILTER (WHERE id = 1002 AND v IS NULL) FROM s7 WHERE id > 1000"
  equal s7 "s7 after the INSERT-only role"
  echo "       scenario 7: $(elapsed "$T")"
}

# =============================================================================================
# 8. pg2d1_disable_sync leaves nothing; DROP TABLE forgets the sync
scenario8() {
  echo "# 8. pg2d1_disable_sync leaves nothing; DROP TABLE forgets the sync"
  T=$(date +%s)
  pgsql -c "CREATE TABLE t8 (id int PRIMARY KEY, v text); INSERT INTO t8 SELECT g, 'v' || g FROM generate_series(1, 500) g" >/dev/null
  q "SELECT pg2d1_enable_sync('t8')" >/dev/null
  check "t8 copied" sync_migrate t8
  job=$(q "SELECT pg2d1_sync('t8', follow => true)")
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg2d1 job ${job:-0}'" 1 20 >/dev/null
  q "UPDATE t8 SET v = 'followed' WHERE id <= 50" >/dev/null
  check "the follow job applies the update" wait_d1 "SELECT count(*) FROM t8 WHERE v = 'followed'" 50 10
  q "BEGIN; TRUNCATE t8; INSERT INTO t8 SELECT g, 'after truncate' FROM generate_series(1, 20) g; COMMIT" >/dev/null
  check "the follow job applies a TRUNCATE and the inserts after it" wait_d1 "SELECT count(*) || '|' || count(*) FILTER (WHERE v = 'after truncate') FROM t8" "20|20" 10
  q "UPDATE t8 SET v = 'pending at disable' WHERE id > 10" >/dev/null
  check_eq "pg2d1_disable_sync returns true" t q "SELECT pg2d1_disable_sync('t8')"
  check_eq "…its follow job ends cancelled" cancelled wait_done "${job:-0}" 20
  check "…its worker is gone" wait_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg2d1 job ${job:-0}'" 0 20
  check_eq "…no pg2d1 trigger, change or sync row is left" "0|0|0|0" \
    q "SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = 't8'::regclass AND tgname LIKE 'pg2d1%') || '|' ||
              (SELECT count(*) FROM pg2d1.changes WHERE relid = 't8'::regclass) || '|' ||
              (SELECT count(*) FROM pg2d1.sync_tables WHERE relid = 't8'::regclass) || '|' ||
              (SELECT count(*) FROM pg2d1_sync_status WHERE table_name = 't8'::regclass)"
  q "INSERT INTO t8 VALUES (501, 'not captured'); UPDATE t8 SET v = 'not captured' WHERE id = 1; DELETE FROM t8 WHERE id = 2; TRUNCATE t8" >/dev/null
  check_eq "…and later writes are not captured" 0 q "SELECT count(*) FROM pg2d1.changes WHERE relid = 't8'::regclass"
  check "…pg2d1_sync says the sync is not enabled" \
    grep -q "sync of t8 is not enabled" <<<"$(psql -X -c "SELECT pg2d1_sync('t8')" 2>&1)"
  check_eq "…a second pg2d1_disable_sync returns false" f q "SELECT pg2d1_disable_sync('t8')"
  check_eq "…and no job of t8 is restarted" 0 q "SELECT count(*) FROM pg2d1.jobs WHERE relid = 't8'::regclass AND status IN ('queued','running','waiting')"

  pgsql -c "CREATE TABLE d8 (id int PRIMARY KEY, v text); INSERT INTO d8 SELECT g, 'v' || g FROM generate_series(1, 100) g" >/dev/null
  q "SELECT pg2d1_enable_sync('d8')" >/dev/null
  check "d8 copied" sync_migrate d8
  djob=$(q "SELECT pg2d1_sync('d8', follow => true)")
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg2d1 job ${djob:-0}'" 1 20 >/dev/null
  q "SELECT pg2d1_cancel(${djob:-0})" >/dev/null
  wait_done "${djob:-0}" 20 >/dev/null
  q "UPDATE d8 SET v = 'pending'" >/dev/null
  oid=$(q "SELECT 'd8'::regclass::oid")
  check_eq "d8 has 100 pending changes" 100 pending d8
  q "DROP TABLE d8" >/dev/null
  check_eq "DROP TABLE removes its sync row and its changes" "0|0" \
    q "SELECT (SELECT count(*) FROM pg2d1.sync_tables WHERE relid::oid = $oid) || '|' || (SELECT count(*) FROM pg2d1.changes WHERE relid = $oid)"
  # DROP TABLE while a follow job runs: the job ends, its worker goes.
  pgsql -c "CREATE TABLE e8 (id int PRIMARY KEY, v text); INSERT INTO e8 VALUES (1, 'a')" >/dev/null
  q "SELECT pg2d1_enable_sync('e8')" >/dev/null
  check "e8 copied" sync_migrate e8
  ejob=$(q "SELECT pg2d1_sync('e8', follow => true)")
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg2d1 job ${ejob:-0}'" 1 20 >/dev/null
  q "DROP TABLE e8" >/dev/null
  check "DROP TABLE during a follow job: the job ends and its worker goes (within 30 s)" \
    wait_sql "SELECT (SELECT status NOT IN ('queued','running','waiting') FROM pg2d1.jobs WHERE job_id = ${ejob:-0})
                     AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'pg2d1 job ${ejob:-0}')" t 30
  note "job $ejob: $(q "SELECT status || ': ' || coalesce(last_error, '') FROM pg2d1.jobs WHERE job_id = ${ejob:-0}" | head -c 200)"
  echo "       scenario 8: $(elapsed "$T")"
}

for n in ${SYNC_SCENARIOS:-1 2 3 4 5 6 7 8}; do "scenario$n"; done

check_eq "no sync job is left queued, running or waiting" 0 q "SELECT count(*) FROM pg2d1.jobs WHERE kind = 'sync' AND status IN ('queued','running','waiting')"
echo "       suite: $(elapsed "$T_SUITE")"
if [ "$CHECKS_FAILED" -gt 0 ]; then
  echo "       logs: $WORK (cluster log: $PGHOST/server.log)"
elif [ -n "$OWN_WORK" ]; then
  cleanup_all; rm -rf "$WORK"
fi
report_checks sync
[ "$CHECKS_FAILED" -eq 0 ]

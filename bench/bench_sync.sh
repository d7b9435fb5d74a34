#!/usr/bin/env bash
# bench_sync.sh — measures incremental sync (0.3.0) against the local D1 server, in one
# throwaway cluster, and prints one line per figure:
#   1. capture overhead: pgbench TPS with and without pg2d1_enable_sync on the tables,
#      alternating runs (off on on off off on …, so that drift cancels), median of each:
#      (a) tpcb-like with pgbench_accounts synced, (a') tpcb-like with the three keyed
#      tables synced (pgbench_history has no key, so it cannot be), (b) a one-row UPDATE;
#      and the size of pg2d1.changes per captured change.
#   2. sync throughput: a table copied by pg2d1_migrate, then UPDATE/DELETE/INSERT of
#      UPDATES+DELETES+INSERTS rows, then pg2d1_sync(wait => true): D1 writes/s from
#      pg2d1.jobs, against pg2d1_migrate of as many rows in the same run; D1 = PostgreSQL.
#   3. follow-mode lag: pg2d1_sync(follow => true) while pgbench updates one random row per
#      transaction at a steady LAG_RATE/s; a poller (bench/sync_lag.py) reads D1's SQLite
#      file every 50 ms and records when each update's stamp appears there; lag = that
#      minus the update's clock_timestamp(). p50/p95/p99/max.
#   4. reconcile: rows changed while capture was off, sync enabled again after the copy: the
#      first sync compares every key of both sides; rows compared/s, D1 writes = keys differing.
#   The bulk UPDATE/DELETE/INSERT of part 2 is also timed without capture (rolled back) and with.
# The cluster runs with fsync = off and synchronous_commit = off (test/lib/common.sh): the
# TPS figures are of the CPU path, not of a durable commit (which would hide the overhead).
# Usage: bench/bench_sync.sh   (settings by environment: RUN_SECS PAIRS SCALE ROWS UPDATES
#        DELETES INSERTS LAG_RATE LAG_SECS CLIENTS RC_UPD RC_DEL RC_INS; SKIP_OVERHEAD=1
#        skips part 1). About 7 minutes on 2 cores.
# Exits 1 when pg2d1 misbehaved (listed under PROBLEMS), not when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_SECS=${RUN_SECS:-12}   # each pgbench run of part 1
PAIRS=${PAIRS:-3}          # off/on pairs per workload
SCALE=${SCALE:-10}         # pgbench scale (100,000 accounts each)
CLIENTS=${CLIENTS:-4}
ROWS=${ROWS:-300000}
UPDATES=${UPDATES:-200000}
DELETES=${DELETES:-20000}
INSERTS=${INSERTS:-20000}
LAG_RATE=${LAG_RATE:-500}
LAG_SECS=${LAG_SECS:-30}
# Updated: ids not divisible by 3; deleted: ids divisible by 3 (disjoint); inserted: new ids.
[ $((UPDATES % 2)) = 0 ] && [ $((UPDATES / 2 * 3)) -le "$ROWS" ] && [ $((DELETES * 3)) -le "$ROWS" ] \
  && [ $((UPDATES + DELETES + INSERTS)) -le "$ROWS" ] \
  || { echo "need UPDATES even, UPDATES * 3/2 <= ROWS, DELETES * 3 <= ROWS, UPDATES + DELETES + INSERTS <= ROWS"; exit 1; }
source test/lib/common.sh
trap cleanup_all EXIT
START=$(date +%s)
WORK=$(mktemp -d /tmp/pg2d1-bench-sync.XXXXXX); chmod 755 "$WORK"
_CLEANUPS+=("[ \"\${KEEP_WORK:-0}\" = 1 ] || rm -rf '$WORK'") # runs last: after the servers stop
start_pg_with_workers "$WORK/pg" bench >/dev/null
start_d1 "$WORK/d1"
createdb bench; export PGDATABASE=bench
setup_pg2d1_server >/dev/null
q() { PGOPTIONS='-c client_min_messages=warning' psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }
fail() { echo "BUG/FAIL: $*" >&2; FAILURES+=("$*"); }
FAILURES=()
SUMMARY=()
say() { echo "$*"; SUMMARY+=("$*"); }
print_summary() {
  echo
  echo "== pg2d1 sync benchmark summary =="
  echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB memory, $(date -u '+%Y-%m-%d %H:%M UTC'), $(q "SELECT version()" | cut -d, -f1), pg2d1 $(q "SELECT extversion FROM pg_extension WHERE extname = 'pg2d1'") (git $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
  echo "load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine shows here)"
  echo "cluster: fsync = off, synchronous_commit = off, full_page_writes = off (test/lib/common.sh): TPS of the CPU path, not of durable commits"
  [ "${SKIP_OVERHEAD:-0}" = 1 ] || echo "pgbench: -n -c $CLIENTS -j 2, $PAIRS pairs × $RUN_SECS s per workload, scale $SCALE (runs in the order off on on off off on …)"
  echo "D1: the local server (Miniflare: workerd + SQLite) on the same machine"
  for line in "${SUMMARY[@]}"; do echo "$line"; done
  echo "runtime: $(( $(date +%s) - START )) s"
  if [ "${#FAILURES[@]}" -gt 0 ]; then
    echo "PROBLEMS (${#FAILURES[@]}):"
    for line in "${FAILURES[@]}"; do echo "  $line"; done
  fi
}
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "pg2d1 sync benchmark — $(nproc) cores, work dir $WORK (removed at exit unless KEEP_WORK=1; load average at start: $LOAD_START)"

# ---- 1. capture overhead ---------------------------------------------------------------------
pgbench -i -q -s "$SCALE" >"$WORK/pgbench-init.log" 2>&1 || { cat "$WORK/pgbench-init.log"; exit 1; }
cat >"$WORK/update_only.sql" <<'SQL'
\set aid random(1, 100000 * :scale)
\set delta random(-5000, 5000)
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SQL
capture() { # on|off TABLE…
  local mode=$1 t; shift
  for t in "$@"; do
    if [ "$mode" = on ]; then q "SELECT pg2d1_enable_sync('$t')" >/dev/null
    else q "SELECT pg2d1_disable_sync('$t')" >/dev/null; fi
  done
}
# One pgbench run from the same starting point: vacuumed tables, a fresh checkpoint.
pgb() { # LOG pgbench-args… → "tps transactions"
  local log=$1; shift
  q "VACUUM pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history, pg2d1.changes" >/dev/null
  q "CHECKPOINT" >/dev/null
  pgbench -n -c "$CLIENTS" -j 2 -T "$RUN_SECS" "$@" >"$log" 2>&1 || { cat "$log"; return 1; }
  echo "$(grep -oP 'tps = \K[0-9.]+(?= \(without)' "$log") $(grep -oP 'number of transactions actually processed: \K[0-9]+' "$log")"
}
# workload LABEL CHANGES_PER_TXN "TABLE…" pgbench-args… — alternating off/on runs; prints
# the medians and checks that each "on" run logged CHANGES_PER_TXN change rows per transaction.
workload() {
  local label=$1 per_txn=$2 tables=$3; shift 3
  local off=() on=() i mode res tps n changes size first=1 order=()
  for ((i = 0; i < PAIRS; i++)); do
    if ((i % 2 == 0)); then order+=(off on); else order+=(on off); fi
  done
  i=0
  for mode in "${order[@]}"; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    capture "$mode" $tables
    res=$(pgb "$WORK/pgbench-$label-$i-$mode.log" "$@")
    tps=${res% *}; n=${res#* }
    if [ "$mode" = on ]; then
      on+=("$tps")
      changes=$(q "SELECT count(*) FROM pg2d1.changes")
      [ "$changes" = $((n * per_txn)) ] || fail "$label run $i: $n transactions logged $changes changes, expected $((n * per_txn))"
      if ((first)); then # pg2d1.changes was empty and vacuumed before this run
        size=$(q "SELECT pg_total_relation_size('pg2d1.changes')")
        CHANGE_BYTES+=("$label: $(python3 -c "print(f'{$size / max($changes, 1):.0f} bytes per change ($changes changes, {$size/1048576:.1f} MiB with its index)')")")
        first=0
      fi
      # shellcheck disable=SC2086
      capture off $tables
    else
      off+=("$tps")
    fi
    printf '  %-22s run %d capture %-3s %8.1f TPS (%s transactions)\n' "$label" "$i" "$mode" "$tps" "$n"
  done
  RESULT=$(python3 - "$label" "${off[*]}" "${on[*]}" <<'PY'
import statistics, sys
label, off, on = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
a, b = statistics.median(off), statistics.median(on)
verdict = "within" if b / a >= 0.8 else "MISSES"
print(f"capture overhead {label}: {a:,.0f} → {b:,.0f} TPS ({b / a:.2f}×, {100 * (1 - b / a):.0f} % cost; target ≤ 20 %: {verdict})")
PY
)
  echo "$RESULT"
}
CHANGE_BYTES=()
echo "1. capture overhead: pgbench -n -c $CLIENTS -j 2, $PAIRS × $RUN_SECS s with and without capture, alternating (scale $SCALE)"
if [ "${SKIP_OVERHEAD:-0}" = 1 ]; then
  echo "   skipped (SKIP_OVERHEAD=1)"
else
  workload tpcb-like 1 pgbench_accounts; SUMMARY+=("$RESULT")
  workload "tpcb-like 3 tables" 3 "pgbench_accounts pgbench_tellers pgbench_branches"; SUMMARY+=("$RESULT")
  workload update-only 1 pgbench_accounts -f "$WORK/update_only.sql"; SUMMARY+=("$RESULT")
  for line in "${CHANGE_BYTES[@]}"; do say "pg2d1.changes size, $line"; done
fi

# ---- 2. sync throughput ----------------------------------------------------------------------
WRITES=$((UPDATES + DELETES + INSERTS))
echo "2. sync throughput: $ROWS rows copied, then $UPDATES updated, $DELETES deleted, $INSERTS inserted"
pgsql -v rows="$ROWS" -v cameras=10 -f bench/generate.sql >/dev/null 2>&1
# t: the generated rows plus ts/stamp for part 3 (indexed, so that its poller reads D1 by
# index); t_base: as many rows as the sync writes, same columns and indexes, copied as the
# baseline.
q "CREATE TABLE t AS SELECT *, NULL::float8 AS ts, NULL::bigint AS stamp FROM coordinate_speed_new;
   ALTER TABLE t ADD PRIMARY KEY (id); CREATE INDEX t_stamp ON t (stamp); CREATE SEQUENCE t_stamp_seq;
   CREATE TABLE t_base AS SELECT id, latitude, longitude, api_speed_limit, bearing, display_name, ts, stamp
     FROM t ORDER BY id LIMIT $WRITES;
   ALTER TABLE t_base ADD PRIMARY KEY (id); CREATE INDEX t_base_stamp ON t_base (stamp);
   DROP TABLE coordinate_speed_new, camera_locations" >/dev/null
psql -X -q -c "VACUUM ANALYZE t" -c "VACUUM ANALYZE t_base"
q "SELECT count(*) FROM pg2d1_setup_schema(ARRAY['t','t_base']::regclass[])" >/dev/null
# The changes, timed without capture (rolled back) and then with it, same table state.
changes_sql="UPDATE t SET latitude = latitude + 0.5, bearing = coalesce(bearing, 0) + 1, display_name = display_name || ' (upd)'
  WHERE id % 3 <> 0 AND id <= $UPDATES / 2 * 3;
DELETE FROM t WHERE id % 3 = 0 AND id <= $DELETES * 3;
INSERT INTO t (id, latitude, longitude, api_speed_limit, bearing, display_name)
  SELECT g, g % 90, g % 180, 50, NULL, 'new ' || g FROM generate_series($ROWS + 1, $ROWS + $INSERTS) g;"
timed_changes() { # BEGIN/COMMIT word → "update_ms delete_ms insert_ms"
  printf 'SET client_min_messages = warning;\n\\timing on\nBEGIN;\n%s\n%s;\n' "$changes_sql" "$1" \
    | psql -X -q -v ON_ERROR_STOP=1 | grep -oP '^Time: \K[0-9.]+' | sed -n 2,4p | paste -sd' '
}
read -r u0 d0 i0 < <(timed_changes ROLLBACK)
q "VACUUM t" >/dev/null; q "CHECKPOINT" >/dev/null
# Capture from before the copy: D1 then holds nothing older than the capture, so the sync
# applies the changes only (enabling after the copy makes the first sync reconcile: part 4).
q "SELECT pg2d1_enable_sync('t')" >/dev/null
job_figures() { # JOB[,JOB…] → "rows_done requests seconds status-of-the-last"
  q "SELECT sum(rows_done), sum(requests), round(sum(extract(epoch FROM finished_at - started_at))::numeric, 3),
            (array_agg(status ORDER BY job_id DESC))[1]
     FROM pg2d1.jobs WHERE job_id IN ($1)" | tr '|' ' '
}
rate_line() { # LABEL JOB[,JOB…] ROWS_WORD [ROWS] → prints one line, sets RATE (ROWS: instead of rows_done)
  local label=$1 job=$2 word=$3 rows req secs status
  read -r rows req secs status < <(job_figures "$job")
  rows=${4:-$rows}
  [ "$status" = completed ] || fail "$label: job $job is $status"
  RATE=$(python3 -c "print(round($rows / max($secs, 0.001)))")
  RESULT=$(printf '%s: %s %s in %s s = %s %s/s, %s requests (%s per request)' "$label" \
    "$(python3 -c "print(f'{$rows:,}')")" "$word" "$secs" "$(python3 -c "print(f'{$RATE:,}')")" "$word" \
    "$req" "$(python3 -c "print(round($rows / max($req, 1)))")")
  echo "$RESULT"
}
# sync_wait → the job id(s) of pg2d1_sync('t', wait => true). A failure is a problem of pg2d1,
# reported as such; the bench then calls pg2d1_sync once more (its hint: no change is lost)
# and times both jobs, or stops when that fails too.
SYNC_NOTE=""
sync_wait() {
  local out j1 j2
  if out=$(q "SELECT pg2d1_sync('t', wait => true)" 2>&1); then
    SYNC_JOBS=$out; SYNC_NOTE=""
    [ -z "$out" ] || return 0
    # NULL: "nothing was pending" — wrong whenever pg2d1_sync_status says otherwise.
    fail "pg2d1_sync('t', wait => true) returned NULL (no job) while pg2d1_sync_status showed: $(q "SELECT 'changes_pending=' || changes_pending || ' reconcile_pending=' || reconcile_pending FROM pg2d1_sync_status WHERE table_name = 't'::regclass")"
    j1=$(q "SELECT pg2d1_sync('t')")
    echo "   … started pg2d1_sync('t') without wait: job $j1; waiting for it"
    wait_sql "SELECT status IN ('completed', 'failed', 'cancelled') FROM pg2d1.jobs WHERE job_id = $j1" t 600 \
      || { fail "sync job $j1 did not finish within 600 s"; print_summary; exit 1; }
    SYNC_JOBS=$j1
    SYNC_NOTE=" [pg2d1_sync(wait => true) returned NULL; job $j1 started without wait]"
    return 0
  fi
  j1=$(q "SELECT max(job_id) FROM pg2d1.jobs WHERE kind = 'sync'")
  fail "pg2d1_sync('t', wait => true) failed (job $j1, $(q "SELECT rows_done FROM pg2d1.jobs WHERE job_id = $j1") writes done): $(tr '\n' ' ' <<<"$out")"
  echo "   … calling pg2d1_sync again"
  if ! j2=$(q "SELECT pg2d1_sync('t', wait => true)" 2>&1); then
    fail "pg2d1_sync('t', wait => true) failed again: $(tr '\n' ' ' <<<"$j2")"
    print_summary; exit 1
  fi
  SYNC_JOBS="$j1,$j2"
  SYNC_NOTE=" [job $j1 FAILED, job $j2 finished; time of both]"
}
sync_counts() { q "SELECT upserts, deletes, changes_pending FROM pg2d1_sync_status WHERE table_name = 't'::regclass" | tr '|' ' '; }
job=$(q "SELECT pg2d1_migrate('t', wait => true)")
rate_line "copy of t (pg2d1_migrate)" "$job" rows; SUMMARY+=("$RESULT")
job=$(q "SELECT pg2d1_migrate('t_base', wait => true)")
rate_line "baseline: pg2d1_migrate" "$job" rows; MIGRATE_RATE=$RATE; SUMMARY+=("$RESULT")
read -r u1 d1 i1 < <(timed_changes COMMIT)
[ -n "${i0:-}" ] && [ -n "${i1:-}" ] || { fail "the timed changes of t failed"; exit 1; }
RESULT=$(python3 -c "
for what, n, a, b in (('UPDATE', $UPDATES, $u0, $u1), ('DELETE', $DELETES, $d0, $d1), ('INSERT', $INSERTS, $i0, $i1)):
    print(f'bulk {what} of {n:,} rows in one statement: {a:,.0f} ms without capture, {b:,.0f} ms with ({b / a:.2f}×)')")
echo "$RESULT"; SUMMARY+=("$RESULT")
pending=$(q "SELECT changes_pending FROM pg2d1_sync_status WHERE table_name = 't'::regclass")
[ "$pending" = "$WRITES" ] || fail "pg2d1_sync_status shows $pending changes pending, expected $WRITES"
sync_wait
read -r ups dels pend < <(sync_counts)
# D1 writes: pg2d1_sync_status's counters, exact per applied round (rows_done of a failed
# job is its last progress report).
rate_line "sync of the changes$SYNC_NOTE" "$SYNC_JOBS" "D1 writes" $((ups + dels)); SYNC_RATE=$RATE
[ -n "$SYNC_NOTE" ] || [ "$(job_figures "$SYNC_JOBS" | cut -d' ' -f1)" = "$WRITES" ] \
  || fail "sync job $SYNC_JOBS did $(job_figures "$SYNC_JOBS" | cut -d' ' -f1) D1 writes, expected $WRITES"
[ "$ups $dels $pend" = "$((UPDATES + INSERTS)) $DELETES 0" ] \
  || fail "pg2d1_sync_status after the sync: upserts $ups deletes $dels pending $pend, expected $((UPDATES + INSERTS)) $DELETES 0"
SUMMARY+=("$RESULT ($ups upserts, $dels deletes)")
SUMMARY+=("$(python3 -c "r = $SYNC_RATE / $MIGRATE_RATE; print(f'sync vs copy of as many rows: {r:.2f}× the rows/s of pg2d1_migrate; target ≥ 20,000 rows/s: ' + ('met' if $SYNC_RATE >= 20000 else 'MISSED'))")")
echo "${SUMMARY[-1]}"
if out=$(python3 test/integration/compare.py t "$D1_SQLITE"); then SUMMARY+=("D1 = PostgreSQL after the sync: $out")
else fail "D1 differs from PostgreSQL after the sync: $out"; fi
echo "$out"

# ---- 3. follow-mode lag ----------------------------------------------------------------------
echo "3. follow-mode lag: pgbench -R $LAG_RATE for $LAG_SECS s, one random row of t updated per transaction"
cat >"$WORK/lag.sql" <<SQL
\\set id random($((DELETES * 3 + 1)), $((ROWS + INSERTS)))
UPDATE t SET ts = extract(epoch FROM clock_timestamp()), stamp = nextval('t_stamp_seq') WHERE id = :id;
SQL
[ "$(d1_sqlite "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 't' AND sql LIKE '%stamp%'")" = 1 ] \
  || echo "   note: D1 has no index on t(stamp): every poll scans the table, which adds load and lag"
follow=$(q "SELECT pg2d1_sync('t', follow => true)")
wait_sql "SELECT phase FROM pg2d1.jobs WHERE job_id = $follow" following 30 || fail "follow job $follow did not reach phase 'following'"
rm -f "$WORK/lag.stop"
python3 bench/sync_lag.py poll "$D1_SQLITE" t "$WORK/lag.txt" "$WORK/lag.stop" 0.05 &
POLLER=$!
_CLEANUPS+=("touch '$WORK/lag.stop'; wait $POLLER 2>/dev/null")
# pg2d1_sync_status once a second: the lag the view reports, for comparison.
( while [ ! -e "$WORK/lag.stop" ]; do
    q "SELECT changes_pending, lag_seconds FROM pg2d1_sync_status WHERE table_name = 't'::regclass" 2>/dev/null
    sleep 1
  done >"$WORK/status.txt" ) &
STATUS_PID=$!
pgbench -n -c 2 -j 2 -R "$LAG_RATE" -T "$LAG_SECS" -f "$WORK/lag.sql" >"$WORK/pgbench-lag.log" 2>&1 \
  || { cat "$WORK/pgbench-lag.log"; fail "pgbench at -R $LAG_RATE failed"; }
lag_tps=$(grep -oP 'tps = \K[0-9.]+(?= \(without)' "$WORK/pgbench-lag.log" || echo 0)
lag_n=$(grep -oP 'number of transactions actually processed: \K[0-9]+' "$WORK/pgbench-lag.log" || echo 0)
# Caught up: nothing pending, and D1 holds the last stamp.
last=$(q "SELECT max(stamp) FROM t")
wait_sql "SELECT changes_pending FROM pg2d1_sync_status WHERE table_name = 't'::regclass" 0 60 \
  || fail "follow job $follow did not catch up within 60 s after the load ended"
for ((i = 0; i < 100; i++)); do
  [ "$(d1_sqlite "SELECT count(*) FROM t WHERE stamp = $last")" = 1 ] && break
  sleep 0.1
done
sleep 0.3
touch "$WORK/lag.stop"; wait "$POLLER" || fail "the lag poller failed"; wait "$STATUS_PID" || true
read -r _ samples _ p50 _ p95 _ p99 _ max < <(python3 bench/sync_lag.py report "$WORK/lag.txt")
view_max=$(cut -d'|' -f2 "$WORK/status.txt" | sort -g | tail -n1)
pend_max=$(cut -d'|' -f1 "$WORK/status.txt" | sort -g | tail -n1)
RESULT="follow lag at $(printf %.0f "$lag_tps") TPS ($lag_n updates, target rate $LAG_RATE/s): p50 $p50 ms, p95 $p95 ms, p99 $p99 ms, max $max ms over $samples samples; target p95 ≤ 2 s: $(python3 -c "print('met' if $p95 <= 2000 else 'MISSED')")"
echo "$RESULT"; SUMMARY+=("$RESULT")
RESULT="follow, seen by pg2d1_sync_status once a second: max lag_seconds $view_max, max changes_pending $pend_max"
echo "$RESULT"; SUMMARY+=("$RESULT")
read -r frows freq < <(q "SELECT rows_done, requests FROM pg2d1.jobs WHERE job_id = $follow" | tr '|' ' ')
RESULT="follow job $follow: $frows D1 writes in $freq requests ($(python3 -c "print(f'{$frows / max($freq, 1):.1f}')") writes per request)"
echo "$RESULT"; SUMMARY+=("$RESULT")
if out=$(python3 test/integration/compare.py t "$D1_SQLITE"); then SUMMARY+=("D1 = PostgreSQL after following: $out")
else fail "D1 differs from PostgreSQL after following: $out"; fi
echo "$out"
[ "$(q "SELECT pg2d1_cancel($follow)")" = t ] || fail "pg2d1_cancel($follow) returned false"
wait_sql "SELECT status FROM pg2d1.jobs WHERE job_id = $follow" cancelled 30 || fail "follow job $follow not cancelled after 30 s"
wait_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg2d1 job $follow'" 0 30 \
  || fail "the worker of follow job $follow still runs 30 s after pg2d1_cancel"

# ---- 4. reconcile ----------------------------------------------------------------------------
# Changes made while capture is off, then sync enabled again after the copy: the first sync
# compares every key of both sides and writes only what differs.
RC_UPD=${RC_UPD:-1000}; RC_DEL=${RC_DEL:-100}; RC_INS=${RC_INS:-100}
echo "4. reconcile: pg2d1_disable_sync, $RC_UPD updates + $RC_DEL deletes + $RC_INS inserts not captured, pg2d1_enable_sync, pg2d1_sync(wait => true)"
q "SELECT pg2d1_disable_sync('t')" >/dev/null
q "UPDATE t SET display_name = 'changed while not captured' WHERE id IN (SELECT id FROM t WHERE id > $((DELETES * 3)) ORDER BY id LIMIT $RC_UPD);
   DELETE FROM t WHERE id IN (SELECT id FROM t ORDER BY id DESC LIMIT $RC_DEL);
   INSERT INTO t (id, latitude, longitude, display_name) SELECT g, 1, 2, 'inserted while not captured'
     FROM generate_series($((ROWS + INSERTS + 1)), $((ROWS + INSERTS + RC_INS))) g" >/dev/null
q "SELECT pg2d1_enable_sync('t')" >/dev/null
[ "$(q "SELECT reconcile_pending FROM pg2d1_sync_status WHERE table_name = 't'::regclass")" = t ] \
  || fail "pg2d1_enable_sync after a copy did not set reconcile_pending"
sync_wait
nrows=$(q "SELECT count(*) FROM t")
read -r rrows rreq rsecs _ < <(job_figures "$SYNC_JOBS")
expected=$((RC_UPD + RC_DEL + RC_INS))
RESULT="reconcile of t ($nrows rows, $expected keys differing)$SYNC_NOTE: $rsecs s = $(python3 -c "print(f'{$nrows / max($rsecs, 0.001):,.0f}')") rows compared/s, $rreq requests, $rrows D1 writes"
[ "$rrows" = "$expected" ] && RESULT+=" (= the keys that differ)" || RESULT+=" (NOTE: $expected keys differ)"
echo "$RESULT"; SUMMARY+=("$RESULT")
if out=$(python3 test/integration/compare.py t "$D1_SQLITE"); then SUMMARY+=("D1 = PostgreSQL after the reconcile: $out")
else fail "D1 differs from PostgreSQL after the reconcile: $out"; fi
echo "$out"

# ---- summary ---------------------------------------------------------------------------------
print_summary
[ "${#FAILURES[@]}" -eq 0 ]

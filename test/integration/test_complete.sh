#!/usr/bin/env bash
# test_complete.sh — complete coverage of a table, whatever happens to D1 or the table:
# a dropped or altered D1 table, rows inserted between, below and above the checkpoint
# ranges (also while a job runs), cancel at random moments, a rate limit shared by all
# workers, and one long run through injected faults, a 2-minute D1 outage, kill -9 of the
# worker and a postmaster restart. Every proof ends with D1's SQLite file compared with
# PostgreSQL value by value (compare.py). Contract: pg2d1 0.2 ("Job states", "Checkpoint
# ranges", the shared rate limit).
# Needs a cluster started with start_pg_with_workers DIR pg2d1_wt (pg2d1 and pg_cron
# preloaded, the launcher watching pg2d1_wt). Prints "complete: N passed, N failed".
# About 6 minutes on 2 cores, 2 of them the D1 outage. COMPLETE_PROOFS="1 3" runs only some
# proofs (6 reads the ledgers that 2 and 5 leave). Starts its own local D1 servers; leaves
# pg2d1.requests_per_second = 0 and pg2d1.max_retries at its default, as it found them.
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh"
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
trap cleanup_all EXIT
T_SUITE=$(date +%s)
rm -rf "$WORK/d1" "$WORK/d1-rps" # a fresh D1 every run
start_d1 "$WORK/d1" || exit 1
export PGDATABASE=pg2d1_wt
dropdb --force --if-exists pg2d1_wt 2>/dev/null; createdb pg2d1_wt
setup_pg2d1_server >/dev/null
# Whatever happens, leave the cluster's settings as setup_pg2d1_server left them.
_CLEANUPS+=("psql -X -q -d postgres -c 'ALTER SYSTEM SET pg2d1.requests_per_second = 0' -c 'ALTER SYSTEM RESET pg2d1.max_retries' -c 'SELECT pg_reload_conf()' >/dev/null 2>&1")

q() { PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }
compare() { python3 "$REPO_ROOT/test/integration/compare.py" "$1" "${2:-$D1_SQLITE}" "${@:3}"; }
remote_ok() { # table → all D1 checkpoints of the table completed and their ranges disjoint, rows = table size
  local t=$1 n
  n=$(q "SELECT count(*) FROM $t")
  d1_sqlite "SELECT count(*) = sum(status='completed') AND sum(records_processed) = $n FROM migration_checkpoints WHERE table_name='$t'" | grep -qx 1 \
    && [ "$(d1_sqlite "SELECT count(*) FROM migration_checkpoints a JOIN migration_checkpoints b ON a.table_name=b.table_name AND a.id<b.id AND a.start_id<=b.end_id AND b.start_id<=a.end_id WHERE a.table_name='$t'")" = 0 ]
}
generate() { # table rows key_type key_expr [seed] — a coordinate_speed_new-like table (complete_generate.sql)
  pgsql -v tbl="$1" -v rows="$2" -v key_type="$3" -v key_expr="$4" -v seed="${5:-0.42}" \
    -f "$REPO_ROOT/test/integration/complete_generate.sql" >/dev/null 2>&1
}
job_status() { q "SELECT status FROM pg2d1.jobs WHERE job_id = ${1:-0}" 2>/dev/null; }
last_job() { q "SELECT coalesce(max(job_id), 0) FROM pg2d1.jobs WHERE table_name = '$1'"; }
# wait_done JOB [SECONDS] — until the job is completed, failed, cancelled or paused; prints
# the status (returns early on any final status, so a failing build does not stall the suite).
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
# migrate_wait TABLE [ARGS] — pg2d1_migrate(…, wait => true); prints the job id (also when it raised).
migrate_wait() {
  local out
  out=$(q "SELECT pg2d1_migrate('$1'${2:+, $2}, wait => true)" 2>&1) || echo "pg2d1_migrate('$1') raised: $out" >&2
  last_job "$1"
}
elapsed() { echo "$(($(date +%s) - $1)) s"; }
note() { echo "       [+$(($(date +%s) - T)) s] $*"; } # T: the proof's start
# wait_ckpt_after JOB TIMESTAMP SECONDS — until a checkpoint of the job completes after TIMESTAMP
# (PostgreSQL's now() text); gives up early when the job has ended.
wait_ckpt_after() {
  local job=${1:-0} since=$2 limit=${3:-60} n st="" i
  for ((i = 0; i < limit * 5; i++)); do
    n=$(q "SELECT count(*) FROM pg2d1.checkpoints WHERE job_id = $job AND status = 'completed' AND completed_at > '$since'" 2>/dev/null)
    [ "${n:-0}" -gt 0 ] && return 0
    st=$(job_status "$job")
    case $st in completed | failed | cancelled | paused) echo "job $job is $st without a checkpoint completed after $since"; return 1 ;; esac
    sleep 0.2
  done
  echo "no checkpoint of job $job completed after $since within ${limit}s (status ${st:-?})"
  return 1
}
# wait_worker JOB SECONDS — until the job has a worker; gives up early when the job has ended.
wait_worker() {
  local job=${1:-0} limit=${2:-30} i
  for ((i = 0; i < limit * 5; i++)); do
    [ -n "$(worker_of "$job")" ] && return 0
    case $(job_status "$job") in completed | failed | cancelled | paused) return 1 ;; esac
    sleep 0.2
  done
  return 1
}
# worker of a job (empty when none)
worker_of() { q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg2d1 worker' AND application_name = 'pg2d1 job ${1:-0}' LIMIT 1" 2>/dev/null; }

# ---- the local D1 server's admin API ---------------------------------------------------------
d1_base() { echo "${D1_URL%/client/v4}"; }
d1_get() { curl -sf "$(d1_base)/__local/$1"; }
# json_get EXPR — a Python expression over d, the JSON document on stdin (no jq needed)
json_get() { python3 -c 'import json, sys; d = json.load(sys.stdin); v = eval(sys.argv[1]); print("" if v is None else v)' "$1"; }
# d1_fault_stats — "D1_REQUESTS FAULTS_TOTAL kind=n …" from one GET /__local/stats
d1_fault_stats() {
  d1_get stats | json_get "' '.join([str(d['d1_requests']), str(d['faults_total'])] + [f'{k}={v}' for k, v in d['faults'].items() if v])"
}
d1_port() { local p=${D1_URL#http://*:}; echo "${p%%/*}"; }
faults_desc() { d1_get faults | json_get "f\"{d['rate']}|{len(d['kinds'])}\""; }
# d1_stop — SIGTERM (never SIGKILL: its workerd child would be orphaned), wait for the exit of
# the server and of its workerd (D1_STOPPED_WORKERD keeps the latter's pid for a check).
d1_stop() {
  local pid=$D1_PID i
  D1_STOPPED_WORKERD=$(d1_get info | json_get "d.get('workerd_pid')" 2>/dev/null)
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "local D1 server $pid did not exit after SIGTERM"; return 1; fi
  wait "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    { [ -z "$D1_STOPPED_WORKERD" ] || ! kill -0 "$D1_STOPPED_WORKERD" 2>/dev/null; } && break
    sleep 0.1
  done
  return 0
}
# d1_start_again DIR [server options…] — the same server again: same port, same persist directory
# (call it directly, never inside $(…) or check: start_d1 exports D1_URL, D1_PID, …).
d1_start_again() {
  local dir=$1 port; shift
  port=$(d1_port)
  [ -f "$dir/server.log" ] && cat "$dir/server.log" >>"$dir/server.log.previous"
  start_d1 "$dir" --port "$port" "$@"
}
# The main server's exported variables, to switch back after starting another one.
d1_save() { D1_SAVED=("$D1_URL" "$D1_SQLITE" "$D1_PID" "$D1_ACCOUNT" "$D1_DATABASE"); }
d1_restore() {
  export D1_URL=${D1_SAVED[0]} D1_SQLITE=${D1_SAVED[1]} D1_PID=${D1_SAVED[2]} D1_ACCOUNT=${D1_SAVED[3]} D1_DATABASE=${D1_SAVED[4]}
}
# chain_ok JOB — the job's checkpoint ranges (after_key, through_key], ordered, chain without a
# gap: the first after_key NULL, each after_key = the previous through_key, the last through_key
# NULL, at least 2 ranges. Prints the ranges that break the chain.
chain_ok() {
  local out
  out=$(q "WITH c AS (SELECT start_id, after_key, through_key, row_number() OVER w AS rn, count(*) OVER () AS n,
                             lag(through_key) OVER w AS prev
                        FROM pg2d1.checkpoints WHERE job_id = ${1:-0} WINDOW w AS (ORDER BY start_id, id))
           SELECT rn || '/' || n || ' start_id ' || start_id || ': (' || coalesce(after_key::text, 'NULL') || ', '
                  || coalesce(through_key::text, 'NULL') || '], previous through_key ' || coalesce(prev::text, 'NULL')
             FROM c
            WHERE n < 2 OR (rn = 1 AND after_key IS NOT NULL) OR (rn > 1 AND after_key IS DISTINCT FROM prev)
               OR (rn = n AND through_key IS NOT NULL) OR (rn < n AND through_key IS NULL)
           UNION ALL SELECT 'job ${1:-0} has no checkpoints' WHERE NOT EXISTS (SELECT 1 FROM pg2d1.checkpoints WHERE job_id = ${1:-0})" 2>&1) \
    || { echo "$out"; return 1; }
  [ -z "$out" ] || { echo "$out" | head -n 10; return 1; }
}
# Rows of an integer-key table in each range (after_key, through_key] of a job that differ
# from the range's records_processed (0 = every row is in exactly the range that counted it).
range_counts_off() { # table job
  q "SELECT count(*) FROM pg2d1.checkpoints c WHERE c.job_id = ${2:-0} AND c.records_processed <>
       (SELECT count(*) FROM $1 t WHERE (c.after_key IS NULL OR t.id > c.after_key[1]::bigint)
                                    AND (c.through_key IS NULL OR t.id <= c.through_key[1]::bigint))"
}

check "the launcher runs for this database" \
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg2d1 launcher' AND datname = 'pg2d1_wt'" 1 30

# =============================================================================================
# 1. The D1 table dropped, then altered, after a completed run
proof1() {
  echo "# 1. The D1 table dropped, then altered, after a completed run"
  T=$(date +%s)
  generate p1 10000 integer g 0.11
  d1_settings '{"latency_ms":0}'
  job=$(migrate_wait p1 "checkpoint_size => 2500")
  check_eq "first run of p1 completes" completed job_status "$job"
  check "p1: D1 equals PostgreSQL after the first run" compare p1
  q "SELECT pg2d1_query('DROP TABLE p1', 'd1')" >/dev/null
  check_eq "the D1 table p1 is dropped (through pg2d1_query)" 0 d1_sqlite "SELECT count(*) FROM sqlite_master WHERE name = 'p1'"
  job=$(migrate_wait p1 "checkpoint_size => 2500")
  check_eq "the run after the drop completes" completed job_status "$job"
  check_eq "…copying all 10000 rows again" 10000 d1_sqlite "SELECT count(*) FROM p1"
  check "p1: D1 equals PostgreSQL after the D1 table was dropped" compare p1
  check "p1: D1 checkpoints all completed, disjoint, rows = table" remote_ok p1
  q "SELECT pg2d1_query('ALTER TABLE p1 ADD COLUMN extra TEXT', 'd1')" >/dev/null
  q "ALTER TABLE p1 ADD COLUMN extra text DEFAULT 'x'" >/dev/null
  job=$(migrate_wait p1 "checkpoint_size => 2500")
  check_eq "the run after ADD COLUMN completes" completed job_status "$job"
  check_eq "…and every D1 row has the new column's value" "10000|10000" \
    d1_sqlite "SELECT count(*), count(*) FILTER (WHERE extra = 'x') FROM p1"
  check "p1: D1 equals PostgreSQL after the column was added" compare p1
  echo "       proof 1: $(elapsed "$T")"
}

# =============================================================================================
# 2. Rows inserted below, between and above the ranges (integer key with gaps, uuid key)
proof2() {
  echo "# 2. Rows inserted below, between and above the ranges (integer key with gaps, uuid key)"
  T=$(date +%s)
  generate p2_int 20000 bigint 'g * 1000' 0.21
  generate p2_uuid 20000 uuid 'md5(g::text)::uuid' 0.22
  d1_settings '{"latency_ms":0}'
  ji=$(migrate_wait p2_int "checkpoint_size => 2000")
  ju=$(migrate_wait p2_uuid "checkpoint_size => 2000")
  check_eq "first runs of p2_int and p2_uuid complete" "completed completed" \
    echo "$(job_status "$ji") $(job_status "$ju")"
  check "p2_int: D1 equals PostgreSQL" compare p2_int
  check "p2_uuid: D1 equals PostgreSQL" compare p2_uuid
  # Keys: below the first range, between the middle range and the next, above the last.
  mid=$(q "SELECT count(*) / 2 FROM pg2d1.checkpoints WHERE job_id = $ji")
  read -r i_first i_end i_next i_last < <(q "SELECT min(start_id) FILTER (WHERE rn = 1), min(end_id) FILTER (WHERE rn = ${mid:-5}),
      min(start_id) FILTER (WHERE rn = ${mid:-5} + 1), max(end_id)
    FROM (SELECT start_id, end_id, row_number() OVER (ORDER BY start_id) AS rn FROM pg2d1.checkpoints WHERE job_id = $ji) c" | tr '|' ' ')
  int_keys="$((${i_first:-1000} / 2)), $(((${i_end:-10000000} + ${i_next:-10001000}) / 2)), $((${i_last:-20000000} + 500))"
  read -r u_first u_end u_next u_last < <(q "SELECT min(start_key[1]) FILTER (WHERE rn = 1), min(end_key[1]) FILTER (WHERE rn = ${mid:-5}),
      min(start_key[1]) FILTER (WHERE rn = ${mid:-5} + 1), max(end_key[1]) FILTER (WHERE rn = n)
    FROM (SELECT start_key, end_key, row_number() OVER (ORDER BY start_id) AS rn, count(*) OVER () AS n
            FROM pg2d1.checkpoints WHERE job_id = $ju) c" | tr '|' ' ')
  uuid_keys=$(python3 - "${u_first:-00000000-0000-0000-0000-000000000001}" "${u_end:-7fffffff-ffff-ffff-ffff-fffffffffffe}" \
    "${u_next:-80000000-0000-0000-0000-000000000000}" "${u_last:-ffffffff-ffff-ffff-ffff-fffffffffffe}" <<'PY'
import sys, uuid
a, e, n, z = (uuid.UUID(x).int for x in sys.argv[1:])
print(", ".join(f"'{uuid.UUID(int=v)}'" for v in (a // 2, (e + n) // 2, (z + 2**128 - 1) // 2)))
PY
  )
  echo "       inserting p2_int ids $int_keys; p2_uuid ids $uuid_keys"
  q "INSERT INTO p2_int (id, latitude, longitude, display_name) SELECT k, 1.5, -2.25, 'inserted ' || k FROM unnest(ARRAY[$int_keys]::bigint[]) k" >/dev/null
  q "INSERT INTO p2_uuid (id, latitude, longitude, display_name) SELECT k, 1.5, -2.25, 'inserted ' || k FROM unnest(ARRAY[$uuid_keys]::uuid[]) k" >/dev/null
  for t in p2_int p2_uuid; do
    job=$(migrate_wait $t "checkpoint_size => 2000")
    check_eq "$t: the run after the inserts completes" completed job_status "$job"
    check "$t: D1 equals PostgreSQL (20003 rows)" compare $t
    counts=$(q "SELECT count(*) FILTER (WHERE skipped) || '|' || count(*) FILTER (WHERE NOT skipped) FROM pg2d1.checkpoints WHERE job_id = $job")
    echo "       $t job $job: skipped|re-sent checkpoints = $counts"
    check "$t: the re-run skipped unchanged ranges (skipped > 0)" test "${counts%%|*}" -gt 0
    check_eq "$t: only the 3 ranges that changed were re-sent" 3 echo "${counts#*|}"
  done
  check "p2_int: D1 checkpoints all completed, disjoint, rows = table" remote_ok p2_int

  # The same while rows arrive: a background loop inserts at random keys during slowed jobs.
  d1_settings '{"latency_ms":50}'
  rm -f "$WORK/p2.stop" "$WORK/p2.inserts"
  ji=$(q "SELECT pg2d1_migrate('p2_int', checkpoint_size => 2000, batch_size => 500, resume => false)")
  ju=$(q "SELECT pg2d1_migrate('p2_uuid', checkpoint_size => 2000, batch_size => 500, resume => false)")
  (
    while [ ! -e "$WORK/p2.stop" ]; do
      psql -X -q -c "INSERT INTO p2_int (id, latitude, longitude, display_name)
                       SELECT 1 + (random() * 20001000)::bigint, random(), random(), 'during the run' ON CONFLICT DO NOTHING;
                     INSERT INTO p2_uuid (id, latitude, longitude, display_name)
                       VALUES (gen_random_uuid(), random(), random(), 'during the run')" >/dev/null 2>&1 && echo >>"$WORK/p2.inserts"
      sleep "0.0$((RANDOM % 5))"
    done
  ) &
  INSERTER=$!
  _CLEANUPS+=("touch '$WORK/p2.stop'; kill $INSERTER 2>/dev/null")
  check_eq "p2_int: the job during the inserts completes" completed wait_done "${ji:-0}" 90
  check_eq "p2_uuid: the job during the inserts completes" completed wait_done "${ju:-0}" 90
  during=$(wc -l <"$WORK/p2.inserts" 2>/dev/null || echo 0)
  touch "$WORK/p2.stop"; wait "$INSERTER" 2>/dev/null
  after=$(wc -l <"$WORK/p2.inserts" 2>/dev/null || echo 0)
  check "rows were inserted while the jobs ran ($during batches of 2 rows during, $after in all)" test "$during" -gt 0
  d1_settings '{"latency_ms":0}'
  for t in p2_int p2_uuid; do
    job=$(migrate_wait $t "checkpoint_size => 2000")
    check_eq "$t: one more run after the concurrent inserts completes" completed job_status "$job"
    echo "       $t job $job: skipped|re-sent = $(q "SELECT count(*) FILTER (WHERE skipped) || '|' || count(*) FILTER (WHERE NOT skipped) FROM pg2d1.checkpoints WHERE job_id = $job")"
    check "$t: D1 equals PostgreSQL after concurrent inserts ($(q "SELECT count(*) FROM $t") rows)" compare $t
  done
  check "p2_int: D1 checkpoints all completed, disjoint, rows = table" remote_ok p2_int
  echo "       proof 2: $(elapsed "$T")"
}

# =============================================================================================
# 3. Cancel at 20 random moments: the final status never flips
proof3() {
  echo "# 3. Cancel at 20 random moments: the final status never flips"
  T=$(date +%s)
  generate p3 8000 integer g 0.31
  d1_settings '{"latency_ms":25}'
  P3_JOBS=() P3_STATUS=() P3_CANCEL=()
  dup=0 stuck=0 flips=0 n_cancelled=0 n_completed=0 n_other=0 mismatch=0
  recheck() { # re-reads every recorded status (one query); counts the ones that changed
    local k now ids
    ids=$(IFS=,; echo "${P3_JOBS[*]}")
    mapfile -t now < <(q "SELECT coalesce(j.status, 'gone') FROM unnest('{$ids}'::bigint[]) WITH ORDINALITY AS r(job_id, n)
                          LEFT JOIN pg2d1.jobs j USING (job_id) ORDER BY r.n")
    for k in "${!P3_JOBS[@]}"; do
      if [ "${now[$k]:-?}" != "${P3_STATUS[$k]}" ]; then
        flips=$((flips + 1)); echo "       job ${P3_JOBS[$k]}: recorded ${P3_STATUS[$k]}, now ${now[$k]:-?}"
        P3_STATUS[k]=${now[$k]:-?}
      fi
    done
  }
  for i in $(seq 1 20); do
    job=$(q "SELECT pg2d1_migrate('p3', checkpoint_size => 2000, batch_size => 500, resume => false)" 2>/dev/null)
    job=${job:-0}
    for j in "${P3_JOBS[@]}"; do [ "$j" = "$job" ] && dup=$((dup + 1)); done
    r=$((RANDOM % 200))
    sleep "$((r / 100)).$(printf %02d $((r % 100)))"
    c=$(q "SELECT pg2d1_cancel($job)" 2>/dev/null)
    # the job's final status, once its worker is gone
    wait_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg2d1 job $job'" 0 20 >/dev/null || stuck=$((stuck + 1))
    st=$(wait_done "$job" 20)
    P3_JOBS+=("$job") P3_STATUS+=("$st") P3_CANCEL+=("$c")
    case $st in cancelled) n_cancelled=$((n_cancelled + 1)) ;; completed) n_completed=$((n_completed + 1)) ;; *) n_other=$((n_other + 1)) ;; esac
    # cancel returned true ⇔ the job ends cancelled; false ⇔ it had completed before
    if ! { [ "$c" = t ] && [ "$st" = cancelled ]; } && ! { [ "$c" = f ] && [ "$st" = completed ]; }; then
      mismatch=$((mismatch + 1)); echo "       job $job: cancel after ${r}0 ms returned '$c', status $st"
    fi
    recheck
  done
  sleep 2
  recheck
  P3_FINAL=()
  for k in "${!P3_JOBS[@]}"; do P3_FINAL+=("$(job_status "${P3_JOBS[$k]}")"); done
  echo "       20 tries: $n_cancelled cancelled, $n_completed completed, $n_other other; statuses: ${P3_FINAL[*]}"
  check_eq "20 distinct jobs started" 0 echo "$dup"
  check_eq "every job ended cancelled or completed, its worker gone" "0|0" echo "$n_other|$stuck"
  check_eq "pg2d1_cancel true ⇔ cancelled, false ⇔ completed before the cancel" 0 echo "$mismatch"
  check_eq "no final status changed later (each re-read after every later try and 2 s after the last)" 0 echo "$flips"
  cancelled_ids=$(for k in "${!P3_JOBS[@]}"; do [ "${P3_CANCEL[$k]}" = t ] && echo "${P3_JOBS[$k]}"; done | paste -sd, -)
  check_eq "no cancelled job became completed" 0 q "SELECT count(*) FROM pg2d1.jobs WHERE job_id IN (${cancelled_ids:-0}) AND status = 'completed'"
  check_eq "cancel marks no checkpoint failed, locally" 0 q "SELECT count(*) FROM pg2d1.checkpoints c JOIN pg2d1.jobs j USING (job_id) WHERE j.table_name = 'p3' AND c.status = 'failed'"
  check_eq "…nor in D1" 0 d1_sqlite "SELECT count(*) FROM migration_checkpoints WHERE table_name = 'p3' AND status = 'failed'"
  check "no job of p3 is left queued, running or waiting" \
    wait_sql "SELECT count(*) FROM pg2d1.jobs WHERE table_name = 'p3' AND status IN ('queued','running','waiting')" 0 5
  d1_settings '{"latency_ms":0}'
  job=$(migrate_wait p3 "checkpoint_size => 2000")
  check_eq "a run after the cancels completes" completed job_status "$job"
  check "p3: D1 equals PostgreSQL after 20 cancels" compare p3
  check "p3: D1 checkpoints all completed, disjoint, rows = table" remote_ok p3
  echo "       proof 3: $(elapsed "$T")"
}

# =============================================================================================
# 4. One rate limit for all workers: 2, then 4 tables at once against --rps 4 --rps-burst 4
proof4() {
  echo "# 4. One rate limit for all workers: 2, then 4 tables at once against --rps 4 --rps-burst 4"
  T=$(date +%s)
  d1_save
  start_d1 "$WORK/d1-rps" --rps 4 --rps-burst 4 || echo "the rate-limited D1 server did not start"
  RPS_URL=$D1_URL RPS_SQLITE=$D1_SQLITE RPS_PID=$D1_PID
  d1_restore
  note "rate-limited D1 server at $RPS_URL"
  q "CREATE SERVER d1rps FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '$D1_ACCOUNT', database_id '$D1_DATABASE', api_url '$RPS_URL');
     CREATE USER MAPPING FOR CURRENT_USER SERVER d1rps OPTIONS (api_token '$D1_TOKEN')" >/dev/null
  psql -X -q -c "ALTER SYSTEM SET pg2d1.requests_per_second = 3.5" -c "SELECT pg_reload_conf()" >/dev/null
  check "pg2d1.requests_per_second = 3.5 for new sessions" wait_sql "SHOW pg2d1.requests_per_second" 3.5 10
  seed=40; for t in p4_a p4_b p4_c p4_d; do seed=$((seed + 1)); generate $t 40000 integer g "0.$seed"; done
  note "4 tables of 40,000 rows generated"
  rps_stats() { curl -sf "${RPS_URL%/client/v4}/__local/stats" | json_get "d['$1']"; }
  rps_round() { # label tables… — starts one job per table in one transaction, waits for all
    local label=$1; shift
    local sel="" t ids st n_ok=0 t0 s0 r0 secs nreq
    for t in "$@"; do sel+="${sel:+, }pg2d1_migrate('$t', checkpoint_size => 40000, batch_size => 8000, resume => false, target => 'd1rps')"; done
    t0=$(date +%s.%N); s0=$(rps_stats responses_429); r0=$(rps_stats d1_requests)
    ids=$(q "SELECT $sel" | tr '|' ' ')
    for id in $ids; do st=$(wait_done "$id" 90); [ "$st" = completed ] && n_ok=$((n_ok + 1)); done
    secs=$(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')"); nreq=$(($(rps_stats d1_requests) - r0))
    note "$label: jobs $ids: $n_ok of $# completed in $secs s, $nreq D1 requests" \
      "($(python3 -c "print(f'{$nreq / max($secs, 0.1):.2f}')") per s overall), $(($(rps_stats responses_429) - s0)) answered 429"
    check_eq "$label: every job completes" "$#" echo "$n_ok"
  }
  rps_round "2 tables at once" p4_a p4_b
  rps_round "4 tables at once" p4_a p4_b p4_c p4_d
  n429=$(rps_stats responses_429); nlimited=$(rps_stats rate_limited); nreq=$(rps_stats requests_total)
  note "rate-limited server: $nreq requests, responses_429 = $n429, rate_limited = $nlimited"
  check "the server's 429 count stays near zero (≤ 2; got ${n429:-?})" test "${n429:-99}" -le 2
  for t in p4_a p4_b p4_c p4_d; do check "$t: D1 equals PostgreSQL" compare $t "$RPS_SQLITE"; done
  q "DROP SERVER d1rps CASCADE" >/dev/null
  psql -X -q -c "ALTER SYSTEM SET pg2d1.requests_per_second = 0" -c "SELECT pg_reload_conf()" >/dev/null
  D1_URL=$RPS_URL D1_PID=$RPS_PID d1_stop; d1_restore
  wait_sql "SHOW pg2d1.requests_per_second" 0 10 >/dev/null
  echo "       proof 4: $(elapsed "$T")"
}

# =============================================================================================
# 5. 500,000 rows through 20 % faults, a 2-minute D1 outage, kill -9 and a postmaster restart
proof5() {
  echo "# 5. 500,000 rows through 20 % faults, a 2-minute D1 outage, kill -9 and a postmaster restart"
  T=$(date +%s)
  FAULTS='{"rate":0.2,"seed":5,"kinds":["http500","d1_transient","overloaded","reset","reset_after_commit","rate429"]}'
  generate p5 500000 bigint g 0.5
  check_eq "p5 has 500,000 rows" 500000 q "SELECT count(*) FROM p5"
  # Faults must not exhaust the retries (0.2^7 per request); the outage must (backoff 1+2+…+32 s ≈ 60 s ± 25 %).
  psql -X -q -c "ALTER SYSTEM SET pg2d1.max_retries = 6" -c "SELECT pg_reload_conf()" >/dev/null
  wait_sql "SHOW pg2d1.max_retries" 6 10 >/dev/null
  curl -sf -X POST "$(d1_base)/__local/reset-stats" >/dev/null
  d1_settings '{"latency_ms":100}'
  d1_admin faults "$FAULTS"
  check_eq "fault injection configured: rate 0.2, six transient kinds" "0.2|6" faults_desc
  job=$(q "SELECT pg2d1_migrate('p5', checkpoint_size => 25000, batch_size => 5000, method => 'query')")
  job=${job:-0}
  note "job $job started"
  check "the job is past 50,000 rows before the outage" \
    wait_sql "SELECT rows_done >= 50000 AND status IN ('running','waiting') FROM pg2d1.jobs WHERE job_id = $job" t 90
  read -r req1 faults1 kinds1 < <(d1_fault_stats)
  note "before the outage: $req1 D1 requests, $faults1 faults ($kinds1)"
  D1_URL_BEFORE=$D1_URL
  d1_stop
  check "D1 stopped by SIGTERM: nothing answers on its port, its workerd (${D1_STOPPED_WORKERD:-?}) is gone too" \
    sh -c "! curl -s -m 2 '$(d1_base)/__local/info' >/dev/null && ! kill -0 '${D1_STOPPED_WORKERD:-0}' 2>/dev/null"
  rows_before=$(d1_sqlite "SELECT count(*) FROM p5" 2>&1)
  note "D1 stopped, $rows_before rows of p5 in its file; polling pg2d1_progress every second for 120 s"
  t_down=$(date +%s)
  waiting_s=0 waiting_ms=0 first_waiting="" bad_status="" max_failed_ckpt=0 samples=0 last="" prev_ms=0
  while [ $(($(date +%s) - t_down)) -lt 120 ]; do
    samples=$((samples + 1))
    # status | last_error set | next_attempt_at set | rows_done | failed checkpoints (local)
    s=$(q "SELECT p.status || '|' || (p.last_error IS NOT NULL) || '|' || (p.next_attempt_at IS NOT NULL) || '|' || p.rows_done || '|'
                  || (SELECT count(*) FROM pg2d1.checkpoints c WHERE c.job_id = p.job_id AND c.status = 'failed')
             FROM pg2d1_progress p WHERE p.job_id = $job" 2>/dev/null) \
      || s=$(q "SELECT j.status || '|?|?|' || j.rows_done || '|'
                       || (SELECT count(*) FROM pg2d1.checkpoints c WHERE c.job_id = j.job_id AND c.status = 'failed')
                  FROM pg2d1.jobs j WHERE j.job_id = $job" 2>/dev/null)
    now_ms=$(date +%s%3N)
    [ "$last" = waiting ] && waiting_ms=$((waiting_ms + now_ms - prev_ms)) # time since the previous sample, spent waiting
    prev_ms=$now_ms
    case $s in
      waiting\|true\|true\|*) waiting_s=$((waiting_s + 1)); [ -n "$first_waiting" ] || first_waiting=$(($(date +%s) - t_down)) ;;
      failed* | cancelled* | completed* | paused*) bad_status="${s%%|*}" ;;
    esac
    f=${s##*|}
    [[ $f =~ ^[0-9]+$ ]] && [ "$f" -gt "$max_failed_ckpt" ] && max_failed_ckpt=$f
    [ "${s%%|*}" != "$last" ] && note "outage +$(($(date +%s) - t_down)) s: status|last_error set|next_attempt_at set|rows_done|failed checkpoints = $s"
    last=${s%%|*}
    sleep 1
  done
  err=$(q "SELECT last_error FROM pg2d1.jobs WHERE job_id = $job" 2>/dev/null | head -c 240)
  note "outage over: $samples samples, $waiting_s of them waiting with last_error and next_attempt_at set, the first ${first_waiting:-never} s after the stop; about $((waiting_ms / 1000)) s in waiting; last_error: $err"
  check "during the outage pg2d1_progress shows waiting with last_error and next_attempt_at ($waiting_s samples, ~$((waiting_ms / 1000)) s)" test "$waiting_s" -ge 3
  check_eq "the job never ended during the outage" "" echo "$bad_status"
  check_eq "no checkpoint failed during the outage (locally)" 0 echo "$max_failed_ckpt"
  d1_start_again "$WORK/d1" || echo "the local D1 server did not start again"
  rows_again=$(d1_sqlite "SELECT count(*) FROM p5" 2>&1)
  check "D1 restarted on the same port ($D1_URL) and data directory: p5 rows $rows_before → $rows_again" \
    test "$D1_URL" = "$D1_URL_BEFORE" -a "${rows_before:-0}" -gt 0 -a "${rows_again:-0}" -ge "${rows_before:-1}"
  check_eq "no checkpoint failed in D1 during the outage" 0 \
    d1_sqlite "SELECT count(*) FROM migration_checkpoints WHERE table_name = 'p5' AND status = 'failed'"
  d1_settings '{"latency_ms":100}'
  d1_admin faults "$FAULTS"
  t_up=$(q "SELECT now()")
  resumed_at=$(date +%s)
  note "D1 is back (same port, same data, faults on again)"
  check "the job continues by itself once D1 is back (a checkpoint completes)" wait_ckpt_after "$job" "$t_up" 150
  note "a checkpoint completed $(($(date +%s) - resumed_at)) s after D1 came back; rows_done $(q "SELECT rows_done FROM pg2d1.jobs WHERE job_id = $job")"
  # kill -9 of the worker
  wait_worker "$job" 30 >/dev/null
  t_kill=$(q "SELECT now()")
  pid=$(worker_of "$job"); st=$(job_status "$job")
  [ -n "$pid" ] && kill -9 "$pid"
  note "kill -9 $pid (job $st)"
  check "the worker (pid ${pid:-none}) was killed with kill -9 while the job was $st" test -n "$pid" -a "$st" != completed
  wait_sql "SELECT 1" 1 60 >/dev/null
  check "after kill -9 the job goes on (a checkpoint completes)" wait_ckpt_after "$job" "$t_kill" 90
  # postmaster restart, immediate
  st=$(job_status "$job")
  note "restart_pg immediate (job $st, rows_done $(q "SELECT rows_done FROM pg2d1.jobs WHERE job_id = $job"))"
  restart_pg immediate
  check "the postmaster was restarted (immediate) while the job was $st" test "$st" = running -o "$st" = waiting
  check_eq "job $job ends completed by itself" completed wait_done "$job" 180
  note "job $job: $(job_status "$job")"
  check_eq "…no other job was started for p5" 1 q "SELECT count(*) FROM pg2d1.jobs WHERE table_name = 'p5'"
  read -r req2 faults2 kinds2 < <(d1_fault_stats)
  nf=$((${faults1:-0} + ${faults2:-0})); nr=$((${req1:-0} + ${req2:-0}))
  note "after the outage: $req2 D1 requests, $faults2 faults ($kinds2)"
  note "faults injected: $nf of $nr D1 requests ($(python3 -c "print(f'{100 * $nf / max($nr, 1):.0f}')") %); job: $(q "SELECT requests || ' requests, ' || retries || ' retries' FROM pg2d1.jobs WHERE job_id = $job")"
  check "faults were injected throughout ($nf of $nr D1 requests)" test "$nf" -ge 10
  check "p5: D1 equals PostgreSQL (500,000 rows)" compare p5
  check "p5: D1 checkpoints all completed, disjoint, rows = table" remote_ok p5
  check_eq "p5: local checkpoints all completed" 0 q "SELECT count(*) FROM pg2d1.checkpoints WHERE job_id = $job AND status <> 'completed'"
  d1_admin faults '{"rate":0}'
  d1_settings '{"latency_ms":0}'
  psql -X -q -c "ALTER SYSTEM RESET pg2d1.max_retries" -c "SELECT pg_reload_conf()" >/dev/null
  echo "       proof 5: $(elapsed "$T") (outage 120 s)"
}

# =============================================================================================
# 6. The ledger has no gap: ranges (after_key, through_key] chain from NULL to NULL
proof6() {
  echo "# 6. The ledger has no gap: ranges (after_key, through_key] chain from NULL to NULL"
  for t in p5 p2_int p2_uuid; do
    job=$(last_job $t)
    echo "       $t job $job: $(q "SELECT count(*) || ' checkpoints, ' || count(*) FILTER (WHERE skipped) || ' skipped' FROM pg2d1.checkpoints WHERE job_id = $job")"
    check "$t: the last job's ranges chain without a gap (first after_key NULL, each after_key = previous through_key, last through_key NULL)" \
      chain_ok "$job"
  done
  for t in p5 p2_int; do
    job=$(last_job $t)
    check_eq "$t: every row lies in the range that counted it (after_key < id ≤ through_key)" 0 range_counts_off $t "$job"
    check_eq "$t: the ranges' rows add up to the table" "$(q "SELECT count(*) FROM $t")" \
      q "SELECT sum(records_processed) FROM pg2d1.checkpoints WHERE job_id = $job"
  done
}

# COMPLETE_PROOFS="1 3" runs only those (proof 6 reads the ledgers proofs 2 and 5 leave).
for n in ${COMPLETE_PROOFS:-1 2 3 4 5 6}; do "proof$n"; done

echo "       suite: $(elapsed "$T_SUITE")"
report_checks complete
[ "$CHECKS_FAILED" -eq 0 ]

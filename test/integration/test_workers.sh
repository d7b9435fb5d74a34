#!/usr/bin/env bash
# test_workers.sh — background workers against the local D1 server: detached jobs, the
# launcher's restart of jobs after kill -9 and server restarts, cancel, failed checkpoints,
# concurrent tables, pg_cron. Every outcome is checked by reading D1's SQLite file back.
# Needs a cluster started with shared_preload_libraries = 'pg2d1,pg_cron',
# pg2d1.database = cron.database_name = 'pg2d1_wt'. Prints "workers: N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh"
WORK=${WORK:-$(mktemp -d)}
trap cleanup_all EXIT
start_d1 "$WORK/d1" || exit 1
export PGDATABASE=pg2d1_wt
dropdb --force --if-exists pg2d1_wt 2>/dev/null; psql -X -q -d postgres -c "DROP ROLE IF EXISTS pg2d1_user" 2>/dev/null; createdb pg2d1_wt
pgsql -v rows=60000 -v cameras=20000 -f "$REPO_ROOT/bench/generate.sql" >/dev/null 2>&1
setup_pg2d1_server >/dev/null
q() { PGOPTIONS='-c client_min_messages=warning' psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }
compare() { python3 "$REPO_ROOT/test/integration/compare.py" "$1" "$D1_SQLITE"; }
remote_ok() { # table → all D1 checkpoints of the table completed and their ranges disjoint, rows = table size
  local t=$1 n
  n=$(q "SELECT count(*) FROM $t")
  d1_sqlite "SELECT count(*) = sum(status='completed') AND sum(records_processed) = $n FROM migration_checkpoints WHERE table_name='$t'" | grep -qx 1 \
    && [ "$(d1_sqlite "SELECT count(*) FROM migration_checkpoints a JOIN migration_checkpoints b ON a.table_name=b.table_name AND a.id<b.id AND a.start_id<=b.end_id AND b.start_id<=a.end_id WHERE a.table_name='$t'")" = 0 ]
}
worker_pid() { q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg2d1 worker' LIMIT 1"; }
q "SELECT count(*) FROM pg2d1_setup_schema(ARRAY['coordinate_speed_new','camera_locations']::regclass[], create_indexes => false)" >/dev/null

check "the launcher runs for this database" \
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg2d1 launcher' AND datname = 'pg2d1_wt'" 1 30

# Slow D1 down so jobs are caught in the middle: 40 ms per request, small requests.
d1_settings '{"latency_ms":40}'
t0=$(date +%s%N)
job=$(q "SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 10000, batch_size => 1000)")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "pg2d1_migrate returns a job id at once (${ms} ms)" test "$ms" -lt 3000
check "the worker shows in pg_stat_activity with job and table, never a token" \
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg2d1 worker' AND application_name = 'pg2d1 job $job' AND query LIKE '%coordinate_speed_new%' AND query NOT LIKE '%$D1_TOKEN%'" 1 20
check_eq "a second call while it runs returns the running job's id" "$job" \
  q "SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 10000, batch_size => 1000)"
check "progress moves while the job runs" \
  wait_sql "SELECT rows_done > 0 AND rows_done < rows_total AND percent > 0 AND bar LIKE '[#%' FROM pg2d1_progress WHERE job_id = $job" t 30

# kill -9 of the worker at random moments: the postmaster restarts, the launcher resumes.
for i in 1 2 3; do
  sleep "0.$((RANDOM % 8 + 2))"
  pid=$(worker_pid)
  [ -n "$pid" ] && kill -9 "$pid"
  wait_sql "SELECT 1" 1 30 >/dev/null
done
check "job completes after 3 kill -9 of its worker" \
  wait_sql "SELECT status FROM pg2d1.jobs WHERE job_id = $job" completed 120
check "D1 equals PostgreSQL after kill -9" compare coordinate_speed_new
check "D1 checkpoints all completed, no overlaps, rows = table" remote_ok coordinate_speed_new
check_eq "local checkpoints all completed" "0" \
  q "SELECT count(*) FROM pg2d1.checkpoints WHERE job_id = $job AND status <> 'completed'"

# A fast and an immediate restart in the middle of a job.
for mode in fast immediate; do
  job=$(q "SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 10000, batch_size => 1000, resume => false)")
  wait_sql "SELECT rows_done > 5000 FROM pg2d1.jobs WHERE job_id = $job" t 30 >/dev/null
  restart_pg "$mode"
  check "$mode restart mid-job: job $job completes by itself" \
    wait_sql "SELECT status FROM pg2d1.jobs WHERE job_id = $job" completed 120
  check "$mode restart: D1 equals PostgreSQL" compare coordinate_speed_new
  check "$mode restart: D1 checkpoints consistent" remote_ok coordinate_speed_new
  check_eq "$mode restart: resume => false re-sent every checkpoint" "0" \
    q "SELECT count(*) FROM pg2d1.checkpoints WHERE job_id = $job AND skipped"
done

# Cancel, then a new call finishes the work.
d1_settings '{"latency_ms":150}'
job=$(q "SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 10000, batch_size => 1000, resume => false)")
wait_sql "SELECT rows_done > 0 FROM pg2d1.jobs WHERE job_id = $job" t 30 >/dev/null
check_eq "pg2d1_cancel stops the job" "t" q "SELECT pg2d1_cancel($job)"
check "the worker is gone after cancel" wait_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg2d1 job $job'" 0 20
check_eq "cancelled jobs are not restarted" "cancelled" q "SELECT status FROM pg2d1.jobs WHERE job_id = $job"
check_eq "cancel marks no checkpoint failed, locally" "0" \
  q "SELECT count(*) FROM pg2d1.checkpoints WHERE job_id = $job AND status = 'failed'"
check_eq "…nor in D1" "0" d1_sqlite "SELECT count(*) FROM migration_checkpoints WHERE table_name = 'coordinate_speed_new' AND status = 'failed'"
d1_settings '{"latency_ms":40}'
job2=$(q "SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 10000, batch_size => 1000)")
check "a new call after cancel completes" wait_sql "SELECT status FROM pg2d1.jobs WHERE job_id = $job2" completed 120
check "after cancel + new call: D1 equals PostgreSQL" compare coordinate_speed_new
check "after cancel + new call: D1 checkpoints consistent" remote_ok coordinate_speed_new
d1_settings '{"latency_ms":0}'

# Two tables at once.
ja=$(q "SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 15000, resume => false)")
jb=$(q "SELECT pg2d1_migrate('camera_locations', checkpoint_size => 5000, resume => false)")
check "two tables migrate at once" wait_sql "SELECT count(*) FROM pg2d1.jobs WHERE job_id IN ($ja, $jb) AND status = 'completed'" 2 120
check "table 1 of 2 equal" compare coordinate_speed_new
check "table 2 of 2 equal" compare camera_locations

# A checkpoint D1 rejects: failed with D1's words, locally and remotely; the next run completes it.
d1_admin faults '{"fail_sql_regex":"VALUES \\(30001,","fail_sql_message":"CHECK constraint failed: injected: SQLITE_CONSTRAINT"}'
job=$(q "SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 10000, resume => false)")
check "a rejected checkpoint fails the job" wait_sql "SELECT status FROM pg2d1.jobs WHERE job_id = $job" failed 60
check_eq "local checkpoint failed with D1's message" "failed|t" \
  q "SELECT status, error_message LIKE '%CHECK constraint failed: injected%' FROM pg2d1_checkpoints WHERE job_id = $job AND start_id = 30001"
check_eq "remote checkpoint failed with D1's message" "failed|1" \
  d1_sqlite "SELECT status, error_message LIKE '%CHECK constraint failed: injected%' FROM migration_checkpoints WHERE table_name='coordinate_speed_new' AND start_id=30001"
check "the job's last_error names table and range" \
  wait_sql "SELECT last_error LIKE '%coordinate_speed_new%id > 30000 and <= 40000%' FROM pg2d1_progress WHERE job_id = $job" t 5
out=$(psql -X -c "SELECT pg2d1_migrate('coordinate_speed_new', wait => true)" 2>&1)
check "wait => true raises when the job fails" grep -q 'ERROR:  pg2d1 job [0-9]* for "coordinate_speed_new" failed' <<<"$out"
d1_admin faults '{"fail_sql_regex":null}'
job=$(q "SELECT pg2d1_retry_failed('coordinate_speed_new')")
check "pg2d1_retry_failed completes the job after the cause is removed" \
  wait_sql "SELECT status FROM pg2d1.jobs WHERE job_id = $job" completed 60
check_eq "…re-sending only what was not completed" "3" \
  q "SELECT count(*) FROM pg2d1.checkpoints WHERE job_id = $job AND NOT skipped"
check "D1 equals PostgreSQL after retry" compare coordinate_speed_new
check "D1 checkpoints consistent after retry" remote_ok coordinate_speed_new

# Foreign-key order.
q "CREATE TABLE parent_t (id int PRIMARY KEY, name text); CREATE TABLE child_t (id int PRIMARY KEY, parent_id int REFERENCES parent_t); INSERT INTO parent_t SELECT g, 'p' || g FROM generate_series(1, 500) g; INSERT INTO child_t SELECT g, 1 + g % 500 FROM generate_series(1, 2000) g" >/dev/null
check_eq "pg2d1_migrate_all orders parents before children" "parent_t
child_t" q "SELECT table_name FROM pg2d1_migrate_all(ARRAY['child_t','parent_t']::regclass[])"
check "migrate_all jobs complete" wait_sql "SELECT count(*) FROM pg2d1.jobs WHERE table_name IN ('parent_t','child_t') AND status = 'completed'" 2 60
check "child job started after its parent finished" test "$(q "SELECT c.started_at >= p.finished_at OR c.phase IS NULL FROM pg2d1.jobs c, pg2d1.jobs p WHERE c.table_name = 'child_t' AND p.table_name = 'parent_t'")" = t
check "child_t equal" compare child_t

# pg_cron schedules the migration; a run that finds everything done costs nothing.
q "CREATE EXTENSION IF NOT EXISTS pg_cron" >/dev/null
q "INSERT INTO camera_locations (location_id, longitude, latitude) SELECT 'CRON-' || g, g, g FROM generate_series(1, 100) g" >/dev/null
q "SELECT cron.schedule('pg2d1-cameras', '* * * * *', \$\$SELECT pg2d1_migrate('camera_locations', checkpoint_size => 5000)\$\$)" >/dev/null
check "pg_cron runs pg2d1_migrate (every minute) and the job completes" \
  wait_sql "SELECT count(*) > 0 FROM pg2d1.jobs j JOIN cron.job_run_details r ON r.status = 'succeeded' WHERE j.table_name = 'camera_locations' AND j.status = 'completed' AND j.started_at > now() - interval '2 minutes'" t 100
q "SELECT cron.unschedule('pg2d1-cameras')" >/dev/null
wait_sql "SELECT count(*) FROM pg2d1.jobs WHERE status IN ('queued','running')" 0 30 >/dev/null
check "cron-scheduled copy equals PostgreSQL" compare camera_locations

# Reset: forget the checkpoints locally and in D1; the next run copies everything again.
check_eq "pg2d1_reset_stuck finds nothing stuck" "0" q "SELECT pg2d1_reset_stuck('camera_locations')"
check "pg2d1_reset forgets the table's jobs" test "$(q "SELECT pg2d1_reset('camera_locations')")" -gt 0
check_eq "…locally" "0" q "SELECT count(*) FROM pg2d1.jobs WHERE table_name = 'camera_locations'"
check_eq "…and in D1" "0" d1_sqlite "SELECT count(*) FROM migration_checkpoints WHERE table_name = 'camera_locations'"
out=$(psql -X -c "SELECT pg2d1_migrate('camera_locations', wait => true)" 2>&1)
check "after a reset the next run copies every checkpoint" grep -q " 0 already complete" <<<"$out"

# An ordinary role: its worker runs as that role, it sees only its own jobs.
q "CREATE ROLE pg2d1_user LOGIN; GRANT SELECT ON parent_t TO pg2d1_user; GRANT USAGE ON FOREIGN SERVER d1 TO pg2d1_user; CREATE USER MAPPING FOR pg2d1_user SERVER d1 OPTIONS (api_token '$D1_TOKEN')" >/dev/null
as_user() { PGUSER=pg2d1_user psql -X -A -t -c "$1" 2>&1; }
out=$(as_user "SELECT pg2d1_migrate('parent_t', resume => false, wait => true)")
check "an ordinary role migrates a table it may read" grep -q "rows in" <<<"$out"
check_eq "…and sees only its own jobs" "1|1" \
  as_user "SELECT count(*), count(*) FILTER (WHERE status = 'completed') FROM pg2d1_progress"
out=$(as_user "SELECT pg2d1_migrate('child_t', wait => true)")
check "…and is refused a table it may not read" grep -q "permission denied for table child_t" <<<"$out"

# A composite text key resumes after kill -9 too: its checkpoints are row ordinals with
# key bounds in the ledger; the resumed worker must neither skip nor repeat a range.
q "CREATE TABLE ck (region text NOT NULL, seq int NOT NULL, v text, PRIMARY KEY (region, seq));
   INSERT INTO ck SELECT (ARRAY['north','South','éast','west'])[1 + g % 4], g, md5(g::text) FROM generate_series(1, 30000) g" >/dev/null
d1_settings '{"latency_ms":40}'
job=$(q "SELECT pg2d1_migrate('ck', checkpoint_size => 3000, batch_size => 500)")
for i in 1 2; do
  wait_sql "SELECT rows_done > $((i * 6000)) FROM pg2d1.jobs WHERE job_id = $job" t 60 >/dev/null
  pid=$(worker_pid)
  [ -n "$pid" ] && kill -9 "$pid"
  wait_sql "SELECT 1" 1 30 >/dev/null
done
check "composite-key job completes after 2 kill -9 of its worker" \
  wait_sql "SELECT status FROM pg2d1.jobs WHERE job_id = $job" completed 120
d1_settings '{"latency_ms":0}'
check "composite-key table equals PostgreSQL after kill -9" \
  python3 "$REPO_ROOT/test/integration/compare.py" ck "$D1_SQLITE" --key region,seq
check "composite-key checkpoints: all completed, disjoint, rows = table" remote_ok ck
check_eq "pg2d1_verify: every range of ck equal" "0|30000" \
  q "SELECT count(*) FILTER (WHERE NOT ok), sum(pg_count) FROM pg2d1_verify('ck')"

report_checks workers
[ "$CHECKS_FAILED" -eq 0 ]

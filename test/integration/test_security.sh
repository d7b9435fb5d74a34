#!/usr/bin/env bash
# shellcheck disable=SC2016  # the bash -c '…' bodies below expand their own arguments
# test_security.sh — the security model of pg2d1 0.2 against the local D1 server: who may
# write the ledger, use credentials, touch another role's jobs and tables; what a corrupt
# ledger, a dropped owner, a NOLOGIN role, a shadowing function, an insecure api_url and a
# dump/restore can and cannot do; and that the API token never leaks.
# Needs a cluster started by run-all.sh with start_pg_with_workers "$WORK/pg" pg2d1_wt
# (pg2d1 and pg_cron preloaded, the launcher watching pg2d1_wt). It drops and recreates
# pg2d1_wt (as test_workers.sh does) so the launcher serves the jobs; when pg2d1_wt is
# dropped the launcher exits, is restarted by the postmaster every 5 s and connects again
# once the database exists. Creates the roles alice, bob, carol, dana, grp and the databases
# pg2d1_sec_nosrv, pg2d1_sec_src, pg2d1_sec_restore; drops all of them (and pg2d1_wt) at the
# end. Prints "security: N passed, N failed"; keeps its files in $WORK only on failure.
#
# Cast: postgres (superuser); alice, bob, carol (LOGIN, no special rights); dana (LOGIN,
# member of pg2d1_admin); grp (NOLOGIN group, alice is a member).
#
# Attacks and the refusal each must meet (the ledger and D1 unchanged unless said otherwise):
#
# | attack | expected |
# |---|---|
# | ordinary role `INSERT INTO pg2d1.jobs …` (a job with requests_per_second = 10000) | 42501 `permission denied for table jobs` |
# | ordinary role `UPDATE pg2d1.jobs SET status = 'queued'` on its own finished job | 42501 `permission denied for table jobs` |
# | ordinary role `UPDATE pg2d1.checkpoints SET status = NULL` | 42501 `permission denied for table checkpoints` |
# | ordinary role `INSERT INTO pg2d1.checkpoints …` (a `completed` range planted for another role's table) | 42501 `permission denied for table checkpoints` |
# | ordinary role `DELETE FROM pg2d1.checkpoints`, `TRUNCATE pg2d1.jobs` | 42501 |
# | ordinary role `INSERT INTO pg2d1.table_keys …` | 42501 `permission denied for table table_keys` |
# | ordinary role `SELECT nextval('pg2d1.jobs_job_id_seq')` | 42501 `permission denied for sequence jobs_job_id_seq` |
# | ordinary role `SET pg2d1.requests_per_second = 10000` | 42501 (superuser-only setting) |
# | superuser `UPDATE pg2d1.checkpoints SET status = NULL` (the crash loop of 0.1) | 23502 not-null violation |
# | superuser corrupts a ledger the schema allows (checkpoints deleted under a running worker; `records_processed = -1`; `after_key` of the wrong length; `after_key` not a value of the key; a CHECK refusing the change is fine too) and re-queues the job | the job ends `failed` with a message or `completed` with D1 = PostgreSQL; no worker killed by a signal, no crash restart |
# | role without USAGE on the server: `pg2d1_validate('d1')`, `pg2d1_migrate(t, target => 'd1')` | 42501 `permission denied for foreign server d1` |
# | role with USAGE but no user mapping | 42704 `no user mapping for the current user on server "d1"`, HINT `CREATE USER MAPPING FOR …` |
# | (allowed) an explicit `CREATE USER MAPPING FOR PUBLIC` | serves every role with USAGE |
# | ordinary role, no pg2d1 server: environment credentials | 42501 `only superusers and members of pg2d1_admin may use the server's environment credentials` + HINT; superusers and pg2d1_admin members get the normal `no D1 credentials` error |
# | ordinary role `pg2d1_query(…)` | 42501 `permission denied for function pg2d1_query` (pg2d1_admin members may) |
# | `pg2d1_use_key(another role's table, its index)` | 42501 `must be owner of table …` |
# | `pg2d1_cancel(another role's job)` | 42501 `job N belongs to role "x"`; the job runs on |
# | reading another role's jobs (`pg2d1.jobs`, `pg2d1_progress`, `pg2d1_checkpoints`) | no rows (pg2d1_admin members see all) |
# | `pg2d1_reset` / `pg2d1_reset_stuck` / `pg2d1_retry_failed` on a table the caller may not read | 42501; nothing removed locally or in D1 |
# | `pg2d1_reset` on a readable table with only another role's jobs | nothing of the other role's removed, locally or in D1 |
# | `SET ROLE nologin_group; SELECT pg2d1_migrate(…)` | 42501 `role "grp" cannot log in, and the migration worker runs as the calling role`; no job |
# | the owner of a running job is dropped, its worker killed (kill -9) | the launcher fails the job, last_error naming the role |
# | `CREATE SERVER … OPTIONS (api_url 'http://example.com/…')` (also `http://127.0.0.1.nip.io`, `http://127.0.0.1@example.com`, `ALTER SERVER … SET api_url`) | 22023 `api_url must use https:// …` (https:// and http:// to 127.0.0.0/8, localhost, [::1] accepted) |
# | another role's `pg2d1_query` / `pg2d1_migrate` shadowing the extension's in a schema earlier in the caller's search_path (`$user`, or set explicitly) | pg2d1_reset, pg2d1_reset_stuck, pg2d1_retry_failed, pg2d1_migrate_all, pg2d1_cancel never call it |
# | looking for the API token: server log at log_min_messages = debug5, pg_stat_activity, pg2d1_progress, pg2d1_checkpoints, pg2d1.jobs, D1's migration_checkpoints, errors of failing validate/query/migrate (D1 down, D1 failing, a wrong token that contains the right one) | never found |
# | pg_dump + pg_restore of a database with completed, queued and running jobs into a fresh database watched by the launcher | relid and owner still name the same table and role; queued/running jobs become `paused`, no worker starts; `pg2d1_migrate(t)` starts a new job that resumes from the ledger |
#
# Still allowed: an ordinary role migrates its own table (wait => true, D1 = PostgreSQL),
# sees its own progress, cancels its own job, runs pg2d1_verify on its table.
set -uo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
LOG="$PGHOST/server.log"
LOG_START=$(stat -c %s "$LOG" 2>/dev/null || echo 0)
# A distinctive token: whatever leaks it, grep finds it.
D1_TOKEN="pg2d1-sec-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export D1_TOKEN
ROLES="alice, bob, carol, dana, grp"
DBS="pg2d1_sec_nosrv pg2d1_sec_src pg2d1_sec_restore pg2d1_wt"

drop_all() { # databases, then roles (they own objects only in these databases)
  local db
  for db in $DBS; do dropdb --force --if-exists "$db" >/dev/null 2>&1; done
  psql -X -q -d postgres -c "DROP ROLE IF EXISTS $ROLES" >/dev/null 2>&1
}
finish() {
  psql -X -q -d postgres -c "ALTER SYSTEM RESET log_min_messages" -c "SELECT pg_reload_conf()" >/dev/null 2>&1
  drop_all
  cleanup_all
  if [ "$CHECKS_FAILED" -eq 0 ]; then
    rm -rf "$WORK/d1" "$WORK"/*.dump "$WORK/pg-server.log"
    rmdir "$WORK" 2>/dev/null || true
  else
    tail -c +"$((LOG_START + 1))" "$LOG" >"$WORK/pg-server.log" 2>/dev/null
    echo "security: files kept in $WORK (pg-server.log = the server log of this run, d1/server.log)"
  fi
}
trap finish EXIT

start_d1 "$WORK/d1" || exit 1
export PGDATABASE=pg2d1_wt
drop_all
createdb pg2d1_wt
setup_pg2d1_server >/dev/null   # server d1 (api_url = the local D1), a user mapping for postgres

# --- helpers -------------------------------------------------------------------------------
# q SQL — as the superuser in $PGDATABASE; as_role ROLE SQL — as that role, errors verbose.
# (statement_timeout: a build that never answers must not hang the suite)
OPTS='-c client_min_messages=warning -c statement_timeout=120s'
q() { PGOPTIONS=$OPTS psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
as_role() { PGOPTIONS=$OPTS psql -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -U "$1" -c "$2" 2>&1; }
num() { if [[ ${1:-} =~ ^[0-9]+$ ]]; then echo "$1"; else echo 0; fi; } # a job id, or 0
# refused ROLE SQLSTATE REGEX SQL — the SQL fails with that SQLSTATE and a message matching REGEX.
refused() {
  local out
  out=$(as_role "$1" "$4")
  grep -qE "^ERROR:  $2: .*$3" <<<"$out" && return 0
  echo "expected ERROR $2 /$3/, got:"; head -n 8 <<<"$out"; return 1
}
# hint_has ROLE REGEX SQL — the SQL fails with a HINT matching REGEX.
hint_has() {
  local out
  out=$(as_role "$1" "$3")
  grep -qE "^HINT:  .*$2" <<<"$out" && return 0
  echo "expected a HINT /$2/, got:"; head -n 8 <<<"$out"; return 1
}
# validate_refused ROLE SQLSTATE REGEX [TARGET-ARG] — pg2d1_validate raises that error, or
# (its 0.1 manner with credential errors) returns only a failed credentials row saying it,
# without contacting D1.
validate_refused() {
  local out
  out=$(as_role "$1" "SELECT \"check\", ok, detail FROM pg2d1_validate(${4:-})")
  grep -qE "^ERROR:  $2: .*$3" <<<"$out" && return 0
  [ "$(wc -l <<<"$out")" = 1 ] && grep -qE "^credentials\|f\|.*$3" <<<"$out" && return 0
  echo "expected ERROR $2 /$3/ (or only a failed credentials row saying so), got:"; head -n 8 <<<"$out"; return 1
}
compare() { python3 "$REPO_ROOT/test/integration/compare.py" "$1" "$D1_SQLITE"; }
# The ledger as the superuser sees it: counts and a digest of every row and both sequences.
ledger() {
  q "SELECT (SELECT count(*) FROM pg2d1.jobs) || ' jobs, ' || (SELECT count(*) FROM pg2d1.checkpoints) || ' checkpoints, '
       || (SELECT count(*) FROM pg2d1.table_keys) || ' keys, md5 ' || md5(concat_ws('#',
       (SELECT string_agg(j::text, '|' ORDER BY job_id) FROM pg2d1.jobs j),
       (SELECT string_agg(c::text, '|' ORDER BY id) FROM pg2d1.checkpoints c),
       (SELECT string_agg(k::text, '|' ORDER BY relid) FROM pg2d1.table_keys k),
       (SELECT last_value || ',' || is_called FROM pg2d1.jobs_job_id_seq),
       (SELECT last_value || ',' || is_called FROM pg2d1.checkpoints_id_seq)))"
}
d1_ledger() { d1_sqlite "SELECT count(*) || ' rows, ' || coalesce(sum(status = 'completed'), 0) || ' completed' FROM migration_checkpoints WHERE table_name = '$1'"; }
local_ledger() { q "SELECT count(DISTINCT j.job_id) || ' jobs, ' || count(c.id) || ' checkpoints' FROM pg2d1.jobs j LEFT JOIN pg2d1.checkpoints c USING (job_id) WHERE j.table_name = '$1'"; }
job_status() { q "SELECT coalesce((SELECT status FROM pg2d1.jobs WHERE job_id = $1), 'missing')"; }
worker_of() { q "SELECT pid FROM pg_stat_activity WHERE application_name = 'pg2d1 job $1' LIMIT 1"; }
# settle JOB [SECONDS] — waits until the job left queued/running/waiting; if it does not, cancels
# it (a build that loops must not take the rest of the suite with it) and fails.
settle() {
  local job=$1 limit=${2:-60}
  wait_sql "SELECT coalesce((SELECT status FROM pg2d1.jobs WHERE job_id = $job), 'missing') NOT IN ('queued','running','waiting')" t "$limit" >/dev/null && return 0
  echo "job $job still $(job_status "$job") after ${limit}s; cancelled by the test"
  q "SELECT pg2d1_cancel($job)" >/dev/null 2>&1
  q "UPDATE pg2d1.jobs SET status = 'cancelled' WHERE job_id = $job AND status IN ('queued','running','waiting')" >/dev/null 2>&1
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg2d1 job $job'" 0 20 >/dev/null
  return 1
}
settle_all() { # every job of $PGDATABASE ends (or is cancelled)
  local j
  wait_sql "SELECT count(*) FROM pg2d1.jobs WHERE status IN ('queued','running','waiting')" 0 "${1:-30}" >/dev/null && return 0
  for j in $(q "SELECT job_id FROM pg2d1.jobs WHERE status IN ('queued','running','waiting')"); do settle "$j" 1 >/dev/null; done
  return 1
}
# ended_cleanly JOB TABLE — the job ended failed with a message, or completed with D1 = PostgreSQL.
ended_cleanly() {
  local st
  settle "$1" 40 || return 1
  st=$(q "SELECT status || '|' || coalesce(last_error, '') FROM pg2d1.jobs WHERE job_id = $1")
  echo "       job $1: ${st:0:160}"
  case $st in
    failed\|?*) return 0 ;;
    completed\|*) compare "$2" ;;
    *) echo "job $1 ended as [$st] (failed needs a message)"; return 1 ;;
  esac
}
# corrupt SQL — a ledger corruption by the superuser that must touch exactly one row
# (prints "1"); a refusal by the schema (SQLSTATE class 23) is as good.
corrupt() {
  local out
  out=$(PGOPTIONS=$OPTS psql -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "$1" 2>&1)
  [ "$out" = 1 ] && return 0
  grep -qE '^ERROR:  23[0-9A-Z]{3}:' <<<"$out" && { echo "       refused by the schema: $(head -n1 <<<"$out")"; return 0; }
  echo "$out"; return 1
}
# requeue JOB — as the superuser, puts a finished job back in the queue and wakes the launcher
# (a job committed by pg2d1_migrate sets its latch; a direct UPDATE does not).
requeue() {
  q "UPDATE pg2d1.jobs SET status = 'queued', finished_at = NULL, last_error = NULL WHERE job_id = $1" >/dev/null
  q "SELECT pg2d1_migrate('nudge_t')" >/dev/null
}
no_token() { # LABEL TEXT — the token does not occur in TEXT
  if grep -qF -- "$D1_TOKEN" <<<"$2"; then
    echo "the token occurs in $1:"; grep -F -- "$D1_TOKEN" <<<"$2" | sed "s/$D1_TOKEN/<TOKEN>/g" | head -n 5; return 1
  fi
}
masked() { # COMMAND… — runs it, the token masked in its output
  "$@" 2>&1 | sed "s/$D1_TOKEN/<TOKEN>/g"
  return "${PIPESTATUS[0]}"
}
log_since() { tail -c +"$(($1 + 1))" "$LOG"; }
no_token_in_log() { # OFFSET
  if log_since "$1" | grep -qF -- "$D1_TOKEN"; then
    echo "the token occurs in the server log:"; log_since "$1" | grep -F -- "$D1_TOKEN" | sed "s/$D1_TOKEN/<TOKEN>/g" | head -n 5; return 1
  fi
}
outcome() { echo "       job $1: $(q "SELECT status || ' ' || coalesce(left(last_error, 150), '') FROM pg2d1.jobs WHERE job_id = $1")"; }
no_crash_since() { # OFFSET — no process killed by a signal and no crash restart in the log since OFFSET
  local bad
  bad=$(log_since "$1" | grep -E 'terminated by signal|server process .* was terminated|terminating any other active server processes|PANIC' | head -n 5)
  [ -z "$bad" ] && return 0
  echo "$bad"; return 1
}
T0=$(date +%s)
section() { echo "# $* ($(( $(date +%s) - T0 )) s)"; }
no_worker_for() { # DB SECONDS — no pg2d1 worker appears in DB during SECONDS
  local i n
  for ((i = 0; i < $2 * 5; i++)); do
    n=$(q "SELECT string_agg(application_name, ', ') FROM pg_stat_activity WHERE backend_type = 'pg2d1 worker' AND datname = '$1'")
    [ -z "$n" ] || { echo "a pg2d1 worker runs in $1: $n"; return 1; }
    sleep 0.2
  done
}

section "cast and tables"
# --- cast and tables -----------------------------------------------------------------------
psql -X -q -d postgres -c "CREATE ROLE alice LOGIN" -c "CREATE ROLE bob LOGIN" -c "CREATE ROLE carol LOGIN" \
  -c "CREATE ROLE dana LOGIN" -c "CREATE ROLE grp NOLOGIN" -c "GRANT grp TO alice" >/dev/null
check_eq "the extension creates the NOLOGIN role pg2d1_admin" "f" \
  q "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'pg2d1_admin'"
q "GRANT pg2d1_admin TO dana" >/dev/null 2>&1
pgsql >/dev/null <<'SQL'
CREATE TABLE pg_t (id int PRIMARY KEY, code text NOT NULL UNIQUE, v text);
INSERT INTO pg_t SELECT g, 'c' || g, md5(g::text) FROM generate_series(1, 20000) g;
CREATE TABLE shared_t (id int PRIMARY KEY, v text);
INSERT INTO shared_t SELECT g, md5(g::text) FROM generate_series(1, 2000) g;
CREATE TABLE crash_t (id int PRIMARY KEY, v text);
INSERT INTO crash_t SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 12000) g;
CREATE TABLE carol_t (id int PRIMARY KEY, v text);
INSERT INTO carol_t SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
CREATE TABLE grp_t (id int PRIMARY KEY);
INSERT INTO grp_t SELECT generate_series(1, 100);
CREATE TABLE victim_t (id int PRIMARY KEY, v text);
INSERT INTO victim_t SELECT g, md5(g::text) FROM generate_series(1, 500) g;
CREATE TABLE nudge_t (id int PRIMARY KEY);
INSERT INTO nudge_t VALUES (1);
GRANT SELECT ON shared_t TO alice, dana;
GRANT SELECT ON carol_t TO carol;
GRANT SELECT ON grp_t TO grp;
GRANT CREATE ON SCHEMA public TO alice, bob;   -- for their own tables; revoked below
GRANT USAGE ON FOREIGN SERVER d1 TO alice, carol, dana, grp;
SQL
for r in alice carol dana grp; do q "CREATE USER MAPPING FOR $r SERVER d1 OPTIONS (api_token '$D1_TOKEN')" >/dev/null; done
as_role alice "CREATE TABLE alice_t (id int PRIMARY KEY, code text NOT NULL UNIQUE, v text);
               INSERT INTO alice_t SELECT g, 'a' || g, md5(g::text) FROM generate_series(1, 5000) g" >/dev/null
as_role bob "CREATE TABLE bob_t (id int PRIMARY KEY, v text);
             INSERT INTO bob_t SELECT g, md5(g::text) FROM generate_series(1, 1000) g" >/dev/null
q "REVOKE CREATE ON SCHEMA public FROM alice, bob" >/dev/null

check "the launcher serves pg2d1_wt (recreated: the launcher reconnects within 5 s)" \
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg2d1 launcher' AND datname = 'pg2d1_wt'" 1 30
q "SELECT pg2d1_migrate('pg_t', checkpoint_size => 5000, wait => true)" >/dev/null
q "SELECT pg2d1_migrate('shared_t', checkpoint_size => 500, wait => true)" >/dev/null
q "SELECT pg2d1_migrate('victim_t', wait => true)" >/dev/null
PG_JOB=$(num "$(q "SELECT max(job_id) FROM pg2d1.jobs WHERE table_name = 'pg_t'")")

section "what an ordinary role may still do"
# --- what an ordinary role may still do --------------------------------------------------------
out=$(as_role alice "SELECT pg2d1_migrate('alice_t', checkpoint_size => 1000, wait => true)")
AJ=$(num "$(tail -n1 <<<"$out")")
check "alice migrates her own table (wait => true)" bash -c '[ "$1" -gt 0 ] || { echo "$2"; exit 1; }' _ "$AJ" "$out"
check "alice's table: D1 equals PostgreSQL" compare alice_t
check_eq "alice sees her own job in pg2d1_progress" "completed|100.0" \
  as_role alice "SELECT status, percent FROM pg2d1_progress WHERE job_id = $AJ"
check_eq "alice sees her own checkpoints in pg2d1_checkpoints" "5|5" \
  as_role alice "SELECT count(*), count(*) FILTER (WHERE status = 'completed') FROM pg2d1_checkpoints WHERE job_id = $AJ"
check_eq "alice runs pg2d1_verify on her table: every range equal" "0|5000" \
  as_role alice "SELECT count(*) FILTER (WHERE NOT ok), sum(pg_count) FROM pg2d1_verify('alice_t')"
d1_settings '{"latency_ms":200}'
AJ2=$(num "$(as_role alice "SELECT pg2d1_migrate('alice_t', checkpoint_size => 1000, batch_size => 100, resume => false)")")
wait_sql "SELECT rows_done > 0 FROM pg2d1.jobs WHERE job_id = $AJ2" t 30 >/dev/null
check_eq "alice cancels her own running job" "t" as_role alice "SELECT pg2d1_cancel($AJ2)"
check "…its worker stops" \
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg2d1 job $AJ2'" 0 20
check_eq "…status cancelled" "cancelled" job_status "$AJ2"
d1_settings '{"latency_ms":0}'
check_eq "pg2d1_cancel of an unknown job is false" "f" as_role alice "SELECT pg2d1_cancel(987654321)"

section "1. direct writes"
# --- 1. direct writes to the ledger ----------------------------------------------------------
settle_all 30
before=$(ledger)
check "alice: INSERT INTO pg2d1.jobs (a job at 10000 requests/s) → 42501" \
  refused alice 42501 'permission denied for table jobs' \
  "INSERT INTO pg2d1.jobs (table_name, relid, owner, status, checkpoint_size, requests_per_second)
   SELECT table_name, relid, owner, 'queued', checkpoint_size, 10000 FROM pg2d1.jobs WHERE job_id = $AJ"
check "alice: INSERT INTO pg2d1.checkpoints (a completed range of postgres's table) → 42501" \
  refused alice 42501 'permission denied for table checkpoints' \
  "INSERT INTO pg2d1.checkpoints (job_id, table_name, start_id, end_id, start_key, end_key, records_processed, status)
   VALUES ($AJ, 'pg_t', 1, 5000, '{1}', '{5000}', 5000, 'completed')"
check "alice: DELETE FROM pg2d1.checkpoints → 42501" \
  refused alice 42501 'permission denied for table checkpoints' "DELETE FROM pg2d1.checkpoints"
check "alice: TRUNCATE pg2d1.jobs → 42501" \
  refused alice 42501 'permission denied for table jobs' "TRUNCATE pg2d1.jobs CASCADE"
check "alice: INSERT INTO pg2d1.table_keys → 42501" \
  refused alice 42501 'permission denied for table table_keys' \
  "INSERT INTO pg2d1.table_keys (relid, key_index) VALUES ('pg_t'::regclass, 'pg_t_code_key'::regclass)"
check "alice: nextval('pg2d1.jobs_job_id_seq') → 42501" \
  refused alice 42501 'permission denied for sequence jobs_job_id_seq' "SELECT nextval('pg2d1.jobs_job_id_seq')"
# Rolled back whatever happens: a NULL status put 0.1's workers into a crash loop.
check "alice: UPDATE pg2d1.checkpoints SET status = NULL → 42501" \
  refused alice 42501 'permission denied for table checkpoints' \
  "BEGIN; UPDATE pg2d1.checkpoints SET status = NULL; ROLLBACK"
check "alice: UPDATE pg2d1.jobs SET status = 'queued' on her finished job → 42501" \
  refused alice 42501 'permission denied for table jobs' "UPDATE pg2d1.jobs SET status = 'queued' WHERE job_id = $AJ"
check "alice: SET pg2d1.requests_per_second = 10000 → 42501" \
  refused alice 42501 'permission denied to set parameter' "SET pg2d1.requests_per_second = 10000"
settle_all 30
check_eq "after the direct writes the ledger is unchanged (jobs, checkpoints, keys, sequences)" "$before" ledger

section "3. credentials"
# --- 3. credentials ---------------------------------------------------------------------------
check "bob without USAGE on d1: pg2d1_validate('d1') → 42501" \
  validate_refused bob 42501 'permission denied for foreign server d1' "'d1'"
check "bob without USAGE on d1: pg2d1_migrate(bob_t, target => 'd1') → 42501" \
  refused bob 42501 'permission denied for foreign server d1' "SELECT pg2d1_migrate('bob_t', target => 'd1')"
check "bob without USAGE on d1: pg2d1_migrate(bob_t) (the only server) → 42501" \
  refused bob 42501 'permission denied for foreign server d1' "SELECT pg2d1_migrate('bob_t')"
q "GRANT USAGE ON FOREIGN SERVER d1 TO bob" >/dev/null
check "bob with USAGE, no user mapping: pg2d1_migrate → 42704" \
  refused bob 42704 'no user mapping for the current user on server "d1"' "SELECT pg2d1_migrate('bob_t', target => 'd1')"
check "…with a HINT to create one" hint_has bob 'CREATE USER MAPPING FOR' "SELECT pg2d1_migrate('bob_t', target => 'd1')"
check "bob with USAGE, no user mapping: pg2d1_validate('d1') → 42704" \
  validate_refused bob 42704 'no user mapping for the current user on server "d1"' "'d1'"
check_eq "bob's refused calls created no job" "0" q "SELECT count(*) FROM pg2d1.jobs WHERE table_name = 'bob_t'"
q "CREATE USER MAPPING FOR PUBLIC SERVER d1 OPTIONS (api_token '$D1_TOKEN')" >/dev/null
check_eq "an explicit PUBLIC user mapping serves bob: pg2d1_validate('d1')" "t" \
  as_role bob "SELECT bool_and(ok) FROM pg2d1_validate('d1')"
out=$(as_role bob "SELECT pg2d1_migrate('bob_t', target => 'd1', wait => true)")
check "…and pg2d1_migrate(bob_t, wait => true)" grep -qx '[0-9][0-9]*' <<<"$out"
check "…bob_t: D1 equals PostgreSQL" compare bob_t
q "DROP USER MAPPING FOR PUBLIC SERVER d1" >/dev/null
check "alice: pg2d1_query → 42501 permission denied for function" \
  refused alice 42501 'permission denied for function pg2d1_query' "SELECT pg2d1_query('SELECT 1 AS one')"
check_eq "dana (pg2d1_admin): pg2d1_query works" "1" \
  as_role dana "SELECT pg2d1_query('SELECT 1 AS one')->0->'results'->0->>'one'"
# No pg2d1 server at all: the environment of the server process.
createdb pg2d1_sec_nosrv
PGDATABASE=pg2d1_sec_nosrv pgsql >/dev/null <<'SQL'
CREATE EXTENSION pg2d1;
CREATE TABLE pub_t (id int PRIMARY KEY);
GRANT SELECT ON pub_t TO alice, dana;
SQL
ENVMSG="only superusers and members of pg2d1_admin may use the server.s environment credentials"
PGDATABASE=pg2d1_sec_nosrv check "no server: alice's pg2d1_validate() → 42501 (environment credentials)" \
  validate_refused alice 42501 "$ENVMSG"
PGDATABASE=pg2d1_sec_nosrv check "no server: alice's pg2d1_migrate(pub_t) → 42501" \
  refused alice 42501 "$ENVMSG" "SELECT pg2d1_migrate('pub_t')"
PGDATABASE=pg2d1_sec_nosrv check "…with a HINT to create a server and a user mapping" \
  hint_has alice 'CREATE (SERVER|USER MAPPING)' "SELECT pg2d1_migrate('pub_t')"
for who in postgres dana; do
  out=$(PGDATABASE=pg2d1_sec_nosrv as_role "$who" "SELECT pg2d1_migrate('pub_t')")
  if [ -z "${CLOUDFLARE_API_TOKEN:-}${CLOUDFLARE_ACCOUNT_ID:-}${D1_DATABASE_ID:-}" ]; then
    check "no server: $who gets the ordinary 'no D1 credentials' error, not a privilege error" \
      grep -qE '^ERROR:  22023: no D1 credentials' <<<"$out"
  else
    check "no server: $who is not refused the environment credentials" bash -c '! grep -q "ERROR:  42501" <<<"$1"' _ "$out"
  fi
done

section "4. pg2d1_use_key"
# --- 4. pg2d1_use_key --------------------------------------------------------------------------
before=$(ledger)
check "alice: pg2d1_use_key(postgres's table, its index) → 42501 must be owner" \
  refused alice 42501 'must be owner of table (public\.)?pg_t$' "SELECT pg2d1_use_key('pg_t', 'pg_t_code_key')"
check_eq "…the ledger and table_keys are unchanged" "$before" ledger
q "DELETE FROM pg2d1.table_keys WHERE relid = 'pg_t'::regclass" >/dev/null   # (if a build let it through)
check "alice: pg2d1_use_key on her own table with a unique NOT NULL index works" \
  grep -q 'alice_t_code_key' <<<"$(as_role alice "SELECT pg2d1_use_key('alice_t', 'alice_t_code_key')")"
check_eq "…and is recorded" "1" q "SELECT count(*) FROM pg2d1.table_keys WHERE relid = 'alice_t'::regclass"
as_role alice "SELECT pg2d1_use_key('alice_t', NULL)" >/dev/null

section "5. another role's jobs"
# --- 5. another role's jobs ------------------------------------------------------------------
pg_local=$(local_ledger pg_t); pg_d1=$(d1_ledger pg_t)
sh_local=$(local_ledger shared_t); sh_d1=$(d1_ledger shared_t)
check "alice: pg2d1_reset(pg_t), a table she may not read → 42501" \
  refused alice 42501 'permission denied for table (public\.)?pg_t$' "SELECT pg2d1_reset('pg_t')"
check "alice: pg2d1_reset_stuck(pg_t) → 42501" \
  refused alice 42501 'permission denied for table (public\.)?pg_t$' "SELECT pg2d1_reset_stuck('pg_t')"
check "alice: pg2d1_retry_failed(pg_t) → 42501" \
  refused alice 42501 'permission denied for table (public\.)?pg_t$' "SELECT pg2d1_retry_failed('pg_t')"
check_eq "…postgres's jobs and checkpoints of pg_t are all there" "$pg_local" local_ledger pg_t
check_eq "…and D1's migration_checkpoints of pg_t too" "$pg_d1" d1_ledger pg_t
as_role alice "SELECT pg2d1_reset('shared_t')" >/dev/null
check_eq "alice: pg2d1_reset(shared_t), readable but only postgres's jobs: nothing of postgres's removed" \
  "$sh_local" local_ledger shared_t
check_eq "…nor in D1" "$sh_d1" d1_ledger shared_t

d1_settings '{"latency_ms":200}'
PJ=$(num "$(q "SELECT pg2d1_migrate('pg_t', checkpoint_size => 1000, batch_size => 100, resume => false)")")
wait_sql "SELECT rows_done > 0 FROM pg2d1.jobs WHERE job_id = $PJ" t 30 >/dev/null
done0=$(q "SELECT rows_done FROM pg2d1.jobs WHERE job_id = $PJ")
check "alice: pg2d1_cancel(postgres's job) → 42501 job belongs to role postgres" \
  refused alice 42501 "job $PJ belongs to role \"postgres\"" "SELECT pg2d1_cancel($PJ)"
check "…and the job runs on" wait_sql "SELECT status = 'running' AND rows_done > $done0 FROM pg2d1.jobs WHERE job_id = $PJ" t 20
check_eq "alice cannot see postgres's job in pg2d1.jobs, pg2d1_progress, pg2d1_checkpoints" "0|0|0" \
  as_role alice "SELECT (SELECT count(*) FROM pg2d1.jobs WHERE job_id IN ($PJ, $PG_JOB)),
                        (SELECT count(*) FROM pg2d1_progress WHERE job_id IN ($PJ, $PG_JOB)),
                        (SELECT count(*) FROM pg2d1_checkpoints WHERE job_id IN ($PJ, $PG_JOB))"
check_eq "alice sees exactly her own jobs" "$(q "SELECT string_agg(job_id::text, ',' ORDER BY job_id) FROM pg2d1.jobs WHERE owner::text::regrole::text = 'alice'")" \
  as_role alice "SELECT string_agg(job_id::text, ',' ORDER BY job_id) FROM pg2d1_progress"
check_eq "dana (pg2d1_admin) sees postgres's jobs and checkpoints" "2|t" \
  as_role dana "SELECT (SELECT count(*) FROM pg2d1_progress WHERE job_id IN ($PJ, $PG_JOB)),
                       (SELECT count(*) > 0 FROM pg2d1_checkpoints WHERE job_id = $PG_JOB)"
check_eq "dana (pg2d1_admin) cancels postgres's job" "t" as_role dana "SELECT pg2d1_cancel($PJ)"
check "…its worker stops" wait_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg2d1 job $PJ'" 0 20
check_eq "…status cancelled" "cancelled" job_status "$PJ"
d1_settings '{"latency_ms":0}'

section "7. api_url"
# --- 7. api_url ---------------------------------------------------------------------------------
srv() { # NAME URL — CREATE SERVER with that api_url, rolled back
  echo "BEGIN; CREATE SERVER $1 FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '$D1_ACCOUNT', database_id '$D1_DATABASE', api_url '$2'); ROLLBACK"
}
for url in http://example.com/client/v4 http://127.0.0.1.nip.io/client/v4 http://127.0.0.1@example.com/client/v4 http://localhost.example.com/client/v4; do
  check "CREATE SERVER … api_url '$url' → 22023" refused postgres 22023 'api_url must use https://' "$(srv evil "$url")"
done
check "ALTER SERVER d1 … SET api_url 'http://example.com/…' → 22023" refused postgres 22023 'api_url must use https://' \
  "BEGIN; ALTER SERVER d1 OPTIONS (SET api_url 'http://example.com/client/v4'); ROLLBACK"
for url in https://api.example.com/client/v4 "$D1_URL" http://127.1.2.3:9/client/v4 http://localhost:9/client/v4 'http://[::1]:9/client/v4'; do
  check_eq "CREATE SERVER … api_url '$url' is accepted" "" as_role postgres "$(srv ok_srv "$url")"
done

section "8. search_path"
# --- 8. search_path: shadowing the extension's functions ------------------------------------------
q "GRANT CREATE ON DATABASE pg2d1_wt TO bob" >/dev/null
as_role bob "CREATE SCHEMA evil; CREATE SCHEMA postgres;   -- postgres: the superuser's \"\$user\"
  CREATE TABLE evil.side_effects (who text, what text);
  GRANT USAGE ON SCHEMA evil, postgres TO PUBLIC; GRANT INSERT ON evil.side_effects TO PUBLIC" >/dev/null
for s in evil postgres; do
  as_role bob "CREATE FUNCTION $s.pg2d1_query(sql text, target text DEFAULT NULL) RETURNS jsonb LANGUAGE plpgsql AS
    \$\$BEGIN INSERT INTO evil.side_effects VALUES (current_user, 'pg2d1_query ' || sql); RETURN '[]'::jsonb; END\$\$;
  CREATE FUNCTION $s.pg2d1_migrate(tbl regclass, checkpoint_size integer DEFAULT NULL, batch_size integer DEFAULT NULL,
      resume boolean DEFAULT true, mode text DEFAULT 'resumable', target text DEFAULT NULL, wait boolean DEFAULT false,
      depends_on bigint DEFAULT NULL, verify boolean DEFAULT false) RETURNS bigint LANGUAGE plpgsql AS
    \$\$BEGIN INSERT INTO evil.side_effects VALUES (current_user, 'pg2d1_migrate ' || tbl); RETURN -1; END\$\$" >/dev/null
done
check_eq "the trap is set: the superuser's search_path starts with bob's schema \"postgres\"" "postgres|bob" \
  q "SELECT (current_schemas(false))[1] || '|' || (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'postgres')"
for sql in "SELECT pg2d1_reset_stuck('victim_t')" "SELECT pg2d1_retry_failed('victim_t', wait => true)" \
           "SELECT pg2d1_reset('victim_t')" "SELECT * FROM pg2d1_migrate_all(ARRAY['victim_t']::regclass[], wait => true)" \
           "SELECT pg2d1_cancel(0)"; do
  as_role postgres "$sql" >/dev/null
  as_role alice "SET search_path = evil, public; ${sql//victim_t/alice_t}" >/dev/null
done
settle_all 30
check_eq "no pg2d1 function ran bob's shadowing functions (for postgres or alice)" "" \
  q "SELECT string_agg(who || ': ' || what, '; ') FROM evil.side_effects"
as_role bob "DROP SCHEMA evil, postgres CASCADE" >/dev/null
q "REVOKE CREATE ON DATABASE pg2d1_wt FROM bob" >/dev/null

section "9. secrets"
# --- 9. the token never leaks ----------------------------------------------------------------
q "CREATE SERVER d1_dead FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '$D1_ACCOUNT', database_id '$D1_DATABASE', api_url 'http://127.0.0.1:9/client/v4')" >/dev/null
q "CREATE USER MAPPING FOR postgres SERVER d1_dead OPTIONS (api_token '$D1_TOKEN')" >/dev/null
q "ALTER USER MAPPING FOR dana SERVER d1 OPTIONS (SET api_token '$D1_TOKEN-revoked')" >/dev/null
q "ALTER SYSTEM SET log_min_messages = debug5" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null; sleep 1
seen=""
d1_settings '{"latency_ms":100}'
J9=$(num "$(as_role alice "SELECT pg2d1_migrate('alice_t', checkpoint_size => 1000, batch_size => 250, resume => false, target => 'd1')")")
wait_sql "SELECT rows_done > 0 FROM pg2d1.jobs WHERE job_id = $J9" t 30 >/dev/null
seen+=$(q "SELECT string_agg(concat_ws(' ', usename, application_name, backend_type, query), E'\n') FROM pg_stat_activity")$'\n'
seen+=$(as_role alice "SELECT p::text FROM pg2d1_progress p; SELECT c::text FROM pg2d1_checkpoints c")$'\n'
d1_settings '{"latency_ms":0}'
settle "$J9" 30 >/dev/null
seen+=$(q "SELECT j::text FROM pg2d1.jobs j; SELECT c::text FROM pg2d1.checkpoints c; SELECT p::text FROM pg2d1_progress p")$'\n'
seen+=$(as_role postgres "SET pg2d1.max_retries = 0; SELECT * FROM pg2d1_validate('d1_dead')")$'\n'
seen+=$(as_role postgres "SET pg2d1.max_retries = 0; SELECT pg2d1_query('SELECT 1', 'd1_dead')")$'\n'
d1_admin faults '{"rate":1,"kinds":["html502"]}'
seen+=$(as_role postgres "SET pg2d1.max_retries = 0; SELECT * FROM pg2d1_validate('d1')")$'\n'
seen+=$(as_role postgres "SET pg2d1.max_retries = 0; SELECT pg2d1_query('SELECT 1', 'd1')")$'\n'
d1_admin faults '{"rate":0}'
seen+=$(as_role dana "SELECT * FROM pg2d1_validate('d1')")$'\n'
seen+=$(as_role dana "SELECT pg2d1_query('SELECT 1', 'd1')")$'\n'
seen+=$(as_role dana "SELECT pg2d1_migrate('shared_t', target => 'd1', wait => true)")$'\n'
settle_all 30
q "ALTER SYSTEM RESET log_min_messages" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null
check "the failing calls did fail (D1 down, D1 failing, a wrong token)" \
  test "$(grep -cE '^ERROR:|\|f\|' <<<"$seen")" -ge 6
check "no token in pg_stat_activity, pg2d1_progress, pg2d1_checkpoints, pg2d1.jobs, validate/query errors" no_token "the outputs" "$seen"
check "no token in D1's migration_checkpoints" no_token "D1" "$(d1_sqlite "SELECT * FROM migration_checkpoints")"
check "no token in the server log (log_min_messages = debug5 for this part)" no_token_in_log "$LOG_START"
check_eq "alice cannot read postgres's token in pg_user_mappings" "" \
  as_role alice "SELECT umoptions FROM pg_user_mappings WHERE usename = 'postgres' AND srvname = 'd1'"
q "DROP SERVER d1_dead CASCADE" >/dev/null
q "ALTER USER MAPPING FOR dana SERVER d1 OPTIONS (SET api_token '$D1_TOKEN')" >/dev/null

section "2. corrupt ledger"
# --- 2. a corrupt ledger must not crash the worker ----------------------------------------------
log0=$(stat -c %s "$LOG")
# Rolled back whatever happens (0.1 accepted it, and its workers then crashed in a loop).
check "superuser: UPDATE pg2d1.checkpoints SET status = NULL → 23502 (NOT NULL)" \
  refused postgres 23502 'null value in column "status"' "BEGIN; UPDATE pg2d1.checkpoints SET status = NULL; ROLLBACK"
d1_settings '{"latency_ms":100}'
J1=$(num "$(q "SELECT pg2d1_migrate('crash_t', checkpoint_size => 1000, batch_size => 250, resume => false)")")
wait_sql "SELECT rows_done >= 3000 FROM pg2d1.jobs WHERE job_id = $J1" t 30 >/dev/null
q "DELETE FROM pg2d1.checkpoints WHERE job_id = $J1" >/dev/null
d1_settings '{"latency_ms":0}'
check "checkpoints deleted under a running worker: the job ends failed with a message or completes correctly" \
  ended_cleanly "$J1" crash_t
outcome "$J1"
J2=$(num "$(q "SELECT pg2d1_migrate('crash_t', checkpoint_size => 1000, resume => false, wait => true)" 2>/dev/null)")
check "records_processed = -1 is stored (or refused)" \
  corrupt "WITH u AS (UPDATE pg2d1.checkpoints SET records_processed = -1 WHERE id = (SELECT min(id) FROM pg2d1.checkpoints WHERE job_id = $J2) RETURNING 1) SELECT count(*) FROM u"
requeue "$J2"
check "…re-queued, the job ends failed with a message or completes correctly" ended_cleanly "$J2" crash_t
outcome "$J2"
# Two ranges with a lower bound (the first range has none); each corrupted in turn.
CPC=$(num "$(q "SELECT min(id) FROM pg2d1.checkpoints WHERE job_id = $J2 AND after_key IS NOT NULL" 2>/dev/null)")
CPD=$(num "$(q "SELECT max(id) FROM pg2d1.checkpoints WHERE job_id = $J2 AND after_key IS NOT NULL" 2>/dev/null)")
orig_after=$(q "SELECT after_key::text FROM pg2d1.checkpoints WHERE id = $CPC" 2>/dev/null)
check "after_key with the wrong number of elements is stored (or refused)" \
  corrupt "WITH u AS (UPDATE pg2d1.checkpoints SET after_key = ARRAY['1','2','3'], status = 'pending' WHERE id = $CPC RETURNING 1) SELECT count(*) FROM u"
requeue "$J2"
check "…re-queued, the job ends failed with a message or completes correctly" ended_cleanly "$J2" crash_t
outcome "$J2"
[ -n "$orig_after" ] && q "UPDATE pg2d1.checkpoints SET after_key = '$orig_after'::text[] WHERE id = $CPC" >/dev/null
check "after_key that is not a key of the table (an integer key) is stored (or refused)" \
  corrupt "WITH u AS (UPDATE pg2d1.checkpoints SET after_key = ARRAY['not a number'], status = 'pending' WHERE id = $CPD RETURNING 1) SELECT count(*) FROM u"
requeue "$J2"
check "…re-queued, the job ends failed with a message or completes correctly" ended_cleanly "$J2" crash_t
outcome "$J2"
settle_all 30
check "no worker was killed by a signal and the server never restarted" no_crash_since "$log0"

section "6. NOLOGIN and dropped owners"
# --- 6. NOLOGIN roles and dropped owners ---------------------------------------------------------
check "SET ROLE grp (NOLOGIN); pg2d1_migrate(grp_t, wait => true) → 42501" \
  refused alice 42501 'role "grp" cannot log in, and the migration worker runs as the calling role' \
  "SET statement_timeout = '15s'; SET ROLE grp; SELECT pg2d1_migrate('grp_t', wait => true)"
check "SET ROLE grp (NOLOGIN); pg2d1_migrate(grp_t) → 42501" \
  refused alice 42501 'role "grp" cannot log in, and the migration worker runs as the calling role' \
  "SET ROLE grp; SELECT pg2d1_migrate('grp_t')"
check_eq "…and no job was created" "0" q "SELECT count(*) FROM pg2d1.jobs WHERE table_name = 'grp_t'"
for j in $(q "SELECT job_id FROM pg2d1.jobs WHERE table_name = 'grp_t' AND status IN ('queued','running')"); do settle "$j" 1 >/dev/null; done

d1_settings '{"latency_ms":200}'
CJ=$(num "$(as_role carol "SELECT pg2d1_migrate('carol_t', checkpoint_size => 1000, batch_size => 100)")")
wait_sql "SELECT rows_done > 0 FROM pg2d1.jobs WHERE job_id = $CJ" t 30 >/dev/null
pid=$(worker_of "$CJ")
# Freeze the worker so it cannot notice the role going away, drop the role, then kill it.
[ -n "$pid" ] && kill -STOP "$pid"
drop_carol="SET statement_timeout = '10s'; REASSIGN OWNED BY carol TO postgres; DROP OWNED BY carol; DROP ROLE carol"
timeout 15 psql -X -q -c "$drop_carol" >/dev/null 2>&1
[ -n "$pid" ] && kill -9 "$pid"
wait_sql "SELECT 1" 1 30 >/dev/null
q "SELECT 1 FROM pg_roles WHERE rolname = 'carol'" | grep -q 1 && psql -X -q -c "$drop_carol" >/dev/null 2>&1
d1_settings '{"latency_ms":0}'
check_eq "carol is gone" "0" q "SELECT count(*) FROM pg_roles WHERE rolname = 'carol'"
check "the launcher fails the job of the dropped role, last_error naming it" \
  wait_sql "SELECT status = 'failed' AND last_error LIKE '%carol%' FROM pg2d1.jobs WHERE job_id = $CJ" t 30
settle "$CJ" 1 >/dev/null

section "10. dump and restore"
# --- 10. dump and restore -----------------------------------------------------------------------
settle_all 30
createdb pg2d1_sec_src
setup_pg2d1_server pg2d1_sec_src >/dev/null
PGDATABASE=pg2d1_sec_src pgsql >/dev/null <<SQL
GRANT USAGE ON FOREIGN SERVER d1 TO alice;
CREATE USER MAPPING FOR alice SERVER d1 OPTIONS (api_token '$D1_TOKEN');
CREATE TABLE done_t (id int PRIMARY KEY, v text);
INSERT INTO done_t SELECT g, md5(g::text) FROM generate_series(1, 1000) g;
ALTER TABLE done_t OWNER TO alice;
CREATE TABLE queue_t (id int PRIMARY KEY, v text);
INSERT INTO queue_t SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
CREATE TABLE run_t (id int PRIMARY KEY, v text);
INSERT INTO run_t SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
SQL
export PGDATABASE=pg2d1_sec_src   # not watched by the launcher: pg2d1_migrate starts dynamic workers
as_role alice "SELECT pg2d1_migrate('done_t', wait => true)" >/dev/null
d1_settings '{"latency_ms":100}'
JQ=$(num "$(q "SELECT pg2d1_migrate('queue_t', checkpoint_size => 1000, batch_size => 100)")")
wait_sql "SELECT rows_done > 0 FROM pg2d1.jobs WHERE job_id = $JQ" t 30 >/dev/null
q "SELECT pg2d1_cancel($JQ)" >/dev/null
wait_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg2d1 job $JQ'" 0 20 >/dev/null
# A queued job no worker has taken yet (nobody takes jobs in this database).
q "UPDATE pg2d1.jobs SET status = 'queued', finished_at = NULL WHERE job_id = $JQ" >/dev/null
JR=$(num "$(q "SELECT pg2d1_migrate('run_t', checkpoint_size => 1000, batch_size => 250)")")
wait_sql "SELECT rows_done >= 2500 FROM pg2d1.jobs WHERE job_id = $JR" t 60 >/dev/null   # 2 ranges completed
orig=$(q "SELECT string_agg(job_id || ' ' || relid::regclass::text || ' ' || owner::text::regrole::text, ', ' ORDER BY job_id) FROM pg2d1.jobs")
check_eq "the source has a completed, a queued and a running job" "completed queued running" \
  q "SELECT string_agg(status, ' ' ORDER BY status) FROM pg2d1.jobs"
check "pg_dump -Fc of the source database" masked pg_dump -Fc -f "$WORK/src.dump" pg2d1_sec_src
q "SELECT pg2d1_cancel($JR)" >/dev/null
d1_settings '{"latency_ms":0}'
createdb pg2d1_sec_restore
check "pg_restore into a fresh database, without errors" masked pg_restore -d pg2d1_sec_restore "$WORK/src.dump"
rm -f "$WORK/src.dump"   # it holds the user mappings' token
# The launcher's database becomes the restored one: it connects to it within 5 s.
dropdb --force pg2d1_wt
psql -X -q -d postgres -c "ALTER DATABASE pg2d1_sec_restore RENAME TO pg2d1_wt"
export PGDATABASE=pg2d1_wt
check "the launcher serves the restored database" \
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg2d1 launcher' AND datname = 'pg2d1_wt'" 1 30
check_eq "restored jobs name the same tables and owners (relid::regclass, owner)" "$orig" \
  q "SELECT string_agg(job_id || ' ' || relid::regclass::text || ' ' || owner::text::regrole::text, ', ' ORDER BY job_id) FROM pg2d1.jobs"
check "the launcher turns the restored queued and running jobs paused; the completed one stays" \
  wait_sql "SELECT string_agg(job_id || ' ' || status, ', ' ORDER BY job_id) FROM pg2d1.jobs" \
  "$(PGDATABASE=pg2d1_sec_src q "SELECT string_agg(job_id || ' ' || CASE WHEN job_id IN ($JQ, $JR) THEN 'paused' ELSE status END, ', ' ORDER BY job_id) FROM pg2d1.jobs")" 20
check "no worker starts for the restored jobs (10 s)" no_worker_for pg2d1_wt 10
check_eq "…and none of them moved" "paused paused" q "SELECT string_agg(status, ' ' ORDER BY job_id) FROM pg2d1.jobs WHERE job_id IN ($JQ, $JR)"
out=$(q "SELECT pg2d1_migrate('run_t', wait => true)" 2>&1)
NJ=$(num "$(tail -n1 <<<"$out")")
check "pg2d1_migrate(run_t) in the restored database starts a new job (id above every restored one)" \
  bash -c '[ "$1" -gt "$2" ] || { echo "got [$3]"; exit 1; }' _ "$NJ" "$(q "SELECT coalesce(max(job_id), 0) FROM pg2d1.jobs WHERE job_id <> $NJ")" "$out"
check_eq "…which completes" "completed run_t" q "SELECT status || ' ' || table_name FROM pg2d1.jobs WHERE job_id = $NJ"
check "…resuming from the restored ledger (completed ranges skipped)" \
  test "$(q "SELECT count(*) FROM pg2d1.checkpoints WHERE job_id = $NJ AND skipped")" -gt 0
check "run_t: D1 equals PostgreSQL" compare run_t

section "done"
report_checks security
[ "$CHECKS_FAILED" -eq 0 ]

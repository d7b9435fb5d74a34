#!/usr/bin/env bash
# test_migrate.sh — end-to-end: PostgreSQL → pg2d1 → local D1, proven by reading D1's
# SQLite file back. Needs a running cluster (PGHOST…) and the extension installed; starts
# its own local D1 server. Prints "integration: N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh"
WORK=${WORK:-$(mktemp -d)}
trap cleanup_all EXIT
start_d1 "$WORK/d1" || exit 1
export PGDATABASE=pg2d1_it
dropdb --if-exists pg2d1_it 2>/dev/null; createdb pg2d1_it
pgsql -v rows=100000 -v cameras=3000 -f "$REPO_ROOT/bench/generate.sql" >/dev/null 2>&1
setup_pg2d1_server >/dev/null
compare() { python3 "$REPO_ROOT/test/integration/compare.py" "$1" "$D1_SQLITE"; }
q() { psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }

check_eq "validate: every check ok" "credentials|t
token|t
database|t
write|t
limits|t" q 'SELECT "check", ok FROM pg2d1_validate()'

check "setup_schema creates both tables without secondary indexes" \
  q "SELECT count(*) FROM pg2d1_setup_schema(ARRAY['coordinate_speed_new','camera_locations']::regclass[], create_indexes => false)"
check_eq "D1 has the tables and migration_checkpoints" "camera_locations
coordinate_speed_new
migration_checkpoints" d1_sqlite "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE '\_cf%' ESCAPE '\' AND name <> 'sqlite_sequence' ORDER BY 1"
check_eq "migration_checkpoints has exactly the reference columns" \
  "id,table_name,start_id,end_id,records_processed,status,error_message,started_at,completed_at,created_at" \
  d1_sqlite "SELECT group_concat(name) FROM pragma_table_info('migration_checkpoints')"

t0=$(date +%s.%N)
check "migrate coordinate_speed_new (100,000 rows, wait => true)" \
  q "SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 25000, wait => true)"
t1=$(date +%s.%N)
echo "       100,000 rows in $(python3 -c "print(f'{$t1-$t0:.2f} s, {100000/($t1-$t0):,.0f} rows/s')")"
check "D1 content equals PostgreSQL (count + md5 of every value)" compare coordinate_speed_new
check_eq "4 checkpoints, all completed, 100,000 records" "4|4|100000" \
  d1_sqlite "SELECT count(*), sum(status='completed'), sum(records_processed) FROM migration_checkpoints WHERE table_name='coordinate_speed_new'"
check_eq "checkpoint ranges tile the key space" "1|25000|25001|50000|50001|75000|75001|100000" \
  d1_sqlite "SELECT group_concat(start_id || '|' || end_id, '|') FROM (SELECT * FROM migration_checkpoints WHERE table_name='coordinate_speed_new' ORDER BY start_id)"
check_eq "secondary indexes built after the load" "idx_coordinate_speed_lat_lon
idx_coordinate_speed_name" d1_sqlite "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='coordinate_speed_new' AND sql IS NOT NULL ORDER BY 1"
check_eq "local ledger: job completed with 100,000 rows and a rate" "completed|100000|100000|100.0|t" \
  q "SELECT status, rows_done, rows_total, percent, rows_per_sec > 0 FROM pg2d1_progress WHERE table_name = 'coordinate_speed_new'"

check "migrate camera_locations (traditional mode)" \
  q "SELECT pg2d1_migrate('camera_locations', mode => 'traditional', wait => true)"
check "camera_locations in D1 equals PostgreSQL" compare camera_locations
out=$(psql -X -A -t -v ON_ERROR_STOP=1 -c "SET pg2d1.max_request_bytes = 20000" -c "SELECT pg2d1_migrate('camera_locations', mode => 'traditional', wait => true)" -c "SELECT requests FROM pg2d1.jobs ORDER BY job_id DESC LIMIT 1" 2>/dev/null | tail -n1)
check "the caller's pg2d1.* settings reach the worker (20 kB requests: $out requests for 3,000 rows)" test "${out:-0}" -gt 12
check_eq "traditional mode writes no checkpoints" "0" \
  d1_sqlite "SELECT count(*) FROM migration_checkpoints WHERE table_name='camera_locations'"

# Resume: a second run skips completed checkpoints and duplicates nothing.
out=$(psql -X -v ON_ERROR_STOP=1 -c "SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 25000, wait => true)" 2>&1)
check "resume run reports 0 copied, 4 already complete" grep -q "0 checkpoints copied, 4 already complete" <<<"$out"
check_eq "no duplicate checkpoint rows after resume" "4" \
  d1_sqlite "SELECT count(*) FROM migration_checkpoints WHERE table_name='coordinate_speed_new'"

# New rows after a completed run: only the new range is copied.
q "INSERT INTO coordinate_speed_new (latitude, longitude, display_name) SELECT 1.5 + g, -2.25, 'Neue Straße ✓' FROM generate_series(1, 10) g" >/dev/null
out=$(psql -X -v ON_ERROR_STOP=1 -c "SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 25000, wait => true)" 2>&1)
check "resume after new rows copies only the new checkpoint" grep -q "1 checkpoints copied, 4 already complete" <<<"$out"
check_eq "new rows reached D1" "10|Neue Straße ✓" d1_sqlite "SELECT count(*), max(display_name) FROM coordinate_speed_new WHERE id > 100000"

# Start over: resume => false recopies everything and rewrites the checkpoints.
check "resume => false" q "SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 40000, resume => false, wait => true)"
check_eq "fresh checkpoints after resume => false" "3|3" \
  d1_sqlite "SELECT count(*), sum(status='completed') FROM migration_checkpoints WHERE table_name='coordinate_speed_new'"

# Transient faults: 25 % of D1 requests fail (5xx, HTML 502, resets, D1 transient, reset after commit).
d1_admin faults '{"rate":0.25,"seed":7,"kinds":["http500","html502","reset","d1_transient","reset_after_commit"]}'
q "UPDATE coordinate_speed_new SET api_speed_limit = coalesce(api_speed_limit, 0) + 1 WHERE id % 7 = 0" >/dev/null
# pg2d1_progress.phase is sampled meanwhile: it names the checkpoint being copied.
( for i in $(seq 1 400); do psql -X -A -t -c "SELECT phase FROM pg2d1.jobs WHERE status = 'running'" 2>/dev/null; sleep 0.02; done ) >"$WORK/phases" &
sampler=$!
out=$(psql -X -v ON_ERROR_STOP=1 -c "SET pg2d1.max_retries = 8; SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 25000, batch_size => 5000, resume => false, wait => true)" 2>&1)
kill $sampler 2>/dev/null; wait $sampler 2>/dev/null || true
check "migration under 25 % injected faults completes" grep -q "rows in" <<<"$out"
check "…its phase named the checkpoint being copied (not 'planning' throughout)" grep -q "^checkpoint [0-9]*/[0-9]*, id" "$WORK/phases"
echo "       $(grep -o '[0-9]* requests, [0-9]* retries' <<<"$out")"
check "content still equal after faults (idempotent retries)" compare coordinate_speed_new
d1_admin faults '{"rate":0}'

# A permanent failure: D1 rejects one range; the checkpoint is failed locally and remotely.
d1_admin faults '{"fail_sql_regex":"VALUES \\(50001,","fail_sql_message":"CHECK constraint failed: injected: SQLITE_CONSTRAINT"}'
out=$(psql -X -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 25000, resume => false, wait => true)" 2>&1)
check "permanent D1 failure raises an error naming table and range" grep -q 'checkpoint id > 50000 and <= 75000' <<<"$out"
check "…with D1's own words in DETAIL" grep -q 'CHECK constraint failed: injected' <<<"$out"
check_eq "failed checkpoint recorded in D1 with D1's message" "failed|1" \
  d1_sqlite "SELECT status, error_message LIKE '%injected%' FROM migration_checkpoints WHERE table_name='coordinate_speed_new' AND start_id=50001"
d1_admin faults '{"fail_sql_regex":null}'
check "next run completes after the cause is removed" q "SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 25000, wait => true)"
check_eq "all checkpoints completed" "5|5" \
  d1_sqlite "SELECT count(*), sum(status='completed') FROM migration_checkpoints WHERE table_name='coordinate_speed_new'"
check "content equal after recovery" compare coordinate_speed_new

# A wrong token: clear error, SQLSTATE 28000, and the token never shows.
q "ALTER USER MAPPING FOR CURRENT_USER SERVER d1 OPTIONS (SET api_token 'wrong-secret-token-123')" >/dev/null
out=$(psql -X -v VERBOSITY=verbose -c "SELECT pg2d1_query('SELECT 1')" 2>&1)
check "wrong token → SQLSTATE 28000" grep -q '28000' <<<"$out"
check "wrong token never appears in the error" bash -c "! grep -q 'wrong-secret-token-123' <<<\"\$1\"" _ "$out"
q "ALTER USER MAPPING FOR CURRENT_USER SERVER d1 OPTIONS (SET api_token '$D1_TOKEN')" >/dev/null
check "token not in server log" bash -c "! grep -q 'wrong-secret-token-123' \"$PGHOST/server.log\""

check_eq "pg2d1_verify: every range equal (count and checksum), nothing extra in D1" "6|t" \
  q "SELECT count(*), bool_and(ok) FROM pg2d1_verify('coordinate_speed_new')"
check_eq "pg2d1_verify: camera_locations (timestamps, NULLs) equal" "t" \
  q "SELECT bool_and(ok) FROM pg2d1_verify('camera_locations')"
q "SELECT pg2d1_query('UPDATE coordinate_speed_new SET bearing = bearing + 1e-9 WHERE id = 60001')" >/dev/null
check_eq "pg2d1_verify finds one changed value in D1 and names its range" "50001|75000|25000|25000|f" \
  q "SELECT start_id, end_id, pg_count, d1_count, ok FROM pg2d1_verify('coordinate_speed_new') WHERE NOT ok"
q "SELECT pg2d1_query('INSERT INTO coordinate_speed_new (id, latitude, longitude) VALUES (999999999, 0, 0)')" >/dev/null
check_eq "pg2d1_verify counts rows D1 has and PostgreSQL has not" "1" \
  q "SELECT d1_count FROM pg2d1_verify('coordinate_speed_new') WHERE start_id IS NULL"
q "SELECT pg2d1_query('DELETE FROM coordinate_speed_new WHERE id = 999999999')" >/dev/null

check_eq "pg2d1_query returns D1's result as jsonb" "100010" \
  q "SELECT pg2d1_query('SELECT count(*) AS n FROM coordinate_speed_new')->0->'results'->0->>'n'"

# Indexes after the load by default: setup_schema defers an empty table's UNIQUE index to the
# job; a duplicate D1 still holds (a row deleted in PostgreSQL, its value reused) is named.
q "CREATE TABLE uq (id int PRIMARY KEY, email text NOT NULL UNIQUE);
   INSERT INTO uq SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 2000) g" >/dev/null
check_eq "setup_schema (create_indexes by default) defers an empty D1 table's unique index to the job" "1" \
  q "SELECT count(*) FROM pg2d1_setup_schema(ARRAY['uq']::regclass[]) WHERE statement LIKE '-- after the first load%UNIQUE INDEX%'"
check_eq "…D1 has the table and no index yet" "0" \
  d1_sqlite "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'uq' AND sql IS NOT NULL"
q "SELECT pg2d1_migrate('uq', wait => true)" >/dev/null 2>&1
check_eq "…the job builds it right after the load" "1" \
  d1_sqlite "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'uq' AND sql LIKE 'CREATE UNIQUE INDEX%'"
q "SELECT pg2d1_query('DROP INDEX IF EXISTS uq_email_key')" >/dev/null
q "DELETE FROM uq WHERE id = 7; UPDATE uq SET email = 'user7@example.com' WHERE id = 1500" >/dev/null
out=$(psql -X -c "SELECT pg2d1_migrate('uq', resume => false, wait => true)" 2>&1)
check "a duplicate D1 still holds fails the index build with SQLSTATE 23505 naming index, value and count" \
  bash -c 'grep -q "duplicate values" <<<"$1" && grep -q "uq_email_key (\"email\") = (user7@example.com) 2 times" <<<"$1"' _ "$out"
echo "$out" | grep -E "ERROR|DETAIL|HINT" | cut -c1-200 | sed 's/^/       /'

# Adaptive request size: a D1 (or a proxy in front of it) that refuses bodies over 300 kB with
# 413. Requests of up to 2 MB are split in halves until they pass; every row arrives once.
q "CREATE TABLE sized AS SELECT g AS id, repeat(md5(g::text), 4) AS t FROM generate_series(1, 20000) g;
   ALTER TABLE sized ADD PRIMARY KEY (id)" >/dev/null
q "SELECT count(*) FROM pg2d1_setup_schema(ARRAY['sized']::regclass[])" >/dev/null
curl -sf -X POST "${D1_URL%/client/v4}/__local/reset-stats" >/dev/null
d1_settings '{"max_body_bytes": 300000}'
out=$(psql -X -v ON_ERROR_STOP=1 -c "SET pg2d1.max_request_bytes = 2000000" -c "SET pg2d1.max_statements_per_request = 100" \
  -c "SELECT pg2d1_migrate('sized', method => 'query', wait => true)" 2>&1) || echo "$out" | tail -3 | sed 's/^/       /'
d1_settings '{"max_body_bytes": null}'
check_eq "requests refused as too large (413) are split and sent again: the job completes" "completed" \
  q "SELECT status FROM pg2d1.jobs WHERE table_name = 'sized' ORDER BY job_id DESC LIMIT 1"
check "…D1 was asked with bodies it refused (413)" bash -c \
  "curl -sf '${D1_URL%/client/v4}/__local/stats' | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s[\"responses_by_status\"].get(\"413\", 0) > 0 else 1)'"
check "…D1 equals PostgreSQL (sized)" compare sized

report_checks integration
[ "$CHECKS_FAILED" -eq 0 ]

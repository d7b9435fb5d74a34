#!/usr/bin/env bash
# test_upgrade.sh — ALTER EXTENSION pg2d1 UPDATE from 0.1.0 (git commit bbc61a1) to this
# tree's version, with a job half-way through: 0.1.0's library is built from a git worktree
# of that commit and this tree's into a staging directory, both installed in turn into a
# private copy of PostgreSQL's install tree (the system's is never touched). A cluster with
# pg2d1 preloaded runs 0.1.0 until a migration against the slowed local D1 server is
# half-way, stops (fast), gets the new library and SQL files, starts, and is updated; then:
# every job, checkpoint and key choice is still there, the converted checkpoint ranges are
# contiguous, the job completes by itself with D1 equal to PostgreSQL, ranges completed under
# 0.1.0 are not sent again, jobs of dropped tables and roles do not stop the update, and
# pg_dump of the upgraded database equals that of a fresh CREATE EXTENSION.
# Starts its own cluster and local D1 server. Prints "upgrade: N passed, N failed".
#
# The 0.1.0 build is kept between runs in ${PG2D1_TEST_CACHE:-~/.cache/pg2d1-test} under a
# key of the commit, the compiler, PostgreSQL's version and headers and libjansson
# (PG2D1_TEST_CACHE=off: no cache). This tree is built from a copy of its files that keeps
# the objects a previous `make` left here, so make rebuilds only what changed.
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh"
OLD_COMMIT=bbc61a1
SYS_PG_CONFIG=$(command -v pg_config)
OWN_WORK=0
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d /tmp/pg2d1-upgrade.XXXXXX); OWN_WORK=1; fi
mkdir -p "$WORK" && chmod 755 "$WORK"
trap cleanup_all EXIT
t_start=$SECONDS
q() { PGOPTIONS='-c client_min_messages=warning' psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }
fail_now() { # message — a failing check, the report, exit
  CHECKS_FAILED=$((CHECKS_FAILED + 1)); echo "FAIL - $1"
  cleanup_all
  rmdir "$WORK" 2>/dev/null || echo "logs: $WORK"
  report_checks upgrade; exit 1
}

# --- 1. the two builds ------------------------------------------------------------------------
if ! git -C "$REPO_ROOT" cat-file -e "$OLD_COMMIT^{commit}" 2>/dev/null; then
  echo "SKIP: commit $OLD_COMMIT (pg2d1 0.1.0) is not in the git history of $REPO_ROOT;"
  echo "      a shallow clone? fetch it (git fetch --unshallow) to test the upgrade from 0.1.0."
  fail_now "pg2d1 0.1.0 sources (commit $OLD_COMMIT) available"
fi
SYS_BINDIR=$("$SYS_PG_CONFIG" --bindir)
SYS_PKGLIBDIR=$("$SYS_PG_CONFIG" --pkglibdir)
SYS_SHAREDIR=$("$SYS_PG_CONFIG" --sharedir)

# 0.1.0: from the cache, else built in a worktree of the commit (in the background).
old_key=$( {
  git -C "$REPO_ROOT" rev-parse "$OLD_COMMIT^{commit}"
  g++ --version | head -n1
  "$SYS_PG_CONFIG" --version
  cat "$("$SYS_PG_CONFIG" --includedir-server)/pg_config.h" "$("$SYS_PG_CONFIG" --pgxs)"
  cat "$(pkg-config --variable=libdir jansson)/libjansson.a"
} 2>/dev/null | sha256sum | cut -c1-16)
if [ -n "${PG2D1_TEST_CACHE:-}" ]; then CACHE_ROOT=$PG2D1_TEST_CACHE
elif [ -n "${XDG_CACHE_HOME:-}" ]; then CACHE_ROOT=$XDG_CACHE_HOME/pg2d1-test
elif [ -n "${HOME:-}" ]; then CACHE_ROOT=$HOME/.cache/pg2d1-test
else CACHE_ROOT=off; fi
OLD_FILES=(pg2d1.so pg2d1.control pg2d1--0.1.0.sql)
OLD_CACHE=""
[ "$CACHE_ROOT" != off ] && OLD_CACHE="$CACHE_ROOT/pg2d1-0.1.0-$old_key"
old_from_cache=0
if [ -n "$OLD_CACHE" ] && [ -f "$OLD_CACHE/SHA256SUMS" ] && (cd "$OLD_CACHE" && sha256sum --quiet -c SHA256SUMS) >/dev/null 2>&1; then
  old_from_cache=1
fi
mkdir -p "$WORK/stage-old" "$WORK/stage-new"
if [ "$old_from_cache" = 1 ]; then
  echo "pg2d1 0.1.0: cached build $OLD_CACHE"
  cp "${OLD_FILES[@]/#/$OLD_CACHE/}" "$WORK/stage-old/"
  old_build_pid=""
else
  git -C "$REPO_ROOT" worktree add --detach "$WORK/src-old" "$OLD_COMMIT" >"$WORK/worktree.log" 2>&1 \
    || { cat "$WORK/worktree.log"; fail_now "git worktree add of $OLD_COMMIT"; }
  _CLEANUPS+=("git -C '$REPO_ROOT' worktree remove --force '$WORK/src-old' >/dev/null 2>&1")
  (
    cd "$WORK/src-old" && make -j2 PG_CONFIG="$SYS_PG_CONFIG" >"$WORK/build-old.log" 2>&1 &&
      cp pg2d1.so pg2d1.control sql/pg2d1--0.1.0.sql "$WORK/stage-old/"
  ) &
  old_build_pid=$!
fi
# This tree: its files (tracked and new, as they are now) and the objects of an earlier
# `make` here, copied with their times, so that make rebuilds only what changed; the jansson
# that scripts/build-jansson.sh built here is used where it is (found by the same path).
mkdir -p "$WORK/src-new"
[ -d "$REPO_ROOT/build/jansson" ] && export JANSSON_BUILD_ROOT=$REPO_ROOT/build/jansson
(
  cd "$REPO_ROOT" &&
    { git ls-files -z -c -o --exclude-standard; find src -name '*.[od]' -print0; printf '%s\0' pg2d1.so libjansson_pg2d1.a; } |
    while IFS= read -r -d '' f; do if [ -f "$f" ]; then printf '%s\0' "$f"; fi; done |
    tar --null -T - -cf - | tar -xf - -C "$WORK/src-new"
) && (
  cd "$WORK/src-new" && make -j2 PG_CONFIG="$SYS_PG_CONFIG" >"$WORK/build-new.log" 2>&1 &&
    make install PG_CONFIG="$SYS_PG_CONFIG" DESTDIR="$WORK/stage-new-root" >>"$WORK/build-new.log" 2>&1
) &
new_build_pid=$!
new_ok=0; wait "$new_build_pid" && new_ok=1
old_ok=1; [ -n "$old_build_pid" ] && { wait "$old_build_pid" || old_ok=0; }
check "pg2d1 0.1.0 built from commit $OLD_COMMIT$([ "$old_from_cache" = 1 ] && echo ' (cached)')" test "$old_ok" = 1
[ "$old_ok" = 1 ] || { tail -n 30 "$WORK/build-old.log"; fail_now "cannot go on without the 0.1.0 build"; }
check "pg2d1 built from this tree" test "$new_ok" = 1
[ "$new_ok" = 1 ] || { tail -n 30 "$WORK/build-new.log"; fail_now "cannot go on without this tree's build"; }
cp "$WORK/stage-new-root$SYS_PKGLIBDIR/pg2d1.so" "$WORK/stage-new-root$SYS_SHAREDIR/extension/"pg2d1* "$WORK/stage-new/"
NEW_VERSION=$(sed -nE "s/^default_version *= *'([^']+)'.*/\1/p" "$WORK/stage-new/pg2d1.control")
# 0.1.0 updates through every version in between (0.1.0 → 0.2.0 → … → NEW_VERSION).
check "this tree ships the update scripts from 0.1.0 to $NEW_VERSION" \
  bash -c 'v=0.1.0; for i in 1 2 3 4 5 6 7 8; do [ "$v" = "$2" ] && exit 0; n=$(ls "$1"/pg2d1--$v--*.sql 2>/dev/null | head -n1); [ -n "$n" ] || exit 1; n=${n##*--}; v=${n%.sql}; done; exit 1' _ "$WORK/stage-new" "$NEW_VERSION"
if [ "$old_from_cache" = 0 ] && [ -n "$OLD_CACHE" ]; then
  # Kept for the next run: written aside, checked, then renamed into place.
  if mkdir -p "$CACHE_ROOT" 2>/dev/null && tmp=$(mktemp -d "$CACHE_ROOT/.tmp.XXXXXX" 2>/dev/null); then
    cp "${OLD_FILES[@]/#/$WORK/stage-old/}" "$tmp/" && (cd "$tmp" && sha256sum "${OLD_FILES[@]}" >SHA256SUMS) &&
      rm -rf "$OLD_CACHE" && mv "$tmp" "$OLD_CACHE" || rm -rf "$tmp"
  fi
fi
# The worktree and the build copy are done with.
[ -d "$WORK/src-old" ] && git -C "$REPO_ROOT" worktree remove --force "$WORK/src-old" >/dev/null 2>&1
rm -rf "$WORK/src-new" "$WORK/stage-new-root"
echo "builds took $((SECONDS - t_start)) s"

# --- 2. a private PostgreSQL install tree ---------------------------------------------------------
# PostgreSQL finds its share and lib directories relative to its binaries: a copy of the
# three directories under $ROOT is an installation of its own.
ROOT=$WORK/pgroot
for d in "$SYS_BINDIR" "$SYS_PKGLIBDIR" "$SYS_SHAREDIR"; do
  mkdir -p "$ROOT$(dirname "$d")" && cp -a "$d" "$ROOT$(dirname "$d")/"
done
_CLEANUPS+=("rm -rf '$ROOT'")
PG_BIN=$ROOT$SYS_BINDIR
LIBDIR=$ROOT$SYS_PKGLIBDIR
EXTDIR=$ROOT$SYS_SHAREDIR/extension
rm -f "$LIBDIR/pg2d1.so" "$EXTDIR"/pg2d1[.-]*
check_eq "the private install tree is where its PostgreSQL looks" "$LIBDIR
$ROOT$SYS_SHAREDIR" "$PG_BIN/pg_config" --pkglibdir --sharedir
install_version() { # stage dir
  rm -f "$LIBDIR/pg2d1.so" "$EXTDIR"/pg2d1[.-]*
  cp "$1/pg2d1.so" "$LIBDIR/" && cp "$1"/pg2d1.control "$1"/pg2d1--*.sql "$EXTDIR/"
}
install_version "$WORK/stage-old"

# --- 3. 0.1.0 at work ---------------------------------------------------------------------------
start_pg "$WORK/pg" "shared_preload_libraries = 'pg2d1'" "pg2d1.database = 'upg'" "jit = off" \
  || fail_now "the cluster starts with pg2d1 0.1.0 preloaded"
LOG=$WORK/pg/server.log
start_d1 "$WORK/d1" || fail_now "the local D1 server starts"
createdb upg
export PGDATABASE=upg
q "CREATE EXTENSION pg2d1 VERSION '0.1.0'" >/dev/null
setup_pg2d1_server >/dev/null 2>&1 || fail_now "a pg2d1 server and user mapping for the local D1 server"
check_eq "0.1.0 installed, the only version the private tree offers" "0.1.0|0.1.0" \
  q "SELECT extversion, (SELECT string_agg(version, ',') FROM pg_available_extension_versions WHERE name = 'pg2d1')
       FROM pg_extension WHERE extname = 'pg2d1'"
psql -X -q -v ON_ERROR_STOP=1 -v rows=60000 -v cameras=1000 -f "$REPO_ROOT/bench/generate.sql" >/dev/null 2>&1
q "CREATE TABLE ck (region text NOT NULL, seq int NOT NULL, v text, PRIMARY KEY (region, seq));
   INSERT INTO ck SELECT (ARRAY['north','South','éast','west'])[1 + g % 4], g, md5(g::text) FROM generate_series(1, 24000) g;
   CREATE TABLE nopk (code text NOT NULL, n int NOT NULL, v text);
   CREATE UNIQUE INDEX nopk_code_n ON nopk (code, n);
   INSERT INTO nopk SELECT 'c' || (g % 7), g, 'v' || g FROM generate_series(1, 3000) g;
   CREATE TABLE gone_t (id int PRIMARY KEY, v text); INSERT INTO gone_t SELECT g, 'x' FROM generate_series(1, 1500) g;
   CREATE TABLE gone_keyed (a int NOT NULL, b int NOT NULL); CREATE UNIQUE INDEX gone_keyed_ab ON gone_keyed (a, b);
   CREATE TABLE owned_t (id int PRIMARY KEY, v text); INSERT INTO owned_t SELECT g, 'y' FROM generate_series(1, 800) g" >/dev/null
check "the 0.1.0 launcher runs for the database" \
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg2d1 launcher' AND datname = 'upg'" 1 30
# Finished jobs and key choices of every kind: a key chosen with pg2d1_use_key, a table
# dropped after its copy (job and key choice stay behind), a role dropped after its copy.
q "SELECT pg2d1_use_key('nopk', 'nopk_code_n'); SELECT pg2d1_use_key('gone_keyed', 'gone_keyed_ab')" >/dev/null
q "SELECT count(*) FROM pg2d1_setup_schema(ARRAY['coordinate_speed_new','ck','nopk','gone_t','owned_t']::regclass[], create_indexes => false)" >/dev/null
out=$(psql -X -c "SELECT pg2d1_migrate('nopk', checkpoint_size => 1000, wait => true)" -c "SELECT pg2d1_migrate('gone_t', checkpoint_size => 500, wait => true)" 2>&1)
check_eq "0.1.0 migrates a table by a chosen key and one that is dropped next" "2" grep -c "rows in" <<<"$out"
q "CREATE ROLE upg_gone LOGIN; GRANT SELECT ON owned_t TO upg_gone; GRANT USAGE ON FOREIGN SERVER d1 TO upg_gone;
   CREATE USER MAPPING FOR upg_gone SERVER d1 OPTIONS (api_token '$D1_TOKEN')" >/dev/null
out=$(PGUSER=upg_gone psql -X -c "SELECT pg2d1_migrate('owned_t', checkpoint_size => 400, wait => true)" 2>&1)
check "0.1.0 migrates a table for an ordinary role that is dropped next" grep -q "rows in" <<<"$out"
q "DROP TABLE gone_t; DROP TABLE gone_keyed; DROP USER MAPPING FOR upg_gone SERVER d1; DROP OWNED BY upg_gone; DROP ROLE upg_gone" >/dev/null

# Two jobs caught half-way: an integer key (labels are keys) and a composite text key
# (labels are row ordinals), D1 slowed to 40 ms a request.
d1_settings '{"latency_ms":40}'
job=$(q "SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 5000, batch_size => 500)")
jck=$(q "SELECT pg2d1_migrate('ck', checkpoint_size => 2000, batch_size => 200)")
wait_sql "SELECT bool_and(rows_done >= rows_total * 0.25) FROM pg2d1.jobs WHERE job_id IN ($job, $jck)" t 60 >/dev/null
# An update while the 0.1.0 library still runs them is refused (and changes nothing).
cp "$WORK/stage-new/pg2d1--0.1.0--0.2.0.sql" "$EXTDIR/"
out=$(psql -X -q -c "ALTER EXTENSION pg2d1 UPDATE TO '0.2.0'" 2>&1)
rm -f "$EXTDIR/pg2d1--0.1.0--0.2.0.sql"
check "the update refuses to run while a 0.1.0 worker runs" grep -q "a pg2d1 worker is running in this database" <<<"$out"
_as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast -w -t 60 stop >/dev/null
d1_settings '{"latency_ms":0}'

# --- 4. the new library on the 0.1.0 schema -----------------------------------------------------------
install_version "$WORK/stage-new"
log_at_restart=$(wc -l <"$LOG")
_as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$LOG" -w -t 60 start >/dev/null
check "the cluster starts with the new library preloaded" psql -X -d upg -c "SELECT 1"
check_eq "…and the extension is still 0.1.0 until updated" "0.1.0" \
  q "SELECT extversion FROM pg_extension WHERE extname = 'pg2d1'"
check "the new launcher runs for the database" \
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg2d1 launcher' AND datname = 'upg'" 1 30
sleep 3 # the launcher looks at the 0.1.0 tables a few times
check_eq "both jobs were half-way at the stop (running, some ranges completed, some not)" "2" \
  q "SELECT count(*) FROM pg2d1.jobs j WHERE job_id IN ($job, $jck) AND status = 'running'
       AND EXISTS (SELECT 1 FROM pg2d1.checkpoints c WHERE c.job_id = j.job_id AND c.status = 'completed')
       AND EXISTS (SELECT 1 FROM pg2d1.checkpoints c WHERE c.job_id = j.job_id AND c.status IS DISTINCT FROM 'completed')"

JOBS_COLS="job_id, table_name, relid::oid, %s, status, phase, rows_done, rows_total, checkpoint_size, batch_size, resume, mode,
  target, depends_on, verify, numeric_as_real, verified, verify_summary, requests_per_second, max_retries, request_timeout_ms,
  max_statement_bytes, max_request_bytes, max_statements_per_request, pid, requests, retries, bytes_sent, last_error,
  started_at, updated_at, finished_at"
CPS_SQL="SELECT id, job_id, table_name, start_id, end_id, start_key, end_key, records_processed, coalesce(status, 'pending'),
  error_message, started_at, completed_at, created_at, remote_synced, skipped FROM pg2d1.checkpoints ORDER BY id"
KEYS_SQL="SELECT relid::oid, key_index::oid FROM pg2d1.table_keys ORDER BY 1"
COUNTS_SQL="SELECT (SELECT count(*) FROM pg2d1.jobs) || ' jobs, ' || (SELECT count(*) FROM pg2d1.checkpoints) || ' checkpoints, '
  || (SELECT count(*) FROM pg2d1.table_keys) || ' key choices, next ids ' || (SELECT last_value FROM pg2d1.jobs_job_id_seq)
  || '/' || (SELECT last_value FROM pg2d1.checkpoints_id_seq)"
{
  q "$(printf "SELECT $JOBS_COLS FROM pg2d1.jobs ORDER BY job_id" \
      "coalesce((SELECT rolname FROM pg_roles r WHERE r.oid = owner), format('role %s (dropped)', owner))")"
} >"$WORK/jobs.before"
q "$CPS_SQL" >"$WORK/checkpoints.before"
q "$KEYS_SQL" >"$WORK/keys.before"
counts_before=$(q "$COUNTS_SQL")
log_at_update=$(wc -l <"$LOG")

# --- 5. ALTER EXTENSION pg2d1 UPDATE --------------------------------------------------------------
# The state right after the update is read in its transaction, before any worker runs.
out=$(psql -X -q -A -t -v ON_ERROR_STOP=1 2>&1 <<SQL
SET client_min_messages = warning;
BEGIN;
ALTER EXTENSION pg2d1 UPDATE;
\o $WORK/counts.after
$COUNTS_SQL;
\o $WORK/jobs.after
$(printf "SELECT $JOBS_COLS FROM pg2d1.jobs ORDER BY job_id" owner);
\o $WORK/checkpoints.after
$CPS_SQL;
\o $WORK/keys.after
$KEYS_SQL;
\o $WORK/ranges.after
SELECT count(*) FROM (
  SELECT after_key, through_key, last_key, end_key, status, key_len,
         lag(through_key) OVER w AS prev, row_number() OVER w AS rn, count(*) OVER (PARTITION BY job_id) AS n
    FROM (SELECT c.*, cardinality(c.start_key) AS key_len FROM pg2d1.checkpoints c) c
  WINDOW w AS (PARTITION BY job_id ORDER BY after_key IS NOT NULL, start_id, id)) s
 WHERE (rn = 1) <> (after_key IS NULL) OR (rn = n) <> (through_key IS NULL)
    OR (rn > 1 AND after_key IS DISTINCT FROM prev) OR (through_key IS NOT NULL AND through_key <> end_key)
    OR cardinality(coalesce(after_key, through_key, end_key)) <> key_len
    OR last_key IS DISTINCT FROM CASE WHEN status = 'completed' THEN end_key END;
SELECT count(*) FROM pg2d1.jobs WHERE origin <> pg2d1._origin();
\o
CREATE TABLE upgrade_done_before AS
  SELECT id, completed_at FROM pg2d1.checkpoints WHERE job_id IN ($job, $jck) AND status = 'completed';
COMMIT;
SQL
)
check "ALTER EXTENSION pg2d1 UPDATE succeeds" test -z "$out"
[ -n "$out" ] && echo "$out" | sed 's/^/       /'
check_eq "the extension is at $NEW_VERSION" "$NEW_VERSION" q "SELECT extversion FROM pg_extension WHERE extname = 'pg2d1'"
check_eq "every job, checkpoint and key choice is still there, the sequences go on ($counts_before)" \
  "$counts_before" cat "$WORK/counts.after"
check "jobs unchanged (owner oids became their roles' names, a dropped role's a placeholder)" \
  diff "$WORK/jobs.before" "$WORK/jobs.after"
check "checkpoints unchanged (NULL status became pending)" diff "$WORK/checkpoints.before" "$WORK/checkpoints.after"
check "key choices unchanged, also those of a dropped table" diff "$WORK/keys.before" "$WORK/keys.after"
check_eq "converted ranges: contiguous per job, first open below, last open above, last_key of completed ranges; every job of this database" \
  "0
0" cat "$WORK/ranges.after"

# --- 6. the jobs go on by themselves ----------------------------------------------------------------
check "the integer-key job completes by itself after the update" \
  wait_sql "SELECT status FROM pg2d1.jobs WHERE job_id = $job" completed 120
check "the composite-key job completes by itself after the update" \
  wait_sql "SELECT status FROM pg2d1.jobs WHERE job_id = $jck" completed 60
check "D1 equals PostgreSQL: coordinate_speed_new" python3 "$REPO_ROOT/test/integration/compare.py" coordinate_speed_new "$D1_SQLITE"
check "D1 equals PostgreSQL: ck (composite text key)" python3 "$REPO_ROOT/test/integration/compare.py" ck "$D1_SQLITE" --key region,seq
# The upgraded database syncs: ck was copied before capture began, so the sync reconciles.
q "SELECT pg2d1_enable_sync('ck')" >/dev/null
q "UPDATE ck SET v = 'after the update' WHERE seq % 100 = 0; DELETE FROM ck WHERE seq % 333 = 0;
   INSERT INTO ck VALUES ('north', 100001, 'new')" >/dev/null
out=$(psql -X -c "SELECT pg2d1_sync('ck', wait => true)" 2>&1)
check "incremental sync on the updated extension: D1 equals PostgreSQL (ck)" \
  python3 "$REPO_ROOT/test/integration/compare.py" ck "$D1_SQLITE" --key region,seq
q "SELECT pg2d1_disable_sync('ck')" >/dev/null
check_eq "pg2d1_verify: every range of coordinate_speed_new equal" "0|60000" \
  q "SELECT count(*) FILTER (WHERE NOT ok), sum(pg_count) FROM pg2d1_verify('coordinate_speed_new')"
check_eq "ranges completed under 0.1.0 were not sent again" "0" \
  q "SELECT count(*) FROM upgrade_done_before b JOIN pg2d1.checkpoints c USING (id) WHERE c.completed_at IS DISTINCT FROM b.completed_at"
check "…and there were such ranges" test "$(q "SELECT count(*) FROM upgrade_done_before")" -gt 1
check_eq "every checkpoint of both jobs completed" "0" \
  q "SELECT count(*) FROM pg2d1.checkpoints WHERE job_id IN ($job, $jck) AND status <> 'completed'"
check_eq "D1's ledger: ranges completed, disjoint, rows = table" "1
0" \
  d1_sqlite "SELECT count(*) = sum(status = 'completed') AND sum(records_processed) = 60000 FROM migration_checkpoints WHERE table_name = 'coordinate_speed_new';
             SELECT count(*) FROM migration_checkpoints a JOIN migration_checkpoints b ON a.table_name = b.table_name AND a.id < b.id
              AND a.start_id <= b.end_id AND b.start_id <= a.end_id WHERE a.table_name = 'coordinate_speed_new'" 
q "DROP TABLE upgrade_done_before" >/dev/null
# A table copied under 0.1.0 by a key chosen with pg2d1_use_key: 0.1.0 did not record which
# D1 columns its ranges were sent with, so its first run under 0.2.0 sends them again (and
# records them); the next run skips them all.
psql -X -c "SELECT pg2d1_migrate('nopk', wait => true)" -c "SELECT pg2d1_migrate('nopk', wait => true)" >"$WORK/nopk.out" 2>&1
check_eq "a table keyed by pg2d1_use_key under 0.1.0: sent again once under $NEW_VERSION, then skipped (ranges skipped per run)" \
  "completed 0/3,completed 3/3" q "SELECT string_agg(x, ',' ORDER BY job_id) FROM (
    SELECT j.job_id, j.status || ' ' || count(*) FILTER (WHERE c.skipped) || '/' || count(*) AS x
      FROM pg2d1.jobs j JOIN pg2d1.checkpoints c USING (job_id) WHERE j.table_name = 'nopk'
     GROUP BY j.job_id ORDER BY j.job_id DESC LIMIT 2) s"
check "…by its chosen key: D1 equals PostgreSQL" python3 "$REPO_ROOT/test/integration/compare.py" nopk "$D1_SQLITE" --key code,n
check_eq "jobs of the dropped table and role stay as they were" "gone_t|completed|role|completed" \
  q "SELECT string_agg(x, '|') FROM (SELECT table_name || '|' || status AS x FROM pg2d1.jobs WHERE table_name = 'gone_t'
       UNION ALL SELECT split_part(owner, ' ', 1) || '|' || status FROM pg2d1.jobs WHERE table_name = 'owned_t') s"
check "no process was terminated by a signal" bash -c "! grep -E 'terminated by signal|PANIC|TRAP' '$LOG'"
# For information: what the new library said about the 0.1.0 tables before the update.
sed -n "$((log_at_restart + 1)),${log_at_update}p" "$LOG" | grep -E 'ERROR|WARNING|pg2d1: launcher' | cut -d' ' -f5- | sort | uniq -c |
  sort -rn | head -n 3 | cut -c1-220 | sed 's/^/       log: /'

# --- 7. jobs of dropped roles and tables, rows no pg2d1 function wrote --------------------------------
# A database the launcher does not watch, its extension created by another superuser:
# queued and running jobs whose role or table is gone, values outside 0.2.0's CHECKs, a NULL
# checkpoint status — the update must go through, and keep the objects' owner.
q "CREATE ROLE upg_owner LOGIN SUPERUSER; CREATE ROLE upg_ghost LOGIN" >/dev/null
createdb -O upg_owner upg2
PGUSER=upg_owner psql -X -q -v ON_ERROR_STOP=1 -d upg2 >"$WORK/upg2.out" 2>&1 <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg2d1 VERSION '0.1.0';
CREATE TABLE t (id int PRIMARY KEY); CREATE TABLE t_gone (id int PRIMARY KEY);
INSERT INTO pg2d1.jobs (table_name, relid, owner, status, checkpoint_size, max_retries, mode) VALUES
  ('t', 't'::regclass, (SELECT oid FROM pg_roles WHERE rolname = 'upg_ghost'), 'running', 100, 5, 'resumable'),
  ('t_gone', 't_gone'::regclass, 10, 'queued', 100, 5, 'resumable'),
  ('t', 't'::regclass, 10, 'failed', 0, 500, 'sideways');
INSERT INTO pg2d1.checkpoints (job_id, table_name, start_id, end_id, start_key, end_key, records_processed, status)
  VALUES (1, 't', 1, 100, '{1}', '{100}', 100, 'completed'), (1, 't', 101, 200, '{101}', '{200}', 0, NULL),
         (1, 't', 201, 300, '{201}', '{300}', -5, 'in_progress');
DROP TABLE t_gone;
SQL
q "DROP ROLE upg_ghost" >/dev/null
check "another superuser's 0.1.0 ledger with such rows (written directly)" bash -c "! grep -q ERROR '$WORK/upg2.out' || { cat '$WORK/upg2.out'; exit 1; }"
out=$(psql -X -q -d upg2 -c "SET client_min_messages = warning" -c "ALTER EXTENSION pg2d1 UPDATE" 2>&1)
check "the update goes through jobs of a dropped role and a dropped table and rows 0.2.0 would refuse" test -z "$out"
[ -z "$out" ] || echo "$out" | sed 's/^/       /'
check_eq "…the dropped role's running job failed, its owner named as dropped" "failed|t|t" \
  psql -X -A -t -d upg2 -c "SELECT status, owner LIKE 'role % (dropped)', last_error LIKE '%no longer exists%' FROM pg2d1.jobs WHERE job_id = 1"
check_eq "…the dropped table's queued job failed" "failed|t" \
  psql -X -A -t -d upg2 -c "SELECT status, last_error LIKE '%t_gone%no longer exists%' FROM pg2d1.jobs WHERE job_id = 2"
check_eq "…values outside the CHECKs brought in, statuses set, counts kept" "1|100|resumable|3|3|pending|0" \
  psql -X -A -t -d upg2 -c "SELECT j.checkpoint_size, j.max_retries, j.mode, (SELECT count(*) FROM pg2d1.jobs),
    (SELECT count(*) FROM pg2d1.checkpoints), (SELECT status FROM pg2d1.checkpoints WHERE id = 2),
    (SELECT records_processed FROM pg2d1.checkpoints WHERE id = 3) FROM pg2d1.jobs j WHERE job_id = 3"
check_eq "…every object still owned by the extension's owner" "upg_owner" \
  psql -X -A -t -d upg2 -c "SELECT string_agg(DISTINCT o, ',') FROM (
    SELECT relowner::regrole::text AS o FROM pg_class c JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
     WHERE d.deptype = 'e' AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg2d1')
    UNION ALL SELECT proowner::regrole::text FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
     WHERE d.deptype = 'e' AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg2d1')) s"

# --- 8. the upgraded schema is a fresh install's ------------------------------------------------------
createdb fresh
psql -X -q -d fresh -c "SET client_min_messages = warning" -c "CREATE EXTENSION pg2d1" >/dev/null
check_eq "a fresh CREATE EXTENSION installs $NEW_VERSION" "$NEW_VERSION" \
  psql -X -A -t -d fresh -c "SELECT extversion FROM pg_extension WHERE extname = 'pg2d1'"
"$PG_BIN/pg_dump" --schema-only -d upg >"$WORK/upgraded-plain.sql" 2>"$WORK/pg_dump.log"
"$PG_BIN/pg_dump" --schema-only -d fresh >"$WORK/fresh-plain.sql" 2>>"$WORK/pg_dump.log"
check "pg_dump --schema-only: the same pg2d1 entries (an extension's objects are one CREATE EXTENSION there)" \
  python3 "$REPO_ROOT/test/integration/upgrade_schema.py" "$WORK/upgraded-plain.sql" "$WORK/fresh-plain.sql"
"$PG_BIN/pg_dump" --schema-only --binary-upgrade -d upg >"$WORK/upgraded.sql" 2>>"$WORK/pg_dump.log"
"$PG_BIN/pg_dump" --schema-only --binary-upgrade -d fresh >"$WORK/fresh.sql" 2>>"$WORK/pg_dump.log"
check "pg_dump --schema-only --binary-upgrade: pg2d1's objects, owners, privileges and initial privileges of the upgraded database equal a fresh install's" \
  python3 "$REPO_ROOT/test/integration/upgrade_schema.py" "$WORK/upgraded.sql" "$WORK/fresh.sql"
ext_sql="SELECT extconfig::regclass[]::text || ' ' || extcondition::text || ' ' || extrelocatable FROM pg_extension WHERE extname = 'pg2d1'"
check_eq "the same configuration tables, in the same order (pg_dump dumps their rows)" \
  "$(psql -X -A -t -d fresh -c "$ext_sql")" psql -X -A -t -d upg -c "$ext_sql"
check_eq "pg2d1_admin exists and cannot log in" "f" q "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'pg2d1_admin'"

echo "took $((SECONDS - t_start)) s"
report_checks upgrade
cleanup_all
if [ "$CHECKS_FAILED" -eq 0 ] && [ -z "${PG2D1_KEEP_LOGS:-}" ]; then
  if [ "$OWN_WORK" = 1 ]; then rm -rf "$WORK"; else rm -rf "$WORK"/{pg,d1,stage-old,stage-new} "$WORK"/*.{log,sql,out,before,after}; fi
else
  echo "logs: $WORK"
fi
[ "$CHECKS_FAILED" -eq 0 ]

#!/usr/bin/env bash
# test_types.sh — faithful data end to end: every type family with its nasty values and
# NULLs, large values, keys that are not one integer column, quoted identifiers, a table
# without a primary key. D1's side is read back from its SQLite file and checked against
# the README's type mapping written out by hand (expect_types.py), and by compare.py and
# pg2d1_verify. Needs a running cluster and the extension installed; starts its own local
# D1 server. Prints "types: N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh"
WORK=${WORK:-$(mktemp -d)}
trap cleanup_all EXIT
start_d1 "$WORK/d1" || exit 1
export PGDATABASE=pg2d1_ty
dropdb --if-exists pg2d1_ty 2>/dev/null; createdb pg2d1_ty
pgsql -v ON_ERROR_STOP=1 -f "$REPO_ROOT/test/integration/types.sql" >/dev/null || { echo "types.sql failed"; exit 1; }
setup_pg2d1_server >/dev/null
compare() { python3 "$REPO_ROOT/test/integration/compare.py" "$@" "$D1_SQLITE"; }
compare_t() { local t=$1; shift; python3 "$REPO_ROOT/test/integration/compare.py" "$t" "$D1_SQLITE" "$@"; }
q() { psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }
qerr() { psql -X -A -t -c "$1" 2>&1; }
verify_ok() { q "SELECT count(*) FILTER (WHERE NOT ok), sum(pg_count), count(*) FROM pg2d1_verify('$1')"; }

# --- every type ---------------------------------------------------------------------
check_eq "D1 column types follow the mapping" \
  "id INTEGER|i2 INTEGER|i4 INTEGER|i8 INTEGER|num TEXT|r4 REAL|r8 REAL|b INTEGER|t TEXT|vc TEXT|ch TEXT|by BLOB|d TEXT|tm TEXT|tmtz TEXT|ts TEXT|tstz TEXT|iv TEXT|u TEXT|j TEXT|jb TEXT|ai TEXT|at TEXT|e TEXT|dom INTEGER|em TEXT|st TEXT|comp TEXT|ip TEXT|rng TEXT|bits TEXT|pt TEXT|hs TEXT" \
  bash -c "psql -X -A -t -c \"SELECT pg2d1_ddl('all_types')\" | grep -o 'CREATE TABLE.*' | sed -E 's/^[^(]*\(//; s/\);?\$//; s/ PRIMARY KEY//; s/\"//g; s/, /|/g'"
check "migrate all_types with verify => true" q "SELECT pg2d1_migrate('all_types', wait => true, verify => true)"
check_eq "the job recorded verify's verdict" "t" q "SELECT verified FROM pg2d1_progress WHERE table_name = 'all_types'"
out=$(python3 "$REPO_ROOT/test/integration/expect_types.py" "$D1_SQLITE")
echo "$out" | grep -E '^(FAIL|       got)' | head -n 60
p=$(tail -n1 <<<"$out" | cut -d' ' -f1); f=$(tail -n1 <<<"$out" | cut -d' ' -f2)
echo "ok   - $p cells of all_types equal their documented mapping, NULLs stay NULL ($f differ)"
CHECKS_PASSED=$((CHECKS_PASSED + ${p:-0})); CHECKS_FAILED=$((CHECKS_FAILED + ${f:-1}))
check_eq "pg2d1_verify: all_types equal" "0|9|2" verify_ok all_types

n_wide=$(q "SELECT count(*) FROM wide_floats")
check "migrate $n_wide doubles from 1e-320 to 1e308 (D1's parser misreads ~1 in 4 of them as plain decimals)" \
  q "SELECT pg2d1_migrate('wide_floats', wait => true, verify => true)"
check "every double in D1 has exactly the bits it has in PostgreSQL" compare_t wide_floats

# --- large values ------------------------------------------------------------------
check "migrate big_values (300 KB bytea, 200,000-character text)" \
  q "SELECT pg2d1_migrate('big_values', wait => true)"
check_eq "D1 holds every 300,000-byte BLOB and 200,000-character text whole" "6|300000|4|200000" \
  d1_sqlite "SELECT count(blob), max(length(blob)), count(txt), max(length(txt)) FROM big_values"
check "big_values in D1 equals PostgreSQL byte for byte" compare_t big_values
check_eq "pg2d1_verify: big_values equal" "0|12|2" verify_ok big_values
q "CREATE TABLE too_big (id int PRIMARY KEY, t text); INSERT INTO too_big VALUES (1, 'ok'), (2, repeat('x', 2000001))" >/dev/null
err=$(qerr "SELECT pg2d1_migrate('too_big', wait => true)")
check "a value above D1's 2,000,000-byte limit fails with table, key and column" \
  grep -q 'larger than D1 can store (column "t" of table "too_big", id = 2)' <<<"$err"
check "…SQLSTATE 54000 and D1's limit in DETAIL" bash -c "psql -X -c \"\\set VERBOSITY verbose\" -c \"SELECT pg2d1_migrate('too_big', wait => true)\" 2>&1 | grep -q 'D1 stores at most 2000000 bytes'"

n_wide_rows=$(q "SELECT count(*) FROM wide_rows")
check "migrate $n_wide_rows rows of 200,000 characters under a (text, float8) key with NaN and ±Infinity" \
  q "SELECT pg2d1_migrate('wide_rows', wait => true)"
raw_requests() { curl -s "${D1_URL%/client/v4}/__local/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_by_endpoint"].get("raw", 0))'; }
before=$(raw_requests)
check_eq "pg2d1_verify pages through D1 (~8 MB a request) and finds every row equal" "1|0|$n_wide_rows" \
  q "SELECT count(*) FILTER (WHERE start_id IS NOT NULL), count(*) FILTER (WHERE NOT ok), sum(pg_count) FROM pg2d1_verify('wide_rows')"
after=$(raw_requests)
check "…reading the one range's $((n_wide_rows * 200 / 1000)) MB from D1 in more than one request ($((after - before - 1)))" test $((after - before - 1)) -ge 2
q "SELECT pg2d1_query(\$\$UPDATE wide_rows SET payload = payload || 'x' WHERE k = (SELECT max(k) FROM wide_rows) AND r = (SELECT max(r) FROM wide_rows WHERE k = (SELECT max(k) FROM wide_rows))\$\$)" >/dev/null
check_eq "…and finds one value changed in the last page" "1" \
  q "SELECT count(*) FILTER (WHERE NOT ok) FROM pg2d1_verify('wide_rows')"

# --- keys ------------------------------------------------------------------------------
n_text=$(q "SELECT count(*) FROM text_keys")
check "text key (ICU collation), checkpoint_size 700" \
  q "SELECT pg2d1_migrate('text_keys', checkpoint_size => 700, wait => true, verify => true)"
check "text_keys in D1 equals PostgreSQL" compare_t text_keys --key code
cps=$(( (n_text + 699) / 700 ))
check_eq "ledger and D1 agree on $cps checkpoints, ids are row ordinals 1..$n_text" "$cps|$cps|1|$n_text|$n_text" \
  q "SELECT count(*), count(*) FILTER (WHERE status = 'completed'), min(start_id), max(end_id), sum(records_processed) FROM pg2d1_checkpoints WHERE table_name = 'text_keys'"
check_eq "D1's migration_checkpoints has the same ranges" "$cps|1|$n_text|$n_text" \
  d1_sqlite "SELECT count(*), min(start_id), max(end_id), sum(records_processed) FROM migration_checkpoints WHERE table_name = 'text_keys' AND status = 'completed'"
check_eq "checkpoint key bounds follow the index (ICU) order" "t" \
  q "SELECT bool_and(c.end_key[1] COLLATE \"und-x-icu\" < n.start_key[1] COLLATE \"und-x-icu\") FROM pg2d1_checkpoints c JOIN pg2d1_checkpoints n ON n.table_name = c.table_name AND n.start_id = c.end_id + 1 WHERE c.table_name = 'text_keys'"
out=$(psql -X -c "SELECT pg2d1_migrate('text_keys', wait => true)" 2>&1)
check "a second run sends nothing: every checkpoint already complete" grep -q "$cps checkpoints already completed" <<<"$out"
key=$(q "SELECT code FROM text_keys ORDER BY code COLLATE \"C\" OFFSET 1000 LIMIT 1")
q "SELECT pg2d1_query(\$\$UPDATE text_keys SET v = -v WHERE code = '$key'\$\$)" >/dev/null
check_eq "pg2d1_verify names the one range whose value changed in D1" "1|t" \
  q "SELECT count(*), bool_and('$key' >= start_key COLLATE \"C\" AND '$key' <= end_key COLLATE \"C\") FROM pg2d1_verify('text_keys') WHERE NOT ok"
check "migrate uuid_keys" q "SELECT pg2d1_migrate('uuid_keys', checkpoint_size => 400, wait => true, verify => true)"
check "uuid_keys in D1 equals PostgreSQL" compare_t uuid_keys
check "migrate ts_keys (infinity, BC, microseconds)" q "SELECT pg2d1_migrate('ts_keys', checkpoint_size => 400, wait => true, verify => true)"
check "ts_keys in D1 equals PostgreSQL" compare_t ts_keys --key at
n_comp=$(q "SELECT count(*) FROM composite_keys")
check "composite key (text, int, date)" \
  q "SELECT pg2d1_migrate('composite_keys', checkpoint_size => 500, wait => true, verify => true)"
check "composite_keys in D1 equals PostgreSQL" compare_t composite_keys --key region,seq,day
check_eq "D1 table's primary key is the composite key" "region|1
seq|2
day|3" d1_sqlite "SELECT name, pk FROM pragma_table_info('composite_keys') WHERE pk > 0 ORDER BY pk"
q "INSERT INTO composite_keys SELECT 'zz', g, date '2025-01-01', g FROM generate_series(1, 700) g" >/dev/null
check "rows added after the last key are planned and copied by the next run" \
  q "SELECT pg2d1_migrate('composite_keys', wait => true, verify => true)"
check "composite_keys still equal after the second run" compare_t composite_keys --key region,seq,day

# --- identifiers that need quoting -----------------------------------------------------
check "migrate \"My Schema\".\"Odd \"\"Table\"\" Name\"" \
  q "SELECT pg2d1_migrate('\"My Schema\".\"Odd \"\"Table\"\" Name\"', checkpoint_size => 200, wait => true, verify => true)"
check "quoted table and columns equal in D1" compare_t '"My Schema"."Odd ""Table"" Name"' --key Key --d1-table 'Odd "Table" Name'
check_eq "D1 column names kept exactly" 'Key,select,group by,naïve col' \
  d1_sqlite "SELECT group_concat(name) FROM pragma_table_info('Odd \"Table\" Name')"

# --- no primary key -------------------------------------------------------------------
err=$(qerr "SELECT pg2d1_migrate('no_pk', wait => true)")
check "a table without a primary key is refused" grep -q 'table "no_pk" has no primary key' <<<"$err"
check "…with a HINT naming pg2d1_use_key" grep -q "pg2d1_use_key('no_pk', 'index_name')" <<<"$err"
q "CREATE UNIQUE INDEX no_pk_code ON no_pk (code)" >/dev/null
err=$(qerr "SELECT pg2d1_use_key('no_pk', 'no_pk_code')")
check "an index on a nullable column cannot be the key" grep -q 'cannot be the key of table no_pk' <<<"$err"
q "ALTER TABLE no_pk ALTER COLUMN code SET NOT NULL" >/dev/null
err=$(qerr "SELECT pg2d1_migrate('no_pk', wait => true)")
check "…and the HINT now names the usable index" grep -q "pg2d1_use_key('no_pk', 'no_pk_code')" <<<"$err"
check "pg2d1_use_key names the unique index" q "SELECT pg2d1_use_key('no_pk', 'no_pk_code')"
check "migrate no_pk by its unique index" q "SELECT pg2d1_migrate('no_pk', checkpoint_size => 100, wait => true, verify => true)"
check "no_pk in D1 equals PostgreSQL" compare_t no_pk --key code

# --- numeric as REAL on request --------------------------------------------------------
check "SET pg2d1.numeric_as_real = on: numeric columns become REAL" \
  bash -c "psql -X -A -t -c 'SET pg2d1.numeric_as_real = on' -c \"SELECT pg2d1_ddl('measures')\" | grep -q '\"n\" REAL, \"m\" REAL DEFAULT 1.5)'"
check "migrate measures with numeric_as_real (verify => true)" \
  psql -X -v ON_ERROR_STOP=1 -c "SET pg2d1.numeric_as_real = on" -c "SELECT pg2d1_migrate('measures', wait => true, verify => true)"
check_eq "numeric values are the nearest doubles, NaN and ±Infinity by the float rules" "1|real|0.10000000000000001
2|real|123456789.12345679
3|text|NaN
4|real|Inf
5|real|-Inf
6|real|1.0e+300
7|real|-2.5e-300
8|null|" d1_sqlite "SELECT id, typeof(n), CASE WHEN typeof(n) = 'real' THEN printf('%!.17g', n) ELSE n END FROM measures ORDER BY id"
check_eq "pg2d1_verify later compares them as they were migrated" "0|8" \
  q "SELECT count(*) FILTER (WHERE NOT ok), sum(pg_count) FROM pg2d1_verify('measures')"
q "CREATE TABLE measures_big (id int PRIMARY KEY, n numeric); INSERT INTO measures_big VALUES (1, 1), (2, 1e400)" >/dev/null
err=$(psql -X -c "SET pg2d1.numeric_as_real = on" -c "SELECT pg2d1_migrate('measures_big', wait => true)" 2>&1)
check "a numeric beyond the double range is refused, naming column and key, not turned into Infinity" \
  grep -q 'is out of range for REAL (column "n" of table "measures_big", id = 2)' <<<"$err"

# --- schema translation ------------------------------------------------------------------
out1=$(q "SELECT statement FROM pg2d1_setup_schema(ARRAY['shop', 'item']::regclass[])")
out2=$(q "SELECT statement FROM pg2d1_setup_schema(ARRAY['shop', 'item']::regclass[])")
check "pg2d1_setup_schema is idempotent (same statements, no error the second time)" test "$out1" = "$out2"
check "D1's item table has the foreign key, its CHECK and NOT NULL" \
  bash -c "sqlite3 -readonly '$D1_SQLITE' \"SELECT sql FROM sqlite_master WHERE name = 'item'\" | grep -q 'FOREIGN KEY (\\\"shop_id\\\") REFERENCES \\\"shop\\\" (\\\"id\\\") ON DELETE CASCADE' "
check_eq "…the secondary and UNIQUE indexes of the empty tables are left to the job" "0" \
  d1_sqlite "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('shop', 'item') AND name NOT LIKE 'sqlite_%'"
check "pg2d1_migrate_all copies parent then child under D1's foreign keys" \
  q "SELECT count(*) FROM pg2d1_migrate_all(ARRAY['item', 'shop']::regclass[], wait => true, verify => true)"
check_eq "D1 has the secondary and UNIQUE indexes, built after the load" "item_shop
shop_name_key" d1_sqlite "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('shop', 'item') AND name NOT LIKE 'sqlite_%' ORDER BY 1"
check "shop and item equal in D1" bash -c "python3 '$REPO_ROOT/test/integration/compare.py' shop '$D1_SQLITE' && python3 '$REPO_ROOT/test/integration/compare.py' item '$D1_SQLITE'"
err=$(qerr "SELECT pg2d1_query('INSERT INTO item VALUES (999999, 12345, 1, NULL)')")
check "D1 refuses an orphan row (foreign key enforced)" grep -q 'FOREIGN KEY constraint failed' <<<"$err"
err=$(qerr "SELECT pg2d1_query('INSERT INTO item VALUES (999999, 1, -1, NULL)')")
check "D1 refuses a row PostgreSQL's CHECK refuses" grep -q 'CHECK constraint failed' <<<"$err"
q "SELECT pg2d1_query('CREATE TABLE reshaped (id INTEGER PRIMARY KEY, name TEXT NOT NULL, extra TEXT)')" >/dev/null
err=$(qerr "SELECT pg2d1_migrate('reshaped', wait => true)")
check "a D1 table of another shape is refused before any row is written" grep -q 'D1 table "reshaped" does not match "reshaped"' <<<"$err"
check "…naming each difference" bash -c "grep -q 'column \"score\" is missing in D1' <<<'$err' && grep -q 'column \"extra\" exists in D1 but not in PostgreSQL' <<<'$err' && grep -q 'column \"name\" is NOT NULL in D1 but nullable in PostgreSQL' <<<'$err'"
check_eq "…and D1's table was left untouched" "0" d1_sqlite "SELECT count(*) FROM reshaped"

report_checks types
[ "$CHECKS_FAILED" -eq 0 ]

#!/usr/bin/env bash
# bench_migrate.sh — measures pg2d1 against the local D1 server and prints figures:
# rows/s, D1 requests, bytes sent, retries, and the worker's peak RSS (ru_maxrss, which
# includes the shared buffers it touched), for
#   baseline : the reference scripts' shape (19 rows per request, 5 requests/s = 200 ms apart)
#   pg2d1    : defaults (requests as large as D1's limits allow, no rate limit locally)
#   text key / (int,int) : the same rows keyed by an md5 text column / a composite key
# both in the same run, and the ratio. Usage: bench/bench_migrate.sh [ROWS] [BASELINE_ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-500000}
BASE_ROWS=${2:-3000}
source test/lib/common.sh
trap cleanup_all EXIT
WORK=$(mktemp -d /tmp/pg2d1-bench.XXXXXX); chmod 755 "$WORK"
start_pg "$WORK/pg" >/dev/null
start_d1 "$WORK/d1"
createdb bench; export PGDATABASE=bench
pgsql -v rows="$ROWS" -v cameras=10 -f bench/generate.sql >/dev/null 2>&1
setup_pg2d1_server >/dev/null
psql -X -q -c "CREATE TABLE coordinate_speed_base AS SELECT * FROM coordinate_speed_new WHERE id <= $BASE_ROWS; ALTER TABLE coordinate_speed_base ADD PRIMARY KEY (id)"
# The same rows keyed by a text column (an md5 hex string: random order against the ids)
# and by a composite key, to price keys that are not one integer column.
psql -X -q -c "CREATE TABLE coordinate_speed_text AS SELECT md5(id::text) AS code, * FROM coordinate_speed_new;
               ALTER TABLE coordinate_speed_text ADD PRIMARY KEY (code);
               CREATE TABLE coordinate_speed_pair AS SELECT api_speed_limit AS band, * FROM coordinate_speed_new;
               UPDATE coordinate_speed_pair SET band = coalesce(band, 0);
               ALTER TABLE coordinate_speed_pair ADD PRIMARY KEY (band, id)" -c "VACUUM ANALYZE"
psql -X -q -A -t -c "SELECT count(*) FROM pg2d1_setup_schema(ARRAY['coordinate_speed_new','coordinate_speed_base','coordinate_speed_text','coordinate_speed_pair']::regclass[], create_indexes => false)" >/dev/null

run() { # label table rows settings extra-args
  local label=$1 table=$2 rows=$3 settings=$4 extra=$5 out
  out=$(psql -X -v ON_ERROR_STOP=1 2>&1 <<SQL
$settings
\timing on
SELECT pg2d1_migrate('$table', resume => false, wait => true$extra);
\timing off
SELECT 'RSS ' || peak_rss_kb FROM pg2d1.jobs ORDER BY job_id DESC LIMIT 1;
SQL
)
  local ms secs req bytes retries rss
  ms=$(grep -oE 'Time: [0-9.]+ ms' <<<"$out" | tail -n1 | grep -oE '[0-9.]+')
  req=$(grep -oE '[0-9]+ requests' <<<"$out" | grep -oE '[0-9]+')
  retries=$(grep -oE '[0-9]+ retries' <<<"$out" | grep -oE '[0-9]+')
  bytes=$(grep -oE '[0-9]+ bytes sent' <<<"$out" | grep -oE '[0-9]+')
  rss=$(grep -oE 'RSS [0-9]+' <<<"$out" | grep -oE '[0-9]+')
  python3 - "$label" "$rows" "$ms" "$req" "$bytes" "$retries" "$rss" <<'PY'
import sys
label, rows, ms, req, b, retries, rss = sys.argv[1:]
rows, secs = int(rows), float(ms) / 1000
print(f"{label:9s} {rows:>9,} rows {secs:8.2f} s {rows/secs:>11,.0f} rows/s {int(req):>7,} requests "
      f"{int(rows)/max(int(req),1):>8,.0f} rows/req {int(b)/1e6:>8.1f} MB sent {retries:>3} retries  peak RSS {int(rss)/1024:.0f} MiB")
PY
}
echo "pg2d1 benchmark against the local D1 server ($(nproc) cores)"
base=$(run baseline coordinate_speed_base "$BASE_ROWS" "SET pg2d1.requests_per_second = 5;" ", batch_size => 19")
echo "$base"
new=$(run pg2d1 coordinate_speed_new "$ROWS" "" "")
echo "$new"
text=$(run "text key" coordinate_speed_text "$ROWS" "" "")
echo "$text"
pair=$(run "(int,int)" coordinate_speed_pair "$ROWS" "" "")
echo "$pair"
python3 - "$base" "$new" "$text" "$pair" <<'PY'
import re, sys
rate = lambda s: float(re.search(r"([\d,]+) rows/s", s).group(1).replace(",", ""))
print(f"speed-up: {rate(sys.argv[2]) / rate(sys.argv[1]):,.0f}x rows/s")
print(f"text key: {rate(sys.argv[3]) / rate(sys.argv[2]):.2f}x, composite key: {rate(sys.argv[4]) / rate(sys.argv[2]):.2f}x the integer key's rows/s")
PY
python3 test/integration/compare.py coordinate_speed_new "$D1_SQLITE"
python3 test/integration/compare.py coordinate_speed_text "$D1_SQLITE" --key code
python3 test/integration/compare.py coordinate_speed_pair "$D1_SQLITE" --key band,id

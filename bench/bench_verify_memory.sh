#!/usr/bin/env bash
# bench_verify_memory.sh — measures the memory of the backend that runs pg2d1_verify, for a
# large and a small table of the same shape (an integer key and numeric columns, whose text
# output is palloc'd for every value), so that flat memory shows as equal figures:
#   rows, seconds of `SELECT count(*) FROM pg2d1_verify(…)`, peak RssAnon of the backend
#   (its private memory: the shared buffers it reads the table through are not counted),
#   peak VmHWM (which does count them), and the largest memory context and grand total
#   reported by pg_log_backend_memory_contexts() during the run.
# Usage: bench/bench_verify_memory.sh [ROWS] [SMALL_ROWS]   (defaults 2000000 200000)
# PG_BIN selects the PostgreSQL installation (see test/lib/common.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-2000000}
SMALL_ROWS=${2:-200000}
source test/lib/common.sh
trap cleanup_all EXIT
WORK=$(mktemp -d /tmp/pg2d1-bench-verify.XXXXXX); chmod 755 "$WORK"
# LOG level, so that pg_log_backend_memory_contexts() reaches the server log.
start_pg "$WORK/pg" "log_min_messages = log" "log_line_prefix = '%m [%p] '" >/dev/null
start_d1 "$WORK/d1"
createdb bench; export PGDATABASE=bench
setup_pg2d1_server >/dev/null

make_table() { # name rows
  pgsql <<SQL
DO \$\$ BEGIN PERFORM setseed(0.17); END \$\$;
CREATE TABLE $1 (
    id      bigint PRIMARY KEY,
    amount  numeric(14, 2) NOT NULL,
    rate    numeric,
    qty     numeric(12, 0),
    ratio   numeric,
    label   text
);
INSERT INTO $1
SELECT g,
       round((random() * 1e9)::numeric, 2),
       CASE WHEN g % 17 = 0 THEN NULL ELSE random()::numeric END,
       floor(random() * 1e11)::numeric,
       (random() * 1e6)::numeric / 7,
       'row ' || g
FROM generate_series(1, $2) g;
VACUUM ANALYZE $1;
SQL
}
echo "generating $ROWS and $SMALL_ROWS rows …"
make_table verify_big "$ROWS"
make_table verify_small "$SMALL_ROWS"
pgsql -A -t -c "SELECT count(*) FROM pg2d1_setup_schema(ARRAY['verify_big','verify_small']::regclass[], create_indexes => false)" >/dev/null
for t in verify_small verify_big; do
  s=$(date +%s%N)
  pgsql -A -t -c "SELECT pg2d1_migrate('$t', wait => true)" >/dev/null 2>&1
  ms=$((($(date +%s%N) - s) / 1000000))
  printf 'migrated %-12s in %d.%d s\n' "$t" $((ms / 1000)) $((ms % 1000 / 100))
done

# measure TABLE ROWS: runs the verify in its own session and samples that backend.
measure() {
  python3 - "$1" "$2" "$PGHOST/server.log" <<'PY'
import os, re, subprocess, sys, time
table, rows, server_log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
app = f"verify_bench_{table}"
log_start = os.path.getsize(server_log)
env = dict(os.environ, PGAPPNAME=app)
sql = f"SELECT count(*) FILTER (WHERE NOT ok), sum(pg_count) FROM pg2d1_verify('{table}')"
t0 = time.monotonic()
proc = subprocess.Popen(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql], env=env,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
def q(s):
    return subprocess.run(["psql", "-X", "-A", "-t", "-c", s], capture_output=True, text=True).stdout.strip()
pid = None
while pid is None and proc.poll() is None:
    out = q(f"SELECT pid FROM pg_stat_activity WHERE application_name = '{app}' AND state = 'active'")
    pid = int(out) if out.isdigit() else None
    if pid is None:
        time.sleep(0.02)
def status_kb(field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None
peak_anon = peak_hwm = 0
next_dump = time.monotonic() + 0.5
while proc.poll() is None and pid:
    a, h = status_kb("RssAnon"), status_kb("VmHWM")
    peak_anon = max(peak_anon, a or 0)
    peak_hwm = max(peak_hwm, h or 0)
    if time.monotonic() >= next_dump:
        q(f"SELECT pg_log_backend_memory_contexts({pid})")
        next_dump = time.monotonic() + 2.0
    time.sleep(0.05)
out, _ = proc.communicate()
secs = time.monotonic() - t0
if proc.returncode != 0:
    sys.exit(f"pg2d1_verify('{table}') failed: {out.strip()}")
bad, counted = out.strip().split("|")
# Memory context dumps of that backend: the largest single context and the largest grand total.
time.sleep(0.3)
with open(server_log, errors="replace") as f:
    f.seek(log_start)
    log = f.read()
ctx_re = re.compile(r"\[%d\] LOG:\s+level: \d+; ([^:]+): (\d+) total in" % (pid or -1))
tot_re = re.compile(r"\[%d\] LOG:\s+Grand total: (\d+) bytes" % (pid or -1))
largest = max(((int(m.group(2)), m.group(1).strip()) for m in ctx_re.finditer(log)), default=(0, "none"))
grand = max((int(m.group(1)) for m in tot_re.finditer(log)), default=0)
dumps = len(tot_re.findall(log))
print(f"{table:13s} {rows:>10,} rows {secs:8.1f} s  peak RssAnon {peak_anon/1024:7.1f} MB  "
      f"peak VmHWM {peak_hwm/1024:7.1f} MB  largest context {largest[1]} {largest[0]/1048576:.1f} MB  "
      f"contexts total {grand/1048576:.1f} MB ({dumps} dumps)  {'equal' if bad == '0' and int(counted) == rows else 'DIFFERENCES: ' + out.strip()}")
PY
}
echo "pg2d1_verify memory, backend pid sampled every 50 ms ($(nproc) cores)"
small=$(measure verify_small "$SMALL_ROWS"); echo "$small"
big=$(measure verify_big "$ROWS"); echo "$big"
python3 - "$small" "$big" <<'PY'
import re, sys
anon = [float(re.search(r"peak RssAnon +([\d.]+) MB", s).group(1)) for s in sys.argv[1:]]
rows = [int(re.search(r"([\d,]+) rows", s).group(1).replace(",", "")) for s in sys.argv[1:]]
print(f"{rows[1] / rows[0]:.0f}x the rows: {anon[1] / anon[0]:.2f}x the peak RssAnon")
PY

#!/usr/bin/env python3
"""sync_lag.py — follow-mode lag probe for bench/bench_sync.sh.

  sync_lag.py poll SQLITE_PATH TABLE OUT STOP_FILE [INTERVAL_S]
      Every INTERVAL_S (0.05) reads D1's SQLite file read-only for rows whose `stamp` it has
      not seen yet and writes "stamp ts seen" lines to OUT (ts: the epoch the row was
      updated at, written by the UPDATE as extract(epoch FROM clock_timestamp()); seen: the
      epoch the poll found it in D1). Stops when STOP_FILE exists.
  sync_lag.py report OUT
      Prints "samples N p50 X p95 X p99 X max X" (milliseconds of seen - ts).

The D1 table needs an index on stamp (the bench creates one), else every poll is a scan.
Stamps come from a sequence, so a poll only looks at the window above the highest stamp
seen minus WINDOW (transactions commit a little out of stamp order).
"""
import math, os, sqlite3, sys, time

WINDOW = 5000


def poll(path, table, out, stop_file, interval=0.05):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2, isolation_level=None)
    q = f'SELECT stamp, ts FROM "{table}" WHERE stamp > ?'
    seen = {}
    high = 0
    errors = 0
    with open(out, "w") as f:
        while True:
            stopping = os.path.exists(stop_file)
            try:
                rows = db.execute(q, (high - WINDOW,)).fetchall()
            except sqlite3.Error as e:  # the server holds a write lock longer than timeout
                errors += 1
                if errors > 100:
                    raise SystemExit(f"sync_lag.py: reading D1 failed {errors} times: {e}")
                rows = []
            now = time.time()
            for stamp, ts in rows:
                if stamp is None or ts is None or stamp in seen:
                    continue
                seen[stamp] = now
                high = max(high, stamp)
                f.write(f"{stamp} {ts!r} {now!r}\n")
            f.flush()
            if stopping:
                break
            time.sleep(max(0.0, interval - (time.time() - now)))


def report(out):
    lags = []
    with open(out) as f:
        for line in f:
            stamp, ts, seen = line.split()
            lags.append((float(seen) - float(ts)) * 1000)
    lags.sort()
    if not lags:
        print("samples 0 p50 nan p95 nan p99 nan max nan")
        return
    pct = lambda p: lags[max(0, math.ceil(p / 100 * len(lags)) - 1)]  # nearest rank
    print(f"samples {len(lags)} p50 {pct(50):.0f} p95 {pct(95):.0f} p99 {pct(99):.0f} max {lags[-1]:.0f}")


if __name__ == "__main__":
    if sys.argv[1] == "poll":
        poll(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]) if len(sys.argv) > 6 else 0.05)
    elif sys.argv[1] == "report":
        report(sys.argv[2])
    else:
        raise SystemExit(__doc__)

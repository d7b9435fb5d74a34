#!/usr/bin/env python3
"""import_compare.py — D1's copy of a table against PostgreSQL, every row and value, fast.

test/integration/compare.py does the same for any type but takes ~2 minutes for 2.2 M rows on
2 cores; this one streams both sides ordered by an integer key (PostgreSQL: COPY text with
exact float output, D1: the local server's SQLite file, read-only) and compares the values as
numbers, for the types of bench/generate.sql (integers, double precision, real, text).
Prints one line: rows on each side, rows equal, a checksum of each side (the sum of Python's
hash() of every row, as compared: equal sums for equal tables within one run) and the first
differences. Exit 0 when every row is equal, 1 otherwise.

Usage: import_compare.py TABLE SQLITE_PATH [--key id] [--real-as-float4]
  --real-as-float4: a `real` column counts as equal when D1's value rounded to float4 is the
    PostgreSQL value. pg2d1 stores the float4 widened to a double (bearing 76.99119 → 76.9911880493164);
    a pg_dump file carries the shortest decimal text (76.99119), which D1 parses as another double.
"""
import sqlite3, struct, subprocess, sys


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def unescape(s):  # COPY text format
    if "\\" not in s:
        return s
    out, i = [], 0
    esc = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append(esc.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def main():
    table, sqlite_path = sys.argv[1], sys.argv[2]
    key = sys.argv[sys.argv.index("--key") + 1] if "--key" in sys.argv else "id"
    real_as_f4 = "--real-as-float4" in sys.argv
    cols = [tuple(l.split("|", 1)) for l in subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c",
         f"SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '{table}'::regclass "
         "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"],
        check=True, capture_output=True, text=True).stdout.splitlines() if l]
    names = [c for c, _ in cols]
    conv = []
    for _, t in cols:
        if t in ("integer", "bigint", "smallint"):
            conv.append(int)
        elif t in ("double precision", "real"):
            conv.append(float)
        elif t == "text" or t.startswith("character"):
            conv.append(unescape)
        else:
            sys.exit(f"import_compare.py: type {t} not handled (use test/integration/compare.py)")
    real_idx = [i for i, (_, t) in enumerate(cols) if t == "real"]
    # real → float8 in PostgreSQL: the float4 widened exactly, i.e. pg2d1's mapping.
    sel = ", ".join(f'"{c}"::float8' if t == "real" else f'"{c}"' for c, t in cols)
    proc = subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "SET extra_float_digits = 3",
         "-c", f'COPY (SELECT {sel} FROM {table} ORDER BY "{key}") TO STDOUT'],
        stdout=subprocess.PIPE, text=True, encoding="utf-8", bufsize=1 << 20)

    text_idx = {i for i, f in enumerate(conv) if f is unescape}
    fast = [(i, f) for i, f in enumerate(conv) if f is not unescape]

    def pg_rows():
        for line in proc.stdout:
            vals = line[:-1].split("\t")
            for i, f in fast:
                v = vals[i]
                vals[i] = None if v == "\\N" else f(v)
            for i in text_idx:
                v = vals[i]
                vals[i] = None if v == "\\N" else (unescape(v) if "\\" in v else v)
            yield tuple(vals)

    db = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    qcols = ", ".join(f'"{c}"' for c in names)
    d1 = db.execute(f'SELECT {qcols} FROM "{table}" ORDER BY "{key}"')
    kidx = names.index(key)
    sum_pg = sum_d1 = 0
    only_f4 = 0
    n_pg = n_d1 = equal = 0
    diffs = []
    pgit = pg_rows()
    p = next(pgit, None)
    d = d1.fetchone()
    while p is not None or d is not None:
        if d is not None and (p is None or d[kidx] < p[kidx]):
            n_d1 += 1
            sum_d1 += hash(d)
            if len(diffs) < 5:
                diffs.append(f"only in D1: {d!r}")
            d = d1.fetchone()
            continue
        if p is not None and (d is None or p[kidx] < d[kidx]):
            n_pg += 1
            sum_pg += hash(p)
            if len(diffs) < 5:
                diffs.append(f"missing in D1: {p!r}")
            p = next(pgit, None)
            continue
        n_pg += 1
        n_d1 += 1
        if real_as_f4:
            dd = list(d)
            for i in real_idx:
                if dd[i] is not None:
                    dd[i] = f32(dd[i])
            if p != d and p == tuple(dd):
                only_f4 += 1
            d = tuple(dd)
        sum_pg += hash(p)
        sum_d1 += hash(d)
        if p == d:
            equal += 1
        elif len(diffs) < 5:
            diffs.append(f"differs: pg={p!r} d1={d!r}")
        p = next(pgit, None)
        d = d1.fetchone()
    if proc.wait() != 0:
        sys.exit("import_compare.py: psql failed")
    ok = n_pg == n_d1 == equal
    note = f" ({only_f4:,} of them equal only as float4: D1 holds another double in a real column)" if real_as_f4 else ""
    m = (1 << 64) - 1
    print(f"{table}: PostgreSQL {n_pg:,} rows, D1 {n_d1:,} rows, {equal:,} equal{note}; "
          f"checksum PostgreSQL {sum_pg & m:016x}, D1 {sum_d1 & m:016x}"
          + ("" if ok else "; " + "; ".join(diffs)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""compare.py — proves a table in D1 equals the table in PostgreSQL, row by row.

Reads PostgreSQL through psql (COPY … TO STDOUT, CSV) and D1 by opening the SQLite file
the local D1 server persists (the D1 side is read back, not our counters), maps each
PostgreSQL value by pg2d1's documented type mapping, and prints count and an MD5 content
checksum per side. Exit 0 when equal, 1 otherwise (with the first differences).
Usage: compare.py TABLE SQLITE_PATH [--key id[,col2…]] [--d1-table NAME]
Both sides are sorted here (by the key's canonical text), so collations cannot matter.
"""
import csv, hashlib, io, math, sqlite3, struct, subprocess, sys

def psql(sql):
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return out

def pg_columns(table):
    rows = psql(f"SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                f"WHERE a.attrelid = '{table}'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")
    return [tuple(line.split("|", 1)) for line in rows.splitlines() if line]

def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]

def pg_value(text, pgtype):
    """PostgreSQL text output → the value D1 must hold under pg2d1's mapping."""
    if text is None:
        return None
    if pgtype in ("integer", "bigint", "smallint"):
        return int(text)
    if pgtype == "boolean":
        return 1 if text == "t" else 0
    if pgtype == "double precision":
        return float(text)
    if pgtype == "real":
        return f32(float(text))
    return text

def canon(v):
    if v is None:
        return "\\N"
    if isinstance(v, float):
        if v == 0.0 and math.copysign(1, v) < 0:
            return "-0.0"
        return repr(v)
    if isinstance(v, bytes):
        return "\\x" + v.hex()
    return str(v)

def main():
    table, sqlite_path = sys.argv[1], sys.argv[2]
    key = sys.argv[sys.argv.index("--key") + 1] if "--key" in sys.argv else "id"
    d1_table = sys.argv[sys.argv.index("--d1-table") + 1] if "--d1-table" in sys.argv else table
    keys = key.split(",")
    cols = pg_columns(table)
    names = [c for c, _ in cols]
    qcols = ", ".join('"%s"' % c.replace('"', '""') for c in names)
    # Dates and times go to D1 as ISO 8601 (PostgreSQL's JSON form), arrays as JSON.
    def pg_expr(name, pgtype):
        q = '"%s"' % name.replace('"', '""')
        if pgtype.endswith("[]"):
            return f"array_to_json({q})::text"
        if pgtype.split("(")[0] in ("date", "timestamp without time zone", "timestamp with time zone",
                                     "time without time zone", "time with time zone") or \
                pgtype.startswith(("timestamp", "time(")):
            return f"to_json({q}) #>> '{{}}'"
        return q
    pg_select = ", ".join(pg_expr(c, t) for c, t in cols)
    # Text output with full float precision (extra_float_digits=1 is PostgreSQL's default since 12).
    raw = psql(f"SET extra_float_digits = 1; SET timezone = 'UTC'; SET datestyle = 'ISO'; "
               f"COPY (SELECT {pg_select} FROM {table}) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)")
    # FORCE_QUOTE * quotes every non-NULL value, so an unquoted empty field is NULL.
    pg_rows = []
    for line_rec in _csv_with_nulls(raw, len(names)):
        pg_rows.append(tuple(pg_value(v, t) for v, (_, t) in zip(line_rec, cols)))

    db = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    qd1 = '"%s"' % d1_table.replace('"', '""')
    d1_rows = [tuple(r) for r in db.execute(f'SELECT {qcols} FROM {qd1}')]
    kidx = [names.index(k) for k in keys]
    sort_key = lambda r: tuple(canon(r[i]) for i in kidx)
    pg_rows.sort(key=sort_key)
    d1_rows.sort(key=sort_key)

    def digest(rows):
        h = hashlib.md5()
        for r in rows:
            h.update(("|".join(canon(v) for v in r) + "\n").encode())
        return h.hexdigest()

    pg_sum, d1_sum = digest(pg_rows), digest(d1_rows)
    print(f"{table}: PostgreSQL {len(pg_rows)} rows md5 {pg_sum}; D1 {len(d1_rows)} rows md5 {d1_sum}")
    if len(pg_rows) == len(d1_rows) and pg_sum == d1_sum:
        return 0
    shown = 0
    d1_by_key = {sort_key(r): r for r in d1_rows}
    for r in pg_rows:
        other = d1_by_key.get(sort_key(r))
        if other != r:
            print(f"  differs at {key}={sort_key(r)}: pg={r!r} d1={other!r}")
            shown += 1
            if shown >= 5:
                break
    return 1

def _csv_with_nulls(raw, ncols):
    """CSV records where an unquoted empty field means NULL (FORCE_QUOTE * output)."""
    # csv module cannot tell "" from empty; parse by hand: fields are either empty or quoted.
    i, n = 0, len(raw)
    while i < n:
        rec = []
        while True:
            if i < n and raw[i] == '"':
                i += 1
                buf = []
                while True:
                    j = raw.index('"', i)
                    buf.append(raw[i:j])
                    if j + 1 < n and raw[j + 1] == '"':
                        buf.append('"')
                        i = j + 2
                    else:
                        i = j + 1
                        break
                rec.append("".join(buf))
            else:
                rec.append(None)
            if i < n and raw[i] == ",":
                i += 1
                continue
            if i < n and raw[i] == "\n":
                i += 1
            break
        if len(rec) != ncols:
            raise SystemExit(f"unexpected CSV record with {len(rec)} fields")
        yield rec

if __name__ == "__main__":
    sys.exit(main())

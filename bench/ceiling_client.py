#!/usr/bin/env python3
"""ceiling_client.py — the minimal D1 client bench/bench_ceiling.sh measures pg2d1 against.

  ceiling_client.py send TABLE [--max-request-bytes N] [--max-statements N]
                               [--max-statement-bytes N] [--after SQL]… [--ddl-from DATABASE_ID]
                               [--database DATABASE_ID]…
      Reads TABLE from PostgreSQL (psql, PG* environment) in key order and builds, before
      the clock starts, the requests pg2d1 would send: multi-row upserts
        INSERT INTO "t" ("c1",…) VALUES (…),(…) ON CONFLICT ("key") DO UPDATE SET "c"=excluded."c",…
      packed like src/core/batch_planner.cpp (statement ≤ max-statement-bytes, request ≤
      max-request-bytes of statement text and ≤ max-statements statements, no checkpoint
      boundaries), each request a JSON {"batch":[{"sql":…},…]} body. Then POSTs them one
      after another over one keep-alive connection to …/d1/database/<db>/query and times
      only that. The --after statements (e.g. CREATE INDEX) are sent afterwards in one more
      request, timed separately. --ddl-from first makes the table anew (DROP IF EXISTS, then
      CREATE) as that D1 database's sqlite_master has it, and adds its CREATE INDEX statements
      to --after. With --database (repeatable) the same requests go to each database in turn
      (default: D1_DATABASE). Prints one JSON object with the figures per database.
  ceiling_client.py query SQL
      Runs SQL on D1 (/query) and prints the first statement's rows as JSON.

D1 from the environment of test/lib/common.sh's start_d1: D1_URL D1_ACCOUNT D1_DATABASE D1_TOKEN.
Values are encoded as pg2d1 encodes them (src/pg/rows.cpp, src/core/sqlite_encode.cpp) for the
types it supports here: integers, boolean, real/double precision (shortest round-trip text of
the double; real widened to double first), text. Other types are refused.
"""
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

INTEGER_TYPES = {"smallint", "integer", "bigint"}
REAL_TYPES = {"real", "double precision"}
TEXT_TYPES = {"text", "character varying"}


def psql(sql):
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True).stdout


def qlit(s):
    return "'" + s.replace("'", "''") + "'"


def qident(s):
    return '"' + s.replace('"', '""') + '"'


class D1:
    def __init__(self, database=None):
        url = urllib.parse.urlsplit(os.environ["D1_URL"])
        self.host, self.port = url.hostname, url.port or 80
        self.path = (f"{url.path.rstrip('/')}/accounts/{os.environ['D1_ACCOUNT']}"
                     f"/d1/database/{database or os.environ['D1_DATABASE']}/query")
        self.headers = {"Authorization": f"Bearer {os.environ['D1_TOKEN']}",
                        "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)

    def post(self, body):
        self.conn.request("POST", self.path, body=body, headers=self.headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise SystemExit(f"D1 answered {resp.status}: {data[:500]!r}")
        out = json.loads(data)
        if not out.get("success"):
            raise SystemExit(f"D1 failed: {data[:500]!r}")
        return out

    def query(self, sql):
        return self.post(json.dumps({"sql": sql}).encode())["result"]


# COPY … TO STDOUT (text format) escapes
_ESC = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.S)
_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unescape(m):
    if m.group(1):
        return chr(int(m.group(1), 8))
    if m.group(2):
        return chr(int(m.group(2), 16))
    return _SIMPLE.get(m.group(3), m.group(3))


def encoder(pgtype):
    if pgtype in INTEGER_TYPES:
        return lambda s: s
    if pgtype == "boolean":
        return lambda s: "1" if s == "t" else "0"
    if pgtype in REAL_TYPES:
        def real(s):
            if s == "NaN":
                return "'NaN'"
            if s == "Infinity":
                return "9e999"
            if s == "-Infinity":
                return "-9e999"
            if "." in s and "e" not in s:
                return s  # float8out's shortest round-trip digits (extra_float_digits = 1) = repr()'s
            v = float(s)
            if v != 0 and not (1e-50 <= abs(v) <= 1e50):
                raise SystemExit(f"value {s} needs pg2d1's power-of-two spelling, not done here")
            return repr(v)  # shortest round-trip; always has '.', 'e' (or is -0.0)
        return real
    if pgtype in TEXT_TYPES:
        return lambda s: qlit(_ESC.sub(_unescape, s) if "\\" in s else s)
    raise SystemExit(f"type {pgtype} is not supported by ceiling_client.py")


def read_tuples(table):
    cols = [tuple(l.split("|", 1)) for l in psql(
        f"SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a WHERE a.attrelid = '{table}'::regclass "
        f"AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum").splitlines() if l]
    keys = [l for l in psql(
        f"SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        f"WHERE i.indrelid = '{table}'::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)"
    ).splitlines() if l]
    if not keys:
        raise SystemExit(f"{table} has no primary key")
    # real goes out as float8: its exact double, as pg2d1 widens it (column_real)
    select = ", ".join(qident(c) + ("::float8" if t == "real" else "") for c, t in cols)
    encs = [encoder(t) for _, t in cols]
    order = ", ".join(qident(k) for k in keys)
    env = dict(os.environ, PGOPTIONS=os.environ.get("PGOPTIONS", "") + " -c extra_float_digits=1")
    proc = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                             f"COPY (SELECT {select} FROM {table} ORDER BY {order}) TO STDOUT"],
                            stdout=subprocess.PIPE, env=env)
    tuples = []
    pairs = list(enumerate(encs))
    for line in proc.stdout:
        f = line.decode("utf-8")[:-1].split("\t")
        tuples.append("(" + ",".join("NULL" if f[i] == "\\N" else e(f[i]) for i, e in pairs) + ")")
    if proc.wait() != 0:
        raise SystemExit("psql COPY failed")
    names = [c for c, _ in cols]
    prefix = f"INSERT INTO {qident(table)} ({','.join(map(qident, names))}) VALUES "
    rest = [c for c in names if c not in keys]
    suffix = f" ON CONFLICT ({','.join(map(qident, keys))})" + (
        " DO UPDATE SET " + ",".join(f"{qident(c)}=excluded.{qident(c)}" for c in rest) if rest else " DO NOTHING")
    return prefix, suffix, tuples


def plan(prefix, suffix, tuples, max_stmt, max_req, max_stmts):
    """Requests as lists of statements, packed like BatchPlanner::add_row (sizes in UTF-8 bytes)."""
    pb, sb = len(prefix.encode()), len(suffix.encode())
    requests, req, req_bytes = [], [], 0
    stmt, stmt_bytes = None, 0

    def close_statement():
        nonlocal stmt, stmt_bytes, req, req_bytes
        if stmt is None:
            return
        req.append(prefix + ",".join(stmt) + suffix)
        req_bytes += stmt_bytes + sb
        stmt, stmt_bytes = None, 0
        if len(req) >= max_stmts:
            close_request()

    def close_request():
        nonlocal req, req_bytes
        if req:
            requests.append(req)
        req, req_bytes = [], 0

    for t in tuples:
        tb = len(t.encode()) if not t.isascii() else len(t)
        alone = pb + tb + sb
        if alone > max_stmt or alone > max_req:
            raise SystemExit("a row does not fit in one statement")
        if stmt is not None:
            grown = stmt_bytes + 1 + tb + sb
            if grown > max_stmt or req_bytes + grown > max_req:
                close_statement()
        if stmt is None:
            if req and req_bytes + alone > max_req:
                close_request()
            stmt, stmt_bytes = [t], pb + tb
        else:
            stmt.append(t)
            stmt_bytes += 1 + tb
    close_statement()
    close_request()
    return requests


def body(statements):
    return json.dumps({"batch": [{"sql": s} for s in statements]}, ensure_ascii=False,
                      separators=(",", ":")).encode()


def cmd_send(args):
    import argparse
    ap = argparse.ArgumentParser(prog="ceiling_client.py send")
    ap.add_argument("table")
    ap.add_argument("--max-statement-bytes", type=int, default=100000)
    ap.add_argument("--max-request-bytes", type=int, default=1000000)
    ap.add_argument("--max-statements", type=int, default=50)
    ap.add_argument("--after", action="append", default=[])
    ap.add_argument("--ddl-from", metavar="DATABASE_ID")
    ap.add_argument("--database", action="append", metavar="DATABASE_ID")
    a = ap.parse_args(args)
    t0 = time.perf_counter()
    prefix, suffix, tuples = read_tuples(a.table)
    requests = plan(prefix, suffix, tuples, a.max_statement_bytes, a.max_request_bytes, a.max_statements)
    bodies = [body(r) for r in requests]
    prep = time.perf_counter() - t0
    n_rows, n_statements = len(tuples), sum(len(r) for r in requests)
    sql_bytes = sum(len(s.encode()) for r in requests for s in r)
    del tuples, requests
    ddl = []
    if a.ddl_from:  # the table as D1 database DDL_FROM has it, its indexes built after the rows
        ddl = D1(a.ddl_from).query(f"SELECT type, sql FROM sqlite_master WHERE tbl_name = {qlit(a.table)} "
                                   f"AND sql IS NOT NULL ORDER BY type = 'index', name")[0]["results"]
        if not ddl or ddl[0]["type"] != "table":
            raise SystemExit(f"D1 database {a.ddl_from} has no table {a.table}")
    after = a.after + [r["sql"] for r in ddl[1:]]
    for database in a.database or [None]:
        d1 = D1(database)
        if ddl:
            d1.post(body([f"DROP TABLE IF EXISTS {qident(a.table)}", ddl[0]["sql"]]))
        d1.query("SELECT 1")  # connected and warm before the clock starts
        times = []
        start = time.perf_counter()
        for b in bodies:
            t = time.perf_counter()
            d1.post(b)
            times.append(time.perf_counter() - t)
        send = time.perf_counter() - start
        after_s = 0.0
        if after:
            t = time.perf_counter()
            d1.post(body(after))
            after_s = time.perf_counter() - t
        print(json.dumps({
            "database": database or os.environ["D1_DATABASE"], "rows": n_rows, "requests": len(bodies),
            "statements": n_statements, "sql_bytes": sql_bytes, "body_bytes": sum(map(len, bodies)),
            "max_body_bytes": max(map(len, bodies)), "prepare_s": round(prep, 3), "send_s": round(send, 3),
            "after_statements": len(after), "after_s": round(after_s, 3),
            "mean_request_s": round(send / len(bodies), 4), "max_request_s": round(max(times), 4),
        }), flush=True)
        d1.conn.close()


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "send":
        cmd_send(sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "query":
        print(json.dumps(D1().query(sys.argv[2])[0]["results"]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()

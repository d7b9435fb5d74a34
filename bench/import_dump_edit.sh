#!/usr/bin/env bash
# import_dump_edit.sh — the hand edits a `pg_dump --data-only --inserts` file needs before
# `wrangler d1 execute <db> --remote --file` accepts it, as a user would script them:
#   * drop what is not SQLite: `SET …;`, `SELECT pg_catalog.set_config(…)` and
#     `SELECT pg_catalog.setval(…)` (no sequences in D1: an INTEGER PRIMARY KEY is the rowid),
#     the psql meta-commands `\restrict …` / `\unrestrict …` (pg_dump 15.14 and later),
#   * drop the `--` comment lines and the blank lines,
#   * `INSERT INTO public.t` → `INSERT INTO t` (SQLite reads `public.` as an attached database:
#     `unknown database public`),
# and, when a DDL file is given (pg2d1_ddl's output: CREATE TABLE, then CREATE INDEX …), puts its
# CREATE TABLE first and its CREATE INDEX statements last, so the indexes are built once after
# the load, as pg2d1 does. Line-based: a text value with a newline followed by one of these
# patterns would be damaged (bench/generate.sql's data has no newlines).
# Usage: import_dump_edit.sh DUMP.sql [DDL.sql] > edited.sql
set -euo pipefail
dump=$1 ddl=${2:-}
[ -z "$ddl" ] || grep -v '^CREATE INDEX\|^CREATE UNIQUE INDEX' "$ddl" | grep -v '^$' || true
sed -E -e '/^(SET |SELECT pg_catalog\.|\\(un)?restrict |--|$)/d' \
       -e 's/^INSERT INTO (public|"public")\./INSERT INTO /' "$dump"
[ -z "$ddl" ] || grep '^CREATE INDEX\|^CREATE UNIQUE INDEX' "$ddl" || true

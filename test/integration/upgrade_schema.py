#!/usr/bin/env python3
"""upgrade_schema.py A.sql B.sql — compares pg2d1's objects in two pg_dump --schema-only
[--binary-upgrade] dumps (used by test_upgrade.sh). Exit 0 when equal, else prints a diff.

A plain pg_dump shows an extension as one CREATE EXTENSION line; --binary-upgrade writes
every member object (with ALTER EXTENSION … ADD), its owner, its privileges and its
initial privileges (pg_init_privs), which is what an upgrade must get right. Kept: the
entries of the dump whose object is in schema pg2d1, is named after pg2d1 or is added to the
extension. Dropped: the other objects of the databases (the tests' tables, servers, user
mappings), comments, SET lines, sequence values (data: an upgrade keeps its ids going) and
what differs between any two databases (oids, relfilenodes, frozen xids). Entries are compared sorted by their header, so an order that
depends on oids does not count.
"""
import difflib
import re
import sys

HEADER = re.compile(r"^-- (?:Data for )?Name: (.*?); Type: (.*?); Schema: (.*?); Owner: (.*)$")


def entries(path):
    out, cur = [], None
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # frozen xids of each table and its toast table (a statement over three lines)
    text = re.sub(r"UPDATE pg_catalog\.pg_class\nSET relfrozenxid = [^;]*;\n", "", text)
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            cur = {"name": m.group(1), "type": m.group(2), "schema": m.group(3), "owner": m.group(4),
                   "lines": []}
            out.append(cur)
            continue
        if cur is None:
            continue
        cur["lines"].append(line)
    return out


def keep(e):
    body = "\n".join(e["lines"])
    return (e["schema"] == "pg2d1" or re.search(r"\bpg2d1", e["name"]) is not None
            or "ALTER EXTENSION pg2d1 ADD" in body)


def normalise(line):
    if not line.strip() or line.startswith("--") or re.match(r"^(SET|SELECT pg_catalog\.set_config)\b", line):
        return None
    if line.startswith(("\\restrict ", "\\unrestrict ")) or "binary_upgrade_set_next_" in line:
        return None
    # the configuration tables' oids: compared by name in test_upgrade.sh (pg_extension.extconfig)
    if "binary_upgrade_create_empty_extension" in line:
        line = re.sub(r"'\{[0-9,]*\}'", "'{oids}'", line, count=1)
    # a sequence's value is data (an upgrade keeps its ids going)
    line = re.sub(r"^(SELECT pg_catalog\.setval\('[^']*'), .*$", r"\1, …);", line)
    return line


def render(path):
    blocks = []
    for e in entries(path):
        if not keep(e):
            continue
        body = [n for n in (normalise(x) for x in e["lines"]) if n is not None]
        blocks.append(f"-- {e['type']} {e['schema']}.{e['name']} (owner {e['owner']})\n" + "\n".join(body))
    blocks.sort()
    return "\n\n".join(blocks).splitlines(keepends=False)


def main():
    a, b = render(sys.argv[1]), render(sys.argv[2])
    if not a:
        print(f"no pg2d1 objects in {sys.argv[1]}")
        return 1
    if a == b:
        print(f"{len(a)} lines of pg2d1 schema equal")
        return 0
    sys.stdout.writelines(line + "\n" for line in difflib.unified_diff(a, b, sys.argv[1], sys.argv[2], lineterm=""))
    return 1


if __name__ == "__main__":
    sys.exit(main())

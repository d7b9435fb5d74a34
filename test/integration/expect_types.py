#!/usr/bin/env python3
"""expect_types.py — reads table all_types back from D1's SQLite file and checks every
cell against the README's type mapping, written out by hand here (not computed by pg2d1's
code): SQLite storage class and exact value. Prints one ok/FAIL line per cell that is not
NULL-for-NULL and a last line "PASSED FAILED".
Usage: expect_types.py SQLITE_PATH
"""
import math, sqlite3, struct, sys

def f32(x):  # a float4 value as the double PostgreSQL hands over
    return struct.unpack("<f", struct.pack("<f", x))[0]

I, R, T, B = "integer", "real", "text", "blob"
INF = float("inf")
EMOJI_TEXT = 'it\'s "quoted" \\ back\\slash \t tab \n newline 😀 𝄞 ünïcödé'

# (id, column) → (storage class, value). Cells not listed must be NULL.
EXPECT = {
    # row 2: ordinary values
    (2, "i2"): (I, 1), (2, "i4"): (I, 2), (2, "i8"): (I, 3), (2, "num"): (T, "4.5"),
    (2, "r4"): (R, 1.5), (2, "r8"): (R, 0.1), (2, "b"): (I, 1), (2, "t"): (T, "plain"),
    (2, "vc"): (T, "v"), (2, "ch"): (T, "ab   "), (2, "by"): (B, b"\x01\x02"),
    (2, "d"): (T, "2024-05-01"), (2, "tm"): (T, "12:34:56"), (2, "tmtz"): (T, "12:34:56+02"),
    (2, "ts"): (T, "2024-05-01T12:00:00"), (2, "tstz"): (T, "2024-05-01T12:00:00+00:00"), (2, "iv"): (T, "P1D"),
    (2, "u"): (T, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), (2, "j"): (T, '{"a": 1}'), (2, "jb"): (T, '{"a": 1}'),
    (2, "ai"): (T, "[1,2,3]"), (2, "at"): (T, '["x","y"]'), (2, "e"): (T, "ok"), (2, "dom"): (I, 7),
    (2, "em"): (T, "a@b.c"), (2, "st"): (T, "2024-05-01T12:00:00+00:00"), (2, "comp"): (T, "(1,x)"),
    (2, "ip"): (T, "192.168.0.1"), (2, "rng"): (T, "[1,5)"), (2, "bits"): (T, "0101"), (2, "pt"): (T, "(1.5,-2)"),
    (2, "hs"): (T, '"k"=>"v"'),
    # row 3: extremes and special values
    (3, "i2"): (I, -32768), (3, "i4"): (I, 2147483647), (3, "i8"): (I, 9223372036854775807),
    (3, "num"): (T, "12345678901234567890123456789012345678901234.5678901234567890"),
    (3, "r4"): (R, INF), (3, "r8"): (R, -INF), (3, "b"): (I, 0), (3, "t"): (T, EMOJI_TEXT),
    (3, "vc"): (T, "it's"), (3, "ch"): (T, "ab   "), (3, "by"): (B, b"\x00\xff\x00"),
    (3, "d"): (T, "infinity"), (3, "tm"): (T, "24:00:00"), (3, "tmtz"): (T, "00:00:00-14:59"),
    (3, "ts"): (T, "-infinity"), (3, "tstz"): (T, "infinity"), (3, "iv"): (T, "P-1Y-2M3DT4H5M6.789S"),
    (3, "u"): (T, "00000000-0000-0000-0000-000000000000"),
    (3, "j"): (T, '{"a": [1, 2.50, "x"],  "b" : null}'), (3, "jb"): (T, '{"a": [1, 2.50, "x"], "b": null}'),
    (3, "ai"): (T, "[[1,2],[3,null]]"), (3, "at"): (T, '["a\\"b",null,"c,d",""]'), (3, "e"): (T, 'it\'s "fine"'),
    (3, "dom"): (I, 2147483647), (3, "em"): (T, '"odd"@x'), (3, "st"): (T, "infinity"),
    (3, "comp"): (T, '(,"a ""b"" c")'), (3, "ip"): (T, "::1"), (3, "rng"): (T, "empty"), (3, "bits"): (T, ""),
    (3, "pt"): (T, "(0,0)"), (3, "hs"): (T, '"a b"=>NULL'),
    # row 4: the other extremes, NaN everywhere it exists, empty values, BC
    (4, "i2"): (I, 32767), (4, "i4"): (I, -2147483648), (4, "i8"): (I, -9223372036854775808),
    (4, "num"): (T, "NaN"), (4, "r4"): (T, "NaN"), (4, "r8"): (T, "NaN"),
    (4, "t"): (T, ""), (4, "vc"): (T, ""), (4, "ch"): (T, "     "), (4, "by"): (B, b""),
    (4, "d"): (T, "0044-03-15 BC"), (4, "tm"): (T, "23:59:59.999999"), (4, "tmtz"): (T, "23:59:59.999999+14:59"),
    (4, "ts"): (T, "0001-01-01T00:00:00 BC"), (4, "tstz"): (T, "2024-02-29T18:29:59.999999+00:00"),
    (4, "iv"): (T, "P-178000000Y"), (4, "u"): (T, "ffffffff-ffff-ffff-ffff-ffffffffffff"),
    (4, "j"): (T, '"just a string"'), (4, "jb"): (T, "[]"), (4, "ai"): (T, "[]"), (4, "at"): (T, "[]"),
    (4, "e"): (T, "sad"), (4, "dom"): (I, 1), (4, "em"): (T, "@"), (4, "st"): (T, "2000-01-01T07:59:59.5+00:00"),
    (4, "comp"): (T, '(0,"")'), (4, "ip"): (T, "10.0.0.0/8"), (4, "rng"): (T, "(,)"), (4, "bits"): (T, "1"),
    (4, "pt"): (T, "(-1e+300,1e-300)"), (4, "hs"): (T, ""),
    # row 5: above 2^53, tiny numeric, float4 min normal, -0.0, long text, 3000 zero bytes
    (5, "i2"): (I, 0), (5, "i4"): (I, 0), (5, "i8"): (I, 9007199254740993),
    (5, "num"): (T, "-0.000000000000000000000000000000000000001"), (5, "r4"): (R, f32(1.17549435e-38)),
    (5, "r8"): (R, 0.0),  # -0.0: SQLite's REAL column keeps no sign of zero (README rule)
    (5, "b"): (I, 1), (5, "t"): (T, "x" * 5000), (5, "vc"): (T, "é" * 20), (5, "ch"): (T, "abcde"),
    (5, "by"): (B, bytes(3000)), (5, "d"): (T, "9999-12-31"), (5, "tm"): (T, "00:00:00"),
    (5, "tmtz"): (T, "00:00:00+00"), (5, "ts"): (T, "294276-12-31T23:59:59.999999"),
    (5, "tstz"): (T, "4713-01-01T00:00:00+00:00 BC"), (5, "iv"): (T, "PT0.000001S"),
    (5, "u"): (T, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12"), (5, "j"): (T, "null"), (5, "jb"): (T, "1" + "0" * 400),
    (5, "ai"): (T, "[-1]"), (5, "at"): (T, "[null]"), (5, "e"): (T, "ok"), (5, "dom"): (I, 2), (5, "em"): (T, "x@y"),
    (5, "st"): (T, "2000-01-01T00:00:00+00:00"), (5, "comp"): (T, "(-1,)"), (5, "ip"): (T, "2001:db8::ff00:42:8329"),
    (5, "rng"): (T, "[2,3)"), (5, "bits"): (T, "10101010101"), (5, "pt"): (T, "(0.1,0.2)"),
    (5, "hs"): (T, '"a"=>"1", "b"=>"2"'),
    # rows 6-9: numeric and floating-point edges
    (6, "i8"): (I, -9007199254740993), (6, "num"): (T, "0.000000000000000000000000000001"),
    (6, "r4"): (R, f32(3.4028235e38)), (6, "r8"): (R, 5e-324),
    (7, "num"): (T, "0"), (7, "r4"): (R, -1.5), (7, "r8"): (R, 2.2250738585072014e-308),
    (8, "num"): (T, "100"), (8, "r4"): (R, f32(1e-45)), (8, "r8"): (R, 1.7976931348623157e308),
    (9, "num"): (T, "Infinity"), (9, "r4"): (R, 0.0), (9, "r8"): (R, 2.2250738585072009e-308),
}

def same(kind, want, got):
    if kind == R:
        return isinstance(got, float) and struct.pack("<d", got) == struct.pack("<d", want)
    return got == want

def main():
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    cols = [r[1] for r in db.execute("PRAGMA table_info(all_types)")]
    passed = failed = 0
    for row in db.execute("SELECT id, " + ", ".join(f'typeof("{c}"), "{c}"' for c in cols[1:]) +
                          " FROM all_types ORDER BY id"):
        rid = row[0]
        for n, c in enumerate(cols[1:]):
            got_kind, got = row[1 + 2 * n], row[2 + 2 * n]
            want_kind, want = EXPECT.get((rid, c), ("null", None))
            if got_kind == want_kind and same(want_kind, want, got):
                if want_kind != "null":
                    passed += 1
                    print(f"ok   - all_types id={rid} {c}: {want_kind} {want!r}"[:160])
                continue
            failed += 1
            print(f"FAIL - all_types id={rid} {c}: want {want_kind} {want!r}"[:300])
            print(f"       got  {got_kind} {got!r}"[:300])
    ids = [r[0] for r in db.execute("SELECT id FROM all_types ORDER BY id")]
    if ids != list(range(1, 10)):
        failed += 1
        print(f"FAIL - all_types ids {ids}")
    print(passed, failed)
    return 0

if __name__ == "__main__":
    sys.exit(main())

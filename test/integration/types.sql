-- types.sql — tables for test_types.sh: every built-in type family with its nasty values
-- and NULLs, text/uuid/timestamp/composite keys, quoted identifiers, large values.
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'it''s "fine"');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');
CREATE DOMAIN stamp AS timestamptz;
CREATE TYPE pair AS (a int, b text);

CREATE TABLE all_types (
    id int PRIMARY KEY,
    i2 smallint, i4 integer, i8 bigint, num numeric, r4 real, r8 double precision,
    b boolean, t text, vc varchar(20), ch char(5), "by" bytea,
    d date, tm time, tmtz timetz, ts timestamp, tstz timestamptz, iv interval,
    u uuid, j json, jb jsonb, ai int[], "at" text[], e mood, dom posint, em email, st stamp,
    comp pair, ip inet, rng int4range, bits varbit, pt point, hs hstore
);
INSERT INTO all_types (id) VALUES (1); -- every column NULL
INSERT INTO all_types VALUES
 (2, 1, 2, 3, 4.5, 1.5, 0.1, true, 'plain', 'v', 'ab', '\x0102',
  '2024-05-01', '12:34:56', '12:34:56+02', '2024-05-01 12:00:00', '2024-05-01 12:00:00+00', '1 day',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1}', '{"a": 1}', '{1,2,3}', '{x,y}', 'ok', 7, 'a@b.c',
  '2024-05-01 12:00:00+00', ROW(1, 'x'), '192.168.0.1', '[1,5)', B'0101', '(1.5,-2)', 'k=>v'),
 (3, -32768, 2147483647, 9223372036854775807,
  12345678901234567890123456789012345678901234.5678901234567890, 'Infinity', '-Infinity', false,
  E'it''s "quoted" \\ back\\slash \t tab \n newline 😀 𝄞 ünïcödé', 'it''s', 'ab', '\x00ff00',
  'infinity', '24:00:00', '00:00:00-14:59', '-infinity', 'infinity',
  '-1 year -2 months +3 days 04:05:06.789',
  '00000000-0000-0000-0000-000000000000', '{"a": [1, 2.50, "x"],  "b" : null}', '{"b": null, "a": [1, 2.50, "x"]}',
  '{{1,2},{3,NULL}}', ARRAY['a"b', NULL, 'c,d', ''], 'it''s "fine"', 2147483647, '"odd"@x',
  'infinity', ROW(NULL, 'a "b" c'), '::1/128', 'empty', B'', '(0,0)', '"a b"=>NULL'),
 (4, 32767, -2147483648, -9223372036854775808, 'NaN', 'NaN', 'NaN', NULL,
  '', '', '', '',
  '0044-03-15 BC', '23:59:59.999999', '23:59:59.999999+14:59', '0001-01-01 00:00:00 BC',
  '2024-02-29 23:59:59.999999+05:30', '-178000000 years',
  'ffffffff-ffff-ffff-ffff-ffffffffffff', '"just a string"', '[]', '{}', '{}', 'sad', 1, '@',
  '1999-12-31 23:59:59.5-08', ROW(0, ''), '10.0.0.0/8', '[,)', B'1', '(-1e+300,1e-300)', ''),
 (5, 0, 0, 9007199254740993, '-0.000000000000000000000000000000000000001', '1.17549435e-38', '-0.0', true,
  repeat('x', 5000), repeat('é', 20), 'abcde', decode(repeat('00', 3000), 'hex'),
  '9999-12-31', '00:00:00', '00:00:00+00', '294276-12-31 23:59:59.999999', '4713-01-01 00:00:00+00 BC',
  '00:00:00.000001', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 'null', '1e400', '{-1}', '{NULL}', 'ok', 2, 'x@y',
  '2000-01-01 00:00:00+00', ROW(-1, NULL), '2001:db8::ff00:42:8329', '(1,2]', B'10101010101', '(0.1,0.2)', 'a=>1,b=>2'),
 (6, NULL, NULL, -9007199254740993, '1e-30', '3.4028235e+38', '4.9406564584124654e-324', NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL),
 (7, NULL, NULL, NULL, '0', '-1.5', '2.2250738585072014e-308', NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL),
 (8, NULL, NULL, NULL, '100', '1e-45', '1.7976931348623157e308', NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL),
 (9, NULL, NULL, NULL, 'Infinity', '-0.0', '2.2250738585072009e-308', NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL);

-- Doubles over the whole exponent range, subnormals included.
CREATE TABLE wide_floats (id int PRIMARY KEY, r float8, f float4);
INSERT INTO wide_floats
SELECT g, (random() * 2 - 1) * power(10::float8, random() * 600 - 300) * CASE WHEN g % 10 = 0 THEN 1e-16 ELSE 1 END,
       ((random() * 2 - 1) * power(10::float8, random() * 76 - 38))::float4
FROM generate_series(1, 20000) g;

-- Large values: a 300 KB bytea (every byte value, zeros included) and a 200,000-character
-- text with quotes and multi-byte characters, next to small rows.
CREATE TABLE big_values (id int PRIMARY KEY, blob bytea, txt text, note text);
INSERT INTO big_values
SELECT g, CASE WHEN g % 2 = 0 THEN (SELECT string_agg(decode(lpad(to_hex((i * 7 + g) % 256), 2, '0'), 'hex'), ''::bytea)
                                 FROM generate_series(1, 300000) i) END,
       CASE WHEN g % 3 = 0 THEN repeat('ab''c"é😀x', 200000 / 8) END, 'row ' || g
FROM generate_series(1, 12) g;

-- Keys that are not one integer column.
CREATE TABLE text_keys (code text COLLATE "und-x-icu" PRIMARY KEY, v int NOT NULL);
INSERT INTO text_keys
SELECT k, row_number() OVER (ORDER BY k COLLATE "C") FROM (
  SELECT DISTINCT k FROM (
    SELECT (ARRAY['a','B','c','É','z','Z','ä','_','-','1','ü','O''Brien','ß','Ω','日本'])[1 + (g % 15)] || '-' ||
           (g / 15)::text AS k FROM generate_series(0, 2999) g) s) t;
CREATE TABLE uuid_keys (id uuid PRIMARY KEY, v text);
INSERT INTO uuid_keys SELECT md5(g::text)::uuid, 'v' || g FROM generate_series(1, 1500) g;
CREATE TABLE ts_keys (at timestamptz PRIMARY KEY, v int);
INSERT INTO ts_keys SELECT timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second 1 microsecond', g
FROM generate_series(1, 1500) g;
INSERT INTO ts_keys VALUES ('-infinity', -1), ('infinity', -2), ('0044-03-15 12:00:00+00 BC', -3);
CREATE TABLE composite_keys (region text NOT NULL, seq int NOT NULL, day date NOT NULL, amount numeric,
                             PRIMARY KEY (region, seq, day));
INSERT INTO composite_keys SELECT (ARRAY['north','south','Éast','west'])[1 + g % 4], g % 97, date '2024-01-01' + (g % 13), g * 1.5
FROM generate_series(1, 3000) g ON CONFLICT DO NOTHING;

-- Quoted identifiers everywhere.
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."Odd ""Table"" Name" ("Key" int PRIMARY KEY, "select" text, "group by" int, "naïve col" text);
INSERT INTO "My Schema"."Odd ""Table"" Name" SELECT g, 'sel ' || g, g * 2, 'ç' || g FROM generate_series(1, 500) g;

-- No primary key: refused with a HINT, then migrated by a unique index the user names.
CREATE TABLE no_pk (code text, v int);
INSERT INTO no_pk SELECT 'c' || g, g FROM generate_series(1, 300) g;

-- Schema translation end to end: foreign keys and CHECK constraints enforced by D1.
CREATE TABLE shop (id int PRIMARY KEY, name text NOT NULL UNIQUE, rating int CHECK (rating BETWEEN 1 AND 5));
CREATE TABLE item (id bigint PRIMARY KEY, shop_id int NOT NULL REFERENCES shop ON DELETE CASCADE,
                   qty int NOT NULL CHECK (qty >= 0), label text);
CREATE INDEX item_shop ON item (shop_id, label);
INSERT INTO shop SELECT g, 'shop ' || g, 1 + g % 5 FROM generate_series(1, 50) g;
INSERT INTO item SELECT g, 1 + g % 50, g % 7, 'label ' || g FROM generate_series(1, 2000) g;
-- A table D1 already has in another shape.
CREATE TABLE reshaped (id int PRIMARY KEY, name text, score float8);
INSERT INTO reshaped VALUES (1, 'a', 1.5);

-- numeric as REAL, on request (pg2d1.numeric_as_real).
CREATE TABLE measures (id int PRIMARY KEY, n numeric, m numeric(6,2) DEFAULT 1.5 CHECK (m >= 0));
INSERT INTO measures VALUES (1, 0.1, 1.25), (2, 123456789.123456789, 0), (3, 'NaN', NULL), (4, 'Infinity', 2),
                            (5, '-Infinity', 3), (6, 1e300, 4), (7, -2.5e-300, 5), (8, NULL, 6);

-- Wide rows under a (text, float8) key: pg2d1_verify reads D1 in keyset pages of ~8 MB,
-- so this table takes several pages per range.
CREATE TABLE wide_rows (k text, r float8, payload text, PRIMARY KEY (k, r));
INSERT INTO wide_rows
SELECT 'k' || (g % 7), (ARRAY['NaN', 'Infinity', '-Infinity', '0.1', '1e300', '-5e-324', '0'])[1 + g / 7 % 7]::float8 + g / 49,
       repeat(chr(65 + g % 26), 200000)
FROM generate_series(0, 119) g ON CONFLICT DO NOTHING;

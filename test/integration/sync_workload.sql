-- sync_workload.sql — the pgbench script of test_sync.sh: a mixed workload on wl (integer
-- key; text, numeric, timestamptz, jsonb and a NULLable column) and wl2 (text + int key).
-- Inserts of new keys, updates of values, updates of the key (to a far-away key, the
-- integer key by a big offset, the composite key by a new region), deletes, deletes followed
-- by a re-insert of the same key in the same transaction, and upserts that re-insert keys
-- deleted or moved by earlier transactions. Never fails: every key it writes is either new
-- (sequences) or taken with ON CONFLICT. Variables: maxkey (wl keys 1..maxkey are picked),
-- maxseq (wl2 seqs 1..maxseq per region).
\set r random(1, 100)
\set k random(1, :maxkey)
\set v random(1, 1000000)
\set ri random(1, 4)
\set s random(1, :maxseq)
\if :r <= 12
-- a new key
INSERT INTO wl VALUES (nextval('wl_new'), 'new ' || :v, :v / 7.0, clock_timestamp(),
                       jsonb_build_object('v', :v, 'tag', 'new', 'arr', jsonb_build_array(:v, 'x')), NULLIF(:v % 3, 0));
\elif :r <= 40
-- new values, sometimes NULL
UPDATE wl SET t = 'upd ' || :v || ' «ü»', n = n + 1.2345, at = clock_timestamp(),
              j = j || jsonb_build_object('u', :v), maybe = CASE WHEN :v % 4 = 0 THEN NULL ELSE :v END
 WHERE id = :k;
\elif :r <= 48
-- the key moves by a big offset (each move its own multiple: never taken)
UPDATE wl SET id = id + 100000000 * nextval('wl_epoch'), t = t || ' moved' WHERE id = :k;
\elif :r <= 56
-- delete, then the same key again, in one transaction
BEGIN;
DELETE FROM wl WHERE id = :k;
INSERT INTO wl VALUES (:k, 'again ' || :v, -:v / 3.0, clock_timestamp(), '{"again": true}', NULL)
  ON CONFLICT (id) DO NOTHING;
COMMIT;
\elif :r <= 63
DELETE FROM wl WHERE id = :k;
\elif :r <= 70
-- re-insert (of a key deleted or moved earlier) or update
INSERT INTO wl VALUES (:k, 'back ' || :v, :v, clock_timestamp(), jsonb_build_object('back', :v), :v)
  ON CONFLICT (id) DO UPDATE SET t = excluded.t, j = excluded.j, maybe = NULL;
\elif :r <= 74
-- several rows at once
UPDATE wl SET n = -n, maybe = NULL, at = clock_timestamp() WHERE id BETWEEN :k AND :k + 9;
\elif :r <= 86
UPDATE wl2 SET v = 'u' || :v, at = clock_timestamp()
 WHERE region = (ARRAY['north','South','éast','west'])[:ri] AND seq = :s;
\elif :r <= 89
INSERT INTO wl2 VALUES ((ARRAY['north','South','éast','west'])[:ri], nextval('wl2_new'), 'n' || :v, clock_timestamp());
\elif :r <= 92
-- the text part of the key moves
UPDATE wl2 SET region = region || '/' || nextval('wl_epoch') WHERE region = (ARRAY['north','South','éast','west'])[:ri] AND seq = :s;
\elif :r <= 96
BEGIN;
DELETE FROM wl2 WHERE region = (ARRAY['north','South','éast','west'])[:ri] AND seq = :s;
INSERT INTO wl2 VALUES ((ARRAY['north','South','éast','west'])[:ri], :s, 'again ' || :v, NULL)
  ON CONFLICT (region, seq) DO NOTHING;
COMMIT;
\elif :r <= 98
DELETE FROM wl2 WHERE region = (ARRAY['north','South','éast','west'])[:ri] AND seq = :s;
\else
INSERT INTO wl2 VALUES ((ARRAY['north','South','éast','west'])[:ri], :s, 'back ' || :v, clock_timestamp())
  ON CONFLICT (region, seq) DO UPDATE SET v = excluded.v;
\endif

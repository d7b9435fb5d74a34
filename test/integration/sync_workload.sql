-- sync_workload.sql — the pgbench script of test_sync.sh on wl (integer key; text, numeric,
-- timestamptz, jsonb and a NULLable column): inserts of new keys, updates of values, updates
-- of the key by a big offset, deletes, deletes followed by a re-insert of the same key in the
-- same transaction, upserts that re-insert keys deleted or moved by earlier transactions, and
-- updates of several rows at once. Never fails by itself: every key it writes is new (from a
-- sequence, or a multiple of 100,000,000 no other move uses) or taken with ON CONFLICT.
-- Variable maxkey: keys 1..maxkey are picked. sync_workload2.sql does the same on wl2.
\set r random(1, 74)
\set k random(1, :maxkey)
\set v random(1, 1000000)
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
\endif

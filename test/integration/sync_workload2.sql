-- sync_workload2.sql — the pgbench script of test_sync.sh on wl2 (text + int key): updates
-- of values, inserts of new keys, updates of the text part of the key, deletes, deletes
-- followed by a re-insert of the same key in the same transaction, and upserts that re-insert
-- keys deleted or moved earlier. Variable maxseq: seqs 1..maxseq per region are picked.
\set r random(75, 100)
\set v random(1, 1000000)
\set ri random(1, 4)
\set s random(1, :maxseq)
\if :r <= 86
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

-- Change capture for incremental sync: what the triggers log, who may enable and read it,
-- and how schema changes, TRUNCATE, DROP and disable are handled. No D1 is needed.
CREATE SERVER d1_sync FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '0123456789abcdef0123456789abcdef', database_id '00000000-0000-4000-8000-000000000002', api_url 'http://127.0.0.1:9/client/v4');
CREATE USER MAPPING FOR PUBLIC SERVER d1_sync OPTIONS (api_token 'sync-test-token');
CREATE ROLE pg2d1_carol LOGIN;
CREATE SCHEMA pg2d1_carol AUTHORIZATION pg2d1_carol;
GRANT USAGE ON FOREIGN SERVER d1_sync TO pg2d1_carol;
CREATE TABLE sync_t (id int PRIMARY KEY, v text, at timestamptz);
CREATE TABLE sync_ts (k timestamptz, n int, v text, PRIMARY KEY (k, n));
INSERT INTO sync_t VALUES (1, 'a', '2024-01-01 00:00+00'), (2, 'b', NULL);
-- Only the owner enables it; the result names the key.
SET ROLE pg2d1_carol;
SELECT pg2d1_enable_sync('sync_t', 'd1_sync');
RESET ROLE;
SELECT pg2d1_enable_sync('sync_t', 'd1_sync');
SELECT pg2d1_enable_sync('sync_ts', 'd1_sync');
SELECT tgname, tgtype FROM pg_trigger WHERE tgrelid = 'sync_t'::regclass ORDER BY 1;
-- Rows written before are not changes; each statement logs each key it touched once.
SELECT count(*) FROM pg2d1.changes;
INSERT INTO sync_t VALUES (3, 'c', now()), (4, 'd', now());
UPDATE sync_t SET v = 'A' WHERE id = 1;
UPDATE sync_t SET v = v || '!' WHERE id IN (1, 2);
UPDATE sync_t SET id = 10 WHERE id = 4;          -- a key update logs the old and the new key
DELETE FROM sync_t WHERE id = 3;
INSERT INTO sync_t VALUES (3, 'again', NULL);    -- delete, then re-insert of the same key
SELECT op, key FROM pg2d1.changes WHERE relid = 'sync_t'::regclass ORDER BY change_id;
-- Keys are logged in one form whatever the session's DateStyle and TimeZone.
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'Asia/Kolkata';
INSERT INTO sync_ts VALUES ('2024-02-03 04:05:06+00', 1, 'x');
RESET DateStyle;
RESET TimeZone;
SELECT op, key FROM pg2d1.changes WHERE relid = 'sync_ts'::regclass ORDER BY change_id;
SELECT key[1]::timestamptz = '2024-02-03 04:05:06+00' AS same_instant FROM pg2d1.changes WHERE relid = 'sync_ts'::regclass;
-- TRUNCATE is one change without a key.
TRUNCATE sync_ts;
SELECT op, key FROM pg2d1.changes WHERE relid = 'sync_ts'::regclass ORDER BY change_id;
SELECT table_name, status, changes_pending, reconcile_pending FROM pg2d1_sync_status ORDER BY 1;
-- Ordinary roles: no access to the captured keys; the status only of tables they may read.
SET ROLE pg2d1_carol;
SELECT count(*) FROM pg2d1.changes;
SELECT count(*) FROM pg2d1_sync_status;
SELECT pg2d1_disable_sync('sync_t');
SELECT pg2d1_sync('sync_t');
-- A capture trigger put by hand on a table that is not synced logs nothing.
CREATE TABLE pg2d1_carol.carol_t (id int PRIMARY KEY);
CREATE TRIGGER by_hand AFTER INSERT ON pg2d1_carol.carol_t REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION pg2d1._capture();
INSERT INTO pg2d1_carol.carol_t VALUES (1);
RESET ROLE;
SELECT count(*) AS logged FROM pg2d1.changes WHERE relid = 'pg2d1_carol.carol_t'::regclass;
SET ROLE pg2d1_carol;
SELECT pg2d1._capture();
DROP TABLE pg2d1_carol.carol_t;
-- A role that may only insert: its change is captured all the same.
RESET ROLE;
GRANT INSERT ON sync_t TO pg2d1_carol;
SET ROLE pg2d1_carol;
INSERT INTO sync_t VALUES (5, 'carol', NULL);
RESET ROLE;
SELECT op, key FROM pg2d1.changes WHERE relid = 'sync_t'::regclass ORDER BY change_id DESC LIMIT 1;
-- pg2d1_sync checks its arguments before starting anything.
SELECT pg2d1_sync('sync_t', wait => true, follow => true);
SELECT pg2d1_sync('pg2d1.jobs');
-- A change of the columns stops the sync, naming the change; the next statement still works.
ALTER TABLE sync_t ADD COLUMN extra int;
SELECT status, stop_reason FROM pg2d1.sync_tables WHERE relid = 'sync_t'::regclass;
SELECT pg2d1_sync('sync_t');
INSERT INTO sync_t VALUES (6, 'after alter', NULL, 1);
ALTER TABLE sync_t ADD CONSTRAINT v_not_empty CHECK (v <> '');  -- not a column change
SELECT status FROM pg2d1.sync_tables WHERE relid = 'sync_ts'::regclass;
-- Enabling again (after D1's table was changed to match) resumes it, comparing both sides first.
SELECT pg2d1_enable_sync('sync_t', 'd1_sync');
SELECT status, stop_reason, reconcile FROM pg2d1.sync_tables WHERE relid = 'sync_t'::regclass;
-- DROP TABLE forgets the sync and its changes; disable leaves nothing behind.
DROP TABLE sync_ts;
SELECT count(*) FROM pg2d1.sync_tables WHERE relid::oid NOT IN (SELECT oid FROM pg_class);
SELECT pg2d1_disable_sync('sync_t');
SELECT pg2d1_disable_sync('sync_t');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'sync_t'::regclass AND tgname LIKE 'pg2d1%';
SELECT count(*) AS changes FROM pg2d1.changes;
SELECT count(*) AS syncs FROM pg2d1.sync_tables;
INSERT INTO sync_t VALUES (7, 'not captured', NULL, 1);
SELECT count(*) AS changes FROM pg2d1.changes;
DROP TABLE sync_t;
DROP USER MAPPING FOR PUBLIC SERVER d1_sync;
DROP SERVER d1_sync;
DROP SCHEMA pg2d1_carol;
DROP ROLE pg2d1_carol;

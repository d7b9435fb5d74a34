-- Ordinary roles read their own jobs and change pg2d1's state only through its functions,
-- which check the calling role.
CREATE ROLE pg2d1_alice LOGIN;
CREATE ROLE pg2d1_bob LOGIN;
CREATE ROLE pg2d1_group NOLOGIN;
CREATE TABLE pg2d1_owned (id int PRIMARY KEY, v text NOT NULL);
CREATE UNIQUE INDEX pg2d1_owned_v ON pg2d1_owned (v);
GRANT SELECT ON pg2d1_owned TO pg2d1_alice, pg2d1_bob, pg2d1_group;
-- A superuser's job and one of alice's, as pg2d1 writes them (superusers bypass the grants).
INSERT INTO pg2d1.jobs (job_id, table_name, relid, owner, status, checkpoint_size)
    VALUES (900001, 'public.pg2d1_owned', 'pg2d1_owned', current_user, 'completed', 10),
           (900002, 'public.pg2d1_owned', 'pg2d1_owned', 'pg2d1_alice', 'failed', 10);
INSERT INTO pg2d1.checkpoints (job_id, table_name, start_id, end_id, start_key, end_key, status)
    VALUES (900001, 'pg2d1_owned', 1, 10, '{1}', '{10}', 'completed');
-- Columns that must not be NULL are NOT NULL, so no worker ever reads a NULL status.
\set VERBOSITY terse
UPDATE pg2d1.checkpoints SET status = NULL WHERE job_id = 900001;
\set VERBOSITY default
SET ROLE pg2d1_alice;
-- alice sees her own job only.
SELECT job_id, owner, status FROM pg2d1.jobs ORDER BY 1;
SELECT count(*) AS checkpoints_seen FROM pg2d1.checkpoints;
SELECT job_id, status FROM pg2d1_progress ORDER BY 1;
-- Direct writes are refused, whatever the row.
INSERT INTO pg2d1.jobs (job_id, table_name, relid, owner, status, checkpoint_size, requests_per_second)
    VALUES (900003, 'x', 'pg2d1_owned', 'pg2d1_alice', 'queued', 10, 10000);
UPDATE pg2d1.jobs SET status = 'queued' WHERE job_id = 900002;
UPDATE pg2d1.checkpoints SET status = 'completed';
DELETE FROM pg2d1.checkpoints;
INSERT INTO pg2d1.checkpoints (job_id, table_name, start_id, end_id, start_key, end_key, status)
    VALUES (900001, 'pg2d1_owned', 11, 20, '{11}', '{20}', 'completed');
INSERT INTO pg2d1.table_keys VALUES ('pg2d1_owned', 'pg2d1_owned_v');
SELECT nextval('pg2d1.jobs_job_id_seq');
-- Functions check the calling role.
SELECT pg2d1_cancel(900001);
SELECT pg2d1_use_key('pg2d1_owned', 'pg2d1_owned_v');
SELECT pg2d1_query('SELECT 1');
SELECT pg2d1_cancel(900002) AS cancelled_own_finished_job;
RESET ROLE;
-- Nothing changed.
SELECT job_id, owner, status FROM pg2d1.jobs ORDER BY 1;
SELECT count(*) FROM pg2d1.checkpoints;
SELECT count(*) FROM pg2d1.table_keys;
-- Members of pg2d1_admin see every job.
GRANT pg2d1_admin TO pg2d1_bob;
SET ROLE pg2d1_bob;
SELECT job_id, owner FROM pg2d1.jobs ORDER BY 1;
RESET ROLE;
-- The owner of a table may choose its key; only a unique index on NOT NULL columns.
ALTER TABLE pg2d1_owned OWNER TO pg2d1_alice;
SET ROLE pg2d1_alice;
SELECT pg2d1_use_key('pg2d1_owned', 'pg2d1_owned_v');
SELECT relid, key_index FROM pg2d1.table_keys;
SELECT pg2d1_use_key('pg2d1_owned', NULL);
-- Where import files go (they hold table data) is the server's setting: a login role can
-- neither read nor change it, nor the file size; pg2d1_admin membership does not help.
SHOW pg2d1.import_directory;
SET pg2d1.import_directory = '/tmp';
SET pg2d1.import_file_size = '64kB';
SET pg2d1.import_min_rows = 0;
ALTER SYSTEM SET pg2d1.import_directory = '/tmp';
RESET ROLE;
SET ROLE pg2d1_bob;
ALTER SYSTEM SET pg2d1.import_directory = '/tmp';
RESET ROLE;
-- A role that cannot log in cannot start a job: the worker runs as the caller.
SET ROLE pg2d1_group;
SELECT pg2d1_migrate('pg2d1_owned');
RESET ROLE;
-- search_path is pinned in pg2d1's own code: a shadowing function is never called.
CREATE SCHEMA pg2d1_evil;
CREATE FUNCTION pg2d1_evil.pg2d1_migrate(tbl regclass, checkpoint_size integer, batch_size integer,
    resume boolean, mode text, target text, wait boolean, depends_on bigint, verify boolean)
    RETURNS bigint LANGUAGE sql AS 'SELECT 666::bigint';
CREATE FUNCTION pg2d1_evil.cardinality(anyarray) RETURNS int LANGUAGE sql AS 'SELECT 0';
CREATE TABLE pg2d1_shadow_victim (id int PRIMARY KEY);
GRANT SELECT ON pg2d1_shadow_victim TO pg2d1_group;
SET search_path = pg2d1_evil, public;
-- pg2d1_migrate_all calls only schema-qualified functions: the shadows are not called (it
-- reaches pg2d1_migrate, which refuses the NOLOGIN role).
SET ROLE pg2d1_group;
SELECT * FROM pg2d1_migrate_all(ARRAY['pg2d1_shadow_victim']::regclass[]);
RESET ROLE;
RESET search_path;
DROP TABLE pg2d1_shadow_victim;
DROP SCHEMA pg2d1_evil CASCADE;
DELETE FROM pg2d1.jobs WHERE job_id IN (900001, 900002);
DROP TABLE pg2d1_owned;
REVOKE pg2d1_admin FROM pg2d1_bob;
DROP ROLE pg2d1_alice;
DROP ROLE pg2d1_bob;
DROP ROLE pg2d1_group;

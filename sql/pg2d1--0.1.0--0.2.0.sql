-- pg2d1 0.1.0 → 0.2.0: ALTER EXTENSION pg2d1 UPDATE.
-- Brings a 0.1.0 schema to exactly what pg2d1--0.2.0.sql creates, keeping every job,
-- checkpoint and key choice. test/integration/test_upgrade.sh proves it: a job half-way
-- through under 0.1.0 completes under 0.2.0, and pg_dump of an upgraded database equals
-- that of a fresh 0.2.0 install.
--
-- The three ledger tables are recreated (renamed away, created as 0.2.0 creates them, rows
-- copied, old ones dropped): 0.2.0 has new columns in the middle of jobs and checkpoints,
-- and ALTER TABLE could only append them. Their sequences are kept (and with them the next
-- job and checkpoint ids). Views and functions are replaced in place (CREATE OR REPLACE),
-- so their oids, grants made by a DBA and objects depending on them survive.
\echo Use "ALTER EXTENSION pg2d1 UPDATE TO '0.2.0'" to load this file. \quit

-- The 0.1.0 library must not run jobs on the 0.2.0 tables: update after restarting with the
-- 0.2.0 library, which runs no job until the extension is updated and then resumes them.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity
                WHERE backend_type OPERATOR(pg_catalog.=) 'pg2d1 worker'
                  AND datname OPERATOR(pg_catalog.=) pg_catalog.current_database()) THEN
        RAISE EXCEPTION 'a pg2d1 worker is running in this database'
            USING ERRCODE = '55006',
                  DETAIL = 'Its jobs would fail on the tables of pg2d1 0.2.0.',
                  HINT = 'Install pg2d1 0.2.0 and restart PostgreSQL first (running jobs resume after the update), or cancel the jobs.';
    END IF;
END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pg2d1_admin') THEN
        CREATE ROLE pg2d1_admin NOLOGIN;
    END IF;
END $$;

CREATE FUNCTION pg2d1._origin() RETURNS text LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS $$
    SELECT (SELECT system_identifier FROM pg_catalog.pg_control_system())::text || '/' ||
           (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())::text
$$;

-- --- the 0.1.0 tables, out of the way ------------------------------------------------------
-- Renamed, stripped of their constraints and indexes (0.2.0's get the same names), their
-- sequences detached so that dropping them keeps the sequences.
ALTER TABLE pg2d1.checkpoints RENAME TO checkpoints_0_1_0;
ALTER TABLE pg2d1.jobs RENAME TO jobs_0_1_0;
ALTER TABLE pg2d1.table_keys RENAME TO table_keys_0_1_0;
ALTER SEQUENCE pg2d1.jobs_job_id_seq OWNED BY NONE;
ALTER SEQUENCE pg2d1.checkpoints_id_seq OWNED BY NONE;
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT k.conrelid::regclass AS tbl, k.conname
               FROM pg_catalog.pg_constraint k
              WHERE k.conrelid IN ('pg2d1.checkpoints_0_1_0'::regclass, 'pg2d1.jobs_0_1_0'::regclass,
                                   'pg2d1.table_keys_0_1_0'::regclass)
              ORDER BY k.contype <> 'f', k.conname  -- foreign keys before the keys they use
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
    END LOOP;
    FOR c IN SELECT i.indexrelid::regclass AS idx
               FROM pg_catalog.pg_index i
              WHERE i.indrelid IN ('pg2d1.checkpoints_0_1_0'::regclass, 'pg2d1.jobs_0_1_0'::regclass,
                                   'pg2d1.table_keys_0_1_0'::regclass)
    LOOP
        EXECUTE pg_catalog.format('DROP INDEX %s', c.idx);
    END LOOP;
END $$;

-- --- the 0.2.0 tables (as in pg2d1--0.2.0.sql; the serial columns use the kept sequences) ----
CREATE TABLE pg2d1.jobs (
    job_id          bigint NOT NULL DEFAULT nextval('pg2d1.jobs_job_id_seq'::regclass) PRIMARY KEY,
    table_name      text NOT NULL,
    relid           regclass NOT NULL,               -- a name in pg_dump output, an oid here
    owner           name NOT NULL,                   -- the role the worker runs as
    origin          text NOT NULL DEFAULT pg2d1._origin(),
    status          text NOT NULL CHECK (status IN ('queued','running','waiting','paused','completed','failed','cancelled')),
    phase           text,
    rows_done       bigint NOT NULL DEFAULT 0 CHECK (rows_done >= 0),
    rows_total      bigint,
    checkpoint_size bigint NOT NULL CHECK (checkpoint_size > 0),
    batch_size      integer NOT NULL DEFAULT 0 CHECK (batch_size >= 0),
    resume          boolean NOT NULL DEFAULT true,
    mode            text NOT NULL DEFAULT 'resumable' CHECK (mode IN ('resumable','traditional')),
    target          text CHECK (length(target) < 64),
    depends_on      bigint,
    verify          boolean NOT NULL DEFAULT false,  -- run pg2d1_verify when the copy completes
    numeric_as_real boolean NOT NULL DEFAULT false,  -- pg2d1.numeric_as_real of the caller
    verified        boolean,                         -- its verdict: every range equal
    verify_summary  text,
    d1_columns      text,                            -- the D1 table's columns when the job copied
    -- the caller's pg2d1.* settings, used by the worker (also after a restart)
    requests_per_second        float8 NOT NULL DEFAULT 3.5 CHECK (requests_per_second >= 0),
    max_retries                integer NOT NULL DEFAULT 5 CHECK (max_retries BETWEEN 0 AND 100),
    request_timeout_ms         integer NOT NULL DEFAULT 60000 CHECK (request_timeout_ms BETWEEN 1000 AND 600000),
    max_statement_bytes        integer NOT NULL DEFAULT 100000 CHECK (max_statement_bytes BETWEEN 1000 AND 100000),
    max_request_bytes          integer NOT NULL DEFAULT 1000000 CHECK (max_request_bytes BETWEEN 1000 AND 50000000),
    max_statements_per_request integer NOT NULL DEFAULT 50 CHECK (max_statements_per_request BETWEEN 2 AND 10000),
    pid             integer,
    peak_rss_kb     bigint,
    requests        bigint NOT NULL DEFAULT 0,
    retries         bigint NOT NULL DEFAULT 0,
    bytes_sent      bigint NOT NULL DEFAULT 0,
    last_error      text,
    attempts        integer NOT NULL DEFAULT 0,      -- launches since the last progress
    next_attempt_at timestamptz,                     -- waiting / relaunch backoff
    started_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX ON pg2d1.jobs (relid, status);

CREATE TABLE pg2d1.checkpoints (
    id                bigint NOT NULL DEFAULT nextval('pg2d1.checkpoints_id_seq'::regclass) PRIMARY KEY,
    job_id            bigint NOT NULL REFERENCES pg2d1.jobs ON DELETE CASCADE,
    table_name        text NOT NULL,
    start_id          bigint NOT NULL,  -- labels: the keys for one integer key column, else row ordinals
    end_id            bigint NOT NULL,
    start_key         text[] NOT NULL,  -- text output of each key column of the first and last row when planned
    end_key           text[] NOT NULL,
    after_key         text[],           -- the range: keys > after_key (NULL: from the start) …
    through_key       text[],           -- … and <= through_key (NULL: to the end)
    last_key          text[],           -- the last key copied
    records_processed bigint NOT NULL DEFAULT 0 CHECK (records_processed >= 0),
    status            text NOT NULL CHECK (status IN ('pending','in_progress','completed','failed')),
    error_message     text,
    started_at        timestamptz,
    completed_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    remote_synced     boolean NOT NULL DEFAULT false,
    skipped           boolean NOT NULL DEFAULT false  -- completed by an earlier job, not re-sent
);
CREATE INDEX ON pg2d1.checkpoints (job_id, start_id);

CREATE TABLE pg2d1.table_keys (
    relid     regclass PRIMARY KEY,
    key_index regclass NOT NULL
);

-- Owned as the 0.1.0 tables were (pg2d1's functions write as the owner of pg2d1.jobs), and
-- the new function as the extension, whoever runs the update.
DO $$
BEGIN
    EXECUTE pg_catalog.format('ALTER TABLE pg2d1.jobs OWNER TO %s',
        (SELECT relowner::regrole FROM pg_catalog.pg_class WHERE oid = 'pg2d1.jobs_0_1_0'::regclass));
    EXECUTE pg_catalog.format('ALTER TABLE pg2d1.checkpoints OWNER TO %s',
        (SELECT relowner::regrole FROM pg_catalog.pg_class WHERE oid = 'pg2d1.checkpoints_0_1_0'::regclass));
    EXECUTE pg_catalog.format('ALTER TABLE pg2d1.table_keys OWNER TO %s',
        (SELECT relowner::regrole FROM pg_catalog.pg_class WHERE oid = 'pg2d1.table_keys_0_1_0'::regclass));
    EXECUTE pg_catalog.format('ALTER FUNCTION pg2d1._origin() OWNER TO %s',
        (SELECT extowner::regrole FROM pg_catalog.pg_extension WHERE extname = 'pg2d1'));
END $$;

-- (after the tables have the owner of the sequences)
ALTER SEQUENCE pg2d1.jobs_job_id_seq OWNED BY pg2d1.jobs.job_id;
ALTER SEQUENCE pg2d1.checkpoints_id_seq OWNED BY pg2d1.checkpoints.id;

-- --- the rows -----------------------------------------------------------------------------
-- Jobs: the owner's oid becomes its name. A job whose role is gone keeps a name that says so
-- and, if it was queued or running, fails (0.2.0 would fail it at its next launch); so does
-- one whose table is gone. Values no pg2d1 function wrote (0.1.0 let every role write its
-- own rows) are brought into 0.2.0's CHECKs, so that such a row cannot stop the update.
-- Every job belongs to this database: origin = pg2d1._origin() (the column's default).
-- d1_columns stays NULL: 0.1.0 did not record the D1 columns a job's ranges were sent with,
-- so a new job does not reuse an old job's ranges (its first run sends them all again); a
-- job resumed from its own ledger, like one that was running, skips its completed ranges.
INSERT INTO pg2d1.jobs (job_id, table_name, relid, owner, status, phase, rows_done, rows_total, checkpoint_size,
                        batch_size, resume, mode, target, depends_on, verify, numeric_as_real, verified,
                        verify_summary, requests_per_second, max_retries, request_timeout_ms,
                        max_statement_bytes, max_request_bytes, max_statements_per_request, pid, peak_rss_kb,
                        requests, retries, bytes_sent, last_error, started_at, updated_at, finished_at)
SELECT o.job_id, o.table_name, o.relid::regclass,
       coalesce(r.rolname, pg_catalog.format('role %s (dropped)', o.owner)::name),
       CASE WHEN o.status IN ('queued','running') AND gone.why IS NOT NULL THEN 'failed' ELSE o.status END,
       CASE WHEN o.status IN ('queued','running') AND gone.why IS NOT NULL THEN NULL ELSE o.phase END,
       greatest(o.rows_done, 0), o.rows_total, greatest(o.checkpoint_size, 1), greatest(o.batch_size, 0), o.resume,
       CASE WHEN o.mode IN ('resumable','traditional') THEN o.mode ELSE 'resumable' END,
       CASE WHEN pg_catalog.length(o.target) < 64 THEN o.target ELSE pg_catalog.left(o.target, 63) END,
       o.depends_on, o.verify, o.numeric_as_real, o.verified, o.verify_summary,
       greatest(o.requests_per_second, 0), least(greatest(o.max_retries, 0), 100),
       least(greatest(o.request_timeout_ms, 1000), 600000), least(greatest(o.max_statement_bytes, 1000), 100000),
       least(greatest(o.max_request_bytes, 1000), 50000000), least(greatest(o.max_statements_per_request, 2), 10000),
       CASE WHEN o.status IN ('queued','running') AND gone.why IS NOT NULL THEN NULL ELSE o.pid END,
       o.peak_rss_kb, o.requests, o.retries, o.bytes_sent,
       CASE WHEN o.status IN ('queued','running') AND gone.why IS NOT NULL THEN gone.why ELSE o.last_error END,
       o.started_at, o.updated_at,
       CASE WHEN o.status IN ('queued','running') AND gone.why IS NOT NULL THEN coalesce(o.finished_at, pg_catalog.now())
            ELSE o.finished_at END
  FROM pg2d1.jobs_0_1_0 o
  LEFT JOIN pg_catalog.pg_roles r ON r.oid = o.owner
  CROSS JOIN LATERAL (SELECT CASE
      WHEN r.oid IS NULL THEN
          pg_catalog.format('role with oid %s, which owned the job, no longer exists (found by the update to pg2d1 0.2.0)',
                            o.owner)
      WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = o.relid) THEN
          pg_catalog.format('table %s (oid %s) no longer exists (found by the update to pg2d1 0.2.0)',
                            o.table_name, o.relid)
      END AS why) gone;

-- Checkpoints: 0.1.0 ranges were the closed key ranges [start_key, end_key] found when
-- planned; 0.2.0's are contiguous, (after_key, through_key], the first open below and the
-- last open above (job_store.cpp, read_checkpoints). Per job in start_id order each range
-- now begins after the previous one's end_key and ends at its own end_key (the last one:
-- open). A completed range copied through its end_key. Rows that appeared between two old
-- ranges belong to the next range now: its row count no longer matches, so it is re-sent.
INSERT INTO pg2d1.checkpoints (id, job_id, table_name, start_id, end_id, start_key, end_key, after_key, through_key,
                               last_key, records_processed, status, error_message, started_at, completed_at,
                               created_at, remote_synced, skipped)
SELECT c.id, c.job_id, c.table_name, c.start_id, c.end_id, c.start_key, c.end_key,
       pg_catalog.lag(c.end_key) OVER w,
       CASE WHEN pg_catalog.lead(c.id) OVER w IS NOT NULL THEN c.end_key END,
       CASE WHEN c.status = 'completed' THEN c.end_key END,
       greatest(c.records_processed, 0), coalesce(c.status, 'pending'), c.error_message, c.started_at,
       c.completed_at, c.created_at, c.remote_synced, c.skipped
  FROM pg2d1.checkpoints_0_1_0 c
WINDOW w AS (PARTITION BY c.job_id ORDER BY c.start_id, c.id);

-- Key choices, kept as they are (also those of tables dropped since).
INSERT INTO pg2d1.table_keys (relid, key_index)
SELECT k.relid::regclass, k.key_index::regclass FROM pg2d1.table_keys_0_1_0 k;

-- The views on the new tables (their new columns come last, so they are replaced in place).
CREATE OR REPLACE VIEW pg2d1_checkpoints WITH (security_invoker = true) AS
    SELECT id, table_name, start_id, end_id, records_processed, status, error_message,
           started_at, completed_at, created_at, job_id, remote_synced, start_key, end_key,
           after_key, through_key
    FROM pg2d1.checkpoints;

CREATE OR REPLACE VIEW pg2d1_progress WITH (security_invoker = true) AS
    SELECT j.job_id, j.table_name, j.status, j.rows_done, j.rows_total,
           CASE WHEN j.status = 'completed' THEN 100.0
                ELSE round(100.0 * least(j.rows_done, j.rows_total) / NULLIF(j.rows_total, 0), 1) END AS percent,
           round(j.rows_done / NULLIF(extract(epoch FROM coalesce(j.finished_at, now()) - j.started_at), 0), 0)
               AS rows_per_sec,
           CASE WHEN j.status = 'running' AND j.rows_done > 0 AND j.rows_total > j.rows_done
                THEN (coalesce(j.finished_at, now()) - j.started_at) * ((j.rows_total - j.rows_done)::float8 / j.rows_done)
           END AS eta,
           CASE WHEN j.status = 'completed' THEN '[' || repeat('#', 20) || ']'
                ELSE '[' || repeat('#', coalesce(20 * least(j.rows_done, j.rows_total) / NULLIF(j.rows_total, 0), 0)::int)
                     || repeat('.', 20 - coalesce(20 * least(j.rows_done, j.rows_total) / NULLIF(j.rows_total, 0), 0)::int)
                     || ']' END AS bar,
           j.last_error, j.phase, j.requests, j.retries, j.bytes_sent, j.peak_rss_kb, j.started_at, j.finished_at,
           j.verified, j.verify_summary, j.next_attempt_at, j.attempts
    FROM pg2d1.jobs j;

-- The old tables go (ALTER EXTENSION … DROP first: it also takes them out of the
-- extension's configuration tables; DROP TABLE alone would leave their oids there).
ALTER EXTENSION pg2d1 DROP TABLE pg2d1.checkpoints_0_1_0;
ALTER EXTENSION pg2d1 DROP TABLE pg2d1.jobs_0_1_0;
ALTER EXTENSION pg2d1 DROP TABLE pg2d1.table_keys_0_1_0;
DROP TABLE pg2d1.checkpoints_0_1_0;
DROP TABLE pg2d1.jobs_0_1_0;
DROP TABLE pg2d1.table_keys_0_1_0;

-- --- privileges (as in pg2d1--0.2.0.sql) ---------------------------------------------------
-- Ordinary roles read (their own rows); only pg2d1's functions write.
REVOKE ALL ON pg2d1.jobs, pg2d1.checkpoints, pg2d1.table_keys FROM PUBLIC;
REVOKE ALL ON SEQUENCE pg2d1.jobs_job_id_seq, pg2d1.checkpoints_id_seq FROM PUBLIC;
GRANT USAGE ON SCHEMA pg2d1 TO PUBLIC;
GRANT SELECT ON pg2d1.jobs, pg2d1.checkpoints, pg2d1.table_keys TO PUBLIC;
ALTER TABLE pg2d1.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE pg2d1.checkpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_jobs ON pg2d1.jobs FOR SELECT
    USING (owner OPERATOR(pg_catalog.=) current_user
           OR pg_catalog.pg_has_role(current_user, 'pg2d1_admin', 'MEMBER'));
CREATE POLICY own_checkpoints ON pg2d1.checkpoints FOR SELECT
    USING (job_id IN (SELECT j.job_id FROM pg2d1.jobs j));

SELECT pg_catalog.pg_extension_config_dump('pg2d1.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('pg2d1.checkpoints', '');
SELECT pg_catalog.pg_extension_config_dump('pg2d1.table_keys', '');
SELECT pg_catalog.pg_extension_config_dump('pg2d1.jobs_job_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pg2d1.checkpoints_id_seq', '');

GRANT SELECT ON pg2d1_checkpoints, pg2d1_progress TO PUBLIC;

-- --- functions --------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION pg2d1._table_has_worker(tbl oid) RETURNS boolean LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
                   WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory' AND l.granted
                     AND l.database OPERATOR(pg_catalog.=) (SELECT oid FROM pg_catalog.pg_database
                                                            WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
                     AND l.classid OPERATOR(pg_catalog.=) 1882350641::oid
                     AND l.objid OPERATOR(pg_catalog.=) tbl AND l.objsubid OPERATOR(pg_catalog.=) 1)
$$;

-- plpgsql (SECURITY DEFINER for pg2d1_use_key) in 0.1.0, C that checks the caller in 0.2.0.
CREATE OR REPLACE FUNCTION pg2d1_use_key(tbl regclass, key_index regclass) RETURNS text
    AS 'MODULE_PATHNAME', 'pg2d1_use_key' LANGUAGE C;

CREATE OR REPLACE FUNCTION pg2d1_migrate_all(tables regclass[] DEFAULT NULL, schema_name name DEFAULT NULL,
                                  checkpoint_size integer DEFAULT NULL, batch_size integer DEFAULT NULL,
                                  resume boolean DEFAULT true, mode text DEFAULT 'resumable',
                                  target text DEFAULT NULL, wait boolean DEFAULT false,
                                  verify boolean DEFAULT false)
    RETURNS TABLE (table_name regclass, job_id bigint)
    -- No SET search_path (job names follow the caller's search_path, as in pg2d1_migrate):
    -- every function and operator below is schema-qualified instead.
    LANGUAGE plpgsql AS $$
DECLARE
    todo regclass[];
    ordered regclass[] := '{}';
    t regclass;
    progress boolean;
    prev bigint := NULL;
BEGIN
    IF tables IS NULL AND schema_name IS NULL THEN
        RAISE EXCEPTION 'pg2d1_migrate_all needs tables or schema_name'
            USING ERRCODE = '22023', HINT = 'pg2d1_migrate_all(ARRAY[''a'',''b'']::regclass[]) or pg2d1_migrate_all(schema_name => ''public'')';
    END IF;
    todo := coalesce(tables, ARRAY(SELECT c.oid::regclass FROM pg_catalog.pg_class c
                                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                                   WHERE n.nspname OPERATOR(pg_catalog.=) schema_name
                                     AND c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::pg_catalog."char"[])
                                     AND NOT c.relispartition
                                   ORDER BY c.relname));
    -- Topological order over the foreign keys among the given tables.
    WHILE pg_catalog.cardinality(todo) OPERATOR(pg_catalog.>) 0 LOOP
        progress := false;
        FOREACH t IN ARRAY todo LOOP
            IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
                           WHERE k.contype OPERATOR(pg_catalog.=) 'f' AND k.conrelid OPERATOR(pg_catalog.=) t
                             AND k.confrelid OPERATOR(pg_catalog.<>) t
                             AND k.confrelid OPERATOR(pg_catalog.=) ANY (todo)) THEN
                ordered := ordered OPERATOR(pg_catalog.||) t;
                todo := pg_catalog.array_remove(todo, t);
                progress := true;
            END IF;
        END LOOP;
        IF NOT progress THEN
            RAISE EXCEPTION 'foreign keys among % form a cycle', todo USING ERRCODE = '55000';
        END IF;
    END LOOP;
    FOREACH t IN ARRAY ordered LOOP
        table_name := t;
        job_id := @extschema@.pg2d1_migrate(t, checkpoint_size, batch_size, resume, mode, target, wait,
                                            CASE WHEN wait THEN NULL ELSE prev END, verify);
        prev := job_id;
        RETURN NEXT;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION pg2d1_cancel(job bigint) RETURNS boolean
    AS 'MODULE_PATHNAME', 'pg2d1_cancel' LANGUAGE C;

CREATE OR REPLACE FUNCTION pg2d1_reset_stuck(tbl regclass, target text DEFAULT NULL) RETURNS integer
    AS 'MODULE_PATHNAME', 'pg2d1_reset_stuck' LANGUAGE C;

CREATE OR REPLACE FUNCTION pg2d1_retry_failed(tbl regclass, target text DEFAULT NULL, wait boolean DEFAULT false)
    RETURNS bigint AS 'MODULE_PATHNAME', 'pg2d1_retry_failed' LANGUAGE C;

CREATE OR REPLACE FUNCTION pg2d1_reset(tbl regclass, target text DEFAULT NULL) RETURNS integer
    AS 'MODULE_PATHNAME', 'pg2d1_reset' LANGUAGE C;

-- Any SQL on D1: for superusers and members of pg2d1_admin only.
REVOKE ALL ON FUNCTION pg2d1_query(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg2d1_query(text, text) TO pg2d1_admin;

REVOKE ALL ON FUNCTION pg2d1._origin() FROM PUBLIC;

-- pg2d1 0.1.0: copy PostgreSQL tables into Cloudflare D1.
\echo Use "CREATE EXTENSION pg2d1" to load this file. \quit

CREATE SCHEMA IF NOT EXISTS pg2d1;

-- Credentials: CREATE SERVER … FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id, database_id [, api_url])
--              CREATE USER MAPPING … SERVER … OPTIONS (api_token)
CREATE FUNCTION pg2d1_fdw_validator(text[], oid) RETURNS void
    AS 'MODULE_PATHNAME', 'pg2d1_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER pg2d1 VALIDATOR pg2d1_fdw_validator;

-- Local ledger (mirror of D1's migration_checkpoints plus job state).
CREATE TABLE pg2d1.jobs (
    job_id          bigserial PRIMARY KEY,
    table_name      text NOT NULL,
    relid           oid NOT NULL,
    owner           oid NOT NULL,
    status          text NOT NULL CHECK (status IN ('queued','running','paused','completed','failed','cancelled')),
    phase           text,
    rows_done       bigint NOT NULL DEFAULT 0,
    rows_total      bigint,
    checkpoint_size bigint NOT NULL,
    batch_size      integer NOT NULL DEFAULT 0,
    resume          boolean NOT NULL DEFAULT true,
    mode            text NOT NULL DEFAULT 'resumable',
    target          text,
    depends_on      bigint,
    verify          boolean NOT NULL DEFAULT false,  -- run pg2d1_verify when the copy completes
    numeric_as_real boolean NOT NULL DEFAULT false,  -- pg2d1.numeric_as_real of the caller
    verified        boolean,                         -- its verdict: every range equal
    verify_summary  text,
    -- the caller's pg2d1.* settings, used by the worker (also after a restart)
    requests_per_second        float8 NOT NULL DEFAULT 3.5,
    max_retries                integer NOT NULL DEFAULT 5,
    request_timeout_ms         integer NOT NULL DEFAULT 60000,
    max_statement_bytes        integer NOT NULL DEFAULT 100000,
    max_request_bytes          integer NOT NULL DEFAULT 1000000,
    max_statements_per_request integer NOT NULL DEFAULT 50,
    pid             integer,
    peak_rss_kb     bigint,
    requests        bigint NOT NULL DEFAULT 0,
    retries         bigint NOT NULL DEFAULT 0,
    bytes_sent      bigint NOT NULL DEFAULT 0,
    last_error      text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX ON pg2d1.jobs (relid, status);

CREATE TABLE pg2d1.checkpoints (
    id                bigserial PRIMARY KEY,
    job_id            bigint NOT NULL REFERENCES pg2d1.jobs ON DELETE CASCADE,
    table_name        text NOT NULL,
    start_id          bigint NOT NULL,  -- the key itself for one integer key column, else row ordinals
    end_id            bigint NOT NULL,
    start_key         text[] NOT NULL,  -- text output of each key column of the first and last row
    end_key           text[] NOT NULL,
    records_processed bigint NOT NULL DEFAULT 0,
    status            text CHECK (status IN ('pending','in_progress','completed','failed')),
    error_message     text,
    started_at        timestamptz,
    completed_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    remote_synced     boolean NOT NULL DEFAULT false,
    skipped           boolean NOT NULL DEFAULT false  -- completed by an earlier job, not re-sent
);
CREATE INDEX ON pg2d1.checkpoints (job_id, start_id);

-- Users see and manage their own jobs (superusers see all), as with pg_cron.
GRANT USAGE ON SCHEMA pg2d1 TO PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON pg2d1.jobs, pg2d1.checkpoints TO PUBLIC;
GRANT USAGE ON SEQUENCE pg2d1.jobs_job_id_seq, pg2d1.checkpoints_id_seq TO PUBLIC;
ALTER TABLE pg2d1.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE pg2d1.checkpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_jobs ON pg2d1.jobs
    USING (owner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user));
CREATE POLICY own_checkpoints ON pg2d1.checkpoints
    USING (job_id IN (SELECT job_id FROM pg2d1.jobs));

SELECT pg_catalog.pg_extension_config_dump('pg2d1.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('pg2d1.checkpoints', '');

CREATE VIEW pg2d1_checkpoints WITH (security_invoker = true) AS
    SELECT id, table_name, start_id, end_id, records_processed, status, error_message,
           started_at, completed_at, created_at, job_id, remote_synced, start_key, end_key
    FROM pg2d1.checkpoints;

CREATE VIEW pg2d1_progress WITH (security_invoker = true) AS
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
           j.verified, j.verify_summary
    FROM pg2d1.jobs j;

-- The key of tables without a primary key (or to use instead of it): a unique index on
-- NOT NULL columns, named with pg2d1_use_key().
CREATE TABLE pg2d1.table_keys (
    relid     oid PRIMARY KEY,
    key_index oid NOT NULL
);
GRANT SELECT ON pg2d1.table_keys TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('pg2d1.table_keys', '');

CREATE FUNCTION pg2d1_use_key(tbl regclass, key_index regclass) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    idx record;
BEGIN
    IF NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = '42501';
    END IF;
    IF key_index IS NULL THEN
        DELETE FROM pg2d1.table_keys WHERE relid = tbl;
        RETURN format('%s: pg2d1 uses the primary key', tbl);
    END IF;
    SELECT i.indrelid, i.indisunique, i.indexprs IS NULL AND i.indpred IS NULL AS plain, i.indimmediate,
           (SELECT bool_and(a.attnotnull) FROM pg_attribute a
             WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])) AS not_null
      INTO idx FROM pg_index i WHERE i.indexrelid = key_index;
    IF NOT FOUND OR idx.indrelid <> tbl THEN
        RAISE EXCEPTION '% is not an index of table %', key_index, tbl USING ERRCODE = '42704';
    END IF;
    IF NOT (idx.indisunique AND idx.plain AND idx.indimmediate AND idx.not_null) THEN
        RAISE EXCEPTION 'index % cannot be the key of table %', key_index, tbl USING ERRCODE = '42P17',
            DETAIL = 'A key index must be unique, not deferrable, on plain columns, without a WHERE clause, and every column must be NOT NULL.';
    END IF;
    INSERT INTO pg2d1.table_keys VALUES (tbl, key_index)
        ON CONFLICT (relid) DO UPDATE SET key_index = excluded.key_index;
    RETURN format('%s: pg2d1 walks and upserts by %s', tbl, key_index);
END $$;

-- security_invoker: each role sees its own jobs through the row-level security above.
GRANT SELECT ON pg2d1_checkpoints, pg2d1_progress TO PUBLIC;

-- True while a pg2d1 worker migrates the table: workers hold a session advisory lock on
-- key ('p2d1' << 32 | table oid) for as long as they run (src/pg/jobs.hpp).
CREATE FUNCTION pg2d1._table_has_worker(tbl oid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
                   WHERE l.locktype = 'advisory' AND l.granted
                     AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
                     AND l.classid = 1882350641::oid AND l.objid = tbl AND l.objsubid = 1)
$$;

CREATE FUNCTION pg2d1_validate(target text DEFAULT NULL)
    RETURNS TABLE ("check" text, ok boolean, detail text)
    AS 'MODULE_PATHNAME', 'pg2d1_validate' LANGUAGE C;

CREATE FUNCTION pg2d1_ddl(tbl regclass) RETURNS text
    AS 'MODULE_PATHNAME', 'pg2d1_ddl' LANGUAGE C STRICT STABLE;

CREATE FUNCTION pg2d1_setup_schema(tables regclass[], target text DEFAULT NULL, create_indexes boolean DEFAULT true)
    RETURNS TABLE (table_name text, statement text)
    AS 'MODULE_PATHNAME', 'pg2d1_setup_schema' LANGUAGE C;

CREATE FUNCTION pg2d1_migrate(tbl regclass, checkpoint_size integer DEFAULT NULL, batch_size integer DEFAULT NULL,
                              resume boolean DEFAULT true, mode text DEFAULT 'resumable',
                              target text DEFAULT NULL, wait boolean DEFAULT false, depends_on bigint DEFAULT NULL,
                              verify boolean DEFAULT false)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'pg2d1_migrate' LANGUAGE C;

-- Migrates several tables (or every table of a schema) in foreign-key order: each job
-- starts when the job of the table it references has completed.
CREATE FUNCTION pg2d1_migrate_all(tables regclass[] DEFAULT NULL, schema_name name DEFAULT NULL,
                                  checkpoint_size integer DEFAULT NULL, batch_size integer DEFAULT NULL,
                                  resume boolean DEFAULT true, mode text DEFAULT 'resumable',
                                  target text DEFAULT NULL, wait boolean DEFAULT false,
                                  verify boolean DEFAULT false)
    RETURNS TABLE (table_name regclass, job_id bigint)
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
    todo := coalesce(tables, ARRAY(SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                   WHERE n.nspname = schema_name AND c.relkind IN ('r','p') AND NOT c.relispartition
                                   ORDER BY c.relname));
    -- Topological order over the foreign keys among the given tables.
    WHILE cardinality(todo) > 0 LOOP
        progress := false;
        FOREACH t IN ARRAY todo LOOP
            IF NOT EXISTS (SELECT 1 FROM pg_constraint k
                           WHERE k.contype = 'f' AND k.conrelid = t AND k.confrelid <> t
                             AND k.confrelid = ANY (todo)) THEN
                ordered := ordered || t;
                todo := array_remove(todo, t);
                progress := true;
            END IF;
        END LOOP;
        IF NOT progress THEN
            RAISE EXCEPTION 'foreign keys among % form a cycle', todo USING ERRCODE = '55000';
        END IF;
    END LOOP;
    FOREACH t IN ARRAY ordered LOOP
        table_name := t;
        job_id := pg2d1_migrate(t, checkpoint_size, batch_size, resume, mode, target, wait,
                                CASE WHEN wait THEN NULL ELSE prev END, verify);
        prev := job_id;
        RETURN NEXT;
    END LOOP;
END $$;

-- Cancels a job: it stops at once; completed checkpoints are kept, the running one is
-- re-sent by the next run.
CREATE FUNCTION pg2d1_cancel(job bigint) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    worker int;
BEGIN
    UPDATE pg2d1.jobs SET status = 'cancelled', finished_at = clock_timestamp(), updated_at = clock_timestamp(),
                          phase = NULL
     WHERE job_id = job AND status IN ('queued','running')
    RETURNING pid INTO worker;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE pg2d1.checkpoints SET status = 'pending' WHERE job_id = job AND status = 'in_progress';
    IF worker IS NOT NULL THEN
        PERFORM pg_terminate_backend(worker);
    END IF;
    RETURN true;
END $$;

-- Checkpoints left 'in_progress' by a job whose worker is gone go back to 'pending'
-- (locally and in D1); jobs left 'running' without a worker become 'failed'.
CREATE FUNCTION pg2d1_reset_stuck(tbl regclass, target text DEFAULT NULL) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    live boolean;
BEGIN
    SELECT pg2d1._table_has_worker(tbl) INTO live;
    IF live THEN
        RAISE EXCEPTION 'a pg2d1 worker is migrating % right now', tbl
            USING ERRCODE = '55006', HINT = 'Cancel it first with pg2d1_cancel(job_id).';
    END IF;
    UPDATE pg2d1.checkpoints c SET status = 'pending'
      FROM pg2d1.jobs j WHERE j.job_id = c.job_id AND j.relid = tbl AND c.status = 'in_progress';
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE pg2d1.jobs SET status = 'failed', last_error = 'worker gone (reset by pg2d1_reset_stuck)',
                          finished_at = clock_timestamp(), pid = NULL
     WHERE relid = tbl AND status = 'running';
    PERFORM pg2d1_query(format($q$UPDATE migration_checkpoints SET status = 'pending' WHERE table_name = %L AND status = 'in_progress'$q$,
                               (SELECT relname FROM pg_class WHERE oid = tbl)), target);
    RETURN n;
END $$;

-- Failed checkpoints are retried by the next run anyway; this marks them pending and
-- starts that run.
CREATE FUNCTION pg2d1_retry_failed(tbl regclass, target text DEFAULT NULL, wait boolean DEFAULT false)
    RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    UPDATE pg2d1.checkpoints c SET status = 'pending', error_message = NULL
      FROM pg2d1.jobs j WHERE j.job_id = c.job_id AND j.relid = tbl AND c.status = 'failed';
    PERFORM pg2d1_query(format($q$UPDATE migration_checkpoints SET status = 'pending', error_message = NULL WHERE table_name = %L AND status = 'failed'$q$,
                               (SELECT relname FROM pg_class WHERE oid = tbl)), target);
    RETURN pg2d1_migrate(tbl, target => target, wait => wait);
END $$;

-- Forgets every checkpoint of a table, locally and in D1, so the next run starts over.
-- D1's copy of the rows is left as it is (re-sending overwrites it).
CREATE FUNCTION pg2d1_reset(tbl regclass, target text DEFAULT NULL) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    IF EXISTS (SELECT 1 FROM pg2d1.jobs WHERE relid = tbl AND status IN ('queued','running')) THEN
        RAISE EXCEPTION 'a pg2d1 job for % is queued or running', tbl
            USING ERRCODE = '55006', HINT = 'Cancel it first with pg2d1_cancel(job_id), or pg2d1_reset_stuck if its worker is gone.';
    END IF;
    DELETE FROM pg2d1.jobs WHERE relid = tbl;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM pg2d1_query(format($q$DELETE FROM migration_checkpoints WHERE table_name = %L$q$,
                               (SELECT relname FROM pg_class WHERE oid = tbl)), target);
    RETURN n;
END $$;

-- Compares PostgreSQL and D1 range by range: counts and a checksum of every value in one
-- canonical form, both sides read back. The last row (NULL range) counts D1 rows outside
-- every PostgreSQL range.
CREATE FUNCTION pg2d1_verify(tbl regclass, target text DEFAULT NULL)
    RETURNS TABLE (start_id bigint, end_id bigint, start_key text, end_key text, pg_count bigint, d1_count bigint,
                   pg_checksum text, d1_checksum text, ok boolean)
    AS 'MODULE_PATHNAME', 'pg2d1_verify' LANGUAGE C;

CREATE FUNCTION pg2d1_query(sql text, target text DEFAULT NULL) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'pg2d1_query' LANGUAGE C;

CREATE FUNCTION pg2d1._boundary_selftest(kind text) RETURNS text
    AS 'MODULE_PATHNAME', 'pg2d1_boundary_selftest' LANGUAGE C;
REVOKE ALL ON FUNCTION pg2d1._boundary_selftest(text) FROM PUBLIC;

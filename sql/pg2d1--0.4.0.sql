-- pg2d1 0.4.0: copy PostgreSQL tables into Cloudflare D1.
\echo Use "CREATE EXTENSION pg2d1" to load this file. \quit

-- Security model (README "Security"): ordinary roles read their own rows of pg2d1's state
-- and change it only through pg2d1's functions, which check the calling role and write as
-- the extension's owner. Members of pg2d1_admin (and superusers) see and control every job
-- and may use pg2d1_query and the server's environment credentials.
CREATE SCHEMA pg2d1;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pg2d1_admin') THEN
        CREATE ROLE pg2d1_admin NOLOGIN;
    END IF;
END $$;

-- Credentials: CREATE SERVER … FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id, database_id [, api_url])
--              CREATE USER MAPPING … SERVER … OPTIONS (api_token)
CREATE FUNCTION pg2d1_fdw_validator(text[], oid) RETURNS void
    AS 'MODULE_PATHNAME', 'pg2d1_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER pg2d1 VALIDATOR pg2d1_fdw_validator;

-- This cluster and database, as "system identifier/database oid": a job runs only where it
-- was created, so a job restored from a dump into another database waits to be resumed.
CREATE FUNCTION pg2d1._origin() RETURNS text LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS $$
    SELECT (SELECT system_identifier FROM pg_catalog.pg_control_system())::text || '/' ||
           (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())::text
$$;

-- Local ledger (mirror of D1's migration_checkpoints plus job state). Written only by
-- pg2d1's C code (src/pg/job_store.cpp), as the extension's owner.
CREATE TABLE pg2d1.jobs (
    job_id          bigserial PRIMARY KEY,
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

-- Checkpoint ranges are contiguous over the whole key space: (after_key, through_key],
-- the first open below (after_key NULL), the last open above (through_key NULL).
CREATE TABLE pg2d1.checkpoints (
    id                bigserial PRIMARY KEY,
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

-- The key of tables without a primary key (or to use instead of it): a unique index on
-- NOT NULL columns, named with pg2d1_use_key().
CREATE TABLE pg2d1.table_keys (
    relid     regclass PRIMARY KEY,
    key_index regclass NOT NULL
);

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

CREATE VIEW pg2d1_checkpoints WITH (security_invoker = true) AS
    SELECT id, table_name, start_id, end_id, records_processed, status, error_message,
           started_at, completed_at, created_at, job_id, remote_synced, start_key, end_key,
           after_key, through_key
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
           j.verified, j.verify_summary, j.next_attempt_at, j.attempts
    FROM pg2d1.jobs j;

-- security_invoker: each role sees its own jobs through the row-level security above.
GRANT SELECT ON pg2d1_checkpoints, pg2d1_progress TO PUBLIC;

-- True while a pg2d1 worker migrates the table: workers hold a session advisory lock on
-- key ('p2d1' << 32 | table oid) for as long as they run (src/pg/jobs.hpp).
CREATE FUNCTION pg2d1._table_has_worker(tbl oid) RETURNS boolean LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
                   WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory' AND l.granted
                     AND l.database OPERATOR(pg_catalog.=) (SELECT oid FROM pg_catalog.pg_database
                                                            WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
                     AND l.classid OPERATOR(pg_catalog.=) 1882350641::oid
                     AND l.objid OPERATOR(pg_catalog.=) tbl AND l.objsubid OPERATOR(pg_catalog.=) 1)
$$;

-- Makes a unique index the key pg2d1 walks and upserts by (NULL: back to the primary key).
-- The caller must own the table.
CREATE FUNCTION pg2d1_use_key(tbl regclass, key_index regclass) RETURNS text
    AS 'MODULE_PATHNAME', 'pg2d1_use_key' LANGUAGE C;

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

-- Cancels a job (the caller's own, or any for pg2d1_admin): it stops at once; completed
-- checkpoints are kept, the running one is re-sent by the next run.
CREATE FUNCTION pg2d1_cancel(job bigint) RETURNS boolean
    AS 'MODULE_PATHNAME', 'pg2d1_cancel' LANGUAGE C;

-- Checkpoints left 'in_progress' by a job whose worker is gone go back to 'pending'
-- (locally and in D1); jobs left 'running' without a worker become 'failed'.
CREATE FUNCTION pg2d1_reset_stuck(tbl regclass, target text DEFAULT NULL) RETURNS integer
    AS 'MODULE_PATHNAME', 'pg2d1_reset_stuck' LANGUAGE C;

-- Failed checkpoints are retried by the next run anyway; this marks them pending and
-- starts that run.
CREATE FUNCTION pg2d1_retry_failed(tbl regclass, target text DEFAULT NULL, wait boolean DEFAULT false)
    RETURNS bigint AS 'MODULE_PATHNAME', 'pg2d1_retry_failed' LANGUAGE C;

-- Forgets every checkpoint of a table, locally and in D1, so the next run starts over.
-- D1's copy of the rows is left as it is (re-sending overwrites it).
CREATE FUNCTION pg2d1_reset(tbl regclass, target text DEFAULT NULL) RETURNS integer
    AS 'MODULE_PATHNAME', 'pg2d1_reset' LANGUAGE C;

-- Compares PostgreSQL and D1 range by range: counts and a checksum of every value in one
-- canonical form, both sides read back. The last row (NULL range) counts D1 rows outside
-- every PostgreSQL range.
CREATE FUNCTION pg2d1_verify(tbl regclass, target text DEFAULT NULL)
    RETURNS TABLE (start_id bigint, end_id bigint, start_key text, end_key text, pg_count bigint, d1_count bigint,
                   pg_checksum text, d1_checksum text, ok boolean)
    AS 'MODULE_PATHNAME', 'pg2d1_verify' LANGUAGE C;

-- Any SQL on D1: for superusers and members of pg2d1_admin only.
CREATE FUNCTION pg2d1_query(sql text, target text DEFAULT NULL) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'pg2d1_query' LANGUAGE C;
REVOKE ALL ON FUNCTION pg2d1_query(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg2d1_query(text, text) TO pg2d1_admin;

CREATE FUNCTION pg2d1._boundary_selftest(kind text) RETURNS text
    AS 'MODULE_PATHNAME', 'pg2d1_boundary_selftest' LANGUAGE C;
REVOKE ALL ON FUNCTION pg2d1._boundary_selftest(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pg2d1._origin() FROM PUBLIC;

-- ---- 0.3.0: incremental sync (the same statements as pg2d1--0.2.0--0.3.0.sql) ----

-- A job copies a table ('migrate') or applies its captured changes ('sync'); a sync job
-- with follow keeps running and applies changes as they commit.
ALTER TABLE pg2d1.jobs
    ADD COLUMN kind text NOT NULL DEFAULT 'migrate' CHECK (kind IN ('migrate','sync')),
    ADD COLUMN follow boolean NOT NULL DEFAULT false;

-- True while a pg2d1 worker runs the table's job of that kind: migration workers hold the
-- table's lock (class 'p2d1'), sync workers the sync lock (class 'p2ds', src/pg/jobs.hpp).
CREATE FUNCTION pg2d1._job_has_worker(tbl oid, kind text) RETURNS boolean LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
                   WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory' AND l.granted
                     AND l.database OPERATOR(pg_catalog.=) (SELECT oid FROM pg_catalog.pg_database
                                                            WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
                     AND l.classid OPERATOR(pg_catalog.=) (CASE WHEN kind OPERATOR(pg_catalog.=) 'sync'
                                                                THEN 1882350707 ELSE 1882350641 END)::oid
                     AND l.objid OPERATOR(pg_catalog.=) tbl AND l.objsubid OPERATOR(pg_catalog.=) 1)
$$;

-- Tables whose changes are captured (pg2d1_enable_sync). Written only by pg2d1's C code.
CREATE TABLE pg2d1.sync_tables (
    relid           regclass PRIMARY KEY,
    owner           name NOT NULL,                  -- the role that enabled it
    target          text CHECK (length(target) < 64),
    key_attnums     smallint[] NOT NULL CHECK (cardinality(key_attnums) BETWEEN 1 AND 32),
    columns         text NOT NULL,                  -- pg2d1._columns(relid) when enabled
    origin          text NOT NULL DEFAULT pg2d1._origin(),
    status          text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled','stopped')),
    stop_reason     text,
    reconcile       boolean NOT NULL DEFAULT false, -- the next sync compares every key first
    enabled_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_sync_at    timestamptz,                    -- the last change applied …
    last_change_at  timestamptz,                    -- … and when it was captured
    upserts         bigint NOT NULL DEFAULT 0 CHECK (upserts >= 0),
    deletes         bigint NOT NULL DEFAULT 0 CHECK (deletes >= 0),
    truncates       bigint NOT NULL DEFAULT 0 CHECK (truncates >= 0)
);

-- The captured changes, one row per key and statement: I(nsert), U(pdate), D(elete) and
-- T(runcate, no key). A sync applies each key's current state and deletes the rows it
-- applied. Never dumped (a restored sync reconciles instead).
CREATE SEQUENCE pg2d1.changes_change_id_seq CACHE 1;
CREATE TABLE pg2d1.changes (
    relid      oid NOT NULL,
    change_id  bigint NOT NULL DEFAULT nextval('pg2d1.changes_change_id_seq'),
    op         "char" NOT NULL,  -- I, U, D or T (no CHECK: it costs every captured statement;
    key        text[],           -- only pg2d1's C code writes here, and the sync validates it)
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (relid, change_id)
);
ALTER SEQUENCE pg2d1.changes_change_id_seq OWNED BY pg2d1.changes.change_id;

REVOKE ALL ON pg2d1.sync_tables, pg2d1.changes FROM PUBLIC;
REVOKE ALL ON SEQUENCE pg2d1.changes_change_id_seq FROM PUBLIC;
GRANT SELECT ON pg2d1.sync_tables TO PUBLIC;
ALTER TABLE pg2d1.sync_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_syncs ON pg2d1.sync_tables FOR SELECT
    USING (owner OPERATOR(pg_catalog.=) current_user
           OR pg_catalog.pg_has_role(current_user, 'pg2d1_admin', 'MEMBER'));
SELECT pg_catalog.pg_extension_config_dump('pg2d1.sync_tables', '');

-- The columns of a table as D1 follows them: name and type in column order.
CREATE FUNCTION pg2d1._columns(tbl oid) RETURNS text LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname::text) OPERATOR(pg_catalog.||) ' '
                                 OPERATOR(pg_catalog.||) pg_catalog.format_type(a.atttypid, a.atttypmod),
                                 ', ' ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
$$;
REVOKE ALL ON FUNCTION pg2d1._columns(oid) FROM PUBLIC;

-- The capture trigger (statement level, with transition tables): logs the keys a statement
-- touched. Created on the table by pg2d1_enable_sync; C, so that it costs a few µs.
CREATE FUNCTION pg2d1._capture() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pg2d1_capture' LANGUAGE C;

-- ALTER TABLE on a synced table: a change of its columns (or key) stops the sync, with the
-- change named, before any row of the new shape reaches D1. DROP TABLE forgets the sync.
CREATE FUNCTION pg2d1._on_ddl() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    IF TG_EVENT OPERATOR(pg_catalog.=) 'sql_drop' THEN
        FOR r IN SELECT d.objid FROM pg_catalog.pg_event_trigger_dropped_objects() d
                 WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                   AND d.objsubid OPERATOR(pg_catalog.=) 0 LOOP
            DELETE FROM pg2d1.sync_tables s WHERE s.relid::pg_catalog.oid OPERATOR(pg_catalog.=) r.objid;
            DELETE FROM pg2d1.changes c WHERE c.relid OPERATOR(pg_catalog.=) r.objid;
        END LOOP;
        RETURN;
    END IF;
    FOR r IN SELECT s.relid, s.columns AS was, pg2d1._columns(s.relid) AS now
             FROM pg2d1.sync_tables s
             WHERE s.status OPERATOR(pg_catalog.=) 'enabled'
               AND s.relid::pg_catalog.oid IN (SELECT c.objid FROM pg_catalog.pg_event_trigger_ddl_commands() c
                                               WHERE c.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass)
    LOOP
        IF r.now IS DISTINCT FROM r.was THEN
            UPDATE pg2d1.sync_tables s SET status = 'stopped',
                stop_reason = pg_catalog.format('the columns of %s changed from (%s) to (%s); D1''s table has the old ones',
                                                r.relid, r.was, r.now)
            WHERE s.relid OPERATOR(pg_catalog.=) r.relid;
            RAISE WARNING 'pg2d1: sync of % stopped: its columns changed', r.relid
                USING DETAIL = pg_catalog.format('Was (%s), now (%s).', r.was, r.now),
                      HINT = 'Change the D1 table to match (pg2d1_ddl shows it), then call pg2d1_enable_sync again; it reconciles D1 with the table.';
        END IF;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION pg2d1._on_ddl() FROM PUBLIC;
CREATE EVENT TRIGGER pg2d1_ddl ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION pg2d1._on_ddl();
CREATE EVENT TRIGGER pg2d1_drop ON sql_drop WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED')
    EXECUTE FUNCTION pg2d1._on_ddl();

-- Installs change capture on a table (the caller must own it). Sync may be enabled before,
-- during or after pg2d1_migrate: when D1 may already hold rows copied before capture began,
-- the first pg2d1_sync reconciles (compares every key of both sides, writes what differs).
CREATE FUNCTION pg2d1_enable_sync(tbl regclass, target text DEFAULT NULL) RETURNS text
    AS 'MODULE_PATHNAME', 'pg2d1_enable_sync' LANGUAGE C;

-- Removes the capture triggers and every captured change; a following sync job is cancelled.
CREATE FUNCTION pg2d1_disable_sync(tbl regclass) RETURNS boolean
    AS 'MODULE_PATHNAME', 'pg2d1_disable_sync' LANGUAGE C;

-- Applies the captured changes to D1 in a background worker (upserts of each changed key's
-- current row, deletes of keys gone). follow => true keeps the worker applying changes as
-- they commit until pg2d1_cancel or pg2d1_disable_sync.
CREATE FUNCTION pg2d1_sync(tbl regclass, target text DEFAULT NULL, wait boolean DEFAULT false,
                           follow boolean DEFAULT false)
    RETURNS bigint AS 'MODULE_PATHNAME', 'pg2d1_sync' LANGUAGE C;

-- One row per synced table the caller may read: what is pending and how far behind D1 is.
CREATE VIEW pg2d1_sync_status AS
    SELECT s.relid::pg_catalog.regclass AS table_name, s.target, s.status, s.stop_reason, s.enabled_at,
           p.pending AS changes_pending, s.last_change_at AS last_synced_change_at, s.last_sync_at,
           CASE WHEN p.pending OPERATOR(pg_catalog.>) 0
                THEN pg_catalog.round(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) p.oldest)::numeric, 3)
                ELSE 0 END AS lag_seconds,
           s.upserts, s.deletes, s.truncates, s.reconcile AS reconcile_pending,
           j.job_id, j.status AS job_status, j.follow, j.last_error
    FROM pg2d1.sync_tables s
    CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS pending, pg_catalog.min(c.changed_at) AS oldest
                        FROM pg2d1.changes c WHERE c.relid OPERATOR(pg_catalog.=) s.relid::pg_catalog.oid) p
    LEFT JOIN LATERAL (SELECT j.job_id, j.status, j.follow, j.last_error FROM pg2d1.jobs j
                       WHERE j.relid OPERATOR(pg_catalog.=) s.relid AND j.kind OPERATOR(pg_catalog.=) 'sync'
                       ORDER BY j.job_id DESC LIMIT 1) j ON true
    WHERE pg_catalog.has_table_privilege(s.relid::pg_catalog.oid, 'SELECT');
GRANT SELECT ON pg2d1_sync_status TO PUBLIC;

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
           j.verified, j.verify_summary, j.next_attempt_at, j.attempts, j.kind, j.follow
    FROM pg2d1.jobs j;

-- Secondary and UNIQUE indexes: by default created at once only for a D1 table that already
-- has rows; for an empty one pg2d1_migrate builds them right after the first load.
CREATE OR REPLACE FUNCTION pg2d1_setup_schema(tables regclass[], target text DEFAULT NULL,
                                              create_indexes boolean DEFAULT NULL)
    RETURNS TABLE (table_name text, statement text)
    AS 'MODULE_PATHNAME', 'pg2d1_setup_schema' LANGUAGE C;

-- Owned like the rest of pg2d1, whoever runs the update: pg2d1's C code writes as the owner
-- of pg2d1.jobs, and the status view reads the captured changes with its owner's rights.
DO $$
DECLARE
    tables_owner regrole := (SELECT relowner::regrole FROM pg_catalog.pg_class WHERE oid = 'pg2d1.jobs'::regclass);
    ext_owner regrole := (SELECT extowner::regrole FROM pg_catalog.pg_extension WHERE extname = 'pg2d1');
BEGIN
    EXECUTE pg_catalog.format('ALTER TABLE pg2d1.sync_tables OWNER TO %s', tables_owner);
    EXECUTE pg_catalog.format('ALTER TABLE pg2d1.changes OWNER TO %s', tables_owner);
    EXECUTE pg_catalog.format('ALTER VIEW pg2d1_sync_status OWNER TO %s', tables_owner);
    EXECUTE pg_catalog.format('ALTER FUNCTION pg2d1._job_has_worker(oid, text) OWNER TO %s', ext_owner);
    EXECUTE pg_catalog.format('ALTER FUNCTION pg2d1._columns(oid) OWNER TO %s', ext_owner);
    EXECUTE pg_catalog.format('ALTER FUNCTION pg2d1._capture() OWNER TO %s', ext_owner);
    EXECUTE pg_catalog.format('ALTER FUNCTION pg2d1._on_ddl() OWNER TO %s', ext_owner);
    EXECUTE pg_catalog.format('ALTER FUNCTION pg2d1_enable_sync(regclass, text) OWNER TO %s', ext_owner);
    EXECUTE pg_catalog.format('ALTER FUNCTION pg2d1_disable_sync(regclass) OWNER TO %s', ext_owner);
    EXECUTE pg_catalog.format('ALTER FUNCTION pg2d1_sync(regclass, text, boolean, boolean) OWNER TO %s', ext_owner);
    EXECUTE pg_catalog.format('ALTER EVENT TRIGGER pg2d1_ddl OWNER TO %s', ext_owner);
    EXECUTE pg_catalog.format('ALTER EVENT TRIGGER pg2d1_drop OWNER TO %s', ext_owner);
END $$;

-- ---- 0.4.0: first loads through D1's import API (the same statements as pg2d1--0.3.0--0.4.0.sql) ----

-- How a migration sends its rows: 'query' (batches of upserts through /query) or 'import'
-- (SQL files through D1's import API). 'auto' until the worker has chosen; then its choice,
-- which a restarted job keeps.
ALTER TABLE pg2d1.jobs
    ADD COLUMN method text NOT NULL DEFAULT 'query' CHECK (method IN ('auto','query','import'));
-- Requests of up to 4 MB / 200 statements by default (pg2d1.max_request_bytes): a 50,000-row
-- checkpoint of the reference table in two requests instead of six under the rate limit.
ALTER TABLE pg2d1.jobs
    ALTER COLUMN max_request_bytes SET DEFAULT 4000000,
    ALTER COLUMN max_statements_per_request SET DEFAULT 200;

DROP FUNCTION pg2d1_migrate_all(regclass[], name, integer, integer, boolean, text, text, boolean, boolean);
DROP FUNCTION pg2d1_migrate(regclass, integer, integer, boolean, text, text, boolean, bigint, boolean);

-- method => 'auto' (the default) imports a first load of a large table (pg2d1.import_min_rows)
-- into an empty D1 table and sends batches otherwise; 'query' and 'import' force either.
CREATE FUNCTION pg2d1_migrate(tbl regclass, checkpoint_size integer DEFAULT NULL, batch_size integer DEFAULT NULL,
                              resume boolean DEFAULT true, mode text DEFAULT 'resumable',
                              target text DEFAULT NULL, wait boolean DEFAULT false, depends_on bigint DEFAULT NULL,
                              verify boolean DEFAULT false, method text DEFAULT 'auto')
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'pg2d1_migrate' LANGUAGE C;

-- Migrates several tables (or every table of a schema) in foreign-key order: each job
-- starts when the job of the table it references has completed.
CREATE FUNCTION pg2d1_migrate_all(tables regclass[] DEFAULT NULL, schema_name name DEFAULT NULL,
                                  checkpoint_size integer DEFAULT NULL, batch_size integer DEFAULT NULL,
                                  resume boolean DEFAULT true, mode text DEFAULT 'resumable',
                                  target text DEFAULT NULL, wait boolean DEFAULT false,
                                  verify boolean DEFAULT false, method text DEFAULT 'auto')
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
                                            CASE WHEN wait THEN NULL ELSE prev END, verify, method);
        prev := job_id;
        RETURN NEXT;
    END LOOP;
END $$;

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
           j.verified, j.verify_summary, j.next_attempt_at, j.attempts, j.kind, j.follow, j.method
    FROM pg2d1.jobs j;

DO $$
DECLARE
    ext_owner regrole := (SELECT extowner::regrole FROM pg_catalog.pg_extension WHERE extname = 'pg2d1');
BEGIN
    EXECUTE pg_catalog.format('ALTER FUNCTION pg2d1_migrate(regclass, integer, integer, boolean, text, text, boolean, bigint, boolean, text) OWNER TO %s', ext_owner);
    EXECUTE pg_catalog.format('ALTER FUNCTION pg2d1_migrate_all(regclass[], name, integer, integer, boolean, text, text, boolean, boolean, text) OWNER TO %s', ext_owner);
END $$;

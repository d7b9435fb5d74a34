-- pg2d1 0.3.0 → 0.4.0: first loads through D1's import API (README "Import or queries").
\echo Use "ALTER EXTENSION pg2d1 UPDATE TO '0.4.0'" to load this file. \quit

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

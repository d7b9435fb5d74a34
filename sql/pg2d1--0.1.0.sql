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
    job_id      bigserial PRIMARY KEY,
    table_name  text NOT NULL,
    relid       oid NOT NULL,
    status      text NOT NULL CHECK (status IN ('queued','running','paused','completed','failed','cancelled')),
    rows_done   bigint NOT NULL DEFAULT 0,
    rows_total  bigint,
    target      text,
    options     text,
    last_error  text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

CREATE TABLE pg2d1.checkpoints (
    id                bigserial PRIMARY KEY,
    job_id            bigint NOT NULL REFERENCES pg2d1.jobs ON DELETE CASCADE,
    table_name        text NOT NULL,
    start_id          bigint NOT NULL,
    end_id            bigint NOT NULL,
    records_processed bigint NOT NULL DEFAULT 0,
    status            text CHECK (status IN ('pending','in_progress','completed','failed')),
    error_message     text,
    started_at        timestamptz,
    completed_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    remote_synced     boolean NOT NULL DEFAULT false
);
CREATE INDEX ON pg2d1.checkpoints (job_id, start_id);

SELECT pg_catalog.pg_extension_config_dump('pg2d1.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('pg2d1.checkpoints', '');

CREATE VIEW pg2d1_checkpoints AS
    SELECT id, table_name, start_id, end_id, records_processed, status, error_message,
           started_at, completed_at, created_at, job_id, remote_synced
    FROM pg2d1.checkpoints;

CREATE VIEW pg2d1_progress AS
    SELECT j.job_id, j.table_name, j.status, j.rows_done, j.rows_total,
           round(100.0 * j.rows_done / NULLIF(j.rows_total, 0), 1) AS percent,
           round(j.rows_done / NULLIF(extract(epoch FROM coalesce(j.finished_at, now()) - j.started_at), 0), 0)
               AS rows_per_sec,
           CASE WHEN j.status = 'running' AND j.rows_done > 0 AND j.rows_total > j.rows_done
                THEN (coalesce(j.finished_at, now()) - j.started_at) * ((j.rows_total - j.rows_done)::float8 / j.rows_done)
           END AS eta,
           '[' || repeat('#', (20 * least(j.rows_done, coalesce(j.rows_total, 0)) / NULLIF(j.rows_total, 0))::int)
               || repeat('.', 20 - coalesce((20 * least(j.rows_done, coalesce(j.rows_total, 0)) / NULLIF(j.rows_total, 0))::int, 0))
               || ']' AS bar,
           j.last_error
    FROM pg2d1.jobs j;

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
                              target text DEFAULT NULL, wait boolean DEFAULT false)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'pg2d1_migrate' LANGUAGE C;

CREATE FUNCTION pg2d1_query(sql text, target text DEFAULT NULL) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'pg2d1_query' LANGUAGE C;

CREATE FUNCTION pg2d1._boundary_selftest(kind text) RETURNS text
    AS 'MODULE_PATHNAME', 'pg2d1_boundary_selftest' LANGUAGE C;
REVOKE ALL ON FUNCTION pg2d1._boundary_selftest(text) FROM PUBLIC;

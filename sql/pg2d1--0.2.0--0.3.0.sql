-- pg2d1 0.2.0 → 0.3.0: incremental sync (README "Keeping D1 in step").
\echo Use "ALTER EXTENSION pg2d1 UPDATE TO '0.3.0'" to load this file. \quit

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

-- DDL translation of the reference tables, and argument errors of pg2d1_migrate.
CREATE TABLE coordinate_speed_new (
    id bigserial PRIMARY KEY,
    latitude double precision NOT NULL,
    longitude double precision NOT NULL,
    api_speed_limit integer,
    bearing real,
    display_name text
);
CREATE INDEX idx_coordinate_speed_lat_lon ON coordinate_speed_new (latitude, longitude);
CREATE INDEX idx_coordinate_speed_name ON coordinate_speed_new (display_name);
SELECT pg2d1_ddl('coordinate_speed_new');

CREATE TABLE camera_locations (
    id integer PRIMARY KEY,
    location_id varchar(64) UNIQUE,
    longitude numeric(10,7),
    latitude numeric(10,7),
    altitude double precision DEFAULT 0,
    created_at timestamptz DEFAULT now(),
    updated_at timestamp
);
SELECT pg2d1_ddl('camera_locations');

CREATE TABLE "Odd ""Name""" ("Key" int PRIMARY KEY, "select" text DEFAULT 'it''s', flag boolean DEFAULT true, b bytea);
SELECT pg2d1_ddl('"Odd ""Name"""');

CREATE TABLE no_pk (a int);
SELECT pg2d1_ddl('no_pk');
CREATE VIEW v AS SELECT 1 AS a;
SELECT pg2d1_ddl('v');

-- Argument checking happens before anything is sent.
SELECT pg2d1_migrate('coordinate_speed_new', mode => 'fast', wait => true);
SELECT pg2d1_migrate('coordinate_speed_new', checkpoint_size => 0, wait => true);
SELECT pg2d1_migrate('coordinate_speed_new', batch_size => -1, wait => true);
SELECT pg2d1_migrate('coordinate_speed_new');
SELECT pg2d1_migrate(NULL, wait => true);
SELECT pg2d1_migrate('coordinate_speed_new', method => 'bulk', wait => true);
SELECT pg2d1_migrate('coordinate_speed_new', method => 'import', mode => 'traditional', wait => true);

-- Schema translation: constraints, indexes, foreign keys, and what is reported instead.
CREATE TABLE parent (id int PRIMARY KEY, code text NOT NULL UNIQUE, kind text CHECK (kind IN ('a', 'b')));
CREATE TABLE child (
    id bigint PRIMARY KEY,
    parent_id int NOT NULL REFERENCES parent ON DELETE CASCADE,
    qty int NOT NULL DEFAULT 1 CHECK (qty >= 0 AND qty < 1000),
    price numeric(10,2) CHECK (price > 0),
    name text CHECK (name <> ''),
    lower_name text GENERATED ALWAYS AS (lower(name)) STORED,
    during int4range,
    boss bigint REFERENCES child,
    CONSTRAINT qty_price CHECK (qty > 0 OR price IS NULL),
    EXCLUDE USING gist (during WITH &&)
);
ALTER TABLE child ADD CONSTRAINT later CHECK (qty < 500) NOT VALID;
CREATE UNIQUE INDEX child_parent_name ON child (parent_id, name);
CREATE INDEX child_lower ON child (lower(name));
CREATE INDEX child_positive ON child (qty) WHERE qty > 0;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER child_touch BEFORE UPDATE ON child FOR EACH ROW EXECUTE FUNCTION touch();
SELECT pg2d1_ddl('parent');
SELECT pg2d1_ddl('child');

-- pg2d1_use_key: only a unique index on NOT NULL columns of that table.
CREATE TABLE keyless (code text, n int NOT NULL);
CREATE UNIQUE INDEX keyless_code ON keyless (code);
CREATE UNIQUE INDEX keyless_n ON keyless (n);
CREATE INDEX keyless_plain ON keyless (n, code);
SELECT pg2d1_use_key('keyless', 'keyless_code');
SELECT pg2d1_use_key('keyless', 'keyless_plain');
SELECT pg2d1_use_key('keyless', 'child_lower');
SELECT pg2d1_ddl('keyless');
SELECT pg2d1_use_key('keyless', 'keyless_n');
SELECT pg2d1_ddl('keyless');
SELECT pg2d1_use_key('keyless', NULL);

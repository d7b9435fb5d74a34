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

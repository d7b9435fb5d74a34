-- generate.sql — creates and fills the reference scripts' two tables with realistic,
-- deterministic sample data: NULLs, non-ASCII and quoted names, full-precision doubles.
-- psql -v rows=100000 -v cameras=5000 -f bench/generate.sql
\set ON_ERROR_STOP 1
SELECT setseed(0.42);

DROP TABLE IF EXISTS coordinate_speed_new CASCADE;
CREATE TABLE coordinate_speed_new (
    id bigserial PRIMARY KEY,
    latitude double precision NOT NULL,
    longitude double precision NOT NULL,
    api_speed_limit integer,
    bearing real,
    display_name text
);

WITH names(n, name) AS (
    SELECT row_number() OVER (), name FROM unnest(ARRAY[
        'Hauptstraße', 'Rue de l''Église', 'O''Connell Street', 'Łódzka', 'Zürichbergstrasse',
        '東京都道317号', 'Avenida São João', 'Καλλιδρομίου', 'Невский проспект', 'Calle Mayor',
        'A1 "Autobahn"', 'Route 66', 'Ring Road; North', 'Smith''s Lane -- old', 'Väg 73',
        'شارع الملك فهد', 'Jalan Sudirman', 'Øresundsbron', 'Strada Statale 1 🚗', 'M25 J10'
    ]) AS name
)
INSERT INTO coordinate_speed_new (latitude, longitude, api_speed_limit, bearing, display_name)
SELECT -60 + random() * 130,
       -180 + random() * 360,
       CASE WHEN random() < 0.07 THEN NULL ELSE (ARRAY[20, 30, 50, 60, 70, 80, 90, 100, 110, 130])[1 + floor(random() * 10)::int] END,
       CASE WHEN random() < 0.05 THEN NULL ELSE (random() * 360)::real END,
       CASE WHEN random() < 0.04 THEN NULL
            ELSE (SELECT name FROM names WHERE n = 1 + (g % 20)) || ' ' || (g % 997) END
FROM generate_series(1, :rows) g;

CREATE INDEX idx_coordinate_speed_lat_lon ON coordinate_speed_new (latitude, longitude);
CREATE INDEX idx_coordinate_speed_name ON coordinate_speed_new (display_name);

DROP TABLE IF EXISTS camera_locations CASCADE;
CREATE TABLE camera_locations (
    id serial PRIMARY KEY,
    location_id text NOT NULL UNIQUE,
    longitude double precision NOT NULL,
    latitude double precision NOT NULL,
    altitude double precision,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz
);

INSERT INTO camera_locations (location_id, longitude, latitude, altitude, created_at, updated_at)
SELECT 'CAM-' || lpad(g::text, 6, '0') || CASE WHEN g % 50 = 0 THEN '-Zürich' ELSE '' END,
       -180 + random() * 360,
       -60 + random() * 130,
       CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 3000)::numeric, 2)::float8 END,
       timestamptz '2020-01-01 00:00:00+00' + (g * interval '17 minutes 3.25 seconds'),
       CASE WHEN random() < 0.3 THEN NULL ELSE timestamptz '2024-06-01 12:00:00+00' + (g * interval '1 minute') END
FROM generate_series(1, :cameras) g;

CREATE INDEX idx_camera_locations_created ON camera_locations (created_at);
ANALYZE coordinate_speed_new;
ANALYZE camera_locations;

-- complete_generate.sql — one table shaped like bench/generate.sql's coordinate_speed_new
-- (full-precision doubles, NULLs, non-ASCII and quoted names), with a chosen key, for
-- test_complete.sh. Deterministic for a given seed.
-- psql -v tbl=NAME -v rows=N -v key_type=bigint -v key_expr='g * 1000' -v seed=0.42 -f complete_generate.sql
-- key_expr is an SQL expression over g = 1..rows (e.g. 'g', 'g * 1000', 'md5(g::text)::uuid').
\set ON_ERROR_STOP 1
SELECT setseed(:seed);

DROP TABLE IF EXISTS :"tbl" CASCADE;
CREATE TABLE :"tbl" (
    id :key_type PRIMARY KEY,
    latitude double precision NOT NULL,
    longitude double precision NOT NULL,
    api_speed_limit integer,
    bearing real,
    display_name text
);

INSERT INTO :"tbl" (id, latitude, longitude, api_speed_limit, bearing, display_name)
SELECT :key_expr,
       -60 + random() * 130,
       -180 + random() * 360,
       CASE WHEN random() < 0.07 THEN NULL ELSE (ARRAY[20, 30, 50, 60, 70, 80, 90, 100, 110, 130])[1 + floor(random() * 10)::int] END,
       CASE WHEN random() < 0.05 THEN NULL ELSE (random() * 360)::real END,
       CASE WHEN random() < 0.04 THEN NULL
            ELSE (ARRAY['Hauptstraße', 'Rue de l''Église', 'O''Connell Street', 'Łódzka', 'Zürichbergstrasse',
                        '東京都道317号', 'Avenida São João', 'Καλλιδρομίου', 'Невский проспект', 'Calle Mayor',
                        'A1 "Autobahn"', 'Route 66', 'Ring Road; North', 'Smith''s Lane -- old', 'Väg 73',
                        'شارع الملك فهد', 'Jalan Sudirman', 'Øresundsbron', 'Strada Statale 1 🚗', 'M25 J10'])[1 + g % 20]
                 || ' ' || (g % 997) END
FROM generate_series(1, :rows) g;

ANALYZE :"tbl";

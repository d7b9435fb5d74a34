-- The extension installs its schema, wrapper, ledger and views.
SELECT extname, extversion FROM pg_extension WHERE extname = 'pg2d1';
SELECT fdwname, fdwvalidator::regproc FROM pg_foreign_data_wrapper WHERE fdwname = 'pg2d1';
SELECT p.proname, pg_get_function_arguments(p.oid) AS args
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.proname LIKE 'pg2d1%' AND n.nspname = 'public' ORDER BY 1;
SELECT table_name FROM information_schema.views WHERE table_name LIKE 'pg2d1%' ORDER BY 1;
LOAD 'pg2d1';
SELECT name, boot_val, context FROM pg_settings WHERE name LIKE 'pg2d1.%' AND name <> 'pg2d1.database' ORDER BY 1;
-- The local ledger starts empty and the progress view is readable.
SELECT count(*) FROM pg2d1_progress;
SELECT count(*) FROM pg2d1_checkpoints;

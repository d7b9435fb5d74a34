-- Every way C++ can fail inside a SQL function surfaces as a clean SQL error, and the
-- session stays usable afterwards (each statement below runs in the same session).
\set VERBOSITY default
SELECT pg2d1._boundary_selftest('none');
SELECT pg2d1._boundary_selftest('cpp_error');
SELECT pg2d1._boundary_selftest('std_exception');
SELECT pg2d1._boundary_selftest('bad_alloc');
SELECT pg2d1._boundary_selftest('unknown');
-- A PostgreSQL error raised under pg_call keeps its own SQLSTATE and message.
SELECT pg2d1._boundary_selftest('pg_error');
-- SQLSTATEs: ours for pg2d1::Error, PostgreSQL's own for a PostgreSQL error.
\set VERBOSITY sqlstate
SELECT pg2d1._boundary_selftest('cpp_error');
SELECT pg2d1._boundary_selftest('pg_error');
\set VERBOSITY default
-- A PostgreSQL error can be caught on the C++ side and work continues.
SELECT pg2d1._boundary_selftest('pg_error_caught');
-- A cancel request is honoured at a C++ check point.
SELECT pg2d1._boundary_selftest('cancel');
-- Inside a transaction: the error aborts it like any SQL error, ROLLBACK recovers.
BEGIN;
SELECT pg2d1._boundary_selftest('cpp_error');
SELECT 1;
ROLLBACK;
-- Savepoints roll back cleanly around a C++ failure.
BEGIN;
SAVEPOINT s;
SELECT pg2d1._boundary_selftest('std_exception');
ROLLBACK TO SAVEPOINT s;
SELECT pg2d1._boundary_selftest('none');
COMMIT;
-- Many failures in a row leave no leaked state behind.
DO $$
BEGIN
  FOR i IN 1..200 LOOP
    BEGIN
      PERFORM pg2d1._boundary_selftest(CASE i % 3 WHEN 0 THEN 'cpp_error' WHEN 1 THEN 'pg_error' ELSE 'std_exception' END);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
  END LOOP;
END $$;
SELECT pg2d1._boundary_selftest('none');
-- Ordinary users may not call the self-test.
CREATE ROLE pg2d1_regress_user;
SET ROLE pg2d1_regress_user;
SELECT pg2d1._boundary_selftest('none');
RESET ROLE;
DROP ROLE pg2d1_regress_user;

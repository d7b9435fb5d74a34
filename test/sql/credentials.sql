-- The pg2d1 wrapper validates server and user-mapping options.
CREATE SERVER d1_bad FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '0123456789abcdef0123456789abcdef');
CREATE SERVER d1_bad FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id 'nope', database_id '00000000-0000-4000-8000-000000000001');
CREATE SERVER d1_bad FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '0123456789abcdef0123456789abcdef', database_id 'my-db');
CREATE SERVER d1_bad FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '0123456789abcdef0123456789abcdef', database_id '00000000-0000-4000-8000-000000000001', colour 'blue');
CREATE SERVER d1_bad FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '0123456789abcdef0123456789abcdef', database_id '00000000-0000-4000-8000-000000000001', api_url 'ftp://x');
CREATE SERVER d1_bad FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '0123456789abcdef0123456789abcdef', database_id '00000000-0000-4000-8000-000000000001', api_token 'secret-in-wrong-place');
-- The token travels in every request: https only, plain http only to this machine.
CREATE SERVER d1_bad FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '0123456789abcdef0123456789abcdef', database_id '00000000-0000-4000-8000-000000000001', api_url 'http://example.com/client/v4');
CREATE SERVER d1_bad FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '0123456789abcdef0123456789abcdef', database_id '00000000-0000-4000-8000-000000000001', api_url 'http://127.0.0.1.example.com/client/v4');
CREATE SERVER d1_bad FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '0123456789abcdef0123456789abcdef', database_id '00000000-0000-4000-8000-000000000001', api_url 'http://user@127.0.0.1/client/v4');
CREATE SERVER d1_https FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '0123456789abcdef0123456789abcdef', database_id '00000000-0000-4000-8000-000000000001', api_url 'https://d1.example.com/client/v4');
CREATE SERVER d1_localhost FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '0123456789abcdef0123456789abcdef', database_id '00000000-0000-4000-8000-000000000001', api_url 'http://localhost:8787/client/v4');
DROP SERVER d1_https;
DROP SERVER d1_localhost;
CREATE SERVER d1 FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '0123456789abcdef0123456789abcdef', database_id '00000000-0000-4000-8000-000000000001', api_url 'http://127.0.0.1:9/client/v4');
-- Removing a required option is refused too.
ALTER SERVER d1 OPTIONS (DROP database_id);
-- User mappings need a token and nothing else; the token is never echoed.
CREATE USER MAPPING FOR CURRENT_USER SERVER d1;
CREATE USER MAPPING FOR CURRENT_USER SERVER d1 OPTIONS (api_token 'tok en-with-space');
CREATE USER MAPPING FOR CURRENT_USER SERVER d1 OPTIONS (api_token 'sekrit-token', account_id '0123456789abcdef0123456789abcdef');
-- Without a user mapping, functions say how to create one.
SELECT pg2d1_query('SELECT 1');
CREATE USER MAPPING FOR CURRENT_USER SERVER d1 OPTIONS (api_token 'sekrit-token');
-- Nothing listens on port 9: a clear connection error after retries, no token in it.
SET pg2d1.max_retries = 1;
\set VERBOSITY terse
SELECT pg2d1_query('SELECT 1');
\set VERBOSITY default
SELECT "check", ok FROM pg2d1_validate();
-- A named target that is not a pg2d1 server.
CREATE FOREIGN DATA WRAPPER other_fdw;
CREATE SERVER not_d1 FOREIGN DATA WRAPPER other_fdw;
SELECT pg2d1_query('SELECT 1', target => 'not_d1');
SELECT pg2d1_query('SELECT 1', target => 'missing');
-- Two pg2d1 servers: the target must be named.
CREATE SERVER d1_second FOREIGN DATA WRAPPER pg2d1 OPTIONS (account_id '0123456789abcdef0123456789abcdef', database_id '00000000-0000-4000-8000-000000000002');
SELECT pg2d1_query('SELECT 1');
-- Ordinary users cannot read the token (pg_user_mappings hides it), and cannot use a
-- server without USAGE on it, nor pg2d1_query at all.
CREATE ROLE pg2d1_regress_reader LOGIN;
SET ROLE pg2d1_regress_reader;
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname = 'd1';
SELECT "check", ok, detail FROM pg2d1_validate('d1');
SELECT pg2d1_query('SELECT 1', 'd1');
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER d1 TO pg2d1_regress_reader;
SET ROLE pg2d1_regress_reader;
SELECT "check", ok, detail FROM pg2d1_validate('d1');
RESET ROLE;
REVOKE USAGE ON FOREIGN SERVER d1 FROM pg2d1_regress_reader;
DROP ROLE pg2d1_regress_reader;
DROP SERVER d1_second;
DROP SERVER not_d1;
DROP FOREIGN DATA WRAPPER other_fdw;
DROP USER MAPPING FOR CURRENT_USER SERVER d1;
DROP SERVER d1;
-- No server at all and no environment variables: a clear error with a HINT.
SELECT pg2d1_query('SELECT 1');
-- The environment's credentials are for superusers and pg2d1_admin only.
CREATE ROLE pg2d1_regress_user LOGIN;
SET ROLE pg2d1_regress_user;
SELECT "check", ok, detail FROM pg2d1_validate();
RESET ROLE;
DROP ROLE pg2d1_regress_user;

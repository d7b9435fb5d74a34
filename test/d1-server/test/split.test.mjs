// Unit tests of the SQL statement splitter (no server needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { splitStatements } from "../lib/split.mjs";

test("plain statements, empty ones dropped", () => {
  assert.deepEqual(splitStatements("SELECT 1; SELECT 2;;  ;\n SELECT 3"), ["SELECT 1", "SELECT 2", "SELECT 3"]);
  assert.deepEqual(splitStatements(""), []);
  assert.deepEqual(splitStatements(" ; ;\n"), []);
  assert.deepEqual(splitStatements("-- only a comment\n/* and another */ ;"), []);
});

test("semicolons inside strings, identifiers and comments do not split", () => {
  const sql = `INSERT INTO t VALUES ('a;b', 'it''s; ok'); SELECT "x;y", \`p;q\`, [r;s] FROM t -- c;d
; /* e;f */ SELECT 2`;
  assert.deepEqual(splitStatements(sql), [
    "INSERT INTO t VALUES ('a;b', 'it''s; ok')",
    "SELECT \"x;y\", `p;q`, [r;s] FROM t -- c;d",
    "/* e;f */ SELECT 2",
  ]);
});

test("CREATE TRIGGER bodies stay whole, also with CASE … END and TEMP", () => {
  const trig = "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE c SET n = n + 1;\n  " +
    "SELECT CASE WHEN NEW.id > 0 THEN 1 END;\nEND";
  assert.deepEqual(splitStatements(`${trig};\nSELECT 1`), [trig, "SELECT 1"]);
  const temp = "create temp trigger x before delete on t begin delete from u; end";
  assert.deepEqual(splitStatements(`${temp}; select 2;`), [temp, "select 2"]);
  // "end" as a column name inside a trigger body does not end it early
  const t2 = "CREATE TRIGGER t2 AFTER UPDATE ON t BEGIN INSERT INTO log(\"end\") VALUES (1); END";
  assert.deepEqual(splitStatements(`${t2};SELECT 3`), [t2, "SELECT 3"]);
});

test("CRLF line endings split like LF", () => {
  const lf = "CREATE TABLE a(x);\nCREATE TRIGGER tr AFTER INSERT ON a BEGIN\n SELECT 1;\n SELECT 2;\nEND;\nSELECT 3;\n";
  const crlf = lf.replace(/\n/g, "\r\n");
  const a = splitStatements(lf);
  const b = splitStatements(crlf).map((s) => s.replace(/\r\n/g, "\n"));
  assert.equal(a.length, 3);
  assert.deepEqual(b, a);
});

test("identifiers containing keywords are not keywords", () => {
  assert.deepEqual(splitStatements("SELECT created, triggered, ending FROM t; SELECT 2"),
    ["SELECT created, triggered, ending FROM t", "SELECT 2"]);
  // "create" used as a plain word in a normal statement does not start trigger mode
  assert.deepEqual(splitStatements("SELECT 1 AS create_x; SELECT 2"), ["SELECT 1 AS create_x", "SELECT 2"]);
});

test("unterminated trigger stays one statement (SQLite will report incomplete input)", () => {
  assert.deepEqual(splitStatements("CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; SELECT 2"),
    ["CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; SELECT 2"]);
});

test("unterminated string or comment swallows the rest", () => {
  assert.deepEqual(splitStatements("SELECT 'abc; SELECT 2"), ["SELECT 'abc; SELECT 2"]);
  assert.deepEqual(splitStatements("SELECT 1; /* abc; SELECT 2"), ["SELECT 1"]);
});

test("non-ASCII text", () => {
  assert.deepEqual(splitStatements("SELECT 'ä;ö' AS ü; SELECT '😀'"), ["SELECT 'ä;ö' AS ü", "SELECT '😀'"]);
});

// Unit tests of the import file reader (block-wise splitting), splitPrefix, firstKeyword,
// the import settings and the net guard used by the wrangler test (no server needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { splitPrefix, splitStatements } from "../lib/split.mjs";
import { readStatements, firstKeyword, ImportManager, IMPORT_DEFAULTS } from "../lib/imports.mjs";

const require = createRequire(import.meta.url);

test("splitPrefix: complete statements and the unfinished rest", () => {
  assert.deepEqual(splitPrefix("SELECT 1; SELECT 'a;"), { statements: ["SELECT 1"], rest: " SELECT 'a;" });
  assert.deepEqual(splitPrefix("SELECT 1;"), { statements: ["SELECT 1"], rest: "" });
  assert.deepEqual(splitPrefix("-- c\n"), { statements: [], rest: "-- c\n" });
  const trig = "CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; SELECT 2;";
  assert.deepEqual(splitPrefix(trig), { statements: [], rest: trig });
  assert.deepEqual(splitPrefix(`${trig} END; SELECT 3`).statements, [`${trig} END`]);
});

async function readAll(text, block) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg2d1-split-"));
  const file = path.join(dir, "x.sql");
  fs.writeFileSync(file, text);
  const out = [];
  try {
    for await (const stmts of readStatements(file, block)) out.push(...stmts);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

test("readStatements gives the same statements for every block size, also across UTF-8 and quotes", async () => {
  const text = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\r\n" +
    "INSERT INTO t VALUES (1, 'semi;colon'), (2, 'it''s; ok'), (3, 'ä😀;ö');\n" +
    "/* block; comment */ INSERT INTO t VALUES (4, \"x;y\");\n" +
    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET v = v || ';' WHERE id = NEW.id;\n  " +
    "SELECT CASE WHEN NEW.id > 0 THEN 1 END;\nEND;\n-- trailing comment; still a comment\nSELECT 5";
  const want = splitStatements(text);
  assert.equal(want.length, 5);
  for (const block of [1, 2, 3, 7, 16, 64, 1 << 20]) {
    assert.deepEqual(await readAll(text, block), want, `block ${block}`);
  }
  assert.deepEqual(await readAll("", 4), []);
  assert.deepEqual(await readAll("  -- nothing\n", 4), []);
});

test("firstKeyword skips whitespace and comments", () => {
  assert.equal(firstKeyword("  -- x\n /* y */ BEGIN TRANSACTION"), "begin");
  assert.equal(firstKeyword("commit"), "commit");
  assert.equal(firstKeyword("'x'"), "");
  assert.equal(firstKeyword("INSERT INTO t VALUES (1)"), "insert");
});

test("import settings: defaults, validation, reset with null", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg2d1-imp-"));
  try {
    const m = new ImportManager({ engine: null, persist: dir, databases: [], stats: () => ({}), plan: null });
    assert.deepEqual(m.describeSettings(), { ...IMPORT_DEFAULTS, import_upload_faults: [] });
    m.updateSettings({ import_active_polls: 3, import_upload_faults: ["reset", "http500"], import_fail_message: "boom" });
    assert.equal(m.describeSettings().import_active_polls, 3);
    assert.deepEqual(m.describeSettings().import_upload_faults, ["reset", "http500"]);
    assert.equal(m.describeSettings().import_fail_message, "boom");
    assert.throws(() => m.updateSettings({ import_upload_faults: ["nope"] }), /import_upload_faults/);
    assert.throws(() => m.updateSettings({ import_poll_wait_ms: -1 }), /non-negative/);
    assert.throws(() => m.updateSettings({ import_chunk_bytes: 0 }), /at least 1/);
    m.updateSettings({ import_active_polls: null, import_upload_faults: null, import_fail_message: null });
    assert.deepEqual(m.describeSettings(), { ...IMPORT_DEFAULTS, import_upload_faults: [] });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("net guard: loopback hosts only", () => {
  const { isLoopback } = require("../lib/net-guard.cjs");
  for (const h of [undefined, "", "localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1"]) {
    assert.equal(isLoopback(h), true, String(h));
  }
  for (const h of ["api.cloudflare.com", "sparrow.cloudflare.com", "registry.npmjs.org", "10.0.0.1",
    "192.168.1.1", "0.0.0.0", "::", "128.0.0.1", "localhost.example.com"]) {
    assert.equal(isLoopback(h), false, h);
  }
});

// The import API (init → PUT upload_url → ingest → poll) against real server processes:
// shapes, atomicity (one transaction, and snapshot/restore for chunked files), blocking of
// /query and /raw, the settings knobs for fault tests, stats, and recovery after a crash.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startLocalD1 } from "../harness.mjs";
import { IMPORT_DEFAULTS } from "../lib/imports.mjs";

const DB1 = "00000000-0000-4000-8000-000000000001";
const DB2 = "00000000-0000-4000-8000-0000000000b2";
const I = "/accounts/{account}/d1/database/{db}/import";
const MSG_BUSY = "D1 DB is unavailable: an import is in progress.";
const NOT_IMPORTING = { success: false, error: "Not currently importing anything." };

let d1;
before(async () => {
  d1 = await startLocalD1({ args: ["--database-id", DB1, "--database-id", DB2] });
});
after(async () => {
  await d1?.stop();
});
// Every test starts from the default import settings.
afterEach(async () => {
  await d1.admin("settings", Object.fromEntries(Object.keys(IMPORT_DEFAULTS).map((k) => [k, null])));
});

const md5 = (s) => crypto.createHash("md5").update(s).digest("hex");
const post = (p, body, extra = {}) => d1.api(p, { method: "POST", body, ...extra });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function q(sql, db = DB1, srv = d1) {
  return srv.api(`/accounts/{account}/d1/database/${db}/query`, { method: "POST", body: { sql } });
}
async function rows(sql, db = DB1, srv = d1) {
  const r = await q(sql, db, srv);
  assert.equal(r.status, 200, r.text);
  return r.body.result[0].results;
}

/** Schema (incl. sqlite_sequence) and every row of every table: equal states compare equal. */
async function dbState(db = DB1, srv = d1) {
  const master = await rows("SELECT type, name, tbl_name, sql FROM sqlite_master " +
    "WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY type, name", db, srv);
  const data = {};
  for (const m of master) {
    if (m.type === "table") data[m.name] = await rows(`SELECT * FROM "${m.name}" ORDER BY rowid`, db, srv);
  }
  return { master, data };
}

function assertPolling(res, status) {
  assert.equal(res.success, true);
  assert.equal(res.type, "import");
  assert.equal(res.status, status);
  assert.match(res.at_bookmark, /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/);
  assert.ok(Array.isArray(res.messages));
  assert.ok(Array.isArray(res.errors));
}

/** init + PUT only; returns {etag, filename, upload_url}. */
async function upload(sql, db = DB1) {
  const etag = md5(sql);
  const r = await post(I.replace("{db}", db), { action: "init", etag });
  assert.equal(r.status, 200, r.text);
  const { filename, upload_url: url } = r.body.result;
  const u = await fetch(url, { method: "PUT", body: sql });
  assert.equal(u.status, 200);
  return { etag, filename, url };
}

test("init → upload_url on this server; PUT answers 200 with the MD5 ETag; ingest completes; poll forgets", async () => {
  const sql = "CREATE TABLE a1 (id INTEGER PRIMARY KEY, v TEXT);\nINSERT INTO a1 VALUES (1, 'x'), (2, 'y');\n";
  const etag = md5(sql);
  let r = await post(I, { action: "init", etag });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.body), ["success", "errors", "messages", "result"]);
  assert.deepEqual(Object.keys(r.body.result), ["filename", "upload_url"]);
  assert.equal(r.body.result.filename, `${DB1}-${etag}.sql`);
  const url = new URL(r.body.result.upload_url);
  assert.equal(url.origin, d1.origin);
  assert.equal(url.pathname, `/__upload/${r.body.result.filename}`);
  assert.match(url.searchParams.get("X-Amz-Signature"), /^[0-9a-f]{64}$/);

  const u = await fetch(url, { method: "PUT", headers: { "content-length": String(Buffer.byteLength(sql)) }, body: sql });
  assert.equal(u.status, 200);
  assert.equal(u.headers.get("etag"), `"${etag}"`);
  assert.equal(await u.text(), "");

  r = await post(I, { action: "ingest", etag, filename: r.body.result.filename });
  assert.equal(r.status, 200, r.text);
  const res = r.body.result;
  assertPolling(res, "complete");
  assert.deepEqual(res.messages, ["Starting import...", "Processed 2 queries."]);
  assert.deepEqual(res.errors, []);
  assert.equal(res.result.num_queries, 2);
  assert.match(res.result.final_bookmark, /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/);
  assert.notEqual(res.result.final_bookmark, res.at_bookmark);
  assert.deepEqual(Object.keys(res.result.meta), ["served_by", "duration", "changes", "last_row_id", "changed_db",
    "size_after", "rows_read", "rows_written"]);
  assert.equal(res.result.meta.changes, 2);
  assert.equal(res.result.meta.last_row_id, 2);
  assert.equal(res.result.meta.changed_db, true);
  assert.ok(res.result.meta.rows_written >= 2);
  assert.ok(res.result.meta.size_after >= 4096);
  assert.deepEqual(await rows("SELECT * FROM a1 ORDER BY id"), [{ id: 1, v: "x" }, { id: 2, v: "y" }]);

  // The final state was reported: later polls (and foreign bookmarks) find nothing.
  r = await post(I, { action: "poll", current_bookmark: res.at_bookmark });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { success: true, errors: [], messages: [], result: NOT_IMPORTING });
  r = await post(I, { action: "poll", current_bookmark: "nope" });
  assert.deepEqual(r.body.result, NOT_IMPORTING);
});

test("Response B: init with the etag of an uploaded file starts the import at once; forget-uploads", async () => {
  const sql = "CREATE TABLE IF NOT EXISTS b1 (id INTEGER PRIMARY KEY, n INTEGER);\n" +
    "INSERT INTO b1 VALUES (1, 1) ON CONFLICT(id) DO UPDATE SET n = n + 1;\n";
  let imp = await d1.importSql(sql);
  assert.ok(imp.upload, "first time: uploaded");
  assert.equal(imp.final.status, "complete");
  const uploadsBefore = (await d1.admin("stats")).requests_by_endpoint.import_upload;

  imp = await d1.importSql(sql);
  assert.equal(imp.upload, null, "second time: no upload");
  assert.equal(imp.init.status, 200);
  assertPolling(imp.init.body.result, "complete");
  assert.equal(imp.init.body.result.result.num_queries, 2);
  assert.deepEqual(await rows("SELECT n FROM b1"), [{ n: 2 }]);
  assert.equal((await d1.admin("stats")).requests_by_endpoint.import_upload, uploadsBefore);

  const f = await d1.admin("forget-uploads", {});
  assert.ok(f.deleted >= 1);
  const r = await post(I, { action: "init", etag: md5(sql) });
  assert.ok("upload_url" in r.body.result, "after forget-uploads: upload needed again");
});

test("upload: bad signature 403, wrong method 405, bytes that do not match the etag are not kept", async () => {
  const sql = "SELECT 1;";
  const etag = md5(sql);
  const r = await post(I, { action: "init", etag });
  const url = new URL(r.body.result.upload_url);
  const bad = new URL(url);
  bad.searchParams.set("X-Amz-Signature", "0".repeat(64));
  let u = await fetch(bad, { method: "PUT", body: sql });
  assert.equal(u.status, 403);
  assert.match(await u.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
  u = await fetch(`${d1.origin}/__upload/${r.body.result.filename}`, { method: "PUT", body: sql });
  assert.equal(u.status, 403);
  u = await fetch(url, { method: "GET" });
  assert.equal(u.status, 405);
  assert.match(await u.text(), /<Code>MethodNotAllowed<\/Code>/);

  // Other bytes than announced: R2 answers with the MD5 of what it got; the client sees the
  // mismatch, and the server does not import that file.
  u = await fetch(url, { method: "PUT", body: "SELECT 2;" });
  assert.equal(u.status, 200);
  assert.equal(u.headers.get("etag"), `"${md5("SELECT 2;")}"`);
  const ing = await post(I, { action: "ingest", etag, filename: r.body.result.filename });
  assert.equal(ing.status, 200);
  assert.deepEqual(ing.body.result, { success: false, error: `Input file ${r.body.result.filename} missing or invalid` });
  const again = await post(I, { action: "init", etag });
  assert.ok("upload_url" in again.body.result);
  // ingest naming another database's file
  const other = await post(I, { action: "ingest", etag, filename: `${DB2}-${etag}.sql` });
  assert.equal(other.body.result.success, false);
});

test("request validation: body, action, etag, bookmark; auth, database and method errors", async () => {
  const fail = (r, status, code, re) => {
    assert.equal(r.status, status, r.text);
    assert.equal(r.body.success, false);
    assert.equal(r.body.result, null);
    assert.equal(r.body.errors[0].code, code);
    if (re) assert.match(r.body.errors[0].message, re);
  };
  const before = (await d1.admin("stats")).requests_by_endpoint;
  fail(await post(I, "{nope", { raw: true }), 400, 7400, /^The request is malformed: /);
  fail(await post(I, { etag: "x" }), 400, 7400, /^Invalid property: action => /);
  fail(await post(I, { action: "explode" }), 400, 7400, /Expected 'init' \| 'ingest' \| 'poll'/);
  fail(await post(I, { action: "init" }), 400, 7400, /^Invalid property: etag => Required$/);
  fail(await post(I, { action: "init", etag: 5 }), 400, 7400, /^Invalid property: etag => Expected string, received number$/);
  fail(await post(I, { action: "init", etag: "abc" }), 400, 7400, /^Invalid property: etag => /);
  fail(await post(I, { action: "ingest", etag: md5("x") }), 400, 7400, /^Invalid property: filename => Required$/);
  fail(await post(I, { action: "poll" }), 400, 7400, /^Invalid property: current_bookmark => Required$/);
  fail(await post(I, { action: "poll", current_bookmark: null }), 400, 7400, /Expected string, received null/);
  fail(await post(I, { action: "init", etag: md5("x") }, { token: null }), 401, 10000, /^Authentication error$/);
  fail(await post("/accounts/{account}/d1/database/11111111-2222-4333-8444-555555555555/import",
    { action: "init", etag: md5("x") }), 404, 7404);
  fail(await post("/accounts/{account}/d1/database/nope/import", { action: "poll", current_bookmark: "x" }), 400, 7400, /Invalid uuid/);
  const g = await d1.api(I);
  fail(g, 405, 7001);
  assert.equal(g.headers.get("allow"), "POST");
  const after = (await d1.admin("stats")).requests_by_endpoint;
  const diff = (k) => (after[k] ?? 0) - (before[k] ?? 0);
  assert.equal(diff("import_invalid"), 3);
  assert.equal(diff("import_init"), 3);
  assert.equal(diff("import_ingest"), 1);
  assert.equal(diff("import_poll"), 2);
  assert.equal(diff("import"), 4, "refused before the body was read");
});

test("statements are split like /query: quotes, comments, trigger bodies, CRLF", async () => {
  const sql = [
    "CREATE TABLE s1 (id INTEGER PRIMARY KEY, v TEXT);",
    "CREATE TABLE s1_log (n INTEGER);",
    "INSERT INTO s1_log VALUES (0);",
    "-- a comment; with a semicolon",
    "CREATE TRIGGER s1_ai AFTER INSERT ON s1 BEGIN",
    "  UPDATE s1_log SET n = n + 1;",
    "  UPDATE s1_log SET n = n + CASE WHEN NEW.v = 'x;y' THEN 100 ELSE 0 END;",
    "END;",
    "/* block; comment */ INSERT INTO s1 VALUES (1, 'a;b'), (2, 'x;y'), (3, 'it''s; \"ok\"');",
    "INSERT INTO s1 VALUES (4, 'ä😀;ö')",
  ].join("\r\n");
  const imp = await d1.importSql(sql);
  assertPolling(imp.final, "complete");
  assert.equal(imp.final.result.num_queries, 6);
  assert.deepEqual((await rows("SELECT v FROM s1 ORDER BY id")).map((r) => r.v), ["a;b", "x;y", "it's; \"ok\"", "ä😀;ö"]);
  assert.deepEqual(await rows("SELECT n FROM s1_log"), [{ n: 104 }]);
});

test("atomic: a failing statement leaves the database exactly as before (one transaction)", async () => {
  await q("CREATE TABLE at1 (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT UNIQUE)");
  await q("INSERT INTO at1 (v) VALUES ('keep-1'), ('keep-2')");
  const before = await dbState();
  const sql = "CREATE TABLE at_new (x);\nINSERT INTO at_new VALUES (1);\n" +
    "INSERT INTO at1 (v) VALUES ('added');\nUPDATE at1 SET v = v || '!' WHERE v = 'keep-1';\n" +
    "INSERT INTO at1 (v) VALUES ('keep-2');\nINSERT INTO at1 (v) VALUES ('never');\n";
  const imp = await d1.importSql(sql);
  assert.equal(imp.responses.at(-1).status, 200);
  assertPolling(imp.final, "error");
  assert.deepEqual(imp.final.errors, ["UNIQUE constraint failed: at1.v: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)"]);
  assert.equal(imp.final.error, imp.final.errors[0]);
  assert.equal(imp.final.result, undefined);
  assert.deepEqual(await dbState(), before);
  // the final error is reported once
  const p = await post(I, { action: "poll", current_bookmark: imp.final.at_bookmark });
  assert.deepEqual(p.body.result, NOT_IMPORTING);
});

test("refused files change nothing: statement over 100 KB, BEGIN/COMMIT, fail_sql_regex, no statements", async () => {
  await q("CREATE TABLE rf (id INTEGER PRIMARY KEY, v TEXT)");
  const before = await dbState();
  const long = `INSERT INTO rf VALUES (1, '${"x".repeat(100_000)}')`;
  const cases = [
    [`INSERT INTO rf VALUES (2, 'a');\n${long};\n`, "statement too long: SQLITE_TOOBIG"],
    ["BEGIN TRANSACTION;\nINSERT INTO rf VALUES (3, 'b');\nCOMMIT;\n", "cannot start a transaction within a transaction: SQLITE_ERROR"],
    ["INSERT INTO rf VALUES (4, 'c');\n-- done\nCOMMIT;\n", /^To execute a transaction, please use the state\.storage\.transaction\(\)/],
    ["INSERT INTO rf VALUES (5, 'd');\nSAVEPOINT sp;\n", /BEGIN TRANSACTION or SAVEPOINT/],
    ["-- only a comment;\n ; \n", "No SQL statements detected."],
  ];
  for (const [sql, want] of cases) {
    const imp = await d1.importSql(sql);
    assertPolling(imp.final, "error");
    if (typeof want === "string") assert.equal(imp.final.error, want, sql.slice(0, 40));
    else assert.match(imp.final.error, want);
  }
  // just under the limit (UTF-8 bytes) passes
  const ok = `INSERT INTO rf VALUES (6, '${"é".repeat((100_000 - 32) / 2)}')`;
  assert.ok(Buffer.byteLength(ok) <= 100_000);
  assert.equal((await d1.importSql(`${ok};`)).final.status, "complete");
  await q("DELETE FROM rf WHERE id = 6");

  await d1.admin("faults", { fail_sql_regex: "poison", fail_sql_message: "SQLITE_CONSTRAINT: injected failure" });
  try {
    const imp = await d1.importSql("INSERT INTO rf VALUES (7, 'fine');\nINSERT INTO rf VALUES (8, 'poison');\n");
    assert.equal(imp.final.error, "SQLITE_CONSTRAINT: injected failure");
  } finally {
    await d1.admin("faults", { fail_sql_regex: null });
  }
  assert.deepEqual(await dbState(), before);
});

test("blocking: while an import runs, /query and /raw on that database get 503; others and GET info work", async () => {
  await q("CREATE TABLE bl (id INTEGER PRIMARY KEY, v TEXT)");
  const numTables = (await d1.api("/accounts/{account}/d1/database/{db}")).body.result.num_tables;
  let sql = "CREATE TABLE bl_new (x);\n";
  for (let i = 0; i < 2000; i++) sql += `INSERT INTO bl VALUES (${i}, 'row ${i} ${"z".repeat(60)}');\n`;
  // ~180 KB at 40 KB/s: the import lasts about 4.5 s (room for the checks on a busy machine)
  await d1.admin("settings", { import_bytes_per_s: 40_000 });
  const { etag, filename } = await upload(sql);
  const t0 = Date.now();
  const ing = await post(I, { action: "ingest", etag, filename });
  assert.equal(ing.status, 202, "ingest waited 1 s, then answered active");
  assertPolling(ing.body.result, "active");
  assert.ok(Date.now() - t0 >= 900);

  const statsBefore = (await d1.admin("stats")).imports.requests_refused;
  let r = await q("SELECT count(*) AS n FROM bl");
  assert.equal(r.status, 503, r.text);
  assert.deepEqual(r.body, { success: false, errors: [{ code: 7500, message: MSG_BUSY }], messages: [], result: null });
  assert.equal(r.headers.get("retry-after"), "1");
  r = await d1.api("/accounts/{account}/d1/database/{db}/raw", { method: "POST", body: { sql: "SELECT 1" } });
  assert.equal(r.status, 503);
  assert.equal((await q("SELECT 1 AS one", DB2)).status, 200, "the other database is not blocked");
  r = await d1.api("/accounts/{account}/d1/database/{db}");
  assert.equal(r.status, 200);
  assert.equal(r.body.result.num_tables, numTables, "info as before the import");
  assert.equal((await d1.admin("stats")).imports.requests_refused, statsBefore + 2);

  let res = ing.body.result;
  let polls = 0;
  while (res.status === "active") {
    r = await post(I, { action: "poll", current_bookmark: res.at_bookmark });
    assert.equal(r.status, r.body.result.status === "active" ? 202 : 200);
    res = r.body.result;
    polls += 1;
  }
  assert.equal(res.status, "complete");
  assert.ok(polls >= 2, `polls ${polls}`);
  assert.ok(Date.now() - t0 >= 4000, "the import took size / import_bytes_per_s");
  assert.deepEqual(await rows("SELECT count(*) AS n FROM bl"), [{ n: 2000 }]);
  assert.equal((await d1.api("/accounts/{account}/d1/database/{db}")).body.result.num_tables, numTables + 1);
});

test("one import at a time per database; a repeated ingest reports the running import", async () => {
  let sql = "CREATE TABLE one1 (x);\n";
  for (let i = 0; i < 300; i++) sql += `INSERT INTO one1 VALUES (${i});\n`;
  // ~7 KB at 1.5 KB/s: about 5 s
  await d1.admin("settings", { import_bytes_per_s: 1500, import_async_bytes: 0 });
  const a = await upload(sql);
  const b = await upload("CREATE TABLE one2 (x);\n");
  const ing = await post(I, { action: "ingest", etag: a.etag, filename: a.filename });
  assert.equal(ing.status, 202);
  let r = await post(I, { action: "ingest", etag: b.etag, filename: b.filename });
  assert.deepEqual(r.body.result, { success: false, error: "An import is already in progress for this database." });
  r = await post(I, { action: "ingest", etag: a.etag, filename: a.filename });
  assert.equal(r.status, 202);
  assert.equal(r.body.result.at_bookmark, ing.body.result.at_bookmark);
  r = await post(I, { action: "poll", current_bookmark: "00000000-00000000-00000000-00000000000000000000000000000000" });
  assert.deepEqual(r.body.result, NOT_IMPORTING, "a foreign bookmark is not the running import");
  // another database imports meanwhile
  const other = await d1.importSql("CREATE TABLE one3 (x);", { db: DB2 });
  assert.equal(other.final.status, "complete");
  let res = ing.body.result;
  while (res.status === "active") res = (await post(I, { action: "poll", current_bookmark: res.at_bookmark })).body.result;
  assert.equal(res.status, "complete");
  assert.equal(res.result.num_queries, 301);
});

test("observable: over import_async_bytes ingest answers 202 at once; import_active_polls forces N active polls", async () => {
  await d1.admin("settings", { import_async_bytes: 10 });
  const sql = "CREATE TABLE ob1 (x);\nINSERT INTO ob1 VALUES (1);\n";
  let imp = await d1.importSql(sql);
  assert.equal(imp.responses[0].status, 202);
  assertPolling(imp.responses[0].body.result, "active");
  assert.deepEqual(imp.responses[0].body.result.messages, ["Starting import..."]);
  assert.equal(imp.final.status, "complete");
  assert.deepEqual(imp.final.messages, ["Processed 2 queries."]);
  assert.ok(imp.polls >= 1);

  await d1.admin("settings", { import_async_bytes: null, import_active_polls: 3 });
  imp = await d1.importSql("CREATE TABLE ob2 (x);\n");
  assert.deepEqual(imp.responses.map((r) => [r.status, r.body.result.status]),
    [[202, "active"], [202, "active"], [202, "active"], [202, "active"], [200, "complete"]]);
  assert.equal(imp.polls, 4);
  const st = await d1.admin("stats");
  assert.ok(st.responses_by_status["202"] >= 5);
});

test("upload faults: reset, http500, bad_etag, one upload each, then normal again", async () => {
  await d1.admin("settings", { import_upload_faults: ["reset", "http500", "bad_etag"] });
  assert.deepEqual((await d1.admin("settings")).import_upload_faults, ["reset", "http500", "bad_etag"]);
  const before = await d1.admin("stats");
  const sql = "CREATE TABLE uf (x);\n";
  const etag = md5(sql);
  const init = await post(I, { action: "init", etag });
  const url = init.body.result.upload_url;
  await assert.rejects(fetch(url, { method: "PUT", body: sql }), (e) => /fetch failed/.test(e.message));
  let u = await fetch(url, { method: "PUT", body: sql });
  assert.equal(u.status, 500);
  assert.match(await u.text(), /<Code>InternalError<\/Code>/);
  u = await fetch(url, { method: "PUT", body: sql });
  assert.equal(u.status, 200);
  assert.notEqual(u.headers.get("etag"), `"${etag}"`);
  assert.equal((await post(I, { action: "init", etag })).body.result.filename, init.body.result.filename,
    "nothing was kept: still Response A");
  u = await fetch(url, { method: "PUT", body: sql });
  assert.equal(u.status, 200);
  assert.equal(u.headers.get("etag"), `"${etag}"`);
  const st = await d1.admin("stats");
  assert.equal(st.imports.upload_faults - before.imports.upload_faults, 3);
  assert.equal(st.connections_reset - before.connections_reset, 1);
  assert.equal(st.requests_by_endpoint.import_upload - before.requests_by_endpoint.import_upload, 4);
  assert.deepEqual((await d1.admin("settings")).import_upload_faults, []);
});

test("import_fail_ingests: the import fails halfway with import_fail_message and rolls back", async () => {
  await q("CREATE TABLE fi (id INTEGER PRIMARY KEY)");
  await q("INSERT INTO fi VALUES (1)");
  const before = await dbState();
  await d1.admin("settings", { import_fail_ingests: 1, import_fail_message: "Network connection lost." });
  let sql = "";
  for (let i = 2; i < 50; i++) sql += `INSERT INTO fi VALUES (${i});\n`;
  let imp = await d1.importSql(sql);
  assertPolling(imp.final, "error");
  assert.deepEqual(imp.final.errors, ["Network connection lost."]);
  assert.deepEqual(await dbState(), before);
  assert.equal((await d1.admin("settings")).import_fail_ingests, 0);
  // the retry (Response B: the file is still uploaded) succeeds
  imp = await d1.importSql(sql);
  assert.equal(imp.upload, null);
  assert.equal(imp.final.status, "complete");
  assert.deepEqual(await rows("SELECT count(*) AS n FROM fi"), [{ n: 49 }]);
  assert.equal((await d1.admin("stats")).imports.injected_failures, 1);
});

test("chunked import (file over import_batch_bytes): progress messages, snapshot taken and dropped", async () => {
  const info0 = await d1.admin("info");
  await d1.admin("settings", { import_batch_bytes: 1000, import_chunk_bytes: 2000, import_bytes_per_s: 25_000 });
  let sql = "CREATE TABLE ch1 (id INTEGER PRIMARY KEY, v TEXT);\n";
  for (let i = 0; i < 1000; i++) sql += `INSERT INTO ch1 VALUES (${i}, 'v${i}');\n`; // ~37 KB, ~1.5 s
  const imp = await d1.importSql(sql);
  assert.equal(imp.final.status, "complete");
  assert.equal(imp.final.result.num_queries, 1001);
  const messages = imp.responses.flatMap((r) => r.body.result.messages);
  assert.equal(messages[0], "Starting import...");
  assert.equal(messages.at(-1), "Processed 1001 queries.");
  const progress = messages.filter((m) => /^Processed \d+ queries\.$/.test(m)).map((m) => Number(m.split(" ")[1]));
  assert.ok(progress.length >= 2 && progress[0] < 1001, messages.join(" | "));
  assert.deepEqual(await rows("SELECT count(*) AS n, sum(id) AS s FROM ch1"), [{ n: 1000, s: 499500 }]);
  assert.ok(!fs.existsSync(path.join(d1.persist, "pg2d1-imports", "snapshots", DB1)));
  const info1 = await d1.admin("info");
  assert.notEqual(info1.workerd_pid, info0.workerd_pid, "workerd was restarted for the snapshot");
  assert.deepEqual({ ...info1, workerd_pid: 0 }, { ...info0, workerd_pid: 0 });
});

test("chunked import failing late is undone from the snapshot (also AUTOINCREMENT); other databases live on", async () => {
  await q("CREATE TABLE cr (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL)");
  await q("INSERT INTO cr (v) VALUES ('a'), ('b')");
  await q("CREATE TABLE IF NOT EXISTS other_db_t (x)", DB2);
  const before = await dbState();
  const before2 = await dbState(DB2);
  await d1.admin("settings", { import_batch_bytes: 1000, import_chunk_bytes: 1500 });
  let sql = "CREATE TABLE cr_new (x);\nCREATE INDEX cr_v ON cr(v);\nDELETE FROM cr WHERE v = 'a';\n";
  for (let i = 0; i < 400; i++) sql += `INSERT INTO cr (v) VALUES ('n${i}');\n`;
  sql += "INSERT INTO cr (v) VALUES (NULL);\nINSERT INTO cr (v) VALUES ('after');\n";
  const st0 = await d1.admin("stats");
  const imp = await d1.importSql(sql);
  assertPolling(imp.final, "error");
  assert.deepEqual(imp.final.errors, ["NOT NULL constraint failed: cr.v: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_NOTNULL)"]);
  assert.deepEqual(await dbState(), before);
  assert.deepEqual(await dbState(DB2), before2);
  assert.equal((await d1.admin("stats")).imports.restored_from_snapshot - st0.imports.restored_from_snapshot, 1);
  // the rows written by the chunks before the failure are gone, the sequence is back
  assert.deepEqual(await rows("SELECT seq FROM sqlite_sequence WHERE name = 'cr'"), [{ seq: 2 }]);
  await q("INSERT INTO cr (v) VALUES ('c')");
  assert.deepEqual(await rows("SELECT id FROM cr WHERE v = 'c'"), [{ id: 3 }]);

  // an injected failure in chunked mode is undone the same way
  await d1.admin("settings", { import_fail_ingests: 1 });
  const before3 = await dbState();
  const imp2 = await d1.importSql(sql.replace("VALUES (NULL)", "VALUES ('z')"));
  assert.equal(imp2.final.error, "Network connection lost.");
  assert.deepEqual(await dbState(), before3);
});

test("stats count import requests by action", async () => {
  await d1.admin("reset-stats", {});
  const imp = await d1.importSql("CREATE TABLE IF NOT EXISTS stx (x);\nINSERT INTO stx VALUES (1);\n");
  assert.equal(imp.final.status, "complete");
  await post(I, { action: "poll", current_bookmark: imp.final.at_bookmark });
  const st = await d1.admin("stats");
  const byEp = st.requests_by_endpoint;
  assert.equal(byEp.import_init, 1);
  assert.equal(byEp.import_ingest ?? 0, imp.upload ? 1 : 0);
  assert.equal(byEp.import_upload ?? 0, imp.upload ? 1 : 0);
  assert.equal(byEp.import_poll, 1);
  assert.equal(st.requests_total, 2 + (imp.upload ? 2 : 0));
  assert.equal(st.imports.started, 1);
  assert.equal(st.imports.completed, 1);
  assert.equal(st.statements_executed, 2);
  assert.ok(st.rows_written >= 1);
  assert.deepEqual(Object.keys(st.imports).sort(), ["completed", "failed", "injected_failures", "requests_refused",
    "restored_from_snapshot", "started", "upload_bytes", "upload_faults", "uploads"]);
});

test("a server killed during a chunked import comes back with the database as before the import", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg2d1-d1-crash-"));
  // Miniflare's scratch dir of the killed server cannot be removed by it: keep it inside `dir`.
  const tmp = path.join(dir, "tmp");
  fs.mkdirSync(tmp);
  let s = await startLocalD1({ persist: path.join(dir, "data"), env: { TMPDIR: tmp } });
  try {
    await q("CREATE TABLE k (id INTEGER PRIMARY KEY)", DB1, s);
    await q("INSERT INTO k VALUES (1)", DB1, s);
    const before = await dbState(DB1, s);
    await s.admin("settings", { import_batch_bytes: 100, import_chunk_bytes: 1000, import_bytes_per_s: 5000 });
    let sql = "";
    for (let i = 2; i < 1500; i++) sql += `INSERT INTO k VALUES (${i});\n`; // ~38 KB at 5 KB/s
    const etag = md5(sql);
    const init = await s.api(I, { method: "POST", body: { action: "init", etag } });
    await fetch(init.body.result.upload_url, { method: "PUT", body: sql });
    const ing = await s.api(I, { method: "POST", body: { action: "ingest", etag, filename: init.body.result.filename } });
    assert.equal(ing.status, 202);
    // wait until chunks have been committed to the SQLite file
    const file = s.info.databases[0].sqlite_path;
    let n = 0;
    for (let i = 0; i < 50 && n <= 1; i++) {
      await sleep(200);
      n = Number(execFileSync("sqlite3", ["-readonly", file, "SELECT count(*) FROM k"], { encoding: "utf8" }).trim());
    }
    assert.ok(n > 1, "part of the import is in the file");
    assert.ok(fs.existsSync(path.join(dir, "data", "pg2d1-imports", "snapshots", DB1, "ACTIVE")));
    const { workerd_pid: wpid } = await s.admin("info");
    s.info.workerd_pid = wpid;
    process.kill(s.child.pid, "SIGKILL");
    process.kill(wpid, "SIGKILL");
    await s.stop({ keepPersist: true });

    s = await startLocalD1({ persist: path.join(dir, "data"), env: { TMPDIR: tmp } });
    assert.match(s.stderr(), /an import did not finish before the last exit; restored its previous state/);
    assert.deepEqual(await dbState(DB1, s), before);
    assert.ok(!fs.existsSync(path.join(dir, "data", "pg2d1-imports", "snapshots", DB1)));
    // the uploaded file survived: init with its etag starts the import again (Response B)
    const again = await s.importSql(sql);
    assert.equal(again.upload, null);
    assert.equal(again.final.status, "complete");
    assert.deepEqual(await rows("SELECT count(*) AS n FROM k", DB1, s), [{ n: 1499 }]);
  } finally {
    await s.stop({ keepPersist: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

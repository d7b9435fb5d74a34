// Integration tests of the Cloudflare-shaped endpoints against a real server process.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startLocalD1 } from "../harness.mjs";

let d1;
const Q = "/accounts/{account}/d1/database/{db}/query";
const RAW = "/accounts/{account}/d1/database/{db}/raw";
const post = (p, body, extra = {}) => d1.api(p, { method: "POST", body, ...extra });

function assertFailure(r, status, code, messageRe) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.body.success, false);
  assert.deepEqual(r.body.messages, []);
  assert.equal(r.body.result, null);
  assert.equal(r.body.errors.length, 1);
  assert.equal(r.body.errors[0].code, code, r.text);
  if (messageRe) assert.match(r.body.errors[0].message, messageRe);
}

function assertMeta(meta) {
  const keys = ["served_by", "served_by_region", "served_by_primary", "timings", "duration", "changes",
    "last_row_id", "changed_db", "size_after", "rows_read", "rows_written"];
  assert.deepEqual(Object.keys(meta), keys);
  assert.equal(meta.served_by, "miniflare.db");
  assert.equal(meta.served_by_region, "LOCL");
  assert.equal(meta.served_by_primary, true);
  assert.equal(meta.timings.sql_duration_ms, meta.duration);
  for (const k of ["duration", "changes", "last_row_id", "size_after", "rows_read", "rows_written"]) {
    assert.equal(typeof meta[k], "number", k);
  }
  assert.equal(typeof meta.changed_db, "boolean");
}

async function count(table, where = "1") {
  const r = await d1.query(`SELECT count(*) AS n FROM ${table} WHERE ${where}`);
  assert.equal(r.success, true, JSON.stringify(r));
  return r.result[0].results[0].n;
}

before(async () => {
  d1 = await startLocalD1({
    args: ["--database-id", "00000000-0000-4000-8000-000000000001", "--database-name", "main-db",
      "--database-id", "00000000-0000-4000-8000-0000000000b2"],
  });
});
after(async () => {
  await d1?.stop();
});

test("READY info and /__local/info", async () => {
  assert.match(d1.url, /^http:\/\/127\.0\.0\.1:\d+\/client\/v4$/);
  assert.equal(d1.accountId, "0123456789abcdef0123456789abcdef");
  assert.equal(d1.info.databases.length, 2);
  assert.equal(d1.info.databases[0].name, "main-db");
  assert.equal(d1.info.databases[1].name, "local-2");
  assert.match(d1.info.databases[0].sqlite_path, /miniflare-D1DatabaseObject\/[0-9a-f]{64}\.sqlite$/);
  assert.equal(d1.info.pid, d1.child.pid);
  const info = await d1.admin("info");
  assert.deepEqual(info, d1.info);
});

test("token verify: user and account endpoints", async () => {
  for (const p of ["/user/tokens/verify", "/accounts/{account}/tokens/verify"]) {
    const r = await d1.api(p);
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body).sort(), ["errors", "messages", "result", "success"]);
    assert.equal(r.body.success, true);
    assert.equal(r.body.result.status, "active");
    assert.match(r.body.result.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(r.body.messages, [{ code: 10000, message: "This API Token is valid and active", type: null }]);
    assertFailure(await d1.api(p, { token: "wrong" }), 401, 1000, /^Invalid API Token$/);
    assertFailure(await d1.api(p, { token: null }), 401, 1000, /^Invalid API Token$/);
  }
});

test("auth on D1 endpoints: missing/wrong → 401 10000, malformed → 400 6003/6111", async () => {
  for (const [p, method] of [[Q, "POST"], [RAW, "POST"], ["/accounts/{account}/d1/database/{db}", "GET"],
    ["/accounts/{account}/d1/database", "GET"]]) {
    const body = method === "POST" ? { sql: "SELECT 1" } : undefined;
    assertFailure(await d1.api(p, { method, body, token: null }), 401, 10000, /^Authentication error$/);
    assertFailure(await d1.api(p, { method, body, token: "nope" }), 401, 10000, /^Authentication error$/);
    const r = await d1.api(p, { method, body, token: null, headers: { authorization: "Token abc" } });
    assertFailure(r, 400, 6003, /^Invalid request headers$/);
    assert.deepEqual(r.body.errors[0].error_chain, [{ code: 6111, message: "Invalid format for Authorization header" }]);
  }
});

test("bad account, bad and unknown database ids, unknown path, wrong method", async () => {
  let r = await d1.api("/accounts/ffffffffffffffffffffffffffffffff/d1/database/{db}/query", { method: "POST", body: { sql: "SELECT 1" } });
  assertFailure(r, 404, 7003, /^Could not route to \/client\/v4\/accounts\/ffffffffffffffffffffffffffffffff\/d1\/database\/.*\/query, perhaps your object identifier is invalid\?$/);
  r = await d1.api("/accounts/{account}/d1/database/not-a-uuid/query", { method: "POST", body: { sql: "SELECT 1" } });
  assertFailure(r, 400, 7400, /^Invalid property: databaseId => Invalid uuid$/);
  r = await d1.api("/accounts/{account}/d1/database/undefined");
  assertFailure(r, 400, 7400, /Invalid uuid/);
  r = await d1.api("/accounts/{account}/d1/database/11111111-2222-4333-8444-555555555555/raw", { method: "POST", body: { sql: "SELECT 1" } });
  assertFailure(r, 404, 7404, /^The database 11111111-2222-4333-8444-555555555555 could not be found$/);
  assertFailure(await d1.api("/no/such/path"), 404, 7003, /^No route for the URI$/);
  assertFailure(await d1.api("/accounts/{account}/d1/database/{db}/export", { method: "POST", body: {} }), 404, 7003, /No route/);
  r = await d1.api(Q);
  assertFailure(r, 405, 7001);
  assert.equal(r.headers.get("allow"), "POST");
});

test("GET database info and list", async () => {
  await d1.query("CREATE TABLE IF NOT EXISTS info_t (id INTEGER PRIMARY KEY)");
  let r = await d1.api("/accounts/{account}/d1/database/{db}");
  assert.equal(r.status, 200);
  assert.equal(r.body.success, true);
  assert.deepEqual(r.body.errors, []);
  const res = r.body.result;
  assert.deepEqual(Object.keys(res), ["uuid", "name", "created_at", "version", "num_tables", "file_size",
    "jurisdiction", "read_replication", "running_in_region"]);
  assert.equal(res.uuid, d1.databaseId);
  assert.equal(res.name, "main-db");
  assert.match(res.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.equal(res.version, "production");
  assert.equal(res.num_tables, await count("sqlite_master",
    "type='table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'"));
  assert.ok(res.num_tables >= 1);
  assert.ok(res.file_size >= 4096);
  assert.equal(res.jurisdiction, null);
  assert.deepEqual(res.read_replication, { mode: "disabled" });
  assert.equal(res.running_in_region, "LOCL");
  r = await d1.api("/accounts/{account}/d1/database/{db}?fields=uuid,name");
  assert.deepEqual(r.body.result, { uuid: d1.databaseId, name: "main-db" });

  r = await d1.api("/accounts/{account}/d1/database");
  assert.equal(r.status, 200);
  assert.equal(r.body.result.length, 2);
  assert.deepEqual(Object.keys(r.body.result[0]), ["uuid", "name", "created_at", "version", "jurisdiction"]);
  assert.deepEqual(r.body.result_info, { page: 1, per_page: 1000, count: 2, total_count: 2 });
  r = await d1.api("/accounts/{account}/d1/database?per_page=1&page=2");
  assert.deepEqual(r.body.result.map((d) => d.name), ["local-2"]);
  assert.deepEqual(r.body.result_info, { page: 2, per_page: 1, count: 1, total_count: 2 });
  r = await d1.api("/accounts/{account}/d1/database?name=main");
  assert.deepEqual(r.body.result.map((d) => d.name), ["main-db"]);
});

test("/query single statement with params; envelope and meta shape; booleans → 1/0", async () => {
  let r = await post(Q, { sql: "CREATE TABLE q1 (id INTEGER PRIMARY KEY, v TEXT, f REAL, b INTEGER)" });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.body), ["success", "errors", "messages", "result"]);
  assert.equal(r.body.result.length, 1);
  assertMeta(r.body.result[0].meta);
  r = await post(Q, { sql: "INSERT INTO q1 (id, v, f, b) VALUES (?, ?, ?, ?)", params: ["7", "seven", 7.5, true] });
  assert.equal(r.status, 200, r.text);
  const w = r.body.result[0];
  assert.deepEqual(Object.keys(w), ["results", "success", "meta"]);
  assert.deepEqual(w.results, []);
  assert.equal(w.success, true);
  assert.equal(w.meta.changes, 1);
  assert.equal(w.meta.last_row_id, 7);
  assert.equal(w.meta.changed_db, true);
  assert.ok(w.meta.rows_written >= 1);
  r = await post(Q, { sql: "SELECT id, v, f, b, typeof(id) AS t FROM q1 WHERE id = ?1", params: [7] });
  assert.deepEqual(r.body.result[0].results, [{ id: 7, v: "seven", f: 7.5, b: 1, t: "integer" }]);
  assert.equal(r.body.result[0].meta.rows_read, 1);
  // ?NNN placeholders (a later plain ? takes the next number) and NULL
  r = await post(Q, { sql: "SELECT ?2 AS a, ?1 AS b, ? IS NULL AS c", params: ["x", "y", null] });
  assert.deepEqual(r.body.result[0].results, [{ a: "y", b: "x", c: 1 }]);
});

test("/query multi-statement sql: strings, comments, trigger, CRLF — one result per statement", async () => {
  const sql = [
    "CREATE TABLE ms (id INTEGER PRIMARY KEY, v TEXT);",
    "CREATE TABLE ms_log (n INTEGER);",
    "-- a comment; with a semicolon",
    "INSERT INTO ms_log VALUES (0);",
    "CREATE TRIGGER ms_ai AFTER INSERT ON ms BEGIN",
    "  UPDATE ms_log SET n = n + 1;",
    "  UPDATE ms_log SET n = n + CASE WHEN NEW.v = 'x;y' THEN 100 ELSE 0 END;",
    "END;",
    "/* block; comment */ INSERT INTO ms VALUES (1, 'a;b'), (2, 'x;y');",
    "SELECT v FROM ms ORDER BY id;",
    "SELECT n FROM ms_log",
  ].join("\r\n");
  const r = await post(Q, { sql });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.result.length, 7);
  assert.deepEqual(r.body.result[5].results, [{ v: "a;b" }, { v: "x;y" }]);
  assert.deepEqual(r.body.result[6].results, [{ n: 102 }]);
  // params with a multi-statement sql are refused (they bind to one statement only)
  const e = await post(Q, { sql: "SELECT ?; SELECT ?", params: [1, 2] });
  assertFailure(e, 400, 7500, /^Wrong number of parameter bindings for SQL query\.$/);
  // empty statements are dropped; nothing at all → error
  assertFailure(await post(Q, { sql: " ; -- nothing\n;" }), 400, 7500, /No SQL statements detected/);
});

test("/query batch form and bare-array form", async () => {
  await d1.query("CREATE TABLE bt (id INTEGER PRIMARY KEY, v TEXT)");
  let r = await post(Q, {
    batch: [
      { sql: "INSERT INTO bt VALUES (?, ?)", params: ["1", "a"] },
      { sql: "INSERT INTO bt VALUES (?, ?), (?, ?)", params: [2, "b", 3, "c"] },
      { sql: "UPDATE bt SET v = upper(v) WHERE id > ?; SELECT count(*) AS n FROM bt".replace("?", "1") },
      { sql: "SELECT id, v FROM bt ORDER BY id" },
    ],
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.result.length, 5);
  assert.equal(r.body.result[1].meta.changes, 2);
  assert.equal(r.body.result[2].meta.changes, 2);
  assert.deepEqual(r.body.result[3].results, [{ n: 3 }]);
  assert.deepEqual(r.body.result[4].results, [{ id: 1, v: "a" }, { id: 2, v: "B" }, { id: 3, v: "C" }]);
  r = await post(Q, [{ sql: "SELECT 1 AS one" }, { sql: "SELECT ? AS two", params: [2] }]);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.result.map((x) => x.results[0]), [{ one: 1 }, { two: 2 }]);
});

test("malformed bodies → 400 7400", async () => {
  assertFailure(await post(Q, { sql: "SELECT 1", params: null }), 400, 7400,
    /^Invalid property: params => Expected array, received null$/);
  assertFailure(await post(Q, "{\"sql\": \"SELECT 1\",", { raw: true, headers: { "content-type": "application/json" } }),
    400, 7400, /^The request is malformed: /);
  assertFailure(await post(Q, { sql: 5 }), 400, 7400, /^Invalid property: sql => Expected string, received number$/);
  assertFailure(await post(Q, { params: [] }), 400, 7400, /^Invalid property: sql => Required$/);
  assertFailure(await post(Q, { batch: {} }), 400, 7400, /^Invalid property: batch => Expected array, received object$/);
  assertFailure(await post(Q, { batch: [] }), 400, 7400, /^Invalid property: batch => Array must contain at least 1/);
  assertFailure(await post(Q, { batch: [{ sql: "SELECT 1" }, { sql: "SELECT ?", params: null }] }), 400, 7400,
    /^Invalid property: batch\.1\.params => Expected array, received null$/);
  assertFailure(await post(Q, { sql: "SELECT ?", params: [{ a: 1 }] }), 400, 7400, /^Invalid property: params\.0 => /);
});

test("SQL errors → 400 7500 with D1's message (no D1_ERROR prefix)", async () => {
  assertFailure(await post(Q, { sql: "SELECT * FROM nope" }), 400, 7500, /^no such table: nope: SQLITE_ERROR$/);
  assertFailure(await post(Q, { sql: "SELEC 1" }), 400, 7500, /syntax error.*SQLITE_ERROR$/);
  assertFailure(await post(RAW, { sql: "SELECT ?", params: [1, 2] }), 400, 7500, /^Wrong number of parameter bindings/);
  assertFailure(await post(Q, { sql: "CREATE TRIGGER x AFTER INSERT ON bt BEGIN SELECT 1;" }), 400, 7500, /incomplete input/);
  assertFailure(await post(Q, { sql: "PRAGMA compile_options" }), 400, 7500, /not authorized: SQLITE_AUTH/);
});

test("atomicity: a failing statement rolls back the whole request (sql, batch, bare array)", async () => {
  await d1.query("CREATE TABLE atom (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  await d1.query("INSERT INTO atom VALUES (1, 'x')");
  assertFailure(await post(Q, { sql: "INSERT INTO atom VALUES (2, 'ok'); INSERT INTO atom VALUES (1, 'dup')" }),
    400, 7500, /UNIQUE constraint failed: atom\.id: SQLITE_CONSTRAINT/);
  assertFailure(await post(Q, { batch: [{ sql: "INSERT INTO atom VALUES (3, 'ok')" }, { sql: "INSERT INTO atom VALUES (4, NULL)" }] }),
    400, 7500, /NOT NULL constraint failed/);
  assertFailure(await post(RAW, [{ sql: "DELETE FROM atom" }, { sql: "SELECT * FROM missing_table" }]), 400, 7500, /no such table/);
  assert.equal(await count("atom"), 1);
  // DDL is rolled back too
  assertFailure(await post(Q, { sql: "CREATE TABLE atom2 (x); SELECT * FROM missing_table" }), 400, 7500);
  assert.equal(await count("sqlite_master", "name = 'atom2'"), 0);
});

test("limits: 100 vs 101 params, 100,000 vs 100,001-byte statements, 2 MB values, BEGIN refused", async () => {
  const ph = (n) => Array.from({ length: n }, () => "?").join(",");
  let r = await post(Q, { sql: `SELECT ${ph(100)}`, params: Array(100).fill(1) });
  assert.equal(r.status, 200, r.text);
  assertFailure(await post(Q, { sql: `SELECT ${ph(101)}`, params: Array(101).fill(1) }), 400, 7500,
    /^too many SQL variables at offset \d+: SQLITE_ERROR$/);
  assertFailure(await post(Q, { sql: "SELECT ?101", params: Array(101).fill(1) }), 400, 7500, /variable number must be between \?1 and \?100/);

  const stmt = (bytes) => {
    const head = "SELECT '", tail = "' AS s";
    return head + "x".repeat(bytes - head.length - tail.length) + tail;
  };
  assert.equal(Buffer.byteLength(stmt(100_000)), 100_000);
  r = await post(Q, { sql: `${stmt(100_000)};` });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assertFailure(await post(Q, { sql: stmt(100_001) }), 400, 7500, /^statement too long: SQLITE_TOOBIG$/);
  // multi-byte characters count as UTF-8 bytes
  const wide = "SELECT '" + "é".repeat(49_996) + "'"; // 8 + 99,992 + 1 = 100,001 bytes
  assertFailure(await post(Q, { sql: wide }), 400, 7500, /statement too long/);
  // the limit is per statement: two 60 KB statements in one sql are fine (unlike raw Miniflare)
  r = await post(Q, { sql: `${stmt(60_000)}; ${stmt(60_000)}` });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.equal(r.body.result.length, 2);

  r = await post(Q, { sql: "SELECT length(?) AS n", params: ["y".repeat(2_000_000)] });
  assert.deepEqual(r.body.result[0].results, [{ n: 2_000_000 }]);
  assertFailure(await post(Q, { sql: "SELECT length(?) AS n", params: ["y".repeat(2_000_001)] }), 400, 7500,
    /^string or blob too big: SQLITE_TOOBIG$/);

  for (const s of ["BEGIN", "BEGIN TRANSACTION; INSERT INTO atom VALUES (9, 'z'); COMMIT", "SAVEPOINT sp", "COMMIT", "ROLLBACK"]) {
    const e = await post(Q, { sql: s });
    assertFailure(e, 400, 7500);
    assert.match(e.body.errors[0].message, /BEGIN TRANSACTION or SAVEPOINT|not authorized|no transaction is active|cannot (commit|rollback)/, s);
  }
  assert.equal(await count("atom", "id = 9"), 0);
  const e = await post(Q, { sql: "BEGIN" });
  assert.equal(e.body.errors[0].message.startsWith("To execute a transaction, please use the state.storage.transaction()"), true);
});

test("/raw: columns in order, duplicate names kept, columns for empty results, meta", async () => {
  let r = await post(RAW, { sql: "SELECT 1 AS a, 'z' AS b, 2 AS a, NULL AS c" });
  assert.equal(r.status, 200, r.text);
  const res = r.body.result[0];
  assert.deepEqual(Object.keys(res), ["results", "success", "meta"]);
  assert.deepEqual(res.results, { columns: ["a", "b", "a", "c"], rows: [[1, "z", 2, null]] });
  assertMeta(res.meta);
  r = await post(RAW, { batch: [{ sql: "INSERT INTO bt VALUES (10, 'j')" }, { sql: "SELECT v, id FROM bt WHERE id >= ? ORDER BY id", params: [10] },
    { sql: "SELECT id FROM bt WHERE 0" }] });
  assert.deepEqual(r.body.result[0].results, { columns: [], rows: [] });
  assert.equal(r.body.result[0].meta.changes, 1);
  assert.deepEqual(r.body.result[1].results, { columns: ["v", "id"], rows: [["j", 10]] });
  assert.deepEqual(r.body.result[2].results, { columns: ["id"], rows: [] });
  // /query collapses duplicate names (last wins), as D1 does
  r = await post(Q, { sql: "SELECT 1 AS a, 2 AS a" });
  assert.deepEqual(r.body.result[0].results, [{ a: 2 }]);
});

test("big integers: JSON numbers round, CAST AS TEXT is exact; string params keep int64", async () => {
  await d1.query("CREATE TABLE big (id INTEGER PRIMARY KEY, n INTEGER)");
  let r = await post(Q, { sql: "INSERT INTO big VALUES (1, ?), (2, 9223372036854775807), (3, -9223372036854775808)", params: ["9007199254740993"] });
  assert.equal(r.status, 200, r.text);
  r = await post(Q, { sql: "SELECT id, n, CAST(n AS TEXT) AS t, typeof(n) AS ty FROM big ORDER BY id" });
  const rows = r.body.result[0].results;
  assert.deepEqual(rows.map((x) => x.t), ["9007199254740993", "9223372036854775807", "-9223372036854775808"]);
  assert.deepEqual(rows.map((x) => x.ty), ["integer", "integer", "integer"]);
  assert.equal(rows[0].n, 9007199254740992); // rounded through a double, like D1
  assert.match(r.text, /"n":9223372036854776000/);
  // blobs come back as byte arrays; Infinity as null
  r = await post(RAW, { sql: "SELECT X'00ff10' AS b, 9e999 AS inf, CAST(9e999 AS TEXT) AS inf_t" });
  assert.deepEqual(r.body.result[0].results.rows, [[[0, 255, 16], null, "Inf"]]);
});

test("keep-alive connections are reused; gzip when asked", async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(`${d1.url}/accounts/${d1.accountId}/d1/database/${d1.databaseId}/query`);
  const send = (body, headers = {}) => new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: "POST", agent,
      headers: { authorization: `Bearer ${d1.token}`, "content-type": "application/json", ...headers },
    }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ reused: req.reusedSocket, res, buf: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
  const a = await send({ sql: "SELECT 1 AS x" });
  const b = await send({ sql: "SELECT 2 AS x" });
  assert.equal(a.reused, false);
  assert.equal(b.reused, true);
  assert.equal(a.res.headers["content-type"], "application/json");
  assert.match(a.res.headers["cf-ray"], /^[0-9a-f]{16}-LOCL$/);
  const big = await send({ sql: "SELECT printf('%.5000c', 'x') AS s" }, { "accept-encoding": "gzip" });
  assert.equal(big.res.headers["content-encoding"], "gzip");
  const { gunzipSync } = await import("node:zlib");
  assert.equal(JSON.parse(gunzipSync(big.buf)).result[0].results[0].s.length, 5000);
  agent.destroy();
});

test("request body over the limit → 413", async () => {
  await d1.admin("settings", { max_body_bytes: 1000 });
  try {
    const r = await post(Q, { sql: `SELECT '${"x".repeat(2000)}'` });
    assert.equal(r.status, 413);
    assert.match(r.text, /413 Request Entity Too Large/);
  } finally {
    await d1.admin("settings", { max_body_bytes: 100 * 1024 * 1024 });
  }
  assert.equal((await post(Q, { sql: "SELECT 1" })).status, 200);
});

test("stats count requests, statements, bytes, rows written", async () => {
  await d1.admin("reset-stats", {});
  await post(Q, { batch: [{ sql: "INSERT INTO bt VALUES (20, 'a'), (21, 'b')" }, { sql: "SELECT 1" }] });
  await post(RAW, { sql: "SELECT 2" });
  await d1.api("/accounts/{account}/d1/database");
  const s = await d1.admin("stats");
  assert.equal(s.requests_by_endpoint.query, 1);
  assert.equal(s.requests_by_endpoint.raw, 1);
  assert.equal(s.requests_by_endpoint.database_list, 1);
  assert.equal(s.statements_executed, 3);
  assert.equal(s.rows_written, 2);
  assert.ok(s.request_bytes > 50);
  assert.equal(s.responses_by_status["200"], 3);
  assert.equal(s.faults_total, 0);
});

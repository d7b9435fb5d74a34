// The real wrangler client (pinned in test/package.json) against the local server's import API:
// `npx wrangler d1 execute <db> --remote --file x.sql` with CLOUDFLARE_API_BASE_URL pointing here.
// A preload (lib/net-guard.cjs) refuses and records any connection that is not to loopback, in
// npx and in every wrangler process, so the test also shows that nothing reaches the internet.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startLocalD1 } from "../harness.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TEST_DIR = path.resolve(HERE, "..", "..");                 // test/ (package.json, node_modules)
const GUARD = path.resolve(HERE, "..", "lib", "net-guard.cjs");
const WRANGLER_PKG = path.join(TEST_DIR, "node_modules", "wrangler", "package.json");

let d1;
let work;
before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "pg2d1-wrangler-"));
  d1 = await startLocalD1({ args: ["--database-name", "main-db"] });
  fs.writeFileSync(path.join(work, "wrangler.toml"), [
    'name = "pg2d1-import-check"',
    'compatibility_date = "2025-01-01"',
    "",
    "[[d1_databases]]",
    'binding = "DB"',
    'database_name = "main-db"',
    `database_id = "${d1.databaseId}"`,
    "",
  ].join("\n"));
});
after(async () => {
  await d1?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** Runs `npx wrangler d1 execute main-db --remote --file <file>`; resolves {code, out}. */
function wrangler(file) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(CLOUDFLARE_|CF_|WRANGLER_|NODE_OPTIONS$|npm_)/.test(k)) env[k] = v;
  }
  Object.assign(env, {
    CLOUDFLARE_API_TOKEN: d1.token,
    CLOUDFLARE_ACCOUNT_ID: d1.accountId,
    CLOUDFLARE_API_BASE_URL: d1.url,       // wrangler's base-URL override (CF_API_BASE_URL is its old name)
    WRANGLER_SEND_METRICS: "false",        // no telemetry to sparrow.cloudflare.com
    WRANGLER_SEND_ERROR_REPORTS: "false",  // no Sentry reports
    WRANGLER_HIDE_BANNER: "true",          // the banner runs an update check against the npm registry
    WRANGLER_LOG_PATH: path.join(work, "logs"),
    XDG_CONFIG_HOME: path.join(work, "xdg"), // wrangler's global config (metrics consent, logs)
    npm_config_update_notifier: "false",   // npx: no "new npm version" check
    npm_config_offline: "true",            // npx: never download; wrangler must be installed
    NO_COLOR: "1",
    NODE_OPTIONS: `--require ${GUARD}`,
    PG2D1_NET_GUARD_LOG: path.join(work, "net.log"),
  });
  const args = ["--no", "--", "wrangler", "d1", "execute", "main-db", "--remote", "--file", file,
    "--config", path.join(work, "wrangler.toml")];
  return new Promise((resolve, reject) => {
    const child = spawn("npx", args, { cwd: TEST_DIR, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { out += d; });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`wrangler did not finish in 90 s:\n${out}`));
    }, 90_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

function netLog() {
  const f = path.join(work, "net.log");
  const lines = fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim().split("\n").filter(Boolean) : [];
  return {
    loaded: lines.filter((l) => / loaded$/.test(l)).length,
    refused: lines.filter((l) => !/ loaded$/.test(l)),
  };
}

async function rows(sql) {
  const r = await d1.query(sql);
  assert.equal(r.success, true, JSON.stringify(r));
  return r.result[0].results;
}

async function stats() {
  return (await d1.admin("stats")).requests_by_endpoint;
}

const write = (name, text) => {
  const f = path.join(work, name);
  fs.writeFileSync(f, text);
  return f;
};

test("the real wrangler (pinned version) imports a file through init → PUT → ingest → poll", async () => {
  assert.ok(fs.existsSync(WRANGLER_PKG), "wrangler is not installed: run `npm ci` in test/");
  const version = JSON.parse(fs.readFileSync(WRANGLER_PKG, "utf8")).version;
  const pinned = JSON.parse(fs.readFileSync(path.join(TEST_DIR, "package.json"), "utf8")).devDependencies.wrangler;
  assert.equal(version, pinned);

  const lines = [
    "-- generated for the wrangler check; semicolons; inside; comments",
    "CREATE TABLE wr (id INTEGER PRIMARY KEY, v TEXT, f REAL);",
    "CREATE TABLE wr_count (n INTEGER);",
    "INSERT INTO wr_count VALUES (0);",
    "CREATE TRIGGER wr_ai AFTER INSERT ON wr BEGIN",
    "  UPDATE wr_count SET n = n + 1;",
    "END;",
  ];
  for (let i = 1; i <= 600; i++) lines.push(`INSERT INTO wr VALUES (${i}, 'row ${i}; it''s "ok" ä😀', ${i / 4});`);
  const file = write("one.sql", lines.join("\r\n") + "\r\n");
  const before = await stats();

  const r = await wrangler(file);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Uploading .*\.sql/);
  assert.match(r.out, /Processed 604 queries\./);
  assert.match(r.out, /Executed 604 queries in [\d.]+ms/);
  assert.doesNotMatch(r.out, /File already uploaded/);

  assert.deepEqual(await rows("SELECT count(*) AS n, sum(f) AS s FROM wr"), [{ n: 600, s: 45075 }]);
  assert.deepEqual(await rows("SELECT v FROM wr WHERE id = 7"), [{ v: "row 7; it's \"ok\" ä😀" }]);
  assert.deepEqual(await rows("SELECT n FROM wr_count"), [{ n: 600 }]);
  const after = await stats();
  for (const k of ["import_init", "import_upload", "import_ingest"]) {
    assert.equal((after[k] ?? 0) - (before[k] ?? 0), 1, k);
  }

  const net = netLog();
  assert.deepEqual(net.refused, [], "no connection other than to loopback");
  assert.ok(net.loaded >= 2, "the guard ran in npx and wrangler");
});

test("the same file again: wrangler takes the 'already uploaded' path (Response B) and reports the SQL error; nothing changes", async () => {
  const file = path.join(work, "one.sql");
  const before = await rows("SELECT count(*) AS n FROM wr");
  const uploads = (await stats()).import_upload;
  const r = await wrangler(file);
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /File already uploaded\. Processing\./);
  assert.match(r.out, /table wr already exists/);
  assert.deepEqual(await rows("SELECT count(*) AS n FROM wr"), before);
  assert.deepEqual(await rows("SELECT n FROM wr_count"), [{ n: 600 }]);
  assert.equal((await stats()).import_upload, uploads);
  assert.deepEqual(netLog().refused, []);
});

test("wrangler's poll loop: 3 forced 'active' polls, then complete", async () => {
  await d1.admin("settings", { import_active_polls: 3 });
  try {
    const before = (await stats()).import_poll ?? 0;
    const file = write("two.sql", "INSERT INTO wr VALUES (1001, 'polled', 0);\nINSERT INTO wr VALUES (1002, 'polled', 0);\n");
    const r = await wrangler(file);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Executed 2 queries/);
    assert.equal((await stats()).import_poll - before, 4);
    assert.deepEqual(await rows("SELECT count(*) AS n FROM wr WHERE v = 'polled'"), [{ n: 2 }]);
  } finally {
    await d1.admin("settings", { import_active_polls: 0 });
  }
});

test("wrangler's upload check: a wrong ETag from the upload fails with its 'Please retry' message", async () => {
  await d1.admin("settings", { import_upload_faults: ["bad_etag"] });
  const file = write("three.sql", "INSERT INTO wr VALUES (2001, 'three', 0);\n");
  const r = await wrangler(file);
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /File contents did not upload successfully\. Please retry\./);
  assert.deepEqual(await rows("SELECT count(*) AS n FROM wr WHERE id = 2001"), [{ n: 0 }]);
  assert.deepEqual(netLog().refused, []);
});

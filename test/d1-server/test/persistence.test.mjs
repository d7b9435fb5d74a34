// Persistence: rows land in the SQLite file named in READY, survive a restart, and SIGTERM
// shuts the server (and workerd) down cleanly with exit code 0.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startLocalD1 } from "../harness.mjs";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg2d1-d1-persist-"));
const servers = [];
after(async () => {
  for (const s of servers) await s.stop({ keepPersist: true });
  fs.rmSync(dir, { recursive: true, force: true });
});

const sqlite = (file, sql) => execFileSync("sqlite3", ["-readonly", file, sql], { encoding: "utf8" }).trim();

test("rows are in the SQLite file (sqlite3 CLI) and survive a restart", async () => {
  const a = await startLocalD1({ persist: dir, args: ["--ready-file", path.join(dir, "ready.json")] });
  servers.push(a);
  const ready = JSON.parse(fs.readFileSync(path.join(dir, "ready.json"), "utf8"));
  assert.deepEqual(ready, a.info);
  let r = await a.query("CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT, big INTEGER)");
  assert.equal(r.success, true);
  r = await a.query([
    { sql: "INSERT INTO p VALUES (?, ?, ?)", params: ["1", "one", "9223372036854775807"] },
    { sql: "INSERT INTO p VALUES (2, 'two; with semicolon', -1)" },
  ]);
  assert.equal(r.success, true, JSON.stringify(r));
  const file = a.info.databases[0].sqlite_path;
  assert.ok(fs.existsSync(file), file);
  assert.equal(sqlite(file, "SELECT id || '|' || v || '|' || big FROM p ORDER BY id"),
    "1|one|9223372036854775807\n2|two; with semicolon|-1");
  const createdAt = (await a.api("/accounts/{account}/d1/database/{db}")).body.result.created_at;

  const exit = await a.stop({ keepPersist: true });
  assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}`);
  assert.equal(fs.existsSync(`/proc/${a.info.workerd_pid}/comm`) &&
    fs.readFileSync(`/proc/${a.info.workerd_pid}/stat`, "utf8").split(") ")[1][0] !== "Z", false, "workerd gone");

  const b = await startLocalD1({ persist: dir });
  servers.push(b);
  assert.equal(b.info.databases[0].sqlite_path, file);
  r = await b.query("SELECT id, v, CAST(big AS TEXT) AS big FROM p ORDER BY id");
  assert.deepEqual(r.result[0].results, [
    { id: 1, v: "one", big: "9223372036854775807" },
    { id: 2, v: "two; with semicolon", big: "-1" },
  ]);
  const info = (await b.api("/accounts/{account}/d1/database/{db}")).body.result;
  assert.equal(info.created_at, createdAt, "created_at is stable across restarts");
  assert.equal(info.num_tables, 1);
});

// engine.mjs — runs SQL on Miniflare's D1 (workerd + SQLite), one Durable Object per database.
// Must never run the statements of one request in more than one transaction, and never run a
// statement twice. Called by server.mjs and lib/imports.mjs.
//
// How statements run: Miniflare's D1 Durable Object (miniflare/dist/src/workers/d1/
// database.worker.js) answers POST /query with a JSON array of {sql, params} and executes the
// whole array inside state.storage.transactionSync() — the same path db.batch() uses. We call
// that endpoint directly through the binding's `fetcher` from a tiny worker, with
// ?resultsFormat=ROWS_AND_COLUMNS. That gives, per statement and in ONE atomic call:
// the column names in order (duplicates kept, present even for empty results), the rows as
// arrays, and D1's meta (duration, changes, last_row_id, changed_db, size_after, rows_read,
// rows_written). /raw uses that directly; /query turns rows into objects exactly as D1 does
// (later duplicate column names win). So no statement is ever re-run to get column order.
//
// restart() stops workerd (after the calls in flight), runs a callback while no SQLite file is
// open, and starts it again; imports use it to put back a snapshot of a database file.

import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Miniflare } from "miniflare";

const WORKER = `
export default {
  async fetch(req, env) {
    const m = new URL(req.url).pathname.match(/^\\/exec\\/([A-Za-z0-9_]+)$/);
    const db = m && env[m[1]];
    if (!db || !db.fetcher) return new Response("unknown binding", { status: 404 });
    return db.fetcher.fetch("http://d1/query?resultsFormat=ROWS_AND_COLUMNS", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: req.body,
    });
  },
};
`;

const DO_UNIQUE_KEY = "miniflare-D1DatabaseObject";

/** Pid of this process's newest workerd child (Miniflare's runtime), or null. */
export function findChildWorkerd() {
  let best = null;
  let bestStart = -1;
  try {
    for (const ent of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(ent)) continue;
      let stat;
      try {
        stat = fs.readFileSync(`/proc/${ent}/stat`, "utf8");
      } catch {
        continue;
      }
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      const ppid = Number(fields[1]);
      const startTime = Number(fields[19]);
      if (ppid === process.pid && comm.startsWith("workerd") && startTime > bestStart) {
        best = Number(ent);
        bestStart = startTime;
      }
    }
  } catch { /* no /proc */ }
  return best;
}

/** File name Miniflare gives a D1 database (durableObjectNamespaceIdFromName in Miniflare). */
export function sqliteFileName(databaseId) {
  const key = crypto.createHash("sha256").update(DO_UNIQUE_KEY).digest();
  const nameHmac = crypto.createHmac("sha256", key).update(databaseId).digest().subarray(0, 16);
  const hmac = crypto.createHmac("sha256", key).update(nameHmac).digest().subarray(0, 16);
  return `${Buffer.concat([nameHmac, hmac]).toString("hex")}.sqlite`;
}

/** Strip the binding's "D1_ERROR: " prefix and collapse "X X" / "X: X" duplications. */
export function cleanD1Message(msg) {
  let m = String(msg ?? "").trim();
  while (m.startsWith("D1_ERROR: ")) m = m.slice("D1_ERROR: ".length);
  for (const sep of [" ", ": "]) {
    const half = (m.length - sep.length) / 2;
    if (Number.isInteger(half) && half > 0 && m.slice(0, half) === m.slice(half + sep.length) &&
        m.slice(half, half + sep.length) === sep) {
      m = m.slice(0, half);
      break;
    }
  }
  return m;
}

export class D1Engine {
  /**
   * @param {{persist: string, databases: {id: string, name: string}[]}} opts
   */
  constructor({ persist, databases }) {
    this.persist = path.resolve(persist);
    this.databases = databases.map((d, i) => ({
      ...d,
      binding: `DB${i}`,
      sqlite_path: path.join(this.persist, DO_UNIQUE_KEY, sqliteFileName(d.id)),
      inflight: 0,
    }));
    this.mf = null;
    this.gate = null;       // a promise while restart() has the engine stopped
    this.idleWaiters = [];  // [{db|null, resolve}] woken when in-flight calls finish
    this.workerdPid = null;
  }

  async start() {
    fs.mkdirSync(this.persist, { recursive: true });
    // Miniflare makes a scratch dir under os.tmpdir() in its constructor and deletes it
    // fire-and-forget in dispose(); give it a private parent that we remove synchronously.
    this.tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "pg2d1-d1-mf-"));
    process.on("exit", () => this.#removeTmp());
    await this.#launch();
  }

  async #launch() {
    const d1Databases = {};
    for (const d of this.databases) d1Databases[d.binding] = d.id;
    const before = new Map(["SIGTERM", "SIGINT"].map((sig) => [sig, new Set(process.listeners(sig))]));
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = this.tmpRoot;
    try {
      this.mf = new Miniflare({
        modules: true,
        script: WORKER,
        compatibilityDate: "2025-01-01",
        d1Databases,
        d1Persist: this.persist,
      });
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
    // Miniflare's exit hook answers SIGTERM/SIGINT with process.exit(143/130) before our
    // server can close; drop its signal listeners (server.mjs installs its own, which dispose
    // Miniflare and exit 0). Its "exit" listener stays: it kills workerd on any process exit.
    for (const [sig, had] of before) {
      for (const l of process.listeners(sig)) if (!had.has(l)) process.removeListener(sig, l);
    }
    await this.mf.ready;
    this.workerdPid = findChildWorkerd();
    // Touch every database once so its SQLite file exists and the first request is fast.
    for (const d of this.databases) {
      const r = await this.#dispatch(d, [{ sql: "SELECT 1" }]);
      if (!r.ok) throw new Error(`warm-up of database ${d.id} failed: ${r.message}`);
    }
  }

  /**
   * Stop workerd once every call in flight (on any database) has finished, run `fn` while
   * nothing has a SQLite file open, then start workerd again. Calls made meanwhile wait.
   * Used to put back a snapshot of a database file (lib/imports.mjs); takes about 1.5 s.
   */
  async restart(fn) {
    while (this.gate) await this.gate;
    if (!this.mf) throw new Error("engine is not running");
    let open;
    this.gate = new Promise((resolve) => { open = resolve; });
    try {
      await this.waitIdle(null);
      const mf = this.mf;
      this.mf = null;
      await mf.dispose();
      await fn();
      await this.#launch();
    } finally {
      const g = open;
      this.gate = null;
      g();
    }
  }

  /** Resolves when no call is in flight on `db` (on any database when db is null). */
  waitIdle(db) {
    const busy = db ? db.inflight > 0 : this.databases.some((d) => d.inflight > 0);
    if (!busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push({ db, resolve }));
  }

  #wakeIdle() {
    const still = [];
    for (const w of this.idleWaiters) {
      const busy = w.db ? w.db.inflight > 0 : this.databases.some((d) => d.inflight > 0);
      if (busy) still.push(w);
      else w.resolve();
    }
    this.idleWaiters = still;
  }

  /**
   * Execute statements atomically. `queries` is [{sql, params?}], each sql ONE statement.
   * Returns {ok:true, results:[{columns, rows, meta}]} or
   * {ok:false, internal:boolean, message}.
   */
  async exec(db, queries) {
    while (this.gate) await this.gate;
    db.inflight += 1;
    try {
      return await this.#dispatch(db, queries);
    } finally {
      db.inflight -= 1;
      if (this.idleWaiters.length > 0) this.#wakeIdle();
    }
  }

  async #dispatch(db, queries) {
    let resp;
    try {
      resp = await this.mf.dispatchFetch(`http://d1.local/exec/${db.binding}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(queries),
      });
    } catch (e) {
      return { ok: false, internal: true, message: `engine unreachable: ${e.message}` };
    }
    const text = await resp.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      return { ok: false, internal: true, message: `engine answered HTTP ${resp.status}: ${text.slice(0, 200)}` };
    }
    if (Array.isArray(body)) {
      return {
        ok: true,
        results: body.map((r) => ({ columns: r.results.columns, rows: r.results.rows, meta: r.meta })),
      };
    }
    if (body && body.success === false) {
      return { ok: false, internal: false, message: cleanD1Message(body.error) };
    }
    return { ok: false, internal: true, message: `unexpected engine answer: ${text.slice(0, 200)}` };
  }

  /** Number of user tables (no sqlite_ / _cf_ tables) and the database size in bytes. */
  async describe(db) {
    const r = await this.exec(db, [{
      sql: "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'" +
        " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'",
    }]);
    if (!r.ok) throw new Error(r.message);
    let fileBytes = 0;
    try {
      fileBytes = fs.statSync(db.sqlite_path).size;
    } catch { /* not created yet */ }
    return {
      num_tables: r.results[0].rows[0][0],
      // The logical size (page_count * page_size, what meta.size_after reports). In WAL mode
      // the .sqlite file itself lags behind until a checkpoint, so take the larger of the two.
      file_size: Math.max(r.results[0].meta.size_after, fileBytes),
    };
  }

  async dispose() {
    while (this.gate) await this.gate;
    if (this.mf) {
      const mf = this.mf;
      this.mf = null;
      await mf.dispose();
    }
    this.#removeTmp();
  }

  #removeTmp() {
    if (this.tmpRoot) {
      try {
        fs.rmSync(this.tmpRoot, { recursive: true, force: true });
      } catch { /* best effort */ }
    }
  }
}

// imports.mjs — D1's import API for the local server: POST …/import with action init / ingest /
// poll, and the presigned-upload stand-in (PUT /__upload/<filename>) that `init` points to.
// Must never leave a database half-imported: an import applies every statement of its file or
// none, and while it runs the database answers no /query or /raw (server.mjs asks isBusy()).
// Called by server.mjs; tested in test/imports.test.mjs and, with the real wrangler client,
// test/wrangler.test.mjs.
//
// How an import runs (see README.md "Import"):
// * init {etag} → {filename, upload_url}; when a file with that MD5 was uploaded before, the
//   import starts at once and the answer is a polling response ("Response B").
// * PUT upload_url → the bytes go to <persist>/pg2d1-imports/uploads/<filename>, kept only when
//   their MD5 is the etag; 200 with ETag "<md5 of the bytes received>".
// * ingest {etag, filename} → starts the import; poll {current_bookmark} → 202 "active" while it
//   runs, then once 200 "complete" or "error"; after that (or for a foreign bookmark)
//   {success:false, error:"Not currently importing anything."}.
// * The file is read in blocks and split with SQLite's rules (lib/split.mjs). A first pass checks
//   every statement (100,000-byte limit, no BEGIN/COMMIT/SAVEPOINT…, fail_sql_regex) before
//   anything runs. Files up to import_batch_bytes then run as ONE engine call, i.e. inside one
//   transactionSync() of Miniflare's D1 object: atomic by construction. Larger files run in
//   chunks of import_chunk_bytes, each its own transaction, after a copy of the database's
//   SQLite files was taken with workerd stopped (engine.restart); if a chunk fails, workerd is
//   stopped again and the copy put back. A copy left behind by a crash is put back at the next
//   start (recoverSnapshots), so a half-applied chunked import never survives a restart.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import { splitPrefix, splitStatements } from "./split.mjs";

const MiB = 1024 * 1024;
const MAX_STATEMENT_BYTES = 100_000;

export const MSG_NOT_IMPORTING = "Not currently importing anything.";
export const MSG_BUSY = "D1 DB is unavailable: an import is in progress.";
const MSG_ALREADY = "An import is already in progress for this database.";
const MSG_BEGIN = "cannot start a transaction within a transaction: SQLITE_ERROR";
const MSG_TXN = "To execute a transaction, please use the state.storage.transaction() or " +
  "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements. " +
  "The JavaScript API is safer because it will automatically roll back on exceptions, and because it " +
  "interacts correctly with Durable Objects' automatic atomic write coalescing.";
const MSG_TOO_LONG = "statement too long: SQLITE_TOOBIG";
const TXN_KEYWORDS = new Set(["begin", "commit", "end", "rollback", "savepoint", "release"]);

export const UPLOAD_FAULTS = ["reset", "http500", "bad_etag"];

export const IMPORT_DEFAULTS = Object.freeze({
  import_batch_bytes: 128 * MiB,   // files up to this size run as one transaction
  import_chunk_bytes: 8 * MiB,     // chunk size of larger files
  import_async_bytes: 1 * MiB,     // larger files: ingest answers "active" at once
  import_ingest_wait_ms: 1000,     // how long ingest waits for a small import to finish
  import_poll_wait_ms: 1000,       // how long a poll waits for the import to finish
  import_bytes_per_s: 0,           // 0 = engine speed; else the import lasts at least size/rate
  import_active_polls: 0,          // the first N polls of every import answer "active"
  import_upload_faults: [],        // queue: the next uploads get these faults, one each
  import_fail_ingests: 0,          // the next N imports fail halfway and roll back
  import_fail_message: "Network connection lost.",
  import_max_bytes: 5 * 1024 * MiB, // R2's single-upload limit
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hex8 = (n) => (n >>> 0).toString(16).padStart(8, "0");

function typeName(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

/** An error for the Cloudflare envelope (server.mjs turns it into {success:false, errors}). */
export class ImportApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** First keyword of a statement, after leading whitespace and comments, lower-cased. */
export function firstKeyword(sql) {
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) {
      i += 1;
    } else if (c === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      const close = sql.indexOf("*/", i + 2);
      i = close < 0 ? n : close + 2;
    } else if (c === 0x2d && sql.charCodeAt(i + 1) === 0x2d) {
      const nl = sql.indexOf("\n", i + 2);
      i = nl < 0 ? n : nl + 1;
    } else {
      break;
    }
  }
  const m = /^[A-Za-z_]+/.exec(sql.slice(i, i + 20));
  return m ? m[0].toLowerCase() : "";
}

/**
 * Reads an SQL file in blocks and yields arrays of statements (SQLite's splitting rules), so a
 * file of any size is split with bounded memory. Throws the "statement too long" error when a
 * statement grows past 16 MiB without ending (it would be refused anyway).
 */
export async function* readStatements(file, blockBytes = 4 * MiB) {
  const fh = await fs.promises.open(file, "r");
  try {
    const decoder = new StringDecoder("utf8");
    const buf = Buffer.allocUnsafe(blockBytes);
    let carry = "";
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, blockBytes, null);
      if (bytesRead === 0) break;
      carry += decoder.write(buf.subarray(0, bytesRead));
      const { statements, rest } = splitPrefix(carry);
      carry = rest;
      if (statements.length > 0) yield statements;
      if (carry.length > 16 * MiB && carry.trim().length > 16 * MiB) throw new Error(MSG_TOO_LONG);
    }
    carry += decoder.end();
    const tail = splitStatements(carry);
    if (tail.length > 0) yield tail;
  } finally {
    await fh.close();
  }
}

function emptyMeta() {
  return {
    served_by: "miniflare.db", duration: 0, changes: 0, last_row_id: 0, changed_db: false,
    size_after: 0, rows_read: 0, rows_written: 0,
  };
}

function addMeta(total, results) {
  for (const r of results) {
    const m = r.meta;
    total.changes += m.changes ?? 0;
    total.last_row_id = m.last_row_id ?? total.last_row_id;
    total.changed_db = total.changed_db || !!m.changed_db;
    total.size_after = m.size_after ?? total.size_after;
    total.rows_read += m.rows_read ?? 0;
    total.rows_written += m.rows_written ?? 0;
  }
}

/** Where a chunked import keeps the copy of a database's SQLite files. */
function snapshotDir(persist, db) {
  return path.join(persist, "pg2d1-imports", "snapshots", db.id);
}

const SQLITE_SUFFIXES = ["", "-wal"];

function copySnapshotBack(dir, db) {
  for (const suf of SQLITE_SUFFIXES) {
    const saved = path.join(dir, `db.sqlite${suf}`);
    const live = `${db.sqlite_path}${suf}`;
    if (fs.existsSync(saved)) fs.copyFileSync(saved, live);
    else fs.rmSync(live, { force: true });
  }
  // The WAL index is rebuilt from the WAL when the file is opened again.
  fs.rmSync(`${db.sqlite_path}-shm`, { force: true });
}

/**
 * Puts back the copy of every database whose chunked import did not finish (the server was
 * killed while it ran). Call before the engine starts. Returns the ids restored.
 */
export function recoverSnapshots(persist, databases) {
  const restored = [];
  for (const db of databases) {
    const dir = snapshotDir(persist, db);
    if (fs.existsSync(path.join(dir, "ACTIVE"))) {
      copySnapshotBack(dir, db);
      restored.push(db.id);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return restored;
}

const R2_ERRORS = {
  SignatureDoesNotMatch: "The request signature we calculated does not match the signature you provided. Check your secret access key and signing method.",
  InternalError: "We encountered an internal error. Please try again.",
  EntityTooLarge: "Your proposed upload exceeds the maximum allowed object size.",
  MethodNotAllowed: "The specified method is not allowed against this resource.",
};

function r2Error(code) {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${R2_ERRORS[code]}</Message></Error>`;
}

export class ImportManager {
  /**
   * @param {{engine, persist: string, databases: object[], stats: () => object,
   *          plan: {failingStatement(s: string[]): string|null, failSqlMessage: string}}} o
   */
  constructor({ engine, persist, databases, stats, plan }) {
    this.engine = engine;
    this.persist = persist;
    this.databases = databases;
    this.stats = stats;
    this.plan = plan;
    this.uploadDir = path.join(persist, "pg2d1-imports", "uploads");
    fs.mkdirSync(this.uploadDir, { recursive: true });
    for (const f of fs.readdirSync(this.uploadDir)) {
      if (f.includes(".part-")) fs.rmSync(path.join(this.uploadDir, f), { force: true });
    }
    this.secret = crypto.randomBytes(32);
    this.origin = "http://127.0.0.1";
    this.settings = { ...IMPORT_DEFAULTS, import_upload_faults: [] };
    this.imports = new Map(); // database id → import state (running, or finished and not yet reported)
    this.seq = 0;
  }

  setOrigin(origin) {
    this.origin = origin;
  }

  // ---- settings --------------------------------------------------------------------------------
  describeSettings() {
    return { ...this.settings, import_upload_faults: [...this.settings.import_upload_faults] };
  }

  /** Applies the import_* keys of a /__local/settings body; throws Error on a bad value. */
  updateSettings(body) {
    const next = { ...this.settings };
    for (const [k, def] of Object.entries(IMPORT_DEFAULTS)) {
      if (body[k] === undefined) continue;
      const v = body[k];
      if (k === "import_upload_faults") {
        const list = v === null ? [] : v;
        if (!Array.isArray(list) || !list.every((x) => UPLOAD_FAULTS.includes(x))) {
          throw new Error(`import_upload_faults must be an array of ${UPLOAD_FAULTS.join(", ")}`);
        }
        next[k] = [...list];
      } else if (k === "import_fail_message") {
        next[k] = v === null ? def : String(v);
      } else {
        const n = v === null ? def : Number(v);
        if (!Number.isFinite(n) || n < 0) throw new Error(`${k} must be a non-negative number`);
        next[k] = k.endsWith("_bytes") || k === "import_active_polls" || k === "import_fail_ingests"
          ? Math.floor(n) : n;
      }
    }
    if (next.import_chunk_bytes < 1) throw new Error("import_chunk_bytes must be at least 1");
    this.settings = next;
  }

  // ---- state seen by the rest of the server ------------------------------------------------------
  /** True while an import runs on `db`: /query and /raw are refused. */
  isBusy(db) {
    const st = this.imports.get(db.id);
    return !!st && st.running;
  }

  /** {num_tables, file_size} from before the running import, or null. */
  busyDescribe(db) {
    const st = this.imports.get(db.id);
    return st && st.running ? st.describeBefore : null;
  }

  // ---- POST …/import -----------------------------------------------------------------------------
  /**
   * Handles one import request body (raw text). Returns {status, result} for the success
   * envelope; throws ImportApiError for a failure envelope. Counts the request in the stats
   * under import_<action> (import_invalid when the body is not understood).
   */
  async handle(db, text) {
    const stats = this.stats();
    let body;
    try {
      body = JSON.parse(text);
    } catch (e) {
      this.#count(stats, "import_invalid");
      throw new ImportApiError(400, 7400, `The request is malformed: ${e.message}`);
    }
    const action = body !== null && typeof body === "object" && !Array.isArray(body) ? body.action : undefined;
    if (action !== "init" && action !== "ingest" && action !== "poll") {
      this.#count(stats, "import_invalid");
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        throw new ImportApiError(400, 7400, `The request is malformed: expected a JSON object, received ${typeName(body)}`);
      }
      throw new ImportApiError(400, 7400,
        "Invalid property: action => Invalid discriminator value. Expected 'init' | 'ingest' | 'poll'");
    }
    this.#count(stats, `import_${action}`);
    const str = (name) => {
      const v = body[name];
      if (v === undefined) throw new ImportApiError(400, 7400, `Invalid property: ${name} => Required`);
      if (typeof v !== "string") {
        throw new ImportApiError(400, 7400, `Invalid property: ${name} => Expected string, received ${typeName(v)}`);
      }
      return v;
    };
    if (action === "poll") return this.#poll(db, str("current_bookmark"));
    const etag = str("etag").toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(etag)) {
      throw new ImportApiError(400, 7400, "Invalid property: etag => Expected the MD5 of the file as 32 hex digits");
    }
    const filename = this.#filename(db, etag);
    if (action === "init") {
      if (fs.existsSync(path.join(this.uploadDir, filename))) {
        // Response B: this file was uploaded before; the import starts right away.
        return this.#begin(db, etag, filename);
      }
      return { status: 200, result: { filename, upload_url: this.#uploadUrl(filename) } };
    }
    const given = str("filename");
    if (given !== filename || !fs.existsSync(path.join(this.uploadDir, filename))) {
      return { status: 200, result: { success: false, error: `Input file ${given} missing or invalid` } };
    }
    return this.#begin(db, etag, filename);
  }

  #count(stats, endpoint) {
    stats.requests_by_endpoint[endpoint] = (stats.requests_by_endpoint[endpoint] ?? 0) + 1;
  }

  #filename(db, etag) {
    return `${db.id}-${etag}.sql`;
  }

  #sign(filename) {
    return crypto.createHmac("sha256", this.secret).update(filename).digest("hex");
  }

  #uploadUrl(filename) {
    return `${this.origin}/__upload/${filename}?X-Amz-Expires=3600&X-Amz-Signature=${this.#sign(filename)}`;
  }

  #bookmark(db) {
    this.seq += 1;
    const idx = this.databases.indexOf(db);
    const h = crypto.createHash("md5").update(`${db.id}:${this.seq}:${process.hrtime.bigint()}`).digest("hex");
    return `${hex8(this.seq)}-${hex8(idx + 1)}-${hex8(Date.now() / 1000)}-${h}`;
  }

  /** Starts the import of an uploaded file (ingest, or init Response B) and answers for it. */
  async #begin(db, etag, filename) {
    const cur = this.imports.get(db.id);
    if (cur && cur.running) {
      // A repeated ingest of the file being imported (its answer was lost): report progress.
      if (cur.etag === etag) return this.#answer(cur, this.settings.import_ingest_wait_ms, true);
      return { status: 200, result: { success: false, error: MSG_ALREADY } };
    }
    const file = path.join(this.uploadDir, filename);
    let size;
    try {
      size = fs.statSync(file).size;
    } catch {
      return { status: 200, result: { success: false, error: `Input file ${filename} missing or invalid` } };
    }
    const st = {
      db, etag, filename, file, size,
      atBookmark: this.#bookmark(db),
      running: true,
      status: "active",
      messages: ["Starting import..."],
      forcedActive: this.settings.import_active_polls,
      reported: false,
      describeBefore: null,
      result: null,
      error: null,
    };
    st.done = new Promise((resolve) => { st.finish = resolve; });
    this.imports.set(db.id, st);
    const s = this.stats();
    s.imports.started += 1;
    this.#run(st).catch((e) => {
      console.error(`pg2d1-local-d1: import on ${db.id} failed unexpectedly:`, e);
      this.#finishError(st, `internal error; reference = e_local_${crypto.randomBytes(6).toString("hex")}`);
    });
    const wait = size > this.settings.import_async_bytes ? 0 : this.settings.import_ingest_wait_ms;
    return this.#answer(st, wait, true);
  }

  async #poll(db, bookmark) {
    const st = this.imports.get(db.id);
    if (!st || st.reported || st.atBookmark !== bookmark) {
      return { status: 200, result: { success: false, error: MSG_NOT_IMPORTING } };
    }
    return this.#answer(st, this.settings.import_poll_wait_ms, false);
  }

  /**
   * The polling response for `st`: waits up to `waitMs` for the import to finish. "active"
   * (HTTP 202) while it runs or while forced; the final state is reported once, then forgotten.
   */
  async #answer(st, waitMs, first) {
    if (st.forcedActive > 0) {
      if (!first) st.forcedActive -= 1;
      return this.#activeResponse(st);
    }
    if (st.running && waitMs > 0) {
      let timer;
      await Promise.race([st.done, new Promise((r) => { timer = setTimeout(r, waitMs); })]);
      clearTimeout(timer);
    }
    if (st.reported) return { status: 200, result: { success: false, error: MSG_NOT_IMPORTING } };
    if (st.running) return this.#activeResponse(st);
    st.reported = true;
    if (this.imports.get(st.db.id) === st) this.imports.delete(st.db.id);
    const base = {
      success: true, type: "import", status: st.status, at_bookmark: st.atBookmark,
      messages: st.messages.splice(0),
    };
    if (st.status === "complete") return { status: 200, result: { ...base, errors: [], result: st.result } };
    return { status: 200, result: { ...base, errors: [st.error], error: st.error } };
  }

  #activeResponse(st) {
    return {
      status: 202,
      result: {
        success: true, type: "import", status: "active", at_bookmark: st.atBookmark,
        messages: st.messages.splice(0), errors: [],
      },
    };
  }

  #finishError(st, message) {
    if (!st.running) return;
    st.running = false;
    st.status = "error";
    st.error = message;
    this.stats().imports.failed += 1;
    st.finish();
  }

  // ---- running an import ---------------------------------------------------------------------------
  async #run(st) {
    const { db } = st;
    const s = this.settings;
    const t0 = performance.now();
    await this.engine.waitIdle(db);
    try {
      st.describeBefore = await this.engine.describe(db);
    } catch { /* GET info then asks the engine */ }

    // Pass 1: check every statement before anything runs.
    const batch = st.size <= s.import_batch_bytes;
    const all = batch ? [] : null;
    let total = 0;
    try {
      for await (const stmts of readStatements(st.file)) {
        for (const sql of stmts) {
          const problem = this.#check(sql);
          if (problem) return this.#finishError(st, problem);
          if (all) all.push({ sql });
        }
        total += stmts.length;
      }
    } catch (e) {
      return this.#finishError(st, e.message === MSG_TOO_LONG ? MSG_TOO_LONG : `Input file ${st.filename} missing or invalid`);
    }
    if (total === 0) return this.#finishError(st, "No SQL statements detected.");
    const failAt = this.settings.import_fail_ingests > 0 ? Math.floor(total / 2) : -1;
    if (failAt >= 0) {
      this.settings.import_fail_ingests -= 1;
      this.stats().imports.injected_failures += 1;
    }
    const meta = emptyMeta();
    let paceFrom = t0;
    const pace = async (bytesDone) => {
      if (s.import_bytes_per_s > 0) {
        const due = (bytesDone / s.import_bytes_per_s) * 1000 - (performance.now() - paceFrom);
        if (due > 0) await sleep(due);
      }
    };

    if (batch) {
      // One engine call = one transactionSync(): all statements or none.
      const queries = failAt >= 0
        ? [...all.slice(0, failAt), { sql: "SELECT 1 FROM pg2d1_injected_import_failure_7f3a" }]
        : all;
      const r = await this.engine.exec(db, queries);
      await pace(st.size);
      if (!r.ok || failAt >= 0) {
        if (r.ok) console.error("pg2d1-local-d1: injected import failure did not fail");
        return this.#finishError(st, failAt >= 0 ? this.settings.import_fail_message : r.message);
      }
      addMeta(meta, r.results);
      meta.duration = performance.now() - t0;
      return this.#finishOk(st, r.results.length, meta);
    }

    // Chunked: copy the database files (workerd stopped), run chunk by chunk, put the copy
    // back if anything fails.
    const dir = snapshotDir(this.persist, db);
    await this.engine.restart(() => {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      for (const suf of SQLITE_SUFFIXES) {
        const live = `${db.sqlite_path}${suf}`;
        if (fs.existsSync(live)) fs.copyFileSync(live, path.join(dir, `db.sqlite${suf}`));
      }
      fs.writeFileSync(path.join(dir, "ACTIVE"), JSON.stringify({ file: st.filename, started: new Date().toISOString() }) + "\n");
    });
    paceFrom = performance.now(); // the pace applies to executing the chunks
    let done = 0;
    let bytesDone = 0;
    let lastNote = performance.now();
    let failure = null;
    let pending = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pending.length === 0) return;
      const queries = pending;
      pending = [];
      const bytes = pendingBytes;
      pendingBytes = 0;
      const r = await this.engine.exec(db, queries);
      if (!r.ok) {
        failure = r.message;
        return;
      }
      addMeta(meta, r.results);
      done += queries.length;
      bytesDone += bytes;
      if (performance.now() - lastNote >= 1000) {
        st.messages.push(`Processed ${done} queries.`);
        lastNote = performance.now();
      }
      await pace(bytesDone);
    };
    try {
      outer: for await (const stmts of readStatements(st.file)) {
        for (const sql of stmts) {
          if (failAt >= 0 && done + pending.length >= failAt) {
            await flush();
            failure ??= this.settings.import_fail_message;
            break outer;
          }
          pending.push({ sql });
          pendingBytes += sql.length + 1;
          if (pendingBytes >= s.import_chunk_bytes) {
            await flush();
            if (failure) break outer;
          }
        }
      }
      if (!failure) await flush();
    } catch (e) {
      failure ??= `internal error while reading the file: ${e.message}`;
    }
    if (failure) {
      await this.engine.restart(() => copySnapshotBack(dir, db));
      fs.rmSync(dir, { recursive: true, force: true });
      this.stats().imports.restored_from_snapshot += 1;
      return this.#finishError(st, failure);
    }
    fs.rmSync(path.join(dir, "ACTIVE"), { force: true });
    fs.rmSync(dir, { recursive: true, force: true });
    meta.duration = performance.now() - t0;
    return this.#finishOk(st, done, meta);
  }

  /** Why a statement may not be imported, or null. */
  #check(sql) {
    if (Buffer.byteLength(sql, "utf8") > MAX_STATEMENT_BYTES) return MSG_TOO_LONG;
    const kw = firstKeyword(sql);
    if (kw === "begin") return MSG_BEGIN;
    if (TXN_KEYWORDS.has(kw)) return MSG_TXN;
    if (this.plan.failingStatement([sql]) !== null) {
      const s = this.stats();
      s.faults.fail_sql += 1;
      s.faults_total += 1;
      return this.plan.failSqlMessage;
    }
    return null;
  }

  #finishOk(st, numQueries, meta) {
    st.running = false;
    st.status = "complete";
    st.messages.push(`Processed ${numQueries} queries.`);
    st.result = { final_bookmark: this.#bookmark(st.db), num_queries: numQueries, meta };
    const s = this.stats();
    s.imports.completed += 1;
    s.statements_executed += numQueries;
    s.rows_written += meta.rows_written;
    s.rows_read += meta.rows_read;
    st.finish();
  }

  // ---- PUT /__upload/<filename> ------------------------------------------------------------------
  /**
   * The presigned-URL upload. Writes the body to the upload dir (kept only when its MD5 is the
   * etag in the filename) and answers 200 with ETag "<md5>", or an R2-style XML error. Returns
   * a label for the request log.
   */
  async handleUpload(req, res, url) {
    const stats = this.stats();
    this.#count(stats, "import_upload");
    const xml = (status, code, headers = {}) => {
      const body = r2Error(code);
      res.writeHead(status, { "content-type": "application/xml", "content-length": Buffer.byteLength(body), ...headers });
      res.end(body);
    };
    let filename = "";
    try {
      filename = decodeURIComponent(url.pathname.slice("/__upload/".length));
    } catch { /* malformed: fails the signature check */ }
    const m = /^([0-9a-f-]{36})-([0-9a-f]{32})\.sql$/.exec(filename);
    const sig = url.searchParams.get("X-Amz-Signature") ?? "";
    const want = this.#sign(filename);
    if (!m || sig.length !== want.length || !crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(want))) {
      req.resume();
      xml(403, "SignatureDoesNotMatch");
      return "bad signature";
    }
    if (req.method !== "PUT") {
      req.resume();
      xml(405, "MethodNotAllowed", { allow: "PUT" });
      return "method";
    }
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > this.settings.import_max_bytes) {
      xml(400, "EntityTooLarge", { connection: "close" });
      req.resume();
      return "too large";
    }
    const fault = this.settings.import_upload_faults.shift() ?? null;
    if (fault) stats.imports.upload_faults += 1;
    if (fault === "reset") {
      stats.connections_reset += 1;
      req.socket.resetAndDestroy?.() ?? req.socket.destroy();
      return "upload [reset]";
    }
    const part = path.join(this.uploadDir, `${filename}.part-${crypto.randomBytes(6).toString("hex")}`);
    const out = fs.createWriteStream(part);
    const md5 = crypto.createHash("md5");
    let total = 0;
    let tooLarge = false;
    const ok = await new Promise((resolve) => {
      let settled = false;
      const done = (v) => {
        if (!settled) {
          settled = true;
          resolve(v);
        }
      };
      req.on("data", (c) => {
        total += c.length;
        if (total > this.settings.import_max_bytes) {
          tooLarge = true;
          req.unpipe(out);
          done(false);
          return;
        }
        md5.update(c);
      });
      req.on("aborted", () => done(false));
      req.on("error", () => done(false));
      out.on("error", () => done(false));
      out.on("finish", () => done(true));
      req.pipe(out);
    });
    if (!ok) {
      out.destroy();
      fs.rmSync(part, { force: true });
      if (tooLarge && !res.headersSent) {
        xml(400, "EntityTooLarge", { connection: "close" });
        req.resume();
        return "too large";
      }
      return "upload aborted";
    }
    stats.imports.upload_bytes += total;
    const digest = md5.digest("hex");
    if (fault === "http500") {
      fs.rmSync(part, { force: true });
      xml(500, "InternalError");
      return "upload [http500]";
    }
    if (fault === "bad_etag") {
      fs.rmSync(part, { force: true });
      const wrong = crypto.createHash("md5").update(digest).digest("hex");
      res.writeHead(200, { etag: `"${wrong}"`, "content-length": 0 });
      res.end();
      return "upload [bad_etag]";
    }
    if (digest === m[2]) {
      fs.renameSync(part, path.join(this.uploadDir, filename));
      stats.imports.uploads += 1;
    } else {
      fs.rmSync(part, { force: true }); // not the file the etag names: nothing to import later
    }
    res.writeHead(200, { etag: `"${digest}"`, "content-length": 0 });
    res.end();
    return "upload";
  }

  /** Deletes every uploaded file (the next init with any etag answers with an upload_url). */
  forgetUploads() {
    let n = 0;
    for (const f of fs.readdirSync(this.uploadDir)) {
      if (f.includes(".part-")) continue;
      fs.rmSync(path.join(this.uploadDir, f), { force: true });
      n += 1;
    }
    return n;
  }
}

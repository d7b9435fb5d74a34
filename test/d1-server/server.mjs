#!/usr/bin/env node
// server.mjs — local stand-in for Cloudflare's D1 REST API (/client/v4/...) on top of Miniflare,
// with rate limiting, latency and deterministic fault injection for pg2d1's tests and demo.
// Must never listen beyond what --host says (default loopback), never answer admin requests
// from other hosts, and never apply part of a request: each request is one D1 transaction.
// Started by the test suites, benchmarks and demo: `node test/d1-server/server.mjs [options]`.
// The import API (init / upload / ingest / poll) lives in lib/imports.mjs.

import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import crypto from "node:crypto";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { splitStatements } from "./lib/split.mjs";
import { FaultPlan, TokenBucket, parseKinds, DEFAULT_FAULT_KINDS, FAULT_KINDS } from "./lib/faults.mjs";
import { D1Engine } from "./lib/engine.mjs";
import { ImportManager, ImportApiError, recoverSnapshots, MSG_BUSY } from "./lib/imports.mjs";

// D1 limits (developers.cloudflare.com/d1/platform/limits), enforced here before executing.
const MAX_STATEMENT_BYTES = 100_000;
const MAX_VALUE_BYTES = 2_000_000;
const DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024;

const MSG_RATE_LIMIT = "Please wait and consider throttling your request speed";
const MSG_INTERNAL = "internal error; reference = e_local_test";
const MSG_TRANSIENT = "Network connection lost.";
const MSG_OVERLOADED = "D1 DB is overloaded. Requests queued for too long.";
const MSG_WRONG_BINDINGS = "Wrong number of parameter bindings for SQL query.";

const USAGE = `usage: node test/d1-server/server.mjs [options]
  --port N              listen port (default 0 = random free port; env PG2D1_D1_PORT)
  --host H              listen address (default 127.0.0.1)
  --persist DIR         data directory (default ./.d1-data; env PG2D1_D1_PERSIST)
  --account-id ID       account id (default 0123456789abcdef0123456789abcdef; env PG2D1_D1_ACCOUNT_ID)
  --database-id UUID    database id, repeatable (default 00000000-0000-4000-8000-000000000001)
  --database-name NAME  name of the database at the same position (default local-1, local-2, ...)
  --token T             API token (default local-test-token; env PG2D1_D1_TOKEN)
  --ready-file PATH     write the READY JSON to PATH (atomically)
  --latency-ms N        delay added to every API request
  --rps N               rate limit in requests/second (token bucket; 0 = off)
  --rps-burst N         bucket size (default max(1, rps))
  --fault-rate P        probability 0..1 that a D1 request (/query, /raw) gets a fault
  --fault-seed S        PRNG seed for faults (default 1)
  --faults LIST         comma list of fault kinds (default: all but slow)
                        kinds: ${FAULT_KINDS.join(", ")}
  --slow-ms N           delay of the "slow" fault (default 3000)
  --max-body-bytes N    request body limit, answered with 413 (default 104857600)
  --no-gzip             never gzip responses
  --log                 one line per request on stderr
  --help`;

function parseOptions(argv, env) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      persist: { type: "string" },
      "account-id": { type: "string" },
      "database-id": { type: "string", multiple: true },
      "database-name": { type: "string", multiple: true },
      token: { type: "string" },
      "ready-file": { type: "string" },
      "latency-ms": { type: "string" },
      rps: { type: "string" },
      "rps-burst": { type: "string" },
      "fault-rate": { type: "string" },
      "fault-seed": { type: "string" },
      faults: { type: "string" },
      "slow-ms": { type: "string" },
      "max-body-bytes": { type: "string" },
      "no-gzip": { type: "boolean" },
      log: { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (v, name, def) => {
    if (v === undefined || v === "") return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`);
    return n;
  };
  const ids = (values["database-id"] ?? ["00000000-0000-4000-8000-000000000001"]).map((s) => s.toLowerCase());
  for (const id of ids) {
    if (!isUuid(id)) throw new Error(`--database-id ${id} is not a UUID`);
  }
  if (new Set(ids).size !== ids.length) throw new Error("--database-id given twice");
  const names = values["database-name"] ?? [];
  const accountId = values["account-id"] ?? env.PG2D1_D1_ACCOUNT_ID ?? "0123456789abcdef0123456789abcdef";
  if (!/^[A-Za-z0-9_-]+$/.test(accountId)) throw new Error("--account-id must be [A-Za-z0-9_-]+");
  return {
    port: num(values.port ?? env.PG2D1_D1_PORT, "port", 0),
    host: values.host ?? "127.0.0.1",
    persist: path.resolve(values.persist ?? env.PG2D1_D1_PERSIST ?? "./.d1-data"),
    accountId,
    databases: ids.map((id, i) => ({ id, name: names[i] ?? `local-${i + 1}` })),
    token: values.token ?? env.PG2D1_D1_TOKEN ?? "local-test-token",
    readyFile: values["ready-file"],
    latencyMs: num(values["latency-ms"], "latency-ms", 0),
    rps: num(values.rps, "rps", 0),
    rpsBurst: num(values["rps-burst"], "rps-burst", 0),
    faultRate: num(values["fault-rate"], "fault-rate", 0),
    faultSeed: values["fault-seed"] ?? "1",
    faultKinds: values.faults ? parseKinds(values.faults) : DEFAULT_FAULT_KINDS,
    slowMs: num(values["slow-ms"], "slow-ms", 3000),
    maxBodyBytes: num(values["max-body-bytes"], "max-body-bytes", DEFAULT_MAX_BODY_BYTES),
    gzip: !values["no-gzip"],
    log: !!values.log,
  };
}

function isUuid(s) {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function typeName(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

// ---------------------------------------------------------------------------------------------
// Request body → list of single statements

class ApiError extends Error {
  constructor(status, code, message, extra = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra;
  }
}

const malformed = (msg) => new ApiError(400, 7400, msg);
const sqlError = (msg) => new ApiError(400, 7500, msg);

/**
 * Accepts {sql, params?}, {batch:[{sql, params?}, ...]} and a bare array of {sql, params?}.
 * Returns [{sql, params}] with one entry per SQL statement, params converted (booleans → 1/0),
 * after checking D1's per-statement limits. Throws ApiError.
 */
export function planStatements(text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw malformed(`The request is malformed: ${e.message}`);
  }
  let items;
  let prefix;
  if (Array.isArray(body)) {
    items = body;
    prefix = "";
  } else if (body !== null && typeof body === "object") {
    if (body.batch !== undefined) {
      if (!Array.isArray(body.batch)) {
        throw malformed(`Invalid property: batch => Expected array, received ${typeName(body.batch)}`);
      }
      items = body.batch;
      prefix = "batch.";
    } else {
      items = [body];
      prefix = null; // single form: paths are plain "sql" / "params"
    }
  } else {
    throw malformed(`The request is malformed: expected a JSON object, received ${typeName(body)}`);
  }
  if (items.length === 0) {
    throw malformed(prefix === "batch."
      ? "Invalid property: batch => Array must contain at least 1 element(s)"
      : "The request is malformed: empty array");
  }
  const out = [];
  items.forEach((item, idx) => {
    const p = prefix === null ? "" : `${prefix}${idx}.`;
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      throw malformed(`Invalid property: ${prefix === null ? "body" : `${prefix}${idx}`} => Expected object, received ${typeName(item)}`);
    }
    if (item.sql === undefined) throw malformed(`Invalid property: ${p}sql => Required`);
    if (typeof item.sql !== "string") {
      throw malformed(`Invalid property: ${p}sql => Expected string, received ${typeName(item.sql)}`);
    }
    let params = [];
    if (item.params !== undefined) {
      if (!Array.isArray(item.params)) {
        throw malformed(`Invalid property: ${p}params => Expected array, received ${typeName(item.params)}`);
      }
      params = item.params.map((v, j) => {
        if (v === null || typeof v === "string" || typeof v === "number") return v;
        if (typeof v === "boolean") return v ? 1 : 0;
        throw malformed(`Invalid property: ${p}params.${j} => Expected string | number | null, received ${typeName(v)}`);
      });
    }
    const stmts = splitStatements(item.sql);
    if (stmts.length !== 1 && params.length > 0) {
      // Parameters bind to one statement only; D1 does not document how it would spread them.
      throw sqlError(MSG_WRONG_BINDINGS);
    }
    for (const sql of stmts) out.push({ sql, params: stmts.length === 1 ? params : [] });
  });
  if (out.length === 0) throw sqlError("No SQL statements detected.");
  for (const q of out) {
    if (Buffer.byteLength(q.sql, "utf8") > MAX_STATEMENT_BYTES) {
      throw sqlError("statement too long: SQLITE_TOOBIG");
    }
    for (const v of q.params) {
      if (typeof v === "string" && v.length * 3 > MAX_VALUE_BYTES && Buffer.byteLength(v, "utf8") > MAX_VALUE_BYTES) {
        throw sqlError("string or blob too big: SQLITE_TOOBIG");
      }
    }
  }
  return out;
}

function rowsToObjects(columns, rows) {
  return rows.map((row) => {
    const o = {};
    columns.forEach((c, i) => { o[c] = row[i]; });
    return o;
  });
}

function restMeta(m) {
  return {
    served_by: m.served_by ?? "miniflare.db",
    served_by_region: "LOCL",
    served_by_primary: true,
    timings: { sql_duration_ms: m.duration },
    duration: m.duration,
    changes: m.changes,
    last_row_id: m.last_row_id,
    changed_db: m.changed_db,
    size_after: m.size_after,
    rows_read: m.rows_read,
    rows_written: m.rows_written,
  };
}

// ---------------------------------------------------------------------------------------------
// Server state

function newStats() {
  return {
    since: new Date().toISOString(),
    requests_total: 0,
    requests_by_endpoint: {},
    responses_by_status: {},
    d1_requests: 0,
    statements_executed: 0,
    request_bytes: 0,
    rows_written: 0,
    rows_read: 0,
    faults: Object.fromEntries([...FAULT_KINDS, "fail_sql"].map((k) => [k, 0])),
    faults_total: 0,
    responses_429: 0,
    rate_limited: 0,
    connections_reset: 0,
    imports: {
      started: 0, completed: 0, failed: 0, restored_from_snapshot: 0, injected_failures: 0,
      uploads: 0, upload_bytes: 0, upload_faults: 0, requests_refused: 0,
    },
  };
}

function loadCreatedAt(persist, databases) {
  const file = path.join(persist, "pg2d1-local-d1.json");
  let meta = {};
  try {
    meta = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch { /* first start */ }
  meta.databases ??= {};
  let changed = false;
  for (const d of databases) {
    if (!meta.databases[d.id]) {
      meta.databases[d.id] = { created_at: new Date().toISOString().replace("Z", "000Z") };
      changed = true;
    }
    d.created_at = meta.databases[d.id].created_at;
  }
  if (changed) writeAtomic(file, JSON.stringify(meta, null, 2) + "\n");
}

function writeAtomic(file, text) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

const HTML_502 = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n" +
  "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n";
const HTML_504 = "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n" +
  "<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n";
const HTML_413 = "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n" +
  "<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n";

export async function startServer(opts) {
  const engine = new D1Engine({ persist: opts.persist, databases: opts.databases });
  // A chunked import cut short by a crash left a copy of the database: put it back first.
  for (const id of recoverSnapshots(opts.persist, engine.databases)) {
    console.error(`pg2d1-local-d1: database ${id}: an import did not finish before the last exit; restored its previous state`);
  }
  await engine.start();
  const databases = engine.databases; // with binding and sqlite_path
  loadCreatedAt(opts.persist, databases);
  const byId = new Map(databases.map((d) => [d.id, d]));

  const settings = {
    latencyMs: opts.latencyMs,
    maxBodyBytes: opts.maxBodyBytes,
    gzip: opts.gzip,
  };
  const bucket = new TokenBucket(opts.rps, opts.rpsBurst || undefined);
  const plan = new FaultPlan({ rate: opts.faultRate, seed: opts.faultSeed, kinds: opts.faultKinds });
  plan.update({ slow_ms: opts.slowMs });
  let stats = newStats();
  const imports = new ImportManager({
    engine, persist: opts.persist, databases, stats: () => stats, plan,
  });
  const tokenHash = crypto.createHash("sha256").update(opts.token).digest();
  const tokenId = crypto.createHash("md5").update(`pg2d1-local:${opts.token}`).digest("hex");

  // ---- response helpers ------------------------------------------------------------------
  function sendRaw(req, res, status, body, headers) {
    let buf = Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
    const h = { "cf-ray": `${crypto.randomBytes(8).toString("hex")}-LOCL`, ...headers };
    if (settings.gzip && buf.length >= 1024 && /\bgzip\b/.test(req.headers["accept-encoding"] ?? "")) {
      buf = zlib.gzipSync(buf, { level: 1 });
      h["content-encoding"] = "gzip";
      h.vary = "Accept-Encoding";
    }
    h["content-length"] = buf.length;
    if (status === 429) stats.responses_429 += 1;
    res.writeHead(status, h);
    res.end(buf);
  }
  const sendJson = (req, res, status, obj, headers = {}) =>
    sendRaw(req, res, status, JSON.stringify(obj), { "content-type": "application/json", ...headers });
  const ok = (req, res, result, extra = {}) =>
    sendJson(req, res, 200, { success: true, errors: [], messages: [], result, ...extra });
  const fail = (req, res, status, errors, headers = {}) =>
    sendJson(req, res, status, { success: false, errors, messages: [], result: null }, headers);
  const failApi = (req, res, e) => fail(req, res, e.status, [{ code: e.code, message: e.message, ...e.extra }], e.headers ?? {});
  const sendHtml = (req, res, status, html, headers = {}) =>
    sendRaw(req, res, status, html, { "content-type": "text/html", ...headers });

  function resetConnection(req) {
    stats.connections_reset += 1;
    const s = req.socket;
    if (typeof s.resetAndDestroy === "function") s.resetAndDestroy();
    else s.destroy();
  }

  // ---- auth --------------------------------------------------------------------------------
  // Returns null when the token is good, else the error to send.
  function checkAuth(req, verifyEndpoint) {
    const h = req.headers.authorization;
    const bad = verifyEndpoint
      ? new ApiError(401, 1000, "Invalid API Token")
      : new ApiError(401, 10000, "Authentication error");
    if (h === undefined || h === "") return bad;
    const m = /^Bearer\s+(\S+)\s*$/.exec(h);
    if (!m) {
      return new ApiError(400, 6003, "Invalid request headers", {
        error_chain: [{ code: 6111, message: "Invalid format for Authorization header" }],
      });
    }
    const given = crypto.createHash("sha256").update(m[1]).digest();
    return crypto.timingSafeEqual(given, tokenHash) ? null : bad;
  }

  function checkAccount(account, pathname) {
    if (account !== opts.accountId) {
      return new ApiError(404, 7003,
        `Could not route to ${pathname}, perhaps your object identifier is invalid?`);
    }
    return null;
  }

  function findDatabase(dbId) {
    if (!isUuid(dbId)) throw new ApiError(400, 7400, "Invalid property: databaseId => Invalid uuid");
    const d = byId.get(dbId.toLowerCase());
    if (!d) throw new ApiError(404, 7404, `The database ${dbId} could not be found`);
    return d;
  }

  // ---- body --------------------------------------------------------------------------------
  function readBody(req) {
    return new Promise((resolve, reject) => {
      const limit = settings.maxBodyBytes;
      const declared = Number(req.headers["content-length"]);
      if (Number.isFinite(declared) && declared > limit) {
        reject(new ApiError(413, 0, "too large"));
        return;
      }
      const chunks = [];
      let total = 0;
      let done = false;
      req.on("data", (c) => {
        if (done) return;
        total += c.length;
        if (total > limit) {
          done = true;
          reject(new ApiError(413, 0, "too large"));
          return;
        }
        chunks.push(c);
      });
      req.on("end", () => {
        if (done) return;
        done = true;
        resolve(Buffer.concat(chunks, total));
      });
      req.on("error", (e) => {
        if (done) return;
        done = true;
        reject(e);
      });
    });
  }

  // ---- D1 data endpoints (/query, /raw) -------------------------------------------------------
  async function handleData(req, res, db, format) {
    let raw;
    try {
      raw = await readBody(req);
    } catch (e) {
      if (e instanceof ApiError && e.status === 413) {
        sendHtml(req, res, 413, HTML_413, { connection: "close" });
        return "413";
      }
      throw e;
    }
    stats.request_bytes += raw.length;
    stats.d1_requests += 1;
    if (imports.isBusy(db)) {
      // D1: "Imports block the D1 for their duration." The production error is unknown.
      stats.imports.requests_refused += 1;
      fail(req, res, 503, [{ code: 7500, message: MSG_BUSY }], { "retry-after": "1" });
      return "import busy";
    }

    const fault = plan.next();
    if (fault) {
      stats.faults[fault] += 1;
      stats.faults_total += 1;
    }
    switch (fault) {
      case "reset":
        resetConnection(req);
        return fault;
      case "http500":
        fail(req, res, 500, [{ code: 7500, message: MSG_INTERNAL }]);
        return fault;
      case "html502":
        sendHtml(req, res, 502, HTML_502);
        return fault;
      case "html504":
        sendHtml(req, res, 504, HTML_504);
        return fault;
      case "d1_transient":
        fail(req, res, 500, [{ code: 7500, message: MSG_TRANSIENT }]);
        return fault;
      case "overloaded":
        fail(req, res, 429, [{ code: 7500, message: MSG_OVERLOADED }]);
        return fault;
      case "rate429":
        fail(req, res, 429, [{ code: 971, message: MSG_RATE_LIMIT }], { "retry-after": "1" });
        return fault;
      case "slow":
        await sleep(plan.slowMs);
        break;
      default:
        break;
    }

    let outcome;
    try {
      const queries = planStatements(raw.toString("utf8"));
      if (plan.failingStatement(queries.map((q) => q.sql)) !== null) {
        stats.faults.fail_sql += 1;
        stats.faults_total += 1;
        throw sqlError(plan.failSqlMessage);
      }
      const r = await engine.exec(db, queries);
      if (!r.ok) {
        if (r.internal) {
          console.error(`pg2d1-local-d1: engine failure: ${r.message}`);
          throw new ApiError(500, 7500, `internal error; reference = e_local_${crypto.randomBytes(6).toString("hex")}`);
        }
        throw sqlError(r.message);
      }
      stats.statements_executed += r.results.length;
      const result = r.results.map((s) => {
        stats.rows_written += s.meta.rows_written ?? 0;
        stats.rows_read += s.meta.rows_read ?? 0;
        return {
          results: format === "raw" ? { columns: s.columns, rows: s.rows } : rowsToObjects(s.columns, s.rows),
          success: true,
          meta: restMeta(s.meta),
        };
      });
      outcome = { status: 200, body: { success: true, errors: [], messages: [], result } };
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      outcome = { error: e };
    }
    if (fault === "reset_after_commit") {
      resetConnection(req);
      return fault;
    }
    if (outcome.error) failApi(req, res, outcome.error);
    else sendJson(req, res, 200, outcome.body);
    return fault ?? "";
  }

  // ---- import (lib/imports.mjs) ------------------------------------------------------------------
  async function handleImport(req, res, db) {
    let raw;
    try {
      raw = await readBody(req);
    } catch (e) {
      if (e instanceof ApiError && e.status === 413) {
        sendHtml(req, res, 413, HTML_413, { connection: "close" });
        return "import 413";
      }
      throw e;
    }
    stats.request_bytes += raw.length;
    try {
      const { status, result } = await imports.handle(db, raw.toString("utf8"));
      sendJson(req, res, status, { success: true, errors: [], messages: [], result });
      return `import ${result.status ?? (result.upload_url ? "init" : result.error ?? "")}`;
    } catch (e) {
      if (!(e instanceof ImportApiError)) throw e;
      fail(req, res, e.status, [{ code: e.code, message: e.message }]);
      return "import";
    }
  }

  // ---- other Cloudflare endpoints --------------------------------------------------------------
  function databaseSummary(d) {
    return { uuid: d.id, name: d.name, created_at: d.created_at, version: "production", jurisdiction: null };
  }

  async function handleGetDatabase(req, res, url, d) {
    const { num_tables, file_size } = imports.busyDescribe(d) ?? await engine.describe(d);
    const full = {
      uuid: d.id,
      name: d.name,
      created_at: d.created_at,
      version: "production",
      num_tables,
      file_size,
      jurisdiction: null,
      read_replication: { mode: "disabled" },
      running_in_region: "LOCL",
    };
    const fields = url.searchParams.get("fields");
    if (fields) {
      const want = new Set(fields.split(",").map((s) => s.trim()).filter(Boolean));
      for (const k of Object.keys(full)) if (!want.has(k)) delete full[k];
    }
    ok(req, res, full);
  }

  function handleList(req, res, url) {
    const name = url.searchParams.get("name");
    const page = Math.max(1, Math.trunc(Number(url.searchParams.get("page") ?? 1)) || 1);
    const perPage = Math.min(10000, Math.max(1, Math.trunc(Number(url.searchParams.get("per_page") ?? 1000)) || 1000));
    const all = databases.filter((d) => !name || d.name.includes(name));
    const slice = all.slice((page - 1) * perPage, page * perPage).map(databaseSummary);
    ok(req, res, slice, { result_info: { page, per_page: perPage, count: slice.length, total_count: all.length } });
  }

  function handleVerify(req, res) {
    const e = checkAuth(req, true);
    if (e) return failApi(req, res, e);
    sendJson(req, res, 200, {
      result: { id: tokenId, status: "active" },
      success: true,
      errors: [],
      messages: [{ code: 10000, message: "This API Token is valid and active", type: null }],
    });
  }

  // ---- router ------------------------------------------------------------------------------------
  // Returns the endpoint name (for stats) and handles the request.
  async function handleApi(req, res, url) {
    const pathname = url.pathname;
    const seg = pathname.slice("/client/v4".length).split("/").slice(1);
    if (seg.length > 0 && seg[seg.length - 1] === "") seg.pop();
    const noRoute = () => fail(req, res, 404, [{ code: 7003, message: "No route for the URI" }]);
    const notAllowed = (allow) => fail(req, res, 405, [{ code: 7001, message: "Method not allowed" }], { allow });

    let route = null;
    if (seg.length === 3 && seg[0] === "user" && seg[1] === "tokens" && seg[2] === "verify") {
      route = { endpoint: "tokens_verify", method: "GET" };
    } else if (seg[0] === "accounts" && seg.length >= 2) {
      const account = decodeURIComponent(seg[1]);
      if (seg.length === 4 && seg[2] === "tokens" && seg[3] === "verify") {
        route = { endpoint: "tokens_verify", method: "GET", account };
      } else if (seg[2] === "d1" && seg[3] === "database") {
        if (seg.length === 4) route = { endpoint: "database_list", method: "GET", account };
        else if (seg.length === 5) route = { endpoint: "database_get", method: "GET", account, db: decodeURIComponent(seg[4]) };
        else if (seg.length === 6 && (seg[5] === "query" || seg[5] === "raw" || seg[5] === "import")) {
          route = { endpoint: seg[5], method: "POST", account, db: decodeURIComponent(seg[4]) };
        }
      }
    }
    if (!route) {
      stats.requests_by_endpoint.other = (stats.requests_by_endpoint.other ?? 0) + 1;
      noRoute();
      return "other";
    }
    // Import requests are counted by action (import_init, import_ingest, …) in lib/imports.mjs
    // once the body is read; those refused before that count as "import".
    if (route.endpoint !== "import") {
      stats.requests_by_endpoint[route.endpoint] = (stats.requests_by_endpoint[route.endpoint] ?? 0) + 1;
    }
    const countImport = () => {
      if (route.endpoint === "import") stats.requests_by_endpoint.import = (stats.requests_by_endpoint.import ?? 0) + 1;
    };
    if (req.method !== route.method && !(route.method === "GET" && req.method === "HEAD")) {
      countImport();
      notAllowed(route.method);
      return route.endpoint;
    }
    try {
      if (route.endpoint === "tokens_verify") {
        const e = route.account !== undefined ? checkAccount(route.account, pathname) : null;
        if (e) failApi(req, res, e);
        else handleVerify(req, res);
        return route.endpoint;
      }
      const authErr = checkAuth(req, false);
      if (authErr) {
        countImport();
        failApi(req, res, authErr);
        return route.endpoint;
      }
      const accErr = checkAccount(route.account, pathname);
      if (accErr) {
        countImport();
        failApi(req, res, accErr);
        return route.endpoint;
      }
      if (route.endpoint === "database_list") {
        handleList(req, res, url);
        return route.endpoint;
      }
      let d;
      try {
        d = findDatabase(route.db);
      } catch (e) {
        countImport();
        throw e;
      }
      if (route.endpoint === "import") return await handleImport(req, res, d);
      if (route.endpoint === "database_get") {
        await handleGetDatabase(req, res, url, d);
        return route.endpoint;
      }
      const fault = await handleData(req, res, d, route.endpoint);
      return fault ? `${route.endpoint} [${fault}]` : route.endpoint;
    } catch (e) {
      if (e instanceof ApiError) {
        failApi(req, res, e);
        return route.endpoint;
      }
      throw e;
    }
  }

  // ---- admin (/__local/) -------------------------------------------------------------------------
  function isLoopback(addr) {
    return typeof addr === "string" && (addr === "::1" || /^(::ffff:)?127\./.test(addr));
  }

  async function handleAdmin(req, res, url) {
    const send = (status, obj) => {
      const body = JSON.stringify(obj, null, 2) + "\n";
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    if (!isLoopback(req.socket.remoteAddress)) return send(403, { error: "admin endpoints are loopback-only" });
    const route = `${req.method} ${url.pathname}`;
    let body = {};
    if (req.method === "POST") {
      const raw = await readBody(req).catch(() => null);
      if (raw === null) return send(413, { error: "body too large" });
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString("utf8"));
        } catch (e) {
          return send(400, { error: `malformed JSON: ${e.message}` });
        }
        if (body === null || typeof body !== "object" || Array.isArray(body)) {
          return send(400, { error: "expected a JSON object" });
        }
      }
    }
    switch (route) {
      case "GET /__local/info":
        return send(200, readyInfo());
      case "GET /__local/stats":
        return send(200, { ...stats, uptime_s: Math.round(process.uptime()), faults_config: plan.describe() });
      case "POST /__local/reset-stats":
        stats = newStats();
        return send(200, { ok: true });
      case "GET /__local/faults":
        return send(200, plan.describe());
      case "POST /__local/faults":
        try {
          plan.update(body);
        } catch (e) {
          return send(400, { error: e.message });
        }
        return send(200, plan.describe());
      case "GET /__local/settings":
        return send(200, describeSettings());
      case "POST /__local/forget-uploads":
        return send(200, { deleted: imports.forgetUploads() });
      case "POST /__local/settings":
        try {
          imports.updateSettings(body);
        } catch (e) {
          return send(400, { error: e.message });
        }
        if (body.latency_ms !== undefined) settings.latencyMs = Math.max(0, Number(body.latency_ms) || 0);
        if (body.max_body_bytes !== undefined) settings.maxBodyBytes = Math.max(0, Number(body.max_body_bytes) || DEFAULT_MAX_BODY_BYTES);
        if (body.gzip !== undefined) settings.gzip = !!body.gzip;
        if (body.rps !== undefined || body.rps_burst !== undefined) {
          bucket.configure(body.rps ?? bucket.rps, body.rps_burst ?? undefined);
        }
        return send(200, describeSettings());
      default:
        return send(404, { error: `unknown admin endpoint ${route}` });
    }
  }

  function describeSettings() {
    return {
      latency_ms: settings.latencyMs,
      rps: bucket.rps,
      rps_burst: bucket.capacity,
      max_body_bytes: settings.maxBodyBytes,
      gzip: settings.gzip,
      ...imports.describeSettings(),
    };
  }

  // ---- HTTP server -------------------------------------------------------------------------------
  const server = http.createServer(async (req, res) => {
    const t0 = performance.now();
    const url = new URL(req.url, "http://local");
    let label = "";
    if (!url.pathname.startsWith("/__local/")) {
      res.on("finish", () => {
        stats.responses_by_status[res.statusCode] = (stats.responses_by_status[res.statusCode] ?? 0) + 1;
      });
    }
    req.on("close", () => {
      if (opts.log) {
        const st = res.writableFinished ? res.statusCode : "reset";
        console.error(`${new Date().toISOString()} ${req.method} ${url.pathname} ${st} ${(performance.now() - t0).toFixed(1)}ms ${label}`);
      }
    });
    try {
      if (url.pathname.startsWith("/__local/")) {
        await handleAdmin(req, res, url);
        return;
      }
      stats.requests_total += 1;
      if (url.pathname.startsWith("/__upload/")) {
        // The presigned R2 URL of an import: not the Cloudflare API, so no latency or rate limit.
        label = await imports.handleUpload(req, res, url);
        return;
      }
      if (settings.latencyMs > 0) await sleep(settings.latencyMs);
      const take = bucket.take();
      if (!take.ok) {
        stats.rate_limited += 1;
        label = "rate-limited";
        req.resume();
        fail(req, res, 429, [{ code: 971, message: MSG_RATE_LIMIT }], {
          "retry-after": String(take.retryAfter),
          ratelimit: `"default";r=0;t=${take.retryAfter}`,
        });
        return;
      }
      if (url.pathname !== "/client/v4" && !url.pathname.startsWith("/client/v4/")) {
        stats.requests_by_endpoint.other = (stats.requests_by_endpoint.other ?? 0) + 1;
        req.resume();
        fail(req, res, 404, [{ code: 7003, message: "No route for the URI" }]);
        return;
      }
      label = await handleApi(req, res, url);
      if (!req.complete) req.resume();
    } catch (e) {
      console.error(`pg2d1-local-d1: unexpected error on ${req.method} ${url.pathname}:`, e);
      if (!res.headersSent && !res.destroyed) {
        fail(req, res, 500, [{ code: 7500, message: MSG_INTERNAL }]);
      }
    }
  });
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 80_000;
  server.requestTimeout = 0;

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = server.address().port;
  const hostForUrl = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  const apiUrl = `http://${hostForUrl}:${port}/client/v4`;
  imports.setOrigin(`http://${hostForUrl}:${port}`);

  function readyInfo() {
    return {
      url: apiUrl,
      account_id: opts.accountId,
      databases: databases.map((d) => ({ id: d.id, name: d.name, sqlite_path: d.sqlite_path })),
      pid: process.pid,
      workerd_pid: engine.workerdPid,
    };
  }

  let closing = null;
  async function close() {
    closing ??= (async () => {
      server.close();
      server.closeAllConnections();
      await engine.dispose();
    })();
    return closing;
  }

  return { server, engine, port, apiUrl, readyInfo, close };
}

// ---------------------------------------------------------------------------------------------
// main

async function main() {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2), process.env);
  } catch (e) {
    console.error(`pg2d1-local-d1: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  let srv;
  try {
    srv = await startServer(opts);
  } catch (e) {
    console.error(`pg2d1-local-d1: failed to start: ${e.stack ?? e}`);
    process.exit(1);
  }
  const info = srv.readyInfo();
  if (opts.readyFile) writeAtomic(path.resolve(opts.readyFile), JSON.stringify(info) + "\n");
  console.log(`pg2d1 local D1 listening on ${info.url}`);
  console.log(`PG2D1_D1_READY ${JSON.stringify(info)}`);

  const shutdown = async (sig) => {
    if (opts.log) console.error(`pg2d1-local-d1: ${sig}, shutting down`);
    const force = setTimeout(() => process.exit(0), 5000);
    force.unref();
    try {
      await srv.close();
    } catch (e) {
      console.error(`pg2d1-local-d1: error while shutting down: ${e.message}`);
    }
    process.exit(0);
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  await main();
}

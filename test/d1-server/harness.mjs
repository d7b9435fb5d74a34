// harness.mjs — starts the local D1 server as a child process for tests/benchmarks and stops it.
// Must never leave a server (or its workerd child) running after the calling process exits:
// stop() sends SIGTERM, escalates to SIGKILL, and an exit hook kills whatever is left.
// Used by test/d1-server/test/*.test.mjs; other suites may import it:
//   const d1 = await startLocalD1({ args: ["--rps", "4"] }); ...; await d1.stop();
// d1.importSql(text) runs the import API's whole flow (init → PUT → ingest → poll).

import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const SERVER_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), "server.mjs");
export const DEFAULT_TOKEN = "local-test-token";

const live = new Set();
process.on("exit", () => {
  for (const s of live) s.killNow();
});

/** Kill the server's workerd child, but only if that pid still is a workerd process. */
function killWorkerd(pid) {
  if (!pid) return;
  try {
    if (!fs.readFileSync(`/proc/${pid}/comm`, "utf8").startsWith("workerd")) return;
  } catch {
    return; // gone (or no /proc)
  }
  killPid(pid, "SIGKILL");
}

function killPid(pid, sig) {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/**
 * Spawn `node server.mjs --port 0 --persist <dir> ...args` and wait for its READY line.
 * Options: args (extra CLI args), persist (dir; default: a new temp dir, removed by stop()
 * unless keepPersist), token, env, timeoutMs, inheritStderr.
 * Returns {info, url, origin, accountId, databaseId, token, persist, child, api, admin, query,
 * importSql, stop, stderr}.
 */
export async function startLocalD1(opts = {}) {
  const ownDir = !opts.persist;
  const persist = opts.persist ?? fs.mkdtempSync(path.join(os.tmpdir(), "pg2d1-d1-"));
  const token = opts.token ?? DEFAULT_TOKEN;
  const args = [SERVER_PATH, "--port", "0", "--persist", persist, "--token", token, ...(opts.args ?? [])];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...(opts.env ?? {}) },
  });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
    if (opts.inheritStderr) process.stderr.write(d);
  });
  let exited = false;
  const exitPromise = new Promise((resolve) => child.on("exit", (code, signal) => {
    exited = true;
    resolve({ code, signal });
  }));

  let info = null;
  const handle = {
    killNow() {
      if (!exited) killPid(child.pid, "SIGKILL");
      killWorkerd(info?.workerd_pid);
    },
  };
  live.add(handle);

  info = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      reject(new Error(`local D1 server did not become ready in ${opts.timeoutMs ?? 20000} ms\n${stderr}`));
    }, opts.timeoutMs ?? 20000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /^PG2D1_D1_READY (.*)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(JSON.parse(m[1]));
      }
    });
    exitPromise.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`local D1 server exited early (code ${code}, signal ${signal})\n${stderr}`));
    });
  }).catch((e) => {
    handle.killNow();
    live.delete(handle);
    throw e;
  });
  child.stdout.resume();

  const origin = new URL(info.url).origin;
  const accountId = info.account_id;
  const databaseId = info.databases[0].id;

  /** fetch under /client/v4; `path` may use {account} and {db}. Returns {status, headers, body, text}. */
  async function api(p, { method = "GET", body, token: tok = token, headers = {}, raw = false } = {}) {
    const url = info.url + p.replace("{account}", accountId).replace("{db}", databaseId);
    const h = { ...headers };
    if (tok !== null) h.authorization = `Bearer ${tok}`;
    let payload = body;
    if (body !== undefined && !raw && typeof body !== "string") {
      payload = JSON.stringify(body);
      h["content-type"] = "application/json";
    }
    const r = await fetch(url, { method, headers: h, body: payload });
    const text = await r.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch { /* HTML or empty */ }
    return { status: r.status, headers: r.headers, body: json, text };
  }

  /** POST/GET an admin endpoint under /__local/. */
  async function admin(p, body) {
    const r = await fetch(`${origin}/__local/${p}`, body === undefined ? {} : {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return r.json();
  }

  /** SQL through /query (single statement or batch array); returns the parsed envelope. */
  async function query(sqlOrBatch, params) {
    const body = Array.isArray(sqlOrBatch) ? { batch: sqlOrBatch } : { sql: sqlOrBatch, ...(params ? { params } : {}) };
    return (await api("/accounts/{account}/d1/database/{db}/query", { method: "POST", body })).body;
  }

  /**
   * The whole import flow, as wrangler does it: init (MD5 etag) → PUT upload_url (unless the
   * server answered with a polling response: file uploaded before) → ingest → poll until the
   * status is not "active". Returns {etag, init, upload, responses, final, polls}: every polling
   * response in order (HTTP status and parsed envelope), the last one's `result` as `final`.
   */
  async function importSql(sql, { db, maxPolls = 1000 } = {}) {
    const p = `/accounts/{account}/d1/database/${db ?? databaseId}/import`;
    const buf = Buffer.isBuffer(sql) ? sql : Buffer.from(sql, "utf8");
    const etag = crypto.createHash("md5").update(buf).digest("hex");
    const init = await api(p, { method: "POST", body: { action: "init", etag } });
    if (!init.body?.success) return { etag, init, responses: [], final: null, polls: 0 };
    let upload = null;
    const responses = [];
    let r;
    if ("upload_url" in init.body.result) {
      const u = await fetch(init.body.result.upload_url, { method: "PUT", body: buf });
      upload = { status: u.status, etag: u.headers.get("etag"), text: await u.text() };
      r = await api(p, { method: "POST", body: { action: "ingest", etag, filename: init.body.result.filename } });
    } else {
      r = init;
    }
    responses.push({ status: r.status, body: r.body });
    let polls = 0;
    while (r.body?.success && r.body.result?.status === "active" && polls < maxPolls) {
      r = await api(p, { method: "POST", body: { action: "poll", current_bookmark: r.body.result.at_bookmark } });
      polls += 1;
      responses.push({ status: r.status, body: r.body });
    }
    return { etag, init, upload, responses, final: r.body?.result ?? null, polls };
  }

  async function stop({ keepPersist = opts.keepPersist ?? false } = {}) {
    if (!exited) {
      // An import may have restarted workerd (new pid): learn the current one first.
      try {
        const r = await fetch(`${origin}/__local/info`, { signal: AbortSignal.timeout(2000) });
        info.workerd_pid = (await r.json()).workerd_pid ?? info.workerd_pid;
      } catch { /* keep the last known pid */ }
      killPid(child.pid, "SIGTERM");
      const t = setTimeout(() => handle.killNow(), 8000);
      await exitPromise;
      clearTimeout(t);
    }
    // workerd normally goes with Miniflare's dispose(); make sure it did.
    killWorkerd(info.workerd_pid);
    live.delete(handle);
    if (ownDir && !keepPersist) fs.rmSync(persist, { recursive: true, force: true });
    return exitPromise;
  }

  return {
    info, url: info.url, origin, accountId, databaseId, token, persist, child,
    api, admin, query, importSql, stop, stderr: () => stderr,
  };
}

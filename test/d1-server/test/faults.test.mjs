// Rate limiting and fault injection against real server processes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startLocalD1 } from "../harness.mjs";

let d1;
const Q = "/accounts/{account}/d1/database/{db}/query";

before(async () => {
  d1 = await startLocalD1();
});
after(async () => {
  await d1?.stop();
});

/** POST /query, returning {status, body, text, headers} or {error} for a dropped connection. */
async function q(body) {
  try {
    return await d1.api(Q, { method: "POST", body });
  } catch (e) {
    return { error: e.cause?.code ?? e.cause?.message ?? e.message };
  }
}

async function injectNext(kind, extra = {}) {
  const cfg = await d1.admin("faults", { kinds: [kind], only_requests: [1], ...extra });
  assert.deepEqual(cfg.kinds, [kind]);
}

test("--rps 2: burst then 429 with Retry-After and code 971", async () => {
  const s = await startLocalD1({ args: ["--rps", "2"] });
  try {
    const statuses = [];
    let limited;
    for (let i = 0; i < 5; i++) {
      const r = await s.api("/user/tokens/verify");
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    assert.deepEqual(statuses.slice(0, 2), [200, 200]);
    assert.ok(limited, `no 429 in ${statuses}`);
    assert.equal(limited.headers.get("retry-after"), "1");
    assert.deepEqual(limited.body.errors, [{ code: 971, message: "Please wait and consider throttling your request speed" }]);
    assert.equal(limited.body.success, false);
    assert.equal(limited.body.result, null);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await s.api("/user/tokens/verify")).status, 200, "after Retry-After the request passes");
    const st = await s.admin("stats");
    assert.ok(st.rate_limited >= 1);
    assert.equal(st.responses_429, st.rate_limited);
    // admin endpoints are never rate limited
    for (let i = 0; i < 5; i++) assert.ok((await s.admin("info")).url);
  } finally {
    await s.stop();
  }
});

test("each fault kind produces its documented response", async () => {
  await d1.query("CREATE TABLE f (id INTEGER PRIMARY KEY)");
  const expectJson = async (kind, status, code, message) => {
    await injectNext(kind);
    const r = await q({ sql: "INSERT INTO f VALUES (1000)" });
    assert.equal(r.status, status, `${kind}: ${r.text ?? r.error}`);
    assert.equal(r.body.success, false);
    assert.equal(r.body.result, null);
    assert.deepEqual(r.body.errors, [{ code, message }]);
    return r;
  };
  await expectJson("http500", 500, 7500, "internal error; reference = e_local_test");
  await expectJson("d1_transient", 500, 7500, "Network connection lost.");
  let r = await expectJson("overloaded", 429, 7500, "D1 DB is overloaded. Requests queued for too long.");
  assert.equal(r.headers.get("retry-after"), null);
  r = await expectJson("rate429", 429, 971, "Please wait and consider throttling your request speed");
  assert.equal(r.headers.get("retry-after"), "1");

  for (const [kind, status, title] of [["html502", 502, "502 Bad Gateway"], ["html504", 504, "504 Gateway Time-out"]]) {
    await injectNext(kind);
    r = await q({ sql: "INSERT INTO f VALUES (1000)" });
    assert.equal(r.status, status);
    assert.match(r.headers.get("content-type"), /^text\/html/);
    assert.equal(r.body, null, "not JSON");
    assert.match(r.text, new RegExp(`<title>${title}</title>`));
  }

  await injectNext("reset");
  r = await q({ sql: "INSERT INTO f VALUES (1000)" });
  assert.ok(r.error, "connection dropped");
  // none of the above executed anything
  assert.equal((await d1.query("SELECT count(*) AS n FROM f")).result[0].results[0].n, 0);

  await injectNext("slow", { slow_ms: 600 });
  const t0 = Date.now();
  r = await q({ sql: "INSERT INTO f VALUES (1)" });
  assert.ok(Date.now() - t0 >= 550, "delayed");
  assert.equal(r.status, 200);
  assert.equal(r.body.success, true);

  const st = await d1.admin("stats");
  for (const k of ["http500", "d1_transient", "overloaded", "rate429", "html502", "html504", "reset", "slow"]) {
    assert.equal(st.faults[k], 1, k);
  }
  assert.ok(st.connections_reset >= 1);
});

test("reset_after_commit: connection dropped, but the write was committed", async () => {
  await d1.query("CREATE TABLE rac (id INTEGER PRIMARY KEY, v TEXT)");
  await injectNext("reset_after_commit");
  const r = await q({ batch: [{ sql: "INSERT INTO rac VALUES (1, 'a')" }, { sql: "INSERT INTO rac VALUES (2, 'b')" }] });
  assert.ok(r.error, `expected a dropped connection, got ${r.status}`);
  const rows = (await d1.query("SELECT id, v FROM rac ORDER BY id")).result[0].results;
  assert.deepEqual(rows, [{ id: 1, v: "a" }, { id: 2, v: "b" }]);
  // the idempotent retry a client would send succeeds and changes nothing
  const again = await q({ batch: [{ sql: "INSERT OR REPLACE INTO rac VALUES (1, 'a')" }, { sql: "INSERT OR REPLACE INTO rac VALUES (2, 'b')" }] });
  assert.equal(again.status, 200);
  assert.equal((await d1.query("SELECT count(*) AS n FROM rac")).result[0].results[0].n, 2);
});

test("only_requests counts D1 requests from now; admin and non-D1 requests do not count", async () => {
  await d1.admin("faults", { kinds: ["http500", "d1_transient"], only_requests: [2, 4] });
  const seen = [];
  for (let i = 0; i < 5; i++) {
    await d1.api("/user/tokens/verify"); // not a D1 data request
    const r = await q({ sql: "SELECT 1" });
    seen.push(r.status === 200 ? "ok" : r.body.errors[0].message);
  }
  assert.deepEqual(seen, ["ok", "internal error; reference = e_local_test", "ok", "Network connection lost.", "ok"]);
  await d1.admin("faults", { only_requests: null });
});

test("same seed → same fault sequence; different seed → different", async () => {
  const run = async (seed) => {
    await d1.admin("faults", { rate: 0.4, seed, kinds: ["http500", "d1_transient", "overloaded", "rate429", "html502"] });
    const out = [];
    for (let i = 0; i < 30; i++) {
      const r = await q({ sql: "SELECT 1" });
      out.push(r.status === 200 ? "-" : `${r.status}:${r.body?.errors?.[0]?.message ?? "html"}`);
    }
    return out;
  };
  const a = await run(1234);
  const b = await run(1234);
  const c = await run(99);
  await d1.admin("faults", { rate: 0 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const n = a.filter((x) => x !== "-").length;
  assert.ok(n > 3 && n < 25, `faults in 30: ${n}`);
});

test("--fault-rate/--fault-seed/--faults on the command line are deterministic too", async () => {
  const seq = async () => {
    const s = await startLocalD1({ args: ["--fault-rate", "0.5", "--fault-seed", "7", "--faults", "http500,overloaded"] });
    try {
      const out = [];
      for (let i = 0; i < 12; i++) {
        const r = await s.api(Q, { method: "POST", body: { sql: "SELECT 1" } });
        out.push(r.status);
      }
      const st = await s.admin("stats");
      assert.equal(st.faults_total, out.filter((x) => x !== 200).length);
      return out;
    } finally {
      await s.stop();
    }
  };
  const a = await seq();
  const b = await seq();
  assert.deepEqual(a, b);
  assert.ok(a.some((x) => x !== 200) && a.some((x) => x === 200), `${a}`);
  assert.ok(a.every((x) => [200, 500, 429].includes(x)));
});

test("fail_sql_regex: matching statements fail permanently with 400/7500, nothing applied", async () => {
  await d1.query("CREATE TABLE ck (id INTEGER PRIMARY KEY, status TEXT)");
  await d1.admin("faults", { fail_sql_regex: "UPDATE ck SET status = 'completed'" });
  try {
    for (let i = 0; i < 2; i++) {
      const r = await q({ batch: [{ sql: "INSERT OR REPLACE INTO ck VALUES (1, 'in_progress')" },
        { sql: "UPDATE ck SET status = 'completed' WHERE id = 1" }] });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body.errors, [{ code: 7500, message: "SQLITE_CONSTRAINT: injected failure" }]);
    }
    assert.equal((await d1.query("SELECT count(*) AS n FROM ck")).result[0].results[0].n, 0);
    await d1.admin("faults", { fail_sql_regex: "^DELETE", fail_sql_flags: "i", fail_sql_message: "custom: SQLITE_IOERR" });
    const r = await q({ sql: "delete from ck" });
    assert.deepEqual(r.body.errors, [{ code: 7500, message: "custom: SQLITE_IOERR" }]);
    assert.equal((await q({ sql: "INSERT INTO ck VALUES (2, 'x')" })).status, 200);
  } finally {
    await d1.admin("faults", { fail_sql_regex: null });
  }
  assert.equal((await q({ sql: "DELETE FROM ck" })).status, 200);
  assert.ok((await d1.admin("stats")).faults.fail_sql >= 3);
});

test("faults never touch admin or non-D1 endpoints; bad admin input is rejected", async () => {
  await d1.admin("faults", { rate: 1, seed: 1, kinds: ["http500"] });
  try {
    assert.equal((await d1.api("/user/tokens/verify")).status, 200);
    assert.equal((await d1.api("/accounts/{account}/d1/database/{db}")).status, 200);
    assert.equal((await q({ sql: "SELECT 1" })).status, 500);
    assert.ok((await d1.admin("stats")).faults.http500 >= 1);
  } finally {
    await d1.admin("faults", { rate: 0 });
  }
  const r = await fetch(`${d1.origin}/__local/faults`, { method: "POST", body: JSON.stringify({ kinds: ["nope"] }) });
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /unknown fault kind/);
});

test("--latency-ms delays API requests", async () => {
  await d1.admin("settings", { latency_ms: 300 });
  try {
    const t0 = Date.now();
    assert.equal((await q({ sql: "SELECT 1" })).status, 200);
    assert.ok(Date.now() - t0 >= 290);
  } finally {
    await d1.admin("settings", { latency_ms: 0 });
  }
});

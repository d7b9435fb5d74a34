// Unit tests of the fault plan and the token bucket (no server needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { FaultPlan, TokenBucket, mulberry32, seedToInt, parseKinds } from "../lib/faults.mjs";

test("mulberry32 is deterministic per seed", () => {
  const a = mulberry32(42), b = mulberry32(42), c = mulberry32(43);
  const sa = Array.from({ length: 5 }, a), sb = Array.from({ length: 5 }, b), sc = Array.from({ length: 5 }, c);
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
  for (const x of sa) assert.ok(x >= 0 && x < 1);
  assert.equal(seedToInt("7"), 7);
  assert.equal(seedToInt("abc"), seedToInt("abc"));
});

test("same seed gives the same fault sequence; rate is roughly honoured", () => {
  const seq = (seed) => {
    const p = new FaultPlan({ rate: 0.3, seed });
    return Array.from({ length: 200 }, () => p.next());
  };
  const a = seq(5), b = seq(5), c = seq(6);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const n = a.filter(Boolean).length;
  assert.ok(n > 30 && n < 90, `faults: ${n}`);
  assert.ok(!a.includes("slow"), "slow is not a default kind");
});

test("only_requests hits exactly the listed request numbers, kinds in turn", () => {
  const p = new FaultPlan({ rate: 1, seed: 1 });
  p.update({ kinds: ["http500", "reset"], only_requests: [2, 3, 5] });
  const got = Array.from({ length: 6 }, () => p.next());
  assert.deepEqual(got, [null, "http500", "reset", null, "http500", null]);
  p.update({ only_requests: null, rate: 0 });
  assert.equal(p.next(), null);
});

test("fail_sql_regex", () => {
  const p = new FaultPlan();
  assert.equal(p.failingStatement(["INSERT INTO t VALUES (1)"]), null);
  p.update({ fail_sql_regex: "migration_checkpoints" });
  assert.equal(p.failingStatement(["SELECT 1", "UPDATE migration_checkpoints SET x=1"]), "UPDATE migration_checkpoints SET x=1");
  p.update({ fail_sql_regex: null });
  assert.equal(p.failingStatement(["UPDATE migration_checkpoints SET x=1"]), null);
});

test("unknown kinds are rejected", () => {
  assert.throws(() => parseKinds("http500,bogus"), /unknown fault kind "bogus"/);
  assert.deepEqual(parseKinds(" http500 , slow "), ["http500", "slow"]);
});

test("token bucket: burst, refill, Retry-After rounded up", () => {
  let t = 0;
  const b = new TokenBucket(2, undefined, () => t);
  assert.ok(b.take().ok);
  assert.ok(b.take().ok);
  const r = b.take();
  assert.equal(r.ok, false);
  assert.equal(r.retryAfter, 1); // 0.5 s → rounded up to 1
  t = 0.5;
  assert.ok(b.take().ok);
  const slow = new TokenBucket(0.1, undefined, () => t);
  assert.ok(slow.take().ok);
  assert.equal(slow.take().retryAfter, 10);
  assert.ok(new TokenBucket(0).take().ok, "rps 0 = unlimited");
});

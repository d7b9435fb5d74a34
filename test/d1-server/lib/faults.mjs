// faults.mjs — deterministic fault plan (which D1 request gets which injected failure) and
// the token-bucket rate limiter of the local D1 server.
// Must never look at wall-clock randomness for faults: the same seed and the same request
// sequence always give the same faults. Called by server.mjs; tested in test/faults.test.mjs.

export const FAULT_KINDS = [
  "http500", "html502", "html504", "reset", "reset_after_commit",
  "d1_transient", "overloaded", "rate429", "slow",
];

// Default kinds for --fault-rate without --faults: everything except `slow`, which only
// costs time.
export const DEFAULT_FAULT_KINDS = FAULT_KINDS.filter((k) => k !== "slow");

/** mulberry32: tiny 32-bit PRNG, returns floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeds may be numbers or strings; strings are hashed (FNV-1a) to 32 bits. */
export function seedToInt(seed) {
  if (typeof seed === "number" && Number.isFinite(seed)) return Math.trunc(seed) >>> 0;
  const s = String(seed);
  if (/^-?\d+$/.test(s)) return Number(BigInt.asUintN(32, BigInt(s)));
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function parseKinds(list) {
  const kinds = (Array.isArray(list) ? list : String(list).split(","))
    .map((k) => String(k).trim()).filter(Boolean);
  for (const k of kinds) {
    if (!FAULT_KINDS.includes(k)) {
      throw new Error(`unknown fault kind "${k}" (known: ${FAULT_KINDS.join(", ")})`);
    }
  }
  return kinds;
}

/**
 * Decides, per D1 data request, whether to inject a fault.
 * - random mode: each request draws one number r; if r < rate, a second draw picks the kind.
 * - only_requests mode (set at runtime): exactly the listed request numbers, counted from the
 *   moment the list was set (1 = the next D1 request), get a fault; the i-th listed number gets
 *   kinds[i % kinds.length]. The random mode is off while a list is active.
 */
export class FaultPlan {
  constructor({ rate = 0, seed = 1, kinds = DEFAULT_FAULT_KINDS } = {}) {
    this.rate = 0;
    this.kinds = [...DEFAULT_FAULT_KINDS];
    this.onlyRequests = null;
    this.counter = 0;
    this.failSql = null;
    this.failSqlMessage = "SQLITE_CONSTRAINT: injected failure";
    this.slowMs = 3000;
    this.update({ rate, seed, kinds });
  }

  update(o) {
    if (o.rate !== undefined && o.rate !== null) {
      const r = Number(o.rate);
      if (!(r >= 0 && r <= 1)) throw new Error("rate must be a number in 0..1");
      this.rate = r;
    }
    if (o.kinds !== undefined && o.kinds !== null) {
      const k = parseKinds(o.kinds);
      if (k.length === 0) throw new Error("kinds must not be empty");
      this.kinds = k;
    }
    if (o.seed !== undefined && o.seed !== null) {
      this.seed = seedToInt(o.seed);
      this.rng = mulberry32(this.seed);
    }
    if (o.only_requests !== undefined) {
      if (o.only_requests === null || (Array.isArray(o.only_requests) && o.only_requests.length === 0)) {
        this.onlyRequests = null;
      } else if (Array.isArray(o.only_requests) && o.only_requests.every((x) => Number.isInteger(x) && x >= 1)) {
        this.onlyRequests = [...o.only_requests];
      } else {
        throw new Error("only_requests must be an array of positive integers");
      }
      this.counter = 0;
    }
    if (o.fail_sql_regex !== undefined) {
      if (o.fail_sql_regex === null || o.fail_sql_regex === "") {
        this.failSql = null;
      } else {
        this.failSql = new RegExp(String(o.fail_sql_regex), o.fail_sql_flags ? String(o.fail_sql_flags) : "");
      }
    }
    if (o.fail_sql_message !== undefined && o.fail_sql_message !== null) {
      this.failSqlMessage = String(o.fail_sql_message);
    }
    if (o.slow_ms !== undefined && o.slow_ms !== null) {
      const ms = Number(o.slow_ms);
      if (!(ms >= 0)) throw new Error("slow_ms must be >= 0");
      this.slowMs = ms;
    }
  }

  /** Returns the fault kind for the next D1 request, or null. */
  next() {
    if (this.onlyRequests) {
      this.counter += 1;
      const idx = this.onlyRequests.indexOf(this.counter);
      return idx < 0 ? null : this.kinds[idx % this.kinds.length];
    }
    if (this.rate <= 0) return null;
    if (this.rng() < this.rate) {
      return this.kinds[Math.floor(this.rng() * this.kinds.length)];
    }
    return null;
  }

  /** Returns the first statement matching fail_sql_regex, or null. */
  failingStatement(statements) {
    if (!this.failSql) return null;
    for (const s of statements) {
      this.failSql.lastIndex = 0;
      if (this.failSql.test(s)) return s;
    }
    return null;
  }

  describe() {
    return {
      rate: this.rate,
      seed: this.seed,
      kinds: this.kinds,
      only_requests: this.onlyRequests,
      only_requests_counter: this.onlyRequests ? this.counter : null,
      fail_sql_regex: this.failSql ? this.failSql.source : null,
      fail_sql_flags: this.failSql ? this.failSql.flags : null,
      fail_sql_message: this.failSqlMessage,
      slow_ms: this.slowMs,
    };
  }
}

/**
 * Token bucket: `rps` tokens per second, at most `burst` stored (default: max(1, rps)).
 * take() returns {ok:true, remaining} or {ok:false, retryAfter} where retryAfter is the
 * number of seconds, rounded up, until a token is available (at least 1).
 */
export class TokenBucket {
  constructor(rps, burst, now = () => performance.now() / 1000) {
    this.now = now;
    this.configure(rps, burst);
  }

  configure(rps, burst) {
    this.rps = Number(rps) || 0;
    this.capacity = burst ? Number(burst) : Math.max(1, this.rps);
    this.tokens = this.capacity;
    this.last = this.now();
  }

  get enabled() {
    return this.rps > 0;
  }

  take() {
    if (!this.enabled) return { ok: true, remaining: Infinity };
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + (t - this.last) * this.rps);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true, remaining: Math.floor(this.tokens) };
    }
    const wait = (1 - this.tokens) / this.rps;
    return { ok: false, retryAfter: Math.max(1, Math.ceil(wait)) };
  }
}

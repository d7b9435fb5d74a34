// Unit tests of engine helpers (no server needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { cleanD1Message, sqliteFileName } from "../lib/engine.mjs";

test("D1_ERROR prefix removed and duplicated messages collapsed", () => {
  assert.equal(cleanD1Message("D1_ERROR: no such table: nope: SQLITE_ERROR no such table: nope: SQLITE_ERROR"),
    "no such table: nope: SQLITE_ERROR");
  assert.equal(cleanD1Message("D1_ERROR: not authorized: SQLITE_AUTH"), "not authorized: SQLITE_AUTH");
  assert.equal(cleanD1Message("no such table: nope: SQLITE_ERROR"), "no such table: nope: SQLITE_ERROR");
  assert.equal(cleanD1Message("a: a"), "a");
});

test("SQLite file name matches Miniflare's Durable Object id derivation", () => {
  // value observed on disk for this database id with miniflare 4.20260426.0
  assert.equal(sqliteFileName("00000000-0000-4000-8000-000000000001"),
    "37202af4a48e51a6f9bf1676145f85cdbaaf76a4a51b95f5120b328bf5460e72.sqlite");
});

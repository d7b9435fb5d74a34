import { D1Engine } from "./lib/engine.mjs";
import fs from "node:fs";
const persist = fs.mkdtempSync("/tmp/bb-");
const e = new D1Engine({ persist, databases: [{ id: "00000000-0000-4000-8000-000000000001", name: "x" }] });
await e.start();
const db = e.databases[0];
await e.exec(db, [{ sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c TEXT)" }]);
const MB = Number(process.argv[2] ?? 100);
const stmts = [];
let id = 0, bytes = 0;
while (bytes < MB * 1e6) {
  let s = "INSERT INTO t VALUES ";
  const parts = [];
  let len = s.length;
  while (len < 95000) { id++; const p = `(${id},'row ${id} some text here abcdefghij',${id * 1.5},'more text ${id % 977}')`; parts.push(p); len += p.length + 1; }
  s += parts.join(",");
  stmts.push({ sql: s }); bytes += s.length;
}
console.log("stmts", stmts.length, "rows", id, "bytes", bytes);
const t0 = performance.now();
const r = await e.exec(db, stmts);
const t1 = performance.now();
console.log("ok", r.ok, r.message, ((t1 - t0) / 1000).toFixed(2), "s", "node rss", (process.memoryUsage().rss / 1e6).toFixed(0));
const wd = fs.readdirSync("/proc").filter(p => /^\d+$/.test(p)).map(p => { try { return [p, fs.readFileSync(`/proc/${p}/status`, "utf8")]; } catch { return null; } }).filter(x => x && /Name:\s+workerd/.test(x[1]));
for (const [p, s] of wd) console.log("workerd", p, s.match(/VmHWM:\s+\d+ kB/)[0]);
await e.dispose();
fs.rmSync(persist, { recursive: true });

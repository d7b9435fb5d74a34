#!/usr/bin/env python3
"""import_report.py — the figures of bench/bench_import.sh, from the files it leaves in its result dir.

  import_report.py line RUN_DIR          one line for a run (printed while the benchmark goes on)
  import_report.py markdown RES OUT      bench/RESULTS.md from every run of the result dir RES
"""
import json, os, re, sys

IMPORT_ENDPOINTS = ("import_init", "import_upload", "import_ingest", "import_poll")


def read(d, name, default=""):
    try:
        with open(os.path.join(d, name)) as f:
            return f.read().strip()
    except OSError:
        return default


def read_json(d, name):
    try:
        with open(os.path.join(d, name)) as f:
            t = f.read().strip()
        return json.loads(t) if t else {}
    except (OSError, ValueError):
        return {}


def n(x):
    return f"{int(x):,}"


def run(d):
    """Everything known about one run, as a dict."""
    r = {"label": os.path.basename(d.rstrip("/")), "dir": d}
    r["rows"] = int(read(d, "rows", "0") or 0)
    r["wall"] = float(read(d, "wall", "nan") or "nan")
    r["job"] = read_json(d, "job.json")
    r["stats"] = read_json(d, "stats.json")
    r["sample"] = read_json(d, "sample.json")
    r["compare"] = read(d, "compare.txt")
    r["indexes"] = read(d, "indexes")
    r["ledger"] = read(d, "ledger").replace("\n", "; ")
    r["call"] = read(d, "call")
    r["out"] = read(d, "out")
    r["rate"] = r["rows"] / r["wall"] if r["wall"] and r["wall"] == r["wall"] and r["wall"] > 0 else 0
    r["ok"] = _compare_ok(r["compare"])
    return r


def _compare_ok(line):
    m = re.search(r"PostgreSQL ([\d,]+) rows, D1 ([\d,]+) rows, ([\d,]+) equal", line)
    if m:
        return m.group(1) == m.group(2) == m.group(3)
    m = re.search(r"PostgreSQL (.*); D1 (.*)$", line)
    return bool(m) and m.group(1) == m.group(2)


def endpoints(stats):
    e = dict(stats.get("requests_by_endpoint", {}))
    parts = [f"{k} {v:,}" for k, v in sorted(e.items(), key=lambda kv: (-kv[1], kv[0]))]
    total = sum(e.values())
    return total, ", ".join(parts) or "none"


def phases(sample, wall):
    """[(phase, seconds)] merged by normalised phase, in order of first appearance."""
    ph = sample.get("phases") or []
    end = sample.get("t_end") or wall
    out = []
    for i, (t, norm, _raw) in enumerate(ph):
        t_next = ph[i + 1][0] if i + 1 < len(ph) else end
        if not norm and i == len(ph) - 1 and i > 0:
            break  # the phase is cleared when the job ends
        name = norm or "(no phase yet)"
        if out and out[-1][0] == name:
            out[-1][1] += t_next - t
        else:
            out.append([name, t_next - t])
    return out


def line(d):
    r = run(d)
    if r["label"] == "wrangler":
        total, eps = endpoints(r["stats"])
        return (f"   wrangler: {n(r['rows'])} rows in {r['wall']:.1f} s = {r['rate']:,.0f} rows/s "
                f"(pg_dump {read(d, 'dump_s')} s, edit {read(d, 'edit_s')} s, wrangler {read(d, 'wrangler_s')} s); "
                f"{total} requests ({eps}), 429s {r['stats'].get('rate_limited', 0)}; {r['compare']}")
    j, s = r["job"], r["sample"]
    total, eps = endpoints(r["stats"])
    return (f"   {r['label']}: {n(r['rows'])} rows in {r['wall']:.1f} s = {r['rate']:,.0f} rows/s; job {j.get('job_id')} "
            f"{j.get('status')} method {j.get('method', '-')}; {total} requests ({eps}), 429s "
            f"{r['stats'].get('rate_limited', 0)}, retries {j.get('retries')}; peak RssAnon "
            f"{s.get('rss_anon_max_kb', 0) / 1024:.1f} MiB ({s.get('samples', 0)} samples); {r['compare']}")


def markdown(res, out):
    m = read_json(res, "machine.json")
    runs = {name: run(os.path.join(res, name)) for name in sorted(os.listdir(res))
            if os.path.isdir(os.path.join(res, name))}
    problems = [l for l in read(res, "problems.txt").splitlines() if l]
    notes = [l for l in read(res, "notes.txt").splitlines() if l]
    L = []
    P = L.append
    P("# pg2d1 import path — benchmark results")
    P("")
    P(f"All figures below are from one run of `{m.get('cmdline', 'bench/bench_import.sh')}` "
      f"({m.get('date', '?')}, {int(read(res, 'runtime_s', '0') or 0) // 60} min {int(read(res, 'runtime_s', '0') or 0) % 60} s). "
      "Regenerate with the same command; it writes this file.")
    P("")
    P("| machine | |")
    P("|---|---|")
    P(f"| CPUs (nproc) | {m.get('nproc')} × {m.get('cpu')} |")
    P(f"| RAM | {m.get('ram_gib')} GiB |")
    P(f"| PostgreSQL | {m.get('pg')} |")
    P(f"| pg2d1 | {m.get('pg2d1')} (git {m.get('git')}; installed pg2d1.so built {m.get('so')}) |")
    P(f"| D1 | the local server (test/d1-server: Miniflare, workerd + SQLite) on the same machine; node {m.get('node')} |")
    P(f"| load average | at start {m.get('load_start')}, before the ceiling part {read(res, 'load_mid')}, at the end {read(res, 'load_end')} |")
    P("")
    P("The PostgreSQL cluster is test/lib/common.sh's (fsync = off, shared_buffers = 256MB); the table is "
      "bench/generate.sql's `coordinate_speed_new` (bigint key, 2 doubles, integer, real, text with NULLs and "
      "non-ASCII; 2 secondary indexes, which every path builds in D1 after the rows).")
    P("")
    if problems:
        P("## Problems")
        P("")
        for p in problems:
            P(f"* {p}")
        P("")
    if notes:
        for x in notes:
            P(f"*Note:* {x}")
        P("")

    # ---- 1
    P(f"## 1. Throttled like production: {n(m.get('rows', 0))} rows")
    P("")
    P(f"Local D1 server `{m.get('throttle')}` (a token bucket over every API request, 50 ms added to each; "
      f"the upload to the presigned URL is not the API and is neither delayed nor counted against the bucket, "
      f"as with R2). pg2d1.requests_per_second = {m.get('pg2d1_rps_throttled')} (its default). Each path starts "
      "from an empty D1 database (a new server on a fresh `--persist` directory) and ends with D1's SQLite file "
      "compared to PostgreSQL, every row and value (bench/import_compare.py).")
    P("")
    P("| path | wall time | rows/s | D1 API requests (by endpoint) | 429s | D1 = PostgreSQL |")
    P("|---|---:|---:|---|---:|---|")
    order = [("auto", "a. pg2d1 `method => 'auto'`"), ("query", "b. pg2d1 `method => 'query'`"),
             ("wrangler", "c. pg_dump --inserts + edits + wrangler")]
    for key, title in order:
        r = runs.get(key)
        if not r:
            P(f"| {title} | not run | | | | |")
            continue
        total, eps = endpoints(r["stats"])
        verdict = "yes" if r["ok"] else "**NO**"
        if key == "query" and "method" not in r["job"]:
            title = "b. pg2d1 (no method argument: the query path)"
        P(f"| {title} | {r['wall']:.1f} s | {r['rate']:,.0f} | {total:,}: {eps} | {r['stats'].get('rate_limited', 0)} | {verdict} |")
    P("")
    a, qy, w = runs.get("auto"), runs.get("query"), runs.get("wrangler")
    if a and qy:
        P(f"* **auto vs query: {qy['wall'] / a['wall']:.2f}×** (query's wall time / auto's: {qy['wall']:.1f} s / {a['wall']:.1f} s; "
          f"rows/s {a['rate']:,.0f} vs {qy['rate']:,.0f}).")
    if a and w:
        P(f"* **auto vs wrangler: {w['wall'] / a['wall']:.2f}×** (the wrangler path's wall time / auto's: {w['wall']:.1f} s / {a['wall']:.1f} s).")
    if a:
        target = a["wall"] <= 30 and (not w or a["wall"] < w["wall"])
        P(f"* Target (auto ≤ 30 s for 2.2 M rows and faster than the wrangler path): "
          f"{'**met**' if target else '**MISSED**'}"
          + ("" if m.get("rows") == 2210059 else f" (this run had {n(m.get('rows', 0))} rows)") + ".")
    P("")
    for key in ("auto", "query"):
        r = runs.get(key)
        if not r:
            continue
        j = r["job"]
        P(f"**{key}** — `{r['call']}`: job {j.get('job_id')} {j.get('status')}, "
          f"`pg2d1.jobs.method` = `{j.get('method', '(no such column)')}`, "
          f"{n(j.get('rows_done') or 0)} rows done, {j.get('requests')} requests by pg2d1's count, "
          f"{j.get('retries')} retries, {(j.get('bytes_sent') or 0) / 1e6:.1f} MB sent by pg2d1's count, "
          f"job time {j.get('secs') or 0:.1f} s (started_at → finished_at); "
          f"D1 ledger: {r['ledger'] or '?'}; D1 indexes: {r['indexes']}."
          + (f" Server log: `{read(r['dir'], 'choice')}`" if read(r['dir'], 'choice') else ""))
        st = r["stats"].get("imports") or {}
        if st.get("uploads"):
            P(f"  Imports on the server: {st.get('started')} started, {st.get('completed')} completed, "
              f"{st.get('failed')} failed, {st.get('uploads')} uploads of {st.get('upload_bytes', 0) / 1e6:.1f} MB; "
              f"statements executed {r['stats'].get('statements_executed', 0):,}.")
        ph = phases(r["sample"], r["wall"])
        if ph:
            P("  Phases (`pg2d1.jobs.phase`, polled every 250 ms, seconds from when the job row was first seen): "
              + "; ".join(f"{name} {sec:.1f}" for name, sec in ph) + "."
              + (" (The query path shows 'planning' all through its copy: it sets no phase while copying.)"
                 if j.get("method") == "query" and any(name == "planning" for name, _ in ph) else ""))
        if ph and j.get("method") == "import":
            d1_s = sum(sec for name, sec in ph if "D1 importing" in name or name == "building indexes")
            own = sum(sec for name, sec in ph) - d1_s
            P(f"  Where the time goes: D1 at work (importing, building indexes) {d1_s:.1f} s; the rest "
              f"(planning, writing, starting, uploading — pg2d1's own work, partly overlapping) {own:.1f} s; "
              f"{r['wall'] - sum(sec for _, sec in ph):.1f} s before the job row was seen (worker start).")
        if j.get("last_error"):
            P(f"  last_error: `{j.get('last_error')}`")
        P(f"  {r['compare']}")
        P("")
    if w:
        d = w["dir"]
        st = w["stats"].get("imports") or {}
        wout = w["out"]
        ex = re.search(r"Executed ([\d,]+) queries in ([\d.]+)ms", wout)
        P(f"**wrangler path** — `pg_dump --data-only --inserts -t coordinate_speed_new` "
          f"({int(read(d, 'dump_bytes', '0')) / 1e6:.0f} MB) **{read(d, 'dump_s')} s**, "
          f"`bench/import_dump_edit.sh` (drop SET / pg_catalog.set_config / setval / `\\restrict` / comment "
          f"lines, `public.` removed, pg2d1_ddl's CREATE TABLE first and its CREATE INDEX last; "
          f"{int(read(d, 'file_bytes', '0')) / 1e6:.0f} MB) **{read(d, 'edit_s')} s**, "
          f"`npx wrangler d1 execute local-1 --remote --file` (wrangler {read(d, 'version')}) **{read(d, 'wrangler_s')} s**"
          + (f", of which D1 executed {ex.group(1)} statements in {float(ex.group(2)) / 1000:.1f} s" if ex else "")
          + f"; total **{w['wall']:.1f} s**. Server: {st.get('uploads', 0)} upload of "
          f"{st.get('upload_bytes', 0) / 1e6:.1f} MB, {st.get('completed', 0)} import completed. D1 indexes: {w['indexes']}.")
        P(f"  {w['compare']}")
        P("  (pg_dump writes a `real` as its shortest decimal text, e.g. 76.99119, which D1 stores as that "
          "double; pg2d1 stores the float4 itself widened to a double, 76.9911880493164. So the two paths "
          "leave different doubles in `bearing`; equal as float4.)")
        P("")

    # ---- 2
    P("## 2. Worker private memory")
    P("")
    P("Peak `RssAnon` of the pg2d1 worker (`/proc/<pid>/status` every 100 ms while it runs; the pid from "
      "`pg2d1.jobs.pid` and from the process title `pg2d1 worker for job N` of this cluster's postmaster): "
      "private memory — the shared buffers it reads the table through are not in it. `VmHWM` (peak resident, "
      "shared pages included) and the job's own `peak_rss_kb` (ru_maxrss) for comparison. The same throttled "
      f"server as part 1, each run into an empty D1; the {n(m.get('rows', 0))}-row rows are part 1's runs. "
      "Target: flat, ≤ 32 MB.")
    P("")
    P("| method | rows | run | peak RssAnon | peak VmHWM | peak_rss_kb | samples | wall time | rows/s | D1 = PostgreSQL |")
    P("|---|---:|---|---:|---:|---:|---:|---:|---:|---|")
    mem = []
    for meth in ("import", "query"):
        for k, r in sorted(runs.items(), key=lambda kv: kv[1]["rows"]):
            if k.startswith(f"mem-{meth}-") or (k == "query" and meth == "query") \
                    or (k == "auto" and meth == "import" and r["job"].get("method") == "import"):
                mem.append((meth, k, r))
    worst = 0
    for meth, k, r in mem:
        s, j = r["sample"], r["job"]
        worst = max(worst, s.get("rss_anon_max_kb", 0))
        if meth == "query" and "method" not in j:
            meth = "query (no method argument)"
        P(f"| {meth} | {n(r['rows'])} | {k} (job {j.get('job_id')}) | {s.get('rss_anon_max_kb', 0) / 1024:.1f} MiB | "
          f"{s.get('vm_hwm_max_kb', 0) / 1024:.1f} MiB | {(j.get('peak_rss_kb') or 0) / 1024:.1f} MiB | "
          f"{s.get('samples', 0)} | {r['wall']:.1f} s | {r['rate']:,.0f} | {'yes' if r['ok'] else '**NO**'} |")
    if not [x for x in mem if x[0] == "import"]:
        P("| import | | not run (pg2d1 without the method argument) | | | | | | | |")
    P("")
    for meth, k, r in mem:
        ser = r["sample"].get("series") or []
        if len(ser) >= 10:
            pts = [ser[min(len(ser) - 1, int(len(ser) * f))] for f in (0.05, 0.25, 0.5, 0.75, 0.95)]
            half = len(ser) // 2
            first, second = max(kb for _, kb in ser[:half]), max(kb for _, kb in ser[half:])
            byph = r["sample"].get("rss_anon_max_kb_by_phase") or {}
            P(f"* {k} ({meth}, {n(r['rows'])} rows): RssAnon over the run "
              + ", ".join(f"{t:.0f} s {kb / 1024:.1f}" for t, kb in pts) + " MiB; peak in the first half "
              f"{first / 1024:.1f}, in the second {second / 1024:.1f} MiB"
              + (f"; peak by phase: " + ", ".join(f"{p_} {kb / 1024:.1f}" for p_, kb in byph.items()) if byph else "") + ".")
    if mem:
        P(f"* Largest peak RssAnon: {worst / 1024:.1f} MiB — target ≤ 32 MB: {'**met**' if worst <= 32 * 1000 else '**MISSED**'}.")
        for meth in ("import", "query"):
            rs = [r for mm, _, r in mem if mm == meth]
            if len(rs) == 2:
                a_, b_ = rs[0]["sample"].get("rss_anon_max_kb", 0), rs[1]["sample"].get("rss_anon_max_kb", 0)
                ph_a = rs[0]["sample"].get("rss_anon_max_kb_by_phase") or {}
                ph_b = rs[1]["sample"].get("rss_anon_max_kb_by_phase") or {}
                plan_a, plan_b = ph_a.get("planning", 0), ph_b.get("planning", 0)
                rest_a = max([v for k_, v in ph_a.items() if k_ != "planning"] or [0])
                rest_b = max([v for k_, v in ph_b.items() if k_ != "planning"] or [0])
                P(f"* {meth}: {b_ / 1024:.1f} MiB at {n(rs[1]['rows'])} rows vs {a_ / 1024:.1f} MiB at "
                  f"{n(rs[0]['rows'])} ({(b_ - a_) / 1024:+.1f} MiB: {'flat' if abs(b_ - a_) <= 4096 else 'NOT flat'})"
                  + (f"; by phase: 'planning' {plan_a / 1024:.1f} → {plan_b / 1024:.1f} MiB, the rest of the job "
                     f"{rest_a / 1024:.1f} → {rest_b / 1024:.1f} MiB" if ph_a and ph_b else "") + ".")
    P("")

    # ---- 3
    P("## 3. Ceiling (bench/bench_ceiling.sh)")
    P("")
    ceil = read(res, "ceiling.md")
    if ceil:
        P(f"Run by bench_import.sh after its own cluster had stopped, as `bench/bench_ceiling.sh --rows {m.get('rows')} "
          f"--markdown …` ({read(res, 'ceiling_s')} s, exit {read(res, 'ceiling_rc')}); its section follows as it wrote it."
          + (" " + read(res, "ceiling_note") if read(res, "ceiling_note") else ""))
        P("")
        fence = False
        for cl in ceil.splitlines():  # its headings one level down, under this one
            if cl.startswith("```"):
                fence = not fence
            if not fence and re.match(r"#{1,5} ", cl):
                cl = "#" + cl
            P(cl)
    elif read(res, "ceiling_rc"):
        P(f"bench/bench_ceiling.sh ran (exit {read(res, 'ceiling_rc')}) but wrote no section; its last lines:")
        P("")
        P("```")
        P("\n".join(read(res, "ceiling.out").splitlines()[-15:]))
        P("```")
    else:
        P("Not run (bench/bench_ceiling.sh absent or SKIP_CEILING=1).")
    P("")
    with open(out, "w") as f:
        f.write("\n".join(L).rstrip() + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "line":
        print(line(sys.argv[2]))
    else:
        markdown(sys.argv[2], sys.argv[3])

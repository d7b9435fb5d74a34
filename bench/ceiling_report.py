#!/usr/bin/env python3
"""ceiling_report.py — figures of bench/bench_ceiling.sh: one JSON record per run in a results
file, a line per run on stdout, and the summary (stdout and, optionally, a markdown section).

  ceiling_report.py pg2d1 --results F --label L --job ID --wall-ms MS --log D1LOG --log-from N [--load S]
      Reads the job (pg2d1.jobs) and its checkpoints (pg2d1.checkpoints) through psql, and the
      local D1 server's --log lines from line N on. A request's arrival is the log line's time
      minus its duration (the server logs a request when its body has been read). Within a
      checkpoint (started_at … completed_at, clock_timestamp()s of the same machine) the first
      request is the ledger's claim; the others carry the rows. Each data request's time is
      the time to the next arrival, the last one's to completed_at: the sender thread sends the
      next request as soon as the answer is in (pipeline one deep), so this is D1's time for the
      request plus the client's turnaround (an upper bound of D1's time).
  ceiling_report.py client --results F --label L --json '{…}' [--load S]
      Records the output of ceiling_client.py send.
  ceiling_report.py check --results F --label L --text T
      Records a line of the D1 read-back check.
  ceiling_report.py summary --results F --rows N [--markdown FILE] [--load-start S] [--stamp S]
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys

PROD_RPS = 4.0      # Cloudflare: 1200 requests / 5 minutes per user
D1_LIMIT_S = 30.0   # D1: 30 s of work per request
SAFE_S = 5.0        # "far below" that limit on this machine
CURRENT_DEFAULT = 1000000
TOLERANCE = 0.2     # sizes whose estimate is within this of the best count as equal (noise here)


def psql(sql):
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def arrivals(log, start_line):
    out = []
    pat = re.compile(r"^(\S+Z) POST /client/v4/\S+/(?:query|raw) \S+ ([\d.]+)ms")
    with open(log, encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f, 1):
            if i < start_line:
                continue
            m = pat.match(line)
            if m:
                t = datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
                out.append(t - float(m.group(2)) / 1000)
    return out


def load(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def append(path, rec):
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


def rss(r):
    return f"{r['peak_rss_kb'] / 1024:.0f}" if r.get("peak_rss_kb") else "?"


def mb(b):
    return f"{b / 1e6:g} MB"


def cmd_pg2d1(a):
    job = json.loads(psql(f"SELECT row_to_json(j) FROM pg2d1.jobs j WHERE job_id = {a.job}"))
    if job["status"] != "completed":
        raise SystemExit(f"job {a.job} is {job['status']}: {job.get('last_error')}")
    cps = [tuple(map(float, l.split("|"))) for l in psql(
        f"SELECT extract(epoch FROM started_at), extract(epoch FROM completed_at) FROM pg2d1.checkpoints "
        f"WHERE job_id = {a.job} AND started_at IS NOT NULL AND completed_at IS NOT NULL ORDER BY start_id"
    ).splitlines() if l]
    arr = arrivals(a.log, a.log_from)
    cycles = []
    for s, c in cps:
        # the first is the claim; 2 ms of slack: the log's times are truncated to the millisecond
        inside = [t for t in arr if s - 0.002 <= t <= c][1:]
        cycles += [b - x for x, b in zip(inside, inside[1:])] + ([c - inside[-1]] if inside else [])
    secs = a.wall_ms / 1000
    rows = job["rows_done"]
    fin = job.get("finished_at")
    rec = {
        "kind": "pg2d1", "label": a.label, "rows": rows, "wall_s": secs, "rows_per_s": rows / secs,
        "requests": job["requests"], "bytes_sent": job["bytes_sent"], "retries": job["retries"],
        "max_request_bytes": job["max_request_bytes"], "max_statements": job["max_statements_per_request"],
        "max_statement_bytes": job["max_statement_bytes"], "checkpoint_size": job["checkpoint_size"],
        "checkpoints": len(cps), "data_requests": len(cycles), "data_s": sum(cycles),
        "copy_span_s": (cps[-1][1] - cps[0][0]) if cps else 0,
        "mean_request_s": sum(cycles) / len(cycles) if cycles else 0, "max_request_s": max(cycles, default=0),
        "slotted_s": sum(max(1 / PROD_RPS, c) for c in cycles),
        "after_copy_s": (datetime.datetime.fromisoformat(fin).timestamp() - cps[-1][1]) if cps and fin else 0,
        "peak_rss_kb": job.get("peak_rss_kb"), "load": a.load, "method": job.get("method"),
    }
    append(a.results, rec)
    print(f"{a.label:14s} {rows:>9,} rows {secs:7.2f} s {rec['rows_per_s']:>8,.0f} rows/s {rec['requests']:>5} requests "
          f"{rec['bytes_sent'] / 1e6:7.1f} MB; data requests {rec['data_requests']}: mean {rec['mean_request_s']:.3f} s, "
          f"max {rec['max_request_s']:.3f} s; {rec['retries']} retries; load {a.load}"
          + (f"; method {rec['method']}" if rec["method"] and rec["method"] != "query" else ""))


def cmd_client(a):
    r = json.loads(a.json)
    rec = {"kind": "client", "label": a.label, **r, "rows_per_s": r["rows"] / r["send_s"], "load": a.load}
    append(a.results, rec)
    print(f"{a.label:14s} {r['rows']:>9,} rows {r['send_s']:7.2f} s {rec['rows_per_s']:>8,.0f} rows/s {r['requests']:>5} requests "
          f"{r['body_bytes'] / 1e6:7.1f} MB; mean {r['mean_request_s']:.3f} s, max {r['max_request_s']:.3f} s per request; "
          f"+ {r['after_s']:.2f} s for the indexes (prepared in {r['prepare_s']:.0f} s, off the clock); load {a.load}")


def cmd_summary(a):
    recs = load(a.results)
    pgs = [r for r in recs if r["kind"] == "pg2d1" and r["label"].startswith("pg2d1")]
    cls = [r for r in recs if r["kind"] == "client"]
    for r in cls:
        r["wall_s"] = r["send_s"] + r["after_s"]
        r["copy_span_s"], r["after_copy_s"], r["bytes_sent"] = r["send_s"], r["after_s"], r["body_bytes"]
    pg = min(pgs, key=lambda r: r["wall_s"]) if pgs else None
    cl = min(cls, key=lambda r: r["wall_s"]) if cls else None
    sweep = sorted((r for r in recs if r["label"].startswith("sweep")), key=lambda r: r["max_request_bytes"])
    checks = [r for r in recs if r["kind"] == "check"]
    out, md = [], []
    say = out.append
    machine = (f"{os.cpu_count()} cores, load average {a.load_start} at start, "
               f"{' '.join(open('/proc/loadavg').read().split()[:3])} at end")
    say("== pg2d1 throughput ceiling (local D1, no --rps/--latency) ==")
    say(f"machine: {machine}")
    say(f"pg2d1 runs: {a.call}")
    odd = [r["label"] for r in recs if r["kind"] == "pg2d1" and (r.get("method") not in (None, "query") or not r["data_requests"])]
    if odd:
        say(f"WARNING: no /query data requests seen in {', '.join(odd)} (method {', '.join(sorted({str(r.get('method')) for r in recs if r['label'] in odd}))}): "
            f"their per-request figures are meaningless")
    md += ["## Throughput ceiling and request size (bench/bench_ceiling.sh)", "",
           f"Local D1 server (Miniflare) without `--rps`/`--latency`, {a.rows:,} rows of `coordinate_speed_new` "
           f"(bench/generate.sql); {machine}; {a.stamp}. pg2d1 runs `{a.call}`. Every run writes into a new, empty D1 database of its "
           f"own. Load averages over {os.cpu_count()} mean other work shared the cores: figures are then noisy.", ""]
    if pg and cl:
        ratio = cl["wall_s"] / pg["wall_s"]
        ratio_copy = min(r["send_s"] for r in cls) / min(r["copy_span_s"] for r in pgs)
        pairs = [c["wall_s"] / p["wall_s"] for p, c in zip(pgs, cls)]
        for r in pgs + cls:
            say(f"{r['label']:10s} {r['rows']:,} rows in {r['wall_s']:6.2f} s = {r['rows'] / r['wall_s']:>7,.0f} rows/s "
                f"(copy {r['copy_span_s']:5.1f} s, indexes{' + finish' if r['kind'] == 'pg2d1' else ''} "
                f"{r['after_copy_s']:4.1f} s; {r['requests']} requests, {r['bytes_sent'] / 1e6:.1f} MB; "
                f"per request mean {r['mean_request_s']:.3f} s, max {r['max_request_s']:.3f} s; load {r['load']})")
        say(f"pg2d1/minimal: {ratio:.2f}x, best of {len(pgs)} against best of {len(cls)} (whole job vs rows + indexes; "
            f"target >= 0.8x); runs paired in order: {', '.join(f'{x:.2f}x' for x in pairs)}; copy phase alone "
            f"{ratio_copy:.2f}x")
        md += ["| run (in order) | wall s | copy s | indexes s | rows/s | requests | MB sent | mean s/request | max s/request | load (1 min) |",
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in sorted(pgs + cls, key=lambda r: recs.index(r)):
            name = (f"pg2d1_migrate #{r['label'].split()[-1]} (defaults: {mb(r['max_request_bytes'])}, "
                    f"{r['max_statements']} statements/request, {r['checkpoints']} checkpoints)" if r["kind"] == "pg2d1"
                    else f"minimal client #{r['label'].split()[-1]}")
            md.append(f"| {name} | {r['wall_s']:.1f} | {r['copy_span_s']:.1f} | {r['after_copy_s']:.1f} | "
                      f"{r['rows'] / r['wall_s']:,.0f} | {r['requests']} | {r['bytes_sent'] / 1e6:.1f} | "
                      f"{r['mean_request_s']:.3f} | {r['max_request_s']:.3f} | {r['load']} |")
        md += ["",
               f"**pg2d1/minimal = {ratio:.2f}×** (best of {len(pgs)} against best of {len(cls)}; target ≥ 0.8×; "
               f"the runs paired in order: {', '.join(f'{x:.2f}×' for x in pairs)}). Wall is pg2d1's whole job — "
               f"worker start, count, checkpoint planning, ledger, copy, index build — against the client's rows "
               f"+ the same {cl['after_statements']} CREATE INDEX statements; copy phase alone (pg2d1: first "
               f"checkpoint start → last checkpoint end) {ratio_copy:.2f}×.",
               "The minimal client (bench/ceiling_client.py) reads the rows and builds every request before its "
               "clock starts: the same upsert text pg2d1 sends, packed to the same limits without checkpoint "
               "boundaries, POSTed one after another over one keep-alive connection. pg2d1's per-request times "
               "are from the server's log (arrival to next arrival within a checkpoint, i.e. D1 time plus the "
               "client's turnaround); the client's are its own round trips.", ""]
    for c in checks:
        say(f"D1 check {c['label']}: {c['text']}")
    if checks:
        md += ["D1 read back: " + "; ".join(f"{c['label']}: {c['text']}" for c in checks), ""]
    if sweep:
        scale = a.rows / sweep[0]["rows"]
        say(f"request-size sweep: pg2d1, {sweep[0]['rows']:,} rows, one checkpoint, no secondary indexes; "
            f"production estimate at {PROD_RPS:g} requests/s = requests/{PROD_RPS:g} + D1 time (local), for {a.rows:,} rows")
        hdr = (f"{'max_request_bytes':>17} {'stmts':>5} {'requests':>8} {'rows/req':>8} {'mean s/req':>10} {'max s/req':>9} "
               f"{'rows/s':>8} {'prod est s':>10} {'slotted s':>9} {'RSS MiB':>7}  load")
        say(hdr)
        md += [f"### Request size (pg2d1 on {sweep[0]['rows']:,} rows, unthrottled)", "",
               "One checkpoint (checkpoint_size = all rows, so a checkpoint never cuts a request short), no "
               "secondary indexes; `max_statements_per_request` = bytes / 20,000 (the byte limit binds). "
               f"Production estimate for {a.rows:,} rows: requests / {PROD_RPS:g} + D1 time (the local data "
               "requests' time), scaled from the sweep's rows; `slotted` is the same with pg2d1's rate limiter as "
               "it works (request starts 0.25 s apart, a request longer than that delays the next: "
               "Σ max(0.25 s, request time)). Worker peak RSS is ru_maxrss (includes the shared buffers it touched).", "",
               "| max_request_bytes | statements/request | requests | rows/request | mean s/request | max s/request | rows/s | at 4 req/s, s | slotted, s | worker peak RSS, MiB | load (1 min) |",
               "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in sweep:
            r["prod_s"] = (r["requests"] / PROD_RPS + r["data_s"]) * scale
            r["slot_s"] = (r["slotted_s"] + (r["requests"] - r["data_requests"]) / PROD_RPS) * scale
            rpr = r["rows"] / max(r["data_requests"], 1)
            say(f"{r['max_request_bytes']:>17,} {r['max_statements']:>5} {r['requests']:>8} {rpr:>8,.0f} "
                f"{r['mean_request_s']:>10.3f} {r['max_request_s']:>9.3f} {r['rows_per_s']:>8,.0f} {r['prod_s']:>10.0f} "
                f"{r['slot_s']:>9.0f} {rss(r):>7}  {r['load']}")
            md.append(f"| {r['max_request_bytes']:,} | {r['max_statements']} | {r['requests']} | {rpr:,.0f} | "
                      f"{r['mean_request_s']:.3f} | {r['max_request_s']:.3f} | {r['rows_per_s']:,.0f} | "
                      f"{r['prod_s']:.0f} | {r['slot_s']:.0f} | {rss(r)} | {r['load']} |")
        md.append("")
        safe = [r for r in sweep if r["max_request_s"] < SAFE_S and r["data_requests"]]
        largest_safe = max(safe, key=lambda r: r["max_request_bytes"]) if safe else None
        row_bytes = (sweep[0]["bytes_sent"] / sweep[0]["rows"])
        if largest_safe:
            best = min(safe, key=lambda r: r["prod_s"])
            pick = min((r for r in safe if r["prod_s"] <= (1 + TOLERANCE) * best["prod_s"]),
                       key=lambda r: r["max_request_bytes"])
            cur = next((r for r in sweep if r["max_request_bytes"] == CURRENT_DEFAULT), None)
            lines = [
                f"largest size tried whose slowest request stays under {SAFE_S:g} s: {largest_safe['max_request_bytes']:,} bytes "
                f"(max {largest_safe['max_request_s']:.2f} s, mean {largest_safe['mean_request_s']:.2f} s; D1 allows "
                f"{D1_LIMIT_S:g} s of work per request)"
                + ("" if largest_safe is sweep[-1] else
                   f"; {sweep[-1]['max_request_bytes']:,} bytes took up to {sweep[-1]['max_request_s']:.2f} s"),
                f"recommendation: pg2d1.max_request_bytes = {pick['max_request_bytes']:,} with "
                f"max_statements_per_request = {max(pick['max_request_bytes'] // 20000, 50)}"
                + (" (the current defaults)" if pick["max_request_bytes"] == CURRENT_DEFAULT else
                   f" (now {CURRENT_DEFAULT:,} / 50)")
                + f": the smallest size within {TOLERANCE:.0%} (this machine's run-to-run noise) of the best "
                f"estimate at {PROD_RPS:g} requests/s ({pick['prod_s']:.0f} s vs best {best['prod_s']:.0f} s at "
                f"{best['max_request_bytes']:,}"
                + (f"; {cur['prod_s']:.0f} s at {CURRENT_DEFAULT:,}" if cur and cur is not pick else "")
                + f" for {a.rows:,} rows), its slowest request {pick['max_request_s']:.2f} s locally",
            ]
            # Requests never span a checkpoint, and each checkpoint starts with a claim request.
            ckpt_rows = 50000
            ckpt_bytes = ckpt_rows * row_bytes
            n_ckpt = -(-a.rows // ckpt_rows)
            per = lambda size: -(-int(ckpt_bytes) // size) + 1
            note = (f"checkpoints: a request never spans one and each starts with a claim request, so at the default "
                    f"checkpoint_size ({ckpt_rows:,} rows = {ckpt_bytes / 1e6:.1f} MB of this table) a checkpoint takes "
                    f"{per(CURRENT_DEFAULT)} requests at {mb(CURRENT_DEFAULT)}")
            if pg:
                note += f" (the run above: {pg['requests']} requests for {pg['checkpoints']} checkpoints)"
            if pick["max_request_bytes"] != CURRENT_DEFAULT:
                note += f" and {per(pick['max_request_bytes'])} at {mb(pick['max_request_bytes'])}"
            note += f"; for {a.rows:,} rows that is {n_ckpt * per(CURRENT_DEFAULT) / PROD_RPS:.0f} s"
            if pick["max_request_bytes"] != CURRENT_DEFAULT:
                note += f" vs {n_ckpt * per(pick['max_request_bytes']) / PROD_RPS:.0f} s"
            note += f" of request slots at {PROD_RPS:g}/s"
            if pick["max_request_bytes"] > ckpt_bytes:
                note += (f"; {mb(pick['max_request_bytes'])} requests need a checkpoint_size over {ckpt_rows:,} rows "
                         f"to take effect (about {-(-int(2 * pick['max_request_bytes'] / row_bytes) // 10000) * 10000:,} "
                         f"rows for two full requests per checkpoint)")
            lines.append(note)
            for l in lines:
                say(l)
            md += [f"- {l[0].upper()}{l[1:]}." for l in lines] + [""]
        else:
            say(f"no size kept its slowest request under {SAFE_S:g} s")
    print("\n".join(out))
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write("\n".join(md).rstrip() + "\n")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pg2d1")
    p.add_argument("--results", required=True)
    p.add_argument("--label", required=True)
    p.add_argument("--job", type=int, required=True)
    p.add_argument("--wall-ms", type=float, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--log-from", type=int, required=True)
    p.add_argument("--load", default="?")
    c = sub.add_parser("client")
    c.add_argument("--results", required=True)
    c.add_argument("--label", required=True)
    c.add_argument("--json", required=True)
    c.add_argument("--load", default="?")
    k = sub.add_parser("check")
    k.add_argument("--results", required=True)
    k.add_argument("--label", required=True)
    k.add_argument("--text", required=True)
    s = sub.add_parser("summary")
    s.add_argument("--results", required=True)
    s.add_argument("--rows", type=int, required=True)
    s.add_argument("--markdown")
    s.add_argument("--load-start", default="?")
    s.add_argument("--stamp", default="")
    s.add_argument("--call", default="pg2d1_migrate(…)")
    a = ap.parse_args()
    if a.cmd == "check":
        append(a.results, {"kind": "check", "label": a.label, "text": a.text})
    else:
        {"pg2d1": cmd_pg2d1, "client": cmd_client, "summary": cmd_summary}[a.cmd](a)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""import_sample.py — follows one pg2d1 job while it runs and samples its worker's memory.

Waits for the first job with job_id > AFTER_JOB (so it can be started just before the job),
then until the job is completed/failed/cancelled or STOP_FILE exists (plus a last look):
  * every 100 ms: /proc/<pid>/status of the job's worker: RssAnon (private memory: shared
    buffers are not in it) and VmHWM (peak resident, shared included). The pid is pg2d1.jobs.pid,
    and also any process titled `postgres: pg2d1 worker for job N` with N > AFTER_JOB (the
    bgw_name; found in /proc every 100 ms, so a worker is sampled before its job row is visible);
  * every 250 ms: the job's status and phase (psql), to time the phases and see the worker's pid
    (a restarted worker has a new one).
Writes a JSON object to OUT: job_id, pids, samples, rss_anon_max_kb, vm_hwm_max_kb, and
phases: [[seconds since the job was first seen, normalised phase, raw phase], …] for each change.
Usage: import_sample.py AFTER_JOB STOP_FILE OUT
"""
import json, os, re, subprocess, sys, time

after, stop_file, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def q(sql):
    r = subprocess.run(["psql", "-X", "-A", "-t", "-F", "\t", "-c", sql], capture_output=True, text=True)
    return r.stdout.rstrip("\n") if r.returncode == 0 else ""  # not strip(): a NULL pid is an empty first field


def status_kb(pid):
    found = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("RssAnon:", "VmHWM:")):
                    k, v = line.split(":", 1)
                    found[k] = int(v.split()[0])
    except OSError:
        return None
    return found


def postmaster_pid():
    try:
        with open(os.path.join(q("SHOW data_directory"), "postmaster.pid")) as f:
            return int(f.readline())
    except (OSError, ValueError):
        return None


POSTMASTER = postmaster_pid()


def ppid(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def title_pids():
    """{pid: job} of this cluster's processes titled 'postgres: pg2d1 worker for job N', N > after
    (other clusters on the machine have workers of the same name: their parent is another postmaster)."""
    found = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                c = f.read(200)
        except OSError:
            continue
        m = re.match(rb"postgres: pg2d1 worker for job (\d+)", c)
        if m and int(m.group(1)) > after and ppid(d) == POSTMASTER:
            found[int(d)] = int(m.group(1))
    return found


def norm(phase):
    """'import file 1: writing checkpoint 7/45' → 'import file 1: writing'; digits elsewhere → N."""
    if not phase:
        return ""
    m = re.match(r"(import file \d+: (?:writing|uploading|D1 importing|starting))", phase)
    if m:
        return m.group(1)
    return re.sub(r"\d[\d,.]*", "N", phase)[:60]


job = None
t0 = None
pid = None
pids = []
per_pid = {}
by_phase = {}  # normalised phase → peak RssAnon (kB) seen while the job showed it
series = []  # [seconds since the job was first seen, RssAnon kB] every sample
cur_phase = ""
samples = 0
rss_max = hwm_max = 0
phases = []
status = ""
last_q = 0.0
deadline_after_stop = None
while True:
    now = time.monotonic()
    if now - last_q >= 0.25:
        last_q = now
        if job is None:
            got = q(f"SELECT min(job_id) FROM pg2d1.jobs WHERE job_id > {after}")
            if got:
                job = int(got)
                t0 = time.monotonic()
        if job is not None:
            row = q(f"SELECT coalesce(pid::text, ''), status, coalesce(phase, '') FROM pg2d1.jobs WHERE job_id = {job}")
            if row:
                p, status, phase = (row.split("\t") + ["", "", ""])[:3]
                if p.isdigit():
                    pid = int(p)
                n = norm(phase)
                cur_phase = n
                if not phases or phases[-1][1] != n:
                    phases.append([round(time.monotonic() - t0, 2), n, phase])
    watch = set(title_pids())
    if pid is not None:
        watch.add(pid)
    for w in watch:
        if w not in pids:
            pids.append(w)
    kb = None
    for w in watch:
        s = status_kb(w)
        if s:
            kb = max(kb or 0, s.get("RssAnon", 0))
            hwm_max = max(hwm_max, s.get("VmHWM", 0))
            per_pid[w] = max(per_pid.get(w, 0), s.get("RssAnon", 0))
    if kb is not None:
        samples += 1
        rss_max = max(rss_max, kb)
        ph_name = cur_phase or "(no phase yet)"
        by_phase[ph_name] = max(by_phase.get(ph_name, 0), kb)
        series.append([round(time.monotonic() - t0, 2) if t0 else 0, kb])
    if status in ("completed", "failed", "cancelled"):
        break
    if os.path.exists(stop_file):
        # the caller's wait => true returned: one more look at the job's final state
        if deadline_after_stop is None:
            deadline_after_stop = time.monotonic() + 1.0
        elif time.monotonic() > deadline_after_stop:
            break
    time.sleep(0.1)

json.dump({"job_id": job, "t_end": round(time.monotonic() - t0, 2) if t0 else None, "pids": pids, "samples": samples, "rss_anon_max_kb": rss_max,
           "vm_hwm_max_kb": hwm_max, "rss_anon_max_kb_by_pid": per_pid, "rss_anon_max_kb_by_phase": by_phase, "series": series, "postmaster": POSTMASTER, "status": status, "phases": phases}, open(out, "w"))
